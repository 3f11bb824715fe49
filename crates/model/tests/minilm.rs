//! all-MiniLM-L6-v2 parity: our encoder on the real weights (`.cache/all-minilm-l6-v2`, placed
//! by `scripts/fetch-test-assets.sh`; `VCLIP_TEST_MINILM` overrides the folder; with
//! `VCLIP_REQUIRE_TEST_ASSETS` set a missing folder fails instead of skipping) against HF
//! `transformers.BertModel` + mean pooling + L2 normalisation (`tools/make_minilm_fixture.py`).

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use vclip_model::minilm::init_random;
use vclip_model::{SentenceEncoder, Tokenizer};

use crate::common::fixtures;

#[test]
fn minilm_matches_transformers_on_the_real_weights() -> Result<()> {
    let Some(dir) = vclip_testkit::minilm() else {
        return Ok(());
    };
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("minilm/expected.json")).context("fixture")?,
    )?;
    let sentences: Vec<String> = serde_json::from_value(expected["sentences"].clone())?;
    let want: Vec<Vec<f32>> = serde_json::from_value(expected["embeddings"].clone())?;
    // The same WordPiece tokens as transformers' BertTokenizer ([CLS] and [SEP] included).
    let tokens: Vec<usize> = serde_json::from_value(expected["tokens"].clone())?;
    let tok = Tokenizer::from_vocab(&dir.join("vocab.txt"))?;
    for (text, n) in sentences.iter().zip(&tokens) {
        assert_eq!(tok.encode_up_to(text, 254)?.len() + 2, *n, "{text:?}");
    }
    let enc = SentenceEncoder::load(&dir, &Device::Cpu)?;
    assert!(!enc.is_random());
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
    // Timing: `cargo run --release -p vclip-model --example bench_sentences`.
    Ok(())
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = SentenceEncoder::load(dir.path(), &Device::Cpu).expect_err("no files");
    assert!(err.to_string().contains("config.json"), "{err}");
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?)
}

/// The random encoder for other crates' tests: loads like the real one, unit vectors that
/// differ between texts, deterministic in the seed, batching and order invisible.
#[test]
fn random_encoder_loads_and_embeds() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("sentences");
    init_random(&dir, 7)?;
    let enc = SentenceEncoder::load(&dir, &Device::Cpu)?;
    assert!(enc.is_random());
    assert_eq!(enc.dim(), 32);
    let config = std::fs::read_to_string(dir.join("config.json"))?;
    assert!(config.contains("\"random_weights\": true"), "{config}");

    // More than one batch (64), lengths mixed so sorting by length reorders them.
    let long = "the quick brown fox jumps over the lazy dog ".repeat(20);
    let mut texts: Vec<String> = (0..150)
        .map(|i| "whisk the eggs ".repeat(1 + i % 7) + &format!("line {i}"))
        .collect();
    texts[3] = String::new();
    texts[70] = long.clone();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let all = enc.embed(&refs)?;
    assert_eq!(all.dims(), &[150, 32]);
    let norms = all.sqr()?.sum(1)?.sqrt()?.to_vec1::<f32>()?;
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
    for i in [0, 3, 64, 70, 149] {
        let single = enc.embed(&[refs[i]])?;
        let diff = max_abs_diff(&all.narrow(0, i, 1)?, &single)?;
        assert!(diff < 1e-5, "text {i}: batch and single differ by {diff}");
    }
    let v = all.to_vec2::<f32>()?;
    assert_ne!(v[0], v[1], "different texts, same vector");
    // Truncated at 256 tokens: what follows does not count.
    let longer = format!("{long} and then some more words");
    let a = enc
        .embed(&[long.as_str(), longer.as_str()])?
        .to_vec2::<f32>()?;
    assert_eq!(a[0], a[1]);
    assert_eq!(enc.embed(&[])?.dims(), &[0, 32]);

    // Same seed, same weights; another seed, others.
    let again = tmp.path().join("again");
    init_random(&again, 7)?;
    assert_eq!(SentenceEncoder::load(&again, &Device::Cpu)?.id(), enc.id());
    let other = tmp.path().join("other");
    init_random(&other, 8)?;
    assert_ne!(SentenceEncoder::load(&other, &Device::Cpu)?.id(), enc.id());
    Ok(())
}

/// Every file of the directory, damaged or missing, gives an error naming it.
#[test]
fn damaged_files_are_named() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let fresh = |name: &str| -> Result<std::path::PathBuf> {
        let dir = tmp.path().join(name);
        init_random(&dir, 1)?;
        Ok(dir)
    };
    let load_err = |dir: &std::path::Path| -> String {
        match SentenceEncoder::load(dir, &Device::Cpu) {
            Ok(_) => "loaded".to_owned(),
            Err(e) => e.to_string(),
        }
    };

    let dir = fresh("weights")?;
    std::fs::write(dir.join("model.safetensors"), b"not safetensors")?;
    let msg = load_err(&dir);
    assert!(msg.contains("model.safetensors"), "{msg}");

    let dir = fresh("no-weights")?;
    std::fs::remove_file(dir.join("model.safetensors"))?;
    let msg = load_err(&dir);
    assert!(msg.contains("model.safetensors"), "{msg}");

    let dir = fresh("vocab")?;
    std::fs::remove_file(dir.join("vocab.txt"))?;
    let msg = load_err(&dir);
    assert!(msg.contains("vocab.txt"), "{msg}");

    let dir = fresh("short-vocab")?;
    std::fs::write(
        dir.join("vocab.txt"),
        vclip_model::model_dir::synthetic_vocab(300),
    )?;
    let msg = load_err(&dir);
    assert!(msg.contains("vocab.txt"), "{msg}");

    let dir = fresh("config")?;
    std::fs::write(dir.join("config.json"), "{ not json")?;
    let msg = load_err(&dir);
    assert!(msg.contains("config.json"), "{msg}");

    // A config the weights do not match: the tensor and the file are named.
    for (key, value, needle) in [
        ("hidden_size", "64", "model.safetensors"),
        ("hidden_act", "\"relu\"", "config.json"),
        ("position_embedding_type", "\"relative_key\"", "config.json"),
        ("num_attention_heads", "0", "config.json"),
        ("max_position_embeddings", "2", "config.json"),
    ] {
        let dir = fresh(&format!("config-{key}"))?;
        let path = dir.join("config.json");
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        config[key] = serde_json::from_str(value)?;
        std::fs::write(&path, config.to_string())?;
        let msg = load_err(&dir);
        assert!(msg.contains(needle), "{key}={value}: {msg}");
    }
    Ok(())
}
