/* SPDX-License-Identifier: Apache-2.0 */
/* store_pb.h: protobuf-c records in store tables. Every value the typed
 * layers (raftlog.c, state.c) keep is a message of proto/store.proto,
 * packed straight into the map (MDB_RESERVE, no extra copy) and unpacked
 * through the naos allocator (spec_pb_allocator), so leak counting and
 * allocation faults cover the store too. Internal to store/. */
#ifndef NAOS_STORE_STORE_PB_H
#define NAOS_STORE_STORE_PB_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "proto/store.pb-c.h"
#include "store/store.h"

/* store_pb_put packs m (borrowed) under key in table tb, inside write
 * transaction t. flags as for store_txn_put. Errors as store_txn_put. */
int store_pb_put(struct store_txn *t, enum store_table tb, const void *key,
                 size_t klen, const ProtobufCMessage *m, unsigned flags);

/* store_pb_decode unpacks val/vlen (borrowed) as a message of type d into
 * *out, owned by the caller (free with store_pb_free). Returns NAOS_OK,
 * NAOS_ENOMEM, or NAOS_ESTORE ("corrupt record in TABLE") naming what. */
int store_pb_decode(struct store_txn *t, enum store_table tb,
                    const void *val, size_t vlen,
                    const ProtobufCMessageDescriptor *d,
                    ProtobufCMessage **out);

/* store_pb_get looks key up and decodes it (store_pb_decode). NAOS_OK,
 * NAOS_ENOTFOUND, NAOS_ENOMEM, NAOS_ESTORE. *out is owned by the caller. */
int store_pb_get(struct store_txn *t, enum store_table tb, const void *key,
                 size_t klen, const ProtobufCMessageDescriptor *d,
                 ProtobufCMessage **out);

/* store_pb_free frees a message returned by store_pb_get/decode (or by
 * any typed getter); NULL is fine. */
void store_pb_free(ProtobufCMessage *m);

#endif
