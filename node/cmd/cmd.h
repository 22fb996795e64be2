/* SPDX-License-Identifier: Apache-2.0 */
/* cmd.h: command log entries (proto/command.proto): building, checking,
 * packing and unpacking them. The first stage of the command path
 * (docs/architecture.md "The command path"):
 *
 *   door (ctl, agent endpoint, HTTP, sup escalation)
 *     -> cmd (validate, pack)       this module
 *     -> cmdraft (propose, commit)  node/cmd/cmdraft.h
 *     -> apply (store, in order)    node/cmd/apply.h
 *     -> reconcile (sup)            node/cmd/reconcile.h
 *
 * A door checks what only it can (does the deployment exist here, may this
 * caller act on it) and answers bad input with an error before anything
 * is proposed; cmd_validate checks what any node can check of an entry
 * alone (shape, names, the spec, sizes), and apply runs it again, so a
 * malformed entry changes nothing wherever it lands.
 *
 * Pure: no clock, no store, no sockets. Any thread (no shared state). */
#ifndef NAOS_NODE_CMD_CMD_H
#define NAOS_NODE_CMD_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/command.pb-c.h"

/* COMMAND_VERSION: the entry layout this code writes and the highest it
 * applies. Raise it when an entry changes meaning (a new field old nodes
 * would ignore wrongly); a new command type needs no raise (old nodes meet
 * an unset oneof and stop, see cmd_unpack). Version 2: client_id and seq
 * are deduplicated (apply.h). Version 3: a fail names the placement epoch
 * that gave up, and one of an earlier placement changes nothing (an older
 * node would mark a moved deployment failed); migrate exists. Version 4:
 * a migrate may say "node-lost" (an older node would refuse the entry,
 * and so stop applying: upgrade every node before the leader), and a
 * checkpoint save carries the epoch of the run that saved it (an older
 * node would save a stale one). Version 5: a migrate may say "drained"
 * (drain and release exist). */
#define COMMAND_VERSION 5u
/* COMMAND_VERSION_DEDUP: the first version whose client_id and seq are a
 * client's command id (deduplicated by apply); version 1 entries carried
 * the proposing node's id there. */
#define COMMAND_VERSION_DEDUP 2u

/* CMD_MAX_ENTRY: the largest packed entry: one Raft entry, which must
 * fit one sealed envelope (RAFT_MAX_ENTRY_SIZE, 1 MiB - 2 KiB; a
 * checkpoint is at most 1 MiB - 4 KiB plus its paths). A larger command (a
 * tree file of thousands of workers) is refused at the door with its
 * size and this limit. */
#define CMD_MAX_ENTRY ((1u << 20) - 2048u)

/* cmd_init initialises c (caller storage) as an empty command of this
 * version, stamped with client_id, seq (a client's command id from its
 * request, deduplicated by apply; 0, 0 for the node's own commands) and
 * the proposer's wall clock at_ms. The caller then sets exactly one of the oneof cases (borrowed
 * pointers: c owns nothing, so it needs no fini). */
void cmd_init(Naos__V1__Command *c, uint64_t client_id, uint64_t seq,
              int64_t at_ms);

/* cmd_type_name: "deploy", "stop", "start", "restart", "rm", "fail",
 * "checkpoint save", "noop", "migrate", "drain", "undrain", "release", or
 * "unknown". Static storage. */
const char *cmd_type_name(const Naos__V1__Command *c);

/* cmd_target: the deployment or path the command acts on ("" for noop
 * and drain; the checkpoint's path for a save). Valid as c. */
const char *cmd_target(const Naos__V1__Command *c);

/* cmd_path_is_valid: p is a deployment's name (allow_slash false) or a
 * path below one: ids joined by '/', at most SPEC_MAX_DEPTH + 1 of them,
 * at most STORE_MAX_KEY bytes. */
bool cmd_path_is_valid(const char *p, bool allow_slash);

/* cmd_is_path: a stop, start or restart of a path in a deployment
 * (DEP/PATH), which changes no record: the node that runs the
 * deployment carries it out as it applies the entry. */
bool cmd_is_path(const Naos__V1__Command *c);

/* cmd_deploy_spec converts req (a NodeSpec as a client sent it; borrowed)
 * to the spec tree, validates it (spec_validate) and builds the
 * normalized NodeSpec a DeployCommand carries in *out (defaults filled;
 * freed with spec_pb_free). Returns NAOS_OK; NAOS_EINVAL with the reason
 * in err (caller buffer + length); NAOS_ENOMEM. On error *out is
 * untouched. */
int cmd_deploy_spec(const Naos__V1__NodeSpec *req, Naos__V1__NodeSpec **out,
                    char *err, size_t errlen);

/* cmd_validate checks c (borrowed) alone: a known version and type,
 * names that are deployment names (1..SPEC_MAX_ID_LEN of
 * [A-Za-z0-9_.-]) or paths of such ids, a spec that converts and
 * validates with its root id as the name, a checkpoint within
 * STORE_CKPT_MAX. Returns NAOS_OK or NAOS_EINVAL with the reason in err
 * (NAOS_ENOMEM when converting the spec ran out). */
int cmd_validate(const Naos__V1__Command *c, char *err, size_t errlen);

/* cmd_pack packs c (borrowed) into a new buffer *out of *len bytes
 * (naos_alloc'd: the caller frees it with naos_free). Returns NAOS_OK;
 * NAOS_EINVAL (no type set, or a version other than COMMAND_VERSION);
 * NAOS_ETOOBIG (over CMD_MAX_ENTRY; err names the size); NAOS_ENOMEM. */
int cmd_pack(const Naos__V1__Command *c, uint8_t **out, size_t *len,
             char *err, size_t errlen);

/* cmd_unpack decodes an entry (data: len bytes, borrowed) into a new
 * command *out (freed with cmd_free). Returns NAOS_OK; NAOS_EPROTO when it
 * does not decode, is over CMD_MAX_ENTRY, or carries a string cut at a
 * NUL; NAOS_EINVAL when its version is newer than COMMAND_VERSION or its
 * type unknown (a newer node wrote it: upgrade this one; err says so);
 * NAOS_ENOMEM. The contents are not validated (cmd_validate). */
int cmd_unpack(const void *data, size_t len, Naos__V1__Command **out,
               char *err, size_t errlen);

/* cmd_free frees a command from cmd_unpack; NULL is fine. */
void cmd_free(Naos__V1__Command *c);

#endif
