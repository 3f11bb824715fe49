//! `vclip import | list | search | remove | reindex`: the library commands.

use std::path::PathBuf;
use std::process::ExitCode;
#[cfg(feature = "media")]
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use vclip_engine::open::{Environment, ModelNeed, ModelRequest, OpenRequest};
use vclip_engine::search::{SearchOptions, Signal};
#[cfg(feature = "media")]
use vclip_engine::CancelToken;
use vclip_engine::Engine;

use super::print_json;
#[cfg(feature = "media")]
use crate::progress::Bar;

/// Where the library is and which model to use; shared by the library commands. Resolved by
/// the engine ([`vclip_engine::open`]), as the window resolves its own.
#[derive(Debug, Clone, clap::Args)]
pub struct LibraryArgs {
    /// Library folder (default: `$VCLIP_LIBRARY`, else the per-user data folder).
    #[arg(long, value_name = "DIR")]
    pub library: Option<PathBuf>,
    /// Model directory (default: `$VCLIP_MODEL`, else the library's active model version —
    /// `vclip models versions`, the model it was imported with —, else `videoclip` in the
    /// models folder).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Run the model on the GPU (a build with `--features cuda` or `metal`). Default: the GPU
    /// when the build has a usable one.
    #[arg(long, conflicts_with = "cpu")]
    pub gpu: bool,
    /// Run the model on the CPU even when a GPU is usable.
    #[arg(long)]
    pub cpu: bool,
    /// Sentence encoder for searching subtitles by meaning (all-MiniLM-L6-v2: `config.json`,
    /// `model.safetensors`, `vocab.txt`). Default: `$VCLIP_SENTENCE_MODEL`, else
    /// `all-minilm-l6-v2` in the models folder when it exists.
    #[arg(long, value_name = "DIR")]
    pub sentence_model: Option<PathBuf>,
    /// Weights of the text tower's dense layers for queries and steps: `q8` (8-bit; the default
    /// on the CPU, about 3x faster) or `f32` (exact; the default on a GPU). Default:
    /// `$VCLIP_TEXT_PRECISION`, else by device.
    #[arg(long, value_name = "f32|q8")]
    pub text_precision: Option<vclip_model::Precision>,
    /// How CLIP's image tower stores its dense layers when importing: `q8` (the default on the
    /// CPU, about twice as fast; cosine >= 0.9998 to f32, see `vclip bench encode --family clip`)
    /// or `f32` (exact; the default on a GPU). Default: `$VCLIP_IMAGE_PRECISION`, else by device.
    #[arg(long, value_name = "f32|q8")]
    pub image_precision: Option<vclip_model::Precision>,
}

impl LibraryArgs {
    /// What these flags ask the engine for; `with_model`: load the model (and sentence
    /// encoder), required.
    pub(crate) fn request(&self, with_model: bool) -> OpenRequest {
        OpenRequest {
            library: self.library.clone(),
            model: match (&self.model, with_model) {
                (_, false) => ModelRequest::None,
                (Some(d), true) => ModelRequest::Dir(d.clone()),
                (None, true) => ModelRequest::Auto,
            },
            need: ModelNeed::Required,
            gpu: match (self.gpu, self.cpu) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            text_precision: self.text_precision,
            image_precision: self.image_precision,
            sentence_model: self.sentence_model.clone(),
            env: Environment::from_process(),
            ..OpenRequest::default()
        }
    }

