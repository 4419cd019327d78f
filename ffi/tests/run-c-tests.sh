#!/usr/bin/env bash
# Builds libmqward, installs it into a temporary prefix with ffi/install.sh, and proves it from
# C and C++ the way a gateway uses it:
#   - the examples (ffi/examples) and the C tests (ffi/tests/c) compile with
#     `cc $(pkg-config --cflags --libs mqward)` against the installed prefix, with
#     -Wall -Wextra -Werror, and once statically against libmqward.a;
#   - each runs plain and under AddressSanitizer + UndefinedBehaviorSanitizer;
#   - the examples and the bad-input test run once more under valgrind: zero errors, no leaks;
#   - the bad-input test also runs plain with the freed-handle checks (which sanitizers and
#     valgrind rightly report as reads of freed memory).
# Credentials are made here, at test time: a CA and a client certificate (openssl), a PSK key
# and a password (mosquitto_passwd). Usage: ffi/tests/run-c-tests.sh [RELOADS] (default 1000).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
reloads=${1:-1000}

work=$(mktemp -d "${TMPDIR:-/tmp}/mqward-c-tests.XXXXXX")
trap '[ -n "${MQWARD_KEEP:-}" ] || rm -rf "$work"' EXIT
prefix="$work/prefix"
bash ffi/install.sh "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
mqward_flags=$(pkg-config --cflags --libs mqward)

step() { printf '\n== %s\n' "$*"; }

step "fixtures: CA, client certificate, PSK, password file, configurations"
fixtures="$work/fixtures"
mkdir -p "$fixtures"
(
    cd "$fixtures"
    cp "$root/examples/policy.json" policy.json
    # Policy B: A with one more group and policy, which no request of the tests touches.
    python3 - <<'EOF'
import json
doc = json.load(open("policy.json"))
doc["groups"].append({"name": "lab", "selectionRule": "thingName: lab-*", "policies": ["lab"]})
doc["policies"]["lab"] = [{"id": "lab", "effect": "allow", "operations": ["publish"],
                           "resources": ["topic:lab/${thingName}/#"]}]
json.dump(doc, open("policy-b.json", "w"), indent=1)
EOF
    printf '{ "version": 1, "groups": [ this is not a policy\n' >garbage-policy.json
    quiet() { "$@" >/dev/null 2>&1; }
    quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -keyout ca.key -out ca.pem -subj /CN=mqward-test-ca \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    quiet openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout sensor-1.key -out sensor-1.csr -subj /CN=sensor-1
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n' >leaf.ext
    quiet openssl x509 -req -in sensor-1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -extfile leaf.ext -out sensor-1.pem
    fingerprint=$(openssl x509 -in sensor-1.pem -noout -fingerprint -sha256 | cut -d= -f2 | tr -d :)
    printf '{"version":1,"certificates":[{"fingerprint":"%s","state":"inactive","name":"sensor-1"}]}\n' \
        "$fingerprint" >registry.json
    printf 'gateway-1:%s\n' "$(openssl rand -hex 16)" >psk.txt
    openssl rand -hex 12 >admin-password
    mosquitto_passwd -c -b passwd admin "$(cat admin-password)" >/dev/null
    cp "$root/ffi/examples/mqward.json" mqward.json
    sed 's/"policy.json"/"policy-b.json"/' mqward.json >mqward-b.json
    sed 's/"policy.json"/"garbage-policy.json"/' mqward.json >mqward-garbage.json
)

# A fresh copy of the fixtures for each run: runs change the registry.
fresh() {
    local dir
    dir=$(mktemp -d "$work/run.XXXXXX")
    cp -r "$fixtures/." "$dir"
    echo "$dir"
}

cflags=(-Wall -Wextra -Werror -g -O1)
sanitize=(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
rpath="-Wl,-rpath,$prefix/lib"
bin="$work/bin"
mkdir -p "$bin"

step "build with cc/c++ \$(pkg-config --cflags --libs mqward), -Wall -Wextra -Werror"
build_c() { # NAME SOURCE EXTRA...
    local name=$1 src=$2
    shift 2
    # shellcheck disable=SC2086 # pkg-config output is a list of flags
    cc -std=c11 "${cflags[@]}" "$@" "$src" -o "$bin/$name" $mqward_flags "$rpath" -pthread
}
build_cpp() {
    local name=$1 src=$2
    shift 2
    # shellcheck disable=SC2086
    c++ -std=c++17 "${cflags[@]}" "$@" "$src" -o "$bin/$name" $mqward_flags "$rpath" -pthread
}
# The header alone, in the oldest dialects a host may use.
printf '#include "mqward.h"\nint main(void) { return 0; }\n' >"$work/header.c"
cc -std=c99 -pedantic "${cflags[@]}" -fsyntax-only -I"$prefix/include" "$work/header.c"
c++ -std=c++11 -pedantic "${cflags[@]}" -fsyntax-only -I"$prefix/include" -x c++ "$work/header.c"
for variant in plain asan; do
    extra=()
    [ "$variant" = asan ] && extra=("${sanitize[@]}")
    build_c "gateway.$variant" ffi/examples/gateway.c "${extra[@]}"
    build_cpp "gateway_cpp.$variant" ffi/examples/gateway.cpp "${extra[@]}"
    build_c "bad_input.$variant" ffi/tests/c/bad_input.c -Iffi/tests/c "${extra[@]}"
    build_c "threads.$variant" ffi/tests/c/threads.c -Iffi/tests/c "${extra[@]}"
done
build_c bad_input.freed ffi/tests/c/bad_input.c -Iffi/tests/c -DMQWARD_TEST_FREED_HANDLES
# The static library: the same example, linked without the shared one.
# shellcheck disable=SC2046
cc -std=c11 "${cflags[@]}" $(pkg-config --cflags mqward) ffi/examples/gateway.c \
    -o "$bin/gateway.static" "$prefix/lib/libmqward.a" \
    $(pkg-config --static --libs-only-l mqward | sed 's/-lmqward//')
echo "built: $(cd "$bin" && echo *)"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_all() { # VARIANT [WRAPPER...]
    local variant=$1 dir
    shift
    dir=$(fresh)
    "$@" "$bin/gateway.$variant" "$dir/mqward.json" "$dir/sensor-1.pem" >"$work/out" ||
        { cat "$work/out"; return 1; }
    tail -n 1 "$work/out"
    dir=$(fresh)
    "$@" "$bin/gateway_cpp.$variant" "$dir/mqward.json" admin "$(cat "$dir/admin-password")"
    "$@" "$bin/bad_input.$variant" "$(fresh)"
}

step "plain"
run_all plain
"$bin/threads.plain" "$(fresh)" "$reloads"
"$bin/bad_input.freed" "$(fresh)"
dir=$(fresh)
"$bin/gateway.static" "$dir/mqward.json" "$dir/sensor-1.pem" | tail -n 1

step "AddressSanitizer + UndefinedBehaviorSanitizer"
run_all asan
"$bin/threads.asan" "$(fresh)" "$reloads"

step "valgrind: zero errors, no leaks"
vg=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect,possible
    --errors-for-leak-kinds=definite,indirect,possible)
run_all plain "${vg[@]}"

echo
echo "C ABI: examples and C tests pass plain, under ASan+UBSan and under valgrind"
