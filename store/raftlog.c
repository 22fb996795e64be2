/* SPDX-License-Identifier: Apache-2.0 */
/* raftlog.c: the Raft log (`raft_log`) and hard state (`raft_hard`).
 * Layout and rules: raftlog.h and RAFT-LITE.md §5. */
#include "store/raftlog.h"

#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/store_pb.h"

#define HARD_KEY "state"

/* last_entry reads the last index and term (0, 0 when empty). */
static int
last_entry(struct store_txn *t, uint64_t *index, uint64_t *term)
{
    const void *k, *v;
    size_t klen, vlen;
    int err = store_txn_last(t, STORE_RAFT_LOG, &k, &klen, &v, &vlen);
    if (err == NAOS_ENOTFOUND) {
        *index = *term = 0;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    if (klen != 8)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store: raft_log key of %zu bytes", klen);
    Naos__V1__LogEntryRecord *r;
    err = store_pb_decode(t, STORE_RAFT_LOG, v, vlen,
                          &naos__v1__log_entry_record__descriptor,
                          (ProtobufCMessage **)&r);
    if (err != NAOS_OK)
        return err;
    *index = store_be64_get(k);
    *term = r->term;
    store_pb_free(&r->base);
    return NAOS_OK;
}

static int
first_index(struct store_txn *t, uint64_t *index)
{
    const void *k;
    size_t klen;
    int err = store_txn_first(t, STORE_RAFT_LOG, &k, &klen, NULL, NULL);
    if (err == NAOS_ENOTFOUND) {
        *index = 0;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    if (klen != 8)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store: raft_log key of %zu bytes", klen);
    *index = store_be64_get(k);
    return NAOS_OK;
}

int
store_log_append_txn(struct store_txn *t, const struct store_log_entry *ents,
                     size_t n)
{
    if (n == 0)
        return NAOS_OK;
    if (ents == NULL)
        return store_txn_fail(t, NAOS_EINVAL, "store_log_append: no entries");
    for (size_t i = 1; i < n; i++) {
        if (ents[i].index != ents[0].index + i)
            return store_txn_fail(
                t, NAOS_EINVAL,
                "store_log_append: entries not contiguous: [%zu] has index "
                "%llu, expected %llu",
                i, (unsigned long long)ents[i].index,
                (unsigned long long)(ents[0].index + i));
        if (ents[i].term < ents[i - 1].term)
            return store_txn_fail(t, NAOS_EINVAL,
                                  "store_log_append: term goes back from "
                                  "%llu to %llu at index %llu",
                                  (unsigned long long)ents[i - 1].term,
                                  (unsigned long long)ents[i].term,
                                  (unsigned long long)ents[i].index);
    }
    uint64_t last, lastterm;
    int err = last_entry(t, &last, &lastterm);
    if (err != NAOS_OK)
        return err;
    uint64_t want = last + 1;
    if (ents[0].index < want)
        return store_txn_fail(
            t, NAOS_EINVAL,
            "store_log_append: overlap: index %llu is already in the log "
            "(last %llu); replace a suffix with store_log_truncate_append",
            (unsigned long long)ents[0].index, (unsigned long long)last);
    if (ents[0].index > want)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_append: gap: first new index %llu, "
                              "expected %llu",
                              (unsigned long long)ents[0].index,
                              (unsigned long long)want);
    if (ents[0].term < lastterm)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_append: term %llu at index %llu is "
                              "below the last entry's term %llu",
                              (unsigned long long)ents[0].term,
                              (unsigned long long)ents[0].index,
                              (unsigned long long)lastterm);
    for (size_t i = 0; i < n; i++) {
        Naos__V1__LogEntryRecord r = NAOS__V1__LOG_ENTRY_RECORD__INIT;
        r.term = ents[i].term;
        r.data.data = (uint8_t *)ents[i].data;
        r.data.len = ents[i].len;
        r.type = ents[i].type;
        unsigned char key[8];
        store_be64_put(key, ents[i].index);
        err = store_pb_put(t, STORE_RAFT_LOG, key, sizeof key, &r.base,
                           STORE_PUT_APPEND);
        if (err != NAOS_OK)
            return err;
    }
    return NAOS_OK;
}

