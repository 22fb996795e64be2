/* SPDX-License-Identifier: Apache-2.0 */
/* random.h: the randomness drivers hand to the pure cores (sup, swim,
 * raft take it through their io vtables): election timeouts, probe
 * order, jitter. Not for keys or nonces (libsodium's). Drivers only. */
#ifndef NAOS_BASE_RANDOM_H
#define NAOS_BASE_RANDOM_H

#include <stdint.h>

/* naos_random32: a uniform 32-bit number from the kernel (getrandom),
 * or, when it cannot answer at once, from the monotonic clock. */
uint32_t naos_random32(void);

#endif
