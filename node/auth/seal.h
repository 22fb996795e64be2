/* SPDX-License-Identifier: Apache-2.0 */
/* seal.h: sealed envelopes, the only form in which node-to-node messages
 * travel (DESIGN "Wire and security", STYLE §15).
 *
 * Wire form: a packed naos.v1.Envelope (proto/wire.proto):
 *   version=1, key_id, sender, counter, sent_at_ms, cluster_id  (clear)
 *   nonce      24 random bytes
 *   ciphertext XChaCha20-Poly1305-IETF(key, nonce, ad, packed Sealed)
 *              = encrypted naos.v1.Sealed{type, payload} + 16-byte tag
 * The associated data (ad) is the clear header in this fixed layout, all
 * integers big-endian (AUTH_AD_BYTES = 48):
 *   off  0  8 bytes  "naos-env"
 *   off  8  u32      version
 *   off 12  u32      key_id
 *   off 16  u64      cluster_id
 *   off 24  u64      sender
 *   off 32  u64      counter
 *   off 40  i64      sent_at_ms (two's complement)
 * so changing any header field (or the nonce) makes the envelope fail to
 * open.
 *
 * What a receiver checks, in this order; the first failure decides the
 * result, bumps stats.rejected[reason], and nothing else changes:
 *   1. AUTH_R_OVERSIZED     len > AUTH_MAX_ENVELOPE, before any decoding
 *   2. AUTH_R_UNDECODABLE   not an Envelope, or nonce not 24 bytes
 *   3. AUTH_R_VERSION       version != AUTH_ENVELOPE_VERSION
 *   4. AUTH_R_CLUSTER       cluster_id is not the keyring's (a learning
 *                           keyring, cluster_id 0, takes any; one with
 *                           accept_unassigned also takes 0: keys.h)
 *   5. AUTH_R_UNKNOWN_KEY   key_id not in the keyring
 *   6. AUTH_R_BAD_MAC       authentication failed: tampered, truncated,
 *                           wrong key (decrypt and verify in one step)
 *   7. AUTH_R_STALE         sent_at_ms < now - max_skew
 *      AUTH_R_FUTURE        sent_at_ms > now + max_skew
 *   8. AUTH_R_REPLAY        counter already accepted from this sender
 *      AUTH_R_TOO_OLD       counter more than AUTH_REPLAY_WINDOW below the
 *                           sender's highest accepted counter
 *   9. AUTH_R_BAD_PAYLOAD   authentic, but the plaintext is not a Sealed
 *                           with a non-zero type (a sender bug)
 * Only a message that passes all checks updates the sender's replay window
 * and is returned. Nothing from an envelope is used before step 6 except to
 * find the key. A sender's first accepted envelope takes a slot
 * (AUTH_REPLAY_MAX_SENDERS; AUTH_R_NOMEM when none can be had).
 *
 * Across restarts: a receiver's windows live in memory, and a restarted
 * node that forgot them would take again, for max_skew, any envelope
 * captured before (the sender's counter and clock are fine; ours were
 * lost). A wall-clock cut-off cannot replace them (clocks differ between
 * hosts), so the driver keeps each sender's mark (its highest accepted
 * counter, and when we last accepted one) in the store:
 *   - every window whose top moved, and every sender evicted or forgotten,
 *     is reported by auth_replay_take (at most one entry per sender);
 *   - the driver writes what auth_replay_take returns in one synced store
 *     transaction BEFORE acting on any envelope auth_open accepted since
 *     the previous take (node/wire: in the loop's before-sleep commit of
 *     each iteration that accepted envelopes; their effects, replies
 *     included, wait for the commit);
 *   - at start it hands every stored mark to auth_replay_restore, which
 *     rebuilds the window as if every counter up to top had been seen.
 * Guarantee: after a crash, no envelope that was acted on before it is
 * accepted again (its counter is at most its sender's synced top). An
 * envelope accepted but not yet acted on when the node died may be
 * accepted once more: it had no effect the first time. Envelopes a sender
 * had in flight below its top are lost, which gossip tolerates. A sender
 * evicted (AUTH_REPLAY_MAX_SENDERS) or forgotten is protected by
 * staleness alone; eviction waits until that suffices.
 *
 * Time: now_ms and sent_at_ms are WALL clock milliseconds since the epoch
 * (naos_clock_wall_ms), passed in by the driver: monotonic clocks of two
 * hosts cannot be compared. Nodes therefore need clocks within max_skew of
 * each other (NTP). This module never reads a clock.
 *
 * Randomness: nonces come from libsodium's randombytes_buf (this is the
 * libsodium adapter; a nonce must never come from a seeded PRNG).
 *
 * Threads: none of this is thread-safe; a keyring, a sender and a replay
 * state belong to one thread (the loop). */
