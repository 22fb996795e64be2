/* SPDX-License-Identifier: Apache-2.0 */
/* node_members.c: cluster membership of naos-node. Binds the pure SWIM
 * core (node/swim) to the node's transport (node/wire: its range of
 * Sealed.type, WIRE_TYPES_MEMBERS), the gossip encoding (proto/swim_pb)
 * and the store (the node's incarnation floor and its cluster id).
 * Reactor thread only; time is the loop's cached clock (n->r.now).
 *
 * Driver contract of swim.h, point by point:
 *   - msg.from is the envelope's authenticated sender; Sealed.type is the
 *     swim_msg_type (handed over by the transport once the sender's replay
 *     mark is durable: wire.h);
 *   - send to an address (a join to a seed has no id), else to the
 *     member's advertised address; nothing we cannot address is sent;
 *   - incarnation: every value the core reports is written to the store's
 *     node registry (self's NodeRecord) and read back as the floor at the
 *     next start, so a restarted node comes back with a higher one;
 *   - a connection the far end closed (net's closed_fn) is reported with
 *     swim_on_conn_closed for the member at that address (our own closes
 *     are never reported by net);
 *   - connections: a member that becomes alive is dialled at once, so its
 *     closed connection is evidence from the start (not only after our
 *     first probe reaches it) and connecting is not left to the steady
 *     state. Sockets to addresses no live member has (dead or left
 *     members, a restarted member's old port, seeds) are closed once
 *     unused for PEER_LINGER_MS; net would redial them every second;
 *   - node.c arms the reactor deadline at node__members_deadline after
 *     every loop iteration;
 *   - leave: swim_leave, then keep ticking until swim_leave_done or 2 s;
 *   - every message goes out within the frame bound every member enforces
 *     (members_wire.h): larger sync replies and fills are split, anything
 *     else larger is dropped and counted;
 *   - each connection we make to a member starts with a sealed hello
 *     (MEMBERS_WIRE_HELLO) so the member never takes it for a stranger's,
 *     however long it stays idle (the transport makes a connection a
 *     member's once an envelope on it opens: wire.h).
 *
 * Cluster id (keys.h "Cluster id and joining"): a node started without
 * seeds founds the cluster with its identity's cluster id (fixed in the
 * store). A node joining through seeds whose identity has no fixed
 * cluster id starts in learning mode (keyring cluster id 0) and adopts
 * the id of the first authenticated message that carries one, persists
 * it, and refuses other clusters from then on. Members accept unassigned
 * (cluster id 0) envelopes from joiners only as SYNC messages (the join).
 *
 * Sealing, opening, replay marks across restarts and the frame bound are
 * the transport's (node/wire/wire.h): members_recv sees only messages
 * whose sender's mark is durable, after the loop's before-sleep commit. */
#include "node/node.h"
#include "node/node_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/auth/digest.h"
#include "node/auth/seal.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/random.h"
#include "node/base/log.h"
#include "node/base/safefile.h"
#include "node/members_wire.h"
#include "node/net/net.h"
#include "node/swim/swim.h"
#include "proto/swim_pb.h"
#include "store/state.h"

#define LEAVE_TIMEOUT_MS 2000
#define HEALTH_PERIOD_MS 1000
/* A socket no live member needs is closed after this long unused: long
 * enough for a sync to a dead member (reconnect) or a seed to be answered,
 * which makes the member alive and the socket wanted again. Checked at
 * most every HEALTH_PERIOD_MS. */
#define PEER_LINGER_MS 5000
/* Agent and deployment counts are significant (gossiped to everyone
 * within HEALTH_PERIOD_MS + a few probe rounds). The load alone is a quiet
 * change (swim_set_health: sent once to each peer, never relayed), made
 * when it moved by at least this much (x100), at most every
 * HEALTH_LOAD_PERIOD_MS: each costs a health update on the next message
 * to every peer. */
#define HEALTH_LOAD_STEP 50
#define HEALTH_LOAD_PERIOD_MS 30000
/* A seed that closes our connection within this long of a message we
 * sent it, while we are joining, refused that message: members close an
 * unauthenticated connection as soon as an envelope on it fails to open
 * (net.h NET_REFUSED). Said at most every SEED_KEY_WARN_MS per seed. */
#define SEED_REFUSED_WITHIN_MS 1000
#define SEED_KEY_WARN_MS 10000

struct node_members {
    struct node *n;
    struct swim *swim;
    struct wire *wire; /* the node's (n->wire) */
    char addr[SWIM_ADDR_MAX];
    uint8_t *pbuf;
    size_t pcap;
    uint64_t undecodable;       /* authentic, but not a SWIM message */
    uint64_t unassigned_refused; /* cluster id 0 and not a join */
    uint64_t too_big_out;       /* messages the core made larger than
                                   MEMBERS_WIRE_MAX_PAYLOAD (not sent) */
    /* seeds while joining: when we last sent to each, when we last said
     * it refused our key */
    char seeds[SWIM_MAX_SEEDS][SWIM_ADDR_MAX];
    naos_time seed_sent[SWIM_MAX_SEEDS], seed_warned[SWIM_MAX_SEEDS];
    size_t nseeds;
    const char *send_addr;      /* io_send -> send_part */
    bool leaving;
    naos_time leave_deadline;
    naos_time health_next;
    naos_time health_load_at; /* when the load was last sent */
    struct swim_health health;
    bool health_sent;
    bool prune_due;        /* a member changed state: check the sockets */
    naos_time prune_next;  /* and anyway by then (lingering sockets) */
};

