/* SPDX-License-Identifier: MIT */
/* backoff: delays with decorrelated jitter, and the retry decision table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "backoff.h"

static const struct backoff_conf conf = {
        .base_usec = 1 * USEC_PER_SEC,
        .cap_usec = 60 * USEC_PER_SEC,
        .retry_after_max_usec = 300 * USEC_PER_SEC,
};

static void test_next_bounds(void **state) {
        usec_t prev = 0, d;
        uint64_t x = 88172645463325252ULL;

        /* First delay in [base, 3 base]; then [base, 3 prev], never past the cap. */
        for (int i = 0; i < 10000; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                d = backoff_next(&conf, prev, x);
                assert_true(d >= conf.base_usec);
                assert_true(d <= MIN(conf.cap_usec, 3 * MAX(prev, conf.base_usec)));
                prev = i % 50 == 0 ? 0 : d;
        }
        /* The extremes of the random number reach the ends of the range. */
        assert_int_equal(backoff_next(&conf, 0, 0), USEC_PER_SEC);
        assert_int_equal(backoff_next(&conf, 0, 2 * USEC_PER_SEC), 3 * USEC_PER_SEC);
        assert_int_equal(backoff_next(&conf, 40 * USEC_PER_SEC, 59 * USEC_PER_SEC), 60 * USEC_PER_SEC);
        /* Huge previous delays do not overflow. */
        assert_true(backoff_next(&conf, UINT64_MAX / 2, UINT64_MAX) <= conf.cap_usec);
        /* A cap below the base wins. */
        struct backoff_conf odd = {.base_usec = 5 * USEC_PER_SEC, .cap_usec = 2 * USEC_PER_SEC};
        assert_int_equal(backoff_next(&odd, 0, 12345), 2 * USEC_PER_SEC);
}

static void test_next_grows(void **state) {
        /* With the random number at the top of each range the delays triple up to the cap. */
        usec_t d = 0;
        const usec_t expect[] = {3, 9, 27, 60, 60};

        for (size_t i = 0; i < ELEMENTSOF(expect); i++) {
                usec_t lo = conf.base_usec, hi = MIN(conf.cap_usec, 3 * MAX(d, conf.base_usec));
                d = backoff_next(&conf, d, hi - lo);
                assert_int_equal(d, expect[i] * USEC_PER_SEC);
        }
}

static void test_transient(void **state) {
        const int yes[] = {-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT, -EHOSTUNREACH, -EIO, -EPROTO, -ENODATA};
        const int no[] = {-EPERM, -E2BIG, -ENOMEM, -EINVAL, -EACCES, -ECANCELED, 0};

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_true(backoff_error_transient(yes[i]));
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_false(backoff_error_transient(no[i]));
}

enum expect { NO, BACKOFF, AFTER };

