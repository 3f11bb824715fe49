//! The model directory: `config.json` + `s3d.safetensors` + `videoclip.safetensors` +
//! `vocab.txt`, how it is written (import of the released PyTorch files, random init) and
//! loaded ([`VClipModel`]).
//!
//! Weights: S3D-G `s3d_howto100m.pth` (Miech et al. 2020, `antoine77340/S3D_HowTo100M`) and
//! VideoCLIP `checkpoint_best.pt` (Xu et al. 2021, arXiv 2109.14084, `fairseq/examples/MMPT`),
//! plus bert-base-uncased's `vocab.txt`; spec `docs/model-notes.md` §1.5, §3.5, §8.3.
//! Tensor names are those of the released files: S3D keys as they are (BatchNorm stored
//! unfolded; folding happens at load), VideoCLIP keys without the fairseq `mmmodel.` prefix.
//! Everything is stored in f32.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};

use crate::config::{ModelConfig, Preset, S3dConfig, VideoClipConfig};
use crate::error::{Error, Result};
use crate::pth::{detect_format, read_state_dict, PthFormat};
use crate::s3d::S3d;
use crate::tokenizer::Tokenizer;
use crate::videoclip::{scores, TextTower, TowerOutput, VideoMode, VideoTower};
use crate::weights::Weights;

pub const CONFIG_FILE: &str = "config.json";
pub const S3D_FILE: &str = "s3d.safetensors";
pub const VIDEOCLIP_FILE: &str = "videoclip.safetensors";
pub const VOCAB_FILE: &str = "vocab.txt";

/// Prefix of the model's parameters in a fairseq checkpoint (`FairseqMMModel.mmmodel`).
const FAIRSEQ_PREFIX: &str = "mmmodel.";

/// A loaded model directory: S3D-G, both towers and the tokenizer on one device.
#[derive(Debug, Clone)]
pub struct VClipModel {
    pub config: ModelConfig,
    pub s3d: S3d,
    pub video: VideoTower,
    pub text: TextTower,
    pub tokenizer: Tokenizer,
    dir: PathBuf,
    device: Device,
}

