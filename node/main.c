/* SPDX-License-Identifier: Apache-2.0 */
/* naos-node: the per-host daemon. `naos-node start` runs in the foreground
 * until SIGTERM/SIGINT, then stops every deployment cleanly. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <sys/file.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/paths.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/http/route.h"
#include "node/http/token.h"
#include "node/net/net.h"
#include "node/node.h"
#include "node/proc/guardian.h"
#include "node/proc/sdnotify.h"
#include "node/proc/spawn.h"
#include "node/swim/swim.h"

#define EXIT_USAGE 100
#define EXIT_TEMP 111

static const char usage[] =
    "usage: naos-node start [OPTIONS]\n"
    "       naos-node join SEED_ADDR [SEED_ADDR...] --key FILE [OPTIONS]\n"
    "       naos-node leave [--run DIR]\n"
    "       naos-node recover --data DIR [--from FILE] [--force]\n"
    "\n"
    "Runs a naos node in the foreground: it supervises the deployments sent\n"
    "to it by `naos deploy` / `naos apply` and stops them all cleanly on\n"
    "SIGTERM or SIGINT (a second signal kills every worker at once).\n"
    "\n"
    "With --listen the node is a cluster member (SWIM gossip over NNG/TCP,\n"
    "every message sealed with the cluster key): `start` founds a cluster\n"
    "(or rejoins the one its data directory belongs to), `join` joins one\n"
    "through any of the seed addresses (retrying with backoff until a seed\n"
    "answers): with an empty --data, the cluster's leader takes the node in\n"
    "as a learner (it receives the replicated log and runs deployments) and\n"
    "promotes caught-up learners to voters, two at a time, until the\n"
    "cluster has 3 voters (or as many as it was founded with). A name\n"
    "another member has is refused (exit 100). Started again on its data,\n"
    "a joined node rejoins its cluster. `leave` asks the node on --run DIR\n"
    "to leave the cluster gracefully (peers mark it `left`) and stop;\n"
    "SIGTERM does the same.\n"
    "A node that is not in a cluster refuses to leave (exit 100) and keeps\n"
    "running: stop it with SIGTERM.\n"
    "`recover` rebuilds a cluster of one voter from a snapshot file or a\n"
    "surviving voter's data when the voter majority is lost for good (see\n"
    "`naos-node recover --help`).\n"
    "\n"
    "options:\n"
    "  --run DIR        sockets and lock file (default: $NAOS_RUN_DIR, else\n"
    "                   $XDG_RUNTIME_DIR/naos, else /run/naos for\n"
    "                   root, else /tmp/naos-$UID)\n"
    "  --data DIR       store and worker logs (default: $NAOS_DATA_DIR, else\n"
    "                   /var/lib/naos for root, else\n"
    "                   ${XDG_STATE_HOME:-~/.local/state}/naos)\n"
    "                   Both are created with mode 0700 when missing; an\n"
    "                   existing one must belong to the user the node runs\n"
    "                   as and not be writable by group or others (0700 and\n"
    "                   0755 are fine), or the node refuses to start\n"
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
    "  --http-allow-host NAME\n"
    "                   also answer requests whose Host is NAME (repeatable,\n"
    "                   at most 16); besides localhost, loopback addresses\n"
    "                   and the --http host (any address when bound to\n"
    "                   0.0.0.0 or [::]), any other Host gets 421, so a web\n"
    "                   page whose name is rebound to the node cannot read it\n"
    "  --http-max-conns N\n"
    "                   open HTTP connections, 1..4096 (default 32; at most\n"
    "                   ulimit -n / 16: each takes up to 4 descriptors); when\n"
    "                   full, the one waiting longest for a request is closed\n"
    "  --http-header-timeout DUR\n"
    "                   time to send a whole request head (default 10s;\n"
    "                   100ms..1h)\n"
    "  --http-idle-timeout DUR\n"
    "                   time a kept-alive connection may wait for its next\n"
    "                   request (default 60s; 100ms..1h)\n"
    "  --http-reply-budget SIZE\n"
    "                   reply bytes held for clients that have not read them\n"
    "                   yet, in total (default 64M; 1M..16G); past it, 503\n"
    "  --listen ADDR    gossip address tcp://HOST:PORT (port 0 picks a free\n"
    "                   port; the advertised address goes to\n"
    "                   RUN/gossip.addr). Needs --key. `join` defaults to\n"
    "                   tcp://127.0.0.1:7946; `start` without it runs a\n"
    "                   single node, no membership\n"
    "  --advertise ADDR the address peers dial (default: the bound\n"
    "                   --listen address; required when it is 0.0.0.0)\n"
    "  --profile P      timing: " SWIM_PROFILE_HELP
    "  --seeds A,B,...  with start: gossip through these addresses too\n"
    "                   (the node keeps a log of its own unless it founds\n"
    "                   one with --bootstrap-expect; `join` shares one)\n"
    "  --bootstrap-expect N\n"
    "                   with start: found a replicated cluster of N voters\n"
    "                   (3 or 5) once N nodes started this way with the same\n"
    "                   key see each other (give each the others as\n"
    "                   --seeds). Commands are taken on the leader; before\n"
    "                   the cluster forms they are refused. Without it a\n"
    "                   node is a cluster of one voter\n"
    "  --voters N       with start, when founding: the voters the cluster\n"
    "                   keeps, 1, 3 or 5 (default 3, or the founders' count\n"
    "                   when more): the leader promotes learners up to it\n"
    "  --no-voter       with join: stay a learner, never a voter (a node\n"
    "                   that runs work but takes no part in elections)\n"
    "  --label KEY=VALUE\n"
    "                   a label of this node, gossiped with its health and\n"
    "                   shown by `naos nodes`; `naos deploy --require\n"
    "                   KEY=VALUE` places only on nodes that have it.\n"
    "                   Repeatable: at most 16, no KEY twice; KEY is 1..63\n"
    "                   bytes of a-z 0-9 . _ - starting with a letter or a\n"
    "                   digit, VALUE 0..63 bytes of printable ASCII without\n"
    "                   space or '='; all KEY=VALUE together at most 512\n"
    "                   bytes\n"
    "  -h, --help       this text\n"
    "  --version        print the version\n"
    "\n"
    "exit codes (s6's convention, as `naos --help`):\n"
    "  0    clean stop; leave: the node left and stopped\n"
    "  1    leave: the node answered busy\n"
    "  100  permanent: bad usage or configuration, unsafe directories,\n"
    "       leave of a node that is not in a cluster\n"
    "  111  temporary: cannot bind, another node holds the run or data\n"
    "       directory, node unreachable, system failure\n";

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

#define MAX_SEEDS 16

/* The service manager running this node (Type=notify), if any. */
static struct proc_sdnotify service_manager;

