//! S3D-G's element-wise work fused into single passes on the CPU (f32), where the composed
//! candle ops made several passes over tensors of hundreds of megabytes: zero-padded copies,
//! strided narrows, one temporary per add, then the bias and the ReLU.
//!
//! - [`bias_relu`]: `relu(x + b[c])` over `(N, C, L)` — after every 1x1x1 and spatial conv;
//! - [`taps_bias_relu`]: the shifted sum of a temporal conv's taps, computed by one GEMM or
//!   conv2d as `(B*T, taps*C, L)`, plus the bias and the ReLU:
//!   `y[b, t, c] = relu((Σ_j z[b, t + j - lo, j*C + c]) + bias[c])`, taps outside `0..T`
//!   counting as zeros.
//!
//! Both add in the order the composed ops did (tap 0 first, each missing tap as `+ 0.0`, then the
//! bias), so the results are the same numbers. Elsewhere (a GPU, f16/bf16, gradients) the caller
//! keeps the composed ops.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use crate::cpu::contiguous_f32;

/// Whether the fused ops apply to `x`: f32 on the CPU, no gradient.
pub(crate) fn applies(x: &Tensor) -> bool {
    x.device().is_cpu() && x.dtype() == DType::F32 && !x.track_op()
}

/// `relu(x + bias[c])` for `x: (N, C, L)` (any layout: made contiguous) and `bias` with `C`
/// values.
pub(crate) fn bias_relu(x: &Tensor, bias: &Tensor) -> candle_core::Result<Tensor> {
    x.contiguous()?
        .apply_op2_no_bwd(&bias.flatten_all()?.contiguous()?, &BiasRelu)
}

struct BiasRelu;

impl CustomOp2 for BiasRelu {
    fn name(&self) -> &'static str {
        "vclip-s3d-bias-relu"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = contiguous_f32(xs, xl, "bias-relu")?;
        let bias = contiguous_f32(bs, bl, "bias-relu")?;
        let (_, c, l) = xl.shape().dims3()?;
        if bias.len() != c || l == 0 {
            candle_core::bail!("bias-relu: {} biases for {c} channels", bias.len())
        }
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(l)
            .zip(x.par_chunks(l))
            .enumerate()
            .for_each(|(i, (o, x))| {
                let b = bias[i % c];
                for (o, &x) in o.iter_mut().zip(x) {
                    *o = (x + b).max(0.0);
                }
            });
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }
}

/// The temporal taps' shifted sum + bias + ReLU (see the module docs): `z` is
/// `(B*T, taps*C, L)`, the result `(B*T, C, L)`; tap `j` of frame `t` reads frame `t + j - lo`.
pub(crate) fn taps_bias_relu(
    z: &Tensor,
    bias: &Tensor,
    b: usize,
    taps: usize,
    lo: usize,
) -> candle_core::Result<Tensor> {
    z.contiguous()?.apply_op2_no_bwd(
        &bias.flatten_all()?.contiguous()?,
        &TapsBiasRelu { b, taps, lo },
    )
}

struct TapsBiasRelu {
    b: usize,
    taps: usize,
    lo: usize,
}

