/* SPDX-License-Identifier: Apache-2.0 */
/* spec_yaml_test.c: the YAML front end: accepted forms, every error class
 * with its exact position, and allocation failure injection. */
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/spec/spec_yaml.h"

#ifndef SPEC_TESTDATA
#define SPEC_TESTDATA "node/spec/testdata"
#endif

static char err[8192];

static bool
is_zero(const struct spec_node *n)
{
    static const struct spec_node zero;
    return memcmp(n, &zero, sizeof *n) == 0;
}

static char *
slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", SPEC_TESTDATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        NT_FAIL("cannot open %s", path);
    static char buf[65536];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static int
parse(const char *y, struct spec_node *out)
{
    memset(out, 0x5a, sizeof *out);
    err[0] = '\0';
    return spec_yaml_parse("t.yaml", y, strlen(y), out, err, sizeof err);
}

static void
parse_ok(const char *y, struct spec_node *out)
{
    int rv = parse(y, out);
    if (rv != NAOS_OK)
        NT_FAIL("parse failed (%d): %s\n--- input:\n%s", rv, err, y);
}

/* parse_bad expects NAOS_EINVAL, a zeroed *out, no leak, and a message
 * that contains want (which starts with "t.yaml:LINE:COL: FIELD:"). */
static void
parse_bad_len(const char *y, size_t len, const char *want)
{
    long base = naos_alloc_live();
    struct spec_node out;
    memset(&out, 0x5a, sizeof out);
    err[0] = '\0';
    int rv = spec_yaml_parse("t.yaml", y, len, &out, err, sizeof err);
    if (rv != NAOS_EINVAL)
        NT_FAIL("expected NAOS_EINVAL, got %d (%s) for:\n%s", rv, err, y);
    if (!is_zero(&out))
        NT_FAIL("*out not zeroed after error: %s", err);
    NT_EQ_INT(naos_alloc_live(), base);
    if (strstr(err, want) == NULL)
        NT_FAIL("message \"%s\" lacks \"%s\"\n--- input:\n%s", err, want, y);
}

static void
parse_bad(const char *y, const char *want)
{
    parse_bad_len(y, strlen(y), want);
}

static void
check_argv(const struct spec_node *n, size_t argc, const char *const *want)
{
    NT_EQ_INT(n->argc, argc);
    NT_TRUE(n->argv != NULL);
    for (size_t i = 0; i < argc; i++)
        NT_EQ_STR(n->argv[i], want[i]);
    NT_TRUE(n->argv[argc] == NULL);
}

