/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_logs.c: `naos logs NAME [-f] [--tail N]`: copy a worker's captured
 * output to stdout, raw; with -f keep polling every CLI_POLL_MS. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"

#define LOGS_DEFAULT_TAIL 50

static const char logs_help[] =
    "Usage: naos logs NAME [-f | --previous] [--tail N]\n"
    "\n"
    "Print the captured output (stdout and stderr) of worker NAME: a path\n"
    "such as research/tools/scraper, or a deployment with a single worker.\n"
    "The bytes are copied as they are. In a cluster, the node that runs it\n"
    "is asked, from any node.\n"
    "\n"
    "Options:\n"
    "  -f, --follow     keep printing new output (until Ctrl-C); follows\n"
    "                   the log across rotation\n"
    "  -n, --tail N     start N lines from the end (default 50)\n"
    "  --previous       the output of its last run on the node it last\n"
    "                   moved from (`naos status` shows its moves), kept\n"
    "                   there while that node lives and until the next run\n"
    "                   leaves it or the deployment is removed\n"
    "\n" CLI_GLOBAL_HELP;

int
cmd_logs(struct cli *c, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"tail", required_argument, NULL, 'n'},
        {"previous", no_argument, NULL, CLI_OPT_FIRST_LOCAL},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    bool follow = false, previous = false;
    uint32_t tail = LOGS_DEFAULT_TAIL;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hfn:", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "logs", logs_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (opt == 'f') {
            follow = true;
            continue;
        }
        if (opt == CLI_OPT_FIRST_LOCAL) {
            previous = true;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long v =
            optarg[0] >= '0' && optarg[0] <= '9' ? strtoull(optarg, &end, 10)
                                                 : (end = optarg, 0);
        if (errno != 0 || end == optarg || *end != '\0' || v > UINT32_MAX)
            return cli_usage("logs",
                             "--tail: \"%s\" is not a whole number >= 0",
                             optarg);
        tail = (uint32_t)v;
    }
    if (optind >= argc)
        return cli_usage("logs", "missing NAME");
    const char *name = argv[optind++];
    if (optind < argc)
        return cli_usage("logs", "unexpected argument \"%s\"", argv[optind]);
    if (name[0] == '\0')
        return cli_usage("logs", "NAME must not be empty");
    if (follow && previous)
        return cli_usage("logs", "--previous shows a run that ended: it "
                         "cannot be followed (-f)");

    if (follow)
        cli_install_stop_signals();
    int64_t offset = -1;
    bool was_rotated = false;
    while (!cli_stop_requested()) {
        Naos__V1__LogsRequest lr = NAOS__V1__LOGS_REQUEST__INIT;
        lr.name = (char *)name;
        lr.offset = offset;
        lr.tail_lines = offset < 0 ? tail : 0;
        lr.previous = previous;
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_LOGS;
        req.logs = &lr;
        Naos__V1__Reply *reply = NULL;
        int ec = cli_call(c, &req, &reply);
        if (ec != 0)
            return ec;
        ec = cli_reply_exit(reply);
        if (ec == 0 && reply->rep_case != NAOS__V1__REPLY__REP_LOGS)
            ec = cli_fatal(CLI_EXIT_TEMP,
                           "naos-node answered a logs request without logs");
        if (ec != 0) {
            naos_client_reply_free(reply);
            return ec;
        }
        const Naos__V1__LogsReply *r = reply->logs;
        size_t n = r->data.data ? r->data.len : 0;
        if (n > 0 && fwrite(r->data.data, 1, n, stdout) != n) {
            naos_client_reply_free(reply);
            return cli_fatal(CLI_EXIT_TEMP, "unable to write to stdout");
        }
        fflush(stdout);
        int64_t next = r->next_offset;
        bool rotated = r->rotated != 0;
        naos_client_reply_free(reply);

        if (rotated && !was_rotated) {
            /* the file was replaced: its new content starts at 0 */
            offset = 0;
            was_rotated = true;
            continue;
        }
        was_rotated = false;
        bool advanced = next > offset;
        if (next >= 0)
            offset = next;
        if (n > 0 && advanced)
            continue; /* there may be more right away */
        if (!follow)
            break;
        cli_sleep_ms(CLI_POLL_MS);
    }
    return CLI_EXIT_OK;
}
