/* SPDX-License-Identifier: Apache-2.0 */
/* store_test.c: the environment (open, lock, flags, schema, growth, fatal
 * commits), the raw transaction API, the Raft log and the hard state. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/raftlog.h"
#include "store/store_testutil.h"

static struct store_log_entry
ent(uint64_t index, uint64_t term, const char *data)
{
    struct store_log_entry e = {index, term, data, data ? strlen(data) : 0, 0};
    return e;
}

static void
append_n(struct store *s, uint64_t from, uint64_t to, uint64_t term)
{
    for (uint64_t i = from; i <= to; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "cmd-%llu", (unsigned long long)i);
        struct store_log_entry e = ent(i, term, buf);
        ST_OK(s, store_log_append(s, &e, 1));
    }
}

static uint64_t
last_index(struct store *s)
{
    uint64_t first, last;
    ST_OK(s, store_log_bounds(s, &first, &last));
    return last;
}

static int
get_schema_fn(struct store_txn *t, void *arg)
{
    const void *v;
    size_t n;
    int rc = store_txn_get(t, STORE_META, "schema_version", 14, &v, &n);
    if (rc == NAOS_OK) {
        NT_EQ_INT(n, 4);
        const unsigned char *b = v;
        *(uint32_t *)arg = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                           (uint32_t)b[2] << 8 | b[3];
    }
    return rc;
}

static void
test_open_creates_dir_and_schema(void)
{
    char tmp[256], dir[300];
    st_tmpdir(tmp, sizeof tmp);
    snprintf(dir, sizeof dir, "%s/data", tmp);
    struct store *s = st_open(dir, NULL);
    struct stat st;
    NT_EQ_INT(stat(dir, &st), 0);
    NT_EQ_INT(st.st_mode & 0777, 0700);
    NT_TRUE(store_is_durable(s));
    NT_EQ_INT(store_map_size(s), STORE_DEFAULT_MAP_SIZE);
    uint32_t ver = 0;
    ST_OK(s, store_read(s, get_schema_fn, &ver));
    NT_EQ_INT(ver, STORE_SCHEMA_VERSION);
    /* The lock file names us. */
    char path[400], buf[32] = {0};
    snprintf(path, sizeof path, "%s/store.lock", dir);
    int fd = open(path, O_RDONLY);
    NT_TRUE(fd >= 0);
    NT_TRUE(read(fd, buf, sizeof buf - 1) > 0);
    close(fd);
    NT_EQ_INT(atol(buf), getpid());
    store_close(s);
    /* Still there after a reopen. */
    s = st_open(dir, NULL);
    ver = 0;
    ST_OK(s, store_read(s, get_schema_fn, &ver));
    NT_EQ_INT(ver, STORE_SCHEMA_VERSION);
    store_close(s);
    st_rmdir(tmp);
}

static void
test_open_bad_args(void)
{
    struct store *s = NULL;
    char err[256];
    NT_EQ_INT(store_open(&s, "", NULL, err, sizeof err), NAOS_EINVAL);
    struct store_options o = {.map_size = 1 << 30, .max_map_size = 1 << 20};
    NT_EQ_INT(store_open(&s, "/tmp/x", &o, err, sizeof err), NAOS_EINVAL);
    NT_CONTAINS(err, "max_map_size");
    NT_EQ_INT(store_open(&s, "/proc/naos-no/such", NULL, err, sizeof err),
              NAOS_ESYS);
    NT_CONTAINS(err, "/proc/naos-no/such");
    NT_TRUE(s == NULL);
}

static int
put_schema_fn(struct store_txn *t, void *arg)
{
    const unsigned char *b = arg;
    return store_txn_put(t, STORE_META, "schema_version", 14, b, 4, 0);
}

