/* SPDX-License-Identifier: Apache-2.0 */
/* raft.h: the Raft-lite core, a pure step function (RAFT-LITE §6.4.1).
 *
 * Events go in (raft_on_message, raft_tick, raft_propose,
 * raft_read_index, raft_on_conn_closed); the core never reads a clock, a socket, a disk or a
 * random source of its own: `now` is passed to every call and randomness
 * comes from raft_io.random. What the driver must do comes out as one
 * "ready" batch at a time:
 *
 *     while (raft_has_ready(r)) {
 *         struct raft_ready rd;
 *         raft_ready(r, &rd);
 *         1. persist rd.hard, rd.truncate_from and rd.entries in ONE synced
 *            transaction (store_log_truncate_append_txn + store_hard_set_txn
 *            inside store_write); a failure is fatal (RAFT-LITE P8);
 *         2. only then send rd.msgs (P1: a vote, a vote request or an
 *            append success never leaves before the state it promises is
 *            on disk);
 *         3. apply rd.committed in order, storing last_applied with the
 *            effects;
 *         4. raft_advance(r, now).
 *     }
 *
 * Between raft_ready and raft_advance the driver must not call into the
 * core except the const inspection functions: the batch's pointers stay
 * valid exactly until raft_advance. The leader counts its own log toward a
 * commit only after raft_advance has told it the entries are synced.
 *
 * What it implements (the "must NOT drop" table of RAFT-LITE §4): pre-vote
 * (a pre-candidate persists nothing and does not raise its term),
 * check-quorum (a leader that has not heard from a majority within an
 * election timeout steps down), lease stickiness (a follower that heard
 * from its leader within an election timeout ignores vote and pre-vote
 * requests of higher terms), one vote per term (cleared only when the term
 * rises), the election restriction (§5.4.1), log matching with truncation
 * only on a real (index, term) conflict, commit of current-term entries only
 * by counting (Figure 8) with a no-op appended at election, follower commit
 * = min(leaderCommit, last index verified by that message), step-down on a
 * higher term in any message, randomized election timeouts in [T, 2T), and
 * the closed-connection fast path (a follower whose connection to its
 * leader closes starts a pre-vote at once).
 *
 * Membership (thesis §4.1, single-server changes): the configuration is
 * voters (who elect and commit) and learners (who only receive the log).
 * A change is an entry (RAFT_ENTRY_CONFIG, raft_conf_encode) that takes
 * effect on each node as soon as it is in its log, committed or not, and
 * is undone if it is truncated. The leader proposes one (raft_change)
 * only once it has committed an entry of its term (the 2015 fix: a new
 * leader's no-op) and while no other change is uncommitted, and each
 * change adds or removes one server, or promotes one learner: any two
 * successive majorities overlap. Learners count for nothing but what the
 * log keeps for them. A node that is no voter never stands; a leader
 * removed from the voters leads until the change is committed, not
 * counting itself, then steps down. Messages are taken from any sender
 * of the cluster (a new leader may not be in a lagging follower's
 * configuration yet); answers only from members, votes only from voters.
 *
 * Not built yet:
 * Snapshots (the core never sees their bytes): a leader marks a peer whose
 *     log ends below the compacted base as behind (raft_peers_behind),
 *     stops sending it entries (heartbeats only), and the driver sends it
 *     a snapshot of the applied state out of band. The follower asks the
 *     core whether to install one (raft_snapshot_offer), loads it into its
 *     store with its log reduced to the snapshot's last entry, and tells the
 *     core (raft_snapshot_installed), which answers the leader as an
 *     APPEND that verified up to there. Compaction no longer waits for a
 *     voter that lags (raft_compact_point keeps a budget of entries for
 *     it; past that it gets a snapshot).
 *   TODO(#11) pipelining (one Append in flight per follower, re-sent
 *     every heartbeat until answered).
 *
 * ReadIndex (thesis §6.4): raft_read_index asks the leader for an index
 * at which a read of the applied state is linearizable. The read waits
 * until the leader has committed an entry of its current term (its no-op),
 * then takes the commit index as its read index and starts a heartbeat
 * round (a new read_ctx on every APPEND, echoed in APPEND_RESP); it is
 * released (rd.reads, ok) once a majority, the leader included, answered
 * an APPEND of that round or a later one: no other leader can have
 * committed anything the read index misses. A leader that steps down
 * fails its pending reads (rd.reads, !ok); a deposed leader that does not
 * know it yet never gathers the majority (the others answer with a
 * higher term, or not at all, and check-quorum steps it down). The caller
 * then waits until its applied index reaches the read index and reads.
 * No clock, no lease (RAFT-LITE §4: no lease-based reads).
 *
 * Threading: one thread (the node's loop). Every struct raft call is
 * non-blocking. */
