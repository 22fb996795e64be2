/* SPDX-License-Identifier: Apache-2.0 */
/* safedir_test.c: which directories and sockets naos trusts, and what the
 * refusals say. Cases that need another owner chown to nobody, so they
 * need root; without root they check the same rule by asking for another
 * uid instead. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/safedir.h"
#include "node/base/testing.h"

#define NOBODY 65534

static const struct safedir_names RUN = {"run directory",
                                         "choose another --run DIR"};

struct fixture {
    char dir[128];
    char sub[192];
    char err[1024];
};

static void
setup(struct fixture *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/naos-safedir-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        NT_FAIL("mkdtemp: %s", strerror(errno));
    snprintf(f->sub, sizeof f->sub, "%s/run", f->dir);
    f->err[0] = '\0';
}

static int
rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(p);
    return 0;
}

static void
teardown(struct fixture *f)
{
    nftw(f->dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_own_0700_and_0755_pass(void)
{
    struct fixture f;
    setup(&f);
    NT_EQ_INT(mkdir(f.sub, 0700), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_OK);
    NT_EQ_INT(chmod(f.sub, 0755), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_OK);
    /* The sticky bit does not make a world-writable directory ours. */
    NT_EQ_INT(chmod(f.sub, 01777), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    teardown(&f);
}

static void
test_writable_refused_with_the_fix(void)
{
    struct fixture f;
    setup(&f);
    NT_EQ_INT(mkdir(f.sub, 0700), 0);
    NT_EQ_INT(chmod(f.sub, 0777), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "run directory");
    NT_CONTAINS(f.err, f.sub);
    NT_CONTAINS(f.err, "writable by group or others (mode 0777)");
    char want[256];
    snprintf(want, sizeof want, "`chmod 700 %s`", f.sub);
    NT_CONTAINS(f.err, want);
    NT_CONTAINS(f.err, "choose another --run DIR");
    /* Group-writable alone is refused too. */
    NT_EQ_INT(chmod(f.sub, 0770), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "mode 0770");
    teardown(&f);
}

static void
test_other_owner_refused(void)
{
    struct fixture f;
    setup(&f);
    NT_EQ_INT(mkdir(f.sub, 0700), 0);
    uid_t me = geteuid();
    if (me == 0) {
        NT_EQ_INT(chown(f.sub, NOBODY, NOBODY), 0);
        NT_EQ_INT(safedir_check(f.sub, 0, 0, &RUN, f.err, sizeof f.err),
                  NAOS_EINVAL);
        NT_CONTAINS(f.err, "owned by uid 65534, not by uid 0");
        char want[256];
        snprintf(want, sizeof want, "`chown 0 %s`", f.sub);
        NT_CONTAINS(f.err, want);
        /* SAFEDIR_ALLOW_ROOT does not make nobody acceptable. */
        NT_EQ_INT(safedir_check(f.sub, 0, SAFEDIR_ALLOW_ROOT, &RUN, f.err,
                                sizeof f.err),
                  NAOS_EINVAL);
        /* Checked as nobody, it is fine. */
        NT_EQ_INT(safedir_check(f.sub, NOBODY, 0, &RUN, f.err, sizeof f.err),
                  NAOS_OK);
        NT_EQ_INT(chown(f.sub, 0, 0), 0);
    }
    /* Someone else checking our directory: refused, unless root may own
     * it and we are root. */
    NT_EQ_INT(safedir_check(f.sub, me + 1, 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_EQ_INT(safedir_check(f.sub, me + 1, SAFEDIR_ALLOW_ROOT, &RUN, f.err,
                            sizeof f.err),
              me == 0 ? NAOS_OK : NAOS_EINVAL);
    teardown(&f);
}

static void
test_not_a_directory_and_missing(void)
{
    struct fixture f;
    setup(&f);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_ENOTFOUND);
    NT_CONTAINS(f.err, "does not exist");
    FILE *fp = fopen(f.sub, "w");
    NT_TRUE(fp != NULL);
    fclose(fp);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "is not a directory");
    teardown(&f);
}

