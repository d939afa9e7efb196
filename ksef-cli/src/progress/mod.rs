//! Progress bars on stderr for long flows: a batch (pre-flight, packing, encrypting, uploading
//! per part, processing) and an export or sync (KSeF building the package, part downloads,
//! unpacking). Drawn only when stderr is a terminal and neither `--json` nor `-q` is set;
//! otherwise every bar is hidden and the events go to the `info` log.

mod batch;
mod export;

use std::io::IsTerminal as _;

use indicatif::{MultiProgress, ProgressDrawTarget, ProgressStyle};

use crate::connect::Ctx;

pub use batch::BatchBars;
pub use export::ExportBars;

/// Whether progress is drawn for this invocation.
pub fn visible(ctx: &Ctx) -> bool {
    !ctx.out.json && !ctx.out.quiet && std::io::stderr().is_terminal()
}

const BAR: &str = "{prefix:>12} [{bar:32.cyan/blue}] {pos:>5}/{len:<5} {msg}";
const SPIN: &str = "{prefix:>12} {spinner} {msg}";
const LINE: &str = "{prefix:>12} {msg}";
const TICKS: &str = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓";

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .tick_chars(TICKS)
}

/// The bars' container: drawn on stderr when [`visible`], else hidden.
fn multi(shown: bool) -> MultiProgress {
    let target = if shown {
        ProgressDrawTarget::stderr_with_hz(8)
    } else {
        ProgressDrawTarget::hidden()
    };
    MultiProgress::with_draw_target(target)
}
