/* SPDX-License-Identifier: Apache-2.0 */
/* members_wire.h: how large a membership message may be on the wire, and
 * the splitting that keeps every message the node sends within it.
 *
 * The bound (MEMBERS_WIRE_MAX_PAYLOAD, 128 KiB of SwimMsg; sealed:
 * MEMBERS_WIRE_MAX_ENVELOPE) is what membership sends; the transport
 * accepts frames of one whole envelope (Raft's appends need it). It is the
 * largest message the SWIM core produces that cannot be split, computed
 * from the bounds of swim.h (members_wire_test.c packs each worst case):
 *   - a SYNC carries the sender's own entry in full and at most one
 *     digest per other member (SWIM_MAX_MEMBERS - 1 = 2047): a full entry
 *     is at most ~1,030 bytes (63-byte name, 127-byte address, 768-byte
 *     health, every number at its bound), a digest at most ~40: 82,917
 *     bytes at 2048 members;
 *   - every other message carries at most SWIM_MAX_PIGGYBACK (64) updates
 *     (the core's byte budget, 1 KiB by default, keeps them far smaller):
 *     65,808 bytes;
 *   - SYNC_REPLY, SYNC_FILL and GOSSIP list entries that are applied one
 *     by one, so a larger one is sent as several messages of the same
 *     type, each within the bound (a full reply of 2048 members at the
 *     field bounds packs to 2,117,636 bytes: unsplit, it would not even
 *     fit AUTH_MAX_PAYLOAD, and was silently dropped).
 * Anything else larger than the bound is a bug of the core: it is dropped
 * and counted rather than sent.
 *
 * MEMBERS_WIRE_HELLO is the Sealed.type of the hello a node sends on each
 * connection it establishes (empty payload): the receiver treats the
 * connection as a member's once an envelope on it opens (node/net), and
 * a dialled connection may otherwise carry nothing for many probe rounds.
 * It is the last type of membership's range (node/wire/wire.h: 1..63);
 * it was 64 before the node's transport gave 64..95 to Raft (a node of
 * that version counts today's hello as an undecodable payload, and ours
 * counts its hello as an unhandled Raft message: both harmless, the
 * connection is authenticated by the envelope opening either way).
 *
 * Pure functions; any thread. */
#ifndef NAOS_NODE_MEMBERS_WIRE_H
#define NAOS_NODE_MEMBERS_WIRE_H

#include <stddef.h>

#include "node/auth/seal.h"
#include "node/swim/swim.h"
#include "node/wire/wire.h"

#define MEMBERS_WIRE_MAX_PAYLOAD (128u * 1024u)
#define MEMBERS_WIRE_MAX_ENVELOPE \
    (MEMBERS_WIRE_MAX_PAYLOAD + AUTH_SEAL_OVERHEAD)
#define MEMBERS_WIRE_HELLO WIRE_TYPES_MEMBERS_HI

_Static_assert(MEMBERS_WIRE_HELLO > SWIM_MSG_TYPE_MAX,
               "the hello type is not a SWIM message type");
_Static_assert(SWIM_MSG_TYPE_MAX >= WIRE_TYPES_MEMBERS_LO &&
                   MEMBERS_WIRE_HELLO <= WIRE_TYPES_MEMBERS_HI,
               "membership's types are in its range of the transport");
_Static_assert(MEMBERS_WIRE_MAX_PAYLOAD <= AUTH_MAX_PAYLOAD,
               "a part can always be sealed");

/* members_wire_part_fn receives one message to send (borrowed for the
 * call). */
typedef void (*members_wire_part_fn)(void *arg, const struct swim_msg *part);

/* members_wire_split calls fn(arg, m) once when m packs (swim_pb) into at
 * most max bytes. Otherwise, for SYNC_REPLY, SYNC_FILL and GOSSIP, it calls
 * fn with consecutive parts of m's updates (in order; wants only in the
 * first part), each packing into at most max bytes, and every other field
 * as in m. Returns NAOS_OK; NAOS_ETOOBIG (another type, or one update
 * alone does not fit: fn was not called); NAOS_ENOMEM (fn may have been
 * called for the first parts). m is borrowed. */
int members_wire_split(const struct swim_msg *m, size_t max,
                       members_wire_part_fn fn, void *arg);

#endif
