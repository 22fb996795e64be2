/* SPDX-License-Identifier: Apache-2.0 */
/* lease_test: lease accounting (lease.h). */
#include "node/root/lease.h"

#include <string.h>

#include "node/base/err.h"
#include "node/base/testing.h"

static const struct lease_config cfg = LEASE_CONFIG_DEFAULT;

static void
test_config_bounds(void)
{
    char err[128];
    NT_EQ_INT(lease_config_check(&cfg, err, sizeof err), NAOS_OK);
    struct lease_config c = cfg;
    c.renew_every = 1001; /* more than a third of 3 s */
    NT_EQ_INT(lease_config_check(&c, err, sizeof err), NAOS_EINVAL);
    NT_TRUE(strstr(err, "a third") != NULL);
    c = cfg;
    c.guard_margin = 3000;
    NT_EQ_INT(lease_config_check(&c, err, sizeof err), NAOS_EINVAL);
    c = cfg;
    c.drift_ppm = 100001;
    NT_EQ_INT(lease_config_check(&c, err, sizeof err), NAOS_EINVAL);
}

/* The holder counts from when it sent the request; an answer counts for
 * the request it answers, once, if that is one of the recent ones
 * unanswered (a slow leader answers one the holder asked again since);
 * it asks again when renewal is due or an answer is late. */
static void
test_holder_counts_from_the_request(void)
{
    struct lease_holder h;
    lease_holder_init(&h, &cfg);
    NT_FALSE(lease_holder_valid(&h, 1000));
    NT_EQ_INT(lease_holder_guard_deadline(&h), 0);
    NT_TRUE(lease_holder_due(&h, 1000));
    uint64_t a = lease_holder_request(&h, 1000);
    NT_FALSE(lease_holder_due(&h, 1499)); /* waiting for the answer */
    NT_TRUE(lease_holder_due(&h, 1500));  /* late: ask again */
    uint64_t b = lease_holder_request(&h, 1500);
    NT_TRUE(b != a);
    /* the first answer comes late: it counts from a's sending, and b is
     * still owed an answer */
    NT_FALSE(lease_holder_granted(&h, 0));
    NT_FALSE(lease_holder_granted(&h, b + 1)); /* never asked */
    NT_TRUE(lease_holder_granted(&h, a));
    NT_FALSE(lease_holder_granted(&h, a)); /* once */
    NT_TRUE(lease_holder_valid(&h, 3999));
    NT_FALSE(lease_holder_valid(&h, 4000)); /* 1000 + 3000 */
    NT_TRUE(lease_holder_due(&h, 2000)); /* b unanswered for 500 ms */
    NT_TRUE(lease_holder_granted(&h, b));
    NT_FALSE(lease_holder_granted(&h, b)); /* once */
    NT_FALSE(lease_holder_granted(&h, a)); /* older than one answered */
    NT_TRUE(lease_holder_valid(&h, 4499));
    NT_FALSE(lease_holder_valid(&h, 4500)); /* 1500 + 3000 */
    NT_EQ_INT(lease_holder_guard_deadline(&h), 4000);
    NT_FALSE(lease_holder_due(&h, 1999));
    NT_TRUE(lease_holder_due(&h, 2000)); /* renew every 500 ms */
    NT_EQ_INT(lease_holder_next(&h, 1600), 2000);
    /* a renewal extends; an answer to an older request never shortens */
    uint64_t c = lease_holder_request(&h, 2000);
    NT_TRUE(lease_holder_granted(&h, c));
    NT_FALSE(lease_holder_valid(&h, 5000));
    NT_TRUE(lease_holder_valid(&h, 4999));
    /* only the last LEASE_HOLDER_ASKS requests are remembered */
    uint64_t first = lease_holder_request(&h, 2500);
    for (int k = 0; k < LEASE_HOLDER_ASKS; k++)
        (void)lease_holder_request(&h, 2600 + k);
    NT_FALSE(lease_holder_granted(&h, first));
    NT_TRUE(lease_holder_valid(&h, 4999)); /* unchanged */
    NT_FALSE(lease_holder_valid(&h, 5000));
}

