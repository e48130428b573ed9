/* SPDX-License-Identifier: MIT */
/* Alert de-duplication: fire, repeat, resolve, outages, missing data, update operations,
 * persistence and corrupt state files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "alertstate.h"
#include "fileio.h"
#include "mem.h"
#include "strv.h"
#include "sweep-fixture.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-alertstate.XXXXXX"
#include "tmpdir.h"

#define HOUR USEC_PER_HOUR

static const struct alertstate_conf conf = { .repeat_interval_usec = 4 * HOUR };
static struct fx fx;

/* Runs one sweep on *st (replacing it) and returns the events. */
static struct alert_events *step(struct alertstate **st, usec_t now) {
        struct alertstate *next = NULL;
        struct alert_events *ev = NULL;

        assert_int_equal(alertstate_update(*st, &fx.sweep, now, &conf, &next, &ev), 0);
        alertstate_free(*st);
        *st = next;
        return ev;
}

static const struct alert_event *only(const struct alert_events *ev) {
        assert_int_equal(ev->n_events, 1);
        return &ev->events[0];
}

static void assert_event(const struct alert_event *e, enum alert_event_type type, enum alert_kind kind,
                         int code, const char *cluster_name) {
        assert_int_equal(e->type, type);
        assert_int_equal(e->entry.kind, kind);
        if (kind == ALERT_FINDING)
                assert_int_equal(e->entry.code, code);
        if (cluster_name)
                assert_string_equal(e->entry.cluster_name, cluster_name);
        else
                assert_null(e->entry.cluster_id);
}

static void test_fire_repeat_resolve(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        struct alert_events *ev;
        const struct alert_event *e;

        fx_init(&fx, 3);
        fx_finding(&fx, 1, FINDING_KEY_EXPIRING, SEVERITY_WARNING);

        ev = step(&st, FX_T0);
        e = only(ev);
        assert_event(e, ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_KEY_EXPIRING, "c1");
        assert_ptr_equal(e->cluster, &fx.results[1]);
        assert_ptr_equal(e->finding, &fx.results[1].verdict.findings[0]);
        assert_int_equal(e->entry.severity, SEVERITY_WARNING);
        assert_int_equal(e->previous_severity, _SEVERITY_INVALID);
        assert_int_equal(e->entry.n_sent, 1);
        assert_true(e->entry.first_seen == FX_T0);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 1);

        /* Within the repeat interval: silent, but confirmed. */
        ev = step(&st, FX_T0 + 4 * HOUR - 1);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
        assert_true(st->entries[0].last_seen == FX_T0 + 4 * HOUR - 1);
        assert_true(st->entries[0].last_sent == FX_T0);

        /* At the interval: one reminder, counted; the next one 4h after it. */
        ev = step(&st, FX_T0 + 4 * HOUR);
        e = only(ev);
        assert_event(e, ALERT_EVENT_REPEAT, ALERT_FINDING, FINDING_KEY_EXPIRING, "c1");
        assert_int_equal(e->entry.n_sent, 2);
        assert_true(e->entry.first_seen == FX_T0);
        alert_events_free(ev);
        ev = step(&st, FX_T0 + 8 * HOUR - 1);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);

        /* Escalation is news: fire again with the old severity. */
        fx.results[1].verdict.findings[0].severity = SEVERITY_CRITICAL;
        ev = step(&st, FX_T0 + 8 * HOUR);
        e = only(ev);
        assert_event(e, ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_KEY_EXPIRING, "c1");
        assert_int_equal(e->entry.severity, SEVERITY_CRITICAL);
        assert_int_equal(e->previous_severity, SEVERITY_WARNING);
        assert_int_equal(e->entry.n_sent, 3);
        alert_events_free(ev);

        /* Cleared: one resolve, and the state forgets it. */
        fx.results[1].verdict.n_findings = 0;
        ev = step(&st, FX_T0 + 9 * HOUR);
        e = only(ev);
        assert_event(e, ALERT_EVENT_RESOLVE, ALERT_FINDING, FINDING_KEY_EXPIRING, "c1");
        assert_false(e->cluster_gone);
        assert_ptr_equal(e->cluster, &fx.results[1]);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 0);
        ev = step(&st, FX_T0 + 10 * HOUR);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
}

