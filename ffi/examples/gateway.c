/*
 * A C gateway embedding mqward: what a broker or gateway does at each step of a client's life.
 *
 *   gateway CONFIG [SENSOR_CERT_PEM]
 *
 * CONFIG is an mqward configuration (see mqward.json next to this file); SENSOR_CERT_PEM, if
 * given, is the client certificate of `sensor-1` signed by the configuration's trust anchor.
 * The program plays a PSK gateway client and a certificate sensor client, prints what it
 * decides and why, acts on the engine's events (persisting the certificate registry,
 * disconnecting clients), reloads, and exits 0 when every decision was the expected one.
 *
 * Build: cc -Wall -Wextra -O2 gateway.c $(pkg-config --cflags --libs mqward)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqward.h"

/* One connected client, as a gateway keeps it. */
struct client {
    const char *client_id;
    mqward_session_token session;
    int connected;
};

static int mismatches = 0;

/* Logs a failed call with the library's message for its result. */
static void log_result(const char *what, mqward_result rc) {
    char message[128];
    mqward_result_message(rc, message, sizeof message, NULL);
    fprintf(stderr, "%s: %s (%u)\n", what, message, (unsigned)rc);
}

/* Decides one request for a client's session and compares with what the policy should say. */
static void decide(const mqward_engine *engine, const struct client *c, uint32_t operation,
                   const char *resource, int32_t qos, mqward_effect expected) {
    mqward_request request = {operation, resource, strlen(resource), qos, MQWARD_RETAIN_UNKNOWN};
    mqward_effect effect; /* written on every call: MQWARD_EFFECT_DENY whenever rc is an error */
    mqward_result rc = mqward_session_authorize(engine, &c->session, &request, &effect);
    if (rc != MQWARD_RESULT_OK) {
        log_result("authorize", rc);
    }
    printf("  %-9s %-12s %-32s -> %s\n", c->client_id,
           operation == MQWARD_OPERATION_PUBLISH     ? "publish"
           : operation == MQWARD_OPERATION_SUBSCRIBE ? "subscribe"
                                                     : "other",
           resource, effect == MQWARD_EFFECT_ALLOW ? "allow" : "deny");
    if (effect != expected) {
        mismatches++;
    }
    if (effect == MQWARD_EFFECT_DENY && rc == MQWARD_RESULT_OK) {
        /* Why: for the log. Ask for the length first, then write. */
        size_t needed = 0;
        mqward_session_explain(engine, &c->session, &request, NULL, 0, &needed);
        char *why = malloc(needed + 1);
        if (why != NULL &&
            mqward_session_explain(engine, &c->session, &request, why, needed + 1, NULL) ==
                MQWARD_RESULT_OK) {
            for (char *line = strtok(why, "\n"); line != NULL; line = strtok(NULL, "\n")) {
                printf("    | %s\n", line);
            }
        }
        free(why);
    }
}

/* Opens a session at CONNECT; the gateway refuses the client when this fails. */
static int connect_client(const mqward_engine *engine, struct client *c,
                          const mqward_credentials *credentials) {
    mqward_result rc = mqward_session_open(engine, credentials, &c->session);
    if (rc != MQWARD_RESULT_OK) {
        log_result(c->client_id, rc);
        return 0;
    }
    c->connected = 1;
    printf("  %s connected\n", c->client_id);
    return 1;
}

/* Writes the registry next to the configuration, atomically (temporary file, then rename). */
static void persist_registry(const mqward_engine *engine, const char *config) {
    size_t needed = 0;
    if (mqward_engine_registry_json(engine, NULL, 0, &needed) != MQWARD_RESULT_INSUFFICIENT_SIZE) {
        return;
    }
    char *json = malloc(needed + 1);
    char path[4096], tmp[4200];
    const char *slash = strrchr(config, '/');
    int dir_len = slash ? (int)(slash - config) : 1;
    snprintf(path, sizeof path, "%.*s/registry.json", dir_len, slash ? config : ".");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (json != NULL && mqward_engine_registry_json(engine, json, needed + 1, NULL) == MQWARD_RESULT_OK) {
        FILE *f = fopen(tmp, "wb");
        if (f != NULL) {
            int ok = fwrite(json, 1, needed, f) == needed;
            ok = fclose(f) == 0 && ok;
            if (ok && rename(tmp, path) == 0) {
                printf("  registry saved to %s\n", path);
            }
        }
    }
    free(json);
}

