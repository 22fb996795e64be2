/* SPDX-License-Identifier: Apache-2.0 */
/* node_forward.c: commands from any node. A follower of a cluster of
 * several voters forwards the operator's mutating requests (deploy, stop,
 * start, restart, rm, checkpoint save) to the leader, and the status of a
 * deployment placed on another node to that node, over the transport's
 * range of node-to-node requests (proto/forward.proto: Sealed.type 96
 * FORWARD, 97 FORWARD_REPLY) and answers its client with the leader's
 * reply, as if the leader's socket had answered. A checkpoint save or
 * load, and a path command (stop|start|restart DEP/PATH), go to the node
 * that runs the deployment, which knows its agents and its tree (and
 * relays what it proposes to the leader, node_relay.c). The leader runs the
 * request through its own doors as the operator's (a member holds the
 * cluster key: it may speak for the operator) and answers once the entry
 * is applied and reconciled there.
 *
 * Bounds: FORWARD_MAX requests waiting on a follower, FORWARD_JOBS on a
 * leader; a request must fit one envelope; a follower that hears nothing
 * within FORWARD_TIMEOUT_MS tells its client the outcome is unknown.
 * Agents' requests are not forwarded (the leader could not tell which
 * agent asks). Reactor thread only. */
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "node/spec/spec.h"
#include "proto/forward.pb-c.h"

#define FORWARD_TYPE 96u
#define FORWARD_REPLY_TYPE 97u
/* Below the CLI's own 10 s, so that its client hears why. */
#define FORWARD_TIMEOUT_MS 8000
/* Room for the Forward around the request in one envelope. */
#define FORWARD_MAX_REQUEST (AUTH_MAX_PAYLOAD - 64)

_Static_assert(FORWARD_TYPE >= WIRE_TYPES_REQ_LO &&
                   FORWARD_REPLY_TYPE <= WIRE_TYPES_REQ_HI,
               "forwarding uses the requests range");

/* The path of a stop, start or restart of part of a deployment
 * (DEP/PATH), or NULL: the node that runs it checks the path against its
 * tree and proposes it (relayed to the leader, node_relay.c). */
static const char *
path_command(const Naos__V1__Request *req)
{
    const char *name = NULL;
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_STOP:
        name = req->stop ? req->stop->name : NULL;
        break;
    case NAOS__V1__REQUEST__REQ_START:
        name = req->start ? req->start->name : NULL;
        break;
    case NAOS__V1__REQUEST__REQ_RESTART:
        name = req->restart ? req->restart->name : NULL;
        break;
    default:
        break;
    }
    return name != NULL && strchr(name, '/') != NULL ? name : NULL;
}

static bool
is_forwardable(const Naos__V1__Request *req)
{
    if (path_command(req) != NULL)
        return false; /* to the deployment's node */
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_DEPLOY:
    case NAOS__V1__REQUEST__REQ_STOP:
    case NAOS__V1__REQUEST__REQ_START:
    case NAOS__V1__REQUEST__REQ_RESTART:
    case NAOS__V1__REQUEST__REQ_REMOVE:
    case NAOS__V1__REQUEST__REQ_NODES_REMOVE:
        return true;
    default:
        return false;
    }
}

/* A request that changes the cluster: what its forward's lost answer
 * leaves unknown (a read's is simply not given). */
static bool
is_command(const Naos__V1__Request *req)
{
    return is_forwardable(req) || path_command(req) != NULL ||
           req->req_case == NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE;
}

/* The deployment a request is about, when its node is the one to answer
 * it: a status, its workers' logs, and a checkpoint save or load, which
 * name agents as the node that runs them knows them. NULL otherwise. */
static const char *
owner_routed_name(const Naos__V1__Request *req)
{
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_STATUS:
        return req->status ? req->status->name : NULL;
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE:
        return req->checkpoint_save ? req->checkpoint_save->name : NULL;
    case NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD:
        return req->checkpoint_load ? req->checkpoint_load->name : NULL;
    case NAOS__V1__REQUEST__REQ_LOGS:
        return req->logs ? req->logs->name : NULL;
    default:
        return path_command(req);
    }
}

