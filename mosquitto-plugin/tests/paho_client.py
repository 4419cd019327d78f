#!/usr/bin/env python3
"""An MQTT client for the broker tests, on paho-mqtt (an implementation independent of
Mosquitto's own clients): runs a script of steps and prints what the broker answered as JSON.

Usage: paho_client.py SCRIPT.json  (or the script on stdin)

Script (one client):
  {"port": 1883, "client_id": "c1", "protocol": 5 | 4, "username": "u", "password": "p",
   "clean": true, "keepalive": 30,
   "tls": {"ca": "ca.pem", "cert": "c.pem", "key": "c.key"},
   "will": {"topic": "t", "payload": "x", "qos": 1},
   "steps": [
     ["subscribe", [["a/#", 1], ["b", 0]]]      -> suback: reason codes (v5) or granted QoS/0x80
     ["unsubscribe", ["a/#"]]                  -> unsuback: reason codes (v5)
     ["publish", "topic", "payload", 1, false] -> puback: reason code (QoS 1; 0 for QoS 0)
     ["collect", 2, 5.0]                       -> waits for 2 messages in all, at most 5 s
     ["ready", "path"]                         -> creates the file `path` (the test's cue)
     ["wait_file", "path", 10.0]               -> waits until the file `path` exists
     ["wait_disconnect", 5.0]                  -> waits until the broker disconnects us
     ["drop"]                                  -> closes the socket without DISCONNECT (the will)
     ["disconnect"]
   ]}
Output: {"connack": code, "suback": [[...]], "unsuback": [[...]], "puback": [...],
         "messages": [[topic, payload, qos, retain]], "disconnected": code | null,
         "disconnected_after": seconds after the last `ready` | null}

Load mode: {"load": {"port": .., "clients": 20, "username": .., "password": ..,
  "topics": [["allowed/t", true], ["denied/t", false]], "stop_file": "path", "ready_file": "p"}}
  Every client publishes each topic at QoS 1 in turn until the stop file exists; prints
  {"acks": {"topic": {"code": count}}, "disconnects": n, "refused": n}.
"""

import json
import os
import sys
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def code(rc):
    """A reason code as an int (paho gives ReasonCode objects or ints)."""
    return rc.value if hasattr(rc, "value") else int(rc)


