/* SPDX-License-Identifier: Apache-2.0 */
/* swim_test.c: unit tests of the SWIM core against a recording io. The
 * multi-node behaviour is tested on the simulator (cluster-tests/sim). */
#include "node/swim/swim.h"

#include <math.h>
#include <string.h>

#include "node/auth/digest.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"

/* ---- a recording io --------------------------------------------------- */

#define OUT_MAX 512

struct sent {
    struct swim_id to;
    char addr[SWIM_ADDR_MAX];
    enum swim_msg_type type;
    uint32_t seq;
    struct swim_id target;
    size_t nupdates, nwants, size;
    struct swim_update first;  /* first update (pointers cleared) */
    bool has_first;
    bool has_alive_self;       /* an ALIVE update about the sender */
    uint64_t alive_self_inc;
    bool has_left_self;
    bool wants_x;              /* wants contains fx.want_id */
    uint64_t health_of;        /* ids (< 64) with a HEALTH update here */
    uint64_t self_health_sub;  /* health_sub of our own, if carried */
    uint64_t view_hash;
};

struct fx {
    struct swim *s;
    struct sent out[OUT_MAX];
    size_t nout;
    uint64_t rng;
    uint64_t last_inc;
    int changes[8];
    struct swim_id want_id;
    struct swim_member last_change;
    struct sent last_sync;     /* the last SYNC sent */
};

static struct fx fx;

static void
io_send(void *ctx, struct swim_id to, const char *addr,
        const struct swim_msg *m)
{
    (void)ctx;
    if (fx.nout == OUT_MAX)
        return;
    struct sent *o = &fx.out[fx.nout++];
    memset(o, 0, sizeof(*o));
    o->to = to;
    if (addr)
        snprintf(o->addr, sizeof(o->addr), "%s", addr);
    o->type = m->type;
    o->seq = m->seq;
    o->target = m->target;
    o->nupdates = m->nupdates;
    o->nwants = m->nwants;
    o->size = swim_msg_wire_size(m);
    if (m->nupdates) {
        o->first = m->updates[0];
        o->first.name = o->first.addr = NULL;
        o->first.health = NULL;
        o->has_first = true;
    }
    for (size_t i = 0; i < m->nupdates; i++) {
        const struct swim_update *u = &m->updates[i];
        if (u->id.v == 1 && u->kind == SWIM_UPD_ALIVE) {
            o->has_alive_self = true;
            o->alive_self_inc = u->incarnation;
        }
        if (u->id.v == 1 && u->kind == SWIM_UPD_LEFT)
            o->has_left_self = true;
        if (u->kind == SWIM_UPD_HEALTH && u->id.v < 64)
            o->health_of |= 1ull << u->id.v;
        if (u->kind == SWIM_UPD_HEALTH && u->id.v == 1)
            o->self_health_sub = u->health_sub;
    }
    for (size_t i = 0; i < m->nwants; i++)
        if (m->wants[i].v == fx.want_id.v)
            o->wants_x = true;
    o->view_hash = m->view_hash;
    if (m->type == SWIM_MSG_SYNC)
        fx.last_sync = *o;
}

static void
io_member(void *ctx, const struct swim_member *m, enum swim_change what)
{
    (void)ctx;
    fx.changes[what]++;
    fx.last_change = *m;
}

static uint32_t
io_random(void *ctx)
{
    (void)ctx;
    fx.rng = fx.rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(fx.rng >> 33);
}

static void
io_incarnation(void *ctx, uint64_t inc)
{
    (void)ctx;
    fx.last_inc = inc;
}

static uint64_t
io_digest(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    return auth_digest64(buf, len);
}

static const struct swim_io test_io = {
    .version = SWIM_IO_VERSION,
    .send = io_send,
    .member = io_member,
    .random = io_random,
    .incarnation = io_incarnation,
    .digest = io_digest,
};

/* setup: node 1 ("a", "t:1") started at t=0 with incarnation floor 7 and
 * members 2..n (addresses "t:<id>") learnt by gossip from member 2. */
static void
setup(unsigned n)
{
    memset(&fx, 0, sizeof(fx));
    fx.rng = 42;
    struct swim_config c;
    NT_EQ_INT(swim_config_profile(&c, "lan"), NAOS_OK);
    /* The cases test mechanisms, with times worked out for a 1 s probe
     * interval and suspicion mult 4 (the same suspicion timeouts as lan's
     * 2 s and 2). */
    c.probe_interval = 1000;
    c.suspicion_mult = 4;
    c.id.v = 1;
    c.name = "a";
    c.addr = "t:1";
    c.incarnation_floor = 7;
    NT_EQ_INT(swim_alloc(&fx.s, &c, &test_io), NAOS_OK);
    swim_start(fx.s, 0);
    static char names[64][16], addrs[64][16];
    struct swim_update u[64];
    memset(u, 0, sizeof(u));
    for (unsigned i = 2; i <= n; i++) {
        snprintf(names[i], sizeof(names[i]), "n%u", i);
        snprintf(addrs[i], sizeof(addrs[i]), "t:%u", i);
        u[i - 2] = (struct swim_update){.kind = SWIM_UPD_ALIVE,
                                        .id = {i},
                                        .incarnation = 1,
                                        .name = names[i],
                                        .addr = addrs[i]};
    }
    if (n >= 2) {
        struct swim_msg m = {.type = SWIM_MSG_GOSSIP,
                             .from = {2},
                             .updates = u,
                             .nupdates = n - 1};
        swim_on_message(fx.s, "t:2", &m, 0);
    }
    fx.nout = 0;
}

