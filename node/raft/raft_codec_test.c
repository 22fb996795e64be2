/* SPDX-License-Identifier: Apache-2.0 */
/* raft_codec_test.c: the wire encoding of Raft messages (raft_codec.h):
 * the Sealed.type mapping, the round trip of every message type with
 * entries (empty data, the largest entry), the exact worst-case size, the
 * bound, every refusal of the encoder and the decoder (payloads crafted
 * with protobuf-c directly), garbage and truncated input, and failed
 * allocations; no leak anywhere. */
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/raft/raft_codec.h"
#include "node/wire/wire.h"
#include "proto/raft.pb-c.h"

#define CLUSTER 0x5eed5eed5eed5eedull
#define SENDER 0xabcdef0123456789ull

struct enc {
    unsigned char *buf;
    size_t cap, len;
    char err[256];
};

static void
enc_fini(struct enc *e)
{
    naos_free(e->buf);
    memset(e, 0, sizeof *e);
}

static int
encode(struct enc *e, const struct raft_msg *m)
{
    e->err[0] = '\0';
    return raft_codec_encode(m, &e->buf, &e->cap, &e->len, e->err,
                             sizeof e->err);
}

/* A message with every field set to something distinct. */
static struct raft_msg
full_msg(enum raft_msg_type t)
{
    struct raft_msg m = {
        .type = t,
        .cluster_id = CLUSTER,
        .from = {999}, /* never encoded */
        .to = {0x1122334455667788ull},
        .term = 42,
        .last_index = 1000,
        .last_term = 41,
        .granted = true,
        .prev_index = 10,
        .prev_term = 40,
        .commit = 9,
        .success = true,
        .match_index = 13,
        .reject_index = 10,
        .hint_index = 7,
        .hint_term = 39,
        .read_ctx = 41,
    };
    return m;
}

static void
expect_same(const struct raft_msg *a, const struct raft_msg *b)
{
    NT_EQ_INT(a->type, b->type);
    NT_TRUE(a->cluster_id == b->cluster_id);
    NT_TRUE(a->to.v == b->to.v);
    NT_TRUE(a->term == b->term);
    NT_TRUE(a->last_index == b->last_index);
    NT_TRUE(a->last_term == b->last_term);
    NT_EQ_INT(a->granted, b->granted);
    NT_TRUE(a->prev_index == b->prev_index);
    NT_TRUE(a->prev_term == b->prev_term);
    NT_TRUE(a->commit == b->commit);
    NT_EQ_INT(a->success, b->success);
    NT_TRUE(a->match_index == b->match_index);
    NT_TRUE(a->reject_index == b->reject_index);
    NT_TRUE(a->hint_index == b->hint_index);
    NT_TRUE(a->hint_term == b->hint_term);
    NT_TRUE(a->read_ctx == b->read_ctx);
    NT_EQ_INT(a->nentries, b->nentries);
    for (size_t i = 0; i < a->nentries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        NT_TRUE(x->index == y->index);
        NT_TRUE(x->term == y->term);
        NT_EQ_INT(x->type, y->type);
        NT_EQ_INT(x->version, y->version);
        NT_EQ_INT(x->len, y->len);
        if (x->len)
            NT_TRUE(memcmp(x->data, y->data, x->len) == 0);
        else
            NT_TRUE(y->data == NULL);
    }
}

/* decode: decodes e's bytes as sealed type st; returns the result, err in
 * e->err. */
static int
decode(struct raft_codec_msg *out, struct enc *e, uint32_t st)
{
    e->err[0] = '\0';
    return raft_codec_decode(out, st, SENDER, e->buf, e->len, e->err,
                             sizeof e->err);
}

