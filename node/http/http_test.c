/* SPDX-License-Identifier: Apache-2.0 */
/* http_test.c: the NNG adapter end to end in one process: a real server on
 * 127.0.0.1:0, a reactor pumped by the test thread, and a raw-socket
 * client thread, so the exact bytes on the wire are checked (JSON error
 * bodies, Allow, Connection: close, the deferred render step, 503 when the
 * inbox is full, and close with requests in flight). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/http/http.h"

static struct reactor r;
static struct http h;
static int port;
static atomic_int answered;
static atomic_int rendered_on_reactor;
static pthread_t reactor_thread_id;
/* deferral: the answer function keeps /api/v1/deployments/later and the
 * serve loop (the reactor) resumes it once resume_now is set */
static struct http_response *held;
static atomic_int held_seen, resume_now;

struct reply {
    int status;
    char head[4096];
    char body[65536];
};

/* Sends raw (a whole request) on a new connection and reads the answer
 * until the server closes or Content-Length bytes of body arrived. */
static void
fetch(const char *raw, struct reply *out)
{
    memset(out, 0, sizeof *out);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        NT_FAIL("connect to port %d", port);
    size_t n = strlen(raw);
    if (write(fd, raw, n) != (ssize_t)n)
        NT_FAIL("short write");
    /* per thread: test_busy_and_close fetches from several at once */
    static _Thread_local char buf[1 << 17];
    size_t got = 0;
    for (;;) {
        ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
        if (k <= 0)
            break;
        got += (size_t)k;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end) {
            char *cl = strcasestr(buf, "Content-Length:");
            if (cl && cl < end &&
                got - (size_t)(end + 4 - buf) >= strtoul(cl + 15, NULL, 10))
                break;
        }
    }
    close(fd);
    buf[got] = '\0';
    sscanf(buf, "HTTP/1.1 %d", &out->status);
    char *end = strstr(buf, "\r\n\r\n");
    if (end) {
        snprintf(out->head, sizeof out->head, "%.*s", (int)(end - buf), buf);
        snprintf(out->body, sizeof out->body, "%s", end + 4);
    }
}

static void
render_hello(void *arg, struct http_response *res)
{
    char *who = arg;
    if (pthread_equal(pthread_self(), reactor_thread_id))
        atomic_store(&rendered_on_reactor, 1);
    json_t *doc = json_pack("{s:s}", "hello", who);
    http_response_json(res, 200, doc);
    json_decref(doc);
}

static void
answer(void *arg, const struct http_route *rt, struct http_response *res)
{
    (void)arg;
    atomic_fetch_add(&answered, 1);
    if (!pthread_equal(pthread_self(), reactor_thread_id))
        NT_FAIL("answer called off the reactor thread");
    switch (rt->kind) {
    case HTTP_R_STATUS:
        res->render = render_hello;
        res->render_free = naos_free;
        res->render_arg = naos_strdup("world");
        break;
    case HTTP_R_DEPLOYMENT:
        if (strcmp(rt->name, "later") == 0 && held == NULL &&
            http_can_defer(&h)) {
            res->deferred = true;
            held = res;
            atomic_store(&held_seen, 1);
        } else if (strcmp(rt->name, "web") == 0) {
            json_t *doc = json_pack("{s:s}", "name", rt->name);
            http_response_json(res, 200, doc);
            json_decref(doc);
        } else {
            http_response_error(res, 404, "no deployment named %s", rt->name);
        }
        break;
    case HTTP_R_EVENTS: {
        json_t *doc = json_pack("{s:I}", "since", (json_int_t)rt->since);
        http_response_json(res, 200, doc);
        json_decref(doc);
        break;
    }
    case HTTP_R_COMMAND: {
        json_t *doc = json_pack("{s:s}", "message", "restarted");
        http_response_json(res, 200, doc);
        json_decref(doc);
        break;
    }
    default:
        http_response_error(res, 404, "nothing here");
    }
}

struct client {
    void (*fn)(void);
    atomic_int done;
};

