/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_wait.c: wait for the first start of a new deployment (see
 * deploy_wait.h), and explain and roll back a failed one. */
#include "cli/deploy_wait.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/deploy_args.h"
#include "node/base/alloc.h"

/* How long removing a rolled-back deployment may take (its workers get
 * their shutdown grace). */
#define ROLLBACK_WAIT_MS 30000

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* spec_at finds the spec of the node at path ("dep/a/b") under root; a
 * pool's children all have its template's. NULL when not found. */
static const struct spec_node *
spec_at(const struct spec_node *root, const char *path)
{
    size_t rl = strlen(root->id);
    if (strncmp(path, root->id, rl) != 0 ||
        (path[rl] != '\0' && path[rl] != '/'))
        return NULL;
    const struct spec_node *n = root;
    const char *p = path + rl;
    while (*p == '/') {
        p++;
        size_t len = strcspn(p, "/");
        const struct spec_node *next = NULL;
        if (n->strategy == SPEC_SIMPLE_ONE_FOR_ONE && n->nchildren == 1)
            next = &n->children[0];
        for (size_t i = 0; next == NULL && i < n->nchildren; i++)
            if (strlen(n->children[i].id) == len &&
                strncmp(n->children[i].id, p, len) == 0)
                next = &n->children[i];
        if (next == NULL)
            return NULL;
        n = next;
        p += len;
    }
    return n;
}

/* struct tally: one poll's count. started[] is kept across polls: the
 * tree's shape is fixed, so worker i (in tree order) is the same worker
 * every time, and once seen started it never counts as failed (a run
 * that ends after DEPLOY_WAIT_SETTLE_MS is the supervisor's business). */
struct tally {
    size_t workers, started;
    const Naos__V1__NodeStatus *failed; /* the first worker that failed */
    bool *seen;  /* seen[i]: worker i was seen started (naos_alloc'd) */
    size_t cap;  /* entries of seen */
};

static const char *
last_reason(const Naos__V1__NodeStatus *w)
{
    return w->last_exit && w->last_exit->reason ? w->last_exit->reason : "";
}

/* collateral: the run ended because the supervisor stopped it (a sibling
 * failed under one-for-all or rest-for-one): not this worker's failure. */
static bool
collateral(const char *why)
{
    return strcmp(why, "shutdown") == 0 ||
           strncmp(why, "killed after ", 13) == 0;
}

/* remember marks worker i seen started (growing seen; out of memory, it
 * is just not remembered). */
static void
remember(struct tally *t, size_t i)
{
    if (i >= t->cap) {
        size_t cap = t->cap ? t->cap : 64;
        while (cap <= i)
            cap *= 2;
        bool *s = naos_realloc(t->seen, cap * sizeof *s);
        if (s == NULL)
            return;
        memset(s + t->cap, 0, (cap - t->cap) * sizeof *s);
        t->seen = s;
        t->cap = cap;
    }
    t->seen[i] = true;
}

static void
count(const struct spec_node *root, const Naos__V1__NodeStatus *n,
      struct tally *t)
{
    if (n->is_supervisor) {
        for (size_t i = 0; i < n->n_children; i++)
            count(root, n->children[i], t);
        return;
    }
    size_t idx = t->workers++;
    if (idx < t->cap && t->seen[idx]) {
        t->started++;
        return;
    }
    const struct spec_node *sp = spec_at(root, n->path);
    const char *why = last_reason(n);
    bool ended = why[0] != '\0' || n->restarts > 0;
    if (ended && !collateral(why)) {
        /* Its first run ended before it was seen started. A transient
         * worker ending cleanly, or a temporary one, is done. */
        bool done = sp && ((sp->restart == SPEC_TRANSIENT &&
                            strcmp(why, "exit:0") == 0) ||
                           sp->restart == SPEC_TEMPORARY);
        if (done) {
            t->started++;
            remember(t, idx);
        } else if (t->failed == NULL) {
            t->failed = n;
        }
        return;
    }
    /* Never ended, or stopped with a failing sibling and started again. */
    if (strcmp(n->state, "running") != 0)
        return;
    bool notify = sp && sp->ready == SPEC_READY_NOTIFY;
    if (notify || n->uptime_ms >= DEPLOY_WAIT_SETTLE_MS) {
        t->started++;
        remember(t, idx);
    }
}

