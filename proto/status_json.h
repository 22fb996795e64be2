/* SPDX-License-Identifier: Apache-2.0 */
/* status_json.h: render naos.v1.Status and naos.v1.Event as JSON (jansson).
 *
 * This is the one JSON shape of node status, shared by `naos status --json`
 * and the node's HTTP API. Keys come out in a fixed order (jansson keeps
 * insertion order), so `json_dumps(v, JSON_INDENT(2))` is stable.
 *
 *   {"node": "n1", "deployments": [
 *     {"name": "research", "state": "failed", "failure": "...",   <- only
 *      "tree": NODE}]}                                               failed
 *
 *   NODE = {"id", "path", "type": "supervisor"|"worker", "state",
 *           "pid": int|null (null for supervisors and when 0),
 *           "restarts", "restart": "permanent"|..., "uptime_ms",
 *           "last_exit": {"reason": "exit:1", "at": ISO-8601}|null,
 *           "status_text": string|null,
 *           supervisors only: "strategy", "max_restarts", "window_s",
 *                             "restarts_in_window",
 *           "children": [NODE...] ([] for workers)}
 *
 *   EVENT = {"seq", "at": ISO-8601 with ms, "kind", "deployment", "path",
 *            "pid": int|null, "reason", "restarts", "detail"}
 *            (empty strings in deployment/path/reason/detail become null)
 *
 *   NODES = {"nodes": [{"id", "name", "addr", "state", "incarnation",
 *            "last_heard_ms": int|null (null: never heard), "local": bool,
 *            "health": {"agents_running", "agents_restarting",
 *                       "agents_failed", "agents_node_trouble",
 *                       "deployments", "load" (rounded to 2 decimals)}|null}]}
 *
 * Times are UTC with milliseconds: "2026-11-21T10:12:03.123Z". Missing
 * (NULL) strings in the message are treated as empty. Nested trees deeper
 * than STATUS_JSON_MAX_DEPTH are refused. */
#ifndef NAOS_PROTO_STATUS_JSON_H
#define NAOS_PROTO_STATUS_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/naos.pb-c.h"

#define STATUS_JSON_MAX_DEPTH 64

/* STATUS_JSON_DUMP: the json_dump* flags every writer of these documents
 * ORs in (CLI and HTTP). jansson prints reals with 17 significant digits
 * by default, so a load of 2.53 read "2.5299999999999998"; 15 digits print
 * the shortest form of every value these documents carry (loads are
 * rounded to hundredths). */
#define STATUS_JSON_DUMP JSON_REAL_PRECISION(15)

/* status_json_status renders st (borrowed). Returns a new reference the
 * caller must json_decref, or NULL when out of memory, st is NULL or the
 * tree is deeper than STATUS_JSON_MAX_DEPTH. */
json_t *status_json_status(const Naos__V1__Status *st);

/* status_json_deployment renders one deployment (borrowed); as above. */
json_t *status_json_deployment(const Naos__V1__DeploymentStatus *d);

/* status_json_status_at renders st as it reads elapsed_ms[i] ms after
 * deployment i was taken: running workers' uptime_ms grow by that much
 * (a cached document served later). elapsed_ms NULL: all 0. */
json_t *status_json_status_at(const Naos__V1__Status *st,
                              const int64_t *elapsed_ms);

/* status_json_deployment_at renders d as it reads elapsed_ms after it was
 * taken; as status_json_status_at. */
json_t *status_json_deployment_at(const Naos__V1__DeploymentStatus *d,
                                  int64_t elapsed_ms);

/* status_json_node renders one NODE and its subtree (borrowed); as above. */
json_t *status_json_node(const Naos__V1__NodeStatus *n);

/* status_json_event renders ev (borrowed); as above. */
json_t *status_json_event(const Naos__V1__Event *ev);

/* status_json_nodes renders a NodesReply (borrowed; `naos nodes --json`
 * and GET /api/v1/nodes); as above. */
json_t *status_json_nodes(const Naos__V1__NodesReply *r);

/* status_json_time formats wall_ms (ms since the epoch) as
 * "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (caller buffer + length; 25 bytes
 * suffice). Returns buf; on a time gmtime cannot represent, writes "". */
char *status_json_time(int64_t wall_ms, char *buf, size_t len);

#endif
