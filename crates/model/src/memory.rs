//! How the process's allocator treats the model's large tensors.
//!
//! A forward pass allocates and frees tensors of hundreds of megabytes per layer (S3D-G on 4
//! clips: 190 MB after `conv1`, an im2col buffer of over 1 GB). glibc serves every block above
//! its mmap threshold (at most 32 MB by default) with a fresh `mmap` and unmaps it on free, so
//! each layer touches new pages and the kernel zero-fills them again: a third of S3D-G's CPU
//! time was page faults. [`keep_freed_memory`] raises the mmap and trim thresholds so freed
//! blocks stay in the heap and the next layer reuses them (S3D-G on the CPU: 0.55 -> 0.89
//! clips/s, `vclip bench encode --preset full`); [`release_freed_memory`] hands what is free
//! back to the system when a long job ends. Elsewhere (other C libraries, other systems) both
//! do nothing.

/// Blocks up to this size come from the heap instead of their own mapping.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 30;
/// Free memory at the top of the heap is kept up to this size (until [`release_freed_memory`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const TRIM_THRESHOLD: libc::c_int = i32::MAX;

/// Keeps freed large blocks for reuse (see the module docs). The binaries call it first thing
/// in `main`, before any thread starts; returns whether the allocator took the settings.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes glibc's allocation parameters; called at start-up.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Returns the heap's free memory to the system (after an import or a fine-tune, so a window
/// left open does not hold the peak of the last job).
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` is thread-safe and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
