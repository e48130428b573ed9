/* SPDX-License-Identifier: MIT */
/* Prometheus textfile metrics: names, zeros for every code × severity, counters across
 * sweeps, update attempts counted once while held-back updates are a gauge, label escaping,
 * a syntax check of every line, and the atomic write. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "mem.h"
#include "metrics.h"
#include "strv.h"
#include "sweep-fixture.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-metrics.XXXXXX"
#include "tmpdir.h"

static struct fx fx;

static void build_sweep(void) {
        fx_init(&fx, 3);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_action(&fx, 0, OUTCOME_REFUSED, REFUSAL_CLUSTER_INACCESSIBLE,
                  "https://vault0.vault.azure.net/keys/key0", NULL);
        fx_finding(&fx, 1, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        fx_finding(&fx, 1, FINDING_KEY_NO_ROTATION_POLICY, SEVERITY_INFO);
        fx_action(&fx, 1, OUTCOME_SUCCEEDED, REFUSAL_NONE, "https://vault1.vault.azure.net/keys/key1", "op");
}

static bool has_line(const char *text, const char *line) {
        size_t l = strlen(line);

        for (const char *p = text; (p = strstr(p, line)); p += l)
                if ((p == text || p[-1] == '\n') && p[l] == '\n')
                        return true;
        return false;
}

#define assert_line(text, line)                                                                             \
        do {                                                                                                \
                if (!has_line((text), (line)))                                                              \
                        fail_msg("missing line: %s", (line));                                               \
        } while (0)

/* Text format 0.0.4, as much as we use: HELP and TYPE before the samples of a name,
 * names and label names of [a-zA-Z_][a-zA-Z0-9_]*, quoted label values with \\ \" \n only,
 * a value strtod() reads whole. Returns the number of samples. */
static size_t check_syntax(const char *text) {
        _cleanup_strv_free_ char **lines = NULL, **typed = NULL;
        size_t samples = 0;

        assert_int_equal(strv_split(text, "\n", &lines), 0);
        assert_true(endswith(text, "\n"));
        STRV_FOREACH(l, lines) {
                const char *p = *l, *name;
                size_t n;
                char *end;

                if ((name = startswith(p, "# HELP ")))
                        continue;
                if ((name = startswith(p, "# TYPE "))) {
                        n = strcspn(name, " ");
                        assert_true(streq(name + n, " gauge") || streq(name + n, " counter"));
                        assert_int_equal(strv_consume(&typed, mem_strndup(name, n)), 0);
                        continue;
                }
                n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789");
                assert_true(n > 0);
                {
                        _cleanup_free_ char *metric = mem_strndup(p, n);

                        if (!strv_contains(typed, metric))
                                fail_msg("sample before its TYPE: %s", p);
                }
                p += n;
                if (*p == '{') {
                        do {
                                p++;
                                n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
                                assert_true(n > 0);
                                p += n;
                                assert_true(p[0] == '=' && p[1] == '"');
                                for (p += 2; *p != '"'; p++) {
                                        assert_true(*p && *p != '\n');
                                        if (*p == '\\') {
                                                p++;
                                                assert_true(*p == '\\' || *p == '"' || *p == 'n');
                                        }
                                }
                                p++;
                        } while (*p == ',');
                        assert_true(*p == '}');
                        p++;
                }
                assert_true(*p == ' ');
                strtod(p + 1, &end);
                assert_true(end > p + 1 && *end == 0);
                samples++;
        }
        return samples;
}

