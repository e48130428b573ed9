/* SPDX-License-Identifier: MIT */
/* Token-bucket pacing per pace key, corrected by the server's remaining-quota counts
 * (the model is described in pacer.h). Pure: time is an argument; it must not read a
 * clock, log or do I/O. It only allocates a bucket the first time a key is used. */

#include <assert.h>
#include <math.h>

#include "hashmap.h"
#include "mem.h"
#include "pacer.h"

/* Counts are whole tokens (the server rounds down): an estimate up to one token above the
 * count is consistent with it; more means we assume too fast a refill. Below the count
 * (less the requests in flight) by this much means we assume too slow a one. */
#define TOLERANCE_OVER  1.25
#define TOLERANCE_UNDER 1.5
/* Tokens always kept back, however small the bucket (but at most half of it): what an
 * estimate may be off by between two counts (rounding, refill since the count). */
#define RESERVE_MIN 4.0
/* The assumed rate never drops below this share of the configured one. */
#define RATE_FLOOR_DIVISOR 64.0
#define RATE_STEP_DIVISOR  16.0
/* Without counts (Key Vault), how long answers must come without a 429 before the assumed
 * rate grows back by one step: from the floor to the configured rate in about a minute. */
#define RATE_RECOVER_USEC  (1 * USEC_PER_SEC)
#define WAIT_MIN_USEC      (1 * USEC_PER_MSEC)

struct bucket {
        double level; /* estimated tokens left, our outstanding requests taken */
        double rate;  /* assumed refill, tokens per second */
        double rate_floor;
        double size_seen;     /* largest count reported + 1: a lower bound of the bucket size; 0 = none */
        usec_t at;            /* time of level */
        usec_t blocked_until; /* from a 429's Retry-After */
        usec_t rate_changed_at; /* the last cut or raise of rate */
        double last_count;    /* the latest count reported; -1 = none */
        unsigned stale;       /* answers still due from requests sent before the last rate cut */
        bool cut_fresh;       /* no request went out since the last cut */
        unsigned outstanding; /* tokens taken and not released */
        bool observed;        /* an answer came back on this key */
};

struct pacer {
        struct hashmap *buckets; /* owned; values are struct bucket, owned */
};

int pacer_new(struct pacer **ret) {
        struct pacer *p;

        p = new0(struct pacer, 1);
        if (!p)
                return -ENOMEM;
        p->buckets = hashmap_new(false, mem_free);
        if (!p->buckets) {
                mem_free(p);
                return -ENOMEM;
        }
        *ret = p;
        return 0;
}

struct pacer *pacer_free(struct pacer *p) {
        if (!p)
                return NULL;
        hashmap_free(p->buckets);
        mem_free(p);
        return NULL;
}

static double bucket_size(const struct bucket *b, const struct pacer_limit *l) {
        if (b->size_seen > 0)
                return MIN(l->capacity, b->size_seen);
        return l->capacity;
}

static double bucket_reserve(const struct bucket *b, const struct pacer_limit *l) {
        double size = bucket_size(b, l);

        double reserve = MAX(size * l->reserve_fraction, MIN(RESERVE_MIN, size / 2));

        return MAX(0.0, MIN(reserve, size - 1));
}

static void bucket_refill(struct bucket *b, const struct pacer_limit *l, usec_t now) {
        if (now <= b->at)
                return;
        b->level = MIN(bucket_size(b, l), b->level + b->rate * (double)(now - b->at) / (double)USEC_PER_SEC);
        b->at = now;
}

static void bucket_cut(struct bucket *b, usec_t now) {
        b->rate = MAX(b->rate / 2, b->rate_floor);
        b->rate_changed_at = now;
        b->stale = b->outstanding;
        b->cut_fresh = true;
}

