/* SPDX-License-Identifier: Apache-2.0 */
/* swim_sync.c: push-pull state exchange for swim.c (memberlist's
 * push/pull, made a digest exchange to keep idle traffic small).
 *
 *   A -> B  SYNC        A's own entry in full + a digest (id, state,
 *                       incarnation, health version) of every other member
 *   B -> A  SYNC_REPLY  full entries for members A lacks or holds an older
 *                       view of, + `wants`: ids A holds a newer view of
 *   A -> B  SYNC_FILL   full entries for B's wants (only if any)
 *
 * The periodic sync with a live member first sends only a hash of the
 * view (view_hash: every member's id, state, incarnation and significant
 * health version, combined order-independently) instead of the digests:
 *
 *   A -> B  SYNC        A's own entry in full + view_hash + the digests
 *                       of the members A suspects (so a suspected B
 *                       refutes at once, as with a full digest)
 *   B -> A  SYNC_REPLY  empty, when B's view hashes alike (steady state)
 *           SYNC        otherwise B's full digest: the exchange above, the
 *                       other way round, repairs both sides
 *
 * so a steady cluster's sync costs the same at any N (a digest is ~20 B
 * per member). A join is a SYNC with `join` set to a seed address: the
 * seed knows nothing of the joiner's view, so it sends everything; joins
 * and reconnects (to a dead member) always send digests.
 * Merging follows memberlist's mergeRemoteState: a `dead` claim about a
 * member we hold live becomes a suspicion (it may be stale, and the member
 * can refute a suspicion but not a death). */
#include "node/base/alloc.h"
#include "node/swim/swim_int.h"

/* apply_entry merges a full sync entry (memberlist's mergeRemoteState). */
static void
apply_entry(struct swim *s, const struct swim_update *e, struct swim_id sender,
            naos_time now)
{
    if (e->kind < SWIM_UPD_ALIVE || e->kind > SWIM_UPD_LEFT)
        return;
    enum swim_state st = (enum swim_state)(e->kind - 1);
    struct swim__mem *m = swim__find(s, e->id);
    struct swim_id from = e->from.v ? e->from : sender;
    if (m == NULL && (st == SWIM_DEAD || st == SWIM_LEFT)) {
        /* Never learn of a member that is gone (memberlist does not
         * either): we never knew it alive, or we reaped it, and learning
         * it again would restart its reap timer at every sync, so a peer
         * that reaps later would keep it circulating for ever. */
    } else if (m == NULL && st == SWIM_SUSPECT) {
        /* Learn of it as the peer holds it: it may well be alive. */
        if (e->addr == NULL || e->addr[0] == '\0')
            return;
        m = swim__mem_add(s, e->id, e->name, e->addr, SWIM_ALIVE,
                          e->incarnation, now);
        if (m == NULL)
            return;
        m->from = from;
        swim__order_insert(s, m);
        swim__on_suspect(s, e->id, e->incarnation, from, now);
    } else {
        switch (st) {
        case SWIM_ALIVE:
            swim__on_alive(s, e, now);
            break;
        case SWIM_SUSPECT:
            swim__on_suspect(s, e->id, e->incarnation, from, now);
            break;
        case SWIM_DEAD:
            if (m && swim__is_live(m) && !m->pub.is_self)
                swim__on_suspect(s, e->id, e->incarnation, from, now);
            else
                swim__on_dead(s, e->id, e->incarnation, from, SWIM_DEAD, now);
            break;
        case SWIM_LEFT:
            swim__on_dead(s, e->id, e->incarnation, from, SWIM_LEFT, now);
            break;
        }
    }
    if (e->health_inc || e->health_ver) {
        struct swim_update h = *e;
        h.kind = SWIM_UPD_HEALTH;
        swim__on_health(s, &h, now);
    }
}

/* sync_send sends a sync message of `type` carrying the entries in
 * extra and the ids in wants (both borrowed). */
static void
sync_send(struct swim *s, enum swim_msg_type type, struct swim_id to,
          const char *addr, bool join, const struct swim_update *extra,
          size_t nextra, const struct swim_id *wants, size_t nwants)
{
    struct swim_msg m = {.type = type,
                         .join = join,
                         .updates = extra,
                         .nupdates = nextra,
                         .wants = wants,
                         .nwants = nwants};
    swim__send_msg(s, to, addr, &m);
}