static void
test_sealed_types(void)
{
    for (int t = RAFT_MSG_PREVOTE; t <= RAFT_MSG_TYPE_MAX; t++) {
        uint32_t st = raft_codec_sealed_type(t);
        NT_EQ_INT(st, 64 + t);
        NT_TRUE(st >= WIRE_TYPES_RAFT_LO && st <= WIRE_TYPES_RAFT_HI);
        NT_EQ_INT(raft_codec_msg_type(st), t);
    }
    NT_EQ_INT(raft_codec_sealed_type(0), 0);
    NT_EQ_INT(raft_codec_sealed_type(RAFT_MSG_TYPE_MAX + 1), 0);
    NT_EQ_INT(raft_codec_sealed_type(-1), 0);
    const uint32_t not_raft[] = {0, 1, 63, 64, 71, 95, 96, 0xffffffffu};
    for (size_t i = 0; i < sizeof not_raft / sizeof not_raft[0]; i++)
        NT_EQ_INT(raft_codec_msg_type(not_raft[i]), 0);
}

/* Every type with three entries (one empty), from ignored, sender taken
 * from the envelope; re-encoding the decoded message gives the same
 * bytes. */
static void
test_round_trip_every_type(void)
{
    static const char a[] = "first entry", c[] = "third";
    struct raft_entry ents[3] = {
        {11, 40, RAFT_ENTRY_COMMAND, 1, a, sizeof a},
        {12, 41, RAFT_ENTRY_NOOP, 0, NULL, 0},
        {13, 42, 0xffffffffu, 0xfffffffeu, c, sizeof c},
    };
    for (int t = RAFT_MSG_PREVOTE; t <= RAFT_MSG_TYPE_MAX; t++) {
        struct raft_msg m = full_msg((enum raft_msg_type)t);
        m.entries = ents;
        m.nentries = 3;
        struct enc e = {0};
        NT_EQ_INT(encode(&e, &m), NAOS_OK);
        NT_TRUE(e.len > 0 && e.len <= RAFT_CODEC_MAX_BYTES);
        struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
        NT_EQ_INT(decode(&d, &e, raft_codec_sealed_type(t)), NAOS_OK);
        expect_same(&m, &d.msg);
        NT_TRUE(d.msg.from.v == SENDER);
        NT_TRUE(d.msg.entries[1].data == NULL);
        struct enc e2 = {0};
        NT_EQ_INT(encode(&e2, &d.msg), NAOS_OK);
        NT_EQ_INT(e2.len, e.len);
        NT_TRUE(memcmp(e2.buf, e.buf, e.len) == 0);
        raft_codec_msg_fini(&d);
        raft_codec_msg_fini(&d); /* idempotent */
        enc_fini(&e);
        enc_fini(&e2);
        /* and without entries, every other field zero: a heartbeat */
        struct raft_msg h = {.type = (enum raft_msg_type)t, .cluster_id = 1};
        NT_EQ_INT(encode(&e, &h), NAOS_OK);
        NT_EQ_INT(decode(&d, &e, raft_codec_sealed_type(t)), NAOS_OK);
        expect_same(&h, &d.msg);
        NT_TRUE(d.msg.entries == NULL);
        raft_codec_msg_fini(&d);
        enc_fini(&e);
    }
    NT_EQ_INT(naos_alloc_live(), 0);
}

/* The largest entry, every field at its widest: the encoding is exactly
 * RAFT_CODEC_MSG_OVERHEAD + RAFT_CODEC_ENTRY_OVERHEAD + the data, and
 * fits. */
