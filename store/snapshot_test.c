/* SPDX-License-Identifier: Apache-2.0 */
/* snapshot_test.c: the state stream (store/snapshot.h) and the one-voter
 * rebuild (store/recover.h): round trip, every truncation, every flipped
 * bit, wrong magic/version/flags, the record and count bounds at their
 * edges, an empty state, all-or-nothing loads, the map growing mid-load,
 * and what recover rewrites. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "node/auth/digest.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/conf.h"
#include "store/raftlog.h"
#include "store/recover.h"
#include "store/snapshot.h"
#include "store/state.h"
#include "store/store_testutil.h"

/* ---- an in-memory stream ------------------------------------------------- */

struct mem {
    uint8_t *b;
    size_t len, cap, pos;
    size_t chunk; /* read at most this much at once (0: all) */
};

static int
mem_write(void *arg, const void *buf, size_t len)
{
    struct mem *m = arg;
    if (m->len + len > m->cap) {
        m->cap = (m->len + len) * 2;
        m->b = realloc(m->b, m->cap);
        NT_TRUE(m->b != NULL);
    }
    memcpy(m->b + m->len, buf, len);
    m->len += len;
    return NAOS_OK;
}

static int
mem_read(void *arg, void *buf, size_t cap, size_t *got)
{
    struct mem *m = arg;
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (m->chunk && n > m->chunk)
        n = m->chunk;
    memcpy(buf, m->b + m->pos, n);
    m->pos += n;
    *got = n;
    return NAOS_OK;
}

static int
mem_rewind(void *arg)
{
    ((struct mem *)arg)->pos = 0;
    return NAOS_OK;
}

static struct snap_reader
reader(struct mem *m)
{
    return (struct snap_reader){mem_read, mem_rewind, m};
}

static int
verify(struct mem *m, char *err, size_t errlen)
{
    struct snap_reader r = reader(m);
    return store_snap_verify(&r, NULL, NULL, err, errlen);
}

/* ---- fixtures ------------------------------------------------------------ */

static int
put_dep(struct store_txn *t, void *arg)
{
    (void)arg;
    static const char *const names[] = {"alpha", "beta"};
    for (int i = 0; i < 2; i++) {
        Naos__V1__DeploymentRecord d = NAOS__V1__DEPLOYMENT_RECORD__INIT;
        Naos__V1__NodeSpec spec = NAOS__V1__NODE_SPEC__INIT;
        spec.id = (char *)names[i];
        d.name = (char *)names[i];
        d.spec = &spec;
        d.desired = NAOS__V1__DESIRED_STATE__DESIRED_RUNNING;
        d.generation = 1;
        int rc = store_deploy_put_txn(t, &d);
        if (rc != NAOS_OK)
            return rc;
        Naos__V1__PlacementRecord p = NAOS__V1__PLACEMENT_RECORD__INIT;
        p.name = (char *)names[i];
        p.node_id = 0x100 + (uint64_t)i; /* other nodes */
        p.epoch = 3 + (uint64_t)i;
        if ((rc = store_placement_put_txn(t, &p)) != NAOS_OK)
            return rc;
    }
    return store_applied_set_txn(t, 7);
}

/* fill: two deployments placed elsewhere, a checkpoint of ckpt_len bytes,
 * applied 7, an identity. */
static void
fill(struct store *s, size_t ckpt_len)
{
    ST_OK(s, store_write(s, put_dep, NULL));
    uint8_t *data = malloc(ckpt_len ? ckpt_len : 1);
    NT_TRUE(data != NULL);
    for (size_t i = 0; i < ckpt_len; i++)
        data[i] = (uint8_t)(i * 7);
    uint64_t seq;
    ST_OK(s, store_ckpt_save(s, "alpha/alpha", data, ckpt_len, 1000, &seq));
    free(data);
    struct store_identity want = {0x11, 0x22, 5, true}, got;
    ST_OK(s, store_identity_get_or_create(s, &want, &got, NULL));
}

