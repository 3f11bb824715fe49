//! `vclip bench decode`: our clip decoder against the ffmpeg CLI running the reference filters on
//! the same file, in the same run, plus peak resident memory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
#[cfg(feature = "media")]
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
#[cfg(feature = "media")]
use serde::Serialize;
#[cfg(feature = "media")]
use vclip_media::{ClipDecoder, DecodeOptions};

use vclip_model::Family;

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
    /// `videoclip` or `clip-vit-b32`: the random model made without `model`.
    pub family: String,
    /// `--family` was given (checked against `model`'s family).
    pub family_given: bool,
    /// Clips per S3D-G call or frames per image-tower call; `None`: the import's defaults.
    pub batch: Option<usize>,
    pub frames: usize,
    pub text_batch: usize,
    pub dtype: String,
    /// CLIP's image tower; `None`: import's default on this device.
    pub image_precision: Option<vclip_model::Precision>,
    pub runs: usize,
    pub gpu: bool,
    pub json: bool,
}

/// The model folder a benchmark runs: `model` (its family checked against `--family` when
/// that was given too), or a fresh random-weight model of `preset` and `family` written into
/// `tmp` (speed does not depend on the weights).
pub(super) fn bench_model_dir(
    model: Option<&Path>,
    family: &str,
    family_given: bool,
    preset: &str,
    tmp: &Path,
) -> anyhow::Result<PathBuf> {
    let family = super::parse_family(family)?;
    if let Some(d) = model {
        let of_dir = Family::of_dir(d)?;
        if family_given && of_dir != family {
            anyhow::bail!(
                "--family {family} but the model in {} is {of_dir}",
                d.display()
            );
        }
        return Ok(d.to_owned());
    }
    let preset: vclip_model::Preset = preset.parse()?;
    let d = tmp.join("model");
    match family {
        Family::VideoClip => drop(vclip_model::init_random(preset, 0, &d, None)?),
        Family::Clip => drop(vclip_model::init_random_clip(preset, 0, &d, None)?),
    }
    Ok(d)
}

/// The `--dtype` of the benchmarks.
pub(super) fn parse_dtype(s: &str) -> anyhow::Result<vclip_model::DType> {
    use vclip_model::DType;
    Ok(match s {
        "f32" => DType::F32,
        "f16" => DType::F16,
        "bf16" => DType::BF16,
        other => anyhow::bail!("--dtype {other}: expected f32, f16 or bf16"),
    })
}

/// Frames the q8 image tower's agreement with f32 is measured on.
const AGREEMENT_FRAMES: usize = 16;

/// Cosines between matching rows of two batches of L2-normalised embeddings: (min, mean).
fn cosines(a: &vclip_model::Tensor, b: &vclip_model::Tensor) -> anyhow::Result<(f32, f32)> {
    let cos = (a * b)?
        .sum(1)?
        .to_device(&vclip_model::Device::Cpu)?
        .to_vec1::<f32>()?;
    let min = cos.iter().copied().fold(f32::INFINITY, f32::min);
    Ok((min, cos.iter().sum::<f32>() / cos.len().max(1) as f32))
}

