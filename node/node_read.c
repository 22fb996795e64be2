/* SPDX-License-Identifier: Apache-2.0 */
/* node_read.c: linearizable reads from any node of a cluster (ReadIndex,
 * Raft thesis §6.4; RAFT-LITE §4: "linearizable reads through the log or
 * ReadIndex, never from whoever thinks it is leader"). Today the one read
 * that needs it is the operator's `naos checkpoint load`: checkpoints are
 * registers saved through the log, and a node's applied state may lag
 * (a follower catching up) or be stale (a deposed leader).
 *
 * How a load is answered on a node of several voters (the node that runs
 * the deployment: another node forwards the load there, node_forward.c):
 *   1. the request (a control request, or the forwarded job) is deferred
 *      and given an id;
 *   2. the leader asks its own core (cmdraft_read_index); a follower asks
 *      the leader it knows (Sealed.type 98 READ_INDEX, proto/forward.proto),
 *      whose core does the same and answers with the index (99
 *      READ_INDEX_REPLY) or why not;
 *   3. the core confirms the read index (a commit of its term, then a
 *      heartbeat round a majority answered) or fails it (it stepped down);
 *   4. once this node has applied up to the read index, the load is
 *      answered from its own store, as before (node__checkpoint_load_now).
 * Every failure says "try again": a read changes nothing.
 *
 * Bounds: NODE_READS_MAX loads waiting on a node, NODE_READ_JOBS_MAX
 * followers' requests on a leader, READ_TIMEOUT_MS for the whole read (a
 * follower that hears nothing, an index this node does not reach). A
 * lone voter answers at once from its state, which nobody else changes.
 * Reactor thread only. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "proto/forward.pb-c.h"

/* Below the forwarding node's FORWARD_TIMEOUT_MS (10 s), so that a
 * forwarded load is told "try again" rather than "may or may not". */
#define READ_TIMEOUT_MS 8000

_Static_assert(NODE_READ_INDEX_TYPE >= WIRE_TYPES_REQ_LO &&
                   NODE_READ_INDEX_REPLY_TYPE <= WIRE_TYPES_REQ_HI,
               "read-index requests use the requests range");

enum {
    READ_FREE = 0,
    READ_ASKING,  /* waiting for the read index */
    READ_WAITING, /* index known: waiting to apply up to it */
    READ_FAILED,  /* why[] says; answered at the next step */
};

static const char *
member_name(struct node *n, uint64_t id)
{
    const char *name = node__members_name(n, id);
    return name ? name : "the leader";
}

static struct node_read *
read_by_id(struct node *n, uint64_t id)
{
    for (size_t i = 0; i < NODE_READS_MAX; i++)
        if (n->reads[i].state != READ_FREE && n->reads[i].id == id)
            return &n->reads[i];
    return NULL;
}

static void
read_fail(struct node_read *rd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
read_fail(struct node_read *rd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rd->why, sizeof rd->why, fmt, ap);
    va_end(ap);
    rd->state = READ_FAILED;
}

static void
read_clear(struct node_read *rd)
{
    naos_free(rd->name);
    *rd = (struct node_read){0};
}

static void
read_cancel(void *arg, struct ctl_req *req)
{
    struct node *n = arg;
    for (size_t i = 0; i < NODE_READS_MAX; i++)
        if (n->reads[i].state != READ_FREE && n->reads[i].req == req)
            read_clear(&n->reads[i]);
}

/* ask: where rd's read index comes from: this node's core when it leads,
 * else the leader it knows. */
