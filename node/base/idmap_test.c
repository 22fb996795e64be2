/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/alloc.h"
#include "node/base/idmap.h"
#include "node/base/testing.h"

static void
test_put_get_del_against_array(void)
{
    enum { N = 5000 };
    static int vals[N];
    static int present[N];
    struct idmap m = {0};
    unsigned s = 12345;
    for (int step = 0; step < 100000; step++) {
        s = s * 1103515245u + 12345u;
        int k = (int)((s >> 8) % N);
        if ((s >> 4) & 1) {
            NT_EQ_INT(idmap_put(&m, (uint64_t)k, &vals[k]), 0);
            present[k] = 1;
        } else {
            idmap_del(&m, (uint64_t)k);
            present[k] = 0;
        }
        if (step % 997 == 0)
            for (int i = 0; i < N; i++)
                NT_TRUE(idmap_get(&m, (uint64_t)i) ==
                        (present[i] ? &vals[i] : NULL));
    }
    size_t n = 0;
    for (int i = 0; i < N; i++)
        n += (size_t)present[i];
    NT_EQ_INT(m.len, n);
    idmap_fini(&m);
    NT_EQ_INT(naos_alloc_live(), 0);
}

struct each_seen {
    int count[300];
    int wrong_val;
};

static void
each_count(void *arg, uint64_t key, void *val)
{
    struct each_seen *seen = arg;
    NT_TRUE(key < 300);
    seen->count[key]++;
    if (val != &seen->count[key])
        seen->wrong_val++;
}

static void
test_each_visits_every_entry_once(void)
{
    struct idmap m = {0};
    struct each_seen seen = {0};
    idmap_each(&m, each_count, &seen); /* empty, never allocated */
    for (int k = 0; k < 300; k++)
        NT_EQ_INT(idmap_put(&m, (uint64_t)k, &seen.count[k]), 0);
    for (int k = 0; k < 300; k += 3) /* holes, and shifted chains */
        idmap_del(&m, (uint64_t)k);
    idmap_each(&m, each_count, &seen);
    for (int k = 0; k < 300; k++)
        NT_EQ_INT(seen.count[k], k % 3 == 0 ? 0 : 1);
    NT_EQ_INT(seen.wrong_val, 0);
    idmap_fini(&m);
    NT_EQ_INT(naos_alloc_live(), 0);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_put_get_del_against_array),
        NT_CASE(test_each_visits_every_entry_once), {0}};
    return nt_run(cases);
}
