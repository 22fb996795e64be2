/* SPDX-License-Identifier: Apache-2.0 */
/* replay_marks_test.c: the replay marks of state.h survive a close and
 * reopen, replace and delete as written, stay apart from the other meta
 * keys, and refuse sender 0. */
#include "store/state.h"

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/store_testutil.h"

static void
test_marks_round_trip(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_replay_mark w[3] = {
        {0x0200000000000001ull, 1000, 1700000000000, false},
        {0x01, UINT64_MAX, -5, false},
        {0xffffffffffffffffull, 7, 1, false},
    };
    ST_OK(s, store_replay_marks_write(s, w, 3));
    /* the other meta keys are untouched and not listed */
    uint64_t applied = 1;
    ST_OK(s, store_applied_get(s, &applied));
    NT_EQ_INT(applied, 0);
    store_close(s);
    s = st_open(dir, NULL);
    struct store_replay_mark *r = NULL;
    size_t n = 0;
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    NT_EQ_INT(n, 3);
    /* in sender order */
    NT_EQ_INT(r[0].sender, 0x01);
    NT_TRUE(r[0].top == UINT64_MAX);
    NT_EQ_INT(r[0].last_ms, -5);
    NT_EQ_INT(r[1].sender, 0x0200000000000001ull);
    NT_EQ_INT(r[1].top, 1000);
    NT_EQ_INT(r[1].last_ms, 1700000000000);
    NT_TRUE(r[2].sender == 0xffffffffffffffffull);
    naos_free(r);
    /* replace one, delete one (and one that was never there) */
    struct store_replay_mark u[3] = {
        {0x01, 5, 6, false},
        {0x0200000000000001ull, 0, 0, true},
        {0x77, 0, 0, true},
    };
    ST_OK(s, store_replay_marks_write(s, u, 3));
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    NT_EQ_INT(n, 2);
    NT_EQ_INT(r[0].top, 5);
    NT_EQ_INT(r[0].last_ms, 6);
    NT_TRUE(r[1].sender == 0xffffffffffffffffull);
    naos_free(r);
    /* sender 0 is refused whole */
    struct store_replay_mark bad[2] = {{0x02, 1, 1, false}, {0, 1, 1, false}};
    NT_EQ_INT(store_replay_marks_write(s, bad, 2), NAOS_EINVAL);
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    NT_EQ_INT(n, 2);
    naos_free(r);
    /* nothing to write is fine */
    ST_OK(s, store_replay_marks_write(s, NULL, 0));
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_marks_empty(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_replay_mark *r = (void *)1;
    size_t n = 9;
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    NT_EQ_INT(n, 0);
    NT_TRUE(r == NULL);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_marks_round_trip),
        NT_CASE(test_marks_empty),
        {0},
    };
    return nt_run(cases);
}
