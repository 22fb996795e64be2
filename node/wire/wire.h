/* SPDX-License-Identifier: Apache-2.0 */
/* wire.h: the node's transport between nodes. It belongs to the node, not
 * to any one protocol: membership, Raft and node-to-node requests all send
 * and receive through it, each on the range of Sealed.type numbers it
 * registered. It binds node/net (frames over TCP) to node/auth (sealed
 * envelopes) and keeps the senders' replay marks in the store.
 *
 * Types (proto/wire.proto Sealed.type; 0 is never a type):
 *   WIRE_TYPES_MEMBERS  1..63   membership (node/swim's message types and
 *                               the hello, members_wire.h)
 *   WIRE_TYPES_RAFT     64..95  Raft-lite (reserved: no handler yet; the
 *                               format: node/raft/raft_codec.h)
 *   WIRE_TYPES_REQ      96..127 node-to-node requests (reserved)
 * A module registers its range at open (wire_register); ranges never
 * overlap. A range may be registered without a handler (reserved), so its
 * messages are counted as "unhandled" for that range rather than taken
 * for another module's: a Raft message reaching a node that runs no Raft
 * is never an undecodable SWIM message. A type in no registered range is
 * counted under the range "none".
 *
 * Receiving, in order (each step counted; nothing reaches a module
 * before its envelope opened and its sender's mark is durable):
 *   1. auth_open (seal.h): what does not open is counted by reason and
 *      tells net what it proved about the connection (net_recv_verdict:
 *      a failure before the clocks are compared closes a connection that
 *      is not a member's yet; one that opens makes it a member's);
 *   2. our own envelopes (sender = our id) are dropped;
 *   3. the type's range: received++; no handler: unhandled++, dropped;
 *   4. held: the message (payload copied) waits for the before-sleep
 *      commit (store/batch.h), which writes the senders' replay marks
 *      that moved (seal.h "Across restarts") in the node's one
 *      transaction of the iteration;
 *   5. once that commit is durable, each held message is handed to its
 *      range's handler, in arrival order; a handler that refuses it
 *      (undecodable, not allowed) makes refused++. If the marks could not
 *      be written the held messages are dropped (acting on them could not
 *      be undone by a restart).
 *
 * Sending: wire_send seals (auth_seal: sender = our node id, counter from
 * wall_ms << 20 at open, so never below what a previous run used) and
 * hands the envelope to net, which never blocks (net.h). Only types of a
 * registered range are sent. Nothing sent today depends on state the
 * before-sleep commit writes, except through the marks, which gate step 5
 * (replies are made by the handlers, after the commit). Raft's replies
 * will depend on its hard state and entries: they must be sent after the
 * commit that holds them (RAFT-LITE P1), from the batch writer's done.
 *
 * Size: a frame is at most cfg->recv_max bytes (the node uses membership's
 * bound, members_wire.h). Anything larger than one envelope is paged by
 * the module that sends it: membership splits its sync replies
 * (members_wire_split); status and log documents between nodes will be
 * sent as pages of at most one envelope each, the same way.
 *
 * Time: the loop's cached clock (struct reactor now / wall_ms), read once
 * per iteration; this module reads no clock.
 *
 * Threads: reactor thread only. */
#ifndef NAOS_NODE_WIRE_WIRE_H
#define NAOS_NODE_WIRE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/auth/keys.h"
#include "node/auth/seal.h"
#include "node/net/net.h"
#include "node/reactor/reactor.h"
#include "store/batch.h"
#include "store/store.h"

#define WIRE_TYPES_MEMBERS_LO 1u
#define WIRE_TYPES_MEMBERS_HI 63u
#define WIRE_TYPES_RAFT_LO 64u
#define WIRE_TYPES_RAFT_HI 95u
#define WIRE_TYPES_REQ_LO 96u
#define WIRE_TYPES_REQ_HI 127u
#define WIRE_MAX_RANGES 8
#define WIRE_RANGE_NAME 16 /* bytes with the NUL */

/* struct wire_msg: one opened message handed to a handler. payload is
 * borrowed for the call. */
struct wire_msg {
    uint64_t sender;     /* authenticated sender node id */
    uint64_t cluster_id; /* the envelope's (authenticated) cluster id; 0 =
                            an unassigned joiner's (keys.h) */
    uint32_t type;
    const uint8_t *payload;
    size_t len;
};

/* wire_recv_fn handles m (borrowed for the call); returns true when it
 * took it, false when it refused it (undecodable, not allowed): counted.
 * It may call wire_send. Reactor thread. */
typedef bool (*wire_recv_fn)(void *arg, const struct wire_msg *m);

