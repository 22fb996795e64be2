/* SPDX-License-Identifier: Apache-2.0 */
/* log.h: leveled, module-tagged logging to stderr. */
#ifndef NAOS_BASE_LOG_H
#define NAOS_BASE_LOG_H

enum naos_log_level { NAOS_LOG_DEBUG, NAOS_LOG_INFO, NAOS_LOG_WARN, NAOS_LOG_ERROR };

/* naos_log_set_level sets the minimum level printed (default INFO). */
void naos_log_set_level(enum naos_log_level level);
/* naos_log prints "naos-node: LEVEL module: message" to stderr. */
void naos_log(enum naos_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define NAOS_DEBUG(mod, ...) naos_log(NAOS_LOG_DEBUG, mod, __VA_ARGS__)
#define NAOS_INFO(mod, ...) naos_log(NAOS_LOG_INFO, mod, __VA_ARGS__)
#define NAOS_WARN(mod, ...) naos_log(NAOS_LOG_WARN, mod, __VA_ARGS__)
#define NAOS_ERROR(mod, ...) naos_log(NAOS_LOG_ERROR, mod, __VA_ARGS__)

#endif
