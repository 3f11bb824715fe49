//! Model directories: importing the PyTorch files, random init, loading and running.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use vclip_model::pth::PthFormat;
use vclip_model::{import_released, init_random, ModelConfig, Preset, VClipModel, VideoMode};

use crate::common::{check, fixtures, get, load};
use crate::pth_formats::raw_bytes;

fn read_dir_tensors(path: &std::path::Path) -> Result<BTreeMap<String, Tensor>> {
    Ok(candle_core::safetensors::load(path, &Device::Cpu)?
        .into_iter()
        .collect())
}

pub fn assert_files_equal(got: &std::path::Path, want: &std::path::Path) -> Result<()> {
    let got = read_dir_tensors(got)?;
    let want = read_dir_tensors(want)?;
    anyhow::ensure!(got.keys().eq(want.keys()), "tensor names differ");
    for (name, w) in &want {
        let g = got.get(name).context("missing")?;
        anyhow::ensure!(g.dtype() == DType::F32, "{name} not f32");
        anyhow::ensure!(raw_bytes(g)? == raw_bytes(w)?, "{name} differs");
    }
    Ok(())
}

#[test]
fn import_writes_the_fixture_weights_bit_for_bit() -> Result<()> {
    let tiny = ModelConfig::load(&fixtures().join("tiny/config.json"))?;
    for s3d_file in ["pth/s3d_legacy.pth", "pth/s3d_zip.pth"] {
        let dir = tempfile::tempdir()?;
        let out = dir.path().join("model");
        let summary = import_released(
            &fixtures().join("pth/checkpoint_videoclip.pt"),
            &fixtures().join(s3d_file),
            &fixtures().join("tiny/vocab.txt"),
            &out,
            Some(tiny.clone()),
        )?;
        assert_eq!(summary.videoclip_format, PthFormat::Zip);
        let ignored = summary.ignored.join(" ");
        for name in [
            "text_module.fc1.weight",
            "num_batches_tracked",
            "position_ids",
            "pooler",
        ] {
            assert!(ignored.contains(name), "{name} not reported as ignored");
        }
        assert_files_equal(
            &out.join("s3d.safetensors"),
            &fixtures().join("tiny/s3d.safetensors"),
        )?;
        assert_files_equal(
            &out.join("videoclip.safetensors"),
            &fixtures().join("tiny/videoclip.safetensors"),
        )?;
        let model = VClipModel::load(&out, &Device::Cpu)?;
        assert!(!model.is_random());
        // The imported model reproduces the reference features.
        let io = load("s3d_io.safetensors")?;
        let feats = model.encode_clips(&get(&io, "t30.input")?)?;
        check("imported t30 features", &feats, &get(&io, "t30.features")?)?;
    }
    Ok(())
}

#[test]
fn import_checks_shapes_against_the_config() -> Result<()> {
    let dir = tempfile::tempdir()?;
    // Tiny files against the full-size config: a clear error naming the file.
    let err = import_released(
        &fixtures().join("pth/checkpoint_videoclip.pt"),
        &fixtures().join("pth/s3d_legacy.pth"),
        &fixtures().join("tiny/vocab.txt"),
        &dir.path().join("model"),
        None,
    )
    .err()
    .context("accepted tiny weights as the full model")?;
    let msg = err.to_string();
    assert!(
        msg.contains("s3d_legacy.pth") && msg.contains("shape"),
        "{msg}"
    );
    assert!(!dir.path().join("model/config.json").exists());
    Ok(())
}

