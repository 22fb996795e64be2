/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_keygen.c: `naos keygen FILE`: a new 32-byte cluster key, written
 * atomically with mode 0600. Every node of a cluster is given the same file
 * (`naos-node start --key FILE`). Works without a running node. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "node/auth/keys.h"
#include "node/base/err.h"

static const char keygen_help[] =
    "Usage: naos keygen FILE [--force]\n"
    "\n"
    "Write a new random cluster key to FILE (mode 0600, created atomically)\n"
    "and print its key id. Nodes seal every message to each other with it:\n"
    "give the same file to every node (`naos-node start --key FILE`). A key\n"
    "file that others can read is refused by the node.\n"
    "\n"
    "Options:\n"
    "  --force          replace FILE if it exists (default: refuse)\n"
    "\n" CLI_GLOBAL_HELP;

int
cmd_keygen(struct cli *c, int argc, char **argv)
{
    bool force = false;
    int prc = cli_parse_globals_force(c, "keygen", keygen_help, argc, argv, &force);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind >= argc)
        return cli_usage("keygen", "missing FILE");
    const char *path = argv[optind++];
    if (optind < argc)
        return cli_usage("keygen", "unexpected argument \"%s\"", argv[optind]);
    struct auth_key key = {0};
    char err[512];
    int rc = auth_keyfile_generate(path, force, &key, err, sizeof err);
    if (rc != NAOS_OK) /* ESYS keeps errno: a missing directory is 100 */
        return cli_fatal(rc == NAOS_EEXIST || rc == NAOS_EINVAL
                             ? CLI_EXIT_USAGE
                         : rc == NAOS_ESYS ? cli_errno_exit(errno)
                                           : CLI_EXIT_TEMP,
                         "%s", err);
    char id[16];
    snprintf(id, sizeof id, "%08x", key.id);
    auth_key_fini(&key);
    if (c->json) {
        json_t *j = json_pack("{s:s, s:s}", "path", path, "key_id", id);
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else {
        printf("wrote cluster key %s to %s (mode 0600)\n", id, path);
    }
    return 0;
}
