/* SPDX-License-Identifier: MIT */
#pragma once

/* When to send a failed request again, and whether at all. Pure: no clock, no
 * randomness of its own (the caller passes a random number), no I/O, no allocation. */

#include "macro.h"

struct backoff_conf {
        usec_t base_usec;            /* the shortest delay, and the first one's scale */
        usec_t cap_usec;             /* no computed delay is longer */
        usec_t retry_after_max_usec; /* a server's Retry-After is honoured up to this */
};

/* Defaults. The Azure SDKs start at 0.8-1 s and cap at 60-64 s (core-rest-pipeline
 * retryDelayInMs 1000, maxRetryDelayInMs 64000); Retry-After is honoured in full by the
 * SDKs, we cap it at 5 min so one bad answer cannot park a sweep for an hour. */
#define BACKOFF_BASE_USEC_DEFAULT            (1 * USEC_PER_SEC)
#define BACKOFF_CAP_USEC_DEFAULT             (60 * USEC_PER_SEC)
#define BACKOFF_RETRY_AFTER_MAX_USEC_DEFAULT (5 * USEC_PER_MINUTE)

/* IMDS answers 410 while it is being updated and is "available within 70 s"
 * (README §6.1): 410s are retried for at least this long, whatever max_retries says. */
#define BACKOFF_IMDS_GONE_WINDOW_USEC (70 * USEC_PER_SEC)
/* ... but never more attempts than this in all. */
#define BACKOFF_ATTEMPTS_HARD_MAX 32u

/* Decorrelated jitter ("Exponential Backoff And Jitter", AWS architecture blog):
 * uniform in [base, 3 * prev], capped; prev_usec == 0 means no delay yet (then the range
 * is [base, 3 * base]). random is any 64-bit random number. Never below base (unless
 * cap < base, then cap). */
usec_t backoff_next(const struct backoff_conf *c, usec_t prev_usec, uint64_t random);

/* What happened to one attempt. */
struct backoff_attempt {
        int error;       /* -errno of a transport failure; 0 when an HTTP answer came */
        long status;     /* HTTP status when error == 0 */
        bool sent;       /* the request may have reached the server */
        bool idempotent; /* GET (reads, polls); PUT/PATCH/POST/DELETE are not */
        bool imds;       /* the IMDS token endpoint: its own rules (README §6.1) */
        bool has_retry_after;
        usec_t retry_after_usec;
        unsigned attempt;       /* 1-based number of the attempt that just ended */
        unsigned max_retries;   /* retries allowed after the first attempt */
        usec_t elapsed_usec;    /* since the first attempt started */
        usec_t prev_delay_usec; /* the last delay used for this request, 0 if none */
};

/* True if the transport failure (a -errno from http.c) is worth another try: refused
 * or reset connections, timeouts, name resolution, broken transfers. Not TLS
 * verification (-EPERM), oversized answers (-E2BIG), -ENOMEM or bad URLs. */
bool backoff_error_transient(int error);

/* Decides. Returns true and *ret_delay_usec when the request should be sent again after
 * that delay; false when the outcome is final (success, a permanent failure, a write that
 * may have reached the server, or the attempts are used up). Rules:
 *  - transport failure: retried if transient and (!sent or idempotent);
 *  - 429 and 503: retried; with Retry-After the delay is that (capped), else backoff.
 *    A write is retried only with Retry-After (Azure rejected it unprocessed);
 *  - 408, 500, 502, 504: retried for idempotent requests only;
 *  - IMDS: also 404 and every 5xx; 410 is retried through BACKOFF_IMDS_GONE_WINDOW_USEC;
 *  - anything else (2xx, 3xx, other 4xx incl. 401) is final here. */
bool backoff_retry(const struct backoff_conf *c, const struct backoff_attempt *a, uint64_t random,
                   usec_t *ret_delay_usec);
