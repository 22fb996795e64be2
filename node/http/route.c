/* SPDX-License-Identifier: Apache-2.0 */
/* route.c: see route.h. Everything here is a function of its arguments.
 * Paths are matched on the raw target, segment by segment, and only the
 * deployment name is percent-decoded (RFC 3986 §2.1), so "%2F" can never
 * make a name look like two segments. */
#include "node/http/route.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "node/base/err.h"
#include "node/base/utf8.h"

static const char allow_get[] = "GET, HEAD";
static const char allow_post[] = "POST";

static bool
route_fail(struct http_route *rt, int status, const char *allow,
           const char *msg)
{
    rt->kind = HTTP_R_NONE;
    rt->status = status;
    rt->allow = allow;
    snprintf(rt->error, sizeof rt->error, "%s", msg);
    return false;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes the n bytes at s into out (caller buffer + length). plus_space
 * for query components. Returns false on a bad escape, a NUL, or when it
 * does not fit. */
static bool
pct_decode(const char *s, size_t n, char *out, size_t outlen, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            int a = hexval(s[i + 1]), b = hexval(s[i + 2]);
            if (a < 0 || b < 0)
                return false;
            c = (char)(a * 16 + b);
            if (c == '\0')
                return false;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (o + 1 >= outlen)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

bool
http_parse_u64(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    if (n == 0 || n > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* struct query_param: one key=value of a query string, the value still
 * percent-encoded; key "" when it does not decode (or is too long). */
struct query_param {
    char key[32];
    const char *val;
    size_t vlen;
};

/* next_param reads the parameter at *at of q (n bytes) into p and moves
 * *at past it; false at the end. */
static bool
next_param(const char *q, size_t n, size_t *at, struct query_param *p)
{
    size_t i = *at;
    if (i >= n)
        return false;
    size_t j = i;
    while (j < n && q[j] != '&')
        j++;
    const char *eq = memchr(q + i, '=', j - i);
    size_t klen = eq ? (size_t)(eq - (q + i)) : j - i;
    if (!pct_decode(q + i, klen, p->key, sizeof p->key, true))
        p->key[0] = '\0';
    p->val = eq ? eq + 1 : q + j;
    p->vlen = eq ? (size_t)(q + j - p->val) : 0;
    *at = j + 1;
    return true;
}

/* Parses the events query (after '?', n bytes) into rt. Other parameters
 * are ignored, as HTTP APIs usually do. */
static bool
parse_events_query(const char *q, size_t n, struct http_route *rt)
{
    struct query_param p;
    char val[64];
    for (size_t at = 0; next_param(q, n, &at, &p);) {
        if (strcmp(p.key, "since") == 0) {
            if (!pct_decode(p.val, p.vlen, val, sizeof val, true) ||
                !http_parse_u64(val, &rt->since))
                return route_fail(rt, 400, NULL,
                                  "bad cursor: since must be the `next` "
                                  "value of an earlier answer (a decimal "
                                  "number), or 0 for everything kept");
        } else if (strcmp(p.key, "max") == 0) {
            uint64_t m = 0;
            if (!pct_decode(p.val, p.vlen, val, sizeof val, true) ||
                !http_parse_u64(val, &m) || m == 0 || m > HTTP_EVENTS_MAX) {
                char msg[96];
                snprintf(msg, sizeof msg, "bad max: expected 1..%d",
                         HTTP_EVENTS_MAX);
                return route_fail(rt, 400, NULL, msg);
            }
            rt->max = (uint32_t)m;
        }
    }
    return true;
}

/* Parses the status query: scope=cluster (every deployment of the
 * cluster, `naos status`) or scope=local (this node's, the default). */
static bool
parse_status_query(const char *q, size_t n, struct http_route *rt)
{
    struct query_param p;
    char val[32];
    for (size_t at = 0; next_param(q, n, &at, &p);) {
        if (strcmp(p.key, "scope") != 0)
            continue;
        if (!pct_decode(p.val, p.vlen, val, sizeof val, true) ||
            (strcmp(val, "cluster") != 0 && strcmp(val, "local") != 0))
            return route_fail(rt, 400, NULL, "bad scope: cluster (every "
                              "deployment of the cluster) or local (this "
                              "node's)");
        rt->cluster = strcmp(val, "cluster") == 0;
    }
    return true;
}

static bool
utf8_valid(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = naos_utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

void
http_escape(const char *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (outlen == 0)
        return;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '%' && c != '"' &&
                     c != '\\';
        size_t need = plain ? 1 : 3;
        if (o + need >= outlen)
            break;
        if (plain) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

/* Does the path p (n bytes) equal s exactly? */
static bool
path_is(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

bool
http_route_parse(const char *method, const char *target,
                 struct http_route *rt)
{
    memset(rt, 0, sizeof *rt);
    rt->max = HTTP_EVENTS_MAX;
    if (method == NULL || target == NULL)
        return route_fail(rt, 400, NULL, "malformed request");
    size_t tlen = strlen(target);
    if (tlen > HTTP_MAX_TARGET) {
        char msg[96];
        snprintf(msg, sizeof msg, "request target of %zu bytes exceeds the "
                 "limit of %d bytes", tlen, HTTP_MAX_TARGET);
        return route_fail(rt, 414, NULL, msg);
    }
    if (target[0] != '/')
        return route_fail(rt, 400, NULL, "request target must be a path "
                          "starting with /");
    const char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t)(qm - target) : tlen;
    const char *query = qm ? qm + 1 : "";
    size_t qlen = qm ? tlen - plen - 1 : 0;
    /* a fragment is never sent by browsers; refuse it rather than guess */
    if (memchr(target, '#', tlen))
        return route_fail(rt, 400, NULL, "request target carries a fragment");

    bool get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    bool post = strcmp(method, "POST") == 0;
    rt->head = head;
    enum http_route_kind k = HTTP_R_NONE;
    const char *p = target;

    static const char dep_prefix[] = "/api/v1/deployments/";
    const size_t dplen = sizeof dep_prefix - 1;
    if (path_is(p, plen, "/"))
        k = HTTP_R_ROOT;
    else if (path_is(p, plen, "/supervisors"))
        k = HTTP_R_PAGE;
    else if (path_is(p, plen, "/api/v1/status"))
        k = HTTP_R_STATUS;
    else if (path_is(p, plen, "/api/v1/events"))
        k = HTTP_R_EVENTS;
    else if (path_is(p, plen, "/api/v1/nodes"))
        k = HTTP_R_NODES;
    else if (path_is(p, plen, "/metrics"))
        k = HTTP_R_METRICS;
    else if (plen > dplen && memcmp(p, dep_prefix, dplen) == 0) {
        const char *seg = p + dplen, *end = p + plen;
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        size_t nlen = slash ? (size_t)(slash - seg) : (size_t)(end - seg);
        if (nlen == 0)
            return route_fail(rt, 404, NULL, "no such endpoint: give a "
                              "deployment name after /api/v1/deployments/");
        if (!pct_decode(seg, nlen, rt->name, sizeof rt->name, false))
            return route_fail(rt, 400, NULL, "malformed deployment name in "
                              "the path (bad %-escape, or too long)");
        if (!utf8_valid(rt->name)) {
            /* no deployment can carry it (spec names are checked), and
             * it must not reach a JSON encoder, which refuses it */
            char esc[3 * HTTP_MAX_NAME], msg[sizeof rt->error];
            http_escape(rt->name, strlen(rt->name), esc, sizeof esc);
            snprintf(msg, sizeof msg, "no deployment named \"%.100s\" (the "
                     "name is not valid UTF-8)", esc);
            rt->name[0] = '\0';
            return route_fail(rt, 404, NULL, msg);
        }
        if (slash == NULL) {
            k = HTTP_R_DEPLOYMENT;
        } else {
            const char *verb = slash + 1;
            size_t vlen = (size_t)(end - verb);
            if (path_is(verb, vlen, "restart"))
                rt->cmd = HTTP_CMD_RESTART;
            else if (path_is(verb, vlen, "stop"))
                rt->cmd = HTTP_CMD_STOP;
            else if (path_is(verb, vlen, "start"))
                rt->cmd = HTTP_CMD_START;
            else
                return route_fail(rt, 404, NULL, "no such endpoint: "
                                  "deployments/NAME/ takes restart, stop or "
                                  "start");
            k = HTTP_R_COMMAND;
        }
    } else {
        char msg[160];
        snprintf(msg, sizeof msg, "no such endpoint; try /supervisors, "
                 "/api/v1/status or /metrics");
        return route_fail(rt, 404, NULL, msg);
    }

    if (k == HTTP_R_COMMAND) {
        if (!post)
            return route_fail(rt, 405, allow_post, "method not allowed: use "
                              "POST");
    } else if (!get && !head) {
        return route_fail(rt, 405, allow_get, "method not allowed: use GET");
    }
    if (k == HTTP_R_EVENTS && !parse_events_query(query, qlen, rt))
        return false;
    if (k == HTTP_R_STATUS && !parse_status_query(query, qlen, rt))
        return false;
    rt->kind = k;
    return true;
}

const char *
http_route_name(enum http_route_kind kind)
{
    switch (kind) {
    case HTTP_R_ROOT:
        return "root";
    case HTTP_R_PAGE:
        return "page";
    case HTTP_R_STATUS:
        return "status";
    case HTTP_R_DEPLOYMENT:
        return "deployment";
    case HTTP_R_COMMAND:
        return "command";
    case HTTP_R_EVENTS:
        return "events";
    case HTTP_R_NODES:
        return "nodes";
    case HTTP_R_METRICS:
        return "metrics";
    default:
        return "other";
    }
}

bool
http_route_is_mutating(const struct http_route *rt)
{
    return rt->kind == HTTP_R_COMMAND;
}

int
http_auth_check(const char *token, const char *authz)
{
    if (token == NULL || token[0] == '\0')
        return 403;
    if (authz == NULL)
        return 401;
    /* RFC 6750 §2.1: "Bearer" is case-insensitive, then one or more
     * spaces, then the token. */
    if (strncasecmp(authz, "Bearer ", 7) != 0)
        return 401;
    const char *given = authz + 7;
    while (*given == ' ')
        given++;
    size_t glen = strlen(given), tlen = strlen(token);
    /* Constant time in the position of the first difference: always walk
     * the whole configured token. */
    unsigned char diff = (unsigned char)(glen != tlen);
    for (size_t i = 0; i < tlen; i++) {
        unsigned char g = i < glen ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)token[i]);
    }
    return diff == 0 ? 0 : 401;
}

int
http_addr_to_url(const char *addr, char *url, size_t len, bool *loopback,
                 char *errbuf, size_t errlen)
{
    if (addr == NULL || addr[0] == '\0') {
        snprintf(errbuf, errlen, "empty address: expected HOST:PORT, e.g. "
                 "127.0.0.1:4200, or off");
        return NAOS_EINVAL;
    }
    if (strncmp(addr, "http://", 7) == 0)
        addr += 7;
    char host[256];
    const char *port;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');
        if (close == NULL || close[1] != ':' ||
            (size_t)(close - addr) + 2 > sizeof host) {
            snprintf(errbuf, errlen, "bad address \"%s\": expected "
                     "[IPV6]:PORT", addr);
            return NAOS_EINVAL;
        }
        memcpy(host, addr, (size_t)(close - addr) + 1);
        host[close - addr + 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || colon == addr ||
            (size_t)(colon - addr) >= sizeof host ||
            memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
            snprintf(errbuf, errlen, "bad address \"%s\": expected HOST:PORT "
                     "(e.g. 127.0.0.1:4200; port 0 picks a free port)", addr);
            return NAOS_EINVAL;
        }
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        port = colon + 1;
    }
    for (const char *c = host; *c; c++) {
        if (*c == '/' || *c == '?' || *c == '#' || *c == '@' || *c == ' ') {
            snprintf(errbuf, errlen, "bad host in address \"%s\"", addr);
            return NAOS_EINVAL;
        }
    }
    uint64_t pn = 0;
    if (!http_parse_u64(port, &pn) || pn > 65535) {
        snprintf(errbuf, errlen, "bad port in address \"%s\": expected "
                 "0..65535", addr);
        return NAOS_EINVAL;
    }
    if (snprintf(url, len, "http://%s:%u", host, (unsigned)pn) >= (int)len) {
        snprintf(errbuf, errlen, "address \"%s\" is too long", addr);
        return NAOS_EINVAL;
    }
    *loopback = strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
                strcmp(host, "localhost") == 0;
    return NAOS_OK;
}

/* ---- the Host check ------------------------------------------------------ */

/* Splits a Host value into its host part (lower case, brackets kept for
 * IPv6, one trailing dot dropped) in out (caller buffer + length).
 * Returns false when malformed: empty, bad port, or a character no host
 * name or address has. */
static bool
host_part(const char *v, char *out, size_t outlen)
{
    size_t n = strlen(v), hlen;
    const char *port = NULL;
    if (n == 0)
        return false;
    if (v[0] == '[') {
        const char *close = strchr(v, ']');
        if (close == NULL)
            return false;
        hlen = (size_t)(close - v) + 1;
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            return false;
    } else {
        const char *colon = strchr(v, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return false; /* an IPv6 address needs its brackets */
        hlen = colon ? (size_t)(colon - v) : n;
        if (colon)
            port = colon + 1;
    }
    if (port != NULL) {
        uint64_t pn;
        if (!http_parse_u64(port, &pn) || pn > 65535)
            return false;
    }
    if (hlen > 0 && v[hlen - 1] == '.')
        hlen--;
    if (hlen == 0 || hlen >= outlen)
        return false;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)v[i];
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == ':' ||
              c == '[' || c == ']'))
            return false;
        out[i] = (char)tolower(c);
    }
    out[hlen] = '\0';
    return true;
}

