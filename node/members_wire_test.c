/* SPDX-License-Identifier: Apache-2.0 */
/* members_wire_test.c: the frame bound of members_wire.h holds for the
 * worst messages the SWIM core can produce (every count and field at the
 * bounds of swim.h, packed by swim_pb), and what is larger is split into
 * parts that fit, decode, and carry every update once, in order. */
#include "node/members_wire.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "proto/swim_pb.h"

static char name[SWIM_NAME_MAX];
static char addr[SWIM_ADDR_MAX];
static uint8_t health[SWIM_HEALTH_MAX];

static void
init_fields(void)
{
    memset(name, 'n', sizeof name - 1);
    memset(addr, 'a', sizeof addr - 1);
    memset(health, 0xff, sizeof health);
}

/* A full entry or digest with every number at its largest accepted value
 * (SWIM_INC_MAX - 1: an 8-byte varint) and every string at its length
 * bound. */
static void
worst(struct swim_update *u, uint64_t id, bool full)
{
    memset(u, 0, sizeof *u);
    u->kind = SWIM_UPD_SUSPECT;
    u->id.v = id;
    u->incarnation = SWIM_INC_MAX - 1;
    u->health_inc = SWIM_INC_MAX - 1;
    u->health_ver = SWIM_INC_MAX - 1;
    u->full = full;
    if (full) {
        u->from.v = UINT64_MAX;
        u->name = name;
        u->addr = addr;
        u->health_sub = SWIM_INC_MAX - 1;
        u->health = health;
        u->health_len = sizeof health;
    }
}

static size_t
packed(const struct swim_msg *m)
{
    size_t n = swim_pb_packed_size(m);
    NT_TRUE(n > 0);
    return n;
}

/* A SYNC (own entry in full, a digest per other member) and any message
 * with SWIM_MAX_PIGGYBACK full updates fit the bound unsplit. */
static void
test_unsplittable_worst_cases_fit(void)
{
    init_fields();
    static struct swim_update ups[SWIM_MAX_MEMBERS];
    worst(&ups[0], 1, true);
    for (size_t i = 1; i < SWIM_MAX_MEMBERS; i++)
        worst(&ups[i], 1 + i, false);
    struct swim_msg sync = {.type = SWIM_MSG_SYNC, .join = true,
                            .view_hash = UINT64_MAX, .updates = ups,
                            .nupdates = SWIM_MAX_MEMBERS};
    size_t n = packed(&sync);
    printf("  worst SYNC: %zu bytes (bound %u)\n", n,
           MEMBERS_WIRE_MAX_PAYLOAD);
    NT_TRUE(n <= MEMBERS_WIRE_MAX_PAYLOAD);
    NT_TRUE(n > MEMBERS_WIRE_MAX_PAYLOAD / 2); /* the bound is not lax */
    for (size_t i = 0; i < SWIM_MAX_PIGGYBACK; i++)
        worst(&ups[i], 1 + i, true);
    for (int t = SWIM_MSG_PING; t <= SWIM_MSG_GOSSIP; t++) {
        struct swim_msg m = {.type = (enum swim_msg_type)t, .seq = UINT32_MAX,
                             .target = {UINT64_MAX}, .target_addr = addr,
                             .updates = ups, .nupdates = SWIM_MAX_PIGGYBACK};
        n = packed(&m);
        NT_TRUE(n <= MEMBERS_WIRE_MAX_PAYLOAD);
    }
    printf("  worst piggybacked message: %zu bytes\n", n);
    /* the sealed form fits the frame bound */
    NT_TRUE(MEMBERS_WIRE_MAX_ENVELOPE - MEMBERS_WIRE_MAX_PAYLOAD ==
            AUTH_SEAL_OVERHEAD);
}

struct parts {
    int n;
    size_t next_id; /* the id the next update must have */
    size_t wants_seen;
    size_t max;
    bool bad;
};

static void
on_part(void *arg, const struct swim_msg *p)
{
    struct parts *ps = arg;
    ps->n++;
    uint8_t *buf = naos_alloc(ps->max);
    size_t len = 0;
    if (swim_pb_pack(p, buf, ps->max, &len) != NAOS_OK)
        ps->bad = true;
    struct swim_pb_msg pm = SWIM_PB_MSG_ZERO;
    if (!ps->bad && swim_pb_unpack(&pm, p->type, buf, len) != NAOS_OK)
        ps->bad = true;
    for (size_t i = 0; !ps->bad && i < pm.msg.nupdates; i++)
        if (pm.msg.updates[i].id.v != ps->next_id++)
            ps->bad = true;
    if (pm.msg.nwants && ps->n != 1)
        ps->bad = true;
    ps->wants_seen += pm.msg.nwants;
    swim_pb_msg_fini(&pm);
    naos_free(buf);
}

