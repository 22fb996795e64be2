/* SPDX-License-Identifier: Apache-2.0 */
/* swim.h: the membership core. Pure: no clock, no socket, no rand.
 *
 * SWIM (Das, Gupta, Motivala 2002) with the Lifeguard refinements (Dadgar,
 * Phillips, Currey 2017) and the naos fast path (DESIGN "Membership: fast
 * without chatter"):
 *   - one probe per protocol period, targets taken in a shuffled round-robin
 *     order (new members go in at random positions);
 *   - ping, then ping-req through k random peers after the probe timeout;
 *     relays answer ack or, Lifeguard, nack;
 *   - suspicion with incarnation refutation; dead once the suspicion
 *     timeout passes; graceful leave gives `left`;
 *   - Lifeguard: a local health multiplier (LHM) that stretches the probe
 *     period and timeout when this node itself looks slow, a "dogpile"
 *     suspicion timeout that starts at max and shrinks towards min with the
 *     log of independent confirmations, and the buddy system (a suspect
 *     message rides first on any ping to the suspected member);
 *   - infection-style dissemination: every update is piggybacked a bounded
 *     number of times (retransmit_mult * ceil(log10(N+1))) within a bounded
 *     per-message budget, plus a gossip burst to a few peers while updates
 *     are pending (memberlist's gossip interval; nothing is sent at idle);
 *   - periodic push-pull with one random peer (a hash of the view, and the
 *     digest exchange only when the views differ), and with one random
 *     dead member ("reconnect") so partitions heal;
 *   - fast path: swim_on_conn_closed (the driver saw the TCP connection to
 *     a peer drop) suspects at once and runs an immediate direct+indirect
 *     probe; if every relay that answered says nack and nothing acks within
 *     the probe timeout, the member is declared dead without waiting for the
 *     suspicion timeout.
 *
 * Drivers feed it events (message received, connection closed, time
 * advanced) with the current monotonic time, and the core acts through the
 * swim_io vtable (send, member changed, random). Every function here runs
 * on the loop thread only; callbacks must not call back into the core.
 *
 * Everything a message carries is untrusted: counts and sizes are bounded
 * (SWIM_MAX_*), unknown kinds and states are ignored, and nothing aborts.
 *
 * Expected detection times (N = cluster size; see swim_config_profile):
 *   crashed process, fast path: the connection drop, then the confirming
 *     probe: relays nack after 0.8 * probe_timeout, so ~0.8 * probe_timeout
 *     (at most probe_timeout) at the nodes that held a connection, plus a
 *     gossip hop for the others. lan ~0.4 s, wan ~2.4 s, local ~0.17 s.
 *   silent node (frozen host, cut cable):
 *     suspected: ~probe_interval / 2 on average until some survivor's
 *     probe comes round to it (up to (N - 1) * probe_interval with bad
 *     luck) + probe_timeout + 0.8 * probe_timeout (direct ping, then every
 *     relay nacks) + a gossip hop;
 *     dead: that + the suspicion timeout (min = suspicion_mult *
 *     max(1, log10 N) * probe_interval once suspicion_mult - 2 independent
 *     confirmations arrive; up to suspicion_max_mult times that with a lone
 *     suspector) + a gossip hop.
 *   Measured in the simulator (cluster-tests/sim, 1-5 ms links, median over
 *   survivors and 10 kills; test_profile_detection_table checks these
 *   figures, within 20 %):
 *     profile  N   fast path   silent: dead          suspected by all
 *     lan      5   0.41 s      7.1 s  (max 10.2 s)   2.3 s (p90 4.2 s)
 *     lan      50  0.41 s      10.1 s (max 14.1 s)
 *     wan      5   2.4 s       41 s                  7.8 s
 *     wan      50  2.4 s       60 s   (max 67 s)
 *     local    5   0.17 s      4.0 s                 1.7 s
 *     local    50  0.17 s      6.2 s
 *   "Suspected by all" is a frozen node until every survivor holds it
 *   suspect, median over 100 kills (a single freeze spreads from under
 *   1 s to (N - 1) * probe_interval: lan N=5 all within 7.5 s).
 *   The silent medians hinge on when the victim's turn in the probe order
 *   comes: over other seeds, lan N=5 gives 6-8 s and N=50 9-11.5 s.
 *
 * False deaths: a live member is declared dead only if no refutation
 * reaches a suspecting node before its timer runs out. Three things see
 * to it besides the gossip of the refutation itself: a node that hears of
 * a suspicion pings the suspect, carrying it (the ack brings the
 * refutation back); a message that tells a node something older than what
 * it holds gets the newer state back ("corrections", swim_dissem.c); and a
 * probe timeout before its deadline, a node asks a few peers and the
 * suspect again ("last call"). None of them costs anything at idle. The
 * simulator's seed sweep (sim_swim_seed_sweep: 1,000 seeds of 50 nodes at
 * 5 % loss for 10 minutes, and of a node whose receive path lags 1-3 s)
 * finds no false death. */
