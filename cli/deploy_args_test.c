/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_args_test.c: `naos deploy` flags -> spec, without a node. */
#include "cli/deploy_args.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"

/* parse a NULL-terminated literal vector (copied: getopt permutes it) */
#define MAXV 64
static int
parse(struct spec_node *out, char *err, size_t errlen, struct cli *g,
      const char *const *v)
{
    static char *argv[MAXV];
    int argc = 0;
    while (v[argc]) {
        NT_TRUE(argc < MAXV - 1);
        argv[argc] = (char *)v[argc];
        argc++;
    }
    argv[argc] = NULL;
    bool help = false;
    int rc = deploy_args_parse(argc, argv, g, &help, out, err, errlen);
    NT_FALSE(help);
    return rc;
}

#define PARSE_OK(out, ...)                                                   \
    do {                                                                     \
        static const char *const v_[] = {"deploy", __VA_ARGS__, NULL};       \
        char e_[512];                                                        \
        int rc_ = parse(out, e_, sizeof e_, NULL, v_);                       \
        if (rc_ != NAOS_OK)                                                  \
            NT_FAIL("parse failed: %s", e_);                                 \
    } while (0)

#define PARSE_BAD(needle, ...)                                               \
    do {                                                                     \
        static const char *const v_[] = {"deploy", __VA_ARGS__, NULL};       \
        char e_[512];                                                        \
        struct spec_node o_;                                                 \
        long live_ = naos_alloc_live();                                      \
        NT_EQ_INT(parse(&o_, e_, sizeof e_, NULL, v_), NAOS_EINVAL);         \
        NT_CONTAINS(e_, needle);                                             \
        NT_TRUE(o_.id == NULL && o_.children == NULL);                       \
        NT_EQ_INT(naos_alloc_live(), live_);                                 \
    } while (0)

static void
test_defaults(void)
{
    long live0 = naos_alloc_live();
    struct spec_node s;
    PARSE_OK(&s, "research", "--", "python3", "agent.py", "--verbose");
    NT_EQ_STR(s.id, "research");
    NT_TRUE(s.is_supervisor);
    NT_EQ_INT(s.strategy, SPEC_ONE_FOR_ONE);
    NT_EQ_INT(s.max_restarts, 5);
    NT_EQ_INT(s.window_s, 300);
    NT_EQ_INT(s.shutdown, SPEC_SHUTDOWN_INFINITY);
    NT_EQ_INT(s.nchildren, 1);
    const struct spec_node *w = &s.children[0];
    NT_EQ_STR(w->id, "research");
    NT_FALSE(w->is_supervisor);
    NT_EQ_INT(w->argc, 3);
    NT_EQ_STR(w->argv[0], "python3");
    NT_EQ_STR(w->argv[2], "--verbose"); /* after --: never an option */
    NT_TRUE(w->argv[3] == NULL);
    /* worker defaults are spec_node_init's */
    struct spec_node d;
    spec_node_init(&d);
    NT_EQ_INT(w->restart, d.restart);
    NT_EQ_INT(w->shutdown, d.shutdown);
    NT_EQ_INT(w->ready, d.ready);
    NT_EQ_INT(w->start_timeout, d.start_timeout);
    NT_EQ_INT(w->watchdog, 0);
    NT_EQ_INT(w->max_runtime, 0);
    NT_EQ_INT(w->backoff_min, 0);
    NT_EQ_INT(w->backoff_max, 0);
    NT_TRUE(w->env == NULL && w->envc == 0);
    char here[PATH_MAX];
    NT_TRUE(getcwd(here, sizeof here) != NULL);
    NT_EQ_STR(w->cwd, here); /* where naos deploy runs, absolute */
    spec_node_fini(&s);
    NT_EQ_INT(naos_alloc_live(), live0);
}

static void
test_single_word_with_spaces_is_argv0(void)
{
    struct spec_node s;
    PARSE_OK(&s, "a", "--", "python3 agent.py");
    NT_EQ_INT(s.children[0].argc, 1);
    NT_EQ_STR(s.children[0].argv[0], "python3 agent.py");
    spec_node_fini(&s);
}