static void
save(struct store *s, struct mem *m, struct snap_info *info)
{
    struct snap_writer w = {mem_write, m};
    char err[512] = "";
    int rc = store_snap_save(s, &w, NULL, info, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("save: %d: %s", rc, err);
}

/* The records of a stream (between header and checksum): equal for two
 * stores holding the same state. */
static int
same_records(const struct mem *a, const struct mem *b)
{
    size_t la = a->len - SNAP_HEADER_LEN - SNAP_SUM_LEN;
    size_t lb = b->len - SNAP_HEADER_LEN - SNAP_SUM_LEN;
    return la == lb && memcmp(a->b + SNAP_HEADER_LEN,
                              b->b + SNAP_HEADER_LEN, la) == 0;
}

/* ---- cases --------------------------------------------------------------- */

static void
test_round_trip(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    long base = naos_alloc_live();
    struct store *a = st_open(d1, NULL), *b = st_open(d2, NULL);
    fill(a, STORE_CKPT_MAX); /* the biggest checkpoint travels */
    struct mem m = {0}, m2 = {0};
    struct snap_info info;
    save(a, &m, &info);
    NT_EQ_INT(info.index, 7);
    NT_EQ_INT(info.cluster_id, 0x22);
    NT_EQ_INT(info.node_id, 0x11);
    NT_EQ_INT(info.entries, 5);
    NT_EQ_INT(info.counts[0], 2); /* deployments */
    NT_EQ_INT(info.counts[1], 2); /* placements */
    NT_EQ_INT(info.counts[2], 1); /* checkpoints */
    NT_EQ_INT(info.bytes, m.len);

    /* what b held before is replaced, not merged */
    Naos__V1__DeploymentRecord g = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    g.name = "gamma";
    ST_OK(b, store_deploy_put(b, &g));
    struct snap_reader r = reader(&m);
    struct snap_info li;
    char err[512] = "";
    int rc = store_snap_load(b, &r, NULL, NULL, NULL, &li, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("load: %s", err);
    NT_EQ_INT(li.index, 7);
    NT_EQ_INT(memcmp(li.sum, info.sum, SNAP_SUM_LEN), 0);
    uint64_t applied = 0;
    ST_OK(b, store_applied_get(b, &applied));
    NT_EQ_INT(applied, 7);
    Naos__V1__CheckpointRecord *ck = NULL;
    ST_OK(b, store_ckpt_get(b, "alpha/alpha", &ck));
    NT_EQ_INT(ck->data.len, STORE_CKPT_MAX);
    NT_EQ_INT(ck->data.data[1000], (uint8_t)(1000 * 7));
    store_ckpt_free(ck);
    Naos__V1__DeploymentRecord *gone = NULL;
    NT_EQ_INT(store_deploy_get(b, "gamma", &gone), NAOS_ENOTFOUND);
    /* the same state: the same records */
    save(b, &m2, NULL);
    NT_TRUE(same_records(&m, &m2));
    free(m.b);
    free(m2.b);
    store_close(a);
    store_close(b);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(d1);
    st_rmdir(d2);
}

static void
test_empty_state(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store *a = st_open(d1, NULL), *b = st_open(d2, NULL);
    struct mem m = {0};
    struct snap_info info;
    save(a, &m, &info);
    NT_EQ_INT(info.entries, 0);
    NT_EQ_INT(info.index, 0);
    NT_EQ_INT(info.cluster_id, 0); /* no identity yet */
    struct snap_reader r = reader(&m);
    char err[512] = "";
    NT_EQ_INT(store_snap_load(b, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_OK);
    /* and an empty stream replaces a full state: the tables empty */
    struct store *c = a;
    fill(c, 10);
    m.pos = 0;
    struct mem m0 = m;
    r = reader(&m0);
    /* c applied 7 already: an empty state of index 0 is older */
    NT_EQ_INT(store_snap_load(c, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "older than what this store applied");
    Naos__V1__DeploymentRecord *d = NULL;
    ST_OK(c, store_deploy_get(c, "alpha", &d)); /* unchanged */
    store_deploy_free(d);
    /* unless the caller rebuilds the log too (recover) */
    struct snap_limits older = {0, true};
    m0.pos = 0;
    NT_EQ_INT(store_snap_load(c, &r, &older, NULL, NULL, NULL, err,
                              sizeof err),
              NAOS_OK);
    uint64_t applied = 9;
    ST_OK(c, store_applied_get(c, &applied));
    NT_EQ_INT(applied, 0);
    NT_EQ_INT(store_deploy_get(c, "alpha", &d), NAOS_ENOTFOUND);
    free(m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

/* A stream cut at any byte is refused, naming the truncation (or, cut
 * inside the magic, that it is no snapshot); a store it is loaded into
 * keeps its state. */
static void
test_every_truncation(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store *a = st_open(d1, NULL), *b = st_open(d2, NULL);
    fill(a, 100);
    struct mem m = {0};
    save(a, &m, NULL);
    size_t full = m.len;
    for (size_t cut = 0; cut < full; cut++) {
        struct mem t = {m.b, cut, cut, 0, 0};
        char err[512] = "";
        int rc = verify(&t, err, sizeof err);
        if (rc != NAOS_EINVAL)
            NT_FAIL("cut at %zu of %zu: rc %d (%s)", cut, full, rc, err);
        if (cut < 8)
            NT_CONTAINS(err, "not a naos snapshot");
        else
            NT_CONTAINS(err, "truncated");
    }
    /* one load of a cut stream: all or nothing */
    struct mem t = {m.b, full - 1, full - 1, 0, 0};
    struct snap_reader r = reader(&t);
    char err[512] = "";
    NT_EQ_INT(store_snap_load(b, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "inside the checksum");
    uint64_t applied = 9;
    ST_OK(b, store_applied_get(b, &applied));
    NT_EQ_INT(applied, 0);
    Naos__V1__DeploymentRecord *d = NULL;
    NT_EQ_INT(store_deploy_get(b, "alpha", &d), NAOS_ENOTFOUND);
    /* bytes after the checksum */
    uint8_t *longer = malloc(full + 1);
    memcpy(longer, m.b, full);
    longer[full] = 0;
    struct mem l = {longer, full + 1, full + 1, 0, 0};
    NT_EQ_INT(verify(&l, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "bytes follow");
    free(longer);
    free(m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

/* Any single flipped bit is refused; a load of one leaves the store as
 * it was. */
static void
test_every_flipped_bit(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store *a = st_open(d1, NULL), *b = st_open(d2, NULL);
    fill(a, 40);
    struct mem m = {0};
    save(a, &m, NULL);
    for (size_t i = 0; i < m.len; i++)
        for (int bit = 0; bit < 8; bit++) {
            m.b[i] ^= (uint8_t)(1u << bit);
            m.pos = 0;
            char err[512] = "";
            int rc = verify(&m, err, sizeof err);
            m.b[i] ^= (uint8_t)(1u << bit);
            if (rc == NAOS_OK)
                NT_FAIL("bit %d of byte %zu flipped: accepted", bit, i);
        }
    /* a flip in a checkpoint's data decodes fine: only the sum tells */
    size_t at = m.len - SNAP_SUM_LEN - 40;
    m.b[at] ^= 1;
    m.pos = 0;
    struct snap_reader r = reader(&m);
    char err[512] = "";
    NT_EQ_INT(store_snap_load(b, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "checksum mismatch");
    Naos__V1__CheckpointRecord *ck = NULL;
    NT_EQ_INT(store_ckpt_get(b, "alpha/alpha", &ck), NAOS_ENOTFOUND);
    free(m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

/* ---- crafted streams ----------------------------------------------------- */

struct craft {
    struct mem m;
    struct auth_hash h;
};

static void
craft_bytes(struct craft *c, const void *b, size_t len)
{
    mem_write(&c->m, b, len);
    auth_hash_update(&c->h, b, len);
}

static void
craft_start(struct craft *c, uint32_t version, uint32_t flags,
            uint64_t index)
{
    memset(c, 0, sizeof *c);
    auth_hash_init(&c->h);
    uint8_t h[SNAP_HEADER_LEN] = {0};
    memcpy(h, SNAP_MAGIC, 8);
    h[8] = (uint8_t)(version >> 24);
    h[11] = (uint8_t)version;
    h[15] = (uint8_t)flags;
    store_be64_put(h + 24, index);
    craft_bytes(c, h, sizeof h);
}

static void
craft_record(struct craft *c, const Naos__V1__SnapshotRecord *r)
{
    size_t len = naos__v1__snapshot_record__get_packed_size(r);
    uint8_t *b = malloc(len + 4);
    b[0] = (uint8_t)(len >> 24);
    b[1] = (uint8_t)(len >> 16);
    b[2] = (uint8_t)(len >> 8);
    b[3] = (uint8_t)len;
    naos__v1__snapshot_record__pack(r, b + 4);
    craft_bytes(c, b, len + 4);
    free(b);
}

/* craft_entry: a checkpoint entry whose record is exactly len bytes
 * (len large enough), or with the given table and key. */
static void
craft_entry(struct craft *c, uint32_t table, const char *key,
            const uint8_t *val, size_t vlen)
{
    Naos__V1__SnapshotEntry e = NAOS__V1__SNAPSHOT_ENTRY__INIT;
    e.table = table;
    e.key.data = (uint8_t *)key;
    e.key.len = strlen(key);
    e.value.data = (uint8_t *)val;
    e.value.len = vlen;
    Naos__V1__SnapshotRecord r = NAOS__V1__SNAPSHOT_RECORD__INIT;
    r.rec_case = NAOS__V1__SNAPSHOT_RECORD__REC_ENTRY;
    r.entry = &e;
    craft_record(c, &r);
}

static void
craft_end(struct craft *c, uint64_t entries)
{
    Naos__V1__SnapshotEnd e = NAOS__V1__SNAPSHOT_END__INIT;
    e.entries = entries;
    Naos__V1__SnapshotRecord r = NAOS__V1__SNAPSHOT_RECORD__INIT;
    r.rec_case = NAOS__V1__SNAPSHOT_RECORD__REC_END;
    r.end = &e;
    craft_record(c, &r);
    uint8_t sum[SNAP_SUM_LEN];
    auth_hash_final(&c->h, sum);
    mem_write(&c->m, sum, sizeof sum);
}

static void
test_magic_version_flags(void)
{
    char err[512];
    struct craft c;
    craft_start(&c, 1, 0, 1);
    craft_end(&c, 0);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_OK); /* the control */
    c.m.b[0] = 'X';
    c.m.pos = 0;
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "not a naos snapshot");
    free(c.m.b);
    craft_start(&c, 2, 0, 1);
    craft_end(&c, 0);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "version 2, but this naos reads version 1: upgrade");
    free(c.m.b);
    craft_start(&c, 1, 4, 1);
    craft_end(&c, 0);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "flags 00000004");
    free(c.m.b);
}

/* A checkpoint value that makes its whole record exactly want bytes. */
static uint8_t *
value_for_record(size_t want, size_t *vlen)
{
    uint8_t *data = calloc(1, want);
    uint8_t *val = malloc(want + 64);
    NT_TRUE(data != NULL && val != NULL);
    for (size_t n = want; n > want - 64; n--) {
        Naos__V1__CheckpointRecord ck = NAOS__V1__CHECKPOINT_RECORD__INIT;
        ck.path = "a";
        ck.data.data = data;
        ck.data.len = n;
        size_t plen = naos__v1__checkpoint_record__pack(&ck, val);
        Naos__V1__SnapshotEntry e = NAOS__V1__SNAPSHOT_ENTRY__INIT;
        e.table = 3;
        e.key.data = (uint8_t *)"a";
        e.key.len = 1;
        e.value.data = val;
        e.value.len = plen;
        Naos__V1__SnapshotRecord r = NAOS__V1__SNAPSHOT_RECORD__INIT;
        r.rec_case = NAOS__V1__SNAPSHOT_RECORD__REC_ENTRY;
        r.entry = &e;
        if (naos__v1__snapshot_record__get_packed_size(&r) == want) {
            free(data);
            *vlen = plen;
            return val;
        }
    }
    NT_FAIL("no value makes a record of %zu bytes", want);
}

static void
test_record_bound_edge(void)
{
    char err[512];
    for (int over = 0; over <= 1; over++) {
        size_t vlen = 0;
        uint8_t *val = value_for_record(SNAP_RECORD_MAX + (size_t)over,
                                        &vlen);
        struct craft c;
        craft_start(&c, 1, 0, 1);
        craft_entry(&c, 3, "a", val, vlen);
        craft_end(&c, 1);
        free(val);
        int rc = verify(&c.m, err, sizeof err);
        if (over) {
            NT_EQ_INT(rc, NAOS_ETOOBIG);
            NT_CONTAINS(err, "record at byte 56: length 1114113, over the "
                             "limit of 1114112");
        } else if (rc != NAOS_OK) {
            NT_FAIL("a record of exactly SNAP_RECORD_MAX: %s", err);
        }
        free(c.m.b);
    }
    /* a length of 0 */
    struct craft c;
    craft_start(&c, 1, 0, 1);
    craft_bytes(&c, "\0\0\0\0", 4);
    craft_end(&c, 0);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "length 0");
    free(c.m.b);
}

static void
test_count_bound_edge(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store *a = st_open(d1, NULL), *b = st_open(d2, NULL);
    fill(a, 1); /* 5 entries */
    struct snap_limits five = {5, false}, four = {4, false};
    struct mem m = {0};
    struct snap_writer w = {mem_write, &m};
    char err[512] = "";
    NT_EQ_INT(store_snap_save(a, &w, &five, NULL, err, sizeof err), NAOS_OK);
    struct mem m4 = {0};
    struct snap_writer w4 = {mem_write, &m4};
    NT_EQ_INT(store_snap_save(a, &w4, &four, NULL, err, sizeof err),
              NAOS_ETOOBIG);
    NT_CONTAINS(err, "more than 4 entries");
    free(m4.b);
    struct snap_reader r = reader(&m);
    NT_EQ_INT(store_snap_verify(&r, &five, NULL, err, sizeof err), NAOS_OK);
    NT_EQ_INT(store_snap_load(b, &r, &four, NULL, NULL, NULL, err,
                              sizeof err),
              NAOS_ETOOBIG);
    NT_CONTAINS(err, "more than 4 entries");
    uint64_t applied = 1;
    ST_OK(b, store_applied_get(b, &applied));
    NT_EQ_INT(applied, 0);
    NT_EQ_INT(store_snap_load(b, &r, &five, NULL, NULL, NULL, err,
                              sizeof err),
              NAOS_OK);
    struct snap_limits dflt = SNAP_LIMITS_ZERO;
    (void)dflt;
    free(m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

static void
test_bad_records(void)
{
    char err[512];
    uint8_t val[] = {0x0a, 0x01, 'a'}; /* a record with name "a" */
    struct craft c;
    craft_start(&c, 1, 0, 1);
    craft_entry(&c, 9, "a", val, sizeof val);
    craft_end(&c, 1);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "unknown state table 9");
    free(c.m.b);
    craft_start(&c, 1, 0, 1);
    craft_entry(&c, 1, "", val, sizeof val);
    craft_end(&c, 1);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "a key of 0 bytes");
    free(c.m.b);
    craft_start(&c, 1, 0, 1);
    uint8_t junk[] = {0xff, 0xff, 0xff};
    craft_entry(&c, 1, "a", junk, sizeof junk);
    craft_end(&c, 1);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "is not a naos.v1.DeploymentRecord");
    free(c.m.b);
    craft_start(&c, 1, 0, 1);
    craft_entry(&c, 2, "a", val, sizeof val);
    craft_end(&c, 2);
    NT_EQ_INT(verify(&c.m, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "end record counts 2 entries, but 1");
    free(c.m.b);
    /* a duplicate key is found by the load (verify keeps no keys) */
    char d[256];
    st_tmpdir(d, sizeof d);
    struct store *s = st_open(d, NULL);
    craft_start(&c, 1, 0, 1);
    craft_entry(&c, 2, "a", val, sizeof val);
    craft_entry(&c, 2, "a", val, sizeof val);
    craft_end(&c, 2);
    struct snap_reader r = reader(&c.m);
    NT_EQ_INT(store_snap_load(s, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "second entry for the same key in placements");
    free(c.m.b);
    store_close(s);
    st_rmdir(d);
}

/* A load that outgrows the map is run again by store_write from the
 * stream's start (rewind), read in small pieces. */
static void
test_load_grows_the_map(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store *a = st_open(d1, NULL);
    uint8_t *data = calloc(1, 500000);
    uint64_t seq;
    char path[32];
    for (int i = 0; i < 12; i++) { /* 6 MB */
        snprintf(path, sizeof path, "alpha/w%d", i);
        data[0] = (uint8_t)i;
        ST_OK(a, store_ckpt_save(a, path, data, 500000, 1, &seq));
    }
    free(data);
    struct mem m = {0};
    save(a, &m, NULL);
    struct store_options small = {1u << 20, 0, false};
    struct store *b = st_open(d2, &small);
    m.chunk = 1000;
    struct snap_reader r = reader(&m);
    char err[512] = "";
    int rc = store_snap_load(b, &r, NULL, NULL, NULL, NULL, err, sizeof err);
    if (rc != NAOS_OK)
        NT_FAIL("load: %s", err);
    NT_TRUE(store_map_size(b) > (1u << 20));
    Naos__V1__CheckpointRecord *ck = NULL;
    ST_OK(b, store_ckpt_get(b, "alpha/w11", &ck));
    NT_EQ_INT(ck->data.data[0], 11);
    store_ckpt_free(ck);
    free(m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

/* ---- a save on another thread ----------------------------------------- */

struct slow {
    struct mem m;
    struct store_reader *rd;
    atomic_int in_write; /* the save has its transaction and writes */
    atomic_int done;
    int rc;
};

static int
slow_write(void *arg, const void *buf, size_t len)
{
    struct slow *sl = arg;
    if (!atomic_exchange(&sl->in_write, 1)) {
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL); /* the loop writes meanwhile */
    }
    return mem_write(&sl->m, buf, len);
}

static void *
slow_save(void *arg)
{
    struct slow *sl = arg;
    struct snap_writer w = {slow_write, sl};
    char err[256];
    sl->rc = store_snap_save_reader(sl->rd, &w, NULL, NULL, err, sizeof err);
    atomic_store(&sl->done, 1);
    return NULL;
}

static double
mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A save through a reader sees the state of its start; the loop's writes
 * go on meanwhile, and one that must grow the map waits for the save. */
static void
test_reader_on_a_thread(void)
{
    char d1[256], d2[256];
    st_tmpdir(d1, sizeof d1);
    st_tmpdir(d2, sizeof d2);
    struct store_options small = {1u << 20, 0, false};
    struct store *a = st_open(d1, &small), *b = st_open(d2, NULL);
    fill(a, 10);
    struct slow sl = {0};
    ST_OK(a, store_reader_open(a, &sl.rd));
    pthread_t th;
    NT_EQ_INT(pthread_create(&th, NULL, slow_save, &sl), 0);
    while (!atomic_load(&sl.in_write))
        ;
    /* a small write: done while the save is still under way */
    Naos__V1__DeploymentRecord g = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    g.name = "late";
    ST_OK(a, store_deploy_put(a, &g));
    NT_FALSE(atomic_load(&sl.done));
    /* a write that outgrows the 1 MiB map waits for the save */
    uint8_t *big = calloc(1, STORE_CKPT_MAX);
    uint64_t seq;
    double t0 = mono();
    ST_OK(a, store_ckpt_save(a, "alpha/big", big, STORE_CKPT_MAX, 1, &seq));
    free(big);
    NT_TRUE(atomic_load(&sl.done));
    NT_TRUE(mono() - t0 > 0.05);
    NT_TRUE(store_map_size(a) > (1u << 20));
    pthread_join(th, NULL);
    store_reader_close(sl.rd);
    NT_EQ_INT(sl.rc, NAOS_OK);
    struct snap_reader r = reader(&sl.m);
    char err[512] = "";
    NT_EQ_INT(store_snap_load(b, &r, NULL, NULL, NULL, NULL, err, sizeof err),
              NAOS_OK);
    Naos__V1__DeploymentRecord *d = NULL;
    NT_EQ_INT(store_deploy_get(b, "late", &d), NAOS_ENOTFOUND);
    ST_OK(b, store_deploy_get(b, "alpha", &d));
    store_deploy_free(d);
    free(sl.m.b);
    store_close(a);
    store_close(b);
    st_rmdir(d1);
    st_rmdir(d2);
}

/* ---- recover ------------------------------------------------------------- */

struct rec_args {
    struct store_recover r;
    struct store_recover_result res;
};

static int
conf_set_fn(struct store_txn *t, void *arg)
{
    return store_conf_set_txn(t, arg);
}

static int
rec_fn(struct store_txn *t, void *arg)
{
    struct rec_args *a = arg;
    return store_recover_txn(t, &a->r, &a->res);
}

static void
test_recover_rebuilds_one_voter(void)
{
    char d[256];
    st_tmpdir(d, sizeof d);
    struct store *s = st_open(d, NULL);
    fill(s, 10); /* applied 7, placed on 0x100 and 0x101 */
    struct store_log_entry ents[9];
    for (int i = 0; i < 9; i++)
        ents[i] = (struct store_log_entry){(uint64_t)i + 1, 4, "x", 1, 3};
    ST_OK(s, store_log_append(s, ents, 9)); /* 8, 9 not applied */
    struct store_hard h = {5, 0x100, 7};
    ST_OK(s, store_hard_set(s, &h));
    uint64_t three[] = {0x11, 0x100, 0x101};
    ST_OK(s, store_voters_set(s, three, 3));
    /* the old cluster's replicated configuration, which must not survive
     * (restored over the founding voters, it would want a majority of
     * the lost ones) */
    struct store_conf old = {.voters = {0x11, 0x100, 0x101}, .nvoters = 3,
                             .learners = {0x102}, .nlearners = 1,
                             .index = 5};
    ST_OK(s, store_write(s, conf_set_fn, &old));

    struct rec_args a = {{0x11, 0x99, 5, true}, {0}};
    ST_OK(s, store_write(s, rec_fn, &a));
    NT_EQ_INT(a.res.applied, 7);
    NT_EQ_INT(a.res.index, 8);
    NT_EQ_INT(a.res.term, 6);
    NT_EQ_INT(a.res.placed, 2);
    NT_EQ_INT(a.res.moved, 2);
    NT_EQ_INT(a.res.dropped, 2);
    Naos__V1__PlacementRecord *p = NULL;
    ST_OK(s, store_placement_get(s, "beta", &p));
    NT_EQ_INT(p->node_id, 0x11);
    NT_EQ_INT(p->epoch, 8);
    store_placement_free(p);
    uint64_t first = 0, last = 0, applied = 0, ids[9];
    size_t n = 0;
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 8);
    NT_EQ_INT(last, 8);
    ST_OK(s, store_applied_get(s, &applied));
    NT_EQ_INT(applied, 8);
    ST_OK(s, store_hard_get(s, &h));
    NT_EQ_INT(h.term, 6);
    NT_EQ_INT(h.commit, 8);
    NT_EQ_INT(h.vote, 0);
    ST_OK(s, store_voters_get(s, ids, 9, &n));
    NT_EQ_INT(n, 1);
    NT_EQ_INT(ids[0], 0x11);
    struct store_conf conf;
    ST_OK(s, store_conf_get(s, &conf));
    NT_EQ_INT(conf.nvoters, 1);
    NT_EQ_INT(conf.voters[0], 0x11);
    NT_EQ_INT(conf.nlearners, 0);
    NT_EQ_INT(conf.index, 8);
    struct store_identity id;
    ST_OK(s, store_identity_get(s, &id));
    NT_EQ_INT(id.node_id, 0x11);
    NT_EQ_INT(id.cluster_id, 0x99);
    NT_TRUE(id.cluster_fixed);
    store_close(s);
    st_rmdir(d);
}

static void
test_recover_refuses_committed_unapplied(void)
{
    char d[256];
    st_tmpdir(d, sizeof d);
    struct store *s = st_open(d, NULL);
    fill(s, 10); /* applied 7 */
    struct store_log_entry ents[9];
    for (int i = 0; i < 9; i++)
        ents[i] = (struct store_log_entry){(uint64_t)i + 1, 4, "x", 1, 3};
    ST_OK(s, store_log_append(s, ents, 9));
    struct store_hard h = {5, 0, 9}; /* 8, 9 committed */
    ST_OK(s, store_hard_set(s, &h));
    struct rec_args a = {{0x11, 0x99, 5, true}, {0}};
    NT_EQ_INT(store_write(s, rec_fn, &a), NAOS_EBUSY);
    NT_CONTAINS(store_errmsg(s), "committed entries 8..9");
    uint64_t last = 0;
    ST_OK(s, store_log_bounds(s, NULL, &last));
    NT_EQ_INT(last, 9); /* nothing changed */
    store_close(s);
    st_rmdir(d);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_round_trip),
        NT_CASE(test_empty_state),
        NT_CASE(test_every_truncation),
        NT_CASE(test_every_flipped_bit),
        NT_CASE(test_magic_version_flags),
        NT_CASE(test_record_bound_edge),
        NT_CASE(test_count_bound_edge),
        NT_CASE(test_bad_records),
        NT_CASE(test_load_grows_the_map),
        NT_CASE(test_reader_on_a_thread),
        NT_CASE(test_recover_rebuilds_one_voter),
        NT_CASE(test_recover_refuses_committed_unapplied),
        {0},
    };
    return nt_run(cases);
}
