/* SPDX-License-Identifier: MIT */
/* Alert de-duplication: which conditions are new, still there after the repeat interval,
 * or gone, across sweeps and restarts. Pure but for alertstate_load/save: no clock, no
 * logging, no journal. It must never resolve a condition because data was missing. */

#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>

#include "alertstate.h"
#include "armid.h"
#include "fileio.h"
#include "hashmap.h"
#include "mem.h"
#include "strtable.h"
#include "strv.h"

static void entry_done(struct alert_entry *e) {
        mem_free(e->cluster_id);
        mem_free(e->cluster_name);
        mem_free(e->subject);
        *e = (struct alert_entry){};
}

static int entry_copy(struct alert_entry *dst, const struct alert_entry *src) {
        struct alert_entry e = *src;

        e.cluster_id = e.cluster_name = e.subject = NULL;
        if ((src->cluster_id && !(e.cluster_id = mem_strdup(src->cluster_id))) ||
            (src->cluster_name && !(e.cluster_name = mem_strdup(src->cluster_name))) ||
            (src->subject && !(e.subject = mem_strdup(src->subject)))) {
                entry_done(&e);
                return -ENOMEM;
        }
        *dst = e;
        return 0;
}

struct alertstate *alertstate_new(void) {
        return new0(struct alertstate, 1);
}

struct alertstate *alertstate_free(struct alertstate *st) {
        if (!st)
                return NULL;
        for (size_t i = 0; i < st->n_entries; i++)
                entry_done(&st->entries[i]);
        mem_free(st->entries);
        mem_free(st);
        return NULL;
}

struct alert_events *alert_events_free(struct alert_events *ev) {
        if (!ev)
                return NULL;
        for (size_t i = 0; i < ev->n_events; i++) {
                entry_done(&ev->events[i].entry);
                strv_free(ev->events[i].affected);
        }
        mem_free(ev->events);
        mem_free(ev);
        return NULL;
}

static bool kind_is_fleet(enum alert_kind k) {
        return k == ALERT_SWEEP_FAILED || k == ALERT_SWEEP_INCOMPLETE || k == ALERT_OUTAGE;
}

/* Memory of an announced operation, not a condition. */
static bool kind_is_memory(enum alert_kind k) {
        return k == ALERT_UPDATE_STARTED || k == ALERT_UPDATE_SUCCEEDED;
}

/* Kinds that may live in the state (the others are one-off notices). */
static bool kind_is_stateful(enum alert_kind k) {
        return k >= ALERT_FINDING && k <= ALERT_OUTAGE;
}

/* "kind\x1fcode\x1fcluster\x1fsubject", compared case-insensitively (ARM ids are). */
static char *entry_key(const struct alert_entry *e) {
        struct buf b;

        buf_init(&b, 0);
        if (buf_printf(&b, "%d\x1f%d\x1f%s\x1f%s", (int) e->kind,
                       e->kind == ALERT_FINDING ? (int) e->code : -1, strempty(e->cluster_id),
                       strempty(e->subject)) < 0) {
                buf_done(&b);
                return NULL;
        }
        return buf_steal(&b);
}

char *alertstate_cause(const struct finding *f, char *buf, size_t len) {
        const struct obs_status *s = f ? f->status : NULL;

        if (s && s->http_status > 0 && s->error_code)
                snprintf(buf, len, "HTTP %d %s", s->http_status, s->error_code);
        else if (s && s->http_status > 0)
                snprintf(buf, len, "HTTP %d", s->http_status);
        else if (s && s->error_code)
                snprintf(buf, len, "%s", s->error_code);
        else if (s && s->error != 0)
                snprintf(buf, len, "%s", strerror(ERRNO_VALUE(s->error)));
        else if (f && !s && f->fact != FACT_NONE) /* e.g. a role definition cmkd has not got */
                snprintf(buf, len, "%s not known", strna(fact_kind_to_string(f->fact)));
        else
                snprintf(buf, len, "unknown error");
        return buf;
}

/* Clusters sharing one check-unknown cause, in order of first appearance. */
struct cause_group {
        char cause[ALERTSTATE_CAUSE_MAX];
        unsigned n_clusters;
        char **names; /* owned strv, at most ALERTSTATE_AFFECTED_MAX */
};