static void test_no_repeat_when_off(void **state) {
        const struct alertstate_conf never = { .repeat_interval_usec = 0 };
        _cleanup_(alertstate_freep) struct alertstate *st = NULL, *next = NULL;
        _cleanup_(alert_events_freep) struct alert_events *ev = NULL, *ev2 = NULL;

        fx_init(&fx, 1);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        assert_int_equal(alertstate_update(NULL, &fx.sweep, FX_T0, &never, &st, &ev), 0);
        assert_int_equal(ev->n_events, 1);
        assert_int_equal(alertstate_update(st, &fx.sweep, FX_T0 + 1000 * HOUR, &never, &next, &ev2), 0);
        assert_int_equal(ev2->n_events, 0);
}

static void test_sweep_failed_keeps_everything(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        struct alert_events *ev;

        fx_init(&fx, 2);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        alert_events_free(step(&st, FX_T0));

        /* No token, nothing listed: one fleet alert, not one per cluster; nothing resolves,
         * nothing repeats (nothing was confirmed). */
        fx.sweep.ran = false;
        fx.sweep.error = -EACCES;
        fx.sweep.n_clusters = 0;
        ev = step(&st, FX_T0 + 5 * HOUR);
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_SWEEP_FAILED, 0, NULL);
        assert_ptr_equal(ev->events[0].sweep, &fx.sweep);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 2);

        ev = step(&st, FX_T0 + 6 * HOUR);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
        ev = step(&st, FX_T0 + 9 * HOUR);
        assert_event(only(ev), ALERT_EVENT_REPEAT, ALERT_SWEEP_FAILED, 0, NULL);
        alert_events_free(ev);

        /* Back: the fleet alert resolves; c0's alert was never lost, and now repeats
         * because its last reminder is more than 4 hours old. */
        fx.sweep.ran = true;
        fx.sweep.n_clusters = 2;
        ev = step(&st, FX_T0 + 10 * HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_REPEAT, ALERT_FINDING, FINDING_KEY_EXPIRED, "c0");
        assert_true(ev->events[0].entry.first_seen == FX_T0);
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_SWEEP_FAILED, 0, NULL);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 1);
}

static void test_unknown_data_resolves_nothing(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        struct alert_events *ev;

        fx_init(&fx, 1);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_finding(&fx, 0, FINDING_VAULT_PURGE_PROTECTION_OFF, SEVERITY_WARNING);
        alert_events_free(step(&st, FX_T0));

        /* The key could not be read: key-expired is not confirmed, and not resolved. */
        fx.results[0].verdict.n_findings = 0;
        fx_unknown(&fx, 0, 503, "ServiceUnavailable");
        ev = step(&st, FX_T0 + HOUR);
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c0");
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 3);

        /* Readable again and healthy: all resolve. */
        fx_init(&fx, 1);
        ev = step(&st, FX_T0 + 2 * HOUR);
        assert_int_equal(ev->n_events, 3);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(ev->events[i].type, ALERT_EVENT_RESOLVE);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 0);
}

