/* SPDX-License-Identifier: Apache-2.0 */
/* node_raft_snap.c: snapshots for a voter whose log ends below the
 * leader's compacted base (docs/architecture.md "Raft-lite", Snapshots).
 * The core only says who needs one (raft_peers_behind) and decides
 * whether to install one (cmdraft_snapshot_offer); the bytes go here.
 *
 * Leader: one transfer at a time, to a peer membership sees alive. The
 * applied state is written to an unnamed file on a thread
 * (node_snapfile.c; a transfer dropped meanwhile never waits for it),
 * then sent in chunks of RAFT_SNAP_CHUNK (Sealed.type 80, proto/raft.proto
 * RaftSnapshotChunk), one in flight, each sent on when the previous is
 * acknowledged (81), re-sent after SNAP_RESEND_MS without an answer. A
 * transfer whose peer stops being behind, or whose leader stops leading,
 * is dropped; one that makes no progress for SNAP_STALL_MS once written,
 * or is refused, is dropped and that peer waits SNAP_RETRY_MS, doubling
 * to SNAP_RETRY_MAX_MS, before the state is written out for it again.
 *
 * Follower: chunks are taken only from the leader it follows in its
 * current term, in order, into an unnamed file of its data directory
 * (at most SNAP_XFER_MAX bytes and the free space less SNAP_DISK_MARGIN,
 * one transfer at a time, a later one replacing it, dropped after
 * SNAP_IDLE_MS without a chunk). Once whole, the core is asked, and the
 * stream is loaded (checked whole, then installed with the log reduced to
 * its last entry) in ONE synced transaction on the loop: a stall of the
 * loop for the load's duration, since the store's writes belong to the
 * loop thread. A store whose map cannot hold it refuses it (nothing
 * written; the leader backs off), a failed store stops the node.
 *
 * Reactor thread only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/node_int.h"
#include "proto/raft.pb-c.h"

/* Bytes of stream per chunk: with its message, well inside one sealed
 * envelope (AUTH_MAX_PAYLOAD, 1 MiB). */
#define RAFT_SNAP_CHUNK (512u << 10)
/* The largest stream a follower takes: its store's largest map (a state
 * that big could not be loaded anyway); a leader's claim beyond it, or
 * beyond the free space of the data directory (with SNAP_DISK_MARGIN
 * left for the store's own commits), is refused before a byte is
 * written. */
#define SNAP_XFER_MAX STORE_DEFAULT_MAX_MAP_SIZE
#define SNAP_DISK_MARGIN ((uint64_t)64 << 20)
#define SNAP_RESEND_MS 1000
#define SNAP_STALL_MS 15000
/* After a transfer to a peer failed: wait 1 s, doubling to 60 s, before
 * writing the state out for it again. */
#define SNAP_RETRY_MS 1000
#define SNAP_RETRY_MAX_MS 60000
#define SNAP_IDLE_MS 30000
#define SNAP_ERROR_MAX 256

enum { ACK_MORE = 0, ACK_INSTALLED = 1, ACK_HAD = 2, ACK_REFUSED = 3 };

struct snap_out {
    bool active;
    uint64_t peer, xfer, term;
    struct node_snapfile *file;
    bool ready;          /* the file is written */
    uint64_t acked;      /* bytes the peer holds */
    naos_time sent_at;   /* the chunk in flight left */
    naos_time progress_at;
    uint64_t t0_us;
};

struct snap_in {
    bool active;
    uint64_t from, xfer, term, index, snap_term, size;
    int fd;
    uint64_t received;
    naos_time last_at;
    uint64_t t0_us;
};

/* struct snap_backoff: a peer whose last transfer failed. */
struct snap_backoff {
    uint64_t peer;
    naos_duration wait;
    naos_time until;
};
#define SNAP_BACKOFFS 16 /* >= the members a leader can have */

struct node_raft_snap {
    struct snap_out out;
    struct snap_in in;
    struct snap_backoff backoff[SNAP_BACKOFFS];
    uint64_t next_peer; /* round robin among peers behind */
    uint64_t xfer_seq;  /* transfer ids: increasing, so a follower tells
                           a late chunk of an older one */
    unsigned char *buf;
    size_t cap;
};

/* ---- shared ---------------------------------------------------------- */

