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

use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor};

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

/// A 3-D max pool over frames-major `x: (B*T, C, H, W)` with kernel `k`, stride `s` and zero
/// padding `pad[d] = (lo, hi)` per dim (T, H, W): the output cell is the max of its window,
/// cells of the window outside the tensor counting as `0.0` — what the composed ops computed by
/// padding with zeros, pooling space with `max_pool2d` and time with strided selections, in one
/// pass without the padded copies. Returns `(B*To, C, Ho, Wo)` and `To`.
pub(crate) fn max_pool3d(
    x: &Tensor,
    b: usize,
    k: [usize; 3],
    s: [usize; 3],
    pad: [(usize, usize); 3],
) -> candle_core::Result<(Tensor, usize)> {
    let op = MaxPool3d { b, k, s, pad };
    let y = x.contiguous()?.apply_op1_no_bwd(&op)?;
    let to = y.dim(0)? / b;
    Ok((y, to))
}

struct MaxPool3d {
    b: usize,
    k: [usize; 3],
    s: [usize; 3],
    pad: [(usize, usize); 3],
}

impl MaxPool3d {
    /// Output length of a dim of `len` cells, or `None` when the window does not fit.
    fn out_len(&self, d: usize, len: usize) -> Option<usize> {
        let (k, s, (lo, hi)) = (self.k[d], self.s[d], self.pad[d]);
        let padded = len + lo + hi;
        (k > 0 && s > 0 && padded >= k).then(|| (padded - k) / s + 1)
    }

    /// The window of output cell `o` along dim `d` in input cells, and whether it reaches
    /// into the padding.
    fn window(&self, d: usize, o: usize, len: usize) -> (std::ops::Range<usize>, bool) {
        let start = o * self.s[d];
        let (lo, end) = (start.saturating_sub(self.pad[d].0), start + self.k[d]);
        let end = end.saturating_sub(self.pad[d].0).min(len).max(lo);
        let clipped = start < self.pad[d].0 || end - lo < self.k[d];
        (lo..end, clipped)
    }
}

/// `dst[i] = max(dst[i], src[i])`.
fn max_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, &v)| *d = d.max(v));
}

impl CustomOp1 for MaxPool3d {
    fn name(&self) -> &'static str {
        "vclip-s3d-max-pool3d"
    }

    fn cpu_fwd(&self, xs: &CpuStorage, xl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = contiguous_f32(xs, xl, "max-pool3d")?;
        let (n, c, h, w) = xl.shape().dims4()?;
        let b = self.b;
        if b == 0 || !n.is_multiple_of(b) {
            candle_core::bail!("max-pool3d: {n} frames are not {b} clips")
        }
        let t = n / b;
        let (Some(to), Some(ho), Some(wo)) =
            (self.out_len(0, t), self.out_len(1, h), self.out_len(2, w))
        else {
            candle_core::bail!("max-pool3d: kernel {:?} larger than {t}x{h}x{w}", self.k)
        };
        let plane = h * w;
        let mut out = vec![0f32; b * to * c * ho * wo];
        if out.is_empty() {
            return Ok((CpuStorage::F32(out), Shape::from((b * to, c, ho, wo))));
        }
        // Windows along the width: (first cell, end, reaches the padding). With stride 1 the
        // unclipped ones, `inner`, are a contiguous run computed over shifted slices.
        let wins: Vec<(usize, usize, bool)> = (0..wo)
            .map(|o| {
                let (r, clipped) = self.window(2, o, w);
                (r.start, r.end, clipped)
            })
            .collect();
        let inner = if self.s[2] == 1 {
            let first = wins.iter().position(|w| !w.2).unwrap_or(wo);
            let end = wins.iter().rposition(|w| !w.2).map_or(first, |e| e + 1);
            first..end
        } else {
            0..0
        };
        let (kw, lo_w) = (self.k[2], self.pad[2].0);
        // One task per output plane (clip, output frame, channel): the max over the time window
        // (into `frames` unless the window is one whole frame), then over the width window into
        // `rows` (H x Wo), then over the height window into the output (Ho x Wo). Max is exact,
        // so the order is free.
        out.par_chunks_mut(ho * wo).enumerate().for_each_init(
            || (vec![0f32; plane], vec![0f32; h * wo]),
            |(frames, rows), (i, o)| {
                let (clip, rest) = (i / (to * c), i % (to * c));
                let (ot, ch) = (rest / c, rest % c);
                let (range, clipped) = self.window(0, ot, t);
                let src = |ti: usize| {
                    let start = ((clip * t + ti) * c + ch) * plane;
                    &x[start..start + plane]
                };
                let pooled: &[f32] = if range.len() == 1 && !clipped {
                    src(range.start)
                } else {
                    let mut first = true;
                    for ti in range {
                        if first {
                            frames.copy_from_slice(src(ti));
                            first = false;
                        } else {
                            max_into(frames, src(ti));
                        }
                    }
                    if first {
                        frames.fill(0.0);
                    } else if clipped {
                        frames.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                    frames
                };
                for (src, dst) in pooled.chunks_exact(w).zip(rows.chunks_exact_mut(wo)) {
                    if !inner.is_empty() {
                        let (a, e) = (inner.start - lo_w, inner.end - lo_w);
                        let d = &mut dst[inner.clone()];
                        d.copy_from_slice(&src[a..e]);
                        (1..kw).for_each(|j| max_into(d, &src[a + j..e + j]));
                    }
                    for (ox, &(a, e, clipped)) in wins.iter().enumerate() {
                        if inner.contains(&ox) {
                            continue;
                        }
                        let init = if clipped { 0.0 } else { f32::NEG_INFINITY };
                        dst[ox] = src[a..e].iter().fold(init, |m, &v| m.max(v));
                    }
                }
                for (oy, dst) in o.chunks_exact_mut(wo).enumerate() {
                    let (r, clipped) = self.window(1, oy, h);
                    let mut rs = r.map(|y| &rows[y * wo..(y + 1) * wo]);
                    match rs.next() {
                        Some(row) => dst.copy_from_slice(row),
                        None => dst.fill(0.0),
                    }
                    rs.for_each(|row| max_into(dst, row));
                    if clipped {
                        dst.iter_mut().for_each(|v| *v = v.max(0.0));
                    }
                }
            },
        );
        Ok((CpuStorage::F32(out), Shape::from((b * to, c, ho, wo))))
    }
}

