/* SPDX-License-Identifier: Apache-2.0 */
/* raft_sim.c: the deterministic Raft-lite cluster (raft_sim.h). One
 * thread, one virtual clock; events are ordered by (time, sequence) so
 * every run of a seed is identical. Messages are deep-copied when they
 * leave (the core owns them only until raft_advance).
 *
 * Disk model: a batch is written (rsim_node.written) when raft_ready
 * hands it out and synced (rsim_node.synced) when its fsync completes.
 * A process crash keeps the written state (the page cache survives; we
 * take it as flushed before any later power loss), a power loss only the
 * synced state.
 *
 * A snapshot install is one synced write: nothing of it reaches either
 * disk until it completes (EV_SNAP_SYNC), then both hold it. The disk
 * keeps a placeholder (term only, no data) for every index below the
 * snapshot's, so the checker indexes every disk the same way. */
#include "cluster-tests/sim/raft_sim.h"
#include "cluster-tests/sim/raft_sim_int.h"
#include "cluster-tests/sim/sim_rng.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/err.h"

enum rsim_ev_kind {
    EV_DELIVER = 1,
    EV_SYNC,
    EV_CONN_CLOSED,
    EV_SNAP,      /* a snapshot arrives (snap) */
    EV_SNAP_SYNC, /* the install's synced write completes */
    EV_LEASE,     /* a lease message arrives (lm) */
};

struct rsim_event {
    naos_time at;
    uint64_t seq;
    enum rsim_ev_kind kind;
    unsigned dst, src;
    unsigned life;          /* dst's life when scheduled */
    struct raft_msg *msg;   /* DELIVER: one malloc block */
    struct rsim_snap *snap; /* SNAP: one malloc block */
    struct rsim_lease_msg lm; /* LEASE */
};

/* struct rsim_snap: a snapshot of a leader's applied state after entry
 * (index, snap_term), in the leader's term: the applied entries 1..index
 * and the highest client value among them. */
struct rsim_snap {
    struct raft_id from;
    uint64_t term, index, snap_term, max_value;
    struct raft_conf conf; /* the state's configuration (has_conf) */
    bool has_conf;
    uint8_t place[RSIM_LEASE_DEPLOYS]; /* the lease model's placements */
    uint64_t place_epoch[RSIM_LEASE_DEPLOYS];
    struct rsim_applied ents[]; /* index of them */
};

/* struct rsim_pair: S3's record of one (index, term). */
struct rsim_pair {
    uint64_t index, term; /* term 0: empty slot */
    uint64_t hash, prev_term;
};

/* ---- randomness, failures --------------------------------------------- */

uint64_t
rsim_rand(struct rsim *sim)
{
    return sim_splitmix64(&sim->rng);
}

double
rsim_uniform(struct rsim *sim)
{
    return sim_unit(rsim_rand(sim));
}

static naos_duration
urange(struct rsim *sim, naos_duration lo, naos_duration hi)
{
    if (hi <= lo)
        return lo;
    return lo + (naos_duration)(rsim_rand(sim) % (uint64_t)(hi - lo + 1));
}

uint64_t
rsim_seed_from_env(uint64_t dflt)
{
    return sim_env_seed(dflt);
}

static void
fail(struct rsim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
vfail(struct rsim *sim, const char *fmt, va_list ap)
{
    if (sim->failure[0])
        return;
    int off = snprintf(sim->failure, sizeof(sim->failure),
                       "seed=%llu n=%u t=%llu: ",
                       (unsigned long long)sim->seed, sim->n,
                       (unsigned long long)sim->now);
    vsnprintf(sim->failure + off, sizeof(sim->failure) - (size_t)off, fmt,
              ap);
}

static void
fail(struct rsim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(sim, fmt, ap);
    va_end(ap);
}

void
rsim__fail(struct rsim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(sim, fmt, ap);
    va_end(ap);
}

naos_duration
rsim__urange(struct rsim *sim, naos_duration lo, naos_duration hi)
{
    return urange(sim, lo, hi);
}

/* NAOS_SIM_TRACE=1 prints every message, fault and role change, to
 * read a failing seed's history. */
static void
vtrace(const struct rsim *sim, const char *fmt, va_list ap)
{
    static int on = -1;
    if (on < 0)
        on = getenv("NAOS_SIM_TRACE") != NULL;
    if (!on)
        return;
    fprintf(stderr, "t=%llu ", (unsigned long long)sim->now);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void
trace(const struct rsim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vtrace(sim, fmt, ap);
    va_end(ap);
}

void
rsim__trace(const struct rsim *sim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vtrace(sim, fmt, ap);
    va_end(ap);
}

static void
trace_msg(const struct rsim *sim, const char *what, unsigned src, unsigned dst,
          const struct raft_msg *m)
{
    trace(sim, "%s %u->%u type %d term %llu last (%llu,%llu) granted %d "
          "prev (%llu,%llu) n %zu commit %llu success %d match %llu "
          "reject %llu hint (%llu,%llu)", what, src, dst, (int)m->type,
          (unsigned long long)m->term, (unsigned long long)m->last_index,
          (unsigned long long)m->last_term, m->granted,
          (unsigned long long)m->prev_index, (unsigned long long)m->prev_term,
          m->nentries, (unsigned long long)m->commit, m->success,
          (unsigned long long)m->match_index,
          (unsigned long long)m->reject_index,
          (unsigned long long)m->hint_index, (unsigned long long)m->hint_term);
}

static void *
xrealloc(void *p, size_t size)
{
    p = realloc(p, size);
    if (p == NULL && size)
        abort();
    return p;
}

/* entry_hash: FNV-1a over type, version and data. */
static uint64_t
entry_hash(const struct raft_entry *e)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = e->data;
    uint64_t hdr[2] = {e->type, e->version};
    const unsigned char *q = (const unsigned char *)hdr;
    for (size_t i = 0; i < sizeof(hdr); i++)
        h = (h ^ q[i]) * 1099511628211ull;
    for (size_t i = 0; i < e->len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* ---- configurations --------------------------------------------------- */

static bool
ids_same(const struct raft_id *a, size_t na, const struct raft_id *b,
         size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++) {
        size_t j = 0;
        while (j < nb && b[j].v != a[i].v)
            j++;
        if (j == nb)
            return false;
    }
    return true;
}

/* conf_same: the same voters and learners, in any order. */
static bool
conf_same(const struct raft_conf *a, const struct raft_conf *b)
{
    return ids_same(a->voters, a->nvoters, b->voters, b->nvoters) &&
           ids_same(a->learners, a->nlearners, b->learners, b->nlearners);
}

/* conf_one_step: b is a with one server changed (M3): a learner added,
 * a learner promoted, or a member removed. */
static bool
conf_one_step(const struct raft_conf *a, const struct raft_conf *b)
{
    size_t gone = 0, added = 0, promoted = 0;
    for (size_t i = 0; i < a->nvoters; i++)
        if (!raft_conf_is_voter(b, a->voters[i])) {
            if (raft_conf_is_learner(b, a->voters[i]))
                return false; /* a demotion is no change raft_change makes */
            gone++;
        }
    for (size_t i = 0; i < a->nlearners; i++)
        if (raft_conf_is_voter(b, a->learners[i]))
            promoted++;
        else if (!raft_conf_is_learner(b, a->learners[i]))
            gone++;
    for (size_t i = 0; i < b->nvoters; i++)
        if (!raft_conf_is_voter(a, b->voters[i]) &&
            !raft_conf_is_learner(a, b->voters[i]))
            return false; /* a voter from nowhere */
    for (size_t i = 0; i < b->nlearners; i++)
        if (!raft_conf_is_learner(a, b->learners[i]) &&
            !raft_conf_is_voter(a, b->learners[i]))
            added++;
    return gone + added + promoted == 1;
}

static void
conf_founding(const struct rsim *sim, struct raft_conf *c)
{
    memset(c, 0, sizeof(*c));
    for (unsigned i = 0; i < sim->nvoters; i++)
        c->voters[i] = sim->ids[i];
    c->nvoters = sim->nvoters;
}

static void
conf_print(const struct raft_conf *c, char *buf, size_t len)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, len - off, "voters");
    for (size_t i = 0; i < c->nvoters && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, " %llu",
                                (unsigned long long)c->voters[i].v - 1);
    if (off < len)
        off += (size_t)snprintf(buf + off, len - off, " learners");
    for (size_t i = 0; i < c->nlearners && off < len; i++)
        off += (size_t)snprintf(buf + off, len - off, " %llu",
                                (unsigned long long)c->learners[i].v - 1);
}

/* ---- event heap ------------------------------------------------------- */

static bool
ev_before(const struct rsim_event *a, const struct rsim_event *b)
{
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void
heap_push(struct rsim *sim, struct rsim_event ev)
{
    ev.seq = sim->evseq++;
    if (sim->nheap == sim->capheap) {
        sim->capheap = sim->capheap ? sim->capheap * 2 : 1024;
        sim->heap = xrealloc(sim->heap, sim->capheap * sizeof(*sim->heap));
    }
    size_t i = sim->nheap++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(&ev, &sim->heap[p]))
            break;
        sim->heap[i] = sim->heap[p];
        i = p;
    }
    sim->heap[i] = ev;
}

static struct rsim_event
heap_pop(struct rsim *sim)
{
    struct rsim_event top = sim->heap[0];
    struct rsim_event last = sim->heap[--sim->nheap];
    size_t i = 0, n = sim->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct rsim_event *best = &last;
        if (l < n && ev_before(&sim->heap[l], best)) {
            m = l;
            best = &sim->heap[l];
        }
        if (r < n && ev_before(&sim->heap[r], best))
            m = r;
        if (m == i)
            break;
        sim->heap[i] = sim->heap[m];
        i = m;
    }
    if (n)
        sim->heap[i] = last;
    return top;
}

/* ---- messages --------------------------------------------------------- */

static struct raft_msg *
msg_clone(const struct raft_msg *m)
{
    size_t size = sizeof(*m) + m->nentries * sizeof(struct raft_entry);
    for (size_t i = 0; i < m->nentries; i++)
        size += m->entries[i].len;
    char *p = xrealloc(NULL, size);
    struct raft_msg *c = (struct raft_msg *)p;
    *c = *m;
    struct raft_entry *ents = (struct raft_entry *)(p + sizeof(*c));
    char *cur = (char *)(ents + m->nentries);
    for (size_t i = 0; i < m->nentries; i++) {
        ents[i] = m->entries[i];
        if (ents[i].len) {
            memcpy(cur, m->entries[i].data, ents[i].len);
            ents[i].data = cur;
            cur += ents[i].len;
        }
    }
    c->entries = m->nentries ? ents : NULL;
    return c;
}

