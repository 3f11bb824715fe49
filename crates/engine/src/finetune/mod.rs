//! Fine-tuning on the user's own library (issue #8), the paper's recipe (`VIDEOCLIP.md` §4):
//! training text from subtitle cues with rolling captions merged ([`captions`]), and the
//! overlapped video–text pair sampler ([`sampler`]). Deterministic under a seed ([`rng`]).

pub mod adam;
pub mod bench;
pub mod captions;
pub mod checkpoint;
pub mod retrieval;
pub mod rng;
pub mod sampler;
pub mod train;

pub use train::{
    Batching, EpochReport, FinetuneOptions, FinetunePlan, FinetuneReport, RecallMetrics,
};
