/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "node/base/err.h"

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
    return put(buf, len,
               snprintf(buf, len, "/tmp/naos-%lu", (unsigned long)getuid()));
}

int
naos_ctl_url(const char *run_dir, char *buf, size_t len)
{
    return put(buf, len,
               snprintf(buf, len, "ipc://%s/%s", run_dir, NAOS_CTL_SOCK_NAME));
}