/* was_started: worker w of tree was seen started in an earlier poll. */
static bool
was_started(const struct tally *t, const Naos__V1__NodeStatus *tree,
            const Naos__V1__NodeStatus *w, size_t *i)
{
    if (!tree->is_supervisor) {
        size_t idx = (*i)++;
        return tree == w && idx < t->cap && t->seen[idx];
    }
    for (size_t k = 0; k < tree->n_children; k++)
        if (was_started(t, tree->children[k], w, i))
            return true;
    return false;
}

/* status_of asks for deployment name: 0 and *out (free with
 * naos_client_reply_free; *dep points into it, NULL when not found), or
 * an exit code. */
static int
status_of(struct cli *c, const char *name, Naos__V1__Reply **out,
          const Naos__V1__DeploymentStatus **dep)
{
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    sr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    int ec = cli_call(c, &req, out);
    if (ec != 0)
        return ec;
    *dep = NULL;
    const Naos__V1__Reply *r = *out;
    if (r->code == NAOS__V1__ERROR_CODE__OK &&
        r->rep_case == NAOS__V1__REPLY__REP_STATUS &&
        r->status->n_deployments == 1 && r->status->deployments[0]->tree)
        *dep = r->status->deployments[0];
    else if (r->code != NAOS__V1__ERROR_CODE__NOT_FOUND &&
             r->code != NAOS__V1__ERROR_CODE__OK) {
        ec = cli_reply_exit(r);
        naos_client_reply_free(*out);
        *out = NULL;
        return ec;
    }
    return 0;
}

/* How long after an acknowledged deploy "not found" means "not applied
 * yet on the node asked" (a cluster's node applies a moment after the
 * leader), not "removed". */
#define DEPLOY_WAIT_UNSEEN_MS 3000

/* pending: r (from status_of) shows a deployment recorded in a cluster
 * that its node has not started yet (no tree). */
static bool
pending(const Naos__V1__Reply *r)
{
    return r && r->code == NAOS__V1__ERROR_CODE__OK &&
           r->rep_case == NAOS__V1__REPLY__REP_STATUS &&
           r->status->n_deployments == 1 &&
           r->status->deployments[0]->tree == NULL &&
           r->status->deployments[0]->state &&
           strcmp(r->status->deployments[0]->state, "pending") == 0;
}

/* find_status finds the status node at path under n. */
static const Naos__V1__NodeStatus *
find_status(const Naos__V1__NodeStatus *n, const char *path)
{
    if (strcmp(n->path, path) == 0)
        return n;
    for (size_t i = 0; i < n->n_children; i++) {
        const Naos__V1__NodeStatus *f = find_status(n->children[i], path);
        if (f)
            return f;
    }
    return NULL;
}

/* failed_worker: the worker a failed deployment names ("failed to start:
 * PATH REASON" or "...: PATH REASON"), else the first that exited. */
static const Naos__V1__NodeStatus *
failed_worker(const Naos__V1__DeploymentStatus *d, const struct tally *t)
{
    const char *f = d->failure ? d->failure : "";
    /* the first word that is a worker's path */
    for (const char *p = f; p && *p; p = strchr(p, ' ')) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        char path[512];
        if (len == 0 || len >= sizeof path)
            continue;
        memcpy(path, p, len);
        path[len] = '\0';
        const Naos__V1__NodeStatus *w = find_status(d->tree, path);
        if (w && !w->is_supervisor)
            return w;
    }
    return t->failed;
}

/* local_file: name (made absolute against dir, into abs) is a regular
 * file on this host. */
