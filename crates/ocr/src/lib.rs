//! On-screen text: reads the text of a picture with Tesseract (Smith 2007, "An Overview of the
//! Tesseract OCR Engine"; the LSTM recogniser of Tesseract 4+), through its C API.
//!
//! The binding is thin and owned: [`Ocr`] wraps one `TessBaseAPI` (not thread-safe: one per
//! thread), loads the language packs the system has (`*.traineddata`, e.g. Debian's
//! `tesseract-ocr-eng`), and [`Ocr::read_gray`] returns the picture's text lines with their
//! confidence and box. Words Tesseract is unsure of (confidence below
//! [`Ocr::min_confidence`]) and words without a letter or digit are left out: noise read into
//! textures is the usual failure on video frames.

mod ffi;

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// Errors of the text reader.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// A language pack is missing or cannot be loaded.
    #[error("Tesseract cannot use the language pack `{language}` ({file}): {reason}")]
    LanguagePack {
        language: String,
        file: String,
        reason: String,
    },
    /// A picture that cannot be read as asked.
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = OcrError> = std::result::Result<T, E>;

/// One line of text on a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The line's words, separated by single spaces.
    pub text: String,
    /// Mean confidence of its words, 0–100.
    pub confidence: f32,
    /// Box on the picture, pixels: left, top, right, bottom.
    pub bbox: [i32; 4],
}

/// The version of the linked libtesseract, e.g. `5.3.0`.
pub fn version() -> String {
    // SAFETY: a static string owned by the library.
    unsafe { CStr::from_ptr(ffi::TessVersion()) }
        .to_string_lossy()
        .into_owned()
}

/// Where the language packs are looked for: `TESSDATA_PREFIX` when set, else the folders the
/// distributions install them in (the first that exists). `None`: Tesseract's built-in default.
pub fn tessdata_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TESSDATA_PREFIX") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/share/tesseract-ocr/5/tessdata",
        "/usr/share/tesseract-ocr/4.00/tessdata",
        "/usr/share/tessdata",
        "/usr/local/share/tessdata",
        "/opt/homebrew/share/tessdata",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_dir())
}

/// The language packs installed in `dir` (names of its `*.traineddata` files, sorted), `osd`
/// (orientation detection, not a language) left out.
pub fn installed_languages(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".traineddata").map(str::to_owned)
        })
        .filter(|n| n != "osd")
        .collect();
    out.sort();
    out
}

/// A Tesseract engine with its languages loaded.
pub struct Ocr {
    handle: NonNull<ffi::TessBaseAPI>,
    languages: String,
    min_confidence: f32,
}

// SAFETY: a TessBaseAPI may move between threads; it is only used through `&mut self`.
unsafe impl Send for Ocr {}

impl std::fmt::Debug for Ocr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ocr")
            .field("languages", &self.languages)
            .finish_non_exhaustive()
    }
}

impl Ocr {
    /// Words below this confidence (0–100) are left out by default.
    pub const MIN_CONFIDENCE: f32 = 60.0;

    /// Loads `languages` (`eng`, or several: `eng+deu`) from [`tessdata_dir`]. A missing or
    /// broken pack is an error that names it.
    pub fn new(languages: &str) -> Result<Self> {
        Self::with_tessdata(languages, tessdata_dir().as_deref())
    }