impl VClipModel {
    /// Loads `dir` onto `device` in f32.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        Self::load_with_s3d_dtype(dir, device, DType::F32)
    }

    /// Loads `dir` with S3D-G in `s3d_dtype` (F16/BF16 on GPUs; the towers stay f32).
    pub fn load_with_s3d_dtype(dir: &Path, device: &Device, s3d_dtype: DType) -> Result<Self> {
        let config = ModelConfig::load(&dir.join(CONFIG_FILE))?;
        let s3d = S3d::load(&dir.join(S3D_FILE), &config.s3d, device, s3d_dtype)?;
        let w = Weights::load(&dir.join(VIDEOCLIP_FILE), device)?;
        let video = VideoTower::from_weights(&w, &config.videoclip)?;
        let text = TextTower::from_weights(&w, &config.videoclip)?;
        let tokenizer = Tokenizer::from_vocab(&dir.join(VOCAB_FILE))?;
        if tokenizer.vocab_size() != config.videoclip.vocab_size {
            return Err(Error::config(
                dir.join(VOCAB_FILE),
                format!(
                    "vocab.txt has {} tokens, config.json says {}",
                    tokenizer.vocab_size(),
                    config.videoclip.vocab_size
                ),
            ));
        }
        Ok(Self {
            config,
            s3d,
            video,
            text,
            tokenizer,
            dir: dir.to_owned(),
            device: device.clone(),
        })
    }

    /// The directory this model was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The device the model was loaded onto.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// True when the weights are random (`init-random`, fixtures): results mean nothing.
    pub fn is_random(&self) -> bool {
        self.config.random_weights
    }

    /// Per-second video features: uint8 clips `(B, 3, 30, 224, 224)` (one second each) ->
    /// L2-normalised `(B, 512)` f32, as VideoCLIP's training features.
    pub fn encode_clips(&self, frames: &Tensor) -> Result<Tensor> {
        self.s3d.features(frames)
    }

    /// Video windows: features `(B, L<=32, 512)` + mask `(B, L)` -> hidden states and pooled
    /// 768-d vectors ([`VideoMode::Retrieval`]) or per-second token vectors
    /// ([`VideoMode::DummyCaption`]).
    pub fn embed_video(
        &self,
        features: &Tensor,
        mask: &Tensor,
        mode: VideoMode,
    ) -> Result<TowerOutput> {
        self.video.forward(features, mask, mode)
    }

    /// Pooled vectors of sliding windows over a video's per-second features `(N, 512)`:
    /// windows of `window` seconds (32) every `stride` seconds, the last one shorter (masked)
    /// rather than past the end. Returns the `[start, end)` second spans and `(W, 768)`.
    pub fn embed_windows(
        &self,
        features: &Tensor,
        window: usize,
        stride: usize,
    ) -> Result<(Vec<(usize, usize)>, Tensor)> {
        let (n, d) = features.dims2()?;
        if n == 0 || window == 0 || stride == 0 || window > self.config.videoclip.max_video_len {
            return Err(Error::Input(format!(
                "cannot window {n} seconds with window {window} (max {}) and stride {stride}",
                self.config.videoclip.max_video_len
            )));
        }
        let spans = window_spans(n, window, stride);
        let device = self.s3d.device();
        let mut padded = Vec::with_capacity(spans.len());
        let mut masks = Vec::with_capacity(spans.len() * window);
        for &(start, end) in &spans {
            let w = features.narrow(0, start, end - start)?;
            padded.push(w.pad_with_zeros(0, 0, window - (end - start))?);
            masks.extend((0..window).map(|i| u8::from(i < end - start)));
        }
        let batch = Tensor::stack(&padded, 0)?;
        let mask = Tensor::from_vec(masks, (spans.len(), window), device)?;
        debug_assert_eq!(batch.dims(), &[spans.len(), window, d]);
        let out = self.video.forward(&batch, &mask, VideoMode::Retrieval)?;
        Ok((spans, out.pooled))
    }

    /// What a library stores per video from its per-second features `(N, 512)`: the pooled
    /// vectors of the sliding windows ([`Self::embed_windows`]) and one token state per second
    /// `(N, 768)`: the last-layer hidden states of each window in dummy-caption mode ([CLS]
    /// masked, `docs/model-notes.md` §5.4–§5.5), averaged where windows overlap. Token states score
    /// a text per second (`h_u · z_t`) for moment refinement and step localisation.
    pub fn window_states(
        &self,
        features: &Tensor,
        window: usize,
        stride: usize,
    ) -> Result<WindowStates> {
        let (spans, pooled) = self.embed_windows(features, window, stride)?;
        let (n, _) = features.dims2()?;
        let h = self.config.videoclip.hidden_size;
        let mut sum = vec![0f32; n * h];
        let mut count = vec![0u32; n];
        for &(start, end) in &spans {
            let len = end - start;
            let w = features.narrow(0, start, len)?.unsqueeze(0)?;
            let mask = Tensor::ones((1, len), DType::U8, features.device())?;
            let out = self.video.forward(&w, &mask, VideoMode::DummyCaption)?;
            // Positions 1..=len are the seconds (0 is [CLS], len+1 the [SEP]).
            let states = out
                .hidden
                .squeeze(0)?
                .narrow(0, 1, len)?
                .to_device(&Device::Cpu)?
                .to_vec2::<f32>()?;
            for (i, row) in states.iter().enumerate() {
                let s = start + i;
                count[s] += 1;
                for (acc, v) in sum[s * h..(s + 1) * h].iter_mut().zip(row) {
                    *acc += v;
                }
            }
        }
        for (s, c) in count.iter().enumerate() {
            let c = (*c).max(1) as f32;
            sum[s * h..(s + 1) * h].iter_mut().for_each(|v| *v /= c);
        }
        Ok(WindowStates {
            spans,
            pooled: pooled.to_device(&Device::Cpu)?.to_vec2::<f32>()?,
            tokens: sum,
            dim: h,
        })
    }

    /// Pooled text vectors `(N, 768)` of `texts` (padded to the longest text of the batch).
    pub fn embed_texts(&self, texts: &[&str]) -> Result<Tensor> {
        let device = self.s3d.device().clone();
        let (ids, mask) =
            self.tokenizer
                .batch(texts, self.config.videoclip.max_text_len, false, &device)?;
        Ok(self.text.forward(&ids, &mask)?.pooled)
    }

    /// Raw dot-product scores `(Nt, Nv)`.
    pub fn scores(&self, text: &Tensor, video: &Tensor) -> Result<Tensor> {
        scores(text, video)
    }
}

