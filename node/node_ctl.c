/* SPDX-License-Identifier: Apache-2.0 */
/* node_ctl.c: the node's answers to control requests: status documents,
 * deploy and the deployment commands, events, logs and checkpoints; and
 * who may ask what. Runs on the reactor thread.
 *
 * Commands (deploy, stop, start, restart, rm, checkpoint save) are a door
 * of the command path (docs/architecture.md "The command path"): checked
 * here, proposed (node__propose), and answered by node__cmd_reply once
 * their entry is applied and reconciled, in the words `naos` has always
 * shown.
 *
 * Who asks. Each request on a control endpoint carries the caller's pid
 * (ctl_req_peer), which proc_peer_find maps to one of the node's worker
 * runs, if it is one of them or something one of them started:
 *  - the control socket (RUN/ctl.sock) serves the operator. A request from
 *    a worker run is refused, unless that worker's spec grants it control
 *    (`control: full`); so is one from a process a worker left behind;
 *  - the agent endpoint (RUN/agent.sock, NAOS_CTL of every worker that is
 *    not granted control) serves worker runs only, each for itself: its
 *    own checkpoint (save, load), its own deployment's status, ping.
 *    Everything else is refused, saying how to grant control.
 * A checkpoint an agent saves records who saved it (agent path, pid and
 * restart count of the run). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "node/proc/logfile.h"
#include "node/proc/peer.h"
#include "node/cmd/cmd.h"
#include "proto/spec_pb.h"
#include "store/state.h"

/* struct caller: who a request comes from. */
struct caller {
    const struct wrun *run; /* the worker run asking (an agent), or NULL:
                               the operator (or the HTTP API) */
    bool full;              /* may act on any deployment: the operator, or
                               an agent granted control on the control
                               socket */
    struct node_client cl;  /* the command id its request carries */
};

static const struct caller operator_caller = {NULL, true, {0, 0}};

static const struct sup_node *
top_of(const struct sup_node *w)
{
    while (w->parent)
        w = w->parent;
    return w;
}

static void
handle_status(struct node *n, const Naos__V1__StatusRequest *req,
              struct ctl_reply *rep)
{
    Naos__V1__Status *st = ctl_reply_alloc(rep, sizeof *st);
    if (st == NULL)
        return;
    naos__v1__status__init(st);
    st->node = n->name;
    const char *only = req && req->name && req->name[0] ? req->name : NULL;
    size_t count = 0;
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d))
        count++;
    if (only) {
        struct sup_node *d = sup_find(n->tree, only);
        Naos__V1__DeploymentStatus *rec =
            d == NULL && n->replicated ? node__recorded_status(n, rep, only)
                                        : NULL;
        if (rec != NULL) {
            /* placed on another node, which did not answer for it, or
             * not started yet: what the applied state says */
            st->deployments = ctl_reply_alloc(rep, sizeof(void *));
            if (st->deployments == NULL)
                return;
            st->deployments[st->n_deployments++] = rec;
            rep->msg.rep_case = NAOS__V1__REPLY__REP_STATUS;
            rep->msg.status = st;
            return;
        }
        if (d == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no deployment named %s (see `naos status`)",
                            only);
            return;
        }
        count = 1;
    }
    if (count) {
        st->deployments = ctl_reply_alloc(rep, count * sizeof *st->deployments);
        if (st->deployments == NULL)
            return;
    }
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d)) {
        if (only && strcmp(d->id, only) != 0)
            continue;
        Naos__V1__DeploymentStatus *ds = node__deployment_status(n, rep, d);
        if (ds)
            st->deployments[st->n_deployments++] = ds;
    }
    rep->msg.rep_case = NAOS__V1__REPLY__REP_STATUS;
    rep->msg.status = st;
}

static void
handle_deploy(struct node *n, struct ctl_req *creq, const struct caller *who,
              const Naos__V1__DeployRequest *req, struct ctl_reply *rep)
{
    char err[1024] = ""; /* a reply says at most 1 KiB (ctl.c) */
    if (req->spec == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "deploy request carries no spec");
        return;
    }
    const char *name = req->spec->id ? req->spec->id : "";
    /* a retry whose first attempt was applied finds its name taken */
    if (node__cmd_answer_retry(n, who->cl, NAOS__V1__COMMAND__CMD_DEPLOY,
                               name, rep))
        return;
    if (n->stopping) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node is shutting down; deploy refused");
        return;
    }
    if (sup_find(n->tree, name) != NULL || node__dep_recorded(n, name)) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__EXISTS,
                        "deployment %s already exists: run `naos rm %s` "
                        "first", name, name);
        return;
    }
    Naos__V1__NodeSpec *spec = NULL;
    int rc = cmd_deploy_spec(req->spec, &spec, err, sizeof err);
    if (rc == NAOS_ENOMEM) {
        rep->failed = 1;
        return;
    }
    if (rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "invalid spec: %s", err);
        return;
    }
    /* The leader picks the node (replicas never do); one voter: here. */
    uint64_t where = 0;
    const char *on = spec->placement ? spec->placement->on : NULL;
    /* cmd_deploy_spec has checked them (label.h's bounds): a failure here
     * cannot happen, and would refuse rather than drop a constraint */
    struct spec_label req_labels[SPEC_LABELS_MAX];
    size_t nreq = 0;
    for (size_t i = 0; spec->placement && i < spec->placement->n_require;
         i++) {
        const Naos__V1__NodeLabel *pl = spec->placement->require[i];
        if (nreq == SPEC_LABELS_MAX ||
            spec_label_set(&req_labels[nreq], pl->key, strlen(pl->key),
                           pl->value, strlen(pl->value), err,
                           sizeof err) != NAOS_OK) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "invalid spec: placement.require: %s",
                            err[0] ? err : "more than 16 labels");
            spec_pb_free(spec);
            return;
        }
        nreq++;
    }
    if (n->log != NULL && /* forming: node__propose says so */
        (rc = node__place(n, on, req_labels, nreq, &where, err,
                          sizeof err)) != NAOS_OK) {
        ctl_reply_error(rep, rc == NAOS_EINVAL
                                 ? NAOS__V1__ERROR_CODE__INVALID
                                 : NAOS__V1__ERROR_CODE__BUSY,
                        "cannot place %s: %s", name, err);
        spec_pb_free(spec);
        return;
    }
    /* Recorded (applied) before it runs and before the reply: an
     * acknowledged deployment survives any crash of the node. */
    Naos__V1__Command c;
    cmd_init(&c, who->cl.id, who->cl.seq, naos_clock_wall_ms());
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    d.spec = spec;
    d.node_id = where;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DEPLOY;
    c.deploy = &d;
    uint64_t before = n->proposed;
    if (node__propose(n, &c, creq, rep) == NAOS_OK && n->proposed != before)
        node__place_note(n, n->proposed, where); /* proposed here */
    spec_pb_free(spec);
}

