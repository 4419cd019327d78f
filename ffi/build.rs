//! Gives the shared library a versioned soname on Linux, so that a program linked against one
//! release refuses a library whose ABI may differ: `libmqward.so.0.1` for 0.1.x (before 1.0
//! each minor release may break the ABI), `libmqward.so.1` for 1.x.

fn main() {
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
        let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
        let abi = if major == "0" {
            format!("0.{minor}")
        } else {
            major
        };
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libmqward.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
