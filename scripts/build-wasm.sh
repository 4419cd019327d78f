#!/usr/bin/env bash
# Builds the WebAssembly module and checks it: target/mqward-wasm/mqward.wasm (the core module, for
# core-only hosts: Node.js, Python's wasmtime, wasmex) and target/mqward-wasm/mqward.component.wasm (the
# same code as a component, for component hosts such as mqward-wasmtime), plus
# target/mqward-wasm/mqward-hostile.wasm and its component for the host's limit tests.
# Fails when the module imports anything, misses a WIT export or passes the 2 MiB budget.
# Prints the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
out="$target_dir/mqward-wasm"
mkdir -p "$out"
# ring's C and assembly need clang for wasm32 (gcc silently makes a broken module).
export CC_wasm32_unknown_unknown="${CC_wasm32_unknown_unknown:-clang}"
export AR_wasm32_unknown_unknown="${AR_wasm32_unknown_unknown:-llvm-ar}"
command -v "$AR_wasm32_unknown_unknown" >/dev/null || unset AR_wasm32_unknown_unknown
# SIMD (wasm's simd128, in every host that runs the module: wasmtime, Node.js, wasmex) for the
# matchers' byte searches and hash tables.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:--C target-feature=+simd128}"
cargo build --quiet --release -p mqward-wasm-pack
pack="$target_dir/release/mqward-wasm-pack"
built="$target_dir/wasm32-unknown-unknown/wasm/mqward_wasm.wasm"

cargo build --quiet -p mqward-wasm --target wasm32-unknown-unknown --profile wasm --features hostile
cp "$built" "$out/mqward-hostile.wasm"
"$pack" "$out/mqward-hostile.wasm" wasm-guest/wit "$out/mqward-hostile.component.wasm" >/dev/null

cargo build --quiet -p mqward-wasm --target wasm32-unknown-unknown --profile wasm
cp "$built" "$out/mqward.wasm"
"$pack" "$out/mqward.wasm" wasm-guest/wit "$out/mqward.component.wasm"
