//! all-MiniLM-L6-v2 parity: our encoder on the real weights (`.cache/all-minilm-l6-v2`, placed
//! by `scripts/fetch-test-assets.sh`; `VCLIP_TEST_MINILM` overrides the folder; with
//! `VCLIP_REQUIRE_TEST_ASSETS` set a missing folder fails instead of skipping) against HF
//! `transformers.BertModel` + mean pooling + L2 normalisation (`tools/make_minilm_fixture.py`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use vclip_model::SentenceEncoder;

use crate::common::fixtures;

fn minilm_dir() -> Option<PathBuf> {
    let path = match std::env::var_os("VCLIP_TEST_MINILM") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.cache/all-minilm-l6-v2"),
    };
    if path.join("model.safetensors").is_file() {
        Some(path)
    } else if std::env::var_os("VCLIP_REQUIRE_TEST_ASSETS").is_some() {
        panic!(
            "all-MiniLM-L6-v2 not found at {} (scripts/fetch-test-assets.sh)",
            path.display()
        );
    } else {
        eprintln!("skipping: all-MiniLM-L6-v2 not found at {}", path.display());
        None
    }
}

#[test]
fn minilm_matches_transformers_on_the_real_weights() -> Result<()> {
    let Some(dir) = minilm_dir() else {
        return Ok(());
    };
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("minilm/expected.json")).context("fixture")?,
    )?;
    let sentences: Vec<String> = serde_json::from_value(expected["sentences"].clone())?;
    let want: Vec<Vec<f32>> = serde_json::from_value(expected["embeddings"].clone())?;
    let enc = SentenceEncoder::load(&dir, &Device::Cpu)?;
    assert_eq!(enc.dim(), 384);
    assert!(enc.id().starts_with("minilm-"));
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    // All at once (padded batch) and one by one must both match.
    let batch = enc.embed(&texts)?.to_vec2::<f32>()?;
    let mut worst = 0f32;
    for (i, (got, want)) in batch.iter().zip(&want).enumerate() {
        let single = enc.embed(&[texts[i]])?.to_vec2::<f32>()?.remove(0);
        for ((a, b), c) in got.iter().zip(want).zip(&single) {
            worst = worst.max((a - b).abs()).max((c - b).abs());
        }
    }
    println!("all-MiniLM-L6-v2 vs transformers: max abs error {worst:.2e}");
    assert!(worst <= 1e-4, "max abs error {worst}");
    // Meaning, not words: the egg-beating question is closer to the whisking cue than to the
    // chain-tightening one.
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(dot(&batch[1], &batch[0]) > dot(&batch[1], &batch[3]) + 0.2);

    let lines: Vec<String> = (0..256)
        .map(|i| format!("line {i}: now we fold the dough and let it rest for a while"))
        .collect();
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let t = Instant::now();
    enc.embed(&lines)?;
    println!(
        "embedding {} subtitle lines: {:.1} lines/s on this CPU",
        lines.len(),
        lines.len() as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = SentenceEncoder::load(dir.path(), &Device::Cpu).expect_err("no files");
    assert!(err.to_string().contains("config.json"), "{err}");
}
