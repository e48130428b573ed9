/* SPDX-License-Identifier: MIT */
/* pacer: token-bucket pacing in virtual time. Step tests of the model, then simulations
 * of a client against a server bucket: a sweep must see no 429, and still go about as
 * fast as the server allows. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "mem.h"
#include "pacer.h"

#define MS  USEC_PER_MSEC
#define SEC USEC_PER_SEC

static const struct pacer_limit small = {.capacity = 10, .refill_per_sec = 2, .reserve_fraction = 0.1};

static void test_probe_then_burst(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        usec_t now = 1000 * SEC, wait = 0;

        assert_int_equal(pacer_new(&p), 0);
        /* First request goes; a second waits for the probe's answer. */
        assert_int_equal(pacer_acquire(p, "k", &small, now, &wait), 0);
        assert_int_equal(pacer_acquire(p, "k", &small, now, &wait), 1);
        assert_int_equal(wait, PACER_PROBE_WAIT_USEC);
        /* Other keys are independent. */
        assert_int_equal(pacer_acquire(p, "other", &small, now, &wait), 0);

        /* The server says 9 left; the reserve is 4 (at most half of a small bucket): 5 go
         * at once, and no more may be in flight than that. */
        pacer_release(p, "k", &small, 9, now);
        for (int i = 0; i < 5; i++)
                assert_int_equal(pacer_acquire(p, "k", &small, now, &wait), 0);
        assert_int_equal(pacer_acquire(p, "k", &small, now, &wait), 1);
        assert_int_equal(wait, PACER_PROBE_WAIT_USEC);
        for (int i = 8; i >= 4; i--)
                pacer_release(p, "k", &small, i, now);
        /* Level 4, the reserve: one more token takes half a second at 2/s. */
        assert_int_equal(pacer_acquire(p, "k", &small, now, &wait), 1);
        assert_int_equal(wait, 500 * MS);
        assert_int_equal(pacer_acquire(p, "k", &small, now + 499 * MS, &wait), 1);
        assert_int_equal(wait, 1 * MS);
        assert_int_equal(pacer_acquire(p, "k", &small, now + 500 * MS, &wait), 0);
}

static void test_probe_without_count(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        usec_t wait;

        /* Key Vault sends no counts: after the probe the model alone paces. */
        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "kv", &small, 0, &wait), 0);
        pacer_release(p, "kv", &small, -1, 10 * MS);
        for (int i = 0; i < 5; i++)
                assert_int_equal(pacer_acquire(p, "kv", &small, 10 * MS, &wait), 0);
        assert_int_equal(pacer_acquire(p, "kv", &small, 10 * MS, &wait), 1);
        assert_int_equal(wait, 490 * MS); /* 10 ms of refill already in */
}

static void test_count_corrects_estimate(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        const struct pacer_limit l = {.capacity = 100, .refill_per_sec = 10, .reserve_fraction = 0.1};
        double level, rate;
        usec_t wait, t = 0;

        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "k", &l, t, &wait), 0);
        pacer_release(p, "k", &l, 99, t);
        assert_int_equal(pacer_inspect(p, "k", &l, t, &level, &rate), 0);
        assert_true(fabs(level - 99) < 1e-9);
        assert_true(fabs(rate - 10) < 1e-9);

        /* Another client drains the bucket: a count far below our estimate cuts the
         * estimate to it and halves the rate. */
        assert_int_equal(pacer_acquire(p, "k", &l, t, &wait), 0);
        assert_int_equal(pacer_acquire(p, "k", &l, t, &wait), 0);
        pacer_release(p, "k", &l, 40, t + 100 * MS);
        assert_int_equal(pacer_inspect(p, "k", &l, t + 100 * MS, &level, &rate), 0);
        assert_true(fabs(level - 39) < 1e-9); /* 40, less the one still in flight */
        assert_true(fabs(rate - 5) < 1e-9);

        /* The other request was sent before the cut: its low count is old news and does
         * not halve again. */
        pacer_release(p, "k", &l, 20, t + 100 * MS);
        assert_int_equal(pacer_inspect(p, "k", &l, t + 100 * MS, &level, &rate), 0);
        assert_true(fabs(level - 20) < 1e-9);
        assert_true(fabs(rate - 5) < 1e-9);

        /* A request sent after the cut that finds the bucket lower still does. */
        assert_int_equal(pacer_acquire(p, "k", &l, t + 200 * MS, &wait), 0);
        pacer_release(p, "k", &l, 15, t + 200 * MS);
        assert_int_equal(pacer_inspect(p, "k", &l, t + 200 * MS, &level, &rate), 0);
        assert_true(fabs(level - 15) < 1e-9);
        assert_true(fabs(rate - 2.5) < 1e-9);

        /* With nothing else in flight, a count above the estimate raises it and brings
         * the rate back up, a sixteenth of the configured rate at a time. */
        assert_int_equal(pacer_acquire(p, "k", &l, t + 300 * MS, &wait), 0);
        pacer_release(p, "k", &l, 60, t + 300 * MS);
        assert_int_equal(pacer_inspect(p, "k", &l, t + 300 * MS, &level, &rate), 0);
        assert_true(fabs(level - 60) < 1e-9);
        assert_true(fabs(rate - 3.125) < 1e-9);

        /* Within tolerance nothing changes. */
        assert_int_equal(pacer_acquire(p, "k", &l, t + 300 * MS, &wait), 0);
        pacer_release(p, "k", &l, 60, t + 300 * MS);
        assert_int_equal(pacer_inspect(p, "k", &l, t + 300 * MS, &level, &rate), 0);
        assert_true(fabs(level - 59) < 1e-9);
        assert_true(fabs(rate - 3.125) < 1e-9);
        assert_int_equal(pacer_inspect(p, "nope", &l, t, &level, &rate), -ENOENT);
}

