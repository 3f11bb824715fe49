//! A loaded model of any family, behind one type: what the engine holds as its active model.
//!
//! The engine stores per-second features, window vectors and per-second states, and embeds
//! queries; it never needs to know which network made them. [`Model`] gives it exactly that,
//! whatever [`Family`] a model directory holds:
//!
//! | | VideoCLIP ([`VClipModel`]) | CLIP ([`ClipModel`]) |
//! |---|---|---|
//! | per-second feature | S3D-G on a 30-frame clip (512-d) | image tower on the frame at `k + 0.5 s` (512-d, unit) |
//! | window vector | video transformer, pooled (768-d) | mean of the seconds, re-normalised (512-d, meanP), or the fine-tuned temporal tower's |
//! | per-second state | video transformer in dummy-caption mode, averaged over windows | the frame embedding itself (a fine-tuned temporal tower's outputs) |
//! | query | VideoCLIP text transformer | CLIP text transformer |
//!
//! Scores are raw dot products in both (CLIP's vectors are unit, so they are cosines).
//! Code that only one family has (S3D-G clips, CLIP frames, VideoCLIP fine-tuning) reaches the
//! concrete model through [`Model::as_videoclip`] / [`Model::as_clip`].

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::clip::ClipModel;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::model_dir::{window_spans, VClipModel, WindowStates};
use crate::videoclip::Precision;

/// A loaded model directory of either family. See the module docs.
#[derive(Debug, Clone)]
pub enum Model {
    VideoClip(Box<VClipModel>),
    Clip(Box<ClipModel>),
}

impl From<VClipModel> for Model {
    fn from(m: VClipModel) -> Self {
        Self::VideoClip(Box::new(m))
    }
}

impl From<ClipModel> for Model {
    fn from(m: ClipModel) -> Self {
        Self::Clip(Box::new(m))
    }
}

