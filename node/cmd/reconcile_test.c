/* SPDX-License-Identifier: Apache-2.0 */
/* reconcile_test.c: the local reconciler against the real sup core with a
 * fake io, on a real store written through the log (cmdraft) + apply. */
#include "node/cmd/reconcile.h"

#include <signal.h>

#include "node/base/err.h"
#include "node/cmd/apply.h"
#include "node/cmd/cmd.h"
#include "node/cmd/cmd_testutil.h"
#include "store/state.h"
#include "store/store_testutil.h"

static const struct store_options fast = {0, 0, true};

/* ---- fake io: spawns count, signals are remembered and their exits
 * delivered by exit_signalled() ---------------------------------------- */

static struct {
    int spawns;
    int next_pid;
    char reason[64];
    char reasons[512]; /* "path=reason;" of every spawn */
    struct reconcile *rec; /* set: each spawn notes reconcile_epoch */
    uint64_t epoch;        /* ... of the last spawn's deployment */
    struct sup_node *signalled[64];
    int nsig;
} F;

static int
fake_spawn(void *ctx, struct sup_node *w, const struct sup_spawn_info *info,
           int *pid)
{
    (void)ctx;
    (void)w;
    F.spawns++;
    snprintf(F.reason, sizeof F.reason, "%s", info->restart_reason);
    size_t used = strlen(F.reasons);
    snprintf(F.reasons + used, sizeof F.reasons - used, "%s=%s;", info->path,
             info->restart_reason);
    if (F.rec != NULL) { /* what the node gives the run as NAOS_EPOCH */
        char dep[SPEC_MAX_ID_LEN + 1];
        snprintf(dep, sizeof dep, "%.*s", (int)strcspn(info->path, "/"),
                 info->path);
        F.epoch = reconcile_epoch(F.rec, dep);
    }
    *pid = ++F.next_pid;
    return 0;
}

static void
fake_signal(void *ctx, struct sup_node *w, int signo)
{
    (void)ctx;
    if (signo == SIGTERM && F.nsig < 64)
        F.signalled[F.nsig++] = w;
}

static void
fake_event(void *ctx, const struct sup_event *ev)
{
    (void)ctx;
    (void)ev;
}

static uint32_t
fake_random(void *ctx)
{
    (void)ctx;
    return 0;
}

static struct sup_tree *
new_tree(void)
{
    memset(&F, 0, sizeof F);
    struct sup_io io = {.version = SUP_IO_VERSION,
                        .spawn = fake_spawn,
                        .signal = fake_signal,
                        .event = fake_event,
                        .random = fake_random};
    struct sup_tree *t = NULL;
    NT_EQ_INT(sup_tree_alloc(&t, &io), NAOS_OK);
    return t;
}

/* The workers told to stop exit. */
static void
exit_signalled(struct sup_tree *t)
{
    int n = F.nsig;
    F.nsig = 0;
    for (int i = 0; i < n; i++)
        sup_on_exit(t, F.signalled[i], false, SIGTERM, 1000);
}

/* ---- the store, written the one way ------------------------------------- */

static struct ct_log L;

static uint64_t
run(Naos__V1__Command *c)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[256] = "";
    NT_EQ_INT(cmd_pack(c, &buf, &len, err, sizeof err), NAOS_OK);
    uint64_t index = 0;
    ST_OK(L.store, ct_log_propose(&L, buf, len, &index));
    naos_free(buf);
    struct apply_result res;
    ST_OK(L.store, apply_entry(L.store, index, c, &res));
    NT_EQ_INT(res.status, NAOS_OK);
    return index;
}

/* Deploys spec (taken) on node_id. */
static void
deploy_spec(Naos__V1__NodeSpec *spec, uint64_t node_id)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 1);
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    d.spec = spec;
    d.node_id = node_id;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DEPLOY;
    c.deploy = &d;
    run(&c);
    spec_pb_free(d.spec);
}

static void
deploy(const char *name, uint64_t node_id)
{
    deploy_spec(ct_spec_pb(name), node_id);
}

/* Deploys name running `sleep secs` (a 4-digit string). */
static void
deploy_sleeping(const char *name, uint64_t node_id, const char *secs)
{
    Naos__V1__NodeSpec *spec = ct_spec_pb(name);
    NT_TRUE(spec->n_children == 1 && spec->children[0]->n_argv == 2);
    NT_EQ_INT((int)strlen(secs), 4);
    memcpy(spec->children[0]->argv[1], secs, 4);
    deploy_spec(spec, node_id);
}

/* What deployment name's only worker runs: its `sleep` argument. */
static const char *
sleeping(struct sup_tree *t, const char *name)
{
    struct sup_node *d = sup_find(t, name);
    NT_TRUE(d != NULL && d->nchildren == 1);
    return d->children[0]->spec->argv[1];
}

/* Deploys name: workers name and y (in that order) under a top that
 * gives up at the first crash (max_restarts 0). */