static void
teardown(void)
{
    swim_free(fx.s);
    fx.s = NULL;
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
deliver(enum swim_msg_type type, uint64_t from, uint32_t seq,
        const struct swim_update *u, size_t nu, naos_time now)
{
    struct swim_msg m = {.type = type,
                         .from = {from},
                         .seq = seq,
                         .updates = u,
                         .nupdates = nu};
    swim_on_message(fx.s, NULL, &m, now);
}

/* pump_to: tick until now = t, answering every ping to a member not in
 * `silent` (bitmask of ids) with an ack. */
static void
pump_to(naos_time t, uint64_t silent)
{
    naos_time now = 0;
    for (;;) {
        for (size_t i = 0; i < fx.nout; i++) {
            struct sent *o = &fx.out[i];
            if (o->type == SWIM_MSG_PING && o->to.v < 64 &&
                !(silent & (1ull << o->to.v)))
                deliver(SWIM_MSG_ACK, o->to.v, o->seq, NULL, 0, now);
        }
        fx.nout = 0;
        naos_time d = swim_next_deadline(fx.s);
        if (d > t)
            break;
        now = d;
        swim_tick(fx.s, now);
    }
}

static const struct swim_member *
mem(uint64_t id)
{
    return swim_member_get(fx.s, (struct swim_id){id});
}

/* ---- cases ------------------------------------------------------------ */

static void
test_profiles(void)
{
    struct swim_config c;
    NT_EQ_INT(swim_config_profile(&c, "lan"), NAOS_OK);
    NT_EQ_INT(c.probe_interval, 2000);
    NT_EQ_INT(c.probe_timeout, 500);
    NT_EQ_INT(c.suspicion_mult, 2);
    NT_EQ_INT(c.indirect_checks, 3);
    NT_EQ_INT(c.push_pull_interval, 30000);
    NT_EQ_INT(swim_config_profile(&c, "wan"), NAOS_OK);
    NT_EQ_INT(c.probe_interval, 5000);
    NT_EQ_INT(c.probe_timeout, 3000);
    NT_EQ_INT(swim_config_profile(&c, "local"), NAOS_OK);
    NT_EQ_INT(c.probe_timeout, 200);
    NT_EQ_INT(swim_config_profile(&c, "moon"), NAOS_EINVAL);
    NT_EQ_INT(swim_config_profile(&c, "lan"), NAOS_OK);
    NT_EQ_INT(swim_config_validate(&c), NAOS_EINVAL); /* no id/addr */
    c.id.v = 5;
    c.addr = "x";
    NT_EQ_INT(swim_config_validate(&c), NAOS_OK);
    c.probe_timeout = c.probe_interval;
    NT_EQ_INT(swim_config_validate(&c), NAOS_EINVAL);
    struct swim *s = NULL;
    NT_EQ_INT(swim_alloc(&s, &c, &test_io), NAOS_EINVAL);
    NT_TRUE(s == NULL);
}

static void
test_start_incarnation_floor(void)
{
    setup(1);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 8);
    NT_EQ_INT(fx.last_inc, 8);
    NT_EQ_INT(swim_self(fx.s)->state, SWIM_ALIVE);
    NT_EQ_INT(swim_member_count(fx.s), 1);
    teardown();
}

static void
test_refute_suspicion(void)
{
    setup(3);
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {1}, .incarnation = 8, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 10);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 9);
    NT_EQ_INT(swim_self(fx.s)->state, SWIM_ALIVE);
    NT_EQ_INT(fx.last_inc, 9);
    NT_EQ_INT(swim_stats_get(fx.s)->refutations, 1);
    /* A stale claim (lower incarnation) is ignored. */
    u.kind = SWIM_UPD_DEAD;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 11);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 9);
    /* The refutation goes out on the next messages. */
    swim_tick(fx.s, 1000);
    bool seen = false;
    for (size_t i = 0; i < fx.nout; i++)
        if (fx.out[i].has_alive_self && fx.out[i].alive_self_inc == 9)
            seen = true;
    NT_TRUE(seen);
    teardown();
}

static void
test_dogpile_suspicion_timeout(void)
{
    /* N = 11: min = 4 * log10(11) * 1 s, max = 6 * min, k = 2. */
    naos_duration min = (naos_duration)(4.0 * log10(11.0) * 1000.0);
    naos_duration max = 6 * min;
    for (int conf = 0; conf <= 2; conf++) {
        setup(11);
        struct swim_update u = {.kind = SWIM_UPD_SUSPECT,
                                .id = {9},
                                .incarnation = 1,
                                .from = {2}};
        deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 0);
        for (int c = 0; c < conf; c++) {
            u.from.v = 3 + (uint64_t)c;
            deliver(SWIM_MSG_GOSSIP, 3, 0, &u, 1, 0);
        }
        /* Our own probes of 9 would confirm too: keep them answered. */
        naos_duration want =
            conf == 0 ? max
            : conf == 1
                ? (naos_duration)((double)max -
                                  log(2.0) / log(3.0) * (double)(max - min))
                : min;
        pump_to((naos_time)want - 2, 0);
        NT_EQ_INT(mem(9)->state, SWIM_SUSPECT);
        pump_to((naos_time)want + 1, 0);
        NT_EQ_INT(mem(9)->state, SWIM_DEAD);
        teardown();
    }
}

static void
test_refutation_clears_suspicion(void)
{
    setup(5);
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {4}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 0);
    NT_EQ_INT(mem(4)->state, SWIM_SUSPECT);
    struct swim_update a = {.kind = SWIM_UPD_ALIVE,
                            .id = {4},
                            .incarnation = 2,
                            .name = "n4",
                            .addr = "t:4"};
    deliver(SWIM_MSG_GOSSIP, 4, 0, &a, 1, 10);
    NT_EQ_INT(mem(4)->state, SWIM_ALIVE);
    NT_EQ_INT(mem(4)->incarnation, 2);
    pump_to(120000, 0);
    NT_EQ_INT(mem(4)->state, SWIM_ALIVE);
    teardown();
}

