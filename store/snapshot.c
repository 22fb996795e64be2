/* SPDX-License-Identifier: Apache-2.0 */
/* snapshot.c: the state stream (snapshot.h). The save walks the state
 * tables in one read transaction; the load reads, checks and writes in
 * one write transaction, so a stream refused at its last byte (the
 * checksum) has changed nothing. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "node/auth/digest.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/time.h"
#include "proto/spec_pb.h"
#include "proto/store.pb-c.h"
#include "store/snapshot.h"
#include "store/state.h"

_Static_assert(AUTH_HASH_BYTES == SNAP_SUM_LEN, "checksum length");
_Static_assert(sizeof SNAP_MAGIC - 1 == 8, "magic is 8 bytes");

/* The state tables, in stream order: what apply writes (apply.h). Adding
 * a state table (e.g. STORE_CLIENTS) is one line here, with a new stable
 * number (never reuse one: it is in the files). */
static const struct snap_table {
    uint32_t num; /* in the stream (SnapshotEntry.table) */
    enum store_table tb;
    const char *name;
    const ProtobufCMessageDescriptor *desc; /* each value must decode;
                                               NULL: 8-byte key and value */
} snap_tables[] = {
    {1, STORE_DEPLOYMENTS, "deployments",
     &naos__v1__deployment_record__descriptor},
    {2, STORE_PLACEMENTS, "placements",
     &naos__v1__placement_record__descriptor},
    {3, STORE_CHECKPOINTS, "checkpoints",
     &naos__v1__checkpoint_record__descriptor},
    /* the client table (store/clients.h): replicated state too, so a
     * command retried after a restore is still answered, not redone */
    {4, STORE_CLIENTS, "clients", &naos__v1__client_record__descriptor},
    {5, STORE_CLIENT_AGE, "client_age", NULL}, /* 8-byte ids, not protobuf */
    /* the Raft configuration the state is at (store/conf.h) */
    {6, STORE_CLUSTER, "cluster", &naos__v1__cluster_conf_record__descriptor},
    /* the drained nodes (`naos drain`) */
    {7, STORE_DRAINS, "drains", &naos__v1__drain_record__descriptor},
};
#define NTABLES (sizeof snap_tables / sizeof snap_tables[0])
_Static_assert(NTABLES <= SNAP_TABLES_MAX, "raise SNAP_TABLES_MAX");

size_t
store_snap_ntables(void)
{
    return NTABLES;
}

const char *
store_snap_table_name(size_t i)
{
    return i < NTABLES ? snap_tables[i].name : NULL;
}

