/* SPDX-License-Identifier: Apache-2.0 */
/* front.h: the HTTP endpoint's front door: the listening socket, every
 * client connection's limits, and the hand-over of its bytes to NNG's
 * HTTP code.
 *
 * Why it exists. NNG 1.5.2's HTTP server owns its listener and its
 * connections and offers no option on either: a connection that sends
 * part of a request head is held for ever, a kept-alive one too, there is
 * no cap on how many it accepts (600 partial heads exhausted a 512-fd
 * node), and a reply is copied and held until a client that never reads
 * takes it. NNG has no public way to wrap a connection it did not accept
 * in its HTTP connection code either; the only public constructors of an
 * nng_http_conn are the server's (for connections it accepts itself) and
 * the client's nng_http_client_connect (for connections it dials). So:
 *
 *   client --TCP--> [public listener: ours]  pub fd
 *                      relay (two 16 KiB buffers; deadlines; cap)
 *                   [private leg listener, 127.0.0.1:0: ours]  leg fd
 *                      <--TCP loopback-- nng_http_client_connect's conn
 *
 * For each accepted client connection the front dials its private leg
 * with NNG's HTTP client, so NNG's conn code parses the request heads and
 * writes the replies (nng_http_conn_read_req / nng_http_conn_write_res on
 * the dialed conn: the conn code is the same on both sides), while this
 * module, which owns both sockets of the path, enforces the limits. Legs
 * are dialed one at a time and a dial is never cancelled while the front
 * runs (NNG 1.5.2's client panics on a connect that follows a cancelled
 * one; see front.c). The leg listener is reachable by other local users
 * too; a leg proves it is ours by sending a 16-byte random nonce first
 * (from getrandom), and nothing it sends is relayed before that: a
 * stranger can neither pass a request off as a client's nor read a
 * reply. At most max_conns + FRONT_PENDING unproven legs are held (the
 * oldest is dropped for a new one), each for at most FRONT_LEG_TIMEOUT.
 * Cost: three descriptors and 32 KiB of relay buffers per client
 * connection, one loopback hop per request.
 *
 * Limits (struct front_config):
 *   - max_conns client connections (also capped at a sixteenth of
 *     RLIMIT_NOFILE: with its share of unproven legs a connection holds
 *     at most four, so the HTTP endpoint never holds more than a quarter
 *     of the node's descriptors, plus FRONT_PENDING). Out of descriptors
 *     (EMFILE on an accept) a listener is left alone for 250 ms; a leg
 *     that cannot be dialed closes the client connection waiting longest
 *     for one. When all are taken, the one that has
 *     waited longest for a request (idle, or in the middle of its head) is
 *     closed for the newcomer; when every one has a request in progress,
 *     the newcomer is closed at once.
 *   - header_timeout: a request head must be complete within it of its
 *     first byte (of the accept, for a connection's first request).
 *   - idle_timeout: a kept-alive connection with no request in progress
 *     and no byte moving either way is closed after it.
 *   - FRONT_WRITE_TIMEOUT: a reply must be handed over (and, at close, the
 *     connection flushed) within it.
 *   - reply_budget: bytes of reply bodies held between the answer and the
 *     moment the reply is written out, in total over every connection. An
 *     answer that would go over is replaced by 503 (front_budget_take);
 *     replies of at most FRONT_SMALL_REPLY bytes are always admitted, and
 *     one reply larger than the whole budget is admitted when nothing else
 *     is held, so the total is at most max(budget + max_conns *
 *     FRONT_SMALL_REPLY, largest reply).
 *
 * Threads. The front thread ("front", started by front_open, joined by
 * front_stop) runs an epoll loop over both listeners, every client and
 * leg socket, the unproven legs and an eventfd. It owns every slot (phase,
 * deadlines, descriptors, relay buffers, NNG conn and aio) and the dial
 * queue. NNG's callbacks (its own threads) only set an atomic flag and
 * write the eventfd; replies from the reactor and render threads are
 * posted with front_reply under the front's mutex, which also guards each
 * slot's generation; the reply-byte counters are atomics. on_request runs
 * on the front thread and must not block. After front_stop returns no
 * NNG operation of the front is pending. */
