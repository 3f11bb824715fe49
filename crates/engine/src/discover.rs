//! Finding the videos to import, and identifying their content.
//!
//! [`discover`] expands the paths a user dropped or typed: files are taken as given, folders
//! are walked recursively (hidden entries and symlinked folders skipped, so a link cycle cannot
//! loop), and a file inside a folder is a candidate when its extension is a video extension or,
//! for an unknown extension, when ffmpeg probes a video stream in it. Sidecar subtitles and
//! other files are left out silently; a path that cannot be read is reported and the walk goes on.
//!
//! [`content_hash`] identifies a file by its content, not its name, so a moved or renamed video is
//! recognised: SHA-256 over the size and, for files over 16 MiB, the first and last MiB plus
//! 16 samples of 64 KiB spread evenly between them (whole files below that). Reading ~3 MiB
//! instead of gigabytes keeps re-scans of a large library fast; two different videos with the
//! same size and the same sampled bytes are, in practice, not a thing.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// A path that could not be read while discovering.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct DiscoverError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

const SAMPLED_ABOVE: u64 = 16 << 20;
const EDGE: u64 = 1 << 20;
const SAMPLE: u64 = 64 << 10;
const SAMPLES: u64 = 16;

/// Video files under `paths` (sorted, without duplicates), and the paths that failed.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<DiscoverError>) {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => walk(p, &mut found, &mut errors),
            // A file the user named explicitly is tried whatever its extension; the import
            // reports it if it is not a video.
            Ok(_) => found.push(p.clone()),
            Err(source) => errors.push(DiscoverError {
                path: p.clone(),
                source,
            }),
        }
    }
    found.sort();
    found.dedup();
    (found, errors)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, errors: &mut Vec<DiscoverError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(source) => {
            errors.push(DiscoverError {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&path, found, errors);
        } else if (kind.is_file() || (kind.is_symlink() && path.is_file())) && is_candidate(&path) {
            found.push(path);
        }
    }
}

/// Known video extension, or an unknown one that ffmpeg probes as a video.
fn is_candidate(path: &Path) -> bool {
    if vclip_media::has_video_extension(path) {
        return true;
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    // Files that are certainly not videos are not worth opening with ffmpeg.
    const NOT_VIDEO: &[&str] = &[
        "srt", "vtt", "ass", "ssa", "sub", "txt", "md", "json", "xml", "nfo", "jpg", "jpeg", "png",
        "gif", "webp", "heic", "bmp", "tif", "tiff", "mp3", "wav", "flac", "aac", "m4a", "ogg",
        "opus", "pdf", "doc", "docx", "zip", "gz", "tar", "7z", "db", "sqlite", "exe", "dll", "so",
        "html", "css", "js",
    ];
    if NOT_VIDEO.contains(&ext.as_str()) {
        return false;
    }
    vclip_media::probe(path)
        .ok()
        .and_then(|info| info.video)
        .is_some_and(|v| !v.still_image)
}

/// Lower-case hex content identifier of a file (see the module docs).
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let size = f.metadata()?.len();
    let mut h = Sha256::new();
    h.update(size.to_le_bytes());
    let mut buf = vec![0u8; EDGE as usize];
    if size <= SAMPLED_ABOVE {
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    } else {
        let mut take = |f: &mut File, at: u64, len: u64| -> std::io::Result<()> {
            f.seek(SeekFrom::Start(at))?;
            let chunk = &mut buf[..len as usize];
            f.read_exact(chunk)?;
            h.update(&*chunk);
            Ok(())
        };
        take(&mut f, 0, EDGE)?;
        let span = size - 2 * EDGE - SAMPLE;
        for i in 0..SAMPLES {
            take(&mut f, EDGE + span * i / (SAMPLES - 1), SAMPLE)?;
        }
        take(&mut f, size - EDGE, EDGE)?;
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_content_not_name_and_sees_sampled_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let big: Vec<u8> = (0..40u32 << 20)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("renamed.bin");
        std::fs::write(&a, &big).expect("write");
        std::fs::write(&b, &big).expect("write");
        assert_eq!(
            content_hash(&a).expect("hash"),
            content_hash(&b).expect("hash")
        );
        // A change in the first MiB, the last MiB, or at a sample point changes the hash.
        for at in [10usize, big.len() - 10, (1 << 20) as usize + 5] {
            let mut changed = big.clone();
            changed[at] ^= 0xff;
            std::fs::write(&b, &changed).expect("write");
            assert_ne!(
                content_hash(&a).expect("hash"),
                content_hash(&b).expect("hash"),
                "byte {at}"
            );
        }
        // Small files are hashed whole.
        std::fs::write(&a, b"hello").expect("write");
        std::fs::write(&b, b"hellp").expect("write");
        assert_ne!(
            content_hash(&a).expect("hash"),
            content_hash(&b).expect("hash")
        );
    }
}
