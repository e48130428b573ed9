/* SPDX-License-Identifier: MIT */
/* Makes libev allocate at start-up what it would otherwise allocate while cmkd runs (libev
 * aborts on allocation failure). It must leave no watcher active and nothing pending. */

#include <sys/resource.h>

#include "loop.h"
#include "mem.h"

static void noop_io(struct ev_loop *loop, ev_io *w, int revents) {
}

static void noop_timer(struct ev_loop *loop, ev_timer *w, int revents) {
}

static void noop_periodic(struct ev_loop *loop, ev_periodic *w, int revents) {
}

static void noop_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
}

static void noop_check(struct ev_loop *loop, ev_check *w, int revents) {
}

static unsigned fds_to_reserve(unsigned want) {
        struct rlimit rl;

        if (want > 0)
                return MIN(want, LOOP_RESERVE_FDS_MAX);
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > LOOP_RESERVE_FDS_MAX)
                return LOOP_RESERVE_FDS_MAX;
        return (unsigned) rl.rlim_cur;
}

int loop_reserve(struct ev_loop *loop, const struct loop_reserve_conf *conf) {
        unsigned n_fds = fds_to_reserve(conf ? conf->fds : 0);
        unsigned n_timers = conf && conf->timers ? conf->timers : LOOP_RESERVE_TIMERS;
        unsigned n_pending = conf && conf->pending ? conf->pending : LOOP_RESERVE_PENDING;
        unsigned n_watchers = MAX(MAX(n_timers, n_pending), LOOP_RESERVE_PENDING_OTHER);
        _cleanup_free_ ev_timer *timers = NULL;
        ev_periodic periodics[LOOP_RESERVE_PERIODICS];
        ev_prepare prepares[LOOP_RESERVE_PREPARE_CHECK];
        ev_check checks[LOOP_RESERVE_PREPARE_CHECK];
        ev_io io;

        timers = new0(ev_timer, n_watchers);
        if (!timers)
                return -ENOMEM;

        /* Descriptors: libev sizes its per-fd array to the highest fd started, and queues each
         * fd changed in one iteration. The watcher is stopped before the loop ever looks at
         * the fd, so the fd need not be open (libev only asks the kernel about fds that have
         * events wanted when it next runs). */
        ev_init(&io, noop_io);
        for (unsigned fd = 0; fd < n_fds; fd++) {
                ev_io_set(&io, (int) fd, EV_READ);
                ev_io_start(loop, &io);
                ev_io_stop(loop, &io);
        }

        /* The timer heaps, and the array libev gathers expired timers in: all started at once,
         * already due, and expired in one iteration (which also grows the pending queue). */
        for (unsigned i = 0; i < n_timers; i++) {
                ev_init(&timers[i], noop_timer);
                ev_timer_set(&timers[i], -1., 0.);
                ev_timer_start(loop, &timers[i]);
        }
        for (unsigned i = 0; i < LOOP_RESERVE_PERIODICS; i++) {
                ev_init(&periodics[i], noop_periodic);
                ev_periodic_set(&periodics[i], ev_now(loop) - 1., 0., NULL);
                ev_periodic_start(loop, &periodics[i]);
        }
        /* Prepare and check watchers (the stall monitor's) live in arrays of their own. */
        for (unsigned i = 0; i < LOOP_RESERVE_PREPARE_CHECK; i++) {
                ev_prepare_init(&prepares[i], noop_prepare);
                ev_prepare_start(loop, &prepares[i]);
                ev_check_init(&checks[i], noop_check);
                ev_check_start(loop, &checks[i]);
        }
        /* One iteration that does not wait. It also goes through the fds changed above (with
         * epoll that costs nothing; other backends size their own arrays here). */
        ev_run(loop, EVRUN_NOWAIT);
        for (unsigned i = 0; i < n_timers; i++)
                ev_timer_stop(loop, &timers[i]);
        for (unsigned i = 0; i < LOOP_RESERVE_PERIODICS; i++)
                ev_periodic_stop(loop, &periodics[i]);
        for (unsigned i = 0; i < LOOP_RESERVE_PREPARE_CHECK; i++) {
                ev_prepare_stop(loop, &prepares[i]);
                ev_check_stop(loop, &checks[i]);
        }

        /* The pending queues, one per priority: fed, then cleared and flushed. cmkd's watchers
         * all have priority 0; libev's own signal and wake-up watchers run at EV_MAXPRI. */
        for (int pri = EV_MINPRI; pri <= EV_MAXPRI; pri++) {
                unsigned n = pri == 0 ? n_pending : LOOP_RESERVE_PENDING_OTHER;

                for (unsigned i = 0; i < n; i++) {
                        ev_init(&timers[i], noop_timer);
                        ev_set_priority(&timers[i], pri);
                        ev_feed_event(loop, &timers[i], EV_TIMER);
                }
                for (unsigned i = 0; i < n; i++)
                        (void) ev_clear_pending(loop, &timers[i]);
                ev_invoke_pending(loop);
        }
        return 0;
}
