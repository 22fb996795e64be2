/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_checkpoint.c: `naos checkpoint save|load`: an agent's small state
 * blob kept by the node (in its store, later replicated), so a restarted
 * or moved agent resumes where it left off. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "proto/status_json.h"

/* The node refuses more; reading one byte beyond it tells us early. */
#define CKPT_MAX ((1u << 20) - 4096) /* STORE_CKPT_MAX */

static const char checkpoint_help[] =
    "Usage: naos checkpoint save [NAME] [-f FILE|-] [--epoch E]\n"
    "       naos checkpoint load [NAME] [-o FILE]\n"
    "\n"
    "Save or load the checkpoint of agent NAME: a blob of at most\n"
    "1 MiB - 4 KiB (1044480 bytes) that the node keeps in its store, so\n"
    "the agent finds it again after a restart (and, in a cluster, on\n"
    "whichever host it lands). NAME is the agent's path as shown by\n"
    "`naos status`; a deployment (or supervisor) with one worker names that\n"
    "worker's checkpoint too: one checkpoint per worker. Inside an agent, naos talks to the agent endpoint in $NAOS_CTL\n"
    "and NAME defaults to the agent's own checkpoint (the node knows which\n"
    "agent asks); an agent may save and load only its own unless its spec\n"
    "grants it control (`control: full`).\n"
    "\n"
    "save reads the data from FILE, or from standard input (default, or -).\n"
    "load writes it to FILE, or to standard output (default); with --json it\n"
    "prints what is saved (path, seq, size, saved_at, saved_by: the agent\n"
    "path and the pid and restart count of the run that saved it, or null\n"
    "when the operator did) instead of the data.\n"
    "load exits 1 when nothing has been saved yet.\n"
    "\n"
    "Epochs: each deployment's placement has an epoch (the log index of the\n"
    "entry that placed it, in a run's $NAOS_EPOCH); it changes when the\n"
    "deployment is moved, or removed and deployed again. An agent's save is\n"
    "fenced by the epoch its run was started with (the node stamps it; the\n"
    "agent cannot choose or clear it): once its deployment runs at another\n"
    "epoch, nothing is saved and naos exits 100 with \"stale epoch: this\n"
    "deployment now runs on NODE at epoch E\". --epoch E fences an\n"
    "operator's or a script's save the same way; without it the operator's\n"
    "save is an override, saved whatever the epoch.\n"
    "\n"
    "Options:\n"
    "  -f, --file FILE  save: read the data from FILE (- = stdin)\n"
    "  --epoch E        save: only while the deployment's placement epoch is\n"
    "                   E (a positive integer, e.g. $NAOS_EPOCH)\n"
    "  -o, --output FILE  load: write the data to FILE\n"
    "\n" CLI_GLOBAL_HELP;

