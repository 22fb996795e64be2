/* SPDX-License-Identifier: Apache-2.0 */
/* arena.h: a bump allocator for documents built from many small pieces
 * (a status reply holds several allocations per child) and freed all at
 * once. Memory comes from naos_alloc in chunks, so one free releases a
 * whole reply and building one costs a pointer bump per piece. */
#ifndef NAOS_BASE_ARENA_H
#define NAOS_BASE_ARENA_H

#include <stddef.h>

struct naos_arena_chunk;

/* struct naos_arena: zero-initialise to use ({0} is an empty arena). */
struct naos_arena {
    struct naos_arena_chunk *chunks; /* newest first */
    size_t used, cap;                /* in the newest chunk */
    size_t next_size;                /* the next chunk's payload size */
};

/* naos_arena_alloc returns zeroed memory of size bytes, aligned for any
 * type and owned by a, or NULL on failure. */
void *naos_arena_alloc(struct naos_arena *a, size_t size);
/* naos_arena_strdup copies s (NULL copies "") into a; NULL on failure. */
char *naos_arena_strdup(struct naos_arena *a, const char *s);
/* naos_arena_fini frees everything a holds; a is then empty again. */
void naos_arena_fini(struct naos_arena *a);

#endif
