/* SPDX-License-Identifier: Apache-2.0 */
/* keys_test.c: key ids, key files (generate, load, permissions, malformed
 * content, no overwrite) and the keyring (install, use, remove). */
#include "node/auth/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/testing.h"

/* A fresh private directory per case (each case runs in its own child). */
static char dir[64];

static void
mkdir_tmp(void)
{
    strcpy(dir, "/tmp/naos-keys-test.XXXXXX");
    NT_TRUE(mkdtemp(dir) != NULL);
}

static void
rm_tmp(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    NT_EQ_INT(system(cmd), 0);
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    NT_TRUE(fd >= 0);
    NT_EQ_INT(write(fd, text, len), (long long)len);
    NT_EQ_INT(fchmod(fd, mode), 0);
    close(fd);
}

static size_t
read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    NT_TRUE(f != NULL);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return n;
}

static void
test_key_id_is_derived(void)
{
    unsigned char a[AUTH_KEY_BYTES], b[AUTH_KEY_BYTES];
    memset(a, 1, sizeof a);
    memset(b, 1, sizeof b);
    b[31] = 2;
    NT_EQ_INT(auth_init(), NAOS_OK);
    NT_EQ_INT(auth_key_id(a), auth_key_id(a));
    NT_TRUE(auth_key_id(a) != auth_key_id(b));
    struct auth_key k = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_init_from(&k, a), NAOS_OK);
    NT_EQ_INT(k.id, auth_key_id(a));
    NT_EQ_INT(memcmp(k.bytes, a, sizeof a), 0);
    auth_key_fini(&k);
    NT_TRUE(k.bytes == NULL);
    auth_key_fini(&k); /* idempotent */
}

static void
test_generate_load_round_trip(void)
{
    char path[128], err[256];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    umask(0); /* the file must be 0600 whatever the umask */
    struct auth_key gen = AUTH_KEY_ZERO, got = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_keyfile_generate(path, false, &gen, err, sizeof err),
              NAOS_OK);
    struct stat st;
    NT_EQ_INT(stat(path, &st), 0);
    NT_EQ_INT(st.st_mode & 07777, 0600);

    char text[256];
    size_t n = read_file(path, text, sizeof text);
    NT_EQ_INT(n, strlen(AUTH_KEYFILE_MAGIC) + 1 + 8 + 1 + 44 + 1);
    NT_TRUE(strncmp(text, AUTH_KEYFILE_MAGIC " ", 20) == 0);
    char idhex[9];
    snprintf(idhex, sizeof idhex, "%08x", (unsigned)gen.id);
    NT_TRUE(strncmp(text + 20, idhex, 8) == 0);
    NT_EQ_INT(text[n - 1], '\n');

    NT_EQ_INT(auth_keyfile_load(path, &got, err, sizeof err), NAOS_OK);
    NT_EQ_INT(got.id, gen.id);
    NT_EQ_INT(memcmp(got.bytes, gen.bytes, AUTH_KEY_BYTES), 0);

    /* No temporary file is left behind. */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    NT_EQ_INT(system(cmd), 0);

    /* Two keys are different. */
    char path2[160];
    struct auth_key gen2 = AUTH_KEY_ZERO;
    snprintf(path2, sizeof path2, "%s/other.key", dir);
    NT_EQ_INT(auth_keyfile_generate(path2, false, &gen2, err, sizeof err),
              NAOS_OK);
    NT_TRUE(memcmp(gen2.bytes, gen.bytes, AUTH_KEY_BYTES) != 0);
    auth_key_fini(&gen);
    auth_key_fini(&gen2);
    auth_key_fini(&got);
    rm_tmp();
}

static void
test_generate_without_out(void)
{
    char path[128], err[256];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/k", dir);
    NT_EQ_INT(auth_keyfile_generate(path, false, NULL, err, sizeof err),
              NAOS_OK);
    struct auth_key got = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_keyfile_load(path, &got, err, sizeof err), NAOS_OK);
    auth_key_fini(&got);
    rm_tmp();
}

