//! The PyTorch readers give bit-identical tensors to the safetensors that
//! `tools/make_fixtures.py` wrote next to each `torch.save` file.

use std::collections::BTreeMap;

use anyhow::{ensure, Context, Result};
use candle_core::{DType, Tensor};
use vclip_model::pth::{detect_format, read_state_dict, PthFormat};

use crate::common::{fixtures, load};

/// The tensor's bytes, little-endian, row-major.
pub fn raw_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let t = t.flatten_all()?;
    Ok(match t.dtype() {
        DType::F32 => t
            .to_vec1::<f32>()?
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
        DType::F16 => t
            .to_vec1::<half::f16>()?
            .iter()
            .flat_map(|x| x.to_bits().to_le_bytes())
            .collect(),
        DType::I64 => t
            .to_vec1::<i64>()?
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect(),
        DType::U8 => t.to_vec1::<u8>()?,
        other => anyhow::bail!("unexpected dtype {other:?}"),
    })
}

fn assert_same(pth: &str, key: Option<&str>, safetensors: &str) -> Result<usize> {
    let got = read_state_dict(&fixtures().join(pth), key)?;
    let want: BTreeMap<String, Tensor> = load(safetensors)?.into_iter().collect();
    let got: BTreeMap<String, Tensor> = got.into_iter().collect();
    ensure!(
        got.keys().eq(want.keys()),
        "{pth}: names differ: {:?} vs {:?}",
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (name, w) in &want {
        let g = got.get(name).context("missing")?;
        ensure!(
            g.dtype() == w.dtype(),
            "{pth}: {name}: dtype {:?} vs {:?}",
            g.dtype(),
            w.dtype()
        );
        ensure!(
            g.dims() == w.dims(),
            "{pth}: {name}: shape {:?} vs {:?}",
            g.dims(),
            w.dims()
        );
        ensure!(
            raw_bytes(g)? == raw_bytes(w)?,
            "{pth}: {name}: values differ"
        );
    }
    Ok(want.len())
}

#[test]
fn legacy_s3d_is_bit_identical() -> Result<()> {
    assert_eq!(
        detect_format(&fixtures().join("pth/s3d_legacy.pth"))?,
        PthFormat::Legacy
    );
    let n = assert_same("pth/s3d_legacy.pth", None, "pth/s3d_state.safetensors")?;
    // Every BatchNorm carries num_batches_tracked (I64 scalars), plus the MIL-NCE text branch.
    assert!(n > 400, "{n} tensors");
    Ok(())
}

#[test]
fn zip_s3d_is_bit_identical() -> Result<()> {
    assert_eq!(
        detect_format(&fixtures().join("pth/s3d_zip.pth"))?,
        PthFormat::Zip
    );
    assert_same("pth/s3d_zip.pth", None, "pth/s3d_state.safetensors")?;
    Ok(())
}

/// A fairseq-like checkpoint: fp16 state dict under `model` with the `mmmodel.` prefix, an
/// argparse.Namespace and an enum elsewhere in the pickle, and HF's stride-0 `position_ids`.
#[test]
fn zip_fairseq_checkpoint_is_bit_identical() -> Result<()> {
    let path = "pth/checkpoint_videoclip.pt";
    assert_eq!(detect_format(&fixtures().join(path))?, PthFormat::Zip);
    assert_same(path, Some("model"), "pth/videoclip_state.safetensors")?;
    Ok(())
}

#[test]
fn unreadable_files_are_errors_that_name_the_file() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let bad = dir.path().join("garbage.pth");
    std::fs::write(&bad, b"not a checkpoint at all")?;
    let err = read_state_dict(&bad, None)
        .err()
        .context("garbage accepted")?;
    assert!(err.to_string().contains("garbage.pth"), "{err}");

    // A legacy file cut in the middle of its storages.
    let full = std::fs::read(fixtures().join("pth/s3d_legacy.pth"))?;
    let cut = dir.path().join("cut.pth");
    std::fs::write(&cut, &full[..full.len() - 1000])?;
    let err = read_state_dict(&cut, None)
        .err()
        .context("truncated file accepted")?;
    assert!(err.to_string().contains("cut.pth"), "{err}");

    // A zip checkpoint without the requested key.
    let err = read_state_dict(&fixtures().join("pth/s3d_zip.pth"), Some("model"))
        .err()
        .context("missing key accepted")?;
    assert!(err.to_string().contains("model"), "{err}");
    Ok(())
}
