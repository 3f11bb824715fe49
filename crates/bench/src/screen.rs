//! `vclip bench screen`: what reading the text on screen costs an import. Each file is imported
//! into a fresh library (the baseline: decode, backbone, towers, indexes), then its screen text
//! is read and stored ([`Engine::read_screen_texts`]), in the same run: the report gives the
//! stage's time, the frames Tesseract read and how many per second, and the import's slowdown
//! `(import + screen text) / import`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use vclip_engine::{CancelToken, Engine, ImportOptions, NoProgress};
use vclip_model::{DType, Device, Family};

/// What one file cost.
#[derive(Debug, Clone, Serialize)]
pub struct ScreenRun {
    pub file: PathBuf,
    /// Seconds of video.
    pub video_s: f64,
    /// The import alone (the baseline), seconds.
    pub import_s: f64,
    /// The screen-text stage, seconds.
    pub screen_s: f64,
    /// Frames Tesseract read, of `seconds` looked at.
    pub frames_read: usize,
    pub seconds: usize,
    /// Frames read per second of the stage.
    pub frames_per_s: f64,
    /// Lines of text stored.
    pub lines: usize,
    /// `(import_s + screen_s) / import_s`.
    pub slowdown: f64,
}

/// Imports each of `files` (median of `runs` per file) with a model of `family`/`preset` on the
/// CPU, then reads its screen text with `languages`.
pub fn run(
    files: &[PathBuf],
    family: Family,
    preset: &str,
    languages: &str,
    runs: usize,
) -> anyhow::Result<Vec<ScreenRun>> {
    let choice = crate::ModelChoice {
        model: None,
        family,
        family_given: true,
        preset,
        dtype: DType::F32,
    };
    let (tmp, _dir, model) = crate::load_model(choice, &Device::Cpu)?;
    let mut model = Some(model);
    let mut ocr = vclip_ocr::Ocr::new(languages)?;
    let mut out = Vec::new();
    let mut n = 0;
    for file in files {
        let mut measured: Vec<ScreenRun> = Vec::new();
        for _ in 0..runs.max(1) {
            n += 1;
            let lib = tmp.path().join(format!("library-{n}"));
            let (engine, _) = Engine::open(&lib, model.take())?;
            let r = one(&engine, file, &mut ocr)?;
            model = engine.into_model()?;
            measured.push(r);
        }
        measured.sort_by(|a, b| a.slowdown.total_cmp(&b.slowdown));
        out.push(measured.swap_remove(measured.len() / 2));
    }
    Ok(out)
}

fn one(engine: &Engine, file: &Path, ocr: &mut vclip_ocr::Ocr) -> anyhow::Result<ScreenRun> {
    let cancel = CancelToken::new();
    let start = Instant::now();
    let report = engine.import(
        std::slice::from_ref(&file.to_path_buf()),
        ImportOptions::default(),
        &NoProgress,
        &cancel,
    )?;
    let import_s = start.elapsed().as_secs_f64();
    if let Some(f) = report.failed.first() {
        anyhow::bail!("{}: {}", f.path.display(), f.reason);
    }
    let start = Instant::now();
    let screen = engine.read_screen_texts(ocr, None, &NoProgress, &cancel)?;
    let screen_s = start.elapsed().as_secs_f64();
    if let Some((path, why)) = screen.failed.first() {
        anyhow::bail!("{path}: {why}");
    }
    Ok(ScreenRun {
        file: file.to_path_buf(),
        video_s: report.video_s,
        import_s,
        screen_s,
        frames_read: screen.frames_read,
        seconds: screen.seconds,
        frames_per_s: screen.frames_read as f64 / screen_s.max(1e-9),
        lines: screen.read.iter().map(|(_, n)| n).sum(),
        slowdown: (import_s + screen_s) / import_s.max(1e-9),
    })
}
