//! 8-bit dense layers on the CPU: `y = x Wᵀ + b` with ggml `q8_0` weights (8 bits, one f16
//! scale per 32 inputs) and `q8_K` activations (8 bits, one f32 scale per 256 inputs, quantized
//! on the fly) — the integers and block scales of candle's quantized matmul, so the numbers are
//! candle's up to the order of the float sums.
//!
//! The weights are packed once into panels of 32 output columns with 4 consecutive inputs per
//! 32-bit lane, the layout every instruction set's dot product wants: one 4-byte activation
//! group broadcast to every lane meets 4 inputs of 8 (AVX2, AVX-VNNI), 16 (AVX-512) or 4 (NEON)
//! columns per instruction. One kernel per instruction set ([`Q8Path`]):
//! - **AVX-512 VNNI**: `vpdpbusd` on 512-bit vectors, a micro-tile of 6 rows x 32 columns;
//!   activations enter unsigned (+128), so a per-column constant (`-128 Σ w`) starts each
//!   block's integer sum;
//! - **AVX-VNNI**: the same on 256-bit vectors, 6 rows x 16 columns;
//! - **AVX2**: `vpmaddubsw` needs one unsigned operand and saturates its 16-bit pair sums, so
//!   the activation is made signed (`q ^ 0x80`), the weight's sign moves onto it (`vpsignb`)
//!   and the weight enters as `|w|` (≤ 127, so a pair sums to at most 2·127·127 < 2¹⁵: no
//!   saturation); `vpmaddwd` by ones widens to 32 bits. 4 rows x 16 columns;
//! - **NEON dot product**: `sdot` (signed x signed, 4 products per 32-bit lane), 4 rows x 16
//!   columns.
//!
//! Every kernel computes the same integer sums, scales a block's sum by the weights' scale
//! into a per-256 partial sum and only that by the activation's scale, and adds the bias in the
//! final store, with the same fused multiply-adds in the same order as the scalar
//! [`PackedQ8::matmul_reference`]: their outputs are bit-identical to it and to each other.

use half::f16;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::cpu::{cpu_level, CpuLevel};

/// Inputs per weight block (ggml `q8_0`).
pub const WB: usize = 32;
/// Inputs per activation block (ggml `q8_K`).
pub const AB: usize = 256;
/// Output columns per panel.
pub const NR: usize = 32;
/// Rows per micro-tile (at most; the narrower kernels take fewer at a time).
const MR: usize = 6;
/// Rows per parallel task: each task quantizes them once and runs every panel over them.
const CHUNK: usize = 4 * MR;

/// Which of the 8-bit kernels runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Q8Path {
    /// `vpdpbusd` on 512-bit vectors (AVX-512 VNNI).
    Avx512Vnni,
    /// `vpdpbusd` on 256-bit vectors (AVX-VNNI).
    AvxVnni,
    /// `vpmaddubsw` + `vpmaddwd` on 256-bit vectors (AVX2).
    Avx2,
    /// `sdot` on 128-bit vectors (aarch64 dot product).
    NeonDot,
}

impl Q8Path {
    /// Every kernel.
    pub const ALL: [Q8Path; 4] = [
        Q8Path::Avx512Vnni,
        Q8Path::AvxVnni,
        Q8Path::Avx2,
        Q8Path::NeonDot,
    ];

    /// `avx512-vnni`, `avx-vnni`, `avx2` or `neon-dot`.
    pub fn name(self) -> &'static str {
        match self {
            Q8Path::Avx512Vnni => "avx512-vnni",
            Q8Path::AvxVnni => "avx-vnni",
            Q8Path::Avx2 => "avx2",
            Q8Path::NeonDot => "neon-dot",
        }
    }

    /// The kernel the kernels' level `level` runs (`None` at `Portable`: no 8-bit kernel of
    /// VClip's, so 8-bit layers fall back to the tensor library's own).
    pub fn for_level(level: CpuLevel) -> Option<Q8Path> {
        match level {
            CpuLevel::Portable => None,
            CpuLevel::Avx2 | CpuLevel::Avx512 => Some(Q8Path::Avx2),
            CpuLevel::AvxVnni => Some(Q8Path::AvxVnni),
            CpuLevel::Avx512Vnni => Some(Q8Path::Avx512Vnni),
            CpuLevel::NeonDot => Some(Q8Path::NeonDot),
        }
    }

    /// The level whose instructions the kernel needs.
    pub fn level(self) -> CpuLevel {
        match self {
            Q8Path::Avx512Vnni => CpuLevel::Avx512Vnni,
            Q8Path::AvxVnni => CpuLevel::AvxVnni,
            Q8Path::Avx2 => CpuLevel::Avx2,
            Q8Path::NeonDot => CpuLevel::NeonDot,
        }
    }

    /// Whether this CPU can run the kernel (whatever the cap).
    pub fn is_supported(self) -> bool {
        self.level().is_available()
    }

    /// The kernel multiplies signed activations (`q`, not the stored `q + 128`): AVX2's sign
    /// trick and NEON's signed dot product.
    fn signed_activations(self) -> bool {
        matches!(self, Q8Path::Avx2 | Q8Path::NeonDot)
    }

    /// The kernels this CPU can run.
    pub fn supported() -> Vec<Q8Path> {
        Self::ALL.into_iter().filter(|p| p.is_supported()).collect()
    }
}