/* The deployment commands, by the request's case. */
enum dep_verb { DEP_STOP, DEP_START, DEP_RESTART, DEP_REMOVE };
static const char *const dep_verb_cli[] = {"stop", "start", "restart", "rm"};

static const Naos__V1__Command__CmdCase dep_verb_cmd[] = {
    NAOS__V1__COMMAND__CMD_STOP, NAOS__V1__COMMAND__CMD_START,
    NAOS__V1__COMMAND__CMD_RESTART, NAOS__V1__COMMAND__CMD_REMOVE};

static void
handle_dep_cmd(struct node *n, struct ctl_req *creq, const struct caller *who,
               const Naos__V1__NameRequest *req, enum dep_verb verb,
               struct ctl_reply *rep)
{
    const char *name = req && req->name ? req->name : "";
    /* a retry of an rm whose first attempt was applied finds nothing */
    if (node__cmd_answer_retry(n, who->cl, dep_verb_cmd[verb], name, rep))
        return;
    if (strchr(name, '/') != NULL) {
        node__handle_path_cmd(n, creq, name, dep_verb_cli[verb], who->cl,
                              rep);
        return;
    }
    if (sup_find(n->tree, name) == NULL && !node__dep_recorded(n, name)) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment named %s (see `naos status`)", name);
        return;
    }
    Naos__V1__Command c;
    cmd_init(&c, who->cl.id, who->cl.seq, naos_clock_wall_ms());
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = (char *)name;
    switch (verb) {
    case DEP_STOP:
        c.cmd_case = NAOS__V1__COMMAND__CMD_STOP;
        c.stop = &nc;
        break;
    case DEP_START:
        c.cmd_case = NAOS__V1__COMMAND__CMD_START;
        c.start = &nc;
        break;
    case DEP_RESTART:
        c.cmd_case = NAOS__V1__COMMAND__CMD_RESTART;
        c.restart = &nc;
        break;
    case DEP_REMOVE:
        c.cmd_case = NAOS__V1__COMMAND__CMD_REMOVE;
        c.remove = &nc;
        break;
    }
    node__propose(n, &c, creq, rep);
}

/* The answer to stop, start, restart or rm of deployment name, once
 * applied and reconciled: what it has always said. Idempotent, as
 * `systemctl stop`/`start`: what is already so is done (exit 0), not
 * refused. */
static void
dep_reply(const char *name, enum dep_verb verb,
          const struct reconcile_outcome *ro, struct ctl_reply *rep)
{
    static const char *const done[] = {"stopped", "started", "restarted",
                                       "removed"};
    static const char *const now[] = {"stop", "start", "restart", "remove"};
    const char *was = sup_state_name(ro->before);
    if (!ro->existed && ro->action != RECONCILE_DEPLOY) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment named %s (see `naos status`)", name);
        return;
    }
    if (ro->pending && ro->action == RECONCILE_DEPLOY) {
        ctl_reply_message(rep, "%s of %s is pending: the tree of an earlier "
                          "deployment of that name is still being removed "
                          "here; %s is brought in as its record says once "
                          "that tree is gone (`naos status %s` shows when)",
                          now[verb], name, name, name);
        return;
    }
    if (ro->action == RECONCILE_DEPLOY && ro->rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID, "cannot %s %s: %s",
                        now[verb], name, ro->err);
        return;
    }
    if (verb == DEP_STOP && ro->existed && ro->was_at_rest) {
        ctl_reply_message(rep, "%s is already stopped%s", name,
                          ro->before == SUP_FAILED ? " (it had failed)" : "");
        return;
    }
    if (verb == DEP_START && ro->existed && !ro->was_at_rest &&
        ro->before != SUP_STOPPING) {
        ctl_reply_message(rep, "%s is already %s", name, was);
        return;
    }
    /* Owed, not refused: the reconciler carries it out once the tree can
     * take it (reconcile_retry), so "try again" would be wrong. */
    if (ro->pending && ro->action == RECONCILE_RESTART) {
        ctl_reply_message(rep, "restart of %s is pending: it is still %s "
                          "(an earlier restart is under way); it restarts "
                          "once that stop is done (`naos status %s` shows "
                          "when)", name, was, name);
        return;
    }
    if (ro->pending && ro->action == RECONCILE_START) {
        ctl_reply_message(rep, "start of %s is pending: it is still %s; it "
                          "starts once that stop is done (`naos status %s` "
                          "shows when)", name, was, name);
        return;
    }
    if (ro->rc != NAOS_OK && verb == DEP_STOP && ro->dep &&
        ro->dep->state == SUP_STOPPING) {
        ctl_reply_message(rep, "%s is already stopping", name);
    } else if (ro->rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "cannot %s %s while it is %s: try again once it "
                        "is done", now[verb], name, was);
    } else if (verb == DEP_STOP && !ro->at_rest) {
        /* Its workers have their shutdown grace to exit: not stopped yet. */
        ctl_reply_message(rep, "stopping %s (`naos status %s` shows when "
                          "it is stopped)", name, name);
    } else {
        ctl_reply_message(rep, "%s %s", done[verb], name);
    }
}

static Naos__V1__CheckpointReply *checkpoint_reply(struct ctl_reply *rep,
                                                   const char *path);

