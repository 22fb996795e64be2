/* SPDX-License-Identifier: Apache-2.0 */
/* keys.c: cluster keys, key files and the keyring. See keys.h for the
 * file format and the key id derivation. libsodium enters naos here and in
 * seal.c only (STYLE §2). */
#include "node/auth/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"

_Static_assert(AUTH_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "cluster keys are XChaCha20-Poly1305 keys");

#define KEY_B64_LEN 44 /* sodium_base64_ENCODED_LEN(32, ORIGINAL) - 1 */
#define KEY_ID_DOMAIN "naos-cluster-key-id v1"

int
auth_init(void)
{
    /* sodium_init is itself idempotent and thread-safe: 0 the first time,
     * 1 afterwards, -1 on failure. */
    return sodium_init() < 0 ? NAOS_ESYS : NAOS_OK;
}

void
auth_wipe(void *p, size_t len)
{
    if (p && len)
        sodium_memzero(p, len);
}

uint32_t
auth_key_id(const unsigned char key[AUTH_KEY_BYTES])
{
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const unsigned char *)KEY_ID_DOMAIN,
                              sizeof KEY_ID_DOMAIN - 1);
    crypto_generichash_update(&st, key, AUTH_KEY_BYTES);
    crypto_generichash_final(&st, h, sizeof h);
    uint32_t id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
                  (uint32_t)h[2] << 8 | (uint32_t)h[3];
    sodium_memzero(&st, sizeof st);
    return id;
}

int
auth_key_init_from(struct auth_key *k, const unsigned char *key)
{
    k->id = 0;
    k->bytes = NULL;
    if (auth_init() != NAOS_OK)
        return NAOS_ESYS;
    unsigned char *b = sodium_malloc(AUTH_KEY_BYTES);
    if (b == NULL)
        return NAOS_ENOMEM;
    memcpy(b, key, AUTH_KEY_BYTES);
    k->bytes = b;
    k->id = auth_key_id(b);
    return NAOS_OK;
}

int
auth_key_generate(struct auth_key *k)
{
    unsigned char tmp[AUTH_KEY_BYTES];
    if (auth_init() != NAOS_OK) {
        k->id = 0;
        k->bytes = NULL;
        return NAOS_ESYS;
    }
    crypto_aead_xchacha20poly1305_ietf_keygen(tmp);
    int rv = auth_key_init_from(k, tmp);
    sodium_memzero(tmp, sizeof tmp);
    return rv;
}

void
auth_key_fini(struct auth_key *k)
{
    if (k->bytes) {
        /* sodium_free wipes before unmapping; the explicit wipe keeps the
         * contract obvious. */
        sodium_memzero(k->bytes, AUTH_KEY_BYTES);
        sodium_free(k->bytes);
    }
    k->bytes = NULL;
    k->id = 0;
}

/* ---- key file ------------------------------------------------------- */

