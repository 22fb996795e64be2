/* SPDX-License-Identifier: Apache-2.0 */
/* safefile.c: see safefile.h. Everything below the trusted directory goes
 * through *at() calls on directory fds opened with O_NOFOLLOW, the way
 * rm -rf (fts with FTS_PHYSICAL) and systemd-tmpfiles walk trees they do
 * not trust. */
#include "node/base/safefile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"

/* one_component: name is a single usable directory entry name. */
static bool
one_component(const char *name)
{
    return name != NULL && name[0] != '\0' && strchr(name, '/') == NULL &&
           strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strlen(name) <= NAME_MAX;
}

/* close_keep_errno closes fd without disturbing errno. */
static void
close_keep_errno(int fd)
{
    int e = errno;
    close(fd);
    errno = e;
}

static int
sys_err(void)
{
    return errno == ENOENT ? NAOS_ENOTFOUND : NAOS_ESYS;
}

int
safefile_open_dir(const char *root, const char *rel, bool create, int *out)
{
    char buf[PATH_MAX];
    if (root == NULL || root[0] == '\0')
        return NAOS_EINVAL;
    if (rel == NULL)
        rel = "";
    if (rel[0] == '/' ||
        snprintf(buf, sizeof buf, "%s", rel) >= (int)sizeof buf)
        return NAOS_EINVAL;
    /* Validate every component before touching anything. */
    for (char *c = buf; *c != '\0';) {
        char *end = strchrnul(c, '/');
        char save = *end;
        *end = '\0';
        bool ok = one_component(c);
        *end = save;
        if (!ok)
            return NAOS_EINVAL;
        c = save ? end + 1 : end;
        if (save && *c == '\0')
            return NAOS_EINVAL; /* trailing '/' */
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sys_err();
    for (char *c = buf; *c != '\0';) {
        char *end = strchrnul(c, '/');
        bool last = *end == '\0';
        *end = '\0';
        if (create && mkdirat(fd, c, 0700) < 0 && errno != EEXIST) {
            int rc = sys_err();
            close_keep_errno(fd);
            return rc;
        }
        int next = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                     O_CLOEXEC);
        if (next < 0) {
            int rc = sys_err();
            close_keep_errno(fd);
            return rc;
        }
        close(fd);
        fd = next;
        c = last ? end : end + 1;
    }
    *out = fd;
    return NAOS_OK;
}

int
safefile_openat(int dirfd, const char *name, int flags, mode_t mode,
                int *out)
{
    if (!one_component(name) || (flags & O_TRUNC)) {
        errno = EINVAL;
        return NAOS_EINVAL;
    }
    int fd = openat(dirfd, name,
                    flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
                    mode);
    if (fd < 0) {
        /* O_NOFOLLOW on a link: ELOOP (with O_CREAT|O_EXCL: EEXIST). */
        if (errno == ELOOP)
            return NAOS_EINVAL;
        return sys_err();
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close_keep_errno(fd);
        return NAOS_ESYS;
    }
    int why = 0;
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
        why = EPERM;
    else if (st.st_nlink != 1)
        why = EMLINK;
    if (why != 0) {
        close(fd);
        errno = why;
        return NAOS_EINVAL;
    }
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL,
                                       fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        close_keep_errno(fd);
        return NAOS_ESYS;
    }
    *out = fd;
    return NAOS_OK;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return NAOS_ESYS;
        }
        p += w;
        n -= (size_t)w;
    }
    return NAOS_OK;
}

int
safefile_write_atomic(const char *dir, const char *name, const void *data,
                      size_t len, mode_t mode)
{
    char tmp[256];
    if (!one_component(name) || strlen(name) > 200 ||
        (data == NULL && len > 0)) {
        errno = EINVAL;
        return NAOS_EINVAL;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return NAOS_ESYS;
    int rc = NAOS_ESYS;
    /* A temporary left by a node that died mid-write, or planted: unlink
     * removes whatever it is (a link, not its target); a directory there
     * makes this fail, as it should. */
    if (unlinkat(dfd, tmp, 0) < 0 && errno != ENOENT)
        goto out;
    int fd = openat(dfd, tmp,
                    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC |
                        O_NOCTTY,
                    mode);
    if (fd < 0)
        goto out;
    rc = write_all(fd, data, len);
    if (close(fd) < 0 && rc == NAOS_OK)
        rc = NAOS_ESYS;
    if (rc == NAOS_OK && renameat(dfd, tmp, dfd, name) < 0)
        rc = NAOS_ESYS;
    if (rc != NAOS_OK) {
        int e = errno;
        unlinkat(dfd, tmp, 0);
        errno = e;
    }
out:
    close_keep_errno(dfd);
    return rc;
}

/* remove_at removes name in dfd, depth levels below the caller's
 * directory. */
static int
remove_at(int dfd, const char *name, int depth)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return NAOS_OK;
    if (errno != EISDIR && errno != EPERM)
        return NAOS_ESYS;
    if (depth >= SAFEFILE_MAX_DEPTH) {
        errno = ELOOP;
        return NAOS_EINVAL;
    }
    int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? NAOS_OK : NAOS_ESYS;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close_keep_errno(fd);
        return NAOS_ESYS;
    }
    int rc = NAOS_OK;
    /* Entries removed while reading may or may not be listed again
     * (POSIX leaves it open): read until a pass removes nothing, a few
     * times at most (something still writing there makes the final rmdir
     * fail rather than keep us here). */
    bool again = true;
    for (int pass = 0; again && rc == NAOS_OK && pass < 4; pass++) {
        again = false;
        rewinddir(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if ((rc = remove_at(dirfd(d), e->d_name, depth + 1)) != NAOS_OK)
                break;
            again = true;
        }
    }
    int e = errno;
    closedir(d);
    errno = e;
    if (rc != NAOS_OK)
        return rc;
    if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return NAOS_ESYS;
    return NAOS_OK;
}

int
safefile_remove_tree(int dirfd, const char *name)
{
    if (!one_component(name)) {
        errno = EINVAL;
        return NAOS_EINVAL;
    }
    return remove_at(dirfd, name, 0);
}
