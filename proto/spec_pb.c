/* SPDX-License-Identifier: Apache-2.0 */
/* spec_pb.c: spec_node <-> naos.v1.NodeSpec.
 *
 * The outbound direction mirrors the tree one field at a time. The inbound
 * direction treats the message as hostile: protobuf-c has already checked
 * the wire syntax, but any count, enum value, duration or string length may
 * be absurd, and repeated fields may hold NULLs if a caller built the
 * message by hand. Limits are checked before anything is allocated for
 * them. */
#include "proto/spec_pb.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

static void *
pb_alloc(void *data, size_t size)
{
    (void)data;
    return naos_alloc(size);
}

static void
pb_free(void *data, void *p)
{
    (void)data;
    naos_free(p);
}

ProtobufCAllocator spec_pb_allocator = {
    .alloc = pb_alloc,
    .free = pb_free,
    .allocator_data = NULL,
};

bool
spec_pb_unpacked_intact(const ProtobufCMessage *m, size_t wire_len)
{
    return m != NULL && protobuf_c_message_get_packed_size(m) == wire_len;
}

/* ---- spec -> wire ------------------------------------------------------ */

static char *
dup_or_empty(const char *s)
{
    return naos_strdup(s ? s : "");
}

void
spec_pb_free(Naos__V1__NodeSpec *m)
{
    if (m == NULL)
        return;
    naos_free(m->id);
    for (size_t i = 0; m->argv && i < m->n_argv; i++)
        naos_free(m->argv[i]);
    naos_free(m->argv);
    for (size_t i = 0; m->env && i < m->n_env; i++)
        naos_free(m->env[i]);
    naos_free(m->env);
    naos_free(m->cwd);
    if (m->placement != NULL) {
        naos_free(m->placement->on);
        for (size_t i = 0; m->placement->require &&
                           i < m->placement->n_require; i++)
            if (m->placement->require[i] != NULL) {
                naos_free(m->placement->require[i]->key);
                naos_free(m->placement->require[i]->value);
                naos_free(m->placement->require[i]);
            }
        naos_free(m->placement->require);
        naos_free(m->placement);
    }
    naos_free(m->migration);
    for (size_t i = 0; m->children && i < m->n_children; i++)
        spec_pb_free(m->children[i]);
    naos_free(m->children);
    naos_free(m);
}

/* labels_to_pb builds (*out)[0..n) from l (borrowed); on failure *out
 * holds what was built, counted in *nout, for spec_pb_free. */
static int
labels_to_pb(const struct spec_label *l, size_t n,
             Naos__V1__NodeLabel ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (l == NULL || n == 0)
        return NAOS_OK;
    if (n > SPEC_LABELS_MAX)
        return NAOS_ETOOBIG;
    *out = naos_alloc(n * sizeof **out);
    if (*out == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        Naos__V1__NodeLabel *pl = naos_alloc(sizeof *pl);
        if (pl == NULL)
            return NAOS_ENOMEM;
        naos__v1__node_label__init(pl);
        pl->key = naos_strdup(l[i].key);
        pl->value = naos_strdup(l[i].value);
        (*out)[i] = pl;
        *nout = i + 1;
        if (pl->key == NULL || pl->value == NULL) {
            /* spec_pb_free frees what it finds; it needs no NULLs */
            naos_free(pl->key);
            naos_free(pl->value);
            pl->key = pl->value = NULL;
            return NAOS_ENOMEM;
        }
    }
    return NAOS_OK;
}

static int
strv_to_pb(char *const *v, size_t n, char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0 || v == NULL)
        return NAOS_OK;
    char **a = naos_alloc(n * sizeof *a);
    if (a == NULL)
        return NAOS_ENOMEM;
    *out = a; /* counted as we go, so spec_pb_free can unwind */
    for (size_t i = 0; i < n; i++) {
        a[i] = dup_or_empty(v[i]);
        if (a[i] == NULL)
            return NAOS_ENOMEM;
        *nout = i + 1;
    }
    return NAOS_OK;
}