static struct node_raft_snap *
get(struct node *n)
{
    if (n->rsnap == NULL) {
        n->rsnap = naos_alloc(sizeof *n->rsnap);
        if (n->rsnap != NULL) {
            memset(n->rsnap, 0, sizeof *n->rsnap);
            n->rsnap->in.fd = -1;
        }
    }
    return n->rsnap;
}

static uint64_t
cluster_id(const struct node *n)
{
    return cmdraft_cluster_id(n->log);
}

/* send_pb packs m into the module's buffer and sends it to id. */
static void
send_pb(struct node *n, uint64_t id, uint32_t type,
        const ProtobufCMessage *m)
{
    struct node_raft_snap *s = n->rsnap;
    const char *addr = node__members_addr(n, id);
    if (addr == NULL || n->wire == NULL)
        return; /* not in our view: the sender re-sends */
    size_t len = protobuf_c_message_get_packed_size(m);
    if (len > s->cap) {
        unsigned char *b = naos_realloc(s->buf, len);
        if (b == NULL)
            return;
        s->buf = b;
        s->cap = len;
    }
    protobuf_c_message_pack(m, s->buf);
    (void)wire_send(n->wire, addr, type, s->buf, len);
}

/* ---- leader: sending ------------------------------------------------- */

static struct snap_backoff *
backoff_of(struct node_raft_snap *s, uint64_t peer, bool make)
{
    struct snap_backoff *free_slot = NULL;
    for (size_t i = 0; i < SNAP_BACKOFFS; i++) {
        if (s->backoff[i].peer == peer)
            return &s->backoff[i];
        if (s->backoff[i].peer == 0 && free_slot == NULL)
            free_slot = &s->backoff[i];
    }
    if (!make)
        return NULL;
    if (free_slot == NULL)
        free_slot = &s->backoff[peer % SNAP_BACKOFFS]; /* a gone peer's */
    *free_slot = (struct snap_backoff){.peer = peer};
    return free_slot;
}

static void
out_drop(struct node *n, const char *why, bool retry_soon)
{
    struct node_raft_snap *s = n->rsnap;
    if (!s->out.active)
        return;
    struct snap_backoff *b = backoff_of(s, s->out.peer, !retry_soon);
    if (retry_soon) {
        if (b != NULL)
            *b = (struct snap_backoff){0}; /* it worked, or moved on */
    } else {
        b->wait = b->wait == 0 ? SNAP_RETRY_MS
                  : b->wait * 2 > SNAP_RETRY_MAX_MS ? SNAP_RETRY_MAX_MS
                                                    : b->wait * 2;
        b->until = n->r.now + b->wait;
    }
    if (why != NULL) {
        n->stats.snap_send_failed++;
        NAOS_WARN("raft", "snapshot for %s dropped after %llu of %llu "
                  "bytes: %s", node__node_name(n, s->out.peer),
                  (unsigned long long)s->out.acked,
                  (unsigned long long)(s->out.file && s->out.ready
                      ? node__snapfile_info(s->out.file)->bytes : 0),
                  why);
    }
    node__snapfile_abandon(s->out.file); /* never waits on the loop */
    s->out = (struct snap_out){0};
}

/* out_done: the transfer ended because its peer has the state: how (NULL:
 * it caught up some other way before anything was sent). */
static void
out_done(struct node *n, const char *how)
{
    struct snap_out *o = &n->rsnap->out;
    if (how != NULL) {
        n->stats.snap_sent++;
        NAOS_INFO("raft", "%s %s the snapshot of %llu bytes in %llu ms",
                  node__node_name(n, o->peer), how,
                  (unsigned long long)node__snapfile_info(o->file)->bytes,
                  (unsigned long long)((naos_clock_now_us() - o->t0_us) /
                                       1000));
    }
    out_drop(n, NULL, true);
}

