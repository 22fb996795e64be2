/* SPDX-License-Identifier: Apache-2.0 */
/* placement_test: the leader's pick (placement.h). */
#include "node/cmd/placement.h"

#include <string.h>

#include "node/base/testing.h"

static void
test_fewest_deployments_then_load_then_id(void)
{
    struct placement_candidate c[] = {
        {30, "c", true, 2, 10},
        {10, "a", true, 1, 90},
        {20, "b", true, 1, 50},
    };
    char err[256];
    NT_EQ_INT(placement_pick(c, 3, NULL, err, sizeof err), 2); /* b: load */
    c[2].load_centi = 90;
    NT_EQ_INT(placement_pick(c, 3, "", err, sizeof err), 1); /* a: id */
    c[1].deployments = 3;
    NT_EQ_INT(placement_pick(c, 3, NULL, err, sizeof err), 2);
}

static void
test_dead_nodes_never_picked(void)
{
    struct placement_candidate c[] = {
        {10, "a", false, 0, 0},
        {20, "b", true, 5, 0},
        {30, NULL, false, 0, 0},
    };
    char err[256];
    NT_EQ_INT(placement_pick(c, 3, NULL, err, sizeof err), 1);
    c[1].alive = false;
    NT_EQ_INT(placement_pick(c, 3, NULL, err, sizeof err), -1);
    NT_TRUE(strstr(err, "no node of the cluster is alive") != NULL);
    NT_EQ_INT(placement_pick(c, 0, NULL, err, sizeof err), -1);
}

static void
test_pinned(void)
{
    struct placement_candidate c[] = {
        {10, "a", true, 0, 0},
        {20, "b", true, 9, 900},
        {30, "c", false, 0, 0},
    };
    char err[256];
    /* pinned beats load */
    NT_EQ_INT(placement_pick(c, 3, "b", err, sizeof err), 1);
    /* pinned to a dead node: refused, naming it and the live ones */
    NT_EQ_INT(placement_pick(c, 3, "c", err, sizeof err), -1);
    NT_TRUE(strstr(err, "pinned to node c (--on c), which is not alive")
            != NULL);
    NT_TRUE(strstr(err, "(a, b)") != NULL);
    /* to no voter at all */
    NT_EQ_INT(placement_pick(c, 3, "zz", err, sizeof err), -1);
    NT_TRUE(strstr(err, "which is no voter of this cluster") != NULL);
    NT_TRUE(strstr(err, "live nodes are a, b") != NULL);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_fewest_deployments_then_load_then_id),
        NT_CASE(test_dead_nodes_never_picked),
        NT_CASE(test_pinned),
        {0},
    };
    return nt_run(cases);
}
