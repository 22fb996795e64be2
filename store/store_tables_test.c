/* SPDX-License-Identifier: Apache-2.0 */
/* store_tables_test.c: deployments, placements, node registry,
 * checkpoints, identity and last_applied (store/state.h). */
#include <stdint.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/spec_pb.h"
#include "store/state.h"
#include "store/store_testutil.h"

static void
make_spec(struct spec_node *n, const char *name)
{
    spec_node_init(n);
    n->id = naos_strdup(name);
    n->argv = naos_alloc(3 * sizeof *n->argv);
    NT_TRUE(n->id != NULL && n->argv != NULL);
    n->argv[0] = naos_strdup("/bin/sleep");
    n->argv[1] = naos_strdup("60");
    n->argc = 2;
}

static void
test_deployments(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long base = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    Naos__V1__DeploymentRecord **list;
    size_t n = 99;
    ST_OK(s, store_deploy_list(s, &list, &n));
    NT_EQ_INT(n, 0);
    store_deploy_list_free(list, n);

    struct spec_node spec;
    make_spec(&spec, "web");
    ST_OK(s, store_deploy_put_spec(
                 s, &spec, NAOS__V1__DESIRED_STATE__DESIRED_RUNNING, 1,
                 1700000000000));
    spec_node_fini(&spec);
    make_spec(&spec, "api");
    ST_OK(s, store_deploy_put_spec(
                 s, &spec, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED, 4,
                 1700000000001));
    spec_node_fini(&spec);

    Naos__V1__DeploymentRecord *r;
    ST_OK(s, store_deploy_get(s, "web", &r));
    NT_EQ_STR(r->name, "web");
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_RUNNING);
    NT_EQ_INT(r->generation, 1);
    NT_EQ_INT(r->updated_at_ms, 1700000000000);
    NT_TRUE(r->spec != NULL);
    NT_EQ_STR(r->spec->id, "web");
    NT_EQ_INT(r->spec->n_argv, 2);
    NT_EQ_STR(r->spec->argv[0], "/bin/sleep");
    /* The stored spec converts back to a spec tree. */
    struct spec_node back;
    char err[256];
    ST_OK(s, spec_pb_to_spec(r->spec, &back, err, sizeof err));
    NT_EQ_STR(back.id, "web");
    NT_EQ_INT(back.argc, 2);
    spec_node_fini(&back);
    /* Replace by put. */
    r->generation = 2;
    r->desired = NAOS__V1__DESIRED_STATE__DESIRED_STOPPED;
    ST_OK(s, store_deploy_put(s, r));
    store_deploy_free(r);
    store_close(s);

    s = st_open(dir, NULL);
    ST_OK(s, store_deploy_list(s, &list, &n));
    NT_EQ_INT(n, 2);
    NT_EQ_STR(list[0]->name, "api"); /* name order */
    NT_EQ_INT(list[0]->generation, 4);
    NT_EQ_STR(list[1]->name, "web");
    NT_EQ_INT(list[1]->generation, 2);
    NT_EQ_INT(list[1]->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    store_deploy_list_free(list, n);
    ST_OK(s, store_deploy_del(s, "api"));
    NT_EQ_INT(store_deploy_del(s, "api"), NAOS_ENOTFOUND);
    NT_EQ_INT(store_deploy_get(s, "api", &r), NAOS_ENOTFOUND);
    NT_EQ_INT(store_deploy_get(s, "", &r), NAOS_EINVAL);
    Naos__V1__DeploymentRecord bad = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    NT_EQ_INT(store_deploy_put(s, &bad), NAOS_EINVAL); /* empty name */
    ST_OK(s, store_deploy_list(s, &list, &n));
    NT_EQ_INT(n, 1);
    store_deploy_list_free(list, n);
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(dir);
}

static void
test_placements(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    Naos__V1__PlacementRecord p = NAOS__V1__PLACEMENT_RECORD__INIT;
    p.name = "web";
    p.node_id = 42;
    p.epoch = 7;
    ST_OK(s, store_placement_put(s, &p));
    p.name = "db";
    p.node_id = 43;
    p.epoch = 1;
    ST_OK(s, store_placement_put(s, &p));
    Naos__V1__PlacementRecord *r;
    ST_OK(s, store_placement_get(s, "web", &r));
    NT_EQ_INT(r->node_id, 42);
    NT_EQ_INT(r->epoch, 7);
    store_placement_free(r);
    Naos__V1__PlacementRecord **list;
    size_t n;
    ST_OK(s, store_placement_list(s, &list, &n));
    NT_EQ_INT(n, 2);
    NT_EQ_STR(list[0]->name, "db");
    store_placement_list_free(list, n);
    ST_OK(s, store_placement_del(s, "db"));
    NT_EQ_INT(store_placement_get(s, "db", &r), NAOS_ENOTFOUND);
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_placement_get(s, "web", &r));
    NT_EQ_INT(r->epoch, 7);
    store_placement_free(r);
    store_close(s);
    st_rmdir(dir);
}

