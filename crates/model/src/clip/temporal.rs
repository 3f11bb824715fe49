//! A temporal transformer over CLIP's per-second image embeddings: the VideoCLIP-style video
//! tower of the CLIP family, trained on a library with the paper's recipe while the CLIP image
//! and text towers stay frozen (issue #7).
//!
//! Reference design: CLIP4Clip "seqTransf" (Luo et al. 2021, arXiv 2104.08860, §3.3,
//! `modules/modeling.py`): learned position embeddings added to the frame embeddings, CLIP-style
//! transformer layers over the seconds, a residual add of the original frame embeddings, then
//! the mean over the valid seconds of the L2-normalised outputs, re-normalised. As CLIP4Clip,
//! the layers and position embeddings can start from the first layers of the CLIP text
//! transformer ([`init_temporal`]).
//!
//! One change from CLIP4Clip, so that attaching a fresh tower never makes search worse than
//! zero-shot CLIP: the transformer's output goes through a final LayerNorm and a **zero-initialised
//! output projection** before the residual add, so
//!
//! ```text
//! h_0   = x + P[0..L]                                   x: (B, L, D) per-second embeddings
//! h_i   = h_{i-1} + Attn(LN1(h_{i-1}))                   key padding mask, no causal mask
//! h_i   = h_i + FC2(quick_gelu(FC1(LN2(h_i))))           i = 1..layers (CLIP's pre-LN layer)
//! y     = x + W_out · LN_final(h_layers) + b_out         W_out = 0, b_out = 0 at initialisation
//! s_t   = y_t / |y_t|                                    per-second outputs (zero where padded)
//! pooled = normalise(Σ_t m_t s_t / Σ_t m_t)
//! ```
//!
//! With `W_out = b_out = 0`, `y = x` exactly and the pooled vector is CLIP4Clip's meanP
//! ([`crate::mean_pool_windows`]): a fresh tower reproduces zero-shot CLIP, and fine-tuning moves
//! it from there (the first step's gradient reaches `W_out`, then the layers). In CLIP4Clip the
//! transformer's output, whose residual stream carries `x + P`, is added to `x` directly, so even
//! an untrained tower changes the zero-shot vectors.
//!
//! Numerics: LayerNorm eps 1e-5, quick_gelu `x·σ(1.702x)` (CLIP's), attention
//! `softmax(q kᵀ / sqrt(d_head) + mask)` with −1e9 on padded keys (so padding never changes a
//! valid second's output). `tools/clip_temporal_reference.py` is the PyTorch reference written
//! from this description; `tests/clip_temporal.rs` compares against its fixture
//! (`tests/fixtures/clip/temporal/`).
//!
//! Files: `temporal.safetensors` in the CLIP model directory (names below, f32) and the sizes in
//! `config.json` as `"temporal"` ([`crate::ClipModelConfig::temporal`]); [`ClipModel::load`]
//! attaches the tower when the config names one. [`write_temporal_model`] writes a fine-tuned
//! model directory.
//!
//! Tensor names: `position_embedding.weight (max_seconds, D)`;
//! `layers.{i}.{layer_norm1,layer_norm2}.{weight,bias}`,
//! `layers.{i}.self_attn.{q_proj,k_proj,v_proj,out_proj}.{weight,bias}`,
//! `layers.{i}.mlp.{fc1,fc2}.{weight,bias}` (HF `CLIPEncoderLayer` names);
//! `final_layer_norm.{weight,bias}`; `output.{weight,bias}` (D, D), (D).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{Linear, Module};
use serde::{Deserialize, Serialize};

use crate::bert::{layer_norm, linear, softmax, Norm};
use crate::clip::{ClipModel, ClipModelConfig, CLIP_CONFIG_FILE, CLIP_WEIGHTS_FILE};
use crate::error::{Error, Result};
use crate::model_dir::{fingerprint, window_spans, Init, SplitMix};
use crate::weights::Weights;

/// The tower's weights in a CLIP model directory.
pub const TEMPORAL_FILE: &str = "temporal.safetensors";
/// LayerNorm epsilon (CLIP's).
pub const TEMPORAL_LN_EPS: f64 = 1e-5;
/// Additive attention logit of padded keys.
const MASKED: f64 = -1e9;
/// Windows per forward pass in [`TemporalTower::windows`] (bounds memory on long videos).
const WINDOW_BATCH: usize = 64;

// ---------------------------------------------------------------------------------------------
// Configuration

/// Sizes of the temporal tower (`"temporal"` in a CLIP `config.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemporalConfig {
    /// Transformer layers (CLIP4Clip: 4).
    pub layers: usize,
    /// Attention heads (8).
    pub heads: usize,
    /// Width: must be CLIP's projection dim, the width of the per-second embeddings (512).
    pub width: usize,
    /// Hidden width of each layer's MLP (4 × width).
    pub intermediate_size: usize,
    /// The longest window in seconds (the learned position table's length; 32, the engine's
    /// window).
    pub max_seconds: usize,
}

impl Default for TemporalConfig {
    /// CLIP4Clip's seqTransf for ViT-B/32: 4 layers, 8 heads, width 512, MLP 2048, 32 seconds.
    fn default() -> Self {
        Self {
            layers: 4,
            heads: 8,
            width: 512,
            intermediate_size: 2048,
            max_seconds: 32,
        }
    }
}

impl TemporalConfig {
    /// The default sizes for per-second embeddings of width `width`: 4 layers, 8 heads (fewer
    /// when 8 does not divide the width), MLP 4 × width, 32 seconds.
    pub fn for_width(width: usize) -> Self {
        let heads = [8, 4, 2, 1]
            .into_iter()
            .find(|h| width.is_multiple_of(*h))
            .unwrap_or(1);
        Self {
            width,
            heads,
            intermediate_size: 4 * width,
            ..Self::default()
        }
    }

    /// For tests, on the tiny CLIP model ([`crate::ClipConfig::tiny`], width 16): 2 layers,
    /// 4 heads, MLP 32, 8 seconds.
    pub fn tiny() -> Self {
        Self {
            layers: 2,
            heads: 4,
            width: 16,
            intermediate_size: 32,
            max_seconds: 8,
        }
    }