static void
deploy_fragile(const char *name, uint64_t node_id)
{
    static const char *const argv[] = {"sleep", "1000", NULL};
    struct spec_node root;
    ct_spec(&root, name, argv);
    root.max_restarts = 0;
    struct spec_node *v = naos_realloc(root.children, 2 * sizeof *v);
    NT_TRUE(v != NULL);
    root.children = v;
    root.nchildren = 2;
    spec_node_init(&v[1]);
    v[1].id = ct_strdup("y");
    v[1].argv = naos_alloc(3 * sizeof *v[1].argv);
    NT_TRUE(v[1].argv != NULL);
    v[1].argv[0] = ct_strdup(argv[0]);
    v[1].argv[1] = ct_strdup(argv[1]);
    v[1].argv[2] = NULL;
    v[1].argc = 2;
    char err[256] = "";
    NT_EQ_INT(spec_validate(&root, err, sizeof err), 0);
    Naos__V1__NodeSpec *m = NULL;
    NT_EQ_INT(spec_pb_from_spec(&root, &m), 0);
    spec_node_fini(&root);
    deploy_spec(m, node_id);
}

static void
name_cmd(Naos__V1__Command__CmdCase kind, const char *name)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 2);
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = (char *)name;
    c.cmd_case = kind;
    c.stop = c.start = c.restart = c.remove = NULL;
    switch (kind) {
    case NAOS__V1__COMMAND__CMD_STOP: c.stop = &nc; break;
    case NAOS__V1__COMMAND__CMD_START: c.start = &nc; break;
    case NAOS__V1__COMMAND__CMD_RESTART: c.restart = &nc; break;
    case NAOS__V1__COMMAND__CMD_REMOVE: c.remove = &nc; break;
    default: NT_FAIL("not a name command");
    }
    run(&c);
}

static void
fail_cmd(const char *name)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 3);
    Naos__V1__FailCommand f = NAOS__V1__FAIL_COMMAND__INIT;
    f.name = (char *)name;
    f.failure = "max-restarts";
    c.cmd_case = NAOS__V1__COMMAND__CMD_FAIL;
    c.fail = &f;
    run(&c);
}

#define SELF 7u

static struct store *
open_store(char *dir, size_t len)
{
    st_tmpdir(dir, len);
    struct store *s = st_open(dir, &fast);
    ST_OK(s, (ct_log_open(&L, s), NAOS_OK));
    struct apply_result res; /* the leader's no-op */
    ST_OK(s, apply_noop(s, ct_log_commit(&L), &res));
    return s;
}

static void
test_start_brings_in_what_is_placed_here(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("run", SELF);
    deploy("still", SELF);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "still");
    deploy("gaveup", SELF);
    fail_cmd("gaveup");
    deploy("there", SELF + 1); /* placed on another node */
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    NT_EQ_INT(F.spawns, 1); /* run's one worker, nothing else */
    NT_EQ_STR(F.reason, "node-restart");
    struct sup_node *d = sup_find(t, "run");
    NT_TRUE(d != NULL && d->state == SUP_RUNNING);
    d = sup_find(t, "still");
    NT_TRUE(d != NULL && d->state == SUP_STOPPED);
    d = sup_find(t, "gaveup");
    NT_TRUE(d != NULL && d->state == SUP_FAILED);
    NT_TRUE(sup_find(t, "there") == NULL);
    /* Nothing changed since: reconciling again does nothing. */
    struct reconcile_outcome o;
    NT_EQ_INT(reconcile_deployment(&r, "run", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 1);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

static void
test_each_change_drives_the_core(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_DEPLOY);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_FALSE(o.existed);
    NT_EQ_STR(F.reason, ""); /* a deploy, not a node restart */
    NT_EQ_INT(F.spawns, 1);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_STOP);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_TRUE(o.existed);
    NT_EQ_INT(o.before, SUP_RUNNING);
    NT_FALSE(o.at_rest); /* its worker has its grace */
    exit_signalled(t);
    NT_TRUE(sup_is_at_rest(sup_find(t, "a")));
    /* A stop of what is stopped: nothing to do, and said so. */
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_TRUE(o.was_at_rest);
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_EQ_INT(F.spawns, 2);
    /* A start of what runs: nothing. */
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(o.before, SUP_RUNNING);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_REMOVE);
    NT_EQ_INT(o.rc, NAOS_OK);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "a") == NULL);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A restart is a counter in the record: carried out once per increment,
 * never again for the same count, not even by a restarted node. */
static void
test_restart_counter_acts_once(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(o.rc, NAOS_OK);
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 2);
    reconcile_fini(&r);
    sup_tree_free(t);
    /* The node restarts: its one start, no restart on top. */
    t = new_tree();
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 2000), NAOS_OK);
    NT_EQ_INT(F.spawns, 1);
    NT_EQ_INT(F.nsig, 0);
    /* The next request still counts. */
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(F.nsig, 1);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A restart that comes while the tree is still stopping for the one
 * before it is refused by the core (NAOS_EBUSY): it must stay owed, not
 * be recorded as carried out, and be carried out by the next reconcile
 * once the tree can take it. */