/* ---- helpers ------------------------------------------------------------ */

static const struct swim_member *
member_at_addr(struct swim *s, const char *addr)
{
    for (size_t i = 0; i < swim_member_count(s); i++) {
        const struct swim_member *m = swim_member_at(s, i);
        if (!m->is_self && strcmp(m->addr, addr) == 0)
            return m;
    }
    return NULL;
}

/* keep_peer (net_keep_fn): a live member has addr. */
static bool
keep_peer(void *arg, const char *addr)
{
    struct node_members *mb = arg;
    for (size_t i = 0; i < swim_member_count(mb->swim); i++) {
        const struct swim_member *m = swim_member_at(mb->swim, i);
        if (!m->is_self &&
            (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT) &&
            strcmp(m->addr, addr) == 0)
            return true;
    }
    return false;
}

/* tally_workers counts the workers below x (x included) by state into h;
 * in_failed: x belongs to a failed deployment, whose workers count as
 * failed whatever their state (all stopped once it gave up). Recursion
 * is as deep as the tree, which spec validation bounds (SPEC_MAX_DEPTH);
 * its breadth costs nothing, so any number of children is counted. */
static void
tally_workers(const struct sup_node *x, bool in_failed, struct swim_health *h)
{
    if (!x->is_supervisor) {
        if (in_failed)
            h->agents_failed++;
        else if (x->state == SUP_RUNNING)
            h->agents_running++;
        else if (x->state == SUP_RESTARTING)
            h->agents_restarting++;
        return;
    }
    for (size_t i = 0; i < x->nchildren; i++)
        tally_workers(x->children[i], in_failed, h);
}

/* node__health_tally: what each count means (docs/architecture.md,
 * "Health"), so that `naos nodes`, /api/v1/nodes, the dashboard, `naos
 * status` and /metrics agree:
 *   agents_running     workers in state running
 *                      (sum of naos_children{type="worker",state="running"})
 *   agents_restarting  workers in state restarting: waiting to be started
 *                      again (naos_children{type="worker",state="restarting"})
 *   agents_failed      workers of failed deployments (a deployment that gave
 *                      up stops every worker: they show as stopped)
 *   deployments        every deployment on this node (naos_deployments)
 *   deployments_failed deployments in state failed
 *                      (naos_deployments{state="failed"})
 * A worker that is starting, stopping or stopped (of a deployment that has
 * not failed) is in none of the agent counts. */
void
node__health_tally(struct node *n, struct swim_health *h)
{
    memset(h, 0, sizeof *h);
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d)) {
        h->deployments++;
        bool failed = d->state == SUP_FAILED;
        if (failed)
            h->deployments_failed++;
        tally_workers(d, failed, h);
    }
    size_t trouble = sup_count_node_trouble(n->tree);
    h->agents_node_trouble = trouble > UINT32_MAX ? UINT32_MAX
                                                  : (uint32_t)trouble;
    double load[1] = {0};
    if (getloadavg(load, 1) == 1 && load[0] > 0)
        h->load_centi = (uint32_t)(load[0] * 100.0 + 0.5);
    /* founding (node_raft.c): what this node forms with, or founded */
    h->bootstrap_expect = n->forming ? n->bootstrap_expect : 0;
    if (n->log != NULL && n->replicated) {
        h->nvoters = (uint32_t)n->nvoters;
        memcpy(h->voters, n->voters, n->nvoters * sizeof *n->voters);
    }
    h->no_voter = n->no_voter;
    /* the labels never change while the node runs: every blob has them */
    h->nlabels = (uint32_t)n->nlabels;
    memcpy(h->labels, n->labels, n->nlabels * sizeof *n->labels);
}

/* ---- swim_io ------------------------------------------------------------ */

/* seed_index: which of our seeds addr is, or -1. */
static int
seed_index(struct node_members *mb, const char *addr)
{
    for (size_t i = 0; i < mb->nseeds; i++)
        if (strcmp(mb->seeds[i], addr) == 0)
            return (int)i;
    return -1;
}

/* seal_send sends payload[0..len) as type to addr through the node's
 * transport (sealed there). */
static void
seal_send(struct node_members *mb, const char *addr, uint32_t type,
          const uint8_t *payload, size_t len)
{
    int si = mb->nseeds ? seed_index(mb, addr) : -1;
    if (si >= 0)
        mb->seed_sent[si] = mb->n->r.now;
    wire_send(mb->wire, addr, type, payload, len);
}

/* send_part (members_wire_part_fn): packs, seals and sends one message
 * to mb->send_addr. */
static void
send_part(void *arg, const struct swim_msg *m)
{
    struct node_members *mb = arg;
    size_t plen = swim_pb_packed_size(m);
    size_t len = 0;
    if (naos_buf_reserve(&mb->pbuf, &mb->pcap, plen + 1) != NAOS_OK ||
        swim_pb_pack(m, mb->pbuf, mb->pcap, &len) != NAOS_OK)
        return;
    seal_send(mb, mb->send_addr, (uint32_t)m->type, mb->pbuf, len);
}