static void
ask(struct node *n, struct node_read *rd)
{
    const struct raft *core = cmdraft_core(n->log);
    uint64_t leader = raft_leader(core).v;
    if (raft_role_get(core) == RAFT_LEADER) {
        rd->asked = n->node_id;
        int rc = cmdraft_read_index(n->log, rd->id, n->r.now);
        if (rc == NAOS_ESTORE)
            node__cmd_fatal(n, "cannot persist the replicated log");
        if (rc != NAOS_OK)
            read_fail(rd, "naos-node %s cannot confirm the read now (%s): "
                      "try again", n->name, cmdraft_errmsg(n->log));
        return;
    }
    if (leader == 0) {
        read_fail(rd, "the cluster has no leader (an election is under "
                  "way), so naos-node %s cannot tell whether what it holds "
                  "is the latest: try again in a second", n->name);
        return;
    }
    Naos__V1__ReadIndexRequest q = NAOS__V1__READ_INDEX_REQUEST__INIT;
    q.id = rd->id;
    int rc = node__send_pb(n, leader, NODE_READ_INDEX_TYPE, &q.base);
    if (rc != NAOS_OK) {
        read_fail(rd, "cannot reach the leader %s (%s) to confirm the read: "
                  "try again in a moment", member_name(n, leader),
                  naos_strerror(rc));
        return;
    }
    rd->asked = leader;
}

bool
node__read_try(struct node *n, struct ctl_req *creq,
               const Naos__V1__Request *req, struct ctl_reply *rep)
{
    struct node_fwd_job *job = NULL;
    if (req->req_case != NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD)
        return false;
    if (creq == NULL && n->fwd_job != NULL && rep == &n->fwd_job->rep)
        job = n->fwd_job; /* forwarded here: answered when ready */
    else if (creq == NULL)
        return false; /* answered at once (HTTP): local state */
    if (n->log == NULL && n->forming) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "the cluster is forming: naos-node %s holds no "
                        "checkpoint yet; try again once it is founded",
                        n->name);
        return true;
    }
    if (n->log == NULL || !n->replicated)
        return false; /* one voter: its state is the latest */
    if (n->fatal || n->apply_stuck) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "naos-node %s cannot serve reads (%s; see its log): "
                        "ask another node", n->name,
                        n->fatal ? "its store failed"
                                 : "it stopped applying commands");
        return true;
    }
    struct node_read *rd = NULL;
    for (size_t i = 0; i < NODE_READS_MAX && rd == NULL; i++)
        if (n->reads[i].state == READ_FREE)
            rd = &n->reads[i];
    if (rd == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "%d reads already wait on naos-node %s: try again in "
                        "a moment", NODE_READS_MAX, n->name);
        return true;
    }
    const char *name = req->checkpoint_load && req->checkpoint_load->name
                           ? req->checkpoint_load->name
                           : "";
    char *copy = naos_strdup(name);
    if (copy == NULL) {
        rep->failed = 1;
        return true;
    }
    if (job == NULL && ctl_req_defer(creq, read_cancel, n) != NAOS_OK) {
        naos_free(copy);
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s has too many requests waiting: try "
                        "again in a moment", n->name);
        return true;
    }
    if (job != NULL)
        n->fwd_job_deferred = true;
    *rd = (struct node_read){.id = ++n->read_seq,
                             .req = creq,
                             .job = job,
                             .name = copy,
                             .state = READ_ASKING,
                             .deadline = n->r.now + READ_TIMEOUT_MS};
    ask(n, rd);
    /* answered (or failed) by node__read_step, this iteration or later */
    return true;
}

/* ---- the leader's side --------------------------------------------------- */

static void
job_reply(struct node *n, uint64_t to, uint64_t id, uint64_t index,
          const char *error)
{
    Naos__V1__ReadIndexReply r = NAOS__V1__READ_INDEX_REPLY__INIT;
    r.id = id;
    r.index = index;
    r.error = (char *)(error ? error : "");
    if (node__send_pb(n, to, NODE_READ_INDEX_REPLY_TYPE, &r.base) != NAOS_OK)
        NAOS_DEBUG("read", "cannot answer %016llx's read (it times out)",
                   (unsigned long long)to);
}

