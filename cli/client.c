/* SPDX-License-Identifier: Apache-2.0 */
/* client.c: NNG 1.5 req/rep client for the control socket. NNG error codes
 * stop here and become naos_err values plus a message. */
#include "cli/client.h"
#include "cli/paths.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/spec_pb.h"

/* A missing socket file (ENOENT) means the same to a user as a socket
 * nobody listens on: the node is not running there. */
static const char *
reach_error(int rv)
{
    switch (rv) {
    case NNG_ECONNREFUSED:
    case NNG_ENOENT:
        return "Connection refused";
    default:
        return nng_strerror(rv);
    }
}

int
naos_client_call(const char *url, const Naos__V1__Request *req,
                 Naos__V1__Reply **out, int timeout_ms, char *errbuf,
                 size_t errlen)
{
    /* The node would refuse it: say so before sending anything. */
    size_t want = naos__v1__request__get_packed_size(req);
    if (want > NAOS_CLIENT_MAX_REQUEST) {
        snprintf(errbuf, errlen,
                 "request of %zu bytes exceeds the %u-byte (%u MiB) limit "
                 "of naos-node's control socket: nothing was sent",
                 want, NAOS_CLIENT_MAX_REQUEST, NAOS_CLIENT_MAX_REQUEST >> 20);
        return NAOS_ETOOBIG;
    }
    nng_socket s;
    /* Nothing is sent to a socket another user may have bound (issue 9). */
    int rc = naos_ctl_check(url, errbuf, errlen);
    if (rc != NAOS_OK)
        return rc;
    int rv = nng_req0_open(&s);
    if (rv != 0) {
        snprintf(errbuf, errlen, "unable to open an NNG socket: %s",
                 nng_strerror(rv));
        return rv == NNG_ENOMEM ? NAOS_ENOMEM : NAOS_ESYS;
    }
    /* No timed resend (NNG_OPT_REQ_RESENDTIME): a command is resent only
     * by cli_command, with its id. (NNG 1.5's req0 still resends the same
     * bytes if the connection drops and comes back while it waits: the
     * same id, which the cluster deduplicates.) */
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
    nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
    nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, NAOS_CLIENT_MAX_REPLY);

    rv = nng_dial(s, url, NULL, 0);
    if (rv != 0) {
        snprintf(errbuf, errlen, "unable to reach naos-node at %s: %s", url,
                 reach_error(rv));
        rc = (rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP || rv == NNG_EINVAL)
                 ? NAOS_EINVAL
                 : NAOS_ESYS;
        goto err_after_open;
    }

    size_t len = naos__v1__request__get_packed_size(req);
    uint8_t *buf = naos_alloc(len ? len : 1);
    if (buf == NULL) {
        snprintf(errbuf, errlen, "unable to encode the request: %s",
                 naos_strerror(NAOS_ENOMEM));
        rc = NAOS_ENOMEM;
        goto err_after_open;
    }
    naos__v1__request__pack(req, buf);
    rv = nng_send(s, buf, len, 0);
    naos_free(buf);
    if (rv != 0) {
        snprintf(errbuf, errlen, "unable to send to naos-node at %s: %s", url,
                 reach_error(rv));
        rc = rv == NNG_ETIMEDOUT ? NAOS_ETIMEDOUT : NAOS_ESYS;
        goto err_after_open;
    }

    void *rbuf = NULL;
    size_t rlen = 0;
    rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC);
    if (rv != 0) {
        if (rv == NNG_ETIMEDOUT)
            snprintf(errbuf, errlen,
                     "naos-node at %s did not answer within %d ms", url,
                     timeout_ms);
        else
            snprintf(errbuf, errlen,
                     "unable to read the answer of naos-node at %s: %s", url,
                     reach_error(rv));
        /* sent: whatever ended the wait, the node may have acted */
        rc = rv == NNG_ETIMEDOUT ? NAOS_ETIMEDOUT : NAOS_ECLOSED;
        goto err_after_open;
    }
    Naos__V1__Reply *reply =
        naos__v1__reply__unpack(&spec_pb_allocator, rlen, rbuf);
    nng_free(rbuf, rlen);
    if (reply == NULL) {
        snprintf(errbuf, errlen,
                 "unable to decode the answer of naos-node at %s (%zu bytes)",
                 url, rlen);
        rc = NAOS_EPROTO;
        goto err_after_open;
    }
    nng_close(s);
    *out = reply;
    return NAOS_OK;

err_after_open:
    nng_close(s);
    return rc;
}

void
naos_client_reply_free(Naos__V1__Reply *reply)
{
    if (reply)
        naos__v1__reply__free_unpacked(reply, &spec_pb_allocator);
}
