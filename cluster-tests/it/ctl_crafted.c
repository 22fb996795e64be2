/* SPDX-License-Identifier: Apache-2.0 */
/* ctl_crafted: control requests the naos CLI never sends, for the
 * integration tests (test_spec_limits.py): what a hostile or buggy client
 * could put on the node's control socket.
 *
 *   it_ctl_crafted URL rm NAME            remove NAME, where the first X
 *                                         of NAME becomes a NUL byte on
 *                                         the wire ("okXjunk": "ok\0junk")
 *   it_ctl_crafted URL deploy NAME MAX_RESTARTS WINDOW_S
 *                                         a one-worker deployment (sleep
 *                                         1000) with these limits, which
 *                                         the CLI would refuse itself
 *   it_ctl_crafted URL events SINCE TAIL PATH
 *                                         an events request, to read the
 *                                         reply's cursor, which the CLI
 *                                         keeps to itself (test_ops.py)
 *
 * Prints "code C" and, when the node answered with an error, "error
 * TEXT"; for events also "next N" and one "seq S" per event. Exits 0 once
 * an answer came, 111 otherwise. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/naos.pb-c.h"

int
main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: it_ctl_crafted URL rm NAME | URL deploy NAME "
                        "MAX_RESTARTS WINDOW_S | URL events SINCE TAIL "
                        "PATH\n");
        return 100;
    }
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__DeployRequest dr = NAOS__V1__DEPLOY_REQUEST__INIT;
    Naos__V1__EventsRequest evr = NAOS__V1__EVENTS_REQUEST__INIT;
    Naos__V1__NodeSpec top = NAOS__V1__NODE_SPEC__INIT,
                       w = NAOS__V1__NODE_SPEC__INIT;
    Naos__V1__NodeSpec *kids[] = {&w};
    char *wargv[] = {"sleep", "1000"};
    const char *x = NULL;
    if (strcmp(argv[2], "rm") == 0) {
        nr.name = argv[3];
        req.req_case = NAOS__V1__REQUEST__REQ_REMOVE;
        req.remove = &nr;
        x = strchr(argv[3], 'X');
    } else if (strcmp(argv[2], "deploy") == 0 && argc == 6) {
        top.id = argv[3];
        top.is_supervisor = 1;
        top.shutdown_ms = -2;
        top.max_restarts = (uint32_t)strtoul(argv[4], NULL, 10);
        top.window_s = (uint32_t)strtoul(argv[5], NULL, 10);
        top.children = kids;
        top.n_children = 1;
        w.id = argv[3];
        w.argv = wargv;
        w.n_argv = 2;
        w.shutdown_ms = 5000;
        w.start_timeout_ms = 30000;
        dr.spec = &top;
        req.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
        req.deploy = &dr;
    } else if (strcmp(argv[2], "events") == 0 && argc == 6) {
        evr.since = strtoull(argv[3], NULL, 10);
        evr.tail = (uint32_t)strtoul(argv[4], NULL, 10);
        evr.path = argv[5];
        req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
        req.events = &evr;
    } else {
        fprintf(stderr, "it_ctl_crafted: unknown request %s\n", argv[2]);
        return 100;
    }
    size_t len = naos__v1__request__get_packed_size(&req);
    uint8_t *buf = malloc(len);
    if (buf == NULL)
        return 111;
    naos__v1__request__pack(&req, buf);
    if (x != NULL) {
        /* The name is on the wire as is: cut it where the X is. */
        uint8_t *at = memmem(buf, len, argv[3], strlen(argv[3]));
        if (at == NULL)
            return 111;
        at[x - argv[3]] = '\0';
    }
    nng_socket s;
    void *rbuf = NULL;
    size_t rlen = 0;
    if (nng_req0_open(&s) != 0)
        return 111;
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 30000);
    if (nng_dial(s, argv[1], NULL, 0) != 0 || nng_send(s, buf, len, 0) != 0 ||
        nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC) != 0) {
        fprintf(stderr, "it_ctl_crafted: no answer from %s\n", argv[1]);
        return 111;
    }
    Naos__V1__Reply *rep = naos__v1__reply__unpack(NULL, rlen, rbuf);
    if (rep == NULL)
        return 111;
    printf("code %d\n", (int)rep->code);
    if (rep->error && rep->error[0])
        printf("error %s\n", rep->error);
    if (rep->rep_case == NAOS__V1__REPLY__REP_EVENTS) {
        printf("next %llu\n", (unsigned long long)rep->events->next);
        for (size_t i = 0; i < rep->events->n_events; i++)
            printf("seq %llu\n",
                   (unsigned long long)rep->events->events[i]->seq);
    }
    naos__v1__reply__free_unpacked(rep, NULL);
    nng_free(rbuf, rlen);
    nng_close(s);
    free(buf);
    return 0;
}