/* Is h (from host_part) an IP address? *loopback tells whether it is one
 * of this host's loopback addresses. */
static bool
host_is_ip(const char *h, bool *loopback)
{
    unsigned char a[16];
    char v6[64];
    *loopback = false;
    if (inet_pton(AF_INET, h, a) == 1) {
        *loopback = a[0] == 127;
        return true;
    }
    size_t n = strlen(h);
    if (n < 3 || h[0] != '[' || h[n - 1] != ']' || n - 2 >= sizeof v6)
        return false;
    memcpy(v6, h + 1, n - 2);
    v6[n - 2] = '\0';
    if (inet_pton(AF_INET6, v6, a) != 1)
        return false;
    static const unsigned char one[16] = {[15] = 1};
    *loopback = memcmp(a, one, 16) == 0;
    return true;
}

void
http_hosts_set_bound(struct http_hosts *a, const char *url)
{
    const char *v = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    a->bound[0] = '\0';
    a->bound_wild = false;
    if (!host_part(v, a->bound, sizeof a->bound))
        return;
    a->bound_wild = strcmp(a->bound, "0.0.0.0") == 0 ||
                    strcmp(a->bound, "[::]") == 0;
}

bool
http_host_allowed(const struct http_hosts *a, const char *host)
{
    char h[HTTP_MAX_HOSTNAME + 3];
    bool loopback;
    if (host == NULL || !host_part(host, h, sizeof h))
        return false;
    if (strcmp(h, "localhost") == 0)
        return true;
    bool ip = host_is_ip(h, &loopback);
    if (loopback || (ip && a->bound_wild) ||
        (a->bound[0] && strcmp(h, a->bound) == 0))
        return true;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(h, a->names[i]) == 0)
            return true;
    return false;
}

