/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_pinger: watches a node's reactor from outside, for the integration
 * tests (test_big_tree.py).
 *
 *   it_ctl_pinger URL NODE_PID
 *
 * Sends a control ping over one kept-open NNG req socket, waits for the
 * answer, then counts the node's direct children (every thread's
 * /proc/NODE_PID/task/TID/children, zombies included), pauses 1 ms, and
 * again, until its stdin is closed or written to. Then prints one line per
 * ping,
 *
 *   LATENCY_US CHILDREN     (CHILDREN -1: could not be read)
 *
 * with FAILED lines for pings that got no answer, and exits 0.
 *
 * What a test reads from it: how many pings were answered while a big
 * tree was part way started (or stopped), and how long they waited. A
 * reactor that starts the whole tree in one call answers none in between;
 * one that works in slices answers many. The CLI is no use here: starting
 * a process per ping costs more than what is measured. */
#include <dirent.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "proto/naos.pb-c.h"

#define MAX_PINGS (1u << 20)

static uint64_t
now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* children counts the pids listed in every children file of pid's
 * threads, or -1. */
static long
children(const char *pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char rel[300];
        snprintf(rel, sizeof rel, "%s/children", de->d_name);
        int fd = openat(dirfd(d), rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        char buf[65536];
        ssize_t k;
        while ((k = read(fd, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < k; i++)
                n += buf[i] == ' ';
        close(fd);
    }
    closedir(d);
    return n;
}

/* stdin_closed: the test closed our stdin (or wrote to it): stop. */
static int
stdin_closed(void)
{
    struct pollfd pf = {.fd = 0, .events = POLLIN};
    return poll(&pf, 1, 0) > 0;
}

int
main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: it_ctl_pinger URL NODE_PID\n");
        return 100;
    }
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_PING;
    req.ping = &nr;
    uint8_t msg[64];
    size_t len = naos__v1__request__pack(&req, msg);

    nng_socket s;
    if (nng_req0_open(&s) != 0) {
        fprintf(stderr, "it_ctl_pinger: cannot open a socket\n");
        return 111;
    }
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 120000);
    int rv = nng_dial(s, argv[1], NULL, 0);
    if (rv != 0) {
        fprintf(stderr, "it_ctl_pinger: cannot reach %s: %s\n", argv[1],
                nng_strerror(rv));
        return 111;
    }
    uint64_t *lat = malloc(MAX_PINGS * sizeof *lat);
    long *kids = malloc(MAX_PINGS * sizeof *kids);
    if (lat == NULL || kids == NULL)
        return 111;
    size_t n = 0;
    while (!stdin_closed() && n < MAX_PINGS) {
        uint64_t t0 = now_us();
        void *rep = NULL;
        size_t rlen = 0;
        if (nng_send(s, msg, len, 0) == 0 &&
            nng_recv(s, &rep, &rlen, NNG_FLAG_ALLOC) == 0) {
            nng_free(rep, rlen);
            lat[n] = now_us() - t0;
            kids[n] = children(argv[2]);
        } else {
            lat[n] = UINT64_MAX; /* failed */
            kids[n] = -1;
        }
        n++;
        usleep(1000);
    }
    for (size_t i = 0; i < n; i++) {
        if (lat[i] == UINT64_MAX)
            printf("FAILED\n");
        else
            printf("%llu %ld\n", (unsigned long long)lat[i], kids[i]);
    }
    free(lat);
    free(kids);
    nng_close(s);
    return 0;
}
