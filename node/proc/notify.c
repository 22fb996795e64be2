/* SPDX-License-Identifier: Apache-2.0 */
/* notify.c: systemd notify protocol server (sd_notify(3), systemd.service(5)
 * "NotifyAccess"). See notify.h. */
#include "node/proc/notify.h"

#include "node/base/utf8.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int
proc_notify_open(const char *path, int *out_fd)
{
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t plen = path != NULL ? strlen(path) : 0;
    if (plen == 0)
        return NAOS_EINVAL;
    if (plen >= sizeof sa.sun_path)
        return NAOS_ETOOBIG;
    memcpy(sa.sun_path, path, plen + 1);

    struct stat st;
    if (lstat(path, &st) == 0) {
        /* A link or file planted there is not ours to remove or follow
         * (bind never follows one either). */
        if (!S_ISSOCK(st.st_mode)) {
            errno = EEXIST;
            return NAOS_EEXIST;
        }
        if (unlink(path) < 0 && errno != ENOENT)
            return NAOS_ESYS;
    }

    int rc = NAOS_ESYS;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return NAOS_ESYS;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
        goto err_after_socket;
    /* Linux creates the socket file with the socket inode's mode (minus the
     * umask), so set it before bind: there is no window with a wider mode. */
    if (fchmod(fd, 0600) < 0)
        goto err_after_socket;
    if (bind(fd, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1)) < 0)
        goto err_after_socket;
    if (chmod(path, 0600) < 0)
        goto err_after_bind;
    *out_fd = fd;
    return NAOS_OK;

err_after_bind:
    {
        int e = errno;
        unlink(path);
        errno = e;
    }
err_after_socket:
    {
        int e = errno;
        close(fd);
        errno = e;
    }
    return rc;
}

void
proc_notify_close(int sock, const char *path)
{
    if (sock >= 0)
        close(sock);
    if (path != NULL)
        unlink(path);
}

/* utf8_seq_len: like naos_utf8_seq_len for a non-ASCII lead byte, but C1
 * controls (U+0080..U+009F) are as unwelcome as C0 ones. */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
    size_t len = naos_utf8_seq_len(s, n);
    if (len < 2 || naos_utf8_codepoint(s, len) < 0xa0)
        return 0;
    return len;
}

/* status_copy sanitises v (n bytes) into out (PROC_NOTIFY_STATUS_MAX + 1):
 * printable ASCII and valid UTF-8 are kept, anything else becomes '?', and a
 * sequence that would not fit whole is cut off. */
static void
status_copy(char *out, const char *v, size_t n)
{
    const unsigned char *s = (const unsigned char *)v;
    size_t o = 0, i = 0;
    while (i < n && o < PROC_NOTIFY_STATUS_MAX) {
        if (s[i] >= 0x20 && s[i] < 0x7f) {
            out[o++] = (char)s[i++];
            continue;
        }
        size_t l = s[i] >= 0x80 ? utf8_seq_len(s + i, n - i) : 0;
        if (l == 0) {
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + l > PROC_NOTIFY_STATUS_MAX)
            break;
        memcpy(out + o, s + i, l);
        o += l;
        i += l;
    }
    out[o] = '\0';
}

/* parse_u64: all of v (n bytes) as a decimal; false on anything else. */
static bool
parse_u64(const char *v, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        uint64_t d = (uint64_t)(v[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

static bool
key_is(const char *k, size_t kl, const char *want)
{
    return strlen(want) == kl && memcmp(k, want, kl) == 0;
}

static bool
val_is(const char *v, size_t vl, const char *want)
{
    return strlen(want) == vl && memcmp(v, want, vl) == 0;
}

/* parse_line handles one assignment (no '\n' inside). */
static void
parse_line(const char *l, size_t n, struct proc_notify_msg *m)
{
    const char *eq = memchr(l, '=', n);
    if (eq == NULL || eq == l)
        return;
    size_t kl = (size_t)(eq - l);
    const char *v = eq + 1;
    size_t vl = n - kl - 1;

    if (key_is(l, kl, "READY")) {
        if (val_is(v, vl, "1"))
            m->ready = true;
    } else if (key_is(l, kl, "STOPPING")) {
        if (val_is(v, vl, "1"))
            m->stopping = true;
    } else if (key_is(l, kl, "WATCHDOG")) {
        if (val_is(v, vl, "1"))
            m->watchdog = true;
        else if (val_is(v, vl, "trigger"))
            m->watchdog_trigger = true;
    } else if (key_is(l, kl, "STATUS")) {
        m->has_status = true;
        status_copy(m->status, v, vl);
    } else if (key_is(l, kl, "EXTEND_TIMEOUT_USEC")) {
        uint64_t x;
        if (parse_u64(v, vl, &x)) {
            m->has_extend_timeout = true;
            m->extend_timeout_usec = x;
        }
    }
    /* Anything else (MAINPID, ERRNO, FDSTORE, RELOADING, ...) is ignored. */
}

void
proc_notify_parse(const char *p, size_t len, struct proc_notify_msg *m)
{
    m->ready = m->stopping = m->watchdog = m->watchdog_trigger = false;
    m->has_status = false;
    m->status[0] = '\0';
    m->has_extend_timeout = false;
    m->extend_timeout_usec = 0;

    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(p + i, '\n', len - i);
        size_t end = nl != NULL ? (size_t)(nl - p) : len;
        parse_line(p + i, end - i, m);
        i = end + 1;
    }
}

/* close_passed_fds closes every fd received with SCM_RIGHTS. */
static void
close_passed_fds(struct msghdr *mh)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL;
         c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            close(fd);
        }
    }
}

int
proc_notify_recv(int sock, struct proc_notify_msg *msg)
{
    char buf[PROC_NOTIFY_MAX_DGRAM];
    /* Room for the credentials and a reasonable number of passed fds; if a
     * sender passes more, MSG_CTRUNC is set and the kernel closes the fds
     * that did not fit. */
    union {
        struct cmsghdr align;
        char b[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(sizeof(int) * 16)];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    memset(&ctl, 0, sizeof ctl);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.b;
    mh.msg_controllen = sizeof ctl.b;

    ssize_t n;
    do {
        /* MSG_TRUNC makes recvmsg return the real length of a datagram. */
        n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PROC_NOTIFY_EMPTY;
        return NAOS_ESYS;
    }
    close_passed_fds(&mh);
    if ((size_t)n > sizeof buf || (mh.msg_flags & MSG_TRUNC) != 0)
        return NAOS_ETOOBIG;

    struct ucred cred;
    bool have_cred = false;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
         c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
            c->cmsg_len >= CMSG_LEN(sizeof cred)) {
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            have_cred = true;
        }
    }
    if (!have_cred || cred.pid <= 0)
        return NAOS_EPROTO;

    msg->pid = cred.pid;
    msg->uid = cred.uid;
    msg->gid = cred.gid;
    proc_notify_parse(buf, (size_t)n, msg);
    return NAOS_OK;
}

int
proc_notify_sender_group(int pid)
{
    if (pid <= 0) {
        errno = ESRCH;
        return -1;
    }
    return (int)getpgid(pid);
}
