#!/usr/bin/env bash
# The main job: builds the Mosquitto plugin and the `mqward` CLI, makes a demo CA, client
# certificates, a PSK, a password file, JWT and custom-authorizer keys and an identity token in
# a temporary directory, starts Debian's mosquitto on 127.0.0.1 with the plugin and
# examples/policy.json, and shows allowed and denied clients for each way to authenticate.
# Stops the broker at the end. Exits 0 only if every outcome shown is the expected one.
#
# Usage: scripts/mosquitto-demo.sh [--keep]   (--keep leaves the temporary directory)
# Needs what scripts/setup.sh installs (mosquitto, mosquitto-clients, openssl).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
KEEP=false
[[ "${1:-}" == "--keep" ]] && KEEP=true

PLUGIN="$(bash scripts/build-mosquitto-plugin.sh)"
cargo build --release -p mqward-cli --quiet
MQWARD="$(dirname "$PLUGIN")/mqward"

# shellcheck source=scripts/mosquitto-lib.sh
source scripts/mosquitto-lib.sh
DEMO="$(mktemp -d -t mqward-demo.XXXXXX)"
BROKER_PID=""
cleanup() {
    stop_broker
    if $KEEP; then echo "demo files kept in $DEMO"; else rm -rf "$DEMO"; fi
}
trap cleanup EXIT
cd "$DEMO"

# --- credentials, each made by the tool an operator would use -------------------------------
header "credentials (temporary directory $DEMO)"
make_ca "mqward demo CA"
server_cert
for device in sensor-7 sensor-9 gateway-1; do
    client_cert "$device"
    quiet "$MQWARD" cert register --registry registry.json --name "$device" "$device.pem"
done
"$MQWARD" cert suspend --registry registry.json sensor-9.pem
echo "certificates: CA, server (127.0.0.1), sensor-7, sensor-9 (suspended), gateway-1"
PSK_KEY="$(openssl rand -hex 32)"
echo "gateway-2:$PSK_KEY" > psk.txt
echo "PSK identity gateway-2"
quiet mosquitto_passwd -c -b passwd admin admin-demo-password
echo "password file (mosquitto_passwd): admin"
rsa_key jwt
rsa_key authorizer
echo "RSA keys: JWT signing (kid demo), AWS-style custom authorizer (fleet)"
IDENTITY_TOKEN="$("$MQWARD" token issue --store tokens.json --name gateway-4 --ttl 1h 2>/dev/null)"
echo "identity token for gateway-4 (mqward token issue)"
cp "$ROOT/examples/policy.json" policy.json
cat > config.json <<'JSON'
{
  "version": 1,
  "policy": "policy.json",
  "certificates": { "trustAnchors": ["ca.pem"], "registry": "registry.json",
                    "mapping": { "thingName": "cert.subject.cn", "requireClientIdMatch": true } },
  "psk": [{ "file": "psk.txt" }],
  "passwords": { "files": ["passwd"] },
  "jwt": { "keys": [{ "kid": "demo", "alg": "RS256", "file": "jwt.pub" }], "audience": ["mqtt"] },
  "customAuthorizers": [{ "name": "fleet", "file": "authorizer.pub" }],
  "identityTokens": { "store": "tokens.json" }
}
JSON

NOW="$(date +%s)"
OPS_TOKEN="$(jwt jwt.key demo "{\"sub\":\"ana\",\"role\":\"ops\",\"aud\":\"mqtt\",\"exp\":$((NOW + 600))}")"
EXPIRED_TOKEN="$(jwt jwt.key demo "{\"sub\":\"ana\",\"role\":\"ops\",\"aud\":\"mqtt\",\"exp\":$((NOW - 600))}")"
GATEWAY_TOKEN="$(jwt jwt.key demo "{\"sub\":\"gateway-3\",\"aud\":\"mqtt\",\"exp\":$((NOW + 600))}")"
echo "JWTs signed with openssl: operator ana (role ops), an expired one, gateway-3's"

# --- the broker -----------------------------------------------------------------------------
PLAIN=$(free_port); MTLS=$(free_port); IDENT=$(free_port); PSK=$(free_port)
cat > mosquitto.conf <<CONF
user $(id -un)
allow_anonymous false
log_dest file $DEMO/mosquitto.log
log_type error
log_type warning
log_type notice
log_type information
plugin $PLUGIN
plugin_opt_config $DEMO/config.json

# passwords, JWTs, AWS-style signed tokens, identity tokens
listener $PLAIN 127.0.0.1
# mutual TLS: the plugin authenticates the certificate in BASIC_AUTH
listener $MTLS 127.0.0.1
cafile $DEMO/ca.pem
certfile $DEMO/server.pem
keyfile $DEMO/server.key
require_certificate true
# mutual TLS with use_identity_as_username: the plugin authenticates on the first request
listener $IDENT 127.0.0.1
cafile $DEMO/ca.pem
certfile $DEMO/server.pem
keyfile $DEMO/server.key
require_certificate true
use_identity_as_username true
# TLS-PSK: keys come from the plugin; the identity names the client
listener $PSK 127.0.0.1
psk_hint mqward-demo
use_identity_as_username true
CONF
header "mosquitto $(mosquitto -h | sed -n '1s/^mosquitto version //p') on 127.0.0.1: plain $PLAIN, mTLS $MTLS, mTLS+identity $IDENT, PSK $PSK"
start_broker mosquitto.conf mosquitto.log "$PLAIN"
grep "mqward: loaded" mosquitto.log | sed 's/^[0-9]*: /  /'

