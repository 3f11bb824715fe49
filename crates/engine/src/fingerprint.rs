//! Per-second picture fingerprints: what finding shared footage compares
//! ([`crate::duplicates`]).
//!
//! A second's fingerprint is the luma of the frame the models see for it (the frame at
//! `k + 0.5 s`, scaled and centre-cropped) averaged over a 16×16 grid, rounded to gray levels.
//! It depends on the picture only — not on a model, so it serves every family, and a random or
//! fine-tuned model changes nothing — and it survives what re-encoding, resizing and trimming do
//! to a picture: compression noise and scaling average out over the cells. Compared after
//! removing each fingerprint's mean and scaling it to unit length (a normalised
//! cross-correlation of two 16×16 thumbnails), flat frames (black, a plain colour) have no
//! pattern to compare and are left out.

/// Cells per side.
pub const SIDE: usize = 16;
/// Values per fingerprint.
pub const CELLS: usize = SIDE * SIDE;
/// A fingerprint whose cells vary less than this (standard deviation in gray levels) is a flat
/// frame: nothing to compare.
pub const FLAT_STD: f32 = 3.0;

/// The fingerprint of a square RGB24 frame (`side × side × 3` bytes; `None` for another
/// length or an empty frame).
pub fn of_rgb(frame: &[u8]) -> Option<[u8; CELLS]> {
    let side = ((frame.len() / 3) as f64).sqrt() as usize;
    if side == 0 || side * side * 3 != frame.len() {
        return None;
    }
    let mut out = [0u8; CELLS];
    for cy in 0..SIDE {
        let (y0, y1) = cell_range(cy, side);
        for cx in 0..SIDE {
            let (x0, x1) = cell_range(cx, side);
            let (mut sum, mut n) = (0f64, 0f64);
            for y in y0..y1 {
                for px in frame[(y * side + x0) * 3..(y * side + x1) * 3].chunks_exact(3) {
                    sum += 0.299 * f64::from(px[0])
                        + 0.587 * f64::from(px[1])
                        + 0.114 * f64::from(px[2]);
                    n += 1.0;
                }
            }
            out[cy * SIDE + cx] = (sum / n.max(1.0)).round().clamp(0.0, 255.0) as u8;
        }
    }
    Some(out)
}

/// Pixels `[start, end)` of cell `c` along a side of `side` pixels (at least one pixel).
fn cell_range(c: usize, side: usize) -> (usize, usize) {
    let start = c * side / SIDE;
    let end = ((c + 1) * side / SIDE).max(start + 1).min(side);
    (start.min(side - 1), end)
}

/// `fp` less its mean, scaled to unit length; `None` for a flat frame (see [`FLAT_STD`]).
pub fn normalised(fp: &[f32]) -> Option<Vec<f32>> {
    let n = fp.len().max(1) as f32;
    let mean = fp.iter().sum::<f32>() / n;
    let centred: Vec<f32> = fp.iter().map(|x| x - mean).collect();
    let norm = centred.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm / n.sqrt() < FLAT_STD {
        return None;
    }
    Some(centred.into_iter().map(|x| x / norm).collect())
}

/// Writes a video's fingerprints (one per second) to the library, atomically, as gray levels in
/// the features format.
#[cfg(feature = "media")]
pub(crate) fn store(
    lib: &vclip_index::Library,
    hash: &str,
    fingerprints: &[[u8; CELLS]],
) -> crate::store::Result<()> {
    let flat: Vec<f32> = fingerprints
        .iter()
        .flatten()
        .map(|&g| f32::from(g))
        .collect();
    let path = lib.fingerprint_path(hash)?;
    vclip_index::write_features(&path, fingerprints.len(), CELLS, &flat)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(side: usize, f: impl Fn(usize, usize) -> u8) -> Vec<u8> {
        let mut v = Vec::with_capacity(side * side * 3);
        for y in 0..side {
            for x in 0..side {
                let g = f(x, y);
                v.extend_from_slice(&[g, g, g]);
            }
        }
        v
    }

    #[test]
    fn cells_average_the_frame_whatever_its_size() {
        let gradient = |side: usize| frame(side, |x, _| (x * 255 / (side - 1)) as u8);
        let a = of_rgb(&gradient(224)).expect("224");
        let b = of_rgb(&gradient(64)).expect("64");
        let c = of_rgb(&gradient(8)).expect("smaller than the grid");
        assert!(a[0] < 10 && a[SIDE - 1] > 245, "{:?}", &a[..SIDE]);
        let (na, nb) = (
            normalised(&a.map(f32::from)).expect("a pattern"),
            normalised(&b.map(f32::from)).expect("a pattern"),
        );
        let ncc: f32 = na.iter().zip(&nb).map(|(x, y)| x * y).sum();
        assert!(ncc > 0.99, "{ncc}");
        assert!(normalised(&c.map(f32::from)).is_some());
        assert!(of_rgb(&[0; 10]).is_none());
        assert!(of_rgb(&[]).is_none());
    }

    #[test]
    fn flat_frames_have_nothing_to_compare() {
        let black = of_rgb(&frame(32, |_, _| 0)).expect("black");
        assert!(normalised(&black.map(f32::from)).is_none());
        let noisy_grey = of_rgb(&frame(32, |x, y| 128 + ((x + y) % 2) as u8)).expect("grey");
        assert!(normalised(&noisy_grey.map(f32::from)).is_none());
    }
}
