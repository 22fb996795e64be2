/* SPDX-License-Identifier: Apache-2.0 */
/* opts.c: global options and message helpers shared by all subcommands.
 * No NNG here, so argument-parsing tests can link it alone. */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
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

int
cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("naos: fatal: ", stderr);
    if (cmd)
        fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `naos%s%s --help`)\n", cmd ? " " : "",
            cmd ? cmd : "");
    return CLI_EXIT_USAGE;
}

int
cli_fatal(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("naos: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

void
cli_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("naos: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
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