static void
test_probe_failure_suspects_and_lhm(void)
{
    setup(4);
    /* Member 3 never answers; relays 2 and 4 nack: the failure is 3's. */
    naos_time now = 0;
    bool suspected = false;
    for (int i = 0; i < 20000 && !suspected; i++) {
        for (size_t k = 0; k < fx.nout; k++) {
            struct sent *o = &fx.out[k];
            if (o->type == SWIM_MSG_PING && o->to.v != 3)
                deliver(SWIM_MSG_ACK, o->to.v, o->seq, NULL, 0, now);
            if (o->type == SWIM_MSG_PING_REQ)
                deliver(SWIM_MSG_NACK, o->to.v, o->seq, NULL, 0, now);
        }
        fx.nout = 0;
        now = swim_next_deadline(fx.s);
        swim_tick(fx.s, now);
        suspected = mem(3)->state == SWIM_SUSPECT;
    }
    NT_TRUE(suspected);
    NT_EQ_INT(swim_lhm(fx.s), 0); /* relays answered: we are healthy */
    teardown();

    /* Now the relays say nothing either: we are the suspect one. */
    setup(4);
    for (int i = 0; i < 200; i++) {
        fx.nout = 0;
        swim_tick(fx.s, swim_next_deadline(fx.s));
    }
    NT_TRUE(swim_lhm(fx.s) > 0);
    teardown();
}

/* When every relay has nacked, the probe has failed: the suspicion comes
 * at once, not at the end of the probe round, and goes out at once. */
static void
test_probe_fails_when_every_relay_nacks(void)
{
    setup(5);
    /* Find the first probe; its target never answers. */
    naos_time now = 0;
    const struct sent *ping = NULL;
    while (ping == NULL) {
        fx.nout = 0;
        now = swim_next_deadline(fx.s);
        swim_tick(fx.s, now);
        for (size_t i = 0; i < fx.nout && ping == NULL; i++)
            if (fx.out[i].type == SWIM_MSG_PING)
                ping = &fx.out[i];
    }
    uint64_t target = ping->to.v;
    naos_time sent = now;
    /* After the probe timeout (1 s interval, 500 ms timeout): ping-reqs. */
    fx.nout = 0;
    swim_tick(fx.s, sent + 500);
    size_t relays[8], nr = 0;
    for (size_t i = 0; i < fx.nout; i++)
        if (fx.out[i].type == SWIM_MSG_PING_REQ && nr < 8)
            relays[nr++] = i;
    NT_EQ_INT(nr, 3);
    struct sent req[3];
    for (size_t i = 0; i < nr; i++)
        req[i] = fx.out[relays[i]];
    fx.nout = 0;
    /* A duplicated nack does not stand in for a relay yet to answer. */
    for (int dup = 0; dup < 3; dup++)
        deliver(SWIM_MSG_NACK, req[0].to.v, req[0].seq, NULL, 0, sent + 900);
    for (size_t i = 1; i < nr; i++) {
        NT_EQ_INT(mem(target)->state, SWIM_ALIVE);
        deliver(SWIM_MSG_NACK, req[i].to.v, req[i].seq, NULL, 0, sent + 900);
    }
    NT_EQ_INT(mem(target)->state, SWIM_SUSPECT); /* round ends at 1000 */
    NT_EQ_INT(swim_next_deadline(fx.s), sent + 900); /* gossip at once */
    fx.nout = 0;
    swim_tick(fx.s, sent + 900);
    size_t told = 0;
    for (size_t i = 0; i < fx.nout; i++)
        told += fx.out[i].type == SWIM_MSG_GOSSIP &&
                fx.out[i].first.kind == SWIM_UPD_SUSPECT &&
                fx.out[i].first.id.v == target;
    NT_TRUE(told >= 1);
    /* One probe per round all the same: the next at the round's end. */
    for (size_t i = 0; i < fx.nout; i++)
        NT_TRUE(fx.out[i].type != SWIM_MSG_PING || fx.out[i].to.v == target);
    NT_TRUE(swim_next_deadline(fx.s) >= sent + 900);
    teardown();
}

static void
test_buddy_first(void)
{
    setup(6);
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {5}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 0);
    bool found = false;
    naos_time now = 0;
    for (int i = 0; i < 100 && !found; i++) {
        for (size_t k = 0; k < fx.nout; k++) {
            struct sent *o = &fx.out[k];
            if (o->type == SWIM_MSG_PING && o->to.v == 5) {
                NT_TRUE(o->has_first);
                NT_EQ_INT(o->first.kind, SWIM_UPD_SUSPECT);
                NT_EQ_INT(o->first.id.v, 5);
                found = true;
            }
            if (o->type == SWIM_MSG_PING)
                deliver(SWIM_MSG_ACK, o->to.v, o->seq, NULL, 0, now);
        }
        fx.nout = 0;
        now = swim_next_deadline(fx.s);
        swim_tick(fx.s, now);
    }
    NT_TRUE(found);
    teardown();
}