static void
test_worst_case_size_exact(void)
{
    unsigned char *data = malloc(RAFT_MAX_ENTRY_SIZE);
    NT_TRUE(data != NULL);
    for (size_t i = 0; i < RAFT_MAX_ENTRY_SIZE; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    struct raft_entry ent = {UINT64_MAX, UINT64_MAX, UINT32_MAX, UINT32_MAX,
                             data, RAFT_MAX_ENTRY_SIZE};
    struct raft_msg m = {
        .type = RAFT_MSG_APPEND_RESP, /* the largest type number */
        .cluster_id = UINT64_MAX,
        .to = {UINT64_MAX},
        .term = UINT64_MAX,
        .last_index = UINT64_MAX,
        .last_term = UINT64_MAX,
        .granted = true,
        .prev_index = UINT64_MAX - 1,
        .prev_term = UINT64_MAX,
        .commit = UINT64_MAX,
        .entries = &ent,
        .nentries = 1,
        .success = true,
        .match_index = UINT64_MAX,
        .reject_index = UINT64_MAX,
        .hint_index = UINT64_MAX,
        .hint_term = UINT64_MAX,
        .read_ctx = UINT64_MAX,
    };
    struct enc e = {0};
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    NT_EQ_INT(e.len, RAFT_CODEC_MSG_OVERHEAD + RAFT_CODEC_ENTRY_OVERHEAD +
                         RAFT_MAX_ENTRY_SIZE);
    NT_TRUE(e.len <= RAFT_CODEC_MAX_BYTES);
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    NT_EQ_INT(decode(&d, &e, raft_codec_sealed_type(m.type)), NAOS_OK);
    expect_same(&m, &d.msg);
    raft_codec_msg_fini(&d);
    /* Without the entry: the message overhead alone. */
    m.nentries = 0;
    m.entries = NULL;
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    NT_EQ_INT(e.len, RAFT_CODEC_MSG_OVERHEAD);
    enc_fini(&e);
    free(data);
    NT_EQ_INT(naos_alloc_live(), 0);
}

/* The default configuration's largest append: 64 entries sharing
 * max_msg_bytes, every number at its widest, stays within the bound and
 * the estimate; raft_codec_config_fits agrees. With the hard limit of
 * entries (a configuration raft_config_validate accepts) an append the
 * core may build is refused. */
static void
test_bound_and_config(void)
{
    struct raft_config c;
    raft_config_default(&c);
    char err[256] = "";
    NT_EQ_INT(raft_codec_config_fits(&c, err, sizeof err), NAOS_OK);

    size_t n = c.max_entries_per_msg;
    size_t each = c.max_msg_bytes / n;
    unsigned char *data = calloc(1, c.max_msg_bytes);
    struct raft_entry *ents = calloc(RAFT_MAX_ENTRIES_PER_MSG, sizeof *ents);
    NT_TRUE(data && ents);
    uint64_t prev = (1ull << 63);
    for (size_t i = 0; i < n; i++)
        ents[i] = (struct raft_entry){prev + 1 + i, UINT64_MAX, UINT32_MAX,
                                      UINT32_MAX, data + i * each, each};
    struct raft_msg m = full_msg(RAFT_MSG_APPEND);
    m.term = m.prev_term = m.commit = UINT64_MAX;
    m.prev_index = prev;
    m.entries = ents;
    m.nentries = n;
    struct enc e = {0};
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    NT_TRUE(e.len <= RAFT_CODEC_MSG_OVERHEAD +
                         n * RAFT_CODEC_ENTRY_OVERHEAD + n * each);
    NT_TRUE(e.len <= RAFT_CODEC_MAX_BYTES);

    /* the core accepts the hard limit of entries per append */
    static const struct raft_id voters[] = {{1}, {2}, {3}};
    c.id = voters[0];
    c.cluster_id = CLUSTER;
    c.voters = voters;
    c.nvoters = 3;
    c.max_entries_per_msg = RAFT_MAX_ENTRIES_PER_MSG;
    NT_EQ_INT(raft_config_validate(&c, err, sizeof err), NAOS_OK);
    NT_EQ_INT(raft_codec_config_fits(&c, err, sizeof err), NAOS_ETOOBIG);
    NT_CONTAINS(err, "max_entries_per_msg");
    c.max_entries_per_msg = 93; /* the most that always fits */
    NT_EQ_INT(raft_codec_config_fits(&c, err, sizeof err), NAOS_OK);
    c.max_entries_per_msg = 94;
    NT_EQ_INT(raft_codec_config_fits(&c, err, sizeof err), NAOS_ETOOBIG);

    /* 1024 entries of 1020 bytes (= max_msg_bytes) with wide numbers: the
     * core may send it, the envelope cannot take it. */
    n = RAFT_MAX_ENTRIES_PER_MSG;
    each = c.max_msg_bytes / n;
    for (size_t i = 0; i < n; i++)
        ents[i] = (struct raft_entry){prev + 1 + i, UINT64_MAX, UINT32_MAX,
                                      UINT32_MAX, data, each};
    m.nentries = n;
    size_t before = e.len;
    NT_EQ_INT(encode(&e, &m), NAOS_ETOOBIG);
    NT_CONTAINS(e.err, "over the envelope's 1048576");
    NT_EQ_INT(e.len, before); /* untouched */
    enc_fini(&e);
    free(ents);
    free(data);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_encode_refusals(void)
{
    static const char d[] = "x";
    struct raft_entry ents[RAFT_MAX_ENTRIES_PER_MSG + 1];
    for (size_t i = 0; i <= RAFT_MAX_ENTRIES_PER_MSG; i++)
        ents[i] = (struct raft_entry){11 + i, 40, 3, 1, d, 1};
    struct enc e = {0};
    struct raft_msg m = full_msg(RAFT_MSG_APPEND);
    m.entries = ents;

    m.type = 0;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "type");
    m.type = RAFT_MSG_TYPE_MAX + 1;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    m.type = RAFT_MSG_APPEND;

    m.cluster_id = 0;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "cluster_id");
    m.cluster_id = CLUSTER;

    m.nentries = RAFT_MAX_ENTRIES_PER_MSG + 1;
    NT_EQ_INT(encode(&e, &m), NAOS_ETOOBIG);
    NT_CONTAINS(e.err, "RAFT_MAX_ENTRIES_PER_MSG");
    m.nentries = RAFT_MAX_ENTRIES_PER_MSG;
    NT_EQ_INT(encode(&e, &m), NAOS_OK);

    m.nentries = 2;
    ents[1].len = RAFT_MAX_ENTRY_SIZE + 1;
    NT_EQ_INT(encode(&e, &m), NAOS_ETOOBIG);
    NT_CONTAINS(e.err, "entries[1].data");
    ents[1].len = 3;
    ents[1].data = NULL;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "entries[1].data");
    ents[1] = (struct raft_entry){13, 40, 3, 1, d, 1}; /* a gap */
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "entries[1].index: 13, expected 12");
    ents[1].index = 12;
    m.prev_index = 9; /* entries[0] is 11 */
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "entries[0].index");
    m.prev_index = 10;

    m.entries = NULL;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "entries");
    m.entries = ents;

    struct raft_entry wrap = {0, 1, 3, 1, d, 1};
    m.prev_index = UINT64_MAX;
    m.entries = &wrap;
    m.nentries = 1;
    NT_EQ_INT(encode(&e, &m), NAOS_EINVAL);
    NT_CONTAINS(e.err, "2^64");

    NT_EQ_INT(raft_codec_encode(&m, &e.buf, &e.cap, &e.len, NULL, 0),
              NAOS_EINVAL); /* no err buffer is fine */
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