static void
io_send(void *ctx, struct swim_id to, const char *addr,
        const struct swim_msg *m)
{
    struct node_members *mb = ctx;
    if (addr == NULL || addr[0] == '\0') {
        const struct swim_member *t = swim_member_get(mb->swim, to);
        if (t == NULL || t->addr[0] == '\0')
            return; /* cannot address it: SWIM tolerates the loss */
        addr = t->addr;
    }
    /* Within the frame bound every member enforces (members_wire.h). */
    mb->send_addr = addr;
    if (members_wire_split(m, MEMBERS_WIRE_MAX_PAYLOAD, send_part, mb) ==
        NAOS_ETOOBIG) {
        if (mb->too_big_out++ == 0)
            NAOS_WARN("members", "a %s message to %s is larger than %u "
                      "bytes and cannot be split: not sent (counted in "
                      "naos_gossip_dropped_total)",
                      swim_msg_type_name(m->type), addr,
                      MEMBERS_WIRE_MAX_PAYLOAD);
    }
}

static void
io_member(void *ctx, const struct swim_member *m, enum swim_change what)
{
    struct node_members *mb = ctx;
    switch (what) {
    case SWIM_CHANGE_STATE:
        NAOS_INFO("members", "%s %016llx (%s) is %s, incarnation %llu",
                  m->name[0] ? m->name : "?", (unsigned long long)m->id.v,
                  m->addr, swim_state_name(m->state),
                  (unsigned long long)m->incarnation);
        /* The clocks read here are the event's stamps (records' data),
         * not decisions: the loop's cached clock serves those. */
        events_push(&mb->n->events, "member", NULL, m->name, 0,
                    swim_state_name(m->state), 0, m->addr,
                    naos_clock_wall_ms(), naos_clock_now_us());
        if ((m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT) &&
            m->addr[0])
            wire_dial(mb->wire, m->addr);
        mb->prune_due = true;
        break;
    case SWIM_CHANGE_HEALTH:
        break;
    case SWIM_CHANGE_REMOVED:
        NAOS_INFO("members", "%s %016llx forgotten",
                  m->name[0] ? m->name : "?", (unsigned long long)m->id.v);
        mb->prune_due = true;
        break;
    }
}

static uint32_t
io_random(void *ctx)
{
    (void)ctx;
    return naos_random32();
}

static void
io_incarnation(void *ctx, uint64_t inc)
{
    struct node_members *mb = ctx;
    struct node *n = mb->n;
    Naos__V1__NodeRecord rec = NAOS__V1__NODE_RECORD__INIT;
    rec.id = n->node_id;
    rec.name = n->name;
    rec.addr = mb->addr;
    rec.state = NAOS__V1__NODE_RECORD_STATE__NODE_RECORD_ALIVE;
    rec.incarnation = inc;
    if (store_node_put(n->store, &rec) != NAOS_OK)
        NAOS_WARN("members", "cannot persist incarnation %llu: %s",
                  (unsigned long long)inc, store_errmsg(n->store));
}

static uint64_t
io_digest(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    return auth_digest64(buf, len);
}

static void
io_event(void *ctx, const struct swim_event *ev)
{
    (void)ctx;
    switch (ev->kind) {
    case SWIM_EV_JOIN_ATTEMPT:
        if (ev->attempt <= 1 || ev->attempt % 10 == 0)
            NAOS_INFO("members", "joining: attempt %u (no seed answered "
                      "yet)", ev->attempt);
        break;
    case SWIM_EV_JOINED:
        NAOS_INFO("members", "joined the cluster");
        break;
    case SWIM_EV_REFUTED:
        NAOS_INFO("members", "refuted a suspicion: incarnation %llu",
                  (unsigned long long)ev->incarnation);
        break;
    case SWIM_EV_SUSPECT_FAST:
        NAOS_INFO("members", "connection to %016llx closed: probing it now",
                  (unsigned long long)ev->id.v);
        break;
    case SWIM_EV_LHM:
        NAOS_DEBUG("members", "local health multiplier %u", ev->lhm);
        break;
    }
}

/* ---- transport callbacks ------------------------------------------------ */

static void
adopt_cluster(struct node_members *mb, uint64_t cluster_id)
{
    struct node *n = mb->n;
    n->keyring.cluster_id = cluster_id;
    n->keyring.accept_unassigned = true;
    if (store_identity_set_cluster(n->store, cluster_id) != NAOS_OK)
        NAOS_WARN("members", "cannot persist the cluster id: %s",
                  store_errmsg(n->store));
    NAOS_INFO("members", "joined cluster %016llx",
              (unsigned long long)cluster_id);
}

/* members_recv (wire_recv_fn): one message of membership's range whose
 * sender's replay mark is durable. The hello only authenticated its
 * connection (done by the transport). Refused (counted by the transport
 * per range, and here by reason): an unassigned envelope (cluster id 0)
 * that is not a join, a payload that is not the SwimMsg of its type. */
static bool
members_recv(void *arg, const struct wire_msg *wm)
{
    struct node_members *mb = arg;
    struct node *n = mb->n;
    /* A member we hear from is up: a connection of ours to it that waits
     * out a redial delay dials now (a restarted Raft follower would
     * otherwise wait up to a second for its leader's appends). */
    const char *addr = node__members_addr(n, wm->sender);
    if (addr != NULL)
        wire_hurry(mb->wire, addr);
    if (wm->type == MEMBERS_WIRE_HELLO)
        return true;
    if (wm->cluster_id == 0 && n->keyring.cluster_id != 0 &&
        wm->type != SWIM_MSG_SYNC) {
        mb->unassigned_refused++;
        return false;
    }
    struct swim_pb_msg pm = SWIM_PB_MSG_ZERO;
    if (swim_pb_unpack(&pm, wm->type, wm->payload, wm->len) != NAOS_OK) {
        mb->undecodable++;
        swim_pb_msg_fini(&pm);
        return false;
    }
    pm.msg.from.v = wm->sender;
    if (n->keyring.cluster_id == 0 && wm->cluster_id != 0)
        adopt_cluster(mb, wm->cluster_id);
    swim_on_message(mb->swim, NULL, &pm.msg, n->r.now);
    swim_pb_msg_fini(&pm);
    return true;
}