void
node__cmd_reply(struct node *n, const Naos__V1__Command *c,
                const struct apply_result *ar,
                const struct reconcile_outcome *ro, struct ctl_reply *rep)
{
    const char *target = cmd_target(c);
    if (ar->status == NAOS_EINVAL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID, "%s refused: %s",
                        cmd_type_name(c), ar->msg);
        return;
    }
    if (ar->dup_of != 0 && ar->status == NAOS_OK &&
        c->cmd_case != NAOS__V1__COMMAND__CMD_DEPLOY &&
        c->cmd_case != NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE) {
        /* a retry of a command carried out before: what it did then is
         * not known here (the reconciler acted on its entry), only that
         * it was applied, once */
        ctl_reply_message(rep, "%s %s: carried out once, at entry %llu (this "
                          "retry of it changed nothing; see `naos status`)",
                          cmd_type_name(c), target,
                          (unsigned long long)ar->dup_of);
        return;
    }
    switch (c->cmd_case) {
    case NAOS__V1__COMMAND__CMD_DEPLOY:
        if (ar->status == NAOS_EEXIST)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__EXISTS,
                            "deployment %s already exists: run `naos rm %s` "
                            "first", target, target);
        else if (ar->dup_of != 0 && !node__dep_recorded(n, target))
            /* its first attempt's tree could not run (the node removed
             * it again), or it was removed since */
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "deployment %s was deployed at entry %llu and "
                            "no longer exists (it could not run, or was "
                            "removed since: see `naos events`)", target,
                            (unsigned long long)ar->dup_of);
        else if (ro->action == RECONCILE_DEPLOY && ro->pending)
            /* placed here, where the tree of an earlier X still goes */
            ctl_reply_message(rep, "deployed %s on %s (epoch %llu): the "
                              "tree of an earlier deployment of that name "
                              "is still being removed there; it is brought "
                              "in once that tree is gone (`naos status %s` "
                              "shows when)", target,
                              node__node_name(n, ar->placed_on),
                              (unsigned long long)(ar->dup_of ? ar->dup_of
                                                              : ar->index),
                              target);
        else if (ro->action == RECONCILE_DEPLOY && ro->rc == NAOS_ENOMEM)
            rep->failed = 1;
        else if (ro->action == RECONCILE_DEPLOY && ro->rc != NAOS_OK)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "cannot deploy: %s", ro->err);
        else if (n->replicated)
            ctl_reply_message(rep, "deployed %s on %s (epoch %llu)", target,
                              node__node_name(n, ar->placed_on),
                              (unsigned long long)(ar->dup_of ? ar->dup_of
                                                              : ar->index));
        else
            ctl_reply_message(rep, "deployed %s", target);
        return;
    case NAOS__V1__COMMAND__CMD_STOP:
    case NAOS__V1__COMMAND__CMD_START:
    case NAOS__V1__COMMAND__CMD_RESTART:
    case NAOS__V1__COMMAND__CMD_REMOVE: {
        enum dep_verb v =
            c->cmd_case == NAOS__V1__COMMAND__CMD_STOP    ? DEP_STOP
            : c->cmd_case == NAOS__V1__COMMAND__CMD_START ? DEP_START
            : c->cmd_case == NAOS__V1__COMMAND__CMD_RESTART ? DEP_RESTART
                                                            : DEP_REMOVE;
        if (ar->status == NAOS_ENOTFOUND) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no deployment named %s (see `naos status`)",
                            target);
            return;
        }
        if (strchr(target, '/') != NULL) {
            node__path_reply(n, target, dep_verb_cli[v], ro, rep);
            return;
        }
        if (ar->placed_on != 0 && ar->placed_on != n->node_id) {
            /* its node carries it out when it applies the entry */
            static const char *const ing[] = {"stopping", "starting",
                                              "restarting", "removing"};
            ctl_reply_message(rep, "%s %s on %s (entry %llu; see `naos "
                              "status%s%s`)", ing[v], target,
                              node__node_name(n, ar->placed_on),
                              (unsigned long long)ar->index,
                              v == DEP_REMOVE ? "" : " ",
                              v == DEP_REMOVE ? "" : target);
            return;
        }
        dep_reply(target, v, ro, rep);
        return;
    }
    case NAOS__V1__COMMAND__CMD_DRAIN: {
        const char *who = node__node_name(n, c->drain->node_id);
        if (c->drain->drain)
            ctl_reply_message(rep, "draining %s (entry %llu): it takes no "
                              "new deployment; each of its deployments "
                              "stops there, then starts on another node; "
                              "`naos undrain %s` ends it", who,
                              (unsigned long long)ar->index, who);
        else
            ctl_reply_message(rep, "%s is no longer drained (entry %llu): "
                              "it takes deployments again", who,
                              (unsigned long long)ar->index);
        return;
    }
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE: {
        const Naos__V1__CheckpointSaveCommand *s = c->checkpoint_save;
        if (ar->status == NAOS_ENOTFOUND) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no agent named %s: its deployment was removed "
                            "(see `naos status`)", s->path);
            return;
        }
        if (ar->status == NAOS_ESTALE) {
            /* fenced by an epoch that is not the placement's: nothing
             * saved (a retry of it is answered apply's words, with the
             * node's id: the client table keeps no more) */
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "stale epoch: this deployment now runs on %s at "
                            "epoch %llu", node__node_name(n, ar->placed_on),
                            (unsigned long long)ar->placed_epoch);
            return;
        }
        Naos__V1__CheckpointReply *cr = checkpoint_reply(rep, s->path);
        if (cr == NULL)
            return;
        cr->saved_at_ms = ar->at_ms;
        cr->seq = ar->ckpt_seq;
        cr->size = ar->ckpt_size;
        return;
    }
    default:
        ctl_reply_message(rep, "%s %s applied", cmd_type_name(c), target);
        return;
    }
}