static void test_stale_count_never_raises(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        const struct pacer_limit l = {.capacity = 100, .refill_per_sec = 10, .reserve_fraction = 0.1};
        double level;
        usec_t wait;

        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "k", &l, 0, &wait), 0);
        pacer_release(p, "k", &l, 50, 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(pacer_acquire(p, "k", &l, 0, &wait), 0);
        /* Level 47. An answer served early (count 49) arrives while two are still out:
         * it may be older than what the server knows now, so the estimate stays. */
        pacer_release(p, "k", &l, 49, 0);
        assert_int_equal(pacer_inspect(p, "k", &l, 0, &level, NULL), 0);
        assert_true(fabs(level - 47) < 1e-9);
}

static void test_in_flight_counted(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        const struct pacer_limit l = {.capacity = 100, .refill_per_sec = 10, .reserve_fraction = 0.1};
        double level;
        usec_t wait;

        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "k", &l, 0, &wait), 0);
        pacer_release(p, "k", &l, 50, 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(pacer_acquire(p, "k", &l, 0, &wait), 0);
        /* An answer says 30 left while 4 others are still out: the server may not have
         * counted them yet, so we assume 26. */
        pacer_release(p, "k", &l, 30, 0);
        assert_int_equal(pacer_inspect(p, "k", &l, 0, &level, NULL), 0);
        assert_true(fabs(level - 26) < 1e-9);
}

static void test_in_flight_limited_by_count(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        const struct pacer_limit l = {.capacity = 100, .refill_per_sec = 1000, .reserve_fraction = 0.1};
        usec_t wait;
        int n = 0;

        /* However fast we think the bucket refills, no more go out than the last count
         * has above the reserve (12 - 4 = 8: the bucket seen is 13, its reserve 4). */
        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "k", &l, 0, &wait), 0);
        pacer_release(p, "k", &l, 12, 0);
        for (usec_t t = 0; t < 10 * SEC; t += 100 * MS)
                if (pacer_acquire(p, "k", &l, t, &wait) == 0)
                        n++;
        assert_int_equal(n, 8);
}

static void test_throttled(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        double rate;
        usec_t wait;

        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "k", &small, 0, &wait), 0);
        pacer_release(p, "k", &small, 9, 0);
        pacer_throttled(p, "k", 30 * SEC);
        pacer_throttled(p, "k", 10 * SEC); /* an earlier end never shortens the block */
        assert_int_equal(pacer_acquire(p, "k", &small, 1 * SEC, &wait), 1);
        assert_int_equal(wait, 29 * SEC);
        /* The 429 halved the rate (2/s to 1/s); after the block the bucket refills from
         * empty: reserve 4 + 1 at 1/s. */
        assert_int_equal(pacer_inspect(p, "k", &small, 30 * SEC, NULL, &rate), 0);
        assert_true(fabs(rate - 1) < 1e-9);
        assert_int_equal(pacer_acquire(p, "k", &small, 30 * SEC, &wait), 1);
        assert_int_equal(wait, 5 * SEC);
        assert_int_equal(pacer_acquire(p, "k", &small, 35 * SEC, &wait), 0);
        pacer_throttled(p, "unknown", 5 * SEC); /* no bucket yet: nothing to do */
}