/* Driver contract (the transport side, node/net or node.c):
 *   - Identity: swim_config.id is the node id the sealed envelope carries as
 *     `sender`. On receipt set msg.from = envelope sender (never a payload
 *     field) and map Sealed.type <-> enum swim_msg_type.
 *   - Incarnation: persist every value io->incarnation reports (before or
 *     soon after; it changes only at start, refutation and leave) and pass
 *     the stored value as incarnation_floor at the next start. Without it a
 *     restarted node still recovers (it refutes what it hears about
 *     itself) but the first seconds may show it suspect.
 *   - send: to.v == 0 means "the address only" (a join to a seed); addr ==
 *     NULL means "the id only" (answer on the connection the peer used).
 *     Encode with swim_msg_wire_size-sized buffers; drop on error.
 *   - conn_closed: call swim_on_conn_closed(peer) when a connection to a
 *     known peer drops because the far end closed or reset it (EOF, RST,
 *     ECONNREFUSED on redial), once per drop. Not for connections we closed,
 *     not for idle timeouts and not while a partition merely stalls TCP:
 *     that is the silent path's job.
 *   - Time: pass the loop's cached monotonic ms; arm one timer at
 *     swim_next_deadline() after every call into the core.
 *   - Join: pass --join seeds to swim_join (retries with backoff forever;
 *     SWIM_EV_JOIN_ATTEMPT / SWIM_EV_JOINED are for logs). Leave: call
 *     swim_leave, keep ticking until swim_leave_done() or ~2 s, then close.
 *   - Health: swim_set_health whenever the node's health summary changes.
 *     A significant change is gossiped (retransmit_mult * log10(N) times
 *     by every member, so a cluster-wide cost that grows with N); a quiet
 *     one (quiet = true: a load figure moved) only goes from this node to
 *     each peer once, on a message it sends anyway. Keep the blob small. */
#ifndef NAOS_SWIM_SWIM_H
#define NAOS_SWIM_SWIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"

/* struct swim_id: a node id. 0 is never a valid id ("unknown"). */
struct swim_id {
    uint64_t v;
};
#define SWIM_ID_ZERO {0}

/* Bounds on everything that comes from the wire. */
#define SWIM_NAME_MAX 64      /* name bytes including the NUL */
#define SWIM_ADDR_MAX 128     /* address bytes including the NUL */
#define SWIM_HEALTH_MAX 768   /* health blob bytes: NodeHealth with 16
                              * labels at their bounds packs to <= 741
                              * (proto/swim_pb.h); a health update then
                              * still fits the default piggyback budget
                              * (1 KiB) */
#define SWIM_MAX_PIGGYBACK 64 /* updates accepted in a non-sync message */
#define SWIM_MAX_SYNC 2048    /* entries/wants accepted in a sync message */
#define SWIM_MAX_MEMBERS 2048 /* members kept (self included); a full sync
                              * reply of 2048 members is sent in parts
                              * (node/members_wire.h) */
#define SWIM_MAX_SEEDS 16     /* seed addresses swim_join keeps */
/* Incarnations and health versions above this are refused as malformed
 * (2^53: exact in JSON, and far from wrapping when a node refutes). */
#define SWIM_INC_MAX (UINT64_C(1) << 53)

/* enum swim_state: a member's state. The order is the precedence at equal
 * incarnation (a later state overrides an earlier one). */
enum swim_state {
    SWIM_ALIVE = 0,
    SWIM_SUSPECT,
    SWIM_DEAD,
    SWIM_LEFT,
};

/* swim_state_name: "alive", "suspect", "dead", "left" ("?" otherwise). */
const char *swim_state_name(enum swim_state s);

/* enum swim_upd_kind: what one update says. ALIVE..LEFT map onto
 * swim_state (kind - 1); HEALTH carries a member's health blob. */
