/* SPDX-License-Identifier: Apache-2.0 */
/* http.c: see http.h.
 *
 * Lifetimes. What NNG's threads touch (the inbox, the token, the
 * counters, the render queue) lives in struct http_shared, which is the
 * handler's data with a destructor: NNG holds a reference on the handler
 * for every callback in flight and drops the last one only after the
 * server is released and every callback has returned, so a callback can
 * never see it freed, however http_close races with a request. struct
 * http itself (in the node) is only touched by the reactor.
 *
 * One catch-all handler ("/", tree, any method) does the routing, so
 * unknown paths and wrong methods get our JSON errors instead of NNG's
 * HTML pages. */
#include "node/http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/reactor/inbox.h"

const int http_code_slot_status[HTTP_CODE_SLOTS] = {
    0, 200, 302, 400, 401, 403, 404, 405, 409, 413, 414, 500, 503, 410,
};

/* One request, from the handler to whoever completes it. */
struct http_job {
    struct reactor_inbox_item link; /* first: the inbox hands back items */
    struct http_shared *sh;
    nng_aio *aio;
    struct http_route rt;
    struct http_response res;
    bool close;                  /* answer with Connection: close */
    struct http_job *rnext;      /* render queue */
};

struct http_shared {
    struct reactor_inbox inbox;
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
        json_dump_callback(doc, grow_put, &g, JSON_COMPACT) != 0 || g.failed) {
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

/* Completes job's request with its response and frees the job. Any
 * thread; after nng_aio_finish the aio belongs to NNG again. */
static void
complete(struct http_job *job)
{
    struct http_shared *sh = job->sh;
    struct http_response *res = &job->res;
    int status = res->status ? res->status : 200;
    const char *ctype = res->content_type ? res->content_type
                                          : "application/json";
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
    if (rv == 0 && status == 414) /* NNG 1.5 says "Request Entity Too Long" */
        rv = nng_http_res_set_reason(r, "URI Too Long");
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
    if (rv == 0) {
        if (res->static_body)
            rv = nng_http_res_set_data(r, res->static_body, res->len);
        else
            rv = nng_http_res_copy_data(r, res->body ? res->body : "",
                                        res->len);
    }
    nng_aio *aio = job->aio;
    atomic_fetch_add(&sh->counts[job->rt.kind][code_slot(rv ? 500 : status)],
                     1);
    http_response_fini(res);
    naos_free(job);
    if (rv != 0) {
        /* NNG closes the connection: the best we can do without memory */
        if (r)
            nng_http_res_free(r);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, r);
    nng_aio_finish(aio, 0);
}

/* ---- NNG's threads -------------------------------------------------------- */

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

static void
handler_cb(nng_aio *aio)
{
    nng_http_req *req = nng_aio_get_input(aio, 0);
    nng_http_handler *hd = nng_aio_get_input(aio, 1);
    struct http_shared *sh = nng_http_handler_get_data(hd);
    struct http_job *job = naos_alloc(sizeof *job);
    if (job == NULL) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    job->sh = sh;
    job->aio = aio;
    const char *method = nng_http_req_get_method(req);
    const char *uri = nng_http_req_get_uri(req);
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
        if (job->res.render && h->render_started)
            render_push(h->sh, job);
        else {
            if (job->res.render)
                job->res.render(job->res.render_arg, &job->res);
            complete(job);
        }
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

static void
set_error_pages(nng_http_server *s)
{
    /* Errors NNG's server answers itself, before any handler runs. It
     * sends them as text/html; the body is still our JSON shape. */
    static const struct {
        uint16_t code;
        const char *body;
    } pages[] = {
        {400, "{\"error\": \"malformed HTTP request\", \"status\": 400}\n"},
        {404, "{\"error\": \"no such endpoint\", \"status\": 404}\n"},
        {405, "{\"error\": \"method not allowed\", \"status\": 405}\n"},
        {413, "{\"error\": \"request too large\", \"status\": 413}\n"},
        {431, "{\"error\": \"request header fields too large\", "
              "\"status\": 431}\n"},
        {500, "{\"error\": \"internal error\", \"status\": 500}\n"},
        {505, "{\"error\": \"only HTTP/1.x is supported\", "
              "\"status\": 505}\n"},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        nng_http_server_set_error_page(s, pages[i].code, pages[i].body);
}

int
http_open(struct http *h, struct reactor *r, const struct http_config *cfg,
          http_answer_fn answer, void *arg, char *errbuf, size_t errlen)
{
    *h = (struct http){.answer = answer, .arg = arg};
    int rc = NAOS_ENOMEM, rv = 0;
    nng_url *url = NULL;
    nng_http_handler *hd = NULL;
    struct http_shared *sh = naos_alloc(sizeof *sh);
    if (sh == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    sh->inbox = (struct reactor_inbox)REACTOR_INBOX_ZERO;
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
    if ((rv = nng_url_parse(&url, cfg->url)) != 0) {
        snprintf(errbuf, errlen, "bad HTTP address %s: %s", cfg->url,
                 nng_strerror(rv));
        rc = NAOS_EINVAL;
        goto err_after_shared;
    }
    if ((rv = nng_http_server_hold(&h->server, url)) != 0)
        goto err_nng_after_url;
    if ((rv = nng_http_handler_alloc(&hd, "/", handler_cb)) != 0)
        goto err_nng_after_server;
    if ((rv = nng_http_handler_set_method(hd, NULL)) != 0 ||
        (rv = nng_http_handler_set_tree(hd)) != 0 ||
        (rv = nng_http_handler_collect_body(hd, false, 0)) != 0 ||
        (rv = nng_http_handler_set_data(hd, sh, shared_free)) != 0) {
        nng_http_handler_free(hd);
        goto err_nng_after_server;
    }
    /* From here sh belongs to the handler: its destructor frees it. */
    h->sh = sh;
    if ((rv = nng_http_server_add_handler(h->server, hd)) != 0) {
        nng_http_handler_free(hd); /* runs shared_free */
        h->sh = sh = NULL;
        goto err_nng_after_server;
    }
    set_error_pages(h->server);
    if ((rv = nng_http_server_start(h->server)) != 0)
        goto err_nng_after_server;
    nng_sockaddr sa;
    int port = -1;
    if (nng_http_server_get_addr(h->server, &sa) == 0) {
        if (sa.s_family == NNG_AF_INET)
            port = ntohs(sa.s_in.sa_port);
        else if (sa.s_family == NNG_AF_INET6)
            port = ntohs(sa.s_in6.sa_port);
    }
    if (port < 0)
        port = atoi(url->u_port);
    /* NNG keeps an IPv6 host without its brackets */
    if (strchr(url->u_hostname, ':'))
        snprintf(h->url, sizeof h->url, "http://[%s]:%d", url->u_hostname,
                 port);
    else
        snprintf(h->url, sizeof h->url, "http://%s:%d", url->u_hostname, port);
    nng_url_free(url);
    url = NULL;
    if (pthread_create(&h->render_thread, NULL, render_main, sh) == 0)
        h->render_started = true;
    else
        NAOS_WARN("http", "cannot start the render thread; rendering on "
                  "the reactor");
    if (reactor_add(r, &h->watch, reactor_inbox_fd(&sh->inbox), EPOLLIN,
                    on_inbox, h) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot watch the HTTP inbox");
        rc = NAOS_ESYS;
        h->open = true;
        http_close(h, r);
        return rc;
    }
    h->open = true;
    return NAOS_OK;

err_nng_after_server:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", cfg->url,
             nng_strerror(rv));
    rc = rv == NNG_ENOMEM ? NAOS_ENOMEM : NAOS_ESYS;
    nng_http_server_release(h->server); /* frees the handler and sh */
    h->server = NULL;
    nng_url_free(url);
    if (h->sh == NULL && sh != NULL)
        shared_free(sh); /* never handed to a handler */
    h->sh = NULL;
    return rc;
err_nng_after_url:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", cfg->url,
             nng_strerror(rv));
    rc = NAOS_ESYS;
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
    reactor_del(r, &h->watch);
    fail_all(reactor_inbox_close(&sh->inbox));
    if (h->render_started) {
        pthread_mutex_lock(&sh->rmu);
        sh->rstop = true;
        pthread_cond_signal(&sh->rcv);
        pthread_mutex_unlock(&sh->rmu);
        pthread_join(h->render_thread, NULL);
        h->render_started = false;
    }
    nng_http_server_stop(h->server);
    /* Drops our reference; the handler (and sh) go once NNG is done. */
    nng_http_server_release(h->server);
    h->server = NULL;
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
}
