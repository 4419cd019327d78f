#!/usr/bin/env bash
# Sets up, then the main job: the Mosquitto plugin in a real broker with allowed and denied
# clients for each way to authenticate (scripts/mosquitto-demo.sh); then the `mqward` CLI
# explaining decisions on the same example policy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/mosquitto-demo.sh
cargo build --release -p mqward-cli --quiet
bash examples/demo.sh target/release/mqward
