//! One progress/event type for every long job, and cooperative cancellation.
//!
//! A job receives a [`ProgressSink`] and a [`CancelToken`]. It reports [`ProgressEvent`]s; the CLI
//! renders them as an indicatif bar, the window as a progress panel. A job checks the token between
//! units of work (a clip, a file) and stops with [`Cancelled`] when it is set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

/// A snapshot of a long job's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Progress {
    /// What the job is (e.g. `"import"`, `"decode"`).
    pub job: String,
    /// Units done and expected in total (files, clips, steps); `total` is `None` when unknown.
    pub done: u64,
    pub total: Option<u64>,
    /// The unit `done`/`total` count, for display (`"clips"`, `"files"`).
    pub unit: String,
    /// The item being worked on (a file name), if any.
    pub current: Option<String>,
    /// Units per second since the job started.
    pub rate: f64,
    /// Estimated seconds left, when `total` is known and the rate is positive.
    pub eta_s: Option<f64>,
    /// For jobs over several items measured in another unit (an import counts video-seconds):
    /// items finished and expected (files).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub items_done: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub items_total: Option<u64>,
    /// For training jobs (`vclip finetune`): the epoch, the last step's loss and learning rate,
    /// and the throughput in training pairs per second. The step is `done` of `total`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ts", ts(optional))]
    pub train: Option<TrainStatus>,
}

/// Where a training job stands (see [`Progress::train`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct TrainStatus {
    /// The epoch being run, from 1, of `epochs`.
    pub epoch: u64,
    pub epochs: u64,
    /// The last step's loss and learning rate.
    pub loss: f64,
    pub lr: f64,
    /// Training pairs (video clip + text) per second since the job started.
    pub pairs_per_s: f64,
}

/// Everything a job can tell its face.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProgressEvent {
    Started(Progress),
    Progress(Progress),
    /// A problem with one item that did not stop the job (e.g. one unreadable file).
    Warning {
        item: String,
        message: String,
    },
    Finished(Progress),
    Cancelled(Progress),
    /// A training job evaluated its model on the held-out captions: epoch 0 is the model before
    /// training (no loss yet), then one event after every epoch.
    Epoch {
        epoch: u64,
        mean_loss: Option<f64>,
        heldout: crate::finetune::RecallMetrics,
    },
}

/// Where a job sends its events. Implemented for any `Fn(ProgressEvent) + Send + Sync`.
pub trait ProgressSink: Send + Sync {
    fn emit(&self, event: ProgressEvent);
}

impl<F: Fn(ProgressEvent) + Send + Sync> ProgressSink for F {
    fn emit(&self, event: ProgressEvent) {
        self(event)
    }
}

/// A sink that drops every event (for callers that do not show progress).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn emit(&self, _event: ProgressEvent) {}
}

/// Shared flag that asks a job to stop at its next checkpoint. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

