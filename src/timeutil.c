/* SPDX-License-Identifier: MIT */
/* Time spans, ISO 8601 durations, RFC 3339 date-times and Retry-After. Pure parsers:
 * they read only their argument, so they can be fuzzed and table-tested. */

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "timeutil.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

usec_t usec_from_unix(int64_t seconds) {
        if (seconds <= 0)
                return 0;
        if ((uint64_t) seconds >= (USEC_INFINITY - 1) / USEC_PER_SEC)
                return USEC_INFINITY - 1;
        return (usec_t) seconds * USEC_PER_SEC;
}

static int add_usec(usec_t *acc, usec_t v) {
        if (v > USEC_INFINITY - 1 - *acc)
                return -ERANGE;
        *acc += v;
        return 0;
}

/* Multiplies a parsed decimal (integer part, fraction digits) by unit and adds it to *acc. */
static int add_scaled(usec_t *acc, uint64_t integer, const char *frac, size_t n_frac, usec_t unit) {
        usec_t v, f = 0, div = 1;

        if (unit != 0 && integer > (USEC_INFINITY - 1) / unit)
                return -ERANGE;
        v = integer * unit;
        for (size_t i = 0; i < n_frac && div < UINT64_MAX / 10 / (unit ?: 1); i++) {
                f = f * 10 + (usec_t) (frac[i] - '0');
                div *= 10;
        }
        if (n_frac > 0)
                v += f * unit / div;
        return add_usec(acc, v);
}

/* Reads the decimal digits at *p (there may be none) into *ret and moves *p past them;
 * *ret_digits (if not NULL) is their count. -ERANGE as soon as the next digit could take the
 * number past max. */
static int read_decimal(const char **p, uint64_t max, uint64_t *ret, size_t *ret_digits) {
        const char *q = *p;
        uint64_t n = 0;

        for (; isdigit((unsigned char) *q); q++) {
                if (n > (max - 9) / 10)
                        return -ERANGE;
                n = n * 10 + (uint64_t) (*q - '0');
        }
        if (ret_digits)
                *ret_digits = (size_t) (q - *p);
        *p = q;
        *ret = n;
        return 0;
}

static const struct {
        const char *suffix;
        usec_t usec;
} span_units[] = {
        /* longest first where one is a prefix of another */
        { "seconds", USEC_PER_SEC },
        { "second", USEC_PER_SEC },
        { "sec", USEC_PER_SEC },
        { "s", USEC_PER_SEC },
        { "minutes", USEC_PER_MINUTE },
        { "minute", USEC_PER_MINUTE },
        { "min", USEC_PER_MINUTE },
        { "months", 2629800 * USEC_PER_SEC },
        { "month", 2629800 * USEC_PER_SEC },
        { "msec", USEC_PER_MSEC },
        { "ms", USEC_PER_MSEC },
        { "m", USEC_PER_MINUTE },
        { "M", 2629800 * USEC_PER_SEC },
        { "hours", USEC_PER_HOUR },
        { "hour", USEC_PER_HOUR },
        { "hr", USEC_PER_HOUR },
        { "h", USEC_PER_HOUR },
        { "days", USEC_PER_DAY },
        { "day", USEC_PER_DAY },
        { "d", USEC_PER_DAY },
        { "weeks", USEC_PER_WEEK },
        { "week", USEC_PER_WEEK },
        { "w", USEC_PER_WEEK },
        { "years", 31557600 * USEC_PER_SEC },
        { "year", 31557600 * USEC_PER_SEC },
        { "y", 31557600 * USEC_PER_SEC },
        { "usec", 1 },
        { "us", 1 },
};

