//! `vclip bench …`: the command line's face of the harnesses in `vclip-bench` (flags become
//! options; progress goes to stderr; the report is printed as text or JSON). `decode
//! --per-second` and `import` are in `bench_decode.rs` and `bench_import.rs`.

#[cfg(feature = "media")]
use std::path::Path;
use std::process::ExitCode;

use vclip_bench::search::{SearchBenchOptions, SearchPlan, Stats, SyntheticData};
use vclip_index::vectors::HnswParams;
use vclip_model::Family;

use super::print_json;

/// `vclip bench decode`: our clip decoder against the ffmpeg CLI running the reference filters on
/// the same file, in the same run, plus peak resident memory.
#[cfg(feature = "media")]
pub fn decode(file: &Path, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
    let result = vclip_bench::decode::decode(file, runs)?;
    let runs = result.runs;
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
    /// Time every stage of S3D-G too.
    pub profile: bool,
    /// Every CPU level in turn, f32 against q8 (`vclip_bench::encode::kernels`).
    pub kernels: bool,
    pub gpu: bool,
    pub json: bool,
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

/// S3D-G clips/s (or CLIP image-tower frames/s) and text queries/s (`vclip bench encode`).
pub fn encode(a: EncodeBench) -> anyhow::Result<ExitCode> {
    use vclip_bench::encode::{EncodeOptions, AGREEMENT_FRAMES};
    use vclip_model::Q8Kernel;

    let dtype = parse_dtype(&a.dtype)?;
    let device = vclip_model::device(a.gpu)?;
    let family = super::parse_family(&a.family)?;
    let image_precision = super::image_precision(a.image_precision, &device)?;
    let options = EncodeOptions {
        model: a.model,
        preset: a.preset,
        family,
        family_given: a.family_given,
        batch: a.batch,
        frames: a.frames,
        text_batch: a.text_batch,
        dtype,
        image_precision,
        device,
        runs: a.runs,
        profile: a.profile,
    };
    if a.kernels {
        return kernels(&options, a.json);
    }
    let r = vclip_bench::encode::encode(&options)?;
    let (backbone, text, unit) = (&r.backbone, &r.text, r.unit);
    if a.json {
        let mut backbone_json = serde_json::json!({
            "what": backbone.what, "device": backbone.device,
            "dtype": format!("{:?}", backbone.dtype), "batch": backbone.batch,
            "runs": backbone.runs, "median_s": backbone.median_s,
        });
        backbone_json[format!("{unit}_per_s")] = backbone.items_per_s.into();
        if let Some(p) = r.image_precision {
            backbone_json["precision"] = p.name().into();
        }
        if let Some(c) = r.agreement {
            backbone_json["q8_cosine_to_f32"] = serde_json::json!({
                "frames": AGREEMENT_FRAMES, "min": c.min, "mean": c.mean,
            });
        }
        if let Some(kernel) = r.q8_kernel {
            backbone_json["q8_kernel"] = match kernel {
                Q8Kernel::Vclip => "vclip",
                Q8Kernel::Candle => "candle",
            }
            .into();
        }
        if let Some(b) = r.candle_kernel {
            backbone_json["candle_q8_kernel"] = serde_json::json!({
                format!("{unit}_per_s"): b.items_per_s,
                "ratio": backbone.items_per_s / b.items_per_s,
                "min_cosine_to_f32": b.min_cosine_to_f32,
            });
        }
        let key = match r.family {
            Family::VideoClip => "s3d",
            Family::Clip => "clip_image",
        };
        print_json(&serde_json::json!({
            "model": r.model,
            "family": r.family.name(),
            "random_weights": r.random_weights,
            "cpu": cpu_json(),
            key: backbone_json,
            "check_features": r.check,
            "text": { "device": text.device, "batch": text.batch, "runs": text.runs,
                      "median_s": text.median_s, "queries_per_s": text.items_per_s },
        }))?;
    } else {
        println!(
            "{:<7} {}: {:.2} {unit}/s ({} {}, batch {}, median of {})",
            match r.family {
                Family::VideoClip => "S3D-G",
                Family::Clip => "image",
            },
            backbone.what,
            backbone.items_per_s,
            backbone.device,
            r.image_precision
                .map_or(format!("{:?}", backbone.dtype), |p| p.name().to_owned()),
            backbone.batch,
            backbone.runs
        );
        if let Some(c) = r.agreement {
            let (min, mean) = (c.min, c.mean);
            println!(
                "        q8 vs f32 on {AGREEMENT_FRAMES} synthetic frames: cosine min {min:.6}, \
                 mean {mean:.6}"
            );
        }
        if let Some(b) = r.candle_kernel {
            let (fps, cos) = (b.items_per_s, b.min_cosine_to_f32);
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
        let cpu = cpu_json();
        println!(
            "cpu     level {} (the CPU has {}), 8-bit kernel {}; CPU default precision {}",
            cpu["level"].as_str().unwrap_or("?"),
            cpu["detected"].as_str().unwrap_or("?"),
            cpu["q8_kernel"].as_str().unwrap_or("candle's"),
            cpu["why"].as_str().unwrap_or("?"),
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The CPU kernels in use and the CPU's default precision, with the reason.
fn cpu_json() -> serde_json::Value {
    serde_json::json!({
        "level": vclip_model::cpu_level(),
        "detected": vclip_model::detected_level(),
        "q8_kernel": vclip_model::q8_path(),
        "default_precision": vclip_model::Precision::cpu_default().name(),
        "why": vclip_model::Precision::cpu_default_reason(),
    })
}

/// `vclip bench encode --kernels`: the table of every CPU level.
fn kernels(options: &vclip_bench::encode::EncodeOptions, json: bool) -> anyhow::Result<ExitCode> {
    let r = vclip_bench::encode::kernels(options)?;
    if json {
        print_json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "CLIP image tower on the CPU, batch {}, median of {} (this CPU: {}{})",
        r.batch,
        r.runs,
        r.detected,
        if r.random_weights {
            ", random weights"
        } else {
            ""
        }
    );
    println!(
        "{:<12} {:<12} {:>10} {:>10} {:>8} {:>12}  default",
        "level", "q8 kernel", "f32 fr/s", "q8 fr/s", "q8/f32", "cos q8-f32"
    );
    for l in &r.levels {
        println!(
            "{:<12} {:<12} {:>10.2} {:>10.2} {:>7.2}x {:>12.6}  {}",
            l.level.name(),
            l.q8_kernel.map_or("candle", |k| k.name()),
            l.f32_frames_per_s,
            l.q8_frames_per_s,
            l.q8_speedup,
            l.q8_min_cosine_to_f32,
            l.default.name()
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

fn data_kind(a: &SearchArgs) -> anyhow::Result<SyntheticData> {
    use vclip_bench::search::ClusterSpec;
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

/// `vclip bench search`: HNSW vs. exact search on synthetic vectors, optionally after the text
/// tower of a model.
pub fn search(a: SearchArgs) -> anyhow::Result<ExitCode> {
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
    let plan = SearchPlan {
        opts: SearchBenchOptions {
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
        },
        more_query_noise: a.query_noise.iter().skip(1).copied().collect(),
        model: a.model.clone(),
        preset: a.preset.clone(),
    };
    let r = vclip_bench::search::run(&plan, &|m| eprintln!("{m}"))?;
    let (sets, exact, text, agreement) = (&r.sets, &r.exact, &r.text, &r.agreement);
    let model_dir = &r.model;
    let k = r.k;

    let first = r.first();
    let set_json = |q: &vclip_bench::search::QuerySet| {
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
    let text_json = |t: &vclip_bench::search::TextTiming| {
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
                "centres": c.centres_for(a.n),
                "spread": c.spread, "query_noise": a.query_noise, "decay": c.decay,
            }),
        };
        print_json(&serde_json::json!({
            "n": a.n, "dims": a.dims, "queries": a.queries, "k": k,
            "data": data_json,
            "cos_query_first": sets[0].cos_first, "cos_query_kth": sets[0].cos_kth,
            "cos_query_random": sets[0].cos_random,
            "distance_kernels": r.distance_kernels,
            "m": params.connectivity, "ef_construction": params.expansion_add,
            "ef": first.ef,
            "threads": r.threads, "generate_s": r.generate_s,
            "build_s": r.build_s, "build_vectors_per_s": a.n as f64 / r.build_s,
            "truth_s": r.truth_s,
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
            c.centres_for(a.n),
            c.spread,
            c.decay
        ),
    }
    println!(
        "index        M {}, ef_construction {}: built in {:.1} s on {} threads ({:.0} vectors/s; distance kernels: {})",
        params.connectivity,
        params.expansion_add,
        r.build_s,
        r.threads,
        a.n as f64 / r.build_s,
        r.distance_kernels
    );
    for q in sets {
        if let Some(noise) = q.query_noise {
            println!("queries      noise {noise}");
        }
        println!(
            "             cosine of a query with its 1st / {}th neighbour / a random vector: {:.3} / {:.3} / {:.3}",
            k,
            q.cos_first,
            q.cos_kth,
            q.cos_random
        );
        println!(
            "             {:>6} {:>10} {:>9} {:>9} {:>9}",
            "ef",
            format!("recall@{}", k),
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
        k, first.recall_at_k, first.ef
    );
    println!(
        "latency      p50 {:.2} ms, p99 {:.2} ms (exact p50 {:.1} ms, p99 {:.1} ms: {:.0}x)",
        first.p50_ms,
        first.p99_ms,
        exact.p50,
        exact.p99,
        exact.p50 / first.p50_ms
    );
    for t in text {
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
            t.hnsw.p50, t.hnsw.p99, first.ef, k, t.recall
        );
        println!(
            "  = query    p50 {:.2} ms, p99 {:.2} ms  (target: p50 < 50 ms)",
            t.total.p50, t.total.p99
        );
    }
    if let Some(g) = agreement {
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
    use vclip_bench::finetune::TrainBenchOptions;
    let device = vclip_model::device(a.gpu)?;
    let opts = TrainBenchOptions {
        pairs: a.pairs,
        video_seconds: a.video_seconds,
        text_tokens: a.text_tokens,
        warmup: a.warmup,
        steps: a.steps,
        freeze_text: a.freeze_text,
    };
    let r = vclip_bench::finetune::finetune(a.model.as_deref(), &a.preset, &opts, &device)?;
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