static void
test_every_flag(void)
{
    struct spec_node s;
    PARSE_OK(&s, "--supervisor", "rest-for-one", "--max-restarts", "3",
             "--window", "1m", "--restart", "transient", "--shutdown", "2s",
             "--watchdog", "30s", "--ready", "notify", "--start-timeout",
             "45s", "--max-runtime", "1h", "--backoff", "1s:30s", "--env",
             "A=1", "--env=B=two words", "--cwd", "/srv", "--output",
             "discard", "--control", "full", "agent", "--",
             "./run", "-x");
    NT_EQ_STR(s.id, "agent"); /* NAME may come after the options */
    NT_EQ_INT(s.strategy, SPEC_REST_FOR_ONE);
    NT_EQ_INT(s.max_restarts, 3);
    NT_EQ_INT(s.window_s, 60);
    const struct spec_node *w = &s.children[0];
    NT_EQ_INT(w->restart, SPEC_TRANSIENT);
    NT_EQ_INT(w->shutdown, 2000);
    NT_EQ_INT(w->watchdog, 30000);
    NT_EQ_INT(w->ready, SPEC_READY_NOTIFY);
    NT_EQ_INT(w->output, SPEC_OUTPUT_DISCARD);
    NT_EQ_INT(w->control, SPEC_CONTROL_FULL);
    NT_EQ_INT(s.control, SPEC_CONTROL_NONE);
    NT_EQ_INT(w->start_timeout, 45000);
    NT_EQ_INT(w->max_runtime, 3600000);
    NT_EQ_INT(w->backoff_min, 1000);
    NT_EQ_INT(w->backoff_max, 30000);
    NT_EQ_INT(w->envc, 2);
    NT_EQ_STR(w->env[0], "A=1");
    NT_EQ_STR(w->env[1], "B=two words");
    NT_TRUE(w->env[2] == NULL);
    NT_EQ_STR(w->cwd, "/srv");
    NT_EQ_INT(w->argc, 2);
    NT_EQ_STR(w->argv[1], "-x");
    spec_node_fini(&s);

    PARSE_OK(&s, "a", "--shutdown", "kill", "--backoff", "500ms",
             "--supervisor", "one_for_all", "--max-restarts", "0", "--",
             "x");
    NT_EQ_INT(s.children[0].shutdown, SPEC_SHUTDOWN_KILL);
    NT_EQ_INT(s.children[0].backoff_min, 500);
    NT_EQ_INT(s.children[0].backoff_max, 500);
    NT_EQ_INT(s.strategy, SPEC_ONE_FOR_ALL);
    NT_EQ_INT(s.max_restarts, 0);
    spec_node_fini(&s);
}

