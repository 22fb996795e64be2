/* SPDX-License-Identifier: Apache-2.0 */
/* raft_codec_fuzz.c: libFuzzer target for raft_codec_decode, the decoder
 * of Raft messages from opened envelopes (built by cluster-tests/fuzz with
 * -DNAOS_FUZZ=ON).
 *
 * Input: byte 0 picks the envelope's Sealed.type, 64 + (byte & 7) (so
 * 64..71: the six Raft message types and one unused type on each side);
 * the rest is the payload.
 *
 * Checks beyond memory safety:
 *   - a refusal is NAOS_EPROTO or NAOS_ENOMEM with a reason, the message
 *     left zeroed;
 *   - an accepted message has the envelope's type and sender, at most
 *     RAFT_MAX_ENTRIES_PER_MSG entries of at most RAFT_MAX_ENTRY_SIZE
 *     bytes, numbered from prev_index + 1, and a non-zero cluster id;
 *   - decode -> encode -> decode agree field by field (entry data
 *     included), and encoding the second decode gives the same bytes as
 *     the first encoding (what one node relays means the same to the
 *     next);
 *   - nothing leaks through naos_alloc. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/raft/raft_codec.h"

#define SENDER 0x0123456789abcdefull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(const struct raft_msg *a, const struct raft_msg *b)
{
    NAOS_ASSERT(a->type == b->type && a->cluster_id == b->cluster_id);
    NAOS_ASSERT(a->from.v == b->from.v && a->to.v == b->to.v);
    NAOS_ASSERT(a->term == b->term && a->last_index == b->last_index &&
                a->last_term == b->last_term && a->granted == b->granted);
    NAOS_ASSERT(a->prev_index == b->prev_index &&
                a->prev_term == b->prev_term && a->commit == b->commit);
    NAOS_ASSERT(a->success == b->success &&
                a->match_index == b->match_index &&
                a->reject_index == b->reject_index &&
                a->hint_index == b->hint_index &&
                a->hint_term == b->hint_term);
    NAOS_ASSERT(a->nentries == b->nentries);
    for (size_t i = 0; i < a->nentries; i++) {
        const struct raft_entry *x = &a->entries[i], *y = &b->entries[i];
        NAOS_ASSERT(x->index == y->index && x->term == y->term &&
                    x->type == y->type && x->version == y->version &&
                    x->len == y->len);
        NAOS_ASSERT(x->len == 0 || memcmp(x->data, y->data, x->len) == 0);
        NAOS_ASSERT((x->len == 0) == (x->data == NULL));
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t sealed = RAFT_CODEC_SEALED_BASE + (data[0] & 7u);
    char err[256] = "";
    struct raft_codec_msg d = RAFT_CODEC_MSG_ZERO;
    int rc = raft_codec_decode(&d, sealed, SENDER, data + 1, size - 1, err,
                               sizeof err);
    if (rc != NAOS_OK) {
        NAOS_ASSERT(rc == NAOS_EPROTO || rc == NAOS_ENOMEM);
        NAOS_ASSERT(err[0] != '\0');
        NAOS_ASSERT(d.msg.type == 0 && d.msg.nentries == 0);
        raft_codec_msg_fini(&d);
        NAOS_ASSERT(naos_alloc_live() == 0);
        return 0;
    }
    const struct raft_msg *m = &d.msg;
    NAOS_ASSERT(raft_codec_sealed_type((int)m->type) == sealed);
    NAOS_ASSERT(m->from.v == SENDER && m->cluster_id != 0);
    NAOS_ASSERT(m->nentries <= RAFT_MAX_ENTRIES_PER_MSG);
    NAOS_ASSERT((m->nentries == 0) == (m->entries == NULL));
    for (size_t i = 0; i < m->nentries; i++) {
        NAOS_ASSERT(m->entries[i].index == m->prev_index + 1 + i);
        NAOS_ASSERT(m->entries[i].len <= RAFT_MAX_ENTRY_SIZE);
    }

    unsigned char *b1 = NULL, *b2 = NULL;
    size_t c1 = 0, c2 = 0, n1 = 0, n2 = 0;
    NAOS_ASSERT(raft_codec_encode(m, &b1, &c1, &n1, err, sizeof err) ==
                NAOS_OK);
    NAOS_ASSERT(n1 <= RAFT_CODEC_MAX_BYTES);
    struct raft_codec_msg d2 = RAFT_CODEC_MSG_ZERO;
    NAOS_ASSERT(raft_codec_decode(&d2, sealed, SENDER, b1, n1, err,
                                  sizeof err) == NAOS_OK);
    same(m, &d2.msg);
    NAOS_ASSERT(raft_codec_encode(&d2.msg, &b2, &c2, &n2, err, sizeof err) ==
                NAOS_OK);
    NAOS_ASSERT(n1 == n2 && memcmp(b1, b2, n1) == 0);
    raft_codec_msg_fini(&d2);
    raft_codec_msg_fini(&d);
    naos_free(b1);
    naos_free(b2);
    NAOS_ASSERT(naos_alloc_live() == 0);
    return 0;
}