static void
test_existing_file_not_overwritten(void)
{
    char path[128], err[256], before[256], after[256];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    struct auth_key k = AUTH_KEY_ZERO, k2 = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_keyfile_generate(path, false, &k, err, sizeof err),
              NAOS_OK);
    read_file(path, before, sizeof before);
    err[0] = '\0';
    NT_EQ_INT(auth_keyfile_generate(path, false, &k2, err, sizeof err),
              NAOS_EEXIST);
    NT_CONTAINS(err, "already exists");
    NT_TRUE(k2.bytes == NULL); /* untouched */
    read_file(path, after, sizeof after);
    NT_EQ_STR(after, before);

    /* Any existing file, even a non-key one, is kept. */
    char other[160];
    snprintf(other, sizeof other, "%s/notes.txt", dir);
    write_file(other, "hello\n", 6, 0644);
    NT_EQ_INT(auth_keyfile_generate(other, false, NULL, err, sizeof err),
              NAOS_EEXIST);
    read_file(other, after, sizeof after);
    NT_EQ_STR(after, "hello\n");

    /* force replaces it with a new key. */
    NT_EQ_INT(auth_keyfile_generate(path, true, &k2, err, sizeof err),
              NAOS_OK);
    read_file(path, after, sizeof after);
    NT_TRUE(strcmp(after, before) != 0);
    NT_TRUE(k2.id != k.id);
    struct stat st;
    NT_EQ_INT(stat(path, &st), 0);
    NT_EQ_INT(st.st_mode & 07777, 0600);
    auth_key_fini(&k);
    auth_key_fini(&k2);
    rm_tmp();
}

static void
test_group_readable_refused_with_hint(void)
{
    char path[128], err[512];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    NT_EQ_INT(auth_keyfile_generate(path, false, NULL, err, sizeof err),
              NAOS_OK);
    static const mode_t bad[] = {0644, 0640, 0604, 0620, 0602, 0660, 0666};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        NT_EQ_INT(chmod(path, bad[i]), 0);
        struct auth_key k = AUTH_KEY_ZERO;
        err[0] = '\0';
        NT_EQ_INT(auth_keyfile_load(path, &k, err, sizeof err), NAOS_EAUTH);
        NT_TRUE(k.bytes == NULL);
        char hint[200];
        snprintf(hint, sizeof hint, "chmod 600 %s", path);
        NT_CONTAINS(err, hint);
    }
    /* 0400 (owner read-only) is fine. */
    NT_EQ_INT(chmod(path, 0400), 0);
    struct auth_key k = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_keyfile_load(path, &k, err, sizeof err), NAOS_OK);
    auth_key_fini(&k);
    rm_tmp();
}

static void
test_missing_and_not_regular(void)
{
    char path[128], err[256];
    mkdir_tmp();
    struct auth_key k = AUTH_KEY_ZERO;
    snprintf(path, sizeof path, "%s/none.key", dir);
    NT_EQ_INT(auth_keyfile_load(path, &k, err, sizeof err), NAOS_ENOTFOUND);
    NT_CONTAINS(err, "naos keygen");
    NT_EQ_INT(chmod(dir, 0700), 0);
    NT_EQ_INT(auth_keyfile_load(dir, &k, err, sizeof err), NAOS_EAUTH);
    NT_CONTAINS(err, "regular file");
    rm_tmp();
}

/* A valid line to mutate: the known key of bytes 0..31. */
static void
valid_line(char *line, size_t len)
{
    unsigned char raw[AUTH_KEY_BYTES];
    for (int i = 0; i < AUTH_KEY_BYTES; i++)
        raw[i] = (unsigned char)i;
    struct auth_key k = AUTH_KEY_ZERO;
    NT_EQ_INT(auth_key_init_from(&k, raw), NAOS_OK);
    NT_EQ_INT(auth_keyfile_format(&k, line, len), NAOS_OK);
    auth_key_fini(&k);
}

