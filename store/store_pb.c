/* SPDX-License-Identifier: Apache-2.0 */
/* store_pb.c: pack/unpack proto/store.proto records in store tables. */
#include "store/store_pb.h"

#include "node/base/err.h"
#include "proto/spec_pb.h"

int
store_pb_put(struct store_txn *t, enum store_table tb, const void *key,
             size_t klen, const ProtobufCMessage *m, unsigned flags)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    void *dst;
    int err = store_txn_reserve(t, tb, key, klen, n, flags, &dst);
    if (err != NAOS_OK)
        return err;
    size_t packed = protobuf_c_message_pack(m, dst);
    NAOS_ASSERT(packed == n);
    return NAOS_OK;
}

int
store_pb_decode(struct store_txn *t, enum store_table tb, const void *val,
                size_t vlen, const ProtobufCMessageDescriptor *d,
                ProtobufCMessage **out)
{
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, &spec_pb_allocator, vlen, val);
    if (m == NULL)
        /* protobuf-c does not tell allocation failure from bad input; a
         * record we wrote ourselves is well formed, so call it corrupt. */
        return store_txn_fail(t, NAOS_ESTORE,
                              "store %s: corrupt %s record in table %d "
                              "(%zu bytes) or out of memory",
                              store_dir(store_txn_store(t)), d->name, (int)tb,
                              vlen);
    *out = m;
    return NAOS_OK;
}

int
store_pb_get(struct store_txn *t, enum store_table tb, const void *key,
             size_t klen, const ProtobufCMessageDescriptor *d,
             ProtobufCMessage **out)
{
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, tb, key, klen, &v, &vlen);
    if (err != NAOS_OK)
        return err;
    return store_pb_decode(t, tb, v, vlen, d, out);
}

void
store_pb_free(ProtobufCMessage *m)
{
    if (m != NULL)
        protobuf_c_message_free_unpacked(m, &spec_pb_allocator);
}
