//! A tiny random CLIP whose image tower tells frames apart, for tests that must see which
//! frame was embedded (fine-tuning, the keyframe import).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use vclip_model::clip::write_clip_dir;
use vclip_model::{init_random_clip, ClipModelConfig, Device, Preset, Tensor};

/// A tiny random CLIP whose image tower tells frames apart: [`init_random_clip`] with the image
/// tower's attention value and output projections ×10, written with fresh fingerprints. At the
/// standard initialisation (N(0, 0.02)) the `[CLS]` token barely attends to the patches, so
/// every frame gets nearly the same embedding (mean cosine 0.9999 between these 40 videos);
/// scaled, the `[CLS]` output mixes the patches (mean cosine 0.49, the closest pair 0.995), as a
/// trained CLIP's features differ between different pictures.
pub fn contrast_clip(dir: &Path) -> PathBuf {
    let base = dir.join("clip-base");
    init_random_clip(Preset::Tiny, 3, &base, None).expect("init tiny clip");
    let mut tensors: HashMap<String, Tensor> =
        candle_core::safetensors::load(base.join("model.safetensors"), &Device::Cpu)
            .expect("weights");
    for (name, t) in tensors.iter_mut() {
        let attention = name.ends_with("self_attn.v_proj.weight")
            || name.ends_with("self_attn.out_proj.weight");
        if name.starts_with("vision_model.encoder.") && attention {
            *t = (&*t * 10.0).expect("scale");
        }
    }
    let config = ClipModelConfig::load(&base.join("config.json")).expect("config");
    let tokenizer = std::fs::read_to_string(base.join("tokenizer.json")).expect("tokenizer");
    let out = dir.join("clip");
    write_clip_dir(&out, &config, &tensors, &tokenizer).expect("write clip");
    out
}