int
store_log_truncate_append_txn(struct store_txn *t, uint64_t from,
                              const struct store_log_entry *ents, size_t n)
{
    if (from == 0)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_truncate_append: index 0");
    if (n > 0 && (ents == NULL || ents[0].index != from))
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_truncate_append: first entry must "
                              "have index %llu",
                              (unsigned long long)from);
    struct store_hard h;
    int err = store_hard_get_txn(t, &h);
    if (err != NAOS_OK)
        return err;
    if (from <= h.commit)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_truncate_append: index %llu is "
                              "committed (commit %llu): committed entries "
                              "are never removed",
                              (unsigned long long)from,
                              (unsigned long long)h.commit);
    uint64_t last, lastterm;
    err = last_entry(t, &last, &lastterm);
    if (err != NAOS_OK)
        return err;
    if (from > last + 1)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_log_truncate_append: index %llu is past "
                              "the end of the log (last %llu)",
                              (unsigned long long)from,
                              (unsigned long long)last);
    unsigned char key[8];
    store_be64_put(key, from);
    err = store_txn_del_from(t, STORE_RAFT_LOG, key, sizeof key, NULL);
    if (err != NAOS_OK)
        return err;
    return store_log_append_txn(t, ents, n);
}

struct append_args {
    uint64_t from; /* 0 = plain append */
    const struct store_log_entry *ents;
    size_t n;
};

static int
append_fn(struct store_txn *t, void *arg)
{
    struct append_args *a = arg;
    if (a->from == 0)
        return store_log_append_txn(t, a->ents, a->n);
    return store_log_truncate_append_txn(t, a->from, a->ents, a->n);
}

int
store_log_append(struct store *s, const struct store_log_entry *ents,
                 size_t n)
{
    struct append_args a = {0, ents, n};
    return store_write(s, append_fn, &a);
}

int
store_log_truncate_append(struct store *s, uint64_t from,
                          const struct store_log_entry *ents, size_t n)
{
    if (from == 0)
        return store_fail(s, NAOS_EINVAL,
                          "store_log_truncate_append: index 0");
    struct append_args a = {from, ents, n};
    return store_write(s, append_fn, &a);
}

struct bounds_args {
    uint64_t first, last, lastterm;
};

static int
bounds_fn(struct store_txn *t, void *arg)
{
    struct bounds_args *a = arg;
    int err = first_index(t, &a->first);
    if (err != NAOS_OK)
        return err;
    return last_entry(t, &a->last, &a->lastterm);
}

int
store_log_last_txn(struct store_txn *t, uint64_t *index, uint64_t *term)
{
    return last_entry(t, index, term);
}

int
store_log_compact_txn(struct store_txn *t, uint64_t below, uint64_t *count)
{
    uint64_t first, last, lastterm, n = 0;
    int err = first_index(t, &first);
    if (err == NAOS_OK)
        err = last_entry(t, &last, &lastterm);
    if (err != NAOS_OK)
        return err;
    /* The last entry stays, so the next append continues its index. */
    uint64_t end = below < last ? below : last;
    for (uint64_t i = first; first != 0 && i < end; i++) {
        unsigned char k[8];
        store_be64_put(k, i);
        err = store_txn_del(t, STORE_RAFT_LOG, k, sizeof k);
        if (err != NAOS_OK && err != NAOS_ENOTFOUND)
            return err;
        n += err == NAOS_OK;
    }
    if (count != NULL)
        *count = n;
    return NAOS_OK;
}

int
store_log_bounds(struct store *s, uint64_t *first, uint64_t *last)
{
    struct bounds_args a = {0, 0, 0};
    int err = store_read(s, bounds_fn, &a);
    if (err != NAOS_OK)
        return err;
    if (first != NULL)
        *first = a.first;
    if (last != NULL)
        *last = a.last;
    return NAOS_OK;
}