#ifndef NAOS_AUTH_SEAL_H
#define NAOS_AUTH_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/auth/keys.h"
#include "node/base/idmap.h"

#define AUTH_ENVELOPE_VERSION 1u
#define AUTH_NONCE_BYTES 24 /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define AUTH_TAG_BYTES 16   /* crypto_aead_xchacha20poly1305_ietf_ABYTES */
#define AUTH_AD_BYTES 48
/* Largest payload auth_seal accepts. */
#define AUTH_MAX_PAYLOAD (1u << 20)
/* Upper bound of what an envelope adds to its payload: Sealed framing
 * (<= 17), tag (16) and Envelope fields (<= 93). */
#define AUTH_SEAL_OVERHEAD 128u
/* Largest envelope auth_open looks at. */
#define AUTH_MAX_ENVELOPE (AUTH_MAX_PAYLOAD + AUTH_SEAL_OVERHEAD)
/* Default for auth_replay_init's max_skew_ms. */
#define AUTH_DEFAULT_MAX_SKEW_MS 30000
/* How far below a sender's highest counter a late message is still taken
 * (once). */
#define AUTH_REPLAY_WINDOW 128
/* How many distinct senders one replay state remembers (twice
 * SWIM_MAX_MEMBERS). Only authenticated senders take a slot, so this
 * bounds memory (and the store's table of marks) against a misbehaving
 * member, not against outsiders. A new sender beyond it evicts the sender
 * heard from least recently, provided that was more than 2 * max_skew ago
 * (every envelope ever accepted from it is stale by then: see "Across
 * restarts"); otherwise it is refused (AUTH_R_NOMEM). */
#define AUTH_REPLAY_MAX_SENDERS 4096

/* enum auth_reason: why auth_open refused an envelope (see the table in
 * the header comment). */
enum auth_reason {
    AUTH_R_NONE = 0,
    AUTH_R_OVERSIZED,
    AUTH_R_UNDECODABLE,
    AUTH_R_VERSION,
    AUTH_R_CLUSTER,
    AUTH_R_UNKNOWN_KEY,
    AUTH_R_BAD_MAC,
    AUTH_R_STALE,
    AUTH_R_FUTURE,
    AUTH_R_REPLAY,
    AUTH_R_TOO_OLD,
    AUTH_R_BAD_PAYLOAD,
    AUTH_R_NOMEM,     /* resources, not the envelope's fault */
    AUTH_R__COUNT
};

/* auth_reason_str returns a static short name ("bad-mac", "replay", ...)
 * for logs and the node's metrics. */
const char *auth_reason_str(enum auth_reason r);

/* struct auth_stats: counters the node exposes. */
struct auth_stats {
    uint64_t sealed;
    uint64_t opened;
    uint64_t rejected[AUTH_R__COUNT]; /* index: enum auth_reason */
};

/* struct auth_sender: one node's outgoing counter. Counters must never
 * repeat for a sender id while receivers remember it, including across
 * restarts: start from a value above anything sent before, e.g.
 * (uint64_t)wall_ms << 20 (leaves room for a million messages per ms). */
struct auth_sender {
    uint64_t id;      /* the sender's node id */
    uint64_t next;    /* counter of the next envelope */
};
#define AUTH_SENDER_ZERO {0, 0}

/* auth_sender_init sets *s (caller storage) for node id with first
 * counter `first`. Cannot fail. */
void auth_sender_init(struct auth_sender *s, uint64_t id, uint64_t first);

/* struct auth_replay: a receiver's state: per-sender replay windows, the
 * staleness bound and the stats. Caller storage. */
struct auth_replay {
    struct idmap senders;   /* sender id -> struct auth__window (owned) */
    int64_t max_skew_ms;    /* |now - sent_at| allowed */
    struct auth_stats stats;
    uint64_t *pending;      /* senders changed since auth_replay_take */
    size_t npending, pending_cap;
};

/* struct auth_replay_mark: what the store keeps of one sender. */
struct auth_replay_mark {
    uint64_t sender;
    uint64_t top;     /* highest counter accepted */
    int64_t last_ms;  /* wall clock (ours) when one was last accepted */
    bool gone;        /* take: the sender was forgotten (delete it) */
};

/* auth_replay_init prepares *rp (caller storage) with max_skew_ms (> 0;
 * use AUTH_DEFAULT_MAX_SKEW_MS). Allocates nothing; cannot fail. */
void auth_replay_init(struct auth_replay *rp, int64_t max_skew_ms);