static void
test_symlinks(void)
{
    struct fixture f;
    setup(&f);
    char target[256];
    snprintf(target, sizeof target, "%s/target", f.dir);
    NT_EQ_INT(mkdir(target, 0700), 0);
    NT_EQ_INT(symlink(target, f.sub), 0);
    /* Our own link to our own directory: fine. */
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_OK);
    /* ... to a directory others can write: refused. */
    NT_EQ_INT(chmod(target, 0777), 0);
    NT_EQ_INT(safedir_check(f.sub, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_EQ_INT(chmod(target, 0700), 0);
    /* A dangling link: refused, and says so. */
    char dangling[256];
    snprintf(dangling, sizeof dangling, "%s/dangling", f.dir);
    NT_EQ_INT(symlink("/nonexistent/naos", dangling), 0);
    NT_EQ_INT(safedir_check(dangling, geteuid(), 0, &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "symbolic link");
    if (geteuid() == 0) {
        /* A link someone else planted, to a directory of ours. */
        NT_EQ_INT(lchown(f.sub, NOBODY, NOBODY), 0);
        NT_EQ_INT(safedir_check(f.sub, 0, 0, &RUN, f.err, sizeof f.err),
                  NAOS_EINVAL);
        NT_CONTAINS(f.err, "symbolic link owned by uid 65534");
    }
    teardown(&f);
}

static void
test_make_creates_0700_and_checks_existing(void)
{
    struct fixture f;
    setup(&f);
    char deep[256];
    snprintf(deep, sizeof deep, "%s/a/b/c", f.dir);
    mode_t old = umask(0);
    NT_EQ_INT(safedir_make(deep, geteuid(), &RUN, f.err, sizeof f.err),
              NAOS_OK);
    umask(old);
    struct stat st;
    NT_EQ_INT(stat(deep, &st), 0);
    NT_EQ_INT(st.st_mode & 07777, 0700);
    char mid[256];
    snprintf(mid, sizeof mid, "%s/a/b", f.dir);
    NT_EQ_INT(stat(mid, &st), 0);
    NT_EQ_INT(st.st_mode & 07777, 0700);
    /* Again: exists, still fine. */
    NT_EQ_INT(safedir_make(deep, geteuid(), &RUN, f.err, sizeof f.err),
              NAOS_OK);
    /* An existing unsafe one is refused and left as it is. */
    NT_EQ_INT(chmod(deep, 0777), 0);
    NT_EQ_INT(safedir_make(deep, geteuid(), &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "chmod 700");
    NT_EQ_INT(stat(deep, &st), 0);
    NT_EQ_INT(st.st_mode & 07777, 0777);
    NT_EQ_INT(safedir_make("", geteuid(), &RUN, f.err, sizeof f.err),
              NAOS_EINVAL);
    teardown(&f);
}

/* make_socket binds a unix socket at path, then closes it (the file
 * stays). */
static void
make_socket(const char *path, mode_t mode)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    NT_TRUE(s >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    NT_TRUE(strlen(path) < sizeof sa.sun_path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    NT_EQ_INT(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    close(s);
    NT_EQ_INT(chmod(path, mode), 0);
}

static void
test_socket(void)
{
    struct fixture f;
    setup(&f);
    static const struct safedir_names CTL = {"control socket",
                                             "give --run DIR of your node"};
    char sock[256];
    snprintf(sock, sizeof sock, "%s/ctl.sock", f.dir);
    NT_EQ_INT(safedir_check_socket(sock, geteuid(), SAFEDIR_ALLOW_ROOT, &CTL,
                                   f.err, sizeof f.err),
              NAOS_ENOTFOUND);
    make_socket(sock, 0600);
    NT_EQ_INT(safedir_check_socket(sock, geteuid(), SAFEDIR_ALLOW_ROOT, &CTL,
                                   f.err, sizeof f.err),
              NAOS_OK);
    NT_EQ_INT(chmod(sock, 0777), 0);
    NT_EQ_INT(safedir_check_socket(sock, geteuid(), SAFEDIR_ALLOW_ROOT, &CTL,
                                   f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "can be written by others");
    NT_EQ_INT(chmod(sock, 0600), 0);
    if (geteuid() == 0) {
        NT_EQ_INT(chown(sock, NOBODY, NOBODY), 0);
        NT_EQ_INT(safedir_check_socket(sock, 0, SAFEDIR_ALLOW_ROOT, &CTL,
                                       f.err, sizeof f.err),
                  NAOS_EINVAL);
        NT_CONTAINS(f.err, "control socket");
        NT_CONTAINS(f.err, "owned by uid 65534");
        NT_EQ_INT(chown(sock, 0, 0), 0);
        /* A user's CLI accepts root's node. */
        NT_EQ_INT(safedir_check_socket(sock, 1000, SAFEDIR_ALLOW_ROOT, &CTL,
                                       f.err, sizeof f.err),
                  NAOS_OK);
    }
    /* A link to a good socket is still a link: refused. */
    char link[256];
    snprintf(link, sizeof link, "%s/link.sock", f.dir);
    NT_EQ_INT(symlink(sock, link), 0);
    NT_EQ_INT(safedir_check_socket(link, geteuid(), SAFEDIR_ALLOW_ROOT, &CTL,
                                   f.err, sizeof f.err),
              NAOS_EINVAL);
    NT_CONTAINS(f.err, "symbolic link");
    /* A plain file is no socket: nobody can listen there. */
    char plain[256];
    snprintf(plain, sizeof plain, "%s/plain", f.dir);
    FILE *fp = fopen(plain, "w");
    NT_TRUE(fp != NULL);
    fclose(fp);
    NT_EQ_INT(safedir_check_socket(plain, geteuid(), SAFEDIR_ALLOW_ROOT, &CTL,
                                   f.err, sizeof f.err),
              NAOS_ENOTFOUND);
    NT_CONTAINS(f.err, "not a unix socket");
    teardown(&f);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_own_0700_and_0755_pass),
        NT_CASE(test_writable_refused_with_the_fix),
        NT_CASE(test_other_owner_refused),
        NT_CASE(test_not_a_directory_and_missing),
        NT_CASE(test_symlinks),
        NT_CASE(test_make_creates_0700_and_checks_existing),
        NT_CASE(test_socket),
        {0},
    };
    return nt_run(cases);
}
