//! The C ABI of flagcore: Statsig-compatible gate, config, experiment and layer evaluation
//! for any language. The header is `include/flagcore.h`; its opening comment (from
//! `cbindgen.toml`) states the rules every function follows.
//!
//! Conventions (after rustls-ffi):
//! - Every function returns a [`flagcore_result`] code (or is a `_free` returning nothing)
//!   and runs inside a panic boundary: a Rust panic becomes `FLAGCORE_RESULT_PANIC`, never an
//!   abort of the host process.
//! - Handles are opaque, created by `_new`/`_start` functions, and tagged with their kind: a
//!   handle of another kind (or a freed one whose memory was not reused yet) gives
//!   `FLAGCORE_RESULT_INVALID_HANDLE`; `_free(NULL)` is a no-op.
//! - Strings are passed as `(pointer, length)` pairs of UTF-8 bytes, not NUL-terminated;
//!   invalid UTF-8 gives `FLAGCORE_RESULT_INVALID_UTF8`. A NULL pointer is accepted only with
//!   length 0; a length above `PTRDIFF_MAX` gives `FLAGCORE_RESULT_INVALID_ARGUMENT`.
//! - Outputs come last and are written only on success (the documented exceptions: the
//!   needed length of a too small buffer, and a load error's message).
//! - Thread safety: a `flagcore_store` may be used from many threads at once (no lock: the
//!   active ruleset sits behind an atomic pointer). A `flagcore_user` or
//!   `flagcore_evaluation` may be read from many threads at once, but must not be modified
//!   (user setters, `_free`) while another thread uses it.
//! - Fork: the core starts no threads and holds no locks, so a forked child keeps evaluating
//!   with the store it inherited; a source (feature `sync`) does not run in the child, says
//!   so (`FLAGCORE_RESULT_FORKED`) and can be restarted there.

#![allow(non_camel_case_types)] // C naming: flagcore_store, flagcore_result, …

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use flagcore::{Exposures, Kind, Options, Reason, Scratch, Store, UserData};
use serde_json::{Map, Value as Json};

/// Result codes of every fallible function. `flagcore_result_text` describes each.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_result {
    /// Success.
    FLAGCORE_RESULT_OK = 0,
    /// A required pointer argument was NULL (or a string pointer was NULL with a length
    /// other than 0).
    FLAGCORE_RESULT_NULL_PARAMETER = 1,
    /// A string argument was not valid UTF-8.
    FLAGCORE_RESULT_INVALID_UTF8 = 2,
    /// The caller's buffer is too small; the needed size was written where documented.
    FLAGCORE_RESULT_BUFFER_TOO_SMALL = 3,
    /// The payload was rejected; the current ruleset keeps serving.
    FLAGCORE_RESULT_LOAD_ERROR = 4,
    /// A JSON argument (a user, an override value) did not parse or is not an object.
    FLAGCORE_RESULT_INVALID_JSON = 5,
    /// The parameter does not exist or has another type.
    FLAGCORE_RESULT_NOT_FOUND = 6,
    /// An argument is out of range (an unknown kind, a length above `PTRDIFF_MAX`, an empty
    /// user id, …).
    FLAGCORE_RESULT_INVALID_ARGUMENT = 7,
    /// A bug in flagcore: a Rust panic was caught at the boundary.
    FLAGCORE_RESULT_PANIC = 8,
    /// A handle argument is not a live handle of the expected kind: a handle of another kind
    /// (a store where a user is expected), or one already freed. Detection of freed handles
    /// is best effort (it works until the allocator reuses the memory): never rely on it.
    FLAGCORE_RESULT_INVALID_HANDLE = 9,
    /// The source was started by another process, the parent of a `fork()`: it does not run
    /// in this one (the child has none of the parent's threads) and the store is no longer
    /// updated. Restart it with `flagcore_source_restart`, or free it.
    FLAGCORE_RESULT_FORKED = 10,
}

use flagcore_result::*;

/// A static, NUL-terminated English description of a result code (`"unknown result code"`
/// for values that are none). Never NULL; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn flagcore_result_text(code: u32) -> *const std::ffi::c_char {
    const TEXTS: [(flagcore_result, &std::ffi::CStr); 11] = [
        (FLAGCORE_RESULT_OK, c"ok"),
        (
            FLAGCORE_RESULT_NULL_PARAMETER,
            c"a required pointer argument was NULL",
        ),
        (
            FLAGCORE_RESULT_INVALID_UTF8,
            c"a string argument is not valid UTF-8",
        ),
        (
            FLAGCORE_RESULT_BUFFER_TOO_SMALL,
            c"the buffer is too small; the needed length was written",
        ),
        (
            FLAGCORE_RESULT_LOAD_ERROR,
            c"the payload was rejected; the current ruleset keeps serving",
        ),
        (
            FLAGCORE_RESULT_INVALID_JSON,
            c"a JSON argument did not parse or is not an object",
        ),
        (FLAGCORE_RESULT_NOT_FOUND, c"not found, or of another type"),
        (
            FLAGCORE_RESULT_INVALID_ARGUMENT,
            c"an argument is out of range",
        ),
        (
            FLAGCORE_RESULT_PANIC,
            c"a bug in flagcore: a panic was caught",
        ),
        (
            FLAGCORE_RESULT_INVALID_HANDLE,
            c"not a live handle of the expected kind (another kind, or freed)",
        ),
        (
            FLAGCORE_RESULT_FORKED,
            c"the source was started before a fork and does not run in this process; restart it",
        ),
    ];
    TEXTS
        .iter()
        .find(|(c, _)| *c as u32 == code)
        .map_or(c"unknown result code", |(_, text)| text)
        .as_ptr()
}

/// What is evaluated.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_kind {
    /// A feature gate.
    FLAGCORE_KIND_GATE = 0,
    /// A dynamic config.
    FLAGCORE_KIND_DYNAMIC_CONFIG = 1,
    /// An experiment.
    FLAGCORE_KIND_EXPERIMENT = 2,
    /// A layer.
    FLAGCORE_KIND_LAYER = 3,
}

/// Why an evaluation has its value.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_reason {
    /// The name was found and evaluated.
    FLAGCORE_REASON_RECOGNIZED = 0,
    /// No such name: the default value.
    FLAGCORE_REASON_UNRECOGNIZED = 1,
    /// An unsupported condition was reached (Statsig's shape of such results).
    FLAGCORE_REASON_UNSUPPORTED = 2,
    /// A local override decided.
    FLAGCORE_REASON_LOCAL_OVERRIDE = 3,
    /// No ruleset installed yet.
    FLAGCORE_REASON_NO_RULESET = 4,
    /// Evaluated; an IP-to-country lookup was needed and none is configured.
    FLAGCORE_REASON_COUNTRY_LOOKUP_NOT_LOADED = 5,
    /// Nested gates too deep (or a cycle): the default value.
    FLAGCORE_REASON_DEPTH_EXCEEDED = 6,
}

