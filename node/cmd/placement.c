/* SPDX-License-Identifier: Apache-2.0 */
/* placement.c: see placement.h. */
#include "node/cmd/placement.h"

#include <stdio.h>
#include <string.h>

/* live_names lists the live candidates' names into buf ("a, b, c"). */
static void
live_names(const struct placement_candidate *c, size_t n, char *buf,
           size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && at < len; i++) {
        if (!c[i].alive || c[i].name == NULL)
            continue;
        int w = snprintf(buf + at, len - at, "%s%s", at ? ", " : "",
                         c[i].name);
        if (w < 0)
            break;
        at += (size_t)w;
    }
    if (at == 0)
        snprintf(buf, len, "none");
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
               const char *on, char *err, size_t errlen)
{
    char names[256];
    if (on != NULL && on[0] != '\0') {
        for (size_t i = 0; i < n; i++) {
            if (c[i].name == NULL || strcmp(c[i].name, on) != 0)
                continue;
            if (c[i].alive)
                return (int)i;
            live_names(c, n, names, sizeof names);
            snprintf(err, errlen, "the deployment is pinned to node %s "
                     "(--on %s), which is not alive now; nothing changed: "
                     "deploy it once %s is back, or pin it to a live node "
                     "(%s)", on, on, on, names);
            return -1;
        }
        live_names(c, n, names, sizeof names);
        snprintf(err, errlen, "the deployment is pinned to node %s (--on "
                 "%s), which is no voter of this cluster; nothing changed: "
                 "live nodes are %s (see `naos nodes`)", on, on, names);
        return -1;
    }
    int best = -1;
    for (size_t i = 0; i < n; i++)
        if (c[i].alive && (best < 0 || better(&c[i], &c[best])))
            best = (int)i;
    if (best < 0)
        snprintf(err, errlen, "no node of the cluster is alive to place "
                 "the deployment on; nothing changed: try again once "
                 "`naos nodes` shows one");
    return best;
}
