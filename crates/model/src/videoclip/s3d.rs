//! S3D-G, the MIL-NCE HowTo100M variant: the frozen video backbone of VideoCLIP.
//!
//! Paper: Miech et al., "End-to-End Learning of Visual Representations from Uncurated
//! Instructional Videos" (CVPR 2020); S3D-G from Xie et al. (ECCV 2018). Reference:
//! `antoine77340/S3D_HowTo100M/s3dg.py` (spec: `docs/model-notes.md` §1 and §8.1; PyTorch
//! port: `tools/reference.py`). Weights: the released `s3d_howto100m.pth`, imported into
//! `s3d.safetensors` with the same tensor names.
//!
//! candle has no conv3d and no max_pool3d, so every 3-D op is expressed with 2-D ones on a
//! frames-major layout `(B*T, C, H, W)`:
//! - BatchNorm (eps 1e-5) is folded into the preceding bias-free convolution at load time;
//! - `conv1` (2,4,4) + crop = one conv2d over `[dt=0 | dt=1]` stacked kernels, then a shifted sum
//!   over frames; spatial (1,3,3) convs are conv2d; temporal (3,1,1) and 1x1x1 convs are matmuls
//!   over channels followed by shifted sums over frames;
//! - TF-SAME max pools pad with zeros (every pooled tensor is >= 0: it follows a ReLU or a
//!   sigmoid gate), emulate `ceil_mode` with extra zero padding, and pool space (conv2d-style
//!   `max_pool2d`) and time (max over strided frame selections) separately: max is separable.
//!
//! Cost notes (candle 0.11 on CUDA): the elementwise kernels index a non-contiguous operand with
//! one 64-bit division and modulo per dimension and element, so shifted sums and broadcast biases
//! run on views of as few dimensions as possible (`(B, T, taps*C*H*W)`, `(N, C, H*W)`); and
//! `broadcast_matmul` copies a broadcast lhs once per batch item, so the shared weight of a
//! 1x1x1 conv goes through `matmul_shared` instead. `S3d::features_profiled` times each stage.

use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, D};

use super::s3d_cpu;
use crate::config::S3dConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// BatchNorm3d eps of the PyTorch port (the default).
const BN_EPS: f64 = 1e-5;

/// Outputs of [`S3d::forward`], in f32.
#[derive(Debug, Clone)]
pub struct S3dOutput {
    /// `(B, embedding_dim)`: `fc` of the pooled features; the vector VideoCLIP consumes
    /// (after L2 normalisation, see [`S3d::features`]).
    pub video_embedding: Tensor,
    /// `(B, 1024)`: global average of `mixed_5c`.
    pub mixed_5c: Tensor,
}

/// Intermediate outputs at the checkpoints of docs/model-notes.md §8.1, in PyTorch layout
/// `(B, C, T, H, W)` (for parity tests and debugging).
#[derive(Debug, Clone)]
pub struct S3dTaps {
    pub s2d: Tensor,
    pub conv1: Tensor,
    pub mixed_3c: Tensor,
    pub mixed_4f: Tensor,
}

/// Activations `(B*T, C, H, W)` with their batch and time sizes.
#[derive(Debug, Clone)]
struct Act {
    x: Tensor,
    b: usize,
    t: usize,
}

impl Act {
    /// `(B, C, T, H, W)` as PyTorch lays it out.
    fn to_torch_layout(&self) -> Result<Tensor> {
        let (_, c, h, w) = self.x.dims4()?;
        Ok(self
            .x
            .reshape((self.b, self.t, c, h, w))?
            .permute((0, 2, 1, 3, 4))?
            .contiguous()?
            .to_dtype(DType::F32)?)
    }
}

/// What a profiled stage spends its time on (columns of the `vclip bench encode --profile` table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// u8 -> float, space-to-depth; the head (mean, fc, L2 norm).
    Io,
    /// `conv2d` (candle: im2col + GEMM + NHWC->NCHW copy, or cuDNN).
    Conv2d,
    /// 1x1x1 and temporal-tap GEMMs.
    Matmul,
    /// Bias + ReLU and the shifted sums over frames.
    Eltwise,
    /// Max pools (spatial and temporal, with their padding copies).
    Pool,
    /// Self-gating (mean, fc, sigmoid, multiply).
    Gate,
    /// Branch split and concat copies in the Inception blocks.
    Copy,
}

impl Kind {
    pub(crate) const ALL: [Kind; 7] = [
        Kind::Io,
        Kind::Conv2d,
        Kind::Matmul,
        Kind::Eltwise,
        Kind::Pool,
        Kind::Gate,
        Kind::Copy,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Io => "io",
            Kind::Conv2d => "conv2d",
            Kind::Matmul => "matmul",
            Kind::Eltwise => "eltwise",
            Kind::Pool => "pool",
            Kind::Gate => "gate",
            Kind::Copy => "copy",
        }
    }
}

