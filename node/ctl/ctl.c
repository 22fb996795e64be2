/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.c: see ctl.h.
 *
 * The wire: SP over IPC, as NNG's req0 clients speak it.
 *   - Each side first sends 8 bytes: 00 'S' 'P' 00, its protocol (16
 *     bits, big-endian: REQ0 0x30, REP0 0x31), 00 00. We send ours at
 *     accept and take a REQ0 peer only.
 *   - Then messages, each a frame: one byte 0x01, a 64-bit big-endian
 *     length, and that many bytes. A request's bytes begin with its
 *     backtrace: 32-bit big-endian words, the last (and, from a direct
 *     client, only) one with its top bit set (the request id); at most
 *     CTL_MAX_HOPS words. The reply carries the same backtrace, then the
 *     packed naos.v1.Reply.
 * Anything else (another header, frame type or protocol; a backtrace
 * without an end; a frame over CTL_MAX_REQUEST + CTL_REQUEST_SLACK)
 * closes the connection, counted as refused.
 *
 * A connection's life (reactor thread only):
 *
 *   accept --(our header sent)--> HELLO --(the peer's, valid)--> OPEN
 *   OPEN: read a frame's head, then its body; a whole request goes to a
 *     free context (decoded, handled, answered: its reply is queued on
 *     the connection and the context is free again) or, when none is,
 *     waits in the connection (reading stops) on the endpoint's FIFO
 *   any --(EOF, error, a deadline, the wire, the cap)--> closed: its
 *     watch removed, its contexts' replies dropped when they come, its
 *     memory freed one loop iteration later (a later event of the same
 *     iteration may still name it).
 * Deadlines: HELLO and a half-read request end CTL_HELLO_TIMEOUT_MS after
 * they began; queued replies that do not move for send_timeout_ms end the
 * connection. One timerfd, armed for the earliest of them. */
#include "node/ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "proto/spec_pb.h"

/* SP protocol numbers (the RFC's, as NNG uses them). */
#define SP_REQ0 0x30u
#define SP_REP0 0x31u
/* Words of a backtrace a request may carry (NNG's default max TTL). */
#define CTL_MAX_HOPS 8
#define FRAME_HEAD 9 /* 0x01 + 64-bit length */

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

/* ---- contexts and connections ---------------------------------------------- */

enum ctx_state {
    CTX_FREE = 0,
    CTX_HANDLING,
    CTX_DEFERRED,
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
    enum ctx_state state;
    bool in_handler;         /* its handler runs */
    struct ctl_conn *conn;   /* where the reply goes; NULL once closed */
    uint8_t bt[4 * CTL_MAX_HOPS]; /* the request's backtrace */
    size_t btlen;
    struct ctl_req req;
};

/* A reply queued on its connection. */
struct out_chunk {
    struct out_chunk *next;
    size_t len;
    uint8_t data[]; /* frame head, backtrace, packed reply */
};

enum conn_phase { CONN_HELLO, CONN_OPEN };

struct ctl_conn {
    struct reactor_watch watch;
    struct ctl *c;
    struct ctl_conn *next, *prev; /* c->conns (oldest first) or c->dead */
    struct ctl_conn *wait_next;   /* c->waiting */
    int fd;
    uint32_t id;
    int pid;
    enum conn_phase phase;
    uint8_t hello[8];
    size_t hello_got;
    uint8_t head[FRAME_HEAD];
    size_t head_got;
    uint8_t *body; /* the frame being read (naos_alloc) */
    size_t body_len, body_got;
    bool whole;    /* body holds a whole request, waiting for a context */
    bool waiting;  /* on c->waiting */
    naos_time begun; /* HELLO, or a request's first byte; 0: none */
    struct out_chunk *out, *out_tail;
    size_t out_off;   /* bytes of out written */
    size_t out_bytes; /* queued, not yet written */
    naos_time out_moved; /* last time queued output moved (or was first
                            queued) */
    naos_time active;    /* last time a request or reply moved: eviction
                            takes the least recently active */
    unsigned inflight;   /* contexts holding its requests */
    uint32_t events;     /* what its watch waits for */
    uint64_t died;       /* the loop iteration it closed in */
};

/* Connection ids, unique across the process's endpoints (reactor
 * thread only). */
static uint32_t next_conn_id;

static void conn_close(struct ctl_conn *k, bool refused);
static void serve_waiting(struct ctl *c);
static void arm_timer(struct ctl *c);

static struct ctl_ctx *
ctx_of(struct ctl_req *req)
{
    return (struct ctl_ctx *)((char *)req - offsetof(struct ctl_ctx, req));
}

static naos_time
now_of(const struct ctl *c)
{
    return c->r->now;
}

/* Frees the connections closed in an earlier loop iteration. */
static void
reap_dead(struct ctl *c, bool all)
{
    struct ctl_conn **pp = &c->dead;
    while (*pp) {
        struct ctl_conn *k = *pp;
        if (!all && k->died >= c->r->iterations) {
            pp = &k->next;
            continue;
        }
        *pp = k->next;
        naos_free(k);
    }
}

/* The events k's watch should wait for now. */
static void
conn_rearm(struct ctl_conn *k)
{
    uint32_t ev = 0; /* EPOLLHUP and EPOLLERR come anyway */
    bool paused = k->whole || k->out_bytes > CTL_OUT_PAUSE;
    if (!paused)
        ev |= EPOLLIN;
    if (k->out != NULL)
        ev |= EPOLLOUT;
    if (ev != k->events && reactor_mod(k->c->r, &k->watch, ev) == NAOS_OK)
        k->events = ev;
}

/* Writes what k has queued, as far as the socket takes it. Returns false
 * when k was closed. */
static bool
conn_flush(struct ctl_conn *k)
{
    bool moved = false;
    while (k->out) {
        struct out_chunk *o = k->out;
        ssize_t w = send(k->fd, o->data + k->out_off, o->len - k->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            conn_close(k, false);
            return false;
        }
        moved = moved || w > 0;
        k->out_off += (size_t)w;
        k->out_bytes -= (size_t)w;
        if (k->out_off == o->len) {
            k->out = o->next;
            if (k->out == NULL)
                k->out_tail = NULL;
            k->out_off = 0;
            naos_free(o);
        }
    }
    if (moved)
        k->out_moved = k->active = now_of(k->c);
    conn_rearm(k);
    return true;
}

/* Queues len bytes at p behind k's other output (copied). */
static bool
conn_queue(struct ctl_conn *k, const void *p, size_t len)
{
    struct out_chunk *o = naos_alloc(sizeof *o + len);
    if (o == NULL)
        return false;
    o->len = len;
    memcpy(o->data, p, len);
    if (k->out == NULL)
        k->out_moved = now_of(k->c);
    if (k->out_tail)
        k->out_tail->next = o;
    else
        k->out = o;
    k->out_tail = o;
    k->out_bytes += len;
    return true;
}

/* ---- replies ---------------------------------------------------------------- */

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

/* Packs x's reply into a frame on x's connection (if it is still open)
 * and frees x. A reply that cannot be built degrades to a bare INTERNAL
 * error; if not even that fits in memory, the connection is closed so
 * that the peer sees an error instead of waiting. */
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
    c->served++;
    if (msg->code != NAOS__V1__ERROR_CODE__OK)
        c->bad++;
    struct ctl_conn *k = x->conn;
    if (k != NULL) {
        size_t body = naos__v1__reply__get_packed_size(msg);
        size_t len = FRAME_HEAD + x->btlen + body;
        uint8_t *frame = naos_alloc(len);
        if (frame == NULL && msg != &bare) {
            bare.code = NAOS__V1__ERROR_CODE__INTERNAL;
            bare.error = "naos-node ran out of memory sending the reply";
            msg = &bare;
            body = naos__v1__reply__get_packed_size(msg);
            len = FRAME_HEAD + x->btlen + body;
            frame = naos_alloc(len);
        }
        bool queued = false;
        if (frame != NULL) {
            frame[0] = 1;
            uint64_t n = x->btlen + body;
            for (int i = 0; i < 8; i++)
                frame[1 + i] = (uint8_t)(n >> (56 - 8 * i));
            memcpy(frame + FRAME_HEAD, x->bt, x->btlen);
            naos__v1__reply__pack(msg, frame + FRAME_HEAD + x->btlen);
            queued = conn_queue(k, frame, len);
            naos_free(frame);
        }
        k->inflight--;
        if (!queued) {
            NAOS_ERROR("ctl", "cannot allocate a %zu-byte reply: closing the "
                       "connection", len);
            conn_close(k, false);
        } else {
            conn_flush(k);
        }
    }
    req_release(q);
    x->conn = NULL;
    x->btlen = 0;
    x->state = CTX_FREE;
    serve_waiting(c);
}

