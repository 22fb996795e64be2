/* SPDX-License-Identifier: Apache-2.0 */
/* logfile_test.c: rotated logs, pipe pumping, and the reader. */
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/proc/logfile.h"
#include "node/proc/proc_test_util.h"
#include "node/proc/spawn.h"

struct fixture {
    char dir[256];
    char path[512];
};

/* The log, relative to the fixture's directory (the node's DATA/logs). */
#define REL "logs/dep/w1.log"

static void
setup(struct fixture *f)
{
    tu_mkdtemp(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/logs/dep/w1.log", f->dir);
}

static void
teardown(struct fixture *f)
{
    tu_rmtree(f->dir);
}

/* file_size returns the size of path + suffix, or -1 if missing. */
static long
file_size(const char *path, const char *suffix)
{
    char p[600];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    struct stat st;
    if (stat(p, &st) < 0)
        return -1;
    return (long)st.st_size;
}

/* slurp reads path + suffix into buf (NUL-terminated); returns length. */
static size_t
slurp(const char *path, const char *suffix, char *buf, size_t cap)
{
    char p[600];
    snprintf(p, sizeof p, "%s%s", path, suffix);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        NT_FAIL("open %s: %s", p, strerror(errno));
    size_t got = 0;
    ssize_t n;
    while (got + 1 < cap && (n = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    return got;
}

static void
test_open_creates_dirs_and_modes(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf = NULL;
    long live = naos_alloc_live();
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, PROC_LOGFILE_DEFAULT_KEEP),
              NAOS_OK);
    struct stat st;
    NT_EQ_INT(stat(f.path, &st), 0);
    NT_EQ_INT(st.st_mode & 0777, 0600);
    char d[600];
    snprintf(d, sizeof d, "%s/logs/dep", f.dir);
    NT_EQ_INT(stat(d, &st), 0);
    NT_EQ_INT(st.st_mode & 0777, 0700);
    NT_EQ_INT(proc_logfile_write(lf, "hello\n", 6), NAOS_OK);
    NT_EQ_INT(proc_logfile_size(lf), 6);
    proc_logfile_close(lf);
    /* Reopen appends and counts the existing size. */
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    NT_EQ_INT(proc_logfile_size(lf), 6);
    NT_EQ_INT(proc_logfile_write(lf, "again\n", 6), NAOS_OK);
    proc_logfile_close(lf);
    char buf[64];
    slurp(f.path, "", buf, sizeof buf);
    NT_EQ_STR(buf, "hello\nagain\n");
    NT_EQ_INT(naos_alloc_live(), live);
    proc_logfile_close(NULL);
    teardown(&f);
}

static void
test_open_errors(void)
{
    struct proc_logfile *lf = NULL;
    NT_EQ_INT(proc_logfile_open(&lf, "", "x.log", 0, 3), NAOS_EINVAL);
    NT_EQ_INT(proc_logfile_open(&lf, "/tmp", "", 0, 3), NAOS_EINVAL);
    NT_EQ_INT(proc_logfile_open(&lf, "/tmp", "../x.log", 0, 3), NAOS_EINVAL);
    NT_EQ_INT(proc_logfile_open(&lf, "/tmp", "/x.log", 0, 3), NAOS_EINVAL);
    NT_EQ_INT(proc_logfile_open(&lf, "/proc/naos-no", "x.log", 0, 3),
              NAOS_ESYS);
    NT_TRUE(lf == NULL);
    struct fixture f;
    setup(&f);
    long live = naos_alloc_live();
    for (long k = 0; k < 8; k++) {
        naos_alloc_fail_after(k);
        int rc = proc_logfile_open(&lf, f.dir, REL, 0, 3);
        naos_alloc_fail_after(-1);
        if (rc == NAOS_OK) {
            NT_TRUE(k >= 6);
            proc_logfile_close(lf);
        } else {
            NT_EQ_INT(rc, NAOS_ENOMEM);
        }
        NT_EQ_INT(naos_alloc_live(), live);
    }
    teardown(&f);
}

static void
test_rotation_keep_n(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 100, 2), NAOS_OK);
    /* 20 lines of 30 bytes = 600 bytes; 3 lines fit per file. */
    static char all[1024];
    size_t alen = 0;
    for (int i = 0; i < 20; i++) {
        char line[31];
        snprintf(line, sizeof line, "line %02d %-21s\n", i, "xxxxxxxxxxxx");
        NT_EQ_INT(strlen(line), 30);
        NT_EQ_INT(proc_logfile_write(lf, line, 30), NAOS_OK);
        memcpy(all + alen, line, 30);
        alen += 30;
        NT_TRUE(proc_logfile_size(lf) <= 100);
    }
    proc_logfile_close(lf);
    NT_EQ_INT(file_size(f.path, ""), 60);   /* lines 18, 19 */
    NT_EQ_INT(file_size(f.path, ".1"), 90); /* 15..17 */
    NT_EQ_INT(file_size(f.path, ".2"), 90); /* 12..14 */
    NT_EQ_INT(file_size(f.path, ".3"), -1);
    /* Oldest first, the files are the tail of what was written, whole lines
     * (no write was split). */
    char b2[128], b1[128], b0[128], cat[512];
    slurp(f.path, ".2", b2, sizeof b2);
    slurp(f.path, ".1", b1, sizeof b1);
    slurp(f.path, "", b0, sizeof b0);
    snprintf(cat, sizeof cat, "%s%s%s", b2, b1, b0);
    all[alen] = '\0';
    NT_EQ_STR(cat, all + alen - 240);
    teardown(&f);
}

