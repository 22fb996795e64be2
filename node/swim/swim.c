/* SPDX-License-Identifier: Apache-2.0 */
/* swim.c: the membership core (swim.h). SWIM (Das et al. 2002) with
 * Lifeguard (Dadgar et al. 2017) and the closed-connection fast path.
 *
 * A member's state, as this node sees it. "key" is (incarnation, state
 * rank alive < suspect < dead < left); an update applies when its key is
 * greater than the local key, with the exceptions noted:
 *
 *   state    event                             -> state / action
 *   (none)   alive(i)                          -> ALIVE i, probe order
 *   (none)   sync entry suspect(i)             -> SUSPECT i (we learn of it)
 *   (none)   sync entry dead/left(i)           -> ignored (gone: a reaped
 *            member must not come back through the next sync)
 *   ALIVE    alive(j > i)                      -> ALIVE j
 *   ALIVE    suspect(j >= i) / our probe fails -> SUSPECT j, suspicion timer
 *   ALIVE    conn closed (fast path)           -> SUSPECT i, fast probe
 *   SUSPECT  suspect(i) from a new node        -> SUSPECT, timer shortened
 *   SUSPECT  alive(j > i) (refutation)         -> ALIVE j
 *   SUSPECT  suspicion timer                   -> DEAD i (we declare it)
 *   SUSPECT  fast probe: no ack, >= 1 nack     -> DEAD i (we declare it)
 *   any      dead(j), key greater              -> DEAD j
 *   any      left(j), key greater              -> LEFT j
 *   DEAD     suspect(any)                      -> ignored (wait for alive)
 *   ALIVE/SUSPECT  sync entry dead(j)          -> SUSPECT j (memberlist:
 *            a dead claim from a full-state exchange may be stale; let the
 *            member refute it)
 *   DEAD/LEFT  alive(j > i)                    -> ALIVE j (rejoin/restart)
 *   DEAD/LEFT  reap_timeout                    -> removed
 *
 * About ourselves: any suspect/dead/left claim with an incarnation >= ours
 * (or an alive claim with a greater one) is refuted by gossiping alive with
 * max(ours, claimed) + 1 (SWIM §4.2); we are never anything but alive
 * unless we left.
 *
 * Probe round (SWIM §3.1, Lifeguard §IV-A):
 *   IDLE      next_probe_at      -> DIRECT: ping target (round-robin)
 *   DIRECT    ack                -> IDLE until the round's end, LHM - 1
 *   DIRECT    probe timeout      -> INDIRECT: ping-req via k relays
 *   INDIRECT  ack (relayed)      -> IDLE until the round's end, LHM - 1
 *   INDIRECT  every relay nacked -> suspect target (no need to wait:
 *                                   none can reach it either)
 *   INDIRECT  round end          -> suspect target, LHM + missed nacks,
 *                                   next round at once
 * The probe timeout and the round length are scaled by (LHM + 1).
 *
 * Push-pull (SYNC) lives in swim_sync.c, the dissemination queue and the
 * wire-size estimate in swim_dissem.c. */
#include <math.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/swim/swim_int.h"

/* ---- helpers ---------------------------------------------------------- */

const char *
swim_state_name(enum swim_state st)
{
    switch (st) {
    case SWIM_ALIVE:
        return "alive";
    case SWIM_SUSPECT:
        return "suspect";
    case SWIM_DEAD:
        return "dead";
    case SWIM_LEFT:
        return "left";
    }
    return "?";
}

const char *
swim_msg_type_name(enum swim_msg_type t)
{
    static const char *const names[] = {
        "?", "ping", "ping-req", "ack", "nack", "gossip",
        "sync", "sync-reply", "sync-fill",
    };
    if ((int)t < 1 || (int)t > SWIM_MSG_TYPE_MAX)
        return "?";
    return names[t];
}

static uint32_t
rnd(struct swim *s)
{
    return s->io.random(s->io.ctx);
}

/* rnd_below: uniform in [0, n) (n > 0); Lemire's bias is irrelevant here. */
static size_t
rnd_below(struct swim *s, size_t n)
{
    return (size_t)(((uint64_t)rnd(s) * (uint64_t)n) >> 32);
}

/* struct walk visits every index of [0, n) once, from a random start with
 * a random stride coprime with n: distinct random picks without
 * allocating. A stride of 1 would pick table neighbours, and the member
 * table is in about the same (join) order on every node, so every node's
 * bursts would land on the same few runs of members. */
struct walk {
    size_t n, pos, stride, left;
};

