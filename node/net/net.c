/* SPDX-License-Identifier: Apache-2.0 */
/* net.c: the transport of net.h. Outbound: NNG push0 sockets, one per
 * peer. Inbound: the SP/TCP mapping of a pull0 socket over NNG byte
 * streams, driven by one aio per connection (see net.h for why and what it
 * bounds).
 *
 * SP over TCP (nanomsg RFC sp-tcp-mapping, as NNG 1.5.2's tcp transport
 * speaks it): each side first sends 8 bytes, 0x00 'S' 'P' 0x00, its
 * 16-bit protocol number (big-endian; push0 = 0x50, pull0 = 0x51) and two
 * zero bytes; then every message is a frame: its length as a 64-bit
 * big-endian integer, then that many bytes (push0 adds no header). A pull
 * side never sends anything after its 8 bytes.
 *
 * One inbound connection (struct net_conn) is, at any moment, either held
 * by the reactor (being decided on, or its message being handled by
 * recv_fn) or lent to NNG for one transfer: the SP header exchange, or one
 * frame. conn_cb runs on NNG's thread while it is lent, chains the partial
 * reads of that transfer, and hands the connection back through the `cin`
 * inbox with the outcome in `why`. It touches nothing but the
 * connection's own I/O fields. To close a lent connection the reactor
 * closes its stream (thread-safe in NNG), which completes the pending read
 * with an error; the connection comes back and is freed then.
 *
 * Outbound sockets are retired once their connection drops. NNG 1.5.2's
 * push0 can leave a pipe it has freed on its list of pipes ready to send
 * (the pipe's close racing its start or a send completion: upstream
 * nanomsg/nng#1653), and the next nng_send on that socket hands the
 * message to freed memory (SIGSEGV inside libnng: reported of joiners
 * their peers refuse, whose connections drop right after the handshake,
 * 3 of 40 under load; not reproduced by net_test's refusing peer, where
 * the same race shows only as the messages NNG loses, below).
 * NNG runs a pipe's REM_POST callback before it frees the pipe, so
 * on_pipe_event sets the peer's `dropped` flag there (and posts the drop);
 * on the reactor thread, as soon as the drop is handled (on_inbox) and
 * again before every send or dial (peer_get), a socket whose flag is set
 * is closed (counted: peers_retired) and a fresh one dialled, which has
 * no stale pipe. This narrows the windows, it cannot close them (only
 * NNG can): a send in the instant between reading the flag and nng_send,
 * and NNG's own redial of the dropped socket (its new pipe goes on the
 * same list: #1653's trace) if that comes before the reactor handles the
 * drop. What a retired socket had queued is lost with it (freed by
 * nng_close). Apart from that NNG 1.5.2 loses (leaks) a message it hands
 * to a pipe that is closing, retired or not: LeakSanitizer counts them
 * growing with the connections dropped, not with the sockets we close, so
 * no order of closing gets them back. The record (struct
 * net_peer) outlives its sockets: nng_close waits for the closed socket's
 * pipe callbacks, then the same record, its flags cleared, takes the next
 * socket, so no callback can reach freed memory. Pipe events carry the
 * address, not the record, so those still queued are reported as usual.
 * Redials are bounded as NNG bounds its own: successive sockets of a peer
 * whose sockets keep dropping are opened at least `backoff` apart
 * (NET_REDIAL_MIN_MS, doubling up to NET_REDIAL_MAX_MS; none once a socket
 * has lasted NET_REDIAL_MAX_MS), and while a peer waits out that delay it
 * has no socket and sends to it are dropped (dropped_out). */
#include "node/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/reactor/inbox.h"

#define NET_INBOX_CAP 4096
#define NET_CONN_BATCH 256
/* SP protocol numbers (NNG_PROTO(5, 0) and NNG_PROTO(5, 1)). */
#define SP_PUSH0 0x50u
#define SP_PULL0 0x51u
#define SP_HEADER 8
/* A failed accept (EMFILE, ENOMEM, ...) is retried after this. */
#define ACCEPT_RETRY_MS 100
/* NNG's redial delays of a peer socket, and the bounds of the delay
 * between successive sockets of a peer whose sockets keep dropping. */
#define NET_REDIAL_MIN_MS 100
#define NET_REDIAL_MAX_MS 1000

/* An outbound peer: its address and its current socket (none while it
 * waits out the delay after a retirement). The reactor's, but for the
 * two atomics, which the socket's pipe callbacks (NNG threads) set. */
struct net_peer {
    char addr[NET_ADDR_MAX];
    nng_socket sock;
    bool open;                   /* sock is open */
    struct reactor_inbox *inbox; /* the owning net's (outlives the peer) */
    naos_time used;              /* last net_send or net_dial */
    naos_time opened;            /* when sock was opened and dialled */
    naos_time redial_at;         /* !open: the next socket from then */
    naos_duration backoff;       /* between this peer's sockets */
    atomic_bool closing; /* set before we close it: not a far-end drop */
    atomic_bool dropped; /* a pipe of sock was removed: retire sock */
};