/* A chunk that overflows the file is cut after its last whole line, so
 * the current file starts with a whole line (what `naos logs --tail`
 * reads); a partial line at the chunk's end goes to the next file. */
static void
test_rotation_at_line_end(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 100, 3), NAOS_OK);
    char chunk[161]; /* 4 lines of 40 and snprintf's NUL */
    for (int i = 0; i < 4; i++)
        snprintf(chunk + i * 40, 41, "line %d %032d\n", i, 0);
    NT_EQ_INT(proc_logfile_write(lf, chunk, 160), NAOS_OK);
    /* 2 lines of 40 (80 bytes) fit in 100; the third starts a file */
    NT_EQ_INT(file_size(f.path, ".1"), 80);
    NT_EQ_INT(file_size(f.path, ""), 80);
    /* a chunk with no newline where the file has room for part of it */
    NT_EQ_INT(proc_logfile_write(lf, "abcdefghijklmnopqrstuvwxyz", 26),
              NAOS_OK);
    NT_EQ_INT(file_size(f.path, ".2"), 80);
    NT_EQ_INT(file_size(f.path, ".1"), 80);
    NT_EQ_INT(file_size(f.path, ""), 26);
    char b[128];
    slurp(f.path, ".1", b, sizeof b);
    NT_TRUE(memcmp(b, "line 2 ", 7) == 0);
    proc_logfile_close(lf);
    teardown(&f);
}

static void
test_big_write_split(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 100, 3), NAOS_OK);
    char big[250];
    for (int i = 0; i < 250; i++)
        big[i] = (char)('a' + i % 26);
    NT_EQ_INT(proc_logfile_write(lf, "0123456789", 10), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, big, sizeof big), NAOS_OK);
    proc_logfile_close(lf);
    /* The 10 bytes were rotated out, then 250 = 100 + 100 + 50. */
    NT_EQ_INT(file_size(f.path, ".3"), 10);
    NT_EQ_INT(file_size(f.path, ".2"), 100);
    NT_EQ_INT(file_size(f.path, ".1"), 100);
    NT_EQ_INT(file_size(f.path, ""), 50);
    char b[128];
    slurp(f.path, "", b, sizeof b);
    NT_TRUE(memcmp(b, big + 200, 50) == 0);
    teardown(&f);
}

