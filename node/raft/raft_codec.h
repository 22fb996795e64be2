/* SPDX-License-Identifier: Apache-2.0 */
/* raft_codec.h: the wire encoding of Raft-lite messages (struct raft_msg
 * <-> naos.v1.RaftMessage, proto/raft.proto), so cores on different nodes
 * can talk through the node's transport (node/wire). Kept out of raft.c:
 * the core stays pure and knows nothing of protobuf.
 *
 * Envelope: each message is the payload of one sealed envelope whose
 * Sealed.type is RAFT_CODEC_SEALED_BASE (64, the first type of the
 * transport's Raft range 64..95, WIRE_TYPES_RAFT_*) + enum raft_msg_type:
 * 65 prevote, 66 prevote-resp, 67 vote, 68 vote-resp, 69 append, 70
 * append-resp; 64 and 71..95 are not used. The payload repeats the type
 * (a mismatch is refused) and carries an encoding version.
 *
 * Payload (RaftMessage): version (RAFT_CODEC_VERSION), type, cluster_id,
 * to, term, then the fields of struct raft_msg by type (raft.h), and the
 * entries (RaftEntry: index, term, type, version, data). Never `from`:
 * the sender is the envelope's authenticated sender, which the caller
 * hands to raft_codec_decode.
 *
 * Bound: an encoded message is at most RAFT_CODEC_MAX_BYTES, the payload
 * one sealed envelope takes (AUTH_MAX_PAYLOAD, node/auth/seal.h, 1 MiB).
 * Nothing here splits a message: the core sizes its appends
 * (max_entries_per_msg, max_msg_bytes, max_entry_size), and
 * raft_codec_config_fits tells whether a configuration's largest append
 * always encodes within the bound. Everything but the entries takes at
 * most RAFT_CODEC_MSG_OVERHEAD bytes, each entry at most
 * RAFT_CODEC_ENTRY_OVERHEAD bytes beyond its data; so the defaults (64
 * entries, 1 MiB - 4 KiB of data) fit, with 1,258 bytes to spare in the
 * worst case, while 94 or more entries with max_msg_bytes at its default
 * may not (raft_codec_encode then refuses with NAOS_ETOOBIG).
 *
 * What raft_codec_decode checks: only what decoding needs (the bound, the
 * protobuf, version, type, cluster_id non-zero, at most
 * RAFT_MAX_ENTRIES_PER_MSG entries of at most RAFT_MAX_ENTRY_SIZE bytes
 * each, numbered contiguously from prev_index + 1 without wrapping past
 * 2^64). Everything else is the core's (raft_on_message drops and counts
 * it): cluster_id being its own, `to` being itself, `from` a voter other
 * than itself, term 0, entries outside an append, the configured
 * (smaller) entry count and sizes, entry terms in order, prev and last
 * (index, term) consistency. Entry type and version are the applier's.
 *
 * Errors: NAOS_EPROTO for a payload refused (err names the field),
 * NAOS_EINVAL / NAOS_ETOOBIG for a message that cannot be encoded,
 * NAOS_ENOMEM. err (caller buffer + length) may be NULL.
 *
 * Allocation through naos_alloc (protobuf-c's allocator included). Pure:
 * no clock, socket or disk; no global state; any thread. */
#ifndef NAOS_NODE_RAFT_RAFT_CODEC_H
#define NAOS_NODE_RAFT_RAFT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/auth/seal.h"
#include "node/raft/raft.h"

/* RAFT_CODEC_VERSION: the payload layout this code writes and the only
 * one it reads. Raise it when a change would make an older node misread
 * a message (an added field it may safely ignore needs no raise). */
#define RAFT_CODEC_VERSION 1u

/* RAFT_CODEC_SEALED_BASE: Sealed.type = base + enum raft_msg_type (the
 * .c asserts base == WIRE_TYPES_RAFT_LO and that every type is in the
 * range). */
#define RAFT_CODEC_SEALED_BASE 64u

/* RAFT_CODEC_MAX_BYTES: the largest payload raft_codec_encode writes and
 * raft_codec_decode reads: one sealed envelope's. */
#define RAFT_CODEC_MAX_BYTES AUTH_MAX_PAYLOAD