/* A pipe event of an outbound socket, handed from an NNG thread to the
 * reactor. */
enum { NET_EV_CLOSED = 1, NET_EV_CONNECTED };
struct net_event {
    struct reactor_inbox_item item;
    int kind;
    char addr[NET_ADDR_MAX];
};

/* Phases of a lent connection. */
enum { PH_HS_SEND = 1, PH_HS_RECV, PH_HDR, PH_BODY };
/* conn.why when a connection comes back with a whole frame; the other
 * values are enum net_close_reason. */
#define WHY_FRAME (-1)

struct net;

struct net_conn {
    struct reactor_inbox_item item; /* first: items are cast back */
    struct net *n;
    nng_stream *s;
    nng_aio *aio;
    /* I/O state: the holder's (conn_cb while lent, else the reactor). */
    int phase;
    uint8_t hs[SP_HEADER];  /* ours, then theirs */
    uint8_t hdr[8];         /* frame length */
    size_t got;             /* bytes of the current part transferred */
    uint8_t *body;          /* naos_alloc'd frame body (len bytes) */
    size_t len;
    size_t frame_max;
    naos_duration frame_timeout;
    naos_time frame_deadline; /* NAOS_TIME_NEVER between frames */
    naos_time auth_deadline;  /* NAOS_TIME_NEVER once authenticated */
    int why;                  /* outcome when handed back */
    /* reactor only */
    bool lent;
    bool closing;             /* closed by us; freed when back */
    bool authed;
    naos_time since;          /* accepted at */
    uint64_t seq;             /* order of acceptance (oldest = lowest) */
    char addr[48];            /* source IP address (the per-address key) */
};

struct net {
    struct net_config cfg;
    struct net_options opt; /* defaults filled in (limits) */
    struct reactor *r;
    /* outbound */
    struct reactor_inbox inbox; /* struct net_event */
    struct reactor_watch inbox_watch;
    struct net_peer **peers;
    size_t npeers, cap;
    /* inbound */
    nng_stream_listener *lst;
    nng_aio *acc_aio;
    bool acc_sleeping;      /* acc_aio is a retry delay, not an accept */
    nng_stream *accepted;   /* set by accept_cb before acc_item is posted */
    struct reactor_inbox_item acc_item;
    bool accepting;         /* an accept (or its retry) is outstanding */
    bool acc_paused;        /* stopped at max_conns */
    atomic_uint_fast64_t acc_errors;
    struct reactor_inbox cin; /* connections handed back, acc_item */
    struct reactor_watch cin_watch;
    struct net_conn **conns; /* every inbound connection, closing too */
    size_t nconns, conns_cap;
    uint64_t conn_seq;
    struct net_conn *cur;   /* the connection of the message in recv_fn */
    int verdict;            /* what recv_fn said about it */
    char url[NET_ADDR_MAX];
    struct net_stats stats;
};

const char *
net_close_reason_str(enum net_close_reason r)
{
    static const char *const names[NET_CLOSE__COUNT] = {
        [NET_CLOSE_EOF] = "eof",
        [NET_CLOSE_HANDSHAKE] = "handshake",
        [NET_CLOSE_OVERSIZED] = "oversized",
        [NET_CLOSE_FRAME_TIMEOUT] = "frame-timeout",
        [NET_CLOSE_AUTH_TIMEOUT] = "auth-timeout",
        [NET_CLOSE_REFUSED] = "refused",
        [NET_CLOSE_ADDR_CAP] = "address-cap",
        [NET_CLOSE_UNAUTH_CAP] = "unauthenticated-cap",
        [NET_CLOSE_NOMEM] = "no-memory",
    };
    if ((unsigned)r >= NET_CLOSE__COUNT)
        return "unknown";
    return names[r];
}

int
net_url_check(const char *url, bool *is_wildcard, char *err, size_t errlen)
{
    if (is_wildcard)
        *is_wildcard = false;
    if (url == NULL || strncmp(url, "tcp://", 6) != 0) {
        snprintf(err, errlen, "\"%s\" is not a tcp://HOST:PORT address",
                 url ? url : "");
        return NAOS_EINVAL;
    }
    if (strlen(url) >= NET_ADDR_MAX) {
        snprintf(err, errlen, "address longer than %d bytes",
                 NET_ADDR_MAX - 1);
        return NAOS_EINVAL;
    }
    const char *host = url + 6;
    const char *colon = strrchr(host, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "\"%s\": expected tcp://HOST:PORT", url);
        return NAOS_EINVAL;
    }
    const char *p = colon + 1;
    long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            snprintf(err, errlen, "\"%s\": bad port", url);
            return NAOS_EINVAL;
        }
        port = port * 10 + (*p - '0');
    }
    if (port > 65535) {
        snprintf(err, errlen, "\"%s\": port above 65535", url);
        return NAOS_EINVAL;
    }
    size_t hl = (size_t)(colon - host);
    if (host[0] == '[' && (hl < 2 || host[hl - 1] != ']')) {
        snprintf(err, errlen, "\"%s\": unterminated [IPv6] host", url);
        return NAOS_EINVAL;
    }
    if (is_wildcard)
        *is_wildcard = hl == 0 || (hl == 7 && !strncmp(host, "0.0.0.0", 7)) ||
                       (hl == 4 && !strncmp(host, "[::]", 4));
    return NAOS_OK;
}