static void test_recovers_without_counts(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        const struct pacer_limit kv = PACER_LIMIT_KEY_VAULT;
        usec_t t = 0, wait;
        double rate, low;

        /* Every request answered 429: the rate falls far below the configured one (each
         * wait for the bucket is long enough for one step back before the next cut). */
        assert_int_equal(pacer_new(&p), 0);
        for (int i = 0; i < 8; i++) {
                while (pacer_acquire(p, "kv", &kv, t, &wait) == 1)
                        t += wait;
                pacer_release(p, "kv", &kv, -1, t);
                pacer_throttled(p, "kv", t + 10 * MS);
                t += 10 * MS;
        }
        assert_int_equal(pacer_inspect(p, "kv", &kv, t, NULL, &low), 0);
        assert_true(low < kv.refill_per_sec / 8);

        /* Answers without a 429 bring it back a sixteenth of the configured rate a second,
         * never above it; answers in the same second as a raise do not raise again. */
        for (int s = 1; s <= 20; s++) {
                usec_t at = t + (usec_t) s * SEC;

                for (int i = 0; i < 3; i++) {
                        if (pacer_acquire(p, "kv", &kv, at, &wait) == 0)
                                pacer_release(p, "kv", &kv, -1, at);
                }
                assert_int_equal(pacer_inspect(p, "kv", &kv, at, NULL, &rate), 0);
                assert_true(rate <= kv.refill_per_sec);
                assert_true(rate <= low + s * kv.refill_per_sec / 16 + 1e-9);
        }
        assert_true(fabs(rate - kv.refill_per_sec) < 1e-9);
        t += 21 * SEC;

        /* A 429 cuts it again at once. */
        assert_int_equal(pacer_acquire(p, "kv", &kv, t, &wait), 0);
        pacer_release(p, "kv", &kv, -1, t);
        pacer_throttled(p, "kv", t + SEC);
        assert_int_equal(pacer_inspect(p, "kv", &kv, t, NULL, &rate), 0);
        assert_true(fabs(rate - kv.refill_per_sec / 2) < 1e-9);
}

static void test_counted_key_not_raised_without_count(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        usec_t wait;
        double rate;

        /* ARM: once counts came, only counts raise the rate; an error answer (no count)
         * seconds later does not. */
        assert_int_equal(pacer_new(&p), 0);
        assert_int_equal(pacer_acquire(p, "arm", &small, 0, &wait), 0);
        pacer_release(p, "arm", &small, 9, 0);
        pacer_throttled(p, "arm", 1 * SEC);
        assert_int_equal(pacer_acquire(p, "arm", &small, 10 * SEC, &wait), 0);
        pacer_release(p, "arm", &small, -1, 10 * SEC);
        assert_int_equal(pacer_inspect(p, "arm", &small, 10 * SEC, NULL, &rate), 0);
        assert_true(fabs(rate - 1) < 1e-9);
}

static void test_oom(void **state) {
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        usec_t wait;

        mem_fail_at(1, false);
        assert_int_equal(pacer_new(&p), -ENOMEM);
        mem_fail_at(2, false);
        assert_int_equal(pacer_new(&p), -ENOMEM);
        mem_fail_at(0, false);
        assert_int_equal(pacer_new(&p), 0);
        for (unsigned n = 1; n <= 3; n++) {
                mem_fail_at(n, false);
                int r = pacer_acquire(p, "k", &small, 0, &wait);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
        }
}

/* ---- simulation ---------------------------------------------------------------- */

struct server {
        double capacity, refill, level;
        usec_t at;
};

static bool server_take(struct server *s, usec_t now, int64_t *ret_remaining) {
        s->level = MIN(s->capacity, s->level + s->refill * (double)(now - s->at) / SEC);
        s->at = now;
        if (s->level < 1)
                return false;
        s->level -= 1;
        *ret_remaining = (int64_t)floor(s->level);
        return true;
}

struct sim_result {
        unsigned throttled;
        usec_t duration;
};

/* n requests through a client with 'parallel' in flight at most; each takes latency
 * (server sees it after half of it; the jittered part makes answers overtake each other).
 * Throttled requests are retried after the server's Retry-After (1 s). */