/* pack: m packed into a new buffer (naos_free), *len its size; NULL when
 * out of memory. */
static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
    *len = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = naos_alloc(*len ? *len : 1);
    if (buf != NULL)
        protobuf_c_message_pack(m, buf);
    return buf;
}

int
node__send_pb(struct node *n, uint64_t to, uint32_t type,
              const ProtobufCMessage *m)
{
    const char *addr = node__members_addr(n, to);
    if (addr == NULL || n->wire == NULL)
        return NAOS_ENOTFOUND;
    size_t len;
    uint8_t *buf = pack(m, &len);
    if (buf == NULL)
        return NAOS_ENOMEM;
    int rc = wire_send(n->wire, addr, type, buf, len);
    naos_free(buf);
    return rc;
}

/* send_wrapped: inner (a packed Request or Reply) wrapped in a Forward or
 * ForwardReply of id, sealed as type to member `to`. NAOS_OK, or
 * node__send_pb's error. */
static int
send_wrapped(struct node *n, uint64_t to, uint32_t type, uint64_t id,
             uint8_t *inner, size_t len)
{
    Naos__V1__Forward fm = NAOS__V1__FORWARD__INIT;
    Naos__V1__ForwardReply fr = NAOS__V1__FORWARD_REPLY__INIT;
    const ProtobufCMessage *m = &fm.base;
    fm.id = fr.id = id;
    fm.request.data = fr.reply.data = inner;
    fm.request.len = fr.reply.len = len;
    if (type == FORWARD_REPLY_TYPE)
        m = &fr.base;
    return node__send_pb(n, to, type, m);
}

static const char *
leader_name(struct node *n, uint64_t id)
{
    const char *name = node__members_name(n, id);
    return name ? name : "the leader";
}

/* ---- follower ---------------------------------------------------------- */

static bool
fwd_busy(const struct node_forward *f)
{
    return f->req != NULL || f->http != NULL;
}

/* The reply the forward's answer goes in. */
static struct ctl_reply *
fwd_reply(struct node_forward *f)
{
    return f->req ? ctl_req_reply(f->req) : node__http_wait_reply(f->http);
}

static struct node_forward *
fwd_find_req(struct node *n, const struct ctl_req *req)
{
    for (size_t i = 0; i < NODE_FORWARD_MAX; i++)
        if (n->fwd[i].req == req && req != NULL)
            return &n->fwd[i];
    return NULL;
}

static void
fwd_cancel(void *arg, struct ctl_req *req)
{
    struct node_forward *f = fwd_find_req(arg, req);
    if (f != NULL)
        *f = (struct node_forward){0}; /* the answer, if any, is dropped */
}

static void
fwd_finish(struct node *n, struct node_forward *f)
{
    struct ctl_req *req = f->req;
    struct node_http_wait *hw = f->http;
    *f = (struct node_forward){0};
    if (req != NULL)
        ctl_req_finish(req);
    else
        node__http_wait_done(n, hw);
}

/* previous_owner: the node deployment dep last moved from (whose kept
 * logs `naos logs --previous` reads), 0 for this one or none. */
static uint64_t
previous_owner(struct node *n, const char *dep)
{
    Naos__V1__DeploymentRecord *rec = NULL;
    if (store_deploy_get(n->store, dep, &rec) != NAOS_OK)
        return 0; /* answered here: no such deployment */
    uint64_t from = rec->n_history > 0
                        ? rec->history[rec->n_history - 1]->from_node
                        : 0;
    store_deploy_free(rec);
    return from == n->node_id ? 0 : from;
}

/* The node to answer a request about one deployment (owner_routed_name):
 * the deployment's placement, when it does not run here (0: answer
 * here). */
