#!/usr/bin/env bash
# Sets up a fresh machine and runs every test of the workspace: unit, corpus, property,
# adversarial and CLI tests, the Mosquitto plugin in the real broker, the doc examples, the
# wasm32 build of the pure core, the C ABI's C and C++ programs (plain, under ASan+UBSan and
# valgrind, installed through pkg-config), the EMQX ExHook server's contract tests (Rust tonic
# and Python grpcio clients, TLS, signals), the WebAssembly module (built and checked for
# imports, exports and size first, because the wasmtime host's tests run it; then loaded from
# Node.js and Python too), and the Mosquitto demo (every outcome as expected).
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step says when it starts, in seconds since this script did, so a slow run shows where.
START=$SECONDS
step() { echo "== test.sh +$((SECONDS - START))s: $*"; }
step "set-up"
bash scripts/setup.sh
step "the WebAssembly module"
bash scripts/build-wasm.sh
# Property tests run optimized so that thousands of cases stay quick.
step "cargo test (unit, integration, real brokers)"
cargo test --workspace --release --lib --bins --tests
step "doc tests"
cargo test --workspace --release --doc
step "mqward-core for wasm32"
cargo build -p mqward-core --release --target wasm32-unknown-unknown
echo "wasm32: mqward-core builds for wasm32-unknown-unknown"
step "the module in Node.js and Python"
bash tests/wasm/run-hosts.sh
step "C ABI programs and tests"
bash ffi/tests/run-c-tests.sh
# The ExHook example configuration stays loadable.
step "ExHook example configurations"
# (`cargo test` built the binary; `cargo run -p` would build the package again alone, with
# other features unified, which took two minutes in CI.)
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
"$target_dir/release/mqward-exhook" --check examples/emqx/exhook.json
"$target_dir/release/mqward-exhook" --check examples/emqx/exhook-wasm.json
# The ExHook contract again, with the WebAssembly backend deciding.
step "ExHook contract, wasm backend"
MQWARD_EXHOOK_BACKEND=wasm cargo test --workspace --release --test contract --test python
step "the Mosquitto demo"
bash scripts/mosquitto-demo.sh | grep -E "UNEXPECTED|every outcome"
step "done"
