/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_events.c: `naos events [PATH] [-f] [--since N] [--tail N]`: read the
 * node's event log from a cursor; with -f keep polling every CLI_POLL_MS. */
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
    "Usage: naos events [PATH] [-f] [--since N | --tail N] [--json]\n"
    "\n"
    "Print the node's supervision events (deploy, start, ready, exit,\n"
    "restart, give-up, escalate, stop, kill, ...), oldest first, one per\n"
    "line, each with its number:\n"
    "  253  2026-11-21T10:12:03.123Z  restart  research/fetcher  exit:1  "
    "restarts=3\n"
    "With --json, one JSON object per line (\"seq\" is the number).\n"
    "\n"
    "Numbers only grow, also across restarts of the node: the node keeps\n"
    "its last 10,000 events in its store. Pass the last number you saw to\n"
    "--since to get only what came after it; a number past the last event\n"
    "prints nothing (and with -f waits from there).\n"
    "\n"
    "Arguments:\n"
    "  PATH             only events of this deployment, or of this path\n"
    "                   and below (research, research/tools)\n"
    "Options:\n"
    "  -f, --follow     keep waiting for new events (until Ctrl-C)\n"
    "  --since N        only events after number N (default 0: all kept)\n"
    "  -n, --tail N     start with the last N events (of PATH)\n"
    "\n" CLI_GLOBAL_HELP;

enum { O_SINCE = CLI_OPT_FIRST_LOCAL, O_TAIL };

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
        {"tail", required_argument, NULL, 'n'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool follow = false, has_since = false;
    uint64_t since = 0, tail = 0;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hfn:", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "events", events_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (opt == 'f') {
            follow = true;
        } else if (opt == 'n') {
            if (!parse_u64(optarg, &tail) || tail < 1 || tail > 10000)
                return cli_usage("events",
                                 "--tail: \"%s\" is not a number from 1 to "
                                 "10000",
                                 optarg);
        } else if (!parse_u64(optarg, &since)) {
            return cli_usage("events",
                             "--since: \"%s\" is not a whole number >= 0",
                             optarg);
        } else {
            has_since = true;
        }
    }
    const char *path = NULL;
    if (optind < argc)
        path = argv[optind++];
    if (optind < argc)
        return cli_usage("events", "unexpected argument \"%s\"",
                         argv[optind]);
    if (path && (path[0] == '\0' || strlen(path) > 4096))
        return cli_usage("events", "PATH must be 1 to 4096 bytes");
    if (has_since && tail)
        return cli_usage("events", "give --since or --tail, not both");

    if (follow)
        cli_install_stop_signals();
    int ec = 0;
    while (!cli_stop_requested()) {
        Naos__V1__EventsRequest er = NAOS__V1__EVENTS_REQUEST__INIT;
        er.since = since;
        er.tail = (uint32_t)tail;
        er.path = path ? (char *)path : (char *)"";
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
            cli_warn("%llu events were dropped after %llu (the node keeps "
                     "its last 10,000)",
                     (unsigned long long)r->dropped,
                     (unsigned long long)since);
        size_t n = r->events ? r->n_events : 0;
        uint64_t next = r->next;
        for (size_t i = 0; i < n && ec == 0; i++)
            if (r->events[i] != NULL)
                ec = print_event(c, r->events[i]);
        naos_client_reply_free(reply);
        if (ec != 0)
            return ec;
        if (fflush(stdout) != 0)
            return cli_fatal(CLI_EXIT_TEMP, "unable to write to stdout");
        tail = 0; /* the tail was where to start; go on from the cursor */
        /* The node's numbers never go back, so neither does the cursor. */
        bool moved = next > since;
        if (moved)
            since = next;
        if (moved)
            continue; /* more may be waiting: ask again at once */
        if (!follow)
            break;
        cli_sleep_ms(CLI_POLL_MS);
    }
    return CLI_EXIT_OK;
}
