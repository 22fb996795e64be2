/* SPDX-License-Identifier: Apache-2.0 */
/* store_int.h: internals shared by store.c (environment, transactions)
 * and store_ops.c (table operations). Not for use outside store/. */
#ifndef NAOS_STORE_STORE_INT_H
#define NAOS_STORE_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>

#include "store/store.h"

/* store__table_names: the LMDB DBI name of each enum store_table. */
extern const char *const store__table_names[STORE_NTABLES];

struct store {
    MDB_env *env;
    MDB_dbi dbi[STORE_NTABLES];
    int lockfd;
    char *dir;
    uint64_t map_size;
    uint64_t max_map_size;
    bool unsafe_nosync;
    bool failed;
    bool in_txn;
    uint64_t commits; /* write transactions committed */
    char errmsg[STORE_ERRMSG_LEN];
    char fatal[STORE_ERRMSG_LEN]; /* why the store failed, when it did */
    store_fatal_fn on_fatal;      /* store_on_fatal */
    void *on_fatal_arg;
    /* Readers on other threads (store_reader): the map is not grown
     * while one may be reading, since mdb_env_set_mapsize must not run
     * with a transaction open anywhere in the process. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int readers; /* opened and not done yet */
};

struct store_txn {
    struct store *s;
    MDB_txn *txn;
    bool rdonly;
    bool map_full; /* a write hit MDB_MAP_FULL: grow and run again */
    int mdb_err;   /* an LMDB error that poisoned the transaction */
};

/* store__conv maps an LMDB (or errno) code to a naos_err. */
int store__conv(int rc);

/* store__txn_err handles an LMDB error from an operation inside
 * transaction t. NOTFOUND/KEYEXIST/BAD_VALSIZE leave the transaction
 * usable; anything else poisons it, and MAP_FULL also asks store_write to
 * grow and rerun. Returns the naos_err, with a message in the store. */
int store__txn_err(struct store_txn *t, int rc, enum store_table tb,
                   const char *what);

/* store__txn_check validates the common arguments of a table operation. */
int store__txn_check(struct store_txn *t, enum store_table tb, size_t klen,
                     bool write);

#endif
