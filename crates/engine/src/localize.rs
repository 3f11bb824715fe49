//! `Engine::steps`: place every step of a how-to on a video's timeline.
//!
//! The video's per-second token states (written at import by `VClipModel::window_states`:
//! dummy-caption mode, [CLS] masked, 32 s windows with a 16 s stride, averaged where windows
//! overlap — docs/model-notes.md §5.4–§5.5) are read back from the library; the steps go through the
//! text tower; the similarity matrix `h_u · z_step` (raw dot products) is aligned by
//! [`crate::steps::localize`]. No video is decoded and no network runs over the video again.
//!
//! The text embeddings come through [`StepEmbedder`], whose default is the active model's text
//! tower. Tests use it to supply embeddings with a known relation to the stored token states,
//! which checks the plumbing (file, rows, seconds, spans) exactly without a trained model.

use serde::Serialize;
use vclip_index::{read_features, Features, Status, Video};
use vclip_model::{Model, VClipModel};

use crate::moments::dot;
use crate::steps::{background_threshold, localize};
use crate::store::{Engine, EngineError, Result};

/// Text embeddings for step descriptions: one vector per text, the size of the token states.
pub trait StepEmbedder {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// The active model's text tower (VideoCLIP: pooled, 768-d; CLIP: 512-d, unit).
impl StepEmbedder for Model {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        rows(texts.len(), self.embed_texts(texts))
    }
}

/// The VideoCLIP text tower (pooled, 768-d for the released model).
impl StepEmbedder for VClipModel {
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        rows(texts.len(), self.embed_texts(texts))
    }
}

fn rows(n: usize, t: vclip_model::Result<vclip_model::Tensor>) -> Result<Vec<Vec<f32>>> {
    t.and_then(|t| Ok(t.to_device(&vclip_model::Device::Cpu)?.to_vec2::<f32>()?))
        .map_err(|source| EngineError::Model {
            context: format!("encoding {n} step descriptions"),
            source,
        })
}

/// How to place the steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOptions {
    /// Keep the given order (CrossTask's DP); otherwise each step where it fits best.
    pub ordered: bool,
    /// Add COIN's background column (threshold γ, see [`crate::steps`]) to the per-second
    /// probabilities, so spans stop where no step beats the background. CrossTask's protocol
    /// has none (`vclip eval crosstask` turns it off).
    pub background: bool,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self {
            ordered: true,
            background: true,
        }
    }
}

/// One placed step.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepSpan {
    pub text: String,
    /// Span on the video's timeline, seconds.
    pub start_s: f64,
    pub end_s: f64,
    /// Confidence: `p(step | second)` at the step's second, in `[0, 1]`.
    pub score: f32,
    /// The step's one second (CrossTask's prediction), `[second, second + 1)`.
    pub second: usize,
    /// Raw similarity (dot product) at that second.
    pub similarity: f32,
}

/// Where the steps of one video are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StepsReport {
    /// The video's path.
    pub video: String,
    pub video_id: i64,
    /// The video's duration as probed at import, seconds (chapters end there).
    pub duration_s: Option<f64>,
    /// Seconds with token states (the rows aligned).
    pub seconds: usize,
    pub ordered: bool,
    /// The background logit used, if any.
    pub background: Option<f32>,
    pub steps: Vec<StepSpan>,
}

impl StepsReport {
    /// The placed steps as chapters (see [`crate::chapters`]).
    pub fn chapters(
        &self,
    ) -> std::result::Result<Vec<crate::chapters::Chapter>, crate::chapters::ChaptersError> {
        let steps: Vec<_> = self.steps.iter().map(Into::into).collect();
        crate::chapters::chapters(&steps, self.duration_s)
    }
}

impl Engine {
    /// Places `steps` on the video `what` (id, content hash or path of an imported video) with
    /// the active model's text tower. See the module docs.
    pub fn steps(&self, what: &str, steps: &[String], opts: StepOptions) -> Result<StepsReport> {
        let model = self.model().ok_or(EngineError::NoModel)?;
        self.steps_with(what, steps, opts, model)
    }

