//! CLIP's image tower (HF transformers `CLIPVisionTransformer` + `visual_projection`: a ViT
//! with pre-LayerNorm blocks and quick-GELU), written for the import's throughput on the CPU,
//! where one frame per second of every video goes through it.
//!
//! Same weights (HF names) and the same numbers as HF's eager forward (the parity tests in
//! `tests/clip_parity.rs`); what differs is how the work is laid out:
//! - every dense layer multiplies one 2-D matrix of all tokens of the batch (`B * T` rows)
//!   instead of `B` small batched products;
//! - the patch embedding (a convolution with stride = kernel) is one matrix product over the
//!   unfolded patches;
//! - `q`, `k` and `v` are one product with the three weight matrices stacked, the attention
//!   scale `1/sqrt(d)` folded into the `q` rows;
//! - quick-GELU `x * sigmoid(1.702 x)` is one fused pass on the CPU ([`quick_gelu`]) instead of
//!   three (a third of the tower's time went there);
//! - optionally ([`Precision::Q8`], the CPU default for import) the patch embedding and the four
//!   dense layers of every block store ggml `q8_0` weights (8 bits, one f16 scale per 32), whose
//!   products run about twice as fast as f32 on the CPU (about 2.5 times with [`crate::q8`]'s
//!   AVX-512 VNNI kernel). `vclip bench encode --family clip --image-precision q8`
//!   measures both the speed and the agreement with f32.

use std::collections::HashMap;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use candle_nn::{LayerNorm, Linear, Module};

use crate::bert::Proj;
use crate::clip::ClipConfig;
use crate::cpu::{contiguous_f32, widest};
use crate::error::{Error, Result};
use crate::videoclip::Precision;

/// The image tower: pixels `(N, C, S, S)` -> projected, not yet normalised `(N, D)`.
#[derive(Debug, Clone)]
pub(crate) struct VisionTower {
    /// The convolution as a dense layer without bias: `(hidden, C * p * p)` weights, one row
    /// per output channel.
    patch: Proj,
    /// `(1, 1, hidden)`.
    class_embedding: Tensor,
    /// `(T, hidden)`, T = patches + 1.
    position: Tensor,
    pre_ln: LayerNorm,
    layers: Vec<Block>,
    post_ln: LayerNorm,
    projection: Linear,
    channels: usize,
    patch_size: usize,
    grid: usize,
    heads: usize,
    hidden: usize,
    precision: Precision,
}

#[derive(Debug, Clone)]
struct Block {
    ln1: LayerNorm,
    /// `q`, `k`, `v` stacked: `(3 * hidden, hidden)`, the `q` rows scaled by `1/sqrt(d)`.
    qkv: Proj,
    out: Proj,
    ln2: LayerNorm,
    fc1: Proj,
    fc2: Proj,
}

fn take(t: &HashMap<String, Tensor>, name: &str) -> Result<Tensor> {
    t.get(name)
        .cloned()
        .ok_or_else(|| Error::Input(format!("the CLIP weights lack `{name}`")))
}

fn layer_norm(t: &HashMap<String, Tensor>, p: &str, eps: f64) -> Result<LayerNorm> {
    Ok(LayerNorm::new(
        take(t, &format!("{p}.weight"))?,
        take(t, &format!("{p}.bias"))?,
        eps,
    ))
}

fn dense(t: &HashMap<String, Tensor>, p: &str) -> Result<Proj> {
    Ok(Proj::F32(Linear::new(
        take(t, &format!("{p}.weight"))?,
        Some(take(t, &format!("{p}.bias"))?),
    )))
}

