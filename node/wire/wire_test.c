/* SPDX-License-Identifier: Apache-2.0 */
/* wire_test.c: two node transports on loopback, each with its own store
 * and before-sleep batch:
 *   - ranges: an overlapping registration (or a taken name, type 0, an
 *     upside-down range) is refused, and types of no registered range are
 *     not sent;
 *   - a message of the Raft range reaching a node that reserved the range
 *     without a handler is counted as unhandled there, and never handed to
 *     membership nor counted as its refusal (issue 11); a type no range
 *     holds is counted under "none";
 *   - the membership handler gets its messages only after the before-
 *     sleep commit made the sender's mark durable (it is in the store),
 *     and what it refuses is counted;
 *   - when that commit fails, the held messages are dropped, counted, and
 *     never handed over. */
#include "node/wire/wire.h"

#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/base/time.h"
#include "store/state.h"
#include "store/store_testutil.h"

#define CLUSTER 0x77

struct side {
    char dir[256];
    struct store *store;
    struct store_batch batch;
    struct wire *w;
    int got;       /* membership messages handed over */
    char last[32];
};

/* members_recv: takes payloads that start with "ok", refuses the rest. */
static bool
members_recv(void *arg, const struct wire_msg *m)
{
    struct side *s = arg;
    s->got++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)m->len,
             (const char *)m->payload);
    return m->len >= 2 && memcmp(m->payload, "ok", 2) == 0;
}

static struct auth_keyring kr;

static void
keys_init(void)
{
    unsigned char raw[AUTH_KEY_BYTES];
    memset(raw, 0x42, sizeof raw);
    struct auth_key key;
    NT_EQ_INT(auth_key_init_from(&key, raw), NAOS_OK);
    NT_EQ_INT(auth_keyring_init(&kr, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&kr, &key), NAOS_OK);
    auth_key_fini(&key);
}

static void
side_open(struct reactor *r, struct side *s, uint64_t id)
{
    memset(s, 0, sizeof *s);
    st_tmpdir(s->dir, sizeof s->dir);
    struct store_options so = STORE_OPTIONS_ZERO;
    so.unsafe_nosync = true;
    s->store = st_open(s->dir, &so);
    store_batch_init(&s->batch, s->store);
    struct wire_config c = {"tcp://127.0.0.1:0", 65536, &kr, id, s->store};
    char err[256];
    NT_EQ_INT(wire_open(&s->w, r, &c, &s->batch, err, sizeof err), NAOS_OK);
}

static void
side_close(struct side *s)
{
    wire_close(s->w);
    store_close(s->store);
    st_rmdir(s->dir);
}

static const struct wire_range_stats *
range_stats(struct side *s, const char *name)
{
    struct wire_stats st;
    wire_stats_get(s->w, &st);
    for (size_t i = 0; i <= st.nranges; i++) {
        const char *nm;
        const struct wire_range_stats *rs;
        NT_EQ_INT(wire_range_at(s->w, i, &nm, NULL, NULL, &rs), NAOS_OK);
        if (strcmp(nm, name) == 0)
            return rs;
    }
    NT_FAIL("no range %s", name);
    return NULL;
}

/* run_until_in runs the loop until s has received want frames, or 10 s
 * (a deadline for slow builds, not a bound on the behaviour). */
static void
run_until_in(struct reactor *r, struct side *s, uint64_t want)
{
    naos_time end = naos_clock_now() + 10000;
    struct wire_stats st;
    for (;;) {
        wire_stats_get(s->w, &st);
        if (st.net->msgs_in >= want || naos_clock_now() >= end)
            break;
        reactor_run_once(r, 20);
    }
    NT_EQ_INT(st.net->msgs_in, want);
}