static void
test_restart_refused_while_busy_is_not_lost(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_EQ_INT(F.nsig, 1); /* its worker has its grace: still stopping */
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(o.rc, NAOS_EBUSY);
    NT_EQ_INT(F.spawns, 1);
    exit_signalled(t); /* the first restart's stop ends: it starts again */
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(F.nsig, 0);
    /* The second restart was not carried out: the next pass does it. */
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_EQ_INT(F.nsig, 1);
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 3);
    /* ...once. */
    NT_EQ_INT(reconcile_deployment(&r, "a", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 3);
    NT_EQ_INT(F.nsig, 0);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* The node's way to carry out an owed restart: reconcile_retry, once per
 * loop iteration. It does nothing while the tree is busy, carries the
 * restart out as soon as the tree can take it, and only once; several
 * restarts owed are carried out by one, as in one batch. */
static void
test_retry_carries_out_an_owed_restart_once(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    NT_EQ_INT((int)reconcile_retry(&r, 1000), 0); /* nothing owed */
    deploy("a", SELF);
    deploy("b", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(reconcile_deployment(&r, "b", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_FALSE(o.pending);
    for (int i = 0; i < 2; i++) {
        name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
        NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
        NT_EQ_INT(o.action, RECONCILE_RESTART);
        NT_EQ_INT(o.rc, NAOS_EBUSY);
        NT_TRUE(o.pending);
    }
    /* Still busy: nothing done, however often it is asked. */
    for (int i = 0; i < 3; i++)
        NT_EQ_INT((int)reconcile_retry(&r, 1000), 0);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(F.nsig, 1);
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 3);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1);
    NT_EQ_INT(F.nsig, 1);
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 4);
    NT_EQ_INT((int)reconcile_retry(&r, 3000), 0);
    NT_EQ_INT(reconcile_deployment(&r, "a", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.nsig, 0);
    NT_EQ_INT(F.spawns, 4);
    NT_EQ_INT(sup_find(t, "b")->state, SUP_RUNNING); /* untouched */
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A restart of a deployment whose tree is owed (the tree of an earlier
 * deployment of that name was being removed when it came): the retry
 * reconciles the record afresh once that tree goes, bringing the new
 * tree in, which that restart asks nothing more of. */
static void
test_retry_of_a_tree_that_went_brings_the_record_in(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_REMOVE);
    NT_TRUE(sup_find(t, "a") != NULL); /* its worker has its grace */
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.rc, NAOS_EBUSY);
    NT_TRUE(o.pending);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "a") == NULL);
    NT_EQ_INT(F.spawns, 1);
    /* Brought in (counted: what was owed), and no restart on top. */
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1);
    struct sup_node *d = sup_find(t, "a");
    NT_TRUE(d != NULL && d->state == SUP_RUNNING);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 0);
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 2);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A deployment placed here while the tree of an earlier one of the same
 * name is still being removed here (a cluster's leader does not see this
 * node's trees, so the deploy is not refused): that tree is not the
 * record's to drive. The record's tree is brought in once the old one is
 * gone, as the record says then (started, or stopped). */
static void
test_deploy_over_a_tree_being_removed_is_brought_in_once_gone(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_REMOVE);
    struct sup_node *old = sup_find(t, "a");
    NT_TRUE(old != NULL); /* its worker has its grace */
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_DEPLOY);
    NT_EQ_INT(o.rc, NAOS_EBUSY);
    NT_TRUE(o.pending);
    for (int i = 0; i < 3; i++)
        NT_EQ_INT((int)reconcile_retry(&r, 1000), 0);
    NT_TRUE(sup_find(t, "a") == old);
    NT_EQ_INT(F.spawns, 1);
    exit_signalled(t); /* the old tree is gone */
    NT_TRUE(sup_find(t, "a") == NULL);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1);
    struct sup_node *d = sup_find(t, "a");
    NT_TRUE(d != NULL && d->state == SUP_RUNNING);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 0);
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 2);
    /* Stopped by the operator before the old tree went: brought in
     * stopped. */
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_TRUE(o.pending);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_TRUE(o.pending);
    exit_signalled(t);
    NT_EQ_INT((int)reconcile_retry(&r, 3000), 1);
    d = sup_find(t, "a");
    NT_TRUE(d != NULL && d->state == SUP_STOPPED);
    NT_EQ_INT(F.spawns, 2);
    NT_FALSE(r.owing);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A stop after a restart settles it: an owed restart is not carried out
 * over it, and neither is one applied in the same batch before it. */
