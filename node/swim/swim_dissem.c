/* SPDX-License-Identifier: Apache-2.0 */
/* swim_dissem.c: infection-style dissemination (SWIM §4.1) for swim.c.
 *
 * Each member has at most two queued updates: its state (alive, suspect,
 * dead, left) and its health. The queue holds counters, not copies: what is
 * sent is the member's state at send time, so a newer update about a
 * member silently replaces the older one (memberlist's "invalidates").
 * Every message takes the least-transmitted updates first (newest first on
 * ties) until the byte or count budget is reached, and an update is
 * dropped after retransmit_mult * ceil(log10(N + 1)) transmissions.
 *
 * Buddy system (Lifeguard §IV-C): a message to a member we suspect carries
 * that suspicion first, whatever its transmit count, so the member learns
 * of it at once and can refute. A message to a member we hold dead carries
 * that too (it is alive enough to talk to us: let it refute).
 *
 * Corrections: a message that tells us something older than what we hold
 * (a suspicion or death of a member we hold alive at a higher incarnation,
 * ourselves included) gets our view of that member back on the answer, or
 * on a gossip message of its own. A node that missed a refutation would
 * otherwise hold the suspicion until its timer declared a live member
 * dead: the queue sends a refutation a bounded number of times to random
 * peers, and at 5 % loss in a 50-node cluster some node misses all of
 * them in about one run of five (cluster-tests/sim seed sweep).
 *
 * Quiet health (swim_set_health): after a quiet change of our own health,
 * the next message to each member carries it once, outside the queue, and
 * receivers keep it to themselves. Relaying it would cost every member
 * retransmit_mult * log10(N) messages per change of every other member,
 * which grows with N; sending it once per peer costs each node at most one
 * update per message it sends.
 *
 * The wire-size estimate follows protobuf's encoding: one-byte tags
 * (fields < 16), varints for counters, fixed64 for ids, length-delimited
 * strings, bytes and sub-messages. */
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/swim/swim_int.h"

static size_t
varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t
field_varint(uint64_t v)
{
    return v ? 1 + varint_size(v) : 0; /* proto3 omits zero values */
}

static size_t
field_fixed64(uint64_t v)
{
    return v ? 9 : 0;
}

static size_t
field_bytes(size_t len)
{
    return len ? 1 + varint_size(len) + len : 0;
}

static size_t
field_str(const char *s)
{
    return s ? field_bytes(strnlen(s, SWIM_ADDR_MAX)) : 0;
}

size_t
swim__update_wire_size(const struct swim_update *u)
{
    size_t n = field_varint((uint64_t)u->kind) + field_fixed64(u->id.v) +
               field_varint(u->incarnation) + field_fixed64(u->from.v) +
               field_str(u->name) + field_str(u->addr) +
               field_varint(u->health_inc) + field_varint(u->health_ver) +
               field_varint(u->health_sub) + field_bytes(u->health_len) +
               (u->full ? 2 : 0);
    return 1 + varint_size(n) + n;
}

size_t
swim_msg_wire_size(const struct swim_msg *m)
{
    if (m == NULL)
        return 0;
    size_t n = field_varint(m->seq) + field_fixed64(m->target.v) +
               field_str(m->target_addr) + (m->join ? 2 : 0) +
               field_fixed64(m->view_hash);
    for (size_t i = 0; m->updates && i < m->nupdates; i++)
        n += swim__update_wire_size(&m->updates[i]);
    if (m->nwants)
        n += field_bytes(8 * m->nwants); /* packed fixed64 */
    return n;
}

unsigned
swim__retransmit_limit(const struct swim *s)
{
    /* ceil(log10(N + 1)) without libm. */
    size_t n = swim_num_alive(s) + 1;
    unsigned digits = 0;
    for (size_t p = 1; p < n; p *= 10)
        digits++;
    if (digits == 0)
        digits = 1;
    return s->cfg.retransmit_mult * digits;
}

void
swim__enqueue(struct swim *s, struct swim__mem *m, bool health)
{
    int *bc = health ? &m->bc_health : &m->bc_state;
    if (*bc < 0) {
        s->npending++;
        s->npending_state += !health;
    }
    *bc = 0;
    if (health)
        m->bc_stamp_health = ++s->stamp;
    else
        m->bc_stamp_state = ++s->stamp;
}

void
swim__dequeue(struct swim *s, struct swim__mem *m)
{
    if (m->bc_state >= 0) {
        m->bc_state = -1;
        s->npending--;
        s->npending_state--;
    }
    if (m->bc_health >= 0) {
        m->bc_health = -1;
        s->npending--;
    }
}

void
swim__fill_update(const struct swim__mem *m, bool health,
                  struct swim_update *u)
{
    memset(u, 0, sizeof(*u));
    u->id = m->pub.id;
    if (health) {
        u->kind = SWIM_UPD_HEALTH;
        u->health_inc = m->pub.health_inc;
        u->health_ver = m->pub.health_ver;
        u->health_sub = m->pub.health_sub;
        u->health = m->pub.health_len ? m->pub.health : NULL;
        u->health_len = m->pub.health_len;
        return;
    }
    u->kind = (enum swim_upd_kind)(m->pub.state + 1);
    u->incarnation = m->pub.incarnation;
    switch (m->pub.state) {
    case SWIM_ALIVE:
        u->name = m->pub.name;
        u->addr = m->pub.addr;
        break;
    case SWIM_SUSPECT:
    case SWIM_DEAD:
        u->from = m->from;
        break;
    case SWIM_LEFT:
        break;
    }
}

