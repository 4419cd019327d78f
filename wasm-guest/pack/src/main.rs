//! `mqward-wasm-pack MODULE.wasm WIT-DIR COMPONENT.wasm`: checks the guest module (no imports,
//! every export, the size budget), prints its size, and writes the component made from it.
//! Exits 1 when a rule is broken, 2 on bad arguments or unreadable files.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module, wit, component] = args.as_slice() else {
        eprintln!("usage: mqward-wasm-pack MODULE.wasm WIT-DIR COMPONENT.wasm");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(module) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{module}: {e}");
            return ExitCode::from(2);
        }
    };
    match mqward_wasm_pack::check(&bytes, Path::new(wit)) {
        Err(e) => {
            eprintln!("{module}: {e}");
            return ExitCode::from(2);
        }
        Ok(broken) if !broken.is_empty() => {
            for b in broken {
                eprintln!("{module}: {b}");
            }
            return ExitCode::from(1);
        }
        Ok(_) => {}
    }
    let out = match mqward_wasm_pack::componentize(&bytes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{module}: {e}");
            return ExitCode::from(1);
        }
    };
    if let Err(e) = std::fs::write(component, &out) {
        eprintln!("{component}: {e}");
        return ExitCode::from(2);
    }
    println!(
        "{module}: {} bytes, no imports, every export; {component}: {} bytes",
        bytes.len(),
        out.len()
    );
    ExitCode::SUCCESS
}