static unsigned
idx_of(const struct rsim *sim, struct raft_id id)
{
    (void)sim;
    return (unsigned)(id.v - 1);
}

/* ---- disk ------------------------------------------------------------- */

static void
disk_truncate(struct rsim_disk *d, uint64_t from)
{
    while (d->n >= from && d->n > 0) {
        free((void *)d->ents[d->n - 1].data);
        d->n--;
    }
}

static void
disk_push(struct rsim_disk *d, const struct raft_entry *e)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->ents = xrealloc(d->ents, d->cap * sizeof(*d->ents));
    }
    struct raft_entry c = *e;
    if (c.len) {
        void *p = xrealloc(NULL, c.len);
        memcpy(p, e->data, c.len);
        c.data = p;
    } else {
        c.data = NULL;
    }
    d->ents[d->n++] = c;
}

/* disk_copy makes dst equal to src, rewriting only from the first index
 * where they differ. */
static void
disk_copy(struct rsim_disk *dst, const struct rsim_disk *src)
{
    size_t same = 0;
    size_t lim = dst->n < src->n ? dst->n : src->n;
    /* entries are immutable once written, so equal (index, term) at the
     * end of the common prefix means equal prefixes (log matching on one
     * disk); scan back from the end for speed */
    size_t k = lim;
    while (k > 0 && dst->ents[k - 1].term != src->ents[k - 1].term)
        k--;
    same = k;
    disk_truncate(dst, same + 1);
    for (size_t i = same; i < src->n; i++)
        disk_push(dst, &src->ents[i]);
    dst->hard = src->hard;
    dst->first = src->first;
}

/* disk_install: d becomes what a snapshot install leaves: the log
 * reduced to the one entry (index, snap_term), compacted there (first =
 * index; below it placeholders with the state's terms, no data), and the
 * hard state hard with commit = index. */
static void
disk_install(struct rsim_disk *d, const struct rsim_snap *s,
             struct raft_hard hard)
{
    disk_truncate(d, 1);
    for (uint64_t k = 1; k <= s->index; k++) {
        struct raft_entry e = {.index = k,
                               .term = s->ents[k - 1].term,
                               .type = RAFT_ENTRY_NOOP};
        disk_push(d, &e);
    }
    hard.commit = s->index;
    d->hard = hard;
    d->first = s->index;
}

static void
disk_free(struct rsim_disk *d)
{
    disk_truncate(d, 1);
    free(d->ents);
    memset(d, 0, sizeof(*d));
}

/* ---- checker ---------------------------------------------------------- */

static void
grow_u64(uint64_t **a, size_t *cap, size_t need)
{
    if (need < *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c <= need)
        c *= 2;
    *a = xrealloc(*a, c * sizeof(**a));
    memset(*a + *cap, 0, (c - *cap) * sizeof(**a));
    *cap = c;
}

static size_t
pair_slot(const struct rsim *sim, uint64_t index, uint64_t term)
{
    uint64_t x = index * 0x9E3779B97F4A7C15ull ^ term * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    return (size_t)(x & (sim->cappairs - 1));
}

/* pair_check: S3, (index, term) always names the same entry with the same
 * predecessor term. */
static void
pair_check(struct rsim *sim, unsigned node, const struct raft_entry *e,
           uint64_t prev_term)
{
    if ((sim->npairs + 1) * 2 > sim->cappairs) {
        size_t oldcap = sim->cappairs;
        struct rsim_pair *old = sim->pairs;
        sim->cappairs = oldcap ? oldcap * 2 : 4096;
        sim->pairs = calloc(sim->cappairs, sizeof(*sim->pairs));
        if (sim->pairs == NULL)
            abort();
        for (size_t i = 0; i < oldcap; i++) {
            if (old[i].term == 0)
                continue;
            size_t s = pair_slot(sim, old[i].index, old[i].term);
            while (sim->pairs[s].term)
                s = (s + 1) & (sim->cappairs - 1);
            sim->pairs[s] = old[i];
        }
        free(old);
    }
    uint64_t h = entry_hash(e);
    size_t s = pair_slot(sim, e->index, e->term);
    while (sim->pairs[s].term) {
        struct rsim_pair *p = &sim->pairs[s];
        if (p->index == e->index && p->term == e->term) {
            if (p->hash != h || p->prev_term != prev_term)
                fail(sim, "S3 log matching: node %u writes (%llu, %llu) "
                     "with another %s than an earlier copy",
                     node, (unsigned long long)e->index,
                     (unsigned long long)e->term,
                     p->hash != h ? "payload" : "predecessor term");
            return;
        }
        s = (s + 1) & (sim->cappairs - 1);
    }
    sim->pairs[s] = (struct rsim_pair){e->index, e->term, h, prev_term};
    sim->npairs++;
}

/* leader_has: node's core holds entry k of term t with hash h (a
 * compacted entry is in its applied state, which S5 checked against the
 * committed record, and S9 that only applied entries went; the base's
 * term is still known). */
static bool
leader_has(const struct rsim_node *nd, uint64_t k, uint64_t t, uint64_t h)
{
    if (k < raft_first_index(nd->r))
        return k < raft_first_index(nd->r) - 1 ||
               raft_term_at(nd->r, k) == t;
    const struct raft_entry *e = raft_entry_at(nd->r, k);
    return e && e->term == t && entry_hash(e) == h;
}

/* record_commit: entry e at index k is counted committed by node. */
static void
record_commit(struct rsim *sim, unsigned node, const struct raft_entry *e)
{
    uint64_t k = e->index, h = entry_hash(e);
    size_t cap = sim->commit_cap;
    grow_u64(&sim->commit_term, &sim->commit_cap, k);
    size_t cap2 = cap, cap3 = cap;
    grow_u64(&sim->commit_hash, &cap2, k);
    grow_u64(&sim->commit_in, &cap3, k);
    uint64_t in = raft_term(sim->nodes[node].r);
    if (sim->commit_term[k]) {
        if (in < sim->commit_in[k])
            sim->commit_in[k] = in;
        if (sim->commit_term[k] != e->term || sim->commit_hash[k] != h)
            fail(sim, "S4/S5 node %u counts (%llu, %llu) committed where "
                 "(%llu, %llu) was", node, (unsigned long long)k,
                 (unsigned long long)e->term, (unsigned long long)k,
                 (unsigned long long)sim->commit_term[k]);
        return;
    }
    sim->commit_term[k] = e->term;
    sim->commit_hash[k] = h;
    sim->commit_in[k] = in;
    if (k > sim->commit_max)
        sim->commit_max = k;
    struct raft_conf c;
    if (e->type == RAFT_ENTRY_CONFIG && k > sim->conf_committed_index &&
        raft_conf_decode(e->data, e->len, &c, NULL, 0) == NAOS_OK) {
        /* M3: committed configurations change one server at a time */
        if (!conf_one_step(&sim->conf_committed, &c)) {
            char a[128], b[128];
            conf_print(&sim->conf_committed, a, sizeof(a));
            conf_print(&c, b, sizeof(b));
            fail(sim, "M3 committed configuration %llu (%s) is more than "
                 "one server from the one before (%s)",
                 (unsigned long long)k, b, a);
        }
        sim->conf_committed = c;
        sim->conf_committed_index = k;
        sim->confs_committed++;
    }
    /* S4: every current leader of a later term has it */
    for (unsigned j = 0; j < sim->n; j++) {
        const struct rsim_node *l = &sim->nodes[j];
        if (l->up && raft_role_get(l->r) == RAFT_LEADER &&
            raft_term(l->r) > in && !leader_has(l, k, e->term, h))
            fail(sim, "S4 leader completeness: leader %u of term %llu "
                 "lacks committed (%llu, %llu)", j,
                 (unsigned long long)raft_term(l->r), (unsigned long long)k,
                 (unsigned long long)e->term);
    }
}

/* check_elected: M4, a leader just elected is a voter of its
 * configuration and holds the votes of a majority of its voters (its own
 * as its core holds it, the others' as they left, S7). */
static void
check_elected(struct rsim *sim, const struct rsim_node *nd,
              const struct raft_conf *conf, bool voter)
{
    uint64_t term = raft_term(nd->r);
    if (!voter) {
        fail(sim, "M4 node %u elected in term %llu, no voter of its "
             "configuration", nd->idx, (unsigned long long)term);
        return;
    }
    size_t votes = 0;
    for (size_t j = 0; j < conf->nvoters; j++) {
        unsigned x = idx_of(sim, conf->voters[j]);
        if (x == nd->idx)
            votes += raft_vote(nd->r) == nd->id.v;
        else if (x < RSIM_MAX_NODES &&
                 (term + 1) * RSIM_MAX_NODES <= sim->votes_cap &&
                 sim->votes[term * RSIM_MAX_NODES + x] == nd->idx + 1)
            votes++;
    }
    if (votes < conf->nvoters / 2 + 1) {
        char b[128];
        conf_print(conf, b, sizeof(b));
        fail(sim, "M4 node %u elected in term %llu with the votes of %zu "
             "of its voters (%s)", nd->idx, (unsigned long long)term, votes,
             b);
    }
}

/* check_leader_appended: M2 and M3 for the entries leader nd appended
 * since the last check (its log only grew, S2): a CONFIG entry only once
 * an entry of its term is committed, one server from the configuration
 * it had. */
static void
check_leader_appended(struct rsim *sim, const struct rsim_node *nd,
                      uint64_t last)
{
    uint64_t term = raft_term(nd->r), c = raft_commit(nd->r);
    for (uint64_t k = nd->lead_last + 1; k <= last; k++) {
        const struct raft_entry *e = raft_entry_at(nd->r, k);
        struct raft_conf cf;
        if (e == NULL || e->type != RAFT_ENTRY_CONFIG)
            continue;
        if (c >= k || raft_term_at(nd->r, c) != term)
            fail(sim, "M2 leader %u of term %llu appends CONFIG entry %llu "
                 "before committing an entry of its term (commit %llu)",
                 nd->idx, (unsigned long long)term, (unsigned long long)k,
                 (unsigned long long)c);
        else if (raft_conf_decode(e->data, e->len, &cf, NULL, 0) != NAOS_OK)
            fail(sim, "M3 leader %u appends CONFIG entry %llu that does "
                 "not decode", nd->idx, (unsigned long long)k);
        else if (!conf_one_step(&nd->conf_seen, &cf)) {
            char a[128], b[128];
            conf_print(&nd->conf_seen, a, sizeof(a));
            conf_print(&cf, b, sizeof(b));
            fail(sim, "M3 leader %u appends configuration %llu (%s), more "
                 "than one server from its own (%s)", nd->idx,
                 (unsigned long long)k, b, a);
        }
    }
}

/* check_conf: M6, the configuration in effect is the log's last CONFIG
 * entry, else the applied state's (the founding voters if none). The log
 * is scanned only where it changed since the last check: after appends,
 * the new entries (equal (index, term) means an equal prefix, S3). */