/* on_connected: a connection of ours to a member came up: authenticate
 * it at once with a hello, so the member keeps it however long it stays
 * idle. Not to a seed we are joining through (the join's SYNC does it):
 * a seed that refuses our key closes the connection at our first
 * envelope, so a second envelope right behind the first would only be
 * lost with it at every redial. */
static void
on_connected(void *arg, const char *addr)
{
    struct node_members *mb = arg;
    if (keep_peer(mb, addr))
        seal_send(mb, addr, MEMBERS_WIRE_HELLO, NULL, 0);
}

static void
on_closed(void *arg, const char *addr)
{
    struct node_members *mb = arg;
    naos_time now = mb->n->r.now;
    int si = mb->nseeds ? seed_index(mb, addr) : -1;
    if (si >= 0 && !swim_is_joined(mb->swim) &&
        now - mb->seed_sent[si] <= SEED_REFUSED_WITHIN_MS &&
        (mb->seed_warned[si] == 0 ||
         now - mb->seed_warned[si] >= SEED_KEY_WARN_MS)) {
        mb->seed_warned[si] = now;
        NAOS_WARN("members", "seed %s answered but our key does not open "
                  "its messages (wrong --key?)", addr);
    }
    const struct swim_member *m = member_at_addr(mb->swim, addr);
    if (m == NULL)
        return;
    /* Raft's closed-leader fast path hears it too (node_raft.c). */
    node__raft_conn_closed(mb->n, m->id.v);
    if (m->state != SWIM_ALIVE && m->state != SWIM_SUSPECT)
        return;
    swim_on_conn_closed(mb->swim, m->id, now);
}

/* ---- lifecycle ---------------------------------------------------------- */

