/* SPDX-License-Identifier: Apache-2.0 */
/* node_join.c: a new node joins the cluster's log (docs/architecture.md
 * "Raft-lite", Membership). `naos-node join SEED` with an empty data
 * directory finds the cluster by gossip, then asks a member to take it in
 * (JoinRequest, Sealed.type 102): a member that does not lead says who
 * does; the leader checks that no other member of the configuration has
 * the joiner's name, adds it as a learner (raft_change ADD_LEARNER, one
 * change at a time) and, once that change is committed, answers with the
 * cluster's founding voters (JoinReply, 103). Only then does the joiner
 * open its log, with those voters as the configuration its empty log
 * starts from: the leader sends it every entry since (each configuration
 * change among them takes effect as it arrives) or a snapshot, and it
 * starts nothing before it has applied up to the leader's commit index.
 * A learner never votes; node_promote.c makes voters of caught-up ones.
 *
 * The request is idempotent (a joiner whose answer was lost asks again
 * and is told it is in), so the joiner records nothing before the
 * answer: a joiner killed while asking starts over with the same id.
 * Bounds: one request in flight per JOIN_RETRY_MIN_MS..JOIN_RETRY_MAX_MS
 * (backoff); the leader keeps no state per request. A refusal that will
 * not change (the name is taken, the learners are full) stops the node
 * with exit code 100 and says what to do. Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "proto/forward.pb-c.h"
#include "store/raftlog.h"

#define JOIN_RETRY_MIN_MS 250
#define JOIN_RETRY_MAX_MS 5000
/* while the leader commits the learner: ask again soon */
#define JOIN_PENDING_MS 200
/* How often a joiner says what it waits for. */
#define JOIN_LOG_MS 10000
#define JOIN_NAME_MAX 63

_Static_assert(NODE_JOIN_TYPE >= WIRE_TYPES_REQ_LO &&
                   NODE_JOIN_REPLY_TYPE <= WIRE_TYPES_REQ_HI,
               "joining uses the requests range");

/* ---- the joiner ---------------------------------------------------------- */

static void join_open(struct node *n);

/* join_target: whom to ask: the member that last said it leads, if it is
 * up, else the alive members in turn (0: gossip knows nobody yet). */
static uint64_t
join_target(struct node *n)
{
    if (n->join_hint != 0 && n->join_hint != n->node_id &&
        node__members_is_up(n, n->join_hint))
        return n->join_hint;
    uint64_t alive[64];
    size_t na = node__members_alive(n, alive, 64);
    if (na > 64)
        na = 64;
    size_t others = 0;
    for (size_t i = 0; i < na; i++)
        if (alive[i] != n->node_id)
            alive[others++] = alive[i];
    if (others == 0)
        return 0;
    return alive[n->join_turn++ % others];
}

static void
join_say(struct node *n, const char *what, const char *detail)
{
    if (n->join_logged != 0 && n->r.now < n->join_logged + JOIN_LOG_MS)
        return;
    n->join_logged = n->r.now;
    NAOS_INFO("join", "joining the cluster: %s%s%s", what,
              detail && detail[0] ? ": " : "", detail ? detail : "");
}

void
node__join_step(struct node *n)
{
    if (!n->joining || n->fatal || n->r.now < n->join_next)
        return;
    if (n->join_nfounding > 0) {
        join_open(n);
        return;
    }
    uint64_t to = join_target(n);
    if (to == 0) {
        join_say(n, "waiting for gossip to reach a member through the "
                    "seeds", NULL);
        n->join_next = n->r.now + JOIN_RETRY_MIN_MS;
        return;
    }
    Naos__V1__JoinRequest rq = NAOS__V1__JOIN_REQUEST__INIT;
    rq.name = n->name;
    rq.no_voter = n->no_voter;
    int rc = node__send_pb(n, to, NODE_JOIN_TYPE, &rq.base);
    if (rc != NAOS_OK)
        NAOS_DEBUG("join", "cannot ask %s: %s", node__node_name(n, to),
                   naos_strerror(rc));
    if (n->join_backoff < JOIN_RETRY_MIN_MS)
        n->join_backoff = JOIN_RETRY_MIN_MS;
    n->join_next = n->r.now + n->join_backoff;
    n->join_backoff *= 2;
    if (n->join_backoff > JOIN_RETRY_MAX_MS)
        n->join_backoff = JOIN_RETRY_MAX_MS;
}