static const char *state_name(mqward_cert_state s) {
    switch (s) {
    case MQWARD_CERT_STATE_INACTIVE: return "inactive";
    case MQWARD_CERT_STATE_ACTIVE: return "active";
    case MQWARD_CERT_STATE_SUSPENDED: return "suspended";
    case MQWARD_CERT_STATE_REVOKED: return "revoked";
    default: return "unregistered";
    }
}

/* Acts on every pending event; `fingerprint` receives the last certificate activated. */
static void handle_events(const mqward_engine *engine, const char *config, struct client *clients,
                          size_t n, char fingerprint[65]) {
    mqward_event *event = NULL;
    while (mqward_engine_poll_event(engine, &event) == MQWARD_RESULT_OK && event != NULL) {
        mqward_event_info info;
        if (mqward_event_describe(event, &info) == MQWARD_RESULT_OK) {
            switch (info.kind) {
            case MQWARD_EVENT_KIND_STATE_CHANGED:
                printf("  event: certificate %.16s... %s -> %s\n", info.fingerprint,
                       state_name(info.from_state), state_name(info.to_state));
                if (info.to_state == MQWARD_CERT_STATE_ACTIVE) {
                    memcpy(fingerprint, info.fingerprint, 65);
                }
                persist_registry(engine, config);
                break;
            case MQWARD_EVENT_KIND_DISCONNECT:
                printf("  event: disconnect %s (reason %u)\n", info.client_id ? info.client_id : "?",
                       (unsigned)info.reason);
                for (size_t i = 0; i < n; i++) {
                    if (memcmp(&clients[i].session, &info.session, sizeof info.session) == 0) {
                        clients[i].connected = 0; /* a real gateway closes the connection here */
                    }
                }
                break;
            case MQWARD_EVENT_KIND_RELOADED:
                printf("  event: configuration reloaded\n");
                break;
            default:
                break;
            }
        }
        mqward_event_free(event);
    }
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s CONFIG [SENSOR_CERT_PEM]\n", argv[0]);
        return 2;
    }
    const char *config = argv[1];
    if (mqward_version_number() != MQWARD_VERSION_NUMBER) {
        fprintf(stderr, "built with mqward %s, running with %s\n", MQWARD_VERSION, mqward_version());
        return 1;
    }

    /* Start-up: every file the configuration names is read and checked now. */
    const mqward_engine *engine = NULL;
    char report[2048];
    mqward_result rc = mqward_engine_new_from_file(config, report, sizeof report, NULL, &engine);
    if (rc != MQWARD_RESULT_OK) {
        log_result("mqward configuration", rc);
        fprintf(stderr, "%s\n", report);
        return 1;
    }
    if (report[0] != '\0') {
        printf("warning: %s\n", report);
    }
    printf("mqward %s ready\n", mqward_version());

    struct client clients[2] = {{"gateway-1", {{0}}, 0}, {"sensor-1", {{0}}, 0}};

    /* TLS-PSK handshake: the TLS library asks for the key of the identity the client sent. */
    char key[2 * 256 + 1];
    size_t key_len = 0;
    rc = mqward_engine_psk_key(engine, "gateway-1", strlen("gateway-1"), key, sizeof key, &key_len);
    if (rc != MQWARD_RESULT_OK) {
        log_result("psk key", rc);
        mismatches++;
    }
    printf("PSK handshake for gateway-1: %zu-byte key\n", key_len / 2);
    memset(key, 0, sizeof key); /* the key is a secret: wipe it once the handshake has it */

    /* CONNECT: the handshake proved the PSK identity; the session checks `connect`. */
    mqward_credentials psk;
    memset(&psk, 0, sizeof psk);
    psk.client_id = "gateway-1";
    psk.client_id_len = strlen(psk.client_id);
    psk.psk_identity = "gateway-1";
    psk.psk_identity_len = strlen(psk.psk_identity);
    if (!connect_client(engine, &clients[0], &psk)) {
        mismatches++;
    }
    decide(engine, &clients[0], MQWARD_OPERATION_PUBLISH, "sensors/sensor-7/telemetry/temp", 1,
           MQWARD_EFFECT_ALLOW);
    decide(engine, &clients[0], MQWARD_OPERATION_SUBSCRIBE, "sensors/+/telemetry/#", 1,
           MQWARD_EFFECT_ALLOW);
    decide(engine, &clients[0], MQWARD_OPERATION_PUBLISH, "secret/plans", 0, MQWARD_EFFECT_DENY);
    decide(engine, &clients[0], MQWARD_OPERATION_SUBSCRIBE, "$SYS/#", 0, MQWARD_EFFECT_DENY);

    /* The same question as AWS Greengrass asks it, by strings. */
    mqward_effect effect;
    rc = mqward_session_authorize_greengrass(engine, &clients[0].session, "mqtt:publish",
                                             "mqtt:topic:commands/sensor-1/reboot", &effect);
    printf("  greengrass mqtt:publish commands/sensor-1/reboot -> %s\n",
           effect == MQWARD_EFFECT_ALLOW ? "allow" : "deny");
    if (rc != MQWARD_RESULT_OK || effect != MQWARD_EFFECT_ALLOW) {
        mismatches++;
    }

    char fingerprint[65] = "";
    if (argc == 3) {
        /* A sensor with a client certificate: PEM as the TLS layer hands it over. */
        size_t pem_len = 0;
        FILE *f = fopen(argv[2], "rb");
        static char pem[16384];
        if (f != NULL) {
            pem_len = fread(pem, 1, sizeof pem, f);
            fclose(f);
        }
        mqward_credentials cert;
        memset(&cert, 0, sizeof cert);
        cert.client_id = "sensor-1";
        cert.client_id_len = strlen(cert.client_id);
        cert.certificate = (const uint8_t *)pem;
        cert.certificate_len = pem_len;
        if (!connect_client(engine, &clients[1], &cert)) {
            mismatches++;
        }
        decide(engine, &clients[1], MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/temp", 1,
               MQWARD_EFFECT_ALLOW);
        decide(engine, &clients[1], MQWARD_OPERATION_PUBLISH, "sensors/sensor-2/telemetry/temp", 1,
               MQWARD_EFFECT_DENY);
        /* The first use activated the registered certificate: an event to persist. */
        handle_events(engine, config, clients, 2, fingerprint);

        /* The operator suspends the certificate: its session ends, the client must go. */
        rc = mqward_engine_set_certificate_state(engine, fingerprint, MQWARD_CERT_ACTION_SUSPEND);
        if (rc != MQWARD_RESULT_OK) {
            log_result("suspend", rc);
            mismatches++;
        }
        handle_events(engine, config, clients, 2, fingerprint);
        if (clients[1].connected) {
            mismatches++;
        }
        decide(engine, &clients[1], MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/temp", 1,
               MQWARD_EFFECT_DENY);
        mqward_engine_set_certificate_state(engine, fingerprint, MQWARD_CERT_ACTION_REACTIVATE);
        handle_events(engine, config, clients, 2, fingerprint);
    }

    /* SIGHUP: reload. On failure the old configuration stays in force and the report says why. */
    rc = mqward_engine_reload(engine, report, sizeof report, NULL);
    if (rc != MQWARD_RESULT_OK) {
        log_result("reload", rc);
        fprintf(stderr, "%s\n", report);
        mismatches++;
    }
    /* A timer calls tick about once a second: expired sessions become events. */
    mqward_engine_tick(engine);
    handle_events(engine, config, clients, 2, fingerprint);
    decide(engine, &clients[0], MQWARD_OPERATION_PUBLISH, "sensors/sensor-7/telemetry/temp", 1,
           MQWARD_EFFECT_ALLOW);

    /* DISCONNECT. */
    for (size_t i = 0; i < 2; i++) {
        if (clients[i].connected) {
            mqward_session_close(engine, &clients[i].session);
        }
    }
    mqward_engine_free(engine);
    printf("%s\n", mismatches == 0 ? "every decision as expected" : "UNEXPECTED DECISIONS");
    return mismatches == 0 ? 0 : 1;
}
