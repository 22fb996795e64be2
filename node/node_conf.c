/* SPDX-License-Identifier: Apache-2.0 */
/* node_conf.c: changes of the cluster's configuration asked of the node
 * (docs/architecture.md "Raft-lite", Membership): `naos nodes remove
 * NAME` takes a dead member out of the voters (or learners) for good,
 * through the leader (a follower forwards it, node_forward.c), one server
 * at a time (raft_change). The answer waits until the change is applied
 * here (node_cmd.c conf_applied). Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"

uint64_t
node__member_named(struct node *n, const char *name)
{
    uint64_t ids[NODE_MEMBERS_MAX];
    size_t nm = node__conf_members(n, ids);
    for (size_t i = 0; i < nm; i++) {
        uint64_t id = ids[i];
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, id);
        const char *known = node__members_name(n, id);
        if (strcmp(hex, name) == 0 || (known && strcmp(known, name) == 0))
            return id;
    }
    return 0;
}

void
node__nodes_remove(struct node *n, struct ctl_req *creq,
                   const Naos__V1__NodesRemoveRequest *req,
                   struct ctl_reply *rep)
{
    const char *name = req && req->name ? req->name : "";
    if (name[0] == '\0' || strlen(name) > 255) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos nodes remove needs a member's name or id "
                        "(see `naos nodes`)");
        return;
    }
    if (n->log == NULL || !n->replicated) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos-node %s runs alone (no cluster's log): there "
                        "is no member to remove; nothing changed", n->name);
        return;
    }
    uint64_t id = node__member_named(n, name);
    if (id == 0) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no member named %s in the cluster's configuration "
                        "(`naos nodes` lists the voters and learners); "
                        "nothing changed", name);
        return;
    }
    if (node__members_is_up(n, id)) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "%s is alive: only a dead member is removed (its "
                        "agents would keep running outside the cluster). "
                        "Stop it first (`naos-node leave` on it, or stop "
                        "its machine), then remove it; nothing changed",
                        name);
        return;
    }
    const struct raft *core = cmdraft_core(n->log);
    if (raft_role_get(core) != RAFT_LEADER) {
        uint64_t leader = raft_leader(core).v;
        const char *lname = leader ? node__members_name(n, leader) : NULL;
        if (lname != NULL)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "naos-node %s is not the cluster's leader; %s "
                            "is: run the command there (nothing changed)",
                            n->name, lname);
        else {
            char why[400];
            node__raft_no_leader(n, why, sizeof why);
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__UNAVAILABLE, "%s",
                            why);
        }
        return;
    }
    uint64_t index = 0;
    int rc = cmdraft_change(n->log, RAFT_CHANGE_REMOVE, id, n->r.now, &index);
    if (rc == NAOS_EBUSY || rc == NAOS_EINVAL) {
        ctl_reply_error(rep, rc == NAOS_EBUSY ? NAOS__V1__ERROR_CODE__BUSY
                                              : NAOS__V1__ERROR_CODE__INVALID,
                        "cannot remove %s, nothing changed: %s%s", name,
                        cmdraft_errmsg(n->log),
                        rc == NAOS_EBUSY ? " (try again in a second)" : "");
        return;
    }
    if (rc != NAOS_OK) {
        node__cmd_fatal(n, "cannot record a change of the configuration");
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot persist the removal of %s: %s", name,
                        store_errmsg(n->store));
        return;
    }
    NAOS_INFO("raft", "removing %s (%016" PRIx64 ") from the cluster's "
              "configuration: entry %" PRIu64, name, id, index);
    n->stats.proposals++;
    struct node_waiter *w = node__cmd_wait(n, creq, rep);
    if (w == NULL) {
        ctl_reply_message(rep, "removing %s from the cluster's "
                          "configuration (entry %" PRIu64 "); see `naos "
                          "nodes`", name, index);
        return;
    }
    w->index = index;
    w->term = raft_term(core);
}
