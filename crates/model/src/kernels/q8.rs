//! 8-bit dense layers on the CPU as a candle op: `y = x Wᵀ + b` through `vclip-kernels`'
//! [`PackedQ8`] (ggml `q8_0` weights and `q8_K` activations, the integers and block scales of
//! candle's quantized matmul; one kernel per instruction set, AVX-512 VNNI, AVX-VNNI, AVX2 and
//! NEON dot product, all bit-identical to one scalar reference).
//!
//! Elsewhere (a level without a kernel, a GPU, widths that are not multiples of 256 and 32,
//! gradients) candle's `QMatMul` runs. [`set_q8_kernel`] switches to it for A/B measurements.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
pub(crate) use vclip_kernels::PackedQ8;
pub use vclip_kernels::Q8Path;

/// Which code multiplies the 8-bit dense layers on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Q8Kernel {
    /// VClip's kernel for the CPU's level ([`q8_path`] says which).
    Vclip,
    /// candle's `QMatMul`.
    Candle,
}

static USE_CANDLE: AtomicBool = AtomicBool::new(false);

/// Chooses the kernel for every 8-bit layer of the process (for benchmarks: the default, and
/// the only sensible choice, is [`Q8Kernel::Vclip`] where the CPU has one).
pub fn set_q8_kernel(kernel: Q8Kernel) {
    USE_CANDLE.store(kernel == Q8Kernel::Candle, Ordering::Relaxed);
}

/// The kernel the 8-bit layers use now: [`Q8Kernel::Vclip`] where the current level has one
/// ([`q8_path`]) and it was not switched off.
pub fn q8_kernel() -> Q8Kernel {
    if !USE_CANDLE.load(Ordering::Relaxed) && q8_path().is_some() {
        Q8Kernel::Vclip
    } else {
        Q8Kernel::Candle
    }
}

/// VClip's 8-bit kernel at the current level ([`crate::cpu::cpu_level`]), if it has one.
pub fn q8_path() -> Option<Q8Path> {
    vclip_kernels::q8_path()
}

/// Whether dense layers made 8-bit now should be packed for VClip's kernel.
pub(crate) fn packs() -> bool {
    q8_path().is_some()
}

/// `weight` (`n` x `k`) and `bias` packed for the kernel, or `None` where the shape does not
/// fit it.
pub(crate) fn pack(weight: &[f32], bias: &[f32], n: usize, k: usize) -> Option<Arc<PackedQ8>> {
    PackedQ8::new(weight, bias, n, k).map(Arc::new)
}

/// `x Wᵀ + b` through the kernel as a candle op, or `None` where it does not apply (kernel off
/// or missing, not f32 on the CPU, gradients flowing, another width).
pub(crate) fn forward(packed: &Arc<PackedQ8>, x: &Tensor) -> candle_core::Result<Option<Tensor>> {
    let Some(path) = q8_path() else {
        return Ok(None);
    };
    if USE_CANDLE.load(Ordering::Relaxed)
        || !x.device().is_cpu()
        || x.dtype() != DType::F32
        || x.track_op()
        || x.rank() == 0
        || x.dims()[x.rank() - 1] != packed.k()
    {
        return Ok(None);
    }
    let x = x.contiguous()?;
    Ok(Some(x.apply_op1_no_bwd(&Q8Op(packed.clone(), path))?))
}

/// The packed layer and the kernel chosen when the op was built (a cap changed meanwhile by
/// another thread only affects the next product).
struct Q8Op(Arc<PackedQ8>, Q8Path);

