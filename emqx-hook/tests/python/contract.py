#!/usr/bin/env python3
"""The ExHook contract, checked with a Python grpcio client independent of mqward's Rust code.

Stubs are generated at run time by grpcio-tools from the repository's .proto files into a
temporary directory; then the same cases run over the emqx.exhook.v2 and emqx.exhook.v3
paths. Halfway through, the script asks its caller to reload the server: it prints `RELOAD`
on stdout and waits for a line on stdin.

Usage: contract.py PROTO_DIR HOST:PORT
The server's engine holds the users alice ("correct horse") and bob ("battery staple") and
the policy of emqx-hook/tests/common/mod.rs; the reload swaps in its RELOADED_POLICY.
Exit status 0 when every check passed; each failure is printed on stderr.
"""

import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

FAILURES = []


def generate(proto_dir, out_dir):
    for version in ("v2", "v3"):
        source = os.path.join("emqx", "exhook", version, "exhook.proto")
        code = protoc.main(
            [
                "grpc_tools.protoc",
                "-I" + proto_dir,
                "--python_out=" + out_dir,
                "--grpc_python_out=" + out_dir,
                source,
            ]
        )
        if code != 0:
            sys.exit("protoc failed on " + source)
    sys.path.insert(0, out_dir)


def check(what, got, want):
    if got != want:
        FAILURES.append("%s: got %r, want %r" % (what, got, want))


class Hook:
    """One protocol package's stub and messages."""

    def __init__(self, channel, version):
        self.version = version
        pb = __import__("emqx.exhook.%s.exhook_pb2" % version, fromlist=["x"])
        rpc = __import__("emqx.exhook.%s.exhook_pb2_grpc" % version, fromlist=["x"])
        self.pb = pb
        self.stub = rpc.HookProviderStub(channel)
        self.channel = channel

    def info(self, clientid, username="", password="", port=50000, sockport=1883, cn="", dn=""):
        return self.pb.ClientInfo(
            node="emqx@127.0.0.1",
            clientid=clientid,
            username=username,
            password=password,
            peerhost="10.0.0.8",
            peerport=port,
            sockport=sockport,
            protocol="mqtt",
            cn=cn,
            dn=dn,
        )

    def answer(self, response):
        """(type name, bool_result or None) of a ValuedResponse."""
        kind = self.pb.ValuedResponse.ResponsedType.Name(response.type)
        value = response.bool_result if response.WhichOneof("value") == "bool_result" else None
        return (kind, value)

    def authenticate(self, info, result=False):
        request = self.pb.ClientAuthenticateRequest(clientinfo=info, result=result)
        return self.answer(self.stub.OnClientAuthenticate(request, timeout=10))

    def authorize(self, info, kind, topic, result=True):
        request = self.pb.ClientAuthorizeRequest(
            clientinfo=info, type=kind, topic=topic, result=result
        )
        return self.answer(self.stub.OnClientAuthorize(request, timeout=10))

    def publish(self, info, topic):
        return self.authorize(info, self.pb.ClientAuthorizeRequest.PUBLISH, topic)

    def subscribe(self, info, topic):
        return self.authorize(info, self.pb.ClientAuthorizeRequest.SUBSCRIBE, topic)


STOP_TRUE = ("STOP_AND_RETURN", True)
STOP_FALSE = ("STOP_AND_RETURN", False)


