/* SPDX-License-Identifier: Apache-2.0 */
/* spec.c: defaults, deep copy, freeing and validation of the child spec
 * tree (see spec.h and OTP-SEMANTICS.md B1-B6).
 *
 * Validation walks the tree once, in pre-order, and stops at the first
 * problem. Messages are "PATH: FIELD: what is wrong", where PATH is the ids
 * from the root joined by '/' ("research/tools/scraper"). Problems with a
 * child's id are reported on the parent's path as "children[i].id", because
 * the child has no usable path yet. Depth counts levels: the root is level
 * 1, and a tree may have at most SPEC_MAX_DEPTH levels; the node count
 * includes the root and every supervisor. */
#include "node/spec/spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

void
spec_node_init(struct spec_node *n)
{
    memset(n, 0, sizeof *n);
    n->is_supervisor = false;
    n->restart = SPEC_PERMANENT;
    n->shutdown = SPEC_DEFAULT_SHUTDOWN_MS;
    n->ready = SPEC_READY_EXEC;
    n->start_timeout = SPEC_DEFAULT_START_TIMEOUT_MS;
    n->max_migrations = SPEC_MIGRATIONS_DEFAULT;
    n->migration_window = SPEC_MIGRATION_WINDOW_DEFAULT;
}

void
spec_node_init_supervisor(struct spec_node *n)
{
    memset(n, 0, sizeof *n);
    n->is_supervisor = true;
    n->restart = SPEC_PERMANENT;
    /* OTP B6: a supervisor child waits for its subtree without limit. */
    n->shutdown = SPEC_SHUTDOWN_INFINITY;
    n->ready = SPEC_READY_EXEC;
    n->start_timeout = 0; /* worker-only field */
    n->strategy = SPEC_ONE_FOR_ONE;
    n->max_restarts = SPEC_DEFAULT_MAX_RESTARTS;
    n->window_s = SPEC_DEFAULT_WINDOW_S;
    n->replicas = 0;
    n->max_migrations = SPEC_MIGRATIONS_DEFAULT;
    n->migration_window = SPEC_MIGRATION_WINDOW_DEFAULT;
}

/* free_strv frees a string vector of at least count entries. The vector is
 * NULL-terminated by contract; entries past count are freed too while they
 * are non-NULL, so a half-built vector whose count lags is not leaked. */
static void
free_strv(char **v, size_t count)
{
    if (v == NULL)
        return;
    size_t i = 0;
    for (; i < count; i++)
        naos_free(v[i]);
    for (; v[i] != NULL; i++)
        naos_free(v[i]);
    naos_free(v);
}

void
spec_node_fini(struct spec_node *n)
{
    if (n == NULL)
        return;
    naos_free(n->id);
    free_strv(n->argv, n->argc);
    free_strv(n->env, n->envc);
    naos_free(n->cwd);
    naos_free(n->place_on);
    naos_free(n->require);
    if (n->children != NULL) {
        for (size_t i = 0; i < n->nchildren; i++)
            spec_node_fini(&n->children[i]);
        naos_free(n->children);
    }
    memset(n, 0, sizeof *n);
}

/* copy_strv deep-copies count entries of src into a fresh NULL-terminated
 * vector. NULL entries stay NULL (spec_validate rejects them). */
static int
copy_strv(char ***dst, char *const *src, size_t count)
{
    *dst = NULL;
    if (src == NULL)
        return NAOS_OK;
    if (count >= SIZE_MAX / sizeof(char *))
        return NAOS_ENOMEM;
    char **v = naos_alloc((count + 1) * sizeof(char *));
    if (v == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < count; i++) {
        if (src[i] == NULL)
            continue;
        v[i] = naos_strdup(src[i]);
        if (v[i] == NULL) {
            free_strv(v, i);
            return NAOS_ENOMEM;
        }
    }
    *dst = v;
    return NAOS_OK;
}