static void
test_ranges_refuse_overlap(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    keys_init();
    struct side a;
    side_open(&r, &a, 1);
    NT_EQ_INT(wire_register(a.w, "members", WIRE_TYPES_MEMBERS_LO,
                            WIRE_TYPES_MEMBERS_HI, members_recv, &a),
              NAOS_OK);
    NT_EQ_INT(wire_register(a.w, "raft", WIRE_TYPES_RAFT_LO,
                            WIRE_TYPES_RAFT_HI, NULL, NULL),
              NAOS_OK);
    /* overlaps, at either end or inside */
    NT_EQ_INT(wire_register(a.w, "x", 60, 70, NULL, NULL), NAOS_EEXIST);
    NT_EQ_INT(wire_register(a.w, "x", 95, 96, NULL, NULL), NAOS_EEXIST);
    NT_EQ_INT(wire_register(a.w, "x", 1, 1, NULL, NULL), NAOS_EEXIST);
    NT_EQ_INT(wire_register(a.w, "x", 0, 200, NULL, NULL), NAOS_EINVAL);
    /* a taken name, a reserved name, bad bounds */
    NT_EQ_INT(wire_register(a.w, "raft", 200, 210, NULL, NULL), NAOS_EEXIST);
    NT_EQ_INT(wire_register(a.w, "none", 200, 210, NULL, NULL), NAOS_EINVAL);
    NT_EQ_INT(wire_register(a.w, "x", 0, 0, NULL, NULL), NAOS_EINVAL);
    NT_EQ_INT(wire_register(a.w, "x", 9, 8, NULL, NULL), NAOS_EINVAL);
    NT_EQ_INT(wire_register(a.w, "", 200, 210, NULL, NULL), NAOS_EINVAL);
    NT_EQ_INT(wire_register(a.w, "a-name-far-too-long", 200, 210, NULL,
                            NULL),
              NAOS_EINVAL);
    /* adjacent is fine */
    NT_EQ_INT(wire_register(a.w, "requests", WIRE_TYPES_REQ_LO,
                            WIRE_TYPES_REQ_HI, NULL, NULL),
              NAOS_OK);
    struct wire_stats st;
    wire_stats_get(a.w, &st);
    NT_EQ_INT(st.nranges, 3);
    /* only registered types are sent */
    NT_EQ_INT(wire_send(a.w, "tcp://127.0.0.1:1", 128, NULL, 0), NAOS_EINVAL);
    NT_EQ_INT(wire_range_at(a.w, 4, NULL, NULL, NULL, NULL), NAOS_ENOTFOUND);
    side_close(&a);
    auth_keyring_fini(&kr);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
register_all(struct side *s, bool extra)
{
    NT_EQ_INT(wire_register(s->w, "members", WIRE_TYPES_MEMBERS_LO,
                            WIRE_TYPES_MEMBERS_HI, members_recv, s),
              NAOS_OK);
    NT_EQ_INT(wire_register(s->w, "raft", WIRE_TYPES_RAFT_LO,
                            WIRE_TYPES_RAFT_HI, NULL, NULL),
              NAOS_OK);
    if (extra) /* the sender knows a range the receiver does not */
        NT_EQ_INT(wire_register(s->w, "future", 200, 210, NULL, NULL),
                  NAOS_OK);
}

static void
test_raft_type_is_unhandled_not_bad_members(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    keys_init();
    struct side a, b;
    side_open(&r, &a, 1);
    side_open(&r, &b, 2);
    register_all(&a, true);
    register_all(&b, false);
    const char *to = wire_listen_url(b.w);
    NT_EQ_INT(wire_send(a.w, to, WIRE_TYPES_RAFT_LO + 6,
                        (const uint8_t *)"raft", 4),
              NAOS_OK);
    NT_EQ_INT(wire_send(a.w, to, 3, (const uint8_t *)"ok ping", 7), NAOS_OK);
    NT_EQ_INT(wire_send(a.w, to, 4, (const uint8_t *)"garbage", 7), NAOS_OK);
    NT_EQ_INT(wire_send(a.w, to, 205, (const uint8_t *)"?", 1), NAOS_OK);
    run_until_in(&r, &b, 4);
    const struct wire_range_stats *raft = range_stats(&b, "raft");
    const struct wire_range_stats *mem = range_stats(&b, "members");
    const struct wire_range_stats *none = range_stats(&b, "none");
    NT_EQ_INT(raft->received, 1);
    NT_EQ_INT(raft->unhandled, 1);
    NT_EQ_INT(none->received, 1);
    NT_EQ_INT(none->unhandled, 1);
    NT_EQ_INT(mem->received, 2);
    /* held until the before-sleep commit */
    NT_EQ_INT(b.got, 0);
    struct store_replay_mark *m = NULL;
    size_t n = 0;
    ST_OK(b.store, store_replay_marks_list(b.store, &m, &n));
    NT_EQ_INT(n, 0);
    NT_EQ_INT(store_batch_commit(&b.batch), NAOS_OK);
    NT_EQ_INT(b.batch.commits, 1);
    /* the sender's mark is in the store, then membership got its two */
    ST_OK(b.store, store_replay_marks_list(b.store, &m, &n));
    NT_EQ_INT(n, 1);
    NT_EQ_INT(m[0].sender, 1);
    naos_free(m);
    NT_EQ_INT(b.got, 2);
    NT_EQ_STR(b.last, "garbage");
    NT_EQ_INT(mem->refused, 1);
    /* the Raft message was never membership's */
    NT_EQ_INT(raft->refused, 0);
    struct wire_stats st;
    wire_stats_get(b.w, &st);
    NT_EQ_INT(st.mark_writes, 1);
    /* nothing more: a round with nothing to write commits nothing */
    NT_EQ_INT(store_batch_commit(&b.batch), NAOS_OK);
    NT_EQ_INT(b.batch.commits, 1);
    NT_EQ_INT(b.got, 2);
    side_close(&a);
    side_close(&b);
    auth_keyring_fini(&kr);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_failed_commit_drops_held(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    keys_init();
    struct side a, b;
    side_open(&r, &a, 1);
    side_open(&r, &b, 2);
    register_all(&a, false);
    register_all(&b, false);
    NT_EQ_INT(wire_send(a.w, wire_listen_url(b.w), 3,
                        (const uint8_t *)"ok", 2),
              NAOS_OK);
    run_until_in(&r, &b, 1);
    store_fault_fail_next_commit();
    NT_EQ_INT(store_batch_commit(&b.batch), NAOS_ESTORE);
    NT_EQ_INT(b.got, 0);
    NT_EQ_INT(range_stats(&b, "members")->dropped, 1);
    side_close(&a);
    side_close(&b);
    auth_keyring_fini(&kr);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

int
main(void)
{
    NT_EQ_INT(auth_init(), NAOS_OK);
    static const struct nt_case cases[] = {
        NT_CASE(test_ranges_refuse_overlap),
        NT_CASE(test_raft_type_is_unhandled_not_bad_members),
        NT_CASE(test_failed_commit_drops_held),
        {0}};
    return nt_run(cases);
}
