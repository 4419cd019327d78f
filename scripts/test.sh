#!/usr/bin/env bash
# Sets up a fresh machine and runs every test of the workspace: unit, corpus, property,
# adversarial and CLI tests, the Mosquitto plugin in the real broker, the doc examples, the
# wasm32 build of the pure core, and the Mosquitto demo (every outcome it shows as expected).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Property tests run optimized so that thousands of cases stay quick.
cargo test --workspace --release --lib --bins --tests
cargo test --workspace --release --doc
cargo build -p mqward-core --release --target wasm32-unknown-unknown
echo "wasm32: mqward-core builds for wasm32-unknown-unknown"
bash scripts/mosquitto-demo.sh | grep -E "UNEXPECTED|every outcome"