/* ---- NNG threads: outbound pipe events ----------------------------------- */

/* A pipe of a peer socket was added (ADD_POST: connected) or removed
 * (REM_POST: the far end or a failure dropped it). Runs on an NNG thread:
 * only p's atomics and the inbox are touched. nng_close waits for these
 * callbacks, so p is alive here. A removal marks the socket for
 * retirement (file comment) before it is reported, so the reactor sees
 * the mark by the time it handles the report. */
static void
on_pipe_event(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    struct net_peer *p = arg;
    if (atomic_load(&p->closing))
        return;
    if (ev == NNG_PIPE_EV_REM_POST)
        atomic_store(&p->dropped, true);
    struct net_event *e = naos_alloc(sizeof *e);
    if (e == NULL)
        return; /* the silent path will find it */
    e->kind = ev == NNG_PIPE_EV_ADD_POST ? NET_EV_CONNECTED : NET_EV_CLOSED;
    snprintf(e->addr, sizeof e->addr, "%s", p->addr);
    e->item.next = NULL;
    if (reactor_inbox_put(p->inbox, &e->item) != NAOS_OK)
        naos_free(e);
}

/* ---- NNG threads: inbound I/O --------------------------------------------- */

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* hand_back returns c to the reactor with outcome why. After this the
 * callback must not touch c. If the inbox is closed (net_close is
 * running) net_close frees c. */
static void
hand_back(struct net_conn *c, int why)
{
    c->why = why;
    c->item.next = NULL;
    (void)reactor_inbox_put(&c->n->cin, &c->item);
}

/* io starts the next transfer of the current part: len bytes at buf,
 * within the deadlines. Returns false (having handed c back) when a
 * deadline has passed. */
static bool
io(struct net_conn *c, bool send, void *buf, size_t len)
{
    naos_time now = naos_clock_now();
    naos_time d = c->frame_deadline < c->auth_deadline ? c->frame_deadline
                                                       : c->auth_deadline;
    if (d != NAOS_TIME_NEVER && now >= d) {
        hand_back(c, c->frame_deadline <= c->auth_deadline
                         ? NET_CLOSE_FRAME_TIMEOUT
                         : NET_CLOSE_AUTH_TIMEOUT);
        return false;
    }
    nng_aio_set_timeout(c->aio, d == NAOS_TIME_NEVER
                                    ? NNG_DURATION_INFINITE
                                    : (nng_duration)(d - now));
    nng_iov iov = {.iov_buf = buf, .iov_len = len};
    nng_aio_set_iov(c->aio, 1, &iov);
    if (send)
        nng_stream_send(c->s, c->aio);
    else
        nng_stream_recv(c->s, c->aio);
    return true;
}

static bool
sp_header_ok(const uint8_t *h)
{
    return h[0] == 0 && h[1] == 'S' && h[2] == 'P' && h[3] == 0 &&
           ((unsigned)h[4] << 8 | h[5]) == SP_PUSH0 && h[6] == 0 && h[7] == 0;
}

/* conn_cb: one transfer of a lent connection completed. NNG thread. */
static void
conn_cb(void *arg)
{
    struct net_conn *c = arg;
    int rv = nng_aio_result(c->aio);
    if (rv == NNG_ETIMEDOUT) {
        hand_back(c, c->frame_deadline <= c->auth_deadline
                         ? NET_CLOSE_FRAME_TIMEOUT
                         : NET_CLOSE_AUTH_TIMEOUT);
        return;
    }
    size_t k = rv == 0 ? nng_aio_count(c->aio) : 0;
    if (k == 0) { /* error, closed, or EOF */
        hand_back(c, NET_CLOSE_EOF);
        return;
    }
    c->got += k;
    switch (c->phase) {
    case PH_HS_SEND:
        if (c->got < SP_HEADER) {
            io(c, true, c->hs + c->got, SP_HEADER - c->got);
            return;
        }
        c->phase = PH_HS_RECV;
        c->got = 0;
        io(c, false, c->hs, SP_HEADER);
        return;
    case PH_HS_RECV:
        if (c->got < SP_HEADER) {
            io(c, false, c->hs + c->got, SP_HEADER - c->got);
            return;
        }
        if (!sp_header_ok(c->hs)) {
            hand_back(c, NET_CLOSE_HANDSHAKE);
            return;
        }
        hand_back(c, WHY_FRAME); /* len 0, body NULL: the handshake */
        return;
    case PH_HDR:
        /* A frame has begun: it must end by frame_deadline. */
        if (c->frame_deadline == NAOS_TIME_NEVER)
            c->frame_deadline = naos_clock_now() + (naos_time)c->frame_timeout;
        if (c->got < sizeof c->hdr) {
            io(c, false, c->hdr + c->got, sizeof c->hdr - c->got);
            return;
        }
        uint64_t len = get_be64(c->hdr);
        if (len > c->frame_max) {
            hand_back(c, NET_CLOSE_OVERSIZED);
            return;
        }
        c->len = (size_t)len;
        if (len == 0) {
            hand_back(c, WHY_FRAME);
            return;
        }
        if ((c->body = naos_alloc(c->len)) == NULL) {
            hand_back(c, NET_CLOSE_NOMEM);
            return;
        }
        c->phase = PH_BODY;
        c->got = 0;
        io(c, false, c->body, c->len);
        return;
    case PH_BODY:
        if (c->got < c->len) {
            io(c, false, c->body + c->got, c->len - c->got);
            return;
        }
        hand_back(c, WHY_FRAME);
        return;
    default:
        hand_back(c, NET_CLOSE_EOF);
        return;
    }
}