static void
test_conn_closed_fast_path(void)
{
    setup(5);
    swim_on_conn_closed(fx.s, (struct swim_id){3}, 100);
    NT_EQ_INT(mem(3)->state, SWIM_SUSPECT);
    size_t pings = 0, reqs = 0;
    for (size_t i = 0; i < fx.nout; i++) {
        struct sent *o = &fx.out[i];
        if (o->type == SWIM_MSG_PING && o->to.v == 3)
            pings++;
        if (o->type == SWIM_MSG_PING_REQ) {
            NT_EQ_INT(o->target.v, 3);
            /* two of the three relays answer nack */
            if (reqs++ < 2)
                deliver(SWIM_MSG_NACK, o->to.v, o->seq, NULL, 0, 300);
        }
    }
    NT_EQ_INT(pings, 1);
    NT_EQ_INT(reqs, 3);
    fx.nout = 0;
    swim_tick(fx.s, 599);
    NT_EQ_INT(mem(3)->state, SWIM_SUSPECT);
    swim_tick(fx.s, 600);
    NT_EQ_INT(mem(3)->state, SWIM_DEAD);
    NT_EQ_INT(fx.last_change.state, SWIM_DEAD);

    /* All relays nack: dead at once, before the timeout. */
    swim_on_conn_closed(fx.s, (struct swim_id){2}, 700);
    for (size_t i = 0; i < fx.nout; i++)
        if (fx.out[i].type == SWIM_MSG_PING_REQ)
            deliver(SWIM_MSG_NACK, fx.out[i].to.v, fx.out[i].seq, NULL, 0,
                    1000);
    NT_EQ_INT(mem(2)->state, SWIM_DEAD);
    fx.nout = 0;

    /* No relay answers: we might be the one cut off, so no verdict yet. */
    swim_on_conn_closed(fx.s, (struct swim_id){4}, 1000);
    swim_tick(fx.s, 1600);
    NT_EQ_INT(mem(4)->state, SWIM_SUSPECT);

    /* It answers the direct ping: alive after all (refutes later). */
    swim_on_conn_closed(fx.s, (struct swim_id){5}, 2000);
    for (size_t i = 0; i < fx.nout; i++)
        if (fx.out[i].type == SWIM_MSG_PING && fx.out[i].to.v == 5)
            deliver(SWIM_MSG_ACK, 5, fx.out[i].seq, NULL, 0, 2010);
    swim_tick(fx.s, 2600);
    NT_EQ_INT(mem(5)->state, SWIM_SUSPECT);
    /* Ignored: unknown, self, dead. */
    swim_on_conn_closed(fx.s, (struct swim_id){77}, 2700);
    swim_on_conn_closed(fx.s, (struct swim_id){1}, 2700);
    swim_on_conn_closed(fx.s, (struct swim_id){3}, 2700);
    NT_EQ_INT(swim_self(fx.s)->state, SWIM_ALIVE);
    teardown();
}

static void
test_ping_from_unknown_is_answered(void)
{
    setup(1);
    struct swim_msg m = {.type = SWIM_MSG_PING, .from = {50}, .seq = 7,
                         .target = {1}};
    swim_on_message(fx.s, "t:50", &m, 5);
    NT_EQ_INT(fx.nout, 1);
    NT_EQ_INT(fx.out[0].type, SWIM_MSG_ACK);
    NT_EQ_INT(fx.out[0].seq, 7);
    NT_EQ_STR(fx.out[0].addr, "t:50");
    /* A ping meant for another id (our address's previous owner): no. */
    fx.nout = 0;
    m.target.v = 99;
    swim_on_message(fx.s, "t:50", &m, 6);
    NT_EQ_INT(fx.nout, 0);
    teardown();
}

static void
test_malformed_dropped(void)
{
    setup(3);
    static char longname[200];
    memset(longname, 'n', sizeof(longname) - 1);
    struct swim_update ups[SWIM_MAX_PIGGYBACK + 1];
    memset(ups, 0, sizeof(ups));
    for (size_t i = 0; i < SWIM_MAX_PIGGYBACK + 1; i++)
        ups[i] = (struct swim_update){.kind = SWIM_UPD_ALIVE,
                                      .id = {100 + i},
                                      .incarnation = 1,
                                      .addr = "t:x"};
    uint64_t d0 = swim_stats_get(fx.s)->dropped;
    deliver(SWIM_MSG_GOSSIP, 2, 0, ups, SWIM_MAX_PIGGYBACK + 1, 1);
    deliver(SWIM_MSG_GOSSIP, 2, 0, NULL, 3, 1);
    struct swim_update bad = ups[0];
    bad.name = longname;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &bad, 1, 1);
    bad = ups[0];
    bad.incarnation = SWIM_INC_MAX;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &bad, 1, 1);
    bad = ups[0];
    bad.kind = (enum swim_upd_kind)42;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &bad, 1, 1);
    bad = ups[0];
    bad.kind = SWIM_UPD_HEALTH;
    bad.health_len = SWIM_HEALTH_MAX + 1;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &bad, 1, 1);
    bad.health_len = 4;
    bad.health = NULL;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &bad, 1, 1);
    deliver((enum swim_msg_type)0, 2, 0, NULL, 0, 1);
    deliver((enum swim_msg_type)99, 2, 0, NULL, 0, 1);
    deliver(SWIM_MSG_GOSSIP, 1, 0, ups, 1, 1); /* from ourselves */
    deliver(SWIM_MSG_GOSSIP, 0, 0, ups, 1, 1); /* from id 0 */
    NT_EQ_INT(swim_stats_get(fx.s)->dropped - d0, 11);
    NT_EQ_INT(swim_member_count(fx.s), 3);
    teardown();
}

static void
test_piggyback_budget(void)
{
    setup(60);
    /* 59 fresh alive updates are queued: every message stays in budget. */
    const struct swim_config *c = swim_config_get(fx.s);
    swim_tick(fx.s, swim_next_deadline(fx.s));
    NT_TRUE(fx.nout > 0);
    for (size_t i = 0; i < fx.nout; i++) {
        NT_TRUE(fx.out[i].nupdates <= c->piggyback_max_count);
        NT_TRUE(fx.out[i].size <= c->piggyback_max_bytes + 32);
    }
    teardown();
}

