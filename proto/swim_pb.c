/* SPDX-License-Identifier: Apache-2.0 */
/* swim_pb.c: struct swim_msg <-> naos.v1.SwimMsg, and the health blob. */
#include "proto/swim_pb.h"

#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/gossip.pb-c.h"
#include "proto/spec_pb.h"

/* A packed message carries at most this many bytes (a full sync of
 * SWIM_MAX_MEMBERS stays below it; see swim.h). */
#define SWIM_PB_MAX_BYTES (1u << 20)

static char *
str_or_empty(const char *s)
{
    return (char *)(s ? s : "");
}

/* Builds the protobuf view of m; the update structs and pointer array are
 * naos_alloc'd into *ups / *upp (freed by pb_view_free). */
static int
pb_view(const struct swim_msg *m, Naos__V1__SwimMsg *pm,
        Naos__V1__SwimUpdate **ups, Naos__V1__SwimUpdate ***upp,
        uint64_t **wants)
{
    naos__v1__swim_msg__init(pm);
    *ups = NULL;
    *upp = NULL;
    *wants = NULL;
    pm->seq = m->seq;
    pm->target = m->target.v;
    pm->target_addr = str_or_empty(m->target_addr);
    pm->join = m->join;
    pm->view_hash = m->view_hash;
    size_t n = m->updates ? m->nupdates : 0;
    if (n) {
        *ups = naos_alloc(n * sizeof **ups);
        *upp = naos_alloc(n * sizeof **upp);
        if (*ups == NULL || *upp == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            const struct swim_update *u = &m->updates[i];
            Naos__V1__SwimUpdate *pu = &(*ups)[i];
            naos__v1__swim_update__init(pu);
            pu->kind = (uint32_t)u->kind;
            pu->id = u->id.v;
            pu->incarnation = u->incarnation;
            pu->from = u->from.v;
            pu->name = str_or_empty(u->name);
            pu->addr = str_or_empty(u->addr);
            pu->health_inc = u->health_inc;
            pu->health_ver = u->health_ver;
            pu->health_sub = u->health_sub;
            pu->health.data = (uint8_t *)(u->health_len ? u->health : NULL);
            pu->health.len = u->health ? u->health_len : 0;
            pu->full = u->full;
            (*upp)[i] = pu;
        }
        pm->n_updates = n;
        pm->updates = *upp;
    }
    size_t nw = m->wants ? m->nwants : 0;
    if (nw) {
        *wants = naos_alloc(nw * sizeof **wants);
        if (*wants == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < nw; i++)
            (*wants)[i] = m->wants[i].v;
        pm->n_wants = nw;
        pm->wants = *wants;
    }
    return NAOS_OK;
}

static void
pb_view_free(Naos__V1__SwimUpdate *ups, Naos__V1__SwimUpdate **upp,
             uint64_t *wants)
{
    naos_free(ups);
    naos_free(upp);
    naos_free(wants);
}

size_t
swim_pb_packed_size(const struct swim_msg *m)
{
    Naos__V1__SwimMsg pm;
    Naos__V1__SwimUpdate *ups, **upp;
    uint64_t *wants;
    size_t n = 0;
    if (pb_view(m, &pm, &ups, &upp, &wants) == NAOS_OK)
        n = naos__v1__swim_msg__get_packed_size(&pm);
    pb_view_free(ups, upp, wants);
    return n;
}

int
swim_pb_pack(const struct swim_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
    Naos__V1__SwimMsg pm;
    Naos__V1__SwimUpdate *ups, **upp;
    uint64_t *wants;
    int rc = pb_view(m, &pm, &ups, &upp, &wants);
    if (rc == NAOS_OK) {
        size_t need = naos__v1__swim_msg__get_packed_size(&pm);
        if (need > cap)
            rc = NAOS_ETOOBIG;
        else
            *len = naos__v1__swim_msg__pack(&pm, buf);
    }
    pb_view_free(ups, upp, wants);
    return rc;
}

void
swim_pb_msg_fini(struct swim_pb_msg *m)
{
    if (m->pb)
        naos__v1__swim_msg__free_unpacked(m->pb, &spec_pb_allocator);
    naos_free(m->updates);
    naos_free(m->wants);
    memset(m, 0, sizeof *m);
}

/* A proto3 string from the wire: protobuf-c NUL-terminates it, but it may
 * hold an embedded NUL; we only bound its length (the core copies with
 * the same bound). NULL when empty. */
static int
bounded_str(const char *s, size_t max, const char **out)
{
    *out = NULL;
    if (s == NULL || s[0] == '\0')
        return NAOS_OK;
    if (strnlen(s, max) >= max)
        return NAOS_EPROTO;
    *out = s;
    return NAOS_OK;
}

