/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_snapshot.c: `naos snapshot save FILE`: a consistent backup of the
 * cluster state as the node applied it (store/snapshot.h's format). The
 * node writes the snapshot into a file of its own from one read
 * transaction; this side fetches it by pages (each a bounded reply),
 * checks the copy against the node's checksum, and puts FILE in place
 * atomically (temporary file in FILE's directory, fsync, rename, fsync of
 * the directory). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "node/auth/digest.h"
#include "node/base/err.h"
#include "proto/status_json.h"

#define SUM_LEN AUTH_HASH_BYTES

static const char snapshot_help[] =
    "Usage: naos snapshot save FILE [--force]\n"
    "\n"
    "Write a consistent backup of the cluster state to FILE: every\n"
    "deployment, placement and checkpoint as this node applied them, after\n"
    "one entry of the replicated log (the snapshot names it: `index`).\n"
    "Ask the leader for the latest state: a follower's may trail it by the\n"
    "entries it has not applied yet. The node writes the snapshot into a\n"
    "file of its data directory from one read of its store (writes go on\n"
    "meanwhile; its loop waits while the file is written, a few ms per MiB\n"
    "of state); naos fetches it in pages of 1 MiB, checks the copy against\n"
    "the node's BLAKE2b-256 checksum, and writes FILE atomically (a\n"
    "temporary file beside it, fsync, rename): FILE is the whole snapshot\n"
    "or is left as it was. Progress goes to stderr for saves over 1 s.\n"
    "A node that goes away mid-fetch (unreachable, silent for --timeout,\n"
    "or restarted) ends the save with exit 111, FILE as it was: save\n"
    "again.\n"
    "\n"
    "`naos-node recover --from FILE --data DIR` builds a new one-voter\n"
    "cluster from it (see `naos-node recover --help`).\n"
    "\n"
    "An existing FILE is refused unless --force is given (a backup is not\n"
    "replaced by mistake). With --json prints {file, index, term,\n"
    "cluster_id, bytes, checksum, entries, deployments, placements,\n"
    "checkpoints, created_at, node_write_ms, seconds}.\n"
    "\n"
    "Options:\n"
    "  --force          replace FILE if it exists\n"
    "\n" CLI_GLOBAL_HELP;

/* The begin of a save: its reply once the node has written the file.
 * Returns 0 with *out, or an exit code (message printed). */
static int
begin(struct cli *c, Naos__V1__Reply **out)
{
    Naos__V1__SnapshotRequest sr = NAOS__V1__SNAPSHOT_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_SNAPSHOT;
    req.snapshot = &sr;
    int rc = cli_call(c, &req, out);
    if (rc)
        return rc;
    if ((rc = cli_reply_exit(*out)) != 0) {
        naos_client_reply_free(*out);
        *out = NULL;
        return rc;
    }
    if ((*out)->rep_case != NAOS__V1__REPLY__REP_SNAPSHOT) {
        naos_client_reply_free(*out);
        *out = NULL;
        return cli_fatal(CLI_EXIT_TEMP, "snapshot: unexpected reply (is "
                         "naos-node older than naos? upgrade it)");
    }
    return 0;
}

/* A page of save id at offset, or its release, asked of the node that
 * answered the begin (c->url), printing nothing. Returns NAOS_OK with
 * *out (whatever its code), or naos_client_call's error, err saying why:
 * the node could not be reached, closed the connection, or did not
 * answer within --timeout. */
static int
ask_quiet(struct cli *c, uint64_t id, uint64_t offset, bool release,
          Naos__V1__Reply **out, char *err, size_t errlen)
{
    Naos__V1__SnapshotRequest sr = NAOS__V1__SNAPSHOT_REQUEST__INIT;
    sr.id = id;
    sr.offset = offset;
    sr.release = release;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_SNAPSHOT;
    req.snapshot = &sr;
    return naos_client_call(c->url, &req, out, c->timeout_ms, err, errlen);
}

/* struct dest: where the copy goes: FILE and whether it existed (--force),
 * for the words of a failure; tmp, the temporary file beside it. */
struct dest {
    const char *file;
    bool existed;
    const char *tmp;
};

/* The save lost its node after off of size bytes (why: the transport's
 * words or the node's): the temporary file is removed by the caller, so
 * FILE is as it was. Trying again is all it takes: code 111, unless the
 * control socket can no longer be trusted (100). */
static int
lost(int code, const char *what, uint64_t off, uint64_t size,
     const char *why, const struct dest *to)
{
    char fate[PATH_MAX + 64];
    if (to->existed)
        snprintf(fate, sizeof fate, "%s is left as it was", to->file);
    else
        snprintf(fate, sizeof fate, "nothing was written to %s", to->file);
    return cli_fatal(code, "snapshot: %s after %llu of %llu bytes (%s); %s: "
                     "run `naos snapshot save` again once the node answers",
                     what, (unsigned long long)off, (unsigned long long)size,
                     why, fate);
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[b[i] >> 4];
        out[2 * i + 1] = d[b[i] & 15];
    }
    out[2 * n] = '\0';
}