static void
test_newer_schema_refused(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    unsigned char v[4] = {0, 0, 0, STORE_SCHEMA_VERSION + 1};
    ST_OK(s, store_write(s, put_schema_fn, v));
    store_close(s);
    char err[512];
    s = NULL;
    NT_EQ_INT(store_open(&s, dir, NULL, err, sizeof err), NAOS_ESTORE);
    NT_TRUE(s == NULL);
    NT_CONTAINS(err, "newer than this naos-node");
    NT_CONTAINS(err, dir);
    /* And it was not rewritten: still refused. */
    NT_EQ_INT(store_open(&s, dir, NULL, err, sizeof err), NAOS_ESTORE);
    st_rmdir(dir);
}

static void
test_second_process_refused(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    int p[2];
    NT_EQ_INT(pipe(p), 0);
    pid_t pid = fork();
    if (pid == 0) {
        /* A different process: it must not touch the parent's env. */
        close(p[0]);
        struct store *s2 = NULL;
        char err[512] = {0};
        int rc = store_open(&s2, dir, NULL, err, sizeof err);
        if (write(p[1], err, strlen(err) + 1) < 0)
            _exit(99);
        _exit(rc == NAOS_EBUSY ? 0 : 1);
    }
    close(p[1]);
    char msg[512] = {0};
    ssize_t n = 0, r;
    while ((r = read(p[0], msg + n, sizeof msg - 1 - (size_t)n)) > 0)
        n += r;
    close(p[0]);
    int st = 0;
    NT_EQ_INT(waitpid(pid, &st, 0), pid);
    NT_TRUE(WIFEXITED(st));
    NT_EQ_INT(WEXITSTATUS(st), 0);
    char want[64];
    snprintf(want, sizeof want, "(pid %ld)", (long)getpid());
    NT_CONTAINS(msg, dir);
    NT_CONTAINS(msg, want);
    NT_CONTAINS(msg, "is in use by another naos-node");
    NT_CONTAINS(msg, "--data");
    /* The refused attempt changed nothing: we can still write. */
    append_n(s, 1, 1, 1);
    store_close(s);
    /* Once released, another process may open it. */
    pid = fork();
    if (pid == 0) {
        struct store *s2 = NULL;
        int rc = store_open(&s2, dir, NULL, NULL, 0);
        if (rc == 0)
            store_close(s2);
        _exit(rc == 0 ? 0 : 1);
    }
    NT_EQ_INT(waitpid(pid, &st, 0), pid);
    NT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    st_rmdir(dir);
}

static void
test_unsafe_flags_refused(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = NULL;
    char err[512];
    store_fault_force_nosync();
    NT_EQ_INT(store_open(&s, dir, NULL, err, sizeof err), NAOS_ESTORE);
    NT_TRUE(s == NULL);
    NT_CONTAINS(err, "MDB_NOSYNC");
    NT_CONTAINS(err, "unsafe sync flags");
    /* The test-only switch allows it, and says so. */
    struct store_options o = {.unsafe_nosync = true};
    s = st_open(dir, &o);
    NT_FALSE(store_is_durable(s));
    append_n(s, 1, 3, 1);
    store_close(s);
    /* Reopened without the switch: durable again. */
    s = st_open(dir, NULL);
    NT_TRUE(store_is_durable(s));
    NT_EQ_INT(last_index(s), 3);
    store_close(s);
    st_rmdir(dir);
}

