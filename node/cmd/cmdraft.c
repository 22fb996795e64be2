/* SPDX-License-Identifier: Apache-2.0 */
/* cmdraft.c: the Raft core's driver over the store (cmdraft.h). */
#include "node/cmd/cmdraft.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/random.h"
#include "store/conf.h"
#include "store/snapshot.h"
#include "store/state.h"

struct cmdraft {
    struct store *store; /* borrowed */
    struct raft *r;
    struct cmdraft_config cfg;
    uint64_t voters[RAFT_MAX_VOTERS];
    uint64_t commit;   /* committed and durable here */
    struct store_hard stored; /* the hard state last written */
    char errmsg[RAFT_ERRMSG_LEN + 64];
};

static int
errf(char *buf, size_t len, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
errf(char *buf, size_t len, int rc, const char *fmt, ...)
{
    if (buf && len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, len, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static uint32_t
next_random(void *ctx)
{
    (void)ctx;
    return naos_random32();
}

static void
on_event(void *ctx, const struct raft_event *ev)
{
    struct cmdraft *c = ctx;
    if (c->cfg.event)
        c->cfg.event(c->cfg.ctx, ev);
}

/* stored_conf: the configuration the applied state is at, as the core's
 * (store/conf.h). NAOS_ENOTFOUND: none recorded (the founding voters). */
static int
stored_conf(struct store *s, struct raft_conf *out)
{
    struct store_conf sc;
    int rc = store_conf_get(s, &sc);
    if (rc != NAOS_OK)
        return rc;
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sc.nvoters; i++)
        out->voters[i].v = sc.voters[i];
    out->nvoters = sc.nvoters;
    for (size_t i = 0; i < sc.nlearners; i++)
        out->learners[i].v = sc.learners[i];
    out->nlearners = sc.nlearners;
    return NAOS_OK;
}

/* load: the stored log as core entries (data owned by *raw). */
static int
load(struct cmdraft *c, struct store_log_entry **raw, size_t *nraw,
     struct raft_entry **ents, uint64_t *first, char *errbuf, size_t errlen)
{
    uint64_t lo = 0, hi = 0;
    int rc = store_log_bounds(c->store, &lo, &hi);
    if (rc != NAOS_OK)
        return errf(errbuf, errlen, rc, "cannot read the log's bounds: %s",
                    store_errmsg(c->store));
    *raw = NULL;
    *nraw = 0;
    *ents = NULL;
    *first = lo ? lo : 1;
    if (hi == 0)
        return NAOS_OK;
    rc = store_log_read(c->store, lo, hi, 0, raw, nraw);
    if (rc != NAOS_OK)
        return errf(errbuf, errlen, rc, "cannot read the log %llu..%llu: %s",
                    (unsigned long long)lo, (unsigned long long)hi,
                    store_errmsg(c->store));
    *ents = naos_alloc(*nraw * sizeof(**ents));
    if (*ents == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < *nraw; i++) {
        const struct store_log_entry *s = &(*raw)[i];
        /* type 0: the one-voter log before the core held commands only */
        (*ents)[i] = (struct raft_entry){
            s->index, s->term, s->type ? s->type : RAFT_ENTRY_COMMAND, 1,
            s->data, s->len};
    }
    return NAOS_OK;
}

int
cmdraft_open(struct cmdraft **out, struct store *s,
             const struct cmdraft_config *cfg, naos_time now, char *errbuf,
             size_t errlen)
{
    if (cfg->node_id == 0 || cfg->cluster_id == 0 ||
        (cfg->voters == NULL) != (cfg->nvoters == 0) ||
        cfg->nvoters > RAFT_MAX_VOTERS)
        return errf(errbuf, errlen, NAOS_EINVAL, "command log: node id, "
                    "cluster id or voters missing");
    struct cmdraft *c = naos_alloc(sizeof(*c));
    if (c == NULL)
        return NAOS_ENOMEM;
    c->store = s;
    c->cfg = *cfg;
    size_t nv = cfg->nvoters ? cfg->nvoters : 1;
    if (cfg->voters)
        memcpy(c->voters, cfg->voters, nv * sizeof(*c->voters));
    else
        c->voters[0] = cfg->node_id;
    c->cfg.voters = c->voters;
    c->cfg.nvoters = nv;
    if (c->cfg.keep_entries == 0)
        c->cfg.keep_entries = CMDRAFT_KEEP_ENTRIES;
    if (c->cfg.keep_bytes == 0)
        c->cfg.keep_bytes = CMDRAFT_KEEP_BYTES;

    struct store_hard h = STORE_HARD_ZERO;
    uint64_t applied = 0, first = 1;
    struct store_log_entry *raw = NULL;
    size_t nraw = 0;
    struct raft_entry *ents = NULL;
    int rc = store_hard_get(s, &h);
    if (rc == NAOS_OK)
        rc = store_applied_get(s, &applied);
    if (rc != NAOS_OK) {
        errf(errbuf, errlen, rc, "cannot read the hard state: %s",
             store_errmsg(s));
        goto fail;
    }
    if ((rc = load(c, &raw, &nraw, &ents, &first, errbuf, errlen)) !=
        NAOS_OK)
        goto fail;
    /* The configuration the applied state is at (else the founding
     * voters): a log is a lone voter's only if that is this node alone (a
     * cluster grown from a lone founder was founded with one voter). */
    struct raft_conf conf;
    rc = stored_conf(s, &conf);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND) {
        errf(errbuf, errlen, rc, "cannot read the configuration: %s",
             store_errmsg(s));
        goto fail;
    }
    bool have_conf = rc == NAOS_OK;
    bool lone = have_conf ? conf.nvoters == 1 && conf.nlearners == 0 &&
                                conf.voters[0].v == cfg->node_id
                          : nv == 1 && c->voters[0] == cfg->node_id;
    /* Stores of the one-voter log before the core: its commit index may
     * trail what it applied (never the reverse: it committed first). */
    uint64_t last = nraw ? first + nraw - 1 : 0;
    if (h.commit > last && !lone) {
        /* a replicated log never loses committed entries (no compaction
         * yet, truncation only above the commit index): damage */
        rc = errf(errbuf, errlen, NAOS_EINVAL, "the stored log ends at "
                  "entry %llu, below its commit index %llu: this data "
                  "directory is damaged and naos-node will not run on it "
                  "(restore it from a backup: one older than what the "
                  "other voters still hold cannot catch up until snapshots "
                  "exist)", (unsigned long long)last,
                  (unsigned long long)h.commit);
        goto fail;
    }
    if (h.commit > last)
        h.commit = last;
    /* What this node applied was committed, whatever the hard state says
     * (its commit index goes to disk only with the next write of the
     * log); a compacted log's first entry is among it. */
    if (applied > h.commit && applied <= last)
        h.commit = applied;
    if (applied > h.commit)
        applied = h.commit;

    struct raft_id ids[RAFT_MAX_VOTERS];
    for (size_t i = 0; i < nv; i++)
        ids[i].v = c->voters[i];
    struct raft_config rc_cfg;
    raft_config_default(&rc_cfg);
    rc_cfg.id.v = cfg->node_id;
    rc_cfg.cluster_id = cfg->cluster_id;
    rc_cfg.voters = ids;
    rc_cfg.nvoters = nv;
    struct raft_io io = {RAFT_IO_VERSION, c, next_random, on_event};
    struct raft_restore rs = {{h.term, h.vote, h.commit}, ents, nraw,
                              applied, first, have_conf ? &conf : NULL};
    char why[RAFT_ERRMSG_LEN];
    rc = raft_alloc(&c->r, &rc_cfg, &io, &rs, now, why, sizeof why);
    naos_free(ents);
    store_log_entries_free(raw, nraw);
    ents = NULL;
    raw = NULL;
    if (rc != NAOS_OK) {
        errf(errbuf, errlen, rc, "cannot restore the command log: %s", why);
        goto fail;
    }
    c->commit = h.commit;
    c->stored = h;
    if (lone)
        raft_campaign(c->r, now); /* nobody else could lead */
    if ((rc = cmdraft_flush(c, now)) != NAOS_OK) {
        errf(errbuf, errlen, rc, "cannot persist the election: %s",
             store_errmsg(s));
        goto fail;
    }
    *out = c;
    return NAOS_OK;

fail:
    naos_free(ents);
    store_log_entries_free(raw, nraw);
    cmdraft_close(c);
    return rc;
}

void
cmdraft_close(struct cmdraft *c)
{
    if (c == NULL)
        return;
    raft_free(c->r);
    naos_free(c);
}

struct batch_args {
    struct cmdraft *c;
    const struct raft_ready *rd;
    uint64_t compact_below; /* out: the store dropped entries below it */
};

/* Runs again from the start when the map grows: writes only what rd
 * holds, keeps nothing across calls but its outputs. */
static int
batch_fn(struct store_txn *t, void *arg)
{
    struct batch_args *a = arg;
    const struct raft_ready *rd = a->rd;
    struct store_log_entry sbuf[16], *se = sbuf;
    int rc = NAOS_OK;
    a->compact_below = 0;
    if (rd->nentries > sizeof sbuf / sizeof *sbuf) {
        se = naos_alloc(rd->nentries * sizeof(*se));
        if (se == NULL)
            return NAOS_ENOMEM;
    }
    for (size_t i = 0; i < rd->nentries; i++) {
        const struct raft_entry *e = &rd->entries[i];
        se[i] = (struct store_log_entry){e->index, e->term, e->data, e->len,
                                         e->type};
    }
    if (rd->truncate_from)
        rc = store_log_truncate_append_txn(t, rd->truncate_from, se,
                                           rd->nentries);
    else if (rd->nentries)
        rc = store_log_append_txn(t, se, rd->nentries);
    if (se != sbuf)
        naos_free(se);
    if (rc != NAOS_OK)
        return rc;
    if (rd->hard_changed || rd->hard.commit != a->c->stored.commit) {
        struct store_hard h = {rd->hard.term, rd->hard.vote, rd->hard.commit};
        if ((rc = store_hard_set_txn(t, &h)) != NAOS_OK)
            return rc;
    }
    /* Nobody needs an entry this node applied (the state it built is in
     * the tables) that every voter holds (no follower can ask for it):
     * with one voter, everything applied; beyond that, all but a budget
     * of entries for a voter that lags (one further behind is sent a
     * snapshot). The entry at `below` stays, so indexes continue and, at
     * restore, its term is known. */
    uint64_t applied = 0;
    if ((rc = store_applied_get_txn(t, &applied)) != NAOS_OK)
        return rc;
    uint64_t below = raft_compact_point(a->c->r, applied,
                                        a->c->cfg.keep_entries,
                                        a->c->cfg.keep_bytes);
    if (below > 1 && below <= raft_applied(a->c->r) + 1) {
        if ((rc = store_log_compact_txn(t, below, NULL)) != NAOS_OK)
            return rc;
        a->compact_below = below;
    }
    return NAOS_OK;
}

int
cmdraft_flush(struct cmdraft *c, naos_time now)
{
    /* bounded: each batch persists or sends something; a core that kept
     * producing batches would be a bug, not a reason to spin */
    for (int round = 0; round < 64 && raft_has_ready(c->r); round++) {
        struct raft_ready rd;
        raft_ready(c->r, &rd);
        uint64_t durable_last = raft_last_index(c->r);
        struct batch_args a = {c, &rd, 0};
        /* The commit index alone is not worth an fsync (Raft keeps it
         * volatile; a restarted leader commits again): it goes to disk with
         * the next write. Term and vote always before the messages. */
        bool write = rd.truncate_from || rd.nentries ||
                     (rd.hard_changed && (rd.hard.term != c->stored.term ||
                                          rd.hard.vote != c->stored.vote));
        if (write) {
            int rc = store_write(c->store, batch_fn, &a);
            if (rc != NAOS_OK) {
                /* P8: the store is failed; nothing of this batch leaves */
                errf(c->errmsg, sizeof c->errmsg, rc,
                     "cannot persist the log: %s", store_errmsg(c->store));
                return NAOS_ESTORE;
            }
            c->stored = (struct store_hard){rd.hard.term, rd.hard.vote,
                                            rd.hard.commit};
        }
        for (size_t i = 0; i < rd.nmsgs && c->cfg.send; i++)
            c->cfg.send(c->cfg.ctx, &rd.msgs[i]);
        for (size_t i = 0; i < rd.nreads && c->cfg.read_done; i++)
            c->cfg.read_done(c->cfg.ctx, &rd.reads[i]);
        raft_advance(c->r, now);
        uint64_t cm = raft_commit(c->r);
        if (cm > durable_last)
            cm = durable_last;
        if (cm > c->commit)
            c->commit = cm;
        if (a.compact_below > raft_first_index(c->r) &&
            a.compact_below <= raft_last_index(c->r))
            (void)raft_compact(c->r, a.compact_below);
    }
    return NAOS_OK;
}

int
cmdraft_propose(struct cmdraft *c, const void *data, size_t len,
                naos_time now, uint64_t *index)
{
    int rc = raft_propose(c->r, RAFT_ENTRY_COMMAND, 1, data, len, now, index);
    if (rc != NAOS_OK) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", raft_errmsg(c->r));
        return rc;
    }
    return cmdraft_flush(c, now);
}