int timespan_parse(const char *s, usec_t default_unit, usec_t *ret) {
        usec_t total = 0;
        bool any = false;
        const char *p = s;
        int r;

        while (isspace((unsigned char) *p))
                p++;
        if (streq(p, "infinity")) {
                *ret = USEC_INFINITY;
                return 0;
        }

        for (;;) {
                uint64_t integer = 0;
                const char *frac = NULL;
                size_t n_frac = 0, n_int = 0;
                usec_t unit = 0;

                while (isspace((unsigned char) *p))
                        p++;
                if (!*p)
                        break;
                if (*p == '-' || *p == '+')
                        return -EINVAL;
                r = read_decimal(&p, UINT64_MAX, &integer, &n_int);
                if (r < 0)
                        return r;
                if (*p == '.') {
                        p++;
                        frac = p;
                        while (isdigit((unsigned char) *p))
                                p++, n_frac++;
                }
                if (n_int == 0 && n_frac == 0)
                        return -EINVAL;
                while (*p == ' ')
                        p++;
                for (size_t i = 0; i < ELEMENTSOF(span_units); i++) {
                        size_t l = strlen(span_units[i].suffix);

                        if (strncmp(p, span_units[i].suffix, l) == 0 &&
                            !isalpha((unsigned char) p[l])) {
                                unit = span_units[i].usec;
                                p += l;
                                break;
                        }
                }
                if (unit == 0) {
                        /* A bare number is only allowed alone. */
                        if (any || isalpha((unsigned char) *p))
                                return -EINVAL;
                        while (isspace((unsigned char) *p))
                                p++;
                        if (*p)
                                return -EINVAL;
                        unit = default_unit;
                }
                r = add_scaled(&total, integer, frac, n_frac, unit);
                if (r < 0)
                        return r;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

char *timespan_format(char *buf, size_t len, usec_t t, usec_t accuracy) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "y", 31557600 * USEC_PER_SEC }, { "month", 2629800 * USEC_PER_SEC },
                { "w", USEC_PER_WEEK },          { "d", USEC_PER_DAY },
                { "h", USEC_PER_HOUR },          { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC },           { "ms", USEC_PER_MSEC },
                { "us", 1 },
        };
        size_t used = 0;

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (t == USEC_INFINITY) {
                snprintf(buf, len, "infinity");
                return buf;
        }
        if (t == 0) {
                snprintf(buf, len, "0");
                return buf;
        }
        accuracy = accuracy ?: 1;
        for (size_t i = 0; i < ELEMENTSOF(units) && t > 0; i++) {
                usec_t n;
                int k;

                if (units[i].usec < accuracy)
                        break;
                n = t / units[i].usec;
                if (n == 0)
                        continue;
                t -= n * units[i].usec;
                k = snprintf(buf + used, len - used, "%s%" PRIu64 "%s", used ? " " : "", n,
                             units[i].suffix);
                if (k < 0 || (size_t) k >= len - used)
                        break;
                used += (size_t) k;
        }
        if (used == 0)
                snprintf(buf, len, "0");
        return buf;
}

int iso8601_duration_parse(const char *s, usec_t *ret) {
        usec_t total = 0;
        bool in_time = false, any = false;
        const char *p = s;
        int r;

        if (*p != 'P' && *p != 'p')
                return -EINVAL;
        p++;
        while (*p) {
                uint64_t n;
                size_t digits;
                usec_t unit;

                if (*p == 'T' || *p == 't') {
                        if (in_time)
                                return -EINVAL;
                        in_time = true;
                        p++;
                        continue;
                }
                r = read_decimal(&p, UINT64_MAX, &n, &digits);
                if (r < 0)
                        return r;
                if (digits == 0)
                        return -EINVAL;
                switch (*p) {
                case 'Y':
                        unit = in_time ? 0 : 365 * USEC_PER_DAY;
                        break;
                case 'M':
                        unit = in_time ? USEC_PER_MINUTE : 30 * USEC_PER_DAY;
                        break;
                case 'W':
                        unit = in_time ? 0 : USEC_PER_WEEK;
                        break;
                case 'D':
                        unit = in_time ? 0 : USEC_PER_DAY;
                        break;
                case 'H':
                        unit = in_time ? USEC_PER_HOUR : 0;
                        break;
                case 'S':
                        unit = in_time ? USEC_PER_SEC : 0;
                        break;
                default:
                        return -EINVAL;
                }
                if (unit == 0)
                        return -EINVAL;
                p++;
                r = add_scaled(&total, n, NULL, 0, unit);
                if (r < 0)
                        return r;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned) (y - era * 400);
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d) {
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned) (z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int) (yoe + era * 400 + (*m <= 2));
}