    pub(crate) fn library_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(self.request(false).library()?.value)
    }

    /// The model folder these flags open the library with, and what chose it (`--model`,
    /// `VCLIP_MODEL`, `models.json`, or `default`).
    pub(crate) fn model_source(&self) -> anyhow::Result<(PathBuf, String)> {
        let request = self.request(true);
        let root = request.library()?.value;
        let chosen = request
            .model_dir(&root)?
            .context("no model folder is chosen")?;
        Ok((chosen.value, chosen.source.to_string()))
    }

    /// Opens the library, with the model and sentence encoder when `with_model`.
    pub(crate) fn open(&self, with_model: bool) -> anyhow::Result<Engine> {
        let opened = vclip_engine::open::open(&self.request(with_model))?;
        let p = &opened.provenance;
        if p.random_weights {
            if let Some(dir) = &p.model {
                eprintln!(
                    "warning: the model in {} has random weights: visual results mean nothing",
                    dir.value.display()
                );
            }
        }
        let rec = &opened.reconciled;
        if rec.rebuilt || rec.added > 0 {
            eprintln!(
                "note: repaired the vector index ({} windows added{})",
                rec.added,
                if rec.rebuilt { ", rebuilt" } else { "" }
            );
        }
        for hash in &rec.unreadable {
            eprintln!(
                "warning: window vectors of video {hash} are unreadable: run `vclip reindex`"
            );
        }
        Ok(opened.engine)
    }
}

#[cfg(feature = "media")]
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[cfg(all(unix, feature = "media"))]
extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // A second Ctrl-C ends the process at once.
    // SAFETY: `signal` is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// A token cancelled by Ctrl-C (the job stops cleanly at its next checkpoint).
