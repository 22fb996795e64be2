/* SPDX-License-Identifier: Apache-2.0 */
/* seal_test.c: sealed envelopes: round trip, every rejection of auth_open
 * (with its reason and stats counter), the replay window and key
 * rotation. */
#include "node/auth/seal.h"

#include <sodium.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "proto/wire.pb-c.h"

#define CLUSTER 0xc1u
#define T0 1700000000000LL /* a wall clock time, ms */
#define TYPE 7u

struct fx {
    struct auth_key key;
    struct auth_keyring tx; /* sender's keyring */
    struct auth_keyring rx; /* receiver's keyring */
    struct auth_sender snd;
    struct auth_replay rp;
    uint8_t buf[4096];
    size_t len;
    struct auth_msg msg;
    enum auth_reason why;
    long live;
};

static void
fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->live = naos_alloc_live();
    unsigned char raw[AUTH_KEY_BYTES];
    memset(raw, 0x5a, sizeof raw);
    NT_EQ_INT(auth_key_init_from(&f->key, raw), NAOS_OK);
    NT_EQ_INT(auth_keyring_init(&f->tx, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_init(&f->rx, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&f->tx, &f->key), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&f->rx, &f->key), NAOS_OK);
    auth_sender_init(&f->snd, 11, 1000);
    auth_replay_init(&f->rp, AUTH_DEFAULT_MAX_SKEW_MS);
}

static void
fx_fini(struct fx *f)
{
    auth_msg_fini(&f->msg);
    auth_replay_fini(&f->rp);
    auth_keyring_fini(&f->tx);
    auth_keyring_fini(&f->rx);
    auth_key_fini(&f->key);
    NT_EQ_INT(naos_alloc_live(), f->live);
}

static void
seal_msg(struct fx *f, int64_t at, const char *text)
{
    NT_EQ_INT(auth_seal(&f->tx, &f->snd, at, TYPE, text, strlen(text), f->buf,
                        sizeof f->buf, &f->len, NULL),
              NAOS_OK);
}

static int
open_buf(struct fx *f, const uint8_t *b, size_t len, int64_t now)
{
    auth_msg_fini(&f->msg);
    return auth_open(&f->rx, &f->rp, now, b, len, &f->msg, &f->why);
}

static int
open_msg(struct fx *f, int64_t now)
{
    return open_buf(f, f->buf, f->len, now);
}

/* expect_reject: opening fails with rv and reason r, bumps exactly that
 * counter by one, and leaves the output zeroed. */
#define EXPECT_REJECT(f, call, rv, r)                                        \
    do {                                                                     \
        uint64_t before_ = (f)->rp.stats.rejected[r];                        \
        uint64_t opened_ = (f)->rp.stats.opened;                             \
        NT_EQ_INT((call), (rv));                                             \
        if ((f)->why != (r))                                                 \
            NT_FAIL("reason %s, expected %s", auth_reason_str((f)->why),     \
                    auth_reason_str(r));                                     \
        NT_EQ_INT((f)->rp.stats.rejected[r], before_ + 1);                   \
        NT_EQ_INT((f)->rp.stats.opened, opened_);                            \
        NT_TRUE((f)->msg.payload == NULL && (f)->msg.type == 0);             \
    } while (0)

static void
test_round_trip(void)
{
    struct fx f;
    fx_init(&f);
    struct auth_stats st = {0};
    const char *text = "hello, cluster";
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, TYPE, text, strlen(text), f.buf,
                        sizeof f.buf, &f.len, &st),
              NAOS_OK);
    NT_EQ_INT(st.sealed, 1);
    NT_EQ_INT(f.snd.next, 1001);
    NT_TRUE(f.len <= strlen(text) + AUTH_SEAL_OVERHEAD);
    /* The plaintext is not visible on the wire. */
    NT_TRUE(memmem(f.buf, f.len, text, strlen(text)) == NULL);

    NT_EQ_INT(open_msg(&f, T0 + 5), NAOS_OK);
    NT_EQ_INT(f.why, AUTH_R_NONE);
    NT_EQ_INT(f.msg.type, TYPE);
    NT_EQ_INT(f.msg.sender, 11);
    NT_EQ_INT(f.msg.counter, 1000);
    NT_EQ_INT(f.msg.sent_at_ms, T0);
    NT_EQ_INT(f.msg.key_id, f.key.id);
    NT_EQ_INT(f.msg.len, strlen(text));
    NT_EQ_INT(memcmp(f.msg.payload, text, f.msg.len), 0);
    NT_EQ_INT(f.rp.stats.opened, 1);

    /* An empty payload, and a binary one. */
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, 1, NULL, 0, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    NT_EQ_INT(f.msg.type, 1);
    NT_EQ_INT(f.msg.len, 0);
    NT_TRUE(f.msg.payload == NULL);
    uint8_t bin[256];
    for (int i = 0; i < 256; i++)
        bin[i] = (uint8_t)i;
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, 0xffffffffu, bin, sizeof bin,
                        f.buf, sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    NT_EQ_INT(f.msg.type, 0xffffffffu);
    NT_EQ_INT(f.msg.len, sizeof bin);
    NT_EQ_INT(memcmp(f.msg.payload, bin, sizeof bin), 0);

    /* Two seals of the same message differ (random nonce). */
    uint8_t a[256], b[256];
    size_t alen, blen;
    struct auth_sender s1, s2;
    auth_sender_init(&s1, 5, 1);
    auth_sender_init(&s2, 5, 1);
    NT_EQ_INT(auth_seal(&f.tx, &s1, T0, 2, "x", 1, a, sizeof a, &alen, NULL),
              NAOS_OK);
    NT_EQ_INT(auth_seal(&f.tx, &s2, T0, 2, "x", 1, b, sizeof b, &blen, NULL),
              NAOS_OK);
    NT_EQ_INT(alen, blen);
    NT_TRUE(memcmp(a, b, alen) != 0);
    fx_fini(&f);
}

