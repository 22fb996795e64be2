/* SPDX-License-Identifier: Apache-2.0 */
/* wire.c: see wire.h. The receive path is the one node_members.c used to
 * own (issue 9's replay marks and verdicts), now shared by every module
 * that speaks to other nodes. */
#include "node/wire/wire.h"
#include "node/wire/cut.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "store/state.h"

struct wire_range {
    char name[WIRE_RANGE_NAME];
    uint32_t lo, hi;
    wire_recv_fn fn;
    void *arg;
    struct wire_range_stats st;
};

/* An opened message waiting for its sender's mark to be durable. */
struct held {
    struct auth_msg am; /* owns the payload */
    struct wire_range *rg;
};

struct wire {
    struct reactor *r;
    struct auth_keyring *kr;
    uint64_t node_id;
    struct store *store;
    struct store_batch *batch;
    struct net *net;
    struct net_transport tp;
    struct auth_sender sender;
    uint64_t first_counter; /* sender.next at open (wire_first_counter) */
    struct auth_replay replay;
    struct auth_stats sealed;
    uint8_t *ebuf;
    size_t ecap;
    struct wire_range ranges[WIRE_MAX_RANGES];
    size_t nranges;
    struct wire_range none; /* types in no registered range */
    net_connected_fn connected;
    net_closed_fn closed;
    void *conn_arg;
    /* this iteration's opened messages, and the marks to make durable */
    struct held *in;
    size_t nin, incap;
    struct auth_replay_mark *marks;
    struct store_replay_mark *smarks;
    size_t marks_cap, nmarks;
    bool marks_lost; /* no memory to take them: the held are dropped */
    uint64_t mark_writes;
    struct store_batch_writer writer;
    struct wire_cut *cut; /* tests only (cut.h), NULL otherwise */
};

static struct wire_range *
range_of(struct wire *w, uint32_t type)
{
    for (size_t i = 0; i < w->nranges; i++)
        if (type >= w->ranges[i].lo && type <= w->ranges[i].hi)
            return &w->ranges[i];
    return NULL;
}

/* ---- receiving ---------------------------------------------------------- */

/* refuse_conn: whether an envelope refused for r makes its connection one
 * to close, if it is not a member's yet. Stale and future envelopes are
 * authentic (only the clocks disagree) and a lack of memory is ours: such
 * a connection is left to the authentication timeout. */
static bool
refuse_conn(enum auth_reason r)
{
    return r != AUTH_R_STALE && r != AUTH_R_FUTURE && r != AUTH_R_NOMEM;
}

static void
on_recv(void *arg, const uint8_t *data, size_t len)
{
    struct wire *w = arg;
    struct auth_msg am = AUTH_MSG_ZERO;
    enum auth_reason why;
    if (auth_open(w->kr, &w->replay, w->r->wall_ms, data, len, &am, &why) !=
        NAOS_OK) {
        NAOS_DEBUG("wire", "envelope refused: %s", auth_reason_str(why));
        if (refuse_conn(why))
            net_recv_verdict(w->net, NET_REFUSED);
        return;
    }
    /* It opened under the cluster key: the connection is a member's. */
    net_recv_verdict(w->net, NET_AUTHENTIC);
    if (am.sender == w->node_id) {
        auth_msg_fini(&am);
        return;
    }
    struct wire_range *rg = range_of(w, am.type);
    if (rg == NULL)
        rg = &w->none;
    rg->st.received++;
    if (rg->fn == NULL) {
        rg->st.unhandled++;
        auth_msg_fini(&am);
        return;
    }
    /* Handed over once its sender's mark is durable (wire_done). */
    if (w->nin == w->incap) {
        size_t ncap = w->incap ? w->incap * 2 : 16;
        struct held *v = naos_realloc(w->in, ncap * sizeof *v);
        if (v == NULL) {
            rg->st.dropped++;
            auth_msg_fini(&am);
            return; /* lost, as on the wire */
        }
        w->in = v;
        w->incap = ncap;
    }
    w->in[w->nin].am = am; /* takes the payload */
    w->in[w->nin].rg = rg;
    w->nin++;
}

static void
on_closed(void *arg, const char *addr)
{
    struct wire *w = arg;
    if (w->closed)
        w->closed(w->conn_arg, addr);
}

static void
on_connected(void *arg, const char *addr)
{
    struct wire *w = arg;
    if (w->connected)
        w->connected(w->conn_arg, addr);
}

/* ---- the before-sleep commit (store/batch.h) ---------------------------- */

