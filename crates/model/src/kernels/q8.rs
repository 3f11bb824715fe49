//! 8-bit dense layers on the CPU: `y = x Wᵀ + b` with ggml `q8_0` weights (8 bits, one f16 scale
//! per 32 inputs) and `q8_K` activations (8 bits, one f32 scale per 256 inputs, quantized on the
//! fly) — the integers and block scales of candle's quantized matmul, so the numbers are candle's
//! up to the order of the float sums — laid out for AVX-512 VNNI:
//! - the weights are packed once into panels of 32 output columns with 4 consecutive inputs per
//!   32-bit lane, so one `vpdpbusd` multiplies 4 inputs of a row into 16 columns;
//! - a micro-tile of 6 rows x 32 columns shares each broadcast activation between two products
//!   and each weight load between twelve (candle's tile is 4 x 16);
//! - activations enter unsigned (+128) and weights signed, so the +128 correction is a per-column
//!   constant that starts each block's integer sum instead of a subtraction per block and row;
//! - a block's integer sum is scaled by the weights' scale into a per-256 partial sum, and only
//!   that is scaled by the activation's scale (candle multiplies both scales per 32);
//! - each parallel task quantizes its own rows with AVX-512 (candle's scalar quantization took
//!   13 % of the image tower) and adds the bias in the final store.
//!
//! Elsewhere (no AVX-512 VNNI, a GPU, widths that are not multiples of 256 and 32, gradients)
//! candle's `QMatMul` runs. [`set_q8_kernel`] switches to it for A/B measurements.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Shape, Tensor};
use half::f16;

/// Inputs per weight block (ggml `q8_0`).
const WB: usize = 32;
/// Inputs per activation block (ggml `q8_K`).
const AB: usize = 256;
/// Output columns per panel: two 16-lane vectors.
const NR: usize = 32;
/// Rows per micro-tile.
const MR: usize = 6;
/// Rows per parallel task: each task quantizes them once and runs every panel over them.
const CHUNK: usize = 4 * MR;

/// Which code multiplies the 8-bit dense layers on the CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Q8Kernel {
    /// This module's AVX-512 VNNI kernel (where the CPU has it).
    Vclip,
    /// candle's `QMatMul`.
    Candle,
}

static USE_CANDLE: AtomicBool = AtomicBool::new(false);

/// Chooses the kernel for every 8-bit layer of the process (for benchmarks: the default, and
/// the only sensible choice, is [`Q8Kernel::Vclip`] where the CPU supports it).
pub fn set_q8_kernel(kernel: Q8Kernel) {
    USE_CANDLE.store(kernel == Q8Kernel::Candle, Ordering::Relaxed);
}

/// The kernel the 8-bit layers use now: [`Q8Kernel::Vclip`] only where the CPU has AVX-512 VNNI
/// and it was not switched off.
pub fn q8_kernel() -> Q8Kernel {
    if !USE_CANDLE.load(Ordering::Relaxed) && vnni() {
        Q8Kernel::Vclip
    } else {
        Q8Kernel::Candle
    }
}

/// Whether the kernel may run: the CPU has AVX-512 F, BW and VNNI and the level is not capped
/// below them ([`crate::cpu::cpu_level`]).
pub(crate) fn vnni() -> bool {
    crate::cpu::cpu_level() >= crate::cpu::CpuLevel::Avx512Vnni
}