/// See [`VClipModel::window_states`].
#[derive(Debug, Clone, PartialEq)]
pub struct WindowStates {
    /// `[start, end)` seconds of each window.
    pub spans: Vec<(usize, usize)>,
    /// One pooled vector per window.
    pub pooled: Vec<Vec<f32>>,
    /// Row-major `(seconds, dim)` token states.
    pub tokens: Vec<f32>,
    /// Width of a token state and of a pooled vector.
    pub dim: usize,
}

/// `[start, end)` spans of sliding windows over `n` seconds: every `stride` seconds, `window`
/// long, clipped at `n`, stopping once a window reaches the end.
pub fn window_spans(n: usize, window: usize, stride: usize) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + window).min(n);
        spans.push((start, end));
        if end >= n || stride == 0 {
            return spans;
        }
        start += stride;
    }
}

/// What [`import_released`] did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub dir: PathBuf,
    pub s3d_format: PthFormat,
    pub videoclip_format: PthFormat,
    pub s3d_tensors: usize,
    pub videoclip_tensors: usize,
    /// Names present in the released files that the app does not use (MIL-NCE text branch,
    /// BatchNorm counters, BERT poolers, `position_ids`...).
    pub ignored: Vec<String>,
}

/// Reads the released `checkpoint_best.pt` (fairseq, zip format) and `s3d_howto100m.pth`
/// (zip or legacy format) plus bert-base-uncased's `vocab.txt`, checks every tensor against
/// `config` (the full preset when `None`), and writes the model directory `out_dir` in f32.
pub fn import_released(
    videoclip_checkpoint: &Path,
    s3d_checkpoint: &Path,
    vocab: &Path,
    out_dir: &Path,
    config: Option<ModelConfig>,
) -> Result<ImportSummary> {
    let mut config = config.unwrap_or_else(|| ModelConfig::preset(Preset::Full, false, ""));
    config.random_weights = false;
    config.description = format!(
        "imported from {} and {}",
        file_name(videoclip_checkpoint),
        file_name(s3d_checkpoint)
    );
    config.validate(Path::new(CONFIG_FILE))?;
    let mut ignored = Vec::new();

    let s3d_format = detect_format(s3d_checkpoint)?;
    let mut s3d = HashMap::new();
    for (name, t) in read_state_dict(s3d_checkpoint, None)? {
        if name.starts_with("text_module.") || name.ends_with(".num_batches_tracked") {
            ignored.push(name);
        } else {
            s3d.insert(name, t.to_dtype(DType::F32)?);
        }
    }
    let videoclip_format = detect_format(videoclip_checkpoint)?;
    let mut videoclip = HashMap::new();
    for (name, t) in read_state_dict(videoclip_checkpoint, Some("model"))? {
        let short = name.strip_prefix(FAIRSEQ_PREFIX).unwrap_or(&name);
        let wanted = (short.starts_with("video_encoder.") || short.starts_with("text_encoder."))
            && !short.ends_with(".position_ids")
            && !short.contains(".pooler.");
        if wanted {
            videoclip.insert(short.to_owned(), t.to_dtype(DType::F32)?);
        } else {
            ignored.push(name);
        }
    }
    // Build the networks once: every needed tensor exists with the configured shape.
    S3d::from_weights(
        &Weights::from_map(s3d_checkpoint, s3d.clone()),
        &config.s3d,
        DType::F32,
    )?;
    let w = Weights::from_map(videoclip_checkpoint, videoclip.clone());
    VideoTower::from_weights(&w, &config.videoclip)?;
    TextTower::from_weights(&w, &config.videoclip)?;
    let tokenizer = Tokenizer::from_vocab(vocab)?;
    if tokenizer.vocab_size() != config.videoclip.vocab_size {
        return Err(Error::Tokenizer {
            path: vocab.to_owned(),
            reason: format!(
                "{} tokens, the checkpoint's embeddings have {}",
                tokenizer.vocab_size(),
                config.videoclip.vocab_size
            ),
        });
    }
    let vocab_text = std::fs::read_to_string(vocab).map_err(|e| Error::io(vocab, e))?;
    write_model_dir(out_dir, &config, &s3d, &videoclip, &vocab_text)?;
    Ok(ImportSummary {
        dir: out_dir.to_owned(),
        s3d_format,
        videoclip_format,
        s3d_tensors: s3d.len(),
        videoclip_tensors: videoclip.len(),
        ignored,
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// Writes a model directory: the weights, `vocab.txt`, and `config.json` last (a directory
/// with a config is complete). Returns the config as written, with the weight fingerprints.
pub fn write_model_dir(
    out_dir: &Path,
    config: &ModelConfig,
    s3d: &HashMap<String, Tensor>,
    videoclip: &HashMap<String, Tensor>,
    vocab_text: &str,
) -> Result<ModelConfig> {
    config.validate(&out_dir.join(CONFIG_FILE))?;
    let mut config = config.clone();
    config.backbone_id = Some(format!("s3d-{:016x}", fingerprint(s3d)?));
    config.towers_id = Some(format!("vc-{:016x}", fingerprint(videoclip)?));
    let folder = crate::folder::FolderWriter::create(out_dir)?;
    folder.weights(S3D_FILE, s3d)?;
    folder.weights(VIDEOCLIP_FILE, videoclip)?;
    folder.text(VOCAB_FILE, vocab_text)?;
    let config_path = out_dir.join(CONFIG_FILE);
    folder.finish(
        CONFIG_FILE,
        &crate::folder::config_json(&config, &config_path)?,
    )?;
    Ok(config)
}

/// FNV-1a (64-bit) over the names, shapes and f32 values of `tensors` in name order: equal
/// weights give equal fingerprints, whatever wrote them.
pub(crate) fn fingerprint(tensors: &HashMap<String, Tensor>) -> Result<u64> {
    const PRIME: u64 = 0x100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    };
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    for name in names {
        let t = &tensors[name];
        eat(name.as_bytes());
        for &d in t.dims() {
            eat(&(d as u64).to_le_bytes());
        }
        let values = t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        for v in values {
            eat(&v.to_le_bytes());
        }
    }
    Ok(h)
}

/// How a random tensor is drawn.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Init {
    /// N(0, 2/fan_in) (He).
    He(usize),
    /// N(0, 1/fan_in).
    Lecun(usize),
    /// N(0, std).
    Normal(f32),
    Const(f32),
}

type Specs = Vec<(String, Vec<usize>, Init)>;

/// Every S3D tensor of the model directory with its shape and random init.
fn s3d_specs(c: &S3dConfig) -> Specs {
    // BatchNorm as PyTorch initializes it (identity: weight 1, bias 0, mean 0, var 1). Random
    // statistics and biases made the deep random backbone map every video to nearly the same
    // feature (cosine 0.999999 between a red and a blue video), which leaves a random model
    // nothing to fine-tune on; with identity BN the cosine is about 0.99.
    fn bn(out: &mut Specs, p: &str, n: usize) {
        out.push((format!("{p}.weight"), vec![n], Init::Const(1.0)));
        out.push((format!("{p}.bias"), vec![n], Init::Const(0.0)));
        out.push((format!("{p}.running_mean"), vec![n], Init::Const(0.0)));
        out.push((format!("{p}.running_var"), vec![n], Init::Const(1.0)));
    }
    fn conv(out: &mut Specs, p: &str, cin: usize, cout: usize, separable: bool) {
        if separable {
            out.push((
                format!("{p}.conv1.weight"),
                vec![cout, cin, 1, 3, 3],
                Init::He(cin * 9),
            ));
            bn(out, &format!("{p}.bn1"), cout);
            out.push((
                format!("{p}.conv2.weight"),
                vec![cout, cout, 3, 1, 1],
                Init::He(cout * 3),
            ));
            bn(out, &format!("{p}.bn2"), cout);
        } else {
            out.push((
                format!("{p}.conv1.weight"),
                vec![cout, cin, 1, 1, 1],
                Init::He(cin),
            ));
            bn(out, &format!("{p}.bn1"), cout);
        }
    }
    fn gate(out: &mut Specs, p: &str, n: usize) {
        out.push((format!("{p}.fc.weight"), vec![n, n], Init::Lecun(n)));
        out.push((format!("{p}.fc.bias"), vec![n], Init::Normal(0.1)));
    }
    let mut out = Vec::new();
    out.push((
        "conv1.conv1.weight".into(),
        vec![c.conv1, 24, 2, 4, 4],
        Init::He(24 * 32),
    ));
    bn(&mut out, "conv1.bn1", c.conv1);
    conv(&mut out, "conv_2b", c.conv1, c.conv_2b, false);
    conv(&mut out, "conv_2c", c.conv_2b, c.conv_2c, true);
    gate(&mut out, "gating", c.conv_2c);
    let (blocks, cout) = c.block_inputs().unwrap_or_default();
    for b in &blocks {
        let [o0, o1a, o1b, o2a, o2b, o3b] = b.widths;
        let p = b.name;
        conv(&mut out, &format!("{p}.conv_b0"), b.cin, o0, false);
        conv(&mut out, &format!("{p}.conv_b1_a"), b.cin, o1a, false);
        conv(&mut out, &format!("{p}.conv_b1_b"), o1a, o1b, true);
        conv(&mut out, &format!("{p}.conv_b2_a"), b.cin, o2a, false);
        conv(&mut out, &format!("{p}.conv_b2_b"), o2a, o2b, true);
        conv(&mut out, &format!("{p}.conv_b3_b"), b.cin, o3b, false);
        for (i, n) in [o0, o1b, o2b, o3b].into_iter().enumerate() {
            gate(&mut out, &format!("{p}.gating_b{i}"), n);
        }
    }
    out.push((
        "fc.weight".into(),
        vec![c.embedding_dim, cout],
        Init::Lecun(cout),
    ));
    out.push(("fc.bias".into(), vec![c.embedding_dim], Init::Const(0.0)));
    out
}

/// Every VideoCLIP tensor of the model directory with its shape and random init.
fn videoclip_specs(c: &VideoClipConfig) -> Specs {
    let (h, i) = (c.hidden_size, c.intermediate_size);
    let mut out = Vec::new();
    let lin = |out: &mut Specs, p: &str, cin: usize, cout: usize| {
        out.push((format!("{p}.weight"), vec![cout, cin], Init::Normal(0.02)));
        out.push((format!("{p}.bias"), vec![cout], Init::Const(0.0)));
    };
    let ln = |out: &mut Specs, p: &str| {
        out.push((format!("{p}.weight"), vec![h], Init::Const(1.0)));
        out.push((format!("{p}.bias"), vec![h], Init::Const(0.0)));
    };
    let bert = |out: &mut Specs, p: &str, layers: usize| {
        let e = format!("{p}.embeddings");
        out.push((
            format!("{e}.word_embeddings.weight"),
            vec![c.vocab_size, h],
            Init::Normal(0.02),
        ));
        out.push((
            format!("{e}.position_embeddings.weight"),
            vec![c.max_position_embeddings, h],
            Init::Normal(0.02),
        ));
        out.push((
            format!("{e}.token_type_embeddings.weight"),
            vec![c.type_vocab_size, h],
            Init::Normal(0.02),
        ));
        ln(out, &format!("{e}.LayerNorm"));
        for l in 0..layers {
            let p = format!("{p}.encoder.layer.{l}");
            for n in ["query", "key", "value"] {
                lin(out, &format!("{p}.attention.self.{n}"), h, h);
            }
            lin(out, &format!("{p}.attention.output.dense"), h, h);
            ln(out, &format!("{p}.attention.output.LayerNorm"));
            lin(out, &format!("{p}.intermediate.dense"), h, i);
            lin(out, &format!("{p}.output.dense"), i, h);
            ln(out, &format!("{p}.output.LayerNorm"));
        }
    };
    lin(
        &mut out,
        "video_encoder.videomlp.linear1",
        c.video_feature_dim,
        h,
    );
    ln(&mut out, "video_encoder.videomlp.LayerNorm");
    lin(&mut out, "video_encoder.videomlp.linear2", h, h);
    bert(&mut out, "video_encoder.bert", c.num_video_layers);
    bert(&mut out, "text_encoder", c.num_text_layers);
    out
}

/// SplitMix64: a tiny deterministic generator (weights must not depend on a crate's RNG).
#[derive(Debug)]
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub(crate) fn fill(&mut self, n: usize, init: Init) -> Vec<f32> {
        let normal = |g: &mut Self, std: f64| -> f32 {
            let (u1, u2) = (g.uniform(), g.uniform());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos() * std) as f32
        };
        (0..n)
            .map(|_| match init {
                Init::He(fan) => normal(self, (2.0 / fan.max(1) as f64).sqrt()),
                Init::Lecun(fan) => normal(self, (1.0 / fan.max(1) as f64).sqrt()),
                Init::Normal(std) => normal(self, f64::from(std)),
                Init::Const(v) => v,
            })
            .collect()
    }
}

