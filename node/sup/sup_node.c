/* SPDX-License-Identifier: Apache-2.0 */
/* sup_node.c: the sup module's bookkeeping (sup_int.h): building and
 * freeing nodes, the graveyard, reviving removed temporary children, the
 * deadline min-heap (O(1) next deadline, O(log n) updates, so 10,000
 * workers cost nothing per tick) and the supervisor mailboxes. No
 * supervision decisions are made here: those are in sup.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/sup/sup_int.h"

char *
sup__fmt_alloc(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = naos_alloc((size_t)n + 1);
    if (s == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- deadline heap ---------------------------------------------------- */

static void
heap_put(struct sup_tree *t, size_t i, struct sup_node *n)
{
    t->heap[i] = n;
    n->heap_idx = i;
}

static void
heap_up(struct sup_tree *t, size_t i)
{
    struct sup_node *n = t->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (t->heap[p]->deadline <= n->deadline)
            break;
        heap_put(t, i, t->heap[p]);
        i = p;
    }
    heap_put(t, i, n);
}

static void
heap_down(struct sup_tree *t, size_t i)
{
    struct sup_node *n = t->heap[i];
    for (;;) {
        size_t l = 2 * i + 1;
        if (l >= t->heap_len)
            break;
        size_t c = l;
        if (l + 1 < t->heap_len &&
            t->heap[l + 1]->deadline < t->heap[l]->deadline)
            c = l + 1;
        if (t->heap[c]->deadline >= n->deadline)
            break;
        heap_put(t, i, t->heap[c]);
        i = c;
    }
    heap_put(t, i, n);
}

void
sup__heap_remove(struct sup_tree *t, struct sup_node *n)
{
    size_t i = n->heap_idx;
    if (i == SIZE_MAX)
        return;
    n->heap_idx = SIZE_MAX;
    struct sup_node *last = t->heap[--t->heap_len];
    if (i < t->heap_len) {
        heap_put(t, i, last);
        heap_up(t, i);
        heap_down(t, last->heap_idx);
    }
}

/* heap_reserve makes room for n nodes, so that arming a deadline never
 * allocates (allocation happens at deploy time). */
int
sup__heap_reserve(struct sup_tree *t, size_t n)
{
    if (n <= t->heap_cap)
        return NAOS_OK;
    size_t cap = t->heap_cap ? t->heap_cap : 16;
    while (cap < n)
        cap *= 2;
    struct sup_node **h = naos_realloc(t->heap, cap * sizeof *h);
    if (h == NULL)
        return NAOS_ENOMEM;
    t->heap = h;
    t->heap_cap = cap;
    return NAOS_OK;
}

/* deadline_update recomputes n's one effective deadline (the earliest of
 * its active timers) and fixes its place in the heap: O(log n). */
void
sup__deadline_update(struct sup_tree *t, struct sup_node *n)
{
    naos_time d = n->timer_at;
    if (n->watchdog_at < d)
        d = n->watchdog_at;
    if (n->runtime_at < d)
        d = n->runtime_at;
    if (n->flags & SUP__F_DEAD)
        d = NAOS_TIME_NEVER;
    n->deadline = d;
    if (d == NAOS_TIME_NEVER) {
        sup__heap_remove(t, n);
    } else if (n->heap_idx == SIZE_MAX) {
        NAOS_ASSERT(t->heap_len < t->heap_cap);
        heap_put(t, t->heap_len++, n);
        heap_up(t, n->heap_idx);
    } else {
        heap_up(t, n->heap_idx);
        heap_down(t, n->heap_idx);
    }
}

void
sup__timer_set(struct sup_tree *t, struct sup_node *n, int kind, naos_time at)
{
    n->timer_kind = at == NAOS_TIME_NEVER ? SUP__T_NONE : kind;
    n->timer_at = at;
    sup__deadline_update(t, n);
}


/* ---- mailbox (intrusive FIFO of children, OTP's message queue) -------- */

void
sup__mbox_push(struct sup_node *s, struct sup_node *c, unsigned kind)
{
    if (c->flags & SUP__F_MB) {
        /* An operator's start never replaces a queued exit: the restart
         * decision it stands for (counted) comes first. */
        if (kind == SUP__F_MB_START && (c->flags & SUP__F_MB_EXIT))
            return;
        c->flags = (c->flags & ~SUP__F_MB) | kind;
        return;
    }
    c->flags |= kind;
    c->mbox_next = NULL;
    if (s->mbox_tail)
        s->mbox_tail->mbox_next = c;
    else
        s->mbox_head = c;
    s->mbox_tail = c;
}

