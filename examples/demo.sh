#!/usr/bin/env bash
# Walks through mqward's decisions on examples/policy.json.
#
# Usage: examples/demo.sh [PATH-TO-MQWARD]   (default: target/release/mqward)
# Builds nothing: run `cargo build --release -p mqward-cli` first. Run from the repository root
# or anywhere else; the example files are found next to this script.
set -euo pipefail

MQWARD="${1:-target/release/mqward}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POLICY="$HERE/policy.json"

if [[ ! -x "$MQWARD" ]]; then
    echo "demo.sh: no mqward binary at \`$MQWARD\` (build it with cargo build --release -p mqward-cli)" >&2
    exit 2
fi

header() {
    printf '\n=== %s\n' "$1"
}

# Runs `mqward explain` and prints its first two lines. Exit 0 (allow) and 1 (deny) are the
# answers; anything else (2: bad input) stops the demo.
explain() {
    local out status=0
    out="$("$MQWARD" explain --policy "$POLICY" "$@")" || status=$?
    if (( status > 1 )); then
        echo "demo.sh: mqward explain failed with exit code $status" >&2
        exit "$status"
    fi
    # No pipe into `head`: under pipefail its early exit can kill the writer with SIGPIPE.
    sed -n '1,2p' <<<"$out"
}

header "check examples/policy.json"
"$MQWARD" check "$POLICY"

header "sensor-7 connects with its own client id: allowed"
explain --thing sensor-7 --client-id sensor-7 --action connect

header "sensor-7 connects as sensor-8: denied"
explain --thing sensor-7 --client-id sensor-8 --action connect

header "sensor-7 publishes its own telemetry at QoS 1: allowed"
explain --thing sensor-7 --client-id sensor-7 --action publish \
    --topic sensors/sensor-7/telemetry/temp --qos 1

header "sensor-7 publishes on sensor-8's telemetry: denied"
explain --thing sensor-7 --client-id sensor-7 --action publish \
    --topic sensors/sensor-8/telemetry/temp --qos 1

header "sensor-7 subscribes to its own commands: allowed"
explain --thing sensor-7 --client-id sensor-7 --action subscribe --topic 'commands/sensor-7/#'

header "sensor-7 subscribes to everyone's commands, commands/#: denied (wider than granted)"
explain --thing sensor-7 --client-id sensor-7 --action subscribe --topic 'commands/#'

header "gateway-1 subscribes to sensors/+/telemetry/#: allowed"
explain --thing gateway-1 --client-id gateway-1 --action subscribe --topic 'sensors/+/telemetry/#'

header "gateway-1 subscribes to sensors/#: denied (not contained in sensors/+/telemetry/#)"
explain --thing gateway-1 --client-id gateway-1 --action subscribe --topic 'sensors/#'

header "gateway-1 subscribes to \$SYS/#: denied"
explain --thing gateway-1 --client-id gateway-1 --action subscribe --topic '$SYS/#'

header "admin receives \$SYS/broker/uptime: allowed"
explain --username admin --client-id console-admin --action receive --topic '$SYS/broker/uptime'

header "gateway-1 publishes to plant/secret/keys: denied"
explain --thing gateway-1 --client-id gateway-1 --action publish --topic plant/secret/keys

header "a client whose id is + subscribes to clients/+/inbox (everyone's inboxes): denied"
explain --client-id '+' --kind anonymous --action subscribe --topic 'clients/+/inbox'

header "the same inbox rule for client c-1: allowed"
explain --client-id c-1 --kind anonymous --action subscribe --topic 'clients/c-1/inbox'

header "an operator (claim role=ops) sends a reboot at QoS 1: allowed"
explain --kind jwt --attr claim.role=ops --client-id ops-ana --action publish \
    --topic commands/sensor-7/reboot --qos 1

header "the same reboot at QoS 0: denied (the statement requires QoS 1)"
explain --kind jwt --attr claim.role=ops --client-id ops-ana --action publish \
    --topic commands/sensor-7/reboot --qos 0

header "a malformed topic (a wildcard in a topic name): denied"
explain --thing sensor-7 --client-id sensor-7 --action publish --topic 'sensors/sensor-7/telemetry/+'

header "import examples/greengrass.json (first lines)"
imported="$("$MQWARD" import greengrass "$HERE/greengrass.json" 2>/dev/null)"
sed -n '1,12p' <<<"$imported"

header "import examples/acl (warnings)"
"$MQWARD" import mosquitto-acl "$HERE/acl" >/dev/null
