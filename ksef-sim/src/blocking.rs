//! The bounded pool for CPU-heavy work (signature verification, invoice parsing, batch
//! unpacking, export building): it runs on tokio's blocking threads, never on the async
//! workers, and at most `workers` jobs at a time, so that hostile input keeps at most that
//! many threads busy while every other request is still answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The pool. Cheap to share (it lives in the application state).
#[derive(Debug)]
pub(crate) struct BlockingPool {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    max_time: Duration,
}

/// Decrements the waiting count when a request stops waiting (also when it is cancelled).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl BlockingPool {
    /// A pool of `workers` concurrent jobs (at least 1); at most `max_waiting` requests wait for
    /// a worker, and a request waits at most `max_time` for its job's result.
    pub(crate) fn new(workers: usize, max_waiting: usize, max_time: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(workers.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            max_time,
        }
    }

    /// The default size: one worker per core, at least two.
    pub(crate) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores.max(2), 256, Duration::from_secs(60))
    }

    /// Runs `job` on the pool for a request and returns its result. 503 when too many requests
    /// already wait for the pool or the job outlives the pool's time limit (the job then still
    /// ends on its own, holding its worker until it does).
    pub(crate) async fn run<T, F>(&self, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let busy = || {
            ApiError::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The simulator is busy with other CPU-heavy requests; try again.",
            )
        };
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let waiting = Waiting(Arc::clone(&self.waiting));
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| busy())?;
        drop(waiting);
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            job()
        });
        match tokio::time::timeout(self.max_time, handle).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(ApiError::internal(format!("the job failed: {e}"))),
            Err(_) => Err(ApiError::plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "The request took too long to process.",
            )),
        }
    }

    /// Starts background `job` (batch processing, export building) as soon as a worker is free.
    pub(crate) fn spawn(&self, job: impl FnOnce() + Send + 'static) {
        let permits = Arc::clone(&self.permits);
        tokio::spawn(async move {
            let Ok(permit) = permits.acquire_owned().await else {
                return;
            };
            let _ = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                job();
            })
            .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_most_workers_jobs_run_at_once_and_the_queue_is_bounded() {
        let pool = Arc::new(BlockingPool::new(1, 1, Duration::from_secs(30)));
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let first = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move {
                pool.run(move || {
                    let _ = release_rx.recv();
                    1
                })
                .await
            })
        };
        // Wait until the first job holds the only worker.
        while pool.permits.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let second = {
            let pool = Arc::clone(&pool);
            tokio::spawn(async move { pool.run(|| 2).await })
        };
        while pool.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        // A third request finds the queue full.
        let third = pool.run(|| 3).await.unwrap_err();
        assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
        release_tx.send(()).unwrap();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        assert_eq!(pool.waiting.load(Ordering::SeqCst), 0);
    }
}
