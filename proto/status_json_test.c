/* SPDX-License-Identifier: Apache-2.0 */
/* status_json_test.c: the exact JSON shape of status and events. */
#include "proto/status_json.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/testing.h"

/* 2026-11-21T10:12:03.123Z */
#define T0 1795255923123LL

static char *
dump(json_t *j)
{
    NT_TRUE(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    NT_TRUE(s != NULL);
    return s;
}

static void
test_time_format(void)
{
    char buf[32];
    NT_EQ_STR(status_json_time(0, buf, sizeof buf),
              "1970-01-01T00:00:00.000Z");
    NT_EQ_STR(status_json_time(T0, buf, sizeof buf),
              "2026-11-21T10:12:03.123Z");
    NT_EQ_STR(status_json_time(-1, buf, sizeof buf),
              "1969-12-31T23:59:59.999Z");
    char small[8];
    status_json_time(T0, small, sizeof small); /* truncates, no overflow */
    NT_EQ_INT(strlen(small), 7);
}

static void
test_full_status_shape(void)
{
    Naos__V1__ExitReason le = NAOS__V1__EXIT_REASON__INIT;
    le.reason = (char *)"exit:1";
    le.at_wall_ms = T0;

    Naos__V1__NodeStatus fetcher = NAOS__V1__NODE_STATUS__INIT;
    fetcher.id = (char *)"fetcher";
    fetcher.path = (char *)"research/fetcher";
    fetcher.state = (char *)"running";
    fetcher.pid = 4242;
    fetcher.restarts = 1;
    fetcher.last_exit = &le;
    fetcher.restart_type = (char *)"permanent";
    fetcher.uptime_ms = 192000;

    Naos__V1__NodeStatus scraper = NAOS__V1__NODE_STATUS__INIT;
    scraper.id = (char *)"scraper";
    scraper.path = (char *)"research/tools/scraper";
    scraper.state = (char *)"starting";
    scraper.pid = 4250;
    scraper.status_text = (char *)"loading \"model\"\n";
    scraper.restart_type = (char *)"transient";
    scraper.uptime_ms = 1500;

    Naos__V1__NodeStatus *tkids[] = {&scraper};
    Naos__V1__NodeStatus tools = NAOS__V1__NODE_STATUS__INIT;
    tools.id = (char *)"tools";
    tools.path = (char *)"research/tools";
    tools.is_supervisor = 1;
    tools.state = (char *)"running";
    tools.restart_type = (char *)"permanent";
    tools.uptime_ms = 60000;
    tools.strategy = (char *)"one-for-one";
    tools.max_restarts = 3;
    tools.window_s = 60;
    tools.n_children = 1;
    tools.children = tkids;

    Naos__V1__NodeStatus *rkids[] = {&fetcher, &tools};
    Naos__V1__NodeStatus root = NAOS__V1__NODE_STATUS__INIT;
    root.id = (char *)"research";
    root.path = (char *)"research";
    root.is_supervisor = 1;
    root.state = (char *)"running";
    root.restart_type = (char *)"permanent";
    root.uptime_ms = 300000;
    root.strategy = (char *)"rest-for-one";
    root.max_restarts = 5;
    root.window_s = 300;
    root.restarts_in_window = 1;
    root.n_children = 2;
    root.children = rkids;

    Naos__V1__DeploymentStatus d = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    d.name = (char *)"research";
    d.state = (char *)"running";
    d.tree = &root;
    d.failure = (char *)"ignored unless failed";

    Naos__V1__NodeStatus lone = NAOS__V1__NODE_STATUS__INIT;
    lone.id = (char *)"old";
    lone.path = (char *)"old";
    lone.is_supervisor = 1;
    lone.state = (char *)"failed";
    lone.strategy = (char *)"one-for-one";
    lone.max_restarts = 1;
    lone.window_s = 5;
    lone.restarts_in_window = 2;
    Naos__V1__DeploymentStatus f = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    f.name = (char *)"old";
    f.state = (char *)"failed";
    f.tree = &lone;
    f.failure = (char *)"old/w: more than 1 restarts in 5s";

    Naos__V1__DeploymentStatus *deps[] = {&d, &f};
    Naos__V1__Status st = NAOS__V1__STATUS__INIT;
    st.node = (char *)"n1";
    st.n_deployments = 2;
    st.deployments = deps;

    char *s = dump(status_json_status(&st));
    const char *want =
        "{\"node\":\"n1\",\"deployments\":["
        "{\"name\":\"research\",\"state\":\"running\",\"tree\":"
        "{\"id\":\"research\",\"path\":\"research\",\"type\":\"supervisor\","
        "\"state\":\"running\",\"pid\":null,\"restarts\":0,"
        "\"restart\":\"permanent\",\"uptime_ms\":300000,\"last_exit\":null,"
        "\"status_text\":null,\"strategy\":\"rest-for-one\","
        "\"max_restarts\":5,\"window_s\":300,\"restarts_in_window\":1,"
        "\"children\":["
        "{\"id\":\"fetcher\",\"path\":\"research/fetcher\","
        "\"type\":\"worker\",\"state\":\"running\",\"pid\":4242,"
        "\"restarts\":1,\"restart\":\"permanent\",\"uptime_ms\":192000,"
        "\"last_exit\":{\"reason\":\"exit:1\","
        "\"at\":\"2026-11-21T10:12:03.123Z\"},"
        "\"status_text\":null,\"children\":[]},"
        "{\"id\":\"tools\",\"path\":\"research/tools\","
        "\"type\":\"supervisor\",\"state\":\"running\",\"pid\":null,"
        "\"restarts\":0,\"restart\":\"permanent\",\"uptime_ms\":60000,"
        "\"last_exit\":null,\"status_text\":null,"
        "\"strategy\":\"one-for-one\",\"max_restarts\":3,\"window_s\":60,"
        "\"restarts_in_window\":0,\"children\":["
        "{\"id\":\"scraper\",\"path\":\"research/tools/scraper\","
        "\"type\":\"worker\",\"state\":\"starting\",\"pid\":4250,"
        "\"restarts\":0,\"restart\":\"transient\",\"uptime_ms\":1500,"
        "\"last_exit\":null,"
        "\"status_text\":\"loading \\\"model\\\"\\n\",\"children\":[]}"
        "]}]}},"
        "{\"name\":\"old\",\"state\":\"failed\","
        "\"failure\":\"old/w: more than 1 restarts in 5s\",\"tree\":"
        "{\"id\":\"old\",\"path\":\"old\",\"type\":\"supervisor\","
        "\"state\":\"failed\",\"pid\":null,\"restarts\":0,\"restart\":null,"
        "\"uptime_ms\":0,\"last_exit\":null,\"status_text\":null,"
        "\"strategy\":\"one-for-one\",\"max_restarts\":1,\"window_s\":5,"
        "\"restarts_in_window\":2,\"children\":[]}}"
        "]}";
    NT_EQ_STR(s, want);
    free(s);
}

/* A document served elapsed ms after it was taken: only running workers'
 * uptimes move, each deployment by its own elapsed time. */
static void
test_status_at_shifts_running_uptimes_only(void)
{
    Naos__V1__NodeStatus run = NAOS__V1__NODE_STATUS__INIT;
    run.id = run.path = (char *)"w";
    run.state = (char *)"running";
    run.pid = 7;
    run.uptime_ms = 1000;
    Naos__V1__NodeStatus dead = NAOS__V1__NODE_STATUS__INIT;
    dead.id = dead.path = (char *)"x";
    dead.state = (char *)"stopped";
    Naos__V1__NodeStatus *kids[] = {&run, &dead};
    Naos__V1__NodeStatus top = NAOS__V1__NODE_STATUS__INIT;
    top.id = top.path = (char *)"d";
    top.is_supervisor = 1;
    top.state = (char *)"running";
    top.uptime_ms = 5;
    top.n_children = 2;
    top.children = kids;
    Naos__V1__DeploymentStatus d1 = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    d1.name = (char *)"d";
    d1.state = (char *)"running";
    d1.tree = &top;
    Naos__V1__DeploymentStatus d2 = d1;
    Naos__V1__DeploymentStatus *deps[] = {&d1, &d2};
    Naos__V1__Status st = NAOS__V1__STATUS__INIT;
    st.node = (char *)"n";
    st.n_deployments = 2;
    st.deployments = deps;

    const int64_t elapsed[] = {250, 40};
    json_t *j = status_json_status_at(&st, elapsed);
    json_t *ds = json_object_get(j, "deployments");
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_object_get(json_array_get(ds, i), "tree");
        json_t *k = json_object_get(t, "children");
        NT_EQ_INT(json_integer_value(json_object_get(t, "uptime_ms")), 5);
        NT_EQ_INT(json_integer_value(json_object_get(json_array_get(k, 0),
                                                     "uptime_ms")),
                  1000 + elapsed[i]);
        NT_EQ_INT(json_integer_value(json_object_get(json_array_get(k, 1),
                                                     "uptime_ms")),
                  0);
    }
    json_decref(j);
    /* NULL elapsed and status_json_status read the same */
    char *a = dump(status_json_status_at(&st, NULL));
    char *b = dump(status_json_status(&st));
    NT_EQ_STR(a, b);
    free(a);
    free(b);
    char *c = dump(status_json_deployment_at(&d1, 9));
    NT_CONTAINS(c, "\"uptime_ms\":1009");
    free(c);
}

