/* SPDX-License-Identifier: Apache-2.0 */
/* spec_test.c: defaults, name/parse helpers, validation rules, deep copy
 * and freeing of the spec tree. */
#include <stdarg.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/spec/spec.h"

/* ---- tree building helpers (all memory through naos_alloc) ---- */

static char **
strv(int n, va_list ap)
{
    char **v = naos_alloc((size_t)(n + 1) * sizeof(char *));
    NT_TRUE(v != NULL);
    for (int i = 0; i < n; i++) {
        v[i] = naos_strdup(va_arg(ap, const char *));
        NT_TRUE(v[i] != NULL);
    }
    return v;
}

static void
set_argv(struct spec_node *n, int argc, ...)
{
    va_list ap;
    va_start(ap, argc);
    n->argv = strv(argc, ap);
    n->argc = (size_t)argc;
    va_end(ap);
}

static void
set_env(struct spec_node *n, int envc, ...)
{
    va_list ap;
    va_start(ap, envc);
    n->env = strv(envc, ap);
    n->envc = (size_t)envc;
    va_end(ap);
}

static struct spec_node
worker(const char *id)
{
    struct spec_node n;
    spec_node_init(&n);
    n.id = naos_strdup(id);
    set_argv(&n, 2, "python3", "run.py");
    return n;
}

static struct spec_node
sup(const char *id)
{
    struct spec_node n;
    spec_node_init_supervisor(&n);
    n.id = naos_strdup(id);
    return n;
}

/* add moves c into parent's children. */
static struct spec_node *
add(struct spec_node *parent, struct spec_node c)
{
    struct spec_node *nc = naos_realloc(
        parent->children, (parent->nchildren + 1) * sizeof *nc);
    NT_TRUE(nc != NULL);
    parent->children = nc;
    nc[parent->nchildren] = c;
    return &nc[parent->nchildren++];
}

/* research (rest-for-one) -> fetcher, tools (one-for-one) -> scraper */
static struct spec_node
research(void)
{
    struct spec_node r = sup("research");
    r.strategy = SPEC_REST_FOR_ONE;
    r.max_restarts = 5;
    r.window_s = 300;
    struct spec_node *f = add(&r, worker("fetcher"));
    set_env(f, 2, "KEY=value", "EMPTY=");
    f->cwd = naos_strdup("/srv/agents");
    f->ready = SPEC_READY_NOTIFY;
    f->watchdog = 30000;
    f->max_runtime = 3600000;
    f->backoff_min = 1000;
    f->backoff_max = 30000;
    f->restart = SPEC_TRANSIENT;
    struct spec_node *t = add(&r, sup("tools"));
    t->max_restarts = 3;
    t->window_s = 60;
    add(t, worker("scraper"));
    return r;
}

static char errbuf[4096];

/* expect_invalid validates root, expecting NAOS_EINVAL and every needle in
 * the message; then frees root. */
static void
expect_invalid(struct spec_node *root, const char *needle1,
               const char *needle2)
{
    errbuf[0] = '\0';
    int rv = spec_validate(root, errbuf, sizeof errbuf);
    if (rv != NAOS_EINVAL)
        NT_FAIL("expected NAOS_EINVAL, got %d (wanted \"%s\")", rv, needle1);
    NT_CONTAINS(errbuf, needle1);
    if (needle2)
        NT_CONTAINS(errbuf, needle2);
    spec_node_fini(root);
}

static void
expect_valid(struct spec_node *root)
{
    errbuf[0] = '\0';
    int rv = spec_validate(root, errbuf, sizeof errbuf);
    if (rv != NAOS_OK)
        NT_FAIL("expected valid, got %d: %s", rv, errbuf);
    spec_node_fini(root);
}

/* ---- defaults ---- */