static void
check_conf(struct rsim *sim, struct rsim_node *nd)
{
    if (nd->installing)
        return; /* the core has not been told yet */
    const struct raft *r = nd->r;
    uint64_t last = raft_last_index(r), first = raft_first_index(r);
    uint64_t last_term = raft_term_at(r, last);
    /* nothing moved since the last check (most events, for most nodes) */
    if (nd->m6_last == last && nd->m6_last_term == last_term &&
        nd->m6_first == first && nd->m6_conf_index == raft_conf_index(r) &&
        nd->m6_applied == nd->applied && last)
        return;
    nd->m6_conf_index = raft_conf_index(r);
    nd->m6_applied = nd->applied;
    uint64_t from = first;
    if (nd->m6_last && nd->m6_last <= last && nd->m6_first <= first &&
        (nd->m6_last < first - 1 ||
         raft_term_at(r, nd->m6_last) == nd->m6_last_term))
        from = nd->m6_last + 1 > first ? nd->m6_last + 1 : first;
    else
        nd->m6_at = 0;
    struct raft_conf want;
    for (uint64_t k = last; k >= from && k > 0; k--) {
        const struct raft_entry *e = raft_entry_at(r, k);
        if (e && e->type == RAFT_ENTRY_CONFIG &&
            raft_conf_decode(e->data, e->len, &want, NULL, 0) == NAOS_OK) {
            nd->m6_at = k;
            nd->m6_conf = want;
            break;
        }
    }
    if (nd->m6_at < first)
        nd->m6_at = 0; /* compacted: the applied state has it */
    nd->m6_last = last;
    nd->m6_last_term = last_term;
    nd->m6_first = first;
    uint64_t at = nd->m6_at;
    const struct raft_conf *w = at            ? &nd->m6_conf
                                : nd->has_conf ? &nd->conf
                                               : &sim->founding;
    const struct raft_conf *cur = raft_conf_current(r);
    if (!conf_same(cur, w) || (at && raft_conf_index(r) != at)) {
        char a[128], b[128];
        conf_print(cur, a, sizeof(a));
        conf_print(w, b, sizeof(b));
        fail(sim, "M6 node %u is in configuration %s (entry %llu); its "
             "log and state say %s (entry %llu)", nd->idx, a,
             (unsigned long long)raft_conf_index(r), b,
             (unsigned long long)at);
    }
}

/* check_node: the per-node invariants after an event. */
static void
check_node(struct rsim *sim, struct rsim_node *nd)
{
    if (!nd->up)
        return;
    struct raft *r = nd->r;
    /* S9: the compacted base only moves up while the node runs, and
     * only over what it applied */
    uint64_t base = raft_first_index(r) - 1;
    if (base < nd->seen_base)
        fail(sim, "S9 node %u: its compacted base went back from %llu to "
             "%llu", nd->idx, (unsigned long long)nd->seen_base,
             (unsigned long long)base);
    else if (base > nd->applied)
        fail(sim, "S9 node %u compacted its log to %llu, past its applied "
             "%llu", nd->idx, (unsigned long long)base,
             (unsigned long long)nd->applied);
    nd->seen_base = base;
    uint64_t term = raft_term(r);
    /* S10: within the term it acknowledged entries in, the log keeps
     * them (one compacted away is in the applied state, S9) */
    if (nd->ack_index && term == nd->ack_term) {
        uint64_t t = raft_term_at(r, nd->ack_index);
        if (raft_last_index(r) < nd->ack_index ||
            (nd->ack_index >= base && t != nd->ack_entry_term))
            fail(sim, "S10 node %u acknowledged (%llu, %llu) in term %llu "
                 "and its log now %s", nd->idx,
                 (unsigned long long)nd->ack_index,
                 (unsigned long long)nd->ack_entry_term,
                 (unsigned long long)term,
                 raft_last_index(r) < nd->ack_index ? "ends before it"
                                                    : "holds another");
    }
    if (term > sim->max_term)
        sim->max_term = term;
    if (term != nd->trace_term || (int)raft_role_get(r) != nd->trace_role) {
        trace(sim, "node %u term %llu role %d last (%llu,%llu) commit %llu",
              nd->idx, (unsigned long long)term, (int)raft_role_get(r),
              (unsigned long long)raft_last_index(r),
              (unsigned long long)raft_last_term(r),
              (unsigned long long)raft_commit(r));
        nd->trace_term = term;
        nd->trace_role = (int)raft_role_get(r);
    }
    const struct raft_conf *conf = raft_conf_current(r);
    bool voter = raft_conf_is_voter(conf, nd->id);
    enum raft_role role = raft_role_get(r);
    /* M4: only a voter of its own configuration stands */
    if ((role == RAFT_PRECANDIDATE || role == RAFT_CANDIDATE) && !voter)
        fail(sim, "M4 node %u is %s in term %llu, no voter of its "
             "configuration", nd->idx, raft_role_name(role),
             (unsigned long long)term);
    /* M5: a leader removed from the voters leads only until that is
     * committed */
    if (role == RAFT_LEADER && !voter &&
        raft_commit(r) >= raft_conf_index(r))
        fail(sim, "M5 leader %u of term %llu is no voter since entry %llu, "
             "committed (%llu), and still leads", nd->idx,
             (unsigned long long)term,
             (unsigned long long)raft_conf_index(r),
             (unsigned long long)raft_commit(r));
    if (role != RAFT_LEADER && nd->lead_term && nd->lead_term == term &&
        !voter)
        sim->removed_stepdowns++;
    if (role == RAFT_LEADER) {
        grow_u64(&sim->term_leader, &sim->term_cap, term);
        if (sim->term_leader[term] == 0) {
            sim->term_leader[term] = nd->id.v;
            sim->leader_changes++;
            check_elected(sim, nd, conf, voter);
            /* S4 at election */
            for (uint64_t k = 1; k <= sim->commit_max; k++) {
                uint64_t t = sim->commit_term[k];
                if (t && sim->commit_in[k] < term &&
                    !leader_has(nd, k, t, sim->commit_hash[k])) {
                    fail(sim, "S4 leader completeness: node %u elected in "
                         "term %llu lacks committed (%llu, %llu)", nd->idx,
                         (unsigned long long)term, (unsigned long long)k,
                         (unsigned long long)t);
                    break;
                }
            }
        } else if (sim->term_leader[term] != nd->id.v) {
            fail(sim, "S1 election safety: nodes %llu and %llu both lead "
                 "term %llu", (unsigned long long)sim->term_leader[term] - 1,
                 (unsigned long long)nd->idx, (unsigned long long)term);
        }
        /* S2 */
        uint64_t last = raft_last_index(r);
        if (nd->lead_term == term) {
            if (last < nd->lead_last ||
                raft_term_at(r, nd->lead_last) != nd->lead_last_term)
                fail(sim, "S2 leader append-only: leader %u of term %llu "
                     "lost (%llu, %llu)", nd->idx, (unsigned long long)term,
                     (unsigned long long)nd->lead_last,
                     (unsigned long long)nd->lead_last_term);
            check_leader_appended(sim, nd, last);
        }
        nd->lead_term = term;
        nd->lead_last = last;
        nd->lead_last_term = raft_term_at(r, last);
    }
    /* P6: a leader moves its commit index only to an entry of its own
     * term that a majority of its configuration's voters holds on synced
     * disks (checked also at the step-down M5 makes when it commits its
     * own removal) */
    uint64_t cm = raft_commit(r);
    if ((role == RAFT_LEADER || nd->lead_term == term) &&
        cm > nd->seen_commit) {
        const struct raft_entry *e = raft_entry_at(r, cm);
        unsigned on = 0;
        for (size_t j = 0; e && j < conf->nvoters; j++) {
            unsigned x = idx_of(sim, conf->voters[j]);
            if (x >= sim->n)
                continue;
            const struct rsim_disk *d = &sim->nodes[x].synced;
            on += d->n >= cm && d->ents[cm - 1].term == e->term;
        }
        if (e == NULL || e->term != term)
            fail(sim, "P6 leader %u of term %llu commits index %llu of "
                 "term %llu", nd->idx, (unsigned long long)term,
                 (unsigned long long)cm,
                 (unsigned long long)(e ? e->term : 0));
        else if (on < conf->nvoters / 2 + 1)
            fail(sim, "P6 leader %u commits (%llu, %llu), on %u synced "
                 "disks of %zu voters", nd->idx, (unsigned long long)cm,
                 (unsigned long long)term, on, conf->nvoters);
    }
    /* S7: a leader counts only its synced log (a removed one does not
     * count itself at all) */
    if (role == RAFT_LEADER && voter && !nd->busy &&
        raft_commit(r) > nd->synced.n)
        fail(sim, "S7 leader %u commits %llu beyond its synced log "
             "(%zu)", nd->idx, (unsigned long long)raft_commit(r),
             nd->synced.n);
    if (role != RAFT_LEADER)
        nd->lead_term = 0;
    check_conf(sim, nd);
    /* S6 commit */
    uint64_t c = raft_commit(r);
    if (c < nd->seen_commit)
        fail(sim, "S6 node %u commit went back from %llu to %llu", nd->idx,
             (unsigned long long)nd->seen_commit, (unsigned long long)c);
    if (c > raft_last_index(r))
        fail(sim, "S6 node %u commit %llu beyond its log (%llu)", nd->idx,
             (unsigned long long)c, (unsigned long long)raft_last_index(r));
    for (uint64_t k = nd->seen_commit + 1; k <= c && !sim->failure[0]; k++) {
        const struct raft_entry *e = raft_entry_at(r, k);
        if (e)
            record_commit(sim, nd->idx, e);
    }
    if (c > nd->seen_commit)
        nd->seen_commit = c;
    /* M3's "the configuration it had": a leader's changes only by an
     * append; a follower's copy is refreshed once it leads */
    if (role == RAFT_LEADER || raft_conf_index(r) != nd->conf_seen_index) {
        nd->conf_seen = *conf;
        nd->conf_seen_index = raft_conf_index(r);
    }
}

/* check_one_change: M1, no log holds two CONFIG entries above what is
 * committed anywhere (raft_change waits for the previous one). */
static void
check_one_change(struct rsim *sim, const struct rsim_node *nd)
{
    if (!nd->up)
        return;
    uint64_t first = raft_first_index(nd->r);
    if (first <= sim->commit_max)
        first = sim->commit_max + 1;
    uint64_t k = raft_last_index(nd->r), found = 0;
    for (; k >= first && k > 0; k--) {
        const struct raft_entry *e = raft_entry_at(nd->r, k);
        if (e == NULL || e->type != RAFT_ENTRY_CONFIG)
            continue;
        if (found) {
            fail(sim, "M1 node %u holds CONFIG entries %llu and %llu, both "
                 "above the commit index %llu", nd->idx,
                 (unsigned long long)k, (unsigned long long)found,
                 (unsigned long long)sim->commit_max);
            return;
        }
        found = k;
    }
}

