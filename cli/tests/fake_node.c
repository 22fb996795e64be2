/* SPDX-License-Identifier: Apache-2.0 */
/* fake_node.c: a stand-in for naos-node's control socket with canned
 * answers, so cli_e2e_test.sh can drive the real `naos` binary.
 *
 *   fake_node URL     serve until killed
 *
 * ping -> "pong"; status [research] -> a small tree, other names NOT_FOUND;
 * deploy -> EXISTS for "exists", INVALID when spec_validate fails, else a
 * message describing the spec; stop busy -> BUSY, stop boom -> INTERNAL,
 * stop mute -> an answer 1 s late; stop flaky -> UNKNOWN_OUTCOME twice,
 * then OK if the CLI retried with its first id (else INVALID); events -> two events, then none;
 * logs -> "line1\nline2\n" once, then nothing. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/spec/spec.h"
#include "proto/spec_pb.h"

static char msgbuf[512];

static void
status_reply(Naos__V1__Reply *rep, Naos__V1__Status *st)
{
    static Naos__V1__ExitReason le = NAOS__V1__EXIT_REASON__INIT;
    static Naos__V1__NodeStatus w = NAOS__V1__NODE_STATUS__INIT;
    static Naos__V1__NodeStatus *kids[] = {&w};
    static Naos__V1__NodeStatus root = NAOS__V1__NODE_STATUS__INIT;
    static Naos__V1__DeploymentStatus d = NAOS__V1__DEPLOYMENT_STATUS__INIT;
    static Naos__V1__DeploymentStatus *deps[] = {&d};
    le.reason = (char *)"exit:1";
    le.at_wall_ms = 1795255923123LL;
    w.id = (char *)"fetcher";
    w.path = (char *)"research/fetcher";
    w.state = (char *)"running";
    w.pid = 4242;
    w.restarts = 1;
    w.uptime_ms = 192000;
    w.last_exit = &le;
    w.restart_type = (char *)"permanent";
    root.id = (char *)"research";
    root.path = (char *)"research";
    root.is_supervisor = 1;
    root.state = (char *)"running";
    root.strategy = (char *)"one-for-one";
    root.max_restarts = 5;
    root.window_s = 300;
    root.restarts_in_window = 1;
    root.restart_type = (char *)"permanent";
    root.n_children = 1;
    root.children = kids;
    d.name = (char *)"research";
    d.state = (char *)"running";
    d.tree = &root;
    st->node = (char *)"fake";
    st->n_deployments = 1;
    st->deployments = deps;
    rep->rep_case = NAOS__V1__REPLY__REP_STATUS;
    rep->status = st;
}

static void
answer(const Naos__V1__Request *req, Naos__V1__Reply *rep, bool *mute)
{
    static Naos__V1__Status st = NAOS__V1__STATUS__INIT;
    static Naos__V1__Event ev[2] = {NAOS__V1__EVENT__INIT,
                                    NAOS__V1__EVENT__INIT};
    static Naos__V1__Event *evp[2] = {&ev[0], &ev[1]};
    static Naos__V1__EventsReply er = NAOS__V1__EVENTS_REPLY__INIT;
    static Naos__V1__LogsReply lr = NAOS__V1__LOGS_REPLY__INIT;
    static char logdata[] = "line1\nline2\n";

    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_PING:
        rep->rep_case = NAOS__V1__REPLY__REP_MESSAGE;
        rep->message = (char *)"pong";
        return;
    case NAOS__V1__REQUEST__REQ_STATUS:
        if (req->status->name[0] && strcmp(req->status->name, "research")) {
            rep->code = NAOS__V1__ERROR_CODE__NOT_FOUND;
            rep->error = (char *)"no deployment named that";
            return;
        }
        status_reply(rep, &st);
        return;
    case NAOS__V1__REQUEST__REQ_DEPLOY: {
        struct spec_node s;
        char err[256];
        if (spec_pb_to_spec(req->deploy->spec, &s, err, sizeof err) != 0 ||
            spec_validate(&s, err, sizeof err) != 0) {
            rep->code = NAOS__V1__ERROR_CODE__INVALID;
            snprintf(msgbuf, sizeof msgbuf, "%s", err);
            rep->error = msgbuf;
            return;
        }
        if (strcmp(s.id, "exists") == 0) {
            rep->code = NAOS__V1__ERROR_CODE__EXISTS;
            rep->error = (char *)"exists";
        } else {
            snprintf(msgbuf, sizeof msgbuf,
                     "deployed %s: %s x%u, %zu children, argv0 %s", s.id,
                     spec_strategy_name(s.strategy), s.replicas, s.nchildren,
                     s.nchildren ? s.children[0].argv[0] : "-");
            rep->rep_case = NAOS__V1__REPLY__REP_MESSAGE;
            rep->message = msgbuf;
        }
        spec_node_fini(&s);
        return;
    }
    case NAOS__V1__REQUEST__REQ_STOP:
    case NAOS__V1__REQUEST__REQ_START:
    case NAOS__V1__REQUEST__REQ_RESTART:
    case NAOS__V1__REQUEST__REQ_REMOVE: {
        const char *name = req->stop->name;
        if (strcmp(name, "busy") == 0) {
            rep->code = NAOS__V1__ERROR_CODE__BUSY;
            rep->error = (char *)"busy is stopping; try again";
        } else if (strcmp(name, "boom") == 0) {
            rep->code = NAOS__V1__ERROR_CODE__INTERNAL;
            rep->error = (char *)"store failed";
        } else if (strcmp(name, "flaky") == 0) {
            /* outcome unknown twice (a leader change), then the retry is
             * answered only if it carries the first attempt's id */
            static uint64_t first_id;
            static int calls;
            if (calls == 0)
                first_id = req->client_id;
            if (calls++ < 2) {
                rep->code = NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME;
                rep->error = (char *)"outcome unknown: leader changed";
            } else if (req->client_id != first_id || first_id == 0 ||
                       req->client_seq != 1) {
                rep->code = NAOS__V1__ERROR_CODE__INVALID;
                rep->error = (char *)"a retry with another id";
            } else {
                rep->rep_case = NAOS__V1__REPLY__REP_MESSAGE;
                rep->message = (char *)"flaky: carried out once";
            }
        } else if (strcmp(name, "mute") == 0) {
            *mute = true;
            rep->rep_case = NAOS__V1__REPLY__REP_MESSAGE;
            rep->message = (char *)"late";
        } else if (strcmp(name, "research") != 0) {
            rep->code = NAOS__V1__ERROR_CODE__NOT_FOUND;
            snprintf(msgbuf, sizeof msgbuf, "no deployment named %s", name);
            rep->error = msgbuf;
        } else {
            snprintf(msgbuf, sizeof msgbuf, "ok %d %s", (int)req->req_case,
                     name);
            rep->rep_case = NAOS__V1__REPLY__REP_MESSAGE;
            rep->message = msgbuf;
        }
        return;
    }
    case NAOS__V1__REQUEST__REQ_EVENTS:
        for (int i = 0; i < 2; i++) {
            ev[i].seq = (uint64_t)i + 1;
            ev[i].at_wall_ms = 1795255923123LL + i;
            ev[i].kind = (char *)(i ? "restart" : "exit");
            ev[i].deployment = (char *)"research";
            ev[i].path = (char *)"research/fetcher";
            ev[i].reason = (char *)"exit:1";
            ev[i].restarts = (uint32_t)i * 3;
        }
        er.events = evp;
        if (req->events->since < 2) {
            er.n_events = 2;
            er.next = 2;
            er.dropped = req->events->since == 0 ? 5 : 0;
        } else {
            er.n_events = 0;
            er.next = req->events->since;
            er.dropped = 0;
        }
        rep->rep_case = NAOS__V1__REPLY__REP_EVENTS;
        rep->events = &er;
        return;
    case NAOS__V1__REQUEST__REQ_LOGS:
        lr.path = (char *)"research/fetcher";
        if (req->logs->offset < 0) {
            lr.data.data = (uint8_t *)logdata;
            lr.data.len = strlen(logdata);
            lr.next_offset = (int64_t)strlen(logdata);
        } else {
            lr.data.data = NULL;
            lr.data.len = 0;
            lr.next_offset = req->logs->offset;
        }
        rep->rep_case = NAOS__V1__REPLY__REP_LOGS;
        rep->logs = &lr;
        return;
    default:
        rep->code = NAOS__V1__ERROR_CODE__INVALID;
        rep->error = (char *)"unknown request";
        return;
    }
}

int
main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fake_node URL\n");
        return 100;
    }
    nng_socket s;
    int rv;
    if ((rv = nng_rep0_open(&s)) != 0 || (rv = nng_listen(s, argv[1], NULL, 0)) != 0) {
        fprintf(stderr, "fake_node: %s\n", nng_strerror(rv));
        return 111;
    }
    for (;;) {
        void *buf;
        size_t len;
        if (nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0)
            continue;
        Naos__V1__Request *req =
            naos__v1__request__unpack(&spec_pb_allocator, len, buf);
        nng_free(buf, len);
        Naos__V1__Reply rep = NAOS__V1__REPLY__INIT;
        bool mute = false;
        if (req == NULL) {
            rep.code = NAOS__V1__ERROR_CODE__INVALID;
            rep.error = (char *)"undecodable";
        } else {
            answer(req, &rep, &mute);
            naos__v1__request__free_unpacked(req, &spec_pb_allocator);
        }
        if (mute) /* answer too late for a short --timeout */
            nng_msleep(1000);
        size_t n = naos__v1__reply__get_packed_size(&rep);
        uint8_t *out = malloc(n ? n : 1);
        naos__v1__reply__pack(&rep, out);
        nng_send(s, out, n, 0);
        free(out);
    }
}
