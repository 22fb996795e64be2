/* SPDX-License-Identifier: Apache-2.0 */
/* node_snapshot.c: `naos snapshot save` on the node (docs/architecture.md
 * "Snapshots and recovery"). A begin writes the applied state
 * (store/snapshot.h) into a file of the data directory that has no name
 * (O_TMPFILE, or created and unlinked at once), so nothing is left behind
 * whatever happens to the node or the CLI. The write runs on a thread of
 * its own through a store reader (one read transaction: consistent, and
 * the loop's writes go on; only a write that must grow the map waits for
 * it), and the begin's reply is deferred until it is done. Pages of the
 * file are then read by the CLI, each a bounded reply, until it releases
 * the save. Reactor thread only, but for save_thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
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
    struct node *n;
    uint64_t id;
    int fd;         /* the unnamed file */
    naos_time used; /* last request */
    uint64_t write_ms;
    struct snap_info info;
    /* while the file is written (running) */
    bool running;
    pthread_t th;
    int efd; /* the thread says it is done */
    struct reactor_watch watch;
    struct store_reader *rd;
    struct ctl_req *req; /* the deferred begin; NULL once cancelled */
    uint64_t t0_us;
    int rc;
    char err[512];
};

static void
snap_free(struct node *n, struct node_snap *s)
{
    if (s->running) { /* node stopping: the write ends soon */
        pthread_join(s->th, NULL);
        s->running = false;
    }
    if (s->efd >= 0) {
        reactor_del(&n->r, &s->watch);
        close(s->efd);
    }
    store_reader_close(s->rd);
    if (s->fd >= 0)
        close(s->fd); /* the file has no name: this frees it */
    naos_free(s);
}

void
node__snapshot_close(struct node *n)
{
    if (n->snap == NULL)
        return;
    snap_free(n, n->snap);
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

/* save_thread: the write, off the loop. */
static void *
save_thread(void *arg)
{
    struct node_snap *s = arg;
    struct snap_fd f = {s->fd};
    struct snap_writer w = {store_snap_fd_write, &f};
    s->rc = store_snap_save_reader(s->rd, &w, NULL, &s->info, s->err,
                                   sizeof s->err);
    s->write_ms = (naos_clock_now_us() - s->t0_us + 999) / 1000;
    uint64_t one = 1;
    while (write(s->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return NULL;
}

static void
on_cancel(void *arg, struct ctl_req *req)
{
    (void)req;
    struct node_snap *s = arg;
    s->req = NULL; /* the endpoint closes: nobody to answer */
}

/* on_saved: the thread is done; answer the begin. */
static void
on_saved(void *arg, uint32_t events)
{
    (void)events;
    struct node_snap *s = arg;
    struct node *n = s->n;
    uint64_t v;
    if (read(s->efd, &v, sizeof v) < 0 && errno == EAGAIN)
        return;
    pthread_join(s->th, NULL);
    s->running = false;
    reactor_del(&n->r, &s->watch);
    close(s->efd);
    s->efd = -1;
    store_reader_close(s->rd);
    s->rd = NULL;
    s->used = n->r.now;
    struct ctl_req *req = s->req;
    s->req = NULL;
    if (s->rc != NAOS_OK) {
        NAOS_ERROR("snapshot", "cannot save a snapshot: %s", s->err);
        if (req) {
            ctl_reply_error(ctl_req_reply(req),
                            s->rc == NAOS_ETOOBIG
                                ? NAOS__V1__ERROR_CODE__INVALID
                                : NAOS__V1__ERROR_CODE__INTERNAL,
                            "cannot save a snapshot on naos-node %s: %s",
                            n->name, s->err);
            ctl_req_finish(req);
        }
        node__snapshot_close(n);
        return;
    }
    NAOS_INFO("snapshot", "saved the state after entry %llu: %llu entries, "
              "%llu bytes, in %llu ms (on a thread of its own)",
              (unsigned long long)s->info.index,
              (unsigned long long)s->info.entries,
              (unsigned long long)s->info.bytes,
              (unsigned long long)s->write_ms);
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
        if (n->snap->running ||
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
    s->fd = s->efd = -1;
    if (open_unnamed(n, &s->fd) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot create a temporary file in %s: %s",
                        n->data_dir, strerror(errno));
        goto fail;
    }
    if ((s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        reactor_add(&n->r, &s->watch, s->efd, EPOLLIN, on_saved, s) !=
            NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot save a snapshot: eventfd: %s",
                        strerror(errno));
        if (s->efd >= 0) {
            close(s->efd);
            s->efd = -1;
        }
        goto fail;
    }
    if (store_reader_open(n->store, &s->rd) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read the store: %s", store_errmsg(n->store));
        goto fail;
    }
    if (ctl_req_defer(creq, on_cancel, s) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s has too many requests waiting; try "
                        "again", n->name);
        goto fail;
    }
    s->req = creq;
    do
        s->id = (uint64_t)naos_clock_now_us() ^ ((uint64_t)getpid() << 40);
    while (s->id == 0);
    s->t0_us = naos_clock_now_us();
    int e = pthread_create(&s->th, NULL, save_thread, s);
    if (e != 0) {
        s->req = NULL;
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot start the snapshot's thread: %s",
                        strerror(e));
        ctl_req_finish(creq); /* within its handler: answered on return */
        goto fail;
    }
    s->running = true;
    s->used = n->r.now;
    n->snap = s;
    return;
fail:
    snap_free(n, s);
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
    if (s->running) {
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
node__snapshot_request(struct node *n, struct ctl_req *creq,
                       const Naos__V1__SnapshotRequest *req,
                       struct ctl_reply *rep)
{
    if (req->id == 0)
        begin(n, creq, rep);
    else
        page(n, req, rep);
}
