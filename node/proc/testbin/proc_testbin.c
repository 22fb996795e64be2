/* SPDX-License-Identifier: Apache-2.0 */
/* proc_testbin: a small helper run as a child by the proc tests.
 *
 *   proc_testbin fds              print the open fds, one per line
 *   proc_testbin notify PAYLOAD   send PAYLOAD (with "\n" escapes turned
 *                                 into newlines) to $NOTIFY_SOCKET, then
 *                                 print "sent <pid>"
 *   proc_testbin notify-big N     send an N-byte datagram of 'x'
 *
 * Exit codes: 0 ok, 100 usage, 111 system failure (s6 convention). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
cmd_fds(void)
{
    struct rlimit rl;
    long max = 1024;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        max = (long)rl.rlim_cur;
    if (max > 65536)
        max = 65536;
    for (long fd = 0; fd < max; fd++) {
        if (fcntl((int)fd, F_GETFD) >= 0)
            printf("%ld\n", fd);
    }
    return 0;
}

static int
send_dgram(const char *p, size_t n)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0') {
        fprintf(stderr, "proc_testbin: NOTIFY_SOCKET not set\n");
        return 100;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sa.sun_path)
        return 100;
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 111;
    ssize_t w = sendto(fd, p, n, 0, (struct sockaddr *)&sa, sizeof sa);
    if (w < 0) {
        fprintf(stderr, "proc_testbin: sendto: %s\n", strerror(errno));
        close(fd);
        return 111;
    }
    close(fd);
    printf("sent %d\n", (int)getpid());
    return 0;
}

static int
cmd_notify(const char *arg)
{
    size_t n = strlen(arg);
    char *p = malloc(n + 1);
    if (p == NULL)
        return 111;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (arg[i] == '\\' && i + 1 < n && arg[i + 1] == 'n') {
            p[o++] = '\n';
            i++;
        } else {
            p[o++] = arg[i];
        }
    }
    int rc = send_dgram(p, o);
    free(p);
    return rc;
}

static int
cmd_notify_big(const char *arg)
{
    long n = strtol(arg, NULL, 10);
    if (n <= 0 || n > 1 << 20)
        return 100;
    char *p = malloc((size_t)n);
    if (p == NULL)
        return 111;
    memset(p, 'x', (size_t)n);
    memcpy(p, "READY=1\n", 8 < n ? 8 : (size_t)n);
    int rc = send_dgram(p, (size_t)n);
    free(p);
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "fds") == 0)
        return cmd_fds();
    if (argc == 3 && strcmp(argv[1], "notify") == 0)
        return cmd_notify(argv[2]);
    if (argc == 3 && strcmp(argv[1], "notify-big") == 0)
        return cmd_notify_big(argv[2]);
    fprintf(stderr, "usage: proc_testbin fds | notify PAYLOAD | notify-big N\n");
    return 100;
}