static void
send_chunk(struct node *n)
{
    struct snap_out *o = &n->rsnap->out;
    const struct snap_info *in = node__snapfile_info(o->file);
    uint64_t left = in->bytes - o->acked;
    size_t len = left < RAFT_SNAP_CHUNK ? (size_t)left : RAFT_SNAP_CHUNK;
    unsigned char *data = naos_alloc(len ? len : 1);
    if (data == NULL)
        return; /* re-sent at SNAP_RESEND_MS */
    if (node__snapfile_pread(o->file, data, len, o->acked) != NAOS_OK) {
        naos_free(data);
        out_drop(n, strerror(errno), false);
        return;
    }
    Naos__V1__RaftSnapshotChunk c = NAOS__V1__RAFT_SNAPSHOT_CHUNK__INIT;
    c.cluster_id = cluster_id(n);
    c.term = o->term;
    c.xfer = o->xfer;
    c.index = in->index;
    c.snap_term = in->term;
    c.size = in->bytes;
    c.offset = o->acked;
    c.data.data = data;
    c.data.len = len;
    send_pb(n, o->peer, NODE_SNAP_CHUNK_TYPE, &c.base);
    naos_free(data);
    o->sent_at = n->r.now;
    n->stats.snap_bytes_sent += len;
}

static void
on_out_saved(struct node *n, struct node_snapfile *f, void *arg)
{
    (void)arg;
    struct snap_out *o = &n->rsnap->out;
    if (!o->active || o->file != f)
        return;
    const char *why = NULL;
    if (node__snapfile_result(f, &why) != NAOS_OK) {
        out_drop(n, why, false);
        return;
    }
    const struct snap_info *in = node__snapfile_info(f);
    if (in->term == 0) {
        out_drop(n, "the applied entry's term is not in the log", false);
        return;
    }
    o->ready = true;
    o->progress_at = n->r.now;
    NAOS_INFO("raft", "sending %s a snapshot of the state after entry %llu "
              "(%llu bytes, written in %llu ms): its log ends below this "
              "node's compacted log", node__node_name(n, o->peer),
              (unsigned long long)in->index, (unsigned long long)in->bytes,
              (unsigned long long)node__snapfile_write_ms(f));
    send_chunk(n);
}

static bool
still_behind(const struct node *n, uint64_t peer)
{
    struct raft_id ids[RAFT_MAX_VOTERS];
    const struct raft *core = cmdraft_core(n->log);
    size_t k = raft_peers_behind(core, ids, RAFT_MAX_VOTERS);
    for (size_t i = 0; i < k && i < RAFT_MAX_VOTERS; i++)
        if (ids[i].v == peer)
            return true;
    return false;
}

static void
out_start(struct node *n)
{
    struct node_raft_snap *s = n->rsnap;
    const struct raft *core = cmdraft_core(n->log);
    struct raft_id ids[RAFT_MAX_VOTERS];
    size_t k = raft_peers_behind(core, ids, RAFT_MAX_VOTERS);
    if (k > RAFT_MAX_VOTERS)
        k = RAFT_MAX_VOTERS;
    uint64_t alive[2 * SNAP_BACKOFFS];
    size_t na = node__members_alive(n, alive, 2 * SNAP_BACKOFFS);
    if (na > 2 * SNAP_BACKOFFS)
        na = 2 * SNAP_BACKOFFS;
    uint64_t peer = 0;
    /* the first behind peer after the last one served that is alive (a
     * peer down would only cost a dump of the state each time), not
     * waiting out a failure, with an address */
    for (size_t i = 0; i < k && peer == 0; i++) {
        uint64_t id = ids[(i + s->next_peer) % k].v;
        bool up = false;
        for (size_t j = 0; j < na && !up; j++)
            up = alive[j] == id;
        const struct snap_backoff *b = backoff_of(s, id, false);
        if (up && (b == NULL || n->r.now >= b->until) &&
            node__members_addr(n, id) != NULL)
            peer = id;
    }
    if (peer == 0)
        return;
    s->next_peer++;
    struct snap_out *o = &s->out;
    *o = (struct snap_out){.active = true, .peer = peer,
                           .term = raft_term(core),
                           .progress_at = n->r.now,
                           .t0_us = naos_clock_now_us()};
    o->xfer = ++s->xfer_seq;
    char err[512];
    if (node__snapfile_save(n, on_out_saved, NULL, &o->file, err,
                            sizeof err) != NAOS_OK)
        out_drop(n, err, false);
}