naos_time
node__join_deadline(const struct node *n)
{
    return n->joining ? n->join_next : NAOS_TIME_NEVER;
}

/* join_open: the leader took this node in: open the log from the
 * founding voters (recorded first: a restart opens the same log). From
 * the loop's step, not from the transport's callback. */
static void
join_open(struct node *n)
{
    uint64_t ids[NODE_VOTERS_MAX];
    size_t nv = n->join_nfounding;
    memcpy(ids, n->join_founding, nv * sizeof *ids);
    if (store_voters_set(n->store, ids, nv) != NAOS_OK ||
        (n->join_target != 0 &&
         store_voter_target_set(n->store, n->join_target) != NAOS_OK)) {
        if (store_is_failed(n->store))
            node__cmd_fatal(n, "cannot record the cluster's voters");
        else
            NAOS_ERROR("join", "cannot record the cluster's voters: %s",
                       store_errmsg(n->store));
        n->join_next = n->r.now + JOIN_RETRY_MAX_MS;
        return;
    }
    char err[256];
    if (node__cmd_open_log(n, ids, nv, err, sizeof err) != NAOS_OK) {
        NAOS_ERROR("join", "%s", err);
        if (!n->fatal)
            n->fatal = 111;
        return;
    }
    n->joining = false;
    node__members_health_now(n);
    NAOS_INFO("join", "joined the cluster as a learner (taken in by %s): "
              "receiving its log; commands are taken once it has caught "
              "up", node__node_name(n, n->join_hint));
}

/* join_accepted: keep the founding voters of the answer (checked) for
 * the next step to open the log with. */
static void
join_accepted(struct node *n, uint64_t from, const Naos__V1__JoinReply *r)
{
    size_t nv = r->n_founding_voters;
    bool ok = nv >= 1 && nv <= NODE_VOTERS_MAX;
    for (size_t i = 0; ok && i < nv; i++) {
        ok = r->founding_voters[i] != 0;
        for (size_t j = 0; ok && j < i; j++)
            ok = r->founding_voters[j] != r->founding_voters[i];
    }
    if (!ok) {
        NAOS_WARN("join", "%s's answer names %zu founding voters, not 1..%d "
                  "distinct ones: ignored", node__node_name(n, from), nv,
                  NODE_VOTERS_MAX);
        return;
    }
    memcpy(n->join_founding, r->founding_voters, nv * sizeof(uint64_t));
    n->join_nfounding = nv;
    n->join_target = r->voter_target <= NODE_VOTERS_MAX ? r->voter_target
                                                        : 0;
    n->join_hint = from;
    n->join_next = n->r.now; /* the step opens the log */
}

static void
on_reply(struct node *n, const struct wire_msg *m,
         const Naos__V1__JoinReply *r)
{
    if (!n->joining || n->fatal || n->join_nfounding > 0)
        return; /* a late answer to an earlier request */
    if (r->code == 0 && r->added) {
        join_accepted(n, m->sender, r);
        return;
    }
    if (r->code == 0) {
        /* the leader is committing us: ask it again soon */
        n->join_hint = m->sender;
        n->join_next = n->r.now + JOIN_PENDING_MS;
        n->join_backoff = JOIN_RETRY_MIN_MS;
        join_say(n, "the leader is adding this node as a learner", NULL);
        return;
    }
    const char *why = r->error && r->error[0] ? r->error : "refused";
    if (r->code == NAOS__V1__ERROR_CODE__INVALID) {
        NAOS_ERROR("join", "%s refused to take this node in: %s",
                   node__node_name(n, m->sender), why);
        n->fatal = 100; /* permanent: node_run stops with it */
        return;
    }
    if (r->leader != 0 && r->leader != n->node_id &&
        r->leader != n->join_hint) {
        n->join_hint = r->leader;
        n->join_next = n->r.now; /* ask the leader now */
    } else if (r->leader == 0) {
        n->join_hint = 0;
    }
    join_say(n, "not yet", why);
}

