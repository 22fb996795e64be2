/* SPDX-License-Identifier: Apache-2.0 */
/* seal.c: seal and open envelopes (XChaCha20-Poly1305-IETF AEAD) with a
 * per-sender replay window. The order of the checks in auth_open is part
 * of the contract (seal.h): cheap, key-free checks first so garbage costs
 * little; authentication before anything from the envelope is trusted; the
 * replay window is changed only by a message that passed everything. */
#include "node/auth/seal.h"

#include <protobuf-c/protobuf-c.h>
#include <sodium.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/wire.pb-c.h"

_Static_assert(AUTH_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
               "XChaCha20 nonce size");
_Static_assert(AUTH_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES,
               "Poly1305 tag size");
_Static_assert(AUTH_REPLAY_WINDOW == 128, "the window is two u64 words");
_Static_assert(AUTH_MAX_ENVELOPE > AUTH_MAX_PAYLOAD, "overhead");

static const char ad_magic[8] = {'n', 'a', 'o', 's', '-', 'e', 'n', 'v'};

/* The replay window of one sender (RFC 4303 §3.4.3 style, 128 bits): bit i
 * of `bits` set means counter top - i was accepted. */
struct auth__window {
    uint64_t top;
    uint64_t bits[2]; /* [0]: i = 0..63, [1]: i = 64..127 */
    int64_t last_ms;  /* our wall clock at the last accepted envelope */
    bool dirty;       /* top moved since auth_replay_take: in pending */
};

static void *
pb_alloc(void *ud, size_t n)
{
    (void)ud;
    return naos_alloc(n);
}