/* Finds the only worker under s, or returns NULL and counts them. */
static const struct sup_node *
only_worker(const struct sup_node *s, size_t *count)
{
    if (!s->is_supervisor) {
        (*count)++;
        return s;
    }
    const struct sup_node *found = NULL;
    for (size_t i = 0; i < s->nchildren; i++) {
        const struct sup_node *w = only_worker(s->children[i], count);
        if (w && found == NULL)
            found = w;
    }
    return *count == 1 ? found : NULL;
}

/* Checkpoints: one per worker, under the worker's path (issue 10). A
 * deployment, or any supervisor, with exactly one worker names that
 * worker's checkpoint too, so `naos checkpoint save ck` (the operator) and
 * `naos checkpoint save` inside the agent (NAOS_AGENT=ck/ck) write the
 * same record. The path must exist now, so a typo is caught instead of
 * saving where nobody will look. An empty name is the caller's own
 * checkpoint, for an agent. */
static const struct sup_node *
checkpoint_owner(struct node *n, const struct caller *who, const char *name,
                 struct ctl_reply *rep)
{
    if (name[0] == '\0') {
        if (who->run)
            return who->run->w;
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "missing the agent's name: give its path as in "
                        "`naos status` (inside an agent, naos finds its "
                        "own)");
        return NULL;
    }
    const struct sup_node *w = sup_find_path(n->tree, name);
    if (w == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no agent named %s: give its path as in `naos status` "
                        "(agents find theirs in $NAOS_AGENT)", name);
        return NULL;
    }
    if (w->is_supervisor) {
        size_t count = 0;
        const struct sup_node *only = only_worker(w, &count);
        if (only == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "%s has %zu workers, each with its own "
                            "checkpoint: name one by its path, e.g. %s/<child> "
                            "(see `naos status %s`)",
                            name, count, w->path, top_of(w)->id);
            return NULL;
        }
        w = only;
    }
    return w;
}

/* The keys an older node may have saved w's checkpoint under: each
 * supervisor above w whose only worker is w (at most SPEC_MAX_DEPTH). */
static size_t
checkpoint_aliases(const struct sup_node *w, const char **out, size_t cap)
{
    size_t n = 0;
    for (const struct sup_node *a = w->parent; a && n < cap; a = a->parent) {
        size_t count = 0;
        if (only_worker(a, &count) != w)
            break;
        out[n++] = a->path;
    }
    return n;
}

/* An agent may name only its own checkpoint. */
static bool
checkpoint_allowed(const struct caller *who, const struct sup_node *w,
                   const char *verb, struct ctl_reply *rep)
{
    if (who->full || who->run->w == w)
        return true;
    ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                    "agent %s may %s only its own checkpoint, not that of %s "
                    "(grant it control of the node with `control: full` in "
                    "its spec, or `naos deploy --control full`)",
                    who->run->w->path, verb, w->path);
    return false;
}

static Naos__V1__CheckpointReply *
checkpoint_reply(struct ctl_reply *rep, const char *path)
{
    Naos__V1__CheckpointReply *cr = ctl_reply_alloc(rep, sizeof *cr);
    if (cr == NULL)
        return NULL;
    naos__v1__checkpoint_reply__init(cr);
    cr->path = ctl_reply_strdup(rep, path);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_CHECKPOINT;
    rep->msg.checkpoint = cr;
    return cr;
}

static void
handle_checkpoint_save(struct node *n, struct ctl_req *creq,
                       const struct caller *who,
                       const Naos__V1__CheckpointSaveRequest *req,
                       struct ctl_reply *rep)
{
    const char *name = req->name ? req->name : "";
    const struct sup_node *w = checkpoint_owner(n, who, name, rep);
    if (w == NULL || !checkpoint_allowed(who, w, "save", rep))
        return;
    if (req->data.len > STORE_CKPT_MAX) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "checkpoint of %zu bytes for %s exceeds the limit of "
                        "%u bytes (1 MiB - 4 KiB): save less, or keep large state "
                        "elsewhere and checkpoint a reference to it",
                        req->data.len, w->path, STORE_CKPT_MAX);
        return;
    }
    if (node__cmd_answer_retry(n, who->cl,
                               NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE,
                               w->path, rep))
        return;
    const char *aliases[SPEC_MAX_DEPTH];
    size_t naliases = checkpoint_aliases(w, aliases, SPEC_MAX_DEPTH);
    Naos__V1__Command c;
    cmd_init(&c, who->cl.id, who->cl.seq, naos_clock_wall_ms());
    Naos__V1__CheckpointSaveCommand s = NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    s.path = w->path;
    s.aliases = (char **)aliases;
    s.n_aliases = naliases;
    s.data = req->data;
    s.epoch = req->epoch; /* the operator's fence; 0 = none (override) */
    if (who->run) {
        s.saved_by_agent = who->run->w->path;
        s.saved_by_pid = who->run->pid;
        s.saved_by_restarts = who->run->w->restarts;
        /* A run saving its own deployment's state is fenced by the epoch
         * it was started with, whatever it asked: an old instance that
         * wakes up cannot overwrite its successor's. One granted control
         * saving another deployment's is the operator. */
        if (top_of(w) == top_of(who->run->w))
            s.epoch = who->run->epoch;
    }
    c.cmd_case = NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE;
    c.checkpoint_save = &s;
    node__propose(n, &c, creq, rep);
}

/* Reads w's checkpoint: the record under its path, or, until the next
 * save folds them into it, the newest of those an older node left under
 * its aliases. *out NULL = nothing saved. */
static int
checkpoint_read(struct node *n, const struct sup_node *w,
                Naos__V1__CheckpointRecord **out)
{
    const char *keys[SPEC_MAX_DEPTH + 1];
    keys[0] = w->path;
    size_t nkeys = 1 + checkpoint_aliases(w, keys + 1, SPEC_MAX_DEPTH);
    Naos__V1__CheckpointRecord *best = NULL;
    for (size_t i = 0; i < nkeys; i++) {
        Naos__V1__CheckpointRecord *rec = NULL;
        int rc = store_ckpt_get(n->store, keys[i], &rec);
        if (rc == NAOS_ENOTFOUND)
            continue;
        if (rc != NAOS_OK) {
            store_ckpt_free(best);
            return rc;
        }
        if (best == NULL || rec->saved_at_ms > best->saved_at_ms) {
            store_ckpt_free(best);
            best = rec;
        } else {
            store_ckpt_free(rec);
        }
    }
    *out = best;
    return NAOS_OK;
}

