//! End-to-end tests of the whole workspace, driving the `vclip` binary like a user would.
//! One test binary (ripgrep's layout); each module covers one face of the product.

mod cli_clip;
mod cli_duplicates;
mod cli_example;
mod cli_export;
mod cli_finetune;
mod cli_finetune_learns;
mod cli_full_disk;
mod cli_library;
mod cli_media;
mod cli_models;
mod cli_screen;
mod cli_steps;
mod cli_versions;
mod cli_watch;
