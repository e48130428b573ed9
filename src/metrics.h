/* SPDX-License-Identifier: MIT */
#pragma once

/* Metrics for dashboards: a Prometheus text-format (0.0.4) file for node_exporter's
 * textfile collector, rewritten atomically after each sweep. Gauges describe the last
 * sweep; counters add up across sweeps (and restart from 0 with cmkd, which Prometheus
 * handles). Every finding code × severity is written, zeros included, so series never
 * vanish. Names:
 *   cmkd_info{version}                                   gauge, 1
 *   cmkd_clusters                                        gauge
 *   cmkd_clusters_by_severity{severity="ok|info|warning|critical"}  gauge, by worst finding
 *   cmkd_findings{code,severity}                         gauge
 *   cmkd_sweep_success                                   gauge, 1 if the last sweep ran
 *   cmkd_sweep_duration_seconds                          gauge
 *   cmkd_last_sweep_timestamp_seconds                    gauge
 *   cmkd_last_successful_sweep_timestamp_seconds         gauge (0: none since start)
 *   cmkd_scopes_failed, cmkd_unreadable_items            gauge
 *   cmkd_sweeps_total, cmkd_sweeps_failed_total          counter
 *   cmkd_requests_total, cmkd_throttled_total, cmkd_retries_total  counter
 *   cmkd_loop_stall_max_seconds                          gauge, longest event-loop stall since start
 *   cmkd_updates_total{result="succeeded|failed|timed-out"}  counter: update attempts (requests
 *        sent, each audited "started"), each counted once, when it ends (metrics_count_update());
 *        timed-out: cmkd gave up waiting (UpdateTimeoutSec=), the result in Azure unknown
 *   cmkd_updates_in_progress                             gauge, updates followed at the last sweep
 *   cmkd_updates_held{reason}                            gauge: clusters of the last sweep whose wanted
 *        update was not sent, by reason: each refusal code (refusal_to_string()), "backoff" (held
 *        after a failed attempt, action.held) and "dry-run" (proposed only); zeros included
 *   cmkd_key_expiry_timestamp_seconds{cluster,name}      gauge, key version in use, when it expires
 *   cmkd_key_created_timestamp_seconds{cluster,name}     gauge */

#include <stdint.h>

#include "buf.h"
#include "sweep.h"

#define METRICS_FILE_MAX (16U * 1024U * 1024U)

/* The results of an update attempt, the label values of cmkd_updates_total. */
enum metrics_update_result {
        METRICS_UPDATE_SUCCEEDED,
        METRICS_UPDATE_FAILED,
        METRICS_UPDATE_TIMED_OUT,
        _METRICS_UPDATE_MAX,
        _METRICS_UPDATE_INVALID = -EINVAL,
};

const char *metrics_update_result_to_string(enum metrics_update_result r);

/* What adds up across sweeps. Zero-initialize; the manager owns one. */
struct metrics_counters {
        uint64_t sweeps;
        uint64_t sweeps_failed;
        uint64_t requests;
        uint64_t throttled;
        uint64_t retries;
        uint64_t updates[_METRICS_UPDATE_MAX]; /* ended attempts, by result (metrics_count_update()) */
        usec_t last_success_realtime;   /* finished_realtime of the last sweep that ran; 0 = none */
        usec_t loop_stall_max_usec;     /* the manager's stall monitor: longest time callbacks kept the
                                         * event loop from polling since start (stall.h); set, not added */
};

/* Adds one sweep to the counters (sweeps, requests; not the updates: a sweep repeats an
 * update's result while the cluster is held back). Pure. */
void metrics_account(struct metrics_counters *c, const struct sweep_result *s);

/* Counts one update attempt that ended, once (the remediate's done callback): SUCCEEDED,
 * or FAILED as timed-out when error is -ETIME, else failed. Other outcomes are no attempt
 * and not counted. Returns the result counted, or _METRICS_UPDATE_INVALID. Pure. */
enum metrics_update_result metrics_count_update(struct metrics_counters *c, enum action_outcome outcome,
                                                int error);

/* Writes the exposition text for the last sweep s (NULL: none yet) and the counters.
 * Returns 0, -ENOMEM or -E2BIG. */
int metrics_format(const struct sweep_result *s, const struct metrics_counters *c, struct buf *out);

/* metrics_format() into path (mode 0644), atomically: node_exporter never reads half a
 * file (the temp file is ".NAME.XXXXXX", which the collector ignores as it lacks ".prom").
 * Returns 0 or -errno. */
int metrics_write(const char *path, const struct sweep_result *s, const struct metrics_counters *c);

/* Appends v as a label value: backslash, double quote and newline escaped. */
int metrics_put_label_value(struct buf *out, const char *v);
