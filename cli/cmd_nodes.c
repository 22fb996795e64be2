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
    "       naos nodes remove NAME [--json]\n"
    "\n"
    "Show every cluster member the node knows: id, name, gossip address,\n"
    "state (alive, suspect, dead, left), role in the replicated log (leader,\n"
    "voter, learner: receives the log but has no vote, or - for none),\n"
    "incarnation, time since it was last heard\n"
    "from, its labels (`naos-node start --label KEY=VALUE`, as its health\n"
    "says; - for none), and its health: agents running and restarting\n"
    "(workers in those states), failed (workers of failed deployments),\n"
    "deployments failed of all, and the load. The counts are those of\n"
    "`naos status` and /metrics on that node. A dead or left member's\n"
    "health is stale: the last it said, marked \"stale\" with how long ago\n"
    "it died or left. A node started without --listen lists itself. Below\n"
    "the table: this node's dashboard, or why it has none.\n"
    "A drained member (`naos drain`) says DRAINED and how many deployments\n"
    "are still placed on it.\n"
    "With --json, print {\"leader\", \"term\", \"nodes\": [...]} (the same\n"
    "document as GET /api/v1/nodes); each entry has \"drained\", \"placed\",\n"
    "\"labels\"\n"
    "({\"KEY\": \"VALUE\"}, {} for none), the local node's has\n"
    "\"dashboard\" (its URL or null) and \"dashboard_off\" (why it has\n"
    "none, or null).\n"
    "\n"
    "naos nodes remove NAME takes a dead member (NAME: its name or id) out\n"
    "of the cluster's configuration for good, through the leader: it no\n"
    "longer counts for a majority, and never votes again under its id\n"
    "(a node started afresh gets a new id). A member that is alive or\n"
    "suspect is refused: stop it first. Deployments placed on it stay\n"
    "placed there. Exit 0 once the change is applied on the node asked.\n"
    "\n" CLI_GLOBAL_HELP;

/* ago writes a duration in ms as people read it: "0.4s", "12s". */
static void
ago(char *buf, size_t len, int64_t ms)
{
    if (ms < 10000)
        snprintf(buf, len, "%.1fs", ms / 1000.0);
    else
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
}

/* labels_text writes m's labels as "k=v,k2=v2" ("-": none) into buf. */
static const char *
labels_text(const Naos__V1__Member *m, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n_labels && at < len; i++) {
        const Naos__V1__NodeLabel *l = m->labels[i];
        int w = snprintf(buf + at, len - at, "%s%s=%s", at ? "," : "",
                         l && l->key ? l->key : "",
                         l && l->value ? l->value : "");
        if (w < 0)
            break;
        at += (size_t)w;
    }
    if (buf[0] == '\0')
        snprintf(buf, len, "-");
    return buf;
}

static void
print_table(const Naos__V1__NodesReply *r)
{
    if (r->leader && r->leader[0])
        printf("leader: %s, term %llu\n\n", r->leader,
               (unsigned long long)r->term);
    char labels[600]; /* 512 bytes of KEY=VALUE and the commas */
    int lw = 6;       /* the LABELS column: as wide as the widest */
    for (size_t i = 0; i < r->n_nodes; i++) {
        int w = (int)strlen(labels_text(r->nodes[i], labels, sizeof labels));
        if (w > lw)
            lw = w;
    }
    printf("%-16s  %-14s  %-26s  %-7s  %-6s  %4s  %8s  %-*s  %s\n", "ID",
           "NAME", "ADDR", "STATE", "ROLE", "INC", "HEARD", lw, "LABELS",
           "HEALTH");
    size_t drained = 0;
    for (size_t i = 0; i < r->n_nodes; i++) {
        const Naos__V1__Member *m = r->nodes[i];
        char heard[32], health[320], stale[80] = "", trouble[48] = "";
        if (m->local)
            snprintf(heard, sizeof heard, "self");
        else if (m->last_heard_ms < 0)
            snprintf(heard, sizeof heard, "never");
        else
            ago(heard, sizeof heard, m->last_heard_ms);
        if (m->stale) {
            char a[32] = "?";
            if (m->stale_ms >= 0)
                ago(a, sizeof a, m->stale_ms);
            snprintf(stale, sizeof stale, "stale (%.16s %s ago): ",
                     m->state ? m->state : "gone", a);
        }
        if (m->health && m->health->agents_node_trouble)
            snprintf(trouble, sizeof trouble, ", %u held by node trouble",
                     m->health->agents_node_trouble);
        if (m->health)
            snprintf(health, sizeof health,
                     "%s%u running, %u restarting, %u failed%s; "
                     "%u/%u deployments failed; load %.2f",
                     stale, m->health->agents_running,
                     m->health->agents_restarting, m->health->agents_failed,
                     trouble, m->health->deployments_failed,
                     m->health->deployments, m->health->load);
        else
            snprintf(health, sizeof health, "%s-", stale);
        if (m->drained) {
            size_t at = strlen(health);
            snprintf(health + at, sizeof health - at, "; DRAINED, %u "
                     "placed", m->placed);
            drained++;
        }
        printf("%-16s  %-14s  %-26s  %-7s  %-6s  %4llu  %8s  %-*s  %s\n",
               m->id ? m->id : "", m->name ? m->name : "",
               m->addr && m->addr[0] ? m->addr : "-",
               m->state ? m->state : "?",
               m->role && m->role[0] ? m->role : "-",
               (unsigned long long)m->incarnation, heard, lw,
               labels_text(m, labels, sizeof labels), health);
    }
    if (drained)
        printf("\na drained node takes no deployment (`naos undrain NAME` "
               "ends it)\n");
    const Naos__V1__Member *me = r->n_nodes ? r->nodes[0] : NULL;
    if (me && me->local && me->dashboard && me->dashboard[0])
        printf("\ndashboard: %s\n", me->dashboard);
    else if (me && me->local && me->dashboard_off && me->dashboard_off[0])
        printf("\nno dashboard on this node: %s\n", me->dashboard_off);
}

/* nodes_remove: `naos nodes remove NAME`. */
static int
nodes_remove(struct cli *c, const char *name)
{
    Naos__V1__NodesRemoveRequest nr = NAOS__V1__NODES_REMOVE_REQUEST__INIT;
    nr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_NODES_REMOVE;
    req.nodes_remove = &nr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;
    ec = cli_reply_exit(reply);
    if (ec == 0) {
        const char *msg = reply->message ? reply->message : "";
        if (c->json) {
            json_t *j = json_pack("{s:s, s:s}", "removed", name, "message",
                                  msg);
            char *s = j ? json_dumps(j, STATUS_JSON_DUMP) : NULL;
            json_decref(j);
            if (s != NULL)
                puts(s);
            free(s);
        } else {
            printf("%s\n", msg);
        }
    }
    naos__v1__reply__free_unpacked(reply, NULL);
    return ec;
}

int
cmd_nodes(struct cli *c, int argc, char **argv)
{
    int prc = cli_parse_globals(c, "nodes", nodes_help, argc, argv);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind < argc && strcmp(argv[optind], "remove") == 0) {
        if (optind + 2 != argc)
            return cli_usage("nodes", "naos nodes remove takes one NAME "
                             "(see `naos nodes`)");
        return nodes_remove(c, argv[optind + 1]);
    }
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
        char *s = j ? json_dumps(j, JSON_INDENT(2) | STATUS_JSON_DUMP) : NULL;
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