static struct sim_result simulate(const struct pacer_limit *l, struct server srv, unsigned n,
                                  unsigned parallel, usec_t latency, bool jitter) {
        struct flight {
                usec_t served, done;
                int64_t remaining;
                bool ok, counted;
        } fl[64];
        _cleanup_(pacer_freep) struct pacer *p = NULL;
        struct sim_result res = {};
        unsigned sent = 0, done = 0, in_flight = 0;
        usec_t now = 0, wake = 0;
        uint64_t x = 2463534242;

        assert_true(parallel <= ELEMENTSOF(fl));
        assert_int_equal(pacer_new(&p), 0);
        for (unsigned i = 0; i < parallel; i++)
                fl[i].done = USEC_INFINITY;

        while (done < n) {
                usec_t next = USEC_INFINITY, wait;

                /* Serve and complete what is due. */
                for (unsigned i = 0; i < parallel; i++) {
                        if (fl[i].done == USEC_INFINITY)
                                continue;
                        if (!fl[i].counted && fl[i].served <= now) {
                                fl[i].ok = server_take(&srv, fl[i].served, &fl[i].remaining);
                                fl[i].counted = true;
                        }
                        if (fl[i].done <= now) {
                                fl[i].done = USEC_INFINITY;
                                in_flight--;
                                wake = now; /* an answer wakes the queue, as in azure.c */
                                if (fl[i].ok) {
                                        pacer_release(p, "k", l, fl[i].remaining, now);
                                        done++;
                                } else {
                                        res.throttled++;
                                        pacer_release(p, "k", l, -1, now);
                                        pacer_throttled(p, "k", now + SEC);
                                        sent--; /* send it again */
                                }
                        }
                }

                /* Send what the pacer lets go. */
                while (sent < n && in_flight < parallel && now >= wake) {
                        int r = pacer_acquire(p, "k", l, now, &wait);
                        assert_true(r >= 0);
                        if (r > 0) {
                                wake = now + wait;
                                break;
                        }
                        for (unsigned i = 0; i < parallel; i++)
                                if (fl[i].done == USEC_INFINITY) {
                                        usec_t lat = latency;
                                        if (jitter) {
                                                x ^= x << 13, x ^= x >> 17, x ^= x << 5;
                                                lat += (x % (latency * 3));
                                        }
                                        fl[i] = (struct flight){.served = now + lat / 2, .done = now + lat};
                                        break;
                                }
                        sent++;
                        in_flight++;
                }

                if (done == n)
                        break;
                for (unsigned i = 0; i < parallel; i++) {
                        if (fl[i].done == USEC_INFINITY)
                                continue;
                        if (!fl[i].counted)
                                next = MIN(next, fl[i].served);
                        next = MIN(next, fl[i].done);
                }
                if (sent < n && in_flight < parallel)
                        next = MIN(next, MAX(wake, now + 1));
                if (next == USEC_INFINITY)
                        fail_msg("stuck: sent %u done %u in flight %u now %llu wake %llu", sent, done,
                                 in_flight, (unsigned long long)now, (unsigned long long)wake);
                now = MAX(now, next);
                assert_true(now < 24 * USEC_PER_HOUR); /* a stuck simulation fails, never hangs */
        }
        res.duration = now;
        return res;
}

static void test_sim_azure_bucket(void **state) {
        /* Azure's read bucket, full at start: 3,000 reads, 16 in flight, 30 ms each. */
        const struct pacer_limit l = PACER_LIMIT_ARM_READS;
        struct server srv = {.capacity = 250, .refill = 25, .level = 250};
        struct sim_result r = simulate(&l, srv, 3000, 16, 30 * MS, false);
        double ideal = (3000.0 - 250) / 25;

        printf("azure bucket: %u throttled, %.1f s (ideal %.1f s)\n", r.throttled, (double)r.duration / SEC,
               ideal);
        assert_int_equal(r.throttled, 0);
        assert_true((double)r.duration / SEC < ideal * 1.25);
}

static void test_sim_azure_bucket_jitter(void **state) {
        const struct pacer_limit l = PACER_LIMIT_ARM_READS;
        struct server srv = {.capacity = 250, .refill = 25, .level = 250};
        struct sim_result r = simulate(&l, srv, 3000, 32, 40 * MS, true);
        double ideal = (3000.0 - 250) / 25;

        printf("azure bucket, jitter: %u throttled, %.1f s (ideal %.1f s)\n", r.throttled,
               (double)r.duration / SEC, ideal);
        assert_int_equal(r.throttled, 0);
        assert_true((double)r.duration / SEC < ideal * 1.25);
}

static void test_sim_half_empty(void **state) {
        /* Someone else already spent most of the bucket. */
        const struct pacer_limit l = PACER_LIMIT_ARM_READS;
        struct server srv = {.capacity = 250, .refill = 25, .level = 12};
        struct sim_result r = simulate(&l, srv, 1000, 16, 30 * MS, true);

        printf("half-empty bucket: %u throttled, %.1f s\n", r.throttled, (double)r.duration / SEC);
        assert_int_equal(r.throttled, 0);
        assert_true((double)r.duration / SEC < 1000.0 / 25 * 1.5);
}