/// S3D-G clips/s (or CLIP image-tower frames/s) and text queries/s (`vclip bench encode`).
pub fn encode(a: EncodeBench) -> anyhow::Result<ExitCode> {
    use vclip_model::bench::{
        bench_clip_image, bench_clip_text, bench_s3d, bench_text, synthetic_frames, BenchRuns,
    };
    use vclip_model::{DType, Model, Q8Kernel};

    let dtype = parse_dtype(&a.dtype)?;
    let device = vclip_model::device(a.gpu)?;
    let tmp = tempfile::tempdir().context("temporary folder for the random model")?;
    let dir = bench_model_dir(
        a.model.as_deref(),
        &a.family,
        a.family_given,
        &a.preset,
        tmp.path(),
    )?;
    let mut model = Model::load_with_s3d_dtype(&dir, &device, dtype)
        .with_context(|| format!("loading the model in {}", dir.display()))?;
    let image_precision = vclip_model::Precision::image_or_default(a.image_precision, &device)?;
    // q8's agreement with f32: the same synthetic frames embedded before and after the
    // conversion (cosine of each frame's two embeddings: min, mean).
    let mut exact = None;
    let agreement = match &mut model {
        Model::Clip(m) if image_precision == vclip_model::Precision::Q8 => {
            let frames = synthetic_frames(AGREEMENT_FRAMES, m.image_size(), &device)?;
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
    };
    // CLIP q8 with this crate's kernel: the same tower through candle's kernel (frames/s, min
    // cosine to f32), measured in the same run.
    let mut kernel_baseline = None;
    let (backbone, text, check, unit) = match &model {
        Model::VideoClip(m) => {
            // VideoCLIP's clips are 224x224 (S3D-G is fully convolutional; its config has no
            // size).
            let size = 224;
            let s3d = bench_s3d(&m.s3d, a.batch.unwrap_or(4).max(1), a.frames, size, runs)?;
            let text = bench_text(&m.text, &m.tokenizer, &device, a.text_batch.max(1), runs)?;
            // Features of the first synthetic clip, so another implementation
            // (tools/gpu_bench.py) can check it computed the same thing on the same input.
            let check = m.encode_clips(&vclip_model::bench::synthetic_clips(
                1, a.frames, size, &device,
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
                let (min, _) = cosines(f32_embedding, &embedding)?;
                kernel_baseline = Some((candle.items_per_s, min));
            }
            let text = bench_clip_text(m, a.text_batch.max(1), runs)?;
            // The embedding of the first synthetic frame, for tools/clip_tower_bench.py.
            let check = m.embed_rgb(&synthetic_frames(1, m.image_size(), &device)?)?;
            (image, text, check, "frames")
        }
    };
    let check = check
        .to_dtype(DType::F32)?
        .to_device(&vclip_model::Device::Cpu)?
        .to_vec2::<f32>()?
        .remove(0);
    if a.json {
        let mut backbone_json = serde_json::json!({
            "what": backbone.what, "device": backbone.device,
            "dtype": format!("{:?}", backbone.dtype), "batch": backbone.batch,
            "runs": backbone.runs, "median_s": backbone.median_s,
        });
        backbone_json[format!("{unit}_per_s")] = backbone.items_per_s.into();
        if let Some(p) = model.image_precision() {
            backbone_json["precision"] = p.name().into();
        }
        if let Some((min, mean)) = agreement {
            backbone_json["q8_cosine_to_f32"] = serde_json::json!({
                "frames": AGREEMENT_FRAMES, "min": min, "mean": mean,
            });
        }
        if model.image_precision() == Some(vclip_model::Precision::Q8) {
            backbone_json["q8_kernel"] = match vclip_model::q8_kernel() {
                Q8Kernel::Vclip => "vclip",
                Q8Kernel::Candle => "candle",
            }
            .into();
        }
        if let Some((fps, cos)) = kernel_baseline {
            backbone_json["candle_q8_kernel"] = serde_json::json!({
                format!("{unit}_per_s"): fps,
                "ratio": backbone.items_per_s / fps,
                "min_cosine_to_f32": cos,
            });
        }
        let key = match model.family() {
            Family::VideoClip => "s3d",
            Family::Clip => "clip_image",
        };
        print_json(&serde_json::json!({
            "model": dir,
            "family": model.family().name(),
            "random_weights": model.is_random(),
            key: backbone_json,
            "check_features": check,
            "text": { "device": text.device, "batch": text.batch, "runs": text.runs,
                      "median_s": text.median_s, "queries_per_s": text.items_per_s },
        }))?;
    } else {
        println!(
            "{:<7} {}: {:.2} {unit}/s ({} {}, batch {}, median of {})",
            match model.family() {
                Family::VideoClip => "S3D-G",
                Family::Clip => "image",
            },
            backbone.what,
            backbone.items_per_s,
            backbone.device,
            model
                .image_precision()
                .map_or(format!("{:?}", backbone.dtype), |p| p.name().to_owned()),
            backbone.batch,
            backbone.runs
        );
        if let Some((min, mean)) = agreement {
            println!(
                "        q8 vs f32 on {AGREEMENT_FRAMES} synthetic frames: cosine min {min:.6}, \
                 mean {mean:.6}"
            );
        }
        if let Some((fps, cos)) = kernel_baseline {
            println!(
                "        candle's q8 kernel, same run: {fps:.2} {unit}/s (vclip's kernel {:.2}x); \
                 its cosine to f32 min {cos:.6}",
                backbone.items_per_s / fps
            );
        }
        println!(
            "text    {:.1} queries/s ({}, batch {}, median of {})",
            text.items_per_s, text.device, text.batch, text.runs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `vclip bench search`.
#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Vectors in the index.
    #[arg(long, default_value_t = 1_000_000)]
    pub n: usize,
    #[arg(long, default_value_t = 768)]
    pub dims: usize,
    /// Timed queries, each checked against exact search.
    #[arg(long, default_value_t = 100)]
    pub queries: usize,
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Search beams (`ef`) measured on the same index, comma-separated (e.g.
    /// `64,128,256`); the first is the one reported and used with the text tower. The
    /// index default when absent.
    #[arg(long, value_delimiter = ',')]
    pub ef: Vec<usize>,
    /// HNSW connectivity `M` of the index built (default: the index default).
    #[arg(long)]
    pub m: Option<usize>,
    /// HNSW `ef_construction` of the index built (default: the index default).
    #[arg(long)]
    pub ef_construction: Option<usize>,
    /// `random` (uniform on the sphere: the worst case) or `clustered` (a model of window
    /// embeddings: groups around centres, decaying spectrum, queries near data points).
    #[arg(long, default_value = "random")]
    pub data: String,
    /// Clustered: number of centres (0: one per 250 vectors).
    #[arg(long, default_value_t = 0)]
    pub centres: usize,
    /// Clustered: length of the noise around a centre.
    #[arg(long, default_value_t = 0.6)]
    pub spread: f32,
    /// Clustered: length of the noise around a data point that makes a query; several
    /// (comma-separated) measure the same index on each query set in turn.
    #[arg(long, value_delimiter = ',', default_value = "0.5")]
    pub query_noise: Vec<f32>,
    /// Clustered: spectrum exponent (variance of dimension i ~ (i+1)^-decay; 0: isotropic).
    #[arg(long, default_value_t = 1.0)]
    pub decay: f32,
    /// Threads building the index (0: all cores).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Queries timed for the exact-search baseline (brute force, one thread).
    #[arg(long, default_value_t = 20)]
    pub exact_queries: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also time a model's text tower per query (CPU), alone and followed by the search.
    #[arg(long, value_name = "DIR")]
    pub model: Option<std::path::PathBuf>,
    /// Without `--model`: time the text tower of a random-weight model of this preset
    /// (`full` or `tiny`) made in a temporary folder (speed does not depend on weights).
    #[arg(long)]
    pub preset: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// Words of the synthetic search queries (with a real bert-base vocabulary).
const QUERY_WORDS: [&str; 64] = [
    "how",
    "to",
    "cut",
    "an",
    "onion",
    "the",
    "dog",
    "jumps",
    "into",
    "lake",
    "adding",
    "salt",
    "boiling",
    "water",
    "before",
    "pasta",
    "someone",
    "plays",
    "guitar",
    "on",
    "a",
    "stage",
    "change",
    "bicycle",
    "tire",
    "kids",
    "opening",
    "presents",
    "christmas",
    "morning",
    "whisk",
    "eggs",
    "until",
    "fluffy",
    "sunset",
    "over",
    "sea",
    "man",
    "woman",
    "talking",
    "about",
    "city",
    "night",
    "car",
    "driving",
    "rain",
    "snow",
    "mountain",
    "cooking",
    "kitchen",
    "birthday",
    "cake",
    "beach",
    "football",
    "goal",
    "crowd",
    "cheering",
    "cat",
    "sleeping",
    "sofa",
    "red",
    "old",
    "train",
    "station",
];

/// `count` search queries of 3–12 words. With a real vocabulary they are English words; with
/// the synthetic vocabulary of a random model (which spells English words letter by letter,
/// 4-5x too many tokens) they are its whole-word tokens, a quarter of them with a suffix that
/// makes them two pieces, about as many tokens per word as English in bert-base WordPiece.
fn query_texts(
    tok: &vclip_model::Tokenizer,
    count: usize,
    seed: u64,
) -> anyhow::Result<Vec<String>> {
    let synthetic = tok.encode("kitchen")?.len() > 2;
    let mut state = seed ^ 0x7e57_7e57;
    let mut next = move |m: usize| {
        // SplitMix64: deterministic, no extra dependency.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % m as u64) as usize
    };
    // The synthetic vocabulary's whole words are `tok0`..`tokN` (after 256 specials/letters).
    let whole_words = tok.vocab_size().saturating_sub(300).max(1);
    Ok((0..count)
        .map(|_| {
            let words = 3 + next(10);
            (0..words)
                .map(|_| {
                    if synthetic {
                        let mut w = format!("tok{}", next(whole_words));
                        if next(4) == 0 {
                            w.push((b'a' + next(26) as u8) as char);
                        }
                        w
                    } else {
                        QUERY_WORDS[next(QUERY_WORDS.len())].to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect())
}

fn data_kind(a: &SearchArgs) -> anyhow::Result<vclip_index::vectors::SyntheticData> {
    use vclip_index::vectors::{ClusterSpec, SyntheticData};
    Ok(match a.data.as_str() {
        "random" => SyntheticData::Random,
        "clustered" => SyntheticData::Clustered(ClusterSpec {
            centres: a.centres,
            spread: a.spread,
            query_noise: a.query_noise.first().copied().unwrap_or(0.5),
            decay: a.decay,
        }),
        other => anyhow::bail!("--data {other}: expected random or clustered"),
    })
}

/// One set of queries measured at every beam.
struct QuerySet {
    query_noise: Option<f32>,
    cos_first: f64,
    cos_kth: f64,
    cos_random: f64,
    rows: Vec<vclip_index::vectors::EfResult>,
}

fn measure_set(
    run: &vclip_index::vectors::SearchBenchRun,
    efs: &[usize],
) -> anyhow::Result<QuerySet> {
    use vclip_index::vectors::SyntheticData;
    let mut rows = Vec::new();
    for &ef in efs {
        let r = run.measure(ef)?;
        eprintln!(
            "ef {:>5}: recall@{} {:.4}, p50 {:.3} ms, p99 {:.3} ms",
            r.ef,
            run.k(),
            r.recall_at_k,
            r.p50_ms,
            r.p99_ms
        );
        rows.push(r);
    }
    Ok(QuerySet {
        query_noise: match run.data() {
            SyntheticData::Random => None,
            SyntheticData::Clustered(c) => Some(c.query_noise),
        },
        cos_first: run.mean_cos_first,
        cos_kth: run.mean_cos_kth,
        cos_random: run.mean_cos_random,
        rows,
    })
}

/// Per-query latency of the text tower, of the search after it, and of both.
struct TextTiming {
    precision: vclip_model::TextPrecision,
    text: vclip_index::vectors::Stats,
    hnsw: vclip_index::vectors::Stats,
    total: vclip_index::vectors::Stats,
    mean_tokens: f64,
    recall: f64,
    embedding_dims: usize,
    example: String,
    random_weights: bool,
}

/// Times `texts` one by one through the text tower, each followed by the search, and returns
/// the embeddings too.
fn time_text(
    model: &vclip_model::VClipModel,
    texts: &[String],
    run: &vclip_index::vectors::SearchBenchRun,
) -> anyhow::Result<(TextTiming, Vec<Vec<f32>>)> {
    use vclip_index::vectors::Stats;
    let tokens: usize = texts
        .iter()
        .map(|t| model.tokenizer.encode(t).map(|ids| ids.len() + 2))
        .sum::<Result<usize, _>>()?;
    let embed = |t: &str| -> anyhow::Result<Vec<f32>> {
        let e = model.embed_texts(&[t])?;
        Ok(e.to_vec2::<f32>()?.into_iter().next().unwrap_or_default())
    };
    for t in texts.iter().take(3) {
        std::hint::black_box(embed(&format!("{t} warm up"))?);
    }
    let (mut t_text, mut t_hnsw, mut t_total) = (Vec::new(), Vec::new(), Vec::new());
    let mut recall = 0.0;
    let mut vecs = Vec::with_capacity(texts.len());
    for (i, t) in texts.iter().enumerate() {
        let t0 = Instant::now();
        let v = embed(t)?;
        let t1 = Instant::now();
        let hits = run.index().search(run.query(i), run.k())?;
        let t2 = Instant::now();
        vecs.push(std::hint::black_box(v));
        recall += run.recall_of(i, &hits);
        t_text.push((t1 - t0).as_secs_f64() * 1e3);
        t_hnsw.push((t2 - t1).as_secs_f64() * 1e3);
        t_total.push((t2 - t0).as_secs_f64() * 1e3);
    }
    let n = texts.len().max(1) as f64;
    let timing = TextTiming {
        precision: model.text.precision(),
        text: Stats::of(t_text),
        hnsw: Stats::of(t_hnsw),
        total: Stats::of(t_total),
        mean_tokens: tokens as f64 / n,
        recall: recall / n,
        embedding_dims: vecs.first().map_or(0, Vec::len),
        example: texts.first().cloned().unwrap_or_default(),
        random_weights: model.is_random(),
    };
    Ok((timing, vecs))
}

/// How closely the q8 text tower follows the f32 one on the same queries: the cosine of the
/// two embeddings, and how much of each query's top k among the *other* queries' f32
/// embeddings stays the same (a ranking the 8-bit weights could reorder).
struct Agreement {
    cos_mean: f64,
    cos_min: f64,
    topk_overlap: f64,
    k: usize,
}

impl Agreement {
    fn of(exact: &[Vec<f32>], q8: &[Vec<f32>], k: usize) -> Self {
        let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
        let cos = |a: &[f32], b: &[f32]| {
            f64::from(dot(a, b)) / (f64::from(dot(a, a)).sqrt() * f64::from(dot(b, b)).sqrt())
        };
        let top = |q: &[f32], skip: usize| -> Vec<usize> {
            let mut s: Vec<(usize, f32)> = exact
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != skip)
                .map(|(j, e)| (j, dot(q, e)))
                .collect();
            s.sort_by(|x, y| y.1.total_cmp(&x.1));
            s.into_iter().take(k).map(|(j, _)| j).collect()
        };
        let (mut cos_sum, mut cos_min, mut overlap) = (0.0, f64::INFINITY, 0.0);
        for (i, (e, q)) in exact.iter().zip(q8).enumerate() {
            let c = cos(e, q);
            cos_sum += c;
            cos_min = cos_min.min(c);
            let (te, tq) = (top(e, i), top(q, i));
            let same = tq.iter().filter(|j| te.contains(j)).count();
            overlap += same as f64 / te.len().max(1) as f64;
        }
        let n = exact.len().max(1) as f64;
        Self {
            cos_mean: cos_sum / n,
            cos_min,
            topk_overlap: overlap / n,
            k,
        }
    }
}

/// `vclip bench search`: HNSW vs. exact search on synthetic vectors, optionally after the text
/// tower of a model.
pub fn search(a: SearchArgs) -> anyhow::Result<ExitCode> {
    use vclip_index::vectors::{
        distance_kernels, HnswParams, SearchBenchOptions, SearchBenchRun, Stats, SyntheticData,
    };

    let defaults = HnswParams::default();
    let params = HnswParams {
        connectivity: a.m.unwrap_or(defaults.connectivity),
        expansion_add: a.ef_construction.unwrap_or(defaults.expansion_add),
        expansion_search: defaults.expansion_search,
    };
    let mut efs: Vec<usize> = Vec::new();
    for &ef in &a.ef {
        anyhow::ensure!(ef > 0, "--ef values must be at least 1");
        if !efs.contains(&ef) {
            efs.push(ef);
        }
    }
    if efs.is_empty() {
        efs.push(params.expansion_search);
    }
    let data = data_kind(&a)?;
    anyhow::ensure!(
        a.query_noise.len() <= 1 || matches!(data, SyntheticData::Clustered(_)),
        "several --query-noise values need --data clustered"
    );
    let opts = SearchBenchOptions {
        n: a.n,
        dims: a.dims,
        queries: a.queries,
        k: a.k,
        expansion_search: Some(efs[0]),
        seed: a.seed,
        params,
        ef_sweep: efs[1..].to_vec(),
        data,
        threads: a.threads,
        exact_queries: a.exact_queries,
    };

    // The model first: a bad --model fails before a long build.
    let tmp;
    let model_dir = match (&a.model, &a.preset) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(p)) => {
            let preset: vclip_model::Preset = p.parse()?;
            tmp = tempfile::tempdir().context("temporary folder for the random model")?;
            eprintln!("writing a random-weight {p} model…");
            vclip_model::init_random(preset, 0, tmp.path(), None)?;
            Some(tmp.path().to_path_buf())
        }
        (None, None) => None,
    };
    let mut model = match &model_dir {
        Some(d) => Some(vclip_model::VClipModel::load(d, &vclip_model::Device::Cpu)?),
        None => None,
    };

    eprintln!(
        "building an HNSW index of {} {} {}-d vectors (distance kernels: {})…",
        a.n,
        data.name(),
        a.dims,
        distance_kernels()
    );
    let mut run = SearchBenchRun::prepare(&opts, &|m| eprintln!("{m}"))?;
    let mut sets = vec![measure_set(&run, &efs)?];
    let exact = run.exact_latency(a.exact_queries)?;

    // Text tower, then the search, per query, as `vclip search` does (the engine also copies
    // the embedding to a Vec). The search uses the benchmark's query vector (a random model's
    // embedding is not in the synthetic data's space), at the first beam. Timed with the f32
    // weights, then again after converting the dense layers to q8 (what search uses on a CPU).
    let mut text: Vec<TextTiming> = Vec::new();
    let mut agreement = None;
    if let Some(model) = model.as_mut() {
        let texts = query_texts(&model.tokenizer, run.queries(), a.seed)?;
        run.index().set_expansion_search(efs[0]);
        let (f32_timing, exact_vecs) = time_text(model, &texts, &run)?;
        text.push(f32_timing);
        model.text.set_precision(vclip_model::TextPrecision::Q8)?;
        let (q8_timing, q8_vecs) = time_text(model, &texts, &run)?;
        text.push(q8_timing);
        agreement = Some(Agreement::of(&exact_vecs, &q8_vecs, run.k()));
    }

    // The same index on queries at other distances from the data.
    for &noise in a.query_noise.iter().skip(1) {
        run.requery(noise)?;
        eprintln!("queries with noise {noise}:");
        sets.push(measure_set(&run, &efs)?);
    }

    let first = sets[0].rows[0];
    let set_json = |q: &QuerySet| {
        serde_json::json!({
            "query_noise": q.query_noise,
            "cos_query_first": q.cos_first, "cos_query_kth": q.cos_kth,
            "cos_query_random": q.cos_random,
            "sweep": q.rows.iter().map(|r| serde_json::json!({
                "ef": r.ef, "recall_at_k": r.recall_at_k, "p50_ms": r.p50_ms,
                "p99_ms": r.p99_ms, "mean_ms": r.mean_ms,
            })).collect::<Vec<_>>(),
        })
    };
    let stat = |s: &Stats| serde_json::json!({"p50_ms": s.p50, "p99_ms": s.p99, "mean_ms": s.mean, "max_ms": s.max});
    let text_json = |t: &TextTiming| {
        serde_json::json!({
            "model": model_dir, "random_weights": t.random_weights, "device": "cpu",
            "precision": t.precision.name(),
            "mean_tokens": t.mean_tokens, "embedding_dims": t.embedding_dims,
            "example_query": t.example, "ef": first.ef,
            "text": stat(&t.text), "hnsw": stat(&t.hnsw), "total": stat(&t.total),
            "recall_at_k": t.recall,
        })
    };
    if a.json {
        let data_json = match data {
            SyntheticData::Random => serde_json::json!({"kind": "random"}),
            SyntheticData::Clustered(c) => serde_json::json!({
                "kind": "clustered",
                "centres": if c.centres == 0 { (a.n / 250).max(1) } else { c.centres },
                "spread": c.spread, "query_noise": a.query_noise, "decay": c.decay,
            }),
        };
        print_json(&serde_json::json!({
            "n": a.n, "dims": a.dims, "queries": a.queries, "k": run.k(),
            "data": data_json,
            "cos_query_first": sets[0].cos_first, "cos_query_kth": sets[0].cos_kth,
            "cos_query_random": sets[0].cos_random,
            "distance_kernels": distance_kernels(),
            "m": params.connectivity, "ef_construction": params.expansion_add,
            "ef": first.ef,
            "threads": run.threads, "generate_s": run.generate_s,
            "build_s": run.build_s, "build_vectors_per_s": a.n as f64 / run.build_s,
            "truth_s": run.truth_s,
            "recall_at_k": first.recall_at_k, "p50_ms": first.p50_ms, "p99_ms": first.p99_ms,
            "exact_p50_ms": exact.p50, "exact_p99_ms": exact.p99,
            "exact_queries": a.exact_queries.clamp(1, a.queries),
            "speedup_vs_exact": exact.p50 / first.p50_ms,
            "sweep": set_json(&sets[0])["sweep"],
            "query_sets": sets.iter().map(set_json).collect::<Vec<_>>(),
            "text_tower": text.first().map(&text_json),
            "text_tower_q8": text.get(1).map(&text_json),
            "q8_agreement": agreement.as_ref().map(|g| serde_json::json!({
                "cos_mean": g.cos_mean, "cos_min": g.cos_min,
                "k": g.k, "topk_overlap": g.topk_overlap,
            })),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }

    match data {
        SyntheticData::Random => println!(
            "data         {} random unit {}-d vectors; queries random unit vectors",
            a.n, a.dims
        ),
        SyntheticData::Clustered(c) => println!(
            "data         {} clustered {}-d vectors: {} centres, spread {}, decay {}",
            a.n,
            a.dims,
            if c.centres == 0 {
                (a.n / 250).max(1)
            } else {
                c.centres
            },
            c.spread,
            c.decay
        ),
    }
    println!(
        "index        M {}, ef_construction {}: built in {:.1} s on {} threads ({:.0} vectors/s; distance kernels: {})",
        params.connectivity,
        params.expansion_add,
        run.build_s,
        run.threads,
        a.n as f64 / run.build_s,
        distance_kernels()
    );
    for q in &sets {
        if let Some(noise) = q.query_noise {
            println!("queries      noise {noise}");
        }
        println!(
            "             cosine of a query with its 1st / {}th neighbour / a random vector: {:.3} / {:.3} / {:.3}",
            run.k(),
            q.cos_first,
            q.cos_kth,
            q.cos_random
        );
        println!(
            "             {:>6} {:>10} {:>9} {:>9} {:>9}",
            "ef",
            format!("recall@{}", run.k()),
            "p50 ms",
            "p99 ms",
            "mean ms"
        );
        for r in &q.rows {
            println!(
                "             {:>6} {:>10.4} {:>9.3} {:>9.3} {:>9.3}",
                r.ef, r.recall_at_k, r.p50_ms, r.p99_ms, r.mean_ms
            );
        }
    }
    println!(
        "recall@{}    {:.3} vs exact search at ef {}  (target >= 0.95)",
        run.k(),
        first.recall_at_k,
        first.ef
    );
    println!(
        "latency      p50 {:.2} ms, p99 {:.2} ms (exact p50 {:.1} ms, p99 {:.1} ms: {:.0}x)",
        first.p50_ms,
        first.p99_ms,
        exact.p50,
        exact.p99,
        exact.p50 / first.p50_ms
    );
    for t in &text {
        let dir = model_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        println!(
            "text tower   {}: p50 {:.2} ms, p99 {:.2} ms (CPU, {dir}{}; {:.1} tokens per query, e.g. {:?})",
            t.precision.name(),
            t.text.p50,
            t.text.p99,
            if t.random_weights { ", random weights" } else { "" },
            t.mean_tokens,
            t.example
        );
        println!(
            "  + HNSW     p50 {:.2} ms, p99 {:.2} ms (ef {}, recall@{} {:.3})",
            t.hnsw.p50,
            t.hnsw.p99,
            first.ef,
            run.k(),
            t.recall
        );
        println!(
            "  = query    p50 {:.2} ms, p99 {:.2} ms  (target: p50 < 50 ms)",
            t.total.p50, t.total.p99
        );
    }
    if let Some(g) = &agreement {
        println!(
            "q8 vs f32    cosine of the query embeddings mean {:.5}, min {:.5}; top-{} among the other queries unchanged {:.1}%",
            g.cos_mean,
            g.cos_min,
            g.k,
            g.topk_overlap * 100.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `vclip bench finetune`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct FinetuneBenchArgs {
    /// Model directory; without it a random-weight model of `--preset` is made in a temporary
    /// folder (speed does not depend on the weights).
    #[arg(long, value_name = "DIR")]
    pub model: Option<std::path::PathBuf>,
    #[arg(long, default_value = "full")]
    pub preset: String,
    /// Pairs per step (the paper: 512 = 32 videos x 16 pairs).
    #[arg(long, default_value_t = 32)]
    pub pairs: usize,
    /// Seconds of features per video clip (the sampler draws 3-32).
    #[arg(long, default_value_t = 16)]
    pub video_seconds: usize,
    /// Tokens per text (the sampler draws 8-64, cut to 61).
    #[arg(long, default_value_t = 32)]
    pub text_tokens: usize,
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    #[arg(long)]
    pub freeze_text: bool,
    /// Train on the GPU (a CUDA build).
    #[arg(long)]
    pub gpu: bool,
    #[arg(long)]
    pub json: bool,
}

/// Training steps/s and pairs/s of the fine-tuning step (`vclip bench finetune`).
pub fn finetune(a: FinetuneBenchArgs) -> anyhow::Result<ExitCode> {
    use vclip_engine::finetune::bench::{bench_train_step, TrainBenchOptions};
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
    let opts = TrainBenchOptions {
        pairs: a.pairs,
        video_seconds: a.video_seconds,
        text_tokens: a.text_tokens,
        warmup: a.warmup,
        steps: a.steps,
        freeze_text: a.freeze_text,
    };
    let r = bench_train_step(&dir, &opts, &device)?;
    if a.json {
        super::print_json(&r)?;
    } else {
        println!(
            "fine-tune step on {}: {} pairs ({} s of video, {} tokens), {} trained parameters",
            r.device, r.pairs, r.video_seconds, r.text_tokens, r.trained_parameters
        );
        println!(
            "median {:.3} s/step: {:.3} steps/s, {:.1} pairs/s (mean {:.3} s over {} steps; \
             loss {:.4} -> {:.4})",
            r.median_step_s,
            r.steps_per_s,
            r.pairs_per_s,
            r.mean_step_s,
            r.steps,
            r.first_loss,
            r.last_loss
        );
    }
    Ok(ExitCode::SUCCESS)
}
