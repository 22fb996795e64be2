/* SPDX-License-Identifier: Apache-2.0 */
/* token.c: see token.h. The mode is checked on the open descriptor
 * (fstat), so the file checked is the file read. */
#include "node/http/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"

#define HTTP_TOKEN_MIN 16

int
http_token_valid(const char *token, char *errbuf, size_t errlen)
{
    size_t n = strlen(token);
    if (n < HTTP_TOKEN_MIN || n > HTTP_TOKEN_MAX) {
        snprintf(errbuf, errlen, "the HTTP token must be %d..%d characters "
                 "long (got %zu); generate one with e.g. `head -c 32 "
                 "/dev/urandom | base64`", HTTP_TOKEN_MIN, HTTP_TOKEN_MAX, n);
        return NAOS_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)token[i];
        if (c <= ' ' || c >= 0x7f) {
            snprintf(errbuf, errlen, "the HTTP token may hold only printable "
                     "ASCII without spaces (bad byte at offset %zu)", i);
            return NAOS_EINVAL;
        }
    }
    return NAOS_OK;
}

int
http_token_load(const char *path, char *tok, size_t toklen, char *errbuf,
                size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot open the HTTP token file %s: %s",
                 path, strerror(e));
        errno = e; /* the caller tells missing (permanent) from EMFILE */
        return NAOS_ESYS;
    }
    int rc = NAOS_OK;
    char buf[HTTP_TOKEN_MAX + 4];
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(errbuf, errlen, "cannot stat %s: %s", path, strerror(errno));
        rc = NAOS_ESYS;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(errbuf, errlen, "HTTP token file %s is not a regular file",
                 path);
        rc = NAOS_EINVAL;
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(errbuf, errlen, "HTTP token file %s is accessible by others "
                 "(mode %04o); refusing to use it. Run: chmod 600 %s", path,
                 (unsigned)(st.st_mode & 07777), path);
        rc = NAOS_EAUTH;
        goto out;
    }
    ssize_t k;
    size_t got = 0;
    while (got < sizeof buf - 1 &&
           (k = read(fd, buf + got, sizeof buf - 1 - got)) != 0) {
        if (k < 0) {
            if (errno == EINTR)
                continue;
            snprintf(errbuf, errlen, "cannot read %s: %s", path,
                     strerror(errno));
            rc = NAOS_ESYS;
            goto out;
        }
        got += (size_t)k;
    }
    buf[got] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    char why[256];
    if (http_token_valid(buf, why, sizeof why) != NAOS_OK) {
        snprintf(errbuf, errlen, "%s: %s", path, why);
        rc = NAOS_EINVAL;
        goto out;
    }
    if (n + 1 > toklen) {
        snprintf(errbuf, errlen, "%s: token too long", path);
        rc = NAOS_EINVAL;
        goto out;
    }
    memcpy(tok, buf, n + 1);
out:
    explicit_bzero(buf, sizeof buf); /* no copy of the secret left behind */
    close(fd);
    return rc;
}
