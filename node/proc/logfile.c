/* SPDX-License-Identifier: Apache-2.0 */
/* logfile.c: size-bounded rotated worker logs (see logfile.h). The rotation
 * scheme is logrotate's / s6-log's "shift by one" with numbered suffixes. */
#include "node/proc/logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/safefile.h"

struct proc_logfile {
    char *root;      /* owned: the trusted directory (DATA/logs) */
    char *dir;       /* owned: the file's directory relative to root */
    char *leaf;      /* owned: the file's name in dir */
    char *name_a;    /* owned scratch for "leaf.N" (rotation) */
    char *name_b;
    size_t name_cap;
    int fd;          /* -1 when a failed rotation left no file open */
    uint64_t size;   /* bytes in the current file */
    uint64_t max_bytes;
    unsigned keep;
    uint64_t dropped;
};

/* open_dir opens the file's directory, every component below root without
 * following links (safefile.h); with create, missing ones are made 0700.
 * Only the first open creates them: a later reopen into a directory that
 * is gone (the deployment was removed) drops the output instead of
 * bringing the old directory back. */
static int
open_dir(const struct proc_logfile *lf, bool create, int *dfd)
{
    int rc = safefile_open_dir(lf->root, lf->dir, create, dfd);
    return rc == NAOS_ENOTFOUND ? NAOS_ESYS : rc;
}

static int
open_current_in(struct proc_logfile *lf, int dfd)
{
    int fd;
    int rc = safefile_openat(dfd, lf->leaf, O_WRONLY | O_CREAT | O_APPEND,
                             0600, &fd);
    if (rc != NAOS_OK)
        return rc == NAOS_ENOTFOUND ? NAOS_ESYS : rc;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NAOS_ESYS;
    }
    lf->fd = fd;
    lf->size = (uint64_t)st.st_size;
    return NAOS_OK;
}