/* marks_prepare takes the marks that moved since the last round. */
static bool
marks_prepare(void *arg)
{
    struct wire *w = arg;
    w->nmarks = 0;
    w->marks_lost = false;
    size_t np = auth_replay_pending(&w->replay);
    if (np == 0)
        return false;
    if (np > w->marks_cap) {
        struct auth_replay_mark *a = naos_realloc(w->marks, np * sizeof *a);
        if (a)
            w->marks = a;
        struct store_replay_mark *b = naos_realloc(w->smarks, np * sizeof *b);
        if (b)
            w->smarks = b;
        if (a && b)
            w->marks_cap = np;
    }
    if (np > w->marks_cap) {
        w->marks_lost = true; /* no memory: the marks stay pending */
        return false;
    }
    size_t k = auth_replay_take(&w->replay, w->marks, np);
    for (size_t i = 0; i < k; i++) {
        w->smarks[i].sender = w->marks[i].sender;
        w->smarks[i].top = w->marks[i].top;
        w->smarks[i].last_ms = w->marks[i].last_ms;
        w->smarks[i].gone = w->marks[i].gone;
    }
    w->nmarks = k;
    return k > 0;
}

static int
marks_write(struct store_txn *t, void *arg)
{
    struct wire *w = arg;
    return store_replay_marks_put(t, w->smarks, w->nmarks);
}

/* marks_done hands this iteration's messages to their handlers once the
 * marks are durable, or drops them (see wire.h, step 5). */
static void
marks_done(void *arg, bool ok)
{
    struct wire *w = arg;
    if (w->nmarks && ok)
        w->mark_writes++;
    bool deliver = ok && !w->marks_lost;
    if (!deliver && w->nin)
        NAOS_ERROR("wire", "the replay marks of this iteration are not "
                   "durable: %zu message(s) dropped", w->nin);
    /* Handlers may send, never receive: w->in does not move under us. */
    for (size_t i = 0; i < w->nin; i++) {
        struct held *h = &w->in[i];
        if (deliver) {
            struct wire_msg m = {h->am.sender, h->am.cluster_id, h->am.type,
                                 h->am.payload, h->am.len};
            if (!h->rg->fn(h->rg->arg, &m))
                h->rg->st.refused++;
        } else {
            h->rg->st.dropped++;
        }
        auth_msg_fini(&h->am);
    }
    w->nin = 0;
    w->nmarks = 0;
}

/* ---- API ---------------------------------------------------------------- */

int
wire_register(struct wire *w, const char *name, uint32_t lo, uint32_t hi,
              wire_recv_fn fn, void *arg)
{
    if (lo == 0 || lo > hi || name == NULL || name[0] == '\0' ||
        strlen(name) >= WIRE_RANGE_NAME || strcmp(name, "none") == 0)
        return NAOS_EINVAL;
    for (size_t i = 0; i < w->nranges; i++) {
        const struct wire_range *o = &w->ranges[i];
        if (lo <= o->hi && hi >= o->lo) {
            NAOS_ERROR("wire", "types %u..%u (%s) overlap %u..%u (%s): "
                       "refused", lo, hi, name, o->lo, o->hi, o->name);
            return NAOS_EEXIST;
        }
        if (strcmp(o->name, name) == 0) {
            NAOS_ERROR("wire", "a range named %s is registered already "
                       "(%u..%u): %u..%u refused", name, o->lo, o->hi, lo,
                       hi);
            return NAOS_EEXIST;
        }
    }
    if (w->nranges == WIRE_MAX_RANGES)
        return NAOS_EBUSY;
    struct wire_range *rg = &w->ranges[w->nranges++];
    memset(rg, 0, sizeof *rg);
    snprintf(rg->name, sizeof rg->name, "%s", name);
    rg->lo = lo;
    rg->hi = hi;
    rg->fn = fn;
    rg->arg = arg;
    return NAOS_OK;
}

void
wire_on_conn(struct wire *w, net_connected_fn connected, net_closed_fn closed,
             void *arg)
{
    w->connected = connected;
    w->closed = closed;
    w->conn_arg = arg;
}

int
wire_send(struct wire *w, const char *addr, uint32_t type,
          const uint8_t *payload, size_t len)
{
    if (range_of(w, type) == NULL)
        return NAOS_EINVAL;
    if (len > AUTH_MAX_PAYLOAD)
        return NAOS_ETOOBIG;
    if (w->cut != NULL && wire_cut_blocks(w->cut, w->r->iterations, addr))
        return NAOS_OK; /* a test's partition: lost on the way */
    if (naos_buf_reserve(&w->ebuf, &w->ecap, len + AUTH_SEAL_OVERHEAD) !=
        NAOS_OK)
        return NAOS_ENOMEM;
    size_t elen = 0;
    int rc = auth_seal(w->kr, &w->sender, w->r->wall_ms, type, payload, len,
                       w->ebuf, w->ecap, &elen, &w->sealed);
    if (rc != NAOS_OK)
        return rc;
    return w->tp.send(w->tp.impl, addr, w->ebuf, elen);
}

uint64_t
wire_first_counter(const struct wire *w)
{
    return w->first_counter;
}

int
wire_dial(struct wire *w, const char *addr)
{
    return w->tp.dial(w->tp.impl, addr);
}