static bool
local_file(const char *dir, const char *name, char *abs, size_t abslen)
{
    if (deploy_abs_path(dir, name, abs, abslen) != 0)
        return false;
    struct stat st;
    return stat(abs, &st) == 0 && S_ISREG(st.st_mode);
}

static bool
local_dir(const char *dir)
{
    struct stat st;
    return dir && stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/* explain writes why worker w (spec sp) did not start into buf. */
static void
explain(const Naos__V1__NodeStatus *w, const struct spec_node *sp,
        const char *node, char *buf, size_t len)
{
    const char *why = last_reason(w);
    const char *prog = sp && sp->argc ? sp->argv[0] : "?";
    const char *cwd = sp && sp->cwd ? sp->cwd : "(the node's)";
    char abs[PATH_MAX + 256];
    if (strncmp(why, "cwd-failed:", 11) == 0) {
        const char *e = why + 11;
        snprintf(buf, len, "its working directory %s %s on node %s; naos "
                 "does not copy code between hosts (--cwd DIR, or run naos "
                 "deploy from a directory that exists there)",
                 cwd,
                 strcmp(e, "ENOENT") == 0    ? "does not exist"
                 : strcmp(e, "ENOTDIR") == 0 ? "is not a directory"
                                             : "cannot be entered",
                 node);
    } else if (strcmp(why, "spawn-failed:ENOENT") == 0) {
        char interp[256] = "";
        if (strchr(prog, '/') && local_dir(sp ? sp->cwd : NULL) &&
            local_file(sp->cwd, prog, abs, sizeof abs)) {
            FILE *f = fopen(abs, "r");
            char line[256];
            if (f && fgets(line, sizeof line, f) && line[0] == '#' &&
                line[1] == '!') {
                char *p = line + 2;
                p += strspn(p, " \t");
                snprintf(interp, sizeof interp, "%.*s",
                         (int)strcspn(p, " \t\r\n"), p);
            }
            if (f)
                fclose(f);
        }
        if (interp[0])
            snprintf(buf, len, "program %s exists, but its interpreter %s "
                     "(its #! line) was not found on node %s",
                     prog, interp, node);
        else if (strchr(prog, '/'))
            snprintf(buf, len, "program %s not found on node %s (in %s)",
                     prog, node, cwd);
        else
            snprintf(buf, len, "program %s not found in the PATH of node "
                     "%s", prog, node);
    } else if (strcmp(why, "spawn-failed:EACCES") == 0) {
        snprintf(buf, len, "program %s cannot be run on node %s (permission "
                 "denied: not executable?)", prog, node);
    } else if (strcmp(why, "spawn-failed:ENOEXEC") == 0) {
        snprintf(buf, len, "%s is not a program node %s can run (a script "
                 "without a #! line?)", prog, node);
    } else if (strcmp(why, "start-timeout") == 0) {
        snprintf(buf, len, "it sent no READY=1 within its start timeout");
    } else if (strncmp(why, "exit:", 5) == 0 ||
               strncmp(why, "signal:", 7) == 0) {
        /* The program ran: perhaps its script is what is missing. */
        const char *script = sp && sp->argc > 1 ? sp->argv[1] : NULL;
        if (script && script[0] != '-' && !strchr(prog, ' ') &&
            strcmp(prog, "/bin/sh") != 0 && local_dir(sp->cwd) &&
            !local_file(sp->cwd, script, abs, sizeof abs) &&
            strchr(script, '.'))
            snprintf(buf, len, "%s started but ended at once (%s): its "
                     "script %s is not in %s", prog, why, script, cwd);
        else
            snprintf(buf, len, "%s started but ended at once (%s)", prog,
                     why);
    } else {
        snprintf(buf, len, "%s", why[0] ? why : "it failed");
    }
}

#define OUTPUT_LINES 16
#define OUTPUT_LINE_MAX 1023

/* struct output: a worker's last output, split into lines of at most
 * OUTPUT_LINE_MAX bytes (a longer one goes on in the next). */
struct output {
    char text[2048 + OUTPUT_LINES];
    const char *lines[OUTPUT_LINES];
    size_t n;
};

/* split_output splits data (len bytes) into o, keeping every byte. */
static void
split_output(const uint8_t *data, size_t len, struct output *o)
{
    size_t used = 0, cur = 0; /* text in use; bytes in the current line */
    o->n = 0;
    for (size_t i = 0; i < len && o->n < OUTPUT_LINES; i++) {
        char ch = (char)data[i];
        if (ch != '\n' && cur == OUTPUT_LINE_MAX) {
            /* full: end this line, the byte starts the next */
            o->text[used++] = '\0';
            o->lines[o->n++] = o->text + used - cur - 1;
            cur = 0;
            if (o->n == OUTPUT_LINES)
                break;
        }
        if (used + 2 > sizeof o->text)
            break;
        if (ch == '\n') {
            o->text[used++] = '\0';
            o->lines[o->n++] = o->text + used - cur - 1;
            cur = 0;
        } else {
            o->text[used++] = ch;
            cur++;
        }
    }
    if (cur > 0 && o->n < OUTPUT_LINES) {
        o->text[used++] = '\0';
        o->lines[o->n++] = o->text + used - cur - 1;
    }
}

/* last_output fetches the last lines the worker at path wrote into o
 * (none when they cannot be had). */
static void
last_output(struct cli *c, const char *path, struct output *o)
{
    o->n = 0;
    Naos__V1__LogsRequest lr = NAOS__V1__LOGS_REQUEST__INIT;
    lr.name = (char *)path;
    lr.offset = -1;
    lr.tail_lines = 5;
    lr.max_bytes = 2048;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_LOGS;
    req.logs = &lr;
    Naos__V1__Reply *r = NULL;
    if (cli_call(c, &req, &r) != 0)
        return;
    if (r->code == NAOS__V1__ERROR_CODE__OK &&
        r->rep_case == NAOS__V1__REPLY__REP_LOGS)
        split_output(r->logs->data.data, r->logs->data.len, o);
    naos_client_reply_free(r);
}

/* rollback removes deployment name and waits until it is gone. */
static void
rollback(struct cli *c, const char *name)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_REMOVE;
    req.remove = &nr;
    Naos__V1__Reply *r = NULL;
    if (cli_call(c, &req, &r) != 0)
        return;
    bool ok = r->code == NAOS__V1__ERROR_CODE__OK;
    naos_client_reply_free(r);
    if (!ok) {
        cli_warn("could not remove %s: see `naos status %s`", name, name);
        return;
    }
    int64_t until = now_ms() + ROLLBACK_WAIT_MS;
    while (now_ms() < until) {
        const Naos__V1__DeploymentStatus *d = NULL;
        if (status_of(c, name, &r, &d) != 0)
            return;
        naos_client_reply_free(r);
        if (d == NULL) {
            cli_info("%s removed again: nothing of it is left deployed",
                     name);
            return;
        }
        cli_sleep_ms(50);
    }
    cli_warn("%s is still being removed: see `naos status %s`", name, name);
}

