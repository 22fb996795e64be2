/* SPDX-License-Identifier: Apache-2.0 */
/* apply_test.c: the one-voter log and apply: in order, exactly once,
 * idempotent across restarts, effects and last_applied in one commit. */
#include "node/cmd/apply.h"

#include <string.h>

#include "node/base/err.h"
#include "node/cmd/cmd.h"
#include "node/cmd/cmd_testutil.h"
#include "store/raftlog.h"
#include "store/state.h"
#include "store/store_testutil.h"

static const struct store_options fast = {0, 0, true};

/* Builds, packs and proposes one command; returns its index. */
static uint64_t
propose(struct ct_log *l, const Naos__V1__Command *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    NT_EQ_INT(cmd_pack(c, &buf, &len, err, sizeof err), NAOS_OK);
    uint64_t index = 0;
    ST_OK(l->store, ct_log_propose(l, buf, len, &index));
    naos_free(buf);
    return index;
}

static uint64_t
propose_deploy(struct ct_log *l, const char *name, int64_t at)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, at);
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    d.spec = ct_spec_pb(name);
    d.node_id = 77;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DEPLOY;
    c.deploy = &d;
    uint64_t i = propose(l, &c);
    spec_pb_free(d.spec);
    return i;
}

static uint64_t
propose_name(struct ct_log *l, Naos__V1__Command__CmdCase kind,
             const char *name, int64_t at)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, at);
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = (char *)name;
    c.cmd_case = kind;
    switch (kind) {
    case NAOS__V1__COMMAND__CMD_STOP: c.stop = &nc; break;
    case NAOS__V1__COMMAND__CMD_START: c.start = &nc; break;
    case NAOS__V1__COMMAND__CMD_RESTART: c.restart = &nc; break;
    case NAOS__V1__COMMAND__CMD_REMOVE: c.remove = &nc; break;
    default: NT_FAIL("not a name command");
    }
    return propose(l, &c);
}

static uint64_t
propose_fail(struct ct_log *l, const char *name, const char *why)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 5);
    Naos__V1__FailCommand f = NAOS__V1__FAIL_COMMAND__INIT;
    f.name = (char *)name;
    f.failure = (char *)why;
    c.cmd_case = NAOS__V1__COMMAND__CMD_FAIL;
    c.fail = &f;
    return propose(l, &c);
}

/* A FAIL of placement epoch at `at`; missing: its program or directory
 * is missing on that node. */
static uint64_t
propose_fail_at(struct ct_log *l, const char *name, uint64_t epoch,
                int64_t at, bool missing)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, at);
    Naos__V1__FailCommand f = NAOS__V1__FAIL_COMMAND__INIT;
    f.name = (char *)name;
    f.failure = (char *)"max-restarts";
    f.epoch = epoch;
    f.missing = missing;
    c.cmd_case = NAOS__V1__COMMAND__CMD_FAIL;
    c.fail = &f;
    return propose(l, &c);
}

/* The root's move from placement `from` to node `to`, for reason
 * (uncounted: off a node that lacks its program, or a lost one). */
static uint64_t
propose_move(struct ct_log *l, const char *name, uint64_t from, uint64_t to,
             int64_t at, bool uncounted, const char *reason)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, at);
    Naos__V1__MigrateCommand m = NAOS__V1__MIGRATE_COMMAND__INIT;
    m.name = (char *)name;
    m.from_epoch = from;
    m.to_node = to;
    m.reason = (char *)reason;
    m.uncounted = uncounted;
    c.cmd_case = NAOS__V1__COMMAND__CMD_MIGRATE;
    c.migrate = &m;
    return propose(l, &c);
}

static uint64_t
propose_migrate(struct ct_log *l, const char *name, uint64_t from,
                uint64_t to, int64_t at, bool uncounted)
{
    return propose_move(l, name, from, to, at, uncounted, "migrated");
}

/* The root's move off a node whose lease ran out (always uncounted). */
static uint64_t
propose_lost(struct ct_log *l, const char *name, uint64_t from, uint64_t to,
             int64_t at)
{
    return propose_move(l, name, from, to, at, true, "node-lost");
}

static uint64_t
propose_save(struct ct_log *l, const char *path, const char *data)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 6);
    Naos__V1__CheckpointSaveCommand s = NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    s.path = (char *)path;
    s.data.data = (uint8_t *)data;
    s.data.len = strlen(data);
    s.saved_by_agent = (char *)path;
    s.saved_by_pid = 99;
    c.cmd_case = NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE;
    c.checkpoint_save = &s;
    return propose(l, &c);
}

/* A save of data at path fenced by epoch (0: none), as client id/seq
 * (0, 0: the node's own). */
static uint64_t
propose_save_epoch(struct ct_log *l, const char *path, const char *data,
                   uint64_t epoch, uint64_t id, uint64_t seq)
{
    Naos__V1__Command c;
    cmd_init(&c, id, seq, 6);
    Naos__V1__CheckpointSaveCommand s = NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    s.path = (char *)path;
    s.data.data = (uint8_t *)data;
    s.data.len = strlen(data);
    s.epoch = epoch;
    c.cmd_case = NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE;
    c.checkpoint_save = &s;
    return propose(l, &c);
}

