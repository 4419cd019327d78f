# Shell helpers shared by scripts/mosquitto-demo.sh and benches/mosquitto-bench.sh: credentials
# made with the tools an operator would use (openssl, mosquitto_passwd), and Debian's mosquitto
# started on loopback. Source it; every function works in the current directory.

header() { printf '\n=== %s\n' "$1"; }
quiet() { "$@" >/dev/null 2>&1; }

# A P-256 demo CA valid for two days: ca.pem, ca.key.
make_ca() {
    quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=$1" -keyout ca.key -out ca.pem \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

# leaf NAME EXTENSIONS...: NAME.pem and NAME.key, a P-256 certificate with CN NAME signed by the
# CA.
leaf() {
    local name="$1"; shift
    quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$name" \
        -keyout "$name.key" -out "$name.csr"
    quiet openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -out "$name.pem" -extfile <(printf '%s\n' "$@")
}
server_cert() { leaf server "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth"; }
client_cert() { leaf "$1" "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature"; }

# rsa_key NAME: NAME.key and NAME.pub, RSA-2048.
rsa_key() {
    quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1.key"
    quiet openssl pkey -in "$1.key" -pubout -out "$1.pub"
}

# Compact JWS signed with OpenSSL: RS256 is RSASSA-PKCS1-v1_5 with SHA-256.
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# jwt KEYFILE KID CLAIMS-JSON
jwt() {
    local input
    input="$(printf '{"alg":"RS256","kid":"%s","typ":"JWT"}' "$2" | b64url).$(printf '%s' "$3" | b64url)"
    printf '%s.%s' "$input" "$(printf '%s' "$input" | openssl dgst -sha256 -sign "$1" | b64url)"
}
# signed_username KEYFILE AUTHORIZER TOKEN: the AWS IoT custom-authorizer username form.
signed_username() {
    local sig
    sig="$(printf '%s' "$3" | openssl dgst -sha256 -sign "$1" | openssl base64 -A \
        | sed -e 's/+/%2B/g' -e 's/\//%2F/g' -e 's/=/%3D/g')"
    printf 'device?x-amz-customauthorizer-name=%s&x-amz-customauthorizer-signature=%s&token=%s' "$2" "$sig" "$3"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_broker CONF LOG PORT: starts mosquitto in the background (BROKER_PID) and waits until
# PORT accepts connections; fails if the broker exits first.
start_broker() {
    mosquitto -c "$1" >>"$2" 2>&1 &
    BROKER_PID=$!
    for _ in $(seq 1 1000); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$3") 2>/dev/null; then return 0; fi
        if ! kill -0 "$BROKER_PID" 2>/dev/null; then
            cat "$2" >&2
            echo "mosquitto did not start" >&2
            return 1
        fi
        sleep 0.01
    done
    echo "mosquitto did not open port $3" >&2
    return 1
}

# stop_broker: stops the broker start_broker started.
stop_broker() {
    if [[ -n "${BROKER_PID:-}" ]] && kill -0 "$BROKER_PID" 2>/dev/null; then
        kill "$BROKER_PID" 2>/dev/null || true
        wait "$BROKER_PID" 2>/dev/null || true
    fi
    BROKER_PID=""
}
