/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_ctl.c: the one-name operator commands (stop, start, restart, rm)
 * and ping. Each sends one request and prints the node's one-line answer. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"

struct ctl_cmd {
    const char *name;
    Naos__V1__Request__ReqCase req_case;
    const char *help;
    const char *done; /* fallback confirmation, %s = NAME */
};

static const struct ctl_cmd ctl_stop = {
    "stop", NAOS__V1__REQUEST__REQ_STOP,
    "Usage: naos stop NAME|PATH\n"
    "\n"
    "Stop deployment NAME: its children are stopped in reverse start order\n"
    "(SIGTERM, then SIGKILL after each worker's shutdown time; such a\n"
    "worker's last exit reads `killed after 5s grace`). The deployment\n"
    "stays defined; `naos start NAME` runs it again. Says `stopping NAME`\n"
    "while workers are still within their grace, `stopped NAME` once all\n"
    "have exited. Stopping a stopped (or failed) deployment changes nothing\n"
    "and exits 0, as `systemctl stop` does; one already stopping too.\n"
    "\n"
    "With a PATH as `naos status` shows it (lab/workers/crashy), stop that\n"
    "agent or subtree only, as Erlang/OTP's terminate_child: its supervisor\n"
    "stops it and does not restart it, even when a sibling's crash\n"
    "restarts the others (one-for-all, rest-for-one), until `naos start\n"
    "PATH`, a restart of it or of a supervisor (or the deployment) above\n"
    "it, or a start of one of those that is stopped (a start of a running\n"
    "one changes nothing). Not counted in the supervisor's max_restarts.\n"
    "Not kept across a node restart.\n"
    "\n" CLI_GLOBAL_HELP,
    "stopped %s"};

static const struct ctl_cmd ctl_start = {
    "start", NAOS__V1__REQUEST__REQ_START,
    "Usage: naos start NAME|PATH\n"
    "\n"
    "Start deployment NAME again after `naos stop` or after it failed\n"
    "(gave up on its restart intensity). Starting a running deployment\n"
    "changes nothing and exits 0; one still stopping is busy (exit 1).\n"
    "\n"
    "With a PATH (lab/workers/crashy), its supervisor starts that agent or\n"
    "subtree (everything under it) as Erlang/OTP's restart_child: not\n"
    "counted in the supervisor's max_restarts (a crash after it is), and\n"
    "a start that fails is reported (exit 100) and not retried. While the\n"
    "supervisor is in a restart, the start waits for it to finish.\n"
    "\n" CLI_GLOBAL_HELP,
    "started %s"};

static const struct ctl_cmd ctl_restart = {
    "restart", NAOS__V1__REQUEST__REQ_RESTART,
    "Usage: naos restart NAME|PATH\n"
    "\n"
    "Stop deployment NAME and start it again. With a PATH\n"
    "(lab/workers/crashy): stop that agent or subtree, then start it, as\n"
    "`naos stop PATH` and `naos start PATH`; its siblings are left alone\n"
    "whatever the strategy, and nothing counts in max_restarts.\n"
    "\n" CLI_GLOBAL_HELP,
    "restarted %s"};

static const struct ctl_cmd ctl_rm = {
    "rm", NAOS__V1__REQUEST__REQ_REMOVE,
    "Usage: naos rm NAME\n"
    "\n"
    "Stop deployment NAME and forget it.\n"
    "\n" CLI_GLOBAL_HELP,
    "removed %s"};

static int
run_ctl(const struct ctl_cmd *k, struct cli *c, int argc, char **argv)
{
    int prc = cli_parse_globals(c, k->name, k->help, argc, argv);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind >= argc)
        return cli_usage(k->name, "missing NAME");
    const char *name = argv[optind++];
    if (optind < argc)
        return cli_usage(k->name, "unexpected argument \"%s\"",
                         argv[optind]);
    if (name[0] == '\0')
        return cli_usage(k->name, "NAME must not be empty");

    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = k->req_case;
    /* stop/start/restart/remove share one union slot type */
    req.stop = &nr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_command(c, &req, &reply);
    if (ec != 0)
        return ec;
    ec = cli_reply_exit(reply);
    if (ec == 0) {
        char fallback[128];
        snprintf(fallback, sizeof fallback, k->done, name);
        cli_print_message(c, reply, fallback);
    }
    naos_client_reply_free(reply);
    return ec;
}

int
cmd_stop(struct cli *c, int argc, char **argv)
{
    return run_ctl(&ctl_stop, c, argc, argv);
}

int
cmd_start(struct cli *c, int argc, char **argv)
{
    return run_ctl(&ctl_start, c, argc, argv);
}

int
cmd_restart(struct cli *c, int argc, char **argv)
{
    return run_ctl(&ctl_restart, c, argc, argv);
}

int
cmd_rm(struct cli *c, int argc, char **argv)
{
    return run_ctl(&ctl_rm, c, argc, argv);
}

static const char ping_help[] =
    "Usage: naos ping\n"
    "\n"
    "Check that naos-node answers on its control socket. Exit 0 if it\n"
    "does, 111 if not, 100 if it refuses this caller (the operator on an\n"
    "agent endpoint).\n"
    "\n" CLI_GLOBAL_HELP;

int
cmd_ping(struct cli *c, int argc, char **argv)
{
    int prc = cli_parse_globals(c, "ping", ping_help, argc, argv);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind < argc)
        return cli_usage("ping", "unexpected argument \"%s\"", argv[optind]);

    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_PING;
    req.ping = &nr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_call(c, &req, &reply);
    if (ec != 0)
        return ec;
    if (reply->code == NAOS__V1__ERROR_CODE__DENIED) {
        ec = cli_reply_exit(reply);
    } else if (reply->code != NAOS__V1__ERROR_CODE__OK) {
        const char *t = reply->error && reply->error[0] ? reply->error
                                                         : "error";
        ec = cli_fatal(CLI_EXIT_TEMP, "naos-node at %s answered: %s", c->url,
                       t);
    } else {
        char fallback[sizeof c->url + 32];
        snprintf(fallback, sizeof fallback, "naos-node at %s answers",
                 c->url);
        cli_print_message(c, reply, fallback);
    }
    naos_client_reply_free(reply);
    return ec;
}
