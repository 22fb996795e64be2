/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_args.c: `naos deploy` flags -> spec tree. */
#include "cli/deploy_args.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <limits.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/time.h"
#include "node/spec/spec_yaml.h"

const char deploy_args_help[] =
    "Usage: naos deploy NAME [OPTIONS] [-- CMD [ARGS...]]\n"
    "\n"
    "Deploy one agent: a supervisor NAME with one worker NAME running CMD\n"
    "ARGS directly (no shell; a single CMD word with spaces is still one\n"
    "program name). For a shell command line use: -- sh -c 'CMD | ...'\n"
    "Without `-- CMD`, the agent NAME comes from the project file naos.yaml\n"
    "in the current directory (or -f FILE); the options given here override\n"
    "what the file says:\n"
    "\n"
    "  agents:\n"
    "    researcher:\n"
    "      command: [\"python3\", \"agent.py\"]   # or a string run by /bin/sh -c\n"
    "      env: {MODEL: small}                # any worker field of a tree file\n"
    "\n"
    "The worker runs in the directory naos deploy was run from (with a\n"
    "project file: the file's directory), sent to the node as an absolute\n"
    "path. naos does not ship code between hosts: that directory and the\n"
    "program must exist on the node that runs the agent.\n"
    "\n"
    "deploy waits until the first run of every worker has started (ready:\n"
    "exec, and still running 1s later; ready: notify, READY=1) or failed. A\n"
    "failed first start is reported with its reason (missing program,\n"
    "missing directory, the program's last output), the deployment is\n"
    "removed again, and the exit code is 100.\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE      project file to take NAME from (default\n"
    "                       ./naos.yaml)\n"
    "  --no-wait            return once the node has accepted the deployment\n"
    "  --on NODE            in a cluster, run it on NODE (by name; refused\n"
    "                       while NODE is not alive); default: the node\n"
    "                       with the fewest deployments\n"
    "  --require KEY=VALUE  in a cluster, run it only on a node started with\n"
    "                       `naos-node start --label KEY=VALUE` (repeatable:\n"
    "                       every one must match; with --on, NODE must have\n"
    "                       them). At most 16, no KEY twice; KEY 1..63 bytes\n"
    "                       of a-z 0-9 . _ - from a letter or digit, VALUE\n"
    "                       0..63 printable bytes without space or '='; all\n"
    "                       together at most 512 bytes. Replaces the project\n"
    "                       file's placement.require. Refused, changing\n"
    "                       nothing, when no live node has them\n"
    "  --max-migrations N   in a cluster, when the deployment gives up on its\n"
    "                       node (more restarts than its intensity allows),\n"
    "                       move it to another node at most N times (0 to\n"
    "                       100; 0 = never; default 3) within the window.\n"
    "                       Replaces the project file's migration.max\n"
    "  --migration-window DUR\n"
    "                       that window (1s to 7 days; default 1h). Replaces\n"
    "                       the project file's migration.window. Both are\n"
    "                       kept with the deployment for the cluster's root\n"
    "                       supervisor\n"
    "  --on-partition keep|stop\n"
    "                       in a cluster, when its node holds no lease (cut\n"
    "                       off from the voters' majority, or they lost it):\n"
    "                       stop it (default: the root supervisor may start\n"
    "                       it elsewhere, never twice) or keep it running\n"
    "                       (for an idempotent agent that may run twice).\n"
    "                       Replaces the project file's on_partition\n"
    "\n"
    "Supervisor options:\n"
    "  --supervisor S       one-for-one (default), one-for-all, rest-for-one\n"
    "                       or simple-one-for-one\n"
    "  --max-restarts N     restart intensity: give up after more than N\n"
    "                       restarts within the window (at most 1000000)\n"
    "  --window DUR         intensity window, whole seconds up to 24h\n"
    "                       Default intensity, as in tree files:\n"
    "                       5 restarts in 300s\n"
    "  --replicas N         run N copies (1 to 10000): without --supervisor\n"
    "                       (or with simple-one-for-one) a pool of N from one\n"
    "                       template; with one-for-one/one-for-all/\n"
    "                       rest-for-one, N workers NAME-1..NAME-N\n"
    "\n"
    "Worker options:\n"
    "  --restart R          permanent (default), transient or temporary\n"
    "  --shutdown DUR|kill  grace between SIGTERM and SIGKILL (default 5s);\n"
    "                       kill = SIGKILL at once\n"
    "  --watchdog DUR       the worker must send WATCHDOG=1 this often\n"
    "                       (default off)\n"
    "  --ready exec|notify  started at exec (default) or at READY=1\n"
    "  --start-timeout DUR  READY=1 must come within this (default 30s)\n"
    "  --max-runtime DUR    end each run after this long (default unlimited)\n"
    "  --backoff MIN[:MAX]  delay before a restart, doubling from MIN up to\n"
    "                       MAX after each quick failure, with jitter, never\n"
    "                       below MIN (MAX defaults to MIN; default none)\n"
    "  --env K=V            add K=V to the environment (repeatable)\n"
    "  --cwd DIR            working directory (default: see above; a\n"
    "                       relative DIR is taken from the current one)\n"
    "  --output log|discard stdout and stderr to the worker's rotated log\n"
    "                       (default; see `naos logs`) or to /dev/null\n"
    "  --control none|full  what the agent may ask of the node: none (default)\n"
    "                       = its own checkpoint and status, through the\n"
    "                       agent endpoint in $NAOS_CTL; full = anything the\n"
    "                       operator may (deploy, rm, ... any deployment)\n"
    "\n"
    "DUR is a duration such as 500ms, 30s, 5m, 1h (a bare number is\n"
    "seconds).\n"
    "\n" CLI_GLOBAL_HELP
    "\n"
    "Examples:\n"
    "  naos deploy research --max-restarts 3 --window 1m \\\n"
    "      --env MODEL=small -- python3 agent.py --verbose\n"
    "  naos deploy researcher --supervisor one-for-one --max-restarts 5\n";