static void
test_map_growth(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store_options o = {.map_size = 1 << 20};
    struct store *s = st_open(dir, &o);
    NT_EQ_INT(store_map_size(s), 1 << 20);
    /* 20 MiB in 4 KiB entries, 8 per transaction. */
    static char data[4096];
    struct store_log_entry e[8];
    uint64_t idx = 1;
    for (int txn = 0; txn < 640; txn++) {
        for (int i = 0; i < 8; i++, idx++) {
            memset(data, (int)(idx & 0xff), sizeof data);
            e[i] = (struct store_log_entry){idx, 1, data, sizeof data, 0};
        }
        ST_OK(s, store_log_append(s, e, 8));
    }
    NT_EQ_INT(last_index(s), 5120);
    NT_TRUE(store_map_size(s) >= (20u << 20));
    /* One transaction several times bigger than the map: grows repeatedly
     * and reruns the whole transaction each time. */
    uint64_t before = store_map_size(s);
    static char big[1 << 16];
    size_t nbig = (size_t)(before / sizeof big); /* as big as the map */
    struct store_log_entry *be = calloc(nbig, sizeof *be);
    NT_TRUE(be != NULL);
    for (size_t i = 0; i < nbig; i++)
        be[i] = (struct store_log_entry){idx + i, 2, big, sizeof big, 0};
    ST_OK(s, store_log_append(s, be, nbig));
    free(be);
    NT_TRUE(store_map_size(s) > before);
    store_close(s);
    /* Everything is there after reopening with the tiny map again. */
    s = st_open(dir, &o);
    NT_EQ_INT(last_index(s), 5120 + nbig);
    struct store_log_entry *out;
    size_t n;
    ST_OK(s, store_log_read(s, 4000, 4000, 0, &out, &n));
    NT_EQ_INT(n, 1);
    NT_EQ_INT(out[0].len, 4096);
    NT_EQ_INT(((const unsigned char *)out[0].data)[4095], 4000 & 0xff);
    store_log_entries_free(out, n);
    append_n(s, 5120 + nbig + 1, 5120 + nbig + 1, 2);
    printf("  map grew from 1 MiB to %llu MiB\n",
           (unsigned long long)(store_map_size(s) >> 20));
    store_close(s);
    st_rmdir(dir);
}

static void
test_max_map_size_enforced(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store_options o = {.map_size = 1 << 20, .max_map_size = 2 << 20};
    struct store *s = st_open(dir, &o);
    append_n(s, 1, 1, 1);
    static char big[1 << 16];
    struct store_log_entry be[64]; /* 4 MiB: can never fit */
    for (int i = 0; i < 64; i++)
        be[i] = (struct store_log_entry){2 + (uint64_t)i, 1, big, sizeof big, 0};
    NT_EQ_INT(store_log_append(s, be, 64), NAOS_ESTORE);
    NT_CONTAINS(store_errmsg(s), "max_map_size");
    NT_CONTAINS(store_errmsg(s), "nothing was written");
    NT_FALSE(store_is_failed(s));
    NT_EQ_INT(store_map_size(s), 2 << 20);
    NT_EQ_INT(last_index(s), 1);
    append_n(s, 2, 3, 1); /* still usable */
    store_close(s);
    st_rmdir(dir);
}

static void
test_failed_commit_is_fatal(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    append_n(s, 1, 2, 1);
    store_fault_fail_next_commit();
    struct store_log_entry e = ent(3, 1, "lost");
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_ESTORE);
    NT_CONTAINS(store_errmsg(s), "commit failed");
    NT_CONTAINS(store_errmsg(s), "refuses further use");
    NT_TRUE(store_is_failed(s));
    /* Every later call is refused, reads included. */
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_ESTORE);
    NT_CONTAINS(store_errmsg(s), "refuses further use");
    struct store_hard h = {1, 0, 0};
    NT_EQ_INT(store_hard_set(s, &h), NAOS_ESTORE);
    uint64_t first, last;
    NT_EQ_INT(store_log_bounds(s, &first, &last), NAOS_ESTORE);
    store_close(s);
    /* Restart from disk: what was acknowledged is there, nothing else. */
    s = st_open(dir, NULL);
    NT_EQ_INT(last_index(s), 2);
    store_close(s);
    st_rmdir(dir);
}

/* ---- raw transaction API ---------------------------------------------- */

static int
count_fn(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
    (void)k, (void)kl, (void)v, (void)vl;
    int *n = arg;
    return ++*n == 3 ? STORE_SCAN_STOP : NAOS_OK;
}

