/* SPDX-License-Identifier: Apache-2.0 */
/* envelope_fuzz.c: libFuzzer target for auth_open with a fixed keyring
 * (auth_fuzz.h), a fresh replay state per input and a fixed clock. Built
 * by cluster-tests/fuzz (cmake -DNAOS_FUZZ=ON, CC=clang). Checks beyond
 * memory safety:
 *   - a rejection names one reason, bumps exactly that counter, returns the
 *     naos_err seal.h maps it to, leaves the output zeroed and creates no
 *     replay state;
 *   - an accepted envelope has a non-zero type, and the same bytes opened
 *     again are a replay;
 *   - nothing leaks through naos_alloc.
 * Seeds (valid envelopes under the fixed keys) come from seedgen. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/auth/auth_fuzz.h"
#include "node/auth/seal.h"
#include "node/base/alloc.h"
#include "node/base/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_keyring kr = AUTH_KEYRING_ZERO;

static void
setup(void)
{
    unsigned char raw[AUTH_KEY_BYTES];
    struct auth_key k = AUTH_KEY_ZERO;
    NAOS_ASSERT(auth_keyring_init(&kr, AUTH_FUZZ_CLUSTER) == NAOS_OK);
    memset(raw, AUTH_FUZZ_KEY1_BYTE, sizeof raw);
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_install(&kr, &k) == NAOS_OK);
    auth_key_fini(&k);
    memset(raw, AUTH_FUZZ_KEY2_BYTE, sizeof raw);
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_install(&kr, &k) == NAOS_OK);
    auth_key_fini(&k);
}

static int
expected_err(enum auth_reason r)
{
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
    default:
        return NAOS_EAUTH;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct auth_msg zero = AUTH_MSG_ZERO;
    if (kr.mem == NULL)
        setup();
    long base = naos_alloc_live();
    struct auth_replay rp;
    auth_replay_init(&rp, AUTH_DEFAULT_MAX_SKEW_MS);
    struct auth_msg m;
    enum auth_reason why = AUTH_R__COUNT;

    int rv = auth_open(&kr, &rp, AUTH_FUZZ_NOW, data, size, &m, &why);
    if (rv == NAOS_OK) {
        NAOS_ASSERT(why == AUTH_R_NONE);
        NAOS_ASSERT(m.type != 0);
        NAOS_ASSERT((m.len == 0) == (m.payload == NULL));
        NAOS_ASSERT(m.len <= size);
        NAOS_ASSERT(rp.stats.opened == 1 && rp.senders.len == 1);
        struct auth_msg again;
        NAOS_ASSERT(auth_open(&kr, &rp, AUTH_FUZZ_NOW, data, size, &again,
                              &why) == NAOS_EAUTH);
        NAOS_ASSERT(why == AUTH_R_REPLAY);
        NAOS_ASSERT(memcmp(&again, &zero, sizeof again) == 0);
        auth_msg_fini(&m);
    } else {
        NAOS_ASSERT(why > AUTH_R_NONE && why < AUTH_R__COUNT);
        NAOS_ASSERT(rv == expected_err(why));
        NAOS_ASSERT(rp.stats.rejected[why] == 1 && rp.stats.opened == 0);
        NAOS_ASSERT(memcmp(&m, &zero, sizeof m) == 0);
        NAOS_ASSERT(rp.senders.len == 0);
    }
    auth_replay_fini(&rp);
    NAOS_ASSERT(naos_alloc_live() == base);
    return 0;
}