# --- outcomes -------------------------------------------------------------------------------
FAILURES=0
# outcome OUTPUT: what mosquitto_pub/mosquitto_sub -d said, as allowed | denied | refused
outcome() {
    if grep -qE "Connection Refused|Connection error|A TLS error|Error: " <<<"$1"; then echo refused
    elif grep -qE "Publish [0-9]+ failed: Not authorized" <<<"$1"; then echo denied
    elif grep -qE "RC:(0|16)\)|Subscribed \(mid: [0-9]+\): [012]$" <<<"$1"; then echo allowed
    elif grep -qE "RC:135\)|Subscribed \(mid: [0-9]+\): 135$" <<<"$1"; then echo denied
    else echo unknown; fi
}
# expect WANT WHAT COMMAND...: runs a client and compares its outcome with WANT
expect() {
    local want="$1" what="$2"; shift 2
    local out got mark="ok"
    out="$("$@" -d -V 5 2>&1 || true)"
    got="$(outcome "$out")"
    if [[ "$got" != "$want" ]]; then mark="UNEXPECTED (wanted $want)"; FAILURES=$((FAILURES + 1)); fi
    printf '  %-8s %-70s %s\n' "$got" "$what" "$mark"
    # An unexpected outcome shows what the client printed, so that a failed run can be read.
    if [[ "$mark" != ok ]]; then sed 's/^/      | /' <<<"$out" | head -40 >&2; fi
}
PUB=(mosquitto_pub -h 127.0.0.1 -m demo -q 1)
SUB=(mosquitto_sub -h 127.0.0.1 -E -q 1)
cert() { echo --cafile ca.pem --cert "$1.pem" --key "$1.key"; }

header "X.509 certificate, mutual TLS (CN sensor-7 maps to thing name sensor-7)"
# shellcheck disable=SC2046
{
expect allowed "sensor-7 publishes its telemetry at QoS 1"  "${PUB[@]}" -p "$MTLS" $(cert sensor-7) -i sensor-7 -t sensors/sensor-7/telemetry/temp
expect denied  "sensor-7 publishes at QoS 2 (statement allows QoS 0 and 1)" "${PUB[@]}" -p "$MTLS" $(cert sensor-7) -i sensor-7 -t sensors/sensor-7/telemetry/temp -q 2
expect denied  "sensor-7 publishes sensor-8's telemetry" "${PUB[@]}" -p "$MTLS" $(cert sensor-7) -i sensor-7 -t sensors/sensor-8/telemetry/temp
expect refused "sensor-7's certificate with client id sensor-8" "${PUB[@]}" -p "$MTLS" $(cert sensor-7) -i sensor-8 -t sensors/sensor-8/telemetry/temp
expect refused "sensor-9: certificate suspended in the registry" "${PUB[@]}" -p "$MTLS" $(cert sensor-9) -i sensor-9 -t sensors/sensor-9/telemetry/temp
}

header "X.509 certificate on a listener with use_identity_as_username (gateway-1)"
# shellcheck disable=SC2046
{
expect allowed "gateway-1 subscribes to sensors/+/telemetry/#" "${SUB[@]}" -p "$IDENT" $(cert gateway-1) -i gateway-1 -t 'sensors/+/telemetry/#'
expect denied  "gateway-1 subscribes to sensors/# (wider than granted)" "${SUB[@]}" -p "$IDENT" $(cert gateway-1) -i gateway-1 -t 'sensors/#'
expect denied  "gateway-1 subscribes to \$SYS/#" "${SUB[@]}" -p "$IDENT" $(cert gateway-1) -i gateway-1 -t '$SYS/#'
}

header "TLS-PSK (identity gateway-2)"
expect allowed "gateway-2 forwards a command to commands/sensor-7/reboot" "${PUB[@]}" -p "$PSK" --psk "$PSK_KEY" --psk-identity gateway-2 -i gateway-2 -t commands/sensor-7/reboot
expect denied  "gateway-2 publishes to plant/secret/keys" "${PUB[@]}" -p "$PSK" --psk "$PSK_KEY" --psk-identity gateway-2 -i gateway-2 -t plant/secret/keys
expect refused "gateway-2 with the wrong key" "${PUB[@]}" -p "$PSK" --psk "$(openssl rand -hex 32)" --psk-identity gateway-2 -i gateway-2 -t commands/sensor-7/reboot

