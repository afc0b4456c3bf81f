//! Integration tests of flagcore's public API, in one test binary (link time matters on two
//! cores). The allocation test has its own binary (`zero_alloc.rs`): it installs a counting
//! global allocator.

// Tests read fixtures from ../shared; the no-IO rule (clippy.toml) is for the library.
#![allow(clippy::disallowed_methods)]

mod api {
    pub(crate) mod common;
    mod concurrency;
    mod explain;
    mod layers_and_mapping;
    mod properties;
    mod retention;
    mod roundtrip;
    mod rule_ids;
    mod runaway;
    mod shortcuts;
    mod soak;
    mod stress;
    mod user_json;
}
