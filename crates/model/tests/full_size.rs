//! The same parity checks on full-size random models (S3D-G at 224x224, BERT-base towers),
//! written by `python3 tools/make_fixtures.py --full --out DIR` (hundreds of MB, not
//! committed). Run with `VCLIP_FULL_FIXTURES=DIR cargo test -p vclip-model -- --ignored`.

use anyhow::Result;
use candle_core::Device;

use vclip_model::import_released;

use crate::model_dir::assert_files_equal;
use crate::s3d_parity::check_s3d;
use crate::towers_parity::check_towers;

#[test]
#[ignore = "needs VCLIP_FULL_FIXTURES (tools/make_fixtures.py --full)"]
fn full_size_parity() -> Result<()> {
    let Some(root) = std::env::var_os("VCLIP_FULL_FIXTURES") else {
        eprintln!("skipping: VCLIP_FULL_FIXTURES is not set");
        return Ok(());
    };
    let root = std::path::PathBuf::from(root);
    check_towers(&root, &Device::Cpu)?;
    check_s3d(&root, &Device::Cpu)?;
    // The importer at full scale (default = full config): bit-identical weights.
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("model");
    import_released(
        &root.join("pth/checkpoint_videoclip.pt"),
        &root.join("pth/s3d_legacy.pth"),
        &root.join("tiny/vocab.txt"),
        &out,
        None,
    )?;
    for f in ["s3d.safetensors", "videoclip.safetensors"] {
        assert_files_equal(&out.join(f), &root.join("tiny").join(f))?;
    }
    Ok(())
}
