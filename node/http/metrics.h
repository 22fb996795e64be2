/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h: builds the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Pure:
 * the caller supplies the values; this only formats, escapes and checks.
 *
 * A family is declared once (`# HELP` then `# TYPE`), then its samples
 * follow. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* (not starting with "__"); label values and HELP
 * texts are escaped (\\, \n and, in label values, \"). A name or label
 * that breaks these rules, a counter whose name does not end in _total, or
 * a sample outside the family last declared marks the buffer failed rather
 * than emitting a line Prometheus would reject.
 *
 *   struct http_metrics m = HTTP_METRICS_ZERO;
 *   http_metrics_family(&m, "naos_restarts_total", "counter", "...");
 *   http_metrics_sample(&m, "naos_restarts_total",
 *                       (const char *[]){"deployment", "web", NULL}, 3);
 *   ... m.data / m.len ...; http_metrics_fini(&m);
 *
 * Not thread-safe; one builder per thread. */
#ifndef NAOS_HTTP_METRICS_H
#define NAOS_HTTP_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* struct http_metrics: the text under construction (owned, naos_alloc). */
struct http_metrics {
    char *data;        /* NUL-terminated text, len bytes */
    size_t len, cap;
    char family[128];  /* the family last declared */
    char type[16];     /* its type */
    int failed;        /* NAOS_ENOMEM or NAOS_EINVAL once something failed */
};

#define HTTP_METRICS_ZERO {0}

/* http_metrics_family declares a family: name (borrowed) of type
 * "counter", "gauge", "histogram", "summary" or "untyped", with help text
 * (borrowed, escaped here). */
void http_metrics_family(struct http_metrics *m, const char *name,
                         const char *type, const char *help);

/* http_metrics_sample writes one sample line. name must be the declared
 * family, or for a histogram/summary that family plus _bucket, _sum or
 * _count. labels (borrowed) is NULL or a NULL-terminated array of name,
 * value pairs. value is written as an integer when it is one (below
 * 2^53), else with 17 significant digits; NaN and infinities as NaN,
 * +Inf, -Inf. */
void http_metrics_sample(struct http_metrics *m, const char *name,
                         const char *const *labels, double value);

/* http_metrics_histogram writes a whole histogram (family already
 * declared as "histogram"): one _bucket line per upper bound in bounds
 * (n ascending values, in the family's unit) with the cumulative counts
 * cum[0..n-1], the +Inf bucket (= count), then _sum and _count. labels as
 * for http_metrics_sample (no "le"). */
void http_metrics_histogram(struct http_metrics *m, const char *name,
                            const char *const *labels, const double *bounds,
                            const uint64_t *cum, size_t n, double sum,
                            uint64_t count);

/* http_metrics_fini frees the text; safe on a zeroed builder. */
void http_metrics_fini(struct http_metrics *m);

/* http_metrics_name_ok: does name match the metric name syntax? */
bool http_metrics_name_ok(const char *name);

#endif
