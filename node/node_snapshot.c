/* SPDX-License-Identifier: Apache-2.0 */
/* node_snapshot.c: `naos snapshot save` on the node (docs/architecture.md
 * "Snapshots and recovery"). A begin writes the applied state
 * (store/snapshot.h) into a file of the data directory that has no name,
 * on a thread of its own (node_snapfile.c), so nothing is left behind
 * whatever happens to the node or the CLI; the begin's reply is deferred
 * until it is written. Pages of the file are then read by the CLI, each a
 * bounded reply, until it releases the save. Reactor thread only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/node_int.h"
#include "store/snapshot.h"

/* A page: one reply's data. Far below the client's 64 MiB reply limit,
 * small enough that a page read never holds the reactor. */
#define SNAPSHOT_PAGE (1u << 20)
/* A save nobody asked about for this long is dropped (the CLI died). */
#define SNAPSHOT_IDLE_MS 60000

struct node_snap {
    struct node *n;
    uint64_t id;
    struct node_snapfile *file; /* written on its thread, then paged */
    naos_time used; /* last request */
    struct ctl_req *req; /* the deferred begin; NULL once cancelled */
};

static void
snap_free(struct node_snap *s)
{
    node__snapfile_free(s->file);
    naos_free(s);
}

void
node__snapshot_close(struct node *n)
{
    if (n->snap == NULL)
        return;
    snap_free(n->snap);
    n->snap = NULL;
}

static Naos__V1__SnapshotReply *
reply(struct ctl_reply *rep, const struct node_snap *s)
{
    Naos__V1__SnapshotReply *r = ctl_reply_alloc(rep, sizeof *r);
    if (r == NULL)
        return NULL;
    naos__v1__snapshot_reply__init(r);
    const struct snap_info *in = node__snapfile_info(s->file);
    r->id = s->id;
    r->size = in->bytes;
    r->index = in->index;
    r->term = in->term;
    r->cluster_id = in->cluster_id;
    char hex[2 * SNAP_SUM_LEN + 1];
    store_snap_sum_hex(in->sum, hex);
    r->checksum = ctl_reply_strdup(rep, hex);
    r->entries = in->entries;
    /* stream order of store/snapshot.c's tables */
    for (size_t i = 0; i < store_snap_ntables(); i++) {
        const char *t = store_snap_table_name(i);
        if (strcmp(t, "deployments") == 0)
            r->deployments = in->counts[i];
        else if (strcmp(t, "placements") == 0)
            r->placements = in->counts[i];
        else if (strcmp(t, "checkpoints") == 0)
            r->checkpoints = in->counts[i];
    }
    r->created_at_ms = in->created_at_ms;
    r->write_ms = node__snapfile_write_ms(s->file);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_SNAPSHOT;
    rep->msg.snapshot = r;
    return r;
}

static void
on_cancel(void *arg, struct ctl_req *req)
{
    (void)req;
    struct node_snap *s = arg;
    s->req = NULL; /* the endpoint closes: nobody to answer */
}

/* on_saved: the file is written; answer the begin. */
static void
on_saved(struct node *n, struct node_snapfile *f, void *arg)
{
    struct node_snap *s = arg;
    (void)f;
    s->used = n->r.now;
    struct ctl_req *req = s->req;
    s->req = NULL;
    const char *why = NULL;
    int rc = node__snapfile_result(s->file, &why);
    if (rc != NAOS_OK) {
        NAOS_ERROR("snapshot", "cannot save a snapshot: %s", why);
        if (req) {
            ctl_reply_error(ctl_req_reply(req),
                            rc == NAOS_ETOOBIG
                                ? NAOS__V1__ERROR_CODE__INVALID
                                : NAOS__V1__ERROR_CODE__INTERNAL,
                            "cannot save a snapshot on naos-node %s: %s",
                            n->name, why);
            ctl_req_finish(req);
        }
        node__snapshot_close(n);
        return;
    }
    const struct snap_info *in = node__snapfile_info(s->file);
    n->stats.backup_saved_ms = in->created_at_ms;
    NAOS_INFO("snapshot", "saved the state after entry %llu: %llu entries, "
              "%llu bytes, in %llu ms (on a thread of its own)",
              (unsigned long long)in->index,
              (unsigned long long)in->entries,
              (unsigned long long)in->bytes,
              (unsigned long long)node__snapfile_write_ms(s->file));
    if (req == NULL) {
        node__snapshot_close(n);
        return;
    }
    reply(ctl_req_reply(req), s);
    ctl_req_finish(req);
}

