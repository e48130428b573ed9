/* SPDX-License-Identifier: MIT */
#pragma once

/* Alert hygiene as Alertmanager does it: one alert when a condition appears, a reminder
 * every repeat interval while it lasts, one resolved notice when it clears. Pure: the
 * previous state, one sweep and the time go in; events and the next state come out.
 * Missing data never resolves anything, and an outage is one alert, not one per cluster.
 * The state is saved as JSON (versioned) so that a restart does not alert again. */

#include "alert.h"
#include "buf.h"
#include "sweep.h"

#define ALERTSTATE_FILE "alerts.json"
#define ALERTSTATE_FILE_MAX (16U * 1024U * 1024U)
#define ALERTSTATE_VERSION 1
/* Clusters that must share one check-unknown cause before it counts as an outage. */
#define ALERTSTATE_OUTAGE_MIN_DEFAULT 3
/* Names of affected clusters an outage event carries (the count is always exact). */
#define ALERTSTATE_AFFECTED_MAX 10

struct alertstate_conf {
        usec_t repeat_interval_usec;  /* [Alerts] RepeatIntervalSec=; 0 or USEC_INFINITY: never repeat */
        unsigned outage_min_clusters; /* 0: ALERTSTATE_OUTAGE_MIN_DEFAULT */
        /* Only update operations (started, succeeded, failed): no finding, proposal or refusal
         * becomes an entry. cmkd --once announces updates and keeps no state; judging every
         * finding of a fleet only to drop it cost it megabytes at its peak. */
        bool updates_only;
};

/* One active condition, or the memory of an announced update operation (kinds
 * ALERT_UPDATE_STARTED and ALERT_UPDATE_SUCCEEDED: never repeated, never resolved). The
 * identity of an entry is (kind, code, cluster_id, subject). */
struct alert_entry {
        enum alert_kind kind;
        enum finding_code code; /* ALERT_FINDING only; _FINDING_INVALID otherwise */
        enum severity severity;
        char *cluster_id;   /* owned; NULL for fleet-level kinds */
        char *cluster_name; /* owned; last name seen, for a notice about a cluster that is gone */
        char *subject;      /* owned; outage: the cause; update memory: the operation; else NULL */
        usec_t first_seen;  /* realtime */
        usec_t last_seen;   /* last sweep that confirmed it */
        usec_t last_sent;   /* last fire or repeat */
        unsigned n_sent;    /* fire + repeats */
};

struct alertstate {
        struct alert_entry *entries; /* owned */
        size_t n_entries;
};

enum alert_event_type {
        ALERT_EVENT_FIRE,    /* new, or its severity changed */
        ALERT_EVENT_REPEAT,  /* still there after the repeat interval */
        ALERT_EVENT_RESOLVE, /* cleared, or the cluster is gone from a scope that was listed */
        ALERT_EVENT_ONCE,    /* update started / succeeded: announced once per operation */
        _ALERT_EVENT_MAX,
        _ALERT_EVENT_INVALID = -EINVAL,
};

struct alert_event {
        enum alert_event_type type;
        struct alert_entry entry;        /* owned copy: after this sweep (resolve: the last state) */
        enum severity previous_severity; /* FIRE after a change of severity; else _SEVERITY_INVALID */
        bool cluster_gone;               /* RESOLVE: the cluster is no longer listed */
        /* Borrowed from the sweep given to alertstate_update(); valid as long as it is. */
        const struct sweep_result *sweep;
        const struct cluster_result *cluster; /* NULL for fleet-level kinds and gone clusters */
        const struct finding *finding;        /* ALERT_FINDING fire/repeat */
        unsigned n_affected;                  /* outage: clusters; sweep-incomplete: failed scopes */
        char **affected;                      /* owned strv: up to ALERTSTATE_AFFECTED_MAX cluster names */
};

struct alert_events {
        struct alert_event *events; /* owned */
        size_t n_events;
};

struct alertstate *alertstate_new(void);
struct alertstate *alertstate_free(struct alertstate *st);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct alertstate *, alertstate_free);
struct alert_events *alert_events_free(struct alert_events *ev);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct alert_events *, alert_events_free);

/* The heart: from the previous state (NULL = none), one sweep and now (realtime), builds
 * the next state and the events to send, in this order: fleet-level, per cluster in sweep
 * order, resolves. old is not changed. Rules:
 *   - sweep->ran false: one sweep-failed alert; everything else is kept as it was;
 *   - a cluster with a check-unknown finding (or an update refused as incomplete) keeps all
 *     its alerts: none resolves until it can be read whole again;
 *   - a cluster missing from the sweep resolves (cluster_gone) only if no listing failed
 *     that could cover it and no list item was unreadable;
 *   - check-unknown findings sharing one cause on at least outage_min_clusters clusters
 *     make one outage alert; their per-cluster alerts are not sent.
 * Returns 0 or -ENOMEM (nothing is returned then). */
int alertstate_update(const struct alertstate *old, const struct sweep_result *sweep, usec_t now,
                      const struct alertstate_conf *conf, struct alertstate **ret_state,
                      struct alert_events **ret_events);

/* The cause of a check-unknown finding as one stable string: "HTTP 503 ServiceUnavailable",
 * "HTTP 403", "Connection timed out", "role-definitions not known" (no status) or "unknown
 * error". Returns buf. */
char *alertstate_cause(const struct finding *f, char *buf, size_t len);
#define ALERTSTATE_CAUSE_MAX 192

/* JSON: {"version":1,"alerts":[{...}]}. Appends to out. Returns 0, -ENOMEM or -E2BIG. */
int alertstate_format(const struct alertstate *st, struct buf *out);
/* Parses alertstate_format() output. Entries naming a kind or code this build does not
 * know are dropped (a newer cmkd wrote them); anything else malformed is -EBADMSG.
 * Returns 0, -EBADMSG, -EPROTONOSUPPORT (another version) or -ENOMEM. */
int alertstate_parse(const char *text, size_t len, struct alertstate **ret);

/* Loads dir/alerts.json. Missing: an empty state, returns 0. Unreadable as JSON, truncated
 * or of another version: the file is set aside (set_aside_corrupt), an empty state is
 * returned, and the function returns 1 with the new name in *ret_set_aside (if given;
 * caller frees). Other errors (-EACCES, -EFBIG past ALERTSTATE_FILE_MAX, -ENOMEM) leave
 * everything as it was. */
int alertstate_load(const char *dir, usec_t now, struct alertstate **ret, char **ret_set_aside);
/* Writes dir/alerts.json atomically (mode 0600). Returns 0 or -errno. */
int alertstate_save(const struct alertstate *st, const char *dir);

const char *alert_event_type_to_string(enum alert_event_type t);
