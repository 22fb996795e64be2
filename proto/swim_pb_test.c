/* SPDX-License-Identifier: Apache-2.0 */
/* swim_pb_test.c: SWIM messages and health blobs through protobuf: round
 * trips, the core's size estimate, and hostile input. */
#include "proto/swim_pb.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "proto/gossip.pb-c.h"

static void
test_round_trip(void)
{
    long live = naos_alloc_live();
    uint8_t hb[4] = {1, 2, 3, 4};
    struct swim_update ups[3] = {
        {.kind = SWIM_UPD_ALIVE, .id = {7}, .incarnation = 3, .name = "n7",
         .addr = "tcp://127.0.0.1:7946"},
        {.kind = SWIM_UPD_SUSPECT, .id = {8}, .incarnation = 1, .from = {7}},
        {.kind = SWIM_UPD_HEALTH, .id = {7}, .health_inc = 3,
         .health_ver = 9, .health_sub = 300, .health = hb,
         .health_len = sizeof hb, .full = true},
    };
    struct swim_id wants[2] = {{5}, {0xffffffffffffffffull}};
    struct swim_msg m = {
        .type = SWIM_MSG_PING_REQ, .seq = 42, .target = {8},
        .target_addr = "tcp://10.0.0.8:7946", .updates = ups, .nupdates = 3,
        .wants = wants, .nwants = 2, .view_hash = 0x8000000000000001ull,
    };
    uint8_t buf[1024];
    size_t len = 0;
    NT_EQ_INT(swim_pb_pack(&m, buf, sizeof buf, &len), NAOS_OK);
    NT_EQ_INT(len, swim_pb_packed_size(&m));
    /* The core's estimate is what goes on the wire (piggyback budget). */
    NT_EQ_INT(len, swim_msg_wire_size(&m));
    NT_EQ_INT(swim_pb_pack(&m, buf, len - 1, &len), NAOS_ETOOBIG);
    NT_EQ_INT(swim_pb_pack(&m, buf, sizeof buf, &len), NAOS_OK);

    struct swim_pb_msg out = SWIM_PB_MSG_ZERO;
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_PING_REQ, buf, len), NAOS_OK);
    NT_EQ_INT(out.msg.type, SWIM_MSG_PING_REQ);
    NT_EQ_INT(out.msg.from.v, 0);
    NT_EQ_INT(out.msg.seq, 42);
    NT_EQ_INT(out.msg.target.v, 8);
    NT_EQ_STR(out.msg.target_addr, "tcp://10.0.0.8:7946");
    NT_EQ_INT(out.msg.nupdates, 3);
    NT_EQ_INT(out.msg.updates[0].kind, SWIM_UPD_ALIVE);
    NT_EQ_STR(out.msg.updates[0].name, "n7");
    NT_EQ_STR(out.msg.updates[0].addr, "tcp://127.0.0.1:7946");
    NT_TRUE(out.msg.updates[1].name == NULL);
    NT_EQ_INT(out.msg.updates[1].from.v, 7);
    NT_EQ_INT(out.msg.updates[2].health_len, 4);
    NT_EQ_INT(memcmp(out.msg.updates[2].health, hb, 4), 0);
    NT_TRUE(out.msg.updates[2].full);
    NT_EQ_INT(out.msg.updates[2].health_sub, 300);
    NT_TRUE(out.msg.view_hash == 0x8000000000000001ull);
    NT_EQ_INT(out.msg.nwants, 2);
    NT_TRUE(out.msg.wants[1].v == 0xffffffffffffffffull);
    swim_pb_msg_fini(&out);
    swim_pb_msg_fini(&out); /* idempotent */

    /* An empty message. */
    struct swim_msg e = {.type = SWIM_MSG_GOSSIP};
    NT_EQ_INT(swim_pb_pack(&e, buf, sizeof buf, &len), NAOS_OK);
    NT_EQ_INT(len, 0);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_GOSSIP, buf, 0), NAOS_OK);
    NT_EQ_INT(out.msg.nupdates, 0);
    swim_pb_msg_fini(&out);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_hostile(void)
{
    long live = naos_alloc_live();
    struct swim_pb_msg out = SWIM_PB_MSG_ZERO;
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_PING, junk, sizeof junk),
              NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    /* Unknown type numbers. */
    NT_EQ_INT(swim_pb_unpack(&out, 0, NULL, 0), NAOS_EPROTO);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_TYPE_MAX + 1, NULL, 0),
              NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    /* A name longer than SWIM_NAME_MAX is refused, not truncated. */
    char longname[SWIM_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    struct swim_update u = {.kind = SWIM_UPD_ALIVE, .id = {1},
                            .name = longname};
    struct swim_msg m = {.updates = &u, .nupdates = 1};
    uint8_t buf[512];
    size_t len;
    NT_EQ_INT(swim_pb_pack(&m, buf, sizeof buf, &len), NAOS_OK);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_GOSSIP, buf, len), NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    /* Too many updates. */
    size_t n = SWIM_MAX_SYNC + 1;
    struct swim_update *many = naos_alloc(n * sizeof *many);
    for (size_t i = 0; i < n; i++)
        many[i] = (struct swim_update){.kind = SWIM_UPD_LEFT, .id = {i + 1}};
    struct swim_msg big = {.updates = many, .nupdates = n};
    size_t cap = swim_pb_packed_size(&big);
    uint8_t *bb = naos_alloc(cap);
    NT_EQ_INT(swim_pb_pack(&big, bb, cap, &len), NAOS_OK);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_SYNC, bb, len), NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_SYNC, bb, len - 2), NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    naos_free(bb);
    naos_free(many);
    /* A health blob beyond the bound. */
    uint8_t hb[SWIM_HEALTH_MAX + 1] = {0};
    struct swim_update hu = {.kind = SWIM_UPD_HEALTH, .id = {1},
                             .health = hb, .health_len = sizeof hb};
    struct swim_msg hm = {.updates = &hu, .nupdates = 1};
    uint8_t hbuf[1024];
    NT_EQ_INT(swim_pb_pack(&hm, hbuf, sizeof hbuf, &len), NAOS_OK);
    NT_EQ_INT(swim_pb_unpack(&out, SWIM_MSG_GOSSIP, hbuf, len), NAOS_EPROTO);
    swim_pb_msg_fini(&out);
    /* Allocation failures: refused cleanly, nothing leaks. */
    struct swim_update ok = {.kind = SWIM_UPD_ALIVE, .id = {1}, .name = "x"};
    struct swim_id w = {3};
    struct swim_msg om = {.updates = &ok, .nupdates = 1, .wants = &w,
                          .nwants = 1};
    NT_EQ_INT(swim_pb_pack(&om, buf, sizeof buf, &len), NAOS_OK);
    for (long k = 0; k < 10; k++) {
        naos_alloc_fail_after(k);
        int rc = swim_pb_unpack(&out, SWIM_MSG_SYNC_REPLY, buf, len);
        naos_alloc_fail_after(-1);
        swim_pb_msg_fini(&out);
        if (rc == NAOS_OK)
            break;
        NT_TRUE(rc == NAOS_ENOMEM || rc == NAOS_EPROTO);
    }
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_health(void)
{
    struct swim_health h, g;
    memset(&h, 0, sizeof h); /* padding too: compared whole below */
    h.agents_running = 3;
    h.agents_restarting = 1;
    h.agents_failed = 2;
    h.deployments = 4;
    h.load_centi = 175;
    h.agents_node_trouble = 6;
    h.deployments_failed = 1;
    uint8_t buf[SWIM_HEALTH_MAX];
    size_t len;
    NT_EQ_INT(swim_pb_health_pack(&h, buf, sizeof buf, &len), NAOS_OK);
    NT_TRUE(len <= 42);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    NT_EQ_INT(memcmp(&g, &h, sizeof h), 0);
    NT_EQ_INT(g.deployments_failed, 1);
    /* The largest blob (every count at its top, nine voters) is within
     * the header's bound, and SWIM_HEALTH_MAX. */
    struct swim_health big = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                              UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                              SWIM_HEALTH_VOTERS_MAX, {0}, 0, {{"", ""}},
                              false};
    for (size_t i = 0; i < SWIM_HEALTH_VOTERS_MAX; i++)
        big.voters[i] = UINT64_MAX - i;
    NT_EQ_INT(swim_pb_health_pack(&big, buf, sizeof buf, &len), NAOS_OK);
    NT_TRUE(len <= 131);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    NT_EQ_INT(memcmp(&g, &big, sizeof big), 0);
    /* a founding node's blob */
    struct swim_health f = {.bootstrap_expect = 3, .nvoters = 3,
                            .voters = {7, 8, 9}};
    NT_EQ_INT(swim_pb_health_pack(&f, buf, sizeof buf, &len), NAOS_OK);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    NT_EQ_INT(g.bootstrap_expect, 3);
    NT_EQ_INT(g.nvoters, 3);
    NT_TRUE(g.voters[2] == 9);
    /* more voters than a blob may name: refused both ways */
    f.nvoters = SWIM_HEALTH_VOTERS_MAX + 1;
    NT_EQ_INT(swim_pb_health_pack(&f, buf, sizeof buf, &len), NAOS_EINVAL);
    {
        Naos__V1__NodeHealth ph = NAOS__V1__NODE_HEALTH__INIT;
        uint64_t ten[SWIM_HEALTH_VOTERS_MAX + 1] = {1, 2, 3, 4, 5, 6, 7, 8,
                                                    9, 10};
        ph.n_voters = SWIM_HEALTH_VOTERS_MAX + 1;
        ph.voters = ten;
        len = naos__v1__node_health__pack(&ph, buf);
        NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
        NT_EQ_INT(g.nvoters, 0);
        ph.n_voters = 2;
        ten[1] = 0; /* no node has id 0 */
        len = naos__v1__node_health__pack(&ph, buf);
        NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
    }
    NT_EQ_INT(swim_pb_health_pack(&h, buf, 2, &len), NAOS_ETOOBIG);
    uint8_t junk[] = {0x08};
    NT_EQ_INT(swim_pb_health_unpack(&g, junk, sizeof junk), NAOS_EPROTO);
    NT_EQ_INT(g.agents_running, 0);
}