static void
check_research(const struct spec_node *r)
{
    NT_EQ_STR(r->id, "research");
    NT_TRUE(r->is_supervisor);
    NT_EQ_INT(r->strategy, SPEC_REST_FOR_ONE);
    NT_EQ_INT(r->max_restarts, 5);
    NT_EQ_INT(r->window_s, 300);
    NT_EQ_INT(r->replicas, 0);
    NT_EQ_INT(r->shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(r->restart, SPEC_PERMANENT);
    NT_EQ_INT(r->backoff_min, 0);
    NT_EQ_INT(r->backoff_max, 0);
    NT_TRUE(r->argv == NULL && r->env == NULL && r->cwd == NULL);
    NT_EQ_INT(r->nchildren, 2);

    const struct spec_node *f = &r->children[0];
    NT_EQ_STR(f->id, "fetcher");
    NT_FALSE(f->is_supervisor);
    static const char *const fargv[] = {"python3", "fetch.py"};
    check_argv(f, 2, fargv);
    NT_EQ_INT(f->restart, SPEC_PERMANENT);
    NT_EQ_INT(f->shutdown, 5000);
    NT_EQ_INT(f->envc, 1);
    NT_EQ_STR(f->env[0], "KEY=value");
    NT_TRUE(f->env[1] == NULL);
    NT_EQ_STR(f->cwd, "/srv/agents");
    NT_EQ_INT(f->ready, SPEC_READY_NOTIFY);
    NT_EQ_INT(f->start_timeout, 30000);
    NT_EQ_INT(f->watchdog, 30000);
    NT_EQ_INT(f->max_runtime, 3600000);
    NT_EQ_INT(f->backoff_min, 1000);
    NT_EQ_INT(f->backoff_max, 30000);
    NT_EQ_INT(f->replicas, 0);
    NT_EQ_INT(f->nchildren, 0);
    NT_TRUE(f->children == NULL);

    const struct spec_node *t = &r->children[1];
    NT_EQ_STR(t->id, "tools");
    NT_TRUE(t->is_supervisor);
    NT_EQ_INT(t->strategy, SPEC_ONE_FOR_ONE);
    NT_EQ_INT(t->max_restarts, 3);
    NT_EQ_INT(t->window_s, 60);
    NT_EQ_INT(t->shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(t->restart, SPEC_PERMANENT);
    NT_EQ_INT(t->replicas, 0);
    NT_TRUE(t->argv == NULL && t->env == NULL && t->cwd == NULL);
    NT_EQ_INT(t->nchildren, 1);

    const struct spec_node *s = &t->children[0];
    NT_EQ_STR(s->id, "scraper");
    NT_FALSE(s->is_supervisor);
    static const char *const sargv[] = {"/bin/sh", "-c",
                                        "./scraper --headless"};
    check_argv(s, 3, sargv);
    NT_EQ_INT(s->watchdog, 30000);
    /* The rest are worker defaults. */
    NT_EQ_INT(s->restart, SPEC_PERMANENT);
    NT_EQ_INT(s->shutdown, 5000);
    NT_EQ_INT(s->ready, SPEC_READY_EXEC);
    NT_EQ_INT(s->start_timeout, 30000);
    NT_EQ_INT(s->max_runtime, 0);
    NT_EQ_INT(s->output, SPEC_OUTPUT_LOG);
    NT_EQ_INT(s->control, SPEC_CONTROL_NONE);
    NT_EQ_INT(s->backoff_min, 0);
    NT_EQ_INT(s->backoff_max, 0);
    NT_TRUE(s->env == NULL && s->cwd == NULL);
    NT_EQ_INT(s->envc, 0);
    NT_EQ_INT(s->nchildren, 0);
}

/* ---- accepted documents ---- */

static void
test_example_file(void)
{
    long base = naos_alloc_live();
    size_t len;
    const char *y = slurp("research.yaml", &len);
    struct spec_node r;
    NT_EQ_INT(spec_yaml_parse("research.yaml", y, len, &r, err, sizeof err),
              NAOS_OK);
    check_research(&r);
    NT_EQ_INT(spec_validate(&r, err, sizeof err), NAOS_OK);
    spec_node_fini(&r);
    NT_EQ_INT(naos_alloc_live(), base);
}

static void
test_example_block_style(void)
{
    /* The same tree in block style, keys in another order, OTP spellings,
     * integer window, quoted values, a bare-seconds duration. */
    struct spec_node r;
    parse_ok("children:\n"
             "- id: fetcher\n"
             "  backoff:\n"
             "    max: 30s\n"
             "    min: 1000ms\n"
             "  max_runtime: 60m\n"
             "  watchdog: '30'\n"
             "  start_timeout: 30s\n"
             "  ready: notify\n"
             "  cwd: \"/srv/agents\"\n"
             "  env:\n"
             "    KEY: value\n"
             "  shutdown: 5000ms\n"
             "  restart: permanent\n"
             "  command:\n"
             "  - python3\n"
             "  - fetch.py\n"
             "- children:\n"
             "  - id: scraper\n"
             "    watchdog: 30s\n"
             "    command: ./scraper --headless\n"
             "  supervisor:\n"
             "    window: 1m\n"
             "    max_restarts: 3\n"
             "    strategy: one_for_one\n"
             "  id: tools\n"
             "supervisor:\n"
             "  window: 300\n"
             "  strategy: rest_for_one\n"
             "  max_restarts: \"5\"\n"
             "name: research\n",
             &r);
    check_research(&r);
    spec_node_fini(&r);
}

static void
test_pool_file(void)
{
    size_t len;
    const char *y = slurp("pool.yaml", &len);
    struct spec_node r;
    NT_EQ_INT(spec_yaml_parse("pool.yaml", y, len, &r, err, sizeof err),
              NAOS_OK);
    NT_EQ_STR(r.id, "crawlers");
    NT_TRUE(r.is_supervisor);
    NT_EQ_INT(r.strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_EQ_INT(r.max_restarts, 10);
    NT_EQ_INT(r.window_s, 60);
    NT_EQ_INT(r.replicas, 8);
    NT_EQ_INT(r.nchildren, 1);
    const struct spec_node *c = &r.children[0];
    NT_EQ_STR(c->id, "crawler");
    static const char *const argv[] = {"/usr/bin/crawler", "--queue", ""};
    check_argv(c, 3, argv);
    NT_EQ_INT(c->restart, SPEC_TRANSIENT);
    NT_EQ_INT(c->shutdown, SPEC_SHUTDOWN_KILL);
    NT_EQ_INT(c->envc, 2);
    NT_EQ_STR(c->env[0], "QUEUE=jobs");
    NT_EQ_STR(c->env[1], "EMPTY=");
    NT_TRUE(c->env[2] == NULL);
    NT_EQ_INT(c->backoff_min, 2000); /* single duration: min = max */
    NT_EQ_INT(c->backoff_max, 2000);
    spec_node_fini(&r);
}

static void
test_string_command(void)
{
    struct spec_node r;
    parse_ok("name: x\n"
             "children:\n"
             "  - id: a\n"
             "    command: 'echo \"hi\" && sleep 1 | cat'\n",
             &r);
    static const char *const argv[] = {"/bin/sh", "-c",
                                       "echo \"hi\" && sleep 1 | cat"};
    check_argv(&r.children[0], 3, argv);
    spec_node_fini(&r);

    /* A one-element list stays a plain argv, and numbers are strings. */
    parse_ok("name: x\nchildren: [{id: a, command: [sleep, 10]}]\n", &r);
    static const char *const argv2[] = {"sleep", "10"};
    check_argv(&r.children[0], 2, argv2);
    spec_node_fini(&r);
    parse_ok("name: x\nchildren: [{id: a, command: [./run]}]\n", &r);
    static const char *const argv3[] = {"./run"};
    check_argv(&r.children[0], 1, argv3);
    spec_node_fini(&r);
}

static void
test_env_forms(void)
{
    struct spec_node r;
    parse_ok("name: x\n"
             "children:\n"
             "  - id: a\n"
             "    command: [a]\n"
             "    env: {A: b, PORT: 8080, EMPTY: \"\", EQ: \"x=y\"}\n",
             &r);
    const struct spec_node *a = &r.children[0];
    NT_EQ_INT(a->envc, 4);
    NT_EQ_STR(a->env[0], "A=b");
    NT_EQ_STR(a->env[1], "PORT=8080");
    NT_EQ_STR(a->env[2], "EMPTY=");
    NT_EQ_STR(a->env[3], "EQ=x=y");
    NT_TRUE(a->env[4] == NULL);
    spec_node_fini(&r);

    parse_ok("name: x\n"
             "children:\n"
             "  - id: a\n"
             "    command: [a]\n"
             "    env:\n"
             "      - A=b\n"
             "      - \"PATH=/bin:/usr/bin\"\n"
             "      - B=\n",
             &r);
    a = &r.children[0];
    NT_EQ_INT(a->envc, 3);
    NT_EQ_STR(a->env[0], "A=b");
    NT_EQ_STR(a->env[1], "PATH=/bin:/usr/bin");
    NT_EQ_STR(a->env[2], "B=");
    NT_TRUE(a->env[3] == NULL);
    spec_node_fini(&r);

    /* Empty forms are fine and give no entries. */
    parse_ok("name: x\nchildren: [{id: a, command: [a], env: {}}]\n", &r);
    NT_EQ_INT(r.children[0].envc, 0);
    spec_node_fini(&r);
    parse_ok("name: x\nchildren: [{id: a, command: [a], env: []}]\n", &r);
    NT_EQ_INT(r.children[0].envc, 0);
    spec_node_fini(&r);

    /* Many variables go through the sorted duplicate check. */
    char y[8192];
    int n = snprintf(y, sizeof y, "name: x\nchildren: [{id: a, command: [a], "
                                  "env: {");
    for (int i = 0; i < 200; i++)
        n += snprintf(y + n, sizeof y - (size_t)n, "V%d: %d, ", i, i);
    snprintf(y + n, sizeof y - (size_t)n, "LAST: z}}]\n");
    parse_ok(y, &r);
    NT_EQ_INT(r.children[0].envc, 201);
    NT_EQ_STR(r.children[0].env[199], "V199=199");
    spec_node_fini(&r);
}

static void
test_single_worker(void)
{
    struct spec_node r;
    parse_ok("name: web\n"
             "command: [nginx, -g, daemon off;]\n"
             "restart: transient\n"
             "shutdown: 10s\n"
             "env: [A=1]\n"
             "cwd: /srv\n"
             "ready: notify\n"
             "start_timeout: 5s\n"
             "watchdog: 1m\n"
             "max_runtime: 1d\n"
             "control: full\n"
             "backoff: {min: 1s, max: 1m}\n",
             &r);
    NT_EQ_STR(r.id, "web");
    NT_EQ_INT(r.control, SPEC_CONTROL_NONE); /* granted to the worker */
    NT_TRUE(r.is_supervisor);
    NT_EQ_INT(r.strategy, SPEC_ONE_FOR_ONE);
    NT_EQ_INT(r.max_restarts, SPEC_DEFAULT_MAX_RESTARTS);
    NT_EQ_INT(r.window_s, SPEC_DEFAULT_WINDOW_S);
    NT_EQ_INT(r.shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(r.restart, SPEC_PERMANENT);
    NT_EQ_INT(r.backoff_min, 0);
    NT_TRUE(r.argv == NULL && r.env == NULL && r.cwd == NULL);
    NT_EQ_INT(r.nchildren, 1);
    const struct spec_node *w = &r.children[0];
    NT_EQ_STR(w->id, "web");
    NT_TRUE(w->id != r.id);
    NT_FALSE(w->is_supervisor);
    static const char *const argv[] = {"nginx", "-g", "daemon off;"};
    check_argv(w, 3, argv);
    NT_EQ_INT(w->restart, SPEC_TRANSIENT);
    NT_EQ_INT(w->shutdown, 10000);
    NT_EQ_INT(w->envc, 1);
    NT_EQ_STR(w->env[0], "A=1");
    NT_EQ_STR(w->cwd, "/srv");
    NT_EQ_INT(w->ready, SPEC_READY_NOTIFY);
    NT_EQ_INT(w->start_timeout, 5000);
    NT_EQ_INT(w->watchdog, 60000);
    NT_EQ_INT(w->max_runtime, 86400000);
    NT_EQ_INT(w->backoff_min, 1000);
    NT_EQ_INT(w->backoff_max, 60000);
    NT_EQ_INT(w->control, SPEC_CONTROL_FULL);
    spec_node_fini(&r);

    /* With a supervisor section, and as a pool. */
    parse_ok("name: web\ncommand: ./serve\n"
             "supervisor: {strategy: one-for-all, max_restarts: 0, "
             "window: 10}\n",
             &r);
    NT_EQ_INT(r.strategy, SPEC_ONE_FOR_ALL);
    NT_EQ_INT(r.max_restarts, 0);
    NT_EQ_INT(r.window_s, 10);
    NT_EQ_STR(r.children[0].argv[2], "./serve");
    spec_node_fini(&r);

    parse_ok("name: web\ncommand: [./serve]\nreplicas: 3\n"
             "supervisor: {strategy: simple-one-for-one}\n",
             &r);
    NT_EQ_INT(r.strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_EQ_INT(r.replicas, 3);
    NT_EQ_INT(r.nchildren, 1);
    NT_EQ_INT(r.children[0].replicas, 0);
    spec_node_fini(&r);
}

static void
test_pool_nested(void)
{
    struct spec_node r;
    parse_ok("name: app\n"
             "children:\n"
             "  - id: db\n"
             "    command: [postgres]\n"
             "    shutdown: infinity\n"
             "  - id: workers\n"
             "    restart: transient\n"
             "    backoff: {min: 500ms, max: 10s}\n"
             "    shutdown: infinity\n"
             "    supervisor: {strategy: simple_one_for_one, window: 2s}\n"
             "    replicas: 9999\n"
             "    children:\n"
             "      - id: worker\n"
             "        command: [./worker]\n"
             "        restart: temporary\n",
             &r);
    NT_EQ_INT(r.children[0].shutdown, SPEC_SHUTDOWN_INFINITY);
    const struct spec_node *p = &r.children[1];
    NT_TRUE(p->is_supervisor);
    NT_EQ_INT(p->strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    /* db and 9999 replicas: SPEC_MAX_WORKERS, the most a deployment has. */
    NT_EQ_INT(p->replicas, SPEC_MAX_WORKERS - 1);
    NT_EQ_INT(p->max_restarts, SPEC_DEFAULT_MAX_RESTARTS);
    NT_EQ_INT(p->window_s, 2);
    NT_EQ_INT(p->restart, SPEC_TRANSIENT);
    NT_EQ_INT(p->backoff_min, 500);
    NT_EQ_INT(p->backoff_max, 10000);
    NT_EQ_INT(p->shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(p->children[0].restart, SPEC_TEMPORARY);
    spec_node_fini(&r);

    /* A supervisor child with children but no supervisor: section. */
    parse_ok("name: app\nchildren:\n"
             "  - id: grp\n    children: [{id: a, command: [a]}]\n",
             &r);
    NT_TRUE(r.children[0].is_supervisor);
    NT_EQ_INT(r.children[0].strategy, SPEC_ONE_FOR_ONE);
    NT_EQ_INT(r.children[0].window_s, SPEC_DEFAULT_WINDOW_S);
    spec_node_fini(&r);
}

static void
test_tags_and_nulls(void)
{
    struct spec_node r;
    /* !!str is a plain string; "~" quoted is a string, not null. */
    parse_ok("name: x\nchildren: [{id: a, command: [!!str 123, \"~\", "
             "'null'], cwd: !!str 42}]\n",
             &r);
    static const char *const argv[] = {"123", "~", "null"};
    check_argv(&r.children[0], 3, argv);
    NT_EQ_STR(r.children[0].cwd, "42");
    spec_node_fini(&r);
}

/* ---- errors, each with its position ---- */

static void
test_bad_restart_file(void)
{
    size_t len;
    const char *y = slurp("bad_restart.yaml", &len);
    struct spec_node r;
    memset(&r, 0x5a, sizeof r);
    NT_EQ_INT(spec_yaml_parse("tree.yaml", y, len, &r, err, sizeof err),
              NAOS_EINVAL);
    NT_EQ_STR(err, "tree.yaml:7:16: restart: unknown value \"sometimes\" "
                   "(expected permanent, transient or temporary)");
    NT_TRUE(is_zero(&r));
}

#define CHILD "name: x\nchildren:\n  - id: a\n    command: [a]\n"

static void
test_errors_child_fields(void)
{
    parse_bad(CHILD "    restart: sometimes\n",
              "t.yaml:5:14: restart: unknown value \"sometimes\" (expected "
              "permanent, transient or temporary)");
    parse_bad(CHILD "    colour: red\n", "t.yaml:5:5: colour: unknown key");
    parse_bad(CHILD "    name: a\n", "t.yaml:5:5: name: unknown key");
    parse_bad(CHILD "    command: [b]\n",
              "t.yaml:5:5: command: duplicate key (first given at line 4)");
    parse_bad(CHILD "    restart: {a: b}\n",
              "t.yaml:5:14: restart: expected a restart type, got a "
              "mapping");
    parse_bad(CHILD "    restart: [a]\n",
              "t.yaml:5:14: restart: expected a restart type, got a "
              "sequence");
    parse_bad(CHILD "    restart: ~\n",
              "t.yaml:5:14: restart: expected a restart type, got null");
    parse_bad(CHILD "    watchdog: -5s\n",
              "t.yaml:5:15: watchdog: invalid duration \"-5s\"");
    parse_bad(CHILD "    watchdog: nan\n",
              "t.yaml:5:15: watchdog: invalid duration \"nan\"");
    parse_bad(CHILD "    max_runtime: 1e30s\n",
              "t.yaml:5:18: max_runtime: invalid duration");
    parse_bad(CHILD "    start_timeout: kill\n",
              "t.yaml:5:20: start_timeout: invalid duration \"kill\"");
    parse_bad(CHILD "    shutdown: forever\n",
              "t.yaml:5:15: shutdown: invalid value \"forever\" (expected a "
              "duration like 5s, kill or infinity)");
    parse_bad(CHILD "    shutdown: -1\n",
              "t.yaml:5:15: shutdown: invalid value \"-1\"");
    parse_bad(CHILD "    ready: soon\n",
              "t.yaml:5:12: ready: unknown value \"soon\" (expected exec or "
              "notify)");
    parse_bad(CHILD "    control: all\n",
              "t.yaml:5:14: control: unknown value \"all\" (expected none: "
              "the agent manages only its own checkpoint, or full: it may "
              "control the whole node)");
    parse_bad(CHILD "    output: syslog\n",
              "t.yaml:5:13: output: unknown value \"syslog\" (expected log "
              "or discard)");
    parse_bad(CHILD "    cwd: \"\"\n", "t.yaml:5:10: cwd: must not be empty");
    parse_bad(CHILD "    cwd: [a]\n",
              "t.yaml:5:10: cwd: expected a directory, got a sequence");
    parse_bad(CHILD "    replicas: 3\n",
              "t.yaml:5:5: replicas: only a simple-one-for-one supervisor "
              "has replicas");
    parse_bad(CHILD "    supervisor: {}\n",
              "t.yaml:4:5: command: a child with supervisor or children is "
              "a supervisor and has no command");
    parse_bad(CHILD "    children: [{id: b, command: [b]}]\n",
              "t.yaml:4:5: command: a child with supervisor or children");
    parse_bad(CHILD "    id: b\n",
              "t.yaml:5:5: id: duplicate key (first given at line 3)");
    parse_bad("name: x\nchildren:\n  - id: a b\n    command: [a]\n",
              "t.yaml:3:9: id: invalid id \"a b\"");
    parse_bad("name: x\nchildren:\n  - id: ..\n    command: [a]\n",
              "t.yaml:3:9: id: invalid id \"..\"");
    parse_bad("name: x\nchildren:\n  - id: {a: b}\n    command: [a]\n",
              "t.yaml:3:9: id: expected an id, got a mapping");
}

static void
test_errors_command(void)
{
    parse_bad("name: x\nchildren:\n  - id: a\n    command: \"\"\n",
              "t.yaml:4:14: command: must not be empty");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: []\n",
              "t.yaml:4:14: command: must not be empty");
    parse_bad("name: x\nchildren:\n  - id: a\n    command:\n",
              "command: expected a list of strings or a string, got null");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [\"\", b]\n",
              "t.yaml:4:15: command[0]: the program must not be empty");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [a, ~]\n",
              "t.yaml:4:18: command[1]: expected a string, got null");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [a, [b]]\n",
              "t.yaml:4:18: command[1]: expected a string, got a sequence");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: {a: b}\n",
              "t.yaml:4:14: command: expected a list of strings or a "
              "string, got a mapping");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [\"a\\0b\"]\n",
              "t.yaml:4:15: command[0]: must not contain a NUL byte");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: !!binary YWJj\n",
              "t.yaml:4:14: yaml: tag tag:yaml.org,2002:binary is not "
              "supported");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: !foo [a]\n",
              "t.yaml:4:14: yaml: tag !foo is not supported");
}

static void
test_errors_env(void)
{
    parse_bad(CHILD "    env: {A: ~}\n",
              "t.yaml:5:14: env.A: expected a value (write \"\" for an "
              "empty one), got null");
    parse_bad(CHILD "    env: [NOEQ]\n",
              "t.yaml:5:11: env[0]: \"NOEQ\" is not KEY=value");
    parse_bad(CHILD "    env: [A=1, \"=x\"]\n",
              "t.yaml:5:16: env[1]: \"=x\" is not KEY=value");
    parse_bad(CHILD "    env: {A: 1, B: 2, A: 3}\n",
              "t.yaml:5:23: env.A: duplicate variable (first set at line "
              "5)");
    parse_bad(CHILD "    env:\n      - A=1\n      - B=1\n      - A=2\n",
              "t.yaml:8:9: env.A: duplicate variable (first set at line 6)");
    parse_bad(CHILD "    env: {\"A=B\": c}\n",
              "t.yaml:5:11: env.A=B: invalid variable name");
    parse_bad(CHILD "    env: {\"\": c}\n",
              "t.yaml:5:11: env.: invalid variable name");
    parse_bad(CHILD "    env: {A: [b]}\n",
              "t.yaml:5:14: env.A: expected a value");
    parse_bad(CHILD "    env: oops\n",
              "t.yaml:5:10: env: expected a mapping (KEY: value) or a list "
              "of \"KEY=value\", got a scalar");
}

static void
test_errors_backoff(void)
{
    parse_bad(CHILD "    backoff: {min: 1s}\n",
              "t.yaml:5:14: backoff: needs both min and max");
    parse_bad(CHILD "    backoff: {min: 5s, max: 1s}\n",
              "t.yaml:5:14: backoff: min must not exceed max");
    parse_bad(CHILD "    backoff: {min: 0s, max: 1s}\n",
              "t.yaml:5:14: backoff: min and max must both be non-zero");
    parse_bad(CHILD "    backoff: {min: 1s, max: 2s, mid: 3s}\n",
              "t.yaml:5:33: backoff.mid: unknown key (expected min or max)");
    parse_bad(CHILD "    backoff: {min: 1s, min: 2s}\n",
              "t.yaml:5:24: backoff.min: duplicate key");
    parse_bad(CHILD "    backoff: {min: -1s, max: 2s}\n",
              "t.yaml:5:20: backoff.min: invalid duration \"-1s\"");
    parse_bad(CHILD "    backoff: [1s]\n",
              "t.yaml:5:14: backoff: expected {min: 1s, max: 30s} or a "
              "duration, got a sequence");
}

#define KIDS "children: [{id: a, command: [a]}]\n"

static void
test_errors_supervisor(void)
{
    parse_bad("name: x\nsupervisor: {max_restarts: five}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: expected a whole "
              "number, got \"five\"");
    parse_bad("name: x\nsupervisor: {max_restarts: 1.5}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: expected a whole "
              "number");
    parse_bad("name: x\nsupervisor: {max_restarts: -1}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: must not be negative");
    parse_bad("name: x\nsupervisor: {max_restarts: 99999999999999999999}\n"
                  KIDS,
              "t.yaml:2:28: supervisor.max_restarts: is too large (at most "
              "1000000)");
    parse_bad("name: x\nsupervisor: {max_restarts: 4294967296}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: is too large");
    /* The limits (issue 9: 2e9 in 2e9 s asked the node for 32 GB). */
    parse_bad("name: x\nsupervisor: {max_restarts: 2000000000}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: is too large (at most "
              "1000000)");
    parse_bad("name: x\nsupervisor: {max_restarts: 1000001}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: is too large");
    parse_bad("name: x\nsupervisor: {window: 2000000000s}\n" KIDS,
              "t.yaml:2:22: supervisor.window: must be at most 86400s (24h)");
    parse_bad("name: x\nsupervisor: {window: 86401}\n" KIDS,
              "t.yaml:2:22: supervisor.window: must be at most 86400s");
    parse_bad("name: x\nsupervisor: {max_restarts: {a: 1}}\n" KIDS,
              "t.yaml:2:28: supervisor.max_restarts: expected a whole "
              "number, got a mapping");
    parse_bad("name: x\nsupervisor: {window: 1500ms}\n" KIDS,
              "t.yaml:2:22: supervisor.window: must be whole seconds (got "
              "1500ms)");
    parse_bad("name: x\nsupervisor: {window: 0}\n" KIDS,
              "t.yaml:2:22: supervisor.window: must be at least 1s");
    parse_bad("name: x\nsupervisor: {window: forever}\n" KIDS,
              "t.yaml:2:22: supervisor.window: invalid duration");
    parse_bad("name: x\nsupervisor: {strategy: best}\n" KIDS,
              "t.yaml:2:24: supervisor.strategy: unknown value \"best\" "
              "(expected one-for-one, one-for-all, rest-for-one or "
              "simple-one-for-one)");
    parse_bad("name: x\nsupervisor: {intensity: 3}\n" KIDS,
              "t.yaml:2:14: supervisor.intensity: unknown key");
    parse_bad("name: x\nsupervisor: {window: 5, window: 6}\n" KIDS,
              "t.yaml:2:25: supervisor.window: duplicate key");
    parse_bad("name: x\nsupervisor: oops\n" KIDS,
              "t.yaml:2:13: supervisor: expected a mapping");
    parse_bad("name: x\nsupervisor: {strategy: simple-one-for-one}\n" KIDS,
              "t.yaml:2:24: replicas: missing (a simple-one-for-one "
              "supervisor needs replicas: N)");
    parse_bad("name: x\nsupervisor: {strategy: simple-one-for-one}\n"
              "replicas: 0\n" KIDS,
              "t.yaml:3:11: replicas: must be at least 1");
    parse_bad("name: x\nsupervisor: {strategy: simple-one-for-one}\n"
              "replicas: 10001\n" KIDS,
              "t.yaml:3:11: replicas: is too large (at most 10000)");
    parse_bad("name: x\nsupervisor: {strategy: simple-one-for-one}\n"
              "replicas: 100000\n" KIDS,
              "t.yaml:3:11: replicas: is too large (at most 10000)");
    /* Workers of the whole deployment, replicas counted. */
    parse_bad("name: x\nchildren:\n"
              "  - {id: db, command: [db]}\n"
              "  - id: pool\n"
              "    supervisor: {strategy: simple-one-for-one}\n"
              "    replicas: 10000\n"
              "    children: [{id: w, command: [w]}]\n",
              "more than 10000 workers (pool replicas counted)");
    parse_bad("name: x\nreplicas: 2\n" KIDS,
              "t.yaml:2:1: replicas: only a simple-one-for-one supervisor "
              "has replicas (strategy is one-for-one)");
    parse_bad("name: x\nsupervisor: {strategy: simple-one-for-one}\n"
              "replicas: 2\n"
              "children: [{id: a, command: [a]}, {id: b, command: [b]}]\n",
              "t.yaml:4:11: children: a simple-one-for-one supervisor needs "
              "exactly one child (the template), not 2");
    parse_bad("name: x\nshutdown: 5s\n" KIDS,
              "t.yaml:2:11: shutdown: a supervisor must have shutdown "
              "infinity");
    parse_bad("name: x\nchildren:\n  - id: s\n    shutdown: kill\n"
              "    children: [{id: a, command: [a]}]\n",
              "t.yaml:4:15: shutdown: a supervisor must have shutdown "
              "infinity");
    parse_bad("name: x\ncontrol: full\n" KIDS,
              "t.yaml:2:1: control: only a worker (with a command) has "
              "control");
    parse_bad("name: x\noutput: discard\n" KIDS,
              "t.yaml:2:1: output: only a worker (with a command) has "
              "output");
    parse_bad("name: x\nenv: {A: b}\n" KIDS,
              "t.yaml:2:1: env: only a worker (with a command) has env");
    parse_bad("name: x\nchildren:\n  - id: s\n    watchdog: 1s\n"
              "    children: [{id: a, command: [a]}]\n",
              "t.yaml:4:5: watchdog: only a worker (with a command) has "
              "watchdog");
    parse_bad("name: x\nchildren:\n  - id: s\n    supervisor: {}\n",
              "t.yaml:4:5: children: missing (a supervisor needs at least "
              "one child)");
}

/* A NUL (a \0 escape in a quoted scalar) in any text is refused, never
 * cut short: "ok\0junk" would otherwise name deployment "ok". */
static void
test_errors_nul(void)
{
    parse_bad("name: \"ok\\0junk\"\n" KIDS,
              "t.yaml:1:7: name: must not contain a NUL byte");
    parse_bad("name: x\nchildren: [{id: \"a\\0b\", command: [a]}]\n",
              "t.yaml:2:17: id: must not contain a NUL byte");
    parse_bad("name: x\ncommand: [\"sleep\\0\", \"1\"]\n",
              "must not contain a NUL byte");
    parse_bad("name: x\ncommand: \"sleep\\x00 1\"\n",
              "t.yaml:2:10: command: must not contain a NUL byte");
    parse_bad("name: x\ncommand: [a]\nenv: {A: \"b\\0c\"}\n",
              "t.yaml:3:10: env.A: must not contain a NUL byte");
    parse_bad("name: x\ncommand: [a]\nenv: [\"A=b\\0c\"]\n",
              "env[0]: must not contain a NUL byte");
    parse_bad("name: x\ncommand: [a]\ncwd: \"/tmp\\0/x\"\n",
              "t.yaml:3:6: cwd: must not contain a NUL byte");
    parse_bad("name: x\nsupervisor: {strategy: \"one-for-one\\0\"}\n" KIDS,
              "supervisor.strategy: must not contain a NUL byte");
}

static void
test_errors_structure(void)
{
    parse_bad("children: [{id: a, command: [a]}]\n",
              "t.yaml:1:1: name: missing");
    parse_bad("id: x\n" KIDS, "t.yaml:1:1: id: unknown key");
    parse_bad("name: bad name\n" KIDS, "t.yaml:1:7: name: invalid id "
                                       "\"bad name\"");
    parse_bad("name: x\n", "t.yaml:1:1: children: missing (a supervisor "
                           "needs at least one child)");
    parse_bad("name: x\nchildren: []\n",
              "t.yaml:2:11: children: must not be empty");
    parse_bad("name: x\nchildren: {a: b}\n",
              "t.yaml:2:11: children: expected a list of children, got a "
              "mapping");
    parse_bad("name: x\nchildren: [a]\n",
              "t.yaml:2:12: children[0]: expected a mapping (a child with "
              "an id), got a scalar");
    parse_bad("name: x\nchildren:\n  - command: [a]\n",
              "t.yaml:3:5: id: missing (every child needs an id)");
    parse_bad("name: x\nchildren:\n  - id: a\n",
              "t.yaml:3:5: command: missing (a worker needs a command; a "
              "supervisor needs children)");
    parse_bad("name: x\ncommand: [a]\n" KIDS,
              "t.yaml:3:1: children: a deployment with a single command "
              "has no children");
    parse_bad("name: x\n? [a]\n: b\n" KIDS,
              "t.yaml:2:3: key: expected a key name, got a sequence");
    parse_bad("- a\n", "t.yaml:1:1: document: expected a mapping with name "
                       "and children at the top level, got a sequence");
    parse_bad("hello\n", "t.yaml:1:1: document: expected a mapping with "
                         "name and children at the top level, got a scalar");
}

static void
test_errors_syntax(void)
{
    parse_bad("name: x\nchildren: [\n", "t.yaml:3:1: yaml: ");
    parse_bad("name: x: y\n", "t.yaml:1:8: yaml: mapping values are not "
                               "allowed in this context");
    parse_bad("name: \"x\n", "t.yaml:2:1: yaml: found unexpected end of "
                             "stream");
    parse_bad("name: \xff\n", "t.yaml:1:7: yaml: invalid leading UTF-8 "
                              "octet");
    parse_bad("name: a\x01z\n", "t.yaml:1:8: yaml: control characters are "
                                "not allowed");
    parse_bad_len("name: a\0z\n", 10, "t.yaml:1:8: yaml: control "
                                      "characters are not allowed");
}

static void
test_errors_documents(void)
{
    parse_bad("", "t.yaml:1:1: document: is empty");
    parse_bad_len(NULL, 0, "t.yaml:1:1: document: is empty");
    parse_bad("# only a comment\n", "t.yaml:2:1: document: is empty");
    parse_bad("---\n", "document: is empty");
    parse_bad("~\n", "t.yaml:1:1: document: is empty");
    parse_bad("name: x\n" KIDS "---\nname: y\n" KIDS,
              "t.yaml:3:1: document: only one document is allowed");
    parse_bad("name: x\n" KIDS "...\n---\n",
              "t.yaml:4:1: document: only one document is allowed");
}

static void
test_errors_anchors_aliases(void)
{
    parse_bad("name: x\nchildren:\n  - &w {id: a, command: [a]}\n",
              "t.yaml:3:5: yaml: anchor &w: anchors are not allowed");
    parse_bad("name: *n\n" KIDS,
              "t.yaml:1:7: yaml: alias *n: aliases are not allowed");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [a, *b]\n",
              "t.yaml:4:18: yaml: alias *b: aliases are not allowed");
    /* Billion laughs fails at the first anchor, long before expansion. */
    parse_bad("name: x\n"
              "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
              "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
              "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
              "t.yaml:2:1: a: unknown key");
    parse_bad("name: x\n"
              "children: &a [\"lol\",\"lol\"]\n"
              "command: [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n",
              "t.yaml:2:11: yaml: anchor &a: anchors are not allowed");
}