impl std::fmt::Display for Q8Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The 8-bit kernel the current level ([`cpu_level`]) runs, if any.
pub fn q8_path() -> Option<Q8Path> {
    Q8Path::for_level(cpu_level())
}

/// A dense layer's weights packed for the kernels.
#[derive(Debug)]
pub struct PackedQ8 {
    /// Output columns.
    n: usize,
    /// Inputs.
    k: usize,
    /// `[panel][block][group of 4 inputs (8)][column (32)][4]`: `WB * NR` bytes per
    /// (panel, block).
    qs: Vec<i8>,
    /// `[panel][block][column (32)]`: the block's scale (the stored f16, widened).
    d: Vec<f32>,
    /// `[panel][block][column (32)]`: `-128 * sum of the block's weights`, the correction for
    /// unsigned (+128) activations.
    corr: Vec<i32>,
    bias: Vec<f32>,
}

impl PackedQ8 {
    /// Quantizes `weight` (`n` rows of `k`, row-major) as `q8_0` and packs it; `None` when the
    /// shape does not fit the kernels (`k` a multiple of 256, `n` of 32).
    pub fn new(weight: &[f32], bias: &[f32], n: usize, k: usize) -> Option<Self> {
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
            for (b, xs) in row.chunks_exact(WB).enumerate() {
                let (q, scale) = quantize_q8_0(xs);
                let tile = panel * blocks + b;
                d[tile * NR + lane] = scale;
                corr[tile * NR + lane] = -128 * q.iter().map(|&v| i32::from(v)).sum::<i32>();
                for (i, &v) in q.iter().enumerate() {
                    let (g, j) = (i / 4, i % 4);
                    qs[tile * WB * NR + (g * NR + lane) * 4 + j] = v;
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

    /// Output columns.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Inputs.
    pub fn k(&self) -> usize {
        self.k
    }

    /// `x` (`m` rows of `k`) -> `out` (`m` rows of `n`) with the kernel of the current level
    /// ([`q8_path`]); `false`, with `out` untouched, when the level has none.
    ///
    /// # Panics
    /// When `x` or `out` is not a whole number of rows, or they disagree on how many.
    pub fn matmul(&self, x: &[f32], out: &mut [f32]) -> bool {
        match q8_path() {
            Some(path) => {
                self.matmul_with(path, x, out);
                true
            }
            None => false,
        }
    }

    /// The same with the kernel `path`, in parallel over chunks of rows.
    ///
    /// # Panics
    /// On a CPU that cannot run `path` ([`Q8Path::is_supported`]), or when the lengths do not
    /// fit (as [`PackedQ8::matmul`]).
    pub fn matmul_with(&self, path: Q8Path, x: &[f32], out: &mut [f32]) {
        use rayon::prelude::*;
        // What the CPU has, not the cap: a cap set by another thread meanwhile only changes
        // which kernel the next product takes.
        assert!(
            path.is_supported(),
            "the {path} 8-bit kernel needs instructions this CPU lacks"
        );
        let (n, k) = (self.n, self.k);
        assert!(
            x.len().is_multiple_of(k) && out.len() == x.len() / k * n,
            "q8 matmul: {} inputs and {} outputs are not rows of {k} and {n}",
            x.len(),
            out.len()
        );
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
                    quantize_row(path, x, q, s);
                }
                if path.signed_activations() {
                    // `q + 128` -> `q` as i8, once per row rather than in every panel.
                    q.iter_mut().for_each(|b| *b ^= 0x80);
                }
                for panel in 0..n / NR {
                    let mut r0 = 0;
                    while r0 < rows {
                        let r = (rows - r0).min(MR);
                        let q = &q[r0 * k..(r0 + r) * k];
                        let s = &s[r0 * (k / AB)..(r0 + r) * (k / AB)];
                        let o = &mut out[r0 * n..(r0 + r) * n];
                        tile(path, self, panel, q, s, o, r);
                        r0 += r;
                    }
                }
            });
    }