/* ---- limits --------------------------------------------------------------- */

/* "64M", "1G", "1048576": bytes. */
static bool
parse_size(const char *s, uint64_t *out)
{
    char num[32];
    size_t n = strlen(s);
    uint64_t mult = 1;
    if (n == 0 || n >= sizeof num)
        return false;
    switch (s[n - 1]) {
    case 'K': case 'k': mult = 1ull << 10; n--; break;
    case 'M': case 'm': mult = 1ull << 20; n--; break;
    case 'G': case 'g': mult = 1ull << 30; n--; break;
    default: break;
    }
    memcpy(num, s, n);
    num[n] = '\0';
    uint64_t v;
    if (!http_parse_u64(num, &v) || v > UINT64_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

int
http_limits_set(struct http_limits *l, const char *opt, const char *val,
                char *errbuf, size_t errlen)
{
    if (strcmp(opt, "allow-host") == 0) {
        char h[HTTP_MAX_HOSTNAME + 3];
        bool lo;
        if (strlen(val) > HTTP_MAX_HOSTNAME || strchr(val, ':') ||
            !host_part(val, h, sizeof h) || host_is_ip(h, &lo)) {
            snprintf(errbuf, errlen, "expected a host name (letters, "
                     "digits, '.', '-'; at most %d bytes; no port: any port "
                     "is accepted), got \"%.64s\"", HTTP_MAX_HOSTNAME, val);
            return NAOS_EINVAL;
        }
        if (l->hosts.n == HTTP_MAX_ALLOW_HOSTS) {
            snprintf(errbuf, errlen, "at most %d names", HTTP_MAX_ALLOW_HOSTS);
            return NAOS_EINVAL;
        }
        /* fits: strlen(val) <= HTTP_MAX_HOSTNAME was checked above */
        memcpy(l->hosts.names[l->hosts.n++], h, strlen(h) + 1);
        return NAOS_OK;
    }
    if (strcmp(opt, "max-conns") == 0) {
        uint64_t v;
        if (!http_parse_u64(val, &v) || v < 1 || v > HTTP_MAX_CONNS_LIMIT) {
            snprintf(errbuf, errlen, "expected 1..%d connections, got "
                     "\"%.64s\"", HTTP_MAX_CONNS_LIMIT, val);
            return NAOS_EINVAL;
        }
        l->max_conns = (uint32_t)v;
        return NAOS_OK;
    }
    if (strcmp(opt, "header-timeout") == 0 ||
        strcmp(opt, "idle-timeout") == 0) {
        naos_duration d;
        if (!naos_duration_parse(val, &d) || d < HTTP_TIMEOUT_MIN ||
            d > HTTP_TIMEOUT_MAX) {
            snprintf(errbuf, errlen, "expected a duration from 100ms to 1h "
                     "(e.g. 10s), got \"%.64s\"", val);
            return NAOS_EINVAL;
        }
        if (opt[0] == 'h')
            l->header_timeout = d;
        else
            l->idle_timeout = d;
        return NAOS_OK;
    }
    if (strcmp(opt, "reply-budget") == 0) {
        uint64_t v;
        if (!parse_size(val, &v) || v < HTTP_REPLY_BUDGET_MIN ||
            v > HTTP_REPLY_BUDGET_MAX) {
            snprintf(errbuf, errlen, "expected a size from 1M to 16G (e.g. "
                     "64M), got \"%.64s\"", val);
            return NAOS_EINVAL;
        }
        l->reply_budget = v;
        return NAOS_OK;
    }
    snprintf(errbuf, errlen, "unknown HTTP option \"%.64s\"", opt);
    return NAOS_EINVAL;
}
