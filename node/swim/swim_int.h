/* SPDX-License-Identifier: Apache-2.0 */
/* swim_int.h: internals shared by swim.c (protocol) and swim_dissem.c
 * (broadcast queue, piggybacking, wire-size estimate). Not an API. */
#ifndef NAOS_SWIM_SWIM_INT_H
#define NAOS_SWIM_SWIM_INT_H

#include "node/base/idmap.h"
#include "node/swim/swim.h"

#define SWIM__MAX_CONFIRM 16 /* independent suspicion confirmations kept */
#define SWIM__MAX_RELAYS 64  /* ping-req we relay at once */
#define SWIM__MAX_CORR 8     /* corrections owed to one sender */
#define SWIM__MAX_ASKED 16   /* relays of one probe tracked for nacks */

/* struct swim__mem: a member with its private bookkeeping. `pub` first, so
 * a swim_member pointer handed out converts back. */
struct swim__mem {
    struct swim_member pub;
    struct swim_id from;   /* who suspected / declared the current state */
    size_t idx;            /* position in swim.mems */
    bool in_order;         /* in the probe order */

    /* Suspicion (Lifeguard §IV-B dogpile). */
    naos_time susp_start, susp_deadline; /* NEVER when not suspect */
    bool susp_checked; /* the last call before the deadline went out */
    naos_duration susp_min, susp_max;
    unsigned susp_k, susp_n;
    struct swim_id susp_origin;
    struct swim_id susp_conf[SWIM__MAX_CONFIRM];

    /* Fast path probe after a closed connection. */
    naos_time fast_deadline; /* NEVER when none */
    uint32_t fast_seq;
    unsigned fast_asked, fast_nacks;

    /* Dissemination: transmissions so far, -1 when nothing is queued. */
    int bc_state, bc_health;
    uint64_t bc_stamp_state, bc_stamp_health; /* enqueue order */
    uint64_t told; /* swim.health_stamp last piggybacked to this member */

    uint32_t mark; /* sync bookkeeping */
};

struct swim__relay {
    bool active;
    uint32_t seq;          /* our ping to the target */
    uint32_t req_seq;      /* the requester's seq */
    struct swim_id req;    /* the requester */
    char req_addr[SWIM_ADDR_MAX];
    naos_time deadline;    /* nack when no ack by then */
};

enum { SWIM__P_IDLE = 0, SWIM__P_DIRECT, SWIM__P_INDIRECT };

struct swim {
    struct swim_config cfg;
    struct swim_io io;
    char name[SWIM_NAME_MAX];
    char addr[SWIM_ADDR_MAX];
    bool started, leaving;

    struct swim__mem **mems; /* every member, self included */
    size_t nmems, capmems;
    struct idmap byid;
    struct swim__mem *self;

    struct swim__mem **order; /* probe order */
    size_t norder, caporder, order_pos;

    uint32_t seq;
    unsigned lhm;

    /* The current probe round. */
    int probe_phase;
    struct swim_id probe_target;
    uint32_t probe_seq;
    naos_time probe_deadline, probe_round_end, next_probe_at;
    unsigned probe_asked, probe_nacks;
    /* The relays asked (the first SWIM__MAX_ASKED), and which of them
     * nacked: the probe fails early once every one of them has. */
    struct swim_id probe_relay[SWIM__MAX_ASKED];
    bool probe_nacked[SWIM__MAX_ASKED];

    struct swim__relay relays[SWIM__MAX_RELAYS];

    naos_time gossip_at, sync_at;
    unsigned npending;
    unsigned npending_state; /* of npending: membership (not health)
                                updates, the only ones that trigger
                                gossip bursts */
    uint64_t stamp;
    /* Our own health: bumped at every change, and the value at the last
     * significant one; a member whose `told` is below health_stamp after
     * a quiet change gets it piggybacked directly. */
    uint64_t health_stamp, health_sig_stamp;
    uint32_t mark;

    /* Join. */
    char (*seeds)[SWIM_ADDR_MAX];
    size_t nseeds;
    bool joining, joined;
    unsigned join_attempt;
    naos_time join_at;

    /* Corrections (swim.c, apply_gossip): members whose state the sender
     * of the message being handled holds an older view of; the next
     * message to corr_to carries them first. */
    struct swim_id corr_to;
    struct swim__mem *corr[SWIM__MAX_CORR];
    size_t ncorr;

