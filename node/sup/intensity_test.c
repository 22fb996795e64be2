/* SPDX-License-Identifier: Apache-2.0 */
/* intensity_test.c: OTP-SEMANTICS B2 boundaries of sup_intensity. */
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/sup/intensity.h"

static void
test_n_pass_n_plus_one_fails(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 5, 300), NAOS_OK);
    for (int i = 0; i < 5; i++)
        NT_TRUE(sup_intensity_add(&si, 1000 + (uint64_t)i * 10));
    NT_EQ_INT(sup_intensity_used(&si, 1040), 5);
    NT_FALSE(sup_intensity_add(&si, 1050)); /* the 6th within 300 s */
    sup_intensity_fini(&si);
}

static void
test_same_second_shares_bucket(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 3, 10), NAOS_OK);
    NT_TRUE(sup_intensity_add(&si, 7));
    NT_TRUE(sup_intensity_add(&si, 7));
    NT_TRUE(sup_intensity_add(&si, 7));
    NT_EQ_INT(si.len, 1);
    NT_FALSE(sup_intensity_add(&si, 7));
    sup_intensity_fini(&si);
}

static void
test_window_edge_inclusive(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 1, 5), NAOS_OK);
    NT_TRUE(sup_intensity_add(&si, 100));
    /* Exactly 5 s old still counts: 2 in the window, more than 1. */
    NT_FALSE(sup_intensity_add(&si, 105));
    sup_intensity_reset(&si);
    NT_TRUE(sup_intensity_add(&si, 100));
    /* 6 s old is forgotten. */
    NT_TRUE(sup_intensity_add(&si, 106));
    NT_EQ_INT(sup_intensity_used(&si, 106), 1);
    NT_EQ_INT(sup_intensity_used(&si, 111), 1);
    NT_EQ_INT(sup_intensity_used(&si, 112), 0);
    sup_intensity_fini(&si);
}

static void
test_old_restarts_forgotten(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 3, 60), NAOS_OK);
    uint64_t now = 0;
    /* One restart every 21 s forever never exceeds 3 in 60 s. */
    for (int i = 0; i < 1000; i++, now += 21)
        NT_TRUE(sup_intensity_add(&si, now));
    /* ...but four within 60 s do. */
    NT_TRUE(sup_intensity_add(&si, now));
    NT_FALSE(sup_intensity_add(&si, now + 1));
    sup_intensity_fini(&si);
}

static void
test_zero_gives_up_at_once(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 0, 5), NAOS_OK);
    NT_EQ_INT(si.cap, 1);
    NT_FALSE(sup_intensity_add(&si, 42));
    NT_FALSE(sup_intensity_add(&si, 4200)); /* no overflow past the limit */
    sup_intensity_fini(&si);
}

static void
test_bounded_memory(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 1000000, 3), NAOS_OK);
    for (uint64_t s = 0; s < 100; s++)
        for (int k = 0; k < 10; k++)
            NT_TRUE(sup_intensity_add(&si, s));
    NT_EQ_INT(sup_intensity_used(&si, 99), 40);
    NT_EQ_INT(si.cap, 4); /* window 3 s: never more than 4 seconds */
    sup_intensity_fini(&si);
    NT_EQ_INT(sup_intensity_init(&si, 2, 1000000), NAOS_OK);
    NT_TRUE(sup_intensity_add(&si, 1));
    NT_TRUE(sup_intensity_add(&si, 500));
    NT_FALSE(sup_intensity_add(&si, 900));
    NT_EQ_INT(si.cap, 3); /* 2 restarts: never more than 3 buckets */
    NT_FALSE(sup_intensity_add(&si, 901)); /* ring full: still refuses */
    NT_EQ_INT(si.cap, 3);
    sup_intensity_fini(&si);
}

/* Memory follows the restarts in the window, not the limits: the issue's
 * 2e9 restarts in 2e9 s asked for 32 GB at init. */
