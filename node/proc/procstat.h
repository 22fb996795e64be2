/* SPDX-License-Identifier: Apache-2.0 */
/* procstat.h: a process's place, as /proc/PID/stat tells it (proc(5)):
 * its state letter, parent, process group and session. Shared by the
 * peer lookup (peer.c) and the lease guardian's last look (guardian.c).
 * The command name (field 2) is in parentheses and may hold anything,
 * spaces and ')' included: the fields read follow the LAST ')'. */
#ifndef NAOS_PROC_PROCSTAT_H
#define NAOS_PROC_PROCSTAT_H

#include <stdbool.h>

struct proc_stat {
    char state; /* 'R', 'S', 'D', 'Z', 'X', ... */
    int ppid, pgrp, session;
};

/* proc_stat_read reads pid's entry into *out; false when it is gone or
 * unreadable (*out untouched). Any thread; no allocation. */
bool proc_stat_read(int pid, struct proc_stat *out);

#endif