/// A dense layer's weights packed for the kernel.
#[derive(Debug)]
pub(crate) struct PackedQ8 {
    /// Output columns.
    n: usize,
    /// Inputs.
    k: usize,
    /// `[panel][block][group of 4 inputs (8)][half (2)][column (16)][4]`: `WB * NR` bytes per
    /// (panel, block).
    qs: Vec<i8>,
    /// `[panel][block][column (32)]`: the block's scale (the stored f16, widened).
    d: Vec<f32>,
    /// `[panel][block][column (32)]`: `-128 * sum of the block's weights`, the correction for
    /// the activations' +128.
    corr: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedQ8 {
    /// Quantizes `weight` (`n` rows of `k`, row-major) as `q8_0` and packs it; `None` when the
    /// shape does not fit the kernel (`k` a multiple of 256, `n` of 32).
    pub(crate) fn new(weight: &[f32], bias: &[f32], n: usize, k: usize) -> Option<Self> {
        if n == 0
            || k == 0
            || !n.is_multiple_of(NR)
            || !k.is_multiple_of(AB)
            || weight.len() != n * k
            || bias.len() != n
        {
            return None;
        }
        let blocks = k / WB;
        let mut qs = vec![0i8; n * k];
        let mut d = vec![0f32; n * blocks];
        let mut corr = vec![0i32; n * blocks];
        for (c, row) in weight.chunks_exact(k).enumerate() {
            let (panel, lane) = (c / NR, c % NR);
            let (half, col) = (lane / 16, lane % 16);
            for (b, xs) in row.chunks_exact(WB).enumerate() {
                let (q, scale) = quantize_q8_0(xs);
                let tile = panel * blocks + b;
                d[tile * NR + lane] = scale;
                corr[tile * NR + lane] = -128 * q.iter().map(|&v| i32::from(v)).sum::<i32>();
                for (i, &v) in q.iter().enumerate() {
                    let (g, j) = (i / 4, i % 4);
                    qs[tile * WB * NR + ((g * 2 + half) * 16 + col) * 4 + j] = v;
                }
            }
        }
        Some(Self {
            n,
            k,
            qs,
            d,
            corr,
            bias: bias.to_vec(),
        })
    }

    /// `x` (`m` rows of `k`) -> `out` (`m` rows of `n`) with the AVX-512 VNNI kernel, in
    /// parallel over chunks of rows.
    ///
    /// # Panics
    /// On a CPU without AVX-512 VNNI ([`forward`] never gets here then).
    fn matmul(&self, x: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        // What the CPU has, not the cap: a cap set by another thread meanwhile only changes
        // which kernel the next product takes.
        assert!(
            crate::cpu::detected_level() >= crate::cpu::CpuLevel::Avx512Vnni,
            "the 8-bit kernel needs AVX-512 F, BW and VNNI"
        );
        let (n, k) = (self.n, self.k);
        out.par_chunks_mut(CHUNK * n)
            .zip(x.par_chunks(CHUNK * k))
            .for_each(|(out, x)| {
                let rows = x.len() / k;
                let mut q = vec![0u8; rows * k];
                let mut s = vec![0f32; rows * (k / AB)];
                for ((x, q), s) in x
                    .chunks_exact(k)
                    .zip(q.chunks_exact_mut(k))
                    .zip(s.chunks_exact_mut(k / AB))
                {
                    quantize_row(x, q, s);
                }
                for panel in 0..n / NR {
                    let mut r0 = 0;
                    while r0 < rows {
                        let r = (rows - r0).min(MR);
                        let q = &q[r0 * k..(r0 + r) * k];
                        let s = &s[r0 * (k / AB)..(r0 + r) * (k / AB)];
                        let o = &mut out[r0 * n..(r0 + r) * n];
                        tile(self, panel, q, s, o, r);
                        r0 += r;
                    }
                }
            });
    }

    /// The same product in portable scalar code with the same integer sums and the same float
    /// operations in the same order, so bit-identical to the kernel: the tests' reference.
    #[cfg(test)]
    fn matmul_reference(&self, x: &[f32], out: &mut [f32]) {
        let (n, k) = (self.n, self.k);
        let blocks = k / WB;
        let mut q = vec![0u8; k];
        let mut s = vec![0f32; k / AB];
        for (x, out) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            quantize_row_scalar(x, &mut q, &mut s);
            for (c, o) in out.iter_mut().enumerate() {
                let (panel, lane) = (c / NR, c % NR);
                let (half, col) = (lane / 16, lane % 16);
                let mut acc = 0f32;
                for (sb, &da) in s.iter().enumerate() {
                    let mut part = 0f32;
                    for b in sb * AB / WB..(sb + 1) * AB / WB {
                        let tile = panel * blocks + b;
                        let mut isum = self.corr[tile * NR + lane];
                        for i in 0..WB {
                            let (g, j) = (i / 4, i % 4);
                            let w = self.qs[tile * WB * NR + ((g * 2 + half) * 16 + col) * 4 + j];
                            isum += i32::from(q[b * WB + i]) * i32::from(w);
                        }
                        part = (isum as f32).mul_add(self.d[tile * NR + lane], part);
                    }
                    acc = part.mul_add(da, acc);
                }
                *o = acc + self.bias[c];
            }
        }
    }
}