static void
test_worker_nulls(void)
{
    Naos__V1__NodeStatus w = NAOS__V1__NODE_STATUS__INIT;
    w.id = (char *)"w";
    w.path = (char *)"d/w";
    w.state = (char *)"stopped";
    w.pid = 0;
    w.status_text = (char *)"";
    char *s = dump(status_json_node(&w));
    NT_EQ_STR(s, "{\"id\":\"w\",\"path\":\"d/w\",\"type\":\"worker\","
                 "\"state\":\"stopped\",\"pid\":null,\"restarts\":0,"
                 "\"restart\":null,\"uptime_ms\":0,\"last_exit\":null,"
                 "\"status_text\":null,\"children\":[]}");
    free(s);

    /* NULL strings (hand-built messages) are empty, not a crash */
    Naos__V1__NodeStatus z = NAOS__V1__NODE_STATUS__INIT;
    z.id = NULL;
    z.path = NULL;
    z.state = NULL;
    z.status_text = NULL;
    z.restart_type = NULL;
    s = dump(status_json_node(&z));
    NT_CONTAINS(s, "\"id\":\"\",\"path\":\"\"");
    free(s);

    /* a deployment without a tree, failed, without failure text */
    Naos__V1__DeploymentStatus d = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    d.name = (char *)"x";
    d.state = (char *)"failed";
    s = dump(status_json_deployment(&d));
    NT_EQ_STR(s, "{\"name\":\"x\",\"state\":\"failed\",\"failure\":null,"
                 "\"tree\":null}");
    free(s);

    Naos__V1__Status st = NAOS__V1__STATUS__INIT;
    s = dump(status_json_status(&st));
    NT_EQ_STR(s, "{\"node\":\"\",\"deployments\":[]}");
    free(s);
    NT_TRUE(status_json_status(NULL) == NULL);
    NT_TRUE(status_json_event(NULL) == NULL);
}

