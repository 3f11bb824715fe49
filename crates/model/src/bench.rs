//! Encoding benchmarks for `vclip bench encode`: S3D-G clips per second (VideoCLIP) or CLIP
//! image-tower frames per second, and text queries per second, on whatever device the model
//! sits on.
//!
//! Models: S3D-G (Miech et al. 2020, `antoine77340/S3D_HowTo100M`) and the VideoCLIP text tower
//! (arXiv 2109.14084, `fairseq/examples/MMPT`); weights from a model directory (real or
//! `init-random`, same cost). Method (`docs/gpu.md`): never time zeros, warm up,
//! synchronise the device before reading the clock, report the median of the timed runs.
//!
//! [`BenchRuns::profile`] (`vclip bench encode --profile`) makes [`bench_s3d`]
//! also time every stage of S3D-G (device synchronised
//! around each) and print a table of medians to stderr: where the time goes, by stage and by kind
//! of work (conv2d, GEMM, elementwise, pools, gates, copies).

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::clip::ClipModel;
use crate::error::{Error, Result};
use crate::s3d::{Kind, Profile, S3d};
use crate::tokenizer::Tokenizer;
use crate::videoclip::TextTower;

/// One benchmark's result.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// What was timed, e.g. `"s3d T=30 224x224"`.
    pub what: String,
    /// `cpu`, `cuda:0`, ...
    pub device: String,
    pub dtype: DType,
    /// Items per timed call (clips or queries).
    pub batch: usize,
    /// Timed calls (after the warm-up).
    pub runs: usize,
    /// Median seconds per call.
    pub median_s: f64,
    /// `batch / median_s`: clips/s or queries/s.
    pub items_per_s: f64,
}

/// Warm-up and timed runs of a benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchRuns {
    pub warmup: usize,
    pub runs: usize,
    /// [`bench_s3d`] also times every stage of S3D-G and prints the table (stderr).
    pub profile: bool,
}

impl Default for BenchRuns {
    fn default() -> Self {
        Self {
            warmup: 1,
            runs: 5,
            profile: false,
        }
    }
}