static uint64_t
request_owner(struct node *n, const Naos__V1__Request *req)
{
    const char *name = owner_routed_name(req);
    if (name == NULL || name[0] == 0)
        return 0;
    char dep[SPEC_MAX_ID_LEN + 1];
    size_t k = strcspn(name, "/");
    if (k > SPEC_MAX_ID_LEN)
        return 0; /* refused here, with the words of the doors */
    memcpy(dep, name, k);
    dep[k] = '\0';
    if (req->req_case == NAOS__V1__REQUEST__REQ_LOGS && req->logs->previous)
        return previous_owner(n, dep);
    if (sup_find(n->tree, dep) != NULL)
        return 0;
    Naos__V1__PlacementRecord *p = NULL;
    if (store_placement_get(n->store, dep, &p) != NAOS_OK) {
        /* not applied here yet (a deploy just forwarded): the leader
         * knows the latest */
        const struct raft *core = cmdraft_core(n->log);
        return raft_role_get(core) == RAFT_LEADER ? 0 : raft_leader(core).v;
    }
    uint64_t owner = p->node_id;
    store_placement_free(p);
    return owner == n->node_id ? 0 : owner;
}

/* forward_start forwards req for creq (deferred here once it is sure to
 * go: *deferred) or hw (deferred by the HTTP API) to the leader, or to
 * the deployment's node. */
static enum node_fwd_outcome
forward_start(struct node *n, struct ctl_req *creq, struct node_http_wait *hw,
              const Naos__V1__Request *req, struct ctl_reply *rep,
              bool *deferred)
{
    *deferred = false;
    if (n->log == NULL || !n->replicated || n->catching_up)
        return FWD_NO;
    const struct raft *core = cmdraft_core(n->log);
    uint64_t leader = raft_leader(core).v;
    bool to_owner = !is_forwardable(req);
    if (to_owner) {
        /* a deployment's status and its agents' checkpoints are its
         * node's to tell; a node that is not alive is not asked (a
         * status is answered from the record here) */
        uint64_t owner = request_owner(n, req);
        uint32_t load;
        leader = owner;
        if (owner == 0)
            return FWD_NO;
        if (!node__members_live_load(n, owner, &load)) {
            if (req->req_case == NAOS__V1__REQUEST__REQ_STATUS ||
                path_command(req) != NULL)
                return FWD_NO;
            /* The agents' checkpoints and logs are their node's: say it
             * cannot be asked now (this node does not run them). */
            if (req->req_case == NAOS__V1__REQUEST__REQ_LOGS &&
                req->logs->previous)
                ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                                "the last run of %s was on %s, which is not "
                                "reachable from naos-node %s now: its "
                                "output is there while it lives (see `naos "
                                "nodes`)", owner_routed_name(req),
                                leader_name(n, owner), n->name);
            else
                ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                                "%s runs on %s, which is not reachable from "
                                "naos-node %s now (not alive in the "
                                "membership, see `naos nodes`): nothing "
                                "changed, try again once it is back",
                                owner_routed_name(req),
                                leader_name(n, owner), n->name);
            return FWD_ANSWERED;
        }
    } else if (raft_role_get(core) == RAFT_LEADER || leader == 0) {
        return FWD_NO; /* the local answer says what there is to say */
    }
    const char *addr = node__members_addr(n, leader);
    if (addr == NULL || n->wire == NULL)
        return FWD_NO;
    size_t len = naos__v1__request__get_packed_size(req);
    if (len > FORWARD_MAX_REQUEST) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "the request is %zu bytes, more than can be "
                        "forwarded to another node (%u): run it on %s "
                        "(nothing changed)", len, FORWARD_MAX_REQUEST,
                        leader_name(n, leader));
        return FWD_ANSWERED;
    }
    struct node_forward *f = NULL;
    size_t http = 0;
    for (size_t i = 0; i < NODE_FORWARD_MAX; i++) {
        http += n->fwd[i].http != NULL;
        if (f == NULL && !fwd_busy(&n->fwd[i]))
            f = &n->fwd[i];
    }
    if (hw != NULL && http >= NODE_FORWARD_MAX / 2)
        f = NULL; /* the HTTP API takes half the slots at most */
    if (f == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "%d commands already wait for the leader %s: "
                        "nothing changed, try again in a moment",
                        NODE_FORWARD_MAX, leader_name(n, leader));
        return FWD_ANSWERED;
    }
    if (creq != NULL) {
        if (ctl_req_defer(creq, fwd_cancel, n) != NAOS_OK)
            return FWD_NO;
        *deferred = true;
    }
    uint8_t *inner = pack(&req->base, &len);
    if (inner == NULL) {
        rep->failed = 1;
        return FWD_ANSWERED;
    }
    uint64_t id = ++n->fwd_seq;
    int rc = send_wrapped(n, leader, FORWARD_TYPE, id, inner, len);
    naos_free(inner);
    if (rc != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "cannot reach the leader %s (%s): nothing changed, "
                        "try again in a moment", leader_name(n, leader),
                        naos_strerror(rc));
        return FWD_ANSWERED;
    }
    *f = (struct node_forward){id, leader, creq, hw,
                               n->r.now + FORWARD_TIMEOUT_MS, to_owner,
                               is_command(req)};
    n->fwd_sent++;
    return FWD_SENT;
}