/// A borrowed UTF-8 string: `len` bytes at `data`, not NUL-terminated. Valid as long as the
/// handle it came from is alive and unmodified.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct flagcore_str {
    /// The bytes (never NULL; points to a static empty string when `len` is 0).
    pub data: *const u8,
    /// The length in bytes.
    pub len: usize,
}

impl flagcore_str {
    fn from(s: &str) -> flagcore_str {
        flagcore_str {
            data: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// The evaluation engine: the active ruleset, swapped atomically. Thread-safe. Created by
/// `flagcore_store_new` or `flagcore_store_new_with_exposures`, freed by
/// `flagcore_store_free`.
pub struct flagcore_store {
    _opaque: [u8; 0],
}

impl ptr::Handle for flagcore_store {
    type Data = Arc<Store>;
    const TAG: u64 = u64::from_le_bytes(*b"fcSTORE\0");
}

/// A user (Statsig's user model). Build it once, then read it from any number of threads.
/// Created by `flagcore_user_new` or `flagcore_user_from_json`, freed by `flagcore_user_free`.
pub struct flagcore_user {
    _opaque: [u8; 0],
}

impl ptr::Handle for flagcore_user {
    type Data = UserData;
    const TAG: u64 = u64::from_le_bytes(*b"fcUSER\0\0");
}

/// The full result of one evaluation. Owns a copy of its data: it may outlive the store
/// that made it (and the user), and strings borrowed from it stay valid until
/// `flagcore_evaluation_free`.
pub struct flagcore_evaluation {
    _opaque: [u8; 0],
}

impl ptr::Handle for flagcore_evaluation {
    type Data = EvaluationData;
    const TAG: u64 = u64::from_le_bytes(*b"fcEVAL\0\0");
}

/// What a `flagcore_evaluation` holds.
pub(crate) struct EvaluationData {
    kind: Kind,
    value: bool,
    json: Map<String, Json>,
    rule_id: String,
    group_name: Option<String>,
    allocated_experiment: Option<String>,
    reason: Reason,
    ruleset_time: u64,
    /// Secondary exposures: (gate, value, rule id).
    secondary: Vec<(String, bool, String)>,
    /// Undelegated secondary exposures, when Statsig reports them.
    undelegated: Option<Vec<(String, bool, String)>>,
}

/// An error and its causes, as one line: `what: why: …`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// Runs `f` inside the panic boundary.
fn boundary(f: impl FnOnce() -> flagcore_result) -> flagcore_result {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(FLAGCORE_RESULT_PANIC)
}

/// Returns early with an error code.
macro_rules! try_ffi {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(code) => return code,
        }
    };
}

/// Every conversion between C pointers and Rust references, in one place.
mod ptr {
    use super::flagcore_result::{self, *};

    /// A handle kind: the opaque C type `Self` stands for a [`Tagged`] `Data` on the heap.
    pub(crate) trait Handle {
        /// What the handle holds.
        type Data;
        /// The tag of a live handle of this kind (distinct per kind, never [`DEAD`]).
        const TAG: u64;
    }

    /// A handle's allocation: the kind's tag first (`repr(C)`: at offset 0 for every kind,
    /// so reading it through a pointer to another kind reads the same word), then the data.
    #[repr(C)]
    struct Tagged<D> {
        tag: u64,
        data: D,
    }

    /// The tag of a freed handle.
    const DEAD: u64 = 0;

    /// Moves `data` into a new tagged handle and writes it through `out` (checked first, so
    /// nothing leaks when `out` is NULL).
    ///
    /// # Safety
    /// `out` must be NULL or valid for writes.
    pub(crate) unsafe fn put_handle<H: Handle>(
        out: *mut *mut H,
        data: H::Data,
    ) -> Result<(), flagcore_result> {
        if out.is_null() {
            return Err(FLAGCORE_RESULT_NULL_PARAMETER);
        }
        let handle = Box::into_raw(Box::new(Tagged { tag: H::TAG, data })).cast::<H>();
        // SAFETY: non-null and writable by the caller's promise.
        unsafe { out.write(handle) };
        Ok(())
    }

    /// The allocation behind `p` when its tag says it is a live `H`.
    ///
    /// # Safety
    /// `p` must be NULL or a pointer returned as a flagcore handle (of any kind), possibly
    /// freed: a freed handle's memory is read (best effort detection, see
    /// `FLAGCORE_RESULT_INVALID_HANDLE`).
    unsafe fn tagged<H: Handle>(p: *const H) -> Result<*mut Tagged<H::Data>, flagcore_result> {
        if p.is_null() {
            return Err(FLAGCORE_RESULT_NULL_PARAMETER);
        }
        let t = p.cast::<Tagged<H::Data>>().cast_mut();
        if !t.is_aligned() {
            return Err(FLAGCORE_RESULT_INVALID_HANDLE);
        }
        // SAFETY: every handle allocation starts with its `u64` tag (`Tagged` is `repr(C)`)
        // and is aligned for it (checked above for this kind's alignment, at least a `u64`'s).
        // Volatile: the word may belong to another kind or to freed memory.
        let tag = unsafe { t.cast::<u64>().read_volatile() };
        if tag == H::TAG {
            Ok(t)
        } else {
            Err(FLAGCORE_RESULT_INVALID_HANDLE)
        }
    }

