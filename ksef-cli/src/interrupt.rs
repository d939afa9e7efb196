//! Ctrl-C (SIGINT, and SIGTERM on Unix) for the commands that keep work to continue later
//! (`send batch`, `sync`): [`install`] takes the signals over as soon as such a command starts,
//! so that no signal kills the process between two steps; [`interrupted`] resolves once one
//! arrived. The command then stops at once (its state is written atomically at every step),
//! says how to continue, and exits with [`crate::exit::Exit::Interrupted`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

static RECEIVED: AtomicBool = AtomicBool::new(false);
static NOTIFY: OnceLock<Notify> = OnceLock::new();

fn notify() -> &'static Notify {
    NOTIFY.get_or_init(Notify::new)
}

fn raise() {
    RECEIVED.store(true, Ordering::SeqCst);
    notify().notify_waiters();
}

/// Takes over SIGINT and SIGTERM (Ctrl-C elsewhere); call inside the runtime, before the
/// command's first step. Returns an error when the signals cannot be taken over.
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, synchronously: from now on the signals no longer end the process.
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        tokio::spawn(async move {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            raise();
        });
    }
    #[cfg(not(unix))]
    {
        tokio::spawn(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                raise();
            }
        });
    }
    Ok(())
}

/// Resolves once an interrupt has arrived (at once when one already did).
pub async fn interrupted() {
    loop {
        let notified = notify().notified();
        if RECEIVED.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }
}
