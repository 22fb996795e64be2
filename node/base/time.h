/* SPDX-License-Identifier: Apache-2.0 */
/* time.h: naos time is a monotonic count of milliseconds (naos_time). Cores
 * never read a clock: drivers pass `now` in. Only drivers call
 * naos_clock_now. */
#ifndef NAOS_BASE_TIME_H
#define NAOS_BASE_TIME_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t naos_time;     /* monotonic ms since an arbitrary origin */
typedef int64_t naos_duration;  /* ms */

#define NAOS_TIME_NEVER UINT64_MAX

/* naos_clock_now reads CLOCK_MONOTONIC in ms. Drivers only. */
naos_time naos_clock_now(void);
/* naos_clock_now_us reads CLOCK_MONOTONIC in microseconds. Drivers only. */
uint64_t naos_clock_now_us(void);
/* naos_clock_wall_ms reads CLOCK_REALTIME in ms since the epoch (for
 * timestamps shown to people). Drivers only. */
int64_t naos_clock_wall_ms(void);

/* naos_duration_parse parses "300s", "5m", "250ms", "1h", "1.5s" or a bare
 * number of seconds ("30") into *out ms. Returns false on anything else
 * (empty, negative, unknown unit, overflow); *out is then untouched. */
bool naos_duration_parse(const char *s, naos_duration *out);

/* naos_duration_format writes d as the shortest exact form ("300s", "1m",
 * "250ms") into buf (caller buffer + length). */
void naos_duration_format(naos_duration d, char *buf, unsigned len);

#endif