    /// Checks the sizes against per-second embeddings of width `dim`. `path` names the config
    /// in errors.
    pub fn validate(&self, path: &Path, dim: usize) -> Result<()> {
        let fail = |reason: String| Err(Error::config(path, reason));
        if [
            self.heads,
            self.width,
            self.intermediate_size,
            self.max_seconds,
        ]
        .contains(&0)
        {
            return fail("temporal has a zero size".into());
        }
        if !self.width.is_multiple_of(self.heads) {
            return fail(format!(
                "temporal.width {} is not a multiple of temporal.heads {}",
                self.width, self.heads
            ));
        }
        if self.width != dim {
            return fail(format!(
                "temporal.width is {}, but the per-second embeddings have {dim} values \
                 (clip.projection_dim)",
                self.width
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The tower

/// What [`TemporalTower::forward`] returns.
#[derive(Debug, Clone)]
pub struct TemporalOutput {
    /// `(B, D)`, L2-normalised: one vector per window.
    pub pooled: Tensor,
    /// `(B, L, D)`: the L2-normalised output of every second, zero where the mask is 0.
    pub seconds: Tensor,
}

/// One CLIP-style pre-LN transformer layer.
#[derive(Debug, Clone)]
struct Block {
    norm1: Norm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    norm2: Norm,
    fc1: Linear,
    fc2: Linear,
    heads: usize,
}

impl Block {
    fn load(w: &Weights, p: &str, c: &TemporalConfig) -> Result<Self> {
        let (d, i) = (c.width, c.intermediate_size);
        let attn = |n: &str| linear(w, &format!("{p}.self_attn.{n}"), d, d);
        Ok(Self {
            norm1: layer_norm(w, &format!("{p}.layer_norm1"), d, TEMPORAL_LN_EPS)?,
            q: attn("q_proj")?,
            k: attn("k_proj")?,
            v: attn("v_proj")?,
            out: attn("out_proj")?,
            norm2: layer_norm(w, &format!("{p}.layer_norm2"), d, TEMPORAL_LN_EPS)?,
            fc1: linear(w, &format!("{p}.mlp.fc1"), d, i)?,
            fc2: linear(w, &format!("{p}.mlp.fc2"), i, d)?,
            heads: c.heads,
        })
    }

    /// `x (B, L, D)`, `mask (B, 1, 1, L)` additive.
    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, l, d) = x.dims3()?;
        let dh = d / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, l, self.heads, dh))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let n = self.norm1.forward(x)?;
        let q = split(self.q.forward(&n)?)?;
        let k = split(self.k.forward(&n)?)?;
        let v = split(self.v.forward(&n)?)?;
        let scores = (q.matmul(&k.t()?)? / (dh as f64).sqrt())?.broadcast_add(mask)?;
        let ctx = softmax(&scores)?
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, l, d))?;
        let x = (x + self.out.forward(&ctx)?)?;
        let n = self.norm2.forward(&x)?;
        let hidden = quick_gelu(&self.fc1.forward(&n)?)?;
        Ok((&x + self.fc2.forward(&hidden)?)?)
    }
}

/// CLIP's activation `x·σ(1.702x)` (candle's sigmoid has a backward pass).
fn quick_gelu(x: &Tensor) -> Result<Tensor> {
    Ok((x * candle_nn::ops::sigmoid(&(x * 1.702)?)?)?)
}

/// `v / |v|` over the last dimension; a zero vector stays zero (the norm is clamped at 1e-12,
/// as PyTorch's `F.normalize` and [`crate::l2_normalize`]). The squared norm is clamped (at
/// 1e-24) before the square root, which is the same value, so that the backward pass of a zero
/// vector (a padded second of a fresh tower, whose output projection is zero) is zero and not
/// `0 / sqrt(0)` = NaN.
fn normalize(v: &Tensor) -> Result<Tensor> {
    let norm = v
        .sqr()?
        .sum_keepdim(D::Minus1)?
        .clamp(1e-24f64, f64::INFINITY)?
        .sqrt()?;
    Ok(v.broadcast_div(&norm)?)
}

/// The temporal tower. See the module docs.
#[derive(Debug, Clone)]
pub struct TemporalTower {
    config: TemporalConfig,
    position: Tensor,
    blocks: Vec<Block>,
    final_norm: Norm,
    output: Linear,
}

impl TemporalTower {
    /// Loads `temporal.safetensors` onto `device` (f32), checking every tensor's name and shape.
    pub fn load(path: &Path, config: &TemporalConfig, device: &Device) -> Result<Self> {
        Self::from_weights(&Weights::load(path, device)?, config)
    }