/* ---- requests ---------------------------------------------------------------- */

static struct ctl_ctx *
free_ctx(struct ctl *c)
{
    for (size_t i = 0; i < CTL_CONTEXTS; i++)
        if (c->ctxs[i].state == CTX_FREE)
            return &c->ctxs[i];
    return NULL;
}

/* Takes k's whole request into context x: decodes it, runs the handler,
 * and answers unless the handler deferred it. */
static void
handle(struct ctl *c, struct ctl_conn *k, struct ctl_ctx *x)
{
    struct ctl_req *q = &x->req;
    uint8_t *frame = k->body;
    size_t flen = k->body_len;
    c->reading -= flen;
    k->body = NULL;
    k->body_len = k->body_got = 0;
    k->whole = false;
    k->begun = 0;
    x->state = CTX_HANDLING;
    x->conn = k;
    k->inflight++;
    /* the backtrace: words up to the one with its top bit set */
    size_t bt = 0;
    while (bt + 4 <= flen && bt < sizeof x->bt) {
        bt += 4;
        if (frame[bt - 4] & 0x80)
            break;
    }
    if (bt == 0 || !(frame[bt - 4] & 0x80)) {
        naos_free(frame);
        x->state = CTX_FREE;
        x->conn = NULL;
        k->inflight--;
        conn_close(k, true);
        return;
    }
    memcpy(x->bt, frame, bt);
    x->btlen = bt;
    const uint8_t *body = frame + bt;
    size_t len = flen - bt;
    q->reply = (struct ctl_reply){0};
    naos__v1__reply__init(&q->reply.msg);
    q->peer = (struct ctl_peer){k->pid, k->id};
    bool decoded = false;
    if (len > CTL_MAX_REQUEST) {
        c->oversized++;
        ctl_reply_error(&q->reply, NAOS__V1__ERROR_CODE__INVALID,
                        "request of %zu bytes exceeds the %u-byte (%u MiB) "
                        "limit of the control endpoint: send less (a "
                        "checkpoint holds at most 1 MiB)",
                        len, CTL_MAX_REQUEST, CTL_MAX_REQUEST >> 20);
    } else {
        /* protobuf-c copies what it keeps, so the frame can go now. */
        q->request = naos__v1__request__unpack(&spec_pb_allocator, len, body);
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
    naos_free(frame);
    if (decoded) {
        x->in_handler = true;
        c->handler(c->arg, q);
        x->in_handler = false;
    }
    if (x->state == CTX_DEFERRED)
        return;
    send_reply(c, x);
}

/* Connections holding a whole request get the contexts freed since. */
static void
serve_waiting(struct ctl *c)
{
    if (c->serving)
        return; /* a reply sent below: the loop here goes on */
    c->serving = true;
    while (c->waiting != NULL) {
        struct ctl_ctx *x = free_ctx(c);
        if (x == NULL)
            break;
        struct ctl_conn *k = c->waiting;
        c->waiting = k->wait_next;
        if (c->waiting == NULL)
            c->waiting_tail = NULL;
        k->wait_next = NULL;
        k->waiting = false;
        handle(c, k, x);
        if (k->watch.added)
            conn_rearm(k);
    }
    c->serving = false;
}

/* k read a whole request: handled now, or queued for a context. */
static void
request_done(struct ctl *c, struct ctl_conn *k)
{
    k->whole = true;
    k->active = now_of(c);
    struct ctl_ctx *x = c->waiting == NULL ? free_ctx(c) : NULL;
    if (x != NULL) {
        handle(c, k, x);
        return;
    }
    k->waiting = true;
    if (c->waiting_tail)
        c->waiting_tail->wait_next = k;
    else
        c->waiting = k;
    c->waiting_tail = k;
}

/* ---- reading -------------------------------------------------------------- */

static bool
hello_valid(const uint8_t *h)
{
    return h[0] == 0 && h[1] == 'S' && h[2] == 'P' && h[3] == 0 &&
           ((unsigned)h[4] << 8 | h[5]) == SP_REQ0 && h[6] == 0 && h[7] == 0;
}

/* Reads into buf[*got..want) what the socket has. Returns 1 when full, 0
 * when it would block, -1 on EOF or an error. */
static int
read_some(int fd, uint8_t *buf, size_t *got, size_t want)
{
    while (*got < want) {
        ssize_t n = recv(fd, buf + *got, want - *got, MSG_DONTWAIT);
        if (n > 0) {
            *got += (size_t)n;
            continue;
        }
        if (n == 0)
            return -1;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    return 1;
}

/* One readable event of k: the header, or (at most) one request. */
static void
conn_read(struct ctl *c, struct ctl_conn *k)
{
    int rc;
    if (k->phase == CONN_HELLO) {
        rc = read_some(k->fd, k->hello, &k->hello_got, sizeof k->hello);
        if (rc < 0 || (rc == 1 && !hello_valid(k->hello))) {
            conn_close(k, rc > 0 || k->hello_got > 0);
            return;
        }
        if (rc == 0)
            return;
        k->phase = CONN_OPEN;
        k->begun = 0;
    }
    if (k->whole)
        return; /* its request waits for a context */
    if (k->body == NULL) {
        size_t before = k->head_got;
        rc = read_some(k->fd, k->head, &k->head_got, FRAME_HEAD);
        if (k->head_got > before && before == 0)
            k->begun = now_of(c);
        if (rc < 0) {
            conn_close(k, false);
            return;
        }
        if (rc == 0)
            return;
        uint64_t len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | k->head[1 + i];
        if (k->head[0] != 1 || len < 4 ||
            len > (uint64_t)CTL_MAX_REQUEST + CTL_REQUEST_SLACK) {
            if (k->head[0] == 1 && len >= 4)
                c->oversized++;
            conn_close(k, true);
            return;
        }
        if (c->reading + len > CTL_READ_BUDGET) {
            /* requests being read hold this much already: one peer
             * opening many connections pins no more */
            c->over_budget++;
            conn_close(k, true);
            return;
        }
        k->body = naos_alloc((size_t)len);
        if (k->body == NULL) {
            NAOS_ERROR("ctl", "cannot allocate a %llu-byte request: closing "
                       "the connection", (unsigned long long)len);
            conn_close(k, false);
            return;
        }
        k->body_len = (size_t)len;
        k->body_got = 0;
        k->head_got = 0;
        c->reading += k->body_len;
    }
    rc = read_some(k->fd, k->body, &k->body_got, k->body_len);
    if (rc < 0) {
        conn_close(k, false);
        return;
    }
    if (rc == 1)
        request_done(c, k);
}

static void
on_conn(void *arg, uint32_t events)
{
    struct ctl_conn *k = arg;
    struct ctl *c = k->c;
    if (events & EPOLLOUT) {
        if (!conn_flush(k))
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if ((events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
            conn_close(k, false);
            return;
        }
        conn_read(c, k);
    }
    if (k->watch.added)
        conn_rearm(k);
    arm_timer(c);
}

/* ---- connections -------------------------------------------------------- */

static void
conn_close(struct ctl_conn *k, bool refused)
{
    struct ctl *c = k->c;
    if (!k->watch.added)
        return; /* closed already */
    if (refused)
        c->refused++;
    reactor_del(c->r, &k->watch);
    close(k->fd);
    k->fd = -1;
    for (size_t i = 0; i < CTL_CONTEXTS; i++)
        if (c->ctxs[i].conn == k)
            c->ctxs[i].conn = NULL; /* its reply is dropped */
    if (k->waiting) {
        struct ctl_conn **pp = &c->waiting;
        c->waiting_tail = NULL;
        for (struct ctl_conn *w = c->waiting; w; w = w->wait_next) {
            if (w == k)
                *pp = w->wait_next;
            else {
                c->waiting_tail = w;
                pp = &w->wait_next;
            }
        }
        k->waiting = false;
    }
    if (k->body != NULL)
        c->reading -= k->body_len;
    naos_free(k->body);
    k->body = NULL;
    k->body_len = 0;
    while (k->out) {
        struct out_chunk *o = k->out;
        k->out = o->next;
        naos_free(o);
    }
    k->out_tail = NULL;
    k->out_bytes = 0;
    /* off the open list, onto the dead one */
    if (k->prev)
        k->prev->next = k->next;
    else
        c->conns = k->next;
    if (k->next)
        k->next->prev = k->prev;
    c->nconns--;
    k->died = c->r->iterations;
    k->prev = NULL;
    k->next = c->dead;
    c->dead = k;
}

/* The connection to close for a newcomer at the cap: the least recently
 * active of those idle (nothing in flight, half read or unsent), else of
 * those with no request of theirs taken (negotiating, half read, or
 * replies unread: closing one breaks no promise made to it). NULL when
 * every connection has a request in flight, which the contexts bound
 * well below the cap. */
static struct ctl_conn *
conn_to_evict(struct ctl *c)
{
    struct ctl_conn *idle = NULL, *any = NULL;
    for (struct ctl_conn *k = c->conns; k; k = k->next) {
        if (k->inflight != 0 || k->whole)
            continue;
        if (any == NULL || k->active < any->active)
            any = k;
        bool is_idle = k->phase == CONN_OPEN && k->body == NULL &&
                       k->head_got == 0 && k->out == NULL;
        if (is_idle && (idle == NULL || k->active < idle->active))
            idle = k;
    }
    return idle ? idle : any;
}

static void
on_accept(void *arg, uint32_t events)
{
    struct ctl *c = arg;
    (void)events;
    reap_dead(c, false);
    for (int i = 0; i < 16; i++) { /* a few per wake-up */
        int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                /* out of descriptors or memory: the connection stays in
                 * the backlog and the socket readable, so stop watching
                 * it for a while instead of spinning on it */
                if (now_of(c) >= c->accept_warned + 10000) {
                    NAOS_WARN("ctl", "%s: cannot accept a connection: %s "
                              "(trying again every %d ms)", c->path,
                              strerror(errno), CTL_ACCEPT_PAUSE_MS);
                    c->accept_warned = now_of(c);
                }
                c->accept_errors++;
                if (reactor_mod(c->r, &c->watch, 0) == NAOS_OK)
                    c->accept_paused_until = now_of(c) + CTL_ACCEPT_PAUSE_MS;
            }
            break;
        }
        if (c->nconns >= c->max_conns) {
            struct ctl_conn *old = conn_to_evict(c);
            if (old == NULL) {
                c->refused++;
                close(fd);
                continue;
            }
            conn_close(old, true);
        }
        struct ctl_conn *k = naos_alloc(sizeof *k);
        if (k == NULL) {
            close(fd);
            continue;
        }
        struct ucred cred = {0};
        socklen_t clen = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0)
            cred.pid = 0;
        k->c = c;
        k->fd = fd;
        k->pid = cred.pid > 0 ? cred.pid : 0;
        /* one counter for every endpoint of the process: the node
         * remembers callers by connection id (node_ctl.c identify), and
         * ctl.sock's connection 7 must never be agent.sock's */
        if (++next_conn_id == 0)
            next_conn_id = 1;
        k->id = next_conn_id;
        k->phase = CONN_HELLO;
        k->begun = k->active = now_of(c);
        static const uint8_t hello[8] = {0, 'S', 'P', 0, 0, SP_REP0, 0, 0};
        k->events = EPOLLIN;
        if (!conn_queue(k, hello, sizeof hello) ||
            reactor_add(c->r, &k->watch, fd, k->events, on_conn, k) !=
                NAOS_OK) {
            while (k->out) {
                struct out_chunk *o = k->out;
                k->out = o->next;
                naos_free(o);
            }
            naos_free(k);
            close(fd);
            continue;
        }
        k->next = NULL;
        k->prev = NULL;
        /* newest last: the list stays oldest first */
        struct ctl_conn **tail = &c->conns;
        struct ctl_conn *prev = NULL;
        while (*tail) {
            prev = *tail;
            tail = &(*tail)->next;
        }
        *tail = k;
        k->prev = prev;
        c->nconns++;
        conn_flush(k);
    }
    arm_timer(c);
}