/// ggml's `q8_0` quantization of one block of 32 (candle's `BlockQ8_0::from_float`): the
/// integers and the scale as stored (f16), widened to f32.
fn quantize_q8_0(xs: &[f32]) -> ([i8; WB], f32) {
    let amax = xs.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut q = [0i8; WB];
    for (q, &x) in q.iter_mut().zip(xs) {
        *q = (x * id).round() as i8;
    }
    (q, f16::from_f32(d).to_f32())
}

/// One row of activations -> bytes `q + 128` and one scale per 256: ggml's `q8_K` (candle's
/// `BlockQ8K::from_float`, whose scale takes the sign of the block's largest value; the sign
/// cancels in the product, so here it is always positive).
fn quantize_row(x: &[f32], q: &mut [u8], s: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if vnni() {
        // SAFETY: the CPU has AVX-512 F (checked by `vnni`); lengths are checked inside.
        unsafe { avx512::quantize_row(x, q, s) };
        return;
    }
    quantize_row_scalar(x, q, s);
}

fn quantize_row_scalar(x: &[f32], q: &mut [u8], s: &mut [f32]) {
    for ((x, q), s) in x.chunks_exact(AB).zip(q.chunks_exact_mut(AB)).zip(s) {
        let amax = x.iter().fold(0f32, |m, &v| m.max(v.abs()));
        if amax == 0.0 {
            q.fill(128);
            *s = 0.0;
            continue;
        }
        let iscale = 127.0 / amax;
        *s = 1.0 / iscale;
        for (q, &v) in q.iter_mut().zip(x) {
            *q = ((iscale * v).round().clamp(-128.0, 127.0) as i32 + 128) as u8;
        }
    }
}

