//! The part of Tesseract's C API (`tesseract/capi.h`, stable since 4.0) this crate calls.

use std::ffi::{c_char, c_float, c_int, c_uchar};

#[repr(C)]
pub struct TessBaseAPI {
    _private: [u8; 0],
}
#[repr(C)]
pub struct TessResultIterator {
    _private: [u8; 0],
}
#[repr(C)]
pub struct TessPageIterator {
    _private: [u8; 0],
}

/// `TessPageIteratorLevel`.
pub const RIL_TEXTLINE: c_int = 2;
pub const RIL_WORD: c_int = 3;
/// `TessPageSegMode::PSM_SPARSE_TEXT`: text anywhere on the picture, in no particular order.
pub const PSM_SPARSE_TEXT: c_int = 11;

pub type Bool = c_int;

unsafe extern "C" {
    pub fn TessVersion() -> *const c_char;
    pub fn TessDeleteText(text: *const c_char);
    pub fn TessBaseAPICreate() -> *mut TessBaseAPI;
    pub fn TessBaseAPIDelete(handle: *mut TessBaseAPI);
    pub fn TessBaseAPIEnd(handle: *mut TessBaseAPI);
    pub fn TessBaseAPISetVariable(
        handle: *mut TessBaseAPI,
        name: *const c_char,
        value: *const c_char,
    ) -> Bool;
    pub fn TessBaseAPIInit3(
        handle: *mut TessBaseAPI,
        datapath: *const c_char,
        language: *const c_char,
    ) -> c_int;
    pub fn TessBaseAPISetPageSegMode(handle: *mut TessBaseAPI, mode: c_int);
    pub fn TessBaseAPISetImage(
        handle: *mut TessBaseAPI,
        imagedata: *const c_uchar,
        width: c_int,
        height: c_int,
        bytes_per_pixel: c_int,
        bytes_per_line: c_int,
    );
    pub fn TessBaseAPISetSourceResolution(handle: *mut TessBaseAPI, ppi: c_int);
    pub fn TessBaseAPIRecognize(handle: *mut TessBaseAPI, monitor: *mut std::ffi::c_void) -> c_int;
    pub fn TessBaseAPIGetIterator(handle: *mut TessBaseAPI) -> *mut TessResultIterator;
    pub fn TessBaseAPIClear(handle: *mut TessBaseAPI);
    pub fn TessResultIteratorDelete(handle: *mut TessResultIterator);
    pub fn TessResultIteratorNext(handle: *mut TessResultIterator, level: c_int) -> Bool;
    pub fn TessResultIteratorGetUTF8Text(
        handle: *const TessResultIterator,
        level: c_int,
    ) -> *mut c_char;
    pub fn TessResultIteratorConfidence(handle: *const TessResultIterator, level: c_int)
        -> c_float;
    pub fn TessResultIteratorGetPageIteratorConst(
        handle: *const TessResultIterator,
    ) -> *const TessPageIterator;
    pub fn TessPageIteratorIsAtBeginningOf(handle: *const TessPageIterator, level: c_int) -> Bool;
    pub fn TessPageIteratorBoundingBox(
        handle: *const TessPageIterator,
        level: c_int,
        left: *mut c_int,
        top: *mut c_int,
        right: *mut c_int,
        bottom: *mut c_int,
    ) -> Bool;
}
