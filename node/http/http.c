/* SPDX-License-Identifier: Apache-2.0 */
/* http.c: see http.h.
 *
 * Lifetimes. What the other threads touch (the inbox, the token, the
 * counters, the render queue) lives in struct http_shared; http_close
 * stops the front (no request arrives after), answers the queue, stops
 * the render thread, and only then frees the front and the shared part,
 * so no thread can see either freed. struct http itself (in the node) is
 * only touched by the reactor. */
#include "node/http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/reactor/inbox.h"
#include "proto/status_json.h"

const int http_code_slot_status[HTTP_CODE_SLOTS] = {
    0, 200, 302, 400, 401, 403, 404, 405, 409, 413, 414, 500, 503, 410,
    421, 431, 505,
};

/* One request, from the front thread to whoever completes it. */
struct http_job {
    struct reactor_inbox_item link; /* first: the inbox hands back items */
    struct http_shared *sh;
    struct front *front;
    struct front_id id;
    struct http_route rt;
    struct http_response res;
    bool head;                   /* HEAD: the body is not sent */
    bool close;                  /* answer with Connection: close */
    struct http_job *rnext;      /* render queue */
};

struct http_shared {
    struct reactor_inbox inbox;
    struct http_hosts hosts; /* what the Host header may name */
    char *token; /* owned; NULL = none */
    atomic_ulong counts[HTTP_R__COUNT][HTTP_CODE_SLOTS];
    atomic_ulong busy;
    /* render queue: reactor -> render thread */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    struct http_job *rhead, *rtail;
    bool rstop;
    bool rready;
};

static void
shared_free(void *arg)
{
    struct http_shared *sh = arg;
    if (sh == NULL)
        return;
    reactor_inbox_fini(&sh->inbox);
    if (sh->token) {
        explicit_bzero(sh->token, strlen(sh->token));
        naos_free(sh->token);
    }
    if (sh->rready) {
        pthread_mutex_destroy(&sh->rmu);
        pthread_cond_destroy(&sh->rcv);
    }
    naos_free(sh);
}

static int
code_slot(int status)
{
    for (int i = 1; i < HTTP_CODE_SLOTS; i++)
        if (http_code_slot_status[i] == status)
            return i;
    return 0;
}

/* ---- responses ----------------------------------------------------------- */

struct growbuf {
    char *data;
    size_t len, cap;
    bool failed;
};

static int
grow_put(const char *buf, size_t size, void *arg)
{
    struct growbuf *g = arg;
    if (g->failed)
        return -1;
    if (g->len + size + 1 > g->cap) {
        size_t ncap = g->cap ? g->cap : 1024;
        while (ncap < g->len + size + 1)
            ncap *= 2;
        char *d = naos_realloc(g->data, ncap);
        if (d == NULL) {
            g->failed = true;
            return -1;
        }
        g->data = d;
        g->cap = ncap;
    }
    memcpy(g->data + g->len, buf, size);
    g->len += size;
    g->data[g->len] = '\0';
    return 0;
}

static void
response_clear_body(struct http_response *res)
{
    naos_free(res->body);
    res->body = NULL;
    res->static_body = NULL;
    res->len = 0;
}

void
http_response_take(struct http_response *res, int status,
                   const char *content_type, char *text, size_t len)
{
    response_clear_body(res);
    res->status = status;
    res->content_type = content_type;
    res->body = text;
    res->len = len;
}

/* The answer of last resort: a fixed body, no allocation. */
static void
response_oom(struct http_response *res)
{
    static const char oom[] =
        "{\"error\": \"naos-node ran out of memory\", \"status\": 500}";
    response_clear_body(res);
    res->status = 500;
    res->content_type = NULL;
    res->static_body = oom;
    res->len = sizeof oom - 1;
}

