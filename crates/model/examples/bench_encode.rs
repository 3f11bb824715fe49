//! Encoding throughput of a model directory (or a fresh random full-size model):
//!
//! ```text
//! cargo run --release -p vclip-model --example bench_encode -- [BATCH] [MODEL_DIR]
//! ```
//!
//! Prints S3D-G clips/s at T=30, 224x224 and text queries/s on the CPU (or the GPU with
//! `--features cuda`). The CLI's `vclip bench encode` calls the same library functions.

use std::path::PathBuf;

use vclip_model::bench::{bench_s3d, bench_text, BenchRuns};
use vclip_model::{init_random, Preset, VClipModel};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let batch: usize = args.next().map(|b| b.parse()).transpose()?.unwrap_or(4);
    let tmp = tempfile::tempdir()?;
    let dir = match args.next() {
        Some(d) => PathBuf::from(d),
        None => {
            let d = tmp.path().join("random-full");
            eprintln!("writing a random full-size model to {}", d.display());
            init_random(Preset::Full, 1, &d, None)?;
            d
        }
    };
    let device = vclip_model::device(cfg!(feature = "cuda"))?;
    let model = VClipModel::load(&dir, &device)?;
    let runs = BenchRuns {
        warmup: 1,
        runs: 3,
        ..BenchRuns::default()
    };
    let s3d = bench_s3d(&model.s3d, batch, 30, 224, runs)?;
    let text = bench_text(&model.text, &model.tokenizer, &device, 64, runs)?;
    for r in [s3d, text] {
        println!(
            "{:<22} {:<7} {:?} batch {:>3}: {:>8.2} items/s ({:.3} s per call, median of {})",
            r.what, r.device, r.dtype, r.batch, r.items_per_s, r.median_s, r.runs
        );
    }
    Ok(())
}
