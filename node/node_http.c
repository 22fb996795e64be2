/* SPDX-License-Identifier: Apache-2.0 */
/* node_http.c: the node's answers to HTTP API requests, and the counters
 * behind /metrics. Runs on the reactor thread, called by the http module
 * (node/http/http.h) for each request that needs node state.
 *
 * The JSON documents are exactly those of the control protocol, rendered
 * with proto/status_json as `naos status --json` renders them. Rendering
 * is deferred to the http module's render thread, so it must touch no
 * node state: status documents are the per-deployment snapshots of
 * node_status.c (immutable, shared by reference, rebuilt only when the
 * deployment changed: polling an unchanged tree costs the reactor a
 * reference count), and other replies are reply arenas that own copies
 * of everything they hold. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/http/metrics.h"
#include "node/node_int.h"
#include "proto/status_json.h"

/* The errnos of node trouble (sup_errno_is_node_trouble), in the order
 * of node_stats.node_trouble. */
static const int trouble_errnos[4] = {EMFILE, ENFILE, ENOMEM, EAGAIN};

static const double lag_bounds_s[NODE_LAG_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01,   0.025,   0.05,   0.1,   0.25,   1.0,
};

static void hist_emit(struct http_metrics *m, const char *name,
                      const char *help, const struct node_hist *h);

/* ---- reply arenas handed to the render thread ------------------------- */

static void
arena_free(void *arg)
{
    struct ctl_reply *rep = arg;
    ctl_reply_fini(rep);
    naos_free(rep);
}

/* Runs req through the control request handler into a new heap arena.
 * Returns NULL when out of memory. */
static struct ctl_reply *
ask(struct node *n, const Naos__V1__Request *req)
{
    struct ctl_reply *rep = naos_alloc(sizeof *rep);
    if (rep == NULL)
        return NULL;
    naos__v1__reply__init(&rep->msg);
    node__handle_request(n, req, rep);
    if (rep->failed) {
        arena_free(rep);
        return NULL;
    }
    return rep;
}

static int
http_status_of(Naos__V1__ErrorCode code)
{
    switch (code) {
    case NAOS__V1__ERROR_CODE__OK:
        return 200;
    case NAOS__V1__ERROR_CODE__NOT_FOUND:
        return 404;
    case NAOS__V1__ERROR_CODE__BUSY:
    case NAOS__V1__ERROR_CODE__EXISTS:
        return 409;
    case NAOS__V1__ERROR_CODE__INVALID:
        return 400;
    case NAOS__V1__ERROR_CODE__DENIED:
        return 403;
    case NAOS__V1__ERROR_CODE__UNAVAILABLE:
        return 503;
    case NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME:
        /* the leader that took it changed or went silent: the command
         * may or may not be carried out (the API has no client ids: ask
         * GET /api/v1/status before sending it again) */
        return 504;
    default:
        return 500;
    }
}

/* Answers an error reply, or returns false for a successful one. */
static bool
reply_failed(struct ctl_reply *rep, struct http_response *res)
{
    if (rep == NULL) {
        http_response_error(res, 500, "naos-node ran out of memory");
        return true;
    }
    if (rep->msg.code == NAOS__V1__ERROR_CODE__OK)
        return false;
    http_response_error(res, http_status_of(rep->msg.code), "%s",
                        rep->msg.error ? rep->msg.error : "failed");
    arena_free(rep);
    return true;
}

/* struct status_view: what a status render reads, taken on the reactor. */
struct status_view {
    char *node; /* owned copy of the node's name */
    size_t n;
    struct status_snap *snaps[]; /* one reference each */
};

static void
view_free(void *arg)
{
    struct status_view *v = arg;
    for (size_t i = 0; i < v->n; i++)
        status_snap_unref(v->snaps[i]);
    naos_free(v->node);
    naos_free(v);
}

/* How long ago snapshot s was taken (its uptimes are that old). */
static int64_t
age_of(const struct status_snap *s, naos_time now)
{
    return now > s->taken_at ? (int64_t)(now - s->taken_at) : 0;
}

/* Render steps: the render thread's side. Only the arena or the view is
 * read. */

static void
render_status(void *arg, struct http_response *res)
{
    struct status_view *v = arg;
    /* The render thread's own read, not the loop's: the snapshots' ages
     * as this reply is written. */
    naos_time now = naos_clock_now();
    size_t n = v->n ? v->n : 1;
    Naos__V1__DeploymentStatus **deps = naos_alloc(n * sizeof *deps);
    int64_t *elapsed = naos_alloc(n * sizeof *elapsed);
    json_t *j = NULL;
    if (deps && elapsed) {
        for (size_t i = 0; i < v->n; i++) {
            deps[i] = v->snaps[i]->ds;
            elapsed[i] = age_of(v->snaps[i], now);
        }
        Naos__V1__Status st = NAOS__V1__STATUS__INIT;
        st.node = v->node;
        st.n_deployments = v->n;
        st.deployments = deps;
        j = status_json_status_at(&st, elapsed);
    }
    naos_free(deps);
    naos_free(elapsed);
    http_response_json(res, 200, j);
    json_decref(j);
}

static void
render_deployment(void *arg, struct http_response *res)
{
    struct status_view *v = arg;
    json_t *j = v->n == 1 ? status_json_deployment_at(
                                v->snaps[0]->ds,
                                age_of(v->snaps[0], naos_clock_now()))
                          : NULL;
    http_response_json(res, 200, j);
    json_decref(j);
}