int
http_response_json(struct http_response *res, int status, const json_t *doc)
{
    struct growbuf g = {0};
    if (doc == NULL ||
        json_dump_callback(doc, grow_put, &g,
                           JSON_COMPACT | STATUS_JSON_DUMP) != 0 || g.failed) {
        naos_free(g.data);
        response_oom(res);
        return NAOS_ENOMEM;
    }
    grow_put("\n", 1, &g);
    if (g.failed) {
        naos_free(g.data);
        response_oom(res);
        return NAOS_ENOMEM;
    }
    http_response_take(res, status, NULL, g.data, g.len);
    return NAOS_OK;
}

void
http_response_error(struct http_response *res, int status, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *doc = json_pack("{s:s, s:i}", "error", msg, "status", status);
    if (doc == NULL) {
        response_oom(res);
        return;
    }
    http_response_json(res, status, doc);
    json_decref(doc);
}

void
http_response_fini(struct http_response *res)
{
    response_clear_body(res);
    if (res->render_free)
        res->render_free(res->render_arg);
    res->render = NULL;
    res->render_free = NULL;
    res->render_arg = NULL;
}

/* The reason phrases NNG 1.5 does not know (or gets wrong). */
static const char *
reason_of(int status)
{
    switch (status) {
    case 414:
        return "URI Too Long"; /* NNG says "Request Entity Too Long" */
    case 421:
        return "Misdirected Request";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return NULL;
    }
}

/* Completes job's request with its response and frees the job. Any
 * thread. The body goes to the front without a copy, and counts against
 * the reply budget until it is written out; one that does not fit is
 * replaced by 503. */
