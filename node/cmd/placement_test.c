/* SPDX-License-Identifier: Apache-2.0 */
/* placement_test: the leader's pick (placement.h). */
#include "node/cmd/placement.h"

#include <string.h>

#include "node/base/testing.h"

static void
test_fewest_deployments_then_load_then_id(void)
{
    struct placement_candidate c[] = {
        {30, "c", true, 2, 10, NULL, 0, false},
        {10, "a", true, 1, 90, NULL, 0, false},
        {20, "b", true, 1, 50, NULL, 0, false},
    };
    char err[256];
    NT_EQ_INT(placement_pick(c, 3, NULL, NULL, 0, err, sizeof err), 2); /* b: load */
    c[2].load_centi = 90;
    NT_EQ_INT(placement_pick(c, 3, "", NULL, 0, err, sizeof err), 1); /* a: id */
    c[1].deployments = 3;
    NT_EQ_INT(placement_pick(c, 3, NULL, NULL, 0, err, sizeof err), 2);
}

static void
test_dead_nodes_never_picked(void)
{
    struct placement_candidate c[] = {
        {10, "a", false, 0, 0, NULL, 0, false},
        {20, "b", true, 5, 0, NULL, 0, false},
        {30, NULL, false, 0, 0, NULL, 0, false},
    };
    char err[256];
    NT_EQ_INT(placement_pick(c, 3, NULL, NULL, 0, err, sizeof err), 1);
    c[1].alive = false;
    NT_EQ_INT(placement_pick(c, 3, NULL, NULL, 0, err, sizeof err), -1);
    NT_TRUE(strstr(err, "no node of the cluster is alive") != NULL);
    NT_EQ_INT(placement_pick(c, 0, NULL, NULL, 0, err, sizeof err), -1);
}

static void
test_pinned(void)
{
    struct placement_candidate c[] = {
        {10, "a", true, 0, 0, NULL, 0, false},
        {20, "b", true, 9, 900, NULL, 0, false},
        {30, "c", false, 0, 0, NULL, 0, false},
    };
    char err[256];
    /* pinned beats load */
    NT_EQ_INT(placement_pick(c, 3, "b", NULL, 0, err, sizeof err), 1);
    /* pinned to a dead node: refused, naming it and the live ones */
    NT_EQ_INT(placement_pick(c, 3, "c", NULL, 0, err, sizeof err), -1);
    NT_TRUE(strstr(err, "pinned to node c (--on c), which is not alive")
            != NULL);
    NT_TRUE(strstr(err, "(a, b)") != NULL);
    /* to no voter at all */
    NT_EQ_INT(placement_pick(c, 3, "zz", NULL, 0, err, sizeof err), -1);
    NT_TRUE(strstr(err, "which is no voter of this cluster") != NULL);
    NT_TRUE(strstr(err, "live nodes are a, b") != NULL);
}

/* Labels: only a live node with every required label, each with the same
 * value, is eligible; among the eligible the usual order holds. */
static const struct spec_label r0l[] = {{"zone", "us"}};
static const struct spec_label r1l[] = {{"zone", "eu"}, {"gpu", "true"}};
static const struct spec_label r2l[] = {{"zone", "eu"}, {"gpu", "false"}};

