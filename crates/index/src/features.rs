//! The feature cache file: one per-second matrix (rows = seconds, cols = feature size) per file.
//!
//! Format (all integers little-endian), version 1:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `VCLIPF16` |
//! | 8 | 4 | format version (`1`) |
//! | 12 | 4 | rows |
//! | 16 | 4 | cols |
//! | 20 | rows·cols·2 | the values, row-major, IEEE f16 |
//! | end−4 | 4 | CRC-32 (IEEE) of every byte before it |
//!
//! The length is fully determined by the header, so a torn (truncated) or padded file fails the
//! length check, and a flipped bit fails the CRC: a damaged file is reported as
//! [`Error::Corrupt`] with its path, never misread as features. Files are written with
//! [`write_atomically`], so a crash never leaves a half-written file at the final path.
//!
//! f16 halves the cache (a 512-d S3D feature is 1 KiB per video-second); the S3D features are
//! post-ReLU activations of moderate range, well inside f16's. Readers get f32 back.

use std::io::Write;
use std::path::Path;

use half::f16;

use crate::atomic::write_atomically;
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"VCLIPF16";
const VERSION: u32 = 1;
const HEADER: usize = 20;
const TRAILER: usize = 4;

/// A row-major f32 matrix read back from the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// Number of rows (video-seconds).
    pub rows: usize,
    /// Number of columns (feature size).
    pub cols: usize,
    /// `rows * cols` values, row-major.
    pub data: Vec<f32>,
}

impl Features {
    /// Row `i` as a slice.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Writes `data` (`rows * cols` f32 values, row-major) to `path` as f16, atomically.
pub fn write_features(path: &Path, rows: usize, cols: usize, data: &[f32]) -> Result<()> {
    let n = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::Invalid(format!("{rows}x{cols} features overflow")))?;
    if n != data.len() {
        return Err(Error::Invalid(format!(
            "{rows}x{cols} features need {n} values, got {}",
            data.len()
        )));
    }
    let (r, c) = match (u32::try_from(rows), u32::try_from(cols)) {
        (Ok(r), Ok(c)) => (r, c),
        _ => return Err(Error::Invalid(format!("{rows}x{cols} features too large"))),
    };
    let mut bytes = Vec::with_capacity(HEADER + n * 2 + TRAILER);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&VERSION.to_le_bytes());
    bytes.extend_from_slice(&r.to_le_bytes());
    bytes.extend_from_slice(&c.to_le_bytes());
    for v in data {
        bytes.extend_from_slice(&f16::from_f32(*v).to_le_bytes());
    }
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    write_atomically(path, |w| w.write_all(&bytes))
}

/// Reads a feature file back as f32. Any damage gives [`Error::Corrupt`] naming `path`.
pub fn read_features(path: &Path) -> Result<Features> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let corrupt = |reason: String| Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < HEADER + TRAILER {
        return Err(corrupt(format!(
            "{} bytes is shorter than a header",
            bytes.len()
        )));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt("not a VClip feature file (bad magic)".into()));
    }
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let version = u32_at(8);
    if version != VERSION {
        return Err(corrupt(format!("unknown format version {version}")));
    }
    let rows = u32_at(12) as usize;
    let cols = u32_at(16) as usize;
    let expected = rows
        .checked_mul(cols)
        .and_then(|n| n.checked_mul(2))
        .and_then(|n| n.checked_add(HEADER + TRAILER));
    if expected != Some(bytes.len()) {
        return Err(corrupt(format!(
            "{rows}x{cols} needs {} bytes but the file has {} (torn write?)",
            expected.map_or_else(|| "too many".to_string(), |n| n.to_string()),
            bytes.len()
        )));
    }
    let body = bytes.len() - TRAILER;
    let stored = u32_at(body);
    let actual = crc32fast::hash(&bytes[..body]);
    if stored != actual {
        return Err(corrupt(format!(
            "checksum mismatch (stored {stored:08x}, computed {actual:08x})"
        )));
    }
    let data = bytes[HEADER..body]
        .chunks_exact(2)
        .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    Ok(Features { rows, cols, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: usize, cols: usize) -> Vec<f32> {
        (0..rows * cols)
            .map(|i| (i as f32 * 0.37).sin() * 4.0)
            .collect()
    }

    #[test]
    fn round_trip_within_f16_precision() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.f16");
        let data = sample(7, 512);
        write_features(&p, 7, 512, &data).unwrap();
        let f = read_features(&p).unwrap();
        assert_eq!((f.rows, f.cols), (7, 512));
        for (a, b) in data.iter().zip(&f.data) {
            assert!((a - b).abs() <= 4.0 * 1e-3, "{a} vs {b}");
        }
        assert_eq!(f.row(6).len(), 512);
    }

    #[test]
    fn empty_matrix_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.f16");
        write_features(&p, 0, 512, &[]).unwrap();
        assert_eq!(read_features(&p).unwrap().rows, 0);
    }

    #[test]
    fn torn_file_is_corrupt_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("torn.f16");
        write_features(&p, 5, 16, &sample(5, 16)).unwrap();
        let len = std::fs::metadata(&p).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len - 37).unwrap();
        drop(f);
        match read_features(&p) {
            Err(Error::Corrupt { path, reason }) => {
                assert_eq!(path, p);
                assert!(reason.contains("torn"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn flipped_bit_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bit.f16");
        write_features(&p, 3, 8, &sample(3, 8)).unwrap();
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[30] ^= 0x10;
        std::fs::write(&p, &bytes).unwrap();
        assert!(matches!(read_features(&p), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn wrong_magic_and_short_files_are_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.f16");
        std::fs::write(&p, b"hello").unwrap();
        assert!(matches!(read_features(&p), Err(Error::Corrupt { .. })));
        std::fs::write(&p, [0u8; 64]).unwrap();
        assert!(matches!(read_features(&p), Err(Error::Corrupt { .. })));
    }

    #[test]
    fn size_mismatch_is_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.f16");
        assert!(matches!(
            write_features(&p, 2, 3, &[0.0; 5]),
            Err(Error::Invalid(_))
        ));
        assert!(!p.exists());
    }
}
