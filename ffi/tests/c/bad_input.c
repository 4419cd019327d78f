/*
 * Feeds bad input to every function of the C ABI: NULL pointers, invalid UTF-8, truncated PEM,
 * a garbage policy, out-of-range values, buffers too small, handles of the wrong type and freed
 * handles. Every call must return an error (and every decision a deny); none may crash.
 *
 *   bad_input DIR      DIR holds mqward.json, mqward-garbage.json and sensor-1.pem
 *
 * Built with -DMQWARD_TEST_FREED_HANDLES it also uses handles after freeing them, which the
 * handle scheme catches while the allocator has not reused the memory; that build runs without
 * AddressSanitizer and valgrind, which rightly report such reads.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static const char BAD_UTF8[] = "sensors/\xff\xfe";

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", dir, name);
    }
    return p;
}

/* A decision that must fail with `want` and leave a deny behind. */
#define CHECK_DENIED(expr, effect, want)                                                      \
    do {                                                                                      \
        (effect) = MQWARD_EFFECT_ALLOW;                                                       \
        CHECK_RC(expr, want);                                                                 \
        CHECK((effect) == MQWARD_EFFECT_DENY);                                                \
    } while (0)

static void version_and_messages(void) {
    CHECK(strcmp(mqward_version(), MQWARD_VERSION) == 0);
    CHECK(mqward_version_number() == MQWARD_VERSION_NUMBER);
    char buf[8];
    size_t n = 0;
    CHECK_RC(mqward_result_message(MQWARD_RESULT_OK, NULL, 5, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_result_message(MQWARD_RESULT_OK, NULL, 0, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == strlen("success"));
    CHECK_RC(mqward_result_message(123456, buf, sizeof buf, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(strcmp(buf, "unknown") == 0);
    CHECK_RC(mqward_result_message(MQWARD_RESULT_OK, buf, sizeof buf, NULL), MQWARD_RESULT_OK);
    CHECK(strcmp(buf, "success") == 0);
}

static void creation(const char *dir, const char *config, const char *garbage) {
    const mqward_engine *e = NULL;
    char report[512];
    size_t n = 0;
    CHECK_RC(mqward_engine_new_from_file(NULL, NULL, 0, NULL, &e), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_new_from_file(config, NULL, 0, NULL, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_new_from_file(BAD_UTF8, NULL, 0, NULL, &e), MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_engine_new_from_file("", NULL, 0, NULL, &e), MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_engine_new_from_file("/nonexistent/mqward.json", report, sizeof report, &n, &e),
             MQWARD_RESULT_IO);
    CHECK(strstr(report, "/nonexistent/mqward.json") != NULL);
    CHECK_RC(mqward_engine_new_from_file(config, NULL, 5, NULL, &e), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_new_from_file(garbage, report, sizeof report, &n, &e),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    CHECK(strstr(report, "garbage-policy.json") != NULL);
    CHECK(n == strlen(report));
    /* A report cut to fit a small buffer is still NUL-terminated; the full length is given. */
    CHECK_RC(mqward_engine_new_from_file(garbage, report, 10, &n, &e),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    CHECK(strlen(report) <= 9 && n > 9);
    CHECK(e == NULL);

    static const uint8_t not_json[] = {0xff, 0x00, '{', 0x7f};
    CHECK_RC(mqward_engine_new_from_buffer(NULL, 3, dir, NULL, 0, NULL, &e),
             MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_new_from_buffer(not_json, sizeof not_json, dir, NULL, 0, NULL, &e),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    static const char unknown_field[] = "{\"version\":1,\"policy\":\"policy.json\",\"polcy\":1}";
    CHECK_RC(mqward_engine_new_from_buffer((const uint8_t *)unknown_field, strlen(unknown_field),
                                           dir, report, sizeof report, NULL, &e),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    CHECK(strstr(report, "polcy") != NULL);
    static const char minimal[] = "{\"version\":1,\"policy\":\"policy.json\"}";
    CHECK_RC(mqward_engine_new_from_buffer((const uint8_t *)minimal, strlen(minimal), BAD_UTF8,
                                           NULL, 0, NULL, &e),
             MQWARD_RESULT_INVALID_UTF8);
    CHECK(e == NULL);
}

static void reloads(const mqward_engine *e, const char *garbage, const mqward_session_token *t) {
    mqward_request pub = request(MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/t", 1);
    mqward_effect effect;
    char report[512];
    CHECK_RC(mqward_engine_reload(NULL, NULL, 0, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_reload(e, NULL, 7, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_reload_from_file(e, NULL, NULL, 0, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_reload_from_file(e, BAD_UTF8, NULL, 0, NULL), MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_engine_reload_from_file(e, "/nonexistent.json", NULL, 0, NULL), MQWARD_RESULT_IO);
    CHECK_RC(mqward_engine_reload_from_file(e, garbage, report, sizeof report, NULL),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    CHECK(strstr(report, "garbage-policy.json") != NULL);
    CHECK_RC(mqward_engine_reload_from_buffer(e, NULL, 0, NULL, NULL, 0, NULL),
             MQWARD_RESULT_NULL_PARAMETER);
    static const char garbage_json[] = "{\"version\":1,\"policy\":\"garbage-policy.json\"}";
    CHECK_RC(mqward_engine_reload_from_buffer(e, (const uint8_t *)garbage_json, strlen(garbage_json),
                                              "/nonexistent", NULL, 0, NULL),
             MQWARD_RESULT_INVALID_CONFIGURATION);
    /* Nothing changed: the old policy still decides, the session is still open. */
    CHECK_RC(mqward_session_authorize(e, t, &pub, &effect), MQWARD_RESULT_OK);
    CHECK(effect == MQWARD_EFFECT_ALLOW);
    /* And a plain reload from the source still works after the failures. */
    CHECK_RC(mqward_engine_reload(e, NULL, 0, NULL), MQWARD_RESULT_OK);
}

static void engine_functions(const mqward_engine *e, const char *sensor_pem, size_t sensor_len) {
    size_t n = 0;
    char buf[64];
    CHECK_RC(mqward_engine_tick(NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_session_count(NULL, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_session_count(e, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_registry_json(NULL, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_registry_json(e, NULL, 10, &n), MQWARD_RESULT_NULL_PARAMETER);
    memset(buf, 'x', sizeof buf);
    CHECK_RC(mqward_engine_registry_json(e, buf, 4, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(n > 4 && buf[0] == 'x'); /* a value that does not fit is not written at all */

    CHECK_RC(mqward_engine_psk_key(NULL, "gateway-1", 9, buf, sizeof buf, &n),
             MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_psk_key(e, NULL, 9, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_psk_key(e, BAD_UTF8, strlen(BAD_UTF8), buf, sizeof buf, &n),
             MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_engine_psk_key(e, "nobody", 6, buf, sizeof buf, &n), MQWARD_RESULT_NOT_FOUND);
    CHECK_RC(mqward_engine_psk_key(e, "gateway-1", 9, buf, 8, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 32);
    CHECK_RC(mqward_engine_psk_key(e, "gateway-1", (size_t)-1, buf, sizeof buf, &n),
             MQWARD_RESULT_INVALID_ARGUMENT);

    CHECK_RC(mqward_engine_verify_certificate(NULL, (const uint8_t *)sensor_pem, sensor_len),
             MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_verify_certificate(e, NULL, 10), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_verify_certificate(e, (const uint8_t *)sensor_pem, sensor_len / 2),
             MQWARD_RESULT_MALFORMED_CREDENTIAL);
    static const uint8_t not_der[] = {0x30, 0x82, 0xff, 0xff, 0x01};
    CHECK_RC(mqward_engine_verify_certificate(e, not_der, sizeof not_der),
             MQWARD_RESULT_MALFORMED_CREDENTIAL);
    CHECK_RC(mqward_engine_verify_certificate(e, (const uint8_t *)"", 0),
             MQWARD_RESULT_MALFORMED_CREDENTIAL);
    CHECK_RC(mqward_engine_verify_certificate(e, (const uint8_t *)sensor_pem, sensor_len),
             MQWARD_RESULT_OK);

    static const char fp[] = "0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_RC(mqward_engine_set_certificate_state(NULL, fp, MQWARD_CERT_ACTION_SUSPEND),
             MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_set_certificate_state(e, NULL, MQWARD_CERT_ACTION_SUSPEND),
             MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_set_certificate_state(e, BAD_UTF8, MQWARD_CERT_ACTION_SUSPEND),
             MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_engine_set_certificate_state(e, "abc", MQWARD_CERT_ACTION_SUSPEND),
             MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_engine_set_certificate_state(e, fp, 0), MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_engine_set_certificate_state(e, fp, 0xffffffffu), MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_engine_set_certificate_state(e, fp, MQWARD_CERT_ACTION_REVOKE),
             MQWARD_RESULT_CERTIFICATE_STATE);
}

static void authentication(const mqward_engine *e, const char *sensor_pem, size_t sensor_len) {
    mqward_identity *id = NULL;
    mqward_credentials c = psk_credentials("gateway-1", "gateway-1");
    CHECK_RC(mqward_engine_authenticate(NULL, &c, &id), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_authenticate(e, NULL, &id), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_authenticate(e, &c, NULL), MQWARD_RESULT_NULL_PARAMETER);

    mqward_credentials bad = c;
    bad.client_id = BAD_UTF8;
    bad.client_id_len = strlen(BAD_UTF8);
    CHECK_RC(mqward_engine_authenticate(e, &bad, &id), MQWARD_RESULT_INVALID_UTF8);
    bad = c;
    bad.psk_identity = BAD_UTF8;
    bad.psk_identity_len = strlen(BAD_UTF8);
    CHECK_RC(mqward_engine_authenticate(e, &bad, &id), MQWARD_RESULT_INVALID_UTF8);
    bad = c;
    bad.psk_identity = "nobody";
    bad.psk_identity_len = 6;
    CHECK_RC(mqward_engine_authenticate(e, &bad, &id), MQWARD_RESULT_UNKNOWN_IDENTITY);

    mqward_credentials pw;
    memset(&pw, 0, sizeof pw);
    pw.username = BAD_UTF8;
    pw.username_len = strlen(BAD_UTF8);
    pw.password = (const uint8_t *)"x";
    pw.password_len = 1;
    CHECK_RC(mqward_engine_authenticate(e, &pw, &id), MQWARD_RESULT_INVALID_UTF8);
    pw.username = "admin";
    pw.username_len = 5;
    pw.password = (const uint8_t *)"not the password";
    pw.password_len = strlen("not the password");
    CHECK_RC(mqward_engine_authenticate(e, &pw, &id), MQWARD_RESULT_WRONG_SECRET);
    pw.password = (const uint8_t *)"IDENTITY-TOKEN//garbage";
    pw.password_len = strlen("IDENTITY-TOKEN//garbage");
    CHECK_RC(mqward_engine_authenticate(e, &pw, &id), MQWARD_RESULT_DISABLED);
    pw.password = (const uint8_t *)"eyJh.eyJz.c2ln";
    pw.password_len = strlen("eyJh.eyJz.c2ln");
    CHECK_RC(mqward_engine_authenticate(e, &pw, &id), MQWARD_RESULT_DISABLED);

    mqward_credentials cert;
    memset(&cert, 0, sizeof cert);
    cert.client_id = "sensor-1";
    cert.client_id_len = 8;
    cert.certificate = (const uint8_t *)sensor_pem;
    cert.certificate_len = sensor_len / 2; /* truncated PEM */
    CHECK_RC(mqward_engine_authenticate(e, &cert, &id), MQWARD_RESULT_MALFORMED_CREDENTIAL);
    cert.certificate_len = 0;
    CHECK_RC(mqward_engine_authenticate(e, &cert, &id), MQWARD_RESULT_MALFORMED_CREDENTIAL);
    cert.certificate_len = sensor_len;
    cert.client_id = "sensor-2";
    CHECK_RC(mqward_engine_authenticate(e, &cert, &id), MQWARD_RESULT_CLIENT_ID_MISMATCH);
    CHECK(id == NULL);
}

static void identities(const mqward_engine *e) {
    mqward_identity *id = NULL;
    mqward_credentials c = psk_credentials("gateway-1", "gateway-1");
    CHECK_RC(mqward_engine_authenticate(e, &c, &id), MQWARD_RESULT_OK);
    mqward_request ok = request(MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/t", 1);
    mqward_effect effect;
    CHECK_RC(mqward_identity_authorize(id, &ok, &effect), MQWARD_RESULT_OK);
    CHECK(effect == MQWARD_EFFECT_ALLOW);

    CHECK_DENIED(mqward_identity_authorize(NULL, &ok, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    CHECK_DENIED(mqward_identity_authorize(id, NULL, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_identity_authorize(id, &ok, NULL), MQWARD_RESULT_NULL_PARAMETER);
    mqward_request r = ok;
    r.operation = 0;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_ARGUMENT);
    r = ok;
    r.operation = 77;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_ARGUMENT);
    r = ok;
    r.qos = 3;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_ARGUMENT);
    r = ok;
    r.retain = 2;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_ARGUMENT);
    r = ok;
    r.resource = NULL;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    r = ok;
    r.resource = BAD_UTF8;
    r.resource_len = strlen(BAD_UTF8);
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_UTF8);
    r = ok;
    r.resource_len = (size_t)-1;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_INVALID_ARGUMENT);
    /* Malformed MQTT (a wildcard in a topic, an embedded NUL, empty) is decided: a deny. */
    r = request(MQWARD_OPERATION_PUBLISH, "sensors/+/telemetry/t", 0);
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_OK);
    r = request(MQWARD_OPERATION_SUBSCRIBE, "sensors/#/x", 0);
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_OK);
    r = ok;
    r.resource = "sensors/sensor-1\0/telemetry/t";
    r.resource_len = 29;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_OK);
    r.resource_len = 0;
    CHECK_DENIED(mqward_identity_authorize(id, &r, &effect), effect, MQWARD_RESULT_OK);

    char buf[16];
    size_t n = 0;
    CHECK_RC(mqward_identity_explain(NULL, &ok, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_identity_explain(id, NULL, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_identity_explain(id, &ok, buf, sizeof buf, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(n > sizeof buf);
    CHECK_RC(mqward_identity_attribute(id, NULL, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_identity_attribute(id, BAD_UTF8, buf, sizeof buf, &n), MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_identity_attribute(id, "color", buf, sizeof buf, &n), MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_identity_attribute(id, "claim.role", buf, sizeof buf, &n), MQWARD_RESULT_NOT_FOUND);
    CHECK_RC(mqward_identity_attribute(id, "thingName", buf, 3, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(mqward_identity_attribute(id, "thingName", buf, sizeof buf, &n), MQWARD_RESULT_OK);
    CHECK(strcmp(buf, "gateway-1") == 0 && n == 9);

    /* Handles of the wrong type are refused by their magic word. */
    CHECK_RC(mqward_engine_tick((const mqward_engine *)id), MQWARD_RESULT_INVALID_HANDLE);
    CHECK_DENIED(mqward_identity_authorize((const mqward_identity *)e, &ok, &effect), effect,
                 MQWARD_RESULT_INVALID_HANDLE);
    mqward_event_info info;
    CHECK_RC(mqward_event_describe((const mqward_event *)id, &info), MQWARD_RESULT_INVALID_HANDLE);
    mqward_identity_free((mqward_identity *)e);  /* not an identity: ignored */
    mqward_event_free((mqward_event *)id);       /* not an event: ignored */
    CHECK_RC(mqward_identity_authorize(id, &ok, &effect), MQWARD_RESULT_OK);

    mqward_identity_free(id);
    mqward_identity_free(NULL);
#ifdef MQWARD_TEST_FREED_HANDLES
    /* Freed and used again, or freed twice: refused while the memory is not reused. */
    CHECK_DENIED(mqward_identity_authorize(id, &ok, &effect), effect, MQWARD_RESULT_INVALID_HANDLE);
    mqward_identity_free(id);
#endif
}

static void sessions(const mqward_engine *e, mqward_session_token *kept) {
    mqward_session_token t;
    mqward_credentials c = psk_credentials("gateway-1", "gateway-1");
    CHECK_RC(mqward_session_open(NULL, &c, &t), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_open(e, NULL, &t), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_open(e, &c, NULL), MQWARD_RESULT_NULL_PARAMETER);
    mqward_credentials other = psk_credentials("someone-else", "gateway-1");
    CHECK_RC(mqward_session_open(e, &other, &t), MQWARD_RESULT_CONNECT_DENIED);
    mqward_credentials none;
    memset(&none, 0, sizeof none);
    CHECK_RC(mqward_session_open(e, &none, &t), MQWARD_RESULT_UNKNOWN_IDENTITY);
    CHECK_RC(mqward_session_open(e, &c, &t), MQWARD_RESULT_OK);
    *kept = t;

    mqward_request ok = request(MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/t", 1);
    mqward_effect effect;
    CHECK_DENIED(mqward_session_authorize(NULL, &t, &ok, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    CHECK_DENIED(mqward_session_authorize(e, NULL, &ok, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    CHECK_DENIED(mqward_session_authorize(e, &t, NULL, &effect), effect, MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_authorize(e, &t, &ok, NULL), MQWARD_RESULT_NULL_PARAMETER);
    mqward_request r = ok;
    r.resource = BAD_UTF8;
    r.resource_len = strlen(BAD_UTF8);
    CHECK_DENIED(mqward_session_authorize(e, &t, &r, &effect), effect, MQWARD_RESULT_INVALID_UTF8);
    mqward_session_token unknown;
    memset(&unknown, 0x5a, sizeof unknown);
    CHECK_DENIED(mqward_session_authorize(e, &unknown, &ok, &effect), effect,
                 MQWARD_RESULT_UNKNOWN_SESSION);

    CHECK_DENIED(mqward_session_authorize_greengrass(e, &t, NULL, "mqtt:topic:a", &effect), effect,
                 MQWARD_RESULT_NULL_PARAMETER);
    CHECK_DENIED(mqward_session_authorize_greengrass(e, &t, "mqtt:publish", NULL, &effect), effect,
                 MQWARD_RESULT_NULL_PARAMETER);
    CHECK_DENIED(mqward_session_authorize_greengrass(e, &t, "mqtt:publish", "mqtt:topic:\xff", &effect),
                 effect, MQWARD_RESULT_INVALID_UTF8);
    CHECK_DENIED(mqward_session_authorize_greengrass(e, &t, "mqtt:fly", "mqtt:topic:a", &effect),
                 effect, MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_DENIED(mqward_session_authorize_greengrass(e, &t, "mqtt:publish", "mqtt:topicfilter:a", &effect),
                 effect, MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_DENIED(mqward_session_authorize_greengrass(e, &unknown, "mqtt:publish", "mqtt:topic:a", &effect),
                 effect, MQWARD_RESULT_UNKNOWN_SESSION);

    char buf[40];
    size_t n = 0;
    CHECK_RC(mqward_session_explain(NULL, &t, &ok, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_explain(e, &unknown, &ok, buf, sizeof buf, &n), MQWARD_RESULT_UNKNOWN_SESSION);
    CHECK_RC(mqward_session_explain(e, &t, &ok, buf, 4, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK_RC(mqward_session_explain(e, &t, &ok, NULL, 4, &n), MQWARD_RESULT_NULL_PARAMETER);

    CHECK_RC(mqward_session_token_to_hex(NULL, buf, sizeof buf, &n), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_token_to_hex(&t, buf, 32, &n), MQWARD_RESULT_INSUFFICIENT_SIZE);
    CHECK(n == 32);
    CHECK_RC(mqward_session_token_to_hex(&t, buf, 33, &n), MQWARD_RESULT_OK);
    mqward_session_token parsed;
    CHECK_RC(mqward_session_token_from_hex(NULL, &parsed), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_token_from_hex(buf, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_token_from_hex("abc", &parsed), MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_session_token_from_hex("zz0123456789abcdef0123456789abcd", &parsed),
             MQWARD_RESULT_INVALID_ARGUMENT);
    CHECK_RC(mqward_session_token_from_hex("\xff\xfe", &parsed), MQWARD_RESULT_INVALID_UTF8);
    CHECK_RC(mqward_session_token_from_hex(buf, &parsed), MQWARD_RESULT_OK);
    CHECK(memcmp(&parsed, &t, sizeof t) == 0);

    CHECK_RC(mqward_session_close(NULL, &t), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_close(e, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_session_close(e, &unknown), MQWARD_RESULT_UNKNOWN_SESSION);
}

static void events(const mqward_engine *e) {
    mqward_event *ev = NULL;
    mqward_event_info info;
    CHECK_RC(mqward_engine_set_event_callback(NULL, NULL, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_poll_event(NULL, &ev), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_engine_poll_event(e, NULL), MQWARD_RESULT_NULL_PARAMETER);
    CHECK_RC(mqward_event_describe(NULL, &info), MQWARD_RESULT_NULL_PARAMETER);
    mqward_event_free(NULL);
    /* The reloads above queued events: drain them, checking each. */
    int reloaded = 0;
    for (;;) {
        CHECK_RC(mqward_engine_poll_event(e, &ev), MQWARD_RESULT_OK);
        if (ev == NULL) {
            break;
        }
        CHECK_RC(mqward_event_describe(ev, NULL), MQWARD_RESULT_NULL_PARAMETER);
        CHECK_RC(mqward_event_describe(ev, &info), MQWARD_RESULT_OK);
        reloaded += info.kind == MQWARD_EVENT_KIND_RELOADED;
        CHECK_RC(mqward_engine_tick((const mqward_engine *)ev), MQWARD_RESULT_INVALID_HANDLE);
        mqward_event_free(ev);
#ifdef MQWARD_TEST_FREED_HANDLES
        CHECK_RC(mqward_event_describe(ev, &info), MQWARD_RESULT_INVALID_HANDLE);
        mqward_event_free(ev);
#endif
    }
    CHECK(reloaded == 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    char *config = path_in(dir, "mqward.json");
    char *garbage = path_in(dir, "mqward-garbage.json");
    char *pem_path = path_in(dir, "sensor-1.pem");
    size_t pem_len = 0;
    char *pem = pem_path ? read_file(pem_path, &pem_len) : NULL;
    if (config == NULL || garbage == NULL || pem == NULL) {
        fprintf(stderr, "cannot set up from %s\n", dir);
        return 2;
    }

    version_and_messages();
    creation(dir, config, garbage);

    const mqward_engine *e = NULL;
    CHECK_RC(mqward_engine_new_from_file(config, NULL, 0, NULL, &e), MQWARD_RESULT_OK);
    if (e == NULL) {
        return 1;
    }
    mqward_session_token t;
    sessions(e, &t);
    reloads(e, garbage, &t);
    engine_functions(e, pem, pem_len);
    authentication(e, pem, pem_len);
    identities(e);
    events(e);

    /* The engine handle freed while an identity keeps the engine: the handle is refused (its
     * memory is still live, so this is defined even under sanitizers), the identity works. */
    mqward_identity *id = NULL;
    mqward_credentials c = psk_credentials("gateway-1", "gateway-1");
    CHECK_RC(mqward_engine_authenticate(e, &c, &id), MQWARD_RESULT_OK);
    mqward_engine_free(e);
    CHECK_RC(mqward_engine_tick(e), MQWARD_RESULT_INVALID_HANDLE);
    mqward_effect effect;
    CHECK_DENIED(mqward_session_authorize(e, &t, NULL, &effect), effect, MQWARD_RESULT_INVALID_HANDLE);
    mqward_engine_free(e); /* a second free is ignored */
    mqward_request ok = request(MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/t", 1);
    CHECK_RC(mqward_identity_authorize(id, &ok, &effect), MQWARD_RESULT_OK);
    CHECK(effect == MQWARD_EFFECT_ALLOW);
    mqward_identity_free(id);
    mqward_engine_free(NULL);

    free(config);
    free(garbage);
    free(pem_path);
    free(pem);
    if (failures != 0) {
        fprintf(stderr, "bad_input: %d failures\n", failures);
        return 1;
    }
    printf("bad_input: every bad call returned an error, every failed decision denied\n");
    return 0;
}