static void
check_all(struct rsim *sim)
{
    for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++)
        check_node(sim, &sim->nodes[i]);
    for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++)
        check_one_change(sim, &sim->nodes[i]);
}

/* ---- the driver ------------------------------------------------------- */

static uint32_t
node_random(void *ctx)
{
    return (uint32_t)sim_splitmix64(ctx);
}

static bool
runnable(const struct rsim *sim, const struct rsim_node *nd)
{
    return nd->up && !nd->busy && sim->now >= nd->pause_until;
}

bool
rsim__runnable(const struct rsim *sim, const struct rsim_node *nd)
{
    return runnable(sim, nd);
}

/* write_batch: raft_ready's batch goes to the written disk (unsynced). */
static void
write_batch(struct rsim *sim, struct rsim_node *nd)
{
    const struct raft_ready *rd = &nd->rd;
    struct rsim_disk *d = &nd->written;
    if (rd->truncate_from) {
        if (rd->truncate_from <= d->hard.commit)
            fail(sim, "node %u truncates from %llu, at or below its "
                 "stored commit %llu", nd->idx,
                 (unsigned long long)rd->truncate_from,
                 (unsigned long long)d->hard.commit);
        if (rd->nentries && rd->entries[0].index != rd->truncate_from)
            fail(sim, "node %u: truncation at %llu but entries from %llu",
                 nd->idx, (unsigned long long)rd->truncate_from,
                 (unsigned long long)rd->entries[0].index);
        if (rd->truncate_from <= d->first)
            fail(sim, "S9 node %u truncates from %llu, compacted below %llu",
                 nd->idx, (unsigned long long)rd->truncate_from,
                 (unsigned long long)d->first);
        disk_truncate(d, rd->truncate_from);
    }
    for (size_t i = 0; i < rd->nentries; i++) {
        const struct raft_entry *e = &rd->entries[i];
        if (e->index != d->n + 1) {
            fail(sim, "node %u appends index %llu after %zu", nd->idx,
                 (unsigned long long)e->index, d->n);
            return;
        }
        uint64_t prev = d->n ? d->ents[d->n - 1].term : 0;
        pair_check(sim, nd->idx, e, prev);
        disk_push(d, e);
    }
    /* the disk mirrors the core's log once the batch is written */
    if (d->n != raft_last_index(nd->r) ||
        (d->n && d->ents[d->n - 1].term != raft_last_term(nd->r)))
        fail(sim, "node %u: written log ends at (%zu, %llu), the core's "
             "at (%llu, %llu)", nd->idx, d->n,
             (unsigned long long)(d->n ? d->ents[d->n - 1].term : 0),
             (unsigned long long)raft_last_index(nd->r),
             (unsigned long long)raft_last_term(nd->r));
    if (rd->hard_changed) {
        if (rd->hard.term < d->hard.term)
            fail(sim, "S6 node %u writes term %llu below %llu", nd->idx,
                 (unsigned long long)rd->hard.term,
                 (unsigned long long)d->hard.term);
        d->hard = rd->hard;
    }
}

/* storm_check: L6, no two nodes bounce messages at network speed (a
 * livelock that other faults may end, so that a run passes, only slower:
 * a follower that disagreed at the leader's compacted base was answered
 * at once forever). Chaos runs peak near 260 messages in 100 ms. */
static void
storm_check(struct rsim *sim)
{
    if (sim->now >= sim->storm_from + 100) {
        sim->storm_from = sim->now;
        sim->storm_msgs = 0;
    }
    if (++sim->storm_msgs > RSIM_STORM_MSGS)
        fail(sim, "L6 message storm: %u messages within 100 ms",
             RSIM_STORM_MSGS);
}

static void
send_one(struct rsim *sim, unsigned src, const struct raft_msg *m)
{
    sim->msgs_sent++;
    storm_check(sim);
    trace_msg(sim, "send", src, idx_of(sim, m->to), m);
    unsigned dst = idx_of(sim, m->to);
    if (dst >= sim->n || sim->cut[src][dst] ||
        rsim_uniform(sim) < sim->net.loss) {
        sim->msgs_dropped++;
        return;
    }
    int copies = rsim_uniform(sim) < sim->net.dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        naos_duration d = urange(sim, sim->net.delay_min, sim->net.delay_max);
        if (rsim_uniform(sim) < sim->net.reorder)
            d += urange(sim, 0, sim->net.reorder_max);
        struct rsim_event ev = {.at = sim->now + (naos_time)d,
                                .kind = EV_DELIVER,
                                .dst = dst,
                                .src = src,
                                .life = sim->nodes[dst].life,
                                .msg = msg_clone(m)};
        heap_push(sim, ev);
    }
}

void
rsim__lease_send(struct rsim *sim, unsigned src, unsigned dst,
                 const struct rsim_lease_msg *m)
{
    sim->msgs_sent++;
    storm_check(sim);
    trace(sim, "lease %s %u->%u id %llu granted %d commit %llu instance "
          "%016llx term %llu",
          m->cert ? "certificate" : m->grant ? "grant" : "request", src, dst,
          (unsigned long long)m->id, m->granted,
          (unsigned long long)m->commit, (unsigned long long)m->instance,
          (unsigned long long)m->term);
    if (dst >= sim->n || sim->cut[src][dst] ||
        rsim_uniform(sim) < sim->net.loss) {
        sim->msgs_dropped++;
        return;
    }
    int copies = rsim_uniform(sim) < sim->net.dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        naos_duration d = urange(sim, sim->net.delay_min, sim->net.delay_max);
        if (rsim_uniform(sim) < sim->net.reorder)
            d += urange(sim, 0, sim->net.reorder_max);
        if (rsim_uniform(sim) < sim->lease_stall)
            d += urange(sim, 0, sim->lease_stall_max);
        struct rsim_event ev = {.at = sim->now + (naos_time)d,
                                .kind = EV_LEASE,
                                .dst = dst,
                                .src = src,
                                .life = sim->nodes[dst].life,
                                .lm = *m};
        heap_push(sim, ev);
    }
}

/* record_vote: M4's record of the vote node granted in term (to cand,
 * itself for a candidate), as it leaves; one per term (S6 on the wire). */
static void
record_vote(struct rsim *sim, const struct rsim_node *nd, uint64_t term,
            unsigned cand)
{
    if (cand >= RSIM_MAX_NODES || term > UINT64_MAX / RSIM_MAX_NODES - 1)
        return;
    size_t need = (size_t)(term + 1) * RSIM_MAX_NODES;
    if (need > sim->votes_cap) {
        size_t c = sim->votes_cap ? sim->votes_cap : 1024;
        while (c < need)
            c *= 2;
        sim->votes = xrealloc(sim->votes, c);
        memset(sim->votes + sim->votes_cap, 0, c - sim->votes_cap);
        sim->votes_cap = c;
    }
    unsigned char *v = &sim->votes[term * RSIM_MAX_NODES + nd->idx];
    if (*v && *v != cand + 1)
        fail(sim, "S6 node %u votes for %u in term %llu, having voted for "
             "%u", nd->idx, cand, (unsigned long long)term, *v - 1u);
    *v = (unsigned char)(cand + 1);
}

/* check_sent: S7, what m promises is on the synced disk of its sender. */
static void
check_sent(struct rsim *sim, struct rsim_node *nd, const struct raft_msg *m)
{
    const struct rsim_disk *s = &nd->synced;
    if (m->type == RAFT_MSG_VOTE)
        record_vote(sim, nd, m->term, nd->idx);
    if (m->type == RAFT_MSG_VOTE_RESP && m->granted) {
        record_vote(sim, nd, m->term, idx_of(sim, m->to));
        if (!raft_conf_is_voter(raft_conf_current(nd->r), nd->id))
            sim->votes_nonvoter++;
    }
    switch (m->type) {
    case RAFT_MSG_VOTE:
        if (s->hard.term != m->term || s->hard.vote != nd->id.v)
            fail(sim, "S7 node %u requests votes in term %llu; synced "
                 "term %llu vote %llu", nd->idx, (unsigned long long)m->term,
                 (unsigned long long)s->hard.term,
                 (unsigned long long)s->hard.vote);
        break;
    case RAFT_MSG_VOTE_RESP:
        if (m->granted &&
            (s->hard.term != m->term || s->hard.vote != m->to.v))
            fail(sim, "S7 node %u grants %llu its vote in term %llu; "
                 "synced term %llu vote %llu", nd->idx,
                 (unsigned long long)m->to.v, (unsigned long long)m->term,
                 (unsigned long long)s->hard.term,
                 (unsigned long long)s->hard.vote);
        break;
    case RAFT_MSG_APPEND_RESP:
        /* S10's record: what this term's leader counts us as holding */
        if (m->success && m->match_index &&
            (m->term > nd->ack_term ||
             (m->term == nd->ack_term && m->match_index > nd->ack_index))) {
            nd->ack_term = m->term;
            nd->ack_index = m->match_index;
            nd->ack_entry_term = raft_term_at(nd->r, m->match_index);
        }
        if (m->success &&
            (s->hard.term < m->term || s->n < m->match_index ||
             (m->match_index &&
              s->ents[m->match_index - 1].term !=
                  raft_term_at(nd->r, m->match_index))))
            fail(sim, "S7 node %u acknowledges index %llu of term %llu; "
                 "synced log %zu entries, term %llu", nd->idx,
                 (unsigned long long)m->match_index,
                 (unsigned long long)m->term, s->n,
                 (unsigned long long)s->hard.term);
        break;
    default:
        break;
    }
}

static void apply_entry(struct rsim *sim, struct rsim_node *nd,
                        const struct raft_entry *e);

static double
compact_uniform(struct rsim *sim)
{
    uint64_t x = sim->compact_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    sim->compact_rng = x;
    return (double)(x >> 11) / (double)(1ull << 53);
}

/* maybe_compact: what the node's driver does after a write of the log:
 * drop the entries below raft_compact_point (what every voter holds, and
 * beyond that all but the run's budget of applied entries) from the disk
 * and the core. S9: only applied entries go, the last applied one stays.
 * A compaction past some voter's synced log (it will need a snapshot) is
 * counted. */