enum {
    O_SUP = CLI_OPT_FIRST_LOCAL,
    O_MAX_RESTARTS,
    O_WINDOW,
    O_REPLICAS,
    O_RESTART,
    O_SHUTDOWN,
    O_WATCHDOG,
    O_READY,
    O_START_TIMEOUT,
    O_MAX_RUNTIME,
    O_BACKOFF,
    O_ENV,
    O_CWD,
    O_OUTPUT,
    O_CONTROL,
    O_NO_WAIT,
    O_ON,
    O_REQUIRE,
    O_MAX_MIGRATIONS,
    O_MIGRATION_WINDOW,
    O_ON_PARTITION,
};

static const struct option longopts[] = {
    {"supervisor", required_argument, NULL, O_SUP},
    {"max-restarts", required_argument, NULL, O_MAX_RESTARTS},
    {"window", required_argument, NULL, O_WINDOW},
    {"replicas", required_argument, NULL, O_REPLICAS},
    {"restart", required_argument, NULL, O_RESTART},
    {"shutdown", required_argument, NULL, O_SHUTDOWN},
    {"watchdog", required_argument, NULL, O_WATCHDOG},
    {"ready", required_argument, NULL, O_READY},
    {"start-timeout", required_argument, NULL, O_START_TIMEOUT},
    {"max-runtime", required_argument, NULL, O_MAX_RUNTIME},
    {"backoff", required_argument, NULL, O_BACKOFF},
    {"env", required_argument, NULL, O_ENV},
    {"cwd", required_argument, NULL, O_CWD},
    {"output", required_argument, NULL, O_OUTPUT},
    {"control", required_argument, NULL, O_CONTROL},
    {"file", required_argument, NULL, 'f'},
    {"no-wait", no_argument, NULL, O_NO_WAIT},
    {"on", required_argument, NULL, O_ON},
    {"require", required_argument, NULL, O_REQUIRE},
    {"max-migrations", required_argument, NULL, O_MAX_MIGRATIONS},
    {"on-partition", required_argument, NULL, O_ON_PARTITION},
    {"migration-window", required_argument, NULL, O_MIGRATION_WINDOW},
    CLI_GLOBAL_LONGOPTS,
    {NULL, 0, NULL, 0},
};

/* What the flags said, before the tree is built. Strings are borrowed
 * from argv. */
