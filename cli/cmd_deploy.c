/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_deploy.c: `naos deploy` (a spec from flags) and `naos apply` (a spec
 * from YAML). Both end in one DeployRequest. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "cli/deploy_args.h"
#include "cli/start_bound.h"
#include "cli/deploy_wait.h"
#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/spec/spec_yaml.h"
#include "proto/spec_pb.h"

/* Largest spec file read by apply. */
#define APPLY_MAX_FILE (16u * 1024 * 1024)

/* send_spec deploys spec, then (unless no_wait) waits for its first
 * start (deploy_wait.h). */
static int
send_spec(struct cli *c, const struct spec_node *spec, bool no_wait)
{
    Naos__V1__NodeSpec *pb = NULL;
    int rc = spec_pb_from_spec(spec, &pb);
    if (rc != NAOS_OK)
        return cli_fatal(CLI_EXIT_TEMP, "unable to encode the spec: %s",
                         naos_strerror(rc));
    Naos__V1__DeployRequest dr = NAOS__V1__DEPLOY_REQUEST__INIT;
    dr.spec = pb;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
    req.deploy = &dr;
    Naos__V1__Reply *reply = NULL;
    int ec = cli_command(c, &req, &reply);
    spec_pb_free(pb);
    if (ec != 0)
        return ec;
    if (reply->code == NAOS__V1__ERROR_CODE__EXISTS) {
        ec = cli_fatal(CLI_EXIT_USAGE,
                       "deployment %s already exists: run `naos rm %s` first",
                       spec->id, spec->id);
    } else {
        ec = cli_reply_exit(reply);
        if (ec == 0 && !no_wait)
            ec = deploy_wait(c, spec);
        if (ec == 0) {
            char fallback[128];
            snprintf(fallback, sizeof fallback, "deployed %s", spec->id);
            cli_print_deployed(c, reply, fallback, spec);
        }
    }
    naos_client_reply_free(reply);
    return ec;
}

int
cmd_deploy(struct cli *c, int argc, char **argv)
{
    struct spec_node spec;
    struct deploy_extra x;
    bool help = false;
    char err[1024];
    int rc = deploy_args_parse_ex(argc, argv, c, &help, &spec, &x, err,
                                  sizeof err);
    if (rc == NAOS_ENOMEM)
        return cli_fatal(CLI_EXIT_TEMP, "out of memory");
    if (rc != NAOS_OK && x.no_agent && cli_json_errors())
        return cli_fatal(CLI_EXIT_USAGE, "deploy: %s (give the command: naos "
                         "deploy %s [OPTIONS] -- CMD [ARGS...], or define the "
                         "agent under agents: in naos.yaml or -f FILE)",
                         err, x.name ? x.name : "NAME");
    if (rc != NAOS_OK && x.no_agent) {
        const char *name = x.name ? x.name : "NAME";
        fprintf(stderr,
                "naos: fatal: deploy: %s\n"
                "Give the command: naos deploy %s [OPTIONS] -- CMD [ARGS...]\n"
                "or define the agent in naos.yaml (or -f FILE), for example:\n"
                "\n"
                "  agents:\n"
                "    %s:\n"
                "      command: [\"python3\", \"agent.py\"]   # or a string run "
                "by /bin/sh -c\n"
                "      env: {MODEL: small}                # any worker field "
                "of a tree file\n",
                err, name, name);
        return CLI_EXIT_USAGE;
    }
    if (rc != NAOS_OK)
        return cli_usage("deploy", "%s", err);
    if (help) {
        fputs(deploy_args_help, stdout);
        return CLI_EXIT_OK;
    }
    int ec = send_spec(c, &spec, x.no_wait);
    spec_node_fini(&spec);
    return ec;
}

static const char apply_help[] =
    "Usage: naos apply -f FILE [--no-wait]\n"
    "\n"
    "Deploy the tree described by the YAML spec FILE (- reads stdin). The\n"
    "spec is checked locally first; errors name FILE:LINE:COL. A deployment\n"
    "of the same name must not exist yet: run `naos rm NAME` first.\n"
    "\n"
    "After deploying, it prints the most starts one failing worker can\n"
    "cause before the deployment fails: nested intensities multiply (a\n"
    "worker under max_restarts 5 inside max_restarts 5 runs (5+1) x (5+1)\n"
    "= 36 times, as in Erlang/OTP), and warns over 20, naming the\n"
    "supervisors whose max_restarts to lower (--json: max_starts).\n"
    "\n"
    "Supervision follows Erlang/OTP's supervisor, with one deliberate\n"
    "difference: a supervisor that stops a child supervisor in the middle\n"
    "of that child's own restart (waiting out a sibling's shutdown, or a\n"
    "slow ready: notify start) cuts the restart short and stops what still\n"
    "runs. OTP finishes the restart and then stops everything it just\n"
    "started; naos starts nothing only to stop it, since an agent's start\n"
    "can cost money or time. Operator commands (stop, restart, rm) also\n"
    "preempt a restart under way.\n"
    "\n"
    "Workers run in FILE's directory, and a relative cwd is taken from it\n"
    "(as Compose does; stdin: the current directory), sent to the node as\n"
    "absolute paths: naos does not ship code between hosts, so they must\n"
    "exist on the node. Supervisors without an intensity get the default,\n"
    "5 restarts in 300s (as naos deploy).\n"
    "\n"
    "apply waits until the first run of every worker has started (ready:\n"
    "exec, and still running 1s later; ready: notify, READY=1) or failed;\n"
    "a failed first start is reported with its reason, the deployment is\n"
    "removed again, and the exit code is 100.\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE  the spec (required)\n"
    "  --no-wait        return once the node has accepted the deployment\n"
    "\n" CLI_GLOBAL_HELP
    "\n"
    "Example spec:\n"
    "  name: research\n"
    "  supervisor: {strategy: rest-for-one, max_restarts: 5, window: 300s}\n"
    "  children:\n"
    "    - id: fetcher\n"
    "      command: [\"python3\", \"fetch.py\"]\n"
    "    - id: tools\n"
    "      supervisor: {strategy: one-for-one, max_restarts: 3, window: 60s}\n"
    "      children:\n"
    "        - {id: scraper, command: \"./scraper --headless\", watchdog: 30s}\n";

