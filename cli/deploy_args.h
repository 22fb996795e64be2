/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_args.h: turn the arguments of `naos deploy` into a spec tree,
 * without talking to the node (so it is testable on its own).
 *
 *   naos deploy NAME [OPTIONS] [-- CMD [ARGS...]]
 *
 * The tree is a top supervisor NAME (one-for-one, the spec's default
 * intensity of 5 restarts in 300 s unless told otherwise) with one
 * worker child NAME running CMD ARGS (no shell). With --replicas N and no
 * --supervisor, or with --supervisor simple-one-for-one, the worker is the
 * template of a simple-one-for-one pool of N; with an explicit one-for-one,
 * one-for-all or rest-for-one, N workers NAME-1..NAME-N are made. */
#ifndef NAOS_CLI_DEPLOY_ARGS_H
#define NAOS_CLI_DEPLOY_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/cli.h"
#include "node/spec/spec.h"

#define DEPLOY_DEFAULT_MAX_RESTARTS SPEC_DEFAULT_MAX_RESTARTS
#define DEPLOY_DEFAULT_WINDOW_S SPEC_DEFAULT_WINDOW_S
#define DEPLOY_MAX_ENV 4096

/* deploy_args_help is the text of `naos deploy --help`. */
extern const char deploy_args_help[];

/* deploy_args_parse parses argv (argv[0] = "deploy"; getopt may permute
 * the elements before `--`) into *out (caller storage, initialised by this
 * call), then runs spec_validate on it. Global options (--json, --run, ...)
 * found among them are stored into g (may be NULL: they are then rejected).
 * If -h/--help is given, sets *help, leaves *out zeroed and returns
 * NAOS_OK. Strings in *out are copies; release with spec_node_fini.
 * Returns NAOS_OK; NAOS_EINVAL with a one-line message in err (caller
 * buffer + length), *out zeroed; or NAOS_ENOMEM. Not thread-safe (getopt). */
int deploy_args_parse(int argc, char **argv, struct cli *g, bool *help,
                      struct spec_node *out, char *err, size_t errlen);

/* struct deploy_extra: what else the arguments said. */
struct deploy_extra {
    bool no_wait;  /* --no-wait */
    const char *name; /* NAME (borrowed from argv), once known */
    bool no_agent; /* the error: no command and no project file defining
                      NAME (the caller shows an example file) */
};

/* deploy_args_parse_ex is deploy_args_parse that also fills *x (caller
 * storage). Without `-- CMD` (or with -f FILE) the agent NAME is read
 * from the project file (./naos.yaml or FILE, spec_yaml_parse_agent) and
 * the flags given override it. Every worker gets an absolute cwd: --cwd
 * resolved against the current directory, else the file's cwd resolved
 * against the file's directory, else that directory (project file) or
 * the current one. */
int deploy_args_parse_ex(int argc, char **argv, struct cli *g, bool *help,
                         struct spec_node *out, struct deploy_extra *x,
                         char *err, size_t errlen);

/* deploy_abs_path writes dir made absolute against base (absolute) into
 * out (caller buffer + length): dir itself when absolute, else base/dir
 * with leading "./" dropped. NAOS_EINVAL when it does not fit. */
int deploy_abs_path(const char *base, const char *dir, char *out,
                    size_t outlen);

#endif
