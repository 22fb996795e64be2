/* SPDX-License-Identifier: Apache-2.0 */
/* procstat.c: see procstat.h. */
#include "node/proc/procstat.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool
proc_stat_read(int pid, struct proc_stat *out)
{
    char path[32], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t k = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (k <= 0)
        return false;
    buf[k] = '\0';
    const char *end = strrchr(buf, ')');
    struct proc_stat st;
    if (end == NULL || sscanf(end + 1, " %c %d %d %d", &st.state, &st.ppid,
                              &st.pgrp, &st.session) != 4)
        return false;
    *out = st;
    return true;
}
