//! Renders the engine's progress events as an indicatif bar on stderr.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vclip_engine::{ProgressEvent, ProgressSink};

/// A progress bar that follows [`ProgressEvent`]s. Hidden when stderr is not a terminal.
pub struct Bar {
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    pub fn new() -> Self {
        Self {
            bar: Mutex::new(None),
        }
    }
}

impl ProgressSink for Bar {
    fn emit(&self, event: ProgressEvent) {
        let Ok(mut slot) = self.bar.lock() else {
            return;
        };
        match event {
            ProgressEvent::Started(p) | ProgressEvent::Progress(p) => {
                let bar = slot.get_or_insert_with(|| {
                    let bar = ProgressBar::with_draw_target(
                        p.total,
                        ProgressDrawTarget::stderr_with_hz(10),
                    );
                    let template = if p.total.is_some() {
                        "{msg} [{bar:30}] {pos}/{len} {prefix} ({per_sec}, {eta} left)"
                    } else {
                        "{msg} {spinner} {pos} {prefix} ({per_sec})"
                    };
                    if let Ok(style) = ProgressStyle::with_template(template) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.set_message(p.job.clone());
                    bar.set_prefix(p.unit.clone());
                    bar
                });
                if let Some(total) = p.total {
                    bar.set_length(total.max(p.done));
                }
                bar.set_position(p.done);
                let files = match (p.items_done, p.items_total) {
                    (Some(d), Some(t)) => format!(" (file {}/{t})", (d + 1).min(t)),
                    _ => String::new(),
                };
                if let Some(current) = p.current {
                    bar.set_message(format!("{}{files} {current}", p.job));
                }
            }
            ProgressEvent::Warning { item, message } => {
                let line = format!("warning: {item}: {message}");
                match slot.as_ref() {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            ProgressEvent::Epoch {
                epoch,
                mean_loss,
                heldout,
            } => {
                let loss = mean_loss.map_or_else(String::new, |l| format!("loss {l:.4}  "));
                let line = format!(
                    "epoch {epoch:>3}  {loss}held-out R@1 {:.3}  R@5 {:.3}  median rank {}",
                    heldout.r1, heldout.r5, heldout.median_rank
                );
                match slot.as_ref() {
                    Some(bar) => bar.println(line),
                    None => eprintln!("{line}"),
                }
            }
            ProgressEvent::Finished(_) | ProgressEvent::Cancelled(_) => {
                if let Some(bar) = slot.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