static int
errf(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
errf(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

static void
be32_put(unsigned char b[4], uint32_t v)
{
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

static uint32_t
be32_get(const unsigned char b[4])
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
           (uint32_t)b[2] << 8 | b[3];
}

void
store_snap_sum_hex(const unsigned char sum[SNAP_SUM_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < SNAP_SUM_LEN; i++) {
        out[2 * i] = hex[sum[i] >> 4];
        out[2 * i + 1] = hex[sum[i] & 15];
    }
    out[2 * SNAP_SUM_LEN] = '\0';
}

static uint64_t
limit_entries(const struct snap_limits *lim)
{
    return lim && lim->max_entries ? lim->max_entries : SNAP_ENTRIES_MAX;
}

/* ---- save ---------------------------------------------------------------- */

struct save_ctx {
    const struct snap_writer *w;
    uint64_t max_entries;
    struct auth_hash h;
    struct snap_info info;
    size_t table; /* index in snap_tables being walked */
    uint8_t *buf;
    size_t cap;
    char *err;
    size_t errlen;
};

/* out: bytes into the hash and the writer. */
static int
out(struct save_ctx *c, const void *buf, size_t len)
{
    auth_hash_update(&c->h, buf, len);
    int rc = c->w->write(c->w->arg, buf, len);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "cannot write the snapshot: %s",
                    rc == NAOS_ESYS ? strerror(errno) : naos_strerror(rc));
    c->info.bytes += len;
    return NAOS_OK;
}

static int
out_record(struct save_ctx *c, const Naos__V1__SnapshotRecord *r,
           const char *what)
{
    size_t len = naos__v1__snapshot_record__get_packed_size(r);
    if (len > SNAP_RECORD_MAX)
        return errf(c->err, c->errlen, NAOS_ETOOBIG, "%s is a record of "
                    "%zu bytes, over the snapshot's limit of %u", what, len,
                    SNAP_RECORD_MAX);
    if (len + 4 > c->cap) {
        uint8_t *nb = naos_realloc(c->buf, len + 4);
        if (nb == NULL)
            return NAOS_ENOMEM;
        c->buf = nb;
        c->cap = len + 4;
    }
    be32_put(c->buf, (uint32_t)len);
    naos__v1__snapshot_record__pack(r, c->buf + 4);
    return out(c, c->buf, len + 4);
}

static int
save_pair(const void *key, size_t klen, const void *val, size_t vlen,
          void *arg)
{
    struct save_ctx *c = arg;
    if (c->info.entries >= c->max_entries)
        return errf(c->err, c->errlen, NAOS_ETOOBIG, "the state holds more "
                    "than %llu entries, the snapshot's limit",
                    (unsigned long long)c->max_entries);
    Naos__V1__SnapshotEntry e = NAOS__V1__SNAPSHOT_ENTRY__INIT;
    e.table = snap_tables[c->table].num;
    e.key.data = (uint8_t *)key;
    e.key.len = klen;
    e.value.data = (uint8_t *)val;
    e.value.len = vlen;
    Naos__V1__SnapshotRecord r = NAOS__V1__SNAPSHOT_RECORD__INIT;
    r.rec_case = NAOS__V1__SNAPSHOT_RECORD__REC_ENTRY;
    r.entry = &e;
    char what[96];
    snprintf(what, sizeof what, "an entry of %s", snap_tables[c->table].name);
    int rc = out_record(c, &r, what);
    if (rc == NAOS_OK) {
        c->info.entries++;
        c->info.counts[c->table]++;
    }
    return rc;
}

/* applied_term: the term of entry index when the log still holds it. */
static uint64_t
applied_term(struct store_txn *t, uint64_t index)
{
    unsigned char k[8];
    const void *v;
    size_t vlen;
    store_be64_put(k, index);
    if (index == 0 ||
        store_txn_get(t, STORE_RAFT_LOG, k, sizeof k, &v, &vlen) != NAOS_OK)
        return 0;
    Naos__V1__LogEntryRecord *e =
        naos__v1__log_entry_record__unpack(&spec_pb_allocator, vlen, v);
    uint64_t term = e ? e->term : 0;
    if (e)
        naos__v1__log_entry_record__free_unpacked(e, &spec_pb_allocator);
    return term;
}

static int
save_fn(struct store_txn *t, void *arg)
{
    struct save_ctx *c = arg;
    struct snap_info *in = &c->info;
    *in = (struct snap_info){.version = SNAP_VERSION};
    int rc = store_applied_get_txn(t, &in->index);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "cannot read last_applied: %s",
                    store_errmsg(store_txn_store(t)));
    in->term = applied_term(t, in->index);
    /* no identity yet (a store that never ran a node): ids 0 */
    struct store_identity id = STORE_IDENTITY_ZERO;
    rc = store_identity_get_txn(t, &id);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
        return errf(c->err, c->errlen, rc, "cannot read the identity: %s",
                    store_errmsg(store_txn_store(t)));
    in->cluster_id = id.cluster_id;
    in->node_id = id.node_id;
    in->created_at_ms = naos_clock_wall_ms();

    unsigned char hdr[SNAP_HEADER_LEN];
    memcpy(hdr, SNAP_MAGIC, 8);
    be32_put(hdr + 8, SNAP_VERSION);
    be32_put(hdr + 12, 0);
    store_be64_put(hdr + 16, in->cluster_id);
    store_be64_put(hdr + 24, in->index);
    store_be64_put(hdr + 32, in->term);
    store_be64_put(hdr + 40, in->node_id);
    store_be64_put(hdr + 48, (uint64_t)in->created_at_ms);
    if ((rc = out(c, hdr, sizeof hdr)) != NAOS_OK)
        return rc;
    for (c->table = 0; c->table < NTABLES; c->table++) {
        rc = store_txn_scan(t, snap_tables[c->table].tb, NULL, 0, save_pair,
                            c);
        if (rc != NAOS_OK)
            return rc;
    }
    Naos__V1__SnapshotEnd end = NAOS__V1__SNAPSHOT_END__INIT;
    end.entries = in->entries;
    Naos__V1__SnapshotRecord r = NAOS__V1__SNAPSHOT_RECORD__INIT;
    r.rec_case = NAOS__V1__SNAPSHOT_RECORD__REC_END;
    r.end = &end;
    if ((rc = out_record(c, &r, "the end record")) != NAOS_OK)
        return rc;
    auth_hash_final(&c->h, in->sum);
    /* the checksum is not part of what it sums */
    rc = c->w->write(c->w->arg, in->sum, SNAP_SUM_LEN);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "cannot write the snapshot: %s",
                    rc == NAOS_ESYS ? strerror(errno) : naos_strerror(rc));
    in->bytes += SNAP_SUM_LEN;
    return NAOS_OK;
}