#ifndef NAOS_HTTP_FRONT_H
#define NAOS_HTTP_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "node/base/time.h"

#define FRONT_BUF (16u * 1024u)          /* relay buffer, each direction */
#define FRONT_WRITE_TIMEOUT 30000        /* ms */
#define FRONT_LEG_TIMEOUT 2000           /* ms for an unproven leg */
#define FRONT_LINGER 1000                /* ms to drain input at close */
#define FRONT_PENDING 8                  /* unproven legs beyond the cap */
#define FRONT_SMALL_REPLY (16u * 1024u)  /* always admitted */
#define FRONT_NONCE 16

/* struct front_id: one client connection (a slot and its generation, so a
 * late reply never reaches the slot's next connection). */
struct front_id {
    uint32_t idx, gen;
};

/* Why connections were closed by the front (counted in front_stats). */
enum front_close {
    FRONT_C_HEADER,  /* header_timeout */
    FRONT_C_IDLE,    /* idle_timeout */
    FRONT_C_WRITE,   /* FRONT_WRITE_TIMEOUT */
    FRONT_C_EVICTED, /* made room for a newcomer */
    FRONT_C_REFUSED, /* every slot had a request in progress */
    FRONT_C__COUNT,
};

/* front_close_name: "header_timeout", ..., for metrics labels. */
const char *front_close_name(enum front_close c);

/* struct front_stats: counters since front_open (a snapshot). */
struct front_stats {
    uint64_t accepted;
    uint64_t closed[FRONT_C__COUNT];
    uint64_t budget_refused; /* answers replaced by 503 */
    uint64_t open;           /* client connections now */
    uint64_t reply_bytes;    /* reply bytes held now */
    uint32_t max_conns;      /* the cap in force */
};

/* front_request_fn: a complete request head arrived on connection id; req
 * is borrowed for the call (method, target, headers). The callee answers
 * exactly once with front_reply, from any thread, now or later. Front
 * thread; must not block. */
struct front;
typedef void (*front_request_fn)(void *arg, struct front *f,
                                 struct front_id id, nng_http_req *req);

struct front_config {
    const char *host;  /* listen address: name or literal ("[::1]" ok) */
    int port;          /* 0 = any free port (see front_port) */
    uint32_t max_conns;
    naos_duration header_timeout, idle_timeout;
    uint64_t reply_budget;
    front_request_fn on_request;
    void *arg;
};

struct front;

/* front_open listens on cfg's address and starts the front thread.
 * Returns NAOS_OK with *out set; NAOS_ESYS (cannot resolve or listen:
 * errbuf, caller buffer + length, says which and why) or NAOS_ENOMEM.
 * Signals should be blocked in the calling thread (the front thread
 * inherits its mask). */
int front_open(struct front **out, const struct front_config *cfg,
               char *errbuf, size_t errlen);

/* front_port: the port bound. */
int front_port(const struct front *f);

/* front_budget_take reserves len bytes of the reply budget for a reply
 * about to be posted; false (and nothing reserved) when it does not fit.
 * front_budget_full: is the budget used up now (worth refusing before an
 * expensive answer)? Any thread. */
bool front_budget_take(struct front *f, size_t len);
bool front_budget_full(struct front *f);

/* front_reply answers connection id with res (ownership taken) whose data
 * points into body (naos_alloc'd, ownership taken, may be NULL) and which
 * reserved counted bytes with front_budget_take; close: close the
 * connection once the reply is out. res NULL closes the connection without
 * a reply (when not even an error reply can be built). When id is gone (timed out, closed,
 * front stopped) everything is freed and released at once. Any thread;
 * valid until front_free. */
void front_reply(struct front *f, struct front_id id, nng_http_res *res,
                 char *body, size_t counted, bool close);

/* front_get_stats copies the counters. Any thread. */
void front_get_stats(const struct front *f, struct front_stats *out);

/* front_stop stops the thread and closes every connection and listener;
 * no on_request runs after it returns. front_free releases f; call it once
 * no thread can still call front_reply. Both safe on NULL. */
void front_stop(struct front *f);
void front_free(struct front *f);

#endif