/* put64 appends v to buf at *at, little-endian. */
static void
put64(unsigned char *buf, size_t *at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        buf[(*at)++] = (unsigned char)(v >> (8 * i));
}

/* view_hash: the sum of the driver's digest of each member's entry (id,
 * state, incarnation, significant health version; self included), so the
 * member order does not matter; never 0 (0 means "no hash"). */
static uint64_t
view_hash(const struct swim *s)
{
    uint64_t h = 0;
    for (size_t i = 0; i < s->nmems; i++) {
        const struct swim_member *m = &s->mems[i]->pub;
        unsigned char e[33];
        size_t at = 0;
        put64(e, &at, m->id.v);
        put64(e, &at, m->incarnation);
        put64(e, &at, m->health_inc);
        put64(e, &at, m->health_ver);
        e[at++] = (unsigned char)m->state;
        h += s->io.digest(s->io.ctx, e, at);
    }
    return h ? h : 1;
}

void
swim__sync_request(struct swim *s, struct swim__mem *to, const char *addr,
                   bool join, bool digest)
{
    struct swim_id id = to ? to->pub.id : (struct swim_id){0};
    if (to)
        addr = to->pub.addr;
    size_t n = s->nmems;
    struct swim_update *e = naos_alloc(n * sizeof(*e));
    if (e == NULL)
        return;
    size_t k = 0;
    swim__fill_entry(s->self, true, &e[k++]);
    for (size_t i = 0; i < n; i++) {
        const struct swim__mem *m = s->mems[i];
        if (!m->pub.is_self && (digest || m->pub.state == SWIM_SUSPECT))
            swim__fill_entry(m, false, &e[k++]);
    }
    struct swim_msg m = {.type = SWIM_MSG_SYNC,
                         .join = join,
                         .updates = e,
                         .nupdates = k,
                         .view_hash = digest ? 0 : view_hash(s)};
    swim__send_msg(s, id, addr, &m);
    naos_free(e);
}

/* refute_digest refutes a digest entry e about ourselves (me) that claims
 * we are not alive, or alive with a newer incarnation. */
static void
refute_digest(struct swim *s, const struct swim__mem *me,
              const struct swim_update *e, naos_time now)
{
    enum swim_state st = (enum swim_state)(e->kind - 1);
    if ((st != SWIM_ALIVE && e->incarnation >= me->pub.incarnation) ||
        e->incarnation > me->pub.incarnation)
        swim__refute(s, e->incarnation, now);
}

/* on_hash_sync answers a SYNC that carries a view hash: an empty reply
 * when our view (with the sender's own entry applied) hashes alike, else
 * our digest, which starts the full exchange from our side. */
static void
on_hash_sync(struct swim *s, const char *from_addr, const struct swim_msg *msg,
             naos_time now)
{
    for (size_t i = 0; i < msg->nupdates; i++) {
        const struct swim_update *e = &msg->updates[i];
        if (e->kind < SWIM_UPD_ALIVE || e->kind > SWIM_UPD_LEFT)
            continue;
        if (e->full)
            apply_entry(s, e, msg->from, now);
        else if (e->id.v == s->self->pub.id.v)
            refute_digest(s, s->self, e, now);
    }
    struct swim__mem *sender = swim__find(s, msg->from);
    if (view_hash(s) == msg->view_hash)
        sync_send(s, SWIM_MSG_SYNC_REPLY, msg->from,
                  sender && sender->pub.addr[0] ? sender->pub.addr
                                                : from_addr,
                  false, NULL, 0, NULL, 0);
    else
        swim__sync_request(s, sender, sender ? NULL : from_addr, false, true);
}

static bool
entry_newer(const struct swim__mem *m, const struct swim_update *e)
{
    enum swim_state st = (enum swim_state)(e->kind - 1);
    return swim__state_newer(m->pub.incarnation, m->pub.state, e->incarnation,
                         st) ||
           swim__health_newer(m->pub.health_inc, m->pub.health_ver,
                              e->health_inc, e->health_ver);
}