/// Wall time of each stage of one forward pass, by stage (`conv1`, `mixed_3b`, ...) and [`Kind`],
/// with the device synchronised at every mark. Synchronising drains the GPU queue, so the stages
/// add up to a little more than an unprofiled pass.
#[derive(Debug)]
pub(crate) struct Profile {
    device: Device,
    last: Instant,
    /// `(stage, seconds by kind)` (indexed by `Kind as usize`, the order of `Kind::ALL`), in the
    /// order the stages ran.
    pub(crate) stages: Vec<(&'static str, [f64; Kind::ALL.len()])>,
}

impl Profile {
    pub(crate) fn start(device: &Device) -> Result<Self> {
        device.synchronize()?;
        Ok(Self {
            device: device.clone(),
            last: Instant::now(),
            stages: Vec::new(),
        })
    }

    /// Charges the time since the previous mark to `(stage, kind)`.
    fn mark(&mut self, stage: &'static str, kind: Kind) -> Result<()> {
        self.device.synchronize()?;
        let now = Instant::now();
        let dt = (now - self.last).as_secs_f64();
        self.last = now;
        match self.stages.last_mut() {
            Some((s, times)) if *s == stage => times[kind as usize] += dt,
            _ => {
                let mut times = [0.0; Kind::ALL.len()];
                times[kind as usize] = dt;
                self.stages.push((stage, times));
            }
        }
        Ok(())
    }
}

/// The optional profile threaded through a forward pass: marking is free when it is `None`.
type Prof<'a> = Option<&'a mut Profile>;

fn mark(prof: &mut Prof<'_>, stage: &'static str, kind: Kind) -> Result<()> {
    match prof {
        Some(p) => p.mark(stage, kind),
        None => Ok(()),
    }
}

/// `w @ x[i]` for every `i` of `x: (N, Cin, L)`, with `w: (Cout, Cin)` shared: one
/// strided-batched GEMM that reads `w` through a stride-0 batch dim. (`w.broadcast_matmul(x)`
/// would first copy `w` N times: candle only folds a broadcast *rhs*.)
fn matmul_shared(w: &Tensor, x: &Tensor) -> Result<Tensor> {
    let n = x.dim(0)?;
    let (cout, cin) = w.dims2()?;
    Ok(w.broadcast_as((n, cout, cin))?.matmul(x)?)
}

/// Loads `prefix.{conv}.weight` and `prefix.{bn}.*` and folds the BatchNorm into the conv:
/// `W' = W * gamma / sqrt(var + eps)`, `b' = beta - mean * gamma / sqrt(var + eps)`.
fn conv_bn(
    w: &Weights,
    prefix: &str,
    conv: &str,
    bn: &str,
    shape: &[usize],
) -> Result<(Tensor, Tensor)> {
    let cout = shape[0];
    let weight = w.get(&format!("{prefix}.{conv}.weight"), shape)?;
    let gamma = w.get(&format!("{prefix}.{bn}.weight"), &[cout])?;
    let beta = w.get(&format!("{prefix}.{bn}.bias"), &[cout])?;
    let mean = w.get(&format!("{prefix}.{bn}.running_mean"), &[cout])?;
    let var = w.get(&format!("{prefix}.{bn}.running_var"), &[cout])?;
    let scale = (gamma / (var + BN_EPS)?.sqrt()?)?;
    let mut bshape = vec![1usize; shape.len()];
    bshape[0] = cout;
    let weight = weight.broadcast_mul(&scale.reshape(bshape)?)?;
    let bias = (beta - (mean * &scale)?)?;
    Ok((weight, bias))
}

/// A 1x1x1 conv (+ folded BN) + ReLU: a matmul over channels.
#[derive(Debug, Clone)]
struct Pointwise {
    /// `(Cout, Cin)`.
    w: Tensor,
    /// `(Cout, 1)`.
    b: Tensor,
}

impl Pointwise {
    fn load(w: &Weights, prefix: &str, cin: usize, cout: usize) -> Result<Self> {
        let (weight, bias) = conv_bn(w, prefix, "conv1", "bn1", &[cout, cin, 1, 1, 1])?;
        Self::new(weight.reshape((cout, cin))?, bias)
    }

    fn new(w: Tensor, b: Tensor) -> Result<Self> {
        let cout = b.dim(0)?;
        Ok(Self {
            w,
            b: b.reshape((cout, 1))?,
        })
    }

    fn forward(&self, x: &Tensor, prof: &mut Prof<'_>, stage: &'static str) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let cout = self.w.dim(0)?;
        let y = matmul_shared(&self.w, &x.reshape((n, c, h * w))?)?;
        mark(prof, stage, Kind::Matmul)?;
        let y = if s3d_cpu::applies(&y) {
            s3d_cpu::bias_relu(&y, &self.b)?
        } else {
            y.broadcast_add(&self.b)?.relu()?
        };
        let y = y.reshape((n, cout, h, w))?;
        mark(prof, stage, Kind::Eltwise)?;
        Ok(y)
    }
}

