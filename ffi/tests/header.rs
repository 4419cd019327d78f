//! The checked-in header `include/mqward.h` is what cbindgen generates from the sources: this
//! test fails when they differ. `MQWARD_BLESS=1` rewrites the header instead.

use std::path::Path;

#[test]
fn header_matches_the_sources() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    // cbindgen has no string constants: the version string comes from the package.
    config.after_includes = Some(format!(
        "\n/** The version of the library this header belongs to. */\n#define MQWARD_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/mqward.h");
    if std::env::var_os("MQWARD_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write include/mqward.h");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/mqward.h differs from what the sources generate; review the change and run \
         `MQWARD_BLESS=1 cargo test -p mqward-ffi --test header`"
    );
}