int
store_log_last(struct store *s, uint64_t *index, uint64_t *term)
{
    struct bounds_args a = {0, 0, 0};
    int err = store_read(s, bounds_fn, &a);
    if (err != NAOS_OK)
        return err;
    *index = a.last;
    *term = a.lastterm;
    return NAOS_OK;
}

struct term_args {
    uint64_t index, term;
};

static int
term_fn(struct store_txn *t, void *arg)
{
    struct term_args *a = arg;
    unsigned char key[8];
    store_be64_put(key, a->index);
    Naos__V1__LogEntryRecord *r;
    int err = store_pb_get(t, STORE_RAFT_LOG, key, sizeof key,
                           &naos__v1__log_entry_record__descriptor,
                           (ProtobufCMessage **)&r);
    if (err != NAOS_OK)
        return err;
    a->term = r->term;
    store_pb_free(&r->base);
    return NAOS_OK;
}

int
store_log_term_at(struct store *s, uint64_t index, uint64_t *term)
{
    struct term_args a = {index, 0};
    int err = store_read(s, term_fn, &a);
    if (err != NAOS_OK)
        return err;
    *term = a.term;
    return NAOS_OK;
}

struct read_args {
    struct store_txn *t;
    uint64_t lo, hi;
    size_t max_bytes, bytes;
    struct store_log_entry *ents;
    size_t n, cap;
};

static int
read_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
    struct read_args *a = arg;
    if (klen != 8)
        return store_txn_fail(a->t, NAOS_ESTORE,
                              "store: raft_log key of %zu bytes", klen);
    uint64_t index = store_be64_get(key);
    if (index > a->hi)
        return STORE_SCAN_STOP;
    if (a->n > 0 && a->max_bytes > 0 && a->bytes >= a->max_bytes)
        return STORE_SCAN_STOP;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct store_log_entry *e =
            naos_realloc(a->ents, cap * sizeof *e);
        if (e == NULL)
            return NAOS_ENOMEM;
        a->ents = e;
        a->cap = cap;
    }
    Naos__V1__LogEntryRecord *r;
    int err = store_pb_decode(a->t, STORE_RAFT_LOG, val, vlen,
                              &naos__v1__log_entry_record__descriptor,
                              (ProtobufCMessage **)&r);
    if (err != NAOS_OK)
        return err;
    void *copy = NULL;
    if (r->data.len > 0) {
        copy = naos_alloc(r->data.len);
        if (copy == NULL) {
            store_pb_free(&r->base);
            return NAOS_ENOMEM;
        }
        memcpy(copy, r->data.data, r->data.len);
    }
    a->ents[a->n++] = (struct store_log_entry){index, r->term, copy,
                                               r->data.len, r->type};
    a->bytes += r->data.len;
    store_pb_free(&r->base);
    return NAOS_OK;
}

static int
read_fn(struct store_txn *t, void *arg)
{
    struct read_args *a = arg;
    /* A read transaction runs once, but reset anyway (store_txn_fn). */
    store_log_entries_free(a->ents, a->n);
    a->t = t;
    a->ents = NULL;
    a->n = a->cap = 0;
    a->bytes = 0;
    unsigned char key[8];
    store_be64_put(key, a->lo);
    return store_txn_scan(t, STORE_RAFT_LOG, key, sizeof key, read_one, a);
}

int
store_log_read(struct store *s, uint64_t lo, uint64_t hi, size_t max_bytes,
               struct store_log_entry **out, size_t *n)
{
    if (lo == 0 || lo > hi)
        return store_fail(s, NAOS_EINVAL,
                          "store_log_read: bad range %llu..%llu",
                          (unsigned long long)lo, (unsigned long long)hi);
    struct read_args a = {.lo = lo, .hi = hi, .max_bytes = max_bytes};
    int err = store_read(s, read_fn, &a);
    if (err != NAOS_OK) {
        store_log_entries_free(a.ents, a.n);
        return err;
    }
    if (a.n == 0 || a.ents[0].index != lo) {
        store_log_entries_free(a.ents, a.n);
        return store_fail(s, NAOS_ENOTFOUND,
                          "store_log_read: index %llu is not in the log",
                          (unsigned long long)lo);
    }
    *out = a.ents;
    *n = a.n;
    return NAOS_OK;
}