struct dargs {
    const char *name;
    bool sup_given;
    enum spec_strategy strategy;
    bool max_restarts_given;
    uint32_t max_restarts;
    bool window_given;
    uint32_t window_s;
    uint32_t replicas; /* 0 = not given */
    bool restart_given;
    enum spec_restart restart;
    bool shutdown_given;
    naos_duration shutdown;
    bool watchdog_given;
    naos_duration watchdog;
    bool ready_given;
    enum spec_ready ready;
    bool output_given;
    enum spec_output output;
    bool control_given;
    enum spec_control control;
    bool start_timeout_given;
    naos_duration start_timeout;
    bool max_runtime_given;
    naos_duration max_runtime;
    bool backoff_given;
    naos_duration backoff_min, backoff_max;
    const char **env;
    size_t envc;
    const char *cwd;
    const char *on;    /* --on */
    struct spec_label require[SPEC_LABELS_MAX]; /* --require */
    size_t nrequire;
    bool max_migrations_given; /* --max-migrations */
    uint32_t max_migrations;
    bool migration_window_given; /* --migration-window */
    naos_duration migration_window;
    bool on_partition_given; /* --on-partition */
    bool on_partition_keep;
    char **cmd;
    size_t cmdc;
    const char *file;  /* -f */
    bool no_wait;
};

/* parse_u32: a plain decimal number in [min, max]; no sign, no spaces. */
static bool
parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = (uint32_t)v;
    return true;
}

static bool
parse_dur(const char *opt, const char *s, bool allow_zero,
          naos_duration *out, char *err, size_t errlen)
{
    naos_duration d;
    if (!naos_duration_parse(s, &d) || (!allow_zero && d == 0)) {
        snprintf(err, errlen,
                 "%s: \"%s\" is not a %sduration like 30s, 500ms or 5m", opt,
                 s, allow_zero ? "" : "positive ");
        return false;
    }
    *out = d;
    return true;
}