/* Reads at most CKPT_MAX + 1 bytes of f into a new buffer. */
static int
read_all(FILE *f, const char *what, uint8_t **out, size_t *len)
{
    uint8_t *buf = malloc(CKPT_MAX + 1);
    if (buf == NULL)
        return cli_fatal(CLI_EXIT_TEMP, "out of memory");
    size_t n = fread(buf, 1, CKPT_MAX + 1, f);
    if (ferror(f)) {
        free(buf);
        int e = errno;
        return cli_fatal(cli_errno_exit(e), "unable to read %s: %s", what,
                         strerror(e));
    }
    if (n > CKPT_MAX) {
        free(buf);
        return cli_fatal(CLI_EXIT_USAGE,
                         "checkpoint: %s holds more than 1 MiB - 4 KiB "
                         "(1044480 bytes): save less, or store large state elsewhere "
                         "and checkpoint a reference to it", what);
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Formats wall_ms like every naos timestamp into tbuf (64 bytes). */
static const char *
time_str(int64_t wall_ms, char *tbuf)
{
    return status_json_time(wall_ms, tbuf, 64);
}

/* parse_epoch: a positive decimal number that fits 64 bits; no sign,
 * no spaces. */
static bool
parse_epoch(const char *s, uint64_t *out)
{
    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return false;
    *out = v;
    return true;
}

static int
save(struct cli *c, const char *name, const char *file, uint64_t epoch)
{
    FILE *f = stdin;
    const char *what = "standard input";
    if (file && strcmp(file, "-") != 0) {
        f = fopen(file, "rb");
        if (f == NULL)
            return cli_fatal(cli_errno_exit(errno),
                             "checkpoint: unable to open %s: %s", file,
                             strerror(errno));
        what = file;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = read_all(f, what, &data, &len);
    if (f != stdin)
        fclose(f);
    if (rc)
        return rc;
    Naos__V1__CheckpointSaveRequest sr = NAOS__V1__CHECKPOINT_SAVE_REQUEST__INIT;
    sr.name = (char *)name;
    sr.data.data = data;
    sr.data.len = len;
    sr.epoch = epoch;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_CHECKPOINT_SAVE;
    req.checkpoint_save = &sr;
    Naos__V1__Reply *reply = NULL;
    rc = cli_command(c, &req, &reply);
    free(data);
    if (rc)
        return rc;
    rc = cli_reply_exit(reply);
    if (rc == 0 && reply->rep_case == NAOS__V1__REPLY__REP_CHECKPOINT) {
        const Naos__V1__CheckpointReply *cr = reply->checkpoint;
        char tbuf[64];
        if (c->json) {
            json_t *j = json_pack("{s:s, s:I, s:I, s:s}", "path", cr->path,
                                  "seq", (json_int_t)cr->seq, "size",
                                  (json_int_t)cr->size, "saved_at",
                                  time_str(cr->saved_at_ms, tbuf));
            json_dumpf(j, stdout, JSON_INDENT(2));
            putchar('\n');
            json_decref(j);
        } else {
            printf("saved checkpoint %llu of %s (%llu bytes)\n",
                   (unsigned long long)cr->seq, cr->path,
                   (unsigned long long)cr->size);
        }
    }
    naos_client_reply_free(reply);
    return rc;
}

static int
load(struct cli *c, const char *name, const char *file)
{
    Naos__V1__CheckpointLoadRequest lr = NAOS__V1__CHECKPOINT_LOAD_REQUEST__INIT;
    lr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_CHECKPOINT_LOAD;
    req.checkpoint_load = &lr;
    Naos__V1__Reply *reply = NULL;
    int rc = cli_call(c, &req, &reply);
    if (rc)
        return rc;
    rc = cli_reply_exit(reply);
    if (rc != 0 || reply->rep_case != NAOS__V1__REPLY__REP_CHECKPOINT) {
        naos_client_reply_free(reply);
        return rc ? rc : cli_fatal(CLI_EXIT_TEMP, "unexpected reply");
    }
    const Naos__V1__CheckpointReply *cr = reply->checkpoint;
    char tbuf[64];
    if (c->json) {
        json_t *by = cr->saved_by_agent && cr->saved_by_agent[0]
                         ? json_pack("{s:s, s:i, s:I}", "agent",
                                     cr->saved_by_agent, "pid",
                                     (int)cr->saved_by_pid, "restarts",
                                     (json_int_t)cr->saved_by_restarts)
                         : json_null();
        json_t *j = cr->seq == 0
                        ? json_pack("{s:s, s:n}", "path", cr->path, "seq")
                        : json_pack("{s:s, s:I, s:I, s:s, s:O}", "path",
                                    cr->path, "seq", (json_int_t)cr->seq,
                                    "size", (json_int_t)cr->size, "saved_at",
                                    time_str(cr->saved_at_ms, tbuf),
                                    "saved_by", by);
        json_decref(by);
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
        rc = cr->seq == 0 ? CLI_EXIT_NO : 0;
    } else if (cr->seq == 0) {
        fprintf(stderr, "naos: no checkpoint saved for %s yet\n", cr->path);
        rc = CLI_EXIT_NO;
    } else {
        FILE *f = stdout;
        if (file && strcmp(file, "-") != 0 && (f = fopen(file, "wb")) == NULL)
            rc = cli_fatal(cli_errno_exit(errno),
                           "checkpoint: unable to create %s: %s", file,
                           strerror(errno));
        else if (fwrite(cr->data.data, 1, cr->data.len, f) != cr->data.len ||
                 fflush(f) != 0)
            rc = cli_fatal(CLI_EXIT_TEMP, "checkpoint: unable to write: %s",
                           strerror(errno));
        if (f && f != stdout)
            fclose(f);
    }
    naos_client_reply_free(reply);
    return rc;
}

int
cmd_checkpoint(struct cli *c, int argc, char **argv)
{
    enum { O_EPOCH = CLI_OPT_FIRST_LOCAL };
    static const struct option longopts[] = {
        {"file", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"epoch", required_argument, NULL, O_EPOCH},
        CLI_GLOBAL_LONGOPTS,
        {NULL, 0, NULL, 0},
    };
    const char *file = NULL, *output = NULL;
    bool has_epoch = false;
    uint64_t epoch = 0;
    optind = 0;
    opterr = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, ":hf:o:", longopts, NULL)) != -1) {
        int rc = cli_opt_common(c, "checkpoint", checkpoint_help, opt, argv);
        if (rc == CLI_OPT_NEXT)
            continue;
        if (rc != CLI_OPT_LOCAL)
            return rc;
        if (opt == 'f') {
            file = optarg;
        } else if (opt == O_EPOCH) {
            if (!parse_epoch(optarg, &epoch))
                return cli_usage("checkpoint",
                                 "--epoch: \"%s\" is not an epoch (a whole "
                                 "number from 1, the deployment's placement "
                                 "epoch as in $NAOS_EPOCH; leave --epoch out "
                                 "to save unfenced)",
                                 optarg);
            has_epoch = true;
        } else {
            output = optarg;
        }
    }
    if (optind >= argc)
        return cli_usage("checkpoint", "missing save or load");
    const char *verb = argv[optind++];
    /* No NAME: the caller's own checkpoint, which the node finds from
     * who is asking (an agent); an operator is told to give one. */
    const char *name = optind < argc ? argv[optind++] : "";
    if (optind < argc)
        return cli_usage("checkpoint", "unexpected argument \"%s\"",
                         argv[optind]);
    if (strcmp(verb, "save") == 0) {
        if (output)
            return cli_usage("checkpoint", "-o is for load; save takes -f");
        return save(c, name, file, epoch);
    }
    if (strcmp(verb, "load") == 0) {
        if (file)
            return cli_usage("checkpoint", "-f is for save; load takes -o");
        if (has_epoch)
            return cli_usage("checkpoint", "--epoch is for save; a load is "
                             "not fenced");
        return load(c, name, output);
    }
    return cli_usage("checkpoint", "unknown action \"%s\" (save or load)",
                     verb);
}
