/* SPDX-License-Identifier: Apache-2.0 */
/* naos.c: main of the `naos` CLI: global options, then the subcommand
 * table. Each subcommand parses its own options (and the global ones
 * again, so `naos status --json` works like `naos --json status`). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char main_help[] =
    "Usage: naos [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
    "\n"
    "Control naos-node, the supervisor of agent processes.\n"
    "\n"
    "Commands:\n"
    "  deploy NAME [OPTIONS] [-- CMD [ARGS...]]\n"
    "                        deploy one agent (a supervisor and its worker);\n"
    "                        without CMD, as naos.yaml defines NAME\n"
    "  apply -f FILE         deploy a tree from a YAML spec (- = stdin)\n"
    "  status [NAME]         show deployments as trees\n"
    "  stop NAME|PATH        stop a deployment (it stays defined; a stopped\n"
    "                        one is left as it is, exit 0), or one agent\n"
    "                        or subtree (lab/workers/crashy)\n"
    "  start NAME|PATH       start a stopped deployment, agent or subtree\n"
    "                        (a running one: exit 0)\n"
    "  restart NAME|PATH     stop and start it again\n"
    "  rm NAME               stop and remove a deployment\n"
    "  events [PATH] [-f] [--since N | --tail N]\n"
    "                        show numbered supervision events (-f: follow)\n"
    "  logs NAME [-f] [--tail N]\n"
    "                        show a worker's output (-f: follow)\n"
    "  checkpoint save|load [NAME]\n"
    "                        save or load an agent's checkpoint (< 1 MiB)\n"
    "  snapshot save FILE [--force]\n"
    "                        write a consistent backup of the cluster state\n"
    "                        (restore: naos-node recover --from FILE)\n"
    "  keygen FILE [--force] write a new cluster key file (mode 0600)\n"
    "  nodes                 show the cluster members and their health;\n"
    "                        nodes remove NAME: a dead member out for good\n"
    "  drain NAME            move every deployment off a node, each stopped\n"
    "                        there first; it takes none until undrain NAME\n"
    "  undrain NAME          let a drained node take deployments again\n"
    "  ping                  check that naos-node answers\n"
    "  help [COMMAND]        show this help, or a command's\n"
    "\n" CLI_GLOBAL_HELP
    "  --version        print the version\n"
    "\n"
    "Exit codes (s6's convention; the same for naos-node):\n"
    "  0    ok; also a stop of a stopped or a start of a running deployment\n"
    "  1    an expected negative answer: the node is busy with that\n"
    "       deployment (try again when it is), no checkpoint saved yet\n"
    "  100  permanent: bad usage, invalid spec, no such deployment or\n"
    "       file, refused; the same command will fail the same way\n"
    "  111  temporary: node unreachable, no leader, timeout, out of\n"
    "       memory or descriptors, I/O error; retrying may work\n"
    "  112  outcome unknown: a command (deploy, apply, stop, start,\n"
    "       restart, rm, checkpoint save) may or may not have been carried\n"
    "       out; naos retried it with the same id until --timeout (a\n"
    "       retry is never carried out twice): check `naos status`\n"
    "With --json, errors are JSON too, one object per line on stderr:\n"
    "  {\"error\": \"...\", \"code\": 100, \"status\": \"not-found\"}\n"
    "(\"status\" when the node answered: invalid, not-found, exists, busy,\n"
    "denied, internal, unknown-outcome, unavailable). Run\n"
    "`naos COMMAND --help` for a command's options.\n";

struct subcmd {
    const char *name;
    int (*fn)(struct cli *c, int argc, char **argv);
};

static const struct subcmd subcmds[] = {
    {"deploy", cmd_deploy},   {"apply", cmd_apply},   {"status", cmd_status},
    {"stop", cmd_stop},       {"start", cmd_start},   {"restart", cmd_restart},
    {"rm", cmd_rm},           {"events", cmd_events}, {"logs", cmd_logs},
    {"ping", cmd_ping},       {"checkpoint", cmd_checkpoint},
    {"keygen", cmd_keygen},   {"nodes", cmd_nodes},
    {"drain", cmd_drain},     {"undrain", cmd_undrain},
    {"snapshot", cmd_snapshot},
    {NULL, NULL},
};

static const struct subcmd *
find(const char *name)
{
    for (const struct subcmd *s = subcmds; s->name; s++)
        if (strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_GLOBAL_LONGOPTS,
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    struct cli c = CLI_ZERO;
    /* Before any parsing: an error in an option given before --json is
     * reported as JSON too. */
    cli_set_json_errors(cli_argv_wants_json(argc, argv));
    opterr = 0;
    int opt;
    /* '+': stop at the subcommand's name */
    while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        if (opt == CLI_OPT_VERSION) {
            printf("naos %s\n", NAOS_VERSION);
            return CLI_EXIT_OK;
        }
        int rc = cli_opt_common(&c, NULL, main_help, opt, argv);
        if (rc == CLI_OPT_LOCAL)
            return cli_usage(NULL, "unexpected option");
        if (rc != CLI_OPT_NEXT)
            return rc;
    }
    if (optind >= argc)
        return cli_usage(NULL, "missing COMMAND");

    char **sub = argv + optind;
    int subc = argc - optind;
    if (strcmp(sub[0], "help") == 0) {
        if (subc < 2 || strcmp(sub[1], "--help") == 0 ||
            strcmp(sub[1], "-h") == 0 || strcmp(sub[1], "help") == 0) {
            fputs(main_help, stdout);
            return CLI_EXIT_OK;
        }
        const struct subcmd *s = find(sub[1]);
        if (s == NULL)
            return cli_usage(NULL, "unknown command \"%s\"", sub[1]);
        char *hargv[] = {sub[1], "--help", NULL};
        return s->fn(&c, 2, hargv);
    }
    const struct subcmd *s = find(sub[0]);
    if (s == NULL)
        return cli_usage(NULL, "unknown command \"%s\"", sub[0]);
    return s->fn(&c, subc, sub);
}
