/* SPDX-License-Identifier: Apache-2.0 */
/* net.h: node-to-node transport (SP over TCP, spoken over NNG's byte
 * streams). The only NNG user for traffic between nodes (STYLE §2). It
 * moves opaque byte strings (sealed envelopes: sealing and opening are the
 * caller's job, node/auth) and reports connections the far end closed.
 * On the wire it is an NNG push0 socket dialling (outbound) and an NNG
 * pull0 socket listening (inbound), but no NNG socket is used: both sides
 * speak the SP/TCP mapping themselves (net.c says why).
 *
 * Outbound: per peer address one record, opened at the first send (or
 * net_dial) and kept until net_forget or net_prune, with at most one
 * connection (nng_stream_dialer, then the SP header exchange). It dials
 * at once, and again after a failed dial or a lost connection: 100 ms
 * after the failure, the delay doubling up to 1 s while failures follow
 * each other, at once after a connection that lasted 1 s. Sends never
 * block: a message goes into the peer's queue (NET_SENDBUF messages,
 * kept across connections: what waits while the peer is unreachable goes
 * out, in order, on the next connection) or is dropped and counted; the
 * one being written when a connection drops is lost. Membership
 * tolerates loss. An established connection is watched by a pending read
 * (the far end, pull0, never sends), so when the peer's process dies and
 * its kernel closes the connection, closed_fn runs at once on the reactor
 * thread, whether or not anything was being sent; once per lost
 * established connection. Closes we cause (net_forget, net_prune,
 * net_close) are not reported. Each established connection (header
 * exchange done) is reported to connected_fn, so the caller can
 * authenticate it at once (a sealed hello).
 *
 * Inbound: the listener speaks the SP/TCP mapping of a pull0 socket itself
 * over NNG's byte streams (nng_stream_listener), rather than through an
 * NNG pull0 socket, because NNG 1.5.2's pull0 gives no hold on strangers:
 * its TCP transport accepts every connection at once (a connection that
 * never sends its 8-byte SP header holds a descriptor for its 10 s
 * negotiation timeout, however many there are), allocates a frame's full
 * declared size as soon as its 8-byte length arrives (up to the receive
 * limit) and waits for the body for ever, and closes a pipe whose frame is
 * too large without saying why (the error lands in a listener statistic it
 * shares with every other close). Here (limits: struct net_options):
 *   - accepting is gated by the reactor: at most max_conns inbound
 *     connections exist (by default 1/4 of RLIMIT_NOFILE, at most
 *     NET_MAX_CONNS); beyond that new ones wait in the kernel's backlog
 *     and take no descriptor of ours, so the node's own work (workers'
 *     pidfds and pipes, logs, the store, control and HTTP) keeps the other
 *     3/4;
 *   - a connection is unauthenticated until the receiver says an envelope
 *     that arrived on it opened under the cluster key (net_recv_verdict
 *     with NET_AUTHENTIC from inside recv_fn). Unauthenticated
 *     connections are capped in total (max_unauth) and per source IP
 *     address (max_unauth_per_addr): a new one beyond a cap closes the
 *     oldest unauthenticated one of the same address (or overall), so a
 *     newcomer always gets its chance to authenticate, and one that does
 *     not within auth_timeout_ms of being accepted is closed. One whose
 *     envelope the receiver refuses (NET_REFUSED) is closed at once.
 *     Authenticated connections (cluster members) are exempt from both
 *     caps and from the idle timeout;
 *   - a frame (8-byte big-endian length + body) longer than recv_max is
 *     refused as soon as its length arrives: counted (stats.oversized) and
 *     the connection closed. A frame's body is allocated when its length
 *     has arrived and must be complete within frame_timeout_ms of its
 *     first byte, or the connection is closed;
 *   - each connection reads one frame at a time: the next is read only
 *     after recv_fn has run on the previous one on the reactor thread, so
 *     a connection holds at most one frame (<= recv_max) in memory.
 * So an outsider holds at most max_unauth descriptors and
 * max_unauth * recv_max bytes, each for at most auth_timeout_ms.
 *
 * The transport is reached through a versioned vtable (struct
 * net_transport) so a fault layer (drop or delay a peer; test builds)
 * can sit between the membership driver and NNG.
 *
 * Threads: every function here runs on the reactor thread. NNG's threads
 * run the I/O callbacks of dials and connections, both ways: a dial, and a
 * connection's transfers (handshake, a frame in or out), are handed to NNG
 * one at a time and back to the reactor through an inbox when they
 * complete or fail (as is an outbound connection's watch), so their state
 * has one owner at any moment and every decision (caps, deadlines,
 * authentication, redials, counters) is taken on the reactor thread. */