/* auth_replay_fini frees the windows; safe on a zeroed state. Stats are
 * kept (read them before or after). */
void auth_replay_fini(struct auth_replay *rp);

/* auth_replay_forget drops what rp remembers about sender (e.g. a member
 * that left the cluster for good); reported by auth_replay_take. */
void auth_replay_forget(struct auth_replay *rp, uint64_t sender);

/* auth_replay_restore installs a mark kept from a previous run (m
 * borrowed; m->gone ignored): the sender's window refuses every counter
 * up to m->top (AUTH_R_REPLAY within AUTH_REPLAY_WINDOW of it, else
 * AUTH_R_TOO_OLD). Not reported by auth_replay_take. Returns NAOS_OK;
 * NAOS_EINVAL (sender 0); NAOS_EBUSY (AUTH_REPLAY_MAX_SENDERS held);
 * NAOS_ENOMEM. A sender already held keeps the higher top. */
int auth_replay_restore(struct auth_replay *rp,
                        const struct auth_replay_mark *m);

/* auth_replay_pending: how many entries auth_replay_take would return at
 * most (senders whose top moved or that were forgotten since the last
 * take). */
size_t auth_replay_pending(const struct auth_replay *rp);

/* auth_replay_take moves up to cap of those entries into out[] (caller
 * buffer), one per sender, as it is now (gone = forgotten), and returns
 * how many. They are no longer pending: persist them before acting on the
 * envelopes accepted since the previous take (see "Across restarts"). */
size_t auth_replay_take(struct auth_replay *rp, struct auth_replay_mark *out,
                        size_t cap);

/* auth_seal seals payload (len bytes, borrowed; may be NULL if len is 0)
 * as message `type` (non-zero) from sender s, stamped sent_at_ms = now_ms
 * (wall clock), under the keyring's primary key, with s->next as the
 * counter. On success the packed Envelope is in out[0..*outlen) (caller
 * buffer + length; len + AUTH_SEAL_OVERHEAD bytes always suffice), s->next
 * is incremented, and stats (may be NULL) counts it.
 * Returns NAOS_OK; NAOS_EINVAL (type 0, s->next == UINT64_MAX); NAOS_ETOOBIG
 * (len > AUTH_MAX_PAYLOAD, or cap too small); NAOS_ENOTFOUND (no key);
 * NAOS_ENOMEM. On error out and s are untouched. */
int auth_seal(const struct auth_keyring *kr, struct auth_sender *s,
              int64_t now_ms, uint32_t type, const void *payload, size_t len,
              uint8_t *out, size_t cap, size_t *outlen, struct auth_stats *stats);

/* struct auth_msg: an opened message. payload is naos_alloc'd and owned by
 * the struct (NULL when empty); release with auth_msg_fini. */
struct auth_msg {
    uint32_t type;
    uint32_t key_id;
    uint64_t sender;
    uint64_t counter;
    int64_t sent_at_ms;
    uint64_t cluster_id; /* the envelope's (authenticated) cluster id */
    uint8_t *payload;
    size_t len;
};
#define AUTH_MSG_ZERO {0, 0, 0, 0, 0, 0, NULL, 0}

/* auth_msg_fini frees m's payload and zeroes m; safe on a zeroed msg. */
void auth_msg_fini(struct auth_msg *m);

/* auth_open checks and opens the envelope in[0..len) (borrowed) received
 * at now_ms (wall clock), with the keys of kr and the replay state rp.
 * On success fills *out (caller storage; release with auth_msg_fini),
 * records the counter in rp and returns NAOS_OK. On failure *out is left
 * zeroed, rp's windows are unchanged (but a sender idle for 2 * max_skew
 * may have been evicted for a new one), rp->stats.rejected[*reason] is
 * incremented, *reason (may be NULL) says why, and the result is:
 *   NAOS_ETOOBIG   AUTH_R_OVERSIZED
 *   NAOS_EPROTO    AUTH_R_UNDECODABLE, AUTH_R_VERSION, AUTH_R_BAD_PAYLOAD
 *   NAOS_EAUTH     AUTH_R_CLUSTER, AUTH_R_UNKNOWN_KEY, AUTH_R_BAD_MAC,
 *                  AUTH_R_REPLAY, AUTH_R_TOO_OLD
 *   NAOS_ETIMEDOUT AUTH_R_STALE, AUTH_R_FUTURE
 *   NAOS_ENOMEM    AUTH_R_NOMEM */
int auth_open(const struct auth_keyring *kr, struct auth_replay *rp,
              int64_t now_ms, const uint8_t *in, size_t len,
              struct auth_msg *out, enum auth_reason *reason);

#endif