/* env_ok: KEY=VALUE with KEY a shell-style name. */
static bool
env_ok(const char *s)
{
    const char *eq = strchr(s, '=');
    if (eq == NULL || eq == s)
        return false;
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; p < eq; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

static int
one_opt(struct dargs *a, int opt, const char *arg, char *err, size_t errlen)
{
    switch (opt) {
    case O_SUP:
        if (!spec_strategy_parse(arg, &a->strategy)) {
            snprintf(err, errlen,
                     "--supervisor: unknown strategy \"%s\" (one-for-one, "
                     "one-for-all, rest-for-one, simple-one-for-one)",
                     arg);
            return NAOS_EINVAL;
        }
        a->sup_given = true;
        return NAOS_OK;
    case O_MAX_RESTARTS:
        if (!parse_u32(arg, 0, SPEC_LIMIT_MAX_RESTARTS, &a->max_restarts)) {
            snprintf(err, errlen,
                     "--max-restarts: \"%s\" is not a whole number from 0 "
                     "to %u",
                     arg, (unsigned)SPEC_LIMIT_MAX_RESTARTS);
            return NAOS_EINVAL;
        }
        a->max_restarts_given = true;
        return NAOS_OK;
    case O_WINDOW: {
        naos_duration d;
        if (!naos_duration_parse(arg, &d) || d < 1000 || d % 1000 != 0 ||
            d / 1000 > SPEC_LIMIT_WINDOW_S) {
            snprintf(err, errlen,
                     "--window: \"%s\" is not a whole number of seconds "
                     "from 1s to %us (24h), like 300s or 5m",
                     arg, (unsigned)SPEC_LIMIT_WINDOW_S);
            return NAOS_EINVAL;
        }
        a->window_s = (uint32_t)(d / 1000);
        a->window_given = true;
        return NAOS_OK;
    }
    case O_REPLICAS:
        if (!parse_u32(arg, 1, SPEC_MAX_REPLICAS, &a->replicas)) {
            snprintf(err, errlen, "--replicas: \"%s\" is not a number from 1 "
                     "to %d", arg, SPEC_MAX_REPLICAS);
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    case O_RESTART:
        if (!spec_restart_parse(arg, &a->restart)) {
            snprintf(err, errlen,
                     "--restart: unknown restart type \"%s\" (permanent, "
                     "transient, temporary)",
                     arg);
            return NAOS_EINVAL;
        }
        a->restart_given = true;
        return NAOS_OK;
    case O_SHUTDOWN:
        if (!spec_shutdown_parse(arg, &a->shutdown)) {
            snprintf(err, errlen,
                     "--shutdown: \"%s\" is not a duration like 5s, or kill",
                     arg);
            return NAOS_EINVAL;
        }
        a->shutdown_given = true;
        return NAOS_OK;
    case O_WATCHDOG:
        a->watchdog_given = true;
        return parse_dur("--watchdog", arg, true, &a->watchdog, err, errlen)
                   ? NAOS_OK
                   : NAOS_EINVAL;
    case O_READY:
        if (!spec_ready_parse(arg, &a->ready)) {
            snprintf(err, errlen,
                     "--ready: unknown mode \"%s\" (exec, notify)", arg);
            return NAOS_EINVAL;
        }
        a->ready_given = true;
        return NAOS_OK;
    case O_OUTPUT:
        if (!spec_output_parse(arg, &a->output)) {
            snprintf(err, errlen,
                     "--output: unknown mode \"%s\" (log, discard)", arg);
            return NAOS_EINVAL;
        }
        a->output_given = true;
        return NAOS_OK;
    case O_CONTROL:
        if (!spec_control_parse(arg, &a->control)) {
            snprintf(err, errlen,
                     "--control: unknown value \"%s\" (none, full)", arg);
            return NAOS_EINVAL;
        }
        a->control_given = true;
        return NAOS_OK;
    case O_START_TIMEOUT:
        a->start_timeout_given = true;
        return parse_dur("--start-timeout", arg, false, &a->start_timeout, err,
                         errlen)
                   ? NAOS_OK
                   : NAOS_EINVAL;
    case O_MAX_RUNTIME:
        a->max_runtime_given = true;
        return parse_dur("--max-runtime", arg, true, &a->max_runtime, err,
                         errlen)
                   ? NAOS_OK
                   : NAOS_EINVAL;
    case O_BACKOFF: {
        char minbuf[64];
        const char *colon = strchr(arg, ':');
        size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
        naos_duration lo, hi;
        if (n >= sizeof minbuf) {
            snprintf(err, errlen, "--backoff: \"%s\" is not MIN[:MAX]", arg);
            return NAOS_EINVAL;
        }
        memcpy(minbuf, arg, n);
        minbuf[n] = '\0';
        if (!naos_duration_parse(minbuf, &lo) ||
            (colon && !naos_duration_parse(colon + 1, &hi))) {
            snprintf(err, errlen,
                     "--backoff: \"%s\" is not MIN[:MAX] with durations like "
                     "1s:30s",
                     arg);
            return NAOS_EINVAL;
        }
        if (!colon)
            hi = lo;
        if (lo > hi) {
            snprintf(err, errlen, "--backoff: MIN (%s) is above MAX", minbuf);
            return NAOS_EINVAL;
        }
        a->backoff_given = true;
        a->backoff_min = lo;
        a->backoff_max = hi;
        return NAOS_OK;
    }
    case O_ENV:
        if (!env_ok(arg)) {
            snprintf(err, errlen,
                     "--env: \"%s\" is not KEY=VALUE (KEY: letters, digits, "
                     "_; not starting with a digit)",
                     arg);
            return NAOS_EINVAL;
        }
        if (a->envc >= DEPLOY_MAX_ENV) {
            snprintf(err, errlen, "--env: more than %d variables",
                     DEPLOY_MAX_ENV);
            return NAOS_EINVAL;
        }
        a->env[a->envc++] = arg;
        return NAOS_OK;
    case O_CWD:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "--cwd: must not be empty");
            return NAOS_EINVAL;
        }
        a->cwd = arg;
        return NAOS_OK;
    case O_ON:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "--on: must not be empty (a node's name, "
                     "as `naos nodes` shows it)");
            return NAOS_EINVAL;
        }
        a->on = arg;
        return NAOS_OK;
    case O_REQUIRE: {
        struct spec_label one;
        char lerr[256];
        if (spec_label_parse(&one, arg, lerr, sizeof lerr) != NAOS_OK ||
            spec_labels_add(a->require, &a->nrequire, &one, lerr,
                            sizeof lerr) != NAOS_OK) {
            snprintf(err, errlen, "--require: %s", lerr);
            return NAOS_EINVAL;
        }
        return NAOS_OK;
    }
    case O_MAX_MIGRATIONS:
        if (!parse_u32(arg, 0, SPEC_MIGRATIONS_MAX, &a->max_migrations)) {
            snprintf(err, errlen,
                     "--max-migrations: \"%s\" is not a whole number from 0 "
                     "to %u",
                     arg, (unsigned)SPEC_MIGRATIONS_MAX);
            return NAOS_EINVAL;
        }
        a->max_migrations_given = true;
        return NAOS_OK;
    case O_MIGRATION_WINDOW: {
        naos_duration d;
        if (!naos_duration_parse(arg, &d) || d < SPEC_MIGRATION_WINDOW_MIN ||
            d > SPEC_MIGRATION_WINDOW_MAX) {
            snprintf(err, errlen,
                     "--migration-window: \"%s\" is not a duration from 1s "
                     "to 7 days (168h), like 10m or 1h",
                     arg);
            return NAOS_EINVAL;
        }
        a->migration_window = d;
        a->migration_window_given = true;
        return NAOS_OK;
    }
    case O_ON_PARTITION:
        if (strcmp(arg, "keep") != 0 && strcmp(arg, "stop") != 0) {
            snprintf(err, errlen, "--on-partition: \"%s\" is neither keep "
                     "nor stop", arg);
            return NAOS_EINVAL;
        }
        a->on_partition_keep = strcmp(arg, "keep") == 0;
        a->on_partition_given = true;
        return NAOS_OK;
    case 'f':
        if (arg[0] == '\0') {
            snprintf(err, errlen, "-f: must not be empty");
            return NAOS_EINVAL;
        }
        a->file = arg;
        return NAOS_OK;
    case O_NO_WAIT:
        a->no_wait = true;
        return NAOS_OK;
    default:
        snprintf(err, errlen, "internal error: option %d", opt);
        return NAOS_EINVAL;
    }
}

