#!/usr/bin/env bash
# Sets up, builds the `mqward` CLI and explains decisions on the example policy: the main job
# until the Mosquitto plugin lands.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -p mqward-cli --quiet
bash examples/demo.sh target/release/mqward