    struct swim_update pig[SWIM_MAX_PIGGYBACK];
    struct swim_stats stats;
};

/* swim.c: the member table and state changes. */
struct swim__mem *swim__find(const struct swim *s, struct swim_id id);
bool swim__is_live(const struct swim__mem *m);
struct swim__mem *swim__mem_add(struct swim *s, struct swim_id id,
                                const char *name, const char *addr,
                                enum swim_state st, uint64_t inc,
                                naos_time now);
void swim__order_insert(struct swim *s, struct swim__mem *m);
void swim__notify(struct swim *s, struct swim__mem *m, enum swim_change what);
void swim__event(struct swim *s, enum swim_event_kind kind, struct swim_id id,
                 naos_time now);
/* swim__send_msg stamps from, counts and sends m (no piggyback added). */
void swim__send_msg(struct swim *s, struct swim_id to, const char *addr,
                    struct swim_msg *m);
/* swim__refute: we heard a claim about ourselves at incarnation seen. */
void swim__refute(struct swim *s, uint64_t seen, naos_time now);
/* Apply one update (the gossip rules of the table in swim.c). */
void swim__on_alive(struct swim *s, const struct swim_update *u,
                    naos_time now);
void swim__on_suspect(struct swim *s, struct swim_id id, uint64_t inc,
                      struct swim_id from, naos_time now);
void swim__on_dead(struct swim *s, struct swim_id id, uint64_t inc,
                   struct swim_id from, enum swim_state st, naos_time now);
void swim__on_health(struct swim *s, const struct swim_update *u,
                     naos_time now);
/* swim__state_newer: (inc_a, a) orders after (inc_b, b). */
bool swim__state_newer(uint64_t inc_a, enum swim_state a, uint64_t inc_b,
                       enum swim_state b);
/* swim__health_newer: health (ia, va) orders after (ib, vb): a newer
 * significant version (what digests compare and gossip relays). */
bool swim__health_newer(uint64_t ia, uint64_t va, uint64_t ib, uint64_t vb);
/* swim__health_fresher: update u's health orders after m's, quiet
 * changes (health_sub) included. */
bool swim__health_fresher(const struct swim_update *u,
                          const struct swim__mem *m);

/* swim_sync.c: push-pull. */
/* swim__sync_request sends a SYNC to member `to`, or to addr with an
 * unknown id when to is NULL: our entry in full and the digests of the
 * rest (digest), or a hash of our view and the digests of the members we
 * suspect (a live member's periodic sync; see swim_sync.c). */
void swim__sync_request(struct swim *s, struct swim__mem *to,
                        const char *addr, bool join, bool digest);
/* swim__on_sync handles SYNC, SYNC_REPLY and SYNC_FILL (validated). */
void swim__on_sync(struct swim *s, struct swim__mem *sender,
                   const char *from_addr, const struct swim_msg *msg,
                   naos_time now);

/* swim_dissem.c */
/* swim__enqueue queues m's state (health = false) or health for
 * dissemination, resetting its transmit count. */
void swim__enqueue(struct swim *s, struct swim__mem *m, bool health);
/* swim__dequeue drops both queued updates about m. */
void swim__dequeue(struct swim *s, struct swim__mem *m);
/* swim__retransmit_limit: retransmit_mult * ceil(log10(N + 1)). */
unsigned swim__retransmit_limit(const struct swim *s);
/* swim__fill_update writes m's state (or health) as an update into u
 * (pointers into m). */
void swim__fill_update(const struct swim__mem *m, bool health,
                       struct swim_update *u);
/* swim__fill_entry writes m as a sync entry (full or digest). */
void swim__fill_entry(const struct swim__mem *m, bool full,
                      struct swim_update *u);
/* swim__piggyback fills s->pig with updates for a message to `to` (may be
 * NULL): the corrections owed to `to` (consumed), the buddy suspicion,
 * then our quiet health if `to` has not had it (marking it told), then
 * queued updates, within the budget left after base bytes; counts
 * transmissions and returns how many it wrote. */
size_t swim__piggyback(struct swim *s, struct swim__mem *to, size_t base);
/* swim__update_wire_size: the estimated encoded size of u as a repeated
 * field element (tag and length included). */
size_t swim__update_wire_size(const struct swim_update *u);

#endif
