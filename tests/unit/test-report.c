/* SPDX-License-Identifier: MIT */
/* Reports from a hand-built sweep (healthy, warning, critical, refused and succeeded
 * clusters) and an audit log: JSON fields, CSV columns and quoting, HTML escaping of
 * hostile names, file names, latest.* copies and pruning. */
#include <json-c/json.h>
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
#include "report.h"
#include "strv.h"
#include "sweep-fixture.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-report.XXXXXX"
#include "tmpdir.h"

static struct fx fx;
static struct audit_entry audit_entries[4];
static struct audit_log audit = { .entries = audit_entries, .n_entries = 4, .n_corrupt = 1 };
static const char *const evil = "<script>alert(1)</script>";

/* c0 healthy; c1 key expiring (warning); c2 pinned to a disabled, expired version
 * (critical, update refused); c3 a hostile name, info only; c4 and c5 share one key, c5
 * was just repointed to it. */
static struct report_input build(void) {
        struct finding *f;

        fx_init(&fx, 6);
        fx.keys[1].exp = FX_T0 + 10 * USEC_PER_DAY;
        f = fx_finding(&fx, 1, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        f->when = fx.keys[1].exp;

        fx_pin(&fx, 2, false);
        fx.pinned[2].exp = FX_T0 - 3 * USEC_PER_DAY;
        fx_finding(&fx, 2, FINDING_KEY_VERSION_STALE, SEVERITY_CRITICAL);
        fx_finding(&fx, 2, FINDING_KEY_DISABLED, SEVERITY_CRITICAL)->version = "old";
        fx_action(&fx, 2, OUTCOME_REFUSED, REFUSAL_TARGET_DISABLED,
                  "https://vault2.vault.azure.net/keys/key2", NULL);

        fx.clusters[3].name = (char *) evil;
        fx.clusters[3].resource_group = (char *) "rg,\"quoted\"";
        fx.keys[3].exp = USEC_INFINITY;
        fx_finding(&fx, 3, FINDING_KEY_NO_ROTATION_POLICY, SEVERITY_INFO);

        snprintf(fx.urls[5], sizeof fx.urls[5], "%s", fx.urls[4]);
        assert_int_equal(keyurl_parse(fx.urls[5], &fx.results[5].verdict.keyurl), 0);
        fx.results[5].obs.key = &fx.keys[4];
        fx_action(&fx, 5, OUTCOME_SUCCEEDED, REFUSAL_NONE, fx.urls[4], "op-5");
        fx.results[5].action.old_url = (char *) "https://vault4.vault.azure.net/keys/key4/old";

        for (size_t i = 0; i < 4; i++)
                audit_entries[i] = (struct audit_entry) {
                        .time = FX_T0 - (4 - i) * USEC_PER_HOUR,
                        .cluster = fx.ids[i < 2 ? 2 : 5],
                        .action = (char *) "update",
                        .method = (char *) "PUT",
                        .mode = (char *) "enforce",
                        .new_url = fx.urls[4],
                        .result = (enum audit_result[]) { AUDIT_REFUSED, AUDIT_REFUSED, AUDIT_STARTED,
                                                         AUDIT_SUCCEEDED }[i],
                        .refusal = i < 2 ? (char *) "target-disabled" : NULL,
                };
        return (struct report_input) {
                .sweep = &fx.sweep,
                .audit = &audit,
                .period_start = FX_T0 - USEC_PER_DAY,
                .period_end = FX_T0,
                .generated = FX_T0,
                .mode = "enforce",
        };
}

static char *render(enum report_format f, const struct report_input *in) {
        struct buf b;

        buf_init(&b, REPORT_FILE_MAX);
        assert_int_equal(report_format(f, in, &b), 0);
        return buf_steal(&b);
}

static struct json_object *get(struct json_object *o, const char *path) {
        _cleanup_strv_free_ char **parts = NULL;

