/* SPDX-License-Identifier: Apache-2.0 */
/* spec_pb.h: convert a deployment spec tree (struct spec_node) to and from
 * its wire form, naos.v1.NodeSpec (protobuf-c).
 *
 * Both directions allocate through naos_alloc, so the leak counters and
 * fault injection of node/base/alloc.h cover them. The wire direction
 * (spec_pb_to_spec) trusts nothing: it bounds depth, child counts, argv/env
 * sizes and string lengths, and rejects out-of-range enums and durations;
 * it does not run spec_validate (the caller does, to get its messages). */
#ifndef NAOS_PROTO_SPEC_PB_H
#define NAOS_PROTO_SPEC_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

#include "node/spec/spec.h"
#include "proto/naos.pb-c.h"

/* Limits applied to specs that come off the wire (beyond spec.h's). */
#define SPEC_PB_MAX_ARGV 4096      /* argv entries of one worker */
#define SPEC_PB_MAX_ENV 4096       /* env entries of one worker */
#define SPEC_PB_MAX_STR 65536      /* bytes in one argv/env/cwd string */
#define SPEC_PB_MAX_NODES SPEC_MAX_NODES /* spec nodes in one tree */

/* spec_pb_allocator is a protobuf-c allocator backed by naos_alloc and
 * naos_free. Pass it to naos__v1__*__unpack and to the matching
 * naos__v1__*__free_unpacked. */
extern ProtobufCAllocator spec_pb_allocator;

/* spec_pb_unpacked_intact tells whether m, just unpacked from wire_len
 * bytes, holds everything those bytes said: false when a string field
 * held a NUL byte. Call it on every request before acting on it.
 *
 * Why it is needed: protobuf-c stores a string field as a NUL-terminated
 * char *, so "ok\0junk" on the wire reads as "ok" on the C side (a request
 * to remove "ok\0junk" would remove "ok"), and the wire length of each
 * string is not kept. How it tells: it packs m again and compares the size
 * with wire_len. A string cut at a NUL packs shorter; nothing else in a
 * naos request can pack longer than it came (no repeated scalar fields, so
 * no packed/unpacked difference; unknown fields are kept verbatim), so a
 * cut string cannot hide behind another difference. The price: an encoding
 * that is not canonical (an explicit default value, an overlong varint, a
 * field repeated) is refused too. Every protobuf library's own encoder
 * (protobuf-c, C++, Go, Python) writes the canonical form; a hand-made one
 * must as well. Borrows m. */
bool spec_pb_unpacked_intact(const ProtobufCMessage *m, size_t wire_len);

/* spec_pb_from_spec builds a NodeSpec tree mirroring n (borrowed; it is
 * not validated here) and stores it in *out. The result is owned by the
 * caller and must be released with spec_pb_free (never with
 * protobuf_c_message_free_unpacked: it is built, not unpacked). It may be
 * embedded in a DeployRequest for packing. Returns NAOS_OK, NAOS_EINVAL
 * (n is NULL or deeper than SPEC_MAX_DEPTH) or NAOS_ENOMEM; on error *out
 * is untouched. */
int spec_pb_from_spec(const struct spec_node *n, Naos__V1__NodeSpec **out);

/* spec_pb_free releases a tree made by spec_pb_from_spec; NULL is fine. */
void spec_pb_free(Naos__V1__NodeSpec *m);

/* spec_pb_to_spec converts m (borrowed; typically just unpacked from a
 * client's request) into *out (caller storage, initialised by this call).
 * Every field is checked and copied; the result owns all its memory and is
 * released with spec_node_fini. Returns NAOS_OK; NAOS_EINVAL or
 * NAOS_ETOOBIG with "PATH: FIELD: what is wrong" in err (caller buffer +
 * length); or NAOS_ENOMEM. On error *out is left zeroed. The caller must
 * still run spec_validate on the result. */
int spec_pb_to_spec(const Naos__V1__NodeSpec *m, struct spec_node *out,
                    char *err, size_t errlen);

#endif