static void
complete(struct http_job *job)
{
    struct http_shared *sh = job->sh;
    struct http_response *res = &job->res;
    if (res->body != NULL && !job->head &&
        !front_budget_take(job->front, res->len)) {
        size_t len = res->len;
        http_response_error(res, 503, "naos-node is busy: replies of "
                            "%zu bytes wait to be read by slow clients "
                            "(--http-reply-budget); retry shortly", len);
        /* small replies always fit; a failure here leaves a static body */
        if (res->body != NULL && !front_budget_take(job->front, res->len))
            response_oom(res);
    }
    size_t counted = res->body != NULL && !job->head ? res->len : 0;
    int status = res->status ? res->status : 200;
    const char *ctype = res->content_type ? res->content_type
                                          : "application/json";
    const char *reason = reason_of(status);
    nng_http_res *r = NULL;
    int rv = nng_http_res_alloc(&r);
    if (rv == 0)
        rv = nng_http_res_set_status(r, (uint16_t)status);
    if (rv == 0)
        rv = nng_http_res_set_header(r, "Content-Type", ctype);
    if (rv == 0)
        rv = nng_http_res_set_header(r, "Cache-Control", "no-store");
    if (rv == 0)
        rv = nng_http_res_set_header(r, "X-Content-Type-Options", "nosniff");
    if (rv == 0 && reason)
        rv = nng_http_res_set_reason(r, reason);
    if (rv == 0 && res->allow)
        rv = nng_http_res_set_header(r, "Allow", res->allow);
    if (rv == 0 && res->location)
        rv = nng_http_res_set_header(r, "Location", res->location);
    if (rv == 0 && status == 401)
        rv = nng_http_res_set_header(r, "WWW-Authenticate",
                                     "Bearer realm=\"naos\"");
    if (rv == 0 && status == 503)
        rv = nng_http_res_set_header(r, "Retry-After", "1");
    if (rv == 0 && job->rt.kind == HTTP_R_PAGE && status == 200) {
        /* The page is self-contained: forbid anything from elsewhere. */
        rv = nng_http_res_set_header(
            r, "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src "
            "'unsafe-inline'; img-src data:; connect-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    }
    if (rv == 0 && job->close)
        rv = nng_http_res_set_header(r, "Connection", "close");
    char *body = NULL;
    if (rv == 0) {
        /* HEAD: the length of the body, without it (data NULL) */
        const void *data = job->head           ? NULL
                           : res->static_body ? res->static_body
                           : res->body        ? (const void *)res->body
                                              : "";
        rv = nng_http_res_set_data(r, data, res->len);
        if (!job->head) {
            body = res->body; /* owned by the front from here */
            res->body = NULL;
        }
    }
    atomic_fetch_add(&sh->counts[job->rt.kind][code_slot(rv ? 500 : status)],
                     1);
    struct front *f = job->front;
    struct front_id id = job->id;
    bool close = job->close;
    http_response_fini(res);
    naos_free(job);
    if (rv != 0) {
        /* no memory for the reply: close the connection, the best we can
         * do without it */
        if (r)
            nng_http_res_free(r);
        naos_free(body);
        front_reply(f, id, NULL, NULL, counted, true);
        return;
    }
    front_reply(f, id, r, body, counted, close);
}

/* ---- the front thread ------------------------------------------------------- */

static bool
body_refused(struct http_job *job, nng_http_req *req)
{
    const char *te = nng_http_req_get_header(req, "Transfer-Encoding");
    const char *cl = nng_http_req_get_header(req, "Content-Length");
    if (te) {
        job->close = true;
        http_response_error(&job->res, 413, "request bodies are not "
                            "accepted (Transfer-Encoding: %.40s)", te);
        return true;
    }
    if (cl == NULL)
        return false;
    uint64_t n = 0;
    if (!http_parse_u64(cl, &n)) {
        job->close = true;
        http_response_error(&job->res, 400, "malformed Content-Length");
        return true;
    }
    if (n > 0)
        job->close = true; /* we do not read it: it must not be taken for
                              the next request */
    if (n > HTTP_MAX_BODY) {
        http_response_error(&job->res, 413, "request body of %llu bytes "
                            "exceeds the limit of %u bytes",
                            (unsigned long long)n, HTTP_MAX_BODY);
        return true;
    }
    return false;
}

/* Does the Connection header ask to close? (A token list: "close" among
 * them, any case.) */
static bool
wants_close(const char *v)
{
    if (v == NULL)
        return false;
    for (const char *p = v; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        if (e - p == 5 && strncasecmp(p, "close", 5) == 0)
            return true;
        p = e;
    }
    return false;
}

/* The checks a request passes before routing: its version, its Host (DNS
 * rebinding). Answers and returns false when it fails one. */
static bool
request_ok(struct http_job *job, nng_http_req *req)
{
    struct http_shared *sh = job->sh;
    const char *ver = nng_http_req_get_version(req);
    if (ver == NULL || strncmp(ver, "HTTP/1.", 7) != 0) {
        job->close = true;
        http_response_error(&job->res, 505, "only HTTP/1.x is supported");
        return false;
    }
    bool v11 = strcmp(ver, "HTTP/1.1") == 0;
    if (!v11 || wants_close(nng_http_req_get_header(req, "Connection")))
        job->close = true; /* HTTP/1.0 connections are not kept */
    const char *host = nng_http_req_get_header(req, "Host");
    if (host == NULL) {
        if (!v11)
            return true; /* HTTP/1.0 may omit it; no browser does */
        http_response_error(&job->res, 400, "malformed HTTP request: "
                            "HTTP/1.1 needs a Host header");
        return false;
    }
    if (!http_host_allowed(&sh->hosts, host)) {
        char esc[3 * 64 + 1];
        http_escape(host, strlen(host), esc, sizeof esc);
        http_response_error(&job->res, 421, "this node does not answer to "
                            "the host name \"%s\" (a page whose name was "
                            "rebound to this address must not read the API): "
                            "use localhost, a loopback address or the "
                            "--http address, or start naos-node with "
                            "--http-allow-host NAME", esc);
        return false;
    }
    return true;
}

/* Answers that need the reactor and can be large: refused up front while
 * the reply budget is used up. /metrics is not among them: it is what an
 * operator watches while slow readers hold the budget (an answer over
 * FRONT_SMALL_REPLY that does not fit is still replaced by 503 when it is
 * handed over). */
static bool
needs_budget(enum http_route_kind k)
{
    return k == HTTP_R_STATUS || k == HTTP_R_DEPLOYMENT ||
           k == HTTP_R_EVENTS || k == HTTP_R_NODES;
}

static void
on_request(void *arg, struct front *f, struct front_id id, nng_http_req *req)
{
    struct http_shared *sh = arg;
    struct http_job *job = naos_alloc(sizeof *job);
    if (job == NULL) {
        front_reply(f, id, NULL, NULL, 0, true);
        return;
    }
    memset(job, 0, sizeof *job);
    job->sh = sh;
    job->front = f;
    job->id = id;
    const char *method = nng_http_req_get_method(req);
    const char *uri = nng_http_req_get_uri(req);
    job->head = method != NULL && strcmp(method, "HEAD") == 0;
    if (!request_ok(job, req)) {
        /* a body we do not read must not be taken for the next request */
        const char *cl = nng_http_req_get_header(req, "Content-Length");
        if (nng_http_req_get_header(req, "Transfer-Encoding") ||
            (cl && strcmp(cl, "0") != 0))
            job->close = true;
        complete(job);
        return;
    }
    if (!http_route_parse(method, uri, &job->rt)) {
        /* A body we would refuse wins: it also decides the connection. */
        if (!body_refused(job, req)) {
            http_response_error(&job->res, job->rt.status, "%s",
                                job->rt.error);
            job->res.allow = job->rt.allow;
        }
        complete(job);
        return;
    }
    if (body_refused(job, req)) {
        complete(job);
        return;
    }
    switch (job->rt.kind) {
    case HTTP_R_ROOT: {
        static const char moved[] = "{\"location\": \"/supervisors\"}\n";
        job->res.status = 302;
        job->res.static_body = moved;
        job->res.len = sizeof moved - 1;
        job->res.location = "/supervisors";
        complete(job);
        return;
    }
    case HTTP_R_PAGE:
        job->res.status = 200;
        job->res.content_type = "text/html; charset=utf-8";
        job->res.static_body = http_page_html;
        job->res.len = http_page_html_len;
        complete(job);
        return;
    default:
        break;
    }
    if (http_route_is_mutating(&job->rt)) {
        int st = http_auth_check(sh->token,
                                 nng_http_req_get_header(req, "Authorization"));
        if (st == 403) {
            http_response_error(&job->res, 403,
                                "mutating endpoints are disabled: no API "
                                "token is configured on this node (start "
                                "naos-node with --http-token-file FILE, mode "
                                "0600, or with NAOS_HTTP_TOKEN set)");
            complete(job);
            return;
        }
        if (st != 0) {
            http_response_error(&job->res, 401,
                                "missing or wrong bearer token: send "
                                "`Authorization: Bearer TOKEN` with the "
                                "token configured on the node");
            complete(job);
            return;
        }
    }
    if (needs_budget(job->rt.kind) && !job->head && front_budget_full(f)) {
        atomic_fetch_add(&sh->busy, 1);
        http_response_error(&job->res, 503, "naos-node is busy: earlier "
                            "replies still wait to be read by slow clients "
                            "(--http-reply-budget); retry shortly");
        complete(job);
        return;
    }
    int rc = reactor_inbox_put(&sh->inbox, &job->link);
    if (rc == NAOS_OK)
        return; /* the reactor completes it */
    if (rc == NAOS_EBUSY) {
        atomic_fetch_add(&sh->busy, 1);
        http_response_error(&job->res, 503, "naos-node is busy: %d requests "
                            "are already waiting; retry shortly",
                            (int)sh->inbox.cap);
    } else {
        http_response_error(&job->res, 503, "naos-node is shutting down");
    }
    complete(job);
}

/* ---- the render thread ------------------------------------------------------ */

static void *
render_main(void *arg)
{
    struct http_shared *sh = arg;
    pthread_mutex_lock(&sh->rmu);
    for (;;) {
        while (sh->rhead == NULL && !sh->rstop)
            pthread_cond_wait(&sh->rcv, &sh->rmu);
        struct http_job *job = sh->rhead;
        if (job == NULL)
            break; /* stopped and drained */
        sh->rhead = job->rnext;
        if (sh->rhead == NULL)
            sh->rtail = NULL;
        pthread_mutex_unlock(&sh->rmu);
        job->res.render(job->res.render_arg, &job->res);
        complete(job); /* also frees the render argument */
        pthread_mutex_lock(&sh->rmu);
    }
    pthread_mutex_unlock(&sh->rmu);
    return NULL;
}

static void
render_push(struct http_shared *sh, struct http_job *job)
{
    pthread_mutex_lock(&sh->rmu);
    job->rnext = NULL;
    if (sh->rtail)
        sh->rtail->rnext = job;
    else
        sh->rhead = job;
    sh->rtail = job;
    pthread_cond_signal(&sh->rcv);
    pthread_mutex_unlock(&sh->rmu);
}

/* ---- the reactor thread ------------------------------------------------------ */

/* answered: job's response is filled: rendered off the reactor, or sent. */
static void
answered(struct http *h, struct http_job *job)
{
    if (job->res.render && h->render_started)
        render_push(h->sh, job);
    else {
        if (job->res.render)
            job->res.render(job->res.render_arg, &job->res);
        complete(job);
    }
}

static void
on_inbox(void *arg, uint32_t events)
{
    struct http *h = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&h->sh->inbox,
                                                 HTTP_REACTOR_BATCH);
    while (it) {
        struct http_job *job = (struct http_job *)it;
        it = it->next;
        h->answer(h->arg, &job->rt, &job->res);
        if (job->res.deferred && h->ndeferred < HTTP_DEFERRED_MAX) {
            h->deferred[h->ndeferred++] = job;
            continue;
        }
        if (job->res.deferred) /* the answer function broke the bound */
            http_response_error(&job->res, 503, "naos-node is busy: "
                                "too many requests wait; retry shortly");
        job->res.deferred = false;
        answered(h, job);
    }
}

bool
http_can_defer(const struct http *h)
{
    return h->open && h->ndeferred < HTTP_DEFERRED_MAX;
}

void
http_resume(struct http *h, struct http_response *res)
{
    for (size_t i = 0; i < h->ndeferred; i++) {
        struct http_job *job = h->deferred[i];
        if (&job->res != res)
            continue;
        h->deferred[i] = h->deferred[--h->ndeferred];
        job->res.deferred = false;
        answered(h, job);
        return;
    }
}

static void
fail_all(struct reactor_inbox_item *it)
{
    while (it) {
        struct http_job *job = (struct http_job *)it;
        it = it->next;
        http_response_error(&job->res, 503, "naos-node is shutting down");
        complete(job);
    }
}

int
http_open(struct http *h, struct reactor *r, const struct http_config *cfg,
          http_answer_fn answer, void *arg, char *errbuf, size_t errlen)
{
    *h = (struct http){.answer = answer, .arg = arg};
    int rc = NAOS_ENOMEM, rv = 0;
    nng_url *url = NULL;
    static const struct http_limits defaults = HTTP_LIMITS_DEFAULT;
    const struct http_limits *lim = cfg->limits ? cfg->limits : &defaults;
    struct http_shared *sh = naos_alloc(sizeof *sh);
    if (sh == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(sh, 0, sizeof *sh);
    sh->inbox = (struct reactor_inbox)REACTOR_INBOX_ZERO;
    sh->hosts = lim->hosts;
    http_hosts_set_bound(&sh->hosts, cfg->url);
    if (cfg->token && cfg->token[0] &&
        (sh->token = naos_strdup(cfg->token)) == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        goto err_after_shared;
    }
    if ((rc = reactor_inbox_init(&sh->inbox, cfg->inbox_cap ? cfg->inbox_cap
                                                         : HTTP_INBOX_DEFAULT))
        != NAOS_OK) {
        snprintf(errbuf, errlen, "eventfd: %s", strerror(errno));
        goto err_after_shared;
    }
    pthread_mutex_init(&sh->rmu, NULL);
    pthread_cond_init(&sh->rcv, NULL);
    sh->rready = true;
    uint64_t pn = 0;
    if ((rv = nng_url_parse(&url, cfg->url)) != 0 ||
        strcmp(url->u_scheme, "http") != 0 ||
        !http_parse_u64(url->u_port, &pn) || pn > 65535) {
        snprintf(errbuf, errlen, "bad HTTP address %s: %s", cfg->url,
                 rv ? nng_strerror(rv) : "expected http://HOST:PORT, "
                 "port 0..65535");
        rc = NAOS_EINVAL;
        goto err_after_url;
    }
    h->sh = sh;
    struct front_config fc = {
        .host = url->u_hostname,
        .port = (int)pn,
        .max_conns = lim->max_conns,
        .header_timeout = lim->header_timeout,
        .idle_timeout = lim->idle_timeout,
        .reply_budget = lim->reply_budget,
        .on_request = on_request,
        .arg = sh,
    };
    char err[300];
    if ((rc = front_open(&h->front, &fc, err, sizeof err)) != NAOS_OK) {
        snprintf(errbuf, errlen, "%s", err);
        h->sh = NULL;
        goto err_after_url;
    }
    int port = front_port(h->front);
    /* NNG keeps an IPv6 host without its brackets */
    if (strchr(url->u_hostname, ':'))
        snprintf(h->url, sizeof h->url, "http://[%s]:%d", url->u_hostname,
                 port);
    else
        snprintf(h->url, sizeof h->url, "http://%s:%d", url->u_hostname, port);
    nng_url_free(url);
    url = NULL;
    if (pthread_create(&h->render_thread, NULL, render_main, sh) == 0) {
        h->render_started = true;
        pthread_setname_np(h->render_thread, "http-render");
    } else {
        NAOS_WARN("http", "cannot start the render thread; rendering on "
                  "the reactor");
    }
    h->open = true;
    if (reactor_add(r, &h->watch, reactor_inbox_fd(&sh->inbox), EPOLLIN,
                    on_inbox, h) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot watch the HTTP inbox");
        http_close(h, r);
        return NAOS_ESYS;
    }
    h->watching = true;
    return NAOS_OK;

err_after_url:
    nng_url_free(url);
err_after_shared:
    shared_free(sh);
    return rc;
}

void
http_close(struct http *h, struct reactor *r)
{
    if (!h->open)
        return;
    struct http_shared *sh = h->sh;
    if (h->watching)
        reactor_del(r, &h->watch);
    h->watching = false;
    /* the deferred first, while connections are open */
    for (size_t i = 0; i < h->ndeferred; i++) {
        struct http_job *job = h->deferred[i];
        if (job->res.render_free)
            job->res.render_free(job->res.render_arg);
        job->res.render = NULL;
        job->res.render_free = NULL;
        job->res.deferred = false;
        http_response_error(&job->res, 503, "naos-node is shutting down");
        complete(job);
    }
    h->ndeferred = 0;
    /* no request arrives after this; connections are closed */
    front_stop(h->front);
    fail_all(reactor_inbox_close(&sh->inbox));
    if (h->render_started) {
        pthread_mutex_lock(&sh->rmu);
        sh->rstop = true;
        pthread_cond_signal(&sh->rcv);
        pthread_mutex_unlock(&sh->rmu);
        pthread_join(h->render_thread, NULL);
        h->render_started = false;
    }
    front_free(h->front);
    h->front = NULL;
    shared_free(sh);
    h->sh = NULL;
    h->open = false;
}

const char *
http_url(const struct http *h)
{
    return h->url;
}

void
http_get_stats(const struct http *h, struct http_stats *out)
{
    memset(out, 0, sizeof *out);
    if (h->sh == NULL)
        return;
    for (int k = 0; k < HTTP_R__COUNT; k++)
        for (int c = 0; c < HTTP_CODE_SLOTS; c++)
            out->requests[k][c] = atomic_load(&h->sh->counts[k][c]);
    out->busy = atomic_load(&h->sh->busy);
    out->queued = reactor_inbox_len(&h->sh->inbox);
    front_get_stats(h->front, &out->front);
}
