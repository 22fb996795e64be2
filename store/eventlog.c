/* SPDX-License-Identifier: Apache-2.0 */
#include "store/eventlog.h"

#include <string.h>

#include "node/base/err.h"
#include "store/store_pb.h"

struct append_args {
    uint64_t from, to;
    store_event_fill_fn fill;
    void *arg;
    uint64_t keep;
};

static int
append_txn(struct store_txn *t, void *arg)
{
    const struct append_args *a = arg;
    unsigned char key[8];
    /* Never beneath (or over) a kept event: the numbers would no longer
     * come back in order, and the trim below would delete the newest. */
    const void *top = NULL;
    size_t toplen = 0;
    int err = store_txn_last(t, STORE_EVENTS, &top, &toplen, NULL, NULL);
    if (err != NAOS_OK && err != NAOS_ENOTFOUND)
        return err;
    if (err == NAOS_OK && toplen == 8 && store_be64_get(top) >= a->from)
        return store_txn_fail(t, NAOS_EINVAL,
                              "events: %llu is not above the last kept, %llu",
                              (unsigned long long)a->from,
                              (unsigned long long)store_be64_get(top));
    for (uint64_t q = a->from; q <= a->to; q++) {
        Naos__V1__Event ev = NAOS__V1__EVENT__INIT;
        if (!a->fill(q, &ev, a->arg))
            continue;
        ev.seq = q;
        store_be64_put(key, q);
        err = store_pb_put(t, STORE_EVENTS, key, sizeof key, &ev.base, 0);
        if (err != NAOS_OK)
            return err;
    }
    uint64_t last = a->to;
    if (last <= a->keep)
        return NAOS_OK;
    uint64_t cutoff = last - a->keep + 1; /* the oldest seq kept */
    /* Oldest first; each append trims about as many as it adds. */
    for (;;) {
        const void *k = NULL;
        size_t klen = 0;
        err = store_txn_first(t, STORE_EVENTS, &k, &klen, NULL, NULL);
        if (err == NAOS_ENOTFOUND)
            return NAOS_OK;
        if (err != NAOS_OK)
            return err;
        if (klen != 8)
            return store_txn_fail(t, NAOS_ESTORE,
                                  "corrupt key in events (%zu bytes)", klen);
        if (store_be64_get(k) >= cutoff)
            return NAOS_OK;
        unsigned char del[8];
        memcpy(del, k, sizeof del); /* k points into the map */
        if ((err = store_txn_del(t, STORE_EVENTS, del, sizeof del)) !=
            NAOS_OK)
            return err;
    }
}

int
store_events_append(struct store *s, uint64_t from, uint64_t to,
                    store_event_fill_fn fill, void *arg, uint64_t keep)
{
    if (keep == 0 || from == 0 || to < from || fill == NULL)
        return store_fail(s, NAOS_EINVAL,
                          "events: need 0 < from <= to and keep >= 1");
    struct append_args a = {from, to, fill, arg, keep};
    return store_write(s, append_txn, &a);
}

int
store_events_append_txn(struct store_txn *t, uint64_t from, uint64_t to,
                        store_event_fill_fn fill, void *arg, uint64_t keep)
{
    if (keep == 0 || from == 0 || to < from || fill == NULL)
        return store_txn_fail(t, NAOS_EINVAL,
                              "events: need 0 < from <= to and keep >= 1");
    struct append_args a = {from, to, fill, arg, keep};
    return append_txn(t, &a);
}

struct load_args {
    store_event_fn fn;
    void *arg;
    struct store_txn *t;
    uint64_t last;
    uint64_t skipped;
};

static int
load_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
    struct load_args *a = arg;
    ProtobufCMessage *m = NULL;
    if (klen != 8 ||
        store_pb_decode(a->t, STORE_EVENTS, val, vlen,
                        &naos__v1__event__descriptor, &m) != NAOS_OK) {
        a->skipped++;
        return NAOS_OK;
    }
    (void)key;
    int err = a->fn((const Naos__V1__Event *)m, a->arg);
    store_pb_free(m);
    return err;
}

struct load_txn_args {
    struct load_args *la;
    uint64_t max;
};

static int
load_txn(struct store_txn *t, void *arg)
{
    struct load_txn_args *x = arg;
    struct load_args *a = x->la;
    a->t = t;
    a->last = 0;
    a->skipped = 0;
    const void *k = NULL;
    size_t klen = 0;
    int err = store_txn_last(t, STORE_EVENTS, &k, &klen, NULL, NULL);
    if (err == NAOS_ENOTFOUND)
        return NAOS_OK;
    if (err != NAOS_OK)
        return err;
    if (klen == 8)
        a->last = store_be64_get(k);
    if (x->max == 0)
        return NAOS_OK;
    uint64_t from = a->last >= x->max ? a->last - x->max + 1 : 0;
    unsigned char fkey[8];
    store_be64_put(fkey, from);
    return store_txn_scan(t, STORE_EVENTS, fkey, sizeof fkey, load_one, a);
}

int
store_events_load(struct store *s, uint64_t max, store_event_fn fn,
                  void *arg, uint64_t *last, uint64_t *skipped)
{
    struct load_args a = {.fn = fn, .arg = arg};
    struct load_txn_args x = {&a, max};
    int err = store_read(s, load_txn, &x);
    if (last)
        *last = a.last;
    if (skipped)
        *skipped = a.skipped;
    return err;
}
