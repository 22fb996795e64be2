/* SPDX-License-Identifier: Apache-2.0 */
/* store.c: the LMDB environment behind the store: open (lock, flags,
 * tables, schema), write transactions with map growth and fatal commit
 * failures, read transactions (the table operations are in store_ops.c).
 * Every MDB_* code is converted to a naos_err inside store/ (STYLE
 * practice 2 and 14).
 * See RAFT-LITE.md §5 for the LMDB rules followed here. */
#include "store/store.h"
#include "store/store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <lmdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"

const char *const store__table_names[STORE_NTABLES] = {
    [STORE_META] = "meta",
    [STORE_RAFT_LOG] = "raft_log",
    [STORE_RAFT_HARD] = "raft_hard",
    [STORE_DEPLOYMENTS] = "deployments",
    [STORE_PLACEMENTS] = "placements",
    [STORE_NODES] = "nodes",
    [STORE_CHECKPOINTS] = "checkpoints",
    [STORE_IDENTITY] = "identity",
    [STORE_EVENTS] = "events",
    [STORE_CLIENTS] = "clients",
    [STORE_CLIENT_AGE] = "client_age",
    [STORE_CLUSTER] = "cluster",
    [STORE_DRAINS] = "drains",
};

#define SCHEMA_KEY "schema_version"
#define UNSAFE_FLAGS (MDB_NOSYNC | MDB_NOMETASYNC | MDB_MAPASYNC)
#define MIN_MAP_SIZE (64u << 10)

/* Test hooks (store.h). */
static bool fault_fail_commit;
static bool fault_force_nosync;
static int fault_grow_fd = -1;

void
store_fault_fail_next_commit(void)
{
    fault_fail_commit = true;
}

void
store_fault_force_nosync(void)
{
    fault_force_nosync = true;
}

void
store_fault_pause_in_grow(int fd)
{
    fault_grow_fd = fd;
}

/* ---- errors -------------------------------------------------------------- */

static void
vset(struct store *s, const char *fmt, va_list ap)
{
    vsnprintf(s->errmsg, sizeof s->errmsg, fmt, ap);
}

int
store_fail(struct store *s, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(s, fmt, ap);
    va_end(ap);
    return err;
}

int
store_txn_fail(struct store_txn *t, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vset(t->s, fmt, ap);
    va_end(ap);
    return err;
}

/* mdb_fail records "what: LMDB's text" and returns the converted code. */
static int
mdb_fail(struct store *s, int rc, const char *what)
{
    return store_fail(s, store__conv(rc), "store %s: %s: %s", s->dir, what,
                      mdb_strerror(rc));
}

/* go_fatal turns the store failed for good (RAFT-LITE P8: never retry a
 * failed commit and carry on; the node restarts from what is on disk). */
static int
go_fatal(struct store *s, const char *why)
{
    s->failed = true;
    snprintf(s->fatal, sizeof s->fatal, "%s", why);
    NAOS_ERROR("store", "%s: %s: the store refuses further use", s->dir,
               why);
    int err = store_fail(s, NAOS_ESTORE,
                         "store %s: %s: the store refuses further use; "
                         "restart naos-node to recover from disk",
                         s->dir, why);
    if (s->on_fatal)
        s->on_fatal(s->on_fatal_arg, s->errmsg);
    return err;
}

void
store_on_fatal(struct store *s, store_fatal_fn fn, void *arg)
{
    s->on_fatal = fn;
    s->on_fatal_arg = arg;
}

static int
refuse_failed(struct store *s)
{
    return store_fail(s, NAOS_ESTORE,
                      "store %s failed earlier (%s) and refuses further "
                      "use; restart naos-node to recover from disk",
                      s->dir, s->fatal);
}

/* ---- open / close ------------------------------------------------------- */

