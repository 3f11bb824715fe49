//! Helpers of the model crate's own CPU kernels (`clip_vision`'s fused ops, `q8`'s products).

use candle_core::{CpuStorage, Layout};

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
/// has — AVX-512 F, else AVX2, else the build's baseline — so its plain loops vectorise at that
/// width. The same operations run at every width, so the numbers do not depend on the CPU.
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
            if is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512 F.
                return unsafe { avx512($($a),*) };
            }
            if is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2.
                return unsafe { avx2($($a),*) };
            }
        }
        $f($($a),*)
    }};
}
pub(crate) use widest;
