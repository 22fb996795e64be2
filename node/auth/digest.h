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

#endif
