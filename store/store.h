/* SPDX-License-Identifier: Apache-2.0 */
/* store.h: the node's persistent store. One LMDB environment in the data
 * directory, with one named table per kind of record (enum store_table).
 * This is the only module that sees LMDB: every MDB_* code is converted to
 * a naos_err here, with the details in store_errmsg().
 *
 * Durability: every write transaction (store_write) is committed with
 * LMDB's default, synchronous flags, so when store_write returns NAOS_OK
 * the data is on disk (RAFT-LITE P1). A commit that fails is fatal: the
 * store then refuses all further use with NAOS_ESTORE (RAFT-LITE P8); the
 * node must stop and reopen from disk.
 *
 * Map growth: the map starts at store_options.map_size. A write that does
 * not fit is aborted, the map is doubled and the whole write is run again
 * (store_write re-runs its callback), up to store_options.max_map_size.
 *
 * Threads: single-threaded. All calls on one store come from one thread
 * (the node's loop thread). Do not fork with a store open and use it in
 * the child; a child may open a store of its own.
 *
 * Typed tables are in store/raftlog.h (raft log, hard state) and
 * store/state.h (deployments, placements, nodes, checkpoints, identity)
 * and store/eventlog.h (the supervision events). */
#ifndef NAOS_STORE_STORE_H
#define NAOS_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* STORE_SCHEMA_VERSION: the layout this code reads and writes. Stored in
 * the `meta` table under key "schema_version" (4-byte big-endian). A store
 * written by a newer schema is refused at open. Raise it only for a change
 * that store.proto's evolution rules cannot express. */
#define STORE_SCHEMA_VERSION 1u

#define STORE_ERRMSG_LEN 512
#define STORE_DEFAULT_MAP_SIZE (64ull << 20)    /* 64 MiB */
#define STORE_DEFAULT_MAX_MAP_SIZE (8ull << 30) /* 8 GiB */
#define STORE_MAX_KEY 511 /* LMDB's compiled-in key size limit */

/* enum store_table: the named tables (LMDB DBIs) of the environment. */
enum store_table {
    STORE_META,        /* "schema_version", "last_applied" */
    STORE_RAFT_LOG,    /* 8-byte BE index -> LogEntryRecord */
    STORE_RAFT_HARD,   /* "state" -> HardStateRecord */
    STORE_DEPLOYMENTS, /* name -> DeploymentRecord */
    STORE_PLACEMENTS,  /* name -> PlacementRecord */
    STORE_NODES,       /* 8-byte BE node id -> NodeRecord */
    STORE_CHECKPOINTS, /* agent path -> CheckpointRecord */
    STORE_IDENTITY,    /* "self" -> IdentityRecord */
    STORE_EVENTS,      /* 8-byte BE seq -> naos.v1.Event (store/eventlog.h) */
    STORE_CLIENTS,     /* 8-byte BE client id -> ClientRecord (clients.h) */
    STORE_CLIENT_AGE,  /* 8-byte BE entry index -> 8-byte BE client id */
    STORE_CLUSTER,     /* "conf" -> ClusterConfRecord (store/conf.h) */
    STORE_DRAINS,      /* 8-byte BE node id -> DrainRecord */
    STORE_NTABLES
};

/* struct store_options: how to open. Zero fields take the defaults, so
 * STORE_OPTIONS_ZERO (or a NULL pointer) means "durable, 64 MiB, up to
 * 8 GiB". */
struct store_options {
    uint64_t map_size;     /* initial map size in bytes; 0 = default */
    uint64_t max_map_size; /* growth stops here; 0 = default */
    /* unsafe_nosync: commit without fsync (MDB_NOSYNC). Tests and
     * throw-away benchmarks only: a power loss can lose or corrupt
     * acknowledged data. Without it, open refuses an environment in which
     * any of MDB_NOSYNC, MDB_NOMETASYNC, MDB_MAPASYNC is set. */
    bool unsafe_nosync;
};
#define STORE_OPTIONS_ZERO {0, 0, false}

struct store;     /* opaque: one open store */
struct store_txn; /* opaque: a transaction, valid inside a callback only */

/* store_open opens (creating if missing) the store in directory dir
 * (borrowed; created with mode 0700 if missing, parent must exist) and
 * stores the new handle in *out. opts is borrowed; NULL = defaults.
 *
 * It takes an exclusive flock on DIR/store.lock (and writes our pid into
 * it) before touching LMDB, so a second process is refused with "data
 * directory DIR is in use by another naos-node (pid N): stop it or use
 * another --data DIR". It then clears stale reader slots
 * (mdb_reader_check), checks the sync flags, opens every table and checks
 * the schema version.
 *
 * Returns NAOS_OK; NAOS_EBUSY (directory in use); NAOS_EINVAL (bad
 * arguments or options); NAOS_ESTORE (LMDB failure, newer schema, unsafe
 * flags); NAOS_ESYS (mkdir/open of the directory failed); NAOS_ENOMEM.
 * On error *out is untouched and a message is written to errbuf (caller
 * buffer + length; may be NULL). */