static void
test_stop_settles_a_restart_not_carried_out(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_TRUE(o.pending);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_STOP);
    NT_EQ_INT(o.rc, NAOS_OK); /* the restart's start turned into a stop */
    exit_signalled(t);
    NT_TRUE(sup_is_at_rest(sup_find(t, "a")));
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 0);
    NT_EQ_INT(F.spawns, 1);
    /* One batch: a restart, then a stop (the record after both). */
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(F.spawns, 2);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_STOP);
    exit_signalled(t);
    NT_TRUE(sup_is_at_rest(sup_find(t, "a")));
    NT_EQ_INT(F.spawns, 2);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A start that comes while the tree is still stopping (its workers in
 * their shutdown grace) is refused by the core (NAOS_EBUSY): the record
 * says running, so the start is owed and reconcile_retry carries it out
 * once the stop is done, once. A stop after it cancels it (the last
 * command wins), and a start during a restart's stop is settled by the
 * restart's own start. */
static void
test_start_while_stopping_is_owed_then_carried_out(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_STOP);
    NT_FALSE(o.at_rest); /* its worker has its grace */
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_EQ_INT(o.rc, NAOS_EBUSY);
    NT_TRUE(o.pending);
    /* Still stopping: nothing done, however often it is asked. */
    for (int i = 0; i < 3; i++)
        NT_EQ_INT((int)reconcile_retry(&r, 1000), 0);
    NT_EQ_INT(F.spawns, 1);
    exit_signalled(t); /* the stop is done */
    NT_TRUE(sup_is_at_rest(sup_find(t, "a")));
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(sup_find(t, "a")->state, SUP_RUNNING);
    /* ...once. */
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 0);
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 2);
    /* Stop, start, stop: the start pending is cancelled. */
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_TRUE(o.pending);
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_STOP);
    NT_EQ_INT(o.rc, NAOS_EBUSY); /* already stopping */
    NT_FALSE(o.pending);
    exit_signalled(t);
    NT_EQ_INT((int)reconcile_retry(&r, 3000), 0);
    NT_TRUE(sup_is_at_rest(sup_find(t, "a")));
    NT_EQ_INT(F.spawns, 2);
    /* A start while a restart's stop is under way: the restart starts
     * it, and the start owed asks nothing more of it. */
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_EQ_INT(F.spawns, 3);
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_RESTART);
    NT_EQ_INT(o.rc, NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_TRUE(o.pending);
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 4); /* the restart's start */
    NT_EQ_INT((int)reconcile_retry(&r, 4000), 0);
    NT_EQ_INT((int)reconcile_retry(&r, 4000), 0);
    NT_EQ_INT(F.spawns, 4);
    NT_EQ_INT(F.nsig, 0);
    NT_EQ_INT(sup_find(t, "a")->state, SUP_RUNNING);
    NT_FALSE(r.owing); /* settled: the retry is back to one flag */
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A start owed while the tree stops because it gave up (a crash beyond
 * its intensity) is not carried out over that: the tree is left failed,
 * as anything a tree does on its own (its failed mark is on its way
 * through the log). */
