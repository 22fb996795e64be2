/* SPDX-License-Identifier: Apache-2.0 */
/* node_raft.c: the replicated log's glue in the composition root
 * (docs/architecture.md "Raft-lite"): which voters the log has (one, this
 * node; or the founding configuration in the store), founding a cluster
 * with --bootstrap-expect once its nodes see each other, the core's
 * messages on the transport (Sealed.type 64..95, node/raft/raft_codec.h)
 * and its timers in the loop. The driver is node/cmd/cmdraft.c; the
 * command path that proposes and applies is node_cmd.c. Reactor thread
 * only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "node/raft/raft_codec.h"
#include "store/raftlog.h"

/* How often a forming node says whom it waits for. */
#define FORMING_LOG_MS 10000
/* How long the same founders must be seen before the log is founded:
 * longer than it takes gossip to carry a member's health to everyone
 * (HEALTH_PERIOD_MS and a few probe rounds), so that an extra founder is
 * heard of before anyone founds without it. */
#define FORM_SETTLE_MS 1500

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void
node__raft_send(void *ctx, const struct raft_msg *m)
{
    struct node *n = ctx;
    const char *addr = node__members_addr(n, m->to.v);
    char err[160];
    size_t len = 0;
    if (addr == NULL || n->wire == NULL) {
        n->raft_unsent++; /* not in our view yet: Raft re-sends */
        return;
    }
    if (raft_codec_encode(m, &n->raft_buf, &n->raft_cap, &len, err,
                          sizeof err) != NAOS_OK) {
        n->raft_unsent++;
        NAOS_WARN("raft", "cannot encode a %s for %016llx: %s",
                  raft_msg_type_name((int)m->type),
                  (unsigned long long)m->to.v, err);
        return;
    }
    if (wire_send(n->wire, addr, raft_codec_sealed_type((int)m->type),
                  n->raft_buf, len) != NAOS_OK)
        n->raft_unsent++;
}

void
node__raft_event(void *ctx, const struct raft_event *ev)
{
    struct node *n = ctx;
    if (ev->kind != RAFT_EV_ROLE)
        return;
    if (ev->old_role == RAFT_LEADER && ev->role != RAFT_LEADER)
        n->leadership_lost = true; /* waiters told at the next step */
    const char *who = ev->leader.v ? node__members_name(n, ev->leader.v)
                                   : NULL;
    NAOS_INFO("raft", "%s in term %llu (was %s); leader %s",
              raft_role_name(ev->role), (unsigned long long)ev->term,
              raft_role_name(ev->old_role),
              ev->leader.v == n->node_id ? "this node"
              : who                      ? who
                                         : "unknown");
}

bool
node__raft_recv(void *arg, const struct wire_msg *m)
{
    struct node *n = arg;
    if (n->log == NULL || !n->replicated || n->fatal)
        return false; /* forming, alone, or stopping: not for us */
    if (m->type == NODE_SNAP_CHUNK_TYPE || m->type == NODE_SNAP_ACK_TYPE)
        return node__raft_snap_recv(n, m);
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    char err[160];
    if (raft_codec_decode(&d, m->type, m->sender, m->payload, m->len, err,
                          sizeof err) != NAOS_OK) {
        NAOS_DEBUG("raft", "from %016llx: %s", (unsigned long long)m->sender,
                   err);
        return false;
    }
    cmdraft_on_message(n->log, &d.msg, n->r.now);
    const struct raft *core = cmdraft_core(n->log);
    if (d.msg.type == RAFT_MSG_APPEND && raft_leader(core).v == m->sender &&
        d.msg.term == raft_term(core)) {
        n->leader_commit = d.msg.commit;
        n->leader_commit_seen = true;
    }
    raft_codec_msg_fini(&d);
    node__raft_flush(n);
    return true;
}

bool
node__raft_caught_up(struct node *n)
{
    if (n->log == NULL)
        return false;
    const struct raft *core = cmdraft_core(n->log);
    if (raft_role_get(core) == RAFT_LEADER) {
        /* its own no-op committed: everything before it is */
        uint64_t c = cmdraft_commit_index(n->log);
        return c > 0 && raft_term_at(core, c) == raft_term(core) &&
               n->applied >= c;
    }
    if (raft_leader(core).v == 0)
        n->leader_commit_seen = false; /* the next leader's word counts */
    return n->leader_commit_seen && n->applied >= n->leader_commit;
}

