/* SPDX-License-Identifier: Apache-2.0 */
/* raft.c: the Raft-lite core (raft.h). Raft (Ongaro's thesis, "§" below)
 * with pre-vote and check-quorum (thesis §9.6), shaped after etcd/raft's
 * step function.
 *
 * Role transitions:
 *
 *   role          event                                -> role / action
 *   FOLLOWER      election timeout / leader conn closed -> PRECANDIDATE:
 *                 (the latter at once for the lowest   PREVOTE(term+1) to
 *                 id, rank x heartbeat for the others)  all, nothing
 *                                                      persisted
 *   PRECANDIDATE  prevote grants from a majority       -> CANDIDATE
 *   PRECANDIDATE  prevote rejects from a majority      -> FOLLOWER (same term)
 *   PRECANDIDATE  election timeout                     -> PRECANDIDATE again
 *   CANDIDATE     (entry)                              term+1, vote self
 *                 (persisted before the VOTEs leave), VOTE to all
 *   CANDIDATE     votes from a majority                -> LEADER: no-op entry
 *   CANDIDATE     rejects from a majority              -> FOLLOWER (same
 *                 term, vote kept)
 *   CANDIDATE     election timeout                     -> PRECANDIDATE
 *   PRE/CANDIDATE APPEND of the current term           -> FOLLOWER (vote
 *                 kept: RAFT-LITE P3)
 *   LEADER        fewer than a majority answered within -> FOLLOWER (check-
 *                 T (checked every heartbeat)            quorum; same term,
 *                                                        vote kept)
 *   any           message of a higher term (but a      -> FOLLOWER at that
 *                 pre-vote request or a granted pre-      term, vote none
 *                 vote answer, or a (pre)vote request
 *                 inside the lease)
 *
 * Messages of a lower term are ignored, except that a stale APPEND, PREVOTE
 * or VOTE is answered with this node's term so its sender catches up.
 *
 * Mutation flags (RAFT-LITE §6.4.5, test builds only): each
 * RAFT_MUTATION_* plants one known bug so the simulator can show it finds
 * it (cluster-tests/sim/CMakeLists.txt). Never define them elsewhere. */
#include "node/raft/raft.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

/* struct raft_peer: the leader's view of one other voter, and the
 * election tally. */
struct raft_peer {
    struct raft_id id;
    bool voter;     /* else a learner: counts for nothing but `held` */
    uint64_t next;  /* next index to send */
    uint64_t match; /* highest index known replicated there */
    bool inflight;  /* an APPEND with entries is unanswered */
    bool behind;    /* its log ends below the base: it needs a snapshot */
    uint64_t commit_sent; /* the commit index of the last APPEND sent */
    naos_time heard; /* last APPEND_RESP of this term (check-quorum) */
    bool granted;   /* (pre)vote tally */
    bool rejected;
    uint64_t read_acked; /* highest ReadIndex round it echoed this term */
};

/* struct raft_out_block: the entries of one message of the pending batch,
 * with their data after them, in one block owned by the core. */
struct raft_out_block {
    struct raft_entry *ents;
};

#define RAFT_MAX_PEERS (RAFT_MAX_VOTERS + RAFT_MAX_LEARNERS)

struct raft {
    struct raft_config cfg;
    struct raft_io io;
    /* the configuration in effect (the log's last CONFIG entry, at
     * conf_index; 0: conf_base), and the one in effect at the base */
    struct raft_conf conf;
    uint64_t conf_index;
    struct raft_conf conf_base;
    struct raft_conf conf_founding; /* raft_config's voters */
    bool self_voter;

    enum raft_role role;
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
    uint64_t applied;
    struct raft_id leader;

    /* the log: log[i] is index base+i+1; data owned (naos_alloc). Entries
     * at or below base were compacted away (raft_compact), all applied. */
    struct raft_entry *log;
    size_t nlog, caplog;
    size_t log_bytes;     /* sum of the entries' len */
    uint64_t base;
    uint64_t base_term;   /* the term of entry base (0 while base is 0) */
    uint64_t held;        /* every voter holds the log up to here (raft_held) */
    uint64_t stable;      /* last index synced (reported by raft_advance) */
    bool truncated;       /* the disk holds entries above stable to drop */
    struct raft_hard persisted;

    struct raft_peer peers[RAFT_MAX_PEERS];
    size_t npeers;
    size_t quorum; /* of the voters */

    naos_time now;
    naos_time election_deadline;
    naos_time heartbeat_deadline;
    naos_time last_heard_leader;

    /* the pending batch */
    struct raft_msg *out;
    struct raft_out_block *outb;
    size_t nout, capout;
    bool in_ready;
    struct raft_hard ready_hard;
    uint64_t ready_last;
    uint64_t ready_applied;

    /* ReadIndex (thesis §6.4): pending reads (round 0: waiting for a
     * commit of this term), the rounds so far, the no-op of this term,
     * and the outcomes for the next batch */
    struct raft_read {
        uint64_t ctx, index, round;
    } reads[RAFT_MAX_READS];
    size_t nreads;
    uint64_t read_round;
    uint64_t term_start; /* index of this leader's no-op */
    struct raft_read_result done[RAFT_MAX_READS];
    size_t ndone, ready_ndone;

    struct raft_stats stats;
    char errmsg[RAFT_ERRMSG_LEN];
};

/* ---- names, config ---------------------------------------------------- */

const char *
raft_msg_type_name(int t)
{
    switch (t) {
    case RAFT_MSG_PREVOTE:
        return "prevote";
    case RAFT_MSG_PREVOTE_RESP:
        return "prevote-resp";
    case RAFT_MSG_VOTE:
        return "vote";
    case RAFT_MSG_VOTE_RESP:
        return "vote-resp";
    case RAFT_MSG_APPEND:
        return "append";
    case RAFT_MSG_APPEND_RESP:
        return "append-resp";
    default:
        return "?";
    }
}

const char *
raft_role_name(enum raft_role role)
{
    switch (role) {
    case RAFT_FOLLOWER:
        return "follower";
    case RAFT_PRECANDIDATE:
        return "pre-candidate";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_LEADER:
        return "leader";
    default:
        return "?";
    }
}

void
raft_config_default(struct raft_config *c)
{
    memset(c, 0, sizeof(*c));
    c->election_timeout = 500;
    c->heartbeat_interval = 50;
    c->max_entries_per_msg = 64;
    c->max_msg_bytes = RAFT_MAX_MSG_BYTES;
    c->max_entry_size = RAFT_MAX_ENTRY_SIZE;
    c->max_uncommitted = 1024;
    c->max_log_bytes = RAFT_MAX_LOG_BYTES;
    c->pre_vote = true;
    c->check_quorum = true;
}

static int
errf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
errf(char *buf, size_t len, const char *fmt, ...)
{
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return NAOS_EINVAL;
}

int
raft_config_validate(const struct raft_config *c, char *errbuf, size_t errlen)
{
    if (c->id.v == 0)
        return errf(errbuf, errlen, "raft: node id is 0");
    if (c->cluster_id == 0)
        return errf(errbuf, errlen, "raft: cluster id is 0");
    if (c->nvoters < 1 || c->nvoters > RAFT_MAX_VOTERS || !c->voters)
        return errf(errbuf, errlen, "raft: %zu voters (1..%d)", c->nvoters,
                    RAFT_MAX_VOTERS);
    for (size_t i = 0; i < c->nvoters; i++) {
        if (c->voters[i].v == 0)
            return errf(errbuf, errlen, "raft: voter %zu has id 0", i);
        for (size_t j = 0; j < i; j++)
            if (c->voters[j].v == c->voters[i].v)
                return errf(errbuf, errlen, "raft: voter %llu twice",
                            (unsigned long long)c->voters[i].v);
    }
    if (c->election_timeout < 2 || c->election_timeout > 3600 * 1000)
        return errf(errbuf, errlen, "raft: election timeout %lld ms",
                    (long long)c->election_timeout);
    if (c->heartbeat_interval < 1 ||
        c->heartbeat_interval >= c->election_timeout)
        return errf(errbuf, errlen,
                    "raft: heartbeat interval %lld ms (1..election "
                    "timeout)",
                    (long long)c->heartbeat_interval);
    if (c->max_entries_per_msg < 1 ||
        c->max_entries_per_msg > RAFT_MAX_ENTRIES_PER_MSG)
        return errf(errbuf, errlen, "raft: max entries per message %zu",
                    c->max_entries_per_msg);
    if (c->max_entry_size > RAFT_MAX_ENTRY_SIZE || c->max_msg_bytes < 1 ||
        c->max_msg_bytes > RAFT_MAX_ENTRY_SIZE)
        return errf(errbuf, errlen, "raft: size limits %zu/%zu (max %d)",
                    c->max_entry_size, c->max_msg_bytes,
                    RAFT_MAX_ENTRY_SIZE);
    if (c->max_uncommitted < 1)
        return errf(errbuf, errlen, "raft: max uncommitted is 0");
    if (c->max_log_bytes < c->max_entry_size)
        return errf(errbuf, errlen, "raft: a log budget of %zu bytes holds "
                    "no entry of the largest size (%zu)", c->max_log_bytes,
                    c->max_entry_size);
    return NAOS_OK;
}