    /// The tower over named tensors (any float dtype; all the same), e.g. from
    /// [`init_temporal`] or a training run. `name` is used in errors.
    pub fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        config: &TemporalConfig,
        name: &Path,
    ) -> Result<Self> {
        Self::from_weights(&Weights::from_map(name, tensors.clone()), config)
    }

    pub(crate) fn from_weights(w: &Weights, config: &TemporalConfig) -> Result<Self> {
        config.validate(w.path(), config.width)?;
        let d = config.width;
        Ok(Self {
            position: w.get("position_embedding.weight", &[config.max_seconds, d])?,
            blocks: (0..config.layers)
                .map(|i| Block::load(w, &format!("layers.{i}"), config))
                .collect::<Result<Vec<_>>>()?,
            final_norm: layer_norm(w, "final_layer_norm", d, TEMPORAL_LN_EPS)?,
            output: linear(w, "output", d, d)?,
            config: config.clone(),
        })
    }

    /// The sizes.
    pub fn config(&self) -> &TemporalConfig {
        &self.config
    }

    /// The device the weights sit on.
    pub fn device(&self) -> &Device {
        self.position.device()
    }

    /// The weights' dtype (f32; f64 in gradient checks).
    pub fn dtype(&self) -> DType {
        self.position.dtype()
    }

    /// Windows of per-second embeddings `features (B, L ≤ max_seconds, D)` (float) with
    /// `mask (B, L)` (1 on real seconds, at least one per row) -> the pooled window vectors and
    /// the per-second outputs (see [`TemporalOutput`]). Computed in the weights' dtype on
    /// their device.
    pub fn forward(&self, features: &Tensor, mask: &Tensor) -> Result<TemporalOutput> {
        let (b, l, d) = features.dims3()?;
        let c = &self.config;
        if d != c.width || l == 0 || l > c.max_seconds || mask.dims() != [b, l] {
            return Err(Error::Input(format!(
                "temporal tower: features {:?} and mask {:?}; expected (B, 1..={}, {}) and (B, L)",
                features.dims(),
                mask.dims(),
                c.max_seconds,
                c.width
            )));
        }
        let (dev, dt) = (self.device(), self.dtype());
        let x = features.to_device(dev)?.to_dtype(dt)?;
        let m = mask.to_device(dev)?.to_dtype(dt)?;
        let counts = m.sum(1)?;
        if b > 0 {
            let fewest = counts.min(0)?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if fewest < 0.5 {
                return Err(Error::Input(
                    "temporal tower: a window without any second (all-zero mask row)".into(),
                ));
            }
        }
        let ext = (m.affine(-1.0, 1.0)? * MASKED)?.reshape((b, 1, 1, l))?;
        let mut h = x.broadcast_add(&self.position.narrow(0, 0, l)?.unsqueeze(0)?)?;
        for block in &self.blocks {
            h = block.forward(&h, &ext)?;
        }
        let delta = self.output.forward(&self.final_norm.forward(&h)?)?;
        let m3 = m.unsqueeze(D::Minus1)?;
        let seconds = normalize(&(x + delta)?)?.broadcast_mul(&m3)?;
        let mean = seconds
            .sum(1)?
            .broadcast_div(&counts.unsqueeze(D::Minus1)?)?;
        Ok(TemporalOutput {
            pooled: normalize(&mean)?,
            seconds,
        })
    }

    /// Runs the tower over `[start, end)` spans of one video's per-second embeddings `(T, D)`
    /// (every span at most `max_seconds` long). Returns the window vectors `(W, D)` and the
    /// per-second states `(T, D)`: each second's outputs averaged over the windows that hold
    /// it, re-normalised (a second in no window keeps its own embedding, normalised). Both on
    /// `per_second`'s device, f32.
    pub fn windows(
        &self,
        per_second: &Tensor,
        spans: &[(usize, usize)],
    ) -> Result<(Tensor, Tensor)> {
        let (t, d) = per_second.dims2()?;
        let out_dev = per_second.device().clone();
        if d != self.config.width {
            return Err(Error::Input(format!(
                "per-second embeddings of width {d}, the temporal tower takes {}",
                self.config.width
            )));
        }
        for &(start, end) in spans {
            if start >= end || end > t || end - start > self.config.max_seconds {
                return Err(Error::Input(format!(
                    "window [{start}, {end}) over {t} seconds (at most {} seconds each)",
                    self.config.max_seconds
                )));
            }
        }
        let (dev, dt) = (self.device().clone(), self.dtype());
        let x = per_second.to_device(&dev)?.to_dtype(dt)?;
        let mut pooled = Vec::with_capacity(spans.len().div_ceil(WINDOW_BATCH));
        let mut sum = Tensor::zeros((t, d), dt, &dev)?;
        let mut count = vec![0f32; t];
        for chunk in spans.chunks(WINDOW_BATCH) {
            let l = chunk.iter().map(|(s, e)| e - s).max().unwrap_or(1);
            let mut rows = Vec::with_capacity(chunk.len());
            let mut mask = Vec::with_capacity(chunk.len() * l);
            let mut from = Vec::new();
            let mut to = Vec::new();
            for (j, &(start, end)) in chunk.iter().enumerate() {
                let len = end - start;
                rows.push(x.narrow(0, start, len)?.pad_with_zeros(0, 0, l - len)?);
                mask.extend((0..l).map(|i| u8::from(i < len)));
                for i in 0..len {
                    from.push((j * l + i) as u32);
                    to.push((start + i) as u32);
                    count[start + i] += 1.0;
                }
            }
            let batch = Tensor::stack(&rows, 0)?;
            let mask = Tensor::from_vec(mask, (chunk.len(), l), &dev)?;
            let out = self.forward(&batch, &mask)?;
            pooled.push(out.pooled);
            let n = from.len();
            let valid = out
                .seconds
                .reshape((chunk.len() * l, d))?
                .index_select(&Tensor::from_vec(from, n, &dev)?, 0)?;
            sum = sum.index_add(&Tensor::from_vec(to, n, &dev)?, &valid, 0)?;
        }
        // Seconds in no window: their own embedding.
        let uncovered: Vec<f32> = count.iter().map(|&c| f32::from(c == 0.0)).collect();
        let uncovered = Tensor::from_vec(uncovered, (t, 1), &dev)?.to_dtype(dt)?;
        let sum = (sum + x.broadcast_mul(&uncovered)?)?;
        let seconds = normalize(&sum)?;
        let pooled = if pooled.is_empty() {
            Tensor::zeros((0, d), dt, &dev)?
        } else {
            Tensor::cat(&pooled, 0)?
        };
        let back =
            |t: Tensor| -> Result<Tensor> { Ok(t.to_dtype(DType::F32)?.to_device(&out_dev)?) };
        Ok((back(pooled)?, back(seconds)?))
    }

    /// Window vectors `(W, D)` of `[start, end)` spans of per-second embeddings `(T, D)`: the
    /// pooled outputs of [`Self::windows`].
    pub fn embed_windows(&self, per_second: &Tensor, spans: &[(usize, usize)]) -> Result<Tensor> {
        Ok(self.windows(per_second, spans)?.0)
    }

    /// What moments and steps score, `(T, D)`: the per-second outputs averaged over windows
    /// of `max_seconds` every `max_seconds / 2` seconds (32 and 16 by default, the engine's
    /// windows), re-normalised.
    pub fn second_states(&self, per_second: &Tensor) -> Result<Tensor> {
        let (t, d) = per_second.dims2()?;
        if t == 0 {
            return Ok(Tensor::zeros((0, d), DType::F32, per_second.device())?);
        }
        let window = self.config.max_seconds;
        let spans = window_spans(t, window, (window / 2).max(1));
        Ok(self.windows(per_second, &spans)?.1)
    }
}

// ---------------------------------------------------------------------------------------------
// Initialisation and training

