/* SPDX-License-Identifier: MIT */
#pragma once

/* The loop-stall monitor: how long the callbacks of one event-loop iteration keep the
 * loop from polling again. An ev_check at the highest priority runs first after the poll
 * returns, an ev_prepare at the lowest runs last before the next poll; the time between
 * them is the iteration's work. Nothing in cmkd may block the loop (STYLE.md), so a long
 * stretch is a bug or a sick machine: the owner is told of every stretch over a threshold,
 * and the longest one is kept for the metrics. Two clock reads per iteration; no logging
 * and no clock of its own (the owner passes both). */

#include <ev.h>

#include "macro.h"

/* A stretch longer than this is a stall. The watchdog wants a ping every WatchdogSec/2 and
 * Azure answers in well under a second: one second of callbacks is far beyond normal. */
#define STALL_THRESHOLD_USEC_DEFAULT (1 * USEC_PER_SEC)

struct stall_monitor;

/* CLOCK_MONOTONIC in usec (the manager passes now_usec(CLOCK_MONOTONIC); tests a fake). */
typedef usec_t (*stall_clock_fn)(void);
/* A stretch of usec microseconds exceeded the threshold. Called from the ev_prepare
 * watcher, before the loop polls again. */
typedef void (*stall_fn)(struct stall_monitor *s, usec_t usec, void *userdata);

struct stall_conf {
        usec_t threshold_usec; /* 0 = STALL_THRESHOLD_USEC_DEFAULT */
        stall_clock_fn clock;  /* required */
        stall_fn on_stall;     /* may be NULL */
        void *userdata;
};

/* Embedded in its owner; all fields private but the statistics. */
struct stall_monitor {
        ev_prepare prepare;   /* data = this */
        ev_check check;       /* data = this */
        struct ev_loop *loop; /* borrowed; NULL while stopped */
        struct stall_conf conf;
        usec_t woke_at; /* when the loop's last poll returned; 0 = not measured */
        /* Statistics since stall_monitor_start(). */
        usec_t max_usec; /* the longest stretch */
        uint64_t stalls; /* stretches over the threshold */
        uint64_t iterations;
};

/* Starts watching loop (borrowed; must outlive the monitor or stall_monitor_stop() must
 * come first). The statistics start from zero. Returns 0, or -EINVAL without a clock. */
int stall_monitor_start(struct stall_monitor *s, struct ev_loop *loop, const struct stall_conf *conf);
/* Stops the watchers; the statistics stay readable. A monitor never started (zeroed) or
 * already stopped is fine. */
void stall_monitor_stop(struct stall_monitor *s);

/* The longest stretch since the start, in usec. */
usec_t stall_monitor_max_usec(const struct stall_monitor *s);