/* Reads entry index from the log and applies it: apply_entry's return. */
static int
apply_at(struct ct_log *l, uint64_t index, struct apply_result *res)
{
    struct store_log_entry *e = NULL;
    ST_OK(l->store, cmdraft_read(l->r, index, &e));
    if (e->type == RAFT_ENTRY_NOOP) {
        store_log_entries_free(e, 1);
        return apply_noop(l->store, index, res);
    }
    Naos__V1__Command *c = NULL;
    char err[256] = "";
    int rc = cmd_unpack(e->data, e->len, &c, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("entry %llu: %s", (unsigned long long)index, err);
    store_log_entries_free(e, 1);
    rc = apply_entry(l->store, index, c, res);
    cmd_free(c);
    return rc;
}

/* A leader's no-op (one at every open of a one-voter log). */
static bool
is_noop(struct ct_log *l, uint64_t index)
{
    struct store_log_entry *e = NULL;
    ST_OK(l->store, cmdraft_read(l->r, index, &e));
    bool noop = e->type == RAFT_ENTRY_NOOP;
    store_log_entries_free(e, 1);
    return noop;
}

/* Applies every committed command above last_applied; returns how many. */
static unsigned
apply_all(struct ct_log *l)
{
    uint64_t applied = 0;
    ST_OK(l->store, store_applied_get(l->store, &applied));
    unsigned k = 0;
    for (uint64_t i = applied + 1; i <= ct_log_commit(l); i++) {
        bool noop = is_noop(l, i);
        struct apply_result res;
        NT_EQ_INT(apply_at(l, i, &res), NAOS_OK);
        k += !noop;
    }
    return k;
}

static Naos__V1__DeploymentRecord *
get_dep(struct store *s, const char *name)
{
    Naos__V1__DeploymentRecord *r = NULL;
    ST_OK(s, store_deploy_get(s, name, &r));
    return r;
}

static uint64_t
applied_of(struct store *s)
{
    uint64_t a = 0;
    ST_OK(s, store_applied_get(s, &a));
    return a;
}

static void
test_propose_commits_one_voter(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(ct_log_commit(&l), 1); /* the leader's no-op */
    NT_TRUE(is_noop(&l, 1));
    NT_EQ_INT(propose_deploy(&l, "a", 1), 2);
    NT_EQ_INT(propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 2), 3);
    NT_EQ_INT(ct_log_commit(&l), 3);
    struct store_hard h;
    ST_OK(s, store_hard_get(s, &h));
    /* the commit index goes to disk with the next write, not alone */
    NT_EQ_INT(h.commit, 2);
    NT_EQ_INT(h.term, 1);
    NT_EQ_INT(h.vote, 77);
    /* Not readable beyond the commit index. */
    struct store_log_entry *e = NULL;
    NT_EQ_INT(cmdraft_read(l.r, 4, &e), NAOS_EINVAL);
    /* A new handle on the same store sees the same log, and stands in a
     * new term with its own no-op. */
    struct ct_log l2;
    ST_OK(s, (ct_log_open(&l2, s), NAOS_OK));
    NT_EQ_INT(ct_log_commit(&l2), 4);
    NT_FALSE(is_noop(&l2, 3));
    NT_TRUE(is_noop(&l2, 4));
    ST_OK(s, store_hard_get(s, &h));
    NT_EQ_INT(h.term, 2);
    ct_log_close(&l);
    ct_log_close(&l2);
    store_close(s);
    st_rmdir(dir);
}

/* A CONFIG entry records its configuration (with its index) and moves
 * last_applied, in the same transaction as the entries around it; applied
 * again, it changes nothing. */
static void
test_config_entry_recorded(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    Naos__V1__Command noop;
    cmd_init(&noop, 0, 0, 0);
    noop.cmd_case = NAOS__V1__COMMAND__CMD_NOOP;
    struct store_conf c1 = {.voters = {1, 2, 3}, .nvoters = 3,
                            .learners = {4}, .nlearners = 1};
    struct apply_item items[3] = {
        {.index = 1, .c = &noop},
        {.index = 2, .c = &noop, .conf = &c1},
        {.index = 3, .c = &noop},
    };
    ST_OK(s, apply_entries(s, items, 3));
    NT_TRUE(items[1].res.conf_changed);
    NT_FALSE(items[0].res.conf_changed);
    NT_EQ_INT(applied_of(s), 3);
    struct store_conf got;
    ST_OK(s, store_conf_get(s, &got));
    NT_EQ_INT(got.index, 2);
    NT_EQ_INT(got.nvoters, 3);
    NT_EQ_INT(got.learners[0], 4);
    /* again (a restart applying the log from below): nothing changes */
    struct store_conf c2 = {.voters = {9}, .nvoters = 1};
    struct apply_item again = {.index = 2, .c = &noop, .conf = &c2};
    ST_OK(s, apply_entries(s, &again, 1));
    NT_TRUE(again.already);
    ST_OK(s, store_conf_get(s, &got));
    NT_EQ_INT(got.nvoters, 3);
    store_close(s);
    st_rmdir(dir);
}

static void
test_in_order_exactly_once(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    propose_deploy(&l, "a", 10);
    propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 11);
    propose_name(&l, NAOS__V1__COMMAND__CMD_START, "a", 12);
    struct apply_result res;
    /* Entry 3 before entry 2 would skip one: refused, nothing done. */
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_EINVAL);
    NT_EQ_INT(applied_of(s), 0);
    NT_EQ_INT(apply_at(&l, 1, &res), NAOS_OK); /* the leader's no-op */
    NT_EQ_INT(applied_of(s), 1);
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_EINVAL);
    NT_EQ_INT(apply_at(&l, 2, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.index, 2);
    /* Again: already applied, nothing done (generation stays). */
    NT_EQ_INT(apply_at(&l, 2, &res), NAOS_EEXIST);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_EQ_INT(r->generation, 1);
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_RUNNING);
    NT_EQ_INT(r->updated_at_ms, 10);
    store_deploy_free(r);
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_OK);
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_EEXIST);
    r = get_dep(s, "a");
    NT_EQ_INT(r->generation, 2);
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    NT_EQ_INT(r->updated_at_ms, 11); /* the entry's time, not the clock */
    store_deploy_free(r);
    NT_EQ_INT(apply_at(&l, 4, &res), NAOS_OK);
    NT_EQ_INT(applied_of(s), 4);
    r = get_dep(s, "a");
    NT_EQ_INT(r->generation, 3);
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_RUNNING);
    store_deploy_free(r);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