void
wire_hurry(struct wire *w, const char *addr)
{
    w->tp.hurry(w->tp.impl, addr);
}

void
wire_prune(struct wire *w, net_keep_fn keep, void *arg,
           naos_duration linger_ms)
{
    w->tp.prune(w->tp.impl, keep, arg, linger_ms);
}

const char *
wire_listen_url(const struct wire *w)
{
    return net_listen_url(w->net);
}

void
wire_stats_get(const struct wire *w, struct wire_stats *st)
{
    memset(st, 0, sizeof *st);
    st->net = w->tp.stats(w->tp.impl);
    st->opened = &w->replay.stats;
    st->mark_writes = w->mark_writes;
    st->nranges = w->nranges;
}

int
wire_range_at(const struct wire *w, size_t i, const char **name,
              uint32_t *lo, uint32_t *hi, const struct wire_range_stats **st)
{
    const struct wire_range *rg;
    if (i < w->nranges)
        rg = &w->ranges[i];
    else if (i == w->nranges)
        rg = &w->none;
    else
        return NAOS_ENOTFOUND;
    if (name)
        *name = rg->name;
    if (lo)
        *lo = rg->lo;
    if (hi)
        *hi = rg->hi;
    if (st)
        *st = &rg->st;
    return NAOS_OK;
}

int
wire_open(struct wire **out, struct reactor *r, const struct wire_config *cfg,
          struct store_batch *batch, char *err, size_t errlen)
{
    if (cfg->keyring == NULL ||
        auth_keyring_primary(cfg->keyring, &(uint32_t){0}) != NAOS_OK) {
        snprintf(err, errlen, "no cluster key: node-to-node messages are "
                 "never sent unsealed");
        return NAOS_EINVAL;
    }
    struct wire *w = naos_alloc(sizeof *w);
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(w, 0, sizeof *w);
    w->r = r;
    w->kr = cfg->keyring;
    w->node_id = cfg->node_id;
    w->store = cfg->store;
    snprintf(w->none.name, sizeof w->none.name, "none");
    auth_replay_init(&w->replay, AUTH_DEFAULT_MAX_SKEW_MS);
    struct store_replay_mark *sm = NULL;
    size_t sn = 0;
    int rc = store_replay_marks_list(w->store, &sm, &sn);
    if (rc != NAOS_OK) {
        snprintf(err, errlen, "cannot read the replay marks: %s",
                 store_errmsg(w->store));
        goto err_after_alloc;
    }
    size_t restored = 0;
    for (size_t i = 0; i < sn; i++) {
        struct auth_replay_mark m = {sm[i].sender, sm[i].top, sm[i].last_ms,
                                     false};
        if (auth_replay_restore(&w->replay, &m) == NAOS_OK)
            restored++;
    }
    naos_free(sm);
    if (restored)
        NAOS_INFO("wire", "replay marks of %zu sender(s) restored",
                  restored);
    auth_sender_init(&w->sender, w->node_id, (uint64_t)r->wall_ms << 20);
    w->first_counter = (uint64_t)r->wall_ms << 20;
    struct wire_cut cut;
    if (wire_cut_init(&cut)) {
        w->cut = naos_alloc(sizeof *w->cut);
        if (w->cut != NULL)
            *w->cut = cut;
    }
    struct net_config nc = {
        .listen_url = cfg->listen_url,
        .recv_max = cfg->recv_max,
        .recv = on_recv,
        .closed = on_closed,
        .arg = w,
    };
    struct net_options no = NET_OPTIONS_ZERO;
    no.connected = on_connected;
    if ((rc = net_open_opts(&w->net, r, &nc, &no, err, errlen)) != NAOS_OK)
        goto err_after_alloc;
    net_transport_nng(w->net, &w->tp);
    w->writer.name = "replay marks";
    w->writer.prepare = marks_prepare;
    w->writer.write = marks_write;
    w->writer.done = marks_done;
    w->writer.arg = w;
    if ((rc = store_batch_add(batch, &w->writer)) != NAOS_OK) {
        snprintf(err, errlen, "cannot join the before-sleep commit: %s",
                 naos_strerror(rc));
        goto err_after_net;
    }
    w->batch = batch;
    *out = w;
    return NAOS_OK;
err_after_net:
    net_close(w->net);
err_after_alloc:
    auth_replay_fini(&w->replay);
    naos_free(w);
    return rc;
}

void
wire_close(struct wire *w)
{
    if (w == NULL)
        return;
    net_close(w->net);
    if (w->batch)
        store_batch_del(w->batch, &w->writer);
    for (size_t i = 0; i < w->nin; i++)
        auth_msg_fini(&w->in[i].am);
    naos_free(w->in);
    naos_free(w->marks);
    naos_free(w->smarks);
    naos_free(w->cut);
    auth_replay_fini(&w->replay);
    naos_free(w->ebuf);
    naos_free(w);
}