/* ---- deadlines -------------------------------------------------------------- */

static naos_time
conn_deadline(const struct ctl *c, const struct ctl_conn *k)
{
    naos_time d = NAOS_TIME_NEVER;
    /* (not while its reading waits for its own replies to drain: the
     * send timeout covers that) */
    if (k->begun != 0 && !k->whole && k->out_bytes <= CTL_OUT_PAUSE)
        d = k->begun + c->hello_timeout_ms;
    if (k->out != NULL) {
        naos_time s = k->out_moved + c->send_timeout_ms;
        if (s < d)
            d = s;
    }
    return d;
}

static void
arm_timer(struct ctl *c)
{
    naos_time next = NAOS_TIME_NEVER;
    for (struct ctl_conn *k = c->conns; k; k = k->next) {
        naos_time d = conn_deadline(c, k);
        if (d < next)
            next = d;
    }
    if (c->dead != NULL && next > now_of(c) + 1000)
        next = now_of(c) + 1000; /* reap the dead soon */
    if (c->accept_paused_until != 0 && c->accept_paused_until < next)
        next = c->accept_paused_until;
    if (next == c->armed)
        return;
    c->armed = next;
    struct itimerspec its = {0};
    if (next != NAOS_TIME_NEVER) {
        naos_time now = naos_clock_now();
        naos_time wait = next > now ? next - now : 1;
        its.it_value.tv_sec = (time_t)(wait / 1000);
        its.it_value.tv_nsec = (long)(wait % 1000) * 1000000L;
    }
    timerfd_settime(c->tfd, 0, &its, NULL);
}