static int
make_dir(const char *dir, char *errbuf, size_t errlen)
{
    if (mkdir(dir, 0700) == 0)
        return NAOS_OK;
    int e = errno;
    struct stat st;
    if (e == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return NAOS_OK;
    snprintf(errbuf, errlen, "cannot create data directory %s: %s", dir,
             e == EEXIST ? "exists and is not a directory" : strerror(e));
    errno = e;
    return NAOS_ESYS;
}

/* lock_dir takes DIR/store.lock exclusively (flock, so it is released
 * when the process dies, even by kill -9) and writes our pid into it. */
static int
lock_dir(const char *dir, int *fdout, char *errbuf, size_t errlen)
{
    char path[PATH_MAX];
    if ((size_t)snprintf(path, sizeof path, "%s/store.lock", dir) >=
        sizeof path) {
        snprintf(errbuf, errlen, "data directory path too long: %s", dir);
        return NAOS_EINVAL;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(e));
        errno = e;
        return NAOS_ESYS;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            char buf[32] = {0};
            ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
            long pid = n > 0 ? strtol(buf, NULL, 10) : 0;
            char pidtxt[32];
            if (pid > 0)
                snprintf(pidtxt, sizeof pidtxt, "pid %ld", pid);
            else
                snprintf(pidtxt, sizeof pidtxt, "pid unknown");
            snprintf(errbuf, errlen,
                     "data directory %s is in use by another naos-node "
                     "(%s): stop it or use another --data DIR",
                     dir, pidtxt);
            close(fd);
            return NAOS_EBUSY;
        }
        snprintf(errbuf, errlen, "cannot lock %s: %s", path, strerror(e));
        close(fd);
        errno = e;
        return NAOS_ESYS;
    }
    char buf[32];
    int len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        int e = errno;
        snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(e));
        close(fd);
        errno = e;
        return NAOS_ESYS;
    }
    *fdout = fd;
    return NAOS_OK;
}

/* init_tables opens every table and checks or writes schema_version. It
 * runs as an ordinary write transaction, so it may run again after map
 * growth; handles opened by an aborted run are closed by LMDB. */
static int
init_tables(struct store_txn *t, void *arg)
{
    struct store *s = t->s;
    (void)arg;
    for (int i = 0; i < STORE_NTABLES; i++) {
        int rc = mdb_dbi_open(t->txn, store__table_names[i], MDB_CREATE,
                              &s->dbi[i]);
        if (rc != 0)
            return store__txn_err(t, rc, (enum store_table)i, "open table");
    }
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, STORE_META, SCHEMA_KEY, strlen(SCHEMA_KEY),
                            &v, &vlen);
    if (err == NAOS_ENOTFOUND) {
        unsigned char b[4];
        uint32_t ver = STORE_SCHEMA_VERSION;
        for (int i = 3; i >= 0; i--, ver >>= 8)
            b[i] = (unsigned char)ver;
        return store_txn_put(t, STORE_META, SCHEMA_KEY, strlen(SCHEMA_KEY),
                             b, sizeof b, 0);
    }
    if (err != NAOS_OK)
        return err;
    if (vlen != 4)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store %s: schema_version is %zu bytes, not 4: "
                              "not a naos store or corrupt",
                              s->dir, vlen);
    const unsigned char *b = v;
    uint32_t ver = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                   (uint32_t)b[2] << 8 | b[3];
    if (ver > STORE_SCHEMA_VERSION)
        return store_txn_fail(
            t, NAOS_ESTORE,
            "store %s has schema version %u, newer than this naos-node "
            "understands (%u): run a newer naos-node on it",
            s->dir, ver, STORE_SCHEMA_VERSION);
    /* Older versions would be migrated here, in this transaction. There
     * are none yet: version 1 is the first. */
    return NAOS_OK;
}

static void
refresh_map_size(struct store *s)
{
    MDB_envinfo info;
    if (mdb_env_info(s->env, &info) == 0)
        s->map_size = info.me_mapsize;
}