void
node__raft_no_leader(struct node *n, char *buf, size_t len)
{
    uint64_t alive[2 * NODE_VOTERS_MAX];
    size_t na = node__members_alive(n, alive, 2 * NODE_VOTERS_MAX);
    if (na > 2 * NODE_VOTERS_MAX)
        na = 2 * NODE_VOTERS_MAX;
    size_t up = 0;
    for (size_t i = 0; i < n->nvoters; i++)
        for (size_t j = 0; j < na; j++)
            if (alive[j] == n->voters[i]) {
                up++;
                break;
            }
    if (n->replicated && n->members != NULL && up <= n->nvoters / 2)
        snprintf(buf, len, "no leader: %zu of its %zu voters %s alive, "
                 "and electing one takes %zu; nothing changed. Commands "
                 "wait until enough voters are back (what runs keeps "
                 "running); if they are lost for good, see `naos-node "
                 "recover --help`", up, n->nvoters, up == 1 ? "is" : "are",
                 n->nvoters / 2 + 1);
    else
        snprintf(buf, len, "no leader: naos-node %s knows no leader of its "
                 "cluster now (an election is under way, or it reaches no "
                 "majority of the voters: see `naos nodes`); nothing "
                 "changed, try again in a second", n->name);
}

void
node__raft_conn_closed(struct node *n, uint64_t id)
{
    if (n->log == NULL || !n->replicated || n->fatal)
        return;
    cmdraft_on_conn_closed(n->log, id, n->r.now);
    node__raft_flush(n);
}

void
node__raft_flush(struct node *n)
{
    if (n->log == NULL || n->fatal)
        return;
    if (cmdraft_flush(n->log, n->r.now) != NAOS_OK)
        node__cmd_fatal(n, "cannot persist the replicated log");
    node__raft_conf_sync(n);
}

void
node__raft_conf_sync(struct node *n)
{
    if (n->log == NULL)
        return;
    const struct raft *core = cmdraft_core(n->log);
    const struct raft_conf *c = raft_conf_current(core);
    /* compared whole: a truncation and a new leader's change can put
     * another configuration at the same index in one flush */
    if (n->conf_seen && memcmp(c, &n->conf_copy, sizeof *c) == 0)
        return;
    n->conf_seen = true;
    n->conf_copy = *c;
    n->nvoters = c->nvoters;
    for (size_t i = 0; i < c->nvoters; i++)
        n->voters[i] = c->voters[i].v;
    n->nlearners = c->nlearners;
    for (size_t i = 0; i < c->nlearners; i++)
        n->learners[i] = c->learners[i].v;
    if (c->nvoters + c->nlearners > 1 ||
        !raft_conf_is_voter(c, (struct raft_id){n->node_id}))
        n->replicated = true; /* a cluster now: it stays one */
    node__members_health_now(n); /* the voters are gossiped */
}

size_t
node__conf_members(const struct node *n, uint64_t *ids)
{
    size_t k = 0;
    for (size_t i = 0; i < n->nvoters; i++)
        ids[k++] = n->voters[i];
    for (size_t i = 0; i < n->nlearners; i++)
        ids[k++] = n->learners[i];
    return k;
}

/* voter_target_record: --voters N is the cluster's voter target,
 * recorded once (at founding, or the first start that gives it); a data
 * directory whose cluster has another is refused. */
static int
voter_target_record(struct node *n, char *err, size_t errlen)
{
    unsigned cur = 0;
    int rc = store_voter_target_get(n->store, &cur);
    if (rc == NAOS_OK && cur != 0 && cur != n->voters_opt) {
        snprintf(err, errlen, "--voters %u: this data directory's cluster "
                 "keeps %u voters, recorded when it was founded: start it "
                 "without --voters (or with --voters %u)", n->voters_opt, cur,
                 cur);
        return NAOS_EINVAL;
    }
    if (rc == NAOS_OK && cur == 0)
        rc = store_voter_target_set(n->store, n->voters_opt);
    if (rc != NAOS_OK)
        snprintf(err, errlen, "cannot record the voter target: %s",
                 store_errmsg(n->store));
    return rc;
}

