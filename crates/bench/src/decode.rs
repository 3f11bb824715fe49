//! `vclip bench decode`: our clip decoder against the ffmpeg CLI running the reference filters on
//! the same file, in the same run, plus peak resident memory ([`decode`]); and the
//! one-frame-per-second sampler (the CLIP family's decoding) with each speed option, as
//! video-seconds per wall-second and as a ratio to decoding every frame of the same file in the
//! same run, with the S3D clip decoder for reference ([`per_second`]). Each option's frames are
//! compared with the baseline's (exact or not, and by how much).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use vclip_media::{
    ClipDecoder, DecodeOptions, FrameSampler, SampleOptions, SampleReport, Threading,
};

/// What [`decode`] measured (`vclip bench decode --json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct DecodeBench {
    pub file: String,
    /// Codec, display size and frame rate.
    pub video: String,
    pub duration_s: f64,
    /// 224x224 frames at 30 fps.
    pub frames: u64,
    pub runs: usize,
    /// Medians over the runs.
    pub vclip_fps: f64,
    pub ffmpeg_cli_fps: f64,
    /// `vclip_fps / ffmpeg_cli_fps`.
    pub ratio: f64,
    /// Peak resident memory of this process (without the ffmpeg baseline, a child process).
    pub peak_rss_mb: Option<f64>,
    pub baseline_command: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The video stream of `file`: codec, display size, frame rate.
fn describe(file: &Path) -> anyhow::Result<String> {
    let info = vclip_media::probe(file)?;
    let video = info.require_video()?;
    Ok(format!(
        "{} {}x{} {:.2} fps",
        video.codec,
        video.display_width,
        video.display_height,
        video.avg_frame_rate.unwrap_or(0.0)
    ))
}

/// Decodes `file` into 224x224 clips at 30 fps `runs` times with our decoder, then as many times
/// with the ffmpeg CLI (`$VCLIP_FFMPEG`, else `ffmpeg` on the `PATH`) running the same filters.
pub fn decode(file: &Path, runs: usize) -> anyhow::Result<DecodeBench> {
    let runs = runs.max(1);
    let video_desc = describe(file)?;

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

    let vclip_fps = median(ours);
    let ffmpeg_cli_fps = median(baseline);
    Ok(DecodeBench {
        file: file.display().to_string(),
        video: video_desc,
        duration_s: frames as f64 / 30.0,
        frames,
        runs,
        vclip_fps,
        ffmpeg_cli_fps,
        ratio: vclip_fps / ffmpeg_cli_fps,
        peak_rss_mb,
        baseline_command: format!("{ffmpeg} {}", args.join(" ")),
    })
}

/// Peak resident set size of this process (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// One configuration measured.
struct Config {
    name: &'static str,
    /// `None`: the S3D clip decoder (30 fps clips), not the sampler.
    opts: Option<SampleOptions>,
}

fn configs() -> Vec<Config> {
    let all = SampleOptions::decode_all();
    let fast = SampleOptions::default();
    let c = |name, opts| Config {
        name,
        opts: Some(opts),
    };
    vec![
        Config {
            name: "s3d clips (every frame, 30 fps, scaled)",
            opts: None,
        },
        c(
            "every frame, 1 thread",
            SampleOptions {
                threads: 1,
                ..all.clone()
            },
        ),
        c(
            "every frame, slice threads",
            SampleOptions {
                threading: Threading::Slice,
                ..all.clone()
            },
        ),
        c(BASELINE, all.clone()),
        c(
            "skip non-ref",
            SampleOptions {
                skip_nonref: true,
                ..all.clone()
            },
        ),
        c(
            "drop gop tails",
            SampleOptions {
                skip_gop_tails: true,
                ..all.clone()
            },
        ),
        c(DEFAULT, fast.clone()),
        c(
            "seek",
            SampleOptions {
                seek: true,
                ..all.clone()
            },
        ),
        c(
            "default + seek",
            SampleOptions {
                seek: true,
                ..fast.clone()
            },
        ),
        c(
            "default + skip loop filter",
            SampleOptions {
                skip_loop_filter: true,
                ..fast.clone()
            },
        ),
        c(
            "default + keyframes ±500 ms",
            SampleOptions {
                keyframe_tolerance_ms: 500,
                ..fast.clone()
            },
        ),
        c(
            "default + keyframes ±500 ms + skip loop filter",
            SampleOptions {
                keyframe_tolerance_ms: 500,
                skip_loop_filter: true,
                ..fast
            },
        ),
    ]
}

const BASELINE: &str = "every frame, frame threads (baseline)";
const DEFAULT: &str = "skip non-ref + drop gop tails (default)";

/// One configuration's results.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: &'static str,
    pub options: Option<SampleOptions>,
    /// Same frames as the baseline, byte for byte.
    pub exact: bool,
    /// Largest mean absolute difference of a frame from the baseline's, in 1/255.
    pub max_mean_abs_diff: f64,
    /// Median over the runs.
    pub wall_s: f64,
    /// Process CPU time (all threads) of the median run.
    pub cpu_s: f64,
    pub video_s_per_s: f64,
    pub ratio_to_baseline: f64,
    pub decoded_frames: u64,
    pub nonref_skippable: u64,
    pub dropped_packets: u64,
    pub seeks: u64,
    pub max_offset_s: f64,
}