static int
node_to_pb(const struct spec_node *n, int depth, Naos__V1__NodeSpec **out)
{
    if (depth > SPEC_MAX_DEPTH)
        return NAOS_EINVAL;
    Naos__V1__NodeSpec *m = naos_alloc(sizeof *m);
    if (m == NULL)
        return NAOS_ENOMEM;
    naos__v1__node_spec__init(m);
    m->id = NULL;
    m->cwd = NULL;
    int rc = NAOS_ENOMEM;
    m->id = dup_or_empty(n->id);
    m->cwd = dup_or_empty(n->cwd);
    if (m->id == NULL || m->cwd == NULL)
        goto err_after_alloc;
    m->is_supervisor = n->is_supervisor;
    m->restart = (Naos__V1__RestartType)n->restart;
    m->shutdown_ms = n->shutdown;
    m->backoff_min_ms = n->backoff_min;
    m->backoff_max_ms = n->backoff_max;
    rc = strv_to_pb(n->argv, n->argc, &m->argv, &m->n_argv);
    if (rc != NAOS_OK)
        goto err_after_alloc;
    rc = strv_to_pb(n->env, n->envc, &m->env, &m->n_env);
    if (rc != NAOS_OK)
        goto err_after_alloc;
    m->ready = (Naos__V1__ReadyMode)n->ready;
    m->start_timeout_ms = n->start_timeout;
    m->watchdog_ms = n->watchdog;
    m->max_runtime_ms = n->max_runtime;
    m->output = n->output == SPEC_OUTPUT_DISCARD
                    ? NAOS__V1__OUTPUT_MODE__OUTPUT_DISCARD
                    : NAOS__V1__OUTPUT_MODE__OUTPUT_LOG;
    m->control = n->control == SPEC_CONTROL_FULL
                     ? NAOS__V1__CONTROL_MODE__CONTROL_FULL
                     : NAOS__V1__CONTROL_MODE__CONTROL_NONE;
    m->strategy = (Naos__V1__Strategy)n->strategy;
    m->max_restarts = n->max_restarts;
    m->window_s = n->window_s;
    m->replicas = n->replicas;
    if (n->place_on != NULL || (n->require != NULL && n->nrequire > 0)) {
        rc = NAOS_ENOMEM;
        m->placement = naos_alloc(sizeof *m->placement);
        if (m->placement == NULL)
            goto err_after_alloc;
        naos__v1__placement__init(m->placement);
        m->placement->on = NULL;
        if ((m->placement->on = dup_or_empty(n->place_on)) == NULL)
            goto err_after_alloc;
        rc = labels_to_pb(n->require, n->nrequire, &m->placement->require,
                          &m->placement->n_require);
        if (rc != NAOS_OK)
            goto err_after_alloc;
    }
    /* The root's always (a record says what it was deployed with, not
     * what the defaults were then); below the root only when not the
     * defaults, for spec_validate to refuse on the other side. */
    if (depth == 1 || n->max_migrations != SPEC_MIGRATIONS_DEFAULT ||
        n->migration_window != SPEC_MIGRATION_WINDOW_DEFAULT) {
        rc = NAOS_ENOMEM;
        m->migration = naos_alloc(sizeof *m->migration);
        if (m->migration == NULL)
            goto err_after_alloc;
        naos__v1__migration__init(m->migration);
        m->migration->max = n->max_migrations;
        m->migration->window_ms = n->migration_window;
    }
    m->on_partition_keep = n->on_partition_keep; /* spec_validate refuses
                                                    it below the root */
    if (n->nchildren > 0 && n->children != NULL) {
        rc = NAOS_ENOMEM;
        m->children = naos_alloc(n->nchildren * sizeof *m->children);
        if (m->children == NULL)
            goto err_after_alloc;
        for (size_t i = 0; i < n->nchildren; i++) {
            rc = node_to_pb(&n->children[i], depth + 1, &m->children[i]);
            if (rc != NAOS_OK)
                goto err_after_alloc;
            m->n_children = i + 1;
        }
    }
    *out = m;
    return NAOS_OK;

err_after_alloc:
    spec_pb_free(m);
    return rc;
}