static void
test_invalid_utf8_is_replaced(void)
{
    Naos__V1__NodeStatus w = NAOS__V1__NODE_STATUS__INIT;
    w.id = (char *)"w";
    w.status_text = (char *)"ok \xff\xfe bad \xc3\xa9 good \xe2\x82";
    json_t *j = status_json_node(&w);
    NT_TRUE(j != NULL);
    NT_EQ_STR(json_string_value(json_object_get(j, "status_text")),
              "ok \xef\xbf\xbd\xef\xbf\xbd bad \xc3\xa9 good "
              "\xef\xbf\xbd\xef\xbf\xbd");
    json_decref(j);
}

static void
test_depth_limit(void)
{
    enum { N = STATUS_JSON_MAX_DEPTH + 1 };
    static Naos__V1__NodeStatus nodes[N];
    static Naos__V1__NodeStatus *links[N];
    for (int i = 0; i < N; i++) {
        Naos__V1__NodeStatus m = NAOS__V1__NODE_STATUS__INIT;
        nodes[i] = m;
        nodes[i].is_supervisor = 1;
        links[i] = &nodes[i];
        if (i > 0) {
            nodes[i - 1].n_children = 1;
            nodes[i - 1].children = &links[i];
        }
    }
    NT_TRUE(status_json_node(&nodes[0]) == NULL);
    nodes[N - 2].n_children = 0;
    json_t *j = status_json_node(&nodes[0]);
    NT_TRUE(j != NULL);
    json_decref(j);
}