/* accept_cb: an accept (or the delay before retrying one) completed. NNG
 * thread. The reactor starts the next accept when it has room. */
static void
accept_cb(void *arg)
{
    struct net *n = arg;
    int rv = nng_aio_result(n->acc_aio);
    if (n->acc_sleeping) {
        n->acc_sleeping = false;
        if (rv == 0) {
            nng_stream_listener_accept(n->lst, n->acc_aio);
            return;
        }
    } else if (rv == 0) {
        n->accepted = nng_aio_get_output(n->acc_aio, 0);
        n->acc_item.next = NULL;
        if (reactor_inbox_put(&n->cin, &n->acc_item) != NAOS_OK) {
            nng_stream_free(n->accepted); /* net_close is running */
            n->accepted = NULL;
        }
        return;
    }
    if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
        return; /* net_close */
    /* Out of descriptors or memory, or a connection reset before we took
     * it: try again shortly rather than spin. */
    atomic_fetch_add(&n->acc_errors, 1);
    n->acc_sleeping = true;
    nng_sleep_aio(ACCEPT_RETRY_MS, n->acc_aio);
}

/* ---- reactor thread: inbound connections ------------------------------- */

static void
accept_start(struct net *n)
{
    if (n->accepting || n->lst == NULL)
        return;
    if (n->stats.in_open >= n->opt.max_conns) {
        if (!n->acc_paused) {
            n->acc_paused = true;
            n->stats.accept_paused++;
        }
        return;
    }
    n->acc_paused = false;
    n->accepting = true;
    nng_stream_listener_accept(n->lst, n->acc_aio);
}

/* lend hands c to NNG for its next transfer (the handshake or a frame). */
static void
lend(struct net_conn *c)
{
    c->lent = true;
    io(c, c->phase == PH_HS_SEND,
       c->phase == PH_HS_SEND ? (void *)c->hs : (void *)c->hdr,
       c->phase == PH_HS_SEND ? SP_HEADER : sizeof c->hdr);
}

/* conn_free releases c (held by the reactor, nothing pending). */
static void
conn_free(struct net *n, struct net_conn *c)
{
    for (size_t i = 0; i < n->nconns; i++)
        if (n->conns[i] == c) {
            n->conns[i] = n->conns[--n->nconns];
            break;
        }
    nng_stream_close(c->s);
    nng_aio_free(c->aio);
    nng_stream_free(c->s);
    naos_free(c->body);
    naos_free(c);
}

/* conn_close closes c for reason: it stops counting at once; its memory
 * goes when NNG hands it back (or now, if the reactor holds it). */
static void
conn_close(struct net *n, struct net_conn *c, enum net_close_reason reason)
{
    if (c->closing)
        return;
    c->closing = true;
    n->stats.in_closed[reason]++;
    if (reason == NET_CLOSE_OVERSIZED)
        n->stats.oversized++;
    n->stats.in_open--;
    if (!c->authed)
        n->stats.in_unauth--;
    if (c->lent)
        nng_stream_close(c->s); /* conn_cb brings it back */
    else
        conn_free(n, c);
    if (n->acc_paused)
        accept_start(n);
}

/* oldest_unauth: the unauthenticated connection accepted first, of addr
 * (NULL: of any address). */
static struct net_conn *
oldest_unauth(struct net *n, const char *addr)
{
    struct net_conn *o = NULL;
    for (size_t i = 0; i < n->nconns; i++) {
        struct net_conn *c = n->conns[i];
        if (c->closing || c->authed ||
            (addr && strcmp(c->addr, addr) != 0))
            continue;
        if (o == NULL || c->seq < o->seq)
            o = c;
    }
    return o;
}

static size_t
unauth_from(struct net *n, const char *addr)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nconns; i++) {
        struct net_conn *c = n->conns[i];
        if (!c->closing && !c->authed && strcmp(c->addr, addr) == 0)
            k++;
    }
    return k;
}

