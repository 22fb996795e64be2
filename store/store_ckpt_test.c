/* SPDX-License-Identifier: Apache-2.0 */
/* store_ckpt_test.c: a checkpoint's origin stamp and its aliases
 * (store_ckpt_save_ex): one checkpoint under one key, even when an older
 * node saved it under another. */
#include <stdint.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/state.h"
#include "store/store_testutil.h"

static void
test_origin_is_stamped(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long base = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    struct store_ckpt_origin o = {"lab/a", 4242, 3};
    uint64_t seq = 0;
    ST_OK(s, store_ckpt_save_ex(s, "lab/a", NULL, 0, "one", 3, 1000, &o,
                                &seq));
    NT_EQ_INT(seq, 1);
    Naos__V1__CheckpointRecord *r = NULL;
    ST_OK(s, store_ckpt_get(s, "lab/a", &r));
    NT_EQ_STR(r->saved_by_agent, "lab/a");
    NT_EQ_INT(r->saved_by_pid, 4242);
    NT_EQ_INT(r->saved_by_restarts, 3);
    store_ckpt_free(r);
    /* the operator's save carries no agent */
    ST_OK(s, store_ckpt_save_ex(s, "lab/a", NULL, 0, "two", 3, 2000, NULL,
                                &seq));
    NT_EQ_INT(seq, 2);
    ST_OK(s, store_ckpt_get(s, "lab/a", &r));
    NT_EQ_STR(r->saved_by_agent, "");
    NT_EQ_INT(r->saved_by_pid, 0);
    store_ckpt_free(r);
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(dir);
}

static void
test_aliases_are_folded_into_one_key(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long base = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    uint64_t seq = 0;
    /* What an older node left: the operator saved under the deployment's
     * name (seq 1..5), the agent under its path (seq 1..2). */
    for (int i = 0; i < 5; i++)
        ST_OK(s, store_ckpt_save(s, "ck", "op", 2, 1000 + i, &seq));
    ST_OK(s, store_ckpt_save(s, "ck/ck", "ag", 2, 900, &seq));
    ST_OK(s, store_ckpt_save(s, "ck/ck", "ag", 2, 901, &seq));
    NT_EQ_INT(seq, 2);

    const char *aliases[] = {"ck"};
    ST_OK(s, store_ckpt_save_ex(s, "ck/ck", aliases, 1, "new", 3, 3000, NULL,
                                &seq));
    NT_EQ_INT(seq, 6); /* never below what a reader of "ck" saw */
    Naos__V1__CheckpointRecord *r = NULL;
    NT_EQ_INT(store_ckpt_get(s, "ck", &r), NAOS_ENOTFOUND);
    ST_OK(s, store_ckpt_get(s, "ck/ck", &r));
    NT_EQ_INT(r->seq, 6);
    NT_EQ_INT(r->data.len, 3);
    store_ckpt_free(r);

    /* An alias equal to the path, or absent, changes nothing. */
    const char *same[] = {"ck/ck", "gone"};
    ST_OK(s, store_ckpt_save_ex(s, "ck/ck", same, 2, "x", 1, 4000, NULL,
                                &seq));
    NT_EQ_INT(seq, 7);
    Naos__V1__CheckpointRecord **list = NULL;
    size_t n = 0;
    ST_OK(s, store_ckpt_list(s, &list, &n));
    NT_EQ_INT(n, 1);
    store_ckpt_list_free(list, n);

    /* Over the limit: nothing changes, the alias included. */
    ST_OK(s, store_ckpt_save(s, "ck", "op", 2, 5000, &seq));
    static char big[STORE_CKPT_MAX + 1];
    NT_EQ_INT(store_ckpt_save_ex(s, "ck/ck", aliases, 1, big, sizeof big,
                                 6000, NULL, &seq),
              NAOS_ETOOBIG);
    ST_OK(s, store_ckpt_get(s, "ck", &r));
    store_ckpt_free(r);
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_origin_is_stamped),
        NT_CASE(test_aliases_are_folded_into_one_key),
        {0},
    };
    return nt_run(cases);
}