static int
raw_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    const void *k, *v;
    size_t kl, vl;
    NT_EQ_INT(store_txn_first(t, STORE_PLACEMENTS, &k, &kl, &v, &vl),
              NAOS_ENOTFOUND);
    const char *keys[] = {"a", "b", "bb", "c", "d"};
    for (int i = 0; i < 5; i++)
        NT_EQ_INT(store_txn_put(t, STORE_PLACEMENTS, keys[i], strlen(keys[i]),
                                "v", 1, 0),
                  0);
    NT_EQ_INT(store_txn_put(t, STORE_PLACEMENTS, "a", 1, "w", 1,
                            STORE_PUT_NOOVERWRITE),
              NAOS_EEXIST);
    NT_EQ_INT(store_txn_put(t, STORE_PLACEMENTS, "b", 1, "w", 1,
                            STORE_PUT_APPEND),
              NAOS_EEXIST);
    int n = 0;
    NT_EQ_INT(store_txn_scan(t, STORE_PLACEMENTS, "b", 1, count_fn, &n), 0);
    NT_EQ_INT(n, 3);
    uint64_t del = 0;
    NT_EQ_INT(store_txn_del_from(t, STORE_PLACEMENTS, "bb", 2, &del), 0);
    NT_EQ_INT(del, 3);
    NT_EQ_INT(store_txn_last(t, STORE_PLACEMENTS, &k, &kl, NULL, NULL), 0);
    NT_EQ_INT(kl, 1);
    NT_EQ_INT(*(const char *)k, 'b');
    NT_EQ_INT(store_txn_del(t, STORE_PLACEMENTS, "zz", 2), NAOS_ENOTFOUND);
    static char longkey[STORE_MAX_KEY + 1];
    NT_EQ_INT(store_txn_put(t, STORE_PLACEMENTS, longkey, sizeof longkey, "v",
                            1, 0),
              NAOS_EINVAL);
    return NAOS_OK;
}

static int
ro_put_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    return store_txn_put(t, STORE_PLACEMENTS, "x", 1, "v", 1, 0);
}

static int
abort_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    NT_EQ_INT(store_txn_put(t, STORE_PLACEMENTS, "zzz", 3, "v", 1, 0), 0);
    return NAOS_EBUSY;
}

static int
get_zzz_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    const void *v;
    size_t vl;
    return store_txn_get(t, STORE_PLACEMENTS, "zzz", 3, &v, &vl);
}

static void
test_raw_txn_api(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    ST_OK(s, store_write(s, raw_fn, NULL));
    NT_EQ_INT(store_read(s, ro_put_fn, NULL), NAOS_EINVAL);
    NT_EQ_INT(store_write(s, abort_fn, NULL), NAOS_EBUSY);
    NT_EQ_INT(store_read(s, get_zzz_fn, NULL), NAOS_ENOTFOUND);
    store_close(s);
    st_rmdir(dir);
}

/* ---- raft log ------------------------------------------------------------ */

