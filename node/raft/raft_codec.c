/* SPDX-License-Identifier: Apache-2.0 */
/* raft_codec.c: struct raft_msg <-> naos.v1.RaftMessage (raft_codec.h). */
#include "node/raft/raft_codec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/wire/wire.h"
#include "proto/raft.pb-c.h"
#include "proto/spec_pb.h"

_Static_assert(RAFT_CODEC_SEALED_BASE == WIRE_TYPES_RAFT_LO,
               "Raft's sealed types start its range of the transport");
_Static_assert(RAFT_CODEC_SEALED_BASE + RAFT_MSG_TYPE_MAX <=
                   WIRE_TYPES_RAFT_HI,
               "every Raft message type is in its range of the transport");
/* RAFT_CODEC_ENTRY_OVERHEAD counts 3-byte lengths: an entry's data and
 * the entry itself stay below 2^21 bytes. */
_Static_assert(RAFT_MAX_ENTRY_SIZE + 38 < (1u << 21),
               "entry lengths fit a 3-byte varint");
_Static_assert(RAFT_CODEC_MSG_OVERHEAD + RAFT_CODEC_ENTRY_OVERHEAD +
                       RAFT_MAX_ENTRY_SIZE <=
                   RAFT_CODEC_MAX_BYTES,
               "one entry of the largest size always encodes");