static void
test_keep_zero(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 10, 0), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "aaaaaaaa\n", 9), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "bbbbbbbb\n", 9), NAOS_OK);
    proc_logfile_close(lf);
    char b[64];
    slurp(f.path, "", b, sizeof b);
    NT_EQ_STR(b, "bbbbbbbb\n");
    NT_EQ_INT(file_size(f.path, ".1"), -1);
    teardown(&f);
}

static void
test_pump_pipe(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    int p[2];
    tu_pipe(p);
    bool eof = true;
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK); /* empty */
    NT_FALSE(eof);
    NT_EQ_INT(write(p[1], "one\ntwo\n", 8), 8);
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_FALSE(eof);
    NT_EQ_INT(write(p[1], "three", 5), 5);
    close(p[1]);
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_TRUE(eof);
    close(p[0]);
    proc_logfile_close(lf);
    char b[64];
    slurp(f.path, "", b, sizeof b);
    NT_EQ_STR(b, "one\ntwo\nthree");
    teardown(&f);
}

static void
test_pump_bounded(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    int p[2];
    tu_pipe(p);
    if (fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < (1 << 20))
        NT_FAIL("cannot grow the pipe to 1 MiB");
    static char chunk[600 * 1024];
    memset(chunk, 'z', sizeof chunk);
    NT_EQ_INT(write(p[1], chunk, sizeof chunk), (long)sizeof chunk);
    bool eof = true;
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_FALSE(eof);
    NT_EQ_INT(proc_logfile_size(lf), PROC_LOGFILE_PUMP_MAX);
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_EQ_INT(proc_logfile_size(lf), 2 * PROC_LOGFILE_PUMP_MAX);
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_EQ_INT(proc_logfile_size(lf), sizeof chunk);
    NT_FALSE(eof);
    close(p[1]);
    NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
    NT_TRUE(eof);
    close(p[0]);
    proc_logfile_close(lf);
    teardown(&f);
}

static void
test_pump_from_child(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    int p[2];
    tu_pipe(p);
    struct proc_child c =
        tu_spawn_sh("echo out; echo err >&2; i=0; while [ $i -lt 200 ]; do "
                    "echo line $i; i=$((i+1)); done",
                    p[1]);
    close(p[1]);
    bool eof = false;
    naos_time end = naos_clock_now() + 10000;
    while (!eof) {
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        poll(&pf, 1, 100);
        NT_EQ_INT(proc_logfile_pump(lf, p[0], &eof), NAOS_OK);
        if (naos_clock_now() > end)
            NT_FAIL("no EOF from the child's pipe");
    }
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    proc_logfile_close(lf);
    static char b[8192];
    slurp(f.path, "", b, sizeof b);
    NT_TRUE(strncmp(b, "out\nerr\nline 0\n", 15) == 0);
    NT_CONTAINS(b, "line 199\n");
    teardown(&f);
}