static char **
strv_dup(const char *const *v, size_t n)
{
    char **out = naos_alloc((n + 1) * sizeof *out);
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        out[i] = naos_strdup(v[i]);
        if (out[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                naos_free(out[j]);
            naos_free(out);
            return NULL;
        }
    }
    return out;
}

int
deploy_abs_path(const char *base, const char *dir, char *out, size_t outlen)
{
    int n;
    if (dir[0] == '/')
        n = snprintf(out, outlen, "%s", dir);
    else if (strcmp(dir, ".") == 0)
        n = snprintf(out, outlen, "%s", base);
    else {
        while (dir[0] == '.' && dir[1] == '/')
            dir += 2;
        n = snprintf(out, outlen, "%s%s%s", base,
                     base[0] && base[strlen(base) - 1] == '/' ? "" : "/",
                     dir);
    }
    return n < 0 || (size_t)n >= outlen ? NAOS_EINVAL : NAOS_OK;
}

/* env_set_key: whether flags set the variable of entry e ("KEY=..."). */
static bool
env_set_by(const struct dargs *a, const char *e)
{
    size_t klen = strcspn(e, "=");
    for (size_t i = 0; i < a->envc; i++)
        if (strncmp(a->env[i], e, klen) == 0 && a->env[i][klen] == '=')
            return true;
    return false;
}

/* make_worker fills w (zeroed) as the worker of a, with id id: a copy of
 * base (the project file's worker; NULL = the defaults) with the flags
 * given applied over it, running in cwd (absolute, borrowed). */