static void
test_seal_arguments(void)
{
    struct fx f;
    fx_init(&f);
    struct auth_sender s = f.snd;
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, 0, "x", 1, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_EINVAL); /* type 0 */
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, TYPE, "x", 1, f.buf, 10, &f.len,
                        NULL),
              NAOS_ETOOBIG); /* buffer too small */
    NT_EQ_INT(f.snd.next, s.next); /* untouched on error */
    uint8_t *big = naos_alloc(AUTH_MAX_PAYLOAD + 1);
    uint8_t *out = naos_alloc(AUTH_MAX_ENVELOPE + 64);
    NT_TRUE(big && out);
    size_t outlen;
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, TYPE, big, AUTH_MAX_PAYLOAD + 1,
                        out, AUTH_MAX_ENVELOPE + 64, &outlen, NULL),
              NAOS_ETOOBIG);
    /* The largest payload fits in AUTH_MAX_ENVELOPE and opens. */
    NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, TYPE, big, AUTH_MAX_PAYLOAD, out,
                        AUTH_MAX_PAYLOAD + AUTH_SEAL_OVERHEAD, &outlen, NULL),
              NAOS_OK);
    NT_TRUE(outlen <= AUTH_MAX_ENVELOPE);
    NT_EQ_INT(open_buf(&f, out, outlen, T0), NAOS_OK);
    NT_EQ_INT(f.msg.len, AUTH_MAX_PAYLOAD);
    auth_msg_fini(&f.msg);
    naos_free(big);
    naos_free(out);

    struct auth_keyring empty;
    NT_EQ_INT(auth_keyring_init(&empty, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_seal(&empty, &f.snd, T0, TYPE, "x", 1, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_ENOTFOUND);
    auth_keyring_fini(&empty);
    struct auth_sender last;
    auth_sender_init(&last, 1, UINT64_MAX);
    NT_EQ_INT(auth_seal(&f.tx, &last, T0, TYPE, "x", 1, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_EINVAL); /* the counter would wrap */
    fx_fini(&f);
}

static void
test_tampered_ciphertext(void)
{
    struct fx f;
    fx_init(&f);
    seal_msg(&f, T0, "transfer 10 coins");
    /* Flip each byte of the envelope in turn: none may open, and the
     * reason is never a success. The ciphertext is at the end. */
    for (size_t i = 0; i < f.len; i++) {
        uint8_t copy[sizeof f.buf];
        memcpy(copy, f.buf, f.len);
        copy[i] ^= 0x01;
        int rv = open_buf(&f, copy, f.len, T0);
        if (rv == NAOS_OK)
            NT_FAIL("byte %zu flipped, but the envelope opened", i);
    }
    NT_EQ_INT(f.rp.stats.opened, 0);
    /* A flip in the ciphertext or its tag is precisely a bad MAC. */
    Naos__V1__Envelope *e = naos__v1__envelope__unpack(NULL, f.len, f.buf);
    NT_TRUE(e != NULL && e->ciphertext.len > AUTH_TAG_BYTES);
    uint8_t *ct = memmem(f.buf, f.len, e->ciphertext.data, e->ciphertext.len);
    NT_TRUE(ct != NULL);
    size_t at[] = {0, e->ciphertext.len / 2, e->ciphertext.len - 1};
    for (size_t i = 0; i < 3; i++) {
        ct[at[i]] ^= 0x80;
        EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_BAD_MAC);
        ct[at[i]] ^= 0x80;
    }
    naos__v1__envelope__free_unpacked(e, NULL);
    /* The untouched one still opens: failures changed no state. */
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    fx_fini(&f);
}

/* reseal_header unpacks the envelope in f->buf, lets edit change the
 * clear header, and packs it back (same nonce and ciphertext). */
static void
reseal_header(struct fx *f, void (*edit)(Naos__V1__Envelope *))
{
    Naos__V1__Envelope *e = naos__v1__envelope__unpack(NULL, f->len, f->buf);
    NT_TRUE(e != NULL);
    edit(e);
    NT_TRUE(naos__v1__envelope__get_packed_size(e) <= sizeof f->buf);
    f->len = naos__v1__envelope__pack(e, f->buf);
    naos__v1__envelope__free_unpacked(e, NULL);
}

static void edit_sender(Naos__V1__Envelope *e) { e->sender ^= 1; }
static void edit_counter(Naos__V1__Envelope *e) { e->counter += 1; }
static void edit_sent_at(Naos__V1__Envelope *e) { e->sent_at_ms += 1; }
static void edit_nonce(Naos__V1__Envelope *e) { e->nonce.data[3] ^= 4; }
static void edit_version(Naos__V1__Envelope *e) { e->version = 2; }
static void edit_cluster(Naos__V1__Envelope *e) { e->cluster_id = 0xc2; }
static void edit_key_id(Naos__V1__Envelope *e) { e->key_id ^= 0x100; }
static void edit_nonce_len(Naos__V1__Envelope *e) { e->nonce.len = 12; }
static void
edit_truncate_ct(Naos__V1__Envelope *e)
{
    e->ciphertext.len -= 1;
}
static void
edit_tiny_ct(Naos__V1__Envelope *e)
{
    e->ciphertext.len = AUTH_TAG_BYTES - 1;
}

static void
test_tampered_header(void)
{
    static const struct {
        const char *name;
        void (*edit)(Naos__V1__Envelope *);
        int rv;
        enum auth_reason why;
    } cases[] = {
        {"sender", edit_sender, NAOS_EAUTH, AUTH_R_BAD_MAC},
        {"counter", edit_counter, NAOS_EAUTH, AUTH_R_BAD_MAC},
        {"sent_at", edit_sent_at, NAOS_EAUTH, AUTH_R_BAD_MAC},
        {"nonce", edit_nonce, NAOS_EAUTH, AUTH_R_BAD_MAC},
        {"version", edit_version, NAOS_EPROTO, AUTH_R_VERSION},
        {"cluster", edit_cluster, NAOS_EAUTH, AUTH_R_CLUSTER},
        {"key_id (unknown)", edit_key_id, NAOS_EAUTH, AUTH_R_UNKNOWN_KEY},
        {"nonce length", edit_nonce_len, NAOS_EPROTO, AUTH_R_UNDECODABLE},
        {"ciphertext truncated", edit_truncate_ct, NAOS_EAUTH, AUTH_R_BAD_MAC},
        {"ciphertext < tag", edit_tiny_ct, NAOS_EAUTH, AUTH_R_BAD_MAC},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct fx f;
        fx_init(&f);
        seal_msg(&f, T0, "payload");
        reseal_header(&f, cases[i].edit);
        uint64_t before = f.rp.stats.rejected[cases[i].why];
        int rv = open_msg(&f, T0);
        if (rv != cases[i].rv || f.why != cases[i].why)
            NT_FAIL("%s: got %s (%d), want %s (%d)", cases[i].name,
                    auth_reason_str(f.why), rv,
                    auth_reason_str(cases[i].why), cases[i].rv);
        NT_EQ_INT(f.rp.stats.rejected[cases[i].why], before + 1);
        NT_EQ_INT(f.rp.senders.len, 0); /* no replay state was created */
        fx_fini(&f);
    }
}

/* A key_id changed to another installed key: the envelope finds a key,
 * but the wrong one, and the header (with key_id) is authenticated. */
static void
test_tampered_key_id_to_installed_key(void)
{
    struct fx f;
    fx_init(&f);
    struct auth_key other = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_generate(&other), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&f.rx, &other), NAOS_OK);
    seal_msg(&f, T0, "payload");
    Naos__V1__Envelope *e = naos__v1__envelope__unpack(NULL, f.len, f.buf);
    NT_TRUE(e != NULL);
    e->key_id = other.id;
    f.len = naos__v1__envelope__pack(e, f.buf);
    naos__v1__envelope__free_unpacked(e, NULL);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_BAD_MAC);
    auth_key_fini(&other);
    fx_fini(&f);
}

