//! The x86-64 kernels: AVX-512 VNNI, AVX-VNNI and AVX2 (see the module above for the scheme).
//!
//! Safety contract of every function here: the CPU has the instructions named in its
//! `target_feature`, `q`/`s`/`out` hold exactly `R` (or `r`) rows of the packed layer, and
//! `panel < n / 32` — `super::tile` and `super::quantize_row` check all of it.

use super::{rows, PackedQ8, AB, NR, WB};
use std::arch::x86_64::*;

#[target_feature(enable = "avx512f")]
pub(super) unsafe fn quantize_row_avx512(x: &[f32], q: &mut [u8], s: &mut [f32]) {
    // SAFETY: loads and stores stay inside the slices (lengths checked by the caller).
    unsafe {
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
                let up = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(_mm512_abs_ps(_mm512_sub_ps(v, t)), half);
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

#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_row_avx2(x: &[f32], q: &mut [u8], s: &mut [f32]) {
    // SAFETY: loads and stores stay inside the slices (lengths checked by the caller).
    unsafe {
        let half = _mm256_set1_ps(0.5);
        let one = _mm256_set1_ps(1.0);
        let sign = _mm256_set1_ps(-0.0);
        let (lo, hi) = (_mm256_setzero_si256(), _mm256_set1_epi32(255));
        let offset = _mm256_set1_epi32(128);
        // After the two packs the 4-byte groups of 32 values come out as a0 b0 c0 d0 | a1 b1
        // c1 d1 (a..d: the four vectors, 0/1: their halves); this puts them back in order.
        let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
        for ((x, q), s) in x.chunks_exact(AB).zip(q.chunks_exact_mut(AB)).zip(s) {
            let (xp, qp) = (x.as_ptr(), q.as_mut_ptr());
            let mut m = _mm256_setzero_ps();
            for i in 0..AB / 8 {
                m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(xp.add(i * 8))));
            }
            let m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps::<1>(m));
            let m2 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
            let m1 = _mm_max_ss(m2, _mm_shuffle_ps::<1>(m2, m2));
            let amax = _mm_cvtss_f32(m1);
            if amax == 0.0 {
                q.fill(128);
                *s = 0.0;
                continue;
            }
            let iscale = 127.0 / amax;
            *s = 1.0 / iscale;
            let vs = _mm256_set1_ps(iscale);
            let quant = |p: *const f32| {
                let v = _mm256_mul_ps(vs, _mm256_loadu_ps(p));
                // Round half away from zero, as f32::round (see the AVX-512 version).
                let t = _mm256_round_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(v);
                let frac = _mm256_andnot_ps(sign, _mm256_sub_ps(v, t));
                let up = _mm256_cmp_ps::<_CMP_GE_OQ>(frac, half);
                let step = _mm256_or_ps(one, _mm256_and_ps(v, sign));
                let r = _mm256_add_ps(t, _mm256_and_ps(up, step));
                let i = _mm256_add_epi32(_mm256_cvttps_epi32(r), offset);
                _mm256_min_epi32(_mm256_max_epi32(i, lo), hi)
            };
            for i in 0..AB / 32 {
                let p = xp.add(i * 32);
                let (a, b, c, d) = (
                    quant(p),
                    quant(p.add(8)),
                    quant(p.add(16)),
                    quant(p.add(24)),
                );
                let bytes = _mm256_packus_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
                let bytes = _mm256_permutevar8x32_epi32(bytes, order);
                _mm256_storeu_si256(qp.add(i * 32).cast(), bytes);
            }
        }
    }
}