static void
test_malformed_refused(void)
{
    char path[128], err[256], good[AUTH_KEYFILE_LINE_MAX + 1];
    mkdir_tmp();
    snprintf(path, sizeof path, "%s/cluster.key", dir);
    valid_line(good, sizeof good);
    size_t glen = strlen(good);

    /* The valid line loads. */
    struct auth_key k = AUTH_KEY_ZERO;
    write_file(path, good, glen, 0600);
    NT_EQ_INT(auth_keyfile_load(path, &k, err, sizeof err), NAOS_OK);
    auth_key_fini(&k);

    struct {
        const char *what;
        char text[200];
        const char *msg;
    } cases[16];
    size_t nc = 0;
#define CASE(w, m) (cases[nc].what = (w), cases[nc].msg = (m), cases[nc++].text)
    strcpy(CASE("empty", "not a naos cluster key file"), "");
    strcpy(CASE("other magic", "not a naos cluster key file"),
           "ssh-ed25519 AAAA\n");
    strcpy(CASE("v2", "not a naos cluster key file"), good);
    cases[nc - 1].text[18] = '2';
    /* no final newline */
    memcpy(CASE("no newline", "malformed"), good, glen - 1);
    cases[nc - 1].text[glen - 1] = '\0';
    /* trailing garbage / second line */
    snprintf(CASE("two lines", "malformed"), 200, "%s%s", good, good);
    snprintf(CASE("trailing space", "malformed"), 200, "%.*s \n",
             (int)glen - 1, good);
    /* uppercase hex id */
    strcpy(CASE("upper hex", "key id"), good);
    for (int i = 20; i < 28; i++)
        if (cases[nc - 1].text[i] >= 'a')
            cases[nc - 1].text[i] = (char)(cases[nc - 1].text[i] - 32);
    cases[nc - 1].text[20] = 'X';
    /* wrong id */
    strcpy(CASE("wrong id", "does not match"), good);
    cases[nc - 1].text[20] = cases[nc - 1].text[20] == '0' ? '1' : '0';
    /* bad base64 character */
    strcpy(CASE("bad base64", "malformed key"), good);
    cases[nc - 1].text[40] = '*';
    /* short key (base64 of fewer bytes, same line length) */
    strcpy(CASE("short key", "malformed key"), good);
    memcpy(cases[nc - 1].text + 29 + 40, "A===", 4);
    /* a changed key byte: the id no longer matches */
    strcpy(CASE("edited key", "does not match"), good);
    cases[nc - 1].text[35] = cases[nc - 1].text[35] == 'A' ? 'B' : 'A';
    /* Non-canonical base64: same key bytes, unused low bits set in the
     * last character (a decoder may ignore them; we do not). */
    {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *t = CASE("non-canonical", "malformed key");
        strcpy(t, good);
        const char *at = strchr(b64, t[71]);
        NT_TRUE(at != NULL && (at - b64) % 4 == 0 && t[72] == '=');
        t[71] = b64[(at - b64) + 1];
    }
    /* NUL inside */
    memcpy(CASE("nul", "NUL"), good, glen + 1);
#undef CASE

    for (size_t i = 0; i < nc; i++) {
        size_t len = strlen(cases[i].text);
        if (strcmp(cases[i].what, "nul") == 0) {
            cases[i].text[30] = '\0';
            len = glen;
        }
        write_file(path, cases[i].text, len, 0600);
        k = (struct auth_key)AUTH_KEY_ZERO;
        err[0] = '\0';
        int rv = auth_keyfile_load(path, &k, err, sizeof err);
        if (rv != NAOS_EINVAL)
            NT_FAIL("case %s: rv %d, err %s", cases[i].what, rv, err);
        NT_TRUE(k.bytes == NULL);
        if (strstr(err, cases[i].msg) == NULL || strstr(err, path) == NULL)
            NT_FAIL("case %s: message \"%s\" lacks \"%s\"", cases[i].what,
                    err, cases[i].msg);
    }

    /* A big file is refused without being read whole. */
    static char big[1 << 16];
    memset(big, 'x', sizeof big);
    memcpy(big, good, glen);
    write_file(path, big, sizeof big, 0600);
    NT_EQ_INT(auth_keyfile_load(path, &k, err, sizeof err), NAOS_EINVAL);
    rm_tmp();
}

