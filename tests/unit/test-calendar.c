/* SPDX-License-Identifier: MIT */
/* Change windows and report schedules: parse/format tables, open/next-open tables at
 * midnight, 24:00, week and year boundaries and leap days, and an exhaustive comparison
 * with a minute-by-minute model over whole weeks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "calendar.h"
#include "timeutil.h"

/* Independent clock: RFC 3339 text through timeutil.c, not calendar.c's arithmetic. */
static usec_t at(const char *s) {
        usec_t t;

        if (rfc3339_parse(s, &t) < 0)
                fail_msg("bad test time %s", s);
        return t;
}

static void test_window_parse(void **state) {
        static const struct {
                const char *in;
                int r;
                unsigned days, start, end;
                const char *formatted;
        } t[] = {
                { "22:00-06:00", 0, 0x7f, 1320, 360, "22:00-06:00" },
                { "Mon..Fri 22:00-06:00", 0, 0x1f, 1320, 360, "Mon..Fri 22:00-06:00" },
                { "Mon-Fri 9:00-17:30", 0, 0x1f, 540, 1050, "Mon..Fri 09:00-17:30" },
                { "Sat,Sun 00:00-24:00", 0, 0x60, 0, 1440, "Sat,Sun 00:00-24:00" },
                { "  sat , SUN   00:00 - 24:00  ", 0, 0x60, 0, 1440, "Sat,Sun 00:00-24:00" },
                { "Fri..Mon 20:00-23:00", 0, 0x71, 1200, 1380, "Mon,Fri..Sun 20:00-23:00" },
                { "Monday 01:00-02:00", 0, 0x01, 60, 120, "Mon 01:00-02:00" },
                { "Mon,Wed-Fri 01:00 - 02:00 UTC", 0, 0x1d, 60, 120, "Mon,Wed..Fri 01:00-02:00" },
                { "22:00-00:00", 0, 0x7f, 1320, 1440, "22:00-24:00" },
                { "Sun 23:59-00:01", 0, 0x40, 1439, 1, "Sun 23:59-00:01" },
                { "Mon..Sun 00:00-24:00", 0, 0x7f, 0, 1440, "00:00-24:00" },
                { "Sun..Sat 00:00-01:00", 0, 0x7f, 0, 60, "00:00-01:00" },
                { "Tue,Thu 12:00-12:01", 0, 0x0a, 720, 721, "Tue,Thu 12:00-12:01" },
                { "", -EINVAL },
                { "Mon", -EINVAL },
                { "22:00", -EINVAL },
                { "22:00-", -EINVAL },
                { "22:00-22:00", -EINVAL },
                { "00:00-00:00", -EINVAL },
                { "25:00-26:00", -EINVAL },
                { "10:60-11:00", -EINVAL },
                { "00:00-24:01", -EINVAL },
                { "24:00-01:00", -EINVAL },
                { "Mon..Fry 01:00-02:00", -EINVAL },
                { "Mon 01:00-02:00 CET", -EINVAL },
                { "Mon01:00-02:00", -EINVAL },
                { "1:2-3:4", -EINVAL },
                { "001:00-02:00", -EINVAL },
                { "01:000-02:00", -EINVAL },
                { "Mon,,Tue 01:00-02:00", -EINVAL },
                { "Mon.. 01:00-02:00", -EINVAL },
                { "Mon, 01:00-02:00", -EINVAL },
                { "-01:00-02:00", -EINVAL },
                { "Mo 01:00-02:00", -EINVAL },
                { "Mondays 01:00-02:00", -EINVAL },
                { "01:00-02:00 Mon", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct change_window w = { 99, 99, 99 }, w2;
                char buf[64];
                int r = change_window_parse(t[i].in, &w);

                if (r != t[i].r)
                        fail_msg("change_window_parse(\"%s\") = %d, want %d", t[i].in, r, t[i].r);
                if (r < 0) {
                        assert_int_equal(w.days, 99); /* untouched */
                        continue;
                }
                if (w.days != t[i].days || w.start_min != t[i].start || w.end_min != t[i].end)
                        fail_msg("\"%s\": days %#x %u-%u", t[i].in, w.days, w.start_min, w.end_min);
                assert_string_equal(change_window_format(&w, buf, sizeof buf), t[i].formatted);
                assert_int_equal(change_window_parse(buf, &w2), 0);
                assert_memory_equal(&w, &w2, sizeof w);
        }
}

struct window_case {
        const char *windows[3];
        const char *now;
        bool open;
        const char *next; /* NULL: never */
};

static void test_window_open(void **state) {
        static const struct window_case t[] = {
                /* No window: always open. */
                { {}, "2024-01-01T03:00:00Z", true, "2024-01-01T03:00:00Z" },
                /* Weekday nights, crossing midnight; 2024-01-01 is a Monday. */
                { { "Mon..Fri 22:00-06:00" }, "2024-01-01T21:59:59Z", false, "2024-01-01T22:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-01T22:00:00Z", true, "2024-01-01T22:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-02T05:59:59Z", true, "2024-01-02T05:59:59Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-02T06:00:00Z", false, "2024-01-02T22:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-06T05:00:00Z", true, "2024-01-06T05:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-06T06:00:00Z", false, "2024-01-08T22:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-07T23:00:00Z", false, "2024-01-08T22:00:00Z" },
                { { "Mon..Fri 22:00-06:00" }, "2024-01-08T03:00:00Z", false, "2024-01-08T22:00:00Z" },
                /* Whole days and 24:00. */
                { { "Sat,Sun 00:00-24:00" }, "2024-01-05T23:59:59Z", false, "2024-01-06T00:00:00Z" },
                { { "Sat,Sun 00:00-24:00" }, "2024-01-07T23:59:59Z", true, "2024-01-07T23:59:59Z" },
                { { "Sat,Sun 00:00-24:00" }, "2024-01-08T00:00:00Z", false, "2024-01-13T00:00:00Z" },
                { { "22:00-24:00" }, "2024-01-01T23:59:59Z", true, "2024-01-01T23:59:59Z" },
                { { "22:00-24:00" }, "2024-01-02T00:00:00Z", false, "2024-01-02T22:00:00Z" },
                /* Across the week boundary Sunday → Monday. */
                { { "Sun 23:00-01:00" }, "2024-01-07T23:30:00Z", true, "2024-01-07T23:30:00Z" },
                { { "Sun 23:00-01:00" }, "2024-01-08T00:30:00Z", true, "2024-01-08T00:30:00Z" },
                { { "Sun 23:00-01:00" }, "2024-01-08T01:00:00Z", false, "2024-01-14T23:00:00Z" },
                { { "Sun 23:00-01:00" }, "2024-01-07T22:59:59Z", false, "2024-01-07T23:00:00Z" },
                /* Several windows: the earliest opening wins. */
                { { "Mon 10:00-11:00", "Wed 09:00-10:00" },
                  "2024-01-02T12:00:00Z",
                  false,
                  "2024-01-03T09:00:00Z" },
                { { "Wed 09:00-10:00", "Mon 10:00-11:00" },
                  "2024-01-03T10:00:00Z",
                  false,
                  "2024-01-08T10:00:00Z" },
                { { "Wed 09:00-10:00", "Mon 10:00-11:00", "Wed 09:30-12:00" },
                  "2024-01-03T10:00:00Z",
                  true,
                  "2024-01-03T10:00:00Z" },
                /* Leap day 2024-02-29 is a Thursday; the window spills into March 1st. */
                { { "Thu 23:00-01:00" }, "2024-02-29T23:30:00Z", true, "2024-02-29T23:30:00Z" },
                { { "Thu 23:00-01:00" }, "2024-03-01T00:30:00Z", true, "2024-03-01T00:30:00Z" },
                { { "Thu 23:00-01:00" }, "2024-02-28T12:00:00Z", false, "2024-02-29T23:00:00Z" },
                /* 2100 is not a leap year: Sunday Feb 28 is followed by Monday March 1. */
                { { "Mon 00:00-01:00" }, "2100-02-28T12:00:00Z", false, "2100-03-01T00:00:00Z" },
                /* Year boundary: 2024-12-31 is a Tuesday. */
                { { "Wed 00:00-01:00" }, "2024-12-31T23:59:59Z", false, "2025-01-01T00:00:00Z" },
                /* The epoch was a Thursday. */
                { { "Thu 00:00-00:01" }, "1970-01-01T00:00:00Z", true, "1970-01-01T00:00:00Z" },
                { { "Wed 00:00-01:00" }, "1970-01-01T00:00:00Z", false, "1970-01-07T00:00:00Z" },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct change_window w[3];
                size_t n = 0;
                usec_t now = at(t[i].now), next;

                for (; n < 3 && t[i].windows[n]; n++)
                        assert_int_equal(change_window_parse(t[i].windows[n], &w[n]), 0);
                if (change_windows_open(w, n, now) != t[i].open)
                        fail_msg("row %zu (%s at %s): open should be %d", i, t[i].windows[0], t[i].now,
                                 t[i].open);
                next = change_windows_next_open(w, n, now);
                if (next != (t[i].next ? at(t[i].next) : USEC_INFINITY)) {
                        char buf[RFC3339_MAX];

                        fail_msg("row %zu (%s at %s): next open %s, want %s", i, t[i].windows[0], t[i].now,
                                 rfc3339_format(buf, sizeof buf, next), t[i].next);
                }
        }
}

static void test_window_edges(void **state) {
        struct change_window w, none = { .days = 0, .start_min = 60, .end_min = 120 };
        usec_t t = at("2024-01-01T21:59:59Z") + 500000; /* half a second before opening */

        assert_int_equal(change_window_parse("Mon..Fri 22:00-06:00", &w), 0);
        assert_false(change_windows_open(&w, 1, t));
        assert_int_equal(change_windows_next_open(&w, 1, t), at("2024-01-01T22:00:00Z"));
        /* The last microsecond of the window is inside it. */
        assert_true(change_windows_open(&w, 1, at("2024-01-02T06:00:00Z") - 1));
        /* A window on no day never opens. */
        assert_false(change_windows_open(&none, 1, t));
        assert_int_equal(change_windows_next_open(&none, 1, t), USEC_INFINITY);
        /* Near the end of time: no overflow, no opening that cannot be represented. */
        assert_int_equal(change_windows_next_open(&w, 1, USEC_INFINITY - 1), USEC_INFINITY);
        (void) change_windows_open(&w, 1, USEC_INFINITY);
        /* Formatting into a short buffer truncates and terminates. */
        {
                char small[8];

                change_window_format(&w, small, sizeof small);
                assert_int_equal(strlen(small), 7);
        }
}

/* A minute-of-week model: mark each minute a window covers, then compare open and
 * next-open for every minute of a week (and a second week for the wrap-around). */
static void model_mark(const struct change_window *w, bool minutes[10080]) {
        for (unsigned d = 0; d < 7; d++) {
                unsigned len;

                if (!(w->days & (1u << d)))
                        continue;
                len = w->end_min > w->start_min ? w->end_min - w->start_min
                                                : 1440 - w->start_min + w->end_min;
                for (unsigned m = 0; m < len; m++)
                        minutes[(d * 1440 + w->start_min + m) % 10080] = true;
        }
}

static uint32_t lcg(uint32_t *s) {
        *s = *s * 1103515245u + 12345u;
        return *s >> 8;
}

static void test_window_exhaustive(void **state) {
        const usec_t monday = at("2024-01-01T00:00:00Z");
        uint32_t seed = 42;

        for (unsigned round = 0; round < 150; round++) {
                struct change_window w[3];
                bool minutes[10080] = {};
                size_t n = round % 4 == 0 ? 1 : 1 + lcg(&seed) % 3;

                for (size_t i = 0; i < n; i++) {
                        char text[64];

                        /* Built as text, so that parsing is exercised too. */
                        snprintf(text, sizeof text, "%s %02u:%02u-%02u:%02u",
                                 (const char *[]){ "Mon", "Tue..Thu", "Sat,Sun", "Fri..Mon", "Sun",
                                                   "Mon..Sun", "Wed" }[lcg(&seed) % 7],
                                 lcg(&seed) % 24, lcg(&seed) % 60, lcg(&seed) % 25, lcg(&seed) % 60);
                        if (change_window_parse(text, &w[i]) < 0) {
                                /* Equal ends or a bad 24:xx: try a plain one instead. */
                                assert_int_equal(change_window_parse("Tue 10:00-10:30", &w[i]), 0);
                        }
                        model_mark(&w[i], minutes);
                }
                for (unsigned m = 0; m < 10080; m++) {
                        usec_t now = monday + (usec_t) (10080 + m) * USEC_PER_MINUTE; /* second week */
                        usec_t want = USEC_INFINITY;

                        if (change_windows_open(w, n, now) != minutes[m])
                                fail_msg("round %u minute %u: open %d, model %d", round, m, !minutes[m],
                                         minutes[m]);
                        for (unsigned k = 0; k < 10080; k++)
                                if (minutes[(m + k) % 10080]) {
                                        want = now + (usec_t) k * USEC_PER_MINUTE;
                                        break;
                                }
                        if (change_windows_next_open(w, n, now) != want)
                                fail_msg("round %u minute %u: next open differs from the model", round, m);
                        /* Just after the minute began: same answer, and next open is either
                         * now or the model's minute. */
                        if (change_windows_open(w, n, now + 30 * USEC_PER_SEC) != minutes[m])
                                fail_msg("round %u minute %u:30: open differs", round, m);
                }
        }
}

static void test_schedule_parse(void **state) {
        static const struct {
                const char *in;
                int r;
                enum schedule_kind kind;
                unsigned weekday, minute;
                const char *formatted;
        } t[] = {
                { "off", 0, SCHEDULE_OFF, 0, 0, "off" },
                { "OFF", 0, SCHEDULE_OFF, 0, 0, "off" },
                { "hourly", 0, SCHEDULE_HOURLY, 0, 0, "hourly" },
                { "hourly :15", 0, SCHEDULE_HOURLY, 0, 15, "hourly :15" },
                { "hourly:05", 0, SCHEDULE_HOURLY, 0, 5, "hourly :05" },
                { "hourly :00", 0, SCHEDULE_HOURLY, 0, 0, "hourly" },
                { "daily", 0, SCHEDULE_DAILY, 0, 0, "daily 00:00" },
                { "daily 06:00", 0, SCHEDULE_DAILY, 0, 360, "daily 06:00" },
                { "Daily 6:00 UTC", 0, SCHEDULE_DAILY, 0, 360, "daily 06:00" },
                { "daily 23:59", 0, SCHEDULE_DAILY, 0, 1439, "daily 23:59" },
                { "weekly", 0, SCHEDULE_WEEKLY, 0, 0, "weekly Mon 00:00" },
                { "weekly Mon 06:00", 0, SCHEDULE_WEEKLY, 0, 360, "weekly Mon 06:00" },
                { "weekly sunday 23:59", 0, SCHEDULE_WEEKLY, 6, 1439, "weekly Sun 23:59" },
                { "weekly Tue", 0, SCHEDULE_WEEKLY, 1, 0, "weekly Tue 00:00" },
                { "weekly 06:00", 0, SCHEDULE_WEEKLY, 0, 360, "weekly Mon 06:00" },
                { "", -EINVAL },
                { "never", -EINVAL },
                { "offish", -EINVAL },
                { "off now", -EINVAL },
                { "hourlyx", -EINVAL },
                { "hourly :60", -EINVAL },
                { "hourly :5", -EINVAL },
                { "hourly :155", -EINVAL },
                { "hourly 15", -EINVAL },
                { "daily 24:00", -EINVAL },
                { "daily 6", -EINVAL },
                { "daily 06:00 CET", -EINVAL },
                { "weekly Mon06:00", -EINVAL },
                { "weekly Funday", -EINVAL },
                { "weekly Mon Tue", -EINVAL },
                { "monthly", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct report_schedule s = { .kind = 99 }, s2;
                char buf[64];
                int r = report_schedule_parse(t[i].in, &s);

                if (r != t[i].r)
                        fail_msg("report_schedule_parse(\"%s\") = %d, want %d", t[i].in, r, t[i].r);
                if (r < 0) {
                        assert_int_equal(s.kind, 99);
                        continue;
                }
                if (s.kind != t[i].kind || s.weekday != t[i].weekday || s.minute != t[i].minute)
                        fail_msg("\"%s\": kind %d day %u minute %u", t[i].in, s.kind, s.weekday, s.minute);
                assert_string_equal(report_schedule_format(&s, buf, sizeof buf), t[i].formatted);
                assert_int_equal(report_schedule_parse(buf, &s2), 0);
                assert_memory_equal(&s, &s2, sizeof s);
        }
}

static void test_schedule_next(void **state) {
        static const struct {
                const char *schedule, *after, *next;
        } t[] = {
                { "hourly :15", "2024-01-01T10:14:59Z", "2024-01-01T10:15:00Z" },
                { "hourly :15", "2024-01-01T10:15:00Z", "2024-01-01T11:15:00Z" }, /* strictly after */
                { "hourly :15", "2024-01-01T23:20:00Z", "2024-01-02T00:15:00Z" }, /* midnight */
                { "hourly", "2024-12-31T23:00:00Z", "2025-01-01T00:00:00Z" },
                { "daily 06:00", "2024-01-01T05:59:00Z", "2024-01-01T06:00:00Z" },
                { "daily 06:00", "2024-01-01T06:00:00Z", "2024-01-02T06:00:00Z" },
                { "daily 06:00", "2024-02-28T07:00:00Z", "2024-02-29T06:00:00Z" }, /* leap day */
                { "daily 06:00", "2023-02-28T07:00:00Z", "2023-03-01T06:00:00Z" },
                { "daily 06:00", "2024-12-31T07:00:00Z", "2025-01-01T06:00:00Z" },
                { "daily 00:00", "2024-01-01T23:59:59Z", "2024-01-02T00:00:00Z" },
                { "weekly Mon 06:00", "2024-01-07T23:00:00Z", "2024-01-08T06:00:00Z" },
                { "weekly Mon 06:00", "2024-01-08T06:00:00Z", "2024-01-15T06:00:00Z" },
                { "weekly Mon 06:00", "2024-01-08T05:00:00Z", "2024-01-08T06:00:00Z" },
                { "weekly Sun 23:59", "2024-01-08T00:00:00Z", "2024-01-14T23:59:00Z" },
                { "weekly Sun 23:59", "2024-01-14T23:59:00Z", "2024-01-21T23:59:00Z" },
                { "weekly Thu 00:00", "2024-02-28T12:00:00Z", "2024-02-29T00:00:00Z" },
                { "weekly Mon 06:00", "1970-01-01T00:00:00Z", "1970-01-05T06:00:00Z" },
                { "weekly Thu 00:00", "1970-01-01T00:00:00Z", "1970-01-08T00:00:00Z" },
                { "weekly Wed 12:00", "1970-01-01T00:00:00Z", "1970-01-07T12:00:00Z" },
                { "off", "2024-01-01T00:00:00Z", NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct report_schedule s;
                usec_t next;

                assert_int_equal(report_schedule_parse(t[i].schedule, &s), 0);
                next = report_schedule_next(&s, at(t[i].after));
                if (next != (t[i].next ? at(t[i].next) : USEC_INFINITY)) {
                        char buf[RFC3339_MAX];

                        fail_msg("%s after %s: %s, want %s", t[i].schedule, t[i].after,
                                 rfc3339_format(buf, sizeof buf, next), strna(t[i].next));
                }
        }
}

static bool schedule_fires(const struct report_schedule *s, unsigned minute_of_week) {
        unsigned mod = minute_of_week % 1440;

        switch (s->kind) {
        case SCHEDULE_HOURLY:
                return mod % 60 == s->minute;
        case SCHEDULE_DAILY:
                return mod == s->minute;
        case SCHEDULE_WEEKLY:
                return minute_of_week == s->weekday * 1440 + s->minute;
        default:
                return false;
        }
}

static void test_schedule_exhaustive(void **state) {
        static const char *const schedules[] = { "hourly",          "hourly :59",       "daily 00:00",
                                                 "daily 13:37",     "weekly Mon 00:00", "weekly Sun 23:59",
                                                 "weekly Thu 12:00" };
        const usec_t start = at("2024-02-26T00:00:00Z"); /* a Monday; the week of a leap day */

        /* For every minute of two weeks, on the minute and half a minute later, next() is
         * the first later minute at which the schedule fires, found by walking forward. */
        for (size_t i = 0; i < ELEMENTSOF(schedules); i++) {
                struct report_schedule s;

                assert_int_equal(report_schedule_parse(schedules[i], &s), 0);
                for (unsigned m = 0; m < 2 * 10080; m++) {
                        usec_t now = start + (usec_t) m * USEC_PER_MINUTE, want = USEC_INFINITY;

                        for (unsigned k = 1; k <= 10080; k++)
                                if (schedule_fires(&s, (m + k) % 10080)) {
                                        want = now + (usec_t) k * USEC_PER_MINUTE;
                                        break;
                                }
                        if (report_schedule_next(&s, now) != want ||
                            report_schedule_next(&s, now + 30 * USEC_PER_SEC) != want)
                                fail_msg("%s at minute %u: next() differs from the walk", schedules[i], m);
                }
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_window_parse),        cmocka_unit_test(test_window_open),
                cmocka_unit_test(test_window_edges),        cmocka_unit_test(test_window_exhaustive),
                cmocka_unit_test(test_schedule_parse),      cmocka_unit_test(test_schedule_next),
                cmocka_unit_test(test_schedule_exhaustive),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
