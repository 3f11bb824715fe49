//! VideoCLIP towers against the PyTorch reference: per-token hidden states and pooled vectors,
//! videos shorter than 32 s (masked padding), the dummy-caption mode, texts of 0, 1, 7 and 61
//! tokens, and the score matrix.

use std::path::Path;

use anyhow::Result;
use candle_core::{DType, Device};
use vclip_model::{
    load_towers, scores, text_layout, ModelConfig, TextTower, VideoMode, VideoTower,
};

use crate::common::{check, fixtures, get, load, load_from};

fn towers_match_reference(dev: &Device) -> Result<()> {
    check_towers(&fixtures(), dev)
}
test_device!(towers_match_reference);

/// All tower checkpoints of the fixture set under `root` (also used for the full-size check).
pub fn check_towers(root: &Path, dev: &Device) -> Result<()> {
    let config = ModelConfig::load(&root.join("tiny/config.json"))?;
    let (video, text) = load_towers(
        &root.join("tiny/videoclip.safetensors"),
        &config.videoclip,
        dev,
    )?;
    let io = load_from(root, "towers_io.safetensors")?;
    let feats = get(&io, "video.feats")?.to_device(dev)?;
    let mask = get(&io, "video.mask")?.to_device(dev)?;

    let v = video.forward(&feats, &mask, VideoMode::Retrieval)?;
    check("video hidden", &v.hidden, &get(&io, "video.hidden")?)?;
    check("video pooled", &v.pooled, &get(&io, "video.pooled")?)?;
    let d = video.forward(&feats, &mask, VideoMode::DummyCaption)?;
    check(
        "video dummy hidden",
        &d.hidden,
        &get(&io, "video_dummy.hidden")?,
    )?;
    check(
        "video dummy pooled",
        &d.pooled,
        &get(&io, "video_dummy.pooled")?,
    )?;

    let ids = get(&io, "text.ids")?.to_device(dev)?;
    let tmask = get(&io, "text.mask")?.to_device(dev)?;
    let t = text.forward(&ids, &tmask)?;
    check("text hidden", &t.hidden, &get(&io, "text.hidden")?)?;
    check("text pooled", &t.pooled, &get(&io, "text.pooled")?)?;
    check(
        "scores",
        &scores(&t.pooled, &v.pooled)?,
        &get(&io, "scores")?,
    )?;
    Ok(())
}

/// The tiny fixture's config and towers on `dev`.
fn tiny_towers(dev: &Device) -> Result<(ModelConfig, (VideoTower, TextTower))> {
    let config = ModelConfig::load(&fixtures().join("tiny/config.json"))?;
    let weights = fixtures().join("tiny/videoclip.safetensors");
    let towers = load_towers(&weights, &config.videoclip, dev)?;
    Ok((config, towers))
}

/// Padding only to the longest text of the batch (not to 63) leaves the outputs unchanged.
fn short_padding_gives_same_pooled(dev: &Device) -> Result<()> {
    let (config, (_, text)) = tiny_towers(dev)?;
    let io = load("towers_io.safetensors")?;
    let want = get(&io, "text.pooled")?.narrow(0, 2, 1)?;
    let content: Vec<u32> = (110..117).collect();
    let (ids, mask) = text_layout(&content, 63, 0);
    let ids = candle_core::Tensor::new(ids.as_slice(), dev)?.unsqueeze(0)?;
    let mask = candle_core::Tensor::new(mask.as_slice(), dev)?.unsqueeze(0)?;
    let got = text.forward(&ids, &mask)?;
    check("text pooled, no padding", &got.pooled, &want)?;
    assert_eq!(got.hidden.dims(), &[1, 9, config.videoclip.hidden_size]);
    let _ = DType::F32;
    Ok(())
}
test_device!(short_padding_gives_same_pooled);

/// A video of 20 s passed without padding (L=20) gives the outputs of the padded 32-token
/// layout: the video [SEP] keeps position `max_video_len + 1` = 33.
fn unpadded_video_keeps_sep_position(dev: &Device) -> Result<()> {
    let (_, (video, _)) = tiny_towers(dev)?;
    let io = load("towers_io.safetensors")?;
    // Sample 1 of the fixture has 20 valid seconds.
    let feats = get(&io, "video.feats")?.narrow(0, 1, 1)?.narrow(1, 0, 20)?;
    let mask = candle_core::Tensor::ones((1, 20), DType::U8, &Device::Cpu)?;
    let got = video.forward(
        &feats.to_device(dev)?,
        &mask.to_device(dev)?,
        VideoMode::Retrieval,
    )?;
    let want = get(&io, "video.hidden")?.narrow(0, 1, 1)?;
    check(
        "unpadded video tokens",
        &got.hidden.narrow(1, 0, 21)?,
        &want.narrow(1, 0, 21)?,
    )?;
    check(
        "unpadded video sep",
        &got.hidden.narrow(1, 21, 1)?,
        &want.narrow(1, 33, 1)?,
    )?;
    let want_pooled = get(&io, "video.pooled")?.narrow(0, 1, 1)?;
    check("unpadded video pooled", &got.pooled, &want_pooled)?;
    Ok(())
}
test_device!(unpadded_video_keeps_sep_position);
