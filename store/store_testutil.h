/* SPDX-License-Identifier: Apache-2.0 */
/* store_testutil.h: fixtures for the store tests (tests only). Each case
 * makes a fresh directory with st_tmpdir and removes it with st_rmdir at
 * the end; a failing case leaves it behind for inspection. */
#ifndef NAOS_STORE_TESTUTIL_H
#define NAOS_STORE_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/base/testing.h"
#include "store/store.h"

static inline void
st_tmpdir(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/naos-store-test.XXXXXX", base ? base : "/tmp");
    if (mkdtemp(buf) == NULL)
        NT_FAIL("mkdtemp %s failed", buf);
}

static inline int
st_rm_one(const char *path, const struct stat *sb, int flag,
          struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void
st_rmdir(const char *dir)
{
    nftw(dir, st_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* st_open opens dir with opts or fails the case, printing the message. */
static inline struct store *
st_open(const char *dir, const struct store_options *opts)
{
    struct store *s = NULL;
    char err[512];
    int rc = store_open(&s, dir, opts, err, sizeof err);
    if (rc != 0)
        NT_FAIL("store_open %s: %d: %s", dir, rc, err);
    return s;
}

#define ST_OK(s, expr)                                                       \
    do {                                                                     \
        int st_rc = (expr);                                                  \
        if (st_rc != 0)                                                      \
            NT_FAIL("%s: %d: %s", #expr, st_rc, store_errmsg(s));            \
    } while (0)

#endif