#ifndef NAOS_NET_NET_H
#define NAOS_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/reactor/reactor.h"

#define NET_ADDR_MAX 128    /* URL bytes including the NUL */
#define NET_SENDBUF 16      /* messages queued per peer */
#define NET_MAX_PEERS 4096  /* outbound peers kept */
#define NET_DEFAULT_PORT 7946
/* Inbound limits (struct net_options; 0 there = these defaults). */
#define NET_MAX_CONNS 4096          /* inbound connections, whatever the
                                       descriptor limit */
#define NET_FD_SHARE_DIV 4          /* inbound <= RLIMIT_NOFILE / this */
#define NET_MAX_UNAUTH 64           /* unauthenticated connections */
#define NET_MAX_UNAUTH_PER_ADDR 8   /* ... from one source IP address */
#define NET_AUTH_TIMEOUT_MS 10000   /* accepted -> authenticated */
#define NET_FRAME_TIMEOUT_MS 10000  /* first byte of a frame -> its end */

/* enum net_close_reason: why an inbound connection was closed. */
enum net_close_reason {
    NET_CLOSE_EOF = 0,      /* the far end closed it, or a socket error */
    NET_CLOSE_HANDSHAKE,    /* its SP header was not a push0 peer's */
    NET_CLOSE_OVERSIZED,    /* a frame longer than recv_max */
    NET_CLOSE_FRAME_TIMEOUT,/* a frame not complete in frame_timeout_ms */
    NET_CLOSE_AUTH_TIMEOUT, /* not authenticated in auth_timeout_ms */
    NET_CLOSE_REFUSED,      /* unauthenticated, its envelope refused */
    NET_CLOSE_ADDR_CAP,     /* oldest unauthenticated of its address */
    NET_CLOSE_UNAUTH_CAP,   /* oldest unauthenticated overall */
    NET_CLOSE_NOMEM,        /* no memory for its frame */
    NET_CLOSE__COUNT
};

/* net_close_reason_str: "eof", "handshake", "oversized", "frame-timeout",
 * "auth-timeout", "refused", "address-cap", "unauthenticated-cap",
 * "no-memory" ("unknown" otherwise), for logs and metrics. */
const char *net_close_reason_str(enum net_close_reason r);

/* struct net_stats: counters since net_open (reactor thread). Bytes are
 * the envelopes as queued or received (without TCP/IP or the SP 8-byte
 * length); msgs_out and bytes_out count what was queued. */
struct net_stats {
    uint64_t msgs_in, bytes_in;
    uint64_t msgs_out, bytes_out;
    uint64_t dropped_out;  /* sends refused: queue full, no peer slot */
    uint64_t peers_closed; /* established outbound connections the far end
                              (or a failure) dropped: each reported */
    uint64_t peers_open;   /* outbound peers now (connected, dialling or
                              waiting to redial) */
    uint64_t peers_retired; /* outbound connections lost, not by our doing:
                               those of peers_closed, and those that failed
                               in the SP header exchange; each redialled.
                               (The name is from when a dropped outbound
                               NNG socket was retired and replaced.) */
    /* inbound */
    uint64_t in_open;      /* connections now (authenticated or not) */
    uint64_t in_unauth;    /* ... of which not authenticated */
    uint64_t in_accepted;  /* connections accepted */
    uint64_t in_closed[NET_CLOSE__COUNT]; /* closed, by reason */
    uint64_t oversized;    /* frames refused for length (= in_closed
                              [NET_CLOSE_OVERSIZED]: each closes its
                              connection) */
    uint64_t accept_paused; /* times accepting stopped at max_conns */
    uint64_t accept_errors; /* failed accepts (EMFILE, ...), retried */
};