static void
render_events(void *arg, struct http_response *res)
{
    struct ctl_reply *rep = arg;
    const Naos__V1__EventsReply *er = rep->msg.events;
    json_t *list = json_array();
    for (size_t i = 0; list && i < er->n_events; i++) {
        json_t *e = status_json_event(er->events[i]);
        if (e == NULL || json_array_append_new(list, e) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    json_t *doc = list ? json_pack("{s:o, s:I, s:I}", "events", list, "next",
                                   (json_int_t)er->next, "dropped",
                                   (json_int_t)er->dropped)
                       : NULL;
    http_response_json(res, 200, doc);
    json_decref(doc);
}

static void
defer(struct http_response *res, struct ctl_reply *rep,
      void (*render)(void *, struct http_response *))
{
    res->render = render;
    res->render_free = arena_free;
    res->render_arg = rep;
}

/* ---- routes -------------------------------------------------------------- */

/* The status of every deployment, or of the one named only: references
 * to their snapshots, rendered off the reactor. */
static void
answer_status(struct node *n, const char *only, struct http_response *res,
              void (*render)(void *, struct http_response *))
{
    size_t count = 0;
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d))
        count += only == NULL || strcmp(d->id, only) == 0;
    if (only != NULL && count == 0) {
        http_response_error(res, 404,
                            "no deployment named %s (see `naos status`)",
                            only);
        return;
    }
    struct status_view *v =
        naos_alloc(sizeof *v + count * sizeof v->snaps[0]);
    if (v == NULL || (v->node = naos_strdup(n->name)) == NULL)
        goto oom;
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d)) {
        if (only != NULL && strcmp(d->id, only) != 0)
            continue;
        if ((v->snaps[v->n] = node__status_snap(n, d)) == NULL)
            goto oom;
        v->n++;
    }
    res->render = render;
    res->render_free = view_free;
    res->render_arg = v;
    return;

oom:
    if (v != NULL)
        view_free(v);
    http_response_error(res, 500, "naos-node ran out of memory");
}

static void
answer_events(struct node *n, const struct http_route *rt,
              struct http_response *res)
{
    Naos__V1__EventsRequest er = NAOS__V1__EVENTS_REQUEST__INIT;
    er.since = rt->since;
    er.max = rt->max;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
    req.events = &er;
    struct ctl_reply *rep = ask(n, &req);
    if (reply_failed(rep, res))
        return;
    defer(res, rep, render_events);
}

/* The HTTP answer to a command's control reply (consumed). */
static void
command_answer(struct ctl_reply *rep, const char *name,
               struct http_response *res)
{
    if (reply_failed(rep, res))
        return;
    NAOS_INFO("http", "%s (over HTTP)", rep->msg.message);
    json_t *doc = json_pack("{s:s, s:s}", "message", rep->msg.message,
                            "deployment", name);
    http_response_json(res, 200, doc);
    json_decref(doc);
    arena_free(rep);
}

/* The cluster's status (node_cluster_status.c), as `naos status --json`
 * renders it. */
static void
render_cluster_status(void *arg, struct http_response *res)
{
    struct ctl_reply *rep = arg;
    json_t *j = rep->msg.rep_case == NAOS__V1__REPLY__REP_STATUS
                    ? status_json_status(rep->msg.status)
                    : NULL;
    if (rep->msg.code != NAOS__V1__ERROR_CODE__OK)
        http_response_error(res, http_status_of(rep->msg.code), "%s",
                            rep->msg.error ? rep->msg.error : "failed");
    else
        http_response_json(res, 200, j);
    json_decref(j);
}

/* struct node_http_wait: an HTTP API request answered once the cluster
 * has: a command forwarded to the leader (node_forward.c), or the
 * cluster's status gathered from its nodes (node_cluster_status.c). */
struct node_http_wait {
    struct http_response *res; /* deferred (http_resume) */
    struct ctl_reply *rep;     /* heap arena the answer goes in */
    char *name;                /* the deployment, for the JSON */
    bool status;               /* a status, not a command */
    bool in_handler;           /* answered before the handler returned */
    bool finished;
};

/* Dashboards poll every second, each of them: a cluster status gathered
 * for HTTP is reused for this long, so the nodes are asked at most once
 * per period whatever the number of pages open (and the gathering slots
 * stay free for `naos status`). */
#define HTTP_CLUSTER_STATUS_REUSE_MS 1000

/* Keeps rep (a composed cluster status) for reuse; out of memory: not. */
static void
cluster_status_keep(struct node *n, const struct ctl_reply *rep)
{
    if (rep->failed || rep->msg.code != NAOS__V1__ERROR_CODE__OK)
        return;
    size_t len = naos__v1__reply__get_packed_size(&rep->msg);
    uint8_t *buf = naos_alloc(len ? len : 1);
    if (buf == NULL)
        return;
    naos__v1__reply__pack(&rep->msg, buf);
    naos_free(n->http_status.buf);
    n->http_status = (struct node_report){1, n->r.now, buf, len};
}

/* Answers res from the kept cluster status when it is fresh enough. */
static bool
cluster_status_reuse(struct node *n, struct http_response *res)
{
    struct node_report *k = &n->http_status;
    if (k->buf == NULL || n->r.now - k->at >= HTTP_CLUSTER_STATUS_REUSE_MS)
        return false;
    struct ctl_reply *rep = naos_alloc(sizeof *rep);
    if (rep == NULL)
        return false;
    ProtobufCAllocator a = ctl_reply_pb_allocator(rep);
    Naos__V1__Reply *m = naos__v1__reply__unpack(&a, k->len, k->buf);
    if (m == NULL || rep->failed) {
        arena_free(rep);
        return false;
    }
    rep->msg = *m;
    defer(res, rep, render_cluster_status);
    return true;
}

void
node__http_close(struct node *n)
{
    naos_free(n->http_status.buf);
    n->http_status = (struct node_report){0};
}

struct ctl_reply *
node__http_wait_reply(struct node_http_wait *hw)
{
    return hw->rep;
}

void
node__http_wait_drop(struct node_http_wait *hw)
{
    if (hw == NULL)
        return;
    if (hw->rep != NULL)
        arena_free(hw->rep);
    naos_free(hw->name);
    naos_free(hw);
}

void
node__http_wait_done(struct node *n, struct node_http_wait *hw)
{
    if (hw->status) {
        cluster_status_keep(n, hw->rep);
        defer(hw->res, hw->rep, render_cluster_status); /* owns rep */
        if (hw->rep->failed) {
            hw->res->render = NULL;
            hw->res->render_free = NULL;
            hw->res->render_arg = NULL;
            arena_free(hw->rep);
            http_response_error(hw->res, 500, "naos-node ran out of memory");
        }
    } else {
        command_answer(hw->rep, hw->name, hw->res);
    }
    hw->rep = NULL; /* consumed */
    if (hw->in_handler) {
        hw->finished = true; /* its handler answers it as it returns */
        return;
    }
    http_resume(&n->http, hw->res);
    node__http_wait_drop(hw);
}

/* `GET /api/v1/status?scope=cluster` on a cluster: every deployment of
 * the cluster, each owner's trees gathered as for `naos status` (or as
 * gathered less than a second ago); true when answered or deferred. */