        assert_int_equal(strv_split(path, ".", &parts), 0);
        STRV_FOREACH(p, parts) {
                char *end;
                long idx = strtol(*p, &end, 10);

                if (*end == 0) {
                        assert_true(json_object_is_type(o, json_type_array));
                        assert_true(idx < (long) json_object_array_length(o));
                        o = json_object_array_get_idx(o, (size_t) idx);
                } else if (!json_object_object_get_ex(o, *p, &o))
                        fail_msg("no %s in %s", *p, path);
        }
        return o;
}

static const char *str(struct json_object *o, const char *path) {
        return json_object_get_string(get(o, path));
}

static int64_t num(struct json_object *o, const char *path) {
        return json_object_get_int64(get(o, path));
}

static void test_json(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *text = render(REPORT_JSON, &in);
        struct json_object *root = json_tokener_parse(text), *c;
        char msg[FINDING_MESSAGE_MAX];

        assert_non_null(root);
        assert_int_equal(num(root, "schema_version"), REPORT_SCHEMA_VERSION);
        assert_string_equal(str(root, "generator"), "cmkd " CMKD_VERSION);
        assert_string_equal(str(root, "generated_at"), "2026-11-23T06:00:00Z");
        assert_string_equal(str(root, "mode"), "enforce");
        assert_string_equal(str(root, "period.start"), "2026-11-22T06:00:00Z");
        assert_true(json_object_get_boolean(get(root, "sweep.ran")));
        assert_int_equal(num(root, "sweep.requests"), 40);
        assert_int_equal(num(root, "sweep.throttled"), 2);
        assert_int_equal(num(root, "summary.clusters"), 6);
        assert_int_equal(num(root, "summary.critical"), 1);
        assert_int_equal(num(root, "summary.warning"), 1);
        assert_int_equal(num(root, "summary.info"), 1);
        assert_int_equal(num(root, "summary.ok"), 3);
        assert_int_equal(num(root, "summary.findings.key-disabled"), 1);
        assert_int_equal(num(root, "summary.actions.refused"), 2);
        assert_int_equal(num(root, "summary.actions.succeeded"), 1);

        /* Worst first: c2, then c1, then c3, then the healthy ones by name. */
        c = get(root, "clusters");
        assert_int_equal(json_object_array_length(c), 6);
        assert_string_equal(str(c, "0.name"), "c2");
        assert_string_equal(str(c, "1.name"), "c1");
        assert_string_equal(str(c, "2.name"), evil);
        assert_string_equal(str(c, "3.name"), "c0");
        assert_string_equal(str(c, "0.status"), "critical");
        assert_string_equal(str(c, "0.id"), fx.ids[2]);
        assert_string_equal(str(c, "0.key.version_in_use"), "old2");
        assert_false(json_object_get_boolean(get(c, "0.key.versionless")));
        assert_string_equal(str(c, "0.key.current_version"), "v0");
        assert_false(json_object_get_boolean(get(c, "0.key.enabled")));
        assert_int_equal(num(c, "0.key.days_to_expiry"), -3);
        assert_int_equal(num(c, "0.key.age_days"), 400);
        assert_string_equal(str(c, "0.findings.1.code"), finding_to_string(FINDING_KEY_DISABLED));
        assert_string_equal(str(c, "0.findings.1.version"), "old");
        finding_describe(&fx.results[2].verdict.findings[1], &fx.results[2].obs, FX_T0, msg, sizeof msg);
        assert_string_equal(str(c, "0.findings.1.message"), msg);
        assert_string_equal(str(c, "0.action.outcome"), "refused");
        assert_string_equal(str(c, "0.action.refusal"), refusal_to_string(REFUSAL_TARGET_DISABLED));
        assert_int_equal(num(c, "1.key.days_to_expiry"), 10);
        assert_true(json_object_is_type(get(c, "2.key.expires_at"), json_type_null));
        assert_true(json_object_is_type(get(c, "2.key.days_to_expiry"), json_type_null));
        assert_true(json_object_is_type(get(c, "3.action"), json_type_null));
        assert_string_equal(str(c, "3.key.version_in_use"), "v0");
        assert_true(json_object_get_boolean(get(c, "3.key.versionless")));

        /* c4 and c5 share vault4/key4 v0: one row with both. */
        c = get(root, "key_versions");
        assert_int_equal(json_object_array_length(c), 6 - 1);
        for (size_t i = 0; i < json_object_array_length(c); i++) {
                struct json_object *v = json_object_array_get_idx(c, i);

                if (streq(str(v, "key"), "https://vault4.vault.azure.net/keys/key4")) {
                        assert_int_equal(json_object_array_length(get(v, "clusters")), 2);
                        assert_string_equal(str(v, "version"), "v0");
                        assert_true(json_object_get_boolean(get(v, "current")));
                }
        }
        assert_int_equal(json_object_array_length(get(root, "actions")), 4);
        assert_string_equal(str(root, "actions.3.result"), "succeeded");
        assert_string_equal(str(root, "actions.0.refusal"), "target-disabled");
        assert_int_equal(num(root, "audit.corrupt_lines"), 1);
        json_object_put(root);
}

static void test_csv(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *text = render(REPORT_CSV, &in);
        _cleanup_strv_free_ char **lines = NULL, **columns = NULL;

        assert_int_equal(strv_split(text, "\n", &lines), 0);
        assert_int_equal(strv_length(lines), 1 + 6);
        STRV_FOREACH(l, lines)
                assert_true(endswith(*l, "\r"));
        assert_true(startswith(lines[0], "cluster_id,cluster_name,subscription,resource_group,location,"));
        assert_int_equal(strv_split(lines[0], ",\r", &columns), 0);
        assert_int_equal(strv_length(columns), 26);
        assert_string_equal(columns[7], "status");
        assert_string_equal(columns[11], "key_store");
        assert_string_equal(columns[20], "days_to_expiry");
        /* c2: pinned, disabled, 3 days expired, refused. */
        assert_true(startswith(lines[1], fx.ids[2]));
        assert_non_null(strstr(
                lines[1], ",critical,key-version-stale:critical;key-disabled:critical,"
                          "https://vault2.vault.azure.net/keys/key2/old2,vault2.vault.azure.net,vault,key2,old2,"
                          "false,v0,false,"));
        assert_non_null(strstr(
                lines[1], ",400,-3,refused,target-disabled,https://vault2.vault.azure.net/keys/key2,,\r"));
        /* RFC 4180 quoting of the hostile resource group. */
        assert_non_null(strstr(lines[3], ",\"rg,\"\"quoted\"\"\","));
}

/* A key in a Managed HSM: every format says which store type holds the key. */
static void test_managed_hsm_store(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *json = NULL, *csv = NULL, *html = NULL;
        struct json_object *root;

        snprintf(fx.urls[0], sizeof fx.urls[0], "https://hsm0.managedhsm.azure.net/keys/key0");
        assert_int_equal(keyurl_parse(fx.urls[0], &fx.results[0].verdict.keyurl), 0);
        json = render(REPORT_JSON, &in);
        csv = render(REPORT_CSV, &in);
        html = render(REPORT_HTML, &in);
        root = json_tokener_parse(json);
        assert_non_null(root);
        for (size_t i = 0; i < json_object_array_length(get(root, "clusters")); i++) {
                struct json_object *c = json_object_array_get_idx(get(root, "clusters"), i);

                if (streq(str(c, "name"), "c0")) {
                        assert_string_equal(str(c, "key.vault"), "hsm0.managedhsm.azure.net");
                        assert_string_equal(str(c, "key.store"), "managed-hsm");
                } else if (json_object_get_type(get(c, "key")) == json_type_object)
                        assert_string_equal(str(c, "key.store"), "vault");
        }
        json_object_put(root);
        assert_non_null(strstr(csv, ",https://hsm0.managedhsm.azure.net/keys/key0,hsm0.managedhsm.azure.net,"
                                    "managed-hsm,key0,"));
        assert_non_null(strstr(html, "hsm0/key0</span> <span class=\"small\">(Managed HSM)</span>"));
}

static void test_csv_formula_guard(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *text = NULL;

        fx.clusters[0].name = (char *) "=HYPERLINK(\"http://x\")";
        text = render(REPORT_CSV, &in);
        assert_non_null(strstr(text, ",\"'=HYPERLINK(\"\"http://x\"\")\","));
}

static void test_html(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *text = render(REPORT_HTML, &in);

        assert_true(startswith(text, "<!DOCTYPE html>"));
        assert_true(endswith(text, "</html>\n"));
        /* The hostile name is text, everywhere it appears (table, chart, versions). */
        assert_non_null(strstr(text, "&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_null(strcasestr(text, "<script"));
        assert_non_null(strstr(text, "rg,&quot;quoted&quot;"));
        /* Nothing to fetch: no src, href or url() at all, and a CSP that forbids it. */
        assert_null(strcasestr(text, "src="));
        assert_null(strcasestr(text, "href="));
        assert_null(strcasestr(text, "url("));
        assert_non_null(
                strstr(text, "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""));
        /* Rows colored by severity, the chart, the sections. */
        assert_non_null(strstr(text, "<tr class=\"critical\">"));
        assert_non_null(strstr(text, "<tr class=\"warning\">"));
        assert_non_null(strstr(text, "<tr class=\"ok\">"));
        assert_non_null(strstr(text, "<svg role=\"img\""));
        assert_non_null(strstr(text, "expired 3 d ago"));
        assert_non_null(strstr(text, "Key versions in use"));
        assert_non_null(strstr(text, "Actions in the period"));
        assert_non_null(strstr(text, "1 damaged line of the audit log skipped"));
        assert_true(strstr(text, ">c2<") < strstr(text, ">c1<"));
}

static void test_sweep_that_did_not_run(void **state) {
        struct report_input in = build();
        _cleanup_free_ char *html = NULL, *json = NULL;
        struct json_object *root;

        fx.sweep.ran = false;
        fx.sweep.n_clusters = 0;
        fx.sweep.error = -EACCES;
        html = render(REPORT_HTML, &in);
        assert_non_null(strstr(html, "The sweep could not run:</b> Permission denied"));
        json = render(REPORT_JSON, &in);
        root = json_tokener_parse(json);
        assert_non_null(root);
        assert_false(json_object_get_boolean(get(root, "sweep.ran")));
        assert_string_equal(str(root, "sweep.error"), strerror(EACCES));
        assert_int_equal(json_object_array_length(get(root, "clusters")), 0);
        json_object_put(root);

        in.sweep = NULL;
        assert_int_equal(report_format(REPORT_JSON, &in, &(struct buf){}), -EINVAL);
}

static void test_write_and_prune(void **state) {
        _cleanup_free_ char *sub = path_join(dir, "reports"), *latest = NULL, *dated = NULL, *p = NULL;
        struct report_input in = build();
        _cleanup_strv_free_ char **files = NULL;
        usec_t last;

        assert_int_equal(report_last_time(sub, &last), -ENOENT);
        assert_int_equal(mkdir_p(sub, 0755), 0);
        assert_int_equal(write_file_atomic(sub, "notes.txt", "x", 1, 0644), 0);
        assert_int_equal(write_file_atomic(sub, "cmkd-report-2026.json", "x", 1, 0644), 0);
        assert_int_equal(report_last_time(sub, &last), -ENOENT);

        for (int i = 0; i < 5; i++) {
                strv_free(files);
                files = NULL;
                in.generated = FX_T0 + (usec_t) i * USEC_PER_DAY;
                assert_int_equal(report_write(sub, &in, 3, &files), 0);
        }
        assert_int_equal(strv_length(files), 3);
        assert_string_equal(files[0], "cmkd-report-20261127T060000Z.json");
        assert_string_equal(files[1], "cmkd-report-20261127T060000Z.csv");
        assert_string_equal(files[2], "cmkd-report-20261127T060000Z.html");

        /* Three of each format kept, the newest; other files untouched. */
        for (int i = 0; i < 5; i++)
                for (int f = 0; f < _REPORT_FORMAT_MAX; f++) {
                        char name[REPORT_NAME_MAX];

                        mem_free(p);
                        p = path_join(sub, report_file_name(f, FX_T0 + (usec_t) i * USEC_PER_DAY, name,
                                                            sizeof name));
                        assert_int_equal(access(p, F_OK), i < 2 ? -1 : 0);
                }
        mem_free(p);
        p = path_join(sub, "notes.txt");
        assert_int_equal(access(p, F_OK), 0);
        mem_free(p);
        p = path_join(sub, "cmkd-report-2026.json");
        assert_int_equal(access(p, F_OK), 0);

        /* latest.* is a whole copy of the newest. */
        latest = path_join(sub, "latest.html");
        mem_free(p);
        p = NULL;
        assert_int_equal(read_file_bounded(latest, REPORT_FILE_MAX, &p, NULL), 0);
        dated = path_join(sub, "cmkd-report-20261127T060000Z.html");
        {
                _cleanup_free_ char *a = NULL;

                assert_int_equal(read_file_bounded(dated, REPORT_FILE_MAX, &a, NULL), 0);
                assert_string_equal(a, p);
        }
        assert_int_equal(report_last_time(sub, &last), 0);
        assert_true(last == FX_T0 + 4 * USEC_PER_DAY);

        /* Keep=0 keeps everything; a smaller Keep= prunes on the next write. */
        assert_int_equal(report_prune(sub, REPORT_JSON, 0), 0);
        assert_int_equal(report_prune(sub, REPORT_JSON, 1), 2);
        assert_int_equal(report_prune(sub, REPORT_JSON, 1), 0);
        assert_int_equal(report_prune(sub, _REPORT_FORMAT_MAX, 1), -EINVAL);
        assert_int_equal(report_write("/proc/cmkd-no", &in, 3, NULL) < 0, 1);
}

static void test_run_periods(void **state) {
        _cleanup_free_ char *sub = path_join(dir, "run"), *log = path_join(dir, "run-audit.log"), *p = NULL;
        _cleanup_strv_free_ char **files = NULL;
        struct report_input in = build();
        struct json_object *root;

        /* An action a day for ten days before FX_T0. */
        for (int i = 10; i > 0; i--) {
                struct audit_entry e = audit_entries[0];

                e.time = FX_T0 - (usec_t) i * USEC_PER_DAY;
                assert_int_equal(audit_append(log, &e), 0);
        }
        /* The first report covers the week before it. */
        assert_int_equal(report_run(sub, log, in.sweep, "dry-run", 0, FX_T0, &files), 0);
        p = path_join(sub, files[0]);
        {
                _cleanup_free_ char *text = NULL;

                assert_int_equal(read_file_bounded(p, REPORT_FILE_MAX, &text, NULL), 0);
                root = json_tokener_parse(text);
        }
        assert_non_null(root);
        assert_string_equal(str(root, "period.start"), "2026-11-16T06:00:00Z");
        assert_string_equal(str(root, "mode"), "dry-run");
        assert_int_equal(json_object_array_length(get(root, "actions")), 7);
        json_object_put(root);

        /* The next one starts where it ended. */
        strv_free(files);
        files = NULL;
        assert_int_equal(audit_append(log, &(struct audit_entry) { .time = FX_T0 + USEC_PER_HOUR,
                                                                    .cluster = fx.ids[0],
                                                                    .result = AUDIT_SUCCEEDED }),
                         0);
        assert_int_equal(report_run(sub, log, in.sweep, NULL, 0, FX_T0 + USEC_PER_DAY, &files), 0);
        mem_free(p);
        p = path_join(sub, "latest.json");
        {
                _cleanup_free_ char *text = NULL;

                assert_int_equal(read_file_bounded(p, REPORT_FILE_MAX, &text, NULL), 0);
                root = json_tokener_parse(text);
        }
        assert_string_equal(str(root, "period.start"), "2026-11-23T06:00:00Z");
        assert_int_equal(json_object_array_length(get(root, "actions")), 1);
        assert_true(json_object_is_type(get(root, "mode"), json_type_null));
        json_object_put(root);

        /* No audit log at all: an empty list, not an error. */
        assert_int_equal(report_run(sub, NULL, in.sweep, NULL, 0, FX_T0 + 2 * USEC_PER_DAY, NULL), 0);
}

static void test_key_in_use(void **state) {
        fx_init(&fx, 4);
        /* versionless: the current version */
        assert_ptr_equal(cluster_result_key_in_use(&fx.results[0]), &fx.keys[0]);
        /* pinned to an older version that was read */
        fx_pin(&fx, 1, true);
        assert_ptr_equal(cluster_result_key_in_use(&fx.results[1]), &fx.pinned[1]);
        /* pinned to the current version: the current one (no second read) */
        snprintf(fx.urls[2], sizeof fx.urls[2], "https://vault2.vault.azure.net/keys/key2/v0");
        assert_int_equal(keyurl_parse(fx.urls[2], &fx.results[2].verdict.keyurl), 0);
        assert_ptr_equal(cluster_result_key_in_use(&fx.results[2]), &fx.keys[2]);
        /* pinned to a version that could not be read: unknown, not the current one */
        snprintf(fx.urls[3], sizeof fx.urls[3], "https://vault3.vault.azure.net/keys/key3/gone");
        assert_int_equal(keyurl_parse(fx.urls[3], &fx.results[3].verdict.keyurl), 0);
        assert_null(cluster_result_key_in_use(&fx.results[3]));
        fx.results[3].verdict.has_keyurl = false;
        assert_null(cluster_result_key_in_use(&fx.results[3]));
}

static void test_alloc_failure(void **state) {
        struct report_input in = build();

        for (int f = 0; f < _REPORT_FORMAT_MAX; f++) {
                unsigned long n;

                for (n = 1;; n++) {
                        struct buf b;
                        int r;

                        buf_init(&b, REPORT_FILE_MAX);
                        mem_fail_at(n, false);
                        r = report_format(f, &in, &b);
                        mem_fail_at(0, false);
                        buf_done(&b);
                        if (r == 0)
                                break;
                        assert_int_equal(r, -ENOMEM);
                }
                assert_true(n > 2);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_managed_hsm_store),
                cmocka_unit_test(test_csv_formula_guard),
                cmocka_unit_test(test_html),
                cmocka_unit_test(test_sweep_that_did_not_run),
                cmocka_unit_test(test_write_and_prune),
                cmocka_unit_test(test_run_periods),
                cmocka_unit_test(test_key_in_use),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