static void
test_truncated(void)
{
    struct fx f;
    fx_init(&f);
    seal_msg(&f, T0, "a message that will be cut short");
    for (size_t n = 0; n < f.len; n++) {
        int rv = open_buf(&f, f.buf, n, T0);
        if (rv == NAOS_OK)
            NT_FAIL("truncated to %zu of %zu bytes, but it opened", n, f.len);
        if (f.why != AUTH_R_UNDECODABLE && f.why != AUTH_R_BAD_MAC &&
            f.why != AUTH_R_VERSION && f.why != AUTH_R_CLUSTER &&
            f.why != AUTH_R_UNKNOWN_KEY)
            NT_FAIL("truncated to %zu: reason %s", n, auth_reason_str(f.why));
    }
    /* Cut inside the ciphertext field's length: undecodable. */
    EXPECT_REJECT(&f, open_buf(&f, f.buf, f.len - 1, T0), NAOS_EPROTO,
                  AUTH_R_UNDECODABLE);
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    fx_fini(&f);
}

static void
test_wrong_key(void)
{
    struct fx f;
    fx_init(&f);
    /* A sender with a different key that claims our key's id. */
    unsigned char raw[AUTH_KEY_BYTES];
    memset(raw, 0x33, sizeof raw);
    struct auth_keyring evil;
    NT_EQ_INT(auth_keyring_init(&evil, CLUSTER), NAOS_OK);
    struct auth_key k = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_init_from(&k, raw), NAOS_OK);
    k.id = f.key.id; /* forge the id */
    NT_EQ_INT(auth_keyring_install(&evil, &k), NAOS_OK);
    NT_EQ_INT(auth_seal(&evil, &f.snd, T0, TYPE, "hi", 2, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_BAD_MAC);
    /* With its honest id, the key is simply unknown. */
    auth_keyring_fini(&evil);
    k.id = auth_key_id(raw);
    NT_EQ_INT(auth_keyring_init(&evil, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&evil, &k), NAOS_OK);
    NT_EQ_INT(auth_seal(&evil, &f.snd, T0, TYPE, "hi", 2, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_UNKNOWN_KEY);
    auth_keyring_fini(&evil);
    auth_key_fini(&k);
    /* Another cluster using the same key. */
    struct auth_keyring other;
    NT_EQ_INT(auth_keyring_init(&other, CLUSTER + 1), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&other, &f.key), NAOS_OK);
    NT_EQ_INT(auth_seal(&other, &f.snd, T0, TYPE, "hi", 2, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_CLUSTER);
    auth_keyring_fini(&other);
    fx_fini(&f);
}

static void
test_replayed(void)
{
    struct fx f;
    fx_init(&f);
    seal_msg(&f, T0, "once");
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_REPLAY);
    EXPECT_REJECT(&f, open_msg(&f, T0 + 1000), NAOS_EAUTH, AUTH_R_REPLAY);
    /* Another sender with the same counter is independent. */
    struct auth_sender other;
    auth_sender_init(&other, 12, 1000);
    NT_EQ_INT(auth_seal(&f.tx, &other, T0, TYPE, "once", 4, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    NT_EQ_INT(f.msg.sender, 12);
    /* After forgetting a sender, its counters start afresh. */
    auth_replay_forget(&f.rp, 12);
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    fx_fini(&f);
}

/* Seal n messages from one sender, keep them all. */
struct batch {
    uint8_t b[200][128];
    size_t len[200];
};

static void
seal_batch(struct fx *f, struct batch *bt, int n)
{
    NT_TRUE(n <= 200);
    for (int i = 0; i < n; i++)
        NT_EQ_INT(auth_seal(&f->tx, &f->snd, T0, TYPE, "m", 1, bt->b[i],
                            sizeof bt->b[i], &bt->len[i], NULL),
                  NAOS_OK);
}

static void
test_reordered_within_window(void)
{
    struct fx f;
    fx_init(&f);
    static struct batch bt;
    seal_batch(&f, &bt, AUTH_REPLAY_WINDOW);
    /* Deliver newest first, then all the older ones: every one opens
     * once, and none twice. */
    for (int i = AUTH_REPLAY_WINDOW - 1; i >= 0; i--) {
        NT_EQ_INT(open_buf(&f, bt.b[i], bt.len[i], T0), NAOS_OK);
        NT_EQ_INT(f.msg.counter, 1000 + (uint64_t)i);
    }
    for (int i = 0; i < AUTH_REPLAY_WINDOW; i++)
        EXPECT_REJECT(&f, open_buf(&f, bt.b[i], bt.len[i], T0), NAOS_EAUTH,
                      AUTH_R_REPLAY);
    /* Interleaved order: 0 2 1 4 3 ... */
    struct fx g;
    fx_init(&g);
    seal_batch(&g, &bt, 100);
    for (int i = 0; i + 1 < 100; i += 2) {
        NT_EQ_INT(open_buf(&g, bt.b[i + 1], bt.len[i + 1], T0), NAOS_OK);
        NT_EQ_INT(open_buf(&g, bt.b[i], bt.len[i], T0), NAOS_OK);
        EXPECT_REJECT(&g, open_buf(&g, bt.b[i + 1], bt.len[i + 1], T0),
                      NAOS_EAUTH, AUTH_R_REPLAY);
    }
    /* Gaps: a skipped counter stays acceptable while in the window. */
    struct fx h;
    fx_init(&h);
    seal_batch(&h, &bt, 200);
    NT_EQ_INT(open_buf(&h, bt.b[0], bt.len[0], T0), NAOS_OK);
    NT_EQ_INT(open_buf(&h, bt.b[70], bt.len[70], T0), NAOS_OK); /* shift 70 */
    NT_EQ_INT(open_buf(&h, bt.b[10], bt.len[10], T0), NAOS_OK);
    NT_EQ_INT(open_buf(&h, bt.b[130], bt.len[130], T0), NAOS_OK);
    NT_EQ_INT(open_buf(&h, bt.b[3], bt.len[3], T0), NAOS_OK); /* 127 back */
    EXPECT_REJECT(&h, open_buf(&h, bt.b[70], bt.len[70], T0), NAOS_EAUTH,
                  AUTH_R_REPLAY);
    EXPECT_REJECT(&h, open_buf(&h, bt.b[10], bt.len[10], T0), NAOS_EAUTH,
                  AUTH_R_REPLAY);
    EXPECT_REJECT(&h, open_buf(&h, bt.b[3], bt.len[3], T0), NAOS_EAUTH,
                  AUTH_R_REPLAY);
    fx_fini(&h);
    fx_fini(&g);
    fx_fini(&f);
}

static void
test_reordered_beyond_window(void)
{
    struct fx f;
    fx_init(&f);
    static struct batch bt;
    seal_batch(&f, &bt, 200);
    NT_EQ_INT(open_buf(&f, bt.b[AUTH_REPLAY_WINDOW], bt.len[AUTH_REPLAY_WINDOW],
                       T0),
              NAOS_OK);
    /* counter top - 128: just outside. */
    EXPECT_REJECT(&f, open_buf(&f, bt.b[0], bt.len[0], T0), NAOS_EAUTH,
                  AUTH_R_TOO_OLD);
    /* top - 127: just inside. */
    NT_EQ_INT(open_buf(&f, bt.b[1], bt.len[1], T0), NAOS_OK);
    /* A big jump forward drops the whole window. */
    NT_EQ_INT(open_buf(&f, bt.b[199], bt.len[199], T0), NAOS_OK);
    EXPECT_REJECT(&f, open_buf(&f, bt.b[2], bt.len[2], T0), NAOS_EAUTH,
                  AUTH_R_TOO_OLD);
    NT_EQ_INT(open_buf(&f, bt.b[150], bt.len[150], T0), NAOS_OK);
    fx_fini(&f);
}

static void
test_window_shift_across_words(void)
{
    /* Counters far apart exercise every shift case of the 128-bit window:
     * by < 64, by 64..127, by >= 128; each accepted message must be
     * remembered as long as it is in the window. */
    static const uint64_t steps[] = {1, 63, 64, 65, 127, 128, 129, 1, 2, 3};
    struct fx f;
    fx_init(&f);
    uint64_t seen[16];
    size_t nseen = 0;
    static uint8_t keep[16][128];
    static size_t klen[16];
    uint64_t c = 5000;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        c += steps[i];
        f.snd.next = c;
        NT_EQ_INT(auth_seal(&f.tx, &f.snd, T0, TYPE, "m", 1, keep[nseen],
                            sizeof keep[nseen], &klen[nseen], NULL),
                  NAOS_OK);
        NT_EQ_INT(open_buf(&f, keep[nseen], klen[nseen], T0), NAOS_OK);
        seen[nseen++] = c;
        for (size_t j = 0; j < nseen; j++) {
            enum auth_reason want = c - seen[j] >= AUTH_REPLAY_WINDOW
                                        ? AUTH_R_TOO_OLD
                                        : AUTH_R_REPLAY;
            NT_EQ_INT(open_buf(&f, keep[j], klen[j], T0), NAOS_EAUTH);
            NT_EQ_INT(f.why, want);
        }
    }
    fx_fini(&f);
}

static void
test_stale_and_future(void)
{
    struct fx f;
    fx_init(&f);
    int64_t w = AUTH_DEFAULT_MAX_SKEW_MS;
    seal_msg(&f, T0, "old");
    EXPECT_REJECT(&f, open_msg(&f, T0 + w + 1), NAOS_ETIMEDOUT,
                  AUTH_R_STALE);
    EXPECT_REJECT(&f, open_msg(&f, T0 - w - 1), NAOS_ETIMEDOUT,
                  AUTH_R_FUTURE);
    /* Stale rejection did not consume the counter: at the edge of the
     * window it opens. */
    NT_EQ_INT(open_msg(&f, T0 + w), NAOS_OK);
    seal_msg(&f, T0, "edge");
    NT_EQ_INT(open_msg(&f, T0 - w), NAOS_OK);
    /* Extreme clocks cannot overflow the check. */
    seal_msg(&f, INT64_MIN, "x");
    EXPECT_REJECT(&f, open_msg(&f, INT64_MAX), NAOS_ETIMEDOUT, AUTH_R_STALE);
    seal_msg(&f, INT64_MAX, "x");
    EXPECT_REJECT(&f, open_msg(&f, INT64_MIN), NAOS_ETIMEDOUT, AUTH_R_FUTURE);
    /* A configurable window. */
    struct auth_replay tight;
    auth_replay_init(&tight, 100);
    seal_msg(&f, T0, "x");
    struct auth_msg m = AUTH_MSG_ZERO;
    enum auth_reason why;
    NT_EQ_INT(auth_open(&f.rx, &tight, T0 + 101, f.buf, f.len, &m, &why),
              NAOS_ETIMEDOUT);
    NT_EQ_INT(why, AUTH_R_STALE);
    NT_EQ_INT(auth_open(&f.rx, &tight, T0 + 100, f.buf, f.len, &m, &why),
              NAOS_OK);
    auth_msg_fini(&m);
    auth_replay_fini(&tight);
    fx_fini(&f);
}

static void
test_oversized_rejected_before_decoding(void)
{
    struct fx f;
    fx_init(&f);
    /* Zeros past the limit (they would decode: field 0 is invalid, but
     * the decoder is never reached). */
    size_t n = AUTH_MAX_ENVELOPE + 1;
    uint8_t *big = naos_alloc(n);
    NT_TRUE(big != NULL);
    EXPECT_REJECT(&f, open_buf(&f, big, n, T0), NAOS_ETOOBIG,
                  AUTH_R_OVERSIZED);
    /* The length alone decides: the bytes are never read (a huge claimed
     * length over a small buffer is safe). */
    EXPECT_REJECT(&f, open_buf(&f, big, SIZE_MAX, T0), NAOS_ETOOBIG,
                  AUTH_R_OVERSIZED);
    /* Nothing is allocated: with the next allocation armed to fail, the
     * result is still "oversized", not "undecodable". */
    naos_alloc_fail_after(0);
    EXPECT_REJECT(&f, open_buf(&f, big, n, T0), NAOS_ETOOBIG,
                  AUTH_R_OVERSIZED);
    naos_alloc_fail_after(-1);
    naos_free(big);
    NT_EQ_INT(f.rp.stats.rejected[AUTH_R_UNDECODABLE], 0);
    fx_fini(&f);
}

static void
test_garbage_rejected(void)
{
    struct fx f;
    fx_init(&f);
    static const char *const junk[] = {
        "", "\x00", "\xff\xff\xff\xff", "GET / HTTP/1.1\r\n\r\n",
        "\x0a\xff\xff\xff\xff\x0f", /* bytes field with a huge length */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        size_t len = strlen(junk[i]) + (i == 1);
        int rv = open_buf(&f, (const uint8_t *)junk[i], len, T0);
        NT_TRUE(rv != NAOS_OK);
    }
    /* The empty input decodes as an all-default Envelope: no nonce. */
    EXPECT_REJECT(&f, open_buf(&f, (const uint8_t *)"", 0, T0), NAOS_EPROTO,
                  AUTH_R_UNDECODABLE);
    EXPECT_REJECT(&f, open_buf(&f, (const uint8_t *)"\xff\xff", 2, T0),
                  NAOS_EPROTO, AUTH_R_UNDECODABLE);
    /* Pseudo-random inputs. */
    uint32_t x = 12345;
    uint8_t buf[512];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t)(round % (int)sizeof buf);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = (uint8_t)(x >> 16);
        }
        NT_TRUE(open_buf(&f, buf, len, T0) != NAOS_OK);
    }
    NT_EQ_INT(f.rp.stats.opened, 0);
    NT_EQ_INT(f.rp.senders.len, 0);
    fx_fini(&f);
}

