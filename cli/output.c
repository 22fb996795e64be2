/* SPDX-License-Identifier: Apache-2.0 */
/* output.c: status trees and event lines for people. */
#include "cli/output.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "node/base/time.h"
#include "proto/status_json.h"

/* Deeper trees are cut (spec trees are at most SPEC_MAX_DEPTH deep). */
#define OUTPUT_MAX_DEPTH 64

void
output_duration(int64_t ms, char *buf, size_t len)
{
    if (ms < 0)
        ms = 0;
    if (ms < 1000) {
        snprintf(buf, len, "%lldms", (long long)ms);
        return;
    }
    long long s = ms / 1000;
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d > 0)
        snprintf(buf, len, h ? "%lldd%lldh" : "%lldd", d, h);
    else if (h > 0)
        snprintf(buf, len, m ? "%lldh%lldm" : "%lldh", h, m);
    else if (m > 0)
        snprintf(buf, len, sec ? "%lldm%llds" : "%lldm", m, sec);
    else
        snprintf(buf, len, "%llds", sec);
}

bool
output_use_color(void)
{
    const char *nc = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && (nc == NULL || nc[0] == '\0');
}

static const char *
str(const char *s)
{
    return s ? s : "";
}

static const char *
state_color(const char *state)
{
    if (strcmp(state, "running") == 0)
        return "\033[32m"; /* green */
    if (strcmp(state, "starting") == 0 || strcmp(state, "restarting") == 0 ||
        strcmp(state, "stopping") == 0)
        return "\033[33m"; /* yellow */
    if (strcmp(state, "failed") == 0)
        return "\033[1;31m"; /* bold red */
    return "\033[2m";        /* dim: stopped and anything else */
}

static void
put_state(FILE *f, const char *state, bool color)
{
    if (color)
        fputs(state_color(state), f);
    cli_print_clean(f, state[0] ? state : "?");
    if (color)
        fputs("\033[0m", f);
}

static void
put_intensity(FILE *f, const Naos__V1__NodeStatus *n)
{
    char w[32];
    output_duration((int64_t)n->window_s * 1000, w, sizeof w);
    fputs("  ", f);
    cli_print_clean(f, str(n->strategy));
    fprintf(f, " %u/%u in %s", n->restarts_in_window, n->max_restarts, w);
}

/* The fields after the state of one node line. */
static void
put_details(FILE *f, const Naos__V1__NodeStatus *n)
{
    if (n->is_supervisor) {
        put_intensity(f, n);
        if (n->restarts)
            fprintf(f, "  restarts %u", n->restarts);
        return;
    }
    const char *state = str(n->state);
    if (n->pid)
        fprintf(f, "  pid %d", n->pid);
    if (n->uptime_ms > 0 && n->pid &&
        (strcmp(state, "running") == 0 || strcmp(state, "starting") == 0)) {
        char up[32];
        output_duration(n->uptime_ms, up, sizeof up);
        fprintf(f, "  up %s", up);
    }
    if (n->restarts)
        fprintf(f, "  restarts %u", n->restarts);
    if (n->last_exit && n->last_exit->reason && n->last_exit->reason[0]) {
        fputs("  last ", f);
        cli_print_clean(f, n->last_exit->reason);
    }
    if (n->status_text && n->status_text[0]) {
        fputs("  \"", f);
        cli_print_clean(f, n->status_text);
        fputc('"', f);
    }
}

static void
put_children(FILE *f, const Naos__V1__NodeStatus *n, char *prefix,
             size_t plen, size_t pcap, int depth, bool color)
{
    if (n->n_children == 0 || n->children == NULL)
        return;
    if (depth > OUTPUT_MAX_DEPTH) {
        fprintf(f, "%s└─ ...\n", prefix);
        return;
    }
    size_t width = 0;
    for (size_t i = 0; i < n->n_children; i++) {
        const Naos__V1__NodeStatus *k = n->children[i];
        size_t l = k ? strlen(str(k->id)) : 0;
        if (l > width)
            width = l;
    }
    for (size_t i = 0; i < n->n_children; i++) {
        const Naos__V1__NodeStatus *k = n->children[i];
        if (k == NULL)
            continue;
        bool last = i + 1 == n->n_children;
        fprintf(f, "%s%s", prefix, last ? "└─ " : "├─ ");
        const char *id = str(k->id);
        cli_print_clean(f, id);
        fprintf(f, "%*s", (int)(width - strlen(id) + 2), "");
        put_state(f, str(k->state), color);
        put_details(f, k);
        fputc('\n', f);
        /* "│  " is 5 bytes in UTF-8, "   " 3 */
        const char *cont = last ? "   " : "│  ";
        size_t cl = strlen(cont);
        if (plen + cl + 1 <= pcap) {
            memcpy(prefix + plen, cont, cl + 1);
            put_children(f, k, prefix, plen + cl, pcap, depth + 1, color);
            prefix[plen] = '\0';
        }
    }
}