/* net_recv_fn: one message (data[0..len), borrowed for the call) arrived.
 * It may call net_recv_verdict to say what the message proved about the
 * connection it came on. Reactor thread. */
typedef void (*net_recv_fn)(void *arg, const uint8_t *data, size_t len);
/* net_closed_fn: the far end of our established connection to addr
 * (borrowed) closed it (EOF/RST, or a failure). Once per dropped
 * connection. It may call into n (net_forget, ...). Reactor thread. */
typedef void (*net_closed_fn)(void *arg, const char *addr);
/* net_connected_fn: our connection to addr (borrowed) is established (SP
 * headers exchanged; the first, or a redialled one). It may call into n
 * (net_send, ...). Reactor thread. */
typedef void (*net_connected_fn)(void *arg, const char *addr);

struct net_config {
    const char *listen_url;  /* tcp://HOST:PORT */
    size_t recv_max;         /* largest frame (message) accepted, bytes */
    net_recv_fn recv;
    net_closed_fn closed;
    void *arg;
};

/* struct net_options: what net_open_opts adds to a net_config. Zero
 * fields take the defaults named (NET_OPTIONS_ZERO: all defaults). */
struct net_options {
    net_connected_fn connected;    /* NULL: not reported; gets cfg->arg */
    naos_duration auth_timeout_ms; /* NET_AUTH_TIMEOUT_MS */
    naos_duration frame_timeout_ms;/* NET_FRAME_TIMEOUT_MS */
    size_t max_conns;     /* min(RLIMIT_NOFILE / NET_FD_SHARE_DIV,
                             NET_MAX_CONNS), at least 8 */
    size_t max_unauth;    /* min(NET_MAX_UNAUTH, max_conns / 2) */
    size_t max_unauth_per_addr; /* min(NET_MAX_UNAUTH_PER_ADDR,
                                   max_unauth) */
};
#define NET_OPTIONS_ZERO {NULL, 0, 0, 0, 0, 0}

struct net;

/* net_open listens on cfg->listen_url and watches, from r, the inbox
 * through which NNG hands connections back. cfg is copied. *out is set on success.
 * Returns NAOS_OK; NAOS_EINVAL (bad URL: the message says why); NAOS_ESYS
 * (cannot bind: address in use, ...); NAOS_ENOMEM. err gets a sentence. */
int net_open(struct net **out, struct reactor *r, const struct net_config *cfg,
             char *err, size_t errlen);
/* net_open_opts is net_open with options (opt copied; NULL = defaults). */
int net_open_opts(struct net **out, struct reactor *r,
                  const struct net_config *cfg, const struct net_options *opt,
                  char *err, size_t errlen);
/* net_close closes every connection and stops every dial (no close is
 * reported), drops what is queued, and frees n. NULL is fine. */
void net_close(struct net *n);

/* net_listen_url: the URL actually bound (port 0 resolved). Valid until
 * net_close. */
const char *net_listen_url(const struct net *n);

/* net_send queues data (len bytes, copied) to the peer listening at addr
 * (tcp://HOST:PORT), opening the peer on first use (it dials at once).
 * Never waits for the network. Returns NAOS_OK (queued: sent when the
 * peer is connected, in order), NAOS_EBUSY (dropped: NET_SENDBUF
 * messages already wait, or NET_MAX_PEERS), NAOS_EINVAL (bad address) or
 * NAOS_ENOMEM; every failure counts as dropped_out. */
int net_send(struct net *n, const char *addr, const uint8_t *data,
             size_t len);
/* net_dial opens the peer at addr and starts connecting now, without
 * sending (so a far-end close can be reported from the start). No-op if
 * it is open (it is connected, dialling, or waiting out its redial
 * delay). NAOS_OK, NAOS_EINVAL (bad address), NAOS_EBUSY (NET_MAX_PEERS)
 * or NAOS_ENOMEM. */