static int
make_worker(const struct dargs *a, const struct spec_node *base,
            const char *id, const char *cwd, struct spec_node *w)
{
    if (base != NULL) {
        if (spec_node_copy(w, base) != NAOS_OK) {
            memset(w, 0, sizeof *w);
            return NAOS_ENOMEM;
        }
        naos_free(w->id);
    } else {
        spec_node_init(w);
    }
    w->id = naos_strdup(id);
    if (w->id == NULL)
        return NAOS_ENOMEM;
    if (a->restart_given)
        w->restart = a->restart;
    if (a->shutdown_given)
        w->shutdown = a->shutdown;
    if (a->watchdog_given)
        w->watchdog = a->watchdog;
    if (a->ready_given)
        w->ready = a->ready;
    if (a->output_given)
        w->output = a->output;
    if (a->control_given)
        w->control = a->control;
    if (a->start_timeout_given)
        w->start_timeout = a->start_timeout;
    if (a->max_runtime_given)
        w->max_runtime = a->max_runtime;
    if (a->backoff_given) {
        w->backoff_min = a->backoff_min;
        w->backoff_max = a->backoff_max;
    }
    if (a->cmdc > 0) {
        for (size_t i = 0; w->argv && i < w->argc; i++)
            naos_free(w->argv[i]);
        naos_free(w->argv);
        w->argv = strv_dup((const char *const *)a->cmd, a->cmdc);
        if (w->argv == NULL)
            return NAOS_ENOMEM;
        w->argc = a->cmdc;
    }
    if (a->envc > 0) {
        /* The file's variables that no flag sets, then the flags'. */
        size_t n = 0;
        char **env = naos_alloc((w->envc + a->envc + 1) * sizeof *env);
        if (env == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < w->envc; i++) {
            if (env_set_by(a, w->env[i]))
                naos_free(w->env[i]);
            else
                env[n++] = w->env[i];
        }
        for (size_t i = 0; i < a->envc; i++) {
            env[n] = naos_strdup(a->env[i]);
            if (env[n] == NULL) {
                naos_free(w->env);
                w->env = env;
                w->envc = n;
                env[n] = NULL;
                return NAOS_ENOMEM;
            }
            n++;
        }
        env[n] = NULL;
        naos_free(w->env);
        w->env = env;
        w->envc = n;
    }
    naos_free(w->cwd);
    w->cwd = naos_strdup(cwd);
    if (w->cwd == NULL)
        return NAOS_ENOMEM;
    return NAOS_OK;
}

/* build makes the tree of a over base (the project file's tree of the
 * agent, or NULL), its worker running in cwd. */
static int
build(const struct dargs *a, const struct spec_node *base, const char *cwd,
      struct spec_node *out)
{
    spec_node_init_supervisor(out);
    out->id = naos_strdup(a->name);
    if (out->id == NULL)
        return NAOS_ENOMEM;
    bool base_pool = base && base->strategy == SPEC_SIMPLE_ONE_FOR_ONE;
    bool sup_given = a->sup_given || (base && base->strategy != SPEC_ONE_FOR_ONE);
    uint32_t replicas = a->replicas ? a->replicas
                                    : base_pool ? base->replicas : 0;
    out->strategy = a->sup_given ? a->strategy
                    : base       ? base->strategy
                                 : SPEC_ONE_FOR_ONE;
    out->max_restarts = a->max_restarts_given || !base ? a->max_restarts
                                                       : base->max_restarts;
    out->window_s = a->window_given || !base ? a->window_s : base->window_s;
    if (base) {
        out->restart = base->restart;
        out->backoff_min = base->backoff_min;
        out->backoff_max = base->backoff_max;
    }
    const char *on = a->on ? a->on : base ? base->place_on : NULL;
    if (on != NULL && (out->place_on = naos_strdup(on)) == NULL)
        return NAOS_ENOMEM;
    const struct spec_label *req = a->nrequire ? a->require
                                   : base      ? base->require
                                               : NULL;
    size_t nreq = a->nrequire ? a->nrequire : base ? base->nrequire : 0;
    if (req != NULL && nreq > 0) {
        out->require = naos_alloc(nreq * sizeof *out->require);
        if (out->require == NULL)
            return NAOS_ENOMEM;
        memcpy(out->require, req, nreq * sizeof *out->require);
        out->nrequire = nreq;
    }
    /* the defaults (spec_node_init_supervisor), the file's, the flags' */
    if (base) {
        out->max_migrations = base->max_migrations;
        out->migration_window = base->migration_window;
        out->on_partition_keep = base->on_partition_keep;
    }
    if (a->on_partition_given)
        out->on_partition_keep = a->on_partition_keep;
    if (a->max_migrations_given)
        out->max_migrations = a->max_migrations;
    if (a->migration_window_given)
        out->migration_window = a->migration_window;

    bool pool = out->strategy == SPEC_SIMPLE_ONE_FOR_ONE ||
                (replicas > 0 && !sup_given);
    size_t n = (pool || replicas == 0) ? 1 : replicas;
    if (pool) {
        out->strategy = SPEC_SIMPLE_ONE_FOR_ONE;
        out->replicas = replicas ? replicas : 1;
    }
    out->children = naos_alloc(n * sizeof *out->children);
    if (out->children == NULL)
        return NAOS_ENOMEM;
    const struct spec_node *bw = base ? &base->children[0] : NULL;
    for (size_t i = 0; i < n; i++) {
        out->nchildren = i + 1; /* zeroed: safe for spec_node_fini */
        memset(&out->children[i], 0, sizeof out->children[i]);
        char id[SPEC_MAX_ID_LEN * 2 + 32];
        if (n == 1)
            snprintf(id, sizeof id, "%s", a->name);
        else
            snprintf(id, sizeof id, "%s-%zu", a->name, i + 1);
        int rc = make_worker(a, bw, id, cwd, &out->children[i]);
        if (rc != NAOS_OK)
            return rc;
    }
    return NAOS_OK;
}