/* fetch: every page of save info->id into fd; checks the copy. *gone is
 * set when the node went away or no longer has the save (nothing left
 * to release). */
static int
fetch(struct cli *c, const Naos__V1__SnapshotReply *info, int fd,
      const struct dest *to, double t0, bool *gone)
{
    struct auth_hash h;
    auth_hash_init(&h);
    unsigned char tail[SUM_LEN];
    uint64_t off = 0, size = info->size;
    double said = t0;
    if (size < SUM_LEN)
        return cli_fatal(CLI_EXIT_TEMP, "snapshot: the node's snapshot is "
                         "%llu bytes, too short", (unsigned long long)size);
    while (off < size) {
        if (cli_stop_requested())
            return cli_fatal(CLI_EXIT_TEMP, "snapshot: interrupted");
        Naos__V1__Reply *r = NULL;
        char why[PATH_MAX + 256];
        int rc = ask_quiet(c, info->id, off, false, &r, why, sizeof why);
        if (rc != NAOS_OK) {
            *gone = true;
            if (rc == NAOS_EAUTH) /* its socket changed hands */
                return lost(CLI_EXIT_USAGE, "the control socket is no "
                            "longer safe to use", off, size, why, to);
            return lost(CLI_EXIT_TEMP, "naos-node went away", off, size,
                        why, to);
        }
        if (r->code == NAOS__V1__ERROR_CODE__NOT_FOUND) {
            /* it restarted, or dropped the save after 60 s idle */
            *gone = true;
            snprintf(why, sizeof why, "%s",
                     r->error && r->error[0] ? r->error : "not found");
            naos_client_reply_free(r);
            return lost(CLI_EXIT_TEMP, "naos-node dropped the save", off,
                        size, why, to);
        }
        if ((rc = cli_reply_exit(r)) != 0) {
            naos_client_reply_free(r);
            return rc;
        }
        if (r->rep_case != NAOS__V1__REPLY__REP_SNAPSHOT) {
            naos_client_reply_free(r);
            return cli_fatal(CLI_EXIT_TEMP, "snapshot: unexpected reply (is "
                             "naos-node older than naos? upgrade it)");
        }
        const Naos__V1__SnapshotReply *p = r->snapshot;
        if (p->offset != off || p->data.len == 0 ||
            p->data.len > size - off) {
            naos_client_reply_free(r);
            return cli_fatal(CLI_EXIT_TEMP, "snapshot: the node answered a "
                             "page at %llu for %llu", (unsigned long long)
                             p->offset, (unsigned long long)off);
        }
        /* the last SUM_LEN bytes are the checksum, not summed */
        uint64_t body = size - SUM_LEN;
        for (size_t i = 0; i < p->data.len; i++)
            if (off + i >= body)
                tail[off + i - body] = p->data.data[i];
        if (off < body)
            auth_hash_update(&h, p->data.data,
                             (size_t)(body - off < p->data.len
                                          ? body - off
                                          : p->data.len));
        if (write_all(fd, p->data.data, p->data.len) != 0) {
            int e = errno;
            naos_client_reply_free(r);
            return cli_fatal(cli_errno_exit(e), "snapshot: unable to write "
                             "%s: %s", to->tmp, strerror(e));
        }
        off += p->data.len;
        naos_client_reply_free(r);
        double t = now_s();
        if (t - said >= 1.0 && off < size) {
            cli_info("snapshot: %llu of %llu bytes (%llu%%)",
                     (unsigned long long)off, (unsigned long long)size,
                     (unsigned long long)(off * 100 / size));
            said = t;
        }
    }
    unsigned char sum[SUM_LEN];
    auth_hash_final(&h, sum);
    char got[2 * SUM_LEN + 1];
    hex(sum, SUM_LEN, got);
    if (memcmp(sum, tail, SUM_LEN) != 0 || info->checksum == NULL ||
        strcmp(got, info->checksum) != 0)
        return cli_fatal(CLI_EXIT_TEMP, "snapshot: the copy does not match "
                         "the node's checksum %s (got %s): try again",
                         info->checksum ? info->checksum : "(none)", got);
    return 0;
}

