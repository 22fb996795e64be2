/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/alloc.h"
#include "node/base/testing.h"
#include "node/events/events.h"

static void
test_cursor_and_overwrite(void)
{
    long base = naos_alloc_live();
    struct events ev = {0};
    NT_EQ_INT(events_init(&ev, 3), 0);
    NT_EQ_INT(events_last(&ev), 0);
    NT_EQ_INT(events_oldest(&ev), 0);
    NT_TRUE(events_get(&ev, 1) == NULL);
    for (int i = 1; i <= 5; i++)
        events_push(&ev, "exit", "dep", "dep/a", 100 + i, "exit:1", i, NULL,
                    0, 0);
    NT_EQ_INT(events_last(&ev), 5);
    NT_EQ_INT(events_oldest(&ev), 3);
    NT_TRUE(events_get(&ev, 2) == NULL);
    const struct events_entry *e = events_get(&ev, 4);
    NT_TRUE(e != NULL);
    NT_EQ_INT(e->seq, 4);
    NT_EQ_INT(e->pid, 104);
    NT_EQ_STR(e->path, "dep/a");
    NT_TRUE(events_get(&ev, 6) == NULL);
    events_fini(&ev);
    NT_EQ_INT(naos_alloc_live(), base);
}

int
main(void)
{
    static const struct nt_case cases[] = {NT_CASE(test_cursor_and_overwrite),
                                           {0}};
    return nt_run(cases);
}
