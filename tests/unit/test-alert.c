/* SPDX-License-Identifier: MIT */
/* Journal alerts: every field and PRIORITY through a capturing sink, the MESSAGE_ID table,
 * and systemd/cmkd.catalog against that table (run from the source tree, or set
 * CMKD_SRCDIR). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <cmocka.h>

#include "alert.h"
#include "alertstate.h"
#include "fileio.h"
#include "mem.h"
#include "strv.h"
#include "sweep-fixture.h"
#include "timeutil.h"

#define HOUR USEC_PER_HOUR
#define ENTRIES_MAX 64

/* What the sink received: entries of "FIELD=value" strings. */
static char **entries[ENTRIES_MAX];
static size_t n_entries;
static int sink_result;
/* Every field name any test made alert.c send: the catalog may only refer to these. */
static char **seen_fields;

static int capture(const struct iovec *iov, size_t n, void *userdata) {
        char **e = NULL;

        assert_ptr_equal(userdata, &n_entries);
        assert_true(n_entries < ENTRIES_MAX);
        for (size_t i = 0; i < n; i++) {
                char *s = mem_strndup(iov[i].iov_base, iov[i].iov_len), *eq;

                assert_non_null(s);
                eq = strchr(s, '=');
                assert_non_null(eq);
                *eq = 0;
                if (!strv_contains(seen_fields, s))
                        assert_int_equal(strv_extend(&seen_fields, s), 0);
                *eq = '=';
                assert_int_equal(strv_consume(&e, s), 0);
        }
        entries[n_entries++] = e;
        return sink_result;
}

static int count_only(const struct iovec *iov, size_t n, void *userdata) {
        (*(size_t *) userdata)++;
        return 0;
}

static void reset(void) {
        for (size_t i = 0; i < n_entries; i++)
                entries[i] = strv_free(entries[i]);
        n_entries = 0;
        sink_result = 0;
}

/* The value of name in entry i; fails the test if the field is there twice. */
static const char *field(size_t i, const char *name) {
        const char *found = NULL;
        size_t l = strlen(name);

        assert_true(i < n_entries);
        STRV_FOREACH(f, entries[i])
                if (strncmp(*f, name, l) == 0 && (*f)[l] == '=') {
                        assert_null(found);
                        found = *f + l + 1;
                }
        return found;
}

static void assert_field(size_t i, const char *name, const char *value) {
        const char *v = field(i, name);

        if (!v)
                fail_msg("field %s missing", name);
        assert_string_equal(v, value);
}

static bool contains(const char *haystack, const char *needle) {
        return haystack && strstr(haystack, needle);
}

static struct fx fx;
static const struct alertstate_conf conf = { .repeat_interval_usec = 4 * HOUR };

/* One sweep through alertstate and out through alert.c. */
static void run(struct alertstate **st, usec_t now) {
        _cleanup_(alert_events_freep) struct alert_events *ev = NULL;
        struct alertstate *next = NULL;

        assert_int_equal(alertstate_update(*st, &fx.sweep, now, &conf, &next, &ev), 0);
        alertstate_free(*st);
        *st = next;
        reset();
        assert_int_equal(alert_emit_events(ev, now), (int) ev->n_events);
        assert_int_equal(n_entries, ev->n_events);
}

static void assert_head(size_t i, enum alert_kind kind, int code, int priority, const char *event) {
        char p[8];

        snprintf(p, sizeof p, "%d", priority);
        assert_field(i, "MESSAGE_ID", alert_message_id(kind, code));
        assert_field(i, "PRIORITY", p);
        assert_field(i, "SYSLOG_IDENTIFIER", "cmkd");
        assert_non_null(field(i, "MESSAGE"));
        if (event)
                assert_field(i, "CMKD_EVENT", event);
}