static void
test_health_versions(void)
{
    setup(3);
    uint8_t blob[] = {1, 2, 3};
    /* The first health of an incarnation is significant even if quiet. */
    NT_EQ_INT(swim_set_health(fx.s, blob, sizeof(blob), true, 0), NAOS_OK);
    NT_EQ_INT(swim_self(fx.s)->health_inc, 8);
    NT_EQ_INT(swim_self(fx.s)->health_ver, 1);
    NT_EQ_INT(swim_self(fx.s)->health_sub, 0);
    NT_EQ_INT(swim_set_health(fx.s, blob, sizeof(blob), true, 0), NAOS_OK);
    NT_EQ_INT(swim_self(fx.s)->health_ver, 1);
    NT_EQ_INT(swim_self(fx.s)->health_sub, 1);
    NT_EQ_INT(swim_set_health(fx.s, blob, sizeof(blob), false, 0), NAOS_OK);
    NT_EQ_INT(swim_self(fx.s)->health_ver, 2);
    NT_EQ_INT(swim_self(fx.s)->health_sub, 0);
    uint8_t big[SWIM_HEALTH_MAX + 1] = {0};
    NT_EQ_INT(swim_set_health(fx.s, big, sizeof(big), false, 0),
              NAOS_ETOOBIG);
    struct swim_update h = {.kind = SWIM_UPD_HEALTH,
                            .id = {2},
                            .health_inc = 1,
                            .health_ver = 5,
                            .health = blob,
                            .health_len = 2};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 1);
    NT_EQ_INT(mem(2)->health_len, 2);
    NT_EQ_INT(fx.changes[SWIM_CHANGE_HEALTH], 1);
    h.health_ver = 4; /* older: ignored */
    h.health_len = 3;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 2);
    NT_EQ_INT(mem(2)->health_len, 2);
    h.health_inc = 2; /* a restart: newer even with a lower version */
    h.health_ver = 1;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 3);
    NT_EQ_INT(mem(2)->health_len, 3);
    h.health_sub = 1; /* a quiet change of the same version: newer */
    h.health_len = 1;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 4);
    NT_EQ_INT(mem(2)->health_len, 1);
    NT_EQ_INT(mem(2)->health_sub, 1);
    h.health_sub = 0; /* older again */
    h.health_len = 2;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 5);
    NT_EQ_INT(mem(2)->health_len, 1);
    teardown();
}

/* ack_to: one ping from member `from` (seq), and the ack we answer. */
static const struct sent *
ack_to(uint64_t from, uint32_t seq, naos_time now)
{
    fx.nout = 0;
    struct swim_msg p = {.type = SWIM_MSG_PING, .from = {from}, .seq = seq};
    swim_on_message(fx.s, NULL, &p, now);
    NT_EQ_INT(fx.nout, 1);
    NT_EQ_INT(fx.out[0].type, SWIM_MSG_ACK);
    return &fx.out[0];
}

/* Quiet health goes once to each peer that talks to us and is never
 * relayed; significant health is queued and relayed. */
static void
test_health_quiet(void)
{
    setup(4);
    uint8_t blob[] = {1, 2, 3};
    NT_EQ_INT(swim_set_health(fx.s, blob, sizeof(blob), false, 0), NAOS_OK);
    /* Significant: queued, so it rides on several acks to the same peer
     * until its retransmit count runs out. */
    uint32_t seq = 1;
    int carried = 0;
    for (int i = 0; i < 20; i++)
        carried += (ack_to(2, seq++, 1)->health_of >> 1) & 1;
    NT_TRUE(carried >= 2);
    NT_TRUE(carried < 20);
    /* Quiet: not queued; member 2 and member 3 each get it once. */
    NT_EQ_INT(swim_set_health(fx.s, blob, 2, true, 2), NAOS_OK);
    const struct sent *a = ack_to(2, seq++, 3);
    NT_TRUE((a->health_of >> 1) & 1);
    NT_EQ_INT(a->self_health_sub, 1);
    NT_EQ_INT((ack_to(2, seq++, 3)->health_of >> 1) & 1, 0);
    NT_TRUE((ack_to(3, seq++, 3)->health_of >> 1) & 1);
    NT_EQ_INT((ack_to(3, seq++, 3)->health_of >> 1) & 1, 0);
    /* A second quiet change goes out to each of them again. */
    NT_EQ_INT(swim_set_health(fx.s, blob, 1, true, 4), NAOS_OK);
    a = ack_to(2, seq++, 5);
    NT_TRUE((a->health_of >> 1) & 1);
    NT_EQ_INT(a->self_health_sub, 2);

    /* Member 2's significant change reaches us: relayed, until its
     * retransmit count runs out. */
    struct swim_update h = {.kind = SWIM_UPD_HEALTH,
                            .id = {2},
                            .health_inc = 1,
                            .health_ver = 1,
                            .health = blob,
                            .health_len = 3};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 6);
    NT_EQ_INT(fx.changes[SWIM_CHANGE_HEALTH], 1);
    NT_TRUE((ack_to(3, seq++, 7)->health_of >> 2) & 1);
    for (int i = 0; i < 20; i++)
        (void)ack_to(4, seq++, 7);
    /* Its quiet change: applied, not relayed. */
    h.health_sub = 3;
    h.health_len = 2;
    deliver(SWIM_MSG_GOSSIP, 2, 0, &h, 1, 8);
    NT_EQ_INT(mem(2)->health_sub, 3);
    NT_EQ_INT(mem(2)->health_len, 2);
    NT_EQ_INT(fx.changes[SWIM_CHANGE_HEALTH], 2);
    NT_EQ_INT((ack_to(3, seq++, 9)->health_of >> 2) & 1, 0);
    teardown();
}

static void
test_leave(void)
{
    setup(4);
    swim_leave(fx.s, 10);
    NT_EQ_INT(swim_self(fx.s)->state, SWIM_LEFT);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 9);
    NT_EQ_INT(fx.last_inc, 9);
    NT_TRUE(fx.nout >= 3);
    for (size_t i = 0; i < fx.nout; i++) {
        NT_EQ_INT(fx.out[i].type, SWIM_MSG_GOSSIP);
        NT_TRUE(fx.out[i].has_left_self);
    }
    NT_FALSE(swim_leave_done(fx.s));
    for (int i = 0; i < 20; i++)
        swim_tick(fx.s, 10 + 200 * (naos_time)(i + 1));
    NT_TRUE(swim_leave_done(fx.s));
    /* A suspicion of us after leaving is not refuted. */
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {1}, .incarnation = 9, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 5000);
    NT_EQ_INT(swim_self(fx.s)->state, SWIM_LEFT);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 9);
    teardown();
}

