/* SPDX-License-Identifier: Apache-2.0 */
/* paths_test.c: the run directory rule shared with naos-node. */
#include "cli/paths.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/testing.h"

static void
test_rule(void)
{
    char buf[256], want[64];
    setenv("NAOS_RUN_DIR", "/run/naos-test", 1);
    setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "/run/naos-test");

    setenv("NAOS_RUN_DIR", "", 1); /* empty counts as unset */
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "/run/user/1000/naos");

    unsetenv("NAOS_RUN_DIR");
    unsetenv("XDG_RUNTIME_DIR");
    NT_EQ_INT(naos_default_run_dir(buf, sizeof buf), NAOS_OK);
    if (geteuid() == 0)
        snprintf(want, sizeof want, "/run/naos");
    else
        snprintf(want, sizeof want, "/tmp/naos-%lu", (unsigned long)getuid());
    NT_EQ_STR(buf, want);

    char tiny[4];
    NT_EQ_INT(naos_default_run_dir(tiny, sizeof tiny), NAOS_ETOOBIG);
    NT_EQ_STR(tiny, "");
}

static void
test_ctl_url(void)
{
    char buf[256];
    NT_EQ_INT(naos_ctl_url("/run/naos", buf, sizeof buf), NAOS_OK);
    NT_EQ_STR(buf, "ipc:///run/naos/ctl.sock");
    NT_EQ_INT(naos_ctl_url("/run/naos", buf, 10), NAOS_ETOOBIG);
}

#define NOBODY 65534

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

/* bind_socket leaves a unix socket file at dir/ctl.sock with mode. */
static void
bind_socket(const char *dir, mode_t mode, char *path, size_t len)
{
    snprintf(path, len, "%s/ctl.sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    NT_TRUE(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    NT_TRUE(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    NT_EQ_INT(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    NT_EQ_INT(chmod(path, mode), 0);
}

/* The CLI sends nothing to a socket or run directory another user could
 * have made (issue 9). */
static void
test_ctl_check(void)
{
    char dir[64] = "/tmp/naos-paths-XXXXXX", url[256], sock[128];
    char err[1024];
    NT_TRUE(mkdtemp(dir) != NULL);
    snprintf(url, sizeof url, "ipc://%s/ctl.sock", dir);
    /* Nothing there yet: passes (the dial will say "not running"). */
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_OK);
    NT_EQ_INT(naos_ctl_check("ipc:///nonexistent/naos/ctl.sock", err,
                             sizeof err),
              NAOS_OK);
    bind_socket(dir, 0600, sock, sizeof sock);
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_OK);
    NT_EQ_INT(chmod(dir, 0755), 0);
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_OK);
    /* A run directory others can write: they could swap the socket. */
    NT_EQ_INT(chmod(dir, 0777), 0);
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_EAUTH);
    NT_CONTAINS(err, "run directory");
    NT_CONTAINS(err, "chmod 700");
    NT_EQ_INT(chmod(dir, 0700), 0);
    /* A socket others can write to. */
    NT_EQ_INT(chmod(sock, 0666), 0);
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_EAUTH);
    NT_CONTAINS(err, "control socket");
    NT_EQ_INT(chmod(sock, 0600), 0);
    if (geteuid() == 0) {
        /* Someone else's socket in our directory, and someone else's
         * directory. */
        NT_EQ_INT(chown(sock, NOBODY, NOBODY), 0);
        NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_EAUTH);
        NT_CONTAINS(err, "owned by uid 65534");
        NT_EQ_INT(chown(sock, 0, 0), 0);
        NT_EQ_INT(chown(dir, NOBODY, NOBODY), 0);
        NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_EAUTH);
        NT_CONTAINS(err, "owned by uid 65534");
        NT_EQ_INT(chown(dir, 0, 0), 0);
    }
    /* unix:// is the same file; tcp:// has none to check. */
    snprintf(url, sizeof url, "unix://%s/ctl.sock", dir);
    NT_EQ_INT(chmod(sock, 0666), 0);
    NT_EQ_INT(naos_ctl_check(url, err, sizeof err), NAOS_EAUTH);
    NT_EQ_INT(naos_ctl_check("tcp://127.0.0.1:1", err, sizeof err), NAOS_OK);
    nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_rule),
        NT_CASE(test_ctl_url),
        NT_CASE(test_ctl_check),
        {0},
    };
    return nt_run(cases);
}