static void test_message_ids(void **state) {
        size_t n = alert_message_id_count();
        _cleanup_strv_free_ char **seen = NULL;

        assert_int_equal(n, _FINDING_MAX + _ALERT_KIND_MAX - 1);
        for (size_t i = 0; i < n; i++) {
                const char *name = NULL, *id = alert_message_id_nth(i, &name);

                assert_non_null(id);
                assert_non_null(name);
                assert_int_equal(strlen(id), 32);
                for (const char *c = id; *c; c++)
                        assert_true(isxdigit((unsigned char) *c) && !isupper((unsigned char) *c));
                assert_false(strv_contains(seen, id));
                assert_int_equal(strv_extend(&seen, id), 0);
        }
        assert_null(alert_message_id_nth(n, &(const char *) { NULL }));
        for (int c = 0; c < _FINDING_MAX; c++)
                assert_true(strv_contains(seen, alert_message_id(ALERT_FINDING, c)));
        for (int k = 1; k < _ALERT_KIND_MAX; k++) {
                assert_true(strv_contains(seen, alert_message_id(k, _FINDING_INVALID)));
                assert_int_equal(alert_kind_from_string(alert_kind_to_string(k)), k);
        }
        assert_null(alert_message_id(ALERT_FINDING, _FINDING_MAX));
        assert_null(alert_message_id(_ALERT_KIND_MAX, 0));
        assert_int_equal(alert_kind_from_string("nope"), _ALERT_KIND_INVALID);
}

