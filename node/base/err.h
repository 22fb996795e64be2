/* SPDX-License-Identifier: Apache-2.0 */
/* err.h: the one error enum of naos, and assertion helpers. */
#ifndef NAOS_BASE_ERR_H
#define NAOS_BASE_ERR_H

#include <stdio.h>
#include <stdlib.h>

/* enum naos_err: every fallible naos function returns one of these.
 * The values start at 1000 so they can never be mistaken for an errno. */
enum naos_err {
    NAOS_OK = 0,
    NAOS_ENOMEM = 1000, /* allocation failed */
    NAOS_EINVAL,        /* bad argument or input; nothing was changed */
    NAOS_ENOTFOUND,     /* no such deployment, child or file */
    NAOS_EEXIST,        /* the name is already taken */
    NAOS_EBUSY,         /* the object is in a state that forbids this now */
    NAOS_ECLOSED,       /* the object was closed */
    NAOS_ETIMEDOUT,     /* a deadline passed */
    NAOS_EAUTH,         /* authentication failed */
    NAOS_ESTORE,        /* persistent storage failed */
    NAOS_EPROTO,        /* a peer sent something we cannot decode */
    NAOS_ESYS,          /* a system call failed; see errno saved alongside */
    NAOS_ETOOBIG,       /* input exceeds a size limit */
    NAOS_ESTALE,        /* a write fenced by an epoch that is no longer
                           current (another placement took over) */
};

/* naos_strerror returns a static, human-readable text for err. */
const char *naos_strerror(int err);

/* NAOS_ASSERT: an invariant that is always checked; on failure it logs the
 * expression and location, then aborts. Used for "cannot happen" states. */
#define NAOS_ASSERT(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "naos: assertion failed: %s (%s:%d)\n", #cond,    \
                    __FILE__, __LINE__);                                      \
            abort();                                                          \
        }                                                                     \
    } while (0)

#endif
