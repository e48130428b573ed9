/* SPDX-License-Identifier: MIT */
#pragma once

/* The STATUS= line that `systemctl status cmkd` shows: when the last sweep ran, what it
 * found, when the next one is due. Pure formatting; notify.c sends it. */

#include "sweep.h"

#define STATUS_MAX 256

/* Formats into buf (truncated to len) and returns buf. last: the last finished sweep, or
 * NULL before the first. running: a sweep is under way now. next_sweep: realtime of the
 * next one (0 or USEC_INFINITY: none, as with --once). Examples:
 *   "Last sweep 08:24 UTC: 120 clusters, 2 critical, 5 warning; next in 4min 12s"
 *   "Last sweep 08:24 UTC: 12 clusters, all OK; next in 5min"
 *   "Last sweep 08:24 UTC could not run: no token; next in 30s"
 *   "Sweep running; last sweep 08:24 UTC: 120 clusters, 2 critical"
 *   "First sweep running" */
char *status_format(const struct sweep_result *last, bool running, usec_t now, usec_t next_sweep, char *buf,
                    size_t len);
