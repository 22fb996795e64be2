/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_flood.c: a test client of naos-node's control endpoint that keeps
 * ONE connection (NNG req0, one dial) and asks through it, for the
 * integration tests (test_ctl.py). Not installed.
 *
 *   naos_ctl_flood flood URL COUNT [PIPELINE [KIND]]
 *       sends COUNT requests (KIND: ping (default) or status) over one
 *       connection, PIPELINE of them in flight at once (req0 contexts,
 *       default 1: one after the other); every request must be answered
 *       within $NAOS_FLOOD_REPLY_MS (default 30000). Prints one JSON line
 *       {"sent", "answered", "errors", "elapsed_ms"}; exit 0 when every
 *       request was answered, 1 at the first one that was not (naming it).
 *   naos_ctl_flood size URL BYTES
 *       sends one ping request padded to BYTES bytes and prints
 *       {"answered": true, "code": N, "error": "..."} or
 *       {"answered": false, "why": "..."}; exit 0 either way (2 on usage).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "proto/naos.pb-c.h"

static int reply_ms = 30000;

struct flood {
    nng_socket sock;
    long count;
    const char *kind;
    atomic_long next;     /* requests handed out */
    atomic_long answered;
    atomic_long errors;   /* answered, code not OK */
    atomic_int failed;    /* a request went unanswered */
    char why[256];
    pthread_mutex_t mu;
};

static nng_msg *
build(const char *kind, size_t pad)
{
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    char *name = NULL;
    if (strcmp(kind, "status") == 0) {
        req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
        req.status = &sr;
    } else {
        if (pad) {
            name = malloc(pad + 1);
            if (name == NULL)
                return NULL;
            memset(name, 'x', pad);
            name[pad] = '\0';
            nr.name = name;
        }
        req.req_case = NAOS__V1__REQUEST__REQ_PING;
        req.ping = &nr;
    }
    size_t len = naos__v1__request__get_packed_size(&req);
    nng_msg *m = NULL;
    if (nng_msg_alloc(&m, len) == 0)
        naos__v1__request__pack(&req, nng_msg_body(m));
    free(name);
    return m;
}

static void
fail(struct flood *f, const char *fmt, long i, const char *what)
{
    pthread_mutex_lock(&f->mu);
    if (!atomic_load(&f->failed)) {
        snprintf(f->why, sizeof f->why, fmt, i, what);
        atomic_store(&f->failed, 1);
    }
    pthread_mutex_unlock(&f->mu);
}

static void *
worker(void *arg)
{
    struct flood *f = arg;
    nng_ctx ctx;
    nng_aio *aio;
    if (nng_ctx_open(&ctx, f->sock) != 0 ||
        nng_aio_alloc(&aio, NULL, NULL) != 0) {
        fail(f, "request %ld: %s", 0, "cannot open a context");
        return NULL;
    }
    for (;;) {
        if (atomic_load(&f->failed))
            break;
        long i = atomic_fetch_add(&f->next, 1);
        if (i >= f->count)
            break;
        nng_msg *m = build(f->kind, 0);
        if (m == NULL) {
            fail(f, "request %ld: %s", i, "out of memory");
            break;
        }
        nng_aio_set_msg(aio, m);
        nng_aio_set_timeout(aio, reply_ms);
        nng_ctx_send(ctx, aio);
        nng_aio_wait(aio);
        int rv = nng_aio_result(aio);
        if (rv != 0) {
            nng_msg_free(nng_aio_get_msg(aio));
            fail(f, "request %ld: cannot send: %s", i, nng_strerror(rv));
            break;
        }
        nng_aio_set_timeout(aio, reply_ms);
        nng_ctx_recv(ctx, aio);
        nng_aio_wait(aio);
        rv = nng_aio_result(aio);
        if (rv != 0) {
            fail(f, "request %ld got no reply: %s", i, nng_strerror(rv));
            break;
        }
        nng_msg *r = nng_aio_get_msg(aio);
        Naos__V1__Reply *rep = naos__v1__reply__unpack(NULL, nng_msg_len(r),
                                                      nng_msg_body(r));
        nng_msg_free(r);
        if (rep == NULL) {
            fail(f, "request %ld: %s", i, "undecodable reply");
            break;
        }
        if (rep->code != NAOS__V1__ERROR_CODE__OK)
            atomic_fetch_add(&f->errors, 1);
        naos__v1__reply__free_unpacked(rep, NULL);
        atomic_fetch_add(&f->answered, 1);
    }
    nng_aio_free(aio);
    nng_ctx_close(ctx);
    return NULL;
}

