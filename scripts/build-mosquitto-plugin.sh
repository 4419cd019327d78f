#!/usr/bin/env bash
# Builds the Mosquitto plugin and copies it to target/release/mqward_mosquitto.so, the name
# the README's `plugin` line uses. Prints the path.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p mqward-mosquitto --quiet
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
cp "$target_dir/release/libmqward_mosquitto.so" "$target_dir/release/mqward_mosquitto.so"
echo "$target_dir/release/mqward_mosquitto.so"
