#!/usr/bin/env bash
# Runs the mqward core WebAssembly module in two hosts other than wasmtime-rs: Node.js (built-in
# WebAssembly, tests/wasm/node_host.mjs) and Python's wasmtime package (tests/wasm/python_host.py).
# Both instantiate the module with no imports and check its decisions, authentication and sessions.
# Usage: tests/wasm/run-hosts.sh [MODULE]   (default target/mqward-wasm/mqward.wasm, from
# scripts/build-wasm.sh). Needs node >= 20, python3 with wasmtime==51.0.0, mosquitto_passwd.
set -euo pipefail
cd "$(dirname "$0")/../.."
module="${1:-target/mqward-wasm/mqward.wasm}"
[ -f "$module" ] || { echo "no module at $module: run scripts/build-wasm.sh" >&2; exit 2; }

fix="$(mktemp -d)"
trap 'rm -rf "$fix"' EXIT
mosquitto_passwd -c -b "$fix/passwd" admin s3cret

status=0
echo "# node $(node --version)"
node tests/wasm/node_host.mjs "$module" "$fix" || status=1
echo "# python $(python3 -c 'import wasmtime, sys; print(sys.version.split()[0], "wasmtime", __import__("importlib.metadata").metadata.version("wasmtime"))')"
python3 tests/wasm/python_host.py "$module" "$fix" || status=1
if [ "$status" -eq 0 ]; then echo "# both hosts passed"; else echo "# a host failed" >&2; fi
exit "$status"
