/* SPDX-License-Identifier: MIT */
/* libFuzzer: change windows and report schedules. Input: 8 bytes of time, then text.
 * Parsed values format and parse back equal; next_open() lands in an open window and
 * nothing earlier from now on is open; report_schedule_next() is strictly later. */

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct change_window w, w2;
        struct report_schedule s, s2;
        char text[256], buf[128];
        usec_t now = 0, next;

        if (size < 8 || size - 8 >= sizeof text)
                return 0;
        memcpy(&now, data, 8);
        memcpy(text, data + 8, size - 8);
        text[size - 8] = 0;

        if (change_window_parse(text, &w) == 0) {
                assert(w.days != 0 && w.days <= 0x7f && w.start_min < 1440 && w.end_min >= 1 &&
                       w.end_min <= 1440 && w.start_min != w.end_min);
                change_window_format(&w, buf, sizeof buf);
                assert(change_window_parse(buf, &w2) == 0);
                assert(memcmp(&w, &w2, sizeof w) == 0);
                next = change_windows_next_open(&w, 1, now);
                if (next != USEC_INFINITY) {
                        assert(next >= now);
                        assert(change_windows_open(&w, 1, next));
                        if (next > now) {
                                assert(!change_windows_open(&w, 1, now));
                                assert(!change_windows_open(&w, 1, next - 1));
                        }
                }
        }
        if (report_schedule_parse(text, &s) == 0) {
                report_schedule_format(&s, buf, sizeof buf);
                assert(report_schedule_parse(buf, &s2) == 0);
                assert(memcmp(&s, &s2, sizeof s) == 0);
                next = report_schedule_next(&s, now);
                assert(next == USEC_INFINITY || (next > now && next % (60 * USEC_PER_SEC) == 0));
                assert(s.kind != SCHEDULE_OFF || next == USEC_INFINITY);
        }
        return 0;
}
