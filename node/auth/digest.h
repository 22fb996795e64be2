/* SPDX-License-Identifier: Apache-2.0 */
/* digest.h: a 64-bit checksum of bytes, the same on every member (SWIM
 * compares views by it). SipHash-2-4 (libsodium's crypto_shorthash) under
 * a fixed, public key: a fingerprint, not a MAC. */
#ifndef NAOS_AUTH_DIGEST_H
#define NAOS_AUTH_DIGEST_H

#include <stddef.h>
#include <stdint.h>

/* auth_digest64 returns the checksum of len bytes at buf. */
uint64_t auth_digest64(const void *buf, size_t len);

/* struct auth_hash: a streaming BLAKE2b-256 (libsodium's
 * crypto_generichash, unkeyed): the checksum of a snapshot file
 * (store/snapshot.h), detecting truncation and corruption, not forgery.
 * Caller storage; the state is libsodium's, kept opaque here so that only
 * this module includes sodium.h (STYLE §2.2). */
#define AUTH_HASH_BYTES 32
struct auth_hash {
    _Alignas(64) unsigned char opaque[384];
};

/* auth_hash_init starts a hash in *h. auth_hash_update adds len bytes at
 * buf (borrowed). auth_hash_final writes the 32-byte sum to out and
 * leaves *h spent (init it again to reuse). Any thread, no sharing. */
void auth_hash_init(struct auth_hash *h);
void auth_hash_update(struct auth_hash *h, const void *buf, size_t len);
void auth_hash_final(struct auth_hash *h, unsigned char out[AUTH_HASH_BYTES]);

#endif
