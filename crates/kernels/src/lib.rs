//! VClip's own CPU kernels, free of any tensor library so that they build and test quickly on
//! every target:
//! - [`cpu`]: the one place that reads which vector instructions the CPU has, and the cap that
//!   makes a CPU run the paths of narrower ones (tests, benchmarks, `VCLIP_CPU_LEVEL`);
//! - [`q8`]: `y = x Wᵀ + b` with 8-bit weights and activations, one kernel per instruction set
//!   (AVX-512 VNNI, AVX-VNNI, AVX2, NEON dot product), each bit-identical to one scalar
//!   reference, so the numbers never depend on the CPU.
//!
//! The model crate wraps [`q8::PackedQ8`] as a candle op and chooses each tower's default
//! precision from [`q8::q8_path`].

pub mod cpu;
pub mod q8;

pub use cpu::{cpu_level, detected_level, set_cpu_level_cap, CpuLevel, ParseCpuLevelError};
pub use q8::{q8_path, PackedQ8, Q8Path};
