/* SPDX-License-Identifier: Apache-2.0 */
/* replay_fuzz.c: libFuzzer target that drives auth_seal/auth_open through a
 * sequence of operations chosen by the input and compares every result
 * with an independent model (a plain set of seen counters per sender, the
 * staleness rule, the key rules). It reaches what envelope_fuzz cannot:
 * the code after authentication. Each operation is 3 input bytes:
 *   b0  counter: the sender's model top + (int8)b0
 *   b1  sent_at: now + (int8)b1 * 300 ms  (about +-38 s vs a 30 s window)
 *   b2  bit 0: flip a ciphertext bit   bit 1: second sender
 *       bit 2: seal with key 2 (installed, not primary)
 *       bit 3: seal with key 3 (never installed)
 *       bit 4: seal under another cluster id
 *       bit 5: advance `now` by 1 s first */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "node/auth/auth_fuzz.h"
#include "node/auth/seal.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/wire.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 2048
#define CBITS (1u << 20) /* counters modelled: [1, CBITS) */
#define CSTART (CBITS / 2)

static struct auth_keyring rx, tx1, tx2, tx3, txc;
static uint8_t seen[2][CBITS / 8];

static void
ring(struct auth_keyring *kr, uint64_t cluster, int byte)
{
    unsigned char raw[AUTH_KEY_BYTES];
    struct auth_key k = AUTH_KEY_ZERO;
    memset(raw, byte, sizeof raw);
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_init(kr, cluster) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_install(kr, &k) == NAOS_OK);
    auth_key_fini(&k);
}

static void
setup(void)
{
    ring(&rx, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY1_BYTE);
    unsigned char raw[AUTH_KEY_BYTES];
    struct auth_key k = AUTH_KEY_ZERO;
    memset(raw, AUTH_FUZZ_KEY2_BYTE, sizeof raw);
    NAOS_ASSERT(auth_key_init_from(&k, raw) == NAOS_OK);
    NAOS_ASSERT(auth_keyring_install(&rx, &k) == NAOS_OK);
    auth_key_fini(&k);
    ring(&tx1, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY1_BYTE);
    ring(&tx2, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY2_BYTE);
    ring(&tx3, AUTH_FUZZ_CLUSTER, AUTH_FUZZ_KEY3_BYTE);
    ring(&txc, AUTH_FUZZ_CLUSTER + 1, AUTH_FUZZ_KEY1_BYTE);
}

/* flip_ct flips one bit inside the ciphertext of the packed envelope. */
static void
flip_ct(uint8_t *buf, size_t len, unsigned which)
{
    Naos__V1__Envelope *e = naos__v1__envelope__unpack(NULL, len, buf);
    NAOS_ASSERT(e != NULL && e->ciphertext.len >= AUTH_TAG_BYTES);
    uint8_t *ct = memmem(buf, len, e->ciphertext.data, e->ciphertext.len);
    NAOS_ASSERT(ct != NULL);
    ct[which % e->ciphertext.len] ^= (uint8_t)(1u << (which % 8));
    naos__v1__envelope__free_unpacked(e, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (rx.mem == NULL)
        setup();
    long base = naos_alloc_live();
    struct auth_replay rp;
    auth_replay_init(&rp, AUTH_DEFAULT_MAX_SKEW_MS);
    memset(seen, 0, sizeof seen);
    uint64_t top[2] = {0, 0}; /* 0 = nothing accepted yet */
    int64_t now = AUTH_FUZZ_NOW;
    uint64_t opened = 0;

    for (size_t op = 0; op < MAX_OPS && (op + 1) * 3 <= size; op++) {
        const uint8_t *b = data + op * 3;
        int who = b[2] >> 1 & 1;
        if (b[2] & 32)
            now += 1000;
        int64_t ref = top[who] ? (int64_t)top[who] : (int64_t)CSTART;
        int64_t c = ref + (int8_t)b[0];
        if (c < 1 || c >= (int64_t)CBITS)
            continue;
        int64_t at = now + (int64_t)(int8_t)b[1] * 300;
        const struct auth_keyring *tx = &tx1;
        if (b[2] & 4)
            tx = &tx2;
        if (b[2] & 8)
            tx = &tx3;
        if (b[2] & 16)
            tx = &txc;
        struct auth_sender s;
        auth_sender_init(&s, 100 + (uint64_t)who, (uint64_t)c);
        uint8_t buf[128];
        size_t len;
        NAOS_ASSERT(auth_seal(tx, &s, at, 1 + b[0], b, 3, buf, sizeof buf,
                              &len, NULL) == NAOS_OK);
        if (b[2] & 1)
            flip_ct(buf, len, b[0] ^ b[1]);

        /* The model, in seal.h's order. */
        enum auth_reason want = AUTH_R_NONE;
        uint64_t uc = (uint64_t)c;
        if (b[2] & 16)
            want = AUTH_R_CLUSTER;
        else if (b[2] & 8)
            want = AUTH_R_UNKNOWN_KEY;
        else if (b[2] & 1)
            want = AUTH_R_BAD_MAC;
        else if (now - at > AUTH_DEFAULT_MAX_SKEW_MS)
            want = AUTH_R_STALE;
        else if (at - now > AUTH_DEFAULT_MAX_SKEW_MS)
            want = AUTH_R_FUTURE;
        else if (top[who] && uc + AUTH_REPLAY_WINDOW <= top[who])
            want = AUTH_R_TOO_OLD;
        else if (seen[who][uc / 8] >> (uc % 8) & 1)
            want = AUTH_R_REPLAY;

        struct auth_msg m;
        enum auth_reason why;
        int rv = auth_open(&rx, &rp, now, buf, len, &m, &why);
        if (why != want) {
            fprintf(stderr,
                    "op %zu: sender %d counter %llu (top %llu) at %+lld: "
                    "got %s, model says %s\n",
                    op, who, (unsigned long long)uc,
                    (unsigned long long)top[who], (long long)(at - now),
                    auth_reason_str(why), auth_reason_str(want));
            NAOS_ASSERT(why == want);
        }
        if (want == AUTH_R_NONE) {
            NAOS_ASSERT(rv == NAOS_OK);
            NAOS_ASSERT(m.type == 1u + b[0] && m.len == 3 &&
                        memcmp(m.payload, b, 3) == 0);
            NAOS_ASSERT(m.counter == uc && m.sender == 100u + (unsigned)who);
            seen[who][uc / 8] |= (uint8_t)(1u << (uc % 8));
            if (uc > top[who])
                top[who] = uc;
            opened++;
            auth_msg_fini(&m);
        } else {
            NAOS_ASSERT(rv != NAOS_OK && m.payload == NULL);
        }
    }
    NAOS_ASSERT(rp.stats.opened == opened);
    auth_replay_fini(&rp);
    NAOS_ASSERT(naos_alloc_live() == base);
    return 0;
}
