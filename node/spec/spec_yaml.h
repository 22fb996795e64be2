/* SPDX-License-Identifier: Apache-2.0 */
/* spec_yaml.h: parse a deployment tree from YAML (libyaml, event API).
 *
 * Accepted document (a `command` is an argv list, or a string run by
 * `/bin/sh -c`):
 *
 *   name: research
 *   supervisor: {strategy: rest-for-one, max_restarts: 5, window: 300s}
 *   children:
 *     - id: fetcher
 *       command: ["python3", "fetch.py"]
 *       restart: permanent        # permanent | transient | temporary
 *       shutdown: 5s              # duration | kill | infinity
 *       env: {KEY: value}         # or ["KEY=value", ...]
 *       cwd: /srv/agents
 *       ready: notify             # exec (default) | notify
 *       start_timeout: 30s
 *       watchdog: 30s
 *       max_runtime: 1h
 *       backoff: {min: 1s, max: 30s}
 *     - id: tools
 *       supervisor: {strategy: one-for-one, max_restarts: 3, window: 60s}
 *       children:
 *         - {id: scraper, command: "./scraper --headless", watchdog: 30s}
 *
 * A pool: `supervisor: {strategy: simple-one-for-one, ...}`, `replicas: N`,
 * and exactly one child (the template). The root may also be a single
 * worker with `name` and `command` (wrapped in a one-for-one supervisor by
 * the caller's defaults: see spec_yaml_parse). Unknown keys are errors. */
#ifndef NAOS_SPEC_SPEC_YAML_H
#define NAOS_SPEC_SPEC_YAML_H

#include <stddef.h>

#include "node/spec/spec.h"

/* spec_yaml_parse parses text (len bytes, borrowed) into *out (caller
 * storage, initialised by this call). fname is used in messages only. On
 * success the tree is validated with spec_validate and NAOS_OK is returned;
 * on any error returns NAOS_EINVAL (or NAOS_ENOMEM), leaves *out zeroed, and
 * writes "FILE:LINE:COL: FIELD: what is wrong" into errbuf. */
int spec_yaml_parse(const char *fname, const char *text, size_t len,
                    struct spec_node *out, char *errbuf, size_t errlen);

#endif
