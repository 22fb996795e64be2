/* SPDX-License-Identifier: Apache-2.0 */
/* front.c: see front.h.
 *
 * A client connection lives in a slot. Its phases (the deadline each one
 * arms in parentheses):
 *
 *   HEAD    waiting for a whole request head (first byte + header_timeout;
 *           for the first request, accept + header_timeout)
 *   IDLE    kept alive between requests (last byte moved + idle_timeout);
 *           a byte from the client makes it HEAD
 *   BUSY    the head was read; the node is answering (none: the answer
 *           always comes, http_close answers what is queued)
 *   REPLY   NNG writes the reply into the leg (+ FRONT_WRITE_TIMEOUT)
 *   CLOSING the NNG conn is closed; the rest of the leg is flushed to the
 *           client (+ FRONT_WRITE_TIMEOUT)
 *   LINGER  our side is shut; the client's leftovers are read and dropped
 *           so that closing does not reset the reply (+ FRONT_LINGER)
 *
 * The NNG side of a slot (one aio, used in turn to dial the leg, send the
 * nonce, read a head, write a reply) moves it HEAD/IDLE -> BUSY (head
 * read), BUSY -> REPLY (front_reply), REPLY -> IDLE or CLOSING (written),
 * and anything -> CLOSING when NNG reports the conn failed or ended. The
 * relay moves bytes whatever the phase, within its two buffers. A missed
 * deadline closes the slot at once (teardown), counted by reason. */
#include "node/http/front.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"

enum phase {
    PH_FREE = 0,
    PH_HEAD,
    PH_IDLE,
    PH_BUSY,
    PH_REPLY,
    PH_CLOSING,
    PH_LINGER,
};

enum io_op { IO_NONE = 0, IO_NONCE, IO_READ, IO_WRITE };

/* epoll tags: kind << 32 | index */
enum tag { T_LISTEN = 1, T_LEGLISTEN, T_EVENT, T_PUB, T_LEG, T_PEND };

struct relay_buf {
    size_t off, len;
    char data[FRONT_BUF];
};

struct slot {
    struct front *f;
    uint32_t idx;
    uint32_t gen;        /* under f->mu */
    enum phase ph;
    naos_time since;     /* phase start, or last byte moved when IDLE */
    naos_time deadline;  /* NAOS_TIME_NEVER = none */
    int pub_fd, leg_fd;
    uint32_t pub_ev, leg_ev; /* epoll interest now (0 = not registered) */
    bool pub_eof, leg_eof;   /* no more input from that side */
    bool pub_shut, leg_shut; /* we shut our output to that side */
    bool leg_dead;           /* writing to the leg failed: drop input */
    bool bytes_since_head;   /* client bytes after the last head */
    bool close_after;        /* close once the reply is out */
    bool want_leg;           /* waiting for a dialed conn (front's queue) */
    uint64_t want_seq;       /* its place in that queue */
    unsigned char nonce[FRONT_NONCE];
    /* NNG side: aio sends the nonce, reads heads, writes replies on conn */
    nng_aio *aio;
    enum io_op io;
    atomic_bool io_done;
    nng_http_conn *conn;
    nng_http_req *req;
    nng_http_res *res; /* reply being written */
    char *body;
    size_t counted;
    /* reply posted by another thread, under f->mu */
    atomic_bool posted;
    nng_http_res *p_res;
    char *p_body;
    size_t p_counted;
    bool p_close;
    struct relay_buf up, down; /* client -> leg, leg -> client */
};

struct pending {
    int fd; /* -1 = free */
    naos_time deadline;
    size_t n;
    unsigned char got[FRONT_NONCE];
};

struct front {
    struct front_config cfg;
    int port;
    int listen_fd, leg_listen_fd, ep, efd;
    naos_time paused_until[2]; /* [0] listener, [1] leg listener; 0 = on */
    nng_http_client *client;
    /* The one leg dial in flight (front thread; see dial_kick). */
    nng_aio *dial_aio;
    bool dialing;
    atomic_bool dial_done;
    uint32_t nwant;    /* slots with want_leg */
    uint64_t want_seq; /* next place in the queue */
    /* warnings at most once a second each */
    naos_time dial_warned_at, accept_warned_at[2];
    uint64_t unwarned; /* dial failures not logged since dial_warned_at */
    pthread_t thread;
    bool thread_started;
    atomic_bool stop;
    pthread_mutex_t mu; /* slot gens and posted replies; stopped */
    bool stopped;
    uint32_t nslots;
    struct slot *slots;
    uint32_t npend;
    struct pending *pend; /* nslots + FRONT_PENDING */
    atomic_uint_fast64_t reply_bytes, accepted, budget_refused, open;
    atomic_uint_fast64_t closed[FRONT_C__COUNT];
};

const char *
front_close_name(enum front_close c)
{
    static const char *const names[FRONT_C__COUNT] = {
        "header_timeout", "idle_timeout", "write_timeout", "evicted",
        "refused"};
    return c < FRONT_C__COUNT ? names[c] : "other";
}