/* save runs save_fn through store_read (rd NULL) or the reader rd. */
static int
save(struct store *s, struct store_reader *rd, const struct snap_writer *w,
     const struct snap_limits *lim, struct snap_info *info, char *err,
     size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    struct save_ctx *c = naos_alloc(sizeof *c);
    if (c == NULL)
        return errf(err, errlen, NAOS_ENOMEM, "out of memory");
    c->w = w;
    c->max_entries = limit_entries(lim);
    c->err = err;
    c->errlen = errlen;
    auth_hash_init(&c->h);
    int rc = rd ? store_reader_read(rd, save_fn, c) : store_read(s, save_fn, c);
    if (rc != NAOS_OK && err && errlen && err[0] == '\0')
        errf(err, errlen, rc, "cannot read the state: %s",
             rc == NAOS_ENOMEM ? "out of memory"
             : rd              ? store_reader_errmsg(rd)
                               : store_errmsg(s));
    if (rc == NAOS_OK && info != NULL)
        *info = c->info;
    naos_free(c->buf);
    naos_free(c);
    return rc;
}

int
store_snap_save(struct store *s, const struct snap_writer *w,
                const struct snap_limits *lim, struct snap_info *info,
                char *err, size_t errlen)
{
    return save(s, NULL, w, lim, info, err, errlen);
}

int
store_snap_save_reader(struct store_reader *rd, const struct snap_writer *w,
                       const struct snap_limits *lim, struct snap_info *info,
                       char *err, size_t errlen)
{
    return save(NULL, rd, w, lim, info, err, errlen);
}

/* ---- load and verify ----------------------------------------------------- */

struct load_ctx {
    const struct snap_reader *r;
    uint64_t max_entries;
    bool allow_older;
    store_snap_finish_fn finish;
    void *arg;
    struct auth_hash h;
    struct snap_info info;
    uint64_t off; /* bytes read so far */
    uint8_t *buf; /* the largest record so far, <= SNAP_RECORD_MAX */
    size_t cap;
    char *err;
    size_t errlen;
};

/* get reads exactly len bytes (hashed unless raw); *eof when the stream
 * ended first (then *got says how many came). */
static int
get(struct load_ctx *c, void *buf, size_t len, bool raw, size_t *got)
{
    size_t have = 0;
    while (have < len) {
        size_t n = 0;
        int rc = c->r->read(c->r->arg, (uint8_t *)buf + have, len - have, &n);
        if (rc != NAOS_OK)
            return errf(c->err, c->errlen, rc, "cannot read the snapshot: "
                        "%s", rc == NAOS_ESYS ? strerror(errno)
                                              : naos_strerror(rc));
        if (n == 0)
            break;
        have += n;
    }
    if (!raw)
        auth_hash_update(&c->h, buf, have);
    c->off += have;
    *got = have;
    return NAOS_OK;
}

