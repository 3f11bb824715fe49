//! Free space on the disk that holds a path: tells a full disk apart from other I/O failures
//! when a store (SQLite, tantivy, usearch) reports only a generic error.

use std::path::Path;

/// Below this many free bytes, a write failure is put down to a full disk.
pub const NEARLY_FULL_BYTES: u64 = 1 << 20;

/// Bytes an unprivileged process may still write on the file system holding `path` (or its
/// nearest existing ancestor); `None` where the platform or the path does not say.
pub fn available_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    available(existing)
}

/// Whether the disk holding `path` has less than [`NEARLY_FULL_BYTES`] left.
pub fn is_nearly_full(path: &Path) -> bool {
    available_bytes(path).is_some_and(|b| b < NEARLY_FULL_BYTES)
}

#[cfg(unix)]
fn available(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable memory of the right size.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

#[cfg(not(unix))]
fn available(_path: &Path) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_folder_has_room_and_a_missing_child_asks_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let here = available_bytes(dir.path()).unwrap();
        assert!(here > 0);
        let child = available_bytes(&dir.path().join("not/yet/there")).unwrap();
        // Same file system; other processes may write in between, so only roughly equal.
        assert!(child.abs_diff(here) < here / 2 + NEARLY_FULL_BYTES);
    }
}
