//! Fine-tuning on the user's own library (issue #8), the paper's recipe (`VIDEOCLIP.md` §4):
//! training text from subtitle cues with rolling captions merged ([`captions`]), and the
//! overlapped video–text pair sampler ([`sampler`]). Deterministic under a seed ([`rng`]).
//! Either family: VideoCLIP's towers, or the CLIP family's temporal tower (`towers`).

pub mod adam;
pub mod bench;
pub mod captions;
pub mod checkpoint;
pub mod retrieval;
pub mod rng;
pub mod sampler;
mod towers;
pub mod train;

pub use towers::{default_tau, CLIP_TAU, VIDEOCLIP_TAU};
pub use train::{
    Batching, EpochReport, FinetuneOptions, FinetunePlan, FinetuneReport, RecallMetrics,
};
