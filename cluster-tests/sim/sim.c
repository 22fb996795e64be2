/* SPDX-License-Identifier: Apache-2.0 */
/* sim.c: the deterministic SWIM cluster (sim.h). One thread, one virtual
 * clock; events are ordered by (time, sequence) so every run of a seed is
 * identical. Messages are deep-copied at send time (the core lends them
 * for the call only). */
#include "cluster-tests/sim/sim.h"
#include "cluster-tests/sim/sim_rng.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/digest.h"

enum sim_ev_kind { SIM_EV_DELIVER = 1, SIM_EV_CONN_CLOSED };

struct sim_event {
    naos_time at;
    uint64_t seq;
    enum sim_ev_kind kind;
    unsigned dst, src;
    struct swim_id peer;   /* CONN_CLOSED */
    unsigned src_life;     /* CONN_CLOSED: drop if dst restarted */
    bool queued;           /* DELIVER: went through a slow node's queue */
    struct swim_msg *msg;  /* DELIVER: one malloc block */
};

/* ---- randomness ------------------------------------------------------- */

uint64_t
sim_rand(struct sim *sim)
{
    return sim_splitmix64(&sim->rng);
}

double
sim_uniform(struct sim *sim)
{
    return sim_unit(sim_rand(sim));
}

static naos_duration
uniform_range(struct sim *sim, naos_duration lo, naos_duration hi)
{
    if (hi <= lo)
        return lo;
    return lo + (naos_duration)(sim_rand(sim) % (uint64_t)(hi - lo + 1));
}

uint64_t
sim_seed_from_env(uint64_t dflt)
{
    return sim_env_seed(dflt);
}

/* ---- failures --------------------------------------------------------- */

static void
fail(struct sim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct sim *sim, const char *fmt, ...)
{
    if (sim->failure[0])
        return;
    int off = snprintf(sim->failure, sizeof(sim->failure),
                       "seed=%llu t=%llu: ", (unsigned long long)sim->seed,
                       (unsigned long long)sim->now);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sim->failure + off, sizeof(sim->failure) - (size_t)off, fmt, ap);
    va_end(ap);
}

/* ---- message copies --------------------------------------------------- */

static size_t
str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static struct swim_msg *
msg_clone(const struct swim_msg *m)
{
    size_t size = sizeof(*m) + m->nupdates * sizeof(struct swim_update) +
                  m->nwants * sizeof(struct swim_id) + str_size(m->target_addr);
    for (size_t i = 0; i < m->nupdates; i++) {
        const struct swim_update *u = &m->updates[i];
        size += str_size(u->name) + str_size(u->addr) + u->health_len;
    }
    char *p = malloc(size);
    if (p == NULL)
        abort();
    struct swim_msg *c = (struct swim_msg *)p;
    *c = *m;
    char *cur = p + sizeof(*c);
    struct swim_update *ups = (struct swim_update *)cur;
    cur += m->nupdates * sizeof(*ups);
    struct swim_id *wants = (struct swim_id *)cur;
    cur += m->nwants * sizeof(*wants);
    if (m->nupdates)
        memcpy(ups, m->updates, m->nupdates * sizeof(*ups));
    if (m->nwants)
        memcpy(wants, m->wants, m->nwants * sizeof(*wants));
    c->updates = m->nupdates ? ups : NULL;
    c->wants = m->nwants ? wants : NULL;
#define COPY_STR(dst, src)                                                   \
    do {                                                                     \
        if (src) {                                                           \
            size_t l_ = strlen(src) + 1;                                     \
            memcpy(cur, src, l_);                                            \
            dst = cur;                                                       \
            cur += l_;                                                       \
        }                                                                    \
    } while (0)
    COPY_STR(c->target_addr, m->target_addr);
    for (size_t i = 0; i < m->nupdates; i++) {
        COPY_STR(ups[i].name, m->updates[i].name);
        COPY_STR(ups[i].addr, m->updates[i].addr);
        if (m->updates[i].health_len) {
            memcpy(cur, m->updates[i].health, m->updates[i].health_len);
            ups[i].health = (const uint8_t *)cur;
            cur += m->updates[i].health_len;
        }
    }
#undef COPY_STR
    return c;
}