static void
maybe_compact(struct rsim *sim, struct rsim_node *nd)
{
    if (sim->compact_rate <= 0 || !nd->up || sim->failure[0] ||
        compact_uniform(sim) >= sim->compact_rate)
        return;
    uint64_t below = raft_compact_point(nd->r, nd->applied,
                                        sim->keep_entries, sim->keep_bytes);
    if (below <= raft_first_index(nd->r))
        return;
    if (below > nd->applied || below > raft_last_index(nd->r)) {
        fail(sim, "S9 compaction: node %u would drop the entries below "
             "%llu; it applied %llu, its log ends at %llu", nd->idx,
             (unsigned long long)below, (unsigned long long)nd->applied,
             (unsigned long long)raft_last_index(nd->r));
        return;
    }
    uint64_t k = below - 1, t = raft_term_at(nd->r, k);
    const struct raft_conf *conf = raft_conf_current(nd->r);
    for (unsigned j = 0; j < sim->n; j++) {
        const struct rsim_disk *s = &sim->nodes[j].synced;
        if (!raft_conf_is_voter(conf, sim->ids[j]))
            continue;
        if (s->first <= k && (s->n < k || s->ents[k - 1].term != t)) {
            sim->compactions_past++;
            break;
        }
    }
    if (raft_compact(nd->r, below) != NAOS_OK) {
        fail(sim, "node %u cannot compact below %llu: %s", nd->idx,
             (unsigned long long)below, raft_errmsg(nd->r));
        return;
    }
    nd->written.first = below;
    sim->compactions++;
}

static void pump(struct rsim *sim, struct rsim_node *nd);

/* finish_batch: the fsync completed; messages leave, entries apply. */
static void
finish_batch(struct rsim *sim, struct rsim_node *nd)
{
    struct raft_hard old = nd->synced.hard;
    if (!sim->lying_fsync)
        disk_copy(&nd->synced, &nd->written);
    const struct raft_hard *h = &nd->synced.hard;
    if (h->term < old.term)
        fail(sim, "S6 node %u synced term went back %llu -> %llu", nd->idx,
             (unsigned long long)old.term, (unsigned long long)h->term);
    else if (h->term == old.term && old.vote && h->vote != old.vote)
        fail(sim, "S6 node %u synced vote changed %llu -> %llu in term "
             "%llu", nd->idx, (unsigned long long)old.vote,
             (unsigned long long)h->vote, (unsigned long long)h->term);
    const struct raft_ready *rd = &nd->rd;
    for (size_t i = 0; i < rd->nmsgs; i++) {
        check_sent(sim, nd, &rd->msgs[i]);
        send_one(sim, nd->idx, &rd->msgs[i]);
    }
    for (size_t i = 0; i < rd->ncommitted && !sim->failure[0]; i++)
        apply_entry(sim, nd, &rd->committed[i]);
    for (size_t i = 0; i < rd->nreads && !sim->failure[0]; i++) {
        /* ctx is the highest index committed anywhere when the read was
         * asked: a linearizable read index covers it (S8, thesis §6.4) */
        const struct raft_read_result *res = &rd->reads[i];
        if (sim->lease && rsim__lease_read_done(sim, nd->idx, res))
            continue;
        if (!res->ok) {
            sim->reads_failed++;
            continue;
        }
        sim->reads_ok++;
        if (res->index < res->ctx)
            fail(sim, "S8 ReadIndex: node %u confirmed read index %llu, "
                 "below %llu committed before the read was asked",
                 nd->idx, (unsigned long long)res->index,
                 (unsigned long long)res->ctx);
    }
    raft_advance(nd->r, sim->now);
    nd->busy = false;
    check_node(sim, nd);
    maybe_compact(sim, nd);
    pump(sim, nd);
}

static void
sm_grow(struct rsim_node *nd, uint64_t need)
{
    if (need <= nd->smcap)
        return;
    size_t c = nd->smcap ? nd->smcap : 256;
    while (c < need)
        c *= 2;
    nd->sm = xrealloc(nd->sm, c * sizeof(*nd->sm));
    nd->smcap = c;
}

static void
apply_entry(struct rsim *sim, struct rsim_node *nd, const struct raft_entry *e)
{
    if (e->index != nd->applied + 1) {
        fail(sim, "S5 node %u applies index %llu after %llu", nd->idx,
             (unsigned long long)e->index, (unsigned long long)nd->applied);
        return;
    }
    uint64_t h = entry_hash(e);
    if (e->index >= sim->commit_cap || sim->commit_term[e->index] == 0) {
        fail(sim, "S5 node %u applies (%llu, %llu), which no node counts "
             "committed", nd->idx, (unsigned long long)e->index,
             (unsigned long long)e->term);
        return;
    }
    if (sim->commit_term[e->index] != e->term ||
        sim->commit_hash[e->index] != h) {
        fail(sim, "S5 node %u applies (%llu, %llu); committed there is "
             "term %llu", nd->idx, (unsigned long long)e->index,
             (unsigned long long)e->term,
             (unsigned long long)sim->commit_term[e->index]);
        return;
    }
    sm_grow(nd, e->index);
    nd->sm[e->index - 1] = (struct rsim_applied){e->term, h};
    nd->applied = e->index;
    if (e->type == RAFT_ENTRY_COMMAND && e->len == 8) {
        uint64_t v;
        memcpy(&v, e->data, 8);
        if (v > nd->max_value)
            nd->max_value = v;
    }
    /* a lease model's move (raft_sim_lease.c): deployment d from node
     * `from` at its epoch to node `to`; one decided on a placement that
     * changed since changes nothing (node_root.c's MigrateCommand) */
    if (e->type == RAFT_ENTRY_COMMAND && e->version == 2 && e->len == 32) {
        uint64_t mv[4];
        memcpy(mv, e->data, sizeof(mv));
        if (mv[0] < RSIM_LEASE_DEPLOYS && nd->place[mv[0]] == mv[1] &&
            nd->place_epoch[mv[0]] == mv[2] && mv[3] < sim->n) {
            nd->place[mv[0]] = (uint8_t)mv[3];
            nd->place_epoch[mv[0]]++;
            sim->moves_applied++;
        }
    }
    /* a CONFIG entry: the configuration the state is at from here (as
     * apply.c stores it with the state) */
    struct raft_conf c;
    if (e->type == RAFT_ENTRY_CONFIG &&
        raft_conf_decode(e->data, e->len, &c, NULL, 0) == NAOS_OK) {
        nd->conf = c;
        nd->has_conf = true;
    }
}

static void
pump(struct rsim *sim, struct rsim_node *nd)
{
    if (!runnable(sim, nd) || !raft_has_ready(nd->r) || sim->failure[0])
        return;
    raft_ready(nd->r, &nd->rd);
    const struct raft_ready *rd = &nd->rd;
    if (!rd->hard_changed && !rd->truncate_from && !rd->nentries) {
        /* nothing to persist, hence no fsync to wait for */
        finish_batch(sim, nd);
        return;
    }
    write_batch(sim, nd);
    nd->busy = true;
    nd->busy_until = sim->now + (naos_time)urange(sim, 1, 3);
    nd->sync_at = nd->busy_until;
    struct rsim_event ev = {.at = nd->busy_until,
                            .kind = EV_SYNC,
                            .dst = nd->idx,
                            .life = nd->life};
    heap_push(sim, ev);
}


void
rsim__pump(struct rsim *sim, struct rsim_node *nd)
{
    pump(sim, nd);
}

/* ---- snapshots -------------------------------------------------------- */

static struct rsim_snap *
snap_clone(const struct rsim_snap *s)
{
    size_t size = sizeof(*s) + (size_t)s->index * sizeof(s->ents[0]);
    struct rsim_snap *c = xrealloc(NULL, size);
    memcpy(c, s, size);
    return c;
}

void
rsim_send_snapshot(struct rsim *sim, unsigned i, unsigned peer)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (peer >= sim->n || peer == i || !runnable(sim, nd) ||
        raft_role_get(nd->r) != RAFT_LEADER || nd->applied == 0 ||
        sim->failure[0])
        return;
    uint64_t a = nd->applied, t = raft_term_at(nd->r, a);
    if (t != nd->sm[a - 1].term) {
        fail(sim, "S5 leader %u applied (%llu, %llu) but its log has term "
             "%llu there", i, (unsigned long long)a,
             (unsigned long long)nd->sm[a - 1].term, (unsigned long long)t);
        return;
    }
    size_t size = sizeof(struct rsim_snap) +
                  (size_t)a * sizeof(struct rsim_applied);
    struct rsim_snap *s = xrealloc(NULL, size);
    s->from = nd->id;
    s->term = raft_term(nd->r);
    s->index = a;
    s->snap_term = t;
    s->max_value = nd->max_value;
    s->conf = nd->conf;
    s->has_conf = nd->has_conf;
    memcpy(s->place, nd->place, sizeof(s->place));
    memcpy(s->place_epoch, nd->place_epoch, sizeof(s->place_epoch));
    memcpy(s->ents, nd->sm, (size_t)a * sizeof(struct rsim_applied));
    sim->snap_sent++;
    storm_check(sim);
    trace(sim, "snapshot %u->%u term %llu (%llu, %llu)", i, peer,
          (unsigned long long)s->term, (unsigned long long)a,
          (unsigned long long)t);
    if (sim->cut[i][peer] || rsim_uniform(sim) < sim->net.loss) {
        sim->msgs_dropped++;
        free(s);
        return;
    }
    int copies = rsim_uniform(sim) < sim->net.dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        /* the network's delay plus the transfer of the state */
        naos_duration d = urange(sim, sim->net.delay_min, sim->net.delay_max) +
                          urange(sim, 1, 20);
        if (rsim_uniform(sim) < sim->net.reorder)
            d += urange(sim, 0, sim->net.reorder_max);
        struct rsim_event ev = {.at = sim->now + (naos_time)d,
                                .kind = EV_SNAP,
                                .dst = peer,
                                .src = i,
                                .life = sim->nodes[peer].life,
                                .snap = c + 1 < copies ? snap_clone(s) : s};
        heap_push(sim, ev);
    }
}

/* snap_deliver: s (owned) reaches nd's driver, which asks the core. On
 * INSTALL the state and log are written in one synced write
 * (finish_install, 2..10 ms later); nothing else runs meanwhile. */
static void
snap_deliver(struct rsim *sim, struct rsim_node *nd, struct rsim_snap *s)
{
    enum raft_snap_verdict v = raft_snapshot_offer(
        nd->r, s->from, s->term, s->index, s->snap_term, sim->now);
    trace(sim, "offer to %u term %llu (%llu, %llu): %s", nd->idx,
          (unsigned long long)s->term, (unsigned long long)s->index,
          (unsigned long long)s->snap_term,
          v == RAFT_SNAP_INSTALL ? "install"
          : v == RAFT_SNAP_HAVE  ? "have"
                                 : "refuse");
    if (v == RAFT_SNAP_INSTALL) {
        nd->installing = s;
        nd->busy = true;
        nd->busy_until = sim->now + (naos_time)urange(sim, 2, 10);
        nd->sync_at = nd->busy_until;
        struct rsim_event ev = {.at = nd->busy_until,
                                .kind = EV_SNAP_SYNC,
                                .dst = nd->idx,
                                .life = nd->life};
        heap_push(sim, ev);
        return;
    }
    if (v == RAFT_SNAP_HAVE)
        sim->snap_had++;
    else
        sim->snap_refused++;
    free(s);
    pump(sim, nd);
}