/* digest_newer: the peer's digest entry e is newer than our m. */
static bool
digest_newer(const struct swim_update *e, const struct swim__mem *m)
{
    return swim__state_newer(e->incarnation, (enum swim_state)(e->kind - 1),
                         m->pub.incarnation, m->pub.state) ||
           swim__health_newer(e->health_inc, e->health_ver, m->pub.health_inc,
                        m->pub.health_ver);
}

void
swim__on_sync(struct swim *s, struct swim__mem *sender, const char *from_addr,
              const struct swim_msg *msg, naos_time now)
{
    if (msg->type == SWIM_MSG_SYNC && msg->view_hash && !msg->join) {
        on_hash_sync(s, from_addr, msg, now);
        return;
    }
    uint32_t mark = ++s->mark;
    struct swim_id *wants = NULL;
    size_t nwants = 0;
    if (msg->type == SWIM_MSG_SYNC && msg->nupdates)
        wants = naos_alloc(msg->nupdates * sizeof(*wants));
    for (size_t i = 0; i < msg->nupdates; i++) {
        const struct swim_update *e = &msg->updates[i];
        if (e->kind < SWIM_UPD_ALIVE || e->kind > SWIM_UPD_LEFT)
            continue;
        if (e->full) {
            apply_entry(s, e, msg->from, now);
        } else {
            struct swim__mem *m = swim__find(s, e->id);
            if (m && m->pub.is_self) {
                refute_digest(s, m, e, now);
            } else if (wants && m == NULL && e->kind != SWIM_UPD_ALIVE &&
                       e->kind != SWIM_UPD_SUSPECT) {
                /* Gone, and unknown to us: nothing to ask for (see
                 * apply_entry). */
            } else if (wants && (m == NULL || digest_newer(e, m))) {
                wants[nwants++] = e->id;
            }
        }
        struct swim__mem *m = swim__find(s, e->id);
        if (m) {
            /* Seen: only members the peer holds an older view of (or
             * lacks) go back in full. */
            m->mark = entry_newer(m, e) ? 0 : mark;
        }
    }
    if (sender == NULL)
        sender = swim__find(s, msg->from);

    if (msg->type == SWIM_MSG_SYNC) {
        size_t cap = s->nmems;
        struct swim_update *e = naos_alloc((cap ? cap : 1) * sizeof(*e));
        if (e) {
            size_t k = 0;
            for (size_t i = 0; i < s->nmems && k < SWIM_MAX_SYNC; i++) {
                struct swim__mem *m = s->mems[i];
                if (m->mark != mark)
                    swim__fill_entry(m, true, &e[k++]);
            }
            sync_send(s, SWIM_MSG_SYNC_REPLY, msg->from,
                      sender && sender->pub.addr[0] ? sender->pub.addr
                                                    : from_addr,
                      false, e, k, wants, nwants);
            naos_free(e);
        }
    } else if (msg->type == SWIM_MSG_SYNC_REPLY) {
        if (s->joining) {
            s->joining = false;
            s->joined = true;
            swim__event(s, SWIM_EV_JOINED, msg->from, now);
        }
        size_t nw = msg->nwants < SWIM_MAX_SYNC ? msg->nwants : SWIM_MAX_SYNC;
        if (nw && msg->wants) {
            struct swim_update *e = naos_alloc(nw * sizeof(*e));
            if (e) {
                size_t k = 0;
                for (size_t i = 0; i < nw; i++) {
                    struct swim__mem *m = swim__find(s, msg->wants[i]);
                    if (m && m->mark != mark + 1) {
                        m->mark = mark + 1; /* once each */
                        swim__fill_entry(m, true, &e[k++]);
                    }
                }
                if (k)
                    sync_send(s, SWIM_MSG_SYNC_FILL, msg->from,
                              sender && sender->pub.addr[0]
                                  ? sender->pub.addr
                                  : from_addr,
                              false, e, k, NULL, 0);
                naos_free(e);
            }
            s->mark++;
        }
    }
    naos_free(wants);
}