static void
test_errors_oversize(void)
{
    size_t n = 1024 * 1024 + 1;
    char *big = naos_alloc(n + 1);
    NT_TRUE(big != NULL);
    memset(big, 'x', n);
    big[0] = '#';
    parse_bad_len(big, n, "t.yaml:1:1048577: file: is too big (1048577 "
                          "bytes; at most 1048576)");
    /* Exactly 1 MiB is read (and is an empty document here). */
    parse_bad_len(big, n - 1, "document: is empty");
    naos_free(big);
}

static void
test_errors_depth(void)
{
    /* Levels: root d1, then d2..dN, then the leaf worker. */
    char y[4096];
    for (int levels = 32; levels <= 33; levels++) {
        int n = snprintf(y, sizeof y, "name: d1\nchildren: [");
        for (int i = 2; i < levels; i++)
            n += snprintf(y + n, sizeof y - (size_t)n, "{id: d%d, children: [",
                          i);
        n += snprintf(y + n, sizeof y - (size_t)n, "{id: leaf, command: [x]}");
        for (int i = 2; i < levels; i++)
            n += snprintf(y + n, sizeof y - (size_t)n, "]}");
        snprintf(y + n, sizeof y - (size_t)n, "]\n");
        if (levels == 32) {
            struct spec_node r;
            parse_ok(y, &r);
            spec_node_fini(&r);
        } else {
            char want[128];
            unsigned col = (unsigned)(strstr(y, "{id: leaf") - y) - 9 + 1;
            snprintf(want, sizeof want,
                     "t.yaml:2:%u: children[0]: the tree is deeper than 32 "
                     "levels",
                     col);
            parse_bad(y, want);
        }
    }
}