int
node__members_open(struct node *n, const struct node_config *cfg,
                   char *err, size_t errlen)
{
    if (auth_keyring_primary(&n->keyring, &(uint32_t){0}) != NAOS_OK) {
        snprintf(err, errlen, "--listen needs --key FILE: membership is "
                 "never run unauthenticated (create one with `naos keygen`)");
        return NAOS_EINVAL;
    }
    struct node_members *mb = naos_alloc(sizeof *mb);
    if (mb == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(mb, 0, sizeof *mb);
    mb->n = n;
    n->members = mb;
    int rc;
    struct swim_config sc;
    if (swim_config_profile(&sc, cfg->profile ? cfg->profile : "lan") !=
        NAOS_OK) {
        snprintf(err, errlen, "--profile: expected lan, wan or local, got "
                 "\"%s\"", cfg->profile);
        return NAOS_EINVAL;
    }
    /* Cluster id: founded, adopted before, or to be learned. */
    struct store_identity id = STORE_IDENTITY_ZERO;
    if ((rc = store_identity_get(n->store, &id)) != NAOS_OK) {
        snprintf(err, errlen, "cannot read the node identity: %s",
                 store_errmsg(n->store));
        return rc;
    }
    if (cfg->bootstrap_expect > 1 && n->forming) {
        /* Founding together: every founder derives the same id from the
         * key, so none has to adopt another's. Only until the log is
         * founded: after that the recorded id is the cluster's, whatever
         * key (rotated since) the node is started with. */
        uint64_t cid = 0;
        if ((rc = auth_keyring_derived_cluster_id(&n->keyring, &cid)) !=
            NAOS_OK) {
            snprintf(err, errlen, "--bootstrap-expect needs the cluster "
                     "key (--key)");
            return rc;
        }
        if (id.cluster_fixed && id.cluster_id != cid) {
            snprintf(err, errlen, "this data directory belongs to cluster "
                     "%016llx; --bootstrap-expect founds cluster %016llx "
                     "with this key: start with an empty --data, or without "
                     "--bootstrap-expect", (unsigned long long)id.cluster_id,
                     (unsigned long long)cid);
            return NAOS_EINVAL;
        }
        if (!id.cluster_fixed) {
            if ((rc = store_identity_set_cluster(n->store, cid)) != NAOS_OK) {
                snprintf(err, errlen, "cannot record the cluster id: %s",
                         store_errmsg(n->store));
                return rc;
            }
            id.cluster_id = cid;
            id.cluster_fixed = true;
            NAOS_INFO("members", "founding cluster %016llx with %u voters",
                      (unsigned long long)cid, cfg->bootstrap_expect);
        }
    } else if (!id.cluster_fixed && cfg->nseeds == 0) {
        if ((rc = store_identity_set_cluster(n->store, id.cluster_id)) !=
            NAOS_OK) {
            snprintf(err, errlen, "cannot record the cluster id: %s",
                     store_errmsg(n->store));
            return rc;
        }
        id.cluster_fixed = true;
        NAOS_INFO("members", "founding cluster %016llx",
                  (unsigned long long)id.cluster_id);
    }
    n->keyring.cluster_id = id.cluster_fixed ? id.cluster_id : 0;
    n->keyring.accept_unassigned = true;
    if (n->wire == NULL) {
        snprintf(err, errlen, "membership needs the node's transport "
                 "(--listen)");
        return NAOS_EINVAL;
    }
    mb->wire = n->wire;
    if ((rc = wire_register(mb->wire, "members", WIRE_TYPES_MEMBERS_LO,
                            WIRE_TYPES_MEMBERS_HI, members_recv, mb)) !=
        NAOS_OK) {
        snprintf(err, errlen, "cannot register membership's message types "
                 "%u..%u: %s", WIRE_TYPES_MEMBERS_LO, WIRE_TYPES_MEMBERS_HI,
                 naos_strerror(rc));
        return rc;
    }
    wire_on_conn(mb->wire, on_connected, on_closed, mb);
    const char *adv = cfg->advertise_url;
    bool wild = false;
    char e2[200];
    net_url_check(wire_listen_url(mb->wire), &wild, e2, sizeof e2);
    if (adv == NULL && wild) {
        snprintf(err, errlen, "--listen %s is a wildcard address: give "
                 "--advertise tcp://HOST:PORT (the address peers dial)",
                 cfg->listen_url);
        return NAOS_EINVAL;
    }
    snprintf(mb->addr, sizeof mb->addr, "%s",
             adv ? adv : wire_listen_url(mb->wire));

    uint64_t floor = 0;
    Naos__V1__NodeRecord *rec = NULL;
    if (store_node_get(n->store, n->node_id, &rec) == NAOS_OK) {
        floor = rec->incarnation;
        store_node_free(rec);
    }
    sc.id.v = n->node_id;
    sc.name = n->name;
    sc.addr = mb->addr;
    sc.incarnation_floor = floor;
    struct swim_io io = {
        .version = SWIM_IO_VERSION,
        .ctx = mb,
        .send = io_send,
        .member = io_member,
        .random = io_random,
        .incarnation = io_incarnation,
        .event = io_event,
        .digest = io_digest,
    };
    if ((rc = swim_alloc(&mb->swim, &sc, &io)) != NAOS_OK) {
        snprintf(err, errlen, "membership: %s (name or address too long?)",
                 naos_strerror(rc));
        return rc;
    }
    naos_time now = n->r.now;
    swim_start(mb->swim, now);
    node__members_tick(n); /* health before the first probe */
    for (size_t i = 0; i < cfg->nseeds && i < SWIM_MAX_SEEDS; i++)
        snprintf(mb->seeds[mb->nseeds++], SWIM_ADDR_MAX, "%s", cfg->seeds[i]);
    if (cfg->nseeds) {
        if ((rc = swim_join(mb->swim, cfg->seeds, cfg->nseeds, now)) !=
            NAOS_OK) {
            snprintf(err, errlen, "cannot join: %s (a seed address longer "
                     "than %d bytes?)", naos_strerror(rc), SWIM_ADDR_MAX - 1);
            return rc;
        }
    }
    char line[SWIM_ADDR_MAX + 2];
    int len = snprintf(line, sizeof line, "%s\n", mb->addr);
    if (len < 0 || (size_t)len >= sizeof line ||
        safefile_write_atomic(n->run_dir, "gossip.addr", line, (size_t)len,
                              0644) != NAOS_OK)
        NAOS_WARN("members", "cannot write %s/gossip.addr", n->run_dir);
    NAOS_INFO("members", "gossip on %s (advertised %s, profile %s, "
              "incarnation %llu)%s", wire_listen_url(mb->wire), mb->addr,
              cfg->profile ? cfg->profile : "lan",
              (unsigned long long)swim_self(mb->swim)->incarnation,
              cfg->nseeds ? ", joining through the seeds" : "");
    return NAOS_OK;
}

void
node__members_close(struct node *n)
{
    struct node_members *mb = n->members;
    if (mb == NULL)
        return;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/gossip.addr", n->run_dir);
    unlink(path);
    /* The transport is the node's: it outlives us, so it stops telling
     * us anything (the node closes it right after). */
    if (mb->wire)
        wire_on_conn(mb->wire, NULL, NULL, NULL);
    swim_free(mb->swim);
    naos_free(mb->pbuf);
    naos_free(mb);
    n->members = NULL;
}

naos_time
node__members_deadline(struct node *n)
{
    struct node_members *mb = n->members;
    if (mb == NULL)
        return NAOS_TIME_NEVER;
    naos_time d = swim_next_deadline(mb->swim);
    if (mb->health_next < d)
        d = mb->health_next;
    if (mb->leaving && mb->leave_deadline < d)
        d = mb->leave_deadline;
    return d;
}

/* A change every member must hear of soon (gossiped, not quiet). */
static bool
significant_changed(const struct swim_health *a, const struct swim_health *b)
{
    return a->bootstrap_expect != b->bootstrap_expect ||
           a->nvoters != b->nvoters ||
           memcmp(a->voters, b->voters, sizeof a->voters) != 0 ||
           a->agents_running != b->agents_running ||
           a->agents_restarting != b->agents_restarting ||
           a->agents_failed != b->agents_failed ||
           a->agents_node_trouble != b->agents_node_trouble ||
           a->deployments != b->deployments ||
           a->deployments_failed != b->deployments_failed;
}

static bool
load_changed(const struct swim_health *a, const struct swim_health *b)
{
    uint32_t dl = a->load_centi > b->load_centi ? a->load_centi - b->load_centi
                                                : b->load_centi - a->load_centi;
    return dl >= HEALTH_LOAD_STEP;
}

void
node__members_tick(struct node *n)
{
    struct node_members *mb = n->members;
    if (mb == NULL)
        return;
    naos_time now = n->r.now;
    if (now >= mb->health_next && !mb->leaving) {
        mb->health_next = now + HEALTH_PERIOD_MS;
        struct swim_health h;
        node__health_tally(n, &h);
        bool agents = !mb->health_sent ||
                      significant_changed(&h, &mb->health);
        bool load = now >= mb->health_load_at + HEALTH_LOAD_PERIOD_MS &&
                    load_changed(&h, &mb->health);
        if (agents || load) {
            mb->health_load_at = now; /* a significant change carries it */
            uint8_t blob[SWIM_HEALTH_MAX];
            size_t len = 0;
            if (swim_pb_health_pack(&h, blob, sizeof blob, &len) == NAOS_OK &&
                swim_set_health(mb->swim, blob, len, !agents, now) ==
                    NAOS_OK) {
                mb->health = h;
                mb->health_sent = true;
            }
        }
        if (mb->prune_due || now >= mb->prune_next) {
            mb->prune_due = false;
            mb->prune_next = now + PEER_LINGER_MS;
            wire_prune(mb->wire, keep_peer, mb, PEER_LINGER_MS);
        }
    }
    if (swim_next_deadline(mb->swim) <= now)
        swim_tick(mb->swim, now);
}

bool
node__members_leave(struct node *n)
{
    struct node_members *mb = n->members;
    if (mb == NULL)
        return false;
    if (!mb->leaving) {
        naos_time now = n->r.now;
        NAOS_INFO("members", "leaving the cluster");
        swim_leave(mb->swim, now);
        mb->leaving = true;
        mb->leave_deadline = now + LEAVE_TIMEOUT_MS;
    }
    return true;
}

bool
node__members_left(struct node *n)
{
    struct node_members *mb = n->members;
    if (mb == NULL)
        return true;
    return mb->leaving && (swim_leave_done(mb->swim) ||
                           n->r.now >= mb->leave_deadline);
}

/* ---- inspection --------------------------------------------------------- */

/* labels_pb copies h's labels into pm (the reply's arena; on no memory
 * the member shows none). */
static void
labels_pb(struct ctl_reply *rep, Naos__V1__Member *pm,
          const struct swim_health *h)
{
    if (h->nlabels == 0)
        return;
    Naos__V1__NodeLabel **v = ctl_reply_alloc(rep, h->nlabels * sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < h->nlabels; i++) {
        Naos__V1__NodeLabel *pl = ctl_reply_alloc(rep, sizeof *pl);
        if (pl == NULL)
            return;
        naos__v1__node_label__init(pl);
        pl->key = ctl_reply_strdup(rep, h->labels[i].key);
        pl->value = ctl_reply_strdup(rep, h->labels[i].value);
        if (pl->key == NULL || pl->value == NULL)
            return;
        v[i] = pl;
        pm->labels = v;
        pm->n_labels = i + 1;
    }
}

/* member_pb makes the Member of m for a NodesReply. fresh: this node's own
 * health, tallied for this answer (NULL: m's gossiped blob). A member
 * that is dead or left is stale: its health is the last it said, kept as
 * a record, and stale_ms says for how long it has not been current. */
static Naos__V1__Member *
member_pb(struct ctl_reply *rep, const struct swim_member *m, naos_time now,
          bool local, const struct swim_health *fresh)
{
    Naos__V1__Member *pm = ctl_reply_alloc(rep, sizeof *pm);
    if (pm == NULL)
        return NULL;
    naos__v1__member__init(pm);
    char id[24];
    snprintf(id, sizeof id, "%016llx", (unsigned long long)m->id.v);
    pm->id = ctl_reply_strdup(rep, id);
    pm->name = ctl_reply_strdup(rep, m->name);
    pm->addr = ctl_reply_strdup(rep, m->addr);
    pm->state = ctl_reply_strdup(rep, swim_state_name(m->state));
    pm->incarnation = m->incarnation;
    pm->local = local;
    if (local)
        pm->last_heard_ms = 0;
    else if (m->last_heard == NAOS_TIME_NEVER)
        pm->last_heard_ms = -1;
    else
        pm->last_heard_ms = now > m->last_heard ? (int64_t)(now - m->last_heard)
                                                : 0;
    pm->stale = !local && (m->state == SWIM_DEAD || m->state == SWIM_LEFT);
    pm->stale_ms = -1;
    if (pm->stale)
        pm->stale_ms = now > m->state_since ? (int64_t)(now - m->state_since)
                                            : 0;
    struct swim_health h = {0};
    if (fresh)
        h = *fresh;
    if (fresh || (m->health_len && swim_pb_health_unpack(&h, m->health,
                                                         m->health_len) ==
                                       NAOS_OK)) {
        Naos__V1__MemberHealth *ph = ctl_reply_alloc(rep, sizeof *ph);
        if (ph) {
            naos__v1__member_health__init(ph);
            ph->agents_running = h.agents_running;
            ph->agents_restarting = h.agents_restarting;
            ph->agents_failed = h.agents_failed;
            ph->deployments = h.deployments;
            ph->deployments_failed = h.deployments_failed;
            ph->load = h.load_centi / 100.0;
            ph->agents_node_trouble = h.agents_node_trouble;
            pm->health = ph;
        }
        labels_pb(rep, pm, &h);
    }
    return pm;
}

/* dashboard_pb says where this node's dashboard is, or why there is none
 * (a second node on one machine finds the default port taken), on its own
 * entry. */
static void
dashboard_pb(struct node *n, struct ctl_reply *rep, Naos__V1__Member *pm)
{
    char url[600];
    if (n->http.open) {
        snprintf(url, sizeof url, "%s/supervisors", http_url(&n->http));
        pm->dashboard = ctl_reply_strdup(rep, url);
    } else {
        pm->dashboard_off = ctl_reply_strdup(
            rep, n->http_off[0] ? n->http_off : "started with --http off");
    }
}

/* roles_pb says which members are the voters of this node's log, which
 * of them leads, and in which term. */
static void
roles_pb(struct node *n, struct ctl_reply *rep, Naos__V1__NodesReply *nr)
{
    if (n->log == NULL)
        return; /* forming */
    const struct raft *core = cmdraft_core(n->log);
    uint64_t leader = raft_leader(core).v;
    nr->term = raft_term(core);
    nr->leader = leader ? ctl_reply_strdup(rep, node__node_name(n, leader))
                        : "";
    for (size_t i = 0; i < nr->n_nodes; i++) {
        uint64_t id = strtoull(nr->nodes[i]->id, NULL, 16);
        for (size_t k = 0; k < n->nvoters; k++)
            if (n->voters[k] == id)
                nr->nodes[i]->role = id == leader ? "leader" : "voter";
        for (size_t k = 0; k < n->nlearners; k++)
            if (n->learners[k] == id)
                nr->nodes[i]->role = "learner";
    }
}

void
node__members_reply(struct node *n, struct ctl_reply *rep)
{
    struct node_members *mb = n->members;
    Naos__V1__NodesReply *nr = ctl_reply_alloc(rep, sizeof *nr);
    if (nr == NULL)
        return;
    naos__v1__nodes_reply__init(nr);
    naos_time now = n->r.now;
    /* Our own health is tallied now rather than read back from the last
     * blob gossiped (up to HEALTH_PERIOD_MS old), so this answer agrees
     * with a status or /metrics taken just before or after it. */
    struct swim_health h;
    node__health_tally(n, &h);
    if (mb == NULL) {
        /* Not in a cluster: the local node alone. */
        static struct swim_member self; /* reactor thread only */
        memset(&self, 0, sizeof self);
        self.id.v = n->node_id;
        snprintf(self.name, sizeof self.name, "%.*s", (int)sizeof self.name - 1,
                 n->name);
        self.state = SWIM_ALIVE;
        self.is_self = true;
        nr->nodes = ctl_reply_alloc(rep, sizeof *nr->nodes);
        if (nr->nodes && (nr->nodes[0] = member_pb(rep, &self, now, true, &h)))
            nr->n_nodes = 1;
        else
            return;
    } else {
        size_t cnt = swim_member_count(mb->swim);
        nr->nodes = ctl_reply_alloc(rep, (cnt ? cnt : 1) * sizeof *nr->nodes);
        if (nr->nodes == NULL)
            return;
        /* Self first, then the others in the core's order. */
        const struct swim_member *self = swim_self(mb->swim);
        if ((nr->nodes[0] = member_pb(rep, self, now, true, &h)) == NULL)
            return;
        nr->n_nodes = 1;
        for (size_t i = 0; i < cnt; i++) {
            const struct swim_member *m = swim_member_at(mb->swim, i);
            if (m->is_self)
                continue;
            Naos__V1__Member *pm = member_pb(rep, m, now, false, NULL);
            if (pm == NULL)
                return;
            nr->nodes[nr->n_nodes++] = pm;
        }
    }
    dashboard_pb(n, rep, nr->nodes[0]);
    roles_pb(n, rep, nr);
    node__drain_annotate(n, nr);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_NODES;
    rep->msg.nodes = nr;
}

bool
node__members_stats(struct node *n, struct node_members_stats *st)
{
    struct node_members *mb = n->members;
    memset(st, 0, sizeof *st);
    if (mb == NULL)
        return false;
    for (size_t i = 0; i < swim_member_count(mb->swim); i++)
        st->by_state[swim_member_at(mb->swim, i)->state]++;
    struct wire_stats ws;
    wire_stats_get(mb->wire, &ws);
    const struct net_stats *ns = ws.net;
    st->msgs_in = ns->msgs_in;
    st->msgs_out = ns->msgs_out;
    st->bytes_in = ns->bytes_in;
    st->bytes_out = ns->bytes_out;
    st->dropped_out = ns->dropped_out + mb->too_big_out;
    st->conn_closed = ns->peers_closed;
    st->conn_retired = ns->peers_retired;
    st->in_open = ns->in_open;
    st->in_unauth = ns->in_unauth;
    st->in_accepted = ns->in_accepted;
    for (int r = 0; r < NET_CLOSE__COUNT; r++)
        st->in_closed[r] = ns->in_closed[r];
    st->oversized = ns->oversized;
    st->accept_paused = ns->accept_paused;
    st->mark_writes = ws.mark_writes;
    for (int r = 0; r < AUTH_R__COUNT; r++)
        st->rejected[r] = ws.opened->rejected[r];
    st->undecodable = mb->undecodable;
    st->unassigned_refused = mb->unassigned_refused;
    st->lhm = swim_lhm(mb->swim);
    return true;
}

size_t
node__members_alive(struct node *n, uint64_t *ids, size_t max)
{
    struct node_members *mb = n->members;
    if (mb == NULL || mb->swim == NULL)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < swim_member_count(mb->swim); i++) {
        const struct swim_member *m = swim_member_at(mb->swim, i);
        if (m->state != SWIM_ALIVE && m->state != SWIM_SUSPECT)
            continue;
        if (k < max)
            ids[k] = m->id.v;
        k++;
    }
    return k;
}

