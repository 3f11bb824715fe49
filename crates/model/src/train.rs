//! The training objective (issue #8): VideoCLIP's symmetric InfoNCE (`MMContraLoss`,
//! `VIDEOCLIP.md` §3.4).

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};

/// `CE(zv·ztᵀ / τ, diag) + CE(zt·zvᵀ / τ, diag)`: the two directions **summed**, each the mean
/// over the batch; pair `i` is `(video[i], text[i])` and every other row is a negative. The
/// paper trains with τ = 1.0 and raw dot products (no cosine).
pub fn symmetric_info_nce(video: &Tensor, text: &Tensor, tau: f64) -> Result<Tensor> {
    let (b, d) = video.dims2()?;
    if text.dims() != [b, d] || b == 0 || tau.is_nan() || tau <= 0.0 {
        return Err(Error::Input(format!(
            "InfoNCE needs video and text embeddings of the same shape (B, D), B > 0, and τ > 0; \
             got {:?}, {:?}, τ = {tau}",
            video.dims(),
            text.dims()
        )));
    }
    let logits = (video.matmul(&text.t()?)? / tau)?;
    let target = Tensor::arange(0u32, b as u32, video.device())?;
    let v2t = candle_nn::loss::cross_entropy(&logits, &target)?;
    let t2v = candle_nn::loss::cross_entropy(&logits.t()?.contiguous()?, &target)?;
    Ok((v2t + t2v)?)
}

/// Text→video recall@k and the median rank (1 = first) of each text's own video, from raw
/// scores `(texts, videos)` where text `i` belongs to video `truth[i]`.
pub fn retrieval_metrics(
    scores: &Tensor,
    truth: &[usize],
    ks: &[usize],
) -> Result<(Vec<f64>, f64)> {
    let s = scores.to_dtype(DType::F32)?.to_vec2::<f32>()?;
    if s.len() != truth.len() || s.is_empty() {
        return Err(Error::Input(format!(
            "{} score rows for {} texts",
            s.len(),
            truth.len()
        )));
    }
    let mut ranks = Vec::with_capacity(s.len());
    for (row, &t) in s.iter().zip(truth) {
        let own = *row
            .get(t)
            .ok_or_else(|| Error::Input(format!("video {t} out of range")))?;
        // Ties count against the text (a constant model is not rewarded).
        ranks.push(
            1 + row
                .iter()
                .enumerate()
                .filter(|&(j, &x)| j != t && x >= own)
                .count(),
        );
    }
    let n = ranks.len() as f64;
    let recall = ks
        .iter()
        .map(|&k| ranks.iter().filter(|&&r| r <= k).count() as f64 / n)
        .collect();
    ranks.sort_unstable();
    let mid = ranks.len() / 2;
    let median = if ranks.len() % 2 == 1 {
        ranks[mid] as f64
    } else {
        (ranks[mid - 1] + ranks[mid]) as f64 / 2.0
    };
    Ok((recall, median))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// The loss written out with loops in f64, independently of candle's ops.
    fn by_hand(v: &[Vec<f64>], t: &[Vec<f64>], tau: f64) -> f64 {
        let b = v.len();
        let dot = |a: &[f64], c: &[f64]| a.iter().zip(c).map(|(x, y)| x * y).sum::<f64>() / tau;
        let mut total = 0.0;
        for i in 0..b {
            let row: Vec<f64> = (0..b).map(|j| dot(&v[i], &t[j])).collect();
            let col: Vec<f64> = (0..b).map(|j| dot(&v[j], &t[i])).collect();
            let lse = |x: &[f64]| {
                let m = x.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                m + x.iter().map(|y| (y - m).exp()).sum::<f64>().ln()
            };
            total += (lse(&row) - row[i]) + (lse(&col) - col[i]);
        }
        total / b as f64
    }

    #[test]
    fn matches_the_formula_and_its_gradient_matches_finite_differences() -> Result<()> {
        let dev = Device::Cpu;
        let (b, d, tau) = (4, 6, 0.7);
        let v = Var::from_tensor(&Tensor::randn(0f64, 1.0, (b, d), &dev)?)?;
        let t = Var::from_tensor(&Tensor::randn(0f64, 1.0, (b, d), &dev)?)?;
        let loss = symmetric_info_nce(v.as_tensor(), t.as_tensor(), tau)?;
        let (vv, tv) = (v.to_vec2::<f64>()?, t.to_vec2::<f64>()?);
        let want = by_hand(&vv, &tv, tau);
        let got = loss.to_scalar::<f64>()?;
        assert!(
            (got - want).abs() < 1e-12 * want.abs().max(1.0),
            "{got} vs {want}"
        );

        let grads = loss.backward()?;
        let eps = 1e-6;
        for (var, vals, is_video) in [(&v, &vv, true), (&t, &tv, false)] {
            let g = grads
                .get(var.as_tensor())
                .ok_or_else(|| Error::Input("no gradient".into()))?
                .to_vec2::<f64>()?;
            for i in 0..b {
                for k in 0..d {
                    let mut plus = vals.clone();
                    let mut minus = vals.clone();
                    plus[i][k] += eps;
                    minus[i][k] -= eps;
                    let (lp, lm) = if is_video {
                        (by_hand(&plus, &tv, tau), by_hand(&minus, &tv, tau))
                    } else {
                        (by_hand(&vv, &plus, tau), by_hand(&vv, &minus, tau))
                    };
                    let fd = (lp - lm) / (2.0 * eps);
                    assert!(
                        (g[i][k] - fd).abs() < 1e-7 * fd.abs().max(1.0),
                        "d/d{}[{i}][{k}]: autograd {} vs finite differences {fd}",
                        if is_video { "video" } else { "text" },
                        g[i][k]
                    );
                }
            }
        }
        Ok(())
    }

    #[test]
    fn perfect_pairs_have_a_small_loss_and_bad_shapes_are_refused() -> Result<()> {
        let dev = Device::Cpu;
        let eye = Tensor::eye(5, DType::F32, &dev)?;
        let sharp = (&eye * 20.0)?;
        let low = symmetric_info_nce(&sharp, &eye, 1.0)?.to_scalar::<f32>()?;
        assert!(low < 1e-6, "{low}");
        // Chance level: all scores equal -> 2 ln B.
        let flat = Tensor::zeros((5, 3), DType::F32, &dev)?;
        let chance = symmetric_info_nce(&flat, &flat, 1.0)?.to_scalar::<f32>()?;
        assert!((chance - 2.0 * 5f32.ln()).abs() < 1e-5, "{chance}");
        assert!(symmetric_info_nce(&eye, &flat, 1.0).is_err());
        assert!(symmetric_info_nce(&eye, &eye, 0.0).is_err());
        Ok(())
    }

    #[test]
    fn recall_and_median_rank() -> Result<()> {
        let dev = Device::Cpu;
        // Text 0 ranks its video first, text 1 second, text 2 third (ties count against).
        let s = Tensor::new(
            &[[0.9f32, 0.1, 0.0], [0.8, 0.5, 0.0], [0.3, 0.3, 0.3]],
            &dev,
        )?;
        let (r, med) = retrieval_metrics(&s, &[0, 1, 2], &[1, 2, 3])?;
        assert_eq!(r, [1.0 / 3.0, 2.0 / 3.0, 1.0]);
        assert_eq!(med, 2.0);
        assert!(retrieval_metrics(&s, &[0, 1], &[1]).is_err());
        Ok(())
    }
}