static void
test_keyring_install_use_remove(void)
{
    struct auth_keyring kr = AUTH_KEYRING_ZERO;
    struct auth_key a = AUTH_KEY_ZERO, b = AUTH_KEY_ZERO;
    uint32_t id = 0;
    NT_EQ_INT(auth_keyring_init(&kr, 42), NAOS_OK);
    NT_EQ_INT(auth_key_generate(&a), NAOS_OK);
    NT_EQ_INT(auth_key_generate(&b), NAOS_OK);
    NT_EQ_INT(auth_keyring_primary(&kr, &id), NAOS_ENOTFOUND);

    NT_EQ_INT(auth_keyring_install(&kr, &a), NAOS_OK);
    NT_EQ_INT(auth_keyring_primary(&kr, &id), NAOS_OK);
    NT_EQ_INT(id, a.id); /* first key becomes primary */
    NT_EQ_INT(auth_keyring_install(&kr, &a), NAOS_EEXIST);
    NT_EQ_INT(auth_keyring_install(&kr, &b), NAOS_OK);
    NT_EQ_INT(auth_keyring_primary(&kr, &id), NAOS_OK);
    NT_EQ_INT(id, a.id); /* install does not switch */
    NT_TRUE(auth_keyring_has(&kr, a.id));
    NT_TRUE(auth_keyring_has(&kr, b.id));
    NT_EQ_INT(memcmp(auth_keyring_lookup(&kr, b.id), b.bytes, AUTH_KEY_BYTES),
              0);

    NT_EQ_INT(auth_keyring_remove(&kr, a.id), NAOS_EBUSY); /* primary */
    NT_EQ_INT(auth_keyring_use(&kr, b.id), NAOS_OK);
    NT_EQ_INT(auth_keyring_primary(&kr, &id), NAOS_OK);
    NT_EQ_INT(id, b.id);
    NT_EQ_INT(auth_keyring_remove(&kr, a.id), NAOS_OK);
    NT_FALSE(auth_keyring_has(&kr, a.id));
    NT_TRUE(auth_keyring_lookup(&kr, a.id) == NULL);
    NT_EQ_INT(auth_keyring_remove(&kr, a.id), NAOS_ENOTFOUND);
    NT_EQ_INT(auth_keyring_use(&kr, a.id), NAOS_ENOTFOUND);

    /* Fill it up. */
    struct auth_key more[AUTH_KEYRING_MAX];
    int installed = 1;
    for (int i = 0; i < AUTH_KEYRING_MAX; i++) {
        NT_EQ_INT(auth_key_generate(&more[i]), NAOS_OK);
        int rv = auth_keyring_install(&kr, &more[i]);
        if (installed < AUTH_KEYRING_MAX) {
            NT_EQ_INT(rv, NAOS_OK);
            installed++;
        } else {
            NT_EQ_INT(rv, NAOS_ETOOBIG);
        }
    }
    NT_EQ_INT(kr.count, AUTH_KEYRING_MAX);
    for (int i = 0; i < AUTH_KEYRING_MAX; i++)
        auth_key_fini(&more[i]);

    auth_keyring_fini(&kr);
    NT_TRUE(kr.mem == NULL);
    auth_keyring_fini(&kr); /* idempotent */
    NT_FALSE(auth_keyring_has(&kr, b.id));
    NT_EQ_INT(auth_keyring_install(&kr, &b), NAOS_EINVAL);
    auth_key_fini(&a);
    auth_key_fini(&b);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_key_id_is_derived),
        NT_CASE(test_generate_load_round_trip),
        NT_CASE(test_generate_without_out),
        NT_CASE(test_existing_file_not_overwritten),
        NT_CASE(test_group_readable_refused_with_hint),
        NT_CASE(test_missing_and_not_regular),
        NT_CASE(test_malformed_refused),
        NT_CASE(test_keyring_install_use_remove),
        {0},
    };
    return nt_run(cases);
}