bool
node__members_is_up(struct node *n, uint64_t id)
{
    struct node_members *mb = n->members;
    if (mb == NULL || mb->swim == NULL)
        return id == n->node_id;
    const struct swim_member *m = swim_member_get(mb->swim,
                                                  (struct swim_id){id});
    return m != NULL &&
           (m->state == SWIM_ALIVE || m->state == SWIM_SUSPECT);
}

void
node__members_health_now(struct node *n)
{
    if (n->members != NULL)
        n->members->health_next = 0;
}

void
node__members_founders(struct node *n, uint32_t expect,
                       struct node_founders *f)
{
    memset(f, 0, sizeof *f);
    struct node_members *mb = n->members;
    if (n->forming)
        f->ids[f->n++] = n->node_id; /* our own word, not last gossiped */
    if (mb == NULL || mb->swim == NULL)
        return;
    for (size_t i = 0; i < swim_member_count(mb->swim); i++) {
        const struct swim_member *m = swim_member_at(mb->swim, i);
        struct swim_health h;
        if (m->is_self || (m->state != SWIM_ALIVE && m->state != SWIM_SUSPECT)
            || m->health_len == 0 ||
            swim_pb_health_unpack(&h, m->health, m->health_len) != NAOS_OK)
            continue;
        if (h.nvoters > 0 && f->nvoters == 0) {
            f->founded_by = m->id.v;
            f->nvoters = h.nvoters;
            memcpy(f->voters, h.voters, h.nvoters * sizeof *h.voters);
        } else if (h.nvoters > 0 &&
                   (h.nvoters != f->nvoters ||
                    memcmp(h.voters, f->voters,
                           h.nvoters * sizeof *h.voters) != 0)) {
            f->conflict_by = m->id.v; /* two founded sets: adopt none */
        }
        if (h.bootstrap_expect == 0)
            continue; /* not forming */
        if (h.bootstrap_expect != expect) {
            f->other_id = m->id.v;
            f->other_expect = h.bootstrap_expect;
            continue;
        }
        /* a suspect founder counts (it may be alive: founding without
         * it could found a second set with it), and holds founding */
        if (m->state == SWIM_SUSPECT)
            f->suspects++;
        if (f->n < sizeof f->ids / sizeof *f->ids)
            f->ids[f->n] = m->id.v;
        f->n++;
    }
}