/* ---- any member: the leader answers ----------------------------------- */

static void
reply(struct node *n, uint64_t to, Naos__V1__JoinReply *r, const char *err)
{
    r->error = (char *)(err ? err : "");
    int rc = node__send_pb(n, to, NODE_JOIN_REPLY_TYPE, &r->base);
    if (rc != NAOS_OK)
        NAOS_DEBUG("join", "cannot answer %s: %s", node__node_name(n, to),
                   naos_strerror(rc));
}

/* name_taker: another member of the configuration (or this node) that
 * has name, or 0. */
static uint64_t
name_taker(struct node *n, uint64_t asker, const char *name)
{
    if (asker != n->node_id && strcmp(n->name, name) == 0)
        return n->node_id;
    uint64_t ids[NODE_MEMBERS_MAX];
    size_t nm = node__conf_members(n, ids);
    for (size_t i = 0; i < nm; i++) {
        uint64_t id = ids[i];
        if (id == asker || id == n->node_id)
            continue;
        const char *known = node__members_name(n, id);
        if (known != NULL && strcmp(known, name) == 0)
            return id;
    }
    return 0;
}

/* founding: the voters this cluster's log was founded with: recorded at
 * founding (--bootstrap-expect) or at join; none recorded: this node
 * founded it alone. */
static size_t
founding(struct node *n, uint64_t *ids)
{
    size_t k = 0;
    if (store_voters_get(n->store, ids, NODE_VOTERS_MAX, &k) != NAOS_OK)
        return 0;
    if (k == 0) {
        ids[0] = n->node_id;
        k = 1;
    }
    return k;
}