header "password file (admin)"
expect allowed "admin as console-admin subscribes to \$SYS/#" "${SUB[@]}" -p "$PLAIN" -u admin -P admin-demo-password -i console-admin -t '$SYS/#'
expect refused "admin with a wrong password" "${PUB[@]}" -p "$PLAIN" -u admin -P wrong -i console-admin -t a/b
expect refused "admin with client id laptop (connect allows console-admin only)" "${PUB[@]}" -p "$PLAIN" -u admin -P admin-demo-password -i laptop -t a/b

header "JWT in the password (operator ana, claim role=ops)"
expect allowed "ops-ana sends a reboot at QoS 1" "${PUB[@]}" -p "$PLAIN" -u ana -P "$OPS_TOKEN" -i ops-ana -t commands/sensor-7/reboot
expect denied  "ops-ana sends a retained reboot (statement requires retain false)" "${PUB[@]}" -p "$PLAIN" -u ana -P "$OPS_TOKEN" -i ops-ana -t commands/sensor-7/reboot -r
expect allowed "ops-ana watches sensors/+/telemetry/#" "${SUB[@]}" -p "$PLAIN" -u ana -P "$OPS_TOKEN" -i ops-ana -t 'sensors/+/telemetry/#'
expect refused "ops-ana with an expired token" "${PUB[@]}" -p "$PLAIN" -u ana -P "$EXPIRED_TOKEN" -i ops-ana -t commands/sensor-7/reboot

header "AWS IoT custom-authorizer form: token and RSA signature in the username (gateway-3)"
expect allowed "gateway-3 relays sensors/sensor-1/telemetry/temp" "${PUB[@]}" -p "$PLAIN" -u "$(signed_username authorizer.key fleet "$GATEWAY_TOKEN")" -i gateway-3 -t sensors/sensor-1/telemetry/temp
expect denied  "gateway-3 publishes to plant/status" "${PUB[@]}" -p "$PLAIN" -u "$(signed_username authorizer.key fleet "$GATEWAY_TOKEN")" -i gateway-3 -t plant/status
expect refused "gateway-3's token signed with another key" "${PUB[@]}" -p "$PLAIN" -u "$(signed_username jwt.key fleet "$GATEWAY_TOKEN")" -i gateway-3 -t sensors/sensor-1/telemetry/temp

header "identity token from mqward token issue (gateway-4)"
expect allowed "gateway-4 subscribes to sensors/+/telemetry/#" "${SUB[@]}" -p "$PLAIN" -u gateway-4 -P "$IDENTITY_TOKEN" -i gateway-4 -t 'sensors/+/telemetry/#'
expect refused "gateway-4 with a made-up token" "${PUB[@]}" -p "$PLAIN" -u gateway-4 -P "IDENTITY-TOKEN//$(openssl rand 32 | b64url)" -i gateway-4 -t a/b

header "suspending a connected certificate disconnects it"
# shellcheck disable=SC2046
mosquitto_sub -h 127.0.0.1 -p "$IDENT" $(cert gateway-1) -i gateway-1 -t 'sensors/+/telemetry/#' -V 5 >sub.out 2>&1 &
SUB_PID=$!
# Connected and subscribed (so authenticated) once sensor-7's telemetry reaches it.
for _ in $(seq 1 100); do
    # shellcheck disable=SC2046
    mosquitto_pub -h 127.0.0.1 -p "$MTLS" $(cert sensor-7) -i sensor-7 -t sensors/sensor-7/telemetry/ping -m ping -q 1 >/dev/null 2>&1
    grep -q ping sub.out && break
    sleep 0.05
done
grep -q ping sub.out && echo "  gateway-1 is subscribed and receives sensor-7's telemetry"
start_ms=$(date +%s%3N)
"$MQWARD" cert suspend --registry registry.json gateway-1.pem | sed 's/^/  mqward cert suspend: /'
kicked=false
for _ in $(seq 1 500); do
    if grep -q "mqward: disconnecting client \`gateway-1\`" mosquitto.log; then kicked=true; break; fi
    sleep 0.01
done
elapsed=$(( $(date +%s%3N) - start_ms ))
kill "$SUB_PID" 2>/dev/null || true
wait "$SUB_PID" 2>/dev/null || true
if $kicked && (( elapsed < 1000 )); then
    printf '  %-8s %-70s ok\n' kicked "gateway-1 disconnected ${elapsed} ms after the registry changed"
else
    printf '  %-8s %-70s UNEXPECTED\n' "$($kicked && echo late || echo missed)" "gateway-1 (${elapsed} ms)"
    FAILURES=$((FAILURES + 1))
fi

header "the plugin's log lines (denials name the deciding statement; no secret is logged)"
grep -E "mqward: (denied|refused|disconnecting)" mosquitto.log | sed 's/^[0-9]*: /  /' | head -40

stop_broker
header "broker stopped"
if (( FAILURES > 0 )); then
    echo "the broker's last log lines:" >&2
    tail -n 60 mosquitto.log | sed 's/^/      | /' >&2
    echo "$FAILURES outcome(s) differed from the expected ones" >&2
    exit 1
fi
echo "every outcome was the expected one"
