//! The CLIP family (`src/clip/mod.rs`) against HF transformers 4.57 on a tiny random `CLIPModel`
//! (`tools/make_clip_fixtures.py`, fixtures in `fixtures/clip/`): import of HF's files,
//! preprocessing, image and text embeddings (max relative error <= 1e-4, f32), and the BPE
//! tokenizer's ids (the fixture's 1,024-token vocab always; CLIP's real 49,408-token vocab when
//! `.cache/clip-vit-b32/tokenizer.json` is there, as the fixture script leaves it, or
//! `VCLIP_TEST_CLIP_TOKENIZER` names one).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use vclip_model::clip::{CLIP_CONFIG_FILE, CLIP_TOKENIZER_FILE, CLIP_WEIGHTS_FILE};
use vclip_model::{import_clip, init_random_clip, ClipModel, ClipTokenizer, Error, Family, Preset};

use crate::common::{check, fixtures, get, load};

/// The texts of the fixture and the ids HF's `CLIPTokenizerFast` gives them (no padding).
struct Texts {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    full_ids: Vec<Vec<u32>>,
}

fn texts() -> Result<Texts> {
    let path = fixtures().join("clip/texts.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let strings = |key: &str| -> Result<Vec<String>> {
        Ok(serde_json::from_value(
            v.get(key).cloned().context(key.to_owned())?,
        )?)
    };
    let ids = |key: &str| -> Result<Vec<Vec<u32>>> {
        Ok(serde_json::from_value(
            v.get(key).cloned().context(key.to_owned())?,
        )?)
    };
    Ok(Texts {
        texts: strings("texts")?,
        ids: ids("ids")?,
        full_ids: ids("full_ids")?,
    })
}

fn hf_dir() -> PathBuf {
    fixtures().join("clip/hf")
}

/// The fixture imported into a fresh model directory.
fn imported() -> Result<tempfile::TempDir> {
    let dir = tempfile::tempdir()?;
    import_clip(&hf_dir(), dir.path())?;
    Ok(dir)
}

fn clip_parity(dev: &Device) -> Result<()> {
    let dir = imported()?;
    let model = ClipModel::load(dir.path(), dev)?;
    assert!(!model.is_random());
    assert_eq!((model.image_size(), model.embedding_dim()), (32, 16));
    let io = load("clip/io.safetensors")?;

    let frames = get(&io, "frames")?.to_device(dev)?;
    let pixels = model.preprocess(&frames)?;
    check("clip preprocess", &pixels, &get(&io, "pixel_values")?)?;
    let want_img = get(&io, "image_embeds")?;
    check(
        "clip image (HF pixels)",
        &model.embed_frames(&get(&io, "pixel_values")?.to_device(dev)?)?,
        &want_img,
    )?;
    check(
        "clip image (u8 frames)",
        &model.embed_rgb(&frames)?,
        &want_img,
    )?;

    // HF padded to 77; embed_texts pads to the longest text: the causal mask makes it equal.
    let t = texts()?;
    let refs: Vec<&str> = t.texts.iter().map(String::as_str).collect();
    let want_txt = get(&io, "text_embeds")?;
    check("clip text", &model.embed_texts(&refs)?, &want_txt)?;
    let ids = get(&io, "input_ids")?;
    let pool: Vec<usize> = t.ids.iter().map(|r| first_eot(r, 1023)).collect();
    check(
        "clip text (HF ids, 77)",
        &model.embed_token_ids(&ids, &pool)?,
        &want_txt,
    )?;
    // One text at a time gives the same vectors as the batch.
    let one = model.embed_texts(&refs[3..4])?;
    check("clip text (batch of one)", &one, &want_txt.narrow(0, 3, 1)?)?;
    Ok(())
}
test_device!(clip_parity);

fn first_eot(ids: &[u32], eot: u32) -> usize {
    ids.iter().position(|&i| i == eot).unwrap_or(ids.len() - 1)
}