    /// The data of the live handle `p` of kind `H`.
    ///
    /// # Safety
    /// As for [`tagged`]; a live `p` must stay valid and unmodified for `'a`.
    pub(crate) unsafe fn handle<'a, H: Handle>(
        p: *const H,
    ) -> Result<&'a H::Data, flagcore_result> {
        // SAFETY: forwarded.
        let t = unsafe { tagged(p) }?;
        // SAFETY: a live handle of kind `H` (its tag says so), shared for `'a`.
        Ok(unsafe { &(*t).data })
    }

    /// The data of the live handle `p` of kind `H`, to modify.
    ///
    /// # Safety
    /// As for [`tagged`]; a live `p` must not be used by anyone else during `'a`.
    pub(crate) unsafe fn handle_mut<'a, H: Handle>(
        p: *mut H,
    ) -> Result<&'a mut H::Data, flagcore_result> {
        // SAFETY: forwarded.
        let t = unsafe { tagged(p.cast_const()) }?;
        // SAFETY: a live handle of kind `H`, exclusive for `'a` by the caller's promise.
        Ok(unsafe { &mut (*t).data })
    }

    /// Frees the live handle `p` of kind `H`, clearing its tag first; NULL, a handle of
    /// another kind or a freed one is ignored.
    ///
    /// # Safety
    /// As for [`tagged`]; nobody may use a live `p` any more.
    pub(crate) unsafe fn free_handle<H: Handle>(p: *mut H) {
        // SAFETY: forwarded.
        let Ok(t) = (unsafe { tagged(p.cast_const()) }) else {
            return;
        };
        // SAFETY: a live handle (checked), writable; volatile so that the store before the
        // deallocation is not optimised away.
        unsafe { std::ptr::addr_of_mut!((*t).tag).write_volatile(DEAD) };
        // SAFETY: created by `Box::into_raw` in `put_handle`, freed once (its tag is now DEAD).
        drop(unsafe { Box::from_raw(t) });
    }

    /// The bytes at `(ptr, len)`; NULL is accepted only with `len == 0`, and `len` must not
    /// exceed `isize::MAX` (`PTRDIFF_MAX`: no object is larger).
    ///
    /// # Safety
    /// `ptr` must be NULL or point to `len` readable bytes that stay valid for `'a`.
    pub(crate) unsafe fn bytes<'a>(
        ptr: *const u8,
        len: usize,
    ) -> Result<&'a [u8], flagcore_result> {
        if ptr.is_null() {
            return if len == 0 {
                Ok(&[])
            } else {
                Err(FLAGCORE_RESULT_NULL_PARAMETER)
            };
        }
        if isize::try_from(len).is_err() {
            return Err(FLAGCORE_RESULT_INVALID_ARGUMENT);
        }
        // SAFETY: non-null, `len <= isize::MAX` (checked), and the caller promises `len`
        // readable bytes.
        Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
    }

    /// The UTF-8 string at `(ptr, len)`.
    ///
    /// # Safety
    /// As for [`bytes`].
    pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize) -> Result<&'a str, flagcore_result> {
        // SAFETY: forwarded.
        let b = unsafe { bytes(ptr, len) }?;
        std::str::from_utf8(b).map_err(|_| FLAGCORE_RESULT_INVALID_UTF8)
    }

    /// # Safety
    /// `p` must be NULL or a valid pointer to `T` for `'a`.
    pub(crate) unsafe fn reference<'a, T>(p: *const T) -> Result<&'a T, flagcore_result> {
        // SAFETY: the caller promises `p` is NULL or valid.
        unsafe { p.as_ref() }.ok_or(FLAGCORE_RESULT_NULL_PARAMETER)
    }

    /// `FLAGCORE_RESULT_NULL_PARAMETER` unless every output pointer is non-null: checked
    /// before anything is written, so that outputs are written only on success.
    pub(crate) fn outputs(outs: &[*const ()]) -> Result<(), flagcore_result> {
        if outs.iter().any(|p| p.is_null()) {
            Err(FLAGCORE_RESULT_NULL_PARAMETER)
        } else {
            Ok(())
        }
    }

    /// Writes `value` through `out`.
    ///
    /// # Safety
    /// `out` must be NULL or valid for writes.
    pub(crate) unsafe fn put<T>(out: *mut T, value: T) -> Result<(), flagcore_result> {
        if out.is_null() {
            return Err(FLAGCORE_RESULT_NULL_PARAMETER);
        }
        // SAFETY: non-null and writable by the caller's promise.
        unsafe { out.write(value) };
        Ok(())
    }

    /// Copies `s` into the caller's buffer `(buf, cap)` and stores its length in `*len_out`
    /// (also when the buffer is too small, so a caller can retry with a large enough one;
    /// on any other error nothing is written).
    ///
    /// # Safety
    /// `buf` must be NULL (with `cap == 0`) or valid for `cap` bytes of writes; `len_out` valid.
    pub(crate) unsafe fn copy_out(
        s: &[u8],
        buf: *mut u8,
        cap: usize,
        len_out: *mut usize,
    ) -> flagcore_result {
        if len_out.is_null() || (buf.is_null() && cap > 0) {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        if isize::try_from(cap).is_err() {
            return FLAGCORE_RESULT_INVALID_ARGUMENT;
        }
        // SAFETY: non-null (checked) and writable by the caller's promise.
        unsafe { len_out.write(s.len()) };
        if s.len() > cap {
            return FLAGCORE_RESULT_BUFFER_TOO_SMALL;
        }
        if !s.is_empty() {
            // SAFETY: `buf` is non-null (`cap >= s.len() > 0`) and holds at least
            // `cap >= s.len()` writable bytes; the regions cannot overlap since `s` is owned
            // by this library.
            unsafe { std::ptr::copy_nonoverlapping(s.as_ptr(), buf, s.len()) };
        }
        FLAGCORE_RESULT_OK
    }

    /// The evaluation an exposure record points to.
    ///
    /// # Safety
    /// `p` must be NULL or the `evaluation` pointer of an exposure passed to a running
    /// callback.
    pub(crate) unsafe fn evaluation<'a>(
        p: *const std::ffi::c_void,
    ) -> Result<&'a flagcore::Evaluation<'a>, flagcore_result> {
        // SAFETY: the caller's promise: the evaluation is alive during the callback.
        unsafe { p.cast::<flagcore::Evaluation<'a>>().as_ref() }
            .ok_or(FLAGCORE_RESULT_NULL_PARAMETER)
    }

    /// The opaque pointer an exposure record carries.
    pub(crate) fn opaque(e: &flagcore::Evaluation<'_>) -> *const std::ffi::c_void {
        (e as *const flagcore::Evaluation<'_>).cast()
    }

    /// A pointer as the untyped address [`outputs`] checks.
    pub(crate) fn erased<T>(p: *mut T) -> *const () {
        p.cast_const().cast()
    }
}

use ptr::{
    bytes, copy_out, erased, free_handle, handle, handle_mut, outputs, put, put_handle, text,
};

/// The version of this library as a static NUL-terminated string.
#[unsafe(no_mangle)]
pub extern "C" fn flagcore_version() -> *const std::ffi::c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// A new store with `options` and the environment tier at `(environment, environment_len)`.
///
/// # Safety
/// As for `flagcore_store_new`.
unsafe fn new_store(
    environment: *const u8,
    environment_len: usize,
    options: Options,
    out: *mut *mut flagcore_store,
) -> flagcore_result {
    // SAFETY: the caller's promise.
    let tier = try_ffi!(unsafe { text(environment, environment_len) });
    let options = Options {
        environment: (!environment.is_null()).then(|| tier.to_owned()),
        ..options
    };
    // SAFETY: the caller's promise.
    try_ffi!(unsafe { put_handle(out, Arc::new(Store::with_options(options))) });
    FLAGCORE_RESULT_OK
}

/// Creates an empty store. `environment` is the environment tier, e.g. `production` (NULL
/// with length 0: none; an empty string is the tier named ""). Free it with
/// `flagcore_store_free`.
///
/// Results: `OK`; `NULL_PARAMETER` (`out`, or `environment` NULL with a length);
/// `INVALID_UTF8`; `INVALID_ARGUMENT` (length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `environment` must be NULL or point to `environment_len` bytes; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_new(
    environment: *const u8,
    environment_len: usize,
    out: *mut *mut flagcore_store,
) -> flagcore_result {
    // SAFETY: the caller's promises.
    boundary(|| unsafe { new_store(environment, environment_len, Options::default(), out) })
}