impl CustomOp2 for TapsBiasRelu {
    fn name(&self) -> &'static str {
        "vclip-s3d-taps-bias-relu"
    }

    fn cpu_fwd(
        &self,
        zs: &CpuStorage,
        zl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let z = contiguous_f32(zs, zl, "taps-bias-relu")?;
        let bias = contiguous_f32(bs, bl, "taps-bias-relu")?;
        let (n, tc, l) = zl.shape().dims3()?;
        let (b, taps, lo) = (self.b, self.taps, self.lo);
        let c = bias.len();
        if b == 0 || !n.is_multiple_of(b) || taps == 0 || lo >= taps || tc != taps * c || l == 0 {
            candle_core::bail!(
                "taps-bias-relu: {n}x{tc}x{l} is not {b} clips of {taps} taps of {c}"
            )
        }
        let t = n / b;
        let mut out = vec![0f32; n * c * l];
        // One task per (frame, channel) row of the output.
        out.par_chunks_mut(l).enumerate().for_each(|(row, o)| {
            let (frame, ch) = (row / c, row % c);
            let (clip, ti) = (frame / t, frame % t);
            let tap = |j: usize| -> Option<&[f32]> {
                let src = (ti + j).checked_sub(lo).filter(|s| *s < t)?;
                let start = ((clip * t + src) * tc + j * c + ch) * l;
                Some(&z[start..start + l])
            };
            match tap(0) {
                Some(first) => o.copy_from_slice(first),
                None => o.fill(0.0),
            }
            for j in 1..taps {
                match tap(j) {
                    Some(src) => o.iter_mut().zip(src).for_each(|(o, &v)| *o += v),
                    // The composed ops added the zero padding: `x + 0.0` (only -0.0 changes).
                    None => o.iter_mut().for_each(|o| *o += 0.0),
                }
            }
            let bc = bias[ch];
            o.iter_mut().for_each(|o| *o = (*o + bc).max(0.0));
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, l))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn rand(shape: &[usize], seed: u64) -> candle_core::Result<Tensor> {
        let n: usize = shape.iter().product();
        let mut s = seed | 1;
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu)
    }

    /// The composed ops the fused one replaces (s3d.rs before it, and still on a GPU).
    fn composed(z: &Tensor, bias: &Tensor, b: usize, taps: usize, lo: usize) -> Result<Tensor> {
        let (n, tc, l) = z.dims3()?;
        let (t, c) = (n / b, tc / taps);
        let q = c * l;
        let zp = z
            .reshape((b, t, taps * q))?
            .pad_with_zeros(1, lo, taps - 1 - lo)?;
        let mut y = zp.narrow(1, 0, t)?.narrow(2, 0, q)?;
        for j in 1..taps {
            y = (y + zp.narrow(1, j, t)?.narrow(2, j * q, q)?)?;
        }
        y.reshape((n, c, l))?
            .broadcast_add(&bias.reshape((c, 1))?)?
            .relu()
    }

    type Result<T> = candle_core::Result<T>;

    #[test]
    fn fused_taps_give_the_composed_ops_numbers() -> Result<()> {
        // The temporal (3,1,1) conv (taps 3, pad 1) and conv1's two taps (pad 0 before).
        for (b, t, c, l, taps, lo) in [(2, 5, 3, 7, 3, 1), (1, 1, 4, 5, 3, 1), (3, 4, 2, 6, 2, 0)] {
            let z = rand(&[b * t, taps * c, l], (b * 100 + t) as u64)?;
            let bias = rand(&[c], 9)?;
            let want = composed(&z, &bias, b, taps, lo)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            let got = taps_bias_relu(&z, &bias, b, taps, lo)?;
            assert_eq!(got.dims(), &[b * t, c, l]);
            assert_eq!(
                got.flatten_all()?.to_vec1::<f32>()?,
                want,
                "{b}x{t}, taps {taps}"
            );
        }
        Ok(())
    }

    #[test]
    fn fused_bias_relu_gives_the_composed_ops_numbers() -> Result<()> {
        let x = rand(&[4, 6, 9], 3)?;
        let bias = rand(&[6], 4)?;
        let want = x.broadcast_add(&bias.reshape((1, 6, 1))?)?.relu()?;
        let got = bias_relu(&x, &bias)?;
        assert_eq!(got.to_vec3::<f32>()?, want.to_vec3::<f32>()?);
        // A non-contiguous input is made contiguous first.
        let xt = rand(&[4, 9, 6], 5)?.transpose(1, 2)?;
        let want = xt.broadcast_add(&bias.reshape((1, 6, 1))?)?.relu()?;
        assert_eq!(
            bias_relu(&xt, &bias)?.to_vec3::<f32>()?,
            want.to_vec3::<f32>()?
        );
        Ok(())
    }
}