#[test]
fn tiny_tokenizer_matches_hf_ids() -> Result<()> {
    let t = texts()?;
    let from_json = ClipTokenizer::from_file(&hf_dir().join(CLIP_TOKENIZER_FILE))?;
    let from_files = ClipTokenizer::from_vocab_merges(
        &hf_dir().join("vocab.json"),
        &hf_dir().join("merges.txt"),
    )?;
    for tok in [&from_json, &from_files] {
        assert_eq!(
            (tok.sot_id(), tok.eot_id(), tok.vocab_size()),
            (1022, 1023, 1024)
        );
        for (text, want) in t.texts.iter().zip(&t.ids) {
            assert_eq!(
                &tok.encode(text)?,
                want,
                "{text:?} ({})",
                tok.path().display()
            );
        }
    }
    // The long text is cut to 77 with <|endoftext|> kept last.
    let last = t.ids.last().context("no texts")?;
    assert_eq!((last.len(), last.last()), (77, Some(&1023)));

    // Padded to 77 as HF's `padding="max_length"`, with its attention mask.
    let io = load("clip/io.safetensors")?;
    let refs: Vec<&str> = t.texts.iter().map(String::as_str).collect();
    let (ids, mask, pool) = from_json.batch(&refs, true, &Device::Cpu)?;
    assert_eq!(
        ids.to_dtype(DType::I64)?.to_vec2::<i64>()?,
        get(&io, "input_ids")?.to_vec2::<i64>()?
    );
    assert_eq!(
        mask.to_dtype(DType::I64)?.to_vec2::<i64>()?,
        get(&io, "attention_mask")?.to_vec2::<i64>()?
    );
    // "an <|endoftext|> in the middle": pooled at the literal end token, as HF.
    assert_eq!(pool[9], 2);
    Ok(())
}

/// CLIP's real tokenizers to test: `tokenizer.json` (HF's, written by the fixture script) and
/// `vocab.json` + `merges.txt` (also written by `scripts/fetch-test-assets.sh`, from the
/// open_clip wheel), in `.cache/clip-vit-b32/` or the folder of `VCLIP_TEST_CLIP_TOKENIZER`.
fn full_tokenizers() -> Result<Vec<ClipTokenizer>> {
    let json = match std::env::var_os("VCLIP_TEST_CLIP_TOKENIZER") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../.cache/clip-vit-b32")
            .join(CLIP_TOKENIZER_FILE),
    };
    let folder = json.parent().unwrap_or(Path::new("."));
    let (vocab, merges) = (folder.join("vocab.json"), folder.join("merges.txt"));
    let mut toks = Vec::new();
    if json.is_file() {
        toks.push(ClipTokenizer::from_file(&json)?);
    }
    if vocab.is_file() && merges.is_file() {
        toks.push(ClipTokenizer::from_vocab_merges(&vocab, &merges)?);
    }
    if toks.is_empty() {
        eprintln!(
            "skipping: neither CLIP's tokenizer.json nor vocab.json + merges.txt in {} \
             (scripts/fetch-test-assets.sh writes the second; or set VCLIP_TEST_CLIP_TOKENIZER)",
            folder.display()
        );
    }
    Ok(toks)
}

#[test]
fn real_clip_tokenizer_matches_hf_ids() -> Result<()> {
    let toks = full_tokenizers()?;
    let t = texts()?;
    for tok in &toks {
        assert_eq!(
            (tok.sot_id(), tok.eot_id(), tok.vocab_size()),
            (49406, 49407, 49408)
        );
        assert_eq!(
            tok.encode("a photo of a cat")?,
            vec![49406, 320, 1125, 539, 320, 2368, 49407]
        );
        for (text, want) in t.texts.iter().zip(&t.full_ids) {
            assert_eq!(
                &tok.encode(text)?,
                want,
                "{text:?} ({})",
                tok.path().display()
            );
        }
    }
    Ok(())
}

#[test]
fn imported_directory_is_a_clip_directory() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let summary = import_clip(&hf_dir(), dir.path())?;
    assert_eq!(summary.config.family, Family::Clip);
    assert_eq!(summary.config.clip.projection_dim, 16);
    assert!(summary
        .config
        .model_id
        .as_deref()
        .is_some_and(|id| id.starts_with("clip-")));
    assert!(summary.tensors > 40);
    assert_eq!(Family::of_dir(dir.path())?, Family::Clip);
    assert_eq!(Family::of_dir(&fixtures().join("tiny"))?, Family::VideoClip);
    // A VideoCLIP directory is refused with a clear message.
    let err = ClipModel::load(&fixtures().join("tiny"), &Device::Cpu)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("not a CLIP model directory"), "{err}");
    Ok(())
}

