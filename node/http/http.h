/* SPDX-License-Identifier: Apache-2.0 */
/* http.h: the node's HTTP endpoint on NNG's HTTP code (NNG 1.5): the
 * dashboard page, the JSON API and /metrics (routes: route.h).
 *
 * Connections are accepted and bounded by the front door (front.h: the
 * connection cap, the header, idle and write timeouts, the reply budget);
 * NNG's HTTP conn code parses the request heads and writes the replies.
 *
 * Threads (STYLE §9). The front thread gets each request head; it never
 * touches node state. It checks the Host header (route.h: a name the node
 * is not reached by is 421, against DNS rebinding), parses and routes the
 * request (pure, route.h), answers on the spot what needs no node state
 * (the embedded page, 404/405/400/413/414, 401/403 from the token fixed
 * at open), and posts everything else as a job to a bounded inbox
 * (inbox.h) whose eventfd the reactor watches; a full inbox is answered
 * 503. The reactor calls the node's answer function for each job and
 * posts the reply to the front (front_reply is thread-safe). An answer may
 * defer the expensive half of its work -- turning a status snapshot into
 * JSON text -- to a render thread owned by this module: the reactor then
 * pays only for copying what it owns into the snapshot. A reply body that
 * would take the bytes held for unsent replies over the budget is
 * replaced by 503; with the budget used up, answers that need the reactor
 * get 503 before any work is done.
 *
 * Every error is answered with a JSON body {"error": "...", "status": N}.
 * A request head NNG cannot parse (or one beyond its 8 KiB buffer) closes
 * the connection without an answer: nothing says where the next request
 * would start. HTTP/1.1 without Host is 400; a version other than HTTP/1.x
 * is 505. No request body is read: a Content-Length above HTTP_MAX_BODY is
 * 413, chunked bodies too, and a request that carried a body gets its
 * answer with Connection: close. */
#ifndef NAOS_HTTP_HTTP_H
#define NAOS_HTTP_HTTP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "node/http/front.h"
#include "node/http/route.h"
#include "node/reactor/reactor.h"

/* Largest request body declared (none of the endpoints reads one). */
#define HTTP_MAX_BODY (64u * 1024u)
/* Requests waiting for the reactor before new ones get 503. */
#define HTTP_INBOX_DEFAULT 1024
/* Jobs the reactor answers per wake-up, so a burst of requests cannot
 * hold the loop (the rest are taken at the next iteration). */
#define HTTP_REACTOR_BATCH 32

/* Status codes counted per route in struct http_stats. */
#define HTTP_CODE_SLOTS 17
extern const int http_code_slot_status[HTTP_CODE_SLOTS]; /* 0 = "other" */

/* struct http_response: an answer under construction. The answer function
 * fills it on the reactor thread: either the final body now, or a render
 * step that the render thread runs later. */
struct http_response {
    int status;               /* HTTP status; 0 = 200 */
    const char *content_type; /* static string; NULL = application/json */
    char *body;               /* naos_alloc'd, owned by the response */
    size_t len;
    const void *static_body;  /* instead of body: static data, len bytes */
    const char *allow;        /* static: the Allow header (405) */
    const char *location;     /* static: the Location header (redirects) */
    /* render: when set, runs on the render thread (never the reactor) and
     * must fill status/body/len from render_arg alone -- it may not touch
     * node state. render_free(render_arg) runs after it, always (also when
     * the job is dropped at close). */
    void (*render)(void *render_arg, struct http_response *res);
    void (*render_free)(void *render_arg);
    void *render_arg;
    /* deferred: set by the answer function to answer later, from the
     * reactor thread, with http_resume(h, res) once the fields above are
     * filled (res stays valid until then). At most HTTP_DEFERRED_MAX at
     * once: past that the answer function must answer at once. */
    bool deferred;
};

#define HTTP_DEFERRED_MAX 64

/* http_answer_fn: the node's answer to a routed request (rt borrowed for
 * the call). Reactor thread only. */
