//! The training objective (issue #8): VideoCLIP's symmetric InfoNCE (`MMContraLoss`,
//! `docs/model-notes.md` §3.4).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};

use crate::config::VideoClipConfig;
use crate::error::{Error, Result};
use crate::videoclip::{TextTower, VideoTower};
use crate::weights::Weights;

/// Both VideoCLIP towers with every weight a trainable candle [`Var`] (videomlp, video BERT,
/// text BERT; `docs/model-notes.md` §4.5). The towers share the variables' storage, so an optimizer
/// step on [`TrainableTowers::vars`] is seen by the next forward pass.
#[derive(Debug)]
pub struct TrainableTowers {
    pub video: VideoTower,
    pub text: TextTower,
    /// Every weight by its checkpoint name.
    pub vars: Vec<(String, Var)>,
}

impl TrainableTowers {
    /// Loads `videoclip.safetensors` onto `device` in `dtype` (f32 to train, f64 for gradient
    /// checks).
    pub fn load(
        path: &Path,
        config: &VideoClipConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let loaded = Weights::load(path, device)?;
        let mut vars = Vec::with_capacity(loaded.tensors().len());
        let mut tensors = HashMap::with_capacity(loaded.tensors().len());
        for (name, t) in loaded.tensors() {
            if !t.dtype().is_float() {
                tensors.insert(name.clone(), t.clone());
                continue;
            }
            let var = Var::from_tensor(&t.to_dtype(dtype)?)?;
            tensors.insert(name.clone(), var.as_tensor().clone());
            vars.push((name.clone(), var));
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let w = Weights::from_map(path, tensors);
        Ok(Self {
            video: VideoTower::from_weights(&w, config)?,
            text: TextTower::from_weights(&w, config)?,
            vars,
        })
    }

    /// The variable named `name`.
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

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

/// Test support: each `(weight, flat index)` of `checks` — its autograd gradient in `grads`
/// against central finite differences of `loss` (f64 weights), to 1e-6 relative. Returns how
/// many of those gradients are non-zero, so a caller can check the test is not vacuous.
#[cfg(test)]
pub(crate) fn check_gradients<'a>(
    checks: &[(&str, usize)],
    var: impl Fn(&str) -> Option<&'a Var>,
    grads: &candle_core::backprop::GradStore,
    loss: impl Fn() -> Result<Tensor>,
) -> Result<usize> {
    let eps = 1e-5;
    let mut nonzero = 0;
    for &(name, index) in checks {
        let var = var(name).ok_or_else(|| Error::Input(format!("no weight {name}")))?;
        let grad = grads
            .get(var.as_tensor())
            .ok_or_else(|| Error::Input(format!("no gradient for {name}")))?
            .flatten_all()?
            .to_vec1::<f64>()?[index];
        let original = var.as_tensor().copy()?;
        let shape = original.shape().clone();
        let at = |delta: f64| -> Result<f64> {
            let mut v = original.flatten_all()?.to_vec1::<f64>()?;
            v[index] += delta;
            var.set(&Tensor::from_vec(v, shape.clone(), original.device())?)?;
            Ok(loss()?.to_scalar::<f64>()?)
        };
        let fd = (at(eps)? - at(-eps)?) / (2.0 * eps);
        var.set(&original)?;
        assert!(
            (grad - fd).abs() < 1e-6 * fd.abs().max(1e-3),
            "{name}[{index}]: autograd {grad} vs finite differences {fd}"
        );
        if grad.abs() > 1e-9 {
            nonzero += 1;
        }
    }
    Ok(nonzero)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The towers' backward pass (through BERT layers, attention, LayerNorm, GELU, the
    /// videomlp and the pooling) against central finite differences, on the tiny random model
    /// in f64.
    #[test]
    fn tower_gradients_match_finite_differences() -> Result<()> {
        use crate::model_dir::{init_random, VIDEOCLIP_FILE};
        use crate::videoclip::VideoMode;
        let dir = tempfile::tempdir().map_err(|e| Error::Input(e.to_string()))?;
        let config = init_random(crate::Preset::Tiny, 11, dir.path(), None)?.videoclip;
        let dev = Device::Cpu;
        let towers =
            TrainableTowers::load(&dir.path().join(VIDEOCLIP_FILE), &config, &dev, DType::F64)?;
        let (b, l) = (3, 5);
        let feats = Tensor::randn(0f64, 1.0, (b, l, config.video_feature_dim), &dev)?;
        let vmask = Tensor::new(&[[1u8, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], &dev)?;
        let ids = Tensor::new(
            &[
                [101u32, 7, 9, 11, 102],
                [101, 300, 102, 0, 0],
                [101, 5, 6, 102, 0],
            ],
            &dev,
        )?;
        let tmask = Tensor::new(&[[1u8, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 1, 1, 1, 0]], &dev)?;
        let loss = || -> Result<Tensor> {
            let v = towers
                .video
                .forward(&feats, &vmask, VideoMode::Retrieval)?
                .pooled;
            let t = towers.text.forward(&ids, &tmask)?.pooled;
            symmetric_info_nce(&v, &t, 1.0)
        };
        let l0 = loss()?;
        assert_eq!(l0.dtype(), DType::F64);
        let grads = l0.backward()?;
        let checks = [
            ("video_encoder.videomlp.linear1.weight", 3),
            ("video_encoder.videomlp.LayerNorm.weight", 1),
            (
                "video_encoder.bert.encoder.layer.0.attention.self.query.weight",
                5,
            ),
            (
                "video_encoder.bert.embeddings.position_embeddings.weight",
                2,
            ),
            ("text_encoder.encoder.layer.0.intermediate.dense.weight", 7),
            ("text_encoder.encoder.layer.1.output.LayerNorm.bias", 4),
            (
                "text_encoder.embeddings.word_embeddings.weight",
                300 * config.hidden_size + 2,
            ),
        ];
        let nonzero = crate::train::check_gradients(&checks, |n| towers.var(n), &grads, loss)?;
        // The check is not vacuous: the gradients are not all zero.
        assert!(nonzero >= checks.len() - 1, "{nonzero} non-zero gradients");
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