static void
test_effects_of_each_type(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0); /* the leader's no-op */
    struct apply_result res;
    uint64_t i = propose_deploy(&l, "a", 1), first = i;
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    Naos__V1__PlacementRecord *p = NULL;
    ST_OK(s, store_placement_get(s, "a", &p));
    NT_EQ_INT(p->node_id, 77);
    NT_EQ_INT(p->epoch, i);
    store_placement_free(p);
    /* A deploy of a taken name is applied and changes nothing. */
    i = propose_deploy(&l, "a", 2);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EEXIST);
    NT_EQ_INT(applied_of(s), i);
    ST_OK(s, store_placement_get(s, "a", &p));
    NT_EQ_INT(p->epoch, first);
    store_placement_free(p);
    /* fail marks it, restart clears the mark and counts. */
    i = propose_fail(&l, "a", "max-restarts");
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_TRUE(r->failed);
    NT_EQ_STR(r->failure, "max-restarts");
    NT_EQ_INT(r->restarts, 0);
    store_deploy_free(r);
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 3);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_FALSE(r->failed);
    NT_EQ_STR(r->failure, "");
    NT_EQ_INT(r->restarts, 1);
    uint64_t gen = r->generation;
    store_deploy_free(r);
    /* A path command leaves the record alone; one on a missing
     * deployment says so. */
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a/a", 4);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    r = get_dep(s, "a");
    NT_EQ_INT(r->generation, gen);
    store_deploy_free(r);
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "zz/a", 4);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    /* Checkpoints: seq counts on. */
    i = propose_save(&l, "a/a", "one");
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.ckpt_seq, 1);
    i = propose_save(&l, "a/a", "two");
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.ckpt_seq, 2);
    Naos__V1__CheckpointRecord *ck = NULL;
    ST_OK(s, store_ckpt_get(s, "a/a", &ck));
    NT_EQ_INT(ck->data.len, 3);
    NT_EQ_INT(memcmp(ck->data.data, "two", 3), 0);
    NT_EQ_INT(ck->saved_at_ms, 6);
    NT_EQ_INT(ck->saved_by_pid, 99);
    store_ckpt_free(ck);
    /* rm: record, placement and checkpoints go in that one entry. */
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_REMOVE, "a", 7);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(store_deploy_get(s, "a", &r), NAOS_ENOTFOUND);
    NT_EQ_INT(store_placement_get(s, "a", &p), NAOS_ENOTFOUND);
    NT_EQ_INT(store_ckpt_get(s, "a/a", &ck), NAOS_ENOTFOUND);
    /* A save or an rm of what is gone: applied, nothing else. */
    i = propose_save(&l, "a/a", "late");
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    NT_EQ_INT(store_ckpt_get(s, "a/a", &ck), NAOS_ENOTFOUND);
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_REMOVE, "a", 8);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    NT_EQ_INT(applied_of(s), i);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* The root supervisor's move (MIGRATE) takes effect only on the
 * placement it was decided on and only while the deployment is failed;
 * a FAIL of an earlier placement changes nothing; start clears the
 * moves. */
/* A move off a lost node (issue 12) needs no failure, keeps a failed
 * deployment failed, counts nothing, and is fenced by epoch like the
 * others. */
