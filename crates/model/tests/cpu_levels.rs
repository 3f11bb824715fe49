//! Every CPU kernel path this machine can run, forced in turn with `set_cpu_level_cap`, gives
//! the numbers the product relies on: a machine with AVX-512 VNNI also runs what an AVX2-only
//! or a baseline CPU runs. Its own test binary, because the cap is process-wide.
//!
//! - f32 (the fused attention and quick-GELU at every vector width): the same embeddings as
//!   the widest path, to float rounding.
//! - q8 (each level's own 8-bit kernel, candle's where a level has none): cosine to f32 at
//!   least 0.999 per frame, the tolerance of the q8 tower's unit test.
//! - the CPU default precision at each level.
//!
//! The tests take [`CAP`] so that one's cap never changes under the other.

use anyhow::Result;
use vclip_model::clip::ClipVisionConfig;
use vclip_model::{
    cpu_level, init_random_clip_sized, q8_kernel, q8_path, set_cpu_level_cap, ClipConfig,
    ClipModel, CpuLevel, Device, Precision, Q8Kernel, Q8Path, Tensor,
};

/// Held by every test that sets the process-wide cap.
static CAP: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A random CLIP whose image tower's dense layers are wide enough for the 8-bit kernel (inputs
/// a multiple of 256, outputs of 32) and whose heads are ViT-B's 64 wide.
fn model_dir() -> Result<tempfile::TempDir> {
    let mut config = ClipConfig::tiny();
    config.vision = ClipVisionConfig {
        hidden_size: 256,
        intermediate_size: 512,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        image_size: 64,
        patch_size: 16,
        ..config.vision
    };
    let dir = tempfile::tempdir()?;
    init_random_clip_sized(config, 11, dir.path(), None)?;
    Ok(dir)
}

/// Frames with structure (gradients and a moving square), not noise.
fn frames(size: usize) -> Result<Tensor> {
    let n = 3;
    let mut data = vec![0u8; n * size * size * 3];
    for f in 0..n {
        for y in 0..size {
            for x in 0..size {
                let i = ((f * size + y) * size + x) * 3;
                let inside = (x / 8 + f) % 4 == 0 && y > size / 4 && y < 3 * size / 4;
                data[i] = (x * 255 / size) as u8;
                data[i + 1] = (y * 255 / size) as u8;
                data[i + 2] = if inside { 250 } else { (f * 60) as u8 };
            }
        }
    }
    Ok(Tensor::from_vec(data, (n, size, size, 3), &Device::Cpu)?)
}

fn rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(t.to_vec2::<f32>()?)
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn every_cpu_level_gives_the_products_numbers() -> Result<()> {
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    let dir = model_dir()?;
    let levels = CpuLevel::available();
    eprintln!("levels this CPU runs: {levels:?}");
    let mut exact = ClipModel::load(dir.path(), &Device::Cpu)?;
    let frames = frames(64)?;
    // The reference: f32 at the widest level.
    set_cpu_level_cap(None);
    let widest = rows(&exact.embed_rgb(&frames)?)?;
    for &level in &levels {
        set_cpu_level_cap(Some(level));
        assert_eq!(cpu_level(), level);
        let got = rows(&exact.embed_rgb(&frames)?)?;
        for (g, w) in got.iter().zip(&widest) {
            let diff = g.iter().zip(w).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                diff <= 1e-5,
                "f32 at {level}: max difference {diff} to the widest path"
            );
        }
    }
    // q8, packed at the widest level (as the product loads it), then run at each level: each
    // level's own kernel, and candle's where the level has none.
    set_cpu_level_cap(None);
    exact.set_image_precision(Precision::Q8)?;
    for &level in &levels {
        set_cpu_level_cap(Some(level));
        let expected = if Q8Path::for_level(level).is_some() {
            Q8Kernel::Vclip
        } else {
            Q8Kernel::Candle
        };
        assert_eq!(q8_kernel(), expected, "at {level}");
        assert_eq!(q8_path(), Q8Path::for_level(level), "at {level}");
        let got = rows(&exact.embed_rgb(&frames)?)?;
        for (i, (g, w)) in got.iter().zip(&widest).enumerate() {
            let c = cosine(g, w);
            assert!(c >= 0.999, "q8 at {level}, frame {i}: cosine {c} to f32");
        }
    }
    // A model loaded under a cap never packs for the kernel the cap takes away.
    let lowest = levels[0];
    set_cpu_level_cap(Some(lowest));
    let mut capped = ClipModel::load(dir.path(), &Device::Cpu)?;
    capped.set_image_precision(Precision::Q8)?;
    let got = rows(&capped.embed_rgb(&frames)?)?;
    for (g, w) in got.iter().zip(&widest) {
        assert!(cosine(g, w) >= 0.999);
    }
    set_cpu_level_cap(None);
    Ok(())
}

/// The CPU default precision follows the kernels the level has: q8 only where VClip's own 8-bit
/// kernel runs (candle's fallback is slower than f32 on CPUs without one), on every level this
/// CPU can be capped to — a VNNI machine checks the AVX2-only and the portable choice too.
#[test]
fn the_default_precision_follows_the_cpus_kernels() {
    let _cap = CAP.lock().unwrap_or_else(|e| e.into_inner());
    for level in CpuLevel::available() {
        set_cpu_level_cap(Some(level));
        let want = match Q8Path::for_level(level) {
            Some(_) => Precision::Q8,
            None => Precision::F32,
        };
        assert_eq!(Precision::cpu_default(), want, "at {level}");
        assert_eq!(Precision::default_for(&Device::Cpu), want, "at {level}");
        let why = Precision::cpu_default_reason();
        assert!(
            why.starts_with(want.name()) && why.contains(level.name()),
            "{why}"
        );
    }
    set_cpu_level_cap(None);
}
