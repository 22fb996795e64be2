/* SPDX-License-Identifier: Apache-2.0 */
#include "node/ctl/ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include <nng/protocol/reqrep0/rep.h>
#include <nng/transport/ipc/ipc.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "proto/spec_pb.h"

void *
ctl_reply_alloc(struct ctl_reply *rep, size_t size)
{
    void *p = naos_arena_alloc(&rep->mem, size);
    if (p == NULL)
        rep->failed = 1;
    return p;
}

char *
ctl_reply_strdup(struct ctl_reply *rep, const char *s)
{
    char *d = naos_arena_strdup(&rep->mem, s);
    if (d == NULL)
        rep->failed = 1;
    return d;
}

static void
reply_vset(struct ctl_reply *rep, Naos__V1__ErrorCode code, int is_error,
           const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    char *s = ctl_reply_strdup(rep, buf);
    rep->msg.code = code;
    if (is_error) {
        rep->msg.error = s ? s : "";
    } else {
        rep->msg.rep_case = NAOS__V1__REPLY__REP_MESSAGE;
        rep->msg.message = s ? s : "";
    }
}

void
ctl_reply_error(struct ctl_reply *rep, Naos__V1__ErrorCode code,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vset(rep, code, 1, fmt, ap);
    va_end(ap);
}

void
ctl_reply_message(struct ctl_reply *rep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_vset(rep, NAOS__V1__ERROR_CODE__OK, 0, fmt, ap);
    va_end(ap);
}

void
ctl_reply_fini(struct ctl_reply *rep)
{
    naos_arena_fini(&rep->mem);
}

/* Packs rep into a new NNG message and sends it. A reply that cannot be
 * built (out of memory) degrades to a bare INTERNAL error. */
static void
send_reply(struct ctl *c, struct ctl_reply *rep)
{
    if (rep->failed) {
        naos__v1__reply__init(&rep->msg);
        rep->msg.code = NAOS__V1__ERROR_CODE__INTERNAL;
        rep->msg.error = "naos-node ran out of memory building the reply";
    }
    size_t len = naos__v1__reply__get_packed_size(&rep->msg);
    nng_msg *m;
    if (nng_msg_alloc(&m, len) != 0) {
        NAOS_ERROR("ctl", "cannot allocate a %zu-byte reply", len);
        return;
    }
    naos__v1__reply__pack(&rep->msg, nng_msg_body(m));
    if (nng_sendmsg(c->sock, m, NNG_FLAG_NONBLOCK) != 0)
        nng_msg_free(m);
}

static void
on_readable(void *arg, uint32_t events)
{
    struct ctl *c = arg;
    (void)events;
    for (;;) {
        nng_msg *m;
        if (nng_recvmsg(c->sock, &m, NNG_FLAG_NONBLOCK) != 0)
            return;
        struct ctl_reply rep = {0};
        naos__v1__reply__init(&rep.msg);
        size_t len = nng_msg_len(m);
        Naos__V1__Request *req = NULL;
        if (len > CTL_MAX_REQUEST) {
            ctl_reply_error(&rep, NAOS__V1__ERROR_CODE__INVALID,
                            "request of %zu bytes exceeds the %u-byte limit",
                            len, CTL_MAX_REQUEST);
        } else {
            req = naos__v1__request__unpack(NULL, len, nng_msg_body(m));
            if (req == NULL || req->req_case == NAOS__V1__REQUEST__REQ__NOT_SET)
                ctl_reply_error(&rep, NAOS__V1__ERROR_CODE__INVALID,
                                "cannot decode the request: is this naos "
                                "client the same version as naos-node %s?",
                                NAOS_VERSION);
            else if (!spec_pb_unpacked_intact(&req->base, len))
                /* protobuf-c cuts strings at a NUL: "ok\0x" reads "ok" */
                ctl_reply_error(&rep, NAOS__V1__ERROR_CODE__INVALID,
                                "request refused: a string in it holds a NUL "
                                "byte (or it is not encoded canonically)");
            else
                c->handler(c->arg, req, &rep);
        }
        if (rep.msg.code != NAOS__V1__ERROR_CODE__OK)
            c->bad++;
        c->served++;
        send_reply(c, &rep);
        ctl_reply_fini(&rep);
        if (req)
            naos__v1__request__free_unpacked(req, NULL);
        nng_msg_free(m);
    }
}

int
ctl_open(struct ctl *c, struct reactor *r, const char *url,
         ctl_handler handler, void *arg, char *errbuf, size_t errlen)
{
    *c = (struct ctl){.handler = handler, .arg = arg};
    int rv;
    if ((rv = nng_rep0_open(&c->sock)) != 0)
        goto err;
    if ((rv = nng_listener_create(&c->listener, c->sock, url)) != 0)
        goto err_after_open;
    if (strncmp(url, "ipc://", 6) == 0 &&
        (rv = nng_listener_set_int(c->listener, NNG_OPT_IPC_PERMISSIONS,
                                   0600)) != 0)
        goto err_after_open;
    nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CTL_MAX_REQUEST + 1);
    if ((rv = nng_listener_start(c->listener, 0)) != 0)
        goto err_after_open;
    int fd;
    if ((rv = nng_socket_get_int(c->sock, NNG_OPT_RECVFD, &fd)) != 0)
        goto err_after_open;
    if (reactor_add(r, &c->watch, fd, EPOLLIN, on_readable, c) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot watch the control socket");
        nng_close(c->sock);
        return NAOS_ESYS;
    }
    c->open = 1;
    return NAOS_OK;

err_after_open:
    nng_close(c->sock);
err:
    snprintf(errbuf, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
    return NAOS_ESYS;
}

void
ctl_close(struct ctl *c, struct reactor *r)
{
    if (!c->open)
        return;
    reactor_del(r, &c->watch);
    nng_close(c->sock);
    c->open = 0;
}
