/* SPDX-License-Identifier: Apache-2.0 */
/* arena.c: chunks double from 4 KiB up to 256 KiB, so a small reply costs
 * one allocation and a 10,000-child status a few dozen. A piece larger
 * than a quarter chunk gets a chunk of its own, placed behind the current
 * one so the current one's free space is not wasted. */
#include "node/base/arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "node/base/alloc.h"

struct naos_arena_chunk {
    struct naos_arena_chunk *next;
    alignas(max_align_t) unsigned char data[];
};

enum { FIRST_CHUNK = 4096, MAX_CHUNK = 256 * 1024 };

static size_t
align_up(size_t n)
{
    size_t a = alignof(max_align_t);
    return (n + a - 1) & ~(a - 1);
}

static struct naos_arena_chunk *
chunk_new(size_t payload)
{
    if (payload > SIZE_MAX - sizeof(struct naos_arena_chunk))
        return NULL;
    return naos_alloc(sizeof(struct naos_arena_chunk) + payload);
}

void *
naos_arena_alloc(struct naos_arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - alignof(max_align_t))
        return NULL;
    size_t need = align_up(size);
    if (a->chunks != NULL && a->cap - a->used >= need) {
        void *p = a->chunks->data + a->used;
        a->used += need;
        return p; /* chunks come zeroed and are never reused */
    }
    if (a->next_size == 0)
        a->next_size = FIRST_CHUNK;
    if (need > a->next_size / 4 && a->chunks != NULL) {
        /* A big piece: its own chunk, kept behind the current one. */
        struct naos_arena_chunk *c = chunk_new(need);
        if (c == NULL)
            return NULL;
        c->next = a->chunks->next;
        a->chunks->next = c;
        return c->data;
    }
    size_t payload = a->next_size > need ? a->next_size : need;
    struct naos_arena_chunk *c = chunk_new(payload);
    if (c == NULL)
        return NULL;
    c->next = a->chunks;
    a->chunks = c;
    a->used = need;
    a->cap = payload;
    if (a->next_size < MAX_CHUNK)
        a->next_size *= 2;
    return c->data;
}

char *
naos_arena_strdup(struct naos_arena *a, const char *s)
{
    if (s == NULL)
        s = "";
    size_t n = strlen(s) + 1;
    char *d = naos_arena_alloc(a, n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

void
naos_arena_fini(struct naos_arena *a)
{
    struct naos_arena_chunk *c = a->chunks;
    while (c != NULL) {
        struct naos_arena_chunk *next = c->next;
        naos_free(c);
        c = next;
    }
    *a = (struct naos_arena){0};
}