/// One exposure, handed to a `flagcore_exposure_callback`. Everything in it (and what
/// `flagcore_exposure_secondary` returns) is valid only during the callback: copy what you keep.
#[repr(C)]
pub struct flagcore_exposure {
    /// The kind evaluated (a `flagcore_kind` value).
    pub kind: u32,
    /// The gate, config, experiment or layer name.
    pub name: flagcore_str,
    /// The boolean value.
    pub value: bool,
    /// The rule id that decided.
    pub rule_id: flagcore_str,
    /// The experiment group (`len` 0 when none).
    pub group_name: flagcore_str,
    /// The user's `userID` when it is a string (`len` 0 otherwise).
    pub user_id: flagcore_str,
    /// The ruleset's time (`lcut`).
    pub ruleset_time: u64,
    /// How many secondary exposures `flagcore_exposure_secondary` can read.
    pub secondary_count: usize,
    /// Internal: the evaluation this exposure describes.
    evaluation: *const std::ffi::c_void,
}

/// Receives exposures, on the evaluating thread, right after each evaluation. Must not block
/// and must not unwind (no C++ exceptions, no longjmp) through flagcore.
///
/// It may call back into flagcore: evaluate (with the same store too: that logs and calls
/// the callback again, so stop the recursion yourself), load payloads, set overrides. It must
/// not free the store that is evaluating or the user being evaluated.
pub type flagcore_exposure_callback = Option<
    unsafe extern "C" fn(userdata: *mut std::ffi::c_void, exposure: *const flagcore_exposure),
>;

struct CallbackSink {
    callback: unsafe extern "C" fn(*mut std::ffi::c_void, *const flagcore_exposure),
    userdata: *mut std::ffi::c_void,
}

// SAFETY: `flagcore_store_new_with_exposures` documents that the callback may run on any
// thread at any time and that `userdata` must be usable from all of them.
unsafe impl Send for CallbackSink {}
// SAFETY: as above.
unsafe impl Sync for CallbackSink {}

const NO_STR: flagcore_str = flagcore_str {
    data: b"".as_ptr(),
    len: 0,
};

thread_local! {
    /// The exposure record of the innermost callback running on this thread (NULL when
    /// none): `flagcore_exposure_secondary` accepts only that one.
    static CURRENT_EXPOSURE: Cell<*const flagcore_exposure> =
        const { Cell::new(std::ptr::null()) };
}

impl flagcore::ExposureSink for CallbackSink {
    fn log(&self, exposure: &flagcore::Exposure<'_>) {
        let e = exposure.evaluation;
        let user_id = match exposure.user.user_id_value() {
            Some(flagcore::Value::Str(s)) => flagcore_str::from(s),
            Some(flagcore::Value::Json(Json::String(s))) => flagcore_str::from(s),
            _ => NO_STR,
        };
        let record = flagcore_exposure {
            kind: match e.kind() {
                Kind::Gate => flagcore_kind::FLAGCORE_KIND_GATE as u32,
                Kind::DynamicConfig => flagcore_kind::FLAGCORE_KIND_DYNAMIC_CONFIG as u32,
                Kind::Experiment => flagcore_kind::FLAGCORE_KIND_EXPERIMENT as u32,
                Kind::Layer => flagcore_kind::FLAGCORE_KIND_LAYER as u32,
            },
            name: flagcore_str::from(e.name()),
            value: e.value(),
            rule_id: flagcore_str::from(e.rule_id()),
            group_name: e.group_name().map_or(NO_STR, flagcore_str::from),
            user_id,
            ruleset_time: e.ruleset_time(),
            secondary_count: e.secondary_exposures().len(),
            evaluation: ptr::opaque(e),
        };
        let outer = CURRENT_EXPOSURE.with(|c| c.replace(&record));
        // SAFETY: the callback was supplied by the caller for this purpose; `record` and
        // what it points to live until the call returns.
        unsafe { (self.callback)(self.userdata, &record) };
        CURRENT_EXPOSURE.with(|c| c.set(outer));
    }
}

/// Creates an empty store that reports every logged evaluation (`flagcore_store_evaluate`
/// and `flagcore_store_check_gate`) to `callback` with `userdata`. The callback runs on the
/// evaluating threads, so `userdata` must be safe to use from all of them; see
/// `flagcore_exposure_callback` for what it may do.
///
/// Results: as for `flagcore_store_new`; `NULL_PARAMETER` also for a NULL `callback`.
///
/// # Safety
/// As for `flagcore_store_new`; `callback` must stay callable while the store lives.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_new_with_exposures(
    environment: *const u8,
    environment_len: usize,
    callback: flagcore_exposure_callback,
    userdata: *mut std::ffi::c_void,
    out: *mut *mut flagcore_store,
) -> flagcore_result {
    boundary(|| {
        let Some(callback) = callback else {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        };
        let options = Options {
            exposure_sink: Some(Arc::new(CallbackSink { callback, userdata })),
            ..Options::default()
        };
        // SAFETY: the caller's promises.
        unsafe { new_store(environment, environment_len, options, out) }
    })
}

/// Secondary exposure `index` (a gate checked on the way) of an exposure, during the callback.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE` (`exposure` is not the record passed
/// to the innermost callback running on this thread, e.g. a copy or one whose callback
/// returned); `NOT_FOUND` (`index >= secondary_count`); `PANIC`.
///
/// # Safety
/// `exposure` must be NULL or the pointer passed to a callback; the outputs writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_exposure_secondary(
    exposure: *const flagcore_exposure,
    index: usize,
    gate: *mut flagcore_str,
    gate_value: *mut bool,
    rule_id: *mut flagcore_str,
) -> flagcore_result {
    boundary(|| {
        if exposure.is_null() {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        if CURRENT_EXPOSURE.with(Cell::get) != exposure {
            return FLAGCORE_RESULT_INVALID_HANDLE;
        }
        try_ffi!(outputs(&[
            erased(gate),
            erased(gate_value),
            erased(rule_id)
        ]));
        // SAFETY: the record of the running callback (checked above), alive until it returns.
        let x = try_ffi!(unsafe { ptr::reference(exposure) });
        // SAFETY: set by `CallbackSink::log` to the evaluation alive during the callback.
        let e = try_ffi!(unsafe { ptr::evaluation(x.evaluation) });
        let Some(s) = e.secondary_exposures().get(index) else {
            return FLAGCORE_RESULT_NOT_FOUND;
        };
        // SAFETY: the outputs are non-null (checked) and writable by the caller's promise.
        unsafe {
            gate.write(flagcore_str::from(s.gate));
            gate_value.write(s.gate_value);
            rule_id.write(flagcore_str::from(s.rule_id));
        }
        FLAGCORE_RESULT_OK
    })
}

/// Frees a store. NULL is a no-op, and so is a pointer that is not a live store (best
/// effort, see `FLAGCORE_RESULT_INVALID_HANDLE`). No other thread may be using it, and no
/// exposure callback of it may be running. Evaluations made with it stay valid; a source
/// feeding it keeps its own reference (free the source to stop it).
///
/// # Safety
/// `store` must be NULL or a pointer from `flagcore_store_new*`, not used by anyone else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_free(store: *mut flagcore_store) {
    let _ = boundary(|| {
        // SAFETY: the caller's promise.
        unsafe { free_handle(store) };
        FLAGCORE_RESULT_OK
    });
}

