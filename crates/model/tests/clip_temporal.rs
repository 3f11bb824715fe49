//! The CLIP family's temporal tower (`src/clip/temporal.rs`) against its PyTorch reference
//! (`tools/clip_temporal_reference.py`, computed in float64; fixture `fixtures/clip/temporal/`:
//! 3 windows of 6, 3 and 5 seconds with garbage in the padding, every weight away from its
//! init): f32 on each device within 1e-5 relative, f64 on the CPU within 1e-10.

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use vclip_model::clip_temporal::TEMPORAL_FILE;
use vclip_model::{TemporalConfig, TemporalTower, TrainableTemporal};

use crate::common::{fixtures, get, load};

fn config() -> Result<TemporalConfig> {
    let path = fixtures().join("clip/temporal/config.json");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

/// `max |got - want| / max |want|`, in f64.
fn rel(got: &Tensor, want: &Tensor) -> Result<f64> {
    let got = got.to_device(&Device::Cpu)?.to_dtype(DType::F64)?;
    let want = want.to_dtype(DType::F64)?;
    anyhow::ensure!(
        got.dims() == want.dims(),
        "{:?} vs {:?}",
        got.dims(),
        want.dims()
    );
    let diff = (got - &want)?.abs()?.max_all()?.to_scalar::<f64>()?;
    Ok(diff / want.abs()?.max_all()?.to_scalar::<f64>()?)
}

fn temporal_parity(dev: &Device) -> Result<()> {
    let config = config()?;
    let io = load("clip/temporal/io.safetensors")?;
    let (feats, mask) = (get(&io, "features")?, get(&io, "mask")?);
    let (want_pooled, want_seconds) = (get(&io, "pooled")?, get(&io, "seconds")?);
    let path = fixtures().join("clip/temporal").join(TEMPORAL_FILE);
    let tower = TemporalTower::load(&path, &config, dev)?;
    let out = tower.forward(&feats.to_device(dev)?, &mask.to_device(dev)?)?;
    // Both outputs within `tol` of the reference (`what` names the run).
    let within = |out: &vclip_model::TemporalOutput, what: &str, tol: f64| -> Result<()> {
        let (p, s) = (
            rel(&out.pooled, &want_pooled)?,
            rel(&out.seconds, &want_seconds)?,
        );
        eprintln!("parity temporal {what}: pooled {p:.3e}, seconds {s:.3e}");
        let dtype = what.split(' ').next().unwrap_or_default();
        anyhow::ensure!(
            p <= tol && s <= tol,
            "{dtype}: pooled {p:.3e}, seconds {s:.3e}"
        );
        Ok(())
    };
    within(&out, &format!("f32 {dev:?}"), 1e-5)?;
    if dev.is_cpu() {
        let t64 = TrainableTemporal::load(&path, &config, dev, DType::F64)?;
        let out = t64.tower.forward(&feats.to_dtype(DType::F64)?, &mask)?;
        within(&out, "f64", 1e-10)?;
    }
    Ok(())
}
test_device!(temporal_parity);