int
spec_node_copy(struct spec_node *dst, const struct spec_node *src)
{
    *dst = *src;
    dst->id = NULL;
    dst->argv = NULL;
    dst->env = NULL;
    dst->cwd = NULL;
    dst->place_on = NULL;
    dst->require = NULL;
    dst->nrequire = 0;
    dst->children = NULL;
    dst->nchildren = 0;

    if (src->id != NULL && (dst->id = naos_strdup(src->id)) == NULL)
        goto err;
    if (copy_strv(&dst->argv, src->argv, src->argc) != NAOS_OK)
        goto err;
    if (copy_strv(&dst->env, src->env, src->envc) != NAOS_OK)
        goto err;
    if (src->cwd != NULL && (dst->cwd = naos_strdup(src->cwd)) == NULL)
        goto err;
    if (src->place_on != NULL &&
        (dst->place_on = naos_strdup(src->place_on)) == NULL)
        goto err;
    if (src->require != NULL && src->nrequire > 0) {
        if (src->nrequire >= SIZE_MAX / sizeof *dst->require)
            goto err;
        dst->require = naos_alloc(src->nrequire * sizeof *dst->require);
        if (dst->require == NULL)
            goto err;
        memcpy(dst->require, src->require,
               src->nrequire * sizeof *dst->require);
        dst->nrequire = src->nrequire;
    }
    if (src->children != NULL && src->nchildren > 0) {
        if (src->nchildren >= SIZE_MAX / sizeof(struct spec_node))
            goto err;
        dst->children =
            naos_alloc(src->nchildren * sizeof(struct spec_node));
        if (dst->children == NULL)
            goto err;
        /* Zeroed slots are safe for spec_node_fini if a copy fails. */
        dst->nchildren = src->nchildren;
        for (size_t i = 0; i < src->nchildren; i++) {
            if (spec_node_copy(&dst->children[i], &src->children[i]) !=
                NAOS_OK)
                goto err;
        }
    }
    return NAOS_OK;

err:
    /* dst's vectors are NULL or complete, so fini frees exactly what was
     * copied; counts are taken from src and match the vectors. */
    spec_node_fini(dst);
    return NAOS_ENOMEM;
}

const char *
spec_strategy_name(enum spec_strategy s)
{
    switch (s) {
    case SPEC_ONE_FOR_ONE:
        return "one-for-one";
    case SPEC_ONE_FOR_ALL:
        return "one-for-all";
    case SPEC_REST_FOR_ONE:
        return "rest-for-one";
    case SPEC_SIMPLE_ONE_FOR_ONE:
        return "simple-one-for-one";
    }
    return "unknown";
}

const char *
spec_restart_name(enum spec_restart r)
{
    switch (r) {
    case SPEC_PERMANENT:
        return "permanent";
    case SPEC_TRANSIENT:
        return "transient";
    case SPEC_TEMPORARY:
        return "temporary";
    }
    return "unknown";
}

const char *
spec_ready_name(enum spec_ready r)
{
    switch (r) {
    case SPEC_READY_EXEC:
        return "exec";
    case SPEC_READY_NOTIFY:
        return "notify";
    }
    return "unknown";
}

const char *
spec_output_name(enum spec_output o)
{
    switch (o) {
    case SPEC_OUTPUT_LOG:
        return "log";
    case SPEC_OUTPUT_DISCARD:
        return "discard";
    }
    return "unknown";
}

const char *
spec_control_name(enum spec_control c)
{
    switch (c) {
    case SPEC_CONTROL_NONE:
        return "none";
    case SPEC_CONTROL_FULL:
        return "full";
    }
    return "unknown";
}

/* same_name compares s to a canonical hyphenated name, also accepting the
 * OTP spelling with underscores in place of the hyphens. */
static bool
same_name(const char *s, const char *canon)
{
    for (; *canon != '\0'; s++, canon++) {
        if (*s == *canon)
            continue;
        if (*canon == '-' && *s == '_')
            continue;
        return false;
    }
    return *s == '\0';
}