static void *
client_main(void *arg)
{
    struct client *c = arg;
    c->fn();
    atomic_store(&c->done, 1);
    return NULL;
}

/* Serves with token tok while fn runs as a client; the test thread is the
 * reactor. */
static void
serve(const char *tok, size_t cap, void (*fn)(void))
{
    reactor_thread_id = pthread_self();
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    char err[256] = "";
    struct http_config cfg = {.url = "http://127.0.0.1:0", .token = tok,
                              .inbox_cap = cap};
    if (http_open(&h, &r, &cfg, answer, NULL, err, sizeof err) != NAOS_OK)
        NT_FAIL("http_open: %s", err);
    const char *u = http_url(&h);
    NT_TRUE(strncmp(u, "http://127.0.0.1:", 17) == 0);
    port = atoi(u + 17);
    NT_TRUE(port > 0);
    struct client c = {.fn = fn};
    pthread_t t;
    pthread_create(&t, NULL, client_main, &c);
    while (!atomic_load(&c.done)) {
        reactor_run_once(&r, 10);
        if (held != NULL && atomic_load(&resume_now)) {
            json_t *doc = json_pack("{s:b}", "later", 1);
            http_response_json(held, 200, doc);
            json_decref(doc);
            http_resume(&h, held);
            held = NULL;
            atomic_store(&resume_now, 0);
        }
    }
    pthread_join(t, NULL);
    http_close(&h, &r);
    reactor_fini(&r);
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"

static void
c_routes(void)
{
    struct reply rp;
    fetch(GET("/supervisors"), &rp);
    NT_EQ_INT(rp.status, 200);
    NT_CONTAINS(rp.head, "Content-Type: text/html");
    NT_CONTAINS(rp.head, "Content-Security-Policy: default-src 'none'");
    NT_EQ_STR(rp.body, (const char *)http_page_html);

    fetch(GET("/"), &rp);
    NT_EQ_INT(rp.status, 302);
    NT_CONTAINS(rp.head, "Location: /supervisors");

    fetch(GET("/api/v1/status"), &rp);
    NT_EQ_INT(rp.status, 200);
    NT_CONTAINS(rp.head, "Content-Type: application/json");
    NT_EQ_STR(rp.body, "{\"hello\":\"world\"}\n");

    fetch(GET("/api/v1/deployments/web"), &rp);
    NT_EQ_INT(rp.status, 200);
    NT_EQ_STR(rp.body, "{\"name\":\"web\"}\n");
    fetch(GET("/api/v1/deployments/nope"), &rp);
    NT_EQ_INT(rp.status, 404);
    NT_CONTAINS(rp.body, "\"error\":\"no deployment named nope\"");

    fetch(GET("/api/v1/events?since=41"), &rp);
    NT_EQ_STR(rp.body, "{\"since\":41}\n");

    fetch("HEAD /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close"
          "\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 200);
    NT_EQ_STR(rp.body, "");
}

static void
c_errors(void)
{
    struct reply rp;
    fetch(GET("/nope"), &rp);
    NT_EQ_INT(rp.status, 404);
    NT_CONTAINS(rp.head, "Content-Type: application/json");
    NT_CONTAINS(rp.body, "{\"error\":\"no such endpoint");
    NT_CONTAINS(rp.body, "\"status\":404}");

    fetch("DELETE /api/v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close"
          "\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 405);
    NT_CONTAINS(rp.head, "Allow: GET, HEAD");
    NT_CONTAINS(rp.body, "\"status\":405");

    fetch(GET("/api/v1/events?since=minus-one"), &rp);
    NT_EQ_INT(rp.status, 400);
    NT_CONTAINS(rp.body, "bad cursor");

    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Content-Length: 10000000\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 413);
    NT_CONTAINS(rp.head, "Connection: close");
    NT_CONTAINS(rp.body, "\"status\":413");

    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 413);

    static char big[HTTP_MAX_TARGET + 200];
    snprintf(big, sizeof big, "GET /%0*d HTTP/1.1\r\nHost: localhost\r\n\r\n",
             HTTP_MAX_TARGET + 10, 0);
    fetch(big, &rp);
    NT_EQ_INT(rp.status, 414);

    /* NNG's own rejections still carry our JSON body */
    fetch("GET /api/v1/status HTTP/1.1\r\nConnection: close\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 400);
    NT_CONTAINS(rp.body, "\"error\"");
}

static void
c_auth_configured(void)
{
    struct reply rp;
    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Connection: close\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 401);
    NT_CONTAINS(rp.head, "WWW-Authenticate: Bearer");
    NT_CONTAINS(rp.body, "bearer token");
    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Authorization: Bearer wrong-wrong-wrong-wrong\r\n"
          "Connection: close\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 401);
    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Authorization: Bearer 0123456789abcdef-token\r\n"
          "Connection: close\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 200);
    NT_EQ_STR(rp.body, "{\"message\":\"restarted\"}\n");
    /* a small body is ignored, and the connection closed after */
    fetch("POST /api/v1/deployments/web/restart HTTP/1.1\r\nHost: localhost\r\n"
          "Authorization: Bearer 0123456789abcdef-token\r\n"
          "Content-Length: 2\r\n\r\n{}", &rp);
    NT_EQ_INT(rp.status, 200);
    NT_CONTAINS(rp.head, "Connection: close");
}

static void
c_auth_none(void)
{
    struct reply rp;
    fetch("POST /api/v1/deployments/web/stop HTTP/1.1\r\nHost: localhost\r\n"
          "Authorization: Bearer 0123456789abcdef-token\r\n"
          "Connection: close\r\n\r\n", &rp);
    NT_EQ_INT(rp.status, 403);
    NT_CONTAINS(rp.body, "--http-token-file");
}

static void
test_routes(void)
{
    serve(NULL, 0, c_routes);
    NT_FALSE(atomic_load(&rendered_on_reactor));
    /* the shared part goes when NNG's reaper has released the handler */
    for (int i = 0; i < 200 && naos_alloc_live() != 0; i++)
        usleep(10000);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_errors(void)
{
    serve(NULL, 0, c_errors);
    NT_EQ_INT(atomic_load(&answered), 0); /* none reached the reactor */
}

static void
test_auth(void)
{
    serve("0123456789abcdef-token", 0, c_auth_configured);
    serve(NULL, 0, c_auth_none);
}

/* Keep-alive: several requests on one connection. */
static void
c_keepalive(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    NT_EQ_INT(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    for (int i = 0; i < 50; i++) {
        const char *req = "GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";
        NT_EQ_INT(write(fd, req, strlen(req)), (long long)strlen(req));
        char buf[4096];
        size_t got = 0;
        while (strstr(buf, "world\"}\n") == NULL || got == 0) {
            ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
            if (k <= 0)
                NT_FAIL("connection closed at request %d", i);
            got += (size_t)k;
            buf[got] = '\0';
        }
        NT_CONTAINS(buf, "HTTP/1.1 200");
        memset(buf, 0, sizeof buf);
    }
    close(fd);
}

static struct reply late_reply;

static void *
late_client(void *arg)
{
    (void)arg;
    fetch(GET("/api/v1/deployments/later"), &late_reply);
    return NULL;
}

static pthread_t late;

/* A deferred answer comes when the node resumes it (other requests are
 * answered meanwhile); one still deferred when the server closes is
 * answered 503. */
static void
c_deferred(void)
{
    pthread_create(&late, NULL, late_client, NULL);
    for (int i = 0; i < 500 && !atomic_load(&held_seen); i++)
        usleep(10000);
    NT_TRUE(atomic_load(&held_seen));
    struct reply rp;
    fetch(GET("/api/v1/deployments/web"), &rp);
    NT_EQ_INT(rp.status, 200); /* served while the other waits */
    NT_EQ_INT(late_reply.status, 0);
    atomic_store(&resume_now, 1);
    pthread_join(late, NULL);
    NT_EQ_INT(late_reply.status, 200);
    NT_EQ_STR(late_reply.body, "{\"later\":true}\n");
    /* the next one is left deferred: the server closes under it */
    atomic_store(&held_seen, 0);
    pthread_create(&late, NULL, late_client, NULL);
    for (int i = 0; i < 500 && !atomic_load(&held_seen); i++)
        usleep(10000);
    NT_TRUE(atomic_load(&held_seen));
}

static void
test_deferred(void)
{
    serve(NULL, 0, c_deferred);
    NT_TRUE(held != NULL); /* http_close answered it */
    held = NULL;
    pthread_join(late, NULL);
    /* 503, unless the server's hard stop closes the connection first (as
     * for queued requests, test_busy_and_close) */
    NT_TRUE(late_reply.status == 503 || late_reply.status == 0);
    if (late_reply.status == 503)
        NT_CONTAINS(late_reply.body, "shutting down");
    for (int i = 0; i < 200 && naos_alloc_live() != 0; i++)
        usleep(10000);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_keepalive(void)
{
    serve(NULL, 0, c_keepalive);
    NT_EQ_INT(atomic_load(&answered), 50);
}

/* With the reactor not running, the inbox fills and the rest get 503;
 * closing then fails the queued ones without calling the node. */
static atomic_int got503, gotother;

static void *
stuck_client(void *arg)
{
    (void)arg;
    struct reply rp;
    fetch(GET("/api/v1/status"), &rp);
    if (rp.status == 503)
        atomic_fetch_add(&got503, 1);
    else if (rp.status != 0) /* 0: closed by the server stopping */
        atomic_fetch_add(&gotother, 1);
    return NULL;
}

static void
test_busy_and_close(void)
{
    reactor_thread_id = pthread_self();
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    char err[256];
    struct http_config cfg = {.url = "http://127.0.0.1:0", .inbox_cap = 2};
    NT_EQ_INT(http_open(&h, &r, &cfg, answer, NULL, err, sizeof err),
              NAOS_OK);
    port = atoi(http_url(&h) + 17);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, stuck_client, NULL);
    /* 4 are refused at once; 2 wait in the inbox */
    for (int i = 0; i < 500 && atomic_load(&got503) < 4; i++)
        usleep(10000);
    NT_EQ_INT(atomic_load(&got503), 4);
    struct http_stats st;
    http_get_stats(&h, &st);
    NT_EQ_INT(st.busy, 4);
    NT_EQ_INT(st.queued, 2);
    http_close(&h, &r);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    /* the queued two are answered 503, unless the server's hard stop
     * closes their connections first */
    NT_TRUE(atomic_load(&got503) >= 4);
    NT_EQ_INT(atomic_load(&gotother), 0);
    NT_EQ_INT(atomic_load(&answered), 0);
    reactor_fini(&r);
}

static void
test_bind_failure(void)
{
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    char err[256] = "";
    struct http_config cfg = {.url = "http://127.0.0.1:0"};
    NT_EQ_INT(http_open(&h, &r, &cfg, answer, NULL, err, sizeof err),
              NAOS_OK);
    char taken[64];
    snprintf(taken, sizeof taken, "%s", http_url(&h));
    struct http h2;
    cfg.url = taken;
    /* NNG shares one server per address inside a process: a second node
     * in one process is not a case; use a socket of our own instead */
    http_close(&h, &r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    NT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    NT_EQ_INT(listen(fd, 1), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    snprintf(taken, sizeof taken, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    cfg.url = taken;
    NT_EQ_INT(http_open(&h2, &r, &cfg, answer, NULL, err, sizeof err),
              NAOS_ESYS);
    NT_CONTAINS(err, taken);
    http_close(&h2, &r); /* closed already: a no-op */
    close(fd);
    cfg.url = "http://127.0.0.1:99999";
    NT_TRUE(http_open(&h2, &r, &cfg, answer, NULL, err, sizeof err) !=
            NAOS_OK);
    reactor_fini(&r);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_routes),    NT_CASE(test_errors),
        NT_CASE(test_auth),      NT_CASE(test_keepalive),
        NT_CASE(test_busy_and_close), NT_CASE(test_bind_failure),
        NT_CASE(test_deferred),
        {0},
    };
    return nt_run(cases);
}
