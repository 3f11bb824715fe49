//! The window keeps the library current with its watched folders while it runs: a thread
//! listens for changes the OS reports under them (`notify`), waits for them to settle
//! (debounced), and queues a rescan on the import thread ([`AppCore::rescan_watched`]); it also
//! rescans every [`POLL`] anyway, which catches what a watcher cannot see (a drive that was
//! unplugged and came back, files that were still being written). The watched folders are read
//! again each round, so adding or removing one in the settings takes effect at once.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::{AppCore, EmitImport};

/// The longest wait between two rescans.
pub const POLL: Duration = Duration::from_secs(30);
/// How long the OS must stay quiet after a change before the rescan.
const DEBOUNCE: Duration = Duration::from_secs(2);

/// The watcher thread; it stops when this is dropped.
#[derive(Debug)]
pub struct Watching {
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
}

impl Watching {
    /// Starts watching for `core`, reporting rescans through `emit`.
    pub fn start(core: Arc<AppCore>, emit: EmitImport) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let (wake, rx) = mpsc::channel::<()>();
        let events = wake.clone();
        let flag = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("vclip-watch".into())
            .spawn(move || run(&core, &emit, &rx, events, &flag))?;
        Ok(Self { stop, wake })
    }

    /// Rescans now (a folder was added in the settings).
    pub fn rescan_now(&self) {
        let _ = self.wake.send(());
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.wake.send(());
    }
}

fn run(
    core: &Arc<AppCore>,
    emit: &EmitImport,
    rx: &mpsc::Receiver<()>,
    events: mpsc::Sender<()>,
    stop: &AtomicBool,
) {
    use notify::Watcher as _;
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| !e.kind.is_access()) {
            let _ = events.send(());
        }
    })
    .ok();
    let mut watched: HashSet<PathBuf> = HashSet::new();
    while !stop.load(Ordering::SeqCst) {
        // The library may be closed or reopened meanwhile: read the list each round.
        let folders = core.watched_folders().unwrap_or_default();
        if let Some(w) = watcher.as_mut() {
            for gone in watched
                .iter()
                .filter(|f| !folders.contains(f) || !f.is_dir())
            {
                let _ = w.unwatch(gone);
            }
            watched.retain(|f| folders.contains(f) && f.is_dir());
            for f in &folders {
                if !watched.contains(f) && w.watch(f, notify::RecursiveMode::Recursive).is_ok() {
                    watched.insert(f.clone());
                }
            }
        }
        if !folders.is_empty() {
            let _ = core.rescan_watched(Arc::clone(emit));
        }
        // Wait for a change (then for quiet), a wake-up, or the poll.
        let start = Instant::now();
        let mut last: Option<Instant> = None;
        loop {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(()) => last = Some(Instant::now()),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            match last {
                Some(t) if t.elapsed() >= DEBOUNCE => break,
                None if start.elapsed() >= POLL => break,
                _ => {}
            }
        }
    }
}