struct builder {
        const struct alertstate *old;
        struct hashmap *old_index; /* entry key → old index + 1 */
        bool *old_used;            /* owned, one per old entry */
        const struct sweep_result *sweep;
        struct hashmap *clusters;   /* cluster id → struct cluster_result, borrowed */
        struct cause_group *groups; /* owned */
        size_t n_groups, groups_allocated;
        unsigned outage_min;
        usec_t now, repeat_usec;
        struct alertstate *st; /* the next state, owned until returned */
        size_t st_allocated;
        struct alert_events *ev; /* owned until returned */
        size_t ev_allocated;
};

static void builder_done(struct builder *b) {
        hashmap_free(b->old_index);
        hashmap_free(b->clusters);
        mem_free(b->old_used);
        for (size_t i = 0; i < b->n_groups; i++)
                strv_free(b->groups[i].names);
        mem_free(b->groups);
        alertstate_free(b->st);
        alert_events_free(b->ev);
}

static int state_add(struct builder *b, const struct alert_entry *e) {
        if (GREEDY_REALLOC(b->st->entries, b->st_allocated, b->st->n_entries + 1) < 0)
                return -ENOMEM;
        if (entry_copy(&b->st->entries[b->st->n_entries], e) < 0)
                return -ENOMEM;
        b->st->n_entries++;
        return 0;
}

static struct alert_event *event_add(struct builder *b, enum alert_event_type type,
                                     const struct alert_entry *e, const struct cluster_result *cr) {
        struct alert_event *ev;

        if (GREEDY_REALLOC(b->ev->events, b->ev_allocated, b->ev->n_events + 1) < 0)
                return NULL;
        ev = &b->ev->events[b->ev->n_events];
        *ev = (struct alert_event) {
                .type = type,
                .previous_severity = _SEVERITY_INVALID,
                .sweep = b->sweep,
                .cluster = cr,
        };
        if (entry_copy(&ev->entry, e) < 0)
                return NULL;
        b->ev->n_events++;
        return ev;
}

/* The old entry with the same identity, marked as seen; NULL if none. */
static const struct alert_entry *old_take(struct builder *b, const struct alert_entry *e, int *ret_error) {
        _cleanup_free_ char *key = entry_key(e);
        uintptr_t idx;

        *ret_error = 0;
        if (!key) {
                *ret_error = -ENOMEM;
                return NULL;
        }
        idx = (uintptr_t) hashmap_get(b->old_index, key);
        if (idx == 0)
                return NULL;
        b->old_used[idx - 1] = true;
        return &b->old->entries[idx - 1];
}

static bool due(const struct builder *b, const struct alert_entry *o) {
        if (b->repeat_usec == 0 || b->repeat_usec == USEC_INFINITY)
                return false;
        return b->now >= o->last_sent && b->now - o->last_sent >= b->repeat_usec;
}

struct condition {
        struct alert_entry e; /* borrowed strings; the time fields are ignored */
        const struct cluster_result *cluster;
        const struct finding *finding;
        bool suppressed; /* part of an outage: tracked if already known, never sent */
        unsigned n_affected;
        char *const *affected;
};

/* A condition that holds in this sweep: fire, repeat or keep quiet. */
static int condition(struct builder *b, const struct condition *c) {
        const struct alert_entry *o;
        struct alert_event *ev = NULL;
        struct alert_entry e;
        int r;

        o = old_take(b, &c->e, &r);
        if (r < 0)
                return r;
        if (!o) {
                if (c->suppressed)
                        return 0;
                e = c->e;
                e.first_seen = e.last_seen = e.last_sent = b->now;
                e.n_sent = 1;
                ev = event_add(b, ALERT_EVENT_FIRE, &e, c->cluster);
                if (!ev)
                        return -ENOMEM;
        } else {
                e = *o;
                e.last_seen = b->now;
                if (c->e.cluster_name)
                        e.cluster_name = c->e.cluster_name;
                if (!c->suppressed && o->severity != c->e.severity) {
                        e.severity = c->e.severity;
                        e.last_sent = b->now;
                        e.n_sent++;
                        ev = event_add(b, ALERT_EVENT_FIRE, &e, c->cluster);
                        if (!ev)
                                return -ENOMEM;
                        ev->previous_severity = o->severity;
                } else if (!c->suppressed && due(b, o)) {
                        e.last_sent = b->now;
                        e.n_sent++;
                        ev = event_add(b, ALERT_EVENT_REPEAT, &e, c->cluster);
                        if (!ev)
                                return -ENOMEM;
                }
        }
        if (ev) {
                ev->finding = c->finding;
                ev->n_affected = c->n_affected;
                if (c->affected && !(ev->affected = strv_copy(c->affected)))
                        return -ENOMEM;
        }
        return state_add(b, &e);
}