static int
truncated(struct load_ctx *c, const char *what)
{
    return errf(c->err, c->errlen, NAOS_EINVAL, "the snapshot is truncated: "
                "it ends at byte %llu, inside %s (a partial copy? take the "
                "whole file again)", (unsigned long long)c->off, what);
}

static const struct snap_table *
table_by_num(uint32_t num, size_t *idx)
{
    for (size_t i = 0; i < NTABLES; i++)
        if (snap_tables[i].num == num) {
            *idx = i;
            return &snap_tables[i];
        }
    return NULL;
}

/* one_entry checks e (and writes it through t when t is not NULL). */
static int
one_entry(struct load_ctx *c, struct store_txn *t,
          const Naos__V1__SnapshotEntry *e, uint64_t at)
{
    size_t idx = 0;
    const struct snap_table *tab = table_by_num(e->table, &idx);
    if (tab == NULL)
        return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte %llu: "
                    "unknown state table %u (a snapshot of a newer naos? "
                    "upgrade naos-node)", (unsigned long long)at, e->table);
    if (e->key.len == 0 || e->key.len > STORE_MAX_KEY)
        return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte %llu: "
                    "a key of %zu bytes in %s (1..%d)",
                    (unsigned long long)at, e->key.len, tab->name,
                    STORE_MAX_KEY);
    if (tab->desc == NULL) {
        if (e->key.len != 8 || e->value.len != 8)
            return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte "
                        "%llu: a key of %zu and a value of %zu bytes in %s "
                        "(8 and 8)", (unsigned long long)at, e->key.len,
                        e->value.len, tab->name);
    } else {
        ProtobufCMessage *m = protobuf_c_message_unpack(
            tab->desc, &spec_pb_allocator, e->value.len, e->value.data);
        if (m == NULL)
            return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte "
                        "%llu: the value of %.*s in %s is not a %s (corrupt)",
                        (unsigned long long)at,
                        (int)(e->key.len > 64 ? 64 : e->key.len),
                        (const char *)e->key.data, tab->name,
                        tab->desc->name);
        protobuf_c_message_free_unpacked(m, &spec_pb_allocator);
    }
    c->info.counts[idx]++;
    if (t == NULL)
        return NAOS_OK;
    int rc = store_txn_put(t, tab->tb, e->key.data, e->key.len,
                           e->value.data, e->value.len,
                           STORE_PUT_NOOVERWRITE);
    if (rc == NAOS_EEXIST)
        return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte %llu: "
                    "a second entry for the same key in %s",
                    (unsigned long long)at, tab->name);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "cannot write %s: %s", tab->name,
                    store_errmsg(store_txn_store(t)));
    return NAOS_OK;
}