def before_reload(hook):
    v = hook.version
    loaded = hook.stub.OnProviderLoaded(hook.pb.ProviderLoadedRequest(), timeout=10)
    check(
        v + " hooks",
        [h.name for h in loaded.hooks],
        ["client.authenticate", "client.authorize", "client.connected", "client.disconnected"],
    )

    alice = hook.info("py-alice-" + v, "alice", "correct horse")
    check(v + " alice logs in", hook.authenticate(alice), STOP_TRUE)
    hook.stub.OnClientConnected(hook.pb.ClientConnectedRequest(clientinfo=alice), timeout=10)
    check(v + " own telemetry", hook.publish(alice, "devices/alice/temp"), STOP_TRUE)
    check(v + " other's telemetry", hook.publish(alice, "devices/bob/temp"), STOP_FALSE)
    check(v + " secret", hook.publish(alice, "devices/alice/secret"), STOP_FALSE)
    check(v + " own commands", hook.subscribe(alice, "cmd/alice/#"), STOP_TRUE)
    check(v + " all commands", hook.subscribe(alice, "cmd/#"), STOP_FALSE)
    check(v + " new place, before", hook.publish(alice, "telemetry/alice/t"), STOP_FALSE)

    wrong = hook.info("py-bob-" + v, "bob", "correct horse")
    check(v + " wrong password", hook.authenticate(wrong), STOP_FALSE)
    check(v + " refused client publishes", hook.publish(wrong, "devices/bob/t"), STOP_FALSE)
    unknown = hook.info("py-mallory-" + v, "mallory", "x")
    check(v + " unknown user", hook.authenticate(unknown), STOP_FALSE)
    stranger = hook.info("py-stranger-" + v, "alice", "correct horse")
    check(v + " unknown client publishes", hook.publish(stranger, "devices/alice/t"), STOP_FALSE)
    check(v + " unknown client subscribes", hook.subscribe(stranger, "cmd/alice/#"), STOP_FALSE)

    # Malformed requests: no clientinfo, no client id, an unknown type, bad topics.
    check(
        v + " empty authenticate",
        hook.answer(hook.stub.OnClientAuthenticate(hook.pb.ClientAuthenticateRequest(), timeout=10)),
        STOP_FALSE,
    )
    check(
        v + " empty authorize",
        hook.answer(hook.stub.OnClientAuthorize(hook.pb.ClientAuthorizeRequest(), timeout=10)),
        STOP_FALSE,
    )
    check(v + " no client id", hook.authenticate(hook.info("", "alice", "correct horse")), STOP_FALSE)
    check(v + " unknown type", hook.authorize(alice, 7, "devices/alice/t"), STOP_FALSE)
    check(v + " wildcard publish", hook.publish(alice, "devices/alice/+"), STOP_FALSE)
    check(v + " bad filter", hook.subscribe(alice, "cmd/alice/#/x"), STOP_FALSE)
    # Bytes that are not a protobuf message: an error status, never an answer that allows.
    raw = hook.channel.unary_unary(
        "/emqx.exhook.%s.HookProvider/OnClientAuthorize" % v,
        request_serializer=None,
        response_deserializer=None,
    )
    try:
        raw(b"\xff\xff\xff\xff", timeout=10)
        FAILURES.append(v + " garbage bytes were answered")
    except grpc.RpcError as e:
        check(v + " garbage bytes status", e.code() != grpc.StatusCode.OK, True)
    check(v + " still serving", hook.publish(alice, "devices/alice/temp"), STOP_TRUE)

    # Certificate names are not trusted on this server (no certificate listener declared).
    sensor = hook.info("sensor-1", sockport=8883, cn="sensor-1", dn="CN=sensor-1")
    check(v + " cn without the mode", hook.authenticate(sensor), STOP_FALSE)
    return alice


def after_reload(hook, alice):
    v = hook.version
    check(v + " old place, after", hook.publish(alice, "devices/alice/temp"), STOP_FALSE)
    check(v + " new place, after", hook.publish(alice, "telemetry/alice/t"), STOP_TRUE)
    check(v + " commands, after", hook.subscribe(alice, "cmd/alice/#"), STOP_TRUE)
    again = hook.info("py-alice-again-" + v, "alice", "correct horse")
    check(v + " login after reload", hook.authenticate(again), STOP_TRUE)
    hook.stub.OnClientDisconnected(
        hook.pb.ClientDisconnectedRequest(clientinfo=alice, reason="normal"), timeout=10
    )
    check(v + " after disconnect", hook.publish(alice, "telemetry/alice/t"), STOP_FALSE)
    try:
        hook.stub.OnMessagePublish(hook.pb.MessagePublishRequest(), timeout=10)
        FAILURES.append(v + " message.publish was served")
    except grpc.RpcError as e:
        check(v + " unserved hook", e.code(), grpc.StatusCode.UNIMPLEMENTED)


def main():
    proto_dir, addr = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out_dir:
        generate(proto_dir, out_dir)
        channel = grpc.insecure_channel(addr)
        hooks = [Hook(channel, "v2"), Hook(channel, "v3")]
        sessions = [before_reload(h) for h in hooks]
        print("RELOAD", flush=True)
        if sys.stdin.readline().strip() != "reloaded":
            sys.exit("the reload did not happen")
        for hook, alice in zip(hooks, sessions):
            after_reload(hook, alice)
        channel.close()
    for failure in FAILURES:
        print("FAIL " + failure, file=sys.stderr)
    print("checks failed: %d" % len(FAILURES))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
