/* SPDX-License-Identifier: Apache-2.0 */
/* safedir.c: see safedir.h. The rules are OpenSSH's StrictModes and
 * sudo's for the files they trust, applied to one directory. */
#include "node/base/safedir.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "node/base/err.h"

static bool
owner_ok(uid_t owner, uid_t uid, unsigned flags)
{
    return owner == uid || ((flags & SAFEDIR_ALLOW_ROOT) && owner == 0);
}

/* who writes "uid 1000" or "uid 1000 or root" for the expected owner. */
static void
who(uid_t uid, unsigned flags, char *buf, size_t len)
{
    snprintf(buf, len, "uid %lu%s", (unsigned long)uid,
             (flags & SAFEDIR_ALLOW_ROOT) && uid != 0 ? " or root" : "");
}

/* lstat_or_say is lstat, with the error worded for errbuf. */
static int
lstat_or_say(const char *path, const struct safedir_names *nm,
             struct stat *st, char *errbuf, size_t errlen)
{
    if (lstat(path, st) == 0)
        return NAOS_OK;
    int e = errno;
    if (e == ENOENT) {
        snprintf(errbuf, errlen, "%s %s does not exist", nm->what, path);
        errno = e;
        return NAOS_ENOTFOUND;
    }
    snprintf(errbuf, errlen, "cannot examine %s %s: %s", nm->what, path,
             strerror(e));
    errno = e;
    return NAOS_ESYS;
}

static int
bad_owner(const char *path, const struct safedir_names *nm, uid_t owner,
          uid_t uid, unsigned flags, const char *kind, char *errbuf,
          size_t errlen)
{
    char want[48];
    who(uid, flags, want, sizeof want);
    snprintf(errbuf, errlen,
             "%s %s is %s owned by uid %lu, not by %s: another user may have "
             "created it to intercept naos; if it is yours, run `chown %lu "
             "%s`, else remove it, or %s",
             nm->what, path, kind, (unsigned long)owner, want,
             (unsigned long)uid, path, nm->alt);
    return NAOS_EINVAL;
}

int
safedir_check(const char *path, uid_t uid, unsigned flags,
              const struct safedir_names *nm, char *errbuf, size_t errlen)
{
    struct stat st;
    int rc = lstat_or_say(path, nm, &st, errbuf, errlen);
    if (rc != NAOS_OK)
        return rc;
    if (S_ISLNK(st.st_mode)) {
        /* A link is as trustworthy as whoever made it: the operator's own
         * link to elsewhere is fine, one planted in /tmp is not. */
        if (!owner_ok(st.st_uid, uid, flags)) {
            char want[48];
            who(uid, flags, want, sizeof want);
            snprintf(errbuf, errlen,
                     "%s %s is a symbolic link owned by uid %lu, not by %s: "
                     "another user may have planted it; remove it (`rm %s`), "
                     "or %s",
                     nm->what, path, (unsigned long)st.st_uid, want, path,
                     nm->alt);
            return NAOS_EINVAL;
        }
        if (stat(path, &st) != 0) {
            int e = errno;
            snprintf(errbuf, errlen,
                     "%s %s is a symbolic link whose target cannot be used "
                     "(%s): fix or remove the link, or %s",
                     nm->what, path, strerror(e), nm->alt);
            errno = e;
            return NAOS_EINVAL;
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen, "%s %s is not a directory: remove it, or %s",
                 nm->what, path, nm->alt);
        return NAOS_EINVAL;
    }
    if (!owner_ok(st.st_uid, uid, flags))
        return bad_owner(path, nm, st.st_uid, uid, flags, "a directory",
                         errbuf, errlen);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(errbuf, errlen,
                 "%s %s is writable by group or others (mode %04o): run "
                 "`chmod 700 %s`, or %s",
                 nm->what, path, (unsigned)(st.st_mode & 07777), path,
                 nm->alt);
        return NAOS_EINVAL;
    }
    return NAOS_OK;
}

int
safedir_make(const char *path, uid_t uid, const struct safedir_names *nm,
             char *errbuf, size_t errlen)
{
    char buf[PATH_MAX];
    if (path == NULL || path[0] == '\0' ||
        snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        snprintf(errbuf, errlen, "%s path is empty or too long", nm->what);
        return NAOS_EINVAL;
    }
    /* Parents first. They are created 0700 too; existing ones are left as
     * they are (see safedir.h: ancestors are not ours to judge). */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
            int e = errno;
            snprintf(errbuf, errlen, "cannot create %s (for %s %s): %s", buf,
                     nm->what, path, strerror(e));
            errno = e;
            return NAOS_ESYS;
        }
        *p = '/';
    }
    if (mkdir(buf, 0700) < 0 && errno != EEXIST) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot create %s %s: %s", nm->what, path,
                 strerror(e));
        errno = e;
        return NAOS_ESYS;
    }
    int rc = safedir_check(path, uid, 0, nm, errbuf, errlen);
    /* Gone between mkdir and the check: someone is playing with it. */
    return rc == NAOS_ENOTFOUND ? NAOS_EINVAL : rc;
}

int
safedir_check_socket(const char *path, uid_t uid, unsigned flags,
                     const struct safedir_names *nm, char *errbuf,
                     size_t errlen)
{
    struct stat st;
    int rc = lstat_or_say(path, nm, &st, errbuf, errlen);
    if (rc != NAOS_OK)
        return rc;
    if (S_ISLNK(st.st_mode)) {
        snprintf(errbuf, errlen, "%s %s is a symbolic link, not a unix "
                 "socket: remove it, or %s", nm->what, path, nm->alt);
        return NAOS_EINVAL;
    }
    if (!S_ISSOCK(st.st_mode)) {
        /* Nobody can listen on a plain file: no socket, as if missing. */
        snprintf(errbuf, errlen, "%s %s is not a unix socket", nm->what,
                 path);
        return NAOS_ENOTFOUND;
    }
    if (!owner_ok(st.st_uid, uid, flags))
        return bad_owner(path, nm, st.st_uid, uid, flags, "a socket", errbuf,
                         errlen);
    if (st.st_mode & S_IWOTH) {
        snprintf(errbuf, errlen,
                 "%s %s can be written by others (mode %04o): anyone may "
                 "send it commands; run `chmod 600 %s`, or %s",
                 nm->what, path, (unsigned)(st.st_mode & 07777), path,
                 nm->alt);
        return NAOS_EINVAL;
    }
    return NAOS_OK;
}