static void
test_event_shape(void)
{
    Naos__V1__Event ev = NAOS__V1__EVENT__INIT;
    ev.seq = 42;
    ev.at_wall_ms = T0;
    ev.kind = (char *)"restart";
    ev.deployment = (char *)"research";
    ev.path = (char *)"research/fetcher";
    ev.pid = 4242;
    ev.reason = (char *)"exit:1";
    ev.restarts = 3;
    ev.detail = (char *)"backoff 2s";
    char *s = dump(status_json_event(&ev));
    NT_EQ_STR(s, "{\"seq\":42,\"at\":\"2026-11-21T10:12:03.123Z\","
                 "\"kind\":\"restart\",\"deployment\":\"research\","
                 "\"path\":\"research/fetcher\",\"pid\":4242,"
                 "\"reason\":\"exit:1\",\"restarts\":3,"
                 "\"detail\":\"backoff 2s\"}");
    free(s);

    Naos__V1__Event e2 = NAOS__V1__EVENT__INIT;
    e2.seq = UINT64_MAX;
    e2.kind = (char *)"deploy";
    e2.deployment = (char *)"d";
    s = dump(status_json_event(&e2));
    NT_EQ_STR(s, "{\"seq\":9223372036854775807,"
                 "\"at\":\"1970-01-01T00:00:00.000Z\",\"kind\":\"deploy\","
                 "\"deployment\":\"d\",\"path\":null,\"pid\":null,"
                 "\"reason\":null,\"restarts\":0,\"detail\":null}");
    free(s);
}

/* A load of 253 hundredths must read 2.53 as the CLI and the API print
 * it, not 2.5299999999999998 (issue 10). */
static void
test_load_is_rounded(void)
{
    Naos__V1__MemberHealth h = NAOS__V1__MEMBER_HEALTH__INIT;
    h.load = 253 / 100.0;
    Naos__V1__Member m = NAOS__V1__MEMBER__INIT;
    m.id = (char *)"0000000000000001";
    m.health = &h;
    Naos__V1__Member *list[] = {&m};
    Naos__V1__NodesReply r = NAOS__V1__NODES_REPLY__INIT;
    r.n_nodes = 1;
    r.nodes = list;
    json_t *j = status_json_nodes(&r);
    NT_TRUE(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT | STATUS_JSON_DUMP);
    NT_TRUE(s != NULL);
    NT_TRUE(strstr(s, "\"load\":2.53,") != NULL || strstr(s, "\"load\":2.53}"));
    free(s);
    h.load = 0.1 + 0.2; /* 0.30000000000000004 */
    json_decref(j);
    j = status_json_nodes(&r);
    s = json_dumps(j, JSON_COMPACT | STATUS_JSON_DUMP);
    NT_TRUE(strstr(s, "\"load\":0.3") != NULL && !strstr(s, "0.3000"));
    free(s);
    json_decref(j);
}

/* A member's labels are an object {"KEY": "VALUE"}, in their order; {}
 * when it has none. */
static void
test_member_labels(void)
{
    Naos__V1__NodeLabel a = NAOS__V1__NODE_LABEL__INIT, b = a;
    a.key = (char *)"zone";
    a.value = (char *)"eu";
    b.key = (char *)"gpu";
    b.value = (char *)"";
    Naos__V1__NodeLabel *ls[] = {&a, &b};
    Naos__V1__Member m = NAOS__V1__MEMBER__INIT, bare = m;
    m.id = (char *)"0000000000000001";
    m.n_labels = 2;
    m.labels = ls;
    bare.id = (char *)"0000000000000002";
    Naos__V1__Member *list[] = {&m, &bare};
    Naos__V1__NodesReply r = NAOS__V1__NODES_REPLY__INIT;
    r.n_nodes = 2;
    r.nodes = list;
    json_t *j = status_json_nodes(&r);
    NT_TRUE(j != NULL);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    NT_CONTAINS(s, "\"labels\":{\"zone\":\"eu\",\"gpu\":\"\"}");
    NT_CONTAINS(s, "\"labels\":{},");
    free(s);
    json_decref(j);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_time_format),
        NT_CASE(test_member_labels),
        NT_CASE(test_full_status_shape),
        NT_CASE(test_status_at_shifts_running_uptimes_only),
        NT_CASE(test_worker_nulls),
        NT_CASE(test_invalid_utf8_is_replaced),
        NT_CASE(test_depth_limit),
        NT_CASE(test_event_shape),
        NT_CASE(test_load_is_rounded),
        {0},
    };
    return nt_run(cases);
}