static void test_decision_table(void **state) {
        static const struct row {
                int line;
                int error;
                long status;
                bool sent, idempotent, imds, has_ra;
                unsigned ra_sec, attempt, max_retries, elapsed_sec;
                enum expect expect;
        } rows[] = {
                /* transport failures */
                {__LINE__, -ECONNREFUSED, 0, false, false, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, -ECONNREFUSED, 0, false, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, -ECONNRESET, 0, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, -ECONNRESET, 0, true, false, false, false, 0, 1, 3, 0,
                 NO}, /* write may have landed */
                {__LINE__, -ETIMEDOUT, 0, true, false, false, false, 0, 1, 3, 0, NO},
                {__LINE__, -ETIMEDOUT, 0, false, false, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, -ETIMEDOUT, 0, true, true, false, false, 0, 3, 3, 0, BACKOFF},
                {__LINE__, -ETIMEDOUT, 0, true, true, false, false, 0, 4, 3, 0, NO},     /* used up */
                {__LINE__, -ECONNREFUSED, 0, false, true, false, false, 0, 1, 0, 0, NO}, /* no retries */
                {__LINE__, -EPERM, 0, false, true, false, false, 0, 1, 3, 0, NO}, /* TLS verification */
                {__LINE__, -E2BIG, 0, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, -ENOMEM, 0, false, true, false, false, 0, 1, 3, 0, NO},
                /* success and permanent answers */
                {__LINE__, 0, 200, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 202, true, false, false, true, 5, 1, 3, 0, NO},
                {__LINE__, 0, 400, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 401, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 403, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 404, true, true, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 409, true, false, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 501, true, true, false, false, 0, 1, 3, 0, NO},
                /* 5xx: reads only */
                {__LINE__, 0, 500, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 502, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 504, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 408, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 500, true, false, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 500, true, false, false, true, 1, 1, 3, 0,
                 NO}, /* Retry-After does not make a 500 safe */
                {__LINE__, 0, 500, true, true, false, false, 0, 4, 3, 0, NO},
                /* 429/503 */
                {__LINE__, 0, 429, true, true, false, true, 7, 1, 3, 0, AFTER},
                {__LINE__, 0, 429, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 429, true, false, false, true, 7, 1, 3, 0, AFTER},
                {__LINE__, 0, 429, true, false, false, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 503, true, false, false, true, 2, 1, 3, 0, AFTER},
                {__LINE__, 0, 503, true, true, false, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 429, true, true, false, true, 7, 4, 3, 0, NO},
                {__LINE__, 0, 429, true, true, false, true, 3600, 1, 3, 0, AFTER}, /* capped, see below */
                /* IMDS */
                {__LINE__, 0, 404, true, true, true, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 400, true, true, true, false, 0, 1, 3, 0, NO}, /* identity not found */
                {__LINE__, 0, 401, true, true, true, false, 0, 1, 3, 0, NO},
                {__LINE__, 0, 500, true, true, true, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 599, true, true, true, false, 0, 1, 3, 0, BACKOFF},
                {__LINE__, 0, 429, true, true, true, true, 4, 1, 3, 0, AFTER},
                {__LINE__, 0, 404, true, true, true, false, 0, 4, 3, 0, NO},
                {__LINE__, 0, 410, true, true, true, false, 0, 10, 3, 30, BACKOFF}, /* within 70 s */
                {__LINE__, 0, 410, true, true, true, false, 0, 10, 3, 71, NO},
                {__LINE__, 0, 410, true, true, true, false, 0, 2, 3, 71, BACKOFF},
                {__LINE__, 0, 410, true, true, true, false, 0, 32, 3, 30, NO}, /* hard maximum */
                {__LINE__, 0, 410, true, true, false, false, 0, 1, 3, 0, NO},  /* only IMDS */
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                const struct row *w = &rows[i];
                struct backoff_attempt a = {
                        .error = w->error,
                        .status = w->status,
                        .sent = w->sent,
                        .idempotent = w->idempotent,
                        .imds = w->imds,
                        .has_retry_after = w->has_ra,
                        .retry_after_usec = w->ra_sec * USEC_PER_SEC,
                        .attempt = w->attempt,
                        .max_retries = w->max_retries,
                        .elapsed_usec = w->elapsed_sec * USEC_PER_SEC,
                };
                usec_t delay = 12345;
                bool r = backoff_retry(&conf, &a, 4242, &delay);

                if (r != (w->expect != NO))
                        fail_msg("row at line %d: retry=%d", w->line, r);
                if (w->expect == NO) {
                        assert_int_equal(delay, 12345); /* untouched */
                } else if (w->expect == AFTER) {
                        if (delay != MIN(w->ra_sec * USEC_PER_SEC, conf.retry_after_max_usec))
                                fail_msg("row at line %d: delay %llu", w->line, (unsigned long long)delay);
                } else if (delay < conf.base_usec || delay > 3 * conf.base_usec) {
                        fail_msg("row at line %d: delay %llu", w->line, (unsigned long long)delay);
                }
        }
}

static void test_retry_after_zero(void **state) {
        struct backoff_attempt a = {.status = 429,
                                    .idempotent = true,
                                    .has_retry_after = true,
                                    .retry_after_usec = 0,
                                    .attempt = 1,
                                    .max_retries = 2};
        usec_t d = 99;

        /* "Retry-After: 0" means at once. */
        assert_true(backoff_retry(&conf, &a, 1, &d));
        assert_int_equal(d, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_next_bounds),      cmocka_unit_test(test_next_grows),
                cmocka_unit_test(test_transient),        cmocka_unit_test(test_decision_table),
                cmocka_unit_test(test_retry_after_zero),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