enum swim_upd_kind {
    SWIM_UPD_ALIVE = 1,
    SWIM_UPD_SUSPECT,
    SWIM_UPD_DEAD,
    SWIM_UPD_LEFT,
    SWIM_UPD_HEALTH,
};

/* struct swim_update: one membership fact, piggybacked on a message or
 * listed in a sync. All pointers are borrowed for the duration of the call
 * that carries them (send or swim_on_message).
 *
 *   kind          field use
 *   ALIVE         id, incarnation, name, addr
 *   SUSPECT/DEAD  id, incarnation, from (who suspects / declared it)
 *   LEFT          id, incarnation
 *   HEALTH        id, health_inc, health_ver, health_sub, health +
 *                 health_len
 *
 * In a sync message every entry has a state kind (ALIVE..LEFT). A `full`
 * entry also has name, addr and the health fields (health may be empty);
 * a digest entry (full = false) has only id, kind, incarnation, health_inc
 * and health_ver. Health order is (health_inc, health_ver, health_sub),
 * compared lexicographically: newer wins. health_ver counts significant
 * changes (gossiped, compared by sync digests), health_sub the quiet ones
 * since (sent by the member itself only; see swim_set_health). */
struct swim_update {
    enum swim_upd_kind kind;
    struct swim_id id;
    uint64_t incarnation;
    struct swim_id from;
    const char *name; /* NUL-terminated, < SWIM_NAME_MAX; may be NULL */
    const char *addr; /* NUL-terminated, < SWIM_ADDR_MAX; may be NULL */
    uint64_t health_inc;
    uint64_t health_ver;
    uint64_t health_sub;
    const uint8_t *health; /* health_len bytes; NULL when health_len == 0 */
    size_t health_len;     /* <= SWIM_HEALTH_MAX */
    bool full;             /* sync entries only */
};

/* enum swim_msg_type: the messages of the protocol. The driver maps them
 * onto the sealed envelope's `type` (so the type is not in the payload).
 *
 *   type        fields                      answer
 *   PING        seq, target, updates        ACK(seq) from target
 *   PING_REQ    seq, target, target_addr,   relay pings target; ACK(seq) if
 *               updates                     it answers, else NACK(seq)
 *   ACK         seq, updates
 *   NACK        seq
 *   GOSSIP      updates                     none
 *   SYNC        join, updates (sender's own SYNC_REPLY
 *               entry full, others digests)
 *               or: updates (own entry     empty SYNC_REPLY if the views
 *               full, suspects' digests),   hash alike, else a SYNC back
 *               view_hash                   with every digest
 *   SYNC_REPLY  updates (full), wants       SYNC_FILL if wants
 *   SYNC_FILL   updates (full)              none */
enum swim_msg_type {
    SWIM_MSG_PING = 1,
    SWIM_MSG_PING_REQ,
    SWIM_MSG_ACK,
    SWIM_MSG_NACK,
    SWIM_MSG_GOSSIP,
    SWIM_MSG_SYNC,
    SWIM_MSG_SYNC_REPLY,
    SWIM_MSG_SYNC_FILL,
};
#define SWIM_MSG_TYPE_MAX SWIM_MSG_SYNC_FILL

/* swim_msg_type_name: "ping", "ping-req", "ack", "nack", "gossip", "sync",
 * "sync-reply", "sync-fill" ("?" otherwise). */
const char *swim_msg_type_name(enum swim_msg_type t);

/* struct swim_msg: a decoded message. `from` is NOT a payload field: the
 * driver sets it from the authenticated envelope's sender on receipt (and
 * ignores it when sending; the envelope carries it). Pointers borrowed. */
struct swim_msg {
    enum swim_msg_type type;
    struct swim_id from;
    uint32_t seq;                 /* PING, PING_REQ, ACK, NACK */
    struct swim_id target;        /* PING (who the sender meant), PING_REQ */
    const char *target_addr;      /* PING_REQ */
    bool join;                    /* SYNC: the sender is joining */
    uint64_t view_hash;           /* SYNC: the sender's view hash, sent
                                     instead of digests (0: none) */
    const struct swim_update *updates;
    size_t nupdates;
    const struct swim_id *wants;  /* SYNC_REPLY: ids whose full entry the
                                     replier wants */
    size_t nwants;
};