static const struct swim_member *
member_by_id(struct node *n, uint64_t id)
{
    struct node_members *mb = n->members;
    if (mb == NULL || mb->swim == NULL)
        return NULL;
    return swim_member_get(mb->swim, (struct swim_id){id});
}

const char *
node__node_name(struct node *n, uint64_t id)
{
    if (id == n->node_id)
        return n->name;
    const char *name = node__members_name(n, id);
    if (name != NULL)
        return name;
    snprintf(n->name_buf, sizeof n->name_buf, "%016llx",
             (unsigned long long)id);
    return n->name_buf;
}

bool
node__members_live_load(struct node *n, uint64_t id, uint32_t *load_centi)
{
    *load_centi = 0;
    const struct swim_member *m = member_by_id(n, id);
    if (m == NULL || (m->state != SWIM_ALIVE && !m->is_self))
        return false;
    struct swim_health h;
    if (m->health_len &&
        swim_pb_health_unpack(&h, m->health, m->health_len) == NAOS_OK)
        *load_centi = h.load_centi;
    return true;
}

bool
node__members_no_voter(struct node *n, uint64_t id)
{
    if (id == n->node_id)
        return n->no_voter;
    const struct swim_member *m = member_by_id(n, id);
    struct swim_health h;
    /* no health heard yet (or a malformed one): it may have said
     * --no-voter, so it is not taken for a voter until it is known */
    return m == NULL || m->health_len == 0 ||
           swim_pb_health_unpack(&h, m->health, m->health_len) != NAOS_OK ||
           h.no_voter;
}

size_t
node__members_labels(struct node *n, uint64_t id, struct spec_label *out)
{
    const struct swim_member *m = member_by_id(n, id);
    struct swim_health h;
    if (m == NULL || m->health_len == 0 ||
        swim_pb_health_unpack(&h, m->health, m->health_len) != NAOS_OK)
        return 0;
    memcpy(out, h.labels, h.nlabels * sizeof *out);
    return h.nlabels;
}

const char *
node__members_addr(struct node *n, uint64_t id)
{
    const struct swim_member *m = member_by_id(n, id);
    return m && m->addr[0] ? m->addr : NULL;
}

const char *
node__members_name(struct node *n, uint64_t id)
{
    const struct swim_member *m = member_by_id(n, id);
    return m && m->name[0] ? m->name : NULL;
}
