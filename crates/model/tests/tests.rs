//! Integration tests of `vclip-model`, one binary: parity against the PyTorch reference
//! (`tools/reference.py`, fixtures written by `tools/make_fixtures.py`), weight loading, tokenizer.
//!
//! Each device-dependent test is written once as `fn name(dev: &Device)` and expanded by
//! `test_device!` into `name::cpu` (always) and `name::cuda` / `name::metal` (with the feature).

#[macro_use]
mod common;

mod clip_parity;
mod clip_temporal;
mod full_size;
mod minilm;
mod model_dir;
mod pth_formats;
mod s3d_parity;
mod tokenizer;
mod towers_parity;