/* An operation is announced once: started, then (maybe) succeeded. */
static int once(struct builder *b, enum alert_kind kind, const struct cluster_result *cr, const char *op) {
        struct alert_entry e = {
                .kind = kind,
                .code = _FINDING_INVALID,
                .severity = SEVERITY_INFO,
                .cluster_id = cr->obs.cluster->id,
                .cluster_name = cr->obs.cluster->name,
                .subject = (char *) op,
        };
        const struct alert_entry *o;
        int r;

        o = old_take(b, &e, &r);
        if (r < 0)
                return r;
        if (o) {
                e.first_seen = o->first_seen;
                e.last_sent = o->last_sent;
                e.n_sent = o->n_sent;
        } else {
                e.first_seen = e.last_sent = b->now;
                e.n_sent = 1;
                if (!event_add(b, ALERT_EVENT_ONCE, &e, cr))
                        return -ENOMEM;
        }
        e.last_seen = b->now;
        return state_add(b, &e);
}

static struct cause_group *group_find(struct builder *b, const char *cause) {
        for (size_t i = 0; i < b->n_groups; i++)
                if (streq(b->groups[i].cause, cause))
                        return &b->groups[i];
        return NULL;
}

static int group_check_unknown(struct builder *b) {
        for (size_t i = 0; i < b->sweep->n_clusters; i++) {
                const struct cluster_result *cr = &b->sweep->clusters[i];
                const struct finding *f = verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN);
                char cause[ALERTSTATE_CAUSE_MAX];
                struct cause_group *g;

                if (!f)
                        continue;
                alertstate_cause(f, cause, sizeof cause);
                g = group_find(b, cause);
                if (!g) {
                        if (GREEDY_REALLOC(b->groups, b->groups_allocated, b->n_groups + 1) < 0)
                                return -ENOMEM;
                        g = &b->groups[b->n_groups++];
                        *g = (struct cause_group){};
                        snprintf(g->cause, sizeof g->cause, "%s", cause);
                }
                g->n_clusters++;
                if (strv_length(g->names) < ALERTSTATE_AFFECTED_MAX &&
                    strv_extend(&g->names, strempty(cr->obs.cluster->name)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static bool is_outage(const struct cause_group *g, unsigned min) {
        return g && g->n_clusters >= min;
}

static int fleet_conditions(struct builder *b) {
        const struct sweep_result *s = b->sweep;
        unsigned n_scopes = (unsigned) strv_length(s->failed_scopes);
        int r;

        if (!s->ran)
                return condition(b, &(struct condition) {
                                            .e = { .kind = ALERT_SWEEP_FAILED,
                                                   .code = _FINDING_INVALID,
                                                   .severity = SEVERITY_WARNING },
                                    });

        if (n_scopes > 0 || s->n_unreadable > 0) {
                r = condition(b, &(struct condition) {
                                         .e = { .kind = ALERT_SWEEP_INCOMPLETE,
                                                .code = _FINDING_INVALID,
                                                .severity = SEVERITY_WARNING },
                                         .n_affected = n_scopes,
                                         .affected = s->failed_scopes,
                                 });
                if (r < 0)
                        return r;
        }

        for (size_t i = 0; i < b->n_groups; i++) {
                const struct cause_group *g = &b->groups[i];

                if (!is_outage(g, b->outage_min))
                        continue;
                r = condition(b, &(struct condition) {
                                         .e = { .kind = ALERT_OUTAGE,
                                                .code = _FINDING_INVALID,
                                                .severity = SEVERITY_WARNING,
                                                .subject = (char *) g->cause },
                                         .n_affected = g->n_clusters,
                                         .affected = g->names,
                                 });
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool cluster_incomplete(const struct cluster_result *cr) {
        return verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN) ||
               cr->verdict.action.refusal == REFUSAL_INCOMPLETE ||
               (cr->action.outcome == OUTCOME_REFUSED && cr->action.refusal == REFUSAL_INCOMPLETE);
}

/* The identity of an update attempt, stable from the sweep that starts it (when Azure's
 * operation id is not known yet) to the one that sees it end: target and start time. */
static const char *action_op(const struct action_result *a, char *buf, size_t len) {
        if (a->attempt_started == 0)
                return a->operation_id ?: a->new_url ?: "";
        snprintf(buf, len, "%s@%llu", strempty(a->new_url), (unsigned long long) (a->attempt_started / USEC_PER_SEC));
        return buf;
}

static int cluster_conditions(struct builder *b, const struct cluster_result *cr) {
        const struct cluster *cl = cr->obs.cluster;
        const struct action_result *a = &cr->action;
        char opbuf[2048];
        struct condition c = {
                .e = { .code = _FINDING_INVALID, .cluster_id = cl->id, .cluster_name = cl->name },
                .cluster = cr,
        };
        int r;

        for (size_t i = 0; i < cr->verdict.n_findings; i++) {
                const struct finding *f = &cr->verdict.findings[i];

                c.e.kind = ALERT_FINDING;
                c.e.code = f->code;
                c.e.severity = f->severity;
                c.finding = f;
                c.suppressed = false;
                if (f->code == FINDING_CHECK_UNKNOWN) {
                        char cause[ALERTSTATE_CAUSE_MAX];

                        c.suppressed = is_outage(group_find(b, alertstate_cause(f, cause, sizeof cause)),
                                                 b->outage_min);
                }
                r = condition(b, &c);
                if (r < 0)
                        return r;
        }

        c.e.code = _FINDING_INVALID;
        c.finding = NULL;
        c.suppressed = false;
        switch (a->outcome) {
        case OUTCOME_PROPOSED:
                c.e.kind = ALERT_UPDATE_PROPOSED;
                c.e.severity = SEVERITY_INFO;
                return condition(b, &c);
        case OUTCOME_REFUSED:
                /* In flight: our own update is being followed, nothing to do for anyone.
                 * Incomplete: the check-unknown alert already says why. */
                if (a->refusal == REFUSAL_IN_FLIGHT || a->refusal == REFUSAL_INCOMPLETE)
                        return 0;
                c.e.kind = ALERT_UPDATE_REFUSED;
                c.e.severity = SEVERITY_WARNING;
                return condition(b, &c);
        case OUTCOME_IN_PROGRESS:
                return once(b, ALERT_UPDATE_STARTED, cr, action_op(a, opbuf, sizeof opbuf));
        case OUTCOME_SUCCEEDED:
                r = once(b, ALERT_UPDATE_STARTED, cr, action_op(a, opbuf, sizeof opbuf));
                if (r < 0)
                        return r;
                return once(b, ALERT_UPDATE_SUCCEEDED, cr, action_op(a, opbuf, sizeof opbuf));
        case OUTCOME_FAILED:
                r = once(b, ALERT_UPDATE_STARTED, cr, action_op(a, opbuf, sizeof opbuf));
                if (r < 0)
                        return r;
                c.e.kind = ALERT_UPDATE_FAILED;
                c.e.severity = SEVERITY_WARNING;
                return condition(b, &c);
        default:
                return 0;
        }
}

/* True if a failed listing may have hidden this cluster. */
static bool hidden_by_failed_listing(const struct sweep_result *s, const char *cluster_id) {
        if (s->n_unreadable > 0)
                return true;
        STRV_FOREACH(scope, s->failed_scopes) {
                char sub[128];

                if ((*scope)[0] == '/') {
                        if (armid_scope_covers(*scope, cluster_id))
                                return true;
                } else if (guid_valid(*scope)) {
                        snprintf(sub, sizeof sub, "/subscriptions/%s", *scope);
                        if (armid_scope_covers(sub, cluster_id))
                                return true;
                } else
                        return true; /* a scope we cannot place: assume it covers everything */
        }
        return false;
}

/* Old entries that nothing in this sweep confirmed: resolve, keep or forget. */
static int unconfirmed(struct builder *b) {
        for (size_t i = 0; i < b->old->n_entries; i++) {
                const struct alert_entry *o = &b->old->entries[i];
                const struct cluster_result *cr = NULL;
                struct alert_event *ev;
                bool keep;

                if (b->old_used[i])
                        continue;
                if (!b->sweep->ran)
                        keep = true;
                else if (kind_is_fleet(o->kind))
                        keep = false;
                else {
                        cr = hashmap_get(b->clusters, o->cluster_id);
                        if (cr)
                                keep = cluster_incomplete(cr) ||
                                       (kind_is_memory(o->kind) && cr->action.outcome == OUTCOME_REFUSED);
                        else
                                keep = hidden_by_failed_listing(b->sweep, o->cluster_id);
                }

                if (keep) {
                        if (state_add(b, o) < 0)
                                return -ENOMEM;
                        continue;
                }
                if (kind_is_memory(o->kind))
                        continue; /* the operation is over: forget it quietly */
                ev = event_add(b, ALERT_EVENT_RESOLVE, o, cr);
                if (!ev)
                        return -ENOMEM;
                ev->cluster_gone = !kind_is_fleet(o->kind) && !cr;
        }
        return 0;
}

int alertstate_update(const struct alertstate *old, const struct sweep_result *sweep, usec_t now,
                      const struct alertstate_conf *conf, struct alertstate **ret_state,
                      struct alert_events **ret_events) {
        static const struct alertstate empty = {};
        struct builder b = {
                .old = old ?: &empty,
                .sweep = sweep,
                .now = now,
                .repeat_usec = conf ? conf->repeat_interval_usec : 0,
                .outage_min = conf && conf->outage_min_clusters > 0 ? conf->outage_min_clusters
                                                                    : ALERTSTATE_OUTAGE_MIN_DEFAULT,
        };
        int r = -ENOMEM;

        b.old_index = hashmap_new(true, NULL);
        b.clusters = hashmap_new(true, NULL);
        b.old_used = new0(bool, b.old->n_entries + 1);
        b.st = alertstate_new();
        b.ev = new0(struct alert_events, 1);
        if (!b.old_index || !b.clusters || !b.old_used || !b.st || !b.ev)
                goto finish;

        for (size_t i = 0; i < b.old->n_entries; i++) {
                _cleanup_free_ char *key = entry_key(&b.old->entries[i]);

                /* A duplicate (-EEXIST) cannot come from us; the first one wins. */
                if (!key || hashmap_put(b.old_index, key, (void *) (uintptr_t) (i + 1)) == -ENOMEM)
                        goto finish;
        }
        for (size_t i = 0; i < sweep->n_clusters; i++)
                if (sweep->clusters[i].obs.cluster && sweep->clusters[i].obs.cluster->id &&
                    hashmap_put(b.clusters, sweep->clusters[i].obs.cluster->id, &sweep->clusters[i]) ==
                            -ENOMEM)
                        goto finish;

        if (sweep->ran) {
                r = group_check_unknown(&b);
                if (r < 0)
                        goto finish;
        }
        r = fleet_conditions(&b);
        if (r < 0)
                goto finish;
        for (size_t i = 0; sweep->ran && i < sweep->n_clusters; i++) {
                const struct cluster_result *cr = &sweep->clusters[i];

                if (!cr->obs.cluster || !cr->obs.cluster->id)
                        continue;
                /* The same cluster twice (it should not happen): judge it once. */
                if (hashmap_get(b.clusters, cr->obs.cluster->id) != cr)
                        continue;
                r = cluster_conditions(&b, cr);
                if (r < 0)
                        goto finish;
        }
        r = unconfirmed(&b);
        if (r < 0)
                goto finish;

        *ret_state = TAKE_PTR(b.st);
        *ret_events = TAKE_PTR(b.ev);
        r = 0;
finish:
        builder_done(&b);
        return r;
}

/* ---- persistence ---------------------------------------------------------------- */

int alertstate_format(const struct alertstate *st, struct buf *out) {
        int r;

        r = buf_printf(out, "{\"version\":%d,\"alerts\":[", ALERTSTATE_VERSION);
        for (size_t i = 0; r >= 0 && i < st->n_entries; i++) {
                const struct alert_entry *e = &st->entries[i];

                r = buf_printf(out, "%s\n{\"kind\":", i > 0 ? "," : "");
                if (r >= 0)
                        r = buf_put_json_string(out, alert_kind_to_string(e->kind));
                if (r >= 0 && e->kind == ALERT_FINDING) {
                        r = buf_puts(out, ",\"code\":");
                        if (r >= 0)
                                r = buf_put_json_string(out, finding_to_string(e->code));
                }
                if (r >= 0)
                        r = buf_puts(out, ",\"severity\":");
                if (r >= 0)
                        r = buf_put_json_string(out, severity_to_string(e->severity));
                if (r >= 0 && e->cluster_id) {
                        r = buf_puts(out, ",\"cluster\":");
                        if (r >= 0)
                                r = buf_put_json_string(out, e->cluster_id);
                }
                if (r >= 0 && e->cluster_name) {
                        r = buf_puts(out, ",\"cluster_name\":");
                        if (r >= 0)
                                r = buf_put_json_string(out, e->cluster_name);
                }
                if (r >= 0 && e->subject) {
                        r = buf_puts(out, ",\"subject\":");
                        if (r >= 0)
                                r = buf_put_json_string(out, e->subject);
                }
                if (r >= 0)
                        r = buf_printf(out,
                                       ",\"first_seen_usec\":%" PRIu64 ",\"last_seen_usec\":%" PRIu64
                                       ",\"last_sent_usec\":%" PRIu64 ",\"sent\":%u}",
                                       e->first_seen, e->last_seen, e->last_sent, e->n_sent);
        }
        if (r >= 0)
                r = buf_puts(out, "\n]}\n");
        return r;
}

static int get_string(struct json_object *o, const char *field, bool required, const char **ret) {
        struct json_object *v;

        if (!json_object_object_get_ex(o, field, &v) || json_object_is_type(v, json_type_null)) {
                *ret = NULL;
                return required ? -EBADMSG : 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = json_object_get_string(v);
        return 0;
}

static int get_u64(struct json_object *o, const char *field, uint64_t *ret) {
        struct json_object *v;
        int64_t i;

        if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        i = json_object_get_int64(v);
        if (i < 0)
                return -EBADMSG;
        *ret = (uint64_t) i;
        return 0;
}

/* Returns 1 if the entry was read, 0 if it is of a kind or code unknown here. */
static int parse_entry(struct json_object *o, struct alert_entry *ret) {
        const char *kind, *code, *severity, *cluster, *name, *subject;
        struct alert_entry e = { .code = _FINDING_INVALID };
        uint64_t sent;

        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        if (get_string(o, "kind", true, &kind) < 0 || get_string(o, "code", false, &code) < 0 ||
            get_string(o, "severity", true, &severity) < 0 ||
            get_string(o, "cluster", false, &cluster) < 0 ||
            get_string(o, "cluster_name", false, &name) < 0 ||
            get_string(o, "subject", false, &subject) < 0 ||
            get_u64(o, "first_seen_usec", &e.first_seen) < 0 ||
            get_u64(o, "last_seen_usec", &e.last_seen) < 0 ||
            get_u64(o, "last_sent_usec", &e.last_sent) < 0 || get_u64(o, "sent", &sent) < 0)
                return -EBADMSG;

        e.kind = alert_kind_from_string(kind);
        if (e.kind < 0)
                return 0;
        if (!kind_is_stateful(e.kind))
                return -EBADMSG;
        if (e.kind == ALERT_FINDING) {
                if (!code)
                        return -EBADMSG;
                e.code = finding_from_string(code);
                if (e.code < 0)
                        return 0;
        }
        e.severity = severity_from_string(severity);
        if (e.severity < 0 || sent > UINT32_MAX)
                return -EBADMSG;
        e.n_sent = (unsigned) sent;
        if (kind_is_fleet(e.kind) != !cluster)
                return -EBADMSG;
        e.cluster_id = (char *) cluster;
        e.cluster_name = (char *) name;
        e.subject = (char *) subject;
        if (entry_copy(ret, &e) < 0)
                return -ENOMEM;
        return 1;
}

int alertstate_parse(const char *text, size_t len, struct alertstate **ret) {
        _cleanup_(alertstate_freep) struct alertstate *st = NULL;
        struct json_tokener *tok = NULL;
        struct json_object *root = NULL, *v, *alerts;
        size_t allocated = 0, n;
        int r = -EBADMSG;

        tok = json_tokener_new();
        st = alertstate_new();
        if (!tok || !st) {
                r = -ENOMEM;
                goto finish;
        }
        root = json_tokener_parse_ex(tok, text, (int) MIN(len, (size_t) INT32_MAX));
        if (!root || json_tokener_get_error(tok) != json_tokener_success)
                goto finish;
        for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
                if (!strchr(" \t\r\n", text[i]))
                        goto finish;
        if (!json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "version", &v) || !json_object_is_type(v, json_type_int))
                goto finish;
        if (json_object_get_int64(v) != ALERTSTATE_VERSION) {
                r = -EPROTONOSUPPORT;
                goto finish;
        }
        if (!json_object_object_get_ex(root, "alerts", &alerts) ||
            !json_object_is_type(alerts, json_type_array))
                goto finish;
        n = json_object_array_length(alerts);
        for (size_t i = 0; i < n; i++) {
                r = GREEDY_REALLOC(st->entries, allocated, st->n_entries + 1);
                if (r < 0)
                        goto finish;
                r = parse_entry(json_object_array_get_idx(alerts, i), &st->entries[st->n_entries]);
                if (r < 0)
                        goto finish;
                if (r > 0)
                        st->n_entries++;
        }
        *ret = TAKE_PTR(st);
        r = 0;
finish:
        json_object_put(root);
        if (tok)
                json_tokener_free(tok);
        return r;
}

int alertstate_load(const char *dir, usec_t now, struct alertstate **ret, char **ret_set_aside) {
        _cleanup_free_ char *path = path_join(dir, ALERTSTATE_FILE), *text = NULL, *aside = NULL;
        struct alertstate *st = NULL;
        size_t len;
        int r;

        if (!path)
                return -ENOMEM;
        r = read_file_bounded(path, ALERTSTATE_FILE_MAX, &text, &len);
        if (r == -ENOENT) {
                st = alertstate_new();
                if (!st)
                        return -ENOMEM;
                *ret = st;
                return 0;
        }
        if (r < 0)
                return r;
        r = alertstate_parse(text, len, &st);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                *ret = st;
                return 0;
        }
        st = alertstate_new();
        if (!st)
                return -ENOMEM;
        r = set_aside_corrupt(path, now, &aside);
        if (r < 0) {
                alertstate_free(st);
                return r;
        }
        *ret = st;
        if (ret_set_aside)
                *ret_set_aside = TAKE_PTR(aside);
        return 1;
}

int alertstate_save(const struct alertstate *st, const char *dir) {
        struct buf b;
        int r;

        buf_init(&b, ALERTSTATE_FILE_MAX);
        r = alertstate_format(st, &b);
        if (r >= 0)
                r = write_file_atomic(dir, ALERTSTATE_FILE, b.data, b.len, 0600);
        buf_done(&b);
        return r;
}

static const char *const alert_event_type_table[_ALERT_EVENT_MAX] = {
        [ALERT_EVENT_FIRE] = "fire",
        [ALERT_EVENT_REPEAT] = "repeat",
        [ALERT_EVENT_RESOLVE] = "resolve",
        [ALERT_EVENT_ONCE] = "once",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(alert_event_type, enum alert_event_type, alert_event_type_table)