static uint64_t
tag(enum tag k, uint32_t i)
{
    return (uint64_t)k << 32 | i;
}

/* ---- budget ----------------------------------------------------------------- */

bool
front_budget_take(struct front *f, size_t len)
{
    uint_fast64_t cur = atomic_load(&f->reply_bytes);
    for (;;) {
        /* small replies (errors, 503s, most answers) always go; one reply
         * larger than the whole budget goes when nothing else is held */
        bool fits = len <= FRONT_SMALL_REPLY || cur == 0 ||
                    cur + len <= f->cfg.reply_budget;
        if (!fits) {
            atomic_fetch_add(&f->budget_refused, 1);
            return false;
        }
        if (atomic_compare_exchange_weak(&f->reply_bytes, &cur, cur + len))
            return true;
    }
}

bool
front_budget_full(struct front *f)
{
    return atomic_load(&f->reply_bytes) >= f->cfg.reply_budget;
}

static void
budget_release(struct front *f, size_t len)
{
    atomic_fetch_sub(&f->reply_bytes, len);
}

/* ---- slots ------------------------------------------------------------------- */

static void
set_phase(struct slot *s, enum phase ph, naos_time now, naos_duration d)
{
    s->ph = ph;
    s->since = now;
    s->deadline = d < 0 ? NAOS_TIME_NEVER : now + (naos_time)d;
}

static void
epoll_set(struct front *f, int fd, uint32_t *cur, uint32_t want, uint64_t t)
{
    if (fd < 0 || *cur == want)
        return;
    struct epoll_event ev = {.events = want, .data.u64 = t};
    int op = *cur == 0 ? EPOLL_CTL_ADD
                       : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
    if (epoll_ctl(f->ep, op, fd, &ev) == 0)
        *cur = want;
    else
        NAOS_WARN("http", "epoll_ctl: %s", strerror(errno));
}

/* Registers for what the slot's buffers can take and give: a side is only
 * in the epoll set while something is wanted of it, so a hung-up socket
 * never wakes the thread for nothing. */
static void
arm(struct front *f, struct slot *s)
{
    uint32_t pw = 0, lw = 0;
    if (!s->pub_eof && s->up.len < FRONT_BUF)
        pw |= EPOLLIN;
    if (s->down.len > 0 && !s->pub_shut)
        pw |= EPOLLOUT;
    if (s->leg_fd >= 0) {
        if (!s->leg_eof && s->down.len < FRONT_BUF)
            lw |= EPOLLIN;
        if (s->up.len > 0 && !s->leg_shut && !s->leg_dead)
            lw |= EPOLLOUT;
    }
    epoll_set(f, s->pub_fd, &s->pub_ev, pw, tag(T_PUB, s->idx));
    epoll_set(f, s->leg_fd, &s->leg_ev, lw, tag(T_LEG, s->idx));
}

/* Stops whatever NNG is doing for s and frees its side. The leg is
 * closed first (teardown) and the conn before the aio is waited for: a
 * reply write blocked on a full leg completes only when its stream fails,
 * cancelling the aio alone does not stop it. s's aio only ever works on
 * s's own conn (never a dial: see dial_kick), so nothing else is
 * disturbed by stopping it. */
static void
nng_side_fini(struct slot *s)
{
    if (s->conn) {
        nng_http_conn_close(s->conn); /* fails what is pending on it */
        s->conn = NULL;
    }
    if (s->io != IO_NONE) {
        nng_aio_cancel(s->aio);
        nng_aio_wait(s->aio);
        s->io = IO_NONE;
    }
    atomic_store(&s->io_done, false);
    if (s->res) {
        nng_http_res_free(s->res);
        s->res = NULL;
    }
    naos_free(s->body);
    s->body = NULL;
    if (s->counted)
        budget_release(s->f, s->counted);
    s->counted = 0;
}

/* Closes s now. reason < FRONT_C__COUNT is counted. */
static void
teardown(struct front *f, struct slot *s, int reason)
{
    if (s->ph == PH_FREE)
        return;
    if (reason >= 0 && reason < FRONT_C__COUNT)
        atomic_fetch_add(&f->closed[reason], 1);
    if (s->want_leg) {
        s->want_leg = false; /* a dial in flight goes to the next in line */
        f->nwant--;
    }
    /* out of the epoll set explicitly: a spawn's transient copy of the fd
     * table would otherwise keep the registration alive past close */
    epoll_set(f, s->pub_fd, &s->pub_ev, 0, 0);
    epoll_set(f, s->leg_fd, &s->leg_ev, 0, 0);
    if (s->pub_fd >= 0)
        close(s->pub_fd);
    if (s->leg_fd >= 0)
        close(s->leg_fd);
    s->pub_fd = s->leg_fd = -1;
    s->pub_ev = s->leg_ev = 0;
    nng_side_fini(s);
    pthread_mutex_lock(&f->mu);
    s->gen++;
    if (atomic_exchange(&s->posted, false)) {
        if (s->p_res)
            nng_http_res_free(s->p_res);
        naos_free(s->p_body);
        budget_release(f, s->p_counted);
    }
    s->ph = PH_FREE;
    pthread_mutex_unlock(&f->mu);
    atomic_fetch_sub(&f->open, 1);
}

