/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.h: a control endpoint of the node: an NNG rep0 socket on ipc://
 * (owner-only, 0600) that answers naos.v1.Request with naos.v1.Reply. The
 * node opens two of them: the full control socket (RUN/ctl.sock, for the
 * `naos` CLI) and the agent endpoint (RUN/agent.sock, what workers find in
 * NAOS_CTL). This module moves requests and replies and tells the handler
 * who sent each one (the peer's pid); what a request may do is the
 * handler's business.
 *
 * Threads (STYLE §9). An endpoint owns CTL_CONTEXTS rep0 contexts
 * (nng_ctx), each with one aio. A context receives a request on NNG's
 * threads and posts itself to the endpoint's inbox (node/reactor/inbox.h);
 * the reactor takes it, decodes the request and calls the handler. The
 * reply is packed on the reactor and sent asynchronously on the same
 * context: nng_ctx_send queues it behind a reply still in flight on the
 * same connection instead of dropping it (a non-blocking nng_sendmsg on
 * the socket dropped about one reply in a few thousand on a kept
 * connection). Once the send completes, the context receives again, on
 * NNG's thread. NNG's threads touch only the contexts' aios and atomic
 * fields, the inbox and a counter (ctl.c says which); node state is
 * touched by the handler alone, on the reactor thread.
 *
 * Deferred replies. A handler may keep a request (ctl_req_defer) and
 * answer it later from the reactor thread (ctl_req_finish), for instance
 * once a command is committed: the reply waits for the outcome, the
 * reactor never waits for anything. Requests are answered in the order
 * their handlers finish them, whatever order they arrived in.
 *
 * Bounds (per endpoint):
 *  - CTL_CONTEXTS requests in flight: received, being handled, deferred or
 *    being sent. Beyond that, requests wait in NNG: a connection holds at
 *    most one request nobody has taken and stops reading its socket until
 *    a context takes it, so the kernel's socket buffer pushes back on the
 *    client. Nothing grows without bound: memory held for requests is at
 *    most (CTL_CONTEXTS + connections) x (CTL_MAX_REQUEST +
 *    CTL_REQUEST_SLACK).
 *  - CTL_MAX_DEFERRED of those may be deferred at once: beyond it
 *    ctl_req_defer refuses (NAOS_EBUSY) and the handler answers BUSY, so
 *    requests answered at once (status, ping) always find a context.
 *  - CTL_MAX_REQUEST bytes per request. A request up to CTL_REQUEST_SLACK
 *    bytes larger is still read, so that it can be answered INVALID with a
 *    sentence naming its size and the limit; only a larger one makes NNG
 *    close the connection (NNG_OPT_RECVMAXSZ), since reading it would mean
 *    holding whatever a client claims to send.
 *  - CTL_SEND_TIMEOUT_MS: a reply the peer has not taken within this (it
 *    stopped reading, its socket buffer is full) is given up and the
 *    connection is closed (checked every CTL_SWEEP_MS), so the peer sees
 *    an error rather than silence and a context is never held by a stuck
 *    reader. A peer that is reading always gets its reply. */
#ifndef NAOS_CTL_CTL_H
#define NAOS_CTL_CTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "node/base/arena.h"
#include "node/reactor/inbox.h"
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
/* Requests the reactor handles per wake-up; the rest wait for the next
 * iteration, so a burst cannot hold the loop. */
#define CTL_REACTOR_BATCH 32
/* A reply not taken by its peer within this ends the connection... */
#define CTL_SEND_TIMEOUT_MS 30000
/* ...as found by a sweep this often, while replies are being sent. */
#define CTL_SWEEP_MS 1000

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

struct ctl_ctx; /* one context: private to ctl.c */

/* struct ctl_stats: counters since ctl_open. */
struct ctl_stats {
    uint64_t served;     /* replies handed to NNG */
    uint64_t bad;        /* of which not OK */
    uint64_t oversized;  /* of which refused for size */
    uint64_t abandoned;  /* replies whose peer stopped reading (closed) */
    unsigned deferred;   /* deferred now */
};

/* struct ctl: caller storage, at a stable address while open (NNG's
 * threads reach it through the contexts). Reactor thread. */
struct ctl {
    nng_socket sock;
    nng_listener listener;
    struct reactor_inbox inbox;
    struct reactor_watch watch;
    struct ctl_ctx *ctxs; /* CTL_CONTEXTS */
    size_t nctx;
    ctl_handler handler;
    void *arg;
    unsigned deferred;
    uint64_t served, bad, oversized;
    nng_aio *sweep_aio;     /* the sweeper (ctl.c) */
    atomic_uint send_timeout_ms; /* CTL_SEND_TIMEOUT_MS; tests shorten it */
    atomic_bool sweeping;   /* sweep_aio is armed */
    atomic_ulong abandoned; /* NNG threads */
    bool open;
};

/* ctl_open listens on url (e.g. "ipc:///run/naos/ctl.sock"; an ipc://
 * socket is made mode 0600) and watches its inbox from r; handler (with
 * arg) gets every request on the reactor thread. Returns NAOS_OK, or
 * NAOS_ESYS / NAOS_ENOMEM with a sentence in errbuf (caller buffer +
 * length); c is then closed. */
int ctl_open(struct ctl *c, struct reactor *r, const char *url,
             ctl_handler handler, void *arg, char *errbuf, size_t errlen);
/* ctl_close stops listening, cancels every deferred request (their
 * cancel callbacks run), waits for NNG's callbacks to finish and frees
 * everything. Safe on a zeroed or closed ctl. Reactor thread. */
void ctl_close(struct ctl *c, struct reactor *r);
/* ctl_get_stats copies the counters. Reactor thread. */
void ctl_get_stats(struct ctl *c, struct ctl_stats *out);

#endif
