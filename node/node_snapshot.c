/* SPDX-License-Identifier: Apache-2.0 */
/* node_snapshot.c: `naos snapshot save` on the node (docs/architecture.md
 * "Snapshots and recovery"). A begin writes the applied state
 * (store/snapshot.h, one read transaction) into a file of the data
 * directory that has no name (O_TMPFILE, or created and unlinked at
 * once), so nothing is left behind whatever happens to the node or the
 * CLI; pages of it are then read by the CLI, each a bounded reply, until
 * it releases the save. The write runs on the reactor: a concurrent
 * reader (a thread, or a read transaction held across iterations) would
 * be unsafe while a write grows the map (mdb_env_set_mapsize must not run
 * with a transaction open in the process), and the dump is a sequential
 * copy into the page cache (measured in docs/architecture.md); the pause
 * is logged with each save. Reactor thread only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/safefile.h"
#include "node/base/time.h"
#include "node/node_int.h"
#include "store/snapshot.h"

/* A page: one reply's data. Far below the client's 64 MiB reply limit,
 * small enough that a page read never holds the reactor. */
#define SNAPSHOT_PAGE (1u << 20)
/* A save nobody asked about for this long is dropped (the CLI died). */
#define SNAPSHOT_IDLE_MS 60000

struct node_snap {
    uint64_t id;
    int fd;
    naos_time used; /* last request */
    uint64_t write_ms;
    struct snap_info info;
};

void
node__snapshot_close(struct node *n)
{
    if (n->snap == NULL)
        return;
    close(n->snap->fd); /* the file has no name: this frees it */
    naos_free(n->snap);
    n->snap = NULL;
}

/* open_unnamed: a file of the data directory without a name. */
static int
open_unnamed(struct node *n, int *out)
{
    int dfd = -1;
    int rc = safefile_open_dir(n->data_dir, NULL, false, &dfd);
    if (rc != NAOS_OK)
        return rc;
    int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
                   errno == EINVAL)) {
        /* a file system without O_TMPFILE: a name for an instant */
        static const char name[] = "snapshot-save.tmp";
        unlinkat(dfd, name, 0); /* one a crash left, never followed */
        if (safefile_openat(dfd, name, O_CREAT | O_EXCL | O_RDWR, 0600,
                            &fd) != NAOS_OK)
            fd = -1;
        else
            unlinkat(dfd, name, 0);
    }
    int e = errno;
    close(dfd);
    errno = e;
    if (fd < 0)
        return NAOS_ESYS;
    *out = fd;
    return NAOS_OK;
}

static Naos__V1__SnapshotReply *
reply(struct ctl_reply *rep, const struct node_snap *s)
{
    Naos__V1__SnapshotReply *r = ctl_reply_alloc(rep, sizeof *r);
    if (r == NULL)
        return NULL;
    naos__v1__snapshot_reply__init(r);
    const struct snap_info *in = &s->info;
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
    r->write_ms = s->write_ms;
    rep->msg.rep_case = NAOS__V1__REPLY__REP_SNAPSHOT;
    rep->msg.snapshot = r;
    return r;
}

static void
begin(struct node *n, struct ctl_reply *rep)
{
    if (n->log == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s is not a member of any log yet (it "
                        "waits for the other founders of its cluster): it "
                        "has no applied state to save; try again once the "
                        "cluster has formed", n->name);
        return;
    }
    if (n->snap != NULL) {
        if (n->r.now - n->snap->used < SNAPSHOT_IDLE_MS) {
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
    memset(s, 0, sizeof *s);
    if (open_unnamed(n, &s->fd) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot create a temporary file in %s: %s",
                        n->data_dir, strerror(errno));
        naos_free(s);
        return;
    }
    uint64_t t0 = naos_clock_now_us();
    struct snap_fd f = {s->fd};
    struct snap_writer w = {store_snap_fd_write, &f};
    char err[512] = "";
    int rc = store_snap_save(n->store, &w, NULL, &s->info, err, sizeof err);
    s->write_ms = (naos_clock_now_us() - t0 + 999) / 1000;
    if (rc != NAOS_OK) {
        NAOS_ERROR("snapshot", "cannot save a snapshot: %s", err);
        ctl_reply_error(rep, rc == NAOS_ENOMEM || rc == NAOS_ESYS ||
                                     rc == NAOS_ESTORE
                                 ? NAOS__V1__ERROR_CODE__INTERNAL
                                 : NAOS__V1__ERROR_CODE__INVALID,
                        "cannot save a snapshot on naos-node %s: %s",
                        n->name, err);
        close(s->fd);
        naos_free(s);
        return;
    }
    do
        s->id = (uint64_t)naos_clock_now_us() ^ ((uint64_t)getpid() << 40);
    while (s->id == 0);
    s->used = n->r.now;
    n->snap = s;
    NAOS_INFO("snapshot", "saved the state after entry %llu: %llu entries, "
              "%llu bytes, in %llu ms (the reactor waited as long)",
              (unsigned long long)s->info.index,
              (unsigned long long)s->info.entries,
              (unsigned long long)s->info.bytes,
              (unsigned long long)s->write_ms);
    reply(rep, s);
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
    s->used = n->r.now;
    if (req->release) {
        node__snapshot_close(n);
        ctl_reply_message(rep, "released");
        return;
    }
    if (req->offset > s->info.bytes) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "offset %llu is past the snapshot's %llu bytes",
                        (unsigned long long)req->offset,
                        (unsigned long long)s->info.bytes);
        return;
    }
    uint64_t left = s->info.bytes - req->offset;
    size_t len = left < SNAPSHOT_PAGE ? (size_t)left : SNAPSHOT_PAGE;
    Naos__V1__SnapshotReply *r = reply(rep, s);
    uint8_t *data = ctl_reply_alloc(rep, len ? len : 1);
    if (r == NULL || data == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL, "out of memory");
        return;
    }
    size_t have = 0;
    while (have < len) {
        ssize_t got = pread(s->fd, data + have, len - have,
                            (off_t)(req->offset + have));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                            "cannot read the snapshot's temporary file: %s",
                            got < 0 ? strerror(errno) : "it is shorter");
            return;
        }
        have += (size_t)got;
    }
    r->offset = req->offset;
    r->data.data = data;
    r->data.len = len;
}

void
node__snapshot_request(struct node *n, const Naos__V1__SnapshotRequest *req,
                       struct ctl_reply *rep)
{
    if (req->id == 0)
        begin(n, rep);
    else
        page(n, req, rep);
}