/* The NNG conn is done (error, end, or a reply that closes): flush what the
 * leg still carries to the client, then close. */
static void
begin_closing(struct front *f, struct slot *s, naos_time now)
{
    if (s->conn) {
        nng_http_conn_close(s->conn); /* the leg sees EOF after the data */
        s->conn = NULL;
    }
    if (s->leg_fd < 0) {
        teardown(f, s, -1);
        return;
    }
    set_phase(s, PH_CLOSING, now, FRONT_WRITE_TIMEOUT);
}

static void
start_read(struct front *f, struct slot *s, naos_time now)
{
    (void)f;
    nng_http_req_reset(s->req);
    if (s->bytes_since_head)
        set_phase(s, PH_HEAD, now, s->f->cfg.header_timeout);
    else
        set_phase(s, PH_IDLE, now, s->f->cfg.idle_timeout);
    s->io = IO_READ;
    nng_http_conn_read_req(s->conn, s->req, s->aio);
}

/* NNG finished s's operation. Front thread. */
static void
on_io(struct front *f, struct slot *s, naos_time now)
{
    enum io_op op = s->io;
    int rv = nng_aio_result(s->aio);
    s->io = IO_NONE;
    switch (op) {
    case IO_NONCE:
        if (rv != 0) {
            teardown(f, s, -1);
            return;
        }
        /* the first head: its deadline runs from the accept */
        nng_http_req_reset(s->req);
        s->io = IO_READ;
        nng_http_conn_read_req(s->conn, s->req, s->aio);
        return;
    case IO_READ:
        if (rv != 0) {
            /* end of input, a malformed head (NNG closes the conn: it
             * cannot say where the next request would start) or a head
             * beyond NNG's buffer */
            begin_closing(f, s, now);
            return;
        }
        set_phase(s, PH_BUSY, now, -1);
        s->bytes_since_head = false;
        f->cfg.on_request(f->cfg.arg, f, (struct front_id){s->idx, s->gen},
                          s->req);
        return;
    case IO_WRITE:
        nng_http_res_free(s->res);
        s->res = NULL;
        naos_free(s->body);
        s->body = NULL;
        budget_release(f, s->counted);
        s->counted = 0;
        if (rv != 0) {
            teardown(f, s, -1);
            return;
        }
        if (s->close_after) {
            begin_closing(f, s, now);
            return;
        }
        start_read(f, s, now);
        return;
    default:
        return;
    }
}

/* A reply was posted for s. Front thread. */
static void
on_posted(struct front *f, struct slot *s, naos_time now)
{
    pthread_mutex_lock(&f->mu);
    bool had = atomic_exchange(&s->posted, false);
    nng_http_res *res = s->p_res;
    char *body = s->p_body;
    size_t counted = s->p_counted;
    bool cl = s->p_close;
    pthread_mutex_unlock(&f->mu);
    if (!had)
        return;
    if (res == NULL && s->ph == PH_BUSY) {
        naos_free(body);
        budget_release(f, counted);
        begin_closing(f, s, now);
        return;
    }
    if (s->ph != PH_BUSY || s->conn == NULL) {
        if (res)
            nng_http_res_free(res);
        naos_free(body);
        budget_release(f, counted);
        return;
    }
    s->res = res;
    s->body = body;
    s->counted = counted;
    s->close_after = s->close_after || cl;
    set_phase(s, PH_REPLY, now, FRONT_WRITE_TIMEOUT);
    s->io = IO_WRITE;
    nng_http_conn_write_res(s->conn, s->res, s->aio);
}

void
front_reply(struct front *f, struct front_id id, nng_http_res *res,
            char *body, size_t counted, bool close)
{
    if (f != NULL && id.idx < f->nslots) {
        struct slot *s = &f->slots[id.idx];
        pthread_mutex_lock(&f->mu);
        /* the generation alone says whether id is still this slot's
         * connection: teardown bumps it under mu (s->ph is the front
         * thread's and is not read here) */
        if (!f->stopped && s->gen == id.gen && !atomic_load(&s->posted)) {
            s->p_res = res;
            s->p_body = body;
            s->p_counted = counted;
            s->p_close = close;
            atomic_store(&s->posted, true);
            pthread_mutex_unlock(&f->mu);
            uint64_t one = 1;
            if (write(f->efd, &one, sizeof one) < 0) {
                /* the counter cannot overflow in practice; nothing to do */
            }
            return;
        }
        pthread_mutex_unlock(&f->mu);
    }
    if (res)
        nng_http_res_free(res);
    naos_free(body);
    if (f != NULL)
        budget_release(f, counted);
}

static void
io_cb(void *arg)
{
    struct slot *s = arg;
    atomic_store(&s->io_done, true);
    uint64_t one = 1;
    if (write(s->f->efd, &one, sizeof one) < 0) {
        /* see front_reply */
    }
}

