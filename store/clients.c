/* SPDX-License-Identifier: Apache-2.0 */
#include "store/clients.h"

#include <string.h>

#include "node/base/err.h"
#include "store/store_pb.h"

int
store_client_get_txn(struct store_txn *t, uint64_t client_id,
                     Naos__V1__ClientRecord **out)
{
    if (client_id == 0)
        return store_txn_fail(t, NAOS_EINVAL, "clients: client id 0");
    unsigned char key[8];
    store_be64_put(key, client_id);
    return store_pb_get(t, STORE_CLIENTS, key, sizeof key,
                        &naos__v1__client_record__descriptor,
                        (ProtobufCMessage **)out);
}

struct get_args {
    uint64_t id;
    Naos__V1__ClientRecord *out;
};

static int
get_fn(struct store_txn *t, void *arg)
{
    struct get_args *a = arg;
    return store_client_get_txn(t, a->id, &a->out);
}

int
store_client_get(struct store *s, uint64_t client_id,
                 Naos__V1__ClientRecord **out)
{
    struct get_args a = {client_id, NULL};
    int err = store_read(s, get_fn, &a);
    if (err == NAOS_OK)
        *out = a.out;
    return err;
}

int
store_client_count_txn(struct store_txn *t, uint64_t *n)
{
    return store_txn_count(t, STORE_CLIENTS, n);
}

/* Deletes the record written by the oldest entry, and its age key. */
static int
evict_oldest(struct store_txn *t)
{
    const void *k = NULL, *v = NULL;
    size_t klen = 0, vlen = 0;
    int err = store_txn_first(t, STORE_CLIENT_AGE, &k, &klen, &v, &vlen);
    if (err != NAOS_OK)
        return err == NAOS_ENOTFOUND
                   ? store_txn_fail(t, NAOS_ESTORE,
                                    "clients: more records than ages")
                   : err;
    if (klen != 8 || vlen != 8)
        return store_txn_fail(t, NAOS_ESTORE,
                              "corrupt record in client_age (%zu/%zu bytes)",
                              klen, vlen);
    unsigned char age[8], id[8]; /* k and v point into the map */
    memcpy(age, k, sizeof age);
    memcpy(id, v, sizeof id);
    err = store_txn_del(t, STORE_CLIENTS, id, sizeof id);
    if (err != NAOS_OK && err != NAOS_ENOTFOUND)
        return err;
    return store_txn_del(t, STORE_CLIENT_AGE, age, sizeof age);
}

int
store_client_put_txn(struct store_txn *t, const Naos__V1__ClientRecord *rec)
{
    if (rec == NULL || rec->client_id == 0 || rec->index == 0)
        return store_txn_fail(t, NAOS_EINVAL,
                              "clients: a record needs a client id and an "
                              "entry index");
    size_t tlen = rec->target ? strlen(rec->target) : 0;
    size_t mlen = rec->msg ? strlen(rec->msg) : 0;
    if (tlen > STORE_CLIENT_TARGET_MAX || mlen > STORE_CLIENT_MSG_MAX)
        return store_txn_fail(t, NAOS_EINVAL,
                              "clients: target of %zu or message of %zu "
                              "bytes (at most %u and %u)", tlen, mlen,
                              (unsigned)STORE_CLIENT_TARGET_MAX,
                              (unsigned)STORE_CLIENT_MSG_MAX);
    unsigned char id[8], age[8];
    store_be64_put(id, rec->client_id);
    Naos__V1__ClientRecord *old = NULL;
    int err = store_client_get_txn(t, rec->client_id, &old);
    if (err == NAOS_OK) {
        store_be64_put(age, old->index);
        store_client_free(old);
        err = store_txn_del(t, STORE_CLIENT_AGE, age, sizeof age);
    }
    if (err != NAOS_OK && err != NAOS_ENOTFOUND)
        return err;
    if ((err = store_pb_put(t, STORE_CLIENTS, id, sizeof id, &rec->base,
                            0)) != NAOS_OK)
        return err;
    store_be64_put(age, rec->index);
    if ((err = store_txn_put(t, STORE_CLIENT_AGE, age, sizeof age, id,
                             sizeof id, 0)) != NAOS_OK)
        return err;
    uint64_t n = 0;
    if ((err = store_client_count_txn(t, &n)) != NAOS_OK)
        return err;
    for (; n > STORE_CLIENTS_MAX; n--)
        if ((err = evict_oldest(t)) != NAOS_OK)
            return err;
    return NAOS_OK;
}

void
store_client_free(Naos__V1__ClientRecord *rec)
{
    store_pb_free(rec ? &rec->base : NULL);
}