/* swim_msg_wire_size estimates the protobuf payload size of m in bytes (the
 * encoding the driver uses: varints, fixed64 ids, length-delimited strings
 * and repeated messages), without the sealed envelope. The core uses it for
 * the piggyback budget; the simulator for bytes per second. */
size_t swim_msg_wire_size(const struct swim_msg *m);

/* struct swim_member: one member as this node sees it. Read-only outside
 * swim.c; valid until the next call into the core (members can be reaped
 * by swim_tick). */
struct swim_member {
    struct swim_id id;
    char name[SWIM_NAME_MAX];
    char addr[SWIM_ADDR_MAX]; /* opaque to the core */
    enum swim_state state;
    uint64_t incarnation;
    naos_time state_since;    /* local time it entered its state */
    naos_time last_heard;     /* last message from it; NAOS_TIME_NEVER */
    uint64_t health_inc, health_ver, health_sub;
    uint8_t health[SWIM_HEALTH_MAX];
    size_t health_len;
    bool is_self;
};

/* enum swim_change: why the member callback runs. */
enum swim_change {
    SWIM_CHANGE_STATE = 1, /* state or incarnation changed (or new member) */
    SWIM_CHANGE_HEALTH,    /* a newer health blob arrived */
    SWIM_CHANGE_REMOVED,   /* reaped (dead/left past reap_timeout); the
                              member is freed after the callback */
};

/* enum swim_event_kind: informational events (logs, `naos events`). */
enum swim_event_kind {
    SWIM_EV_JOIN_ATTEMPT = 1, /* attempt = n; next_at = next retry */
    SWIM_EV_JOINED,           /* a seed (or any member) answered our sync */
    SWIM_EV_REFUTED,          /* we refuted a suspicion; incarnation = new */
    SWIM_EV_SUSPECT_FAST,     /* conn closed: fast-path probe of id */
    SWIM_EV_LHM,              /* local health multiplier changed: lhm */
};

struct swim_event {
    enum swim_event_kind kind;
    struct swim_id id;
    uint64_t incarnation;
    unsigned attempt;
    unsigned lhm;
    naos_time next_at;
    naos_time at;
};

#define SWIM_IO_VERSION 2

/* struct swim_io: how the core reaches the world. Versioned vtable; the
 * core keeps a copy. Callbacks must not call back into the core. */
struct swim_io {
    int version; /* SWIM_IO_VERSION */
    void *ctx;
    /* send transmits m (borrowed for the call) to the member `to` at addr.
     * to.v is 0 when the id is unknown (a join to a seed address); addr is
     * NULL when the core knows only the id (an unknown sender pinged us and
     * gave no address: the driver may answer on the connection it came in
     * on, or drop it). Best effort: loss is normal, never report errors. */
    void (*send)(void *ctx, struct swim_id to, const char *addr,
                 const struct swim_msg *m);
    /* member reports a change of member m (borrowed for the call). Not
     * called for self; see incarnation. */
    void (*member)(void *ctx, const struct swim_member *m,
                   enum swim_change what);
    /* random returns a uniform random 32-bit number (probe order, relay
     * and gossip targets, jitter). */
    uint32_t (*random)(void *ctx);
    /* incarnation reports that this node now uses incarnation inc (at
     * start, on refutation, on leave). The driver persists it and passes
     * it back as incarnation_floor at the next start, so a restarted node
     * always comes back with a higher incarnation. May be NULL. */
    void (*incarnation)(void *ctx, uint64_t inc);
    /* event reports an informational event (borrowed). May be NULL. */
    void (*event)(void *ctx, const struct swim_event *ev);
    /* digest returns a 64-bit checksum of len bytes at buf, the same
     * function on every member (periodic syncs compare views by it). */
    uint64_t (*digest)(void *ctx, const void *buf, size_t len);
};

/* struct swim_config: identity and timing. Durations in ms. Build one with
 * swim_config_profile, then override fields. */