fn random_tensors(specs: Specs, rng: &mut SplitMix) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::with_capacity(specs.len());
    for (name, shape, init) in specs {
        let n = shape.iter().product();
        let t = Tensor::from_vec(rng.fill(n, init), shape, &Device::Cpu)?;
        out.insert(name, t);
    }
    Ok(out)
}

/// A BERT-style vocabulary of `size` tokens with the specials at bert-base-uncased's ids, for
/// random models written without a real `vocab.txt`.
pub fn synthetic_vocab(size: usize) -> String {
    let mut words: Vec<String> = vec!["[PAD]".into()];
    words.extend((0..99).map(|i| format!("[unused{i}]")));
    words.extend(["[UNK]", "[CLS]", "[SEP]", "[MASK]"].map(String::from));
    words.extend(('a'..='z').map(String::from));
    words.extend(('a'..='z').map(|c| format!("##{c}")));
    let mut i = 0;
    while words.len() < size {
        words.push(format!("tok{i}"));
        i += 1;
    }
    words.truncate(size);
    let mut text = words.join("\n");
    text.push('\n');
    text
}

/// Writes a random-weight model of `preset` to `out_dir`, deterministic in `seed`, marked
/// `random_weights: true`. Uses `vocab` when given (it must have the preset's vocabulary
/// size: 30,522 for `full`), a synthetic vocabulary otherwise. Returns its config.
pub fn init_random(
    preset: Preset,
    seed: u64,
    out_dir: &Path,
    vocab: Option<&Path>,
) -> Result<ModelConfig> {
    let config = ModelConfig::preset(
        preset,
        true,
        format!("random weights (init-random, seed {seed}): for tests and benchmarks only"),
    );
    let mut rng = SplitMix(seed);
    let s3d = random_tensors(s3d_specs(&config.s3d), &mut rng)?;
    let videoclip = random_tensors(videoclip_specs(&config.videoclip), &mut rng)?;
    let vocab_text = match vocab {
        Some(path) => {
            let tok = Tokenizer::from_vocab(path)?;
            if tok.vocab_size() != config.videoclip.vocab_size {
                return Err(Error::Tokenizer {
                    path: path.to_owned(),
                    reason: format!(
                        "{} tokens, the {preset:?} preset needs {}",
                        tok.vocab_size(),
                        config.videoclip.vocab_size
                    ),
                });
            }
            std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
        }
        None => synthetic_vocab(config.videoclip.vocab_size),
    };
    write_model_dir(out_dir, &config, &s3d, &videoclip, &vocab_text)
}