static void
on_timer(void *arg, uint32_t events)
{
    struct ctl *c = arg;
    (void)events;
    uint64_t expirations;
    while (read(c->tfd, &expirations, sizeof expirations) < 0 &&
           errno == EINTR) {
    }
    reap_dead(c, false);
    naos_time now = now_of(c);
    if (c->accept_paused_until != 0 && now >= c->accept_paused_until &&
        reactor_mod(c->r, &c->watch, EPOLLIN) == NAOS_OK)
        c->accept_paused_until = 0;
    for (struct ctl_conn *k = c->conns, *next; k; k = next) {
        next = k->next;
        if (k->out != NULL && now >= k->out_moved + c->send_timeout_ms) {
            c->abandoned++;
            conn_close(k, false);
        } else if (k->begun != 0 && !k->whole &&
                   k->out_bytes <= CTL_OUT_PAUSE &&
                   now >= k->begun + c->hello_timeout_ms) {
            conn_close(k, true);
        }
    }
    c->armed = 0; /* fired: set it again */
    arm_timer(c);
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
    struct ctl *c = req->c;
    NAOS_ASSERT(x->state == CTX_HANDLING);
    if (c->deferred >= CTL_MAX_DEFERRED)
        return NAOS_EBUSY;
    c->deferred++;
    req->cancel = cancel;
    req->cancel_arg = arg;
    x->state = CTX_DEFERRED;
    return NAOS_OK;
}

