/* SPDX-License-Identifier: Apache-2.0 */
/* token_test.c: loading the HTTP bearer token from a file, with the same
 * mode rule as key files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/http/token.h"

static char dir[] = "/tmp/naos-token-XXXXXX";
static char path[256];
static char tok[HTTP_TOKEN_MAX + 1];
static char err[512];

static void
write_file(const char *text, mode_t mode)
{
    if (mkdtemp(dir) == NULL)
        NT_FAIL("mkdtemp");
    snprintf(path, sizeof path, "%s/token", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    NT_TRUE(fd >= 0);
    NT_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
    close(fd);
    NT_EQ_INT(chmod(path, mode), 0);
}

static void
test_loads_first_line(void)
{
    write_file("abcdefghijklmnop0123\r\nsecond line\n", 0600);
    NT_EQ_INT(http_token_load(path, tok, sizeof tok, err, sizeof err),
              NAOS_OK);
    NT_EQ_STR(tok, "abcdefghijklmnop0123");
    unlink(path);
    rmdir(dir);
}

static void
test_owner_only(void)
{
    write_file("abcdefghijklmnop0123\n", 0400);
    NT_EQ_INT(http_token_load(path, tok, sizeof tok, err, sizeof err),
              NAOS_OK);
    unlink(path);
    rmdir(dir);
}

static void
test_refuses_readable(void)
{
    write_file("abcdefghijklmnop0123\n", 0644);
    NT_EQ_INT(http_token_load(path, tok, sizeof tok, err, sizeof err),
              NAOS_EAUTH);
    NT_CONTAINS(err, "chmod 600");
    NT_CONTAINS(err, path);
    chmod(path, 0620);
    NT_EQ_INT(http_token_load(path, tok, sizeof tok, err, sizeof err),
              NAOS_EAUTH);
    unlink(path);
    rmdir(dir);
}

static void
test_refuses_bad_tokens(void)
{
    const char *bad[] = {"", "\n", "short\n", "has a space in it 123\n",
                         "tab\tinside-the-token-x\n", NULL};
    for (int i = 0; bad[i]; i++) {
        write_file(bad[i], 0600);
        if (http_token_load(path, tok, sizeof tok, err, sizeof err) !=
            NAOS_EINVAL)
            NT_FAIL("token \"%s\" accepted", bad[i]);
        unlink(path);
        rmdir(dir);
        memcpy(dir + strlen(dir) - 6, "XXXXXX", 6);
    }
    char big[HTTP_TOKEN_MAX + 8];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    write_file(big, 0600);
    NT_EQ_INT(http_token_load(path, tok, sizeof tok, err, sizeof err),
              NAOS_EINVAL);
    unlink(path);
    rmdir(dir);
}

static void
test_missing_and_not_regular(void)
{
    NT_EQ_INT(http_token_load("/nonexistent/naos/token", tok, sizeof tok, err,
                              sizeof err),
              NAOS_ESYS);
    NT_CONTAINS(err, "/nonexistent/naos/token");
    if (mkdtemp(dir) == NULL)
        NT_FAIL("mkdtemp");
    chmod(dir, 0700);
    NT_EQ_INT(http_token_load(dir, tok, sizeof tok, err, sizeof err),
              NAOS_EINVAL);
    NT_CONTAINS(err, "not a regular file");
    rmdir(dir);
}

static void
test_valid(void)
{
    NT_EQ_INT(http_token_valid("0123456789abcdef", err, sizeof err), NAOS_OK);
    NT_EQ_INT(http_token_valid("0123456789abcde", err, sizeof err),
              NAOS_EINVAL);
    NT_EQ_INT(http_token_valid("0123456789abcdef\x7f", err, sizeof err),
              NAOS_EINVAL);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_loads_first_line),   NT_CASE(test_owner_only),
        NT_CASE(test_refuses_readable),   NT_CASE(test_refuses_bad_tokens),
        NT_CASE(test_missing_and_not_regular), NT_CASE(test_valid),
        {0},
    };
    return nt_run(cases);
}