/* ---- decoder refusals: payloads packed with protobuf-c directly ------ */

struct craft {
    Naos__V1__RaftMessage pm;
    Naos__V1__RaftEntry *pes;
    Naos__V1__RaftEntry **pp;
};

/* craft_init: a valid APPEND of n entries (index 11..) after prev 10. */
static void
craft_init(struct craft *c, size_t n)
{
    naos__v1__raft_message__init(&c->pm);
    c->pm.version = RAFT_CODEC_VERSION;
    c->pm.type = RAFT_MSG_APPEND;
    c->pm.cluster_id = CLUSTER;
    c->pm.to = 2;
    c->pm.term = 5;
    c->pm.prev_index = 10;
    c->pm.prev_term = 4;
    c->pes = calloc(n ? n : 1, sizeof *c->pes);
    c->pp = calloc(n ? n : 1, sizeof *c->pp);
    NT_TRUE(c->pes && c->pp);
    for (size_t i = 0; i < n; i++) {
        naos__v1__raft_entry__init(&c->pes[i]);
        c->pes[i].index = 11 + i;
        c->pes[i].term = 5;
        c->pes[i].type = RAFT_ENTRY_COMMAND;
        c->pp[i] = &c->pes[i];
    }
    c->pm.n_entries = n;
    c->pm.entries = c->pp;
}

