/* SPDX-License-Identifier: Apache-2.0 */
/* snapshot.h: the applied cluster state as one stream, written from ONE
 * read transaction and loaded in ONE write transaction (all or nothing).
 * Used by `naos snapshot save` (the node dumps to a file, node_snapshot.c)
 * `naos-node recover` (node/node_recover.c) and InstallSnapshot
 * (node/node_raft_snap.c): the stream goes through a small writer/reader
 * interface, never a FILE*.
 *
 * Format (version 1), every integer big-endian:
 *
 *   off  0  8 bytes  magic "NAOSSNAP"
 *   off  8  u32      format version (SNAP_VERSION)
 *   off 12  u32      flags, 0 (a reader refuses others)
 *   off 16  u64      cluster id of the node that wrote it (0: none yet)
 *   off 24  u64      applied index: the state is the one after this entry
 *   off 32  u64      term of that entry (0 when its entry is not in the log)
 *   off 40  u64      node id of the writer
 *   off 48  i64      written at, wall clock ms since the epoch
 *   off 56  records: u32 length (1..SNAP_RECORD_MAX), then that many
 *           bytes of naos.v1.SnapshotRecord (proto/store.proto): every
 *           pair of every state table as stored (SnapshotEntry, tables in
 *           a fixed order, keys in key order), then one SnapshotEnd whose
 *           count must match
 *           32 bytes: BLAKE2b-256 of every byte before it
 *
 * A stream is refused, naming what is wrong and where (byte offset), when
 * its magic, version or flags are not these, a record's length is 0 or
 * over SNAP_RECORD_MAX, a record does not decode (or its value does not
 * decode as its table's record), a table number is unknown, a key is not
 * 1..STORE_MAX_KEY bytes or appears twice, there are more entries than
 * the limit, the end record is missing or miscounts, the stream ends early
 * (truncated), the checksum differs (corrupt), or bytes follow it.
 *
 * The state tables, the applied index (meta "last_applied") and nothing
 * else travel: the node's identity, the Raft log and hard state, the
 * voters, events and replay marks are the node's own; a caller that needs
 * them changed (recover) does so in the `finish` hook of the load, inside
 * the same transaction.
 *
 * Consistency: the save reads everything in one LMDB read transaction, so
 * the stream is the state after exactly entry `index` (apply writes its
 * effects and last_applied together). A read transaction does not block
 * the writer, but pins the pages it reads: the save holds it only while it
 * writes the stream.
 *
 * Threads: the store's (one thread), except store_snap_save_reader, which
 * runs on the thread of its reader. */
#ifndef NAOS_STORE_SNAPSHOT_H
#define NAOS_STORE_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define SNAP_MAGIC "NAOSSNAP" /* 8 bytes, no NUL in the file */
#define SNAP_VERSION 1u
#define SNAP_HEADER_LEN 56
#define SNAP_SUM_LEN 32
/* SNAP_RECORD_MAX: bytes of one record: a 1 MiB checkpoint (STORE_CKPT_MAX)
 * or a deployment from a command entry (CMD_MAX_ENTRY, under 1 MiB) plus
 * its key, its paths and fields. */
#define SNAP_RECORD_MAX ((1u << 20) + (64u << 10))
/* SNAP_ENTRIES_MAX: pairs in one snapshot (deployments, placements and
 * checkpoints together): far above what one store holds in practice, low
 * enough that a hostile count cannot keep a reader busy for long. */
#define SNAP_ENTRIES_MAX (1u << 22)
/* SNAP_TABLES_MAX: state tables a snapshot may carry (see snapshot.c). */
#define SNAP_TABLES_MAX 8

/* struct snap_writer: where a save writes. write(arg, buf, len) writes
 * all len bytes (buf borrowed) and returns NAOS_OK, or a naos_err
 * (NAOS_ESYS with errno kept) that stops the save. */
struct snap_writer {
    int (*write)(void *arg, const void *buf, size_t len);
    void *arg;
};

/* struct snap_reader: where a load reads. read(arg, buf, cap, got) reads
 * up to cap bytes into buf, setting *got (0 only at the end of the
 * stream); rewind(arg) goes back to the start: a load runs inside a store
 * write, which is run again when the map has to grow, so the stream is
 * read again from its start. Both return NAOS_OK or a naos_err (NAOS_ESYS
 * with errno kept). */
struct snap_reader {
    int (*read)(void *arg, void *buf, size_t cap, size_t *got);
    int (*rewind)(void *arg);
    void *arg;
};