static void test_sim_slower_server(void **state) {
        /* The server's bucket is far smaller and slower than the limit we assume: the
         * counts teach the pacer; no 429, and at least half the server's rate. */
        const struct pacer_limit l = PACER_LIMIT_ARM_READS;
        struct server srv = {.capacity = 20, .refill = 4, .level = 20};
        struct sim_result r = simulate(&l, srv, 400, 8, 20 * MS, true);
        double ideal = (400.0 - 20) / 4;

        printf("slower server: %u throttled, %.1f s (ideal %.1f s)\n", r.throttled, (double)r.duration / SEC,
               ideal);
        assert_int_equal(r.throttled, 0);
        assert_true((double)r.duration / SEC < ideal * 2);
}

static void test_sim_writes(void **state) {
        const struct pacer_limit l = PACER_LIMIT_ARM_WRITES;
        struct server srv = {.capacity = 200, .refill = 10, .level = 200};
        struct sim_result r = simulate(&l, srv, 600, 4, 200 * MS, true);

        printf("writes: %u throttled, %.1f s\n", r.throttled, (double)r.duration / SEC);
        assert_int_equal(r.throttled, 0);
}

static void test_sim_sweep(void **state) {
        /* Many server buckets, client widths and latencies against Azure's read limit: none
         * may see a 429. */
        const struct pacer_limit l = PACER_LIMIT_ARM_READS;
        const double sizes[] = {6, 10, 30, 100, 250}, rates[] = {1, 3, 10, 25};
        const unsigned widths[] = {1, 4, 16, 32};
        const usec_t latencies[] = {5 * MS, 50 * MS, 300 * MS};
        unsigned runs = 0, throttled = 0;

        for (size_t a = 0; a < ELEMENTSOF(sizes); a++)
                for (size_t b = 0; b < ELEMENTSOF(rates); b++)
                        for (size_t c = 0; c < ELEMENTSOF(widths); c++)
                                for (size_t d = 0; d < ELEMENTSOF(latencies); d++) {
                                        struct server srv = {
                                                .capacity = sizes[a], .refill = rates[b], .level = sizes[a]};
                                        unsigned n = (unsigned)(sizes[a] + rates[b] * 20);
                                        struct sim_result r =
                                                simulate(&l, srv, n, widths[c], latencies[d], true);
                                        /* The server's pace, or the client's own: n requests of
                                         * 2.5 x latency on average, width at a time. */
                                        double ideal = MAX(MAX(0, (n - sizes[a]) / rates[b]),
                                                           n * 2.5 * (double)latencies[d] / SEC /
                                                                   MIN(widths[c], MAX(1, sizes[a] / 2)));

                                        runs++;
                                        if (r.throttled > 0) {
                                                printf("size %.0f rate %.0f width %u latency %llu ms: %u "
                                                       "throttled\n",
                                                       sizes[a], rates[b], widths[c],
                                                       (unsigned long long)(latencies[d] / MS), r.throttled);
                                                throttled++;
                                        }
                                        if ((double)r.duration / SEC > ideal * 2.5 + 5)
                                                fail_msg(
                                                        "size %.0f rate %.0f width %u: %.1f s, ideal %.1f s",
                                                        sizes[a], rates[b], widths[c],
                                                        (double)r.duration / SEC, ideal);
                                }
        printf("%u runs, %u with a 429\n", runs, throttled);
        assert_int_equal(throttled, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_probe_then_burst),
                cmocka_unit_test(test_probe_without_count),
                cmocka_unit_test(test_count_corrects_estimate),
                cmocka_unit_test(test_stale_count_never_raises),
                cmocka_unit_test(test_in_flight_counted),
                cmocka_unit_test(test_in_flight_limited_by_count),
                cmocka_unit_test(test_throttled),
                cmocka_unit_test(test_recovers_without_counts),
                cmocka_unit_test(test_counted_key_not_raised_without_count),
                cmocka_unit_test(test_oom),
                cmocka_unit_test(test_sim_azure_bucket),
                cmocka_unit_test(test_sim_azure_bucket_jitter),
                cmocka_unit_test(test_sim_half_empty),
                cmocka_unit_test(test_sim_slower_server),
                cmocka_unit_test(test_sim_writes),
                cmocka_unit_test(test_sim_sweep),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