struct swim_config {
    struct swim_id id;          /* this node; non-zero */
    const char *name;           /* copied; < SWIM_NAME_MAX */
    const char *addr;           /* copied; advertised address */
    uint64_t incarnation_floor; /* highest incarnation ever used (persisted
                                   by the driver); the node starts at +1 */
    naos_duration probe_interval;
    naos_duration probe_timeout;      /* < probe_interval */
    unsigned suspicion_mult;          /* min suspicion = mult * max(1,
                                         log10 N) * probe_interval */
    unsigned suspicion_max_mult;      /* max suspicion = this * min */
    unsigned indirect_checks;         /* k relays for ping-req */
    unsigned retransmit_mult;         /* piggyback count = mult *
                                         ceil(log10(N+1)) */
    naos_duration push_pull_interval; /* 0 disables (scaled up for N > 32) */
    naos_duration gossip_interval;    /* 0: piggyback on probes only */
    unsigned gossip_nodes;            /* peers per gossip burst */
    unsigned awareness_max;           /* LHM saturates at this (>= 1) */
    naos_duration reap_timeout;       /* dead/left kept this long */
    naos_duration join_backoff_min, join_backoff_max;
    size_t piggyback_max_bytes;       /* wire-size budget for updates in one
                                         message */
    unsigned piggyback_max_count;     /* <= SWIM_MAX_PIGGYBACK */
    bool lifeguard;                   /* LHM, nacks, dogpile, buddy (true) */
    bool fast_path;                   /* act on swim_on_conn_closed (true) */
};

/* swim_config_profile fills c with the timing of a named profile and
 * clears identity fields. Returns NAOS_OK or NAOS_EINVAL (unknown name).
 *
 *   field               lan     wan     local
 *   probe_interval      2 s     5 s     1 s
 *   probe_timeout       500 ms  3 s     200 ms
 *   suspicion_mult      2       6       3
 *   suspicion_max_mult  6       6       6
 *   indirect_checks     3       3       1
 *   retransmit_mult     4       4       2
 *   push_pull_interval  30 s    60 s    15 s
 *   gossip_interval     200 ms  500 ms  100 ms
 *   gossip_nodes        3       4       3
 *
 * lan probes every 2 s, not memberlist's 1 s: crashed processes are found
 * through their closed connections, so probing only has to catch silent
 * nodes, and halving it halves idle traffic; suspicion_mult 2 keeps the
 * suspicion timeout (mult * log10 N * interval) what 4 at 1 s gave.
 * Detection of a crashed process whose connection drops (fast path):
 * lan ~0.4 s, wan ~2.4 s, local ~0.17 s. A silent node (frozen host) is
 * suspected by every survivor in lan ~2.3 s (N=5), wan ~8 s, local ~1.7 s,
 * and declared dead after the suspicion timeout: lan ~7 s (N=5) to ~10 s
 * (N=50), wan ~40 s to ~60 s, local ~4 s to ~6 s (see the file comment). */
int swim_config_profile(struct swim_config *c, const char *profile);

/* SWIM_PROFILE_HELP: the detection times above as `naos-node --help` gives
 * them (and the README points there): the one place users read them, so
 * retune them here, beside the table, when the timing changes. */
#define SWIM_PROFILE_HELP                                                    \
    "lan (default: ~0.4 s to detect a crashed\n"                           \
    "                   node; a silent one suspected in ~2.3 s, dead in\n"  \
    "                   ~7-10 s), wan (~2.4 s; ~8 s / ~40-60 s) or local\n"  \
    "                   (~0.2 s; ~1.7 s / ~4-6 s): simulator medians\n"     \
    "                   for 5 to 50 nodes\n"

/* swim_config_validate checks c (identity, ranges). NAOS_OK or
 * NAOS_EINVAL. */
int swim_config_validate(const struct swim_config *c);

struct swim;

/* swim_alloc creates a core from c (copied; validated) using io (copied).
 * Nothing is sent before swim_start. *out is set on success. Returns
 * NAOS_OK, NAOS_EINVAL or NAOS_ENOMEM. */
int swim_alloc(struct swim **out, const struct swim_config *c,
               const struct swim_io *io);
/* swim_free frees the core. NULL is fine. */
void swim_free(struct swim *s);

/* swim_start begins probing at now with incarnation_floor + 1 (reported
 * through io->incarnation). A started node alone is a cluster of one. */
void swim_start(struct swim *s, naos_time now);

/* swim_join joins through any of seeds (n addresses, copied; at most
 * SWIM_MAX_SEEDS used): it sends a SYNC with join set to every seed at
 * once and again with exponential backoff (join_backoff_min doubling to
 * join_backoff_max, with jitter) until one answers. Each attempt is
 * reported as SWIM_EV_JOIN_ATTEMPT; success as SWIM_EV_JOINED. Returns
 * NAOS_OK, NAOS_EINVAL (n == 0 or an address too long) or NAOS_ENOMEM. */
