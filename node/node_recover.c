/* SPDX-License-Identifier: Apache-2.0 */
/* node_recover.c: `naos-node recover`, the way back when the voter
 * majority is lost for good (docs/architecture.md "Snapshots and
 * recovery"): a data directory for a new one-voter cluster, from a
 * snapshot file (`--from FILE`, etcd's `snapshot restore`) or from a
 * surviving voter's own data (etcd's `--force-new-cluster`). Runs with
 * the node stopped (the store's lock refuses a running one); the store is
 * changed in one transaction (store/recover.h), so a refused or failed
 * recover changes nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/safefile.h"
#include "node/base/time.h"
#include "node/node.h"
#include "store/raftlog.h"
#include "store/recover.h"
#include "store/snapshot.h"
#include "store/state.h"
#include "store/store.h"

#define EXIT_USAGE 100
#define EXIT_TEMP 111

static const char recover_usage[] =
    "usage: naos-node recover --data DIR [--from FILE] [--force]\n"
    "\n"
    "Rebuilds a cluster of ONE voter when the majority of its voters is\n"
    "lost for good (a cluster without its majority takes no writes: see\n"
    "README \"Disaster recovery\"). Run it with the node stopped, then\n"
    "`naos-node start --data DIR`.\n"
    "\n"
    "  --from FILE   the new node's state is the snapshot FILE (`naos\n"
    "                snapshot save`); DIR must be missing or empty, or be\n"
    "                this node's old data directory and --force given\n"
    "                (its node id is kept, everything it held is replaced)\n"
    "  (no --from)   DIR is a surviving voter's own data directory: it\n"
    "                keeps the state it applied; entries of its log it had\n"
    "                not applied are dropped (it refuses when some of them\n"
    "                were committed: start it once, stop it, run again)\n"
    "  --force       with --from: replace an old data directory's state\n"
    "\n"
    "Either way the node becomes the only voter of a NEW cluster (a new\n"
    "cluster id, as etcd's `snapshot restore`: members of the old cluster\n"
    "that come back are refused by it; but two old voters back together\n"
    "are a majority of the OLD cluster and would run its deployments\n"
    "again beside these: wipe their data before restarting them). The\n"
    "recovery is one more entry of the log (state after entry N: entry\n"
    "N+1, in a new term), and every deployment is placed on this node\n"
    "with that entry as its epoch: the nodes it ran on are gone, and a\n"
    "deployment placed on one would never run again. It stays a cluster\n"
    "of one voter: adding voters needs membership changes, which naos\n"
    "does not have yet.\n"
    "\n"
    "exit codes: 0 done; 100 refused (bad usage, a bad snapshot, a\n"
    "directory that is not ours, committed entries not applied yet);\n"
    "111 temporary (the node runs, I/O or system failure)\n";

static int
fatal(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
fatal(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("naos-node: fatal: recover: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int
random_id(uint64_t *out)
{
    uint64_t v = 0;
    while (v == 0)
        if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v) {
            if (errno == EINTR)
                continue;
            return NAOS_ESYS;
        }
    *out = v;
    return NAOS_OK;
}

/* What DIR is: missing, an empty directory, a node's data directory (it
 * has DIR/store), or something else. */
enum dir_kind { DIR_MISSING, DIR_EMPTY, DIR_NAOS, DIR_OTHER, DIR_ERROR };

static enum dir_kind
dir_kind(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? DIR_MISSING : DIR_ERROR;
    bool any = false, store = false;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        any = true;
        if (strcmp(e->d_name, "store") == 0)
            store = true;
    }
    closedir(d);
    return store ? DIR_NAOS : any ? DIR_OTHER : DIR_EMPTY;
}

struct finish_args {
    struct store_recover r;
    struct store_recover_result res;
};

static int
finish(struct store_txn *t, const struct snap_info *info, void *arg)
{
    (void)info;
    struct finish_args *a = arg;
    return store_recover_txn(t, &a->r, &a->res);
}