/// `STConv3D(separable=True)` with k=3: (1,3,3) conv + BN + ReLU, then (3,1,1) conv + BN + ReLU.
#[derive(Debug, Clone)]
struct Separable {
    /// `(Cout, Cin, 3, 3)`.
    spatial_w: Tensor,
    /// `(1, Cout, 1)`.
    spatial_b: Tensor,
    /// `(3*Cout, Cout)`: the three temporal taps stacked on the output dim.
    temporal_w: Tensor,
    /// `(1, Cout, 1)`.
    temporal_b: Tensor,
}

impl Separable {
    fn load(w: &Weights, prefix: &str, cin: usize, cout: usize) -> Result<Self> {
        let (sw, sb) = conv_bn(w, prefix, "conv1", "bn1", &[cout, cin, 1, 3, 3])?;
        let (tw, tb) = conv_bn(w, prefix, "conv2", "bn2", &[cout, cout, 3, 1, 1])?;
        // (Cout, Cin, 3, 1, 1) -> (3, Cout, Cin) -> (3*Cout, Cin)
        let temporal_w = tw
            .reshape((cout, cout, 3))?
            .permute((2, 0, 1))?
            .contiguous()?
            .reshape((3 * cout, cout))?;
        Ok(Self {
            spatial_w: sw.reshape((cout, cin, 3, 3))?,
            spatial_b: sb.reshape((1, cout, 1))?,
            temporal_w,
            temporal_b: tb.reshape((1, cout, 1))?,
        })
    }

    fn forward(&self, a: &Act, prof: &mut Prof<'_>, stage: &'static str) -> Result<Tensor> {
        let y = if s3d_cpu::applies(&a.x) {
            s3d_cpu::conv2d(&a.x, &self.spatial_w, 1, [(1, 1); 2])?
        } else {
            a.x.conv2d(&self.spatial_w, 1, 1, 1, 1)?
        };
        mark(prof, stage, Kind::Conv2d)?;
        let (n, c, h, w) = y.dims4()?;
        let y = y.reshape((n, c, h * w))?;
        let y = if s3d_cpu::applies(&y) {
            s3d_cpu::bias_relu(&y, &self.spatial_b)?
        } else {
            y.broadcast_add(&self.spatial_b)?.relu()?
        };
        let y = y.reshape((n, c, h, w))?;
        mark(prof, stage, Kind::Eltwise)?;
        self.temporal(&y, a.b, a.t, prof, stage)
    }

    /// The (3,1,1) convolution with zero padding 1 in time, + bias + ReLU:
    /// `y[t] = W0 x[t-1] + W1 x[t] + W2 x[t+1]`, computed as one matmul with the stacked taps and a
    /// shifted sum over the `(B, T+2, 3*Q)` view of the zero-padded taps, `Q = Cout*H*W` (three
    /// dims: see the cost notes at the top).
    fn temporal(
        &self,
        x: &Tensor,
        b: usize,
        t: usize,
        prof: &mut Prof<'_>,
        stage: &'static str,
    ) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let cout = self.temporal_w.dim(0)? / 3;
        let q = cout * h * w;
        let z = matmul_shared(&self.temporal_w, &x.reshape((n, c, h * w))?)?;
        mark(prof, stage, Kind::Matmul)?;
        if s3d_cpu::applies(&z) {
            let y = s3d_cpu::taps_bias_relu(&z, &self.temporal_b, b, 3, 1)?;
            mark(prof, stage, Kind::Eltwise)?;
            return Ok(y.reshape((n, cout, h, w))?);
        }
        let z = z.reshape((b, t, 3 * q))?.pad_with_zeros(1, 1, 1)?;
        let y = ((z.narrow(1, 0, t)?.narrow(2, 0, q)? + z.narrow(1, 1, t)?.narrow(2, q, q)?)?
            + z.narrow(1, 2, t)?.narrow(2, 2 * q, q)?)?;
        let y = y
            .reshape((n, cout, h * w))?
            .broadcast_add(&self.temporal_b)?
            .relu()?
            .reshape((n, cout, h, w))?;
        mark(prof, stage, Kind::Eltwise)?;
        Ok(y)
    }
}

/// `SelfGating`: `x * sigmoid(fc(mean_{T,H,W} x))`.
#[derive(Debug, Clone)]
struct Gating {
    /// `(C, C)` transposed: `(Cin, Cout)` so that `m @ wt`.
    wt: Tensor,
    b: Tensor,
}

impl Gating {
    fn load(w: &Weights, prefix: &str, c: usize) -> Result<Self> {
        let weight = w.get(&format!("{prefix}.fc.weight"), &[c, c])?;
        let bias = w.get(&format!("{prefix}.fc.bias"), &[c])?;
        Ok(Self {
            wt: weight.t()?.contiguous()?,
            b: bias.reshape((1, c))?,
        })
    }

    fn forward(&self, x: &Tensor, b: usize, t: usize) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let xr = x.reshape((b, t, c, h * w))?;
        let m = mean_thw(&xr)?;
        let g = candle_nn::ops::sigmoid(&m.matmul(&self.wt)?.broadcast_add(&self.b)?)?;
        let y = xr.broadcast_mul(&g.reshape((b, 1, c, 1))?)?;
        Ok(y.reshape((n, c, h, w))?)
    }
}

