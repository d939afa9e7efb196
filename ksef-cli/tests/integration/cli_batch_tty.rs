//! The progress bars of `ksef send batch` on a real terminal: the command runs in a tmux pane
//! (a pseudo-terminal), the pane is captured while it runs and after; the bars must advance
//! and the final table must name every file. Needs `tmux` on PATH.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Harness, bin, s};
use ksef_sim::Fault;

/// `(position, length)` of the bar whose line starts with `prefix` followed by `[`.
fn bar(frame: &str, prefix: &str) -> Option<(u64, u64)> {
    let line = frame
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{prefix} [")))?;
    let after = &line[line.find(']')? + 1..];
    after.split_whitespace().find_map(|tok| {
        let (p, l) = tok.split_once('/')?;
        Some((p.parse().ok()?, l.parse().ok()?))
    })
}

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "batch"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").output();
    }
}

#[test]
fn progress_bars_advance_on_a_terminal_and_the_table_is_complete() {
    assert!(
        Command::new("tmux").arg("-V").output().is_ok(),
        "this test drives a real terminal through tmux: install tmux"
    );
    let h = Harness::start();
    h.login("t");
    let dir = h.path("tty");
    std::fs::create_dir_all(&dir).unwrap();
    let mut names = Vec::new();
    for i in 0..8 {
        let f = h.invoice(&format!("FV/tty/{i}"));
        let to = dir.join(f.file_name().unwrap());
        std::fs::rename(&f, &to).unwrap();
        names.push(to.file_name().unwrap().to_string_lossy().into_owned());
    }
    // Slow part uploads, one at a time, so the pane can be watched mid-upload.
    h.control().inject(
        "PUT /__presigned/batch-part",
        Fault::Latency {
            delay_ms: 700,
            count: None,
        },
    );
    let script = h.path("run.sh");
    std::fs::write(
        &script,
        format!(
            "export KSEF_CONFIG_DIR='{}' KSEF_STATE_DIR='{}' HOME='{}'\n\
             unset KSEF_PROFILE KSEF_SEAL_KEY RUST_LOG\n\
             '{}' send batch '{}' --part-size 1kB --parallel 1\n\
             echo \"EXIT=$?\"\n\
             sleep 600\n",
            s(&h.config_dir()),
            s(&h.state_dir()),
            s(h.dir.path()),
            bin(),
            s(&dir),
        ),
    )
    .unwrap();
    let tmux = Tmux {
        socket: format!("ksef-cli-test-{}", std::process::id()),
    };
    let started = tmux
        .cmd()
        .args(["new-session", "-d", "-s", "batch", "-x", "200", "-y", "60"])
        .arg(format!("sh '{}'", s(&script)))
        .status()
        .unwrap();
    assert!(started.success());

    let mut frames = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let last = loop {
        let frame = tmux.capture();
        if frame.contains("EXIT=") {
            break frame;
        }
        assert!(
            Instant::now() < deadline,
            "the batch did not finish:\n{frame}"
        );
        frames.push(frame);
        std::thread::sleep(Duration::from_millis(100));
    };

    if let Some(mid) = frames.get(frames.len() * 2 / 3) {
        eprintln!("pane while uploading:\n{mid}");
    }
    eprintln!("pane at the end:\n{last}");
    // While it ran: the upload bar stood somewhere between empty and full, and moved.
    let uploads: Vec<(u64, u64)> = frames.iter().filter_map(|f| bar(f, "uploading")).collect();
    let partway: Vec<u64> = uploads
        .iter()
        .filter(|(p, l)| *l > 1 && p < l)
        .map(|(p, _)| *p)
        .collect();
    assert!(
        partway.iter().any(|p| *p > 0),
        "no frame showed the upload partway: {uploads:?}\nlast frame:\n{}",
        frames.last().map_or("", String::as_str)
    );
    let mut distinct = partway.clone();
    distinct.dedup();
    assert!(
        distinct.len() >= 2,
        "the upload bar did not advance: {uploads:?}"
    );
    assert!(
        frames
            .iter()
            .any(|f| f.contains("part ") && f.contains("uploading")),
        "no per-part line was seen uploading"
    );

    // After: every bar complete, the table names every file, exit 0.
    assert!(last.contains("EXIT=0"), "{last}");
    assert_eq!(bar(&last, "pre-flight"), Some((8, 8)), "{last}");
    assert_eq!(bar(&last, "packing"), Some((8, 8)), "{last}");
    let (p, l) = bar(&last, "uploading").unwrap();
    assert_eq!(p, l, "{last}");
    assert!(last.contains("200"), "{last}");
    assert!(
        last.contains("FILE") && last.contains("KSEF NUMBER"),
        "{last}"
    );
    for name in &names {
        let row = last
            .lines()
            .find(|l| l.contains(name.as_str()))
            .unwrap_or_else(|| panic!("{name} missing from the table:\n{last}"));
        assert!(row.contains("accepted") && row.contains(&h.nip), "{row}");
    }
    assert!(last.contains("8 of 8 accepted"), "{last}");
}
