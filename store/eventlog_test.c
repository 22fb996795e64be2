/* SPDX-License-Identifier: Apache-2.0 */
/* eventlog_test.c: events written in batches survive a close and reopen,
 * come back oldest first (the newest max of them), stay bounded, refuse
 * seqs out of order (at or beneath a kept one), and a newest record that
 * does not decode still gives its seq as the last. */
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

static bool
fill(uint64_t seq, Naos__V1__Event *out, void *arg)
{
    static char path[32];
    (void)arg;
    if (seq == 7)
        return false; /* a gap: skipped */
    out->kind = (char *)"exit";
    snprintf(path, sizeof path, "d/w%llu", (unsigned long long)seq);
    out->path = path;
    out->reason = (char *)"exit:1";
    out->at_wall_ms = 1000 + (int64_t)seq;
    return true;
}

static void
append_range(struct store *s, uint64_t from, uint64_t to, uint64_t keep)
{
    ST_OK(s, store_events_append(s, from, to, fill, NULL, keep));
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
    append_range(s, 6, 12, 8); /* 1..4 fall out of the newest 8 (5..12) */
    store_close(s);
    s = st_open(dir, NULL);
    uint64_t skipped = 9;
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, &skipped));
    NT_EQ_INT(last, 12);
    NT_EQ_INT(skipped, 0);
    NT_EQ_INT(seen.n, 7); /* 7 was never written */
    NT_EQ_INT(seen.seqs[0], 5);
    NT_EQ_INT(seen.seqs[2], 8);
    NT_EQ_INT(seen.seqs[6], 12);
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
test_refuses_bad_ranges(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    NT_EQ_INT(store_events_append(s, 0, 3, fill, NULL, 10), NAOS_EINVAL);
    NT_EQ_INT(store_events_append(s, 5, 4, fill, NULL, 10), NAOS_EINVAL);
    NT_EQ_INT(store_events_append(s, 1, 1, fill, NULL, 0), NAOS_EINVAL);
    uint64_t last = 1;
    ST_OK(s, store_events_load(s, 10, collect, &(struct seen){0}, &last,
                               NULL));
    NT_EQ_INT(last, 0);
    store_close(s);
    st_rmdir(dir);
}

/* A batch at or beneath a kept seq is refused and changes nothing: the
 * kept events keep their content, and the next batch above goes in. */
static void
test_refuses_out_of_order(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    append_range(s, 1, 5, 100);
    NT_EQ_INT(store_events_append(s, 3, 4, fill, NULL, 100), NAOS_EINVAL);
    NT_EQ_INT(store_events_append(s, 5, 6, fill, NULL, 100), NAOS_EINVAL);
    NT_EQ_INT(store_events_append(s, 1, 1, fill, NULL, 100), NAOS_EINVAL);
    NT_TRUE(!store_is_failed(s));
    uint64_t last = 0;
    struct seen seen = {0};
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, NULL));
    NT_EQ_INT(last, 5);
    NT_EQ_INT(seen.n, 5);
    NT_EQ_STR(seen.last_path, "d/w5");
    append_range(s, 6, 6, 100);
    seen = (struct seen){0};
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, NULL));
    NT_EQ_INT(last, 6);
    NT_EQ_INT(seen.n, 6);
    store_close(s);
    st_rmdir(dir);
}

static int
put_garbage(struct store_txn *t, void *arg)
{
    unsigned char key[8];
    static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff};
    store_be64_put(key, *(const uint64_t *)arg);
    return store_txn_put(t, STORE_EVENTS, key, sizeof key, junk, sizeof junk,
                         0);
}

/* The newest record does not decode: it is skipped, but its seq is still
 * the last (it was given once), and it is not written over. */
static void
test_undecodable_newest_is_still_last(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    append_range(s, 1, 3, 100);
    uint64_t bad = 4;
    ST_OK(s, store_write(s, put_garbage, &bad));
    uint64_t last = 0, skipped = 0;
    struct seen seen = {0};
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, &skipped));
    NT_EQ_INT(last, 4);
    NT_EQ_INT(skipped, 1);
    NT_EQ_INT(seen.n, 3);
    NT_EQ_INT(seen.seqs[2], 3);
    NT_EQ_INT(store_events_append(s, 4, 4, fill, NULL, 100), NAOS_EINVAL);
    append_range(s, 5, 5, 100);
    seen = (struct seen){0};
    ST_OK(s, store_events_load(s, 100, collect, &seen, &last, &skipped));
    NT_EQ_INT(last, 5);
    NT_EQ_INT(seen.n, 4);
    NT_EQ_STR(seen.last_path, "d/w5");
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_append_load_and_bound),
        NT_CASE(test_refuses_bad_ranges),
        NT_CASE(test_refuses_out_of_order),
        NT_CASE(test_undecodable_newest_is_still_last),
        {0},
    };
    return nt_run(cases);
}