/* ---- event heap ------------------------------------------------------- */

static bool
ev_before(const struct sim_event *a, const struct sim_event *b)
{
    return a->at != b->at ? a->at < b->at : a->seq < b->seq;
}

static void
heap_push(struct sim *sim, struct sim_event ev)
{
    if (sim->nheap == sim->capheap) {
        sim->capheap = sim->capheap ? sim->capheap * 2 : 1024;
        sim->heap = realloc(sim->heap, sim->capheap * sizeof(*sim->heap));
        if (sim->heap == NULL)
            abort();
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

static struct sim_event
heap_pop(struct sim *sim)
{
    struct sim_event top = sim->heap[0];
    struct sim_event last = sim->heap[--sim->nheap];
    size_t i = 0, n = sim->nheap;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct sim_event *best = &last;
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

/* ---- the io vtable ---------------------------------------------------- */

static int
node_by_addr(const struct sim *sim, const char *addr)
{
    if (addr == NULL || strncmp(addr, "sim:", 4) != 0)
        return -1;
    char *end;
    unsigned long i = strtoul(addr + 4, &end, 10);
    return *end == '\0' && i < sim->n ? (int)i : -1;
}

static int
node_by_id(const struct sim *sim, struct swim_id id)
{
    uint64_t i = (id.v >> 32);
    if (i == 0 || i > sim->n || (id.v & 0xffffffffu) != 0x5eed)
        return -1;
    return (int)(i - 1);
}

static void
io_send(void *ctx, struct swim_id to, const char *addr,
        const struct swim_msg *m)
{
    struct sim_node *src = ctx;
    struct sim *sim = src->sim;
    int dst = addr ? node_by_addr(sim, addr) : node_by_id(sim, to);
    size_t size = swim_msg_wire_size(m);
    src->bytes_sent += size;
    src->msgs_sent++;
    if (m->type < SWIM_MSG_SYNC &&
        (m->nupdates > sim->cfg.piggyback_max_count ||
         size > sim->cfg.piggyback_max_bytes + 64))
        fail(sim, "node %u sent a %s of %zu bytes with %zu updates over "
                  "budget",
             src->idx, swim_msg_type_name(m->type), size, m->nupdates);
    if (dst < 0 || (unsigned)dst == src->idx)
        return;
    size_t link = (size_t)src->idx * sim->n + (size_t)dst;
    if (sim->cut[link])
        return;
    if (sim_uniform(sim) < sim->net.loss + sim->link_loss[link])
        return;
    int copies = sim_uniform(sim) < sim->net.dup ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        naos_duration d =
            uniform_range(sim, sim->net.delay_min, sim->net.delay_max);
        if (sim_uniform(sim) < sim->net.reorder)
            d += uniform_range(sim, 0, sim->net.reorder_max);
        struct sim_event ev = {.at = sim->now + (naos_time)d,
                               .seq = ++sim->evseq,
                               .kind = SIM_EV_DELIVER,
                               .dst = (unsigned)dst,
                               .src = src->idx,
                               .msg = msg_clone(m)};
        heap_push(sim, ev);
    }
}

static void
check_transition(struct sim *sim, unsigned obs, const struct swim_member *m,
                 enum swim_change what)
{
    int subj = node_by_id(sim, m->id);
    if (subj < 0) {
        if (sim->allow_foreign)
            return;
        fail(sim, "node %u reports unknown id %llx", obs,
             (unsigned long long)m->id.v);
        return;
    }
    size_t k = (size_t)obs * sim->n + (size_t)subj;
    if (what == SWIM_CHANGE_REMOVED) {
        sim->seen_inc[k] = UINT64_MAX;
        return;
    }
    if (what != SWIM_CHANGE_STATE)
        return;
    uint64_t inc = sim->seen_inc[k];
    enum swim_state old = (enum swim_state)sim->seen_state[k];
    if (inc != UINT64_MAX) {
        if (m->incarnation < inc)
            fail(sim, "node %u saw node %d's incarnation drop %llu -> %llu",
                 obs, subj, (unsigned long long)inc,
                 (unsigned long long)m->incarnation);
        if ((old == SWIM_DEAD || old == SWIM_LEFT) &&
            (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT) &&
            m->incarnation <= inc)
            fail(sim, "node %u saw node %d go %s -> %s at incarnation %llu",
                 obs, subj, swim_state_name(old), swim_state_name(m->state),
                 (unsigned long long)m->incarnation);
    }
    if (m->state == SWIM_DEAD && sim_is_up(sim, (unsigned)subj)) {
        if (sim->false_dead == 0)
            sim->first_false_dead = sim->now;
        sim->false_dead++;
    }
    if (m->state == SWIM_SUSPECT && sim_is_up(sim, (unsigned)subj))
        sim->suspicions_of_live++;
    sim->seen_inc[k] = m->incarnation;
    sim->seen_state[k] = (uint8_t)m->state;
}

static void
io_member(void *ctx, const struct swim_member *m, enum swim_change what)
{
    struct sim_node *nd = ctx;
    struct sim *sim = nd->sim;
    check_transition(sim, nd->idx, m, what);
    if (sim->hook)
        sim->hook(sim->hook_ctx, sim, nd->idx, m, what);
}

static uint32_t
io_random(void *ctx)
{
    struct sim_node *nd = ctx;
    return (uint32_t)(sim_splitmix64(&nd->rng) >> 32);
}

static uint64_t
io_digest(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    return auth_digest64(buf, len);
}

static void
io_event(void *ctx, const struct swim_event *ev)
{
    struct sim_node *nd = ctx;
    if (ev->kind == SWIM_EV_JOIN_ATTEMPT)
        nd->join_attempts++;
    else if (ev->kind == SWIM_EV_JOINED)
        nd->joined_at = ev->at;
}

static void
io_incarnation(void *ctx, uint64_t inc)
{
    struct sim_node *nd = ctx;
    if (inc > nd->inc_floor)
        nd->inc_floor = inc;
}

/* ---- nodes ------------------------------------------------------------ */

struct sim *
sim_new(unsigned n, uint64_t seed, const struct swim_config *tmpl)
{
    struct sim *sim = calloc(1, sizeof(*sim));
    if (sim == NULL)
        return NULL;
    sim->seed = seed;
    sim->rng = seed ^ 0x243F6A8885A308D3ull;
    sim->n = n;
    sim->cfg = *tmpl;
    sim->net = (struct sim_net){.delay_min = 1, .delay_max = 5};
    sim->fast_kill = true;
    sim->nodes = calloc(n, sizeof(*sim->nodes));
    sim->link_loss = calloc((size_t)n * n, sizeof(double));
    sim->cut = calloc((size_t)n * n, 1);
    sim->conn = calloc((size_t)n * n, 1);
    sim->seen_inc = malloc((size_t)n * n * sizeof(uint64_t));
    sim->seen_state = calloc((size_t)n * n, 1);
    if (!sim->nodes || !sim->link_loss || !sim->cut || !sim->conn ||
        !sim->seen_inc || !sim->seen_state)
        abort();
    for (size_t i = 0; i < (size_t)n * n; i++)
        sim->seen_inc[i] = UINT64_MAX;
    for (unsigned i = 0; i < n; i++) {
        struct sim_node *nd = &sim->nodes[i];
        nd->idx = i;
        nd->sim = sim;
        nd->id.v = ((uint64_t)(i + 1) << 32) | 0x5eed;
        snprintf(nd->addr, sizeof(nd->addr), "sim:%u", i);
        snprintf(nd->name, sizeof(nd->name), "n%u", i);
        nd->rng = seed * 1000003u + i;
        nd->deadline = NAOS_TIME_NEVER;
    }
    return sim;
}

void
sim_free(struct sim *sim)
{
    if (sim == NULL)
        return;
    for (unsigned i = 0; i < sim->n; i++)
        swim_free(sim->nodes[i].s);
    for (size_t i = 0; i < sim->nheap; i++)
        free(sim->heap[i].msg);
    free(sim->heap);
    free(sim->nodes);
    free(sim->link_loss);
    free(sim->cut);
    free(sim->conn);
    free(sim->seen_inc);
    free(sim->seen_state);
    free(sim);
}

static void
check_self(struct sim *sim, struct sim_node *nd)
{
    const struct swim_member *me = swim_self(nd->s);
    if (!nd->left && me->state != SWIM_ALIVE)
        fail(sim, "node %u considers itself %s", nd->idx,
             swim_state_name(me->state));
    nd->deadline = swim_next_deadline(nd->s);
}

void
sim_start_node(struct sim *sim, unsigned i, const unsigned *seeds,
               size_t nseeds)
{
    struct sim_node *nd = &sim->nodes[i];
    struct swim_config c = sim->cfg;
    c.id = nd->id;
    c.name = nd->name;
    c.addr = nd->addr;
    c.incarnation_floor = nd->inc_floor;
    struct swim_io io = {.version = SWIM_IO_VERSION,
                         .ctx = nd,
                         .send = io_send,
                         .member = io_member,
                         .random = io_random,
                         .incarnation = io_incarnation,
                         .event = io_event,
                         .digest = io_digest};
    swim_free(nd->s);
    nd->s = NULL;
    if (swim_alloc(&nd->s, &c, &io) != 0) {
        fail(sim, "swim_alloc failed for node %u", i);
        return;
    }
    nd->running = true;
    nd->left = false;
    nd->lives++;
    /* The new life's own view starts empty. */
    for (unsigned j = 0; j < sim->n; j++)
        sim->seen_inc[(size_t)i * sim->n + j] = UINT64_MAX;
    swim_start(nd->s, sim->now);
    if (nseeds) {
        const char *addrs[SWIM_MAX_SEEDS];
        size_t k = 0;
        for (size_t j = 0; j < nseeds && k < SWIM_MAX_SEEDS; j++)
            addrs[k++] = sim->nodes[seeds[j]].addr;
        swim_join(nd->s, addrs, k, sim->now);
    }
    check_self(sim, nd);
}

static bool
pred_converged(struct sim *sim, void *ctx)
{
    (void)ctx;
    return sim_converged(sim);
}

bool
sim_start_cluster(struct sim *sim, naos_duration deadline)
{
    naos_time end = sim->now + (naos_time)deadline;
    sim_start_node(sim, 0, NULL, 0);
    unsigned seeds[2] = {0, 1};
    for (unsigned i = 1; i < sim->n; i++) {
        if (!sim_run_until(sim, sim->now + 20))
            return false;
        sim_start_node(sim, i, seeds, i > 1 ? 2 : 1);
    }
    return sim_step_until(sim, pred_converged, NULL, end);
}

/* stall_advance moves a slow node's stall window forward to now. */
static void
stall_advance(struct sim *sim, struct sim_node *nd)
{
    while (nd->slow && sim->now >= nd->stall_until) {
        nd->stall_from =
            nd->stall_until + (naos_time)uniform_range(sim, nd->run_min,
                                                        nd->run_max);
        nd->stall_until =
            nd->stall_from + (naos_time)uniform_range(sim, nd->stall_min,
                                                       nd->stall_max);
    }
}

/* eff_time: when node nd can act on something due at t. */
static naos_time
eff_time(const struct sim_node *nd, naos_time t)
{
    if (nd->slow && t != NAOS_TIME_NEVER && t >= nd->stall_from &&
        t < nd->stall_until)
        return nd->stall_until;
    return t;
}

static void
dispatch(struct sim *sim, struct sim_event *ev)
{
    struct sim_node *nd = &sim->nodes[ev->dst];
    if (!nd->running) {
        free(ev->msg);
        return;
    }
    naos_time t = eff_time(nd, sim->now);
    if (t != sim->now) {
        ev->at = t; /* stalled: it waits, in arrival order (seq kept) */
        heap_push(sim, *ev);
        return;
    }
    if (ev->kind == SIM_EV_DELIVER && nd->proc_max > 0 && !ev->queued) {
        /* A slow receiver: messages wait in its queue (FIFO), timers do
         * not. */
        naos_time at = sim->now + (naos_time)uniform_range(sim, nd->proc_min,
                                                           nd->proc_max);
        if (at < nd->proc_last)
            at = nd->proc_last;
        nd->proc_last = at;
        ev->at = at;
        ev->queued = true;
        heap_push(sim, *ev);
        return;
    }
    sim->events++;
    if (ev->kind == SIM_EV_DELIVER) {
        sim->conn[(size_t)ev->src * sim->n + ev->dst] = 1;
        sim->conn[(size_t)ev->dst * sim->n + ev->src] = 1;
        struct swim_msg *m = ev->msg;
        m->from = sim->nodes[ev->src].id;
        swim_on_message(nd->s, sim->nodes[ev->src].addr, m, sim->now);
        free(m);
    } else if (ev->src_life == nd->lives) {
        swim_on_conn_closed(nd->s, ev->peer, sim->now);
    }
    check_self(sim, nd);
}

bool
sim_run_until(struct sim *sim, naos_time t_end)
{
    unsigned stuck = 0;
    naos_time last = NAOS_TIME_NEVER;
    while (!sim->failure[0]) {
        naos_time t_ev = sim->nheap ? sim->heap[0].at : NAOS_TIME_NEVER;
        naos_time t_node = NAOS_TIME_NEVER;
        unsigned who = 0;
        for (unsigned i = 0; i < sim->n; i++) {
            struct sim_node *nd = &sim->nodes[i];
            if (!nd->running)
                continue;
            stall_advance(sim, nd);
            naos_time d = eff_time(nd, nd->deadline);
            if (d < t_node) {
                t_node = d;
                who = i;
            }
        }
        naos_time t = t_ev < t_node ? t_ev : t_node;
        if (t > t_end || t == NAOS_TIME_NEVER) {
            if (t_end > sim->now)
                sim->now = t_end;
            return true;
        }
        if (t < sim->now)
            t = sim->now; /* a deadline already past: run it now */
        stuck = (t == last) ? stuck + 1 : 0;
        last = t;
        if (stuck > 200000) {
            fail(sim, "no progress at one instant (node %u deadline %llu)",
                 who, (unsigned long long)t_node);
            break;
        }
        sim->now = t;
        if (t_node <= t_ev) {
            struct sim_node *nd = &sim->nodes[who];
            sim->events++;
            swim_tick(nd->s, sim->now);
            check_self(sim, nd);
        } else {
            struct sim_event ev = heap_pop(sim);
            dispatch(sim, &ev);
        }
    }
    return false;
}

bool
sim_step_until(struct sim *sim, bool (*pred)(struct sim *, void *),
               void *ctx, naos_time deadline)
{
    /* Step in 10 ms slices: plenty for the protocol's timescales. */
    while (!pred(sim, ctx)) {
        if (sim->now >= deadline || sim->failure[0])
            return false;
        naos_time next = sim->now + 10;
        if (!sim_run_until(sim, next < deadline ? next : deadline))
            return false;
    }
    return true;
}

/* ---- faults ----------------------------------------------------------- */

void
sim_kill(struct sim *sim, unsigned i)
{
    struct sim_node *nd = &sim->nodes[i];
    if (!nd->running)
        return;
    nd->running = false;
    swim_free(nd->s);
    nd->s = NULL;
    nd->deadline = NAOS_TIME_NEVER;
    for (unsigned j = 0; j < sim->n; j++) {
        size_t a = (size_t)i * sim->n + j, b = (size_t)j * sim->n + i;
        if (sim->fast_kill && sim->conn[a] && sim->nodes[j].running) {
            /* The kernel closes the dead process's sockets: the peer's
             * driver sees the drop a moment later. */
            struct sim_event ev = {
                .at = sim->now + (naos_time)uniform_range(sim, 1, 5),
                .seq = ++sim->evseq,
                .kind = SIM_EV_CONN_CLOSED,
                .dst = j,
                .src = i,
                .peer = nd->id,
                .src_life = sim->nodes[j].lives};
            heap_push(sim, ev);
        }
        sim->conn[a] = sim->conn[b] = 0;
    }
}

void
sim_revive(struct sim *sim, unsigned i, const unsigned *seeds, size_t nseeds)
{
    if (sim->nodes[i].running)
        return;
    sim_start_node(sim, i, seeds, nseeds);
}

void
sim_leave(struct sim *sim, unsigned i)
{
    struct sim_node *nd = &sim->nodes[i];
    if (!nd->running)
        return;
    nd->left = true;
    swim_leave(nd->s, sim->now);
    check_self(sim, nd);
}

void
sim_cut(struct sim *sim, unsigned from, unsigned to, bool cut)
{
    sim->cut[(size_t)from * sim->n + to] = cut;
}

void
sim_partition(struct sim *sim, const unsigned *side, size_t nside)
{
    uint8_t *in = calloc(sim->n, 1);
    if (in == NULL)
        abort();
    for (size_t k = 0; k < nside; k++)
        in[side[k]] = 1;
    for (unsigned a = 0; a < sim->n; a++)
        for (unsigned b = 0; b < sim->n; b++)
            if (in[a] != in[b])
                sim->cut[(size_t)a * sim->n + b] = 1;
    free(in);
}

void
sim_heal(struct sim *sim)
{
    memset(sim->cut, 0, (size_t)sim->n * sim->n);
}

void
sim_set_slow(struct sim *sim, unsigned i, naos_duration run_min,
             naos_duration run_max, naos_duration stall_min,
             naos_duration stall_max)
{
    struct sim_node *nd = &sim->nodes[i];
    nd->slow = true;
    nd->run_min = run_min;
    nd->run_max = run_max;
    nd->stall_min = stall_min;
    nd->stall_max = stall_max;
    nd->stall_from = nd->stall_until = sim->now;
    stall_advance(sim, nd);
}

void
sim_set_slow_proc(struct sim *sim, unsigned i, naos_duration min,
                  naos_duration max)
{
    struct sim_node *nd = &sim->nodes[i];
    nd->proc_min = min;
    nd->proc_max = max;
    nd->proc_last = sim->now;
}

void
sim_set_health(struct sim *sim, unsigned i, const void *blob, size_t len,
               bool quiet)
{
    struct sim_node *nd = &sim->nodes[i];
    if (!nd->running)
        return;
    swim_set_health(nd->s, blob, len, quiet, sim->now);
    check_self(sim, nd);
}

/* ---- observation ------------------------------------------------------ */

const struct swim_member *
sim_view(const struct sim *sim, unsigned observer, unsigned subject)
{
    const struct sim_node *o = &sim->nodes[observer];
    if (!o->running)
        return NULL;
    return swim_member_get(o->s, sim->nodes[subject].id);
}

bool
sim_is_up(const struct sim *sim, unsigned i)
{
    return sim->nodes[i].running && !sim->nodes[i].left;
}

bool
sim_all_see(const struct sim *sim, unsigned subject, enum swim_state st)
{
    for (unsigned o = 0; o < sim->n; o++) {
        if (o == subject || !sim_is_up(sim, o))
            continue;
        const struct swim_member *m = sim_view(sim, o, subject);
        if (m == NULL || m->state != st)
            return false;
    }
    return true;
}

bool
sim_converged(const struct sim *sim)
{
    for (unsigned s = 0; s < sim->n; s++)
        if (sim_is_up(sim, s) && !sim_all_see(sim, s, SWIM_ALIVE))
            return false;
    return true;
}

void
sim_traffic(const struct sim *sim, uint64_t *bytes, uint64_t *msgs)
{
    uint64_t b = 0, m = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        b += sim->nodes[i].bytes_sent;
        m += sim->nodes[i].msgs_sent;
    }
    *bytes = b;
    *msgs = m;
}
