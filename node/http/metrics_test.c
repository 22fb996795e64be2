/* SPDX-License-Identifier: Apache-2.0 */
/* metrics_test.c: the Prometheus text builder: syntax, escaping, value
 * formatting, histograms, and the mistakes it refuses to emit. */
#include <math.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/http/metrics.h"

static void
test_counter_and_gauge(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    http_metrics_family(&m, "naos_restarts_total", "counter",
                        "Restarts.\nTwo lines \\ here");
    http_metrics_sample(&m, "naos_restarts_total",
                        (const char *[]){"deployment", "web", "reason",
                                         "exit:1", NULL},
                        3);
    http_metrics_family(&m, "naos_up", "gauge", "Up.");
    http_metrics_sample(&m, "naos_up", NULL, 1);
    NT_EQ_INT(m.failed, 0);
    NT_EQ_STR(m.data,
              "# HELP naos_restarts_total Restarts.\\nTwo lines \\\\ here\n"
              "# TYPE naos_restarts_total counter\n"
              "naos_restarts_total{deployment=\"web\",reason=\"exit:1\"} 3\n"
              "# HELP naos_up Up.\n"
              "# TYPE naos_up gauge\n"
              "naos_up 1\n");
    NT_EQ_INT(m.len, strlen(m.data));
    http_metrics_fini(&m);
    NT_TRUE(m.data == NULL);
}

static void
test_label_escaping(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    http_metrics_family(&m, "x", "gauge", "");
    http_metrics_sample(&m, "x",
                        (const char *[]){"a", "q\"b\\s\nn", "e", "", NULL}, 0);
    NT_EQ_INT(m.failed, 0);
    NT_CONTAINS(m.data, "x{a=\"q\\\"b\\\\s\\nn\",e=\"\"} 0\n");
    http_metrics_fini(&m);
}

static void
test_values(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    http_metrics_family(&m, "v", "gauge", "values");
    http_metrics_sample(&m, "v", NULL, 0.25);
    http_metrics_sample(&m, "v", NULL, -7);
    http_metrics_sample(&m, "v", NULL, 1e300);
    http_metrics_sample(&m, "v", NULL, NAN);
    http_metrics_sample(&m, "v", NULL, INFINITY);
    http_metrics_sample(&m, "v", NULL, -INFINITY);
    http_metrics_sample(&m, "v", NULL, 18446744073709551615.0);
    http_metrics_sample(&m, "v", NULL, 0.849);
    NT_EQ_INT(m.failed, 0);
    NT_CONTAINS(m.data, "v 0.25\nv -7\nv 1e+300\nv NaN\n"
                        "v +Inf\nv -Inf\nv 1.8446744073709552e+19\nv 0.849\n");
    http_metrics_fini(&m);
}

static void
test_histogram(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    const double b[] = {0.001, 0.01, 0.1};
    const uint64_t cum[] = {5, 9, 10};
    http_metrics_family(&m, "lat_seconds", "histogram", "latency");
    http_metrics_histogram(&m, "lat_seconds", NULL, b, cum, 3, 0.5, 11);
    NT_EQ_INT(m.failed, 0);
    NT_CONTAINS(m.data, "# TYPE lat_seconds histogram\n"
                        "lat_seconds_bucket{le=\"0.001\"} 5\n"
                        "lat_seconds_bucket{le=\"0.01\"} 9\n"
                        "lat_seconds_bucket{le=\"0.1\"} 10\n"
                        "lat_seconds_bucket{le=\"+Inf\"} 11\n"
                        "lat_seconds_sum 0.5\n"
                        "lat_seconds_count 11\n");
    http_metrics_fini(&m);
    /* with labels, le comes last */
    http_metrics_family(&m, "h", "histogram", "");
    http_metrics_histogram(&m, "h", (const char *[]){"k", "v", NULL}, b, cum,
                           1, 0, 5);
    NT_CONTAINS(m.data, "h_bucket{k=\"v\",le=\"0.001\"} 5\n");
    http_metrics_fini(&m);
}

static void
test_refusals(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    http_metrics_family(&m, "naos_restarts", "counter", "no _total");
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "naos_things_total", "gauge", "a gauge _total");
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "9lives", "gauge", "");
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "a-b", "gauge", "");
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "a", "bogus", "");
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    /* sample before any family, or of another family */
    http_metrics_sample(&m, "a", NULL, 1);
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "a", "gauge", "");
    http_metrics_sample(&m, "b", NULL, 1);
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    /* bad label names */
    const char *bad[] = {"__x", "a:b", "1a", "le", "", NULL};
    for (int i = 0; bad[i]; i++) {
        http_metrics_family(&m, "a", "gauge", "");
        http_metrics_sample(&m, "a", (const char *[]){bad[i], "v", NULL}, 1);
        if (m.failed != NAOS_EINVAL)
            NT_FAIL("label name \"%s\" accepted", bad[i]);
        http_metrics_fini(&m);
    }
    /* histogram series only through the histogram family */
    http_metrics_family(&m, "g", "gauge", "");
    http_metrics_sample(&m, "g_bucket", NULL, 1);
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
    http_metrics_family(&m, "h", "histogram", "");
    http_metrics_sample(&m, "h", NULL, 1);
    NT_EQ_INT(m.failed, NAOS_EINVAL);
    http_metrics_fini(&m);
}

static void
test_out_of_memory(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    naos_alloc_fail_after(0);
    http_metrics_family(&m, "a", "gauge", "help");
    NT_EQ_INT(m.failed, NAOS_ENOMEM);
    http_metrics_sample(&m, "a", NULL, 1); /* ignored */
    http_metrics_fini(&m);
    NT_EQ_INT(naos_alloc_live(), 0);
}

static void
test_large(void)
{
    struct http_metrics m = HTTP_METRICS_ZERO;
    http_metrics_family(&m, "a", "gauge", "");
    char v[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "%d", i);
        http_metrics_sample(&m, "a", (const char *[]){"i", v, NULL}, i);
    }
    NT_EQ_INT(m.failed, 0);
    NT_CONTAINS(m.data, "a{i=\"19999\"} 19999\n");
    http_metrics_fini(&m);
    NT_EQ_INT(naos_alloc_live(), 0);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_counter_and_gauge), NT_CASE(test_label_escaping),
        NT_CASE(test_values),            NT_CASE(test_histogram),
        NT_CASE(test_refusals),          NT_CASE(test_out_of_memory),
        NT_CASE(test_large),             {0},
    };
    return nt_run(cases);
}
