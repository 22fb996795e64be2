/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.h: a control endpoint of the node: a Unix socket (owner-only,
 * 0600) that answers naos.v1.Request with naos.v1.Reply, speaking the SP
 * REQ/REP protocol over IPC that NNG's req0 clients (the `naos` CLI)
 * speak. The node opens two of them: the full control socket
 * (RUN/ctl.sock, for the `naos` CLI) and the agent endpoint
 * (RUN/agent.sock, what workers find in NAOS_CTL). This module moves
 * requests and replies and tells the handler who sent each one (the
 * peer's pid); what a request may do is the handler's business.
 *
 * Why not NNG's rep0 socket and ipc listener: in NNG 1.5 (Debian 12's)
 * a client that disconnects while its connection is being negotiated
 * stops the listener for good (nanomsg/nng#1518, fixed in 1.6): one
 * `connect(); close()` by any process of the node's user, every agent
 * among them, left both endpoints deaf. The endpoint therefore accepts,
 * negotiates and frames itself, on the reactor thread (ctl.c: the wire
 * format), and a connection that misbehaves costs only itself.
 *
 * Threads. Everything runs on the reactor thread: the listening socket
 * and each connection are reactor watches, and a timerfd wakes the
 * endpoint for its deadlines. Handlers run there too.
 *
 * Deferred replies. A handler may keep a request (ctl_req_defer) and
 * answer it later from the reactor thread (ctl_req_finish), for instance
 * once a command is committed: the reply waits for the outcome, the
 * reactor never waits for anything. Requests are answered in the order
 * their handlers finish them, whatever order they arrived in.
 *
 * Bounds (per endpoint):
 *  - CTL_CONTEXTS requests in flight (being handled or deferred). A
 *    connection whose next request finds none free stops being read
 *    until one is, so the kernel's socket buffer pushes back on it.
 *  - CTL_MAX_DEFERRED of those may be deferred at once: beyond it
 *    ctl_req_defer refuses (NAOS_EBUSY) and the handler answers BUSY, so
 *    requests answered at once (status, ping) always find a context.
 *  - CTL_MAX_REQUEST bytes per request. A request up to CTL_REQUEST_SLACK
 *    bytes larger is still read, so that it can be answered INVALID with a
 *    sentence naming its size and the limit; a larger one closes the
 *    connection before its body is read.
 *  - CTL_MAX_CONNS connections (fewer when RLIMIT_NOFILE is low: an
 *    eighth of it). When full, the least recently active connection
 *    that is idle (nothing in flight, half read or unsent) is closed for
 *    the new one, else the least recently active one with no request
 *    taken (negotiating, half read, replies unread); only when every
 *    connection has a request in flight (the contexts make that
 *    impossible at the default cap) is the new one refused.
 *  - CTL_READ_BUDGET bytes of requests being read at once: a request
 *    whose announced length would pass it closes its connection, so
 *    peers that announce large requests and dribble them pin no more.
 *  - A failed accept (out of descriptors) rests the listener
 *    CTL_ACCEPT_PAUSE_MS (warned once in 10 s), not a busy loop.
 *  - CTL_HELLO_TIMEOUT_MS to negotiate, and as long to send the rest of
 *    a request once its first byte came: a peer that stalls mid-way is
 *    closed. An idle connection between requests may stay.
 *  - Replies wait in the connection's queue; one that has not taken any
 *    of it for CTL_SEND_TIMEOUT_MS (it stopped reading) is closed, so
 *    the peer sees an error rather than silence. While more than
 *    CTL_OUT_PAUSE bytes wait, its next request is not read. Memory per
 *    connection is at most one request, its queued replies (the bytes
 *    before the pause plus the replies already being handled), and a
 *    struct. */
#ifndef NAOS_CTL_CTL_H
#define NAOS_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/arena.h"
#include "node/reactor/reactor.h"
#include "proto/naos.pb-c.h"

/* Requests larger than this are refused (INVALID, naming size and limit). */
#define CTL_MAX_REQUEST (4u << 20)
/* How far above CTL_MAX_REQUEST a request is still read to be refused
 * with a reply; beyond, the connection is closed. */
#define CTL_REQUEST_SLACK (1u << 20)
/* Requests in flight per endpoint (contexts). */
#define CTL_CONTEXTS 64
/* Of those, at most this many deferred at once. */
#define CTL_MAX_DEFERRED 48
/* A connection whose queued replies have not moved for this is closed. */
#define CTL_SEND_TIMEOUT_MS 30000
/* Connections per endpoint, at most (see ctl.h's bounds). */
#define CTL_MAX_CONNS 256
/* To negotiate, and to finish a request once begun. */
#define CTL_HELLO_TIMEOUT_MS 10000
/* Queued reply bytes above which a connection's next request waits. */
#define CTL_OUT_PAUSE (1u << 20)
/* Bytes of requests being read at once, per endpoint: a request whose
 * length would pass it closes its connection (refused). */
#define CTL_READ_BUDGET (64u << 20)
/* After a failed accept (out of descriptors): the listener rests this
 * long instead of being reported ready again at once. */
#define CTL_ACCEPT_PAUSE_MS 250

/* struct ctl_reply: a reply under construction. Everything a handler
 * hangs off `msg` must come from ctl_reply_alloc / ctl_reply_strdup: one
 * arena, freed at once when the reply has been packed. Also used on its
 * own (the HTTP API builds replies with it). */
struct ctl_reply {
    Naos__V1__Reply msg;
    struct naos_arena mem;
    int failed; /* an allocation failed: the reply becomes INTERNAL */
};

/* ctl_reply_alloc returns zeroed memory owned by rep (NULL on ENOMEM, and
 * rep->failed is set). */
void *ctl_reply_alloc(struct ctl_reply *rep, size_t size);
/* ctl_reply_pb_allocator: a protobuf-c allocator taking from rep's arena
 * (for unpacking a message that becomes part of rep: freed with it). */
ProtobufCAllocator ctl_reply_pb_allocator(struct ctl_reply *rep);
/* ctl_reply_strdup copies s into memory owned by rep. */
char *ctl_reply_strdup(struct ctl_reply *rep, const char *s);
/* ctl_reply_error sets the reply's code and a formatted error text. */
void ctl_reply_error(struct ctl_reply *rep, Naos__V1__ErrorCode code,
                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ctl_reply_message sets a successful one-line confirmation. */
void ctl_reply_message(struct ctl_reply *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_reply_fini frees everything allocated from rep (not rep itself). */
void ctl_reply_fini(struct ctl_reply *rep);

/* struct ctl_peer: who sent a request, as the kernel says (SO_PEERCRED of
 * the connection, taken when it was made). */
struct ctl_peer {
    int pid;       /* the connecting process; 0 when unknown */
    uint32_t conn; /* the connection (NNG pipe id): stable while it lasts,
                      never reused by the same endpoint soon */
};

/* struct ctl_req: one request in flight (opaque). Valid from the handler
 * call until its reply is sent: on return from the handler, or, for a
 * deferred request, at ctl_req_finish (or at ctl_close, which cancels it).
 * A request deferred and finished within its own handler is answered
 * once, when the handler returns. */
struct ctl_req;

/* ctl_handler: handle one decoded request. Reactor thread. Fill the reply
 * (ctl_req_reply) and return: the reply is sent on return, unless the
 * handler called ctl_req_defer. */
typedef void (*ctl_handler)(void *arg, struct ctl_req *req);

/* ctl_cancel_fn: the endpoint is closing with req still deferred: forget
 * req (it is freed after the call; its reply is never sent). Reactor
 * thread. */
typedef void (*ctl_cancel_fn)(void *arg, struct ctl_req *req);

/* ctl_req_request: the decoded request (borrowed; valid as req). */
const Naos__V1__Request *ctl_req_request(const struct ctl_req *req);
/* ctl_req_reply: the reply to fill (valid as req). */
struct ctl_reply *ctl_req_reply(struct ctl_req *req);
/* ctl_req_peer: who sent it (copied). */
struct ctl_peer ctl_req_peer(const struct ctl_req *req);

/* ctl_req_defer keeps req past the handler's return: its reply is sent at
 * ctl_req_finish. Only from inside the handler call. cancel (may be NULL)
 * runs with arg if the endpoint closes first. Returns NAOS_OK, or
 * NAOS_EBUSY when CTL_MAX_DEFERRED requests are already deferred on this
 * endpoint (req is then answered on return, as usual: say BUSY). */
int ctl_req_defer(struct ctl_req *req, ctl_cancel_fn cancel, void *arg);
/* ctl_req_finish sends the reply of a deferred request (filled through
 * ctl_req_reply, before or now); req is invalid afterwards. Reactor
 * thread. */
void ctl_req_finish(struct ctl_req *req);

struct ctl_ctx;  /* one request in flight: private to ctl.c */
struct ctl_conn; /* one connection: private to ctl.c */

/* struct ctl_stats: counters since ctl_open. */
struct ctl_stats {
    uint64_t served;     /* replies queued to their connection */
    uint64_t bad;        /* of which not OK */
    uint64_t oversized;  /* of which refused for size */
    uint64_t abandoned;  /* connections closed: their replies stuck */
    uint64_t refused;    /* connections closed for the wire (a bad
                            header, frame or size, a stall, the cap, the
                            read budget) */
    uint64_t over_budget; /* of which for the read budget */
    uint64_t accept_errors; /* accepts failed (out of descriptors) */
    unsigned deferred;   /* deferred now */
    unsigned conns;      /* open now */
};

/* struct ctl: caller storage, at a stable address while open. Reactor
 * thread. */
struct ctl {
    struct reactor *r;
    int lfd;                      /* the listening socket */
    struct reactor_watch watch;   /* lfd */
    int tfd;                      /* timerfd: the endpoint's deadlines */
    struct reactor_watch twatch;
    char *path;                   /* the socket's path (unlinked at close) */
    unsigned long path_ino;       /* its inode when bound */
    struct ctl_ctx *ctxs;         /* CTL_CONTEXTS */
    struct ctl_conn *conns;       /* open, oldest first */
    struct ctl_conn *dead;        /* closed, freed an iteration later */
    struct ctl_conn *waiting;     /* FIFO of connections holding a whole
                                     request that found no context */
    struct ctl_conn *waiting_tail;
    unsigned nconns, max_conns;
    uint64_t reading;             /* bytes of requests being read */
    naos_time accept_paused_until; /* accept failed: retried then (0) */
    naos_time accept_warned;
    naos_time armed;              /* the timerfd's deadline */
    ctl_handler handler;
    void *arg;
    unsigned deferred;
    uint64_t served, bad, oversized, abandoned, refused, over_budget,
        accept_errors;
    unsigned send_timeout_ms;     /* CTL_SEND_TIMEOUT_MS; tests shorten */
    unsigned hello_timeout_ms;    /* CTL_HELLO_TIMEOUT_MS; tests shorten */
    bool serving;                 /* serve_waiting runs */
    bool open;
};

/* ctl_open listens on url ("ipc://PATH": a Unix socket at PATH, mode
 * 0600; a stale socket left there is replaced, anything else is an
 * error) from reactor r; handler (with arg) gets every request on the
 * reactor thread. Returns NAOS_OK, or NAOS_EINVAL (not an ipc:// URL, or
 * a path too long for a Unix socket), NAOS_ESYS or NAOS_ENOMEM, with a
 * sentence in errbuf (caller buffer + length); c is then closed. */
int ctl_open(struct ctl *c, struct reactor *r, const char *url,
             ctl_handler handler, void *arg, char *errbuf, size_t errlen);
/* ctl_close stops listening (the socket's path is removed), cancels
 * every deferred request (their cancel callbacks run), closes every
 * connection (replies not yet written are dropped) and frees
 * everything. Safe on a zeroed or closed ctl. Reactor thread. */
void ctl_close(struct ctl *c, struct reactor *r);
/* ctl_get_stats copies the counters. Reactor thread. */
void ctl_get_stats(struct ctl *c, struct ctl_stats *out);

#endif
