/* SPDX-License-Identifier: Apache-2.0 */
/* spec_bound_test.c: the product of nested intensities (spec_bound.h) on
 * trees written as YAML. */
#include <string.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/spec/spec_bound.h"
#include "node/spec/spec_yaml.h"

static struct spec_node S;
static struct spec_start_bound B;

static void
bound(const char *yaml)
{
    char err[512] = "";
    if (spec_yaml_parse("t.yaml", yaml, strlen(yaml), &S, err, sizeof err) !=
        NAOS_OK)
        NT_FAIL("parse: %s", err);
    spec_start_bound(&S, &B);
}

static const char *
path(size_t n)
{
    static char buf[256];
    spec_start_bound_path(&B, n, buf, sizeof buf);
    return buf;
}

/* Issue 14's measurement: inner 5, top 5 -> 36 starts. */
static void
test_two_levels_issue_figure(void)
{
    bound("name: lab\n"
          "supervisor: {max_restarts: 5, window: 60s}\n"
          "children:\n"
          "  - id: workers\n"
          "    supervisor: {max_restarts: 5, window: 60s}\n"
          "    children: [{id: crashy, command: \"false\"}]\n");
    NT_EQ_INT(B.starts, 36);
    NT_EQ_STR(path(B.depth), "lab/workers/crashy");
    spec_node_fini(&S);
}

/* Three levels: (2+1) * (3+1) * (4+1) = 60, the worst worker is the deep
 * one, and the factors name each supervisor's share. */
static void
test_three_levels(void)
{
    bound("name: top\n"
          "supervisor: {strategy: one-for-all, max_restarts: 2, window: 60s}\n"
          "children:\n"
          "  - {id: side, command: \"true\"}\n"
          "  - id: mid\n"
          "    supervisor: {max_restarts: 3, window: 60s}\n"
          "    children:\n"
          "      - {id: near, command: \"true\"}\n"
          "      - id: low\n"
          "        supervisor: {strategy: rest-for-one, max_restarts: 4, "
          "window: 60s}\n"
          "        children: [{id: leaf, command: \"false\"}]\n");
    NT_EQ_INT(B.starts, 60);
    NT_EQ_INT(B.depth, 4);
    NT_EQ_STR(path(4), "top/mid/low/leaf");
    NT_EQ_STR(path(2), "top/mid");
    NT_EQ_INT(B.factor[0], 3);
    NT_EQ_INT(B.factor[1], 4);
    NT_EQ_INT(B.factor[2], 5);
    spec_node_fini(&S);
}

/* Levels where the child is not restarted count 1: a temporary worker, a
 * transient supervisor (it gives up with `shutdown`, a clean exit), and
 * max_restarts 0. A transient worker still multiplies. */
static void
test_levels_that_do_not_multiply(void)
{
    bound("name: top\n"
          "supervisor: {max_restarts: 9, window: 60s}\n"
          "children:\n"
          "  - id: tr\n"
          "    restart: transient\n"
          "    supervisor: {max_restarts: 2, window: 60s}\n"
          "    children: [{id: w, command: \"false\", restart: transient}]\n"
          "  - id: zero\n"
          "    supervisor: {max_restarts: 0, window: 60s}\n"
          "    children: [{id: z, command: \"false\"}]\n"
          "  - {id: once, command: \"false\", restart: temporary}\n");
    /* tr/w: 3 * 1; zero/z: 1 * 10; once: 1. */
    NT_EQ_INT(B.starts, 10);
    NT_EQ_STR(path(B.depth), "top/zero/z");
    NT_EQ_INT(B.factor[0], 10);
    NT_EQ_INT(B.factor[1], 1);
    spec_node_fini(&S);
}

/* A pool's replicas share the template's figure; the product saturates. */
static void
test_pool_and_saturation(void)
{
    bound("name: p\n"
          "supervisor: {strategy: simple-one-for-one, max_restarts: 7, "
          "window: 60s}\n"
          "replicas: 50\n"
          "children: [{id: t, command: \"false\"}]\n");
    NT_EQ_INT(B.starts, 8);
    spec_node_fini(&S);
    /* 32 levels of 1,000,000 would overflow 64 bits. */
    char yaml[8192];
    size_t n = 0;
    n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                          "name: s0\nsupervisor: {max_restarts: 1000000, "
                          "window: 60s}\nchildren:\n");
    const char *ind = "  ";
    char pad[128] = "";
    for (int i = 1; i < 6; i++) {
        n += (size_t)snprintf(yaml + n, sizeof yaml - n,
                              "%s%s- id: s%d\n%s%s  supervisor: "
                              "{max_restarts: 1000000, window: 60s}\n"
                              "%s%s  children:\n",
                              pad, ind, i, pad, ind, pad, ind);
        strcat(pad, "    ");
    }
    snprintf(yaml + n, sizeof yaml - n, "%s%s- {id: w, command: \"false\"}\n",
             pad, ind);
    bound(yaml);
    NT_EQ_INT(B.starts == UINT64_MAX, 1);
    NT_EQ_INT(B.depth, 7);
    spec_node_fini(&S);
}

static void
test_path_truncated(void)
{
    bound("name: a\nsupervisor: {max_restarts: 5, window: 60s}\n"
          "children: [{id: bb, command: \"true\"}]\n");
    NT_EQ_INT(B.starts, 6);
    char small[4];
    spec_start_bound_path(&B, B.depth, small, sizeof small);
    NT_EQ_STR(small, "a/b");
    spec_node_fini(&S);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_two_levels_issue_figure),
        NT_CASE(test_three_levels),
        NT_CASE(test_levels_that_do_not_multiply),
        NT_CASE(test_pool_and_saturation),
        NT_CASE(test_path_truncated),
        {0},
    };
    return nt_run(cases);
}
