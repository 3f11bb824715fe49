//! `vclip bench encode`: S3D-G clips/s (VideoCLIP) or CLIP image-tower frames/s, and text
//! queries/s, on the model's device (the timing itself is vclip-model's [`vclip_model::bench`]).
//! With CLIP's 8-bit image tower the report adds how closely it follows f32 on the same frames,
//! and (with this project's q8 kernel) candle's kernel on the same tower, in the same run.

use std::path::PathBuf;

use vclip_model::bench::{
    bench_clip_image, bench_clip_text, bench_s3d, bench_text, synthetic_frames, BenchReport,
    BenchRuns,
};
use vclip_model::{DType, Device, Family, Model, Precision, Q8Kernel, Tensor};

/// Frames the q8 image tower's agreement with f32 is measured on.
pub const AGREEMENT_FRAMES: usize = 16;

/// Settings of [`encode`].
#[derive(Debug, Clone)]
pub struct EncodeOptions {
    /// Model folder; `None`: a random-weight model of `preset` and `family` (see
    /// [`crate::model_dir`]).
    pub model: Option<PathBuf>,
    pub preset: String,
    pub family: Family,
    /// `family` was asked for (checked against `model`'s family).
    pub family_given: bool,
    /// Clips per S3D-G call or frames per image-tower call; `None`: the import's defaults
    /// (4 clips, 16 frames).
    pub batch: Option<usize>,
    /// Frames per clip (VideoCLIP).
    pub frames: usize,
    /// Queries per text-tower call.
    pub text_batch: usize,
    /// S3D-G's precision.
    pub dtype: DType,
    /// CLIP's image tower (ignored by VideoCLIP).
    pub image_precision: Precision,
    pub device: Device,
    /// Timed runs (after one warm-up); the median is reported.
    pub runs: usize,
    /// Time every stage of S3D-G too (a table on stderr).
    pub profile: bool,
}

/// What [`encode`] measured.
#[derive(Debug, Clone)]
pub struct EncodeReport {
    /// The model folder run (a temporary one for a random model).
    pub model: PathBuf,
    pub family: Family,
    pub random_weights: bool,
    /// CLIP's image-tower precision (`None` for VideoCLIP).
    pub image_precision: Option<Precision>,
    /// The q8 kernel in use, when the image tower is q8.
    pub q8_kernel: Option<Q8Kernel>,
    /// S3D-G (clips) or CLIP's image tower (frames).
    pub backbone: BenchReport,
    /// `clips` or `frames`: what the backbone's items are.
    pub unit: &'static str,
    /// The text tower (queries).
    pub text: BenchReport,
    /// The backbone's output for the first synthetic clip or frame, so another implementation
    /// (tools/gpu_bench.py, tools/clip_tower_bench.py) can check it computed the same thing.
    pub check: Vec<f32>,
    /// q8 image tower: cosine of its embeddings to f32's on [`AGREEMENT_FRAMES`] synthetic
    /// frames.
    pub agreement: Option<Cosines>,
    /// q8 image tower with this project's kernel: candle's kernel on the same tower, same run.
    pub candle_kernel: Option<KernelBaseline>,
}

/// Cosines between matching rows of two batches of embeddings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cosines {
    pub min: f32,
    pub mean: f32,
}

/// The q8 image tower through candle's kernel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KernelBaseline {
    /// Frames per second.
    pub items_per_s: f64,
    /// Smallest cosine of its embeddings to f32's.
    pub min_cosine_to_f32: f32,
}

/// Cosines between matching rows of two batches of L2-normalised embeddings.
fn cosines(a: &Tensor, b: &Tensor) -> anyhow::Result<Cosines> {
    let cos = (a * b)?.sum(1)?.to_device(&Device::Cpu)?.to_vec1::<f32>()?;
    let min = cos.iter().copied().fold(f32::INFINITY, f32::min);
    Ok(Cosines {
        min,
        mean: cos.iter().sum::<f32>() / cos.len().max(1) as f32,
    })
}

