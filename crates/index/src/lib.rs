//! `vclip-index`: the VClip library on disk.
//!
//! This crate stores what the rest of the pipeline computes; it runs no model and decodes no
//! video. It owns:
//!
//! - [`Library`]: the library folder, its layout and the exclusive lock ([`library`]);
//! - [`Catalogue`]: videos, windows and subtitle cues in SQLite ([`catalogue`]);
//! - the feature cache: per-second matrices as checksummed f16 files ([`features`]);
//! - [`VectorIndex`]: the usearch HNSW index of window embeddings ([`vectors`]);
//! - [`TextIndex`]: the tantivy BM25 index of subtitles, names, folders and titles ([`text`]).
//!
//! Every write that replaces a file goes through [`atomic::write_atomically`] (temp file in the
//! same folder, fsync, rename, fsync of the folder), and every multi-row change of the catalogue
//! is one SQLite transaction, so a kill at any instant leaves either the old or the new state.

// Tests may unwrap: a panic there is a failed test, not a user-facing crash.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod atomic;
pub mod catalogue;
pub mod disk;
pub mod error;
pub mod features;
pub mod library;
pub mod text;
pub mod vectors;

pub use catalogue::{Catalogue, Cue, CueOrigin, FinishedImport, NewVideo, Status, Video, Window};
pub use error::{Error, Result};
pub use features::{read_features, write_features, Features};
pub use library::{Library, ModelVersion};
pub use text::{Snippet, TextDoc, TextHit, TextIndex, TextKind};
pub use vectors::{Hit, VectorIndex};