#ifndef NAOS_NODE_RAFT_RAFT_H
#define NAOS_NODE_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"

/* struct raft_id: a member id. Never 0 (0 means "none": no vote, no known
 * leader), never reused for another member. Terms and log indices stay
 * plain uint64_t: they are compared and counted everywhere, and a wrapper
 * would hide that arithmetic without catching a mix-up. */
struct raft_id {
    uint64_t v;
};
#define RAFT_ID_ZERO {0}

/* Hard limits; raft_config holds the working (smaller or equal) values. */
#define RAFT_MAX_VOTERS 9
#define RAFT_MAX_LEARNERS 8
#define RAFT_MAX_ENTRIES_PER_MSG 1024
/* One entry alone in an APPEND fits one sealed envelope (AUTH_MAX_PAYLOAD,
 * 1 MiB, with 2 KiB for the message around it: raft_codec.h counts 150
 * bytes + 42 per entry); a checkpoint (STORE_CKPT_MAX, 1 MiB - 4 KiB)
 * leaves its command 2 KiB. Several entries share RAFT_MAX_MSG_BYTES. */
#define RAFT_MAX_ENTRY_SIZE (1024 * 1024 - 2048)
#define RAFT_MAX_MSG_BYTES (1024 * 1024 - 4096)
#define RAFT_ERRMSG_LEN 128

/* enum raft_entry_type: what an entry holds. The core reads only NOOP (it
 * appends one when it becomes leader); everything else is the state
 * machine's. A node that meets a type or version it does not know must
 * stop applying and say so (the applier's job, not the core's). */
enum raft_entry_type {
    RAFT_ENTRY_NOOP = 1,
    RAFT_ENTRY_CONFIG = 2,  /* a configuration (raft_conf_encode), read by
                               the core and the applier */
    RAFT_ENTRY_COMMAND = 3,
};

/* struct raft_entry: one log entry. data is opaque to the core, len <=
 * raft_config.max_entry_size. Ownership depends on where it appears (see
 * each use). */
struct raft_entry {
    uint64_t index;
    uint64_t term;
    uint32_t type;    /* enum raft_entry_type */
    uint32_t version; /* of the entry's encoding, for the applier */
    const void *data;
    size_t len;
};
#define RAFT_ENTRY_ZERO {0, 0, 0, 0, NULL, 0}

/* struct raft_conf: a configuration. Ids distinct and non-zero across
 * both lists; at least one voter. */
struct raft_conf {
    struct raft_id voters[RAFT_MAX_VOTERS];
    size_t nvoters;
    struct raft_id learners[RAFT_MAX_LEARNERS];
    size_t nlearners;
};

/* A CONFIG entry's data: version 1, counts, then the ids, big-endian:
 *   u8 version (1), u8 nvoters, u8 nlearners, 8 bytes per voter, 8 per
 *   learner. */
#define RAFT_CONF_VERSION 1u
#define RAFT_CONF_MAX_BYTES (3 + 8 * (RAFT_MAX_VOTERS + RAFT_MAX_LEARNERS))

/* raft_conf_validate: NAOS_OK, or NAOS_EINVAL with the reason in err. */
int raft_conf_validate(const struct raft_conf *c, char *err, size_t errlen);
/* raft_conf_encode writes c (valid) into buf (cap >= RAFT_CONF_MAX_BYTES
 * is always enough); *len the bytes. NAOS_OK or NAOS_EINVAL. */
int raft_conf_encode(const struct raft_conf *c, unsigned char *buf,
                     size_t cap, size_t *len);
/* raft_conf_decode reads a CONFIG entry's data (untrusted) into *out.
 * NAOS_OK, or NAOS_EINVAL with the reason in err. */
int raft_conf_decode(const void *data, size_t len, struct raft_conf *out,
                     char *err, size_t errlen);
bool raft_conf_is_voter(const struct raft_conf *c, struct raft_id id);
bool raft_conf_is_learner(const struct raft_conf *c, struct raft_id id);