bool
spec_strategy_parse(const char *s, enum spec_strategy *out)
{
    if (s == NULL)
        return false;
    static const enum spec_strategy all[] = {
        SPEC_ONE_FOR_ONE, SPEC_ONE_FOR_ALL, SPEC_REST_FOR_ONE,
        SPEC_SIMPLE_ONE_FOR_ONE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (same_name(s, spec_strategy_name(all[i]))) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

bool
spec_restart_parse(const char *s, enum spec_restart *out)
{
    if (s == NULL)
        return false;
    static const enum spec_restart all[] = {SPEC_PERMANENT, SPEC_TRANSIENT,
                                            SPEC_TEMPORARY};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, spec_restart_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

bool
spec_ready_parse(const char *s, enum spec_ready *out)
{
    if (s == NULL)
        return false;
    if (strcmp(s, "exec") == 0) {
        *out = SPEC_READY_EXEC;
        return true;
    }
    if (strcmp(s, "notify") == 0) {
        *out = SPEC_READY_NOTIFY;
        return true;
    }
    return false;
}

bool
spec_output_parse(const char *s, enum spec_output *out)
{
    if (s == NULL)
        return false;
    static const enum spec_output all[] = {SPEC_OUTPUT_LOG,
                                           SPEC_OUTPUT_DISCARD};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, spec_output_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

bool
spec_control_parse(const char *s, enum spec_control *out)
{
    if (s == NULL)
        return false;
    static const enum spec_control all[] = {SPEC_CONTROL_NONE,
                                            SPEC_CONTROL_FULL};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(s, spec_control_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

/* duration_chars_ok accepts only digits, at most one '.', then an
 * optional unit of letters, before handing s to naos_duration_parse:
 * strtod would otherwise take "nan", "inf", "0x1p3" and "1e3". */
static bool
duration_chars_ok(const char *s)
{
    if (*s < '0' || *s > '9')
        return false;
    int dots = 0;
    for (; *s != '\0' && ((*s >= '0' && *s <= '9') || *s == '.'); s++) {
        if (*s == '.' && ++dots > 1)
            return false;
    }
    for (; *s != '\0'; s++) {
        if (*s < 'a' || *s > 'z')
            return false;
    }
    return true;
}

bool
spec_shutdown_parse(const char *s, naos_duration *out)
{
    if (s == NULL)
        return false;
    if (strcmp(s, "kill") == 0 || strcmp(s, "brutal_kill") == 0 ||
        strcmp(s, "brutal-kill") == 0) {
        *out = SPEC_SHUTDOWN_KILL;
        return true;
    }
    if (strcmp(s, "infinity") == 0) {
        *out = SPEC_SHUTDOWN_INFINITY;
        return true;
    }
    if (!duration_chars_ok(s))
        return false;
    return naos_duration_parse(s, out);
}

bool
spec_id_is_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = 0;
    for (const char *p = id; *p != '\0'; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n >= SPEC_MAX_ID_LEN)
            return false;
    }
    if (n == 0)
        return false;
    return strcmp(id, ".") != 0 && strcmp(id, "..") != 0;
}

/* ---- validation ---- */

struct vctx {
    char *errbuf;
    size_t errlen;
    size_t nodes;   /* nodes the tree will have so far, root included, pool
                       replicas counted (not the template) */
    size_t workers; /* workers so far, pool replicas counted */
    /* The path of the node being checked; ids are at most 63 chars. */
    char path[SPEC_MAX_DEPTH * (SPEC_MAX_ID_LEN + 1) + 1];
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int
vfail(struct vctx *v, const char *field, const char *fmt, ...)
{
    if (v->errbuf != NULL && v->errlen > 0) {
        int n = snprintf(v->errbuf, v->errlen, "%s: %s: ",
                         v->path[0] ? v->path : "(root)", field);
        if (n >= 0 && (size_t)n < v->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(v->errbuf + n, v->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return NAOS_EINVAL;
}

/* show returns s for a message, or a placeholder for NULL. */
static const char *
show(const char *s)
{
    return s ? s : "(null)";
}

/* id_problem says what is wrong with an id, or NULL if it is valid. */
static const char *
id_problem(const char *id)
{
    if (id == NULL || id[0] == '\0')
        return "must not be empty";
    if (strlen(id) > SPEC_MAX_ID_LEN)
        return "is longer than 63 characters";
    if (!spec_id_is_valid(id))
        return "must be 1 to 63 of A-Z a-z 0-9 _ . - (and not . or ..)";
    return NULL;
}

static int
check_durations(struct vctx *v, const struct spec_node *n)
{
    if (n->shutdown < 0 && n->shutdown != SPEC_SHUTDOWN_KILL &&
        n->shutdown != SPEC_SHUTDOWN_INFINITY)
        return vfail(v, "shutdown", "must not be negative (%lld)",
                     (long long)n->shutdown);
    if (n->start_timeout < 0)
        return vfail(v, "start_timeout", "must not be negative");
    if (n->watchdog < 0)
        return vfail(v, "watchdog", "must not be negative");
    if (n->max_runtime < 0)
        return vfail(v, "max_runtime", "must not be negative");
    if (n->backoff_min < 0 || n->backoff_max < 0)
        return vfail(v, "backoff", "must not be negative");
    if ((n->backoff_min == 0) != (n->backoff_max == 0))
        return vfail(v, "backoff", "min and max must both be set (or both 0)");
    if (n->backoff_min > n->backoff_max)
        return vfail(v, "backoff", "min (%lldms) must not exceed max (%lldms)",
                     (long long)n->backoff_min, (long long)n->backoff_max);
    return NAOS_OK;
}

static int
check_worker(struct vctx *v, const struct spec_node *n)
{
    if (n->nchildren != 0 || n->children != NULL)
        return vfail(v, "children", "a worker cannot have children");
    if (n->argv == NULL || n->argc == 0)
        return vfail(v, "command", "must not be empty");
    for (size_t i = 0; i < n->argc; i++) {
        if (n->argv[i] == NULL)
            return vfail(v, "command", "argv[%zu] is NULL", i);
    }
    if (n->argv[n->argc] != NULL)
        return vfail(v, "command", "argv must be NULL-terminated");
    if (n->argv[0][0] == '\0')
        return vfail(v, "command", "argv[0] must not be empty");
    if (n->envc > 0 && n->env == NULL)
        return vfail(v, "env", "has %zu entries but no vector", n->envc);
    for (size_t i = 0; i < n->envc; i++) {
        const char *e = n->env[i];
        if (e == NULL)
            return vfail(v, "env", "env[%zu] is NULL", i);
        const char *eq = strchr(e, '=');
        if (eq == NULL || eq == e)
            return vfail(v, "env", "\"%.80s\" is not KEY=VALUE", e);
    }
    if (n->env != NULL && n->env[n->envc] != NULL)
        return vfail(v, "env", "must be NULL-terminated");
    if (n->cwd != NULL && n->cwd[0] == '\0')
        return vfail(v, "cwd", "must not be empty");
    if (n->ready != SPEC_READY_EXEC && n->ready != SPEC_READY_NOTIFY)
        return vfail(v, "ready", "unknown value %d", (int)n->ready);
    if (n->output != SPEC_OUTPUT_LOG && n->output != SPEC_OUTPUT_DISCARD)
        return vfail(v, "output", "unknown value %d", (int)n->output);
    if (n->control != SPEC_CONTROL_NONE && n->control != SPEC_CONTROL_FULL)
        return vfail(v, "control", "unknown value %d", (int)n->control);
    if (n->ready == SPEC_READY_NOTIFY && n->start_timeout <= 0)
        return vfail(v, "start_timeout",
                     "must be positive when ready is notify");
    if (n->replicas != 0)
        return vfail(v, "replicas",
                     "only a simple-one-for-one supervisor has replicas");
    return NAOS_OK;
}

struct idref {
    const char *id;
    size_t idx;
};

static int
idref_cmp(const void *a, const void *b)
{
    const struct idref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* first_duplicate returns the smallest index j whose id equals that of an
 * earlier sibling, or n if all are unique. Ids are known to be non-NULL.
 * Sorting keeps wide supervisors linear-logarithmic; without memory for
 * the sort it falls back to the quadratic scan, which gives the same j. */
static size_t
first_duplicate(const struct spec_node *c, size_t n)
{
    struct idref *r = NULL;
    if (n > 16)
        r = naos_alloc(n * sizeof *r);
    if (r == NULL) {
        for (size_t j = 1; j < n; j++)
            for (size_t i = 0; i < j; i++)
                if (strcmp(c[i].id, c[j].id) == 0)
                    return j;
        return n;
    }
    for (size_t i = 0; i < n; i++)
        r[i] = (struct idref){c[i].id, i};
    qsort(r, n, sizeof *r, idref_cmp);
    size_t best = n;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(r[i - 1].id, r[i].id) == 0 &&
            (i < 2 || strcmp(r[i - 2].id, r[i].id) != 0) && r[i].idx < best)
            best = r[i].idx; /* second of its group = first repeat */
    }
    naos_free(r);
    return best;
}

static int validate_node(struct vctx *v, const struct spec_node *n,
                         int depth);

static int
check_supervisor(struct vctx *v, const struct spec_node *n, int depth)
{
    if (n->argv != NULL || n->argc != 0)
        return vfail(v, "command", "a supervisor has no command");
    if (n->env != NULL || n->envc != 0)
        return vfail(v, "env", "only a worker has an environment");
    if (n->cwd != NULL)
        return vfail(v, "cwd", "only a worker has a working directory");
    if (n->ready != SPEC_READY_EXEC)
        return vfail(v, "ready", "only a worker can be ready on notify");
    if (n->output != SPEC_OUTPUT_LOG)
        return vfail(v, "output", "only a worker has output");
    if (n->control != SPEC_CONTROL_NONE)
        return vfail(v, "control",
                     "only a worker is granted control (give it to each "
                     "worker that needs it)");
    if (n->watchdog != 0)
        return vfail(v, "watchdog", "only a worker has a watchdog");
    if (n->max_runtime != 0)
        return vfail(v, "max_runtime", "only a worker has a max_runtime");
    if (n->shutdown != SPEC_SHUTDOWN_INFINITY)
        return vfail(v, "shutdown",
                     "a supervisor must have shutdown infinity (a finite "
                     "value or kill can orphan its subtree)");
    if ((unsigned)n->strategy > SPEC_SIMPLE_ONE_FOR_ONE)
        return vfail(v, "strategy", "unknown value %d", (int)n->strategy);
    if (n->window_s < 1)
        return vfail(v, "window", "must be at least 1s");
    if (n->window_s > SPEC_LIMIT_WINDOW_S)
        return vfail(v, "window", "must be at most %us (24h), got %us",
                     (unsigned)SPEC_LIMIT_WINDOW_S, (unsigned)n->window_s);
    if (n->max_restarts > SPEC_LIMIT_MAX_RESTARTS)
        return vfail(v, "max_restarts", "must be at most %u, got %u",
                     (unsigned)SPEC_LIMIT_MAX_RESTARTS,
                     (unsigned)n->max_restarts);
    if (n->nchildren == 0)
        return vfail(v, "children", "a supervisor needs at least one child");
    if (n->children == NULL)
        return vfail(v, "children", "has %zu entries but no array",
                     n->nchildren);
    if (n->strategy == SPEC_SIMPLE_ONE_FOR_ONE) {
        if (n->nchildren != 1)
            return vfail(v, "children",
                         "a simple-one-for-one supervisor needs exactly one "
                         "child (the template), not %zu",
                         n->nchildren);
        if (n->children[0].is_supervisor)
            return vfail(v, "children[0]",
                         "the template of a simple-one-for-one supervisor "
                         "must be a worker");
        if (n->replicas < 1 || n->replicas > SPEC_MAX_REPLICAS)
            return vfail(v, "replicas",
                         "must be between 1 and %d for a simple-one-for-one "
                         "supervisor (got %u)",
                         SPEC_MAX_REPLICAS, (unsigned)n->replicas);
    } else if (n->replicas != 0) {
        return vfail(v, "replicas",
                     "only a simple-one-for-one supervisor has replicas");
    }
    if (depth >= SPEC_MAX_DEPTH)
        return vfail(v, "children", "the tree is deeper than %d levels",
                     SPEC_MAX_DEPTH);
    if (n->nchildren > SPEC_MAX_CHILDREN)
        return vfail(v, "children",
                     "a supervisor has at most %d children, got %zu",
                     SPEC_MAX_CHILDREN, n->nchildren);
    if (n->strategy == SPEC_SIMPLE_ONE_FOR_ONE) {
        /* The replicas are nodes and workers of the tree; the template
         * (validated below) is neither. */
        v->nodes += n->replicas - 1;
        v->workers += n->replicas - 1;
        if (v->nodes > SPEC_MAX_NODES)
            return vfail(v, "replicas", "the tree has more than %d nodes",
                         SPEC_MAX_NODES);
        if (v->workers > SPEC_MAX_WORKERS)
            return vfail(v, "replicas",
                         "the deployment has more than %d workers (pool "
                         "replicas counted)",
                         SPEC_MAX_WORKERS);
    }
    char field[48];
    for (size_t i = 0; i < n->nchildren; i++) {
        const char *why = id_problem(n->children[i].id);
        if (why != NULL) {
            snprintf(field, sizeof field, "children[%zu].id", i);
            return vfail(v, field, "invalid id \"%.63s\": %s",
                         show(n->children[i].id), why);
        }
    }
    size_t dup = first_duplicate(n->children, n->nchildren);
    if (dup < n->nchildren) {
        snprintf(field, sizeof field, "children[%zu].id", dup);
        return vfail(v, field, "duplicate id \"%s\"", n->children[dup].id);
    }

    size_t plen = strlen(v->path);
    for (size_t i = 0; i < n->nchildren; i++) {
        if (v->nodes >= SPEC_MAX_NODES)
            return vfail(v, "children", "the tree has more than %d nodes",
                         SPEC_MAX_NODES);
        if (!n->children[i].is_supervisor && v->workers >= SPEC_MAX_WORKERS)
            return vfail(v, "children",
                         "the deployment has more than %d workers (pool "
                         "replicas counted)",
                         SPEC_MAX_WORKERS);
        /* Fits: depth < SPEC_MAX_DEPTH and ids are at most 63 chars. */
        snprintf(v->path + plen, sizeof v->path - plen, "/%s",
                 n->children[i].id);
        int rv = validate_node(v, &n->children[i], depth + 1);
        if (rv != NAOS_OK)
            return rv;
        v->path[plen] = '\0';
    }
    return NAOS_OK;
}

/* A node name as `naos-node --name` and membership take it: 1..63
 * printable bytes, no space or '/'. NULL when fine. */
static const char *
node_name_problem(const char *s)
{
    size_t len = strlen(s);
    if (len == 0)
        return "must not be empty";
    if (len > SPEC_MAX_ID_LEN)
        return "longer than 63 bytes";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f || *p == '/')
            return "has a space, '/' or a byte that is not printable ASCII";
    return NULL;
}

static int
validate_node(struct vctx *v, const struct spec_node *n, int depth)
{
    v->nodes++;
    if (n->place_on != NULL) {
        const char *why = node_name_problem(n->place_on);
        if (depth != 1)
            return vfail(v, "placement", "only a deployment (the root) is "
                         "placed on a node");
        if (why != NULL)
            return vfail(v, "placement", "on: \"%.63s\" %s",
                         show(n->place_on), why);
    }
    if (n->nrequire > 0) {
        char lerr[256];
        if (depth != 1)
            return vfail(v, "placement", "only a deployment (the root) is "
                         "placed on a node");
        if (n->require == NULL ||
            spec_labels_check(n->require, n->nrequire, lerr, sizeof lerr) !=
                NAOS_OK)
            return vfail(v, "placement", "require: %s",
                         n->require == NULL ? "no labels" : lerr);
    }
    if (n->max_migrations != SPEC_MIGRATIONS_DEFAULT ||
        n->migration_window != SPEC_MIGRATION_WINDOW_DEFAULT) {
        if (depth != 1)
            return vfail(v, "migration", "only a deployment (the root) is "
                         "moved to another node");
        if (n->max_migrations > SPEC_MIGRATIONS_MAX)
            return vfail(v, "migration", "max: must be at most %u, got %u",
                         (unsigned)SPEC_MIGRATIONS_MAX,
                         (unsigned)n->max_migrations);
        if (n->migration_window < SPEC_MIGRATION_WINDOW_MIN ||
            n->migration_window > SPEC_MIGRATION_WINDOW_MAX)
            return vfail(v, "migration",
                         "window: must be from 1s to 7 days (604800s), got "
                         "%lldms",
                         (long long)n->migration_window);
    }
    if (n->on_partition_keep && depth != 1)
        return vfail(v, "on_partition", "only a deployment (the root) "
                     "keeps running without its node's lease");
    if (!n->is_supervisor)
        v->workers++;
    if ((unsigned)n->restart > SPEC_TEMPORARY)
        return vfail(v, "restart", "unknown value %d", (int)n->restart);
    int rv = check_durations(v, n);
    if (rv != NAOS_OK)
        return rv;
    return n->is_supervisor ? check_supervisor(v, n, depth)
                            : check_worker(v, n);
}

int
spec_validate(const struct spec_node *root, char *errbuf, size_t errlen)
{
    struct vctx local; /* about 2 KiB, for the path */
    struct vctx *v = &local;
    v->errbuf = errbuf;
    v->errlen = errlen;
    v->nodes = 0;
    v->workers = 0;
    v->path[0] = '\0';
    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';

    const char *why = id_problem(root->id);
    if (why != NULL) {
        return vfail(v, "id", "invalid deployment name \"%.63s\": %s",
                     show(root->id), why);
    }
    snprintf(v->path, sizeof v->path, "%s", root->id);
    if (!root->is_supervisor)
        return vfail(v, "supervisor",
                     "the root of a deployment must be a supervisor");
    return validate_node(v, root, 1);
}