int net_dial(struct net *n, const char *addr);
/* net_hurry: the peer at addr was just heard from (it is up again):
 * if our connection to it waits out a redial delay (of more than 20 ms),
 * it dials now and its backoff starts over; at most once a second per
 * peer. Without it, a peer down for seconds waits up to a second after
 * its restart for our messages (a restarted Raft follower's catch-up
 * did). No-op for an unknown address or a peer connected or dialling. */
void net_hurry(struct net *n, const char *addr);
/* net_forget closes our peer at addr (a member that is gone): its
 * connection or dial, and its queue; not reported to closed_fn. No-op
 * for an unknown address. */
void net_forget(struct net *n, const char *addr);
/* net_keep_fn: whether the peer at addr (borrowed) is still wanted. */
typedef bool (*net_keep_fn)(void *arg, const char *addr);
/* net_prune closes (as net_forget) every peer that keep(arg, addr)
 * rejects and that has not been used by net_send or net_dial for
 * linger_ms (so a message just queued to a peer being tried still goes
 * out). keep runs on the calling thread and must not call into n. */
void net_prune(struct net *n, net_keep_fn keep, void *arg,
               naos_duration linger_ms);

/* enum net_verdict: what a received message proved (net_recv_verdict). */
enum net_verdict {
    NET_AUTHENTIC = 1, /* it opened under the cluster key: the connection
                          is a member's from now on */
    NET_REFUSED,       /* it is not authentic: an unauthenticated
                          connection is closed at once (an authenticated
                          one is kept) */
};

/* net_recv_verdict records v for the connection the message now being
 * handled by recv_fn came on. Only valid inside recv_fn; ignored
 * elsewhere. Without a verdict the connection stays as it was. */
void net_recv_verdict(struct net *n, enum net_verdict v);

/* net_stats_get: the counters (valid until net_close). */
const struct net_stats *net_stats_get(const struct net *n);

/* net_url_check validates a tcp://HOST:PORT URL (port 0..65535; HOST a
 * name, an IPv4 address or a bracketed IPv6 address). Returns NAOS_OK or
 * NAOS_EINVAL with a sentence in err. *is_wildcard (may be NULL) tells
 * whether HOST is 0.0.0.0, [::] or empty (not advertisable). */
int net_url_check(const char *url, bool *is_wildcard, char *err,
                  size_t errlen);

#define NET_TRANSPORT_VERSION 3

/* struct net_transport: how the membership driver reaches the network.
 * Versioned vtable (STYLE §11); the NNG implementation is
 * net_transport_nng. A fault layer wraps one of these. */
struct net_transport {
    int version; /* NET_TRANSPORT_VERSION */
    void *impl;
    int (*send)(void *impl, const char *addr, const uint8_t *data,
                size_t len);
    /* v2: dial and prune; forget dropped (pruning replaced it) */
    int (*dial)(void *impl, const char *addr);                /* v2 */
    void (*prune)(void *impl, net_keep_fn keep, void *arg,   /* v2 */
                  naos_duration linger_ms);
    const struct net_stats *(*stats)(void *impl);
    void (*hurry)(void *impl, const char *addr);              /* v3 */
};

/* net_transport_nng fills t with the vtable of n (borrowed until
 * net_close). */
void net_transport_nng(struct net *n, struct net_transport *t);

/* net_send_once: one frame of data[0..len) to the node listening at addr
 * over a connection of its own (dial, SP header exchange as push0, the
 * frame, close), blocking for at most timeout_ms in all. For a process
 * with no reactor: a dead node's guardian telling the cluster
 * (node/node_certify.c). Returns NAOS_OK once the frame is written to
 * the connection, NAOS_EINVAL (bad address), NAOS_ETIMEDOUT, or
 * NAOS_ECLOSED (refused, reset, not a naos-node); err gets a sentence. */
int net_send_once(const char *addr, const uint8_t *data, size_t len,
                  naos_duration timeout_ms, char *err, size_t errlen);

#endif
