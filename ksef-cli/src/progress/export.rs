//! The bars of `ksef export run` and of each window of `ksef sync`.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar};

use super::{BAR, LINE, SPIN, multi, style, visible};
use crate::connect::Ctx;

/// The bars of an export (and of each window of a sync): KSeF building the package, the part
/// downloads, the unpacking.
pub struct ExportBars {
    multi: MultiProgress,
    shown: bool,
    status: ProgressBar,
    download: Mutex<Option<ProgressBar>>,
}

impl ExportBars {
    /// Bars drawn when [`visible`].
    pub fn new(ctx: &Ctx) -> Self {
        let shown = visible(ctx);
        let multi = multi(shown);
        let status = multi.add(ProgressBar::new_spinner());
        status.set_style(style(SPIN));
        status.set_prefix("export");
        status.set_message("starting");
        status.enable_steady_tick(Duration::from_millis(120));
        Self {
            multi,
            shown,
            status,
            download: Mutex::new(None),
        }
    }

    /// A line above the bars.
    pub fn println(&self, text: &str) {
        if self.shown {
            let _ = self.multi.println(text);
        }
    }

    /// Sets the first line's prefix and message (e.g. the window of a sync).
    pub fn status(&self, prefix: String, message: String) {
        self.status.set_prefix(prefix);
        self.status.set_message(message);
    }

    /// Updates the bars for one event of an export.
    pub fn on_event(&self, e: &ksef_flows::ExportEvent) {
        use ksef_flows::ExportEvent as E;
        tracing::info!(event = ?e, "export");
        match e {
            E::WaitingForSlot { attempts } => self.status.set_message(format!(
                "every export slot of the context is taken; waiting (attempt {attempts})"
            )),
            E::Started { reference_number } => self
                .status
                .set_message(format!("{reference_number}: KSeF is building the package")),
            E::PackageReady {
                reference_number,
                invoice_count,
                parts,
                size,
                is_truncated,
            } => {
                let cut = if *is_truncated { " (truncated)" } else { "" };
                self.status.set_message(format!(
                    "{reference_number}: {invoice_count} invoices, {}{cut}",
                    HumanBytes(*size)
                ));
                let pb = self
                    .multi
                    .add(ProgressBar::new(u64::try_from(*parts).unwrap_or(0)));
                pb.set_style(style(BAR));
                pb.set_prefix("download");
                if let Ok(mut d) = self.download.lock() {
                    if let Some(old) = d.take() {
                        old.finish_and_clear();
                    }
                    *d = Some(pb);
                }
            }
            E::PartFailed {
                ordinal,
                attempt,
                reason,
                retrying,
            } => {
                if let Ok(d) = self.download.lock()
                    && let Some(pb) = d.as_ref()
                {
                    let next = if *retrying { "; retrying" } else { "" };
                    pb.set_message(format!("part {ordinal} attempt {attempt}: {reason}{next}"));
                }
            }
            E::PartVerified {
                ordinal,
                encrypted_bytes,
            } => {
                if let Ok(d) = self.download.lock()
                    && let Some(pb) = d.as_ref()
                {
                    pb.inc(1);
                    pb.set_message(format!(
                        "part {ordinal} verified ({})",
                        HumanBytes(*encrypted_bytes)
                    ));
                }
            }
            E::Unpacked { invoices, bytes } => {
                if let Ok(d) = self.download.lock()
                    && let Some(pb) = d.as_ref()
                {
                    pb.finish_with_message(format!(
                        "{invoices} invoices unpacked ({})",
                        HumanBytes(*bytes)
                    ));
                }
            }
            _ => {}
        }
    }

    /// Stops the bars, leaving their last state on the terminal.
    pub fn finish(&self, message: String) {
        self.status.set_style(style(LINE));
        self.status.finish_with_message(message);
        if let Ok(d) = self.download.lock()
            && let Some(pb) = d.as_ref()
            && !pb.is_finished()
        {
            pb.abandon();
        }
    }
}
