/* SPDX-License-Identifier: Apache-2.0 */
/* notify_test.c: the notify socket against real senders. */
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "node/base/err.h"
#include "node/proc/notify.h"
#include "node/proc/proc_test_util.h"
#include "node/proc/spawn.h"

struct fixture {
    char dir[256];
    char path[512];
    int sock;
};

static void
setup(struct fixture *f)
{
    tu_mkdtemp(f->dir, sizeof f->dir);
    snprintf(f->path, sizeof f->path, "%s/notify", f->dir);
    f->sock = -1;
    NT_EQ_INT(proc_notify_open(f->path, &f->sock), NAOS_OK);
    NT_TRUE(f->sock >= 0);
}

static void
teardown(struct fixture *f)
{
    proc_notify_close(f->sock, f->path);
    tu_rmtree(f->dir);
}

/* send_raw sends len bytes to the fixture's socket from this process. */
static void
send_raw(struct fixture *f, const void *p, size_t len)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, f->path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    NT_TRUE(fd >= 0);
    int big = 1 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    ssize_t w = sendto(fd, p, len, 0, (struct sockaddr *)&sa, sizeof sa);
    if (w != (ssize_t)len)
        NT_FAIL("sendto: %s", strerror(errno));
    close(fd);
}

static void
send_str(struct fixture *f, const char *s)
{
    send_raw(f, s, strlen(s));
}

/* recv_one waits for one datagram and returns proc_notify_recv's code. */
static int
recv_one(struct fixture *f, struct proc_notify_msg *m)
{
    struct pollfd p = {.fd = f->sock, .events = POLLIN};
    NT_EQ_INT(poll(&p, 1, 10000), 1);
    return proc_notify_recv(f->sock, m);
}

