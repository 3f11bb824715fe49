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
    /// Library folder (created if missing). Default: $VCLIP_LIBRARY, else the one chosen in
    /// the settings screen, else the per-user data folder (~/.local/share/vclip/library on
    /// Linux).
    #[arg(long, value_name = "DIR")]
    library: Option<PathBuf>,
    /// A moment link (`vclip://open?v=…&t=…`, from `vclip link` or *Copy link*): the window
    /// opens the player there.
    link: Option<String>,
}

fn main() -> anyhow::Result<()> {
    // Tensors of hundreds of megabytes are allocated and freed per layer: keep them in the heap.
    vclip_model::memory::keep_freed_memory();
    let args = Args::parse();
    // The settings file (see `vclip_app::settings`): `--library` and the environment win.
    let setup = vclip_app::settings::Setup::from_environment(args.library.is_some());
    let library =
        vclip_app::start_library(args.library, &setup).context("cannot open the library")?;
    // A bad link is said and the window opens anyway.
    let link = args.link.as_deref().and_then(|l| {
        vclip_engine::links::MomentLink::parse(l)
            .map_err(|e| eprintln!("vclip-app: {e}"))
            .ok()
    });
    vclip_app::run(library, setup, link).context("the window failed")
}
