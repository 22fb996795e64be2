/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
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

/* A ring read back from the store goes on numbering after the last event
 * it kept, and knows that what came before it is not kept. */
static void
test_restore_continues_numbering(void)
{
    long base = naos_alloc_live();
    struct events ev = {0};
    NT_EQ_INT(events_init(&ev, 4), 0);
    struct events_entry e = {.seq = 250, .pid = 7, .restarts = 2,
                             .at_wall_ms = 1000};
    snprintf(e.kind, sizeof e.kind, "exit");
    e.path = "d/w";
    e.reason = "exit:1";
    NT_EQ_INT(events_restore(&ev, &e), 0);
    e.seq = 253; /* a gap: events the previous run never wrote */
    NT_EQ_INT(events_restore(&ev, &e), 0);
    e.seq = 252; /* out of order */
    NT_EQ_INT(events_restore(&ev, &e), NAOS_EINVAL);
    NT_EQ_INT(events_oldest(&ev), 250);
    NT_EQ_INT(events_last(&ev), 253);
    NT_TRUE(events_get(&ev, 249) == NULL);
    NT_TRUE(events_get(&ev, 251) == NULL); /* the gap */
    const struct events_entry *g = events_get(&ev, 250);
    NT_TRUE(g != NULL);
    NT_EQ_STR(g->kind, "exit");
    NT_EQ_STR(g->reason, "exit:1");
    NT_EQ_INT(g->restarts, 2);
    events_push(&ev, "restart", "d", "d/w", 8, NULL, 3, NULL, 2000, 0);
    NT_EQ_INT(events_last(&ev), 254);
    NT_EQ_STR(events_get(&ev, 254)->kind, "restart");
    for (int i = 0; i < 4; i++)
        events_push(&ev, "start", "d", "d/w", 9, NULL, 0, NULL, 3000, 0);
    NT_EQ_INT(events_oldest(&ev), 255);
    events_fini(&ev);
    NT_EQ_INT(naos_alloc_live(), base);
}

/* A cluster event carries its log entry and term, across a restore; the
 * next push does not inherit them. */
static void
test_mark_log(void)
{
    long base = naos_alloc_live();
    struct events ev = {0};
    NT_EQ_INT(events_init(&ev, 4), 0);
    events_mark_log(&ev, 9, 9); /* nothing pushed yet: nothing marked */
    events_push(&ev, "node-lost", "d", NULL, 0, NULL, 0, "to b", 1, 0);
    events_mark_log(&ev, 57, 3);
    const struct events_entry *g = events_get(&ev, 1);
    NT_EQ_INT(g->log_index, 57);
    NT_EQ_INT(g->log_term, 3);
    events_push(&ev, "exit", "d", "d/w", 5, NULL, 0, NULL, 2, 0);
    NT_EQ_INT(events_get(&ev, 2)->log_index, 0);
    struct events ev2 = {0};
    NT_EQ_INT(events_init(&ev2, 4), 0);
    NT_EQ_INT(events_restore(&ev2, g), 0);
    NT_EQ_INT(events_get(&ev2, 1)->log_index, 57);
    NT_EQ_INT(events_get(&ev2, 1)->log_term, 3);
    events_fini(&ev2);
    events_fini(&ev);
    NT_EQ_INT(naos_alloc_live(), base);
}

/* A store whose newest record did not decode: numbering goes on after
 * that record's seq, not after the last event that came back. */
static void
test_skip_to_a_lost_newest(void)
{
    long base = naos_alloc_live();
    struct events ev = {0};
    NT_EQ_INT(events_init(&ev, 4), 0);
    struct events_entry e = {.seq = 10};
    snprintf(e.kind, sizeof e.kind, "exit");
    NT_EQ_INT(events_restore(&ev, &e), 0);
    events_skip_to(&ev, 12); /* 11, 12 kept but unreadable */
    NT_EQ_INT(events_last(&ev), 12);
    events_skip_to(&ev, 5); /* never back */
    NT_EQ_INT(events_last(&ev), 12);
    NT_TRUE(events_get(&ev, 11) == NULL);
    NT_TRUE(events_get(&ev, 12) == NULL);
    NT_TRUE(events_get(&ev, 10) != NULL);
    events_push(&ev, "start", "d", "d/w", 9, NULL, 0, NULL, 3000, 0);
    NT_EQ_INT(events_last(&ev), 13);
    NT_EQ_STR(events_get(&ev, 13)->kind, "start");
    events_fini(&ev);
    /* an empty ring too */
    NT_EQ_INT(events_init(&ev, 4), 0);
    events_skip_to(&ev, 7);
    NT_EQ_INT(events_last(&ev), 7);
    NT_TRUE(events_get(&ev, 7) == NULL);
    events_push(&ev, "start", "d", "d/w", 9, NULL, 0, NULL, 3000, 0);
    NT_EQ_INT(events_last(&ev), 8);
    NT_EQ_INT(events_oldest(&ev), 8);
    events_fini(&ev);
    NT_EQ_INT(naos_alloc_live(), base);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_cursor_and_overwrite),
        NT_CASE(test_restore_continues_numbering),
        NT_CASE(test_skip_to_a_lost_newest),
        NT_CASE(test_mark_log),
        {0}};
    return nt_run(cases);
}
