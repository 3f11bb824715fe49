//! A BERT encoder fed with input embeddings (HF transformers 3.x semantics), as both VideoCLIP
//! towers use it.
//!
//! Paper: Devlin et al., BERT (NAACL 2019); VideoCLIP (arXiv 2109.14084) uses bert-base-uncased.
//! Reference: HF `transformers` 3.4 `BertModel` as wrapped by `fairseq/examples/MMPT`
//! (`mmpt/models/transformermodel.py`); spec `docs/model-notes.md` §3 and §8.2; PyTorch port
//! `tools/reference.py`. Weights: `video_encoder.bert.*` / `text_encoder.*` of `checkpoint_best.pt`.
//!
//! candle-transformers' `BertModel` only takes token ids, and the video tower feeds embeddings, so
//! the encoder lives here: post-LN layers, exact erf GELU, LayerNorm eps 1e-12, additive
//! attention mask of -10000 on masked keys.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{DType, Tensor, D};
use candle_nn::{LayerNorm, Linear, Module};

use crate::config::VideoClipConfig;
use crate::error::Result;
use crate::q8::{self, PackedQ8};
use crate::weights::Weights;

/// BERT LayerNorm eps.
pub(crate) const BERT_LN_EPS: f64 = 1e-12;
/// HF 3.x additive mask value for masked keys.
const MASK_VALUE: f64 = -10000.0;

pub(crate) fn linear(w: &Weights, prefix: &str, cin: usize, cout: usize) -> Result<Linear> {
    let weight = w.get(&format!("{prefix}.weight"), &[cout, cin])?;
    let bias = w.get(&format!("{prefix}.bias"), &[cout])?;
    Ok(Linear::new(weight, Some(bias)))
}

pub(crate) fn layer_norm(w: &Weights, prefix: &str, h: usize, eps: f64) -> Result<Norm> {
    let weight = w.get(&format!("{prefix}.weight"), &[h])?;
    let bias = w.get(&format!("{prefix}.bias"), &[h])?;
    Ok(Norm {
        ln: LayerNorm::new(weight, bias, eps),
        eps,
    })
}

/// LayerNorm. Inference uses candle's fused kernel, which has no backward pass (candle applies
/// it with `apply_op3_no_bwd`, so gradients would silently stop there); when gradients flow —
/// trainable weights or an input computed from them — and in f64 (which the kernel lacks) the
/// same formula runs as plain differentiable ops.
#[derive(Debug, Clone)]
pub(crate) struct Norm {
    ln: LayerNorm,
    eps: f64,
}

impl Module for Norm {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let ln = &self.ln;
        match ln.bias() {
            Some(bias) if differentiable(x) || ln.weight().track_op() => {
                candle_nn::ops::layer_norm_slow(x, ln.weight(), bias, self.eps as f32)
            }
            _ => ln.forward(x),
        }
    }
}

/// A dense layer `x W^T + b`: f32 weights, or 8-bit blocks (ggml `q8_0`: 32 weights share one
/// f16 scale) for CPU inference, where a query's few tokens make the layer memory-bound and
/// a quarter of the bytes runs about 3x faster (see [`Encoder::quantize_q8`]).
#[derive(Debug, Clone)]
pub(crate) enum Proj {
    F32(Linear),
    Q8 {
        weight: QMatMul,
        bias: Tensor,
        /// The same weights packed for the AVX-512 VNNI kernel ([`crate::q8`]); `None` on a GPU
        /// or for widths the kernel does not take.
        packed: Option<Arc<PackedQ8>>,
    },
}