static bool
cluster_status(struct node *n, struct http_response *res)
{
    if (n->log == NULL || !n->replicated)
        return false; /* no cluster: this node's status is the whole */
    if (cluster_status_reuse(n, res))
        return true;
    if (!http_can_defer(&n->http)) {
        http_response_error(res, 503, "naos-node is busy: too many requests "
                            "wait; retry shortly");
        return true;
    }
    struct node_http_wait *hw = naos_alloc(sizeof *hw);
    struct ctl_reply *rep = naos_alloc(sizeof *rep);
    if (hw == NULL || rep == NULL) {
        naos_free(hw);
        naos_free(rep);
        http_response_error(res, 500, "naos-node ran out of memory");
        return true;
    }
    naos__v1__reply__init(&rep->msg);
    *hw = (struct node_http_wait){.res = res, .rep = rep, .status = true,
                                  .in_handler = true};
    int rc = node__cluster_status_http(n, hw);
    hw->in_handler = false;
    if (rc == NAOS_OK && !hw->finished) {
        res->deferred = true;
        return true;
    }
    if (rc == NAOS_EBUSY)
        http_response_error(res, 503, "%d cluster status requests are being "
                            "answered: retry shortly (or ?scope=local)",
                            STATUS_GATHERS);
    node__http_wait_drop(hw);
    return rc != NAOS_EINVAL;
}

/* A command on a follower of a cluster goes to the leader, as `naos`
 * sends it there (node_forward.c); true when it is answered or waits. */
static bool
command_forwarded(struct node *n, const Naos__V1__Request *req,
                  const char *name, struct http_response *res)
{
    if (n->log == NULL || !n->replicated || !http_can_defer(&n->http))
        return false;
    struct node_http_wait *hw = naos_alloc(sizeof *hw);
    struct ctl_reply *rep = naos_alloc(sizeof *rep);
    char *copy = naos_strdup(name);
    if (hw == NULL || rep == NULL || copy == NULL) {
        naos_free(hw);
        naos_free(rep);
        naos_free(copy);
        return false; /* answered here, which says what it can */
    }
    naos__v1__reply__init(&rep->msg);
    *hw = (struct node_http_wait){.res = res, .rep = rep, .name = copy};
    switch (node__forward_http(n, req, hw, rep)) {
    case FWD_SENT:
        res->deferred = true;
        return true;
    case FWD_ANSWERED:
        hw->rep = NULL;
        node__http_wait_drop(hw);
        if (rep->failed) {
            arena_free(rep);
            http_response_error(res, 500, "naos-node ran out of memory");
        } else {
            command_answer(rep, name, res);
        }
        return true;
    case FWD_NO:
    default:
        node__http_wait_drop(hw);
        return false;
    }
}

static void
answer_command(struct node *n, const struct http_route *rt,
               struct http_response *res)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = (char *)rt->name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    switch (rt->cmd) {
    case HTTP_CMD_RESTART:
        req.req_case = NAOS__V1__REQUEST__REQ_RESTART;
        req.restart = &nr;
        break;
    case HTTP_CMD_STOP:
        req.req_case = NAOS__V1__REQUEST__REQ_STOP;
        req.stop = &nr;
        break;
    case HTTP_CMD_START:
        req.req_case = NAOS__V1__REQUEST__REQ_START;
        req.start = &nr;
        break;
    default:
        http_response_error(res, 404, "no such command");
        return;
    }
    if (command_forwarded(n, &req, rt->name, res))
        return;
    command_answer(ask(n, &req), rt->name, res);
}

struct tally {
    uint64_t workers[SUP_FAILED + 1];
    uint64_t supervisors[SUP_FAILED + 1];
};

static void
tally_tree(const struct sup_node *s, struct tally *t)
{
    if (s->is_supervisor)
        t->supervisors[s->state]++;
    else
        t->workers[s->state]++;
    for (size_t i = 0; i < s->nchildren; i++)
        tally_tree(s->children[i], t);
}

/* `naos nodes --json`'s document, built by the same control request. */
static void
answer_nodes(struct node *n, struct http_response *res)
{
    Naos__V1__NodesRequest nq = NAOS__V1__NODES_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_NODES;
    req.nodes = &nq;
    struct ctl_reply *rep = ask(n, &req);
    if (reply_failed(rep, res))
        return;
    json_t *doc = rep->msg.rep_case == NAOS__V1__REPLY__REP_NODES
                      ? status_json_nodes(rep->msg.nodes)
                      : NULL;
    arena_free(rep);
    if (doc == NULL) {
        http_response_error(res, 500, "naos-node ran out of memory");
        return;
    }
    http_response_json(res, 200, doc);
    json_decref(doc);
}

/* ---- /metrics --------------------------------------------------------------- */

static void
supervisor_lines(struct http_metrics *m, const char *family,
                 const struct sup_node *s, const char *dep, naos_time now,
                 int what)
{
    if (!s->is_supervisor)
        return;
    double v = what == 0   ? (double)sup_intensity_in_use(s, now)
               : what == 1 ? (double)s->spec->max_restarts
                           : (double)s->spec->window_s;
    const char *labels[] = {"deployment", dep, "supervisor", s->path, NULL};
    http_metrics_sample(m, family, labels, v);
    for (size_t i = 0; i < s->nchildren; i++)
        supervisor_lines(m, family, s->children[i], dep, now, what);
}