    /// [`Ocr::new`] with the language packs in `dir`.
    pub fn with_tessdata(languages: &str, dir: Option<&Path>) -> Result<Self> {
        one_openmp_thread();
        let pack_error = |language: &str, reason: String| OcrError::LanguagePack {
            language: language.to_owned(),
            file: match dir {
                Some(d) => d
                    .join(format!("{language}.traineddata"))
                    .display()
                    .to_string(),
                None => format!("{language}.traineddata"),
            },
            reason,
        };
        let names: Vec<&str> = languages.split('+').map(str::trim).collect();
        for name in &names {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(pack_error(name, "not a language pack name".to_owned()));
            }
            if let Some(d) = dir {
                let file = d.join(format!("{name}.traineddata"));
                match std::fs::metadata(&file) {
                    Ok(m) if m.len() > 0 => {}
                    Ok(_) => return Err(pack_error(name, "the file is empty".to_owned())),
                    Err(_) => {
                        let have = installed_languages(d);
                        return Err(pack_error(
                            name,
                            format!(
                                "not installed (installed: {}; Debian/Ubuntu: apt install \
                                 tesseract-ocr-{name})",
                                if have.is_empty() {
                                    "none".to_owned()
                                } else {
                                    have.join(", ")
                                }
                            ),
                        ));
                    }
                }
            }
        }
        let joined = names.join("+");
        let c_lang = CString::new(joined.clone())
            .map_err(|_| OcrError::Input("a language name with a NUL byte".to_owned()))?;
        let c_dir = match dir {
            Some(d) => Some(CString::new(d.to_string_lossy().into_owned()).map_err(|_| {
                OcrError::Input(format!("{}: a path with a NUL byte", d.display()))
            })?),
            None => None,
        };
        // SAFETY: plain constructor; checked for null below.
        let handle = NonNull::new(unsafe { ffi::TessBaseAPICreate() })
            .ok_or_else(|| pack_error(&joined, "Tesseract could not be created".to_owned()))?;
        let ocr = Ocr {
            handle,
            languages: joined.clone(),
            min_confidence: Self::MIN_CONFIDENCE,
        };
        // Tesseract's own messages go nowhere: failures come back as errors here.
        ocr.set_variable(
            "debug_file",
            if cfg!(windows) { "NUL" } else { "/dev/null" },
        );
        // SAFETY: a live handle and NUL-terminated strings that outlive the call.
        let rc = unsafe {
            ffi::TessBaseAPIInit3(
                ocr.handle.as_ptr(),
                c_dir.as_ref().map_or(std::ptr::null(), |d| d.as_ptr()),
                c_lang.as_ptr(),
            )
        };
        if rc != 0 {
            return Err(pack_error(
                &joined,
                "Tesseract could not load it (a damaged file, or one made for another version)"
                    .to_owned(),
            ));
        }
        // SAFETY: a live, initialised handle.
        unsafe { ffi::TessBaseAPISetPageSegMode(ocr.handle.as_ptr(), ffi::PSM_SPARSE_TEXT) };
        Ok(ocr)
    }

    /// The languages loaded, as given (`eng+deu`).
    pub fn languages(&self) -> &str {
        &self.languages
    }

    /// Words below this confidence (0–100) are left out.
    pub fn min_confidence(&self) -> f32 {
        self.min_confidence
    }

    pub fn set_min_confidence(&mut self, c: f32) {
        self.min_confidence = c;
    }

    fn set_variable(&self, name: &str, value: &str) -> bool {
        let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else {
            return false;
        };
        // SAFETY: a live handle and NUL-terminated strings that outlive the call.
        unsafe { ffi::TessBaseAPISetVariable(self.handle.as_ptr(), n.as_ptr(), v.as_ptr()) != 0 }
    }

    /// The text lines of an 8-bit gray picture (`height` rows of `stride` bytes, `width` used),
    /// top to bottom as Tesseract found them, without the words it is unsure of.
    pub fn read_gray(
        &mut self,
        data: &[u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Vec<Line>> {
        let fits = width > 0
            && height > 0
            && stride >= width
            && stride.checked_mul(height).is_some_and(|n| n <= data.len())
            && i32::try_from(stride).is_ok()
            && i32::try_from(height).is_ok();
        if !fits {
            return Err(OcrError::Input(format!(
                "a {width}×{height} picture (stride {stride}) does not fit in {} bytes",
                data.len()
            )));
        }
        let h = self.handle.as_ptr();
        one_openmp_thread();
        // SAFETY: `data` holds `stride * height` bytes and outlives the recognition, which ends
        // (TessBaseAPIClear) before this function returns.
        unsafe {
            ffi::TessBaseAPISetImage(
                h,
                data.as_ptr(),
                width as i32,
                height as i32,
                1,
                stride as i32,
            );
            // Video frames carry no resolution; 70 ppi is what Tesseract assumes for screens.
            ffi::TessBaseAPISetSourceResolution(h, 70);
            if ffi::TessBaseAPIRecognize(h, std::ptr::null_mut()) != 0 {
                ffi::TessBaseAPIClear(h);
                return Err(OcrError::Input(
                    "Tesseract could not read the picture".to_owned(),
                ));
            }
        }
        let lines = self.collect_lines();
        // SAFETY: a live handle; drops the picture and the results.
        unsafe { ffi::TessBaseAPIClear(h) };
        Ok(lines)
    }

    /// The recognised words, grouped into lines (see [`Ocr::read_gray`]).
    fn collect_lines(&self) -> Vec<Line> {
        let mut lines: Vec<Line> = Vec::new();
        // SAFETY: the iterator belongs to the recognition just run; it is deleted below, and
        // every string it returns is freed with TessDeleteText after being copied.
        unsafe {
            let it = ffi::TessBaseAPIGetIterator(self.handle.as_ptr());
            if it.is_null() {
                return lines;
            }
            let page = ffi::TessResultIteratorGetPageIteratorConst(it);
            let mut current: Option<(Vec<String>, f32, [i32; 4])> = None;
            loop {
                if ffi::TessPageIteratorIsAtBeginningOf(page, ffi::RIL_TEXTLINE) != 0 {
                    if let Some(l) = current.take().and_then(finish_line) {
                        lines.push(l);
                    }
                    current = Some((Vec::new(), 0.0, [i32::MAX, i32::MAX, i32::MIN, i32::MIN]));
                }
                let text = ffi::TessResultIteratorGetUTF8Text(it, ffi::RIL_WORD);
                if !text.is_null() {
                    let word = CStr::from_ptr(text).to_string_lossy().trim().to_owned();
                    ffi::TessDeleteText(text);
                    let conf = ffi::TessResultIteratorConfidence(it, ffi::RIL_WORD);
                    let (mut l, mut t, mut r, mut b) = (0, 0, 0, 0);
                    let boxed = ffi::TessPageIteratorBoundingBox(
                        page,
                        ffi::RIL_WORD,
                        &mut l,
                        &mut t,
                        &mut r,
                        &mut b,
                    ) != 0;
                    let worth =
                        conf >= self.min_confidence && word.chars().any(char::is_alphanumeric);
                    if let (true, Some((words, sum, bbox))) = (worth, current.as_mut()) {
                        words.push(word);
                        *sum += conf;
                        if boxed {
                            *bbox = [
                                bbox[0].min(l),
                                bbox[1].min(t),
                                bbox[2].max(r),
                                bbox[3].max(b),
                            ];
                        }
                    }
                }
                if ffi::TessResultIteratorNext(it, ffi::RIL_WORD) == 0 {
                    break;
                }
            }
            if let Some(l) = current.take().and_then(finish_line) {
                lines.push(l);
            }
            ffi::TessResultIteratorDelete(it);
        }
        lines
    }
}

/// A line from its kept words (`None` when none was kept).
fn finish_line((words, sum, bbox): (Vec<String>, f32, [i32; 4])) -> Option<Line> {
    if words.is_empty() {
        return None;
    }
    Some(Line {
        confidence: sum / words.len() as f32,
        text: words.join(" "),
        bbox,
    })
}

/// Tesseract built with OpenMP (Debian's is) asks for up to 10 threads per recognizer loop,
/// and they spin while they wait: on a 2-core machine a terminal frame took 9× longer than on
/// one thread, mostly in the kernel. OpenMP's dynamic mode lets the runtime give no more
/// threads than the machine can run; its settings belong to the calling thread, so this runs
/// before every read. The functions are those of the OpenMP runtime libtesseract loaded,
/// found once at run time (nothing happens without one).
fn one_openmp_thread() {
    #[cfg(unix)]
    {
        use std::ffi::{c_int, c_void};
        use std::sync::OnceLock;
        type SetInt = extern "C" fn(c_int);
        static FUNCTIONS: OnceLock<Vec<(SetInt, c_int)>> = OnceLock::new();
        unsafe extern "C" {
            fn dlsym(handle: *mut c_void, symbol: *const std::ffi::c_char) -> *mut c_void;
        }
        let functions = FUNCTIONS.get_or_init(|| {
            #[cfg(target_os = "macos")]
            let default: *mut c_void = -2isize as *mut c_void;
            #[cfg(not(target_os = "macos"))]
            let default: *mut c_void = std::ptr::null_mut();
            [(c"omp_set_dynamic", 1), (c"omp_set_num_threads", 1)]
                .into_iter()
                .filter_map(|(name, value)| {
                    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name; the symbol,
                    // when found, is OpenMP's `void f(int)` of that name.
                    let f = unsafe { dlsym(default, name.as_ptr()) };
                    (!f.is_null()).then(|| {
                        // SAFETY: see above.
                        let set: SetInt = unsafe { std::mem::transmute::<*mut c_void, SetInt>(f) };
                        (set, value)
                    })
                })
                .collect()
        });
        for (set, value) in functions {
            set(*value);
        }
    }
}

impl Drop for Ocr {
    fn drop(&mut self) {
        // SAFETY: the handle is live and dropped once.
        unsafe {
            ffi::TessBaseAPIEnd(self.handle.as_ptr());
            ffi::TessBaseAPIDelete(self.handle.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests;