static void
test_memory_follows_restarts(void)
{
    long base = naos_alloc_live();
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 2000000000, 2000000000), NAOS_OK);
    NT_EQ_INT(naos_alloc_live(), base); /* nothing yet */
    NT_EQ_INT(si.cap, 1);
    NT_TRUE(sup_intensity_add(&si, 10));
    NT_TRUE(sup_intensity_add(&si, 10));
    NT_EQ_INT(naos_alloc_live(), base); /* one second: the inline bucket */
    for (uint64_t s = 11; s < 111; s++)
        NT_TRUE(sup_intensity_add(&si, s));
    NT_EQ_INT(sup_intensity_used(&si, 110), 102);
    NT_TRUE(si.cap >= 101 && si.cap <= 128); /* doubling from 8 */
    NT_EQ_INT(naos_alloc_live(), base + 1);
    /* A reset keeps the memory; fini gives it back. */
    sup_intensity_reset(&si);
    NT_EQ_INT(sup_intensity_used(&si, 110), 0);
    NT_TRUE(sup_intensity_add(&si, 200));
    sup_intensity_fini(&si);
    NT_EQ_INT(naos_alloc_live(), base);
}

/* Without memory to grow, the two oldest seconds merge into the older:
 * the count stays exact and the merged restarts leave the window early,
 * so the node's trouble never makes an agent give up sooner. */
static void
test_no_memory_is_lenient(void)
{
    struct sup_intensity si = {0};
    NT_EQ_INT(sup_intensity_init(&si, 3, 100), NAOS_OK);
    NT_TRUE(sup_intensity_add(&si, 0)); /* inline */
    naos_alloc_fail_after(0);
    NT_TRUE(sup_intensity_add(&si, 5)); /* cannot grow: shares second 0 */
    naos_alloc_fail_after(-1);
    NT_EQ_INT(si.cap, 1);
    NT_EQ_INT(sup_intensity_used(&si, 5), 2);
    NT_TRUE(sup_intensity_expiry(&si, 5) == 101); /* not 106 */
    NT_TRUE(sup_intensity_add(&si, 6)); /* grows now */
    NT_TRUE(si.cap > 1);
    NT_FALSE(sup_intensity_add(&si, 7)); /* 4 in the window: more than 3 */
    NT_EQ_INT(sup_intensity_used(&si, 100), 4);
    NT_EQ_INT(sup_intensity_used(&si, 101), 2);
    sup_intensity_fini(&si);
}

static void
test_fini_zeroed_and_leaks(void)
{
    long base = naos_alloc_live();
    struct sup_intensity si = {0};
    sup_intensity_fini(&si);
    NT_EQ_INT(sup_intensity_init(&si, 1, 1), NAOS_OK);
    sup_intensity_fini(&si);
    sup_intensity_fini(&si);
    NT_EQ_INT(naos_alloc_live(), base);
    /* init allocates nothing, so it cannot fail. */
    naos_alloc_fail_after(0);
    NT_EQ_INT(sup_intensity_init(&si, 1, 1), NAOS_OK);
    naos_alloc_fail_after(-1);
    /* A zeroed (never initialised) one refuses. */
    struct sup_intensity z = {0};
    NT_FALSE(sup_intensity_add(&z, 1));
}

/* Against brute force: used() stays the same at every second before
 * expiry() and is lower at expiry(). */
static void
test_expiry_is_when_use_first_drops(void)
{
    struct sup_intensity si;
    NT_EQ_INT(sup_intensity_init(&si, 6, 5), 0);
    NT_TRUE(sup_intensity_expiry(&si, 100) == UINT64_MAX);
    unsigned s = 99;
    uint64_t now = 100;
    for (int step = 0; step < 2000; step++) {
        s = s * 1103515245u + 12345u;
        now += (s >> 8) % 3;
        if ((s >> 4) % 2)
            (void)sup_intensity_add(&si, now);
        uint32_t used = sup_intensity_used(&si, now);
        uint64_t ex = sup_intensity_expiry(&si, now);
        if (used == 0) {
            NT_TRUE(ex == UINT64_MAX);
            continue;
        }
        NT_TRUE(ex > now && ex <= now + 6);
        for (uint64_t t = now; t < ex; t++)
            NT_EQ_INT(sup_intensity_used(&si, t), used);
        NT_TRUE(sup_intensity_used(&si, ex) < used);
    }
    sup_intensity_fini(&si);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_n_pass_n_plus_one_fails),
        NT_CASE(test_same_second_shares_bucket),
        NT_CASE(test_window_edge_inclusive),
        NT_CASE(test_old_restarts_forgotten),
        NT_CASE(test_zero_gives_up_at_once),
        NT_CASE(test_bounded_memory),
        NT_CASE(test_memory_follows_restarts),
        NT_CASE(test_no_memory_is_lenient),
        NT_CASE(test_fini_zeroed_and_leaks),
        NT_CASE(test_expiry_is_when_use_first_drops),
        {0},
    };
    return nt_run(cases);
}