/* hand_seal builds an envelope the way seal.h documents it (AD layout
 * included) around an arbitrary plaintext, so the documented format is
 * checked independently of auth_seal. */
static size_t
hand_seal(struct fx *f, uint64_t counter, const uint8_t *pt, size_t ptlen,
          uint8_t *wire, size_t cap)
{
    uint8_t ad[AUTH_AD_BYTES], nonce[AUTH_NONCE_BYTES], ct[256];
    uint64_t sender = 77;
    int64_t at = T0;
    NT_TRUE(ptlen + AUTH_TAG_BYTES <= sizeof ct);
    memcpy(ad, "naos-env", 8);
    for (int i = 0; i < 4; i++) {
        ad[8 + i] = (uint8_t)(AUTH_ENVELOPE_VERSION >> (24 - 8 * i));
        ad[12 + i] = (uint8_t)(f->key.id >> (24 - 8 * i));
    }
    for (int i = 0; i < 8; i++) {
        ad[16 + i] = (uint8_t)((uint64_t)CLUSTER >> (56 - 8 * i));
        ad[24 + i] = (uint8_t)(sender >> (56 - 8 * i));
        ad[32 + i] = (uint8_t)(counter >> (56 - 8 * i));
        ad[40 + i] = (uint8_t)((uint64_t)at >> (56 - 8 * i));
    }
    randombytes_buf(nonce, sizeof nonce);
    unsigned long long clen;
    crypto_aead_xchacha20poly1305_ietf_encrypt(ct, &clen, pt, ptlen, ad,
                                               sizeof ad, NULL, nonce,
                                               f->key.bytes);
    Naos__V1__Envelope e = NAOS__V1__ENVELOPE__INIT;
    e.version = AUTH_ENVELOPE_VERSION;
    e.key_id = f->key.id;
    e.sender = sender;
    e.counter = counter;
    e.sent_at_ms = at;
    e.nonce.data = nonce;
    e.nonce.len = sizeof nonce;
    e.ciphertext.data = ct;
    e.ciphertext.len = clen;
    e.cluster_id = CLUSTER;
    NT_TRUE(naos__v1__envelope__get_packed_size(&e) <= cap);
    return naos__v1__envelope__pack(&e, wire);
}

