//! VideoCLIP (Xu et al., EMNLP 2021, arXiv 2109.14084) in candle: the frozen S3D-G backbone
//! (MIL-NCE HowTo100M, `antoine77340/S3D_HowTo100M`), the video and text transformers of
//! `MMFusionSeparate` (`facebookresearch/fairseq/examples/MMPT`), the bert-base-uncased
//! tokenizer, and the weights: the released `checkpoint_best.pt` + `s3d_howto100m.pth`, imported
//! into a model directory (`config.json`, safetensors, `vocab.txt`).
//!
//! The pipeline, per video: frames (uint8, 30 fps, 224x224) -> one 30-frame clip per second ->
//! [`S3d`] -> L2-normalised 512-d features -> [`VideoTower`] -> pooled 768-d vector; a query ->
//! [`Tokenizer`] -> [`TextTower`] -> pooled 768-d vector; score = raw dot product.
//!
//! Every numeric detail follows `docs/model-notes.md`; `tools/reference.py` is the PyTorch
//! reference the parity tests (`tests/`) compare against.
//!
//! Entry points for the command line and the engine:
//! - `vclip models import`: [`import_released`]`(checkpoint_best.pt, s3d_howto100m.pth,
//!   vocab.txt, out_dir, None)`;
//! - `vclip models init-random`: [`init_random`]`(Preset::Tiny | Preset::Full, seed, out_dir,
//!   vocab)`;
//! - `vclip encode`: [`VClipModel::load`], [`clips_from_thwc`] on decoded clips,
//!   [`VClipModel::encode_clips`] (per-second 512-d features), [`VClipModel::embed_windows`];
//!   queries with [`VClipModel::embed_texts`] and [`VClipModel::scores`];
//! - `vclip bench encode`: [`bench::bench_s3d`] and [`bench::bench_text`].
//!
//! The second model family, CLIP ViT-B/32 ([`Family::Clip`], module [`clip`]): [`import_clip`]
//! of HF's files, [`init_random_clip`], [`ClipModel::load`], [`ClipModel::embed_rgb`] on one
//! frame per second, [`ClipModel::embed_windows`], [`ClipModel::embed_texts`]. [`Family::of_dir`]
//! tells which family a model directory holds.

// One folder per model family (candle-style), the kernels and the shared text encoders; the
// older flat paths (`vclip_model::s3d`, `vclip_model::clip_temporal`, …) stay as aliases.
pub mod bench;
pub mod clip;
mod error;
pub mod family;
mod folder;
pub mod kernels;
mod loaded;
pub mod memory;
pub mod pth;
pub mod text;
pub mod videoclip;
mod weights;

pub use clip::temporal as clip_temporal;
use clip::vision as clip_vision;
pub use kernels::cpu;
use kernels::q8;
use text::bert;
pub use text::{minilm, tokenizer};
pub use videoclip::{config, model_dir, s3d, train};

pub use candle_core::{DType, Device, Tensor};
pub use clip::{
    import_clip, init_random_clip, init_random_clip_sized, mean_pool_windows, ClipConfig,
    ClipImportSummary, ClipModel, ClipModelConfig, ClipTokenizer,
};
pub use clip_temporal::{
    init_temporal, write_temporal_model, TemporalConfig, TemporalInit, TemporalOutput,
    TemporalTower, TrainableTemporal,
};
pub use config::{ModelConfig, Preset, S3dConfig, VideoClipConfig};
pub use cpu::{cpu_level, cpu_level_cap, detected_level, set_cpu_level_cap, CpuLevel};
pub use error::{Error, Result};
pub use family::{Family, FamilySpec, FrameSampling, TokenizerKind, WindowPooling};
pub use loaded::Model;
pub use minilm::SentenceEncoder;
pub use model_dir::{
    import_released, init_random, window_spans, write_model_dir, ImportSummary, VClipModel,
    WindowStates,
};
pub use q8::{q8_kernel, q8_path, set_q8_kernel, Q8Kernel, Q8Path};
pub use s3d::{clips_from_thwc, l2_normalize, S3d, S3dOutput, S3dTaps};
pub use tokenizer::Tokenizer;
pub use videoclip::{
    load_towers, scores, text_batch, text_layout, Precision, TextTower, TowerOutput, VideoMode,
    VideoTower,
};

/// The compute device: the CPU when `gpu` is false; otherwise the first CUDA (or Metal) GPU,
/// or [`Error::NoGpu`] when this build has neither feature.
pub fn device(gpu: bool) -> Result<Device> {
    if !gpu {
        return Ok(Device::Cpu);
    }
    #[cfg(feature = "cuda")]
    {
        Ok(Device::new_cuda(0)?)
    }
    #[cfg(all(feature = "metal", not(feature = "cuda")))]
    {
        Ok(Device::new_metal(0)?)
    }
    #[cfg(not(any(feature = "cuda", feature = "metal")))]
    {
        Err(Error::NoGpu)
    }
}