static void
test_defaults_worker(void)
{
    struct spec_node n;
    memset(&n, 0x5a, sizeof n);
    spec_node_init(&n);
    NT_FALSE(n.is_supervisor);
    NT_TRUE(n.id == NULL);
    NT_EQ_INT(n.restart, SPEC_PERMANENT);
    NT_EQ_INT(n.shutdown, 5000);
    NT_EQ_INT(n.shutdown, SPEC_DEFAULT_SHUTDOWN_MS);
    NT_EQ_INT(n.backoff_min, 0);
    NT_EQ_INT(n.backoff_max, 0);
    NT_TRUE(n.argv == NULL);
    NT_EQ_INT(n.argc, 0);
    NT_TRUE(n.env == NULL);
    NT_EQ_INT(n.envc, 0);
    NT_TRUE(n.cwd == NULL);
    NT_EQ_INT(n.ready, SPEC_READY_EXEC);
    NT_EQ_INT(n.start_timeout, 30000);
    NT_EQ_INT(n.watchdog, 0);
    NT_EQ_INT(n.max_runtime, 0);
    NT_EQ_INT(n.replicas, 0);
    NT_TRUE(n.children == NULL);
    NT_EQ_INT(n.nchildren, 0);
    NT_EQ_INT(n.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(n.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    spec_node_fini(&n);
}

static void
test_defaults_supervisor(void)
{
    struct spec_node n;
    memset(&n, 0x5a, sizeof n);
    spec_node_init_supervisor(&n);
    NT_TRUE(n.is_supervisor);
    NT_TRUE(n.id == NULL);
    NT_EQ_INT(n.strategy, SPEC_ONE_FOR_ONE);
    NT_EQ_INT(n.max_restarts, 5);
    NT_EQ_INT(n.window_s, 300);
    NT_EQ_INT(n.shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(n.restart, SPEC_PERMANENT);
    NT_EQ_INT(n.replicas, 0);
    NT_EQ_INT(n.backoff_min, 0);
    NT_EQ_INT(n.backoff_max, 0);
    NT_TRUE(n.argv == NULL);
    NT_TRUE(n.env == NULL);
    NT_TRUE(n.cwd == NULL);
    NT_TRUE(n.children == NULL);
    NT_EQ_INT(n.nchildren, 0);
    NT_EQ_INT(n.watchdog, 0);
    NT_EQ_INT(n.max_runtime, 0);
    NT_EQ_INT(n.max_migrations, 3);
    NT_EQ_INT(n.migration_window, 3600 * 1000);
    spec_node_fini(&n);
}

/* ---- names and parsing ---- */

static void
test_names_round_trip(void)
{
    for (int s = SPEC_ONE_FOR_ONE; s <= SPEC_SIMPLE_ONE_FOR_ONE; s++) {
        enum spec_strategy out = (enum spec_strategy)99;
        NT_TRUE(spec_strategy_parse(spec_strategy_name(s), &out));
        NT_EQ_INT(out, s);
    }
    for (int r = SPEC_PERMANENT; r <= SPEC_TEMPORARY; r++) {
        enum spec_restart out = (enum spec_restart)99;
        NT_TRUE(spec_restart_parse(spec_restart_name(r), &out));
        NT_EQ_INT(out, r);
    }
    for (int r = SPEC_READY_EXEC; r <= SPEC_READY_NOTIFY; r++) {
        enum spec_ready out = (enum spec_ready)99;
        NT_TRUE(spec_ready_parse(spec_ready_name(r), &out));
        NT_EQ_INT(out, r);
    }
    NT_EQ_STR(spec_strategy_name(SPEC_ONE_FOR_ONE), "one-for-one");
    NT_EQ_STR(spec_strategy_name(SPEC_ONE_FOR_ALL), "one-for-all");
    NT_EQ_STR(spec_strategy_name(SPEC_REST_FOR_ONE), "rest-for-one");
    NT_EQ_STR(spec_strategy_name(SPEC_SIMPLE_ONE_FOR_ONE),
              "simple-one-for-one");
    NT_EQ_STR(spec_restart_name(SPEC_PERMANENT), "permanent");
    NT_EQ_STR(spec_restart_name(SPEC_TRANSIENT), "transient");
    NT_EQ_STR(spec_restart_name(SPEC_TEMPORARY), "temporary");
    NT_EQ_STR(spec_ready_name(SPEC_READY_EXEC), "exec");
    NT_EQ_STR(spec_ready_name(SPEC_READY_NOTIFY), "notify");
    NT_EQ_STR(spec_strategy_name((enum spec_strategy)42), "unknown");
    NT_EQ_STR(spec_restart_name((enum spec_restart)42), "unknown");
    NT_EQ_STR(spec_ready_name((enum spec_ready)42), "unknown");
    NT_EQ_STR(spec_output_name(SPEC_OUTPUT_LOG), "log");
    NT_EQ_STR(spec_output_name(SPEC_OUTPUT_DISCARD), "discard");
    NT_EQ_STR(spec_output_name((enum spec_output)42), "unknown");
    enum spec_output o = SPEC_OUTPUT_LOG;
    NT_TRUE(spec_output_parse("discard", &o));
    NT_EQ_INT(o, SPEC_OUTPUT_DISCARD);
    NT_FALSE(spec_output_parse("Discard", &o));
    NT_FALSE(spec_output_parse(NULL, &o));
    NT_EQ_INT(o, SPEC_OUTPUT_DISCARD);
    NT_EQ_STR(spec_control_name(SPEC_CONTROL_NONE), "none");
    NT_EQ_STR(spec_control_name(SPEC_CONTROL_FULL), "full");
    NT_EQ_STR(spec_control_name((enum spec_control)42), "unknown");
    enum spec_control c = SPEC_CONTROL_NONE;
    NT_TRUE(spec_control_parse("full", &c));
    NT_EQ_INT(c, SPEC_CONTROL_FULL);
    NT_TRUE(spec_control_parse("none", &c));
    NT_EQ_INT(c, SPEC_CONTROL_NONE);
    NT_FALSE(spec_control_parse("all", &c));
    NT_FALSE(spec_control_parse("Full", &c));
    NT_FALSE(spec_control_parse(NULL, &c));
    NT_EQ_INT(c, SPEC_CONTROL_NONE);
}

static void
test_strategy_parse(void)
{
    enum spec_strategy s = SPEC_ONE_FOR_ONE;
    NT_TRUE(spec_strategy_parse("one_for_all", &s));
    NT_EQ_INT(s, SPEC_ONE_FOR_ALL);
    NT_TRUE(spec_strategy_parse("one_for_one", &s));
    NT_EQ_INT(s, SPEC_ONE_FOR_ONE);
    NT_TRUE(spec_strategy_parse("rest_for_one", &s));
    NT_EQ_INT(s, SPEC_REST_FOR_ONE);
    NT_TRUE(spec_strategy_parse("simple_one_for_one", &s));
    NT_EQ_INT(s, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_TRUE(spec_strategy_parse("rest-for-one", &s));
    NT_EQ_INT(s, SPEC_REST_FOR_ONE);

    s = SPEC_ONE_FOR_ALL;
    static const char *const bad[] = {"",           "one",
                                      "one-for-on", "one-for-one ",
                                      "One-For-One", "one for one",
                                      "simple",     "one-for-onex",
                                      "rest.for.one"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (spec_strategy_parse(bad[i], &s))
            NT_FAIL("accepted strategy \"%s\"", bad[i]);
    }
    NT_FALSE(spec_strategy_parse(NULL, &s));
    NT_EQ_INT(s, SPEC_ONE_FOR_ALL); /* untouched on failure */
}

static void
test_restart_ready_parse(void)
{
    enum spec_restart r = SPEC_PERMANENT;
    NT_TRUE(spec_restart_parse("transient", &r));
    NT_EQ_INT(r, SPEC_TRANSIENT);
    NT_TRUE(spec_restart_parse("temporary", &r));
    NT_EQ_INT(r, SPEC_TEMPORARY);
    NT_TRUE(spec_restart_parse("permanent", &r));
    NT_EQ_INT(r, SPEC_PERMANENT);
    NT_FALSE(spec_restart_parse("sometimes", &r));
    NT_FALSE(spec_restart_parse("", &r));
    NT_FALSE(spec_restart_parse("Permanent", &r));
    NT_FALSE(spec_restart_parse(NULL, &r));
    NT_EQ_INT(r, SPEC_PERMANENT);

    enum spec_ready y = SPEC_READY_EXEC;
    NT_TRUE(spec_ready_parse("notify", &y));
    NT_EQ_INT(y, SPEC_READY_NOTIFY);
    NT_TRUE(spec_ready_parse("exec", &y));
    NT_EQ_INT(y, SPEC_READY_EXEC);
    NT_FALSE(spec_ready_parse("notified", &y));
    NT_FALSE(spec_ready_parse("", &y));
    NT_FALSE(spec_ready_parse(NULL, &y));
    NT_EQ_INT(y, SPEC_READY_EXEC);
}

static void
test_shutdown_parse(void)
{
    naos_duration d = 0;
    NT_TRUE(spec_shutdown_parse("kill", &d));
    NT_EQ_INT(d, SPEC_SHUTDOWN_KILL);
    d = 0;
    NT_TRUE(spec_shutdown_parse("brutal_kill", &d));
    NT_EQ_INT(d, SPEC_SHUTDOWN_KILL);
    NT_TRUE(spec_shutdown_parse("infinity", &d));
    NT_EQ_INT(d, SPEC_SHUTDOWN_INFINITY);
    NT_TRUE(spec_shutdown_parse("5s", &d));
    NT_EQ_INT(d, 5000);
    NT_TRUE(spec_shutdown_parse("500ms", &d));
    NT_EQ_INT(d, 500);
    NT_TRUE(spec_shutdown_parse("30", &d));
    NT_EQ_INT(d, 30000);
    NT_TRUE(spec_shutdown_parse("0", &d));
    NT_EQ_INT(d, 0);
    NT_TRUE(spec_shutdown_parse("1.5s", &d));
    NT_EQ_INT(d, 1500);

    d = 77;
    static const char *const bad[] = {
        "",    "-1s", "-5",  "nan", "inf",  "infinite", "1e3", "0x10",
        "kil", "Kill", "5 s", "5x", "s",   "1.2.3s",   " 5s", "+5s",
        ".5s", "5S",  "nans"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (spec_shutdown_parse(bad[i], &d))
            NT_FAIL("accepted shutdown \"%s\"", bad[i]);
    }
    NT_FALSE(spec_shutdown_parse(NULL, &d));
    NT_EQ_INT(d, 77);
}

static void
test_id_is_valid(void)
{
    char id63[64], id64[65];
    memset(id63, 'a', 63);
    id63[63] = '\0';
    memset(id64, 'b', 64);
    id64[64] = '\0';
    NT_TRUE(spec_id_is_valid("a"));
    NT_TRUE(spec_id_is_valid("Fetcher-01_v2.3"));
    NT_TRUE(spec_id_is_valid("..."));
    NT_TRUE(spec_id_is_valid(".hidden"));
    NT_TRUE(spec_id_is_valid(id63));
    NT_FALSE(spec_id_is_valid(id64));
    NT_FALSE(spec_id_is_valid(NULL));
    NT_FALSE(spec_id_is_valid(""));
    NT_FALSE(spec_id_is_valid("."));
    NT_FALSE(spec_id_is_valid(".."));
    NT_FALSE(spec_id_is_valid("a b"));
    NT_FALSE(spec_id_is_valid("a/b"));
    NT_FALSE(spec_id_is_valid("a:b"));
    NT_FALSE(spec_id_is_valid("caf\xc3\xa9"));
    NT_FALSE(spec_id_is_valid("tab\t"));
}

/* ---- validation ---- */

static void
test_validate_good(void)
{
    long base = naos_alloc_live();
    struct spec_node r = research();
    expect_valid(&r);

    /* A pool: simple-one-for-one with one worker template. */
    struct spec_node p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = 4;
    add(&p, worker("w"));
    expect_valid(&p);

    p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = SPEC_MAX_REPLICAS;
    add(&p, worker("w"));
    expect_valid(&p);

    /* Shutdown kill / infinity / 0 on workers; intensity 0. */
    r = research();
    r.max_restarts = 0;
    r.children[0].shutdown = SPEC_SHUTDOWN_KILL;
    r.children[1].children[0].shutdown = SPEC_SHUTDOWN_INFINITY;
    expect_valid(&r);
    r = research();
    r.children[0].shutdown = 0;
    r.children[0].backoff_min = r.children[0].backoff_max = 2000;
    r.children[0].ready = SPEC_READY_EXEC;
    r.children[0].start_timeout = 0;
    expect_valid(&r);

    /* Exactly SPEC_MAX_DEPTH levels. */
    struct spec_node top = sup("d1");
    struct spec_node *cur = &top;
    for (int i = 2; i < SPEC_MAX_DEPTH; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        cur = add(cur, sup(id));
    }
    add(cur, worker("leaf"));
    expect_valid(&top);

    NT_EQ_INT(naos_alloc_live(), base);
}

static void
test_validate_root(void)
{
    struct spec_node r = worker("solo");
    expect_invalid(&r, "solo: supervisor:", "root of a deployment");

    r = research();
    naos_free(r.id);
    r.id = naos_strdup("bad name");
    expect_invalid(&r, "id: invalid deployment name \"bad name\"", NULL);

    r = research();
    naos_free(r.id);
    r.id = NULL;
    expect_invalid(&r, "id: invalid deployment name", "empty");

    r = sup("lonely");
    expect_invalid(&r, "lonely: children: a supervisor needs at least one "
                       "child",
                   NULL);
}

static void
test_validate_ids(void)
{
    struct spec_node r = research();
    naos_free(r.children[1].children[0].id);
    r.children[1].children[0].id = naos_strdup("..");
    expect_invalid(&r, "research/tools: children[0].id: invalid id \"..\"",
                   NULL);

    r = research();
    naos_free(r.children[0].id);
    r.children[0].id = NULL;
    expect_invalid(&r, "research: children[0].id: invalid id", "empty");

    r = research();
    add(&r, worker("fetcher"));
    expect_invalid(&r, "research: children[2].id: duplicate id \"fetcher\"",
                   NULL);

    /* Wide supervisor: the sorted path reports the first repeat. */
    r = sup("wide");
    for (int i = 0; i < 100; i++) {
        char id[16];
        snprintf(id, sizeof id, "w%d", i % 70 == 69 ? 5 : i);
        add(&r, worker(id));
    }
    expect_invalid(&r, "wide: children[69].id: duplicate id \"w5\"", NULL);

    /* Same ids in different subtrees are fine. */
    r = research();
    naos_free(r.children[1].children[0].id);
    r.children[1].children[0].id = naos_strdup("fetcher");
    expect_valid(&r);
}

static void
test_validate_worker(void)
{
    struct spec_node r = research();
    struct spec_node *s = &r.children[1].children[0];
    naos_free(s->argv[0]);
    naos_free(s->argv[1]);
    naos_free(s->argv);
    s->argv = NULL;
    s->argc = 0;
    expect_invalid(&r, "research/tools/scraper: command: must not be empty",
                   NULL);

    r = research();
    s = &r.children[1].children[0];
    s->argv[0][0] = '\0';
    expect_invalid(&r, "research/tools/scraper: command:", "argv[0]");

    r = research();
    s = &r.children[1].children[0];
    naos_free(s->argv[1]);
    s->argv[1] = NULL;
    expect_invalid(&r, "research/tools/scraper: command: argv[1] is NULL",
                   NULL);

    r = research();
    s = &r.children[1].children[0];
    s->argc = 1; /* argv[1] is not NULL: not terminated at argc */
    NT_EQ_INT(spec_validate(&r, errbuf, sizeof errbuf), NAOS_EINVAL);
    NT_CONTAINS(errbuf, "research/tools/scraper: command:");
    NT_CONTAINS(errbuf, "NULL-terminated");
    s->argc = 2;
    spec_node_fini(&r);

    r = research();
    add(&r.children[0], worker("sub"));
    expect_invalid(&r, "research/fetcher: children:",
                   "a worker cannot have children");

    r = research();
    naos_free(r.children[0].env[0]);
    r.children[0].env[0] = naos_strdup("NOEQUALS");
    expect_invalid(&r, "research/fetcher: env:", "NOEQUALS");

    r = research();
    naos_free(r.children[0].env[1]);
    r.children[0].env[1] = naos_strdup("=value");
    expect_invalid(&r, "research/fetcher: env:", "not KEY=VALUE");

    r = research();
    r.children[0].cwd[0] = '\0';
    expect_invalid(&r, "research/fetcher: cwd: must not be empty", NULL);

    r = research();
    r.children[0].start_timeout = 0; /* ready is notify */
    expect_invalid(&r, "research/fetcher: start_timeout:", "positive");

    r = research();
    r.children[0].replicas = 2;
    expect_invalid(&r, "research/fetcher: replicas:", "simple-one-for-one");

    r = research();
    r.children[0].restart = (enum spec_restart)9;
    expect_invalid(&r, "research/fetcher: restart:", "unknown");

    r = research();
    r.children[0].ready = (enum spec_ready)9;
    expect_invalid(&r, "research/fetcher: ready:", "unknown");

    r = research();
    r.children[0].output = (enum spec_output)9;
    expect_invalid(&r, "research/fetcher: output:", "unknown");
}

static void
test_validate_durations(void)
{
    struct spec_node r = research();
    r.children[0].shutdown = -7;
    expect_invalid(&r, "research/fetcher: shutdown: must not be negative",
                   NULL);
    r = research();
    r.children[0].watchdog = -1;
    expect_invalid(&r, "research/fetcher: watchdog: must not be negative",
                   NULL);
    r = research();
    r.children[0].max_runtime = -1;
    expect_invalid(&r, "research/fetcher: max_runtime:", "negative");
    r = research();
    r.children[0].start_timeout = -1;
    expect_invalid(&r, "research/fetcher: start_timeout:", "negative");
    r = research();
    r.children[0].backoff_min = -1;
    expect_invalid(&r, "research/fetcher: backoff:", "negative");
    r = research();
    r.children[0].backoff_min = 5000;
    r.children[0].backoff_max = 1000;
    expect_invalid(&r, "research/fetcher: backoff:", "must not exceed max");
    r = research();
    r.children[0].backoff_min = 0;
    expect_invalid(&r, "research/fetcher: backoff:", "both");
    r = research();
    r.children[0].backoff_max = 0;
    expect_invalid(&r, "research/fetcher: backoff:", "both");
    r = research();
    r.children[1].backoff_min = -3;
    r.children[1].backoff_max = -3;
    expect_invalid(&r, "research/tools: backoff:", "negative");
}

static void
test_validate_supervisor(void)
{
    struct spec_node r = research();
    r.children[1].window_s = 0;
    expect_invalid(&r, "research/tools: window: must be at least 1s", NULL);

    r = research();
    r.children[1].shutdown = 5000;
    expect_invalid(&r, "research/tools: shutdown:", "infinity");
    r = research();
    r.children[1].shutdown = SPEC_SHUTDOWN_KILL;
    expect_invalid(&r, "research/tools: shutdown:", "orphan");
    r = research();
    r.shutdown = 1000;
    expect_invalid(&r, "research: shutdown:", "infinity");

    r = research();
    set_argv(&r.children[1], 1, "sh");
    expect_invalid(&r, "research/tools: command:", "no command");

    r = research();
    set_env(&r.children[1], 1, "A=b");
    expect_invalid(&r, "research/tools: env:", "only a worker");
    r = research();
    r.children[1].cwd = naos_strdup("/tmp");
    expect_invalid(&r, "research/tools: cwd:", "only a worker");
    r = research();
    r.children[1].watchdog = 1000;
    expect_invalid(&r, "research/tools: watchdog:", "only a worker");
    r = research();
    r.children[1].max_runtime = 1000;
    expect_invalid(&r, "research/tools: max_runtime:", "only a worker");
    r = research();
    r.children[1].ready = SPEC_READY_NOTIFY;
    expect_invalid(&r, "research/tools: ready:", "only a worker");
    r = research();
    r.children[1].output = SPEC_OUTPUT_DISCARD;
    expect_invalid(&r, "research/tools: output:", "only a worker");
    r = research();
    r.children[1].control = SPEC_CONTROL_FULL;
    expect_invalid(&r, "research/tools: control:", "only a worker");
    r = research();
    r.children[0].control = (enum spec_control)5;
    expect_invalid(&r, "research/fetcher: control:", "unknown value 5");

    r = research();
    r.children[1].strategy = (enum spec_strategy)7;
    expect_invalid(&r, "research/tools: strategy:", "unknown");

    r = research();
    spec_node_fini(&r.children[1].children[0]);
    naos_free(r.children[1].children);
    r.children[1].children = NULL;
    r.children[1].nchildren = 0;
    expect_invalid(&r, "research/tools: children: a supervisor needs at "
                       "least one child",
                   NULL);

    r = research();
    r.replicas = 3;
    expect_invalid(&r, "research: replicas:", "simple-one-for-one");
}

static void
test_validate_pool(void)
{
    struct spec_node p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = 2;
    add(&p, worker("a"));
    add(&p, worker("b"));
    expect_invalid(&p, "pool: children:", "exactly one child");

    p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = 2;
    struct spec_node *t = add(&p, sup("t"));
    add(t, worker("x"));
    expect_invalid(&p, "pool: children[0]:", "must be a worker");

    p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = 0;
    add(&p, worker("a"));
    expect_invalid(&p, "pool: replicas:", "between 1 and 10000 ");

    p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = SPEC_MAX_REPLICAS + 1;
    add(&p, worker("a"));
    expect_invalid(&p, "pool: replicas:", "between 1 and 10000 ");
    /* The 100,000 replicas. */
    p = sup("pool");
    p.strategy = SPEC_SIMPLE_ONE_FOR_ONE;
    p.replicas = 100000;
    add(&p, worker("a"));
    expect_invalid(&p, "pool: replicas:", "(got 100000)");
}

/* wide gives s n worker children w0..w(n-1), built in place (one realloc
 * per child would be slow). */
static void
wide(struct spec_node *s, size_t n)
{
    s->children = naos_alloc(n * sizeof *s->children);
    NT_TRUE(s->children != NULL);
    s->nchildren = n;
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "w%zu", i);
        spec_node_init(&s->children[i]);
        s->children[i].id = naos_strdup(id);
        set_argv(&s->children[i], 1, "true");
    }
}

static void
test_validate_limits(void)
{
    /* SPEC_MAX_DEPTH + 1 levels. */
    struct spec_node top = sup("d1");
    struct spec_node *cur = &top;
    for (int i = 2; i <= SPEC_MAX_DEPTH; i++) {
        char id[16];
        snprintf(id, sizeof id, "d%d", i);
        cur = add(cur, sup(id));
    }
    add(cur, worker("leaf"));
    expect_invalid(&top, "/d32: children:", "deeper than 32 levels");

    /* SPEC_MAX_CHILDREN children of one supervisor are fine, one more is
     * not. */
    for (int extra = 0; extra <= 1; extra++) {
        struct spec_node r = sup("big");
        struct spec_node *sub = add(&r, sup("sub"));
        wide(sub, SPEC_MAX_CHILDREN + (size_t)extra);
        if (extra == 0)
            expect_valid(&r);
        else
            expect_invalid(&r, "big/sub: children:",
                           "at most 10000 children, got 10001");
    }

    /* SPEC_MAX_WORKERS in a deployment, pool replicas counted: a pool of
     * 10000 is fine; beside one more worker it is not, nor two pools of
     * 6000. */
    for (int extra = 0; extra <= 1; extra++) {
        struct spec_node r = sup("big");
        if (extra)
            add(&r, worker("one"));
        struct spec_node *p = add(&r, sup("pool"));
        p->strategy = SPEC_SIMPLE_ONE_FOR_ONE;
        p->replicas = SPEC_MAX_WORKERS;
        add(p, worker("w"));
        if (extra == 0)
            expect_valid(&r);
        else
            expect_invalid(&r, "big/pool: children:",
                           "more than 10000 workers (pool replicas counted)");
    }
    {
        struct spec_node r = sup("big");
        for (int i = 0; i < 2; i++) {
            struct spec_node *p = add(&r, sup(i ? "p2" : "p1"));
            p->strategy = SPEC_SIMPLE_ONE_FOR_ONE;
            p->replicas = 6000;
            add(p, worker("w"));
        }
        expect_invalid(&r, "big/p2: replicas:", "more than 10000 workers");
    }

    /* SPEC_MAX_NODES: supervisors count too. 6666 chains of supervisor,
     * supervisor, worker under the root are 19999 nodes; one more chain is
     * over. */
    for (int extra = 0; extra <= 1; extra++) {
        struct spec_node r = sup("big");
        size_t n = 6666 + (size_t)extra;
        r.children = naos_alloc(n * sizeof *r.children);
        NT_TRUE(r.children != NULL);
        r.nchildren = n;
        for (size_t i = 0; i < n; i++) {
            char id[32];
            snprintf(id, sizeof id, "s%zu", i);
            r.children[i] = sup(id);
            struct spec_node *t = add(&r.children[i], sup("t"));
            add(t, worker("w"));
        }
        if (extra == 0)
            expect_valid(&r);
        else
            expect_invalid(&r, "children:", "more than 20000 nodes");
    }
}

static void
test_validate_intensity_limits(void)
{
    /* Limits at their edge; the 2e9 restarts in 2e9 s asked for a
     * 32 GB ring. */
    struct spec_node r = research();
    r.max_restarts = SPEC_LIMIT_MAX_RESTARTS;
    r.window_s = SPEC_LIMIT_WINDOW_S;
    expect_valid(&r);
    r = research();
    r.max_restarts = SPEC_LIMIT_MAX_RESTARTS + 1;
    expect_invalid(&r, "research: max_restarts:",
                   "must be at most 1000000, got 1000001");
    r = research();
    r.window_s = SPEC_LIMIT_WINDOW_S + 1;
    expect_invalid(&r, "research: window:",
                   "must be at most 86400s (24h), got 86401s");
    r = research();
    r.children[1].max_restarts = 2000000000;
    r.children[1].window_s = 2000000000;
    expect_invalid(&r, "research/tools: window:", "got 2000000000s");
    r = research();
    r.children[1].max_restarts = 1000000000;
    expect_invalid(&r, "research/tools: max_restarts:", "got 1000000000");
}

/* A deployment's migration limits: at the root only, max 0..100, window
 * 1 s..7 days, each at its edge. */
static void
test_validate_migration(void)
{
    struct spec_node r = research();
    r.max_migrations = 0; /* never moved */
    expect_valid(&r);
    r = research();
    r.max_migrations = SPEC_MIGRATIONS_MAX;
    expect_valid(&r);
    r = research();
    r.max_migrations = SPEC_MIGRATIONS_MAX + 1;
    expect_invalid(&r, "research: migration:",
                   "max: must be at most 100, got 101");
    r = research();
    r.migration_window = SPEC_MIGRATION_WINDOW_MIN - 1;
    expect_invalid(&r, "research: migration:", "got 999ms");
    r = research();
    r.migration_window = SPEC_MIGRATION_WINDOW_MIN;
    expect_valid(&r);
    r = research();
    r.migration_window = SPEC_MIGRATION_WINDOW_MAX;
    expect_valid(&r);
    r = research();
    r.migration_window = SPEC_MIGRATION_WINDOW_MAX + 1;
    expect_invalid(&r, "research: migration:",
                   "window: must be from 1s to 7 days");
    r = research();
    r.migration_window = -1;
    expect_invalid(&r, "research: migration:", "got -1ms");
    /* below the root: any value but the defaults, on a worker or a
     * supervisor */
    r = research();
    r.children[0].max_migrations = 5;
    expect_invalid(&r, "research/fetcher: migration:",
                   "only a deployment (the root) is moved");
    r = research();
    r.children[1].migration_window = 60 * 1000;
    expect_invalid(&r, "research/tools: migration:",
                   "only a deployment (the root) is moved");
    r = research();
    r.children[1].children[0].max_migrations = 0;
    expect_invalid(&r, "research/tools/scraper: migration:", NULL);
}

static void
test_validate_errbuf(void)
{
    /* A short buffer truncates; a NULL buffer is fine. */
    struct spec_node r = sup("lonely");
    char small[10];
    NT_EQ_INT(spec_validate(&r, small, sizeof small), NAOS_EINVAL);
    NT_EQ_INT(strlen(small), 9);
    NT_EQ_INT(spec_validate(&r, NULL, 0), NAOS_EINVAL);
    spec_node_fini(&r);
}

/* ---- fini and copy ---- */

static void
test_fini_zeroed_and_half_built(void)
{
    long base = naos_alloc_live();
    struct spec_node z;
    memset(&z, 0, sizeof z);
    spec_node_fini(&z);
    spec_node_fini(&z);
    spec_node_fini(NULL);

    /* Half-built: children array with unfilled (zeroed) slots, argv with
     * argc lagging behind the filled entries. */
    struct spec_node h;
    spec_node_init_supervisor(&h);
    h.id = naos_strdup("half");
    h.children = naos_alloc(3 * sizeof *h.children);
    h.nchildren = 3;
    spec_node_init(&h.children[0]);
    h.children[0].argv = naos_alloc(3 * sizeof(char *));
    h.children[0].argv[0] = naos_strdup("x");
    h.children[0].argv[1] = naos_strdup("y");
    h.children[0].argc = 1;
    spec_node_fini(&h);
    NT_EQ_INT(naos_alloc_live(), base);
    struct spec_node zero;
    memset(&zero, 0, sizeof zero);
    NT_TRUE(memcmp(&h, &zero, sizeof h) == 0);
}

static void
node_eq(const struct spec_node *a, const struct spec_node *b)
{
    NT_TRUE(a != b);
    if (a->id || b->id) {
        NT_EQ_STR(a->id, b->id);
        NT_TRUE(a->id != b->id);
    }
    NT_EQ_INT(a->is_supervisor, b->is_supervisor);
    NT_EQ_INT(a->restart, b->restart);
    NT_EQ_INT(a->shutdown, b->shutdown);
    NT_EQ_INT(a->backoff_min, b->backoff_min);
    NT_EQ_INT(a->backoff_max, b->backoff_max);
    NT_EQ_INT(a->max_migrations, b->max_migrations);
    NT_EQ_INT(a->migration_window, b->migration_window);
    NT_EQ_INT(a->argc, b->argc);
    NT_EQ_INT(a->argv == NULL, b->argv == NULL);
    if (a->argv) {
        NT_TRUE(a->argv != b->argv);
        for (size_t i = 0; i < a->argc; i++) {
            NT_EQ_STR(a->argv[i], b->argv[i]);
            NT_TRUE(a->argv[i] != b->argv[i]);
        }
        NT_TRUE(b->argv[b->argc] == NULL);
    }
    NT_EQ_INT(a->envc, b->envc);
    NT_EQ_INT(a->env == NULL, b->env == NULL);
    if (a->env) {
        NT_TRUE(a->env != b->env);
        for (size_t i = 0; i < a->envc; i++) {
            NT_EQ_STR(a->env[i], b->env[i]);
            NT_TRUE(a->env[i] != b->env[i]);
        }
        NT_TRUE(b->env[b->envc] == NULL);
    }
    NT_EQ_INT(a->cwd == NULL, b->cwd == NULL);
    if (a->cwd) {
        NT_EQ_STR(a->cwd, b->cwd);
        NT_TRUE(a->cwd != b->cwd);
    }
    NT_EQ_INT(a->ready, b->ready);
    NT_EQ_INT(a->start_timeout, b->start_timeout);
    NT_EQ_INT(a->watchdog, b->watchdog);
    NT_EQ_INT(a->max_runtime, b->max_runtime);
    NT_EQ_INT(a->strategy, b->strategy);
    NT_EQ_INT(a->max_restarts, b->max_restarts);
    NT_EQ_INT(a->window_s, b->window_s);
    NT_EQ_INT(a->replicas, b->replicas);
    NT_EQ_INT(a->nchildren, b->nchildren);
    if (a->nchildren) {
        NT_TRUE(a->children != b->children);
        for (size_t i = 0; i < a->nchildren; i++)
            node_eq(&a->children[i], &b->children[i]);
    }
}

static void
test_copy_deep(void)
{
    long base = naos_alloc_live();
    struct spec_node r = research();
    r.children[0].shutdown = SPEC_SHUTDOWN_KILL;
    r.max_migrations = 7;
    r.migration_window = 10 * 60 * 1000;
    struct spec_node c;
    memset(&c, 0x5a, sizeof c);
    NT_EQ_INT(spec_node_copy(&c, &r), NAOS_OK);
    node_eq(&r, &c);
    NT_EQ_INT(spec_validate(&c, errbuf, sizeof errbuf), NAOS_OK);

    /* Independence: changing or freeing the source leaves the copy. */
    r.children[0].argv[0][0] = 'X';
    r.children[1].children[0].id[0] = 'Y';
    r.children[0].env[0][0] = 'Z';
    NT_EQ_STR(c.children[0].argv[0], "python3");
    NT_EQ_STR(c.children[1].children[0].id, "scraper");
    NT_EQ_STR(c.children[0].env[0], "KEY=value");
    spec_node_fini(&r);
    NT_EQ_STR(c.children[0].cwd, "/srv/agents");
    NT_EQ_STR(c.children[1].id, "tools");
    NT_EQ_INT(spec_validate(&c, errbuf, sizeof errbuf), NAOS_OK);

    /* A copy of a copy, and of a zeroed node. */
    struct spec_node c2;
    NT_EQ_INT(spec_node_copy(&c2, &c), NAOS_OK);
    node_eq(&c, &c2);
    spec_node_fini(&c);
    spec_node_fini(&c2);
    struct spec_node z, zc;
    memset(&z, 0, sizeof z);
    NT_EQ_INT(spec_node_copy(&zc, &z), NAOS_OK);
    node_eq(&z, &zc);
    spec_node_fini(&zc);
    NT_EQ_INT(naos_alloc_live(), base);
}

static void
test_copy_alloc_failures(void)
{
    struct spec_node r = research();
    long base = naos_alloc_live();
    struct spec_node zero;
    memset(&zero, 0, sizeof zero);
    int failures = 0;
    for (long k = 0;; k++) {
        NT_TRUE(k < 10000);
        struct spec_node c;
        memset(&c, 0x5a, sizeof c);
        naos_alloc_fail_after(k);
        int rv = spec_node_copy(&c, &r);
        naos_alloc_fail_after(-1);
        if (rv == NAOS_OK) {
            node_eq(&r, &c);
            spec_node_fini(&c);
            NT_EQ_INT(naos_alloc_live(), base);
            break;
        }
        failures++;
        NT_EQ_INT(rv, NAOS_ENOMEM);
        NT_TRUE(memcmp(&c, &zero, sizeof c) == 0);
        NT_EQ_INT(naos_alloc_live(), base);
    }
    /* Every allocation of the copy was made to fail once: 1 id, argv and
     * 2 strings, env and 2 strings, cwd, children... at least 15. */
    NT_TRUE(failures >= 15);
    spec_node_fini(&r);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_defaults_worker),
        NT_CASE(test_defaults_supervisor),
        NT_CASE(test_names_round_trip),
        NT_CASE(test_strategy_parse),
        NT_CASE(test_restart_ready_parse),
        NT_CASE(test_shutdown_parse),
        NT_CASE(test_id_is_valid),
        NT_CASE(test_validate_good),
        NT_CASE(test_validate_root),
        NT_CASE(test_validate_ids),
        NT_CASE(test_validate_worker),
        NT_CASE(test_validate_durations),
        NT_CASE(test_validate_supervisor),
        NT_CASE(test_validate_pool),
        NT_CASE(test_validate_limits),
        NT_CASE(test_validate_intensity_limits),
        NT_CASE(test_validate_migration),
        NT_CASE(test_validate_errbuf),
        NT_CASE(test_fini_zeroed_and_half_built),
        NT_CASE(test_copy_deep),
        NT_CASE(test_copy_alloc_failures),
        {0},
    };
    return nt_run(cases);
}