impl CustomOp1 for Q8Op {
    fn name(&self) -> &'static str {
        "vclip-q8-matmul"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = crate::cpu::contiguous_f32(storage, layout, "q8 matmul")?;
        let w = &self.0;
        let m = x.len() / w.k();
        let mut out = vec![0f32; m * w.n()];
        w.matmul_with(self.1, x, &mut out);
        let mut dims = layout.shape().dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = w.n();
        }
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::k_quants::{BlockQ8K, BlockQ8_0, GgmlType};
    use candle_core::Device;
    use vclip_kernels::q8::{quantize_q8_0, quantize_row_scalar, AB, WB};

    /// Deterministic values with a spread of magnitudes and both signs.
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                if i % 97 == 0 {
                    u * 40.0
                } else {
                    u
                }
            })
            .collect()
    }

    #[test]
    fn weights_quantize_to_candles_q8_0() {
        let xs = values(64 * 32, 1);
        let mut blocks = vec![BlockQ8_0::zeros(); 64];
        BlockQ8_0::from_float(&xs, &mut blocks);
        let mut want = vec![0f32; xs.len()];
        BlockQ8_0::to_float(&blocks, &mut want);
        for (b, (xs, want)) in xs.chunks_exact(WB).zip(want.chunks_exact(WB)).enumerate() {
            let (q, d) = quantize_q8_0(xs);
            for (i, (&q, &want)) in q.iter().zip(want).enumerate() {
                assert_eq!(f32::from(q) * d, want, "block {b}, value {i}");
            }
        }
    }

    #[test]
    fn activations_quantize_to_candles_q8_k() {
        let mut xs = values(4 * AB, 2);
        // An all-zero block and a block whose largest value is negative.
        xs[AB..2 * AB].fill(0.0);
        xs[2 * AB + 5] = -100.0;
        let mut blocks = vec![BlockQ8K::zeros(); 4];
        BlockQ8K::from_float(&xs, &mut blocks);
        let mut want = vec![0f32; xs.len()];
        BlockQ8K::to_float(&blocks, &mut want);
        let (mut q, mut s) = (vec![0u8; xs.len()], vec![0f32; 4]);
        quantize_row_scalar(&xs, &mut q, &mut s);
        for (i, (&q, &want)) in q.iter().zip(&want).enumerate() {
            let got = (i32::from(q) - 128) as f32 * s[i / AB];
            assert_eq!(got, want, "value {i}");
        }
    }

    /// Random weights and activations through candle's `q8_0` x `q8_K` scheme, written out:
    /// candle's own quantizers (`BlockQ8_0`, `BlockQ8K`, plain scalar code on every CPU)
    /// dequantized and multiplied in f64, against the kernels' scalar reference (every kernel
    /// is bit-identical to it: `vclip-kernels`' tests).
    #[test]
    fn the_reference_computes_candles_q8_scheme() {
        for (m, n, k) in [(1, 64, 256), (7, 64, 256), (34, 96, 768)] {
            let wv = values(n * k, 3 + n as u64);
            let bv = values(n, 4);
            let xv = values(m * k, 5 + m as u64);
            let mut wb = vec![BlockQ8_0::zeros(); n * k / WB];
            BlockQ8_0::from_float(&wv, &mut wb);
            let mut wd = vec![0f32; n * k];
            BlockQ8_0::to_float(&wb, &mut wd);
            let mut xb = vec![BlockQ8K::zeros(); m * k / AB];
            BlockQ8K::from_float(&xv, &mut xb);
            let mut xd = vec![0f32; m * k];
            BlockQ8K::to_float(&xb, &mut xd);
            let scheme: Vec<f32> = (0..m * n)
                .map(|i| {
                    let (r, c) = (i / n, i % n);
                    let x = &xd[r * k..(r + 1) * k];
                    let w = &wd[c * k..(c + 1) * k];
                    let dot: f64 = x
                        .iter()
                        .zip(w)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    (dot + f64::from(bv[c])) as f32
                })
                .collect();
            let packed = PackedQ8::new(&wv, &bv, n, k).expect("shape fits");
            let mut reference = vec![0f32; m * n];
            packed.matmul_reference(&xv, &mut reference);
            let scale = scheme.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (i, (a, b)) in reference.iter().zip(&scheme).enumerate() {
                assert!(
                    (a - b).abs() <= 2e-6 * scale,
                    "{m}x{n}x{k}: output {i}: {a} vs the q8_0 x q8_K scheme {b}"
                );
            }
        }
    }

    #[test]
    fn forward_takes_the_kernel_and_keeps_leading_dims() -> candle_core::Result<()> {
        let (n, k) = (32, 256);
        let packed = pack(&values(n * k, 6), &values(n, 7), n, k).expect("shape fits");
        let x = Tensor::from_vec(values(2 * 3 * k, 8), (2, 3, k), &Device::Cpu)?;
        match forward(&packed, &x)? {
            Some(y) => {
                assert_eq!(y.dims(), &[2, 3, n]);
                let mut want = vec![0f32; 6 * n];
                packed.matmul_reference(&x.flatten_all()?.to_vec1()?, &mut want);
                assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, want);
            }
            None => assert!(
                q8_path().is_none(),
                "the kernel was skipped on a CPU that has it"
            ),
        }
        // Another width or a non-f32 input is not the kernel's.
        let other = Tensor::zeros((2, 128), DType::F32, &Device::Cpu)?;
        assert!(forward(&packed, &other)?.is_none());
        assert!(forward(&packed, &x.to_dtype(DType::F64)?)?.is_none());
        Ok(())
    }
}
