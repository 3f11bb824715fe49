//! Shared helpers: fixture paths, relative errors, the `test_device!` macro.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};

/// Maximum relative error accepted at every parity checkpoint (f32).
pub const TOLERANCE: f32 = 1e-4;

/// Expands `fn name(dev: &Device) -> anyhow::Result<()>` into one test per compiled backend.
macro_rules! test_device {
    ($name:ident) => {
        mod $name {
            #[test]
            fn cpu() -> anyhow::Result<()> {
                super::$name(&candle_core::Device::Cpu)
            }

            #[cfg(feature = "cuda")]
            #[test]
            fn cuda() -> anyhow::Result<()> {
                super::$name(&candle_core::Device::new_cuda(0)?)
            }

            #[cfg(feature = "metal")]
            #[test]
            fn metal() -> anyhow::Result<()> {
                super::$name(&candle_core::Device::new_metal(0)?)
            }
        }
    };
}

/// The fixture folder: `VCLIP_MODEL_FIXTURES` when set (a test binary carried to another machine,
/// e.g. the GPU host, where the build's source path does not exist), else this crate's.
pub fn fixtures() -> PathBuf {
    std::env::var_os("VCLIP_MODEL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
}

/// All tensors of a fixture file, on the CPU.
pub fn load(name: &str) -> Result<HashMap<String, Tensor>> {
    load_from(&fixtures(), name)
}

/// All tensors of `root/name`, on the CPU.
pub fn load_from(root: &std::path::Path, name: &str) -> Result<HashMap<String, Tensor>> {
    let path = root.join(name);
    candle_core::safetensors::load(&path, &Device::Cpu)
        .with_context(|| format!("reading {}", path.display()))
}

pub fn get(map: &HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    map.get(name)
        .cloned()
        .with_context(|| format!("fixture tensor `{name}` missing"))
}

/// `max |got - want| / max |want|` over the whole tensor (elementwise relative errors are
/// meaningless next to the zeros that ReLU produces).
pub fn rel_err(got: &Tensor, want: &Tensor) -> Result<f32> {
    anyhow::ensure!(
        got.dims() == want.dims(),
        "shape {:?} != expected {:?}",
        got.dims(),
        want.dims()
    );
    let got = got.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let want = want.to_device(&Device::Cpu)?.to_dtype(DType::F32)?;
    let diff = (got - &want)?.abs()?.max_all()?.to_scalar::<f32>()?;
    let scale = want.abs()?.max_all()?.to_scalar::<f32>()?;
    Ok(diff / scale.max(f32::MIN_POSITIVE))
}

/// Checks a parity checkpoint and prints its error (visible with `--nocapture`).
pub fn check(label: &str, got: &Tensor, want: &Tensor) -> Result<f32> {
    let err = rel_err(got, want).with_context(|| label.to_owned())?;
    eprintln!("parity {label:<28} max rel err {err:.3e}");
    anyhow::ensure!(
        err <= TOLERANCE,
        "{label}: max rel err {err:.3e} > {TOLERANCE:e}"
    );
    Ok(err)
}