void
ctl_req_finish(struct ctl_req *req)
{
    struct ctl_ctx *x = ctx_of(req);
    struct ctl *c = req->c;
    NAOS_ASSERT(x->state == CTX_DEFERRED);
    c->deferred--;
    if (x->in_handler) {
        /* finished before its handler returned (an answer found at
         * once after all): sent once, on the handler's return */
        req->cancel = NULL;
        x->state = CTX_HANDLING;
        return;
    }
    send_reply(c, x);
    arm_timer(c);
}

/* ---- the endpoint ----------------------------------------------------------- */

/* Undoes whatever ctl_open got to; safe at any point of it. */
static void
teardown(struct ctl *c)
{
    if (c->watch.added)
        reactor_del(c->r, &c->watch);
    if (c->twatch.added)
        reactor_del(c->r, &c->twatch);
    for (size_t i = 0; c->ctxs && i < CTL_CONTEXTS; i++) {
        struct ctl_ctx *x = &c->ctxs[i];
        if (x->state == CTX_DEFERRED && x->req.cancel)
            x->req.cancel(x->req.cancel_arg, &x->req);
        req_release(&x->req);
        x->state = CTX_FREE;
        x->conn = NULL;
    }
    c->deferred = 0;
    while (c->conns)
        conn_close(c->conns, false);
    c->waiting = c->waiting_tail = NULL;
    reap_dead(c, true);
    if (c->lfd >= 0) {
        close(c->lfd);
        /* our socket, not one a later node bound there */
        struct stat st;
        if (c->path && lstat(c->path, &st) == 0 &&
            (unsigned long)st.st_ino == c->path_ino)
            unlink(c->path);
    }
    if (c->tfd >= 0)
        close(c->tfd);
    c->lfd = c->tfd = -1;
    naos_free(c->path);
    c->path = NULL;
    naos_free(c->ctxs);
    c->ctxs = NULL;
    c->open = false;
}

