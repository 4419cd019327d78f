/*
 * Four threads decide while a fifth reloads the engine (1,000 times by default), alternating
 * two configurations whose policies agree on every request asked, with a failing reload (a
 * garbage policy) every tenth time. Every decision is compared with the known answer: zero
 * wrong decisions, zero errors, zero crashes.
 *
 *   threads DIR [RELOADS]   DIR holds mqward.json, mqward-b.json and mqward-garbage.json
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define DECIDERS 4

struct known {
    uint32_t operation;
    const char *resource;
    int32_t qos;
    mqward_effect expected;
};

/* What the example policy says for gateway-1 (a PSK client); policy B adds statements that do
 * not touch these requests. */
static const struct known KNOWN[] = {
    {MQWARD_OPERATION_CONNECT, "gateway-1", MQWARD_QOS_UNKNOWN, MQWARD_EFFECT_ALLOW},
    {MQWARD_OPERATION_CONNECT, "gateway-2", MQWARD_QOS_UNKNOWN, MQWARD_EFFECT_DENY},
    {MQWARD_OPERATION_PUBLISH, "sensors/sensor-1/telemetry/t", 1, MQWARD_EFFECT_ALLOW},
    {MQWARD_OPERATION_PUBLISH, "commands/sensor-1/reboot", 1, MQWARD_EFFECT_ALLOW},
    {MQWARD_OPERATION_PUBLISH, "secret/plans", 0, MQWARD_EFFECT_DENY},
    {MQWARD_OPERATION_PUBLISH, "sensors/secret/telemetry", 0, MQWARD_EFFECT_DENY},
    {MQWARD_OPERATION_SUBSCRIBE, "sensors/+/telemetry/#", 1, MQWARD_EFFECT_ALLOW},
    {MQWARD_OPERATION_SUBSCRIBE, "$SYS/#", 0, MQWARD_EFFECT_DENY},
    {MQWARD_OPERATION_RECEIVE, "time/now", 0, MQWARD_EFFECT_ALLOW},
    {MQWARD_OPERATION_RECEIVE, "$SYS/broker/load", 0, MQWARD_EFFECT_DENY},
    {MQWARD_OPERATION_UNSUBSCRIBE, "clients/gateway-1/inbox", MQWARD_QOS_UNKNOWN, MQWARD_EFFECT_ALLOW},
};
#define NKNOWN (sizeof KNOWN / sizeof KNOWN[0])

static const mqward_engine *engine;
static atomic_int reloading = 1;
static atomic_long decisions = 0;
static atomic_long wrong = 0;
static atomic_long errors = 0;

static void *decider(void *arg) {
    (void)arg;
    mqward_credentials c = psk_credentials("gateway-1", "gateway-1");
    mqward_session_token token;
    mqward_identity *identity = NULL;
    if (mqward_session_open(engine, &c, &token) != MQWARD_RESULT_OK ||
        mqward_engine_authenticate(engine, &c, &identity) != MQWARD_RESULT_OK) {
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    long mine = 0;
    while (atomic_load(&reloading) || mine < 1000) {
        for (size_t i = 0; i < NKNOWN; i++) {
            mqward_request r = request(KNOWN[i].operation, KNOWN[i].resource, KNOWN[i].qos);
            mqward_effect by_session = MQWARD_EFFECT_ALLOW, by_identity = MQWARD_EFFECT_ALLOW;
            mqward_result a = mqward_session_authorize(engine, &token, &r, &by_session);
            mqward_result b = mqward_identity_authorize(identity, &r, &by_identity);
            if (a != MQWARD_RESULT_OK || b != MQWARD_RESULT_OK) {
                atomic_fetch_add(&errors, 1);
            }
            if (by_session != KNOWN[i].expected || by_identity != KNOWN[i].expected) {
                atomic_fetch_add(&wrong, 1);
            }
            mine += 2;
        }
    }
    atomic_fetch_add(&decisions, mine);
    if (mqward_session_close(engine, &token) != MQWARD_RESULT_OK) {
        atomic_fetch_add(&errors, 1);
    }
    mqward_identity_free(identity);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s DIR [RELOADS]\n", argv[0]);
        return 2;
    }
    int reloads = argc == 3 ? atoi(argv[2]) : 1000;
    char paths[3][4096];
    const char *names[3] = {"mqward.json", "mqward-b.json", "mqward-garbage.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/%s", argv[1], names[i]);
    }
    char report[1024];
    CHECK_RC(mqward_engine_new_from_file(paths[0], report, sizeof report, NULL, &engine),
             MQWARD_RESULT_OK);
    if (engine == NULL) {
        fprintf(stderr, "%s\n", report);
        return 1;
    }

    pthread_t threads[DECIDERS];
    for (int i = 0; i < DECIDERS; i++) {
        if (pthread_create(&threads[i], NULL, decider, NULL) != 0) {
            return 1;
        }
    }
    int ok = 0, refused = 0;
    for (int i = 0; i < reloads; i++) {
        if (i % 10 == 9) {
            mqward_result rc = mqward_engine_reload_from_file(engine, paths[2], NULL, 0, NULL);
            refused += rc == MQWARD_RESULT_INVALID_CONFIGURATION;
        } else {
            ok += mqward_engine_reload_from_file(engine, paths[i % 2], NULL, 0, NULL) ==
                  MQWARD_RESULT_OK;
        }
    }
    atomic_store(&reloading, 0);
    for (int i = 0; i < DECIDERS; i++) {
        pthread_join(threads[i], NULL);
    }

    /* Every successful reload queued one event. */
    long events = 0;
    mqward_event *ev = NULL;
    while (mqward_engine_poll_event(engine, &ev) == MQWARD_RESULT_OK && ev != NULL) {
        mqward_event_info info;
        if (mqward_event_describe(ev, &info) == MQWARD_RESULT_OK &&
            info.kind == MQWARD_EVENT_KIND_RELOADED) {
            events++;
        }
        mqward_event_free(ev);
    }
    size_t sessions = 1;
    CHECK_RC(mqward_engine_session_count(engine, &sessions), MQWARD_RESULT_OK);
    mqward_engine_free(engine);

    CHECK(ok + refused == reloads);
    CHECK(refused == reloads / 10);
    CHECK(events == ok);
    CHECK(sessions == 0);
    CHECK(atomic_load(&wrong) == 0);
    CHECK(atomic_load(&errors) == 0);
    CHECK(atomic_load(&decisions) >= DECIDERS * 1000);
    printf("threads: %ld decisions on %d threads during %d reloads (%d refused): %ld wrong, %ld "
           "errors\n",
           atomic_load(&decisions), DECIDERS, reloads, refused, atomic_load(&wrong),
           atomic_load(&errors));
    return failures == 0 ? 0 : 1;
}