static void
test_start_owed_is_dropped_when_the_tree_gave_up(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy_fragile("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(F.spawns, 2);
    sup_on_exit(t, sup_find_path(t, "a/y"), true, 1, 1000); /* gives up */
    NT_EQ_INT(F.nsig, 1); /* a/a has its grace */
    NT_EQ_INT(sup_find(t, "a")->state, SUP_STOPPING);
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_TRUE(o.pending);
    exit_signalled(t);
    NT_EQ_INT(sup_find(t, "a")->state, SUP_FAILED);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 0);
    NT_EQ_INT(sup_find(t, "a")->state, SUP_FAILED);
    NT_EQ_INT(F.spawns, 2);
    NT_FALSE(r.owing);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* What a tree did on its own is not a difference to undo: only a change
 * of its record makes the reconciler act. */
static void
test_unchanged_record_leaves_the_tree_alone(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    struct sup_node *d = sup_find(t, "a");
    NT_EQ_INT(sup_stop(t, d, 1000), NAOS_OK); /* as if it had given up */
    exit_signalled(t);
    NT_TRUE(sup_is_at_rest(d));
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    NT_EQ_INT(F.spawns, 1);
    /* The failed mark arriving later changes nothing either... */
    fail_cmd("a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    /* ...until the operator starts it. */
    name_cmd(NAOS__V1__COMMAND__CMD_START, "a");
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_START);
    NT_EQ_INT(F.spawns, 2);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* Removed and deployed again with another spec, both in one batch (the
 * reconciler sees the record as the batch left it): the new record is
 * generation 1 again, as the one the tree was brought in for, but another
 * deployment (its placement epoch): the tree is replaced, once the old
 * one's workers have had their grace. */
static void
test_remove_and_deploy_again_in_one_batch_replaces_the_tree(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("x", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "x", 1000, &o), NAOS_OK);
    NT_EQ_STR(sleeping(t, "x"), "1000");
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "x");
    deploy_sleeping("x", SELF, "2000");
    NT_EQ_INT(reconcile_deployment(&r, "x", 1000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_DEPLOY);
    NT_TRUE(o.existed);
    NT_TRUE(o.pending); /* the old tree's worker has its grace */
    NT_EQ_INT(F.nsig, 1);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "x") == NULL);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1);
    NT_EQ_STR(sleeping(t, "x"), "2000");
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_STR(F.reason, "");
    /* The new one is what was seen now: nothing more. */
    NT_EQ_INT(reconcile_deployment(&r, "x", 2000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_NONE);
    /* Stopped, removed and deployed again (stopped trees go at once):
     * brought in at once. */
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "x");
    NT_EQ_INT(reconcile_deployment(&r, "x", 2000, &o), NAOS_OK);
    exit_signalled(t);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "x");
    deploy_sleeping("x", SELF, "3000");
    NT_EQ_INT(reconcile_deployment(&r, "x", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_DEPLOY);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_FALSE(o.pending);
    NT_EQ_STR(sleeping(t, "x"), "3000");
    NT_EQ_INT(sup_find(t, "x")->state, SUP_RUNNING);
    NT_EQ_INT(F.spawns, 3);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* The placement epoch of name (0: none). */
static uint64_t
placement_epoch(struct store *s, const char *name)
{
    Naos__V1__PlacementRecord *p = NULL;
    NT_EQ_INT(store_placement_get(s, name, &p), NAOS_OK);
    uint64_t e = p->epoch;
    store_placement_free(p);
    return e;
}

/* A run's NAOS_EPOCH is reconcile_epoch of its deployment as it spawns:
 * the first runs of a tree spawn inside sup_deploy_ex, so the epoch of
 * the record brought in must be known by then, also when it replaces a
 * tree of an earlier deployment of that name. (Found writing issue 12:
 * it was recorded after the deploy, so first runs said 0, or the
 * replaced deployment's epoch.) */
static void
test_first_runs_see_their_placement_epoch(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    F.rec = &r;
    struct reconcile_outcome o;
    deploy("x", SELF);
    uint64_t first = placement_epoch(s, "x");
    NT_TRUE(first != 0);
    NT_EQ_INT(reconcile_deployment(&r, "x", 1000, &o), NAOS_OK);
    NT_EQ_INT(F.spawns, 1);
    NT_EQ_INT(F.epoch, first);
    /* stopped (at rest), removed and deployed again: the tree is replaced
     * at once, and its first run has the new epoch */
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "x");
    NT_EQ_INT(reconcile_deployment(&r, "x", 2000, &o), NAOS_OK);
    exit_signalled(t);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "x");
    deploy_sleeping("x", SELF, "3000");
    uint64_t second = placement_epoch(s, "x");
    NT_TRUE(second > first);
    NT_EQ_INT(reconcile_deployment(&r, "x", 3000, &o), NAOS_OK);
    NT_EQ_INT(o.action, RECONCILE_DEPLOY);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(F.epoch, second);
    NT_EQ_INT(reconcile_epoch(&r, "x"), second);
    /* and at node start */
    struct sup_tree *t2 = new_tree();
    struct reconcile r2;
    reconcile_init(&r2, t2, s, SELF);
    F.rec = &r2;
    NT_EQ_INT(reconcile_all(&r2, 4000), NAOS_OK);
    NT_EQ_INT(F.spawns, 1);
    NT_EQ_INT(F.epoch, second);
    reconcile_fini(&r2);
    sup_tree_free(t2);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* An installed snapshot on a live node (reconcile_resync): a deployment
 * removed in the cluster while this node was behind (the entry never
 * applied here) has no record any more; one moved to another node has a
 * record placed elsewhere. Both trees go, and nothing of them is
 * remembered. (Found by review: the pass skipped every tree it had seen
 * before, so both kept running.) */
static void
test_resync_removes_trees_with_no_record_here(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("gone", SELF);
    deploy("moved", SELF);
    deploy("kept", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK); /* running, seen */
    NT_EQ_INT(F.spawns, 3);
    /* the installed state: no "gone", "moved" deployed again elsewhere */
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "gone");
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "moved");
    deploy("moved", SELF + 1);
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    NT_EQ_INT(F.nsig, 2);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "gone") == NULL);
    NT_TRUE(sup_find(t, "moved") == NULL);
    NT_EQ_INT(sup_find(t, "kept")->state, SUP_RUNNING);
    NT_EQ_INT((int)r.nseen, 1);
    NT_EQ_STR(r.seen[0].name, "kept");
    NT_EQ_INT(F.spawns, 3);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* Issue 12: a node without a lease runs nothing. Started fenced, it
 * brings nothing in until the fence lifts (then as a node restart would);
 * fenced again, every tree goes, and an entry applied meanwhile brings
 * nothing in; lifted, what is placed here then (not what moved away) runs
 * again. */
