#!/usr/bin/env bash
# Whole-broker figures for the Mosquitto plugin against Mosquitto's own ways to authorize:
#
# 1. messages: broker CPU per message and messages per second, one publisher
#    (`mosquitto_pub -l`, QoS 0) to one subscriber, for
#    - no authentication or authorization;
#    - a C plugin that allows everything (the floor for any plugin: the broker's own cost of
#      calling one);
#    - Mosquitto's `password_file` + `acl_file` with 200 `pattern` lines (the one that matches
#      last);
#    - the dynamic-security plugin with 200 roles (the one that matches checked last);
#    - mqward with a 10,000-statement policy (password authentication);
# 2. CONNECT: broker CPU per connection (connect, one QoS 0 publish, disconnect) for each way
#    to authenticate, beside Mosquitto's own.
#
# Broker CPU is utime + stime of the mosquitto process (every thread, the plugin's worker
# included) from /proc/<pid>/stat, before and after; for connections, whose totals are a few
# clock ticks, the nanosecond run times of every thread in /proc/<pid>/task/*/schedstat.
# Clients run in their own processes and are not counted. Prints a markdown table per part.
#
# Whole-broker CPU per message moves by 10-20% between runs on a shared machine (how the
# kernel batches the clients' writes changes the syscalls per message), more than the plugin
# costs. So when `perf` is there, one more mqward round runs under `perf record` and the
# plugin's own share of the broker's CPU samples is reported too.
#
# Rounds take the configurations in turn (none, allow-all, acl_file, dynsec, mqward, none, ...)
# so that a change in the machine's load falls on all of them alike; the median is reported.
#
# Usage: benches/mosquitto-bench.sh [MESSAGES] [CONNECTS] [ROUNDS]
#        (defaults 200000 messages, 200 connections per method, 5 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES="${1:-200000}"
CONNECTS="${2:-200}"
ROUNDS="${3:-5}"
ROOT="$PWD"
PLUGIN="$(bash scripts/build-mosquitto-plugin.sh)"
cargo build --release -p mqward-cli --quiet
MQWARD="$(dirname "$PLUGIN")/mqward"
DYNSEC=/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
[[ -f "$DYNSEC" ]] || DYNSEC="$(dpkg -L mosquitto | grep mosquitto_dynamic_security.so | head -n 1)"
# shellcheck source=scripts/mosquitto-lib.sh
source scripts/mosquitto-lib.sh
HZ="$(getconf CLK_TCK)"

WORK="$(mktemp -d -t mqward-bench.XXXXXX)"
BROKER_PID=""
trap 'stop_broker; rm -rf "$WORK"' EXIT
cd "$WORK"

# --- credentials and configurations ---------------------------------------------------------
quiet mosquitto_passwd -c -b passwd bench bench-password
python3 - "$CONNECTS" <<'PY'
import base64, hashlib, json, os, subprocess, sys
n = int(sys.argv[1])
# More users, one per connection: password checks are not answered from a cache.
lines = []
for i in range(n):
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101, 64)
    lines.append(f"user{i}:$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}")
with open("passwd", "a") as f:
    f.write("\n".join(lines) + "\n")
# acl_file: 200 pattern lines, the one that matches last.
with open("acl", "w") as f:
    for i in range(199):
        f.write(f"pattern readwrite other/%u/{i}/#\n")
    f.write("pattern readwrite bench/#\n")
# dynamic security: 200 roles, the bench client in all of them, the matching one checked last.
subprocess.run(["mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "bench-password"],
               check=True, capture_output=True)
d = json.load(open("dynsec.json"))
admin = d["clients"][0]
roles = []
for i in range(200):
    topic = "bench/#" if i == 199 else f"other/{i}/#"
    roles.append({"rolename": f"r{i}", "acls": [
        {"acltype": t, "topic": topic, "allow": True}
        for t in ("publishClientSend", "publishClientReceive", "subscribePattern")]})
d["roles"] += roles
d["clients"].append({"username": "bench", "password": admin["password"], "salt": admin["salt"],
                     "iterations": admin["iterations"],
                     "roles": [{"rolename": f"r{i}", "priority": -1 if i == 199 else 1} for i in range(200)]})
for i in range(n):
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 101, 64)
    d["clients"].append({"username": f"user{i}", "password": base64.b64encode(digest).decode(),
                         "salt": base64.b64encode(salt).decode(), "iterations": 101, "roles": []})