/* ---- dialing legs -------------------------------------------------------------
 *
 * One dial at a time, on the front's own aio, never cancelled while the
 * front runs. NNG 1.5.2's HTTP client funnels every nng_http_client_connect
 * through one internal aio; cancelling the only waiting connect aborts that
 * aio, and a connect started before the abort's callback has run reuses it
 * while it is still busy: NNG then panics ("assert err: stream != NULL" in
 * http_client.c, or "appending node already on a list"), which killed the
 * node when a connection was evicted while its leg was being dialed. So
 * slots queue for a leg (want_leg, in want_seq order) and a dialed conn
 * goes to the first slot still waiting; conns are interchangeable until a
 * slot writes its nonce on one. A conn nobody waits for any more is
 * closed. */

static void
dial_cb(void *arg)
{
    struct front *f = arg;
    atomic_store(&f->dial_done, true);
    uint64_t one = 1;
    if (write(f->efd, &one, sizeof one) < 0) {
        /* see front_reply */
    }
}

static void
dial_kick(struct front *f)
{
    if (f->dialing || f->nwant == 0)
        return;
    f->dialing = true;
    nng_http_client_connect(f->client, f->dial_aio);
}

static struct slot *
first_waiting(struct front *f)
{
    struct slot *first = NULL;
    for (uint32_t i = 0; f->nwant > 0 && i < f->nslots; i++) {
        struct slot *s = &f->slots[i];
        if (s->want_leg && (first == NULL || s->want_seq < first->want_seq))
            first = s;
    }
    return first;
}

/* The dial finished. Front thread. */
static void
on_dial(struct front *f, naos_time now)
{
    f->dialing = false;
    int rv = nng_aio_result(f->dial_aio);
    nng_http_conn *c = rv == 0 ? nng_aio_get_output(f->dial_aio, 0) : NULL;
    struct slot *s = first_waiting(f);
    if (rv != 0) {
        /* out of descriptors, most likely: the client waiting longest is
         * closed (its header deadline would close it anyway), and the
         * next one gets a fresh try. At most one line a second. */
        if (now - f->dial_warned_at >= 1000) {
            NAOS_WARN("http", "cannot reach the private leg: %s (%llu "
                      "more since the last warning)", nng_strerror(rv),
                      (unsigned long long)f->unwarned);
            f->dial_warned_at = now;
            f->unwarned = 0;
        } else {
            f->unwarned++;
        }
        if (s != NULL)
            teardown(f, s, -1);
    } else if (s == NULL) {
        nng_http_conn_close(c); /* its client left while it was dialed */
    } else {
        s->want_leg = false;
        f->nwant--;
        s->conn = c;
        nng_iov iov = {.iov_buf = s->nonce, .iov_len = sizeof s->nonce};
        nng_aio_set_iov(s->aio, 1, &iov);
        s->io = IO_NONCE;
        nng_http_conn_write_all(s->conn, s->aio);
    }
    dial_kick(f);
}

/* ---- the relay ----------------------------------------------------------------- */

static void
buf_compact(struct relay_buf *b)
{
    if (b->off > 0 && b->len > 0)
        memmove(b->data, b->data + b->off, b->len);
    b->off = 0;
}

/* Reads from fd into b. Returns bytes read, 0 at EOF, -1 on EAGAIN, -2 on
 * an error. */
static ssize_t
buf_fill(struct relay_buf *b, int fd)
{
    if (b->len == 0)
        b->off = 0;
    else if (b->off + b->len == FRONT_BUF)
        buf_compact(b);
    size_t room = FRONT_BUF - b->off - b->len;
    if (room == 0)
        return -1;
    ssize_t n = recv(fd, b->data + b->off + b->len, room, 0);
    if (n > 0) {
        b->len += (size_t)n;
        return n;
    }
    if (n == 0)
        return 0;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1
                                                                     : -2;
}