int
spec_pb_from_spec(const struct spec_node *n, Naos__V1__NodeSpec **out)
{
    if (n == NULL || out == NULL)
        return NAOS_EINVAL;
    return node_to_pb(n, 1, out);
}

/* ---- wire -> spec ------------------------------------------------------ */

struct conv {
    char *err;
    size_t errlen;
    size_t nodes;
};

static int
fail(struct conv *c, int rc, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fail(struct conv *c, int rc, const char *path, const char *fmt, ...)
{
    if (c->err == NULL || c->errlen == 0)
        return rc;
    int k = snprintf(c->err, c->errlen, "%s: ", path[0] ? path : "(root)");
    if (k < 0 || (size_t)k >= c->errlen)
        return rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return rc;
}

/* A duration from the wire: >= 0 ms and no more than ~285 years, so that
 * consumers may add it to a monotonic clock without overflow. */
#define PB_MAX_DURATION_MS ((int64_t)9000000000000000LL)

static bool
duration_ok(int64_t v)
{
    return v >= 0 && v <= PB_MAX_DURATION_MS;
}

static int
copy_str(struct conv *c, const char *path, const char *field, const char *s,
         char **out)
{
    *out = NULL;
    if (s == NULL)
        s = "";
    size_t len = strnlen(s, SPEC_PB_MAX_STR + 1);
    if (len > SPEC_PB_MAX_STR)
        return fail(c, NAOS_ETOOBIG, path, "%s: longer than %d bytes", field,
                    SPEC_PB_MAX_STR);
    *out = naos_strdup(s);
    return *out ? NAOS_OK : NAOS_ENOMEM;
}

static int
copy_strv(struct conv *c, const char *path, const char *field,
          char *const *v, size_t n, size_t max, char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    if (n == 0)
        return NAOS_OK;
    if (n > max)
        return fail(c, NAOS_ETOOBIG, path, "%s: more than %zu entries", field,
                    max);
    if (v == NULL)
        return fail(c, NAOS_EINVAL, path, "%s: missing entries", field);
    char **a = naos_alloc((n + 1) * sizeof *a); /* NULL-terminated */
    if (a == NULL)
        return NAOS_ENOMEM;
    *out = a;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == NULL)
            return fail(c, NAOS_EINVAL, path, "%s: entry %zu missing", field,
                        i);
        int rc = copy_str(c, path, field, v[i], &a[i]);
        if (rc != NAOS_OK)
            return rc;
        *nout = i + 1;
    }
    return NAOS_OK;
}

/* require_from_pb copies p's require labels into n, refusing more than
 * SPEC_LABELS_MAX (before allocating), a missing entry, a key or value
 * out of label.h's bounds and a key given twice. */
static int
require_from_pb(struct conv *c, const char *path, const Naos__V1__Placement *p,
                struct spec_node *n)
{
    if (p->n_require > SPEC_LABELS_MAX)
        return fail(c, NAOS_ETOOBIG, path,
                    "placement.require: more than %d labels",
                    SPEC_LABELS_MAX);
    if (p->require == NULL)
        return fail(c, NAOS_EINVAL, path,
                    "placement.require: missing entries");
    n->require = naos_alloc(p->n_require * sizeof *n->require);
    if (n->require == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < p->n_require; i++) {
        const Naos__V1__NodeLabel *pl = p->require[i];
        if (pl == NULL)
            return fail(c, NAOS_EINVAL, path,
                        "placement.require: entry %zu missing", i);
        const char *k = pl->key ? pl->key : "";
        const char *v = pl->value ? pl->value : "";
        char lerr[256];
        struct spec_label one;
        if (spec_label_set(&one, k, strlen(k), v, strlen(v), lerr,
                           sizeof lerr) != NAOS_OK ||
            spec_labels_add(n->require, &n->nrequire, &one, lerr,
                            sizeof lerr) != NAOS_OK)
            return fail(c, NAOS_EINVAL, path, "placement.require: %s", lerr);
    }
    return NAOS_OK;
}