static void test_cluster_gone(void **state) {
        static const struct {
                const char *scope; /* failed listing, or NULL */
                unsigned unreadable;
                bool resolves;
        } cases[] = {
                { NULL, 0, true },
                { "/subscriptions/" FX_SUB, 0, false },
                { "/SUBSCRIPTIONS/" FX_SUB "/resourcegroups/RG", 0, false },
                { FX_SUB, 0, false },
                { "/subscriptions/" FX_SUB "/resourceGroups/other", 0, true },
                { "/subscriptions/99999999-2222-3333-4444-555555555555", 0, true },
                { "all subscriptions", 0, false },
                { NULL, 1, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(alertstate_freep) struct alertstate *st = NULL;
                char *scopes[] = { (char *) cases[i].scope, NULL };
                struct alert_events *ev;
                size_t n_resolves = 0;

                fx_init(&fx, 2);
                fx_finding(&fx, 1, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
                fx_finding(&fx, 1, FINDING_IDENTITY_DELETED, SEVERITY_CRITICAL);
                alert_events_free(step(&st, FX_T0));

                fx_remove(&fx, 1);
                fx.sweep.failed_scopes = cases[i].scope ? scopes : NULL;
                fx.sweep.n_unreadable = cases[i].unreadable;
                ev = step(&st, FX_T0 + HOUR);
                for (size_t j = 0; j < ev->n_events; j++) {
                        const struct alert_event *e = &ev->events[j];

                        if (e->entry.kind == ALERT_SWEEP_INCOMPLETE)
                                continue;
                        assert_event(e, ALERT_EVENT_RESOLVE, ALERT_FINDING, e->entry.code, "c1");
                        assert_true(e->cluster_gone);
                        assert_null(e->cluster);
                        n_resolves++;
                }
                assert_int_equal(n_resolves, cases[i].resolves ? 2 : 0);
                assert_int_equal(st->n_entries, (cases[i].resolves ? 0 : 2) +
                                                        (cases[i].scope || cases[i].unreadable ? 1 : 0));
                alert_events_free(ev);
        }
}

static void test_sweep_incomplete(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        char *scopes[] = { (char *) "/subscriptions/" FX_SUB, (char *) "/subscriptions/other", NULL };
        struct alert_events *ev;
        const struct alert_event *e;

        fx_init(&fx, 1);
        fx.sweep.failed_scopes = scopes;
        ev = step(&st, FX_T0);
        e = only(ev);
        assert_event(e, ALERT_EVENT_FIRE, ALERT_SWEEP_INCOMPLETE, 0, NULL);
        assert_int_equal(e->n_affected, 2);
        assert_true(strv_equal(e->affected, scopes));
        alert_events_free(ev);

        fx.sweep.failed_scopes = NULL;
        ev = step(&st, FX_T0 + HOUR);
        assert_event(only(ev), ALERT_EVENT_RESOLVE, ALERT_SWEEP_INCOMPLETE, 0, NULL);
        alert_events_free(ev);
}

static void test_outage_is_one_alert(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        struct alert_events *ev;
        const struct alert_event *e;

        /* 12 clusters cannot be read for one cause, 2 for another (below the threshold). */
        fx_init(&fx, 15);
        for (size_t i = 0; i < 12; i++)
                fx_unknown(&fx, i, 503, "ServiceUnavailable");
        fx_unknown(&fx, 12, 403, "Forbidden");
        fx_unknown(&fx, 13, 403, "Forbidden");

        ev = step(&st, FX_T0);
        assert_int_equal(ev->n_events, 3);
        e = &ev->events[0];
        assert_event(e, ALERT_EVENT_FIRE, ALERT_OUTAGE, 0, NULL);
        assert_string_equal(e->entry.subject, "HTTP 503 ServiceUnavailable");
        assert_int_equal(e->n_affected, 12);
        assert_int_equal(strv_length(e->affected), ALERTSTATE_AFFECTED_MAX);
        assert_string_equal(e->affected[0], "c0");
        assert_event(&ev->events[1], ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c12");
        assert_event(&ev->events[2], ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c13");
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 3);

        /* The outage ends: one resolve, no flood of per-cluster notices. */
        fx_init(&fx, 15);
        ev = step(&st, FX_T0 + HOUR);
        assert_int_equal(ev->n_events, 3);
        assert_event(&ev->events[0], ALERT_EVENT_RESOLVE, ALERT_OUTAGE, 0, NULL);
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c12");
        assert_event(&ev->events[2], ALERT_EVENT_RESOLVE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c13");
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 0);
}

static void test_outage_keeps_known_alerts(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        const struct alertstate_conf few = { .repeat_interval_usec = 4 * HOUR, .outage_min_clusters = 2 };
        struct alertstate *next;
        struct alert_events *ev;

        /* c0's check-unknown was alerted alone; then the same cause spreads: c0's alert is
         * kept quietly (not repeated, not resolved) while the outage alert speaks. */
        fx_init(&fx, 3);
        fx_unknown(&fx, 0, 0, NULL);
        assert_int_equal(alertstate_update(NULL, &fx.sweep, FX_T0, &few, &st, &ev), 0);
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_CHECK_UNKNOWN, "c0");
        alert_events_free(ev);

        fx_unknown(&fx, 1, 0, NULL);
        assert_int_equal(alertstate_update(st, &fx.sweep, FX_T0 + 5 * HOUR, &few, &next, &ev), 0);
        alertstate_free(st);
        st = next;
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_OUTAGE, 0, NULL);
        assert_string_equal(ev->events[0].entry.subject, strerror(EIO));
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 2);
}

