/* SPDX-License-Identifier: Apache-2.0 */
/* route_test.c: routing, query and cursor parsing, the token check and
 * --http address parsing (all pure). */
#include <string.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/http/route.h"

static struct http_route rt;

static void
test_routes(void)
{
    NT_TRUE(http_route_parse("GET", "/supervisors", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_PAGE);
    NT_TRUE(http_route_parse("HEAD", "/supervisors", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_PAGE);
    NT_TRUE(rt.head);
    NT_TRUE(http_route_parse("GET", "/", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_ROOT);
    NT_TRUE(http_route_parse("GET", "/api/v1/status", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_STATUS);
    NT_TRUE(http_route_parse("GET", "/api/v1/status?pretty=1", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_STATUS);
    NT_TRUE(http_route_parse("GET", "/api/v1/nodes", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_NODES);
    NT_TRUE(http_route_parse("GET", "/metrics", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_METRICS);
    NT_TRUE(http_route_parse("GET", "/api/v1/deployments/web", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_DEPLOYMENT);
    NT_EQ_STR(rt.name, "web");
    NT_FALSE(http_route_is_mutating(&rt));
    NT_TRUE(http_route_parse("POST", "/api/v1/deployments/web/restart", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_COMMAND);
    NT_EQ_INT(rt.cmd, HTTP_CMD_RESTART);
    NT_TRUE(http_route_is_mutating(&rt));
    NT_TRUE(http_route_parse("POST", "/api/v1/deployments/web/stop", &rt));
    NT_EQ_INT(rt.cmd, HTTP_CMD_STOP);
    NT_TRUE(http_route_parse("POST", "/api/v1/deployments/web/start", &rt));
    NT_EQ_INT(rt.cmd, HTTP_CMD_START);
    NT_EQ_STR(http_route_name(HTTP_R_STATUS), "status");
    NT_EQ_STR(http_route_name(HTTP_R_NONE), "other");
}

static void
test_not_found(void)
{
    const char *paths[] = {"/nope", "/api/v1", "/api/v1/", "/api/v1/statusx",
                           "/supervisors/", "/api/v1/deployments/",
                           "/api/v1/deployments/web/explode",
                           "/api/v1/deployments/web/restart/now",
                           "/metrics/x", "/api/v2/status", NULL};
    for (int i = 0; paths[i]; i++) {
        NT_FALSE(http_route_parse("GET", paths[i], &rt));
        if (rt.status != 404)
            NT_FAIL("%s: status %d, want 404", paths[i], rt.status);
        NT_TRUE(rt.error[0] != '\0');
    }
}

static void
test_methods(void)
{
    NT_FALSE(http_route_parse("POST", "/api/v1/status", &rt));
    NT_EQ_INT(rt.status, 405);
    NT_EQ_STR(rt.allow, "GET, HEAD");
    NT_FALSE(http_route_parse("DELETE", "/supervisors", &rt));
    NT_EQ_INT(rt.status, 405);
    NT_FALSE(http_route_parse("GET", "/api/v1/deployments/web/restart", &rt));
    NT_EQ_INT(rt.status, 405);
    NT_EQ_STR(rt.allow, "POST");
    NT_FALSE(http_route_parse("PUT", "/api/v1/deployments/web/stop", &rt));
    NT_EQ_INT(rt.status, 405);
    /* an unknown path is 404 whatever the method */
    NT_FALSE(http_route_parse("BREW", "/coffee", &rt));
    NT_EQ_INT(rt.status, 404);
}

static void
test_names(void)
{
    NT_TRUE(http_route_parse("GET", "/api/v1/deployments/a%20b", &rt));
    NT_EQ_STR(rt.name, "a b");
    /* an escaped slash stays inside the name (and finds nothing) */
    NT_TRUE(http_route_parse("GET", "/api/v1/deployments/a%2Fb", &rt));
    NT_EQ_STR(rt.name, "a/b");
    NT_EQ_INT(rt.kind, HTTP_R_DEPLOYMENT);
    /* a plus is a plus in a path */
    NT_TRUE(http_route_parse("GET", "/api/v1/deployments/a+b", &rt));
    NT_EQ_STR(rt.name, "a+b");
    const char *bad[] = {"/api/v1/deployments/%", "/api/v1/deployments/%4",
                         "/api/v1/deployments/%zz", "/api/v1/deployments/%00x",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        NT_FALSE(http_route_parse("GET", bad[i], &rt));
        if (rt.status != 400)
            NT_FAIL("%s: status %d, want 400", bad[i], rt.status);
    }
    char longname[400] = "/api/v1/deployments/";
    memset(longname + strlen(longname), 'x', 200);
    NT_FALSE(http_route_parse("GET", longname, &rt));
    NT_EQ_INT(rt.status, 400);
}

static void
test_limits(void)
{
    static char big[HTTP_MAX_TARGET + 10];
    memset(big, 'a', sizeof big - 1);
    big[0] = '/';
    NT_FALSE(http_route_parse("GET", big, &rt));
    NT_EQ_INT(rt.status, 414);
    NT_FALSE(http_route_parse("GET", "api/v1/status", &rt));
    NT_EQ_INT(rt.status, 400);
    NT_FALSE(http_route_parse("GET", "/api/v1/status#x", &rt));
    NT_EQ_INT(rt.status, 400);
    NT_FALSE(http_route_parse(NULL, "/", &rt));
    NT_EQ_INT(rt.status, 400);
    NT_FALSE(http_route_parse("GET", "", &rt));
    NT_EQ_INT(rt.status, 400);
}

/* ?scope=cluster|local on the status; anything else is refused. */
static void
test_status_scope(void)
{
    NT_TRUE(http_route_parse("GET", "/api/v1/status", &rt));
    NT_FALSE(rt.cluster);
    NT_TRUE(http_route_parse("GET", "/api/v1/status?scope=cluster", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_STATUS);
    NT_TRUE(rt.cluster);
    NT_TRUE(http_route_parse("GET", "/api/v1/status?x=1&scope=local", &rt));
    NT_FALSE(rt.cluster);
    NT_TRUE(http_route_parse("GET", "/api/v1/status?scope=%63luster", &rt));
    NT_TRUE(rt.cluster);
    const char *bad[] = {"/api/v1/status?scope=", "/api/v1/status?scope=all",
                         "/api/v1/status?scope=CLUSTER",
                         "/api/v1/status?scope=%zz"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        NT_FALSE(http_route_parse("GET", bad[i], &rt));
        NT_EQ_INT(rt.status, 400);
        NT_CONTAINS(rt.error, "bad scope");
    }
}

static void
test_events_query(void)
{
    NT_TRUE(http_route_parse("GET", "/api/v1/events", &rt));
    NT_EQ_INT(rt.kind, HTTP_R_EVENTS);
    NT_EQ_INT(rt.since, 0);
    NT_EQ_INT(rt.max, HTTP_EVENTS_MAX);
    NT_TRUE(http_route_parse("GET", "/api/v1/events?since=42", &rt));
    NT_EQ_INT(rt.since, 42);
    NT_TRUE(http_route_parse("GET", "/api/v1/events?max=5&since=7&x=y", &rt));
    NT_EQ_INT(rt.since, 7);
    NT_EQ_INT(rt.max, 5);
    NT_TRUE(http_route_parse("GET",
                             "/api/v1/events?since=18446744073709551615", &rt));
    NT_TRUE(rt.since == UINT64_MAX);
    NT_TRUE(http_route_parse("GET", "/api/v1/events?since=%31%32", &rt));
    NT_EQ_INT(rt.since, 12);
    NT_TRUE(http_route_parse("GET", "/api/v1/events?&&since=3&", &rt));
    NT_EQ_INT(rt.since, 3);
    const char *bad[] = {"/api/v1/events?since=",
                         "/api/v1/events?since",
                         "/api/v1/events?since=abc",
                         "/api/v1/events?since=-1",
                         "/api/v1/events?since=1.5",
                         "/api/v1/events?since=+1",
                         "/api/v1/events?since=%20%31",
                         "/api/v1/events?since=18446744073709551616",
                         "/api/v1/events?since=99999999999999999999999",
                         "/api/v1/events?since=%zz",
                         "/api/v1/events?max=0",
                         "/api/v1/events?max=1001",
                         "/api/v1/events?max=x",
                         NULL};
    for (int i = 0; bad[i]; i++) {
        NT_FALSE(http_route_parse("GET", bad[i], &rt));
        if (rt.status != 400)
            NT_FAIL("%s: status %d, want 400", bad[i], rt.status);
        NT_TRUE(rt.error[0] != '\0');
    }
    NT_FALSE(http_route_parse("GET", "/api/v1/events?since=x", &rt));
    NT_CONTAINS(rt.error, "cursor");
}

static void
test_parse_u64(void)
{
    uint64_t v = 9;
    NT_TRUE(http_parse_u64("0", &v));
    NT_EQ_INT(v, 0);
    NT_TRUE(http_parse_u64("00012", &v));
    NT_EQ_INT(v, 12);
    NT_FALSE(http_parse_u64("", &v));
    NT_FALSE(http_parse_u64(" 1", &v));
    NT_FALSE(http_parse_u64("1 ", &v));
    NT_FALSE(http_parse_u64("0x10", &v));
    NT_FALSE(http_parse_u64("000000000000000000001", &v)); /* 21 digits */
}

static void
test_auth(void)
{
    const char *tok = "s3cret-token-0123456789";
    NT_EQ_INT(http_auth_check(NULL, "Bearer x"), 403);
    NT_EQ_INT(http_auth_check("", "Bearer x"), 403);
    NT_EQ_INT(http_auth_check(tok, NULL), 401);
    NT_EQ_INT(http_auth_check(tok, ""), 401);
    NT_EQ_INT(http_auth_check(tok, "Basic czNjcmV0"), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer"), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer "), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer s3cret-token-012345678"), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer s3cret-token-01234567890"), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer S3cret-token-0123456789"), 401);
    NT_EQ_INT(http_auth_check(tok, "Bearer s3cret-token-0123456789"), 0);
    NT_EQ_INT(http_auth_check(tok, "bearer   s3cret-token-0123456789"), 0);
    NT_EQ_INT(http_auth_check(tok, "BEARER s3cret-token-0123456789"), 0);
}

static void
test_addr(void)
{
    char url[128], err[256];
    bool lo = false;
    NT_EQ_INT(http_addr_to_url("127.0.0.1:4200", url, sizeof url, &lo, err,
                               sizeof err),
              NAOS_OK);
    NT_EQ_STR(url, "http://127.0.0.1:4200");
    NT_TRUE(lo);
    NT_EQ_INT(http_addr_to_url("http://127.0.0.1:0", url, sizeof url, &lo,
                               err, sizeof err),
              NAOS_OK);
    NT_EQ_STR(url, "http://127.0.0.1:0");
    NT_EQ_INT(http_addr_to_url("0.0.0.0:80", url, sizeof url, &lo, err,
                               sizeof err),
              NAOS_OK);
    NT_FALSE(lo);
    NT_EQ_INT(http_addr_to_url("[::1]:4200", url, sizeof url, &lo, err,
                               sizeof err),
              NAOS_OK);
    NT_EQ_STR(url, "http://[::1]:4200");
    NT_TRUE(lo);
    NT_EQ_INT(http_addr_to_url("localhost:1", url, sizeof url, &lo, err,
                               sizeof err),
              NAOS_OK);
    NT_TRUE(lo);
    const char *bad[] = {"", "4200", ":4200", "host:", "host:65536",
                         "host:-1", "host:port", "::1:4200", "[::1]4200",
                         "a/b:1", "h:1:2", NULL};
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        if (http_addr_to_url(bad[i], url, sizeof url, &lo, err, sizeof err) !=
            NAOS_EINVAL)
            NT_FAIL("\"%s\" accepted as %s", bad[i], url);
        NT_TRUE(err[0] != '\0');
    }
}

static void
test_utf8_name(void)
{
    /* issue 9: "%FF%FE" reached the JSON encoder and came back as 500 */
    NT_FALSE(http_route_parse("GET", "/api/v1/deployments/%FF%FE", &rt));
    NT_EQ_INT(rt.status, 404);
    NT_CONTAINS(rt.error, "%FF%FE");
    NT_CONTAINS(rt.error, "UTF-8");
    NT_FALSE(http_route_parse("POST", "/api/v1/deployments/a%C0%AF/stop",
                              &rt));
    NT_EQ_INT(rt.status, 404);
    NT_CONTAINS(rt.error, "a%C0%AF");
    /* a surrogate and a truncated sequence */
    NT_FALSE(http_route_parse("GET", "/api/v1/deployments/%ED%A0%80", &rt));
    NT_EQ_INT(rt.status, 404);
    NT_FALSE(http_route_parse("GET", "/api/v1/deployments/x%E2%82", &rt));
    NT_EQ_INT(rt.status, 404);
    /* valid UTF-8 goes through, to be looked up */
    NT_TRUE(http_route_parse("GET", "/api/v1/deployments/caf%C3%A9", &rt));
    NT_EQ_STR(rt.name, "caf\xc3\xa9");
    char esc[16];
    http_escape("a\"b\\%\x01\xff", 7, esc, sizeof esc);
    NT_EQ_STR(esc, "a%22b%5C%25%01");
    http_escape("abc", 3, esc, 3);
    NT_EQ_STR(esc, "ab");
}

static void
test_hosts(void)
{
    struct http_limits l = HTTP_LIMITS_DEFAULT;
    char err[256];
    http_hosts_set_bound(&l.hosts, "http://127.0.0.1:4200");
    NT_EQ_INT(http_limits_set(&l, "allow-host", "Naos.Example.org", err,
                              sizeof err), NAOS_OK);
    const char *good[] = {"localhost", "localhost:4200", "LOCALHOST.",
                          "127.0.0.1", "127.0.0.1:4200", "127.1.2.3:1",
                          "[::1]", "[::1]:4200", "naos.example.org",
                          "NAOS.example.org.:80", NULL};
    for (int i = 0; good[i]; i++)
        if (!http_host_allowed(&l.hosts, good[i]))
            NT_FAIL("Host %s refused", good[i]);
    const char *bad[] = {"evil.example", "evil.example:4200", "10.0.0.1",
                         "[::2]:4200", "localhost.evil.example",
                         "naos.example.org.evil", "", ":4200",
                         "localhost:99999", "localhost:x", "::1",
                         "a b", "local\xffhost", "[::1", NULL};
    for (int i = 0; bad[i]; i++)
        if (http_host_allowed(&l.hosts, bad[i]))
            NT_FAIL("Host \"%s\" allowed", bad[i]);
    NT_FALSE(http_host_allowed(&l.hosts, NULL));
    /* bound to a name: that name; bound to a wildcard: any address */
    http_hosts_set_bound(&l.hosts, "http://myhost:4200");
    NT_TRUE(http_host_allowed(&l.hosts, "MyHost:4200"));
    NT_FALSE(http_host_allowed(&l.hosts, "10.0.0.1:4200"));
    http_hosts_set_bound(&l.hosts, "http://0.0.0.0:4200");
    NT_TRUE(http_host_allowed(&l.hosts, "10.0.0.1:4200"));
    NT_TRUE(http_host_allowed(&l.hosts, "[fe80::1]:4200"));
    NT_FALSE(http_host_allowed(&l.hosts, "evil.example"));
    http_hosts_set_bound(&l.hosts, "http://[::]:4200");
    NT_TRUE(http_host_allowed(&l.hosts, "192.168.1.2"));
}

static void
test_limit_options(void)
{
    struct http_limits l = HTTP_LIMITS_DEFAULT, before;
    char err[256];
    NT_EQ_INT(l.max_conns, HTTP_MAX_CONNS_DEFAULT);
    NT_EQ_INT(http_limits_set(&l, "max-conns", "1", err, sizeof err),
              NAOS_OK);
    NT_EQ_INT(l.max_conns, 1);
    NT_EQ_INT(http_limits_set(&l, "max-conns", "4096", err, sizeof err),
              NAOS_OK);
    NT_EQ_INT(http_limits_set(&l, "header-timeout", "100ms", err,
                              sizeof err), NAOS_OK);
    NT_EQ_INT(l.header_timeout, 100);
    NT_EQ_INT(http_limits_set(&l, "idle-timeout", "1h", err, sizeof err),
              NAOS_OK);
    NT_EQ_INT(l.idle_timeout, 3600000);
    NT_EQ_INT(http_limits_set(&l, "reply-budget", "1M", err, sizeof err),
              NAOS_OK);
    NT_TRUE(l.reply_budget == 1ull << 20);
    NT_EQ_INT(http_limits_set(&l, "reply-budget", "16G", err, sizeof err),
              NAOS_OK);
    before = l;
    static const char *const bad[][2] = {
        {"max-conns", "0"},         {"max-conns", "4097"},
        {"max-conns", "-1"},        {"max-conns", ""},
        {"header-timeout", "99ms"}, {"header-timeout", "61m"},
        {"idle-timeout", "0"},      {"idle-timeout", "soon"},
        {"reply-budget", "1023K"},  {"reply-budget", "17G"},
        {"reply-budget", "99999999999999999999G"},
        {"allow-host", "evil.example:80"}, {"allow-host", "127.0.0.1"},
        {"allow-host", "a/b"},      {"allow-host", ""},
        {"nope", "1"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (http_limits_set(&l, bad[i][0], bad[i][1], err, sizeof err) !=
            NAOS_EINVAL)
            NT_FAIL("--http-%s %s accepted", bad[i][0], bad[i][1]);
        NT_TRUE(err[0] != '\0');
    }
    NT_TRUE(memcmp(&l, &before, sizeof l) == 0);
    for (int i = 0; i < HTTP_MAX_ALLOW_HOSTS; i++)
        NT_EQ_INT(http_limits_set(&l, "allow-host", "h.example", err,
                                  sizeof err), NAOS_OK);
    NT_EQ_INT(http_limits_set(&l, "allow-host", "h.example", err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "at most");
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_routes),      NT_CASE(test_not_found),
        NT_CASE(test_methods),     NT_CASE(test_names),
        NT_CASE(test_limits),      NT_CASE(test_events_query),
        NT_CASE(test_status_scope),
        NT_CASE(test_parse_u64),   NT_CASE(test_auth),
        NT_CASE(test_addr),        NT_CASE(test_utf8_name),
        NT_CASE(test_hosts),       NT_CASE(test_limit_options),
        {0},
    };
    return nt_run(cases);
}