/* enum raft_msg_type. Field use per type (every message also carries
 * cluster_id, from, to and term; APPEND and APPEND_RESP also read_ctx,
 * the leader's ReadIndex round, which the follower echoes):
 *
 *   PREVOTE       term = sender's term + 1 (the term it would stand in),
 *                 last_index, last_term. Changes nothing at the receiver.
 *   PREVOTE_RESP  granted; term = the request's term if granted, else the
 *                 responder's own term.
 *   VOTE          term = candidate's (already persisted) term, last_index,
 *                 last_term.
 *   VOTE_RESP     granted.
 *   APPEND        prev_index, prev_term, entries[0..nentries) (index
 *                 prev_index+1.., each term <= term), commit = leader's
 *                 commit. With no entries it is the heartbeat.
 *   APPEND_RESP   success. On success match_index = last index the request
 *                 verified. On failure reject_index = the request's
 *                 prev_index, and the conflict hint (hint_index,
 *                 hint_term): the follower's largest index <= prev_index
 *                 whose term <= prev_term (or its last index if shorter),
 *                 so the leader can skip a whole diverging term. */
enum raft_msg_type {
    RAFT_MSG_PREVOTE = 1,
    RAFT_MSG_PREVOTE_RESP,
    RAFT_MSG_VOTE,
    RAFT_MSG_VOTE_RESP,
    RAFT_MSG_APPEND,
    RAFT_MSG_APPEND_RESP,
};
#define RAFT_MSG_TYPE_MAX RAFT_MSG_APPEND_RESP

/* raft_msg_type_name: "prevote", "prevote-resp", "vote", "vote-resp",
 * "append", "append-resp" ("?" otherwise). */
const char *raft_msg_type_name(int t);

/* struct raft_msg: a decoded message. Every field is untrusted on
 * receipt: the core checks cluster_id, that `from` is a voter other than
 * itself, that `to` is itself, entry counts and sizes, and index/term
 * consistency, and drops (and counts) anything else. The driver sets
 * `from` from the authenticated envelope's sender, never from the
 * payload. In rd.msgs the entries are owned by the core until
 * raft_advance; on raft_on_message they are borrowed for the call. */
struct raft_msg {
    enum raft_msg_type type;
    uint64_t cluster_id;
    struct raft_id from;
    struct raft_id to;
    uint64_t term;
    /* PREVOTE, VOTE */
    uint64_t last_index;
    uint64_t last_term;
    /* PREVOTE_RESP, VOTE_RESP */
    bool granted;
    /* APPEND */
    uint64_t prev_index;
    uint64_t prev_term;
    uint64_t commit;
    const struct raft_entry *entries;
    size_t nentries;
    /* APPEND_RESP */
    bool success;
    uint64_t match_index;
    uint64_t reject_index;
    uint64_t hint_index;
    uint64_t hint_term;
    /* APPEND: the leader's latest ReadIndex round; APPEND_RESP: echoed */
    uint64_t read_ctx;
    /* APPEND: the index every voter holds, as the leader knows it (<=
     * commit): the receiver may compact below it (raft_held) */
    uint64_t held;
};

/* struct raft_hard: what must be on disk before the messages of a batch
 * leave (store_hard in store/raftlog.h). vote 0 = none. */
struct raft_hard {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
};
#define RAFT_HARD_ZERO {0, 0, 0}

enum raft_role {
    RAFT_FOLLOWER = 1,
    RAFT_PRECANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
};

/* raft_role_name: "follower", "pre-candidate", "candidate", "leader". */
const char *raft_role_name(enum raft_role role);

/* RAFT_MAX_READS: ReadIndex requests pending at once (raft_read_index
 * refuses more). */
#define RAFT_MAX_READS 64

/* struct raft_read_result: the outcome of one raft_read_index. ok: index
 * is the read index (wait until applied >= index, then read); !ok: this
 * node stopped leading before the read was confirmed (index 0): try
 * again, at the new leader. */
struct raft_read_result {
    uint64_t ctx;
    uint64_t index;
    bool ok;
};

