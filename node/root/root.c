/* SPDX-License-Identifier: Apache-2.0 */
/* root.c: the root supervisor's decisions (root.h). */
#include "node/root/root.h"

int64_t
root_backoff_ms(uint32_t k)
{
    if (k == 0)
        return 0;
    int64_t b = ROOT_BACKOFF_MIN_MS;
    for (uint32_t i = 1; i < k && b < ROOT_BACKOFF_MAX_MS; i++)
        b *= 2;
    return b < ROOT_BACKOFF_MAX_MS ? b : ROOT_BACKOFF_MAX_MS;
}

uint32_t
root_moves_in_window(const int64_t *moves_at_ms, size_t n, int64_t window_ms,
                     int64_t now_ms)
{
    /* a clock that went back counts a move "from the future" too: never
     * more moves than asked */
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (moves_at_ms[i] > now_ms - window_ms)
            k++;
    return k;
}

void
root_escalation(const struct root_dep *d, int64_t now_ms,
                struct root_decision *out)
{
    *out = (struct root_decision){ROOT_KEEP, 0, 0, false};
    if (!d->failed || d->stopped || d->failed_node == 0)
        return;
    if (d->missing) {
        out->verdict = ROOT_MOVE;
        out->uncounted = true;
        return;
    }
    uint32_t k = root_moves_in_window(d->moves_at_ms, d->nmoves,
                                      d->window_ms, now_ms);
    out->moves_in_window = k;
    if (k >= d->max_migrations) {
        out->verdict = ROOT_EXHAUSTED;
        return;
    }
    int64_t at = d->failed_at_ms + root_backoff_ms(k);
    if (now_ms < at) {
        out->verdict = ROOT_WAIT;
        out->wait_until_ms = at;
        return;
    }
    out->verdict = ROOT_MOVE;
}

const char *
root_verdict_name(enum root_verdict v)
{
    switch (v) {
    case ROOT_KEEP: return "keep";
    case ROOT_MOVE: return "move";
    case ROOT_WAIT: return "wait";
    case ROOT_EXHAUSTED: return "exhausted";
    }
    return "?";
}
