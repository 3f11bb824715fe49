//! The model crate's own CPU kernels: the one place that reads the CPU's features and the
//! vector-width dispatch ([`cpu`]), and the 8-bit dense layers ([`q8`]).

pub mod cpu;
pub(crate) mod q8;