void
store_log_entries_free(struct store_log_entry *ents, size_t n)
{
    if (ents == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        naos_free((void *)(uintptr_t)ents[i].data);
    naos_free(ents);
}

/* ---- hard state ---------------------------------------------------------- */

int
store_hard_get_txn(struct store_txn *t, struct store_hard *out)
{
    Naos__V1__HardStateRecord *r;
    int err = store_pb_get(t, STORE_RAFT_HARD, HARD_KEY, strlen(HARD_KEY),
                           &naos__v1__hard_state_record__descriptor,
                           (ProtobufCMessage **)&r);
    if (err == NAOS_ENOTFOUND) {
        *out = (struct store_hard)STORE_HARD_ZERO;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    *out = (struct store_hard){r->term, r->vote, r->commit};
    store_pb_free(&r->base);
    return NAOS_OK;
}

int
store_hard_set_txn(struct store_txn *t, const struct store_hard *h)
{
    struct store_hard old;
    int err = store_hard_get_txn(t, &old);
    if (err != NAOS_OK)
        return err;
    /* RAFT-LITE S6/P3, checked where it is cheapest to catch a bug. */
    if (h->term < old.term)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_hard_set: term %llu below stored %llu",
                              (unsigned long long)h->term,
                              (unsigned long long)old.term);
    if (h->term == old.term && old.vote != 0 && h->vote != old.vote)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_hard_set: vote in term %llu changes "
                              "from %llu to %llu",
                              (unsigned long long)h->term,
                              (unsigned long long)old.vote,
                              (unsigned long long)h->vote);
    if (h->commit < old.commit)
        return store_txn_fail(t, NAOS_EINVAL,
                              "store_hard_set: commit %llu below stored %llu",
                              (unsigned long long)h->commit,
                              (unsigned long long)old.commit);
    Naos__V1__HardStateRecord r = NAOS__V1__HARD_STATE_RECORD__INIT;
    r.term = h->term;
    r.vote = h->vote;
    r.commit = h->commit;
    return store_pb_put(t, STORE_RAFT_HARD, HARD_KEY, strlen(HARD_KEY),
                        &r.base, 0);
}

static int
hard_set_fn(struct store_txn *t, void *arg)
{
    return store_hard_set_txn(t, arg);
}

static int
hard_get_fn(struct store_txn *t, void *arg)
{
    return store_hard_get_txn(t, arg);
}

int
store_hard_set(struct store *s, const struct store_hard *h)
{
    return store_write(s, hard_set_fn, (void *)(uintptr_t)h);
}

int
store_hard_get(struct store *s, struct store_hard *out)
{
    return store_read(s, hard_get_fn, out);
}

/* ---- the founding configuration ----------------------------------------- */

#define VOTERS_KEY "raft_voters"

struct voters_args {
    uint64_t *ids;
    const uint64_t *want;
    size_t max, n;
};

static int
voters_get_txn(struct store_txn *t, uint64_t *ids, size_t max, size_t *n)
{
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, STORE_META, VOTERS_KEY, strlen(VOTERS_KEY), &v,
                            &vlen);
    if (err == NAOS_ENOTFOUND) {
        *n = 0;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    if (vlen % 8 || vlen / 8 > max || vlen / 8 > STORE_MAX_VOTERS)
        return store_txn_fail(t, NAOS_ESTORE,
                              "store: raft_voters of %zu bytes", vlen);
    for (size_t i = 0; i < vlen / 8; i++)
        ids[i] = store_be64_get((const unsigned char *)v + 8 * i);
    *n = vlen / 8;
    return NAOS_OK;
}

static int
voters_read_fn(struct store_txn *t, void *arg)
{
    struct voters_args *a = arg;
    return voters_get_txn(t, a->ids, a->max, &a->n);
}

int
store_voters_get(struct store *s, uint64_t *ids, size_t max, size_t *n)
{
    struct voters_args a = {ids, NULL, max, 0};
    int err = store_read(s, voters_read_fn, &a);
    if (err == NAOS_OK)
        *n = a.n;
    return err;
}

