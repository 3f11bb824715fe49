//! Helpers of the model crate's own CPU kernels (`clip_vision`'s fused ops, `q8`'s products),
//! and the one place that reads which vector instructions the CPU has ([`cpu_level`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use candle_core::{CpuStorage, Layout};

/// The vector instructions the model's own CPU kernels may use, narrowest first. Every kernel
/// has a path for each level below the widest it knows, so capping the level
/// ([`set_cpu_level_cap`]) runs the code a CPU without the wider instructions runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuLevel {
    /// The build's baseline (SSE2 on x86-64, NEON on aarch64): plain loops.
    Portable,
    /// AVX2 and FMA (most x86-64 CPUs since 2013).
    Avx2,
    /// AVX-512 F and BW, without VNNI.
    Avx512,
    /// AVX-512 F, BW and VNNI (AMD Zen 4 and later, Intel Ice Lake server and later): the 8-bit
    /// kernel of `q8` runs.
    Avx512Vnni,
}

impl CpuLevel {
    /// Every level, narrowest first.
    pub const ALL: [CpuLevel; 4] = [
        CpuLevel::Portable,
        CpuLevel::Avx2,
        CpuLevel::Avx512,
        CpuLevel::Avx512Vnni,
    ];

    /// The name `FromStr` takes: `portable`, `avx2`, `avx512`, `avx512-vnni`.
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Portable => "portable",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::Avx512 => "avx512",
            CpuLevel::Avx512Vnni => "avx512-vnni",
        }
    }

    /// The levels this CPU can run, narrowest first.
    pub fn available() -> Vec<CpuLevel> {
        let top = detected_level();
        Self::ALL.into_iter().filter(|l| *l <= top).collect()
    }
}

impl std::fmt::Display for CpuLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for CpuLevel {
    type Err = crate::Error;

    fn from_str(s: &str) -> crate::Result<Self> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Self::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .or_else(|| (s == "scalar" || s == "baseline").then_some(CpuLevel::Portable))
            .ok_or_else(|| {
                crate::Error::Input(format!(
                    "unknown CPU level `{s}` (expected portable, avx2, avx512 or avx512-vnni)"
                ))
            })
    }
}

/// The widest level this CPU has: the only place that reads the CPU's feature flags.
pub fn detected_level() -> CpuLevel {
    static DETECTED: OnceLock<CpuLevel> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            let avx512 =
                is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
            if avx512 && is_x86_feature_detected!("avx512vnni") {
                return CpuLevel::Avx512Vnni;
            }
            if avx512 {
                return CpuLevel::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return CpuLevel::Avx2;
            }
        }
        CpuLevel::Portable
    })
}

/// No cap (`u8::MAX`), or the highest level allowed (the `CpuLevel` as `u8`).
static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the level every CPU kernel of this process uses from now on (`None`: the CPU's own).
/// For tests and benchmarks that exercise the paths of CPUs without the wider instructions,
/// and for users who need them (`VCLIP_CPU_LEVEL`, read by the engine). A cap above what the
/// CPU has changes nothing. Layers packed for a wider kernel fall back to candle's when the cap
/// takes that kernel away.
pub fn set_cpu_level_cap(cap: Option<CpuLevel>) {
    CAP.store(cap.map_or(u8::MAX, |l| l as u8), Ordering::Relaxed);
}

/// The level the kernels use now: what the CPU has, capped by [`set_cpu_level_cap`].
pub fn cpu_level() -> CpuLevel {
    let top = detected_level();
    let cap = CAP.load(Ordering::Relaxed);
    CpuLevel::ALL
        .into_iter()
        .rev()
        .find(|l| *l <= top && (*l as u8) <= cap)
        .unwrap_or(CpuLevel::Portable)
}

/// The f32 values a CPU custom op gets, which must be contiguous; `op` names the op in errors.
pub(crate) fn contiguous_f32<'a>(
    storage: &'a CpuStorage,
    layout: &Layout,
    op: &str,
) -> candle_core::Result<&'a [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: expected f32")
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: expected a contiguous tensor")
    };
    Ok(&data[start..end])
}

/// Calls the `#[inline(always)]` function `f(args…)` compiled for the widest vectors the CPU
/// may use ([`cpu_level`]) — AVX-512 F, else AVX2, else the build's baseline — so its plain
/// loops vectorise at that width. The same operations run at every width, so the numbers do not
/// depend on the CPU.
macro_rules! widest {
    ($f:ident($($a:ident: $t:ty),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            fn avx512($($a: $t),*) {
                $f($($a),*)
            }
            #[target_feature(enable = "avx2")]
            fn avx2($($a: $t),*) {
                $f($($a),*)
            }
            let level = $crate::cpu::cpu_level();
            if level >= $crate::cpu::CpuLevel::Avx512 {
                // SAFETY: the CPU has AVX-512 F (`cpu_level` never exceeds what it detected).
                return unsafe { avx512($($a),*) };
            }
            if level >= $crate::cpu::CpuLevel::Avx2 {
                // SAFETY: the CPU has AVX2.
                return unsafe { avx2($($a),*) };
            }
        }
        $f($($a),*)
    }};
}
pub(crate) use widest;