/// Mean over time and space of `(B, T, C, H*W)` -> `(B, C)`, accumulated in f32.
fn mean_thw(x: &Tensor) -> Result<Tensor> {
    let dtype = x.dtype();
    let (b, _, c, _) = x.dims4()?;
    let m = x
        .to_dtype(DType::F32)?
        .mean_keepdim(3)?
        .mean_keepdim(1)?
        .reshape((b, c))?;
    Ok(m.to_dtype(dtype)?)
}

/// Zero padding `(lo, hi)` of TF 'SAME' with kernel `k`, stride `s` on a dim of size `len`,
/// plus the extra padding at the end that turns floor-mode pooling into PyTorch's `ceil_mode`.
/// Returns `(lo, hi, out_len)`.
fn same_ceil_padding(len: usize, k: usize, s: usize) -> Result<(usize, usize, usize)> {
    let total = k.saturating_sub(s);
    let (lo, hi) = (total / 2, total - total / 2);
    let padded = len + total;
    if padded < k {
        return Err(Error::Input(format!(
            "clip too small for S3D: a pooled dim has size {len} < kernel {k}"
        )));
    }
    let out = (padded - k).div_ceil(s) + 1;
    let extra = (out - 1) * s + k - padded;
    Ok((lo, hi + extra, out))
}

/// TF-SAME spatial max pool `(k,k)` stride `(s,s)` with ceil mode, on `(N, C, H, W)`.
fn max_pool_same_spatial(x: &Tensor, k: usize, s: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (hlo, hhi, _) = same_ceil_padding(h, k, s)?;
    let (wlo, whi, _) = same_ceil_padding(w, k, s)?;
    let x = x.pad_with_zeros(2, hlo, hhi)?.pad_with_zeros(3, wlo, whi)?;
    Ok(x.max_pool2d_with_stride((k, k), (s, s))?)
}

/// Max over time of `(B*T, C, H, W)` with kernel `k`, stride `s`, zero padding `(lo, hi)`;
/// the caller includes ceil-mode padding in `hi`. Returns the activations and the new T.
fn max_pool_time(a: &Act, k: usize, s: usize, lo: usize, hi: usize) -> Result<Act> {
    let (_, c, h, w) = a.x.dims4()?;
    let (b, t) = (a.b, a.t);
    let tp = t + lo + hi;
    let out = (tp - k) / s + 1;
    let x = a.x.reshape((b, t, c * h * w))?.pad_with_zeros(1, lo, hi)?;
    let mut y: Option<Tensor> = None;
    for j in 0..k {
        let sel = if s == 1 {
            x.narrow(1, j, out)?
        } else {
            let idx: Vec<u32> = (0..out).map(|o| (j + o * s) as u32).collect();
            let idx = Tensor::new(idx.as_slice(), x.device())?;
            x.index_select(&idx, 1)?
        };
        y = Some(match y {
            None => sel,
            Some(y) => y.maximum(&sel)?,
        });
    }
    let y = y.ok_or_else(|| Error::Input("empty pooling kernel".into()))?;
    Ok(Act {
        x: y.reshape((b * out, c, h, w))?,
        b,
        t: out,
    })
}

/// `MaxPool3dTFPadding(kernel, stride, 'SAME')` with ceil mode.
fn max_pool3d_same(a: &Act, k: [usize; 3], s: [usize; 3]) -> Result<Act> {
    if s3d_cpu::applies(&a.x) {
        let (_, _, h, w) = a.x.dims4()?;
        let pad = |len, d: usize| -> Result<(usize, usize)> {
            let (lo, hi, _) = same_ceil_padding(len, k[d], s[d])?;
            Ok((lo, hi))
        };
        let pad = [pad(a.t, 0)?, pad(h, 1)?, pad(w, 2)?];
        let (x, t) = s3d_cpu::max_pool3d(&a.x, a.b, k, s, pad)?;
        return Ok(Act { x, b: a.b, t });
    }
    max_pool3d_same_composed(a, k, s)
}

/// [`max_pool3d_same`] with candle's ops (a GPU, f16/bf16, gradients).
fn max_pool3d_same_composed(a: &Act, k: [usize; 3], s: [usize; 3]) -> Result<Act> {
    let x = if k[1] > 1 || s[1] > 1 {
        max_pool_same_spatial(&a.x, k[1], s[1])?
    } else {
        a.x.clone()
    };
    let a = Act { x, b: a.b, t: a.t };
    if k[0] == 1 && s[0] == 1 {
        return Ok(a);
    }
    let (lo, hi, _) = same_ceil_padding(a.t, k[0], s[0])?;
    max_pool_time(&a, k[0], s[0], lo, hi)
}

/// Inception `maxpool_b3`: `MaxPool3d(3, stride 1, padding 1)` (implicit -inf padding; inputs
/// are >= 0 so zero padding is the same).
fn max_pool3d_b3(a: &Act) -> Result<Act> {
    if s3d_cpu::applies(&a.x) {
        let (x, t) = s3d_cpu::max_pool3d(&a.x, a.b, [3; 3], [1; 3], [(1, 1); 3])?;
        return Ok(Act { x, b: a.b, t });
    }
    max_pool3d_b3_composed(a)
}