/* struct raft_ready: one batch of work for the driver (see the file
 * comment for the order). All pointers are owned by the core and valid
 * until raft_advance.
 *
 *   hard_changed  hard differs from what was last persisted: write it.
 *   truncate_from 0, or: delete every stored entry with index >= it before
 *                 appending (always > the persisted commit; when nentries >
 *                 0, entries[0].index == truncate_from: the shape of
 *                 store_log_truncate_append).
 *   entries       to append after the stored log (contiguous).
 *   msgs          to send, each to msgs[i].to, only after the above is
 *                 synced. Best effort: loss is normal.
 *   committed     entries to apply, in order, starting at the last
 *                 applied index + 1. They are in the log the same batch
 *                 persists.
 *   reads         ReadIndex outcomes (raft_read_index), after the rest. */
struct raft_ready {
    bool hard_changed;
    struct raft_hard hard;
    uint64_t truncate_from;
    const struct raft_entry *entries;
    size_t nentries;
    const struct raft_msg *msgs;
    size_t nmsgs;
    const struct raft_entry *committed;
    size_t ncommitted;
    const struct raft_read_result *reads;
    size_t nreads;
};

/* enum raft_event_kind: informational events (logs, `naos events`). */
enum raft_event_kind {
    RAFT_EV_ROLE = 1,  /* role changed: role, term, leader */
    RAFT_EV_DROPPED,   /* a message was dropped: msg_type, reason */
};

struct raft_event {
    enum raft_event_kind kind;
    enum raft_role role;
    enum raft_role old_role;
    uint64_t term;
    struct raft_id leader;
    int msg_type;
    const char *reason; /* static string */
};

#define RAFT_IO_VERSION 1

/* struct raft_io: how the core reaches the world. Versioned; copied at
 * raft_alloc. Callbacks must not call back into the core. */
struct raft_io {
    int version; /* RAFT_IO_VERSION */
    void *ctx;
    /* random returns a uniform random 32-bit number (election timeouts). */
    uint32_t (*random)(void *ctx);
    /* event reports ev (borrowed). May be NULL. */
    void (*event)(void *ctx, const struct raft_event *ev);
};

/* struct raft_config: identity, the founding voters, timing and bounds.
 * Durations in ms. raft_config_default fills the defaults. */
struct raft_config {
    struct raft_id id;          /* this node; non-zero */
    uint64_t cluster_id;        /* non-zero; on every message */
    const struct raft_id *voters; /* the configuration when the restore
                                     has none (a founding node): borrowed
                                     at raft_alloc (copied); distinct,
                                     non-zero */
    size_t nvoters;             /* 1..RAFT_MAX_VOTERS */
    naos_duration election_timeout;   /* T: a follower stands after a
                                         random [T, 2T) of silence; 500 */
    naos_duration heartbeat_interval; /* ~T/10: 50; < election_timeout */
    size_t max_entries_per_msg;       /* per APPEND: 64 (<=
                                         RAFT_MAX_ENTRIES_PER_MSG) */
    size_t max_msg_bytes;   /* entry data per APPEND: RAFT_MAX_MSG_BYTES;
                               one entry may exceed it only alone */
    size_t max_entry_size;  /* per entry: RAFT_MAX_ENTRY_SIZE */
    size_t max_uncommitted; /* proposals refused above this many
                               uncommitted entries: 1024 */
    size_t max_log_bytes;   /* proposals refused while the log's entry
                               data (in memory, until compacted) is at
                               or above this: RAFT_MAX_LOG_BYTES */
    bool pre_vote;          /* true */
    bool check_quorum;      /* true (also enables lease stickiness) */
};

/* The log's budget (max_log_bytes): what a cluster keeps before it
 * refuses commands. Applied entries are compacted (raft_compact_point),
 * so what it bounds is mostly entries not applied yet. */
#define RAFT_MAX_LOG_BYTES ((size_t)256 * 1024 * 1024)

/* raft_config_default sets every field of c to its default and clears the
 * identity (id, cluster_id, voters). */
void raft_config_default(struct raft_config *c);

/* raft_config_validate checks c. NAOS_OK, or NAOS_EINVAL with the reason
 * in errbuf (caller buffer + length; may be NULL). */
int raft_config_validate(const struct raft_config *c, char *errbuf,
                         size_t errlen);

/* struct raft_restore: what the driver loaded from the store at start
 * (store_hard_get, store_log_read from the log's first index, and
 * last_applied from the state machine). entries[i].index must be
 * first_index+i, terms non-decreasing and <= hard.term; commit <= the last
 * index; applied <= commit. A compacted log (first_index > 1) must hold
 * at least one entry and start at or below applied; its first entry
 * becomes the core's base (raft_first_index is then first_index + 1, and
 * raft_held starts there); a voter that needs what went is sent a
 * snapshot. Borrowed (copied at raft_alloc). A new node passes
 * RAFT_RESTORE_ZERO. */
