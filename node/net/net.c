/* SPDX-License-Identifier: Apache-2.0 */
/* net.c: the NNG transport of net.h. */
#include "node/net/net.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/reactor/inbox.h"

#define NET_INBOX_CAP 4096
#define NET_RECV_BATCH 256

struct net_peer {
    char addr[NET_ADDR_MAX];
    nng_socket sock;
    struct reactor_inbox *inbox; /* the owning net's (outlives the peer) */
    naos_time used;              /* last net_send or net_dial */
    atomic_bool closing; /* set before we close it: not a far-end drop */
};

/* A pipe event handed from an NNG thread to the reactor. */
struct net_event {
    struct reactor_inbox_item item;
    char addr[NET_ADDR_MAX];
};

struct net {
    struct net_config cfg;
    struct reactor *r;
    nng_socket in;
    bool in_open;
    nng_listener listener;
    int recv_fd;
    struct reactor_watch recv_watch;
    struct reactor_inbox inbox;
    struct reactor_watch inbox_watch;
    char url[NET_ADDR_MAX];
    struct net_peer **peers;
    size_t npeers, cap;
    struct net_stats stats;
};

int
net_url_check(const char *url, bool *is_wildcard, char *err, size_t errlen)
{
    if (is_wildcard)
        *is_wildcard = false;
    if (url == NULL || strncmp(url, "tcp://", 6) != 0) {
        snprintf(err, errlen, "\"%s\" is not a tcp://HOST:PORT address",
                 url ? url : "");
        return NAOS_EINVAL;
    }
    if (strlen(url) >= NET_ADDR_MAX) {
        snprintf(err, errlen, "address longer than %d bytes",
                 NET_ADDR_MAX - 1);
        return NAOS_EINVAL;
    }
    const char *host = url + 6;
    const char *colon = strrchr(host, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "\"%s\": expected tcp://HOST:PORT", url);
        return NAOS_EINVAL;
    }
    const char *p = colon + 1;
    long port = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || port > 65535) {
            snprintf(err, errlen, "\"%s\": bad port", url);
            return NAOS_EINVAL;
        }
        port = port * 10 + (*p - '0');
    }
    if (port > 65535) {
        snprintf(err, errlen, "\"%s\": port above 65535", url);
        return NAOS_EINVAL;
    }
    size_t hl = (size_t)(colon - host);
    if (host[0] == '[' && (hl < 2 || host[hl - 1] != ']')) {
        snprintf(err, errlen, "\"%s\": unterminated [IPv6] host", url);
        return NAOS_EINVAL;
    }
    if (is_wildcard)
        *is_wildcard = hl == 0 || (hl == 7 && !strncmp(host, "0.0.0.0", 7)) ||
                       (hl == 4 && !strncmp(host, "[::]", 4));
    return NAOS_OK;
}

/* ---- NNG threads ------------------------------------------------------- */

/* The far end (or a failure) removed a pipe of a peer socket. Runs on an
 * NNG thread: only the inbox is touched. nng_close waits for these
 * callbacks, so p is alive here. */
static void
on_pipe_rem(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
    (void)pipe;
    (void)ev;
    struct net_peer *p = arg;
    if (atomic_load(&p->closing))
        return;
    struct net_event *e = naos_alloc(sizeof *e);
    if (e == NULL)
        return; /* the silent path will find it */
    snprintf(e->addr, sizeof e->addr, "%s", p->addr);
    e->item.next = NULL;
    if (reactor_inbox_put(p->inbox, &e->item) != NAOS_OK)
        naos_free(e);
}

/* ---- reactor thread ----------------------------------------------------- */

static void
on_recv(void *arg, uint32_t events)
{
    struct net *n = arg;
    (void)events;
    for (int i = 0; i < NET_RECV_BATCH; i++) {
        nng_msg *m = NULL;
        int rv = nng_recvmsg(n->in, &m, NNG_FLAG_NONBLOCK);
        if (rv != 0)
            break;
        size_t len = nng_msg_len(m);
        n->stats.msgs_in++;
        n->stats.bytes_in += len;
        n->cfg.recv(n->cfg.arg, nng_msg_body(m), len);
        nng_msg_free(m);
    }
}

static void
on_inbox(void *arg, uint32_t events)
{
    struct net *n = arg;
    (void)events;
    struct reactor_inbox_item *it = reactor_inbox_take(&n->inbox, 256);
    while (it) {
        struct net_event *e = (struct net_event *)it;
        it = it->next;
        n->stats.peers_closed++;
        n->cfg.closed(n->cfg.arg, e->addr);
        naos_free(e);
    }
}

