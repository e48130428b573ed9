/* SPDX-License-Identifier: MIT */
/* Change windows and report schedules in UTC: parsing, formatting, and "is it open now /
 * when does it open / when does it fire next". Pure: no clock, no allocation, no time
 * zones (UTC has no DST, so every day is 1440 minutes long and every week 7 days). */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "calendar.h"

#define MIN_PER_DAY 1440u
#define SEC_PER_DAY 86400u
#define ALL_DAYS    0x7fu

static const char *const day_abbr[7] = { "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun" };
static const char *const day_full[7] = { "Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday" };

/* 1970-01-01 was a Thursday: day 0 has weekday index 3 (Monday = 0). */
static unsigned weekday_of_day(uint64_t day) {
        return (unsigned) ((day + 3) % 7);
}

static const char *skip_space(const char *p) {
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* Reads a day name (abbreviated or full, any case) at *p. */
static int parse_day(const char **p, unsigned *ret) {
        for (unsigned i = 0; i < 7; i++) {
                const char *names[2] = { day_full[i], day_abbr[i] }; /* full first: longest match */

                for (size_t j = 0; j < 2; j++) {
                        size_t l = strlen(names[j]);

                        if (strncasecmp(*p, names[j], l) == 0 && !isalpha((unsigned char) (*p)[l])) {
                                *p += l;
                                *ret = i;
                                return 0;
                        }
                }
        }
        return -EINVAL;
}

/* "Mon", "Mon..Fri", "Mon-Fri", "Sat,Sun", "Fri..Mon" (wraps over the weekend). */
static int parse_days(const char **p, unsigned *ret) {
        unsigned days = 0;

        for (;;) {
                unsigned a, b;

                *p = skip_space(*p);
                if (parse_day(p, &a) < 0)
                        return -EINVAL;
                b = a;
                if (startswith(*p, "..") || **p == '-') {
                        *p += **p == '-' ? 1 : 2;
                        if (parse_day(p, &b) < 0)
                                return -EINVAL;
                }
                for (unsigned d = a;; d = (d + 1) % 7) {
                        days |= 1u << d;
                        if (d == b)
                                break;
                }
                /* Blanks may surround a comma; anything else ends the list. */
                if (*skip_space(*p) != ',')
                        break;
                *p = skip_space(*p) + 1;
        }
        *ret = days;
        return 0;
}

/* "H:MM" or "HH:MM"; 24:00 only when allow_24 is set. Returns minutes since midnight. */
static int parse_hhmm(const char **p, bool allow_24, unsigned *ret) {
        unsigned h = 0, m;
        size_t n = 0;

        while (isdigit((unsigned char) **p) && n < 2) {
                h = h * 10 + (unsigned) (**p - '0');
                (*p)++;
                n++;
        }
        if (n == 0 || **p != ':')
                return -EINVAL;
        (*p)++;
        if (!isdigit((unsigned char) (*p)[0]) || !isdigit((unsigned char) (*p)[1]))
                return -EINVAL;
        m = (unsigned) ((*p)[0] - '0') * 10 + (unsigned) ((*p)[1] - '0');
        *p += 2;
        if (isdigit((unsigned char) **p) || m > 59)
                return -EINVAL;
        if (h == 24 && m == 0 && allow_24) {
                *ret = MIN_PER_DAY;
                return 0;
        }
        if (h > 23)
                return -EINVAL;
        *ret = h * 60 + m;
        return 0;
}

/* Accepts an optional trailing "UTC": every time here is UTC, and saying so is allowed. */
static bool at_end(const char *p) {
        p = skip_space(p);
        if (strncasecmp(p, "UTC", 3) == 0)
                p = skip_space(p + 3);
        return *p == 0;
}

int change_window_parse(const char *s, struct change_window *ret) {
        struct change_window w = { .days = ALL_DAYS };
        const char *p = skip_space(s);

        if (isalpha((unsigned char) *p)) {
                if (parse_days(&p, &w.days) < 0)
                        return -EINVAL;
                /* Days and times are separated by whitespace. */
                if (*p != ' ' && *p != '\t')
                        return -EINVAL;
                p = skip_space(p);
        }
        if (parse_hhmm(&p, false, &w.start_min) < 0)
                return -EINVAL;
        p = skip_space(p);
        if (*p != '-')
                return -EINVAL;
        p = skip_space(p + 1);
        if (parse_hhmm(&p, true, &w.end_min) < 0)
                return -EINVAL;
        /* Equal ends would be either empty or a whole day: ask for 00:00-24:00 instead. */
        if (w.end_min == w.start_min || !at_end(p))
                return -EINVAL;
        /* "22:00-00:00" ends at midnight: the same as "22:00-24:00". */
        if (w.end_min == 0)
                w.end_min = MIN_PER_DAY;
        *ret = w;
        return 0;
}

static bool window_open(const struct change_window *w, unsigned weekday, unsigned sec_of_day) {
        unsigned start = w->start_min * 60, end = w->end_min * 60;
        unsigned yesterday = (weekday + 6) % 7;

        if (w->end_min > w->start_min)
                return (w->days & (1u << weekday)) && sec_of_day >= start && sec_of_day < end;
        /* Spans midnight: the evening part belongs to today, the morning part to yesterday. */
        return ((w->days & (1u << weekday)) && sec_of_day >= start) ||
               ((w->days & (1u << yesterday)) && sec_of_day < end);
}

bool change_windows_open(const struct change_window *w, size_t n, usec_t now_realtime) {
        uint64_t secs = now_realtime / USEC_PER_SEC, day = secs / SEC_PER_DAY;
        unsigned weekday = weekday_of_day(day), sod = (unsigned) (secs % SEC_PER_DAY);

        if (n == 0)
                return true;
        for (size_t i = 0; i < n; i++)
                if (window_open(&w[i], weekday, sod))
                        return true;
        return false;
}

usec_t change_windows_next_open(const struct change_window *w, size_t n, usec_t now_realtime) {
        uint64_t day = now_realtime / USEC_PER_SEC / SEC_PER_DAY;
        usec_t best = USEC_INFINITY;

        if (change_windows_open(w, n, now_realtime))
                return now_realtime;
        /* Closed now, so the next opening is a window start within the coming 7 days
         * (8 day starts counting today). */
        for (size_t i = 0; i < n; i++)
                for (uint64_t k = 0; k <= 7; k++) {
                        uint64_t d = day + k;
                        usec_t t;

                        if (!(w[i].days & (1u << weekday_of_day(d))))
                                continue;
                        if (d > (USEC_INFINITY - 1) / USEC_PER_DAY - 1)
                                break; /* beyond what usec_t can hold */
                        t = d * USEC_PER_DAY + (usec_t) w[i].start_min * USEC_PER_MINUTE;
                        if (t >= now_realtime) {
                                best = MIN(best, t);
                                break;
                        }
                }
        return best;
}

/* Appends to buf at *used, never past len; keeps buf NUL-terminated. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) _printf_(4, 5);
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) {
        va_list ap;
        int k;

        if (*used >= len)
                return;
        va_start(ap, fmt);
        k = vsnprintf(buf + *used, len - *used, fmt, ap);
        va_end(ap);
        if (k < 0)
                return;
        *used = MIN(len, *used + (size_t) k);
}

static void format_days(unsigned days, char *buf, size_t len, size_t *used) {
        bool first = true;

        for (unsigned d = 0; d < 7;) {
                unsigned e = d;

                if (!(days & (1u << d))) {
                        d++;
                        continue;
                }
                while (e + 1 < 7 && (days & (1u << (e + 1))))
                        e++;
                append(buf, len, used, "%s%s", first ? "" : ",", day_abbr[d]);
                if (e == d + 1)
                        append(buf, len, used, ",%s", day_abbr[e]);
                else if (e > d + 1)
                        append(buf, len, used, "..%s", day_abbr[e]);
                first = false;
                d = e + 1;
        }
}

char *change_window_format(const struct change_window *w, char *buf, size_t len) {
        size_t used = 0;

        if (len == 0)
                return buf;
        buf[0] = 0;
        if ((w->days & ALL_DAYS) != ALL_DAYS) {
                format_days(w->days & ALL_DAYS, buf, len, &used);
                append(buf, len, &used, " ");
        }
        append(buf, len, &used, "%02u:%02u-%02u:%02u", w->start_min / 60, w->start_min % 60, w->end_min / 60,
               w->end_min % 60);
        return buf;
}

int report_schedule_parse(const char *s, struct report_schedule *ret) {
        struct report_schedule r = {};
        const char *p = skip_space(s), *q;

        if ((q = startswith_no_case(p, "off")) && !isalpha((unsigned char) *q)) {
                r.kind = SCHEDULE_OFF;
                p = q;
        } else if ((q = startswith_no_case(p, "hourly")) && !isalpha((unsigned char) *q)) {
                r.kind = SCHEDULE_HOURLY;
                p = skip_space(q);
                if (*p == ':') {
                        p++;
                        if (!isdigit((unsigned char) p[0]) || !isdigit((unsigned char) p[1]) ||
                            isdigit((unsigned char) p[2]))
                                return -EINVAL;
                        r.minute = (unsigned) (p[0] - '0') * 10 + (unsigned) (p[1] - '0');
                        if (r.minute > 59)
                                return -EINVAL;
                        p += 2;
                }
        } else if ((q = startswith_no_case(p, "daily")) && !isalpha((unsigned char) *q)) {
                r.kind = SCHEDULE_DAILY;
                p = skip_space(q);
                if (isdigit((unsigned char) *p) && parse_hhmm(&p, false, &r.minute) < 0)
                        return -EINVAL;
        } else if ((q = startswith_no_case(p, "weekly")) && !isalpha((unsigned char) *q)) {
                r.kind = SCHEDULE_WEEKLY;
                p = skip_space(q);
                if (isalpha((unsigned char) *p)) {
                        if (parse_day(&p, &r.weekday) < 0)
                                return -EINVAL;
                        if (*p && *p != ' ' && *p != '\t')
                                return -EINVAL;
                        p = skip_space(p);
                }
                if (isdigit((unsigned char) *p) && parse_hhmm(&p, false, &r.minute) < 0)
                        return -EINVAL;
        } else
                return -EINVAL;
        if (!at_end(p))
                return -EINVAL;
        *ret = r;
        return 0;
}

usec_t report_schedule_next(const struct report_schedule *s, usec_t after_realtime) {
        /* Seconds since the epoch fit an int64_t for every usec_t; the start of this
         * week may lie before 1970 (1970-01-01 was a Thursday), hence signed. */
        int64_t secs = (int64_t) (after_realtime / USEC_PER_SEC), day = secs / SEC_PER_DAY;
        int64_t base, period, t;

        switch (s->kind) {
        case SCHEDULE_HOURLY:
                period = 3600;
                base = secs - secs % period + (int64_t) (s->minute % 60) * 60;
                break;
        case SCHEDULE_DAILY:
                period = SEC_PER_DAY;
                base = day * SEC_PER_DAY + (int64_t) (s->minute % MIN_PER_DAY) * 60;
                break;
        case SCHEDULE_WEEKLY:
                period = 7 * (int64_t) SEC_PER_DAY;
                base = (day - (int64_t) weekday_of_day((uint64_t) day)) * SEC_PER_DAY +
                       (int64_t) (s->weekday % 7) * SEC_PER_DAY + (int64_t) (s->minute % MIN_PER_DAY) * 60;
                break;
        default:
                return USEC_INFINITY;
        }
        /* Strictly after: a fire time equal to 'after' has already happened. At most two
         * steps are needed, since base lies within one period before or after 'after'. */
        for (t = base;; t += period) {
                if (t < 0)
                        continue;
                if ((uint64_t) t > (USEC_INFINITY - 1) / USEC_PER_SEC)
                        return USEC_INFINITY;
                if ((usec_t) t * USEC_PER_SEC > after_realtime)
                        return (usec_t) t * USEC_PER_SEC;
        }
}

char *report_schedule_format(const struct report_schedule *s, char *buf, size_t len) {
        if (len == 0)
                return buf;
        switch (s->kind) {
        case SCHEDULE_HOURLY:
                if (s->minute == 0)
                        snprintf(buf, len, "hourly");
                else
                        snprintf(buf, len, "hourly :%02u", s->minute % 60);
                break;
        case SCHEDULE_DAILY:
                snprintf(buf, len, "daily %02u:%02u", s->minute / 60 % 24, s->minute % 60);
                break;
        case SCHEDULE_WEEKLY:
                snprintf(buf, len, "weekly %s %02u:%02u", day_abbr[s->weekday % 7], s->minute / 60 % 24,
                         s->minute % 60);
                break;
        default:
                snprintf(buf, len, "off");
                break;
        }
        return buf;
}