static void test_format(void **state) {
        struct metrics_counters c = {};
        char line[512];
        struct buf b;

        build_sweep();
        metrics_account(&c, &fx.sweep);
        /* The remediate reports the attempt that ended (cluster 1) once. */
        assert_int_equal(metrics_count_update(&c, OUTCOME_SUCCEEDED, 0), METRICS_UPDATE_SUCCEEDED);
        buf_init(&b, 0);
        assert_int_equal(metrics_format(&fx.sweep, &c, &b), 0);

        assert_line(b.data, "# TYPE cmkd_findings gauge");
        assert_line(b.data, "cmkd_info{version=\"" CMKD_VERSION "\"} 1");
        assert_line(b.data, "cmkd_clusters 3");
        assert_line(b.data, "cmkd_clusters_by_severity{severity=\"ok\"} 1");
        assert_line(b.data, "cmkd_clusters_by_severity{severity=\"critical\"} 1");
        assert_line(b.data, "cmkd_clusters_by_severity{severity=\"warning\"} 1");
        assert_line(b.data, "cmkd_clusters_by_severity{severity=\"info\"} 0");
        /* Every code × severity, zeros included. */
        for (int code = 0; code < _FINDING_MAX; code++)
                for (int sev = 0; sev < _SEVERITY_MAX; sev++) {
                        unsigned expect = (code == FINDING_KEY_EXPIRED && sev == SEVERITY_CRITICAL) ||
                                          (code == FINDING_KEY_EXPIRING && sev == SEVERITY_WARNING) ||
                                          (code == FINDING_KEY_NO_ROTATION_POLICY && sev == SEVERITY_INFO);

                        snprintf(line, sizeof line, "cmkd_findings{code=\"%s\",severity=\"%s\"} %u",
                                 finding_to_string(code), severity_to_string(sev), expect);
                        assert_line(b.data, line);
                }
        assert_line(b.data, "cmkd_sweep_success 1");
        assert_line(b.data, "cmkd_sweep_duration_seconds 12.000");
        assert_line(b.data, "cmkd_last_sweep_timestamp_seconds 1795413612");
        assert_line(b.data, "cmkd_last_successful_sweep_timestamp_seconds 1795413612");
        assert_line(b.data, "# TYPE cmkd_requests_total counter");
        assert_line(b.data, "cmkd_requests_total 40");
        assert_line(b.data, "cmkd_throttled_total 2");
        assert_line(b.data, "cmkd_retries_total 3");
        assert_line(b.data, "# TYPE cmkd_loop_stall_max_seconds gauge");
        assert_line(b.data, "cmkd_loop_stall_max_seconds 0.000");
        assert_line(b.data, "# TYPE cmkd_updates_total counter");
        assert_line(b.data, "cmkd_updates_total{result=\"succeeded\"} 1");
        assert_line(b.data, "cmkd_updates_total{result=\"failed\"} 0");
        assert_line(b.data, "cmkd_updates_total{result=\"timed-out\"} 0");
        /* A refusal is no attempt: it is a held-back update, by reason, zeros included. */
        assert_null(strstr(b.data, "result=\"refused\""));
        assert_null(strstr(b.data, "result=\"proposed\""));
        assert_line(b.data, "# TYPE cmkd_updates_held gauge");
        for (int i = REFUSAL_NONE + 1; i < _REFUSAL_MAX; i++) {
                snprintf(line, sizeof line, "cmkd_updates_held{reason=\"%s\"} %u", refusal_to_string(i),
                         i == REFUSAL_CLUSTER_INACCESSIBLE);
                assert_line(b.data, line);
        }
        assert_line(b.data, "cmkd_updates_held{reason=\"backoff\"} 0");
        assert_line(b.data, "cmkd_updates_held{reason=\"dry-run\"} 0");
        assert_null(strstr(b.data, "reason=\"none\""));
        assert_line(b.data, "# TYPE cmkd_updates_in_progress gauge");
        assert_line(b.data, "cmkd_updates_in_progress 0");
        snprintf(line, sizeof line, "cmkd_key_expiry_timestamp_seconds{cluster=\"%s\",name=\"c2\"} %llu",
                 fx.ids[2], (unsigned long long) ((FX_T0 + 200 * USEC_PER_DAY) / USEC_PER_SEC));
        assert_line(b.data, line);
        snprintf(line, sizeof line, "cmkd_key_created_timestamp_seconds{cluster=\"%s\",name=\"c0\"} %llu",
                 fx.ids[0], (unsigned long long) ((FX_T0 - 100 * USEC_PER_DAY) / USEC_PER_SEC));
        assert_line(b.data, line);
        assert_int_equal(check_syntax(b.data), 1 + 1 + 4 + _FINDING_MAX * _SEVERITY_MAX + 4 + 2 + 5 + 1 +
                                                       _METRICS_UPDATE_MAX + 1 + (_REFUSAL_MAX - 1) + 2 + 3 + 3);
        buf_done(&b);
}

