//! The dedicated thread that owns the SQLite connection. Async callers send it closures and
//! await their results; the thread ends when the last handle is dropped.

use std::sync::mpsc;

use rusqlite::Connection;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A handle to the database thread.
#[derive(Debug, Clone)]
pub(crate) struct Worker {
    tx: mpsc::Sender<Job>,
}

impl Worker {
    /// Starts the thread with `conn`.
    pub(crate) fn start(mut conn: Connection) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ksef-store-db".into())
            .spawn(move || {
                while let Ok(job) = rx.recv() {
                    job(&mut conn);
                }
            })?;
        Ok(Self { tx })
    }

    /// Runs `f` on the database thread.
    pub(crate) async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.tx
            .send(Box::new(move |c| {
                let _ = done.send(f(c));
            }))
            .map_err(|_| Error::Stopped)?;
        result.await.map_err(|_| Error::Stopped)?
    }
}