/* Writes b to fd. Returns bytes written, -1 on EAGAIN, -2 on an error. */
static ssize_t
buf_drain(struct relay_buf *b, int fd)
{
    if (b->len == 0)
        return 0;
    ssize_t n = send(fd, b->data + b->off, b->len, MSG_NOSIGNAL);
    if (n >= 0) {
        b->off += (size_t)n;
        b->len -= (size_t)n;
        return n;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? -1
                                                                     : -2;
}

/* Bytes moved for s: deadlines that count from the last activity. */
static void
on_activity(struct slot *s, naos_time now)
{
    if (s->ph == PH_IDLE) {
        s->since = now;
        s->deadline = now + (naos_time)s->f->cfg.idle_timeout;
    }
}

/* The client sent bytes. */
static void
on_client_bytes(struct slot *s, naos_time now)
{
    switch (s->ph) {
    case PH_IDLE:
        set_phase(s, PH_HEAD, now, s->f->cfg.header_timeout);
        break;
    case PH_BUSY:
    case PH_REPLY:
        s->bytes_since_head = true;
        break;
    default:
        break;
    }
}

/* Moves what can be moved for s and decides what follows. */
static void
pump(struct front *f, struct slot *s, uint32_t pub_events, uint32_t leg_events,
     naos_time now)
{
    if (pub_events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = buf_fill(&s->up, s->pub_fd);
        if (n > 0) {
            if (s->ph == PH_LINGER || s->leg_dead) {
                s->up.len = 0; /* leftovers nobody will read */
            } else {
                on_client_bytes(s, now);
                on_activity(s, now);
            }
        } else if (n == 0) {
            s->pub_eof = true;
        } else if (n == -2) {
            teardown(f, s, -1);
            return;
        }
    }
    if (leg_events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t n = buf_fill(&s->down, s->leg_fd);
        if (n == 0 || n == -2)
            s->leg_eof = true;
    }
    if (s->leg_fd >= 0 && s->up.len > 0 && !s->leg_dead && !s->leg_shut) {
        if (buf_drain(&s->up, s->leg_fd) == -2) {
            s->leg_dead = true;
            s->up.len = 0;
        }
    }
    if (s->down.len > 0 && !s->pub_shut) {
        ssize_t n = buf_drain(&s->down, s->pub_fd);
        if (n == -2) {
            teardown(f, s, -1);
            return;
        }
        if (n > 0)
            on_activity(s, now);
    }
    /* end of the client's input: pass it on once its bytes are through */
    if (s->pub_eof && s->up.len == 0 && s->leg_fd >= 0 && !s->leg_shut) {
        shutdown(s->leg_fd, SHUT_WR);
        s->leg_shut = true;
    }
    if (s->pub_eof && s->leg_fd < 0 && s->up.len == 0 && s->ph == PH_HEAD) {
        teardown(f, s, -1); /* gone before its leg was up */
        return;
    }
    /* closing: once the leg is drained, shut our side and linger */
    if (s->ph == PH_CLOSING && s->leg_eof && s->down.len == 0) {
        shutdown(s->pub_fd, SHUT_WR);
        s->pub_shut = true;
        s->up.len = 0;
        set_phase(s, PH_LINGER, now, FRONT_LINGER);
    }
    if (s->ph == PH_LINGER && s->pub_eof) {
        teardown(f, s, -1);
        return;
    }
    arm(f, s);
}

/* ---- accepting ----------------------------------------------------------------- */

static struct slot *
slot_for_newcomer(struct front *f)
{
    struct slot *oldest = NULL;
    for (uint32_t i = 0; i < f->nslots; i++) {
        struct slot *s = &f->slots[i];
        if (s->ph == PH_FREE)
            return s;
        if ((s->ph == PH_HEAD || s->ph == PH_IDLE) &&
            (oldest == NULL || s->since < oldest->since))
            oldest = s;
    }
    if (oldest != NULL)
        teardown(f, oldest, FRONT_C_EVICTED);
    return oldest;
}

/* accept4 on listener which (0: public, 1: leg) failed with errno e. Out
 * of descriptors or memory, the listener stays readable: it leaves the
 * epoll set for ACCEPT_PAUSE ms rather than spin the thread (what waits is
 * kept in the kernel's backlog). */
#define ACCEPT_PAUSE 250

static void
accept_failed(struct front *f, int which, int e, naos_time now)
{
    if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
        return; /* EAGAIN, or a connection that went before its accept */
    int fd = which == 0 ? f->listen_fd : f->leg_listen_fd;
    if (f->paused_until[which] == 0 &&
        epoll_ctl(f->ep, EPOLL_CTL_DEL, fd, NULL) != 0)
        NAOS_WARN("http", "epoll_ctl: %s", strerror(errno));
    if (f->paused_until[which] == 0 &&
        now - f->accept_warned_at[which] >= 1000) {
        NAOS_WARN("http", "accept on the %s listener: %s; pausing it for "
                  "%d ms", which == 0 ? "HTTP" : "private leg", strerror(e),
                  ACCEPT_PAUSE);
        f->accept_warned_at[which] = now;
    }
    f->paused_until[which] = now + ACCEPT_PAUSE;
}

static void
accept_resume(struct front *f, naos_time now)
{
    for (int which = 0; which < 2; which++) {
        if (f->paused_until[which] == 0 || f->paused_until[which] > now)
            continue;
        struct epoll_event ev = {
            .events = EPOLLIN,
            .data.u64 = tag(which == 0 ? T_LISTEN : T_LEGLISTEN, 0)};
        int fd = which == 0 ? f->listen_fd : f->leg_listen_fd;
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
            f->paused_until[which] = 0;
        else
            f->paused_until[which] = now + ACCEPT_PAUSE;
    }
}

static void
on_accept(struct front *f, naos_time now)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(f->listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            accept_failed(f, 0, errno, now);
            return;
        }
        atomic_fetch_add(&f->accepted, 1);
        struct slot *s = slot_for_newcomer(f);
        if (s == NULL) {
            atomic_fetch_add(&f->closed[FRONT_C_REFUSED], 1);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s->pub_fd = fd;
        s->leg_fd = -1;
        s->pub_ev = s->leg_ev = 0;
        s->pub_eof = s->leg_eof = s->pub_shut = s->leg_shut = false;
        s->leg_dead = s->bytes_since_head = s->close_after = false;
        s->up.off = s->up.len = s->down.off = s->down.len = 0;
        if (getrandom(s->nonce, sizeof s->nonce, 0) !=
            (ssize_t)sizeof s->nonce) {
            NAOS_WARN("http", "getrandom: %s", strerror(errno));
            close(fd);
            s->pub_fd = -1;
            continue;
        }
        pthread_mutex_lock(&f->mu);
        s->ph = PH_HEAD;
        pthread_mutex_unlock(&f->mu);
        atomic_fetch_add(&f->open, 1);
        set_phase(s, PH_HEAD, now, f->cfg.header_timeout);
        s->want_leg = true;
        s->want_seq = f->want_seq++;
        f->nwant++;
        dial_kick(f);
        arm(f, s);
    }
}

