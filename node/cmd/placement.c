/* SPDX-License-Identifier: Apache-2.0 */
/* placement.c: see placement.h. */
#include "node/cmd/placement.h"

#include <stdio.h>
#include <string.h>

/* live_list lists the live candidates into buf: their names ("a, b,
 * c"), or with labelled their names and labels ("r0 zone=us; r1 no
 * labels"); "none" when none is live. */
static void
live_list(const struct placement_candidate *c, size_t n, bool labelled,
          char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        if (!c[i].alive || c[i].drained || c[i].name == NULL)
            continue;
        char ls[SPEC_LABELS_TEXT_MAX + 2 * SPEC_LABELS_MAX];
        const char *labels =
            !labelled ? ""
            : c[i].nlabels ? spec_labels_format(c[i].labels, c[i].nlabels,
                                                ",", ls, sizeof ls)
                           : "no labels";
        int w = snprintf(buf + at, len - at, "%s%s%s%s",
                         at ? (labelled ? "; " : ", ") : "", c[i].name,
                         labelled ? " " : "", labels);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    if (at == 0)
        snprintf(buf, len, "none");
}

/* missing returns the first of require[0..nreq) that x lacks (absent, or
 * with another value), or NULL when x has them all. */
static const struct spec_label *
missing(const struct placement_candidate *x, const struct spec_label *require,
        size_t nreq)
{
    for (size_t k = 0; k < nreq; k++) {
        const char *v = spec_labels_find(x->labels, x->nlabels,
                                         require[k].key);
        if (v == NULL || strcmp(v, require[k].value) != 0)
            return &require[k];
    }
    return NULL;
}

static bool
better(const struct placement_candidate *a,
       const struct placement_candidate *b)
{
    if (a->deployments != b->deployments)
        return a->deployments < b->deployments;
    if (a->load_centi != b->load_centi)
        return a->load_centi < b->load_centi;
    return a->id < b->id;
}

int
placement_pick(const struct placement_candidate *c, size_t n,
               const char *on, const struct spec_label *require, size_t nreq,
               char *err, size_t errlen)
{
    char names[256];
    /* the live nodes with their labels: up to 9 voters' names and labels */
    char lives[9 * (64 + SPEC_LABELS_TEXT_MAX + 2 * SPEC_LABELS_MAX)];
    char want[SPEC_LABELS_TEXT_MAX + 2 * SPEC_LABELS_MAX];
    if (require == NULL)
        nreq = 0;
    spec_labels_format(require, nreq, ", ", want, sizeof want);
    if (on != NULL && on[0] != '\0') {
        for (size_t i = 0; i < n; i++) {
            if (c[i].name == NULL || strcmp(c[i].name, on) != 0)
                continue;
            if (!c[i].alive) {
                live_list(c, n, false, names, sizeof names);
                snprintf(err, errlen, "the deployment is pinned to node %s "
                         "(--on %s), which is not alive now; nothing "
                         "changed: deploy it once %s is back, or pin it to "
                         "a live node (%s)", on, on, on, names);
                return -1;
            }
            if (c[i].drained) {
                snprintf(err, errlen, "the deployment is pinned to node %s "
                         "(--on %s), which is drained; nothing changed: "
                         "`naos undrain %s` first, or pin it elsewhere",
                         on, on, on);
                return -1;
            }
            const struct spec_label *m = missing(&c[i], require, nreq);
            if (m == NULL)
                return (int)i;
            char has[SPEC_LABELS_TEXT_MAX + 2 * SPEC_LABELS_MAX];
            snprintf(err, errlen, "the deployment is pinned to node %s "
                     "(--on %s), which lacks the required label %s=%s (its "
                     "labels: %s); nothing changed: pin it to a node with "
                     "the labels %s, or drop --on", on, on, m->key, m->value,
                     c[i].nlabels ? spec_labels_format(c[i].labels,
                                                       c[i].nlabels, ", ",
                                                       has, sizeof has)
                                  : "none",
                     want);
            return -1;
        }
        live_list(c, n, false, names, sizeof names);
        snprintf(err, errlen, "the deployment is pinned to node %s (--on "
                 "%s), which is no voter of this cluster; nothing changed: "
                 "live nodes are %s (see `naos nodes`)", on, on, names);
        return -1;
    }
    int best = -1;
    bool any_alive = false, any_drained = false;
    for (size_t i = 0; i < n; i++) {
        if (!c[i].alive)
            continue;
        if (c[i].drained) {
            any_drained = true;
            continue;
        }
        any_alive = true;
        if (missing(&c[i], require, nreq) == NULL &&
            (best < 0 || better(&c[i], &c[best])))
            best = (int)i;
    }
    if (best >= 0)
        return best;
    if (!any_alive && any_drained) {
        snprintf(err, errlen, "every live node of the cluster is drained; "
                 "nothing changed: `naos undrain NODE` one of them (see "
                 "`naos nodes`)");
        return -1;
    }
    if (!any_alive || nreq == 0) {
        snprintf(err, errlen, "no node of the cluster is alive to place "
                 "the deployment on; nothing changed: try again once "
                 "`naos nodes` shows one");
        return -1;
    }
    live_list(c, n, true, lives, sizeof lives);
    snprintf(err, errlen, "no live node has the label%s %s (live nodes: "
             "%s); nothing changed: start a node with them (`naos-node "
             "start --label KEY=VALUE`) or require others",
             nreq > 1 ? "s" : "", want, lives);
    return -1;
}