static int
nng_to_naos(int rv)
{
    switch (rv) {
    case 0:
        return NAOS_OK;
    case NNG_ENOMEM:
        return NAOS_ENOMEM;
    case NNG_EINVAL:
    case NNG_EADDRINVAL:
    case NNG_ENOTSUP:
        return NAOS_EINVAL;
    case NNG_EAGAIN:
        return NAOS_EBUSY;
    default:
        return NAOS_ESYS;
    }
}

int
net_open(struct net **out, struct reactor *r, const struct net_config *cfg,
         char *err, size_t errlen)
{
    int rc = net_url_check(cfg->listen_url, NULL, err, errlen);
    if (rc != NAOS_OK)
        return rc;
    struct net *n = naos_alloc(sizeof *n);
    if (n == NULL) {
        snprintf(err, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    memset(n, 0, sizeof *n);
    n->cfg = *cfg;
    n->r = r;
    n->recv_fd = -1;
    n->inbox.efd = -1;
    if ((rc = reactor_inbox_init(&n->inbox, NET_INBOX_CAP)) != NAOS_OK) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        goto err;
    }
    int rv = nng_pull0_open(&n->in);
    if (rv != 0) {
        snprintf(err, errlen, "cannot open the gossip socket: %s",
                 nng_strerror(rv));
        rc = nng_to_naos(rv);
        goto err;
    }
    n->in_open = true;
    nng_socket_set_size(n->in, NNG_OPT_RECVMAXSZ, cfg->recv_max);
    /* Messages wait in NNG while the reactor is busy; beyond this they
     * are lost, which membership tolerates. */
    nng_socket_set_int(n->in, NNG_OPT_RECVBUF, 1024);
    rv = nng_listen(n->in, cfg->listen_url, &n->listener, 0);
    if (rv != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", cfg->listen_url,
                 nng_strerror(rv));
        rc = rv == NNG_EADDRINVAL || rv == NNG_EINVAL ? NAOS_EINVAL
                                                      : NAOS_ESYS;
        goto err;
    }
    int port = 0;
    nng_listener_get_int(n->listener, NNG_OPT_TCP_BOUND_PORT, &port);
    const char *host = cfg->listen_url + 6;
    const char *colon = strrchr(host, ':');
    snprintf(n->url, sizeof n->url, "tcp://%.*s:%d", (int)(colon - host),
             host, port);
    if ((rv = nng_socket_get_int(n->in, NNG_OPT_RECVFD, &n->recv_fd)) != 0 ||
        reactor_add(r, &n->recv_watch, n->recv_fd, EPOLLIN, on_recv, n) !=
            NAOS_OK ||
        reactor_add(r, &n->inbox_watch, reactor_inbox_fd(&n->inbox), EPOLLIN,
                    on_inbox, n) != NAOS_OK) {
        snprintf(err, errlen, "cannot poll the gossip socket");
        rc = NAOS_ESYS;
        goto err;
    }
    *out = n;
    return NAOS_OK;
err:
    net_close(n);
    return rc;
}

static void
peer_close(struct net_peer *p)
{
    atomic_store(&p->closing, true);
    nng_close(p->sock); /* waits for its pipe callbacks */
    naos_free(p);
}

void
net_close(struct net *n)
{
    if (n == NULL)
        return;
    reactor_del(n->r, &n->recv_watch);
    reactor_del(n->r, &n->inbox_watch);
    for (size_t i = 0; i < n->npeers; i++)
        peer_close(n->peers[i]);
    naos_free(n->peers);
    if (n->in_open)
        nng_close(n->in);
    struct reactor_inbox_item *it = reactor_inbox_close(&n->inbox);
    while (it) {
        struct reactor_inbox_item *next = it->next;
        naos_free(it);
        it = next;
    }
    reactor_inbox_fini(&n->inbox);
    naos_free(n);
}

const char *
net_listen_url(const struct net *n)
{
    return n->url;
}

static struct net_peer *
peer_find(struct net *n, const char *addr, size_t *idx)
{
    for (size_t i = 0; i < n->npeers; i++)
        if (strcmp(n->peers[i]->addr, addr) == 0) {
            if (idx)
                *idx = i;
            return n->peers[i];
        }
    return NULL;
}