static void test_counters_across_sweeps(void **state) {
        struct metrics_counters c = {};
        struct buf b;

        build_sweep();
        metrics_account(&c, &fx.sweep);
        metrics_count_update(&c, OUTCOME_SUCCEEDED, 0);
        metrics_account(&c, &fx.sweep);
        metrics_count_update(&c, OUTCOME_SUCCEEDED, 0);
        /* A sweep that could not run: counted as failed, the last success stays. */
        fx.sweep.ran = false;
        fx.sweep.n_clusters = 0;
        fx.sweep.finished_realtime += 600 * USEC_PER_SEC;
        fx.sweep.stats = (struct sweep_stats) { .requests = 1 };
        /* The stall maximum is the manager's to set; metrics_account() leaves it alone. */
        c.loop_stall_max_usec = 1234567;
        metrics_account(&c, &fx.sweep);
        assert_int_equal(c.loop_stall_max_usec, 1234567);
        buf_init(&b, 0);
        assert_int_equal(metrics_format(&fx.sweep, &c, &b), 0);
        assert_line(b.data, "cmkd_loop_stall_max_seconds 1.235");
        assert_line(b.data, "cmkd_sweeps_total 3");
        assert_line(b.data, "cmkd_sweeps_failed_total 1");
        assert_line(b.data, "cmkd_requests_total 81");
        assert_line(b.data, "cmkd_throttled_total 4");
        assert_line(b.data, "cmkd_updates_total{result=\"succeeded\"} 2");
        assert_line(b.data, "cmkd_sweep_success 0");
        assert_line(b.data, "cmkd_clusters 0");
        assert_line(b.data, "cmkd_last_sweep_timestamp_seconds 1795414212");
        assert_line(b.data, "cmkd_last_successful_sweep_timestamp_seconds 1795413612");
        check_syntax(b.data);
        buf_done(&b);

        /* Before the first sweep: every series, all zero. */
        buf_init(&b, 0);
        assert_int_equal(metrics_format(NULL, NULL, &b), 0);
        assert_line(b.data, "cmkd_clusters 0");
        assert_line(b.data, "cmkd_sweep_success 0");
        check_syntax(b.data);
        buf_done(&b);
}

static void format(const struct metrics_counters *c, struct buf *b) {
        buf_done(b);
        buf_init(b, 0);
        assert_int_equal(metrics_format(&fx.sweep, c, b), 0);
        check_syntax(b->data);
}

/* cmkd_updates_total counts each attempt once, when it ends, by result; a cluster held back
 * (by a guard rail, a gate, or the backoff after a failure) is in cmkd_updates_held for as
 * long as it is held, and adds nothing to cmkd_updates_total however many sweeps that takes. */
