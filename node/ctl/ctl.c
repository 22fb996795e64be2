/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.c: see ctl.h.
 *
 * A context's life, and the thread that moves it on:
 *
 *   RECV --(NNG: request arrived)--> QUEUED --(reactor: take)--> HANDLING
 *   HANDLING --(handler returned)--> SEND
 *   HANDLING --(ctl_req_defer)--> DEFERRED --(ctl_req_finish)--> SEND
 *   SEND --(NNG: reply handed to the connection, or given up)--> RECV
 *   any --(socket closed)--> DEAD
 *
 * `state` is written by whichever thread moves the context on, before it
 * hands the context over (nng_ctx_recv/nng_ctx_send, reactor_inbox_put),
 * and read by the thread that receives it after that hand-over. It is
 * atomic because one more thread reads it: the sweeper.
 *
 * The sweeper. A reply whose peer does not read it must not hold its
 * context forever, so a context in SEND for CTL_SEND_TIMEOUT_MS has its
 * connection closed (rep0 then completes the send). The sends themselves
 * carry no timeout: in NNG 1.5 every aio scheduled with one enters the
 * expiry queue and, that queue being empty between requests, wakes its
 * thread, which cost a context switch per request. Instead one sleeping
 * aio (nng_sleep_aio, CTL_SWEEP_MS) looks at the contexts on NNG's thread
 * while any is sending, and stops when none is; the reactor re-arms it
 * when it sends and the sweeper is off (the flag and the states are
 * sequentially consistent atomics, so neither side can miss the other).
 */
#include "node/ctl/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "proto/spec_pb.h"

/* ---- replies under construction ------------------------------------------ */

void *
ctl_reply_alloc(struct ctl_reply *rep, size_t size)
{
    void *p = naos_arena_alloc(&rep->mem, size);
    if (p == NULL)
        rep->failed = 1;
    return p;
}

static void *
reply_pb_alloc(void *data, size_t size)
{
    return ctl_reply_alloc(data, size);
}

static void
reply_pb_free(void *data, void *p)
{
    (void)data; /* the arena goes with the reply */
    (void)p;
}

ProtobufCAllocator
ctl_reply_pb_allocator(struct ctl_reply *rep)
{
    return (ProtobufCAllocator){reply_pb_alloc, reply_pb_free, rep};
}

char *
ctl_reply_strdup(struct ctl_reply *rep, const char *s)
{
    char *d = naos_arena_strdup(&rep->mem, s);
    if (d == NULL)
        rep->failed = 1;
    return d;
}

static void
reply_vset(struct ctl_reply *rep, Naos__V1__ErrorCode code, int is_error,
           const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *s = ctl_reply_strdup(rep, buf);
    rep->msg.code = code;
    if (is_error) {
        rep->msg.error = s ? s : "";
    } else {
        rep->msg.rep_case = NAOS__V1__REPLY__REP_MESSAGE;
        rep->msg.message = s ? s : "";
    }
}

void
ctl_reply_error(struct ctl_reply *rep, Naos__V1__ErrorCode code,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vset(rep, code, 1, fmt, ap);
    va_end(ap);
}

void
ctl_reply_message(struct ctl_reply *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vset(rep, NAOS__V1__ERROR_CODE__OK, 0, fmt, ap);
    va_end(ap);
}

void
ctl_reply_fini(struct ctl_reply *rep)
{
    naos_arena_fini(&rep->mem);
}

/* ---- contexts ------------------------------------------------------------- */

enum ctx_state {
    CTX_IDLE = 0, /* never started */
    CTX_RECV,
    CTX_QUEUED,
    CTX_HANDLING,
    CTX_DEFERRED,
    CTX_SEND,
    CTX_DEAD,
};

struct ctl_req {
    struct ctl *c;
    Naos__V1__Request *request; /* decoded (spec_pb_allocator); owned */
    struct ctl_reply reply;
    struct ctl_peer peer;
    ctl_cancel_fn cancel;
    void *cancel_arg;
};

