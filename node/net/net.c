/* SPDX-License-Identifier: Apache-2.0 */
/* net.c: the transport of net.h. Both directions speak the SP/TCP mapping
 * themselves over NNG's byte streams (nng_stream_listener inbound,
 * nng_stream_dialer outbound): no NNG socket, so none of NNG's protocol
 * layer. Inbound, because NNG 1.5.2's pull0 gives no hold on strangers
 * (net.h says what the listener bounds instead); outbound, because its
 * push0 can keep a freed pipe on its list of pipes ready to send
 * (nanomsg/nng#1653: SIGSEGV in nng_send) and loses a TCP pipe still
 * exchanging the SP header when its socket is closed (a leak of the pipe
 * and its dialer), both on the path of a peer that drops us.
 *
 * SP over TCP (nanomsg RFC sp-tcp-mapping, as NNG 1.5.2's tcp transport
 * speaks it): each side first sends 8 bytes, 0x00 'S' 'P' 0x00, its
 * 16-bit protocol number (big-endian; push0 = 0x50, pull0 = 0x51) and two
 * zero bytes; then every message is a frame: its length as a 64-bit
 * big-endian integer, then that many bytes (push0 adds no header). A pull
 * side never sends anything after its 8 bytes. We are pull0 on the
 * connections we accept and push0 on those we dial, so a node speaks to
 * an NNG push0 or pull0 socket as well as to another node.
 *
 * A connection (struct net_conn, either direction) is, at any moment,
 * either held by the reactor (being decided on, its message being handled
 * by recv_fn, or idle with nothing to send) or lent to NNG for one
 * transfer: the SP header exchange, one frame received (inbound) or one
 * frame sent (outbound). conn_cb runs on NNG's thread while it is lent,
 * chains the partial transfers, and hands the connection back through the
 * `cin` inbox with the outcome in `why`. It touches nothing but the
 * connection's own I/O fields. To close a lent connection the reactor
 * closes its stream (thread-safe in NNG), which completes the pending
 * transfer with an error; the connection comes back and is freed then.
 *
 * Outbound, per peer address, one record (struct net_peer) that outlives
 * its connections: a stream dialer, a queue of at most NET_SENDBUF frames
 * (each already prefixed with its length), and at most one connection.
 * Because the far end (pull0) never sends after its header, an outbound
 * connection that is up also lends NNG a 1-byte read (the watch, its own
 * aio and inbox item) for its whole life: it completes only when the far
 * end closes, resets or breaks the protocol, which is how a peer's death
 * is seen at once even with nothing to send (closed_fn; raft's and
 * SWIM's fast paths rely on it). Such a connection is freed when both its
 * transfer and its watch are back. The life of a peer:
 *   dial (the peer's dial aio: an optional delay, then
 *   nng_stream_dialer_dial, 10 s bound; the outcome comes back as a
 *   struct net_dial through `cin`) -> header exchange (lent; 10 s
 *   bound) -> up:
 *   connected_fn, the watch started, the queue sent one frame at a time
 *   -> dropped (the watch or a send came back with an error, or the far
 *   end's header was not pull0's): counted (peers_retired), closed_fn if
 *   it had been up, a send in progress lost (what is still queued waits
 *   for the next connection), and a redial scheduled.
 * Redials: after a failed dial or a connection that lasted less than
 * NET_REDIAL_MAX_MS, `backoff` from the failure, 100 ms doubling up to
 * 1 s; at once after one that lasted longer. Sends are queued whatever
 * the state (the queue is bounded; beyond it they are dropped and counted,
 * dropped_out). Closes we cause (net_forget, net_prune, net_close) are not
 * reported: the connection is marked closing and its stream closed, and
 * what comes back of it is only freed.
 *
 * A dial in progress belongs to NNG like a lent connection: dial_cb
 * (NNG thread) touches only the peer's dial fields and posts the
 * preallocated event; the event names its peer, and a peer freed while
 * dialling (nng_aio_stop waits for dial_cb) unlinks itself from its
 * event, which the reactor then just frees. A peer's dialer is freed with
 * the peer, maybe before the stream of a connection still closing: NNG
 * counts a dialer's streams and frees it after the last (on its reaper
 * thread, through atomics ThreadSanitizer cannot see in an uninstrumented
 * libnng, so a TSan build reports that hand-over as a race). */
