//! Encoding benchmarks for `vclip bench encode`: S3D-G clips per second and text queries per
//! second, on whatever device the model sits on.
//!
//! Models: S3D-G (Miech et al. 2020, `antoine77340/S3D_HowTo100M`) and the VideoCLIP text tower
//! (arXiv 2109.14084, `fairseq/examples/MMPT`); weights from a model directory (real or
//! `init-random`, same cost). Method (`shared/docs/GPU.md`): never time zeros, warm up,
//! synchronise the device before reading the clock, report the median of the timed runs.

use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};
use crate::s3d::S3d;
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
}

impl Default for BenchRuns {
    fn default() -> Self {
        Self { warmup: 1, runs: 5 }
    }
}

fn device_name(d: &Device) -> String {
    match d {
        Device::Cpu => "cpu".to_owned(),
        Device::Cuda(_) => "cuda:0".to_owned(),
        Device::Metal(_) => "metal:0".to_owned(),
    }
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
    times.sort_by(f64::total_cmp);
    Ok((times[times.len() / 2], times.len()))
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
    let (median_s, runs) = time_median(&device, runs, || {
        s3d.features(&clips)?;
        Ok(())
    })?;
    Ok(BenchReport {
        what: format!("s3d T={frames} {size}x{size}"),
        device: device_name(&device),
        dtype: s3d.dtype(),
        batch,
        runs,
        median_s,
        items_per_s: batch as f64 / median_s,
    })
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
    let queries: Vec<&str> = (0..batch).map(|i| QUERIES[i % QUERIES.len()]).collect();
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