static int
voters_write_fn(struct store_txn *t, void *arg)
{
    struct voters_args *a = arg;
    uint64_t cur[STORE_MAX_VOTERS];
    size_t ncur = 0;
    int err = voters_get_txn(t, cur, STORE_MAX_VOTERS, &ncur);
    if (err != NAOS_OK)
        return err;
    if (ncur) {
        if (ncur != a->n || memcmp(cur, a->want, ncur * sizeof *cur) != 0)
            return store_txn_fail(t, NAOS_EEXIST, "store: another "
                                  "configuration of %zu voters was founded",
                                  ncur);
        return NAOS_OK;
    }
    unsigned char b[8 * STORE_MAX_VOTERS];
    for (size_t i = 0; i < a->n; i++)
        store_be64_put(b + 8 * i, a->want[i]);
    return store_txn_put(t, STORE_META, VOTERS_KEY, strlen(VOTERS_KEY), b,
                         8 * a->n, 0);
}

int
store_voters_set(struct store *s, const uint64_t *ids, size_t n)
{
    if (n == 0 || n > STORE_MAX_VOTERS)
        return store_fail(s, NAOS_EINVAL, "store: %zu voters (1..%d)", n,
                          STORE_MAX_VOTERS);
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0)
            return store_fail(s, NAOS_EINVAL, "store: voter id 0");
        for (size_t j = 0; j < i; j++)
            if (ids[i] == ids[j])
                return store_fail(s, NAOS_EINVAL, "store: voter %016llx "
                                  "twice", (unsigned long long)ids[i]);
    }
    struct voters_args a = {NULL, ids, n, n};
    return store_write(s, voters_write_fn, &a);
}

/* ---- the voter target ---------------------------------------------------- */

#define TARGET_KEY "raft_voter_target"

static int
target_get_txn(struct store_txn *t, unsigned *target)
{
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, STORE_META, TARGET_KEY, strlen(TARGET_KEY), &v,
                            &vlen);
    if (err == NAOS_ENOTFOUND) {
        *target = 0;
        return NAOS_OK;
    }
    if (err != NAOS_OK)
        return err;
    uint64_t x = vlen == 8 ? store_be64_get(v) : 0;
    if (x < 1 || x > STORE_MAX_VOTERS)
        return store_txn_fail(t, NAOS_ESTORE, "store: %s of %zu bytes (%llu)",
                              TARGET_KEY, vlen, (unsigned long long)x);
    *target = (unsigned)x;
    return NAOS_OK;
}

static int
target_read_fn(struct store_txn *t, void *arg)
{
    return target_get_txn(t, arg);
}

int
store_voter_target_get(struct store *s, unsigned *target)
{
    return store_read(s, target_read_fn, target);
}

static int
target_write_fn(struct store_txn *t, void *arg)
{
    unsigned want = *(const unsigned *)arg, cur = 0;
    int err = target_get_txn(t, &cur);
    if (err != NAOS_OK)
        return err;
    if (cur != 0)
        return cur == want ? NAOS_OK
                           : store_txn_fail(t, NAOS_EEXIST, "store: a voter "
                                            "target of %u is recorded", cur);
    unsigned char b[8];
    store_be64_put(b, want);
    return store_txn_put(t, STORE_META, TARGET_KEY, strlen(TARGET_KEY), b,
                         sizeof b, 0);
}

int
store_voter_target_set(struct store *s, unsigned target)
{
    if (target < 1 || target > STORE_MAX_VOTERS)
        return store_fail(s, NAOS_EINVAL, "store: a voter target of %u "
                          "(1..%d)", target, STORE_MAX_VOTERS);
    return store_write(s, target_write_fn, &target);
}

/* ---- the join mark -------------------------------------------------------- */

#define JOINING_KEY "raft_joining"

static int
joining_read_fn(struct store_txn *t, void *arg)
{
    const void *v;
    size_t vlen;
    int err = store_txn_get(t, STORE_META, JOINING_KEY, strlen(JOINING_KEY),
                            &v, &vlen);
    *(bool *)arg = err == NAOS_OK;
    return err == NAOS_ENOTFOUND ? NAOS_OK : err;
}