/* not_leader: a leader-only call made elsewhere (raft_leader hints). */
static int
not_leader(struct raft *r)
{
    snprintf(r->errmsg, sizeof(r->errmsg),
             "raft: not the leader (leader %llu)",
             (unsigned long long)r->leader.v);
    return NAOS_EBUSY;
}

/* ---- configurations -------------------------------------------------- */

static bool
ids_have(const struct raft_id *ids, size_t n, struct raft_id id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i].v == id.v)
            return true;
    return false;
}

bool
raft_conf_is_voter(const struct raft_conf *c, struct raft_id id)
{
    return id.v != 0 && ids_have(c->voters, c->nvoters, id);
}

bool
raft_conf_is_learner(const struct raft_conf *c, struct raft_id id)
{
    return id.v != 0 && ids_have(c->learners, c->nlearners, id);
}

int
raft_conf_validate(const struct raft_conf *c, char *err, size_t errlen)
{
    if (c->nvoters < 1 || c->nvoters > RAFT_MAX_VOTERS)
        return errf(err, errlen, "raft: a configuration of %zu voters "
                    "(1..%d)", c->nvoters, RAFT_MAX_VOTERS);
    if (c->nlearners > RAFT_MAX_LEARNERS)
        return errf(err, errlen, "raft: %zu learners (max %d)",
                    c->nlearners, RAFT_MAX_LEARNERS);
    for (size_t i = 0; i < c->nvoters + c->nlearners; i++) {
        struct raft_id id = i < c->nvoters ? c->voters[i]
                                           : c->learners[i - c->nvoters];
        if (id.v == 0)
            return errf(err, errlen, "raft: a member of id 0");
        for (size_t j = 0; j < i; j++) {
            struct raft_id o = j < c->nvoters ? c->voters[j]
                                              : c->learners[j - c->nvoters];
            if (o.v == id.v)
                return errf(err, errlen, "raft: member %llu twice",
                            (unsigned long long)id.v);
        }
    }
    return NAOS_OK;
}

static void
be64_put(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t
be64_get(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int
raft_conf_encode(const struct raft_conf *c, unsigned char *buf, size_t cap,
                 size_t *len)
{
    if (raft_conf_validate(c, NULL, 0) != NAOS_OK)
        return NAOS_EINVAL;
    size_t need = 3 + 8 * (c->nvoters + c->nlearners);
    if (cap < need)
        return NAOS_EINVAL;
    buf[0] = RAFT_CONF_VERSION;
    buf[1] = (unsigned char)c->nvoters;
    buf[2] = (unsigned char)c->nlearners;
    for (size_t i = 0; i < c->nvoters; i++)
        be64_put(buf + 3 + 8 * i, c->voters[i].v);
    for (size_t i = 0; i < c->nlearners; i++)
        be64_put(buf + 3 + 8 * (c->nvoters + i), c->learners[i].v);
    *len = need;
    return NAOS_OK;
}

int
raft_conf_decode(const void *data, size_t len, struct raft_conf *out,
                 char *err, size_t errlen)
{
    const unsigned char *p = data;
    if (len < 3 || p == NULL)
        return errf(err, errlen, "raft: a configuration of %zu bytes", len);
    if (p[0] != RAFT_CONF_VERSION)
        return errf(err, errlen, "raft: configuration version %u (this "
                    "node knows %u: upgrade it)", p[0], RAFT_CONF_VERSION);
    size_t nv = p[1], nl = p[2];
    if (nv > RAFT_MAX_VOTERS || nl > RAFT_MAX_LEARNERS ||
        len != 3 + 8 * (nv + nl))
        return errf(err, errlen, "raft: a configuration of %zu voters and "
                    "%zu learners in %zu bytes", nv, nl, len);
    struct raft_conf c;
    memset(&c, 0, sizeof c);
    c.nvoters = nv;
    c.nlearners = nl;
    for (size_t i = 0; i < nv; i++)
        c.voters[i].v = be64_get(p + 3 + 8 * i);
    for (size_t i = 0; i < nl; i++)
        c.learners[i].v = be64_get(p + 3 + 8 * (nv + i));
    int rc = raft_conf_validate(&c, err, errlen);
    if (rc != NAOS_OK)
        return rc;
    *out = c;
    return NAOS_OK;
}

/* ---- small helpers ---------------------------------------------------- */

static void
emit_role(struct raft *r, enum raft_role old)
{
    if (r->io.event == NULL || old == r->role)
        return;
    struct raft_event ev = {.kind = RAFT_EV_ROLE,
                            .role = r->role,
                            .old_role = old,
                            .term = r->term,
                            .leader = r->leader};
    r->io.event(r->io.ctx, &ev);
}

static void
drop(struct raft *r, const struct raft_msg *m, const char *reason)
{
    r->stats.dropped++;
    if (r->io.event) {
        struct raft_event ev = {.kind = RAFT_EV_DROPPED,
                                .role = r->role,
                                .term = r->term,
                                .msg_type = (int)m->type,
                                .reason = reason};
        r->io.event(r->io.ctx, &ev);
    }
}

static uint64_t
last_index(const struct raft *r)
{
    return r->base + (uint64_t)r->nlog;
}

/* at: entry index, which must be in (base, last_index]. */
static struct raft_entry *
at(const struct raft *r, uint64_t index)
{
    NAOS_ASSERT(index > r->base && index <= last_index(r));
    return &r->log[index - r->base - 1];
}

uint64_t
raft_term_at(const struct raft *r, uint64_t index)
{
    if (index > 0 && index == r->base)
        return r->base_term;
    if (index <= r->base || index > last_index(r))
        return 0;
    return at(r, index)->term;
}

static uint64_t
last_term(const struct raft *r)
{
    return raft_term_at(r, last_index(r));
}

static naos_time
random_timeout(struct raft *r)
{
    naos_duration t = r->cfg.election_timeout;
    return r->now + (naos_time)t + (naos_time)(r->io.random(r->io.ctx) %
                                               (uint32_t)t);
}

static void
reset_election(struct raft *r)
{
    r->election_deadline = random_timeout(r);
}

static struct raft_peer *
peer_get(struct raft *r, struct raft_id id)
{
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].id.v == id.v)
            return &r->peers[i];
    return NULL;
}

static bool
is_peer(const struct raft *r, struct raft_id id)
{
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].id.v == id.v)
            return true;
    return false;
}

/* in_lease: this node believes a leader is alive (it is one, or heard
 * from one within an election timeout). Vote and pre-vote requests of a
 * higher term are then ignored (thesis §9.6: a disruptive server cannot
 * depose a leader that a majority still hears). */
static bool
in_lease(const struct raft *r)
{
    if (!r->cfg.check_quorum)
        return false;
    if (r->role == RAFT_LEADER)
        return true;
    return r->leader.v != 0 &&
           r->now < r->last_heard_leader + (naos_time)r->cfg.election_timeout;
}

/* up_to_date: a log ending at (lterm, lindex) is at least as up to date as
 * ours (§5.4.1: term compared first). */
static bool
up_to_date(const struct raft *r, uint64_t lterm, uint64_t lindex)
{
#ifdef RAFT_MUTATION_VOTE_NO_UPTODATE
    (void)r;
    (void)lterm;
    (void)lindex;
    return true;
#else
    uint64_t t = last_term(r);
    return lterm > t || (lterm == t && lindex >= last_index(r));
#endif
}

/* ---- the configuration in effect ------------------------------------- */

/* conf_apply makes c the configuration in effect, set by the entry at
 * index (0: the base's). The peers follow it: one kept keeps its
 * progress; a new one starts as a new leader's would. */
static void
conf_apply(struct raft *r, const struct raft_conf *c, uint64_t index)
{
    struct raft_peer old[RAFT_MAX_PEERS];
    size_t nold = r->npeers;
    memcpy(old, r->peers, nold * sizeof *old);
    r->conf = *c;
    r->conf_index = index;
    r->self_voter = raft_conf_is_voter(c, r->cfg.id);
    r->quorum = c->nvoters / 2 + 1;
    r->npeers = 0;
    for (size_t i = 0; i < c->nvoters + c->nlearners; i++) {
        bool voter = i < c->nvoters;
        struct raft_id id = voter ? c->voters[i]
                                  : c->learners[i - c->nvoters];
        if (id.v == r->cfg.id.v)
            continue;
        struct raft_peer *p = &r->peers[r->npeers++];
        size_t k = 0;
        while (k < nold && old[k].id.v != id.v)
            k++;
        if (k < nold) {
            *p = old[k];
        } else {
            memset(p, 0, sizeof *p);
            p->id = id;
            p->next = r->base + (uint64_t)r->nlog + 1;
            p->heard = r->now; /* a grace of one election timeout */
        }
        p->voter = voter;
    }
    r->stats.conf_changes++;
}

