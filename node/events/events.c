/* SPDX-License-Identifier: Apache-2.0 */
#include "node/events/events.h"

#include <stdio.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

int
events_init(struct events *ev, size_t cap)
{
    NAOS_ASSERT(cap > 0);
    ev->ring = naos_alloc(cap * sizeof *ev->ring);
    if (ev->ring == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < cap; i++)
        ev->ring[i] = (struct events_entry){0};
    ev->cap = cap;
    ev->next_seq = 1;
    ev->persisted = 0;
    ev->first = 0;
    return NAOS_OK;
}

static void
entry_clear(struct events_entry *e)
{
    naos_free(e->deployment);
    naos_free(e->path);
    naos_free(e->reason);
    naos_free(e->detail);
    *e = (struct events_entry){0};
}

void
events_fini(struct events *ev)
{
    for (size_t i = 0; ev->ring && i < ev->cap; i++)
        entry_clear(&ev->ring[i]);
    naos_free(ev->ring);
    *ev = (struct events){0};
}

static void
record(struct events *ev, uint64_t seq, const char *kind,
       const char *deployment, const char *path, int pid, const char *reason,
       uint32_t restarts, const char *detail, int64_t at_wall_ms,
       uint64_t at_mono_us)
{
    struct events_entry *e = &ev->ring[seq % ev->cap];
    entry_clear(e);
    e->seq = seq;
    ev->next_seq = seq + 1;
    if (ev->first == 0)
        ev->first = seq;
    snprintf(e->kind, sizeof e->kind, "%s", kind ? kind : "");
    e->deployment = naos_strdup(deployment);
    e->path = naos_strdup(path);
    e->reason = naos_strdup(reason);
    e->detail = naos_strdup(detail);
    e->pid = pid;
    e->restarts = restarts;
    e->at_wall_ms = at_wall_ms;
    e->at_mono_us = at_mono_us;
}

void
events_push(struct events *ev, const char *kind, const char *deployment,
            const char *path, int pid, const char *reason, uint32_t restarts,
            const char *detail, int64_t at_wall_ms, uint64_t at_mono_us)
{
    record(ev, ev->next_seq, kind, deployment, path, pid, reason, restarts,
           detail, at_wall_ms, at_mono_us);
}

void
events_mark_log(struct events *ev, uint64_t index, uint64_t term)
{
    if (ev->next_seq == 0 || ev->cap == 0)
        return;
    struct events_entry *e = &ev->ring[(ev->next_seq - 1) % ev->cap];
    if (e->seq != ev->next_seq - 1)
        return; /* nothing pushed yet */
    e->log_index = index;
    e->log_term = term;
}

int
events_restore(struct events *ev, const struct events_entry *e)
{
    if (e->seq == 0 || e->seq < ev->next_seq)
        return NAOS_EINVAL;
    record(ev, e->seq, e->kind, e->deployment, e->path, e->pid, e->reason,
           e->restarts, e->detail, e->at_wall_ms, e->at_mono_us);
    events_mark_log(ev, e->log_index, e->log_term);
    return NAOS_OK;
}

void
events_skip_to(struct events *ev, uint64_t last)
{
    if (last >= ev->next_seq)
        ev->next_seq = last + 1;
}

uint64_t
events_last(const struct events *ev)
{
    return ev->next_seq - 1;
}

uint64_t
events_oldest(const struct events *ev)
{
    uint64_t last = events_last(ev);
    if (last == 0)
        return 0;
    uint64_t lo = last >= ev->cap ? last - ev->cap + 1 : 1;
    return lo > ev->first ? lo : ev->first;
}

const struct events_entry *
events_get(const struct events *ev, uint64_t seq)
{
    if (seq == 0 || seq > events_last(ev) || seq < events_oldest(ev))
        return NULL;
    const struct events_entry *e = &ev->ring[seq % ev->cap];
    return e->seq == seq ? e : NULL;
}