    /// [`Engine::steps`] with the step embeddings from `embedder`.
    pub fn steps_with(
        &self,
        what: &str,
        steps: &[String],
        opts: StepOptions,
        embedder: &dyn StepEmbedder,
    ) -> Result<StepsReport> {
        let video = self.find(what)?;
        let states = self.token_states(&video)?;
        if steps.is_empty() {
            return Err(crate::steps::StepsError::NoSteps.into());
        }
        let texts: Vec<&str> = steps.iter().map(String::as_str).collect();
        let z = embedder.embed(&texts)?;
        if z.len() != steps.len() || z.iter().any(|v| v.len() != states.cols) {
            return Err(EngineError::Invalid(format!(
                "the text tower gave {} vectors of size {} for {} steps, but the token states \
                 of {} have size {}",
                z.len(),
                z.first().map_or(0, Vec::len),
                steps.len(),
                video.path,
                states.cols
            )));
        }
        let sims: Vec<Vec<f32>> = (0..states.rows)
            .map(|t| z.iter().map(|zk| dot(states.row(t), zk)).collect())
            .collect();
        let background = opts.background.then(|| background_logit(&z, &sims));
        let placed = localize(&sims, background, opts.ordered)?;
        let end_of_video = video.duration_s.unwrap_or(f64::INFINITY);
        Ok(StepsReport {
            video: video.path.clone(),
            video_id: video.id,
            duration_s: video.duration_s,
            seconds: states.rows,
            ordered: opts.ordered,
            background,
            steps: placed
                .into_iter()
                .zip(steps)
                .map(|(p, text)| StepSpan {
                    text: text.clone(),
                    start_s: p.start as f64,
                    // The last second of a video is usually partial.
                    end_s: (p.end as f64).min(end_of_video.max(p.start as f64)),
                    score: p.confidence,
                    second: p.second,
                    similarity: p.similarity,
                })
                .collect(),
        })
    }

    /// The per-second token states of `video` for the active model. Names the video and the
    /// remedy when it is not ready or was imported with another model.
    pub fn token_states(&self, video: &Video) -> Result<Features> {
        let active = self.active.as_ref().ok_or(EngineError::NoModel)?;
        let not_ready = |reason: String| EngineError::NotReady {
            video: video.path.clone(),
            reason,
        };
        if video.status != Status::Ready {
            return Err(not_ready(format!(
                "it is not imported yet (status {}): run `vclip import` on it",
                video.status.as_str()
            )));
        }
        // `model_version` is the version it was embedded with last; after a switch back to a
        // version it was embedded with before (`vclip models use`), that version's windows
        // and token states are still there.
        if video.model_version.as_deref() != Some(active.key.as_str())
            && self
                .library()
                .catalogue()
                .windows_of(video.id, &active.key)?
                .is_empty()
        {
            return Err(not_ready(format!(
                "it was imported with model {}, not the active {}: run `vclip import` on it again \
                 (or `vclip reindex`)",
                video.model_version.as_deref().unwrap_or("(none)"),
                active.key
            )));
        }
        let path = self.library().tokens_path(&active.version, &video.hash)?;
        if !path.is_file() {
            return Err(not_ready(format!(
                "it has no per-second token states for the active model ({} is missing): run \
                 `vclip reindex`",
                path.display()
            )));
        }
        let states = read_features(&path)?;
        if states.rows == 0 {
            return Err(crate::steps::StepsError::EmptyVideo.into());
        }
        Ok(states)
    }
}

/// The background logit: COIN's γ (largest similarity between two different steps). With a
/// single step there is no pair, and the step's mean similarity over the video stands in: its
/// span is then the run of seconds around its best one that score above its average.
fn background_logit(z: &[Vec<f32>], sims: &[Vec<f32>]) -> f32 {
    background_threshold(z).unwrap_or_else(|| {
        let n = sims.len().max(1) as f32;
        sims.iter()
            .map(|row| row.first().copied().unwrap_or(0.0))
            .sum::<f32>()
            / n
    })
}