/* finish_install: the install's write is synced: the state machine is the
 * snapshot's (S5: exactly what the cluster committed at each of its
 * indices, and more than was applied), the disks hold its base, and the
 * core is told. */
static void
finish_install(struct rsim *sim, struct rsim_node *nd)
{
    struct rsim_snap *s = nd->installing;
    nd->installing = NULL;
    nd->busy = false;
    if (s->index <= nd->applied)
        fail(sim, "S5 node %u installs a snapshot of index %llu, having "
             "applied %llu", nd->idx, (unsigned long long)s->index,
             (unsigned long long)nd->applied);
    else if (s->ents[s->index - 1].term != s->snap_term)
        fail(sim, "S5 node %u installs a snapshot offered as (%llu, %llu) "
             "whose state ends with term %llu", nd->idx,
             (unsigned long long)s->index, (unsigned long long)s->snap_term,
             (unsigned long long)s->ents[s->index - 1].term);
    else if (nd->written.hard.term != raft_term(nd->r))
        fail(sim, "node %u installs a snapshot in term %llu with term %llu "
             "stored", nd->idx, (unsigned long long)raft_term(nd->r),
             (unsigned long long)nd->written.hard.term);
    for (uint64_t k = 1; k <= s->index && !sim->failure[0]; k++) {
        const struct rsim_applied *a = &s->ents[k - 1];
        if (k >= sim->commit_cap || sim->commit_term[k] == 0)
            fail(sim, "S5 node %u installs a snapshot holding (%llu, %llu), "
                 "which no node counts committed", nd->idx,
                 (unsigned long long)k, (unsigned long long)a->term);
        else if (sim->commit_term[k] != a->term ||
                 sim->commit_hash[k] != a->hash)
            fail(sim, "S5 node %u installs a snapshot holding (%llu, %llu); "
                 "committed there is term %llu", nd->idx,
                 (unsigned long long)k, (unsigned long long)a->term,
                 (unsigned long long)sim->commit_term[k]);
    }
    if (sim->failure[0]) {
        free(s);
        return;
    }
    struct raft_hard h = nd->written.hard;
    disk_install(&nd->written, s, h);
    if (!sim->lying_fsync)
        disk_install(&nd->synced, s, h);
    sm_grow(nd, s->index);
    memcpy(nd->sm, s->ents, (size_t)s->index * sizeof(*nd->sm));
    nd->applied = s->index;
    nd->max_value = s->max_value;
    nd->conf = s->conf;
    nd->has_conf = s->has_conf;
    memcpy(nd->place, s->place, sizeof(nd->place));
    memcpy(nd->place_epoch, s->place_epoch, sizeof(nd->place_epoch));
    trace(sim, "installed %u (%llu, %llu)", nd->idx,
          (unsigned long long)s->index, (unsigned long long)s->snap_term);
    /* the configuration the snapshot's state is at (NULL: it never
     * applied one, the founding voters), as cmdraft.c passes it */
    if (raft_snapshot_installed(nd->r, s->index, s->snap_term,
                                s->has_conf ? &s->conf : NULL,
                                sim->now) != NAOS_OK)
        fail(sim, "node %u: the core refused the snapshot it asked for: %s",
             nd->idx, raft_errmsg(nd->r));
    sim->snap_installs++;
    free(s);
    check_node(sim, nd);
    pump(sim, nd);
}

/* drive_snapshots: each leader's driver sends a snapshot to every peer
 * raft_peers_behind lists, at most one in flight per peer: again after
 * snap_resend while it stays listed. */
static void
drive_snapshots(struct rsim *sim)
{
    for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++) {
        struct rsim_node *nd = &sim->nodes[i];
        if (!runnable(sim, nd))
            continue;
        if (raft_role_get(nd->r) != RAFT_LEADER) {
            memset(nd->snap_at, 0, sizeof(nd->snap_at));
            continue;
        }
        struct raft_id behind[RSIM_MAX_NODES];
        size_t k = raft_peers_behind(nd->r, behind, RSIM_MAX_NODES);
        bool listed[RSIM_MAX_NODES] = {false};
        for (size_t x = 0; x < k && x < RSIM_MAX_NODES; x++)
            if (idx_of(sim, behind[x]) < sim->n)
                listed[idx_of(sim, behind[x])] = true;
        uint64_t term = raft_term(nd->r);
        for (unsigned j = 0; j < sim->n; j++) {
            if (!listed[j]) {
                nd->snap_at[j] = 0;
                continue;
            }
            if (nd->snap_at[j] && nd->snap_in[j] == term &&
                sim->now < nd->snap_at[j] + (naos_time)sim->snap_resend)
                continue;
            nd->snap_at[j] = sim->now;
            nd->snap_in[j] = term;
            rsim_send_snapshot(sim, i, j);
        }
    }
}

/* ---- lifecycle -------------------------------------------------------- */

static bool
node_start(struct rsim *sim, struct rsim_node *nd)
{
    /* every node, a joiner too, opens from the founding voters; the
     * applied state's configuration overrides them (raft_restore.conf) */
    struct raft_config c = sim->cfg;
    c.id = nd->id;
    c.voters = sim->ids;
    c.nvoters = sim->nvoters;
    struct raft_io io = {RAFT_IO_VERSION, &nd->rng, node_random, NULL};
    uint64_t first = nd->written.first > 1 ? nd->written.first : 1;
    struct raft_restore rs = {nd->written.hard, nd->written.ents + first - 1,
                              nd->written.n - (size_t)(first - 1),
                              nd->applied, first,
                              nd->has_conf ? &nd->conf : NULL};
    char err[128];
    if (raft_alloc(&nd->r, &c, &io, &rs, sim->now, err, sizeof(err)) !=
        NAOS_OK) {
        fail(sim, "node %u cannot restart from its disk: %s", nd->idx, err);
        return false;
    }
    nd->up = true;
    nd->busy = false;
    nd->seen_commit = raft_commit(nd->r);
    nd->seen_base = raft_first_index(nd->r) - 1;
    nd->m6_last = 0; /* a new core: scan its whole log */
    nd->conf_seen_index = UINT64_MAX; /* M3: take the new core's */
    nd->lead_term = 0;
    return true;
}

struct rsim *
rsim_new(unsigned n, uint64_t seed, const struct raft_config *tmpl)
{
    return rsim_new_spares(n, 0, seed, tmpl);
}

struct rsim *
rsim_new_spares(unsigned nvoters, unsigned nspares, uint64_t seed,
                const struct raft_config *tmpl)
{
    unsigned n = nvoters + nspares;
    if (nvoters < 1 || nvoters > RAFT_MAX_VOTERS || n > RSIM_MAX_NODES)
        return NULL;
    struct rsim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return NULL;
    sim->seed = seed;
    sim->rng = seed * 0x2545F4914F6CDD1Dull + 1;
    sim->compact_rng = seed * 0x9E3779B97F4A7C15ull + 0x5851F42D4C957F2Dull;
    sim->compact_rate = 0.25;
    sim->keep_entries = 8;
    sim->keep_bytes = 1024;
    sim->snap_resend = 250;
    sim->n = n;
    sim->nvoters = nvoters;
    sim->now = 1000;
    sim->cfg = *tmpl;
    sim->cfg.cluster_id = tmpl->cluster_id ? tmpl->cluster_id : 4242;
    sim->fast_close = true;
    sim->net = (struct rsim_net){0, 0, 1, 5, 0, 0};
    for (unsigned i = 0; i < n; i++)
        sim->ids[i].v = i + 1;
    conf_founding(sim, &sim->founding);
    sim->conf_committed = sim->founding;
    for (unsigned i = 0; i < n; i++) {
        struct rsim_node *nd = &sim->nodes[i];
        nd->idx = i;
        nd->id = sim->ids[i];
        nd->rng = rsim_rand(sim);
        /* the lease model's deployments start on the founding voters */
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
            nd->place[d] = (uint8_t)(d % nvoters);
        if (!node_start(sim, nd)) {
            rsim_free(sim);
            return NULL;
        }
    }
    return sim;
}

void
rsim_free(struct rsim *sim)
{
    if (sim == NULL)
        return;
    for (unsigned i = 0; i < sim->n; i++) {
        struct rsim_node *nd = &sim->nodes[i];
        raft_free(nd->r);
        disk_free(&nd->written);
        disk_free(&nd->synced);
        free(nd->sm);
        free(nd->installing);
    }
    for (size_t i = 0; i < sim->nheap; i++) {
        free(sim->heap[i].msg);
        free(sim->heap[i].snap);
    }
    free(sim->heap);
    rsim__lease_free(sim->lease);
    free(sim->term_leader);
    free(sim->commit_term);
    free(sim->commit_hash);
    free(sim->commit_in);
    free(sim->pairs);
    free(sim->votes);
    free(sim);
}

void
rsim_crash(struct rsim *sim, unsigned i, bool power_loss)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (!nd->up)
        return;
    trace(sim, "crash %u%s written %zu synced %zu", i,
          power_loss ? " power loss" : "", nd->written.n, nd->synced.n);
    raft_free(nd->r);
    nd->r = NULL;
    nd->up = false;
    nd->busy = false;
    nd->pause_until = 0;
    nd->life++;
    /* an install not synced yet leaves nothing; transfers stop */
    free(nd->installing);
    nd->installing = NULL;
    memset(nd->snap_at, 0, sizeof(nd->snap_at));
    if (power_loss)
        disk_copy(&nd->written, &nd->synced);
    else
        disk_copy(&nd->synced, &nd->written);
    if (sim->lease)
        rsim__lease_crash(sim, i, power_loss);
    if (!sim->fast_close)
        return;
    for (unsigned j = 0; j < sim->n; j++) {
        if (j == i || !sim->nodes[j].up)
            continue;
        struct rsim_event ev = {.at = sim->now + (naos_time)urange(sim, 1, 5),
                                .kind = EV_CONN_CLOSED,
                                .dst = j,
                                .src = i,
                                .life = sim->nodes[j].life};
        heap_push(sim, ev);
    }
}

void
rsim_restart(struct rsim *sim, unsigned i)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (nd->up)
        return;
    nd->restarts++;
    trace(sim, "restart %u log %zu term %llu vote %llu", i, nd->written.n,
          (unsigned long long)nd->written.hard.term,
          (unsigned long long)nd->written.hard.vote);
    if (node_start(sim, nd) && sim->lease)
        rsim__lease_restart(sim, i);
}

