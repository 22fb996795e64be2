/* SPDX-License-Identifier: Apache-2.0 */
/* keys.h: cluster keys, key files and the keyring (libsodium adapter).
 *
 * A cluster key is 32 random bytes (AUTH_KEY_BYTES) used with
 * XChaCha20-Poly1305-IETF by node/auth/seal.h. Its key id is derived, not
 * chosen: the first 4 bytes, big-endian, of
 *     BLAKE2b-256("naos-cluster-key-id v1" || key)   (crypto_generichash)
 * so two nodes holding the same key always agree on its id, and a key file
 * whose stated id does not match its key is refused as corrupt. The id only
 * selects a key; it reveals nothing useful about the key.
 *
 * Key file (written by `naos keygen`, i.e. auth_keyfile_generate): exactly
 * one line of ASCII, mode 0600,
 *
 *     naos-cluster-key v1 <key id: 8 lowercase hex> <key: base64>\n
 *
 * where the key is standard base64 with padding (sodium_bin2base64,
 * sodium_base64_VARIANT_ORIGINAL: 44 characters). Example:
 *
 *     naos-cluster-key v1 3fa2c91e q7Vh...Q0k=\n
 *
 * Nothing else is accepted: no comments, no blank lines, no trailing
 * spaces, no missing newline. A file that group or others may read or
 * write (st_mode & 077) is refused.
 *
 * Key material lives only in sodium_malloc'd memory (guard pages, mlock'd
 * so it is not swapped, excluded from core dumps where the kernel allows)
 * and is wiped (sodium_memzero) before it is freed. Temporary copies on
 * the stack are wiped too.
 *
 * Threads: nothing here is thread-safe; a keyring belongs to the loop
 * thread (STYLE §9). auth_init may be called from any thread. */
#ifndef NAOS_AUTH_KEYS_H
#define NAOS_AUTH_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_KEY_BYTES 32 /* crypto_aead_xchacha20poly1305_ietf_KEYBYTES */
#define AUTH_KEYRING_MAX 8 /* keys one keyring can hold at once */
#define AUTH_KEYFILE_MAGIC "naos-cluster-key v1"
/* Longest valid key file line: magic, id, base64, spaces and newline. */
#define AUTH_KEYFILE_LINE_MAX 80

/* auth_init initialises libsodium (sodium_init). Idempotent and
 * thread-safe; every function below that needs libsodium calls it, so a
 * caller only needs it to learn early that libsodium cannot start.
 * Returns NAOS_OK or NAOS_ESYS. */
int auth_init(void);

/* struct auth_key: one cluster key. `bytes` points to AUTH_KEY_BYTES of
 * sodium_malloc'd memory owned by the struct, or is NULL for a zeroed
 * (empty) key. */
struct auth_key {
    uint32_t id;
    unsigned char *bytes;
};
#define AUTH_KEY_ZERO {0, NULL}

/* auth_key_id computes the key id of the AUTH_KEY_BYTES at key
 * (borrowed); see the header comment for the derivation. */
uint32_t auth_key_id(const unsigned char key[AUTH_KEY_BYTES]);

/* auth_key_init_from copies AUTH_KEY_BYTES from key (borrowed) into *k
 * (caller storage, initialised by this call) and derives its id. Returns
 * NAOS_OK, NAOS_ENOMEM or NAOS_ESYS; on error *k is left zeroed. */
int auth_key_init_from(struct auth_key *k, const unsigned char *key);

/* auth_key_generate fills *k (caller storage, initialised by this call)
 * with a new random key (randombytes_buf) and its id. Returns NAOS_OK,
 * NAOS_ENOMEM or NAOS_ESYS; on error *k is left zeroed. */
int auth_key_generate(struct auth_key *k);

/* auth_key_fini wipes and frees the key material and zeroes *k. Safe on a
 * zeroed key and idempotent. */
void auth_key_fini(struct auth_key *k);

/* auth_keyfile_generate writes a new random key to path, atomically: a
 * temporary file "PATH.tmp.XXXXXX" in the same directory is created with
 * mode 0600, written, fsync'd, renamed over path, and the directory is
 * fsync'd. Unless force is true an existing path is never replaced (the
 * final step is link(2), which fails if path exists). If out is not NULL
 * the new key is also stored there (caller storage, initialised on
 * success, released with auth_key_fini). path is borrowed; err is a caller
 * buffer + length that receives a one-line message on error.
 * Returns NAOS_OK; NAOS_EEXIST (path exists and !force); NAOS_EINVAL
 * (path too long); NAOS_ESYS (errno kept; message names the failing step);
 * NAOS_ENOMEM. On error *out is untouched and no file is left behind,
 * except when only the final directory fsync failed (the key is then in
 * place but may not survive a crash; the message says so by naming that
 * step). Blocking I/O: call at start-up or from the CLI, not from the loop.
 * This is the library side of `naos keygen`. */
int auth_keyfile_generate(const char *path, bool force, struct auth_key *out,
                          char *err, size_t errlen);

/* auth_keyfile_load reads the key file at path (borrowed) into *out
 * (caller storage, initialised on success; release with auth_key_fini).
 * It refuses:
 *   - a missing file: NAOS_ENOTFOUND;
 *   - a file that is not a regular file, or that group or others can read
 *     or write: NAOS_EAUTH, with "... run: chmod 600 PATH" in err;
 *   - anything but the one line described above (wrong magic, bad hex or
 *     base64, wrong length, an id that does not match the key, extra
 *     bytes): NAOS_EINVAL, with "PATH: what is wrong" in err;
 *   - other I/O failures: NAOS_ESYS.
 * err is a caller buffer + length. On error *out is untouched. */