/// Parses a `download_config_specs` payload and installs it. On error nothing changes (the
/// current ruleset keeps serving) and a message saying where the payload is wrong is copied to
/// `error` (`error_cap` bytes, may be NULL with cap 0; `*error_len` receives the message length,
/// which may exceed `error_cap`: the message is then cut). The message is not NUL-terminated.
/// On success `*error_len` is set to 0. Readers are never blocked.
///
/// Results: `OK`; `LOAD_ERROR` (the message is written); `NULL_PARAMETER`;
/// `INVALID_HANDLE`; `INVALID_ARGUMENT` (a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `store` valid; `json` points to `json_len` bytes; `error` NULL or writable for `error_cap`
/// bytes; `error_len` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_load_json(
    store: *const flagcore_store,
    json: *const u8,
    json_len: usize,
    error: *mut u8,
    error_cap: usize,
    error_len: *mut usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let store = try_ffi!(unsafe { handle(store) });
        // SAFETY: the caller's promises.
        let payload = try_ffi!(unsafe { bytes(json, json_len) });
        if isize::try_from(error_cap).is_err() {
            return FLAGCORE_RESULT_INVALID_ARGUMENT;
        }
        match store.load_json(payload) {
            Ok(_) => {
                if !error_len.is_null() {
                    // SAFETY: non-null and writable by the caller's promise.
                    unsafe { error_len.write(0) };
                }
                FLAGCORE_RESULT_OK
            }
            Err(e) => {
                let message = error_chain(&e);
                if !error_len.is_null() {
                    // SAFETY: non-null and writable by the caller's promise.
                    unsafe { error_len.write(message.len()) };
                }
                if !error.is_null() && error_cap > 0 {
                    let n = message.len().min(error_cap);
                    // SAFETY: `error` is writable for `error_cap >= n` bytes.
                    unsafe { std::ptr::copy_nonoverlapping(message.as_ptr(), error, n) };
                }
                FLAGCORE_RESULT_LOAD_ERROR
            }
        }
    })
}

/// The `time` of the active ruleset (0 when none) in `*out`.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `PANIC`.
///
/// # Safety
/// `store` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_ruleset_time(
    store: *const flagcore_store,
    out: *mut u64,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        let store = try_ffi!(unsafe { handle(store) });
        let time = store.ruleset().map_or(0, |r| r.time());
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, time) });
        FLAGCORE_RESULT_OK
    })
}

/// Creates an empty user. Free it with `flagcore_user_free`.
///
/// Results: `OK`; `NULL_PARAMETER`; `PANIC`.
///
/// # Safety
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_new(out: *mut *mut flagcore_user) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put_handle(out, UserData::default()) });
        FLAGCORE_RESULT_OK
    })
}

/// Creates a user from Statsig's user JSON, an object (`{"userID": …, "email": …,
/// "custom": {…}, …}`); anything else (an array, a string, …) is `INVALID_JSON`. Free it
/// with `flagcore_user_free`.
///
/// Results: `OK`; `INVALID_JSON`; `NULL_PARAMETER`; `INVALID_ARGUMENT` (a length above
/// `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `json` points to `json_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_from_json(
    json: *const u8,
    json_len: usize,
    out: *mut *mut flagcore_user,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        let b = try_ffi!(unsafe { bytes(json, json_len) });
        if out.is_null() {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        let Ok(data) = UserData::from_json(b) else {
            return FLAGCORE_RESULT_INVALID_JSON;
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put_handle(out, data) });
        FLAGCORE_RESULT_OK
    })
}

/// Frees a user. NULL is a no-op, and so is a pointer that is not a live user (best effort,
/// see `FLAGCORE_RESULT_INVALID_HANDLE`).
///
/// # Safety
/// `user` NULL or from `flagcore_user_new`/`flagcore_user_from_json`, not used by anyone else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_free(user: *mut flagcore_user) {
    let _ = boundary(|| {
        // SAFETY: the caller's promise.
        unsafe { free_handle(user) };
        FLAGCORE_RESULT_OK
    });
}

/// A standard user field.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_user_field {
    /// `userID`.
    FLAGCORE_USER_FIELD_USER_ID = 0,
    /// `email`.
    FLAGCORE_USER_FIELD_EMAIL = 1,
    /// `ip`.
    FLAGCORE_USER_FIELD_IP = 2,
    /// `userAgent`.
    FLAGCORE_USER_FIELD_USER_AGENT = 3,
    /// `country`.
    FLAGCORE_USER_FIELD_COUNTRY = 4,
    /// `locale`.
    FLAGCORE_USER_FIELD_LOCALE = 5,
    /// `appVersion`.
    FLAGCORE_USER_FIELD_APP_VERSION = 6,
}

/// Sets a standard field to a string.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (an unknown
/// field, a length above `PTRDIFF_MAX`); `PANIC`. On error the user is unchanged.
///
/// # Safety
/// `user` valid and not used by another thread; `value` points to `value_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_set_field(
    user: *mut flagcore_user,
    field: u32,
    value: *const u8,
    value_len: usize,
) -> flagcore_result {
    use flagcore_user_field::*;
    boundary(|| {
        // SAFETY: the caller's promises.
        let user = try_ffi!(unsafe { handle_mut(user) });
        // SAFETY: the caller's promise.
        let v = Json::String(try_ffi!(unsafe { text(value, value_len) }).to_owned());
        let d = user;
        let slot = match field {
            f if f == FLAGCORE_USER_FIELD_USER_ID as u32 => &mut d.user_id,
            f if f == FLAGCORE_USER_FIELD_EMAIL as u32 => &mut d.email,
            f if f == FLAGCORE_USER_FIELD_IP as u32 => &mut d.ip,
            f if f == FLAGCORE_USER_FIELD_USER_AGENT as u32 => &mut d.user_agent,
            f if f == FLAGCORE_USER_FIELD_COUNTRY as u32 => &mut d.country,
            f if f == FLAGCORE_USER_FIELD_LOCALE as u32 => &mut d.locale,
            f if f == FLAGCORE_USER_FIELD_APP_VERSION as u32 => &mut d.app_version,
            _ => return FLAGCORE_RESULT_INVALID_ARGUMENT,
        };
        *slot = v;
        FLAGCORE_RESULT_OK
    })
}