int
auth_keyfile_format(const struct auth_key *k, char *line, size_t linelen)
{
    if (k->bytes == NULL || linelen < AUTH_KEYFILE_LINE_MAX + 1)
        return NAOS_EINVAL;
    char b64[KEY_B64_LEN + 1];
    sodium_bin2base64(b64, sizeof b64, k->bytes, AUTH_KEY_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, linelen, "%s %08x %s\n", AUTH_KEYFILE_MAGIC,
             (unsigned)k->id, b64);
    sodium_memzero(b64, sizeof b64);
    return NAOS_OK;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int
auth_keyfile_parse(const char *name, const char *text, size_t len,
                   struct auth_key *out, char *err, size_t errlen)
{
    static const char magic[] = AUTH_KEYFILE_MAGIC " ";
    const size_t mlen = sizeof magic - 1;
    /* magic, 8 hex, space, 44 base64, newline */
    const size_t want = mlen + 8 + 1 + KEY_B64_LEN + 1;
    int rv = NAOS_EINVAL;

    if (auth_init() != NAOS_OK) {
        snprintf(err, errlen, "%s: libsodium failed to initialise", name);
        return NAOS_ESYS;
    }
    if (len < mlen || memcmp(text, magic, mlen) != 0) {
        snprintf(err, errlen,
                 "%s: not a naos cluster key file (it must start with "
                 "\"%s\"; make one with `naos keygen`)",
                 name, AUTH_KEYFILE_MAGIC);
        return NAOS_EINVAL;
    }
    if (memchr(text, '\0', len) != NULL) {
        snprintf(err, errlen, "%s: contains a NUL byte", name);
        return NAOS_EINVAL;
    }
    if (len != want || text[len - 1] != '\n' || text[mlen + 8] != ' ') {
        snprintf(err, errlen,
                 "%s: malformed: expected exactly one line \"%s <8 hex "
                 "digits> <44 base64 characters>\" and a newline",
                 name, AUTH_KEYFILE_MAGIC);
        return NAOS_EINVAL;
    }
    uint32_t id = 0;
    for (size_t i = 0; i < 8; i++) {
        int v = hexval(text[mlen + i]);
        if (v < 0) {
            snprintf(err, errlen,
                     "%s: malformed key id (8 lowercase hex digits)", name);
            return NAOS_EINVAL;
        }
        id = id << 4 | (uint32_t)v;
    }
    unsigned char key[AUTH_KEY_BYTES];
    size_t keylen = 0;
    const char *end = NULL;
    const char *b64 = text + mlen + 9;
    if (sodium_base642bin(key, sizeof key, b64, KEY_B64_LEN, NULL, &keylen,
                          &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
        keylen != AUTH_KEY_BYTES || end != b64 + KEY_B64_LEN) {
        snprintf(err, errlen,
                 "%s: malformed key (expected 32 bytes in base64)", name);
        goto out;
    }
    /* Only the canonical encoding (what auth_keyfile_format writes): base64
     * decoders may ignore the unused low bits of the last character, and a
     * key file has exactly one spelling. */
    char again[KEY_B64_LEN + 1];
    sodium_bin2base64(again, sizeof again, key, AUTH_KEY_BYTES,
                      sodium_base64_VARIANT_ORIGINAL);
    int same = memcmp(again, b64, KEY_B64_LEN) == 0;
    sodium_memzero(again, sizeof again);
    if (!same) {
        snprintf(err, errlen,
                 "%s: malformed key (not canonical base64)", name);
        goto out;
    }
    if (auth_key_id(key) != id) {
        snprintf(err, errlen,
                 "%s: key id %08x does not match the key (the file is "
                 "corrupt or was edited)",
                 name, (unsigned)id);
        goto out;
    }
    rv = auth_key_init_from(out, key);
    if (rv != NAOS_OK)
        snprintf(err, errlen, "%s: %s", name, naos_strerror(rv));
out:
    sodium_memzero(key, sizeof key);
    return rv;
}

int
auth_keyfile_load(const char *path, struct auth_key *out, char *err,
                  size_t errlen)
{
    int rv;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: cannot open the cluster key file: %s%s",
                 path, strerror(e),
                 e == ENOENT ? " (make one with `naos keygen`)" : "");
        errno = e;
        return e == ENOENT ? NAOS_ENOTFOUND : NAOS_ESYS;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: stat: %s", path, strerror(e));
        close(fd);
        errno = e;
        return NAOS_ESYS;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: the cluster key file must be a regular "
                 "file", path);
        close(fd);
        return NAOS_EAUTH;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, errlen,
                 "%s: the cluster key file is accessible to group or others "
                 "(mode %04o); refusing to use it. Run: chmod 600 %s",
                 path, (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return NAOS_EAUTH;
    }
    /* Read at most one byte more than the longest valid line, so a big
     * file is refused without reading it all. */
    char buf[AUTH_KEYFILE_LINE_MAX + 2];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            snprintf(err, errlen, "%s: read: %s", path, strerror(e));
            close(fd);
            sodium_memzero(buf, sizeof buf);
            errno = e;
            return NAOS_ESYS;
        }
        if (n == 0 || (len += (size_t)n) == sizeof buf)
            break;
    }
    close(fd);
    rv = auth_keyfile_parse(path, buf, len, out, err, errlen);
    sodium_memzero(buf, sizeof buf);
    return rv;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* fsync_dir makes the rename/link of an entry in path's directory
 * durable. */
