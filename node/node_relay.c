/* SPDX-License-Identifier: Apache-2.0 */
/* node_relay.c: a follower's own commands, relayed to the leader. What a
 * follower itself proposes (an agent's checkpoint save through its
 * endpoint, the mark that a deployment gave up, the removal of one that
 * cannot run, an operator's checkpoint save resolved against the agents
 * that run here, a path command checked against the tree that runs
 * here) cannot be proposed by a follower: the packed command
 * goes to the leader as it is (proto/forward.proto Propose, Sealed.type
 * 98), which proposes it and answers at once with the entry's index and
 * term, or why not (ProposeReply, 99). The follower's client is answered
 * when the follower applies that entry itself, by the same waiter as on
 * the leader (node_cmd.c): from its own state, with its own words. A
 * command nobody waits for (id 0) gets no answer: if it is lost (no
 * leader, a leader change), it is lost as a dropped message is.
 *
 * Bounds: waiters are node_cmd.c's (NODE_WAITERS); one envelope per
 * command (CMD_MAX_ENTRY fits); a client not answered within
 * RELAY_TIMEOUT_MS is told the outcome is unknown. The leader takes a
 * relayed command as it takes its own: it is one of the cluster's
 * members, which hold the key. Reactor thread only. */
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/cmd/cmd.h"
#include "node/node_int.h"
#include "proto/forward.pb-c.h"

#define PROPOSE_TYPE 98u
#define PROPOSE_REPLY_TYPE 99u
/* Below the CLI's own 10 s, so that its client hears why. */
#define RELAY_TIMEOUT_MS 8000

_Static_assert(PROPOSE_TYPE >= WIRE_TYPES_REQ_LO &&
                   PROPOSE_REPLY_TYPE <= WIRE_TYPES_REQ_HI,
               "relaying uses the requests range");
_Static_assert(CMD_MAX_ENTRY + 64 <= AUTH_MAX_PAYLOAD,
               "a relayed command fits one envelope");

int
node__relay_propose(struct node *n, uint64_t leader, const uint8_t *cmd,
                    size_t len, struct ctl_req *req, struct ctl_reply *rep)
{
    Naos__V1__Propose p = NAOS__V1__PROPOSE__INIT;
    p.command.data = (uint8_t *)cmd;
    p.command.len = len;
    if (rep == NULL) {
        int rc = node__send_pb(n, leader, PROPOSE_TYPE, &p.base);
        if (rc != NAOS_OK)
            NAOS_WARN("relay", "cannot send a command to the leader %s: %s",
                      node__node_name(n, leader), naos_strerror(rc));
        return rc;
    }
    struct node_waiter *w = node__cmd_wait(n, req, rep);
    if (w == NULL)
        return NAOS_ECLOSED; /* answered before the handler returns */
    p.id = ++n->relay_seq;
    int rc = node__send_pb(n, leader, PROPOSE_TYPE, &p.base);
    if (rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "cannot reach the leader %s (%s): nothing changed, "
                        "try again in a moment", node__node_name(n, leader),
                        naos_strerror(rc));
        node__cmd_waiter_done(n, w);
        return NAOS_OK;
    }
    w->relay_id = p.id;
    w->relay_to = leader;
    w->deadline = n->r.now + RELAY_TIMEOUT_MS;
    n->relayed++;
    return NAOS_OK;
}

/* The leader: propose what a follower sent, answer where it went. */
static void
on_propose(struct node *n, const struct wire_msg *m, const Naos__V1__Propose *p)
{
    Naos__V1__ProposeReply r = NAOS__V1__PROPOSE_REPLY__INIT;
    r.id = p->id;
    char err[768] = "";
    Naos__V1__Command *c = NULL;
    int rc = NAOS_OK;
    if (n->log == NULL || n->catching_up || n->fatal || n->apply_stuck ||
        raft_role_get(cmdraft_core(n->log)) != RAFT_LEADER) {
        r.code = NAOS__V1__ERROR_CODE__BUSY;
        snprintf(err, sizeof err, "naos-node %s is not the cluster's leader "
                 "(any more), or takes no commands: nothing changed, try "
                 "again in a second", n->name);
    } else if ((rc = cmd_unpack(p->command.data, p->command.len, &c, err,
                                sizeof err)) != NAOS_OK) {
        r.code = rc == NAOS_ENOMEM ? NAOS__V1__ERROR_CODE__BUSY
                                   : NAOS__V1__ERROR_CODE__INVALID;
    } else if (c->cmd_case != NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE &&
               c->cmd_case != NAOS__V1__COMMAND__CMD_FAIL &&
               c->cmd_case != NAOS__V1__COMMAND__CMD_REMOVE &&
               c->cmd_case != NAOS__V1__COMMAND__CMD_DRAIN &&
               c->cmd_case != NAOS__V1__COMMAND__CMD_RELEASE &&
               !cmd_is_path(c)) {
        /* what a follower may propose on its own (a path command: its
         * door checked the path against the tree it runs); the operator's
         * other commands are forwarded whole (the leader places deploys) */
        r.code = NAOS__V1__ERROR_CODE__INVALID;
        snprintf(err, sizeof err, "the leader %s takes no relayed %s: "
                 "run it on the leader (nothing changed)", n->name,
                 cmd_type_name(c));
    } else if (c->cmd_case == NAOS__V1__COMMAND__CMD_RELEASE &&
               c->release->node_id != m->sender) {
        /* a node releases only what is placed on itself */
        r.code = NAOS__V1__ERROR_CODE__DENIED;
        snprintf(err, sizeof err, "%s may release only its own placements, "
                 "not one on %s (nothing changed)",
                 node__node_name(n, m->sender),
                 node__node_name(n, c->release->node_id));
    } else {
        uint64_t index = 0;
        rc = cmdraft_propose(n->log, p->command.data, p->command.len,
                             n->r.now, &index);
        if (rc == NAOS_OK) {
            n->stats.proposals++;
            r.index = index;
            r.term = raft_term(cmdraft_core(n->log));
            NAOS_DEBUG("relay", "%s's %s at entry %llu",
                       node__node_name(n, m->sender), cmd_type_name(c),
                       (unsigned long long)index);
        } else {
            if (rc == NAOS_ESTORE)
                node__cmd_fatal(n, "cannot record a relayed command");
            r.code = rc == NAOS_ETOOBIG ? NAOS__V1__ERROR_CODE__INVALID
                                        : NAOS__V1__ERROR_CODE__BUSY;
            snprintf(err, sizeof err, "the leader %s cannot propose it: %s "
                     "(nothing changed)", n->name, cmdraft_errmsg(n->log));
        }
    }
    cmd_free(c);
    if (p->id == 0) {
        if (r.code != 0)
            NAOS_WARN("relay", "a command of %s is lost: %s",
                      node__node_name(n, m->sender), err);
        return;
    }
    r.error = err;
    if ((rc = node__send_pb(n, m->sender, PROPOSE_REPLY_TYPE, &r.base)) !=
        NAOS_OK)
        NAOS_WARN("relay", "cannot answer %s's command (%s): its client "
                  "will be told the outcome is unknown",
                  node__node_name(n, m->sender), naos_strerror(rc));
}