static void
answer_metrics(struct node *n, struct http_response *res)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    naos_time now = n->r.now;
    static const enum sup_state states[] = {SUP_STOPPED, SUP_STARTING,
                                            SUP_RUNNING, SUP_RESTARTING,
                                            SUP_STOPPING, SUP_FAILED};
    const size_t nstates = sizeof states / sizeof states[0];

    http_metrics_family(&m, "naos_build_info", "gauge",
                        "naos-node version (always 1)");
    http_metrics_sample(&m, "naos_build_info",
                        (const char *[]){"version", NAOS_VERSION, "node",
                                         n->name, NULL},
                        1);
    http_metrics_family(&m, "naos_uptime_seconds", "gauge",
                        "Seconds since this naos-node started.");
    http_metrics_sample(&m, "naos_uptime_seconds", NULL,
                        (double)(now - n->stats.started_at) / 1000.0);

    http_metrics_family(&m, "naos_deployments", "gauge",
                        "Deployments on this node by state.");
    uint64_t dep_by_state[SUP_FAILED + 1] = {0};
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d))
        dep_by_state[d->state]++;
    for (size_t i = 0; i < nstates; i++)
        http_metrics_sample(&m, "naos_deployments",
                            (const char *[]){"state",
                                             sup_state_name(states[i]), NULL},
                            (double)dep_by_state[states[i]]);

    http_metrics_family(&m, "naos_children", "gauge",
                        "Workers and supervisors by deployment, type and "
                        "state.");
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d)) {
        struct tally t = {0};
        tally_tree(d, &t);
        for (size_t i = 0; i < nstates; i++) {
            const char *st = sup_state_name(states[i]);
            http_metrics_sample(&m, "naos_children",
                                (const char *[]){"deployment", d->id, "type",
                                                 "worker", "state", st, NULL},
                                (double)t.workers[states[i]]);
            http_metrics_sample(&m, "naos_children",
                                (const char *[]){"deployment", d->id, "type",
                                                 "supervisor", "state", st,
                                                 NULL},
                                (double)t.supervisors[states[i]]);
        }
    }

    http_metrics_family(&m, "naos_restarts_total", "counter",
                        "Restarts decided, by deployment and the exit "
                        "reason of the child restarted.");
    for (size_t i = 0; i < n->stats.nrestarts; i++) {
        const struct node_restart_count *c = &n->stats.restarts[i];
        http_metrics_sample(&m, "naos_restarts_total",
                            (const char *[]){"deployment", c->deployment,
                                             "reason", c->reason, NULL},
                            (double)c->n);
    }
    http_metrics_family(&m, "naos_escalations_total", "counter",
                        "Times a deployment's top supervisor gave up and "
                        "the deployment failed.");
    for (size_t i = 0; i < n->stats.ndeps; i++)
        http_metrics_sample(&m, "naos_escalations_total",
                            (const char *[]){"deployment",
                                             n->stats.deps[i].deployment,
                                             NULL},
                            (double)n->stats.deps[i].escalations);
    http_metrics_family(&m, "naos_supervisor_give_ups_total", "counter",
                        "Times a supervisor reached its maximum restart "
                        "intensity, by deployment.");
    for (size_t i = 0; i < n->stats.ndeps; i++)
        http_metrics_sample(&m, "naos_supervisor_give_ups_total",
                            (const char *[]){"deployment",
                                             n->stats.deps[i].deployment,
                                             NULL},
                            (double)n->stats.deps[i].give_ups);

    static const struct {
        const char *name, *help;
    } intensity[] = {
        {"naos_supervisor_restarts_in_window",
         "Restart intensity in use: restarts within the supervisor's "
         "current window."},
        {"naos_supervisor_max_restarts",
         "Restarts allowed within the window before the supervisor gives "
         "up."},
        {"naos_supervisor_window_seconds",
         "Length of the supervisor's restart intensity window."},
    };
    for (int w = 0; w < 3; w++) {
        http_metrics_family(&m, intensity[w].name, "gauge",
                            intensity[w].help);
        for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d))
            supervisor_lines(&m, intensity[w].name, d, d->id, now, w);
    }

    http_metrics_family(&m, "naos_node_trouble_total", "counter",
                        "Spawns that failed for the node's own reasons (out "
                        "of descriptors, memory or processes), by errno: "
                        "retried, never counted against max_restarts.");
    for (size_t i = 0; i < 4; i++)
        http_metrics_sample(&m, "naos_node_trouble_total",
                            (const char *[]){"reason",
                                             strerrorname_np(trouble_errnos[i]),
                                             NULL},
                            (double)n->stats.node_trouble[i]);
    http_metrics_family(&m, "naos_agents_node_trouble", "gauge",
                        "Agents whose start waits out the node's own "
                        "trouble.");
    http_metrics_sample(&m, "naos_agents_node_trouble", NULL,
                        (double)sup_count_node_trouble(n->tree));

    /* The number of the last event in the store, not the last recorded:
     * a kill -9 loses the unsaved ones, whose numbers the next run gives
     * again, and a counter must not go down. Once the store refused them
     * nothing is kept any more: the last recorded. */
    http_metrics_family(&m, "naos_events_total", "counter",
                        "Supervision events recorded and kept in the store "
                        "(the number of the last kept, up to 250 ms behind; "
                        "numbers go on across restarts).");
    http_metrics_sample(&m, "naos_events_total", NULL,
                        (double)(n->events_unsaved
                                     ? events_last(&n->events)
                                     : n->events.persisted));

    hist_emit(&m, "naos_reactor_loop_duration_seconds",
              "Time each reactor iteration kept the loop busy (dispatch "
              "plus supervision tick).", &n->stats.lag);
    http_metrics_family(&m, "naos_reactor_loop_max_duration_seconds", "gauge",
                        "Longest reactor iteration since start.");
    http_metrics_sample(&m, "naos_reactor_loop_max_duration_seconds", NULL,
                        (double)n->r.max_lag_us / 1e6);

    http_metrics_family(&m, "naos_control_requests_total", "counter",
                        "Control socket requests (the naos CLI), by "
                        "result.");
    http_metrics_sample(&m, "naos_control_requests_total",
                        (const char *[]){"result", "ok", NULL},
                        (double)(n->ctl.served - n->ctl.bad));
    http_metrics_sample(&m, "naos_control_requests_total",
                        (const char *[]){"result", "error", NULL},
                        (double)n->ctl.bad);

    struct http_stats hs;
    http_get_stats(&n->http, &hs);
    struct node_members_stats ms;
    if (node__members_stats(n, &ms)) {
        static const char *const st_names[] = {"alive", "suspect", "dead",
                                               "left"};
        http_metrics_family(&m, "naos_members", "gauge",
                            "Cluster members by state, as this node sees "
                            "them (itself included).");
        for (int i = 0; i < 4; i++)
            http_metrics_sample(&m, "naos_members",
                                (const char *[]){"state", st_names[i], NULL},
                                (double)ms.by_state[i]);
        http_metrics_family(&m, "naos_gossip_messages_total", "counter",
                            "Sealed envelopes between nodes sent and "
                            "received (every range of types: see "
                            "naos_transport_messages_total).");
        http_metrics_sample(&m, "naos_gossip_messages_total",
                            (const char *[]){"direction", "in", NULL},
                            (double)ms.msgs_in);
        http_metrics_sample(&m, "naos_gossip_messages_total",
                            (const char *[]){"direction", "out", NULL},
                            (double)ms.msgs_out);
        http_metrics_family(&m, "naos_gossip_bytes_total", "counter",
                            "Envelope bytes sent and received (without "
                            "TCP/IP and NNG framing).");
        http_metrics_sample(&m, "naos_gossip_bytes_total",
                            (const char *[]){"direction", "in", NULL},
                            (double)ms.bytes_in);
        http_metrics_sample(&m, "naos_gossip_bytes_total",
                            (const char *[]){"direction", "out", NULL},
                            (double)ms.bytes_out);
        http_metrics_family(&m, "naos_gossip_dropped_total", "counter",
                            "Outgoing messages dropped (peer not reachable "
                            "or its buffer full).");
        http_metrics_sample(&m, "naos_gossip_dropped_total", NULL,
                            (double)ms.dropped_out);
        http_metrics_family(&m, "naos_gossip_connections_closed_total",
                            "counter",
                            "Connections to peers closed by the far end.");
        http_metrics_sample(&m, "naos_gossip_connections_closed_total", NULL,
                            (double)ms.conn_closed);
        http_metrics_family(&m, "naos_gossip_connections_retired_total",
                            "counter",
                            "Outgoing connections lost (dropped by the "
                            "far end or failed in the SP handshake), each "
                            "dialled afresh.");
        http_metrics_sample(&m, "naos_gossip_connections_retired_total",
                            NULL, (double)ms.conn_retired);
        http_metrics_family(&m, "naos_gossip_rejected_total", "counter",
                            "Envelopes refused and never acted on, by "
                            "reason (oversized: frames over the bound, "
                            "refused by the transport at their length).");
        http_metrics_sample(&m, "naos_gossip_rejected_total",
                            (const char *[]){"reason", "oversized", NULL},
                            (double)ms.oversized);
        /* auth_open's own size check cannot fire behind the transport's
         * smaller bound: not exported. */
        for (int r = AUTH_R_OVERSIZED + 1; r < AUTH_R__COUNT; r++)
            http_metrics_sample(&m, "naos_gossip_rejected_total",
                                (const char *[]){"reason",
                                                 auth_reason_str(r), NULL},
                                (double)ms.rejected[r]);
        http_metrics_sample(&m, "naos_gossip_rejected_total",
                            (const char *[]){"reason", "undecodable-payload",
                                             NULL},
                            (double)ms.undecodable);
        http_metrics_sample(&m, "naos_gossip_rejected_total",
                            (const char *[]){"reason", "unassigned-not-join",
                                             NULL},
                            (double)ms.unassigned_refused);
        http_metrics_family(&m, "naos_gossip_inbound_connections", "gauge",
                            "Connections to the gossip port now: from "
                            "members (authenticated) or not yet.");
        http_metrics_sample(&m, "naos_gossip_inbound_connections",
                            (const char *[]){"state", "authenticated", NULL},
                            (double)(ms.in_open - ms.in_unauth));
        http_metrics_sample(&m, "naos_gossip_inbound_connections",
                            (const char *[]){"state", "unauthenticated",
                                             NULL},
                            (double)ms.in_unauth);
        http_metrics_family(&m, "naos_gossip_inbound_closed_total",
                            "counter",
                            "Connections to the gossip port closed, by "
                            "reason.");
        for (int r = 0; r < NET_CLOSE__COUNT; r++)
            http_metrics_sample(&m, "naos_gossip_inbound_closed_total",
                                (const char *[]){"reason",
                                                 net_close_reason_str(r),
                                                 NULL},
                                (double)ms.in_closed[r]);
        http_metrics_family(&m, "naos_gossip_inbound_paused_total",
                            "counter",
                            "Times the gossip port stopped accepting: "
                            "its share of the descriptors was in use.");
        http_metrics_sample(&m, "naos_gossip_inbound_paused_total", NULL,
                            (double)ms.accept_paused);
        http_metrics_family(&m, "naos_gossip_replay_mark_writes_total",
                            "counter",
                            "Synced store writes of the senders' replay "
                            "marks (one per loop iteration that accepted "
                            "envelopes).");
        http_metrics_sample(&m, "naos_gossip_replay_mark_writes_total", NULL,
                            (double)ms.mark_writes);
        http_metrics_family(&m, "naos_gossip_local_health_multiplier",
                            "gauge", "Lifeguard's local health multiplier "
                            "(0 = healthy).");
        http_metrics_sample(&m, "naos_gossip_local_health_multiplier", NULL,
                            (double)ms.lhm);
    }
    if (n->wire) {
        /* The node's transport (node/wire): per range of message types. */
        struct wire_stats ws;
        wire_stats_get(n->wire, &ws);
        http_metrics_family(&m, "naos_transport_messages_total", "counter",
                            "Envelopes that opened, by the range of their "
                            "type (members, raft, requests; none: in no "
                            "range) and what became of them: received, "
                            "refused by the range's module, unhandled (a "
                            "range no module handles yet), dropped (not "
                            "durable).");
        for (size_t i = 0; i <= ws.nranges; i++) {
            const char *name;
            const struct wire_range_stats *rs;
            if (wire_range_at(n->wire, i, &name, NULL, NULL, &rs) != NAOS_OK)
                break;
            const struct {
                const char *result;
                uint64_t v;
            } rows[] = {{"received", rs->received},
                        {"refused", rs->refused},
                        {"unhandled", rs->unhandled},
                        {"dropped", rs->dropped}};
            for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++)
                http_metrics_sample(&m, "naos_transport_messages_total",
                                    (const char *[]){"range", name, "result",
                                                     rows[k].result, NULL},
                                    (double)rows[k].v);
        }
    }

    if (n->log) {
        /* The replicated log (node/cmd/cmdraft.c over node/raft). */
        const struct raft *core = cmdraft_core(n->log);
        const struct raft_stats *rst = raft_stats_get(core);
        const struct {
            const char *name, *type, *help;
            double v;
        } rows[] = {
            {"naos_raft_voters", "gauge", "Voters of the cluster's log.",
             (double)n->nvoters},
            {"naos_raft_term", "gauge", "The current Raft term.",
             (double)raft_term(core)},
            {"naos_raft_leader", "gauge", "1 while this node leads.",
             raft_role_get(core) == RAFT_LEADER ? 1.0 : 0.0},
            {"naos_raft_commit_index", "gauge",
             "Highest log index committed and durable here.",
             (double)cmdraft_commit_index(n->log)},
            {"naos_raft_applied_index", "gauge",
             "Highest log index applied to this node's state.",
             (double)n->applied},
            {"naos_raft_elections_total", "counter",
             "Times this node stood for election.", (double)rst->elections},
            {"naos_raft_prevotes_total", "counter",
             "Pre-vote rounds this node started (each before an election "
             "it may stand in).", (double)rst->prevotes},
            {"naos_root_moves_total", "counter",
             "Deployments the root supervisor moved off a node (they gave "
             "up there, or its lease ran out), while this node led "
             "(proposed).", (double)n->root_moved},
            {"naos_root_lost_moves_total", "counter",
             "Of those, moves off a node whose lease ran out (node-lost).",
             (double)n->root_lost},
            {"naos_lease_held", "gauge",
             "1 while this node holds its lease and runs what is placed on "
             "it; 0 while it is fenced (always 1 on a node alone, which "
             "holds no lease).", n->rec.fenced ? 0.0 : 1.0},
            {"naos_lease_fences_total", "counter",
             "Times this node fenced itself: its lease ran out, or it had "
             "none yet (it ran nothing meanwhile).",
             (double)n->lease_fences},
            {"naos_lease_grants_total", "counter",
             "Lease renewals this node granted while it led (after a "
             "confirmed heartbeat round).", (double)n->lease_grants},
            {"naos_lease_certified_total", "counter",
             "Dead nodes' guardian certificates this node took while it "
             "led (their work moved without waiting for the lease).",
             (double)n->lease_certified},
            {"naos_raft_dropped_total", "counter",
             "Raft messages dropped as malformed, foreign or of an unknown "
             "sender.", (double)rst->dropped},
            {"naos_raft_log_bytes", "gauge",
             "Command data the log holds in memory (commands are "
             "refused above its budget, 256 MiB).",
             (double)raft_log_bytes(core)},
            {"naos_raft_first_index", "gauge",
             "The lowest index the log still holds in memory (entries "
             "below are compacted).", (double)raft_first_index(core)},
            {"naos_raft_held_index", "gauge",
             "Every voter holds the log up to this index, as this node "
             "knows: applied entries up to it are compacted; beyond it, "
             "all but the last 5,000 (a voter further behind is sent a "
             "snapshot).", (double)raft_held(core)},
            {"naos_raft_snapshot_age_entries", "gauge",
             "Entries applied since the log's compacted base (the last "
             "point a snapshot stands in for): bounded by the compaction "
             "budget, 5,000.",
             (double)(n->applied >= raft_first_index(core) - 1
                          ? n->applied - (raft_first_index(core) - 1)
                          : 0)},
            {"naos_raft_behind_compaction_total", "counter",
             "Appends a voter rejected because its log ends below this "
             "node's compacted base (each such voter is sent a "
             "snapshot).", (double)rst->behind_base},
            {"naos_raft_snapshots_sent_total", "counter",
             "Snapshots this node sent a voter behind its log, installed "
             "there.", (double)n->stats.snap_sent},
            {"naos_raft_snapshots_dropped_total", "counter",
             "Snapshot transfers this node gave up (refused, stalled, "
             "failed to write).", (double)n->stats.snap_send_failed},
            {"naos_raft_snapshot_sent_bytes_total", "counter",
             "Snapshot bytes this node sent (re-sent chunks included).",
             (double)n->stats.snap_bytes_sent},
            {"naos_raft_snapshots_installed_total", "counter",
             "Snapshots this node installed from its leader.",
             (double)n->stats.snap_installed},
            {"naos_raft_snapshot_chunks_refused_total", "counter",
             "Snapshot chunks or answers refused as malformed or "
             "foreign.", (double)n->stats.snap_chunks_bad},
            {"naos_raft_proposals_total", "counter",
             "Commands this node proposed to the log as leader (its own "
             "and those its followers relayed).",
             (double)n->stats.proposals},
            {"naos_raft_leader_terms_total", "counter",
             "Terms this node led (leader changes seen from here: "
             "together with the other nodes').",
             (double)rst->leader_terms},
            {"naos_raft_unsent_total", "counter",
             "Raft messages not sent (peer address unknown, no room).",
             (double)n->raft_unsent},
            {"naos_reads_served_total", "counter",
             "Checkpoint loads answered after a confirmed read index "
             "(ReadIndex).", (double)n->reads_served},
            {"naos_reads_failed_total", "counter",
             "Checkpoint loads answered 'try again' (no leader, a leader "
             "that stepped down, a timeout).", (double)n->reads_failed},
        };
        for (size_t k = 0; k < sizeof rows / sizeof rows[0]; k++) {
            http_metrics_family(&m, rows[k].name, rows[k].type, rows[k].help);
            http_metrics_sample(&m, rows[k].name, NULL, rows[k].v);
        }
    }
    if (n->log != NULL)
        hist_emit(&m, "naos_command_duration_seconds",
                  "Commands proposed through this node (its clients' and "
                  "agents'), from the proposal to the answer once applied "
                  "here: the commit latency as this node's door sees it.",
                  &n->stats.command);
    http_metrics_family(&m, "naos_command_retries_total", "counter",
                        "Retries of a command (the same client id) found "
                        "carried out already, each carried out once: "
                        "answered at this node's door from the client table, "
                        "or applied here as a duplicate that changed "
                        "nothing.");
    http_metrics_sample(&m, "naos_command_retries_total",
                        (const char *[]){"found", "door", NULL},
                        (double)n->stats.retries_door);
    http_metrics_sample(&m, "naos_command_retries_total",
                        (const char *[]){"found", "log", NULL},
                        (double)n->stats.retries_log);
    http_metrics_family(&m, "naos_forwards_total", "counter",
                        "Requests this node forwarded to the leader or to a "
                        "deployment's node, by how they ended: answered, "
                        "timed out (8 s), or given up when that node stopped "
                        "leading or left the membership (a command's "
                        "outcome then unknown: its client retries).");
    static const char *const fwd_outcomes[] = {"answered", "timed-out",
                                               "target-lost"};
    const uint64_t fwd_counts[] = {n->fwd_answered, n->fwd_timeouts,
                                   n->fwd_lost};
    for (size_t i = 0; i < 3; i++)
        http_metrics_sample(&m, "naos_forwards_total",
                            (const char *[]){"outcome", fwd_outcomes[i],
                                             NULL},
                            (double)fwd_counts[i]);
    uint64_t used = 0;
    if (store_used_bytes(n->store, &used) == NAOS_OK) {
        http_metrics_family(&m, "naos_store_used_bytes", "gauge",
                            "Bytes of the store's map in use (its pages "
                            "up to the last one written).");
        http_metrics_sample(&m, "naos_store_used_bytes", NULL, (double)used);
    }
    http_metrics_family(&m, "naos_store_map_bytes", "gauge",
                        "The store's map size: writes fail past it (the "
                        "node grows it as it fills).");
    http_metrics_sample(&m, "naos_store_map_bytes", NULL,
                        (double)store_map_size(n->store));
    if (n->stats.backup_saved_ms != 0) {
        /* alert on time() minus it: how old the newest backup is */
        http_metrics_family(&m, "naos_snapshot_last_saved_timestamp_seconds",
                            "gauge", "When `naos snapshot save` last wrote "
                            "a backup of the cluster's state through this "
                            "node (Unix time; absent: none since it "
                            "started).");
        http_metrics_sample(&m, "naos_snapshot_last_saved_timestamp_seconds",
                            NULL, (double)n->stats.backup_saved_ms / 1000.0);
    }
    http_metrics_family(&m, "naos_store_commits_total", "counter",
                        "Write transactions the store committed (each one "
                        "synced): applied commands are committed in "
                        "batches of up to 64.");
    http_metrics_sample(&m, "naos_store_commits_total", NULL,
                        (double)store_commits(n->store));
    if (n->bootstrap_expect > 1) {
        http_metrics_family(&m, "naos_raft_forming", "gauge",
                            "1 while this node waits for the founders of "
                            "the cluster's log (--bootstrap-expect).");
        http_metrics_sample(&m, "naos_raft_forming", NULL,
                            n->forming ? 1.0 : 0.0);
    }

    http_metrics_family(&m, "naos_http_requests_total", "counter",
                        "HTTP requests answered, by route and status code "
                        "(this scrape not yet counted).");
    for (int k = 0; k < HTTP_R__COUNT; k++) {
        for (int c = 0; c < HTTP_CODE_SLOTS; c++) {
            if (hs.requests[k][c] == 0)
                continue;
            char code[16];
            if (http_code_slot_status[c])
                snprintf(code, sizeof code, "%d", http_code_slot_status[c]);
            else
                snprintf(code, sizeof code, "other");
            http_metrics_sample(
                &m, "naos_http_requests_total",
                (const char *[]){"route",
                                 http_route_name((enum http_route_kind)k),
                                 "code", code, NULL},
                (double)hs.requests[k][c]);
        }
    }
    http_metrics_family(&m, "naos_status_snapshot_builds_total", "counter",
                        "Status documents built for the HTTP API (a request "
                        "for an unchanged deployment reuses the last one).");
    http_metrics_sample(&m, "naos_status_snapshot_builds_total", NULL,
                        (double)n->stats.snap_builds);
    http_metrics_family(&m, "naos_status_snapshot_build_seconds_total",
                        "counter",
                        "Reactor time spent building those documents.");
    http_metrics_sample(&m, "naos_status_snapshot_build_seconds_total", NULL,
                        (double)n->stats.snap_build_us / 1e6);
    http_metrics_family(&m, "naos_http_reactor_seconds_total", "counter",
                        "Reactor time spent answering HTTP requests, by "
                        "route (rendering JSON happens off the reactor; "
                        "this scrape not yet counted).");
    for (int k = 0; k < HTTP_R__COUNT; k++)
        if (n->stats.http_answer_us[k] != 0)
            http_metrics_sample(
                &m, "naos_http_reactor_seconds_total",
                (const char *[]){"route",
                                 http_route_name((enum http_route_kind)k),
                                 NULL},
                (double)n->stats.http_answer_us[k] / 1e6);
    http_metrics_family(&m, "naos_http_queued_requests", "gauge",
                        "HTTP requests waiting for the reactor.");
    http_metrics_sample(&m, "naos_http_queued_requests", NULL,
                        (double)hs.queued);
    http_metrics_family(&m, "naos_http_connections", "gauge",
                        "HTTP client connections open (this one included).");
    http_metrics_sample(&m, "naos_http_connections", NULL,
                        (double)hs.front.open);
    http_metrics_family(&m, "naos_http_max_connections", "gauge",
                        "The cap on HTTP client connections in force.");
    http_metrics_sample(&m, "naos_http_max_connections", NULL,
                        (double)hs.front.max_conns);
    http_metrics_family(&m, "naos_http_connections_closed_total", "counter",
                        "HTTP connections the node closed to keep its "
                        "bounds, by reason.");
    for (int c = 0; c < FRONT_C__COUNT; c++)
        http_metrics_sample(&m, "naos_http_connections_closed_total",
                            (const char *[]){"reason",
                                             front_close_name(
                                                 (enum front_close)c),
                                             NULL},
                            (double)hs.front.closed[c]);
    http_metrics_family(&m, "naos_http_reply_bytes", "gauge",
                        "Bytes of HTTP replies held until clients read "
                        "them (bounded by --http-reply-budget).");
    http_metrics_sample(&m, "naos_http_reply_bytes", NULL,
                        (double)hs.front.reply_bytes);
    http_metrics_family(&m, "naos_http_replies_over_budget_total", "counter",
                        "HTTP answers replaced by 503 because the reply "
                        "budget was used up.");
    http_metrics_sample(&m, "naos_http_replies_over_budget_total", NULL,
                        (double)hs.front.budget_refused);

    if (m.failed) {
        NAOS_ERROR("http", "cannot build /metrics: %s",
                   naos_strerror(m.failed));
        http_metrics_fini(&m);
        http_response_error(res, 500, "cannot build the metrics");
        return;
    }
    http_response_take(res, 200, "text/plain; version=0.0.4; charset=utf-8",
                       m.data, m.len);
    /* the text now belongs to res */
}