/// A copy of the HF fixture whose weights went through `edit`, with only vocab.json +
/// merges.txt as tokenizer.
/// What importing `src` into `out` fails with (empty if it succeeds).
fn import_error(src: &tempfile::TempDir, out: &tempfile::TempDir) -> String {
    import_clip(src.path(), out.path())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn edited_hf(edit: impl FnOnce(&mut HashMap<String, Tensor>)) -> Result<tempfile::TempDir> {
    let src = hf_dir();
    let dir = tempfile::tempdir()?;
    for f in ["config.json", "vocab.json", "merges.txt"] {
        std::fs::copy(src.join(f), dir.path().join(f))?;
    }
    let mut tensors = candle_core::safetensors::load(src.join(CLIP_WEIGHTS_FILE), &Device::Cpu)?;
    edit(&mut tensors);
    candle_core::safetensors::save(&tensors, dir.path().join(CLIP_WEIGHTS_FILE))?;
    Ok(dir)
}

#[test]
fn import_checks_names_and_shapes() -> Result<()> {
    let out = tempfile::tempdir()?;
    // Older checkpoints carry `position_ids` buffers and half-precision weights: both import.
    let src = edited_hf(|t| {
        for v in t.values_mut() {
            if let Ok(h) = v.to_dtype(DType::F16) {
                *v = h;
            }
        }
        let ids = Tensor::arange(0i64, 77, &Device::Cpu).and_then(|x| x.unsqueeze(0));
        if let Ok(ids) = ids {
            t.insert("text_model.embeddings.position_ids".into(), ids);
        }
    })?;
    let summary = import_clip(src.path(), out.path())?;
    assert_eq!(summary.ignored, vec!["text_model.embeddings.position_ids"]);
    assert_eq!(summary.tokenizer_from.len(), 2); // vocab.json + merges.txt
    let model = ClipModel::load(out.path(), &Device::Cpu)?;
    let t = texts()?;
    assert_eq!(model.tokenizer().encode(&t.texts[4])?, t.ids[4]);

    let src = edited_hf(|t| {
        t.remove("vision_model.encoder.layers.1.mlp.fc2.weight");
    })?;
    match import_clip(src.path(), out.path()) {
        Err(Error::MissingTensor { path, name }) => {
            assert_eq!(name, "vision_model.encoder.layers.1.mlp.fc2.weight");
            assert!(path.ends_with(CLIP_WEIGHTS_FILE));
        }
        other => anyhow::bail!("expected a missing tensor, got {other:?}"),
    }
    let src = edited_hf(|t| {
        if let Ok(w) = Tensor::zeros((16, 31), DType::F32, &Device::Cpu) {
            t.insert("text_projection.weight".into(), w);
        }
    })?;
    let err = import_error(&src, &out);
    assert!(
        err.contains("text_projection.weight") && err.contains("model.safetensors"),
        "{err}"
    );
    // A config asking for an activation candle's CLIP lacks is refused, naming config.json.
    let src = edited_hf(|_| {})?;
    let cfg = src.path().join("config.json");
    let text = std::fs::read_to_string(&cfg)?.replace("quick_gelu", "gelu");
    std::fs::write(&cfg, text)?;
    let err = import_error(&src, &out);
    assert!(
        err.contains("config.json") && err.contains("quick_gelu"),
        "{err}"
    );
    Ok(())
}

#[test]
fn random_tiny_model_embeds_and_pools() -> Result<()> {
    let a = tempfile::tempdir()?;
    let b = tempfile::tempdir()?;
    let config = init_random_clip(Preset::Tiny, 7, a.path(), None)?;
    assert!(config.random_weights);
    let again = init_random_clip(Preset::Tiny, 7, b.path(), None)?;
    assert_eq!(config.model_id, again.model_id);
    let model = ClipModel::load(a.path(), &Device::Cpu)?;
    assert!(model.is_random());
    for f in [CLIP_CONFIG_FILE, CLIP_WEIGHTS_FILE, CLIP_TOKENIZER_FILE] {
        assert!(a.path().join(f).is_file(), "{f}");
    }

    // Five seconds of frames -> five unit vectors; two windows -> two unit vectors.
    let s = model.image_size();
    let bytes: Vec<u8> = (0..5 * s * s * 3).map(|i| (i * 37 % 251) as u8).collect();
    let frames = Tensor::from_vec(bytes, (5, s, s, 3), &Device::Cpu)?;
    let per_second = model.embed_rgb(&frames)?;
    assert_eq!(per_second.dims(), &[5, 16]);
    let windows = model.embed_windows(&per_second, &[(0, 3), (2, 5)])?;
    assert_eq!(windows.dims(), &[2, 16]);
    let norms = windows.sqr()?.sum(1)?.to_vec1::<f32>()?;
    assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
    let mean = per_second.narrow(0, 0, 3)?.mean(0)?;
    let norm = mean.sqr()?.sum_all()?.sqrt()?;
    let want = mean.broadcast_div(&norm)?.unsqueeze(0)?;
    check("clip window mean", &windows.narrow(0, 0, 1)?, &want)?;

    let texts = model.embed_texts(&["whisk the eggs", "", "a dog"])?;
    assert_eq!(texts.dims(), &[3, 16]);
    assert_eq!(model.embed_texts(&[])?.dims(), &[0, 16]);
    assert_eq!(model.scores(&texts, &windows)?.dims(), &[3, 2]);
    // Wrong frame sizes are an input error, not a panic.
    let wrong = Tensor::zeros((1, s + 1, s, 3), DType::U8, &Device::Cpu)?;
    assert!(matches!(model.embed_rgb(&wrong), Err(Error::Input(_))));
    Ok(())
}

/// CPU frames/s of the full-size ViT-B/32 image tower (random weights, f32), batches 8 and 16:
/// `cargo test -p vclip-model --test tests clip_parity::bench_full_clip_image -- --ignored
/// --nocapture` (writes a ~600 MB model to a temporary folder).
#[test]
#[ignore = "benchmark: writes and runs the full-size model"]
fn bench_full_clip_image() -> Result<()> {
    use vclip_model::bench::{bench_clip_image, BenchRuns};
    let dir = tempfile::tempdir()?;
    init_random_clip(Preset::Full, 1, dir.path(), None)?;
    let model = ClipModel::load(dir.path(), &Device::Cpu)?;
    for batch in [8, 16] {
        let r = bench_clip_image(&model, batch, BenchRuns::default())?;
        eprintln!(
            "{} {} batch {}: {:.1} frames/s ({:.0} ms per batch)",
            r.what,
            r.device,
            r.batch,
            r.items_per_s,
            1e3 * r.median_s
        );
    }
    Ok(())
}

/// The 8-bit image tower (import's default on the CPU) against f32 on the HF fixture's weights
/// and frames: every frame's two embeddings agree to cosine >= 0.999, the precision is
/// reported, and going back to f32 without a reload is refused.
#[test]
fn q8_image_tower_agrees_with_f32() -> Result<()> {
    use vclip_model::Precision;
    let dir = imported()?;
    let mut model = ClipModel::load(dir.path(), &Device::Cpu)?;
    assert_eq!(model.image_precision(), Precision::F32);
    let frames = get(&load("clip/io.safetensors")?, "frames")?;
    let exact = model.embed_rgb(&frames)?;
    model.set_image_precision(Precision::Q8)?;
    assert_eq!(model.image_precision(), Precision::Q8);
    let q8 = model.embed_rgb(&frames)?;
    let cos = (&exact * &q8)?.sum(1)?.to_vec1::<f32>()?;
    eprintln!("q8 vs f32 image embeddings, cosine per frame: {cos:?}");
    assert!(cos.iter().all(|&c| c >= 0.999), "{cos:?}");
    // It is a different computation, not the f32 one relabelled.
    let diff = (&exact - &q8)?
        .abs()?
        .flatten_all()?
        .max(0)?
        .to_scalar::<f32>()?;
    assert!(diff > 0.0);
    // The text tower is untouched.
    let t = texts()?;
    let refs: Vec<&str> = t.texts.iter().map(String::as_str).collect();
    check(
        "clip text (image tower q8)",
        &model.embed_texts(&refs)?,
        &get(&load("clip/io.safetensors")?, "text_embeds")?,
    )?;
    assert!(model.set_image_precision(Precision::F32).is_err());
    assert_eq!("q8".parse::<Precision>()?, Precision::Q8);
    Ok(())
}