static void
test_documented_format_and_bad_payload(void)
{
    struct fx f;
    fx_init(&f);
    uint8_t wire[512], pt[64];
    size_t n;
    /* A well-formed Sealed{type 9, payload "p"} sealed by hand opens: the
     * AD layout in seal.h is the one auth_open uses. */
    Naos__V1__Sealed s = NAOS__V1__SEALED__INIT;
    s.type = 9;
    s.payload.data = (uint8_t *)"p";
    s.payload.len = 1;
    size_t ptlen = naos__v1__sealed__pack(&s, pt);
    n = hand_seal(&f, 1, pt, ptlen, wire, sizeof wire);
    NT_EQ_INT(open_buf(&f, wire, n, T0), NAOS_OK);
    NT_EQ_INT(f.msg.type, 9);
    NT_EQ_INT(f.msg.sender, 77);
    NT_EQ_INT(f.msg.len, 1);
    NT_EQ_INT(f.msg.payload[0], 'p');
    /* Authentic, but type 0 (an empty Sealed). */
    n = hand_seal(&f, 2, pt, 0, wire, sizeof wire);
    EXPECT_REJECT(&f, open_buf(&f, wire, n, T0), NAOS_EPROTO,
                  AUTH_R_BAD_PAYLOAD);
    /* Authentic, but not protobuf at all. */
    memset(pt, 0xff, 8);
    n = hand_seal(&f, 3, pt, 8, wire, sizeof wire);
    EXPECT_REJECT(&f, open_buf(&f, wire, n, T0), NAOS_EPROTO,
                  AUTH_R_BAD_PAYLOAD);
    /* A rejected message did not use up its counter. */
    memset(pt, 0, sizeof pt);
    ptlen = naos__v1__sealed__pack(&s, pt);
    n = hand_seal(&f, 3, pt, ptlen, wire, sizeof wire);
    NT_EQ_INT(open_buf(&f, wire, n, T0), NAOS_OK);
    NT_EQ_INT(f.msg.counter, 3);

    NT_EQ_STR(auth_reason_str(AUTH_R_BAD_PAYLOAD), "bad-payload");
    NT_EQ_STR(auth_reason_str(AUTH_R__COUNT), "unknown");
    for (int r = 0; r < AUTH_R__COUNT; r++)
        NT_TRUE(strcmp(auth_reason_str((enum auth_reason)r), "unknown") != 0);
    fx_fini(&f);
}

