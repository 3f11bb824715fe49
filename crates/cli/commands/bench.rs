//! `vclip bench decode`: our clip decoder against the ffmpeg CLI running the reference filters on
//! the same file, in the same run, plus peak resident memory.

#[cfg(feature = "media")]
use std::path::Path;
use std::process::ExitCode;
#[cfg(feature = "media")]
use std::process::{Command, Stdio};
#[cfg(feature = "media")]
use std::time::Instant;

use anyhow::Context;
#[cfg(feature = "media")]
use serde::Serialize;
#[cfg(feature = "media")]
use vclip_media::{ClipDecoder, DecodeOptions};

use super::print_json;

#[cfg(feature = "media")]
#[derive(Serialize)]
struct DecodeBench {
    file: String,
    video: String,
    duration_s: f64,
    frames: u64,
    runs: usize,
    vclip_fps: f64,
    ffmpeg_cli_fps: f64,
    ratio: f64,
    peak_rss_mb: Option<f64>,
    baseline_command: String,
}

#[cfg(feature = "media")]
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(feature = "media")]
pub fn decode(file: &Path, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
    let runs = runs.max(1);
    let info = vclip_media::probe(file)?;
    let video = info.require_video()?;
    let video_desc = format!(
        "{} {}x{} {:.2} fps",
        video.codec,
        video.display_width,
        video.display_height,
        video.avg_frame_rate.unwrap_or(0.0)
    );

    let mut ours = Vec::new();
    let mut frames = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let mut decoder = ClipDecoder::open(file, DecodeOptions::default())?;
        for clip in decoder.by_ref() {
            std::hint::black_box(clip?);
        }
        let secs = start.elapsed().as_secs_f64();
        frames = decoder.report().output_frames;
        ours.push(frames as f64 / secs);
    }
    // Measured before the baseline runs: ffmpeg is a child process and does not count here.
    let peak_rss_mb = peak_rss_mb();

    let ffmpeg = std::env::var("VCLIP_FFMPEG").unwrap_or_else(|_| "ffmpeg".into());
    let args = [
        "-v",
        "error",
        "-threads",
        "0",
        "-i",
        &file.to_string_lossy(),
        "-vf",
        "fps=30,scale=-2:224,crop=224:224",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-y",
        "/dev/null",
    ]
    .map(str::to_owned);
    let mut baseline = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let status = Command::new(&ffmpeg)
            .args(&args)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {ffmpeg} (set VCLIP_FFMPEG to its path)"))?;
        anyhow::ensure!(status.success(), "the ffmpeg baseline failed ({status})");
        baseline.push(frames as f64 / start.elapsed().as_secs_f64());
    }

    let result = DecodeBench {
        file: file.display().to_string(),
        video: video_desc,
        duration_s: frames as f64 / 30.0,
        frames,
        runs,
        vclip_fps: median(ours),
        ffmpeg_cli_fps: median(baseline),
        ratio: 0.0,
        peak_rss_mb,
        baseline_command: format!("{ffmpeg} {}", args.join(" ")),
    };
    let result = DecodeBench {
        ratio: result.vclip_fps / result.ffmpeg_cli_fps,
        ..result
    };
    if json {
        print_json(&result)?;
    } else {
        println!("file            {} ({})", result.file, result.video);
        println!(
            "frames          {} (224x224 at 30 fps, {:.1} s)",
            result.frames, result.duration_s
        );
        println!(
            "vclip decoder   {:.1} frames/s (median of {runs})",
            result.vclip_fps
        );
        println!("ffmpeg CLI      {:.1} frames/s", result.ffmpeg_cli_fps);
        println!("ratio           {:.3}  (target >= 0.9)", result.ratio);
        match result.peak_rss_mb {
            Some(mb) => println!("peak RSS        {mb:.1} MB  (target < 300 MB)"),
            None => println!("peak RSS        unavailable on this platform"),
        }
        println!("baseline        {}", result.baseline_command);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "media")]
/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Arguments of `vclip bench encode`.
pub struct EncodeBench {
    pub model: Option<std::path::PathBuf>,
    pub preset: String,
    pub batch: usize,
    pub frames: usize,
    pub text_batch: usize,
    pub dtype: String,
    pub runs: usize,
    pub gpu: bool,
    pub json: bool,
}

