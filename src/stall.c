/* SPDX-License-Identifier: MIT */
/* Loop-stall monitor: times each event-loop iteration's callbacks between an ev_check
 * (highest priority: first after the poll) and an ev_prepare (lowest: last before the next
 * poll). It must stay cheap (two clock reads per iteration), must not log (the owner
 * decides) and reads no clock of its own. */

#include "stall.h"

static void on_check(struct ev_loop *loop, ev_check *w, int revents) {
        struct stall_monitor *s = w->data;

        s->woke_at = s->conf.clock();
}

static void on_prepare(struct ev_loop *loop, ev_prepare *w, int revents) {
        struct stall_monitor *s = w->data;
        usec_t now, span;

        /* The first prepare of a loop comes before any poll: nothing to measure yet. */
        if (s->woke_at == 0)
                return;
        now = s->conf.clock();
        span = now > s->woke_at ? now - s->woke_at : 0;
        s->woke_at = 0;
        s->iterations++;
        if (span > s->max_usec)
                s->max_usec = span;
        if (span > s->conf.threshold_usec) {
                s->stalls++;
                if (s->conf.on_stall)
                        s->conf.on_stall(s, span, s->conf.userdata);
        }
}

int stall_monitor_start(struct stall_monitor *s, struct ev_loop *loop, const struct stall_conf *conf) {
        if (!loop || !conf || !conf->clock)
                return -EINVAL;
        stall_monitor_stop(s);
        *s = (struct stall_monitor){.loop = loop, .conf = *conf};
        if (s->conf.threshold_usec == 0)
                s->conf.threshold_usec = STALL_THRESHOLD_USEC_DEFAULT;
        ev_check_init(&s->check, on_check);
        s->check.data = s;
        ev_set_priority(&s->check, EV_MAXPRI);
        ev_prepare_init(&s->prepare, on_prepare);
        s->prepare.data = s;
        ev_set_priority(&s->prepare, EV_MINPRI);
        ev_check_start(loop, &s->check);
        ev_prepare_start(loop, &s->prepare);
        /* Neither watcher may keep the loop alive on its own. */
        ev_unref(loop);
        ev_unref(loop);
        return 0;
}

void stall_monitor_stop(struct stall_monitor *s) {
        if (!s->loop)
                return;
        /* Balance the ev_unref() of the start before stopping, as libev asks. */
        ev_ref(s->loop);
        ev_ref(s->loop);
        ev_check_stop(s->loop, &s->check);
        ev_prepare_stop(s->loop, &s->prepare);
        s->loop = NULL;
        s->woke_at = 0;
}

usec_t stall_monitor_max_usec(const struct stall_monitor *s) {
        return s->max_usec;
}
