#!/usr/bin/env bash
# Builds libmqward in release mode and installs it into PREFIX:
#   PREFIX/include/mqward.h
#   PREFIX/lib/libmqward.a, libmqward.so.X.Y.Z (+ the soname and libmqward.so links)
#   PREFIX/lib/pkgconfig/mqward.pc
# Then: PKG_CONFIG_PATH=PREFIX/lib/pkgconfig cc app.c $(pkg-config --cflags --libs mqward)
# (with PREFIX/lib on the loader's path: ldconfig, LD_LIBRARY_PATH or -Wl,-rpath).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

cargo build --release -p mqward-ffi --quiet
target=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}
version=$(sed -n 's/^#define MQWARD_VERSION "\(.*\)"$/\1/p' ffi/include/mqward.h)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
# Before 1.0 every minor release may break the ABI (build.rs sets the same soname).
if [ "$major" = 0 ]; then abi="0.$minor"; else abi="$major"; fi

install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 0644 ffi/include/mqward.h "$prefix/include/mqward.h"
install -m 0644 "$target/release/libmqward.a" "$prefix/lib/libmqward.a"
install -m 0755 "$target/release/libmqward.so" "$prefix/lib/libmqward.so.$version"
ln -sfn "libmqward.so.$version" "$prefix/lib/libmqward.so.$abi"
ln -sfn "libmqward.so.$abi" "$prefix/lib/libmqward.so"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" ffi/mqward.pc.in \
    >"$prefix/lib/pkgconfig/mqward.pc"
echo "installed libmqward $version into $prefix"