static void
addr_key(nng_stream *s, char *out, size_t len)
{
    nng_sockaddr sa;
    memset(&sa, 0, sizeof sa);
    snprintf(out, len, "?");
    if (nng_stream_get_addr(s, NNG_OPT_REMADDR, &sa) != 0)
        return;
    if (sa.s_family == NNG_AF_INET)
        inet_ntop(AF_INET, &sa.s_in.sa_addr, out, (socklen_t)len);
    else if (sa.s_family == NNG_AF_INET6)
        inet_ntop(AF_INET6, sa.s_in6.sa_addr, out, (socklen_t)len);
}

/* on_accepted admits the stream accept_cb took: the caps first (closing
 * the oldest unauthenticated connections they exceed), then the SP header
 * exchange, within auth_timeout_ms. */
static void
on_accepted(struct net *n, nng_stream *s)
{
    struct net_conn *c = NULL;
    if (n->nconns == n->conns_cap) {
        size_t ncap = n->conns_cap ? n->conns_cap * 2 : 16;
        struct net_conn **v = naos_realloc(n->conns, ncap * sizeof *v);
        if (v == NULL)
            goto refuse;
        n->conns = v;
        n->conns_cap = ncap;
    }
    if ((c = naos_alloc(sizeof *c)) == NULL)
        goto refuse;
    memset(c, 0, sizeof *c);
    if (nng_aio_alloc(&c->aio, conn_cb, c) != 0)
        goto refuse;
    c->n = n;
    c->s = s;
    c->since = naos_clock_now();
    c->seq = ++n->conn_seq;
    addr_key(s, c->addr, sizeof c->addr);
    struct net_conn *o;
    while (unauth_from(n, c->addr) >= n->opt.max_unauth_per_addr &&
           (o = oldest_unauth(n, c->addr)) != NULL)
        conn_close(n, o, NET_CLOSE_ADDR_CAP);
    while (n->stats.in_unauth >= n->opt.max_unauth &&
           (o = oldest_unauth(n, NULL)) != NULL)
        conn_close(n, o, NET_CLOSE_UNAUTH_CAP);
    c->frame_max = n->cfg.recv_max;
    c->frame_timeout = n->opt.frame_timeout_ms;
    c->frame_deadline = NAOS_TIME_NEVER;
    c->auth_deadline = c->since + (naos_time)n->opt.auth_timeout_ms;
    const uint8_t ours[SP_HEADER] = {0, 'S', 'P', 0, SP_PULL0 >> 8,
                                     SP_PULL0 & 0xff, 0, 0};
    memcpy(c->hs, ours, sizeof ours);
    c->phase = PH_HS_SEND;
    n->conns[n->nconns++] = c;
    n->stats.in_accepted++;
    n->stats.in_open++;
    n->stats.in_unauth++;
    lend(c);
    return;
refuse:
    if (c) {
        if (c->aio)
            nng_aio_free(c->aio);
        naos_free(c);
    }
    nng_stream_close(s);
    nng_stream_free(s);
}

/* on_frame: c came back with its handshake done (len 0, phase PH_HS_RECV)
 * or a whole frame. */
static void
on_frame(struct net *n, struct net_conn *c)
{
    if (c->phase == PH_HS_RECV) {
        c->phase = PH_HDR;
        c->got = 0;
        lend(c);
        return;
    }
    n->stats.msgs_in++;
    n->stats.bytes_in += c->len;
    n->cur = c;
    n->verdict = 0;
    n->cfg.recv(n->cfg.arg, c->body, c->len);
    n->cur = NULL;
    naos_free(c->body);
    c->body = NULL;
    c->len = 0;
    if (n->verdict == NET_AUTHENTIC && !c->authed) {
        c->authed = true;
        c->auth_deadline = NAOS_TIME_NEVER;
        n->stats.in_unauth--;
    } else if (n->verdict == NET_REFUSED && !c->authed) {
        conn_close(n, c, NET_CLOSE_REFUSED);
        return;
    }
    c->phase = PH_HDR;
    c->got = 0;
    c->frame_deadline = NAOS_TIME_NEVER;
    lend(c);
}

static void
on_cin(void *arg, uint32_t events)
{
    struct net *n = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&n->cin,
                                                       NET_CONN_BATCH);
    while (it) {
        struct reactor_inbox_item *next = it->next;
        if (it == &n->acc_item) {
            nng_stream *s = n->accepted;
            n->accepted = NULL;
            n->accepting = false;
            on_accepted(n, s);
            accept_start(n);
        } else {
            struct net_conn *c = (struct net_conn *)it;
            c->lent = false;
            if (c->closing)
                conn_free(n, c);
            else if (c->why == WHY_FRAME)
                on_frame(n, c);
            else
                conn_close(n, c, (enum net_close_reason)c->why);
        }
        it = next;
    }
}

void
net_recv_verdict(struct net *n, enum net_verdict v)
{
    if (n->cur != NULL)
        n->verdict = (int)v;
}

