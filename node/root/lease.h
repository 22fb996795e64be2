/* SPDX-License-Identifier: Apache-2.0 */
/* lease.h: the leases that let the root supervisor move a lost node's
 * work without ever running it twice (issue 12), the accounting part.
 * Pure: times are the caller's monotonic ms (each side its own clock).
 * Built and tested; the node does not take leases yet (the renewal
 * messages, the guardian that enforces the holder's deadline, and the
 * root's moves on expiry are wired by a later change).
 *
 * The holder (every node, about its own placements) asks the leader to
 * renew and counts its lease from when it SENT the request, not from
 * when the answer came: the leader grants later than that, so the
 * holder's lease always ends before the leader's view of it. Only the
 * answer to the last request counts (an old one may be a deposed
 * leader's). Its guardian kills its agents at expiry - guard_margin.
 *
 * The leader grants only after a majority has acknowledged a heartbeat
 * round that began after the request arrived (the glue's ReadIndex: no
 * grant from a deposed leader that has not noticed yet), records the
 * grant when it makes it, and treats the lease as run out at
 *   last grant + length * (1 + drift) + margin
 * where drift bounds how much faster the holder's clock may run slow
 * against the leader's (rate, not offset: each side measures only
 * intervals of its own clock). A new leader counts every node as granted
 * at its start: whatever an earlier leader granted ends before that plus
 * length, so nothing is re-placed before every holder's lease has run
 * out (Nomad's 5-minute reset at a leader change, in seconds). length
 * must be longer than the worst election after a silent leader, or a
 * leader change alone would let leases run out. */
#ifndef NAOS_ROOT_LEASE_H
#define NAOS_ROOT_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"

struct lease_config {
    naos_duration length;       /* a grant's length, holder's clock */
    uint32_t drift_ppm;         /* clock rate bound, parts per million */
    naos_duration margin;       /* the leader's extra wait */
    naos_duration guard_margin; /* the guardian kills this much early */
    naos_duration renew_every;  /* the holder asks this often (and again
                                   after this long without an answer) */
};

/* LEASE_CONFIG_DEFAULT: 3 s leases (the worst election after a silent
 * leader is ~2 s with the default election timeouts), renewed every
 * 500 ms, clocks within 0.1 % of each other, 500 ms of margin each side:
 * a lost node's work may move 3.5 s after its last grant. */
#define LEASE_CONFIG_DEFAULT {3000, 1000, 500, 500, 500}

/* lease_config_check: length > guard_margin, renew_every well inside the
 * lease (at most a third of it, so two renewals can be lost), drift at
 * most 10 %. NAOS_OK or NAOS_EINVAL with a sentence in err. */
int lease_config_check(const struct lease_config *c, char *err,
                       size_t errlen);

/* ---- the holder ---------------------------------------------------------- */

/* The requests a holder remembers: an answer to any of them counts,
 * from when it was sent (a leader whose rounds take longer than
 * renew_every answers a request the holder has asked again since). */
#define LEASE_HOLDER_ASKS 8

struct lease_holder {
    struct lease_config cfg;
    uint64_t next_id;      /* of the next request */
    uint64_t asked_id;     /* the latest request, unanswered (0: none) */
    naos_time asked_at;    /* when it was sent */
    struct {               /* recent requests unanswered, by id % ASKS */
        uint64_t id;       /* 0: none */
        naos_time at;
    } asks[LEASE_HOLDER_ASKS];
    naos_time held_from;   /* when the request last granted was sent */
    naos_time expiry;      /* the lease ends (0: never held) */
};

void lease_holder_init(struct lease_holder *h, const struct lease_config *c);
/* lease_holder_due: a request should go now (none held, or renewal
 * time, or the last one unanswered for renew_every). */
bool lease_holder_due(const struct lease_holder *h, naos_time now);
/* lease_holder_request: a request is sent now; returns its id (> 0). */
uint64_t lease_holder_request(struct lease_holder *h, naos_time now);
/* lease_holder_granted: the leader granted request id. When id is one of
 * the last LEASE_HOLDER_ASKS requests, unanswered, the lease extends to
 * when that one was sent + length (never shortened), it and every older
 * request count as answered, and true; any other answer (unknown, too
 * old, answered already) changes nothing (false). */
bool lease_holder_granted(struct lease_holder *h, uint64_t id);
/* lease_holder_valid: the lease holds at now. */
bool lease_holder_valid(const struct lease_holder *h, naos_time now);
/* lease_holder_guard_deadline: when the guardian must have killed the
 * agents (expiry - guard_margin; 0 when never held). */
naos_time lease_holder_guard_deadline(const struct lease_holder *h);
/* lease_holder_next: when lease_holder_due becomes true. */
naos_time lease_holder_next(const struct lease_holder *h, naos_time now);

/* ---- the leader ---------------------------------------------------------- */

#define LEASE_NODES_MAX 17 /* a configuration's members */

struct lease_leader {
    struct lease_config cfg;
    size_t n;
    struct {
        uint64_t node;
        naos_time granted; /* last grant, leader's clock */
        bool released;     /* run out by proof since (lease_leader_release) */
    } g[LEASE_NODES_MAX];
    naos_time since; /* when this node began to lead */
};

/* lease_leader_start: this node leads from now: every node counts as
 * granted now. */
void lease_leader_start(struct lease_leader *l, const struct lease_config *c,
                        naos_time now);
/* lease_leader_grant: a grant to node is sent now (the glue confirmed
 * leadership after the request came). NAOS_OK; NAOS_ETOOBIG (table full:
 * not granted). */
int lease_leader_grant(struct lease_leader *l, uint64_t node, naos_time now);
/* lease_leader_expired: node's lease has run out for sure at now: no
 * process of its can be running under it (its guardian killed them). A
 * node never granted counts from when this node began to lead. */
bool lease_leader_expired(const struct lease_leader *l, uint64_t node,
                          naos_time now);
/* lease_leader_expiry: when node's lease runs out for the leader. */
naos_time lease_leader_expiry(const struct lease_leader *l, uint64_t node);
/* lease_leader_release: node's lease is known to have ended at now
 * (proof: its guardian certified that nothing of it runs): it counts as
 * run out until its next grant. NAOS_OK; NAOS_ETOOBIG (table full: not
 * recorded, the lease runs out as it would have). */
int lease_leader_release(struct lease_leader *l, uint64_t node, naos_time now);
/* lease_leader_forget: node left the configuration. */
void lease_leader_forget(struct lease_leader *l, uint64_t node);

#endif