/// S3D-G clips/s and text queries/s (`vclip bench encode`).
pub fn encode(a: EncodeBench) -> anyhow::Result<ExitCode> {
    use vclip_model::bench::{bench_s3d, bench_text, BenchRuns};
    use vclip_model::DType;

    let dtype = match a.dtype.as_str() {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => anyhow::bail!("--dtype {other}: expected f32, f16 or bf16"),
    };
    let device = vclip_model::device(a.gpu)?;
    let tmp;
    let dir = match a.model {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().context("temporary folder for the random model")?;
            let preset: vclip_model::Preset = a.preset.parse()?;
            vclip_model::init_random(preset, 0, tmp.path(), None)?;
            tmp.path().to_path_buf()
        }
    };
    let model = vclip_model::VClipModel::load_with_s3d_dtype(&dir, &device, dtype)?;
    let runs = BenchRuns {
        warmup: 1,
        runs: a.runs.max(1),
    };
    // VideoCLIP's clips are 224x224 (S3D-G is fully convolutional; its config has no size).
    let size = 224;
    let s3d = bench_s3d(&model.s3d, a.batch.max(1), a.frames, size, runs)?;
    let text = bench_text(
        &model.text,
        &model.tokenizer,
        &device,
        a.text_batch.max(1),
        runs,
    )?;
    // Features of the first synthetic clip, so another implementation (tools/gpu_bench.py) can
    // check it computed the same thing on the same input.
    let check = model
        .encode_clips(&vclip_model::bench::synthetic_clips(
            1, a.frames, size, &device,
        )?)?
        .to_dtype(DType::F32)?
        .to_device(&vclip_model::Device::Cpu)?
        .to_vec2::<f32>()?
        .remove(0);
    if a.json {
        print_json(&serde_json::json!({
            "model": dir,
            "random_weights": model.is_random(),
            "s3d": { "what": s3d.what, "device": s3d.device, "dtype": format!("{:?}", s3d.dtype),
                     "batch": s3d.batch, "runs": s3d.runs, "median_s": s3d.median_s,
                     "clips_per_s": s3d.items_per_s },
            "check_features": check,
            "text": { "device": text.device, "batch": text.batch, "runs": text.runs,
                      "median_s": text.median_s, "queries_per_s": text.items_per_s },
        }))?;
    } else {
        println!(
            "S3D-G   {}: {:.2} clips/s ({} {:?}, batch {}, median of {})",
            s3d.what, s3d.items_per_s, s3d.device, s3d.dtype, s3d.batch, s3d.runs
        );
        println!(
            "text    {:.1} queries/s ({}, batch {}, median of {})",
            text.items_per_s, text.device, text.batch, text.runs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `vclip bench search`: HNSW vs. exact search on synthetic vectors.
pub fn search(
    n: usize,
    dims: usize,
    queries: usize,
    k: usize,
    ef: Option<usize>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let opts = vclip_index::vectors::SearchBenchOptions {
        n,
        dims,
        queries,
        k,
        expansion_search: ef,
        ..Default::default()
    };
    eprintln!("building an HNSW index of {n} random {dims}-d unit vectors…");
    let r = vclip_index::vectors::bench_search(&opts)?;
    if json {
        print_json(&serde_json::json!({
            "n": r.n, "dims": r.dims, "queries": r.queries, "k": r.k, "ef": ef,
            "build_s": r.build_s, "recall_at_k": r.recall_at_k,
            "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "exact_p50_ms": r.exact_p50_ms,
            "speedup_vs_exact": r.exact_p50_ms / r.p50_ms,
        }))?;
    } else {
        println!(
            "index        {} x {}-d, built in {:.1} s",
            r.n, r.dims, r.build_s
        );
        println!(
            "recall@{}    {:.3} vs exact search  (target >= 0.95)",
            r.k, r.recall_at_k
        );
        println!(
            "latency      p50 {:.2} ms, p99 {:.2} ms (exact p50 {:.1} ms, {:.0}x)",
            r.p50_ms,
            r.p99_ms,
            r.exact_p50_ms,
            r.exact_p50_ms / r.p50_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}