#[test]
fn init_random_is_deterministic_marked_and_runs() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    init_random(Preset::Tiny, 7, &a, None)?;
    init_random(Preset::Tiny, 7, &b, None)?;
    init_random(Preset::Tiny, 8, &c, None)?;
    for f in [
        "s3d.safetensors",
        "videoclip.safetensors",
        "vocab.txt",
        "config.json",
    ] {
        assert_eq!(std::fs::read(a.join(f))?, std::fs::read(b.join(f))?, "{f}");
    }
    assert_ne!(
        std::fs::read(a.join("s3d.safetensors"))?,
        std::fs::read(c.join("s3d.safetensors"))?
    );
    let model = VClipModel::load(&a, &Device::Cpu)?;
    assert!(model.is_random());
    let n = 2 * 3 * 30 * 32 * 32;
    let bytes: Vec<u8> = (0..n as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let frames = Tensor::from_vec(bytes, (2, 3, 30, 32, 32), &Device::Cpu)?;
    let feats = model.encode_clips(&frames)?;
    let norms = feats.sqr()?.sum(1)?.to_vec1::<f32>()?;
    assert!(norms.iter().all(|x| (x - 1.0).abs() < 1e-5), "{norms:?}");
    let window = feats.unsqueeze(0)?; // one video of 2 seconds
    let mask = Tensor::ones((1, 2), DType::U8, &Device::Cpu)?;
    let video = model.embed_video(&window, &mask, VideoMode::Retrieval)?;
    let tokens = model.embed_video(&window, &mask, VideoMode::DummyCaption)?;
    assert_eq!(tokens.hidden.dims(), &[1, 4, 32]);
    let text = model.embed_texts(&["how to cut an onion", "boil water"])?;
    let scores = model.scores(&text, &video.pooled)?;
    assert_eq!(scores.dims(), &[2, 1]);
    assert!(scores
        .to_vec2::<f32>()?
        .iter()
        .flatten()
        .all(|x| x.is_finite()));
    Ok(())
}

#[test]
fn windows_and_clip_layout() -> Result<()> {
    use vclip_model::model_dir::window_spans;
    assert_eq!(window_spans(40, 32, 16), vec![(0, 32), (16, 40)]);
    assert_eq!(window_spans(10, 32, 16), vec![(0, 10)]);
    assert_eq!(window_spans(32, 32, 16), vec![(0, 32)]);
    assert_eq!(window_spans(50, 32, 16), vec![(0, 32), (16, 48), (32, 50)]);

    // (B, T, H, W, C) bytes as the media layer decodes them -> (B, C, T, H, W).
    let data: Vec<u8> = (0..2 * 2 * 2 * 2 * 3).map(|i| i as u8).collect();
    let t = vclip_model::clips_from_thwc(data, 2, 2, 2, 2, &Device::Cpu)?;
    assert_eq!(t.dims(), &[2, 3, 2, 2, 2]);
    // clip 1, frame 1, row 0, col 1 is pixel ((1*2 + 1)*2 + 0)*2 + 1 = 13; channel 2.
    let v = t
        .get(1)?
        .get(2)?
        .get(1)?
        .get(0)?
        .get(1)?
        .to_scalar::<u8>()?;
    assert_eq!(v, (13 * 3 + 2) as u8);

    let dir = tempfile::tempdir()?;
    init_random(Preset::Tiny, 3, dir.path(), None)?;
    let model = VClipModel::load(dir.path(), &Device::Cpu)?;
    let feats = Tensor::randn(0f32, 1., (40, 32), &Device::Cpu)?;
    let (spans, pooled) = model.embed_windows(&feats, 32, 16)?;
    assert_eq!(spans, vec![(0, 32), (16, 40)]);
    assert_eq!(pooled.dims(), &[2, 32]);
    // The second window equals running the tower on its 24 seconds alone.
    let alone = model.embed_video(
        &feats.narrow(0, 16, 24)?.unsqueeze(0)?,
        &Tensor::ones((1, 24), DType::U8, &Device::Cpu)?,
        VideoMode::Retrieval,
    )?;
    check("window vs alone", &pooled.narrow(0, 1, 1)?, &alone.pooled)?;
    Ok(())
}