/* stream reads, checks and (t not NULL) writes the whole stream. */
static int
stream(struct load_ctx *c, struct store_txn *t)
{
    c->info = (struct snap_info){0};
    c->off = 0;
    auth_hash_init(&c->h);
    int rc = c->r->rewind(c->r->arg);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "cannot read the snapshot from "
                    "its start: %s", rc == NAOS_ESYS ? strerror(errno)
                                                     : naos_strerror(rc));
    unsigned char hdr[SNAP_HEADER_LEN];
    size_t got;
    if ((rc = get(c, hdr, sizeof hdr, false, &got)) != NAOS_OK)
        return rc;
    if (got < 8 || memcmp(hdr, SNAP_MAGIC, 8) != 0)
        return errf(c->err, c->errlen, NAOS_EINVAL, "not a naos snapshot "
                    "(it does not start with \"%s\")", SNAP_MAGIC);
    if (got < sizeof hdr)
        return truncated(c, "the header");
    struct snap_info *in = &c->info;
    in->version = be32_get(hdr + 8);
    if (in->version != SNAP_VERSION)
        return errf(c->err, c->errlen, NAOS_EINVAL, "snapshot format "
                    "version %u, but this naos reads version %u%s",
                    in->version, SNAP_VERSION,
                    in->version > SNAP_VERSION ? ": upgrade naos-node" : "");
    if (be32_get(hdr + 12) != 0)
        return errf(c->err, c->errlen, NAOS_EINVAL, "snapshot flags %08x "
                    "unknown to this naos (upgrade naos-node)",
                    be32_get(hdr + 12));
    in->cluster_id = store_be64_get(hdr + 16);
    in->index = store_be64_get(hdr + 24);
    in->term = store_be64_get(hdr + 32);
    in->node_id = store_be64_get(hdr + 40);
    in->created_at_ms = (int64_t)store_be64_get(hdr + 48);

    if (t != NULL)
        for (size_t i = 0; i < NTABLES; i++) {
            /* every key is >= "\0": the whole table goes */
            rc = store_txn_del_from(t, snap_tables[i].tb, "", 1, NULL);
            if (rc != NAOS_OK)
                return errf(c->err, c->errlen, rc, "cannot clear %s: %s",
                            snap_tables[i].name,
                            store_errmsg(store_txn_store(t)));
        }
    for (;;) {
        uint64_t at = c->off;
        unsigned char lb[4];
        if ((rc = get(c, lb, 4, false, &got)) != NAOS_OK)
            return rc;
        if (got < 4)
            return truncated(c, got ? "a record's length"
                                    : "the records (no end record)");
        uint32_t len = be32_get(lb);
        if (len == 0)
            return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte "
                        "%llu: length 0 (corrupt)", (unsigned long long)at);
        if (len > SNAP_RECORD_MAX)
            return errf(c->err, c->errlen, NAOS_ETOOBIG, "record at byte "
                        "%llu: length %u, over the limit of %u bytes "
                        "(SNAP_RECORD_MAX; corrupt?)",
                        (unsigned long long)at, len, SNAP_RECORD_MAX);
        if (len > c->cap) { /* grown to the largest record, bounded above */
            uint8_t *nb = naos_realloc(c->buf, len);
            if (nb == NULL)
                return errf(c->err, c->errlen, NAOS_ENOMEM, "out of memory");
            c->buf = nb;
            c->cap = len;
        }
        if ((rc = get(c, c->buf, len, false, &got)) != NAOS_OK)
            return rc;
        if (got < len)
            return truncated(c, "a record");
        Naos__V1__SnapshotRecord *r =
            naos__v1__snapshot_record__unpack(&spec_pb_allocator, len, c->buf);
        if (r == NULL || r->rec_case == NAOS__V1__SNAPSHOT_RECORD__REC__NOT_SET) {
            if (r)
                naos__v1__snapshot_record__free_unpacked(r,
                                                         &spec_pb_allocator);
            return errf(c->err, c->errlen, NAOS_EINVAL, "record at byte "
                        "%llu: not a snapshot record (corrupt)",
                        (unsigned long long)at);
        }
        if (r->rec_case == NAOS__V1__SNAPSHOT_RECORD__REC_END) {
            uint64_t n = r->end->entries;
            naos__v1__snapshot_record__free_unpacked(r, &spec_pb_allocator);
            if (n != in->entries)
                return errf(c->err, c->errlen, NAOS_EINVAL, "the end record "
                            "counts %llu entries, but %llu came before it "
                            "(corrupt)", (unsigned long long)n,
                            (unsigned long long)in->entries);
            break;
        }
        if (in->entries >= c->max_entries) {
            naos__v1__snapshot_record__free_unpacked(r, &spec_pb_allocator);
            return errf(c->err, c->errlen, NAOS_ETOOBIG, "more than %llu "
                        "entries, the snapshot's limit",
                        (unsigned long long)c->max_entries);
        }
        rc = one_entry(c, t, r->entry, at);
        naos__v1__snapshot_record__free_unpacked(r, &spec_pb_allocator);
        if (rc != NAOS_OK)
            return rc;
        in->entries++;
    }
    unsigned char want[SNAP_SUM_LEN], sum[SNAP_SUM_LEN];
    auth_hash_final(&c->h, want);
    if ((rc = get(c, sum, sizeof sum, true, &got)) != NAOS_OK)
        return rc;
    if (got < sizeof sum)
        return truncated(c, "the checksum");
    if (memcmp(sum, want, sizeof sum) != 0)
        return errf(c->err, c->errlen, NAOS_EINVAL, "checksum mismatch: the "
                    "snapshot is corrupt (its %llu bytes do not sum to the "
                    "BLAKE2b-256 at its end)",
                    (unsigned long long)c->off);
    unsigned char extra;
    if ((rc = get(c, &extra, 1, true, &got)) != NAOS_OK)
        return rc;
    if (got != 0)
        return errf(c->err, c->errlen, NAOS_EINVAL, "bytes follow the "
                    "snapshot's checksum at byte %llu (two files joined?)",
                    (unsigned long long)c->off - 1);
    memcpy(in->sum, sum, sizeof sum);
    in->bytes = c->off;
    if (t == NULL)
        return NAOS_OK;
    rc = c->allow_older ? store_applied_force_txn(t, in->index)
                        : store_applied_set_txn(t, in->index);
    if (rc != NAOS_OK)
        return errf(c->err, c->errlen, rc, "the snapshot is of entry %llu, "
                    "older than what this store applied: %s",
                    (unsigned long long)in->index,
                    store_errmsg(store_txn_store(t)));
    if (c->finish != NULL && (rc = c->finish(t, in, c->arg)) != NAOS_OK)
        return errf(c->err, c->errlen, rc, "%s",
                    store_errmsg(store_txn_store(t)));
    return NAOS_OK;
}

