//! The committed header `include/flagcore.h` is what cbindgen generates from the source.
//! Regenerate it with `FLAGCORE_BLESS=1 cargo test -p flagcore-ffi --test api header`.

use std::path::Path;

#[test]
fn header_matches_the_source() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = dir.join("include/flagcore.h");
    if std::env::var_os("FLAGCORE_BLESS").is_some() {
        // Bless mode rewrites the header, then checks what was written like any run.
        std::fs::write(&path, &generated).expect("write header");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "include/flagcore.h is out of date: run FLAGCORE_BLESS=1 cargo test -p flagcore-ffi --test api header"
    );
}