bool
node__forward_try(struct node *n, struct ctl_req *creq,
                  const Naos__V1__Request *req, struct ctl_reply *rep)
{
    if (creq == NULL)
        return false;
    bool deferred;
    enum node_fwd_outcome o = forward_start(n, creq, NULL, req, rep,
                                            &deferred);
    if (o == FWD_ANSWERED && deferred)
        ctl_req_finish(creq); /* (else answered as the handler returns) */
    return o != FWD_NO;
}

enum node_fwd_outcome
node__forward_http(struct node *n, const Naos__V1__Request *req,
                   struct node_http_wait *hw, struct ctl_reply *rep)
{
    bool deferred;
    return forward_start(n, NULL, hw, req, rep, &deferred);
}

int
node__forward_status_local(struct node *n, uint64_t to, uint64_t id)
{
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    sr.local = true;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    size_t len;
    uint8_t *inner = pack(&req.base, &len);
    if (inner == NULL)
        return NAOS_ENOMEM;
    int rc = send_wrapped(n, to, FORWARD_TYPE, id, inner, len);
    naos_free(inner);
    return rc;
}

static bool
recv_reply(struct node *n, const struct wire_msg *m)
{
    Naos__V1__ForwardReply *fr =
        naos__v1__forward_reply__unpack(NULL, m->len, m->payload);
    if (fr == NULL)
        return false;
    if (node__cluster_status_reply(n, m->sender, fr->id, fr->reply.data,
                                   fr->reply.len)) {
        naos__v1__forward_reply__free_unpacked(fr, NULL);
        return true;
    }
    struct node_forward *f = NULL;
    for (size_t i = 0; i < NODE_FORWARD_MAX && f == NULL; i++)
        if (fwd_busy(&n->fwd[i]) && n->fwd[i].id == fr->id &&
            n->fwd[i].leader == m->sender)
            f = &n->fwd[i];
    if (f == NULL) {
        naos__v1__forward_reply__free_unpacked(fr, NULL);
        return true; /* late (timed out) or cancelled: nothing waits */
    }
    struct ctl_reply *rep = fwd_reply(f);
    ProtobufCAllocator a = ctl_reply_pb_allocator(rep);
    Naos__V1__Reply *r =
        naos__v1__reply__unpack(&a, fr->reply.len, fr->reply.data);
    naos__v1__forward_reply__free_unpacked(fr, NULL);
    if (r == NULL || rep->failed) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "the leader's answer could not be read: the command "
                        "may or may not have been carried out; see `naos "
                        "status` on the leader");
    } else {
        rep->msg = *r;
    }
    n->fwd_answered++;
    fwd_finish(n, f);
    return true;
}