/// Which attribute map a key/value setter writes to.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_attributes {
    /// `custom`.
    FLAGCORE_ATTRIBUTES_CUSTOM = 0,
    /// `privateAttributes` (used for evaluation, never logged).
    FLAGCORE_ATTRIBUTES_PRIVATE = 1,
    /// `customIDs` (unit ids such as `stableID`, `companyID`).
    FLAGCORE_ATTRIBUTES_CUSTOM_IDS = 2,
    /// `statsigEnvironment` (e.g. `tier`).
    FLAGCORE_ATTRIBUTES_ENVIRONMENT = 3,
}

/// # Safety
/// As for the setters below.
unsafe fn set_attribute(
    user: *mut flagcore_user,
    which: u32,
    key: *const u8,
    key_len: usize,
    value: Json,
) -> flagcore_result {
    use flagcore_attributes::*;
    // SAFETY: the caller's promises.
    let user = try_ffi!(unsafe { handle_mut(user) });
    // SAFETY: the caller's promise.
    let key = try_ffi!(unsafe { text(key, key_len) }).to_owned();
    let d = user;
    let map = match which {
        w if w == FLAGCORE_ATTRIBUTES_CUSTOM as u32 => &mut d.custom,
        w if w == FLAGCORE_ATTRIBUTES_PRIVATE as u32 => &mut d.private_attributes,
        w if w == FLAGCORE_ATTRIBUTES_CUSTOM_IDS as u32 => &mut d.custom_ids,
        w if w == FLAGCORE_ATTRIBUTES_ENVIRONMENT as u32 => &mut d.statsig_environment,
        _ => return FLAGCORE_RESULT_INVALID_ARGUMENT,
    };
    map.get_or_insert_with(Map::new).insert(key, value);
    FLAGCORE_RESULT_OK
}

/// Sets a string attribute (custom, private, custom id or environment).
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (an unknown
/// map, a length above `PTRDIFF_MAX`); `PANIC`. On error the user is unchanged.
///
/// # Safety
/// `user` valid and not used by another thread; `key`/`value` point to their lengths in bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_set_string(
    user: *mut flagcore_user,
    which: u32,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        let v = try_ffi!(unsafe { text(value, value_len) }).to_owned();
        // SAFETY: forwarded.
        unsafe { set_attribute(user, which, key, key_len, Json::String(v)) }
    })
}

/// Sets a number attribute. Non-finite numbers are rejected.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (an unknown
/// map, a non-finite number, a length above `PTRDIFF_MAX`); `PANIC`. On error the user is
/// unchanged.
///
/// # Safety
/// `user` valid and not used by another thread; `key` points to `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_set_number(
    user: *mut flagcore_user,
    which: u32,
    key: *const u8,
    key_len: usize,
    value: f64,
) -> flagcore_result {
    boundary(|| {
        let Some(n) = serde_json::Number::from_f64(value) else {
            return FLAGCORE_RESULT_INVALID_ARGUMENT;
        };
        // SAFETY: forwarded.
        unsafe { set_attribute(user, which, key, key_len, Json::Number(n)) }
    })
}

/// Sets a boolean attribute.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (an unknown
/// map, a length above `PTRDIFF_MAX`); `PANIC`. On error the user is unchanged.
///
/// # Safety
/// `user` valid and not used by another thread; `key` points to `key_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_user_set_bool(
    user: *mut flagcore_user,
    which: u32,
    key: *const u8,
    key_len: usize,
    value: bool,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: forwarded.
        unsafe { set_attribute(user, which, key, key_len, Json::Bool(value)) }
    })
}

/// Checks a gate: `*out` is its value. No heap allocation; no JSON. An unknown gate is
/// `false` with `FLAGCORE_RESULT_OK`.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (a length
/// above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `store`, `user` valid; `name` points to `name_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_check_gate(
    store: *const flagcore_store,
    user: *const flagcore_user,
    name: *const u8,
    name_len: usize,
    out: *mut bool,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let store = try_ffi!(unsafe { handle(store) });
        // SAFETY: the caller's promises.
        let user = try_ffi!(unsafe { handle(user) });
        // SAFETY: the caller's promise.
        let name = try_ffi!(unsafe { text(name, name_len) });
        let value = store.check_gate(&user.view(), name);
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, value) });
        FLAGCORE_RESULT_OK
    })
}

/// The kind a `flagcore_kind` value names.
fn kind_of(kind: u32) -> Option<Kind> {
    use flagcore_kind::*;
    [
        (FLAGCORE_KIND_GATE, Kind::Gate),
        (FLAGCORE_KIND_DYNAMIC_CONFIG, Kind::DynamicConfig),
        (FLAGCORE_KIND_EXPERIMENT, Kind::Experiment),
        (FLAGCORE_KIND_LAYER, Kind::Layer),
    ]
    .into_iter()
    .find(|(k, _)| *k as u32 == kind)
    .map(|(_, k)| k)
}

fn exposures(list: flagcore::SecondaryExposures<'_>) -> Vec<(String, bool, String)> {
    list.iter()
        .map(|e| (e.gate.to_owned(), e.gate_value, e.rule_id.to_owned()))
        .collect()
}

/// Evaluates a gate, dynamic config, experiment or layer with all details into a new
/// `flagcore_evaluation` (free it with `flagcore_evaluation_free`). This copies the result
/// out of the ruleset (it allocates); use `flagcore_store_check_gate` on hot paths.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT` (an unknown
/// kind, a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `store`, `user` valid; `name` points to `name_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_evaluate(
    store: *const flagcore_store,
    user: *const flagcore_user,
    kind: u32,
    name: *const u8,
    name_len: usize,
    out: *mut *mut flagcore_evaluation,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let store = try_ffi!(unsafe { handle(store) });
        // SAFETY: the caller's promises.
        let user = try_ffi!(unsafe { handle(user) });
        // SAFETY: the caller's promise.
        let name = try_ffi!(unsafe { text(name, name_len) });
        if out.is_null() {
            return FLAGCORE_RESULT_NULL_PARAMETER;
        }
        let Some(kind) = kind_of(kind) else {
            return FLAGCORE_RESULT_INVALID_ARGUMENT;
        };
        let snapshot = store.snapshot();
        let mut scratch = Scratch::new();
        let view = user.view();
        let e = snapshot.evaluate(&mut scratch, &view, kind, name, Exposures::Log);
        let result = EvaluationData {
            kind,
            value: e.value(),
            json: e.json().to_map(),
            rule_id: e.rule_id().to_owned(),
            group_name: e.group_name().map(str::to_owned),
            allocated_experiment: e.allocated_experiment().map(str::to_owned),
            reason: e.reason(),
            ruleset_time: e.ruleset_time(),
            secondary: exposures(e.secondary_exposures()),
            undelegated: e.undelegated_secondary_exposures().map(exposures),
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put_handle(out, result) });
        FLAGCORE_RESULT_OK
    })
}