/* struct wire_range_stats: one range's counters (reactor thread). */
struct wire_range_stats {
    uint64_t received;  /* opened envelopes of the range */
    uint64_t refused;   /* ... its handler refused */
    uint64_t unhandled; /* ... with no handler (a reserved range) */
    uint64_t dropped;   /* ... held, lost: marks not durable, no memory */
};

/* struct wire_stats: the transport's counters. */
struct wire_stats {
    const struct net_stats *net;      /* frames, connections (net.h) */
    const struct auth_stats *opened;  /* refused envelopes by reason */
    uint64_t mark_writes; /* before-sleep commits that held marks */
    size_t nranges;       /* ranges[0..nranges), then the "none" range */
};

/* struct wire_config: what wire_open needs. */
struct wire_config {
    const char *listen_url;     /* tcp://HOST:PORT */
    size_t recv_max;            /* largest envelope accepted, bytes */
    struct auth_keyring *keyring; /* borrowed until wire_close; its
                                     cluster id may change (joining) */
    uint64_t node_id;           /* our sender id */
    struct store *store;        /* borrowed: replay marks */
};

struct wire;

/* wire_open restores the senders' replay marks from cfg->store, listens on
 * cfg->listen_url (net.h) and adds the marks' writer to batch (borrowed
 * until wire_close), the node's before-sleep commit. cfg is copied. On
 * success *out is set. Returns NAOS_OK; NAOS_EINVAL (bad URL, no key);
 * NAOS_ESYS (cannot bind); NAOS_ESTORE (marks unreadable); NAOS_ENOMEM.
 * err gets a sentence. */
int wire_open(struct wire **out, struct reactor *r,
              const struct wire_config *cfg, struct store_batch *batch,
              char *err, size_t errlen);
/* wire_close closes every connection (nothing reported), drops the held
 * messages, leaves the batch and frees w. NULL is fine. */
void wire_close(struct wire *w);

/* wire_register gives name (copied, at most WIRE_RANGE_NAME - 1 bytes)
 * the types lo..hi: their messages go to fn(arg), or, with fn NULL, are
 * counted as unhandled (a reserved range). Returns NAOS_OK; NAOS_EINVAL
 * (lo 0, lo > hi, empty or long name); NAOS_EEXIST (overlaps a registered
 * range, or the name is taken); NAOS_EBUSY (WIRE_MAX_RANGES). */
int wire_register(struct wire *w, const char *name, uint32_t lo, uint32_t hi,
                  wire_recv_fn fn, void *arg);

/* wire_on_conn sets who hears of connections: connected(arg, addr) when
 * one of ours is established, closed(arg, addr) when the far end closed
 * one (net.h). NULL: not told. One listener: membership, which passes
 * closes on to Raft's closed-leader fast path (node_raft.c). */
void wire_on_conn(struct wire *w, net_connected_fn connected,
                  net_closed_fn closed, void *arg);

/* wire_send seals payload[0..len) (borrowed; NULL when len is 0) as
 * message type and queues it to the node listening at addr. Returns
 * NAOS_OK (queued); NAOS_EINVAL (type in no registered range, bad
 * address); NAOS_ETOOBIG (larger than an envelope takes); NAOS_EBUSY
 * (peer's buffer full: dropped and counted); NAOS_ENOMEM. */
int wire_send(struct wire *w, const char *addr, uint32_t type,
              const uint8_t *payload, size_t len);

/* wire_dial, wire_hurry and wire_prune: net_dial, net_hurry and
 * net_prune (net.h) through the transport's vtable. */
/* wire_first_counter: the first envelope counter this wire sealed
 * with (its open's wall ms << 20): later runs of the node start above
 * the counters of this one's lifetime. */
uint64_t wire_first_counter(const struct wire *w);
int wire_dial(struct wire *w, const char *addr);
void wire_hurry(struct wire *w, const char *addr);
void wire_prune(struct wire *w, net_keep_fn keep, void *arg,
                naos_duration linger_ms);

/* wire_listen_url: the URL actually bound (valid until wire_close). */
const char *wire_listen_url(const struct wire *w);

/* wire_stats_get fills st (pointers valid until wire_close). */
void wire_stats_get(const struct wire *w, struct wire_stats *st);

/* wire_range_at gives range i (0 <= i <= nranges of wire_stats_get; i ==
 * nranges is "none": types in no range, lo = hi = 0): its name, bounds
 * (may be NULL) and counters. NAOS_OK or NAOS_ENOTFOUND. */
int wire_range_at(const struct wire *w, size_t i, const char **name,
                  uint32_t *lo, uint32_t *hi,
                  const struct wire_range_stats **st);

#endif