void
output_status_tree(FILE *f, const Naos__V1__Status *st, bool color)
{
    if (st->cluster) {
        const Naos__V1__ClusterInfo *ci = st->cluster;
        fputs("cluster: leader ", f);
        cli_print_clean(f, ci->leader && ci->leader[0] ? ci->leader
                                                       : "(none yet)");
        fprintf(f, ", term %llu, commit %llu, %u voters\n",
                (unsigned long long)ci->term,
                (unsigned long long)ci->commit, (unsigned)ci->voters);
        if (ci->fenced) {
            fputs("naos-node ", f);
            cli_print_clean(f, str(st->node));
            fputs(" runs nothing: ", f);
            cli_print_clean(f, str(ci->fenced_why));
            fputs(" (its deployments run again once a leader renews its "
                  "lease)\n", f);
        }
        fputc('\n', f);
    }
    if (st->n_deployments == 0 || st->deployments == NULL) {
        fputs("no deployments (start one with `naos deploy` or "
              "`naos apply`)\n",
              f);
        return;
    }
    char prefix[OUTPUT_MAX_DEPTH * 5 + 16];
    for (size_t i = 0; i < st->n_deployments; i++) {
        const Naos__V1__DeploymentStatus *d = st->deployments[i];
        if (d == NULL)
            continue;
        if (i > 0)
            fputc('\n', f);
        cli_print_clean(f, str(d->name));
        fputs("  ", f);
        put_state(f, str(d->state), color);
        if (d->tree)
            put_details(f, d->tree);
        if (strcmp(str(d->state), "failed") == 0 && d->failure &&
            d->failure[0]) {
            fputs("  (", f);
            cli_print_clean(f, d->failure);
            fputc(')', f);
        }
        if (d->node && d->node[0]) {
            fputs("  on ", f);
            cli_print_clean(f, d->node);
            fprintf(f, " (epoch %llu)", (unsigned long long)d->epoch);
            if (d->node_state && d->node_state[0]) {
                fputs(" ", f);
                cli_print_clean(f, d->node_state);
                if (d->tree && d->reported_ms > 0)
                    fprintf(f, " (as it reported %.1f s ago)",
                            (double)d->reported_ms / 1000.0);
            }
            if (d->migrations > 0) {
                char w[32];
                naos_duration_format(d->migration_window_ms, w, sizeof w);
                fprintf(f, "  moved %u/%u in %s", d->migrations,
                        d->max_migrations, w);
            }
            if (d->on_partition_keep)
                fputs("  on partition: keep", f);
        }
        fputc('\n', f);
        /* where it was before: the last moves, oldest first */
        for (size_t k = d->n_history > 3 ? d->n_history - 3 : 0;
             k < d->n_history; k++) {
            const Naos__V1__MoveStatus *m = d->history[k];
            char at[64];
            status_json_time(m->at_wall_ms, at, sizeof at);
            fputs("  moved from ", f);
            cli_print_clean(f, str(m->from));
            fputs(" to ", f);
            cli_print_clean(f, str(m->to));
            fputs(" (", f);
            cli_print_clean(f, str(m->reason));
            fprintf(f, ") at %s, epoch %llu\n", at[0] ? at : "-",
                    (unsigned long long)m->epoch);
        }
        if (d->tree) {
            prefix[0] = '\0';
            put_children(f, d->tree, prefix, 0, sizeof prefix, 1, color);
        }
    }
}

void
output_event_line(FILE *f, const Naos__V1__Event *ev)
{
    char at[64];
    status_json_time(ev->at_wall_ms, at, sizeof at);
    /* the number first: what --since takes */
    fprintf(f, "%llu  %s  ", (unsigned long long)ev->seq, at[0] ? at : "-");
    cli_print_clean(f, str(ev->kind)[0] ? ev->kind : "?");
    fputs("  ", f);
    const char *target = str(ev->path)[0] ? ev->path : str(ev->deployment);
    cli_print_clean(f, target[0] ? target : "-");
    if (ev->reason && ev->reason[0]) {
        fputs("  ", f);
        cli_print_clean(f, ev->reason);
    }
    if (ev->pid && strcmp(str(ev->kind), "restart") != 0)
        fprintf(f, "  pid=%d", ev->pid);
    if (ev->restarts)
        fprintf(f, "  restarts=%u", ev->restarts);
    if (ev->detail && ev->detail[0]) {
        fputs("  ", f);
        cli_print_clean(f, ev->detail);
    }
    if (ev->log_index)
        fprintf(f, "  [entry %llu, term %llu]",
                (unsigned long long)ev->log_index,
                (unsigned long long)ev->log_term);
    fputc('\n', f);
}