static void
test_errors_validate_positions(void)
{
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [a]\n"
              "  - id: a\n    command: [b]\n",
              "t.yaml:5:9: x: children[1].id: duplicate id \"a\"");
    parse_bad("name: x\nchildren:\n  - id: s\n    children:\n"
              "      - {id: a, command: [a]}\n"
              "      - {id: a, command: [a]}\n",
              "t.yaml:6:14: x/s: children[1].id: duplicate id \"a\"");
    parse_bad("name: x\nchildren:\n  - id: a\n    command: [a]\n"
              "    ready: notify\n    start_timeout: 0s\n",
              "t.yaml:3:5: x/a: start_timeout: must be positive when ready "
              "is notify");
    parse_bad("name: p\nsupervisor: {strategy: simple-one-for-one}\n"
              "replicas: 2\nchildren:\n  - id: t\n"
              "    children: [{id: w, command: [w]}]\n",
              "t.yaml:5:5: p: children[0]: the template of a "
              "simple-one-for-one supervisor must be a worker");
    /* Single-worker form: the message names the synthesized child. */
    parse_bad("name: w\ncommand: [a]\nready: notify\nstart_timeout: 0\n",
              "t.yaml:1:1: w/w: start_timeout: must be positive");
}

static void
test_errbuf_optional(void)
{
    struct spec_node r;
    NT_EQ_INT(spec_yaml_parse("t.yaml", "x: [", 4, &r, NULL, 0), NAOS_EINVAL);
    NT_TRUE(is_zero(&r));
    char small[12];
    NT_EQ_INT(spec_yaml_parse(NULL, "x: 1", 4, &r, small, sizeof small),
              NAOS_EINVAL);
    NT_EQ_STR(small, "<input>:1:1");
}