static void
test_require_filters(void)
{
    struct placement_candidate c[] = {
        {10, "r0", true, 0, 0, r0l, 1, false},
        {20, "r1", true, 5, 0, r1l, 2, false},
        {30, "r2", true, 3, 0, r2l, 2, false},
        {40, "r3", true, 0, 0, NULL, 0, false},
    };
    char err[1024];
    struct spec_label eu[] = {{"zone", "eu"}};
    /* zone=eu: r1 and r2; r2 has fewer deployments */
    NT_EQ_INT(placement_pick(c, 4, NULL, eu, 1, err, sizeof err), 2);
    /* zone=eu, gpu=true: r1 alone, despite its deployments */
    struct spec_label eugpu[] = {{"zone", "eu"}, {"gpu", "true"}};
    NT_EQ_INT(placement_pick(c, 4, NULL, eugpu, 2, err, sizeof err), 1);
    /* the order of the requirements does not matter */
    struct spec_label gpueu[] = {{"gpu", "true"}, {"zone", "eu"}};
    NT_EQ_INT(placement_pick(c, 4, "", gpueu, 2, err, sizeof err), 1);
    /* no requirement: the least loaded of all (r0 by id over r3) */
    NT_EQ_INT(placement_pick(c, 4, NULL, NULL, 0, err, sizeof err), 0);
    /* a key present with an empty value is not the same as absent */
    struct spec_label gpuempty[] = {{"gpu", ""}};
    NT_EQ_INT(placement_pick(c, 4, NULL, gpuempty, 1, err, sizeof err), -1);
    /* a dead node with the labels is never picked */
    c[1].alive = false;
    NT_EQ_INT(placement_pick(c, 4, NULL, eugpu, 2, err, sizeof err), -1);
    NT_CONTAINS(err, "no live node has the labels zone=eu, gpu=true (live "
                     "nodes: r0 zone=us; r2 zone=eu,gpu=false; r3 no "
                     "labels); nothing changed");
    struct spec_label one[] = {{"zone", "ap"}};
    NT_EQ_INT(placement_pick(c, 4, NULL, one, 1, err, sizeof err), -1);
    NT_CONTAINS(err, "no live node has the label zone=ap (");
}

static void
test_require_with_on(void)
{
    struct placement_candidate c[] = {
        {10, "r0", true, 0, 0, r0l, 1, false},
        {20, "r1", true, 5, 0, r1l, 2, false},
        {30, "r2", false, 0, 0, r1l, 2, false},
    };
    char err[1024];
    struct spec_label eu[] = {{"zone", "eu"}};
    /* pinned to a node that has them: that node, whatever its load */
    NT_EQ_INT(placement_pick(c, 3, "r1", eu, 1, err, sizeof err), 1);
    /* pinned to a node without them: refused naming the label */
    NT_EQ_INT(placement_pick(c, 3, "r0", eu, 1, err, sizeof err), -1);
    NT_CONTAINS(err, "pinned to node r0 (--on r0), which lacks the required "
                     "label zone=eu (its labels: zone=us); nothing changed");
    struct spec_label eugpu[] = {{"zone", "eu"}, {"gpu", "false"}};
    NT_EQ_INT(placement_pick(c, 3, "r1", eugpu, 2, err, sizeof err), -1);
    NT_CONTAINS(err, "lacks the required label gpu=false (its labels: "
                     "zone=eu, gpu=true)");
    /* pinned to a dead one: not alive comes first */
    NT_EQ_INT(placement_pick(c, 3, "r2", eu, 1, err, sizeof err), -1);
    NT_CONTAINS(err, "which is not alive now");
}

/* A drained node takes nothing: not picked, not pinned to, not offered
 * in the messages; when every live node is drained, the message says so. */
static void
test_drained_never_picked(void)
{
    struct placement_candidate c[] = {
        {10, "a", true, 0, 0, NULL, 0, true},
        {20, "b", true, 5, 0, NULL, 0, false},
    };
    char err[256];
    NT_EQ_INT(placement_pick(c, 2, NULL, NULL, 0, err, sizeof err), 1);
    NT_EQ_INT(placement_pick(c, 2, "a", NULL, 0, err, sizeof err), -1);
    NT_CONTAINS(err, "which is drained");
    NT_CONTAINS(err, "naos undrain a");
    c[1].drained = true;
    NT_EQ_INT(placement_pick(c, 2, NULL, NULL, 0, err, sizeof err), -1);
    NT_CONTAINS(err, "every live node of the cluster is drained");
    c[1].drained = false;
    c[1].alive = false;
    NT_EQ_INT(placement_pick(c, 2, "b", NULL, 0, err, sizeof err), -1);
    NT_CONTAINS(err, "not alive now");
    NT_TRUE(strstr(err, "(a)") == NULL); /* a is not offered */
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_fewest_deployments_then_load_then_id),
        NT_CASE(test_dead_nodes_never_picked),
        NT_CASE(test_pinned),
        NT_CASE(test_require_filters),
        NT_CASE(test_require_with_on),
        NT_CASE(test_drained_never_picked),
        {0},
    };
    return nt_run(cases);
}
