/* SPDX-License-Identifier: Apache-2.0 */
/* idmap.h: a u64 -> pointer hash map (open addressing, linear probing,
 * backward-shift deletion). Used for pid -> worker lookups. */
#ifndef NAOS_BASE_IDMAP_H
#define NAOS_BASE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap_slot {
    uint64_t key;
    void *val; /* NULL = empty slot */
};

struct idmap {
    struct idmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
};

/* idmap_fini frees the table; safe on a zeroed map. Values are borrowed. */
void idmap_fini(struct idmap *m);
/* idmap_put maps key to val (non-NULL, borrowed), replacing any previous
 * value. Returns NAOS_OK or NAOS_ENOMEM (map unchanged). */
int idmap_put(struct idmap *m, uint64_t key, void *val);
/* idmap_get returns the value for key, or NULL. */
void *idmap_get(const struct idmap *m, uint64_t key);
/* idmap_del removes key if present. */
void idmap_del(struct idmap *m, uint64_t key);
/* idmap_each_fn: one entry of the map (val borrowed). It must not put
 * into or delete from the map it is called for. */
typedef void (*idmap_each_fn)(void *arg, uint64_t key, void *val);
/* idmap_each calls fn(arg, key, val) once for every entry, in no
 * particular order. O(cap). */
void idmap_each(const struct idmap *m, idmap_each_fn fn, void *arg);

#endif