static void
test_sync_digest_exchange(void)
{
    setup(4);
    /* Peer 2 holds a newer view of 3 (incarnation 5) and knows 9, which
     * we do not; it lacks 4. */
    struct swim_update e[3] = {
        {.kind = SWIM_UPD_ALIVE, .id = {2}, .incarnation = 1, .name = "n2",
         .addr = "t:2", .full = true},
        {.kind = SWIM_UPD_ALIVE, .id = {3}, .incarnation = 5},
        {.kind = SWIM_UPD_ALIVE, .id = {9}, .incarnation = 1},
    };
    fx.want_id.v = 3;
    deliver(SWIM_MSG_SYNC, 2, 0, e, 3, 10);
    NT_EQ_INT(fx.nout, 1);
    struct sent *r = &fx.out[0];
    NT_EQ_INT(r->type, SWIM_MSG_SYNC_REPLY);
    NT_EQ_INT(r->to.v, 2);
    NT_EQ_INT(r->nwants, 2);
    NT_TRUE(r->wants_x);
    /* Full entries for what it lacks: us (1) and 4. */
    NT_EQ_INT(r->nupdates, 2);
    teardown();
}

/* The periodic sync sends a view hash, not digests; a node whose view
 * hashes alike answers with an empty reply, any other with its digests. */
static void
test_sync_view_hash(void)
{
    setup(4);
    pump_to(31000, 0); /* the first sync is due within 30 s */
    struct sent sync = fx.last_sync;
    NT_EQ_INT(sync.type, SWIM_MSG_SYNC);
    NT_TRUE(sync.view_hash != 0);
    NT_EQ_INT(sync.nupdates, 1); /* our own entry only */
    NT_TRUE(sync.size < 100);
    /* Member 2 with the same view (its own entry as we hold it). */
    struct swim_update own = {.kind = SWIM_UPD_ALIVE, .id = {2},
                              .incarnation = 1, .name = "n2", .addr = "t:2",
                              .full = true};
    struct swim_msg m = {.type = SWIM_MSG_SYNC, .from = {2}, .updates = &own,
                         .nupdates = 1, .view_hash = sync.view_hash};
    fx.nout = 0;
    swim_on_message(fx.s, NULL, &m, 31000);
    NT_EQ_INT(fx.nout, 1);
    NT_EQ_INT(fx.out[0].type, SWIM_MSG_SYNC_REPLY);
    NT_EQ_INT(fx.out[0].to.v, 2);
    NT_EQ_INT(fx.out[0].nupdates, 0);
    /* A different view (its own entry is newer): our digests go back. */
    own.incarnation = 2;
    fx.nout = 0;
    swim_on_message(fx.s, NULL, &m, 31001);
    NT_EQ_INT(fx.nout, 1);
    NT_EQ_INT(fx.out[0].type, SWIM_MSG_SYNC);
    NT_EQ_INT(fx.out[0].to.v, 2);
    NT_EQ_INT(fx.out[0].view_hash, 0);
    NT_EQ_INT(fx.out[0].nupdates, 4); /* us in full, 2..4 as digests */
    NT_EQ_INT(mem(2)->incarnation, 2);
    teardown();
}

static void
test_join_backoff_and_reply(void)
{
    setup(1);
    const char *seeds[] = {"t:9", "t:1"};
    NT_EQ_INT(swim_join(fx.s, seeds, 2, 0), NAOS_OK);
    NT_FALSE(swim_is_joined(fx.s));
    size_t syncs = 0;
    for (size_t i = 0; i < fx.nout; i++)
        if (fx.out[i].type == SWIM_MSG_SYNC) {
            NT_EQ_STR(fx.out[i].addr, "t:9"); /* never to ourselves */
            NT_EQ_INT(fx.out[i].to.v, 0);
            syncs++;
        }
    NT_EQ_INT(syncs, 1);
    struct swim_update e = {.kind = SWIM_UPD_ALIVE, .id = {9},
                            .incarnation = 3, .name = "n9", .addr = "t:9",
                            .full = true};
    deliver(SWIM_MSG_SYNC_REPLY, 9, 0, &e, 1, 50);
    NT_TRUE(swim_is_joined(fx.s));
    NT_EQ_INT(mem(9)->state, SWIM_ALIVE);
    NT_EQ_INT(swim_join(fx.s, seeds, 0, 60), NAOS_EINVAL);
    teardown();
}

static void
test_reap_dead(void)
{
    setup(3);
    struct swim_update d = {
        .kind = SWIM_UPD_DEAD, .id = {3}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &d, 1, 100);
    NT_EQ_INT(mem(3)->state, SWIM_DEAD);
    pump_to(100 + 3600 * 1000 - 1, 0);
    if (mem(3) == NULL)
        NT_FAIL("reaped early: removed=%d", fx.changes[SWIM_CHANGE_REMOVED]);
    pump_to(100 + 3600 * 1000 + 1, 0);
    NT_TRUE(mem(3) == NULL);
    NT_EQ_INT(fx.changes[SWIM_CHANGE_REMOVED], 1);
    teardown();
}

/* find_out: the first message sent of type to member `to` from index
 * from on, or NULL. */
static const struct sent *
find_out(enum swim_msg_type type, uint64_t to, size_t from)
{
    for (size_t i = from; i < fx.nout; i++)
        if (fx.out[i].type == type && fx.out[i].to.v == to)
            return &fx.out[i];
    return NULL;
}

