//! Everything the CLI prints to stdout goes through [`Out`]: human text or JSON, and a reader
//! that closes the pipe early (`ksef operations | head -3`) ends the output quietly instead of
//! a panic. Diagnostics go to stderr through `tracing`.

use std::io::{self, IsTerminal as _, Write as _};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

/// Set once stdout's reader has gone away; later output is dropped.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// One JSON document (or JSON Lines for streams) instead of human text.
    pub json: bool,
    /// No human output except results and errors.
    pub quiet: bool,
}

/// Writes `bytes` to stdout; a closed pipe silences all later output, other errors are logged.
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = io::stdout().lock();
    let r = out.write_all(bytes).and_then(|()| out.flush());
    if let Err(e) = r {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != io::ErrorKind::BrokenPipe {
            tracing::warn!(error = %e, "cannot write to stdout");
        }
    }
}

/// Writes `text` to stderr, ignoring a closed stderr.
pub fn write_stderr(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

impl Out {
    /// A line of human output (suppressed in JSON mode).
    pub fn line(&self, text: impl AsRef<str>) {
        if self.json {
            return;
        }
        let mut s = text.as_ref().to_string();
        s.push('\n');
        write_stdout(s.as_bytes());
    }

    /// A line of human output that `-q` hides (progress remarks, hints).
    pub fn note(&self, text: impl AsRef<str>) {
        if !self.quiet {
            self.line(text);
        }
    }

    /// One JSON document (pretty-printed), in JSON mode only.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        if !self.json {
            return;
        }
        match serde_json::to_vec_pretty(value) {
            Ok(mut v) => {
                v.push(b'\n');
                write_stdout(&v);
            }
            Err(e) => tracing::error!(error = %e, "cannot serialise the JSON output"),
        }
    }

    /// One JSON Lines record (compact, one line), in JSON mode only.
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) {
        if !self.json {
            return;
        }
        match serde_json::to_vec(value) {
            Ok(mut v) => {
                v.push(b'\n');
                write_stdout(&v);
            }
            Err(e) => tracing::error!(error = %e, "cannot serialise the JSON output"),
        }
    }

    /// A listing: each item as a JSON Lines record (JSON mode), or a table of `row(item)` under
    /// `headers` and a count of `noun` (human mode).
    pub fn listing<T: Serialize>(
        &self,
        headers: &[&str],
        items: &[T],
        noun: &str,
        row: impl Fn(&T) -> Vec<String>,
    ) {
        for item in items {
            self.json_line(item);
        }
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        self.table(headers, &rows);
        self.note(format!("{} {noun}", items.len()));
    }

    /// A table with a header row, columns padded to their widest cell (human mode only).
    pub fn table(&self, headers: &[&str], rows: &[Vec<String>]) {
        if self.json {
            return;
        }
        let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
        for row in rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.chars().count());
                }
            }
        }
        let render = |cells: Vec<&str>| {
            let mut s = String::new();
            let last = cells.len().saturating_sub(1);
            for (i, c) in cells.iter().enumerate() {
                s.push_str(c);
                if i < last {
                    let pad = widths.get(i).copied().unwrap_or(0) - c.chars().count();
                    s.push_str(&" ".repeat(pad + 2));
                }
            }
            s.trim_end().to_string()
        };
        let mut text = render(headers.to_vec());
        text.push('\n');
        for row in rows {
            text.push_str(&render(row.iter().map(String::as_str).collect()));
            text.push('\n');
        }
        write_stdout(text.as_bytes());
    }
}

/// Whether stdin and stderr are both terminals (a person can answer a question).
pub fn interactive() -> bool {
    io::stdin().is_terminal() && io::stderr().is_terminal()
}