/// `conv2d` of `x: (N, Cin, H, W)` with `w: (Cout, Cin, KH, KW)`, stride `stride` and zero
/// padding `pad = [(top, bottom), (left, right)]` (the padding is not copied): per frame and
/// per band of output rows, the band's patches are laid out as a `(Cin*KH*KW, band)` matrix
/// that stays in the cache (im2col) and multiplied by the weight with one GEMM writing straight
/// into the output. Frames and bands are spread over the threads. candle's conv2d lays out the
/// patches of every frame at once (gigabytes for `conv1` at full size) on one thread.
///
/// The sums run in GEMM order, not candle's: results agree to float rounding, not bit for bit.
pub(crate) fn conv2d(
    x: &Tensor,
    w: &Tensor,
    stride: usize,
    pad: [(usize, usize); 2],
) -> candle_core::Result<Tensor> {
    x.contiguous()?
        .apply_op2_no_bwd(&w.contiguous()?, &Conv2d { stride, pad })
}

struct Conv2d {
    stride: usize,
    pad: [(usize, usize); 2],
}

/// Output columns per band: the band's patch matrix is `Cin*KH*KW` times this many floats
/// (1.5 MB for `conv1`'s 384 rows), small enough for the L2 cache of current CPUs.
const BAND_COLUMNS: usize = 1024;

/// A raw pointer that may cross threads: each task writes only its own output band.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: the tasks write disjoint parts of one buffer that outlives them (see `cpu_fwd`).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    /// The pointer `offset` floats in (a method, so closures capture the `Send` wrapper).
    ///
    /// # Safety
    /// `offset` must stay inside the buffer.
    unsafe fn add(self, offset: usize) -> *mut f32 {
        // SAFETY: the caller keeps `offset` inside the buffer.
        unsafe { self.0.add(offset) }
    }
}

impl Conv2d {
    /// Output length of a dim of `len` with kernel `k` and padding `(lo, hi)`.
    fn out_len(&self, len: usize, k: usize, (lo, hi): (usize, usize)) -> Option<usize> {
        let padded = len + lo + hi;
        (k > 0 && self.stride > 0 && padded >= k).then(|| (padded - k) / self.stride + 1)
    }
}

