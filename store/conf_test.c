/* SPDX-License-Identifier: Apache-2.0 */
/* conf_test.c: the replicated configuration (conf.h): absent until set,
 * read back as written, refused outside its bounds with nothing written,
 * and carried by a snapshot (store/snapshot.h) to another store. */
#include "store/conf.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/snapshot.h"
#include "store/state.h"
#include "store/store_testutil.h"

static const struct store_options fast = {0, 0, true};

static int
set_fn(struct store_txn *t, void *arg)
{
    return store_conf_set_txn(t, arg);
}

static void
test_absent_set_get_and_bounds(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = NULL;
    char err[256];
    NT_EQ_INT(store_open(&s, dir, &fast, err, sizeof err), NAOS_OK);
    struct store_conf c;
    NT_EQ_INT(store_conf_get(s, &c), NAOS_ENOTFOUND);
    struct store_conf w = {.voters = {1, 2, 3}, .nvoters = 3,
                           .learners = {7}, .nlearners = 1, .index = 42};
    ST_OK(s, store_write(s, set_fn, &w));
    ST_OK(s, store_conf_get(s, &c));
    NT_EQ_INT(c.nvoters, 3);
    NT_EQ_INT(c.voters[2], 3);
    NT_EQ_INT(c.nlearners, 1);
    NT_EQ_INT(c.learners[0], 7);
    NT_EQ_INT(c.index, 42);
    /* the edges: no voter, too many, an id twice, an id 0 */
    struct store_conf bad = w;
    bad.nvoters = 0;
    NT_EQ_INT(store_write(s, set_fn, &bad), NAOS_EINVAL);
    bad = w;
    bad.nvoters = STORE_CONF_MAX_VOTERS + 1;
    NT_EQ_INT(store_write(s, set_fn, &bad), NAOS_EINVAL);
    bad = w;
    bad.nlearners = STORE_CONF_MAX_LEARNERS + 1;
    NT_EQ_INT(store_write(s, set_fn, &bad), NAOS_EINVAL);
    bad = w;
    bad.learners[0] = 2;
    NT_EQ_INT(store_write(s, set_fn, &bad), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "distinct");
    bad = w;
    bad.voters[1] = 0;
    NT_EQ_INT(store_write(s, set_fn, &bad), NAOS_EINVAL);
    /* nine voters and eight learners fit */
    struct store_conf full = {.nvoters = 9, .nlearners = 8, .index = 43};
    for (uint64_t i = 0; i < 9; i++)
        full.voters[i] = 100 + i;
    for (uint64_t i = 0; i < 8; i++)
        full.learners[i] = 200 + i;
    ST_OK(s, store_write(s, set_fn, &full));
    ST_OK(s, store_conf_get(s, &c));
    NT_EQ_INT(c.nvoters, 9);
    NT_EQ_INT(c.nlearners, 8);
    NT_EQ_INT(c.index, 43);
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

static int
applied_fn(struct store_txn *t, void *arg)
{
    return store_applied_set_txn(t, *(uint64_t *)arg);
}

static void
test_carried_by_a_snapshot(void)
{
    long live = naos_alloc_live();
    char dir[256], dir2[256], file[300];
    st_tmpdir(dir, sizeof dir);
    st_tmpdir(dir2, sizeof dir2);
    struct store *s = NULL, *s2 = NULL;
    char err[256];
    NT_EQ_INT(store_open(&s, dir, &fast, err, sizeof err), NAOS_OK);
    NT_EQ_INT(store_open(&s2, dir2, &fast, err, sizeof err), NAOS_OK);
    struct store_conf w = {.voters = {5, 6}, .nvoters = 2, .index = 9};
    ST_OK(s, store_write(s, set_fn, &w));
    uint64_t applied = 9;
    ST_OK(s, store_write(s, applied_fn, &applied));
    snprintf(file, sizeof file, "%s/snap", dir);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
    NT_TRUE(fd >= 0);
    struct snap_fd f = {fd};
    struct snap_writer wr = {store_snap_fd_write, &f};
    struct snap_info info;
    NT_EQ_INT(store_snap_save(s, &wr, NULL, &info, err, sizeof err), NAOS_OK);
    NT_EQ_INT(lseek(fd, 0, SEEK_SET), 0);
    struct snap_reader rd = {store_snap_fd_read, store_snap_fd_rewind, &f};
    NT_EQ_INT(store_snap_load(s2, &rd, NULL, NULL, NULL, &info, err,
                              sizeof err), NAOS_OK);
    close(fd);
    struct store_conf c;
    ST_OK(s2, store_conf_get(s2, &c));
    NT_EQ_INT(c.nvoters, 2);
    NT_EQ_INT(c.voters[1], 6);
    NT_EQ_INT(c.index, 9);
    store_close(s);
    store_close(s2);
    st_rmdir(dir);
    st_rmdir(dir2);
    NT_EQ_INT(naos_alloc_live(), live);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_absent_set_get_and_bounds),
        NT_CASE(test_carried_by_a_snapshot),
        {0},
    };
    return nt_run(cases);
}