static void
handle_checkpoint_load(struct node *n, const struct caller *who,
                       const Naos__V1__CheckpointLoadRequest *req,
                       struct ctl_reply *rep)
{
    const char *name = req->name ? req->name : "";
    const struct sup_node *w = checkpoint_owner(n, who, name, rep);
    if (w == NULL || !checkpoint_allowed(who, w, "load", rep))
        return;
    Naos__V1__CheckpointRecord *rec = NULL;
    if (checkpoint_read(n, w, &rec) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read the checkpoint of %s: %s", w->path,
                        store_errmsg(n->store));
        return;
    }
    /* Nothing saved is not an error: a first run has nothing to resume
     * from. seq 0 says so. */
    Naos__V1__CheckpointReply *cr = checkpoint_reply(rep, w->path);
    if (cr == NULL || rec == NULL) {
        store_ckpt_free(rec);
        return;
    }
    uint8_t *data = ctl_reply_alloc(rep, rec->data.len ? rec->data.len : 1);
    if (data) {
        if (rec->data.len) /* an empty checkpoint has no data pointer */
            memcpy(data, rec->data.data, rec->data.len);
        cr->data.data = data;
        cr->data.len = rec->data.len;
        cr->saved_at_ms = rec->saved_at_ms;
        cr->seq = rec->seq;
        cr->size = rec->size;
        cr->saved_by_agent = ctl_reply_strdup(rep, rec->saved_by_agent);
        cr->saved_by_pid = rec->saved_by_pid;
        cr->saved_by_restarts = rec->saved_by_restarts;
    }
    store_ckpt_free(rec);
}

/* An event of path f, or below it: f is a deployment or a path in one. */
static bool
event_matches(const struct events_entry *e, const char *f)
{
    if (f == NULL)
        return true;
    size_t fl = strlen(f);
    const char *p = e->path ? e->path : "";
    if (strncmp(p, f, fl) == 0 && (p[fl] == '\0' || p[fl] == '/'))
        return true;
    return e->deployment && strcmp(e->deployment, f) == 0;
}

/* What a reader was shown, and every number up to the cursor it was
 * given, survives a crash: were they unsaved, a kill -9 would give those
 * numbers to other events, which a follower at that cursor never sees. With
 * a filter the cursor moves past events it did not show, so the cursor is
 * what counts, not the last event shown. */
static void
keep_cursor(struct node *n, uint64_t next)
{
    if (next > n->events.persisted)
        node__events_flush(n);
}

/* Events after the cursor, oldest first. Numbers never go back (they
 * continue across restarts of the node), so a cursor past the last event
 * means "nothing yet" and gets itself back as next: a follower waits there.
 * With a filter, next still moves past the events it skipped. */
static void
handle_events(struct node *n, const Naos__V1__EventsRequest *req,
              struct ctl_reply *rep)
{
    Naos__V1__EventsReply *er = ctl_reply_alloc(rep, sizeof *er);
    if (er == NULL)
        return;
    naos__v1__events_reply__init(er);
    uint64_t since = req ? req->since : 0;
    const char *only = req && req->path && req->path[0] ? req->path : NULL;
    uint64_t last = events_last(&n->events), oldest = events_oldest(&n->events);
    if (req && req->tail) {
        /* back from the end to the tail-th matching event */
        uint64_t found = 0, start = last;
        for (uint64_t q = last; q >= oldest && q > 0 && found < req->tail;
             q--) {
            const struct events_entry *e = events_get(&n->events, q);
            if (e && event_matches(e, only)) {
                found++;
                start = q - 1;
            }
        }
        since = found ? start : last;
    }
    er->next = since;
    if (since >= last) { /* nothing yet */
        keep_cursor(n, er->next); /* a --tail with no match: since = last */
        rep->msg.rep_case = NAOS__V1__REPLY__REP_EVENTS;
        rep->msg.events = er;
        return;
    }
    if (oldest && since + 1 < oldest) {
        er->dropped = oldest - since - 1;
        since = oldest - 1;
    }
    uint32_t max = req && req->max ? req->max : NODE_EVENTS_PER_REPLY;
    if (max > NODE_EVENTS_PER_REPLY)
        max = NODE_EVENTS_PER_REPLY;
    er->events = ctl_reply_alloc(rep, max * sizeof *er->events);
    if (er->events == NULL)
        return;
    uint64_t q = since + 1;
    for (; q <= last && er->n_events < max; q++) {
        const struct events_entry *e = events_get(&n->events, q);
        if (e == NULL || !event_matches(e, only))
            continue;
        Naos__V1__Event *ev = ctl_reply_alloc(rep, sizeof *ev);
        if (ev == NULL)
            return;
        naos__v1__event__init(ev);
        ev->seq = e->seq;
        ev->at_wall_ms = e->at_wall_ms;
        ev->at_mono_us = e->at_mono_us;
        ev->kind = ctl_reply_strdup(rep, e->kind);
        ev->deployment = ctl_reply_strdup(rep, e->deployment);
        ev->path = ctl_reply_strdup(rep, e->path);
        ev->pid = e->pid;
        ev->reason = ctl_reply_strdup(rep, e->reason);
        ev->restarts = e->restarts;
        ev->detail = ctl_reply_strdup(rep, e->detail);
        ev->log_index = e->log_index;
        ev->log_term = e->log_term;
        er->events[er->n_events++] = ev;
    }
    er->next = q - 1;
    keep_cursor(n, er->next);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_EVENTS;
    rep->msg.events = er;
}

/* read_log answers req with a chunk of the log file DATA/logs/[SUB/]
 * WPATH.log (wpath: a worker's path, checked); none: an empty chunk. */