static int
open_current(struct proc_logfile *lf, bool create)
{
    int dfd;
    int rc = open_dir(lf, create, &dfd);
    if (rc != NAOS_OK)
        return rc;
    rc = open_current_in(lf, dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int
proc_logfile_open(struct proc_logfile **out, const char *root,
                  const char *rel, uint64_t max_bytes, unsigned keep)
{
    if (out == NULL || root == NULL || root[0] == '\0' || rel == NULL ||
        rel[0] == '\0' || rel[0] == '/' || rel[strlen(rel) - 1] == '/')
        return NAOS_EINVAL;
    int rc = NAOS_ENOMEM;
    struct proc_logfile *lf = naos_alloc(sizeof *lf);
    if (lf == NULL)
        return NAOS_ENOMEM;
    memset(lf, 0, sizeof *lf);
    lf->fd = -1;
    lf->max_bytes = max_bytes != 0 ? max_bytes : PROC_LOGFILE_DEFAULT_MAX_BYTES;
    lf->keep = keep > PROC_LOGFILE_MAX_KEEP ? PROC_LOGFILE_MAX_KEEP : keep;
    const char *slash = strrchr(rel, '/');
    size_t dlen = slash ? (size_t)(slash - rel) : 0;
    const char *leaf = slash ? slash + 1 : rel;
    if ((lf->root = naos_strdup(root)) == NULL ||
        (lf->dir = naos_alloc(dlen + 1)) == NULL ||
        (lf->leaf = naos_strdup(leaf)) == NULL)
        goto err_after_alloc;
    memcpy(lf->dir, rel, dlen);
    lf->dir[dlen] = '\0';
    lf->name_cap = strlen(leaf) + 8; /* ".NN" + NUL, with room */
    if ((lf->name_a = naos_alloc(lf->name_cap)) == NULL ||
        (lf->name_b = naos_alloc(lf->name_cap)) == NULL)
        goto err_after_alloc;
    if ((rc = open_current(lf, true)) != NAOS_OK)
        goto err_after_alloc;
    *out = lf;
    return NAOS_OK;

err_after_alloc: {
    int e = errno;
    naos_free(lf->name_b);
    naos_free(lf->name_a);
    naos_free(lf->leaf);
    naos_free(lf->dir);
    naos_free(lf->root);
    naos_free(lf);
    errno = e;
}
    return rc;
}

void
proc_logfile_release(struct proc_logfile *lf)
{
    if (lf != NULL && lf->fd >= 0) {
        close(lf->fd);
        lf->fd = -1;
    }
}

void
proc_logfile_close(struct proc_logfile *lf)
{
    if (lf == NULL)
        return;
    if (lf->fd >= 0)
        close(lf->fd);
    naos_free(lf->name_b);
    naos_free(lf->name_a);
    naos_free(lf->leaf);
    naos_free(lf->dir);
    naos_free(lf->root);
    naos_free(lf);
}

/* rotate shifts the files by one and opens a fresh current file. Names
 * are resolved in the directory fd, so no link is followed. */
static int
rotate(struct proc_logfile *lf)
{
    if (lf->fd >= 0) {
        close(lf->fd);
        lf->fd = -1;
    }
    int dfd;
    int rc = open_dir(lf, false, &dfd);
    if (rc != NAOS_OK)
        return rc;
    rc = NAOS_ESYS;
    for (unsigned i = lf->keep; i > 1; i--) {
        snprintf(lf->name_a, lf->name_cap, "%s.%u", lf->leaf, i - 1);
        snprintf(lf->name_b, lf->name_cap, "%s.%u", lf->leaf, i);
        if (renameat(dfd, lf->name_a, dfd, lf->name_b) < 0 && errno != ENOENT)
            goto out;
    }
    if (lf->keep > 0) {
        snprintf(lf->name_a, lf->name_cap, "%s.1", lf->leaf);
        if (renameat(dfd, lf->leaf, dfd, lf->name_a) < 0 && errno != ENOENT)
            goto out;
    } else if (unlinkat(dfd, lf->leaf, 0) < 0 && errno != ENOENT) {
        goto out;
    }
    rc = open_current_in(lf, dfd);
out: {
    int e = errno;
    close(dfd);
    errno = e;
}
    return rc;
}

/* write_all writes n bytes to the current file. */
static int
write_all(struct proc_logfile *lf, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(lf->fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return NAOS_ESYS;
        }
        lf->size += (uint64_t)w;
        p += w;
        n -= (size_t)w;
    }
    return NAOS_OK;
}

int
proc_logfile_write(struct proc_logfile *lf, const void *buf, size_t len)
{
    const char *p = buf;
    int rc;
    if (lf->fd < 0 && (rc = open_current(lf, false)) != NAOS_OK)
        goto err_drop;
    while (len > 0) {
        if (lf->size >= lf->max_bytes && (rc = rotate(lf)) != NAOS_OK)
            goto err_drop;
        size_t room = (size_t)(lf->max_bytes - lf->size);
        if (len <= room) {
            if ((rc = write_all(lf, p, len)) != NAOS_OK)
                goto err_drop;
            return NAOS_OK;
        }
        /* It does not fit: the file ends at a line's end, so that the
         * current file (what `naos logs --tail` reads) starts with a whole
         * line. Only a line longer than a whole file is split. */
        const char *nl = memrchr(p, '\n', room);
        size_t n = nl != NULL ? (size_t)(nl - p) + 1
                   : lf->size == 0 ? room : 0;
        if (n > 0 && (rc = write_all(lf, p, n)) != NAOS_OK)
            goto err_drop;
        p += n;
        len -= n;
        if (len > 0 && (rc = rotate(lf)) != NAOS_OK)
            goto err_drop;
    }
    return NAOS_OK;

err_drop:
    lf->dropped += len;
    return rc;
}

int
proc_logfile_pump(struct proc_logfile *lf, int rd_fd, bool *eof)
{
    char buf[32 * 1024];
    size_t total = 0;
    while (total < PROC_LOGFILE_PUMP_MAX) {
        ssize_t n = read(rd_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return NAOS_ESYS;
        }
        if (n == 0) {
            *eof = true;
            return NAOS_OK;
        }
        total += (size_t)n;
        (void)proc_logfile_write(lf, buf, (size_t)n); /* drops are counted */
    }
    *eof = false;
    return NAOS_OK;
}

uint64_t
proc_logfile_size(const struct proc_logfile *lf)
{
    return lf->size;
}

uint64_t
proc_logfile_dropped(const struct proc_logfile *lf)
{
    return lf->dropped;
}

/* tail_start finds where the last `lines` lines of fd (size bytes) begin. */
static int
tail_start(int fd, uint64_t size, unsigned lines, uint64_t *start)
{
    if (lines == 0) {
        *start = size;
        return NAOS_OK;
    }
    char blk[4096];
    uint64_t end = size;
    unsigned seen = 0;
    bool skip_final = true; /* a final '\n' ends the last line, not starts one */
    while (end > 0) {
        size_t n = end < sizeof blk ? (size_t)end : sizeof blk;
        uint64_t at = end - n;
        ssize_t r = pread(fd, blk, n, (off_t)at);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return NAOS_ESYS;
        }
        if ((size_t)r != n) { /* truncated under us: start from the top */
            *start = 0;
            return NAOS_OK;
        }
        for (size_t i = n; i > 0; i--) {
            if (skip_final) {
                skip_final = false;
                if (at + i == size && blk[i - 1] == '\n')
                    continue;
            }
            if (blk[i - 1] == '\n' && ++seen == lines) {
                *start = at + i;
                return NAOS_OK;
            }
        }
        end = at;
    }
    *start = 0;
    return NAOS_OK;
}

int
proc_logfile_read(const char *path, int64_t offset, unsigned tail_lines,
                  char *buf, size_t cap, size_t *len, int64_t *next_offset,
                  bool *rotated)
{
    if (path == NULL || buf == NULL || len == NULL || next_offset == NULL ||
        rotated == NULL)
        return NAOS_EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return errno == ENOENT ? NAOS_ENOTFOUND : NAOS_ESYS;
    int rc = NAOS_ESYS;
    struct stat st;
    if (fstat(fd, &st) < 0)
        goto out;
    if (!S_ISREG(st.st_mode)) { /* a planted FIFO or device is no log */
        errno = EPERM;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t start;
    bool rot = false;
    if (offset < 0) {
        if ((rc = tail_start(fd, size, tail_lines, &start)) != NAOS_OK)
            goto out;
    } else if ((uint64_t)offset > size) {
        rot = true;
        start = 0;
    } else {
        start = (uint64_t)offset;
    }
    size_t got = 0;
    while (got < cap) {
        ssize_t r = pread(fd, buf + got, cap - got, (off_t)(start + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = NAOS_ESYS;
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *len = got;
    *next_offset = (int64_t)(start + got);
    *rotated = rot;
    rc = NAOS_OK;
out: {
    int e = errno;
    close(fd);
    errno = e;
}
    return rc;
}