class Session:
    def __init__(self, spec):
        self.spec = spec
        self.protocol = mqtt.MQTTv5 if spec.get("protocol", 5) == 5 else mqtt.MQTTv311
        self.cond = threading.Condition()
        self.connack = None
        self.subacks = {}
        self.unsubacks = {}
        self.pubacks = {}
        self.messages = []
        self.disconnected = None
        self.disconnected_at = None
        self.mark = None
        kwargs = {}
        if self.protocol == mqtt.MQTTv311:
            kwargs["clean_session"] = spec.get("clean", True)
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=spec.get("client_id", ""),
            protocol=self.protocol,
            **kwargs,
        )
        c = self.client
        if "username" in spec:
            c.username_pw_set(spec["username"], spec.get("password"))
        tls = spec.get("tls")
        if tls:
            c.tls_set(ca_certs=tls["ca"], certfile=tls.get("cert"), keyfile=tls.get("key"))
        will = spec.get("will")
        if will:
            c.will_set(will["topic"], will.get("payload", ""), will.get("qos", 0), will.get("retain", False))
        c.on_connect = self.on_connect
        c.on_subscribe = self.on_subscribe
        c.on_unsubscribe = self.on_unsubscribe
        c.on_publish = self.on_publish
        c.on_message = self.on_message
        c.on_disconnect = self.on_disconnect

    # paho callbacks run on its network thread.
    def on_connect(self, client, userdata, flags, rc, properties):
        with self.cond:
            self.connack = code(rc)
            self.cond.notify_all()

    def on_subscribe(self, client, userdata, mid, rcs, properties):
        with self.cond:
            self.subacks[mid] = [code(r) for r in rcs]
            self.cond.notify_all()

    def on_unsubscribe(self, client, userdata, mid, rcs, properties):
        with self.cond:
            self.unsubacks[mid] = [code(r) for r in rcs] if rcs else []
            self.cond.notify_all()

    def on_publish(self, client, userdata, mid, rc, properties):
        with self.cond:
            self.pubacks[mid] = code(rc)
            self.cond.notify_all()

    def on_message(self, client, userdata, msg):
        with self.cond:
            self.messages.append([msg.topic, msg.payload.decode(errors="replace"), msg.qos, bool(msg.retain)])
            self.cond.notify_all()

    def on_disconnect(self, client, userdata, flags, rc, properties):
        with self.cond:
            if self.disconnected is None:
                self.disconnected = code(rc)
                self.disconnected_at = time.monotonic()
            self.cond.notify_all()

    def wait(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def run(self):
        spec = self.spec
        out = {"connack": None, "suback": [], "unsuback": [], "puback": [], "messages": [],
               "disconnected": None, "disconnected_after": None}
        c = self.client
        props = None
        if self.protocol == mqtt.MQTTv5 and not spec.get("clean", True):
            from paho.mqtt.properties import Properties
            from paho.mqtt.packettypes import PacketTypes
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        try:
            if self.protocol == mqtt.MQTTv5:
                c.connect("127.0.0.1", spec["port"], spec.get("keepalive", 30),
                          clean_start=spec.get("clean", True), properties=props)
            else:
                c.connect("127.0.0.1", spec["port"], spec.get("keepalive", 30))
        except Exception as e:  # TLS handshake refused, connection refused
            out["error"] = str(e)
            return out
        c.loop_start()
        try:
            self.wait(lambda: self.connack is not None or self.disconnected is not None, 10)
            out["connack"] = self.connack
            if self.connack != 0:
                return out
            for step in spec.get("steps", []):
                self.step(step, out)
        finally:
            with self.cond:
                out["messages"] = list(self.messages)
                out["disconnected"] = self.disconnected
                if self.disconnected_at is not None and self.mark is not None:
                    out["disconnected_after"] = self.disconnected_at - self.mark
            c.loop_stop()
        return out

    def step(self, step, out):
        c = self.client
        kind = step[0]
        if kind == "subscribe":
            _, mid = c.subscribe([(f, q) for f, q in step[1]])
            self.wait(lambda: mid in self.subacks or self.disconnected is not None, 10)
            out["suback"].append(self.subacks.get(mid))
        elif kind == "unsubscribe":
            _, mid = c.unsubscribe(step[1])
            self.wait(lambda: mid in self.unsubacks or self.disconnected is not None, 10)
            out["unsuback"].append(self.unsubacks.get(mid))
        elif kind == "publish":
            _, topic, payload, qos, retain = step
            info = c.publish(topic, payload, qos, retain)
            if qos == 0:
                out["puback"].append(0)
            else:
                self.wait(lambda: info.mid in self.pubacks or self.disconnected is not None, 10)
                out["puback"].append(self.pubacks.get(info.mid))
        elif kind == "collect":
            _, count, timeout = step
            self.wait(lambda: len(self.messages) >= count, timeout)
        elif kind == "ready":
            self.mark = time.monotonic()
            with open(step[1], "w") as f:
                f.write("ready\n")
        elif kind == "wait_file":
            deadline = time.monotonic() + step[2]
            while not os.path.exists(step[1]) and time.monotonic() < deadline:
                time.sleep(0.01)
        elif kind == "wait_disconnect":
            self.wait(lambda: self.disconnected is not None, step[1])
        elif kind == "drop":
            c.loop_stop()
            c.socket().close()
        elif kind == "disconnect":
            c.disconnect()
            self.wait(lambda: self.disconnected is not None, 5)
        else:
            raise SystemExit(f"unknown step {kind}")


def load(spec):
    """Many clients publishing allowed and denied topics at QoS 1 until told to stop."""
    acks = {t: {} for t, _ in spec["topics"]}
    lock = threading.Lock()
    counters = {"disconnects": 0, "refused": 0}
    stop = threading.Event()

    def worker(n):
        sess = Session({"port": spec["port"], "client_id": f"load-{n}", "protocol": 5,
                        "username": spec["username"], "password": spec["password"]})
        c = sess.client
        c.connect("127.0.0.1", spec["port"], 30)
        c.loop_start()
        sess.wait(lambda: sess.connack is not None, 10)
        if sess.connack != 0:
            with lock:
                counters["refused"] += 1
            return
        while not stop.is_set():
            for topic, _ in spec["topics"]:
                info = c.publish(topic, f"{n}", 1)
                sess.wait(lambda: info.mid in sess.pubacks or sess.disconnected is not None, 10)
                rc = sess.pubacks.get(info.mid)
                with lock:
                    acks[topic][str(rc)] = acks[topic].get(str(rc), 0) + 1
            if sess.disconnected is not None:
                with lock:
                    counters["disconnects"] += 1
                break
        c.disconnect()
        c.loop_stop()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(spec["clients"])]
    for t in threads:
        t.start()
    with open(spec["ready_file"], "w") as f:
        f.write("ready\n")
    while not os.path.exists(spec["stop_file"]):
        time.sleep(0.02)
    stop.set()
    for t in threads:
        t.join(30)
    return {"acks": acks, **counters}


def main():
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    spec = json.loads(text)
    if "load" in spec:
        out = load(spec["load"])
    else:
        out = Session(spec).run()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
