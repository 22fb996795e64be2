/* SPDX-License-Identifier: Apache-2.0 */
/* lease.c: lease accounting (lease.h). */
#include "node/root/lease.h"

#include <stdio.h>
#include <string.h>

#include "node/base/err.h"

int
lease_config_check(const struct lease_config *c, char *err, size_t errlen)
{
    if (c->length < 100 || c->length > 3600 * 1000)
        snprintf(err, errlen, "lease length %lld ms (100 ms..1 h)",
                 (long long)c->length);
    else if (c->guard_margin < 0 || c->guard_margin >= c->length)
        snprintf(err, errlen, "guard margin %lld ms (0..length)",
                 (long long)c->guard_margin);
    else if (c->margin < 0 || c->margin > c->length)
        snprintf(err, errlen, "margin %lld ms (0..length)",
                 (long long)c->margin);
    else if (c->renew_every < 1 || c->renew_every * 3 > c->length)
        snprintf(err, errlen, "renewal every %lld ms (at most a third of "
                 "the lease, %lld ms)", (long long)c->renew_every,
                 (long long)c->length / 3);
    else if (c->drift_ppm > 100000)
        snprintf(err, errlen, "clock drift %u ppm (at most 100000)",
                 c->drift_ppm);
    else
        return NAOS_OK;
    return NAOS_EINVAL;
}

/* ---- the holder ---------------------------------------------------------- */

void
lease_holder_init(struct lease_holder *h, const struct lease_config *c)
{
    memset(h, 0, sizeof *h);
    h->cfg = *c;
    h->next_id = 1;
}

bool
lease_holder_due(const struct lease_holder *h, naos_time now)
{
    return now >= lease_holder_next(h, now);
}

naos_time
lease_holder_next(const struct lease_holder *h, naos_time now)
{
    if (h->asked_id != 0)
        return h->asked_at + (naos_time)h->cfg.renew_every; /* ask again */
    if (h->expiry == 0)
        return now;
    return h->held_from + (naos_time)h->cfg.renew_every;
}

uint64_t
lease_holder_request(struct lease_holder *h, naos_time now)
{
    h->asked_id = h->next_id++;
    h->asked_at = now;
    h->asks[h->asked_id % LEASE_HOLDER_ASKS].id = h->asked_id;
    h->asks[h->asked_id % LEASE_HOLDER_ASKS].at = now;
    return h->asked_id;
}

bool
lease_holder_granted(struct lease_holder *h, uint64_t id)
{
    if (id == 0 || h->asks[id % LEASE_HOLDER_ASKS].id != id)
        return false;
    naos_time at = h->asks[id % LEASE_HOLDER_ASKS].at;
    naos_time e = at + (naos_time)h->cfg.length;
    if (e > h->expiry)
        h->expiry = e;
    if (at > h->held_from)
        h->held_from = at;
    /* answered: it and every older one (their leases end sooner) */
    for (size_t k = 0; k < LEASE_HOLDER_ASKS; k++)
        if (h->asks[k].id != 0 && h->asks[k].id <= id)
            h->asks[k].id = 0;
    if (h->asked_id != 0 && h->asked_id <= id)
        h->asked_id = 0;
    return true;
}

bool
lease_holder_valid(const struct lease_holder *h, naos_time now)
{
    return h->expiry != 0 && now < h->expiry;
}

naos_time
lease_holder_guard_deadline(const struct lease_holder *h)
{
    return h->expiry ? h->expiry - (naos_time)h->cfg.guard_margin : 0;
}

/* ---- the leader ---------------------------------------------------------- */

void
lease_leader_start(struct lease_leader *l, const struct lease_config *c,
                   naos_time now)
{
    memset(l, 0, sizeof *l);
    l->cfg = *c;
    l->since = now;
}

static size_t
find(const struct lease_leader *l, uint64_t node)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->g[i].node == node)
            return i;
    return l->n;
}

int
lease_leader_grant(struct lease_leader *l, uint64_t node, naos_time now)
{
    size_t i = find(l, node);
    if (i == l->n) {
        if (l->n == LEASE_NODES_MAX)
            return NAOS_ETOOBIG;
        l->g[l->n].node = node;
        l->n++;
    }
    if (now > l->g[i].granted)
        l->g[i].granted = now;
    l->g[i].released = false;
    return NAOS_OK;
}

int
lease_leader_release(struct lease_leader *l, uint64_t node, naos_time now)
{
    (void)now; /* run out from now: no later instant needs recording */
    size_t i = find(l, node);
    if (i == l->n) {
        if (l->n == LEASE_NODES_MAX)
            return NAOS_ETOOBIG;
        l->g[l->n] = (__typeof__(l->g[0])){.node = node};
        l->n++;
    }
    l->g[i].released = true;
    return NAOS_OK;
}

naos_time
lease_leader_expiry(const struct lease_leader *l, uint64_t node)
{
    size_t i = find(l, node);
    if (i < l->n && l->g[i].released)
        return 0;
    naos_time from = i < l->n && l->g[i].granted > l->since ? l->g[i].granted
                                                             : l->since;
    naos_time len = (naos_time)l->cfg.length;
    /* length * (1 + drift), rounded up */
    naos_time stretched = len + (len * l->cfg.drift_ppm + 999999) / 1000000;
    return from + stretched + (naos_time)l->cfg.margin;
}

bool
lease_leader_expired(const struct lease_leader *l, uint64_t node,
                     naos_time now)
{
    return now >= lease_leader_expiry(l, node);
}

void
lease_leader_forget(struct lease_leader *l, uint64_t node)
{
    size_t i = find(l, node);
    if (i == l->n)
        return;
    l->g[i] = l->g[l->n - 1];
    l->n--;
}
