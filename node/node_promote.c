/* SPDX-License-Identifier: Apache-2.0 */
/* node_promote.c: the voter target (docs/architecture.md "Raft-lite",
 * Membership). The leader promotes learners that are alive, have caught
 * up with its log and did not say --no-voter, one change at a time, until
 * the voters reach the target: `naos-node start --voters N` (1, 3 or 5)
 * as recorded when the cluster was founded (and copied by each joiner),
 * else 3, or the founding count when more (a cluster founded with
 * --bootstrap-expect 5 keeps 5). It never leaves
 * the voters at an even count when it can help it: from an odd count it
 * promotes only when two learners qualify, and the second goes as soon as
 * the first change is committed (an even count tolerates no more
 * failures than the odd count below it and needs a larger majority). A
 * learner that stops qualifying in between leaves the count even until
 * another does. Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "store/raftlog.h"

/* How often the leader looks (the promotions themselves are back to
 * back: the next look follows a committed change at once). */
#define PROMOTE_CHECK_MS 500
#define PROMOTE_COMMIT_POLL_MS 20
/* A learner within this many entries of the commit index has caught up
 * (a busy leader's log moves while it looks). */
#define PROMOTE_SLACK 64
#define VOTER_TARGET_MIN 3

/* voter_target: `--voters N` as recorded at founding; else 3, or the
 * founding voters' count when more. */
static size_t
voter_target(struct node *n)
{
    unsigned t = 0;
    if (store_voter_target_get(n->store, &t) == NAOS_OK && t != 0)
        return t;
    uint64_t ids[NODE_VOTERS_MAX];
    size_t k = 0;
    if (store_voters_get(n->store, ids, NODE_VOTERS_MAX, &k) != NAOS_OK)
        k = 0;
    return k > VOTER_TARGET_MIN ? k : VOTER_TARGET_MIN;
}

/* qualifies: learner id may become a voter now: alive to membership (a
 * suspect one is not), its health known and without --no-voter, and
 * answering this leader (raft_peer_active) within PROMOTE_SLACK of the
 * commit index. A learner that never answered is never promoted, however
 * young the log: a joiner told "under way" whose log is not open yet
 * (paused, or killed before it heard it is in) counts for nothing, and
 * as the second of two voters it would have left the cluster without a
 * leader for good: no leader can be elected without its vote, and it
 * opens its log only when a leader says it is in. */
static bool
qualifies(struct node *n, const struct raft *core, uint64_t id,
          uint64_t commit)
{
    uint64_t match = 0;
    uint32_t load = 0;
    return node__members_live_load(n, id, &load) &&
           !node__members_no_voter(n, id) &&
           raft_peer_active(core, (struct raft_id){id}) &&
           raft_peer_match(core, (struct raft_id){id}, &match) &&
           match + PROMOTE_SLACK >= commit;
}

/* promote_active: the step has work to look at (the deadline and the
 * step agree on it, or the loop would spin on a deadline in the past). */
static bool
promote_active(const struct node *n)
{
    return n->log != NULL && n->replicated && !n->fatal && !n->catching_up &&
           n->nlearners > 0 &&
           raft_role_get(cmdraft_core(n->log)) == RAFT_LEADER;
}

void
node__promote_step(struct node *n)
{
    if (!promote_active(n) || n->r.now < n->promote_next)
        return;
    const struct raft *core = cmdraft_core(n->log);
    uint64_t commit = cmdraft_commit_index(n->log);
    if (raft_role_get(core) == RAFT_LEADER && raft_conf_index(core) > commit) {
        /* a change is under way: look again soon after it commits */
        n->promote_next = n->r.now + PROMOTE_COMMIT_POLL_MS;
        return;
    }
    n->promote_next = n->r.now + PROMOTE_CHECK_MS;
    if (raft_role_get(core) != RAFT_LEADER)
        return;
    const struct raft_conf *c = raft_conf_current(core);
    size_t target = voter_target(n);
    if (c->nlearners == 0 || c->nvoters >= target)
        return;
    uint64_t cand[NODE_LEARNERS_MAX];
    size_t k = 0;
    for (size_t i = 0; i < c->nlearners; i++)
        if (qualifies(n, core, c->learners[i].v, commit))
            cand[k++] = c->learners[i].v;
    size_t need = c->nvoters % 2 == 1 ? 2 : 1;
    if (k < need)
        return;
    uint64_t id = cand[0];
    size_t before = c->nvoters; /* c is the core's: the change moves it */
    uint64_t index = 0;
    int rc = cmdraft_change(n->log, RAFT_CHANGE_PROMOTE, id, n->r.now,
                            &index);
    if (rc == NAOS_EBUSY || rc == NAOS_EINVAL) {
        NAOS_DEBUG("raft", "cannot promote %s yet: %s",
                   node__node_name(n, id), cmdraft_errmsg(n->log));
        return;
    }
    if (rc != NAOS_OK) {
        node__cmd_fatal(n, "cannot record a change of the configuration");
        return;
    }
    NAOS_INFO("raft", "promoting %s (%016" PRIx64 ") to a voter: entry %"
              PRIu64 ", voters %zu -> %zu of a target of %zu",
              node__node_name(n, id), id, index, before, before + 1,
              target);
    n->promote_next = n->r.now + PROMOTE_COMMIT_POLL_MS; /* the next one
                                                   once this one commits */
    node__raft_flush(n);
}

naos_time
node__promote_deadline(const struct node *n)
{
    return promote_active(n) ? n->promote_next : NAOS_TIME_NEVER;
}