struct ctl_ctx {
    struct reactor_inbox_item link; /* first: the inbox hands back items */
    struct ctl *c;
    nng_ctx ctx;
    nng_aio *aio;
    nng_msg *msg;          /* the request as received, until decoded */
    atomic_uint pipe_id;   /* its connection: closed if the reply is stuck */
    atomic_int state;      /* enum ctx_state; see the header comment */
    atomic_uint_least64_t sent_at; /* monotonic ms the reply was sent */
    atomic_bool closed_stuck;      /* the sweeper closed its connection */
    bool in_handler;               /* reactor only: its handler runs */
    struct ctl_req req;
};

static struct ctl_ctx *
ctx_of(struct ctl_req *req)
{
    return (struct ctl_ctx *)((char *)req - offsetof(struct ctl_ctx, req));
}

static void
ctx_recv(struct ctl_ctx *x)
{
    atomic_store(&x->state, CTX_RECV);
    nng_aio_set_timeout(x->aio, NNG_DURATION_INFINITE);
    nng_ctx_recv(x->ctx, x->aio);
}

static void
close_pipe(uint32_t id)
{
    nng_pipe p = NNG_PIPE_INITIALIZER;
    p.id = id;
    nng_pipe_close(p);
}

/* NNG's thread: closes the connections of replies stuck for
 * CTL_SEND_TIMEOUT_MS; keeps sweeping while any context is sending. */
static bool
sweep_once(struct ctl *c)
{
    naos_time now = naos_clock_now();
    bool sending = false;
    for (size_t i = 0; i < c->nctx; i++) {
        struct ctl_ctx *x = &c->ctxs[i];
        if (atomic_load(&x->state) != CTX_SEND)
            continue;
        sending = true;
        if (now >= atomic_load(&x->sent_at) +
                       atomic_load(&c->send_timeout_ms) &&
            !atomic_exchange(&x->closed_stuck, true)) {
            atomic_fetch_add(&c->abandoned, 1);
            close_pipe(atomic_load(&x->pipe_id));
        }
    }
    return sending;
}

static void
sweep_cb(void *arg)
{
    struct ctl *c = arg;
    if (nng_aio_result(c->sweep_aio) != 0)
        return; /* stopped: the endpoint is closing */
    if (sweep_once(c)) {
        nng_sleep_aio(CTL_SWEEP_MS, c->sweep_aio);
        return;
    }
    atomic_store(&c->sweeping, false);
    /* A send that started after the scan saw the flag still set. */
    if (sweep_once(c) && !atomic_exchange(&c->sweeping, true))
        nng_sleep_aio(CTL_SWEEP_MS, c->sweep_aio);
}

/* NNG's thread: a receive or a send of context x completed. Touches x's
 * aio and msg, the inbox and the abandoned counter; nothing else. */
static void
ctx_cb(void *arg)
{
    struct ctl_ctx *x = arg;
    int rv = nng_aio_result(x->aio);
    if (atomic_load(&x->state) == CTX_SEND) {
        if (rv != 0) {
            /* The reply is still ours: the socket is closing. (A peer
             * that does not read is handled by the sweeper, which closes
             * the connection: rep0 then reports the send done.) */
            nng_msg *m = nng_aio_get_msg(x->aio);
            nng_aio_set_msg(x->aio, NULL);
            if (m)
                nng_msg_free(m);
            if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
                atomic_store(&x->state, CTX_DEAD);
                return;
            }
            close_pipe(atomic_load(&x->pipe_id));
        }
        ctx_recv(x);
        return;
    }
    if (rv != 0) {
        if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
            atomic_store(&x->state, CTX_DEAD);
            return;
        }
        ctx_recv(x); /* a transient failure (no memory): keep serving */
        return;
    }
    x->msg = nng_aio_get_msg(x->aio);
    nng_aio_set_msg(x->aio, NULL);
    atomic_store(&x->pipe_id, nng_msg_get_pipe(x->msg).id);
    atomic_store(&x->state, CTX_QUEUED);
    /* The inbox holds CTL_CONTEXTS items, one per context: it refuses
     * only once closed. */
    if (reactor_inbox_put(&x->c->inbox, &x->link) != NAOS_OK) {
        nng_msg_free(x->msg);
        x->msg = NULL;
        atomic_store(&x->state, CTX_DEAD);
    }
}

