/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_events.c: `naos events [-f] [--since N]`: read the node's event log
 * from a cursor; with -f keep polling every CLI_POLL_MS. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "proto/status_json.h"

static const char events_help[] =
    "Usage: naos events [-f] [--since N] [--json]\n"
    "\n"
    "Print the node's supervision events (deploy, start, ready, exit,\n"
    "restart, give-up, escalate, stop, ...), oldest first, one per line:\n"
    "  2026-11-21T10:12:03.123Z  restart  research/fetcher  exit:1  "
    "restarts=3\n"
    "With --json, one JSON object per line.\n"
    "\n"
    "Options:\n"
    "  -f, --follow     keep waiting for new events (until Ctrl-C)\n"
    "  --since N        only events after sequence number N (default 0)\n"
    "\n" CLI_GLOBAL_HELP;

enum { O_SINCE = CLI_OPT_FIRST_LOCAL };

static bool
parse_u64(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

static int
print_event(const struct cli *c, const Naos__V1__Event *ev)
{
    if (!c->json) {
        output_event_line(stdout, ev);
        return 0;
    }
    json_t *j = status_json_event(ev);
    char *s = j ? json_dumps(j, JSON_COMPACT | STATUS_JSON_DUMP) : NULL;
    json_decref(j);
    if (s == NULL)
        return cli_fatal(CLI_EXIT_TEMP, "unable to render an event as JSON");
    puts(s);
    free(s);
    return 0;
}

int
cmd_events(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"since", required_argument, NULL, O_SINCE},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool follow = false;
    uint64_t since = 0;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hf", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "events", events_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (opt == 'f') {
            follow = true;
        } else if (!parse_u64(optarg, &since)) {
            return cli_usage("events",
                             "--since: \"%s\" is not a whole number >= 0",
                             optarg);
        }
    }
    if (optind < argc)
        return cli_usage("events", "unexpected argument \"%s\"",
                         argv[optind]);

    if (follow)
        cli_install_stop_signals();
    int ec = 0;
    while (!cli_stop_requested()) {
        Naos__V1__EventsRequest er = NAOS__V1__EVENTS_REQUEST__INIT;
        er.since = since;
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
        req.events = &er;
        Naos__V1__Reply *reply = NULL;
        ec = cli_call(c, &req, &reply);
        if (ec != 0)
            return ec;
        ec = cli_reply_exit(reply);
        if (ec == 0 && reply->rep_case != NAOS__V1__REPLY__REP_EVENTS)
            ec = cli_fatal(CLI_EXIT_TEMP,
                           "naos-node answered an events request without "
                           "events");
        if (ec != 0) {
            naos_client_reply_free(reply);
            return ec;
        }
        const Naos__V1__EventsReply *r = reply->events;
        if (r->dropped > 0)
            cli_warn("%llu events were dropped after %llu (the node keeps a "
                     "bounded history)",
                     (unsigned long long)r->dropped,
                     (unsigned long long)since);
        size_t n = r->events ? r->n_events : 0;
        uint64_t next = r->next;
        bool no_cursor = next == 0; /* then follow the seqs themselves */
        for (size_t i = 0; i < n && ec == 0; i++) {
            if (r->events[i] == NULL)
                continue;
            ec = print_event(c, r->events[i]);
            if (no_cursor && r->events[i]->seq > next)
                next = r->events[i]->seq;
        }
        naos_client_reply_free(reply);
        if (ec != 0)
            return ec;
        if (fflush(stdout) != 0)
            return cli_fatal(CLI_EXIT_TEMP, "unable to write to stdout");
        /* Take the node's cursor even when it went back: a restarted
         * node numbers from 1 again and answers an old cursor from its
         * start. */
        uint64_t prev = since;
        if (n > 0 || next > since)
            since = next;
        if (n > 0 && since != prev)
            continue; /* more may be waiting: ask again at once */
        if (!follow)
            break;
        cli_sleep_ms(CLI_POLL_MS);
    }
    return CLI_EXIT_OK;
}