void
sup__mbox_remove(struct sup_node *s, struct sup_node *c)
{
    if (!(c->flags & SUP__F_MB))
        return;
    c->flags &= ~SUP__F_MB;
    struct sup_node **pp = &s->mbox_head, *prev = NULL;
    while (*pp && *pp != c) {
        prev = *pp;
        pp = &(*pp)->mbox_next;
    }
    NAOS_ASSERT(*pp == c);
    *pp = c->mbox_next;
    if (s->mbox_tail == c)
        s->mbox_tail = prev;
    c->mbox_next = NULL;
}

void
sup__mbox_clear(struct sup_node *s)
{
    struct sup_node *c = s->mbox_head;
    while (c) {
        struct sup_node *next = c->mbox_next;
        c->flags &= ~SUP__F_MB;
        c->mbox_next = NULL;
        c = next;
    }
    s->mbox_head = s->mbox_tail = NULL;
}

/* ---- resume queue (supervisors whose slice ran out) -------------------- */

void
sup__resume_push(struct sup_tree *t, struct sup_node *s)
{
    if (s->flags & SUP__F_RESUME)
        return;
    s->flags |= SUP__F_RESUME;
    s->resume_next = NULL;
    s->resume_prev = t->resume_tail;
    if (t->resume_tail)
        t->resume_tail->resume_next = s;
    else
        t->resume_head = s;
    t->resume_tail = s;
}

void
sup__resume_remove(struct sup_tree *t, struct sup_node *s)
{
    if (!(s->flags & SUP__F_RESUME))
        return;
    s->flags &= ~SUP__F_RESUME;
    if (s->resume_prev)
        s->resume_prev->resume_next = s->resume_next;
    else
        t->resume_head = s->resume_next;
    if (s->resume_next)
        s->resume_next->resume_prev = s->resume_prev;
    else
        t->resume_tail = s->resume_prev;
    s->resume_prev = s->resume_next = NULL;
}

/* forget_trouble: n no longer waits out node trouble (sup_count_node_
 * trouble counts the ones that do). */
static void
forget_trouble(struct sup_tree *t, struct sup_node *n)
{
    if (n->flags & SUP__F_TROUBLE) {
        n->flags &= ~SUP__F_TROUBLE;
        t->ntrouble--;
    }
}

/* ---- node lifetime ---------------------------------------------------- */

void
sup__node_free(struct sup_tree *t, struct sup_node *n, bool forget)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nchildren; i++)
        sup__node_free(t, n->children[i], forget);
    if (forget && t->io.forget && (n->flags & SUP__F_COUNTED))
        t->io.forget(t->io.ctx, n);
    sup__heap_remove(t, n);
    sup__resume_remove(t, n);
    forget_trouble(t, n);
    if (n->flags & SUP__F_COUNTED) {
        t->nnodes--;
        if (!n->is_supervisor)
            t->nworkers--;
        if (n->pid != 0)
            t->nprocs--;
        if (n->flags & SUP__F_SPAWNING)
            t->nspawning--;
    }
    sup_intensity_fini(&n->intensity);
    naos_free(n->children);
    naos_free(n->id);
    naos_free(n->path);
    naos_free(n->status_text);
    naos_free(n->failure);
    naos_free(n->fail_path);
    if (n->owned_spec) {
        spec_node_fini(n->owned_spec);
        naos_free(n->owned_spec);
    }
    naos_free(n);
}

static int
pool_replica(struct sup_tree *t, struct sup_node *s, struct sup_node **out);

/* node_new builds the node for spec (borrowed; must outlive the node) and
 * its whole subtree. */
int
sup__node_new(struct sup_tree *t, struct sup_node *parent,
         const struct spec_node *spec, const char *id, struct sup_node **out)
{
    int rv = NAOS_ENOMEM;
    struct sup_node *n = naos_alloc(sizeof *n);
    if (n == NULL)
        return NAOS_ENOMEM;
    n->tree = t;
    n->parent = parent;
    n->spec = spec;
    n->is_supervisor = spec->is_supervisor;
    n->heap_idx = SIZE_MAX;
    n->deadline = n->timer_at = n->watchdog_at = n->runtime_at =
        NAOS_TIME_NEVER;
    n->id = naos_strdup(id);
    n->path = parent ? sup__fmt_alloc("%s/%s", parent->path, id)
                     : naos_strdup(id);
    if (n->id == NULL || n->path == NULL)
        goto err_after_alloc;
    if (n->is_supervisor) {
        if (sup_intensity_init(&n->intensity, spec->max_restarts,
                               spec->window_s) != NAOS_OK)
            goto err_after_alloc;
        size_t cap = sup__is_pool(n) ? spec->replicas : spec->nchildren;
        if (cap > 0) {
            n->children = naos_alloc(cap * sizeof *n->children);
            if (n->children == NULL)
                goto err_after_alloc;
        }
        n->children_cap = cap;
        for (size_t i = 0; i < cap; i++) {
            struct sup_node *c;
            if (sup__is_pool(n))
                rv = pool_replica(t, n, &c);
            else
                rv = sup__node_new(t, n, &spec->children[i],
                                   spec->children[i].id, &c);
            if (rv != NAOS_OK)
                goto err_after_alloc;
            n->children[n->nchildren++] = c;
        }
    }
    n->flags |= SUP__F_COUNTED;
    t->nnodes++;
    if (!n->is_supervisor)
        t->nworkers++;
    *out = n;
    return NAOS_OK;

err_after_alloc:
    sup__node_free(t, n, false);
    return rv == NAOS_OK ? NAOS_ENOMEM : rv;
}