static void
begin(struct node *n, struct ctl_req *creq, struct ctl_reply *rep)
{
    if (creq == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "a snapshot is saved through the control socket "
                        "(`naos snapshot save FILE`)");
        return;
    }
    if (n->log == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s is not a member of any log yet (it "
                        "waits for the other founders of its cluster): it "
                        "has no applied state to save; try again once the "
                        "cluster has formed", n->name);
        return;
    }
    if (n->snap != NULL) {
        if (node__snapfile_running(n->snap->file) ||
            n->r.now - n->snap->used < SNAPSHOT_IDLE_MS) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "another snapshot save is under way on "
                            "naos-node %s; try again when it ends",
                            n->name);
            return;
        }
        NAOS_WARN("snapshot", "dropping snapshot save %016llx, idle for "
                  "%d s", (unsigned long long)n->snap->id,
                  SNAPSHOT_IDLE_MS / 1000);
        node__snapshot_close(n);
    }
    struct node_snap *s = naos_alloc(sizeof *s);
    if (s == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL, "out of memory");
        return;
    }
    s->n = n;
    if (ctl_req_defer(creq, on_cancel, s) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s has too many requests waiting; try "
                        "again", n->name);
        naos_free(s);
        return;
    }
    char err[512];
    if (node__snapfile_save(n, on_saved, s, &s->file, err, sizeof err) !=
        NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot save a snapshot on naos-node %s: %s",
                        n->name, err);
        ctl_req_finish(creq); /* within its handler: answered on return */
        naos_free(s);
        return;
    }
    s->req = creq;
    do
        s->id = (uint64_t)naos_clock_now_us() ^ ((uint64_t)getpid() << 40);
    while (s->id == 0);
    s->used = n->r.now;
    n->snap = s;
}

static void
page(struct node *n, const Naos__V1__SnapshotRequest *req,
     struct ctl_reply *rep)
{
    struct node_snap *s = n->snap;
    if (s == NULL || s->id != req->id) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no snapshot save %016llx on naos-node %s (dropped "
                        "after %d s idle, or the node restarted): save "
                        "again", (unsigned long long)req->id, n->name,
                        SNAPSHOT_IDLE_MS / 1000);
        return;
    }
    if (node__snapfile_running(s->file)) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "snapshot save %016llx is still being written",
                        (unsigned long long)req->id);
        return;
    }
    s->used = n->r.now;
    if (req->release) {
        node__snapshot_close(n);
        ctl_reply_message(rep, "released");
        return;
    }
    const struct snap_info *in = node__snapfile_info(s->file);
    if (req->offset > in->bytes) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "offset %llu is past the snapshot's %llu bytes",
                        (unsigned long long)req->offset,
                        (unsigned long long)in->bytes);
        return;
    }
    uint64_t left = in->bytes - req->offset;
    size_t len = left < SNAPSHOT_PAGE ? (size_t)left : SNAPSHOT_PAGE;
    Naos__V1__SnapshotReply *r = reply(rep, s);
    uint8_t *data = ctl_reply_alloc(rep, len ? len : 1);
    if (r == NULL || data == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL, "out of memory");
        return;
    }
    if (node__snapfile_pread(s->file, data, len, req->offset) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read the snapshot's temporary file: %s",
                        strerror(errno));
        return;
    }
    r->offset = req->offset;
    r->data.data = data;
    r->data.len = len;
}

void
node__snapshot_request(struct node *n, struct ctl_req *creq,
                       const Naos__V1__SnapshotRequest *req,
                       struct ctl_reply *rep)
{
    if (req->id == 0)
        begin(n, creq, rep);
    else
        page(n, req, rep);
}