static void test_priorities(void **state) {
        static const struct {
                enum alert_kind kind;
                enum severity severity;
                int priority;
        } table[] = {
                { ALERT_FINDING, SEVERITY_CRITICAL, LOG_CRIT },
                { ALERT_FINDING, SEVERITY_WARNING, LOG_WARNING },
                { ALERT_FINDING, SEVERITY_INFO, LOG_INFO },
                { ALERT_RESOLVED, SEVERITY_CRITICAL, LOG_NOTICE },
                { ALERT_UPDATE_FAILED, SEVERITY_WARNING, LOG_ERR },
                { ALERT_UPDATE_REFUSED, SEVERITY_WARNING, LOG_WARNING },
                { ALERT_UPDATE_STARTED, SEVERITY_INFO, LOG_NOTICE },
                { ALERT_SWEEP_FAILED, SEVERITY_WARNING, LOG_ERR },
                { ALERT_OUTAGE, SEVERITY_WARNING, LOG_WARNING },
                { ALERT_REPORT_WRITTEN, SEVERITY_INFO, LOG_INFO },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                assert_int_equal(alert_priority(table[i].kind, table[i].severity), table[i].priority);
}

static void test_finding_lifecycle(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        char text[FINDING_MESSAGE_MAX], when[RFC3339_MAX], first[RFC3339_MAX];
        struct finding *f;
        const char *m;

        fx_init(&fx, 2);
        fx_pin(&fx, 1, true);
        f = fx_finding(&fx, 1, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        f->when = FX_T0 - USEC_PER_DAY;
        f->version = "old";
        run(&st, FX_T0);
        assert_int_equal(n_entries, 1);
        assert_head(0, ALERT_FINDING, FINDING_KEY_EXPIRED, LOG_CRIT, "fire");
        m = field(0, "MESSAGE");
        finding_describe(f, &fx.results[1].obs, FX_T0, text, sizeof text);
        assert_true(startswith(m, "c1: "));
        assert_true(contains(m, text));
        assert_field(0, "CMKD_ALERT", "finding");
        assert_field(0, "CMKD_FINDING", finding_to_string(FINDING_KEY_EXPIRED));
        assert_field(0, "CMKD_SEVERITY", severity_to_string(SEVERITY_CRITICAL));
        assert_field(0, "CMKD_CLUSTER", fx.ids[1]);
        assert_field(0, "CMKD_CLUSTER_NAME", "c1");
        assert_field(0, "CMKD_SUBSCRIPTION", FX_SUB);
        assert_field(0, "CMKD_RESOURCE_GROUP", "rg");
        assert_field(0, "CMKD_LOCATION", "westeurope");
        assert_field(0, "CMKD_CLUSTER_STATUS", "Ready");
        assert_field(0, "CMKD_PROVISIONING_STATE", "Succeeded");
        assert_field(0, "CMKD_KEY_URL", "https://vault1.vault.azure.net/keys/key1/old1");
        assert_field(0, "CMKD_VAULT", "vault1.vault.azure.net");
        assert_field(0, "CMKD_KEY_STORE", "vault");
        assert_field(0, "CMKD_KEY_NAME", "key1");
        assert_field(0, "CMKD_KEY_VERSION", "old");
        assert_field(0, "CMKD_KEY_CURRENT_VERSION", "v0");
        assert_field(0, "CMKD_IDENTITY", fx.clusters[1].kek_identity_id);
        assert_field(0, "CMKD_KEY_EXPIRES", rfc3339_format(when, sizeof when, f->when));
        assert_field(0, "CMKD_FIRST_SEEN", rfc3339_format(first, sizeof first, FX_T0));
        assert_field(0, "CMKD_REPEAT", "0");
        assert_null(field(0, "CMKD_ACTION"));
        assert_null(field(0, "CMKD_PREVIOUS_SEVERITY"));

        run(&st, FX_T0 + HOUR);
        assert_int_equal(n_entries, 0);
        run(&st, FX_T0 + 4 * HOUR);
        assert_int_equal(n_entries, 1);
        assert_head(0, ALERT_FINDING, FINDING_KEY_EXPIRED, LOG_CRIT, "repeat");
        assert_true(startswith(field(0, "MESSAGE"), "Still unresolved since 2026-11-23T06:00:00Z: c1: "));
        assert_field(0, "CMKD_REPEAT", "1");
        assert_field(0, "CMKD_FIRST_SEEN", first);

        f->severity = SEVERITY_WARNING; /* (not realistic for expired; tests the change) */
        run(&st, FX_T0 + 5 * HOUR);
        assert_head(0, ALERT_FINDING, FINDING_KEY_EXPIRED, LOG_WARNING, "fire");
        assert_field(0, "CMKD_PREVIOUS_SEVERITY", severity_to_string(SEVERITY_CRITICAL));
        assert_true(startswith(field(0, "MESSAGE"), "Now warning (was critical): c1: "));

        fx.results[1].verdict.n_findings = 0;
        run(&st, FX_T0 + 7 * HOUR);
        assert_int_equal(n_entries, 1);
        assert_head(0, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(0, "CMKD_ALERT", "finding");
        assert_field(0, "CMKD_FINDING", finding_to_string(FINDING_KEY_EXPIRED));
        assert_field(0, "CMKD_CLUSTER", fx.ids[1]);
        assert_field(0, "CMKD_RESOLVE_REASON", "cleared");
        assert_field(0, "CMKD_DURATION_SEC", "25200");
        assert_true(startswith(field(0, "MESSAGE"), "c1: resolved: "));
        assert_null(field(0, "CMKD_REPEAT"));
}

static void test_every_finding(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;

        fx_init(&fx, 1);
        for (int c = 0; c < _FINDING_MAX; c++) {
                struct finding *f = c == FINDING_CHECK_UNKNOWN
                                            ? fx_unknown(&fx, 0, 500, "InternalServerError")
                                            : fx_finding(&fx, 0, c, c % _SEVERITY_MAX);

                f->severity = c % _SEVERITY_MAX;
                f->when = FX_T0 + (usec_t) c * USEC_PER_DAY;
        }
        run(&st, FX_T0);
        assert_int_equal(n_entries, _FINDING_MAX);
        for (int c = 0; c < _FINDING_MAX; c++) {
                assert_head(c, ALERT_FINDING, c, alert_priority(ALERT_FINDING, c % _SEVERITY_MAX), "fire");
                assert_field(c, "CMKD_FINDING", finding_to_string(c));
                assert_field(c, "CMKD_SEVERITY", severity_to_string(c % _SEVERITY_MAX));
                assert_field(c, "CMKD_CLUSTER", fx.ids[0]);
        }
        assert_field(FINDING_KEY_NOT_YET_VALID, "CMKD_KEY_NOT_BEFORE", "2026-11-27T06:00:00Z");
        assert_field(FINDING_KEY_TOO_OLD, "CMKD_KEY_CREATED", "2026-12-01T06:00:00Z");
        assert_field(FINDING_KEY_EXPIRING, "CMKD_KEY_EXPIRES", "2026-11-30T06:00:00Z");
}

/* A cluster whose key is in a Managed HSM: the alert names the HSM host and the store type, and
 * the message the HSM's own commands. */
static void test_managed_hsm_fields(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;

        fx_init(&fx, 1);
        snprintf(fx.urls[0], sizeof fx.urls[0], "https://hsm0.managedhsm.azure.net/keys/key0");
        assert_int_equal(keyurl_parse(fx.urls[0], &fx.keyurls[0]), 0);
        fx_finding(&fx, 0, FINDING_KEY_DISABLED, SEVERITY_CRITICAL)->version = "v0";
        run(&st, FX_T0);
        assert_int_equal(n_entries, 1);
        assert_field(0, "CMKD_VAULT", "hsm0.managedhsm.azure.net");
        assert_field(0, "CMKD_KEY_STORE", "managed-hsm");
        assert_field(0, "CMKD_KEY_URL", "https://hsm0.managedhsm.azure.net/keys/key0");
        assert_true(contains(field(0, "MESSAGE"), "--hsm-name hsm0"));
}

static void test_cluster_gone(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;

        fx_init(&fx, 2);
        fx_finding(&fx, 1, FINDING_IDENTITY_DELETED, SEVERITY_CRITICAL);
        run(&st, FX_T0);
        fx_remove(&fx, 1);
        run(&st, FX_T0 + HOUR);
        assert_int_equal(n_entries, 1);
        assert_head(0, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(0, "CMKD_RESOLVE_REASON", "cluster-gone");
        assert_field(0, "CMKD_CLUSTER", fx.ids[1]);
        assert_field(0, "CMKD_CLUSTER_NAME", "c1");
        assert_field(0, "CMKD_SUBSCRIPTION", FX_SUB);
        assert_true(contains(field(0, "MESSAGE"), "no longer listed"));
}

static void test_check_unknown_and_outage(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;

        fx_init(&fx, 6);
        fx_unknown(&fx, 0, 403, "Forbidden");
        for (size_t i = 1; i < 6; i++)
                fx_unknown(&fx, i, 503, "ServiceUnavailable");
        run(&st, FX_T0);
        assert_int_equal(n_entries, 2);

        assert_head(0, ALERT_OUTAGE, 0, LOG_WARNING, "fire");
        assert_field(0, "CMKD_ALERT", "outage");
        assert_field(0, "CMKD_CAUSE", "HTTP 503 ServiceUnavailable");
        assert_field(0, "CMKD_AFFECTED", "5");
        assert_field(0, "CMKD_AFFECTED_CLUSTERS", "c1, c2, c3, c4, c5");
        assert_field(0, "CMKD_SEVERITY", "warning");
        assert_null(field(0, "CMKD_CLUSTER"));
        assert_true(startswith(field(0, "MESSAGE"), "5 clusters could not be checked"));

        assert_head(1, ALERT_FINDING, FINDING_CHECK_UNKNOWN, LOG_WARNING, "fire");
        assert_field(1, "CMKD_CLUSTER_NAME", "c0");
        assert_field(1, "CMKD_FACT", fact_kind_to_string(FACT_KEY));
        assert_field(1, "CMKD_CAUSE", "HTTP 403 Forbidden");
        assert_field(1, "CMKD_HTTP_STATUS", "403");
        assert_field(1, "CMKD_ERROR_CODE", "Forbidden");

        fx_init(&fx, 6);
        run(&st, FX_T0 + HOUR);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(0, "CMKD_ALERT", "outage");
        assert_true(startswith(field(0, "MESSAGE"), "Resolved: outage: HTTP 503 ServiceUnavailable"));
}

static void test_fleet(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        char *scopes[] = { (char *) "/subscriptions/a", (char *) "/subscriptions/b", NULL };

        fx_init(&fx, 1);
        fx.sweep.ran = false;
        fx.sweep.n_clusters = 0;
        fx.sweep.error = -EACCES;
        fx.sweep.error_message = (char *) "no token: IMDS answered 400 (identity not found)";
        run(&st, FX_T0);
        assert_int_equal(n_entries, 1);
        assert_head(0, ALERT_SWEEP_FAILED, 0, LOG_ERR, "fire");
        assert_field(0, "CMKD_ERROR_MESSAGE", fx.sweep.error_message);
        assert_field(0, "CMKD_ERROR", strerror(EACCES));
        assert_true(contains(field(0, "MESSAGE"), fx.sweep.error_message));

        fx_init(&fx, 1);
        fx.sweep.failed_scopes = scopes;
        fx.sweep.n_unreadable = 2;
        run(&st, FX_T0 + HOUR);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_SWEEP_INCOMPLETE, 0, LOG_WARNING, "fire");
        assert_field(0, "CMKD_AFFECTED", "2");
        assert_field(0, "CMKD_FAILED_SCOPES", "/subscriptions/a, /subscriptions/b");
        assert_field(0, "CMKD_UNREADABLE", "2");
        assert_head(1, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(1, "CMKD_ALERT", "sweep-failed");
}

static void test_updates(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        const char *url = "https://vault0.vault.azure.net/keys/key0";
        const char *m;

        fx_init(&fx, 1);
        fx_pin(&fx, 0, true);
        fx_action(&fx, 0, OUTCOME_PROPOSED, REFUSAL_NONE, url, NULL);
        run(&st, FX_T0);
        assert_head(0, ALERT_UPDATE_PROPOSED, 0, LOG_NOTICE, "fire");
        assert_field(0, "CMKD_ACTION", "update");
        assert_field(0, "CMKD_OUTCOME", action_outcome_to_string(OUTCOME_PROPOSED));
        assert_field(0, "CMKD_OLD_KEY_URL", "https://vault0.vault.azure.net/keys/key0/old0");
        assert_field(0, "CMKD_NEW_KEY_URL", url);
        m = field(0, "MESSAGE");
        assert_true(contains(m, "dry-run"));
        assert_true(contains(
                m, "az rest --method PUT --url 'https://management.azure.com/subscriptions/" FX_SUB));
        assert_true(contains(m, "?api-version=2025-09-01'"));

        /* Another cloud: the command names its endpoint. */
        alert_set_arm_endpoint("https://management.chinacloudapi.cn");
        fx_action(&fx, 0, OUTCOME_REFUSED, REFUSAL_CLUSTER_NOT_READY, url, NULL);
        fx.clusters[0].cluster_status = (char *) "Inaccessible";
        run(&st, FX_T0 + HOUR);
        alert_set_arm_endpoint(NULL);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_UPDATE_REFUSED, 0, LOG_WARNING, "fire");
        assert_field(0, "CMKD_REFUSAL", refusal_to_string(REFUSAL_CLUSTER_NOT_READY));
        assert_field(0, "CMKD_CLUSTER_STATUS", "Inaccessible");
        m = field(0, "MESSAGE");
        assert_true(contains(m, refusal_describe(REFUSAL_CLUSTER_NOT_READY)));
        assert_true(contains(m, "https://management.chinacloudapi.cn/subscriptions/"));
        assert_head(1, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(1, "CMKD_ALERT", "update-proposed");

        fx.clusters[0].cluster_status = (char *) "Ready";
        fx_action(&fx, 0, OUTCOME_SUCCEEDED, REFUSAL_NONE, url, "6b1e2f0a-op");
        run(&st, FX_T0 + 2 * HOUR);
        assert_int_equal(n_entries, 3);
        assert_head(0, ALERT_UPDATE_STARTED, 0, LOG_NOTICE, "once");
        assert_field(0, "CMKD_OPERATION_ID", "6b1e2f0a-op");
        assert_true(contains(field(0, "MESSAGE"), "operation 6b1e2f0a-op"));
        assert_head(1, ALERT_UPDATE_SUCCEEDED, 0, LOG_NOTICE, "once");
        assert_field(1, "CMKD_NEW_KEY_URL", url);
        assert_field(1, "CMKD_OUTCOME", "succeeded");
        assert_head(2, ALERT_RESOLVED, 0, LOG_NOTICE, "resolve");
        assert_field(2, "CMKD_ALERT", "update-refused");

        fx_init(&fx, 1);
        fx_pin(&fx, 0, true);
        fx_action(&fx, 0, OUTCOME_FAILED, REFUSAL_NONE, url, NULL);
        fx.results[0].action.error = -EIO;
        fx.results[0].action.error_code = (char *) "InvalidKeyVaultKeyUrl";
        fx.results[0].action.error_message = (char *) "The key URL is not valid.";
        run(&st, FX_T0 + 3 * HOUR);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_UPDATE_STARTED, 0, LOG_NOTICE, "once");
        assert_null(field(0, "CMKD_OPERATION_ID"));
        assert_head(1, ALERT_UPDATE_FAILED, 0, LOG_ERR, "fire");
        assert_field(1, "CMKD_ERROR_CODE", "InvalidKeyVaultKeyUrl");
        assert_field(1, "CMKD_ERROR_MESSAGE", "The key URL is not valid.");
        assert_field(1, "CMKD_ERROR", strerror(EIO));
        m = field(1, "MESSAGE");
        assert_true(contains(m, "failed: InvalidKeyVaultKeyUrl (The key URL is not valid.)"));
        assert_true(contains(m, "still uses https://vault0.vault.azure.net/keys/key0/old0"));

        /* Given up waiting (UpdateTimeoutSec=): the same alert, but it does not claim to know
         * the outcome. A fresh state: the failure above would still be active. */
        st = alertstate_free(st);
        fx_init(&fx, 1);
        fx_pin(&fx, 0, true);
        fx_action(&fx, 0, OUTCOME_FAILED, REFUSAL_NONE, url, "9d0c-op");
        fx.results[0].action.error = -ETIME;
        fx.results[0].action.error_code = (char *) "OperationTimedOut";
        fx.results[0].action.error_message =
                (char *) "operation 9d0c-op did not end within UpdateTimeoutSec=30min";
        run(&st, FX_T0 + 4 * HOUR);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_UPDATE_STARTED, 0, LOG_NOTICE, "once");
        assert_head(1, ALERT_UPDATE_FAILED, 0, LOG_ERR, "fire");
        assert_field(1, "CMKD_ERROR_CODE", "OperationTimedOut");
        assert_field(1, "CMKD_OPERATION_ID", "9d0c-op");
        assert_field(1, "CMKD_ERROR", strerror(ETIME));
        m = field(1, "MESSAGE");
        assert_true(contains(m, "gave up waiting for the key update to https://vault0.vault.azure.net/keys/key0"));
        assert_true(contains(m, "OperationTimedOut (operation 9d0c-op did not end within "
                                "UpdateTimeoutSec=30min)"));
        assert_true(contains(m, "may still complete in Azure"));
        assert_false(contains(m, "failed:"));
}

static void test_report_and_daemon(void **state) {
        char *files[] = { (char *) "cmkd-report-20261123T060000Z.json",
                          (char *) "cmkd-report-20261123T060000Z.html", NULL };

        fx_init(&fx, 3);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_finding(&fx, 1, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        reset();
        assert_int_equal(alert_emit_report_written("/var/lib/cmkd/reports", files, &fx.sweep, FX_T0), 0);
        assert_head(0, ALERT_REPORT_WRITTEN, 0, LOG_INFO, NULL);
        assert_field(0, "CMKD_REPORT_DIRECTORY", "/var/lib/cmkd/reports");
        assert_field(0, "CMKD_REPORT_FILES",
                     "cmkd-report-20261123T060000Z.json, cmkd-report-20261123T060000Z.html");
        assert_field(0, "CMKD_CLUSTERS", "3");
        assert_field(0, "CMKD_CRITICAL", "1");
        assert_field(0, "CMKD_WARNING", "1");

        reset();
        assert_int_equal(alert_emit_daemon(ALERT_DAEMON_STARTED, "enforce", NULL), 0);
        assert_int_equal(alert_emit_daemon(ALERT_DAEMON_STOPPED, NULL, "SIGTERM"), 0);
        assert_int_equal(alert_emit_daemon(ALERT_FINDING, NULL, NULL), -EINVAL);
        assert_int_equal(n_entries, 2);
        assert_head(0, ALERT_DAEMON_STARTED, 0, LOG_INFO, NULL);
        assert_field(0, "CMKD_MODE", "enforce");
        assert_field(0, "CMKD_VERSION", CMKD_VERSION);
        assert_head(1, ALERT_DAEMON_STOPPED, 0, LOG_INFO, NULL);
        assert_field(1, "CMKD_DETAIL", "SIGTERM");
        assert_string_equal(field(1, "MESSAGE"), "cmkd stopped: SIGTERM.");
}

static void test_long_values_cut_on_utf8(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        char long_message[5001];
        const char *v;
        size_t l;

        /* 2500 two-byte characters: a cut at 2048 bytes lands between two of them. */
        for (size_t i = 0; i < 5000; i += 2)
                memcpy(long_message + i, "\xc3\xa9", 2);
        long_message[5000] = 0;
        fx_init(&fx, 1);
        fx_action(&fx, 0, OUTCOME_FAILED, REFUSAL_NONE, "https://vault0.vault.azure.net/keys/key0/x", "op");
        fx.results[0].action.error_message = long_message;
        long_message[2047] = 'x'; /* make the 2048th byte a lead byte's neighbour */
        run(&st, FX_T0);
        v = field(1, "CMKD_ERROR_MESSAGE");
        l = strlen(v);
        assert_true(l <= 2048 && l > 2000);
        assert_true(((unsigned char) v[l - 1] & 0xc0) != 0xc0); /* never ends on a lead byte */
        if ((unsigned char) v[l - 1] >= 0x80)
                assert_true((unsigned char) v[l - 2] == 0xc3);
}

static void test_sink_errors_and_oom(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        _cleanup_(alert_events_freep) struct alert_events *ev = NULL;
        unsigned long n;

        fx_init(&fx, 3);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_finding(&fx, 1, FINDING_VAULT_DELETED, SEVERITY_CRITICAL);
        assert_int_equal(alertstate_update(NULL, &fx.sweep, FX_T0, &conf, &st, &ev), 0);
        assert_int_equal(ev->n_events, 2);

        /* journald away: every event is still tried, the first error is returned. */
        reset();
        sink_result = -ECONNREFUSED;
        assert_int_equal(alert_emit_events(ev, FX_T0), -ECONNREFUSED);
        assert_int_equal(n_entries, 2);

        /* The capturing sink allocates; count with one that does not. */
        reset();
        alert_set_sink(count_only, &n_entries);
        for (n = 1;; n++) {
                int r;

                n_entries = 0;
                mem_fail_at(n, false);
                r = alert_emit_event(&ev->events[0], FX_T0);
                mem_fail_at(0, false);
                if (r == 0) {
                        assert_int_equal(n_entries, 1);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
                assert_int_equal(n_entries, 0); /* nothing half-sent */
        }
        alert_set_sink(capture, &n_entries);
        assert_true(n > 10);

        /* An event of a cluster without the cluster is a programming error, caught. */
        ev->events[0].cluster = NULL;
        assert_int_equal(alert_emit_event(&ev->events[0], FX_T0), -EINVAL);
}

static void test_catalog(void **state) {
        const char *srcdir = getenv("CMKD_SRCDIR") ?: ".";
        _cleanup_free_ char *path = path_join(srcdir, "systemd/cmkd.catalog"), *text = NULL;
        _cleanup_strv_free_ char **ids = NULL, **lines = NULL;
        size_t n_ids = alert_message_id_count();

        assert_int_equal(read_file_bounded(path, 1024 * 1024, &text, NULL), 0);
        /* Split keeping empty lines: the blank line ends an entry's header. */
        for (char *p = text, *nl; *p; p = nl + 1) {
                nl = strchrnul(p, '\n');
                assert_int_equal(strv_consume(&lines, mem_strndup(p, (size_t) (nl - p))), 0);
                if (!*nl)
                        break;
        }

        for (size_t i = 0; lines[i];) {
                const char *id = startswith(lines[i], "-- ");
                bool subject = false, defined_by = false, support = false, advice = false;
                size_t body = 0;

                if (!id) {
                        i++;
                        continue;
                }
                assert_int_equal(strlen(id), 32);
                assert_false(strv_contains(ids, id));
                assert_int_equal(strv_extend(&ids, id), 0);
                for (i++; lines[i] && lines[i][0]; i++) {
                        subject = subject || startswith(lines[i], "Subject: ");
                        defined_by = defined_by || streq(lines[i], "Defined-By: cmkd");
                        support = support || startswith(lines[i], "Support: ");
                }
                for (; lines[i] && !startswith(lines[i], "-- "); i++) {
                        body += strlen(lines[i]);
                        advice = advice || strstr(lines[i], "What to do") ||
                                 strstr(lines[i], "Nothing to do");
                        /* Every @FIELD@ the text uses is one that cmkd sends. */
                        for (const char *a = strchr(lines[i], '@'); a; a = strchr(a, '@')) {
                                size_t l = strspn(a + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
                                _cleanup_free_ char *name = NULL;

                                if (l == 0 || a[1 + l] != '@') { /* "--body @file" */
                                        a++;
                                        continue;
                                }
                                name = mem_strndup(a + 1, l);
                                if (!strv_contains(seen_fields, name))
                                        fail_msg("catalog entry %s refers to @%s@, which cmkd never sends",
                                                 id, name);
                                a += l + 2;
                        }
                }
                if (!subject || !defined_by || !support || body < 40 || !advice)
                        fail_msg(
                                "catalog entry %s lacks Subject, Defined-By: cmkd, Support or a body that says"
                                " what to do",
                                id);
        }

        /* One to one with the code's table. */
        assert_int_equal(strv_length(ids), n_ids);
        for (size_t i = 0; i < n_ids; i++) {
                const char *name, *id = alert_message_id_nth(i, &name);

                if (!strv_contains(ids, id))
                        fail_msg("MESSAGE_ID %s (%s) is not in the catalog", id, name);
        }
}

static int setup(void **state) {
        alert_set_sink(capture, &n_entries);
        return 0;
}

static int teardown(void **state) {
        reset();
        seen_fields = strv_free(seen_fields);
        alert_set_sink(NULL, NULL);
        return 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_message_ids),
                cmocka_unit_test(test_priorities),
                cmocka_unit_test(test_finding_lifecycle),
                cmocka_unit_test(test_every_finding),
                cmocka_unit_test(test_managed_hsm_fields),
                cmocka_unit_test(test_cluster_gone),
                cmocka_unit_test(test_check_unknown_and_outage),
                cmocka_unit_test(test_fleet),
                cmocka_unit_test(test_updates),
                cmocka_unit_test(test_report_and_daemon),
                cmocka_unit_test(test_long_values_cut_on_utf8),
                cmocka_unit_test(test_sink_errors_and_oom),
                /* Last: it checks the catalog against every field the tests above saw. */
                cmocka_unit_test(test_catalog),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
