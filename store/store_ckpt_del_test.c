/* SPDX-License-Identifier: Apache-2.0 */
/* store_ckpt_del_test.c: deleting a deployment deletes its checkpoints, in
 * the same transaction, and nobody else's; the space they held is reused
 * (issue 9: 30 deploy/save/rm cycles grew a store from 7.7 to 34 MB). */
#include <stdint.h>
#include <sys/stat.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/state.h"
#include "store/store_testutil.h"

static void
put_dep(struct store *s, const char *name)
{
    struct spec_node n;
    spec_node_init(&n);
    n.id = naos_strdup(name);
    n.argv = naos_alloc(2 * sizeof *n.argv);
    NT_TRUE(n.id != NULL && n.argv != NULL);
    n.argv[0] = naos_strdup("/bin/true");
    n.argc = 1;
    ST_OK(s, store_deploy_put_spec(
                 s, &n, NAOS__V1__DESIRED_STATE__DESIRED_RUNNING, 1, 1));
    spec_node_fini(&n);
}

static void
save(struct store *s, const char *path)
{
    ST_OK(s, store_ckpt_save(s, path, path, strlen(path), 1000, NULL));
}

/* ckpt_paths writes the checkpoint paths, in order, joined by ' ' (cut
 * with "..." when they do not fit). */
static const char *
ckpt_paths(struct store *s)
{
    static char buf[2048];
    Naos__V1__CheckpointRecord **list;
    size_t n, len = 0;
    ST_OK(s, store_ckpt_list(s, &list, &n));
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t k = strlen(list[i]->path);
        if (len + k + 5 >= sizeof buf) {
            strcpy(buf + len, "...");
            break;
        }
        len += (size_t)sprintf(buf + len, "%s%s", i ? " " : "",
                               list[i]->path);
    }
    store_ckpt_list_free(list, n);
    return buf;
}

static void
test_delete_takes_its_checkpoints_only(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long live = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    put_dep(s, "a");
    put_dep(s, "ab");
    /* "a-b", "a.x" and "ab" sort between "a" and "a/": a scan that stopped
     * at the first stranger would leave "a/..." behind. */
    static const char *const paths[] = {"a",     "a/a",  "a/x/y", "a/z",
                                        "a-b/w", "a.x",  "ab",    "ab/w",
                                        "b",     "a0/q", "zz/q"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        save(s, paths[i]);
    ST_OK(s, store_deploy_del(s, "a"));
    NT_EQ_STR(ckpt_paths(s), "a-b/w a.x a0/q ab ab/w b zz/q");
    Naos__V1__DeploymentRecord *r;
    NT_EQ_INT(store_deploy_get(s, "a", &r), NAOS_ENOTFOUND);
    ST_OK(s, store_deploy_get(s, "ab", &r));
    store_deploy_free(r);
    /* No such deployment: an error, and nothing changes (not even the
     * checkpoints that would match its name). */
    NT_EQ_INT(store_deploy_del(s, "zz"), NAOS_ENOTFOUND);
    NT_EQ_STR(ckpt_paths(s), "a-b/w a.x a0/q ab ab/w b zz/q");
    ST_OK(s, store_deploy_del(s, "ab"));
    NT_EQ_STR(ckpt_paths(s), "a-b/w a.x a0/q b zz/q");
    NT_EQ_INT(store_deploy_del(s, ""), NAOS_EINVAL);
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), live);
    st_rmdir(dir);
}

/* Many checkpoints (a pool), and a name at the key size limit. */
static void
test_delete_many_and_longest(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    put_dep(s, "pool");
    char path[64];
    for (int i = 0; i < 500; i++) {
        snprintf(path, sizeof path, "pool/w%d", i);
        save(s, path);
    }
    save(s, "pool2/w0");
    ST_OK(s, store_deploy_del(s, "pool"));
    NT_EQ_STR(ckpt_paths(s), "pool2/w0");
    /* A deployment record may be named with STORE_MAX_KEY bytes; nothing
     * can lie under it, and its own checkpoint still goes. */
    char longest[STORE_MAX_KEY + 1];
    memset(longest, 'l', STORE_MAX_KEY);
    longest[STORE_MAX_KEY] = '\0';
    Naos__V1__DeploymentRecord rec = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    rec.name = longest;
    ST_OK(s, store_deploy_put(s, &rec));
    save(s, longest);
    ST_OK(s, store_deploy_del(s, longest));
    NT_EQ_STR(ckpt_paths(s), "pool2/w0");
    store_close(s);
    st_rmdir(dir);
}

struct del_args {
    const char *name;
    bool seen_gone;
};

static int
del_then_look(struct store_txn *t, void *arg)
{
    struct del_args *a = arg;
    int err = store_deploy_del_txn(t, a->name);
    if (err != NAOS_OK)
        return err;
    const void *v;
    size_t vlen;
    a->seen_gone = store_txn_get(t, STORE_CHECKPOINTS, "x/w", 3, &v, &vlen) ==
                   NAOS_ENOTFOUND;
    return NAOS_OK;
}

/* The record and the checkpoints go in one transaction: inside a caller's
 * transaction (a Raft apply), and all or nothing when the commit fails. */
static void
test_one_transaction(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    put_dep(s, "x");
    save(s, "x/w");
    save(s, "x/v");
    store_fault_fail_next_commit();
    NT_TRUE(store_deploy_del(s, "x") != NAOS_OK);
    store_close(s);
    s = st_open(dir, NULL);
    Naos__V1__DeploymentRecord *r;
    ST_OK(s, store_deploy_get(s, "x", &r));
    store_deploy_free(r);
    NT_EQ_STR(ckpt_paths(s), "x/v x/w");
    struct del_args a = {"x", false};
    ST_OK(s, store_write(s, del_then_look, &a));
    NT_TRUE(a.seen_gone);
    NT_EQ_STR(ckpt_paths(s), "");
    store_close(s);
    st_rmdir(dir);
}

static long
file_size(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    NT_EQ_INT(stat(p, &st), 0);
    return (long)st.st_size;
}

/* 30 deploy/save/rm cycles, each under a new name, with a checkpoint at
 * the 1 MiB limit: the file stops growing once the first cycles have made
 * room, as LMDB reuses the pages the deletes freed. Without the delete
 * every cycle leaves its checkpoint behind: ~1 MiB more a cycle. */
static void
test_space_reused(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint8_t *big = naos_alloc(STORE_CKPT_MAX);
    NT_TRUE(big != NULL);
    memset(big, 0x5a, STORE_CKPT_MAX);
    long after3 = 0;
    for (int i = 0; i < 30; i++) {
        char name[32], path[64];
        snprintf(name, sizeof name, "agent%d", i);
        snprintf(path, sizeof path, "%s/%s", name, name);
        put_dep(s, name);
        ST_OK(s, store_ckpt_save(s, path, big, STORE_CKPT_MAX, 1000 + i,
                                 NULL));
        ST_OK(s, store_deploy_del(s, name));
        if (i == 2)
            after3 = file_size(dir, "data.mdb");
    }
    long end = file_size(dir, "data.mdb");
    if (end > after3 + 256 * 1024)
        NT_FAIL("data.mdb grew from %ld bytes after 3 cycles to %ld after "
                "30", after3, end);
    NT_EQ_STR(ckpt_paths(s), "");
    naos_free(big);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_delete_takes_its_checkpoints_only),
        NT_CASE(test_delete_many_and_longest),
        NT_CASE(test_one_transaction),
        NT_CASE(test_space_reused),
        {0},
    };
    return nt_run(cases);
}