static void test_cause(void **state) {
        static const struct {
                struct obs_status status;
                bool has_status;
                enum fact_kind fact;
                const char *cause;
        } table[] = {
                { { .http_status = 503, .error_code = "ServiceUnavailable" },
                  true,
                  FACT_KEY,
                  "HTTP 503 ServiceUnavailable" },
                { { .http_status = 403 }, true, FACT_VAULT, "HTTP 403" },
                { { .error_code = "Throttled" }, true, FACT_KEY, "Throttled" },
                { { .error = -ETIMEDOUT }, true, FACT_IDENTITY, "Connection timed out" },
                { {}, true, FACT_KEY, "unknown error" },
                { {}, false, FACT_ROLE_ASSIGNMENTS, NULL },
                { {}, false, FACT_NONE, "unknown error" },
        };
        char buf[ALERTSTATE_CAUSE_MAX], expect[ALERTSTATE_CAUSE_MAX];

        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                struct finding f = { .code = FINDING_CHECK_UNKNOWN,
                                     .fact = table[i].fact,
                                     .status = table[i].has_status ? &table[i].status : NULL };

                if (table[i].cause)
                        snprintf(expect, sizeof expect, "%s", table[i].cause);
                else
                        snprintf(expect, sizeof expect, "%s not known", fact_kind_to_string(table[i].fact));
                assert_string_equal(alertstate_cause(&f, buf, sizeof buf), expect);
        }
}

static void test_update_operations(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        const char *url = "https://vault0.vault.azure.net/keys/key0/new0";
        struct alert_events *ev;

        fx_init(&fx, 1);
        fx_pin(&fx, 0, true);
        fx_finding(&fx, 0, FINDING_KEY_VERSION_STALE, SEVERITY_WARNING);

        /* Dry-run: a proposal is a condition like any other. */
        fx_action(&fx, 0, OUTCOME_PROPOSED, REFUSAL_NONE, url, NULL);
        ev = step(&st, FX_T0);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[1], ALERT_EVENT_FIRE, ALERT_UPDATE_PROPOSED, 0, "c0");
        alert_events_free(ev);

        /* Refused outside the change window: the proposal resolves, the refusal fires. */
        fx_action(&fx, 0, OUTCOME_REFUSED, REFUSAL_OUTSIDE_WINDOW, url, NULL);
        ev = step(&st, FX_T0 + HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_FIRE, ALERT_UPDATE_REFUSED, 0, "c0");
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_UPDATE_PROPOSED, 0, "c0");
        alert_events_free(ev);

        /* Sent: announced once, however many sweeps it takes. */
        fx_action(&fx, 0, OUTCOME_IN_PROGRESS, REFUSAL_NONE, url, "op-1");
        ev = step(&st, FX_T0 + 2 * HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_ONCE, ALERT_UPDATE_STARTED, 0, "c0");
        assert_string_equal(ev->events[0].entry.subject, "op-1");
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_UPDATE_REFUSED, 0, "c0");
        alert_events_free(ev);
        ev = step(&st, FX_T0 + 3 * HOUR);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
        /* An in-flight refusal (our own update is followed) neither alerts nor forgets. */
        fx_action(&fx, 0, OUTCOME_REFUSED, REFUSAL_IN_FLIGHT, url, NULL);
        ev = step(&st, FX_T0 + 3 * HOUR + HOUR / 2);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);

        fx_action(&fx, 0, OUTCOME_SUCCEEDED, REFUSAL_NONE, url, "op-1");
        fx.results[0].verdict.n_findings = 0;
        ev = step(&st, FX_T0 + 5 * HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_ONCE, ALERT_UPDATE_SUCCEEDED, 0, "c0");
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_FINDING, FINDING_KEY_VERSION_STALE, "c0");
        alert_events_free(ev);

        /* Done: the memory of the operation goes quietly. */
        fx_init(&fx, 1);
        ev = step(&st, FX_T0 + 6 * HOUR);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
        assert_int_equal(st->n_entries, 0);

        /* A failed update: started, and a failure that repeats until it clears. */
        fx_action(&fx, 0, OUTCOME_FAILED, REFUSAL_NONE, url, "op-2");
        ev = step(&st, FX_T0 + 7 * HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_ONCE, ALERT_UPDATE_STARTED, 0, "c0");
        assert_event(&ev->events[1], ALERT_EVENT_FIRE, ALERT_UPDATE_FAILED, 0, "c0");
        alert_events_free(ev);
        ev = step(&st, FX_T0 + 11 * HOUR);
        assert_event(only(ev), ALERT_EVENT_REPEAT, ALERT_UPDATE_FAILED, 0, "c0");
        alert_events_free(ev);
}

