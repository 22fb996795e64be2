/* SPDX-License-Identifier: Apache-2.0 */
/* output_test.c: the human status tree and event lines. */
#include "cli/output.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/testing.h"

#define T0 1795255923123LL /* 2026-11-21T10:12:03.123Z */

static char *membuf;
static size_t memlen;

static FILE *
mem_open(void)
{
    free(membuf);
    membuf = NULL;
    FILE *f = open_memstream(&membuf, &memlen);
    NT_TRUE(f != NULL);
    return f;
}

static const char *
mem_close(FILE *f)
{
    fclose(f);
    return membuf;
}

static void
test_duration(void)
{
    char b[32];
    output_duration(192000, b, sizeof b);
    NT_EQ_STR(b, "3m12s");
    output_duration(300000, b, sizeof b);
    NT_EQ_STR(b, "5m");
    output_duration(45000, b, sizeof b);
    NT_EQ_STR(b, "45s");
    output_duration(850, b, sizeof b);
    NT_EQ_STR(b, "850ms");
    output_duration(3900000, b, sizeof b);
    NT_EQ_STR(b, "1h5m");
    output_duration(2 * 86400000LL + 3 * 3600000LL + 7, b, sizeof b);
    NT_EQ_STR(b, "2d3h");
    output_duration(-5, b, sizeof b);
    NT_EQ_STR(b, "0ms");
}

static void
test_status_tree(void)
{
    Naos__V1__ExitReason le = NAOS__V1__EXIT_REASON__INIT;
    le.reason = (char *)"exit:1";
    le.at_wall_ms = T0;
    Naos__V1__NodeStatus fetcher = NAOS__V1__NODE_STATUS__INIT;
    fetcher.id = (char *)"fetcher";
    fetcher.state = (char *)"running";
    fetcher.pid = 4242;
    fetcher.uptime_ms = 192000;
    fetcher.restarts = 1;
    fetcher.last_exit = &le;
    Naos__V1__NodeStatus scraper = NAOS__V1__NODE_STATUS__INIT;
    scraper.id = (char *)"scraper";
    scraper.state = (char *)"starting";
    scraper.pid = 4250;
    scraper.status_text = (char *)"loading model";
    Naos__V1__NodeStatus *tk[] = {&scraper};
    Naos__V1__NodeStatus tools = NAOS__V1__NODE_STATUS__INIT;
    tools.id = (char *)"tools";
    tools.is_supervisor = 1;
    tools.state = (char *)"running";
    tools.strategy = (char *)"one-for-one";
    tools.max_restarts = 3;
    tools.window_s = 60;
    tools.n_children = 1;
    tools.children = tk;
    Naos__V1__NodeStatus *rk[] = {&fetcher, &tools};
    Naos__V1__NodeStatus root = NAOS__V1__NODE_STATUS__INIT;
    root.id = (char *)"research";
    root.is_supervisor = 1;
    root.state = (char *)"running";
    root.strategy = (char *)"rest-for-one";
    root.max_restarts = 5;
    root.window_s = 300;
    root.restarts_in_window = 1;
    root.n_children = 2;
    root.children = rk;
    Naos__V1__DeploymentStatus d = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    d.name = (char *)"research";
    d.state = (char *)"running";
    d.tree = &root;
    Naos__V1__DeploymentStatus *deps[] = {&d};
    Naos__V1__Status st = NAOS__V1__STATUS__INIT;
    st.n_deployments = 1;
    st.deployments = deps;

    FILE *f = mem_open();
    output_status_tree(f, &st, false);
    NT_EQ_STR(mem_close(f),
              "research  running  rest-for-one 1/5 in 5m\n"
              "├─ fetcher  running  pid 4242  up 3m12s  restarts 1  last "
              "exit:1\n"
              "└─ tools    running  one-for-one 0/3 in 1m\n"
              "   └─ scraper  starting  pid 4250  \"loading model\"\n");

    /* colour only wraps the state */
    f = mem_open();
    output_status_tree(f, &st, true);
    NT_CONTAINS(mem_close(f), "research  \033[32mrunning\033[0m  rest");

    /* a worker cannot write escape sequences to the terminal */
    scraper.status_text = (char *)"\033[2Jgotcha";
    d.state = (char *)"failed";
    d.failure = (char *)"gave up";
    f = mem_open();
    output_status_tree(f, &st, false);
    const char *s = mem_close(f);
    NT_CONTAINS(s, "\"?[2Jgotcha\"");
    NT_CONTAINS(s, "research  failed  rest-for-one 1/5 in 5m  (gave up)\n");

    /* in a cluster: its node, epoch, and an unreachable node's last
     * report with its age */
    d.state = (char *)"running";
    d.node = (char *)"r2";
    d.epoch = 17;
    d.node_state = (char *)"unreachable";
    d.reported_ms = 12345;
    f = mem_open();
    output_status_tree(f, &st, false);
    NT_CONTAINS(mem_close(f), "research  running  rest-for-one 1/5 in 5m  "
                "on r2 (epoch 17) unreachable (as it reported 12.3 s ago)\n");
    /* moved by the root supervisor: how often, of how many */
    d.node_state = (char *)"";
    d.migrations = 2;
    d.max_migrations = 3;
    d.migration_window_ms = 3600 * 1000;
    f = mem_open();
    output_status_tree(f, &st, false);
    NT_CONTAINS(mem_close(f), "on r2 (epoch 17)  moved 2/3 in 1h\n");

    Naos__V1__Status empty = NAOS__V1__STATUS__INIT;
    f = mem_open();
    output_status_tree(f, &empty, false);
    NT_CONTAINS(mem_close(f), "no deployments");
}

static void
test_event_line(void)
{
    Naos__V1__Event ev = NAOS__V1__EVENT__INIT;
    ev.seq = 9;
    ev.at_wall_ms = T0;
    ev.kind = (char *)"restart";
    ev.deployment = (char *)"research";
    ev.path = (char *)"research/fetcher";
    ev.pid = 4242;
    ev.reason = (char *)"exit:1";
    ev.restarts = 3;
    FILE *f = mem_open();
    output_event_line(f, &ev);
    /* its number first, for `naos events --since` (issue 10) */
    NT_EQ_STR(mem_close(f), "9  2026-11-21T10:12:03.123Z  restart  "
                            "research/fetcher  exit:1  restarts=3\n");

    Naos__V1__Event e2 = NAOS__V1__EVENT__INIT;
    e2.seq = 12345;
    e2.at_wall_ms = T0;
    e2.kind = (char *)"start";
    e2.deployment = (char *)"research";
    e2.pid = 77;
    e2.detail = (char *)"line1\nline2";
    f = mem_open();
    output_event_line(f, &e2);
    NT_EQ_STR(mem_close(f), "12345  2026-11-21T10:12:03.123Z  start  "
                            "research  pid=77  line1?line2\n");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_duration),
        NT_CASE(test_status_tree),
        NT_CASE(test_event_line),
        {0},
    };
    return nt_run(cases);
}