void
rsim_pause(struct rsim *sim, unsigned i, naos_duration d)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (nd->up)
        nd->pause_until = sim->now + (naos_time)d;
}

void
rsim_cut(struct rsim *sim, unsigned from, unsigned to, bool cut)
{
    sim->cut[from][to] = cut;
}

void
rsim_partition(struct rsim *sim, const unsigned *side, size_t nside)
{
    bool in[RSIM_MAX_NODES] = {false};
    for (size_t k = 0; k < nside; k++)
        in[side[k]] = true;
    for (unsigned a = 0; a < sim->n; a++)
        for (unsigned b = 0; b < sim->n; b++)
            if (in[a] != in[b])
                sim->cut[a][b] = true;
}

void
rsim_heal(struct rsim *sim)
{
    memset(sim->cut, 0, sizeof(sim->cut));
}

void
rsim_conn_closed(struct rsim *sim, unsigned i, unsigned peer)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (!runnable(sim, nd))
        return;
    raft_on_conn_closed(nd->r, sim->ids[peer], sim->now);
    pump(sim, nd);
    check_all(sim);
}

int
rsim_leader(const struct rsim *sim)
{
    int best = -1;
    uint64_t term = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        if (nd->up && raft_role_get(nd->r) == RAFT_LEADER &&
            raft_term(nd->r) >= term) {
            best = (int)i;
            term = raft_term(nd->r);
        }
    }
    return best;
}

int
rsim_change(struct rsim *sim, enum raft_change_kind kind, unsigned i,
            uint64_t *index)
{
    int l = rsim_leader(sim);
    sim->changes_asked++;
    if (l < 0 || !runnable(sim, &sim->nodes[l]) || i >= sim->n ||
        sim->failure[0]) {
        sim->changes_busy++;
        return NAOS_EBUSY;
    }
    struct rsim_node *nd = &sim->nodes[l];
    uint64_t idx = 0;
    int rv = raft_change(nd->r, kind, sim->ids[i], sim->now, &idx);
    trace(sim, "change %d of %u at leader %d: %d %s", (int)kind, i, l, rv,
          rv == NAOS_OK ? "" : raft_errmsg(nd->r));
    if (rv == NAOS_EBUSY)
        sim->changes_busy++;
    if (rv != NAOS_OK)
        return rv;
    sim->changes_ok++;
    if (kind == RAFT_CHANGE_REMOVE)
        sim->retired[i] = true; /* ids are never reused */
    if (index)
        *index = idx;
    pump(sim, nd);
    check_all(sim);
    return NAOS_OK;
}

bool
rsim_is_member(const struct rsim *sim, unsigned i)
{
    return raft_conf_is_voter(&sim->conf_committed, sim->ids[i]) ||
           raft_conf_is_learner(&sim->conf_committed, sim->ids[i]);
}

bool
rsim_propose(struct rsim *sim, unsigned i)
{
    struct rsim_node *nd = &sim->nodes[i];
    if (!runnable(sim, nd))
        return false;
    uint64_t v = ++sim->next_value;
    uint64_t idx;
    int rv = raft_propose(nd->r, RAFT_ENTRY_COMMAND, 1, &v, sizeof(v),
                          sim->now, &idx);
    if (rv != NAOS_OK) {
        sim->proposals_refused++;
        return false;
    }
    sim->proposals++;
    pump(sim, nd);
    check_all(sim);
    return true;
}

void
rsim_mark_progress(struct rsim *sim)
{
    sim->values_applied_everywhere_from = sim->next_value;
}

bool
rsim_progress(struct rsim *sim, void *unused)
{
    (void)unused;
    unsigned have = 0, up = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        if (!nd->up || !rsim_is_member(sim, i))
            continue; /* a spare, or removed */
        up++;
        have += nd->max_value > sim->values_applied_everywhere_from;
    }
    unsigned need = sim->progress_quorum && sim->progress_quorum < up
                        ? sim->progress_quorum
                        : up;
    return have >= need;
}

/* ---- the loop --------------------------------------------------------- */

bool
rsim__lease_mail_waiting(const struct rsim *sim, unsigned i)
{
    for (size_t k = 0; k < sim->nheap; k++) {
        const struct rsim_event *ev = &sim->heap[k];
        if (ev->kind == EV_LEASE && ev->dst == i && ev->at <= sim->now &&
            ev->life == sim->nodes[i].life)
            return true;
    }
    return false;
}

static void
handle_event(struct rsim *sim, struct rsim_event *ev)
{
    struct rsim_node *nd = &sim->nodes[ev->dst];
    if (!nd->up || ev->life != nd->life) {
        free(ev->msg); /* a crash lost it (its connection closed) */
        free(ev->snap);
        return;
    }
    if (ev->kind == EV_SYNC || ev->kind == EV_SNAP_SYNC) {
        if (sim->now < nd->pause_until) {
            ev->at = nd->sync_at = nd->pause_until;
            heap_push(sim, *ev);
            return;
        }
        if (ev->kind == EV_SYNC)
            finish_batch(sim, nd);
        else
            finish_install(sim, nd);
        return;
    }
    if (!runnable(sim, nd)) {
        /* The loop is blocked (fsync) or stopped: the event waits for the
         * fsync event (queued before it at that time, so handled first)
         * or the pause's end. */
        ev->at = nd->busy ? nd->sync_at : nd->pause_until;
        heap_push(sim, *ev);
        return;
    }
    if (ev->kind == EV_LEASE) {
        if (sim->lease)
            rsim__lease_recv(sim, ev->dst, ev->src, &ev->lm);
        return;
    }
    if (ev->kind == EV_DELIVER) {
        trace_msg(sim, "deliver", ev->src, ev->dst, ev->msg);
        raft_on_message(nd->r, ev->msg, sim->now);
        free(ev->msg);
    } else if (ev->kind == EV_SNAP) {
        /* the core is offered it with nothing pending (raft.h: not
         * between raft_ready and raft_advance) */
        if (raft_has_ready(nd->r))
            pump(sim, nd);
        if (!runnable(sim, nd)) {
            ev->at = nd->sync_at;
            heap_push(sim, *ev);
            return;
        }
        snap_deliver(sim, nd, ev->snap);
        return;
    } else {
        raft_on_conn_closed(nd->r, sim->ids[ev->src], sim->now);
    }
    pump(sim, nd);
}

/* step: one event, tick or client proposal at or before limit. */
static bool
step(struct rsim *sim, naos_time limit)
{
    naos_time t = sim->nheap ? sim->heap[0].at : NAOS_TIME_NEVER;
    int tick = -1;
    for (unsigned i = 0; i < sim->n; i++) {
        struct rsim_node *nd = &sim->nodes[i];
        if (!nd->up || nd->busy)
            continue;
        naos_time d = raft_next_deadline(nd->r);
        if (d < nd->pause_until)
            d = nd->pause_until;
        if (d < t) {
            t = d;
            tick = (int)i;
        }
    }
    bool client = false;
    if (sim->client_max > 0 && sim->client_next < t) {
        t = sim->client_next;
        client = true;
        tick = -1;
    }
    bool lease = false;
    if (sim->lease) {
        naos_time l = rsim__lease_deadline(sim);
        if (l < t) {
            t = l;
            lease = true;
            client = false;
            tick = -1;
        }
    }
    if (t > limit)
        return false;
    if (t > sim->now)
        sim->now = t;
    sim->events++;
    if (client) {
        /* a read at every node that believes it leads, stale ones too
         * (before the proposal, which keeps the leader busy syncing) */
        for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++) {
            struct rsim_node *nd = &sim->nodes[i];
            if (!runnable(sim, nd) || raft_role_get(nd->r) != RAFT_LEADER)
                continue;
            sim->reads_asked++;
            if (raft_read_index(nd->r, sim->commit_max, sim->now) == NAOS_OK)
                pump(sim, nd);
        }
        int l = rsim_leader(sim);
        if (l >= 0)
            rsim_propose(sim, (unsigned)l);
        sim->client_next =
            sim->now + (naos_time)urange(sim, sim->client_min, sim->client_max);
    } else if (tick >= 0) {
        struct rsim_node *nd = &sim->nodes[tick];
        raft_tick(nd->r, sim->now);
        pump(sim, nd);
    } else if (lease) {
        /* the lease model's timer: rsim__lease_after does the work */
    } else {
        struct rsim_event ev = heap_pop(sim);
        handle_event(sim, &ev);
    }
    drive_snapshots(sim);
    check_all(sim);
    if (sim->lease && !sim->failure[0]) {
        rsim__lease_after(sim);
        check_all(sim);
    }
    return true;
}

bool
rsim_run_until(struct rsim *sim, naos_time t)
{
    while (!sim->failure[0] && step(sim, t)) {
    }
    if (sim->now < t)
        sim->now = t;
    return sim->failure[0] == 0;
}

bool
rsim_step_until(struct rsim *sim, bool (*pred)(struct rsim *, void *),
                void *ctx, naos_time deadline)
{
    while (!sim->failure[0]) {
        if (pred(sim, ctx))
            return true;
        if (!step(sim, deadline))
            break;
    }
    if (sim->now < deadline && !sim->failure[0])
        sim->now = deadline;
    return !sim->failure[0] && pred(sim, ctx);
}

void
rsim_dump(const struct rsim *sim, FILE *f)
{
    fprintf(f, "  t=%llu max_term=%llu next_value=%llu mark=%llu\n",
            (unsigned long long)sim->now, (unsigned long long)sim->max_term,
            (unsigned long long)sim->next_value,
            (unsigned long long)sim->values_applied_everywhere_from);
    for (unsigned i = 0; i < sim->n; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        if (!nd->up) {
            fprintf(f, "  node %u down\n", i);
            continue;
        }
        char cb[128];
        conf_print(raft_conf_current(nd->r), cb, sizeof(cb));
        fprintf(f, "  node %u conf %s (entry %llu)%s\n", i, cb,
                (unsigned long long)raft_conf_index(nd->r),
                sim->retired[i] ? " retired" : "");
        fprintf(f, "  node %u %-13s term %llu leader %llu last %llu "
                "commit %llu applied %llu max_value %llu busy %d "
                "synced %zu sync_at %llu pause_until %llu nheap %zu\n", i,
                raft_role_name(raft_role_get(nd->r)),
                (unsigned long long)raft_term(nd->r),
                (unsigned long long)raft_leader(nd->r).v,
                (unsigned long long)raft_last_index(nd->r),
                (unsigned long long)raft_commit(nd->r),
                (unsigned long long)nd->applied,
                (unsigned long long)nd->max_value, nd->busy, nd->synced.n,
                (unsigned long long)nd->sync_at,
                (unsigned long long)nd->pause_until, sim->nheap);
    }
}

/* ---- the chaos run ---------------------------------------------------- */

