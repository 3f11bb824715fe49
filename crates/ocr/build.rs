//! Links libtesseract (Debian: `libtesseract-dev`, which `scripts/deps.sh` installs), found with
//! pkg-config.

fn main() {
    if let Err(e) = pkg_config::Config::new()
        .atleast_version("4.1")
        .probe("tesseract")
    {
        panic!(
            "libtesseract was not found ({e}); install it: `scripts/deps.sh` (Debian/Ubuntu: \
             apt install libtesseract-dev tesseract-ocr-eng; macOS: brew install tesseract)"
        );
    }
}
