/* SPDX-License-Identifier: Apache-2.0 */
/* output.h: human-readable output of the CLI (the --json forms come from
 * proto/status_json.h). Text that came from workers is printed with control
 * characters replaced, so a worker cannot drive the operator's terminal. */
#ifndef NAOS_CLI_OUTPUT_H
#define NAOS_CLI_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/naos.pb-c.h"

/* output_duration writes ms as a short human duration ("3m12s", "5m",
 * "1h5m", "2d3h", "850ms") into buf (caller buffer + length). */
void output_duration(int64_t ms, char *buf, size_t len);

/* output_status_tree prints st (borrowed) as one indented tree per
 * deployment:
 *
 *   research  running  rest-for-one 1/5 in 5m
 *   ├─ fetcher  running  pid 4242  up 3m12s  restarts 1  last exit:1
 *   └─ tools    running  one-for-one 0/3 in 1m
 *      └─ scraper  starting  pid 4250  "loading model"
 *
 * with states coloured when color is set. */
void output_status_tree(FILE *f, const Naos__V1__Status *st, bool color);

/* output_event_line prints one event as its number (the cursor `naos
 * events --since` takes), then
 * "2026-11-21T10:12:03.123Z  restart  research/fetcher  exit:1  restarts=3".
 */
void output_event_line(FILE *f, const Naos__V1__Event *ev);

/* output_use_color: stdout is a terminal and NO_COLOR is unset. */
bool output_use_color(void);

#endif
