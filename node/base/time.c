/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

naos_time
naos_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (naos_time)ts.tv_sec * 1000 + (naos_time)ts.tv_nsec / 1000000;
}

uint64_t
naos_clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int64_t
naos_clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool
naos_duration_parse(const char *s, naos_duration *out)
{
    /* Only plain decimals followed by a unit: strtod alone would also take
     * "nan", "inf", hex and exponents. */
    if (s == NULL || *s < '0' || *s > '9')
        return false;
    size_t digits = strspn(s, "0123456789.");
    const char *unit = s + digits;
    double mult;
    if (*unit == '\0' || strcmp(unit, "s") == 0)
        mult = 1000;
    else if (strcmp(unit, "ms") == 0)
        mult = 1;
    else if (strcmp(unit, "m") == 0)
        mult = 60000;
    else if (strcmp(unit, "h") == 0)
        mult = 3600000;
    else if (strcmp(unit, "d") == 0)
        mult = 86400000;
    else
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno != 0 || end != unit || v < 0)
        return false;
    double ms = v * mult;
    if (ms > 9.0e15) /* far beyond any sensible duration; avoids overflow */
        return false;
    *out = (naos_duration)(ms + 0.5);
    return true;
}

void
naos_duration_format(naos_duration d, char *buf, unsigned len)
{
    if (d % 3600000 == 0 && d != 0)
        snprintf(buf, len, "%lldh", (long long)(d / 3600000));
    else if (d % 60000 == 0 && d != 0)
        snprintf(buf, len, "%lldm", (long long)(d / 60000));
    else if (d % 1000 == 0)
        snprintf(buf, len, "%llds", (long long)(d / 1000));
    else
        snprintf(buf, len, "%lldms", (long long)d);
}