/* The node's labels ride in its health: round trip, the largest blob
 * within the header's bound, and a received health with too many, too
 * long or twice-given labels refused like any malformed health. */
static void
test_health_labels(void)
{
    struct swim_health h = {.agents_running = 2, .nlabels = 2,
                            .labels = {{"zone", "eu"}, {"gpu", ""}}};
    struct swim_health g;
    uint8_t buf[SWIM_HEALTH_MAX];
    size_t len;
    NT_EQ_INT(swim_pb_health_pack(&h, buf, sizeof buf, &len), NAOS_OK);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    NT_EQ_INT(g.nlabels, 2);
    NT_EQ_STR(g.labels[0].key, "zone");
    NT_EQ_STR(g.labels[0].value, "eu");
    NT_EQ_STR(g.labels[1].key, "gpu");
    NT_EQ_STR(g.labels[1].value, "");
    /* The largest: every count and voter at its top, 16 labels whose
     * KEY=VALUE texts fill SPEC_LABELS_TEXT_MAX (15 + 1 + 16 bytes each;
     * fewer, longer labels pack smaller), or four at 63 + 63 and one
     * more of 1 + 2, and no_voter. Both within the header's 741 and
     * SWIM_HEALTH_MAX. */
    struct swim_health big;
    for (int shape = 0; shape < 2; shape++) {
        memset(&big, 0xff, offsetof(struct swim_health, nvoters));
        big.nvoters = SWIM_HEALTH_VOTERS_MAX;
        for (size_t i = 0; i < SWIM_HEALTH_VOTERS_MAX; i++)
            big.voters[i] = UINT64_MAX - i;
        big.no_voter = true;
        big.nlabels = shape == 0 ? SPEC_LABELS_MAX : 5;
        for (size_t i = 0; i < big.nlabels; i++) {
            size_t kl = shape == 0 ? 15 : i < 4 ? 63 : 1;
            size_t vl = shape == 0 ? 16 : i < 4 ? 63 : 2;
            memset(big.labels[i].key, 'a' + (int)i, kl);
            big.labels[i].key[kl] = '\0';
            memset(big.labels[i].value, 'v', vl);
            big.labels[i].value[vl] = '\0';
        }
        NT_EQ_INT(swim_pb_health_pack(&big, buf, sizeof buf, &len), NAOS_OK);
        printf("  largest health, shape %d: %zu bytes\n", shape, len);
        NT_TRUE(len <= 741);
        NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
        NT_TRUE(g.no_voter);
        NT_EQ_INT(g.nlabels, big.nlabels);
        NT_EQ_STR(g.labels[big.nlabels - 1].key,
                  big.labels[big.nlabels - 1].key);
    }
    /* one byte more of text: refused when packed */
    big.labels[4].value[2] = 'v';
    big.labels[4].value[3] = '\0';
    NT_EQ_INT(swim_pb_health_pack(&big, buf, sizeof buf, &len), NAOS_EINVAL);

    /* Received: built by hand, as a hostile or newer member might. */
    Naos__V1__NodeHealth ph = NAOS__V1__NODE_HEALTH__INIT;
    Naos__V1__NodeLabel pl[SPEC_LABELS_MAX + 1], *pp[SPEC_LABELS_MAX + 1];
    char keys[SPEC_LABELS_MAX + 1][8];
    for (size_t i = 0; i <= SPEC_LABELS_MAX; i++) {
        naos__v1__node_label__init(&pl[i]);
        snprintf(keys[i], sizeof keys[i], "k%zu", i);
        pl[i].key = keys[i];
        pl[i].value = "v";
        pp[i] = &pl[i];
    }
    ph.agents_running = 5;
    ph.labels = pp;
    ph.n_labels = SPEC_LABELS_MAX; /* 16: taken */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    NT_EQ_INT(g.nlabels, SPEC_LABELS_MAX);
    ph.n_labels = SPEC_LABELS_MAX + 1; /* 17: refused */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
    NT_EQ_INT(g.nlabels, 0);
    NT_EQ_INT(g.agents_running, 0);
    char long_key[SPEC_LABEL_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    ph.n_labels = 1;
    pl[0].key = long_key; /* 64 bytes: refused */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
    long_key[SPEC_LABEL_KEY_MAX] = '\0'; /* 63: taken */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_OK);
    pl[0].key = "Zone"; /* not a key */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
    pl[0].key = "zone";
    pl[0].value = "e u"; /* not a value */
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
    pl[0].value = "eu";
    pl[1].key = "zone"; /* twice */
    ph.n_labels = 2;
    len = naos__v1__node_health__pack(&ph, buf);
    NT_EQ_INT(swim_pb_health_unpack(&g, buf, len), NAOS_EPROTO);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_round_trip),
        NT_CASE(test_hostile),
        NT_CASE(test_health_labels),
        NT_CASE(test_health),
        {0},
    };
    return nt_run(cases);
}
