/* SPDX-License-Identifier: MIT */
#pragma once

/* libev aborts the process when one of its allocations fails, and it grows its arrays
 * (file descriptors, pending events, timer heaps) lazily, the first time they are needed.
 * loop_reserve() makes it grow them at start-up to what cmkd can need, so that it
 * allocates nothing later, while sweeps run. libev never shrinks them. */

#include <ev.h>

/* What to reserve. The defaults hold far more than a sweep uses (the torture test counts
 * libev's allocations during a full sweep: none). */
struct loop_reserve_conf {
        unsigned fds;     /* descriptor numbers 0 .. fds-1; 0 = the RLIMIT_NOFILE soft limit, at most
                           * LOOP_RESERVE_FDS_MAX */
        unsigned timers;  /* ev_timers active at once; 0 = LOOP_RESERVE_TIMERS */
        unsigned pending; /* events pending in one loop iteration (priority 0); 0 = LOOP_RESERVE_PENDING */
};

#define LOOP_RESERVE_FDS_MAX  16384u
#define LOOP_RESERVE_TIMERS   4096u
#define LOOP_RESERVE_PENDING  4096u
/* Pending events of the other priorities (libev's own watchers). */
#define LOOP_RESERVE_PENDING_OTHER 64u
/* Timers of ev_periodic (one: the report schedule). */
#define LOOP_RESERVE_PERIODICS 8u
/* ev_prepare and ev_check watchers each (one of each: the loop-stall monitor). */
#define LOOP_RESERVE_PREPARE_CHECK 4u

/* Grows libev's arrays of loop, which must not be running and must have no pending events
 * (call it right after creating the loop). Starts and stops watchers of its own only; leaves
 * no watcher active. Returns 0 or -ENOMEM (for its own scratch memory; libev aborts on its
 * own failures, which at start-up is acceptable: nothing has happened yet). */
int loop_reserve(struct ev_loop *loop, const struct loop_reserve_conf *conf);