/* The leader's view: last grant + length * (1 + drift) + margin, never
 * before a holder's lease (which began at or before the grant) ends. */
static void
test_leader_waits_out_every_holder(void)
{
    struct lease_leader l;
    lease_leader_start(&l, &cfg, 10000);
    /* never granted: counted from the start of this leadership */
    NT_EQ_INT(lease_leader_expiry(&l, 7), 10000 + 3003 + 500);
    NT_FALSE(lease_leader_expired(&l, 7, 13502));
    NT_TRUE(lease_leader_expired(&l, 7, 13503));
    /* a holder asks at its 1000 (any clock), the leader grants at its
     * 11000: the holder's lease ends 3000 after its request, the
     * leader's view 3503 after its grant */
    NT_EQ_INT(lease_leader_grant(&l, 7, 11000), NAOS_OK);
    NT_EQ_INT(lease_leader_expiry(&l, 7), 11000 + 3503);
    /* a grant never moves back */
    NT_EQ_INT(lease_leader_grant(&l, 7, 10500), NAOS_OK);
    NT_EQ_INT(lease_leader_expiry(&l, 7), 11000 + 3503);
    lease_leader_forget(&l, 7);
    NT_EQ_INT(lease_leader_expiry(&l, 7), 10000 + 3503);
    /* the table holds a configuration's members, no more */
    for (uint64_t n = 1; n <= LEASE_NODES_MAX; n++)
        NT_EQ_INT(lease_leader_grant(&l, n, 12000), NAOS_OK);
    NT_EQ_INT(lease_leader_grant(&l, 99, 12000), NAOS_ETOOBIG);
    NT_EQ_INT(lease_leader_grant(&l, 5, 12100), NAOS_OK); /* known */
}

/* Drift: a 1 h lease at 1000 ppm waits 3.6 s more. */
/* A guardian's certificate ends a lease at once, also one this leader
 * never granted (it counts from the leader's start otherwise); the next
 * grant (a new run of that node) holds again. */
static void
test_release_ends_a_lease_until_the_next_grant(void)
{
    struct lease_leader l;
    lease_leader_start(&l, &cfg, 10000);
    NT_EQ_INT(lease_leader_grant(&l, 7, 11000), NAOS_OK);
    NT_FALSE(lease_leader_expired(&l, 7, 11001));
    NT_EQ_INT(lease_leader_release(&l, 7, 11001), NAOS_OK);
    NT_TRUE(lease_leader_expired(&l, 7, 11001));
    NT_FALSE(lease_leader_expired(&l, 8, 11001)); /* others unchanged */
    NT_EQ_INT(lease_leader_release(&l, 9, 11002), NAOS_OK); /* never granted */
    NT_TRUE(lease_leader_expired(&l, 9, 11002));
    NT_EQ_INT(lease_leader_grant(&l, 7, 12000), NAOS_OK);
    NT_FALSE(lease_leader_expired(&l, 7, 12001));
    NT_TRUE(lease_leader_expired(&l, 7, 12000 + 3000 + 3 + 500));
    /* a full table records no release: the lease runs out as it would */
    struct lease_leader f;
    lease_leader_start(&f, &cfg, 0);
    for (uint64_t i = 1; i <= LEASE_NODES_MAX; i++)
        NT_EQ_INT(lease_leader_grant(&f, i, 100), NAOS_OK);
    NT_EQ_INT(lease_leader_release(&f, 99, 200), NAOS_ETOOBIG);
    NT_FALSE(lease_leader_expired(&f, 99, 200));
}

static void
test_drift_stretches(void)
{
    struct lease_config c = cfg;
    c.length = 3600 * 1000;
    c.renew_every = 1000;
    struct lease_leader l;
    lease_leader_start(&l, &c, 0);
    NT_EQ_INT(lease_leader_expiry(&l, 1), 3600000 + 3600 + 500);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_config_bounds),
        NT_CASE(test_holder_counts_from_the_request),
        NT_CASE(test_leader_waits_out_every_holder),
        NT_CASE(test_drift_stretches),
        NT_CASE(test_release_ends_a_lease_until_the_next_grant),
        {0},
    };
    return nt_run(cases);
}
