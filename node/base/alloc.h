/* SPDX-License-Identifier: Apache-2.0 */
/* alloc.h: every heap allocation of naos goes through these, so tests can
 * count leaks and inject failures. */
#ifndef NAOS_BASE_ALLOC_H
#define NAOS_BASE_ALLOC_H

#include <stddef.h>

/* naos_alloc returns zeroed memory of size bytes, or NULL on failure (and
 * when a test has armed a failure with naos_alloc_fail_after). */
void *naos_alloc(size_t size);
/* naos_realloc resizes p (may be NULL); on failure p stays valid. */
void *naos_realloc(void *p, size_t size);
/* naos_buf_reserve makes the byte buffer *buf (capacity *cap; both 0/NULL
 * at first) hold at least need bytes, doubling from 4 KiB. Returns 0, or
 * NAOS_ENOMEM with *buf and *cap unchanged. */
int naos_buf_reserve(unsigned char **buf, size_t *cap, size_t need);
/* naos_free releases p; NULL is fine. */
void naos_free(void *p);
/* naos_strdup copies s (NULL gives NULL). */
char *naos_strdup(const char *s);

/* naos_alloc_live is the number of allocations not yet freed (tests). */
long naos_alloc_live(void);
/* naos_alloc_fail_after makes the n-th following allocation fail
 * (0 = the next one); a negative n disarms. Tests only. */
void naos_alloc_fail_after(long n);
/* naos_alloc_fault_armed: a failure armed with naos_alloc_fail_after has
 * not happened yet (so the code since ran without an injected failure).
 * Tests only. */
int naos_alloc_fault_armed(void);

#endif