/* Splits a comma-separated list into seeds (pointers into buf). */
static int
add_seeds(char *list, const char **seeds, size_t *n)
{
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (*t == '\0')
            continue;
        if (*n >= MAX_SEEDS)
            return -1;
        seeds[(*n)++] = t;
    }
    return 0;
}

static int
check_addr(const char *what, const char *url)
{
    char err[256];
    if (net_url_check(url, NULL, err, sizeof err) != NAOS_OK) {
        fprintf(stderr, "naos-node: fatal: %s: %s\n", what, err);
        return -1;
    }
    return 0;
}

static int
cmd_start(int argc, char **argv, bool join)
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
        {"http-allow-host", required_argument, NULL, 0x100},
        {"http-max-conns", required_argument, NULL, 0x101},
        {"http-header-timeout", required_argument, NULL, 0x102},
        {"http-idle-timeout", required_argument, NULL, 0x103},
        {"http-reply-budget", required_argument, NULL, 0x104},
        {"listen", required_argument, NULL, 'L'},
        {"advertise", required_argument, NULL, 'A'},
        {"profile", required_argument, NULL, 'P'},
        {"seeds", required_argument, NULL, 'S'},
        {"bootstrap-expect", required_argument, NULL, 0x105},
        {"label", required_argument, NULL, 0x106},
        {"no-voter", no_argument, NULL, 0x107},
        {"voters", required_argument, NULL, 0x108},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char run_dir[PATH_MAX] = "", data_dir[PATH_MAX] = "", name[256] = "";
    struct node_config cfg = {0};
    const char *http_addr = NULL, *token_file = NULL;
    struct http_limits http_limits = HTTP_LIMITS_DEFAULT;
    char lerr[256];
    const char *seeds[MAX_SEEDS];
    size_t nseeds = 0;
    struct spec_label labels[SPEC_LABELS_MAX];
    size_t nlabels = 0;
    int c;
    optind = 1;
    /* join: the seed addresses are the leading positional arguments; GNU
     * getopt permutes them to the end. */
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
        case 0x100: case 0x101: case 0x102: case 0x103: case 0x104: {
            /* "--http-" + the option's name, parsed in node/http */
            static const char *const names[] = {
                "allow-host", "max-conns", "header-timeout", "idle-timeout",
                "reply-budget"};
            const char *o = names[c - 0x100];
            if (http_limits_set(&http_limits, o, optarg, lerr, sizeof lerr) !=
                NAOS_OK) {
                fprintf(stderr, "naos-node: fatal: --http-%s: %s\n", o, lerr);
                return EXIT_USAGE;
            }
            break;
        }
        case 'L':
            cfg.listen_url = optarg;
            break;
        case 'A':
            cfg.advertise_url = optarg;
            break;
        case 'P':
            if (strcmp(optarg, "lan") && strcmp(optarg, "wan") &&
                strcmp(optarg, "local")) {
                fprintf(stderr, "naos-node: fatal: --profile: expected lan, "
                        "wan or local, got \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            cfg.profile = optarg;
            break;
        case 'S':
            if (add_seeds(optarg, seeds, &nseeds) < 0) {
                fprintf(stderr, "naos-node: fatal: --seeds: at most %d "
                        "addresses\n", MAX_SEEDS);
                return EXIT_USAGE;
            }
            break;
        case 0x105:
            if (strcmp(optarg, "3") != 0 && strcmp(optarg, "5") != 0) {
                fprintf(stderr, "naos-node: fatal: --bootstrap-expect: "
                        "expected 3 or 5 (the voters of the new cluster), "
                        "got \"%s\"\n", optarg);
                return EXIT_USAGE;
            }
            cfg.bootstrap_expect = (unsigned)atoi(optarg);
            break;
        case 0x107:
            cfg.no_voter = true;
            break;
        case 0x108:
            if (strcmp(optarg, "1") != 0 && strcmp(optarg, "3") != 0 &&
                strcmp(optarg, "5") != 0) {
                fprintf(stderr, "naos-node: fatal: --voters: expected 1, 3 "
                        "or 5 (the voters the cluster keeps), got \"%s\"\n",
                        optarg);
                return EXIT_USAGE;
            }
            cfg.voters = (unsigned)atoi(optarg);
            break;
        case 0x106: {
            struct spec_label one;
            if (spec_label_parse(&one, optarg, lerr, sizeof lerr) !=
                    NAOS_OK ||
                spec_labels_add(labels, &nlabels, &one, lerr, sizeof lerr) !=
                    NAOS_OK) {
                fprintf(stderr, "naos-node: fatal: --label: %s (see "
                        "`naos-node --help`)\n", lerr);
                return EXIT_USAGE;
            }
            break;
        }
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fprintf(stderr, "naos-node: see `naos-node --help`\n");
            return EXIT_USAGE;
        }
    }
    cfg.join = join;
    if (join) {
        for (; optind < argc; optind++)
            if (add_seeds(argv[optind], seeds, &nseeds) < 0) {
                fprintf(stderr, "naos-node: fatal: at most %d seed "
                        "addresses\n", MAX_SEEDS);
                return EXIT_USAGE;
            }
        if (nseeds == 0) {
            fprintf(stderr, "naos-node: fatal: join: give at least one "
                    "SEED_ADDR (tcp://HOST:PORT of any member)\n");
            return EXIT_USAGE;
        }
        if (cfg.listen_url == NULL)
            cfg.listen_url = "tcp://127.0.0.1:7946";
    }
    if (optind < argc) {
        fprintf(stderr, "naos-node: fatal: unexpected argument \"%s\" (see "
                "`naos-node --help`)\n", argv[optind]);
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < nseeds; i++)
        if (check_addr("seed", seeds[i]) < 0)
            return EXIT_USAGE;
    if ((cfg.listen_url && check_addr("--listen", cfg.listen_url) < 0) ||
        (cfg.advertise_url && check_addr("--advertise", cfg.advertise_url) <
                                  0))
        return EXIT_USAGE;
    if (cfg.voters && join) {
        fprintf(stderr, "naos-node: fatal: --voters goes with `start` (it "
                "is the founders' choice; a node that joins takes its "
                "cluster's)\n");
        return EXIT_USAGE;
    }
    if (cfg.voters && cfg.bootstrap_expect > cfg.voters) {
        fprintf(stderr, "naos-node: fatal: --voters %u is fewer than the %u "
                "founders of --bootstrap-expect: give at least as many\n",
                cfg.voters, cfg.bootstrap_expect);
        return EXIT_USAGE;
    }
    if (cfg.no_voter && !join) {
        fprintf(stderr, "naos-node: fatal: --no-voter goes with `join` (a "
                "node that founds or runs alone is a voter)\n");
        return EXIT_USAGE;
    }
    if (cfg.bootstrap_expect && (join || cfg.listen_url == NULL ||
                                 nseeds == 0)) {
        fprintf(stderr, "naos-node: fatal: --bootstrap-expect goes with "
                "`start --listen ADDR --key FILE --seeds A,B,...` on each "
                "of the founding nodes (the seeds: the other founders)\n");
        return EXIT_USAGE;
    }
    if (cfg.listen_url == NULL &&
        (nseeds || cfg.advertise_url || cfg.profile)) {
        fprintf(stderr, "naos-node: fatal: --seeds, --advertise and "
                "--profile need --listen ADDR (the gossip address)\n");
        return EXIT_USAGE;
    }
    if (cfg.listen_url && cfg.key_file == NULL) {
        fprintf(stderr, "naos-node: fatal: --listen needs --key FILE: "
                "membership never runs unauthenticated (create a key with "
                "`naos keygen FILE` and give every node a copy)\n");
        return EXIT_USAGE;
    }
    cfg.seeds = seeds;
    cfg.nseeds = nseeds;
    cfg.labels = labels;
    cfg.nlabels = nlabels;
    cfg.service_manager = &service_manager;
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
            /* a file that is missing or not ours stays so: permanent */
            return trc == NAOS_ESYS && errno != ENOENT && errno != EACCES &&
                           errno != ENOTDIR && errno != EISDIR &&
                           errno != ELOOP
                       ? EXIT_TEMP
                       : EXIT_USAGE;
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
        cfg.http_limits = &http_limits;
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

