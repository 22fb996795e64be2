/* SPDX-License-Identifier: Apache-2.0 */
/* route.h: the pure parts of the HTTP endpoint: which request is which
 * (method + request target -> route), query and cursor parsing, the bearer
 * token check, and `--http ADDR` parsing. No I/O, no NNG, no node state:
 * safe on any thread and unit-tested on their own (route_test.c).
 *
 * Routes (GET routes also answer HEAD):
 *   GET  /                                    -> 302 to /supervisors
 *   GET  /supervisors                         the dashboard page
 *   GET  /api/v1/status                       the `naos status --json` document
 *   GET  /api/v1/deployments/NAME             one deployment of it
 *   POST /api/v1/deployments/NAME/restart|stop|start   (bearer token)
 *   GET  /api/v1/events[?since=CURSOR][&max=N]
 *   GET  /api/v1/nodes                        cluster members (`naos nodes --json`)
 *   GET  /metrics                             Prometheus text format 0.0.4
 * Anything else is 404; a known path with another method is 405 (with the
 * Allow value in http_route.allow); a target longer than HTTP_MAX_TARGET
 * is 414; a malformed escape, cursor or max is 400. */
#ifndef NAOS_HTTP_ROUTE_H
#define NAOS_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest request target (path + query) accepted. */
#define HTTP_MAX_TARGET 2048
/* Longest deployment name in a path (spec ids are at most 63 bytes). */
#define HTTP_MAX_NAME 128
/* Most events one /api/v1/events answer carries (and the default). */
#define HTTP_EVENTS_MAX 1000

enum http_route_kind {
    HTTP_R_NONE = 0,   /* not routed: see status */
    HTTP_R_ROOT,       /* "/": redirect to the page */
    HTTP_R_PAGE,
    HTTP_R_STATUS,
    HTTP_R_DEPLOYMENT,
    HTTP_R_COMMAND,    /* POST .../NAME/restart|stop|start */
    HTTP_R_EVENTS,
    HTTP_R_NODES,
    HTTP_R_METRICS,
    HTTP_R__COUNT,
};

enum http_command {
    HTTP_CMD_NONE = 0,
    HTTP_CMD_RESTART,
    HTTP_CMD_STOP,
    HTTP_CMD_START,
};

/* struct http_route: what a request asks for. Plain data (copied into the
 * job handed to the reactor). */
struct http_route {
    enum http_route_kind kind;
    enum http_command cmd;
    bool head;                  /* HEAD: the server drops the body */
    char name[HTTP_MAX_NAME];   /* deployment name, percent-decoded */
    uint64_t since;             /* events cursor (0 = from the oldest) */
    uint32_t max;               /* events per answer, 1..HTTP_EVENTS_MAX */
    /* When kind is HTTP_R_NONE: the HTTP status to answer (400, 404, 405,
     * 414), the Allow value for 405 (static string) and a message for the
     * JSON error body. */
    int status;
    const char *allow;
    char error[192];
};

/* http_route_parse classifies method and target (both borrowed, NUL
 * terminated; target as sent: "/api/v1/events?since=3") into *rt. Always
 * fills *rt; returns true when routed (rt->kind != HTTP_R_NONE), false
 * with rt->status, rt->allow and rt->error set otherwise. */
bool http_route_parse(const char *method, const char *target,
                      struct http_route *rt);

/* http_route_name: a short stable name for metrics labels ("page",
 * "status", ..., "other" for HTTP_R_NONE). Static string. */
const char *http_route_name(enum http_route_kind kind);

/* http_route_is_mutating: does the route change node state (and so need
 * the bearer token)? */
bool http_route_is_mutating(const struct http_route *rt);

/* http_parse_u64 parses a whole string of 1..20 decimal digits that fits
 * in 64 bits (no sign, no spaces). Returns true and sets *out, or false. */
bool http_parse_u64(const char *s, uint64_t *out);

/* http_auth_check: may a request carrying the Authorization header value
 * authz (borrowed, may be NULL) run a mutating route on a node whose
 * configured token is token (borrowed; NULL or "" = none configured)?
 * Returns 0 (yes), 401 (missing, malformed or wrong "Bearer TOKEN") or 403
 * (no token configured: mutating endpoints are off). The comparison takes
 * the same time wherever the first difference is. */
int http_auth_check(const char *token, const char *authz);

/* http_addr_to_url turns an `--http` value into an NNG URL:
 * "HOST:PORT" or "[V6ADDR]:PORT" (PORT 0..65535, 0 = any free port) ->
 * "http://HOST:PORT". An "http://" prefix is accepted. Writes into url
 * (caller buffer + length) and sets *loopback when HOST is 127.x.y.z,
 * ::1 or localhost. Returns NAOS_OK, or NAOS_EINVAL with a reason in
 * errbuf (caller buffer + length). */
int http_addr_to_url(const char *addr, char *url, size_t len, bool *loopback,
                     char *errbuf, size_t errlen);

#endif
