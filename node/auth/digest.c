/* SPDX-License-Identifier: Apache-2.0 */
#include "node/auth/digest.h"

#include <sodium.h>

uint64_t
auth_digest64(const void *buf, size_t len)
{
    /* Fixed so that every node computes the same value; nothing secret
     * is protected by it. */
    static const unsigned char key[crypto_shorthash_KEYBYTES] = "naos-view-hash1";
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, buf, len, key);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof out; i++)
        v |= (uint64_t)out[i] << (8 * i);
    return v;
}

_Static_assert(sizeof(crypto_generichash_state) <=
                   sizeof(((struct auth_hash *)0)->opaque),
               "auth_hash too small for libsodium's state");
_Static_assert(AUTH_HASH_BYTES >= crypto_generichash_BYTES_MIN &&
                   AUTH_HASH_BYTES <= crypto_generichash_BYTES_MAX,
               "AUTH_HASH_BYTES out of BLAKE2b's range");

void
auth_hash_init(struct auth_hash *h)
{
    /* cannot fail: no key, and the length is in range (asserted) */
    crypto_generichash_init((crypto_generichash_state *)h->opaque, NULL, 0,
                            AUTH_HASH_BYTES);
}

void
auth_hash_update(struct auth_hash *h, const void *buf, size_t len)
{
    crypto_generichash_update((crypto_generichash_state *)h->opaque, buf,
                              len);
}

void
auth_hash_final(struct auth_hash *h, unsigned char out[AUTH_HASH_BYTES])
{
    crypto_generichash_final((crypto_generichash_state *)h->opaque, out,
                             AUTH_HASH_BYTES);
}
