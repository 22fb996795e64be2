/* SPDX-License-Identifier: Apache-2.0 */
/* clients_test.c: the client table (clients.h): a client's record is
 * replaced by its next, the table stays at STORE_CLIENTS_MAX records by
 * evicting the ones written by the oldest entries, and bad records are
 * refused with nothing written. */
#include "store/clients.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/store_testutil.h"

static const struct store_options fast = {0, 0, true};

struct put_args {
    uint64_t from, to;   /* client ids; entry index = id + base */
    uint64_t base;
    const char *target;
};

static int
put_range(struct store_txn *t, void *arg)
{
    const struct put_args *a = arg;
    for (uint64_t id = a->from; id <= a->to; id++) {
        Naos__V1__ClientRecord r = NAOS__V1__CLIENT_RECORD__INIT;
        r.client_id = id;
        r.seq = 1;
        r.index = id + a->base;
        r.cmd = 11;
        r.target = (char *)a->target;
        int rc = store_client_put_txn(t, &r);
        if (rc != NAOS_OK)
            return rc;
    }
    return NAOS_OK;
}

static int
count_fn(struct store_txn *t, void *arg)
{
    return store_client_count_txn(t, arg);
}

static uint64_t
count(struct store *s)
{
    uint64_t n = 0;
    ST_OK(s, store_read(s, count_fn, &n));
    return n;
}

static void
test_replace_and_evict_oldest(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    /* exactly the bound: nothing evicted */
    struct put_args a = {1, STORE_CLIENTS_MAX, 100, "dep"};
    ST_OK(s, store_write(s, put_range, &a));
    NT_EQ_INT(count(s), STORE_CLIENTS_MAX);
    Naos__V1__ClientRecord *r = NULL;
    ST_OK(s, store_client_get(s, 1, &r));
    NT_EQ_INT(r->index, 101);
    NT_EQ_STR(r->target, "dep");
    store_client_free(r);
    /* client 1 again, by a later entry: replaced, not added, and now the
     * youngest */
    struct put_args again = {1, 1, 2 * STORE_CLIENTS_MAX, "dep2"};
    ST_OK(s, store_write(s, put_range, &again));
    NT_EQ_INT(count(s), STORE_CLIENTS_MAX);
    ST_OK(s, store_client_get(s, 1, &r));
    NT_EQ_INT(r->index, 2 * STORE_CLIENTS_MAX + 1);
    NT_EQ_STR(r->target, "dep2");
    store_client_free(r);
    /* one past the bound, twice: the oldest two go (2 and 3, since 1 was
     * rewritten), 1 stays */
    struct put_args more = {STORE_CLIENTS_MAX + 1, STORE_CLIENTS_MAX + 2,
                            3 * STORE_CLIENTS_MAX, "dep"};
    ST_OK(s, store_write(s, put_range, &more));
    NT_EQ_INT(count(s), STORE_CLIENTS_MAX);
    NT_EQ_INT(store_client_get(s, 2, &r), NAOS_ENOTFOUND);
    NT_EQ_INT(store_client_get(s, 3, &r), NAOS_ENOTFOUND);
    ST_OK(s, store_client_get(s, 4, &r));
    store_client_free(r);
    ST_OK(s, store_client_get(s, 1, &r));
    store_client_free(r);
    ST_OK(s, store_client_get(s, STORE_CLIENTS_MAX + 2, &r));
    store_client_free(r);
    /* survives a reopen */
    store_close(s);
    s = st_open(dir, &fast);
    NT_EQ_INT(count(s), STORE_CLIENTS_MAX);
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

static int
put_one(struct store_txn *t, void *arg)
{
    return store_client_put_txn(t, arg);
}

static void
test_bad_records_refused(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    static char big[STORE_CLIENT_MSG_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    Naos__V1__ClientRecord r = NAOS__V1__CLIENT_RECORD__INIT;
    r.client_id = 0;
    r.index = 5;
    NT_EQ_INT(store_write(s, put_one, &r), NAOS_EINVAL);
    r.client_id = 9;
    r.index = 0;
    NT_EQ_INT(store_write(s, put_one, &r), NAOS_EINVAL);
    r.index = 5;
    r.msg = big; /* one byte over */
    NT_EQ_INT(store_write(s, put_one, &r), NAOS_EINVAL);
    NT_TRUE(strstr(store_errmsg(s), "512") != NULL);
    big[STORE_CLIENT_MSG_MAX] = '\0'; /* at the bound */
    ST_OK(s, store_write(s, put_one, &r));
    NT_EQ_INT(count(s), 1);
    Naos__V1__ClientRecord *got = NULL;
    NT_EQ_INT(store_client_get(s, 0, &got), NAOS_EINVAL);
    ST_OK(s, store_client_get(s, 9, &got));
    NT_EQ_INT(strlen(got->msg), STORE_CLIENT_MSG_MAX);
    store_client_free(got);
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_replace_and_evict_oldest),
        NT_CASE(test_bad_records_refused),
        {0},
    };
    return nt_run(cases);
}
