/* SPDX-License-Identifier: Apache-2.0 */
/* clients.h: the state machine's client table (Raft dissertation §6.3).
 * For each client id, the last command of that client the state machine
 * applied and what it did, so that a command retried after an unknown
 * outcome (the same client id and seq) is answered with the first one's
 * outcome instead of being carried out a second time.
 *
 *   clients     8-byte BE client id -> ClientRecord
 *   client_age  8-byte BE entry index -> 8-byte BE client id
 *
 * Bounded: at most STORE_CLIENTS_MAX records. Putting one more evicts the
 * record written by the oldest entry (client_age orders them). Apply is
 * the only writer, in log order, so every node holds and evicts the same
 * records: the table is replicated state like the deployments. A retry
 * that comes STORE_CLIENTS_MAX commands of other clients after its first
 * attempt finds no record and is carried out again; the CLI retries for
 * its --timeout (10 s by default) and never longer than
 * CLI_RETRY_MAX_MS (2 min), below that at any rate the log sustains (a
 * few hundred commands a second: about 3.6 min at 300/s). A record is
 * about 60 bytes plus its target: the table holds some 4 to 40 MB at
 * most.
 *
 * Records returned are owned by the caller (store_client_free). Loop
 * thread only (the store's rule). */
#ifndef NAOS_STORE_CLIENTS_H
#define NAOS_STORE_CLIENTS_H

#include <stdint.h>

#include "proto/store.pb-c.h"
#include "store/store.h"

#define STORE_CLIENTS_MAX 65536u
/* The longest ClientRecord.msg and .target kept. */
#define STORE_CLIENT_MSG_MAX 511u
#define STORE_CLIENT_TARGET_MAX STORE_MAX_KEY

/* store_client_get(_txn) reads client_id's record into *out. NAOS_OK,
 * NAOS_ENOTFOUND (no command of that client is remembered), NAOS_EINVAL
 * (id 0), NAOS_ENOMEM, NAOS_ESTORE. */
int store_client_get_txn(struct store_txn *t, uint64_t client_id,
                         Naos__V1__ClientRecord **out);
int store_client_get(struct store *s, uint64_t client_id,
                     Naos__V1__ClientRecord **out);

/* store_client_put_txn writes rec (borrowed) as its client's record,
 * replacing the client's older one, then evicts the oldest records
 * beyond STORE_CLIENTS_MAX. NAOS_EINVAL (and nothing written) for a
 * client id or index of 0, or a target or msg over its bound. */
int store_client_put_txn(struct store_txn *t,
                         const Naos__V1__ClientRecord *rec);

/* store_client_count_txn: how many records the table holds. */
int store_client_count_txn(struct store_txn *t, uint64_t *n);

/* store_client_free frees a record from store_client_get; NULL is fine. */
void store_client_free(Naos__V1__ClientRecord *rec);

#endif