static void
say(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

uint32_t
raft_codec_sealed_type(int t)
{
    if (t < RAFT_MSG_PREVOTE || t > RAFT_MSG_TYPE_MAX)
        return 0;
    return RAFT_CODEC_SEALED_BASE + (uint32_t)t;
}

int
raft_codec_msg_type(uint32_t sealed)
{
    if (sealed <= RAFT_CODEC_SEALED_BASE ||
        sealed > RAFT_CODEC_SEALED_BASE + RAFT_MSG_TYPE_MAX)
        return 0;
    return (int)(sealed - RAFT_CODEC_SEALED_BASE);
}

int
raft_codec_config_fits(const struct raft_config *c, char *err, size_t errlen)
{
    /* Each term is bounded by raft_config_validate's limits (or not yet
     * validated): compute in 64 bits so nothing wraps. */
    uint64_t one = (uint64_t)RAFT_CODEC_ENTRY_OVERHEAD + c->max_entry_size;
    uint64_t many = (uint64_t)c->max_entries_per_msg *
                        RAFT_CODEC_ENTRY_OVERHEAD +
                    c->max_msg_bytes;
    uint64_t worst = RAFT_CODEC_MSG_OVERHEAD + (one > many ? one : many);
    if (worst > RAFT_CODEC_MAX_BYTES) {
        say(err, errlen,
            "an append may encode to %" PRIu64 " bytes, over the envelope's "
            "%u (max_entries_per_msg %zu x %u bytes of framing + "
            "max_msg_bytes %zu, or max_entry_size %zu alone)",
            worst, (unsigned)RAFT_CODEC_MAX_BYTES, c->max_entries_per_msg,
            (unsigned)RAFT_CODEC_ENTRY_OVERHEAD, c->max_msg_bytes,
            c->max_entry_size);
        return NAOS_ETOOBIG;
    }
    return NAOS_OK;
}

/* check_entries: the checks the decoder makes on entries (n of them at
 * ents, following prev_index), shared by the encoder so that whatever
 * encodes also decodes. NAOS_OK, or NAOS_ETOOBIG / NAOS_EINVAL with the
 * field in err. */
static int
check_entries(uint64_t prev_index, const struct raft_entry *ents, size_t n,
              char *err, size_t errlen)
{
    if (n > RAFT_MAX_ENTRIES_PER_MSG) {
        say(err, errlen, "entries: %zu, over RAFT_MAX_ENTRIES_PER_MSG (%d)",
            n, RAFT_MAX_ENTRIES_PER_MSG);
        return NAOS_ETOOBIG;
    }
    if (n > 0 && ents == NULL) {
        say(err, errlen, "entries: %zu announced, none given", n);
        return NAOS_EINVAL;
    }
    if (n > 0 && prev_index > UINT64_MAX - n) {
        say(err, errlen,
            "entries: %zu after prev_index %" PRIu64 " pass 2^64", n,
            prev_index);
        return NAOS_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        const struct raft_entry *e = &ents[i];
        if (e->len > RAFT_MAX_ENTRY_SIZE) {
            say(err, errlen,
                "entries[%zu].data: %zu bytes, over RAFT_MAX_ENTRY_SIZE "
                "(%d)",
                i, e->len, RAFT_MAX_ENTRY_SIZE);
            return NAOS_ETOOBIG;
        }
        if (e->len > 0 && e->data == NULL) {
            say(err, errlen, "entries[%zu].data: %zu bytes announced, none "
                "given", i, e->len);
            return NAOS_EINVAL;
        }
        if (e->index != prev_index + 1 + i) {
            say(err, errlen,
                "entries[%zu].index: %" PRIu64 ", expected %" PRIu64
                " (contiguous from prev_index + 1)",
                i, e->index, prev_index + 1 + i);
            return NAOS_EINVAL;
        }
    }
    return NAOS_OK;
}

int
raft_codec_encode(const struct raft_msg *m, unsigned char **buf, size_t *cap,
                  size_t *len, char *err, size_t errlen)
{
    if (raft_codec_sealed_type((int)m->type) == 0) {
        say(err, errlen, "type: %d is not a Raft message type", (int)m->type);
        return NAOS_EINVAL;
    }
    if (m->cluster_id == 0) {
        say(err, errlen, "cluster_id: 0");
        return NAOS_EINVAL;
    }
    size_t n = m->nentries;
    int rc = check_entries(m->prev_index, m->entries, n, err, errlen);
    if (rc != NAOS_OK)
        return rc;

    Naos__V1__RaftMessage pm = NAOS__V1__RAFT_MESSAGE__INIT;
    pm.version = RAFT_CODEC_VERSION;
    pm.type = (uint32_t)m->type;
    pm.cluster_id = m->cluster_id;
    pm.to = m->to.v;
    pm.term = m->term;
    pm.last_index = m->last_index;
    pm.last_term = m->last_term;
    pm.granted = m->granted;
    pm.prev_index = m->prev_index;
    pm.prev_term = m->prev_term;
    pm.commit = m->commit;
    pm.success = m->success;
    pm.match_index = m->match_index;
    pm.reject_index = m->reject_index;
    pm.hint_index = m->hint_index;
    pm.hint_term = m->hint_term;
    pm.read_ctx = m->read_ctx;
    pm.held = m->held;

    /* The view of the entries: n structs then n pointers to them, in one
     * block; the data is borrowed from m. */
    void *block = NULL;
    if (n > 0) {
        block = naos_alloc(n * (sizeof(Naos__V1__RaftEntry) +
                                sizeof(Naos__V1__RaftEntry *)));
        if (block == NULL) {
            say(err, errlen, "out of memory");
            return NAOS_ENOMEM;
        }
        Naos__V1__RaftEntry *pes = block;
        Naos__V1__RaftEntry **pp = (Naos__V1__RaftEntry **)(pes + n);
        for (size_t i = 0; i < n; i++) {
            const struct raft_entry *e = &m->entries[i];
            naos__v1__raft_entry__init(&pes[i]);
            pes[i].index = e->index;
            pes[i].term = e->term;
            pes[i].type = e->type;
            pes[i].version = e->version;
            pes[i].data.data = (uint8_t *)(e->len ? e->data : NULL);
            pes[i].data.len = e->len;
            pp[i] = &pes[i];
        }
        pm.n_entries = n;
        pm.entries = pp;
    }

    size_t need = naos__v1__raft_message__get_packed_size(&pm);
    if (need > RAFT_CODEC_MAX_BYTES) {
        say(err, errlen,
            "%s with %zu entries: %zu bytes encoded, over the envelope's %u",
            raft_msg_type_name((int)m->type), n, need,
            (unsigned)RAFT_CODEC_MAX_BYTES);
        rc = NAOS_ETOOBIG;
    } else if (naos_buf_reserve(buf, cap, need) != NAOS_OK) {
        say(err, errlen, "out of memory");
        rc = NAOS_ENOMEM;
    } else {
        *len = naos__v1__raft_message__pack(&pm, *buf);
        NAOS_ASSERT(*len == need);
    }
    naos_free(block);
    return rc;
}

void
raft_codec_msg_fini(struct raft_codec_msg *m)
{
    if (m->pb)
        naos__v1__raft_message__free_unpacked(m->pb, &spec_pb_allocator);
    naos_free(m->entries);
    memset(m, 0, sizeof *m);
}

int
raft_codec_decode(struct raft_codec_msg *out, uint32_t sealed,
                  uint64_t sender, const uint8_t *buf, size_t len, char *err,
                  size_t errlen)
{
    memset(out, 0, sizeof *out);
    int type = raft_codec_msg_type(sealed);
    if (type == 0) {
        say(err, errlen, "Sealed.type %u is not a Raft message type",
            (unsigned)sealed);
        return NAOS_EPROTO;
    }
    if (len > RAFT_CODEC_MAX_BYTES) {
        say(err, errlen, "payload: %zu bytes, over the envelope's %u", len,
            (unsigned)RAFT_CODEC_MAX_BYTES);
        return NAOS_EPROTO;
    }
    Naos__V1__RaftMessage *pm =
        naos__v1__raft_message__unpack(&spec_pb_allocator, len, buf);
    if (pm == NULL) {
        say(err, errlen, "payload: undecodable RaftMessage (%zu bytes)", len);
        return NAOS_EPROTO;
    }
    out->pb = pm;
    /* The version first: another layout may give the other fields
     * another meaning. */
    if (pm->version != RAFT_CODEC_VERSION) {
        say(err, errlen, "version: %u unknown (this node reads %u)",
            (unsigned)pm->version, RAFT_CODEC_VERSION);
        return NAOS_EPROTO;
    }
    if (pm->type != (uint32_t)type) {
        say(err, errlen, "type: payload says %u, Sealed.type %u says %d (%s)",
            (unsigned)pm->type, (unsigned)sealed, type,
            raft_msg_type_name(type));
        return NAOS_EPROTO;
    }
    if (pm->cluster_id == 0) {
        say(err, errlen, "cluster_id: 0");
        return NAOS_EPROTO;
    }
    /* The count before allocating for it (the unpacked message is already
     * bounded by len). */
    if (pm->n_entries > RAFT_MAX_ENTRIES_PER_MSG) {
        say(err, errlen, "entries: %zu, over RAFT_MAX_ENTRIES_PER_MSG (%d)",
            pm->n_entries, RAFT_MAX_ENTRIES_PER_MSG);
        return NAOS_EPROTO;
    }
    if (pm->n_entries > 0) {
        out->entries = naos_alloc(pm->n_entries * sizeof *out->entries);
        if (out->entries == NULL) {
            say(err, errlen, "out of memory");
            return NAOS_ENOMEM;
        }
        for (size_t i = 0; i < pm->n_entries; i++) {
            const Naos__V1__RaftEntry *pe = pm->entries[i];
            struct raft_entry *e = &out->entries[i];
            e->index = pe->index;
            e->term = pe->term;
            e->type = pe->type;
            e->version = pe->version;
            e->len = pe->data.len;
            e->data = pe->data.len ? pe->data.data : NULL;
        }
    }
    if (check_entries(pm->prev_index, out->entries, pm->n_entries, err,
                      errlen) != NAOS_OK)
        return NAOS_EPROTO;

    struct raft_msg *m = &out->msg;
    m->type = (enum raft_msg_type)type;
    m->cluster_id = pm->cluster_id;
    m->from.v = sender;
    m->to.v = pm->to;
    m->term = pm->term;
    m->last_index = pm->last_index;
    m->last_term = pm->last_term;
    m->granted = pm->granted != 0;
    m->prev_index = pm->prev_index;
    m->prev_term = pm->prev_term;
    m->commit = pm->commit;
    m->success = pm->success != 0;
    m->match_index = pm->match_index;
    m->reject_index = pm->reject_index;
    m->hint_index = pm->hint_index;
    m->hint_term = pm->hint_term;
    m->read_ctx = pm->read_ctx;
    m->held = pm->held;
    if (pm->n_entries > 0) {
        m->entries = out->entries;
        m->nentries = pm->n_entries;
    }
    return NAOS_OK;
}