static void test_updates_attempts_and_held(void **state) {
        static const struct {
                enum action_outcome outcome;
                int error;
                enum metrics_update_result want;
        } table[] = {
                { OUTCOME_SUCCEEDED, 0, METRICS_UPDATE_SUCCEEDED },
                { OUTCOME_FAILED, -EIO, METRICS_UPDATE_FAILED },
                { OUTCOME_FAILED, -EPROTO, METRICS_UPDATE_FAILED },
                { OUTCOME_FAILED, -ENOTCONN, METRICS_UPDATE_FAILED }, /* not sent before a crash */
                { OUTCOME_FAILED, -ETIMEDOUT, METRICS_UPDATE_FAILED }, /* a request timed out: failed */
                { OUTCOME_FAILED, -ETIME, METRICS_UPDATE_TIMED_OUT },  /* cmkd gave up waiting */
                { OUTCOME_NONE, 0, _METRICS_UPDATE_INVALID },
                { OUTCOME_PROPOSED, 0, _METRICS_UPDATE_INVALID },
                { OUTCOME_REFUSED, 0, _METRICS_UPDATE_INVALID },
                { OUTCOME_IN_PROGRESS, 0, _METRICS_UPDATE_INVALID },
        };
        const char *url = "https://vault0.vault.azure.net/keys/key0/new0";
        struct metrics_counters c = {};
        uint64_t want[_METRICS_UPDATE_MAX] = {};
        struct buf b;

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(metrics_count_update(&c, table[i].outcome, table[i].error), table[i].want);
                if (table[i].want >= 0)
                        want[table[i].want]++;
                assert_memory_equal(c.updates, want, sizeof want);
        }
        assert_string_equal(metrics_update_result_to_string(METRICS_UPDATE_TIMED_OUT), "timed-out");
        assert_null(metrics_update_result_to_string(_METRICS_UPDATE_MAX));

        /* A fleet: one update in progress, one held after its failure, one refused by the
         * budget, one outside the change window, one proposed by a dry run, one with
         * nothing to do. */
        memset(&c, 0, sizeof c);
        fx_init(&fx, 6);
        fx_action(&fx, 0, OUTCOME_IN_PROGRESS, REFUSAL_NONE, url, "op0");
        fx_action(&fx, 1, OUTCOME_FAILED, REFUSAL_NONE, url, "op1");
        fx.results[1].action.error = -ETIME;
        fx.results[1].action.held = true;
        fx_action(&fx, 2, OUTCOME_REFUSED, REFUSAL_BUDGET, url, NULL);
        fx_action(&fx, 3, OUTCOME_REFUSED, REFUSAL_OUTSIDE_WINDOW, url, NULL);
        fx_action(&fx, 4, OUTCOME_PROPOSED, REFUSAL_NONE, url, NULL);
        buf_init(&b, 0);
        /* Five sweeps alike: the counter does not move, the gauges say the same each time. */
        for (int sweep = 0; sweep < 5; sweep++) {
                metrics_account(&c, &fx.sweep);
                format(&c, &b);
                assert_line(b.data, "cmkd_updates_in_progress 1");
                assert_line(b.data, "cmkd_updates_held{reason=\"backoff\"} 1");
                assert_line(b.data, "cmkd_updates_held{reason=\"budget\"} 1");
                assert_line(b.data, "cmkd_updates_held{reason=\"outside-window\"} 1");
                assert_line(b.data, "cmkd_updates_held{reason=\"dry-run\"} 1");
                assert_line(b.data, "cmkd_updates_held{reason=\"mode\"} 0");
                assert_line(b.data, "cmkd_updates_total{result=\"succeeded\"} 0");
                assert_line(b.data, "cmkd_updates_total{result=\"failed\"} 0");
                assert_line(b.data, "cmkd_updates_total{result=\"timed-out\"} 0");
        }
        assert_int_equal(c.sweeps, 5);

        /* The update in progress ends: counted once; the sweeps after it show it no more in
         * progress, and its repeated failure (held) adds nothing. */
        metrics_count_update(&c, OUTCOME_FAILED, -ETIME);
        fx.results[0].action.outcome = OUTCOME_FAILED;
        fx.results[0].action.error = -ETIME;
        for (int sweep = 0; sweep < 3; sweep++) {
                format(&c, &b);
                assert_line(b.data, "cmkd_updates_total{result=\"timed-out\"} 1");
                assert_line(b.data, "cmkd_updates_in_progress 0");
                /* Cluster 0's failure is news this sweep, not yet a hold: only cluster 1 is held. */
                assert_line(b.data, "cmkd_updates_held{reason=\"backoff\"} 1");
                fx.results[0].action.held = true;
                metrics_account(&c, &fx.sweep);
                format(&c, &b);
                assert_line(b.data, "cmkd_updates_held{reason=\"backoff\"} 2");
                assert_line(b.data, "cmkd_updates_total{result=\"timed-out\"} 1");
                fx.results[0].action.held = false;
        }
        /* A refusal that is REFUSAL_NONE or out of range is no reason: nothing is counted. */
        fx_init(&fx, 2);
        fx_action(&fx, 0, OUTCOME_REFUSED, REFUSAL_NONE, url, NULL);
        fx_action(&fx, 1, OUTCOME_REFUSED, REFUSAL_BUDGET, url, NULL);
        fx.results[1].action.refusal = _REFUSAL_MAX;
        format(NULL, &b);
        assert_null(strstr(b.data, "cmkd_updates_held{reason=\"none\"}"));
        for (int i = REFUSAL_NONE + 1; i < _REFUSAL_MAX; i++) {
                char line[128];

                snprintf(line, sizeof line, "cmkd_updates_held{reason=\"%s\"} 0", refusal_to_string(i));
                assert_line(b.data, line);
        }
        buf_done(&b);
}

