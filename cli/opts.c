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
    /* A long option is named as written (getopt's optopt is its short
     * letter, if any: `--tail` is not `-n`). Inside a cluster of short
     * ones ("-xq") optind may still be at that cluster. */
    const char *here = optind > 0 ? argv[optind] : NULL;
    bool in_cluster =
        optopt > 0 && optopt < 256 &&
        ((elem[0] == '-' && elem[1] != '-' && strchr(elem + 1, optopt)) ||
         (here && here[0] == '-' && here[1] != '-' &&
          strchr(here + 1, optopt)));
    if (optopt > 0 && optopt < 256 && (in_cluster || elem[0] != '-' ||
                                       elem[1] != '-'))
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
 * errors, {"error": MSG, "code": EXIT[, "status": NODE_CODE][, "output":
 * LINES]} (a warning: {"warning": MSG}; progress: {"info": MSG}). code -1
 * marks a warning, -2 progress; output (borrowed, may be NULL) is the
 * JSON array of a worker's last output lines. */
static void
report_ex(int code, const char *status, bool fatal, json_t *output,
          const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!json_errors) {
        fprintf(stderr, "naos: %s%s\n",
                code == -1 ? "warning: " : fatal ? "fatal: " : "", msg);
        return;
    }
    json_t *o = code < 0 ? json_pack("{s:s%}", code == -1 ? "warning"
                                                          : "info",
                                     msg, strlen(msg))
                         : json_pack("{s:s%, s:i}", "error", msg,
                                     strlen(msg), "code", code);
    if (o && status)
        json_object_set_new(o, "status", json_string(status));
    if (o && output)
        json_object_set(o, "output", output);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s)
        fprintf(stderr, "%s\n", s);
    else /* a message that is not UTF-8 (a path): still say something */
        fprintf(stderr, "{\"error\":\"(message not UTF-8)\",\"code\":%d}\n",
                code < 0 ? 0 : code);
    free(s);
    json_decref(o);
}

static void
report(int code, const char *status, bool fatal, const char *fmt,
       va_list ap)
{
    report_ex(code, status, fatal, NULL, fmt, ap);
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
cli_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(-2, NULL, false, fmt, ap);
    va_end(ap);
}

int
cli_fatal_output(int code, const char *const *lines, size_t nlines,
                 const char *fmt, ...)
{
    json_t *out = NULL;
    if (json_errors && nlines > 0) {
        out = json_array();
        for (size_t i = 0; out && i < nlines; i++) {
            /* a line that is not UTF-8 is still shown, cleaned */
            json_t *s = json_string(lines[i]);
            if (s == NULL) {
                char clean[1024];
                size_t k = 0;
                for (const unsigned char *p = (const unsigned char *)lines[i];
                     *p && k + 1 < sizeof clean; p++)
                    clean[k++] = *p < 0x80 ? (char)*p : '?';
                clean[k] = '\0';
                s = json_string(clean);
            }
            json_array_append_new(out, s);
        }
    }
    va_list ap;
    va_start(ap, fmt);
    report_ex(code, NULL, true, out, fmt, ap);
    va_end(ap);
    json_decref(out);
    if (!json_errors && nlines > 0) {
        fprintf(stderr, "naos: its last output:\n");
        for (size_t i = 0; i < nlines; i++) {
            fputs("  | ", stderr);
            cli_print_clean(stderr, lines[i]);
            fputc('\n', stderr);
        }
    }
    return code;
}

bool
cli_json_errors(void)
{
    return json_errors;
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
