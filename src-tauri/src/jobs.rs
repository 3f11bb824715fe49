//! The window's background jobs: one event shape ([`JobEvent`]) for all of them — import,
//! fine-tune, model version and family switches, weight downloads — and one slot type
//! ([`JobSlot`]) for the jobs that run one at a time.
//!
//! Every job has an id from one counter ([`next_job_id`]); its events carry it. A job sends
//! any number of [`JobEvent::Progress`] (the engine's own [`ProgressEvent`], as the command
//! line's progress bar gets it) and ends with exactly one of `Finished` (with the job's result),
//! `Cancelled` or `Failed` (a typed [`CommandError`], so the window can act on its kind). `last`
//! says that the thread that ran it stops with this event: only the import thread runs several
//! jobs (queued batches) one after the other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use vclip_engine::{CancelToken, ProgressEvent};

use crate::CommandError;

/// What a background job tells the window.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent<T> {
    /// The engine's event as is (`started`, `progress`, `warning`, `epoch`, `finished`,
    /// `cancelled` of one stage of the job).
    Progress { job: u64, event: ProgressEvent },
    /// The job is done. (A cancelled import batch ends here too, with what it imported
    /// before the cancel and `cancelled` set in its report.)
    Finished { job: u64, result: T, last: bool },
    /// Stopped by the user before it had a result; the message says what stays.
    Cancelled {
        job: u64,
        message: String,
        last: bool,
    },
    /// The job failed as a whole (not one of its files).
    Failed {
        job: u64,
        error: CommandError,
        last: bool,
    },
}

impl<T> JobEvent<T> {
    /// The job this event belongs to.
    pub fn job(&self) -> u64 {
        match self {
            JobEvent::Progress { job, .. }
            | JobEvent::Finished { job, .. }
            | JobEvent::Cancelled { job, .. }
            | JobEvent::Failed { job, .. } => *job,
        }
    }

    /// This event ends the job.
    pub fn is_end(&self) -> bool {
        !matches!(self, JobEvent::Progress { .. })
    }

    /// This event ends the thread that ran the job.
    pub fn is_last(&self) -> bool {
        matches!(
            self,
            JobEvent::Finished { last: true, .. }
                | JobEvent::Cancelled { last: true, .. }
                | JobEvent::Failed { last: true, .. }
        )
    }

    /// The end of job `job` run alone on its thread: `Finished`, or `Cancelled` with
    /// `cancelled` when the error is the cancel, or `Failed`.
    pub fn end(
        job: u64,
        outcome: Result<T, CommandError>,
        cancelled: impl FnOnce() -> String,
    ) -> Self {
        match outcome {
            Ok(result) => JobEvent::Finished {
                job,
                result,
                last: true,
            },
            Err(CommandError::Cancelled { .. }) => JobEvent::Cancelled {
                job,
                message: cancelled(),
                last: true,
            },
            Err(error) => JobEvent::Failed {
                job,
                error,
                last: true,
            },
        }
    }
}

/// Where a job's events go (the window, or a test's channel).
pub type Emit<T> = Arc<dyn Fn(JobEvent<T>) + Send + Sync>;

static NEXT_JOB: AtomicU64 = AtomicU64::new(0);

/// A new job id (they only grow, across every kind of job).
pub fn next_job_id() -> u64 {
    NEXT_JOB.fetch_add(1, Ordering::SeqCst) + 1
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One job at a time of a kind: claimed with its cancel token, released when it ends.
#[derive(Debug, Default)]
pub(crate) struct JobSlot(Mutex<Option<CancelToken>>);

impl JobSlot {
    /// Claims the slot for a new job: its cancel token, or `Busy` (with `busy`) while one runs.
    pub(crate) fn claim(&self, busy: &str) -> Result<CancelToken, CommandError> {
        let mut running = lock(&self.0);
        if running.is_some() {
            return Err(CommandError::Busy {
                message: busy.to_owned(),
            });
        }
        let cancel = CancelToken::new();
        *running = Some(cancel.clone());
        Ok(cancel)
    }

    /// Frees the slot (the job ended, or its thread could not start).
    pub(crate) fn release(&self) {
        *lock(&self.0) = None;
    }

    /// A job runs.
    pub(crate) fn running(&self) -> bool {
        lock(&self.0).is_some()
    }

    /// Asks the job to stop at its next checkpoint; false when none runs.
    pub(crate) fn cancel(&self) -> bool {
        match &*lock(&self.0) {
            Some(c) => {
                c.cancel();
                true
            }
            None => false,
        }
    }
}