int
cmdraft_change(struct cmdraft *c, enum raft_change_kind kind, uint64_t id,
               naos_time now, uint64_t *index)
{
    int rc = raft_change(c->r, kind, (struct raft_id){id}, now, index);
    if (rc != NAOS_OK) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", raft_errmsg(c->r));
        return rc;
    }
    return cmdraft_flush(c, now);
}

int
cmdraft_read_index(struct cmdraft *c, uint64_t ctx, naos_time now)
{
    int rc = raft_read_index(c->r, ctx, now);
    if (rc != NAOS_OK) {
        snprintf(c->errmsg, sizeof c->errmsg, "%s", raft_errmsg(c->r));
        return rc;
    }
    return cmdraft_flush(c, now);
}

void
cmdraft_on_message(struct cmdraft *c, const struct raft_msg *m,
                   naos_time now)
{
    raft_on_message(c->r, m, now);
}

void
cmdraft_on_conn_closed(struct cmdraft *c, uint64_t id, naos_time now)
{
    raft_on_conn_closed(c->r, (struct raft_id){id}, now);
}

void
cmdraft_tick(struct cmdraft *c, naos_time now)
{
    raft_tick(c->r, now);
}

naos_time
cmdraft_next_deadline(const struct cmdraft *c)
{
    return raft_next_deadline(c->r);
}