static void
out_step(struct node *n)
{
    struct node_raft_snap *s = n->rsnap;
    const struct raft *core = cmdraft_core(n->log);
    bool leading = raft_role_get(core) == RAFT_LEADER;
    struct snap_out *o = &s->out;
    if (o->active) {
        if (!leading || raft_term(core) != o->term)
            out_drop(n, NULL, true); /* another leader sends its own */
        else if (!still_behind(n, o->peer))
            out_done(n, o->ready && o->sent_at != 0 ? "installed" : NULL);
        else if (o->ready && n->r.now - o->progress_at >= SNAP_STALL_MS)
            out_drop(n, "no progress for 15 s", false); /* (not while the
                                                          state is written) */
        else if (o->ready && n->r.now - o->sent_at >= SNAP_RESEND_MS)
            send_chunk(n); /* lost, or its node is slow: again */
        return;
    }
    if (leading)
        out_start(n);
}

static void
on_ack(struct node *n, uint64_t sender, const Naos__V1__RaftSnapshotAck *a)
{
    struct snap_out *o = &n->rsnap->out;
    if (!o->active || !o->ready || sender != o->peer || a->xfer != o->xfer)
        return; /* an old transfer's */
    uint64_t size = node__snapfile_info(o->file)->bytes;
    switch (a->status) {
    case ACK_MORE:
        if (a->received > size)
            return;
        if (a->received > o->acked)
            o->progress_at = n->r.now;
        o->acked = a->received; /* also back: it started over */
        if (o->acked < size)
            send_chunk(n);
        return;
    case ACK_INSTALLED:
    case ACK_HAD:
        out_done(n, a->status == ACK_INSTALLED ? "installed"
                                               : "already held");
        return;
    default: {
        char why[SNAP_ERROR_MAX + 32];
        snprintf(why, sizeof why, "refused: %.*s", SNAP_ERROR_MAX,
                 a->error ? a->error : "");
        out_drop(n, why, false);
        return;
    }
    }
}

/* ---- follower: receiving --------------------------------------------- */

static void
in_drop(struct node *n)
{
    struct snap_in *i = &n->rsnap->in;
    if (i->fd >= 0)
        close(i->fd); /* unnamed: this frees it */
    *i = (struct snap_in){.fd = -1};
}

static void
ack(struct node *n, uint64_t to, uint64_t xfer, uint64_t received,
    uint32_t status, const char *error)
{
    Naos__V1__RaftSnapshotAck a = NAOS__V1__RAFT_SNAPSHOT_ACK__INIT;
    a.cluster_id = cluster_id(n);
    a.term = raft_term(cmdraft_core(n->log));
    a.xfer = xfer;
    a.received = received;
    a.status = status;
    char buf[SNAP_ERROR_MAX + 1];
    if (error != NULL) {
        snprintf(buf, sizeof buf, "%s", error);
        a.error = buf;
    }
    send_pb(n, to, NODE_SNAP_ACK_TYPE, &a.base);
}

static int
fd_rewind(void *arg)
{
    struct snap_fd *f = arg;
    return lseek(f->fd, 0, SEEK_SET) == 0 ? NAOS_OK : NAOS_ESYS;
}

/* install: the whole stream is here. */
static void
install(struct node *n)
{
    struct snap_in *i = &n->rsnap->in;
    uint64_t from = i->from, xfer = i->xfer, size = i->size;
    enum raft_snap_verdict v = cmdraft_snapshot_offer(
        n->log, from, i->term, i->index, i->snap_term, n->r.now);
    if (v != RAFT_SNAP_INSTALL) {
        in_drop(n);
        node__raft_flush(n); /* HAVE: the core's answer */
        ack(n, from, xfer, size, v == RAFT_SNAP_HAVE ? ACK_HAD : ACK_REFUSED,
            v == RAFT_SNAP_HAVE ? NULL
                                : "not from this node's leader of its term");
        return;
    }
    struct snap_fd f = {i->fd};
    struct snap_reader rd = {store_snap_fd_read, fd_rewind, &f};
    uint64_t index = i->index, snap_term = i->snap_term;
    uint64_t t0 = naos_clock_now_us();
    if (fd_rewind(&f) != NAOS_OK) {
        in_drop(n);
        ack(n, from, xfer, 0, ACK_REFUSED, "cannot read the received file");
        return;
    }
    char err[512];
    int rc = cmdraft_snapshot_install(n->log, &rd, index, snap_term,
                                      n->r.now, err, sizeof err);
    in_drop(n);
    if (store_is_failed(n->store)) {
        node__cmd_fatal(n, "cannot install a snapshot");
        return;
    }
    if (rc == NAOS_ESTORE) {
        /* the map cannot grow to hold it (the load holds the old state
         * and the new one at once): nothing was written; refused, and the
         * leader waits longer each time. Not a crash loop. */
        snprintf(err, sizeof err, "this node's store cannot hold it "
                 "(map %llu bytes, at most %llu): %s",
                 (unsigned long long)store_map_size(n->store),
                 (unsigned long long)STORE_DEFAULT_MAX_MAP_SIZE,
                 store_errmsg(n->store));
    }
    if (rc != NAOS_OK) {
        NAOS_ERROR("raft", "refused the snapshot %s sent: %s",
                   node__node_name(n, from), err);
        ack(n, from, xfer, 0, ACK_REFUSED, err);
        return;
    }
    uint64_t ms = (naos_clock_now_us() - t0 + 999) / 1000;
    n->stats.snap_installed++;
    NAOS_INFO("raft", "installed the snapshot %s sent: the state after "
              "entry %llu (%llu bytes, loaded in %llu ms)",
              node__node_name(n, from), (unsigned long long)index,
              (unsigned long long)size, (unsigned long long)ms);
    reactor_refresh_clock(&n->r); /* the load took time */
    node__cmd_snapshot_installed(n, index, node__node_name(n, from));
    ack(n, from, xfer, size, ACK_INSTALLED, NULL);
}

