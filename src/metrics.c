/* SPDX-License-Identifier: MIT */
/* Prometheus textfile metrics: formats a sweep and the running counters, writes them
 * atomically. No clock, no logging; label values from Azure are escaped, never trusted. */

#include <inttypes.h>
#include <stdio.h>

#include "fileio.h"
#include "mem.h"
#include "metrics.h"
#include "strtable.h"
#include "strv.h"

static const char *const metrics_update_result_table[_METRICS_UPDATE_MAX] = {
        [METRICS_UPDATE_SUCCEEDED] = "succeeded",
        [METRICS_UPDATE_FAILED] = "failed",
        [METRICS_UPDATE_TIMED_OUT] = "timed-out",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(metrics_update_result, enum metrics_update_result,
                                     metrics_update_result_table)

enum metrics_update_result metrics_count_update(struct metrics_counters *c, enum action_outcome outcome,
                                                int error) {
        enum metrics_update_result r;

        if (outcome == OUTCOME_SUCCEEDED)
                r = METRICS_UPDATE_SUCCEEDED;
        else if (outcome == OUTCOME_FAILED)
                r = error == -ETIME ? METRICS_UPDATE_TIMED_OUT : METRICS_UPDATE_FAILED;
        else
                return _METRICS_UPDATE_INVALID;
        c->updates[r]++;
        return r;
}

void metrics_account(struct metrics_counters *c, const struct sweep_result *s) {
        c->sweeps++;
        if (!s->ran)
                c->sweeps_failed++;
        else
                c->last_success_realtime = s->finished_realtime;
        c->requests += s->stats.requests;
        c->throttled += s->stats.throttled;
        c->retries += s->stats.retries;
}

int metrics_put_label_value(struct buf *out, const char *v) {
        int r = buf_putc(out, '"');

        for (const char *p = v; r >= 0 && *p; p++)
                switch (*p) {
                case '\\':
                        r = buf_puts(out, "\\\\");
                        break;
                case '"':
                        r = buf_puts(out, "\\\"");
                        break;
                case '\n':
                        r = buf_puts(out, "\\n");
                        break;
                default:
                        r = buf_putc(out, *p);
                }
        if (r >= 0)
                r = buf_putc(out, '"');
        return r;
}

static int head(struct buf *out, const char *name, const char *type, const char *help) {
        return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int sample_u64(struct buf *out, const char *name, uint64_t v) {
        return buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

static int gauge_u64(struct buf *out, const char *name, const char *help, uint64_t v) {
        int r = head(out, name, "gauge", help);

        return r < 0 ? r : sample_u64(out, name, v);
}

static int counter_u64(struct buf *out, const char *name, const char *help, uint64_t v) {
        int r = head(out, name, "counter", help);

        return r < 0 ? r : sample_u64(out, name, v);
}

static int per_cluster_key_time(struct buf *out, const struct sweep_result *s, const char *name,
                                const char *help, bool expiry) {
        int r = head(out, name, "gauge", help);

        for (size_t i = 0; r >= 0 && s && i < s->n_clusters; i++) {
                const struct cluster_result *cr = &s->clusters[i];
                const struct key_bundle *k = cluster_result_key_in_use(cr);
                usec_t t = !k ? 0 : expiry ? k->exp : k->created;

                if (!cr->obs.cluster || t == 0 || t == USEC_INFINITY)
                        continue;
                r = buf_printf(out, "%s{cluster=", name);
                if (r >= 0)
                        r = metrics_put_label_value(out, strempty(cr->obs.cluster->id));
                if (r >= 0)
                        r = buf_puts(out, ",name=");
                if (r >= 0)
                        r = metrics_put_label_value(out, strempty(cr->obs.cluster->name));
                if (r >= 0)
                        r = buf_printf(out, "} %" PRIu64 "\n", t / USEC_PER_SEC);
        }
        return r;
}

int metrics_format(const struct sweep_result *s, const struct metrics_counters *c, struct buf *out) {
        static const struct metrics_counters zero = {};
        unsigned counts[_FINDING_MAX][_SEVERITY_MAX] = {}, by_worst[_SEVERITY_MAX] = {}, ok = 0;
        /* Held back: by refusal (REFUSAL_NONE's slot unused), after a failure, dry run. */
        unsigned held_refused[_REFUSAL_MAX] = {}, held_backoff = 0, held_dry_run = 0, in_progress = 0;
        int r;

        c = c ?: &zero;
        if (s) {
                sweep_count_findings(s, counts);
                for (size_t i = 0; i < s->n_clusters; i++) {
                        const struct verdict *v = &s->clusters[i].verdict;
                        const struct action_result *a = &s->clusters[i].action;

                        if (v->n_findings == 0)
                                ok++;
                        else
                                by_worst[v->worst]++;
                        if (a->outcome == OUTCOME_REFUSED && a->refusal > REFUSAL_NONE &&
                            a->refusal < _REFUSAL_MAX)
                                held_refused[a->refusal]++;
                        else if (a->outcome == OUTCOME_FAILED && a->held)
                                held_backoff++;
                        else if (a->outcome == OUTCOME_PROPOSED)
                                held_dry_run++;
                        else if (a->outcome == OUTCOME_IN_PROGRESS)
                                in_progress++;
                }
        }

        r = head(out, "cmkd_info", "gauge", "cmkd version.");
        if (r >= 0)
                r = buf_puts(out, "cmkd_info{version=\"" CMKD_VERSION "\"} 1\n");
        if (r >= 0)
                r = gauge_u64(out, "cmkd_clusters", "Clusters seen by the last sweep.",
                              s ? s->n_clusters : 0);
        if (r >= 0)
                r = head(out, "cmkd_clusters_by_severity", "gauge",
                         "Clusters by their worst finding (ok: no finding).");
        if (r >= 0)
                r = buf_printf(out, "cmkd_clusters_by_severity{severity=\"ok\"} %u\n", ok);
        for (int sev = 0; r >= 0 && sev < _SEVERITY_MAX; sev++)
                r = buf_printf(out, "cmkd_clusters_by_severity{severity=\"%s\"} %u\n",
                               severity_to_string(sev), by_worst[sev]);
        if (r >= 0)
                r = head(out, "cmkd_findings", "gauge", "Findings of the last sweep by code and severity.");
        for (int code = 0; r >= 0 && code < _FINDING_MAX; code++)
                for (int sev = 0; r >= 0 && sev < _SEVERITY_MAX; sev++)
                        r = buf_printf(out, "cmkd_findings{code=\"%s\",severity=\"%s\"} %u\n",
                                       finding_to_string(code), severity_to_string(sev), counts[code][sev]);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_sweep_success", "1 if the last sweep ran, 0 if it could not.",
                              s && s->ran ? 1 : 0);
        if (r >= 0)
                r = head(out, "cmkd_sweep_duration_seconds", "gauge", "Duration of the last sweep.");
        if (r >= 0)
                r = buf_printf(out, "cmkd_sweep_duration_seconds %.3f\n",
                               s ? (double) s->stats.duration_usec / USEC_PER_SEC : 0.0);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_last_sweep_timestamp_seconds",
                              "When the last sweep finished (Unix time).",
                              s ? s->finished_realtime / USEC_PER_SEC : 0);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_last_successful_sweep_timestamp_seconds",
                              "When the last sweep that ran finished (Unix time; 0: none since start).",
                              c->last_success_realtime / USEC_PER_SEC);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_scopes_failed", "Scopes whose listing failed in the last sweep.",
                              s ? strv_length(s->failed_scopes) : 0);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_unreadable_items",
                              "Listed items that could not be decoded in the last sweep.",
                              s ? s->n_unreadable : 0);
        if (r >= 0)
                r = counter_u64(out, "cmkd_sweeps_total", "Sweeps since cmkd started.", c->sweeps);
        if (r >= 0)
                r = counter_u64(out, "cmkd_sweeps_failed_total", "Sweeps that could not run.",
                                c->sweeps_failed);
        if (r >= 0)
                r = counter_u64(out, "cmkd_requests_total", "HTTP requests sent to Azure, retries included.",
                                c->requests);
        if (r >= 0)
                r = counter_u64(out, "cmkd_throttled_total", "HTTP 429 answers received.", c->throttled);
        if (r >= 0)
                r = counter_u64(out, "cmkd_retries_total", "HTTP requests retried.", c->retries);
        if (r >= 0)
                r = head(out, "cmkd_loop_stall_max_seconds", "gauge",
                         "Longest time the event loop's callbacks kept it from polling since cmkd started.");
        if (r >= 0)
                r = buf_printf(out, "cmkd_loop_stall_max_seconds %.3f\n",
                               (double) c->loop_stall_max_usec / USEC_PER_SEC);
        if (r >= 0)
                r = head(out, "cmkd_updates_total", "counter",
                         "Key update attempts (requests sent) by how they ended, each counted once; "
                         "timed-out: cmkd gave up waiting after UpdateTimeoutSec=.");
        for (int i = 0; r >= 0 && i < _METRICS_UPDATE_MAX; i++)
                r = buf_printf(out, "cmkd_updates_total{result=\"%s\"} %" PRIu64 "\n",
                               metrics_update_result_to_string(i), c->updates[i]);
        if (r >= 0)
                r = gauge_u64(out, "cmkd_updates_in_progress", "Key updates being followed at the last sweep.",
                              in_progress);
        if (r >= 0)
                r = head(out, "cmkd_updates_held", "gauge",
                         "Clusters of the last sweep whose wanted key update was not sent, by reason: a "
                         "refusal code, backoff (after a failed attempt) or dry-run.");
        for (int i = REFUSAL_NONE + 1; r >= 0 && i < _REFUSAL_MAX; i++)
                r = buf_printf(out, "cmkd_updates_held{reason=\"%s\"} %u\n", refusal_to_string(i),
                               held_refused[i]);
        if (r >= 0)
                r = buf_printf(out, "cmkd_updates_held{reason=\"backoff\"} %u\n", held_backoff);
        if (r >= 0)
                r = buf_printf(out, "cmkd_updates_held{reason=\"dry-run\"} %u\n", held_dry_run);
        if (r >= 0)
                r = per_cluster_key_time(
                        out, s, "cmkd_key_expiry_timestamp_seconds",
                        "Expiry of the key version each cluster uses (Unix time), where set.", true);
        if (r >= 0)
                r = per_cluster_key_time(out, s, "cmkd_key_created_timestamp_seconds",
                                         "Creation of the key version each cluster uses (Unix time).",
                                         false);
        return r;
}

int metrics_write(const char *path, const struct sweep_result *s, const struct metrics_counters *c) {
        _cleanup_free_ char *dir = NULL;
        const char *slash = strrchr(path, '/'), *name;
        struct buf b;
        int r;

        if (!slash) {
                dir = mem_strdup(".");
                name = path;
        } else {
                dir = mem_strndup(path, slash == path ? 1 : (size_t) (slash - path));
                name = slash + 1;
        }
        if (!dir)
                return -ENOMEM;
        if (isempty(name))
                return -EINVAL;
        buf_init(&b, METRICS_FILE_MAX);
        r = metrics_format(s, c, &b);
        if (r >= 0)
                r = write_file_atomic(dir, name, b.data, b.len, 0644);
        buf_done(&b);
        return r;
}