static long
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int
dial(nng_socket *s, const char *url)
{
    int rv;
    if ((rv = nng_req0_open(s)) != 0)
        return rv;
    /* One answer per request: never resend (the old server would then
     * answer a resent request, hiding a lost reply). */
    nng_socket_set_ms(*s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 64u << 20);
    /* One synchronous dial, no redial: one connection for the whole run. */
    return nng_dial(*s, url, NULL, 0);
}

static int
cmd_flood(const char *url, long count, int pipeline, const char *kind)
{
    struct flood f = {.count = count, .kind = kind};
    pthread_mutex_init(&f.mu, NULL);
    int rv = dial(&f.sock, url);
    if (rv != 0) {
        fprintf(stderr, "ctl_flood: cannot reach %s: %s\n", url,
                nng_strerror(rv));
        return 1;
    }
    long t0 = now_ms();
    pthread_t th[64];
    if (pipeline < 1 || pipeline > 64)
        pipeline = 1;
    for (int i = 0; i < pipeline; i++)
        pthread_create(&th[i], NULL, worker, &f);
    for (int i = 0; i < pipeline; i++)
        pthread_join(th[i], NULL);
    long sent = atomic_load(&f.next);
    if (sent > count)
        sent = count;
    printf("{\"sent\": %ld, \"answered\": %ld, \"errors\": %ld, "
           "\"elapsed_ms\": %ld}\n",
           sent, atomic_load(&f.answered), atomic_load(&f.errors),
           now_ms() - t0);
    nng_close(f.sock);
    if (atomic_load(&f.failed)) {
        fprintf(stderr, "ctl_flood: %s\n", f.why);
        return 1;
    }
    return 0;
}

static int
cmd_size(const char *url, size_t bytes)
{
    nng_socket s;
    int rv = dial(&s, url);
    if (rv != 0) {
        fprintf(stderr, "ctl_flood: cannot reach %s: %s\n", url,
                nng_strerror(rv));
        return 1;
    }
    /* Pad the name so that the packed request is `bytes` long: the
     * overhead is the tags and lengths around it (a few bytes). */
    size_t pad = bytes > 16 ? bytes - 16 : 0;
    nng_msg *m = build("ping", pad);
    while (m && nng_msg_len(m) < bytes) {
        nng_msg_free(m);
        m = build("ping", ++pad);
    }
    if (m == NULL) {
        fprintf(stderr, "ctl_flood: out of memory\n");
        return 1;
    }
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, reply_ms);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, reply_ms);
    size_t sent_len = nng_msg_len(m);
    json_t *out = json_object();
    if ((rv = nng_sendmsg(s, m, 0)) != 0) {
        nng_msg_free(m);
        json_object_set_new(out, "answered", json_false());
        json_object_set_new(out, "why", json_string(nng_strerror(rv)));
    } else if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
        json_object_set_new(out, "answered", json_false());
        json_object_set_new(out, "why", json_string(nng_strerror(rv)));
    } else {
        Naos__V1__Reply *rep = naos__v1__reply__unpack(NULL, nng_msg_len(m),
                                                      nng_msg_body(m));
        nng_msg_free(m);
        json_object_set_new(out, "answered", json_boolean(rep != NULL));
        if (rep) {
            json_object_set_new(out, "code", json_integer(rep->code));
            json_object_set_new(out, "error",
                                json_string(rep->error ? rep->error : ""));
            naos__v1__reply__free_unpacked(rep, NULL);
        }
    }
    json_object_set_new(out, "sent_bytes", json_integer((json_int_t)sent_len));
    char *text = json_dumps(out, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(out);
    nng_close(s);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *ms = getenv("NAOS_FLOOD_REPLY_MS");
    if (ms && atoi(ms) > 0)
        reply_ms = atoi(ms);
    if (argc >= 4 && strcmp(argv[1], "flood") == 0)
        return cmd_flood(argv[2], atol(argv[3]), argc > 4 ? atoi(argv[4]) : 1,
                         argc > 5 ? argv[5] : "ping");
    if (argc == 4 && strcmp(argv[1], "size") == 0)
        return cmd_size(argv[2], (size_t)atol(argv[3]));
    fprintf(stderr, "usage: naos_ctl_flood flood URL COUNT [PIPELINE [KIND]]\n"
                    "       naos_ctl_flood size URL BYTES\n");
    return 2;
}