/* struct snap_limits: bounds of a load or save. Zero fields take the
 * defaults (SNAP_ENTRIES_MAX); tests lower them to reach the edge.
 * allow_older lets a load take the applied index back (recover, which
 * rebuilds the log in the same transaction: finish); without it a stream
 * older than the store is refused. */
struct snap_limits {
    uint64_t max_entries;
    bool allow_older;
};
#define SNAP_LIMITS_ZERO {0, false}

/* struct snap_info: what a stream holds, filled by save, load and
 * verify. counts[i] is the number of pairs of the i-th state table
 * (store_snap_table_name(i)). */
struct snap_info {
    uint32_t version;
    uint64_t cluster_id;
    uint64_t index;
    uint64_t term;
    uint64_t node_id;
    int64_t created_at_ms;
    uint64_t entries;
    uint64_t bytes; /* the whole stream, checksum included */
    uint64_t counts[SNAP_TABLES_MAX];
    unsigned char sum[SNAP_SUM_LEN];
};

/* store_snap_ntables / store_snap_table_name: the state tables a snapshot
 * carries, in stream order (name static; NULL past the end). */
size_t store_snap_ntables(void);
const char *store_snap_table_name(size_t i);

/* store_snap_save writes the applied state of s to w (borrowed) from one
 * read transaction, and what it wrote to *info (caller storage; may be
 * NULL). lim borrowed, NULL = defaults. Returns NAOS_OK; the writer's
 * error; NAOS_ETOOBIG (more entries than the limit, or a stored record
 * over SNAP_RECORD_MAX: nothing useful written); NAOS_ENOMEM;
 * NAOS_ESTORE. On error a message is in err (caller buffer + length) and
 * what was written must be discarded. */
int store_snap_save(struct store *s, const struct snap_writer *w,
                    const struct snap_limits *lim, struct snap_info *info,
                    char *err, size_t errlen);

/* store_snap_save_reader is store_snap_save through rd (store.h
 * "reading from another thread"), on the reader's thread: the loop goes
 * on while the stream is written. Same errors. */
int store_snap_save_reader(struct store_reader *rd,
                           const struct snap_writer *w,
                           const struct snap_limits *lim,
                           struct snap_info *info, char *err, size_t errlen);

/* store_snap_finish_fn: called by store_snap_load inside its write
 * transaction once the whole stream has loaded and checked out (info
 * borrowed); NAOS_OK commits, anything else aborts the load. A message
 * for the caller goes through store_txn_fail. May be called more than
 * once (store_write's rule). */
typedef int (*store_snap_finish_fn)(struct store_txn *t,
                                    const struct snap_info *info, void *arg);

/* store_snap_load replaces the state tables of s and its applied index by
 * the stream of r (borrowed), in one write transaction that also runs
 * finish(t, info, arg) when finish is not NULL: either everything is
 * written, or nothing changed. The applied index never goes back unless
 * lim->allow_older: a stream older than what s applied is refused
 * (NAOS_EINVAL). lim as for save. Returns NAOS_OK (*info filled when not NULL); NAOS_EINVAL (the
 * stream is refused: err says what is wrong and at which byte);
 * NAOS_ETOOBIG (a bound crossed); the reader's error; finish's error;
 * NAOS_ENOMEM; NAOS_ESTORE. */
int store_snap_load(struct store *s, const struct snap_reader *r,
                    const struct snap_limits *lim, store_snap_finish_fn finish,
                    void *arg, struct snap_info *info, char *err,
                    size_t errlen);

/* store_snap_verify reads the whole stream of r and checks it as a load
 * would, without a store (the CLI checks what it fetched, recover checks
 * a file before it touches a data directory). Same errors as load. */
int store_snap_verify(const struct snap_reader *r,
                      const struct snap_limits *lim, struct snap_info *info,
                      char *err, size_t errlen);

/* store_snap_sum_hex writes the checksum as 64 hex digits and a NUL into
 * out (caller buffer of at least 65 bytes). */
void store_snap_sum_hex(const unsigned char sum[SNAP_SUM_LEN], char *out);

/* A reader and a writer on a file descriptor (borrowed, blocking): what a
 * snapshot file is read and written through. NAOS_ESYS with errno kept. */
struct snap_fd {
    int fd;
};
int store_snap_fd_write(void *arg, const void *buf, size_t len);
int store_snap_fd_read(void *arg, void *buf, size_t cap, size_t *got);
int store_snap_fd_rewind(void *arg);

#endif
