//! C ABI of flagcore (work in progress; see `include/flagcore.h` once it lands).

/// The version of the core this library was built with.
pub fn core_version() -> &'static str {
    let _ = flagcore::Store::new();
    env!("CARGO_PKG_VERSION")
}