static bool
recv_request(struct node *n, const struct wire_msg *m)
{
    Naos__V1__ReadIndexRequest *q =
        naos__v1__read_index_request__unpack(NULL, m->len, m->payload);
    if (q == NULL)
        return false;
    uint64_t id = q->id;
    naos__v1__read_index_request__free_unpacked(q, NULL);
    char why[512];
    bool leader = n->log && n->replicated && !n->fatal &&
                  raft_role_get(cmdraft_core(n->log)) == RAFT_LEADER;
    if (!leader) {
        snprintf(why, sizeof why, "naos-node %s is not the cluster's leader "
                 "(any more): try again in a second", n->name);
        job_reply(n, m->sender, id, 0, why);
        return true;
    }
    struct node_read_job *job = NULL;
    for (size_t i = 0; i < NODE_READ_JOBS_MAX && job == NULL; i++)
        if (n->read_jobs[i].ctx == 0)
            job = &n->read_jobs[i];
    if (job == NULL) {
        snprintf(why, sizeof why, "the leader %s has %d reads waiting: try "
                 "again in a moment", n->name, NODE_READ_JOBS_MAX);
        job_reply(n, m->sender, id, 0, why);
        return true;
    }
    *job = (struct node_read_job){++n->read_seq, m->sender, id,
                                  n->r.now + READ_TIMEOUT_MS};
    int rc = cmdraft_read_index(n->log, job->ctx, n->r.now);
    if (rc == NAOS_ESTORE)
        node__cmd_fatal(n, "cannot persist the replicated log");
    if (rc != NAOS_OK && job->ctx != 0) {
        snprintf(why, sizeof why, "the leader %s cannot confirm the read "
                 "now (%s): try again", n->name, cmdraft_errmsg(n->log));
        job_reply(n, m->sender, id, 0, why);
        *job = (struct node_read_job){0};
    }
    return true;
}

void
node__read_done(void *ctx, const struct raft_read_result *res)
{
    struct node *n = ctx;
    if (node__lease_read_done(n, res))
        return; /* a round of lease grants (node_lease.c) */
    struct node_read *rd = read_by_id(n, res->ctx);
    if (rd != NULL && rd->state == READ_ASKING &&
        rd->asked == n->node_id) {
        if (res->ok) {
            rd->index = res->index;
            rd->state = READ_WAITING;
        } else {
            read_fail(rd, "naos-node %s stopped leading the cluster before "
                      "it could confirm the read: try again", n->name);
        }
        return;
    }
    for (size_t i = 0; i < NODE_READ_JOBS_MAX; i++) {
        struct node_read_job *job = &n->read_jobs[i];
        if (job->ctx == 0 || job->ctx != res->ctx)
            continue;
        char why[512];
        if (!res->ok)
            snprintf(why, sizeof why, "naos-node %s stopped leading the "
                     "cluster before it could confirm the read: try again",
                     n->name);
        job_reply(n, job->origin, job->id, res->ok ? res->index : 0,
                  res->ok ? NULL : why);
        *job = (struct node_read_job){0};
        return;
    }
}

/* ---- the asking follower's side ------------------------------------------ */

static bool
recv_reply(struct node *n, const struct wire_msg *m)
{
    Naos__V1__ReadIndexReply *r =
        naos__v1__read_index_reply__unpack(NULL, m->len, m->payload);
    if (r == NULL)
        return false;
    struct node_read *rd = read_by_id(n, r->id);
    if (rd != NULL && rd->state == READ_ASKING && rd->asked == m->sender) {
        if (r->error && r->error[0])
            read_fail(rd, "%s", r->error);
        else if (r->index == 0)
            read_fail(rd, "the leader %s gave no read index: try again",
                      member_name(n, m->sender));
        else {
            rd->index = r->index;
            rd->state = READ_WAITING;
        }
    }
    naos__v1__read_index_reply__free_unpacked(r, NULL);
    return true;
}

bool
node__read_recv(struct node *n, const struct wire_msg *m)
{
    if (m->type == NODE_READ_INDEX_TYPE)
        return recv_request(n, m);
    if (m->type == NODE_READ_INDEX_REPLY_TYPE)
        return recv_reply(n, m);
    return false;
}