static void
test_open_mode_and_stale(void)
{
    struct fixture f;
    setup(&f);
    struct stat st;
    NT_EQ_INT(lstat(f.path, &st), 0);
    NT_TRUE(S_ISSOCK(st.st_mode));
    NT_EQ_INT(st.st_mode & 07777, 0600);
    NT_TRUE((fcntl(f.sock, F_GETFD) & FD_CLOEXEC) != 0);
    NT_TRUE((fcntl(f.sock, F_GETFL) & O_NONBLOCK) != 0);
    /* A stale socket (node crashed) is replaced. */
    close(f.sock);
    NT_EQ_INT(proc_notify_open(f.path, &f.sock), NAOS_OK);
    /* A regular file is not touched. */
    char other[600];
    snprintf(other, sizeof other, "%s/file", f.dir);
    int fd = open(other, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    close(fd);
    int s2 = -1;
    NT_EQ_INT(proc_notify_open(other, &s2), NAOS_EEXIST);
    NT_EQ_INT(s2, -1);
    char lng[200];
    memset(lng, 'a', sizeof lng - 1);
    lng[0] = '/';
    lng[sizeof lng - 1] = '\0';
    NT_EQ_INT(proc_notify_open(lng, &s2), NAOS_ETOOBIG);
    NT_EQ_INT(proc_notify_open("", &s2), NAOS_EINVAL);
    teardown(&f);
    NT_EQ_INT(access(f.path, F_OK), -1);
}

static void
test_empty(void)
{
    struct fixture f;
    setup(&f);
    struct proc_notify_msg m;
    NT_EQ_INT(proc_notify_recv(f.sock, &m), PROC_NOTIFY_EMPTY);
    teardown(&f);
}

static void
test_child_sends(void)
{
    struct fixture f;
    setup(&f);
    int p[2];
    tu_pipe(p);
    char *argv[] = {PROC_TESTBIN, "notify",
                    "READY=1\\nSTATUS=hello\\nWATCHDOG=1", NULL};
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    ne.notify_socket = f.path;
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = p[1];
    o.naos = &ne;
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    struct proc_notify_msg m;
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_EQ_INT(m.pid, c.pid);
    NT_EQ_INT(m.uid, getuid());
    NT_TRUE(m.ready);
    NT_TRUE(m.watchdog);
    NT_FALSE(m.stopping);
    NT_TRUE(m.has_status);
    NT_EQ_STR(m.status, "hello");
    NT_FALSE(m.has_extend_timeout);
    /* Still ours (zombie at worst): the group is the worker's. */
    NT_EQ_INT(proc_notify_sender_group(m.pid), c.pid);
    char out[256];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_EQ_INT(code, 0);
    NT_EQ_INT(proc_notify_recv(f.sock, &m), PROC_NOTIFY_EMPTY);
    teardown(&f);
}

static void
test_sender_group_of_helper(void)
{
    tu_subreaper();
    int p[2];
    tu_pipe(p);
    struct proc_child c = tu_spawn_sh("sleep 1000 & echo $!; wait", p[1]);
    close(p[1]);
    char out[256];
    tu_read_until(p[0], out, sizeof out, "\n", 10000);
    close(p[0]);
    int helper = atoi(out);
    NT_TRUE(helper > 1);
    NT_EQ_INT(proc_notify_sender_group(helper), c.pid);
    NT_EQ_INT(proc_notify_sender_group(0), -1);
    tu_kill_and_reap(&c);
    NT_TRUE(tu_wait_gone(helper, 10000));
    NT_EQ_INT(proc_notify_sender_group(helper), -1);
}

static void
test_malformed_ignored(void)
{
    struct fixture f;
    setup(&f);
    struct proc_notify_msg m;

    send_str(&f, "garbage");
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_EQ_INT(m.pid, getpid());
    NT_FALSE(m.ready || m.watchdog || m.stopping || m.has_status ||
             m.has_extend_timeout);

    send_str(&f, "=1\nREADY=2\nREADY\nWATCHDOG=0\nEXTEND_TIMEOUT_USEC=12x\n"
                 "EXTEND_TIMEOUT_USEC=99999999999999999999999\nready=1\n"
                 "STOPPING=1\n");
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_FALSE(m.ready);
    NT_FALSE(m.watchdog);
    NT_FALSE(m.has_extend_timeout);
    NT_TRUE(m.stopping);

    send_str(&f, "\n\n\nWATCHDOG=1\n\nEXTEND_TIMEOUT_USEC=5000000\n"
                 "MAINPID=1\nFDSTORE=1\nUNKNOWN=x");
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_TRUE(m.watchdog);
    NT_TRUE(m.has_extend_timeout);
    NT_EQ_INT(m.extend_timeout_usec, 5000000);

    const char bin[] = "STATUS=a\x01" "b\xff\xfe" "c\tok\x7f\nREADY=1\0junk";
    send_raw(&f, bin, sizeof bin - 1);
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_FALSE(m.ready); /* "1\0junk" is not "1" */
    NT_TRUE(m.has_status);
    NT_EQ_STR(m.status, "a?b??c?ok?");

    send_raw(&f, "", 0);
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_FALSE(m.ready || m.has_status);

    send_str(&f, "WATCHDOG=trigger\nSTATUS=\n");
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_TRUE(m.watchdog_trigger);
    NT_FALSE(m.watchdog);
    NT_TRUE(m.has_status);
    NT_EQ_STR(m.status, "");
    teardown(&f);
}

static void
test_ready_line_with_nul(void)
{
    /* "READY=1\0junk" is one line whose value is not "1": ignored. Only the
     * line ends at '\n'. */
    struct proc_notify_msg m;
    const char p[] = "READY=1\0junk\nWATCHDOG=1";
    proc_notify_parse(p, sizeof p - 1, &m);
    NT_FALSE(m.ready);
    NT_TRUE(m.watchdog);
}

static void
test_too_big(void)
{
    struct fixture f;
    setup(&f);
    static char big[8192];
    memset(big, 'x', sizeof big);
    memcpy(big, "READY=1\n", 8);
    struct proc_notify_msg m;
    send_raw(&f, big, PROC_NOTIFY_MAX_DGRAM + 1);
    send_raw(&f, big, PROC_NOTIFY_MAX_DGRAM);
    send_raw(&f, big, sizeof big);
    send_str(&f, "READY=1");
    NT_EQ_INT(recv_one(&f, &m), NAOS_ETOOBIG);
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK); /* exactly the limit is fine */
    NT_TRUE(m.ready);
    NT_EQ_INT(recv_one(&f, &m), NAOS_ETOOBIG);
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_TRUE(m.ready);
    NT_EQ_INT(proc_notify_recv(f.sock, &m), PROC_NOTIFY_EMPTY);
    teardown(&f);
}