static unsigned days_in_month(int y, unsigned m) {
        static const unsigned dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

        return m == 2 && leap ? 29 : dim[m - 1];
}

static int read_digits(const char **p, size_t n, unsigned *ret) {
        unsigned v = 0;

        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) (*p)[i]))
                        return -EINVAL;
                v = v * 10 + (unsigned) ((*p)[i] - '0');
        }
        *p += n;
        *ret = v;
        return 0;
}

int rfc3339_parse(const char *s, usec_t *ret) {
        unsigned year, month, day, hour, minute, second, usec = 0;
        const char *p = s;
        int64_t days, secs, offset = 0;

        if (read_digits(&p, 4, &year) < 0 || *p++ != '-' || read_digits(&p, 2, &month) < 0 ||
            *p++ != '-' || read_digits(&p, 2, &day) < 0)
                return -EINVAL;
        if (*p != 'T' && *p != 't' && *p != ' ')
                return -EINVAL;
        p++;
        if (read_digits(&p, 2, &hour) < 0 || *p++ != ':' || read_digits(&p, 2, &minute) < 0 ||
            *p++ != ':' || read_digits(&p, 2, &second) < 0)
                return -EINVAL;
        if (*p == '.') {
                unsigned scale_ = 100000;

                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                for (; isdigit((unsigned char) *p); p++) {
                        usec += (unsigned) (*p - '0') * scale_;
                        scale_ /= 10;
                }
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                unsigned oh, om;
                int sign = *p == '-' ? -1 : 1;

                p++;
                if (read_digits(&p, 2, &oh) < 0 || *p++ != ':' || read_digits(&p, 2, &om) < 0 ||
                    oh > 23 || om > 59)
                        return -EINVAL;
                offset = sign * (int64_t) (oh * 3600 + om * 60);
        }
        if (*p)
                return -EINVAL;
        if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month((int) year, month) ||
            hour > 23 || minute > 59 || second > 60)
                return -EINVAL;

        days = days_from_civil(year, month, day);
        secs = days * 86400 + hour * 3600 + minute * 60 + second - offset;
        if (secs < 0)
                return -ERANGE;
        *ret = (usec_t) secs * USEC_PER_SEC + usec;
        return 0;
}

char *rfc3339_format(char *buf, size_t len, usec_t t) {
        int64_t secs = (int64_t) (t / USEC_PER_SEC), days = secs / 86400, rem = secs % 86400;
        unsigned m, d;
        int y;

        civil_from_days(days, &y, &m, &d);
        snprintf(buf, len, "%04d-%02u-%02uT%02u:%02u:%02uZ", y, m, d, (unsigned) (rem / 3600),
                 (unsigned) (rem % 3600 / 60), (unsigned) (rem % 60));
        return buf;
}

int retry_after_parse(const char *s, usec_t now_realtime, usec_t *ret) {
        static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        char wkday[4], mon[4], zone[4];
        unsigned day, year, hh, mm, ss, m = 0;
        const char *p = s;
        uint64_t n = 0;
        int consumed = 0;
        int64_t t;
        usec_t at;
        int r;

        while (*p == ' ' || *p == '\t')
                p++;
        if (isdigit((unsigned char) *p)) {
                r = read_decimal(&p, UINT64_MAX / USEC_PER_SEC, &n, NULL);
                if (r < 0)
                        return r;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p)
                        return -EINVAL;
                *ret = n * USEC_PER_SEC;
                return 0;
        }

        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        if (sscanf(p, "%3[A-Za-z], %2u %3[A-Za-z] %4u %2u:%2u:%2u %3[A-Z]%n", wkday, &day, mon, &year, &hh,
                   &mm, &ss, zone, &consumed) != 8 ||
            p[consumed] != 0 || !streq(zone, "GMT"))
                return -EINVAL;
        while (m < 12 && !streq(months[m], mon))
                m++;
        if (m == 12 || year < 1970 || day < 1 || day > days_in_month((int) year, m + 1) || hh > 23 ||
            mm > 59 || ss > 60)
                return -EINVAL;
        t = days_from_civil(year, m + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
        at = (usec_t) t * USEC_PER_SEC;
        *ret = at > now_realtime ? at - now_realtime : 0;
        return 0;
}