static void
craft_pack(struct craft *c, struct enc *e)
{
    e->len = naos__v1__raft_message__get_packed_size(&c->pm);
    NT_EQ_INT(naos_buf_reserve(&e->buf, &e->cap, e->len ? e->len : 1),
              NAOS_OK);
    NT_EQ_INT(naos__v1__raft_message__pack(&c->pm, e->buf), e->len);
}

static void
craft_fini(struct craft *c)
{
    free(c->pes);
    free(c->pp);
}

/* expect_refused: c packed, decoded as sealed type st, is refused with
 * NAOS_EPROTO and an err containing what. */
static void
expect_refused(struct craft *c, uint32_t st, const char *what)
{
    struct enc e = {0};
    craft_pack(c, &e);
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    NT_EQ_INT(decode(&d, &e, st), NAOS_EPROTO);
    NT_CONTAINS(e.err, what);
    NT_EQ_INT(d.msg.type, 0); /* nothing filled in */
    raft_codec_msg_fini(&d);
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
expect_accepted(struct craft *c, uint32_t st)
{
    struct enc e = {0};
    craft_pack(c, &e);
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    NT_EQ_INT(decode(&d, &e, st), NAOS_OK);
    raft_codec_msg_fini(&d);
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_decode_refusals(void)
{
    uint32_t append = raft_codec_sealed_type(RAFT_MSG_APPEND);
    struct craft c;
    craft_init(&c, 3);
    expect_accepted(&c, append);

    /* Sealed.type outside Raft's message types */
    expect_refused(&c, 64, "Sealed.type 64");
    expect_refused(&c, 71, "Sealed.type 71");
    expect_refused(&c, 63, "Sealed.type 63");

    /* version: absent (0) and a future one */
    c.pm.version = 0;
    expect_refused(&c, append, "version: 0 unknown");
    c.pm.version = 2;
    expect_refused(&c, append, "version: 2 unknown");
    c.pm.version = RAFT_CODEC_VERSION;

    /* the payload's type is not the envelope's */
    expect_refused(&c, raft_codec_sealed_type(RAFT_MSG_VOTE),
                   "type: payload says 5, Sealed.type 67");
    c.pm.type = 0;
    expect_refused(&c, append, "type: payload says 0");
    c.pm.type = RAFT_MSG_APPEND;

    c.pm.cluster_id = 0;
    expect_refused(&c, append, "cluster_id: 0");
    c.pm.cluster_id = CLUSTER;

    /* entries not contiguous from prev_index + 1 */
    c.pes[0].index = 12;
    expect_refused(&c, append, "entries[0].index: 12, expected 11");
    c.pes[0].index = 11;
    c.pes[2].index = 12; /* a repeat */
    expect_refused(&c, append, "entries[2].index: 12, expected 13");
    c.pes[2].index = 14; /* a gap */
    expect_refused(&c, append, "entries[2].index: 14, expected 13");
    c.pes[2].index = 13;
    c.pm.prev_index = 11;
    expect_refused(&c, append, "entries[0].index: 11, expected 12");
    c.pm.prev_index = 10;
    expect_accepted(&c, append);
    craft_fini(&c);

    /* an index wrapping past 2^64 */
    craft_init(&c, 2);
    c.pm.prev_index = UINT64_MAX - 1;
    c.pes[0].index = UINT64_MAX;
    c.pes[1].index = 0;
    expect_refused(&c, append, "pass 2^64");
    craft_fini(&c);

    /* one entry over RAFT_MAX_ENTRY_SIZE; exactly it is fine */
    craft_init(&c, 2);
    uint8_t *big = calloc(1, RAFT_MAX_ENTRY_SIZE + 1);
    NT_TRUE(big != NULL);
    c.pes[1].data.data = big;
    c.pes[1].data.len = RAFT_MAX_ENTRY_SIZE + 1;
    expect_refused(&c, append, "entries[1].data: 1046529 bytes");
    c.pes[1].data.len = RAFT_MAX_ENTRY_SIZE;
    expect_accepted(&c, append);
    free(big);
    craft_fini(&c);

    /* more than RAFT_MAX_ENTRIES_PER_MSG entries; exactly it is fine */
    craft_init(&c, RAFT_MAX_ENTRIES_PER_MSG + 1);
    expect_refused(&c, append, "entries: 1025, over RAFT_MAX_ENTRIES_PER_MSG");
    c.pm.n_entries = RAFT_MAX_ENTRIES_PER_MSG;
    expect_accepted(&c, append);
    craft_fini(&c);
}

/* A payload longer than an envelope takes is refused before it is
 * parsed; unknown fields (a later, compatible version) are skipped. */
static void
test_decode_bound_and_unknown_fields(void)
{
    struct enc e = {0};
    e.len = RAFT_CODEC_MAX_BYTES + 1;
    NT_EQ_INT(naos_buf_reserve(&e.buf, &e.cap, e.len), NAOS_OK);
    memset(e.buf, 0, e.len);
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    NT_EQ_INT(decode(&d, &e, raft_codec_sealed_type(RAFT_MSG_APPEND)),
              NAOS_EPROTO);
    NT_CONTAINS(e.err, "payload: 1048577 bytes");
    raft_codec_msg_fini(&d);

    struct raft_msg m = full_msg(RAFT_MSG_VOTE);
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    /* field 40, varint 7 (tag 40 << 3 = 320: 0xc0 0x02); field 41, bytes */
    static const uint8_t extra[] = {0xc0, 0x02, 0x07, 0xca, 0x02, 0x02, 'h',
                                    'i'};
    NT_EQ_INT(naos_buf_reserve(&e.buf, &e.cap, e.len + sizeof extra),
              NAOS_OK);
    memcpy(e.buf + e.len, extra, sizeof extra);
    e.len += sizeof extra;
    NT_EQ_INT(decode(&d, &e, raft_codec_sealed_type(RAFT_MSG_VOTE)), NAOS_OK);
    expect_same(&m, &d.msg);
    raft_codec_msg_fini(&d);
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static uint64_t
rng(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* decode_any: whatever bytes come, decode answers OK or EPROTO with a
 * reason; what it accepts re-encodes to bytes that decode the same. */
static int
decode_any(const uint8_t *buf, size_t len, uint32_t st)
{
    char err[256] = "";
    long live = naos_alloc_live();
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    int rc = raft_codec_decode(&d, st, SENDER, buf, len, err, sizeof err);
    NT_TRUE(rc == NAOS_OK || rc == NAOS_EPROTO);
    if (rc != NAOS_OK) {
        NT_TRUE(err[0] != '\0');
    } else {
        struct enc e = {0};
        NT_EQ_INT(encode(&e, &d.msg), NAOS_OK);
        struct raft_codec_msg d2 = RAFT_CODEC_MSG_ZERO;
        NT_EQ_INT(decode(&d2, &e, st), NAOS_OK);
        expect_same(&d.msg, &d2.msg);
        raft_codec_msg_fini(&d2);
        enc_fini(&e);
    }
    raft_codec_msg_fini(&d);
    NT_EQ_INT(naos_alloc_live(), live);
    return rc;
}

/* Random bytes, random bytes after a valid header, and every truncation
 * and single-byte corruption of a valid append. */
static void
test_garbage(void)
{
    uint64_t x = 1;
    uint8_t buf[256];
    uint32_t append = raft_codec_sealed_type(RAFT_MSG_APPEND);
    for (int round = 0; round < 2000; round++) {
        size_t len = rng(&x) % sizeof buf;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)rng(&x);
        if (round % 2 && len >= 13) {
            /* version 1, type append, cluster id: past the first checks */
            static const uint8_t head[] = {0x08, 0x01, 0x10, 0x05, 0x19,
                                           1,    2,    3,    4,    5,
                                           6,    7,    8};
            memcpy(buf, head, sizeof head);
        }
        decode_any(buf, len, append);
    }

    static const char a[] = "entry-a", b[] = "entry-b";
    struct raft_entry ents[3] = {{11, 5, 3, 1, a, sizeof a},
                                 {12, 5, 1, 0, NULL, 0},
                                 {13, 5, 3, 1, b, sizeof b}};
    struct raft_msg m = full_msg(RAFT_MSG_APPEND);
    m.entries = ents;
    m.nentries = 3;
    struct enc e = {0};
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    int ok = 0;
    for (size_t cut = 0; cut < e.len; cut++)
        ok += decode_any(e.buf, cut, append) == NAOS_OK;
    NT_TRUE(ok < (int)e.len); /* some truncations must be refused */
    uint8_t *copy = malloc(e.len);
    NT_TRUE(copy != NULL);
    for (size_t i = 0; i < e.len; i++) {
        memcpy(copy, e.buf, e.len);
        copy[i] ^= (uint8_t)(1u << (i % 8));
        decode_any(copy, e.len, append);
        copy[i] = 0xff;
        decode_any(copy, e.len, append);
    }
    free(copy);
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

/* Every allocation of encode and decode failing in turn: ENOMEM (or, for
 * protobuf-c's unpack, EPROTO), nothing leaked, and the next call works. */
static void
test_alloc_failures(void)
{
    static const char a[] = "data";
    struct raft_entry ents[2] = {{11, 5, 3, 1, a, sizeof a},
                                 {12, 5, 3, 1, a, sizeof a}};
    struct raft_msg m = full_msg(RAFT_MSG_APPEND);
    m.entries = ents;
    m.nentries = 2;
    int enomem = 0;
    for (long n = 0; n < 50; n++) {
        struct enc e = {0};
        naos_alloc_fail_after(n);
        int rc = encode(&e, &m);
        int armed = naos_alloc_fault_armed();
        naos_alloc_fail_after(-1);
        if (armed) {
            NT_EQ_INT(rc, NAOS_OK);
            enc_fini(&e);
            break;
        }
        NT_EQ_INT(rc, NAOS_ENOMEM);
        enomem++;
        enc_fini(&e);
        NT_EQ_INT(naos_alloc_live(), 0);
    }
    NT_TRUE(enomem >= 2); /* the view and the buffer */

    struct enc e = {0};
    NT_EQ_INT(encode(&e, &m), NAOS_OK);
    int failed = 0;
    for (long n = 0; n < 50; n++) {
        struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
        naos_alloc_fail_after(n);
        int rc = decode(&d, &e, raft_codec_sealed_type(RAFT_MSG_APPEND));
        int armed = naos_alloc_fault_armed();
        naos_alloc_fail_after(-1);
        if (armed) {
            NT_EQ_INT(rc, NAOS_OK);
            expect_same(&m, &d.msg);
            raft_codec_msg_fini(&d);
            break;
        }
        NT_TRUE(rc == NAOS_ENOMEM || rc == NAOS_EPROTO);
        failed++;
        raft_codec_msg_fini(&d);
        NT_EQ_INT(naos_alloc_live(), 1); /* e's buffer */
    }
    NT_TRUE(failed >= 2);
    enc_fini(&e);
    NT_EQ_INT(naos_alloc_live(), 0);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_sealed_types),
        NT_CASE(test_round_trip_every_type),
        NT_CASE(test_worst_case_size_exact),
        NT_CASE(test_bound_and_config),
        NT_CASE(test_encode_refusals),
        NT_CASE(test_decode_refusals),
        NT_CASE(test_decode_bound_and_unknown_fields),
        NT_CASE(test_garbage),
        NT_CASE(test_alloc_failures),
        {0},
    };
    return nt_run(cases);
}