static void
on_chunk(struct node *n, uint64_t sender,
         const Naos__V1__RaftSnapshotChunk *c)
{
    struct snap_in *i = &n->rsnap->in;
    const struct raft *core = cmdraft_core(n->log);
    if (raft_role_get(core) != RAFT_FOLLOWER ||
        raft_leader(core).v != sender || c->term != raft_term(core)) {
        /* the leader learns its place from the Raft messages; this
         * answer only ends its transfer sooner */
        ack(n, sender, c->xfer, 0, ACK_REFUSED,
            "not from this node's leader of its term");
        return;
    }
    if (c->xfer == 0 || c->index == 0 || c->snap_term == 0 ||
        c->snap_term > c->term || c->size == 0 ||
        c->size > SNAP_XFER_MAX || c->offset > c->size ||
        c->data.len > RAFT_SNAP_CHUNK ||
        c->data.len > c->size - c->offset ||
        (c->data.len == 0 && c->offset < c->size)) {
        n->stats.snap_chunks_bad++;
        ack(n, sender, c->xfer, 0, ACK_REFUSED, "malformed chunk");
        return;
    }
    if (i->active && (i->xfer != c->xfer || i->from != sender)) {
        /* the leader started another (a later id, or a new term's
         * leader); anything else is a late chunk of an older one */
        bool newer = c->term > i->term || i->from != sender ||
                     c->xfer > i->xfer;
        if (c->offset != 0 || !newer)
            return;
        in_drop(n);
    }
    if (!i->active) {
        if (c->offset != 0) {
            ack(n, sender, c->xfer, 0, ACK_MORE, NULL); /* from the start */
            return;
        }
        struct statvfs fs;
        if (statvfs(n->data_dir, &fs) == 0 &&
            (uint64_t)fs.f_bavail * fs.f_frsize <
                c->size + SNAP_DISK_MARGIN) {
            char why[SNAP_ERROR_MAX];
            snprintf(why, sizeof why, "not enough space in %.128s for a "
                     "snapshot of %llu bytes (%llu free, %llu MiB kept for "
                     "the store)", n->data_dir,
                     (unsigned long long)c->size,
                     (unsigned long long)fs.f_bavail * fs.f_frsize,
                     (unsigned long long)(SNAP_DISK_MARGIN >> 20));
            NAOS_ERROR("raft", "refused a snapshot from %s: %s",
                       node__node_name(n, sender), why);
            ack(n, sender, c->xfer, 0, ACK_REFUSED, why);
            return;
        }
        int fd = -1;
        if (node__snapfile_open_unnamed(n, &fd) != NAOS_OK) {
            char why[SNAP_ERROR_MAX];
            snprintf(why, sizeof why, "cannot create a file in %.128s: %s",
                     n->data_dir, strerror(errno));
            ack(n, sender, c->xfer, 0, ACK_REFUSED, why);
            return;
        }
        *i = (struct snap_in){.active = true, .from = sender,
                              .xfer = c->xfer, .term = c->term,
                              .index = c->index, .snap_term = c->snap_term,
                              .size = c->size, .fd = fd,
                              .t0_us = naos_clock_now_us()};
        NAOS_INFO("raft", "receiving a snapshot from %s: the state after "
                  "entry %llu, %llu bytes (this node's log ends below the "
                  "leader's)", node__node_name(n, sender),
                  (unsigned long long)c->index,
                  (unsigned long long)c->size);
    }
    if (c->index != i->index || c->snap_term != i->snap_term ||
        c->size != i->size || c->term != i->term) {
        n->stats.snap_chunks_bad++;
        return; /* one transfer, one stream */
    }
    i->last_at = n->r.now;
    if (c->offset == i->received && c->data.len > 0) {
        size_t done = 0;
        while (done < c->data.len) {
            ssize_t w = pwrite(i->fd, c->data.data + done,
                               c->data.len - done,
                               (off_t)(i->received + done));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                char why[SNAP_ERROR_MAX];
                snprintf(why, sizeof why, "cannot write the snapshot in "
                         "%.128s: %s", n->data_dir,
                         w < 0 ? strerror(errno) : "short write");
                NAOS_ERROR("raft", "%s", why);
                uint64_t xfer = i->xfer;
                in_drop(n);
                ack(n, sender, xfer, 0, ACK_REFUSED, why);
                return;
            }
            done += (size_t)w;
        }
        i->received += c->data.len;
    }
    if (i->received == i->size) {
        install(n);
        return;
    }
    ack(n, sender, i->xfer, i->received, ACK_MORE, NULL);
}

