//! Routes xmlsec's and libxml2's error output into `tracing` (debug level)
//! instead of raw stderr, where it would interleave with structured logs.
//! A refused signature is already reported by the broker with its reason.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Once;

type XmlSecErrorsCallback = unsafe extern "C" fn(
    file: *const c_char,
    line: c_int,
    func: *const c_char,
    error_object: *const c_char,
    error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
);
type XmlStructuredErrorFunc = unsafe extern "C" fn(user_data: *mut c_void, error: *mut c_void);

extern "C" {
    fn xmlSecErrorsSetCallback(callback: Option<XmlSecErrorsCallback>);
    fn xmlSetStructuredErrorFunc(ctx: *mut c_void, handler: Option<XmlStructuredErrorFunc>);
}

fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: xmlsec passes NUL-terminated strings or null (checked above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

unsafe extern "C" fn xmlsec_error(
    _file: *const c_char,
    _line: c_int,
    func: *const c_char,
    _error_object: *const c_char,
    _error_subject: *const c_char,
    reason: c_int,
    msg: *const c_char,
) {
    tracing::debug!(target: "xmlsec", func = %text(func), reason, msg = %text(msg), "xmlsec");
}

unsafe extern "C" fn libxml_error(_ctx: *mut c_void, _error: *mut c_void) {
    tracing::debug!(target: "libxml2", "libxml2 reported an error while processing a document");
}

/// Install the callbacks. xmlsec's is process-wide; libxml2's structured
/// handler is per thread, so call this on every thread that verifies.
pub fn install() {
    static XMLSEC: Once = Once::new();
    XMLSEC.call_once(|| {
        // SAFETY: sets a global function pointer in libxmlsec1 to a function with
        // the exact signature xmlSecErrorsCallback has in xmlsec/errors.h.
        unsafe { xmlSecErrorsSetCallback(Some(xmlsec_error)) };
    });
    thread_local! {
        static LIBXML: () = {
            // SAFETY: sets libxml2's per-thread structured error handler to a
            // function with the xmlStructuredErrorFunc signature.
            unsafe { xmlSetStructuredErrorFunc(std::ptr::null_mut(), Some(libxml_error)) };
        };
    }
    LIBXML.with(|_| ());
}