/* Whether f's node can no longer answer it: the leader it went to is
 * not this node's leader any more (another was elected, or this node
 * stopped hearing from it and started an election), or the deployment's
 * node is no longer alive to this node's membership. Its answer, if it
 * still comes, is dropped: the client hears now instead of at the
 * timeout, and its retry (the same command id, deduplicated) goes to the
 * node that can answer. */
static bool
fwd_target_lost(struct node *n, const struct node_forward *f)
{
    uint32_t load;
    if (f->to_owner)
        return !node__members_live_load(n, f->leader, &load);
    return n->log == NULL ||
           raft_leader(cmdraft_core(n->log)).v != f->leader;
}

void
node__forward_tick(struct node *n)
{
    for (size_t i = 0; i < NODE_FORWARD_MAX; i++) {
        struct node_forward *f = &n->fwd[i];
        if (!fwd_busy(f))
            continue;
        bool lost = fwd_target_lost(n, f);
        if (!lost && n->r.now < f->deadline)
            continue;
        if (lost && f->command)
            ctl_reply_error(fwd_reply(f),
                            NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "outcome unknown: %s %s before it answered: the "
                            "command may or may not have been carried out; "
                            "see `naos status` before running it again",
                            node__node_name(n, f->leader),
                            f->to_owner ? "is no longer reachable (not "
                                          "alive in the membership)"
                                        : "stopped being the leader of this "
                                          "node's cluster");
        else if (lost)
            ctl_reply_error(fwd_reply(f), NAOS__V1__ERROR_CODE__BUSY,
                            "%s %s before it answered: nothing changed, try "
                            "again in a moment",
                            node__node_name(n, f->leader),
                            f->to_owner ? "is no longer reachable"
                                        : "stopped being the leader");
        else if (f->to_owner && f->command)
            ctl_reply_error(fwd_reply(f),
                            NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "outcome unknown: %s, which runs the deployment, "
                            "did not answer within %d s: the command may or "
                            "may not have been carried out; see `naos "
                            "status` before running it again",
                            node__node_name(n, f->leader),
                            FORWARD_TIMEOUT_MS / 1000);
        else if (f->to_owner)
            ctl_reply_error(fwd_reply(f), NAOS__V1__ERROR_CODE__BUSY,
                            "%s, which runs the deployment, did not answer "
                            "within %d s (a checkpoint save may or may not "
                            "have been recorded): try again, or `naos "
                            "status --local` there",
                            node__node_name(n, f->leader),
                            FORWARD_TIMEOUT_MS / 1000);
        else
            ctl_reply_error(fwd_reply(f),
                            NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "the leader %s did not answer within %d s: the "
                            "command may or may not have been carried out; "
                            "see `naos status` before running it again",
                            leader_name(n, f->leader),
                            FORWARD_TIMEOUT_MS / 1000);
        if (lost)
            n->fwd_lost++;
        else
            n->fwd_timeouts++;
        fwd_finish(n, f);
    }
    node__read_step(n);
}

naos_time
node__forward_deadline(struct node *n)
{
    naos_time d = NAOS_TIME_NEVER;
    for (size_t i = 0; i < NODE_FORWARD_MAX; i++)
        if (fwd_busy(&n->fwd[i]) && n->fwd[i].deadline < d)
            d = n->fwd[i].deadline;
    naos_time r = node__read_deadline(n);
    return r < d ? r : d;
}

/* ---- leader ------------------------------------------------------------ */