/* A full SYNC_REPLY of 2048 members at the field bounds (over 1 MiB) goes
 * out in parts within the bound. */
static void
test_full_reply_split(void)
{
    long live = naos_alloc_live();
    init_fields();
    static struct swim_update ups[SWIM_MAX_SYNC];
    static struct swim_id wants[SWIM_MAX_SYNC];
    for (size_t i = 0; i < SWIM_MAX_SYNC; i++) {
        worst(&ups[i], 1 + i, true);
        wants[i].v = UINT64_MAX - i;
    }
    struct swim_msg m = {.type = SWIM_MSG_SYNC_REPLY, .updates = ups,
                         .nupdates = SWIM_MAX_SYNC, .wants = wants,
                         .nwants = SWIM_MAX_SYNC};
    size_t whole = packed(&m);
    printf("  full SYNC_REPLY: %zu bytes\n", whole);
    NT_TRUE(whole > AUTH_MAX_PAYLOAD);
    struct parts ps = {.next_id = 1, .max = MEMBERS_WIRE_MAX_PAYLOAD};
    NT_EQ_INT(members_wire_split(&m, MEMBERS_WIRE_MAX_PAYLOAD, on_part, &ps),
              NAOS_OK);
    NT_FALSE(ps.bad);
    NT_EQ_INT(ps.next_id, SWIM_MAX_SYNC + 1);
    NT_EQ_INT(ps.wants_seen, SWIM_MAX_SYNC);
    NT_TRUE((size_t)ps.n >= whole / MEMBERS_WIRE_MAX_PAYLOAD + 1);
    NT_TRUE(ps.n <= 20); /* 2,117,636 bytes: 17 parts at least */
    /* a small one is passed through as is, an empty one too */
    struct parts one = {.next_id = 1, .max = MEMBERS_WIRE_MAX_PAYLOAD};
    m.nupdates = 3;
    m.nwants = 0;
    NT_EQ_INT(members_wire_split(&m, MEMBERS_WIRE_MAX_PAYLOAD, on_part, &one),
              NAOS_OK);
    NT_EQ_INT(one.n, 1);
    NT_EQ_INT(one.next_id, 4);
    struct swim_msg empty = {.type = SWIM_MSG_SYNC_REPLY};
    struct parts e = {.next_id = 1, .max = MEMBERS_WIRE_MAX_PAYLOAD};
    NT_EQ_INT(members_wire_split(&empty, 100, on_part, &e), NAOS_OK);
    NT_EQ_INT(e.n, 1);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* What cannot be split is refused whole: a SYNC, a PING, or an update
 * alone larger than the bound. */
static void
test_refused_whole(void)
{
    init_fields();
    struct swim_update ups[8];
    for (size_t i = 0; i < 8; i++)
        worst(&ups[i], 1 + i, true);
    struct parts ps = {.next_id = 1, .max = 4096};
    struct swim_msg ping = {.type = SWIM_MSG_PING, .updates = ups,
                            .nupdates = 8};
    NT_EQ_INT(members_wire_split(&ping, 1000, on_part, &ps), NAOS_ETOOBIG);
    struct swim_msg sync = {.type = SWIM_MSG_SYNC, .updates = ups,
                            .nupdates = 8};
    NT_EQ_INT(members_wire_split(&sync, 1000, on_part, &ps), NAOS_ETOOBIG);
    struct swim_msg fill = {.type = SWIM_MSG_SYNC_FILL, .updates = ups,
                            .nupdates = 8};
    NT_EQ_INT(members_wire_split(&fill, 100, on_part, &ps), NAOS_ETOOBIG);
    NT_EQ_INT(ps.n, 0);
    /* but 1200 bytes per part works: one update each (a full entry at
     * the bounds is about 1,030 bytes) */
    NT_EQ_INT(members_wire_split(&fill, 1200, on_part, &ps), NAOS_OK);
    NT_EQ_INT(ps.n, 8);
    NT_FALSE(ps.bad);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_unsplittable_worst_cases_fit),
        NT_CASE(test_full_reply_split),
        NT_CASE(test_refused_whole),
        {0},
    };
    return nt_run(cases);
}