#include "node/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/reactor/inbox.h"

#define NET_CONN_BATCH 256
/* SP protocol numbers (NNG_PROTO(5, 0) and NNG_PROTO(5, 1)). */
#define SP_PUSH0 0x50u
#define SP_PULL0 0x51u
#define SP_HEADER 8
/* A failed accept (EMFILE, ENOMEM, ...) is retried after this. */
#define ACCEPT_RETRY_MS 100
/* The delays between a peer's dials: after a failure, NET_REDIAL_MIN_MS
 * doubling up to NET_REDIAL_MAX_MS; none after a connection that lasted
 * NET_REDIAL_MAX_MS. */
#define NET_REDIAL_MIN_MS 100
#define NET_REDIAL_MAX_MS 1000
/* net_hurry: a delay this short is waited out; and at most one hurry per
 * NET_REDIAL_MAX_MS per peer (a peer we hear from but cannot reach would
 * otherwise have us dial at the rate it sends) */
#define NET_HURRY_MIN_MS 20
/* An outbound TCP connect, and then its SP header exchange, must each
 * finish within this (NNG's own negotiation bound). */
#define NET_DIAL_TIMEOUT_MS 10000

struct net;
struct net_conn;
struct net_peer;

/* What comes back to the reactor through cin. */
enum { IT_ACCEPT = 1, IT_CONN, IT_WATCH, IT_DIAL };
struct net_item {
    struct reactor_inbox_item link; /* first: items are cast back */
    int kind;
    struct net_conn *c; /* IT_CONN, IT_WATCH */
};

/* The outcome of a peer's dial, posted by dial_cb. */
struct net_dial {
    struct net_item it;   /* first; IT_DIAL */
    struct net_peer *p;   /* NULL once the peer is gone (reactor) */
    int rv;               /* nng's result */
    nng_stream *s;        /* rv == 0: the connection */
    bool posted;          /* it reached the inbox */
};

/* A frame waiting to go out: the 8-byte length, then the message. */
struct net_frame {
    uint8_t *buf;
    size_t len;
};

/* An outbound peer. The reactor's, but for the dial fields while the
 * dial is lent (dialing). */
struct net_peer {
    char addr[NET_ADDR_MAX];
    struct net *n;
    nng_stream_dialer *d;
    nng_aio *daio;          /* the delay before a dial, then the dial */
    /* dial slot: dial_cb's while dialing */
    struct net_dial *dev;   /* the event dial_cb posts */
    bool dial_sleeping;     /* daio is the delay, not the dial */
    /* reactor only */
    bool dialing;           /* daio is lent (until dev comes back) */
    bool hurried;           /* net_hurry cut the delay short: the dial
                               that comes back cancelled dials at once */
    naos_time hurried_at;   /* the last net_hurry that did */
    struct net_conn *c;     /* the connection (exchanging or up), if any */
    naos_time used;         /* last net_send or net_dial */
    naos_time redial_at;    /* no dial before (after a failure) */
    naos_duration backoff;  /* the last delay after a failure */
    struct net_frame q[NET_SENDBUF]; /* ring: qn frames from qh */
    size_t qh, qn;
};

/* Phases of a lent connection. */
enum { PH_HS_SEND = 1, PH_HS_RECV, PH_HDR, PH_BODY, PH_SEND };
/* conn.why when a connection comes back with its transfer done (a whole
 * frame in or out, or the header exchange); the other values are enum
 * net_close_reason. */
#define WHY_DONE (-1)

struct net_conn {
    struct net_item item;   /* first: the transfer's hand-back */
    struct net *n;
    nng_stream *s;
    nng_aio *aio;
    /* I/O state: the holder's (conn_cb while lent, else the reactor). */
    int phase;
    uint16_t want;          /* the far end's SP protocol */
    uint8_t hs[SP_HEADER];  /* ours, then theirs */
    uint8_t hdr[8];         /* frame length (inbound) */
    size_t got;             /* bytes of the current part transferred */
    uint8_t *body;          /* naos_alloc'd frame: in, the body (len
                               bytes); out, length and message */
    size_t len;
    size_t frame_max;
    naos_duration frame_timeout;
    naos_time frame_deadline; /* NAOS_TIME_NEVER between frames */
    naos_time auth_deadline;  /* NAOS_TIME_NEVER once authenticated (out:
                                 once the headers are exchanged) */
    int why;                  /* outcome when handed back */
    /* outbound: the watch (watch_cb's while watching) */
    nng_aio *waio;
    uint8_t wbuf[1];
    struct net_item witem;
    /* reactor only */
    bool lent;
    bool watching;            /* waio is lent */
    bool closing;             /* closed by us; freed when all is back */
    bool authed;
    bool out;                 /* dialled by us (peer, up) */
    bool up;                  /* out: headers exchanged */
    struct net_peer *peer;    /* out: NULL once closing */
    naos_time since;          /* accepted at; out: up at */
    uint64_t seq;             /* order of acceptance (oldest = lowest) */
    char addr[48];            /* source IP address (the per-address key) */
};