/* read_all reads f to its end into a naos_alloc'd, NUL-terminated buffer.
 * Returns 0, or an errno value (EFBIG when over APPLY_MAX_FILE). */
static int
read_all(FILE *f, char **out, size_t *outlen)
{
    size_t cap = 8192, len = 0;
    char *buf = naos_alloc(cap);
    if (buf == NULL)
        return ENOMEM;
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= APPLY_MAX_FILE) {
                naos_free(buf);
                return EFBIG;
            }
            char *nb = naos_realloc(buf, cap * 2);
            if (nb == NULL) {
                naos_free(buf);
                return ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                int e = errno ? errno : EIO;
                naos_free(buf);
                return e;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return 0;
}

/* resolve_cwds gives every worker under n an absolute cwd: dir (the
 * tree file's directory) when it has none, its own against dir when
 * relative. */
static int
resolve_cwds(struct spec_node *n, const char *dir)
{
    for (size_t i = 0; i < n->nchildren; i++) {
        int rc = resolve_cwds(&n->children[i], dir);
        if (rc != NAOS_OK)
            return rc;
    }
    if (n->is_supervisor)
        return NAOS_OK;
    char abs[PATH_MAX];
    if (deploy_abs_path(dir, n->cwd ? n->cwd : ".", abs, sizeof abs) !=
        NAOS_OK)
        return NAOS_EINVAL;
    char *copy = naos_strdup(abs);
    if (copy == NULL)
        return NAOS_ENOMEM;
    naos_free(n->cwd);
    n->cwd = copy;
    return NAOS_OK;
}

int
cmd_apply(struct cli *c, int argc, char **argv)
{
    enum { O_NO_WAIT = CLI_OPT_FIRST_LOCAL };
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"no-wait", no_argument, NULL, O_NO_WAIT},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL;
    bool no_wait = false;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hf:", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "apply", apply_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (opt == O_NO_WAIT)
            no_wait = true;
        else
            file = optarg;
    }
    if (optind < argc)
        return cli_usage("apply", "unexpected argument \"%s\"", argv[optind]);
    if (file == NULL)
        return cli_usage("apply", "missing -f FILE");
    if (file[0] == '\0')
        return cli_usage("apply", "-f: must not be empty");

    bool is_stdin = strcmp(file, "-") == 0;
    const char *fname = is_stdin ? "<stdin>" : file;
    FILE *f = is_stdin ? stdin : fopen(file, "r");
    if (f == NULL)
        return cli_fatal(cli_errno_exit(errno), "unable to open %s: %s",
                         file, strerror(errno));
    char *text = NULL;
    size_t len = 0;
    int e = read_all(f, &text, &len);
    if (!is_stdin)
        fclose(f);
    if (e == EFBIG)
        return cli_fatal(CLI_EXIT_USAGE, "%s: larger than %u bytes", fname,
                         APPLY_MAX_FILE);
    if (e != 0)
        return cli_fatal(cli_errno_exit(e), "unable to read %s: %s", fname,
                         strerror(e));

    struct spec_node spec;
    char err[1024];
    err[0] = '\0';
    int rc = spec_yaml_parse(fname, text, len, &spec, err, sizeof err);
    naos_free(text);
    if (rc == NAOS_ENOMEM)
        return cli_fatal(CLI_EXIT_TEMP, "out of memory parsing %s", fname);
    if (rc != NAOS_OK) {
        return cli_report(CLI_EXIT_USAGE, NULL, false, "%s",
                          err[0] ? err : "invalid spec");
    }
    char dir[PATH_MAX];
    if (getcwd(dir, sizeof dir) == NULL) {
        spec_node_fini(&spec);
        return cli_fatal(CLI_EXIT_TEMP, "cannot tell the current directory: "
                         "%s", strerror(errno));
    }
    if (!is_stdin) {
        char path[PATH_MAX];
        if (deploy_abs_path(dir, file, path, sizeof path) != NAOS_OK) {
            spec_node_fini(&spec);
            return cli_usage("apply", "-f: path too long");
        }
        char *slash = strrchr(path, '/');
        slash[slash == path ? 1 : 0] = '\0';
        snprintf(dir, sizeof dir, "%s", path);
    }
    rc = resolve_cwds(&spec, dir);
    if (rc != NAOS_OK) {
        spec_node_fini(&spec);
        return rc == NAOS_ENOMEM ? cli_fatal(CLI_EXIT_TEMP, "out of memory")
                                 : cli_usage("apply", "a cwd is too long");
    }
    int ec = send_spec(c, &spec, no_wait);
    spec_node_fini(&spec);
    return ec;
}
