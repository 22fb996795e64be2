/* SPDX-License-Identifier: Apache-2.0 */
/* bench_store: latency and rate of a synced single-entry Raft log append
 * through the store API, beside the floor measured in the same run on the
 * same filesystem: a raw pwrite of one 4 KiB page + fdatasync, the two
 * interleaved op by op so that both see the same disk load. Also the
 * batched figure (64 entries per transaction). Rates are 1 / mean
 * latency of the measured op alone.
 *
 *   bench_store [-n N] [-b BATCHES] [-s BYTES] [-k] [DIR]
 *
 * DIR (default: the current directory) must be on the disk under test; a
 * temporary directory is made inside it and removed at the end (-k keeps
 * it). The anchor file is preallocated and synced first, so each anchor
 * op is one data page and no metadata, the cheapest durable write there
 * is. An LMDB commit syncs twice (data pages, then the meta page), so a
 * ratio near 2 is the expected floor. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/base/err.h"
#include "store/raftlog.h"
#include "store/store.h"

#define WARMUP 50
#define BATCH 64

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

struct stats {
    double p50_ms, p99_ms, max_ms, ops_s;
};

static struct stats
summarize(uint64_t *lat, size_t n, uint64_t total_ns)
{
    qsort(lat, n, sizeof *lat, cmp_u64);
    struct stats s;
    s.p50_ms = (double)lat[n / 2] / 1e6;
    s.p99_ms = (double)lat[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1] / 1e6;
    s.max_ms = (double)lat[n - 1] / 1e6;
    s.ops_s = (double)n / ((double)total_ns / 1e9);
    return s;
}

static void
print_stats(const char *what, size_t n, struct stats s, const char *unit)
{
    printf("%-34s n=%-5zu p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  "
           "%9.0f %s/s\n",
           what, n, s.p50_ms, s.p99_ms, s.max_ms, s.ops_s, unit);
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void
die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_store: fatal: %s: %s\n", what, detail);
    exit(111);
}

int
main(int argc, char **argv)
{
    size_t n = 2000, batches = 200, size = 128;
    int keep = 0, opt;
    while ((opt = getopt(argc, argv, "n:b:s:kh")) != -1) {
        switch (opt) {
        case 'n': n = strtoul(optarg, NULL, 10); break;
        case 'b': batches = strtoul(optarg, NULL, 10); break;
        case 's': size = strtoul(optarg, NULL, 10); break;
        case 'k': keep = 1; break;
        default:
            fprintf(stderr, "usage: bench_store [-n N] [-b BATCHES] "
                            "[-s BYTES] [-k] [DIR]\n");
            return opt == 'h' ? 0 : 100;
        }
    }
    if (n < 10 || batches < 10 || size > (1 << 20)) {
        fprintf(stderr, "bench_store: need -n >= 10, -b >= 10, -s <= 1 MiB\n");
        return 100;
    }
    const char *base = optind < argc ? argv[optind] : ".";
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s/naos-bench-store.XXXXXX", base);
    if (mkdtemp(tmp) == NULL)
        die(tmp, strerror(errno));
    char dir[4200], anchor[4200];
    snprintf(dir, sizeof dir, "%s/store", tmp);
    snprintf(anchor, sizeof anchor, "%s/anchor", tmp);

    struct store *s;
    char err[512];
    if (store_open(&s, dir, NULL, err, sizeof err) != NAOS_OK)
        die("store_open", err);
    printf("bench_store: dir %s, entry %zu bytes, durable=%s\n", tmp, size,
           store_is_durable(s) ? "yes" : "NO");

    char *data = malloc(size > 0 ? size : 1);
    uint64_t *lat = malloc((n > batches ? n : batches) * sizeof *lat);
    uint64_t *alat = malloc(n * sizeof *alat);
    struct store_log_entry *ents = malloc(BATCH * sizeof *ents);
    if (data == NULL || lat == NULL || alat == NULL || ents == NULL)
        die("malloc", strerror(ENOMEM));
    memset(data, 'x', size);

    /* The anchor file: preallocated 1 MiB, synced, so each anchor op
     * rewrites one data page and changes no metadata. */
    int fd = open(anchor, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        die(anchor, strerror(errno));
    static char page[4096];
    memset(page, 'a', sizeof page);
    for (int i = 0; i < 256; i++)
        if (pwrite(fd, page, sizeof page, (off_t)i * 4096) != 4096)
            die("pwrite", strerror(errno));
    if (fsync(fd) != 0)
        die("fsync", strerror(errno));

    /* 1. synced single-entry appends through the store API, interleaved
     * op by op with the anchor (pwrite one 4 KiB page + fdatasync in the
     * same directory), so both see the same disk and the same noise. */
    uint64_t idx = 1;
    for (int i = 0; i < WARMUP; i++, idx++) {
        struct store_log_entry e = {idx, 1, data, size, 0};
        if (store_log_append(s, &e, 1) != NAOS_OK)
            die("append", store_errmsg(s));
        if (pwrite(fd, page, sizeof page, 0) != 4096 || fdatasync(fd) != 0)
            die("anchor", strerror(errno));
    }
    uint64_t tsum = 0, asum = 0;
    for (size_t i = 0; i < n; i++, idx++) {
        struct store_log_entry e = {idx, 1, data, size, 0};
        uint64_t a = now_ns();
        if (store_log_append(s, &e, 1) != NAOS_OK)
            die("append", store_errmsg(s));
        uint64_t m = now_ns();
        page[0] = (char)i;
        if (pwrite(fd, page, sizeof page, (off_t)(i % 256) * 4096) != 4096 ||
            fdatasync(fd) != 0)
            die("anchor", strerror(errno));
        uint64_t z = now_ns();
        lat[i] = m - a;
        alat[i] = z - m;
        tsum += m - a;
        asum += z - m;
    }
    struct stats st1 = summarize(lat, n, tsum);
    struct stats sta = summarize(alat, n, asum);
    close(fd);

    /* 2. batched: 64 entries per synced transaction. */
    uint64_t tb = 0;
    for (size_t b = 0; b < batches; b++) {
        for (int j = 0; j < BATCH; j++)
            ents[j] = (struct store_log_entry){idx + (uint64_t)j, 1, data,
                                               size, 0};
        uint64_t a = now_ns();
        if (store_log_append(s, ents, BATCH) != NAOS_OK)
            die("append", store_errmsg(s));
        lat[b] = now_ns() - a;
        tb += lat[b];
        idx += BATCH;
    }
    struct stats stb = summarize(lat, batches, tb);
    uint64_t entries = idx - 1;
    store_close(s);
    struct stat dst;
    char dfile[4300];
    snprintf(dfile, sizeof dfile, "%s/data.mdb", dir);
    double per_entry = stat(dfile, &dst) == 0
                           ? (double)dst.st_size / (double)entries
                           : 0;

    print_stats("store: synced 1-entry append", n, st1, "appends");
    print_stats("anchor: pwrite 4 KiB + fdatasync", n, sta, "ops");
    printf("ratio store/fdatasync: p50 %.2fx  p99 %.2fx  rate %.2fx\n",
           st1.p50_ms / sta.p50_ms, st1.p99_ms / sta.p99_ms,
           st1.ops_s / sta.ops_s);
    print_stats("store: synced 64-entry txn", batches, stb, "txns");
    printf("store: batched %.0f entries/s (%.1fx the 1-entry rate); "
           "%.0f B on disk per entry (%llu entries)\n",
           stb.ops_s * BATCH, stb.ops_s * BATCH / st1.ops_s, per_entry,
           (unsigned long long)entries);

    free(data);
    free(lat);
    free(alat);
    free(ents);
    if (!keep)
        nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
