/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_drain.c: `naos drain NAME` and `naos undrain NAME`: a node's work
 * moves off it, each deployment stopped there before it starts on
 * another node, and it takes none until undrained (docs/architecture.md
 * "The root supervisor", Drain). */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "node/base/time.h"
#include "proto/status_json.h"

static const char drain_help[] =
    "Usage: naos drain NAME [--no-wait] [--within DUR]\n"
    "       naos undrain NAME\n"
    "\n"
    "naos drain marks the member NAME (its name or id, see `naos nodes`)\n"
    "drained, through the cluster's log: it takes no new deployment, each\n"
    "of its deployments stops there (as its shutdown settings say) and\n"
    "then starts on another node that its placement allows, told\n"
    "NAOS_RESTART_REASON=migrated (a move that counts against no limit).\n"
    "A deployment pinned to NAME (--on) or that no other node takes waits,\n"
    "stopped, until one does. The node stays drained, also across its\n"
    "restarts, until `naos undrain NAME`.\n"
    "naos drain waits until no deployment is placed on NAME any more,\n"
    "printing how many are left as that changes, at most --within (default\n"
    "5m); --no-wait returns once the drain is recorded.\n"
    "naos undrain NAME lets it take deployments again (those that moved\n"
    "stay where they are).\n"
    "Exit 0 when drained (or undrained); 111 when deployments are still\n"
    "placed on it after --within (see `naos status`); 100 for a name no\n"
    "member has. With --json: {\"node\", \"drained\", \"placed\", \"message\"}.\n"
    "\n" CLI_GLOBAL_HELP;

/* placed_on asks for the members and sets *placed to the deployments the
 * applied state places on NAME (name or id). Returns 0, or an exit code
 * (printed). */
static int
placed_on(struct cli *c, const char *name, uint32_t *placed)
{
    Naos__V1__NodesRequest nq = NAOS__V1__NODES_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_NODES;
    req.nodes = &nq;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;
    ec = cli_reply_exit(reply);
    if (ec == 0 && (reply->rep_case != NAOS__V1__REPLY__REP_NODES ||
                    reply->nodes == NULL))
        ec = cli_fatal(CLI_EXIT_TEMP, "naos-node answered without a member "
                                      "list (upgrade naos-node)");
    bool found = false;
    for (size_t i = 0; ec == 0 && i < reply->nodes->n_nodes; i++) {
        const Naos__V1__Member *m = reply->nodes->nodes[i];
        if ((m->name && strcmp(m->name, name) == 0) ||
            (m->id && strcmp(m->id, name) == 0)) {
            *placed = m->placed;
            found = true;
        }
    }
    if (ec == 0 && !found)
        ec = cli_fatal(CLI_EXIT_TEMP, "the node answering no longer lists "
                       "%s among the members: see `naos nodes`", name);
    if (reply != NULL)
        naos__v1__reply__free_unpacked(reply, NULL);
    return ec;
}

static void
print_result(const struct cli *c, const char *name, bool drained,
             uint32_t placed, const char *msg)
{
    if (!c->json) {
        printf("%s\n", msg);
        return;
    }
    json_t *j = json_pack("{s:s, s:b, s:I, s:s}", "node", name, "drained",
                          drained, "placed", (json_int_t)placed, "message",
                          msg);
    char *s = j ? json_dumps(j, STATUS_JSON_DUMP) : NULL;
    json_decref(j);
    if (s != NULL)
        puts(s);
    free(s);
}

/* wait_empty polls until nothing is placed on name, or within_ms. */
static int
wait_empty(struct cli *c, const char *name, int64_t within_ms)
{
    naos_time deadline = naos_clock_now() + (naos_time)within_ms;
    uint32_t last = UINT32_MAX, placed = 0;
    for (;;) {
        int ec = placed_on(c, name, &placed);
        if (ec != 0) {
            if (!c->json)
                fprintf(stderr, "naos: the drain of %s is recorded and goes "
                        "on; see `naos nodes`\n", name);
            return ec;
        }
        if (placed == 0)
            break;
        if (placed != last && !c->json)
            fprintf(stderr, "naos: %u deployment%s still placed on %s\n",
                    placed, placed == 1 ? "" : "s", name);
        last = placed;
        if (naos_clock_now() >= deadline || cli_stop_requested()) {
            char msg[256];
            snprintf(msg, sizeof msg, "%u deployment%s still placed on %s: "
                     "see `naos status` (one that no other node takes "
                     "waits; a stop may take its shutdown time)", placed,
                     placed == 1 ? " is" : "s are", name);
            return cli_fatal(CLI_EXIT_TEMP, "%s", msg);
        }
        cli_sleep_ms(200);
    }
    char msg[256];
    snprintf(msg, sizeof msg, "%s is drained: no deployment is placed on it "
             "(`naos undrain %s` ends it)", name, name);
    print_result(c, name, true, 0, msg);
    return 0;
}

static int
drain_cmd(struct cli *c, int argc, char **argv, bool undrain)
{
    const char *cmd = undrain ? "undrain" : "drain";
    enum { O_NO_WAIT = CLI_OPT_FIRST_LOCAL, O_WITHIN };
    static const struct option longopts[] = {
        {"no-wait", no_argument, NULL, O_NO_WAIT},
        {"within", required_argument, NULL, O_WITHIN},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool no_wait = false;
    naos_duration within = 5 * 60 * 1000;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, cmd, drain_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (undrain)
            return cli_usage(cmd, "%s takes no option of naos drain",
                             argv[optind - 1]);
        if (opt == O_NO_WAIT)
            no_wait = true;
        else if (!naos_duration_parse(optarg, &within) || within <= 0 ||
                 within > INT_MAX)
            return cli_usage(cmd, "--within: \"%s\" is not a duration like "
                             "90s or 5m", optarg);
    }
    if (optind + 1 != argc)
        return cli_usage(cmd, "give one NAME (a member's name or id, see "
                         "`naos nodes`)");
    const char *name = argv[optind];
    Naos__V1__DrainRequest dr = NAOS__V1__DRAIN_REQUEST__INIT;
    dr.name = (char *)name;
    dr.undrain = undrain;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_DRAIN;
    req.drain = &dr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;
    ec = cli_reply_exit(reply);
    if (ec == 0 && (undrain || no_wait))
        print_result(c, name, !undrain, 0,
                     reply->message ? reply->message : "");
    else if (ec == 0 && !c->json)
        fprintf(stderr, "naos: %s\n", reply->message ? reply->message : "");
    naos__v1__reply__free_unpacked(reply, NULL);
    if (ec != 0 || undrain || no_wait)
        return ec;
    return wait_empty(c, name, within);
}

int
cmd_drain(struct cli *c, int argc, char **argv)
{
    return drain_cmd(c, argc, argv, false);
}

int
cmd_undrain(struct cli *c, int argc, char **argv)
{
    return drain_cmd(c, argc, argv, true);
}