/// The error a job returns when it stopped because its [`CancelToken`] was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cancelled")]
pub struct Cancelled;

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Cancelled)` once cancellation was requested: use with `?` between units of work.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.is_cancelled() {
            Err(Cancelled)
        } else {
            Ok(())
        }
    }
}

/// Helper that turns counts into [`Progress`] snapshots with rate and time left, and throttles
/// `Progress` events to at most one per `interval` so a fast job does not flood its face.
#[derive(Debug)]
pub struct Tracker {
    job: String,
    unit: String,
    total: Option<u64>,
    done: u64,
    current: Option<String>,
    items: Option<(u64, Option<u64>)>,
    train: Option<TrainStatus>,
    started: Instant,
    last_emit: Option<Instant>,
    interval: Duration,
}

impl Tracker {
    pub fn new(job: &str, unit: &str, total: Option<u64>) -> Self {
        Self {
            job: job.to_owned(),
            unit: unit.to_owned(),
            total,
            done: 0,
            current: None,
            items: None,
            train: None,
            started: Instant::now(),
            last_emit: None,
            interval: Duration::from_millis(100),
        }
    }

    pub fn set_total(&mut self, total: Option<u64>) {
        self.total = total;
    }

    pub fn set_current(&mut self, current: Option<String>) {
        self.current = current;
    }

    /// Items (files) finished and expected, shown beside the main count.
    pub fn set_items(&mut self, done: u64, total: Option<u64>) {
        self.items = Some((done, total));
    }

    /// A training job's epoch, loss, learning rate and throughput, carried by later events.
    pub fn set_train(&mut self, train: Option<TrainStatus>) {
        self.train = train;
    }

    /// Seconds since [`Tracker::start`] (or creation).
    pub fn elapsed_s(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn snapshot(&self) -> Progress {
        let elapsed = self.started.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            self.done as f64 / elapsed
        } else {
            0.0
        };
        let eta_s = match self.total {
            Some(total) if rate > 0.0 => Some(total.saturating_sub(self.done) as f64 / rate),
            _ => None,
        };
        Progress {
            job: self.job.clone(),
            done: self.done,
            total: self.total,
            unit: self.unit.clone(),
            current: self.current.clone(),
            rate,
            eta_s,
            items_done: self.items.map(|i| i.0),
            items_total: self.items.and_then(|i| i.1),
            train: self.train,
        }
    }

    pub fn start(&mut self, sink: &dyn ProgressSink) {
        self.started = Instant::now();
        sink.emit(ProgressEvent::Started(self.snapshot()));
    }

    /// Adds `n` units; emits a `Progress` event unless one was emitted less than `interval` ago.
    pub fn advance(&mut self, n: u64, sink: &dyn ProgressSink) {
        self.done += n;
        let now = Instant::now();
        if self
            .last_emit
            .is_none_or(|t| now.duration_since(t) >= self.interval)
        {
            self.last_emit = Some(now);
            sink.emit(ProgressEvent::Progress(self.snapshot()));
        }
    }

    pub fn finish(&self, sink: &dyn ProgressSink) {
        sink.emit(ProgressEvent::Finished(self.snapshot()));
    }

    pub fn cancelled(&self, sink: &dyn ProgressSink) {
        sink.emit(ProgressEvent::Cancelled(self.snapshot()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn cancel_token_is_shared_between_clones() {
        let token = CancelToken::new();
        let job_side = token.clone();
        assert!(job_side.check().is_ok());
        token.cancel();
        assert_eq!(job_side.check(), Err(Cancelled));
    }

    #[test]
    fn tracker_reports_rate_and_time_left() {
        let events = Mutex::new(Vec::new());
        let sink = |e: ProgressEvent| events.lock().expect("lock").push(e);
        let mut t = Tracker::new("decode", "clips", Some(10));
        t.start(&sink);
        std::thread::sleep(Duration::from_millis(20));
        t.advance(5, &sink);
        t.finish(&sink);
        let events = events.into_inner().expect("lock");
        assert!(matches!(events[0], ProgressEvent::Started(_)));
        let ProgressEvent::Progress(p) = &events[1] else {
            panic!("expected a progress event, got {:?}", events[1]);
        };
        assert_eq!(p.done, 5);
        assert!(p.rate > 0.0);
        let eta = p.eta_s.expect("eta with a known total");
        // 5 of 10 done: the time left is about the time spent so far.
        assert!(eta > 0.0 && eta < 5.0, "eta {eta}");
        assert!(matches!(events[2], ProgressEvent::Finished(_)));
    }

    #[test]
    fn tracker_throttles_progress_events() {
        let count = Mutex::new(0usize);
        let sink = |e: ProgressEvent| {
            if matches!(e, ProgressEvent::Progress(_)) {
                *count.lock().expect("lock") += 1;
            }
        };
        let mut t = Tracker::new("decode", "clips", None);
        for _ in 0..1000 {
            t.advance(1, &sink);
        }
        assert!(*count.lock().expect("lock") < 10);
        assert_eq!(t.snapshot().done, 1000);
    }
}
