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
