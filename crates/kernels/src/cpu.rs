//! Which vector instructions the CPU has ([`detected_level`], the only reader of the CPU's
//! feature flags in VClip) and which of them the kernels may use now ([`cpu_level`]).

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// A set of vector instructions the kernels know, narrowest first on each architecture. A CPU
/// has some of them ([`CpuLevel::available`]); the kernels use the widest one allowed
/// ([`cpu_level`]). Capping the level ([`set_cpu_level_cap`]) runs the code a CPU without the
/// wider instructions runs, so one machine tests and measures every path it can execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuLevel {
    /// The build's baseline (SSE2 on x86-64, NEON without dot products on aarch64): plain
    /// loops, and no 8-bit kernel of VClip's.
    Portable,
    /// AVX2 and FMA (most x86-64 CPUs since 2013): 8-bit products with `vpmaddubsw` and
    /// `vpmaddwd`.
    Avx2,
    /// AVX2, FMA and the 256-bit AVX-VNNI (Intel Alder Lake and later, AMD Zen 4 and later):
    /// 8-bit products with `vpdpbusd` on 256-bit vectors.
    AvxVnni,
    /// AVX-512 F and BW, without VNNI (Intel Skylake-SP): AVX-512 plain loops, the AVX2 8-bit
    /// products.
    Avx512,
    /// AVX-512 F, BW and VNNI (AMD Zen 4 and later, Intel Ice Lake server and later):
    /// `vpdpbusd` on 512-bit vectors.
    Avx512Vnni,
    /// aarch64 with the dot-product instructions (`sdot`: Apple M1 and later, Graviton 2 and
    /// later, Snapdragon X).
    NeonDot,
}

impl CpuLevel {
    /// Every level, in the order of the enum.
    pub const ALL: [CpuLevel; 6] = [
        CpuLevel::Portable,
        CpuLevel::Avx2,
        CpuLevel::AvxVnni,
        CpuLevel::Avx512,
        CpuLevel::Avx512Vnni,
        CpuLevel::NeonDot,
    ];

    /// The name `FromStr` takes: `portable`, `avx2`, `avx-vnni`, `avx512`, `avx512-vnni`,
    /// `neon-dot`.
    pub fn name(self) -> &'static str {
        match self {
            CpuLevel::Portable => "portable",
            CpuLevel::Avx2 => "avx2",
            CpuLevel::AvxVnni => "avx-vnni",
            CpuLevel::Avx512 => "avx512",
            CpuLevel::Avx512Vnni => "avx512-vnni",
            CpuLevel::NeonDot => "neon-dot",
        }
    }

    /// The levels this CPU can run, narrowest first (always starting with `Portable`).
    pub fn available() -> Vec<CpuLevel> {
        let f = features();
        Self::ALL.into_iter().filter(|l| f.runs(*l)).collect()
    }

    /// Whether this CPU has the instructions of `self`.
    pub fn is_available(self) -> bool {
        features().runs(self)
    }
}