/* Frees what the request being answered holds (not the context). */
static void
req_release(struct ctl_req *q)
{
    if (q->request)
        naos__v1__request__free_unpacked(q->request, &spec_pb_allocator);
    q->request = NULL;
    ctl_reply_fini(&q->reply);
    q->reply = (struct ctl_reply){0};
    q->cancel = NULL;
    q->cancel_arg = NULL;
}

/* Packs x's reply and sends it on x's context (reactor thread). A reply
 * that cannot be built degrades to a bare INTERNAL error; if not even
 * that fits in memory, the connection is closed so that the peer sees an
 * error instead of waiting. */
static void
send_reply(struct ctl *c, struct ctl_ctx *x)
{
    struct ctl_req *q = &x->req;
    Naos__V1__Reply *msg = &q->reply.msg;
    Naos__V1__Reply bare = NAOS__V1__REPLY__INIT;
    if (q->reply.failed) {
        bare.code = NAOS__V1__ERROR_CODE__INTERNAL;
        bare.error = "naos-node ran out of memory building the reply";
        msg = &bare;
    }
    nng_msg *m = NULL;
    size_t len = naos__v1__reply__get_packed_size(msg);
    if (nng_msg_alloc(&m, len) == 0) {
        naos__v1__reply__pack(msg, nng_msg_body(m));
    } else if (msg != &bare) {
        bare.code = NAOS__V1__ERROR_CODE__INTERNAL;
        bare.error = "naos-node ran out of memory sending the reply";
        len = naos__v1__reply__get_packed_size(&bare);
        if (nng_msg_alloc(&m, len) == 0)
            naos__v1__reply__pack(&bare, nng_msg_body(m));
        else
            m = NULL;
        msg = &bare;
    }
    c->served++;
    if (msg->code != NAOS__V1__ERROR_CODE__OK)
        c->bad++;
    req_release(q);
    if (m == NULL) {
        NAOS_ERROR("ctl", "cannot allocate a %zu-byte reply: closing the "
                   "connection", len);
        close_pipe(atomic_load(&x->pipe_id));
        ctx_recv(x);
        return;
    }
    atomic_store(&x->sent_at, naos_clock_now());
    atomic_store(&x->closed_stuck, false);
    atomic_store(&x->state, CTX_SEND);
    nng_aio_set_msg(x->aio, m);
    nng_aio_set_timeout(x->aio, NNG_DURATION_INFINITE); /* see the sweeper */
    nng_ctx_send(x->ctx, x->aio);
    if (!atomic_exchange(&c->sweeping, true))
        nng_sleep_aio(CTL_SWEEP_MS, c->sweep_aio);
}

static struct ctl_peer
peer_of(nng_msg *m)
{
    struct ctl_peer p = {0, 0};
    nng_pipe pipe = nng_msg_get_pipe(m);
    uint64_t pid = 0; /* NNG 1.5 gives the IPC peer ids as uint64 */
    if (nng_pipe_id(pipe) > 0) {
        p.conn = (uint32_t)nng_pipe_id(pipe);
        if (nng_pipe_get_uint64(pipe, NNG_OPT_IPC_PEER_PID, &pid) == 0 &&
            pid > 0 && pid <= INT32_MAX)
            p.pid = (int)pid;
    }
    return p;
}

/* Decodes x's request and runs the handler (reactor thread). */
static void
handle(struct ctl *c, struct ctl_ctx *x)
{
    struct ctl_req *q = &x->req;
    atomic_store(&x->state, CTX_HANDLING);
    q->reply = (struct ctl_reply){0};
    naos__v1__reply__init(&q->reply.msg);
    q->peer = peer_of(x->msg);
    size_t len = nng_msg_len(x->msg);
    bool decoded = false;
    if (len > CTL_MAX_REQUEST) {
        c->oversized++;
        ctl_reply_error(&q->reply, NAOS__V1__ERROR_CODE__INVALID,
                        "request of %zu bytes exceeds the %u-byte (%u MiB) "
                        "limit of the control endpoint: send less (a "
                        "checkpoint holds at most 1 MiB)",
                        len, CTL_MAX_REQUEST, CTL_MAX_REQUEST >> 20);
    } else {
        /* protobuf-c copies what it keeps, so the message can go now. */
        q->request = naos__v1__request__unpack(&spec_pb_allocator, len,
                                               nng_msg_body(x->msg));
        if (q->request == NULL ||
            q->request->req_case == NAOS__V1__REQUEST__REQ__NOT_SET)
            ctl_reply_error(&q->reply, NAOS__V1__ERROR_CODE__INVALID,
                            "cannot decode the request: is this naos client "
                            "the same version as naos-node %s?",
                            NAOS_VERSION);
        else if (!spec_pb_unpacked_intact(&q->request->base, len))
            /* protobuf-c cuts strings at a NUL: "ok\0x" reads "ok" */
            ctl_reply_error(&q->reply, NAOS__V1__ERROR_CODE__INVALID,
                            "request refused: a string in it holds a NUL "
                            "byte (or it is not encoded canonically)");
        else
            decoded = true;
    }
    nng_msg_free(x->msg);
    x->msg = NULL;
    if (decoded) {
        x->in_handler = true;
        c->handler(c->arg, q);
        x->in_handler = false;
    }
    if (atomic_load(&x->state) == CTX_DEFERRED)
        return;
    send_reply(c, x);
}

