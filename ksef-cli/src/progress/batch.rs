//! The bars of `ksef send batch`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar};
use ksef_flows::batch::BatchEvent;

use super::{BAR, LINE, SPIN, multi, style, visible};
use crate::connect::Ctx;

/// More parts than this get one line for the parts in flight instead of one line per part.
const PART_LINES_MAX: u32 = 16;

/// The bars of one batch run.
pub struct BatchBars {
    multi: MultiProgress,
    shown: bool,
    preflight: ProgressBar,
    packing: ProgressBar,
    encrypting: ProgressBar,
    uploading: ProgressBar,
    processing: ProgressBar,
    parts: Mutex<PartLines>,
}

#[derive(Default)]
struct PartLines {
    /// One line per part (few parts) or per part in flight (many).
    lines: HashMap<u32, ProgressBar>,
    per_part: bool,
    total: u32,
    uploaded: u64,
}

impl BatchBars {
    /// Bars for `inputs` inputs (`None` when continuing a prepared batch), drawn when
    /// [`visible`].
    pub fn new(ctx: &Ctx, inputs: Option<u64>) -> Self {
        let shown = visible(ctx);
        let multi = multi(shown);
        let bar = |prefix: &'static str, len: u64, template: &str| {
            let pb = multi.add(ProgressBar::new(len));
            pb.set_style(style(template));
            pb.set_prefix(prefix);
            pb
        };
        let n = inputs.unwrap_or(0);
        let preflight = bar("pre-flight", n, BAR);
        let packing = bar("packing", n, BAR);
        let encrypting = bar("encrypting", 1, BAR);
        let uploading = bar("uploading", 1, BAR);
        let processing = bar("processing", 0, SPIN);
        if inputs.is_none() {
            for pb in [&preflight, &packing, &encrypting] {
                pb.set_style(style(LINE));
                pb.finish_with_message("prepared earlier");
            }
        }
        uploading.set_message("waiting for the session");
        processing.set_message("waiting for the upload");
        Self {
            multi,
            shown,
            preflight,
            packing,
            encrypting,
            uploading,
            processing,
            parts: Mutex::new(PartLines::default()),
        }
    }

    /// Whether the bars are drawn.
    pub fn shown(&self) -> bool {
        self.shown
    }

    /// A line above the bars (or on stderr when they are hidden and not quiet).
    pub fn println(&self, text: &str) {
        if self.shown {
            let _ = self.multi.println(text);
        }
    }

    /// Updates the bars for one event of the batch.
    pub fn on_event(&self, e: &BatchEvent) {
        tracing::info!(event = ?e, "batch");
        match e {
            BatchEvent::InputPrepared {
                packed,
                archive_bytes,
                ..
            } => {
                self.preflight.inc(1);
                if *packed {
                    self.packing.inc(1);
                } else {
                    let stopped = self.preflight.position() - self.packing.position();
                    self.preflight.set_message(format!("{stopped} stopped"));
                }
                self.packing
                    .set_message(format!("archive {}", HumanBytes(*archive_bytes)));
            }
            BatchEvent::PartSealed {
                ordinal,
                plain_size,
                size,
            } => {
                let done = u64::from(*ordinal);
                if self.encrypting.length().unwrap_or(0) <= done {
                    self.encrypting.set_length(done + 1);
                }
                self.encrypting.set_position(done);
                self.encrypting.set_message(format!(
                    "part {ordinal}: {} -> {}",
                    HumanBytes(*plain_size),
                    HumanBytes(*size)
                ));
            }
            BatchEvent::Prepared {
                inputs,
                packed,
                stopped,
                archive_size,
                parts,
            } => {
                let inputs = *inputs as u64;
                self.preflight.set_length(inputs);
                self.preflight.set_position(inputs);
                self.preflight
                    .finish_with_message(format!("{stopped} stopped"));
                let packed = *packed as u64;
                self.packing.set_length(packed);
                self.packing.set_position(packed);
                self.packing
                    .finish_with_message(format!("archive {}", HumanBytes(*archive_size)));
                let parts = u64::from(*parts);
                self.encrypting.set_length(parts);
                self.encrypting.set_position(parts);
                self.encrypting
                    .finish_with_message(format!("{parts} parts"));
            }
            BatchEvent::Resumed {
                phase,
                reference_number,
            } => {
                let session = reference_number.as_deref().unwrap_or("none yet");
                self.println(&format!(
                    "continuing the batch from phase {phase:?} (session {session})"
                ));
            }
            BatchEvent::SessionAbandoned { reason } => {
                self.println(&format!("an unconfirmed session was left behind: {reason}"));
            }
            BatchEvent::SessionOpened {
                reference_number,
                parts,
            } => {
                self.uploading.set_length(u64::from(*parts));
                self.uploading.set_position(0);
                self.uploading
                    .set_message(format!("session {reference_number}"));
                self.uploading
                    .enable_steady_tick(Duration::from_millis(250));
                if let Ok(mut p) = self.parts.lock() {
                    p.total = *parts;
                    p.per_part = *parts <= PART_LINES_MAX;
                    if p.per_part {
                        for ordinal in 1..=*parts {
                            let pb = self.part_line(ordinal, *parts);
                            pb.set_message("queued");
                            p.lines.insert(ordinal, pb);
                        }
                    }
                }
            }
            BatchEvent::PartUploading { ordinal, attempt } => {
                if let Ok(mut p) = self.parts.lock() {
                    let total = p.total;
                    let pb = p
                        .lines
                        .entry(*ordinal)
                        .or_insert_with(|| self.part_line(*ordinal, total))
                        .clone();
                    pb.set_message(if *attempt > 1 {
                        format!("uploading (attempt {attempt})")
                    } else {
                        "uploading".into()
                    });
                    pb.enable_steady_tick(Duration::from_millis(120));
                }
            }
            BatchEvent::PartRetry {
                ordinal,
                attempt,
                wait,
                reason,
            } => {
                if let Ok(p) = self.parts.lock()
                    && let Some(pb) = p.lines.get(ordinal)
                {
                    pb.set_message(format!(
                        "attempt {attempt} failed ({reason}); again in {:.1}s",
                        wait.as_secs_f64()
                    ));
                }
            }
            BatchEvent::PartUploaded {
                ordinal,
                size,
                confirmed,
                parts,
            } => {
                self.uploading.set_length(u64::from(*parts));
                self.uploading.set_position(u64::from(*confirmed));
                if let Ok(mut p) = self.parts.lock() {
                    p.uploaded += size;
                    self.uploading
                        .set_message(format!("{} sent", HumanBytes(p.uploaded)));
                    if let Some(pb) = p.lines.get(ordinal).cloned() {
                        if p.per_part {
                            pb.set_style(style(LINE));
                            pb.finish_with_message(format!("✓ {}", HumanBytes(*size)));
                        } else {
                            pb.finish_and_clear();
                            p.lines.remove(ordinal);
                        }
                    }
                }
                if confirmed == parts {
                    self.uploading.finish();
                }
            }
            BatchEvent::SessionClosed { reference_number } => {
                self.uploading.finish();
                self.processing
                    .set_message(format!("session {reference_number} closed; waiting"));
                self.processing
                    .enable_steady_tick(Duration::from_millis(120));
            }
            BatchEvent::Processing { code, description } => {
                self.processing.set_message(format!("{code} {description}"));
            }
            BatchEvent::SessionFinished {
                code,
                description,
                accepted,
                rejected,
            } => {
                let counts = match (accepted, rejected) {
                    (Some(a), Some(r)) => format!(": {a} accepted, {r} rejected"),
                    _ => String::new(),
                };
                self.processing.set_style(style(LINE));
                self.processing
                    .finish_with_message(format!("✓ {code} {description}{counts}"));
            }
            BatchEvent::ResultsCollected { .. } | BatchEvent::UpoVerified { .. } => {}
            _ => {}
        }
    }

    fn part_line(&self, ordinal: u32, total: u32) -> ProgressBar {
        let pb = self
            .multi
            .insert_before(&self.processing, ProgressBar::new_spinner());
        pb.set_style(style(SPIN));
        pb.set_prefix(format!("part {ordinal}/{total}"));
        pb
    }

    /// Stops the bars, leaving their last state on the terminal.
    pub fn finish(&self) {
        for pb in [
            &self.preflight,
            &self.packing,
            &self.encrypting,
            &self.uploading,
        ] {
            if !pb.is_finished() {
                pb.abandon();
            }
        }
        if !self.processing.is_finished() {
            self.processing.abandon();
        }
        if let Ok(p) = self.parts.lock() {
            for pb in p.lines.values() {
                if !pb.is_finished() {
                    pb.abandon();
                }
            }
        }
    }
}
