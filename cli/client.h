/* SPDX-License-Identifier: Apache-2.0 */
/* client.h: one control request to naos-node over NNG req/rep. The only
 * file of the CLI that touches NNG.
 *
 * Each call opens a req0 socket, dials url synchronously, sends the packed
 * request, waits for the reply at most timeout_ms, unpacks it and closes the
 * socket. Blocking; any thread. */
#ifndef NAOS_CLI_CLIENT_H
#define NAOS_CLI_CLIENT_H

#include <stddef.h>

#include "proto/naos.pb-c.h"

/* Largest reply accepted (a big status tree or a log chunk). */
#define NAOS_CLIENT_MAX_REPLY (64u * 1024 * 1024)
/* Largest request naos-node accepts: CTL_MAX_REQUEST (node/ctl/ctl.h; the
 * two are checked equal by ctl_test). Larger ones are never sent. */
#define NAOS_CLIENT_MAX_REQUEST (4u << 20)

/* naos_client_call sends req (borrowed) to the node at url (borrowed, an
 * NNG URL such as "ipc:///run/naos/ctl.sock") and stores the decoded reply
 * in *out, owned by the caller and released with naos_client_reply_free.
 * Returns:
 *   NAOS_OK        *out is set (its code may still be an error code);
 *   NAOS_ESYS      the node could not be reached (not running, no socket);
 *   NAOS_ETIMEDOUT no reply within timeout_ms (the request was sent);
 *   NAOS_ECLOSED   the connection failed after the request was sent;
 *   NAOS_EINVAL    url is not a valid NNG URL;
 *   NAOS_EAUTH     the run directory or socket is not ours or root's, or
 *                  others can write it (naos_ctl_check): nothing was sent;
 *   NAOS_ETOOBIG   req packs to more than NAOS_CLIENT_MAX_REQUEST bytes:
 *                  nothing was sent (checked before connecting);
 *   NAOS_EPROTO    the reply could not be decoded (the request was
 *                  sent, and may have been acted on);
 *   NAOS_ENOMEM.
 * On error *out is untouched and errbuf (caller buffer + length) holds
 * "unable to reach naos-node at URL: Connection refused" or the like. */
int naos_client_call(const char *url, const Naos__V1__Request *req,
                     Naos__V1__Reply **out, int timeout_ms, char *errbuf,
                     size_t errlen);

/* naos_client_reply_free releases a reply from naos_client_call; NULL is
 * fine. */
void naos_client_reply_free(Naos__V1__Reply *reply);

#endif