static void
on_inbox(void *arg, uint32_t events)
{
    struct ctl *c = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&c->inbox,
                                                       CTL_REACTOR_BATCH);
    while (it) {
        struct ctl_ctx *x = (struct ctl_ctx *)it;
        it = it->next;
        handle(c, x);
    }
}

/* ---- requests, for handlers ----------------------------------------------- */

const Naos__V1__Request *
ctl_req_request(const struct ctl_req *req)
{
    return req->request;
}

struct ctl_reply *
ctl_req_reply(struct ctl_req *req)
{
    return &req->reply;
}

struct ctl_peer
ctl_req_peer(const struct ctl_req *req)
{
    return req->peer;
}

int
ctl_req_defer(struct ctl_req *req, ctl_cancel_fn cancel, void *arg)
{
    struct ctl_ctx *x = ctx_of(req);
    struct ctl *c = x->c;
    NAOS_ASSERT(atomic_load(&x->state) == CTX_HANDLING);
    if (c->deferred >= CTL_MAX_DEFERRED)
        return NAOS_EBUSY;
    c->deferred++;
    req->cancel = cancel;
    req->cancel_arg = arg;
    atomic_store(&x->state, CTX_DEFERRED);
    return NAOS_OK;
}

void
ctl_req_finish(struct ctl_req *req)
{
    struct ctl_ctx *x = ctx_of(req);
    struct ctl *c = x->c;
    NAOS_ASSERT(atomic_load(&x->state) == CTX_DEFERRED);
    c->deferred--;
    if (x->in_handler) {
        /* finished before its handler returned (an answer found at
         * once after all): sent once, on the handler's return */
        req->cancel = NULL;
        atomic_store(&x->state, CTX_HANDLING);
        return;
    }
    send_reply(c, x);
}

/* ---- the endpoint ----------------------------------------------------------- */

/* Undoes whatever ctl_open got to; safe at any point of it. */
static void
teardown(struct ctl *c, struct reactor *r, bool sock_open)
{
    if (c->watch.added)
        reactor_del(r, &c->watch);
    /* From here the reactor takes nothing more: contexts still queued
     * drop their request, and NNG's callbacks find the inbox closed. */
    for (struct reactor_inbox_item *it = reactor_inbox_close(&c->inbox); it;) {
        struct ctl_ctx *x = (struct ctl_ctx *)it;
        it = it->next;
        nng_msg_free(x->msg);
        x->msg = NULL;
        atomic_store(&x->state, CTX_DEAD);
    }
    for (size_t i = 0; i < c->nctx; i++) {
        struct ctl_ctx *x = &c->ctxs[i];
        if (atomic_load(&x->state) != CTX_DEFERRED)
            continue;
        if (x->req.cancel)
            x->req.cancel(x->req.cancel_arg, &x->req);
        req_release(&x->req);
        atomic_store(&x->state, CTX_DEAD);
    }
    c->deferred = 0;
    /* Closing the socket closes its contexts: receives end ECLOSED, and
     * sends still queued behind a busy connection end ECLOSED too (their
     * callbacks free the reply). */
    if (sock_open)
        nng_close(c->sock);
    /* The sweeper goes first: it reads the contexts. */
    if (c->sweep_aio) {
        nng_aio_free(c->sweep_aio);
        c->sweep_aio = NULL;
    }
    for (size_t i = 0; i < c->nctx; i++) {
        struct ctl_ctx *x = &c->ctxs[i];
        if (x->aio) {
            nng_aio_free(x->aio); /* waits for a callback in progress */
            x->aio = NULL;
        }
        if (x->msg)
            nng_msg_free(x->msg);
        x->msg = NULL;
        req_release(&x->req);
    }
    reactor_inbox_fini(&c->inbox);
    naos_free(c->ctxs);
    c->ctxs = NULL;
    c->nctx = 0;
    c->open = false;
}