static void
read_log(struct node *n, const char *sub, const char *wpath,
         const Naos__V1__LogsRequest *req, struct ctl_reply *rep)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/logs/%s%s%s.log", n->data_dir, sub,
             sub[0] ? "/" : "", wpath);
    size_t cap = req->max_bytes ? req->max_bytes : NODE_LOGS_DEFAULT_CHUNK;
    if (cap > NODE_LOGS_MAX_CHUNK)
        cap = NODE_LOGS_MAX_CHUNK;
    if (n->fwd_job != NULL && cap > NODE_LOGS_FORWARD_CHUNK)
        cap = NODE_LOGS_FORWARD_CHUNK; /* the answer goes in one envelope;
                                          the client pages by offset */
    Naos__V1__LogsReply *lr = ctl_reply_alloc(rep, sizeof *lr);
    char *buf = ctl_reply_alloc(rep, cap);
    if (lr == NULL || buf == NULL)
        return;
    naos__v1__logs_reply__init(lr);
    size_t len = 0;
    int64_t next = req->offset < 0 ? 0 : req->offset;
    bool rotated = false;
    int rc = proc_logfile_read(path, req->offset, req->tail_lines, buf, cap,
                               &len, &next, &rotated);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read %s: %s", path, strerror(errno));
        return;
    }
    lr->data.data = (uint8_t *)buf;
    lr->data.len = len;
    lr->next_offset = next;
    lr->rotated = rotated;
    lr->path = ctl_reply_strdup(rep, wpath);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_LOGS;
    rep->msg.logs = lr;
}

/* only_worker_spec: the path below s (written after prefix into out) of
 * its one worker; false when it has several (or replicas). */
static bool
only_worker_spec(const Naos__V1__NodeSpec *s, char *out, size_t len)
{
    int w = snprintf(out, len, "/%s", s->id ? s->id : "");
    if (w < 0 || (size_t)w >= len)
        return false;
    if (!s->is_supervisor)
        return true;
    if (s->n_children != 1 || s->replicas > 1)
        return false;
    return only_worker_spec(s->children[0], out + w, len - (size_t)w);
}

/* handle_previous_logs: `naos logs --previous NAME`: the last run's logs
 * of a deployment that left this node, kept by retire_logs (node.c). The
 * node it moved from is asked (node_forward.c); NAME as for a running
 * one, a deployment with one worker named by its spec. */
static void
handle_previous_logs(struct node *n, const Naos__V1__LogsRequest *req,
                     struct ctl_reply *rep)
{
    const char *name = req->name ? req->name : "";
    char dep[SPEC_MAX_ID_LEN + 1];
    size_t k = strcspn(name, "/");
    Naos__V1__DeploymentRecord *rec = NULL;
    if (!cmd_path_is_valid(name, true) || k > SPEC_MAX_ID_LEN) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "%s is not a deployment or worker path",
                        name[0] ? name : "\"\"");
        return;
    }
    memcpy(dep, name, k);
    dep[k] = '\0';
    if (store_deploy_get(n->store, dep, &rec) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment named %s (see `naos status`)", dep);
        return;
    }
    char wpath[SPEC_MAX_ID_LEN + STORE_MAX_KEY + 4];
    snprintf(wpath, sizeof wpath, "%s", name);
    if (name[k] == '\0' && rec->spec != NULL && rec->spec->is_supervisor) {
        char below[STORE_MAX_KEY + 2];
        size_t c = rec->spec->n_children;
        if (c != 1 || rec->spec->replicas > 1 ||
            !only_worker_spec(rec->spec->children[0], below, sizeof below)) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "%s has several workers: name one by its path, "
                            "e.g. `naos logs --previous %s/<child>`", dep,
                            dep);
            store_deploy_free(rec);
            return;
        }
        snprintf(wpath, sizeof wpath, "%s%s", dep, below);
    }
    bool moved_from_here = rec->n_history > 0 &&
        rec->history[rec->n_history - 1]->from_node == n->node_id;
    store_deploy_free(rec);
    if (!moved_from_here) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "%s has no earlier run on another node: it never "
                        "moved (`naos logs %s` shows this run's output)",
                        dep, name);
        return;
    }
    read_log(n, NODE_LOGS_PREVIOUS, wpath, req, rep);
}

static void
handle_logs(struct node *n, const Naos__V1__LogsRequest *req,
            struct ctl_reply *rep)
{
    if (req->previous) {
        handle_previous_logs(n, req, rep);
        return;
    }
    const char *name = req->name ? req->name : "";
    const struct sup_node *w = sup_find_path(n->tree, name);
    if (w == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment or worker named %s (see `naos status`)",
                        name);
        return;
    }
    if (w->is_supervisor) {
        size_t count = 0;
        const struct sup_node *only = only_worker(w, &count);
        if (only == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "%s has %zu workers: name one by its path, e.g. "
                            "`naos logs %s/<child>` (see `naos status %s`)",
                            name, count, w->path, w->path);
            return;
        }
        w = only;
    }
    if (w->spec->output == SPEC_OUTPUT_DISCARD) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "%s has no log: its output is discarded (output: "
                        "discard); redeploy it with output: log to keep one",
                        w->path);
        return;
    }
    read_log(n, "", w->path, req, rep);
}

/* creq: the control request to defer while its command is applied
 * (NULL: the HTTP API, answered before return). */