#[test]
fn token_states_average_overlapping_windows() -> Result<()> {
    let dir = tempfile::tempdir()?;
    init_random(Preset::Tiny, 5, dir.path(), None)?;
    let model = VClipModel::load(dir.path(), &Device::Cpu)?;
    let feats = Tensor::randn(0f32, 1., (40, 32), &Device::Cpu)?;
    let ws = model.window_states(&feats, 32, 16)?;
    assert_eq!(ws.spans, vec![(0, 32), (16, 40)]);
    assert_eq!((ws.pooled.len(), ws.dim, ws.tokens.len()), (2, 32, 40 * 32));
    let one = |start: usize, len: usize| -> Result<Vec<Vec<f32>>> {
        let out = model.embed_video(
            &feats.narrow(0, start, len)?.unsqueeze(0)?,
            &Tensor::ones((1, len), DType::U8, &Device::Cpu)?,
            VideoMode::DummyCaption,
        )?;
        Ok(out.hidden.squeeze(0)?.narrow(0, 1, len)?.to_vec2::<f32>()?)
    };
    let (a, b) = (one(0, 32)?, one(16, 24)?);
    let row = |s: usize| &ws.tokens[s * 32..(s + 1) * 32];
    let close = |x: &[f32], y: &[f32]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
    // Second 3: only the first window. Second 20: both, averaged. Second 35: only the second.
    assert!(close(row(3), &a[3]));
    let mean: Vec<f32> = a[20]
        .iter()
        .zip(&b[4])
        .map(|(p, q)| (p + q) / 2.0)
        .collect();
    assert!(close(row(20), &mean));
    assert!(close(row(35), &b[19]));
    // Dummy-caption states differ from retrieval-mode ones ([CLS] is masked).
    assert!(!close(row(3), &ws.pooled[0]));
    Ok(())
}

#[test]
fn model_dirs_carry_weight_fingerprints() -> Result<()> {
    let (a, b, c) = (
        tempfile::tempdir()?,
        tempfile::tempdir()?,
        tempfile::tempdir()?,
    );
    let ca = init_random(Preset::Tiny, 1, a.path(), None)?;
    init_random(Preset::Tiny, 1, b.path(), None)?;
    init_random(Preset::Tiny, 2, c.path(), None)?;
    let load = |d: &tempfile::TempDir| ModelConfig::load(&d.path().join("config.json"));
    let (la, lb, lc) = (load(&a)?, load(&b)?, load(&c)?);
    assert!(la
        .backbone_id
        .as_deref()
        .is_some_and(|s| s.starts_with("s3d-")));
    assert!(la
        .towers_id
        .as_deref()
        .is_some_and(|s| s.starts_with("vc-")));
    assert_eq!(
        (&la.backbone_id, &la.towers_id),
        (&lb.backbone_id, &lb.towers_id)
    );
    assert_ne!(la.backbone_id, lc.backbone_id);
    assert_ne!(la.towers_id, lc.towers_id);
    assert_eq!(ca, la);
    Ok(())
}

#[test]
fn q8_text_tower_stays_close_to_f32_and_is_one_way() -> Result<()> {
    use vclip_model::Precision;
    let dir = tempfile::tempdir()?;
    init_random(Preset::Tiny, 9, dir.path(), None)?;
    let mut model = VClipModel::load(dir.path(), &Device::Cpu)?;
    let texts = ["whisk the eggs", "a dog jumps into the lake at dawn", "x"];
    let exact = model.embed_texts(&texts)?.to_vec2::<f32>()?;
    assert_eq!(model.text.precision(), Precision::F32);
    model.text.set_precision(Precision::Q8)?;
    assert_eq!(model.text.precision(), Precision::Q8);
    let q8 = model.embed_texts(&texts)?.to_vec2::<f32>()?;
    for (e, q) in exact.iter().zip(&q8) {
        let dot: f32 = e.iter().zip(q).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cos = dot / (norm(e) * norm(q));
        // 8-bit weights move the embedding a little, never much; and they do move it (the
        // conversion happened).
        assert!(cos > 0.99, "cosine {cos}");
        assert!(e != q, "q8 gave the f32 answer bit for bit");
    }
    assert!(model.text.set_precision(Precision::F32).is_err());
    assert_eq!("q8".parse::<Precision>()?, Precision::Q8);
    assert!("q3".parse::<Precision>().is_err());
    Ok(())
}