int
store_open(struct store **out, const char *dir,
           const struct store_options *opts, char *errbuf, size_t errlen)
{
    char dummy[8];
    if (errbuf == NULL || errlen == 0) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    errbuf[0] = '\0';
    if (out == NULL || dir == NULL || dir[0] == '\0') {
        snprintf(errbuf, errlen, "store_open: no data directory");
        return NAOS_EINVAL;
    }
    struct store_options o = STORE_OPTIONS_ZERO;
    if (opts != NULL)
        o = *opts;
    if (o.map_size == 0)
        o.map_size = STORE_DEFAULT_MAP_SIZE;
    if (o.max_map_size == 0)
        o.max_map_size = STORE_DEFAULT_MAX_MAP_SIZE;
    if (o.map_size < MIN_MAP_SIZE || o.map_size > o.max_map_size ||
        o.max_map_size > (uint64_t)SIZE_MAX / 2) {
        snprintf(errbuf, errlen,
                 "store_open: map size %llu must be between %u and "
                 "max_map_size %llu",
                 (unsigned long long)o.map_size, MIN_MAP_SIZE,
                 (unsigned long long)o.max_map_size);
        return NAOS_EINVAL;
    }

    int err = NAOS_ENOMEM;
    struct store *s = naos_alloc(sizeof *s);
    if (s == NULL)
        goto err_out;
    s->lockfd = -1;
    s->mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    s->cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    s->map_size = o.map_size;
    s->max_map_size = o.max_map_size;
    s->unsafe_nosync = o.unsafe_nosync;
    s->dir = naos_strdup(dir);
    if (s->dir == NULL)
        goto err_after_alloc;

    err = make_dir(dir, errbuf, errlen);
    if (err != NAOS_OK)
        goto err_after_alloc;
    /* The lock comes before LMDB: a second process must never reach
     * mdb_env_open on a directory in use (RAFT-LITE §5, "don'ts"). */
    err = lock_dir(dir, &s->lockfd, errbuf, errlen);
    if (err != NAOS_OK)
        goto err_after_alloc;

    int rc = mdb_env_create(&s->env);
    if (rc != 0) {
        err = mdb_fail(s, rc, "create environment");
        goto err_after_lock;
    }
    if ((rc = mdb_env_set_maxdbs(s->env, STORE_NTABLES + 8)) != 0 ||
        (rc = mdb_env_set_mapsize(s->env, (size_t)o.map_size)) != 0) {
        err = mdb_fail(s, rc, "configure environment");
        goto err_after_env;
    }
    unsigned flags = 0;
    if (o.unsafe_nosync || fault_force_nosync)
        flags |= MDB_NOSYNC;
    fault_force_nosync = false;
    rc = mdb_env_open(s->env, dir, flags, 0600);
    if (rc != 0) {
        err = mdb_fail(s, rc, "open environment");
        goto err_after_env;
    }
    /* RAFT-LITE §6.4 item 4: prove at start-up that commits are synced. */
    unsigned got = 0;
    rc = mdb_env_get_flags(s->env, &got);
    if (rc != 0) {
        err = mdb_fail(s, rc, "read environment flags");
        goto err_after_env;
    }
    if ((got & UNSAFE_FLAGS) != 0 && !o.unsafe_nosync) {
        err = store_fail(s, NAOS_ESTORE,
                         "store %s: unsafe sync flags set (%s%s%s) without "
                         "unsafe_nosync: refusing to run without durable "
                         "commits",
                         dir, (got & MDB_NOSYNC) ? "MDB_NOSYNC " : "",
                         (got & MDB_NOMETASYNC) ? "MDB_NOMETASYNC " : "",
                         (got & MDB_MAPASYNC) ? "MDB_MAPASYNC " : "");
        goto err_after_env;
    }
    int dead = 0;
    rc = mdb_reader_check(s->env, &dead);
    if (rc != 0) {
        err = mdb_fail(s, rc, "check readers");
        goto err_after_env;
    }
    if (dead > 0)
        NAOS_INFO("store", "%s: cleared %d stale reader slot(s)", dir, dead);
    refresh_map_size(s);

    err = store_write(s, init_tables, NULL);
    if (err != NAOS_OK)
        goto err_after_env;
    s->errmsg[0] = '\0';
    *out = s;
    return NAOS_OK;

err_after_env:
    snprintf(errbuf, errlen, "%s", s->errmsg);
    mdb_env_close(s->env);
err_after_lock:
    if (errbuf[0] == '\0')
        snprintf(errbuf, errlen, "%s", s->errmsg);
    close(s->lockfd);
err_after_alloc:
    naos_free(s->dir);
    naos_free(s);
err_out:
    if (errbuf[0] == '\0')
        snprintf(errbuf, errlen, "store_open %s: %s", dir,
                 naos_strerror(err));
    return err;
}