    /// The same product in portable scalar code with the same integer sums and the same float
    /// operations in the same order, so bit-identical to every kernel: the tests' reference.
    pub fn matmul_reference(&self, x: &[f32], out: &mut [f32]) {
        let (n, k) = (self.n, self.k);
        let blocks = k / WB;
        let mut q = vec![0u8; k];
        let mut s = vec![0f32; k / AB];
        for (x, out) in x.chunks_exact(k).zip(out.chunks_exact_mut(n)) {
            quantize_row_scalar(x, &mut q, &mut s);
            for (c, o) in out.iter_mut().enumerate() {
                let (panel, lane) = (c / NR, c % NR);
                let mut acc = 0f32;
                for (sb, &da) in s.iter().enumerate() {
                    let mut part = 0f32;
                    for b in sb * AB / WB..(sb + 1) * AB / WB {
                        let tile = panel * blocks + b;
                        let mut isum = self.corr[tile * NR + lane];
                        for i in 0..WB {
                            let (g, j) = (i / 4, i % 4);
                            let w = self.qs[tile * WB * NR + (g * NR + lane) * 4 + j];
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
pub fn quantize_q8_0(xs: &[f32]) -> ([i8; WB], f32) {
    let amax = xs.iter().fold(0f32, |m, &x| m.max(x.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut q = [0i8; WB];
    for (q, &x) in q.iter_mut().zip(xs) {
        *q = (x * id).round() as i8;
    }
    (q, f16::from_f32(d).to_f32())
}

/// One row of activations -> bytes `q + 128` and one scale per 256 with the vector
/// instructions of `path`: ggml's `q8_K`, bit-identical to [`quantize_row_scalar`].
pub fn quantize_row(path: Q8Path, x: &[f32], q: &mut [u8], s: &mut [f32]) {
    assert!(
        path.is_supported(),
        "the {path} quantization needs instructions this CPU lacks"
    );
    assert!(x.len() == q.len() && x.len() == s.len() * AB);
    match path {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX-512 F (asserted above); the lengths were checked.
        Q8Path::Avx512Vnni => unsafe { x86::quantize_row_avx512(x, q, s) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU has AVX2 (asserted above); the lengths were checked.
        Q8Path::AvxVnni | Q8Path::Avx2 => unsafe { x86::quantize_row_avx2(x, q, s) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: NEON is the aarch64 baseline; the lengths were checked.
        Q8Path::NeonDot => unsafe { neon::quantize_row(x, q, s) },
        #[allow(unreachable_patterns)]
        _ => unreachable!("{path} is not supported on this architecture"),
    }
}

/// One row of activations -> bytes `q + 128` and one scale per 256: ggml's `q8_K` (candle's
/// `BlockQ8K::from_float`, whose scale takes the sign of the block's largest value; the sign
/// cancels in the product, so here it is always positive).
pub fn quantize_row_scalar(x: &[f32], q: &mut [u8], s: &mut [f32]) {
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
/// (`r` rows of `n`, the panel's 32 columns written), with the kernel `path`.
fn tile(path: Q8Path, w: &PackedQ8, panel: usize, q: &[u8], s: &[f32], out: &mut [f32], r: usize) {
    assert!(panel < w.n / NR && q.len() == r * w.k && s.len() == r * (w.k / AB));
    assert!(out.len() == r * w.n && (1..=MR).contains(&r));
    // SAFETY (every arm): `matmul_with`, the only caller, asserted that the CPU runs `path`;
    // the slices' lengths are checked above, and the kernels read and write only inside them.
    match path {
        #[cfg(target_arch = "x86_64")]
        Q8Path::Avx512Vnni => unsafe { x86::tile_avx512_vnni(w, panel, q, s, out, r) },
        #[cfg(target_arch = "x86_64")]
        Q8Path::AvxVnni => unsafe { x86::tile_avx_vnni(w, panel, q, s, out, r) },
        #[cfg(target_arch = "x86_64")]
        Q8Path::Avx2 => unsafe { x86::tile_avx2(w, panel, q, s, out, r) },
        #[cfg(target_arch = "aarch64")]
        Q8Path::NeonDot => unsafe { neon::tile_dot(w, panel, q, s, out, r) },
        #[allow(unreachable_patterns)]
        _ => {
            let _ = (w, panel, q, s, out, r);
            unreachable!("{path} is not supported on this architecture")
        }
    }
}

/// Splits `r` rows of `q`, `s` and `out` (rows of `k`, `k / AB` and `n` values) into tiles of at
/// most `max` rows and calls `tile(rows, q, s, out)` on each: the kernels with fewer registers
/// than the 6-row tile needs.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
fn row_tiles(
    w: &PackedQ8,
    max: usize,
    r: usize,
    q: &[u8],
    s: &[f32],
    out: &mut [f32],
    mut tile: impl FnMut(usize, &[u8], &[f32], &mut [f32]),
) {
    let (k, n, sb) = (w.k, w.n, w.k / AB);
    let mut r0 = 0;
    while r0 < r {
        let rr = (r - r0).min(max);
        tile(
            rr,
            &q[r0 * k..(r0 + rr) * k],
            &s[r0 * sb..(r0 + rr) * sb],
            &mut out[r0 * n..(r0 + rr) * n],
        );
        r0 += rr;
    }
}

#[cfg(target_arch = "x86_64")]
/// Calls `$f::<R>($args…)` with the const `R` equal to the runtime row count `$r` (1..=6).
macro_rules! rows {
    ($r:expr, $f:ident($($a:expr),* $(,)?)) => {
        match $r {
            1 => $f::<1>($($a),*),
            2 => $f::<2>($($a),*),
            3 => $f::<3>($($a),*),
            4 => $f::<4>($($a),*),
            5 => $f::<5>($($a),*),
            _ => $f::<6>($($a),*),
        }
    };
}
#[cfg(target_arch = "x86_64")]
pub(crate) use rows;

#[cfg(test)]
mod tests;