/// Every tensor of the tower with its shape and random initialisation (CLIP's: N(0, 0.02) for
/// dense layers, N(0, 0.01) positions, LayerNorm 1/0, zero biases; the output projection 0).
fn temporal_specs(c: &TemporalConfig) -> Vec<(String, Vec<usize>, Init)> {
    let (d, i) = (c.width, c.intermediate_size);
    let mut out = vec![(
        "position_embedding.weight".to_owned(),
        vec![c.max_seconds, d],
        Init::Normal(0.01),
    )];
    let lin = |out: &mut Vec<_>, p: String, cin: usize, cout: usize, std: f32| {
        let init = if std == 0.0 {
            Init::Const(0.0)
        } else {
            Init::Normal(std)
        };
        out.push((format!("{p}.weight"), vec![cout, cin], init));
        out.push((format!("{p}.bias"), vec![cout], Init::Const(0.0)));
    };
    let ln = |out: &mut Vec<_>, p: String| {
        out.push((format!("{p}.weight"), vec![d], Init::Const(1.0)));
        out.push((format!("{p}.bias"), vec![d], Init::Const(0.0)));
    };
    for l in 0..c.layers {
        let p = format!("layers.{l}");
        ln(&mut out, format!("{p}.layer_norm1"));
        for n in ["q_proj", "k_proj", "v_proj", "out_proj"] {
            lin(&mut out, format!("{p}.self_attn.{n}"), d, d, 0.02);
        }
        ln(&mut out, format!("{p}.layer_norm2"));
        lin(&mut out, format!("{p}.mlp.fc1"), d, i, 0.02);
        lin(&mut out, format!("{p}.mlp.fc2"), i, d, 0.02);
    }
    ln(&mut out, "final_layer_norm".to_owned());
    lin(&mut out, "output".to_owned(), d, d, 0.0);
    out
}

/// Where a fresh tower's layers came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalInit {
    /// The first `layers` layers and `max_seconds` position embeddings of the CLIP text
    /// transformer (CLIP4Clip's initialisation; needs text width = projection dim, the same
    /// heads and MLP width, as in ViT-B/32).
    ClipText,
    /// Random (seeded), when the text transformer's sizes do not fit.
    Random,
}

/// Fresh tower weights (f32, CPU) for `config`: from the CLIP text transformer in `clip` (HF
/// `CLIPModel` names, e.g. a model directory's `model.safetensors`) when its sizes fit, else
/// random from `seed`. The output projection is zero either way, so the tower computes
/// exactly CLIP4Clip's meanP until it is trained.
pub fn init_temporal(
    config: &TemporalConfig,
    seed: u64,
    clip: Option<&HashMap<String, Tensor>>,
) -> Result<(HashMap<String, Tensor>, TemporalInit)> {
    config.validate(Path::new("temporal"), config.width)?;
    let specs = temporal_specs(config);
    let source = |name: &str| -> Option<String> {
        if let Some(rest) = name.strip_prefix("layers.") {
            return Some(format!("text_model.encoder.layers.{rest}"));
        }
        (name == "position_embedding.weight")
            .then(|| "text_model.embeddings.position_embedding.weight".to_owned())
    };
    // Copied only when every layer tensor exists with the shape the tower needs.
    let copied = clip.filter(|w| {
        specs.iter().all(|(name, shape, _)| match source(name) {
            None => true,
            Some(src) => w.get(&src).is_some_and(|t| {
                let dims = t.dims();
                if name == "position_embedding.weight" {
                    dims.len() == 2 && dims[0] >= shape[0] && dims[1] == shape[1]
                } else {
                    dims == shape.as_slice()
                }
            }),
        })
    });
    let mut rng = SplitMix(seed);
    let mut out = HashMap::with_capacity(specs.len());
    for (name, shape, init) in &specs {
        let from_text = copied.and_then(|w| source(name).and_then(|s| w.get(&s)));
        let t = match from_text {
            Some(t) => t
                .narrow(0, 0, shape[0])?
                .to_dtype(DType::F32)?
                .to_device(&Device::Cpu)?
                .contiguous()?,
            None => Tensor::from_vec(
                rng.fill(shape.iter().product(), *init),
                shape.as_slice(),
                &Device::Cpu,
            )?,
        };
        out.insert(name.clone(), t);
    }
    let how = if copied.is_some() {
        TemporalInit::ClipText
    } else {
        TemporalInit::Random
    };
    Ok((out, how))
}

/// The temporal tower with every weight a trainable candle [`Var`]. The tower shares the
/// variables' storage, so an optimizer step on [`Self::vars`] is seen by the next forward
/// pass. Training only touches this tower: the CLIP image embeddings (per-second features)
/// and text embeddings (captions) are inputs and targets, computed once by the frozen towers.
#[derive(Debug)]
pub struct TrainableTemporal {
    pub tower: TemporalTower,
    /// Every weight by its name in `temporal.safetensors`, sorted.
    pub vars: Vec<(String, Var)>,
}

impl TrainableTemporal {
    /// Trainable copies of `tensors` on `device` in `dtype` (f32 to train, f64 for gradient
    /// checks).
    pub fn from_tensors(
        tensors: &HashMap<String, Tensor>,
        config: &TemporalConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let mut vars = Vec::with_capacity(tensors.len());
        let mut shared = HashMap::with_capacity(tensors.len());
        for (name, t) in tensors {
            let var = Var::from_tensor(&t.to_device(device)?.to_dtype(dtype)?)?;
            shared.insert(name.clone(), var.as_tensor().clone());
            vars.push((name.clone(), var));
        }
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let tower = TemporalTower::from_tensors(&shared, config, Path::new(TEMPORAL_FILE))?;
        Ok(Self { tower, vars })
    }

    /// Loads `temporal.safetensors` as trainable variables.
    pub fn load(
        path: &Path,
        config: &TemporalConfig,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let w = Weights::load(path, &Device::Cpu)?;
        // Checks names and shapes with the file's path in errors.
        TemporalTower::from_weights(&w, config)?;
        Self::from_tensors(w.tensors(), config, device, dtype)
    }