int
swim_pb_unpack(struct swim_pb_msg *out, uint32_t type, const uint8_t *buf,
               size_t len)
{
    memset(out, 0, sizeof *out);
    if (type < SWIM_MSG_PING || type > SWIM_MSG_TYPE_MAX ||
        len > SWIM_PB_MAX_BYTES)
        return NAOS_EPROTO;
    Naos__V1__SwimMsg *pm =
        naos__v1__swim_msg__unpack(&spec_pb_allocator, len, buf);
    if (pm == NULL)
        return NAOS_EPROTO; /* also on ENOMEM: dropped either way */
    out->pb = pm;
    if (pm->n_updates > SWIM_MAX_SYNC || pm->n_wants > SWIM_MAX_SYNC)
        return NAOS_EPROTO;
    struct swim_msg *m = &out->msg;
    m->type = (enum swim_msg_type)type;
    m->seq = pm->seq;
    m->target.v = pm->target;
    m->join = pm->join;
    m->view_hash = pm->view_hash;
    if (bounded_str(pm->target_addr, SWIM_ADDR_MAX, &m->target_addr) !=
        NAOS_OK)
        return NAOS_EPROTO;
    if (pm->n_updates) {
        out->updates = naos_alloc(pm->n_updates * sizeof *out->updates);
        if (out->updates == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < pm->n_updates; i++) {
            const Naos__V1__SwimUpdate *pu = pm->updates[i];
            struct swim_update *u = &out->updates[i];
            memset(u, 0, sizeof *u);
            if (pu->kind > 0xff || pu->health.len > SWIM_HEALTH_MAX)
                return NAOS_EPROTO;
            u->kind = (enum swim_upd_kind)pu->kind;
            u->id.v = pu->id;
            u->incarnation = pu->incarnation;
            u->from.v = pu->from;
            if (bounded_str(pu->name, SWIM_NAME_MAX, &u->name) != NAOS_OK ||
                bounded_str(pu->addr, SWIM_ADDR_MAX, &u->addr) != NAOS_OK)
                return NAOS_EPROTO;
            u->health_inc = pu->health_inc;
            u->health_ver = pu->health_ver;
            u->health_sub = pu->health_sub;
            u->health_len = pu->health.len;
            u->health = pu->health.len ? pu->health.data : NULL;
            u->full = pu->full;
        }
        m->updates = out->updates;
        m->nupdates = pm->n_updates;
    }
    if (pm->n_wants) {
        out->wants = naos_alloc(pm->n_wants * sizeof *out->wants);
        if (out->wants == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < pm->n_wants; i++)
            out->wants[i].v = pm->wants[i];
        m->wants = out->wants;
        m->nwants = pm->n_wants;
    }
    return NAOS_OK;
}

int
swim_pb_health_pack(const struct swim_health *h, uint8_t *buf, size_t cap,
                    size_t *len)
{
    Naos__V1__NodeHealth ph = NAOS__V1__NODE_HEALTH__INIT;
    ph.agents_running = h->agents_running;
    ph.agents_restarting = h->agents_restarting;
    ph.agents_failed = h->agents_failed;
    ph.deployments = h->deployments;
    ph.load_centi = h->load_centi;
    ph.agents_node_trouble = h->agents_node_trouble;
    ph.deployments_failed = h->deployments_failed;
    ph.bootstrap_expect = h->bootstrap_expect;
    ph.no_voter = h->no_voter;
    if (h->nvoters > SWIM_HEALTH_VOTERS_MAX)
        return NAOS_EINVAL;
    ph.n_voters = h->nvoters;
    ph.voters = (uint64_t *)h->voters;
    char lerr[256];
    if (h->nlabels > SPEC_LABELS_MAX ||
        spec_labels_check(h->labels, h->nlabels, lerr, sizeof lerr) !=
            NAOS_OK)
        return NAOS_EINVAL;
    Naos__V1__NodeLabel pl[SPEC_LABELS_MAX], *pp[SPEC_LABELS_MAX];
    for (size_t i = 0; i < h->nlabels; i++) {
        naos__v1__node_label__init(&pl[i]);
        pl[i].key = (char *)h->labels[i].key;
        pl[i].value = (char *)h->labels[i].value;
        pp[i] = &pl[i];
    }
    ph.n_labels = h->nlabels;
    ph.labels = pp;
    if (naos__v1__node_health__get_packed_size(&ph) > cap)
        return NAOS_ETOOBIG;
    *len = naos__v1__node_health__pack(&ph, buf);
    return NAOS_OK;
}

int
swim_pb_health_unpack(struct swim_health *h, const uint8_t *buf, size_t len)
{
    memset(h, 0, sizeof *h);
    if (len > SWIM_HEALTH_MAX)
        return NAOS_EPROTO;
    Naos__V1__NodeHealth *ph =
        naos__v1__node_health__unpack(&spec_pb_allocator, len, buf);
    if (ph == NULL)
        return NAOS_EPROTO;
    h->agents_running = ph->agents_running;
    h->agents_restarting = ph->agents_restarting;
    h->agents_failed = ph->agents_failed;
    h->deployments = ph->deployments;
    h->load_centi = ph->load_centi;
    h->agents_node_trouble = ph->agents_node_trouble;
    h->deployments_failed = ph->deployments_failed;
    h->bootstrap_expect = ph->bootstrap_expect;
    h->no_voter = ph->no_voter;
    bool bad = ph->n_voters > SWIM_HEALTH_VOTERS_MAX;
    for (size_t i = 0; !bad && i < ph->n_voters; i++) {
        bad = ph->voters[i] == 0;
        h->voters[i] = ph->voters[i];
    }
    h->nvoters = bad ? 0 : (uint32_t)ph->n_voters;
    /* labels: each within label.h's bounds, no key twice, all together
     * within SPEC_LABELS_TEXT_MAX; anything else makes the health bad */
    bad = bad || ph->n_labels > SPEC_LABELS_MAX;
    for (size_t i = 0; !bad && i < ph->n_labels; i++) {
        const char *k = ph->labels[i]->key ? ph->labels[i]->key : "";
        const char *v = ph->labels[i]->value ? ph->labels[i]->value : "";
        char lerr[256];
        struct spec_label one;
        size_t nl = h->nlabels;
        bad = spec_label_set(&one, k, strlen(k), v, strlen(v), lerr,
                             sizeof lerr) != NAOS_OK ||
              spec_labels_add(h->labels, &nl, &one, lerr, sizeof lerr) !=
                  NAOS_OK;
        h->nlabels = (uint32_t)nl;
    }
    naos__v1__node_health__free_unpacked(ph, &spec_pb_allocator);
    if (bad) {
        memset(h, 0, sizeof *h);
        return NAOS_EPROTO;
    }
    return NAOS_OK;
}