/* ---- allocation failure injection ---- */

/* alloc_loop fails the k-th allocation for k = 0..limit and checks that
 * every run ends in want_final or a clean NAOS_ENOMEM (or NAOS_EINVAL if
 * want_final is NAOS_EINVAL), with *out zeroed and nothing leaked. */
static int
alloc_loop(const char *fname, const char *y, size_t len, int want_final,
           void (*check)(const struct spec_node *))
{
    long base = naos_alloc_live();
    int enomem = 0, finals = 0;
    for (long k = 0; k < 3000; k++) {
        struct spec_node r;
        memset(&r, 0x5a, sizeof r);
        naos_alloc_fail_after(k);
        int rv = spec_yaml_parse(fname, y, len, &r, err, sizeof err);
        naos_alloc_fail_after(-1);
        if (rv == NAOS_ENOMEM) {
            enomem++;
            NT_TRUE(is_zero(&r));
            NT_CONTAINS(err, "out of memory");
        } else {
            NT_EQ_INT(rv, want_final);
            finals++;
            if (rv == NAOS_OK) {
                if (check)
                    check(&r);
                spec_node_fini(&r);
            } else {
                NT_TRUE(is_zero(&r));
            }
        }
        NT_EQ_INT(naos_alloc_live(), base);
        if (finals > 0 && rv == want_final && k > enomem + 50)
            break; /* well past the last allocation */
    }
    NT_TRUE(finals > 0);
    return enomem;
}