static void
test_key_rotation(void)
{
    struct fx f;
    fx_init(&f); /* f.key is the old key, primary everywhere */
    struct auth_key newk = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_generate(&newk), NAOS_OK);

    /* Sender A stays on the old key; sender B has moved to the new one. */
    struct auth_keyring a_kr, b_kr;
    NT_EQ_INT(auth_keyring_init(&a_kr, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_init(&b_kr, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&a_kr, &f.key), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&b_kr, &f.key), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&b_kr, &newk), NAOS_OK);
    NT_EQ_INT(auth_keyring_use(&b_kr, newk.id), NAOS_OK);
    struct auth_sender a, b;
    auth_sender_init(&a, 1, 1);
    auth_sender_init(&b, 2, 1);

    uint8_t ma[128], mb[128];
    size_t la, lb;
    /* Receiver knows only the old key: B cannot get through yet. */
    NT_EQ_INT(auth_seal(&b_kr, &b, T0, TYPE, "B", 1, mb, sizeof mb, &lb, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_buf(&f, mb, lb, T0), NAOS_EAUTH,
                  AUTH_R_UNKNOWN_KEY);
    /* Install the new key on the receiver: both open (the overlap). */
    NT_EQ_INT(auth_keyring_install(&f.rx, &newk), NAOS_OK);
    NT_EQ_INT(auth_seal(&a_kr, &a, T0, TYPE, "A", 1, ma, sizeof ma, &la, NULL),
              NAOS_OK);
    NT_EQ_INT(auth_seal(&b_kr, &b, T0, TYPE, "B", 1, mb, sizeof mb, &lb, NULL),
              NAOS_OK);
    NT_EQ_INT(open_buf(&f, ma, la, T0), NAOS_OK);
    NT_EQ_INT(f.msg.key_id, f.key.id);
    NT_EQ_INT(f.msg.sender, 1);
    NT_EQ_INT(open_buf(&f, mb, lb, T0), NAOS_OK);
    NT_EQ_INT(f.msg.key_id, newk.id);
    NT_EQ_INT(f.msg.sender, 2);
    /* The receiver moves to the new key and removes the old one: old-key
     * messages are refused from now on, new-key ones still open. */
    NT_EQ_INT(auth_keyring_use(&f.rx, newk.id), NAOS_OK);
    NT_EQ_INT(auth_keyring_remove(&f.rx, f.key.id), NAOS_OK);
    NT_EQ_INT(auth_seal(&a_kr, &a, T0, TYPE, "A", 1, ma, sizeof ma, &la, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_buf(&f, ma, la, T0), NAOS_EAUTH,
                  AUTH_R_UNKNOWN_KEY);
    NT_EQ_INT(auth_seal(&b_kr, &b, T0, TYPE, "B", 1, mb, sizeof mb, &lb, NULL),
              NAOS_OK);
    NT_EQ_INT(open_buf(&f, mb, lb, T0), NAOS_OK);
    /* The rejected old-key message did not move A's window: once A moves
     * to the new key, its next counter opens. */
    NT_EQ_INT(auth_keyring_install(&a_kr, &newk), NAOS_OK);
    NT_EQ_INT(auth_keyring_use(&a_kr, newk.id), NAOS_OK);
    NT_EQ_INT(auth_seal(&a_kr, &a, T0, TYPE, "A", 1, ma, sizeof ma, &la, NULL),
              NAOS_OK);
    NT_EQ_INT(open_buf(&f, ma, la, T0), NAOS_OK);
    NT_EQ_INT(f.msg.counter, 3);

    auth_keyring_fini(&a_kr);
    auth_keyring_fini(&b_kr);
    auth_key_fini(&newk);
    fx_fini(&f);
}

static void
test_open_allocation_failures(void)
{
    /* Every allocation auth_open makes may fail: it must then reject
     * without leaking and without changing the replay state; the same
     * envelope then opens once allocations succeed. */
    struct fx f;
    fx_init(&f);
    seal_msg(&f, T0, "resilient");
    for (long n = 0; n < 20; n++) {
        naos_alloc_fail_after(n);
        int rv = open_msg(&f, T0);
        naos_alloc_fail_after(-1);
        if (rv == NAOS_OK)
            break;
        NT_TRUE(rv == NAOS_ENOMEM || rv == NAOS_EPROTO);
        NT_EQ_INT(f.rp.stats.opened, 0);
    }
    NT_EQ_INT(f.rp.stats.opened, 1);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_REPLAY);
    fx_fini(&f);
}

