/* SPDX-License-Identifier: Apache-2.0 */
/* seal_forge: one sealed envelope, as a member (or anyone holding the
 * cluster key) would send it, for the integration tests
 * (test_gossip_auth.py): messages of types no released naos sends yet,
 * such as the Raft range a node must count as unhandled, never as an
 * undecodable membership message.
 *
 *   it_seal_forge KEYFILE CLUSTER_ID SENDER_ID TYPE PAYLOAD
 *
 * CLUSTER_ID and SENDER_ID are hex, TYPE decimal, PAYLOAD the payload's
 * bytes as given. Writes the packed Envelope (proto/wire.proto) to
 * stdout: the caller frames it (SP/TCP) and sends it. Exits 0, or 100 on
 * bad arguments, 111 when the key cannot be read or the sealing fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/auth/keys.h"
#include "node/auth/seal.h"
#include "node/base/err.h"
#include "node/base/time.h"

int
main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: it_seal_forge KEYFILE CLUSTER_ID SENDER_ID "
                        "TYPE PAYLOAD\n");
        return 100;
    }
    uint64_t cluster = strtoull(argv[2], NULL, 16);
    uint64_t sender = strtoull(argv[3], NULL, 16);
    unsigned long type = strtoul(argv[4], NULL, 10);
    if (sender == 0 || type == 0 || type > UINT32_MAX) {
        fprintf(stderr, "it_seal_forge: sender and type must be non-zero\n");
        return 100;
    }
    char err[512];
    struct auth_key key;
    struct auth_keyring kr;
    if (auth_init() != NAOS_OK ||
        auth_keyfile_load(argv[1], &key, err, sizeof err) != NAOS_OK) {
        fprintf(stderr, "it_seal_forge: %s\n", err);
        return 111;
    }
    if (auth_keyring_init(&kr, cluster) != NAOS_OK ||
        auth_keyring_install(&kr, &key) != NAOS_OK) {
        fprintf(stderr, "it_seal_forge: cannot set up the keyring\n");
        return 111;
    }
    struct auth_sender s;
    int64_t now = naos_clock_wall_ms();
    auth_sender_init(&s, sender, (uint64_t)now << 20);
    size_t plen = strlen(argv[5]);
    size_t cap = plen + AUTH_SEAL_OVERHEAD;
    uint8_t *out = malloc(cap);
    size_t len = 0;
    int rc = out ? auth_seal(&kr, &s, now, (uint32_t)type, argv[5], plen, out,
                             cap, &len, NULL)
                 : NAOS_ENOMEM;
    if (rc != NAOS_OK) {
        fprintf(stderr, "it_seal_forge: cannot seal: %s\n",
                naos_strerror(rc));
        return 111;
    }
    fwrite(out, 1, len, stdout);
    free(out);
    auth_key_fini(&key);
    auth_keyring_fini(&kr);
    return fflush(stdout) == 0 ? 0 : 111;
}
