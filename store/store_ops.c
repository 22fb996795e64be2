/* SPDX-License-Identifier: Apache-2.0 */
/* store_ops.c: the raw table operations inside a transaction (store.h,
 * "inside a transaction"). LMDB codes are converted by store__txn_err. */
#include <errno.h>
#include <lmdb.h>
#include <string.h>

#include "node/base/err.h"
#include "store/store.h"
#include "store/store_int.h"

int
store__conv(int rc)
{
    switch (rc) {
    case MDB_SUCCESS: return NAOS_OK;
    case MDB_NOTFOUND: return NAOS_ENOTFOUND;
    case MDB_KEYEXIST: return NAOS_EEXIST;
    case MDB_BAD_VALSIZE:
    case EINVAL: return NAOS_EINVAL;
    case MDB_TXN_FULL: return NAOS_ETOOBIG;
    case ENOMEM: return NAOS_ENOMEM;
    default: return NAOS_ESTORE;
    }
}

/* store__txn_err: see store_int.h. */
int
store__txn_err(struct store_txn *t, int rc, enum store_table tb,
               const char *what)
{
    if (rc == MDB_NOTFOUND)
        return NAOS_ENOTFOUND;
    if (rc == MDB_KEYEXIST)
        return store_txn_fail(t, NAOS_EEXIST, "store: %s %s: key exists",
                              store__table_names[tb], what);
    if (rc == MDB_MAP_FULL)
        t->map_full = true;
    if (rc != MDB_BAD_VALSIZE && rc != EINVAL)
        t->mdb_err = rc;
    return store_txn_fail(t, store__conv(rc), "store %s: %s %s: %s",
                          t->s->dir, store__table_names[tb], what,
                          mdb_strerror(rc));
}

int
store__txn_check(struct store_txn *t, enum store_table tb, size_t klen,
                 bool write)
{
    if ((unsigned)tb >= STORE_NTABLES)
        return store_txn_fail(t, NAOS_EINVAL, "store: no table %d", tb);
    if (t->mdb_err != 0)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store: transaction already failed: %s",
                              mdb_strerror(t->mdb_err));
    if (write && t->rdonly)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store: write in a read transaction");
    if (klen == 0 || klen > STORE_MAX_KEY)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store: %s: key of %zu bytes (1..%d allowed)",
                              store__table_names[tb], klen, STORE_MAX_KEY);
    return NAOS_OK;
}

/* ---- table operations ------------------------------------------------- */

int
store_txn_get(struct store_txn *t, enum store_table tb, const void *key,
              size_t klen, const void **val, size_t *vlen)
{
    int err = store__txn_check(t, tb, klen, false);
    if (err != NAOS_OK)
        return err;
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(t->txn, t->s->dbi[tb], &k, &v);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "get");
    *val = v.mv_data;
    *vlen = v.mv_size;
    return NAOS_OK;
}

static unsigned
put_flags(unsigned flags)
{
    return ((flags & STORE_PUT_APPEND) ? MDB_APPEND : 0) |
           ((flags & STORE_PUT_NOOVERWRITE) ? MDB_NOOVERWRITE : 0);
}

int
store_txn_put(struct store_txn *t, enum store_table tb, const void *key,
              size_t klen, const void *val, size_t vlen, unsigned flags)
{
    int err = store__txn_check(t, tb, klen, true);
    if (err != NAOS_OK)
        return err;
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(t->txn, t->s->dbi[tb], &k, &v, put_flags(flags));
    if (rc != 0)
        return store__txn_err(t, rc, tb, "put");
    return NAOS_OK;
}

int
store_txn_reserve(struct store_txn *t, enum store_table tb, const void *key,
                  size_t klen, size_t vlen, unsigned flags, void **dst)
{
    int err = store__txn_check(t, tb, klen, true);
    if (err != NAOS_OK)
        return err;
    MDB_val k = {klen, (void *)key}, v = {vlen, NULL};
    int rc = mdb_put(t->txn, t->s->dbi[tb], &k, &v,
                     put_flags(flags) | MDB_RESERVE);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "put");
    *dst = v.mv_data;
    return NAOS_OK;
}

