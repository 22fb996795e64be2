/* SPDX-License-Identifier: Apache-2.0 */
/* status_json.c: naos.v1.Status / Event -> JSON. Built only with jansson's
 * constructors (never by printing text), so every string is escaped by
 * jansson. Each builder returns NULL on failure and releases what it made. */
#include "proto/status_json.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node/base/alloc.h"
#include "node/base/utf8.h"

static const char *
str(const char *s)
{
    return s ? s : "";
}

/* jstr makes a JSON string of s. Text from the wire (a worker's STATUS=,
 * an exit reason) need not be UTF-8, which jansson refuses: such bytes are
 * replaced by U+FFFD rather than dropping the whole value. */
static json_t *
jstr(const char *s)
{
    s = s ? s : "";
    json_t *v = json_string(s);
    if (v != NULL)
        return v;
    size_t n = strlen(s);
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *buf = naos_alloc(3 * n + 1); /* each bad byte becomes 3 bytes */
    if (buf == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = naos_utf8_seq_len(p + i, n - i);
        if (k == 0) {
            memcpy(buf + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(buf + o, p + i, k);
            o += k;
            i += k;
        }
    }
    buf[o] = '\0';
    v = json_string(buf);
    naos_free(buf);
    return v;
}

/* A string, or JSON null when empty. */
static json_t *
str_or_null(const char *s)
{
    return (s && s[0]) ? jstr(s) : json_null();
}

/* obj_set steals v (NULL marks an allocation failure upstream). */
static bool
obj_set(json_t *o, const char *key, json_t *v)
{
    if (v == NULL)
        return false;
    return json_object_set_new(o, key, v) == 0;
}

char *
status_json_time(int64_t wall_ms, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    buf[0] = '\0';
    int64_t ms = wall_ms % 1000;
    int64_t s = wall_ms / 1000;
    if (ms < 0) { /* floor for times before 1970 */
        ms += 1000;
        s -= 1;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL)
        return buf;
    char tmp[64];
    if (strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        return buf;
    snprintf(buf, len, "%s.%03dZ", tmp, (int)ms);
    return buf;
}

static json_t *
time_json(int64_t wall_ms)
{
    char buf[64];
    status_json_time(wall_ms, buf, sizeof buf);
    return buf[0] ? json_string(buf) : json_null();
}

/* elapsed: ms since the document was taken, added to running workers'
 * uptimes (status_json_status_at). */
static json_t *
node_json(const Naos__V1__NodeStatus *n, int depth, int64_t elapsed)
{
    if (n == NULL || depth > STATUS_JSON_MAX_DEPTH)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool sup = n->is_supervisor != 0;
    bool ok = obj_set(o, "id", jstr(n->id)) &&
              obj_set(o, "path", jstr(n->path)) &&
              obj_set(o, "type", json_string(sup ? "supervisor" : "worker")) &&
              obj_set(o, "state", jstr(n->state)) &&
              obj_set(o, "pid",
                      (!sup && n->pid != 0) ? json_integer(n->pid)
                                            : json_null()) &&
              obj_set(o, "restarts", json_integer(n->restarts)) &&
              obj_set(o, "restart", str_or_null(n->restart_type)) &&
              obj_set(o, "uptime_ms",
                      json_integer(n->uptime_ms +
                                   (!sup && n->pid != 0 ? elapsed : 0)));
    if (!ok)
        goto err;

    json_t *le = json_null();
    if (n->last_exit != NULL) {
        json_decref(le);
        le = json_object();
        if (le == NULL ||
            !obj_set(le, "reason", jstr(n->last_exit->reason)) ||
            !obj_set(le, "at", time_json(n->last_exit->at_wall_ms))) {
            json_decref(le);
            goto err;
        }
    }
    if (!obj_set(o, "last_exit", le) ||
        !obj_set(o, "status_text", str_or_null(n->status_text)))
        goto err;

    if (sup) {
        ok = obj_set(o, "strategy", jstr(n->strategy)) &&
             obj_set(o, "max_restarts", json_integer(n->max_restarts)) &&
             obj_set(o, "window_s", json_integer(n->window_s)) &&
             obj_set(o, "restarts_in_window",
                     json_integer(n->restarts_in_window));
        if (!ok)
            goto err;
    }
    json_t *kids = json_array();
    if (!obj_set(o, "children", kids))
        goto err;
    for (size_t i = 0; n->children && i < n->n_children; i++) {
        json_t *k = node_json(n->children[i], depth + 1, elapsed);
        if (k == NULL || json_array_append_new(kids, k) != 0)
            goto err;
    }
    return o;

err:
    json_decref(o);
    return NULL;
}

json_t *
status_json_node(const Naos__V1__NodeStatus *n)
{
    return node_json(n, 1, 0);
}

/* migrations_json: the root supervisor's moves of d within its window
 * and its limits: {"moves", "max", "window_ms"}. */
static json_t *
migrations_json(const Naos__V1__DeploymentStatus *d)
{
    json_t *m = json_object();
    if (m == NULL)
        return NULL;
    if (!obj_set(m, "moves", json_integer((json_int_t)d->migrations)) ||
        !obj_set(m, "max", json_integer((json_int_t)d->max_migrations)) ||
        !obj_set(m, "window_ms",
                 json_integer((json_int_t)d->migration_window_ms))) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* history_json: d's moves, oldest first: [{"from", "to", "reason",
 * "at", "epoch"}]. */
static json_t *
history_json(const Naos__V1__DeploymentStatus *d)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < d->n_history; i++) {
        const Naos__V1__MoveStatus *m = d->history[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(a, o) != 0 ||
            !obj_set(o, "from", jstr(m->from)) ||
            !obj_set(o, "to", jstr(m->to)) ||
            !obj_set(o, "reason", jstr(m->reason)) ||
            !obj_set(o, "at", time_json(m->at_wall_ms)) ||
            !obj_set(o, "epoch", json_integer((json_int_t)m->epoch))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *
deployment_json(const Naos__V1__DeploymentStatus *d, int64_t elapsed)
{
    if (d == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool failed = strcmp(str(d->state), "failed") == 0;
    if (!obj_set(o, "name", jstr(d->name)) ||
        !obj_set(o, "state", jstr(d->state)) ||
        (failed && !obj_set(o, "failure", str_or_null(d->failure))))
        goto err;
    /* a cluster's status: where it runs, under which fencing token */
    if (d->node && d->node[0] &&
        (!obj_set(o, "node", jstr(d->node)) ||
         !obj_set(o, "epoch", json_integer((json_int_t)d->epoch)) ||
         !obj_set(o, "reported_ms",
                  json_integer((json_int_t)d->reported_ms)) ||
         (d->node_state && d->node_state[0] &&
          !obj_set(o, "node_state", jstr(d->node_state))) ||
         !obj_set(o, "migrations", migrations_json(d)) ||
         !obj_set(o, "on_partition",
                  json_string(d->on_partition_keep ? "keep" : "stop")) ||
         !obj_set(o, "released", json_boolean(d->released)) ||
         !obj_set(o, "history", history_json(d))))
        goto err;
    json_t *tree = d->tree ? node_json(d->tree, 1, elapsed) : json_null();
    if (!obj_set(o, "tree", tree))
        goto err;
    return o;

err:
    json_decref(o);
    return NULL;
}

json_t *
status_json_deployment(const Naos__V1__DeploymentStatus *d)
{
    return deployment_json(d, 0);
}

json_t *
status_json_deployment_at(const Naos__V1__DeploymentStatus *d,
                          int64_t elapsed_ms)
{
    return deployment_json(d, elapsed_ms);
}

json_t *
status_json_status(const Naos__V1__Status *st)
{
    return status_json_status_at(st, NULL);
}

json_t *
status_json_status_at(const Naos__V1__Status *st, const int64_t *elapsed_ms)
{
    if (st == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (!obj_set(o, "node", jstr(st->node)))
        goto err;
    if (st->cluster) {
        const Naos__V1__ClusterInfo *c = st->cluster;
        json_t *co = json_object();
        if (!obj_set(o, "cluster", co) ||
            !obj_set(co, "leader", c->leader && c->leader[0]
                                       ? jstr(c->leader)
                                       : json_null()) ||
            !obj_set(co, "term", json_integer((json_int_t)c->term)) ||
            !obj_set(co, "commit", json_integer((json_int_t)c->commit)) ||
            !obj_set(co, "voters", json_integer(c->voters)) ||
            !obj_set(co, "fenced", json_boolean(c->fenced)) ||
            (c->fenced && !obj_set(co, "fenced_why", jstr(c->fenced_why))))
            goto err;
    }
    json_t *deps = json_array();
    if (!obj_set(o, "deployments", deps))
        goto err;
    for (size_t i = 0; st->deployments && i < st->n_deployments; i++) {
        json_t *d = deployment_json(st->deployments[i],
                                    elapsed_ms ? elapsed_ms[i] : 0);
        if (d == NULL || json_array_append_new(deps, d) != 0)
            goto err;
    }
    return o;

err:
    json_decref(o);
    return NULL;
}

json_t *
status_json_event(const Naos__V1__Event *ev)
{
    if (ev == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    /* json_int_t is signed 64-bit; a seq beyond it cannot happen in
     * practice (one event per ns for 292 years), clamp rather than wrap */
    json_int_t seq = ev->seq > (uint64_t)INT64_MAX ? (json_int_t)INT64_MAX
                                                   : (json_int_t)ev->seq;
    bool ok = obj_set(o, "seq", json_integer(seq)) &&
              obj_set(o, "at", time_json(ev->at_wall_ms)) &&
              obj_set(o, "kind", jstr(ev->kind)) &&
              obj_set(o, "deployment", str_or_null(ev->deployment)) &&
              obj_set(o, "path", str_or_null(ev->path)) &&
              obj_set(o, "pid",
                      ev->pid != 0 ? json_integer(ev->pid) : json_null()) &&
              obj_set(o, "reason", str_or_null(ev->reason)) &&
              obj_set(o, "restarts", json_integer(ev->restarts)) &&
              obj_set(o, "detail", str_or_null(ev->detail)) &&
              (ev->log_index == 0 ||
               (obj_set(o, "index", json_integer((json_int_t)ev->log_index)) &&
                obj_set(o, "term", json_integer((json_int_t)ev->log_term))));
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
member_json(const Naos__V1__Member *m)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_t *health = json_null();
    if (m->health) {
        const Naos__V1__MemberHealth *h = m->health;
        health = json_pack("{s:I, s:I, s:I, s:I, s:I, s:f}", "agents_running",
                           (json_int_t)h->agents_running, "agents_restarting",
                           (json_int_t)h->agents_restarting, "agents_failed",
                           (json_int_t)h->agents_failed, "agents_node_trouble",
                           (json_int_t)h->agents_node_trouble, "deployments",
                           (json_int_t)h->deployments, "load",
                           round(h->load * 100.0) / 100.0);
        if (health != NULL &&
            !obj_set(health, "deployments_failed",
                     json_integer((json_int_t)h->deployments_failed))) {
            json_decref(o);
            json_decref(health);
            return NULL;
        }
    }
    json_t *labels = json_object();
    for (size_t i = 0; labels != NULL && i < m->n_labels; i++) {
        const Naos__V1__NodeLabel *l = m->labels[i];
        if (l == NULL || l->key == NULL)
            continue;
        if (!obj_set(labels, l->key, jstr(l->value))) {
            json_decref(labels);
            labels = NULL;
        }
    }
    if (labels == NULL || !obj_set(o, "labels", labels)) {
        json_decref(o);
        json_decref(health);
        return NULL;
    }
    if (!obj_set(o, "id", jstr(m->id)) || !obj_set(o, "name", jstr(m->name)) ||
        !obj_set(o, "addr", jstr(m->addr)) ||
        !obj_set(o, "state", jstr(m->state)) ||
        !obj_set(o, "incarnation", json_integer((json_int_t)m->incarnation)) ||
        !obj_set(o, "last_heard_ms",
                 m->last_heard_ms < 0
                     ? json_null()
                     : json_integer((json_int_t)m->last_heard_ms)) ||
        !obj_set(o, "local", json_boolean(m->local)) ||
        !obj_set(o, "role", str_or_null(m->role)) ||
        !obj_set(o, "drained", json_boolean(m->drained)) ||
        !obj_set(o, "placed", json_integer((json_int_t)m->placed)) ||
        !obj_set(o, "health", health) ||
        !obj_set(o, "stale", json_boolean(m->stale)) ||
        !obj_set(o, "stale_ms", m->stale && m->stale_ms >= 0
                                    ? json_integer((json_int_t)m->stale_ms)
                                    : json_null()) ||
        (m->local &&
         (!obj_set(o, "dashboard", str_or_null(m->dashboard)) ||
          !obj_set(o, "dashboard_off", str_or_null(m->dashboard_off))))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *
status_json_nodes(const Naos__V1__NodesReply *r)
{
    if (r == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_t *arr = json_array();
    if (!obj_set(o, "leader", str_or_null(r->leader)) ||
        !obj_set(o, "term", json_integer((json_int_t)r->term)) ||
        !obj_set(o, "nodes", arr))
        goto err;
    for (size_t i = 0; r->nodes && i < r->n_nodes; i++) {
        json_t *m = r->nodes[i] ? member_json(r->nodes[i]) : NULL;
        if (m == NULL || json_array_append_new(arr, m) != 0)
            goto err;
    }
    return o;

err:
    json_decref(o);
    return NULL;
}
