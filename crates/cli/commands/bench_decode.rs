//! `vclip bench decode FILE --per-second`: the one-frame-per-second sampler (the CLIP family's
//! decoding, issue #7) with each speed option, as video-seconds per wall-second and as a ratio to
//! decoding every frame of the same file in the same run; also the S3D clip decoder for reference.
//! Each option's frames are compared with the baseline's (exact or not, and by how much).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use vclip_media::{
    ClipDecoder, DecodeOptions, FrameSampler, SampleOptions, SampleReport, Threading,
};

use super::print_json;

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

#[derive(Serialize)]
struct Row {
    name: &'static str,
    options: Option<SampleOptions>,
    /// Same frames as the baseline, byte for byte.
    exact: bool,
    /// Largest mean absolute difference of a frame from the baseline's, in 1/255.
    max_mean_abs_diff: f64,
    /// Median over the runs.
    wall_s: f64,
    /// Process CPU time (all threads) of the median run.
    cpu_s: f64,
    video_s_per_s: f64,
    ratio_to_baseline: f64,
    decoded_frames: u64,
    nonref_skippable: u64,
    dropped_packets: u64,
    seeks: u64,
    max_offset_s: f64,
}

#[derive(Serialize)]
struct PerSecondBench {
    file: String,
    video: String,
    /// Seconds of video (frames sampled by the baseline).
    video_s: f64,
    packets: u64,
    keyframes: u64,
    mean_gop_s: f64,
    /// The codec's reduced-resolution decoding levels (0: none, as for H.264).
    codec_max_lowres: u8,
    runs: usize,
    baseline: &'static str,
    default: &'static str,
    rows: Vec<Row>,
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

pub fn per_second(file: &Path, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
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
    let configs = configs();
    // Runs interleaved (every configuration once, then again), so that a slow spell of a shared
    // machine does not fall on one configuration only; the median run is reported.
    let mut results: Vec<Vec<Run>> = configs.iter().map(|_| Vec::new()).collect();
    for r in 0..runs {
        for (i, cfg) in configs.iter().enumerate() {
            if !json {
                eprintln!("run {}/{runs}: {}", r + 1, cfg.name);
            }
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
    let result = PerSecondBench {
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
    };
    if json {
        print_json(&result)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("file     {} ({})", result.file, result.video);
    println!(
        "video    {:.0} s, {} packets, {} keyframes (a GOP every {:.2} s); reduced-size decoding \
         (lowres) levels of this codec: {}",
        result.video_s,
        result.packets,
        result.keyframes,
        result.mean_gop_s,
        result.codec_max_lowres
    );
    println!(
        "one 224x224 frame per second; median of {runs} run(s); ratio = wall time of the baseline \
         / wall time"
    );
    println!(
        "{:<48} {:>9} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6} {:>6} {:>9}",
        "",
        "video-s/s",
        "ratio",
        "wall s",
        "cpu s",
        "decoded",
        "dropped",
        "seeks",
        "exact",
        "offset s"
    );
    for r in &result.rows {
        let exact = if r.exact {
            "yes".to_owned()
        } else {
            format!("{:.2}", r.max_mean_abs_diff)
        };
        println!(
            "{:<48} {:>9.1} {:>7.2} {:>7.2} {:>7.2} {:>8} {:>8} {:>6} {:>6} {:>9.3}",
            r.name,
            r.video_s_per_s,
            r.ratio_to_baseline,
            r.wall_s,
            r.cpu_s,
            r.decoded_frames,
            r.dropped_packets,
            r.seeks,
            exact,
            r.max_offset_s
        );
    }
    println!(
        "exact: frames identical to the baseline's, else the largest mean absolute difference of \
         a frame (1/255); offset: largest distance of a frame taken from its second's middle"
    );
    Ok(ExitCode::SUCCESS)
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
