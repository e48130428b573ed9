/* SPDX-License-Identifier: MIT */
#pragma once

/* Request pacing: a model of the server's token bucket per pace key, kept in step with
 * the remaining-quota counts Azure sends back, so requests wait before the bucket runs
 * dry instead of being answered 429. Pure: time is an argument, no I/O, no clock.
 *
 * The model. ARM throttles with a token bucket per subscription, principal and operation
 * class (README §7.3: reads 250 refilled at 25/s, writes 200 at 10/s, deletes 200 at
 * 10/s) and reports what is left on every answer (x-ms-ratelimit-remaining-subscription-
 * reads/-writes/-deletes). The pacer keeps its own estimate of the level, takes a token
 * for every request it lets go, refills at an assumed rate, and corrects itself with every
 * count the server reports:
 *  - a count below the estimate means the server refills slower than assumed (or another
 *    client of the same principal spends from the bucket): the estimate drops to the count
 *    and the assumed rate halves (at most once a second);
 *  - a count above what could still be in flight means it refills faster: the estimate
 *    rises and the rate grows back by a sixteenth of the configured rate;
 *  - a reserve (a tenth of the bucket, at least 4 tokens or half a small bucket) is never
 *    spent, so rounding and the refill guessed between two counts cannot reach zero;
 *  - no more requests are in flight than the latest count has above the reserve: a wrong
 *    guess of the refill then costs speed, never a 429 (checked by simulation in
 *    tests/unit/test-pacer.c over bucket sizes 6-250, refills 1-25/s, 1-32 in flight).
 * Until the first answer on a key only one request goes (a probe): the count it brings
 * back is the truth the rest starts from. A 429 blocks the key until its Retry-After.
 * Key Vault sends no counts; there the model (a conservative share of the documented
 * ~4,000 requests per 10 s per vault) and 429s are all there is: a 429 halves the assumed
 * rate, and every second of answers without one grows it back by a sixteenth of the
 * configured rate (additive increase, as TCP does), so a burst of 429s slows a vault for
 * a minute at most, not until restart. */

#include "macro.h"

struct pacer_limit {
        double capacity;         /* bucket size, an upper bound */
        double refill_per_sec;   /* refill rate, an upper bound */
        double reserve_fraction; /* of the bucket size, never spent */
};

/* ARM per subscription and class (README §7.3, request-limits-and-throttling.md). */
#define PACER_LIMIT_ARM_READS                                                                               \
        ((struct pacer_limit){.capacity = 250, .refill_per_sec = 25, .reserve_fraction = 0.1})
#define PACER_LIMIT_ARM_WRITES                                                                              \
        ((struct pacer_limit){.capacity = 200, .refill_per_sec = 10, .reserve_fraction = 0.1})
#define PACER_LIMIT_ARM_DELETES                                                                             \
        ((struct pacer_limit){.capacity = 200, .refill_per_sec = 10, .reserve_fraction = 0.1})
/* Key Vault: documented ~4,000 GETs per 10 s per vault (rest-error-codes.md, service
 * limits); we allow a quarter of that, with a burst of 200. */
#define PACER_LIMIT_KEY_VAULT                                                                               \
        ((struct pacer_limit){.capacity = 200, .refill_per_sec = 100, .reserve_fraction = 0.1})

/* When a request must wait for an answer on its key (the probe), how long before the
 * caller asks again even if no answer came. Answers normally wake the queue earlier. */
#define PACER_PROBE_WAIT_USEC (1 * USEC_PER_SEC)

struct pacer;

/* Returns 0 or -ENOMEM. */
int pacer_new(struct pacer **ret);
/* Accepts NULL; returns NULL. */
struct pacer *pacer_free(struct pacer *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pacer *, pacer_free);

/* Asks to send one request on key at time now (any monotonic-enough clock, usec). Returns
 * 0 when it may go now (a token is taken: call pacer_release() when its answer came or it
 * failed), 1 with *ret_wait_usec > 0 when it must wait (nothing taken: ask again after
 * that delay, or earlier when an answer on the key came), or -ENOMEM (first use of a key).
 * l must be the same for every call on a key. */
int pacer_acquire(struct pacer *p, const char *key, const struct pacer_limit *l, usec_t now,
                  usec_t *ret_wait_usec);

/* A request that took a token ended. remaining is the server's count from the answer, or
 * a negative number when it sent none (error, no header, transport failure). */
void pacer_release(struct pacer *p, const char *key, const struct pacer_limit *l, int64_t remaining,
                   usec_t now);

/* The server throttled (429): nothing goes on key before 'until'. */
void pacer_throttled(struct pacer *p, const char *key, usec_t until);

/* For tests and metrics: the current estimate of the level (after refill to now) and the
 * assumed refill rate. Returns -ENOENT for a key never used. */
int pacer_inspect(struct pacer *p, const char *key, const struct pacer_limit *l, usec_t now,
                  double *ret_level, double *ret_rate);