static void
test_nodes(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint64_t ids[] = {0x100, 0x2, 0xff00000000000001ull};
    for (int i = 0; i < 3; i++) {
        Naos__V1__NodeRecord r = NAOS__V1__NODE_RECORD__INIT;
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        r.id = ids[i];
        r.name = name;
        r.addr = "tcp://127.0.0.1:7000";
        r.state = NAOS__V1__NODE_RECORD_STATE__NODE_RECORD_ALIVE;
        r.incarnation = (uint64_t)i;
        ST_OK(s, store_node_put(s, &r));
    }
    Naos__V1__NodeRecord zero = NAOS__V1__NODE_RECORD__INIT;
    NT_EQ_INT(store_node_put(s, &zero), NAOS_EINVAL);
    Naos__V1__NodeRecord **list;
    size_t n;
    ST_OK(s, store_node_list(s, &list, &n));
    NT_EQ_INT(n, 3);
    NT_EQ_INT(list[0]->id, 0x2); /* numeric order: big-endian keys */
    NT_EQ_INT(list[1]->id, 0x100);
    NT_TRUE(list[2]->id == 0xff00000000000001ull);
    NT_EQ_STR(list[1]->name, "n0");
    store_node_list_free(list, n);
    Naos__V1__NodeRecord *r;
    ST_OK(s, store_node_get(s, 0x2, &r));
    NT_EQ_STR(r->addr, "tcp://127.0.0.1:7000");
    NT_EQ_INT(r->incarnation, 1);
    NT_EQ_INT(r->state, NAOS__V1__NODE_RECORD_STATE__NODE_RECORD_ALIVE);
    store_node_free(r);
    ST_OK(s, store_node_del(s, 0x2));
    NT_EQ_INT(store_node_get(s, 0x2, &r), NAOS_ENOTFOUND);
    store_close(s);
    st_rmdir(dir);
}

static void
test_checkpoints(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long base = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    uint64_t seq = 0;
    Naos__V1__CheckpointRecord *r;
    NT_EQ_INT(store_ckpt_get(s, "web/w1", &r), NAOS_ENOTFOUND);
    NT_CONTAINS(store_errmsg(s), "web/w1");
    ST_OK(s, store_ckpt_save(s, "web/w1", "hello", 5, 1000, &seq));
    NT_EQ_INT(seq, 1);
    ST_OK(s, store_ckpt_save(s, "web/w1", "hello again", 11, 2000, &seq));
    NT_EQ_INT(seq, 2);
    ST_OK(s, store_ckpt_save(s, "web/w0", NULL, 0, 500, &seq));
    NT_EQ_INT(seq, 1);
    ST_OK(s, store_ckpt_get(s, "web/w1", &r));
    NT_EQ_INT(r->data.len, 11);
    NT_TRUE(memcmp(r->data.data, "hello again", 11) == 0);
    NT_EQ_INT(r->size, 11);
    NT_EQ_INT(r->seq, 2);
    NT_EQ_INT(r->saved_at_ms, 2000);
    store_ckpt_free(r);

    /* Exactly 1 MiB is fine. */
    unsigned char *big = malloc(STORE_CKPT_MAX + 1);
    NT_TRUE(big != NULL);
    for (size_t i = 0; i < STORE_CKPT_MAX + 1; i++)
        big[i] = (unsigned char)(i * 31);
    ST_OK(s, store_ckpt_save(s, "big/a", big, STORE_CKPT_MAX, 3000, &seq));
    /* One byte more is refused, and nothing changes. */
    seq = 77;
    NT_EQ_INT(store_ckpt_save(s, "big/a", big, STORE_CKPT_MAX + 1, 4000,
                              &seq),
              NAOS_ETOOBIG);
    NT_EQ_INT(seq, 77);
    NT_CONTAINS(store_errmsg(s), "big/a");
    NT_CONTAINS(store_errmsg(s), "1044481 bytes");
    NT_CONTAINS(store_errmsg(s), "1 MiB - 4 KiB");
    NT_EQ_INT(store_ckpt_save(s, "big/b", big, STORE_CKPT_MAX + 1, 4000,
                              NULL),
              NAOS_ETOOBIG);
    NT_EQ_INT(store_ckpt_get(s, "big/b", &r), NAOS_ENOTFOUND);
    store_close(s);

    s = st_open(dir, NULL);
    ST_OK(s, store_ckpt_get(s, "big/a", &r));
    NT_EQ_INT(r->data.len, STORE_CKPT_MAX);
    NT_EQ_INT(r->seq, 1);
    NT_EQ_INT(r->saved_at_ms, 3000);
    NT_TRUE(memcmp(r->data.data, big, STORE_CKPT_MAX) == 0);
    store_ckpt_free(r);
    free(big);
    /* List: no data, just the facts. */
    Naos__V1__CheckpointRecord **list;
    size_t n;
    ST_OK(s, store_ckpt_list(s, &list, &n));
    NT_EQ_INT(n, 3);
    NT_EQ_STR(list[0]->path, "big/a");
    NT_EQ_INT(list[0]->size, STORE_CKPT_MAX);
    NT_EQ_INT(list[0]->data.len, 0);
    NT_EQ_STR(list[2]->path, "web/w1");
    NT_EQ_INT(list[2]->seq, 2);
    store_ckpt_list_free(list, n);
    ST_OK(s, store_ckpt_del(s, "big/a"));
    NT_EQ_INT(store_ckpt_del(s, "big/a"), NAOS_ENOTFOUND);
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(dir);
}

