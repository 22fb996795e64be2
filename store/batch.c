/* SPDX-License-Identifier: Apache-2.0 */
/* batch.c: see batch.h. */
#include "store/batch.h"

#include <stdio.h>

#include "node/base/err.h"

void
store_batch_init(struct store_batch *b, struct store *s)
{
    *b = (struct store_batch)STORE_BATCH_ZERO;
    b->store = s;
}

int
store_batch_add(struct store_batch *b, struct store_batch_writer *w)
{
    if (w->prepare == NULL || w->write == NULL)
        return NAOS_EINVAL;
    if (w->registered)
        return NAOS_EEXIST;
    struct store_batch_writer **p = &b->first;
    while (*p)
        p = &(*p)->next;
    w->next = NULL;
    w->registered = true;
    w->active = false;
    *p = w;
    return NAOS_OK;
}

void
store_batch_del(struct store_batch *b, struct store_batch_writer *w)
{
    for (struct store_batch_writer **p = &b->first; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            w->next = NULL;
            w->registered = false;
            return;
        }
    }
}

/* body: the transaction: every active writer's part. */
static int
body(struct store_txn *t, void *arg)
{
    struct store_batch *b = arg;
    for (struct store_batch_writer *w = b->first; w; w = w->next) {
        if (!w->active)
            continue;
        int err = w->write(t, w->arg);
        if (err != NAOS_OK) {
            b->refused_by = w;
            return err;
        }
    }
    return NAOS_OK;
}

int
store_batch_commit(struct store_batch *b)
{
    b->rounds++;
    bool any = false;
    for (struct store_batch_writer *w = b->first; w; w = w->next) {
        w->active = w->prepare(w->arg);
        any = any || w->active;
    }
    int err = NAOS_OK;
    if (any) {
        b->errmsg[0] = '\0';
        b->refused_by = NULL;
        err = store_write(b->store, body, b);
        if (err == NAOS_OK) {
            b->commits++;
        } else {
            b->failures++;
            /* the writer that refused, if one did (else the commit) */
            snprintf(b->errmsg, sizeof b->errmsg, "%s%s%s",
                     b->refused_by ? b->refused_by->name : "",
                     b->refused_by ? ": " : "", store_errmsg(b->store));
        }
    }
    for (struct store_batch_writer *w = b->first; w; w = w->next) {
        w->active = false;
        if (w->done)
            w->done(w->arg, err == NAOS_OK);
    }
    return err;
}
