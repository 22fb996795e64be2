/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h: shared state and helpers of the `naos` command-line client.
 *
 * Every subcommand is `int cmd_X(struct cli *c, int argc, char **argv)`
 * with argv[0] the subcommand's name; it returns the process exit code:
 *   0   ok
 *   1   negative answer (the node is busy)
 *   100 usage error or permanent failure (bad spec, no such deployment)
 *   111 temporary or system failure (node not reachable, timeout)
 * Messages go to stderr as "naos: fatal: ...". */
#ifndef NAOS_CLI_CLI_H
#define NAOS_CLI_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "proto/naos.pb-c.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_NO 1
#define CLI_EXIT_USAGE 100
#define CLI_EXIT_TEMP 111
/* A command whose outcome stays unknown: it may or may not have been
 * carried out (the leader changed, or the node stopped answering, after
 * it was sent), and the retries with its id ran out of --timeout. */
#define CLI_EXIT_UNKNOWN 112
/* A command is retried for --timeout, and never longer than this: the
 * cluster remembers the last 65,536 client commands (store/clients.h). */
#define CLI_RETRY_MAX_MS 120000

#define CLI_DEFAULT_TIMEOUT_MS 10000
#define CLI_POLL_MS 200

/* struct cli: the global options, set before and after the subcommand. */
struct cli {
    const char *run_dir;  /* --run (borrowed from argv), or NULL */
    const char *node_url; /* --node (borrowed from argv), or NULL */
    bool json;            /* --json */
    int timeout_ms;       /* --timeout */
    char url[PATH_MAX + 32]; /* resolved by cli_resolve_url */
};
#define CLI_ZERO {NULL, NULL, false, CLI_DEFAULT_TIMEOUT_MS, {0}}

/* Long-option codes of the global options, accepted by every subcommand. */
enum {
    CLI_OPT_RUN = 1000,
    CLI_OPT_NODE,
    CLI_OPT_JSON,
    CLI_OPT_TIMEOUT,
    CLI_OPT_VERSION,
    CLI_OPT_FIRST_LOCAL = 1100, /* subcommands number theirs from here */
};
#define CLI_GLOBAL_LONGOPTS                                                  \
    {"run", required_argument, NULL, CLI_OPT_RUN},                           \
        {"node", required_argument, NULL, CLI_OPT_NODE},                     \
        {"json", no_argument, NULL, CLI_OPT_JSON},                           \
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},               \
        {"help", no_argument, NULL, 'h'}

/* The global options as shown in every subcommand's --help. */
#define CLI_GLOBAL_HELP                                                      \
    "Global options:\n"                                                      \
    "  --run DIR        run directory of naos-node (default: $NAOS_RUN_DIR,\n" \
    "                   else $XDG_RUNTIME_DIR/naos, else /run/naos for\n"    \
    "                   root, else /tmp/naos-$UID);\n"                      \
    "                   the control socket is DIR/ctl.sock\n"                  \
    "  --node URL       NNG URL of the control socket (overrides --run)\n"    \
    "  --json           machine-readable output\n"                            \
    "  --timeout DUR    how long to wait for the node (default 10s)\n"        \
    "  -h, --help       show this help\n"

/* cli_global_opt handles opt (a getopt_long result) if it is a global
 * option, with arg (borrowed; must outlive c). Returns 1 if handled, 0 if
 * opt is not global, -1 on a bad value (message in err, caller buffer +
 * length). */
int cli_global_opt(struct cli *c, int opt, const char *arg, char *err,
                   size_t errlen);

/* cli_opt_common handles what every subcommand's getopt_long loop shares:
 * 'h' (prints help to stdout), '?' and ':' (usage error for cmd), and the
 * global options. Returns CLI_OPT_NEXT when opt was handled and parsing
 * goes on, CLI_OPT_LOCAL when opt is the subcommand's own, or an exit code
 * (>= 0) to return at once (0 after --help). */
#define CLI_OPT_NEXT (-1)
#define CLI_OPT_LOCAL (-2)
int cli_opt_common(struct cli *c, const char *cmd, const char *help, int opt,
                   char **argv);

/* cli_parse_globals parses argv for a subcommand that has no options of
 * its own (only the global ones and -h). Returns CLI_OPT_NEXT when parsing
 * succeeded (optind is then the first operand), or an exit code to return
 * at once (0 after --help, 100 on an unknown option). */
int cli_parse_globals(struct cli *c, const char *cmd, const char *help,
                      int argc, char **argv);
/* cli_parse_globals_force: the same for a subcommand whose only option is
 * --force (set in *force). */
int cli_parse_globals_force(struct cli *c, const char *cmd, const char *help,
                            int argc, char **argv, bool *force);

/* cli_print_message prints the one-line confirmation of a reply (or
 * fallback when it has none) to stdout, as {"message": ...} with --json. */
void cli_print_message(const struct cli *c, const Naos__V1__Reply *r,
                       const char *fallback);

/* cli_print_clean writes s to f with control characters (terminal escapes
 * from a worker's STATUS= or exit detail) replaced by '?'. */
void cli_print_clean(FILE *f, const char *s);

/* cli_bad_option writes the message for a getopt_long '?' or ':' result
 * into err: "unknown option --foo" or "option --cwd needs a value". argv
 * is the vector getopt scanned. */
void cli_bad_option(int opt, char **argv, char *err, size_t errlen);