static void
test_fence_runs_nothing_until_lifted(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("a", SELF);
    deploy("b", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_fence(&r, true, 500), NAOS_OK);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    NT_EQ_INT(F.spawns, 0);
    NT_TRUE(sup_first(t) == NULL);
    deploy("late", SELF); /* deployed while the fence holds */
    NT_EQ_INT(reconcile_fence(&r, false, 1500), NAOS_OK);
    NT_EQ_INT(F.spawns, 3);
    /* the restore it owed, but not for what was deployed since */
    NT_CONTAINS(F.reasons, "a/a=node-restart;");
    NT_CONTAINS(F.reasons, "b/b=node-restart;");
    NT_CONTAINS(F.reasons, "late/late=;");
    NT_EQ_INT(sup_find(t, "a")->state, SUP_RUNNING);
    /* fenced: both trees go; a deploy applied meanwhile waits */
    NT_EQ_INT(reconcile_fence(&r, true, 2000), NAOS_OK);
    NT_EQ_INT(F.nsig, 3);
    exit_signalled(t);
    NT_TRUE(sup_first(t) == NULL);
    deploy("c", SELF);
    struct reconcile_outcome o;
    NT_EQ_INT(reconcile_deployment(&r, "c", 2500, &o), NAOS_OK);
    NT_TRUE(sup_find(t, "c") == NULL);
    NT_EQ_INT(F.spawns, 3);
    /* b moved away while fenced: only a and c come back, as a deploy */
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "b");
    deploy("b", SELF + 1);
    NT_EQ_INT(reconcile_fence(&r, false, 3000), NAOS_OK);
    NT_EQ_INT(F.spawns, 6);
    NT_EQ_STR(F.reason, "");
    NT_TRUE(sup_find(t, "a") != NULL && sup_find(t, "c") != NULL);
    NT_TRUE(sup_find(t, "b") == NULL);
    NT_EQ_INT(reconcile_fence(&r, false, 3500), NAOS_OK); /* no change */
    NT_EQ_INT(F.spawns, 6);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* A deployment that runs on without a lease (on_partition: keep) is
 * neither removed by the fence nor kept out by it. */
static void
test_fence_spares_what_keeps_running(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("stops", SELF);
    Naos__V1__NodeSpec *keep = ct_spec_pb("keeps");
    keep->on_partition_keep = true;
    deploy_spec(keep, SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_fence(&r, true, 500), NAOS_OK);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK); /* a start, fenced */
    NT_TRUE(sup_find(t, "stops") == NULL);
    NT_EQ_INT(sup_find(t, "keeps")->state, SUP_RUNNING);
    NT_EQ_INT(reconcile_fence(&r, false, 1500), NAOS_OK);
    NT_TRUE(sup_find(t, "stops") != NULL);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(reconcile_fence(&r, true, 2000), NAOS_OK); /* lost again */
    NT_EQ_INT(F.nsig, 1);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "stops") == NULL);
    NT_EQ_INT(sup_find(t, "keeps")->state, SUP_RUNNING);
    NT_EQ_INT(F.spawns, 2);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

static uint64_t
drain_cmd(uint64_t node, bool drain)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 1);
    Naos__V1__DrainCommand d = NAOS__V1__DRAIN_COMMAND__INIT;
    d.node_id = node;
    d.drain = drain;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DRAIN;
    c.drain = &d;
    return run(&c);
}

/* Issue 12, drain: while this node is drained nothing counts as placed
 * here, keep or not: each tree is removed, and stays found while its
 * workers stop (the node releases a placement only once it is gone).
 * Undrained, they come back. A released placement is not here either. */
static void
test_drain_removes_every_tree_until_undrained(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("a", SELF);
    Naos__V1__NodeSpec *keep = ct_spec_pb("keeps");
    keep->on_partition_keep = true;
    deploy_spec(keep, SELF);
    deploy("b", SELF + 1);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    NT_EQ_INT(F.spawns, 2);
    drain_cmd(SELF + 1, true); /* another node's drain: nothing here */
    NT_EQ_INT(reconcile_resync(&r, 1500), NAOS_OK);
    NT_EQ_INT(F.nsig, 0);
    drain_cmd(SELF, true);
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    NT_EQ_INT(F.nsig, 2);
    NT_TRUE(sup_find(t, "a") != NULL); /* stopping: still found */
    NT_TRUE(sup_find(t, "keeps") != NULL);
    exit_signalled(t);
    NT_TRUE(sup_find(t, "a") == NULL);
    NT_TRUE(sup_find(t, "keeps") == NULL);
    NT_EQ_INT(reconcile_all(&r, 2500), NAOS_OK); /* a restart: still none */
    NT_EQ_INT(F.spawns, 2);
    drain_cmd(SELF, false);
    NT_EQ_INT(reconcile_resync(&r, 3000), NAOS_OK);
    NT_EQ_INT(F.spawns, 4);
    /* drained again, a released: not here even once undrained */
    uint64_t di = drain_cmd(SELF, true);
    Naos__V1__PlacementRecord *p = NULL;
    NT_EQ_INT(store_placement_get(s, "a", &p), NAOS_OK);
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 1);
    Naos__V1__ReleaseCommand rl = NAOS__V1__RELEASE_COMMAND__INIT;
    rl.name = "a";
    rl.epoch = p->epoch;
    rl.node_id = SELF;
    rl.drain_index = di;
    store_placement_free(p);
    c.cmd_case = NAOS__V1__COMMAND__CMD_RELEASE;
    c.release = &rl;
    run(&c);
    drain_cmd(SELF, false);
    struct reconcile_outcome out;
    NT_EQ_INT(reconcile_deployment(&r, "a", 3500, &out), NAOS_OK);
    NT_EQ_INT(out.action, RECONCILE_REMOVE);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* Removed and deployed again with another spec while this node was
 * behind: the installed record is generation 1 again, as the one seen
 * here, but another deployment. The old spec's tree is replaced by the
 * record's. (Found by review: the generation alone was compared, so the
 * old spec kept running.) */
