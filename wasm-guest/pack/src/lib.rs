//! Checks the guest module and wraps it into a component: the build step of
//! `scripts/build-wasm.sh` and the check CI runs on every build.
//!
//! - no imports at all (no clock, file, random or WASI source: the host passes them);
//! - every function of `wit/mqward.wit`'s `engine` interface exported under its canonical-ABI
//!   name, plus `cabi_realloc` and the memory;
//! - the size budget (2 MiB);
//! - the component made from it by wit-component validates.

use std::path::Path;

use wasmparser::{Parser, Payload, TypeRef};

/// The size budget of the release module.
pub const MAX_SIZE: usize = 2 * 1024 * 1024;

/// What the module holds, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The module's size in bytes.
    pub size: usize,
    /// Its imports, as `module::name (kind)`.
    pub imports: Vec<String>,
    /// Its exports.
    pub exports: Vec<String>,
}

/// Reads a module's imports and exports.
pub fn inspect(module: &[u8]) -> Result<Report, String> {
    let mut imports = Vec::new();
    let mut exports = Vec::new();
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(|e| format!("not a WebAssembly module: {e}"))? {
            Payload::Version {
                encoding: wasmparser::Encoding::Component,
                ..
            } => return Err("this is a component; pass the core module".to_owned()),
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(|e| e.to_string())?;
                    let kind = match import.ty {
                        TypeRef::Func(_) => "function",
                        TypeRef::Table(_) => "table",
                        TypeRef::Memory(_) => "memory",
                        TypeRef::Global(_) => "global",
                        TypeRef::Tag(_) => "tag",
                    };
                    imports.push(format!("{}::{} ({kind})", import.module, import.name));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(export.map_err(|e| e.to_string())?.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(Report {
        size: module.len(),
        imports,
        exports,
    })
}

/// The canonical-ABI export names of every function in the WIT's `engine` interface.
pub fn expected_exports(wit_dir: &Path) -> Result<Vec<String>, String> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve
        .push_dir(wit_dir)
        .map_err(|e| format!("{}: {e:#}", wit_dir.display()))?;
    let pkg = &resolve.packages[package];
    let interface = pkg
        .interfaces
        .get("engine")
        .ok_or("the WIT has no `engine` interface")?;
    let prefix = format!(
        "{}:{}/engine@{}",
        pkg.name.namespace,
        pkg.name.name,
        pkg.name
            .version
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    Ok(resolve.interfaces[*interface]
        .functions
        .keys()
        .map(|f| format!("{prefix}#{f}"))
        .collect())
}

/// Every rule of the module's contract; the list of what breaks it, empty when it holds.
pub fn check(module: &[u8], wit_dir: &Path) -> Result<Vec<String>, String> {
    let report = inspect(module)?;
    let mut broken = Vec::new();
    for import in &report.imports {
        broken.push(format!(
            "the module imports {import}: it must import nothing"
        ));
    }
    for name in expected_exports(wit_dir)?
        .iter()
        .map(String::as_str)
        .chain(["cabi_realloc", "memory"])
    {
        if !report.exports.iter().any(|e| e == name) {
            broken.push(format!("the module does not export `{name}`"));
        }
    }
    if report.size > MAX_SIZE {
        broken.push(format!(
            "the module is {} bytes, over the {MAX_SIZE}-byte budget",
            report.size
        ));
    }
    Ok(broken)
}

/// Wraps the core module into a component (its WIT is in the module's custom section) and
/// validates the result.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    let component = wit_component::ComponentEncoder::default()
        .module(module)
        .map_err(|e| format!("{e:#}"))?
        .validate(true)
        .encode()
        .map_err(|e| format!("{e:#}"))?;
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&component)
        .map_err(|e| format!("the component does not validate: {e}"))?;
    Ok(component)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wit_names_every_export() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let names = expected_exports(&dir).unwrap();
        assert_eq!(names.len(), 25, "{names:?}");
        assert!(names.contains(&"mqward:engine/engine@0.1.0#authorize".to_owned()));
    }

    #[test]
    fn imports_and_missing_exports_are_reported() {
        // (module (import "env" "now" (func)) (memory (export "memory") 1))
        let module = [
            0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // header
            0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
            0x02, 0x0b, 0x01, 0x03, b'e', b'n', b'v', 0x03, b'n', b'o', b'w', 0x00,
            0x00, // import
            0x05, 0x03, 0x01, 0x00, 0x01, // memory 1
            0x07, 0x0a, 0x01, 0x06, b'm', b'e', b'm', b'o', b'r', b'y', 0x02, 0x00, // export
        ];
        let report = inspect(&module).unwrap();
        assert_eq!(report.imports, vec!["env::now (function)"]);
        assert_eq!(report.exports, vec!["memory"]);
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let broken = check(&module, &dir).unwrap();
        assert!(broken[0].contains("imports env::now"), "{broken:?}");
        assert!(broken.iter().any(|b| b.contains("cabi_realloc")));
        assert!(!broken.iter().any(|b| b.contains("`memory`")));
        assert!(inspect(b"not wasm").is_err());
    }
}