int
node__raft_voters(struct node *n, bool listening, bool join, char *err,
                  size_t errlen)
{
    size_t k = 0;
    int rc = store_voters_get(n->store, n->voters, NODE_VOTERS_MAX, &k);
    if (rc != NAOS_OK) {
        snprintf(err, errlen, "cannot read the cluster's voters: %s",
                 store_errmsg(n->store));
        return rc;
    }
    if (n->voters_opt != 0 &&
        (rc = voter_target_record(n, err, errlen)) != NAOS_OK)
        return rc;
    if (k > 0) {
        if (k > 1 && !listening) {
            snprintf(err, errlen, "this data directory belongs to a cluster "
                     "of %zu voters: start it with --listen and --key", k);
            return NAOS_EINVAL;
        }
        n->nvoters = k;
        return NAOS_OK;
    }
    if (n->bootstrap_expect > 1 || join) {
        uint64_t last = 0;
        if ((rc = store_log_bounds(n->store, NULL, &last)) != NAOS_OK) {
            snprintf(err, errlen, "cannot read the log: %s",
                     store_errmsg(n->store));
            return rc;
        }
        if (last > 0 && join) {
            snprintf(err, errlen, "`join` takes this node into a cluster's "
                     "log, but this data directory holds the log of a node "
                     "that ran alone (%llu entries, its own deployments): "
                     "join with an empty --data directory, or run this one "
                     "alone with `naos-node start`", (unsigned long long)last);
            return NAOS_EINVAL;
        }
        if (last > 0) {
            snprintf(err, errlen, "--bootstrap-expect founds a new cluster, "
                     "but this data directory holds the log of a node that "
                     "ran alone (%llu entries): start the founders with "
                     "empty --data directories", (unsigned long long)last);
            return NAOS_EINVAL;
        }
        if (join) {
            if ((rc = store_joining_set(n->store)) != NAOS_OK) {
                snprintf(err, errlen, "cannot record the join: %s",
                         store_errmsg(n->store));
                return rc;
            }
            n->joining = true;
            n->nvoters = 0;
            NAOS_INFO("join", "joining a cluster: asking its leader to take "
                      "this node in as a learner");
            return NAOS_OK;
        }
        n->forming = true;
        n->nvoters = 0;
        NAOS_INFO("raft", "forming a cluster of %u voters: waiting for the "
                  "other founders", n->bootstrap_expect);
        return NAOS_OK;
    }
    bool joined = false;
    if ((rc = store_joining_get(n->store, &joined)) != NAOS_OK) {
        snprintf(err, errlen, "cannot read the join mark: %s",
                 store_errmsg(n->store));
        return rc;
    }
    if (joined) {
        snprintf(err, errlen, "this data directory was joining a cluster "
                 "(`naos-node join`) and the cluster may count it as a "
                 "member already: start it with `naos-node join SEED` "
                 "again, or with an empty --data to run alone");
        return NAOS_EINVAL;
    }
    n->voters[0] = n->node_id;
    n->nvoters = 1;
    return NAOS_OK;
}

/* found records ids (nv, sorted) as the cluster's voters and opens the
 * log with them. */
static void
found(struct node *n, const uint64_t *ids, size_t nv, const char *how)
{
    n->forming = false;
    node__members_health_now(n); /* no longer forming: say so */
    if (store_voters_set(n->store, ids, nv) != NAOS_OK) {
        if (store_is_failed(n->store))
            node__cmd_fatal(n, "cannot record the cluster's voters");
        else
            NAOS_ERROR("raft", "cannot record the cluster's voters: %s",
                       store_errmsg(n->store));
        return;
    }
    char err[256];
    if (node__cmd_open_log(n, ids, nv, err, sizeof err) != NAOS_OK) {
        NAOS_ERROR("raft", "%s", err);
        return;
    }
    NAOS_INFO("raft", "founded the cluster's log with %zu voters (%s)", nv,
              how);
}

