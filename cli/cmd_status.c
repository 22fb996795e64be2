/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_status.c: `naos status [NAME]`. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/output.h"
#include "proto/status_json.h"

static const char status_help[] =
    "Usage: naos status [NAME] [--local] [--json]\n"
    "\n"
    "Show every deployment (or only NAME) as a tree: each supervisor with\n"
    "its strategy and restart intensity (restarts in window / max), each\n"
    "worker with its pid, uptime, restarts, last exit and STATUS= text.\n"
    "In a cluster, every deployment of the cluster, whichever node is\n"
    "asked: each names the node it is placed on and its placement's epoch,\n"
    "with its tree as that node reports it (a node that does not answer\n"
    "within 2 s is shown unreachable); the first line names the leader.\n"
    "  --local    only the deployments that run on this node\n"
    "With --json, print the status document (stable key order) instead.\n"
    "\n" CLI_GLOBAL_HELP;

int
cmd_status(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"local", no_argument, NULL, 'l'},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool local = false;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "status", status_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        local = true; /* 'l' */
    }
    const char *name = NULL;
    if (optind < argc)
        name = argv[optind++];
    if (optind < argc)
        return cli_usage("status", "unexpected argument \"%s\"",
                         argv[optind]);

    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    if (name)
        sr.name = (char *)name;
    sr.local = local;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;

    const Naos__V1__Status *st =
        reply->rep_case == NAOS__V1__REPLY__REP_STATUS ? reply->status : NULL;
    if (name && (reply->code == NAOS__V1__ERROR_CODE__NOT_FOUND ||
                 (reply->code == NAOS__V1__ERROR_CODE__OK && st &&
                  st->n_deployments == 0))) {
        ec = cli_fatal(CLI_EXIT_USAGE,
                       "no deployment named %s (see `naos status`)", name);
        goto done;
    }
    ec = cli_reply_exit(reply);
    if (ec != 0)
        goto done;
    if (st == NULL) {
        ec = cli_fatal(CLI_EXIT_TEMP,
                       "naos-node answered a status request without status");
        goto done;
    }
    if (c->json) {
        json_t *j = status_json_status(st);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | STATUS_JSON_DUMP) : NULL;
        json_decref(j);
        if (s == NULL) {
            ec = cli_fatal(CLI_EXIT_TEMP, "unable to render the status as "
                                          "JSON");
            goto done;
        }
        puts(s);
        free(s);
    } else {
        output_status_tree(stdout, st, output_use_color());
    }
    if (fflush(stdout) != 0)
        ec = cli_fatal(CLI_EXIT_TEMP, "unable to write to stdout");

done:
    naos_client_reply_free(reply);
    return ec;
}