/* The daemon announces an update when it sends the PUT, before Azure has named the
 * operation, and collects the outcome with the operation id: one start per attempt (the
 * attempt's start time, set by remediate.c, identifies it), also for a retry after a
 * failure. Seen in the demo (tests/demo) as a second update-started alert. */
static void test_update_started_before_operation_id(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        const char *url = "https://vault0.vault.azure.net/keys/key0";
        struct alert_events *ev;

        fx_init(&fx, 1);
        fx_pin(&fx, 0, true);
        fx_finding(&fx, 0, FINDING_KEY_VERSION_STALE, SEVERITY_WARNING);
        ev = step(&st, FX_T0);
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_FINDING, FINDING_KEY_VERSION_STALE, "c0");
        alert_events_free(ev);

        fx_action(&fx, 0, OUTCOME_IN_PROGRESS, REFUSAL_NONE, url, NULL);
        fx.results[0].action.attempt_started = FX_T0 + 1;
        ev = step(&st, FX_T0 + 1);
        assert_event(only(ev), ALERT_EVENT_ONCE, ALERT_UPDATE_STARTED, 0, "c0");
        alert_events_free(ev);

        fx_action(&fx, 0, OUTCOME_FAILED, REFUSAL_NONE, url, "op-1");
        fx.results[0].action.attempt_started = FX_T0 + 1;
        ev = step(&st, FX_T0 + 3);
        assert_event(only(ev), ALERT_EVENT_FIRE, ALERT_UPDATE_FAILED, 0, "c0");
        alert_events_free(ev);

        /* Retried: a new attempt, announced again, and its success only once. */
        fx_action(&fx, 0, OUTCOME_IN_PROGRESS, REFUSAL_NONE, url, NULL);
        fx.results[0].action.attempt_started = FX_T0 + 2 * HOUR;
        ev = step(&st, FX_T0 + 2 * HOUR);
        assert_int_equal(ev->n_events, 2);
        assert_event(&ev->events[0], ALERT_EVENT_ONCE, ALERT_UPDATE_STARTED, 0, "c0");
        assert_event(&ev->events[1], ALERT_EVENT_RESOLVE, ALERT_UPDATE_FAILED, 0, "c0");
        alert_events_free(ev);
        fx_action(&fx, 0, OUTCOME_SUCCEEDED, REFUSAL_NONE, url, "op-2");
        fx.results[0].action.attempt_started = FX_T0 + 2 * HOUR;
        ev = step(&st, FX_T0 + 2 * HOUR + 3);
        assert_event(only(ev), ALERT_EVENT_ONCE, ALERT_UPDATE_SUCCEEDED, 0, "c0");
        alert_events_free(ev);
        ev = step(&st, FX_T0 + 2 * HOUR + 300);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
}

