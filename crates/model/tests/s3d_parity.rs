//! S3D-G against the PyTorch reference at the docs/model-notes.md §8.1 checkpoints, for T=30 (ceil
//! mode in `maxpool_4a`) and T=32, batch 2, non-square frames.

use std::path::Path;

use anyhow::Result;
use candle_core::{DType, Device};
use vclip_model::{ModelConfig, S3d};

use crate::common::{check, fixtures, get, load_from};

fn s3d_matches_reference(dev: &Device) -> Result<()> {
    check_s3d(&fixtures(), dev)
}
test_device!(s3d_matches_reference);

/// All S3D checkpoints of the fixture set under `root` (also used for the full-size check).
pub fn check_s3d(root: &Path, dev: &Device) -> Result<()> {
    let config = ModelConfig::load(&root.join("tiny/config.json"))?;
    let s3d = S3d::load(
        &root.join("tiny/s3d.safetensors"),
        &config.s3d,
        dev,
        DType::F32,
    )?;
    let io = load_from(root, "s3d_io.safetensors")?;
    for case in ["t30", "t32"] {
        let frames = get(&io, &format!("{case}.input"))?.to_device(dev)?;
        let x = (frames.to_dtype(DType::F32)? / 255.0)?;
        let (out, taps) = s3d.forward_taps(&x)?;
        let want_s2d = (get(&io, &format!("{case}.s2d"))?.to_dtype(DType::F32)? / 255.0)?;
        check(&format!("{case} s2d"), &taps.s2d, &want_s2d)?;
        for (name, got) in [
            ("conv1", &taps.conv1),
            ("mixed_3c", &taps.mixed_3c),
            ("mixed_4f", &taps.mixed_4f),
            ("mixed_5c", &out.mixed_5c),
            ("video_embedding", &out.video_embedding),
        ] {
            check(
                &format!("{case} {name}"),
                got,
                &get(&io, &format!("{case}.{name}"))?,
            )?;
        }
        let features = s3d.features(&frames)?;
        check(
            &format!("{case} features (L2)"),
            &features,
            &get(&io, &format!("{case}.features"))?,
        )?;
    }
    Ok(())
}

fn s3d_rejects_odd_sizes(dev: &Device) -> Result<()> {
    let config = ModelConfig::load(&fixtures().join("tiny/config.json"))?;
    let s3d = S3d::load(
        &fixtures().join("tiny/s3d.safetensors"),
        &config.s3d,
        dev,
        DType::F32,
    )?;
    let x = candle_core::Tensor::zeros((1, 3, 31, 32, 32), DType::F32, dev)?;
    assert!(s3d.forward(&x).is_err());
    Ok(())
}
test_device!(s3d_rejects_odd_sizes);

/// Reduced precision (GPU inference) stays near the f32 reference: f16 here (the CPU has no
/// bf16 matmul), bf16 as well on CUDA.
fn s3d_half_precision_is_close(dev: &Device) -> Result<()> {
    let config = ModelConfig::load(&fixtures().join("tiny/config.json"))?;
    let io = crate::common::load("s3d_io.safetensors")?;
    let frames = get(&io, "t32.input")?.to_device(dev)?;
    let want = get(&io, "t32.features")?;
    let mut dtypes = vec![DType::F16];
    if dev.is_cuda() {
        dtypes.push(DType::BF16);
    }
    for dtype in dtypes {
        let s3d = S3d::load(
            &fixtures().join("tiny/s3d.safetensors"),
            &config.s3d,
            dev,
            dtype,
        )?;
        let got = s3d.features(&frames)?;
        let err = crate::common::rel_err(&got, &want)?;
        eprintln!("parity t32 features {dtype:?}: max rel err {err:.3e}");
        anyhow::ensure!(err < 3e-2, "{dtype:?}: {err}");
    }
    Ok(())
}
test_device!(s3d_half_precision_is_close);