static void test_label_escaping(void **state) {
        struct buf b;

        fx_init(&fx, 1);
        fx.clusters[0].name = (char *) "evil\"} 1\ncmkd_clusters 999\\";
        buf_init(&b, 0);
        assert_int_equal(metrics_format(&fx.sweep, NULL, &b), 0);
        assert_non_null(strstr(b.data, "name=\"evil\\\"} 1\\ncmkd_clusters 999\\\\\"}"));
        assert_false(has_line(b.data, "cmkd_clusters 999"));
        check_syntax(b.data);
        buf_done(&b);
}

static void test_write(void **state) {
        _cleanup_free_ char *path = path_join(dir, "cmkd.prom"), *data = NULL;
        struct metrics_counters c = {};
        struct dirent *de;
        struct stat st;
        struct buf b;
        DIR *d;

        build_sweep();
        metrics_account(&c, &fx.sweep);
        assert_int_equal(metrics_write(path, &fx.sweep, &c), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        assert_int_equal(read_file_bounded(path, METRICS_FILE_MAX, &data, NULL), 0);
        buf_init(&b, 0);
        assert_int_equal(metrics_format(&fx.sweep, &c, &b), 0);
        assert_string_equal(data, b.data);
        buf_done(&b);
        /* Nothing else left in the directory (no temp file). */
        d = opendir(dir);
        assert_non_null(d);
        while ((de = readdir(d)))
                assert_true(streq(de->d_name, ".") || streq(de->d_name, "..") ||
                            streq(de->d_name, "cmkd.prom"));
        closedir(d);

        assert_int_equal(metrics_write("/nonexistent-dir/cmkd.prom", &fx.sweep, &c), -ENOENT);
        assert_int_equal(metrics_write("/tmp/", &fx.sweep, &c), -EINVAL);
}

static void test_alloc_failure(void **state) {
        _cleanup_free_ char *path = path_join(dir, "oom.prom");
        unsigned long n;

        build_sweep();
        for (n = 1;; n++) {
                int r;

                mem_fail_at(n, false);
                r = metrics_write(path, &fx.sweep, NULL);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(access(path, F_OK), -1);
        }
        assert_true(n > 3);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_format),         cmocka_unit_test(test_counters_across_sweeps),
                cmocka_unit_test(test_updates_attempts_and_held),
                cmocka_unit_test(test_label_escaping), cmocka_unit_test(test_write),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
