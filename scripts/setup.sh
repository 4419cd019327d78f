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

# Debian packages: clang builds ring's C and assembly for wasm32 (gcc cannot); openssl and
# mosquitto (mosquitto_passwd) make independent test credentials; PyJWT signs test tokens;
# gcc, g++, pkg-config and valgrind build and check the C ABI's C and C++ programs.
# The Mosquitto plugin: mosquitto-dev and libmosquitto-dev hold the plugin headers its layout
# test compiles against, libssl-dev the libcrypto it links (i2d_X509); its broker tests run
# Debian's mosquitto with mosquitto_pub/mosquitto_sub and paho-mqtt.
need_deb() {
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        else
            sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
        fi
    fi
}
need_deb clang openssl mosquitto mosquitto-clients mosquitto-dev libmosquitto-dev libssl-dev gcc g++ pkg-config valgrind python3
python3 -c 'import jwt, cryptography' 2>/dev/null || python3 -m pip install -q 'PyJWT[crypto]==2.10.1'
python3 -c 'import argon2' 2>/dev/null || python3 -m pip install -q 'argon2-cffi==23.1.0'  # argon2id test hashes
# The EMQX ExHook contract test's independent client: Python grpcio, stubs from grpcio-tools.
python3 -c 'import grpc, grpc_tools' 2>/dev/null || python3 -m pip install -q 'grpcio==1.85.1' 'grpcio-tools==1.85.1'
python3 -c 'import paho.mqtt' 2>/dev/null || python3 -m pip install -q 'paho-mqtt==2.2.0'  # broker tests
# The WebAssembly module's host-neutrality tests: Node.js's built-in WebAssembly and Python's
# wasmtime package load the core module (tests/wasm/run-hosts.sh).
command -v node >/dev/null || need_deb nodejs
python3 -c 'import wasmtime' 2>/dev/null || python3 -m pip install -q 'wasmtime==51.0.0'
