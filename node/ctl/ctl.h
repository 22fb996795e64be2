/* SPDX-License-Identifier: Apache-2.0 */
/* ctl.h: the node's control endpoint for the `naos` CLI: an NNG rep socket
 * (ipc://RUN/ctl.sock, owner-only) polled from the reactor through
 * NNG_OPT_RECVFD, so requests are handled on the reactor thread with no
 * locking. Requests and replies are naos.v1.Request / naos.v1.Reply. */
#ifndef NAOS_CTL_CTL_H
#define NAOS_CTL_CTL_H

#include <stddef.h>

#include <nng/nng.h>

#include "node/base/arena.h"
#include "node/reactor/reactor.h"
#include "proto/naos.pb-c.h"

/* Requests larger than this are refused before decoding. */
#define CTL_MAX_REQUEST (4u << 20)

/* struct ctl_reply: the reply under construction. Everything a handler
 * hangs off `msg` must come from ctl_reply_alloc / ctl_reply_strdup: one
 * arena, freed at once when the reply has been sent. */
struct ctl_reply {
    Naos__V1__Reply msg;
    struct naos_arena mem;
    int failed; /* an allocation failed: the reply becomes INTERNAL */
};

/* ctl_reply_alloc returns zeroed memory owned by rep (NULL on ENOMEM, and
 * rep->failed is set). */
void *ctl_reply_alloc(struct ctl_reply *rep, size_t size);
/* ctl_reply_strdup copies s into memory owned by rep. */
char *ctl_reply_strdup(struct ctl_reply *rep, const char *s);
/* ctl_reply_error sets the reply's code and a formatted error text. */
void ctl_reply_error(struct ctl_reply *rep, Naos__V1__ErrorCode code,
                     const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* ctl_reply_message sets a successful one-line confirmation. */
void ctl_reply_message(struct ctl_reply *rep, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ctl_reply_fini frees everything allocated from rep (not rep itself). */
void ctl_reply_fini(struct ctl_reply *rep);

/* ctl_handler: handle one decoded request (borrowed) and fill rep. Runs on
 * the reactor thread. */
typedef void (*ctl_handler)(void *arg, const Naos__V1__Request *req,
                            struct ctl_reply *rep);

struct ctl {
    nng_socket sock;
    nng_listener listener;
    struct reactor_watch watch;
    ctl_handler handler;
    void *arg;
    int open;
    unsigned long served, bad;
};

/* ctl_open listens on url (e.g. "ipc:///run/naos/ctl.sock"), owner-only,
 * and registers with the reactor. Returns NAOS_OK, or NAOS_ESYS with a
 * message in errbuf (caller buffer + length). */
int ctl_open(struct ctl *c, struct reactor *r, const char *url,
             ctl_handler handler, void *arg, char *errbuf, size_t errlen);
/* ctl_close stops listening; safe on a zeroed or closed ctl. */
void ctl_close(struct ctl *c, struct reactor *r);

#endif