/* conf_rescan: the configuration is the log's last CONFIG entry that
 * decodes, else the base's (after a truncation removed the one in
 * effect). */
static void
conf_rescan(struct raft *r)
{
    for (size_t i = r->nlog; i-- > 0;) {
        const struct raft_entry *e = &r->log[i];
        struct raft_conf c;
        if (e->type == RAFT_ENTRY_CONFIG &&
            raft_conf_decode(e->data, e->len, &c, NULL, 0) == NAOS_OK) {
            conf_apply(r, &c, e->index);
            return;
        }
    }
    conf_apply(r, &r->conf_base, 0);
}

/* conf_from_entry: a CONFIG entry just appended takes effect. One that
 * does not decode (never from a correct leader, which encodes what it
 * checked) is counted and leaves the configuration as it was. */
static void
conf_from_entry(struct raft *r, const struct raft_entry *e)
{
    struct raft_conf c;
    if (raft_conf_decode(e->data, e->len, &c, NULL, 0) != NAOS_OK) {
        r->stats.conf_bad++;
        return;
    }
    conf_apply(r, &c, e->index);
}

/* ---- log -------------------------------------------------------------- */

static int
log_reserve(struct raft *r, size_t n)
{
    if (r->nlog + n <= r->caplog)
        return NAOS_OK;
    size_t cap = r->caplog ? r->caplog : 64;
    while (cap < r->nlog + n)
        cap *= 2;
    struct raft_entry *l = naos_realloc(r->log, cap * sizeof(*l));
    if (l == NULL)
        return NAOS_ENOMEM;
    r->log = l;
    r->caplog = cap;
    return NAOS_OK;
}

/* log_append copies e (index must be last+1) into the log. */
static int
log_append(struct raft *r, const struct raft_entry *e)
{
    NAOS_ASSERT(e->index == last_index(r) + 1);
    NAOS_ASSERT(e->term >= last_term(r));
    if (log_reserve(r, 1) != NAOS_OK)
        return NAOS_ENOMEM;
    void *data = NULL;
    if (e->len) {
        data = naos_alloc(e->len);
        if (data == NULL)
            return NAOS_ENOMEM;
        memcpy(data, e->data, e->len);
    }
    struct raft_entry *d = &r->log[r->nlog++];
    *d = *e;
    d->data = data;
    r->log_bytes += e->len;
    if (e->type == RAFT_ENTRY_CONFIG)
        conf_from_entry(r, d); /* in effect once in the log (§4.1) */
    return NAOS_OK;
}

/* log_truncate deletes every entry with index >= from. Committed entries
 * are never removed (RAFT-LITE §4, log matching). */
static void
log_truncate(struct raft *r, uint64_t from)
{
#ifndef RAFT_MUTATION_TRUNCATE_SHORT
    NAOS_ASSERT(from > r->commit);
#endif
    NAOS_ASSERT(from >= 1);
    NAOS_ASSERT(from > r->base);
    while (last_index(r) >= from) {
        r->log_bytes -= r->log[r->nlog - 1].len;
        naos_free((void *)r->log[r->nlog - 1].data);
        r->nlog--;
    }
    if (r->stable >= from) {
        r->stable = from - 1;
        r->truncated = true;
    }
#ifdef RAFT_MUTATION_TRUNCATE_KEEPS_CONF
    bool rescan = false; /* planted bug: a truncated change stays */
#else
    bool rescan = r->conf_index >= from;
#endif
    if (rescan)
        conf_rescan(r); /* the change it made is undone */
    if (r->commit > last_index(r))
        r->commit = last_index(r); /* mutation builds only */
    r->stats.truncations++;
}

/* ---- outgoing messages ------------------------------------------------ */

/* send queues m (copied, with entries[first..first+n) of the log) for the
 * pending batch. On allocation failure the message is lost, which the
 * protocol tolerates like any network loss. */
static void
send_msg(struct raft *r, struct raft_msg *m, uint64_t first, size_t n)
{
    m->cluster_id = r->cfg.cluster_id;
    m->from = r->cfg.id;
    if (r->nout == r->capout) {
        size_t cap = r->capout ? r->capout * 2 : 16;
        struct raft_msg *o = naos_realloc(r->out, cap * sizeof(*o));
        if (o == NULL)
            return;
        r->out = o;
        struct raft_out_block *b =
            naos_realloc(r->outb, cap * sizeof(*b));
        if (b == NULL)
            return;
        r->outb = b;
        r->capout = cap;
    }
    struct raft_entry *ents = NULL;
    if (n) {
        size_t bytes = n * sizeof(*ents);
        for (size_t i = 0; i < n; i++)
            bytes += at(r, first + i)->len;
        ents = naos_alloc(bytes);
        if (ents == NULL)
            return;
        char *cur = (char *)(ents + n);
        for (size_t i = 0; i < n; i++) {
            const struct raft_entry *e = at(r, first + i);
            ents[i] = *e;
            if (e->len) {
                memcpy(cur, e->data, e->len);
                ents[i].data = cur;
                cur += e->len;
            } else {
                ents[i].data = NULL;
            }
        }
    }
    m->entries = ents;
    m->nentries = n;
    r->outb[r->nout].ents = ents;
    r->out[r->nout++] = *m;
    r->stats.sent[m->type]++;
}

static void
out_free(struct raft *r)
{
    for (size_t i = 0; i < r->nout; i++)
        naos_free(r->outb[i].ents);
    r->nout = 0;
}

/* send_append sends peer an APPEND from its next index: up to
 * max_entries_per_msg entries and max_msg_bytes of data (at least one
 * entry if any), or none (a heartbeat that still checks prev). */
static void
send_append(struct raft *r, struct raft_peer *p)
{
    /* Never from below the compacted prefix: every voter holds it (it is
     * at most `held`), so prev = base always matches there or lies below
     * the follower's commit index (handle_append). */
    if (p->next <= r->base)
        p->next = r->base + 1;
    uint64_t prev = p->next - 1;
    NAOS_ASSERT(prev <= last_index(r));
    size_t n = 0, bytes = 0;
    /* a peer behind the base gets heartbeats only (it cannot take
     * entries until it has installed a snapshot) */
    while (!p->behind && p->next + n <= last_index(r) &&
           n < r->cfg.max_entries_per_msg) {
        size_t len = at(r, p->next + n)->len;
        if (n > 0 && bytes + len > r->cfg.max_msg_bytes)
            break;
        bytes += len;
        n++;
    }
    struct raft_msg m = {.type = RAFT_MSG_APPEND,
                         .to = p->id,
                         .term = r->term,
                         .prev_index = prev,
                         .prev_term = raft_term_at(r, prev),
                         .commit = r->commit,
                         .read_ctx = r->read_round,
                         .held = r->held};
    send_msg(r, &m, p->next, n);
    p->inflight = n > 0;
    p->commit_sent = r->commit;
}

static void
broadcast_append(struct raft *r)
{
    for (size_t i = 0; i < r->npeers; i++)
        send_append(r, &r->peers[i]);
}

/* ---- role changes ----------------------------------------------------- */

static void reads_fail(struct raft *r);

static void
become_follower(struct raft *r, uint64_t term, struct raft_id leader)
{
    enum raft_role old = r->role;
    if (old == RAFT_LEADER)
        reads_fail(r); /* a read is confirmed by a leader, or not at all */
    if (term > r->term) {
        r->term = term;
        r->vote = 0; /* the only place a vote is cleared (P3) */
    }
#ifdef RAFT_MUTATION_CLEAR_VOTE_SAME_TERM
    else if (r->role != RAFT_FOLLOWER) {
        r->vote = 0;
    }
#endif
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    if (leader.v)
        r->last_heard_leader = r->now;
    reset_election(r);
    emit_role(r, old);
}

static void become_leader(struct raft *r);

static void
tally_reset(struct raft *r)
{
    for (size_t i = 0; i < r->npeers; i++)
        r->peers[i].granted = r->peers[i].rejected = false;
}

/* (planted bug LEARNERS_ELECT: learners are asked for votes and counted) */
#ifdef RAFT_MUTATION_LEARNERS_ELECT
#define RAFT_LEARNERS_ELECT true
#else
#define RAFT_LEARNERS_ELECT false
#endif

/* tally: the voters that granted (or refused) this (pre-)vote; a
 * candidate is a voter and grants itself. */
static size_t
tally(const struct raft *r, bool granted)
{
    size_t n = granted && r->self_voter ? 1 : 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].voter || RAFT_LEARNERS_ELECT)
            n += granted ? r->peers[i].granted : r->peers[i].rejected;
    return n;
}

