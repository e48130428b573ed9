/* SPDX-License-Identifier: MIT */
/* stall: the loop-stall monitor on a real libev loop with a fake clock. Callbacks "take
 * time" by advancing the fake clock, so nothing sleeps and every figure is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "stall.h"

static usec_t fake_now = 1000 * USEC_PER_SEC;

static usec_t fake_clock(void) {
        return fake_now;
}

struct seen {
        usec_t spans[8];
        size_t n;
};

static void on_stall(struct stall_monitor *s, usec_t usec, void *userdata) {
        struct seen *seen = userdata;

        if (seen->n < ELEMENTSOF(seen->spans))
                seen->spans[seen->n++] = usec;
}

/* One timer per "callback": it takes its cost of fake time and starts the next step's timer,
 * which libev collects only after the next poll: one step per loop iteration, whatever the
 * machine's speed. The last step breaks the loop. */
struct step {
        ev_timer timer;
        usec_t cost;
        struct step *next;
};

static void on_step(struct ev_loop *loop, ev_timer *w, int revents) {
        struct step *st = w->data;

        fake_now += st->cost;
        if (st->next)
                ev_timer_start(loop, &st->next->timer);
        else
                ev_break(loop, EVBREAK_ALL);
}

/* Runs the steps, each in its own loop iteration, under a monitor. */
static void run_steps(struct stall_monitor *mon, const usec_t *costs, size_t n, struct seen *seen,
                      usec_t threshold) {
        struct ev_loop *loop = ev_loop_new(0);
        struct step steps[8] = {};
        struct stall_conf conf = {
                .threshold_usec = threshold, .clock = fake_clock, .on_stall = on_stall, .userdata = seen};

        assert_non_null(loop);
        assert_true(n < ELEMENTSOF(steps));
        assert_int_equal(stall_monitor_start(mon, loop, &conf), 0);
        for (size_t i = 0; i <= n; i++) {
                steps[i].cost = i < n ? costs[i] : 0;
                steps[i].next = i < n ? &steps[i + 1] : NULL;
                ev_timer_init(&steps[i].timer, on_step, 0., 0.);
                steps[i].timer.data = &steps[i];
        }
        ev_timer_start(loop, &steps[0].timer);
        ev_run(loop, 0);
        for (size_t i = 0; i <= n; i++)
                ev_timer_stop(loop, &steps[i].timer);
        stall_monitor_stop(mon);
        ev_loop_destroy(loop);
}

static void test_stalls_reported(void **state) {
        const usec_t costs[] = {200 * USEC_PER_MSEC, 1500 * USEC_PER_MSEC, USEC_PER_SEC, 1000001, 0};
        struct stall_monitor mon = {};
        struct seen seen = {};

        run_steps(&mon, costs, ELEMENTSOF(costs), &seen, 0);
        /* Over the default threshold of 1 s: 1.5 s and 1.000001 s; exactly 1 s is not a stall. */
        assert_int_equal(seen.n, 2);
        assert_int_equal(seen.spans[0], 1500 * USEC_PER_MSEC);
        assert_int_equal(seen.spans[1], 1000001);
        assert_int_equal(mon.stalls, 2);
        assert_int_equal(stall_monitor_max_usec(&mon), 1500 * USEC_PER_MSEC);
        assert_true(mon.iterations >= ELEMENTSOF(costs));
}

static void test_no_stall(void **state) {
        const usec_t costs[] = {10 * USEC_PER_MSEC, 999 * USEC_PER_MSEC, 0};
        struct stall_monitor mon = {};
        struct seen seen = {};

        run_steps(&mon, costs, ELEMENTSOF(costs), &seen, 0);
        assert_int_equal(seen.n, 0);
        assert_int_equal(mon.stalls, 0);
        assert_int_equal(stall_monitor_max_usec(&mon), 999 * USEC_PER_MSEC);
}

static void test_threshold(void **state) {
        const usec_t costs[] = {300 * USEC_PER_MSEC, 200 * USEC_PER_MSEC};
        struct stall_monitor mon = {};
        struct seen seen = {};

        run_steps(&mon, costs, ELEMENTSOF(costs), &seen, 250 * USEC_PER_MSEC);
        assert_int_equal(seen.n, 1);
        assert_int_equal(seen.spans[0], 300 * USEC_PER_MSEC);
}

static void test_restart_resets(void **state) {
        const usec_t first[] = {3 * USEC_PER_SEC};
        const usec_t second[] = {5 * USEC_PER_MSEC};
        struct stall_monitor mon = {};
        struct seen seen = {};

        run_steps(&mon, first, ELEMENTSOF(first), &seen, 0);
        assert_int_equal(stall_monitor_max_usec(&mon), 3 * USEC_PER_SEC);
        run_steps(&mon, second, ELEMENTSOF(second), &seen, 0);
        assert_int_equal(stall_monitor_max_usec(&mon), 5 * USEC_PER_MSEC);
        assert_int_equal(mon.stalls, 0);
}

static void test_bad_conf(void **state) {
        struct ev_loop *loop = ev_loop_new(0);
        struct stall_monitor mon = {};

        assert_int_equal(stall_monitor_start(&mon, loop, &(struct stall_conf){}), -EINVAL);
        assert_int_equal(stall_monitor_start(&mon, NULL, &(struct stall_conf){.clock = fake_clock}),
                         -EINVAL);
        stall_monitor_stop(&mon); /* never started: nothing happens */
        ev_loop_destroy(loop);
}

static void test_does_not_keep_loop_alive(void **state) {
        /* With only the monitor's watchers, ev_run returns at once. */
        struct ev_loop *loop = ev_loop_new(0);
        struct stall_monitor mon = {};

        assert_int_equal(stall_monitor_start(&mon, loop, &(struct stall_conf){.clock = fake_clock}), 0);
        assert_false(ev_run(loop, 0));
        stall_monitor_stop(&mon);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stalls_reported), cmocka_unit_test(test_no_stall),
                cmocka_unit_test(test_threshold),       cmocka_unit_test(test_restart_resets),
                cmocka_unit_test(test_bad_conf),        cmocka_unit_test(test_does_not_keep_loop_alive),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
