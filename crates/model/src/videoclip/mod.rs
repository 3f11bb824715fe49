//! The VideoCLIP family (Xu et al., EMNLP 2021, arXiv 2109.14084): the frozen S3D-G backbone
//! ([`s3d`]), the video and text transformers ([`towers`]), their sizes ([`config`]), the model
//! folder with the released weights' import ([`model_dir`]) and the trainable towers
//! ([`train`]). `docs/model-notes.md` holds the details the code follows.

pub mod config;
pub mod model_dir;
pub mod s3d;
mod s3d_cpu;
pub mod towers;
pub mod train;

pub use towers::*;