static void
test_log_append_read(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint64_t first = 9, last = 9, term = 9;
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 0);
    NT_EQ_INT(last, 0);
    ST_OK(s, store_log_last(s, &last, &term));
    NT_EQ_INT(term, 0);
    append_n(s, 1, 4, 1);
    struct store_log_entry b[3] = {ent(5, 2, "five"), ent(6, 2, NULL),
                                   ent(7, 3, "seven")};
    ST_OK(s, store_log_append(s, b, 3));
    ST_OK(s, store_log_bounds(s, &first, &last));
    NT_EQ_INT(first, 1);
    NT_EQ_INT(last, 7);
    ST_OK(s, store_log_last(s, &last, &term));
    NT_EQ_INT(last, 7);
    NT_EQ_INT(term, 3);
    ST_OK(s, store_log_term_at(s, 4, &term));
    NT_EQ_INT(term, 1);
    ST_OK(s, store_log_term_at(s, 6, &term));
    NT_EQ_INT(term, 2);
    NT_EQ_INT(store_log_term_at(s, 8, &term), NAOS_ENOTFOUND);
    NT_EQ_INT(store_log_term_at(s, 0, &term), NAOS_ENOTFOUND);

    struct store_log_entry *out;
    size_t n;
    ST_OK(s, store_log_read(s, 3, 6, 0, &out, &n));
    NT_EQ_INT(n, 4);
    NT_EQ_INT(out[0].index, 3);
    NT_EQ_INT(out[0].len, 5);
    NT_TRUE(memcmp(out[0].data, "cmd-3", 5) == 0);
    NT_EQ_INT(out[2].index, 5);
    NT_EQ_INT(out[2].term, 2);
    NT_TRUE(memcmp(out[2].data, "five", 4) == 0);
    NT_EQ_INT(out[3].len, 0);
    store_log_entries_free(out, n);
    /* hi past the end: what exists. max_bytes: at least one entry. */
    ST_OK(s, store_log_read(s, 6, 100, 0, &out, &n));
    NT_EQ_INT(n, 2);
    store_log_entries_free(out, n);
    ST_OK(s, store_log_read(s, 1, 7, 1, &out, &n));
    NT_EQ_INT(n, 1);
    store_log_entries_free(out, n);
    ST_OK(s, store_log_read(s, 1, 7, 10, &out, &n));
    NT_EQ_INT(n, 2);
    store_log_entries_free(out, n);
    NT_EQ_INT(store_log_read(s, 8, 9, 0, &out, &n), NAOS_ENOTFOUND);
    NT_EQ_INT(store_log_read(s, 5, 4, 0, &out, &n), NAOS_EINVAL);
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_log_last(s, &last, &term));
    NT_EQ_INT(last, 7);
    NT_EQ_INT(term, 3);
    store_close(s);
    st_rmdir(dir);
}

static void
test_log_gap_overlap_rejected(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_log_entry e = ent(2, 1, "x");
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_EINVAL); /* empty log: 1 */
    NT_CONTAINS(store_errmsg(s), "gap");
    append_n(s, 1, 3, 2);
    e = ent(5, 2, "x");
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "gap");
    e = ent(3, 2, "x");
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "overlap");
    struct store_log_entry b[2] = {ent(4, 2, "a"), ent(6, 2, "b")};
    NT_EQ_INT(store_log_append(s, b, 2), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "not contiguous");
    e = ent(4, 1, "x");
    NT_EQ_INT(store_log_append(s, &e, 1), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "below");
    struct store_log_entry c[2] = {ent(4, 3, "a"), ent(5, 2, "b")};
    NT_EQ_INT(store_log_append(s, c, 2), NAOS_EINVAL);
    NT_EQ_INT(last_index(s), 3);
    store_close(s);
    st_rmdir(dir);
}

struct ta_args {
    uint64_t from;
    struct store_log_entry *ents;
    size_t n;
    struct store_hard hard;
    bool fail_after;
};

static int
truncate_and_hard_fn(struct store_txn *t, void *arg)
{
    struct ta_args *a = arg;
    int rc = store_log_truncate_append_txn(t, a->from, a->ents, a->n);
    if (rc == NAOS_OK)
        rc = store_hard_set_txn(t, &a->hard);
    if (rc == NAOS_OK && a->fail_after)
        rc = NAOS_EBUSY;
    return rc;
}