int
ctl_open(struct ctl *c, struct reactor *r, const char *url,
         ctl_handler handler, void *arg, char *errbuf, size_t errlen)
{
    *c = (struct ctl){.handler = handler, .arg = arg,
                      .inbox = REACTOR_INBOX_ZERO};
    atomic_init(&c->abandoned, 0);
    int rc, rv;
    bool sock_open = false;
    c->ctxs = naos_alloc(CTL_CONTEXTS * sizeof *c->ctxs); /* zeroed */
    if (c->ctxs == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    c->nctx = CTL_CONTEXTS;
    for (size_t i = 0; i < c->nctx; i++) {
        atomic_init(&c->ctxs[i].state, CTX_IDLE);
        atomic_init(&c->ctxs[i].pipe_id, 0);
        atomic_init(&c->ctxs[i].sent_at, 0);
        atomic_init(&c->ctxs[i].closed_stuck, false);
    }
    atomic_init(&c->sweeping, false);
    atomic_init(&c->send_timeout_ms, CTL_SEND_TIMEOUT_MS);
    if ((rc = reactor_inbox_init(&c->inbox, CTL_CONTEXTS)) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot create the control inbox: %s",
                 naos_strerror(rc));
        goto err;
    }
    if ((rv = nng_aio_alloc(&c->sweep_aio, sweep_cb, c)) != 0 ||
        (rv = nng_rep0_open(&c->sock)) != 0)
        goto err_nng;
    sock_open = true;
    /* Over the limit, but within the slack, a request is still read so
     * that it gets an answer naming the limit (ctl.h). */
    if ((rv = nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ,
                                  (size_t)CTL_MAX_REQUEST +
                                      CTL_REQUEST_SLACK)) != 0 ||
        (rv = nng_listener_create(&c->listener, c->sock, url)) != 0)
        goto err_nng;
    if (strncmp(url, "ipc://", 6) == 0 &&
        (rv = nng_listener_set_int(c->listener, NNG_OPT_IPC_PERMISSIONS,
                                   0600)) != 0)
        goto err_nng;
    for (size_t i = 0; i < c->nctx; i++) {
        struct ctl_ctx *x = &c->ctxs[i];
        x->c = c;
        x->req.c = c;
        if ((rv = nng_aio_alloc(&x->aio, ctx_cb, x)) != 0 ||
            (rv = nng_ctx_open(&x->ctx, c->sock)) != 0)
            goto err_nng;
    }
    if ((rv = nng_listener_start(c->listener, 0)) != 0)
        goto err_nng;
    if (reactor_add(r, &c->watch, reactor_inbox_fd(&c->inbox), EPOLLIN,
                    on_inbox, c) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot watch the control inbox");
        rc = NAOS_ESYS;
        goto err;
    }
    c->open = true;
    for (size_t i = 0; i < c->nctx; i++)
        ctx_recv(&c->ctxs[i]);
    return NAOS_OK;

err_nng:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
    rc = rv == NNG_ENOMEM ? NAOS_ENOMEM : NAOS_ESYS;
err:
    teardown(c, r, sock_open);
    return rc;
}

void
ctl_close(struct ctl *c, struct reactor *r)
{
    if (!c->open)
        return;
    teardown(c, r, true);
}

void
ctl_get_stats(struct ctl *c, struct ctl_stats *out)
{
    out->served = c->served;
    out->bad = c->bad;
    out->oversized = c->oversized;
    out->abandoned = atomic_load(&c->abandoned);
    out->deferred = c->deferred;
}