static void
become_candidate(struct raft *r)
{
    enum raft_role old = r->role;
    r->term++;
    r->vote = r->cfg.id.v; /* persisted before the VOTEs leave (P2) */
    r->role = RAFT_CANDIDATE;
    r->leader.v = 0;
    r->stats.elections++;
    tally_reset(r);
    reset_election(r);
    emit_role(r, old);
    if (tally(r, true) >= r->quorum) {
        become_leader(r);
        return;
    }
    for (size_t i = 0; i < r->npeers; i++) {
        if (!r->peers[i].voter && !RAFT_LEARNERS_ELECT)
            continue; /* a learner has no vote */
        struct raft_msg m = {.type = RAFT_MSG_VOTE,
                             .to = r->peers[i].id,
                             .term = r->term,
                             .last_index = last_index(r),
                             .last_term = last_term(r)};
        send_msg(r, &m, 0, 0);
    }
}

/* become_precandidate: a pre-vote round (thesis §9.6) at term+1 without
 * touching term or vote: nothing to persist (P2). */
static void
become_precandidate(struct raft *r)
{
    enum raft_role old = r->role;
    r->role = RAFT_PRECANDIDATE;
    r->leader.v = 0;
    r->stats.prevotes++;
    tally_reset(r);
    reset_election(r);
    emit_role(r, old);
    if (tally(r, true) >= r->quorum) {
        become_candidate(r);
        return;
    }
    for (size_t i = 0; i < r->npeers; i++) {
        if (!r->peers[i].voter && !RAFT_LEARNERS_ELECT)
            continue;
        struct raft_msg m = {.type = RAFT_MSG_PREVOTE,
                             .to = r->peers[i].id,
                             .term = r->term + 1,
                             .last_index = last_index(r),
                             .last_term = last_term(r)};
        send_msg(r, &m, 0, 0);
    }
}

static void
become_leader(struct raft *r)
{
    enum raft_role old = r->role;
    r->role = RAFT_LEADER;
    r->leader = r->cfg.id;
    r->stats.leader_terms++;
    for (size_t i = 0; i < r->npeers; i++) {
        struct raft_peer *p = &r->peers[i];
        p->next = last_index(r) + 1;
        p->match = 0;
        p->inflight = false;
        p->behind = false;
        p->heard = r->now; /* a grace of one election timeout */
        p->read_acked = 0;
    }
    /* A no-op of the new term, so entries of earlier terms commit through
     * it (§5.4.2, Figure 8). */
    struct raft_entry noop = {.index = last_index(r) + 1,
                              .term = r->term,
                              .type = RAFT_ENTRY_NOOP};
    r->term_start = noop.index;
    if (log_append(r, &noop) != NAOS_OK) {
        /* Out of memory: lead nobody rather than lead without the no-op. */
        r->role = RAFT_FOLLOWER;
        r->leader.v = 0;
        reset_election(r);
        emit_role(r, old);
        return;
    }
    r->heartbeat_deadline = r->now + (naos_time)r->cfg.heartbeat_interval;
    emit_role(r, old);
    broadcast_append(r);
}

void
raft_campaign(struct raft *r, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role == RAFT_LEADER || !r->self_voter)
        return; /* only a voter stands */
    if (r->cfg.pre_vote)
        become_precandidate(r);
    else
        become_candidate(r);
}

/* ---- ReadIndex (thesis §6.4) ------------------------------------------ */

static void
read_done(struct raft *r, uint64_t ctx, uint64_t index, bool ok)
{
    /* room: nreads + ndone <= RAFT_MAX_READS (raft_read_index) */
    NAOS_ASSERT(r->ndone < RAFT_MAX_READS);
    r->done[r->ndone++] = (struct raft_read_result){ctx, index, ok};
    if (ok)
        r->stats.reads_ok++;
    else
        r->stats.reads_failed++;
}

static void
reads_fail(struct raft *r)
{
    for (size_t i = 0; i < r->nreads; i++)
        read_done(r, r->reads[i].ctx, 0, false);
    r->nreads = 0;
}

/* reads_update: reads waiting for a commit of this term take the commit
 * index now and start a round (one broadcast for all of them); reads whose
 * round a majority answered are released, in order. */
static void
reads_update(struct raft *r)
{
    if (r->role != RAFT_LEADER || r->nreads == 0)
        return;
    bool started = false;
    if (r->commit >= r->term_start) {
        for (size_t i = 0; i < r->nreads; i++) {
            struct raft_read *rd = &r->reads[i];
            if (rd->round != 0)
                continue;
            if (!started)
                r->read_round++;
            started = true;
            rd->index = r->commit;
            rd->round = r->read_round;
        }
    }
    size_t keep = 0;
    for (size_t i = 0; i < r->nreads; i++) {
        struct raft_read *rd = &r->reads[i];
        size_t acks = r->self_voter; /* the leader itself */
        for (size_t j = 0; rd->round && j < r->npeers; j++)
            acks += r->peers[j].voter && r->peers[j].read_acked >= rd->round;
#ifdef RAFT_MUTATION_READ_NO_QUORUM
        /* Planted bug: a leader's word is enough (a lease without a
         * clock) */
        acks = r->quorum;
#endif
        if (rd->round != 0 && acks >= r->quorum)
            read_done(r, rd->ctx, rd->index, true);
        else
            r->reads[keep++] = *rd;
    }
    r->nreads = keep;
    if (started && r->nreads > 0)
        broadcast_append(r); /* the round's heartbeat, now */
}

int
raft_read_index(struct raft *r, uint64_t ctx, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role != RAFT_LEADER)
        return not_leader(r);
    if (r->nreads + r->ndone >= RAFT_MAX_READS) {
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "raft: %d reads pending (max)", RAFT_MAX_READS);
        return NAOS_EBUSY;
    }
    r->reads[r->nreads++] = (struct raft_read){ctx, 0, 0};
    reads_update(r);
    return NAOS_OK;
}

/* ---- commit ----------------------------------------------------------- */

/* maybe_commit: the leader's commit index becomes the highest index stored
 * on a majority, counting its own log only up to what is synced (P6), if
 * that entry is of the current term (§5.4.2). */
/* update_held (leader): every voter holds the log up to the lowest match
 * of its peers, and the leader itself up to its commit index (P6: it
 * counts only its synced log); never above the commit index. */
static void
update_held(struct raft *r)
{
    uint64_t h = r->commit;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].match < h)
            h = r->peers[i].match;
    if (h > r->held)
        r->held = h;
}

static void
maybe_commit(struct raft *r)
{
    uint64_t m[RAFT_MAX_VOTERS];
    size_t n = 0;
    if (r->self_voter) /* a leader being removed does not count itself */
        m[n++] = r->stable;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].voter && n < RAFT_MAX_VOTERS)
            m[n++] = r->peers[i].match;
    if (n < r->quorum)
        return;
    /* sort descending (n <= 9) */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && m[j] > m[j - 1]; j--) {
            uint64_t t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
    uint64_t k = m[r->quorum - 1];
    if (k <= r->commit)
        return;
#ifndef RAFT_MUTATION_COUNT_PREV_TERM
    if (raft_term_at(r, k) != r->term)
        return;
#endif
    r->commit = k;
    update_held(r);
    reads_update(r);
    /* Followers learn the new commit index now rather than at the next
     * heartbeat (up to 50 ms later): a follower that waits to apply an
     * entry it relayed answers its client sooner. A peer with an append
     * in flight gets it with its answer's follow-up (commit_sent). */
    for (size_t i = 0; i < r->npeers; i++)
        if (!r->peers[i].inflight)
            send_append(r, &r->peers[i]);
#ifndef RAFT_MUTATION_REMOVED_LEADER_STAYS
    /* (planted bug REMOVED_LEADER_STAYS: it goes on leading) */
    if (!r->self_voter && r->commit >= r->conf_index) {
        /* its removal is committed (and the others told so, just above):
         * it stops leading (thesis §4.2.2); they elect one of their own */
        become_follower(r, r->term, (struct raft_id){0});
    }
#endif
}

/* ---- message handlers ------------------------------------------------- */

static void
handle_prevote(struct raft *r, const struct raft_msg *m)
{
    /* m->term is the term the sender would stand in. Grant if it is above
     * ours, or equal while we are free to vote, and its log is up to date;
     * our own term and vote stay as they are. */
    bool can = r->vote == m->from.v ||
               (r->vote == 0 && r->leader.v == 0) || m->term > r->term;
    bool ok = can && up_to_date(r, m->last_term, m->last_index);
    struct raft_msg resp = {.type = RAFT_MSG_PREVOTE_RESP,
                            .to = m->from,
                            .term = ok ? m->term : r->term,
                            .granted = ok};
    send_msg(r, &resp, 0, 0);
}