fn device_name(d: &Device) -> String {
    match d {
        Device::Cpu => "cpu".to_owned(),
        Device::Cuda(_) => "cuda:0".to_owned(),
        Device::Metal(_) => "metal:0".to_owned(),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn time_median(
    device: &Device,
    runs: BenchRuns,
    mut f: impl FnMut() -> Result<()>,
) -> Result<(f64, usize)> {
    if runs.runs == 0 {
        return Err(Error::Input(
            "a benchmark needs at least one timed run".into(),
        ));
    }
    for _ in 0..runs.warmup {
        f()?;
    }
    device.synchronize()?;
    let mut times = Vec::with_capacity(runs.runs);
    for _ in 0..runs.runs {
        let start = Instant::now();
        f()?;
        device.synchronize()?;
        times.push(start.elapsed().as_secs_f64());
    }
    let n = times.len();
    Ok((median(times), n))
}

/// Deterministic non-constant uint8 frames `(batch, 3, frames, size, size)` (a hash of the
/// index: never time zeros).
pub fn synthetic_clips(
    batch: usize,
    frames: usize,
    size: usize,
    device: &Device,
) -> Result<Tensor> {
    let n = batch * 3 * frames * size * size;
    let bytes: Vec<u8> = (0..n as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    Ok(Tensor::from_vec(
        bytes,
        (batch, 3, frames, size, size),
        device,
    )?)
}

/// S3D-G clips per second: `batch` clips of `frames` x `size` x `size` per call (VideoCLIP:
/// T=30, 224; the GPU comparison uses T=32, batch 32), features as the app computes them
/// (/255, S3D, L2 norm).
pub fn bench_s3d(
    s3d: &S3d,
    batch: usize,
    frames: usize,
    size: usize,
    runs: BenchRuns,
) -> Result<BenchReport> {
    let device = s3d.device().clone();
    let clips = synthetic_clips(batch, frames, size, &device)?;
    let (median_s, timed) = time_median(&device, runs, || {
        s3d.features(&clips)?;
        Ok(())
    })?;
    let report = BenchReport {
        what: format!("s3d T={frames} {size}x{size}"),
        device: device_name(&device),
        dtype: s3d.dtype(),
        batch,
        runs: timed,
        median_s,
        items_per_s: batch as f64 / median_s,
    };
    if runs.profile {
        eprint!("{}", profile_s3d(s3d, &clips, runs.runs, &report)?);
    }
    Ok(report)
}

/// `runs` passes of [`S3d::features`] with every stage timed (already warm: it runs after the
/// timed runs); returns a table of the per-stage medians in milliseconds, by kind of work.
fn profile_s3d(s3d: &S3d, clips: &Tensor, runs: usize, report: &BenchReport) -> Result<String> {
    let mut passes = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let mut prof = Profile::start(s3d.device())?;
        s3d.features_profiled(clips, &mut prof)?;
        passes.push(prof.stages);
    }
    let kinds = Kind::ALL.len();
    let ms =
        |stage: usize, kind: usize| 1e3 * median(passes.iter().map(|p| p[stage].1[kind]).collect());
    let rows: Vec<(&str, Vec<f64>)> = passes[0]
        .iter()
        .enumerate()
        .map(|(i, (stage, _))| (*stage, (0..kinds).map(|k| ms(i, k)).collect()))
        .collect();
    let by_kind: Vec<f64> = (0..kinds)
        .map(|k| rows.iter().map(|(_, r)| r[k]).sum())
        .collect();
    let total: f64 = by_kind.iter().sum();
    let pct = |x: f64| if total > 0.0 { 100.0 * x / total } else { 0.0 };

    let mut out = format!(
        "\nS3D-G stages, {} {:?}, batch {}, {}: median ms of {} synchronised passes\n{:<12}",
        report.device,
        report.dtype,
        report.batch,
        report.what,
        passes.len(),
        "stage"
    );
    for k in Kind::ALL {
        out += &format!("{:>9}", k.name());
    }
    out += &format!("{:>9}{:>7}\n", "total", "%");
    let cell = |x: f64| {
        if x > 0.0 {
            format!("{x:>9.2}")
        } else {
            format!("{:>9}", "-")
        }
    };
    for (stage, r) in &rows {
        let sum: f64 = r.iter().sum();
        out += &format!("{stage:<12}");
        for &x in r {
            out += &cell(x);
        }
        out += &format!("{sum:>9.2}{:>7.1}\n", pct(sum));
    }
    out += &format!("{:<12}", "total");
    for &x in &by_kind {
        out += &cell(x);
    }
    out += &format!("{total:>9.2}{:>7.1}\n{:<12}", 100.0, "%");
    for &x in &by_kind {
        out += &format!("{:>9.1}", pct(x));
    }
    out += &format!(
        "\nsum of stages {total:.1} ms; unprofiled call {:.1} ms ({:.1} clips/s)\n",
        1e3 * report.median_s,
        report.items_per_s
    );
    Ok(out)
}

/// `batch` queries of typical search length, the same for every text benchmark.
fn bench_queries(batch: usize) -> Vec<&'static str> {
    const QUERIES: [&str; 8] = [
        "how to cut an onion",
        "the dog jumps into the lake",
        "adding salt to boiling water before the pasta",
        "someone plays the guitar on a stage",
        "change a bicycle tire",
        "kids opening presents on christmas morning",
        "whisk the eggs until fluffy",
        "sunset over the sea",
    ];
    (0..batch).map(|i| QUERIES[i % QUERIES.len()]).collect()
}

/// Text queries per second through the tokenizer and the text tower, `batch` queries of
/// typical search length per call.
pub fn bench_text(
    text: &TextTower,
    tokenizer: &Tokenizer,
    device: &Device,
    batch: usize,
    runs: BenchRuns,
) -> Result<BenchReport> {
    let queries = bench_queries(batch);
    let max_len = text.config().max_text_len;
    let (median_s, runs) = time_median(device, runs, || {
        let (ids, mask) = tokenizer.batch(&queries, max_len, false, device)?;
        text.forward(&ids, &mask)?;
        Ok(())
    })?;
    Ok(BenchReport {
        what: "text queries".to_owned(),
        device: device_name(device),
        dtype: DType::F32,
        batch,
        runs,
        median_s,
        items_per_s: batch as f64 / median_s,
    })
}

/// CLIP image-tower frames per second: `batch` synthetic uint8 frames of the model's image size
/// per call, through [`ClipModel::embed_rgb`] (normalisation, ViT, projection, L2 norm): the
/// per-second cost of the CLIP family ([`crate::Family::Clip`], one frame per second).
pub fn bench_clip_image(model: &ClipModel, batch: usize, runs: BenchRuns) -> Result<BenchReport> {
    let device = model.device().clone();
    let s = model.image_size();
    let frames = synthetic_frames(batch, s, &device)?;
    let (median_s, timed) = time_median(&device, runs, || {
        model.embed_rgb(&frames)?;
        Ok(())
    })?;
    Ok(BenchReport {
        what: format!("clip image {s}x{s}"),
        device: device_name(&device),
        dtype: DType::F32,
        batch,
        runs: timed,
        median_s,
        items_per_s: batch as f64 / median_s,
    })
}

/// `n` synthetic uint8 RGB frames `(n, size, size, 3)`: byte `i` (row-major over the whole
/// batch) is the top byte of `i * 0x9e3779b97f4a7c15` (mod 2^64), so every pixel differs and
/// another implementation can rebuild the same input (`tools/clip_tower_bench.py`).
pub fn synthetic_frames(n: usize, size: usize, device: &Device) -> Result<Tensor> {
    let bytes: Vec<u8> = (0..(n * size * size * 3) as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    Ok(Tensor::from_vec(bytes, (n, size, size, 3), device)?)
}

/// CLIP text queries per second: tokenizer, text tower and projection
/// ([`ClipModel::embed_texts`]), `batch` queries of typical search length per call.
pub fn bench_clip_text(model: &ClipModel, batch: usize, runs: BenchRuns) -> Result<BenchReport> {
    let device = model.device().clone();
    let queries = bench_queries(batch);
    let (median_s, timed) = time_median(&device, runs, || {
        model.embed_texts(&queries)?;
        Ok(())
    })?;
    Ok(BenchReport {
        what: "clip text queries".to_owned(),
        device: device_name(&device),
        dtype: DType::F32,
        batch,
        runs: timed,
        median_s,
        items_per_s: batch as f64 / median_s,
    })
}