/// S3D-G clips/s (or CLIP image-tower frames/s) and text queries/s.
pub fn encode(a: &EncodeOptions) -> anyhow::Result<EncodeReport> {
    let device = &a.device;
    let choice = crate::ModelChoice {
        model: a.model.as_deref(),
        family: a.family,
        family_given: a.family_given,
        preset: &a.preset,
        dtype: a.dtype,
    };
    let (_tmp, dir, mut model) = crate::load_model(choice, device)?;
    let image_precision = a.image_precision;
    // q8's agreement with f32: the same synthetic frames embedded before and after the
    // conversion (cosine of each frame's two embeddings: min, mean).
    let mut exact = None;
    let agreement = match &mut model {
        Model::Clip(m) if image_precision == Precision::Q8 => {
            let frames = synthetic_frames(AGREEMENT_FRAMES, m.image_size(), device)?;
            let f32_embedding = m.embed_rgb(&frames)?;
            m.set_image_precision(image_precision)?;
            let agreement = cosines(&f32_embedding, &m.embed_rgb(&frames)?)?;
            exact = Some((frames, f32_embedding));
            Some(agreement)
        }
        m => {
            m.set_image_precision(image_precision)?;
            None
        }
    };
    let runs = BenchRuns {
        warmup: 1,
        runs: a.runs.max(1),
        profile: a.profile,
    };
    // CLIP q8 with this crate's kernel: the same tower through candle's kernel (frames/s, min
    // cosine to f32), measured in the same run.
    let mut candle_kernel = None;
    let (backbone, text, check, unit) = match &model {
        Model::VideoClip(m) => {
            // VideoCLIP's clips are 224x224 (S3D-G is fully convolutional; its config has no
            // size).
            let size = 224;
            let s3d = bench_s3d(&m.s3d, a.batch.unwrap_or(4).max(1), a.frames, size, runs)?;
            let text = bench_text(&m.text, &m.tokenizer, device, a.text_batch.max(1), runs)?;
            // Features of the first synthetic clip, so another implementation
            // (tools/gpu_bench.py) can check it computed the same thing on the same input.
            let check = m.encode_clips(&vclip_model::bench::synthetic_clips(
                1, a.frames, size, device,
            )?)?;
            (s3d, text, check, "clips")
        }
        Model::Clip(m) => {
            let batch = a.batch.unwrap_or(16).max(1);
            let image = bench_clip_image(m, batch, runs)?;
            // The baseline in the same run: the same 8-bit tower through candle's kernel.
            if let (Some((frames, f32_embedding)), Q8Kernel::Vclip) =
                (&exact, vclip_model::q8_kernel())
            {
                vclip_model::set_q8_kernel(Q8Kernel::Candle);
                let candle =
                    bench_clip_image(m, batch, runs).and_then(|r| Ok((r, m.embed_rgb(frames)?)));
                vclip_model::set_q8_kernel(Q8Kernel::Vclip);
                let (candle, embedding) = candle?;
                let Cosines { min, .. } = cosines(f32_embedding, &embedding)?;
                candle_kernel = Some(KernelBaseline {
                    items_per_s: candle.items_per_s,
                    min_cosine_to_f32: min,
                });
            }
            let text = bench_clip_text(m, a.text_batch.max(1), runs)?;
            // The embedding of the first synthetic frame, for tools/clip_tower_bench.py.
            let check = m.embed_rgb(&synthetic_frames(1, m.image_size(), device)?)?;
            (image, text, check, "frames")
        }
    };
    let check = check
        .to_dtype(DType::F32)?
        .to_device(&Device::Cpu)?
        .to_vec2::<f32>()?
        .remove(0);
    let image_precision = model.image_precision();
    Ok(EncodeReport {
        model: dir,
        family: model.family(),
        random_weights: model.is_random(),
        image_precision,
        q8_kernel: (image_precision == Some(Precision::Q8)).then(vclip_model::q8_kernel),
        backbone,
        unit,
        text,
        check,
        agreement,
        candle_kernel,
    })
}