json.dump(d, open("dynsec.json", "w"))
# mqward: 10,000 statements; every client may connect, `bench/#` is granted near the end.
statements = [{"id": "connect", "effect": "allow", "operations": ["connect"], "resources": ["*"]}]
for i in range(9998):
    if i % 10 == 9:
        statements.append({"id": f"deny-{i}", "effect": "deny", "operations": ["publish", "receive"],
                           "resources": [f"topic:fleet/{i}/secret/#"]})
    else:
        statements.append({"id": f"device-{i}", "effect": "allow",
                           "operations": ["publish", "subscribe", "receive"],
                           "resources": [f"topic:fleet/{i}/${{clientid}}/#",
                                         f"topicfilter:fleet/{i}/${{clientid}}/#"]})
statements.append({"id": "bench", "effect": "allow", "operations": ["publish", "subscribe", "receive"],
                   "resources": ["topic:bench/#", "topicfilter:bench/#"]})
assert len(statements) == 10000
json.dump({"version": 1, "groups": [{"name": "all", "selectionRule": "*", "policies": ["fleet"]}],
           "policies": {"fleet": statements}}, open("policy.json", "w"))
PY
make_ca "mqward bench CA"
server_cert
client_cert device-1
quiet "$MQWARD" cert register --registry registry.json device-1.pem
PSK_KEY="$(openssl rand -hex 32)"
echo "device-2:$PSK_KEY" > psk.txt
rsa_key jwt
rsa_key authorizer
TOKEN="$(jwt jwt.key k1 "{\"sub\":\"device-3\",\"exp\":$(( $(date +%s) + 3600 ))}")"
SIGNED="$(signed_username authorizer.key fleet "$TOKEN")"
IDENTITY_TOKEN="$("$MQWARD" token issue --store tokens.json --name device-4 --ttl 1h 2>/dev/null)"
cat > config.json <<'JSON'
{
  "version": 1,
  "policy": "policy.json",
  "certificates": { "trustAnchors": ["ca.pem"], "registry": "registry.json",
                    "mapping": { "thingName": "cert.subject.cn" } },
  "psk": [{ "file": "psk.txt" }],
  "passwords": { "files": ["passwd"] },
  "jwt": { "keys": [{ "kid": "k1", "alg": "RS256", "file": "jwt.pub" }] },
  "customAuthorizers": [{ "name": "fleet", "file": "authorizer.pub" }],
  "identityTokens": { "store": "tokens.json" }
}
JSON

PORT="$(free_port)"; TLS="$(free_port)"; PSKP="$(free_port)"
# conf NAME SECURITY-LINES: a broker configuration with a plain, a mutual-TLS and a PSK listener.
conf() {
    cat > "$1.conf" <<CONF
user $(id -un)
log_dest stderr
log_type error
log_type warning
max_queued_messages 0
max_queued_bytes 0
$2
listener $PORT 127.0.0.1
listener $TLS 127.0.0.1
cafile $WORK/ca.pem
certfile $WORK/server.pem
keyfile $WORK/server.key
require_certificate true
$3
listener $PSKP 127.0.0.1
psk_hint bench
$4
CONF
}
conf none "allow_anonymous true" "use_identity_as_username true" "psk_file $WORK/psk-mosquitto.txt
use_identity_as_username true"
echo "device-2:$PSK_KEY" > psk-mosquitto.txt
cat > allow_all.c <<'C'
#include <stddef.h>
#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
static mosquitto_plugin_id_t *plugin_id;
static int allow(int event, void *data, void *userdata) { (void)event; (void)data; (void)userdata; return MOSQ_ERR_SUCCESS; }
int mosquitto_plugin_version(int count, const int *versions) {
    for (int i = 0; i < count; i++) if (versions[i] == 5) return 5;
    return -1;
}
int mosquitto_plugin_init(mosquitto_plugin_id_t *id, void **userdata, struct mosquitto_opt *options, int count) {
    (void)userdata; (void)options; (void)count;
    plugin_id = id;
    mosquitto_callback_register(id, MOSQ_EVT_BASIC_AUTH, allow, NULL, NULL);
    return mosquitto_callback_register(id, MOSQ_EVT_ACL_CHECK, allow, NULL, NULL);
}
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int count) {
    (void)userdata; (void)options; (void)count;
    mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, allow, NULL);
    return mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, allow, NULL);
}
C
cc -std=c11 -O2 -shared -fPIC -Wall -Wextra -Werror -o allow_all.so allow_all.c
conf allowall "allow_anonymous false
plugin $WORK/allow_all.so" "" ""
conf aclfile "allow_anonymous false
password_file $WORK/passwd
acl_file $WORK/acl" "" ""
conf dynsec "allow_anonymous false
plugin $DYNSEC
plugin_opt_config_file $WORK/dynsec.json" "" ""
conf mqward "allow_anonymous false
plugin $PLUGIN
plugin_opt_config $WORK/config.json" "" "use_identity_as_username true"
cp mqward.conf mqward-profiled.conf

