/* SPDX-License-Identifier: Apache-2.0 */
/* opts.c: global options and message helpers shared by all subcommands.
 * No NNG here, so argument-parsing tests can link it alone. Every error and
 * warning of `naos` goes through report() below: text, or with --json one
 * JSON object per message on stderr. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "node/base/time.h"

int
cli_global_opt(struct cli *c, int opt, const char *arg, char *err,
               size_t errlen)
{
    switch (opt) {
    case CLI_OPT_RUN:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "--run: must not be empty");
            return -1;
        }
        c->run_dir = arg;
        return 1;
    case CLI_OPT_NODE:
        if (arg[0] == '\0') {
            snprintf(err, errlen, "--node: must not be empty");
            return -1;
        }
        c->node_url = arg;
        return 1;
    case CLI_OPT_JSON:
        c->json = true;
        cli_set_json_errors(true);
        return 1;
    case CLI_OPT_TIMEOUT: {
        naos_duration d;
        if (!naos_duration_parse(arg, &d) || d <= 0 || d > INT_MAX) {
            snprintf(err, errlen,
                     "--timeout: \"%s\" is not a duration like 10s or 500ms",
                     arg);
            return -1;
        }
        c->timeout_ms = (int)d;
        return 1;
    }
    default:
        return 0;
    }
}

void
cli_bad_option(int opt, char **argv, char *err, size_t errlen)
{
    /* getopt leaves optind just past the element it choked on. */
    const char *elem = optind > 0 ? argv[optind - 1] : "?";
    char name[64];
    if (optopt != 0 && optopt < 256)
        snprintf(name, sizeof name, "-%c", optopt);
    else
        snprintf(name, sizeof name, "%.*s", (int)strcspn(elem, "="), elem);
    if (opt == ':')
        snprintf(err, errlen, "option %s needs a value", name);
    else
        snprintf(err, errlen, "unknown option %s", name);
}

/* Process-wide: errors are reported before (or without) a struct cli. */
static bool json_errors;

void
cli_set_json_errors(bool on)
{
    json_errors = on;
}

bool
cli_argv_wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return false; /* the rest is a worker's command line */
        if (strcmp(argv[i], "--json") == 0)
            return true;
    }
    return false;
}

/* report writes one message to stderr: "naos: [fatal: ]MSG" or, with JSON
 * errors, {"error": MSG, "code": EXIT[, "status": NODE_CODE]} (a warning:
 * {"warning": MSG}). code < 0 marks a warning. */
static void
report(int code, const char *status, bool fatal, const char *fmt,
       va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!json_errors) {
        fprintf(stderr, "naos: %s%s\n",
                code < 0 ? "warning: " : fatal ? "fatal: " : "", msg);
        return;
    }
    json_t *o = code < 0 ? json_pack("{s:s%}", "warning", msg, strlen(msg))
                         : json_pack("{s:s%, s:i}", "error", msg,
                                     strlen(msg), "code", code);
    if (o && status)
        json_object_set_new(o, "status", json_string(status));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        fprintf(stderr, "%s\n", s);
    else /* a message that is not UTF-8 (a path): still say something */
        fprintf(stderr, "{\"error\":\"(message not UTF-8)\",\"code\":%d}\n",
                code < 0 ? 0 : code);
    free(s);
    json_decref(o);
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_report(CLI_EXIT_USAGE, NULL, true, "%s%s%s (see `naos%s%s --help`)",
               cmd ? cmd : "", cmd ? ": " : "", msg, cmd ? " " : "",
               cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int
cli_report(int code, const char *status, bool fatal, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(code, status, fatal, fmt, ap);
    va_end(ap);
    return code;
}

int
cli_fatal(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(code, NULL, true, fmt, ap);
    va_end(ap);
    return code;
}

void
cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(-1, NULL, false, fmt, ap);
    va_end(ap);
}

int
cli_errno_exit(int err)
{
    switch (err) {
    case ENOENT: case ENOTDIR: case EISDIR: case EACCES: case EPERM:
    case ELOOP: case ENAMETOOLONG: case EROFS: case EEXIST: case EINVAL:
    case EFBIG: case ENXIO: case ENODEV:
        return CLI_EXIT_USAGE; /* the same call will fail the same way */
    default:
        return CLI_EXIT_TEMP; /* EMFILE, ENOMEM, EIO, ENOSPC, EINTR, ... */
    }
}

int
cli_opt_common(struct cli *c, const char *cmd, const char *help, int opt,
               char **argv)
{
    char err[256];
    if (opt == 'h') {
        fputs(help, stdout);
        return CLI_EXIT_OK;
    }
    if (opt == '?' || opt == ':') {
        cli_bad_option(opt, argv, err, sizeof err);
        return cli_usage(cmd, "%s", err);
    }
    int g = cli_global_opt(c, opt, optarg, err, sizeof err);
    if (g < 0)
        return cli_usage(cmd, "%s", err);
    return g > 0 ? CLI_OPT_NEXT : CLI_OPT_LOCAL;
}

void
cli_print_clean(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p;
         p++)
        fputc((*p < 0x20 || *p == 0x7f) ? '?' : *p, f);
}