struct raft_restore {
    struct raft_hard hard;
    const struct raft_entry *entries;
    size_t nentries;
    uint64_t applied;
    uint64_t first_index; /* index of entries[0]; 0 means 1 */
    /* the configuration as of `applied` (the applier keeps it with the
     * state), or NULL: raft_config's voters. CONFIG entries after it in
     * entries override it as they would at append. */
    const struct raft_conf *conf;
};
#define RAFT_RESTORE_ZERO {RAFT_HARD_ZERO, NULL, 0, 0, 0, NULL}

struct raft;

/* raft_alloc creates a core from c (validated, copied), io (copied) and
 * rs (may be NULL: a new node; borrowed). It starts as a follower with
 * no known leader and an election deadline in [T, 2T) from now. Entries
 * restored above rs->applied come out as rd.committed up to the restored
 * commit. Returns NAOS_OK (*out set), NAOS_EINVAL (c or rs malformed;
 * errbuf says why) or NAOS_ENOMEM. */
int raft_alloc(struct raft **out, const struct raft_config *c,
               const struct raft_io *io, const struct raft_restore *rs,
               naos_time now, char *errbuf, size_t errlen);

/* raft_free frees the core. NULL is fine. */
void raft_free(struct raft *r);

/* raft_on_message handles m (borrowed for the call; untrusted). */
void raft_on_message(struct raft *r, const struct raft_msg *m, naos_time now);

/* raft_tick runs what is due at or before now: election and pre-vote
 * timeouts, heartbeats (and re-sends of unanswered appends), the leader's
 * check-quorum. */
void raft_tick(struct raft *r, naos_time now);

/* raft_next_deadline: the earliest time raft_tick has work. */
naos_time raft_next_deadline(const struct raft *r);

/* raft_log_bytes: the entry data the log holds now (max_log_bytes). */
size_t raft_log_bytes(const struct raft *r);

/* raft_propose appends an entry of type/version with data (len bytes,
 * copied) at the leader, and stores its index in *index. Committed only
 * once a majority has it (watch rd.committed for that index and term).
 * Returns:
 *   NAOS_OK
 *   NAOS_EBUSY    not the leader (raft_leader gives the hint, 0 if
 *                 unknown), or max_uncommitted entries are waiting;
 *                 raft_errmsg says which
 *   NAOS_ETOOBIG  len > max_entry_size
 *   NAOS_EINVAL   type is NOOP, CONFIG (raft_change) or 0 */
int raft_propose(struct raft *r, uint32_t type, uint32_t version,
                 const void *data, size_t len, naos_time now,
                 uint64_t *index);

/* raft_read_index starts a ReadIndex read named ctx (the caller's, opaque;
 * it comes back in rd.reads) on the leader (see the file comment).
 * Returns NAOS_OK (the outcome comes in a later batch, or in the next one
 * with one voter); NAOS_EBUSY: not the leader (raft_leader hints), or
 * RAFT_MAX_READS reads are pending; raft_errmsg says which. */
int raft_read_index(struct raft *r, uint64_t ctx, naos_time now);

/* raft_on_conn_closed: the driver saw the transport connection to peer
 * close (strong evidence its process died). If peer is this follower's
 * leader, the follower forgets it (so it no longer protects it with its
 * lease, and grants the pre-votes of the others who saw it too) and
 * stands without waiting for the election timeout: the voter of lowest id
 * other than peer starts a pre-vote at once, the k-th lowest after k
 * heartbeat intervals (survivors standing together split the vote: in a
 * 3-node cluster every time, costing a randomized election timeout; a
 * survivor that hears of a new leader or votes first stands down).
 * Otherwise ignored. */
void raft_on_conn_closed(struct raft *r, struct raft_id peer, naos_time now);

/* raft_campaign starts a pre-vote (or, with pre_vote off, an election) now,
 * as if the election timeout had passed. A leader ignores it. For tests
 * and for an operator's "stand now". */
void raft_campaign(struct raft *r, naos_time now);

/* raft_has_ready: raft_ready would return a non-empty batch. */
bool raft_has_ready(const struct raft *r);

/* raft_ready fills *rd with the next batch (see struct raft_ready). It
 * may be empty. Call raft_advance before any other non-const call. */
