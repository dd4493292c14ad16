//! Work done after the answer: the part of a request whose cost would tell
//! the caller something. `POST /auth/password/forgot` must answer the same,
//! in the same time, whether or not the address has an account; looking the
//! account up, issuing a token and queueing the message (a committed write)
//! take milliseconds that an unknown address does not. So the endpoint takes a
//! place on the runner ([`Background::reserve`]), counts the request against
//! the per-client send limit (in memory, the same work for every address),
//! hands the rest to [`Reserved::spawn`], and answers 202. The place is taken
//! first so that a request refused for want of one has spent nothing: not
//! the client's send limit, nor (counted in the task, when a message is
//! queued) the recipient's budget.
//!
//! At most `MAX_IN_FLIGHT` such tasks run at once per instance; past that a
//! request is refused with 503 (`ServiceError::Busy`), the same for every
//! address, so a flood cannot grow memory without bound. A task that fails
//! logs its error (never the address) and counts in
//! `authd_background_failed_total{task}`; the message it would have queued is
//! not sent, as if the mail had been lost, and the user asks again. A task
//! still running when the process stops is lost the same way: nothing was
//! committed for it, so nothing is left half done.

use std::future::Future;
use std::sync::Arc;

use prometheus::IntCounterVec;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ServiceError;

/// Tasks one instance runs at once before it refuses more.
pub const MAX_IN_FLIGHT: usize = 512;

pub struct Background {
    permits: Arc<Semaphore>,
    max_in_flight: usize,
    /// Tasks that ended in an error, by the name given to `spawn`
    /// (`Metrics::background_failed`).
    failed: IntCounterVec,
}

impl Background {
    /// A runner of at most `max_in_flight` tasks, counting failures in
    /// `failed` (label `task`).
    pub fn new(max_in_flight: usize, failed: IntCounterVec) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            failed,
        }
    }

    /// Runs `work` on a task of its own; `what` names it in the log. Fails
    /// with `Busy` when `max_in_flight` tasks are running.
    pub fn spawn<F>(&self, what: &'static str, work: F) -> Result<(), ServiceError>
    where
        F: Future<Output = Result<(), ServiceError>> + Send + 'static,
    {
        self.reserve(what)?.spawn(what, work);
        Ok(())
    }

    /// Takes a place for a task to be spawned with [`Reserved::spawn`]; fails
    /// with `Busy` when `max_in_flight` tasks are running. A place dropped
    /// unused is given back.
    pub fn reserve(&self, what: &'static str) -> Result<Reserved, ServiceError> {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!(task = what, "background work saturated; request refused");
            return Err(ServiceError::Busy);
        };
        Ok(Reserved {
            permit,
            failed: self.failed.clone(),
        })
    }

    /// Tasks running now.
    pub fn in_flight(&self) -> usize {
        self.max_in_flight
            .saturating_sub(self.permits.available_permits())
    }
}

/// A place on the runner, taken by [`Background::reserve`].
pub struct Reserved {
    permit: OwnedSemaphorePermit,
    /// The runner's count of failed tasks.
    failed: IntCounterVec,
}

impl Reserved {
    /// Runs `work` on a task of its own, in this place; `what` names it in the
    /// log.
    pub fn spawn<F>(self, what: &'static str, work: F)
    where
        F: Future<Output = Result<(), ServiceError>> + Send + 'static,
    {
        let permit = self.permit;
        let failed = self.failed.with_label_values(&[what]);
        tokio::spawn(async move {
            if let Err(e) = work.await {
                failed.inc();
                tracing::warn!(task = what, error = %e, "background work failed");
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> IntCounterVec {
        let opts = prometheus::Opts::new("failed", "failed tasks");
        IntCounterVec::new(opts, &["task"]).unwrap()
    }

    #[tokio::test]
    async fn a_full_runner_refuses_until_a_task_ends() {
        let background = Background::new(1, counter());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        background
            .spawn("test", async move {
                let _ = rx.await;
                Ok(())
            })
            .unwrap();
        assert_eq!(background.in_flight(), 1);
        assert!(matches!(
            background.spawn("test", async { Ok(()) }),
            Err(ServiceError::Busy)
        ));
        tx.send(()).unwrap();
        for _ in 0..200 {
            if background.in_flight() == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(
            background.in_flight(),
            0,
            "the ended task gave its place back"
        );
        background.spawn("test", async { Ok(()) }).unwrap();
    }
}