static bool
has_id(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

/* forming_say: whether to log a forming node's state of this kind now:
 * at once when it is new, else at most every FORMING_LOG_MS (try_form
 * runs every loop iteration). */
static bool
forming_say(struct node *n, int kind)
{
    if (kind == n->forming_said &&
        n->r.now < n->forming_logged + FORMING_LOG_MS)
        return false;
    n->forming_said = kind;
    n->forming_logged = n->r.now;
    return true;
}

/* Founds the log once the founders agree (RAFT-LITE "forming"): exactly
 * bootstrap_expect members say they form with that number, all alive
 * (a suspect one counts, and holds founding), and the same ones have for
 * FORM_SETTLE_MS (gossip has carried everyone's word by then); the
 * voters are those members. Two founded sets heard of: adopt neither. A founder that hears of
 * a log already founded adopts its voters when it is one of them, else
 * stays out. More founders than expected, or one that expects another
 * number, found nothing: exactly N nodes must be started alike. Nodes
 * without --bootstrap-expect never count. */
static void
try_form(struct node *n)
{
    struct node_founders f;
    uint32_t want = n->bootstrap_expect;
    node__members_founders(n, want, &f);
    if (f.conflict_by != 0) {
        if (forming_say(n, 4))
            NAOS_ERROR("raft", "forming: %s and %s founded different "
                       "voter sets: this node joins neither (more founders "
                       "than --bootstrap-expect were started; stop the "
                       "extra ones, and start their data afresh)",
                       node__node_name(n, f.founded_by),
                       node__node_name(n, f.conflict_by));
        n->forming_since = 0;
        return;
    }
    if (f.nvoters > 0) {
        const char *by = node__members_name(n, f.founded_by);
        if (f.nvoters == want && has_id(f.voters, f.nvoters, n->node_id)) {
            char how[96];
            snprintf(how, sizeof how, "as founded by %s",
                     by ? by : "another founder");
            uint64_t ids[NODE_VOTERS_MAX];
            memcpy(ids, f.voters, f.nvoters * sizeof *ids);
            qsort(ids, f.nvoters, sizeof *ids, cmp_u64);
            found(n, ids, f.nvoters, how);
            return;
        }
        NAOS_ERROR("raft", "the cluster's log was already founded (by %s, "
                   "%zu voters) without this node, which stays out of it: "
                   "a node joins a founded cluster as a voter only once "
                   "membership changes exist; start it without "
                   "--bootstrap-expect", by ? by : "another member",
                   f.nvoters);
        n->forming = false;
        node__members_health_now(n);
        return;
    }
    if (f.other_id != 0) {
        const char *who = node__members_name(n, f.other_id);
        if (forming_say(n, 1))
            NAOS_ERROR("raft", "forming: %s was started with "
                       "--bootstrap-expect %u and this node with %u: start "
                       "every founder with the same number (nothing is "
                       "founded until then)", who ? who : "a member",
                       f.other_expect, want);
        n->forming_since = 0;
        return;
    }
    if (f.n == want && f.suspects > 0) {
        if (forming_say(n, 5))
            NAOS_INFO("raft", "forming: %zu of %u founders look suspect: "
                      "waiting until every founder is alive", f.suspects,
                      want);
        n->forming_since = 0;
        return;
    }
    if (f.n != want) {
        if (f.n > want && forming_say(n, 2))
            NAOS_ERROR("raft", "forming: %zu nodes were started with "
                       "--bootstrap-expect %u and see each other, but "
                       "exactly %u must be: stop the extra ones (nothing is "
                       "founded until then)", f.n, want, want);
        else if (f.n < want && forming_say(n, 100 + (int)f.n))
            NAOS_INFO("raft", "forming: %zu of %u founders see each other",
                      f.n, want);
        n->forming_since = 0;
        return;
    }
    qsort(f.ids, f.n, sizeof *f.ids, cmp_u64);
    if (n->forming_since == 0 ||
        memcmp(f.ids, n->forming_set, f.n * sizeof *f.ids) != 0) {
        memcpy(n->forming_set, f.ids, f.n * sizeof *f.ids);
        n->forming_since = n->r.now; /* a new set: it must hold */
        return;
    }
    if (n->r.now - n->forming_since >= FORM_SETTLE_MS)
        found(n, f.ids, f.n, "every founder sees the same ones");
}

void
node__raft_step(struct node *n)
{
    if (n->forming) {
        try_form(n);
        return;
    }
    if (n->log == NULL || !n->replicated || n->fatal)
        return; /* a failed flush left the core mid-batch: hands off */
    if (cmdraft_next_deadline(n->log) <= n->r.now)
        cmdraft_tick(n->log, n->r.now);
    node__raft_flush(n);
    /* A leader this node has not seen lead before: a cluster event (the
     * core tells role changes only; a follower learns of a new leader
     * without changing its role). */
    const struct raft *core = n->log ? cmdraft_core(n->log) : NULL;
    if (core != NULL && raft_leader(core).v != 0 &&
        (raft_leader(core).v != n->leader_seen ||
         raft_term(core) != n->leader_seen_term)) {
        n->leader_seen = raft_leader(core).v;
        n->leader_seen_term = raft_term(core);
        char term[32];
        snprintf(term, sizeof term, "term %llu",
                 (unsigned long long)n->leader_seen_term);
        /* the event's stamps are records' data */
        events_push(&n->events, "leader", NULL,
                    node__node_name(n, n->leader_seen), 0, NULL, 0, term,
                    naos_clock_wall_ms(), naos_clock_now_us());
    }
    node__raft_snap_step(n);
}

naos_time
node__raft_deadline(struct node *n)
{
    if (n->forming)
        return n->r.now + 100; /* membership changes are polled */
    if (n->log == NULL || !n->replicated)
        return NAOS_TIME_NEVER;
    naos_time a = cmdraft_next_deadline(n->log);
    naos_time b = node__raft_snap_deadline(n);
    return a < b ? a : b;
}

void
node__raft_close(struct node *n)
{
    node__raft_snap_close(n);
    node__snapfile_close_all(n);
    naos_free(n->raft_buf);
    n->raft_buf = NULL;
    n->raft_cap = 0;
}
