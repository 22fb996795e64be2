/* SPDX-License-Identifier: Apache-2.0 */
/* safedir.h: the directories naos trusts, and the check that they deserve
 * it. The node keeps its lock, sockets and addresses in the run directory
 * and its store and logs in the data directory; the CLI sends specs (and
 * --env secrets) to the socket it finds in the run directory. A directory
 * that another user owns or can write to lets that user plant symbolic
 * links the node follows, or bind the socket the CLI talks to (the default
 * run directory /tmp/naos-$UID is anybody's to create first). So the node
 * and the CLI both refuse a directory unless:
 *
 *   - it is owned by the checking process's effective uid (with
 *     SAFEDIR_ALLOW_ROOT, root too: the CLI of any user may talk to a node
 *     run by root);
 *   - neither group nor others may write to it (0700 and 0755 are fine);
 *   - when the path itself is a symbolic link, the link is owned the same
 *     way (a link another user planted in /tmp is refused) and the target
 *     passes the checks above.
 *
 * Ancestors are not checked: the usual parents (a home directory,
 * /run/user/UID, /var/lib, and /tmp, whose sticky bit stops other users
 * from renaming our directory away) keep these rules true. Inside a
 * directory that passed, nobody else can add, rename or remove an entry,
 * so what the node creates there stays its own (node/base/safefile.h opens
 * it without following links all the same: entries planted before the
 * operator fixed the mode may still be there).
 *
 * Errors are written to a caller buffer as a sentence that names the path,
 * what is wrong with it and the command that fixes it. No dependency beyond
 * libc and err.h (the CLI uses it too). Any thread. */
#ifndef NAOS_BASE_SAFEDIR_H
#define NAOS_BASE_SAFEDIR_H

#include <stddef.h>
#include <sys/types.h>

/* Accept root as the owner as well as uid (the CLI: a node run by root). */
#define SAFEDIR_ALLOW_ROOT 0x1u

/* struct safedir_names: how errors name a directory and its way out, e.g.
 * {"run directory", "choose another --run DIR"}. Both borrowed. */
struct safedir_names {
    const char *what; /* "run directory" */
    const char *alt;  /* the other way out, after the command to run */
};

/* safedir_check checks that path (borrowed) is a directory the rules above
 * allow for a process of effective uid uid (flags: SAFEDIR_ALLOW_ROOT or
 * 0). names (borrowed) words the error. Returns:
 *   NAOS_OK         it is safe;
 *   NAOS_ENOTFOUND  nothing is at path (errbuf says so);
 *   NAOS_EINVAL     it is unsafe or not a directory: errbuf (caller
 *                   buffer + length) says why and what to run, e.g.
 *                   "run directory /tmp/naos-0 is writable by group or
 *                   others (mode 0777): run `chmod 700 /tmp/naos-0`, or
 *                   choose another --run DIR";
 *   NAOS_ESYS       it could not be examined (errno kept; errbuf says).
 * Nothing is changed. */
int safedir_check(const char *path, uid_t uid, unsigned flags,
                  const struct safedir_names *names, char *errbuf,
                  size_t errlen);

/* safedir_make creates path (borrowed) and its missing parents with mode
 * 0700 (mkdir -p), then checks path with safedir_check(uid, 0): an existing
 * directory is used only if it passes, and is never chmod'ed or chown'ed
 * (the operator decides; the error says how). Returns NAOS_OK, NAOS_EINVAL
 * (unsafe, not a directory, or path too long; errbuf says) or NAOS_ESYS
 * (mkdir failed; errno kept, errbuf says). */
int safedir_make(const char *path, uid_t uid,
                 const struct safedir_names *names, char *errbuf,
                 size_t errlen);

/* safedir_check_socket checks that path (borrowed) is a unix socket owned
 * by uid (or root, with SAFEDIR_ALLOW_ROOT) that others cannot write to.
 * A symbolic link at path is refused, never followed. Call it after
 * safedir_check on the directory holding it: only a directory nobody else
 * can write to keeps the socket from being swapped after the check.
 * Returns NAOS_OK; NAOS_ENOTFOUND when there is no socket at path (no
 * file, or a file of another type, which nobody can listen on: a connect
 * fails as with no file); NAOS_EINVAL (errbuf says what is wrong and what
 * to do) or NAOS_ESYS (errno kept). */
int safedir_check_socket(const char *path, uid_t uid, unsigned flags,
                         const struct safedir_names *names, char *errbuf,
                         size_t errlen);

#endif