/* The follower: the leader said where the entry went (or why not). */
static void
on_reply(struct node *n, const struct wire_msg *m,
         const Naos__V1__ProposeReply *r)
{
    struct node_waiter *w = NULL;
    for (size_t i = 0; i < NODE_WAITERS && w == NULL; i++)
        if (n->waiters[i].rep != NULL && n->waiters[i].index == 0 &&
            n->waiters[i].relay_id == r->id &&
            n->waiters[i].relay_to == m->sender)
            w = &n->waiters[i];
    if (w == NULL)
        return; /* timed out, or its client went */
    if (r->index == 0 || r->code != 0) {
        ctl_reply_error(w->rep,
                        r->code ? (Naos__V1__ErrorCode)r->code
                                : NAOS__V1__ERROR_CODE__INTERNAL,
                        "%s", r->error && r->error[0]
                                  ? r->error
                                  : "the leader refused the command");
        node__cmd_waiter_done(n, w);
        return;
    }
    if (r->index <= n->applied) {
        /* its entry went by before the answer (cannot happen on one
         * connection, which carries the append first): not ours to say */
        ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                        "outcome unknown: entry %llu was applied before the "
                        "leader said it was this command's; check with "
                        "`naos status`", (unsigned long long)r->index);
        node__cmd_waiter_done(n, w);
        return;
    }
    w->index = r->index;
    w->term = r->term;
}

bool
node__relay_recv(struct node *n, const struct wire_msg *m)
{
    if (m->type == PROPOSE_TYPE) {
        Naos__V1__Propose *p =
            naos__v1__propose__unpack(NULL, m->len, m->payload);
        if (p == NULL)
            return false;
        on_propose(n, m, p);
        naos__v1__propose__free_unpacked(p, NULL);
        return true;
    }
    if (m->type == PROPOSE_REPLY_TYPE) {
        Naos__V1__ProposeReply *r =
            naos__v1__propose_reply__unpack(NULL, m->len, m->payload);
        if (r == NULL)
            return false;
        on_reply(n, m, r);
        naos__v1__propose_reply__free_unpacked(r, NULL);
        return true;
    }
    return false;
}

void
node__relay_tick(struct node *n)
{
    uint64_t leader = n->log ? raft_leader(cmdraft_core(n->log)).v : 0;
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_waiter *w = &n->waiters[i];
        if (w->rep == NULL || w->relay_id == 0)
            continue;
        /* Not answered yet by a leader that is no longer this node's
         * leader: it will not answer (an entry it did propose is applied
         * here, or replaced, like any other): say so now, and the client
         * retries with the same id. */
        bool lost = w->index == 0 && leader != w->relay_to;
        if (!lost && n->r.now < w->deadline)
            continue;
        if (lost)
            ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "outcome unknown: the command was relayed to the "
                            "leader %s, which stopped leading before it "
                            "answered; check with `naos status` before "
                            "running it again",
                            node__node_name(n, w->relay_to));
        else
            ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "outcome unknown: the command was relayed to "
                            "the leader %s, and %s did not %s within %d s; "
                            "check with `naos status` before running it "
                            "again", node__node_name(n, w->relay_to),
                            n->name, w->index ? "apply it" : "hear back",
                            RELAY_TIMEOUT_MS / 1000);
        node__cmd_waiter_done(n, w);
    }
}

naos_time
node__relay_deadline(struct node *n)
{
    naos_time d = NAOS_TIME_NEVER;
    for (size_t i = 0; i < NODE_WAITERS; i++)
        if (n->waiters[i].rep != NULL && n->waiters[i].relay_id != 0 &&
            n->waiters[i].deadline < d)
            d = n->waiters[i].deadline;
    return d;
}