static void
handle_vote(struct raft *r, const struct raft_msg *m)
{
    /* m->term == r->term here. One vote per term (§5.2). */
    bool can = r->vote == m->from.v || (r->vote == 0 && r->leader.v == 0);
    bool ok = can && up_to_date(r, m->last_term, m->last_index);
    if (ok) {
        r->vote = m->from.v; /* persisted before the answer leaves (P1) */
        reset_election(r);
    }
    struct raft_msg resp = {.type = RAFT_MSG_VOTE_RESP,
                            .to = m->from,
                            .term = r->term,
                            .granted = ok};
    send_msg(r, &resp, 0, 0);
}

static void
handle_vote_resp(struct raft *r, const struct raft_msg *m, bool pre)
{
    struct raft_peer *p = peer_get(r, m->from);
    if (p == NULL || (!p->voter && !RAFT_LEARNERS_ELECT))
        return; /* only voters elect */
    if (pre) {
        if (r->role != RAFT_PRECANDIDATE)
            return;
        if (m->granted && m->term != r->term + 1)
            return;
    } else if (r->role != RAFT_CANDIDATE || m->term != r->term) {
        return;
    }
    if (m->granted)
        p->granted = true;
    else
        p->rejected = true;
    if (tally(r, true) >= r->quorum) {
        if (pre)
            become_candidate(r);
        else
            become_leader(r);
    } else if (tally(r, false) >= r->quorum) {
        become_follower(r, r->term, (struct raft_id){0});
    }
}

static void
append_reply(struct raft *r, const struct raft_msg *m, bool ok,
             uint64_t match)
{
    struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP,
                            .to = m->from,
                            .term = r->term,
                            .success = ok,
                            .match_index = ok ? match : 0,
                            .read_ctx = m->read_ctx};
    if (!ok) {
        /* Conflict hint: our largest index <= prev_index whose term is <=
         * prev_term; no entry above it can match the leader's log. */
        uint64_t h = m->prev_index < last_index(r) ? m->prev_index
                                                   : last_index(r);
        while (h > 0 && raft_term_at(r, h) > m->prev_term)
            h--;
        resp.reject_index = m->prev_index;
        resp.hint_index = h;
        resp.hint_term = raft_term_at(r, h);
    }
    send_msg(r, &resp, 0, 0);
}

/* learn_held (follower): the leader's word on what every voter holds,
 * taken up to our own commit index (what our log surely agrees on). */
static void
learn_held(struct raft *r, const struct raft_msg *m)
{
    uint64_t h = m->held < r->commit ? m->held : r->commit;
    if (h > r->held)
        r->held = h;
}

static void
handle_append(struct raft *r, const struct raft_msg *m)
{
    uint64_t verified = m->prev_index + m->nentries;
#ifdef RAFT_MUTATION_TRUNCATE_SHORT
    /* Planted bug: a short (stale or duplicate) APPEND cuts the log. */
    if (m->prev_index <= last_index(r) &&
        raft_term_at(r, m->prev_index) == m->prev_term &&
        verified < last_index(r))
        log_truncate(r, verified + 1);
#endif
    if (m->prev_index < r->commit) {
        /* Everything up to our commit is committed, hence in the leader's
         * log: say so rather than re-check an old (maybe stale) prefix. */
        learn_held(r, m);
        append_reply(r, m, true, r->commit);
        return;
    }
    if (m->prev_index > last_index(r) ||
        raft_term_at(r, m->prev_index) != m->prev_term) {
        append_reply(r, m, false, 0);
        return;
    }
    for (size_t i = 0; i < m->nentries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index <= last_index(r)) {
            if (raft_term_at(r, e->index) == e->term)
                continue; /* have it: never truncate on a short append */
            log_truncate(r, e->index); /* a real conflict */
        }
        if (log_append(r, e) != NAOS_OK) {
            /* Out of memory: answer for what we verified so far. */
            verified = e->index - 1;
            break;
        }
    }
    /* Follower commit: only what this message verified (RAFT-LITE §4). */
    uint64_t c = m->commit < verified ? m->commit : verified;
    if (c > r->commit)
        r->commit = c;
    learn_held(r, m);
    append_reply(r, m, true, verified);
}

static void
handle_append_resp(struct raft *r, const struct raft_msg *m)
{
    if (r->role != RAFT_LEADER)
        return;
    struct raft_peer *p = peer_get(r, m->from);
    p->heard = r->now;
    if (m->read_ctx > p->read_acked && m->read_ctx <= r->read_round) {
        /* it answered as a follower of this term after the round began */
        p->read_acked = m->read_ctx;
        reads_update(r);
    }
    if (m->success) {
        if (m->match_index > last_index(r)) {
            drop(r, m, "match index beyond the leader's log");
            return;
        }
        if (m->match_index <= p->match)
            return; /* stale or duplicate: answering it would echo it */
        p->inflight = false;
        p->behind = false;
        p->match = m->match_index;
        if (p->next < p->match + 1)
            p->next = p->match + 1;
        maybe_commit(r);
        update_held(r);
        /* more to send, or a commit index it has not been told: the
         * commit may have moved while its append was in flight, which
         * maybe_commit left it out of (it would otherwise learn it at
         * the next heartbeat, up to 50 ms later); unless maybe_commit
         * has just sent it entries (then in flight) */
        if (!p->inflight &&
            (p->next <= last_index(r) || p->commit_sent < r->commit))
            send_append(r, p);
        return;
    }
    if (m->reject_index + 1 != p->next)
        return; /* stale: answers an APPEND sent before the last move */
    if (m->hint_index > m->reject_index) {
        drop(r, m, "conflict hint above the rejected index");
        return;
    }
    uint64_t idx = m->hint_index;
    while (idx > 0 && raft_term_at(r, idx) > m->hint_term)
        idx--;
    /* (below the base raft_term_at is 0: the walk stops there) */
    uint64_t next = idx + 1;
    if (next < p->match + 1)
        next = p->match + 1;
    if (next <= r->base) {
        /* From the base on: it holds the base (or commits past it) unless
         * its log ends below what we compacted, or disagrees at the base
         * (an old leader's suffix the base fell into: the walk went below
         * it): then it needs a snapshot, which the driver sends
         * (raft_peers_behind). Meanwhile it is probed at the heartbeats
         * only: answering each of its rejections at once would bounce
         * messages at network speed. */
        next = r->base + 1;
        if (idx < r->base && p->match < r->base) {
            r->stats.behind_base++;
            p->behind = true;
            p->next = next;
            p->inflight = false;
            return;
        }
    }
    p->next = next;
    p->inflight = false;
    send_append(r, p);
}

/* invalid: why m cannot be handled (NULL: it can). Checks every field
 * the handlers rely on. */
static const char *
invalid(const struct raft *r, const struct raft_msg *m)
{
    if (m->type < RAFT_MSG_PREVOTE || m->type > RAFT_MSG_TYPE_MAX)
        return "unknown type";
    if (m->cluster_id != r->cfg.cluster_id)
        return "foreign cluster";
    if (m->to.v != r->cfg.id.v)
        return "addressed to another node";
    if (m->from.v == 0 || m->from.v == r->cfg.id.v)
        return "sender is this node, or 0";
    /* requests from any sender of the cluster (a leader a lagging
     * follower's configuration does not name yet); answers from members */
    if ((m->type == RAFT_MSG_PREVOTE_RESP || m->type == RAFT_MSG_VOTE_RESP ||
         m->type == RAFT_MSG_APPEND_RESP) &&
        !is_peer(r, m->from))
        return "answer from a non-member";
    if (m->term == 0)
        return "term 0";
    if (m->type != RAFT_MSG_APPEND) {
        if (m->nentries)
            return "entries outside an append";
        if ((m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE) &&
            (m->last_term > m->term ||
             (m->last_index == 0) != (m->last_term == 0)))
            return "last (index, term) inconsistent";
        return NULL;
    }
    if (m->nentries > r->cfg.max_entries_per_msg)
        return "too many entries";
    if (m->nentries && m->entries == NULL)
        return "entries missing";
    if (m->prev_index > UINT64_MAX / 2)
        return "prev index out of range";
    if ((m->prev_index == 0) != (m->prev_term == 0) || m->prev_term > m->term)
        return "prev (index, term) inconsistent";
    uint64_t t = m->prev_term;
    size_t bytes = 0;
    for (size_t i = 0; i < m->nentries; i++) {
        const struct raft_entry *e = &m->entries[i];
        if (e->index != m->prev_index + 1 + i)
            return "entries not contiguous";
        if (e->term < t || e->term > m->term)
            return "entry terms out of order";
        t = e->term;
        if (e->len > r->cfg.max_entry_size)
            return "entry too big";
        if (e->len && e->data == NULL)
            return "entry data missing";
        bytes += e->len;
    }
    if (m->nentries > 1 && bytes > r->cfg.max_msg_bytes)
        return "append too big";
    return NULL;
}