static void
test_alloc_failures(void)
{
    size_t len;
    const char *y = slurp("research.yaml", &len);
    int n = alloc_loop("research.yaml", y, len, NAOS_OK, check_research);
    if (n < 19) /* pos 1, ids 4, children 2, argv 3+4, env 4, cwd 1 */
        NT_FAIL("only %d allocations failed", n);

    y = slurp("pool.yaml", &len);
    n = alloc_loop("pool.yaml", y, len, NAOS_OK, NULL);
    NT_TRUE(n >= 10);

    const char *s = "name: web\ncommand: [a, b]\nenv: {A: b, C: d}\n";
    n = alloc_loop("t.yaml", s, strlen(s), NAOS_OK, NULL);
    NT_TRUE(n >= 8);

    /* Documents that fail late, after much was built. */
    s = CHILD "    env: {A: 1, B: 2, A: 3}\n";
    alloc_loop("t.yaml", s, strlen(s), NAOS_EINVAL, NULL);
    s = "name: x\nchildren:\n  - id: a\n    command: [a]\n"
        "  - id: a\n    command: [b]\n";
    alloc_loop("t.yaml", s, strlen(s), NAOS_EINVAL, NULL);
}

/* agent_rc parses a project file and returns spec_yaml_parse_agent's
 * result; err gets its message. */
static int
agent_rc(const char *y, const char *name, struct spec_node *out)
{
    memset(out, 0x5a, sizeof *out);
    err[0] = '\0';
    return spec_yaml_parse_agent("naos.yaml", y, strlen(y), name, out, err,
                                 sizeof err);
}