/* ---- reactor thread: outbound events ----------------------------------- */

static struct net_peer *peer_find(struct net *n, const char *addr,
                                   size_t *idx);
static int peer_renew(struct net *n, struct net_peer *p);

/* on_inbox reports pipe events. A drop also retires the peer's socket at
 * once (file comment), before NNG redials through it on its own. */
static void
on_inbox(void *arg, uint32_t events)
{
    struct net *n = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&n->inbox, 256);
    while (it) {
        struct net_event *e = (struct net_event *)it;
        it = it->next;
        if (e->kind == NET_EV_CONNECTED) {
            if (n->opt.connected)
                n->opt.connected(n->cfg.arg, e->addr);
        } else {
            struct net_peer *p = peer_find(n, e->addr, NULL);
            if (p != NULL)
                (void)peer_renew(n, p); /* a failure: the next send's */
            n->stats.peers_closed++;
            n->cfg.closed(n->cfg.arg, e->addr);
        }
        naos_free(e);
    }
}

static int
nng_to_naos(int rv)
{
    switch (rv) {
    case 0:
        return NAOS_OK;
    case NNG_ENOMEM:
        return NAOS_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
        return NAOS_EINVAL;
    case NNG_EAGAIN:
        return NAOS_EBUSY;
    default:
        return NAOS_ESYS;
    }
}

/* limits fills the inbound limits left at 0 in n->opt (net.h). */
static void
limits(struct net *n)
{
    struct net_options *c = &n->opt;
    if (c->auth_timeout_ms <= 0)
        c->auth_timeout_ms = NET_AUTH_TIMEOUT_MS;
    if (c->frame_timeout_ms <= 0)
        c->frame_timeout_ms = NET_FRAME_TIMEOUT_MS;
    if (c->max_conns == 0) {
        struct rlimit rl;
        size_t m = NET_MAX_CONNS;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
            rl.rlim_cur != RLIM_INFINITY &&
            rl.rlim_cur / NET_FD_SHARE_DIV < m)
            m = (size_t)(rl.rlim_cur / NET_FD_SHARE_DIV);
        c->max_conns = m < 8 ? 8 : m;
    }
    if (c->max_unauth == 0) {
        c->max_unauth = c->max_conns / 2 < NET_MAX_UNAUTH ? c->max_conns / 2
                                                         : NET_MAX_UNAUTH;
        if (c->max_unauth == 0)
            c->max_unauth = 1;
    }
    if (c->max_unauth_per_addr == 0)
        c->max_unauth_per_addr = c->max_unauth < NET_MAX_UNAUTH_PER_ADDR
                                     ? c->max_unauth
                                     : NET_MAX_UNAUTH_PER_ADDR;
}

int
net_open(struct net **out, struct reactor *r, const struct net_config *cfg,
         char *err, size_t errlen)
{
    return net_open_opts(out, r, cfg, NULL, err, errlen);
}

int
net_open_opts(struct net **out, struct reactor *r,
              const struct net_config *cfg, const struct net_options *opt,
              char *err, size_t errlen)
{
    int rc = net_url_check(cfg->listen_url, NULL, err, errlen);
    if (rc != NAOS_OK)
        return rc;
    struct net *n = naos_alloc(sizeof *n);
    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    if (opt)
        n->opt = *opt;
    n->r = r;
    n->inbox.efd = -1;
    n->cin.efd = -1;
    atomic_init(&n->acc_errors, 0);
    limits(n);
    /* cin holds at most one item per connection plus the accept: it can
     * never refuse a connection coming back. */
    if ((rc = reactor_inbox_init(&n->inbox, NET_INBOX_CAP)) != NAOS_OK ||
        (rc = reactor_inbox_init(&n->cin, SIZE_MAX)) != NAOS_OK) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto err;
    }
    int rv = nng_stream_listener_alloc(&n->lst, cfg->listen_url);
    if (rv == 0)
        rv = nng_stream_listener_listen(n->lst);
    if (rv != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen_url,
                 nng_strerror(rv));
        rc = rv == NNG_EADDRINVAL || rv == NNG_EINVAL ? NAOS_EINVAL
                                                      : NAOS_ESYS;
        goto err;
    }
    if ((rv = nng_aio_alloc(&n->acc_aio, accept_cb, n)) != 0) {
        snprintf(err, errlen, "out of memory");
        rc = NAOS_ENOMEM;
        goto err;
    }
    int port = 0;
    nng_stream_listener_get_int(n->lst, NNG_OPT_TCP_BOUND_PORT, &port);
    const char *host = cfg->listen_url + 6;
    const char *colon = strrchr(host, ':');
    snprintf(n->url, sizeof n->url, "tcp://%.*s:%d", (int)(colon - host),
             host, port);
    if (reactor_add(r, &n->cin_watch, reactor_inbox_fd(&n->cin), EPOLLIN,
                    on_cin, n) != NAOS_OK ||
        reactor_add(r, &n->inbox_watch, reactor_inbox_fd(&n->inbox), EPOLLIN,
                    on_inbox, n) != NAOS_OK) {
        snprintf(err, errlen, "cannot poll the gossip socket");
        rc = NAOS_ESYS;
        goto err;
    }
    accept_start(n);
    *out = n;
    return NAOS_OK;