void raft_ready(struct raft *r, struct raft_ready *rd);

/* raft_advance tells the core the last batch is done: persisted (synced),
 * sent and applied. Frees the batch. A leader may commit here (its own log
 * now counts), so check raft_has_ready again. */
void raft_advance(struct raft *r, naos_time now);

/* Inspection (const; fine between raft_ready and raft_advance). */
enum raft_role raft_role_get(const struct raft *r);
uint64_t raft_term(const struct raft *r);
uint64_t raft_vote(const struct raft *r);
/* raft_leader: the leader this node follows (itself when leader), or 0. */
struct raft_id raft_leader(const struct raft *r);
uint64_t raft_commit(const struct raft *r);
uint64_t raft_applied(const struct raft *r);
uint64_t raft_last_index(const struct raft *r);
uint64_t raft_last_term(const struct raft *r);
/* raft_term_at: the term of entry index, 0 when index is 0 or not in the
 * log. */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
/* raft_entry_at: entry index (valid until the next non-const call), or
 * NULL. */
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
/* raft_first_index: the lowest index still in the log (1 until
 * raft_compact). */
uint64_t raft_first_index(const struct raft *r);

/* raft_held: the highest index every member (voters and learners) is
 * known to hold durably (never above the commit index): a leader's
 * lowest match among its peers (and its own commit), a follower's the
 * leader's word (APPEND's `held`) up to its own commit index; at
 * restore, the compacted base (the commit index when the configuration
 * in effect is this node alone, no learner). Only grows. A member that
 * lags (down, cut off) holds it back. */
uint64_t raft_held(const struct raft *r);

/* raft_compact forgets the entries below `below` (all applied; the last
 * entry always stays, as store_log_compact_txn keeps it), after the
 * driver deleted them from the store; the core keeps the term of the
 * entry just below (raft_term_at still answers for it). A voter whose log
 * ends below what went is then sent a snapshot (raft_peers_behind).
 * Not between raft_ready and raft_advance. Returns NAOS_OK (also when
 * nothing is below), NAOS_EINVAL (below > applied+1 or > the last index;
 * raft_errmsg says). */
int raft_compact(struct raft *r, uint64_t below);

/* raft_compact_point: where to compact (raft_compact's `below`), given the
 * index the store has applied: everything applied that every voter holds
 * (raft_held), and beyond that only what leaves the last keep_entries
 * applied entries, and at most keep_bytes of their data, in the log for a
 * voter that lags (one that lags further is sent a snapshot). Never above
 * applied (the last applied entry stays). 0: nothing to compact. */
uint64_t raft_compact_point(const struct raft *r, uint64_t applied,
                            size_t keep_entries, size_t keep_bytes);

/* raft_peers_behind (leader): the peers whose log ends below the compacted
 * base (they rejected an APPEND from the base with a hint below it), into
 * out (at most cap); returns how many there are. A peer stays listed
 * until it acknowledges an APPEND again: after it installed a snapshot,
 * or if it turns out to hold the log after all. 0 on a non-leader. */
size_t raft_peers_behind(const struct raft *r, struct raft_id *out,
                         size_t cap);

/* enum raft_snap_verdict: raft_snapshot_offer's answer. */
enum raft_snap_verdict {
    RAFT_SNAP_INSTALL = 1, /* load it, then call raft_snapshot_installed */
    RAFT_SNAP_HAVE,        /* this log already holds it: answered, nothing
                              to load */
    RAFT_SNAP_REFUSE,      /* not from this term's leader (or malformed):
                              drop it */
};

/* raft_snapshot_offer (follower): `from` offers a snapshot of the applied
 * state after entry (index, snap_term), in its term `term`. Taken only
 * from the leader this node follows in its current term. HAVE when the
 * log already agrees up to index (index at or below the commit index, or
 * the entry there has snap_term): the leader is answered as after an
 * APPEND that verified so far, and the commit index may move to index.
 * Else INSTALL: the driver loads the snapshot into its store in ONE synced
 * transaction with the log reduced to the one entry (index, snap_term) and
 * the hard state's commit set to index, then calls
 * raft_snapshot_installed before any other call into the core. Entries
 * after index are discarded with the rest of the log: they disagree with
 * the leader's (the entry at index differs), so none is committed. Not
 * between raft_ready and raft_advance. */