/* Errors and warnings. Each is one line on stderr: "naos: fatal: MSG"
 * (cli_usage, cli_fatal), "naos: MSG" (cli_report with fatal false) or
 * "naos: warning: MSG"; after cli_set_json_errors(true) (--json anywhere
 * on the command line before `--`) each is one JSON object instead:
 *   {"error": "MSG", "code": EXIT}   plus "status": the node's answer
 *                                    (not-found, busy, ...) when it came
 *                                    from the node
 *   {"warning": "MSG"}
 * so scripts read errors the way they read output. */
void cli_set_json_errors(bool on);
/* cli_argv_wants_json: --json appears in argv[1..argc) before any `--`. */
bool cli_argv_wants_json(int argc, char **argv);

/* cli_report prints MSG as above (status may be NULL) and returns code. */
int cli_report(int code, const char *status, bool fatal, const char *fmt,
               ...) __attribute__((format(printf, 4, 5)));

/* cli_errno_exit maps the errno of a failed local file operation to an
 * exit code: 100 when trying again cannot help (ENOENT, EACCES, EISDIR,
 * ...), 111 otherwise (EMFILE, ENOMEM, EIO, ...). */
int cli_errno_exit(int err);

/* cli_usage prints "naos: fatal: CMD: MSG (see `naos CMD --help`)" and
 * returns CLI_EXIT_USAGE. cmd NULL means the top level. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_fatal prints "naos: fatal: MSG" and returns code. */
int cli_fatal(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* cli_warn prints "naos: warning: MSG". */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_info prints progress "naos: MSG", or {"info": MSG} with JSON
 * errors. */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* cli_fatal_output prints "naos: fatal: MSG" followed by a worker's last
 * output lines (lines borrowed; "naos: its last output:" and "  | LINE"
 * each, control characters replaced), or with JSON errors one object
 * {"error": MSG, "code": CODE, "output": [LINE, ...]}. Returns code. */
int cli_fatal_output(int code, const char *const *lines, size_t nlines,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* cli_json_errors: messages are JSON objects (cli_set_json_errors). */
bool cli_json_errors(void);

/* cli_resolve_url fills c->url from --node, else --run, else the default
 * run directory. Returns 0 or an exit code (message printed). */
int cli_resolve_url(struct cli *c);

/* cli_call sends req to the node and stores the reply in *out (free with
 * naos_client_reply_free). Returns 0, or an exit code after printing why
 * the node could not be asked (111, or 100 for a bad URL or a request
 * over the node's size limit, which is never sent). */
int cli_call(struct cli *c, const Naos__V1__Request *req,
             Naos__V1__Reply **out);

/* cli_command sends req, a command that changes the cluster (deploy,
 * stop, start, restart, rm, checkpoint save), as cli_call does, stamped
 * with a fresh random client id (and seq 1). While its outcome is unknown
 * (an UNKNOWN_OUTCOME answer, no answer in time, or a node that stopped
 * answering after it was sent) it sends it again with the same id, with
 * a backoff of 100 ms doubling to 1 s, until --timeout (at most
 * CLI_RETRY_MAX_MS) has passed since the first attempt: the cluster
 * carries a command out at most once, and answers a retry with the first
 * attempt's outcome. After an unknown outcome only OK or the command's
 * own outcome (Reply.outcome_final) settles it. Returns 0 with *out
 * set (a definite answer), an exit code from cli_call when the first
 * attempt could not be sent, or CLI_EXIT_UNKNOWN (112) after saying that
 * the outcome is still unknown and what to check. */
int cli_command(struct cli *c, Naos__V1__Request *req, Naos__V1__Reply **out);

/* cli_reply_exit maps a reply's code to an exit code, printing the node's
 * error text for anything but OK: INVALID/NOT_FOUND/EXISTS/DENIED 100,
 * BUSY 1, INTERNAL, UNAVAILABLE, UNKNOWN_OUTCOME (and unknown codes)
 * 111. */
int cli_reply_exit(const Naos__V1__Reply *r);

/* cli_install_stop_signals makes SIGINT/SIGTERM set a flag (no restart of
 * system calls) for the follow loops; cli_stop_requested reads it. */
void cli_install_stop_signals(void);
bool cli_stop_requested(void);
/* cli_sleep_ms sleeps ms unless a stop signal arrives. */
void cli_sleep_ms(int ms);

/* Subcommands (argv[0] is the subcommand name). */
int cmd_deploy(struct cli *c, int argc, char **argv);
int cmd_apply(struct cli *c, int argc, char **argv);
int cmd_status(struct cli *c, int argc, char **argv);
int cmd_nodes(struct cli *c, int argc, char **argv);
int cmd_drain(struct cli *c, int argc, char **argv);
int cmd_undrain(struct cli *c, int argc, char **argv);
int cmd_stop(struct cli *c, int argc, char **argv);
int cmd_start(struct cli *c, int argc, char **argv);
int cmd_restart(struct cli *c, int argc, char **argv);
int cmd_rm(struct cli *c, int argc, char **argv);
int cmd_ping(struct cli *c, int argc, char **argv);
int cmd_events(struct cli *c, int argc, char **argv);
int cmd_logs(struct cli *c, int argc, char **argv);
int cmd_checkpoint(struct cli *c, int argc, char **argv);
int cmd_keygen(struct cli *c, int argc, char **argv);
int cmd_snapshot(struct cli *c, int argc, char **argv);

#endif