/// [`max_pool3d_b3`] with candle's ops.
fn max_pool3d_b3_composed(a: &Act) -> Result<Act> {
    let x = a.x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
    let x = x.max_pool2d_with_stride((3, 3), (1, 1))?;
    max_pool_time(&Act { x, b: a.b, t: a.t }, 3, 1, 1, 1)
}

/// An Inception block: 4 self-gated branches concatenated on channels. The three 1x1x1 convs
/// that read the block input are fused into one matmul.
#[derive(Debug, Clone)]
struct Inception {
    /// `mixed_3b`, ... (the profile's stage name).
    name: &'static str,
    fused: Pointwise,
    widths: [usize; 6],
    b1: Separable,
    b2: Separable,
    b3: Pointwise,
    gates: [Gating; 4],
}

impl Inception {
    fn load(w: &Weights, prefix: &'static str, cin: usize, o: [usize; 6]) -> Result<Self> {
        let [o0, o1a, o1b, o2a, o2b, o3b] = o;
        let mut ws = Vec::with_capacity(3);
        let mut bs = Vec::with_capacity(3);
        for (branch, cout) in [("conv_b0", o0), ("conv_b1_a", o1a), ("conv_b2_a", o2a)] {
            let (wt, bt) = conv_bn(
                w,
                &format!("{prefix}.{branch}"),
                "conv1",
                "bn1",
                &[cout, cin, 1, 1, 1],
            )?;
            ws.push(wt.reshape((cout, cin))?);
            bs.push(bt);
        }
        let fused = Pointwise::new(Tensor::cat(&ws, 0)?, Tensor::cat(&bs, 0)?)?;
        Ok(Self {
            name: prefix,
            fused,
            widths: o,
            b1: Separable::load(w, &format!("{prefix}.conv_b1_b"), o1a, o1b)?,
            b2: Separable::load(w, &format!("{prefix}.conv_b2_b"), o2a, o2b)?,
            b3: Pointwise::load(w, &format!("{prefix}.conv_b3_b"), cin, o3b)?,
            gates: [
                Gating::load(w, &format!("{prefix}.gating_b0"), o0)?,
                Gating::load(w, &format!("{prefix}.gating_b1"), o1b)?,
                Gating::load(w, &format!("{prefix}.gating_b2"), o2b)?,
                Gating::load(w, &format!("{prefix}.gating_b3"), o3b)?,
            ],
        })
    }

    fn forward(&self, a: &Act, prof: &mut Prof<'_>) -> Result<Act> {
        let [o0, o1a, _, o2a, _, _] = self.widths;
        let (b, t, name) = (a.b, a.t, self.name);
        let y = self.fused.forward(&a.x, prof, name)?;
        let x0 = y.narrow(1, 0, o0)?.contiguous()?;
        let x1 = Act {
            x: y.narrow(1, o0, o1a)?.contiguous()?,
            b,
            t,
        };
        let x2 = Act {
            x: y.narrow(1, o0 + o1a, o2a)?.contiguous()?,
            b,
            t,
        };
        mark(prof, name, Kind::Copy)?;
        let x1 = self.b1.forward(&x1, prof, name)?;
        let x2 = self.b2.forward(&x2, prof, name)?;
        let x3 = max_pool3d_b3(a)?.x;
        mark(prof, name, Kind::Pool)?;
        let x3 = self.b3.forward(&x3, prof, name)?;
        let out = [
            self.gates[0].forward(&x0, b, t)?,
            self.gates[1].forward(&x1, b, t)?,
            self.gates[2].forward(&x2, b, t)?,
            self.gates[3].forward(&x3, b, t)?,
        ];
        mark(prof, name, Kind::Gate)?;
        let x = Tensor::cat(&out, 1)?;
        mark(prof, name, Kind::Copy)?;
        Ok(Act { x, b, t })
    }
}

/// The S3D-G network with BatchNorm folded in.
#[derive(Debug, Clone)]
pub struct S3d {
    config: S3dConfig,
    dtype: DType,
    /// `(2*C1, 24, 4, 4)`: the two temporal taps of `conv1` stacked on the output dim.
    conv1_w: Tensor,
    /// `(1, C1, 1)`.
    conv1_b: Tensor,
    conv_2b: Pointwise,
    conv_2c: Separable,
    gating: Gating,
    blocks: Vec<Inception>,
    /// `fc.weight` transposed: `(1024, 512)`.
    fc_wt: Tensor,
    fc_b: Tensor,
}

impl S3d {
    /// Loads `s3d.safetensors` (tensor names of `s3d_howto100m.pth`) onto `device`, folding
    /// BatchNorm, and converts the weights to `dtype` (F32; F16/BF16 for GPU inference).
    pub fn load(path: &Path, config: &S3dConfig, device: &Device, dtype: DType) -> Result<Self> {
        let w = Weights::load(path, device)?;
        Self::from_weights(&w, config, dtype)
    }