static void test_restart_does_not_realert(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL, *loaded = NULL;
        _cleanup_free_ char *aside = NULL;
        struct alert_events *ev;
        char *scopes[] = { (char *) "/subscriptions/x", NULL };

        fx_init(&fx, 3);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_finding(&fx, 2, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        fx.clusters[2].name = (char *) "na\"me\\with\nodd <chars>";
        fx_unknown(&fx, 1, 429, "TooManyRequests");
        fx.sweep.failed_scopes = scopes;
        ev = step(&st, FX_T0);
        assert_int_equal(ev->n_events, 4);
        alert_events_free(ev);

        assert_int_equal(alertstate_save(st, dir), 0);
        assert_int_equal(alertstate_load(dir, FX_T0, &loaded, &aside), 0);
        assert_null(aside);
        assert_int_equal(loaded->n_entries, st->n_entries);
        for (size_t i = 0; i < st->n_entries; i++) {
                const struct alert_entry *a = &st->entries[i], *b = &loaded->entries[i];

                assert_int_equal(a->kind, b->kind);
                assert_int_equal(a->code, b->code);
                assert_int_equal(a->severity, b->severity);
                assert_true(streq_ptr(a->cluster_id, b->cluster_id));
                assert_true(streq_ptr(a->cluster_name, b->cluster_name));
                assert_true(streq_ptr(a->subject, b->subject));
                assert_true(a->first_seen == b->first_seen && a->last_sent == b->last_sent &&
                            a->last_seen == b->last_seen && a->n_sent == b->n_sent);
        }

        /* The restarted daemon sees the same fleet: nothing to say. */
        ev = step(&loaded, FX_T0 + HOUR);
        assert_int_equal(ev->n_events, 0);
        alert_events_free(ev);
}

static void write_state(const char *text) {
        _cleanup_free_ char *path = path_join(dir, ALERTSTATE_FILE);

        assert_int_equal(write_file_atomic(dir, ALERTSTATE_FILE, text, strlen(text), 0600), 0);
        assert_non_null(path);
}

static void test_corrupt_state_set_aside(void **state) {
        static const char *const bad[] = {
                "",
                "{",
                "{\"version\":1,\"alerts\":[{\"kind\":\"finding\",\"code\":\"key-expired\"",
                "garbage",
                "[]",
                "{\"version\":2,\"alerts\":[]}",
                "{\"version\":1}",
                "{\"version\":1,\"alerts\":{}}",
                "{\"version\":1,\"alerts\":[]} trailing",
                "{\"version\":1,\"alerts\":[{\"kind\":\"finding\",\"severity\":\"critical\",\"cluster\":\"/x\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
                "{\"version\":1,\"alerts\":[{\"kind\":\"outage\",\"severity\":\"warning\",\"cluster\":\"/x\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
                "{\"version\":1,\"alerts\":[{\"kind\":\"resolved\",\"severity\":\"warning\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
                "{\"version\":1,\"alerts\":[{\"kind\":\"sweep-failed\",\"severity\":\"bad\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
                "{\"version\":1,\"alerts\":[{\"kind\":\"sweep-failed\",\"severity\":\"warning\","
                "\"first_seen_usec\":-1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
                "{\"version\":1,\"alerts\":[{\"kind\":\"sweep-failed\",\"severity\":\"warning\","
                "\"first_seen_usec\":\"1\",\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1}]}",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(alertstate_freep) struct alertstate *st = NULL;
                _cleanup_free_ char *aside = NULL, *path = path_join(dir, ALERTSTATE_FILE), *kept = NULL;

                write_state(bad[i]);
                assert_int_equal(alertstate_load(dir, FX_T0 + i * USEC_PER_SEC, &st, &aside), 1);
                assert_non_null(st);
                assert_int_equal(st->n_entries, 0);
                assert_non_null(aside);
                assert_int_equal(access(path, F_OK), -1);
                /* The bad content stays for a human to look at. */
                assert_int_equal(read_file_bounded(aside, 4096, &kept, NULL), 0);
                assert_string_equal(kept, bad[i]);
                unlink(aside);
        }
}

static void test_unknown_entries_dropped(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        _cleanup_free_ char *aside = NULL;

        write_state(
                "{\"version\":1,\"alerts\":["
                "{\"kind\":\"finding\",\"code\":\"from-the-future\",\"severity\":\"critical\",\"cluster\":\"/x\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1},"
                "{\"kind\":\"new-kind\",\"severity\":\"critical\",\"cluster\":\"/x\","
                "\"first_seen_usec\":1,\"last_seen_usec\":1,\"last_sent_usec\":1,\"sent\":1},"
                "{\"kind\":\"sweep-failed\",\"severity\":\"warning\",\"future_field\":[1],"
                "\"first_seen_usec\":5,\"last_seen_usec\":6,\"last_sent_usec\":7,\"sent\":3}]}");
        assert_int_equal(alertstate_load(dir, FX_T0, &st, &aside), 0);
        assert_null(aside);
        assert_int_equal(st->n_entries, 1);
        assert_int_equal(st->entries[0].kind, ALERT_SWEEP_FAILED);
        assert_int_equal(st->entries[0].n_sent, 3);
        assert_true(st->entries[0].last_sent == 7);
}

static void test_missing_state_is_empty(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        _cleanup_free_ char *path = path_join(dir, ALERTSTATE_FILE);

        unlink(path);
        assert_int_equal(alertstate_load(dir, FX_T0, &st, NULL), 0);
        assert_int_equal(st->n_entries, 0);
}

static void test_alloc_failure(void **state) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        unsigned long n;

        fx_init(&fx, 6);
        for (size_t i = 0; i < 4; i++)
                fx_unknown(&fx, i, 503, "ServiceUnavailable");
        fx_finding(&fx, 4, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_action(&fx, 5, OUTCOME_FAILED, REFUSAL_NONE, "https://vault5.vault.azure.net/keys/key5/x", "op");
        alert_events_free(step(&st, FX_T0));
        fx.results[4].verdict.n_findings = 0;

        for (n = 1;; n++) {
                struct alertstate *next = NULL;
                struct alert_events *ev = NULL;
                int r;

                mem_fail_at(n, false);
                r = alertstate_update(st, &fx.sweep, FX_T0 + 5 * HOUR, &conf, &next, &ev);
                mem_fail_at(0, false);
                if (r == 0) {
                        assert_int_equal(ev->n_events, 3); /* outage and c5's failure repeat, c4 resolves */
                        alertstate_free(next);
                        alert_events_free(ev);
                        break;
                }
                assert_int_equal(r, -ENOMEM);
                assert_null(next);
                assert_null(ev);
        }
        assert_true(n > 5);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fire_repeat_resolve),
                cmocka_unit_test(test_no_repeat_when_off),
                cmocka_unit_test(test_sweep_failed_keeps_everything),
                cmocka_unit_test(test_unknown_data_resolves_nothing),
                cmocka_unit_test(test_cluster_gone),
                cmocka_unit_test(test_sweep_incomplete),
                cmocka_unit_test(test_outage_is_one_alert),
                cmocka_unit_test(test_outage_keeps_known_alerts),
                cmocka_unit_test(test_cause),
                cmocka_unit_test(test_update_operations),
                cmocka_unit_test(test_update_started_before_operation_id),
                cmocka_unit_test(test_restart_does_not_realert),
                cmocka_unit_test(test_corrupt_state_set_aside),
                cmocka_unit_test(test_unknown_entries_dropped),
                cmocka_unit_test(test_missing_state_is_empty),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}