void
node__http_answer(void *arg, const struct http_route *rt,
                  struct http_response *res)
{
    struct node *n = arg;
    uint64_t t0 = naos_clock_now_us(); /* a measurement: busy time */
    switch (rt->kind) {
    case HTTP_R_STATUS:
        if (!rt->cluster || !cluster_status(n, res))
            answer_status(n, NULL, res, render_status);
        break;
    case HTTP_R_DEPLOYMENT:
        answer_status(n, rt->name, res, render_deployment);
        break;
    case HTTP_R_EVENTS:
        answer_events(n, rt, res);
        break;
    case HTTP_R_COMMAND:
        answer_command(n, rt, res);
        break;
    case HTTP_R_NODES:
        answer_nodes(n, res);
        break;
    case HTTP_R_METRICS:
        answer_metrics(n, res);
        break;
    default:
        http_response_error(res, 404, "no such endpoint");
    }
    if (rt->kind >= 0 && rt->kind < HTTP_R__COUNT)
        n->stats.http_answer_us[rt->kind] += naos_clock_now_us() - t0;
}

/* ---- counters ------------------------------------------------------------ */

static struct node_dep_count *
dep_count(struct node_stats *s, const char *dep)
{
    for (size_t i = 0; i < s->ndeps; i++)
        if (strcmp(s->deps[i].deployment, dep) == 0)
            return &s->deps[i];
    if (s->ndeps == s->deps_cap) {
        size_t ncap = s->deps_cap ? s->deps_cap * 2 : 8;
        struct node_dep_count *d = naos_realloc(s->deps, ncap * sizeof *d);
        if (d == NULL)
            return NULL;
        s->deps = d;
        s->deps_cap = ncap;
    }
    char *name = naos_strdup(dep);
    if (name == NULL)
        return NULL;
    s->deps[s->ndeps] = (struct node_dep_count){.deployment = name};
    return &s->deps[s->ndeps++];
}

