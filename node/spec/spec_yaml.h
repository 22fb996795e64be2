/* SPDX-License-Identifier: Apache-2.0 */
/* spec_yaml.h: parse a deployment tree from YAML (libyaml, event API).
 *
 * Accepted document (a `command` is an argv list, or a string run by
 * `/bin/sh -c`):
 *
 *   name: research
 *   supervisor: {strategy: rest-for-one, max_restarts: 5, window: 300s}
 *   placement: {on: n2, require: {zone: eu}}  # root only; either or both
 *   migration: {max: 3, window: 1h}  # root only; either or both
 *   on_partition: keep        # root only; stop (default) | keep
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

/* spec_yaml_parse_agent reads a project file (naos.yaml), which defines
 * agents by name, each with the worker fields of a single-command tree
 * file (command, env, cwd, restart, ..., and optionally supervisor and
 * replicas for its top supervisor):
 *
 *   agents:
 *     researcher:
 *       command: ["python3", "agent.py"]   # or a string run by /bin/sh -c
 *       env: {MODEL: small}
 *
 * Every agent is checked; the one named name becomes *out (caller
 * storage), a tree as spec_yaml_parse makes of `name` plus `command`: a
 * supervisor name with one worker name (or a pool of it). Relative cwd
 * values are left as written (the caller knows the file's directory).
 * Returns NAOS_OK; NAOS_ENOTFOUND when the file defines no such agent
 * (errbuf: "FILE defines no agent NAME (it defines a, b)"); NAOS_EINVAL
 * with "FILE:LINE:COL: FIELD: what" in errbuf; NAOS_ENOMEM. On error *out
 * is zeroed. Same input bounds as spec_yaml_parse. */
int spec_yaml_parse_agent(const char *fname, const char *text, size_t len,
                          const char *name, struct spec_node *out,
                          char *errbuf, size_t errlen);

#endif
