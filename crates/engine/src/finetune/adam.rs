//! Adam(W) with its moments in the open, so that a checkpoint can save them and a resumed run
//! continues exactly where it stopped. (candle-nn's `AdamW` keeps its state private.)
//!
//! The update is PyTorch's `AdamW` (and candle-nn's): with gradient `g` at step `t` (from 1),
//! `m = β1·m + (1-β1)·g`, `v = β2·v + (1-β2)·g²`, `w -= lr·(wd·w + m̂ / (√v̂ + ε))` where
//! `m̂ = m / (1-β1^t)` and `v̂ = v / (1-β2^t)`. The paper: β = (0.9, 0.98), no weight decay
//! (`docs/model-notes.md` §4.5).

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// The optimizer's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

/// One trained variable and its two moments.
#[derive(Debug)]
pub struct Slot {
    pub name: String,
    pub var: Var,
    pub m: Tensor,
    pub v: Tensor,
}

/// Adam(W) over named variables.
#[derive(Debug)]
pub struct Adam {
    pub config: AdamConfig,
    pub slots: Vec<Slot>,
    /// Steps taken so far.
    pub t: u64,
}

impl Adam {
    /// Zero moments for each `(name, var)`.
    pub fn new(vars: Vec<(String, Var)>, config: AdamConfig) -> Result<Self> {
        let slots = vars
            .into_iter()
            .map(|(name, var)| {
                let m = var.as_tensor().zeros_like()?;
                let v = m.clone();
                Ok(Slot { name, var, m, v })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            config,
            slots,
            t: 0,
        })
    }

    /// One update at learning rate `lr`; variables without a gradient are left alone (their
    /// moments too, as in PyTorch).
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<()> {
        self.t += 1;
        let AdamConfig {
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.config;
        let t = self.t as i32;
        let scale_m = 1.0 / (1.0 - beta1.powi(t));
        let scale_v = 1.0 / (1.0 - beta2.powi(t));
        for slot in &mut self.slots {
            let Some(g) = grads.get(slot.var.as_tensor()) else {
                continue;
            };
            slot.m = ((&slot.m * beta1)? + (g * (1.0 - beta1))?)?;
            slot.v = ((&slot.v * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let m_hat = (&slot.m * scale_m)?;
            let v_hat = (&slot.v * scale_v)?;
            let w = slot.var.as_tensor();
            let decayed = (w * (1.0 - lr * weight_decay))?;
            let update = (m_hat / (v_hat.sqrt()? + eps)?)?;
            slot.var.set(&(decayed - (update * lr)?)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    /// The same trajectory as candle-nn's AdamW (which follows PyTorch) on a small problem.
    #[test]
    fn matches_candle_adamw() -> Result<()> {
        let dev = Device::Cpu;
        let init = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev)?;
        let target = Tensor::new(&[[1.0f32, 1.0], [-1.0, 0.0]], &dev)?;
        let ours_var = Var::from_tensor(&init)?;
        let theirs_var = Var::from_tensor(&init)?;
        let cfg = AdamConfig {
            weight_decay: 0.01,
            ..AdamConfig::default()
        };
        let mut ours = Adam::new(vec![("w".into(), ours_var.clone())], cfg)?;
        let mut theirs = AdamW::new(
            vec![theirs_var.clone()],
            ParamsAdamW {
                lr: 0.1,
                beta1: cfg.beta1,
                beta2: cfg.beta2,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
            },
        )?;
        for _ in 0..20 {
            let loss = ours_var.as_tensor().sub(&target)?.sqr()?.sum_all()?;
            ours.step(&loss.backward()?, 0.1)?;
            let loss = theirs_var.as_tensor().sub(&target)?.sqr()?.sum_all()?;
            theirs.step(&loss.backward()?)?;
        }
        let a = ours_var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        let b = theirs_var.as_tensor().flatten_all()?.to_vec1::<f32>()?;
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-5, "{a:?} vs {b:?}");
        }
        // It moved towards the target.
        assert!((a[0] - 1.0).abs() < 0.5, "{a:?}");
        Ok(())
    }
}
