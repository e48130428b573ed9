/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "timeutil.h"

static void test_timespan(void **state) {
        static const struct {
                const char *in;
                int r;
                usec_t out;
        } t[] = {
                { "30", 0, 30 * USEC_PER_SEC },
                { "30s", 0, 30 * USEC_PER_SEC },
                { "5min", 0, 5 * USEC_PER_MINUTE },
                { "1h 30min", 0, 90 * USEC_PER_MINUTE },
                { "1h30min", 0, 90 * USEC_PER_MINUTE },
                { "7d", 0, 7 * USEC_PER_DAY },
                { "2w", 0, 14 * USEC_PER_DAY },
                { "1.5s", 0, 1500 * USEC_PER_MSEC },
                { "500ms", 0, 500 * USEC_PER_MSEC },
                { " 10 s ", 0, 10 * USEC_PER_SEC },
                { "infinity", 0, USEC_INFINITY },
                { "1y", 0, 31557600 * USEC_PER_SEC },
                { "", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "-5s", -EINVAL, 0 },
                { "5 parsecs", -EINVAL, 0 },
                { "1h 30", -EINVAL, 0 },
                { "99999999999999999999s", -ERANGE, 0 },
                { "18446744073709551615d", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                usec_t v = 4242;
                int r = timespan_parse(t[i].in, USEC_PER_SEC, &v);

                if (r != t[i].r)
                        fail_msg("timespan_parse(\"%s\") = %d, want %d", t[i].in, r, t[i].r);
                if (r == 0)
                        assert_int_equal(v, t[i].out);
                else
                        assert_int_equal(v, 4242);
        }
}

static void test_timespan_format(void **state) {
        char buf[TIMESPAN_MAX];

        assert_string_equal(timespan_format(buf, sizeof buf, 90 * USEC_PER_MINUTE, USEC_PER_SEC), "1h 30min");
        assert_string_equal(timespan_format(buf, sizeof buf, 0, USEC_PER_SEC), "0");
        assert_string_equal(timespan_format(buf, sizeof buf, USEC_INFINITY, USEC_PER_SEC), "infinity");
        assert_string_equal(timespan_format(buf, sizeof buf, 8 * USEC_PER_DAY + 1, USEC_PER_SEC), "1w 1d");
}

static void test_iso8601(void **state) {
        usec_t v;

        assert_int_equal(iso8601_duration_parse("P90D", &v), 0);
        assert_int_equal(v, 90 * USEC_PER_DAY);
        assert_int_equal(iso8601_duration_parse("P2Y", &v), 0);
        assert_int_equal(v, 730 * USEC_PER_DAY);
        assert_int_equal(iso8601_duration_parse("P18M", &v), 0);
        assert_int_equal(v, 540 * USEC_PER_DAY);
        assert_int_equal(iso8601_duration_parse("PT12H", &v), 0);
        assert_int_equal(v, 12 * USEC_PER_HOUR);
        assert_int_equal(iso8601_duration_parse("P1DT1M", &v), 0);
        assert_int_equal(v, USEC_PER_DAY + USEC_PER_MINUTE);
        assert_int_equal(iso8601_duration_parse("P", &v), -EINVAL);
        assert_int_equal(iso8601_duration_parse("90D", &v), -EINVAL);
        assert_int_equal(iso8601_duration_parse("P1H", &v), -EINVAL);
        assert_int_equal(iso8601_duration_parse("PT1D", &v), -EINVAL);
}

static void test_rfc3339(void **state) {
        char buf[RFC3339_MAX];
        usec_t v;

        assert_int_equal(rfc3339_parse("2020-01-01T17:18:19.1234567Z", &v), 0);
        assert_int_equal(v, 1577899099ULL * USEC_PER_SEC + 123456);
        assert_int_equal(rfc3339_parse("2020-01-01T19:18:19+02:00", &v), 0);
        assert_int_equal(v, 1577899099ULL * USEC_PER_SEC);
        assert_int_equal(rfc3339_parse("2024-02-29T00:00:00Z", &v), 0);
        assert_int_equal(rfc3339_parse("2023-02-29T00:00:00Z", &v), -EINVAL);
        assert_int_equal(rfc3339_parse("2023-01-01", &v), -EINVAL);
        assert_int_equal(rfc3339_parse("2023-01-01T00:00:00Zjunk", &v), -EINVAL);
        assert_string_equal(rfc3339_format(buf, sizeof buf, 1577899099ULL * USEC_PER_SEC), "2020-01-01T17:18:19Z");
}

static void test_retry_after(void **state) {
        usec_t v, now = 784111777ULL * USEC_PER_SEC; /* Sun, 06 Nov 1994 08:49:37 GMT */

        assert_int_equal(retry_after_parse("7", now, &v), 0);
        assert_int_equal(v, 7 * USEC_PER_SEC);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:47 GMT", now, &v), 0);
        assert_int_equal(v, 10 * USEC_PER_SEC);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:27 GMT", now, &v), 0);
        assert_int_equal(v, 0);
        assert_int_equal(retry_after_parse("-1", now, &v), -EINVAL);
        assert_int_equal(retry_after_parse("soon", now, &v), -EINVAL);
        assert_int_equal(retry_after_parse("Sun, 06 Nov 1994 08:49:47 PST", now, &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_timespan),     cmocka_unit_test(test_timespan_format),
                cmocka_unit_test(test_iso8601),      cmocka_unit_test(test_rfc3339),
                cmocka_unit_test(test_retry_after),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
