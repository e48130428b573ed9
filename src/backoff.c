/* SPDX-License-Identifier: MIT */
/* Retry delays (decorrelated jitter) and the retry decision for one failed attempt.
 * Pure: the random number and every time are arguments. It must not decide anything about
 * 401s: azure.c handles token refresh and the Key Vault challenge. */

#include "backoff.h"

static usec_t uniform(usec_t lo, usec_t hi, uint64_t random) {
        if (hi <= lo)
                return lo;
        if (hi - lo == UINT64_MAX)
                return random;
        return lo + random % (hi - lo + 1);
}

usec_t backoff_next(const struct backoff_conf *c, usec_t prev_usec, uint64_t random) {
        usec_t base = c->base_usec, hi;

        prev_usec = MAX(prev_usec, base);
        hi = prev_usec > UINT64_MAX / 3 ? UINT64_MAX : prev_usec * 3;
        if (c->cap_usec > 0)
                hi = MIN(hi, c->cap_usec);
        if (hi < base)
                return hi;
        return uniform(base, hi, random);
}

bool backoff_error_transient(int error) {
        switch (error) {
        case -ECONNREFUSED:
        case -ECONNRESET:
        case -ECONNABORTED:
        case -ETIMEDOUT:
        case -EHOSTUNREACH:
        case -ENETUNREACH:
        case -EHOSTDOWN:
        case -EPIPE:
        case -EIO:           /* send/receive failure, HTTP/2 stream error */
        case -EPROTO:        /* a garbled answer, e.g. a connection cut mid-headers */
        case -ENODATA:       /* empty reply */
        case -EADDRNOTAVAIL: /* name did not resolve (may be a DNS hiccup) */
                return true;
        default:
                return false;
        }
}

static bool attempts_left(const struct backoff_attempt *a) {
        return a->attempt <= a->max_retries && a->attempt < BACKOFF_ATTEMPTS_HARD_MAX;
}

static usec_t retry_after_delay(const struct backoff_conf *c, const struct backoff_attempt *a) {
        usec_t max = c->retry_after_max_usec ?: BACKOFF_RETRY_AFTER_MAX_USEC_DEFAULT;

        return MIN(a->retry_after_usec, max);
}

bool backoff_retry(const struct backoff_conf *c, const struct backoff_attempt *a, uint64_t random,
                   usec_t *ret_delay_usec) {
        usec_t delay = backoff_next(c, a->prev_delay_usec, random);
        long s = a->status;

        if (a->error < 0) {
                if (!backoff_error_transient(a->error) || !attempts_left(a))
                        return false;
                /* A write that may have reached the server must not be repeated blindly:
                 * Azure may have applied it. */
                if (a->sent && !a->idempotent)
                        return false;
                *ret_delay_usec = delay;
                return true;
        }

        if (a->imds) {
                /* IMDS says 410 while it updates itself, "available within 70 s". */
                if (s == 410) {
                        if (a->elapsed_usec >= BACKOFF_IMDS_GONE_WINDOW_USEC && !attempts_left(a))
                                return false;
                        if (a->attempt >= BACKOFF_ATTEMPTS_HARD_MAX)
                                return false;
                        *ret_delay_usec = delay;
                        return true;
                }
                if (s == 404 || s == 408 || s == 429 || (s >= 500 && s <= 599)) {
                        if (!attempts_left(a))
                                return false;
                        *ret_delay_usec = (s == 429 || s == 503) && a->has_retry_after
                                                  ? retry_after_delay(c, a)
                                                  : delay;
                        return true;
                }
                return false;
        }

        if (s == 429 || s == 503) {
                if (!attempts_left(a))
                        return false;
                if (a->has_retry_after) {
                        *ret_delay_usec = retry_after_delay(c, a);
                        return true;
                }
                if (!a->idempotent)
                        return false;
                *ret_delay_usec = delay;
                return true;
        }

        if (s == 408 || s == 500 || s == 502 || s == 504) {
                if (!a->idempotent || !attempts_left(a))
                        return false;
                *ret_delay_usec = delay;
                return true;
        }

        return false;
}