static int
rebuild_fn(struct store_txn *t, void *arg)
{
    struct finish_args *a = arg;
    return store_recover_txn(t, &a->r, &a->res);
}

static void
say_done(const char *dir, const struct finish_args *a, uint64_t cluster_id)
{
    printf("naos-node recover: %s is now a cluster of one voter, node "
           "%016llx, new cluster %016llx\n"
           "  state after entry %llu; the recovery is entry %llu, term %llu\n"
           "  %llu deployments placed on this node (%llu moved from other "
           "nodes)\n",
           dir, (unsigned long long)a->r.node_id,
           (unsigned long long)cluster_id,
           (unsigned long long)a->res.applied,
           (unsigned long long)a->res.index, (unsigned long long)a->res.term,
           (unsigned long long)a->res.placed,
           (unsigned long long)a->res.moved);
    if (a->res.dropped)
        printf("  %llu %s of the log that %s not applied %s dropped\n",
               (unsigned long long)a->res.dropped,
               a->res.dropped == 1 ? "entry" : "entries",
               a->res.dropped == 1 ? "was" : "were",
               a->res.dropped == 1 ? "was" : "were");
    printf("start it with: naos-node start --data %s\n", dir);
}

static int
open_store(const char *dir, struct store **s)
{
    char sdir[PATH_MAX + 16], err[1024];
    snprintf(sdir, sizeof sdir, "%s/store", dir);
    int rc = store_open(s, sdir, NULL, err, sizeof err);
    if (rc != NAOS_OK)
        return fatal(rc == NAOS_EBUSY || rc == NAOS_ESYS ? EXIT_TEMP
                                                         : EXIT_USAGE,
                     "%s", err);
    return 0;
}

/* --data DIR without --from: the survivor's own data. */
static int
from_survivor(const char *dir)
{
    if (dir_kind(dir) != DIR_NAOS)
        return fatal(EXIT_USAGE, "%s is not a naos-node data directory (no "
                     "%s/store): give the surviving voter's --data, or "
                     "--from FILE to start from a snapshot", dir, dir);
    struct store *s = NULL;
    int code = open_store(dir, &s);
    if (code)
        return code;
    struct store_identity id;
    uint64_t cluster_id = 0;
    if (store_identity_get(s, &id) != NAOS_OK) {
        code = fatal(EXIT_USAGE, "%s holds no node identity: %s", dir,
                     store_errmsg(s));
        goto out;
    }
    if (random_id(&cluster_id) != NAOS_OK) {
        code = fatal(EXIT_TEMP, "getrandom: %s", strerror(errno));
        goto out;
    }
    struct finish_args a = {{id.node_id, cluster_id, id.created_at_ms, true},
                            {0}};
    int rc = store_write(s, rebuild_fn, &a);
    if (rc != NAOS_OK) {
        code = fatal(rc == NAOS_EBUSY || rc == NAOS_EINVAL ? EXIT_USAGE
                                                           : EXIT_TEMP,
                     "%s: nothing changed", store_errmsg(s));
        goto out;
    }
    say_done(dir, &a, cluster_id);
out:
    store_close(s);
    return code;
}