/* Joining (keys.h): a learning keyring (cluster id 0) seals as
 * unassigned and opens any cluster's envelopes, reporting the id; a member
 * takes unassigned envelopes only with accept_unassigned; once the joiner
 * adopts an id it refuses other clusters. */
static void
test_learning_mode(void)
{
    struct fx f;
    fx_init(&f);
    struct auth_keyring joiner;
    NT_EQ_INT(auth_keyring_init(&joiner, 0), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&joiner, &f.key), NAOS_OK);
    struct auth_sender js;
    auth_sender_init(&js, 99, 1);
    /* joiner -> member: refused unless the member accepts joiners */
    NT_EQ_INT(auth_seal(&joiner, &js, T0, TYPE, "join", 4, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0), NAOS_EAUTH, AUTH_R_CLUSTER);
    f.rx.accept_unassigned = true;
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    NT_EQ_INT(f.msg.cluster_id, 0);
    NT_EQ_INT(f.msg.sender, 99);
    /* member -> joiner: any cluster id is taken and reported */
    struct auth_replay jrp;
    auth_replay_init(&jrp, AUTH_DEFAULT_MAX_SKEW_MS);
    struct auth_msg m = AUTH_MSG_ZERO;
    enum auth_reason why;
    seal_msg(&f, T0, "welcome");
    NT_EQ_INT(auth_open(&joiner, &jrp, T0, f.buf, f.len, &m, &why), NAOS_OK);
    NT_EQ_INT(m.cluster_id, CLUSTER);
    auth_msg_fini(&m);
    /* adopted: another cluster with the same key is refused */
    joiner.cluster_id = CLUSTER;
    struct auth_keyring other;
    NT_EQ_INT(auth_keyring_init(&other, CLUSTER + 1), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&other, &f.key), NAOS_OK);
    NT_EQ_INT(auth_seal(&other, &f.snd, T0, TYPE, "hi", 2, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(auth_open(&joiner, &jrp, T0, f.buf, f.len, &m, &why),
              NAOS_EAUTH);
    NT_EQ_INT(why, AUTH_R_CLUSTER);
    /* a wrong key is refused in learning mode too */
    joiner.cluster_id = 0;
    struct auth_keyring evil;
    unsigned char raw[AUTH_KEY_BYTES];
    memset(raw, 0x33, sizeof raw);
    struct auth_key k = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_init_from(&k, raw), NAOS_OK);
    NT_EQ_INT(auth_keyring_init(&evil, CLUSTER), NAOS_OK);
    NT_EQ_INT(auth_keyring_install(&evil, &k), NAOS_OK);
    NT_EQ_INT(auth_seal(&evil, &f.snd, T0, TYPE, "hi", 2, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(auth_open(&joiner, &jrp, T0, f.buf, f.len, &m, &why),
              NAOS_EAUTH);
    NT_EQ_INT(why, AUTH_R_UNKNOWN_KEY);
    auth_key_fini(&k);
    auth_keyring_fini(&evil);
    auth_keyring_fini(&other);
    auth_replay_fini(&jrp);
    auth_keyring_fini(&joiner);
    fx_fini(&f);
}

/* ---- marks across restarts (seal.h "Across restarts") ---------------- */

/* restart simulates a receiver restart: a fresh replay state that gets
 * back what the old one reported through auth_replay_take. */
static void
restart(struct fx *f, bool keep_marks)
{
    struct auth_replay_mark marks[16];
    size_t n = auth_replay_take(&f->rp, marks, 16);
    NT_EQ_INT(auth_replay_pending(&f->rp), 0);
    auth_replay_fini(&f->rp);
    auth_replay_init(&f->rp, AUTH_DEFAULT_MAX_SKEW_MS);
    for (size_t i = 0; keep_marks && i < n; i++)
        if (!marks[i].gone)
            NT_EQ_INT(auth_replay_restore(&f->rp, &marks[i]), NAOS_OK);
}

/* An envelope accepted before a restart is refused after it when the
 * marks were kept (and taken again without them: what the store fixes);
 * the sender's next envelope is accepted. */
static void
test_restore_refuses_replays(void)
{
    static struct batch bt;
    for (int keep = 0; keep < 2; keep++) {
        struct fx f;
        fx_init(&f);
        seal_batch(&f, &bt, 200);
        for (int i = 0; i < 200; i++)
            NT_EQ_INT(open_buf(&f, bt.b[i], bt.len[i], T0), NAOS_OK);
        restart(&f, keep);
        if (!keep) {
            /* the hole this closes: a replay 10 s later is taken again */
            NT_EQ_INT(open_buf(&f, bt.b[199], bt.len[199], T0 + 10000),
                      NAOS_OK);
            fx_fini(&f);
            continue;
        }
        EXPECT_REJECT(&f, open_buf(&f, bt.b[199], bt.len[199], T0 + 10000),
                      NAOS_EAUTH, AUTH_R_REPLAY);
        EXPECT_REJECT(&f, open_buf(&f, bt.b[150], bt.len[150], T0 + 10000),
                      NAOS_EAUTH, AUTH_R_REPLAY);
        EXPECT_REJECT(&f, open_buf(&f, bt.b[0], bt.len[0], T0 + 10000),
                      NAOS_EAUTH, AUTH_R_TOO_OLD);
        /* nothing refused moved anything */
        NT_EQ_INT(auth_replay_pending(&f.rp), 0);
        seal_msg(&f, T0 + 10000, "next");
        NT_EQ_INT(open_msg(&f, T0 + 10000), NAOS_OK);
        NT_EQ_INT(f.msg.counter, 1200);
        /* a restore never lowers a window */
        struct auth_replay_mark old = {11, 5, T0, false};
        NT_EQ_INT(auth_replay_restore(&f.rp, &old), NAOS_OK);
        EXPECT_REJECT(&f, open_msg(&f, T0 + 10000), NAOS_EAUTH,
                      AUTH_R_REPLAY);
        struct auth_replay_mark zero = {0, 5, T0, false};
        NT_EQ_INT(auth_replay_restore(&f.rp, &zero), NAOS_EINVAL);
        fx_fini(&f);
    }
}

/* auth_replay_take reports each sender whose top moved once, as it is
 * now; a late counter below the top moves nothing; a forgotten sender is
 * reported gone. */
static void
test_take_reports_moves(void)
{
    static struct batch bt;
    struct fx f;
    fx_init(&f);
    seal_batch(&f, &bt, 3);
    NT_EQ_INT(open_buf(&f, bt.b[0], bt.len[0], T0), NAOS_OK);
    NT_EQ_INT(open_buf(&f, bt.b[2], bt.len[2], T0 + 5), NAOS_OK);
    struct auth_sender other;
    auth_sender_init(&other, 12, 7000);
    NT_EQ_INT(auth_seal(&f.tx, &other, T0, TYPE, "x", 1, f.buf, sizeof f.buf,
                        &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(open_msg(&f, T0 + 9), NAOS_OK);
    NT_EQ_INT(auth_replay_pending(&f.rp), 2);
    struct auth_replay_mark m[4];
    NT_EQ_INT(auth_replay_take(&f.rp, m, 4), 2);
    NT_EQ_INT(m[0].sender, 11);
    NT_EQ_INT(m[0].top, 1002);
    NT_EQ_INT(m[0].last_ms, T0 + 5);
    NT_FALSE(m[0].gone);
    NT_EQ_INT(m[1].sender, 12);
    NT_EQ_INT(m[1].top, 7000);
    NT_EQ_INT(m[1].last_ms, T0 + 9);
    /* counter 1001 arrives late: accepted, top unchanged, nothing to keep */
    NT_EQ_INT(open_buf(&f, bt.b[1], bt.len[1], T0 + 10), NAOS_OK);
    NT_EQ_INT(auth_replay_pending(&f.rp), 0);
    /* cap 1 leaves the rest pending */
    seal_msg(&f, T0, "a");
    NT_EQ_INT(open_msg(&f, T0), NAOS_OK);
    auth_replay_forget(&f.rp, 12);
    NT_EQ_INT(auth_replay_take(&f.rp, m, 1), 1);
    NT_EQ_INT(m[0].sender, 11);
    NT_EQ_INT(m[0].top, 1003);
    NT_EQ_INT(auth_replay_take(&f.rp, m, 4), 1);
    NT_EQ_INT(m[0].sender, 12);
    NT_TRUE(m[0].gone);
    NT_EQ_INT(auth_replay_take(&f.rp, m, 4), 0);
    fx_fini(&f);
}

/* AUTH_REPLAY_MAX_SENDERS bounds the table: a new sender then evicts the
 * one heard from least recently, only once that was more than 2 *
 * max_skew ago (reported gone); otherwise it is refused. */
static void
test_sender_table_bounded(void)
{
    struct fx f;
    fx_init(&f);
    for (uint64_t id = 1; id <= AUTH_REPLAY_MAX_SENDERS; id++) {
        struct auth_sender snd;
        auth_sender_init(&snd, 1000 + id, 1);
        NT_EQ_INT(auth_seal(&f.tx, &snd, T0, TYPE, "x", 1, f.buf,
                            sizeof f.buf, &f.len, NULL),
                  NAOS_OK);
        /* sender 1001 is heard first, the others later */
        NT_EQ_INT(open_msg(&f, T0 + (id == 1 ? 0 : 1000)), NAOS_OK);
    }
    struct auth_replay_mark *m =
        naos_alloc(AUTH_REPLAY_MAX_SENDERS * sizeof *m);
    NT_EQ_INT(auth_replay_take(&f.rp, m, AUTH_REPLAY_MAX_SENDERS),
              AUTH_REPLAY_MAX_SENDERS);
    struct auth_sender late;
    auth_sender_init(&late, 99, 1);
    int64_t skew2 = 2 * AUTH_DEFAULT_MAX_SKEW_MS;
    /* everyone heard within 2 * max_skew: refused */
    NT_EQ_INT(auth_seal(&f.tx, &late, T0 + skew2, TYPE, "x", 1, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    EXPECT_REJECT(&f, open_msg(&f, T0 + skew2), NAOS_ENOMEM, AUTH_R_NOMEM);
    struct auth_replay_mark r = {5, 1, T0, false};
    NT_EQ_INT(auth_replay_restore(&f.rp, &r), NAOS_EBUSY);
    /* 1001 last heard more than 2 * max_skew ago: evicted for 99 */
    NT_EQ_INT(auth_seal(&f.tx, &late, T0 + skew2 + 1, TYPE, "x", 1, f.buf,
                        sizeof f.buf, &f.len, NULL),
              NAOS_OK);
    NT_EQ_INT(open_msg(&f, T0 + skew2 + 1), NAOS_OK);
    NT_EQ_INT(auth_replay_take(&f.rp, m, 4), 2);
    NT_EQ_INT(m[0].sender, 1001);
    NT_TRUE(m[0].gone);
    NT_EQ_INT(m[1].sender, 99);
    NT_FALSE(m[1].gone);
    naos_free(m);
    fx_fini(&f);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_round_trip),
        NT_CASE(test_seal_arguments),
        NT_CASE(test_tampered_ciphertext),
        NT_CASE(test_tampered_header),
        NT_CASE(test_tampered_key_id_to_installed_key),
        NT_CASE(test_truncated),
        NT_CASE(test_wrong_key),
        NT_CASE(test_replayed),
        NT_CASE(test_reordered_within_window),
        NT_CASE(test_reordered_beyond_window),
        NT_CASE(test_window_shift_across_words),
        NT_CASE(test_stale_and_future),
        NT_CASE(test_oversized_rejected_before_decoding),
        NT_CASE(test_garbage_rejected),
        NT_CASE(test_documented_format_and_bad_payload),
        NT_CASE(test_key_rotation),
        NT_CASE(test_open_allocation_failures),
        NT_CASE(test_learning_mode),
        NT_CASE(test_restore_refuses_replays),
        NT_CASE(test_take_reports_moves),
        NT_CASE(test_sender_table_bounded),
        {0},
    };
    return nt_run(cases);
}