static int
node_from_pb(struct conv *c, const Naos__V1__NodeSpec *m, const char *parent,
             int depth, struct spec_node *n)
{
    /* Path for messages: "parent/id", cut short on absurd ids. */
    char path[256];
    const char *id = m->id ? m->id : "";
    if (parent[0])
        snprintf(path, sizeof path, "%s/%.63s", parent, id);
    else
        snprintf(path, sizeof path, "%.63s", id);

    if (depth > SPEC_MAX_DEPTH)
        return fail(c, NAOS_ETOOBIG, path, "tree deeper than %d levels",
                    SPEC_MAX_DEPTH);
    if (++c->nodes > SPEC_PB_MAX_NODES)
        return fail(c, NAOS_ETOOBIG, path, "more than %d nodes in the tree",
                    SPEC_PB_MAX_NODES);

    int rc = copy_str(c, path, "id", id, &n->id);
    if (rc != NAOS_OK)
        return rc;
    n->is_supervisor = m->is_supervisor != 0;

    switch (m->restart) {
    case NAOS__V1__RESTART_TYPE__PERMANENT: n->restart = SPEC_PERMANENT; break;
    case NAOS__V1__RESTART_TYPE__TRANSIENT: n->restart = SPEC_TRANSIENT; break;
    case NAOS__V1__RESTART_TYPE__TEMPORARY: n->restart = SPEC_TEMPORARY; break;
    default:
        return fail(c, NAOS_EINVAL, path, "restart: unknown value %d",
                    (int)m->restart);
    }
    if (m->shutdown_ms == SPEC_SHUTDOWN_KILL ||
        m->shutdown_ms == SPEC_SHUTDOWN_INFINITY || duration_ok(m->shutdown_ms))
        n->shutdown = m->shutdown_ms;
    else
        return fail(c, NAOS_EINVAL, path, "shutdown: invalid value %lld ms",
                    (long long)m->shutdown_ms);

    struct {
        const char *name;
        int64_t v;
        naos_duration *dst;
    } durs[] = {
        {"backoff.min", m->backoff_min_ms, &n->backoff_min},
        {"backoff.max", m->backoff_max_ms, &n->backoff_max},
        {"start_timeout", m->start_timeout_ms, &n->start_timeout},
        {"watchdog", m->watchdog_ms, &n->watchdog},
        {"max_runtime", m->max_runtime_ms, &n->max_runtime},
    };
    for (size_t i = 0; i < sizeof durs / sizeof durs[0]; i++) {
        if (!duration_ok(durs[i].v))
            return fail(c, NAOS_EINVAL, path, "%s: invalid value %lld ms",
                        durs[i].name, (long long)durs[i].v);
        *durs[i].dst = durs[i].v;
    }

    rc = copy_strv(c, path, "command", m->argv, m->n_argv, SPEC_PB_MAX_ARGV,
                   &n->argv, &n->argc);
    if (rc != NAOS_OK)
        return rc;
    rc = copy_strv(c, path, "env", m->env, m->n_env, SPEC_PB_MAX_ENV, &n->env,
                   &n->envc);
    if (rc != NAOS_OK)
        return rc;
    if (m->cwd != NULL && m->cwd[0] != '\0') {
        rc = copy_str(c, path, "cwd", m->cwd, &n->cwd);
        if (rc != NAOS_OK)
            return rc;
    }
    if (m->placement != NULL && m->placement->on != NULL &&
        m->placement->on[0] != '\0') {
        rc = copy_str(c, path, "placement.on", m->placement->on,
                      &n->place_on);
        if (rc != NAOS_OK)
            return rc;
    }
    if (m->placement != NULL && m->placement->n_require > 0) {
        rc = require_from_pb(c, path, m->placement, n);
        if (rc != NAOS_OK)
            return rc;
    }
    n->on_partition_keep = m->on_partition_keep;
    /* Absent (a record written before migration limits, or a node below
     * the root): the defaults. spec_validate checks the bounds. */
    n->max_migrations = SPEC_MIGRATIONS_DEFAULT;
    n->migration_window = SPEC_MIGRATION_WINDOW_DEFAULT;
    if (m->migration != NULL) {
        if (!duration_ok(m->migration->window_ms))
            return fail(c, NAOS_EINVAL, path,
                        "migration.window: invalid value %lld ms",
                        (long long)m->migration->window_ms);
        n->max_migrations = m->migration->max;
        n->migration_window = m->migration->window_ms;
    }

    switch (m->ready) {
    case NAOS__V1__READY_MODE__READY_EXEC: n->ready = SPEC_READY_EXEC; break;
    case NAOS__V1__READY_MODE__READY_NOTIFY: n->ready = SPEC_READY_NOTIFY; break;
    default:
        return fail(c, NAOS_EINVAL, path, "ready: unknown value %d",
                    (int)m->ready);
    }
    switch (m->output) {
    case NAOS__V1__OUTPUT_MODE__OUTPUT_LOG: n->output = SPEC_OUTPUT_LOG; break;
    case NAOS__V1__OUTPUT_MODE__OUTPUT_DISCARD:
        n->output = SPEC_OUTPUT_DISCARD;
        break;
    default:
        return fail(c, NAOS_EINVAL, path, "output: unknown value %d",
                    (int)m->output);
    }
    switch (m->control) {
    case NAOS__V1__CONTROL_MODE__CONTROL_NONE:
        n->control = SPEC_CONTROL_NONE;
        break;
    case NAOS__V1__CONTROL_MODE__CONTROL_FULL:
        n->control = SPEC_CONTROL_FULL;
        break;
    default:
        return fail(c, NAOS_EINVAL, path, "control: unknown value %d",
                    (int)m->control);
    }
    switch (m->strategy) {
    case NAOS__V1__STRATEGY__ONE_FOR_ONE: n->strategy = SPEC_ONE_FOR_ONE; break;
    case NAOS__V1__STRATEGY__ONE_FOR_ALL: n->strategy = SPEC_ONE_FOR_ALL; break;
    case NAOS__V1__STRATEGY__REST_FOR_ONE:
        n->strategy = SPEC_REST_FOR_ONE;
        break;
    case NAOS__V1__STRATEGY__SIMPLE_ONE_FOR_ONE:
        n->strategy = SPEC_SIMPLE_ONE_FOR_ONE;
        break;
    default:
        return fail(c, NAOS_EINVAL, path, "strategy: unknown value %d",
                    (int)m->strategy);
    }
    n->max_restarts = m->max_restarts;
    n->window_s = m->window_s;
    if (m->replicas > SPEC_MAX_REPLICAS)
        return fail(c, NAOS_ETOOBIG, path, "replicas: more than %d",
                    SPEC_MAX_REPLICAS);
    n->replicas = m->replicas;

    if (m->n_children == 0)
        return NAOS_OK;
    if (m->n_children > SPEC_MAX_CHILDREN)
        return fail(c, NAOS_ETOOBIG, path, "children: more than %d",
                    SPEC_MAX_CHILDREN);
    if (m->children == NULL)
        return fail(c, NAOS_EINVAL, path, "children: missing entries");
    n->children = naos_alloc(m->n_children * sizeof *n->children);
    if (n->children == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < m->n_children; i++) {
        if (m->children[i] == NULL)
            return fail(c, NAOS_EINVAL, path, "children: entry %zu missing",
                        i);
        /* zeroed by naos_alloc; counted first so spec_node_fini sees the
         * half-built child too */
        n->nchildren = i + 1;
        rc = node_from_pb(c, m->children[i], path, depth + 1,
                          &n->children[i]);
        if (rc != NAOS_OK)
            return rc;
    }
    return NAOS_OK;
}

int
spec_pb_to_spec(const Naos__V1__NodeSpec *m, struct spec_node *out,
                char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    memset(out, 0, sizeof *out);
    struct conv c = {.err = err, .errlen = errlen, .nodes = 0};
    if (m == NULL) {
        fail(&c, NAOS_EINVAL, "", "spec: missing");
        return NAOS_EINVAL;
    }
    int rc = node_from_pb(&c, m, "", 1, out);
    if (rc != NAOS_OK) {
        if (rc == NAOS_ENOMEM && err && errlen)
            snprintf(err, errlen, "out of memory converting the spec");
        spec_node_fini(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
