/* SPDX-License-Identifier: MIT */
#pragma once

/* Time parsing and formatting, pure but for now_usec(). Every parser takes a C string
 * from an untrusted source and returns 0 or a negative errno (-EINVAL for bad syntax,
 * -ERANGE for overflow), leaving *ret untouched on failure. */

#include <time.h>

#include "macro.h"

/* The only clock reader. Only manager.c and main.c call it; everything else takes time
 * as an argument. */
usec_t now_usec(clockid_t clock);

/* systemd time spans: "30", "30s", "5min", "1h 30min", "7d", "2w", "infinity".
 * A bare number means default_unit (USEC_PER_SEC for the *Sec= keys). */
int timespan_parse(const char *s, usec_t default_unit, usec_t *ret);
/* Formats as "1d 2h 3min 4s" (largest units first, at most 'accuracy' precision;
 * "infinity" for USEC_INFINITY, "0" for 0). Returns buf. */
char *timespan_format(char *buf, size_t len, usec_t t, usec_t accuracy);
#define TIMESPAN_MAX 64

/* ISO 8601 durations as Key Vault uses them: "P90D", "P2Y", "P18M", "PT12H", "P1Y2M3DT4H5M6S",
 * "P2W". Years count 365 days, months 30 days. */
int iso8601_duration_parse(const char *s, usec_t *ret);

/* RFC 3339 / ISO 8601 date-times as ARM sends them: "2020-01-01T17:18:19.1234567Z",
 * "2020-01-01T17:18:19+02:00", "2020-01-01T17:18:19" (taken as UTC). */
int rfc3339_parse(const char *s, usec_t *ret);
/* "2026-11-23T08:24:00Z" (seconds precision, UTC). Returns buf. */
char *rfc3339_format(char *buf, size_t len, usec_t t);
#define RFC3339_MAX 32

/* Retry-After: delay-seconds or an HTTP-date (RFC 9110). Returns the delay relative to
 * now_realtime; a date in the past gives 0. */
int retry_after_parse(const char *s, usec_t now_realtime, usec_t *ret);

/* Converts Unix seconds to usec_t, saturating; negative values give 0. */
usec_t usec_from_unix(int64_t seconds);