void
raft_on_message(struct raft *r, const struct raft_msg *m, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    const char *why = invalid(r, m);
    if (why) {
        drop(r, m, why);
        return;
    }
    r->stats.recv[m->type]++;

    if (m->term > r->term) {
        bool request = m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE;
        if (request && in_lease(r)) {
            /* A leader is alive as far as we know: don't let a disruptive
             * node depose it (thesis §9.6). No answer. */
            r->stats.stale++;
            return;
        }
        if (m->type == RAFT_MSG_PREVOTE ||
            (m->type == RAFT_MSG_PREVOTE_RESP && m->granted)) {
            /* pre-vote terms are hypothetical: no step-down */
        } else {
            struct raft_id lead = {0};
            if (m->type == RAFT_MSG_APPEND)
                lead = m->from;
            become_follower(r, m->term, lead);
        }
    } else if (m->term < r->term) {
        r->stats.stale++;
        if (m->type == RAFT_MSG_APPEND) {
            /* A deposed leader: tell it our term so it steps down. Not
             * an answer about the log (reject_index 0): should its sender
             * lead our term by the time it arrives, it must not take it
             * for a conflict at prev_index with no hint. */
            struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP,
                                    .to = m->from,
                                    .term = r->term};
            send_msg(r, &resp, 0, 0);
        } else if (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE) {
            struct raft_msg resp = {.type = m->type == RAFT_MSG_PREVOTE
                                                ? RAFT_MSG_PREVOTE_RESP
                                                : RAFT_MSG_VOTE_RESP,
                                    .to = m->from,
                                    .term = r->term};
            send_msg(r, &resp, 0, 0);
        }
        return;
    }

    switch (m->type) {
    case RAFT_MSG_PREVOTE:
        handle_prevote(r, m);
        break;
    case RAFT_MSG_VOTE:
        handle_vote(r, m);
        break;
    case RAFT_MSG_PREVOTE_RESP:
        handle_vote_resp(r, m, true);
        break;
    case RAFT_MSG_VOTE_RESP:
        handle_vote_resp(r, m, false);
        break;
    case RAFT_MSG_APPEND:
        if (r->role == RAFT_LEADER) {
            drop(r, m, "append from another leader of our term");
            return;
        }
        if (r->role != RAFT_FOLLOWER || r->leader.v != m->from.v)
            become_follower(r, r->term, m->from); /* vote kept (P3) */
        r->last_heard_leader = now;
        reset_election(r);
        handle_append(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        handle_append_resp(r, m);
        break;
    default:
        NAOS_ASSERT(0);
    }
}

/* ---- timers ----------------------------------------------------------- */

naos_time
raft_next_deadline(const struct raft *r)
{
    if (r->role != RAFT_LEADER)
        return r->election_deadline;
    return r->heartbeat_deadline;
}

void
raft_tick(struct raft *r, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role != RAFT_LEADER) {
        if (now >= r->election_deadline) {
            if (r->self_voter)
                raft_campaign(r, now);
            else
                reset_election(r); /* a learner never stands */
        }
        return;
    }
    if (now < r->heartbeat_deadline)
        return;
    if (r->cfg.check_quorum) {
        /* Check-quorum at every heartbeat: step down once fewer than a
         * majority (self included) answered within an election timeout,
         * so a cut-off leader stops within about T (RAFT-LITE L4). */
        size_t active = r->self_voter;
        for (size_t i = 0; i < r->npeers; i++)
            active += r->peers[i].voter &&
                      now < r->peers[i].heard +
                                (naos_time)r->cfg.election_timeout;
        if (active < r->quorum) {
            r->stats.stepdowns_quorum++;
            become_follower(r, r->term, (struct raft_id){0});
            return;
        }
    }
    {
        r->heartbeat_deadline = now + (naos_time)r->cfg.heartbeat_interval;
        broadcast_append(r);
    }
}

void
raft_on_conn_closed(struct raft *r, struct raft_id peer, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role != RAFT_FOLLOWER || peer.v == 0 || r->leader.v != peer.v)
        return;
    r->leader.v = 0; /* no lease for a leader whose process is gone */
    /* Rank among the other voters by id: the first stands at once, the
     * k-th k heartbeat intervals later. Every survivor sees the close at
     * about the same moment; standing all at once splits the vote (in a
     * 3-node cluster always: each votes for itself) and costs a whole
     * randomized election timeout. */
    if (!r->self_voter)
        return;
    unsigned rank = 0;
    for (size_t i = 0; i < r->conf.nvoters; i++)
        rank += r->conf.voters[i].v != peer.v &&
                r->conf.voters[i].v < r->cfg.id.v;
    if (rank == 0) {
        raft_campaign(r, now);
        return;
    }
    r->election_deadline =
        now + (naos_time)rank * (naos_time)r->cfg.heartbeat_interval;
}

/* ---- proposals -------------------------------------------------------- */

static int propose(struct raft *r, uint32_t type, uint32_t version,
                   const void *data, size_t len, uint64_t *index);

int
raft_propose(struct raft *r, uint32_t type, uint32_t version,
             const void *data, size_t len, naos_time now, uint64_t *index)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (type == 0 || type == RAFT_ENTRY_NOOP || type == RAFT_ENTRY_CONFIG) {
        /* a configuration only through raft_change, one server at a time */
        snprintf(r->errmsg, sizeof(r->errmsg), "raft: entry type %u",
                 (unsigned)type);
        return NAOS_EINVAL;
    }
    return propose(r, type, version, data, len, index);
}

static int
propose(struct raft *r, uint32_t type, uint32_t version, const void *data,
        size_t len, uint64_t *index)
{
    if (len > r->cfg.max_entry_size) {
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "raft: entry of %zu bytes (max %zu)", len,
                 r->cfg.max_entry_size);
        return NAOS_ETOOBIG;
    }
    if (r->role != RAFT_LEADER)
        return not_leader(r);
    if (last_index(r) - r->commit >= r->cfg.max_uncommitted) {
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "raft: %llu entries waiting for commit (max %zu)",
                 (unsigned long long)(last_index(r) - r->commit),
                 r->cfg.max_uncommitted);
        return NAOS_EBUSY;
    }
    if (r->log_bytes + len > r->cfg.max_log_bytes) {
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "the cluster's log holds %zu bytes of commands not "
                 "compacted yet and its budget is %zu (applied to %llu of "
                 "%llu)", r->log_bytes, r->cfg.max_log_bytes,
                 (unsigned long long)r->applied,
                 (unsigned long long)last_index(r));
        return NAOS_EBUSY;
    }
    struct raft_entry e = {.index = last_index(r) + 1,
                           .term = r->term,
                           .type = type,
                           .version = version,
                           .data = data,
                           .len = len};
    if (log_append(r, &e) != NAOS_OK) {
        snprintf(r->errmsg, sizeof(r->errmsg), "raft: out of memory");
        return NAOS_ENOMEM;
    }
    for (size_t i = 0; i < r->npeers; i++)
        if (!r->peers[i].inflight)
            send_append(r, &r->peers[i]);
    *index = e.index;
    return NAOS_OK;
}

/* ---- ready / advance -------------------------------------------------- */

/* hard_now: the hard state this batch persists. */
static struct raft_hard
hard_now(const struct raft *r)
{
    struct raft_hard h = {r->term, r->vote, r->commit};
#ifdef RAFT_MUTATION_FORGET_VOTE
    /* Planted bug: the vote never reaches the disk. */
    h.vote = r->persisted.term == r->term ? r->persisted.vote : 0;
#endif
    return h;
}

static bool
hard_differs(const struct raft *r)
{
    struct raft_hard h = hard_now(r);
    return h.term != r->persisted.term || h.vote != r->persisted.vote ||
           h.commit != r->persisted.commit;
}

/* apply_limit: the last index the batch hands to the applier. */
static uint64_t
apply_limit(const struct raft *r)
{
#ifdef RAFT_MUTATION_APPLY_BEFORE_COMMIT
    /* Planted bug: apply whatever is in the log. */
    return last_index(r);
#else
    return r->commit;
#endif
}

bool
raft_has_ready(const struct raft *r)
{
    return hard_differs(r) || r->truncated || r->stable < last_index(r) ||
           r->nout > 0 || r->applied < apply_limit(r) || r->ndone > 0;
}

void
raft_ready(struct raft *r, struct raft_ready *rd)
{
    NAOS_ASSERT(!r->in_ready);
    memset(rd, 0, sizeof(*rd));
    r->in_ready = true;
    rd->hard = hard_now(r);
    rd->hard_changed = hard_differs(r);
    if (r->truncated)
        rd->truncate_from = r->stable + 1;
    if (r->stable < last_index(r)) {
        rd->entries = at(r, r->stable + 1);
        rd->nentries = (size_t)(last_index(r) - r->stable);
    }
    rd->msgs = r->out;
    rd->nmsgs = r->nout;
    uint64_t lim = apply_limit(r);
    if (r->applied < lim) {
        rd->committed = at(r, r->applied + 1);
        rd->ncommitted = (size_t)(lim - r->applied);
    }
    rd->reads = r->done;
    rd->nreads = r->ndone;
    r->ready_ndone = r->ndone;
    r->ready_hard = rd->hard;
    r->ready_last = last_index(r);
    r->ready_applied = lim > r->applied ? lim : r->applied;
}

