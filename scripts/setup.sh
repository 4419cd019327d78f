#!/usr/bin/env bash
# Installs what building and testing mqward needs on a fresh Debian machine with rustup.
# Idempotent: quick when everything is already there.
set -euo pipefail

need_rust_component() {
    rustup component list --installed 2>/dev/null | grep -q "^$1" || rustup component add "$1"
}

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
need_rust_component rustfmt
need_rust_component clippy