static int
fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == path) {
        strcpy(dir, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= sizeof dir) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rv = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rv;
}

int
auth_keyfile_generate(const char *path, bool force, struct auth_key *out,
                      char *err, size_t errlen)
{
    struct auth_key k = AUTH_KEY_ZERO;
    char line[AUTH_KEYFILE_LINE_MAX + 1];
    char tmp[PATH_MAX];
    const char *step;
    int fd = -1;
    int rv;

    if (!force && access(path, F_OK) == 0) {
        snprintf(err, errlen,
                 "%s: already exists; refusing to overwrite a cluster key "
                 "(remove it first, or give --force to replace it)",
                 path);
        return NAOS_EEXIST;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return NAOS_EINVAL;
    }
    rv = auth_key_generate(&k);
    if (rv != NAOS_OK) {
        snprintf(err, errlen, "%s: cannot generate a key: %s", path,
                 naos_strerror(rv));
        return rv;
    }
    rv = auth_keyfile_format(&k, line, sizeof line);
    NAOS_ASSERT(rv == NAOS_OK);

    /* mkostemp creates the file with mode 0600 whatever the umask. */
    step = "create a temporary file";
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        goto err_sys;
    step = "chmod";
    if (fchmod(fd, 0600) != 0)
        goto err_after_create;
    step = "write";
    if (write_all(fd, line, strlen(line)) != 0)
        goto err_after_create;
    step = "fsync";
    if (fsync(fd) != 0)
        goto err_after_create;
    step = "close";
    if (close(fd) != 0) {
        fd = -1;
        goto err_after_create;
    }
    fd = -1;
    if (force) {
        step = "rename";
        if (rename(tmp, path) != 0)
            goto err_after_create;
    } else {
        /* link(2) fails with EEXIST if path appeared meanwhile: never
         * replace a key that another process just wrote. */
        step = "link";
        if (link(tmp, path) != 0) {
            if (errno == EEXIST) {
                unlink(tmp);
                snprintf(err, errlen,
                         "%s: already exists; refusing to overwrite a "
                         "cluster key (remove it first, or give --force to "
                         "replace it)",
                         path);
                rv = NAOS_EEXIST;
                goto err_after_key;
            }
            goto err_after_create;
        }
        unlink(tmp);
    }
    step = "fsync the directory";
    if (fsync_dir(path) != 0)
        goto err_sys; /* the file is in place; report, keep it */
    sodium_memzero(line, sizeof line);
    if (out)
        *out = k;
    else
        auth_key_fini(&k);
    return NAOS_OK;

err_after_create: {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = e;
}
err_sys: {
    int e = errno;
    snprintf(err, errlen, "%s: cannot write the key file: %s: %s", path,
             step, strerror(e));
    errno = e;
    rv = NAOS_ESYS;
}
err_after_key:
    sodium_memzero(line, sizeof line);
    auth_key_fini(&k);
    return rv;
}

/* ---- keyring -------------------------------------------------------- */

int
auth_keyring_init(struct auth_keyring *kr, uint64_t cluster_id)
{
    static const struct auth_keyring zero = AUTH_KEYRING_ZERO;
    *kr = zero;
    if (auth_init() != NAOS_OK)
        return NAOS_ESYS;
    unsigned char *mem = sodium_malloc(AUTH_KEYRING_MAX * AUTH_KEY_BYTES);
    if (mem == NULL)
        return NAOS_ENOMEM;
    sodium_memzero(mem, AUTH_KEYRING_MAX * AUTH_KEY_BYTES);
    kr->mem = mem;
    kr->cluster_id = cluster_id;
    return NAOS_OK;
}