impl Proj {
    pub(crate) fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Proj::F32(l) => l.forward(x),
            Proj::Q8 {
                weight,
                bias,
                packed,
            } => {
                if let Some(p) = packed {
                    if let Some(y) = q8::forward(p, x)? {
                        return Ok(y);
                    }
                }
                weight.forward(x)?.broadcast_add(bias)
            }
        }
    }

    /// Stores the weights as `q8_0` blocks; a layer whose input width is not a multiple of the
    /// block (32) stays f32.
    pub(crate) fn quantize_q8(&mut self) -> Result<()> {
        if let Proj::F32(l) = self {
            if !l
                .weight()
                .dim(1)?
                .is_multiple_of(GgmlDType::Q8_0.block_size())
            {
                return Ok(());
            }
            let weight = QMatMul::from_qtensor(QTensor::quantize(l.weight(), GgmlDType::Q8_0)?)?;
            let bias = match l.bias() {
                Some(b) => b.clone(),
                None => Tensor::zeros(l.weight().dim(0)?, DType::F32, l.weight().device())?,
            };
            let packed = if l.weight().device().is_cpu() && q8::packs() {
                let (n, k) = l.weight().dims2()?;
                let w = l
                    .weight()
                    .to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?;
                let b = bias.to_dtype(DType::F32)?.to_vec1::<f32>()?;
                q8::pack(&w, &b, n, k)
            } else {
                None
            };
            *self = Proj::Q8 {
                weight,
                bias,
                packed,
            };
        }
        Ok(())
    }
}

/// Whether gradients flow through `x` (or it is f64, which candle's fused kernels lack): then
/// the differentiable formulations below are used instead of the fused inference kernels.
fn differentiable(x: &Tensor) -> bool {
    x.track_op() || x.dtype() == DType::F64
}

/// Softmax over the last dimension. candle's fused `softmax_last_dim` has no backward pass
/// (gradients to queries and keys would silently vanish), so training uses the composed one.
pub(crate) fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    if differentiable(x) {
        candle_nn::ops::softmax(x, D::Minus1)
    } else {
        candle_nn::ops::softmax_last_dim(x)
    }
}

/// Exact (erf) GELU. candle's `gelu_erf` backward uses 1/sqrt(2 pi) rounded to 6 digits, so
/// training composes `x/2 (1 + erf(x/sqrt 2))`, whose backward is exact.
pub(crate) fn gelu(x: &Tensor) -> candle_core::Result<Tensor> {
    if differentiable(x) {
        ((x * 0.5)? * ((x / std::f64::consts::SQRT_2)?.erf()? + 1.0)?)?.contiguous()
    } else {
        x.gelu_erf()
    }
}

/// `embeddings`: input embeddings + position + token type 0, then LayerNorm.
#[derive(Debug, Clone)]
pub(crate) struct Embeddings {
    pub(crate) word: Tensor,
    position: Tensor,
    token_type0: Tensor,
    norm: Norm,
}

impl Embeddings {
    pub(crate) fn load(w: &Weights, prefix: &str, c: &VideoClipConfig) -> Result<Self> {
        let h = c.hidden_size;
        let word = w.get(
            &format!("{prefix}.word_embeddings.weight"),
            &[c.vocab_size, h],
        )?;
        let position = w.get(
            &format!("{prefix}.position_embeddings.weight"),
            &[c.max_position_embeddings, h],
        )?;
        let token_type = w.get(
            &format!("{prefix}.token_type_embeddings.weight"),
            &[c.type_vocab_size, h],
        )?;
        Ok(Self {
            word,
            position,
            token_type0: token_type.narrow(0, 0, 1)?,
            norm: layer_norm(w, &format!("{prefix}.LayerNorm"), h, BERT_LN_EPS)?,
        })
    }

    /// Word embeddings of `ids` `(B, L)` u32 -> `(B, L, H)`.
    pub(crate) fn words(&self, ids: &Tensor) -> Result<Tensor> {
        let (b, l) = ids.dims2()?;
        let h = self.word.dim(1)?;
        Ok(self
            .word
            .index_select(&ids.flatten_all()?, 0)?
            .reshape((b, l, h))?)
    }

    /// `inputs (B, L, H)` + position embeddings of `positions` (L,) u32 + token type 0.
    pub(crate) fn forward(&self, inputs: &Tensor, positions: &Tensor) -> Result<Tensor> {
        let pos = self.position.index_select(positions, 0)?;
        let x = inputs
            .broadcast_add(&pos.unsqueeze(0)?)?
            .broadcast_add(&self.token_type0.unsqueeze(0)?)?;
        Ok(self.norm.forward(&x)?)
    }
}