/// The AVX-512 VNNI micro-tile: `r` rows against one whole panel.
#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
pub(super) unsafe fn tile_avx512_vnni(
    w: &PackedQ8,
    panel: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
    r: usize,
) {
    // SAFETY: see the module's contract.
    unsafe { rows!(r, zmm_vnni(w, panel, q, s, out)) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
unsafe fn zmm_vnni<const R: usize>(
    w: &PackedQ8,
    panel: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
) {
    // SAFETY: see the module's contract: every offset below is inside its buffer.
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

/// The AVX-VNNI micro-tiles: each half of the panel (16 columns) with all `r` rows at once.
#[target_feature(enable = "avx2,fma,avxvnni")]
pub(super) unsafe fn tile_avx_vnni(
    w: &PackedQ8,
    panel: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
    r: usize,
) {
    // SAFETY: see the module's contract.
    unsafe {
        for half in 0..2 {
            rows!(r, ymm_vnni(w, panel, half, q, s, out));
        }
    }
}

/// The AVX2 micro-tiles: each half of the panel with at most 4 rows at once (16 registers
/// hold 8 sums, the weights, their absolute values and the activation).
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn tile_avx2(
    w: &PackedQ8,
    panel: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
    r: usize,
) {
    super::row_tiles(w, 4, r, q, s, out, |rr, q, s, out| {
        for half in 0..2 {
            // SAFETY: see the module's contract; each tile gets whole rows of `q`, `s`, `out`.
            unsafe {
                match rr {
                    1 => ymm_avx2::<1>(w, panel, half, q, s, out),
                    2 => ymm_avx2::<2>(w, panel, half, q, s, out),
                    3 => ymm_avx2::<3>(w, panel, half, q, s, out),
                    _ => ymm_avx2::<4>(w, panel, half, q, s, out),
                }
            }
        }
    });
}

/// The float half of a 256-bit micro-tile, shared by both integer schemes: `isum` (`R` rows x
/// 16 columns of one block's integer sums) into `part`.
#[inline(always)]
unsafe fn scale_block<const R: usize>(
    isum: &[[__m256i; 2]; R],
    d: *const f32,
    part: &mut [[__m256; 2]; R],
) {
    // SAFETY: `d` points at 16 scales (the caller's contract).
    unsafe {
        let (d0, d1) = (_mm256_loadu_ps(d), _mm256_loadu_ps(d.add(8)));
        for (part, isum) in part.iter_mut().zip(isum) {
            part[0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[0]), d0, part[0]);
            part[1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[1]), d1, part[1]);
        }
    }
}

/// One half panel (16 columns) x `R` rows with 256-bit vectors; `block` adds one block's
/// products to the integer sums (`isum`, the block's weights, the rows' activations).
// The tile's inputs plus the two closures that make it one kernel or the other.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn ymm_tile<const R: usize>(
    w: &PackedQ8,
    panel: usize,
    half: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
    start: impl Fn(*const i32) -> [[__m256i; 2]; R],
    block: impl Fn(&mut [[__m256i; 2]; R], *const i8, [*const u8; R]),
) {
    // SAFETY: see the module's contract: every offset below is inside its buffer.
    unsafe {
        let (n, k) = (w.n, w.k);
        let blocks = k / WB;
        let sblocks = k / AB;
        let col = half * 16;
        let qs = w.qs.as_ptr().add(panel * blocks * WB * NR + col * 4);
        let d = w.d.as_ptr().add(panel * blocks * NR + col);
        let corr = w.corr.as_ptr().add(panel * blocks * NR + col);
        let a = q.as_ptr();
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for sb in 0..sblocks {
            let mut part = [[_mm256_setzero_ps(); 2]; R];
            for b in sb * (AB / WB)..(sb + 1) * (AB / WB) {
                let mut isum = start(corr.add(b * NR));
                let rows: [*const u8; R] = std::array::from_fn(|r| a.add(r * k + b * WB));
                block(&mut isum, qs.add(b * WB * NR), rows);
                scale_block(&isum, d.add(b * NR), &mut part);
            }
            for (r, (acc, part)) in acc.iter_mut().zip(&part).enumerate() {
                let da = _mm256_set1_ps(s[r * sblocks + sb]);
                acc[0] = _mm256_fmadd_ps(part[0], da, acc[0]);
                acc[1] = _mm256_fmadd_ps(part[1], da, acc[1]);
            }
        }
        let bias = w.bias.as_ptr().add(panel * NR + col);
        let (b0, b1) = (_mm256_loadu_ps(bias), _mm256_loadu_ps(bias.add(8)));
        let o = out.as_mut_ptr().add(panel * NR + col);
        for (r, acc) in acc.iter().enumerate() {
            _mm256_storeu_ps(o.add(r * n), _mm256_add_ps(acc[0], b0));
            _mm256_storeu_ps(o.add(r * n + 8), _mm256_add_ps(acc[1], b1));
        }
    }
}

#[target_feature(enable = "avx2,fma,avxvnni")]
unsafe fn ymm_vnni<const R: usize>(
    w: &PackedQ8,
    panel: usize,
    half: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
) {
    // SAFETY: see the module's contract; `wq` points at a block's 8 groups of 128 bytes, and
    // each row pointer at the block's 32 activations.
    unsafe {
        let start = |corr: *const i32| {
            let c0 = _mm256_loadu_si256(corr.cast());
            let c1 = _mm256_loadu_si256(corr.add(8).cast());
            [[c0, c1]; R]
        };
        let block = |isum: &mut [[__m256i; 2]; R], wq: *const i8, rows: [*const u8; R]| {
            for g in 0..WB / 4 {
                let w0 = _mm256_loadu_si256(wq.add(g * NR * 4).cast());
                let w1 = _mm256_loadu_si256(wq.add(g * NR * 4 + 32).cast());
                for (isum, a) in isum.iter_mut().zip(rows) {
                    let av = _mm256_set1_epi32(a.add(g * 4).cast::<i32>().read_unaligned());
                    isum[0] = _mm256_dpbusd_avx_epi32(isum[0], av, w0);
                    isum[1] = _mm256_dpbusd_avx_epi32(isum[1], av, w1);
                }
            }
        };
        ymm_tile::<R>(w, panel, half, q, s, out, start, block);
    }
}

#[target_feature(enable = "avx2,fma")]
unsafe fn ymm_avx2<const R: usize>(
    w: &PackedQ8,
    panel: usize,
    half: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
) {
    // SAFETY: as `ymm_vnni`.
    unsafe {
        // Signed activations: the sums start at zero, no +128 correction.
        let start = |_: *const i32| [[_mm256_setzero_si256(); 2]; R];
        let ones = _mm256_set1_epi16(1);
        let block = |isum: &mut [[__m256i; 2]; R], wq: *const i8, rows: [*const u8; R]| {
            for g in 0..WB / 4 {
                let w0 = _mm256_loadu_si256(wq.add(g * NR * 4).cast());
                let w1 = _mm256_loadu_si256(wq.add(g * NR * 4 + 32).cast());
                let (u0, u1) = (_mm256_abs_epi8(w0), _mm256_abs_epi8(w1));
                for (isum, a) in isum.iter_mut().zip(rows) {
                    // Signed activations (`matmul_with` flipped them).
                    let av = _mm256_set1_epi32(a.add(g * 4).cast::<i32>().read_unaligned());
                    let p0 = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, w0));
                    let p1 = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, w1));
                    isum[0] = _mm256_add_epi32(isum[0], _mm256_madd_epi16(p0, ones));
                    isum[1] = _mm256_add_epi32(isum[1], _mm256_madd_epi16(p1, ones));
                }
            }
        };
        ymm_tile::<R>(w, panel, half, q, s, out, start, block);
    }
}