void
raft_advance(struct raft *r, naos_time now)
{
    NAOS_ASSERT(r->in_ready);
    r->in_ready = false;
    r->now = now;
    r->persisted = r->ready_hard;
    r->stable = r->ready_last;
    r->truncated = false;
    r->applied = r->ready_applied;
    out_free(r);
    /* outcomes added since raft_ready (none today) move up */
    memmove(r->done, r->done + r->ready_ndone,
            (r->ndone - r->ready_ndone) * sizeof(*r->done));
    r->ndone -= r->ready_ndone;
    r->ready_ndone = 0;
    if (r->role == RAFT_LEADER)
        maybe_commit(r); /* our own log now counts (P6) */
}

/* ---- lifecycle -------------------------------------------------------- */

static int
restore_check(const struct raft_restore *rs, char *errbuf, size_t errlen)
{
    uint64_t t = 0, first = rs->first_index ? rs->first_index : 1;
    if (first > 1 && rs->nentries == 0)
        return errf(errbuf, errlen, "raft: a compacted log (from %llu) "
                    "keeps its last entry", (unsigned long long)first);
    if (first > 1 && rs->applied < first)
        return errf(errbuf, errlen, "raft: the log starts at %llu but only "
                    "%llu entries are applied", (unsigned long long)first,
                    (unsigned long long)rs->applied);
    for (size_t i = 0; i < rs->nentries; i++) {
        const struct raft_entry *e = &rs->entries[i];
        if (e->index != first + i)
            return errf(errbuf, errlen, "raft: restored entry %zu has "
                        "index %llu", i, (unsigned long long)e->index);
        if (e->term < t || e->term > rs->hard.term || e->term == 0)
            return errf(errbuf, errlen, "raft: restored entry %llu has "
                        "term %llu", (unsigned long long)e->index,
                        (unsigned long long)e->term);
        if (e->len > RAFT_MAX_ENTRY_SIZE || (e->len && e->data == NULL))
            return errf(errbuf, errlen, "raft: restored entry %llu has "
                        "%zu bytes", (unsigned long long)e->index, e->len);
        t = e->term;
    }
    if (rs->hard.commit > first - 1 + rs->nentries)
        return errf(errbuf, errlen, "raft: commit %llu beyond the log (%llu)",
                    (unsigned long long)rs->hard.commit,
                    (unsigned long long)(first - 1 + rs->nentries));
    if (rs->applied > rs->hard.commit)
        return errf(errbuf, errlen, "raft: applied %llu beyond commit %llu",
                    (unsigned long long)rs->applied,
                    (unsigned long long)rs->hard.commit);
    return NAOS_OK;
}

int
raft_alloc(struct raft **out, const struct raft_config *c,
           const struct raft_io *io, const struct raft_restore *rs,
           naos_time now, char *errbuf, size_t errlen)
{
    int rv = raft_config_validate(c, errbuf, errlen);
    if (rv != NAOS_OK)
        return rv;
    if (io == NULL || io->version != RAFT_IO_VERSION || io->random == NULL)
        return errf(errbuf, errlen, "raft: io version or random missing");
    struct raft_restore zero = RAFT_RESTORE_ZERO;
    if (rs == NULL)
        rs = &zero;
    rv = restore_check(rs, errbuf, errlen);
    if (rv != NAOS_OK)
        return rv;
    struct raft_conf founding, conf;
    memset(&founding, 0, sizeof founding);
    memcpy(founding.voters, c->voters, c->nvoters * sizeof(*c->voters));
    founding.nvoters = c->nvoters;
    conf = rs->conf != NULL ? *rs->conf : founding;
    rv = raft_conf_validate(&conf, errbuf, errlen);
    if (rv != NAOS_OK)
        return rv;
    struct raft *r = naos_alloc(sizeof(*r));
    if (r == NULL)
        return NAOS_ENOMEM;
    r->cfg = *c;
    r->cfg.voters = NULL; /* borrowed: the configuration is r->conf */
    r->cfg.nvoters = 0;
    r->io = *io;
    r->now = now;
    size_t from = 0;
    if (rs->first_index > 1) {
        /* A compacted log: its first entry (applied, and held by every
         * voter, or it would not have been compacted up to it) becomes the
         * base, whose term the core answers for (raft_term_at); the
         * entries after it are the log. */
        r->base = rs->first_index;
        r->base_term = rs->entries[0].term;
        from = 1;
    }
    /* the restored configuration, then the CONFIG entries after it */
    r->conf_founding = founding;
    r->conf_base = conf;
    conf_apply(r, &conf, 0);
    r->stats.conf_changes = 0;
    for (size_t i = from; i < rs->nentries; i++)
        if (log_append(r, &rs->entries[i]) != NAOS_OK)
            goto err_after_alloc;
    r->term = rs->hard.term;
    r->vote = rs->hard.vote;
    r->commit = rs->hard.commit;
    /* what we know every voter holds: a lone voter (the configuration in
     * effect is this node alone, not only the founding one: a cluster
     * grown from a lone founder founded with one) its committed log,
     * others the compacted base (the leader tells more) */
    bool lone = r->conf.nvoters == 1 && r->conf.nlearners == 0 &&
                r->conf.voters[0].v == c->id.v;
    r->held = lone ? r->commit : r->base;
    r->applied = rs->applied;
    r->persisted = rs->hard;
    r->stable = last_index(r);
    r->role = RAFT_FOLLOWER;
    reset_election(r);
    *out = r;
    return NAOS_OK;

err_after_alloc:
    raft_free(r);
    return NAOS_ENOMEM;
}

void
raft_free(struct raft *r)
{
    if (r == NULL)
        return;
    out_free(r);
    naos_free(r->out);
    naos_free(r->outb);
    for (size_t i = 0; i < r->nlog; i++)
        naos_free((void *)r->log[i].data);
    naos_free(r->log);
    /* (entries below base were freed by raft_compact) */
    naos_free(r);
}

/* ---- inspection ------------------------------------------------------- */

enum raft_role
raft_role_get(const struct raft *r)
{
    return r->role;
}

uint64_t
raft_term(const struct raft *r)
{
    return r->term;
}

uint64_t
raft_vote(const struct raft *r)
{
    return r->vote;
}

struct raft_id
raft_leader(const struct raft *r)
{
    return r->leader;
}

uint64_t
raft_commit(const struct raft *r)
{
    return r->commit;
}

uint64_t
raft_applied(const struct raft *r)
{
    return r->applied;
}

uint64_t
raft_last_index(const struct raft *r)
{
    return last_index(r);
}

uint64_t
raft_last_term(const struct raft *r)
{
    return last_term(r);
}

const struct raft_entry *
raft_entry_at(const struct raft *r, uint64_t index)
{
    if (index <= r->base || index > last_index(r))
        return NULL;
    return at(r, index);
}

uint64_t
raft_held(const struct raft *r)
{
    return r->held;
}

uint64_t
raft_first_index(const struct raft *r)
{
    return r->base + 1;
}

int
raft_compact(struct raft *r, uint64_t below)
{
    NAOS_ASSERT(!r->in_ready);
    if (below > r->applied + 1 || below > last_index(r))
        return errf(r->errmsg, sizeof(r->errmsg), "raft: cannot compact "
                    "below %llu: applied %llu, last %llu",
                    (unsigned long long)below, (unsigned long long)r->applied,
                    (unsigned long long)last_index(r));
    if (below <= r->base + 1)
        return NAOS_OK;
    size_t drop = (size_t)(below - r->base - 1);
    r->base_term = at(r, below - 1)->term;
    for (size_t i = drop; i-- > 0;) {
        /* the configuration at the new base: its last CONFIG entry */
        struct raft_conf c;
        if (r->log[i].type == RAFT_ENTRY_CONFIG &&
            raft_conf_decode(r->log[i].data, r->log[i].len, &c, NULL, 0) ==
                NAOS_OK) {
            r->conf_base = c;
            break;
        }
    }
    for (size_t i = 0; i < drop; i++) {
        r->log_bytes -= r->log[i].len;
        naos_free((void *)r->log[i].data);
    }
    memmove(r->log, r->log + drop, (r->nlog - drop) * sizeof(*r->log));
    r->nlog -= drop;
    r->base += drop;
    return NAOS_OK;
}

