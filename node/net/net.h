/* SPDX-License-Identifier: Apache-2.0 */
/* net.h: node-to-node transport (NNG over TCP). The only NNG user for
 * traffic between nodes (STYLE §2). It moves opaque byte strings (sealed
 * envelopes: sealing and opening are the caller's job, node/auth) and
 * reports connections the far end closed.
 *
 * Shape:
 *   - one inbound pull0 socket listening on the node's URL
 *     (tcp://HOST:PORT; port 0 picks a free port, see net_listen_url),
 *     polled from the reactor through NNG_OPT_RECVFD: received messages
 *     are handed to recv_fn on the reactor thread;
 *   - per peer address one outbound push0 socket, dialed at the first
 *     send (or net_dial) and kept open (NNG redials after a drop, 100 ms
 *     .. 1 s). A connection to a live peer therefore exists, and when the
 *     peer's process dies its kernel closes it at once: NNG's pipe
 *     callback (NNG_PIPE_EV_REM_POST, on an NNG thread) posts the address
 *     to a reactor inbox, and closed_fn runs on the reactor thread. Closes
 *     we cause (net_forget, net_prune, net_close) are not reported;
 *   - the caller says which peers are still wanted (net_prune): a socket
 *     to a gone peer would otherwise redial it every second for ever;
 *   - sends never block: a message goes into the peer socket's small send
 *     buffer (NET_SENDBUF messages, kept while the connection is being
 *     established) or is dropped and counted. Membership tolerates loss.
 *
 * The transport is reached through a versioned vtable (struct
 * net_transport) so a fault layer (drop or delay a peer; test builds)
 * can sit between the membership driver and NNG.
 *
 * Threads: every function here runs on the reactor thread; only the pipe
 * callback runs on NNG's threads, and it touches nothing but the inbox. */
#ifndef NAOS_NET_NET_H
#define NAOS_NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/reactor/reactor.h"

#define NET_ADDR_MAX 128    /* URL bytes including the NUL */
#define NET_SENDBUF 16      /* messages queued per peer while connecting */
#define NET_MAX_PEERS 4096  /* outbound sockets kept */
#define NET_DEFAULT_PORT 7946

/* struct net_stats: counters since net_open (reactor thread). Bytes are
 * the envelopes as handed to/from NNG (without TCP/IP or NNG's 8-byte
 * frame header). */
struct net_stats {
    uint64_t msgs_in, bytes_in;
    uint64_t msgs_out, bytes_out;
    uint64_t dropped_out;  /* sends refused: buffer full, no peer slot */
    uint64_t peers_closed; /* drops by the far end, reported */
    uint64_t peers_open;   /* outbound sockets now */
};

/* net_recv_fn: one message (data[0..len), borrowed for the call) arrived.
 * Reactor thread. */
typedef void (*net_recv_fn)(void *arg, const uint8_t *data, size_t len);
/* net_closed_fn: the far end of our connection to addr (borrowed) closed
 * it (EOF/RST). Once per dropped connection. Reactor thread. */
typedef void (*net_closed_fn)(void *arg, const char *addr);

struct net_config {
    const char *listen_url;  /* tcp://HOST:PORT */
    size_t recv_max;         /* largest message accepted (bytes) */
    net_recv_fn recv;
    net_closed_fn closed;
    void *arg;
};

struct net;

/* net_open listens on cfg->listen_url and watches the inbound socket and
 * the pipe-event inbox from r. cfg is copied. *out is set on success.
 * Returns NAOS_OK; NAOS_EINVAL (bad URL: the message says why); NAOS_ESYS
 * (cannot bind: address in use, ...); NAOS_ENOMEM. err gets a sentence. */
int net_open(struct net **out, struct reactor *r, const struct net_config *cfg,
             char *err, size_t errlen);
/* net_close closes every socket (no close is reported), drops what is
 * queued, and frees n. NULL is fine. */
void net_close(struct net *n);

/* net_listen_url: the URL actually bound (port 0 resolved). Valid until
 * net_close. */
const char *net_listen_url(const struct net *n);

/* net_send queues data (len bytes, copied) to the peer listening at addr
 * (tcp://HOST:PORT), opening the outbound socket on first use. Never
 * blocks. Returns NAOS_OK (queued or sent), NAOS_EBUSY (dropped: buffer
 * full), NAOS_EINVAL (bad address) or NAOS_ENOMEM; every failure counts
 * as dropped_out. */
int net_send(struct net *n, const char *addr, const uint8_t *data,
             size_t len);
/* net_dial opens the outbound socket to addr and starts connecting now,
 * without sending (so a far-end close can be reported from the start).
 * No-op if it is open. NAOS_OK, NAOS_EINVAL (bad address), NAOS_EBUSY
 * (NET_MAX_PEERS) or NAOS_ENOMEM. */
int net_dial(struct net *n, const char *addr);
/* net_forget closes our socket to addr (a member that is gone); not
 * reported to closed_fn. No-op for an unknown address. */
void net_forget(struct net *n, const char *addr);
/* net_keep_fn: whether the socket to addr (borrowed) is still wanted. */
typedef bool (*net_keep_fn)(void *arg, const char *addr);
/* net_prune closes (as net_forget) every socket that keep(arg, addr)
 * rejects and that has not been used by net_send or net_dial for
 * linger_ms (so a message just queued to a peer being tried still goes
 * out). keep runs on the calling thread and must not call into n. */
void net_prune(struct net *n, net_keep_fn keep, void *arg,
               naos_duration linger_ms);

/* net_stats_get: the counters (valid until net_close). */
const struct net_stats *net_stats_get(const struct net *n);

/* net_url_check validates a tcp://HOST:PORT URL (port 0..65535; HOST a
 * name, an IPv4 address or a bracketed IPv6 address). Returns NAOS_OK or
 * NAOS_EINVAL with a sentence in err. *is_wildcard (may be NULL) tells
 * whether HOST is 0.0.0.0, [::] or empty (not advertisable). */
int net_url_check(const char *url, bool *is_wildcard, char *err,
                  size_t errlen);

#define NET_TRANSPORT_VERSION 2

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
};

/* net_transport_nng fills t with the vtable of n (borrowed until
 * net_close). */
void net_transport_nng(struct net *n, struct net_transport *t);

#endif