static size_t
gcd(size_t a, size_t b)
{
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void
walk_init(struct swim *s, struct walk *w, size_t n)
{
    w->n = n;
    w->left = n;
    w->pos = n ? rnd_below(s, n) : 0;
    w->stride = 1;
    if (n > 2) {
        w->stride = 1 + rnd_below(s, n - 1);
        while (gcd(w->stride, n) != 1) /* ends: 1 is coprime */
            w->stride = w->stride % (n - 1) + 1;
    }
}

/* walk_next: the next member of the walk, or NULL when all were seen. */
static struct swim__mem *
walk_next(struct swim *s, struct walk *w)
{
    if (w->left == 0 || w->n != s->nmems)
        return NULL;
    struct swim__mem *m = s->mems[w->pos];
    w->pos = (w->pos + w->stride) % w->n;
    w->left--;
    return m;
}

static naos_duration
scaled(const struct swim *s, naos_duration d)
{
    return d * (naos_duration)(s->lhm + 1);
}

static naos_time
tmin(naos_time a, naos_time b)
{
    return a < b ? a : b;
}

struct swim__mem *
swim__find(const struct swim *s, struct swim_id id)
{
    if (id.v == 0)
        return NULL;
    return idmap_get(&s->byid, id.v);
}

bool
swim__is_live(const struct swim__mem *m)
{
    return m->pub.state == SWIM_ALIVE || m->pub.state == SWIM_SUSPECT;
}

static bool
str_ok(const char *p, size_t max)
{
    return p == NULL || strnlen(p, max) < max;
}

static void
copy_str(char *dst, const char *src, size_t max)
{
    if (src == NULL)
        return;
    size_t n = strnlen(src, max - 1);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void
swim__event(struct swim *s, enum swim_event_kind kind, struct swim_id id,
            naos_time now)
{
    if (s->io.event == NULL)
        return;
    struct swim_event ev = {.kind = kind,
                            .id = id,
                            .incarnation = s->self->pub.incarnation,
                            .attempt = s->join_attempt,
                            .lhm = s->lhm,
                            .next_at = s->join_at,
                            .at = now};
    s->io.event(s->io.ctx, &ev);
}

void
swim__notify(struct swim *s, struct swim__mem *m, enum swim_change what)
{
    if (!m->pub.is_self && s->io.member)
        s->io.member(s->io.ctx, &m->pub, what);
}

static void
lhm_delta(struct swim *s, int d, naos_time now)
{
    if (!s->cfg.lifeguard || d == 0)
        return;
    long v = (long)s->lhm + d;
    long max = (long)s->cfg.awareness_max - 1;
    if (v < 0)
        v = 0;
    if (v > max)
        v = max;
    if ((unsigned)v != s->lhm) {
        s->lhm = (unsigned)v;
        swim__event(s, SWIM_EV_LHM, s->self->pub.id, now);
    }
}

/* ---- sending ---------------------------------------------------------- */

void
swim__send_msg(struct swim *s, struct swim_id to, const char *addr,
               struct swim_msg *m)
{
    m->from = s->self->pub.id;
    s->stats.sent[m->type]++;
    s->stats.bytes_sent += swim_msg_wire_size(m);
    s->io.send(s->io.ctx, to, addr && addr[0] ? addr : NULL, m);
}

/* send_pig sends m to member `to` (or to id/addr when to is NULL) with
 * piggybacked updates. */
static void
send_pig(struct swim *s, struct swim__mem *to, struct swim_id id,
         const char *addr, struct swim_msg *m)
{
    m->nupdates = swim__piggyback(s, to, swim_msg_wire_size(m));
    m->updates = m->nupdates ? s->pig : NULL;
    if (to) {
        id = to->pub.id;
        addr = to->pub.addr;
    }
    swim__send_msg(s, id, addr, m);
}

static uint32_t next_seq(struct swim *s);
static void send_ping(struct swim *s, struct swim__mem *target, uint32_t seq);

/* ---- the member table ------------------------------------------------- */

void
swim__order_insert(struct swim *s, struct swim__mem *m)
{
    if (m->in_order || m->pub.is_self)
        return;
    if (s->norder == s->caporder) {
        size_t cap = s->caporder ? s->caporder * 2 : 16;
        struct swim__mem **o = naos_realloc(s->order, cap * sizeof(*o));
        if (o == NULL)
            return; /* probed after the next reshuffle instead */
        s->order = o;
        s->caporder = cap;
    }
    /* SWIM §4.3: a new member goes in at a random position. */
    size_t at = rnd_below(s, s->norder + 1);
    memmove(&s->order[at + 1], &s->order[at],
            (s->norder - at) * sizeof(*s->order));
    s->order[at] = m;
    s->norder++;
    if (at < s->order_pos)
        s->order_pos++;
    m->in_order = true;
}

static void
order_remove(struct swim *s, struct swim__mem *m)
{
    if (!m->in_order)
        return;
    for (size_t i = 0; i < s->norder; i++) {
        if (s->order[i] != m)
            continue;
        memmove(&s->order[i], &s->order[i + 1],
                (s->norder - i - 1) * sizeof(*s->order));
        s->norder--;
        if (i < s->order_pos)
            s->order_pos--;
        break;
    }
    m->in_order = false;
}

/* order_reshuffle rebuilds the probe order from live members, shuffled
 * (Fisher-Yates): each member is probed once per pass. */
static void
order_reshuffle(struct swim *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->norder; i++)
        s->order[i]->in_order = false;
    s->norder = 0;
    for (size_t i = 0; i < s->nmems; i++) {
        struct swim__mem *m = s->mems[i];
        if (m->pub.is_self || !swim__is_live(m))
            continue;
        if (n == s->caporder) {
            size_t cap = s->caporder ? s->caporder * 2 : 16;
            struct swim__mem **o = naos_realloc(s->order, cap * sizeof(*o));
            if (o == NULL)
                break;
            s->order = o;
            s->caporder = cap;
        }
        s->order[n++] = m;
        m->in_order = true;
    }
    for (size_t i = n; i > 1; i--) {
        size_t j = rnd_below(s, i);
        struct swim__mem *t = s->order[i - 1];
        s->order[i - 1] = s->order[j];
        s->order[j] = t;
    }
    s->norder = n;
    s->order_pos = 0;
}

struct swim__mem *
swim__mem_add(struct swim *s, struct swim_id id, const char *name,
              const char *addr, enum swim_state st, uint64_t inc,
              naos_time now)
{
    if (id.v == 0 || s->nmems >= SWIM_MAX_MEMBERS)
        return NULL;
    if (s->nmems == s->capmems) {
        size_t cap = s->capmems ? s->capmems * 2 : 16;
        struct swim__mem **v = naos_realloc(s->mems, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        s->mems = v;
        s->capmems = cap;
    }
    struct swim__mem *m = naos_alloc(sizeof(*m));
    if (m == NULL)
        return NULL;
    if (idmap_put(&s->byid, id.v, m) != NAOS_OK) {
        naos_free(m);
        return NULL;
    }
    m->pub.id = id;
    copy_str(m->pub.name, name, SWIM_NAME_MAX);
    copy_str(m->pub.addr, addr, SWIM_ADDR_MAX);
    m->pub.state = st;
    m->pub.incarnation = inc;
    m->pub.state_since = now;
    m->pub.last_heard = NAOS_TIME_NEVER;
    m->susp_deadline = NAOS_TIME_NEVER;
    m->fast_deadline = NAOS_TIME_NEVER;
    m->bc_state = m->bc_health = -1;
    m->idx = s->nmems;
    s->mems[s->nmems++] = m;
    return m;
}

static void
mem_remove(struct swim *s, struct swim__mem *m)
{
    swim__notify(s, m, SWIM_CHANGE_REMOVED);
    order_remove(s, m);
    swim__dequeue(s, m);
    idmap_del(&s->byid, m->pub.id.v);
    size_t i = m->idx;
    s->mems[i] = s->mems[--s->nmems];
    s->mems[i]->idx = i;
    naos_free(m);
}

/* ---- state changes ---------------------------------------------------- */

static void
clear_suspicion(struct swim__mem *m)
{
    m->susp_deadline = NAOS_TIME_NEVER;
    m->susp_n = 0;
    m->susp_origin.v = 0;
}

/* set_state moves m to st/inc and disseminates it. */
static void
set_state(struct swim *s, struct swim__mem *m, enum swim_state st,
          uint64_t inc, struct swim_id from, naos_time now)
{
    bool changed = m->pub.state != st || m->pub.incarnation != inc;
    if (m->pub.state != st)
        m->pub.state_since = now;
    m->pub.state = st;
    m->pub.incarnation = inc;
    m->from = from;
    if (st != SWIM_SUSPECT)
        clear_suspicion(m);
    if (st == SWIM_ALIVE)
        swim__order_insert(s, m);
    if (st != SWIM_ALIVE && st != SWIM_SUSPECT)
        m->fast_deadline = NAOS_TIME_NEVER;
    swim__enqueue(s, m, false);
    if (changed)
        swim__notify(s, m, SWIM_CHANGE_STATE);
}

void
swim__refute(struct swim *s, uint64_t seen, naos_time now)
{
    struct swim__mem *me = s->self;
    if (s->leaving || seen >= SWIM_INC_MAX - 1)
        return;
    uint64_t inc = (seen > me->pub.incarnation ? seen : me->pub.incarnation);
    me->pub.incarnation = inc + 1;
    swim__enqueue(s, me, false);
    if (s->io.incarnation)
        s->io.incarnation(s->io.ctx, me->pub.incarnation);
    s->stats.refutations++;
    lhm_delta(s, 1, now); /* Lifeguard: being suspected hints we are slow */
    swim__event(s, SWIM_EV_REFUTED, me->pub.id, now);
}

/* suspicion_timeout: Lifeguard's dogpile timeout after c confirmations:
 * max(min, max - (max - min) * log(c + 1) / log(k + 1)). */
static naos_duration
suspicion_timeout(const struct swim__mem *m)
{
    if (m->susp_k == 0 || m->susp_n >= m->susp_k)
        return m->susp_min;
    double frac = log((double)m->susp_n + 1.0) / log((double)m->susp_k + 1.0);
    double t = (double)m->susp_max -
               frac * (double)(m->susp_max - m->susp_min);
    naos_duration d = (naos_duration)t;
    return d < m->susp_min ? m->susp_min : d;
}

static void
start_suspicion(struct swim *s, struct swim__mem *m, struct swim_id from,
                naos_time now)
{
    size_t n = swim_num_alive(s);
    double scale = n > 1 ? log10((double)n) : 1.0;
    if (scale < 1.0)
        scale = 1.0;
    naos_duration min = (naos_duration)((double)s->cfg.suspicion_mult * scale *
                                        (double)s->cfg.probe_interval);
    m->susp_min = min;
    m->susp_max = min * (naos_duration)s->cfg.suspicion_max_mult;
    /* Lifeguard: expect suspicion_mult - 2 independent confirmations,
     * fewer in a tiny cluster. Without Lifeguard: always the minimum. */
    unsigned k = s->cfg.suspicion_mult > 2 ? s->cfg.suspicion_mult - 2 : 0;
    if (n < (size_t)k + 2)
        k = 0;
    if (k > SWIM__MAX_CONFIRM)
        k = SWIM__MAX_CONFIRM;
    if (!s->cfg.lifeguard)
        k = 0;
    m->susp_k = k;
    m->susp_n = 0;
    m->susp_origin = from;
    m->susp_checked = false;
    m->susp_start = now;
    m->susp_deadline = now + (naos_time)suspicion_timeout(m);
}

/* confirm records an independent suspicion of m by `from`; true if new. */
static bool
confirm(struct swim__mem *m, struct swim_id from)
{
    if (m->susp_k == 0 || m->susp_n >= m->susp_k || from.v == 0 ||
        from.v == m->susp_origin.v)
        return false;
    for (unsigned i = 0; i < m->susp_n; i++)
        if (m->susp_conf[i].v == from.v)
            return false;
    m->susp_conf[m->susp_n++] = from;
    m->susp_deadline = m->susp_start + (naos_time)suspicion_timeout(m);
    return true;
}

bool
swim__state_newer(uint64_t inc_a, enum swim_state a, uint64_t inc_b,
                  enum swim_state b)
{
    if (inc_a != inc_b)
        return inc_a > inc_b ? 1 : 0;
    return a > b ? 1 : 0;
}

bool
swim__health_newer(uint64_t ia, uint64_t va, uint64_t ib, uint64_t vb)
{
    return ia != ib ? ia > ib : va > vb;
}

bool
swim__health_fresher(const struct swim_update *u, const struct swim__mem *m)
{
    if (u->health_inc != m->pub.health_inc ||
        u->health_ver != m->pub.health_ver)
        return swim__health_newer(u->health_inc, u->health_ver,
                                  m->pub.health_inc, m->pub.health_ver);
    return u->health_sub > m->pub.health_sub;
}

void
swim__on_alive(struct swim *s, const struct swim_update *u, naos_time now)
{
    struct swim__mem *m = swim__find(s, u->id);
    if (m && m->pub.is_self) {
        if (u->incarnation > m->pub.incarnation)
            swim__refute(s, u->incarnation, now);
        return;
    }
    if (m == NULL) {
        if (u->addr == NULL || u->addr[0] == '\0')
            return; /* cannot reach it: wait for a full entry */
        m = swim__mem_add(s, u->id, u->name, u->addr, SWIM_ALIVE,
                          u->incarnation, now);
        if (m == NULL)
            return;
        swim__order_insert(s, m);
        swim__enqueue(s, m, false);
        swim__notify(s, m, SWIM_CHANGE_STATE);
        return;
    }
    if (u->incarnation <= m->pub.incarnation)
        return;
    m->told = 0; /* it may have restarted without our health */
    if (u->name && u->name[0])
        copy_str(m->pub.name, u->name, SWIM_NAME_MAX);
    if (u->addr && u->addr[0])
        copy_str(m->pub.addr, u->addr, SWIM_ADDR_MAX);
    set_state(s, m, SWIM_ALIVE, u->incarnation, (struct swim_id){0}, now);
}

void
swim__on_suspect(struct swim *s, struct swim_id id, uint64_t inc,
                 struct swim_id from, naos_time now)
{
    struct swim__mem *m = swim__find(s, id);
    if (m == NULL)
        return;
    if (m->pub.is_self) {
        if (inc >= m->pub.incarnation)
            swim__refute(s, inc, now);
        return;
    }
    if (!swim__is_live(m) || inc < m->pub.incarnation)
        return;
    if (m->pub.state == SWIM_SUSPECT && inc == m->pub.incarnation) {
        /* Lifeguard: an independent confirmation shortens the timeout;
         * pass it on so others count it too. */
        if (confirm(m, from)) {
            m->from = from;
            swim__enqueue(s, m, false);
        }
        return;
    }
    bool ours = from.v == s->self->pub.id.v;
    if (ours)
        s->stats.suspicions++;
    set_state(s, m, SWIM_SUSPECT, inc, from, now);
    start_suspicion(s, m, from, now);
    /* Buddy system, carried further: a suspicion we only heard of goes
     * straight to the suspect on a ping, so its refutation comes back to
     * us on the ack (owed to the sender of a claim about oneself) instead
     * of depending on the random gossip reaching us in time. */
    if (!ours && s->cfg.lifeguard && s->started && !s->leaving)
        send_ping(s, m, next_seq(s));
}

void
swim__on_dead(struct swim *s, struct swim_id id, uint64_t inc,
              struct swim_id from, enum swim_state st, naos_time now)
{
    struct swim__mem *m = swim__find(s, id);
    if (m == NULL)
        return;
    if (m->pub.is_self) {
        if (!s->leaving && inc >= m->pub.incarnation)
            swim__refute(s, inc, now);
        return;
    }
    if (!swim__state_newer(inc, st, m->pub.incarnation, m->pub.state))
        return;
    set_state(s, m, st, inc, from, now);
}

void
swim__on_health(struct swim *s, const struct swim_update *u, naos_time now)
{
    struct swim__mem *m = swim__find(s, u->id);
    if (m == NULL || u->health_len > SWIM_HEALTH_MAX ||
        (u->health_len && u->health == NULL))
        return;
    if (!swim__health_fresher(u, m))
        return;
    if (m->pub.is_self) {
        /* Someone holds a newer version of our health than we do (an
         * earlier life of this node): outrank it with what we have now. */
        m->pub.health_inc = u->health_inc;
        m->pub.health_ver = u->health_ver + 1;
        m->pub.health_sub = 0;
        s->health_sig_stamp = ++s->health_stamp;
        swim__enqueue(s, m, true);
        return;
    }
    /* Only significant news is passed on; a quiet change came from the
     * member itself and is meant for us alone (swim_set_health). */
    bool news = swim__health_newer(u->health_inc, u->health_ver,
                                   m->pub.health_inc, m->pub.health_ver);
    m->pub.health_inc = u->health_inc;
    m->pub.health_ver = u->health_ver;
    m->pub.health_sub = u->health_sub;
    if (u->health_len)
        memcpy(m->pub.health, u->health, u->health_len);
    m->pub.health_len = u->health_len;
    if (news)
        swim__enqueue(s, m, true);
    swim__notify(s, m, SWIM_CHANGE_HEALTH);
}

static bool
update_ok(const struct swim_update *u)
{
    return (int)u->kind >= SWIM_UPD_ALIVE && (int)u->kind <= SWIM_UPD_HEALTH &&
           u->id.v != 0 && str_ok(u->name, SWIM_NAME_MAX) &&
           str_ok(u->addr, SWIM_ADDR_MAX) &&
           u->health_len <= SWIM_HEALTH_MAX &&
           u->incarnation < SWIM_INC_MAX && u->health_inc < SWIM_INC_MAX &&
           u->health_ver < SWIM_INC_MAX && u->health_sub < SWIM_INC_MAX &&
           (u->health_len == 0 || u->health != NULL);
}

/* owe queues m's state as a correction for the sender of the message
 * being handled (see swim_dissem.c, "Corrections"). */
static void
owe(struct swim *s, struct swim__mem *m)
{
    for (size_t i = 0; i < s->ncorr; i++)
        if (s->corr[i] == m)
            return;
    if (s->ncorr < SWIM__MAX_CORR)
        s->corr[s->ncorr++] = m;
}

/* apply_gossip applies one piggybacked update. A suspect, dead or left
 * claim about a member we hold live at a higher incarnation, or about
 * ourselves, shows that the sender missed a refutation: it gets our view
 * back (owe), or it would declare a live member dead. */
static void
apply_gossip(struct swim *s, const struct swim_update *u, naos_time now)
{
    bool claim = u->kind == SWIM_UPD_SUSPECT || u->kind == SWIM_UPD_DEAD ||
                 u->kind == SWIM_UPD_LEFT;
    struct swim__mem *m = claim ? swim__find(s, u->id) : NULL;
    if (m && !m->pub.is_self && swim__is_live(m) &&
        u->incarnation < m->pub.incarnation)
        owe(s, m);
    switch (u->kind) {
    case SWIM_UPD_ALIVE:
        swim__on_alive(s, u, now);
        break;
    case SWIM_UPD_SUSPECT:
        swim__on_suspect(s, u->id, u->incarnation, u->from, now);
        break;
    case SWIM_UPD_DEAD:
        swim__on_dead(s, u->id, u->incarnation, u->from, SWIM_DEAD, now);
        break;
    case SWIM_UPD_LEFT:
        swim__on_dead(s, u->id, u->incarnation, u->from, SWIM_LEFT, now);
        break;
    case SWIM_UPD_HEALTH:
        swim__on_health(s, u, now);
        break;
    }
    /* About ourselves: refuted above if it was news, stale otherwise;
     * either way the sender needs our alive. */
    if (m && m->pub.is_self && !s->leaving)
        owe(s, m);
}

/* ---- probing ---------------------------------------------------------- */

static uint32_t
next_seq(struct swim *s)
{
    if (++s->seq == 0)
        s->seq = 1;
    return s->seq;
}

/* pick_relays sends a ping-req for target to up to k random live members
 * other than target; returns how many were asked. With `probe` set it
 * records them for the probe round (on_nack). */
static unsigned
pick_relays(struct swim *s, struct swim__mem *target, uint32_t seq,
            bool probe)
{
    unsigned k = s->cfg.indirect_checks, asked = 0;
    if (k == 0)
        return 0;
    struct walk w;
    walk_init(s, &w, s->nmems);
    struct swim__mem *r;
    while (asked < k && (r = walk_next(s, &w)) != NULL) {
        if (r == target || r->pub.is_self || r->pub.state != SWIM_ALIVE)
            continue;
        struct swim_msg m = {.type = SWIM_MSG_PING_REQ,
                             .seq = seq,
                             .target = target->pub.id,
                             .target_addr = target->pub.addr};
        send_pig(s, r, r->pub.id, NULL, &m);
        if (probe && asked < SWIM__MAX_ASKED) {
            s->probe_relay[asked] = r->pub.id;
            s->probe_nacked[asked] = false;
        }
        asked++;
    }
    return asked;
}

static void
send_ping(struct swim *s, struct swim__mem *target, uint32_t seq)
{
    struct swim_msg m = {
        .type = SWIM_MSG_PING, .seq = seq, .target = target->pub.id};
    send_pig(s, target, target->pub.id, NULL, &m);
}

static struct swim__mem *
next_target(struct swim *s)
{
    for (int pass = 0; pass < 2; pass++) {
        while (s->order_pos < s->norder) {
            struct swim__mem *m = s->order[s->order_pos++];
            if (swim__is_live(m) && !m->pub.is_self)
                return m;
        }
        order_reshuffle(s);
    }
    return NULL;
}

static void
probe_start(struct swim *s, naos_time now)
{
    naos_duration interval = scaled(s, s->cfg.probe_interval);
    struct swim__mem *t = next_target(s);
    if (t == NULL) {
        s->probe_phase = SWIM__P_IDLE;
        s->next_probe_at = now + (naos_time)interval;
        return;
    }
    s->stats.probes++;
    s->probe_target = t->pub.id;
    s->probe_seq = next_seq(s);
    s->probe_phase = SWIM__P_DIRECT;
    s->probe_deadline = now + (naos_time)scaled(s, s->cfg.probe_timeout);
    s->probe_round_end = now + (naos_time)interval;
    s->probe_asked = s->probe_nacks = 0;
    send_ping(s, t, s->probe_seq);
}

static void
probe_done(struct swim *s, bool ok, naos_time now)
{
    if (ok) {
        lhm_delta(s, -1, now);
    } else {
        /* Lifeguard: each relay that said nothing (no ack, no nack) hints
         * that we, not the target, are the problem. */
        s->stats.probe_failures++;
        int d = s->probe_asked ? (int)(s->probe_asked - s->probe_nacks) : 1;
        lhm_delta(s, d, now);
        struct swim__mem *t = swim__find(s, s->probe_target);
        if (t && swim__is_live(t)) {
            bool news = t->pub.state == SWIM_ALIVE;
            swim__on_suspect(s, t->pub.id, t->pub.incarnation, s->self->pub.id,
                       now);
            /* Our own fresh suspicion goes out at once, not at the next
             * gossip tick: the others then probe the suspect too. */
            if (news && s->cfg.gossip_interval > 0)
                s->gossip_at = now;
        }
    }
    s->probe_phase = SWIM__P_IDLE;
    /* One probe per round, however early it ended. */
    s->next_probe_at = s->probe_round_end > now ? s->probe_round_end : now;
}

static void
probe_tick(struct swim *s, naos_time now)
{
    for (int guard = 0; guard < 4; guard++) {
        switch (s->probe_phase) {
        case SWIM__P_IDLE:
            if (now < s->next_probe_at)
                return;
            probe_start(s, now);
            if (s->probe_phase == SWIM__P_IDLE)
                return;
            break;
        case SWIM__P_DIRECT: {
            if (now < s->probe_deadline)
                return;
            struct swim__mem *t = swim__find(s, s->probe_target);
            if (t == NULL || !swim__is_live(t)) {
                s->probe_phase = SWIM__P_IDLE;
                s->next_probe_at = s->probe_round_end;
                break;
            }
            s->probe_asked = pick_relays(s, t, s->probe_seq, true);
            s->probe_phase = SWIM__P_INDIRECT;
            break;
        }
        case SWIM__P_INDIRECT:
            if (now < s->probe_round_end)
                return;
            probe_done(s, false, now);
            break;
        default:
            NAOS_ASSERT(!"bad probe phase");
        }
    }
}

/* ---- fast path -------------------------------------------------------- */

void
swim_on_conn_closed(struct swim *s, struct swim_id peer, naos_time now)
{
    if (!s->started || s->leaving || !s->cfg.fast_path)
        return;
    struct swim__mem *m = swim__find(s, peer);
    if (m == NULL || m->pub.is_self || !swim__is_live(m) ||
        m->fast_deadline != NAOS_TIME_NEVER)
        return;
    s->stats.fast_probes++;
    swim__event(s, SWIM_EV_SUSPECT_FAST, peer, now);
    if (m->pub.state == SWIM_ALIVE)
        swim__on_suspect(s, peer, m->pub.incarnation, s->self->pub.id, now);
    m->fast_seq = next_seq(s);
    m->fast_nacks = 0;
    m->fast_deadline = now + (naos_time)scaled(s, s->cfg.probe_timeout);
    send_ping(s, m, m->fast_seq);
    m->fast_asked = pick_relays(s, m, m->fast_seq, false);
}

static void
fast_expire(struct swim *s, struct swim__mem *m, naos_time now)
{
    m->fast_deadline = NAOS_TIME_NEVER;
    if (m->pub.state != SWIM_SUSPECT)
        return;
    /* Strong evidence (closed connection) plus a failed confirmation:
     * relays reached us and could not reach it, or there is no one to
     * ask. If no relay answered at all, we may be the one cut off: leave
     * it to the suspicion timer. */
    if (m->fast_asked == 0 || m->fast_nacks > 0) {
        s->stats.declared_dead++;
        swim__on_dead(s, m->pub.id, m->pub.incarnation, s->self->pub.id,
                      SWIM_DEAD, now);
    }
}

/* ---- messages --------------------------------------------------------- */

static void
reply(struct swim *s, struct swim__mem *to, struct swim_id id,
      const char *from_addr, struct swim_msg *m)
{
    if (to && to->pub.addr[0])
        send_pig(s, to, id, NULL, m);
    else
        send_pig(s, NULL, id, from_addr, m);
}

static void
on_ack(struct swim *s, uint32_t seq, naos_time now)
{
    if (seq == 0)
        return;
    if (s->probe_phase != SWIM__P_IDLE && seq == s->probe_seq) {
        s->probe_phase = SWIM__P_IDLE;
        probe_done(s, true, now);
        return;
    }
    for (size_t i = 0; i < SWIM__MAX_RELAYS; i++) {
        struct swim__relay *r = &s->relays[i];
        if (!r->active || r->seq != seq)
            continue;
        r->active = false;
        struct swim_msg a = {.type = SWIM_MSG_ACK, .seq = r->req_seq};
        reply(s, swim__find(s, r->req), r->req, r->req_addr, &a);
        return;
    }
    for (size_t i = 0; i < s->nmems; i++) {
        struct swim__mem *m = s->mems[i];
        if (m->fast_deadline != NAOS_TIME_NEVER && m->fast_seq == seq) {
            m->fast_deadline = NAOS_TIME_NEVER; /* it answered: not dead */
            return;
        }
    }
}

/* all_nacked: every relay of the probe round (tracked) nacked. */
static bool
all_nacked(const struct swim *s)
{
    if (s->probe_asked == 0 || s->probe_asked > SWIM__MAX_ASKED)
        return false;
    for (unsigned i = 0; i < s->probe_asked; i++)
        if (!s->probe_nacked[i])
            return false;
    return true;
}

static void
on_nack(struct swim *s, struct swim_id from, uint32_t seq, naos_time now)
{
    if (seq == 0)
        return;
    if (s->probe_phase == SWIM__P_INDIRECT && seq == s->probe_seq) {
        if (s->probe_nacks < s->probe_asked)
            s->probe_nacks++;
        for (unsigned i = 0; i < s->probe_asked && i < SWIM__MAX_ASKED; i++)
            if (s->probe_relay[i].v == from.v)
                s->probe_nacked[i] = true;
        /* Every relay reached us and none could reach the target, after
         * our own ping went unanswered for a probe timeout: waiting for
         * the round's end would only delay the suspicion (a frozen host
         * was suspected ~1 s later for it). A late ack still refutes.
         * Counted per relay, so a duplicated nack cannot stand in for a
         * relay that has not answered. */
        if (all_nacked(s))
            probe_done(s, false, now);
        return;
    }
    for (size_t i = 0; i < s->nmems; i++) {
        struct swim__mem *m = s->mems[i];
        if (m->fast_deadline != NAOS_TIME_NEVER && m->fast_seq == seq) {
            if (m->fast_nacks < m->fast_asked)
                m->fast_nacks++;
            /* Every relay has reached us and none could reach it: no need
             * to wait for the rest of the timeout. */
            if (m->fast_nacks == m->fast_asked)
                fast_expire(s, m, now);
            return;
        }
    }
}

static void
on_ping_req(struct swim *s, struct swim__mem *sender, const char *from_addr,
            const struct swim_msg *msg, naos_time now)
{
    struct swim__mem *t = swim__find(s, msg->target);
    const char *taddr = t && t->pub.addr[0] ? t->pub.addr : msg->target_addr;
    if (msg->target.v == 0 || msg->target.v == s->self->pub.id.v ||
        taddr == NULL || taddr[0] == '\0' || msg->seq == 0)
        return;
    struct swim__relay *slot = NULL;
    for (size_t i = 0; i < SWIM__MAX_RELAYS; i++)
        if (!s->relays[i].active) {
            slot = &s->relays[i];
            break;
        }
    if (slot == NULL)
        return; /* overloaded: the requester counts the missing nack */
    slot->active = true;
    slot->seq = next_seq(s);
    slot->req_seq = msg->seq;
    slot->req = msg->from;
    slot->req_addr[0] = '\0';
    if (sender == NULL)
        copy_str(slot->req_addr, from_addr, SWIM_ADDR_MAX);
    /* Lifeguard: nack after 80 % of the probe timeout so the nack arrives
     * before the requester's round ends. Nacks are sent even with
     * lifeguard off: the fast path needs them to tell "the peer is gone"
     * from "we are cut off". */
    slot->deadline = now + (naos_time)(s->cfg.probe_timeout * 4 / 5);
    struct swim_msg p = {
        .type = SWIM_MSG_PING, .seq = slot->seq, .target = msg->target};
    if (t)
        send_pig(s, t, t->pub.id, NULL, &p);
    else
        send_pig(s, NULL, msg->target, taddr, &p);
}

static void
relay_tick(struct swim *s, naos_time now)
{
    for (size_t i = 0; i < SWIM__MAX_RELAYS; i++) {
        struct swim__relay *r = &s->relays[i];
        if (!r->active || now < r->deadline)
            continue;
        r->active = false;
        struct swim_msg n = {.type = SWIM_MSG_NACK, .seq = r->req_seq};
        reply(s, swim__find(s, r->req), r->req, r->req_addr, &n);
    }
}

void
swim_on_message(struct swim *s, const char *from_addr,
                const struct swim_msg *msg, naos_time now)
{
    if (s == NULL || msg == NULL || !s->started)
        return;
    size_t maxu =
        (msg->type >= SWIM_MSG_SYNC) ? SWIM_MAX_SYNC : SWIM_MAX_PIGGYBACK;
    if ((int)msg->type < 1 || (int)msg->type > SWIM_MSG_TYPE_MAX ||
        msg->from.v == 0 || msg->from.v == s->self->pub.id.v ||
        msg->nupdates > maxu || (msg->nupdates && msg->updates == NULL) ||
        msg->nwants > SWIM_MAX_SYNC || (msg->nwants && msg->wants == NULL) ||
        !str_ok(msg->target_addr, SWIM_ADDR_MAX) ||
        !str_ok(from_addr, SWIM_ADDR_MAX)) {
        s->stats.dropped++;
        return;
    }
    for (size_t i = 0; i < msg->nupdates; i++) {
        if (!update_ok(&msg->updates[i])) {
            s->stats.dropped++;
            return;
        }
    }
    s->stats.recv[msg->type]++;
    struct swim__mem *sender = swim__find(s, msg->from);
    if (sender)
        sender->pub.last_heard = now;
    s->corr_to = msg->from;
    s->ncorr = 0;

    /* Piggybacked gossip first, so an answer reflects it. */
    if (msg->type < SWIM_MSG_SYNC) {
        for (size_t i = 0; i < msg->nupdates; i++)
            apply_gossip(s, &msg->updates[i], now);
        sender = swim__find(s, msg->from);
    }

    switch (msg->type) {
    case SWIM_MSG_PING: {
        if (msg->target.v && msg->target.v != s->self->pub.id.v)
            break; /* meant for an earlier owner of our address */
        struct swim_msg a = {.type = SWIM_MSG_ACK, .seq = msg->seq};
        reply(s, sender, msg->from, from_addr, &a);
        break;
    }
    case SWIM_MSG_PING_REQ:
        if (!s->leaving)
            on_ping_req(s, sender, from_addr, msg, now);
        break;
    case SWIM_MSG_ACK:
        on_ack(s, msg->seq, now);
        break;
    case SWIM_MSG_NACK:
        on_nack(s, msg->from, msg->seq, now);
        break;
    case SWIM_MSG_GOSSIP:
        break;
    case SWIM_MSG_SYNC:
    case SWIM_MSG_SYNC_REPLY:
    case SWIM_MSG_SYNC_FILL:
        swim__on_sync(s, sender, from_addr, msg, now);
        break;
    }
    /* Corrections no answer carried go back on a gossip message. */
    if (s->ncorr) {
        sender = swim__find(s, msg->from);
        if (sender && sender->pub.addr[0]) {
            struct swim_msg g = {.type = SWIM_MSG_GOSSIP};
            send_pig(s, sender, sender->pub.id, NULL, &g);
        }
        s->ncorr = 0;
    }
    s->corr_to.v = 0;
}

/* ---- periodic work ---------------------------------------------------- */

/* check_at: when the last call about suspect m goes out: a probe timeout
 * before its suspicion deadline (which confirmations can bring forward),
 * time enough for an answer to come back. */
static naos_time
check_at(const struct swim *s, const struct swim__mem *m)
{
    naos_time lead = (naos_time)s->cfg.probe_timeout;
    return m->susp_deadline > m->susp_start + lead ? m->susp_deadline - lead
                                                   : m->susp_start;
}

/* last_call: before a suspicion of m runs out, ask again whether anyone
 * knows better: the suspicion goes to indirect_checks random live peers
 * (one that holds a refutation sends it back, as a correction) and to m
 * itself on a ping (it refutes on the ack). By then the suspicion's own
 * gossip has long stopped, and a refutation that missed this node would
 * otherwise reach it only by chance: a live member would be declared
 * dead while every other node holds it alive. Costs a few messages per
 * suspicion, nothing at idle. */
static void
last_call(struct swim *s, struct swim__mem *m)
{
    m->susp_checked = true;
    if (s->leaving)
        return;
    struct swim_update u;
    swim__fill_update(m, false, &u);
    struct walk w;
    walk_init(s, &w, s->nmems);
    unsigned asked = 0, k = s->cfg.indirect_checks ? s->cfg.indirect_checks
                                                   : 1;
    struct swim__mem *r;
    while (asked < k && (r = walk_next(s, &w)) != NULL) {
        if (r == m || r->pub.is_self || r->pub.state != SWIM_ALIVE)
            continue;
        struct swim_msg g = {.type = SWIM_MSG_GOSSIP, .updates = &u,
                             .nupdates = 1};
        swim__send_msg(s, r->pub.id, r->pub.addr, &g);
        asked++;
    }
    send_ping(s, m, next_seq(s));
}

static struct swim__mem *
random_member(struct swim *s, bool dead)
{
    struct walk w;
    walk_init(s, &w, s->nmems);
    struct swim__mem *m;
    while ((m = walk_next(s, &w)) != NULL) {
        if (m->pub.is_self)
            continue;
        if (dead ? m->pub.state == SWIM_DEAD : m->pub.state == SWIM_ALIVE)
            return m;
    }
    return NULL;
}

static naos_duration
sync_interval(const struct swim *s)
{
    /* memberlist's pushPullScale: longer for clusters above 32 nodes. */
    size_t n = swim_num_alive(s);
    naos_duration d = s->cfg.push_pull_interval;
    if (n > 32)
        d *= (naos_duration)ceil(log2((double)n) - 5.0) + 1;
    return d;
}

static void
gossip_burst(struct swim *s, unsigned nodes)
{
    struct walk w;
    walk_init(s, &w, s->nmems);
    unsigned sent = 0;
    struct swim__mem *m;
    while (sent < nodes && s->npending && (m = walk_next(s, &w)) != NULL) {
        if (m->pub.is_self || !swim__is_live(m))
            continue;
        struct swim_msg g = {.type = SWIM_MSG_GOSSIP};
        g.nupdates = swim__piggyback(s, m, 0);
        if (g.nupdates == 0)
            break;
        g.updates = s->pig;
        swim__send_msg(s, m->pub.id, m->pub.addr, &g);
        sent++;
    }
}

static naos_duration
join_backoff(struct swim *s)
{
    naos_duration d = s->cfg.join_backoff_min;
    for (unsigned i = 1; i < s->join_attempt && d < s->cfg.join_backoff_max;
         i++)
        d *= 2;
    if (d > s->cfg.join_backoff_max)
        d = s->cfg.join_backoff_max;
    return d + (naos_duration)rnd_below(s, (size_t)(d / 4 + 1));
}

void
swim_tick(struct swim *s, naos_time now)
{
    if (s == NULL || !s->started)
        return;
    if (s->joining && now >= s->join_at) {
        s->join_attempt++;
        s->join_at = now + (naos_time)join_backoff(s);
        for (size_t i = 0; i < s->nseeds; i++)
            if (strcmp(s->seeds[i], s->self->pub.addr) != 0)
                swim__sync_request(s, NULL, s->seeds[i], true, true);
        swim__event(s, SWIM_EV_JOIN_ATTEMPT, (struct swim_id){0}, now);
    }
    relay_tick(s, now);
    for (size_t i = 0; i < s->nmems; i++) {
        struct swim__mem *m = s->mems[i];
        if (m->fast_deadline <= now)
            fast_expire(s, m, now);
        if (m->pub.state == SWIM_SUSPECT && !m->susp_checked &&
            check_at(s, m) <= now)
            last_call(s, m);
        if (m->pub.state == SWIM_SUSPECT && m->susp_deadline <= now) {
            s->stats.declared_dead++;
            swim__on_dead(s, m->pub.id, m->pub.incarnation, s->self->pub.id,
                    SWIM_DEAD, now);
        }
    }
    if (!s->leaving)
        probe_tick(s, now);
    if (now >= s->gossip_at) {
        if (s->cfg.gossip_interval > 0) {
            s->gossip_at = now + (naos_time)s->cfg.gossip_interval;
            /* Bursts hurry membership news; health rides on probes and
                 * syncs only, so a busy cluster's idle traffic stays low. */
            if (s->npending_state)
                gossip_burst(s, s->cfg.gossip_nodes);
        } else {
            s->gossip_at = NAOS_TIME_NEVER;
        }
    }
    if (now >= s->sync_at) {
        if (s->cfg.push_pull_interval > 0 && !s->leaving) {
            s->sync_at = now + (naos_time)sync_interval(s);
            struct swim__mem *m = random_member(s, false);
            if (m)
                swim__sync_request(s, m, NULL, false, false);
            /* Reconnect: try one dead member, so both sides of a healed
             * partition find each other again (Serf's reconnect). */
            m = random_member(s, true);
            if (m)
                swim__sync_request(s, m, NULL, false, true);
        } else {
            s->sync_at = NAOS_TIME_NEVER;
        }
    }
    for (size_t i = 0; i < s->nmems;) {
        struct swim__mem *m = s->mems[i];
        if (!m->pub.is_self &&
            (m->pub.state == SWIM_DEAD || m->pub.state == SWIM_LEFT) &&
            now >= m->pub.state_since + (naos_time)s->cfg.reap_timeout) {
            mem_remove(s, m); /* moves the last member into slot i */
            continue;
        }
        i++;
    }
}

naos_time
swim_next_deadline(const struct swim *s)
{
    if (s == NULL || !s->started)
        return NAOS_TIME_NEVER;
    naos_time t = NAOS_TIME_NEVER;
    if (s->joining)
        t = tmin(t, s->join_at);
    for (size_t i = 0; i < SWIM__MAX_RELAYS; i++)
        if (s->relays[i].active)
            t = tmin(t, s->relays[i].deadline);
    for (size_t i = 0; i < s->nmems; i++) {
        const struct swim__mem *m = s->mems[i];
        t = tmin(t, m->fast_deadline);
        if (m->pub.state == SWIM_SUSPECT)
            t = tmin(t, m->susp_checked ? m->susp_deadline : check_at(s, m));
        if (!m->pub.is_self &&
            (m->pub.state == SWIM_DEAD || m->pub.state == SWIM_LEFT))
            t = tmin(t, m->pub.state_since + (naos_time)s->cfg.reap_timeout);
    }
    if (!s->leaving) {
        switch (s->probe_phase) {
        case SWIM__P_IDLE:
            t = tmin(t, s->next_probe_at);
            break;
        case SWIM__P_DIRECT:
            t = tmin(t, s->probe_deadline);
            break;
        default:
            t = tmin(t, s->probe_round_end);
            break;
        }
        t = tmin(t, s->sync_at);
    }
    if (s->npending_state)
        t = tmin(t, s->gossip_at);
    return t;
}

/* ---- lifecycle and API ------------------------------------------------ */

int
swim_config_profile(struct swim_config *c, const char *profile)
{
    struct swim_config d = {
        .probe_interval = 2000,
        .probe_timeout = 500,
        .suspicion_mult = 2,
        .suspicion_max_mult = 6,
        .indirect_checks = 3,
        .retransmit_mult = 4,
        .push_pull_interval = 30000,
        .gossip_interval = 200,
        .gossip_nodes = 3,
        .awareness_max = 8,
        .reap_timeout = 3600 * 1000,
        .join_backoff_min = 1000,
        .join_backoff_max = 30000,
        .piggyback_max_bytes = 1024,
        .piggyback_max_count = 32,
        .lifeguard = true,
        .fast_path = true,
    };
    if (profile == NULL || strcmp(profile, "lan") == 0) {
        /* as above */
    } else if (strcmp(profile, "wan") == 0) {
        d.probe_interval = 5000;
        d.probe_timeout = 3000;
        d.suspicion_mult = 6;
        d.push_pull_interval = 60000;
        d.gossip_interval = 500;
        d.gossip_nodes = 4;
        d.join_backoff_max = 60000;
    } else if (strcmp(profile, "local") == 0) {
        d.probe_interval = 1000;
        d.probe_timeout = 200;
        d.suspicion_mult = 3;
        d.indirect_checks = 1;
        d.retransmit_mult = 2;
        d.push_pull_interval = 15000;
        d.gossip_interval = 100;
    } else {
        return NAOS_EINVAL;
    }
    *c = d;
    return NAOS_OK;
}

int
swim_config_validate(const struct swim_config *c)
{
    if (c == NULL || c->id.v == 0 || c->addr == NULL || c->addr[0] == '\0' ||
        !str_ok(c->addr, SWIM_ADDR_MAX) || !str_ok(c->name, SWIM_NAME_MAX) ||
        c->probe_interval <= 0 || c->probe_timeout <= 0 ||
        c->probe_timeout >= c->probe_interval || c->suspicion_mult < 1 ||
        c->suspicion_max_mult < 1 || c->retransmit_mult < 1 ||
        c->push_pull_interval < 0 || c->gossip_interval < 0 ||
        c->awareness_max < 1 || c->awareness_max > 64 ||
        c->reap_timeout < 0 || c->join_backoff_min <= 0 ||
        c->join_backoff_max < c->join_backoff_min ||
        c->piggyback_max_count > SWIM_MAX_PIGGYBACK ||
        c->incarnation_floor >= SWIM_INC_MAX - 1)
        return NAOS_EINVAL;
    return NAOS_OK;
}

int
swim_alloc(struct swim **out, const struct swim_config *c,
           const struct swim_io *io)
{
    if (out == NULL || swim_config_validate(c) != NAOS_OK || io == NULL ||
        io->version != SWIM_IO_VERSION || io->send == NULL ||
        io->digest == NULL ||
        io->random == NULL)
        return NAOS_EINVAL;
    struct swim *s = naos_alloc(sizeof(*s));
    if (s == NULL)
        return NAOS_ENOMEM;
    s->cfg = *c;
    s->io = *io;
    copy_str(s->name, c->name ? c->name : "", SWIM_NAME_MAX);
    copy_str(s->addr, c->addr, SWIM_ADDR_MAX);
    s->cfg.name = s->name;
    s->cfg.addr = s->addr;
    s->self = swim__mem_add(s, c->id, s->name, s->addr, SWIM_ALIVE,
                      c->incarnation_floor + 1, 0);
    if (s->self == NULL) {
        swim_free(s);
        return NAOS_ENOMEM;
    }
    s->self->pub.is_self = true;
    s->joined = true;
    s->next_probe_at = s->gossip_at = s->sync_at = NAOS_TIME_NEVER;
    *out = s;
    return NAOS_OK;
}

void
swim_free(struct swim *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->nmems; i++)
        naos_free(s->mems[i]);
    naos_free(s->mems);
    naos_free(s->order);
    naos_free(s->seeds);
    idmap_fini(&s->byid);
    naos_free(s);
}

void
swim_start(struct swim *s, naos_time now)
{
    if (s == NULL || s->started)
        return;
    s->started = true;
    s->self->pub.state_since = now;
    s->self->pub.last_heard = now;
    if (s->io.incarnation)
        s->io.incarnation(s->io.ctx, s->self->pub.incarnation);
    /* Stagger the first probe and sync so nodes started together do not
     * probe in lockstep. */
    s->next_probe_at =
        now + (naos_time)rnd_below(s, (size_t)s->cfg.probe_interval);
    s->gossip_at = now;
    s->sync_at = s->cfg.push_pull_interval > 0
                     ? now + (naos_time)s->cfg.push_pull_interval / 2 +
                           (naos_time)rnd_below(
                               s, (size_t)s->cfg.push_pull_interval / 2 + 1)
                     : NAOS_TIME_NEVER;
}

int
swim_join(struct swim *s, const char *const *seeds, size_t n, naos_time now)
{
    if (s == NULL || seeds == NULL || n == 0)
        return NAOS_EINVAL;
    if (n > SWIM_MAX_SEEDS)
        n = SWIM_MAX_SEEDS;
    for (size_t i = 0; i < n; i++)
        if (seeds[i] == NULL || seeds[i][0] == '\0' ||
            !str_ok(seeds[i], SWIM_ADDR_MAX))
            return NAOS_EINVAL;
    char(*v)[SWIM_ADDR_MAX] = naos_alloc(n * sizeof(*v));
    if (v == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < n; i++)
        copy_str(v[i], seeds[i], SWIM_ADDR_MAX);
    naos_free(s->seeds);
    s->seeds = v;
    s->nseeds = n;
    s->joining = true;
    s->joined = false;
    s->join_attempt = 0;
    s->join_at = now;
    if (s->started)
        swim_tick(s, now);
    return NAOS_OK;
}

bool
swim_is_joined(const struct swim *s)
{
    return s->joined;
}

void
swim_leave(struct swim *s, naos_time now)
{
    if (s == NULL || !s->started || s->leaving)
        return;
    s->leaving = true;
    s->joining = false;
    struct swim__mem *me = s->self;
    me->pub.incarnation++;
    me->pub.state = SWIM_LEFT;
    me->pub.state_since = now;
    if (s->io.incarnation)
        s->io.incarnation(s->io.ctx, me->pub.incarnation);
    swim__enqueue(s, me, false);
    /* Tell a few peers at once; gossip ticks carry it further. */
    unsigned nodes = s->cfg.gossip_nodes > s->cfg.indirect_checks
                         ? s->cfg.gossip_nodes
                         : s->cfg.indirect_checks;
    gossip_burst(s, nodes ? nodes : 1);
    s->gossip_at = now + (naos_time)s->cfg.gossip_interval;
}

bool
swim_leave_done(const struct swim *s)
{
    if (!s->leaving)
        return false;
    if (s->self->bc_state < 0)
        return true;
    for (size_t i = 0; i < s->nmems; i++)
        if (!s->mems[i]->pub.is_self && swim__is_live(s->mems[i]))
            return false;
    return true;
}

int
swim_set_health(struct swim *s, const uint8_t *blob, size_t len, bool quiet,
                naos_time now)
{
    if (len > SWIM_HEALTH_MAX || (len && blob == NULL))
        return NAOS_ETOOBIG;
    struct swim__mem *me = s->self;
    if (len)
        memcpy(me->pub.health, blob, len);
    me->pub.health_len = len;
    /* Order (incarnation at set time, version, quiet changes since):
     * survives restarts, since a restarted node has a higher incarnation.
     * The first health of an incarnation is always significant. */
    if (me->pub.health_inc != me->pub.incarnation) {
        me->pub.health_inc = me->pub.incarnation;
        me->pub.health_ver = 0;
        quiet = false;
    }
    s->health_stamp++;
    if (quiet) {
        me->pub.health_sub++;
        return NAOS_OK; /* piggybacked peer by peer (swim__piggyback) */
    }
    s->health_sig_stamp = s->health_stamp;
    me->pub.health_ver++;
    me->pub.health_sub = 0;
    swim__enqueue(s, me, true);
    return NAOS_OK;
}

const struct swim_member *
swim_self(const struct swim *s)
{
    return &s->self->pub;
}

size_t
swim_member_count(const struct swim *s)
{
    return s->nmems;
}

const struct swim_member *
swim_member_at(const struct swim *s, size_t i)
{
    return i < s->nmems ? &s->mems[i]->pub : NULL;
}

const struct swim_member *
swim_member_get(const struct swim *s, struct swim_id id)
{
    struct swim__mem *m = swim__find(s, id);
    return m ? &m->pub : NULL;
}

size_t
swim_num_alive(const struct swim *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->nmems; i++)
        n += swim__is_live(s->mems[i]);
    return n;
}

unsigned
swim_lhm(const struct swim *s)
{
    return s->lhm;
}

const struct swim_config *
swim_config_get(const struct swim *s)
{
    return &s->cfg;
}

const struct swim_stats *
swim_stats_get(const struct swim *s)
{
    return &s->stats;
}