uint64_t
raft_compact_point(const struct raft *r, uint64_t applied,
                   size_t keep_entries, size_t keep_bytes)
{
    if (applied > r->applied)
        applied = r->applied;
    if (applied > last_index(r))
        applied = last_index(r);
    uint64_t below = applied < r->held ? applied : r->held;
    if (applied <= r->base)
        return below;
    /* entries (k, applied] stay for a voter that lags: at most
     * keep_entries of them, keep_bytes of data */
    uint64_t k = applied;
    size_t bytes = 0;
    if (applied - r->base <= keep_entries && r->log_bytes <= keep_bytes) {
        k = r->base; /* everything in the log fits */
    } else {
        for (size_t n = 0; k > r->base && n < keep_entries; n++) {
            size_t len = at(r, k)->len;
            if (bytes + len > keep_bytes)
                break;
            bytes += len;
            k--;
        }
    }
    uint64_t floor = k + 1 < applied ? k + 1 : applied;
    return floor > below ? floor : below;
}

size_t
raft_peers_behind(const struct raft *r, struct raft_id *out, size_t cap)
{
    size_t n = 0;
    if (r->role != RAFT_LEADER)
        return 0;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].behind) {
            if (n < cap)
                out[n] = r->peers[i].id;
            n++;
        }
    return n;
}

/* snap_answer: the follower's answer to its leader after a snapshot it
 * had or installed, as to an APPEND that verified up to match. */
static void
snap_answer(struct raft *r, uint64_t match)
{
    struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP,
                            .to = r->leader,
                            .term = r->term,
                            .success = true,
                            .match_index = match};
    send_msg(r, &resp, 0, 0);
}

enum raft_snap_verdict
raft_snapshot_offer(struct raft *r, struct raft_id from, uint64_t term,
                    uint64_t index, uint64_t snap_term, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role != RAFT_FOLLOWER || term != r->term || from.v == 0 ||
        r->leader.v != from.v || index == 0 || snap_term == 0 ||
        snap_term > term || index > UINT64_MAX / 2) {
        r->stats.snap_refused++;
        return RAFT_SNAP_REFUSE;
    }
    r->last_heard_leader = now; /* it is the leader's word */
    reset_election(r);
    if (index <= r->commit) {
        r->stats.snap_had++;
        snap_answer(r, r->commit);
        return RAFT_SNAP_HAVE;
    }
#ifndef RAFT_MUTATION_SNAP_DISCARD_MATCHING
    /* (planted bug SNAP_DISCARD_MATCHING: a log that agrees is replaced
     * anyway, losing the entries after index that it acknowledged) */
    if (index <= last_index(r) && raft_term_at(r, index) == snap_term) {
        /* log matching: our log agrees with the leader's up to index,
         * and a snapshot holds only what is committed */
        r->stats.snap_had++;
        r->commit = index;
        snap_answer(r, index);
        return RAFT_SNAP_HAVE;
    }
#endif
    return RAFT_SNAP_INSTALL;
}

int
raft_snapshot_installed(struct raft *r, uint64_t index, uint64_t snap_term,
                        const struct raft_conf *conf, naos_time now)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (index <= r->commit || snap_term == 0 || snap_term > r->term)
        return errf(r->errmsg, sizeof(r->errmsg), "raft: snapshot of "
                    "(%llu, %llu) not above commit %llu in term %llu",
                    (unsigned long long)index, (unsigned long long)snap_term,
                    (unsigned long long)r->commit,
                    (unsigned long long)r->term);
    if (conf != NULL &&
        raft_conf_validate(conf, r->errmsg, sizeof(r->errmsg)) != NAOS_OK)
        return NAOS_EINVAL;
    for (size_t i = 0; i < r->nlog; i++)
        naos_free((void *)r->log[i].data);
    r->nlog = 0;
    r->log_bytes = 0;
    r->base = index;
    r->base_term = snap_term;
    r->stable = index;
    r->truncated = false;
    r->commit = index;
    r->applied = index;
    r->persisted.commit = index; /* in the driver's transaction */
    /* no configuration in the snapshot: the cluster never changed one,
     * so the founding voters (not a change in the discarded log) */
    r->conf_base = conf != NULL ? *conf : r->conf_founding;
    conf_apply(r, &r->conf_base, index);
    r->stats.snap_installed++;
    if (r->role == RAFT_FOLLOWER && r->leader.v != 0)
        snap_answer(r, index);
    return NAOS_OK;
}

int
raft_change(struct raft *r, enum raft_change_kind kind, struct raft_id id,
            naos_time now, uint64_t *index)
{
    NAOS_ASSERT(!r->in_ready);
    r->now = now;
    if (r->role != RAFT_LEADER)
        return not_leader(r);
    /* the 2015 fix: not before this leader committed an entry of its term
     * (a change of a previous term may still be replaced) */
#ifndef RAFT_MUTATION_CHANGE_BEFORE_NOOP
    /* (planted bug CHANGE_BEFORE_NOOP: no 2015 fix) */
    if (r->commit < r->term_start) {
        snprintf(r->errmsg, sizeof(r->errmsg), "raft: the leader has not "
                 "committed an entry of its term yet");
        return NAOS_EBUSY;
    }
#endif
#ifndef RAFT_MUTATION_CHANGES_AT_ONCE
    /* (planted bug CHANGES_AT_ONCE: a change while another is
     * uncommitted) */
    if (r->conf_index > r->commit) {
        snprintf(r->errmsg, sizeof(r->errmsg), "raft: another change of the "
                 "configuration (entry %llu) is not committed yet",
                 (unsigned long long)r->conf_index);
        return NAOS_EBUSY;
    }
#endif
    struct raft_conf c = r->conf;
    bool voter = raft_conf_is_voter(&c, id);
    bool learner = raft_conf_is_learner(&c, id);
    switch (kind) {
    case RAFT_CHANGE_ADD_LEARNER:
        if (id.v == 0 || voter || learner)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %llu is %s",
                        (unsigned long long)id.v,
                        id.v == 0 ? "no id" : "a member already");
        if (c.nlearners == RAFT_MAX_LEARNERS)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %d learners "
                        "already (max)", RAFT_MAX_LEARNERS);
        c.learners[c.nlearners++] = id;
        break;
    case RAFT_CHANGE_PROMOTE:
        if (!learner)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %llu is not a "
                        "learner", (unsigned long long)id.v);
        if (c.nvoters == RAFT_MAX_VOTERS)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %d voters "
                        "already (max)", RAFT_MAX_VOTERS);
        for (size_t i = 0; i < c.nlearners; i++)
            if (c.learners[i].v == id.v)
                c.learners[i] = c.learners[--c.nlearners];
        c.voters[c.nvoters++] = id;
        break;
    case RAFT_CHANGE_REMOVE:
        if (!voter && !learner)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %llu is not a "
                        "member", (unsigned long long)id.v);
        if (voter && c.nvoters == 1)
            return errf(r->errmsg, sizeof(r->errmsg), "raft: %llu is the "
                        "last voter", (unsigned long long)id.v);
        for (size_t i = 0; i < c.nvoters; i++)
            if (c.voters[i].v == id.v)
                c.voters[i] = c.voters[--c.nvoters];
        for (size_t i = 0; i < c.nlearners; i++)
            if (c.learners[i].v == id.v)
                c.learners[i] = c.learners[--c.nlearners];
        break;
    default:
        return errf(r->errmsg, sizeof(r->errmsg), "raft: change %d", kind);
    }
    unsigned char buf[RAFT_CONF_MAX_BYTES];
    size_t len = 0;
    if (raft_conf_encode(&c, buf, sizeof buf, &len) != NAOS_OK)
        return errf(r->errmsg, sizeof(r->errmsg), "raft: cannot encode");
    return propose(r, RAFT_ENTRY_CONFIG, RAFT_CONF_VERSION, buf, len, index);
}

const struct raft_conf *
raft_conf_current(const struct raft *r)
{
    return &r->conf;
}

uint64_t
raft_conf_index(const struct raft *r)
{
    return r->conf_index;
}

bool
raft_peer_match(const struct raft *r, struct raft_id id, uint64_t *match)
{
    if (r->role != RAFT_LEADER)
        return false;
    for (size_t i = 0; i < r->npeers; i++)
        if (r->peers[i].id.v == id.v) {
            *match = r->peers[i].match;
            return true;
        }
    return false;
}

bool
raft_peer_active(const struct raft *r, struct raft_id id)
{
    if (r->role != RAFT_LEADER)
        return false;
    const struct raft_peer *p = NULL;
    for (size_t i = 0; i < r->npeers && p == NULL; i++)
        if (r->peers[i].id.v == id.v)
            p = &r->peers[i];
    /* match > 0: it answered this leader (become_leader resets match, a
     * new peer starts at 0), so heard is an answer, not the grace */
    return p != NULL && p->match > 0 &&
           r->now < p->heard + (naos_time)r->cfg.election_timeout;
}

size_t
raft_log_bytes(const struct raft *r)
{
    return r->log_bytes;
}

const char *
raft_errmsg(const struct raft *r)
{
    return r->errmsg;
}

const struct raft_stats *
raft_stats_get(const struct raft *r)
{
    return &r->stats;
}
