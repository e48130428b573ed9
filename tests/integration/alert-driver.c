/* SPDX-License-Identifier: MIT */
/* Sends the alerts of one fake sweep to the journal, exactly as cmkd does after a sweep:
 * load the alert state, alertstate_update(), alert_emit_events(), save the state. The
 * clock is an argument, so a test can step over the repeat interval.
 *
 *   alert-driver --state-dir DIR --now RFC3339 [--repeat-sec N] FIXTURE.json
 *   alert-driver --list-ids      (every MESSAGE_ID: "ID NAME" per line)
 *
 * Prints one line per event sent ("fire key-expired /subscriptions/..."). Exit 0 if every
 * event reached the journal, 1 otherwise, 2 on bad usage or fixture. */

#include <getopt.h>
#include <stdio.h>

#include "alert.h"
#include "alertstate.h"
#include "fixture.h"
#include "timeutil.h"

static int usage(void) {
        fprintf(stderr, "usage: alert-driver --state-dir DIR --now RFC3339 [--repeat-sec N] FIXTURE.json\n"
                        "       alert-driver --list-ids\n");
        return 2;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "state-dir", required_argument, NULL, 'd' },
                { "now", required_argument, NULL, 'n' },
                { "repeat-sec", required_argument, NULL, 'r' },
                { "list-ids", no_argument, NULL, 'l' },
                {},
        };
        struct alertstate_conf conf = { .repeat_interval_usec = 4 * USEC_PER_HOUR };
        const char *state_dir = NULL;
        struct alertstate *st = NULL, *next = NULL;
        struct alert_events *ev = NULL;
        const struct sweep_result *sweep;
        struct fixture *fx = NULL;
        char *aside = NULL;
        usec_t now = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd':
                        state_dir = optarg;
                        break;
                case 'n':
                        if (rfc3339_parse(optarg, &now) < 0)
                                return usage();
                        break;
                case 'r':
                        conf.repeat_interval_usec = (usec_t) strtoull(optarg, NULL, 10) * USEC_PER_SEC;
                        break;
                case 'l':
                        for (size_t i = 0; i < alert_message_id_count(); i++) {
                                const char *name, *id = alert_message_id_nth(i, &name);

                                printf("%s %s\n", id, name);
                        }
                        return 0;
                default:
                        return usage();
                }
        if (!state_dir || now == 0 || optind != argc - 1)
                return usage();

        if (fixture_load(argv[optind], &fx, &sweep) < 0)
                return 2;
        r = alertstate_load(state_dir, now, &st, &aside);
        if (r < 0) {
                fprintf(stderr, "alert-driver: cannot load the alert state in %s: %s\n", state_dir,
                        strerror(-r));
                return 2;
        }
        if (r > 0)
                fprintf(stderr, "alert-driver: corrupt alert state set aside as %s\n", aside);
        r = alertstate_update(st, sweep, now, &conf, &next, &ev);
        if (r < 0) {
                fprintf(stderr, "alert-driver: %s\n", strerror(-r));
                return 1;
        }
        for (size_t i = 0; i < ev->n_events; i++) {
                const struct alert_event *e = &ev->events[i];

                printf("%s %s %s\n", alert_event_type_to_string(e->type),
                       e->entry.kind == ALERT_FINDING ? finding_to_string(e->entry.code)
                                                      : alert_kind_to_string(e->entry.kind),
                       e->entry.cluster_id ?: "-");
        }
        r = alert_emit_events(ev, now);
        if (r < 0)
                fprintf(stderr, "alert-driver: sending to the journal failed: %s\n", strerror(-r));
        else {
                /* As cmkd: the state is saved only once the alerts are out. */
                r = alertstate_save(next, state_dir);
                if (r < 0)
                        fprintf(stderr, "alert-driver: cannot save the alert state: %s\n", strerror(-r));
        }
        alert_events_free(ev);
        alertstate_free(next);
        alertstate_free(st);
        fixture_free(fx);
        free(aside);
        return r < 0 ? 1 : 0;
}