static int
save(struct cli *c, const char *file, bool force)
{
    struct stat st;
    bool existed = false;
    if (stat(file, &st) == 0) {
        existed = true;
        if (S_ISDIR(st.st_mode))
            return cli_fatal(CLI_EXIT_USAGE, "snapshot: %s is a directory: "
                             "give a file name", file);
        if (!force)
            return cli_fatal(CLI_EXIT_USAGE, "snapshot: %s exists: give "
                             "--force to replace it (nothing was saved)",
                             file);
    } else if (errno != ENOENT) {
        return cli_fatal(cli_errno_exit(errno), "snapshot: unable to check "
                         "%s: %s", file, strerror(errno));
    }
    /* The temporary file first: an unwritable directory is refused
     * before the node does any work. */
    char dbuf[PATH_MAX], bbuf[PATH_MAX], tmp[PATH_MAX + 32];
    snprintf(dbuf, sizeof dbuf, "%s", file);
    snprintf(bbuf, sizeof bbuf, "%s", file);
    const char *dir = dirname(dbuf), *base = basename(bbuf);
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, base) >=
        sizeof tmp)
        return cli_fatal(CLI_EXIT_USAGE, "snapshot: %s: name too long",
                         file);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return cli_fatal(cli_errno_exit(errno), "snapshot: unable to create "
                         "a file in %s: %s", dir, strerror(errno));
    cli_install_stop_signals();
    double t0 = now_s();
    Naos__V1__Reply *r = NULL;
    int rc = begin(c, &r);
    if (rc) {
        close(fd);
        unlink(tmp);
        return rc;
    }
    const Naos__V1__SnapshotReply *info = r->snapshot;
    struct dest to = {file, existed, tmp};
    bool gone = false;
    rc = fetch(c, info, fd, &to, t0, &gone);
    /* The node drops its file now, whatever happened here; one that went
     * away has nothing to drop (a restart forgot it; one that stopped
     * answering drops it after 60 s idle), and asking it would cost
     * another --timeout. Quiet: the outcome is said above or below. */
    Naos__V1__Reply *rel = NULL;
    char err[PATH_MAX + 256];
    if (!gone && ask_quiet(c, info->id, 0, true, &rel, err, sizeof err) ==
                     NAOS_OK)
        naos_client_reply_free(rel);
    if (rc == 0 && fsync(fd) != 0)
        rc = cli_fatal(cli_errno_exit(errno), "snapshot: unable to sync %s: "
                       "%s", tmp, strerror(errno));
    if (close(fd) != 0 && rc == 0)
        rc = cli_fatal(cli_errno_exit(errno), "snapshot: unable to write "
                       "%s: %s", tmp, strerror(errno));
    if (rc == 0 && rename(tmp, file) != 0)
        rc = cli_fatal(cli_errno_exit(errno), "snapshot: unable to rename "
                       "%s to %s: %s", tmp, file, strerror(errno));
    if (rc != 0) {
        unlink(tmp);
        naos_client_reply_free(r);
        return rc;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) { /* the rename itself durable */
        fsync(dfd);
        close(dfd);
    }
    double secs = now_s() - t0;
    char tbuf[64];
    status_json_time(info->created_at_ms, tbuf, sizeof tbuf);
    if (c->json) {
        char cid[17];
        snprintf(cid, sizeof cid, "%016llx",
                 (unsigned long long)info->cluster_id);
        json_t *j = json_pack(
            "{s:s, s:I, s:I, s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:s, s:I, "
            "s:f}",
            "file", file, "index", (json_int_t)info->index, "term",
            (json_int_t)info->term, "cluster_id", cid, "bytes",
            (json_int_t)info->size, "checksum", info->checksum, "entries",
            (json_int_t)info->entries, "deployments",
            (json_int_t)info->deployments, "placements",
            (json_int_t)info->placements, "checkpoints",
            (json_int_t)info->checkpoints, "created_at", tbuf,
            "node_write_ms", (json_int_t)info->write_ms, "seconds", secs);
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    } else {
        printf("saved snapshot of entry %llu (cluster %016llx: %llu "
               "deployments, %llu checkpoints) to %s: %llu bytes, blake2b "
               "%s\n",
               (unsigned long long)info->index,
               (unsigned long long)info->cluster_id,
               (unsigned long long)info->deployments,
               (unsigned long long)info->checkpoints, file,
               (unsigned long long)info->size, info->checksum);
    }
    naos_client_reply_free(r);
    return 0;
}

int
cmd_snapshot(struct cli *c, int argc, char **argv)
{
    bool force = false;
    int prc = cli_parse_globals_force(c, "snapshot", snapshot_help, argc, argv, &force);
    if (prc != CLI_OPT_NEXT)
        return prc;
    if (optind >= argc)
        return cli_usage("snapshot", "missing save");
    const char *verb = argv[optind++];
    if (strcmp(verb, "save") != 0)
        return cli_usage("snapshot", "unknown action \"%s\" (save; restore "
                         "is `naos-node recover --from FILE`)", verb);
    if (optind >= argc)
        return cli_usage("snapshot", "missing FILE");
    const char *file = argv[optind++];
    if (optind < argc)
        return cli_usage("snapshot", "unexpected argument \"%s\"",
                         argv[optind]);
    return save(c, file, force);
}