int swim_join(struct swim *s, const char *const *seeds, size_t n,
              naos_time now);
/* swim_is_joined: a sync answer has arrived since swim_join (true for a
 * node that never called swim_join). */
bool swim_is_joined(const struct swim *s);

/* swim_on_message handles m (borrowed; every field untrusted). from_addr
 * is the sender's advertised address if the driver knows it (may be NULL):
 * the core uses it only to answer a sender it does not know yet. */
void swim_on_message(struct swim *s, const char *from_addr,
                     const struct swim_msg *m, naos_time now);

/* swim_on_conn_closed: the driver saw the transport connection to peer
 * drop (the kernel closed it: strong evidence the process died). If peer
 * is alive or suspect, the core suspects it now and probes it directly and
 * through k relays at once; without an ack within probe_timeout (scaled by
 * LHM) and with at least one relay answering nack (or no relay available)
 * it declares the peer dead. Ignored for unknown, dead, left or self, and
 * when fast_path is off. Call it once per drop, not per reconnect attempt;
 * do not call it for connections closed by this node itself. */
void swim_on_conn_closed(struct swim *s, struct swim_id peer, naos_time now);

/* swim_next_deadline: the earliest time swim_tick has work, or
 * NAOS_TIME_NEVER (before swim_start). */
naos_time swim_next_deadline(const struct swim *s);
/* swim_tick runs everything due at or before now. */
void swim_tick(struct swim *s, naos_time now);

/* swim_leave leaves gracefully: incarnation + 1, state left, and the left
 * update is sent at once to a few peers and then gossiped. Probing stops;
 * pings are still answered. Keep calling swim_tick until swim_leave_done
 * (or a timeout of a second or two) before closing the transport. */
void swim_leave(struct swim *s, naos_time now);
/* swim_leave_done: the left update has been sent its full retransmit
 * count (or there is no one to tell). */
bool swim_leave_done(const struct swim *s);

/* swim_set_health sets this node's health blob (len <= SWIM_HEALTH_MAX,
 * copied) and bumps its version.
 *   quiet = false (a significant change): health_ver + 1, gossiped like a
 *     membership update and compared by sync digests, so it reaches every
 *     member within O(log N) probe rounds;
 *   quiet = true (a figure that drifts, such as the load): health_sub + 1;
 *     this node piggybacks the blob once on its next message to each peer
 *     (every peer within a probe round, ~N probe intervals), receivers do
 *     not relay it and digests ignore it, so its cost per node stays
 *     bounded by the messages the node sends anyway. A lost copy is
 *     repaired by the next change or by any full sync entry.
 * NAOS_OK or NAOS_ETOOBIG. */
int swim_set_health(struct swim *s, const uint8_t *blob, size_t len,
                    bool quiet, naos_time now);

/* Inspection. Pointers valid until the next call into the core. */
/* swim_self: this node's own entry. */
const struct swim_member *swim_self(const struct swim *s);
/* swim_member_count / swim_member_at: every member kept, self included,
 * in no particular order. */
size_t swim_member_count(const struct swim *s);
const struct swim_member *swim_member_at(const struct swim *s, size_t i);
/* swim_member_get: the member with id, or NULL. */
const struct swim_member *swim_member_get(const struct swim *s,
                                          struct swim_id id);
/* swim_num_alive: members alive or suspect, self included. */
size_t swim_num_alive(const struct swim *s);
/* swim_lhm: the local health multiplier (0 = healthy). */
unsigned swim_lhm(const struct swim *s);
/* swim_config_get: the configuration in use (strings owned by s). */
const struct swim_config *swim_config_get(const struct swim *s);

/* struct swim_stats: counters since swim_alloc. */
struct swim_stats {
    uint64_t sent[SWIM_MSG_TYPE_MAX + 1];     /* messages by type */
    uint64_t recv[SWIM_MSG_TYPE_MAX + 1];
    uint64_t bytes_sent;      /* swim_msg_wire_size sum (no envelope) */
    uint64_t dropped;         /* messages refused as malformed */
    uint64_t probes, probe_failures, fast_probes;
    uint64_t suspicions;      /* members this node started suspecting */
    uint64_t refutations;
    uint64_t declared_dead;   /* by this node's own timers */
};
const struct swim_stats *swim_stats_get(const struct swim *s);

#endif
