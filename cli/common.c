/* SPDX-License-Identifier: Apache-2.0 */
/* common.c: resolving the node's URL, calling it, mapping its answers to
 * exit codes, and the stop-signal flag of the follow loops. */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/paths.h"
#include "node/auth/keys.h"
#include "node/base/err.h"

static int cli_call_failed(int rc, const char *err);

int
cli_resolve_url(struct cli *c)
{
    if (c->node_url) {
        int n = snprintf(c->url, sizeof c->url, "%s", c->node_url);
        if (n < 0 || (size_t)n >= sizeof c->url)
            return cli_usage(NULL, "--node: URL too long");
        return 0;
    }
    /* An agent run by naos finds its node here, whatever its environment
     * says about run directories. */
    const char *ctl = getenv("NAOS_CTL");
    if (c->run_dir == NULL && ctl != NULL && *ctl != '\0') {
        int n = snprintf(c->url, sizeof c->url, "%s", ctl);
        if (n < 0 || (size_t)n >= sizeof c->url)
            return cli_usage(NULL, "NAOS_CTL: URL too long");
        return 0;
    }
    char dir[PATH_MAX];
    if (c->run_dir) {
        int n = snprintf(dir, sizeof dir, "%s", c->run_dir);
        if (n < 0 || (size_t)n >= sizeof dir)
            return cli_usage(NULL, "--run: path too long");
    } else if (naos_default_run_dir(dir, sizeof dir) != NAOS_OK) {
        return cli_fatal(CLI_EXIT_USAGE,
                         "run directory path too long (check NAOS_RUN_DIR "
                         "and XDG_RUNTIME_DIR)");
    }
    if (naos_ctl_url(dir, c->url, sizeof c->url) != NAOS_OK)
        return cli_usage(NULL, "--run: path too long");
    return 0;
}

int
cli_call(struct cli *c, const Naos__V1__Request *req, Naos__V1__Reply **out)
{
    if (c->url[0] == '\0') {
        int rc = cli_resolve_url(c);
        if (rc)
            return rc;
    }
    char err[PATH_MAX + 256];
    int rc = naos_client_call(c->url, req, out, c->timeout_ms, err, sizeof err);
    return cli_call_failed(rc, err);
}

/* The exit code of a call that got no reply (rc from naos_client_call,
 * err its words), after printing why; 0 for NAOS_OK. */
