/* SPDX-License-Identifier: Apache-2.0 */
/* spec_pb_test.c: spec_node <-> NodeSpec round trips and hostile input. */
#include "proto/spec_pb.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"

static char **
strv(const char *const *v, size_t n)
{
    char **out = naos_alloc((n + 1) * sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = naos_strdup(v[i]);
    return out;
}

/* research (rest-for-one) -> fetcher (worker, every field set),
 *                            tools (one-for-one) -> scraper (worker) */
static void
make_tree(struct spec_node *root)
{
    spec_node_init_supervisor(root);
    root->id = naos_strdup("research");
    root->strategy = SPEC_REST_FOR_ONE;
    root->max_restarts = 5;
    root->window_s = 300;
    root->place_on = naos_strdup("n2");
    root->nrequire = 2;
    root->require = naos_alloc(2 * sizeof *root->require);
    root->require[0] = (struct spec_label){"zone", "eu"};
    root->require[1] = (struct spec_label){"gpu", ""};
    root->max_migrations = 7;
    root->migration_window = 10 * 60 * 1000;
    root->nchildren = 2;
    root->children = naos_alloc(2 * sizeof *root->children);

    struct spec_node *f = &root->children[0];
    spec_node_init(f);
    f->id = naos_strdup("fetcher");
    static const char *const argv[] = {"python3", "fetch.py", "--x=1 2"};
    f->argv = strv(argv, 3);
    f->argc = 3;
    static const char *const env[] = {"A=1", "B=two words"};
    f->env = strv(env, 2);
    f->envc = 2;
    f->cwd = naos_strdup("/srv/agents");
    f->restart = SPEC_TRANSIENT;
    f->shutdown = 2500;
    f->backoff_min = 1000;
    f->backoff_max = 30000;
    f->ready = SPEC_READY_NOTIFY;
    f->start_timeout = 45000;
    f->watchdog = 30000;
    f->max_runtime = 3600000;
    f->output = SPEC_OUTPUT_DISCARD;
    f->control = SPEC_CONTROL_FULL;

    struct spec_node *t = &root->children[1];
    spec_node_init_supervisor(t);
    t->id = naos_strdup("tools");
    t->max_restarts = 3;
    t->window_s = 60;
    t->restart = SPEC_TEMPORARY;
    t->nchildren = 1;
    t->children = naos_alloc(sizeof *t->children);
    struct spec_node *s = &t->children[0];
    spec_node_init(s);
    s->id = naos_strdup("scraper");
    static const char *const sargv[] = {"/bin/sh", "-c", "./scraper"};
    s->argv = strv(sargv, 3);
    s->argc = 3;
    s->shutdown = SPEC_SHUTDOWN_KILL;
}

static void
expect_same(const struct spec_node *a, const struct spec_node *b)
{
    NT_EQ_STR(a->id, b->id);
    NT_EQ_INT(a->is_supervisor, b->is_supervisor);
    NT_EQ_INT(a->restart, b->restart);
    NT_EQ_INT(a->shutdown, b->shutdown);
    NT_EQ_INT(a->backoff_min, b->backoff_min);
    NT_EQ_INT(a->backoff_max, b->backoff_max);
    NT_EQ_INT(a->argc, b->argc);
    for (size_t i = 0; i < a->argc; i++)
        NT_EQ_STR(a->argv[i], b->argv[i]);
    if (a->argc)
        NT_TRUE(b->argv[b->argc] == NULL);
    NT_EQ_INT(a->envc, b->envc);
    for (size_t i = 0; i < a->envc; i++)
        NT_EQ_STR(a->env[i], b->env[i]);
    if (a->cwd)
        NT_EQ_STR(a->cwd, b->cwd);
    else
        NT_TRUE(b->cwd == NULL);
    if (a->place_on)
        NT_EQ_STR(a->place_on, b->place_on);
    else
        NT_TRUE(b->place_on == NULL);
    NT_EQ_INT(a->nrequire, b->nrequire);
    for (size_t i = 0; i < a->nrequire; i++) {
        NT_EQ_STR(a->require[i].key, b->require[i].key);
        NT_EQ_STR(a->require[i].value, b->require[i].value);
    }
    NT_EQ_INT(a->ready, b->ready);
    NT_EQ_INT(a->start_timeout, b->start_timeout);
    NT_EQ_INT(a->watchdog, b->watchdog);
    NT_EQ_INT(a->max_runtime, b->max_runtime);
    NT_EQ_INT(a->output, b->output);
    NT_EQ_INT(a->control, b->control);
    NT_EQ_INT(a->strategy, b->strategy);
    NT_EQ_INT(a->max_restarts, b->max_restarts);
    NT_EQ_INT(a->window_s, b->window_s);
    NT_EQ_INT(a->replicas, b->replicas);
    NT_EQ_INT(a->max_migrations, b->max_migrations);
    NT_EQ_INT(a->migration_window, b->migration_window);
    NT_EQ_INT(a->nchildren, b->nchildren);
    for (size_t i = 0; i < a->nchildren; i++)
        expect_same(&a->children[i], &b->children[i]);
}

/* pack + unpack, as the node would see it */
static Naos__V1__NodeSpec *
over_the_wire(const Naos__V1__NodeSpec *m)
{
    size_t len = naos__v1__node_spec__get_packed_size(m);
    uint8_t *buf = naos_alloc(len + 1);
    NT_EQ_INT(naos__v1__node_spec__pack(m, buf), len);
    Naos__V1__NodeSpec *u =
        naos__v1__node_spec__unpack(&spec_pb_allocator, len, buf);
    naos_free(buf);
    NT_TRUE(u != NULL);
    return u;
}

static void
test_round_trip(void)
{
    long live0 = naos_alloc_live();
    struct spec_node a;
    make_tree(&a);
    char err[256];
    NT_EQ_INT(spec_validate(&a, err, sizeof err), NAOS_OK);

    Naos__V1__NodeSpec *m = NULL;
    NT_EQ_INT(spec_pb_from_spec(&a, &m), NAOS_OK);
    NT_EQ_STR(m->id, "research");
    NT_EQ_INT(m->strategy, NAOS__V1__STRATEGY__REST_FOR_ONE);
    NT_EQ_INT(m->n_children, 2);
    NT_EQ_INT(m->children[0]->shutdown_ms, 2500);
    NT_EQ_INT(m->children[1]->children[0]->shutdown_ms, -1);
    NT_EQ_INT(m->shutdown_ms, -2);
    /* the root's migration limits; its children have the defaults, which
     * are not written */
    NT_TRUE(m->migration != NULL);
    NT_EQ_INT(m->migration->max, 7);
    NT_EQ_INT(m->migration->window_ms, 600000);
    NT_TRUE(m->children[0]->migration == NULL);
    NT_TRUE(m->children[1]->migration == NULL);

    Naos__V1__NodeSpec *u = over_the_wire(m);
    spec_pb_free(m);

    struct spec_node b;
    NT_EQ_INT(spec_pb_to_spec(u, &b, err, sizeof err), NAOS_OK);
    naos__v1__node_spec__free_unpacked(u, &spec_pb_allocator);
    expect_same(&a, &b);
    NT_EQ_INT(spec_validate(&b, err, sizeof err), NAOS_OK);

    spec_node_fini(&a);
    spec_node_fini(&b);
    NT_EQ_INT(naos_alloc_live(), live0);
}

static void
test_round_trip_pool_and_empty_cwd(void)
{
    struct spec_node a;
    spec_node_init_supervisor(&a);
    a.id = naos_strdup("pool");
    a.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    a.replicas = 8;
    a.nchildren = 1;
    a.children = naos_alloc(sizeof *a.children);
    spec_node_init(&a.children[0]);
    a.children[0].id = naos_strdup("w");
    static const char *const argv[] = {"sleep", "1"};
    a.children[0].argv = strv(argv, 2);
    a.children[0].argc = 2;

    Naos__V1__NodeSpec *m = NULL;
    NT_EQ_INT(spec_pb_from_spec(&a, &m), NAOS_OK);
    NT_EQ_INT(m->replicas, 8);
    NT_EQ_STR(m->children[0]->cwd, ""); /* no cwd travels as "" */
    Naos__V1__NodeSpec *u = over_the_wire(m);
    struct spec_node b;
    char err[256];
    NT_EQ_INT(spec_pb_to_spec(u, &b, err, sizeof err), NAOS_OK);
    NT_TRUE(b.children[0].cwd == NULL);
    NT_TRUE(b.children[0].env == NULL);
    expect_same(&a, &b);
    naos__v1__node_spec__free_unpacked(u, &spec_pb_allocator);
    spec_pb_free(m);
    spec_node_fini(&a);
    spec_node_fini(&b);
}

/* A hand-built worker message to corrupt one field at a time. */
static char *ok_argv[] = {(char *)"true"};

static Naos__V1__NodeSpec
worker_msg(void)
{
    Naos__V1__NodeSpec m = NAOS__V1__NODE_SPEC__INIT;
    m.id = (char *)"w";
    m.n_argv = 1;
    m.argv = ok_argv;
    m.shutdown_ms = 5000;
    return m;
}

static void
expect_reject(const Naos__V1__NodeSpec *m, const char *needle)
{
    long live0 = naos_alloc_live();
    struct spec_node out;
    char err[256];
    int rc = spec_pb_to_spec(m, &out, err, sizeof err);
    NT_TRUE(rc == NAOS_EINVAL || rc == NAOS_ETOOBIG);
    NT_CONTAINS(err, needle);
    NT_TRUE(out.id == NULL && out.children == NULL && out.argv == NULL);
    NT_EQ_INT(naos_alloc_live(), live0);
}

static void
test_rejects_bad_enums_and_durations(void)
{
    Naos__V1__NodeSpec m = worker_msg();
    m.strategy = (Naos__V1__Strategy)7;
    expect_reject(&m, "w: strategy: unknown value 7");
    m = worker_msg();
    m.restart = (Naos__V1__RestartType)-1;
    expect_reject(&m, "restart: unknown value");
    m = worker_msg();
    m.ready = (Naos__V1__ReadyMode)9;
    expect_reject(&m, "ready: unknown value 9");
    m = worker_msg();
    m.output = (Naos__V1__OutputMode)7;
    expect_reject(&m, "output: unknown value 7");
    m = worker_msg();
    m.control = (Naos__V1__ControlMode)3;
    expect_reject(&m, "control: unknown value 3");
    m = worker_msg();
    m.shutdown_ms = -3;
    expect_reject(&m, "shutdown: invalid value -3");
    m = worker_msg();
    m.watchdog_ms = -5;
    expect_reject(&m, "watchdog: invalid value -5");
    m = worker_msg();
    m.max_runtime_ms = INT64_MAX;
    expect_reject(&m, "max_runtime: invalid value");
    m = worker_msg();
    m.backoff_min_ms = -1;
    expect_reject(&m, "backoff.min");
    m = worker_msg();
    m.replicas = SPEC_MAX_REPLICAS + 1;
    expect_reject(&m, "replicas: more than");
}

static void
test_rejects_sizes_and_nulls(void)
{
    Naos__V1__NodeSpec m = worker_msg();
    m.n_argv = SPEC_PB_MAX_ARGV + 1; /* checked before it is read */
    expect_reject(&m, "command: more than 4096 entries");
    m = worker_msg();
    char *with_null[] = {(char *)"a", NULL};
    m.n_argv = 2;
    m.argv = with_null;
    expect_reject(&m, "command: entry 1 missing");
    m = worker_msg();
    m.n_env = SPEC_PB_MAX_ENV + 1;
    m.env = ok_argv;
    expect_reject(&m, "env: more than");
    m = worker_msg();
    m.n_children = 1;
    m.children = NULL;
    expect_reject(&m, "children: missing");

    char *big = naos_alloc(SPEC_PB_MAX_STR + 2);
    memset(big, 'x', SPEC_PB_MAX_STR + 1);
    char *bigv[] = {big};
    m = worker_msg();
    m.argv = bigv;
    expect_reject(&m, "command: longer than");
    naos_free(big);

    /* the failing child is deep inside: the message names its path and
     * the half-built tree is freed */
    Naos__V1__NodeSpec kid = worker_msg();
    kid.id = (char *)"kid";
    kid.watchdog_ms = -1;
    Naos__V1__NodeSpec *kids[] = {&kid};
    Naos__V1__NodeSpec ok = worker_msg();
    Naos__V1__NodeSpec *two[] = {&ok, &kid};
    Naos__V1__NodeSpec top = NAOS__V1__NODE_SPEC__INIT;
    top.id = (char *)"top";
    top.is_supervisor = 1;
    top.n_children = 2;
    top.children = two;
    expect_reject(&top, "top/kid: watchdog: invalid value -1");
    (void)kids;
}

/* placement.require from the wire: at most 16 labels (checked before
 * anything is allocated), each key and value within label.h's bounds, no
 * key twice, no missing entry; require alone (no on) round-trips. */
static void
test_require(void)
{
    Naos__V1__NodeLabel pl[SPEC_LABELS_MAX + 1], *pp[SPEC_LABELS_MAX + 1];
    char keys[SPEC_LABELS_MAX + 1][8];
    for (size_t i = 0; i <= SPEC_LABELS_MAX; i++) {
        naos__v1__node_label__init(&pl[i]);
        snprintf(keys[i], sizeof keys[i], "k%zu", i);
        pl[i].key = keys[i];
        pl[i].value = (char *)"v";
        pp[i] = &pl[i];
    }
    Naos__V1__Placement p = NAOS__V1__PLACEMENT__INIT;
    p.require = pp;
    p.n_require = SPEC_LABELS_MAX;
    Naos__V1__NodeSpec m = worker_msg();
    m.placement = &p;
    struct spec_node out;
    char err[256];
    NT_EQ_INT(spec_pb_to_spec(&m, &out, err, sizeof err), NAOS_OK);
    NT_EQ_INT(out.nrequire, SPEC_LABELS_MAX);
    NT_TRUE(out.place_on == NULL);
    NT_EQ_STR(out.require[15].key, "k15");
    Naos__V1__NodeSpec *back = NULL;
    NT_EQ_INT(spec_pb_from_spec(&out, &back), NAOS_OK);
    NT_TRUE(back->placement != NULL);
    NT_EQ_STR(back->placement->on, "");
    NT_EQ_INT(back->placement->n_require, SPEC_LABELS_MAX);
    NT_EQ_STR(back->placement->require[3]->key, "k3");
    NT_EQ_STR(back->placement->require[3]->value, "v");
    spec_pb_free(back);
    spec_node_fini(&out);

    p.n_require = SPEC_LABELS_MAX + 1;
    expect_reject(&m, "placement.require: more than 16 labels");
    p.n_require = 2;
    p.require = NULL;
    expect_reject(&m, "placement.require: missing entries");
    p.require = pp;
    pp[1] = NULL;
    expect_reject(&m, "placement.require: entry 1 missing");
    pp[1] = &pl[1];
    char long_key[SPEC_LABEL_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    pl[1].key = long_key;
    expect_reject(&m, "the key is longer than 63 bytes");
    pl[1].key = (char *)"k1";
    pl[1].value = (char *)"a b";
    expect_reject(&m, "placement.require: label k1=a b: the value may hold");
    pl[1].value = (char *)"v";
    pl[1].key = (char *)"k0";
    expect_reject(&m, "label k0=v: the key k0 is given twice");
}

/* Migration limits from the wire: absent (a record written before them, a
 * node below the root) reads as the defaults; the root's defaults are
 * written all the same; spec_validate, not the conversion, checks the
 * bounds and that only the root has them. */
static void
test_migration(void)
{
    Naos__V1__NodeSpec w = worker_msg();
    Naos__V1__NodeSpec *kids[] = {&w};
    Naos__V1__NodeSpec top = NAOS__V1__NODE_SPEC__INIT;
    top.id = (char *)"top";
    top.is_supervisor = 1;
    top.shutdown_ms = SPEC_SHUTDOWN_INFINITY;
    top.max_restarts = 5;
    top.window_s = 300;
    top.n_children = 1;
    top.children = kids;
    struct spec_node out;
    char err[256];
    NT_EQ_INT(spec_pb_to_spec(&top, &out, err, sizeof err), NAOS_OK);
    NT_EQ_INT(out.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(out.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    NT_EQ_INT(out.children[0].max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(out.children[0].migration_window,
              SPEC_MIGRATION_WINDOW_DEFAULT);
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_OK);
    Naos__V1__NodeSpec *back = NULL;
    NT_EQ_INT(spec_pb_from_spec(&out, &back), NAOS_OK);
    NT_TRUE(back->migration != NULL);
    NT_EQ_INT(back->migration->max, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(back->migration->window_ms, SPEC_MIGRATION_WINDOW_DEFAULT);
    NT_TRUE(back->children[0]->migration == NULL);
    spec_pb_free(back);
    spec_node_fini(&out);

    /* 0 moves, 1 s, over the wire */
    Naos__V1__Migration mg = NAOS__V1__MIGRATION__INIT;
    mg.max = 0;
    mg.window_ms = 1000;
    top.migration = &mg;
    Naos__V1__NodeSpec *u = over_the_wire(&top);
    NT_EQ_INT(spec_pb_to_spec(u, &out, err, sizeof err), NAOS_OK);
    naos__v1__node_spec__free_unpacked(u, &spec_pb_allocator);
    NT_EQ_INT(out.max_migrations, 0);
    NT_EQ_INT(out.migration_window, 1000);
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_OK);
    spec_node_fini(&out);

    /* out of bounds: converted, then refused by spec_validate */
    mg.max = SPEC_MIGRATIONS_MAX + 1;
    NT_EQ_INT(spec_pb_to_spec(&top, &out, err, sizeof err), NAOS_OK);
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "top: migration: max: must be at most 100, got 101");
    spec_node_fini(&out);
    mg.max = 1;
    mg.window_ms = 999;
    NT_EQ_INT(spec_pb_to_spec(&top, &out, err, sizeof err), NAOS_OK);
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "top: migration: window:");
    spec_node_fini(&out);
    mg.window_ms = -1;
    expect_reject(&top, "top: migration.window: invalid value -1 ms");
    /* on a child: converted, refused by spec_validate */
    mg.window_ms = 60000;
    top.migration = NULL;
    w.migration = &mg;
    NT_EQ_INT(spec_pb_to_spec(&top, &out, err, sizeof err), NAOS_OK);
    NT_EQ_INT(out.children[0].max_migrations, 1);
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "top/w: migration: only a deployment (the root)");
    spec_node_fini(&out);
}

static void
test_rejects_depth(void)
{
    enum { N = SPEC_MAX_DEPTH + 2 };
    Naos__V1__NodeSpec nodes[N];
    Naos__V1__NodeSpec *links[N];
    for (int i = 0; i < N; i++) {
        Naos__V1__NodeSpec m = NAOS__V1__NODE_SPEC__INIT;
        nodes[i] = m;
        nodes[i].id = (char *)"s";
        nodes[i].is_supervisor = 1;
        links[i] = &nodes[i];
        if (i > 0) {
            nodes[i - 1].n_children = 1;
            nodes[i - 1].children = &links[i];
        }
    }
    expect_reject(&nodes[0], "tree deeper than 32 levels");
    /* exactly SPEC_MAX_DEPTH levels convert */
    nodes[SPEC_MAX_DEPTH - 1].n_children = 0;
    struct spec_node out;
    char err[256];
    NT_EQ_INT(spec_pb_to_spec(&nodes[0], &out, err, sizeof err), NAOS_OK);
    spec_node_fini(&out);

    struct spec_node deep;
    NT_EQ_INT(spec_pb_to_spec(NULL, &deep, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "spec: missing");
}

static void
test_null_strings_from_hand_built_messages(void)
{
    Naos__V1__NodeSpec m = worker_msg();
    m.id = NULL;
    m.cwd = NULL;
    struct spec_node out;
    char err[256];
    NT_EQ_INT(spec_pb_to_spec(&m, &out, err, sizeof err), NAOS_OK);
    NT_EQ_STR(out.id, "");
    NT_TRUE(out.cwd == NULL);
    /* and spec_validate is what rejects the empty id */
    NT_EQ_INT(spec_validate(&out, err, sizeof err), NAOS_EINVAL);
    spec_node_fini(&out);
}

static void
test_out_of_memory_everywhere(void)
{
    struct spec_node a;
    make_tree(&a);
    long live0 = naos_alloc_live();
    int failures = 0;
    for (long n = 0;; n++) {
        Naos__V1__NodeSpec *m = NULL;
        naos_alloc_fail_after(n);
        int rc = spec_pb_from_spec(&a, &m);
        naos_alloc_fail_after(-1);
        if (rc == NAOS_OK) {
            spec_pb_free(m);
            break;
        }
        NT_EQ_INT(rc, NAOS_ENOMEM);
        NT_TRUE(m == NULL);
        NT_EQ_INT(naos_alloc_live(), live0);
        failures++;
    }
    NT_TRUE(failures > 10);

    Naos__V1__NodeSpec *m = NULL;
    NT_EQ_INT(spec_pb_from_spec(&a, &m), NAOS_OK);
    live0 = naos_alloc_live();
    failures = 0;
    for (long n = 0;; n++) {
        struct spec_node b;
        char err[128];
        naos_alloc_fail_after(n);
        int rc = spec_pb_to_spec(m, &b, err, sizeof err);
        naos_alloc_fail_after(-1);
        if (rc == NAOS_OK) {
            expect_same(&a, &b);
            spec_node_fini(&b);
            break;
        }
        NT_EQ_INT(rc, NAOS_ENOMEM);
        NT_CONTAINS(err, "out of memory");
        NT_EQ_INT(naos_alloc_live(), live0);
        failures++;
    }
    NT_TRUE(failures > 10);
    spec_pb_free(m);
    spec_node_fini(&a);
}

/* ---- strings cut at a NUL ---------------------------------------------- */

/* pack_request packs r into a naos_alloc'd buffer; *len gets its size. */
static uint8_t *
pack_request(const Naos__V1__Request *r, size_t *len)
{
    *len = naos__v1__request__get_packed_size(r);
    uint8_t *buf = naos_alloc(*len + 1);
    NT_EQ_INT(naos__v1__request__pack(r, buf), *len);
    return buf;
}

/* nul_at finds the string s in the packed bytes and turns its `X` into a
 * NUL, the way a hostile client writes "ok\0junk". */
static void
nul_at(uint8_t *buf, size_t len, const char *s)
{
    uint8_t *at = memmem(buf, len, s, strlen(s));
    NT_TRUE(at != NULL);
    at[strchr(s, 'X') - s] = '\0';
}

static void
test_nul_in_strings_is_seen(void)
{
    long live0 = naos_alloc_live();
    /* rm "okXjunk" with the X made a NUL: protobuf-c reads "ok". */
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = "okXjunk";
    Naos__V1__Request r = NAOS__V1__REQUEST__INIT;
    r.req_case = NAOS__V1__REQUEST__REQ_REMOVE;
    r.remove = &nr;
    size_t len;
    uint8_t *buf = pack_request(&r, &len);
    Naos__V1__Request *u =
        naos__v1__request__unpack(&spec_pb_allocator, len, buf);
    NT_TRUE(u != NULL);
    NT_TRUE(spec_pb_unpacked_intact(&u->base, len)); /* as sent: fine */
    naos__v1__request__free_unpacked(u, &spec_pb_allocator);
    nul_at(buf, len, "okXjunk");
    u = naos__v1__request__unpack(&spec_pb_allocator, len, buf);
    NT_TRUE(u != NULL);
    NT_EQ_STR(u->remove->name, "ok"); /* what the node would act on */
    NT_FALSE(spec_pb_unpacked_intact(&u->base, len));
    naos__v1__request__free_unpacked(u, &spec_pb_allocator);
    naos_free(buf);

    /* The same deep inside a deploy: the name, an argv entry, an env
     * entry, the cwd of a worker two levels down. */
    static const char *const where[] = {"resXearch", "scrXaper", "A=bXc",
                                        "/srv/X/etc"};
    for (int k = 0; k < 4; k++) {
        struct spec_node a;
        make_tree(&a);
        struct spec_node *w = &a.children[1].children[0];
        if (k == 0) {
            naos_free(a.id);
            a.id = naos_strdup(where[k]);
        } else if (k == 1) {
            naos_free(w->argv[2]);
            w->argv[2] = naos_strdup(where[k]);
        } else if (k == 2) {
            const char *const e[] = {where[k]};
            w->env = strv(e, 1);
            w->envc = 1;
        } else {
            w->cwd = naos_strdup(where[k]);
        }
        Naos__V1__NodeSpec *m = NULL;
        NT_EQ_INT(spec_pb_from_spec(&a, &m), NAOS_OK);
        Naos__V1__DeployRequest dr = NAOS__V1__DEPLOY_REQUEST__INIT;
        dr.spec = m;
        r = (Naos__V1__Request)NAOS__V1__REQUEST__INIT;
        r.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
        r.deploy = &dr;
        buf = pack_request(&r, &len);
        nul_at(buf, len, where[k]);
        u = naos__v1__request__unpack(&spec_pb_allocator, len, buf);
        NT_TRUE(u != NULL);
        if (spec_pb_unpacked_intact(&u->base, len))
            NT_FAIL("a NUL in the %s went unseen", where[k]);
        naos__v1__request__free_unpacked(u, &spec_pb_allocator);
        naos_free(buf);
        spec_pb_free(m);
        spec_node_fini(&a);
    }
    NT_EQ_INT(naos_alloc_live(), live0);
}

static void
test_intact_what_it_refuses_and_keeps(void)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = "ok";
    Naos__V1__Request r = NAOS__V1__REQUEST__INIT;
    r.req_case = NAOS__V1__REQUEST__REQ_REMOVE;
    r.remove = &nr;
    size_t len;
    uint8_t *buf = pack_request(&r, &len);
    uint8_t more[64];
    NT_TRUE(len + 4 <= sizeof more);
    /* A field this version does not know (number 100, varint 1) is kept
     * and packed again: a newer client is not refused for it. */
    memcpy(more, buf, len);
    more[len] = 0xa0; /* (100 << 3) | 0, as a two-byte varint */
    more[len + 1] = 0x06;
    more[len + 2] = 0x01;
    Naos__V1__Request *u =
        naos__v1__request__unpack(&spec_pb_allocator, len + 3, more);
    NT_TRUE(u != NULL);
    NT_TRUE(spec_pb_unpacked_intact(&u->base, len + 3));
    naos__v1__request__free_unpacked(u, &spec_pb_allocator);
    /* The price: a non-canonical encoding (the name field sent twice, the
     * last one winning) is refused too. */
    memcpy(more, buf, len);
    memcpy(more + len, buf, len);
    u = naos__v1__request__unpack(&spec_pb_allocator, 2 * len, more);
    NT_TRUE(u != NULL);
    NT_FALSE(spec_pb_unpacked_intact(&u->base, 2 * len));
    naos__v1__request__free_unpacked(u, &spec_pb_allocator);
    NT_FALSE(spec_pb_unpacked_intact(NULL, 0));
    naos_free(buf);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_round_trip),
        NT_CASE(test_nul_in_strings_is_seen),
        NT_CASE(test_intact_what_it_refuses_and_keeps),
        NT_CASE(test_round_trip_pool_and_empty_cwd),
        NT_CASE(test_rejects_bad_enums_and_durations),
        NT_CASE(test_rejects_sizes_and_nulls),
        NT_CASE(test_rejects_depth),
        NT_CASE(test_require),
        NT_CASE(test_migration),
        NT_CASE(test_null_strings_from_hand_built_messages),
        NT_CASE(test_out_of_memory_everywhere),
        {0},
    };
    return nt_run(cases);
}