static int
pick(struct rsim *sim, bool up)
{
    unsigned c[RSIM_MAX_NODES], n = 0;
    for (unsigned i = 0; i < sim->n; i++)
        if (sim->nodes[i].up == up)
            c[n++] = i;
    return n ? (int)c[rsim_rand(sim) % n] : -1;
}

static void chaos_fault(struct rsim *sim);

void
rsim__chaos_fault(struct rsim *sim)
{
    chaos_fault(sim);
}

static void
chaos_fault(struct rsim *sim)
{
    unsigned n = sim->n;
    int i;
    switch (rsim_rand(sim) % 13) {
    case 0:
    case 1:
        if ((i = pick(sim, true)) >= 0)
            rsim_crash(sim, (unsigned)i, rsim_rand(sim) % 2);
        break;
    case 2:
        /* the leader, preferably: it holds the most unreplicated state */
        if ((i = rsim_leader(sim)) >= 0)
            rsim_crash(sim, (unsigned)i, rsim_rand(sim) % 2);
        break;
    case 3:
    case 4:
        if ((i = pick(sim, false)) >= 0)
            rsim_restart(sim, (unsigned)i);
        break;
    case 5:
        if ((i = rsim_leader(sim)) >= 0) {
            unsigned s = (unsigned)i;
            rsim_partition(sim, &s, 1);
        }
        break;
    case 6: {
        unsigned side[RSIM_MAX_NODES], k = (n - 1) / 2;
        unsigned first = (unsigned)(rsim_rand(sim) % n);
        for (unsigned j = 0; j < k; j++)
            side[j] = (first + j) % n;
        rsim_partition(sim, side, k);
        break;
    }
    case 7: {
        /* a bridge: b sees both sides, the sides do not see each other */
        unsigned b = (unsigned)(rsim_rand(sim) % n);
        for (unsigned x = 0; x < n; x++)
            for (unsigned y = 0; y < n; y++) {
                if (x == b || y == b || x == y)
                    continue;
                unsigned sx = (x + n - b) % n <= n / 2,
                         sy = (y + n - b) % n <= n / 2;
                if (sx != sy)
                    sim->cut[x][y] = true;
            }
        break;
    }
    case 8:
        rsim_heal(sim);
        break;
    case 9:
        if ((i = pick(sim, true)) >= 0)
            rsim_pause(sim, (unsigned)i, urange(sim, 50, 1500));
        break;
    case 10:
        if ((i = pick(sim, true)) >= 0) {
            struct raft_id l = raft_leader(sim->nodes[i].r);
            if (l.v && l.v - 1 != (unsigned)i)
                rsim_conn_closed(sim, (unsigned)i, (unsigned)(l.v - 1));
        }
        break;
    case 11:
        /* the leader's driver offers a snapshot to a peer the core does
         * not list (a transfer begun on a stale listing, a late copy):
         * a log that already holds it must be kept */
        if ((i = rsim_leader(sim)) >= 0 && n > 1)
            rsim_send_snapshot(sim, (unsigned)i,
                               ((unsigned)i + 1 +
                                (unsigned)(rsim_rand(sim) % (n - 1))) % n);
        break;
    default: {
        unsigned a = (unsigned)(rsim_rand(sim) % n),
                 b = (unsigned)(rsim_rand(sim) % n);
        if (a != b)
            rsim_cut(sim, a, b, true);
        break;
    }
    }
}

/* chaos_change: what an operator and node_promote.c do, at random: add a
 * spare as a learner (never a removed id), promote a learner, remove a
 * voter other than the leader while more than 3 remain (now and then the
 * leader itself), or remove a learner. What is possible is read from the
 * leader's configuration; a refusal (EBUSY: a change under way, the
 * leader's no-op not committed) is left for a later try. */
static void
chaos_change(struct rsim *sim)
{
    int l = rsim_leader(sim);
    if (l < 0)
        return;
    const struct raft_conf *c = raft_conf_current(sim->nodes[l].r);
    unsigned spare[RSIM_MAX_NODES], ns = 0, lrn[RSIM_MAX_NODES], nl = 0,
             vot[RSIM_MAX_NODES], nv = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        if (raft_conf_is_voter(c, sim->ids[i])) {
            if (i != (unsigned)l)
                vot[nv++] = i;
        } else if (raft_conf_is_learner(c, sim->ids[i])) {
            lrn[nl++] = i;
        } else if (!sim->retired[i]) {
            spare[ns++] = i;
        }
    }
    uint64_t x = rsim_rand(sim);
    switch (x % 4) {
    case 0:
        if (ns)
            rsim_change(sim, RAFT_CHANGE_ADD_LEARNER, spare[(x >> 8) % ns],
                        NULL);
        break;
    case 1:
        if (nl && c->nvoters < (sim->nvoters < 3 ? 3 : sim->nvoters) + 2)
            rsim_change(sim, RAFT_CHANGE_PROMOTE, lrn[(x >> 8) % nl], NULL);
        break;
    case 2:
        if (nv && c->nvoters > 3)
            rsim_change(sim, RAFT_CHANGE_REMOVE, vot[(x >> 8) % nv], NULL);
        else if (nl)
            rsim_change(sim, RAFT_CHANGE_REMOVE, lrn[(x >> 8) % nl], NULL);
        break;
    default:
        /* the leader removes itself: it leads until that commits */
        if (c->nvoters > 3 && (x >> 8) % 3 == 0)
            rsim_change(sim, RAFT_CHANGE_REMOVE, (unsigned)l, NULL);
        break;
    }
}

int
rsim_random_run(uint64_t seed, unsigned n, naos_duration chaos_ms,
                bool lying_fsync, char *why, size_t whylen,
                struct rsim_figures *fig)
{
    struct raft_config c;
    raft_config_default(&c);
    /* Small appends on some seeds: a follower far behind then acknowledges
     * old-term entries before the new leader's no-op, the shape Figure 8
     * needs (with 64 per message that is rare). */
    static const size_t per_msg[] = {1, 2, 4, 64};
    c.max_entries_per_msg = per_msg[(seed * 0x9E3779B97F4A7C15ull) >> 62];
    /* Membership on 3 seeds in 10: two spares join the chaos, which then
     * also changes the configuration. Decided from the seed alone, so the
     * other seeds run exactly as before. */
    uint64_t mh = (seed * 0xD1B54A32D192ED03ull) >> 32;
    bool members = mh % 10 < 3;
    /* and one in four of those starts from a lone founder, the others
     * joining (it_raft_join's cluster) */
    unsigned founders = members && (mh / 10) % 4 == 0 ? 1 : n;
    struct rsim *sim =
        rsim_new_spares(founders, members ? n + 2 - founders : 0, seed, &c);
    if (sim == NULL) {
        snprintf(why, whylen, "seed=%llu: rsim_new failed",
                 (unsigned long long)seed);
        return 1;
    }
    sim->lying_fsync = lying_fsync;
    /* a small compaction budget, so that a voter cut off or down for a
     * while needs a snapshot: 4..16 entries, and on some seeds fewer
     * bytes than that (a command is 8 bytes, a no-op none) */
    sim->keep_entries = 4 + (size_t)(compact_uniform(sim) * 13);
    sim->keep_bytes = 8 * (2 + (size_t)(compact_uniform(sim) * 30));
    sim->net.loss = rsim_uniform(sim) * 0.2;
    sim->net.dup = rsim_uniform(sim) * 0.1;
    sim->net.delay_min = 1;
    sim->net.delay_max = urange(sim, 2, 20);
    sim->net.reorder = 0.2;
    sim->net.reorder_max = 50;
    sim->client_min = 10;
    sim->client_max = 50;
    sim->client_next = sim->now + 500;
    /* Every other seed a fast tempo: faults 20..250 ms apart, leaders
     * dying before they replicate (Figure 8 needs several such terms in
     * a row). */
    naos_duration gap_lo = 100, gap_hi = 800;
    if (rsim_rand(sim) % 2) {
        gap_lo = 20;
        gap_hi = 250;
    }
    naos_time end = sim->now + (naos_time)chaos_ms;
    while (sim->now < end && !sim->failure[0]) {
        naos_time next = sim->now + (naos_time)urange(sim, gap_lo, gap_hi);
        rsim_run_until(sim, next < end ? next : end);
        if (sim->now >= end || sim->failure[0])
            break;
        if (members && rsim_rand(sim) % 2 == 0)
            chaos_change(sim);
        else
            chaos_fault(sim);
    }
    int rc = 0;
    if (!sim->failure[0]) {
        rsim_heal(sim);
        sim->net.loss = sim->net.dup = 0;
        unsigned members_n = 0;
        for (unsigned i = 0; i < sim->n; i++) {
            sim->nodes[i].pause_until = 0;
            rsim_restart(sim, i);
            members_n += rsim_is_member(sim, i);
        }
        rsim_mark_progress(sim);
        /* One entry per message catches a restarted node up one round
         * trip per entry: there a majority must progress, not all. */
        if (c.max_entries_per_msg < 64)
            sim->progress_quorum = members_n / 2 + 1;
        naos_time heal = sim->now;
        naos_time limit = heal + 20 * (naos_time)c.election_timeout;
        if (!rsim_step_until(sim, rsim_progress, NULL, limit) &&
            !sim->failure[0]) {
            snprintf(why, whylen, "seed=%llu n=%u: no progress within %lld "
                     "ms of healing (leader %d, max term %llu)",
                     (unsigned long long)seed, n,
                     (long long)(limit - heal), rsim_leader(sim),
                     (unsigned long long)sim->max_term);
            if (getenv("NAOS_SIM_DUMP"))
                rsim_dump(sim, stdout);
            rc = 2;
        }
        if (fig)
            fig->heal_to_progress = (naos_duration)(sim->now - heal);
    }
    if (sim->failure[0]) {
        snprintf(why, whylen, "%s", sim->failure);
        rc = 1;
    }
    if (fig) {
        fig->leader_changes = sim->leader_changes;
        fig->max_term = sim->max_term;
        fig->proposals = sim->proposals;
        fig->applied = sim->commit_max;
        fig->events = sim->events;
        fig->reads_ok = sim->reads_ok;
        fig->reads_failed = sim->reads_failed;
        fig->compactions = sim->compactions;
        fig->compactions_past = sim->compactions_past;
        fig->snap_sent = sim->snap_sent;
        fig->snap_installs = sim->snap_installs;
        fig->snap_had = sim->snap_had;
        fig->changes_ok = sim->changes_ok;
        fig->changes_busy = sim->changes_busy;
        fig->confs_committed = sim->confs_committed;
        fig->removed_stepdowns = sim->removed_stepdowns;
        fig->votes_nonvoter = sim->votes_nonvoter;
        fig->membership = members;
    }
    rsim_free(sim);
    return rc;
}
