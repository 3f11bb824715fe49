//! Output geometry of the VideoCLIP extractor: short side to 224, long side rounded down, centre
//! crop 224×224 (docs/model-notes.md §2: MMPT `videoreader.py` `_get_output_dim` and crop offsets).

/// The scale target and crop offsets for a frame of `width`×`height` (after rotation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ScaledSize {
    pub width: u32,
    pub height: u32,
    pub crop_x: u32,
    pub crop_y: u32,
}

/// Scale so the short side is `size` and the long side is `int(long * size / short)` (the
/// reference truncates), then centre-crop at `int((w - size) / 2)`, `int((h - size) / 2)`.
pub fn scaled_size(width: u32, height: u32, size: u32) -> ScaledSize {
    let (w, h) = (u64::from(width.max(1)), u64::from(height.max(1)));
    let s = u64::from(size);
    // Integer arithmetic gives the same truncation as Python's int(long * size / short) for all
    // realistic sizes and avoids float rounding at exact multiples.
    let (out_w, out_h) = if h >= w {
        (s, h * s / w)
    } else {
        (w * s / h, s)
    };
    let (out_w, out_h) = (out_w.max(s) as u32, out_h.max(s) as u32);
    ScaledSize {
        width: out_w,
        height: out_h,
        crop_x: (out_w - size) / 2,
        crop_y: (out_h - size) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn landscape_1080p() {
        let s = scaled_size(1920, 1080, 224);
        // 1920 * 224 / 1080 = 398.2 -> 398
        assert_eq!((s.width, s.height, s.crop_x, s.crop_y), (398, 224, 87, 0));
    }

    #[test]
    fn portrait_and_square_and_tiny() {
        assert_eq!(scaled_size(1080, 1920, 224).height, 398);
        assert_eq!(scaled_size(1080, 1920, 224).width, 224);
        let sq = scaled_size(640, 640, 224);
        assert_eq!(
            (sq.width, sq.height, sq.crop_x, sq.crop_y),
            (224, 224, 0, 0)
        );
        let one = scaled_size(1, 1, 224);
        assert_eq!((one.width, one.height), (224, 224));
        let uhd = scaled_size(3840, 2160, 224);
        assert_eq!((uhd.width, uhd.height, uhd.crop_x), (398, 224, 87));
    }

    #[test]
    fn truncates_like_python_int() {
        // 720 * 224 / 405 = 398.22 -> 398 ; 641 * 224 / 480 = 299.13 -> 299
        assert_eq!(scaled_size(720, 405, 224).width, 398);
        assert_eq!(scaled_size(641, 480, 224).width, 299);
    }
}