/* A claim older than what we hold (the sender missed a refutation) gets
 * the newer state back: first on the answer, or on a gossip message. */
static void
test_stale_claim_corrected(void)
{
    setup(4);
    struct swim_update a = {.kind = SWIM_UPD_ALIVE, .id = {3},
                            .incarnation = 3, .name = "n3", .addr = "t:3"};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &a, 1, 0);
    NT_EQ_INT(mem(3)->incarnation, 3);
    /* A ping from 4 that still says 3 is suspect at incarnation 1. */
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {3}, .incarnation = 1, .from = {4}};
    fx.nout = 0;
    deliver(SWIM_MSG_PING, 4, 77, &u, 1, 10);
    const struct sent *o = find_out(SWIM_MSG_ACK, 4, 0);
    NT_TRUE(o != NULL);
    NT_EQ_INT(o->seq, 77);
    NT_TRUE(o->has_first);
    NT_EQ_INT(o->first.kind, SWIM_UPD_ALIVE);
    NT_EQ_INT(o->first.id.v, 3);
    NT_EQ_INT(o->first.incarnation, 3);
    NT_EQ_INT(mem(3)->state, SWIM_ALIVE);
    /* A gossip message (no answer) saying 3 is dead: a gossip back. */
    u.kind = SWIM_UPD_DEAD;
    u.incarnation = 2;
    fx.nout = 0;
    deliver(SWIM_MSG_GOSSIP, 4, 0, &u, 1, 20);
    o = find_out(SWIM_MSG_GOSSIP, 4, 0);
    NT_TRUE(o != NULL);
    NT_EQ_INT(o->first.kind, SWIM_UPD_ALIVE);
    NT_EQ_INT(o->first.id.v, 3);
    NT_EQ_INT(o->first.incarnation, 3);
    /* About ourselves (incarnation 8): a stale suspicion is not refuted
     * again, but the sender gets our alive. */
    u = (struct swim_update){
        .kind = SWIM_UPD_SUSPECT, .id = {1}, .incarnation = 5, .from = {4}};
    fx.nout = 0;
    deliver(SWIM_MSG_GOSSIP, 4, 0, &u, 1, 30);
    NT_EQ_INT(swim_self(fx.s)->incarnation, 8);
    o = find_out(SWIM_MSG_GOSSIP, 4, 0);
    NT_TRUE(o != NULL);
    NT_TRUE(o->has_alive_self);
    NT_EQ_INT(o->alive_self_inc, 8);
    /* Nothing stale, nothing sent back. */
    fx.nout = 0;
    deliver(SWIM_MSG_GOSSIP, 4, 0, &a, 1, 40);
    NT_TRUE(find_out(SWIM_MSG_GOSSIP, 4, 0) == NULL);
    teardown();
}

/* A suspicion heard from another node goes to the suspect on a ping, so
 * its refutation comes straight back on the ack. */
static void
test_heard_suspicion_pings_suspect(void)
{
    setup(4);
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {3}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 10);
    NT_EQ_INT(mem(3)->state, SWIM_SUSPECT);
    const struct sent *o = find_out(SWIM_MSG_PING, 3, 0);
    NT_TRUE(o != NULL);
    NT_EQ_INT(o->first.kind, SWIM_UPD_SUSPECT);
    NT_EQ_INT(o->first.id.v, 3);
    /* The suspect refutes on the ack: alive again. */
    struct swim_update a = {.kind = SWIM_UPD_ALIVE, .id = {3},
                            .incarnation = 2, .name = "n3", .addr = "t:3"};
    deliver(SWIM_MSG_ACK, 3, o->seq, &a, 1, 12);
    NT_EQ_INT(mem(3)->state, SWIM_ALIVE);
    teardown();
}

/* A probe timeout before a suspicion runs out, the node asks a few peers
 * and the suspect again; a peer holding the refutation sends it back. */
static void
test_last_call_before_deadline(void)
{
    /* N = 5, mult 4 at 1 s: min 4 s, max 24 s, k = 2: a lone suspector's
     * deadline is at 24 s, its last call at 23.5 s. */
    setup(5);
    struct swim_update u = {
        .kind = SWIM_UPD_SUSPECT, .id = {4}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 0);
    pump_to(23400, 0); /* 4's acks carry no refutation */
    NT_EQ_INT(mem(4)->state, SWIM_SUSPECT);
    fx.nout = 0;
    swim_tick(fx.s, 23500);
    size_t asked = 0;
    for (size_t i = 0; i < fx.nout; i++) {
        const struct sent *o = &fx.out[i];
        if (o->type == SWIM_MSG_GOSSIP && o->first.kind == SWIM_UPD_SUSPECT &&
            o->first.id.v == 4) {
            NT_TRUE(o->to.v != 4 && o->to.v != 1);
            asked++;
        }
    }
    NT_EQ_INT(asked, 3);
    const struct sent *p = find_out(SWIM_MSG_PING, 4, 0);
    NT_TRUE(p != NULL);
    NT_EQ_INT(p->first.kind, SWIM_UPD_SUSPECT);
    /* Peer 3 held the refutation: it answers with it in time. */
    struct swim_update a = {.kind = SWIM_UPD_ALIVE, .id = {4},
                            .incarnation = 2, .name = "n4", .addr = "t:4"};
    deliver(SWIM_MSG_GOSSIP, 3, 0, &a, 1, 23510);
    pump_to(30000, 0);
    NT_EQ_INT(mem(4)->state, SWIM_ALIVE);
    teardown();
}

/* A reaped member stays gone: a peer that still holds it dead (it reaps
 * later) must not bring it back through a sync, in full or by digest,
 * or every reap would be undone by the next sync and the member would
 * circulate forever. */