/* ---- the node's side ------------------------------------------------- */

bool
node__raft_snap_recv(struct node *n, const struct wire_msg *m)
{
    if (n->log == NULL || !n->replicated || n->fatal || get(n) == NULL)
        return false;
    if (m->type == NODE_SNAP_CHUNK_TYPE) {
        Naos__V1__RaftSnapshotChunk *c =
            naos__v1__raft_snapshot_chunk__unpack(NULL, m->len, m->payload);
        if (c == NULL || c->cluster_id != cluster_id(n)) {
            n->stats.snap_chunks_bad++;
            if (c)
                naos__v1__raft_snapshot_chunk__free_unpacked(c, NULL);
            return false;
        }
        on_chunk(n, m->sender, c);
        naos__v1__raft_snapshot_chunk__free_unpacked(c, NULL);
        node__raft_flush(n);
        return true;
    }
    Naos__V1__RaftSnapshotAck *a =
        naos__v1__raft_snapshot_ack__unpack(NULL, m->len, m->payload);
    if (a == NULL || a->cluster_id != cluster_id(n)) {
        n->stats.snap_chunks_bad++;
        if (a)
            naos__v1__raft_snapshot_ack__free_unpacked(a, NULL);
        return false;
    }
    on_ack(n, m->sender, a);
    naos__v1__raft_snapshot_ack__free_unpacked(a, NULL);
    return true;
}

void
node__raft_snap_step(struct node *n)
{
    if (n->log == NULL || !n->replicated || n->fatal || get(n) == NULL)
        return;
    struct snap_in *i = &n->rsnap->in;
    if (i->active && n->r.now - i->last_at >= SNAP_IDLE_MS) {
        NAOS_WARN("raft", "dropped a snapshot from %s after %llu of %llu "
                  "bytes: nothing came for %d s",
                  node__node_name(n, i->from),
                  (unsigned long long)i->received,
                  (unsigned long long)i->size, SNAP_IDLE_MS / 1000);
        in_drop(n);
    }
    out_step(n);
}

naos_time
node__raft_snap_deadline(const struct node *n)
{
    const struct node_raft_snap *s = n->rsnap;
    if (s == NULL || (!s->out.active && !s->in.active))
        return NAOS_TIME_NEVER;
    return n->r.now + 250; /* resends and idle checks */
}

void
node__raft_snap_close(struct node *n)
{
    struct node_raft_snap *s = n->rsnap;
    if (s == NULL)
        return;
    node__snapfile_free(s->out.file);
    if (s->in.fd >= 0)
        close(s->in.fd);
    naos_free(s->buf);
    naos_free(s);
    n->rsnap = NULL;
}