static int
load_fn(struct store_txn *t, void *arg)
{
    return stream(arg, t);
}

static void
load_start(struct load_ctx *c, const struct snap_reader *r,
           const struct snap_limits *lim, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (err && errlen)
        err[0] = '\0';
    c->r = r;
    c->max_entries = limit_entries(lim);
    c->allow_older = lim && lim->allow_older;
    c->err = err;
    c->errlen = errlen;
}

int
store_snap_load(struct store *s, const struct snap_reader *r,
                const struct snap_limits *lim, store_snap_finish_fn finish,
                void *arg, struct snap_info *info, char *err, size_t errlen)
{
    struct load_ctx c;
    load_start(&c, r, lim, err, errlen);
    c.finish = finish;
    c.arg = arg;
    int rc = store_write(s, load_fn, &c);
    if (rc != NAOS_OK && err && errlen && err[0] == '\0')
        errf(err, errlen, rc, "cannot load the snapshot: %s",
             store_errmsg(s));
    if (rc == NAOS_OK && info != NULL)
        *info = c.info;
    naos_free(c.buf);
    return rc;
}

int
store_snap_verify(const struct snap_reader *r, const struct snap_limits *lim,
                  struct snap_info *info, char *err, size_t errlen)
{
    struct load_ctx c;
    load_start(&c, r, lim, err, errlen);
    int rc = stream(&c, NULL);
    if (rc == NAOS_OK && info != NULL)
        *info = c.info;
    naos_free(c.buf);
    return rc;
}

/* ---- file descriptors ---------------------------------------------------- */

int
store_snap_fd_write(void *arg, const void *buf, size_t len)
{
    const struct snap_fd *f = arg;
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NAOS_ESYS;
        p += n;
        len -= (size_t)n;
    }
    return NAOS_OK;
}

int
store_snap_fd_read(void *arg, void *buf, size_t cap, size_t *got)
{
    const struct snap_fd *f = arg;
    for (;;) {
        ssize_t n = read(f->fd, buf, cap);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return NAOS_ESYS;
        *got = (size_t)n;
        return NAOS_OK;
    }
}

int
store_snap_fd_rewind(void *arg)
{
    const struct snap_fd *f = arg;
    return lseek(f->fd, 0, SEEK_SET) == 0 ? NAOS_OK : NAOS_ESYS;
}