int auth_keyfile_load(const char *path, struct auth_key *out, char *err,
                      size_t errlen);

/* auth_keyfile_format writes the key file line for k (borrowed) into
 * line (caller buffer + length, at least AUTH_KEYFILE_LINE_MAX + 1).
 * Returns NAOS_OK, or NAOS_EINVAL if k is empty or linelen too small.
 * The caller should sodium-wipe line after use (auth_wipe). */
int auth_keyfile_format(const struct auth_key *k, char *line, size_t linelen);

/* auth_keyfile_parse parses one key file line (len bytes at text,
 * borrowed; must include the final newline) into *out, with the checks
 * and errors of auth_keyfile_load for content (NAOS_EINVAL), using name in
 * messages. Exposed for tests and fuzzing. */
int auth_keyfile_parse(const char *name, const char *text, size_t len,
                       struct auth_key *out, char *err, size_t errlen);

/* auth_wipe zeroes len bytes at p in a way the compiler cannot elide
 * (sodium_memzero). */
void auth_wipe(void *p, size_t len);

/* struct auth_keyring: the cluster keys a node accepts, and which one it
 * seals with (the primary). Key rotation with no downtime:
 *   1. install the new key on every node (all still seal with the old one,
 *      and everyone can open both);
 *   2. use the new key on every node (now sealing with it);
 *   3. once no old-key message can still be in flight (longer than the
 *      staleness window of seal.h), remove the old key everywhere.
 * The struct is caller storage; key material is in one sodium_malloc'd
 * block owned by the keyring. The cluster id is bound into every envelope
 * sealed or opened with this keyring (seal.h).
 *
 * Cluster id and joining (membership, issue 4). A node that founds a
 * cluster uses its own identity's cluster id. A node joining through seeds
 * does not know the id yet: it runs in LEARNING mode, cluster_id == 0. A
 * learning keyring seals with cluster id 0 ("unassigned") and auth_open
 * accepts any cluster id, reporting it in auth_msg.cluster_id, so the
 * driver can adopt the id of the first authenticated answer (set
 * kr->cluster_id, persist it) and from then on refuse other clusters. A
 * member's keyring accepts unassigned (cluster id 0) envelopes only when
 * accept_unassigned is set: joiners are still authenticated by the key,
 * and the driver restricts what such a message may do (a join sync). */
struct auth_keyring {
    uint64_t cluster_id;     /* 0 = learning: accept any, report it */
    bool accept_unassigned;  /* also accept cluster id 0 (joiners) */
    unsigned char *mem; /* sodium_malloc: AUTH_KEYRING_MAX * AUTH_KEY_BYTES */
    uint32_t ids[AUTH_KEYRING_MAX];
    bool used[AUTH_KEYRING_MAX];
    int primary; /* slot index, or -1 when there is no key */
    unsigned count;
};
#define AUTH_KEYRING_ZERO {0, false, NULL, {0}, {0}, -1, 0}

/* auth_keyring_init prepares an empty keyring for cluster_id in *kr
 * (caller storage). Returns NAOS_OK, NAOS_ENOMEM or NAOS_ESYS; on error
 * *kr is left zeroed (fini-safe). */
int auth_keyring_init(struct auth_keyring *kr, uint64_t cluster_id);

/* auth_keyring_derived_cluster_id: a cluster id every holder of the
 * keyring's primary key derives alike (keyed BLAKE2b of a fixed label,
 * never 0), for nodes that found a cluster together
 * (--bootstrap-expect) and so cannot adopt one another's random id.
 * NAOS_OK, or NAOS_EINVAL without a key. */
int auth_keyring_derived_cluster_id(const struct auth_keyring *kr,
                                    uint64_t *out);

/* auth_keyring_fini wipes and frees every key. Safe on a zeroed or
 * half-initialised keyring, and idempotent. */
void auth_keyring_fini(struct auth_keyring *kr);

/* auth_keyring_install copies key k (borrowed) into the keyring. The
 * first key installed into an empty keyring becomes the primary;
 * otherwise the primary is unchanged (use auth_keyring_use).
 * Returns NAOS_OK; NAOS_EEXIST if a key with the same id is already
 * installed (the same key twice, or a 32-bit id collision: generate
 * another); NAOS_ETOOBIG if the keyring is full; NAOS_EINVAL if k is
 * empty or kr not initialised. */
int auth_keyring_install(struct auth_keyring *kr, const struct auth_key *k);

/* auth_keyring_use makes key_id the primary (the key auth_seal uses).
 * Returns NAOS_OK or NAOS_ENOTFOUND. */
int auth_keyring_use(struct auth_keyring *kr, uint32_t key_id);

/* auth_keyring_remove wipes and removes key_id. Returns NAOS_OK,
 * NAOS_ENOTFOUND, or NAOS_EBUSY if key_id is the primary (use another key
 * first). */
int auth_keyring_remove(struct auth_keyring *kr, uint32_t key_id);

/* auth_keyring_has is true if key_id is installed. */
bool auth_keyring_has(const struct auth_keyring *kr, uint32_t key_id);

/* auth_keyring_primary stores the primary key id in *key_id and returns
 * NAOS_OK, or returns NAOS_ENOTFOUND if the keyring is empty. */
int auth_keyring_primary(const struct auth_keyring *kr, uint32_t *key_id);

/* auth_keyring_lookup returns the AUTH_KEY_BYTES of key_id, or NULL. The
 * pointer is valid until that key is removed or the keyring is finied;
 * never copy it anywhere but the stack (and wipe it there). Used by
 * seal.c. */
const unsigned char *auth_keyring_lookup(const struct auth_keyring *kr,
                                         uint32_t key_id);

#endif
