/* SPDX-License-Identifier: Apache-2.0 */
/* naos-node: the per-host daemon. `naos-node start` runs in the foreground
 * until SIGTERM/SIGINT, then stops every deployment cleanly. */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/paths.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/http/route.h"
#include "node/http/token.h"
#include "node/node.h"
#include "node/proc/spawn.h"

#define EXIT_USAGE 100
#define EXIT_TEMP 111

static const char usage[] =
    "usage: naos-node start [OPTIONS]\n"
    "\n"
    "Runs a naos node in the foreground: it supervises the deployments sent\n"
    "to it by `naos deploy` / `naos apply` and stops them all cleanly on\n"
    "SIGTERM or SIGINT (a second signal kills every worker at once).\n"
    "\n"
    "options:\n"
    "  --run DIR        sockets and lock file (default: $NAOS_RUN_DIR, else\n"
    "                   $XDG_RUNTIME_DIR/naos, else /tmp/naos-$UID)\n"
    "  --data DIR       store and worker logs (default: $NAOS_DATA_DIR, else\n"
    "                   /var/lib/naos for root, else\n"
    "                   ${XDG_STATE_HOME:-~/.local/state}/naos)\n"
    "  --name NAME      node name given to agents as NAOS_NODE (default: the\n"
    "                   host name)\n"
    "  --log-max-size N bytes per worker log file before rotation, with an\n"
    "                   optional K/M/G suffix (default 10M)\n"
    "  --log-keep N     rotated log files kept per worker (default 3)\n"
    "  --log-level L    debug, info, warn or error (default info)\n"
    "  --key FILE       cluster key file from `naos keygen` (mode 0600; a\n"
    "                   file others can read is refused)\n"
    "  --http ADDR      serve the dashboard (/supervisors), the JSON API\n"
    "                   (/api/v1/) and /metrics on HOST:PORT (default\n"
    "                   127.0.0.1:4200; port 0 picks a free port; the bound\n"
    "                   address is written to RUN/http.addr); off disables\n"
    "  --http-token-file FILE\n"
    "                   bearer token (first line; mode 0600) that allows the\n"
    "                   API's restart/stop/start calls; else $NAOS_HTTP_TOKEN;\n"
    "                   with neither, those calls answer 403\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n"
    "\n"
    "exit codes: 0 clean stop, 100 bad usage or configuration, 111 system\n"
    "failure (cannot bind, another node holds the run directory)\n";

static int
default_data_dir(char *buf, size_t len)
{
    const char *env = getenv("NAOS_DATA_DIR");
    if (env && *env)
        return snprintf(buf, len, "%s", env) < (int)len ? 0 : -1;
    if (geteuid() == 0)
        return snprintf(buf, len, "/var/lib/naos") < (int)len ? 0 : -1;
    const char *state = getenv("XDG_STATE_HOME");
    if (state && *state)
        return snprintf(buf, len, "%s/naos", state) < (int)len ? 0 : -1;
    const char *home = getenv("HOME");
    if (home && *home)
        return snprintf(buf, len, "%s/.local/state/naos", home) < (int)len
                   ? 0
                   : -1;
    return -1;
}

