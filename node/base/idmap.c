/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/idmap.h"

#include "node/base/alloc.h"
#include "node/base/err.h"

static size_t
slot_of(uint64_t key, size_t cap)
{
    /* Fibonacci hashing spreads sequential pids over the table. */
    return (size_t)((key * 11400714819323198485ull) >> 7) & (cap - 1);
}

void
idmap_fini(struct idmap *m)
{
    naos_free(m->slots);
    *m = (struct idmap){0};
}

static int
grow(struct idmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct idmap_slot *ns = naos_alloc(ncap * sizeof *ns);
    if (ns == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (m->slots[i].val == NULL)
            continue;
        size_t j = slot_of(m->slots[i].key, ncap);
        while (ns[j].val)
            j = (j + 1) & (ncap - 1);
        ns[j] = m->slots[i];
    }
    naos_free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return NAOS_OK;
}

int
idmap_put(struct idmap *m, uint64_t key, void *val)
{
    NAOS_ASSERT(val != NULL);
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) != NAOS_OK)
        return NAOS_ENOMEM;
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].val && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].val == NULL)
        m->len++;
    m->slots[i] = (struct idmap_slot){key, val};
    return NAOS_OK;
}

void *
idmap_get(const struct idmap *m, uint64_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = slot_of(key, m->cap);
    while (m->slots[i].val) {
        if (m->slots[i].key == key)
            return m->slots[i].val;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

void
idmap_del(struct idmap *m, uint64_t key)
{
    if (m->cap == 0)
        return;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    while (m->slots[i].val && m->slots[i].key != key)
        i = (i + 1) & mask;
    if (m->slots[i].val == NULL)
        return;
    /* Backward-shift: move later entries of the probe chain into the gap so
     * lookups never stop early at a hole. */
    size_t gap = i;
    for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
        size_t home = slot_of(m->slots[j].key, m->cap);
        if (((j - home) & mask) >= ((j - gap) & mask)) {
            m->slots[gap] = m->slots[j];
            gap = j;
        }
    }
    m->slots[gap] = (struct idmap_slot){0};
    m->len--;
}

void
idmap_each(const struct idmap *m, idmap_each_fn fn, void *arg)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].val != NULL)
            fn(arg, m->slots[i].key, m->slots[i].val);
}