static void
count_restart(struct node_stats *s, const char *dep, const char *reason)
{
    for (size_t i = 0; i < s->nrestarts; i++) {
        struct node_restart_count *c = &s->restarts[i];
        if (strcmp(c->deployment, dep) == 0 && strcmp(c->reason, reason) == 0) {
            c->n++;
            return;
        }
    }
    if (s->nrestarts == s->restarts_cap) {
        size_t ncap = s->restarts_cap ? s->restarts_cap * 2 : 16;
        struct node_restart_count *r = naos_realloc(s->restarts,
                                                    ncap * sizeof *r);
        if (r == NULL)
            return;
        s->restarts = r;
        s->restarts_cap = ncap;
    }
    char *d = naos_strdup(dep), *why = naos_strdup(reason);
    if (d == NULL || why == NULL) {
        naos_free(d);
        naos_free(why);
        return;
    }
    s->restarts[s->nrestarts++] = (struct node_restart_count){d, why, 1};
}

/* A removed deployment's series go with it (a name used again starts from
 * zero, which Prometheus reads as a counter reset). */
static void
forget_deployment(struct node_stats *s, const char *dep)
{
    size_t k = 0;
    for (size_t i = 0; i < s->nrestarts; i++) {
        if (strcmp(s->restarts[i].deployment, dep) == 0) {
            naos_free(s->restarts[i].deployment);
            naos_free(s->restarts[i].reason);
        } else {
            s->restarts[k++] = s->restarts[i];
        }
    }
    s->nrestarts = k;
    k = 0;
    for (size_t i = 0; i < s->ndeps; i++) {
        if (strcmp(s->deps[i].deployment, dep) == 0)
            naos_free(s->deps[i].deployment);
        else
            s->deps[k++] = s->deps[i];
    }
    s->ndeps = k;
}