static void
test_child_too_big(void)
{
    struct fixture f;
    setup(&f);
    char *argv[] = {PROC_TESTBIN, "notify-big", "6000", NULL};
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    ne.notify_socket = f.path;
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.naos = &ne;
    struct proc_child c = tu_spawn_opts(&o);
    struct proc_notify_msg m;
    NT_EQ_INT(recv_one(&f, &m), NAOS_ETOOBIG);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_EQ_INT(code, 0);
    teardown(&f);
}

static void
test_passed_fds_closed(void)
{
    struct fixture f;
    setup(&f);
    int before = tu_count_fds();
    int pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, f.path);
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    char payload[] = "FDSTORE=1\nREADY=1";
    struct iovec iov = {.iov_base = payload, .iov_len = sizeof payload - 1};
    union {
        struct cmsghdr a;
        char b[CMSG_SPACE(sizeof(int) * 2)];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof sa,
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = ctl.b, .msg_controllen = sizeof ctl.b};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * 2);
    int two[2] = {pass, pass};
    memcpy(CMSG_DATA(cm), two, sizeof two);
    NT_EQ_INT(sendmsg(s, &mh, 0), (long)(sizeof payload - 1));
    close(s);
    close(pass);
    struct proc_notify_msg m;
    NT_EQ_INT(recv_one(&f, &m), NAOS_OK);
    NT_TRUE(m.ready);
    NT_EQ_INT(tu_count_fds(), before);
    teardown(&f);
}

static void
test_status_utf8_and_bound(void)
{
    struct proc_notify_msg m;
    const char *ok = "STATUS=h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80";
    proc_notify_parse(ok, strlen(ok), &m);
    NT_EQ_STR(m.status, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
    /* Overlong, surrogate, truncated sequence, C1 control. */
    const char *bad = "STATUS=\xc0\xaf|\xed\xa0\x80|\xe2\x9c|\xc2\x85|";
    proc_notify_parse(bad, strlen(bad), &m);
    NT_EQ_STR(m.status, "??|???|??|??|");
    /* 300 bytes of 2-byte chars: cut at 256 without splitting one. */
    char big[7 + 300 + 1];
    memcpy(big, "STATUS=", 7);
    for (int i = 0; i < 300; i += 2) {
        big[7 + i] = (char)0xc3;
        big[7 + i + 1] = (char)0xa9;
    }
    big[7 + 300] = '\0';
    proc_notify_parse(big, strlen(big), &m);
    NT_EQ_INT(strlen(m.status), 256);
    /* Odd alignment: "x" then 2-byte chars; the cut must stay whole. */
    char odd[8 + 300 + 1];
    memcpy(odd, "STATUS=x", 8);
    memcpy(odd + 8, big + 7, 301);
    proc_notify_parse(odd, strlen(odd), &m);
    NT_EQ_INT(strlen(m.status), 255);
    /* The last STATUS wins. */
    const char *two = "STATUS=one\nSTATUS=two";
    proc_notify_parse(two, strlen(two), &m);
    NT_EQ_STR(m.status, "two");
}

static void
test_parse_random(void)
{
    /* Crash-resistance on random input (ASan/UBSan builds check memory). */
    unsigned seed = 12345;
    static char buf[PROC_NOTIFY_MAX_DGRAM];
    const char *frags[] = {"READY=1", "STATUS=", "WATCHDOG=", "\n", "=",
                           "EXTEND_TIMEOUT_USEC=", "\xff", "\xe2\x9c"};
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        size_t want = (size_t)(rand_r(&seed) % sizeof buf);
        while (n < want) {
            if (rand_r(&seed) % 3 == 0) {
                const char *fr = frags[rand_r(&seed) % 8];
                size_t l = strlen(fr);
                if (n + l > want)
                    break;
                memcpy(buf + n, fr, l);
                n += l;
            } else {
                buf[n++] = (char)rand_r(&seed);
            }
        }
        struct proc_notify_msg m;
        proc_notify_parse(buf, n, &m);
        NT_TRUE(strlen(m.status) <= PROC_NOTIFY_STATUS_MAX);
    }
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_open_mode_and_stale),
        NT_CASE(test_empty),
        NT_CASE(test_child_sends),
        NT_CASE(test_sender_group_of_helper),
        NT_CASE(test_malformed_ignored),
        NT_CASE(test_ready_line_with_nul),
        NT_CASE(test_too_big),
        NT_CASE(test_child_too_big),
        NT_CASE(test_passed_fds_closed),
        NT_CASE(test_status_utf8_and_bound),
        NT_CASE(test_parse_random),
        {0},
    };
    return nt_run(cases);
}