/* Binds a Unix socket at path, replacing a stale socket left there (the
 * node's lock keeps any live one away): anything but a socket is left
 * alone and refused. */
static int
bind_path(struct ctl *c, const char *path, char *errbuf, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(errbuf, errlen, "cannot listen on %s: the path is longer "
                 "than a Unix socket's %zu bytes", path,
                 sizeof sa.sun_path - 1);
        return NAOS_EINVAL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    c->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->lfd < 0)
        goto err;
    if (bind(c->lfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        struct stat st;
        if (errno != EADDRINUSE || lstat(path, &st) != 0 ||
            !S_ISSOCK(st.st_mode) || unlink(path) != 0 ||
            bind(c->lfd, (struct sockaddr *)&sa, sizeof sa) != 0)
            goto err;
    }
    /* owner-only before anyone can connect (listen comes after) */
    struct stat st;
    if (chmod(path, 0600) != 0 || lstat(path, &st) != 0 ||
        listen(c->lfd, 128) != 0)
        goto err;
    c->path_ino = (unsigned long)st.st_ino;
    return NAOS_OK;
err:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", path,
             strerror(errno));
    return NAOS_ESYS;
}

int
ctl_open(struct ctl *c, struct reactor *r, const char *url,
         ctl_handler handler, void *arg, char *errbuf, size_t errlen)
{
    *c = (struct ctl){.r = r, .lfd = -1, .tfd = -1, .handler = handler,
                      .arg = arg, .send_timeout_ms = CTL_SEND_TIMEOUT_MS,
                      .hello_timeout_ms = CTL_HELLO_TIMEOUT_MS,
                      .armed = NAOS_TIME_NEVER};
    int rc;
    if (strncmp(url, "ipc://", 6) != 0 || url[6] == '\0') {
        snprintf(errbuf, errlen, "cannot listen on %s: only ipc://PATH is "
                 "served", url);
        return NAOS_EINVAL;
    }
    c->ctxs = naos_alloc(CTL_CONTEXTS * sizeof *c->ctxs); /* zeroed */
    c->path = naos_alloc(strlen(url + 6) + 1);
    if (c->ctxs == NULL || c->path == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        rc = NAOS_ENOMEM;
        goto err;
    }
    memcpy(c->path, url + 6, strlen(url + 6) + 1);
    for (size_t i = 0; i < CTL_CONTEXTS; i++)
        c->ctxs[i].req.c = c;
    /* an eighth of the descriptors at most, for each endpoint */
    struct rlimit rl;
    c->max_conns = CTL_MAX_CONNS;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / 8 < c->max_conns)
        c->max_conns = rl.rlim_cur / 8 > 4 ? (unsigned)(rl.rlim_cur / 8) : 4;
    if ((rc = bind_path(c, c->path, errbuf, errlen)) != NAOS_OK)
        goto err;
    c->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (c->tfd < 0 ||
        reactor_add(r, &c->watch, c->lfd, EPOLLIN, on_accept, c) != NAOS_OK ||
        reactor_add(r, &c->twatch, c->tfd, EPOLLIN, on_timer, c) !=
            NAOS_OK) {
        snprintf(errbuf, errlen, "cannot watch %s: %s", c->path,
                 strerror(errno));
        rc = NAOS_ESYS;
        goto err;
    }
    c->open = true;
    return NAOS_OK;
err:
    teardown(c);
    return rc;
}

void
ctl_close(struct ctl *c, struct reactor *r)
{
    (void)r;
    if (!c->open)
        return;
    teardown(c);
}

void
ctl_get_stats(struct ctl *c, struct ctl_stats *out)
{
    out->served = c->served;
    out->bad = c->bad;
    out->oversized = c->oversized;
    out->abandoned = c->abandoned;
    out->refused = c->refused;
    out->over_budget = c->over_budget;
    out->accept_errors = c->accept_errors;
    out->deferred = c->deferred;
    out->conns = c->nconns;
}