static void
test_replicas_pool(void)
{
    struct spec_node s;
    PARSE_OK(&s, "pool", "--replicas", "4", "--", "worker");
    NT_EQ_INT(s.strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_EQ_INT(s.replicas, 4);
    NT_EQ_INT(s.nchildren, 1);
    NT_EQ_STR(s.children[0].id, "pool");
    spec_node_fini(&s);

    PARSE_OK(&s, "pool", "--supervisor", "simple-one-for-one", "--", "w");
    NT_EQ_INT(s.strategy, SPEC_SIMPLE_ONE_FOR_ONE);
    NT_EQ_INT(s.replicas, 1);
    NT_EQ_INT(s.nchildren, 1);
    spec_node_fini(&s);

    PARSE_OK(&s, "pool", "--supervisor", "simple-one-for-one", "--replicas",
             "7", "--", "w");
    NT_EQ_INT(s.replicas, 7);
    NT_EQ_INT(s.nchildren, 1);
    spec_node_fini(&s);
}

static void
test_replicas_numbered(void)
{
    struct spec_node s;
    PARSE_OK(&s, "crew", "--supervisor", "one-for-all", "--replicas", "3",
             "--env", "K=V", "--", "agent");
    NT_EQ_INT(s.strategy, SPEC_ONE_FOR_ALL);
    NT_EQ_INT(s.replicas, 0);
    NT_EQ_INT(s.nchildren, 3);
    NT_EQ_STR(s.children[0].id, "crew-1");
    NT_EQ_STR(s.children[2].id, "crew-3");
    for (int i = 0; i < 3; i++) {
        NT_EQ_STR(s.children[i].argv[0], "agent");
        NT_EQ_STR(s.children[i].env[0], "K=V");
    }
    spec_node_fini(&s);

    PARSE_OK(&s, "one", "--supervisor", "one-for-one", "--replicas", "1",
             "--", "a");
    NT_EQ_INT(s.nchildren, 1);
    NT_EQ_STR(s.children[0].id, "one");
    spec_node_fini(&s);
}

static void
test_bad_input(void)
{
    PARSE_BAD("--supervisor: unknown strategy \"best\"", "a", "--supervisor",
              "best", "--", "x");
    PARSE_BAD("--max-restarts: \"-1\" is not a whole number", "a",
              "--max-restarts", "-1", "--", "x");
    PARSE_BAD("--max-restarts: \"abc\"", "a", "--max-restarts", "abc", "--",
              "x");
    PARSE_BAD("--max-restarts: \"99999999999\"", "a", "--max-restarts",
              "99999999999", "--", "x");
    /* Spec limits (issue 9: these asked the node for 32 GB). */
    PARSE_BAD("--max-restarts: \"2000000000\" is not a whole number from 0 "
              "to 1000000",
              "a", "--max-restarts", "2000000000", "--", "x");
    PARSE_BAD("--max-restarts: \"1000001\"", "a", "--max-restarts",
              "1000001", "--", "x");
    PARSE_BAD("--window: \"2000000000s\" is not a whole number of seconds "
              "from 1s to 86400s (24h)",
              "a", "--window", "2000000000s", "--", "x");
    PARSE_BAD("--window: \"86401s\"", "a", "--window", "86401s", "--", "x");
    PARSE_BAD("--replicas: \"100000\" is not a number from 1 to 10000", "a",
              "--replicas", "100000", "--", "x");
    PARSE_BAD("--replicas: \"10001\"", "a", "--replicas", "10001", "--",
              "x");
    PARSE_BAD("--window: \"0s\"", "a", "--window", "0s", "--", "x");
    PARSE_BAD("--window: \"1500ms\"", "a", "--window", "1500ms", "--", "x");
    PARSE_BAD("--replicas: \"0\"", "a", "--replicas", "0", "--", "x");
    PARSE_BAD("--restart: unknown restart type", "a", "--restart", "always",
              "--", "x");
    PARSE_BAD("--shutdown: \"soon\"", "a", "--shutdown", "soon", "--", "x");
    PARSE_BAD("--watchdog: \"-1s\"", "a", "--watchdog", "-1s", "--", "x");
    PARSE_BAD("--ready: unknown mode", "a", "--ready", "later", "--", "x");
    PARSE_BAD("--output: unknown mode \"syslog\" (log, discard)", "a",
              "--output", "syslog", "--", "x");
    PARSE_BAD("--control: unknown value \"all\" (none, full)", "a",
              "--control", "all", "--", "x");
    PARSE_BAD("--start-timeout: \"0\" is not a positive duration", "a",
              "--start-timeout", "0", "--", "x");
    PARSE_BAD("--backoff: MIN (5s) is above MAX", "a", "--backoff", "5s:1s",
              "--", "x");
    PARSE_BAD("--backoff: \"1s:\"", "a", "--backoff", "1s:", "--", "x");
    PARSE_BAD("put the command after `--`", "a", "python3", "x.py");
    PARSE_BAD("no naos.yaml in", "a");
    PARSE_BAD("missing command after `--`", "a", "--");
    PARSE_BAD("command: must not be empty", "a", "--", "");
    PARSE_BAD("missing NAME", "--", "x");
    PARSE_BAD("--env: \"NOEQUALS\" is not KEY=VALUE", "a", "--env",
              "NOEQUALS", "--", "x");
    PARSE_BAD("--env: \"=v\"", "a", "--env", "=v", "--", "x");
    PARSE_BAD("--env: \"1A=v\"", "a", "--env", "1A=v", "--", "x");
    PARSE_BAD("--cwd: must not be empty", "a", "--cwd", "", "--", "x");
    PARSE_BAD("unknown option --frobnicate", "a", "--frobnicate", "--", "x");
    PARSE_BAD("option --cwd needs a value", "a", "--cwd");
    /* a long option is named as written, not by its short letter */
    PARSE_BAD("option --file needs a value", "a", "--file");
    PARSE_BAD("option -f needs a value", "a", "-f");
    PARSE_BAD("unknown option -x", "a", "--no-wait", "-xf", "y", "--", "x");
    PARSE_BAD("unknown option -x", "a", "--no-wait", "-fy", "-x", "--", "x");
    PARSE_BAD("unknown option --json", "a", "--json", "--", "x"); /* g NULL */
    PARSE_BAD("unexpected argument \"b\"", "a", "b", "--", "x");
    /* spec_validate's messages come through */
    PARSE_BAD("id", "bad/name", "--", "x");
    PARSE_BAD("too long to number", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
              "--supervisor", "one-for-one", "--replicas", "10", "--", "x");
}

/* The limits themselves are accepted (spec.h: SPEC_LIMIT_*, 10000
 * workers). */
static void
test_limit_edges(void)
{
    struct spec_node s;
    PARSE_OK(&s, "a", "--max-restarts", "1000000", "--window", "86400s",
             "--", "x");
    NT_EQ_INT(s.max_restarts, 1000000);
    NT_EQ_INT(s.window_s, 86400);
    spec_node_fini(&s);
    PARSE_OK(&s, "a", "--window", "24h", "--", "x");
    NT_EQ_INT(s.window_s, 86400);
    spec_node_fini(&s);
    PARSE_OK(&s, "a", "--replicas", "10000", "--output", "discard", "--",
             "x");
    NT_EQ_INT(s.replicas, 10000);
    spec_node_fini(&s);
    PARSE_OK(&s, "a", "--supervisor", "one-for-one", "--replicas", "10000",
             "--", "x");
    NT_EQ_INT(s.nchildren, 10000);
    spec_node_fini(&s);
}

static void
test_help_and_globals(void)
{
    static char *hv[] = {(char *)"deploy", (char *)"--help", NULL};
    struct spec_node s;
    bool help = false;
    char err[256];
    NT_EQ_INT(deploy_args_parse(2, hv, NULL, &help, &s, err, sizeof err),
              NAOS_OK);
    NT_TRUE(help);
    NT_TRUE(s.id == NULL);
    NT_CONTAINS(deploy_args_help, "default 5");
    NT_CONTAINS(deploy_args_help, "300s");
    NT_CONTAINS(deploy_args_help, "sh -c");

    struct cli g = CLI_ZERO;
    static const char *const v[] = {"deploy", "--json", "--timeout", "3s",
                                    "--run", "/tmp/x", "a", "--", "x", NULL};
    NT_EQ_INT(parse(&s, err, sizeof err, &g, v), NAOS_OK);
    NT_TRUE(g.json);
    NT_EQ_INT(g.timeout_ms, 3000);
    NT_EQ_STR(g.run_dir, "/tmp/x");
    spec_node_fini(&s);

    static const char *const bad[] = {"deploy", "--timeout", "never", "a",
                                      "--", "x", NULL};
    NT_EQ_INT(parse(&s, err, sizeof err, &g, bad), NAOS_EINVAL);
    NT_CONTAINS(err, "--timeout: \"never\"");
}

/* A project file in a temp dir: NAME alone deploys its agent, in the
 * file's directory; flags override the file; -f from elsewhere; a
 * relative --cwd resolved here. (Each case runs in its own process.) */
static void
test_project_file(void)
{
    char dir[] = "/tmp/naos-dargs-XXXXXX";
    NT_TRUE(mkdtemp(dir) != NULL);
    char path[PATH_MAX], sub[PATH_MAX];
    snprintf(path, sizeof path, "%s/naos.yaml", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    FILE *f = fopen(path, "w");
    NT_TRUE(f != NULL);
    fputs("agents:\n"
          "  researcher:\n"
          "    command: [\"python3\", \"agent.py\"]\n"
          "    env: {MODEL: small, KEEP: yes}\n"
          "    supervisor: {max_restarts: 2, window: 10s}\n"
          "    placement: {require: {zone: eu, gpu: 'true'}}\n"
          "    migration: {max: 5, window: 2h}\n"
          "  tools:\n"
          "    command: ./tools --fast\n"
          "    cwd: bin\n",
          f);
    fclose(f);
    NT_EQ_INT(mkdir(sub, 0700), 0);
    NT_EQ_INT(chdir(dir), 0);
    char here[PATH_MAX];
    NT_TRUE(getcwd(here, sizeof here) != NULL);

    struct spec_node s;
    PARSE_OK(&s, "researcher", "--supervisor", "one-for-one",
             "--max-restarts", "5", "--env", "MODEL=big");
    NT_EQ_INT(s.max_restarts, 5);  /* the flag wins */
    NT_EQ_INT(s.window_s, 10);     /* the file's */
    const struct spec_node *w = &s.children[0];
    NT_EQ_STR(w->id, "researcher");
    NT_EQ_STR(w->argv[1], "agent.py");
    NT_EQ_INT(w->envc, 2);
    NT_EQ_STR(w->env[0], "KEEP=yes");
    NT_EQ_STR(w->env[1], "MODEL=big");
    NT_EQ_STR(w->cwd, here);
    NT_EQ_INT(s.nrequire, 2); /* the file's */
    NT_EQ_STR(s.require[1].key, "gpu");
    NT_EQ_INT(s.max_migrations, 5); /* the file's */
    NT_EQ_INT(s.migration_window, 2 * 3600 * 1000);
    spec_node_fini(&s);
    /* each migration flag replaces its key of the file's */
    PARSE_OK(&s, "researcher", "--max-migrations", "0");
    NT_EQ_INT(s.max_migrations, 0);
    NT_EQ_INT(s.migration_window, 2 * 3600 * 1000);
    spec_node_fini(&s);
    PARSE_OK(&s, "researcher", "--migration-window", "10m");
    NT_EQ_INT(s.max_migrations, 5);
    NT_EQ_INT(s.migration_window, 600000);
    spec_node_fini(&s);
    PARSE_OK(&s, "tools"); /* no migration: in the file: the defaults */
    NT_EQ_INT(s.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(s.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    spec_node_fini(&s);
    /* --require replaces the file's require */
    PARSE_OK(&s, "researcher", "--require", "zone=us");
    NT_EQ_INT(s.nrequire, 1);
    NT_EQ_STR(s.require[0].value, "us");
    spec_node_fini(&s);

    /* a relative cwd of the file is the file's; -- CMD overrides it */
    NT_EQ_INT(chdir("sub"), 0);
    char want[PATH_MAX + 8];
    snprintf(want, sizeof want, "%s/bin", here);
    PARSE_OK(&s, "tools", "-f", "../naos.yaml");
    NT_TRUE(strstr(s.children[0].cwd, "/sub/../bin") != NULL ||
            strcmp(s.children[0].cwd, want) == 0);
    NT_EQ_STR(s.children[0].argv[2], "./tools --fast");
    spec_node_fini(&s);
    PARSE_OK(&s, "tools", "-f", "../naos.yaml", "--cwd", "x", "--", "y");
    snprintf(want, sizeof want, "%s/sub/x", here);
    NT_EQ_STR(s.children[0].cwd, want);
    NT_EQ_STR(s.children[0].argv[0], "y");
    spec_node_fini(&s);

    /* no file here; no such agent there */
    PARSE_BAD("no naos.yaml in", "researcher");
    PARSE_BAD("defines no agent nope (it defines researcher, tools)", "nope",
              "-f", "../naos.yaml");
    NT_EQ_INT(chdir("/"), 0);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

/* --require KEY=VALUE: repeatable, kept in order at the root; label.h's
 * bounds at their edges, and bad input refused naming the label. */
static void
test_require(void)
{
    struct spec_node s;
    PARSE_OK(&s, "r", "--require", "zone=eu", "--require", "gpu=", "--on",
             "n1", "--", "sleep", "1");
    NT_EQ_INT(s.nrequire, 2);
    NT_EQ_STR(s.require[0].key, "zone");
    NT_EQ_STR(s.require[0].value, "eu");
    NT_EQ_STR(s.require[1].key, "gpu");
    NT_EQ_STR(s.require[1].value, "");
    NT_EQ_STR(s.place_on, "n1");
    NT_EQ_INT(s.children[0].nrequire, 0);
    char err[256];
    NT_EQ_INT(spec_validate(&s, err, sizeof err), NAOS_OK);
    spec_node_fini(&s);
    PARSE_OK(&s, "r", "--", "sleep", "1");
    NT_EQ_INT(s.nrequire, 0);
    NT_TRUE(s.require == NULL);
    spec_node_fini(&s);
    /* 16 pass, the 17th is refused */
    PARSE_OK(&s, "r", "--require", "a=1", "--require", "b=1", "--require",
             "c=1", "--require", "d=1", "--require", "e=1", "--require",
             "f=1", "--require", "g=1", "--require", "h=1", "--require",
             "i=1", "--require", "j=1", "--require", "k=1", "--require",
             "l=1", "--require", "m=1", "--require", "n=1", "--require",
             "o=1", "--require", "p=1", "--", "sleep", "1");
    NT_EQ_INT(s.nrequire, 16);
    spec_node_fini(&s);
    PARSE_BAD("--require: label q=1: at most 16 labels", "r", "--require",
              "a=1", "--require", "b=1", "--require", "c=1", "--require",
              "d=1", "--require", "e=1", "--require", "f=1", "--require",
              "g=1", "--require", "h=1", "--require", "i=1", "--require",
              "j=1", "--require", "k=1", "--require", "l=1", "--require",
              "m=1", "--require", "n=1", "--require", "o=1", "--require",
              "p=1", "--require", "q=1", "--", "sleep", "1");
    /* 63-byte key and value pass; 64 do not */
    static const char k63v63[] =
        "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk="
        "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
    PARSE_OK(&s, "r", "--require", k63v63, "--", "sleep", "1");
    NT_EQ_INT(strlen(s.require[0].key), 63);
    NT_EQ_INT(strlen(s.require[0].value), 63);
    spec_node_fini(&s);
    PARSE_BAD("--require: label kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
              "kkkkkkkkkkkkkkkk=v: the key is longer than 63 bytes", "r",
              "--require",
              "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"
              "=v", "--", "sleep", "1");
    PARSE_BAD("the value is longer than 63 bytes", "r", "--require",
              "k=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv"
              "vv", "--", "sleep", "1");
    PARSE_BAD("--require: label zone: expected KEY=VALUE", "r", "--require",
              "zone", "--", "sleep", "1");
    PARSE_BAD("--require: label zone=us: the key zone is given twice", "r",
              "--require", "zone=eu", "--require", "zone=us", "--", "sleep",
              "1");
    PARSE_BAD("--require: label Zone=eu: the key must start", "r",
              "--require", "Zone=eu", "--", "sleep", "1");
    PARSE_BAD("--require: label zone=e u: the value may hold only", "r",
              "--require", "zone=e u", "--", "sleep", "1");
}

/* --max-migrations N --migration-window DUR: kept at the root (the
 * worker keeps the defaults); spec.h's bounds at their edges, bad values
 * refused naming the flag. */
static void
test_migration(void)
{
    struct spec_node s;
    PARSE_OK(&s, "r", "--", "sleep", "1");
    NT_EQ_INT(s.max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(s.migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    spec_node_fini(&s);
    PARSE_OK(&s, "r", "--max-migrations", "2", "--migration-window", "10m",
             "--", "sleep", "1");
    NT_EQ_INT(s.max_migrations, 2);
    NT_EQ_INT(s.migration_window, 600000);
    NT_EQ_INT(s.children[0].max_migrations, SPEC_MIGRATIONS_DEFAULT);
    NT_EQ_INT(s.children[0].migration_window, SPEC_MIGRATION_WINDOW_DEFAULT);
    char err[256];
    NT_EQ_INT(spec_validate(&s, err, sizeof err), NAOS_OK);
    spec_node_fini(&s);
    PARSE_OK(&s, "r", "--max-migrations", "0", "--migration-window", "1s",
             "--", "sleep", "1");
    NT_EQ_INT(s.max_migrations, 0);
    NT_EQ_INT(s.migration_window, 1000);
    spec_node_fini(&s);
    PARSE_OK(&s, "r", "--max-migrations", "100", "--migration-window", "168h",
             "--", "sleep", "1");
    NT_EQ_INT(s.max_migrations, 100);
    NT_EQ_INT(s.migration_window, SPEC_MIGRATION_WINDOW_MAX);
    spec_node_fini(&s);
    PARSE_BAD("--max-migrations: \"101\" is not a whole number from 0 to 100",
              "r", "--max-migrations", "101", "--", "sleep", "1");
    PARSE_BAD("--max-migrations: \"-1\"", "r", "--max-migrations", "-1",
              "--", "sleep", "1");
    PARSE_BAD("--max-migrations: \"3x\"", "r", "--max-migrations", "3x",
              "--", "sleep", "1");
    PARSE_BAD("--migration-window: \"999ms\" is not a duration from 1s to 7 "
              "days", "r", "--migration-window", "999ms", "--", "sleep", "1");
    PARSE_BAD("--migration-window: \"169h\"", "r", "--migration-window",
              "169h", "--", "sleep", "1");
    PARSE_BAD("--migration-window: \"soon\"", "r", "--migration-window",
              "soon", "--", "sleep", "1");
    PARSE_BAD("--migration-window", "r", "--migration-window", "0", "--",
              "sleep", "1");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_defaults),
        NT_CASE(test_single_word_with_spaces_is_argv0),
        NT_CASE(test_every_flag),
        NT_CASE(test_replicas_pool),
        NT_CASE(test_replicas_numbered),
        NT_CASE(test_bad_input),
        NT_CASE(test_limit_edges),
        NT_CASE(test_help_and_globals),
        NT_CASE(test_project_file),
        NT_CASE(test_require),
        NT_CASE(test_migration),
        {0},
    };
    return nt_run(cases);
}