uint64_t
cmdraft_commit_index(const struct cmdraft *c)
{
    return c->commit;
}

int
cmdraft_read(struct cmdraft *c, uint64_t index, struct store_log_entry **out)
{
    if (index == 0 || index > c->commit)
        return NAOS_EINVAL;
    size_t n = 0;
    return store_log_read(c->store, index, index, 0, out, &n);
}

enum raft_snap_verdict
cmdraft_snapshot_offer(struct cmdraft *c, uint64_t from, uint64_t term,
                       uint64_t index, uint64_t snap_term, naos_time now)
{
    return raft_snapshot_offer(c->r, (struct raft_id){from}, term, index,
                               snap_term, now);
}

struct install_args {
    struct cmdraft *c;
    uint64_t index, term;
};

/* Inside the load's transaction, once the stream checked out: it must be
 * the one offered, of this cluster; the log becomes its last entry. */
static int
install_finish(struct store_txn *t, const struct snap_info *info, void *arg)
{
    struct install_args *a = arg;
    if (info->cluster_id != a->c->cfg.cluster_id)
        return store_txn_fail(t, NAOS_EINVAL, "the snapshot is of cluster "
                              "%016llx, not this one (%016llx)",
                              (unsigned long long)info->cluster_id,
                              (unsigned long long)a->c->cfg.cluster_id);
    if (info->index != a->index || info->term != a->term)
        return store_txn_fail(t, NAOS_EINVAL, "the snapshot holds the state "
                              "after entry %llu of term %llu, but was "
                              "offered as after %llu of term %llu",
                              (unsigned long long)info->index,
                              (unsigned long long)info->term,
                              (unsigned long long)a->index,
                              (unsigned long long)a->term);
    return store_log_install_txn(t, a->index, a->term);
}