impl CustomOp2 for Conv2d {
    fn name(&self) -> &'static str {
        "vclip-s3d-conv2d"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let x = contiguous_f32(xs, xl, "conv2d")?;
        let w = contiguous_f32(ws, wl, "conv2d")?;
        let (n, cin, h, wd) = xl.shape().dims4()?;
        let (cout, wcin, kh, kw) = wl.shape().dims4()?;
        let (Some(ho), Some(wo)) = (
            self.out_len(h, kh, self.pad[0]),
            self.out_len(wd, kw, self.pad[1]),
        ) else {
            candle_core::bail!("conv2d: kernel {kh}x{kw} larger than the padded {h}x{wd}")
        };
        if wcin != cin {
            candle_core::bail!("conv2d: weight for {wcin} channels, input has {cin}")
        }
        let (plane, out_plane, depth) = (h * wd, ho * wo, cin * kh * kw);
        let mut out = vec![0f32; n * cout * out_plane];
        if out.is_empty() || depth == 0 {
            return Ok((CpuStorage::F32(out), Shape::from((n, cout, ho, wo))));
        }
        let band_rows = (BAND_COLUMNS / wo).clamp(1, ho);
        let bands = ho.div_ceil(band_rows);
        let tasks = n * bands;
        // Few tasks (a short clip on many cores): the GEMM spreads over the threads instead.
        let inner = if tasks >= rayon::current_num_threads() {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(0)
        };
        let (s, (top, _), (left, _)) = (self.stride, self.pad[0], self.pad[1]);
        let dst = SendPtr(out.as_mut_ptr());
        (0..tasks).into_par_iter().for_each_init(
            || vec![0f32; depth * band_rows * wo],
            |cols, task| {
                let (frame, band) = (task / bands, task % bands);
                let r0 = band * band_rows;
                let rows = band_rows.min(ho - r0);
                let width = rows * wo;
                let cols = &mut cols[..depth * width];
                let src = &x[frame * cin * plane..(frame + 1) * cin * plane];
                // im2col: row (ci, dy, dx) of `cols` holds, for each output cell of the band,
                // the input under that tap (zero in the padding).
                for (row, col) in cols.chunks_exact_mut(width).enumerate() {
                    let (ci, dy, dx) = (row / (kh * kw), row / kw % kh, row % kw);
                    let chan = &src[ci * plane..(ci + 1) * plane];
                    for (oy, out_row) in (r0..r0 + rows).zip(col.chunks_exact_mut(wo)) {
                        let Some(iy) = (oy * s + dy).checked_sub(top).filter(|&y| y < h) else {
                            out_row.fill(0.0);
                            continue;
                        };
                        let line = &chan[iy * wd..(iy + 1) * wd];
                        if s == 1 {
                            // Output cells `lo..hi` read the line from `lo + dx - left` on.
                            let lo = left.saturating_sub(dx).min(wo);
                            let hi = (wd + left).saturating_sub(dx).min(wo).max(lo);
                            out_row[..lo].fill(0.0);
                            out_row[hi..].fill(0.0);
                            out_row[lo..hi].copy_from_slice(&line[lo + dx - left..hi + dx - left]);
                            continue;
                        }
                        for (ox, v) in out_row.iter_mut().enumerate() {
                            *v = (ox * s + dx)
                                .checked_sub(left)
                                .and_then(|ix| line.get(ix))
                                .copied()
                                .unwrap_or(0.0);
                        }
                    }
                }
                // SAFETY: `w` is `(cout, depth)` and `cols` `(depth, width)`, row-major; the
                // destination is rows `r0..r0 + rows` of each of this frame's `cout` output
                // planes (row stride `out_plane`), written by this task only, inside `out`,
                // which outlives the parallel loop.
                unsafe {
                    let dst = dst.add(frame * cout * out_plane + r0 * wo);
                    gemm::gemm(
                        cout,
                        width,
                        depth,
                        dst,
                        1,
                        out_plane as isize,
                        false,
                        w.as_ptr(),
                        1,
                        depth as isize,
                        cols.as_ptr(),
                        1,
                        width as isize,
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        inner,
                    );
                }
            },
        );
        Ok((CpuStorage::F32(out), Shape::from((n, cout, ho, wo))))
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
    fn conv2d_matches_candles_conv2d() -> Result<()> {
        // (n, cin, h, w), (cout, kh, kw), stride, padding: S3D-G's spatial 3x3 and conv1's 4x4
        // with its asymmetric padding, a stride of 2, and a 40x40 plane that spans two bands
        // of output rows with a remainder.
        let cases = [
            ([2, 5, 9, 7], [4, 3, 3], 1, [(1, 1), (1, 1)]),
            ([3, 6, 6, 5], [8, 4, 4], 1, [(1, 2), (1, 2)]),
            ([1, 3, 11, 8], [5, 3, 3], 2, [(1, 1), (0, 2)]),
            ([2, 2, 40, 40], [3, 3, 3], 1, [(1, 1), (1, 1)]),
            ([1, 2, 3, 3], [2, 1, 1], 1, [(0, 0), (0, 0)]),
        ];
        for (i, ([n, cin, h, w], [cout, kh, kw], stride, pad)) in cases.into_iter().enumerate() {
            let x = rand(&[n, cin, h, w], 11 + i as u64)?;
            let wt = rand(&[cout, cin, kh, kw], 23 + i as u64)?;
            let xp = x
                .pad_with_zeros(2, pad[0].0, pad[0].1)?
                .pad_with_zeros(3, pad[1].0, pad[1].1)?;
            let want = xp.conv2d(&wt, 0, stride, 1, 1)?;
            let got = conv2d(&x, &wt, stride, pad)?;
            assert_eq!(got.dims(), want.dims(), "case {i}");
            let (got, want) = (
                got.flatten_all()?.to_vec1::<f32>()?,
                want.flatten_all()?.to_vec1::<f32>()?,
            );
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * (1.0 + w.abs()),
                    "case {i}, value {j}: {g} vs {w}"
                );
            }
        }
        // A kernel larger than the padded input is refused.
        let x = rand(&[1, 1, 2, 2], 1)?;
        assert!(conv2d(&x, &rand(&[1, 1, 3, 3], 2)?, 1, [(0, 0); 2]).is_err());
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