static int
parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *s == '-')
        return -1;
    uint64_t mult = 1;
    if (*end == 'K' || *end == 'k')
        mult = 1024, end++;
    else if (*end == 'M' || *end == 'm')
        mult = 1024 * 1024, end++;
    else if (*end == 'G' || *end == 'g')
        mult = 1024ull * 1024 * 1024, end++;
    if (*end != '\0' || v == 0 || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

static int
cmd_start(int argc, char **argv)
{
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},
        {"data", required_argument, NULL, 'd'},
        {"name", required_argument, NULL, 'n'},
        {"log-max-size", required_argument, NULL, 's'},
        {"log-keep", required_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'K'},
        {"http", required_argument, NULL, 'H'},
        {"http-token-file", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char run_dir[PATH_MAX] = "", data_dir[PATH_MAX] = "", name[256] = "";
    struct node_config cfg = {0};
    const char *http_addr = NULL, *token_file = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            snprintf(run_dir, sizeof run_dir, "%s", optarg);
            break;
        case 'd':
            snprintf(data_dir, sizeof data_dir, "%s", optarg);
            break;
        case 'n':
            snprintf(name, sizeof name, "%s", optarg);
            break;
        case 's':
            if (parse_size(optarg, &cfg.log_max_bytes) < 0) {
                fprintf(stderr, "naos-node: fatal: --log-max-size: expected a "
                        "positive size like 10M, got \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'k': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 99) {
                fprintf(stderr, "naos-node: fatal: --log-keep: expected 1..99, "
                        "got \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            cfg.log_keep = (unsigned)v;
            break;
        }
        case 'l':
            if (strcmp(optarg, "debug") == 0)
                naos_log_set_level(NAOS_LOG_DEBUG);
            else if (strcmp(optarg, "info") == 0)
                naos_log_set_level(NAOS_LOG_INFO);
            else if (strcmp(optarg, "warn") == 0)
                naos_log_set_level(NAOS_LOG_WARN);
            else if (strcmp(optarg, "error") == 0)
                naos_log_set_level(NAOS_LOG_ERROR);
            else {
                fprintf(stderr, "naos-node: fatal: --log-level: expected "
                        "debug, info, warn or error, got \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'K':
            cfg.key_file = optarg;
            break;
        case 'H':
            http_addr = optarg;
            break;
        case 'T':
            token_file = optarg;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fprintf(stderr, "naos-node: see `naos-node --help`\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "naos-node: fatal: unexpected argument \"%s\" (see "
                "`naos-node --help`)\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!run_dir[0] && naos_default_run_dir(run_dir, sizeof run_dir) != 0) {
        fprintf(stderr, "naos-node: fatal: cannot work out a run directory: "
                "give --run DIR\n");
        return EXIT_USAGE;
    }
    if (!data_dir[0] && default_data_dir(data_dir, sizeof data_dir) != 0) {
        fprintf(stderr, "naos-node: fatal: cannot work out a data directory: "
                "give --data DIR\n");
        return EXIT_USAGE;
    }
    if (!name[0] && gethostname(name, sizeof name - 1) != 0)
        snprintf(name, sizeof name, "node");
    cfg.name = name;
    cfg.run_dir = run_dir;
    cfg.data_dir = data_dir;

    /* The HTTP endpoint and its token. The token's environment variable is
     * removed at once: workers inherit the node's environment. */
    char http_url[300], token[HTTP_TOKEN_MAX + 1] = "", err[1024] = "";
    const char *env_token = getenv("NAOS_HTTP_TOKEN");
    if (env_token && !token_file) {
        if (http_token_valid(env_token, err, sizeof err) != NAOS_OK) {
            fprintf(stderr, "naos-node: fatal: NAOS_HTTP_TOKEN: %s\n", err);
            return EXIT_USAGE;
        }
        snprintf(token, sizeof token, "%s", env_token);
    }
    unsetenv("NAOS_HTTP_TOKEN");
    if (token_file) {
        int trc = http_token_load(token_file, token, sizeof token, err,
                                  sizeof err);
        if (trc != NAOS_OK) {
            fprintf(stderr, "naos-node: fatal: %s\n", err);
            return trc == NAOS_ESYS ? EXIT_TEMP : EXIT_USAGE;
        }
    }
    if (!http_addr || strcmp(http_addr, "off") != 0) {
        bool loopback = true;
        if (http_addr_to_url(http_addr ? http_addr : "127.0.0.1:4200",
                             http_url, sizeof http_url, &loopback, err,
                             sizeof err) != NAOS_OK) {
            fprintf(stderr, "naos-node: fatal: --http: %s\n", err);
            return EXIT_USAGE;
        }
        cfg.http_url = http_url;
        cfg.http_required = http_addr != NULL;
        cfg.http_token = token[0] ? token : NULL;
        if (!loopback)
            NAOS_WARN("http", "--http %s is not a loopback address: anyone "
                      "who can reach it can read the status of every "
                      "deployment", http_addr);
    } else if (token[0]) {
        NAOS_WARN("http", "an HTTP token was given but --http is off");
    }

    struct node *n = NULL;
    int rc = node_open(&n, &cfg, err, sizeof err);
    explicit_bzero(token, sizeof token); /* the node keeps its own copy */
    if (rc != NAOS_OK) {
        fprintf(stderr, "naos-node: fatal: %s\n", err[0] ? err : naos_strerror(rc));
        return rc == NAOS_EINVAL ? EXIT_USAGE : EXIT_TEMP;
    }
    int code = node_run(n);
    node_close(n);
    return code;
}

int
main(int argc, char **argv)
{
    /* Before any thread exists (NNG starts its own), so every thread keeps
     * these signals blocked and only the reactor's signalfd sees them. */
    node_block_signals();
    /* While fd numbers are still low: makes spawning independent of how
     * many fds (two per worker) the node holds later. */
    if (proc_spawn_reserve_fds() != NAOS_OK)
        fprintf(stderr, "naos-node: warning: cannot reserve spawn fds; "
                "spawning will slow down as workers are added\n");
    /* Workers inherit our environment: a node itself run under systemd or
     * another naos must not pass its supervisor's notify settings on. */
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("naos-node %s\n", NAOS_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "start") == 0)
        return cmd_start(argc - 1, argv + 1);
    fprintf(stderr, "naos-node: fatal: unknown command \"%s\" (see "
            "`naos-node --help`)\n", argv[1]);
    return EXIT_USAGE;
}