static int
cli_call_failed(int rc, const char *err)
{
    switch (rc) {
    case NAOS_OK:
        return 0;
    case NAOS_ESYS:
        return cli_fatal(CLI_EXIT_TEMP,
                         "%s (is `naos-node start` running? check --run / "
                         "NAOS_RUN_DIR)",
                         err);
    case NAOS_EINVAL:
        return cli_fatal(CLI_EXIT_USAGE, "%s (check --node)", err);
    case NAOS_EAUTH: /* an unsafe run directory: retrying will not help */
    case NAOS_ETOOBIG:
        return cli_fatal(CLI_EXIT_USAGE, "%s", err);
    default:
        return cli_fatal(CLI_EXIT_TEMP, "%s", err);
    }
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A reply that settles a command's outcome: the first attempt's answer
 * unless it is "outcome unknown"; after that, only OK or the command's
 * own outcome (outcome_final: its entry's answer once applied, or the
 * first attempt's as the client table recorded it). Any other refusal
 * of a retry (no leader, busy, an agent not started yet on a node that
 * restarted) speaks for the retry: nothing it says about the first. */
static bool
settles(const Naos__V1__Reply *r, bool was_unknown)
{
    if (r->code == NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME)
        return false;
    return !was_unknown || r->code == NAOS__V1__ERROR_CODE__OK ||
           r->outcome_final;
}

int
cli_command(struct cli *c, Naos__V1__Request *req, Naos__V1__Reply **out)
{
    if (c->url[0] == '\0') {
        int rc = cli_resolve_url(c);
        if (rc)
            return rc;
    }
    if (auth_init() != NAOS_OK)
        return cli_fatal(CLI_EXIT_TEMP, "cannot initialise libsodium");
    do
        randombytes_buf(&req->client_id, sizeof req->client_id);
    while (req->client_id == 0);
    req->client_seq = 1;
    int window = c->timeout_ms < CLI_RETRY_MAX_MS ? c->timeout_ms
                                                  : CLI_RETRY_MAX_MS;
    int64_t deadline = monotonic_ms() + window;
    int backoff_ms = 100;
    /* what made the outcome unknown, and the last answer since */
    char first[PATH_MAX + 512] = "", last[PATH_MAX + 512] = "";
    for (int attempt = 0;; attempt++) {
        int64_t left = deadline - monotonic_ms();
        if (attempt > 0 && left <= 0)
            break;
        char err[PATH_MAX + 256];
        Naos__V1__Reply *r = NULL;
        int rc = naos_client_call(c->url, req, &r, attempt ? (int)left
                                                           : c->timeout_ms,
                                  err, sizeof err);
        if (rc == NAOS_OK && settles(r, attempt > 0)) {
            *out = r;
            return 0;
        }
        if (rc == NAOS_OK) {
            snprintf(last, sizeof last, "%s", r->error && r->error[0]
                                                  ? r->error
                                                  : "outcome unknown");
            naos_client_reply_free(r);
        } else if (attempt == 0 && rc != NAOS_ETIMEDOUT &&
                   rc != NAOS_ECLOSED && rc != NAOS_EPROTO) {
            return cli_call_failed(rc, err); /* nothing was sent */
        } else {
            snprintf(last, sizeof last, "outcome unknown: %s", err);
        }
        if (first[0] == '\0')
            memcpy(first, last, sizeof first);
        if (cli_stop_requested())
            break;
        left = deadline - monotonic_ms();
        if (left <= 0)
            break;
        cli_sleep_ms(backoff_ms < left ? backoff_ms : (int)left);
        backoff_ms = backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2;
    }
    bool same = strcmp(first, last) == 0;
    bool hint = strstr(first, "naos status") == NULL;
    return cli_report(CLI_EXIT_UNKNOWN, "unknown-outcome", true,
                      "%s%s; naos retried it with the same id until "
                      "--timeout (%d ms) without learning more%s%s%s", first,
                      hint ? " (the command may or may not have been carried "
                             "out: check with `naos status` before running "
                             "it again)"
                           : "",
                      window, same ? "" : " (the last answer: ",
                      same ? "" : last, same ? "" : ")");
}

static const char *
code_name(int code)
{
    switch (code) {
    case NAOS__V1__ERROR_CODE__INVALID: return "invalid request";
    case NAOS__V1__ERROR_CODE__NOT_FOUND: return "not found";
    case NAOS__V1__ERROR_CODE__EXISTS: return "already exists";
    case NAOS__V1__ERROR_CODE__BUSY: return "busy";
    case NAOS__V1__ERROR_CODE__INTERNAL: return "internal error";
    case NAOS__V1__ERROR_CODE__DENIED: return "refused";
    case NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME: return "outcome unknown";
    case NAOS__V1__ERROR_CODE__UNAVAILABLE: return "no leader";
    default: return "unknown error";
    }
}

/* The node's code as --json errors name it ("status"). */
static const char *
code_status(int code)
{
    switch (code) {
    case NAOS__V1__ERROR_CODE__INVALID: return "invalid";
    case NAOS__V1__ERROR_CODE__NOT_FOUND: return "not-found";
    case NAOS__V1__ERROR_CODE__EXISTS: return "exists";
    case NAOS__V1__ERROR_CODE__BUSY: return "busy";
    case NAOS__V1__ERROR_CODE__INTERNAL: return "internal";
    case NAOS__V1__ERROR_CODE__DENIED: return "denied";
    case NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME: return "unknown-outcome";
    case NAOS__V1__ERROR_CODE__UNAVAILABLE: return "unavailable";
    default: return "unknown";
    }
}

int
cli_reply_exit(const Naos__V1__Reply *r)
{
    const char *text = (r->error && r->error[0]) ? r->error : NULL;
    const char *st = code_status((int)r->code);
    switch (r->code) {
    case NAOS__V1__ERROR_CODE__OK:
        return CLI_EXIT_OK;
    case NAOS__V1__ERROR_CODE__INVALID:
    case NAOS__V1__ERROR_CODE__NOT_FOUND:
    case NAOS__V1__ERROR_CODE__EXISTS:
    case NAOS__V1__ERROR_CODE__DENIED:
        return cli_report(CLI_EXIT_USAGE, st, true, "%s",
                          text ? text : code_name((int)r->code));
    case NAOS__V1__ERROR_CODE__BUSY:
        return cli_report(CLI_EXIT_NO, st, false, "%s",
                          text ? text : "naos-node is busy");
    case NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME:
        /* temporary: once `naos status` shows what happened, the same
         * command can be run again */
    case NAOS__V1__ERROR_CODE__UNAVAILABLE: /* no leader: try again */
    case NAOS__V1__ERROR_CODE__INTERNAL:
        return cli_report(CLI_EXIT_TEMP, st, true, "naos-node: %s",
                          text ? text : code_name((int)r->code));
    default:
        return cli_report(CLI_EXIT_TEMP, st, true,
                          "naos-node answered with unknown code %d%s%s",
                          (int)r->code, text ? ": " : "", text ? text : "");
    }
}

static volatile sig_atomic_t stop_flag;

static void
on_stop_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void
cli_install_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: let nanosleep return at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool
cli_stop_requested(void)
{
    return stop_flag != 0;
}

void
cli_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (!stop_flag && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void
cli_print_message(const struct cli *c, const Naos__V1__Reply *r,
                  const char *fallback)
{
    const char *msg = fallback;
    if (r->rep_case == NAOS__V1__REPLY__REP_MESSAGE && r->message &&
        r->message[0])
        msg = r->message;
    if (c->json) {
        json_t *o = json_object();
        if (o && json_object_set_new(o, "message", json_string(msg)) == 0) {
            char *s = json_dumps(o, JSON_COMPACT);
            if (s) {
                puts(s);
                free(s);
            }
        }
        json_decref(o);
        return;
    }
    cli_print_clean(stdout, msg);
    fputc('\n', stdout);
}

/* Globals, -h, and --force when force is non-NULL (set in *force). */
static int
parse_globals(struct cli *c, const char *cmd, const char *help, int argc,
              char **argv, bool *force)
{
    enum { OPT_FORCE = CLI_OPT_FIRST_LOCAL };
    static const struct option with_force[] = {
        {"force", no_argument, NULL, OPT_FORCE},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const struct option *longopts = force ? with_force : with_force + 1;
    if (force)
        *force = false;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, cmd, help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (force == NULL)
            return cli_usage(cmd, "unexpected option");
        *force = true;
    }
    return CLI_OPT_NEXT;
}

int
cli_parse_globals_force(struct cli *c, const char *cmd, const char *help,
                        int argc, char **argv, bool *force)
{
    return parse_globals(c, cmd, help, argc, argv, force);
}

int
cli_parse_globals(struct cli *c, const char *cmd, const char *help, int argc,
                  char **argv)
{
    return parse_globals(c, cmd, help, argc, argv, NULL);
}