/* RAFT_CODEC_MSG_OVERHEAD: the most a message takes besides its entries:
 * version and type 2 bytes each, cluster_id and to 9 each (fixed64), the
 * 8 other integers of fields 5..15 11 each (tag + 10-byte varint), fields
 * 16, 17 and 18 12 each (2-byte tags), the 2 bools 2 each.
 * RAFT_CODEC_ENTRY_OVERHEAD: the most one entry of at most
 * RAFT_MAX_ENTRY_SIZE bytes takes beyond its data: field tag and 3-byte
 * length, index and term 11 each, type and version 6 each, data tag and
 * 3-byte length. raft_codec_test encodes the worst case: both are exact. */
#define RAFT_CODEC_MSG_OVERHEAD 150u
#define RAFT_CODEC_ENTRY_OVERHEAD 42u

/* raft_codec_sealed_type returns the Sealed.type of a message of type t,
 * or 0 (never a type) when t is not an enum raft_msg_type. */
uint32_t raft_codec_sealed_type(int t);

/* raft_codec_msg_type is the inverse: the enum raft_msg_type carried by
 * Sealed.type sealed, or 0 when sealed is no Raft message type (outside
 * 64..95, or in it but unused). */
int raft_codec_msg_type(uint32_t sealed);

/* raft_codec_config_fits: whether every append c (borrowed) lets the core
 * build encodes within RAFT_CODEC_MAX_BYTES, counting each field at its
 * worst: RAFT_CODEC_MSG_OVERHEAD + the larger of one entry of
 * max_entry_size and max_entries_per_msg entries of max_msg_bytes in all
 * (raft.h: one entry may exceed max_msg_bytes only alone). NAOS_OK, or
 * NAOS_ETOOBIG with the figures in err. The driver calls it once, next
 * to raft_config_validate. */
int raft_codec_config_fits(const struct raft_config *c, char *err,
                           size_t errlen);

/* raft_codec_encode encodes m (borrowed; m->from is not encoded) into
 * *buf, a growable buffer the caller owns (naos_buf_reserve rules: NULL
 * and 0 at first, grown as needed, freed with naos_free; keep it for the
 * next message), and sets *len. Checks first what raft_codec_decode
 * would refuse, so whatever encodes also decodes. Returns:
 *   NAOS_OK
 *   NAOS_EINVAL   unknown type, cluster_id 0, entries not contiguous from
 *                 prev_index + 1, entries or data NULL with a count
 *   NAOS_ETOOBIG  more than RAFT_MAX_ENTRIES_PER_MSG entries, one over
 *                 RAFT_MAX_ENTRY_SIZE, or over RAFT_CODEC_MAX_BYTES in all
 *   NAOS_ENOMEM
 * with err saying which; on error *len is untouched (*buf may have grown).
 * Nothing is sent: the caller hands buf[0..*len) to wire_send with type
 * raft_codec_sealed_type(m->type). */
int raft_codec_encode(const struct raft_msg *m, unsigned char **buf,
                      size_t *cap, size_t *len, char *err, size_t errlen);

/* struct raft_codec_msg: a decoded message. msg.entries and every
 * entry's data point into memory the struct owns, valid until
 * raft_codec_msg_fini. Caller storage; RAFT_CODEC_MSG_ZERO. */
struct raft_codec_msg {
    struct raft_msg msg;
    struct raft_entry *entries; /* naos_alloc'd; NULL with no entries */
    void *pb;                   /* the unpacked Naos__V1__RaftMessage */
};
#define RAFT_CODEC_MSG_ZERO {.pb = NULL}

/* raft_codec_decode decodes buf[0..len) (borrowed; untrusted) that
 * arrived in an opened envelope of Sealed.type sealed from sender (the
 * envelope's authenticated sender) into *out (caller storage, zeroed
 * first; release it with raft_codec_msg_fini, also after an error).
 * out->msg.from = sender. Returns NAOS_OK; NAOS_EPROTO (see the header
 * comment: err names the field; out->msg is then not to be used);
 * NAOS_ENOMEM. protobuf-c does not tell a failed allocation from bad
 * input while unpacking, so that case is NAOS_EPROTO ("undecodable"). */
int raft_codec_decode(struct raft_codec_msg *out, uint32_t sealed,
                      uint64_t sender, const uint8_t *buf, size_t len,
                      char *err, size_t errlen);

/* raft_codec_msg_fini frees what raft_codec_decode kept and zeroes m;
 * safe on a zeroed struct, idempotent. */
void raft_codec_msg_fini(struct raft_codec_msg *m);

#endif