/* Largest project file read. */
#define DEPLOY_MAX_FILE (1024 * 1024)

/* read_project reads the project file path (at most DEPLOY_MAX_FILE
 * bytes) into a naos_alloc'd NUL-terminated buffer. Returns NAOS_OK,
 * NAOS_ENOTFOUND (no such file), NAOS_EINVAL (message in err) or
 * NAOS_ENOMEM. */
static int
read_project(const char *path, char **text, size_t *len, char *err,
             size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT)
            return NAOS_ENOTFOUND;
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NAOS_EINVAL;
    }
    char *buf = naos_alloc(DEPLOY_MAX_FILE + 2);
    if (buf == NULL) {
        fclose(f);
        return NAOS_ENOMEM;
    }
    size_t n = fread(buf, 1, DEPLOY_MAX_FILE + 1, f);
    bool bad = ferror(f);
    int e = errno;
    fclose(f);
    if (bad || n > DEPLOY_MAX_FILE) {
        naos_free(buf);
        if (bad)
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(e));
        else
            snprintf(err, errlen, "%s: larger than %d bytes", path,
                     DEPLOY_MAX_FILE);
        return NAOS_EINVAL;
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return NAOS_OK;
}

/* load_agent fills *base from the project file with a's NAME, and
 * projdir with the file's directory (absolute). */
