/* SPDX-License-Identifier: Apache-2.0 */
/* safefile.h: files and directories below a directory naos trusts (see
 * safedir.h), reached without following a symbolic link anywhere below
 * it. Only the trusted directory itself is opened as given (the operator
 * chose it, links included, and safedir checked it); every component
 * below is opened with O_NOFOLLOW, so a link planted there (by an agent,
 * or by another user before the operator fixed the directory's mode) makes
 * the operation fail instead of reaching a file elsewhere. Files the node
 * writes are also refused unless they are regular files of its own with a
 * single link: a planted hard link would otherwise be written through.
 *
 * Used by the node for RUN/node.lock, RUN/http.addr, RUN/gossip.addr and
 * the worker logs and their removal under DATA/logs. No dependency beyond
 * libc and err.h. Any thread; nothing is shared. */
#ifndef NAOS_BASE_SAFEFILE_H
#define NAOS_BASE_SAFEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Most levels of directories (the top one included) safefile_remove_tree
 * removes (a deployment tree has at most 32 levels, spec.h). */
#define SAFEFILE_MAX_DEPTH 64

/* safefile_open_dir opens the directory rel (borrowed: '/'-separated
 * components, "" or NULL for root itself) under root (borrowed), one
 * component at a time with O_NOFOLLOW; with create, missing components are
 * made with mode 0700. On success *out is an O_DIRECTORY|O_CLOEXEC fd the
 * caller closes. Returns NAOS_OK; NAOS_EINVAL when rel is absolute or has
 * an empty, "." or ".." component, or is too long; NAOS_ENOTFOUND when a
 * component is missing (and not create); NAOS_ESYS otherwise (errno kept:
 * ELOOP or ENOTDIR for a link where a directory should be). */
int safefile_open_dir(const char *root, const char *rel, bool create,
                      int *out);

/* safefile_openat opens name (borrowed, one component) in the directory
 * dirfd with flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY (and mode when
 * flags has O_CREAT), then keeps it only if it is a regular file owned by
 * our effective uid with one link. O_TRUNC is refused (it would act before
 * the check): truncate after. The open is non-blocking (a planted FIFO
 * must not hang the node); the fd returned is blocking again. On success
 * *out is the fd (caller closes). Returns NAOS_OK; NAOS_ENOTFOUND (no such
 * file, no O_CREAT); NAOS_EINVAL when the file is refused, errno telling
 * why: ELOOP a symbolic link, EMLINK more than one link, EPERM another
 * owner or not a regular file, EINVAL a bad name or O_TRUNC; NAOS_ESYS
 * (errno kept). */
int safefile_openat(int dirfd, const char *name, int flags, mode_t mode,
                    int *out);

/* safefile_write_atomic replaces dir/name (dir borrowed, a trusted
 * directory; name borrowed, one component of at most 200 bytes) by len
 * bytes of data (borrowed), so a reader sees the old content or the new,
 * never a mix: the data goes to name.tmp (a stale one is unlinked first;
 * unlink never follows a link), created with O_EXCL|O_NOFOLLOW and mode,
 * which is then renamed over name. Returns NAOS_OK, NAOS_EINVAL (bad
 * name) or NAOS_ESYS (errno kept; no temporary is left behind). */
int safefile_write_atomic(const char *dir, const char *name,
                          const void *data, size_t len, mode_t mode);

/* safefile_remove_tree removes the entry name (borrowed, one component)
 * of the directory dirfd: a file or a symbolic link is unlinked (a link's
 * target is never touched), a directory is emptied depth-first (each
 * subdirectory opened with O_NOFOLLOW) and removed. Nothing there is
 * success. Returns NAOS_OK; NAOS_EINVAL (name is not one component, or
 * the tree is deeper than SAFEFILE_MAX_DEPTH; what could be removed is
 * gone); NAOS_ESYS (errno kept). */
int safefile_remove_tree(int dirfd, const char *name);

#endif