void
node__stats_on_event(struct node *n, const struct sup_event *ev)
{
    struct node_stats *s = &n->stats;
    const char *dep = ev->deployment ? ev->deployment : "";
    switch (ev->kind) {
    case SUP_EV_DEPLOY:
        dep_count(s, dep);
        break;
    case SUP_EV_RESTART: {
        char reason[64];
        sup_reason_format(ev->reason, reason, sizeof reason);
        count_restart(s, dep, reason[0] ? reason : "unknown");
        break;
    }
    case SUP_EV_GIVE_UP: {
        struct node_dep_count *d = dep_count(s, dep);
        if (d)
            d->give_ups++;
        break;
    }
    case SUP_EV_ESCALATE: {
        struct node_dep_count *d = dep_count(s, dep);
        if (d)
            d->escalations++;
        break;
    }
    case SUP_EV_REMOVE:
        forget_deployment(s, dep);
        break;
    case SUP_EV_NODE_TROUBLE:
        for (size_t i = 0; i < 4; i++)
            if (ev->reason.code == trouble_errnos[i])
                s->node_trouble[i]++;
        break;
    default:
        break;
    }
}

static void
hist_emit(struct http_metrics *m, const char *name, const char *help,
          const struct node_hist *h)
{
    http_metrics_family(m, name, "histogram", help);
    uint64_t cum[NODE_LAG_BUCKETS], acc = 0;
    for (int i = 0; i < NODE_LAG_BUCKETS; i++) {
        acc += h->buckets[i];
        cum[i] = acc;
    }
    http_metrics_histogram(m, name, NULL, lag_bounds_s, cum,
                           NODE_LAG_BUCKETS, (double)h->sum_us / 1e6,
                           h->count);
}

static void
hist_observe(struct node_hist *h, uint64_t us)
{
    int i = 0;
    while (i < NODE_LAG_BUCKETS && (double)us > lag_bounds_s[i] * 1e6)
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum_us += us;
}

void
node__stats_observe_loop(struct node *n, uint64_t us)
{
    hist_observe(&n->stats.lag, us);
}

void
node__stats_observe_command(struct node *n, uint64_t us)
{
    hist_observe(&n->stats.command, us);
}

void
node__stats_fini(struct node_stats *s)
{
    for (size_t i = 0; i < s->nrestarts; i++) {
        naos_free(s->restarts[i].deployment);
        naos_free(s->restarts[i].reason);
    }
    naos_free(s->restarts);
    for (size_t i = 0; i < s->ndeps; i++)
        naos_free(s->deps[i].deployment);
    naos_free(s->deps);
    *s = (struct node_stats){0};
}
