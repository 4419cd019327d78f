/*
 * What the C tests share: checks that count failures instead of stopping, and reading a file.
 */
#ifndef MQWARD_TEST_CHECK_H
#define MQWARD_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqward.h"

static int failures = 0;

/* Checks that `expr` returned the result `want`. */
#define CHECK_RC(expr, want)                                                                  \
    do {                                                                                      \
        mqward_result rc_ = (expr);                                                           \
        if (rc_ != (mqward_result)(want)) {                                                   \
            char msg_[128];                                                                   \
            mqward_result_message(rc_, msg_, sizeof msg_, NULL);                              \
            fprintf(stderr, "%s:%d: %s: got %u (%s), want %u\n", __FILE__, __LINE__, #expr,    \
                    (unsigned)rc_, msg_, (unsigned)(want));                                   \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

/* Checks a condition. */
#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond);                \
            failures++;                                                                       \
        }                                                                                     \
    } while (0)

/* The whole file, NUL-terminated (free it); NULL if it cannot be read. */
static inline char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (len != NULL) {
            *len = n;
        }
    }
    return buf;
}

/* A request: operation, resource as a NUL-terminated string, QoS; retain unknown. */
static inline mqward_request request(uint32_t operation, const char *resource, int32_t qos) {
    mqward_request r;
    r.operation = operation;
    r.resource = resource;
    r.resource_len = strlen(resource);
    r.qos = qos;
    r.retain = MQWARD_RETAIN_UNKNOWN;
    return r;
}

/* PSK credentials for a client id and identity. */
static inline mqward_credentials psk_credentials(const char *client_id, const char *identity) {
    mqward_credentials c;
    memset(&c, 0, sizeof c);
    c.client_id = client_id;
    c.client_id_len = strlen(client_id);
    c.psk_identity = identity;
    c.psk_identity_len = strlen(identity);
    return c;
}

#endif