void
auth_keyring_fini(struct auth_keyring *kr)
{
    static const struct auth_keyring zero = AUTH_KEYRING_ZERO;
    if (kr->mem) {
        sodium_memzero(kr->mem, AUTH_KEYRING_MAX * AUTH_KEY_BYTES);
        sodium_free(kr->mem);
    }
    *kr = zero;
}

static int
find_slot(const struct auth_keyring *kr, uint32_t key_id)
{
    if (kr->mem == NULL)
        return -1;
    for (int i = 0; i < AUTH_KEYRING_MAX; i++)
        if (kr->used[i] && kr->ids[i] == key_id)
            return i;
    return -1;
}

int
auth_keyring_install(struct auth_keyring *kr, const struct auth_key *k)
{
    if (kr->mem == NULL || k->bytes == NULL)
        return NAOS_EINVAL;
    if (find_slot(kr, k->id) >= 0)
        return NAOS_EEXIST;
    for (int i = 0; i < AUTH_KEYRING_MAX; i++) {
        if (kr->used[i])
            continue;
        memcpy(kr->mem + (size_t)i * AUTH_KEY_BYTES, k->bytes,
               AUTH_KEY_BYTES);
        kr->ids[i] = k->id;
        kr->used[i] = true;
        kr->count++;
        if (kr->primary < 0)
            kr->primary = i;
        return NAOS_OK;
    }
    return NAOS_ETOOBIG;
}

int
auth_keyring_use(struct auth_keyring *kr, uint32_t key_id)
{
    int i = find_slot(kr, key_id);
    if (i < 0)
        return NAOS_ENOTFOUND;
    kr->primary = i;
    return NAOS_OK;
}

int
auth_keyring_remove(struct auth_keyring *kr, uint32_t key_id)
{
    int i = find_slot(kr, key_id);
    if (i < 0)
        return NAOS_ENOTFOUND;
    if (i == kr->primary)
        return NAOS_EBUSY;
    sodium_memzero(kr->mem + (size_t)i * AUTH_KEY_BYTES, AUTH_KEY_BYTES);
    kr->used[i] = false;
    kr->ids[i] = 0;
    kr->count--;
    return NAOS_OK;
}

bool
auth_keyring_has(const struct auth_keyring *kr, uint32_t key_id)
{
    return find_slot(kr, key_id) >= 0;
}

int
auth_keyring_primary(const struct auth_keyring *kr, uint32_t *key_id)
{
    if (kr->mem == NULL || kr->primary < 0)
        return NAOS_ENOTFOUND;
    *key_id = kr->ids[kr->primary];
    return NAOS_OK;
}

const unsigned char *
auth_keyring_lookup(const struct auth_keyring *kr, uint32_t key_id)
{
    int i = find_slot(kr, key_id);
    return i < 0 ? NULL : kr->mem + (size_t)i * AUTH_KEY_BYTES;
}

int
auth_keyring_derived_cluster_id(const struct auth_keyring *kr, uint64_t *out)
{
    if (kr->mem == NULL || kr->primary < 0)
        return NAOS_EINVAL;
    static const char label[] = "naos cluster id v1";
    unsigned char h[8];
    crypto_generichash(h, sizeof h, (const unsigned char *)label,
                       sizeof label - 1,
                       kr->mem + (size_t)kr->primary * AUTH_KEY_BYTES,
                       AUTH_KEY_BYTES);
    uint64_t v = 0;
    for (size_t i = 0; i < sizeof h; i++)
        v = v << 8 | h[i];
    *out = v ? v : 1;
    return NAOS_OK;
}
