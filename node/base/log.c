/* SPDX-License-Identifier: Apache-2.0 */
#include "node/base/log.h"

#include <stdarg.h>
#include <stdio.h>

static enum naos_log_level min_level = NAOS_LOG_INFO;

void
naos_log_set_level(enum naos_log_level level)
{
    min_level = level;
}

void
naos_log(enum naos_log_level level, const char *module, const char *fmt, ...)
{
    static const char *names[] = {"debug", "info", "warn", "error"};
    if (level < min_level)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "naos-node: %s %s: %s\n", names[level], module, line);
}
