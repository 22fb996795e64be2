/* SPDX-License-Identifier: Apache-2.0 */
/* safefile_test.c: nothing below a trusted directory is reached through a
 * link: walks, opens, atomic writes and tree removal, each against links
 * and hard links planted where the node's files go. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/safefile.h"
#include "node/base/testing.h"

#define NOBODY 65534

struct fixture {
    char dir[128];     /* the trusted directory */
    char outside[192]; /* a directory links point into */
    char victim[256];  /* a file in it that must stay untouched */
};

static void
put(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp == NULL)
        NT_FAIL("fopen %s: %s", path, strerror(errno));
    fputs(text, fp);
    fclose(fp);
}

/* slurp returns the content of path in a static buffer ("" if missing). */
static const char *
slurp(const char *path)
{
    static char buf[4096];
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static bool
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void
setup(struct fixture *f)
{
    snprintf(f->dir, sizeof f->dir, "/tmp/naos-safefile-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        NT_FAIL("mkdtemp: %s", strerror(errno));
    snprintf(f->outside, sizeof f->outside, "%s.outside", f->dir);
    NT_EQ_INT(mkdir(f->outside, 0700), 0);
    snprintf(f->victim, sizeof f->victim, "%s/victim", f->outside);
    put(f->victim, "precious\n");
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
    nftw(f->outside, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_open_dir_creates_and_refuses_links(void)
{
    struct fixture f;
    setup(&f);
    int fd = -1;
    NT_EQ_INT(safefile_open_dir(f.dir, "a/b/c", false, &fd), NAOS_ENOTFOUND);
    NT_EQ_INT(safefile_open_dir(f.dir, "a/b/c", true, &fd), NAOS_OK);
    close(fd);
    char p[512];
    snprintf(p, sizeof p, "%s/a/b/c", f.dir);
    struct stat st;
    NT_EQ_INT(stat(p, &st), 0);
    NT_TRUE(S_ISDIR(st.st_mode));
    NT_EQ_INT(st.st_mode & 0077, 0);
    NT_EQ_INT(safefile_open_dir(f.dir, "", false, &fd), NAOS_OK);
    close(fd);
    /* A link in the middle is refused, created or not. */
    snprintf(p, sizeof p, "%s/a/evil", f.dir);
    NT_EQ_INT(symlink(f.outside, p), 0);
    NT_EQ_INT(safefile_open_dir(f.dir, "a/evil", false, &fd), NAOS_ESYS);
    NT_TRUE(errno == ELOOP || errno == ENOTDIR);
    NT_EQ_INT(safefile_open_dir(f.dir, "a/evil/x", true, &fd), NAOS_ESYS);
    snprintf(p, sizeof p, "%s/x", f.outside);
    NT_FALSE(exists(p));
    /* Names that climb or are empty never reach the file system. */
    NT_EQ_INT(safefile_open_dir(f.dir, "../x", true, &fd), NAOS_EINVAL);
    NT_EQ_INT(safefile_open_dir(f.dir, "a/./b", true, &fd), NAOS_EINVAL);
    NT_EQ_INT(safefile_open_dir(f.dir, "a//b", true, &fd), NAOS_EINVAL);
    NT_EQ_INT(safefile_open_dir(f.dir, "a/", true, &fd), NAOS_EINVAL);
    NT_EQ_INT(safefile_open_dir(f.dir, "/etc", true, &fd), NAOS_EINVAL);
    teardown(&f);
}

static void
test_openat_refuses_links_and_foreign_files(void)
{
    struct fixture f;
    setup(&f);
    int dfd = open(f.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    NT_TRUE(dfd >= 0);
    int fd = -1;
    /* A symlink planted where the node's file goes. */
    char p[512];
    snprintf(p, sizeof p, "%s/node.lock", f.dir);
    NT_EQ_INT(symlink(f.victim, p), 0);
    NT_EQ_INT(safefile_openat(dfd, "node.lock", O_RDWR | O_CREAT, 0600, &fd),
              NAOS_EINVAL);
    NT_EQ_INT(errno, ELOOP);
    NT_EQ_STR(slurp(f.victim), "precious\n");
    NT_EQ_INT(unlink(p), 0);
    /* A hard link to someone's file. */
    NT_EQ_INT(link(f.victim, p), 0);
    NT_EQ_INT(safefile_openat(dfd, "node.lock", O_RDWR | O_CREAT, 0600, &fd),
              NAOS_EINVAL);
    NT_EQ_INT(errno, EMLINK);
    NT_EQ_INT(unlink(p), 0);
    /* A FIFO: refused at once, not waited on. */
    NT_EQ_INT(mkfifo(p, 0600), 0);
    int rc = safefile_openat(dfd, "node.lock", O_WRONLY | O_APPEND, 0, &fd);
    NT_TRUE(rc == NAOS_EINVAL || rc == NAOS_ESYS);
    NT_EQ_INT(unlink(p), 0);
    if (geteuid() == 0) {
        put(p, "x");
        NT_EQ_INT(chown(p, NOBODY, NOBODY), 0);
        NT_EQ_INT(safefile_openat(dfd, "node.lock", O_RDWR, 0, &fd),
                  NAOS_EINVAL);
        NT_EQ_INT(errno, EPERM);
        NT_EQ_INT(unlink(p), 0);
    }
    /* The ordinary case: created, blocking, ours. */
    NT_EQ_INT(safefile_openat(dfd, "node.lock", O_RDWR | O_CREAT, 0600, &fd),
              NAOS_OK);
    NT_EQ_INT(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    NT_EQ_INT(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    close(fd);
    NT_EQ_INT(safefile_openat(dfd, "missing", O_RDONLY, 0, &fd),
              NAOS_ENOTFOUND);
    NT_EQ_INT(safefile_openat(dfd, "node.lock", O_RDWR | O_TRUNC, 0, &fd),
              NAOS_EINVAL);
    NT_EQ_INT(safefile_openat(dfd, "../x", O_RDONLY, 0, &fd), NAOS_EINVAL);
    close(dfd);
    teardown(&f);
}

static void
test_write_atomic(void)
{
    struct fixture f;
    setup(&f);
    char p[512], tmp[512];
    snprintf(p, sizeof p, "%s/http.addr", f.dir);
    snprintf(tmp, sizeof tmp, "%s/http.addr.tmp", f.dir);
    NT_EQ_INT(safefile_write_atomic(f.dir, "http.addr", "one\n", 4, 0644),
              NAOS_OK);
    NT_EQ_STR(slurp(p), "one\n");
    /* A link planted as the temporary: removed, never written through. */
    NT_EQ_INT(symlink(f.victim, tmp), 0);
    NT_EQ_INT(safefile_write_atomic(f.dir, "http.addr", "two\n", 4, 0644),
              NAOS_OK);
    NT_EQ_STR(slurp(p), "two\n");
    NT_EQ_STR(slurp(f.victim), "precious\n");
    NT_FALSE(exists(tmp));
    /* A link planted as the file itself is replaced, not followed. */
    NT_EQ_INT(unlink(p), 0);
    NT_EQ_INT(symlink(f.victim, p), 0);
    NT_EQ_INT(safefile_write_atomic(f.dir, "http.addr", "three\n", 6, 0644),
              NAOS_OK);
    NT_EQ_STR(slurp(f.victim), "precious\n");
    struct stat st;
    NT_EQ_INT(lstat(p, &st), 0);
    NT_TRUE(S_ISREG(st.st_mode));
    NT_EQ_STR(slurp(p), "three\n");
    /* A directory in the temporary's place: an error, nothing left. */
    NT_EQ_INT(mkdir(tmp, 0700), 0);
    NT_EQ_INT(safefile_write_atomic(f.dir, "http.addr", "four\n", 5, 0644),
              NAOS_ESYS);
    NT_EQ_STR(slurp(p), "three\n");
    NT_EQ_INT(safefile_write_atomic(f.dir, "a/b", "x", 1, 0644), NAOS_EINVAL);
    teardown(&f);
}

static void
test_remove_tree_stays_inside(void)
{
    struct fixture f;
    setup(&f);
    int fd;
    NT_EQ_INT(safefile_open_dir(f.dir, "logs/dep/sub", true, &fd), NAOS_OK);
    close(fd);
    char p[512];
    snprintf(p, sizeof p, "%s/logs/dep/w.log", f.dir);
    put(p, "old\n");
    snprintf(p, sizeof p, "%s/logs/dep/w.log.1", f.dir);
    put(p, "older\n");
    snprintf(p, sizeof p, "%s/logs/dep/sub/x.log", f.dir);
    put(p, "x\n");
    /* Links inside the tree to things outside it. */
    snprintf(p, sizeof p, "%s/logs/dep/sub/to-dir", f.dir);
    NT_EQ_INT(symlink(f.outside, p), 0);
    snprintf(p, sizeof p, "%s/logs/dep/to-file", f.dir);
    NT_EQ_INT(symlink(f.victim, p), 0);
    /* A sibling whose name shares the prefix stays. */
    NT_EQ_INT(safefile_open_dir(f.dir, "logs/dep2", true, &fd), NAOS_OK);
    close(fd);
    snprintf(p, sizeof p, "%s/logs/dep2/w.log", f.dir);
    put(p, "keep\n");

    int logs;
    NT_EQ_INT(safefile_open_dir(f.dir, "logs", false, &logs), NAOS_OK);
    NT_EQ_INT(safefile_remove_tree(logs, "dep"), NAOS_OK);
    snprintf(p, sizeof p, "%s/logs/dep", f.dir);
    NT_FALSE(exists(p));
    NT_EQ_STR(slurp(f.victim), "precious\n");
    NT_TRUE(exists(f.outside));
    snprintf(p, sizeof p, "%s/logs/dep2/w.log", f.dir);
    NT_EQ_STR(slurp(p), "keep\n");
    /* Nothing there: fine. A link as the top entry: only the link goes. */
    NT_EQ_INT(safefile_remove_tree(logs, "dep"), NAOS_OK);
    snprintf(p, sizeof p, "%s/logs/linked", f.dir);
    NT_EQ_INT(symlink(f.outside, p), 0);
    NT_EQ_INT(safefile_remove_tree(logs, "linked"), NAOS_OK);
    NT_FALSE(exists(p));
    NT_EQ_STR(slurp(f.victim), "precious\n");
    /* Names that would leave the directory. */
    NT_EQ_INT(safefile_remove_tree(logs, ".."), NAOS_EINVAL);
    NT_EQ_INT(safefile_remove_tree(logs, "."), NAOS_EINVAL);
    NT_EQ_INT(safefile_remove_tree(logs, "dep2/w.log"), NAOS_EINVAL);
    NT_EQ_INT(safefile_remove_tree(logs, ""), NAOS_EINVAL);
    snprintf(p, sizeof p, "%s/logs/dep2/w.log", f.dir);
    NT_TRUE(exists(p));
    close(logs);
    teardown(&f);
}

static void
test_remove_tree_depth_bound(void)
{
    struct fixture f;
    setup(&f);
    /* SAFEFILE_MAX_DEPTH + 1 levels: refused at the bound, not a crash. */
    char rel[4096] = "t";
    for (int i = 0; i < SAFEFILE_MAX_DEPTH; i++)
        strcat(rel, "/d");
    int fd;
    NT_EQ_INT(safefile_open_dir(f.dir, rel, true, &fd), NAOS_OK);
    close(fd);
    int root = open(f.dir, O_RDONLY | O_DIRECTORY);
    NT_EQ_INT(safefile_remove_tree(root, "t"), NAOS_EINVAL);
    /* At the bound exactly, it goes. */
    char p[512];
    snprintf(p, sizeof p, "%s/u", f.dir);
    strcpy(rel, "u");
    for (int i = 0; i < SAFEFILE_MAX_DEPTH - 1; i++)
        strcat(rel, "/d");
    NT_EQ_INT(safefile_open_dir(f.dir, rel, true, &fd), NAOS_OK);
    close(fd);
    NT_EQ_INT(safefile_remove_tree(root, "u"), NAOS_OK);
    NT_FALSE(exists(p));
    close(root);
    teardown(&f);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_open_dir_creates_and_refuses_links),
        NT_CASE(test_openat_refuses_links_and_foreign_files),
        NT_CASE(test_write_atomic),
        NT_CASE(test_remove_tree_stays_inside),
        NT_CASE(test_remove_tree_depth_bound),
        {0},
    };
    return nt_run(cases);
}