static int
peer_open(struct net *n, const char *addr, struct net_peer **out)
{
    char err[160];
    if (net_url_check(addr, NULL, err, sizeof err) != NAOS_OK)
        return NAOS_EINVAL;
    if (n->npeers >= NET_MAX_PEERS)
        return NAOS_EBUSY;
    if (n->npeers == n->cap) {
        size_t ncap = n->cap ? n->cap * 2 : 16;
        struct net_peer **np = naos_realloc(n->peers, ncap * sizeof *np);
        if (np == NULL)
            return NAOS_ENOMEM;
        n->peers = np;
        n->cap = ncap;
    }
    struct net_peer *p = naos_alloc(sizeof *p);
    if (p == NULL)
        return NAOS_ENOMEM;
    memset(p, 0, sizeof *p);
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    p->inbox = &n->inbox;
    atomic_init(&p->closing, false);
    int rv = nng_push0_open(&p->sock);
    if (rv != 0) {
        naos_free(p);
        return nng_to_naos(rv);
    }
    nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, NET_SENDBUF);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMINT, 100);
    nng_socket_set_ms(p->sock, NNG_OPT_RECONNMAXT, 1000);
    nng_socket_set_bool(p->sock, NNG_OPT_TCP_NODELAY, true);
    nng_socket_set_bool(p->sock, NNG_OPT_TCP_KEEPALIVE, true);
    if ((rv = nng_pipe_notify(p->sock, NNG_PIPE_EV_REM_POST, on_pipe_rem,
                              p)) != 0 ||
        (rv = nng_dial(p->sock, addr, NULL, NNG_FLAG_NONBLOCK)) != 0) {
        peer_close(p);
        return nng_to_naos(rv);
    }
    n->peers[n->npeers++] = p;
    n->stats.peers_open = n->npeers;
    *out = p;
    return NAOS_OK;
}

int
net_dial(struct net *n, const char *addr)
{
    struct net_peer *p = peer_find(n, addr, NULL);
    int rc = p ? NAOS_OK : peer_open(n, addr, &p);
    if (rc == NAOS_OK)
        p->used = naos_clock_now();
    return rc;
}

int
net_send(struct net *n, const char *addr, const uint8_t *data, size_t len)
{
    struct net_peer *p = peer_find(n, addr, NULL);
    int rc = NAOS_OK;
    if (p == NULL)
        rc = peer_open(n, addr, &p);
    if (rc == NAOS_OK) {
        p->used = naos_clock_now();
        int rv = nng_send(p->sock, (void *)data, len, NNG_FLAG_NONBLOCK);
        rc = nng_to_naos(rv);
    }
    if (rc != NAOS_OK) {
        n->stats.dropped_out++;
        return rc;
    }
    n->stats.msgs_out++;
    n->stats.bytes_out += len;
    return NAOS_OK;
}

void
net_forget(struct net *n, const char *addr)
{
    size_t i;
    struct net_peer *p = peer_find(n, addr, &i);
    if (p == NULL)
        return;
    n->peers[i] = n->peers[--n->npeers];
    n->stats.peers_open = n->npeers;
    peer_close(p);
}

void
net_prune(struct net *n, net_keep_fn keep, void *arg, naos_duration linger_ms)
{
    naos_time now = naos_clock_now();
    for (size_t i = 0; i < n->npeers;) {
        struct net_peer *p = n->peers[i];
        if (now - p->used < (naos_time)linger_ms || keep(arg, p->addr)) {
            i++;
            continue;
        }
        n->peers[i] = n->peers[--n->npeers]; /* slot i is looked at again */
        peer_close(p);
    }
    n->stats.peers_open = n->npeers;
}

const struct net_stats *
net_stats_get(const struct net *n)
{
    return &n->stats;
}

static int
tp_send(void *impl, const char *addr, const uint8_t *data, size_t len)
{
    return net_send(impl, addr, data, len);
}

static int
tp_dial(void *impl, const char *addr)
{
    return net_dial(impl, addr);
}

static void
tp_prune(void *impl, net_keep_fn keep, void *arg, naos_duration linger_ms)
{
    net_prune(impl, keep, arg, linger_ms);
}

static const struct net_stats *
tp_stats(void *impl)
{
    return net_stats_get(impl);
}

void
net_transport_nng(struct net *n, struct net_transport *t)
{
    t->version = NET_TRANSPORT_VERSION;
    t->impl = n;
    t->send = tp_send;
    t->dial = tp_dial;
    t->prune = tp_prune;
    t->stats = tp_stats;
}