#[derive(Debug, Clone)]
struct Layer {
    query: Proj,
    key: Proj,
    value: Proj,
    attn_out: Proj,
    attn_norm: Norm,
    inter: Proj,
    out: Proj,
    out_norm: Norm,
    heads: usize,
}

impl Layer {
    fn load(w: &Weights, p: &str, c: &VideoClipConfig) -> Result<Self> {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        Ok(Self {
            query: Proj::F32(linear(w, &format!("{p}.attention.self.query"), h, h)?),
            key: Proj::F32(linear(w, &format!("{p}.attention.self.key"), h, h)?),
            value: Proj::F32(linear(w, &format!("{p}.attention.self.value"), h, h)?),
            attn_out: Proj::F32(linear(w, &format!("{p}.attention.output.dense"), h, h)?),
            attn_norm: layer_norm(
                w,
                &format!("{p}.attention.output.LayerNorm"),
                h,
                BERT_LN_EPS,
            )?,
            inter: Proj::F32(linear(w, &format!("{p}.intermediate.dense"), h, i)?),
            out: Proj::F32(linear(w, &format!("{p}.output.dense"), i, h)?),
            out_norm: layer_norm(w, &format!("{p}.output.LayerNorm"), h, BERT_LN_EPS)?,
            heads: c.num_attention_heads,
        })
    }

    fn quantize_q8(&mut self) -> Result<()> {
        for p in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.attn_out,
            &mut self.inter,
            &mut self.out,
        ] {
            p.quantize_q8()?;
        }
        Ok(())
    }

    fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, n, h) = x.dims3()?;
        let d = h / self.heads;
        let split = |t: Tensor| -> Result<Tensor> {
            Ok(t.reshape((b, n, self.heads, d))?
                .transpose(1, 2)?
                .contiguous()?)
        };
        let q = split(self.query.forward(x)?)?;
        let k = split(self.key.forward(x)?)?;
        let v = split(self.value.forward(x)?)?;
        let scores = (q.matmul(&k.t()?)? / (d as f64).sqrt())?.broadcast_add(mask)?;
        let probs = softmax(&scores)?;
        let ctx = probs
            .matmul(&v)?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((b, n, h))?;
        let a = self
            .attn_norm
            .forward(&(self.attn_out.forward(&ctx)? + x)?)?;
        let i = gelu(&self.inter.forward(&a)?)?;
        Ok(self.out_norm.forward(&(self.out.forward(&i)? + a)?)?)
    }
}

/// `encoder.layer.{0..n}`.
#[derive(Debug, Clone)]
pub(crate) struct Encoder {
    layers: Vec<Layer>,
}

impl Encoder {
    pub(crate) fn load(
        w: &Weights,
        prefix: &str,
        layers: usize,
        c: &VideoClipConfig,
    ) -> Result<Self> {
        let layers = (0..layers)
            .map(|i| Layer::load(w, &format!("{prefix}.layer.{i}"), c))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { layers })
    }

    /// Stores every dense layer's weights as `q8_0` blocks (CPU inference of few tokens; the
    /// f32 weights are dropped). Attention, LayerNorm and GELU stay f32. Needs hidden and
    /// intermediate sizes that are multiples of 32 (true of BERT-base and the tiny preset).
    pub(crate) fn quantize_q8(&mut self) -> Result<()> {
        self.layers.iter_mut().try_for_each(Layer::quantize_q8)
    }

    /// `x (B, L, H)`, `mask (B, L)` with 1 for keys to attend to.
    pub(crate) fn forward(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (b, l) = mask.dims2()?;
        let ext = ((mask.to_dtype(DType::F32)?.affine(-1.0, 1.0)? * MASK_VALUE)?
            .reshape((b, 1, 1, l))?)
        .to_dtype(x.dtype())?;
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x, &ext)?;
        }
        Ok(x)
    }
}

/// `sum_i m_i h_i / sum_i m_i` over dim 1 of `(B, L, H)` with `m (B, L)`.
pub(crate) fn masked_mean(hidden: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let m = mask.to_dtype(hidden.dtype())?.unsqueeze(D::Minus1)?;
    let num = hidden.broadcast_mul(&m)?.sum(1)?;
    let den = m.sum(1)?;
    Ok(num.broadcast_div(&den)?)
}