int store_open(struct store **out, const char *dir,
               const struct store_options *opts, char *errbuf,
               size_t errlen);

/* store_close closes the environment, releases the lock and frees s.
 * NULL is fine. No transaction may be running. */
void store_close(struct store *s);

/* store_errmsg returns the message of the last failed call on s (valid
 * until the next call on s or store_close). Empty after success. */
const char *store_errmsg(const struct store *s);

/* store_dir returns the data directory (valid until store_close). */
const char *store_dir(const struct store *s);

/* store_used_bytes stores in *used the bytes of the map in use (pages up
 * to the last one written). NAOS_OK or NAOS_ESTORE. */
int store_used_bytes(const struct store *s, uint64_t *used);
/* store_map_size returns the current map size in bytes. */
uint64_t store_map_size(const struct store *s);

/* store_commits: write transactions committed since store_open (each
 * one synced unless unsafe_nosync): what drives the store's fsyncs. */
uint64_t store_commits(const struct store *s);

/* store_is_failed is true once a commit failed: every call then returns
 * NAOS_ESTORE. */
bool store_is_failed(const struct store *s);

/* store_fatal_fn: the store has just turned failed (why: borrowed for the
 * call). Called once, on the loop thread, from inside the store call that
 * failed, before that call returns. */
typedef void (*store_fatal_fn)(void *arg, const char *why);

/* store_on_fatal sets fn(arg) to be called when a commit fails (or the
 * environment panics): the node stops there (exit 111), so nothing is
 * acknowledged after a failed commit (RAFT-LITE P8). NULL fn: none (the
 * default: the store only refuses further use). */
void store_on_fatal(struct store *s, store_fatal_fn fn, void *arg);

/* store_is_durable is false only when opened with unsafe_nosync. */
bool store_is_durable(const struct store *s);

/* store_txn_fn: the body of a transaction. Return NAOS_OK to commit (write
 * transactions) or any naos_err to abort; that code is returned by
 * store_write/store_read. A write body may run MORE THAN ONCE: when the
 * map fills, the transaction is aborted, the map grows and the body is
 * called again with a fresh transaction. So it must not keep state across
 * calls (reset any output at its start) and must have no side effects
 * outside the transaction. arg is the caller's pointer, passed through. */
typedef int (*store_txn_fn)(struct store_txn *t, void *arg);

/* store_write runs fn in a write transaction and commits it, synced to
 * disk unless unsafe_nosync. Returns NAOS_OK once the commit is durable;
 * fn's error (transaction aborted, nothing changed); NAOS_ESTORE when the
 * map cannot grow further (nothing changed, store usable) or when the
 * commit failed (store now failed for good). Not reentrant: fn must not
 * call store_write or store_read. */
int store_write(struct store *s, store_txn_fn fn, void *arg);

/* store_read runs fn in a short read-only transaction. Pointers obtained
 * inside are valid until fn returns: copy what you keep. Returns fn's
 * result, or NAOS_ESTORE. */
int store_read(struct store *s, store_txn_fn fn, void *arg);

/* ---- reading from another thread ---------------------------------------
 * The store is the loop thread's; a long read that must not hold the
 * loop (a snapshot save: store/snapshot.h) may run on ONE other thread
 * through a reader. Its read transaction sees one consistent state and
 * does not block the loop's writes, but while it may be reading, a write
 * that must grow the map waits for it to end (the map is not remapped
 * under a reader); that wait is logged. */
struct store_reader; /* opaque */

/* store_reader_open (loop thread) makes a reader of s in *out. Returns
 * NAOS_OK, NAOS_ENOMEM, or NAOS_ESTORE (the store has failed). */
int store_reader_open(struct store *s, struct store_reader **out);

/* store_reader_read (the other thread; at most once per reader) runs fn
 * in a read transaction of its own, as store_read does; the transaction
 * belongs to the reader, so messages of failed calls in it go to
 * store_reader_errmsg(rd), never to s. Once it returns, map growth may go
 * on. Returns fn's result, NAOS_EINVAL (called twice) or NAOS_ESTORE. */
int store_reader_read(struct store_reader *rd, store_txn_fn fn, void *arg);

/* store_reader_errmsg: the reader's last message (valid until the next
 * call on rd). */
const char *store_reader_errmsg(const struct store_reader *rd);

/* store_reader_close (loop thread, once the other thread is done with
 * rd: joined) frees rd. NULL is fine. */
void store_reader_close(struct store_reader *rd);

/* ---- inside a transaction ---------------------------------------------
 * All of these take t as given to a store_txn_fn and are valid only during
 * that call. Keys and values passed in are borrowed (copied into the
 * store). Keys are 1..STORE_MAX_KEY bytes, compared with memcmp (so
 * integers are stored big-endian, see store_be64_put). An LMDB failure
 * marks the transaction as failed: later calls in it return NAOS_ESTORE and
 * store_write aborts it whatever fn returns. */