err:
    net_close(n);
    return rc;
}

/* peer_sock_close closes p's socket. Once nng_close returns no pipe
 * callback of that socket runs any more, so p may be freed or take a new
 * socket. */
static void
peer_sock_close(struct net_peer *p)
{
    atomic_store(&p->closing, true);
    nng_close(p->sock); /* waits for its pipe callbacks */
    p->open = false;
}

static void
peer_close(struct net_peer *p)
{
    if (p->open)
        peer_sock_close(p);
    naos_free(p);
}

void
net_close(struct net *n)
{
    if (n == NULL)
        return;
    reactor_del(n->r, &n->cin_watch);
    reactor_del(n->r, &n->inbox_watch);
    for (size_t i = 0; i < n->npeers; i++)
        peer_close(n->peers[i]);
    naos_free(n->peers);
    /* Inbound: refuse further hand-backs, then stop every transfer and
     * wait for its callback; after that nothing of NNG's touches a
     * connection or the accept slot. */
    struct reactor_inbox_item *it = reactor_inbox_close(&n->cin);
    if (n->lst)
        nng_stream_listener_close(n->lst);
    if (n->acc_aio)
        nng_aio_stop(n->acc_aio);
    for (; it; it = it->next)
        if (it == &n->acc_item && n->accepted) {
            nng_stream_close(n->accepted);
            nng_stream_free(n->accepted);
            n->accepted = NULL;
        }
    for (size_t i = 0; i < n->nconns; i++) {
        struct net_conn *c = n->conns[i];
        nng_stream_close(c->s);
        nng_aio_stop(c->aio);
    }
    while (n->nconns)
        conn_free(n, n->conns[n->nconns - 1]);
    naos_free(n->conns);
    if (n->acc_aio)
        nng_aio_free(n->acc_aio);
    if (n->lst)
        nng_stream_listener_free(n->lst);
    it = reactor_inbox_close(&n->inbox);
    while (it) {
        struct reactor_inbox_item *next = it->next;
        naos_free(it);
        it = next;
    }
    reactor_inbox_fini(&n->inbox);
    reactor_inbox_fini(&n->cin);
    naos_free(n);
}

const char *
net_listen_url(const struct net *n)
{
    return n->url;
}

static struct net_peer *
peer_find(struct net *n, const char *addr, size_t *idx)
{
    for (size_t i = 0; i < n->npeers; i++)
        if (strcmp(n->peers[i]->addr, addr) == 0) {
            if (idx)
                *idx = i;
            return n->peers[i];
        }
    return NULL;
}

/* peer_sock_open gives p (without a socket) a new push0 socket, dialling
 * p->addr in the background (NNG redials it after a drop or a failed
 * attempt, NET_REDIAL_MIN_MS doubling to NET_REDIAL_MAX_MS). */
static int
peer_sock_open(struct net_peer *p)
{
    atomic_store(&p->closing, false);
    atomic_store(&p->dropped, false);
    int rv = nng_push0_open(&p->sock);
    if (rv != 0)
        return nng_to_naos(rv);
    nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, NET_SENDBUF);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, NET_REDIAL_MIN_MS);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, NET_REDIAL_MAX_MS);
    nng_socket_set_bool(p->sock, NNG_OPT_TCP_NODELAY, true);
    nng_socket_set_bool(p->sock, NNG_OPT_TCP_KEEPALIVE, true);
    if ((rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, on_pipe_event,
                              p)) != 0 ||
        (rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, on_pipe_event,
                              p)) != 0 ||
        (rv = nng_dial(p->sock, p->addr, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        peer_sock_close(p);
        return nng_to_naos(rv);
    }
    p->open = true;
    p->opened = naos_clock_now();
    return NAOS_OK;
}

static int
peer_open(struct net *n, const char *addr, struct net_peer **out)
{
    char err[160];
    if (net_url_check(addr, NULL, err, sizeof err) != NAOS_OK)
        return NAOS_EINVAL;
    if (n->npeers >= NET_MAX_PEERS)
        return NAOS_EBUSY;
    if (n->npeers == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 16;
        struct net_peer **np = naos_realloc(n->peers, ncap * sizeof *np);
        if (np == NULL)
            return NAOS_ENOMEM;
        n->peers = np;
        n->cap = ncap;
    }
    struct net_peer *p = naos_alloc(sizeof *p);
    if (p == NULL)
        return NAOS_ENOMEM;
    memset(p, 0, sizeof *p);
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->inbox = &n->inbox;
    atomic_init(&p->closing, false);
    atomic_init(&p->dropped, false);
    int rc = peer_sock_open(p);
    if (rc != NAOS_OK) {
        naos_free(p);
        return rc;
    }
    n->peers[n->npeers++] = p;
    n->stats.peers_open = n->npeers;
    *out = p;
    return NAOS_OK;
}