static void
pend_close(struct front *f, struct pending *p)
{
    if (p->fd >= 0) {
        epoll_ctl(f->ep, EPOLL_CTL_DEL, p->fd, NULL); /* see teardown */
        close(p->fd);
    }
    p->fd = -1;
}

static void on_pending(struct front *f, struct pending *p, naos_time now);

static void
on_leg_accept(struct front *f, naos_time now)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(f->leg_listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            accept_failed(f, 1, errno, now);
            return;
        }
        struct pending *p = NULL;
        for (uint32_t i = 0; i < f->npend; i++) {
            struct pending *q = &f->pend[i];
            if (q->fd < 0) {
                p = q;
                break;
            }
            if (p == NULL || q->deadline < p->deadline)
                p = q;
        }
        pend_close(f, p); /* the oldest unproven leg, if all are taken */
        p->fd = fd;
        p->n = 0;
        p->deadline = now + FRONT_LEG_TIMEOUT;
        struct epoll_event ev = {.events = EPOLLIN,
                                 .data.u64 = tag(T_PEND,
                                                 (uint32_t)(p - f->pend))};
        if (epoll_ctl(f->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            pend_close(f, p);
            continue;
        }
        /* our own legs send their nonce as soon as they connect: read it
         * now, so that a stranger flooding the listener (whose
         * connections push the oldest unproven ones out) rarely gets the
         * chance to push ours out */
        on_pending(f, p, now);
    }
}

/* Same time whatever the first difference. */
static bool
nonce_eq(const unsigned char *a, const unsigned char *b)
{
    unsigned char d = 0;
    for (int i = 0; i < FRONT_NONCE; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

static void
on_pending(struct front *f, struct pending *p, naos_time now)
{
    ssize_t n = recv(p->fd, p->got + p->n, FRONT_NONCE - p->n, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        pend_close(f, p);
        return;
    }
    p->n += (size_t)n;
    if (p->n < FRONT_NONCE)
        return;
    for (uint32_t i = 0; i < f->nslots; i++) {
        struct slot *s = &f->slots[i];
        if (s->ph == PH_FREE || s->leg_fd >= 0 ||
            !nonce_eq(s->nonce, p->got))
            continue;
        epoll_ctl(f->ep, EPOLL_CTL_DEL, p->fd, NULL);
        int one = 1;
        setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        s->leg_fd = p->fd;
        s->leg_ev = 0;
        p->fd = -1;
        pump(f, s, 0, 0, now);
        return;
    }
    pend_close(f, p); /* not one of ours */
}

/* ---- the thread ------------------------------------------------------------------ */

static void
check_deadlines(struct front *f, naos_time now)
{
    for (uint32_t i = 0; i < f->nslots; i++) {
        struct slot *s = &f->slots[i];
        if (s->ph == PH_FREE || s->deadline > now)
            continue;
        int why = s->ph == PH_HEAD    ? FRONT_C_HEADER
                  : s->ph == PH_IDLE  ? FRONT_C_IDLE
                  : s->ph == PH_LINGER ? -1
                                       : FRONT_C_WRITE;
        teardown(f, s, why);
    }
    for (uint32_t i = 0; i < f->npend; i++)
        if (f->pend[i].fd >= 0 && f->pend[i].deadline <= now)
            pend_close(f, &f->pend[i]);
    accept_resume(f, now);
}

static int
next_timeout(const struct front *f, naos_time now)
{
    naos_time next = NAOS_TIME_NEVER;
    for (uint32_t i = 0; i < f->nslots; i++)
        if (f->slots[i].ph != PH_FREE && f->slots[i].deadline < next)
            next = f->slots[i].deadline;
    for (uint32_t i = 0; i < f->npend; i++)
        if (f->pend[i].fd >= 0 && f->pend[i].deadline < next)
            next = f->pend[i].deadline;
    for (int which = 0; which < 2; which++)
        if (f->paused_until[which] && f->paused_until[which] < next)
            next = f->paused_until[which];
    if (next == NAOS_TIME_NEVER)
        return -1;
    return next <= now ? 0 : (int)(next - now > 60000 ? 60000 : next - now);
}

static void *
front_main(void *arg)
{
    struct front *f = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&f->stop)) {
        int timeout = next_timeout(f, naos_clock_now());
        int n = epoll_wait(f->ep, evs, 64, timeout);
        naos_time now = naos_clock_now();
        for (int i = 0; i < n; i++) {
            uint32_t k = (uint32_t)(evs[i].data.u64 >> 32);
            uint32_t idx = (uint32_t)evs[i].data.u64;
            switch (k) {
            case T_LISTEN:
                on_accept(f, now);
                break;
            case T_LEGLISTEN:
                on_leg_accept(f, now);
                break;
            case T_EVENT: {
                uint64_t v;
                if (read(f->efd, &v, sizeof v) < 0) {
                    /* EAGAIN: already drained */
                }
                if (atomic_exchange(&f->dial_done, false))
                    on_dial(f, now);
                for (uint32_t j = 0; j < f->nslots; j++) {
                    struct slot *s = &f->slots[j];
                    if (atomic_exchange(&s->io_done, false))
                        on_io(f, s, now);
                    if (atomic_load(&s->posted))
                        on_posted(f, s, now);
                    if (s->ph != PH_FREE)
                        pump(f, s, 0, 0, now);
                }
                break;
            }
            case T_PUB:
                if (f->slots[idx].ph != PH_FREE)
                    pump(f, &f->slots[idx], evs[i].events, 0, now);
                break;
            case T_LEG:
                if (f->slots[idx].ph != PH_FREE)
                    pump(f, &f->slots[idx], 0, evs[i].events, now);
                break;
            case T_PEND:
                if (f->pend[idx].fd >= 0)
                    on_pending(f, &f->pend[idx], now);
                break;
            default:
                break;
            }
        }
        check_deadlines(f, now);
    }
    return NULL;
}

