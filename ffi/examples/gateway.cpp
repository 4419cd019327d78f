// A C++ gateway embedding mqward: RAII handles, events by callback, identities decided from
// several threads while the configuration reloads.
//
//   gateway_cpp CONFIG USERNAME PASSWORD
//
// CONFIG is an mqward configuration (see mqward.json next to this file) whose password file
// knows USERNAME (the example policy gives `admin` everything). The program authenticates the
// user and a PSK gateway, decides from two threads, reloads, and exits 0 when every decision
// was the expected one.
//
// Build: c++ -std=c++17 -Wall -Wextra -O2 gateway.cpp $(pkg-config --cflags --libs mqward) -pthread

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mqward.h"

namespace {

// A failed call as an exception carrying the library's message.
class Error : public std::runtime_error {
public:
    Error(const std::string &what, mqward_result rc) : std::runtime_error(what + ": " + message(rc)) {}

    static std::string message(mqward_result rc) {
        char text[128];
        mqward_result_message(rc, text, sizeof text, nullptr);
        return text;
    }
};

void check(mqward_result rc, const char *what) {
    if (rc != MQWARD_RESULT_OK) {
        throw Error(what, rc);
    }
}

struct EngineFree {
    void operator()(const mqward_engine *e) const { mqward_engine_free(e); }
};
struct IdentityFree {
    void operator()(mqward_identity *i) const { mqward_identity_free(i); }
};
using EnginePtr = std::unique_ptr<const mqward_engine, EngineFree>;
using IdentityPtr = std::unique_ptr<mqward_identity, IdentityFree>;

mqward_request make_request(mqward_operation op, const std::string &resource, int32_t qos = MQWARD_QOS_UNKNOWN) {
    return mqward_request{op, resource.data(), resource.size(), qos, MQWARD_RETAIN_UNKNOWN};
}

// Thread-safe: identities may be decided from any thread.
bool allowed(mqward_identity *identity, const mqward_request &request) {
    mqward_effect effect;  // MQWARD_EFFECT_DENY on any error
    mqward_result rc = mqward_identity_authorize(identity, &request, &effect);
    return rc == MQWARD_RESULT_OK && effect == MQWARD_EFFECT_ALLOW;
}

// Collects events; the callback runs on the thread of the call that delivers them, one at a
// time, so it only takes what it needs and hands it over under a lock.
struct EventLog {
    std::mutex lock;
    std::vector<mqward_event_kind> kinds;

    static void on_event(void *userdata, const mqward_event *event) {
        auto *log = static_cast<EventLog *>(userdata);
        mqward_event_info info;
        if (mqward_event_describe(event, &info) == MQWARD_RESULT_OK) {
            std::lock_guard<std::mutex> guard(log->lock);
            log->kinds.push_back(info.kind);
        }
    }
};

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: %s CONFIG USERNAME PASSWORD\n", argv[0]);
        return 2;
    }
    int mismatches = 0;
    auto expect = [&mismatches](bool got, bool want, const char *what) {
        std::printf("  %-48s -> %s\n", what, got ? "allow" : "deny");
        mismatches += got != want;
    };
    try {
        const mqward_engine *raw = nullptr;
        char report[2048];
        mqward_result rc = mqward_engine_new_from_file(argv[1], report, sizeof report, nullptr, &raw);
        if (rc != MQWARD_RESULT_OK) {
            std::fprintf(stderr, "%s\n", report);
        }
        check(rc, "configuration");
        EnginePtr engine(raw);

        EventLog events;
        check(mqward_engine_set_event_callback(engine.get(), &EventLog::on_event, &events), "callback");

        // A user with a password (MQTT 5 passwords are bytes).
        std::string user = argv[2], password = argv[3];
        mqward_credentials credentials{};
        credentials.client_id = "console-admin";
        credentials.client_id_len = std::strlen(credentials.client_id);
        credentials.username = user.data();
        credentials.username_len = user.size();
        credentials.password = reinterpret_cast<const uint8_t *>(password.data());
        credentials.password_len = password.size();
        mqward_identity *admin_raw = nullptr;
        check(mqward_engine_authenticate(engine.get(), &credentials, &admin_raw), "authenticate");
        IdentityPtr admin(admin_raw);

        char name[64];
        check(mqward_identity_attribute(admin.get(), "username", name, sizeof name, nullptr), "attribute");
        std::printf("authenticated %s\n", name);
        expect(allowed(admin.get(), make_request(MQWARD_OPERATION_CONNECT, "console-admin")), true,
               "admin connect console-admin");
        expect(allowed(admin.get(), make_request(MQWARD_OPERATION_SUBSCRIBE, "$SYS/#", 0)), true,
               "admin subscribe $SYS/#");
        expect(allowed(admin.get(), make_request(MQWARD_OPERATION_PUBLISH, "$SYS/broker", 0)), false,
               "admin publish $SYS/broker");

        // A PSK gateway, decided from two threads while the main thread reloads.
        mqward_credentials psk{};
        psk.client_id = "gateway-1";
        psk.client_id_len = std::strlen(psk.client_id);
        psk.psk_identity = psk.client_id;
        psk.psk_identity_len = psk.client_id_len;
        mqward_identity *gateway_raw = nullptr;
        check(mqward_engine_authenticate(engine.get(), &psk, &gateway_raw), "authenticate gateway");
        IdentityPtr gateway(gateway_raw);

        std::atomic<int> wrong{0};
        std::atomic<bool> running{true};
        auto decide = [&] {
            const std::string relay = "sensors/sensor-3/telemetry/temp", secret = "secret/plans";
            while (running.load()) {
                wrong += !allowed(gateway.get(), make_request(MQWARD_OPERATION_PUBLISH, relay, 1));
                wrong += allowed(gateway.get(), make_request(MQWARD_OPERATION_PUBLISH, secret, 1));
            }
        };
        std::thread a(decide), b(decide);
        for (int i = 0; i < 20; i++) {
            check(mqward_engine_reload(engine.get(), report, sizeof report, nullptr), "reload");
        }
        running = false;
        a.join();
        b.join();
        std::printf("  two threads decided during 20 reloads: %d wrong\n", wrong.load());
        mismatches += wrong.load();

        std::lock_guard<std::mutex> guard(events.lock);
        std::printf("  callback saw %zu reload events\n", events.kinds.size());
        mismatches += events.kinds.size() != 20;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "gateway_cpp: %s\n", e.what());
        return 1;
    }
    std::printf("%s\n", mismatches == 0 ? "every decision as expected" : "UNEXPECTED DECISIONS");
    return mismatches == 0 ? 0 : 1;
}
