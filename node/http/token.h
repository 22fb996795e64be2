/* SPDX-License-Identifier: Apache-2.0 */
/* token.h: the bearer token that guards the HTTP API's mutating endpoints
 * (POST /api/v1/deployments/NAME/restart|stop|start), read from
 * `--http-token-file FILE` or $NAOS_HTTP_TOKEN. A token file is refused,
 * like a key file, unless it is a regular file only its owner can read or
 * write (mode 0600 or stricter): a readable token lets anyone on the host
 * stop deployments. */
#ifndef NAOS_HTTP_TOKEN_H
#define NAOS_HTTP_TOKEN_H

#include <stddef.h>

/* Longest token accepted. */
#define HTTP_TOKEN_MAX 512

/* http_token_valid checks a token's text: 16..HTTP_TOKEN_MAX printable
 * ASCII characters other than space (what RFC 6750's b64token and any
 * generated secret fit in). Returns NAOS_OK or NAOS_EINVAL with the
 * reason in errbuf (caller buffer + length). */
int http_token_valid(const char *token, char *errbuf, size_t errlen);

/* http_token_load reads the token from the first line of path (borrowed;
 * a trailing newline and CR are dropped) into tok (caller buffer + length,
 * at least HTTP_TOKEN_MAX + 1). Returns NAOS_OK, NAOS_EAUTH when the file
 * is readable or writable by others (errbuf says `chmod 600 PATH`),
 * NAOS_ESYS when it cannot be opened or read, or NAOS_EINVAL when it is
 * not a regular file or the token is malformed. Reactor thread, at start. */
int http_token_load(const char *path, char *tok, size_t toklen, char *errbuf,
                    size_t errlen);

#endif