static void
test_resync_replaces_a_deployment_deployed_again(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("x", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "x");
    deploy_sleeping("x", SELF, "2000");
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    exit_signalled(t);
    NT_EQ_INT((int)reconcile_retry(&r, 2000), 1); /* the old tree went */
    NT_EQ_STR(sleeping(t, "x"), "2000");
    NT_EQ_INT(sup_find(t, "x")->state, SUP_RUNNING);
    NT_EQ_STR(F.reason, ""); /* a deploy here, not a node restart */
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* What the installed state leaves as it was keeps running untouched; a
 * record that changed drives its tree (a restart counted while the node
 * was behind is carried out once); what is placed here and not running
 * is brought in. A second pass does nothing. */
static void
test_resync_leaves_what_is_unchanged(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("same", SELF);
    deploy("halt", SELF);
    deploy("again", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    NT_EQ_INT(F.spawns, 3);
    struct sup_node *same = sup_find(t, "same");
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "halt");
    name_cmd(NAOS__V1__COMMAND__CMD_RESTART, "again");
    deploy("new", SELF);
    F.reason[0] = '\0';
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    NT_EQ_INT(F.nsig, 2); /* halt's and again's workers, nothing else */
    NT_EQ_INT(F.spawns, 4); /* new's */
    NT_EQ_STR(F.reason, "");
    exit_signalled(t);
    NT_TRUE(sup_find(t, "same") == same);
    NT_EQ_INT(same->state, SUP_RUNNING);
    NT_TRUE(sup_is_at_rest(sup_find(t, "halt")));
    NT_EQ_INT(sup_find(t, "again")->state, SUP_RUNNING);
    NT_EQ_INT(F.spawns, 5); /* again's restart */
    NT_EQ_INT(sup_find(t, "new")->state, SUP_RUNNING);
    NT_EQ_INT(reconcile_resync(&r, 3000), NAOS_OK);
    NT_EQ_INT((int)reconcile_retry(&r, 3000), 0);
    NT_EQ_INT(F.nsig, 0);
    NT_EQ_INT(F.spawns, 5);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* What is owed after an install: a restart owed to a tree whose record is
 * unchanged stays owed, carried out once; one owed to a tree whose
 * deployment was replaced is dropped with it (the new tree is brought in,
 * no restart on top); one owed to a deployment removed is forgotten. */
static void
test_resync_keeps_owed_actions_consistent(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("a", SELF);
    deploy("b", SELF);
    deploy("c", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    struct reconcile_outcome o;
    static const char *const names[] = {"a", "b", "c"};
    for (int i = 0; i < 3; i++) { /* each: a restart, then one owed */
        name_cmd(NAOS__V1__COMMAND__CMD_RESTART, names[i]);
        NT_EQ_INT(reconcile_deployment(&r, names[i], 1000, &o), NAOS_OK);
        name_cmd(NAOS__V1__COMMAND__CMD_RESTART, names[i]);
        NT_EQ_INT(reconcile_deployment(&r, names[i], 1000, &o), NAOS_OK);
        NT_TRUE(o.pending);
    }
    NT_EQ_INT(F.nsig, 3);
    NT_EQ_INT(F.spawns, 3);
    /* installed: a unchanged, b deployed again, c removed */
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "b");
    deploy_sleeping("b", SELF, "2000");
    name_cmd(NAOS__V1__COMMAND__CMD_REMOVE, "c");
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    exit_signalled(t); /* a's first restart ends; b and c go */
    NT_TRUE(sup_find(t, "b") == NULL);
    NT_TRUE(sup_find(t, "c") == NULL);
    NT_EQ_INT(F.spawns, 4); /* a's */
    /* a's owed restart, and b brought in */
    NT_EQ_INT((int)reconcile_retry(&r, 3000), 2);
    NT_EQ_INT(F.spawns, 5);
    NT_EQ_STR(sleeping(t, "b"), "2000");
    NT_EQ_INT(F.nsig, 1); /* a's, once */
    exit_signalled(t);
    NT_EQ_INT(F.spawns, 6);
    NT_EQ_INT((int)reconcile_retry(&r, 4000), 0);
    NT_FALSE(r.owing);
    NT_EQ_INT(F.nsig, 0);
    NT_EQ_INT(sup_find(t, "a")->state, SUP_RUNNING);
    NT_EQ_INT(sup_find(t, "b")->state, SUP_RUNNING);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

/* Path commands leave no record, and a snapshot skips their entries:
 * held children are in memory only, so an install, like a node restart,
 * starts every held child of a tree its record wants running (a stop by
 * path the snapshot covered is not carried out either; a start by path it
 * covered is). A held child of a stopped deployment is left (its start
 * starts everything). */
static void
test_resync_starts_held_children(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    deploy("x", SELF);
    deploy("down", SELF);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    NT_EQ_INT(reconcile_all(&r, 1000), NAOS_OK);
    struct reconcile_outcome o;
    reconcile_path(&r, "x/x", RECONCILE_VERB_STOP, 1000, &o);
    NT_EQ_INT(o.rc, NAOS_OK);
    reconcile_path(&r, "down/down", RECONCILE_VERB_STOP, 1000, &o);
    NT_EQ_INT(o.rc, NAOS_OK);
    exit_signalled(t);
    NT_TRUE(sup_is_held(sup_find_path(t, "x/x")));
    name_cmd(NAOS__V1__COMMAND__CMD_STOP, "down");
    NT_EQ_INT(reconcile_deployment(&r, "down", 1000, &o), NAOS_OK);
    NT_EQ_INT(F.spawns, 2);
    NT_EQ_INT(reconcile_resync(&r, 2000), NAOS_OK);
    struct sup_node *c = sup_find_path(t, "x/x");
    NT_FALSE(sup_is_held(c));
    NT_TRUE(c->pid != 0);
    NT_EQ_INT(F.spawns, 3);
    NT_TRUE(sup_is_at_rest(sup_find(t, "down")));
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

static void
test_path_commands(void)
{
    char dir[256];
    struct store *s = open_store(dir, sizeof dir);
    struct sup_tree *t = new_tree();
    struct reconcile r;
    reconcile_init(&r, t, s, SELF);
    struct reconcile_outcome o;
    deploy("a", SELF);
    NT_EQ_INT(reconcile_deployment(&r, "a", 1000, &o), NAOS_OK);
    reconcile_path(&r, "a/a", RECONCILE_VERB_STOP, 1000, &o);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_TRUE(o.child != NULL);
    NT_TRUE(o.was_live);
    NT_FALSE(o.was_held);
    exit_signalled(t);
    NT_TRUE(sup_is_held(o.child));
    reconcile_path(&r, "a/a", RECONCILE_VERB_START, 1000, &o);
    NT_EQ_INT(o.rc, NAOS_OK);
    NT_TRUE(o.was_held);
    NT_EQ_INT(F.spawns, 2);
    reconcile_path(&r, "a/nope", RECONCILE_VERB_STOP, 1000, &o);
    NT_EQ_INT(o.rc, NAOS_ENOTFOUND);
    NT_TRUE(o.child == NULL);
    reconcile_fini(&r);
    sup_tree_free(t);
    ct_log_close(&L);
    store_close(s);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_start_brings_in_what_is_placed_here),
        NT_CASE(test_each_change_drives_the_core),
        NT_CASE(test_restart_counter_acts_once),
        NT_CASE(test_restart_refused_while_busy_is_not_lost),
        NT_CASE(test_retry_carries_out_an_owed_restart_once),
        NT_CASE(test_retry_of_a_tree_that_went_brings_the_record_in),
        NT_CASE(test_deploy_over_a_tree_being_removed_is_brought_in_once_gone),
        NT_CASE(test_stop_settles_a_restart_not_carried_out),
        NT_CASE(test_start_while_stopping_is_owed_then_carried_out),
        NT_CASE(test_start_owed_is_dropped_when_the_tree_gave_up),
        NT_CASE(test_unchanged_record_leaves_the_tree_alone),
        NT_CASE(test_path_commands),
        NT_CASE(test_remove_and_deploy_again_in_one_batch_replaces_the_tree),
        NT_CASE(test_first_runs_see_their_placement_epoch),
        NT_CASE(test_resync_removes_trees_with_no_record_here),
        NT_CASE(test_resync_replaces_a_deployment_deployed_again),
        NT_CASE(test_resync_leaves_what_is_unchanged),
        NT_CASE(test_resync_keeps_owed_actions_consistent),
        NT_CASE(test_resync_starts_held_children),
        NT_CASE(test_fence_runs_nothing_until_lifted),
        NT_CASE(test_fence_spares_what_keeps_running),
        NT_CASE(test_drain_removes_every_tree_until_undrained),
        {0},
    };
    return nt_run(cases);
}