static void
on_request(struct node *n, const struct wire_msg *m,
           const Naos__V1__JoinRequest *q)
{
    Naos__V1__JoinReply r = NAOS__V1__JOIN_REPLY__INIT;
    char err[512];
    uint64_t asker = m->sender;
    const char *name = q->name ? q->name : "";
    size_t len = strnlen(name, JOIN_NAME_MAX + 1);
    if (n->log == NULL || n->joining || n->forming || n->fatal) {
        r.code = NAOS__V1__ERROR_CODE__UNAVAILABLE;
        snprintf(err, sizeof err, "naos-node %s has no cluster's log to "
                 "take a node into yet", n->name);
        reply(n, asker, &r, err);
        return;
    }
    if (n->gossip_only && !n->replicated) {
        /* its log is its own, not the cluster's the joiner's seeds
         * lead to: the joiner asks another member */
        r.code = NAOS__V1__ERROR_CODE__UNAVAILABLE;
        snprintf(err, sizeof err, "naos-node %s keeps a log of its own "
                 "(started with --seeds, not joined): it takes no node in",
                 n->name);
        reply(n, asker, &r, err);
        return;
    }
    const struct raft *core = cmdraft_core(n->log);
    if (raft_role_get(core) != RAFT_LEADER || n->catching_up) {
        r.code = NAOS__V1__ERROR_CODE__BUSY;
        r.leader = raft_leader(core).v;
        snprintf(err, sizeof err, "naos-node %s is not the cluster's leader%s",
                 n->name, r.leader ? "; ask the leader" : " (none known)");
        reply(n, asker, &r, err);
        return;
    }
    r.leader = n->node_id;
    if (len == 0 || len > JOIN_NAME_MAX) {
        r.code = NAOS__V1__ERROR_CODE__INVALID;
        snprintf(err, sizeof err, "a node's name is 1..%d bytes",
                 JOIN_NAME_MAX);
        reply(n, asker, &r, err);
        return;
    }
    uint64_t taker = name_taker(n, asker, name);
    if (taker != 0) {
        r.code = NAOS__V1__ERROR_CODE__INVALID;
        snprintf(err, sizeof err, "the name %s is taken by member %016" PRIx64
                 " of the cluster (%s): start this node with another "
                 "--name, or, if that member is gone for good, remove it "
                 "first with `naos nodes remove %s`", name, taker,
                 node__members_is_up(n, taker) ? "alive" : "not alive",
                 name);
        NAOS_WARN("join", "refused %016" PRIx64 " as %s: %s", asker, name,
                  err);
        reply(n, asker, &r, err);
        return;
    }
    const struct raft_conf *c = raft_conf_current(core);
    struct raft_id who = {asker};
    if (raft_conf_is_voter(c, who) || raft_conf_is_learner(c, who)) {
        /* a voter was a learner of a committed configuration (a promotion
         * is proposed only once the change before it is committed): it is
         * in, even while its promotion is not committed yet (which may
         * need its own answer) */
        if (raft_conf_is_voter(c, who) ||
            raft_conf_index(core) <= cmdraft_commit_index(n->log)) {
            uint64_t ids[NODE_VOTERS_MAX];
            r.n_founding_voters = founding(n, ids);
            r.founding_voters = ids;
            unsigned target = 0;
            if (store_voter_target_get(n->store, &target) == NAOS_OK)
                r.voter_target = target;
            r.added = r.n_founding_voters > 0;
            if (!r.added)
                r.code = NAOS__V1__ERROR_CODE__BUSY;
            reply(n, asker, &r, r.added ? NULL : "cannot read the founding "
                                                 "voters; try again");
        } else {
            reply(n, asker, &r, NULL); /* committing it: ask again */
        }
        return;
    }
    if (c->nlearners >= NODE_LEARNERS_MAX) {
        r.code = NAOS__V1__ERROR_CODE__INVALID;
        snprintf(err, sizeof err, "the cluster has %zu learners, the most "
                 "it takes: remove one that is gone (`naos nodes remove "
                 "NAME`) or let them become voters first", c->nlearners);
        reply(n, asker, &r, err);
        return;
    }
    uint64_t index = 0;
    int rc = cmdraft_change(n->log, RAFT_CHANGE_ADD_LEARNER, asker, n->r.now,
                            &index);
    if (rc == NAOS_EBUSY || rc == NAOS_EINVAL) {
        r.code = rc == NAOS_EBUSY ? NAOS__V1__ERROR_CODE__BUSY
                                  : NAOS__V1__ERROR_CODE__INVALID;
        snprintf(err, sizeof err, "cannot add %s now: %s", name,
                 cmdraft_errmsg(n->log));
        reply(n, asker, &r, err);
        return;
    }
    if (rc != NAOS_OK) {
        node__cmd_fatal(n, "cannot record a change of the configuration");
        return;
    }
    NAOS_INFO("join", "adding %s (%016" PRIx64 ") as a learner: entry %"
              PRIu64, name, asker, index);
    node__raft_flush(n);
    reply(n, asker, &r, NULL); /* under way: it asks again */
}

bool
node__join_recv(struct node *n, const struct wire_msg *m)
{
    if (m->type == NODE_JOIN_TYPE) {
        Naos__V1__JoinRequest *q =
            naos__v1__join_request__unpack(NULL, m->len, m->payload);
        if (q == NULL)
            return false;
        on_request(n, m, q);
        naos__v1__join_request__free_unpacked(q, NULL);
        return true;
    }
    if (m->type == NODE_JOIN_REPLY_TYPE) {
        Naos__V1__JoinReply *r =
            naos__v1__join_reply__unpack(NULL, m->len, m->payload);
        if (r == NULL)
            return false;
        on_reply(n, m, r);
        naos__v1__join_reply__free_unpacked(r, NULL);
        return true;
    }
    return false;
}