static void
send_reply(struct node *n, uint64_t to, uint64_t id, struct ctl_reply *rep)
{
    if (rep->failed)
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "naos-node %s ran out of memory answering", n->name);
    size_t len = naos__v1__reply__get_packed_size(&rep->msg);
    if (len > FORWARD_MAX_REQUEST) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos-node %s's answer is %zu bytes, more than one "
                        "envelope carries: ask it directly", n->name, len);
        len = naos__v1__reply__get_packed_size(&rep->msg);
    }
    uint8_t *inner = pack(&rep->msg.base, &len);
    if (inner == NULL ||
        send_wrapped(n, to, FORWARD_REPLY_TYPE, id, inner, len) != NAOS_OK)
        NAOS_WARN("forward", "cannot answer %016llx's forwarded command "
                  "(its client will time out)", (unsigned long long)to);
    naos_free(inner);
}

void
node__forward_job_done(struct node *n, struct node_fwd_job *job)
{
    send_reply(n, job->origin, job->id, &job->rep);
    ctl_reply_fini(&job->rep);
    naos_free(job);
    n->fwd_jobs--;
}

static bool
recv_request(struct node *n, const struct wire_msg *m)
{
    Naos__V1__Forward *fm = naos__v1__forward__unpack(NULL, m->len,
                                                      m->payload);
    if (fm == NULL)
        return false;
    Naos__V1__Request *req =
        naos__v1__request__unpack(NULL, fm->request.len, fm->request.data);
    uint64_t id = fm->id;
    naos__v1__forward__free_unpacked(fm, NULL);
    if (req == NULL)
        return false;
    struct node_fwd_job *job = naos_alloc(sizeof *job);
    if (job == NULL) {
        naos__v1__request__free_unpacked(req, NULL);
        return true; /* lost like a dropped message: its client times out */
    }
    job->origin = m->sender;
    job->id = id;
    naos__v1__reply__init(&job->rep.msg);
    n->fwd_jobs++;
    bool leader = n->log && n->replicated &&
                  raft_role_get(cmdraft_core(n->log)) == RAFT_LEADER;
    bool status = owner_routed_name(req) != NULL; /* any node answers */
    if (!is_forwardable(req) && !status)
        ctl_reply_error(&job->rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos-node %s takes only commands forwarded "
                        "(deploy, stop, start, restart, rm), deployments' "
                        "status and checkpoints", n->name);
    else if (!leader && !status)
        ctl_reply_error(&job->rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s is no longer the cluster's leader: "
                        "nothing changed, try again in a second", n->name);
    else if (n->fwd_jobs > NODE_FWD_JOBS_MAX)
        ctl_reply_error(&job->rep, NAOS__V1__ERROR_CODE__BUSY,
                        "the leader %s has %d forwarded commands waiting: "
                        "nothing changed, try again in a moment", n->name,
                        NODE_FWD_JOBS_MAX);
    else {
        NAOS_INFO("forward", "%s forwards a command", leader_name(n, m->sender));
        n->fwd_job = job;
        n->fwd_job_deferred = false;
        node__handle_request(n, req, &job->rep);
        n->fwd_job = NULL;
        if (n->fwd_job_deferred) {
            naos__v1__request__free_unpacked(req, NULL);
            return true; /* answered when its entry is applied */
        }
    }
    naos__v1__request__free_unpacked(req, NULL);
    node__forward_job_done(n, job);
    return true;
}

bool
node__forward_recv(void *arg, const struct wire_msg *m)
{
    struct node *n = arg;
    if (m->type == FORWARD_REPLY_TYPE)
        return recv_reply(n, m);
    if (m->type == FORWARD_TYPE)
        return recv_request(n, m);
    if (node__relay_recv(n, m) || node__join_recv(n, m) ||
        node__lease_recv(n, m))
        return true;
    return node__read_recv(n, m);
}

void
node__forward_close(struct node *n)
{
    for (size_t i = 0; i < NODE_FORWARD_MAX; i++) {
        if (n->fwd[i].http != NULL)
            node__http_wait_drop(n->fwd[i].http);
        n->fwd[i] = (struct node_forward){0};
    }
    node__read_close(n);
}