struct net {
    struct net_config cfg;
    struct net_options opt; /* defaults filled in (limits) */
    struct reactor *r;
    /* outbound */
    struct net_peer **peers;
    size_t npeers, cap;
    /* inbound */
    nng_stream_listener *lst;
    nng_aio *acc_aio;
    bool acc_sleeping;      /* acc_aio is a retry delay, not an accept */
    nng_stream *accepted;   /* set by accept_cb before acc_item is posted */
    struct net_item acc_item;
    bool accepting;         /* an accept (or its retry) is outstanding */
    bool acc_paused;        /* stopped at max_conns */
    atomic_uint_fast64_t acc_errors;
    /* connections handed back, their watches, acc_item, dial outcomes */
    struct reactor_inbox cin;
    struct reactor_watch cin_watch;
    struct net_conn **conns; /* every connection, either way, closing too */
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


/* ---- NNG threads ---------------------------------------------------------- */

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

/* hand_back returns c to the reactor with outcome why. After this the
 * callback must not touch c. If the inbox is closed (net_close is
 * running) net_close frees c. */
static void
hand_back(struct net_conn *c, int why)
{
    c->why = why;
    c->item.link.next = NULL;
    (void)reactor_inbox_put(&c->n->cin, &c->item.link);
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

/* sp_header_ok: h is the SP header of protocol proto. */
static bool
sp_header_ok(const uint8_t *h, unsigned proto)
{
    return h[0] == 0 && h[1] == 'S' && h[2] == 'P' && h[3] == 0 &&
           ((unsigned)h[4] << 8 | h[5]) == proto && h[6] == 0 && h[7] == 0;
}

static void
sp_header(uint8_t *h, unsigned proto)
{
    const uint8_t v[SP_HEADER] = {0, 'S', 'P', 0, proto >> 8, proto & 0xff,
                                  0, 0};
    memcpy(h, v, sizeof v);
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
        if (!sp_header_ok(c->hs, c->want)) {
            hand_back(c, NET_CLOSE_HANDSHAKE);
            return;
        }
        hand_back(c, WHY_DONE); /* len 0, body NULL: the handshake */
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
            hand_back(c, WHY_DONE);
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
    case PH_SEND:
        if (c->got < c->len) {
            io(c, c->phase == PH_SEND, c->body + c->got, c->len - c->got);
            return;
        }
        hand_back(c, WHY_DONE);
        return;
    default:
        hand_back(c, NET_CLOSE_EOF);
        return;
    }
}

/* watch_cb: the 1-byte read of an outbound connection that is up
 * completed: the far end closed, failed, or sent what pull0 never sends.
 * NNG thread; touches only the watch's item. */
static void
watch_cb(void *arg)
{
    struct net_conn *c = arg;
    c->witem.link.next = NULL;
    (void)reactor_inbox_put(&c->n->cin, &c->witem.link);
}

/* dial_cb: a peer's delay before dialling, or its dial, completed. NNG
 * thread; touches only the peer's dial slot, and posts its event once
 * per dial_start. If the inbox is closed (net_close is running) the
 * event stays with the peer, which frees it. */
static void
dial_cb(void *arg)
{
    struct net_peer *p = arg;
    int rv = nng_aio_result(p->daio);
    if (p->dial_sleeping) {
        p->dial_sleeping = false;
        if (rv == 0) {
            nng_aio_set_timeout(p->daio, NET_DIAL_TIMEOUT_MS);
            nng_stream_dialer_dial(p->d, p->daio);
            return;
        }
    }
    struct net_dial *ev = p->dev;
    ev->rv = rv;
    ev->s = rv == 0 ? nng_aio_get_output(p->daio, 0) : NULL;
    ev->it.link.next = NULL;
    ev->posted = true;
    if (reactor_inbox_put(&p->n->cin, &ev->it.link) != NAOS_OK) {
        ev->posted = false;
        if (ev->s)
            nng_stream_free(ev->s);
        ev->s = NULL;
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
        n->acc_item.link.next = NULL;
        if (reactor_inbox_put(&n->cin, &n->acc_item.link) != NAOS_OK) {
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

/* ---- reactor thread: connections, either way ----------------------------- */

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

/* lend hands c to NNG for its next transfer: the header exchange, a
 * frame in (inbound) or the frame in c->body out (outbound). */
static void
lend(struct net_conn *c)
{
    c->lent = true;
    switch (c->phase) {
    case PH_HS_SEND:
        io(c, true, c->hs, SP_HEADER);
        break;
    case PH_SEND:
        io(c, true, c->body, c->len);
        break;
    default:
        io(c, false, c->hdr, sizeof c->hdr);
        break;
    }
}

/* conn_new: a connection on stream s (not yet taken), its header exchange
 * ready to lend: ours push0's and theirs pull0's if out (we dialled), else
 * the other way round. A slot in n->conns is reserved for conn_add. NULL
 * when out of memory. */
static struct net_conn *
conn_new(struct net *n, nng_stream *s, bool out)
{
    if (n->nconns == n->conns_cap) {
        size_t ncap = n->conns_cap ? n->conns_cap * 2 : 16;
        struct net_conn **v = naos_realloc(n->conns, ncap * sizeof *v);
        if (v == NULL)
            return NULL;
        n->conns = v;
        n->conns_cap = ncap;
    }
    struct net_conn *c = naos_alloc(sizeof *c);
    if (c == NULL)
        return NULL;
    memset(c, 0, sizeof *c);
    if (nng_aio_alloc(&c->aio, conn_cb, c) != 0 ||
        (out && nng_aio_alloc(&c->waio, watch_cb, c) != 0)) {
        if (c->aio)
            nng_aio_free(c->aio);
        naos_free(c);
        return NULL;
    }
    c->n = n;
    c->s = s;
    c->out = out;
    c->item.kind = IT_CONN;
    c->item.c = c;
    c->witem.kind = IT_WATCH;
    c->witem.c = c;
    c->frame_deadline = NAOS_TIME_NEVER;
    c->auth_deadline = NAOS_TIME_NEVER;
    sp_header(c->hs, out ? SP_PUSH0 : SP_PULL0);
    c->want = out ? SP_PULL0 : SP_PUSH0;
    c->phase = PH_HS_SEND;
    return c;
}

static void
conn_add(struct net *n, struct net_conn *c)
{
    n->conns[n->nconns++] = c; /* conn_new reserved the slot */
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
    if (c->waio)
        nng_aio_free(c->waio);
    nng_stream_free(c->s);
    naos_free(c->body);
    naos_free(c);
}

/* conn_shut closes c on our side: freed now if NNG holds nothing of it,
 * else when its transfer and watch are back (conn_release). */
static void
conn_shut(struct net *n, struct net_conn *c)
{
    c->closing = true;
    if (c->lent || c->watching)
        nng_stream_close(c->s); /* what is pending comes back */
    else
        conn_free(n, c);
}

static void
conn_release(struct net *n, struct net_conn *c)
{
    if (!c->lent && !c->watching)
        conn_free(n, c);
}

/* conn_close closes inbound c for reason: it stops counting at once; its
 * memory goes when NNG hands it back (or now, if the reactor holds it). */
static void
conn_close(struct net *n, struct net_conn *c, enum net_close_reason reason)
{
    if (c->closing)
        return;
    n->stats.in_closed[reason]++;
    if (reason == NET_CLOSE_OVERSIZED)
        n->stats.oversized++;
    n->stats.in_open--;
    if (!c->authed)
        n->stats.in_unauth--;
    conn_shut(n, c);
    if (n->acc_paused)
        accept_start(n);
}

/* oldest_unauth: the unauthenticated inbound connection accepted first,
 * of addr (NULL: of any address). */
static struct net_conn *
oldest_unauth(struct net *n, const char *addr)
{
    struct net_conn *o = NULL;
    for (size_t i = 0; i < n->nconns; i++) {
        struct net_conn *c = n->conns[i];
        if (c->out || c->closing || c->authed ||
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
        if (!c->out && !c->closing && !c->authed &&
            strcmp(c->addr, addr) == 0)
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
    struct net_conn *c = conn_new(n, s, false);
    if (c == NULL) {
        nng_stream_close(s);
        nng_stream_free(s);
        return;
    }
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
    c->auth_deadline = c->since + (naos_time)n->opt.auth_timeout_ms;
    conn_add(n, c);
    n->stats.in_accepted++;
    n->stats.in_open++;
    n->stats.in_unauth++;
    lend(c);
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

/* ---- reactor thread: outbound peers ---------------------------------------- */

/* dial_start lends p's dial slot to NNG: a connection to p->addr, at
 * redial_at or now if that has passed. No-op while p dials or has a
 * connection; without memory for the event p stays idle until the next
 * net_send or net_dial (peer_get). */
static void
dial_start(struct net_peer *p)
{
    if (p->dialing || p->c != NULL)
        return;
    struct net_dial *ev = naos_alloc(sizeof *ev);
    if (ev == NULL)
        return;
    memset(ev, 0, sizeof *ev);
    ev->it.kind = IT_DIAL;
    ev->p = p;
    p->dev = ev;
    p->dialing = true;
    naos_time now = naos_clock_now();
    if (p->redial_at > now) {
        p->dial_sleeping = true;
        nng_aio_set_timeout(p->daio, NNG_DURATION_INFINITE);
        nng_sleep_aio((nng_duration)(p->redial_at - now), p->daio);
    } else {
        p->dial_sleeping = false;
        nng_aio_set_timeout(p->daio, NET_DIAL_TIMEOUT_MS);
        nng_stream_dialer_dial(p->d, p->daio);
    }
}

/* peer_failed: p's dial failed or its connection was lost (`lasted`:
 * after NET_REDIAL_MAX_MS up). Dials again, after the backoff. */
static void
peer_failed(struct net_peer *p, bool lasted)
{
    if (lasted)
        p->backoff = 0;
    else if (p->backoff < NET_REDIAL_MIN_MS)
        p->backoff = NET_REDIAL_MIN_MS;
    else if ((p->backoff *= 2) > NET_REDIAL_MAX_MS)
        p->backoff = NET_REDIAL_MAX_MS;
    p->redial_at = naos_clock_now() + (naos_time)p->backoff;
    dial_start(p);
}

/* send_next lends p's connection, if it is up and idle, for the first
 * queued frame. */
static void
send_next(struct net_peer *p)
{
    struct net_conn *c = p->c;
    if (c == NULL || !c->up || c->lent || p->qn == 0)
        return;
    struct net_frame f = p->q[p->qh];
    p->q[p->qh] = (struct net_frame){NULL, 0};
    p->qh = (p->qh + 1) % NET_SENDBUF;
    p->qn--;
    c->body = f.buf;
    c->len = f.len;
    c->got = 0;
    c->phase = PH_SEND;
    lend(c);
}

static void
watch_start(struct net_conn *c)
{
    c->watching = true;
    nng_iov iov = {.iov_buf = c->wbuf, .iov_len = sizeof c->wbuf};
    nng_aio_set_timeout(c->waio, NNG_DURATION_INFINITE);
    nng_aio_set_iov(c->waio, 1, &iov);
    nng_stream_recv(c->s, c->waio);
}

/* on_dialed: p's dial came back (ev freed here): a connection starts its
 * header exchange, a failure is redialled. An event whose peer is gone
 * only closes what it brought. */
static void
on_dialed(struct net *n, struct net_dial *ev)
{
    struct net_peer *p = ev->p;
    nng_stream *s = ev->s;
    int rv = ev->rv;
    naos_free(ev);
    if (p == NULL) {
        if (s)
            nng_stream_free(s);
        return;
    }
    p->dialing = false;
    p->dev = NULL;
    bool hurried = p->hurried;
    p->hurried = false;
    if (rv != 0 && hurried) {
        /* net_hurry cancelled the delay (or, in a race, the dial that
         * had just begun): dial now, the backoff forgotten */
        p->backoff = 0;
        p->redial_at = 0;
        dial_start(p);
        return;
    }
    if (rv != 0) {
        peer_failed(p, false);
        return;
    }
    struct net_conn *c = conn_new(n, s, true);
    if (c == NULL) {
        nng_stream_free(s);
        peer_failed(p, false);
        return;
    }
    c->peer = p;
    c->auth_deadline = naos_clock_now() + NET_DIAL_TIMEOUT_MS;
    p->c = c;
    conn_add(n, c);
    lend(c);
}

/* out_drop: outbound c was lost (not by our doing): closed, counted,
 * redialled, and reported if it had been up. The frame it was sending is
 * lost; p's queue waits for the next connection. */
static void
out_drop(struct net *n, struct net_conn *c)
{
    struct net_peer *p = c->peer;
    bool was_up = c->up;
    bool lasted = was_up && naos_clock_now() - c->since >= NET_REDIAL_MAX_MS;
    char addr[NET_ADDR_MAX];
    snprintf(addr, sizeof addr, "%s", p->addr);
    p->c = NULL;
    c->peer = NULL;
    conn_shut(n, c);
    n->stats.peers_retired++;
    peer_failed(p, lasted);
    if (was_up) {
        n->stats.peers_closed++;
        n->cfg.closed(n->cfg.arg, addr); /* last: it may forget p */
    }
}

/* out_back: outbound c's transfer came back (not closing): the header
 * exchange (up: reported, watched) or a frame sent, or a failure. */
static void
out_back(struct net *n, struct net_conn *c)
{
    struct net_peer *p = c->peer;
    if (c->why != WHY_DONE) {
        out_drop(n, c);
        return;
    }
    if (!c->up) {
        c->up = true;
        c->since = naos_clock_now();
        c->auth_deadline = NAOS_TIME_NEVER;
        watch_start(c);
        send_next(p);
        if (n->opt.connected) {
            char addr[NET_ADDR_MAX];
            snprintf(addr, sizeof addr, "%s", p->addr);
            n->opt.connected(n->cfg.arg, addr); /* last: it may forget p */
        }
        return;
    }
    naos_free(c->body);
    c->body = NULL;
    c->len = 0;
    send_next(p);
}

/* on_cin takes back what NNG's threads handed over: accepted streams,
 * connections' transfers and watches, dial outcomes. */
static void
on_cin(void *arg, uint32_t events)
{
    struct net *n = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&n->cin,
                                                       NET_CONN_BATCH);
    while (it) {
        struct reactor_inbox_item *next = it->next;
        struct net_item *ni = (struct net_item *)it;
        struct net_conn *c = ni->c;
        switch (ni->kind) {
        case IT_ACCEPT: {
            nng_stream *s = n->accepted;
            n->accepted = NULL;
            n->accepting = false;
            on_accepted(n, s);
            accept_start(n);
            break;
        }
        case IT_DIAL:
            on_dialed(n, (struct net_dial *)ni);
            break;
        case IT_WATCH:
            c->watching = false;
            if (c->closing)
                conn_release(n, c);
            else
                out_drop(n, c);
            break;
        case IT_CONN:
            c->lent = false;
            if (c->closing)
                conn_release(n, c);
            else if (c->out)
                out_back(n, c);
            else if (c->why == WHY_DONE)
                on_frame(n, c);
            else
                conn_close(n, c, (enum net_close_reason)c->why);
            break;
        default:
            NAOS_ASSERT(0);
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
    n->cin.efd = -1;
    atomic_init(&n->acc_errors, 0);
    limits(n);
    n->acc_item.kind = IT_ACCEPT;
    /* cin holds at most two items per connection, one per dialling peer
     * and the accept: it can never refuse one coming back. */
    if ((rc = reactor_inbox_init(&n->cin, SIZE_MAX)) != NAOS_OK) {
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
                    on_cin, n) != NAOS_OK) {
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

/* peer_free releases p, silently: its connection is closed (not
 * reported) and a dial in progress stopped. nng_aio_stop waits for
 * dial_cb, after which the dial's event is either in the inbox (it then
 * names no peer) or was never posted (freed here). */
static void
peer_free(struct net *n, struct net_peer *p)
{
    if (p->c != NULL) {
        struct net_conn *c = p->c;
        p->c = NULL;
        c->peer = NULL;
        conn_shut(n, c);
    }
    if (p->d)
        nng_stream_dialer_close(p->d);
    if (p->daio)
        nng_aio_stop(p->daio);
    if (p->dialing) {
        if (p->dev->posted)
            p->dev->p = NULL;
        else
            naos_free(p->dev);
    }
    if (p->daio)
        nng_aio_free(p->daio);
    if (p->d)
        nng_stream_dialer_free(p->d);
    for (size_t i = 0; i < p->qn; i++)
        naos_free(p->q[(p->qh + i) % NET_SENDBUF].buf);
    naos_free(p);
}

void
net_close(struct net *n)
{
    if (n == NULL)
        return;
    reactor_del(n->r, &n->cin_watch);
    /* Refuse further hand-backs, then stop every dial and transfer and
     * wait for its callback; after that nothing of NNG's touches a peer,
     * a connection or the accept slot. */
    struct reactor_inbox_item *it = reactor_inbox_close(&n->cin);
    for (size_t i = 0; i < n->npeers; i++)
        peer_free(n, n->peers[i]);
    naos_free(n->peers);
    if (n->lst)
        nng_stream_listener_close(n->lst);
    if (n->acc_aio)
        nng_aio_stop(n->acc_aio);
    while (it) {
        struct reactor_inbox_item *next = it->next;
        struct net_item *ni = (struct net_item *)it;
        if (ni->kind == IT_ACCEPT && n->accepted) {
            nng_stream_close(n->accepted);
            nng_stream_free(n->accepted);
            n->accepted = NULL;
        } else if (ni->kind == IT_DIAL) {
            struct net_dial *ev = (struct net_dial *)ni;
            if (ev->s)
                nng_stream_free(ev->s);
            naos_free(ev);
        }
        it = next;
    }
    for (size_t i = 0; i < n->nconns; i++) {
        struct net_conn *c = n->conns[i];
        nng_stream_close(c->s);
        nng_aio_stop(c->aio);
        if (c->waio)
            nng_aio_stop(c->waio);
    }
    while (n->nconns)
        conn_free(n, n->conns[n->nconns - 1]);
    naos_free(n->conns);
    if (n->acc_aio)
        nng_aio_free(n->acc_aio);
    if (n->lst)
        nng_stream_listener_free(n->lst);
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

/* peer_open: a record for addr, dialling at once. */
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
    p->n = n;
    int rv = nng_stream_dialer_alloc(&p->d, addr);
    if (rv == 0)
        rv = nng_aio_alloc(&p->daio, dial_cb, p);
    if (rv != 0) {
        peer_free(n, p);
        return nng_to_naos(rv);
    }
    /* Options the TCP dialer may not know are not worth failing for. */
    (void)nng_stream_dialer_set_bool(p->d, NNG_OPT_TCP_NODELAY, true);
    (void)nng_stream_dialer_set_bool(p->d, NNG_OPT_TCP_KEEPALIVE, true);
    n->peers[n->npeers++] = p;
    n->stats.peers_open = n->npeers;
    dial_start(p);
    *out = p;
    return NAOS_OK;
}

/* peer_get: the record of addr for a send or a dial, opened on first use
 * (an idle one, whose last dial found no memory, dials again).
 * NAOS_EINVAL, NAOS_EBUSY (NET_MAX_PEERS), NAOS_ENOMEM; *out is set on
 * NAOS_OK only. */
static int
peer_get(struct net *n, const char *addr, struct net_peer **out)
{
    struct net_peer *p = peer_find(n, addr, NULL);
    if (p == NULL)
        return peer_open(n, addr, out);
    dial_start(p);
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

void
net_hurry(struct net *n, const char *addr)
{
    struct net_peer *p = peer_find(n, addr, NULL);
    if (p == NULL || !p->dialing || p->hurried)
        return;
    /* dial_cb owns dial_sleeping while the dial is lent: the reactor
     * tells the delay by redial_at, which it set */
    naos_time now = naos_clock_now();
    if (p->redial_at <= now + NET_HURRY_MIN_MS)
        return; /* the dial is due anyway */
    if (p->hurried_at != 0 && now - p->hurried_at < NET_REDIAL_MAX_MS)
        return;
    p->hurried_at = now;
    p->hurried = true;
    nng_aio_cancel(p->daio);
}

int
net_send(struct net *n, const char *addr, const uint8_t *data, size_t len)
{
    struct net_peer *p;
    int rc = peer_get(n, addr, &p);
    if (rc == NAOS_OK) {
        p->used = naos_clock_now();
        uint8_t *buf = NULL;
        if (p->qn >= NET_SENDBUF)
            rc = NAOS_EBUSY;
        else if (len > SIZE_MAX - 8 || (buf = naos_alloc(8 + len)) == NULL)
            rc = NAOS_ENOMEM;
        if (buf != NULL) {
            put_be64(buf, (uint64_t)len);
            if (len)
                memcpy(buf + 8, data, len);
            p->q[(p->qh + p->qn) % NET_SENDBUF] =
                (struct net_frame){buf, 8 + len};
            p->qn++;
            send_next(p);
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
    peer_free(n, p);
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
        peer_free(n, p);
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

static void
tp_hurry(void *impl, const char *addr)
{
    net_hurry(impl, addr);
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
    t->hurry = tp_hurry;
}

/* ---- one frame, blocking (net_send_once) --------------------------------- */

/* once_wait: runs the aio's operation to completion within the time left
 * until deadline (ms, CLOCK_MONOTONIC). NNG's result. */
static int
once_wait(nng_aio *aio, naos_time deadline)
{
    naos_time now = naos_clock_now();
    nng_aio_set_timeout(aio, deadline > now ? (nng_duration)(deadline - now)
                                            : 1);
    nng_aio_wait(aio);
    return nng_aio_result(aio);
}

/* once_xfer moves all of buf[0..len) over s (send or recv), piece by
 * piece, before deadline. */
static int
once_xfer(nng_stream *s, nng_aio *aio, uint8_t *buf, size_t len, bool send,
          naos_time deadline)
{
    while (len > 0) {
        nng_iov iov = {.iov_buf = buf, .iov_len = len};
        nng_aio_set_iov(aio, 1, &iov);
        if (send)
            nng_stream_send(s, aio);
        else
            nng_stream_recv(s, aio);
        int rv = once_wait(aio, deadline);
        if (rv != 0)
            return rv;
        size_t k = nng_aio_count(aio);
        if (k == 0)
            return NNG_ECLOSED;
        buf += k;
        len -= k;
    }
    return 0;
}

int
net_send_once(const char *addr, const uint8_t *data, size_t len,
              naos_duration timeout_ms, char *err, size_t errlen)
{
    naos_time deadline = naos_clock_now() + (naos_time)timeout_ms;
    nng_stream_dialer *d = NULL;
    nng_stream *s = NULL;
    nng_aio *aio = NULL;
    uint8_t *frame = NULL;
    int rv = nng_stream_dialer_alloc(&d, addr);
    if (rv != 0) {
        snprintf(err, errlen, "bad address %s: %s", addr, nng_strerror(rv));
        return NAOS_EINVAL;
    }
    const char *what = "connect";
    if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
        goto out;
    nng_stream_dialer_dial(d, aio);
    if ((rv = once_wait(aio, deadline)) != 0)
        goto out;
    s = nng_aio_get_output(aio, 0);
    uint8_t hs[SP_HEADER];
    sp_header(hs, SP_PUSH0);
    what = "SP header";
    if ((rv = once_xfer(s, aio, hs, sizeof hs, true, deadline)) != 0 ||
        (rv = once_xfer(s, aio, hs, sizeof hs, false, deadline)) != 0)
        goto out;
    if (!sp_header_ok(hs, SP_PULL0)) {
        rv = NNG_EPROTO;
        goto out;
    }
    what = "send";
    if ((frame = naos_alloc(8 + len)) == NULL) {
        rv = NNG_ENOMEM;
        goto out;
    }
    put_be64(frame, (uint64_t)len);
    if (len > 0)
        memcpy(frame + 8, data, len);
    rv = once_xfer(s, aio, frame, 8 + len, true, deadline);
out:
    naos_free(frame);
    if (s != NULL) {
        nng_stream_close(s);
        nng_stream_free(s);
    }
    nng_aio_free(aio);
    nng_stream_dialer_free(d);
    if (rv == 0)
        return NAOS_OK;
    snprintf(err, errlen, "%s to %s: %s", what, addr, nng_strerror(rv));
    return rv == NNG_ETIMEDOUT ? NAOS_ETIMEDOUT : NAOS_ECLOSED;
}