static void
test_log_truncate_append(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    append_n(s, 1, 10, 1);
    struct store_log_entry b[3] = {ent(6, 2, "six"), ent(7, 2, "seven"),
                                   ent(8, 2, "eight")};
    ST_OK(s, store_log_truncate_append(s, 6, b, 3));
    NT_EQ_INT(last_index(s), 8);
    uint64_t term;
    ST_OK(s, store_log_term_at(s, 5, &term));
    NT_EQ_INT(term, 1);
    ST_OK(s, store_log_term_at(s, 6, &term));
    NT_EQ_INT(term, 2);
    NT_EQ_INT(store_log_term_at(s, 9, &term), NAOS_ENOTFOUND);
    /* First new entry must be `from`; past the end is a gap. */
    NT_EQ_INT(store_log_truncate_append(s, 6, &b[1], 2), NAOS_EINVAL);
    NT_EQ_INT(store_log_truncate_append(s, 10, NULL, 0), NAOS_EINVAL);
    NT_EQ_INT(last_index(s), 8);
    /* Truncating at last+1 is a plain append. */
    struct store_log_entry e = ent(9, 2, "nine");
    ST_OK(s, store_log_truncate_append(s, 9, &e, 1));
    NT_EQ_INT(last_index(s), 9);
    /* Pure truncation. */
    ST_OK(s, store_log_truncate_append(s, 4, NULL, 0));
    NT_EQ_INT(last_index(s), 3);
    /* Committed entries are never removed. */
    struct store_hard h = {2, 0, 2};
    ST_OK(s, store_hard_set(s, &h));
    NT_EQ_INT(store_log_truncate_append(s, 2, NULL, 0), NAOS_EINVAL);
    NT_CONTAINS(store_errmsg(s), "committed");
    /* Truncate + append + hard state in one transaction: all or nothing. */
    struct store_log_entry c[2] = {ent(3, 3, "c3"), ent(4, 3, "c4")};
    struct ta_args a = {3, c, 2, {3, 7, 2}, true};
    NT_EQ_INT(store_write(s, truncate_and_hard_fn, &a), NAOS_EBUSY);
    ST_OK(s, store_log_term_at(s, 3, &term));
    NT_EQ_INT(term, 1);
    NT_EQ_INT(last_index(s), 3);
    struct store_hard got;
    ST_OK(s, store_hard_get(s, &got));
    NT_EQ_INT(got.term, 2);
    a.fail_after = false;
    ST_OK(s, store_write(s, truncate_and_hard_fn, &a));
    store_close(s);
    s = st_open(dir, NULL);
    NT_EQ_INT(last_index(s), 4);
    ST_OK(s, store_log_term_at(s, 3, &term));
    NT_EQ_INT(term, 3);
    ST_OK(s, store_hard_get(s, &got));
    NT_EQ_INT(got.term, 3);
    NT_EQ_INT(got.vote, 7);
    /* Truncate everything uncommitted, then rebuild from the commit. */
    store_close(s);
    st_rmdir(dir);
}

/* The founding configuration is written once; the same set again is
 * fine, another is refused, and it survives a reopen. */
static void
test_voters(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    uint64_t ids[STORE_MAX_VOTERS];
    size_t n = 7;
    ST_OK(s, store_voters_get(s, ids, STORE_MAX_VOTERS, &n));
    NT_EQ_INT(n, 0);
    const uint64_t three[3] = {11, 22, 33}, other[3] = {11, 22, 44};
    const uint64_t twice[2] = {11, 11}, zero[1] = {0};
    NT_EQ_INT(store_voters_set(s, twice, 2), NAOS_EINVAL);
    NT_EQ_INT(store_voters_set(s, zero, 1), NAOS_EINVAL);
    NT_EQ_INT(store_voters_set(s, three, 0), NAOS_EINVAL);
    NT_EQ_INT(store_voters_set(s, three, STORE_MAX_VOTERS + 1), NAOS_EINVAL);
    ST_OK(s, store_voters_set(s, three, 3));
    ST_OK(s, store_voters_set(s, three, 3));
    NT_EQ_INT(store_voters_set(s, other, 3), NAOS_EEXIST);
    NT_CONTAINS(store_errmsg(s), "another configuration of 3 voters");
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_voters_get(s, ids, STORE_MAX_VOTERS, &n));
    NT_EQ_INT(n, 3);
    NT_EQ_INT(ids[0], 11);
    NT_EQ_INT(ids[2], 33);
    NT_EQ_INT(store_voters_get(s, ids, 2, &n), NAOS_ESTORE);
    store_close(s);
    st_rmdir(dir);
}

