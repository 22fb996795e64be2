/* SPDX-License-Identifier: Apache-2.0 */
#include "node/proc/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool
proc_sdnotify_take(struct proc_sdnotify *sn)
{
    *sn = PROC_SDNOTIFY_ZERO;
    const char *path = getenv("NOTIFY_SOCKET");
    bool ok = false;
    if (path && path[0]) {
        size_t len = strlen(path);
        if (len >= sizeof sn->addr.sun_path) {
            fprintf(stderr, "naos-node: warning: NOTIFY_SOCKET is %zu bytes, "
                    "longer than a unix socket path can be; not notifying "
                    "the service manager\n", len);
        } else if (path[0] == '@' || path[0] == '/') {
            sn->addr.sun_family = AF_UNIX;
            memcpy(sn->addr.sun_path, path, len);
            if (path[0] == '@') /* abstract namespace: no trailing NUL */
                sn->addr.sun_path[0] = '\0';
            else
                len++;
            sn->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
                                       len);
            ok = true;
        } else {
            fprintf(stderr, "naos-node: warning: NOTIFY_SOCKET \"%s\" is "
                    "neither a path nor @name; ignored\n", path);
        }
    }
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    return ok;
}

int
proc_sdnotify_send(const struct proc_sdnotify *sn, const char *msg)
{
    if (sn->addr_len == 0)
        return 0;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    int rc = 0;
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
               (const struct sockaddr *)&sn->addr, sn->addr_len) < 0)
        rc = errno;
    close(fd);
    return rc;
}
