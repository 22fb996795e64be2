/* SPDX-License-Identifier: Apache-2.0 */
/* batch_test.c: the before-sleep commit (batch.h): every writer's part in
 * one transaction (one commit for two writers, both durable after a
 * reopen), no transaction when nobody has anything, done(false) for every
 * writer and nothing written when one refuses or the commit fails (the
 * fatal hook told once), registration refused twice or without write. */
#include "store/batch.h"

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/state.h"
#include "store/store_testutil.h"

struct w_marks {
    struct store_batch_writer w;
    struct store_replay_mark m[2];
    size_t n;       /* what prepare takes */
    size_t taken;   /* taken this round */
    int writes;     /* body runs */
    int dones, oks;
    int fail_with;  /* write returns this when non-zero */
};

static bool
m_prepare(void *arg)
{
    struct w_marks *x = arg;
    x->taken = x->n;
    x->n = 0;
    return x->taken > 0;
}

static int
m_write(struct store_txn *t, void *arg)
{
    struct w_marks *x = arg;
    x->writes++;
    if (x->fail_with)
        return x->fail_with;
    return store_replay_marks_put(t, x->m, x->taken);
}

static void
m_done(void *arg, bool ok)
{
    struct w_marks *x = arg;
    x->dones++;
    x->oks += ok;
}

static void
w_init(struct w_marks *x, const char *name, uint64_t sender)
{
    memset(x, 0, sizeof *x);
    x->w.name = name;
    x->w.prepare = m_prepare;
    x->w.write = m_write;
    x->w.done = m_done;
    x->w.arg = x;
    x->m[0] = (struct store_replay_mark){sender, 10, 20, false};
}

static size_t
stored_marks(struct store *s)
{
    struct store_replay_mark *r = NULL;
    size_t n = 0;
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    naos_free(r);
    return n;
}

static int fatal_calls;
static void
on_fatal(void *arg, const char *why)
{
    (void)arg;
    NT_CONTAINS(why, "commit failed");
    fatal_calls++;
}

static void
test_one_transaction_for_all(void)
{
    long live = naos_alloc_live();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_batch b;
    store_batch_init(&b, s);
    struct w_marks a, c;
    w_init(&a, "a", 1);
    w_init(&c, "c", 2);
    NT_EQ_INT(store_batch_add(&b, &a.w), NAOS_OK);
    NT_EQ_INT(store_batch_add(&b, &c.w), NAOS_OK);
    NT_EQ_INT(store_batch_add(&b, &a.w), NAOS_EEXIST);
    /* nothing pending: no transaction, every done(true) */
    NT_EQ_INT(store_batch_commit(&b), NAOS_OK);
    NT_EQ_INT(b.commits, 0);
    NT_EQ_INT(a.writes + c.writes, 0);
    NT_EQ_INT(a.oks, 1);
    NT_EQ_INT(c.oks, 1);
    /* both pending: one commit holds both */
    a.n = c.n = 1;
    NT_EQ_INT(store_batch_commit(&b), NAOS_OK);
    NT_EQ_INT(b.commits, 1);
    NT_EQ_INT(a.writes, 1);
    NT_EQ_INT(c.writes, 1);
    NT_EQ_INT(a.oks, 2);
    NT_EQ_INT(c.oks, 2);
    /* one pending: only its part is written */
    c.m[0].top = 99;
    c.n = 1;
    NT_EQ_INT(store_batch_commit(&b), NAOS_OK);
    NT_EQ_INT(b.commits, 2);
    NT_EQ_INT(a.writes, 1);
    NT_EQ_INT(c.writes, 2);
    store_close(s);
    s = st_open(dir, NULL);
    struct store_replay_mark *r = NULL;
    size_t n = 0;
    ST_OK(s, store_replay_marks_list(s, &r, &n));
    NT_EQ_INT(n, 2);
    NT_EQ_INT(r[0].top, 10);
    NT_EQ_INT(r[1].top, 99);
    naos_free(r);
    store_close(s);
    st_rmdir(dir);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_refused_write_writes_nothing(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    struct store_batch b;
    store_batch_init(&b, s);
    struct w_marks a, c;
    w_init(&a, "a", 1);
    w_init(&c, "c", 2);
    c.fail_with = NAOS_EINVAL;
    NT_EQ_INT(store_batch_add(&b, &a.w), NAOS_OK);
    NT_EQ_INT(store_batch_add(&b, &c.w), NAOS_OK);
    a.n = c.n = 1;
    NT_EQ_INT(store_batch_commit(&b), NAOS_EINVAL);
    NT_CONTAINS(b.errmsg, "c");
    NT_EQ_INT(a.dones, 1);
    NT_EQ_INT(a.oks, 0);
    NT_EQ_INT(c.oks, 0);
    NT_EQ_INT(stored_marks(s), 0); /* a's part went with the abort */
    NT_FALSE(store_is_failed(s));  /* a refusal is not a failed commit */
    /* removed, c no longer takes part */
    store_batch_del(&b, &c.w);
    a.n = c.n = 1;
    NT_EQ_INT(store_batch_commit(&b), NAOS_OK);
    NT_EQ_INT(c.dones, 1);
    NT_EQ_INT(stored_marks(s), 1);
    store_close(s);
    st_rmdir(dir);
}

static void
test_failed_commit_is_fatal(void)
{
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store *s = st_open(dir, NULL);
    store_on_fatal(s, on_fatal, NULL);
    struct store_batch b;
    store_batch_init(&b, s);
    struct w_marks a;
    w_init(&a, "a", 1);
    NT_EQ_INT(store_batch_add(&b, &a.w), NAOS_OK);
    a.n = 1;
    store_fault_fail_next_commit();
    NT_EQ_INT(store_batch_commit(&b), NAOS_ESTORE);
    NT_EQ_INT(fatal_calls, 1);
    NT_EQ_INT(a.oks, 0);
    NT_EQ_INT(b.failures, 1);
    NT_CONTAINS(b.errmsg, "commit failed");
    NT_TRUE(store_is_failed(s));
    /* later rounds are refused too, and the hook is not told again */
    a.n = 1;
    NT_EQ_INT(store_batch_commit(&b), NAOS_ESTORE);
    NT_EQ_INT(fatal_calls, 1);
    store_close(s);
    s = st_open(dir, NULL);
    NT_EQ_INT(stored_marks(s), 0);
    store_close(s);
    st_rmdir(dir);
}

static void
test_add_needs_write(void)
{
    struct store_batch b = STORE_BATCH_ZERO;
    struct store_batch_writer w = {0};
    w.name = "x";
    w.prepare = m_prepare;
    NT_EQ_INT(store_batch_add(&b, &w), NAOS_EINVAL);
    store_batch_del(&b, &w); /* not registered: no-op */
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_one_transaction_for_all),
        NT_CASE(test_refused_write_writes_nothing),
        NT_CASE(test_failed_commit_is_fatal),
        NT_CASE(test_add_needs_write),
        {0}};
    return nt_run(cases);
}