int pacer_acquire(struct pacer *p, const char *key, const struct pacer_limit *l, usec_t now,
                  usec_t *ret_wait_usec) {
        struct bucket *b;
        double reserve, need, wait, limit;
        int r;

        assert(l->capacity >= 1 && l->refill_per_sec > 0);

        b = hashmap_get(p->buckets, key);
        if (!b) {
                b = new0(struct bucket, 1);
                if (!b)
                        return -ENOMEM;
                *b = (struct bucket){
                        .level = l->capacity,
                        .rate = l->refill_per_sec,
                        .rate_floor = l->refill_per_sec / RATE_FLOOR_DIVISOR,
                        .last_count = -1,
                        .at = now,
                };
                r = hashmap_put(p->buckets, key, b);
                if (r < 0) {
                        mem_free(b);
                        return r;
                }
        }

        if (now < b->blocked_until) {
                *ret_wait_usec = b->blocked_until - now;
                return 1;
        }
        /* Until an answer tells us where the bucket stands, one request at a time. */
        if (!b->observed && b->outstanding > 0) {
                *ret_wait_usec = PACER_PROBE_WAIT_USEC;
                return 1;
        }

        bucket_refill(b, l, now);
        reserve = bucket_reserve(b, l);
        /* Never more in flight than the server's latest count has above the reserve:
         * what they take is only known when their answers come, and until then the level
         * is our guess of the refill. With this, a wrong guess costs speed, not a 429. */
        limit = b->last_count >= 0 ? b->last_count : bucket_size(b, l);
        if (b->outstanding > 0 && (double)b->outstanding >= MAX(1.0, limit - reserve)) {
                *ret_wait_usec = PACER_PROBE_WAIT_USEC;
                return 1;
        }
        need = reserve + 1 - b->level;
        if (need <= 0) {
                b->level -= 1;
                b->outstanding++;
                b->cut_fresh = false;
                return 0;
        }

        /* A hair below a whole microsecond is rounding, not a wait. */
        wait = ceil(need / b->rate * (double)USEC_PER_SEC - 1e-3);
        if (b->at > now)
                wait += (double)(b->at - now);
        *ret_wait_usec = MAX((usec_t)wait, WAIT_MIN_USEC);
        return 1;
}

void pacer_release(struct pacer *p, const char *key, const struct pacer_limit *l, int64_t remaining,
                   usec_t now) {
        struct bucket *b = hashmap_get(p->buckets, key);
        double hi, lo;
        bool first, may_cut;

        if (!b)
                return;
        if (b->outstanding > 0)
                b->outstanding--;
        /* Cut once per round trip: answers to requests sent before the last cut tell of
         * the old rate (TCP's rule, for the same reason). */
        may_cut = b->stale == 0 && !b->cut_fresh;
        if (b->stale > 0)
                b->stale--;
        b->observed = true;
        bucket_refill(b, l, now);
        if (remaining < 0) {
                /* A service that never sends counts (Key Vault) only ever says "slower" (a
                 * 429), never "faster": without this, a few 429s would pace it at the floor
                 * until restart. So the rate grows back a step a second while answers come
                 * and no 429 cuts it (a 429's own answer is released before it cuts). Keys
                 * with counts (ARM) are corrected by them instead. */
                if (b->size_seen <= 0 && b->rate < l->refill_per_sec && now >= b->blocked_until &&
                    now >= b->rate_changed_at + RATE_RECOVER_USEC) {
                        b->rate = MIN(l->refill_per_sec, b->rate + l->refill_per_sec / RATE_STEP_DIVISOR);
                        b->rate_changed_at = now;
                }
                return;
        }

        first = b->size_seen <= 0;
        b->last_count = (double)remaining;
        b->size_seen = MAX(b->size_seen, (double)remaining + 1);

        /* The count is the bucket right after this request was served. Requests of ours
         * still in flight may or may not be in it: the truth now is in [lo, hi]. */
        hi = (double)remaining;
        lo = hi - (double)b->outstanding;

        if (first) {
                b->level = MIN(b->level, lo);
        } else if (b->level > hi + TOLERANCE_OVER) {
                /* Fuller than the server says: it refills slower than we assume. */
                b->level = lo;
                if (may_cut)
                        bucket_cut(b, now);
        } else if (b->outstanding == 0 && b->level < hi - TOLERANCE_UNDER) {
                /* Emptier than the server says: it refills faster. Only trusted when
                 * nothing else is in flight: with answers overtaking each other, a count
                 * may be older than one already seen, and raising the estimate on a stale
                 * count is how a pacer walks into a 429. */
                b->level = hi;
                b->rate = MIN(l->refill_per_sec, b->rate + l->refill_per_sec / RATE_STEP_DIVISOR);
        }
        b->level = MIN(b->level, bucket_size(b, l));
}

void pacer_throttled(struct pacer *p, const char *key, usec_t until) {
        struct bucket *b = hashmap_get(p->buckets, key);

        if (!b)
                return;
        b->blocked_until = MAX(b->blocked_until, until);
        /* A 429 is the surest sign that we assumed too fast a refill. */
        if (b->stale == 0 && !b->cut_fresh)
                bucket_cut(b, until);
        /* The server says the bucket is empty: start refilling when the block ends. */
        b->level = MIN(b->level, 0.0);
        b->at = MAX(b->at, until);
}

int pacer_inspect(struct pacer *p, const char *key, const struct pacer_limit *l, usec_t now,
                  double *ret_level, double *ret_rate) {
        struct bucket *b = hashmap_get(p->buckets, key);

        if (!b)
                return -ENOENT;
        bucket_refill(b, l, now);
        if (ret_level)
                *ret_level = b->level;
        if (ret_rate)
                *ret_rate = b->rate;
        return 0;
}