/* The voter target likewise: recorded once, bounded, kept. */
static void
test_voter_target(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    unsigned t = 7;
    ST_OK(s, store_voter_target_get(s, &t));
    NT_EQ_INT(t, 0);
    NT_EQ_INT(store_voter_target_set(s, 0), NAOS_EINVAL);
    NT_EQ_INT(store_voter_target_set(s, STORE_MAX_VOTERS + 1), NAOS_EINVAL);
    ST_OK(s, store_voter_target_set(s, 5));
    ST_OK(s, store_voter_target_set(s, 5));
    NT_EQ_INT(store_voter_target_set(s, 3), NAOS_EEXIST);
    NT_CONTAINS(store_errmsg(s), "a voter target of 5 is recorded");
    store_close(s);
    s = st_open(dir, NULL);
    ST_OK(s, store_voter_target_get(s, &t));
    NT_EQ_INT(t, 5);
    store_close(s);
    st_rmdir(dir);
}

static void
test_hard_state(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_hard h = {9, 9, 9};
    ST_OK(s, store_hard_get(s, &h));
    NT_EQ_INT(h.term, 0);
    NT_EQ_INT(h.vote, 0);
    NT_EQ_INT(h.commit, 0);
    h = (struct store_hard){5, 2, 0};
    ST_OK(s, store_hard_set(s, &h));
    h = (struct store_hard){5, 2, 4}; /* same vote, commit advances */
    ST_OK(s, store_hard_set(s, &h));
    store_close(s);
    s = st_open(dir, NULL);
    struct store_hard got;
    ST_OK(s, store_hard_get(s, &got));
    NT_EQ_INT(got.term, 5);
    NT_EQ_INT(got.vote, 2);
    NT_EQ_INT(got.commit, 4);
    h = (struct store_hard){4, 0, 4};
    NT_EQ_INT(store_hard_set(s, &h), NAOS_EINVAL); /* term goes back */
    h = (struct store_hard){5, 3, 4};
    NT_EQ_INT(store_hard_set(s, &h), NAOS_EINVAL); /* second vote */
    NT_CONTAINS(store_errmsg(s), "vote");
    h = (struct store_hard){5, 2, 3};
    NT_EQ_INT(store_hard_set(s, &h), NAOS_EINVAL); /* commit goes back */
    h = (struct store_hard){6, 0, 4}; /* new term clears the vote */
    ST_OK(s, store_hard_set(s, &h));
    ST_OK(s, store_hard_get(s, &got));
    NT_EQ_INT(got.term, 6);
    NT_EQ_INT(got.vote, 0);
    store_close(s);
    st_rmdir(dir);
}

static void
test_no_leaks(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    long base = naos_alloc_live();
    struct store *s = st_open(dir, NULL);
    append_n(s, 1, 50, 1);
    struct store_log_entry *out;
    size_t n;
    ST_OK(s, store_log_read(s, 1, 50, 0, &out, &n));
    NT_EQ_INT(n, 50);
    store_log_entries_free(out, n);
    uint64_t term;
    ST_OK(s, store_log_term_at(s, 20, &term));
    store_close(s);
    NT_EQ_INT(naos_alloc_live(), base);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_open_creates_dir_and_schema),
        NT_CASE(test_open_bad_args),
        NT_CASE(test_newer_schema_refused),
        NT_CASE(test_second_process_refused),
        NT_CASE(test_unsafe_flags_refused),
        NT_CASE(test_map_growth),
        NT_CASE(test_max_map_size_enforced),
        NT_CASE(test_failed_commit_is_fatal),
        NT_CASE(test_raw_txn_api),
        NT_CASE(test_log_append_read),
        NT_CASE(test_log_gap_overlap_rejected),
        NT_CASE(test_log_truncate_append),
        NT_CASE(test_hard_state),
        NT_CASE(test_voters),
        NT_CASE(test_voter_target),
        NT_CASE(test_no_leaks),
        {0},
    };
    return nt_run(cases);
}