/// One micro-tile: rows `q`/`s` (`r` <= 6 quantized rows) times panel `panel` into `out`
/// (`r` rows of `n`, the panel's 32 columns written).
fn tile(w: &PackedQ8, panel: usize, q: &[u8], s: &[f32], out: &mut [f32], r: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        assert!(panel < w.n / NR && q.len() == r * w.k && s.len() == r * (w.k / AB));
        assert!(out.len() == r * w.n && (1..=MR).contains(&r));
        // SAFETY: the CPU has AVX-512 F/BW/VNNI (`matmul`, the only caller, asserts it); the
        // slices' lengths are checked above, and the kernel reads and writes only inside them.
        unsafe {
            match r {
                1 => avx512::tile::<1>(w, panel, q, s, out),
                2 => avx512::tile::<2>(w, panel, q, s, out),
                3 => avx512::tile::<3>(w, panel, q, s, out),
                4 => avx512::tile::<4>(w, panel, q, s, out),
                5 => avx512::tile::<5>(w, panel, q, s, out),
                _ => avx512::tile::<6>(w, panel, q, s, out),
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (w, panel, q, s, out, r);
        unreachable!("the 8-bit kernel runs only where `vnni()` holds");
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{PackedQ8, AB, NR, WB};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn quantize_row(x: &[f32], q: &mut [u8], s: &mut [f32]) {
        // SAFETY: loads and stores stay inside the slices (lengths asserted above).
        unsafe {
            assert!(x.len() == q.len() && x.len() == s.len() * AB);
            let half = _mm512_set1_ps(0.5);
            let one = _mm512_set1_epi32(1.0f32.to_bits() as i32);
            let sign = _mm512_set1_epi32(i32::MIN);
            for ((x, q), s) in x.chunks_exact(AB).zip(q.chunks_exact_mut(AB)).zip(s) {
                let (xp, qp) = (x.as_ptr(), q.as_mut_ptr());
                let mut m = _mm512_setzero_ps();
                for i in 0..AB / 16 {
                    m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xp.add(i * 16))));
                }
                let amax = _mm512_reduce_max_ps(m);
                if amax == 0.0 {
                    q.fill(128);
                    *s = 0.0;
                    continue;
                }
                let iscale = 127.0 / amax;
                *s = 1.0 / iscale;
                let vs = _mm512_set1_ps(iscale);
                for i in 0..AB / 16 {
                    let v = _mm512_mul_ps(vs, _mm512_loadu_ps(xp.add(i * 16)));
                    // Round half away from zero, as f32::round: truncate, then step away from
                    // zero when the dropped fraction is at least a half.
                    let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                    let up =
                        _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_abs_ps(_mm512_sub_ps(v, t)), half);
                    let step = _mm512_castsi512_ps(_mm512_or_si512(
                        one,
                        _mm512_and_si512(_mm512_castps_si512(v), sign),
                    ));
                    let r = _mm512_mask_add_ps(t, up, t, step);
                    let i32s = _mm512_add_epi32(_mm512_cvttps_epi32(r), _mm512_set1_epi32(128));
                    let i32s = _mm512_min_epi32(
                        _mm512_max_epi32(i32s, _mm512_setzero_si512()),
                        _mm512_set1_epi32(255),
                    );
                    _mm_storeu_si128(qp.add(i * 16).cast(), _mm512_cvtepi32_epi8(i32s));
                }
            }
        }
    }

    /// `R` rows against one panel; lengths checked by the caller (`super::tile`).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile<const R: usize>(
        w: &PackedQ8,
        panel: usize,
        q: &[u8],
        s: &[f32],
        out: &mut [f32],
    ) {
        // SAFETY: the caller (`super::tile`) checked that the panel exists and that `q`, `s`
        // and `out` hold exactly `R` rows, so every offset below is inside its buffer.
        unsafe {
            let (n, k) = (w.n, w.k);
            let blocks = k / WB;
            let sblocks = k / AB;
            let qs = w.qs.as_ptr().add(panel * blocks * WB * NR);
            let d = w.d.as_ptr().add(panel * blocks * NR);
            let corr = w.corr.as_ptr().add(panel * blocks * NR);
            let a = q.as_ptr();
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for sb in 0..sblocks {
                let mut part = [[_mm512_setzero_ps(); 2]; R];
                for b in sb * (AB / WB)..(sb + 1) * (AB / WB) {
                    let c0 = _mm512_loadu_si512(corr.add(b * NR).cast());
                    let c1 = _mm512_loadu_si512(corr.add(b * NR + 16).cast());
                    let mut isum = [[c0, c1]; R];
                    let wq = qs.add(b * WB * NR);
                    for g in 0..WB / 4 {
                        let w0 = _mm512_loadu_si512(wq.add(g * 128).cast());
                        let w1 = _mm512_loadu_si512(wq.add(g * 128 + 64).cast());
                        for (r, isum) in isum.iter_mut().enumerate() {
                            let av = _mm512_set1_epi32(
                                a.add(r * k + b * WB + g * 4).cast::<i32>().read_unaligned(),
                            );
                            isum[0] = _mm512_dpbusd_epi32(isum[0], av, w0);
                            isum[1] = _mm512_dpbusd_epi32(isum[1], av, w1);
                        }
                    }
                    let d0 = _mm512_loadu_ps(d.add(b * NR));
                    let d1 = _mm512_loadu_ps(d.add(b * NR + 16));
                    for (part, isum) in part.iter_mut().zip(&isum) {
                        part[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[0]), d0, part[0]);
                        part[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[1]), d1, part[1]);
                    }
                }
                for (r, (acc, part)) in acc.iter_mut().zip(&part).enumerate() {
                    let da = _mm512_set1_ps(s[r * sblocks + sb]);
                    acc[0] = _mm512_fmadd_ps(part[0], da, acc[0]);
                    acc[1] = _mm512_fmadd_ps(part[1], da, acc[1]);
                }
            }
            let bias = w.bias.as_ptr().add(panel * NR);
            let (b0, b1) = (_mm512_loadu_ps(bias), _mm512_loadu_ps(bias.add(16)));
            let o = out.as_mut_ptr();
            for (r, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(o.add(r * n + panel * NR), _mm512_add_ps(acc[0], b0));
                _mm512_storeu_ps(o.add(r * n + panel * NR + 16), _mm512_add_ps(acc[1], b1));
            }
        }
    }
}

/// `x Wᵀ + b` through the kernel as a candle op, or `None` where it does not apply (kernel off
/// or missing, not f32 on the CPU, gradients flowing, another width).
pub(crate) fn forward(packed: &Arc<PackedQ8>, x: &Tensor) -> candle_core::Result<Option<Tensor>> {
    if q8_kernel() != Q8Kernel::Vclip
        || !x.device().is_cpu()
        || x.dtype() != DType::F32
        || x.track_op()
        || x.rank() == 0
        || x.dims()[x.rank() - 1] != packed.k
    {
        return Ok(None);
    }
    let x = x.contiguous()?;
    Ok(Some(x.apply_op1_no_bwd(&Q8Op(packed.clone()))?))
}