static void
test_identity(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_identity id, id2;
    NT_EQ_INT(store_identity_get(s, &id), NAOS_ENOTFOUND);
    bool created = false;
    ST_OK(s, store_identity_get_or_create(s, NULL, &id, &created));
    NT_TRUE(created);
    NT_TRUE(id.node_id != 0);
    NT_TRUE(id.cluster_id != 0);
    NT_TRUE(id.created_at_ms > 0);
    /* Never changed afterwards, whatever is asked. */
    struct store_identity want = {5, 6, 7, false};
    ST_OK(s, store_identity_get_or_create(s, &want, &id2, &created));
    NT_FALSE(created);
    NT_TRUE(id2.node_id == id.node_id);
    NT_TRUE(id2.cluster_id == id.cluster_id);
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_identity_get(s, &id2));
    NT_TRUE(id2.node_id == id.node_id);
    NT_EQ_INT(id2.created_at_ms, id.created_at_ms);
    store_close(s);
    st_rmdir(dir);

    /* A caller-supplied identity on a fresh store. */
    st_tmpdir(dir, sizeof dir);
    s = st_open(dir, NULL);
    ST_OK(s, store_identity_get_or_create(s, &want, &id, &created));
    NT_TRUE(created);
    NT_EQ_INT(id.node_id, 5);
    NT_EQ_INT(id.cluster_id, 6);
    NT_EQ_INT(id.created_at_ms, 7);
    NT_FALSE(id.cluster_fixed);
    /* Fixing the cluster id (membership: found or adopt) persists and
     * keeps the node id. */
    NT_EQ_INT(store_identity_set_cluster(s, 0), NAOS_EINVAL);
    ST_OK(s, store_identity_set_cluster(s, 0xabc));
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_identity_get(s, &id));
    NT_EQ_INT(id.node_id, 5);
    NT_EQ_INT(id.cluster_id, 0xabc);
    NT_EQ_INT(id.created_at_ms, 7);
    NT_TRUE(id.cluster_fixed);
    store_close(s);
    st_rmdir(dir);

    /* No identity yet: nothing to fix. */
    st_tmpdir(dir, sizeof dir);
    s = st_open(dir, NULL);
    NT_EQ_INT(store_identity_set_cluster(s, 9), NAOS_ENOTFOUND);
    store_close(s);
    st_rmdir(dir);
}

struct apply_args {
    uint64_t index;
    const char *name;
};

static int
apply_fn(struct store_txn *t, void *arg)
{
    struct apply_args *a = arg;
    Naos__V1__PlacementRecord p = NAOS__V1__PLACEMENT_RECORD__INIT;
    p.name = (char *)a->name;
    p.node_id = 1;
    p.epoch = a->index;
    int rc = store_placement_put_txn(t, &p);
    if (rc == NAOS_OK)
        rc = store_applied_set_txn(t, a->index);
    return rc;
}

static void
test_last_applied_atomic(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint64_t idx = 9;
    ST_OK(s, store_applied_get(s, &idx));
    NT_EQ_INT(idx, 0);
    struct apply_args a = {5, "web"};
    ST_OK(s, store_write(s, apply_fn, &a));
    /* Going back fails the whole transaction: the effect is not written. */
    a = (struct apply_args){4, "db"};
    NT_EQ_INT(store_write(s, apply_fn, &a), NAOS_EINVAL);
    Naos__V1__PlacementRecord *r;
    NT_EQ_INT(store_placement_get(s, "db", &r), NAOS_ENOTFOUND);
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_applied_get(s, &idx));
    NT_EQ_INT(idx, 5);
    ST_OK(s, store_placement_get(s, "web", &r));
    NT_EQ_INT(r->epoch, 5);
    store_placement_free(r);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_deployments),
        NT_CASE(test_placements),
        NT_CASE(test_nodes),
        NT_CASE(test_checkpoints),
        NT_CASE(test_identity),
        NT_CASE(test_last_applied_atomic),
        {0},
    };
    return nt_run(cases);
}