    pub(crate) fn from_weights(w: &Weights, config: &S3dConfig, dtype: DType) -> Result<Self> {
        let c1 = config.conv1;
        let (cw, cb) = conv_bn(w, "conv1", "conv1", "bn1", &[c1, 24, 2, 4, 4])?;
        // (C1, 24, 2, 4, 4) -> (2, C1, 24, 4, 4) -> (2*C1, 24, 4, 4)
        let conv1_w = cw
            .permute((2, 0, 1, 3, 4))?
            .contiguous()?
            .reshape((2 * c1, 24, 4, 4))?;
        let conv1_b = cb.reshape((1, c1, 1))?;
        let conv_2b = Pointwise::load(w, "conv_2b", c1, config.conv_2b)?;
        let conv_2c = Separable::load(w, "conv_2c", config.conv_2b, config.conv_2c)?;
        let gating = Gating::load(w, "gating", config.conv_2c)?;
        let (block_cfg, cout) = config
            .block_inputs()
            .ok_or_else(|| Error::config(w.path(), "the S3D config lacks an Inception block"))?;
        let blocks = block_cfg
            .iter()
            .map(|blk| Inception::load(w, blk.name, blk.cin, blk.widths))
            .collect::<Result<Vec<_>>>()?;
        let e = config.embedding_dim;
        let fc_w = w.get("fc.weight", &[e, cout])?;
        let fc_b = w.get("fc.bias", &[e])?;
        let mut s3d = Self {
            config: config.clone(),
            dtype: DType::F32,
            conv1_w,
            conv1_b,
            conv_2b,
            conv_2c,
            gating,
            blocks,
            fc_wt: fc_w.t()?.contiguous()?,
            fc_b: fc_b.reshape((1, e))?,
        };
        if dtype != DType::F32 {
            s3d = s3d.to_dtype(dtype)?;
        }
        Ok(s3d)
    }