/* ---- open / close ----------------------------------------------------------------- */

static int
listen_on(const char *host, int port, int backlog, int *fdp, int *portp,
          char *errbuf, size_t errlen)
{
    char h[300];
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        snprintf(h, sizeof h, "%.*s", (int)(hl - 2), host + 1);
    } else {
        snprintf(h, sizeof h, "%s", host);
    }
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE};
    struct addrinfo *ai = NULL;
    int grc = getaddrinfo(h, ps, &hints, &ai);
    if (grc != 0) {
        snprintf(errbuf, errlen, "cannot resolve %s: %s", host,
                 gai_strerror(grc));
        return NAOS_ESYS;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
    int one = 1;
    if (fd < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, backlog) != 0) {
        snprintf(errbuf, errlen, "%s", strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return NAOS_ESYS;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *portp = ss.ss_family == AF_INET6
                 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
    *fdp = fd;
    return NAOS_OK;
}

/* The cap in force: the configured one, but never more than a sixteenth
 * of the descriptors (*nofile: the limit, 0 = none). A connection holds
 * three (client, leg, NNG's end of the leg) and may have one more among
 * the unproven legs (npend = cap + FRONT_PENDING): HTTP holds at most a
 * quarter of the node's descriptors, plus FRONT_PENDING. */
static uint32_t
effective_cap(uint32_t want, uint64_t *nofile)
{
    struct rlimit rl;
    *nofile = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return want;
    *nofile = rl.rlim_cur;
    uint64_t most = rl.rlim_cur / 16;
    if (most < 1)
        most = 1;
    return want > most ? (uint32_t)most : want;
}

int
front_open(struct front **out, const struct front_config *cfg, char *errbuf,
           size_t errlen)
{
    int rc = NAOS_ENOMEM, rv;
    struct front *f = naos_alloc(sizeof *f);
    if (f == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->listen_fd = f->leg_listen_fd = f->ep = f->efd = -1;
    pthread_mutex_init(&f->mu, NULL);
    uint64_t nofile;
    f->nslots = effective_cap(cfg->max_conns, &nofile);
    if (f->nslots < cfg->max_conns)
        NAOS_WARN("http", "--http-max-conns %u lowered to %u: each "
                  "connection may take 4 of the %llu descriptors allowed "
                  "(ulimit -n), and HTTP may use a quarter of them",
                  cfg->max_conns, f->nslots, (unsigned long long)nofile);
    f->slots = naos_alloc(f->nslots * sizeof *f->slots);
    if (f->slots == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    memset(f->slots, 0, f->nslots * sizeof *f->slots);
    /* each connection's leg until its nonce is read (legs are dialed one
     * at a time, and one whose connection went is closed at once by its
     * NNG end); plus a few strangers */
    f->npend = f->nslots + FRONT_PENDING;
    f->pend = naos_alloc(f->npend * sizeof *f->pend);
    if (f->pend == NULL) {
        f->npend = 0;
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    for (uint32_t i = 0; i < f->npend; i++)
        f->pend[i].fd = -1;
    for (uint32_t i = 0; i < f->nslots; i++) {
        struct slot *s = &f->slots[i];
        s->f = f;
        s->idx = i;
        s->pub_fd = s->leg_fd = -1;
        if ((rv = nng_aio_alloc(&s->aio, io_cb, s)) != 0 ||
            (rv = nng_http_req_alloc(&s->req, NULL)) != 0) {
            snprintf(errbuf, errlen, "out of memory");
            goto err;
        }
    }
    if ((rv = nng_aio_alloc(&f->dial_aio, dial_cb, f)) != 0) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    rc = NAOS_ESYS;
    char why[256];
    if (listen_on(cfg->host, cfg->port, 128, &f->listen_fd, &f->port, why,
                  sizeof why) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot listen on http://%s:%d: %s", cfg->host,
                 cfg->port, why);
        goto err;
    }
    int leg_port;
    /* a deep backlog: a local user who floods the leg listener should not
     * make our own dials wait for a SYN retransmit */
    if (listen_on("127.0.0.1", 0, SOMAXCONN, &f->leg_listen_fd, &leg_port, why,
                  sizeof why) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot listen on 127.0.0.1 for the "
                 "HTTP endpoint's private leg: %s", why);
        goto err;
    }
    char legurl[64];
    snprintf(legurl, sizeof legurl, "http://127.0.0.1:%d", leg_port);
    nng_url *u = NULL;
    if ((rv = nng_url_parse(&u, legurl)) != 0 ||
        (rv = nng_http_client_alloc(&f->client, u)) != 0) {
        nng_url_free(u);
        snprintf(errbuf, errlen, "HTTP client: %s", nng_strerror(rv));
        goto err;
    }
    nng_url_free(u);
    if ((f->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
        (f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        snprintf(errbuf, errlen, "epoll/eventfd: %s", strerror(errno));
        goto err;
    }
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.u64 = tag(T_LISTEN, 0);
    int e1 = epoll_ctl(f->ep, EPOLL_CTL_ADD, f->listen_fd, &ev);
    ev.data.u64 = tag(T_LEGLISTEN, 0);
    int e2 = epoll_ctl(f->ep, EPOLL_CTL_ADD, f->leg_listen_fd, &ev);
    ev.data.u64 = tag(T_EVENT, 0);
    int e3 = epoll_ctl(f->ep, EPOLL_CTL_ADD, f->efd, &ev);
    if (e1 || e2 || e3) {
        snprintf(errbuf, errlen, "epoll_ctl: %s", strerror(errno));
        goto err;
    }
    if ((rv = pthread_create(&f->thread, NULL, front_main, f)) != 0) {
        snprintf(errbuf, errlen, "cannot start the HTTP thread: %s",
                 strerror(rv));
        goto err;
    }
    f->thread_started = true;
    pthread_setname_np(f->thread, "http-front"); /* for top -H, gdb */
    *out = f;
    return NAOS_OK;

err:
    front_stop(f);
    front_free(f);
    return rc;
}

int
front_port(const struct front *f)
{
    return f->port;
}

void
front_get_stats(const struct front *f, struct front_stats *out)
{
    memset(out, 0, sizeof *out);
    if (f == NULL)
        return;
    struct front *m = (struct front *)f; /* atomics are read-only here */
    out->accepted = atomic_load(&m->accepted);
    for (int i = 0; i < FRONT_C__COUNT; i++)
        out->closed[i] = atomic_load(&m->closed[i]);
    out->budget_refused = atomic_load(&m->budget_refused);
    out->open = atomic_load(&m->open);
    out->reply_bytes = atomic_load(&m->reply_bytes);
    out->max_conns = f->nslots;
}

void
front_stop(struct front *f)
{
    if (f == NULL)
        return;
    if (f->thread_started) {
        atomic_store(&f->stop, true);
        uint64_t one = 1;
        if (write(f->efd, &one, sizeof one) < 0) {
            /* cannot fail with a valid eventfd */
        }
        pthread_join(f->thread, NULL);
        f->thread_started = false;
    }
    pthread_mutex_lock(&f->mu);
    f->stopped = true;
    pthread_mutex_unlock(&f->mu);
    if (f->dialing) {
        /* safe to cancel now: no dial follows (see dial_kick) */
        nng_aio_cancel(f->dial_aio);
        nng_aio_wait(f->dial_aio);
        if (nng_aio_result(f->dial_aio) == 0)
            nng_http_conn_close(nng_aio_get_output(f->dial_aio, 0));
        f->dialing = false;
    }
    atomic_store(&f->dial_done, false);
    for (uint32_t i = 0; f->slots && i < f->nslots; i++)
        teardown(f, &f->slots[i], -1);
    for (uint32_t i = 0; i < f->npend; i++)
        pend_close(f, &f->pend[i]);
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    if (f->leg_listen_fd >= 0)
        close(f->leg_listen_fd);
    f->listen_fd = f->leg_listen_fd = -1;
}

void
front_free(struct front *f)
{
    if (f == NULL)
        return;
    for (uint32_t i = 0; f->slots && i < f->nslots; i++) {
        nng_aio_free(f->slots[i].aio);
        if (f->slots[i].req)
            nng_http_req_free(f->slots[i].req);
    }
    nng_aio_free(f->dial_aio);
    naos_free(f->slots);
    naos_free(f->pend);
    if (f->client)
        nng_http_client_free(f->client);
    if (f->ep >= 0)
        close(f->ep);
    if (f->efd >= 0)
        close(f->efd);
    pthread_mutex_destroy(&f->mu);
    naos_free(f);
}
