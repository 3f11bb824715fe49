//! Tesseract on pictures rendered by ffmpeg's `drawtext` (DejaVu fonts, from
//! `fonts-dejavu-core`): known words are read back, a picture without text gives no line, and a
//! missing language pack is an error that names it.

use std::process::Command;

use super::*;

const FONTS: &str = "/usr/share/fonts/truetype/dejavu";

/// A `w`×`h` gray picture with `text` drawn in `font` at `size` (black on white), through the
/// ffmpeg CLI.
fn render(text: &str, font: &str, size: u32, w: u32, h: u32) -> Vec<u8> {
    let filter = if text.is_empty() {
        "format=gray".to_owned()
    } else {
        format!(
            "drawtext=fontfile={FONTS}/{font}:text='{text}':fontsize={size}:fontcolor=black:\
             x=(w-text_w)/2:y=(h-text_h)/2,format=gray"
        )
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i"])
        .arg(format!("color=c=white:s={w}x{h}"))
        .args(["-vf", &filter, "-frames:v", "1", "-f", "rawvideo", "-"])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), (w * h) as usize);
    out.stdout
}

fn read(ocr: &mut Ocr, pic: &[u8], w: u32, h: u32) -> String {
    let lines = ocr
        .read_gray(pic, w as usize, h as usize, w as usize)
        .expect("read");
    lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn words_drawn_in_several_fonts_are_read_back() {
    let mut ocr = Ocr::new("eng").expect("eng is installed (scripts/deps.sh)");
    assert!(version().starts_with(['4', '5', '6']), "{}", version());
    for font in ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf"] {
        let pic = render("Whisk the eggs until fluffy", font, 36, 720, 120);
        let text = read(&mut ocr, &pic, 720, 120);
        assert_eq!(text, "Whisk the eggs until fluffy", "{font}");
    }
    let blank = render("", "DejaVuSans.ttf", 36, 640, 360);
    assert!(ocr
        .read_gray(&blank, 640, 360, 640)
        .expect("blank")
        .is_empty());
}

#[test]
fn lines_have_boxes_and_confidence() {
    let mut ocr = Ocr::new("eng").expect("eng");
    let pic = render("cargo build --release", "DejaVuSansMono.ttf", 28, 640, 100);
    let lines = ocr.read_gray(&pic, 640, 100, 640).expect("read");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert!(
        l.confidence >= Ocr::MIN_CONFIDENCE && l.confidence <= 100.0,
        "{l:?}"
    );
    let [left, top, right, bottom] = l.bbox;
    assert!(
        0 <= left && left < right && right <= 640 && 0 <= top && top < bottom && bottom <= 100,
        "{l:?}"
    );
    // A stride wider than the picture reads the same.
    let mut wide = Vec::new();
    for row in pic.chunks(640) {
        wide.extend_from_slice(row);
        wide.extend_from_slice(&[255; 64]);
    }
    assert_eq!(
        ocr.read_gray(&wide, 640, 100, 704).expect("stride")[0].text,
        l.text
    );
    assert!(ocr.read_gray(&pic, 640, 101, 640).is_err(), "too few bytes");
}

#[test]
fn a_missing_language_pack_is_named() {
    let e = Ocr::new("xyz").expect_err("no such pack");
    let msg = e.to_string();
    assert!(
        msg.contains("`xyz`") && msg.contains("xyz.traineddata"),
        "{msg}"
    );
    assert!(Ocr::new("eng+../etc").is_err());
    let dir = tessdata_dir().expect("a tessdata folder");
    assert!(installed_languages(&dir).contains(&"eng".to_owned()));
    // A broken pack: an empty file in a folder of our own.
    let tmp = std::env::temp_dir().join(format!("vclip-ocr-test-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("mkdir");
    std::fs::write(tmp.join("bad.traineddata"), b"").expect("write");
    let e = Ocr::with_tessdata("bad", Some(&tmp)).expect_err("empty pack");
    assert!(e.to_string().contains("bad.traineddata"), "{e}");
    std::fs::write(tmp.join("bad.traineddata"), b"not a model at all").expect("write");
    let e = Ocr::with_tessdata("bad", Some(&tmp)).expect_err("damaged pack");
    assert!(e.to_string().contains("could not load"), "{e}");
    let _ = std::fs::remove_dir_all(&tmp);
}