/* store_txn_store returns the store t belongs to. */
struct store *store_txn_store(struct store_txn *t);

/* store_txn_get looks key up in table tb. *val and *vlen point into the map:
 * valid until the transaction ends or the next write in it. Returns
 * NAOS_OK or NAOS_ENOTFOUND (or NAOS_EINVAL/NAOS_ESTORE). */
int store_txn_get(struct store_txn *t, enum store_table tb, const void *key,
                  size_t klen, const void **val, size_t *vlen);

/* Flags for store_txn_put/store_txn_reserve. */
#define STORE_PUT_APPEND 0x1u      /* key is greater than every key (fast) */
#define STORE_PUT_NOOVERWRITE 0x2u /* NAOS_EEXIST if the key exists */

/* store_txn_put writes val (vlen bytes) under key in table tb (write
 * transactions only). Returns NAOS_OK; NAOS_EEXIST (NOOVERWRITE and the
 * key exists, or APPEND and the key is not the greatest); NAOS_EINVAL
 * (read transaction, bad key); NAOS_ESTORE. */
int store_txn_put(struct store_txn *t, enum store_table tb, const void *key,
                  size_t klen, const void *val, size_t vlen, unsigned flags);

/* store_txn_reserve is store_txn_put without the copy: it reserves vlen
 * bytes under key and points *dst at them; the caller fills all vlen bytes
 * before the next call on t. Same errors as store_txn_put. */
int store_txn_reserve(struct store_txn *t, enum store_table tb,
                      const void *key, size_t klen, size_t vlen,
                      unsigned flags, void **dst);

/* store_txn_del deletes key from table tb. NAOS_OK or NAOS_ENOTFOUND. */
int store_txn_del(struct store_txn *t, enum store_table tb, const void *key,
                  size_t klen);

/* store_txn_del_from deletes every key >= key (a cursor walk from there to
 * the end, in this transaction) and reports how many in *count (may be
 * NULL). Deleting nothing is NAOS_OK. */
int store_txn_del_from(struct store_txn *t, enum store_table tb,
                       const void *key, size_t klen, uint64_t *count);

/* store_txn_count sets *n to the number of keys in table tb as
 * transaction t sees it (LMDB keeps the count: no walk). */
int store_txn_count(struct store_txn *t, enum store_table tb, uint64_t *n);

/* store_txn_first/store_txn_last give the smallest/greatest key of table
 * tb and its value (pointers valid as for store_txn_get; any of the out
 * pointers may be NULL). NAOS_ENOTFOUND when the table is empty. */
int store_txn_first(struct store_txn *t, enum store_table tb,
                    const void **key, size_t *klen, const void **val,
                    size_t *vlen);
int store_txn_last(struct store_txn *t, enum store_table tb,
                   const void **key, size_t *klen, const void **val,
                   size_t *vlen);

/* store_scan_fn is called for each pair (borrowed: valid during the call).
 * Return NAOS_OK to go on, STORE_SCAN_STOP to stop (store_txn_scan then
 * returns NAOS_OK), or a naos_err to stop and return it. */
#define STORE_SCAN_STOP 1
typedef int (*store_scan_fn)(const void *key, size_t klen, const void *val,
                             size_t vlen, void *arg);

/* store_txn_scan calls fn for each pair of table tb in key order, starting
 * at the first key >= from (from NULL = from the first key). */
int store_txn_scan(struct store_txn *t, enum store_table tb,
                   const void *from, size_t fromlen, store_scan_fn fn,
                   void *arg);

/* store_txn_fail records a message for the caller (printf-style, visible
 * through store_errmsg) and returns err, for typed layers that reject an
 * input: `return store_txn_fail(t, NAOS_EINVAL, "gap at %llu", i);`. */
int store_txn_fail(struct store_txn *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* store_fail sets s's message (printf-style) and returns err; for typed
 * layers outside a transaction. */
int store_fail(struct store *s, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* store_be64_put/store_be64_get: 8-byte big-endian integers, the key
 * encoding of indexes and ids (memcmp order == numeric order). */
static inline void
store_be64_put(unsigned char b[8], uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}
static inline uint64_t
store_be64_get(const unsigned char b[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b[i];
    return v;
}

/* ---- test hooks ---------------------------------------------------------
 * Compiled in always, called only by tests (they change no behaviour until
 * armed). Process-wide, not per store. */

/* store_fault_fail_next_commit makes the next store_write fail at commit
 * as if fsync had failed: the transaction is aborted and the store turns
 * failed (P8). */
void store_fault_fail_next_commit(void);

/* store_fault_force_nosync makes the next store_open set MDB_NOSYNC
 * whatever the options say, to prove the flag check refuses it. */
void store_fault_force_nosync(void);

/* store_fault_pause_in_grow makes the next map growth write one byte to
 * fd (borrowed) and then pause() forever, right after the map was resized
 * and before the write is run again: the crash test kills the process
 * there. fd < 0 disarms. */
void store_fault_pause_in_grow(int fd);

#endif