#[cfg(feature = "media")]
pub(crate) fn ctrl_c_token() -> CancelToken {
    let token = CancelToken::new();
    #[cfg(unix)]
    {
        // SAFETY: installs a handler that only stores to an atomic and resets the disposition.
        unsafe {
            libc::signal(
                libc::SIGINT,
                on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
        let t = token.clone();
        std::thread::spawn(move || loop {
            if INTERRUPTED.load(Ordering::SeqCst) {
                eprintln!("\ninterrupted: finishing the current step (Ctrl-C again to quit now)");
                t.cancel();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        });
    }
    token
}

/// `vclip watch`'s arguments.
#[cfg(feature = "media")]
pub struct WatchArgs {
    pub dirs: Vec<PathBuf>,
    pub once: bool,
    pub list: bool,
    pub forget: Vec<PathBuf>,
    pub settle: f64,
    pub json: bool,
}

/// One rescan's report in words (nothing for a round that changed nothing).
#[cfg(feature = "media")]
fn print_rescan(r: &vclip_engine::watch::RescanReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let show = |what: &str, paths: &[PathBuf]| {
        for p in paths {
            println!("{what:<10} {}", p.display());
        }
    };
    show("imported", &r.imported);
    show("re-imported", &r.reimported);
    for m in &r.relinked {
        println!("relinked   {} -> {}", m.from.display(), m.to.display());
    }
    show("missing", &r.missing);
    show("restored", &r.restored);
    for f in &r.failed {
        eprintln!("error: {}: {}", f.path.display(), f.reason);
    }
    Ok(())
}

#[cfg(feature = "media")]
pub fn watch(args: &LibraryArgs, w: &WatchArgs) -> anyhow::Result<ExitCode> {
    use vclip_engine::watch::WatchOptions;
    anyhow::ensure!(
        w.settle.is_finite() && w.settle >= 0.0,
        "--settle must be a number of seconds, got {}",
        w.settle
    );
    let manage_only = w.list || (!w.forget.is_empty() && w.dirs.is_empty());
    let engine = args.open(!manage_only)?;
    let mut folders = engine.watched_folders()?;
    for d in &w.dirs {
        anyhow::ensure!(d.is_dir(), "{}: not a folder", d.display());
        folders.push(d.clone());
    }
    let forget: Vec<PathBuf> = w
        .forget
        .iter()
        .map(|f| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()))
        .collect();
    folders.retain(|f| !forget.contains(f) && !w.forget.contains(f));
    let folders = engine.set_watched_folders(&folders)?;
    if manage_only {
        if w.json {
            print_json(&folders)?;
        } else if folders.is_empty() {
            println!("no watched folders (vclip watch DIR adds one)");
        } else {
            folders.iter().for_each(|f| println!("{}", f.display()));
        }
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(
        !folders.is_empty(),
        "no folders to watch: name one (vclip watch DIR)"
    );
    let opts = WatchOptions {
        settle: std::time::Duration::from_secs_f64(w.settle),
        ..WatchOptions::default()
    };
    let cancel = ctrl_c_token();
    let bar = Bar::new();
    if w.once {
        let r = engine.rescan(&folders, &opts, &bar, &cancel)?;
        print_rescan(&r, w.json)?;
        return Ok(if r.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    if !w.json {
        eprintln!(
            "watching {} (Ctrl-C to stop)",
            folders
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut last_failed = Vec::new();
    engine.watch(&folders, &opts, &bar, &cancel, &mut |r| {
        // Say what changed; a failure that repeats every round is said once.
        let failed_again = r.failed == last_failed;
        if r.changed() || !failed_again || w.json {
            let mut shown = r.clone();
            if failed_again && !w.json {
                shown.failed.clear();
            }
            let _ = print_rescan(&shown, w.json);
        }
        last_failed = r.failed.clone();
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `--screen-text LANGS` / `--no-screen-text`: the import's on-screen text stage.
#[derive(clap::Args, Debug, Clone)]
pub struct ScreenTextArgs {
    /// Read the text shown on screen of the imported videos with these Tesseract language
    /// packs (`+`-separated; `vclip ocr --languages list` shows what this system has).
    #[arg(long, value_name = "LANGS", default_value = "eng")]
    pub screen_text: String,
    /// Do not read the text on screen.
    #[arg(long)]
    pub no_screen_text: bool,
}

/// The import's screen-text stage over the videos of `report` (nothing without the `ocr`
/// feature or with `--no-screen-text`). A language pack that cannot be loaded is a warning:
/// the import itself is done.
#[cfg(feature = "ocr")]
fn import_screen_text(
    engine: &Engine,
    report: &vclip_engine::ImportReport,
    screen: &ScreenTextArgs,
    bar: &Bar,
    cancel: &CancelToken,
) -> anyhow::Result<Option<vclip_engine::screen::ScreenTextReport>> {
    if screen.no_screen_text || report.cancelled {
        return Ok(None);
    }
    let mut ocr = match vclip_ocr::Ocr::new(&screen.screen_text) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("warning: the text on screen is not read: {e}");
            return Ok(None);
        }
    };
    let mut ids = Vec::new();
    for p in report
        .imported
        .iter()
        .chain(&report.reembedded)
        .chain(&report.skipped)
    {
        if let Ok(v) = engine.find(&p.to_string_lossy()) {
            ids.push(v.id);
        }
    }
    Ok(Some(engine.read_screen_texts(
        &mut ocr,
        Some(&ids),
        bar,
        cancel,
    )?))
}

#[cfg(feature = "ocr")]
fn print_screen_summary(r: &Option<vclip_engine::screen::ScreenTextReport>) {
    if let Some(r) = r
        .as_ref()
        .filter(|r| !r.read.is_empty() || !r.failed.is_empty())
    {
        let lines: usize = r.read.iter().map(|(_, n)| n).sum();
        println!(
            "text on screen: {lines} lines in {} videos ({} frames read)",
            r.read.len(),
            r.frames_read
        );
        for (path, why) in &r.failed {
            println!("  screen text failed: {path}: {why}");
        }
    }
}

#[cfg(all(feature = "media", not(feature = "ocr")))]
fn print_screen_summary(_: &Option<()>) {}

#[cfg(all(feature = "media", not(feature = "ocr")))]
fn import_screen_text(
    _: &Engine,
    _: &vclip_engine::ImportReport,
    _: &ScreenTextArgs,
    _: &Bar,
    _: &CancelToken,
) -> anyhow::Result<Option<()>> {
    Ok(None)
}

/// `vclip ocr` without a file: the library's videos whose screen text was not read yet.
#[cfg(feature = "ocr")]
pub fn ocr_library(args: &LibraryArgs, languages: &str, json: bool) -> anyhow::Result<ExitCode> {
    // The sentence encoder (with the model) indexes the new cues by meaning too; without a
    // model the library still opens.
    let engine = args.open(true).or_else(|_| args.open(false))?;
    let mut ocr = vclip_ocr::Ocr::new(languages)?;
    let report = engine.read_screen_texts(&mut ocr, None, &Bar::new(), &ctrl_c_token())?;
    if json {
        print_json(&report)?;
    } else {
        println!(
            "read the screen text of {} videos ({} already read with {languages}); {} frames \
             read in {} s of video{}",
            report.read.len(),
            report.up_to_date,
            report.frames_read,
            report.seconds,
            if report.cancelled {
                ", cancelled: run it again to go on"
            } else {
                ""
            }
        );
        for (path, cues) in &report.read {
            println!("  {path}: {cues} lines of text");
        }
        for (path, why) in &report.failed {
            println!("  failed: {path}: {why}");
        }
    }
    Ok(if report.failed.is_empty() && !report.cancelled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(feature = "media")]
pub fn import(
    args: &LibraryArgs,
    paths: &[PathBuf],
    batch: usize,
    exact_frames: bool,
    screen: &ScreenTextArgs,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use vclip_engine::encode::EncodeOptions;
    use vclip_engine::ImportOptions;

    let engine = args.open(true)?;
    let cancel = ctrl_c_token();
    let bar = Bar::new();
    let opts = ImportOptions {
        encode: EncodeOptions {
            clip_batch: batch,
            keyframe_tolerance_ms: if exact_frames {
                0
            } else {
                EncodeOptions::KEYFRAMES_MS
            },
            ..EncodeOptions::default()
        },
    };
    let report = engine.import(paths, opts, &bar, &cancel)?;
    let screen_text = import_screen_text(&engine, &report, screen, &bar, &cancel)?;
    if json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(map) = value.as_object_mut() {
            map.insert(
                "screen_text".to_owned(),
                serde_json::to_value(&screen_text)?,
            );
        }
        print_json(&value)?;
    } else {
        println!(
            "imported {}, re-embedded {}, already there {}, failed {} ({:.0} video-seconds in {:.1} s{})",
            report.imported.len(),
            report.reembedded.len(),
            report.skipped.len(),
            report.failed.len(),
            report.video_s,
            report.wall_s,
            if report.cancelled { ", cancelled: run the same command to resume" } else { "" }
        );
        for f in &report.failed {
            println!("  failed: {}: {}", f.path.display(), f.reason);
        }
        print_screen_summary(&screen_text);
    }
    Ok(if report.failed.is_empty() && !report.cancelled {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn list(args: &LibraryArgs, json: bool) -> anyhow::Result<ExitCode> {
    let engine = args.open(false)?;
    let videos = engine.list()?;
    if json {
        print_json(&videos)?;
        return Ok(ExitCode::SUCCESS);
    }
    if videos.is_empty() {
        println!("the library is empty: add videos with `vclip import PATH…`");
    }
    for v in &videos {
        let duration = v.duration_s.map_or_else(|| "–".to_owned(), super::clock);
        let status = if v.missing { "missing" } else { v.status };
        print!("{:>5}  {:<9} {:>9}  {}", v.id, status, duration, v.path);
        if let Some(e) = &v.error {
            print!("  ({e})");
        }
        println!();
    }
    Ok(ExitCode::SUCCESS)
}

/// Filters of `vclip search`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchFilters {
    /// Only videos inside this folder.
    #[arg(long, value_name = "DIR")]
    pub folder: Option<PathBuf>,
    /// Only videos at least this long (seconds).
    #[arg(long, value_name = "SECONDS")]
    pub min_duration: Option<f64>,
    /// Only videos at most this long (seconds).
    #[arg(long, value_name = "SECONDS")]
    pub max_duration: Option<f64>,
    /// Only files modified on or after this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub after: Option<String>,
    /// Only files modified before this date (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE")]
    pub before: Option<String>,
    /// Moments per video at most.
    #[arg(long, default_value_t = 3)]
    pub per_video: usize,
}

/// `--image FILE` or `--like VIDEO --at S [--duration S]`: search by example.
#[derive(clap::Args, Debug, Default)]
pub struct ExampleArgs {
    /// Find the moments that look like this picture (photo, screenshot, grabbed frame).
    #[arg(long, value_name = "FILE", conflicts_with = "like")]
    pub image: Option<PathBuf>,
    /// Find moments like a moment of this library video (id, content hash or path).
    #[arg(long, value_name = "VIDEO", requires = "at")]
    pub like: Option<String>,
    /// The second of the `--like` video the example starts at.
    #[arg(long, value_name = "SECONDS", requires = "like")]
    pub at: Option<f64>,
    /// How long the `--like` example is, seconds (at most 32).
    #[arg(long, value_name = "SECONDS", default_value_t = 4.0, requires = "like")]
    pub duration: f64,
}

impl ExampleArgs {
    /// The example asked for, if any.
    fn example(&self) -> anyhow::Result<Option<vclip_engine::example::Example>> {
        use vclip_engine::example::Example;
        if let Some(video) = &self.like {
            let at_s = self.at.unwrap_or(0.0);
            return Ok(Some(Example::Moment {
                video: video.clone(),
                at_s,
                duration_s: self.duration,
            }));
        }
        match &self.image {
            #[cfg(feature = "media")]
            Some(path) => Ok(Some(Example::Image(path.clone()))),
            #[cfg(not(feature = "media"))]
            Some(_) => anyhow::bail!("--image needs the media feature (ffmpeg) in this build"),
            None => Ok(None),
        }
    }

    /// How the example reads in messages and export notes.
    fn describe(&self) -> String {
        match (&self.like, &self.image) {
            (Some(v), _) => format!("like {v} at {} s", self.at.unwrap_or(0.0)),
            (None, Some(p)) => format!("like {}", p.display()),
            (None, None) => String::new(),
        }
    }
}

/// `vclip link`: prints the link to second `at` of `video`.
pub fn link(args: &LibraryArgs, video: &str, at: f64) -> anyhow::Result<ExitCode> {
    let engine = args.open(false)?;
    println!("{}", engine.moment_link(video, at)?.to_url());
    Ok(ExitCode::SUCCESS)
}

/// `vclip open`: resolves `link` in the library, then prints it (`print`) or opens the window
/// there (`vclip-app LINK`, found beside this program or on the PATH).
pub fn open_link(
    args: &LibraryArgs,
    link: &str,
    print: bool,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let parsed = vclip_engine::links::MomentLink::parse(link)?;
    let (video, at_s) = {
        let engine = args.open(false)?;
        engine.resolve_link(&parsed)?
        // The library is closed here: the window opens it next.
    };
    if print {
        if json {
            print_json(&serde_json::json!({
                "path": video.path,
                "at_s": at_s,
                "video_id": video.id,
            }))?;
        } else {
            println!("{} at {}", video.path, super::clock(at_s));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let app_name = format!("vclip-app{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(&app_name)))
        .filter(|p| p.is_file());
    let app = beside.unwrap_or_else(|| PathBuf::from(&app_name));
    let mut cmd = std::process::Command::new(&app);
    if let Some(lib) = &args.library {
        cmd.arg("--library").arg(lib);
    }
    cmd.arg(parsed.to_url());
    cmd.spawn()
        .with_context(|| format!("cannot start the window ({})", app.display()))?;
    println!("opening {} at {}", video.path, super::clock(at_s));
    Ok(ExitCode::SUCCESS)
}

/// `--export FORMAT --out FILE [--force]`: the moments found, as an editor timeline.
#[derive(clap::Args, Debug, Default)]
pub struct ExportArgs {
    /// Also write the moments found for editors: `edl` (CMX 3600: Premiere, Resolve, Avid),
    /// `fcpxml` (Final Cut Pro) or `csv` (markers), at each source's frame rate.
    #[arg(long, value_name = "FORMAT", requires = "out")]
    pub export: Option<String>,
    /// The file `--export` writes.
    #[arg(long, value_name = "FILE", requires = "export")]
    pub out: Option<PathBuf>,
    /// Replace the `--out` file if it exists.
    #[arg(long, requires = "export")]
    pub force: bool,
}

/// Writes `results` as `export` asks (nothing when it does not), and says what it wrote on
/// stderr (stdout keeps the results, JSON included).
#[cfg(feature = "media")]
fn export_results(
    query: &str,
    results: &[vclip_engine::search::SearchResult],
    export: &ExportArgs,
) -> anyhow::Result<()> {
    use vclip_engine::export::{export_moments, ExportMoment};
    let (Some(format), Some(out)) = (&export.export, &export.out) else {
        return Ok(());
    };
    let moments: Vec<ExportMoment> = results
        .iter()
        .map(|r| ExportMoment {
            path: PathBuf::from(&r.path),
            start_s: r.start_s,
            end_s: r.end_s,
            note: query.to_string(),
        })
        .collect();
    let report = export_moments(
        &moments,
        format,
        &format!("VClip: {query}"),
        out,
        export.force,
    )?;
    for s in &report.skipped {
        eprintln!("left out {}: {}", s.path.display(), s.reason);
    }
    eprintln!(
        "wrote {} moment{} to {} ({})",
        report.moments,
        if report.moments == 1 { "" } else { "s" },
        report.out.display(),
        report.format
    );
    Ok(())
}

#[cfg(not(feature = "media"))]
fn export_results(
    _: &str,
    _: &[vclip_engine::search::SearchResult],
    export: &ExportArgs,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        export.export.is_none(),
        "--export needs the media feature (ffmpeg) in this build"
    );
    Ok(())
}

pub fn search(
    args: &LibraryArgs,
    query: Option<&str>,
    example: &ExampleArgs,
    limit: usize,
    filters: &SearchFilters,
    json: bool,
    export: &ExportArgs,
) -> anyhow::Result<ExitCode> {
    let engine = args.open(true)?;
    let opts = SearchOptions {
        limit,
        per_video: filters.per_video,
        folder: filters.folder.as_ref().map(|f| {
            std::fs::canonicalize(f)
                .unwrap_or_else(|_| f.clone())
                .to_string_lossy()
                .into_owned()
        }),
        min_duration_s: filters.min_duration,
        max_duration_s: filters.max_duration,
        modified_after: filters.after.as_deref().map(unix_day).transpose()?,
        modified_before: filters.before.as_deref().map(unix_day).transpose()?,
    };
    let (results, query) = match example.example()? {
        Some(ex) => (engine.search_example(&ex, &opts)?, example.describe()),
        None => {
            let query = query.unwrap_or_default();
            (engine.search(query, &opts)?, query.to_owned())
        }
    };
    let query = query.as_str();
    export_results(query, &results, export)?;
    if json {
        print_json(&results)?;
        return Ok(ExitCode::SUCCESS);
    }
    if results.is_empty() {
        println!("no moments found for {query:?}");
    }
    for (i, r) in results.iter().enumerate() {
        let signals: Vec<&str> = r
            .signals
            .iter()
            .map(|s| match s {
                Signal::Visual => "visual",
                Signal::Subtitle => "subtitle",
                Signal::Semantic => "semantic",
                Signal::Name => "name",
                Signal::Example => "example",
                Signal::Screen => "screen",
            })
            .collect();
        println!(
            "{:>2}. {}  {}–{}  [{}]  {:.4}",
            i + 1,
            r.path,
            super::clock(r.start_s),
            super::clock(r.end_s),
            signals.join("+"),
            r.score
        );
        if let Some(s) = &r.snippet {
            println!("    \"{}\"", marked(s, &r.highlights));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `text` with the highlighted byte ranges in `[` `]`.
fn marked(text: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &(a, b) in ranges {
        if a < at || b > text.len() || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        out.push_str(&text[at..a]);
        out.push('[');
        out.push_str(&text[a..b]);
        out.push(']');
        at = b;
    }
    out.push_str(&text[at..]);
    out
}

/// Unix seconds at 00:00 UTC of a `YYYY-MM-DD` date.
fn unix_day(s: &str) -> anyhow::Result<i64> {
    let parts: Vec<&str> = s.split('-').collect();
    let bad = || anyhow::anyhow!("{s:?} is not a date of the form YYYY-MM-DD");
    let [y, m, d] = parts.as_slice() else {
        return Err(bad());
    };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400)
}

/// `vclip duplicates`: the groups of videos that share footage, and where.
#[cfg(feature = "media")]
pub fn duplicates(
    args: &LibraryArgs,
    min_run_s: usize,
    similarity: f32,
    json: bool,
) -> anyhow::Result<ExitCode> {
    use vclip_engine::duplicates::DuplicateOptions;
    let engine = args.open(true)?;
    let opts = DuplicateOptions {
        min_run_s,
        similarity,
        make_missing: true,
    };
    let report = engine.duplicates(&opts, &Bar::new(), &ctrl_c_token())?;
    if json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    if report.groups.is_empty() {
        println!("no shared footage among {} videos", report.videos);
    }
    for (n, g) in report.groups.iter().enumerate() {
        println!("group {}: {} videos share footage", n + 1, g.videos.len());
        for s in &g.shared {
            println!(
                "  {} {}–{}  =  {} {}–{}  ({:.3})",
                s.a.path,
                super::clock(s.a.start_s),
                super::clock(s.a.end_s),
                s.b.path,
                super::clock(s.b.start_s),
                super::clock(s.b.end_s),
                s.similarity
            );
        }
    }
    for (path, why) in &report.skipped {
        println!("  not compared: {path}: {why}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn remove(args: &LibraryArgs, videos: &[String], json: bool) -> anyhow::Result<ExitCode> {
    let engine = args.open(true).or_else(|e| {
        // Removing needs no model; without one, the vector index is reconciled on next open.
        if args.model.is_some() {
            Err(e)
        } else {
            args.open(false)
        }
    })?;
    let mut removed = Vec::new();
    let mut code = ExitCode::SUCCESS;
    for what in videos {
        match engine.remove(what) {
            Ok(v) => {
                if !json {
                    println!("removed {} (the file itself is untouched)", v.path);
                }
                removed.push(v.path);
            }
            Err(e) => {
                eprintln!("error: {what}: {e}");
                code = ExitCode::from(1);
            }
        }
    }
    if json {
        print_json(&serde_json::json!({ "removed": removed }))?;
    }
    Ok(code)
}

#[cfg(feature = "media")]
pub fn reindex(args: &LibraryArgs, json: bool) -> anyhow::Result<ExitCode> {
    let engine = args.open(true)?;
    let cancel = ctrl_c_token();
    let report = engine.reindex(&Bar::new(), &cancel)?;
    if json {
        print_json(&report)?;
    } else {
        println!(
            "re-embedded {} videos; {} windows indexed; {} text documents",
            report.reembedded, report.windows, report.text_docs
        );
        for p in &report.need_import {
            println!("  needs `vclip import` (no cached features for this model): {p}");
        }
        for f in &report.failed {
            println!("  failed: {}: {}", f.path.display(), f.reason);
        }
    }
    Ok(
        if report.failed.is_empty() && report.need_import.is_empty() && !report.cancelled {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_marks() {
        assert_eq!(unix_day("1970-01-01").ok(), Some(0));
        assert_eq!(unix_day("2024-02-29").ok(), Some(1_709_164_800));
        assert!(unix_day("2024-13-01").is_err());
        assert!(unix_day("yesterday").is_err());
        assert_eq!(marked("whisk the eggs", &[(10, 14)]), "whisk the [eggs]");
    }
}
