/* SPDX-License-Identifier: Apache-2.0 */
/* cut.h: a test-only network partition for the node's transport.
 *
 * With NAOS_TESTING_PARTITION_FILE=PATH in its environment, a node sends
 * nothing to the addresses listed in PATH (one per line, as given to
 * --join / --advertise, with or without tcp://; at most WIRE_CUT_MAX of
 * them; an absent or empty file cuts nothing). Listing each side's
 * address in the other's file cuts both directions, since every message
 * is someone's send; a third node that lists neither is a bridge. The
 * file is read again at most once per loop iteration, when its size or
 * time changed, so a test partitions and heals a live cluster by writing
 * files. Messages dropped this way are counted, never sent late.
 * Integration tests only (cluster-tests/it/test_linear_cluster.py): the
 * node warns at start that it runs with it. */
#ifndef NAOS_NODE_WIRE_CUT_H
#define NAOS_NODE_WIRE_CUT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WIRE_CUT_MAX 16
#define WIRE_CUT_ADDR 128

struct wire_cut {
    char path[4096];          /* "" when off */
    uint64_t checked;         /* loop iteration of the last look, + 1 */
    struct timespec mtime;
    long long size;
    char addrs[WIRE_CUT_MAX][WIRE_CUT_ADDR];
    int n;
    uint64_t dropped;
};

/* wire_cut_init reads NAOS_TESTING_PARTITION_FILE; true when it is set. */
bool wire_cut_init(struct wire_cut *c);
/* wire_cut_blocks: a send to addr must be dropped (iteration: the loop's
 * counter, so the file is looked at once per iteration at most). */
bool wire_cut_blocks(struct wire_cut *c, uint64_t iteration,
                     const char *addr);

#endif
