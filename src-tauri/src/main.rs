//! `vclip-app`: the VClip desktop window. Parses the command line, opens the library and hands
//! over to Tauri; exit codes are decided here and only here.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;

/// Search your own videos in plain language.
#[derive(Debug, Parser)]
#[command(name = "vclip-app", version, about)]
struct Args {
    /// Library folder (created if missing). Default: $VCLIP_LIBRARY, else the per-user data
    /// folder (~/.local/share/vclip/library on Linux).
    #[arg(long, value_name = "DIR")]
    library: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let library = vclip_app::resolve_library(args.library).context("cannot open the library")?;
    vclip_app::run(library).context("the window failed")
}
