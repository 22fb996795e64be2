/* SPDX-License-Identifier: Apache-2.0 */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/arena.h"
#include "node/base/testing.h"

/* Many pieces of mixed sizes: each is zeroed, aligned, and keeps what was
 * written to it while the others are written (no overlap). */
static void
test_pieces_are_zeroed_aligned_and_disjoint(void)
{
    enum { N = 20000 };
    static unsigned char *p[N];
    static size_t len[N];
    struct naos_arena a = {0};
    unsigned s = 7;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        len[i] = (s >> 8) % 97 == 0 ? 70000 + (s >> 16) % 5000
                                    : 1 + (s >> 8) % 300;
        p[i] = naos_arena_alloc(&a, len[i]);
        NT_TRUE(p[i] != NULL);
        NT_EQ_INT((uintptr_t)p[i] % alignof(max_align_t), 0);
        for (size_t k = 0; k < len[i]; k++)
            NT_EQ_INT(p[i][k], 0);
        memset(p[i], (unsigned char)i, len[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t k = 0; k < len[i]; k++)
            NT_EQ_INT(p[i][k], (unsigned char)i);
    naos_arena_fini(&a);
    NT_EQ_INT(naos_alloc_live(), 0);
    /* fini leaves an arena that can be used again */
    NT_EQ_STR(naos_arena_strdup(&a, "again"), "again");
    NT_EQ_STR(naos_arena_strdup(&a, NULL), "");
    naos_arena_fini(&a);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_allocation_failure_returns_null_and_fini_frees_the_rest(void)
{
    struct naos_arena a = {0};
    NT_TRUE(naos_arena_alloc(&a, 10) != NULL);
    naos_alloc_fail_after(0);
    NT_TRUE(naos_arena_alloc(&a, 1 << 20) == NULL);
    naos_alloc_fail_after(-1);
    NT_TRUE(naos_arena_alloc(&a, SIZE_MAX - 4) == NULL);
    NT_TRUE(naos_arena_alloc(&a, 10) != NULL);
    naos_arena_fini(&a);
    NT_EQ_INT(naos_alloc_live(), 0);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_pieces_are_zeroed_aligned_and_disjoint),
        NT_CASE(test_allocation_failure_returns_null_and_fini_frees_the_rest),
        {0}};
    return nt_run(cases);
}