/* naos-node leave: ask the node on the run directory to leave and stop,
 * and wait (up to a minute) until it has let go of the run directory. */
static int
cmd_leave(int argc, char **argv)
{
    static const struct option opts[] = {
        {"run", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char run_dir[PATH_MAX] = "";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            snprintf(run_dir, sizeof run_dir, "%s", optarg);
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
        fprintf(stderr, "naos-node: fatal: leave: unexpected argument "
                "\"%s\"\n", argv[optind]);
        return EXIT_USAGE;
    }
    if (!run_dir[0] && naos_default_run_dir(run_dir, sizeof run_dir) != 0) {
        fprintf(stderr, "naos-node: fatal: cannot work out a run directory: "
                "give --run DIR\n");
        return EXIT_USAGE;
    }
    char url[PATH_MAX + 16], err[512] = "";
    snprintf(url, sizeof url, "ipc://%s/ctl.sock", run_dir);
    Naos__V1__LeaveRequest lr = NAOS__V1__LEAVE_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_LEAVE;
    req.leave = &lr;
    Naos__V1__Reply *rep = NULL;
    int crc = naos_client_call(url, &req, &rep, 5000, err, sizeof err);
    if (crc == NAOS_EAUTH) { /* not our node's socket: nothing was sent */
        fprintf(stderr, "naos-node: fatal: %s\n", err);
        return EXIT_USAGE;
    }
    if (crc != NAOS_OK) {
        fprintf(stderr, "naos-node: fatal: unable to reach the node at %s: "
                "%s\n", url, err);
        return EXIT_TEMP;
    }
    int code = 0;
    if (rep->code != NAOS__V1__ERROR_CODE__OK) {
        fprintf(stderr, "naos-node: fatal: %s\n",
                rep->error ? rep->error : "the node refused");
        /* as naos: busy 1, the node's own trouble 111, the rest 100 */
        code = rep->code == NAOS__V1__ERROR_CODE__BUSY       ? 1
               : rep->code == NAOS__V1__ERROR_CODE__INTERNAL ? EXIT_TEMP
                                                             : EXIT_USAGE;
    } else if (rep->rep_case == NAOS__V1__REPLY__REP_MESSAGE) {
        printf("%s\n", rep->message);
    }
    naos_client_reply_free(rep);
    if (code)
        return code;
    /* Wait for the node to let go of its lock: it has left and stopped. */
    char lock[PATH_MAX + 16];
    snprintf(lock, sizeof lock, "%s/node.lock", run_dir);
    for (int i = 0; i < 600; i++) {
        int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            return 0;
        int busy = flock(fd, LOCK_EX | LOCK_NB) < 0;
        close(fd);
        if (!busy)
            return 0;
        usleep(100 * 1000);
    }
    fprintf(stderr, "naos-node: fatal: the node did not stop within a "
            "minute\n");
    return EXIT_TEMP;
}

int
main(int argc, char **argv)
{
    /* The guardian (node/proc/guardian.h) first, before anything of the
     * node's is set up: it is a small process of its own that the node
     * starts by re-executing this binary; not for people to run. */
    if (argc > 1 && strcmp(argv[1], "guardian") == 0)
        return guardian_main(argc - 1, argv + 1);
    /* What a dead node's guardian execs to tell the cluster (likewise). */
    if (argc > 1 && strcmp(argv[1], "certify") == 0)
        return certify_main(argc - 1, argv + 1);
    /* Before any thread exists (NNG starts its own), so every thread keeps
     * these signals blocked and only the reactor's signalfd sees them. */
    node_block_signals();
    /* While fd numbers are still low: makes spawning independent of how
     * many fds (two per worker) the node holds later. */
    if (proc_spawn_reserve_fds() != NAOS_OK)
        fprintf(stderr, "naos-node: warning: cannot reserve spawn fds; "
                "spawning will slow down as workers are added\n");
    /* Workers inherit our environment: a node itself run under systemd or
     * another naos must not pass its supervisor's notify settings on. The
     * node keeps the address to say READY=1 once it serves. */
    proc_sdnotify_take(&service_manager);
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
        return cmd_start(argc - 1, argv + 1, false);
    if (strcmp(argv[1], "join") == 0)
        return cmd_start(argc - 1, argv + 1, true);
    if (strcmp(argv[1], "leave") == 0)
        return cmd_leave(argc - 1, argv + 1);
    if (strcmp(argv[1], "recover") == 0)
        return node_recover_main(argc - 1, argv + 1);
    fprintf(stderr, "naos-node: fatal: unknown command \"%s\" (see "
            "`naos-node --help`)\n", argv[1]);
    return EXIT_USAGE;
}
