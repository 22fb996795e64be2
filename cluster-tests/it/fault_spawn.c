/* SPDX-License-Identifier: Apache-2.0 */
/* fault_spawn.c: an LD_PRELOAD shim for integration tests that makes the
 * node run out of descriptors for its spawns on demand (test_node_trouble
 * .py). Never part of naos itself.
 *
 * While the file named by $NAOS_IT_FAULT_FILE exists, pidfd_open (which
 * every spawn of the node calls, through syscall(2)) fails with EMFILE,
 * as it does when the node's descriptor table is full: proc_spawn then
 * kills and reaps the child it just made and returns EMFILE, the errno
 * the supervision core judges by. Removing the file is the descriptors
 * coming back (an attacker holding connections went away). */
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

long
syscall(long number, ...)
{
    va_list ap;
    va_start(ap, number);
    long a1 = va_arg(ap, long), a2 = va_arg(ap, long),
         a3 = va_arg(ap, long), a4 = va_arg(ap, long),
         a5 = va_arg(ap, long), a6 = va_arg(ap, long);
    va_end(ap);
    if (number == SYS_pidfd_open) {
        const char *slow = getenv("NAOS_IT_SLOW_FILE");
        FILE *sf = slow != NULL ? fopen(slow, "re") : NULL;
        if (sf != NULL) {
            long ms = 1000;
            if (fscanf(sf, "%ld", &ms) != 1)
                ms = 1000;
            fclose(sf);
            struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
            while (nanosleep(&ts, &ts) != 0) {
            }
        }
        const char *f = getenv("NAOS_IT_FAULT_FILE");
        if (f != NULL && access(f, F_OK) == 0) {
            errno = EMFILE;
            return -1;
        }
    }
    static long (*real)(long, ...);
    if (real == NULL)
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    return real(number, a1, a2, a3, a4, a5, a6);
}