enum raft_snap_verdict raft_snapshot_offer(struct raft *r,
                                           struct raft_id from,
                                           uint64_t term, uint64_t index,
                                           uint64_t snap_term,
                                           naos_time now);

/* raft_snapshot_installed: the driver has durably replaced the log by the
 * snapshot of (index, snap_term) (raft_snapshot_offer said INSTALL), whose
 * configuration is conf (borrowed; the snapshot carries it; NULL: it has
 * none, so raft_config's founding voters): the core's log becomes empty
 * above that base,
 * commit and applied move to index, and the leader is answered
 * (APPEND_RESP, match index). Returns NAOS_OK, or NAOS_EINVAL when index
 * is not above the commit index, snap_term is above the term or conf is
 * invalid (raft_errmsg says; nothing changed). */
int raft_snapshot_installed(struct raft *r, uint64_t index,
                            uint64_t snap_term, const struct raft_conf *conf,
                            naos_time now);

/* enum raft_change_kind: one server changed (raft_change). */
enum raft_change_kind {
    RAFT_CHANGE_ADD_LEARNER = 1, /* a new server receives the log */
    RAFT_CHANGE_PROMOTE,         /* a learner becomes a voter */
    RAFT_CHANGE_REMOVE,          /* a voter or learner leaves */
};

/* raft_change proposes one change of the configuration at the leader and
 * stores the CONFIG entry's index in *index (it takes effect at once; it
 * is committed like any entry). Returns NAOS_OK; NAOS_EBUSY (not the
 * leader, its no-op not committed yet, or another change is not
 * committed yet: raft_errmsg says; try again); NAOS_EINVAL (id 0, adding
 * a member, promoting a non-learner, removing a non-member, removing the
 * last voter, or a list full: raft_errmsg says). */
int raft_change(struct raft *r, enum raft_change_kind kind, struct raft_id id,
                naos_time now, uint64_t *index);

/* raft_conf_current: the configuration in effect (the last CONFIG entry
 * of the log, committed or not; else the restored one). Valid until the
 * next non-const call. raft_conf_index: that entry's index (0: restored).
 * Committed once raft_commit reaches it. */
const struct raft_conf *raft_conf_current(const struct raft *r);
uint64_t raft_conf_index(const struct raft *r);

/* raft_peer_match (leader): the highest index known replicated on peer
 * id (a voter or a learner) in *match. false: not a peer, or not the
 * leader. */
bool raft_peer_match(const struct raft *r, struct raft_id id,
                     uint64_t *match);

/* raft_peer_active (leader): peer id answered an APPEND of this term that
 * verified entries (its match is above 0 since this node leads) and has
 * answered one within the last election timeout, as check-quorum counts
 * it. A peer that never answered (a learner whose log is not open yet)
 * is not active, whatever its grace. false too when not the leader or
 * not a peer. */
bool raft_peer_active(const struct raft *r, struct raft_id id);

/* raft_errmsg: why the last call that failed did. */
const char *raft_errmsg(const struct raft *r);

/* struct raft_stats: counters since raft_alloc. */
struct raft_stats {
    uint64_t recv[RAFT_MSG_TYPE_MAX + 1];
    uint64_t sent[RAFT_MSG_TYPE_MAX + 1];
    uint64_t dropped;         /* malformed, foreign or unknown sender */
    uint64_t stale;           /* lower-term messages answered or ignored */
    uint64_t elections;       /* times this node became candidate */
    uint64_t prevotes;        /* times it became pre-candidate */
    uint64_t leader_terms;    /* times it became leader */
    uint64_t stepdowns_quorum; /* check-quorum step-downs */
    uint64_t truncations;     /* real conflicts resolved by truncation */
    uint64_t reads_ok;        /* ReadIndex reads confirmed */
    uint64_t reads_failed;    /* ... failed by a step-down */
    uint64_t behind_base;     /* rejections from a peer whose log ends
                                 below the compacted base (it is sent a
                                 snapshot: raft_peers_behind) */
    uint64_t snap_installed;  /* snapshots installed (follower) */
    uint64_t snap_had;        /* offers the log already held */
    uint64_t snap_refused;    /* offers refused (not this term's leader) */
    uint64_t conf_changes;    /* configurations taken from the log */
    uint64_t conf_bad;        /* CONFIG entries that did not decode (kept
                                 the previous configuration) */
};
const struct raft_stats *raft_stats_get(const struct raft *r);

#endif
