//! Helpers of the model crate's own CPU kernels (`clip_vision`'s fused ops, `q8`'s products).
//! Which vector instructions the CPU has, and the cap on them, live in `vclip-kernels`
//! ([`cpu_level`], re-exported here).

use candle_core::{CpuStorage, Layout};

pub use vclip_kernels::cpu::{
    cpu_level, cpu_level_cap, detected_level, set_cpu_level_cap, CpuLevel, ParseCpuLevelError,
};

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
            use $crate::cpu::CpuLevel as L;
            if matches!(level, L::Avx512 | L::Avx512Vnni) {
                // SAFETY: the CPU has AVX-512 F (`cpu_level` never exceeds what it detected).
                return unsafe { avx512($($a),*) };
            }
            if matches!(level, L::Avx2 | L::AvxVnni) {
                // SAFETY: the CPU has AVX2 (both levels need it).
                return unsafe { avx2($($a),*) };
            }
        }
        $f($($a),*)
    }};
}
pub(crate) use widest;
