/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/alloc.h"
#include "node/base/err.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long live;
static atomic_long fail_countdown = -1;

static int
should_fail(void)
{
    long n = atomic_load(&fail_countdown);
    if (n < 0)
        return 0;
    if (n == 0) {
        atomic_store(&fail_countdown, -1);
        return 1;
    }
    atomic_fetch_sub(&fail_countdown, 1);
    return 0;
}

void *
naos_alloc(size_t size)
{
    if (should_fail())
        return NULL;
    void *p = calloc(1, size ? size : 1);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *
naos_realloc(void *p, size_t size)
{
    if (p == NULL)
        return naos_alloc(size);
    if (should_fail())
        return NULL;
    return realloc(p, size ? size : 1);
}

int
naos_buf_reserve(unsigned char **buf, size_t *cap, size_t need)
{
    if (*cap >= need)
        return NAOS_OK;
    size_t ncap = *cap ? *cap : 4096;
    while (ncap < need)
        ncap *= 2;
    unsigned char *b = naos_realloc(*buf, ncap);
    if (b == NULL)
        return NAOS_ENOMEM;
    *buf = b;
    *cap = ncap;
    return NAOS_OK;
}

void
naos_free(void *p)
{
    if (p) {
        atomic_fetch_sub(&live, 1);
        free(p);
    }
}

char *
naos_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = naos_alloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

long
naos_alloc_live(void)
{
    return atomic_load(&live);
}

void
naos_alloc_fail_after(long n)
{
    atomic_store(&fail_countdown, n);
}

int
naos_alloc_fault_armed(void)
{
    return atomic_load(&fail_countdown) >= 0;
}