static int
load_agent(const struct dargs *a, const char *here, struct spec_node *base,
           char *projdir, size_t projlen, char *err, size_t errlen)
{
    const char *file = a->file ? a->file : "naos.yaml";
    char path[PATH_MAX];
    if (deploy_abs_path(here, file, path, sizeof path) != NAOS_OK) {
        snprintf(err, errlen, "-f: path too long");
        return NAOS_EINVAL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = read_project(path, &text, &len, err, errlen);
    if (rc == NAOS_ENOTFOUND) {
        if (a->file)
            snprintf(err, errlen, "-f: %s does not exist", a->file);
        else
            snprintf(err, errlen,
                     "no `-- CMD` given and no naos.yaml in %s defines %s",
                     here, a->name);
        return rc;
    }
    if (rc != NAOS_OK)
        return rc;
    rc = spec_yaml_parse_agent(file, text, len, a->name, base, err, errlen);
    naos_free(text);
    if (rc != NAOS_OK)
        return rc;
    snprintf(projdir, projlen, "%s", path);
    char *slash = strrchr(projdir, '/');
    if (slash == projdir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    return NAOS_OK;
}

int
deploy_args_parse(int argc, char **argv, struct cli *g, bool *help,
                  struct spec_node *out, char *err, size_t errlen)
{
    struct deploy_extra x;
    return deploy_args_parse_ex(argc, argv, g, help, out, &x, err, errlen);
}

int
deploy_args_parse_ex(int argc, char **argv, struct cli *g, bool *help,
                     struct spec_node *out, struct deploy_extra *x,
                     char *err, size_t errlen)
{
    struct spec_node base;
    memset(&base, 0, sizeof base);
    memset(x, 0, sizeof *x);
    memset(out, 0, sizeof *out);
    *help = false;
    if (errlen)
        err[0] = '\0';
    struct cli dummy = CLI_ZERO;
    if (g == NULL)
        g = &dummy;

    struct dargs a;
    memset(&a, 0, sizeof a);
    a.max_restarts = DEPLOY_DEFAULT_MAX_RESTARTS;
    a.window_s = DEPLOY_DEFAULT_WINDOW_S;
    a.env = naos_alloc(DEPLOY_MAX_ENV * sizeof *a.env);
    if (a.env == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }

    /* Options and NAME come before the first `--`; the command after it is
     * never scanned for options. */
    int split = argc;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            split = i;
            break;
        }
    }

    int rc = NAOS_EINVAL;
    optind = 0; /* full reset of getopt (glibc), also of its mode */
    opterr = 0;
    int opt;
    while ((opt = getopt_long(split, argv, ":hf:", longopts, NULL)) != -1) {
        if (opt == 'h') {
            *help = true;
            rc = NAOS_OK;
            goto done;
        }
        if (opt == '?' || opt == ':') {
            cli_bad_option(opt, argv, err, errlen);
            goto done;
        }
        int grc = cli_global_opt(g, opt, optarg, err, errlen);
        if (grc < 0)
            goto done;
        if (grc > 0) {
            if (g == &dummy) {
                snprintf(err, errlen, "unknown option %s", argv[optind - 1]);
                goto done;
            }
            continue;
        }
        if (one_opt(&a, opt, optarg, err, errlen) != NAOS_OK)
            goto done;
    }

    if (optind >= split) {
        snprintf(err, errlen, "missing NAME (naos deploy NAME [OPTIONS] "
                 "[-- CMD [ARGS...]])");
        goto done;
    }
    a.name = argv[optind];
    x->name = a.name;
    x->no_wait = a.no_wait;
    if (optind + 1 < split) {
        snprintf(err, errlen,
                 "unexpected argument \"%s\" (put the command after `--`)",
                 argv[optind + 1]);
        goto done;
    }
    if (split < argc) {
        a.cmd = argv + split + 1;
        a.cmdc = (size_t)(argc - split - 1);
        if (a.cmdc == 0) {
            snprintf(err, errlen, "missing command after `--`");
            goto done;
        }
        if (a.cmd[0][0] == '\0') {
            snprintf(err, errlen, "command: must not be empty");
            goto done;
        }
    }
    if (!spec_id_is_valid(a.name)) {
        snprintf(err, errlen,
                 "NAME: invalid id \"%.64s\" (1 to %d characters of A-Z a-z "
                 "0-9 _ . -, not . or ..)",
                 a.name, SPEC_MAX_ID_LEN);
        goto done;
    }

    /* Where the worker runs: --cwd (from here), else the project file's
     * cwd (from the file's directory), else the file's directory, else
     * here. Always sent as an absolute path. */
    char here[PATH_MAX], cwd[PATH_MAX], projdir[PATH_MAX] = "";
    if (getcwd(here, sizeof here) == NULL) {
        snprintf(err, errlen, "cannot tell the current directory: %s",
                 strerror(errno));
        goto done;
    }
    if (a.cmdc == 0 || a.file != NULL) {
        rc = load_agent(&a, here, &base, projdir, sizeof projdir, err,
                        errlen);
        if (rc != NAOS_OK) {
            x->no_agent = rc == NAOS_ENOTFOUND;
            if (rc != NAOS_ENOMEM)
                rc = NAOS_EINVAL;
            goto done;
        }
        rc = NAOS_EINVAL;
    }
    const char *from = here, *dir = a.cwd;
    if (dir == NULL && base.nchildren > 0 && base.children[0].cwd) {
        from = projdir;
        dir = base.children[0].cwd;
    }
    if (dir == NULL)
        dir = projdir[0] ? projdir : here;
    if (deploy_abs_path(from, dir, cwd, sizeof cwd) != NAOS_OK) {
        snprintf(err, errlen, "--cwd: path too long");
        goto done;
    }
    if (a.replicas > 1 && a.sup_given &&
        a.strategy != SPEC_SIMPLE_ONE_FOR_ONE) {
        char last[32];
        int digits = snprintf(last, sizeof last, "%u", a.replicas);
        if (strlen(a.name) + 1 + (size_t)digits > SPEC_MAX_ID_LEN) {
            snprintf(err, errlen,
                     "NAME \"%s\" is too long to number %u workers %s-1.."
                     "%s-%u (ids have at most %d characters)",
                     a.name, a.replicas, a.name, a.name, a.replicas,
                     SPEC_MAX_ID_LEN);
            goto done;
        }
    }

    rc = build(&a, base.nchildren > 0 ? &base : NULL, cwd, out);
    if (rc == NAOS_ENOMEM) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    rc = spec_validate(out, err, errlen);
    if (rc != NAOS_OK)
        rc = NAOS_EINVAL;

done:
    if (rc != NAOS_OK || *help) {
        spec_node_fini(out);
        memset(out, 0, sizeof *out);
    }
    spec_node_fini(&base);
    naos_free(a.env);
    return rc;
}