static void
test_reaped_not_resurrected_by_sync(void)
{
    setup(3);
    struct swim_update d = {
        .kind = SWIM_UPD_DEAD, .id = {3}, .incarnation = 1, .from = {2}};
    deliver(SWIM_MSG_GOSSIP, 2, 0, &d, 1, 100);
    pump_to(100 + 3600 * 1000 + 1, 0);
    NT_TRUE(mem(3) == NULL);
    int removed = fx.changes[SWIM_CHANGE_REMOVED];
    int states = fx.changes[SWIM_CHANGE_STATE];
    naos_time t = 100 + 3600 * 1000 + 10;
    static const enum swim_upd_kind kinds[] = {SWIM_UPD_DEAD, SWIM_UPD_LEFT};
    for (size_t k = 0; k < 2; k++) {
        /* Member 2's full state (a join answer or a sync fill). */
        struct swim_update e[2] = {
            {.kind = SWIM_UPD_ALIVE, .id = {2}, .incarnation = 1,
             .name = "n2", .addr = "t:2", .full = true},
            {.kind = kinds[k], .id = {3}, .incarnation = 1, .from = {2},
             .name = "n3", .addr = "t:3", .full = true},
        };
        deliver(SWIM_MSG_SYNC_REPLY, 2, 0, e, 2, t++);
        NT_TRUE(mem(3) == NULL);
        deliver(SWIM_MSG_SYNC_FILL, 2, 0, e, 2, t++);
        NT_TRUE(mem(3) == NULL);
        /* Its digests: we do not ask for the entry. */
        e[1].full = false;
        e[1].name = e[1].addr = NULL;
        fx.want_id.v = 3;
        fx.nout = 0;
        deliver(SWIM_MSG_SYNC, 2, 0, e, 2, t++);
        NT_EQ_INT(fx.nout, 1);
        NT_EQ_INT(fx.out[0].type, SWIM_MSG_SYNC_REPLY);
        NT_FALSE(fx.out[0].wants_x);
        NT_TRUE(mem(3) == NULL);
    }
    NT_EQ_INT(fx.changes[SWIM_CHANGE_STATE], states);
    NT_EQ_INT(fx.changes[SWIM_CHANGE_REMOVED], removed);
    /* A live member we never knew is still learnt from a sync. */
    struct swim_update a = {.kind = SWIM_UPD_ALIVE, .id = {3},
                            .incarnation = 2, .name = "n3", .addr = "t:3",
                            .full = true};
    deliver(SWIM_MSG_SYNC_FILL, 2, 0, &a, 1, t++);
    NT_TRUE(mem(3) != NULL);
    NT_EQ_INT(mem(3)->state, SWIM_ALIVE);
    teardown();
}

static void
test_alloc_failures(void)
{
    /* Every allocation failing in turn: errors, never crashes or leaks,
     * until the point past the last allocation, which must run clean. */
    bool clean = false;
    long n;
    for (n = 0; n < 400 && !clean; n++) {
        memset(&fx, 0, sizeof(fx));
        struct swim_config c;
        swim_config_profile(&c, "lan");
        c.id.v = 1;
        c.addr = "t:1";
        naos_alloc_fail_after(n);
        struct swim *s = NULL;
        int rc = swim_alloc(&s, &c, &test_io);
        bool known = false, probed = false;
        if (rc == NAOS_OK) {
            fx.s = s;
            swim_start(s, 0);
            struct swim_update u = {.kind = SWIM_UPD_ALIVE, .id = {2},
                                    .incarnation = 1, .addr = "t:2"};
            deliver(SWIM_MSG_GOSSIP, 2, 0, &u, 1, 0);
            const char *seeds[] = {"t:9"};
            (void)swim_join(s, seeds, 1, 0);
            swim_tick(s, 3000);
            known = mem(2) != NULL && mem(2)->state == SWIM_ALIVE;
            for (size_t i = 0; i < fx.nout; i++)
                probed |= fx.out[i].type == SWIM_MSG_PING &&
                          fx.out[i].to.v == 2;
            swim_free(s);
        } else {
            NT_EQ_INT(rc, NAOS_ENOMEM);
        }
        clean = naos_alloc_fault_armed();
        naos_alloc_fail_after(-1);
        NT_EQ_INT(naos_alloc_live(), 0);
        if (clean) {
            /* Nothing failed this time: it all worked. */
            NT_EQ_INT(rc, NAOS_OK);
            NT_TRUE(known);
            NT_TRUE(probed);
        }
    }
    if (!clean)
        NT_FAIL("still failing an allocation after %ld points", n);
    printf("  report: %ld allocation failure points, then a clean run\n",
           n - 1);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_profiles),
        NT_CASE(test_start_incarnation_floor),
        NT_CASE(test_refute_suspicion),
        NT_CASE(test_dogpile_suspicion_timeout),
        NT_CASE(test_refutation_clears_suspicion),
        NT_CASE(test_probe_failure_suspects_and_lhm),
        NT_CASE(test_probe_fails_when_every_relay_nacks),
        NT_CASE(test_buddy_first),
        NT_CASE(test_conn_closed_fast_path),
        NT_CASE(test_ping_from_unknown_is_answered),
        NT_CASE(test_malformed_dropped),
        NT_CASE(test_piggyback_budget),
        NT_CASE(test_health_versions),
        NT_CASE(test_health_quiet),
        NT_CASE(test_leave),
        NT_CASE(test_sync_digest_exchange),
        NT_CASE(test_sync_view_hash),
        NT_CASE(test_join_backoff_and_reply),
        NT_CASE(test_reap_dead),
        NT_CASE(test_reaped_not_resurrected_by_sync),
        NT_CASE(test_stale_claim_corrected),
        NT_CASE(test_heard_suspicion_pings_suspect),
        NT_CASE(test_last_call_before_deadline),
        NT_CASE(test_alloc_failures),
        {0},
    };
    return nt_run(cases);
}