/* --from FILE. */
static int
from_file(const char *dir, const char *file, bool force)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fatal(errno == ENOENT || errno == EACCES || errno == EISDIR
                         ? EXIT_USAGE
                         : EXIT_TEMP,
                     "cannot open %s: %s", file, strerror(errno));
    struct snap_fd f = {fd};
    struct snap_reader r = {store_snap_fd_read, store_snap_fd_rewind, &f};
    struct snap_info info;
    char err[1024];
    /* the whole file checked before the directory is touched */
    int rc = store_snap_verify(&r, NULL, &info, err, sizeof err);
    if (rc != NAOS_OK) {
        close(fd);
        return fatal(rc == NAOS_ESYS || rc == NAOS_ENOMEM ? EXIT_TEMP
                                                          : EXIT_USAGE,
                     "%s: %s", file, err);
    }
    enum dir_kind k = dir_kind(dir);
    bool made = false;
    int code = 0;
    struct store *s = NULL;
    if (k == DIR_ERROR || k == DIR_OTHER) {
        int e = errno;
        close(fd);
        return k == DIR_ERROR
                   ? fatal(e == EACCES || e == ENOTDIR ? EXIT_USAGE
                                                       : EXIT_TEMP,
                           "cannot read %s: %s", dir, strerror(e))
                   : fatal(EXIT_USAGE, "%s is not empty and is not a "
                           "naos-node data directory: give a new or empty "
                           "--data DIR (nothing changed)", dir);
    }
    if (k == DIR_NAOS && !force) {
        close(fd);
        return fatal(EXIT_USAGE, "%s is a naos-node data directory: give "
                     "--force to replace its state by the snapshot's (its "
                     "node id is kept), or a new --data DIR (nothing "
                     "changed)", dir);
    }
    if (k == DIR_MISSING) {
        if (mkdir(dir, 0700) != 0) {
            close(fd);
            return fatal(errno == ENOENT || errno == EACCES ? EXIT_USAGE
                                                            : EXIT_TEMP,
                         "cannot create %s: %s", dir, strerror(errno));
        }
        made = true;
    }
    if ((code = open_store(dir, &s)) != 0)
        goto fail;
    struct store_identity id = STORE_IDENTITY_ZERO;
    rc = k == DIR_NAOS ? store_identity_get(s, &id) : NAOS_ENOTFOUND;
    if (rc == NAOS_ENOTFOUND) {
        id.created_at_ms = naos_clock_wall_ms();
        rc = random_id(&id.node_id);
    }
    uint64_t cluster_id = 0;
    if (rc == NAOS_OK)
        rc = random_id(&cluster_id);
    if (rc != NAOS_OK) {
        code = fatal(EXIT_TEMP, "cannot read or make the node id: %s",
                     store_errmsg(s));
        goto fail;
    }
    struct finish_args a = {{id.node_id, cluster_id, id.created_at_ms, false},
                            {0}};
    /* an old data dir may have applied more than the snapshot: its log
     * is rebuilt in the same transaction (finish) */
    struct snap_limits lim = {0, true};
    rc = store_snap_load(s, &r, &lim, finish, &a, &info, err, sizeof err);
    if (rc != NAOS_OK) {
        code = fatal(rc == NAOS_EINVAL || rc == NAOS_ETOOBIG ? EXIT_USAGE
                                                             : EXIT_TEMP,
                     "%s: %s (nothing changed)", file, err);
        goto fail;
    }
    close(fd);
    store_close(s);
    printf("naos-node recover: loaded %s: cluster %016llx's state after "
           "entry %llu (%llu entries, %llu bytes)\n", file,
           (unsigned long long)info.cluster_id,
           (unsigned long long)info.index, (unsigned long long)info.entries,
           (unsigned long long)info.bytes);
    say_done(dir, &a, cluster_id);
    return 0;
fail:
    close(fd);
    store_close(s);
    if (made) { /* what this run created goes again */
        int pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd >= 0) {
            safefile_remove_tree(pfd, "store");
            close(pfd);
        }
        rmdir(dir);
    }
    return code;
}

int
node_recover_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, 'f'},
        {"force", no_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *file = NULL;
    bool force = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'f':
            file = optarg;
            break;
        case 'F':
            force = true;
            break;
        case 'h':
            fputs(recover_usage, stdout);
            return 0;
        default:
            fprintf(stderr, "naos-node: see `naos-node recover --help`\n");
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return fatal(EXIT_USAGE, "unexpected argument \"%s\" (see "
                     "`naos-node recover --help`)", argv[optind]);
    /* no default: this rewrites a node's data, the operator names it */
    if (dir == NULL || dir[0] == '\0')
        return fatal(EXIT_USAGE, "give --data DIR (see `naos-node recover "
                     "--help`)");
    if (force && file == NULL)
        return fatal(EXIT_USAGE, "--force goes with --from FILE");
    return file ? from_file(dir, file, force) : from_survivor(dir);
}