    /// What to train for `model`: its own tower when it has one (a fine-tuned model trained
    /// further), else a fresh one ([`init_temporal`] of [`TemporalConfig::for_width`] of the
    /// model's embedding width, from its text transformer when the sizes fit).
    pub fn for_model(model: &ClipModel, seed: u64, dtype: DType) -> Result<(Self, TemporalConfig)> {
        let device = model.device();
        if let Some(config) = &model.config.temporal {
            let path = model.dir().join(TEMPORAL_FILE);
            return Ok((Self::load(&path, config, device, dtype)?, config.clone()));
        }
        let config = TemporalConfig::for_width(model.embedding_dim());
        let clip = Weights::load(&model.dir().join(CLIP_WEIGHTS_FILE), &Device::Cpu)?;
        let (tensors, _) = init_temporal(&config, seed, Some(clip.tensors()))?;
        Ok((
            Self::from_tensors(&tensors, &config, device, dtype)?,
            config,
        ))
    }

    /// The variable named `name`.
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// A copy of the current weights, f32 on the CPU (what [`write_temporal_model`] writes).
    pub fn snapshot(&self) -> Result<HashMap<String, Tensor>> {
        self.vars
            .iter()
            .map(|(n, v)| {
                let t = v
                    .as_tensor()
                    .to_dtype(DType::F32)?
                    .to_device(&Device::Cpu)?
                    .copy()?;
                Ok((n.clone(), t))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Writing a fine-tuned model

/// Writes the CLIP model directory `out_dir`: every file of `base_dir` (the frozen CLIP
/// weights, tokenizer, ...; not its `config.json` or `temporal.safetensors`), the tower
/// `tensors` as `temporal.safetensors`, and `config.json` last with `"temporal": config`,
/// `description`, a new `model_id` (over the CLIP weights and the tower) and the base's
/// `vision_id` (the image tower is unchanged, so cached per-second features stay valid).
/// Refuses an `out_dir` that already holds a model. Returns the config as written.
pub fn write_temporal_model(
    base_dir: &Path,
    out_dir: &Path,
    config: &TemporalConfig,
    tensors: &HashMap<String, Tensor>,
    description: &str,
) -> Result<ClipModelConfig> {
    let base = ClipModelConfig::load(&base_dir.join(CLIP_CONFIG_FILE))?;
    let out_config = out_dir.join(CLIP_CONFIG_FILE);
    if out_config.exists() {
        return Err(Error::Input(format!(
            "{} already holds a model; choose a new folder",
            out_dir.display()
        )));
    }
    config.validate(&out_config, base.clip.projection_dim)?;
    let mut tower: HashMap<String, Tensor> = HashMap::with_capacity(tensors.len());
    for (name, t) in tensors {
        let t = t
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .contiguous()?;
        tower.insert(name.clone(), t);
    }
    // Every tensor the tower needs, with its shape; nothing else.
    TemporalTower::from_tensors(&tower, config, &out_dir.join(TEMPORAL_FILE))?;
    let wanted: Vec<String> = temporal_specs(config).into_iter().map(|s| s.0).collect();
    tower.retain(|name, _| wanted.contains(name));

    let folder = crate::folder::FolderWriter::create(out_dir)?;
    let entries = std::fs::read_dir(base_dir).map_err(|e| Error::io(base_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(base_dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let from = entry.path();
        // (A `.tmp-*` file is what a writer killed mid-file left behind.)
        if name == CLIP_CONFIG_FILE
            || name == TEMPORAL_FILE
            || name.starts_with(".tmp-")
            || !from.is_file()
        {
            continue;
        }
        folder.copy(&from, &name)?;
    }
    folder.weights(TEMPORAL_FILE, &tower)?;

    let clip_path = out_dir.join(CLIP_WEIGHTS_FILE);
    let mut all = Weights::load(&clip_path, &Device::Cpu)?.tensors().clone();
    let vision_id = match &base.vision_id {
        Some(id) => id.clone(),
        None => crate::clip::vision_fingerprint(&all)?,
    };
    for (name, t) in &tower {
        all.insert(format!("temporal.{name}"), t.clone());
    }
    let mut written = base;
    written.temporal = Some(config.clone());
    written.vision_id = Some(vision_id);
    written.model_id = Some(format!("clip-{:016x}", fingerprint(&all)?));
    written.description = description.to_owned();
    written.validate(&out_config)?;
    folder.finish(
        CLIP_CONFIG_FILE,
        &crate::folder::config_json(&written, &out_config)?,
    )?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clip::{init_random_clip, mean_pool_windows};
    use crate::config::Preset;
    use crate::train::symmetric_info_nce;

    fn tempdir() -> Result<tempfile::TempDir> {
        tempfile::tempdir().map_err(|e| Error::io("tempdir", e))
    }

    /// Random unit rows `(n, d)`.
    fn unit_rows(n: usize, d: usize, seed: u64) -> Result<Tensor> {
        let v = SplitMix(seed).fill(n * d, Init::Normal(1.0));
        normalize(&Tensor::from_vec(v, (n, d), &Device::Cpu)?)
    }

    /// Every weight random (the output projection too), so that no gradient is trivially zero.
    fn perturbed(config: &TemporalConfig, seed: u64) -> Result<HashMap<String, Tensor>> {
        let (fresh, _) = init_temporal(config, seed, None)?;
        let mut rng = SplitMix(seed ^ 0x5eed);
        let mut out = HashMap::new();
        for (name, t) in fresh {
            let noise = rng.fill(t.elem_count(), Init::Normal(0.2));
            let noise = Tensor::from_vec(noise, t.shape(), &Device::Cpu)?;
            out.insert(name, (t + noise)?);
        }
        Ok(out)
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
        Ok((a.to_dtype(DType::F32)? - b.to_dtype(DType::F32)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()?)
    }

    #[test]
    fn a_fresh_tower_is_mean_pooling() -> Result<()> {
        let config = TemporalConfig::tiny();
        let (tensors, how) = init_temporal(&config, 3, None)?;
        assert_eq!(how, TemporalInit::Random);
        let tower = TemporalTower::from_tensors(&tensors, &config, Path::new("fresh"))?;
        let x = unit_rows(21, config.width, 9)?;
        let spans = window_spans(21, 8, 4);
        let (pooled, seconds) = tower.windows(&x, &spans)?;
        let want = mean_pool_windows(&x, &spans)?;
        let err = max_abs_diff(&pooled, &want)?;
        assert!(err <= 1e-6, "pooled vs meanP: {err}");
        assert!(max_abs_diff(&seconds, &x)? <= 1e-6);
        assert!(max_abs_diff(&tower.second_states(&x)?, &x)? <= 1e-6);
        // Through the batched forward with padding too.
        let batch = Tensor::stack(&[x.narrow(0, 0, 8)?, x.narrow(0, 8, 8)?], 0)?;
        let mask = Tensor::new(&[[1u8; 8], [1, 1, 1, 0, 0, 0, 0, 0]], &Device::Cpu)?;
        let out = tower.forward(&batch, &mask)?;
        let want = mean_pool_windows(&x, &[(0, 8), (8, 11)])?;
        assert!(max_abs_diff(&out.pooled, &want)? <= 1e-6);
        Ok(())
    }

    #[test]
    fn init_from_the_text_transformer_when_sizes_fit() -> Result<()> {
        // A text transformer of width 16 with 3 layers and 77 positions: the tower (width 16,
        // 2 layers, MLP 32) takes its first two layers and first 8 positions.
        let config = TemporalConfig::tiny();
        let (random, _) = init_temporal(&config, 1, None)?;
        let mut clip = HashMap::new();
        for (name, t) in &random {
            if let Some(rest) = name.strip_prefix("layers.") {
                clip.insert(format!("text_model.encoder.layers.{rest}"), (t + 0.5)?);
            }
        }
        let pos = unit_rows(77, 16, 4)?;
        clip.insert(
            "text_model.embeddings.position_embedding.weight".to_owned(),
            pos.clone(),
        );
        let (got, how) = init_temporal(&config, 1, Some(&clip))?;
        assert_eq!(how, TemporalInit::ClipText);
        let name = "layers.1.mlp.fc1.weight";
        let want = (&random[name] + 0.5)?;
        assert_eq!(max_abs_diff(&got[name], &want)?, 0.0);
        assert_eq!(
            max_abs_diff(&got["position_embedding.weight"], &pos.narrow(0, 0, 8)?)?,
            0.0
        );
        assert_eq!(
            got["output.weight"].abs()?.max_all()?.to_scalar::<f32>()?,
            0.0
        );
        // A shape that does not fit: random layers.
        clip.insert(
            "text_model.encoder.layers.0.mlp.fc1.weight".to_owned(),
            Tensor::zeros((64, 16), DType::F32, &Device::Cpu)?,
        );
        assert_eq!(
            init_temporal(&config, 1, Some(&clip))?.1,
            TemporalInit::Random
        );
        Ok(())
    }

    #[test]
    fn padding_and_window_length_do_not_change_valid_seconds() -> Result<()> {
        let config = TemporalConfig::tiny();
        let tower = TemporalTower::from_tensors(&perturbed(&config, 5)?, &config, Path::new("p"))?;
        let x = unit_rows(5, 16, 2)?;
        let alone = tower.forward(
            &x.unsqueeze(0)?,
            &Tensor::ones((1, 5), DType::U8, &Device::Cpu)?,
        )?;
        // Padded with garbage to 8 seconds.
        let padded = Tensor::cat(&[x.clone(), (unit_rows(3, 16, 7)? * 3.0)?], 0)?.unsqueeze(0)?;
        let mask = Tensor::new(&[[1u8, 1, 1, 1, 1, 0, 0, 0]], &Device::Cpu)?;
        let out = tower.forward(&padded, &mask)?;
        assert!(max_abs_diff(&out.pooled, &alone.pooled)? <= 1e-6);
        assert!(max_abs_diff(&out.seconds.narrow(1, 0, 5)?, &alone.seconds)? <= 1e-6);
        assert_eq!(
            out.seconds
                .narrow(1, 5, 3)?
                .abs()?
                .max_all()?
                .to_scalar::<f32>()?,
            0.0
        );
        // A trained tower is not meanP, and its outputs are unit vectors.
        let mean = mean_pool_windows(&x, &[(0, 5)])?;
        assert!(max_abs_diff(&alone.pooled, &mean)? > 1e-3);
        let norms = alone
            .seconds
            .sqr()?
            .sum(D::Minus1)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        assert!(norms.iter().all(|n| (n - 1.0).abs() < 1e-5), "{norms:?}");
        // Refused: too long, empty rows, wrong width.
        let long = unit_rows(9, 16, 1)?.unsqueeze(0)?;
        assert!(tower
            .forward(&long, &Tensor::ones((1, 9), DType::U8, &Device::Cpu)?)
            .is_err());
        let empty = Tensor::zeros((1, 5), DType::U8, &Device::Cpu)?;
        assert!(tower.forward(&x.unsqueeze(0)?, &empty).is_err());
        assert!(tower.windows(&x, &[(0, 6)]).is_err());
        assert!(tower.windows(&unit_rows(5, 8, 1)?, &[(0, 2)]).is_err());
        Ok(())
    }

    #[test]
    fn second_states_average_overlapping_windows() -> Result<()> {
        let config = TemporalConfig::tiny();
        let tower = TemporalTower::from_tensors(&perturbed(&config, 8)?, &config, Path::new("p"))?;
        let x = unit_rows(14, 16, 3)?;
        // Windows of 8 every 4: [0, 8), [4, 12), [8, 14).
        let states = tower.second_states(&x)?;
        assert_eq!(states.dims(), &[14, 16]);
        let spans = [(0, 8), (4, 12), (8, 14)];
        let outs: Vec<Tensor> = spans
            .iter()
            .map(|&(s, e)| {
                let w = x.narrow(0, s, e - s)?.unsqueeze(0)?;
                let m = Tensor::ones((1, e - s), DType::U8, &Device::Cpu)?;
                Ok(tower.forward(&w, &m)?.seconds.squeeze(0)?)
            })
            .collect::<Result<_>>()?;
        // Second 2: only window 0; second 9: windows 1 and 2.
        let s2 = outs[0].narrow(0, 2, 1)?;
        assert!(max_abs_diff(&states.narrow(0, 2, 1)?, &s2)? <= 1e-6);
        let s9 = normalize(&(outs[1].narrow(0, 5, 1)? + outs[2].narrow(0, 1, 1)?)?)?;
        assert!(max_abs_diff(&states.narrow(0, 9, 1)?, &s9)? <= 1e-6);
        // Pooled windows equal one forward pass each.
        let pooled = tower.embed_windows(&x, &spans)?;
        let one = tower.forward(
            &x.narrow(0, 8, 6)?.unsqueeze(0)?,
            &Tensor::ones((1, 6), DType::U8, &Device::Cpu)?,
        )?;
        assert!(max_abs_diff(&pooled.narrow(0, 2, 1)?, &one.pooled)? <= 1e-6);
        assert_eq!(tower.second_states(&x.narrow(0, 0, 0)?)?.dims(), &[0, 16]);
        Ok(())
    }

    /// The backward pass (position embeddings, attention, LayerNorm, quick_gelu, the output
    /// projection, normalisation and masked pooling) through the InfoNCE loss against central
    /// finite differences, in f64.
    #[test]
    fn gradients_match_finite_differences() -> Result<()> {
        let config = TemporalConfig::tiny();
        let dev = Device::Cpu;
        let tower =
            TrainableTemporal::from_tensors(&perturbed(&config, 11)?, &config, &dev, DType::F64)?;
        let feats = Tensor::randn(0f64, 1.0, (3, 6, 16), &dev)?;
        let mask = Tensor::new(
            &[[1u8, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]],
            &dev,
        )?;
        let text = normalize(&Tensor::randn(0f64, 1.0, (3, 16), &dev)?)?;
        let loss = || -> Result<Tensor> {
            let v = tower.tower.forward(&feats, &mask)?.pooled;
            // A sharper temperature than 1 so that the loss moves visibly with the weights.
            symmetric_info_nce(&v, &text, 0.1)
        };
        let l0 = loss()?;
        assert_eq!(l0.dtype(), DType::F64);
        let grads = l0.backward()?;
        let checks = [
            ("position_embedding.weight", 17),
            ("layers.0.self_attn.q_proj.weight", 5),
            ("layers.0.self_attn.k_proj.bias", 3),
            ("layers.1.self_attn.v_proj.weight", 40),
            ("layers.1.self_attn.out_proj.bias", 2),
            ("layers.0.layer_norm1.weight", 7),
            ("layers.1.layer_norm2.bias", 1),
            ("layers.0.mlp.fc1.weight", 100),
            ("layers.1.mlp.fc2.weight", 33),
            ("final_layer_norm.weight", 4),
            ("output.weight", 20),
            ("output.bias", 9),
        ];
        let nonzero = crate::train::check_gradients(&checks, |n| tower.var(n), &grads, loss)?;
        assert!(nonzero >= checks.len() - 1, "{nonzero} non-zero gradients");
        // Every variable gets a gradient.
        for (name, var) in &tower.vars {
            assert!(
                grads.get(var.as_tensor()).is_some(),
                "no gradient for {name}"
            );
        }
        Ok(())
    }

    /// A fresh tower (output projection zero) on zero-padded windows, as the engine's batches
    /// are: the padded seconds' outputs are zero vectors, and every gradient stays finite.
    #[test]
    fn padded_zero_seconds_of_a_fresh_tower_have_finite_gradients() -> Result<()> {
        let config = TemporalConfig::tiny();
        let dev = Device::Cpu;
        let (fresh, _) = init_temporal(&config, 2, None)?;
        let tower = TrainableTemporal::from_tensors(&fresh, &config, &dev, DType::F32)?;
        let mask = Tensor::new(&[[1u8, 1, 1, 1], [1, 1, 1, 0], [1, 1, 0, 0]], &dev)?;
        let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let feats = normalize(&Tensor::randn(0f32, 1.0, (3, 4, 16), &dev)?)?.broadcast_mul(&m)?;
        let text = normalize(&Tensor::randn(0f32, 1.0, (3, 16), &dev)?)?;
        let loss = symmetric_info_nce(&tower.tower.forward(&feats, &mask)?.pooled, &text, 0.01)?;
        let grads = loss.backward()?;
        for (name, var) in &tower.vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let sq = g.sqr()?.sum_all()?.to_scalar::<f32>()?;
                assert!(sq.is_finite(), "{name}: gradient norm² {sq}");
            }
        }
        Ok(())
    }

    /// The recipe's loss with frozen CLIP text embeddings: gradients reach only the tower, and
    /// plain gradient steps from the fresh (meanP) tower lower the loss.
    #[test]
    fn training_from_mean_pooling_lowers_the_loss() -> Result<()> {
        let config = TemporalConfig::tiny();
        let dev = Device::Cpu;
        let (fresh, _) = init_temporal(&config, 2, None)?;
        let tower = TrainableTemporal::from_tensors(&fresh, &config, &dev, DType::F32)?;
        // Six windows holding the same eight seconds in rotated orders: their means are equal,
        // so meanP is at chance; each text is the mean of its window's first four seconds, which
        // only an order-aware tower can tell apart.
        let (b, l, d) = (6, 8, 16);
        let frames = unit_rows(l, d, 12)?;
        let windows: Vec<Tensor> = (0..b)
            .map(|r| {
                let idx: Vec<u32> = (0..l).map(|i| ((i + r) % l) as u32).collect();
                Ok(frames.index_select(&Tensor::new(idx.as_slice(), &dev)?, 0)?)
            })
            .collect::<Result<_>>()?;
        let feats = Tensor::stack(&windows, 0)?;
        let mask = Tensor::ones((b, l), DType::U8, &dev)?;
        let text = normalize(&feats.narrow(1, 0, 4)?.sum(1)?)?.detach();
        let tau = 0.1;
        let before = {
            let v = tower.tower.forward(&feats, &mask)?.pooled;
            let spans: Vec<(usize, usize)> = (0..b).map(|i| (i * l, (i + 1) * l)).collect();
            let meanp = mean_pool_windows(&feats.reshape((b * l, d))?, &spans)?;
            assert!(max_abs_diff(&v, &meanp)? <= 1e-6);
            symmetric_info_nce(&v, &text, tau)?.to_scalar::<f32>()?
        };
        // Equal window vectors: at least chance level (2 ln B; more when the texts differ).
        assert!(before >= 2.0 * (b as f32).ln() - 1e-4, "{before}");
        let lr = 1e-2;
        // Adam (β 0.9, 0.98 as the recipe), written out.
        let mut moments: Vec<(Tensor, Tensor)> = tower
            .vars
            .iter()
            .map(|(_, v)| Ok((v.zeros_like()?, v.zeros_like()?)))
            .collect::<Result<_>>()?;
        let mut last = before;
        for step in 0..40i32 {
            let v = tower.tower.forward(&feats, &mask)?.pooled;
            let loss = symmetric_info_nce(&v, &text, tau)?;
            last = loss.to_scalar::<f32>()?;
            let grads = loss.backward()?;
            assert!(grads.get(&text).is_none(), "the text side is frozen");
            let mut moved = 0;
            let t = step + 1;
            for ((_, var), (m, v)) in tower.vars.iter().zip(moments.iter_mut()) {
                let Some(g) = grads.get(var.as_tensor()) else {
                    continue;
                };
                if g.abs()?.max_all()?.to_scalar::<f32>()? > 0.0 {
                    moved += 1;
                }
                *m = ((&*m * 0.9)? + (g * 0.1)?)?;
                *v = ((&*v * 0.98)? + (g.sqr()? * 0.02)?)?;
                let m_hat = (&*m / (1.0 - 0.9f64.powi(t)))?;
                let v_hat = (&*v / (1.0 - 0.98f64.powi(t)))?;
                let update = (m_hat / (v_hat.sqrt()? + 1e-8)?)?;
                var.set(&(var.as_tensor() - (update * lr)?)?)?;
            }
            if step == 0 {
                // Only the output projection moves first: the layers' gradients pass through it.
                assert_eq!(moved, 2, "{moved} variables with a gradient at step 0");
            }
        }
        // Measured: 3.90 -> 0.08 after 40 steps.
        assert!(last < 0.1 * before, "loss {before} -> {last}");
        Ok(())
    }

    #[test]
    fn clip_model_uses_an_attached_tower() -> Result<()> {
        let base = tempdir()?;
        let out = tempdir()?;
        let base_config = init_random_clip(Preset::Tiny, 5, base.path(), None)?;
        let vision = base_config.vision_id.clone();
        assert!(vision.as_deref().is_some_and(|v| v.starts_with("clipv-")));
        let model = ClipModel::load(base.path(), &Device::Cpu)?;
        assert!(model.temporal().is_none());
        let x = unit_rows(40, 16, 6)?;
        let spans = window_spans(40, 8, 4);
        // Without a tower: meanP, and the seconds themselves.
        let mean = model.embed_windows(&x, &spans)?;
        assert!(max_abs_diff(&mean, &mean_pool_windows(&x, &spans)?)? == 0.0);
        assert!(max_abs_diff(&model.second_states(&x)?, &x)? == 0.0);

        // Train-free "fine-tune": a fresh tower is written, loaded, and equals meanP.
        let config = TemporalConfig::tiny();
        let (trainable, for_config) = TrainableTemporal::for_model(&model, 1, DType::F32)?;
        assert_eq!(for_config, TemporalConfig::for_width(16));
        assert_eq!(trainable.vars.len(), temporal_specs(&for_config).len());
        let (fresh, _) = init_temporal(&config, 1, None)?;
        let dir = out.path().join("fresh");
        let written = write_temporal_model(base.path(), &dir, &config, &fresh, "fresh")?;
        assert_eq!(written.vision_id, vision);
        assert_ne!(written.model_id, base_config.model_id);
        let with = ClipModel::load(&dir, &Device::Cpu)?;
        assert_eq!(with.temporal().map(TemporalTower::config), Some(&config));
        assert!(max_abs_diff(&with.embed_windows(&x, &spans)?, &mean)? <= 1e-6);
        assert!(max_abs_diff(&with.second_states(&x)?, &x)? <= 1e-6);
        // The text side is untouched.
        let q = ["whisk the eggs", "a dog"];
        assert_eq!(
            max_abs_diff(&with.embed_texts(&q)?, &model.embed_texts(&q)?)?,
            0.0
        );

        // A trained tower: different vectors, another model_id, same vision_id; windows
        // longer than the tower's are refused.
        let trained = perturbed(&config, 4)?;
        let dir2 = out.path().join("trained");
        let written2 = write_temporal_model(&dir, &dir2, &config, &trained, "trained")?;
        assert_eq!(written2.vision_id, vision);
        assert_ne!(written2.model_id, written.model_id);
        let with2 = ClipModel::load(&dir2, &Device::Cpu)?;
        assert!(max_abs_diff(&with2.embed_windows(&x, &spans)?, &mean)? > 1e-3);
        assert!(with2.embed_windows(&x, &[(0, 9)]).is_err());
        let tower2 = TemporalTower::from_tensors(&trained, &config, Path::new("t"))?;
        assert!(max_abs_diff(&with2.second_states(&x)?, &tower2.second_states(&x)?)? <= 1e-6);
        // Training continues from the model's own tower.
        let (again, again_config) = TrainableTemporal::for_model(&with2, 9, DType::F32)?;
        assert_eq!(again_config, config);
        let snap = again.snapshot()?;
        assert_eq!(
            max_abs_diff(&snap["output.weight"], &trained["output.weight"])?,
            0.0
        );

        // Same weights -> same fingerprint; an existing model is not overwritten.
        let dir3 = out.path().join("trained-again");
        let written3 = write_temporal_model(base.path(), &dir3, &config, &trained, "again")?;
        assert_eq!(written3.model_id, written2.model_id);
        assert!(write_temporal_model(base.path(), &dir3, &config, &trained, "x").is_err());
        // A config naming a tower whose file is missing is an error naming the file.
        std::fs::remove_file(dir3.join(TEMPORAL_FILE)).map_err(|e| Error::io(&dir3, e))?;
        let err = ClipModel::load(&dir3, &Device::Cpu)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains(TEMPORAL_FILE)));
        // A tower of the wrong width is refused before anything is written.
        let wide = TemporalConfig::for_width(32);
        let (w, _) = init_temporal(&wide, 1, None)?;
        assert!(write_temporal_model(base.path(), &out.path().join("w"), &wide, &w, "w").is_err());
        assert!(!out.path().join("w").join(CLIP_CONFIG_FILE).exists());
        Ok(())
    }
}