void
store_close(struct store *s)
{
    if (s == NULL)
        return;
    NAOS_ASSERT(!s->in_txn);
    NAOS_ASSERT(s->readers == 0);
    mdb_env_close(s->env);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    /* Closing the lock fd releases the flock; the pid stays in the file,
     * harmless: only the lock counts. */
    close(s->lockfd);
    naos_free(s->dir);
    naos_free(s);
}

const char *
store_errmsg(const struct store *s)
{
    return s->errmsg;
}

const char *
store_dir(const struct store *s)
{
    return s->dir;
}

int
store_used_bytes(const struct store *s, uint64_t *used)
{
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(s->env, &info) != 0 || mdb_env_stat(s->env, &st) != 0)
        return NAOS_ESTORE;
    *used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    return NAOS_OK;
}

uint64_t
store_map_size(const struct store *s)
{
    return s->map_size;
}

uint64_t
store_commits(const struct store *s)
{
    return s->commits;
}

bool
store_is_failed(const struct store *s)
{
    return s->failed;
}

bool
store_is_durable(const struct store *s)
{
    return !s->unsafe_nosync;
}

struct store *
store_txn_store(struct store_txn *t)
{
    return t->s;
}

/* ---- transactions ----------------------------------------------------- */

/* grow doubles the map (capped at max_map_size). Only called with no
 * transaction active in this process, as mdb_env_set_mapsize requires;
 * the node is single-threaded and read transactions are short. */
static int
grow(struct store *s)
{
    if (s->map_size >= s->max_map_size)
        return store_fail(s, NAOS_ESTORE,
                          "store %s is full: the map reached max_map_size "
                          "(%llu MiB) and this write does not fit; nothing "
                          "was written",
                          s->dir,
                          (unsigned long long)(s->max_map_size >> 20));
    uint64_t next = s->map_size * 2;
    if (next > s->max_map_size)
        next = s->max_map_size;
    pthread_mutex_lock(&s->mu);
    if (s->readers > 0)
        NAOS_WARN("store", "%s: the map must grow: waiting for a read on "
                  "another thread (a snapshot save) to end", s->dir);
    while (s->readers > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = mdb_env_set_mapsize(s->env, (size_t)next);
    pthread_mutex_unlock(&s->mu);
    if (rc != 0)
        return mdb_fail(s, rc, "grow map");
    NAOS_DEBUG("store", "%s: map grown from %llu to %llu KiB", s->dir,
               (unsigned long long)(s->map_size >> 10),
               (unsigned long long)(next >> 10));
    refresh_map_size(s);
    if (fault_grow_fd >= 0) {
        if (write(fault_grow_fd, "G", 1) == 1)
            for (;;)
                pause();
        fault_grow_fd = -1;
    }
    return NAOS_OK;
}

/* begin starts a transaction, following a map grown by another process
 * (MDB_MAP_RESIZED; cannot happen while we hold the lock, but cheap). */
static int
begin(struct store *s, unsigned flags, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        rc = mdb_env_set_mapsize(s->env, 0);
        if (rc == 0) {
            refresh_map_size(s);
            rc = mdb_txn_begin(s->env, NULL, flags, txn);
        }
    }
    if (rc == MDB_PANIC)
        return go_fatal(s, "environment panicked (MDB_PANIC)");
    if (rc != 0)
        return mdb_fail(s, rc, "begin transaction");
    return NAOS_OK;
}