int
cmdraft_snapshot_install(struct cmdraft *c, const struct snap_reader *rd,
                         uint64_t index, uint64_t snap_term, naos_time now,
                         char *err, size_t errlen)
{
    struct install_args a = {c, index, snap_term};
    struct snap_info info;
    int rc = store_snap_load(c->store, rd, NULL, install_finish, &a, &info,
                             err, errlen);
    if (rc != NAOS_OK)
        return store_is_failed(c->store) ? NAOS_ESTORE : rc;
    /* durable: the core follows (it said INSTALL, and nothing has called
     * into it since), with the configuration the snapshot brought */
    struct raft_conf conf;
    int crc = stored_conf(c->store, &conf);
    if (crc != NAOS_OK && crc != NAOS_ENOTFOUND)
        return store_is_failed(c->store) ? NAOS_ESTORE : crc;
    rc = raft_snapshot_installed(c->r, index, snap_term,
                                 crc == NAOS_OK ? &conf : NULL, now);
    NAOS_ASSERT(rc == NAOS_OK);
    c->stored.commit = index;
    if (index > c->commit)
        c->commit = index;
    return cmdraft_flush(c, now);
}

uint64_t
cmdraft_cluster_id(const struct cmdraft *c)
{
    return c->cfg.cluster_id;
}

const struct raft *
cmdraft_core(const struct cmdraft *c)
{
    return c->r;
}

const char *
cmdraft_errmsg(const struct cmdraft *c)
{
    return c->errmsg;
}