int
store_txn_del(struct store_txn *t, enum store_table tb, const void *key,
              size_t klen)
{
    int err = store__txn_check(t, tb, klen, true);
    if (err != NAOS_OK)
        return err;
    MDB_val k = {klen, (void *)key};
    int rc = mdb_del(t->txn, t->s->dbi[tb], &k, NULL);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "delete");
    return NAOS_OK;
}

/* keycmp is LMDB's default key order: memcmp, then shorter first. */
static int
keycmp(const MDB_val *a, const void *b, size_t blen)
{
    size_t n = a->mv_size < blen ? a->mv_size : blen;
    int c = memcmp(a->mv_data, b, n);
    if (c != 0)
        return c;
    return a->mv_size < blen ? -1 : a->mv_size > blen;
}

int
store_txn_del_from(struct store_txn *t, enum store_table tb, const void *key,
                   size_t klen, uint64_t *count)
{
    int err = store__txn_check(t, tb, klen, true);
    if (err != NAOS_OK)
        return err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "open cursor");
    /* Walk back from the last key: each step is a fresh MDB_LAST, so no
     * reliance on cursor positioning after a delete. Suffixes are short
     * (Raft conflicts), so this costs little. */
    uint64_t n = 0;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 &&
           keycmp(&k, key, klen) >= 0) {
        rc = mdb_cursor_del(c, 0);
        if (rc != 0)
            break;
        n++;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return store__txn_err(t, rc, tb, "delete range");
    if (count != NULL)
        *count = n;
    return NAOS_OK;
}

static int
edge(struct store_txn *t, enum store_table tb, MDB_cursor_op op,
     const void **key, size_t *klen, const void **val, size_t *vlen)
{
    int err = store__txn_check(t, tb, 1, false);
    if (err != NAOS_OK)
        return err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "open cursor");
    MDB_val k, v;
    rc = mdb_cursor_get(c, &k, &v, op);
    mdb_cursor_close(c);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "cursor");
    if (key != NULL)
        *key = k.mv_data;
    if (klen != NULL)
        *klen = k.mv_size;
    if (val != NULL)
        *val = v.mv_data;
    if (vlen != NULL)
        *vlen = v.mv_size;
    return NAOS_OK;
}

int
store_txn_count(struct store_txn *t, enum store_table tb, uint64_t *n)
{
    int err = store__txn_check(t, tb, 1, false);
    if (err != NAOS_OK)
        return err;
    MDB_stat st;
    int rc = mdb_stat(t->txn, t->s->dbi[tb], &st);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "count");
    *n = st.ms_entries;
    return NAOS_OK;
}

int
store_txn_first(struct store_txn *t, enum store_table tb, const void **key,
                size_t *klen, const void **val, size_t *vlen)
{
    return edge(t, tb, MDB_FIRST, key, klen, val, vlen);
}

int
store_txn_last(struct store_txn *t, enum store_table tb, const void **key,
               size_t *klen, const void **val, size_t *vlen)
{
    return edge(t, tb, MDB_LAST, key, klen, val, vlen);
}

int
store_txn_scan(struct store_txn *t, enum store_table tb, const void *from,
               size_t fromlen, store_scan_fn fn, void *arg)
{
    int err = store__txn_check(t, tb, from != NULL ? fromlen : 1, false);
    if (err != NAOS_OK)
        return err;
    MDB_cursor *c;
    int rc = mdb_cursor_open(t->txn, t->s->dbi[tb], &c);
    if (rc != 0)
        return store__txn_err(t, rc, tb, "open cursor");
    MDB_val k = {fromlen, (void *)from}, v;
    MDB_cursor_op op = from != NULL ? MDB_SET_RANGE : MDB_FIRST;
    err = NAOS_OK;
    while ((rc = mdb_cursor_get(c, &k, &v, op)) == 0) {
        op = MDB_NEXT;
        err = fn(k.mv_data, k.mv_size, v.mv_data, v.mv_size, arg);
        if (err != NAOS_OK)
            break;
    }
    mdb_cursor_close(c);
    if (err == STORE_SCAN_STOP)
        return NAOS_OK;
    if (err != NAOS_OK)
        return err;
    if (rc != MDB_NOTFOUND)
        return store__txn_err(t, rc, tb, "scan");
    return NAOS_OK;
}
