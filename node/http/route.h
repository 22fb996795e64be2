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
 * is 414; a malformed escape, cursor or max is 400; a deployment name that
 * is not valid UTF-8 is 404 (no deployment can have it), its bytes escaped
 * in the message.
 *
 * Also here: the Host check against DNS rebinding (http_host_allowed) and
 * the parsing of the endpoint's `--http-*` limits (http_limits_set). */
#ifndef NAOS_HTTP_ROUTE_H
#define NAOS_HTTP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"

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
    bool cluster;               /* status: ?scope=cluster (else local) */
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

/* http_escape writes the n bytes at s into out (caller buffer + length,
 * always NUL terminated, truncated to fit) with every byte that is not
 * printable ASCII, and '%', '"' and '\\', as %XX: safe in a JSON string
 * and in a log line whatever s holds. */
void http_escape(const char *s, size_t n, char *out, size_t outlen);

/* ---- the Host check (DNS rebinding) ----------------------------------- */

/* Names given with --http-allow-host, at most this many, each at most
 * HTTP_MAX_HOSTNAME bytes. */
#define HTTP_MAX_ALLOW_HOSTS 16
#define HTTP_MAX_HOSTNAME 253

/* struct http_hosts: the names and addresses the endpoint is reached by.
 * Plain data. */
struct http_hosts {
    char bound[HTTP_MAX_HOSTNAME + 3]; /* the --http host ("127.0.0.1",
                                          "[::1]", "myhost"), lower case */
    bool bound_wild;                   /* bound to 0.0.0.0 or [::] */
    size_t n;
    char names[HTTP_MAX_ALLOW_HOSTS][HTTP_MAX_HOSTNAME + 1];
};

/* http_hosts_set_bound records the host part of url ("http://HOST:PORT",
 * from http_addr_to_url) as the bound address. */
void http_hosts_set_bound(struct http_hosts *a, const char *url);

/* http_host_allowed: may a request carrying the Host header value host
 * (borrowed; "NAME", "NAME:PORT", "[V6]:PORT") be answered? Yes for
 * "localhost", a loopback address (127.0.0.0/8, [::1]), the bound host,
 * any IP address when bound to a wildcard address (an address cannot be
 * rebound to another site: rebinding needs a name), and the names in a;
 * names compare case-insensitively, a trailing dot and the port are
 * ignored. No for anything else, a malformed value, or NULL. The page a
 * rebound name serves can then never read the API. */
bool http_host_allowed(const struct http_hosts *a, const char *host);

/* ---- limits -------------------------------------------------------------- */

/* Defaults and bounds of the endpoint's limits (--http-* options). */
#define HTTP_MAX_CONNS_DEFAULT 32
#define HTTP_MAX_CONNS_LIMIT 4096
#define HTTP_HEADER_TIMEOUT_DEFAULT 10000 /* ms */
#define HTTP_IDLE_TIMEOUT_DEFAULT 60000   /* ms */
#define HTTP_TIMEOUT_MIN 100              /* ms */
#define HTTP_TIMEOUT_MAX 3600000          /* ms: an hour */
#define HTTP_REPLY_BUDGET_DEFAULT (64ull << 20)
#define HTTP_REPLY_BUDGET_MIN (1ull << 20)
#define HTTP_REPLY_BUDGET_MAX (16ull << 30)

/* struct http_limits: what the endpoint bounds (see http.h for how each is
 * enforced). Plain data; HTTP_LIMITS_DEFAULT gives the defaults. */
struct http_limits {
    uint32_t max_conns;           /* open client connections */
    naos_duration header_timeout; /* ms from a request's first byte (or the
                                     connection's accept) to its whole head */
    naos_duration idle_timeout;   /* ms a kept-alive connection may wait for
                                     its next request */
    uint64_t reply_budget;        /* bytes of reply bodies held in total */
    struct http_hosts hosts;      /* names given with --http-allow-host */
};

#define HTTP_LIMITS_DEFAULT                                                   \
    {.max_conns = HTTP_MAX_CONNS_DEFAULT,                                     \
     .header_timeout = HTTP_HEADER_TIMEOUT_DEFAULT,                           \
     .idle_timeout = HTTP_IDLE_TIMEOUT_DEFAULT,                               \
     .reply_budget = HTTP_REPLY_BUDGET_DEFAULT}

/* http_limits_set applies one `--http-OPT VALUE` option to *l: opt is
 * "allow-host" (repeatable), "max-conns" (1..HTTP_MAX_CONNS_LIMIT),
 * "header-timeout" or "idle-timeout" (a duration, 100ms..1h) or
 * "reply-budget" (a size with an optional K/M/G suffix, 1M..16G). Both
 * borrowed. Returns NAOS_OK, or NAOS_EINVAL with the reason in errbuf
 * (caller buffer + length) and *l unchanged. */
int http_limits_set(struct http_limits *l, const char *opt, const char *val,
                    char *errbuf, size_t errlen);

#endif