impl VisionTower {
    /// The tower from checked tensors (HF names, f32, on the model's device).
    pub(crate) fn new(t: &HashMap<String, Tensor>, c: &ClipConfig) -> Result<Self> {
        let v = &c.vision;
        let (h, heads) = (v.hidden_size, v.num_attention_heads);
        let eps = v.layer_norm_eps;
        let p = "vision_model";
        let scale = 1.0 / ((h / heads) as f64).sqrt();
        let layers = (0..v.num_hidden_layers)
            .map(|l| {
                let p = format!("{p}.encoder.layers.{l}");
                let a = format!("{p}.self_attn");
                let w = |n: &str, part: &str| take(t, &format!("{a}.{n}_proj.{part}"));
                let qkv_w = Tensor::cat(
                    &[
                        (w("q", "weight")? * scale)?,
                        w("k", "weight")?,
                        w("v", "weight")?,
                    ],
                    0,
                )?;
                let qkv_b = Tensor::cat(
                    &[(w("q", "bias")? * scale)?, w("k", "bias")?, w("v", "bias")?],
                    0,
                )?;
                Ok(Block {
                    ln1: layer_norm(t, &format!("{p}.layer_norm1"), eps)?,
                    qkv: Proj::F32(Linear::new(qkv_w, Some(qkv_b))),
                    out: dense(t, &format!("{a}.out_proj"))?,
                    ln2: layer_norm(t, &format!("{p}.layer_norm2"), eps)?,
                    fc1: dense(t, &format!("{p}.mlp.fc1"))?,
                    fc2: dense(t, &format!("{p}.mlp.fc2"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let patch_weight = take(t, &format!("{p}.embeddings.patch_embedding.weight"))?;
        let patch_weight =
            patch_weight.reshape((h, v.num_channels * v.patch_size * v.patch_size))?;
        Ok(Self {
            patch: Proj::F32(Linear::new(patch_weight, None)),
            class_embedding: take(t, &format!("{p}.embeddings.class_embedding"))?
                .reshape((1, 1, h))?,
            position: take(t, &format!("{p}.embeddings.position_embedding.weight"))?,
            pre_ln: layer_norm(t, &format!("{p}.pre_layrnorm"), eps)?,
            layers,
            post_ln: layer_norm(t, &format!("{p}.post_layernorm"), eps)?,
            projection: Linear::new(take(t, "visual_projection.weight")?, None),
            channels: v.num_channels,
            patch_size: v.patch_size,
            grid: v.image_size / v.patch_size,
            heads,
            hidden: h,
            precision: Precision::F32,
        })
    }

    /// How the blocks' dense layers store their weights.
    pub(crate) fn precision(&self) -> Precision {
        self.precision
    }

    /// Converts the patch embedding and the blocks' dense layers to `precision` (the
    /// LayerNorms, the attention products and the projection stay f32). Going back to f32 from q8 needs a reload.
    pub(crate) fn set_precision(&mut self, precision: Precision) -> Result<()> {
        match (self.precision, precision) {
            (a, b) if a == b => Ok(()),
            (Precision::F32, Precision::Q8) => {
                self.patch.quantize_q8()?;
                for b in &mut self.layers {
                    for d in [&mut b.qkv, &mut b.out, &mut b.fc1, &mut b.fc2] {
                        d.quantize_q8()?;
                    }
                }
                self.precision = Precision::Q8;
                Ok(())
            }
            _ => Err(Error::Input(
                "the image tower is already 8-bit; reload the model for f32".into(),
            )),
        }
    }

    /// Pixels `(N, C, S, S)` f32 -> `(N, projection_dim)`, before L2 normalisation.
    pub(crate) fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (n, g, p, c, h) = (
            pixels.dim(0)?,
            self.grid,
            self.patch_size,
            self.channels,
            self.hidden,
        );
        // The convolution with stride = kernel ignores a remainder of fewer than p pixels.
        let x = pixels.narrow(2, 0, g * p)?.narrow(3, 0, g * p)?;
        let patches = x
            .reshape((n, c, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((n * g * g, c * p * p))?;
        let x = self.patch.forward(&patches)?.reshape((n, g * g, h))?;
        let cls = self.class_embedding.broadcast_as((n, 1, h))?;
        let t = g * g + 1;
        let x = Tensor::cat(&[&cls, &x], 1)?.broadcast_add(&self.position)?;
        let mut x = self.pre_ln.forward(&x.reshape((n * t, h))?)?;
        for b in &self.layers {
            let a = self.attention(b, &b.ln1.forward(&x)?, n, t)?;
            x = (x + b.out.forward(&a)?)?;
            let m = quick_gelu(&b.fc1.forward(&b.ln2.forward(&x)?)?)?;
            x = (x + b.fc2.forward(&m)?)?;
        }
        let cls = x.reshape((n, t, h))?.narrow(1, 0, 1)?.squeeze(1)?;
        Ok(self.projection.forward(&self.post_ln.forward(&cls)?)?)
    }

    /// Multi-head self-attention of `(n * t, hidden)` tokens -> `(n * t, hidden)`, before
    /// `out_proj`.
    fn attention(&self, b: &Block, x: &Tensor, n: usize, t: usize) -> Result<Tensor> {
        let (heads, h) = (self.heads, self.hidden);
        let d = h / heads;
        let qkv = b.qkv.forward(x)?;
        if qkv.device().is_cpu() && qkv.dtype() == DType::F32 && !qkv.track_op() {
            return Ok(qkv
                .contiguous()?
                .apply_op1_no_bwd(&Attention { frames: n, heads })?);
        }
        let qkv = qkv
            .reshape((n, t, 3, heads, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        Ok(w.matmul(&v)?
            .permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((n * t, h))?)
    }
}

/// Multi-head self-attention within each frame on the CPU, in one pass: `qkv` `(n * t, 3 * h)`
/// (each token's `q`, `k`, `v`, the `q` rows pre-scaled) -> `(n * t, h)`, heads side by side.
/// Per frame and head: `k` transposed once, then per query row the scores as a sum of rows of
/// `kᵀ`, a softmax, and the output as a sum of rows of `v` — vector loops without horizontal
/// sums or the permuted copies of the composed ops. Frames run in parallel.
struct Attention {
    frames: usize,
    heads: usize,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "vclip-attention"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = contiguous_f32(storage, layout, "attention")?;
        let (rows, h3) = layout.shape().dims2()?;
        let (n, heads) = (self.frames, self.heads);
        if n == 0 || !rows.is_multiple_of(n) || !h3.is_multiple_of(3 * heads) {
            candle_core::bail!("attention: {rows}x{h3} is not {n} frames of q, k, v")
        }
        let (t, h) = (rows / n, h3 / 3);
        let mut out = vec![0f32; rows * h];
        out.par_chunks_mut(t * h)
            .zip(x.par_chunks(t * h3))
            .for_each(|(o, x)| attend_frame(o, x, t, heads));
        Ok((CpuStorage::F32(out), Shape::from((rows, h))))
    }
}

/// f32 lanes of the widest vectors the attention's loops are written for (AVX-512).
const LANES: usize = 16;

/// One frame's attention ([`Attention`]): `x` its `t` rows of `q | k | v`, `out` its `t` rows.
fn attend_frame(out: &mut [f32], x: &[f32], t: usize, heads: usize) {
    #[inline(always)]
    fn body(out: &mut [f32], x: &[f32], t: usize, heads: usize) {
        let h = out.len() / t;
        let (h3, d) = (3 * h, h / heads);
        // Keys padded to whole lanes: their scores come out as 0 and are masked before the
        // softmax.
        let tp = t.next_multiple_of(LANES);
        let mut kt = vec![0f32; d * tp];
        let mut s = vec![0f32; tp];
        for head in 0..heads {
            let (q0, k0, v0) = (head * d, h + head * d, 2 * h + head * d);
            for (c, row) in x.chunks_exact(h3).enumerate() {
                for (i, &k) in row[k0..k0 + d].iter().enumerate() {
                    kt[i * tp + c] = k;
                }
            }
            for (r, o) in out.chunks_exact_mut(h).enumerate() {
                let q = &x[r * h3 + q0..r * h3 + q0 + d];
                // Scores, one lane-wide block of keys at a time, summed in registers.
                for (c0, s) in s.chunks_exact_mut(LANES).enumerate() {
                    let mut acc = [0f32; LANES];
                    for (&q, kt) in q.iter().zip(kt.chunks_exact(tp)) {
                        for (a, &k) in acc.iter_mut().zip(&kt[c0 * LANES..(c0 + 1) * LANES]) {
                            *a += q * k;
                        }
                    }
                    s.copy_from_slice(&acc);
                }
                s[t..].fill(f32::NEG_INFINITY);
                let mut max = [f32::NEG_INFINITY; LANES];
                for s in s.chunks_exact(LANES) {
                    for (m, &s) in max.iter_mut().zip(s) {
                        *m = if s > *m { s } else { *m };
                    }
                }
                let max = max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                for s in s.iter_mut() {
                    *s = exp(*s - max);
                }
                s[t..].fill(0.0);
                let mut sum = [0f32; LANES];
                for s in s.chunks_exact(LANES) {
                    for (a, &s) in sum.iter_mut().zip(s) {
                        *a += s;
                    }
                }
                let sum: f32 = sum.iter().sum();
                let o = &mut o[q0..q0 + d];
                let v = |c: usize| &x[c * h3 + v0..c * h3 + v0 + d];
                if d == 64 {
                    weighted_rows::<64>(o, &s[..t], sum, v);
                } else {
                    o.fill(0.0);
                    for (c, &w) in s[..t].iter().enumerate() {
                        for (o, &v) in o.iter_mut().zip(v(c)) {
                            *o += w / sum * v;
                        }
                    }
                }
            }
        }
    }
    /// `out = sum_c w[c] / sum * v(c)` for rows of `D` (ViT-B's head size), summed in registers.
    #[inline(always)]
    fn weighted_rows<'a, const D: usize>(
        out: &mut [f32],
        w: &[f32],
        sum: f32,
        v: impl Fn(usize) -> &'a [f32],
    ) {
        let mut acc = [0f32; D];
        for (c, &w) in w.iter().enumerate() {
            let w = w / sum;
            for (a, &v) in acc.iter_mut().zip(v(c)) {
                *a += w * v;
            }
        }
        out.copy_from_slice(&acc);
    }
    widest!(body(out: &mut [f32], x: &[f32], t: usize, heads: usize))
}

/// quick-GELU `x * sigmoid(1.702 x)` (CLIP's activation): one fused pass over contiguous f32
/// on the CPU; elsewhere (a GPU, other layouts) the composed ops.
pub(crate) fn quick_gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 && x.is_contiguous() && !x.track_op() {
        x.apply_op1_no_bwd(&QuickGelu)
    } else {
        x * candle_nn::ops::sigmoid(&(x * 1.702)?)?
    }
}

struct QuickGelu;

/// Elements per task of the parallel pass.
const CHUNK: usize = 1 << 14;

impl CustomOp1 for QuickGelu {
    fn name(&self) -> &'static str {
        "vclip-quick-gelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let src = contiguous_f32(storage, layout, "quick-gelu")?;
        let mut out = vec![0f32; src.len()];
        out.par_chunks_mut(CHUNK)
            .zip(src.par_chunks(CHUNK))
            .for_each(|(o, x)| quick_gelu_slice(o, x));
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

/// `out[i] = quick_gelu(x[i])`, in the widest vectors the CPU has (the same operations at
/// every width, so the same numbers).
fn quick_gelu_slice(out: &mut [f32], x: &[f32]) {
    #[inline(always)]
    fn body(out: &mut [f32], x: &[f32]) {
        for (o, &x) in out.iter_mut().zip(x) {
            *o = x / (1.0 + exp(-1.702 * x));
        }
    }
    widest!(body(out: &mut [f32], x: &[f32]))
}

/// `e^x` for f32 in a form the compiler vectorises (Cephes `expf`: `x = n ln 2 + r`, a degree-6
/// polynomial for `e^r`, `2^n` written into the exponent bits); relative error below 2e-7 over
/// the clamped range, where `e^x` neither overflows nor becomes subnormal.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without SSE4.1's roundps.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n from the bits of n + 127 written into the low mantissa bits of 2^23 + n + 127
    // (n + 127 is in 1..=254 after the clamp): integer operations only, so the loop stays
    // vectorised (`n as i32` saturates lane by lane in scalar code).
    e * f32::from_bits((n + (127.0 + 8_388_608.0)).to_bits() << 23)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// A tower whose widths the 8-bit kernel takes (multiples of 256): in q8 every dense layer
    /// carries the kernel's packing where the CPU has AVX-512 VNNI, and the embeddings agree
    /// with f32.
    #[test]
    fn q8_tower_on_the_kernel_agrees_with_f32() -> Result<()> {
        use crate::clip::{random_clip_tensors, ClipConfig};
        let mut c = ClipConfig::tiny();
        c.vision.hidden_size = 256;
        c.vision.intermediate_size = 512;
        c.vision.image_size = 64;
        c.vision.patch_size = 16;
        let t = random_clip_tensors(&c, 7)?;
        let mut tower = VisionTower::new(&t, &c)?;
        let pixels = Tensor::randn(0f32, 1.0, (3, 3, 64, 64), &Device::Cpu)?;
        let unit = |x: Tensor| -> Result<Tensor> {
            Ok(x.broadcast_div(&x.sqr()?.sum_keepdim(1)?.sqrt()?)?)
        };
        let exact = unit(tower.forward(&pixels)?)?;
        tower.set_precision(Precision::Q8)?;
        let dense = tower
            .layers
            .iter()
            .flat_map(|b| [&b.qkv, &b.out, &b.fc1, &b.fc2]);
        for d in std::iter::once(&tower.patch).chain(dense) {
            let Proj::Q8 { packed, .. } = d else {
                panic!("a dense layer stayed f32")
            };
            assert_eq!(packed.is_some(), crate::q8::packs());
        }
        let q8 = unit(tower.forward(&pixels)?)?;
        let cos = (&exact * &q8)?.sum(1)?.to_vec1::<f32>()?;
        assert!(cos.iter().all(|&c| c >= 0.999), "{cos:?}");
        let diff = (&exact - &q8)?.abs()?.flatten_all()?.max(0)?;
        assert!(diff.to_scalar::<f32>()? > 0.0, "q8 gave f32's numbers");
        Ok(())
    }

    /// The fused attention against the composed candle ops it replaces.
    #[test]
    fn fused_attention_matches_the_composed_ops() -> Result<()> {
        // The generic head size, ViT-B's 64, a frame shorter than a lane and ViT-B/32's 50
        // tokens (not a whole number of lanes).
        for (n, t, heads, d) in [(3, 7, 4, 16), (2, 50, 2, 64), (1, 17, 3, 64)] {
            attention_case(n, t, heads, d)?;
        }
        Ok(())
    }

    fn attention_case(n: usize, t: usize, heads: usize, d: usize) -> Result<()> {
        let h = heads * d;
        let qkv = Tensor::randn(0f32, 1.0, (n * t, 3 * h), &Device::Cpu)?;
        let got = qkv.apply_op1_no_bwd(&Attention { frames: n, heads })?;
        let p = qkv
            .reshape((n, t, 3, heads, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (q, k, v) = (p.get(0)?, p.get(1)?, p.get(2)?);
        let w = candle_nn::ops::softmax_last_dim(&q.matmul(&k.t()?)?)?;
        let want = w
            .matmul(&v)?
            .permute((0, 2, 1, 3))?
            .contiguous()?
            .reshape((n * t, h))?;
        let diff = (got - want)?.abs()?.flatten_all()?.max(0)?;
        assert!(diff.to_scalar::<f32>()? < 1e-5);
        // A shape that is not whole frames of q, k, v is refused.
        let bad = Tensor::zeros((n * t, 3 * h + 1), DType::F32, &Device::Cpu)?;
        assert!(bad
            .apply_op1_no_bwd(&Attention { frames: n, heads })
            .is_err());
        Ok(())
    }

    #[test]
    fn exp_matches_std_within_2e7() {
        let mut worst = 0f64;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp(x) as f64, (x as f64).exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.01;
        }
        assert!(worst < 2e-7, "worst relative error {worst:e}");
        // Beyond the clamp: finite, and quick-GELU's limits hold.
        assert!(exp(-1000.0) > 0.0 && exp(1000.0).is_finite());
    }

    #[test]
    fn fused_quick_gelu_matches_the_composed_ops() -> candle_core::Result<()> {
        let x = Tensor::arange(-40_000f32, 40_000f32, &Device::Cpu)?.affine(1e-3, 0.0)?;
        let want = (&x * candle_nn::ops::sigmoid(&(&x * 1.702)?)?)?;
        let got = quick_gelu(&x)?;
        let diff = (got - &want)?.abs()?.max(0)?.to_scalar::<f32>()?;
        assert!(diff < 1e-6, "max abs diff {diff:e}");
        // A non-contiguous input takes the composed path and gives the same numbers.
        let m = x.reshape((200, 400))?.t()?;
        let diff = (quick_gelu(&m)? - want.reshape((200, 400))?.t()?)?
            .abs()?
            .flatten_all()?
            .max(0)?;
        assert!(diff.to_scalar::<f32>()? < 1e-6);
        Ok(())
    }
}