/// Frees an evaluation. NULL is a no-op, and so is a pointer that is not a live evaluation
/// (best effort, see `FLAGCORE_RESULT_INVALID_HANDLE`).
///
/// # Safety
/// `evaluation` NULL or from `flagcore_store_evaluate`, not used by anyone else.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_free(evaluation: *mut flagcore_evaluation) {
    let _ = boundary(|| {
        // SAFETY: the caller's promise.
        unsafe { free_handle(evaluation) };
        FLAGCORE_RESULT_OK
    });
}

/// The boolean value (a gate's value; for configs whether a rule passed).
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `PANIC`.
///
/// # Safety
/// `evaluation` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_value(
    evaluation: *const flagcore_evaluation,
    out: *mut bool,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, e.value) });
        FLAGCORE_RESULT_OK
    })
}

/// Which string of an evaluation to read.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum flagcore_evaluation_text {
    /// The rule id (`default`, `disabled`, or empty when none).
    FLAGCORE_EVALUATION_RULE_ID = 0,
    /// The experiment group name (`FLAGCORE_RESULT_NOT_FOUND` when none).
    FLAGCORE_EVALUATION_GROUP_NAME = 1,
    /// A layer's allocated experiment (`FLAGCORE_RESULT_NOT_FOUND` when none).
    FLAGCORE_EVALUATION_ALLOCATED_EXPERIMENT = 2,
}

/// A string of the evaluation, borrowed: valid until `flagcore_evaluation_free`.
///
/// Results: `OK`; `NOT_FOUND`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_ARGUMENT` (an unknown
/// `which`); `PANIC`.
///
/// # Safety
/// `evaluation` valid; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_string(
    evaluation: *const flagcore_evaluation,
    which: u32,
    out: *mut flagcore_str,
) -> flagcore_result {
    use flagcore_evaluation_text::*;
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        let s = match which {
            w if w == FLAGCORE_EVALUATION_RULE_ID as u32 => Some(e.rule_id.as_str()),
            w if w == FLAGCORE_EVALUATION_GROUP_NAME as u32 => e.group_name.as_deref(),
            w if w == FLAGCORE_EVALUATION_ALLOCATED_EXPERIMENT as u32 => {
                e.allocated_experiment.as_deref()
            }
            _ => return FLAGCORE_RESULT_INVALID_ARGUMENT,
        };
        let Some(s) = s else {
            return FLAGCORE_RESULT_NOT_FOUND;
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, flagcore_str::from(s)) });
        FLAGCORE_RESULT_OK
    })
}

/// Why the evaluation has its value, and the ruleset's time.
///
/// Results: `OK`; `NULL_PARAMETER` (nothing is written then); `INVALID_HANDLE`; `PANIC`.
///
/// # Safety
/// `evaluation` valid; `reason` and `ruleset_time` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_details(
    evaluation: *const flagcore_evaluation,
    reason: *mut flagcore_reason,
    ruleset_time: *mut u64,
) -> flagcore_result {
    use flagcore_reason::*;
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        try_ffi!(outputs(&[erased(reason), erased(ruleset_time)]));
        let r = match e.reason {
            Reason::Recognized => FLAGCORE_REASON_RECOGNIZED,
            Reason::Unrecognized => FLAGCORE_REASON_UNRECOGNIZED,
            Reason::Unsupported => FLAGCORE_REASON_UNSUPPORTED,
            Reason::LocalOverride => FLAGCORE_REASON_LOCAL_OVERRIDE,
            Reason::NoRuleset => FLAGCORE_REASON_NO_RULESET,
            Reason::CountryLookupNotLoaded => FLAGCORE_REASON_COUNTRY_LOOKUP_NOT_LOADED,
            _ => FLAGCORE_REASON_DEPTH_EXCEEDED,
        };
        // SAFETY: both non-null (checked) and writable by the caller's promise.
        unsafe {
            reason.write(r);
            ruleset_time.write(e.ruleset_time);
        }
        FLAGCORE_RESULT_OK
    })
}

/// A parameter of the value that is a string (borrowed until `flagcore_evaluation_free`).
/// `FLAGCORE_RESULT_NOT_FOUND` when absent or not a string.
///
/// Results: `OK`; `NOT_FOUND`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`;
/// `INVALID_ARGUMENT` (a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `evaluation` valid; `key` points to `key_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_get_string(
    evaluation: *const flagcore_evaluation,
    key: *const u8,
    key_len: usize,
    out: *mut flagcore_str,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        // SAFETY: the caller's promise.
        let key = try_ffi!(unsafe { text(key, key_len) });
        let Some(Json::String(s)) = e.json.get(key) else {
            return FLAGCORE_RESULT_NOT_FOUND;
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, flagcore_str::from(s)) });
        FLAGCORE_RESULT_OK
    })
}

/// A parameter of the value that is a number. `FLAGCORE_RESULT_NOT_FOUND` when absent or not
/// a number.
///
/// Results: `OK`; `NOT_FOUND`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`;
/// `INVALID_ARGUMENT` (a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `evaluation` valid; `key` points to `key_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_get_number(
    evaluation: *const flagcore_evaluation,
    key: *const u8,
    key_len: usize,
    out: *mut f64,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        // SAFETY: the caller's promise.
        let key = try_ffi!(unsafe { text(key, key_len) });
        let Some(n) = e.json.get(key).and_then(Json::as_f64) else {
            return FLAGCORE_RESULT_NOT_FOUND;
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, n) });
        FLAGCORE_RESULT_OK
    })
}

/// A parameter of the value that is a boolean. `FLAGCORE_RESULT_NOT_FOUND` when absent or
/// not a boolean.
///
/// Results: `OK`; `NOT_FOUND`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`;
/// `INVALID_ARGUMENT` (a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `evaluation` valid; `key` points to `key_len` bytes; `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_get_bool(
    evaluation: *const flagcore_evaluation,
    key: *const u8,
    key_len: usize,
    out: *mut bool,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        // SAFETY: the caller's promise.
        let key = try_ffi!(unsafe { text(key, key_len) });
        let Some(b) = e.json.get(key).and_then(Json::as_bool) else {
            return FLAGCORE_RESULT_NOT_FOUND;
        };
        // SAFETY: the caller's promise.
        try_ffi!(unsafe { put(out, b) });
        FLAGCORE_RESULT_OK
    })
}

