/* SPDX-License-Identifier: MIT */
/* STATUS= text for systemctl status. Pure: no clock (now is an argument), no I/O. */

#include <stdarg.h>
#include <stdio.h>

#include "status.h"
#include "strv.h"
#include "timeutil.h"

struct line {
        char *s;
        size_t len, used;
};

_printf_(2, 3) static void add(struct line *l, const char *format, ...) {
        va_list ap;
        int n;

        if (l->used + 1 >= l->len)
                return;
        va_start(ap, format);
        n = vsnprintf(l->s + l->used, l->len - l->used, format, ap);
        va_end(ap);
        if (n > 0)
                l->used = MIN(l->used + (size_t) n, l->len - 1);
}

static void summary(struct line *l, const struct sweep_result *s, bool first_word) {
        unsigned by_worst[_SEVERITY_MAX] = {}, updates = 0, failed = 0;
        size_t n_scopes = strv_length(s->failed_scopes);
        time_t t = (time_t) (s->finished_realtime / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&t, &tm);
        add(l, "%cast sweep %02d:%02d UTC", first_word ? 'L' : 'l', tm.tm_hour, tm.tm_min);
        if (!s->ran) {
                add(l, " could not run: %s",
                    s->error_message
                            ?: s->error ? strerror(ERRNO_VALUE(s->error))
                                        : "unknown error");
                return;
        }
        for (size_t i = 0; i < s->n_clusters; i++) {
                const struct cluster_result *cr = &s->clusters[i];

                if (cr->verdict.n_findings > 0)
                        by_worst[cr->verdict.worst]++;
                updates +=
                        cr->action.outcome == OUTCOME_SUCCEEDED || cr->action.outcome == OUTCOME_IN_PROGRESS;
                failed += cr->action.outcome == OUTCOME_FAILED;
        }
        add(l, ": %zu cluster%s", s->n_clusters, s->n_clusters == 1 ? "" : "s");
        if (by_worst[SEVERITY_CRITICAL])
                add(l, ", %u critical", by_worst[SEVERITY_CRITICAL]);
        if (by_worst[SEVERITY_WARNING])
                add(l, ", %u warning", by_worst[SEVERITY_WARNING]);
        if (!by_worst[SEVERITY_CRITICAL] && !by_worst[SEVERITY_WARNING] && n_scopes == 0 &&
            s->n_unreadable == 0)
                add(l, ", all OK");
        if (n_scopes)
                add(l, ", %zu scope%s unreadable", n_scopes, n_scopes == 1 ? "" : "s");
        if (s->n_unreadable)
                add(l, ", %u item%s unreadable", s->n_unreadable, s->n_unreadable == 1 ? "" : "s");
        if (updates)
                add(l, ", %u update%s", updates, updates == 1 ? "" : "s");
        if (failed)
                add(l, ", %u update%s failed", failed, failed == 1 ? "" : "s");
}

char *status_format(const struct sweep_result *last, bool running, usec_t now, usec_t next_sweep, char *buf,
                    size_t len) {
        struct line l = { .s = buf, .len = len };
        char span[TIMESPAN_MAX];

        if (len == 0)
                return buf;
        buf[0] = 0;
        if (running)
                add(&l, last ? "Sweep running; " : "First sweep running");
        if (last)
                summary(&l, last, !running);
        else if (!running)
                add(&l, "Starting");
        if (running || next_sweep == 0 || next_sweep == USEC_INFINITY)
                return buf;
        if (next_sweep <= now)
                add(&l, "; %s sweep due now", last ? "next" : "first");
        else
                add(&l, "; %s in %s", last ? "next" : "first sweep",
                    timespan_format(span, sizeof span, next_sweep - now, USEC_PER_SEC));
        return buf;
}
