/* SPDX-License-Identifier: MIT */
/* The STATUS= line, case by case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "status.h"
#include "sweep-fixture.h"

static struct fx fx;

/* FX_T0 + 12s is when the fixture's sweep finished: 06:00 UTC. */
#define NOW (FX_T0 + 60 * USEC_PER_SEC)

static void check(const struct sweep_result *s, bool running, usec_t next, const char *expect) {
        char buf[STATUS_MAX];

        assert_string_equal(status_format(s, running, NOW, next, buf, sizeof buf), expect);
}

static void test_status(void **state) {
        char *scopes[] = { (char *) "/subscriptions/x", NULL };

        check(NULL, false, 0, "Starting");
        check(NULL, false, NOW + 5 * USEC_PER_SEC, "Starting; first sweep in 5s");
        check(NULL, true, NOW + 5 * USEC_PER_SEC, "First sweep running");

        fx_init(&fx, 12);
        check(&fx.sweep, false, NOW + 5 * USEC_PER_MINUTE,
              "Last sweep 06:00 UTC: 12 clusters, all OK; next in 5min");
        check(&fx.sweep, false, 0, "Last sweep 06:00 UTC: 12 clusters, all OK");
        check(&fx.sweep, false, USEC_INFINITY, "Last sweep 06:00 UTC: 12 clusters, all OK");
        check(&fx.sweep, false, NOW, "Last sweep 06:00 UTC: 12 clusters, all OK; next sweep due now");

        fx_finding(&fx, 0, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        fx_finding(&fx, 0, FINDING_KEY_EXPIRING, SEVERITY_WARNING);
        fx_finding(&fx, 1, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
        for (size_t i = 2; i < 7; i++)
                fx_finding(&fx, i, FINDING_VAULT_PURGE_PROTECTION_OFF, SEVERITY_WARNING);
        fx_finding(&fx, 7, FINDING_KEY_NO_ROTATION_POLICY, SEVERITY_INFO);
        check(&fx.sweep, false, NOW + 4 * USEC_PER_MINUTE + 12 * USEC_PER_SEC,
              "Last sweep 06:00 UTC: 12 clusters, 2 critical, 5 warning; next in 4min 12s");
        check(&fx.sweep, true, NOW + USEC_PER_MINUTE,
              "Sweep running; last sweep 06:00 UTC: 12 clusters, 2 critical, 5 warning");

        fx_action(&fx, 8, OUTCOME_SUCCEEDED, REFUSAL_NONE, "https://vault8.vault.azure.net/keys/key8", "op");
        fx_action(&fx, 9, OUTCOME_FAILED, REFUSAL_NONE, "https://vault9.vault.azure.net/keys/key9", "op");
        fx.sweep.failed_scopes = scopes;
        fx.sweep.n_unreadable = 2;
        check(&fx.sweep, false, 0,
              "Last sweep 06:00 UTC: 12 clusters, 2 critical, 5 warning, 1 scope unreadable, 2 items unreadable,"
              " 1 update, 1 update failed");

        fx_init(&fx, 1);
        check(&fx.sweep, false, 0, "Last sweep 06:00 UTC: 1 cluster, all OK");
        fx.sweep.ran = false;
        fx.sweep.error = -EACCES;
        check(&fx.sweep, false, NOW + 30 * USEC_PER_SEC,
              "Last sweep 06:00 UTC could not run: Permission denied; next in 30s");
        fx.sweep.error_message = (char *) "no token from IMDS";
        check(&fx.sweep, false, 0, "Last sweep 06:00 UTC could not run: no token from IMDS");
}

static void test_truncation(void **state) {
        char small[20];

        fx_init(&fx, 3);
        assert_string_equal(status_format(&fx.sweep, false, NOW, 0, small, sizeof small),
                            "Last sweep 06:00 UT");
        assert_string_equal(status_format(&fx.sweep, false, NOW, 0, small, 1), "");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_truncation),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
