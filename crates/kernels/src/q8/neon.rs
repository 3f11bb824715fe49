//! The aarch64 kernel: `sdot` (ARMv8.2 dot product) on 128-bit vectors, 4 rows x 16 columns
//! per micro-tile, and the NEON activation quantization (see the module above for the scheme).
//!
//! Safety contract: as the x86 kernels' (`super::tile` and `super::quantize_row` check it).
//! `sdot` is written as inline assembly: its intrinsic is not stable in Rust yet.

use super::{PackedQ8, AB, NR, WB};
use std::arch::aarch64::*;
use std::arch::asm;

/// NEON is the aarch64 baseline; `vcvtaq_s32_f32` rounds half away from zero, as f32::round.
pub(super) unsafe fn quantize_row(x: &[f32], q: &mut [u8], s: &mut [f32]) {
    // SAFETY: loads and stores stay inside the slices (lengths checked by the caller).
    unsafe {
        let (lo, hi, offset) = (vdupq_n_s32(0), vdupq_n_s32(255), vdupq_n_s32(128));
        for ((x, q), s) in x.chunks_exact(AB).zip(q.chunks_exact_mut(AB)).zip(s) {
            let (xp, qp) = (x.as_ptr(), q.as_mut_ptr());
            let mut m = vdupq_n_f32(0.0);
            for i in 0..AB / 4 {
                m = vmaxq_f32(m, vabsq_f32(vld1q_f32(xp.add(i * 4))));
            }
            let amax = vmaxvq_f32(m);
            if amax == 0.0 {
                q.fill(128);
                *s = 0.0;
                continue;
            }
            let iscale = 127.0 / amax;
            *s = 1.0 / iscale;
            let vs = vdupq_n_f32(iscale);
            let quant = |p: *const f32| {
                let i = vaddq_s32(vcvtaq_s32_f32(vmulq_f32(vs, vld1q_f32(p))), offset);
                vreinterpretq_u32_s32(vminq_s32(vmaxq_s32(i, lo), hi))
            };
            for i in 0..AB / 8 {
                let p = xp.add(i * 8);
                let h = vcombine_u16(vmovn_u32(quant(p)), vmovn_u32(quant(p.add(4))));
                vst1_u8(qp.add(i * 8), vmovn_u16(h));
            }
        }
    }
}

/// `acc += a · b` per 32-bit lane over 4 signed bytes.
#[inline(always)]
unsafe fn sdot(acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
    let mut acc = acc;
    // SAFETY: register-only arithmetic; the caller's function enables `dotprod`.
    unsafe {
        asm!(
            "sdot {acc:v}.4s, {a:v}.16b, {b:v}.16b",
            acc = inout(vreg) acc,
            a = in(vreg) a,
            b = in(vreg) b,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    acc
}

/// Each half of the panel (16 columns) with at most 4 rows at once.
#[target_feature(enable = "dotprod")]
pub(super) unsafe fn tile_dot(
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
                    1 => dot::<1>(w, panel, half, q, s, out),
                    2 => dot::<2>(w, panel, half, q, s, out),
                    3 => dot::<3>(w, panel, half, q, s, out),
                    _ => dot::<4>(w, panel, half, q, s, out),
                }
            }
        }
    });
}

#[target_feature(enable = "dotprod")]
unsafe fn dot<const R: usize>(
    w: &PackedQ8,
    panel: usize,
    half: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
) {
    // SAFETY: see the module's contract: every offset below is inside its buffer.
    unsafe {
        let (n, k) = (w.n, w.k);
        let blocks = k / WB;
        let sblocks = k / AB;
        let col = half * 16;
        let qs = w.qs.as_ptr().add(panel * blocks * WB * NR + col * 4);
        let d = w.d.as_ptr().add(panel * blocks * NR + col);
        let a = q.as_ptr();
        let mut acc = [[vdupq_n_f32(0.0); 4]; R];
        for sb in 0..sblocks {
            let mut part = [[vdupq_n_f32(0.0); 4]; R];
            for b in sb * (AB / WB)..(sb + 1) * (AB / WB) {
                // Signed activations: the sums start at zero, no +128 correction.
                let mut isum = [[vdupq_n_s32(0); 4]; R];
                let wq = qs.add(b * WB * NR);
                for g in 0..WB / 4 {
                    let wg = wq.add(g * NR * 4);
                    let wv = [
                        vld1q_s8(wg),
                        vld1q_s8(wg.add(16)),
                        vld1q_s8(wg.add(32)),
                        vld1q_s8(wg.add(48)),
                    ];
                    for (r, isum) in isum.iter_mut().enumerate() {
                        // Signed activations (`matmul_with` flipped them).
                        let bits = a.add(r * k + b * WB + g * 4).cast::<i32>().read_unaligned();
                        let av = vreinterpretq_s8_s32(vdupq_n_s32(bits));
                        for (isum, wv) in isum.iter_mut().zip(wv) {
                            *isum = sdot(*isum, wv, av);
                        }
                    }
                }
                let db = d.add(b * NR);
                for (part, isum) in part.iter_mut().zip(&isum) {
                    for (j, (part, isum)) in part.iter_mut().zip(isum).enumerate() {
                        *part = vfmaq_f32(*part, vcvtq_f32_s32(*isum), vld1q_f32(db.add(j * 4)));
                    }
                }
            }
            for (r, (acc, part)) in acc.iter_mut().zip(&part).enumerate() {
                let da = vdupq_n_f32(s[r * sblocks + sb]);
                for (acc, part) in acc.iter_mut().zip(part) {
                    *acc = vfmaq_f32(*acc, *part, da);
                }
            }
        }
        let bias = w.bias.as_ptr().add(panel * NR + col);
        let o = out.as_mut_ptr().add(panel * NR + col);
        for (r, acc) in acc.iter().enumerate() {
            for (j, acc) in acc.iter().enumerate() {
                vst1q_f32(
                    o.add(r * n + j * 4),
                    vaddq_f32(*acc, vld1q_f32(bias.add(j * 4))),
                );
            }
        }
    }
}