cpu() { awk '{ print $14 + $15 }' "/proc/$BROKER_PID/stat"; }
cpu_ns() { cat /proc/"$BROKER_PID"/task/*/schedstat | awk '{ s += $1 } END { printf "%d", s }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
awk -v n="$MESSAGES" 'BEGIN { for (i = 0; i < n; i++) print "hello" }' > payload

# measure NAME USER-ARGS...: one round of messages through a fresh broker; appends
# "<cpu microseconds> <wall nanoseconds>" to NAME.rounds.
measure() {
    local name="$1"; shift
    start_broker "$name.conf" "$name.log" "$PORT"
    rm -f sub.out
    mosquitto_sub -h 127.0.0.1 -p "$PORT" -i bench-sub -t 'bench/#' -C "$MESSAGES" -d "$@" > sub.out 2>&1 &
    local sub=$!
    for _ in $(seq 1 1000); do grep -q "Subscribed" sub.out 2>/dev/null && break; sleep 0.01; done
    local c0 t0 c1 t1 perf_pid=""
    if [[ -n "${PROFILE:-}" ]]; then
        perf record -q -g -p "$BROKER_PID" -o "$PROFILE" >/dev/null 2>&1 &
        perf_pid=$!
        sleep 0.5
    fi
    c0=$(cpu); t0=$(date +%s%N)
    mosquitto_pub -h 127.0.0.1 -p "$PORT" -i bench-pub -t bench/t -q 0 -l "$@" < payload
    for _ in $(seq 1 12000); do kill -0 "$sub" 2>/dev/null || break; sleep 0.005; done
    t1=$(date +%s%N); c1=$(cpu)
    if [[ -n "$perf_pid" ]]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
    if kill -0 "$sub" 2>/dev/null; then
        kill "$sub"; echo "$name: the subscriber did not receive every message" >&2
    fi
    wait "$sub" 2>/dev/null || true
    stop_broker
    echo "$(( (c1 - c0) * 1000000 / HZ )) $(( t1 - t0 ))" >> "$name.rounds"
}

# result NAME: "<median cpu us per message> <median messages per second>"
result() {
    local per rate
    per=$(awk -v n="$MESSAGES" '{ print $1 / n }' "$1.rounds" | median)
    rate=$(awk -v n="$MESSAGES" '{ print int(n / ($2 / 1e9)) }' "$1.rounds" | median)
    echo "$per $rate"
}

# connects NAME PORT ARGS-FOR-CLIENT-N...: broker CPU per connection in microseconds. `{n}` in
# an argument becomes the connection's number.
connects() {
    local name="$1" port="$2"; shift 2
    start_broker "$name.conf" "$name.log" "$PORT"
    local c0 c1 n args
    c0=$(cpu_ns)
    for n in $(seq 0 $((CONNECTS - 1))); do
        args=("${@//\{n\}/$n}")
        mosquitto_pub -h 127.0.0.1 -p "$port" -t bench/c -m x -q 0 "${args[@]}" >/dev/null 2>&1 \
            || { echo "$name: connection $n refused" >&2; }
    done
    c1=$(cpu_ns)
    stop_broker
    awk -v d=$(( (c1 - c0) / 1000 )) -v n="$CONNECTS" 'BEGIN { printf "%.0f", d / n }'
}

header "messages: $MESSAGES QoS 0 messages, one publisher, one subscriber, median of $ROUNDS rounds"
USER_ARGS=(-u bench -P bench-password)
for _ in $(seq 1 "$ROUNDS"); do
    measure none
    measure allowall "${USER_ARGS[@]}"
    measure aclfile "${USER_ARGS[@]}"
    measure dynsec "${USER_ARGS[@]}"
    measure mqward "${USER_ARGS[@]}"
done
read -r none_us none_rate < <(result none)
read -r all_us all_rate < <(result allowall)
read -r acl_us acl_rate < <(result aclfile)
read -r dyn_us dyn_rate < <(result dynsec)
read -r mq_us mq_rate < <(result mqward)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "| broker | CPU per message | messages/s | vs no auth |"
echo "| --- | ---: | ---: | ---: |"
printf '| no authentication | %.2f µs | %s | 1.00 |\n' "$none_us" "$none_rate"
printf '| a C plugin that allows everything | %.2f µs | %s | %s |\n' "$all_us" "$all_rate" "$(ratio "$all_us" "$none_us")"
printf '| password_file + acl_file, 200 pattern lines | %.2f µs | %s | %s |\n' "$acl_us" "$acl_rate" "$(ratio "$acl_us" "$none_us")"
printf '| dynamic-security plugin, 200 roles | %.2f µs | %s | %s |\n' "$dyn_us" "$dyn_rate" "$(ratio "$dyn_us" "$none_us")"
printf '| mqward, 10,000 statements | %.2f µs | %s | %s |\n' "$mq_us" "$mq_rate" "$(ratio "$mq_us" "$none_us")"
echo
pct() { awk -v m="$1" -v n="$2" 'BEGIN { printf "%+.1f%%", (m / n - 1) * 100 }'; }
echo "mqward costs $(pct "$mq_us" "$none_us") against no authentication ($(pct "$mq_us" "$all_us") against the allow-all plugin) and is $(ratio "$acl_us" "$mq_us")x cheaper per message than the 200-pattern acl_file."

if command -v perf >/dev/null; then
    PROFILE="$WORK/perf.data" measure mqward-profiled "${USER_ARGS[@]}"
    share="$(perf report -i "$WORK/perf.data" --no-children --sort dso -g none 2>/dev/null \
        | awk '/mqward_mosquitto\.so/ { sub("%", "", $1); s += $1 } END { printf "%.1f", s }')"
    echo "perf: the plugin's own code is $share% of the broker's CPU samples in an mqward round."
fi

header "CONNECT: broker CPU per connection ($CONNECTS connections each)"
echo
echo "| method | broker | CPU per connection |"
echo "| --- | --- | ---: |"
row() { printf '| %s | %s | %s µs |\n' "$1" "$2" "$3"; }
CERT=(--cafile ca.pem --cert device-1.pem --key device-1.key)
row "anonymous, plain TCP" "no authentication" "$(connects none "$PORT" -i c{n})"
row "password (\$7\$, 101 iterations), a user per connection" "password_file + acl_file" "$(connects aclfile "$PORT" -i c{n} -u user{n} -P pw)"
row "password (PBKDF2, 101 iterations), a user per connection" "dynamic-security" "$(connects dynsec "$PORT" -i c{n} -u user{n} -P pw)"
row "password (\$7\$, 101 iterations), a user per connection" "mqward" "$(connects mqward "$PORT" -i c{n} -u user{n} -P pw)"
row "password, the same user every time (cached)" "mqward" "$(connects mqward "$PORT" -i c{n} -u bench -P bench-password)"
row "JWT RS256 in the password" "mqward" "$(connects mqward "$PORT" -i c{n} -u device-3 -P "$TOKEN")"
row "AWS-style signed username (RSA signature + RS256 JWT)" "mqward" "$(connects mqward "$PORT" -i c{n} -u "$SIGNED")"
row "identity token" "mqward" "$(connects mqward "$PORT" -i c{n} -u device-4 -P "$IDENTITY_TOKEN")"
row "TLS client certificate (P-256), TLS handshake included" "no authentication (use_identity_as_username)" "$(connects none "$TLS" "${CERT[@]}" -i c{n})"
row "TLS client certificate (P-256), TLS handshake included" "mqward" "$(connects mqward "$TLS" "${CERT[@]}" -i device-1)"
row "TLS-PSK, handshake included" "psk_file" "$(connects none "$PSKP" --psk "$PSK_KEY" --psk-identity device-2 -i c{n})"
row "TLS-PSK, handshake included" "mqward" "$(connects mqward "$PSKP" --psk "$PSK_KEY" --psk-identity device-2 -i c{n})"
echo
echo "Made with: benches/mosquitto-bench.sh $MESSAGES $CONNECTS $ROUNDS ($(mosquitto -h | sed -n '1s/^mosquitto version //p'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