/* ---- answering ----------------------------------------------------------- */

static void
finish(struct node *n, struct node_read *rd)
{
    struct ctl_req *req = rd->req;
    struct node_fwd_job *job = rd->job;
    struct ctl_reply *rep = job ? &job->rep : ctl_req_reply(req);
    if (rd->state == READ_FAILED) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY, "%s", rd->why);
        n->reads_failed++;
    } else {
        node__checkpoint_load_now(n, rd->name, rep);
        n->reads_served++;
    }
    read_clear(rd);
    if (job != NULL)
        node__forward_job_done(n, job); /* back to the node that asked */
    else
        ctl_req_finish(req);
}

void
node__read_step(struct node *n)
{
    for (size_t i = 0; i < NODE_READS_MAX; i++) {
        struct node_read *rd = &n->reads[i];
        if (rd->state == READ_FREE)
            continue;
        uint64_t leader = n->log ? raft_leader(cmdraft_core(n->log)).v : 0;
        if (rd->state == READ_ASKING && rd->asked != n->node_id &&
            leader != rd->asked)
            /* the leader asked was deposed or its connection closed: its
             * answer may never come, and a read changes nothing */
            read_fail(rd, "the leader %s changed before it confirmed the "
                      "read: try again", member_name(n, rd->asked));
        else if (rd->state == READ_WAITING && (n->fatal || n->apply_stuck))
            read_fail(rd, "naos-node %s stopped applying commands before "
                      "reaching the read's index %llu: ask another node",
                      n->name, (unsigned long long)rd->index);
        else if (rd->state == READ_WAITING && n->applied >= rd->index) {
            finish(n, rd);
            continue;
        } else if (n->r.now >= rd->deadline && rd->state == READ_ASKING)
            read_fail(rd, "%s did not confirm the read within %d s: try "
                      "again", rd->asked == n->node_id
                                   ? "this node's own log"
                                   : member_name(n, rd->asked),
                      READ_TIMEOUT_MS / 1000);
        else if (n->r.now >= rd->deadline)
            read_fail(rd, "naos-node %s did not apply up to the read's index "
                      "%llu within %d s (applied: %llu): try again", n->name,
                      (unsigned long long)rd->index, READ_TIMEOUT_MS / 1000,
                      (unsigned long long)n->applied);
        if (rd->state == READ_FAILED)
            finish(n, rd);
    }
    for (size_t i = 0; i < NODE_READ_JOBS_MAX; i++)
        if (n->read_jobs[i].ctx != 0 && n->r.now >= n->read_jobs[i].deadline)
            n->read_jobs[i] = (struct node_read_job){0}; /* its asker timed
                                                            out too */
}

naos_time
node__read_deadline(struct node *n)
{
    naos_time d = NAOS_TIME_NEVER;
    for (size_t i = 0; i < NODE_READS_MAX; i++) {
        const struct node_read *rd = &n->reads[i];
        if (rd->state == READ_FREE)
            continue;
        if (rd->state == READ_FAILED ||
            (rd->state == READ_WAITING && n->applied >= rd->index))
            return n->r.now;
        if (rd->deadline < d)
            d = rd->deadline;
    }
    for (size_t i = 0; i < NODE_READ_JOBS_MAX; i++)
        if (n->read_jobs[i].ctx != 0 && n->read_jobs[i].deadline < d)
            d = n->read_jobs[i].deadline;
    return d;
}

void
node__read_close(struct node *n)
{
    for (size_t i = 0; i < NODE_READS_MAX; i++) {
        struct node_fwd_job *job = n->reads[i].job;
        if (job != NULL) { /* its node's client times out */
            ctl_reply_fini(&job->rep);
            naos_free(job);
            n->fwd_jobs--;
        }
        read_clear(&n->reads[i]); /* a control request: ctl_close's */
    }
    for (size_t i = 0; i < NODE_READ_JOBS_MAX; i++)
        n->read_jobs[i] = (struct node_read_job){0};
}