impl Model {
    /// Loads the model directory `dir` onto `device` in f32, with the code of the family its
    /// `config.json` names ([`Family::of_dir`]).
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with_s3d_dtype(dir, device, DType::F32)
    }

    /// [`Self::load`] with VideoCLIP's S3D-G in `s3d_dtype` (F16/BF16 on GPUs); CLIP models
    /// load in f32 whatever `s3d_dtype` says.
    pub fn load_with_s3d_dtype(dir: &Path, device: &Device, s3d_dtype: DType) -> Result<Self> {
        Ok(match Family::of_dir(dir)? {
            Family::VideoClip => VClipModel::load_with_s3d_dtype(dir, device, s3d_dtype)?.into(),
            Family::Clip => ClipModel::load(dir, device)?.into(),
        })
    }

    /// Which family this model is.
    pub fn family(&self) -> Family {
        match self {
            Self::VideoClip(_) => Family::VideoClip,
            Self::Clip(_) => Family::Clip,
        }
    }

    /// The VideoCLIP model, when this is one.
    pub fn as_videoclip(&self) -> Option<&VClipModel> {
        match self {
            Self::VideoClip(m) => Some(m),
            Self::Clip(_) => None,
        }
    }

    /// The CLIP model, when this is one.
    pub fn as_clip(&self) -> Option<&ClipModel> {
        match self {
            Self::Clip(m) => Some(m),
            Self::VideoClip(_) => None,
        }
    }

    /// The directory this model was loaded from.
    pub fn dir(&self) -> &Path {
        match self {
            Self::VideoClip(m) => m.dir(),
            Self::Clip(m) => m.dir(),
        }
    }

    /// The device the weights sit on.
    pub fn device(&self) -> &Device {
        match self {
            Self::VideoClip(m) => m.device(),
            Self::Clip(m) => m.device(),
        }
    }

    /// True when the weights are random (`init-random`, fixtures): results mean nothing.
    pub fn is_random(&self) -> bool {
        match self {
            Self::VideoClip(m) => m.is_random(),
            Self::Clip(m) => m.is_random(),
        }
    }

    /// Width of window vectors, per-second states and query vectors (768 VideoCLIP, 512 CLIP).
    pub fn embedding_dim(&self) -> usize {
        match self {
            Self::VideoClip(m) => m.config.videoclip.hidden_size,
            Self::Clip(m) => m.embedding_dim(),
        }
    }

    /// The longest window in seconds the model can pool (VideoCLIP's `max_video_len`; a mean
    /// has no limit).
    pub fn max_window(&self) -> usize {
        match self {
            Self::VideoClip(m) => m.config.videoclip.max_video_len,
            Self::Clip(m) => m.max_window(),
        }
    }

    /// Query vectors `(N, D)` of `texts`, comparable by dot product with window vectors and
    /// per-second states.
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Tensor> {
        match self {
            Self::VideoClip(m) => m.embed_texts(texts),
            Self::Clip(m) => m.embed_texts(texts),
        }
    }

    /// What a library stores per video from its per-second features `(N, F)`: the vectors of
    /// windows of `window` seconds every `stride` seconds (the last one shorter rather than
    /// past the end) and one state per second (see the module docs).
    pub fn window_states(
        &self,
        features: &Tensor,
        window: usize,
        stride: usize,
    ) -> Result<WindowStates> {
        match self {
            Self::VideoClip(m) => m.window_states(features, window, stride),
            Self::Clip(m) => {
                let (n, d) = features.dims2()?;
                if n == 0 || window == 0 || stride == 0 {
                    return Err(Error::Input(format!(
                        "cannot window {n} seconds with window {window} and stride {stride}"
                    )));
                }
                if d != m.embedding_dim() {
                    return Err(Error::Input(format!(
                        "per-second features of width {d}, this CLIP model makes {}",
                        m.embedding_dim()
                    )));
                }
                let spans = window_spans(n, window, stride);
                let (pooled, states) = m.window_states(features, &spans)?;
                let cpu = |t: &Tensor| t.to_device(&Device::Cpu)?.to_dtype(DType::F32);
                Ok(WindowStates {
                    spans,
                    pooled: cpu(&pooled)?.to_vec2::<f32>()?,
                    tokens: cpu(&states)?.flatten_all()?.to_vec1::<f32>()?,
                    dim: d,
                })
            }
        }
    }

    /// Stores VideoCLIP's text-tower dense layers in `precision` (see [`Precision`]). CLIP's
    /// text tower always runs in f32: this does nothing for a CLIP model.
    pub fn set_text_precision(&mut self, precision: Precision) -> Result<()> {
        match self {
            Self::VideoClip(m) => m.text.set_precision(precision),
            Self::Clip(_) => Ok(()),
        }
    }

    /// Stores CLIP's image-tower dense layers in `precision` (see [`Precision`]); import uses
    /// it. VideoCLIP's S3D-G has its own dtype ([`Model::load_with_s3d_dtype`]): this does
    /// nothing for a VideoCLIP model.
    pub fn set_image_precision(&mut self, precision: Precision) -> Result<()> {
        match self {
            Self::VideoClip(_) => Ok(()),
            Self::Clip(m) => m.set_image_precision(precision),
        }
    }

    /// The precision frames are embedded in (`None` for VideoCLIP, whose S3D-G has a dtype).
    pub fn image_precision(&self) -> Option<Precision> {
        match self {
            Self::VideoClip(_) => None,
            Self::Clip(m) => Some(m.image_precision()),
        }
    }

    /// The precision queries run in ([`Precision::F32`] for CLIP).
    pub fn text_precision(&self) -> Precision {
        match self {
            Self::VideoClip(m) => m.text.precision(),
            Self::Clip(_) => Precision::F32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    fn dir() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| Error::io("tempdir", e))
    }

    #[test]
    fn loads_either_family_from_its_directory() -> Result<()> {
        let (v, c) = (dir()?, dir()?);
        crate::init_random(Preset::Tiny, 1, v.path(), None)?;
        crate::init_random_clip(Preset::Tiny, 1, c.path(), None)?;
        let v = Model::load(v.path(), &Device::Cpu)?;
        let c = Model::load(c.path(), &Device::Cpu)?;
        assert_eq!(v.family(), Family::VideoClip);
        assert_eq!(c.family(), Family::Clip);
        assert!(v.as_videoclip().is_some() && v.as_clip().is_none());
        assert!(c.as_clip().is_some() && c.as_videoclip().is_none());
        for m in [&v, &c] {
            assert!(m.is_random());
            let q = m.embed_texts(&["a dog", "cutting an onion"])?;
            assert_eq!(q.dims(), &[2, m.embedding_dim()]);
        }
        Ok(())
    }

    #[test]
    fn clip_windows_are_means_and_states_are_the_seconds() -> Result<()> {
        let d = dir()?;
        crate::init_random_clip(Preset::Tiny, 3, d.path(), None)?;
        let m = Model::load(d.path(), &Device::Cpu)?;
        let dim = m.embedding_dim();
        // Five unit "seconds": basis-like rows.
        let rows: Vec<f32> = (0..5 * dim)
            .map(|i| if i % dim == (i / dim) % dim { 1.0 } else { 0.0 })
            .collect();
        let feats = Tensor::from_vec(rows.clone(), (5, dim), &Device::Cpu)?;
        let s = m.window_states(&feats, 4, 2)?;
        assert_eq!(s.spans, vec![(0, 4), (2, 5)]);
        assert_eq!(s.dim, dim);
        assert_eq!(s.tokens, rows);
        // Window [0, 4): mean of 4 distinct unit basis rows, normalised: 0.5 on each.
        for (j, v) in s.pooled[0].iter().enumerate() {
            let want = if j < 4 { 0.5 } else { 0.0 };
            assert!((v - want).abs() < 1e-6, "{j}: {v}");
        }
        let narrow = Tensor::zeros((3, dim + 1), DType::F32, &Device::Cpu)?;
        assert!(m.window_states(&narrow, 4, 2).is_err());
        Ok(())
    }
}
