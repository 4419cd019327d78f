//! The compiled-code cache: a first start compiles and writes one file named by the
//! component's hash and the engine's settings; a second start loads it; a damaged file is
//! compiled again and replaced.

mod common;

use mqward_wasmtime::{Limits, Runtime, WasmEngine};

#[test]
fn compiled_code_is_cached_and_a_damaged_cache_is_rebuilt() {
    let component = std::fs::read(common::modules().join("mqward.wasm")).unwrap();
    let dir = std::env::temp_dir().join(format!("mqward-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let check = |r: Runtime| {
        let e = WasmEngine::from_json(std::sync::Arc::new(r), 1, br#"{"version": 1}"#).unwrap();
        assert_eq!(e.session_count().unwrap(), 0);
    };
    check(Runtime::new(&component, Limits::default(), Some(&dir)).unwrap());
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("mqward-") && name.ends_with(".cwasm"),
        "{name}"
    );
    let written = std::fs::metadata(&files[0]).unwrap().modified().unwrap();

    // Loaded, not rewritten.
    check(Runtime::new(&component, Limits::default(), Some(&dir)).unwrap());
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().modified().unwrap(),
        written
    );

    // Damaged: compiled again, the file replaced.
    std::fs::write(&files[0], b"not compiled code").unwrap();
    check(Runtime::new(&component, Limits::default(), Some(&dir)).unwrap());
    assert!(std::fs::read(&files[0]).unwrap().len() > 1_000_000);

    // Not a component at all: a clear error.
    let err = Runtime::new(b"\0asm junk", Limits::default(), None).unwrap_err();
    assert!(err.to_string().contains("WebAssembly"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