/// The whole value as JSON text (an object; `{}` for gates), copied into `buf` (`cap`
/// bytes, not NUL-terminated). `*len` receives the needed length; when it exceeds `cap` the
/// result is `FLAGCORE_RESULT_BUFFER_TOO_SMALL` and nothing is copied.
///
/// Results: `OK`; `BUFFER_TOO_SMALL` (`*len` is written, nothing else); `NULL_PARAMETER` (`len`, or
/// `buf` NULL with a `cap`: nothing is written); `INVALID_HANDLE`; `INVALID_ARGUMENT`
/// (`cap` above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `evaluation` valid; `buf` NULL (cap 0) or writable for `cap` bytes; `len` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_json(
    evaluation: *const flagcore_evaluation,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        let text = serde_json::to_vec(&e.json).unwrap_or_else(|_| b"{}".to_vec());
        // SAFETY: the caller's promises.
        unsafe { copy_out(&text, buf, cap, len) }
    })
}

/// The evaluation in the conformance result format of Statsig's official core (value,
/// rule id, group, secondary and undelegated exposures, allocated experiment) as JSON text,
/// for debugging and cross-checking. Buffer handling as in `flagcore_evaluation_json`.
///
/// Results: as for `flagcore_evaluation_json`.
///
/// # Safety
/// As for `flagcore_evaluation_json`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_evaluation_record_json(
    evaluation: *const flagcore_evaluation,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let e = try_ffi!(unsafe { handle(evaluation) });
        let list = |l: &[(String, bool, String)]| -> Json {
            l.iter()
                .map(|(g, v, r)| serde_json::json!({"gate": g, "gateValue": v.to_string(), "ruleID": r}))
                .collect()
        };
        let value = match e.kind {
            Kind::Gate => Json::Bool(e.value),
            _ => Json::Object(e.json.clone()),
        };
        let record = serde_json::json!({
            "value": value,
            "rule_id": e.rule_id,
            "group_name": e.group_name,
            "secondary_exposures": list(&e.secondary),
            "undelegated_secondary_exposures": e.undelegated.as_deref().map(list),
            "allocated_experiment": e.allocated_experiment,
        });
        let text = serde_json::to_vec(&record).unwrap_or_default();
        // SAFETY: the caller's promises.
        unsafe { copy_out(&text, buf, cap, len) }
    })
}

/// Which users an override is for: everyone for a NULL `user_id`, else one user id; an
/// empty id is rejected (a C caller passing `""` most likely means everyone).
fn override_user(user_id: *const u8, id: &str) -> Result<Option<&str>, flagcore_result> {
    match (user_id.is_null(), id) {
        (true, _) => Ok(None),
        (false, "") => Err(FLAGCORE_RESULT_INVALID_ARGUMENT),
        (false, id) => Ok(Some(id)),
    }
}

/// Forces a gate's value for everyone (`user_id` NULL with length 0) or for one id (the
/// users whose `userID` or any custom ID is that id; an empty id, `""`, is
/// `INVALID_ARGUMENT`: pass NULL for everyone). A `userID` override wins over a custom ID's,
/// which wins over an everyone override (Statsig's order).
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_ARGUMENT`
/// (an empty user id, a length above `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `store` valid; `name`/`user_id` point to their lengths in bytes (or NULL with 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_override_gate(
    store: *const flagcore_store,
    name: *const u8,
    name_len: usize,
    value: bool,
    user_id: *const u8,
    user_id_len: usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let store = try_ffi!(unsafe { handle(store) });
        // SAFETY: the caller's promise.
        let name = try_ffi!(unsafe { text(name, name_len) });
        // SAFETY: the caller's promise.
        let id = try_ffi!(unsafe { text(user_id, user_id_len) });
        let id = try_ffi!(override_user(user_id, id));
        store.override_gate(name, value, id);
        FLAGCORE_RESULT_OK
    })
}

/// Forces the value (a JSON object) of a dynamic config (`kind` 1), an experiment (`kind` 2;
/// experiments and dynamic configs have separate overrides, as in Statsig) or a layer
/// (`kind` 3), for everyone (`user_id` NULL) or one id (not empty), as
/// `flagcore_store_override_gate`.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `INVALID_UTF8`; `INVALID_JSON` (not a
/// JSON object); `INVALID_ARGUMENT` (another kind, an empty user id, a length above
/// `PTRDIFF_MAX`); `PANIC`.
///
/// # Safety
/// `store` valid; byte arguments point to their lengths (or NULL with 0 for `user_id`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_override_value(
    store: *const flagcore_store,
    kind: u32,
    name: *const u8,
    name_len: usize,
    json: *const u8,
    json_len: usize,
    user_id: *const u8,
    user_id_len: usize,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promises.
        let store = try_ffi!(unsafe { handle(store) });
        // SAFETY: the caller's promise.
        let name = try_ffi!(unsafe { text(name, name_len) });
        // SAFETY: the caller's promise.
        let value = try_ffi!(unsafe { bytes(json, json_len) });
        let Ok(Json::Object(value)) = serde_json::from_slice::<Json>(value) else {
            return FLAGCORE_RESULT_INVALID_JSON;
        };
        // SAFETY: the caller's promise.
        let id = try_ffi!(unsafe { text(user_id, user_id_len) });
        let id = try_ffi!(override_user(user_id, id));
        match kind_of(kind) {
            Some(Kind::DynamicConfig) => store.override_config(name, value, id),
            Some(Kind::Experiment) => store.override_experiment(name, value, id),
            Some(Kind::Layer) => store.override_layer(name, value, id),
            _ => return FLAGCORE_RESULT_INVALID_ARGUMENT,
        }
        FLAGCORE_RESULT_OK
    })
}

/// Removes every local override.
///
/// Results: `OK`; `NULL_PARAMETER`; `INVALID_HANDLE`; `PANIC`.
///
/// # Safety
/// `store` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn flagcore_store_clear_overrides(
    store: *const flagcore_store,
) -> flagcore_result {
    boundary(|| {
        // SAFETY: the caller's promise.
        let store = try_ffi!(unsafe { handle(store) });
        store.clear_overrides();
        FLAGCORE_RESULT_OK
    })
}

#[cfg(feature = "sync")]
mod sync;
#[cfg(feature = "sync")]
pub use sync::*;

// The store is shared across threads; the user and evaluation are read-only once built.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<<flagcore_store as ptr::Handle>::Data>();
    assert_send_sync::<<flagcore_user as ptr::Handle>::Data>();
    assert_send_sync::<<flagcore_evaluation as ptr::Handle>::Data>();
};