static void
test_migrate_node_lost(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    struct apply_result res;
    uint64_t e1 = propose_deploy(&l, "a", 1);
    NT_EQ_INT(apply_at(&l, e1, &res), NAOS_OK);
    uint64_t e2 = propose_lost(&l, "a", e1, 88, 2);
    NT_EQ_INT(apply_at(&l, e2, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.placed_on, 88);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_FALSE(r->failed);
    NT_EQ_INT(r->n_migrations_at_ms, 0);
    NT_EQ_INT(r->moved_epoch, e2);
    NT_EQ_STR(r->moved_reason, "node-lost");
    store_deploy_free(r);
    /* decided on the placement it left: nothing */
    uint64_t i = propose_lost(&l, "a", e1, 99, 3);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    /* failed on 88, then 88 is lost: it moves and stays failed */
    i = propose_fail_at(&l, "a", e2, 4, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    uint64_t e3 = propose_lost(&l, "a", e2, 99, 5);
    NT_EQ_INT(apply_at(&l, e3, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    r = get_dep(s, "a");
    NT_TRUE(r->failed);
    NT_EQ_INT(r->n_migrations_at_ms, 0);
    NT_EQ_INT(r->moved_epoch, e3);
    /* its history: both moves, oldest first */
    NT_EQ_INT(r->n_history, 2);
    NT_EQ_INT(r->history[0]->from_node, 77);
    NT_EQ_INT(r->history[0]->to_node, 88);
    NT_EQ_INT(r->history[0]->epoch, e2);
    NT_EQ_INT(r->history[0]->at_ms, 2);
    NT_EQ_STR(r->history[1]->reason, "node-lost");
    NT_EQ_INT(r->history[1]->from_node, 88);
    NT_EQ_INT(r->history[1]->to_node, 99);
    store_deploy_free(r);
    /* bounded: the newest APPLY_HISTORY_MAX kept */
    uint64_t from = e3, to = 88;
    for (int k = 0; k < APPLY_HISTORY_MAX; k++, to = to == 88 ? 99 : 88) {
        uint64_t e = propose_lost(&l, "a", from, to, 10 + k);
        NT_EQ_INT(apply_at(&l, e, &res), NAOS_OK);
        NT_EQ_INT(res.status, NAOS_OK);
        from = e;
    }
    r = get_dep(s, "a");
    NT_EQ_INT(r->n_history, APPLY_HISTORY_MAX);
    NT_EQ_INT(r->history[APPLY_HISTORY_MAX - 1]->epoch, from);
    NT_EQ_INT(r->history[0]->at_ms, 10);
    store_deploy_free(r);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

static uint64_t
propose_drain(struct ct_log *l, uint64_t node, bool drain, int64_t at)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, at);
    Naos__V1__DrainCommand d = NAOS__V1__DRAIN_COMMAND__INIT;
    d.node_id = node;
    d.drain = drain;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DRAIN;
    c.drain = &d;
    return propose(l, &c);
}

static uint64_t
propose_release(struct ct_log *l, const char *name, uint64_t epoch,
                uint64_t node, uint64_t drain_index)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 9);
    Naos__V1__ReleaseCommand r = NAOS__V1__RELEASE_COMMAND__INIT;
    r.name = (char *)name;
    r.epoch = epoch;
    r.node_id = node;
    r.drain_index = drain_index;
    c.cmd_case = NAOS__V1__COMMAND__CMD_RELEASE;
    c.release = &r;
    return propose(l, &c);
}

static bool
is_released(struct store *s, const char *name)
{
    Naos__V1__PlacementRecord *p = NULL;
    NT_EQ_INT(store_placement_get(s, name, &p), NAOS_OK);
    bool released = p->released;
    store_placement_free(p);
    return released;
}

/* A drain (issue 12) is a record of the node; a release marks only the
 * placement it names, on the node that names itself; a "drained" move
 * takes only a released placement, counts nothing and leaves it
 * unreleased on its new node. */
static void
test_drain_release_and_move(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    struct apply_result res;
    uint64_t e1 = propose_deploy(&l, "a", 1); /* on 77 */
    NT_EQ_INT(apply_at(&l, e1, &res), NAOS_OK);
    uint64_t d1 = propose_drain(&l, 77, true, 2);
    NT_EQ_INT(apply_at(&l, d1, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    Naos__V1__DrainRecord *d = NULL;
    NT_EQ_INT(store_drain_get(s, 77, &d), NAOS_OK);
    NT_EQ_INT(d->since_ms, 2);
    NT_EQ_INT(d->index, d1);
    store_drain_free(d);
    /* drained again: its first since and index stay */
    NT_EQ_INT(apply_at(&l, propose_drain(&l, 77, true, 3), &res), NAOS_OK);
    NT_EQ_INT(store_drain_get(s, 77, &d), NAOS_OK);
    NT_EQ_INT(d->since_ms, 2);
    NT_EQ_INT(d->index, d1);
    store_drain_free(d);
    /* not released yet: a drained move changes nothing */
    uint64_t i = propose_move(&l, "a", e1, 88, 4, true, "drained");
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    /* a release of another epoch, by another node, of another drain: no */
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1 + 100, 77, d1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1, 66, d1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1, 77, d1 + 1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_EQ_INT(apply_at(&l, propose_release(&l, "zz", e1, 77, d1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    /* made under d1, applied after an undrain, or a drain again: no (the
     * node may run it again by then) */
    NT_EQ_INT(apply_at(&l, propose_drain(&l, 77, false, 4), &res), NAOS_OK);
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1, 77, d1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    uint64_t d2 = propose_drain(&l, 77, true, 4);
    NT_EQ_INT(apply_at(&l, d2, &res), NAOS_OK);
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1, 77, d1), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_FALSE(is_released(s, "a"));
    NT_EQ_INT(apply_at(&l, propose_release(&l, "a", e1, 77, d2), &res),
              NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_TRUE(is_released(s, "a"));
    uint64_t e2 = propose_move(&l, "a", e1, 88, 5, true, "drained");
    NT_EQ_INT(apply_at(&l, e2, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.placed_on, 88);
    NT_FALSE(is_released(s, "a"));
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_EQ_INT(r->n_migrations_at_ms, 0);
    NT_EQ_INT(r->moved_epoch, e2);
    NT_EQ_STR(r->moved_reason, "drained");
    store_deploy_free(r);
    /* undrained, twice: gone either way */
    NT_EQ_INT(apply_at(&l, propose_drain(&l, 77, false, 6), &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(store_drain_get(s, 77, &d), NAOS_ENOTFOUND);
    NT_EQ_INT(apply_at(&l, propose_drain(&l, 77, false, 7), &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

static void
test_migrate_fenced_by_epoch(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    struct apply_result res;
    uint64_t e1 = propose_deploy(&l, "a", 1);
    NT_EQ_INT(apply_at(&l, e1, &res), NAOS_OK);
    /* not failed: a move changes nothing */
    uint64_t i = propose_migrate(&l, "a", e1, 88, 2, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    /* it gives up on 77: the record says where and when */
    i = propose_fail_at(&l, "a", e1, 3, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_TRUE(r->failed);
    NT_EQ_INT(r->failed_node, 77);
    NT_EQ_INT(r->failed_at_ms, 3);
    store_deploy_free(r);
    /* a move decided on another placement: nothing */
    i = propose_migrate(&l, "a", e1 + 100, 88, 4, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    /* the move: placement, epoch, moves, reason; failed cleared */
    uint64_t e2 = propose_migrate(&l, "a", e1, 88, 5, false);
    NT_EQ_INT(apply_at(&l, e2, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.placed_on, 88);
    Naos__V1__PlacementRecord *p = NULL;
    ST_OK(s, store_placement_get(s, "a", &p));
    NT_EQ_INT(p->node_id, 88);
    NT_EQ_INT(p->epoch, e2);
    store_placement_free(p);
    r = get_dep(s, "a");
    NT_FALSE(r->failed);
    NT_EQ_INT(r->n_migrations_at_ms, 1);
    NT_EQ_INT(r->migrations_at_ms[0], 5);
    NT_EQ_INT(r->moved_epoch, e2);
    NT_EQ_STR(r->moved_reason, "migrated");
    store_deploy_free(r);
    /* the same move again (a second leader's): nothing more */
    i = propose_migrate(&l, "a", e1, 99, 6, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    /* a late FAIL of the placement it left: not this one's */
    i = propose_fail_at(&l, "a", e1, 7, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_FALSE(r->failed);
    store_deploy_free(r);
    /* it gives up on 88 too, then the operator starts it: a fresh
     * window (no moves), not failed */
    i = propose_fail_at(&l, "a", e2, 8, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_TRUE(r->failed);
    NT_EQ_INT(r->failed_node, 88);
    store_deploy_free(r);
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_START, "a", 9);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_FALSE(r->failed);
    NT_EQ_INT(r->n_migrations_at_ms, 0);
    store_deploy_free(r);
    /* a program missing on 88: the node is remembered, and a move that
     * does not count adds no move; start forgets both */
    i = propose_fail_at(&l, "a", e2, 10, true);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_EQ_INT(r->n_missing_on, 1);
    NT_EQ_INT(r->missing_on[0], 88);
    store_deploy_free(r);
    i = propose_migrate(&l, "a", e2, 77, 11, true);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    r = get_dep(s, "a");
    NT_FALSE(r->failed);
    NT_EQ_INT(r->n_migrations_at_ms, 0);
    NT_EQ_INT(r->n_missing_on, 1);
    store_deploy_free(r);
    i = propose_fail_at(&l, "a", i, 12, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_START, "a", 13);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    r = get_dep(s, "a");
    NT_EQ_INT(r->n_missing_on, 0);
    store_deploy_free(r);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* The checkpoint of path is data, at seq. */
static void
ckpt_is(struct store *s, const char *path, const char *data, uint64_t seq)
{
    Naos__V1__CheckpointRecord *ck = NULL;
    ST_OK(s, store_ckpt_get(s, path, &ck));
    NT_EQ_INT(ck->seq, seq);
    NT_EQ_INT(ck->data.len, strlen(data));
    NT_TRUE(memcmp(ck->data.data, data, ck->data.len) == 0);
    store_ckpt_free(ck);
}

/* A save with an epoch is fenced: saved only while the deployment's
 * placement has that epoch (issue 12: a paused instance of an earlier
 * placement that wakes up must not overwrite its successor's state);
 * epoch 0 (the operator's override) and a deployment with no placement
 * record save unfenced. A stale save changes nothing, says where the
 * deployment runs now, and its retry is answered the same. */
static void
test_checkpoint_save_fenced_by_epoch(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    struct apply_result res;
    uint64_t e1 = propose_deploy(&l, "a", 1);
    NT_EQ_INT(apply_at(&l, e1, &res), NAOS_OK);
    /* the placement's epoch, and none: saved */
    uint64_t i = propose_save_epoch(&l, "a/a", "one", e1, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.ckpt_seq, 1);
    i = propose_save_epoch(&l, "a/a", "two", 0, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    ckpt_is(s, "a/a", "two", 2);
    /* removed and deployed again: the old epoch is stale */
    i = propose_name(&l, NAOS__V1__COMMAND__CMD_REMOVE, "a", 2);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    uint64_t e2 = propose_deploy(&l, "a", 3);
    NT_EQ_INT(apply_at(&l, e2, &res), NAOS_OK);
    i = propose_save_epoch(&l, "a/a", "new", e2, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    uint64_t stale = propose_save_epoch(&l, "a/a", "old", e1, 21, 1);
    NT_EQ_INT(apply_at(&l, stale, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ESTALE);
    NT_EQ_INT(res.placed_on, 77);
    NT_EQ_INT(res.placed_epoch, e2);
    char want[128];
    snprintf(want, sizeof want, "stale epoch: this deployment now runs on "
             "000000000000004d at epoch %llu", (unsigned long long)e2);
    NT_EQ_STR(res.msg, want);
    NT_EQ_INT(applied_of(s), stale); /* applied, as nothing */
    ckpt_is(s, "a/a", "new", 1);
    /* its retry: the same refusal, still nothing saved */
    i = propose_save_epoch(&l, "a/a", "old", e1, 21, 1);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, stale);
    NT_TRUE(res.status != NAOS_OK);
    NT_EQ_STR(res.msg, want);
    ckpt_is(s, "a/a", "new", 1);
    /* moved by the root supervisor: the placement before it is stale */
    i = propose_fail_at(&l, "a", e2, 4, false);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    uint64_t e3 = propose_migrate(&l, "a", e2, 88, 5, false);
    NT_EQ_INT(apply_at(&l, e3, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    i = propose_save_epoch(&l, "a/a", "old", e2, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ESTALE);
    NT_EQ_INT(res.placed_on, 88);
    NT_EQ_INT(res.placed_epoch, e3);
    ckpt_is(s, "a/a", "new", 1);
    i = propose_save_epoch(&l, "a/a", "moved", e3, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    ckpt_is(s, "a/a", "moved", 2);
    /* the operator's override */
    i = propose_save_epoch(&l, "a/a", "operator", 0, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    ckpt_is(s, "a/a", "operator", 3);
    /* no placement record (written before placements): any epoch */
    ST_OK(s, store_placement_del(s, "a"));
    i = propose_save_epoch(&l, "a/a", "pre", 12345, 0, 0);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    ckpt_is(s, "a/a", "pre", 4);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

static void
test_invalid_entry_is_applied_as_nothing(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0); /* the leader's no-op */
    /* Packed by hand past cmd_validate: a name with a space. */
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 1);
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = "no such";
    c.cmd_case = NAOS__V1__COMMAND__CMD_REMOVE;
    c.remove = &nc;
    uint64_t i = propose(&l, &c);
    struct apply_result res;
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_CONTAINS(res.msg, "no such");
    NT_EQ_INT(applied_of(s), i);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* A node that stops after its entries were committed, at any point of
 * applying them, ends in the same state once it runs them again. */
static void
test_restart_applies_the_rest_once(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    propose_deploy(&l, "a", 1);
    propose_name(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 2);
    propose_name(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 3);
    propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 4);
    struct apply_result res;
    NT_EQ_INT(apply_at(&l, 1, &res), NAOS_OK); /* the leader's no-op */
    NT_EQ_INT(apply_at(&l, 2, &res), NAOS_OK);
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_OK);
    ct_log_close(&l);
    store_close(s);
    /* The restart: every committed entry is offered again, from the
     * first the log kept (then the new term's no-op at 6). */
    s = st_open(dir, &fast);
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(ct_log_commit(&l), 6);
    uint64_t first = 0;
    ST_OK(s, store_log_bounds(s, &first, NULL));
    NT_TRUE(first >= 1 && first <= 3);
    for (uint64_t i = first; i <= 6; i++)
        NT_EQ_INT(apply_at(&l, i, &res), i <= 3 ? NAOS_EEXIST : NAOS_OK);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_EQ_INT(r->restarts, 2); /* each restart counted once */
    NT_EQ_INT(r->generation, 4);
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    store_deploy_free(r);
    NT_EQ_INT(apply_all(&l), 0);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* A commit that fails leaves neither the effects nor last_applied: after
 * reopening they still agree, and the entry applies once. */
static void
test_failed_commit_leaves_effects_and_applied_together(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    propose_deploy(&l, "a", 1);
    propose_save(&l, "a/a", "data");
    propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 3);
    struct apply_result res;
    NT_EQ_INT(apply_at(&l, 1, &res), NAOS_OK); /* the leader's no-op */
    NT_EQ_INT(apply_at(&l, 2, &res), NAOS_OK);
    store_fault_fail_next_commit();
    NT_EQ_INT(apply_at(&l, 3, &res), NAOS_ESTORE);
    NT_TRUE(store_is_failed(s));
    ct_log_close(&l);
    store_close(s);
    s = st_open(dir, NULL);
    NT_EQ_INT(applied_of(s), 2);
    Naos__V1__CheckpointRecord *ck = NULL;
    NT_EQ_INT(store_ckpt_get(s, "a/a", &ck), NAOS_ENOTFOUND);
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 2); /* and the new term's no-op */
    ST_OK(s, store_ckpt_get(s, "a/a", &ck));
    NT_EQ_INT(ck->seq, 1);
    store_ckpt_free(ck);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    store_deploy_free(r);
    NT_EQ_INT(applied_of(s), 5);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* The command of entry index (a no-op entry gets a NOOP command). */
static Naos__V1__Command *
read_cmd(struct ct_log *l, uint64_t index)
{
    struct store_log_entry *e = NULL;
    ST_OK(l->store, cmdraft_read(l->r, index, &e));
    Naos__V1__Command *c = NULL;
    if (e->type == RAFT_ENTRY_NOOP) {
        Naos__V1__Command noop;
        cmd_init(&noop, 0, 0, 0);
        noop.cmd_case = NAOS__V1__COMMAND__CMD_NOOP;
        uint8_t *buf = NULL;
        size_t len = 0;
        char err[256] = "";
        NT_EQ_INT(cmd_pack(&noop, &buf, &len, err, sizeof err), NAOS_OK);
        NT_EQ_INT(cmd_unpack(buf, len, &c, err, sizeof err), NAOS_OK);
        naos_free(buf);
    } else {
        char err[256] = "";
        NT_EQ_INT(cmd_unpack(e->data, e->len, &c, err, sizeof err), NAOS_OK);
    }
    store_log_entries_free(e, 1);
    return c;
}

/* apply_entries: a batch is applied in one commit, all of it or none
 * (a failed commit leaves no entry of it, and last_applied where it
 * was); applied again it passes over what is applied; it refuses an
 * empty or oversized batch, indices that are not consecutive and a
 * batch that would skip an entry, changing nothing. */
static void
test_batch_all_or_none(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK)); /* 1: the no-op */
    propose_deploy(&l, "a", 1);                            /* 2 */
    propose_save(&l, "a/a", "data");                       /* 3 */
    propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 3); /* 4 */
    propose_name(&l, NAOS__V1__COMMAND__CMD_START, "b", 4); /* 5 */
    struct apply_item it[5];
    for (int i = 0; i < 5; i++)
        it[i] = (struct apply_item){.index = (uint64_t)i + 1,
                                    .c = read_cmd(&l, (uint64_t)i + 1)};
    /* refused, nothing applied */
    NT_EQ_INT(apply_entries(s, it, 0), NAOS_EINVAL);
    NT_EQ_INT(apply_entries(s, it, APPLY_BATCH_MAX + 1), NAOS_EINVAL);
    struct apply_item gap[2] = {it[0], it[2]};
    NT_EQ_INT(apply_entries(s, gap, 2), NAOS_EINVAL);
    NT_EQ_INT(apply_entries(s, &it[1], 4), NAOS_EINVAL); /* skips 1 */
    NT_EQ_INT(applied_of(s), 0);
    /* a failed commit: none of the five */
    store_fault_fail_next_commit();
    NT_EQ_INT(apply_entries(s, it, 5), NAOS_ESTORE);
    NT_TRUE(store_is_failed(s));
    ct_log_close(&l);
    store_close(s);
    s = st_open(dir, NULL);
    NT_EQ_INT(applied_of(s), 0);
    Naos__V1__DeploymentRecord *r = NULL;
    NT_EQ_INT(store_deploy_get(s, "a", &r), NAOS_ENOTFOUND);
    Naos__V1__CheckpointRecord *ck = NULL;
    NT_EQ_INT(store_ckpt_get(s, "a/a", &ck), NAOS_ENOTFOUND);
    /* the first two, then all five: the two are passed over; one
     * commit each time */
    uint64_t commits = store_commits(s);
    NT_EQ_INT(apply_entries(s, it, 2), NAOS_OK);
    NT_EQ_INT(applied_of(s), 2);
    NT_EQ_INT(apply_entries(s, it, 5), NAOS_OK);
    NT_EQ_INT(applied_of(s), 5);
    NT_EQ_INT(store_commits(s) - commits, 2);
    NT_TRUE(it[0].already && it[1].already);
    NT_TRUE(!it[2].already && !it[3].already && !it[4].already);
    NT_EQ_INT(it[2].res.status, NAOS_OK);
    NT_EQ_INT(it[2].res.ckpt_seq, 1);
    NT_EQ_INT(it[3].res.status, NAOS_OK);
    NT_EQ_INT(it[4].res.status, NAOS_ENOTFOUND); /* no deployment b */
    NT_EQ_INT(it[4].res.index, 5);
    r = get_dep(s, "a");
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    store_deploy_free(r);
    ST_OK(s, store_ckpt_get(s, "a/a", &ck));
    NT_EQ_INT(ck->seq, 1);
    store_ckpt_free(ck);
    /* once more: every one applied before */
    NT_EQ_INT(apply_entries(s, it, 5), NAOS_OK);
    for (int i = 0; i < 5; i++)
        NT_TRUE(it[i].already);
    NT_EQ_INT(applied_of(s), 5);
    for (int i = 0; i < 5; i++)
        cmd_free((Naos__V1__Command *)it[i].c);
    store_close(s);
    st_rmdir(dir);
}

/* The one-voter log keeps no applied entry but the last, so checkpoint
 * data is not kept twice for long, and indexes go on. */
static void
test_applied_entries_compacted(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    propose_deploy(&l, "a", 1);
    propose_save(&l, "a/a", "x");
    propose_save(&l, "a/a", "y");
    NT_EQ_INT(apply_all(&l), 3);
    uint64_t first = 0, last = 0;
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 1); /* nothing written since */
    uint64_t i = propose_name(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 5);
    NT_EQ_INT(i, 5);
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 4); /* 4 is the last applied */
    NT_EQ_INT(last, 5);
    NT_EQ_INT(raft_first_index(cmdraft_core(l.r)), 4); /* the core too */
    NT_EQ_INT(apply_all(&l), 1);
    /* A restart with a compacted log: indexes continue (the new term's
     * no-op at 6). */
    ct_log_close(&l);
    store_close(s);
    s = st_open(dir, &fast);
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 5); /* compacted below 5 with the no-op's write */
    NT_EQ_INT(last, 6);
    NT_EQ_INT(propose_name(&l, NAOS__V1__COMMAND__CMD_START, "a", 6), 7);
    NT_EQ_INT(apply_all(&l), 1);
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 5); /* 5 was the last applied at 7's write */
    NT_EQ_INT(last, 7);
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

/* A replicated log whose stored entries end below its stored commit
 * index lost committed entries: the node refuses it rather than clamp
 * (a one-voter log clamps: stores of its first layout trailed). */
static void
test_replicated_log_short_of_commit_refused(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(propose_deploy(&l, "a", 1), 2);
    ct_log_close(&l);
    struct store_hard h;
    ST_OK(s, store_hard_get(s, &h));
    h.commit = 9; /* entries 3..9 gone */
    ST_OK(s, store_hard_set(s, &h));
    uint64_t voters[3] = {77, 78, 79};
    struct cmdraft_config cfg = {.node_id = 77, .cluster_id = 5,
                                 .voters = voters, .nvoters = 3};
    struct cmdraft *r = NULL;
    char err[256] = "";
    NT_EQ_INT(cmdraft_open(&r, s, &cfg, 1000, err, sizeof err), NAOS_EINVAL);
    NT_TRUE(r == NULL);
    NT_TRUE(strstr(err, "ends at entry 2, below its commit index 9") != NULL);
    NT_TRUE(strstr(err, "damaged") != NULL);
    store_close(s);
    st_rmdir(dir);
}

/* ---- deduplication ---- */

/* A client's command: kind on name (a save when kind is
 * CHECKPOINT_SAVE, a deploy when DEPLOY), stamped with id and seq, at
 * version (2: deduplicated; 1: the old layout, whose client_id was the
 * proposing node's). */
static uint64_t
propose_client(struct ct_log *l, Naos__V1__Command__CmdCase kind,
               const char *name, uint64_t id, uint64_t seq, uint32_t version,
               int64_t at)
{
    Naos__V1__Command c;
    cmd_init(&c, id, seq, at);
    c.version = version;
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = (char *)name;
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    Naos__V1__CheckpointSaveCommand sv =
        NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    c.cmd_case = kind;
    switch (kind) {
    case NAOS__V1__COMMAND__CMD_DEPLOY:
        d.spec = ct_spec_pb(name);
        d.node_id = 77;
        c.deploy = &d;
        break;
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE:
        sv.path = (char *)name;
        sv.data.data = (uint8_t *)"data";
        sv.data.len = 4;
        c.checkpoint_save = &sv;
        break;
    case NAOS__V1__COMMAND__CMD_STOP: c.stop = &nc; break;
    case NAOS__V1__COMMAND__CMD_RESTART: c.restart = &nc; break;
    case NAOS__V1__COMMAND__CMD_REMOVE: c.remove = &nc; break;
    default: NT_FAIL("not a client command here");
    }
    /* packed by protobuf-c itself: cmd_pack writes this version only */
    size_t len = naos__v1__command__get_packed_size(&c);
    uint8_t *buf = naos_alloc(len);
    NT_TRUE(buf != NULL);
    naos__v1__command__pack(&c, buf);
    uint64_t index = 0;
    ST_OK(l->store, ct_log_propose(l, buf, len, &index));
    naos_free(buf);
    if (d.spec != NULL)
        spec_pb_free(d.spec);
    return index;
}

static uint32_t
restarts_of(struct store *s, const char *name)
{
    Naos__V1__DeploymentRecord *r = get_dep(s, name);
    uint32_t n = r->restarts;
    store_deploy_free(r);
    return n;
}

static void
test_client_retry_carried_out_once(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, &fast);
    struct ct_log l;
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    const uint32_t v = COMMAND_VERSION;
    struct apply_result res;
    /* deploy, then its retry: the first's outcome, placement untouched */
    uint64_t dep = propose_client(&l, NAOS__V1__COMMAND__CMD_DEPLOY, "a", 11,
                                  1, v, 10);
    NT_EQ_INT(apply_at(&l, dep, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.dup_of, 0);
    uint64_t i = propose_client(&l, NAOS__V1__COMMAND__CMD_DEPLOY, "a", 11, 1,
                                v, 20);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK); /* not EEXIST */
    NT_EQ_INT(res.dup_of, dep);
    NT_EQ_INT(res.index, i);
    NT_EQ_INT(res.placed_on, 77);
    NT_EQ_INT(res.at_ms, 10);
    NT_EQ_INT(applied_of(s), i);
    Naos__V1__PlacementRecord *p = NULL;
    ST_OK(s, store_placement_get(s, "a", &p));
    NT_EQ_INT(p->epoch, dep);
    store_placement_free(p);
    /* restart and its retry: counted once */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 12, 1, v, 30);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    uint64_t restart = i;
    NT_EQ_INT(restarts_of(s, "a"), 1);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 12, 1, v, 31);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, restart);
    NT_EQ_INT(restarts_of(s, "a"), 1);
    /* the same client's next seq is a new command */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 12, 2, v, 32);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, 0);
    NT_EQ_INT(restarts_of(s, "a"), 2);
    /* ... and a late copy of its first one is still a duplicate */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 12, 1, v, 33);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, i - 1);
    NT_EQ_INT(restarts_of(s, "a"), 2);
    /* a save and its retry: one seq, the first's size and time */
    uint64_t save = propose_client(&l, NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE,
                                   "a/a", 13, 1, v, 40);
    NT_EQ_INT(apply_at(&l, save, &res), NAOS_OK);
    NT_EQ_INT(res.ckpt_seq, 1);
    NT_EQ_INT(res.ckpt_size, 4);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE, "a/a", 13,
                       1, v, 41);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, save);
    NT_EQ_INT(res.ckpt_seq, 1);
    NT_EQ_INT(res.ckpt_size, 4);
    NT_EQ_INT(res.at_ms, 40);
    Naos__V1__CheckpointRecord *ck = NULL;
    ST_OK(s, store_ckpt_get(s, "a/a", &ck));
    NT_EQ_INT(ck->seq, 1);
    store_ckpt_free(ck);
    /* an id used by another command is refused, nothing changed */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 11, 1, v, 50);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_EINVAL);
    NT_TRUE(strstr(res.msg, "already used by another command") != NULL);
    NT_EQ_INT(restarts_of(s, "a"), 2);
    /* stop (and start) are carried out again: they change nothing more,
     * and the answer says what is found now */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 16, 1, v, 51);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_STOP, "a", 16, 1, v, 52);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, 0);
    NT_EQ_INT(res.status, NAOS_OK);
    Naos__V1__DeploymentRecord *r = get_dep(s, "a");
    NT_EQ_INT(r->desired, NAOS__V1__DESIRED_STATE__DESIRED_STOPPED);
    store_deploy_free(r);
    /* version 1 entries carried the node's id: never deduplicated */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 12, 1, 1, 60);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, 0);
    NT_EQ_INT(restarts_of(s, "a"), 3);
    /* the node's own commands (id 0) neither */
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 0, 0, v, 61);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_RESTART, "a", 0, 0, v, 62);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, 0);
    NT_EQ_INT(restarts_of(s, "a"), 5);
    /* rm and its retry: done, not "no such deployment" */
    uint64_t rm = propose_client(&l, NAOS__V1__COMMAND__CMD_REMOVE, "a", 14,
                                 1, v, 70);
    NT_EQ_INT(apply_at(&l, rm, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_REMOVE, "a", 14, 1, v, 71);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_OK);
    NT_EQ_INT(res.dup_of, rm);
    /* a refusal is remembered as one: the retry of an rm of nothing */
    uint64_t gone = propose_client(&l, NAOS__V1__COMMAND__CMD_REMOVE, "zz",
                                   15, 1, v, 80);
    NT_EQ_INT(apply_at(&l, gone, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_REMOVE, "zz", 15, 1, v, 81);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.status, NAOS_ENOTFOUND);
    NT_EQ_INT(res.dup_of, gone);
    /* the records survive a restart of the log (every node's table is
     * what its applied entries wrote) */
    ct_log_close(&l);
    store_close(s);
    s = st_open(dir, &fast);
    ST_OK(s, (ct_log_open(&l, s), NAOS_OK));
    NT_EQ_INT(apply_all(&l), 0);
    i = propose_client(&l, NAOS__V1__COMMAND__CMD_DEPLOY, "a", 11, 1, v, 90);
    NT_EQ_INT(apply_at(&l, i, &res), NAOS_OK);
    NT_EQ_INT(res.dup_of, dep);
    NT_EQ_INT(store_deploy_get(s, "a", &r), NAOS_ENOTFOUND); /* removed */
    ct_log_close(&l);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_propose_commits_one_voter),
        NT_CASE(test_in_order_exactly_once),
        NT_CASE(test_config_entry_recorded),
        NT_CASE(test_effects_of_each_type),
        NT_CASE(test_migrate_fenced_by_epoch),
        NT_CASE(test_migrate_node_lost),
        NT_CASE(test_drain_release_and_move),
        NT_CASE(test_checkpoint_save_fenced_by_epoch),
        NT_CASE(test_invalid_entry_is_applied_as_nothing),
        NT_CASE(test_restart_applies_the_rest_once),
        NT_CASE(test_failed_commit_leaves_effects_and_applied_together),
        NT_CASE(test_batch_all_or_none),
        NT_CASE(test_applied_entries_compacted),
        NT_CASE(test_replicated_log_short_of_commit_refused),
        NT_CASE(test_client_retry_carried_out_once),
        {0},
    };
    return nt_run(cases);
}
