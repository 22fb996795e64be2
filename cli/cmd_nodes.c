/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_nodes.c: `naos nodes`: cluster membership as the node sees it. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "proto/status_json.h"

static const char nodes_help[] =
    "Usage: naos nodes [--json]\n"
    "\n"
    "Show every cluster member the node knows: id, name, gossip address,\n"
    "state (alive, suspect, dead, left), incarnation, time since it was\n"
    "last heard from, and its health (agents running/restarting/failed,\n"
    "deployments, load). A node started without --listen lists itself.\n"
    "With --json, print {\"nodes\": [...]} (the same document as GET\n"
    "/api/v1/nodes).\n"
    "\n" CLI_GLOBAL_HELP;

static void
print_table(const Naos__V1__NodesReply *r)
{
    printf("%-16s  %-14s  %-26s  %-7s  %4s  %8s  %s\n", "ID", "NAME", "ADDR",
           "STATE", "INC", "HEARD", "HEALTH");
    for (size_t i = 0; i < r->n_nodes; i++) {
        const Naos__V1__Member *m = r->nodes[i];
        char heard[32], health[128], trouble[48] = "";
        if (m->local)
            snprintf(heard, sizeof heard, "self");
        else if (m->last_heard_ms < 0)
            snprintf(heard, sizeof heard, "never");
        else if (m->last_heard_ms < 10000)
            snprintf(heard, sizeof heard, "%.1fs", m->last_heard_ms / 1000.0);
        else
            snprintf(heard, sizeof heard, "%llds",
                     (long long)(m->last_heard_ms / 1000));
        if (m->health && m->health->agents_node_trouble)
            snprintf(trouble, sizeof trouble, ", %u held by node trouble",
                     m->health->agents_node_trouble);
        if (m->health)
            snprintf(health, sizeof health,
                     "%u running, %u restarting, %u failed%s, %u deps, "
                     "load %.2f",
                     m->health->agents_running, m->health->agents_restarting,
                     m->health->agents_failed, trouble,
                     m->health->deployments, m->health->load);
        else
            snprintf(health, sizeof health, "-");
        printf("%-16s  %-14s  %-26s  %-7s  %4llu  %8s  %s\n",
               m->id ? m->id : "", m->name ? m->name : "",
               m->addr && m->addr[0] ? m->addr : "-",
               m->state ? m->state : "?", (unsigned long long)m->incarnation,
               heard, health);
    }
}

int
cmd_nodes(struct cli *c, int argc, char **argv)
{
    int prc = cli_parse_globals(c, "nodes", nodes_help, argc, argv);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind < argc)
        return cli_usage("nodes", "unexpected argument \"%s\"", argv[optind]);

    Naos__V1__NodesRequest nq = NAOS__V1__NODES_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_NODES;
    req.nodes = &nq;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;
    ec = cli_reply_exit(reply);
    if (ec != 0)
        goto done;
    if (reply->rep_case != NAOS__V1__REPLY__REP_NODES || !reply->nodes) {
        ec = cli_fatal(CLI_EXIT_TEMP, "naos-node answered without a member "
                                      "list (upgrade naos-node)");
        goto done;
    }
    if (c->json) {
        json_t *j = status_json_nodes(reply->nodes);
        char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        if (s == NULL) {
            ec = cli_fatal(CLI_EXIT_TEMP, "unable to render the members as "
                                          "JSON");
            goto done;
        }
        puts(s);
        free(s);
    } else {
        print_table(reply->nodes);
    }
    if (fflush(stdout) != 0)
        ec = cli_fatal(CLI_EXIT_TEMP, "unable to write to stdout");

done:
    naos_client_reply_free(reply);
    return ec;
}
