/* SPDX-License-Identifier: Apache-2.0 */
/* swim_pb.h: the protobuf adapter of the SWIM messages (proto/gossip.proto)
 * and of the node health blob. The membership core (node/swim) never sees
 * protobuf; the node's driver packs what the core sends and unpacks what
 * arrives (after auth_open) with these.
 *
 * Everything unpacked is untrusted input: sizes and counts are checked
 * here (SWIM_MAX_*), strings are bounded and NUL-terminated, and a message
 * that breaks a bound is refused whole (NAOS_EPROTO), never truncated.
 * Unknown update kinds are passed on (the core ignores them), unknown
 * fields are skipped (proto3). Loop thread; no global state. */
#ifndef NAOS_PROTO_SWIM_PB_H
#define NAOS_PROTO_SWIM_PB_H

#include <stddef.h>
#include <stdint.h>

#include "node/spec/label.h"
#include "node/swim/swim.h"

/* swim_pb_packed_size returns the exact size swim_pb_pack writes for m
 * (borrowed), or 0 when m cannot be packed (NAOS_ENOMEM on the way). */
size_t swim_pb_packed_size(const struct swim_msg *m);

/* swim_pb_pack packs m (borrowed; m->type and m->from are not packed: the
 * envelope carries them) into buf[0..cap) (caller buffer + length) and
 * sets *len. Returns NAOS_OK, NAOS_ETOOBIG (cap too small) or
 * NAOS_ENOMEM. */
int swim_pb_pack(const struct swim_msg *m, uint8_t *buf, size_t cap,
                 size_t *len);

/* struct swim_pb_msg: an unpacked message. msg and every pointer in it
 * (updates, wants, strings, health bytes) are owned by the struct and
 * valid until swim_pb_msg_fini. Caller storage; SWIM_PB_MSG_ZERO. */
struct swim_pb_msg {
    struct swim_msg msg;
    struct swim_update *updates; /* naos_alloc'd */
    struct swim_id *wants;       /* naos_alloc'd */
    void *pb;                    /* the unpacked Naos__V1__SwimMsg */
};
#define SWIM_PB_MSG_ZERO {.pb = NULL}

/* swim_pb_unpack decodes buf[0..len) (borrowed) as a message of type
 * (enum swim_msg_type, from the envelope) into *out (caller storage;
 * release with swim_pb_msg_fini, also after an error). out->msg.from is
 * left 0: the driver sets it from the envelope's sender. Returns NAOS_OK;
 * NAOS_EPROTO (undecodable, unknown type, a count or length out of
 * bounds); NAOS_ENOMEM. */
int swim_pb_unpack(struct swim_pb_msg *out, uint32_t type, const uint8_t *buf,
                   size_t len);

/* swim_pb_msg_fini frees what swim_pb_unpack kept; safe on a zeroed
 * struct, idempotent. */
void swim_pb_msg_fini(struct swim_pb_msg *m);

/* Voters a health blob may name (STORE_MAX_VOTERS). */
#define SWIM_HEALTH_VOTERS_MAX 9

/* struct swim_health: what a member says about itself (NodeHealth). What
 * each count means is node__health_tally's (node/node_members.c). */
struct swim_health {
    uint32_t agents_running;
    uint32_t agents_restarting;
    uint32_t agents_failed;
    uint32_t deployments;
    uint32_t load_centi; /* 1-minute load average * 100 */
    uint32_t agents_node_trouble; /* starts waiting out node trouble */
    uint32_t deployments_failed;
    uint32_t bootstrap_expect; /* N while forming with --bootstrap-expect */
    uint32_t nvoters;          /* the founded voters, once founded */
    uint64_t voters[SWIM_HEALTH_VOTERS_MAX];
    uint32_t nlabels; /* the node's --label KEY=VALUE, in their order */
    struct spec_label labels[SPEC_LABELS_MAX];
    bool no_voter; /* --no-voter: never promoted */
};

/* swim_pb_health_pack packs h (borrowed) into buf[0..cap) and sets *len
 * (<= 741 bytes: eight fields of at most 6, nine voters of 9 and their
 * key (131), no_voter (2), and the labels: at most 7 + key + value bytes each, the
 * KEY=VALUE texts together at most SPEC_LABELS_TEXT_MAX, so at most
 * 512 + 6 * 16 = 608; SWIM_HEALTH_MAX always suffices). NAOS_OK,
 * NAOS_EINVAL (more than SWIM_HEALTH_VOTERS_MAX voters, or labels that
 * spec_labels_check refuses) or NAOS_ETOOBIG. */
int swim_pb_health_pack(const struct swim_health *h, uint8_t *buf, size_t cap,
                        size_t *len);
/* swim_pb_health_unpack decodes a health blob (borrowed) into *h (zeroed
 * first). NAOS_OK, NAOS_EPROTO (also: more than SWIM_HEALTH_VOTERS_MAX
 * voters, a voter id 0, or labels that spec_labels_check refuses: more
 * than SPEC_LABELS_MAX, a key or value out of its bounds, a key twice)
 * or NAOS_ENOMEM (then *h stays zeroed). */
int swim_pb_health_unpack(struct swim_health *h, const uint8_t *buf,
                          size_t len);

#endif