static void
test_project_file(void)
{
    long base = naos_alloc_live();
    static const char y[] =
        "agents:\n"
        "  researcher:\n"
        "    command: [\"python3\", \"agent.py\"]\n"
        "    env: {MODEL: small}\n"
        "  pool:\n"
        "    command: ./w\n"
        "    supervisor: {strategy: simple-one-for-one}\n"
        "    replicas: 3\n"
        "    cwd: sub\n";
    struct spec_node r;
    NT_EQ_INT(agent_rc(y, "researcher", &r), NAOS_OK);
    NT_EQ_STR(r.id, "researcher");
    NT_TRUE(r.is_supervisor);
    NT_EQ_INT(r.max_restarts, SPEC_DEFAULT_MAX_RESTARTS);
    NT_EQ_INT(r.nchildren, 1);
    NT_EQ_STR(r.children[0].id, "researcher");
    static const char *const argv[] = {"python3", "agent.py"};
    check_argv(&r.children[0], 2, argv);
    NT_EQ_STR(r.children[0].env[0], "MODEL=small");
    spec_node_fini(&r);
    NT_EQ_INT(agent_rc(y, "pool", &r), NAOS_OK);
    NT_EQ_INT(r.strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_EQ_INT(r.replicas, 3);
    NT_EQ_STR(r.children[0].cwd, "sub"); /* left relative: the caller's */
    spec_node_fini(&r);
    /* no agent at all: refused, nothing sorted (the fuzzer's qsort(NULL)) */
    NT_TRUE(agent_rc("{}", "researcher", &r) != NAOS_OK);
    NT_TRUE(agent_rc("agents: {}\n", "researcher", &r) != NAOS_OK);

    NT_EQ_INT(agent_rc(y, "nobody", &r), NAOS_ENOTFOUND);
    NT_CONTAINS(err, "naos.yaml defines no agent nobody (it defines "
                     "researcher, pool)");
    NT_TRUE(is_zero(&r));
    /* every agent is checked, not only the one asked for */
    NT_EQ_INT(agent_rc("agents:\n  a: {command: [x]}\n"
                       "  b: {command: [y], colour: red}\n",
                       "a", &r),
              NAOS_EINVAL);
    NT_CONTAINS(err, "naos.yaml:3:21: colour: unknown key");
    NT_TRUE(is_zero(&r));
    /* a name written twice is refused, not only the one asked for */
    NT_EQ_INT(agent_rc("agents:\n  a: {command: [x]}\n  b: {command: [y]}\n"
                       "  c: {command: [y]}\n  b: {command: [z]}\n",
                       "a", &r),
              NAOS_EINVAL);
    NT_CONTAINS(err, "naos.yaml:5:3: b: defined twice (first at line 3)");
    NT_TRUE(is_zero(&r));
    NT_EQ_INT(agent_rc("agents:\n  a: {name: b, command: [x]}\n", "a", &r),
              NAOS_EINVAL);
    NT_CONTAINS(err, "name: an agent is named by its key");
    NT_EQ_INT(agent_rc("agents:\n  a: {children: [{id: c, command: [x]}]}\n",
                       "a", &r),
              NAOS_EINVAL);
    NT_CONTAINS(err, "command: missing (an agent of a project file is one "
                     "worker");
    NT_EQ_INT(agent_rc("agents:\n  a/b: {command: [x]}\n", "a", &r),
              NAOS_EINVAL);
    NT_CONTAINS(err, "agents: invalid name");
    NT_EQ_INT(agent_rc("name: t\ncommand: [x]\n", "t", &r), NAOS_EINVAL);
    NT_CONTAINS(err, "naos.yaml:1:1: name: unknown key (expected agents)");
    NT_EQ_INT(agent_rc("agents: [a]\n", "a", &r), NAOS_EINVAL);
    NT_CONTAINS(err, "agents: expected a mapping");
    NT_EQ_INT(naos_alloc_live(), base);
}

/* A deployment's placement: the root only, {on: NODE}; validated as a
 * node name (spec_pb_test: the protobuf round trip). */
static void
test_placement(void)
{
    struct spec_node r;
    parse_ok("name: pinned\nplacement: {on: n2}\ncommand: [sleep, '1']\n",
             &r);
    NT_EQ_STR(r.place_on, "n2");
    NT_TRUE(r.children[0].place_on == NULL);
    char verr[256];
    NT_EQ_INT(spec_validate(&r, verr, sizeof verr), NAOS_OK);
    /* a copy keeps it */
    struct spec_node cp;
    NT_EQ_INT(spec_node_copy(&cp, &r), NAOS_OK);
    NT_EQ_STR(cp.place_on, "n2");
    spec_node_fini(&cp);
    /* not below the root */
    r.children[0].place_on = naos_strdup("n3");
    NT_EQ_INT(spec_validate(&r, verr, sizeof verr), NAOS_EINVAL);
    NT_TRUE(strstr(verr, "only a deployment (the root) is placed") != NULL);
    spec_node_fini(&r);
    parse_bad("name: x\nplacement: n2\ncommand: [sleep, '1']\n",
              "placement: expected {on: NODE, require: {KEY: VALUE}}");
    parse_bad("name: x\nplacement: {where: n2}\ncommand: [sleep, '1']\n",
              "placement.where: unknown key (expected on or require)");
    parse_bad("name: x\nplacement: {}\ncommand: [sleep, '1']\n",
              "placement: needs on: NODE or require: {KEY: VALUE}");
    parse_bad("name: x\nsupervisor: {strategy: one-for-one}\nchildren:\n"
              "  - id: a\n    placement: {on: n2}\n    command: [sleep, '1']\n",
              "unknown key");
    parse_bad("name: x\nplacement: {on: 'has space'}\ncommand: [sleep, '1']\n",
              "placement: on: \"has space\" has a space");
}

/* placement.require: labels the node must have; root only; label.h's
 * bounds at their edges (16 labels, 63-byte key and value), a key twice,
 * and bad keys and values refused naming the label. */
static void
test_placement_require(void)
{
    struct spec_node r;
    parse_ok("name: gpu\nplacement: {on: n2, require: {zone: eu, gpu: 'true',"
             " empty: ''}}\ncommand: [sleep, '1']\n", &r);
    NT_EQ_STR(r.place_on, "n2");
    NT_EQ_INT(r.nrequire, 3);
    NT_EQ_STR(r.require[0].key, "zone");
    NT_EQ_STR(r.require[0].value, "eu");
    NT_EQ_STR(r.require[1].value, "true");
    NT_EQ_STR(r.require[2].value, "");
    NT_TRUE(r.children[0].nrequire == 0);
    char verr[256];
    NT_EQ_INT(spec_validate(&r, verr, sizeof verr), NAOS_OK);
    struct spec_node cp;
    NT_EQ_INT(spec_node_copy(&cp, &r), NAOS_OK);
    NT_EQ_INT(cp.nrequire, 3);
    NT_TRUE(cp.require != r.require);
    NT_EQ_STR(cp.require[1].key, "gpu");
    spec_node_fini(&cp);
    /* not below the root */
    r.children[0].require = naos_alloc(sizeof *r.require);
    r.children[0].require[0] = r.require[0];
    r.children[0].nrequire = 1;
    NT_EQ_INT(spec_validate(&r, verr, sizeof verr), NAOS_EINVAL);
    NT_CONTAINS(verr, "only a deployment (the root) is placed");
    spec_node_fini(&r);
    /* require alone, in block style */
    parse_ok("name: x\nplacement:\n  require:\n    zone: eu\n"
             "command: [sleep, '1']\n", &r);
    NT_TRUE(r.place_on == NULL);
    NT_EQ_INT(r.nrequire, 1);
    spec_node_fini(&r);

    /* 16 labels pass, 17 do not */
    char y[2048];
    int at = snprintf(y, sizeof y, "name: x\nplacement: {require: {");
    for (int i = 0; i < SPEC_LABELS_MAX; i++)
        at += snprintf(y + at, sizeof y - (size_t)at, "%sk%d: v",
                       i ? ", " : "", i);
    snprintf(y + at, sizeof y - (size_t)at, "}}\ncommand: [sleep, '1']\n");
    parse_ok(y, &r);
    NT_EQ_INT(r.nrequire, SPEC_LABELS_MAX);
    spec_node_fini(&r);
    snprintf(y + at, sizeof y - (size_t)at,
             ", k16: v}}\ncommand: [sleep, '1']\n");
    parse_bad(y, "placement.require: label k16=v: at most 16 labels");
    /* a 63-byte key and value pass, 64 bytes do not */
    char k63[64], k64[65];
    memset(k63, 'k', 63);
    k63[63] = '\0';
    memset(k64, 'k', 64);
    k64[64] = '\0';
    snprintf(y, sizeof y, "name: x\nplacement: {require: {%s: %s}}\n"
             "command: [sleep, '1']\n", k63, k63);
    parse_ok(y, &r);
    NT_EQ_INT(strlen(r.require[0].key), 63);
    NT_EQ_INT(strlen(r.require[0].value), 63);
    spec_node_fini(&r);
    snprintf(y, sizeof y, "name: x\nplacement: {require: {%s: v}}\n"
             "command: [sleep, '1']\n", k64);
    parse_bad(y, "the key is longer than 63 bytes");
    snprintf(y, sizeof y, "name: x\nplacement: {require: {k: %s}}\n"
             "command: [sleep, '1']\n", k64);
    parse_bad(y, "label k=kkkk");
    parse_bad(y, "the value is longer than 63 bytes");
    parse_bad("name: x\nplacement: {require: {zone: eu, zone: us}}\n"
              "command: [sleep, '1']\n",
              "t.yaml:2:33: placement.require: label zone=us: the key zone "
              "is given twice");
    parse_bad("name: x\nplacement: {require: {Zone: eu}}\n"
              "command: [sleep, '1']\n",
              "placement.require: label Zone=eu: the key must start");
    parse_bad("name: x\nplacement: {require: {zone: 'e u'}}\n"
              "command: [sleep, '1']\n",
              "label zone=e u: the value may hold only printable ASCII");
    parse_bad("name: x\nplacement: {require: {zone: }}\n"
              "command: [sleep, '1']\n",
              "placement.require: expected a label's value (use '' for an "
              "empty one)");
    parse_bad("name: x\nplacement: {require: [zone]}\n"
              "command: [sleep, '1']\n",
              "placement.require: expected {KEY: VALUE, ...}");
    parse_bad("name: x\nplacement: {require: {a: b}, require: {c: d}}\n"
              "command: [sleep, '1']\n",
              "placement.require: duplicate key");
}

/* A deployment's migration limits: the root only, {max: N, window: DUR},
 * either key; defaults without it (spec_test: the bounds; spec_pb_test:
 * the protobuf round trip). */
/* on_partition (issue 12): the root's only, keep or stop. */
static void
test_on_partition(void)
{
    struct spec_node r;
    parse_ok("name: x\ncommand: [sleep, '1']\n", &r);
    NT_FALSE(r.on_partition_keep);
    spec_node_fini(&r);
    parse_ok("name: x\non_partition: keep\ncommand: [sleep, '1']\n", &r);
    NT_TRUE(r.on_partition_keep);
    NT_FALSE(r.children[0].on_partition_keep);
    struct spec_node cp;
    NT_EQ_INT(spec_node_copy(&cp, &r), NAOS_OK);
    NT_TRUE(cp.on_partition_keep);
    spec_node_fini(&cp);
    spec_node_fini(&r);
    parse_ok("name: x\non_partition: stop\nchildren:\n"
             "  - {id: a, command: [sleep, '1']}\n", &r);
    NT_FALSE(r.on_partition_keep);
    spec_node_fini(&r);
    parse_bad("name: x\non_partition: maybe\ncommand: [sleep, '1']\n",
              "t.yaml:2:15: on_partition: unknown value \"maybe\" "
              "(expected keep or stop)");
    parse_bad("name: x\nchildren:\n"
              "  - id: a\n    on_partition: keep\n"
              "    command: [sleep, '1']\n",
              "t.yaml:4:5: on_partition: unknown key (expected id,");
}

static void
test_migration(void)
{
    struct spec_node r;
    parse_ok("name: x\ncommand: [sleep, '1']\n", &r);
    NT_EQ_INT(r.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(r.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    NT_EQ_INT(r.children[0].max_migrations, SPEC_MIGRATIONS_DEFAULT);
    spec_node_fini(&r);
    parse_ok("name: x\nmigration: {max: 2, window: 10m}\n"
             "command: [sleep, '1']\n", &r);
    NT_EQ_INT(r.max_migrations, 2);
    NT_EQ_INT(r.migration_window, 600000);
    NT_EQ_INT(r.children[0].max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(r.children[0].migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    struct spec_node cp;
    NT_EQ_INT(spec_node_copy(&cp, &r), NAOS_OK);
    NT_EQ_INT(cp.max_migrations, 2);
    NT_EQ_INT(cp.migration_window, 600000);
    spec_node_fini(&cp);
    spec_node_fini(&r);
    /* either key alone, block style, a tree; a bare number is seconds */
    parse_ok("name: x\nmigration:\n  max: 0\nchildren:\n"
             "  - {id: a, command: [sleep, '1']}\n", &r);
    NT_EQ_INT(r.max_migrations, 0);
    NT_EQ_INT(r.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    spec_node_fini(&r);
    parse_ok("name: x\nmigration: {window: 1h}\ncommand: [sleep, '1']\n",
             &r);
    NT_EQ_INT(r.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(r.migration_window, 3600000);
    spec_node_fini(&r);
    /* at the edges: 100 moves, 1 s and 7 days */
    parse_ok("name: x\nmigration: {max: 100, window: 1s}\n"
             "command: [sleep, '1']\n", &r);
    NT_EQ_INT(r.max_migrations, 100);
    NT_EQ_INT(r.migration_window, 1000);
    spec_node_fini(&r);
    parse_ok("name: x\nmigration: {window: 168h}\ncommand: [sleep, '1']\n",
             &r);
    NT_EQ_INT(r.migration_window, SPEC_MIGRATION_WINDOW_MAX);
    spec_node_fini(&r);
    parse_bad("name: x\nmigration: {max: 101}\ncommand: [sleep, '1']\n",
              "t.yaml:2:18: migration.max: is too large (at most 100)");
    parse_bad("name: x\nmigration: {max: -1}\ncommand: [sleep, '1']\n",
              "migration.max: must not be negative");
    parse_bad("name: x\nmigration: {window: 999ms}\ncommand: [sleep, '1']\n",
              "t.yaml:2:21: migration.window: must be at least 1s");
    parse_bad("name: x\nmigration: {window: 169h}\ncommand: [sleep, '1']\n",
              "migration.window: must be at most 7 days (168h)");
    parse_bad("name: x\nmigration: {window: soon}\ncommand: [sleep, '1']\n",
              "migration.window: invalid duration \"soon\"");
    parse_bad("name: x\nmigration: {max: 1, moves: 2}\n"
              "command: [sleep, '1']\n",
              "t.yaml:2:21: migration.moves: unknown key (expected max or "
              "window)");
    parse_bad("name: x\nmigration: {max: 1, max: 2}\ncommand: [sleep, '1']\n",
              "migration.max: duplicate key");
    parse_bad("name: x\nmigration: {}\ncommand: [sleep, '1']\n",
              "migration: needs max: N or window: DURATION");
    parse_bad("name: x\nmigration: 3\ncommand: [sleep, '1']\n",
              "migration: expected {max: N, window: DURATION}, got a scalar");
    parse_bad("name: x\nmigration: {max: 1}\nmigration: {max: 2}\n"
              "command: [sleep, '1']\n",
              "migration: duplicate key (first given at line 2)");
    /* not below the root */
    parse_bad("name: x\nchildren:\n"
              "  - id: a\n    migration: {max: 1}\n    command: [sleep, '1']\n",
              "t.yaml:4:5: migration: unknown key (expected id,");
    /* a project file's agent: its top supervisor's */
    NT_EQ_INT(spec_yaml_parse_agent("naos.yaml",
                                    "agents:\n  a:\n    command: [x]\n"
                                    "    migration: {max: 5}\n",
                                    strlen("agents:\n  a:\n    command: [x]"
                                           "\n    migration: {max: 5}\n"),
                                    "a", &r, err, sizeof err),
              NAOS_OK);
    NT_EQ_INT(r.max_migrations, 5);
    NT_EQ_INT(r.children[0].max_migrations, SPEC_MIGRATIONS_DEFAULT);
    spec_node_fini(&r);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_example_file),
        NT_CASE(test_example_block_style),
        NT_CASE(test_pool_file),
        NT_CASE(test_string_command),
        NT_CASE(test_env_forms),
        NT_CASE(test_single_worker),
        NT_CASE(test_pool_nested),
        NT_CASE(test_tags_and_nulls),
        NT_CASE(test_bad_restart_file),
        NT_CASE(test_errors_child_fields),
        NT_CASE(test_errors_command),
        NT_CASE(test_errors_env),
        NT_CASE(test_errors_backoff),
        NT_CASE(test_errors_supervisor),
        NT_CASE(test_errors_nul),
        NT_CASE(test_errors_structure),
        NT_CASE(test_errors_syntax),
        NT_CASE(test_errors_documents),
        NT_CASE(test_errors_anchors_aliases),
        NT_CASE(test_errors_oversize),
        NT_CASE(test_errors_depth),
        NT_CASE(test_errors_validate_positions),
        NT_CASE(test_errbuf_optional),
        NT_CASE(test_alloc_failures),
        NT_CASE(test_project_file),
        NT_CASE(test_placement),
        NT_CASE(test_placement_require),
        NT_CASE(test_migration),
        NT_CASE(test_on_partition),
        {0},
    };
    return nt_run(cases);
}
