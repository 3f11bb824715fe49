//! `vclip`: the command-line face of VClip. It parses arguments, calls the library crates, prints
//! data on stdout and progress/errors on stderr, and decides exit codes; nothing else lives here.

mod commands;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Search your own videos in plain language (VideoCLIP, local-first).
#[derive(Debug, Parser)]
#[command(name = "vclip", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
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
    /// Benchmarks, each reported as a ratio to a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
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
    let cli = Cli::parse();
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
