/* SPDX-License-Identifier: Apache-2.0 */
/* node_snapfile.c: the applied state written to a file of the data
 * directory that has no name (O_TMPFILE, or created and unlinked at
 * once), on a thread of its own through a store reader: one read
 * transaction (consistent), and the loop's writes go on meanwhile (only a
 * write that must grow the map waits for it). Nothing is left behind
 * whatever happens to the node. Used by `naos snapshot save`
 * (node_snapshot.c) and by the snapshots a leader sends a follower behind
 * its log (node_raft_snap.c). Reactor thread only, but for save_thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/safefile.h"
#include "node/base/time.h"
#include "node/node_int.h"

struct node_snapfile {
    struct node *n;
    bool abandoned; /* its owner is gone: freed when the thread ends */
    struct node_snapfile *next; /* in n->snapfiles_abandoned */
    node_snapfile_done_fn done;
    void *arg;
    int fd; /* the unnamed file */
    bool running;
    pthread_t th;
    int efd; /* the thread says it is done */
    struct reactor_watch watch;
    struct store_reader *rd;
    uint64_t t0_us;
    uint64_t write_ms;
    struct snap_info info;
    int rc;
    char err[512];
};

int
node__snapfile_open_unnamed(struct node *n, int *out)
{
    int dfd = -1;
    int rc = safefile_open_dir(n->data_dir, NULL, false, &dfd);
    if (rc != NAOS_OK)
        return rc;
    int fd = openat(dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR ||
                   errno == EINVAL)) {
        /* a file system without O_TMPFILE: a name for an instant (the
         * loop is one thread: no two of these at once) */
        static const char name[] = "snapshot.tmp";
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

static void *
save_thread(void *arg)
{
    struct node_snapfile *f = arg;
    struct snap_fd out = {f->fd};
    struct snap_writer w = {store_snap_fd_write, &out};
    f->rc = store_snap_save_reader(f->rd, &w, NULL, &f->info, f->err,
                                   sizeof f->err);
    f->write_ms = (naos_clock_now_us() - f->t0_us + 999) / 1000;
    uint64_t one = 1;
    while (write(f->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
    return NULL;
}

/* stop_watching: the thread is done (joined) or never ran. */
static void
stop_watching(struct node_snapfile *f)
{
    if (f->efd >= 0) {
        reactor_del(&f->n->r, &f->watch);
        close(f->efd);
        f->efd = -1;
    }
    store_reader_close(f->rd);
    f->rd = NULL;
}

static void
on_saved(void *arg, uint32_t events)
{
    (void)events;
    struct node_snapfile *f = arg;
    uint64_t v;
    if (read(f->efd, &v, sizeof v) < 0 && errno == EAGAIN)
        return;
    pthread_join(f->th, NULL);
    f->running = false;
    stop_watching(f);
    if (f->abandoned) {
        struct node_snapfile **pp = &f->n->snapfiles_abandoned;
        while (*pp != f)
            pp = &(*pp)->next;
        *pp = f->next;
        node__snapfile_free(f);
        return;
    }
    f->done(f->n, f, f->arg);
}

int
node__snapfile_save(struct node *n, node_snapfile_done_fn done, void *arg,
                    struct node_snapfile **out, char *err, size_t errlen)
{
    struct node_snapfile *f = naos_alloc(sizeof *f);
    if (f == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    f->n = n;
    f->done = done;
    f->arg = arg;
    f->fd = f->efd = -1;
    int rc;
    if ((rc = node__snapfile_open_unnamed(n, &f->fd)) != NAOS_OK) {
        snprintf(err, errlen, "cannot create a temporary file in %s: %s",
                 n->data_dir, strerror(errno));
        goto fail;
    }
    if ((f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0 ||
        reactor_add(&n->r, &f->watch, f->efd, EPOLLIN, on_saved, f) !=
            NAOS_OK) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        if (f->efd >= 0) {
            close(f->efd);
            f->efd = -1;
        }
        rc = NAOS_ESYS;
        goto fail;
    }
    if ((rc = store_reader_open(n->store, &f->rd)) != NAOS_OK) {
        snprintf(err, errlen, "cannot read the store: %s",
                 store_errmsg(n->store));
        goto fail;
    }
    f->t0_us = naos_clock_now_us();
    int e = pthread_create(&f->th, NULL, save_thread, f);
    if (e != 0) {
        snprintf(err, errlen, "cannot start a thread: %s", strerror(e));
        rc = NAOS_ESYS;
        goto fail;
    }
    f->running = true;
    *out = f;
    return NAOS_OK;
fail:
    node__snapfile_free(f);
    return rc;
}

void
node__snapfile_free(struct node_snapfile *f)
{
    if (f == NULL)
        return;
    if (f->running) { /* node stopping: the write ends soon */
        pthread_join(f->th, NULL);
        f->running = false;
    }
    stop_watching(f);
    if (f->fd >= 0)
        close(f->fd); /* the file has no name: this frees it */
    naos_free(f);
}

void
node__snapfile_abandon(struct node_snapfile *f)
{
    if (f == NULL)
        return;
    if (!f->running) {
        node__snapfile_free(f);
        return;
    }
    /* never wait for the thread on the loop: it may write for long */
    f->abandoned = true;
    f->next = f->n->snapfiles_abandoned;
    f->n->snapfiles_abandoned = f;
}

void
node__snapfile_close_all(struct node *n)
{
    while (n->snapfiles_abandoned != NULL) {
        struct node_snapfile *f = n->snapfiles_abandoned;
        n->snapfiles_abandoned = f->next;
        node__snapfile_free(f); /* the node stops: its thread ends soon */
    }
}

bool
node__snapfile_running(const struct node_snapfile *f)
{
    return f->running;
}

int
node__snapfile_result(const struct node_snapfile *f, const char **err)
{
    if (err != NULL)
        *err = f->err;
    return f->rc;
}

const struct snap_info *
node__snapfile_info(const struct node_snapfile *f)
{
    return &f->info;
}

uint64_t
node__snapfile_write_ms(const struct node_snapfile *f)
{
    return f->write_ms;
}

int
node__snapfile_pread(const struct node_snapfile *f, void *buf, size_t len,
                     uint64_t offset)
{
    size_t have = 0;
    while (have < len) {
        ssize_t got = pread(f->fd, (char *)buf + have, len - have,
                            (off_t)(offset + have));
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0)
                errno = EIO; /* shorter than it said */
            return NAOS_ESYS;
        }
        have += (size_t)got;
    }
    return NAOS_OK;
}
