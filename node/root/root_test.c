/* SPDX-License-Identifier: Apache-2.0 */
/* root_test: the root supervisor's decisions (root.h). */
#include "node/root/root.h"

#include "node/base/testing.h"

#define HOUR (3600 * 1000LL)

static struct root_dep
failed_at(int64_t at, const int64_t *moves, size_t nmoves)
{
    return (struct root_dep){.failed = true,
                             .failed_node = 7,
                             .failed_at_ms = at,
                             .moves_at_ms = moves,
                             .nmoves = nmoves,
                             .max_migrations = 3,
                             .window_ms = HOUR};
}

/* Nothing to do unless it gave up on a known node and is not stopped. */
static void
test_keep(void)
{
    struct root_decision o;
    struct root_dep d = failed_at(1000, NULL, 0);
    d.failed = false;
    root_escalation(&d, 5000, &o);
    NT_EQ_INT(o.verdict, ROOT_KEEP);
    d = failed_at(1000, NULL, 0);
    d.stopped = true;
    root_escalation(&d, 5000, &o);
    NT_EQ_INT(o.verdict, ROOT_KEEP);
    d = failed_at(1000, NULL, 0);
    d.failed_node = 0; /* a fail recorded before version 3 */
    root_escalation(&d, 5000, &o);
    NT_EQ_INT(o.verdict, ROOT_KEEP);
}

/* The first move at once, then 1 s, 2 s after each failure; the fourth
 * within the hour is refused, and counts again once the oldest move is
 * an hour old. */
static void
test_limit_and_backoff(void)
{
    struct root_decision o;
    struct root_dep d = failed_at(10000, NULL, 0);
    root_escalation(&d, 10000, &o);
    NT_EQ_INT(o.verdict, ROOT_MOVE);
    NT_EQ_INT(o.moves_in_window, 0);

    int64_t moves[3] = {10000};
    d = failed_at(20000, moves, 1);
    root_escalation(&d, 20500, &o);
    NT_EQ_INT(o.verdict, ROOT_WAIT);
    NT_EQ_INT(o.wait_until_ms, 21000);
    root_escalation(&d, 21000, &o);
    NT_EQ_INT(o.verdict, ROOT_MOVE);

    moves[1] = 21000;
    d = failed_at(30000, moves, 2);
    root_escalation(&d, 31999, &o);
    NT_EQ_INT(o.verdict, ROOT_WAIT);
    NT_EQ_INT(o.wait_until_ms, 32000);

    moves[2] = 32000;
    d = failed_at(40000, moves, 3);
    root_escalation(&d, 40000 + 120000, &o);
    NT_EQ_INT(o.verdict, ROOT_EXHAUSTED);
    NT_EQ_INT(o.moves_in_window, 3);
    /* an hour after the first move, two count: the third may go (after
     * 2 s, long past) */
    root_escalation(&d, 10000 + HOUR, &o);
    NT_EQ_INT(o.verdict, ROOT_MOVE);
    NT_EQ_INT(o.moves_in_window, 2);
}

/* A program missing on its node: moved at once, uncounted, even past
 * the limit. */
static void
test_missing_moves_uncounted(void)
{
    struct root_decision o;
    int64_t moves[3] = {1, 2, 3};
    struct root_dep d = failed_at(10, moves, 3);
    d.missing = true;
    root_escalation(&d, 10, &o);
    NT_EQ_INT(o.verdict, ROOT_MOVE);
    NT_TRUE(o.uncounted);
    d.stopped = true;
    root_escalation(&d, 10, &o);
    NT_EQ_INT(o.verdict, ROOT_KEEP);
}

/* max_migrations 0: never moved. */
static void
test_zero_never_moves(void)
{
    struct root_decision o;
    struct root_dep d = failed_at(1000, NULL, 0);
    d.max_migrations = 0;
    root_escalation(&d, 1000, &o);
    NT_EQ_INT(o.verdict, ROOT_EXHAUSTED);
}

/* The backoff doubles from 1 s and stops at 60 s, whatever k. */
static void
test_backoff_bounds(void)
{
    NT_EQ_INT(root_backoff_ms(0), 0);
    NT_EQ_INT(root_backoff_ms(1), 1000);
    NT_EQ_INT(root_backoff_ms(2), 2000);
    NT_EQ_INT(root_backoff_ms(6), 32000);
    NT_EQ_INT(root_backoff_ms(7), 60000);
    NT_EQ_INT(root_backoff_ms(UINT32_MAX), 60000);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_keep),
        NT_CASE(test_limit_and_backoff),
        NT_CASE(test_zero_never_moves),
        NT_CASE(test_missing_moves_uncounted),
        NT_CASE(test_backoff_bounds),
        {0},
    };
    return nt_run(cases);
}