static void
test_read_offset(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "l1\nl2\nl3\n", 9), NAOS_OK);
    char b[16];
    size_t len = 99;
    int64_t next = -1;
    bool rot = true;
    NT_EQ_INT(proc_logfile_read(f.path, 0, 0, b, 4, &len, &next, &rot),
              NAOS_OK);
    NT_EQ_INT(len, 4);
    NT_TRUE(memcmp(b, "l1\nl", 4) == 0);
    NT_EQ_INT(next, 4);
    NT_FALSE(rot);
    NT_EQ_INT(proc_logfile_read(f.path, next, 0, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 5);
    NT_TRUE(memcmp(b, "2\nl3\n", 5) == 0);
    NT_EQ_INT(next, 9);
    NT_EQ_INT(proc_logfile_read(f.path, next, 0, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 0); /* caught up */
    NT_EQ_INT(next, 9);
    NT_EQ_INT(proc_logfile_write(lf, "l4\n", 3), NAOS_OK);
    NT_EQ_INT(proc_logfile_read(f.path, next, 0, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 3);
    NT_EQ_INT(next, 12);
    proc_logfile_close(lf);
    teardown(&f);
}

static void
test_read_tail(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "l1\nl2\nl3\n", 9), NAOS_OK);
    char b[64];
    size_t len;
    int64_t next;
    bool rot;
    NT_EQ_INT(proc_logfile_read(f.path, -1, 2, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 6);
    NT_TRUE(memcmp(b, "l2\nl3\n", 6) == 0);
    NT_EQ_INT(next, 9);
    NT_EQ_INT(proc_logfile_read(f.path, -1, 0, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 0);
    NT_EQ_INT(next, 9);
    NT_EQ_INT(proc_logfile_read(f.path, -1, 10, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 9);
    /* A last line without a newline counts as a line. */
    NT_EQ_INT(proc_logfile_write(lf, "part", 4), NAOS_OK);
    NT_EQ_INT(proc_logfile_read(f.path, -1, 2, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 7);
    NT_TRUE(memcmp(b, "l3\npart", 7) == 0);
    /* Tail lines longer than the buffer: the first cap bytes from the
     * start of the tail, and next_offset to continue. */
    NT_EQ_INT(proc_logfile_read(f.path, -1, 3, b, 4, &len, &next, &rot),
              NAOS_OK);
    NT_EQ_INT(len, 4);
    NT_TRUE(memcmp(b, "l2\nl", 4) == 0);
    NT_EQ_INT(next, 7);
    proc_logfile_close(lf);
    teardown(&f);
}

/* Released between writes, the log still rotates by the true size: the
 * size is re-read when the file is reopened. */
static void
test_release_reopens(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 100, 1), NAOS_OK);
    proc_logfile_release(lf);
    NT_EQ_INT(file_size(f.path, ""), 0); /* created before any output */
    for (int i = 0; i < 4; i++) {
        NT_EQ_INT(proc_logfile_write(lf, "0123456789012345678901234567890\n",
                                     32),
                  NAOS_OK);
        proc_logfile_release(lf);
        proc_logfile_release(lf); /* idempotent */
    }
    /* 3 lines of 32 fit in 100; the 4th rotated. */
    NT_EQ_INT(file_size(f.path, ""), 32);
    NT_EQ_INT(file_size(f.path, ".1"), 96);
    proc_logfile_close(lf);
    teardown(&f);
}

static void
test_read_tail_across_blocks(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    /* 1000 lines of 100 bytes: the tail scan crosses many 4 KiB blocks. */
    char line[101];
    for (int i = 0; i < 1000; i++) {
        snprintf(line, sizeof line, "%04d%095d\n", i, 0);
        NT_EQ_INT(proc_logfile_write(lf, line, 100), NAOS_OK);
    }
    static char b[200000];
    size_t len;
    int64_t next;
    bool rot;
    NT_EQ_INT(proc_logfile_read(f.path, -1, 150, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 15000);
    NT_TRUE(memcmp(b, "0850", 4) == 0);
    NT_EQ_INT(next, 100000);
    NT_EQ_INT(proc_logfile_read(f.path, -1, 5000, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_EQ_INT(len, 100000);
    proc_logfile_close(lf);
    teardown(&f);
}

static void
test_read_rotated_and_missing(void)
{
    struct fixture f;
    setup(&f);
    char b[256];
    size_t len;
    int64_t next;
    bool rot;
    NT_EQ_INT(proc_logfile_read(f.path, 0, 0, b, sizeof b, &len, &next, &rot),
              NAOS_ENOTFOUND);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 50, 3), NAOS_OK);
    for (int i = 0; i < 4; i++)
        NT_EQ_INT(proc_logfile_write(lf, "0123456789\n", 11), NAOS_OK);
    int64_t off;
    NT_EQ_INT(proc_logfile_read(f.path, 0, 0, b, sizeof b, &len, &off, &rot),
              NAOS_OK);
    NT_EQ_INT(off, 44);
    NT_FALSE(rot);
    /* Rotation: the new file is shorter than the client's offset. */
    NT_EQ_INT(proc_logfile_write(lf, "new\n", 4), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "0123456789\n", 11), NAOS_OK);
    NT_EQ_INT(file_size(f.path, ".1"), 48);
    NT_EQ_INT(proc_logfile_read(f.path, off, 0, b, sizeof b, &len, &next,
                                &rot),
              NAOS_OK);
    NT_TRUE(rot);
    NT_EQ_INT(len, 11);
    NT_EQ_INT(next, 11);
    NT_TRUE(memcmp(b, "0123456789\n", 11) == 0);
    proc_logfile_close(lf);
    teardown(&f);
}

/* Links planted below DATA/logs are never followed: not in the directories
 * leading to the log, not as the log itself. */
static void
test_links_refused(void)
{
    struct fixture f;
    setup(&f);
    char outside[512], victim[600], p[600];
    snprintf(outside, sizeof outside, "%s.outside", f.dir);
    NT_EQ_INT(mkdir(outside, 0700), 0);
    snprintf(victim, sizeof victim, "%s/w1.log", outside);
    int fd = open(victim, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    NT_TRUE(fd >= 0);
    NT_EQ_INT(write(fd, "precious\n", 9), 9);
    close(fd);
    snprintf(p, sizeof p, "%s/logs", f.dir);
    NT_EQ_INT(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/logs/dep", f.dir);
    NT_EQ_INT(symlink(outside, p), 0);
    struct proc_logfile *lf = NULL;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_ESYS);
    NT_TRUE(errno == ELOOP || errno == ENOTDIR);
    NT_EQ_INT(unlink(p), 0);
    NT_EQ_INT(mkdir(p, 0700), 0);
    NT_EQ_INT(symlink(victim, f.path), 0);
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_EINVAL);
    NT_EQ_INT(errno, ELOOP);
    char buf[64];
    slurp(victim, "", buf, sizeof buf);
    NT_EQ_STR(buf, "precious\n");
    /* The reader does not follow it either. */
    size_t len;
    int64_t next;
    bool rot;
    NT_EQ_INT(proc_logfile_read(f.path, 0, 0, buf, sizeof buf, &len, &next,
                                &rot),
              NAOS_ESYS);
    NT_EQ_INT(errno, ELOOP);
    tu_rmtree(outside);
    teardown(&f);
}

/* Once the deployment's log directory is gone (naos rm), late output is
 * dropped rather than bringing the directory back. */
static void
test_reopen_does_not_recreate(void)
{
    struct fixture f;
    setup(&f);
    struct proc_logfile *lf;
    NT_EQ_INT(proc_logfile_open(&lf, f.dir, REL, 0, 3), NAOS_OK);
    NT_EQ_INT(proc_logfile_write(lf, "a\n", 2), NAOS_OK);
    proc_logfile_release(lf);
    char d[600];
    snprintf(d, sizeof d, "%s/logs/dep", f.dir);
    tu_rmtree(d);
    NT_EQ_INT(proc_logfile_write(lf, "late\n", 5), NAOS_ESYS);
    NT_EQ_INT(proc_logfile_dropped(lf), 5);
    struct stat st;
    NT_EQ_INT(stat(d, &st), -1);
    proc_logfile_close(lf);
    teardown(&f);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_open_creates_dirs_and_modes),
        NT_CASE(test_open_errors),
        NT_CASE(test_rotation_keep_n),
        NT_CASE(test_big_write_split),
        NT_CASE(test_rotation_at_line_end),
        NT_CASE(test_keep_zero),
        NT_CASE(test_pump_pipe),
        NT_CASE(test_pump_bounded),
        NT_CASE(test_pump_from_child),
        NT_CASE(test_read_offset),
        NT_CASE(test_read_tail),
        NT_CASE(test_read_tail_across_blocks),
        NT_CASE(test_release_reopens),
        NT_CASE(test_read_rotated_and_missing),
        NT_CASE(test_links_refused),
        NT_CASE(test_reopen_does_not_recreate),
        {0},
    };
    return nt_run(cases);
}
