//! `vclip`: the command-line face of VClip. It parses arguments, calls the library crates, prints
//! data on stdout and progress/errors on stderr, and decides exit codes; nothing else lives here.

mod commands;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::library::{ExportArgs, LibraryArgs, SearchFilters};

/// Search your own videos in plain language (VideoCLIP, local-first).
#[derive(Debug, Parser)]
#[command(name = "vclip", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Keep the library current with folders until Ctrl-C: new videos imported once they stop
    /// growing, moved or renamed ones relinked by content (no decoding), deleted ones marked
    /// missing (kept, not searched), changed ones imported again. The folders named are added
    /// to the library's watched folders; with none, those are watched.
    #[cfg(feature = "media")]
    Watch {
        dirs: Vec<PathBuf>,
        /// Rescan once and exit (for a scheduled job).
        #[arg(long)]
        once: bool,
        /// List the watched folders and exit.
        #[arg(long)]
        list: bool,
        /// Stop watching a folder (its videos stay in the library).
        #[arg(long, value_name = "DIR")]
        forget: Vec<PathBuf>,
        /// Seconds a new or changed file must stay unmodified before it is imported.
        #[arg(long, default_value_t = 2.0, value_name = "SECONDS")]
        settle: f64,
        /// Print each rescan's report as one line of JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Add videos to the library: files, or folders searched recursively. Also resumes an
    /// import that was interrupted. Videos already imported are skipped.
    #[cfg(feature = "media")]
    Import {
        paths: Vec<PathBuf>,
        /// Seconds per S3D-G call.
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// CLIP: embed the exact frame at the middle of each second. By default a keyframe inside
        /// the second stands for it when there is one, so videos with a keyframe every second
        /// (most phones) decode only their keyframes, about twice as fast.
        #[arg(long)]
        exact_frames: bool,
        #[command(flatten)]
        screen: commands::library::ScreenTextArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// List the videos of the library with their status.
    List {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Search the library in plain language: ranked moments (file, start–end, signals).
    ///
    /// By example instead of words: `--image FILE` (a photo, a screenshot, a grabbed frame) or
    /// `--like VIDEO --at SECONDS` (more moments like this one).
    Search {
        #[arg(required_unless_present_any = ["image", "like"], conflicts_with_all = ["image", "like"])]
        query: Option<String>,
        #[command(flatten)]
        example: commands::library::ExampleArgs,
        /// Moments to return at most.
        #[arg(long, short = 'k', default_value_t = 10)]
        limit: usize,
        #[command(flatten)]
        filters: SearchFilters,
        /// Print JSON: an array of {path, start_s, end_s, score, signals, snippet, …}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        export: ExportArgs,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// A link to a moment (`vclip://open?v=…&t=…`): it names the video by its content, so it
    /// keeps working when the file moves. `vclip open LINK` or the window opens it.
    Link {
        /// The video: library id, content hash, or the path of an imported file.
        video: String,
        /// The second the link opens at.
        #[arg(long, default_value_t = 0.0)]
        at: f64,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Open a moment link: the window starts at that video and second (`--print` only says
    /// which file and second it is).
    Open {
        link: String,
        /// Print the file and the second instead of opening the window.
        #[arg(long)]
        print: bool,
        /// Print JSON: {path, at_s, video_id}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Videos that share footage (the same recording re-encoded, resized, trimmed or cut into
    /// a compilation), with the time ranges that match on both sides. Compares per-second
    /// picture fingerprints made at import (videos imported before them are decoded once).
    #[cfg(feature = "media")]
    Duplicates {
        /// Shortest shared run of seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        min_run: usize,
        /// How alike two seconds must be (cosine of centred features, up to 1).
        #[arg(long, default_value_t = 0.8)]
        similarity: f32,
        /// Print JSON: {groups: [{videos, shared: [{a, b, similarity}]}], videos, skipped}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Read the text shown on screen (slides, terminals, signs, burnt-in captions) of a video
    /// file: timed lines, one cue per line for as long as it stays on screen (Tesseract).
    ///
    /// Without FILE: reads the library's videos whose screen text was not read yet with these
    /// language packs (videos imported before, or with other languages), and stores it as
    /// searchable `screen` cues.
    #[cfg(feature = "ocr")]
    Ocr {
        file: Option<PathBuf>,
        /// Tesseract language packs, `+`-separated (e.g. `eng+deu`); `--languages list` shows
        /// what this system has.
        #[arg(long, default_value = "eng")]
        languages: String,
        /// Print JSON: {cues: [{start_s, end_s, text, confidence}], seconds, read, unchanged,
        /// textless}; for the library, {read, up_to_date, failed, seconds, frames_read}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Remove videos from the library (by id, path or content hash); files are not touched.
    Remove {
        #[arg(required = true, value_name = "VIDEO")]
        videos: Vec<String>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Place the steps of a how-to on an imported video's timeline: each step's span and
    /// confidence (VideoCLIP token states, CrossTask's ordered alignment).
    Steps {
        /// The video: library id, content hash, or the path of an imported file.
        video: String,
        #[command(flatten)]
        source: commands::steps::StepSource,
        /// The steps are not in the video's order: place each where it fits best.
        #[arg(long)]
        unordered: bool,
        /// Print JSON: {video, steps: [{text, start_s, end_s, score, …}]}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        chapters: commands::steps::ChaptersArgs,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Benchmarks of the model's quality on public datasets.
    #[cfg(feature = "media")]
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Fine-tune the active model on this library's videos and subtitles (the paper's recipe:
    /// overlapped pairs, symmetric InfoNCE), write it as a new model folder and re-embed the
    /// library with it. Prints held-out text→video recall before and after each epoch.
    #[cfg(feature = "media")]
    Finetune {
        #[command(flatten)]
        args: commands::finetune::FinetuneArgs,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Rebuild the window vectors, the vector index and the text index from the feature cache
    /// with the active model (after a model change), without decoding any video.
    #[cfg(feature = "media")]
    Reindex {
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
    /// Save a moment of a video as a file of its own: a stream copy when the start falls on a
    /// keyframe, else an exact re-encode of the picture (H.264; the audio is copied).
    #[cfg(feature = "media")]
    Export {
        /// The video file.
        video: PathBuf,
        /// Start, in seconds.
        #[arg(long)]
        start: f64,
        /// End, in seconds.
        #[arg(long)]
        end: f64,
        /// The clip to write; its extension picks the container (mp4, mov, mkv…).
        #[arg(long)]
        out: PathBuf,
        /// Always re-encode: cut exactly to the frame.
        #[arg(long, conflicts_with = "copy")]
        reencode: bool,
        /// Always copy: lossless and fast, from the keyframe at or before the start.
        #[arg(long)]
        copy: bool,
        /// Replace `--out` (and its `.srt`) if it exists.
        #[arg(long)]
        force: bool,
        /// Also write the video's subtitles of the span beside the clip (`OUT.srt`, timed from
        /// the clip's start): its sidecar or embedded track with the most cues.
        #[arg(long)]
        srt: bool,
        /// Print JSON: {out, mode, start_s, end_s, frames, srt}.
        #[arg(long)]
        json: bool,
    },
    /// Show what a media file holds: container, streams, rotation, frame rates, subtitles.
    #[cfg(feature = "media")]
    Probe {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print JSON (an array with one object per file) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write the 30 frames the model sees for one second of a video as PNGs.
    #[cfg(feature = "media")]
    Frames {
        file: PathBuf,
        /// The second to extract (clip `floor(SECONDS)`).
        #[arg(long, value_name = "SECONDS")]
        at: f64,
        /// Folder for `frame_00.png` … `frame_29.png` (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Print the subtitle cues of a video (embedded tracks and sidecar .srt/.vtt files).
    #[cfg(feature = "media")]
    Subtitles {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write a JPEG thumbnail of the frame shown at a given time.
    #[cfg(feature = "media")]
    Thumbnail {
        file: PathBuf,
        #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
        at: f64,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Longest side in pixels.
        #[arg(long, default_value_t = 320)]
        size: u32,
    },
    /// Get, make and inspect model directories (config.json, safetensors, vocab.txt).
    Models {
        #[command(subcommand)]
        what: ModelsCommand,
    },
    /// Per-second S3D-G features and pooled window embeddings of one video.
    #[cfg(feature = "media")]
    Encode {
        video: PathBuf,
        /// Model directory (default: the `videoclip` model in the models folder).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        /// Run on the GPU (needs a build with `--features cuda` or `metal`).
        #[arg(long)]
        gpu: bool,
        /// Seconds per S3D-G call.
        #[arg(long, default_value_t = 4)]
        batch: usize,
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks, each reported as a ratio to a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[cfg(feature = "media")]
#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// CrossTask step localisation recall (VideoCLIP paper: 33.9 zero-shot). Imports the videos
    /// found in --videos into a library (default: VIDEOS/.vclip-crosstask), then scores them.
    Crosstask {
        /// CrossTask's release folder: tasks_primary.txt, annotations/, videos_val.csv.
        #[arg(long, value_name = "DIR")]
        annotations: PathBuf,
        /// Folder with the videos, named by their YouTube id (`<id>.mp4`, `.webm`, …).
        #[arg(long, value_name = "DIR")]
        videos: PathBuf,
        /// Seconds per S3D-G call while importing.
        #[arg(long, default_value_t = 4)]
        batch: usize,
        /// Print JSON: {recall, tasks, videos, missing, failed}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        lib: LibraryArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Import model files you have (read directly, no Python). VideoCLIP: the released
    /// fairseq `checkpoint_best.pt`, S3D-G's `s3d_howto100m.pth` (zip or legacy format) and
    /// bert-base-uncased's `vocab.txt`. CLIP: `--clip DIR`, a Hugging Face
    /// `openai/clip-vit-base-patch32` folder.
    Import {
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "clip",
            conflicts_with = "clip"
        )]
        videoclip: Option<PathBuf>,
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "clip",
            conflicts_with = "clip"
        )]
        s3d: Option<PathBuf>,
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "clip",
            conflicts_with = "clip"
        )]
        vocab: Option<PathBuf>,
        /// A Hugging Face CLIP ViT-B/32 folder: `config.json`, `model.safetensors` or
        /// `pytorch_model.bin`, and `tokenizer.json` or `vocab.json` + `merges.txt`.
        #[arg(long, value_name = "DIR")]
        clip: Option<PathBuf>,
        /// Model directory to write (default: `videoclip`, or `clip-vit-b32` with --clip, in the
        /// models folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Architecture of the VideoCLIP files: `full` (the released model) or `tiny` (test
        /// fixtures). CLIP's sizes come from its `config.json`.
        #[arg(long, default_value = "full", conflicts_with = "clip")]
        preset: String,
    },
    /// Download a model's published files (resumable, with progress), then import them:
    /// `videoclip` (default) the released VideoCLIP + S3D-G weights and vocab.txt,
    /// `clip-vit-b32` openai/clip-vit-base-patch32 from Hugging Face (600 MB).
    Pull {
        /// The model family to download.
        #[arg(
            value_name = "FAMILY",
            default_value = "videoclip",
            value_parser = ["videoclip", "clip-vit-b32", "clip"]
        )]
        family: String,
        /// A folder URL holding copies of the files, tried before the official addresses
        /// (repeatable; also `$VCLIP_MODEL_MIRROR`).
        #[arg(long, value_name = "URL")]
        mirror: Vec<String>,
        /// Model directory to write (default: the family's name in the models folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long, default_value = "full", hide = true)]
        preset: String,
    },
    /// Download the subtitle sentence encoder (all-MiniLM-L6-v2, 90 MB; resumable, checked):
    /// searches then also find subtitles by meaning.
    PullSentence {
        /// A folder URL holding `config.json`, `model.safetensors` and `vocab.txt`, tried
        /// before Hugging Face (repeatable; also `$VCLIP_MODEL_MIRROR`).
        #[arg(long, value_name = "URL")]
        mirror: Vec<String>,
        /// Where to put it (default: `all-minilm-l6-v2` in the models folder).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The library's model versions (the base model and those fine-tuned from it), the active
    /// one marked, each with its parent and held-out recall before and after fine-tuning.
    Versions {
        #[command(flatten)]
        args: commands::versions::VersionArgs,
    },
    /// Make a model version (`vclip models versions`: its name, or a unique start of its last
    /// part) or a model folder the library's active model. Re-embeds the library from the
    /// feature cache (no decoding) only when that version's windows are missing.
    #[cfg(feature = "media")]
    Use {
        #[arg(value_name = "VERSION|DIR")]
        target: String,
        #[command(flatten)]
        args: commands::versions::VersionArgs,
    },
    /// Go back to the model version that was active before (else the active one's parent).
    #[cfg(feature = "media")]
    Rollback {
        #[command(flatten)]
        args: commands::versions::VersionArgs,
    },
    /// Write a random-weight model (marked as random) for tests and benchmarks.
    InitRandom {
        /// The model family.
        #[arg(long, default_value = "videoclip", value_parser = ["videoclip", "clip-vit-b32", "clip"])]
        family: String,
        #[arg(long, default_value = "tiny")]
        preset: String,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// VideoCLIP: bert-base-uncased vocab.txt (`full` preset); a synthetic vocabulary
        /// otherwise.
        #[arg(long, value_name = "FILE", conflicts_with = "tokenizer")]
        vocab: Option<PathBuf>,
        /// CLIP: an HF `tokenizer.json` whose vocabulary fits the preset (CLIP's for `full`); a
        /// synthetic one otherwise.
        #[arg(long, value_name = "FILE")]
        tokenizer: Option<PathBuf>,
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// HNSW search over synthetic vectors: recall@k against exact search (same data), build
    /// time, query latency with and without the text tower, exact-search baseline.
    Search(commands::bench::SearchArgs),
    /// Fine-tuning steps and pairs per second (both towers, loss, backward, Adam) on a fixed
    /// random batch; `tools/train_step_bench.py` times PyTorch on the same shapes.
    Finetune(commands::bench::FinetuneBenchArgs),
    /// S3D-G clips per second (or the CLIP image tower's frames per second) and text queries per
    /// second on CPU or GPU. `tools/clip_tower_bench.py` times PyTorch on the same CLIP model.
    Encode {
        /// Model directory; without it a random-weight model of `--preset` is made in a
        /// temporary folder (speed does not depend on the weights).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        #[arg(long, default_value = "full")]
        preset: String,
        /// Model family of the random model: `videoclip` (default) or `clip-vit-b32` (`clip`:
        /// the image tower on one frame per video-second). With --model, the folder's family
        /// (checked against this when both are given).
        #[arg(long, value_name = "FAMILY")]
        family: Option<String>,
        /// Clips per S3D-G call, or frames per CLIP image-tower call; default: the import's
        /// (4 clips, 16 frames).
        #[arg(long)]
        batch: Option<usize>,
        /// Frames per clip (VideoCLIP: 30; the GPU comparison with PyTorch uses 32).
        #[arg(long, default_value_t = 30)]
        frames: usize,
        /// Queries per text-tower call.
        #[arg(long, default_value_t = 16)]
        text_batch: usize,
        /// S3D-G precision: f32, f16 or bf16 (reduced precision on GPUs).
        #[arg(long, default_value = "f32")]
        dtype: String,
        /// CLIP image tower's dense layers: `f32` or `q8` (default: what import uses on this
        /// device, see `vclip import --help`). With q8 the report adds the cosine of q8's
        /// embeddings to f32's on the same frames.
        #[arg(long, value_name = "f32|q8")]
        image_precision: Option<vclip_model::Precision>,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        /// Also time every stage of S3D-G and print a table of medians (stderr).
        #[arg(long)]
        profile: bool,
        /// CLIP's image tower on the CPU with each CPU level this machine runs forced in turn
        /// (its AVX2 path, AVX-VNNI, AVX-512 VNNI, …): f32 and q8 frames/s at each, their
        /// ratio, q8's cosine to f32, and the precision import picks there.
        #[arg(long, conflicts_with_all = ["gpu", "profile", "image_precision"])]
        kernels: bool,
        #[arg(long)]
        gpu: bool,
        #[arg(long)]
        json: bool,
    },
    /// What reading the text on screen costs an import: each file imported into a fresh
    /// library (the baseline), then its screen text read, in the same run (frames read, frames
    /// per second, the import's slowdown). `scripts/bench-screen.sh` makes a screen recording
    /// and a textured video without text to run it on.
    #[cfg(feature = "ocr")]
    Screen {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// `videoclip` or `clip-vit-b32` (a random-weight model of `--preset`).
        #[arg(long, default_value = "videoclip")]
        family: String,
        #[arg(long, default_value = "full")]
        preset: String,
        #[arg(long, default_value = "eng")]
        languages: String,
        /// Runs per file (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// A watched-folder rescan of a generated, unchanged library (empty files and their
    /// catalogue rows) against walking its folders alone, in the same run.
    #[cfg(feature = "media")]
    Rescan {
        /// Catalogued files.
        #[arg(long, default_value_t = 100_000)]
        files: usize,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Import throughput (video-seconds per second) into a fresh library vs. decoding the same
    /// file alone, in the same run.
    #[cfg(feature = "media")]
    Import {
        file: PathBuf,
        /// Model directory; without it a random-weight model of `--preset` is made in a
        /// temporary folder (speed does not depend on the weights).
        #[arg(long, value_name = "DIR")]
        model: Option<PathBuf>,
        #[arg(long, default_value = "full")]
        preset: String,
        /// Model family of the random model: `videoclip` (default) or `clip-vit-b32` (`clip`; one
        /// frame per second; decode alone is then the per-second sampler). With --model, the
        /// folder's family (checked against this when both are given).
        #[arg(long, value_name = "FAMILY")]
        family: Option<String>,
        /// Seconds per backbone call (S3D-G clips, or CLIP frames); default: the import's
        /// (4 clips, 16 frames).
        #[arg(long)]
        batch: Option<usize>,
        /// CLIP: import (and decode alone) as `vclip import --exact-frames` does.
        #[arg(long)]
        exact_frames: bool,
        /// S3D-G precision: f32, f16 or bf16 (the half types on GPUs; the towers stay f32).
        #[arg(long, default_value = "f32")]
        dtype: String,
        /// CLIP image tower's dense layers: `f32` or `q8` (default: what import uses on this
        /// device: q8 on the CPU, f32 on a GPU, or `$VCLIP_IMAGE_PRECISION`).
        #[arg(long, value_name = "f32|q8")]
        image_precision: Option<vclip_model::Precision>,
        /// Measured runs (decode alone, then import into a fresh library); the median is
        /// reported. The model is warmed up once before.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        gpu: bool,
        #[arg(long)]
        json: bool,
    },
    /// Decoded 224×224 frames per second vs. the ffmpeg CLI running the same filters, and peak
    /// resident memory.
    #[cfg(feature = "media")]
    Decode {
        file: PathBuf,
        /// Timed runs of each side; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[arg(long)]
        json: bool,
        /// Instead: the one-frame-per-second sampler (CLIP) with each speed option, in
        /// video-seconds per second and as a ratio to decoding every frame, in the same run.
        #[arg(long)]
        per_second: bool,
    },
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`vclip probe … | head`) instead of panicking on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Tensors of hundreds of megabytes are allocated and freed per layer: keep them in the heap.
    vclip_model::memory::keep_freed_memory();
    let cli = Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