int
store_joining_get(struct store *s, bool *joining)
{
    return store_read(s, joining_read_fn, joining);
}

static int
joining_write_fn(struct store_txn *t, void *arg)
{
    (void)arg;
    static const unsigned char one = 1;
    return store_txn_put(t, STORE_META, JOINING_KEY, strlen(JOINING_KEY), &one,
                         1, 0);
}

int
store_joining_set(struct store *s)
{
    return store_write(s, joining_write_fn, NULL);
}

/* ---- rebuilding ---------------------------------------------------------- */

/* log_replace: the whole log becomes one no-op entry at (index, term),
 * and the hard state h. */
static int
log_replace(struct store_txn *t, uint64_t index, uint64_t term,
            const Naos__V1__HardStateRecord *h)
{
    /* every key is >= eight zero bytes: the whole log goes */
    static const unsigned char zero[8];
    int err = store_txn_del_from(t, STORE_RAFT_LOG, zero, sizeof zero, NULL);
    if (err != NAOS_OK)
        return err;
    Naos__V1__LogEntryRecord r = NAOS__V1__LOG_ENTRY_RECORD__INIT;
    r.term = term;
    r.type = 1; /* RAFT_ENTRY_NOOP (node/raft/raft.h) */
    unsigned char key[8];
    store_be64_put(key, index);
    if ((err = store_pb_put(t, STORE_RAFT_LOG, key, sizeof key, &r.base,
                            0)) != NAOS_OK)
        return err;
    return store_pb_put(t, STORE_RAFT_HARD, HARD_KEY, strlen(HARD_KEY),
                        &h->base, 0);
}

int
store_log_reset_txn(struct store_txn *t, uint64_t index, uint64_t term)
{
    if (index == 0 || term == 0)
        return store_txn_fail(t, NAOS_EINVAL, "store_log_reset: index %llu, "
                              "term %llu (both > 0)",
                              (unsigned long long)index,
                              (unsigned long long)term);
    Naos__V1__HardStateRecord h = NAOS__V1__HARD_STATE_RECORD__INIT;
    h.term = term;
    h.commit = index;
    return log_replace(t, index, term, &h);
}

int
store_log_install_txn(struct store_txn *t, uint64_t index, uint64_t term)
{
    struct store_hard old = STORE_HARD_ZERO;
    int err = store_hard_get_txn(t, &old);
    if (err != NAOS_OK)
        return err;
    if (index == 0 || term == 0 || term > old.term || index <= old.commit)
        return store_txn_fail(t, NAOS_EINVAL, "store_log_install: entry "
                              "(%llu, term %llu) for a log of term %llu "
                              "committed to %llu",
                              (unsigned long long)index,
                              (unsigned long long)term,
                              (unsigned long long)old.term,
                              (unsigned long long)old.commit);
    Naos__V1__HardStateRecord h = NAOS__V1__HARD_STATE_RECORD__INIT;
    h.term = old.term;
    h.vote = old.vote;
    h.commit = index;
    return log_replace(t, index, term, &h);
}

int
store_voters_reset_txn(struct store_txn *t, const uint64_t *ids, size_t n)
{
    if (n == 0 || n > STORE_MAX_VOTERS)
        return store_txn_fail(t, NAOS_EINVAL, "store: %zu voters (1..%d)",
                              n, STORE_MAX_VOTERS);
    unsigned char b[8 * STORE_MAX_VOTERS];
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == 0)
            return store_txn_fail(t, NAOS_EINVAL, "store: voter id 0");
        for (size_t j = 0; j < i; j++)
            if (ids[i] == ids[j])
                return store_txn_fail(t, NAOS_EINVAL, "store: voter %016llx "
                                      "twice", (unsigned long long)ids[i]);
        store_be64_put(b + 8 * i, ids[i]);
    }
    return store_txn_put(t, STORE_META, VOTERS_KEY, strlen(VOTERS_KEY), b,
                         8 * n, 0);
}