/* peer_retire closes p's socket, whose connection dropped (file comment),
 * and sets when the next one may be dialled: at once after a socket that
 * lasted, else `backoff` after this one was, the delay doubling. */
static void
peer_retire(struct net *n, struct net_peer *p, naos_time now)
{
    peer_sock_close(p);
    n->stats.peers_retired++;
    if (now - p->opened >= NET_REDIAL_MAX_MS)
        p->backoff = 0;
    else if (p->backoff < NET_REDIAL_MIN_MS)
        p->backoff = NET_REDIAL_MIN_MS;
    else if ((p->backoff *= 2) > NET_REDIAL_MAX_MS)
        p->backoff = NET_REDIAL_MAX_MS;
    p->redial_at = p->opened + (naos_time)p->backoff;
}

/* peer_renew retires p's socket if its connection dropped, and gives p
 * a new one if it has none and its delay is over. NAOS_OK (p->open tells
 * whether it has a socket now) or peer_sock_open's error. */
static int
peer_renew(struct net *n, struct net_peer *p)
{
    naos_time now = naos_clock_now();
    if (p->open && atomic_load(&p->dropped))
        peer_retire(n, p, now);
    if (!p->open && now >= p->redial_at)
        return peer_sock_open(p);
    return NAOS_OK;
}

/* peer_get: the record of addr for a send or a dial, opened on first use
 * and renewed (peer_renew): on NAOS_OK (*out)->open tells whether it has
 * a socket now. NAOS_EINVAL, NAOS_EBUSY (NET_MAX_PEERS), NAOS_ENOMEM;
 * *out is set on NAOS_OK only. */
static int
peer_get(struct net *n, const char *addr, struct net_peer **out)
{
    struct net_peer *p = peer_find(n, addr, NULL);
    if (p == NULL)
        return peer_open(n, addr, out);
    int rc = peer_renew(n, p);
    if (rc != NAOS_OK)
        return rc;
    *out = p;
    return NAOS_OK;
}

int
net_dial(struct net *n, const char *addr)
{
    struct net_peer *p;
    int rc = peer_get(n, addr, &p);
    if (rc == NAOS_OK)
        p->used = naos_clock_now();
    return rc;
}

int
net_send(struct net *n, const char *addr, const uint8_t *data, size_t len)
{
    struct net_peer *p;
    int rc = peer_get(n, addr, &p);
    if (rc == NAOS_OK) {
        p->used = naos_clock_now();
        if (p->open) {
            int rv = nng_send(p->sock, (void *)data, len, NNG_FLAG_NONBLOCK);
            rc = nng_to_naos(rv);
        } else {
            rc = NAOS_EBUSY; /* between a retired socket and the next */
        }
    }
    if (rc != NAOS_OK) {
        n->stats.dropped_out++;
        return rc;
    }
    n->stats.msgs_out++;
    n->stats.bytes_out += len;
    return NAOS_OK;
}

void
net_forget(struct net *n, const char *addr)
{
    size_t i;
    struct net_peer *p = peer_find(n, addr, &i);
    if (p == NULL)
        return;
    n->peers[i] = n->peers[--n->npeers];
    n->stats.peers_open = n->npeers;
    peer_close(p);
}

void
net_prune(struct net *n, net_keep_fn keep, void *arg, naos_duration linger_ms)
{
    naos_time now = naos_clock_now();
    for (size_t i = 0; i < n->npeers;) {
        struct net_peer *p = n->peers[i];
        if (now - p->used < (naos_time)linger_ms || keep(arg, p->addr)) {
            i++;
            continue;
        }
        n->peers[i] = n->peers[--n->npeers]; /* slot i is looked at again */
        peer_close(p);
    }
    n->stats.peers_open = n->npeers;
}

const struct net_stats *
net_stats_get(const struct net *n)
{
    /* accept_cb counts on NNG's thread; the rest is the reactor's. */
    ((struct net *)n)->stats.accept_errors = atomic_load(&n->acc_errors);
    return &n->stats;
}

static int
tp_send(void *impl, const char *addr, const uint8_t *data, size_t len)
{
    return net_send(impl, addr, data, len);
}

static int
tp_dial(void *impl, const char *addr)
{
    return net_dial(impl, addr);
}

static void
tp_prune(void *impl, net_keep_fn keep, void *arg, naos_duration linger_ms)
{
    net_prune(impl, keep, arg, linger_ms);
}

static const struct net_stats *
tp_stats(void *impl)
{
    return net_stats_get(impl);
}

void
net_transport_nng(struct net *n, struct net_transport *t)
{
    t->version = NET_TRANSPORT_VERSION;
    t->impl = n;
    t->send = tp_send;
    t->dial = tp_dial;
    t->prune = tp_prune;
    t->stats = tp_stats;
}