impl std::fmt::Display for CpuLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A CPU level name that is none of [`CpuLevel::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown CPU level `{0}` (expected portable, avx2, avx-vnni, avx512, avx512-vnni or neon-dot)"
)]
pub struct ParseCpuLevelError(pub String);

impl std::str::FromStr for CpuLevel {
    type Err = ParseCpuLevelError;

    fn from_str(s: &str) -> Result<Self, ParseCpuLevelError> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match s.as_str() {
            "scalar" | "baseline" | "none" => Some(CpuLevel::Portable),
            "avxvnni" => Some(CpuLevel::AvxVnni),
            "avx512vnni" => Some(CpuLevel::Avx512Vnni),
            "neon" => Some(CpuLevel::Portable),
            "dotprod" | "neondot" => Some(CpuLevel::NeonDot),
            _ => None,
        };
        alias
            .or_else(|| Self::ALL.into_iter().find(|l| l.name() == s))
            .ok_or(ParseCpuLevelError(s))
    }
}

/// The instructions the kernels care about, as detected once.
#[derive(Debug, Clone, Copy, Default)]
struct Features {
    avx2_fma: bool,
    avx_vnni: bool,
    avx512: bool,
    avx512_vnni: bool,
    dotprod: bool,
}

impl Features {
    fn runs(self, level: CpuLevel) -> bool {
        match level {
            CpuLevel::Portable => true,
            CpuLevel::Avx2 => self.avx2_fma,
            CpuLevel::AvxVnni => self.avx2_fma && self.avx_vnni,
            CpuLevel::Avx512 => self.avx2_fma && self.avx512,
            CpuLevel::Avx512Vnni => self.avx2_fma && self.avx512 && self.avx512_vnni,
            CpuLevel::NeonDot => self.dotprod,
        }
    }
}

fn features() -> Features {
    static DETECTED: OnceLock<Features> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        #[allow(unused_mut)]
        let mut f = Features::default();
        #[cfg(target_arch = "x86_64")]
        {
            f.avx2_fma = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            f.avx_vnni = is_x86_feature_detected!("avxvnni");
            f.avx512 = is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw");
            f.avx512_vnni = is_x86_feature_detected!("avx512vnni");
        }
        #[cfg(target_arch = "aarch64")]
        {
            f.dotprod = std::arch::is_aarch64_feature_detected!("dotprod");
        }
        f
    })
}

/// The widest level this CPU has.
pub fn detected_level() -> CpuLevel {
    widest_up_to(u8::MAX)
}

/// The widest level this CPU has at or below `cap` (a `CpuLevel` as `u8`). No allocation: the
/// kernels ask on every call.
fn widest_up_to(cap: u8) -> CpuLevel {
    let f = features();
    CpuLevel::ALL
        .into_iter()
        .rev()
        .find(|l| (*l as u8) <= cap && f.runs(*l))
        .unwrap_or(CpuLevel::Portable)
}

/// No cap (`u8::MAX`), or the highest level allowed (the `CpuLevel` as `u8`).
static CAP: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the level every CPU kernel of this process uses from now on (`None`: the CPU's own).
/// For tests and benchmarks that exercise the paths of CPUs without the wider instructions,
/// and for users who need them (`VCLIP_CPU_LEVEL`, read by the engine). The kernels then use
/// the widest level the CPU has at or below the cap; a cap above what the CPU has changes
/// nothing.
pub fn set_cpu_level_cap(cap: Option<CpuLevel>) {
    CAP.store(cap.map_or(u8::MAX, |l| l as u8), Ordering::Relaxed);
}

/// The cap set by [`set_cpu_level_cap`], if any.
pub fn cpu_level_cap() -> Option<CpuLevel> {
    let cap = CAP.load(Ordering::Relaxed);
    CpuLevel::ALL.into_iter().find(|l| *l as u8 == cap)
}

/// The level the kernels use now: the widest the CPU has, capped by [`set_cpu_level_cap`].
pub fn cpu_level() -> CpuLevel {
    widest_up_to(CAP.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for level in CpuLevel::ALL {
            assert_eq!(level.name().parse::<CpuLevel>(), Ok(level));
        }
        assert_eq!("AVX512_VNNI".parse::<CpuLevel>(), Ok(CpuLevel::Avx512Vnni));
        assert_eq!("avxvnni".parse::<CpuLevel>(), Ok(CpuLevel::AvxVnni));
        assert_eq!("scalar".parse::<CpuLevel>(), Ok(CpuLevel::Portable));
        let err = "sse9".parse::<CpuLevel>().expect_err("not a level");
        assert!(err.to_string().contains("sse9"), "{err}");
    }

    #[test]
    fn the_available_levels_are_consistent() {
        let available = CpuLevel::available();
        assert_eq!(available.first(), Some(&CpuLevel::Portable));
        assert_eq!(available.last().copied(), Some(detected_level()));
        // The x86 levels imply AVX2; no CPU has both x86 and ARM levels.
        if available
            .iter()
            .any(|l| *l > CpuLevel::Avx2 && *l != CpuLevel::NeonDot)
        {
            assert!(available.contains(&CpuLevel::Avx2));
        }
        assert!(!(available.contains(&CpuLevel::Avx2) && available.contains(&CpuLevel::NeonDot)));
    }
}
