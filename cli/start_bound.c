/* SPDX-License-Identifier: Apache-2.0 */
/* start_bound.c: the nested-intensity figure after deploy/apply
 * (start_bound.h). The arithmetic is node/spec/spec_bound.c's; this file
 * only prints it. */
#include "cli/start_bound.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/spec/spec_bound.h"

/* One path of up to SPEC_MAX_DEPTH + 1 ids of SPEC_MAX_ID_LEN. */
#define PATH_LEN ((SPEC_MAX_DEPTH + 1) * (SPEC_MAX_ID_LEN + 1))

/* limits_text: "A 5+1 x B 5+1" over the levels that multiply, and the
 * same supervisors as "A, B" into who (caller buffers). */
static void
limits_text(const struct spec_start_bound *b, char *prod, size_t plen,
            char *who, size_t wlen)
{
    char path[PATH_LEN];
    size_t pu = 0, wu = 0;
    prod[0] = who[0] = '\0';
    for (size_t i = 0; i + 1 < b->depth; i++) {
        if (b->factor[i] <= 1)
            continue;
        spec_start_bound_path(b, i + 1, path, sizeof path);
        int k = snprintf(prod + pu, plen - pu, "%s%s %" PRIu32 "+1",
                         pu ? " x " : "", path, b->nodes[i]->max_restarts);
        if (k > 0 && (size_t)k < plen - pu)
            pu += (size_t)k;
        k = snprintf(who + wu, wlen - wu, "%s%s (max_restarts %" PRIu32 ")",
                     wu ? ", " : "", path, b->nodes[i]->max_restarts);
        if (k > 0 && (size_t)k < wlen - wu)
            wu += (size_t)k;
    }
}

static void
print_json(const struct cli *c, const char *msg,
           const struct spec_start_bound *b, const char *worker,
           const char *warning)
{
    (void)c;
    json_t *o = json_object();
    json_t *lims = json_array();
    if (o == NULL || lims == NULL) {
        json_decref(o);
        json_decref(lims);
        return;
    }
    char path[PATH_LEN];
    for (size_t i = 0; i + 1 < b->depth; i++) {
        if (b->factor[i] <= 1)
            continue;
        spec_start_bound_path(b, i + 1, path, sizeof path);
        json_array_append_new(
            lims, json_pack("{s:s, s:I}", "supervisor", path, "max_restarts",
                            (json_int_t)b->nodes[i]->max_restarts));
    }
    json_object_set_new(o, "message", json_string(msg));
    /* Saturated figures (over 2^63) are shown as the largest JSON integer. */
    json_int_t n = b->starts > (uint64_t)INT64_MAX
                       ? (json_int_t)INT64_MAX
                       : (json_int_t)b->starts;
    json_object_set_new(o, "max_starts", json_integer(n));
    json_object_set_new(o, "max_starts_worker", json_string(worker));
    json_object_set_new(o, "max_starts_limits", lims);
    if (warning)
        json_object_set_new(o, "warning", json_string(warning));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) {
        puts(s);
        free(s);
    }
    json_decref(o);
}

void
cli_print_deployed(const struct cli *c, const Naos__V1__Reply *r,
                   const char *fallback, const struct spec_node *spec)
{
    const char *msg = fallback;
    if (r->rep_case == NAOS__V1__REPLY__REP_MESSAGE && r->message &&
        r->message[0])
        msg = r->message;
    struct spec_start_bound b;
    spec_start_bound(spec, &b);
    if (b.starts == 0) { /* no worker: nothing to say */
        cli_print_message(c, r, fallback);
        return;
    }
    char worker[PATH_LEN], prod[4096], who[4096], warning[8192];
    spec_start_bound_path(&b, b.depth, worker, sizeof worker);
    limits_text(&b, prod, sizeof prod, who, sizeof who);
    bool warn = b.starts > SPEC_BOUND_WARN_STARTS;
    if (warn)
        snprintf(warning, sizeof warning,
                 "%s: a worker that fails at once is started up to %" PRIu64
                 " times before %s fails (over %d; an agent that pays at "
                 "start pays each time): lower max_restarts of %s",
                 spec->id, b.starts, spec->id, SPEC_BOUND_WARN_STARTS, who);
    if (c->json) {
        print_json(c, msg, &b, worker, warn ? warning : NULL);
        return;
    }
    cli_print_clean(stdout, msg);
    fputc('\n', stdout);
    printf("%s: one failing worker (%s) can be started up to %" PRIu64
           " times before %s fails%s%s%s\n",
           spec->id, worker, b.starts, spec->id, prod[0] ? " (" : "", prod,
           prod[0] ? ")" : "");
    if (warn)
        cli_warn("%s", warning);
}
