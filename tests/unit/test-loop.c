/* SPDX-License-Identifier: MIT */
/* loop_reserve: after it, what a sweep does with libev (descriptors up to the reserved
 * number, timers, pending events of every priority, signals) allocates nothing; without
 * it, the same does. libev's allocator is counted through ev_set_allocator(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop.h"
#include "macro.h"

static unsigned long ev_allocs;

static void *count_alloc(void *p, long size) EV_NOEXCEPT {
        if (size > 0) {
                ev_allocs++;
                return realloc(p, (size_t) size);
        }
        free(p);
        return NULL;
}

#define N_FDS 256
#define N_TIMERS 64

static unsigned fired;

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        fired++;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
        fired++;
}

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents) {
        fired++;
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
}

static void on_check(struct ev_loop *loop, ev_check *w, int revents) {
}

/* Timers (half of them due at once), descriptors up to N_FDS - 1 with events, events fed by
 * hand, a signal: several iterations. Returns libev's allocations meanwhile. */
static unsigned long workload(struct ev_loop *loop) {
        unsigned long before = ev_allocs;
        ev_timer timers[N_TIMERS];
        ev_io ios[2];
        ev_signal sig;
        ev_prepare prepare; /* the loop-stall monitor's kinds, at its priorities */
        ev_check check;
        int p[2], high;

        fired = 0;
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        high = fcntl(p[1], F_DUPFD_CLOEXEC, N_FDS - 8);
        assert_true(high >= N_FDS - 8 && high < N_FDS);
        ev_io_init(&ios[0], on_io, p[0], EV_READ);
        ev_io_init(&ios[1], on_io, high, EV_WRITE);
        ev_io_start(loop, &ios[0]);
        ev_io_start(loop, &ios[1]);
        for (int i = 0; i < N_TIMERS; i++) {
                ev_timer_init(&timers[i], on_timer, i % 2 ? 1e6 : 0., 0.);
                ev_timer_start(loop, &timers[i]);
        }
        ev_signal_init(&sig, on_signal, SIGUSR1);
        ev_signal_start(loop, &sig);
        ev_prepare_init(&prepare, on_prepare);
        ev_set_priority(&prepare, EV_MINPRI);
        ev_prepare_start(loop, &prepare);
        ev_check_init(&check, on_check);
        ev_set_priority(&check, EV_MAXPRI);
        ev_check_start(loop, &check);
        assert_int_equal(write(p[1], "x", 1), 1);
        raise(SIGUSR1);
        for (int i = 0; i < 4; i++)
                ev_run(loop, EVRUN_NOWAIT);
        for (int i = 0; i < N_TIMERS; i++)
                ev_feed_event(loop, &timers[i], EV_TIMER);
        ev_run(loop, EVRUN_NOWAIT);
        assert_true(fired >= N_TIMERS / 2 + 2 + N_TIMERS);
        for (int i = 0; i < N_TIMERS; i++)
                ev_timer_stop(loop, &timers[i]);
        ev_io_stop(loop, &ios[0]);
        ev_io_stop(loop, &ios[1]);
        ev_signal_stop(loop, &sig);
        ev_prepare_stop(loop, &prepare);
        ev_check_stop(loop, &check);
        close(p[0]);
        close(p[1]);
        close(high);
        return ev_allocs - before;
}

static void test_without_reserve_libev_allocates(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);

        assert_non_null(loop);
        assert_true(workload(loop) > 0);
        ev_loop_destroy(loop);
}

static void test_after_reserve_it_does_not(void **state) {
        struct loop_reserve_conf c = { .fds = N_FDS, .timers = N_TIMERS + 8, .pending = 2 * N_TIMERS + 8 };
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
        unsigned long before;

        assert_non_null(loop);
        before = ev_allocs;
        assert_int_equal(loop_reserve(loop, &c), 0);
        assert_true(ev_allocs > before);
        assert_int_equal(workload(loop), 0);
        /* Again: nothing was left behind that changes the picture. */
        assert_int_equal(workload(loop), 0);
        ev_loop_destroy(loop);
}

static void test_defaults(void **state) {
        struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);

        assert_non_null(loop);
        assert_int_equal(loop_reserve(loop, NULL), 0);
        assert_int_equal(workload(loop), 0);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_without_reserve_libev_allocates),
                cmocka_unit_test(test_after_reserve_it_does_not),
                cmocka_unit_test(test_defaults),
        };

        ev_set_allocator(count_alloc);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