/// What [`per_second`] measured (`vclip bench decode --per-second --json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct PerSecondBench {
    pub file: String,
    pub video: String,
    /// Seconds of video (frames sampled by the baseline).
    pub video_s: f64,
    pub packets: u64,
    pub keyframes: u64,
    pub mean_gop_s: f64,
    /// The codec's reduced-resolution decoding levels (0: none, as for H.264).
    pub codec_max_lowres: u8,
    pub runs: usize,
    pub baseline: &'static str,
    pub default: &'static str,
    pub rows: Vec<Row>,
}

struct Run {
    wall_s: f64,
    cpu_s: f64,
    frames: Vec<Vec<u8>>,
    report: Option<SampleReport>,
    lowres: u8,
}

fn run(file: &Path, cfg: &Config) -> anyhow::Result<Run> {
    let cpu0 = cpu_s();
    let start = Instant::now();
    let (frames, report, lowres) = match &cfg.opts {
        None => {
            let mut dec = ClipDecoder::open(file, DecodeOptions::default())?;
            let mut frames = Vec::new();
            for clip in dec.by_ref() {
                frames.push(clip?.sample_frame().to_vec());
            }
            (frames, None, 0)
        }
        Some(opts) => {
            let mut sampler = FrameSampler::open(file, opts.clone())?;
            let lowres = sampler.codec_max_lowres();
            let mut frames = Vec::new();
            for f in sampler.by_ref() {
                frames.push(f?.rgb);
            }
            (frames, Some(sampler.report().clone()), lowres)
        }
    };
    Ok(Run {
        wall_s: start.elapsed().as_secs_f64(),
        cpu_s: cpu_s() - cpu0,
        frames,
        report,
        lowres,
    })
}

/// Runs every configuration of the per-second sampler (and the clip decoder) `runs` times,
/// interleaved; `on_run(run, configuration)` hears of each (`run` counts from 1).
pub fn per_second(
    file: &Path,
    runs: usize,
    on_run: &mut dyn FnMut(usize, &str),
) -> anyhow::Result<PerSecondBench> {
    let runs = runs.max(1);
    let video_desc = describe(file)?;
    let configs = configs();
    // Runs interleaved (every configuration once, then again), so that a slow spell of a shared
    // machine does not fall on one configuration only; the median run is reported.
    let mut results: Vec<Vec<Run>> = configs.iter().map(|_| Vec::new()).collect();
    for r in 0..runs {
        for (i, cfg) in configs.iter().enumerate() {
            on_run(r + 1, cfg.name);
            let mut one = run(file, cfg)?;
            if r > 0 {
                // Frames are compared on the first run only.
                one.frames = Vec::new();
            }
            results[i].push(one);
        }
    }
    let base_idx = configs
        .iter()
        .position(|c| c.name == BASELINE)
        .expect("the baseline is a configuration");
    let base_frames = std::mem::take(&mut results[base_idx][0].frames);
    let seconds = base_frames.len() as f64;
    let base_report = results[base_idx][0].report.clone().unwrap_or_default();
    let lowres = results[base_idx][0].lowres;
    let median = |runs: &[Run]| -> (f64, f64) {
        let mut v: Vec<(f64, f64)> = runs.iter().map(|r| (r.wall_s, r.cpu_s)).collect();
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v[v.len() / 2]
    };
    let base_wall = median(&results[base_idx]).0;
    let mut rows = Vec::new();
    for (cfg, runs) in configs.iter().zip(&results) {
        let (wall_s, cpu_s) = median(runs);
        let frames = if cfg.name == BASELINE {
            &base_frames
        } else {
            &runs[0].frames
        };
        let exact = *frames == base_frames;
        let max_mean_abs_diff = frames
            .iter()
            .zip(&base_frames)
            .map(|(a, b)| mean_abs_diff(a, b))
            .fold(0.0, f64::max);
        let report = runs[0].report.clone().unwrap_or_default();
        rows.push(Row {
            name: cfg.name,
            options: cfg.opts.clone(),
            exact,
            max_mean_abs_diff,
            wall_s,
            cpu_s,
            video_s_per_s: seconds / wall_s,
            ratio_to_baseline: base_wall / wall_s,
            decoded_frames: if cfg.opts.is_some() {
                report.decode.decoded_frames
            } else {
                base_report.decode.decoded_frames
            },
            nonref_skippable: report.nonref_skippable,
            dropped_packets: report.dropped_packets,
            seeks: report.seeks,
            max_offset_s: report.max_offset_s,
        });
    }
    Ok(PerSecondBench {
        file: file.display().to_string(),
        video: video_desc,
        video_s: seconds,
        packets: base_report.packets,
        keyframes: base_report.keyframes,
        mean_gop_s: seconds / base_report.keyframes.max(1) as f64,
        codec_max_lowres: lowres,
        runs,
        baseline: BASELINE,
        default: DEFAULT,
        rows,
    })
}

fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 255.0;
    }
    let sum: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.len() as f64
}

/// CPU time of this process so far (user + system, all threads), in seconds.
#[cfg(unix)]
fn cpu_s() -> f64 {
    // SAFETY: getrusage fills the struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

#[cfg(not(unix))]
fn cpu_s() -> f64 {
    0.0
}
