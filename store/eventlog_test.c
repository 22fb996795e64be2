/* SPDX-License-Identifier: Apache-2.0 */
/* eventlog_test.c: events written in batches survive a close and reopen,
 * come back oldest first (the newest max of them), stay bounded, and
 * refuse seqs out of order. */
#include "store/eventlog.h"

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/store_testutil.h"

struct seen {
    uint64_t seqs[64];
    size_t n;
    char last_path[64];
};

static int
collect(const Naos__V1__Event *ev, void *arg)
{
    struct seen *s = arg;
    if (s->n < 64)
        s->seqs[s->n++] = ev->seq;
    snprintf(s->last_path, sizeof s->last_path, "%s",
             ev->path ? ev->path : "");
    return NAOS_OK;
}

static void
append_range(struct store *s, uint64_t from, uint64_t to, uint64_t keep)
{
    Naos__V1__Event evs[32];
    Naos__V1__Event *ptrs[32];
    char paths[32][16];
    size_t n = 0;
    for (uint64_t q = from; q <= to; q++, n++) {
        naos__v1__event__init(&evs[n]);
        evs[n].seq = q;
        evs[n].kind = (char *)"exit";
        snprintf(paths[n], sizeof paths[n], "d/w%llu", (unsigned long long)q);
        evs[n].path = paths[n];
        evs[n].reason = (char *)"exit:1";
        evs[n].at_wall_ms = 1000 + (int64_t)q;
        ptrs[n] = &evs[n];
    }
    ST_OK(s, store_events_append(s, ptrs, n, keep));
}

static void
test_append_load_and_bound(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint64_t last = 99;
    struct seen seen = {0};
    ST_OK(s, store_events_load(s, 10, collect, &seen, &last, NULL));
    NT_EQ_INT(last, 0);
    NT_EQ_INT(seen.n, 0);

    append_range(s, 1, 5, 8);
    append_range(s, 6, 12, 8); /* 1..4 fall out of the newest 8 */
    store_close(s);
    s = st_open(dir, NULL);
    uint64_t skipped = 9;
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, &skipped));
    NT_EQ_INT(last, 12);
    NT_EQ_INT(skipped, 0);
    NT_EQ_INT(seen.n, 8);
    NT_EQ_INT(seen.seqs[0], 5);
    NT_EQ_INT(seen.seqs[7], 12);
    NT_EQ_STR(seen.last_path, "d/w12");
    /* only the newest 3 */
    seen = (struct seen){0};
    ST_OK(s, store_events_load(s, 3, collect, &seen, &last, NULL));
    NT_EQ_INT(seen.n, 3);
    NT_EQ_INT(seen.seqs[0], 10);
    /* max 0: just the last seq */
    seen = (struct seen){0};
    ST_OK(s, store_events_load(s, 0, collect, &seen, &last, NULL));
    NT_EQ_INT(seen.n, 0);
    NT_EQ_INT(last, 12);
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_refuses_bad_seqs(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    Naos__V1__Event a = NAOS__V1__EVENT__INIT, b = NAOS__V1__EVENT__INIT;
    a.seq = 5;
    b.seq = 5;
    Naos__V1__Event *p[] = {&a, &b};
    NT_EQ_INT(store_events_append(s, p, 2, 10), NAOS_EINVAL);
    a.seq = 0;
    NT_EQ_INT(store_events_append(s, p, 1, 10), NAOS_EINVAL);
    a.seq = 1;
    NT_EQ_INT(store_events_append(s, p, 1, 0), NAOS_EINVAL);
    NT_EQ_INT(store_events_append(s, p, 0, 10), NAOS_OK);
    uint64_t last = 1;
    ST_OK(s, store_events_load(s, 10, collect, &(struct seen){0}, &last,
                               NULL));
    NT_EQ_INT(last, 0);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_append_load_and_bound),
        NT_CASE(test_refuses_bad_seqs),
        {0},
    };
    return nt_run(cases);
}