int
store_write(struct store *s, store_txn_fn fn, void *arg)
{
    if (s->failed)
        return refuse_failed(s);
    if (s->in_txn)
        return store_fail(s, NAOS_EBUSY, "store: nested transaction");
    s->errmsg[0] = '\0';
    for (;;) {
        MDB_txn *txn;
        int err = begin(s, 0, &txn);
        if (err != NAOS_OK)
            return err;
        struct store_txn t = {.s = s, .txn = txn};
        s->in_txn = true;
        err = fn(&t, arg);
        s->in_txn = false;
        if (t.map_full) {
            mdb_txn_abort(txn);
            err = grow(s);
            if (err != NAOS_OK)
                return err;
            s->errmsg[0] = '\0';
            continue;
        }
        if (err == NAOS_OK && t.mdb_err != 0)
            err = NAOS_ESTORE; /* fn ignored a failed operation */
        if (err != NAOS_OK) {
            mdb_txn_abort(txn);
            if (s->errmsg[0] == '\0')
                store_fail(s, err, "store %s: write aborted: %s", s->dir,
                           naos_strerror(err));
            return err;
        }
        if (fault_fail_commit) {
            fault_fail_commit = false;
            mdb_txn_abort(txn);
            return go_fatal(s, "commit failed: Input/output error "
                               "(injected by test)");
        }
        /* mdb_txn_commit frees the transaction, on failure too. */
        int rc = mdb_txn_commit(txn);
        if (rc == MDB_MAP_FULL) {
            /* The free-list save ran out of room before anything was
             * written: grow and run the whole transaction again. */
            err = grow(s);
            if (err != NAOS_OK)
                return err;
            continue;
        }
        if (rc != 0) {
            char why[256];
            snprintf(why, sizeof why, "commit failed: %s", mdb_strerror(rc));
            return go_fatal(s, why);
        }
        s->commits++;
        return NAOS_OK;
    }
}

int
store_read(struct store *s, store_txn_fn fn, void *arg)
{
    if (s->failed)
        return refuse_failed(s);
    if (s->in_txn)
        return store_fail(s, NAOS_EBUSY, "store: nested transaction");
    s->errmsg[0] = '\0';
    MDB_txn *txn;
    int err = begin(s, MDB_RDONLY, &txn);
    if (err != NAOS_OK)
        return err;
    struct store_txn t = {.s = s, .txn = txn, .rdonly = true};
    s->in_txn = true;
    err = fn(&t, arg);
    s->in_txn = false;
    mdb_txn_abort(txn);
    return err;
}

/* ---- reading from another thread -------------------------------------- */

/* A reader runs its transaction on a shell of the store: the same
 * environment and tables, its own message buffer and flags, so nothing of
 * the loop's store is written from the other thread. */
struct store_reader {
    struct store shell;
    struct store *s;
    bool done;
};

static void
reader_done(struct store_reader *rd)
{
    if (rd->done)
        return;
    rd->done = true;
    pthread_mutex_lock(&rd->s->mu);
    rd->s->readers--;
    pthread_cond_broadcast(&rd->s->cv);
    pthread_mutex_unlock(&rd->s->mu);
}

int
store_reader_open(struct store *s, struct store_reader **out)
{
    if (s->failed)
        return refuse_failed(s);
    struct store_reader *rd = naos_alloc(sizeof *rd);
    if (rd == NULL)
        return NAOS_ENOMEM;
    rd->s = s;
    rd->shell.env = s->env;
    memcpy(rd->shell.dbi, s->dbi, sizeof s->dbi);
    rd->shell.lockfd = -1;
    rd->shell.dir = s->dir; /* read only, outlives the reader */
    rd->shell.map_size = s->map_size;
    rd->shell.max_map_size = s->max_map_size;
    pthread_mutex_lock(&s->mu);
    s->readers++;
    pthread_mutex_unlock(&s->mu);
    *out = rd;
    return NAOS_OK;
}

int
store_reader_read(struct store_reader *rd, store_txn_fn fn, void *arg)
{
    struct store *sh = &rd->shell;
    if (rd->done)
        return store_fail(sh, NAOS_EINVAL, "store: reader used twice");
    sh->errmsg[0] = '\0';
    MDB_txn *txn;
    /* no MDB_MAP_RESIZED here: only this process writes the map */
    int rc = mdb_txn_begin(sh->env, NULL, MDB_RDONLY, &txn);
    int err;
    if (rc != 0) {
        err = store_fail(sh, store__conv(rc), "store %s: begin a read: %s",
                         sh->dir, mdb_strerror(rc));
    } else {
        struct store_txn t = {.s = sh, .txn = txn, .rdonly = true};
        sh->in_txn = true;
        err = fn(&t, arg);
        sh->in_txn = false;
        mdb_txn_abort(txn);
    }
    reader_done(rd);
    return err;
}

const char *
store_reader_errmsg(const struct store_reader *rd)
{
    return rd->shell.errmsg;
}

void
store_reader_close(struct store_reader *rd)
{
    if (rd == NULL)
        return;
    reader_done(rd);
    naos_free(rd);
}
