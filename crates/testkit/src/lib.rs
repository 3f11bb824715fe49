//! What the workspace's tests share, in one place instead of copies in every test file:
//!
//! - [`video`]: test videos made at test time with the ffmpeg CLI from lavfi sources (so no big
//!   binaries are committed), with an optional `.srt` beside them, and the CLI's reference
//!   decode.
//! - [`assets`]: the test assets `scripts/fetch-test-assets.sh` puts in `.cache/` (found, or
//!   skipped, or a failure when `VCLIP_REQUIRE_TEST_ASSETS` is set) and the model fixtures.
//! - [`http`]: a loopback HTTP/1.1 file server (a download mirror, Hugging Face's redirects,
//!   broken and slow connections).
//!
//! A dev-dependency only; it needs the ffmpeg CLI (`scripts/deps.sh`), not its libraries.
#![warn(missing_docs)]

pub mod assets;
pub mod http;
pub mod video;

pub use assets::{bert_vocab, minilm, model_fixtures, workspace_root};
pub use video::{
    audio_only, cli_rgb_frames, colour_library, ffmpeg, half_second_cues, lavfi, lavfi_args,
    lavfi_srt, lavfi_with, mean_abs_diff, mux_subtitles, rotate90, srt, still_image, testsrc,
    testsrc_with, COLOURS, SLIDES,
};
