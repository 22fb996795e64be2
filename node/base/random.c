/* SPDX-License-Identifier: Apache-2.0 */
/* random.c: see random.h. */
#include "node/base/random.h"

#include <sys/random.h>

#include "node/base/time.h"

uint32_t
naos_random32(void)
{
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
        v = (uint32_t)naos_clock_now_us() * 2654435761u; /* entropy only */
    return v;
}