static void
dispatch(struct node *n, struct ctl_req *creq, const struct caller *asker,
         const Naos__V1__Request *req, struct ctl_reply *rep)
{
    struct caller with_id = *asker;
    with_id.cl = (struct node_client){req->client_id, req->client_seq};
    const struct caller *who = &with_id;
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_DEPLOY:
        handle_deploy(n, creq, who, req->deploy, rep);
        break;
    case NAOS__V1__REQUEST__REQ_STATUS:
        handle_status(n, req->status, rep);
        break;
    case NAOS__V1__REQUEST__REQ_STOP:
        handle_dep_cmd(n, creq, who, req->stop, DEP_STOP, rep);
        break;
    case NAOS__V1__REQUEST__REQ_START:
        handle_dep_cmd(n, creq, who, req->start, DEP_START, rep);
        break;
    case NAOS__V1__REQUEST__REQ_RESTART:
        handle_dep_cmd(n, creq, who, req->restart, DEP_RESTART, rep);
        break;
    case NAOS__V1__REQUEST__REQ_REMOVE:
        handle_dep_cmd(n, creq, who, req->remove, DEP_REMOVE, rep);
        break;
    case NAOS__V1__REQUEST__REQ_EVENTS:
        handle_events(n, req->events, rep);
        break;
    case NAOS__V1__REQUEST__REQ_LOGS:
        handle_logs(n, req->logs, rep);
        break;
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE:
        handle_checkpoint_save(n, creq, who, req->checkpoint_save, rep);
        break;
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD:
        /* The operator's load on a cluster waits for a confirmed read
         * index (ReadIndex, node_read.c), then answers as below. */
        if (who->run == NULL && node__read_try(n, creq, req, rep))
            break;
        handle_checkpoint_load(n, who, req->checkpoint_load, rep);
        break;
    case NAOS__V1__REQUEST__REQ_NODES:
        node__members_reply(n, rep);
        break;
    case NAOS__V1__REQUEST__REQ_LEAVE:
        /* Leaving is for members; a single node is stopped with SIGTERM.
         * Refused, so a mistaken leave does not stop every agent. */
        if (n->members == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "naos-node %s is not in a cluster (started "
                            "without --listen), so there is nothing to "
                            "leave; nothing changed. To stop it and its "
                            "agents, send it SIGTERM (kill %d)", n->name,
                            (int)getpid());
            break;
        }
        ctl_reply_message(rep, "naos-node %s is leaving the cluster and "
                          "stopping", n->name);
        node__stop(n);
        break;
    case NAOS__V1__REQUEST__REQ_SNAPSHOT:
        node__snapshot_request(n, creq, req->snapshot, rep);
        break;
    case NAOS__V1__REQUEST__REQ_NODES_REMOVE:
        if (who->run != NULL) { /* an agent changes no membership */
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                            "an agent may not change the cluster's "
                            "members");
            break;
        }
        node__nodes_remove(n, creq, req->nodes_remove, rep);
        break;
    case NAOS__V1__REQUEST__REQ_DRAIN:
        if (who->run != NULL) { /* an agent moves no one's work */
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                            "an agent may not drain or undrain a node");
            break;
        }
        node__drain_request(n, creq, req->drain, rep);
        break;
    case NAOS__V1__REQUEST__REQ_PING:
        /* A second node on one machine lost the default dashboard port:
         * say so where the user first looks. */
        if (n->http.open)
            ctl_reply_message(rep, "naos-node %s %s, %zu workers, dashboard "
                              "%s/supervisors", n->name, NAOS_VERSION,
                              sup_count_workers(n->tree), http_url(&n->http));
        else if (n->http_off[0])
            ctl_reply_message(rep, "naos-node %s %s, %zu workers, NO "
                              "dashboard: %s", n->name, NAOS_VERSION,
                              sup_count_workers(n->tree), n->http_off);
        else
            ctl_reply_message(rep, "naos-node %s %s, %zu workers, no "
                              "dashboard (--http off)", n->name, NAOS_VERSION,
                              sup_count_workers(n->tree));
        break;
    default:
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "unknown request: upgrade naos-node");
    }
}

void
node__checkpoint_load_now(struct node *n, const char *name,
                          struct ctl_reply *rep)
{
    Naos__V1__CheckpointLoadRequest lr =
        NAOS__V1__CHECKPOINT_LOAD_REQUEST__INIT;
    lr.name = (char *)name;
    handle_checkpoint_load(n, &operator_caller, &lr, rep);
}

void
node__handle_request(void *arg, const Naos__V1__Request *req,
                     struct ctl_reply *rep)
{
    dispatch(arg, NULL, &operator_caller, req, rep);
}

/* ---- who asks ------------------------------------------------------------ */

/* What the CLI calls the request, for messages. */
static const char *
verb_of(const Naos__V1__Request *req)
{
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_DEPLOY: return "deploy";
    case NAOS__V1__REQUEST__REQ_STATUS: return "status";
    case NAOS__V1__REQUEST__REQ_STOP: return "stop";
    case NAOS__V1__REQUEST__REQ_START: return "start";
    case NAOS__V1__REQUEST__REQ_RESTART: return "restart";
    case NAOS__V1__REQUEST__REQ_REMOVE: return "rm";
    case NAOS__V1__REQUEST__REQ_EVENTS: return "events";
    case NAOS__V1__REQUEST__REQ_LOGS: return "logs";
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE: return "checkpoint save";
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD: return "checkpoint load";
    case NAOS__V1__REQUEST__REQ_NODES: return "nodes";
    case NAOS__V1__REQUEST__REQ_NODES_REMOVE: return "nodes remove";
    case NAOS__V1__REQUEST__REQ_DRAIN:
        return req->drain && req->drain->undrain ? "undrain" : "drain";
    case NAOS__V1__REQUEST__REQ_LEAVE: return "leave";
    case NAOS__V1__REQUEST__REQ_PING: return "ping";
    case NAOS__V1__REQUEST__REQ_SNAPSHOT: return "snapshot save";
    default: return "this request";
    }
}

#define GRANT_HINT                                                           \
    "agents may only save and load their own checkpoint, read their own "  \
    "deployment's status and ping, through their endpoint ($NAOS_CTL); "   \
    "grant an agent control of the node with `control: full` in its "      \
    "worker's spec (or `naos deploy --control full`)"

static bool
is_worker_pid(void *ctx, int pid)
{
    struct node *n = ctx;
    return idmap_get(&n->pids, (uint64_t)pid) != NULL;
}

/* Which worker run (if any) the caller of connection peer belongs to;
 * *run set on PROC_PEER_WORKER. A connection's answer is remembered: a
 * process found unrelated to every worker cannot become related later
 * (ancestry only changes by reparenting to the node or init, and a group
 * or session can only be joined inside one's own session), one found a
 * worker's is checked again once that run has ended, and one left behind
 * by a worker stays refused. */