/* pool_replica makes the next worker of simple-one-for-one s from its
 * template: id "<template>-<n>". */
static int
pool_replica(struct sup_tree *t, struct sup_node *s, struct sup_node **out)
{
    const struct spec_node *tpl = &s->spec->children[0];
    char id[SPEC_MAX_ID_LEN + 16];
    snprintf(id, sizeof id, "%s-%u", tpl->id, s->pool_seq + 1);
    int rv = sup__node_new(t, s, tpl, id, out);
    if (rv == NAOS_OK)
        s->pool_seq++;
    return rv;
}

/* graveyard unlinks nothing itself: it retires subtree n (already detached
 * from its parent) so that no timer or mailbox refers to it, and queues it
 * to be freed when the public entry point returns. */
static void
retire(struct sup_tree *t, struct sup_node *n)
{
    n->flags |= SUP__F_DEAD;
    n->plan = SUP__PH_NONE;
    sup__heap_remove(t, n);
    sup__resume_remove(t, n);
    forget_trouble(t, n);
    for (size_t i = 0; i < n->nchildren; i++)
        retire(t, n->children[i]);
}

void
sup__graveyard(struct sup_tree *t, struct sup_node *n)
{
    retire(t, n);
    n->mbox_next = t->grave;
    t->grave = n;
}

void
sup__reap(struct sup_tree *t)
{
    while (t->grave) {
        struct sup_node *n = t->grave;
        t->grave = n->mbox_next;
        sup__node_free(t, n, true);
    }
}

/* child_remove drops child i of s (temporary children, B1). */
void
sup__child_remove(struct sup_tree *t, struct sup_node *s, size_t i)
{
    struct sup_node *c = s->children[i];
    NAOS_ASSERT(!sup__live(c));
    sup__mbox_remove(s, c);
    memmove(&s->children[i], &s->children[i + 1],
            (s->nchildren - i - 1) * sizeof *s->children);
    s->nchildren--;
    if (s->plan_child == c)
        s->plan_child = NULL;
    sup__graveyard(t, c);
}

/* revive re-creates the children a supervisor lost (temporary ones that
 * ended) so a fresh start starts its full child list again, as OTP's init
 * does. All or nothing. */
int
sup__revive(struct sup_tree *t, struct sup_node *s)
{
    size_t want = s->children_cap;
    if (s->nchildren >= want)
        return NAOS_OK;
    size_t missing = want - s->nchildren;
    struct sup_node *made = NULL, *c;
    int rv = NAOS_OK;
    for (size_t j = 0, k = 0; j < want && rv == NAOS_OK; j++) {
        if (sup__is_pool(s)) {
            if (j >= missing)
                break;
            rv = pool_replica(t, s, &c);
        } else {
            const struct spec_node *cs = &s->spec->children[j];
            if (k < s->nchildren && s->children[k]->spec == cs) {
                k++;
                continue;
            }
            rv = sup__node_new(t, s, cs, cs->id, &c);
        }
        if (rv == NAOS_OK) {
            c->mbox_next = made;
            made = c;
        }
    }
    if (rv == NAOS_OK)
        rv = sup__heap_reserve(t, t->nnodes);
    if (rv != NAOS_OK) {
        while (made) {
            c = made;
            made = c->mbox_next;
            sup__node_free(t, c, false);
        }
        return rv;
    }
    if (sup__is_pool(s)) {
        /* made is newest first; append oldest first. */
        size_t base = s->nchildren;
        for (size_t i = missing; i-- > 0;) {
            c = made;
            made = c->mbox_next;
            c->mbox_next = NULL;
            s->children[base + i] = c;
        }
        s->nchildren = want;
        return NAOS_OK;
    }
    /* Merge from the back: slot j is written only after old slot j read. */
    size_t k = s->nchildren;
    for (size_t j = want; j-- > 0;) {
        const struct spec_node *cs = &s->spec->children[j];
        if (k > 0 && s->children[k - 1]->spec == cs) {
            s->children[j] = s->children[--k];
            continue;
        }
        struct sup_node **pp = &made;
        while ((*pp)->spec != cs)
            pp = &(*pp)->mbox_next;
        c = *pp;
        *pp = c->mbox_next;
        c->mbox_next = NULL;
        s->children[j] = c;
    }
    s->nchildren = want;
    return NAOS_OK;
}