void
swim__fill_entry(const struct swim__mem *m, bool full, struct swim_update *u)
{
    memset(u, 0, sizeof(*u));
    u->kind = (enum swim_upd_kind)(m->pub.state + 1);
    u->id = m->pub.id;
    u->incarnation = m->pub.incarnation;
    u->health_inc = m->pub.health_inc;
    u->health_ver = m->pub.health_ver;
    u->full = full;
    if (full) {
        u->from = m->from;
        u->name = m->pub.name;
        u->addr = m->pub.addr;
        u->health_sub = m->pub.health_sub;
        u->health = m->pub.health_len ? m->pub.health : NULL;
        u->health_len = m->pub.health_len;
    }
}

struct cand {
    struct swim__mem *m;
    bool health;
    int tx;
    uint64_t stamp;
};

static int
cand_cmp(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->tx != y->tx)
        return x->tx < y->tx ? -1 : 1;
    if (x->stamp != y->stamp)
        return x->stamp > y->stamp ? -1 : 1; /* newest first */
    return 0;
}

/* count_tx records one transmission of m's update and drops it once it
 * has been sent `limit` times. */
static void
count_tx(struct swim *s, struct swim__mem *m, bool health, unsigned limit)
{
    int *bc = health ? &m->bc_health : &m->bc_state;
    if (*bc < 0)
        return;
    if ((unsigned)++*bc >= limit) {
        *bc = -1;
        s->npending--;
        s->npending_state -= !health;
    }
}

/* owed: m's state was among the n corrections just written. */
static bool
owed(const struct swim *s, size_t n, const struct swim__mem *m)
{
    for (size_t i = 0; i < n; i++)
        if (s->corr[i] == m)
            return true;
    return false;
}

size_t
swim__piggyback(struct swim *s, struct swim__mem *to, size_t base)
{
    size_t max_count = s->cfg.piggyback_max_count;
    if (max_count > SWIM_MAX_PIGGYBACK)
        max_count = SWIM_MAX_PIGGYBACK;
    size_t budget = s->cfg.piggyback_max_bytes;
    size_t used = base, n = 0;
    unsigned limit = swim__retransmit_limit(s);
    struct swim__mem *buddy = NULL;
    struct swim__mem *me = s->self;
    bool told = false; /* our health is in this message already */

    /* Corrections owed to `to` (it told us something older than what we
     * hold): first, whatever their transmit count, once. */
    size_t ncorr = 0;
    if (to && s->ncorr && to->pub.id.v == s->corr_to.v) {
        for (size_t i = 0; i < s->ncorr && n < max_count; i++) {
            swim__fill_update(s->corr[i], false, &s->pig[n]);
            size_t sz = swim__update_wire_size(&s->pig[n]);
            if (used + sz > budget)
                continue;
            used += sz;
            n++;
        }
        ncorr = s->ncorr;
        s->ncorr = 0;
    }
    if (to && !to->pub.is_self && !owed(s, ncorr, to) &&
        ((to->pub.state == SWIM_SUSPECT && s->cfg.lifeguard) ||
         to->pub.state == SWIM_DEAD) &&
        n < max_count) {
        buddy = to;
        swim__fill_update(buddy, false, &s->pig[n]);
        used += swim__update_wire_size(&s->pig[n]);
        n++;
        count_tx(s, buddy, false, limit);
    }
    if (to && !to->pub.is_self && s->health_stamp > s->health_sig_stamp &&
        to->told < s->health_stamp && n < max_count) {
        struct swim_update *u = &s->pig[n];
        swim__fill_update(me, true, u);
        size_t sz = swim__update_wire_size(u);
        if (used + sz <= budget) {
            used += sz;
            n++;
            told = true;
            to->told = s->health_stamp;
        }
    }
    if (s->npending == 0 || n >= max_count)
        return n;

    /* Collect the queued updates, least transmitted first. The scratch
     * array is small for the clusters we run; on allocation failure we
     * simply send nothing this time. */
    struct cand *c = naos_alloc(s->npending * sizeof(*c));
    if (c == NULL)
        return n;
    size_t nc = 0;
    for (size_t i = 0; i < s->nmems && nc < s->npending; i++) {
        struct swim__mem *m = s->mems[i];
        if (m->bc_state >= 0 && m != buddy && !owed(s, ncorr, m))
            c[nc++] = (struct cand){m, false, m->bc_state, m->bc_stamp_state};
        if (m->bc_health >= 0 && nc < s->npending && !(m == me && told))
            c[nc++] = (struct cand){m, true, m->bc_health, m->bc_stamp_health};
    }
    qsort(c, nc, sizeof(*c), cand_cmp);
    for (size_t i = 0; i < nc && n < max_count; i++) {
        struct swim_update *u = &s->pig[n];
        swim__fill_update(c[i].m, c[i].health, u);
        size_t sz = swim__update_wire_size(u);
        if (used + sz > budget)
            continue; /* a smaller one may still fit */
        used += sz;
        n++;
        if (c[i].m == me && c[i].health && to && !to->pub.is_self)
            to->told = s->health_stamp;
        count_tx(s, c[i].m, c[i].health, limit);
    }
    naos_free(c);
    return n;
}