static int64_t
max_notify_timeout(const struct spec_node *n)
{
    int64_t m = 0;
    if (!n->is_supervisor && n->ready == SPEC_READY_NOTIFY)
        m = n->start_timeout;
    for (size_t i = 0; i < n->nchildren; i++) {
        int64_t x = max_notify_timeout(&n->children[i]);
        m = x > m ? x : m;
    }
    return m;
}

/* wait_started is deploy_wait with t, whose seen[] the caller frees. */
static int
wait_started(struct cli *c, const struct spec_node *spec, struct tally *t)
{
    const char *name = spec->id;
    int64_t start = now_ms();
    int64_t bound = 2 * max_notify_timeout(spec) + 10000;
    if (bound < 60000)
        bound = 60000;
    int64_t progress_at = start + DEPLOY_WAIT_PROGRESS_MS;
    /* The bound runs from the last worker seen starting: a big pool that
     * keeps starting is waited for, one that stalls is not. */
    int64_t moved_at = start;
    size_t started_before = 0;
    cli_install_stop_signals();
    for (;;) {
        Naos__V1__Reply *r = NULL;
        const Naos__V1__DeploymentStatus *d = NULL;
        int ec = status_of(c, name, &r, &d);
        if (ec != 0)
            return ec;
        bool young = now_ms() - start < DEPLOY_WAIT_UNSEEN_MS;
        bool unseen = young && r && r->code == NAOS__V1__ERROR_CODE__NOT_FOUND;
        if (d == NULL && (pending(r) || unseen) &&
            now_ms() - start < bound) {
            /* in a cluster: recorded, not yet running on its node (or
             * not yet applied on the node asked) */
            naos_client_reply_free(r);
            cli_sleep_ms(100);
            continue;
        }
        if (d == NULL) {
            naos_client_reply_free(r);
            return cli_fatal(CLI_EXIT_USAGE, "%s was removed while it was "
                             "starting", name);
        }
        t->workers = t->started = 0;
        t->failed = NULL;
        count(spec, d->tree, t);
        bool dep_failed = strcmp(d->state, "failed") == 0;
        if (dep_failed || t->failed) {
            const Naos__V1__NodeStatus *w =
                dep_failed ? failed_worker(d, t) : t->failed;
            const char *node = r->status->node && r->status->node[0]
                                   ? r->status->node
                                   : "?";
            size_t i = 0;
            if (dep_failed && w && was_started(t, d->tree, w, &i)) {
                /* It started; its supervisor gave up on it later. */
                ec = cli_fatal(CLI_EXIT_USAGE, "%s failed after %s started: "
                               "%s; it stays deployed as failed (see `naos "
                               "status %s`)",
                               name, w->path,
                               d->failure ? d->failure : "failed", name);
                naos_client_reply_free(r);
                return ec;
            }
            if (w) {
                char why[1024];
                struct output o;
                explain(w, spec_at(spec, w->path), node, why, sizeof why);
                last_output(c, w->path, &o);
                cli_fatal_output(CLI_EXIT_USAGE, o.lines, o.n,
                                 "%s did not start: %s", w->path, why);
            } else {
                cli_fatal(CLI_EXIT_USAGE, "%s did not start: %s", name,
                          d->failure ? d->failure : "failed");
            }
            naos_client_reply_free(r);
            rollback(c, name);
            return CLI_EXIT_USAGE;
        }
        naos_client_reply_free(r);
        if (t->started == t->workers)
            return 0;
        int64_t now = now_ms();
        if (t->started > started_before) {
            started_before = t->started;
            moved_at = now;
        }
        if (cli_stop_requested() || now - moved_at >= bound) {
            cli_warn("%s: %zu of %zu workers started %s; it stays deployed "
                     "as it is (see `naos status %s`)",
                     name, t->started, t->workers,
                     cli_stop_requested() ? "when interrupted"
                                          : "within the wait",
                     name);
            return CLI_EXIT_TEMP;
        }
        if (now >= progress_at) {
            cli_info("%s: %zu of %zu workers started, waiting (%llds)...",
                     name, t->started, t->workers,
                     (long long)((now - start) / 1000));
            progress_at = now + DEPLOY_WAIT_PROGRESS_MS;
        }
        /* Quick at first; a big tree's status is not fetched 10 times a
         * second for long. */
        cli_sleep_ms(now - start < 2000 ? 100 : 500);
    }
}

int
deploy_wait(struct cli *c, const struct spec_node *spec)
{
    struct tally t = {0, 0, NULL, NULL, 0};
    int ec = wait_started(c, spec, &t);
    naos_free(t.seen);
    return ec;
}