static enum proc_peer_kind
identify(struct node *n, struct ctl_peer peer, const struct wrun **run)
{
    struct node_peer_memo *m = &n->peer_memo[peer.conn % NODE_PEER_MEMO];
    int wpid = 0;
    enum proc_peer_kind k;
    if (peer.conn != 0 && m->conn == peer.conn && m->pid == peer.pid &&
        (m->kind != PROC_PEER_WORKER || is_worker_pid(n, m->worker_pid))) {
        k = (enum proc_peer_kind)m->kind;
        wpid = m->worker_pid;
    } else {
        k = proc_peer_find(peer.pid, (int)getpid(), is_worker_pid, n, &wpid);
        /* A worker that asks before the loop took its spawn looks like a
         * process left behind: take the spawns done (then wait for the
         * one being made), and look again each time. */
        for (int pass = 0; pass < 2 && k == PROC_PEER_ORPHAN; pass++)
            if (node__spawns_settle(n, pass == 1))
                k = proc_peer_find(peer.pid, (int)getpid(), is_worker_pid,
                                   n, &wpid);
        /* Not remembered while spawns are under way: it may be one. */
        if (peer.conn != 0 && k != PROC_PEER_GONE &&
            !(k == PROC_PEER_ORPHAN && proc_spawner_busy(&n->spawner)))
            *m = (struct node_peer_memo){peer.conn, peer.pid, (int)k, wpid};
    }
    *run = k == PROC_PEER_WORKER ? idmap_get(&n->pids, (uint64_t)wpid)
                                 : NULL;
    return k;
}

void
node__ctl_request(void *arg, struct ctl_req *req)
{
    struct node *n = arg;
    const Naos__V1__Request *m = ctl_req_request(req);
    struct ctl_reply *rep = ctl_req_reply(req);
    struct ctl_peer peer = ctl_req_peer(req);
    struct caller who = operator_caller;
    /* pid 0: the kernel could not name the caller (another pid
     * namespace): the socket is owner-only, take it for the operator. */
    if (peer.pid > 0) {
        const struct wrun *run = NULL;
        switch (identify(n, peer, &run)) {
        case PROC_PEER_WORKER:
            if (run->w->spec->control != SPEC_CONTROL_FULL) {
                ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                                "`naos %s` refused: it comes from agent %s "
                                "(pid %d), which is not granted control of "
                                "naos-node %s; " GRANT_HINT,
                                verb_of(m), run->w->path, peer.pid, n->name);
                return;
            }
            who.run = run;
            if (m->req_case != NAOS__V1__REQUEST__REQ_STATUS &&
                m->req_case != NAOS__V1__REQUEST__REQ_PING)
                NAOS_INFO("ctl", "agent %s (pid %d, granted control) asks: "
                          "naos %s", run->w->path, peer.pid, verb_of(m));
            break;
        case PROC_PEER_ORPHAN:
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                            "`naos %s` refused: it comes from pid %d, a "
                            "process a worker left behind (its worker run "
                            "has ended); " GRANT_HINT,
                            verb_of(m), peer.pid);
            return;
        case PROC_PEER_GONE:
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                            "`naos %s` refused: naos-node cannot tell "
                            "whether an agent sent it (the process that "
                            "connected, pid %d, has exited, or its parents "
                            "changed while naos-node looked); connect again",
                            verb_of(m), peer.pid);
            return;
        default:
            break;
        }
    }
    /* The operator's status of a cluster gathers every node's report
     * (node_cluster_status.c); a follower's operator commands go to the
     * leader (node_forward.c). */
    if (who.run == NULL && (node__cluster_status_try(n, req, m, rep) ||
                            node__forward_try(n, req, m, rep)))
        return;
    dispatch(n, req, &who, m, rep);
}

void
node__agent_request(void *arg, struct ctl_req *req)
{
    struct node *n = arg;
    const Naos__V1__Request *m = ctl_req_request(req);
    struct ctl_reply *rep = ctl_req_reply(req);
    struct ctl_peer peer = ctl_req_peer(req);
    const struct wrun *run = NULL;
    enum proc_peer_kind k = peer.pid > 0 ? identify(n, peer, &run)
                                         : PROC_PEER_GONE;
    if (k != PROC_PEER_WORKER) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                        "`naos %s` refused: this is the agent endpoint of "
                        "naos-node %s: it serves the node's workers, and pid "
                        "%d is not one "
                        "of them nor started by one (%s); the operator's "
                        "socket is ctl.sock in the node's run directory",
                        verb_of(m), n->name, peer.pid,
                        proc_peer_kind_name(k));
        return;
    }
    /* Scoped to itself here, whatever its spec grants: a worker granted
     * control finds the control socket in its NAOS_CTL. */
    struct caller who = {run, false, {m->client_id, m->client_seq}};
    const struct sup_node *top = top_of(run->w);
    switch (m->req_case) {
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE:
        handle_checkpoint_save(n, req, &who, m->checkpoint_save, rep);
        return;
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD:
        handle_checkpoint_load(n, &who, m->checkpoint_load, rep);
        return;
    case NAOS__V1__REQUEST__REQ_STATUS: {
        const char *name = m->status && m->status->name ? m->status->name
                                                        : "";
        if (name[0] != '\0' && strcmp(name, top->id) != 0) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                            "`naos status %s` refused: agent %s may read the "
                            "status of its own deployment (%s) only; "
                            GRANT_HINT,
                            name, run->w->path, top->id);
            return;
        }
        Naos__V1__StatusRequest own = NAOS__V1__STATUS_REQUEST__INIT;
        own.name = top->id;
        handle_status(n, &own, rep);
        return;
    }
    case NAOS__V1__REQUEST__REQ_PING:
        ctl_reply_message(rep, "naos-node %s %s: agent endpoint of %s "
                          "(pid %d, %u restarts)", n->name, NAOS_VERSION,
                          run->w->path, run->pid, run->w->restarts);
        return;
    default:
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__DENIED,
                        "`naos %s` refused: agent %s may not control naos-node "
                        "%s; " GRANT_HINT,
                        verb_of(m), run->w->path, n->name);
        return;
    }
}
