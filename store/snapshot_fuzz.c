/* SPDX-License-Identifier: Apache-2.0 */
/* snapshot_fuzz.c: libFuzzer target for the snapshot reader
 * (store_snap_verify: the file `naos-node recover --from` checks before
 * anything else; built by cluster-tests/fuzz with -DNAOS_FUZZ=ON).
 *
 * Checks beyond memory safety:
 *   - a refusal is NAOS_EINVAL or NAOS_ETOOBIG with a message (ENOMEM
 *     aside), whatever the bytes;
 *   - what is accepted is the whole input, with its own checksum as the
 *     trailer and the header's fields as given;
 *   - the input is read in pieces of a size the input picks, so short
 *     reads at every boundary are covered;
 *   - nothing leaks through naos_alloc. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
    const uint8_t *b;
    size_t len, pos, chunk;
};

static int
in_read(void *arg, void *buf, size_t cap, size_t *got)
{
    struct in *i = arg;
    size_t n = i->len - i->pos;
    if (n > cap)
        n = cap;
    if (n > i->chunk)
        n = i->chunk;
    memcpy(buf, i->b + i->pos, n);
    i->pos += n;
    *got = n;
    return NAOS_OK;
}

static int
in_rewind(void *arg)
{
    ((struct in *)arg)->pos = 0;
    return NAOS_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long live = naos_alloc_live();
    /* the last byte of the input picks the read size (1..256, or all) */
    size_t chunk = size ? (size_t)data[size - 1] : 0;
    struct in i = {data, size, 0, chunk ? chunk : SIZE_MAX};
    struct snap_reader r = {in_read, in_rewind, &i};
    struct snap_limits lim = {64, false}; /* small: reach the count edge */
    struct snap_info info;
    char err[512] = "";
    int rc = store_snap_verify(&r, &lim, &info, err, sizeof err);
    if (rc != NAOS_OK) {
        NAOS_ASSERT(rc == NAOS_EINVAL || rc == NAOS_ETOOBIG ||
                    rc == NAOS_ENOMEM);
        NAOS_ASSERT(rc == NAOS_ENOMEM || err[0] != '\0');
    } else {
        NAOS_ASSERT(info.bytes == size);
        NAOS_ASSERT(size >= SNAP_HEADER_LEN + SNAP_SUM_LEN);
        NAOS_ASSERT(memcmp(data, SNAP_MAGIC, 8) == 0);
        NAOS_ASSERT(memcmp(info.sum, data + size - SNAP_SUM_LEN,
                           SNAP_SUM_LEN) == 0);
        NAOS_ASSERT(info.version == SNAP_VERSION);
        NAOS_ASSERT(info.entries <= 64);
    }
    NAOS_ASSERT(naos_alloc_live() == live);
    return 0;
}
