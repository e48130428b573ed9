/* SPDX-License-Identifier: MIT */
#pragma once

/* Change windows ("when may cmkd update clusters") and report schedules ("when to write
 * a report"), both in UTC. Pure: time is an argument. */

#include "macro.h"

#define CHANGE_WINDOWS_MAX 16

/* One window: on the given weekdays, from start to end (minutes since 00:00 UTC).
 * end < start spans midnight (the day named is the day the window opens).
 * Syntax: "[DAYS] HH:MM-HH:MM", DAYS a comma list of days or ranges: "Mon..Fri",
 * "Sat,Sun", "Mon-Wed,Fri"; no DAYS = every day. "24:00" is allowed as an end. */
struct change_window {
        unsigned days;      /* bit 0 = Monday ... bit 6 = Sunday */
        unsigned start_min; /* 0..1439 */
        unsigned end_min;   /* 1..1440 */
};

int change_window_parse(const char *s, struct change_window *ret);
/* No windows means always open. */
bool change_windows_open(const struct change_window *w, size_t n, usec_t now_realtime);
/* The next time >= now at which a window is open (now if open); USEC_INFINITY if none. */
usec_t change_windows_next_open(const struct change_window *w, size_t n, usec_t now_realtime);
/* Formats a window back into the syntax above. Returns buf. */
char *change_window_format(const struct change_window *w, char *buf, size_t len);

enum schedule_kind {
        SCHEDULE_OFF,
        SCHEDULE_HOURLY, /* at minute M of every hour: "hourly" or "hourly :15" */
        SCHEDULE_DAILY,  /* "daily 06:00" */
        SCHEDULE_WEEKLY, /* "weekly Mon 06:00" */
        _SCHEDULE_MAX,
        _SCHEDULE_INVALID = -EINVAL,
};

struct report_schedule {
        enum schedule_kind kind;
        unsigned weekday;    /* 0 = Monday, for weekly */
        unsigned minute;     /* minutes since 00:00 UTC (daily, weekly) or past the hour (hourly) */
};

int report_schedule_parse(const char *s, struct report_schedule *ret);
/* The first fire time strictly after 'after'; USEC_INFINITY for SCHEDULE_OFF. */
usec_t report_schedule_next(const struct report_schedule *s, usec_t after_realtime);
char *report_schedule_format(const struct report_schedule *s, char *buf, size_t len);
