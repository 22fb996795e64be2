/* SPDX-License-Identifier: Apache-2.0 */
/* node_path_ctl.c: `naos stop|start|restart DEP/PATH`: the operator's
 * commands on one agent or subtree of a deployment (issue 10), as OTP's
 * terminate_child and restart_child (sup.h, sup_child_*). Runs on the
 * reactor thread. Like every command they go through the log (the entry
 * changes no record: node/cmd/apply.h) and the reconciler carries them
 * out once, as their entry is applied (reconcile_path). Holds are not
 * persisted: a node restart, or a snapshot installed on a live node
 * (reconcile_resync), runs the deployment as its stored state says, every
 * child started. */
#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/cmd/cmd.h"
#include "node/node_int.h"

/* parent_path: the path of n's supervisor, as a printable string. */
static const char *
parent_path(const struct sup_node *n)
{
    return n->parent ? n->parent->path : "";
}

void
node__handle_path_cmd(struct node *n, struct ctl_req *req, const char *path,
                      const char *verb, struct node_client cl,
                      struct ctl_reply *rep)
{
    if (strcmp(verb, "rm") == 0) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "rm takes a deployment's name, not the path %s "
                        "(`naos stop %s` stops that part of the tree)",
                        path, path);
        return;
    }
    const char *slash = strchr(path, '/');
    size_t dlen = slash ? (size_t)(slash - path) : strlen(path);
    struct sup_node *c = sup_find_path(n->tree, path);
    if (c == NULL) {
        char dep[SPEC_MAX_ID_LEN + 1];
        snprintf(dep, sizeof dep, "%.*s", (int)(dlen < sizeof dep ? dlen : 0),
                 path);
        Naos__V1__PlacementRecord *p = NULL;
        if (dlen < sizeof dep && sup_find(n->tree, dep) == NULL &&
            store_placement_get(n->store, dep, &p) == NAOS_OK &&
            p->node_id != n->node_id) {
            /* its node would have been asked (node_forward.c) were it
             * alive and this node able to forward (not catching up) */
            uint32_t load;
            if (node__members_live_load(n, p->node_id, &load))
                ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                                "deployment %s runs on %s, which this node "
                                "cannot ask now: nothing changed, try again "
                                "in a second (or on %s)", dep,
                                node__node_name(n, p->node_id),
                                node__node_name(n, p->node_id));
            else
                ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                                "deployment %s runs on %s, which is not "
                                "reachable now: nothing changed, try again "
                                "once it is (`naos nodes`)", dep,
                                node__node_name(n, p->node_id));
            store_placement_free(p);
            return;
        }
        if (p != NULL)
            store_placement_free(p);
        if (dlen >= sizeof dep || sup_find(n->tree, dep) == NULL)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no deployment named %.*s, in path %s (see "
                            "`naos status`)",
                            (int)(dlen > 64 ? 64 : dlen), path, path);
        else
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no agent or supervisor at %s in deployment %s "
                            "(paths as in `naos status`)",
                            path, dep);
        return;
    }
    Naos__V1__Command cmd;
    cmd_init(&cmd, cl.id, cl.seq, naos_clock_wall_ms());
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    nc.name = (char *)path;
    if (strcmp(verb, "stop") == 0) {
        cmd.cmd_case = NAOS__V1__COMMAND__CMD_STOP;
        cmd.stop = &nc;
    } else if (strcmp(verb, "start") == 0) {
        cmd.cmd_case = NAOS__V1__COMMAND__CMD_START;
        cmd.start = &nc;
    } else {
        cmd.cmd_case = NAOS__V1__COMMAND__CMD_RESTART;
        cmd.restart = &nc;
    }
    node__propose(n, &cmd, req, rep);
}

void
node__path_reply(struct node *n, const char *path, const char *verb,
                 const struct reconcile_outcome *ro, struct ctl_reply *rep)
{
    (void)n;
    struct sup_node *c = ro->child;
    if (c == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no agent or supervisor at %s any more (paths as in "
                        "`naos status`)", path);
        return;
    }
    bool was_live = ro->was_live;
    bool was_held = ro->was_held;
    int rc = ro->rc;
    if (rc == NAOS_EBUSY && strcmp(verb, "stop") == 0) {
        /* Its supervisor is stopped or stopping: so is it, not held. */
        if (was_live)
            ctl_reply_message(rep, "%s is stopping already: its supervisor "
                                   "%s is %s",
                              path, parent_path(c),
                              sup_state_name(c->parent->state));
        else
            ctl_reply_message(rep, "%s already stopped (its supervisor %s "
                                   "is %s)",
                              path, parent_path(c),
                              sup_state_name(c->parent->state));
        return;
    }
    if (rc == NAOS_EBUSY) {
        const struct sup_node *p = c->parent;
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "cannot %s %s: its supervisor %s is %s (`naos start "
                        "%s` first)",
                        verb, path, parent_path(c), sup_state_name(p->state),
                        parent_path(c));
        return;
    }
    if (rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL, "%s %s: %s",
                        verb, path, naos_strerror(rc));
        return;
    }
    bool live = c->is_supervisor ? c->state != SUP_STOPPED &&
                                       c->state != SUP_FAILED
                                 : c->pid != 0;
    NAOS_INFO("ctl", "operator: %s %s", verb, path);
    if (strcmp(verb, "stop") == 0) {
        if (was_held && !was_live)
            ctl_reply_message(rep, "%s already stopped", path);
        else
            ctl_reply_message(rep, "%s %s (it stays stopped until `naos "
                                   "start %s`)",
                              live ? "stopping" : "stopped", path, path);
        return;
    }
    if (strcmp(verb, "start") == 0 && was_live && !was_held) {
        ctl_reply_message(rep, "%s already running", path);
        return;
    }
    if (!live && sup_is_held(c)) {
        /* OTP's restart_child {error, Reason}: not retried. */
        char why[64];
        sup_reason_format(c->last_exit, why, sizeof why);
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "cannot start %s: %s (it stays stopped)", path, why);
        return;
    }
    if (!live && sup_is_in_node_trouble(c))
        ctl_reply_message(rep, "%s starts once this node can spawn again "
                               "(node trouble: retried, not counted; see "
                               "`naos events`)",
                          path);
    else if (!live)
        ctl_reply_message(rep, "%s starts once its supervisor %s is done "
                               "with its restart",
                          path, parent_path(c));
    else if (c->state == SUP_RUNNING && !sup_is_held(c))
        ctl_reply_message(rep, "%s %s", verb[0] == 's' ? "started"
                                                      : "restarted", path);
    else
        ctl_reply_message(rep, "%s %s (%s)", verb[0] == 's' ? "starting"
                                                           : "restarting",
                          path, sup_state_name(c->state));
}
