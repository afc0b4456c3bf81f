//! The C ABI entry points driven by arbitrary calls: NULLs, invalid UTF-8, odd lengths,
//! small buffers, unknown enum values and arbitrary JSON, in any order. Every call must
//! return a result code (never crash or report a panic) and leak nothing.
#![no_main]
#![allow(unsafe_code)] // The C ABI is called as C would call it.

/// The FFI crate's source, compiled into this binary with coverage instrumentation (the
/// crate itself is a staticlib/cdylib, which a Rust crate cannot depend on).
#[path = "../../flagcore-ffi/src/lib.rs"]
#[allow(dead_code, unexpected_cfgs, missing_docs, unreachable_pub)]
mod ffi;

use ffi::*;
use libfuzzer_sys::fuzz_target;

const DEMO: &[u8] = include_bytes!("../../examples/data/demo.json");

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let mut take = |n: usize| -> &[u8] {
        let n = n.min(input.len());
        let (head, tail) = input.split_at(n);
        input = tail;
        head
    };
    let mut store = std::ptr::null_mut();
    let mut user = std::ptr::null_mut();
    // SAFETY: every pointer below is NULL, valid for its length, or a live handle; the point
    // is to exercise the library's own checks with hostile values.
    unsafe {
        assert_eq!(
            flagcore_store_new(std::ptr::null(), 0, &mut store),
            flagcore_result::FLAGCORE_RESULT_OK
        );
        let _ = flagcore_store_load_json(
            store,
            DEMO.as_ptr(),
            DEMO.len(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
        );
        let _ = flagcore_user_new(&mut user);
        let mut ev = std::ptr::null_mut();
        loop {
            let Some(&op) = take(1).first() else { break };
            let len = usize::from(take(1).first().copied().unwrap_or(0));
            let arg = take(len);
            let code = u32::from(op >> 4);
            let result = match op % 12 {
                0 => {
                    let mut err = [0u8; 16];
                    let mut n = 0;
                    flagcore_store_load_json(
                        store,
                        arg.as_ptr(),
                        arg.len(),
                        err.as_mut_ptr(),
                        err.len(),
                        &mut n,
                    )
                }
                1 => {
                    let mut u = std::ptr::null_mut();
                    let r = flagcore_user_from_json(arg.as_ptr(), arg.len(), &mut u);
                    if !u.is_null() {
                        flagcore_user_free(user);
                        user = u;
                    }
                    r
                }
                2 => flagcore_user_set_field(user, code, arg.as_ptr(), arg.len()),
                3 => flagcore_user_set_string(
                    user,
                    code % 5,
                    arg.as_ptr(),
                    arg.len() / 2,
                    arg.as_ptr(),
                    arg.len(),
                ),
                4 => flagcore_user_set_number(
                    user,
                    code % 5,
                    arg.as_ptr(),
                    arg.len(),
                    f64::from(len as u32) / 3.0,
                ),
                5 => {
                    let mut out = false;
                    flagcore_store_check_gate(store, user, arg.as_ptr(), arg.len(), &mut out)
                }
                6 => {
                    flagcore_evaluation_free(ev);
                    ev = std::ptr::null_mut();
                    flagcore_store_evaluate(store, user, code % 5, arg.as_ptr(), arg.len(), &mut ev)
                }
                7 => {
                    let mut s = flagcore_str {
                        data: std::ptr::null(),
                        len: 0,
                    };
                    flagcore_evaluation_string(ev, code, &mut s)
                }
                8 => {
                    let mut buf = [0u8; 8];
                    let mut n = 0;
                    flagcore_evaluation_json(ev, buf.as_mut_ptr(), buf.len().min(len), &mut n)
                }
                9 => {
                    let mut d = 0.0;
                    flagcore_evaluation_get_number(ev, arg.as_ptr(), arg.len(), &mut d)
                }
                10 => flagcore_store_override_gate(
                    store,
                    arg.as_ptr(),
                    arg.len(),
                    len % 2 == 0,
                    arg.as_ptr(),
                    arg.len() / 3,
                ),
                _ => flagcore_store_override_value(
                    store,
                    code % 5,
                    arg.as_ptr(),
                    arg.len() / 2,
                    arg.as_ptr(),
                    arg.len(),
                    std::ptr::null(),
                    0,
                ),
            };
            assert_ne!(result, flagcore_result::FLAGCORE_RESULT_PANIC, "op {op}");
        }
        flagcore_evaluation_free(ev);
        flagcore_user_free(user);
        flagcore_store_free(store);
    }
});