struct Q8Op(Arc<PackedQ8>);

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
        let m = x.len() / w.k;
        let mut out = vec![0f32; m * w.n];
        w.matmul(x, &mut out);
        let mut dims = layout.shape().dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = w.n;
        }
        Ok((CpuStorage::F32(out), Shape::from(dims)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::k_quants::{BlockQ8K, BlockQ8_0, GgmlType};
    use candle_core::Device;

    /// Deterministic values with a spread of magnitudes and both signs (and exact ties at .5
    /// after scaling in some blocks).
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let u = (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                // Every 97th value is an outlier, as in real activations.
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
        let (mut q2, mut s2) = (vec![0u8; xs.len()], vec![0f32; 4]);
        quantize_row(&xs, &mut q2, &mut s2);
        assert_eq!(
            q, q2,
            "the SIMD quantization (where run) differs from the scalar one"
        );
        assert_eq!(s, s2);
        for (i, (&q, &want)) in q.iter().zip(&want).enumerate() {
            let got = (i32::from(q) - 128) as f32 * s[i / AB];
            assert_eq!(got, want, "value {i}");
        }
    }

    /// Random weights and activations through candle's `q8_0` x `q8_K` scheme, written out:
    /// candle's own quantizers (`BlockQ8_0`, `BlockQ8K`, plain scalar code on every CPU)
    /// dequantized and multiplied in f64. The reference uses the same integers and scales, so
    /// they agree to float rounding; the kernel, where the CPU has it, is bit-identical to the
    /// reference. Nothing here depends on which SIMD path candle's `QMatMul` takes on this CPU
    /// (its vector paths give other numbers on CPUs without AVX-512 VNNI).
    fn check(m: usize, n: usize, k: usize) -> candle_core::Result<()> {
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
        if crate::cpu::detected_level() >= crate::cpu::CpuLevel::Avx512Vnni {
            let mut got = vec![0f32; m * n];
            packed.matmul(&xv, &mut got);
            assert_eq!(
                got, reference,
                "{m}x{n}x{k}: the kernel differs from its reference"
            );
        } else {
            eprintln!("no AVX-512 VNNI on this CPU: the kernel itself is not exercised");
        }
        Ok(())
    }

    #[test]
    fn matches_the_q8_scheme_on_every_row_remainder() -> candle_core::Result<()> {
        // Rows: fewer than a tile, every remainder of 6, more than one chunk.
        for m in [1, 2, 3, 4, 5, 6, 7, 11, 25, 50] {
            check(m, 64, 256)?;
        }
        check(34, 96, 768)
    }

    #[test]
    fn forward_takes_the_kernel_and_keeps_leading_dims() -> candle_core::Result<()> {
        let (n, k) = (32, 256);
        let packed = PackedQ8::new(&values(n * k, 6), &values(n, 7), n, k).expect("shape fits");
        let packed = Arc::new(packed);
        let x = Tensor::from_vec(values(2 * 3 * k, 8), (2, 3, k), &Device::Cpu)?;
        match forward(&packed, &x)? {
            Some(y) => {
                assert_eq!(y.dims(), &[2, 3, n]);
                let mut want = vec![0f32; 6 * n];
                packed.matmul_reference(&x.flatten_all()?.to_vec1()?, &mut want);
                assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, want);
            }
            None => assert!(!vnni(), "the kernel was skipped on a CPU that has it"),
        }
        // Another width or a non-f32 input is not the kernel's.
        let other = Tensor::zeros((2, 128), DType::F32, &Device::Cpu)?;
        assert!(forward(&packed, &other)?.is_none());
        assert!(forward(&packed, &x.to_dtype(DType::F64)?)?.is_none());
        Ok(())
    }

    #[test]
    fn shapes_the_kernel_cannot_take_are_refused() {
        assert!(PackedQ8::new(&[0.0; 32 * 128], &[0.0; 32], 32, 128).is_none());
        assert!(PackedQ8::new(&[0.0; 16 * 256], &[0.0; 16], 16, 256).is_none());
        assert!(PackedQ8::new(&[0.0; 32 * 256], &[0.0; 32], 32, 256).is_some());
    }
}