typedef void (*http_answer_fn)(void *arg, const struct http_route *rt,
                               struct http_response *res);

struct http_config {
    const char *url;   /* "http://HOST:PORT" (http_addr_to_url); port 0 =
                          any free port, see http_url */
    const char *token; /* bearer token for mutating routes (copied); NULL
                          or "" = none: they answer 403 */
    size_t inbox_cap;  /* 0 = HTTP_INBOX_DEFAULT */
    const struct http_limits *limits; /* copied; NULL = HTTP_LIMITS_DEFAULT */
};

/* struct http_stats: counters since http_open (a snapshot). */
struct http_stats {
    uint64_t requests[HTTP_R__COUNT][HTTP_CODE_SLOTS];
    uint64_t busy;     /* answered 503 because the inbox was full */
    size_t queued;     /* jobs in the inbox now */
    struct front_stats front; /* connections and the reply budget */
};

struct http_shared; /* what NNG's threads may touch; private to http.c */

/* struct http: caller storage (embedded in the node). Reactor thread. */
struct http {
    struct http_shared *sh;
    struct front *front;
    struct reactor_watch watch;
    http_answer_fn answer;
    void *arg;
    char url[300];     /* the bound address, e.g. "http://127.0.0.1:40123" */
    pthread_t render_thread;
    bool render_started;
    bool watching;     /* watch is registered with the reactor */
    bool open;
    struct http_job *deferred[HTTP_DEFERRED_MAX]; /* answered later */
    size_t ndeferred;
};

/* http_open starts serving cfg->url with cfg->limits and watches the
 * inbox from r. answer (with arg) is called on the reactor thread for each
 * request that needs node state. Returns NAOS_OK; NAOS_EINVAL (bad URL),
 * NAOS_ESYS (cannot listen: errbuf names the address and the reason) or
 * NAOS_ENOMEM, with errbuf (caller buffer + length) filled and h left
 * closed. */
int http_open(struct http *h, struct reactor *r, const struct http_config *cfg,
              http_answer_fn answer, void *arg, char *errbuf, size_t errlen);

/* http_can_defer: whether an answer function may defer one more
 * request (res->deferred). Reactor thread. */
bool http_can_defer(const struct http *h);

/* http_resume answers a deferred request: res is the one the answer
 * function deferred, filled since (body, or render). Reactor thread. A
 * client that went away meanwhile is not answered (its connection's
 * generation moved on: front.h). */
void http_resume(struct http *h, struct http_response *res);

/* http_close stops listening, answers every queued and every deferred
 * request 503 (the caller resumes none after), stops the
 * render thread and releases the server. Safe on a zeroed or closed h.
 * Reactor thread. */
void http_close(struct http *h, struct reactor *r);

/* http_url returns the bound address ("http://127.0.0.1:40123"), valid
 * while h is open. */
const char *http_url(const struct http *h);

/* http_get_stats copies the counters into *out. Any thread. */
void http_get_stats(const struct http *h, struct http_stats *out);

/* http_response_json sets res to status (0 = 200) with doc rendered as
 * compact JSON; doc is borrowed (the caller still json_decrefs it).
 * Returns NAOS_OK or NAOS_ENOMEM (res then holds a 500 error). Any
 * thread. */
int http_response_json(struct http_response *res, int status,
                       const json_t *doc);

/* http_response_error sets res to status with the body
 * {"error": MESSAGE, "status": status}. Any thread. */
void http_response_error(struct http_response *res, int status,
                         const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* http_response_take sets res's body to text (naos_alloc'd, len bytes;
 * ownership taken) with content_type (static). */
void http_response_take(struct http_response *res, int status,
                        const char *content_type, char *text, size_t len);

/* http_response_fini frees the body and, if a render step is pending,
 * its argument. Safe on a zeroed response. */
void http_response_fini(struct http_response *res);

/* The embedded dashboard page (page.html, generated at build time). */
extern const unsigned char http_page_html[];
extern const size_t http_page_html_len;

#endif