    /// The same network with its weights converted to `dtype`.
    pub fn to_dtype(&self, dtype: DType) -> Result<Self> {
        let cv = |t: &Tensor| t.to_dtype(dtype);
        let pw = |p: &Pointwise| -> Result<Pointwise> {
            Ok(Pointwise {
                w: cv(&p.w)?,
                b: cv(&p.b)?,
            })
        };
        let sep = |s: &Separable| -> Result<Separable> {
            Ok(Separable {
                spatial_w: cv(&s.spatial_w)?,
                spatial_b: cv(&s.spatial_b)?,
                temporal_w: cv(&s.temporal_w)?,
                temporal_b: cv(&s.temporal_b)?,
            })
        };
        let gate = |g: &Gating| -> Result<Gating> {
            Ok(Gating {
                wt: cv(&g.wt)?,
                b: cv(&g.b)?,
            })
        };
        let blocks = self
            .blocks
            .iter()
            .map(|blk| {
                Ok(Inception {
                    name: blk.name,
                    fused: pw(&blk.fused)?,
                    widths: blk.widths,
                    b1: sep(&blk.b1)?,
                    b2: sep(&blk.b2)?,
                    b3: pw(&blk.b3)?,
                    gates: [
                        gate(&blk.gates[0])?,
                        gate(&blk.gates[1])?,
                        gate(&blk.gates[2])?,
                        gate(&blk.gates[3])?,
                    ],
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            config: self.config.clone(),
            dtype,
            conv1_w: cv(&self.conv1_w)?,
            conv1_b: cv(&self.conv1_b)?,
            conv_2b: pw(&self.conv_2b)?,
            conv_2c: sep(&self.conv_2c)?,
            gating: gate(&self.gating)?,
            blocks,
            fc_wt: cv(&self.fc_wt)?,
            fc_b: cv(&self.fc_b)?,
        })
    }

    /// The sizes this network was built with.
    pub fn config(&self) -> &S3dConfig {
        &self.config
    }

    /// The weights' dtype (activations use it too).
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The device holding the weights.
    pub fn device(&self) -> &Device {
        self.conv1_w.device()
    }

    /// Runs the network on `x`: `(B, 3, T, H, W)` RGB in [0, 1] (no mean/std normalisation),
    /// T, H and W even (VideoCLIP: T=30, 224x224).
    pub fn forward(&self, x: &Tensor) -> Result<S3dOutput> {
        self.run(x, None, &mut None)
    }

    /// [`S3d::forward`] that also returns the intermediate outputs.
    pub fn forward_taps(&self, x: &Tensor) -> Result<(S3dOutput, S3dTaps)> {
        let mut taps = Vec::with_capacity(4);
        let out = self.run(x, Some(&mut taps), &mut None)?;
        let mut taps = taps.into_iter();
        let mut next = || {
            taps.next()
                .ok_or_else(|| Error::Input("internal: missing S3D tap".into()))
        };
        let taps = S3dTaps {
            s2d: next()?,
            conv1: next()?,
            mixed_3c: next()?,
            mixed_4f: next()?,
        };
        Ok((out, taps))
    }

    /// Per-clip features as VideoCLIP was trained on them: uint8 frames `(B, 3, T, H, W)`
    /// divided by 255, S3D, then `video_embedding` L2-normalised. Returns `(B, 512)` f32.
    pub fn features(&self, frames: &Tensor) -> Result<Tensor> {
        self.features_with(frames, &mut None)
    }

    /// [`S3d::features`] timing each stage into `prof` (`vclip bench encode --profile`).
    pub(crate) fn features_profiled(&self, frames: &Tensor, prof: &mut Profile) -> Result<Tensor> {
        self.features_with(frames, &mut Some(prof))
    }

    fn features_with(&self, frames: &Tensor, prof: &mut Prof<'_>) -> Result<Tensor> {
        if frames.dtype() != DType::U8 {
            return Err(Error::Input(format!(
                "S3D features expect uint8 frames, got {:?}",
                frames.dtype()
            )));
        }
        let x = (frames.to_dtype(DType::F32)? / 255.0)?;
        let emb = self.run(&x, None, prof)?.video_embedding;
        let emb = l2_normalize(&emb)?;
        mark(prof, "head", Kind::Io)?;
        Ok(emb)
    }

    fn run(
        &self,
        x: &Tensor,
        mut taps: Option<&mut Vec<Tensor>>,
        prof: &mut Prof<'_>,
    ) -> Result<S3dOutput> {
        let (b, c, t, h, w) = x.dims5().map_err(|_| {
            Error::Input(format!("S3D expects (B, 3, T, H, W), got {:?}", x.dims()))
        })?;
        if c != 3 || t % 2 != 0 || h % 2 != 0 || w % 2 != 0 || t < 2 {
            return Err(Error::Input(format!(
                "S3D expects (B, 3, T, H, W) with T, H, W even, got {:?}",
                x.dims()
            )));
        }
        let x = x.to_device(self.device())?.to_dtype(self.dtype)?;
        let (t2, h2, w2) = (t / 2, h / 2, w / 2);
        // Space-to-depth: channel = dt*12 + dh*6 + dw*3 + c, frames-major.
        let s2d = x
            .reshape(vec![b, 3, t2, 2, h2, 2, w2, 2])?
            .permute(vec![0, 2, 3, 5, 7, 1, 4, 6])?
            .contiguous()?
            .reshape((b * t2, 24, h2, w2))?;
        let mut a = Act { x: s2d, b, t: t2 };
        mark(prof, "input", Kind::Io)?;
        if let Some(taps) = taps.as_deref_mut() {
            taps.push(a.to_torch_layout()?);
        }

        // conv1 (2,4,4), pad (1,2,2), crop [1:,1:,1:] == pad T (0,1), H/W (1,2), valid conv;
        // the two temporal taps are summed over the `(B, T/2 + 1, 2*Q)` view, Q = C1*H*W.
        let c1 = self.config.conv1;
        let q = c1 * h2 * w2;
        let z = if s3d_cpu::applies(&a.x) {
            s3d_cpu::conv2d(&a.x, &self.conv1_w, 1, [(1, 2); 2])?
        } else {
            let xp = a.x.pad_with_zeros(2, 1, 2)?.pad_with_zeros(3, 1, 2)?;
            xp.conv2d(&self.conv1_w, 0, 1, 1, 1)?
        };
        mark(prof, "conv1", Kind::Conv2d)?;
        a.x = if s3d_cpu::applies(&z) {
            let z = z.reshape((b * t2, 2 * c1, h2 * w2))?;
            s3d_cpu::taps_bias_relu(&z, &self.conv1_b, b, 2, 0)?
        } else {
            let z = z.reshape((b, t2, 2 * q))?.pad_with_zeros(1, 0, 1)?;
            let y =
                (z.narrow(1, 0, t2)?.narrow(2, 0, q)? + z.narrow(1, 1, t2)?.narrow(2, q, q)?)?;
            y.reshape((b * t2, c1, h2 * w2))?
                .broadcast_add(&self.conv1_b)?
                .relu()?
        }
        .reshape((b * t2, c1, h2, w2))?;
        mark(prof, "conv1", Kind::Eltwise)?;
        if let Some(taps) = taps.as_deref_mut() {
            taps.push(a.to_torch_layout()?);
        }

        a = max_pool3d_same(&a, [1, 3, 3], [1, 2, 2])?;
        mark(prof, "maxpool_2a", Kind::Pool)?;
        a.x = self.conv_2b.forward(&a.x, prof, "conv_2b")?;
        a.x = self.conv_2c.forward(&a, prof, "conv_2c")?;
        a.x = self.gating.forward(&a.x, a.b, a.t)?;
        mark(prof, "gating", Kind::Gate)?;
        a = max_pool3d_same(&a, [1, 3, 3], [1, 2, 2])?;
        mark(prof, "maxpool_3a", Kind::Pool)?;
        for (i, block) in self.blocks.iter().enumerate() {
            match i {
                2 => {
                    a = max_pool3d_same(&a, [3, 3, 3], [2, 2, 2])?;
                    mark(prof, "maxpool_4a", Kind::Pool)?;
                }
                7 => {
                    a = max_pool3d_same(&a, [2, 2, 2], [2, 2, 2])?;
                    mark(prof, "maxpool_5a", Kind::Pool)?;
                }
                _ => {}
            }
            a = block.forward(&a, prof)?;
            if i == 1 || i == 6 {
                if let Some(taps) = taps.as_deref_mut() {
                    taps.push(a.to_torch_layout()?);
                }
            }
        }
        let (_, cout, hh, ww) = a.x.dims4()?;
        let pooled = mean_thw(&a.x.reshape((b, a.t, cout, hh * ww))?)?;
        let emb = pooled.matmul(&self.fc_wt)?.broadcast_add(&self.fc_b)?;
        Ok(S3dOutput {
            video_embedding: emb.to_dtype(DType::F32)?,
            mixed_5c: pooled.to_dtype(DType::F32)?,
        })
    }
}

/// Builds the S3D input `(B, 3, T, H, W)` uint8 on `device` from clips laid out as the media
/// layer decodes them: `B` clips of `T` frames of `H x W` RGB24 pixels, `(B, T, H, W, 3)` bytes.
pub fn clips_from_thwc(
    data: Vec<u8>,
    batch: usize,
    frames: usize,
    height: usize,
    width: usize,
    device: &Device,
) -> Result<Tensor> {
    let want = batch * frames * height * width * 3;
    if data.len() != want {
        return Err(Error::Input(format!(
            "{} bytes for {batch} clips of {frames}x{height}x{width}x3 (= {want})",
            data.len()
        )));
    }
    let t = Tensor::from_vec(data, (batch, frames, height, width, 3), device)?;
    Ok(t.permute((0, 4, 1, 2, 3))?.contiguous()?)
}

/// Divides each row of `(N, D)` by its L2 norm.
pub fn l2_normalize(x: &Tensor) -> Result<Tensor> {
    // As PyTorch's F.normalize: the norm is clamped at 1e-12, so a zero vector stays zero
    // instead of becoming NaN.
    let norm = x
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .sqrt()?
        .clamp(1e-12f64, f64::INFINITY)?;
    Ok(x.broadcast_div(&norm)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Non-negative pseudo-random activations (pools follow a ReLU or a gate), with exact
    /// zeros and ties.
    fn acts(b: usize, t: usize, c: usize, h: usize, w: usize, seed: u64) -> Result<Act> {
        let n = b * t * c * h * w;
        let mut s = seed | 1;
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) % 13) as f32 * 0.25 - 1.0
            })
            .map(|v: f32| v.max(0.0))
            .collect();
        let x = Tensor::from_vec(v, (b * t, c, h, w), &Device::Cpu)?;
        Ok(Act { x, b, t })
    }

    fn values(a: &Act) -> Result<(Vec<usize>, usize, Vec<f32>)> {
        Ok((a.x.dims().to_vec(), a.t, a.x.flatten_all()?.to_vec1()?))
    }

    #[test]
    fn fused_pools_give_the_composed_ops_numbers() -> Result<()> {
        // Every pool S3D-G runs, on even and odd sizes (ceil mode adds padding on odd ones).
        let pools = [
            ([1, 3, 3], [1, 2, 2]),
            ([3, 3, 3], [2, 2, 2]),
            ([2, 2, 2], [2, 2, 2]),
        ];
        for (b, t, c, h, w) in [
            (2, 4, 3, 8, 6),
            (1, 5, 2, 7, 9),
            (3, 3, 1, 4, 5),
            (1, 2, 2, 2, 3),
        ] {
            let a = acts(b, t, c, h, w, (b * 31 + t * 7 + h) as u64)?;
            for (k, s) in pools {
                let want = values(&max_pool3d_same_composed(&a, k, s)?)?;
                assert_eq!(
                    values(&max_pool3d_same(&a, k, s)?)?,
                    want,
                    "{k:?} {s:?} on {:?}",
                    a.x.dims()
                );
            }
            let want = values(&max_pool3d_b3_composed(&a)?)?;
            assert_eq!(values(&max_pool3d_b3(&a)?)?, want, "b3 on {:?}", a.x.dims());
        }
        Ok(())
    }

    #[test]
    fn fused_pool_counts_padding_as_zero_and_refuses_small_inputs() -> Result<()> {
        // All-negative values (never seen after a ReLU) show the padding's zeros: a window
        // touching the padding gives 0, one inside the tensor gives its max.
        let x = Tensor::from_vec(vec![-1f32, -2., -3., -4.], (1, 1, 1, 4), &Device::Cpu)?;
        let (y, t) = s3d_cpu::max_pool3d(&x, 1, [1, 1, 2], [1, 1, 1], [(0, 0), (0, 0), (1, 1)])?;
        assert_eq!(t, 1);
        assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, [0., -1., -2., -3., 0.]);
        let err = s3d_cpu::max_pool3d(&x, 1, [3, 1, 1], [1, 1, 1], [(0, 0); 3]);
        assert!(
            err.is_err(),
            "a kernel longer than the clip must be refused"
        );
        Ok(())
    }
}