/// One CPU level of [`kernels`]: CLIP's image tower in f32 and in q8, with the kernels of that
/// level forced ([`vclip_model::set_cpu_level_cap`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelRow {
    pub level: vclip_model::CpuLevel,
    /// VClip's 8-bit kernel at this level; `None`: candle's `QMatMul` runs the q8 layers.
    pub q8_kernel: Option<vclip_model::Q8Path>,
    /// Frames per second, f32 tower (candle's f32 matmuls pick their own instructions; the
    /// level caps VClip's fused attention, GELU and LayerNorm).
    pub f32_frames_per_s: f64,
    /// Frames per second, q8 tower.
    pub q8_frames_per_s: f64,
    /// `q8 / f32`, both measured at this level in this run.
    pub q8_speedup: f64,
    /// Smallest cosine of q8's embeddings to f32's on [`AGREEMENT_FRAMES`] frames.
    pub q8_min_cosine_to_f32: f32,
    /// The precision import chooses at this level ([`Precision::cpu_default`]).
    pub default: Precision,
    /// Why, in a sentence.
    pub why: String,
}

/// What [`kernels`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KernelsReport {
    pub model: PathBuf,
    pub random_weights: bool,
    /// The CPU's own widest level.
    pub detected: vclip_model::CpuLevel,
    pub batch: usize,
    pub runs: usize,
    /// One row per level this CPU can run, narrowest first.
    pub levels: Vec<KernelRow>,
}

/// CLIP's image tower on the CPU with every CPU level this machine runs forced in turn (the
/// AVX2 path on an AVX-512 machine, …), f32 against q8 at each, in one run: which precision is
/// faster where, and whether the default picks it.
pub fn kernels(a: &EncodeOptions) -> anyhow::Result<KernelsReport> {
    use vclip_model::{cpu_level_cap, set_cpu_level_cap, CpuLevel};
    anyhow::ensure!(
        a.device.is_cpu(),
        "--kernels measures the CPU's kernels: drop --gpu"
    );
    let choice = crate::ModelChoice {
        model: a.model.as_deref(),
        family: a.family,
        family_given: a.family_given,
        preset: &a.preset,
        dtype: a.dtype,
    };
    let (_tmp, dir, exact) = crate::load_model(choice, &a.device)?;
    let Model::Clip(exact) = exact else {
        anyhow::bail!(
            "--kernels measures CLIP's image tower: add --family clip (or a CLIP --model)"
        )
    };
    let random_weights = exact.is_random();
    // The q8 tower, packed once at the CPU's widest level (the packing is the same for every
    // kernel), then run at each level.
    let before = cpu_level_cap();
    set_cpu_level_cap(None);
    let (_tmp2, _, q8) = crate::load_model(
        crate::ModelChoice {
            model: Some(&dir),
            ..choice
        },
        &a.device,
    )?;
    let Model::Clip(mut q8) = q8 else {
        anyhow::bail!("{} changed family while loading", dir.display())
    };
    q8.set_image_precision(Precision::Q8)?;
    let frames = synthetic_frames(AGREEMENT_FRAMES, exact.image_size(), &a.device)?;
    let runs = BenchRuns {
        warmup: 1,
        runs: a.runs.max(1),
        profile: false,
    };
    let batch = a.batch.unwrap_or(16).max(1);
    let mut levels = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for level in CpuLevel::available() {
            set_cpu_level_cap(Some(level));
            eprintln!("{level}: f32 …");
            let f32_fps = bench_clip_image(&exact, batch, runs)?.items_per_s;
            eprintln!("{level}: q8 …");
            let q8_fps = bench_clip_image(&q8, batch, runs)?.items_per_s;
            let Cosines { min, .. } = cosines(&exact.embed_rgb(&frames)?, &q8.embed_rgb(&frames)?)?;
            levels.push(KernelRow {
                level,
                q8_kernel: vclip_model::q8_path(),
                f32_frames_per_s: f32_fps,
                q8_frames_per_s: q8_fps,
                q8_speedup: q8_fps / f32_fps,
                q8_min_cosine_to_f32: min,
                default: Precision::cpu_default(),
                why: Precision::cpu_default_reason(),
            });
        }
        Ok(())
    })();
    set_cpu_level_cap(before);
    result?;
    Ok(KernelsReport {
        model: dir,
        random_weights,
        detected: vclip_model::detected_level(),
        batch,
        runs: runs.runs,
        levels,
    })
}
