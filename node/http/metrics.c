/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c: see metrics.h. */
#include "node/http/metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

static void
put(struct http_metrics *m, const char *s, size_t n)
{
    if (m->failed)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t ncap = m->cap ? m->cap : 4096;
        while (ncap < m->len + n + 1)
            ncap *= 2;
        char *d = naos_realloc(m->data, ncap);
        if (d == NULL) {
            m->failed = NAOS_ENOMEM;
            return;
        }
        m->data = d;
        m->cap = ncap;
    }
    memcpy(m->data + m->len, s, n);
    m->len += n;
    m->data[m->len] = '\0';
}

static void
puts_(struct http_metrics *m, const char *s)
{
    put(m, s, strlen(s));
}

/* Escapes s: backslash and newline always, the double quote in label
 * values (the format's two escaping rules). */
static void
put_escaped(struct http_metrics *m, const char *s, bool quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            puts_(m, "\\\\");
        else if (*p == '\n')
            puts_(m, "\\n");
        else if (*p == '"' && quote)
            puts_(m, "\\\"");
        else
            put(m, p, 1);
    }
}

bool
http_metrics_name_ok(const char *name)
{
    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == ':'))
            return false;
    }
    return true;
}

static bool
label_name_ok(const char *name)
{
    if (!http_metrics_name_ok(name) || strchr(name, ':') ||
        strncmp(name, "__", 2) == 0)
        return false;
    return true;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

void
http_metrics_family(struct http_metrics *m, const char *name,
                    const char *type, const char *help)
{
    if (m->failed)
        return;
    bool known = strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                 strcmp(type, "histogram") == 0 ||
                 strcmp(type, "summary") == 0 || strcmp(type, "untyped") == 0;
    if (!http_metrics_name_ok(name) || !known ||
        strlen(name) >= sizeof m->family ||
        (strcmp(type, "counter") == 0) != ends_with(name, "_total")) {
        m->failed = NAOS_EINVAL;
        return;
    }
    snprintf(m->family, sizeof m->family, "%s", name);
    snprintf(m->type, sizeof m->type, "%s", type);
    puts_(m, "# HELP ");
    puts_(m, name);
    puts_(m, " ");
    put_escaped(m, help ? help : "", false);
    puts_(m, "\n# TYPE ");
    puts_(m, name);
    puts_(m, " ");
    puts_(m, type);
    puts_(m, "\n");
}

/* The shortest %g form that reads back as v: 0.849, not
 * 0.84899999999999998. */
static void
shortest(double v, char *buf, size_t len)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void
put_value(struct http_metrics *m, double v)
{
    char buf[64];
    if (isnan(v))
        snprintf(buf, sizeof buf, "NaN");
    else if (isinf(v))
        snprintf(buf, sizeof buf, "%s", v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9007199254740992.0)
        snprintf(buf, sizeof buf, "%.0f", v);
    else
        shortest(v, buf, sizeof buf);
    puts_(m, buf);
}

/* Is name the current family, or one of its histogram/summary series? */
static bool
in_family(const struct http_metrics *m, const char *name)
{
    if (m->family[0] == '\0')
        return false;
    if (strcmp(name, m->family) == 0)
        return strcmp(m->type, "histogram") != 0;
    size_t fl = strlen(m->family);
    if (strncmp(name, m->family, fl) != 0)
        return false;
    const char *sfx = name + fl;
    if (strcmp(m->type, "histogram") == 0)
        return strcmp(sfx, "_bucket") == 0 || strcmp(sfx, "_sum") == 0 ||
               strcmp(sfx, "_count") == 0;
    if (strcmp(m->type, "summary") == 0)
        return strcmp(sfx, "_sum") == 0 || strcmp(sfx, "_count") == 0;
    return false;
}

static void
sample_with(struct http_metrics *m, const char *name,
            const char *const *labels, const char *le, double value)
{
    if (m->failed)
        return;
    if (!in_family(m, name)) {
        m->failed = NAOS_EINVAL;
        return;
    }
    puts_(m, name);
    bool any = false;
    for (size_t i = 0; labels && labels[i]; i += 2) {
        const char *v = labels[i + 1];
        if (!label_name_ok(labels[i]) || strcmp(labels[i], "le") == 0) {
            m->failed = NAOS_EINVAL;
            return;
        }
        puts_(m, any ? "," : "{");
        puts_(m, labels[i]);
        puts_(m, "=\"");
        put_escaped(m, v ? v : "", true);
        puts_(m, "\"");
        any = true;
    }
    if (le) {
        puts_(m, any ? "," : "{");
        puts_(m, "le=\"");
        puts_(m, le);
        puts_(m, "\"");
        any = true;
    }
    if (any)
        puts_(m, "}");
    puts_(m, " ");
    put_value(m, value);
    puts_(m, "\n");
}

void
http_metrics_sample(struct http_metrics *m, const char *name,
                    const char *const *labels, double value)
{
    sample_with(m, name, labels, NULL, value);
}

void
http_metrics_histogram(struct http_metrics *m, const char *name,
                       const char *const *labels, const double *bounds,
                       const uint64_t *cum, size_t n, double sum,
                       uint64_t count)
{
    if (m->failed)
        return;
    if (strcmp(m->type, "histogram") != 0 || strcmp(name, m->family) != 0) {
        m->failed = NAOS_EINVAL;
        return;
    }
    char bucket[160], sname[160], cname[160];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sname, sizeof sname, "%s_sum", name);
    snprintf(cname, sizeof cname, "%s_count", name);
    for (size_t i = 0; i < n; i++) {
        char le[64];
        shortest(bounds[i], le, sizeof le);
        sample_with(m, bucket, labels, le, (double)cum[i]);
    }
    sample_with(m, bucket, labels, "+Inf", (double)count);
    sample_with(m, sname, labels, NULL, sum);
    sample_with(m, cname, labels, NULL, (double)count);
}

void
http_metrics_fini(struct http_metrics *m)
{
    naos_free(m->data);
    *m = (struct http_metrics)HTTP_METRICS_ZERO;
}
