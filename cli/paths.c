/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/paths.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/safedir.h"

static int
put(char *buf, size_t len, int n)
{
    if (n < 0 || (size_t)n >= len) {
        if (len)
            buf[0] = '\0';
        return NAOS_ETOOBIG;
    }
    return NAOS_OK;
}

int
naos_default_run_dir(char *buf, size_t len)
{
    const char *d = getenv("NAOS_RUN_DIR");
    if (d && d[0])
        return put(buf, len, snprintf(buf, len, "%s", d));
    d = getenv("XDG_RUNTIME_DIR");
    if (d && d[0])
        return put(buf, len, snprintf(buf, len, "%s/naos", d));
    /* Root's default is where naos-node.service keeps it (and where no
     * other user can create it first). */
    if (geteuid() == 0)
        return put(buf, len, snprintf(buf, len, "/run/naos"));
    return put(buf, len,
               snprintf(buf, len, "/tmp/naos-%lu", (unsigned long)getuid()));
}

int
naos_ctl_url(const char *run_dir, char *buf, size_t len)
{
    return put(buf, len,
               snprintf(buf, len, "ipc://%s/%s", run_dir, NAOS_CTL_SOCK_NAME));
}

int
naos_ctl_check(const char *url, char *errbuf, size_t errlen)
{
    static const struct safedir_names dir_names = {
        "run directory",
        "point --run (or NAOS_CTL) at the run directory of your own node"};
    static const struct safedir_names sock_names = {
        "control socket",
        "point --run (or NAOS_CTL) at the run directory of your own node"};
    const char *path = NULL;
    if (strncmp(url, "ipc://", 6) == 0)
        path = url + 6;
    else if (strncmp(url, "unix://", 7) == 0)
        path = url + 7;
    if (path == NULL || path[0] == '\0')
        return NAOS_OK;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) {
        snprintf(errbuf, errlen, "control socket path too long: %s", path);
        return NAOS_EAUTH;
    } else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    uid_t me = geteuid();
    int rc = safedir_check(dir, me, SAFEDIR_ALLOW_ROOT, &dir_names, errbuf,
                           errlen);
    if (rc == NAOS_OK)
        rc = safedir_check_socket(path, me, SAFEDIR_ALLOW_ROOT, &sock_names,
                                  errbuf, errlen);
    if (rc == NAOS_OK || rc == NAOS_ENOTFOUND) {
        if (errlen)
            errbuf[0] = '\0';
        return NAOS_OK;
    }
    return NAOS_EAUTH;
}