static void
pb_free(void *ud, void *p)
{
    (void)ud;
    naos_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

const char *
auth_reason_str(enum auth_reason r)
{
    static const char *const names[AUTH_R__COUNT] = {
        [AUTH_R_NONE] = "none",
        [AUTH_R_OVERSIZED] = "oversized",
        [AUTH_R_UNDECODABLE] = "undecodable",
        [AUTH_R_VERSION] = "bad-version",
        [AUTH_R_CLUSTER] = "wrong-cluster",
        [AUTH_R_UNKNOWN_KEY] = "unknown-key",
        [AUTH_R_BAD_MAC] = "bad-mac",
        [AUTH_R_STALE] = "stale",
        [AUTH_R_FUTURE] = "future",
        [AUTH_R_REPLAY] = "replay",
        [AUTH_R_TOO_OLD] = "too-old",
        [AUTH_R_BAD_PAYLOAD] = "bad-payload",
        [AUTH_R_NOMEM] = "no-memory",
    };
    if ((unsigned)r >= AUTH_R__COUNT)
        return "unknown";
    return names[r];
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* make_ad lays out the header as associated data (seal.h). */
static void
make_ad(uint8_t ad[AUTH_AD_BYTES], uint32_t version, uint32_t key_id,
        uint64_t cluster_id, uint64_t sender, uint64_t counter,
        int64_t sent_at_ms)
{
    memcpy(ad, ad_magic, 8);
    put_be32(ad + 8, version);
    put_be32(ad + 12, key_id);
    put_be64(ad + 16, cluster_id);
    put_be64(ad + 24, sender);
    put_be64(ad + 32, counter);
    put_be64(ad + 40, (uint64_t)sent_at_ms);
}

void
auth_sender_init(struct auth_sender *s, uint64_t id, uint64_t first)
{
    s->id = id;
    s->next = first;
}

void
auth_replay_init(struct auth_replay *rp, int64_t max_skew_ms)
{
    memset(rp, 0, sizeof *rp);
    rp->max_skew_ms = max_skew_ms > 0 ? max_skew_ms : AUTH_DEFAULT_MAX_SKEW_MS;
}

void
auth_replay_fini(struct auth_replay *rp)
{
    for (size_t i = 0; i < rp->senders.cap; i++)
        naos_free(rp->senders.slots[i].val);
    idmap_fini(&rp->senders);
    memset(&rp->senders, 0, sizeof rp->senders);
    naos_free(rp->pending);
    rp->pending = NULL;
    rp->npending = rp->pending_cap = 0;
}

/* pending_reserve makes room for k more pending entries, so that an
 * accepted envelope can always be reported. */
static int
pending_reserve(struct auth_replay *rp, size_t k)
{
    if (rp->npending + k <= rp->pending_cap)
        return NAOS_OK;
    size_t ncap = rp->pending_cap ? rp->pending_cap * 2 : 16;
    while (ncap < rp->npending + k)
        ncap *= 2;
    uint64_t *p = naos_realloc(rp->pending, ncap * sizeof *p);
    if (p == NULL)
        return NAOS_ENOMEM;
    rp->pending = p;
    rp->pending_cap = ncap;
    return NAOS_OK;
}

/* drop removes sender's window and reports it gone (room reserved, or a
 * report lost to a lack of memory: the stored mark then outlives the
 * window, which only makes the receiver stricter). */
static void
drop(struct auth_replay *rp, uint64_t sender, struct auth__window *w)
{
    idmap_del(&rp->senders, sender);
    naos_free(w);
    if (pending_reserve(rp, 1) == NAOS_OK)
        rp->pending[rp->npending++] = sender;
}

void
auth_replay_forget(struct auth_replay *rp, uint64_t sender)
{
    struct auth__window *w = idmap_get(&rp->senders, sender);
    if (w)
        drop(rp, sender, w);
}

int
auth_replay_restore(struct auth_replay *rp, const struct auth_replay_mark *m)
{
    if (m->sender == 0)
        return NAOS_EINVAL;
    struct auth__window *w = idmap_get(&rp->senders, m->sender);
    if (w == NULL) {
        if (rp->senders.len >= AUTH_REPLAY_MAX_SENDERS)
            return NAOS_EBUSY;
        if ((w = naos_alloc(sizeof *w)) == NULL)
            return NAOS_ENOMEM;
        memset(w, 0, sizeof *w);
        if (idmap_put(&rp->senders, m->sender, w) != NAOS_OK) {
            naos_free(w);
            return NAOS_ENOMEM;
        }
    } else if (w->top > m->top) {
        return NAOS_OK;
    }
    /* Every counter up to top counts as seen: which of the last 128 were
     * accepted was not kept, and refusing one that was not costs a lost
     * message at most. */
    w->top = m->top;
    w->bits[0] = w->bits[1] = UINT64_MAX;
    if (m->last_ms > w->last_ms)
        w->last_ms = m->last_ms;
    return NAOS_OK;
}

size_t
auth_replay_pending(const struct auth_replay *rp)
{
    return rp->npending;
}

size_t
auth_replay_take(struct auth_replay *rp, struct auth_replay_mark *out,
                 size_t cap)
{
    size_t k = 0, i = 0;
    for (; i < rp->npending && k < cap; i++) {
        uint64_t id = rp->pending[i];
        struct auth__window *w = idmap_get(&rp->senders, id);
        if (w != NULL && !w->dirty)
            continue; /* reported already by an earlier entry */
        out[k].sender = id;
        out[k].gone = w == NULL;
        out[k].top = w ? w->top : 0;
        out[k].last_ms = w ? w->last_ms : 0;
        if (w)
            w->dirty = false;
        k++;
    }
    memmove(rp->pending, rp->pending + i,
            (rp->npending - i) * sizeof *rp->pending);
    rp->npending -= i;
    return k;
}

/* evict_idle frees the slot of the sender heard from least recently if
 * that was more than 2 * max_skew before now_ms: every envelope accepted
 * from it was sent no later than last_ms + max_skew (freshness), so it is
 * stale now and its window protects nothing. Returns whether a slot was
 * freed. */
static bool
evict_idle(struct auth_replay *rp, int64_t now_ms)
{
    struct auth__window *lru = NULL;
    uint64_t lru_id = 0;
    for (size_t i = 0; i < rp->senders.cap; i++) {
        struct auth__window *w = rp->senders.slots[i].val;
        if (w && (lru == NULL || w->last_ms < lru->last_ms)) {
            lru = w;
            lru_id = rp->senders.slots[i].key;
        }
    }
    if (lru == NULL || now_ms - lru->last_ms <= 2 * rp->max_skew_ms)
        return false;
    drop(rp, lru_id, lru);
    return true;
}

void
auth_msg_fini(struct auth_msg *m)
{
    static const struct auth_msg zero = AUTH_MSG_ZERO;
    naos_free(m->payload);
    *m = zero;
}

int
auth_seal(const struct auth_keyring *kr, struct auth_sender *s,
          int64_t now_ms, uint32_t type, const void *payload, size_t len,
          uint8_t *out, size_t cap, size_t *outlen, struct auth_stats *stats)
{
    uint32_t key_id;
    int rv;

    if (type == 0 || s->next == UINT64_MAX || (payload == NULL && len > 0))
        return NAOS_EINVAL;
    if (len > AUTH_MAX_PAYLOAD)
        return NAOS_ETOOBIG;
    if (auth_keyring_primary(kr, &key_id) != NAOS_OK)
        return NAOS_ENOTFOUND;
    const unsigned char *key = auth_keyring_lookup(kr, key_id);
    NAOS_ASSERT(key != NULL);

    Naos__V1__Sealed sealed = NAOS__V1__SEALED__INIT;
    sealed.type = type;
    sealed.payload.data = (uint8_t *)payload;
    sealed.payload.len = len;
    size_t ptlen = naos__v1__sealed__get_packed_size(&sealed);
    size_t ctlen = ptlen + AUTH_TAG_BYTES;
    uint8_t *buf = naos_alloc(ptlen + ctlen);
    if (buf == NULL)
        return NAOS_ENOMEM;
    uint8_t *pt = buf, *ct = buf + ptlen;
    NAOS_ASSERT(naos__v1__sealed__pack(&sealed, pt) == ptlen);

    uint8_t nonce[AUTH_NONCE_BYTES];
    randombytes_buf(nonce, sizeof nonce);
    uint8_t ad[AUTH_AD_BYTES];
    make_ad(ad, AUTH_ENVELOPE_VERSION, key_id, kr->cluster_id, s->id, s->next,
            now_ms);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, ptlen, ad,
                                               sizeof ad, NULL, nonce, key);
    NAOS_ASSERT(clen == ctlen);

    Naos__V1__Envelope env = NAOS__V1__ENVELOPE__INIT;
    env.version = AUTH_ENVELOPE_VERSION;
    env.key_id = key_id;
    env.sender = s->id;
    env.counter = s->next;
    env.sent_at_ms = now_ms;
    env.nonce.data = nonce;
    env.nonce.len = sizeof nonce;
    env.ciphertext.data = ct;
    env.ciphertext.len = ctlen;
    env.cluster_id = kr->cluster_id;
    size_t need = naos__v1__envelope__get_packed_size(&env);
    NAOS_ASSERT(need <= len + AUTH_SEAL_OVERHEAD);
    if (need > cap) {
        rv = NAOS_ETOOBIG;
        goto out;
    }
    NAOS_ASSERT(naos__v1__envelope__pack(&env, out) == need);
    *outlen = need;
    s->next++;
    if (stats)
        stats->sealed++;
    rv = NAOS_OK;
out:
    sodium_memzero(buf, ptlen);
    naos_free(buf);
    return rv;
}

/* window_check: would counter c from w be accepted? (w may be NULL: a
 * sender never heard from.) Changes nothing. */
static enum auth_reason
window_check(const struct auth__window *w, uint64_t c)
{
    if (w == NULL || c > w->top)
        return AUTH_R_NONE;
    uint64_t d = w->top - c;
    if (d >= AUTH_REPLAY_WINDOW)
        return AUTH_R_TOO_OLD;
    if (w->bits[d / 64] >> (d % 64) & 1)
        return AUTH_R_REPLAY;
    return AUTH_R_NONE;
}

/* window_commit records c in w; window_check(w, c) must have passed. */
static void
window_commit(struct auth__window *w, uint64_t c)
{
    if (c > w->top) {
        uint64_t s = c - w->top;
        if (s >= AUTH_REPLAY_WINDOW) {
            w->bits[0] = w->bits[1] = 0;
        } else if (s >= 64) {
            w->bits[1] = w->bits[0] << (s - 64);
            w->bits[0] = 0;
        } else {
            w->bits[1] = w->bits[1] << s | w->bits[0] >> (64 - s);
            w->bits[0] <<= s;
        }
        w->top = c;
    }
    uint64_t d = w->top - c;
    w->bits[d / 64] |= (uint64_t)1 << (d % 64);
}

static int
reject(struct auth_replay *rp, enum auth_reason r, enum auth_reason *reason)
{
    rp->stats.rejected[r]++;
    if (reason)
        *reason = r;
    switch (r) {
    case AUTH_R_OVERSIZED:
        return NAOS_ETOOBIG;
    case AUTH_R_UNDECODABLE:
    case AUTH_R_VERSION:
    case AUTH_R_BAD_PAYLOAD:
        return NAOS_EPROTO;
    case AUTH_R_STALE:
    case AUTH_R_FUTURE:
        return NAOS_ETIMEDOUT;
    case AUTH_R_NOMEM:
        return NAOS_ENOMEM;
    case AUTH_R_CLUSTER:
    case AUTH_R_UNKNOWN_KEY:
    case AUTH_R_BAD_MAC:
    case AUTH_R_REPLAY:
    case AUTH_R_TOO_OLD:
        return NAOS_EAUTH;
    default:
        NAOS_ASSERT(!"unhandled auth_reason");
        return NAOS_EINVAL;
    }
}

int
auth_open(const struct auth_keyring *kr, struct auth_replay *rp,
          int64_t now_ms, const uint8_t *in, size_t len,
          struct auth_msg *out, enum auth_reason *reason)
{
    static const struct auth_msg zero = AUTH_MSG_ZERO;
    Naos__V1__Envelope *env = NULL;
    Naos__V1__Sealed *sealed = NULL;
    uint8_t *pt = NULL;
    size_t ptlen = 0;
    enum auth_reason r;
    int rv;

    *out = zero;
    if (reason)
        *reason = AUTH_R_NONE;
    /* 1. Size first: never hand protobuf-c more than we would accept. */
    if (len > AUTH_MAX_ENVELOPE)
        return reject(rp, AUTH_R_OVERSIZED, reason);
    /* 2. Decode the clear header. */
    env = naos__v1__envelope__unpack(&pb_allocator, len, in);
    if (env == NULL) {
        /* NULL also on ENOMEM; protobuf-c cannot tell us which, and an
         * envelope we could not read is dropped either way. */
        return reject(rp, AUTH_R_UNDECODABLE, reason);
    }
    if (env->nonce.len != AUTH_NONCE_BYTES) {
        r = AUTH_R_UNDECODABLE;
        goto err_after_env;
    }
    /* 3.-5. Is it for us, and do we hold its key? */
    if (env->version != AUTH_ENVELOPE_VERSION) {
        r = AUTH_R_VERSION;
        goto err_after_env;
    }
    if (kr->cluster_id != 0 && env->cluster_id != kr->cluster_id &&
        !(env->cluster_id == 0 && kr->accept_unassigned)) {
        r = AUTH_R_CLUSTER;
        goto err_after_env;
    }
    const unsigned char *key = auth_keyring_lookup(kr, env->key_id);
    if (key == NULL) {
        r = AUTH_R_UNKNOWN_KEY;
        goto err_after_env;
    }
    /* 6. Authenticate header, nonce and ciphertext, and decrypt. */
    if (env->ciphertext.len < AUTH_TAG_BYTES) {
        r = AUTH_R_BAD_MAC; /* truncated below the tag */
        goto err_after_env;
    }
    ptlen = env->ciphertext.len - AUTH_TAG_BYTES;
    pt = naos_alloc(ptlen);
    if (pt == NULL) {
        r = AUTH_R_NOMEM;
        goto err_after_env;
    }
    uint8_t ad[AUTH_AD_BYTES];
    make_ad(ad, env->version, env->key_id, env->cluster_id, env->sender,
            env->counter, env->sent_at_ms);
    unsigned long long mlen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            pt, &mlen, NULL, env->ciphertext.data, env->ciphertext.len, ad,
            sizeof ad, env->nonce.data, key) != 0) {
        r = AUTH_R_BAD_MAC;
        goto err_after_pt;
    }
    NAOS_ASSERT(mlen == ptlen);
    /* 7. Freshness, on the authenticated timestamp. Written so that no
     * subtraction can overflow whatever sent_at_ms holds. */
    int64_t skew = rp->max_skew_ms;
    if (env->sent_at_ms < now_ms && (uint64_t)now_ms - (uint64_t)env->sent_at_ms >
                                        (uint64_t)skew) {
        r = AUTH_R_STALE;
        goto err_after_pt;
    }
    if (env->sent_at_ms > now_ms && (uint64_t)env->sent_at_ms - (uint64_t)now_ms >
                                        (uint64_t)skew) {
        r = AUTH_R_FUTURE;
        goto err_after_pt;
    }
    /* 8. Replay, on the authenticated (sender, counter). */
    struct auth__window *w = idmap_get(&rp->senders, env->sender);
    r = window_check(w, env->counter);
    if (r != AUTH_R_NONE)
        goto err_after_pt;
    /* 9. The plaintext. */
    sealed = naos__v1__sealed__unpack(&pb_allocator, ptlen, pt);
    if (sealed == NULL || sealed->type == 0) {
        r = AUTH_R_BAD_PAYLOAD;
        goto err_after_sealed;
    }
    /* All checks passed: only now does the window move. Room to report
     * the move (and an eviction) is made first, so it cannot be lost. */
    if (pending_reserve(rp, 2) != NAOS_OK) {
        r = AUTH_R_NOMEM;
        goto err_after_sealed;
    }
    if (w == NULL) {
        if (rp->senders.len >= AUTH_REPLAY_MAX_SENDERS &&
            !evict_idle(rp, now_ms)) {
            r = AUTH_R_NOMEM;
            goto err_after_sealed;
        }
        w = naos_alloc(sizeof *w);
        if (w == NULL) {
            r = AUTH_R_NOMEM;
            goto err_after_sealed;
        }
        memset(w, 0, sizeof *w);
        w->top = env->counter;
        if (idmap_put(&rp->senders, env->sender, w) != NAOS_OK) {
            naos_free(w);
            r = AUTH_R_NOMEM;
            goto err_after_sealed;
        }
        w->dirty = true;
        rp->pending[rp->npending++] = env->sender;
    }
    uint64_t top = w->top;
    window_commit(w, env->counter);
    w->last_ms = now_ms;
    if (w->top != top && !w->dirty) {
        w->dirty = true;
        rp->pending[rp->npending++] = env->sender;
    }

    out->type = sealed->type;
    out->key_id = env->key_id;
    out->sender = env->sender;
    out->counter = env->counter;
    out->sent_at_ms = env->sent_at_ms;
    out->cluster_id = env->cluster_id;
    out->len = sealed->payload.len;
    if (out->len > 0) {
        /* The payload is a part of the plaintext, so it fits in pt. */
        NAOS_ASSERT(out->len <= ptlen);
        memmove(pt, sealed->payload.data, out->len);
        out->payload = pt;
        pt = NULL;
    }
    rp->stats.opened++;
    rv = NAOS_OK;
    naos__v1__sealed__free_unpacked(sealed, &pb_allocator);
    naos_free(pt);
    naos__v1__envelope__free_unpacked(env, &pb_allocator);
    return rv;

err_after_sealed:
    if (sealed)
        naos__v1__sealed__free_unpacked(sealed, &pb_allocator);
err_after_pt:
    sodium_memzero(pt, ptlen);
    naos_free(pt);
err_after_env:
    naos__v1__envelope__free_unpacked(env, &pb_allocator);
    return reject(rp, r, reason);
}
