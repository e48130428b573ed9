/* SPDX-License-Identifier: MIT */
/* Formats a sweep for `cmkd --once`: a table for people, JSON for programs. Pure: no
 * I/O (the streaming forms hand their text to the caller's function), time passed in. */

#include <stdio.h>

#include "output.h"
#include "timeutil.h"

/* Where the text goes: all of it into the buffer (write NULL), or handed to write in pieces
 * of about chunk_bytes, the buffer emptied after each. */
struct sink {
        struct buf *b;
        output_write_fn write;
        void *userdata;
        size_t chunk_bytes;
};

static int sink_flush(struct sink *k, bool all) {
        int r;

        if (!k->write || k->b->len == 0 || (!all && k->b->len < k->chunk_bytes))
                return 0;
        r = k->write(k->b->data, k->b->len, k->userdata);
        buf_clear(k->b);
        return r;
}

static const char *encryption_mode(const struct cluster *c) {
        return c->customer_managed ? "customer-managed" : "service-managed";
}

static const char *pinned_version(const struct verdict *v) {
        return v->has_keyurl && keyurl_is_versioned(v->keyurl) ? v->keyurl->version : NULL;
}

static const char *current_version(const struct cluster_obs *o) {
        return obs_present(&o->key_status) && o->key ? o->key->version : NULL;
}

static int put_key(struct buf *b, const char *key, bool first) {
        int r;

        r = buf_puts(b, first ? "" : ",");
        if (r >= 0)
                r = buf_put_json_string(b, key);
        if (r >= 0)
                r = buf_putc(b, ':');
        return r;
}

static int put_str(struct buf *b, const char *key, const char *value, bool first) {
        int r = put_key(b, key, first);

        if (r < 0)
                return r;
        return value ? buf_put_json_string(b, value) : buf_puts(b, "null");
}

static int put_uint(struct buf *b, const char *key, unsigned long long value) {
        int r = put_key(b, key, false);

        return r < 0 ? r : buf_printf(b, "%llu", value);
}

static int put_bool(struct buf *b, const char *key, bool value) {
        int r = put_key(b, key, false);

        return r < 0 ? r : buf_puts(b, value ? "true" : "false");
}

static int put_action(struct buf *b, const struct cluster_result *cr) {
        const struct action_result *a = &cr->action;
        int r;

        r = put_key(b, "action", false);
        if (r < 0)
                return r;
        if (a->outcome == OUTCOME_NONE && !cr->verdict.action.wanted)
                return buf_puts(b, "null");

        r = buf_putc(b, '{');
        if (r >= 0)
                r = put_str(b, "kind", "update", true);
        if (r >= 0)
                r = put_str(b, "outcome", action_outcome_to_string(a->outcome), false);
        if (r >= 0)
                r = put_str(b, "refusal",
                            a->outcome == OUTCOME_REFUSED ? refusal_to_string(a->refusal) : NULL, false);
        if (r >= 0)
                r = put_str(b, "reason",
                            a->outcome == OUTCOME_REFUSED ? refusal_describe(a->refusal) : NULL, false);
        if (r >= 0)
                r = put_str(b, "old_key_url", a->old_url, false);
        if (r >= 0)
                r = put_str(b, "new_key_url", a->new_url ?: cr->verdict.action.target_url, false);
        if (r >= 0)
                r = put_str(b, "operation_id", a->operation_id, false);
        if (r >= 0)
                r = put_str(b, "error_code", a->error_code, false);
        if (r >= 0)
                r = put_str(b, "error", a->error_message, false);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

static int put_cluster(struct buf *b, const struct cluster_result *cr, usec_t now) {
        const struct cluster *c = cr->obs.cluster;
        const struct verdict *v = &cr->verdict;
        int r;

        r = buf_putc(b, '{');
        if (r >= 0)
                r = put_str(b, "id", c->id, true);
        if (r >= 0)
                r = put_str(b, "name", c->name, false);
        if (r >= 0)
                r = put_str(b, "location", c->location, false);
        if (r >= 0)
                r = put_str(b, "subscription", c->subscription, false);
        if (r >= 0)
                r = put_str(b, "resource_group", c->resource_group, false);
        if (r >= 0)
                r = put_str(b, "encryption", encryption_mode(c), false);
        if (r >= 0)
                r = put_str(b, "key_url", c->key_url, false);
        if (r >= 0)
                r = put_str(b, "key_store", v->has_keyurl ? key_store_to_string(v->keyurl->store) : NULL,
                            false);
        if (r >= 0)
                r = put_str(b, "pinned_version", pinned_version(v), false);
        if (r >= 0)
                r = put_str(b, "current_version", current_version(&cr->obs), false);
        if (r >= 0)
                r = put_str(b, "cluster_status", c->cluster_status, false);
        if (r >= 0)
                r = put_str(b, "provisioning_state", c->provisioning_state, false);
        if (r >= 0)
                /* "ok" as in the table, the summary and the report: no finding at all. */
                r = put_str(b, "severity", v->n_findings > 0 ? severity_to_string(v->worst) : "ok", false);
        if (r >= 0)
                r = put_key(b, "findings", false);
        if (r >= 0)
                r = buf_putc(b, '[');
        for (size_t i = 0; r >= 0 && i < v->n_findings; i++) {
                char msg[FINDING_MESSAGE_MAX];

                finding_describe(&v->findings[i], &cr->obs, now, msg, sizeof msg);
                r = buf_puts(b, i > 0 ? ",{" : "{");
                if (r >= 0)
                        r = put_str(b, "code", finding_to_string(v->findings[i].code), true);
                if (r >= 0)
                        r = put_str(b, "severity", severity_to_string(v->findings[i].severity), false);
                if (r >= 0)
                        r = put_str(b, "message", msg, false);
                if (r >= 0)
                        r = buf_putc(b, '}');
        }
        if (r >= 0)
                r = buf_putc(b, ']');
        if (r >= 0)
                r = put_action(b, cr);
        if (r >= 0)
                r = buf_putc(b, '}');
        return r;
}

static void count_worst(const struct sweep_result *s, unsigned counts[_SEVERITY_MAX], unsigned *with_findings) {
        for (size_t i = 0; i < s->n_clusters; i++) {
                const struct verdict *v = &s->clusters[i].verdict;

                if (v->n_findings == 0)
                        continue;
                counts[v->worst]++;
                (*with_findings)++;
        }
}

static int json_write(const struct sweep_result *s, usec_t now, struct sink *k) {
        unsigned counts[_SEVERITY_MAX] = {}, with_findings = 0;
        struct buf *out = k->b;
        char ts[RFC3339_MAX];
        int r;

        count_worst(s, counts, &with_findings);
        r = buf_printf(out, "{\"version\":%d", OUTPUT_JSON_VERSION);
        if (r >= 0)
                r = put_str(out, "generated", rfc3339_format(ts, sizeof ts, now), false);
        if (r >= 0)
                r = put_uint(out, "exit_code", (unsigned) sweep_exit_code(s));
        if (r >= 0)
                r = buf_printf(out,
                               ",\"summary\":{\"clusters\":%zu,\"critical\":%u,\"warning\":%u,\"info\":%u,"
                               "\"ok\":%zu}",
                               s->n_clusters, counts[SEVERITY_CRITICAL], counts[SEVERITY_WARNING],
                               counts[SEVERITY_INFO], s->n_clusters - with_findings);
        if (r >= 0)
                r = buf_puts(out, ",\"sweep\":{");
        if (r >= 0)
                r = put_key(out, "ran", true);
        if (r >= 0)
                r = buf_puts(out, s->ran ? "true" : "false");
        if (r >= 0)
                r = put_str(out, "error", s->error_message, false);
        if (r >= 0)
                r = put_key(out, "failed_scopes", false);
        if (r >= 0)
                r = buf_putc(out, '[');
        for (size_t i = 0; r >= 0 && s->failed_scopes && s->failed_scopes[i]; i++) {
                if (i > 0)
                        r = buf_putc(out, ',');
                if (r >= 0)
                        r = buf_put_json_string(out, s->failed_scopes[i]);
        }
        if (r >= 0)
                r = buf_putc(out, ']');
        if (r >= 0)
                r = put_uint(out, "unreadable_items", s->n_unreadable);
        if (r >= 0)
                r = put_uint(out, "requests", s->stats.requests);
        if (r >= 0)
                r = put_uint(out, "retries", s->stats.retries);
        if (r >= 0)
                r = put_uint(out, "throttled", s->stats.throttled);
        if (r >= 0)
                r = put_key(out, "duration_seconds", false);
        if (r >= 0)
                r = buf_printf(out, "%.3f", (double) s->stats.duration_usec / USEC_PER_SEC);
        if (r >= 0)
                r = put_bool(out, "complete", s->ran && !(s->failed_scopes && s->failed_scopes[0]) &&
                                                      s->n_unreadable == 0);
        if (r >= 0)
                r = buf_puts(out, "},\"clusters\":[");
        for (size_t i = 0; r >= 0 && i < s->n_clusters; i++) {
                if (i > 0)
                        r = buf_putc(out, ',');
                if (r >= 0)
                        r = put_cluster(out, &s->clusters[i], now);
                if (r >= 0)
                        r = sink_flush(k, false);
        }
        if (r >= 0)
                r = buf_puts(out, "]}\n");
        if (r >= 0)
                r = sink_flush(k, true);
        return r;
}

int output_json(const struct sweep_result *s, usec_t now, struct buf *out) {
        struct sink k = { .b = out };

        return json_write(s, now, &k);
}

/* Short key column: "vault/key" or "vault/key@version(8)". */
static void key_column(const struct cluster_result *cr, char *buf, size_t len) {
        const struct verdict *v = &cr->verdict;

        if (!cr->obs.cluster->customer_managed)
                snprintf(buf, len, "(service-managed)");
        else if (!v->has_keyurl)
                snprintf(buf, len, "(invalid key URL)");
        else if (keyurl_is_versioned(v->keyurl))
                snprintf(buf, len, "%s/%s@%.8s", v->keyurl->store_name, v->keyurl->name, v->keyurl->version);
        else
                snprintf(buf, len, "%s/%s", v->keyurl->store_name, v->keyurl->name);
}

static void action_column(const struct cluster_result *cr, char *buf, size_t len) {
        const struct action_result *a = &cr->action;

        if (a->outcome == OUTCOME_NONE && !cr->verdict.action.wanted)
                snprintf(buf, len, "-");
        else if (a->outcome == OUTCOME_REFUSED)
                snprintf(buf, len, "update refused (%s)", refusal_to_string(a->refusal));
        else
                snprintf(buf, len, "update %s", action_outcome_to_string(a->outcome));
}

static int table_write(const struct sweep_result *s, usec_t now, struct sink *k) {
        unsigned counts[_SEVERITY_MAX] = {}, with_findings = 0;
        struct buf *out = k->b;
        int r;

        if (!s->ran) {
                r = buf_printf(out, "UNKNOWN: the sweep could not run: %s\n", s->error_message ?: "unknown error");
                return r < 0 ? r : sink_flush(k, true);
        }

        r = buf_printf(out, "%-32s %-14s %-40s %-8s %s\n", "CLUSTER", "LOCATION", "KEY", "STATE", "ACTION");
        for (size_t i = 0; r >= 0 && i < s->n_clusters; i++) {
                const struct cluster_result *cr = &s->clusters[i];
                char key[KEYURL_MAX], action[128];

                key_column(cr, key, sizeof key);
                action_column(cr, action, sizeof action);
                r = buf_printf(out, "%-32s %-14s %-40s %-8s %s\n", cr->obs.cluster->name,
                               strna(cr->obs.cluster->location), key,
                               cr->verdict.n_findings == 0 ? "ok" : severity_to_string(cr->verdict.worst),
                               action);
                if (r >= 0)
                        r = sink_flush(k, false);
        }

        /* The lines of each cluster form a group, a blank line before it, whether its first
         * finding is one that is printed or not. */
        for (size_t i = 0; r >= 0 && i < s->n_clusters; i++) {
                const struct cluster_result *cr = &s->clusters[i];
                const char *gap = "\n";

                for (size_t j = 0; r >= 0 && j < cr->verdict.n_findings; j++) {
                        const struct finding *f = &cr->verdict.findings[j];
                        char msg[FINDING_MESSAGE_MAX];

                        if (f->severity == SEVERITY_INFO)
                                continue;
                        finding_describe(f, &cr->obs, now, msg, sizeof msg);
                        r = buf_printf(out, "%s%s %s [%s]: %s\n", gap,
                                       f->severity == SEVERITY_CRITICAL ? "CRITICAL" : "WARNING ",
                                       cr->obs.cluster->name, finding_to_string(f->code), msg);
                        gap = "";
                }
                if (r >= 0 && cr->action.outcome == OUTCOME_REFUSED) {
                        r = buf_printf(out, "%sNOTICE   %s: update refused: %s\n", gap, cr->obs.cluster->name,
                                       refusal_describe(cr->action.refusal));
                        gap = "";
                }
                if (r >= 0 && cr->action.outcome == OUTCOME_FAILED)
                        r = buf_printf(out, "%sCRITICAL %s: update to %s failed: %s\n", gap,
                                       cr->obs.cluster->name, strna(cr->action.new_url),
                                       strna(cr->action.error_message));
                if (r >= 0)
                        r = sink_flush(k, false);
        }

        count_worst(s, counts, &with_findings);
        if (r >= 0 && s->failed_scopes && s->failed_scopes[0])
                for (size_t i = 0; r >= 0 && s->failed_scopes[i]; i++)
                        r = buf_printf(out, "WARNING  could not list clusters in %s\n", s->failed_scopes[i]);
        if (r >= 0 && s->n_unreadable > 0)
                r = buf_printf(out, "WARNING  %u listed cluster(s) could not be decoded\n", s->n_unreadable);
        if (r >= 0)
                r = buf_printf(out, "\n%zu clusters: %u critical, %u warning, %u info, %zu ok (%u requests, %.1fs)\n",
                               s->n_clusters, counts[SEVERITY_CRITICAL], counts[SEVERITY_WARNING],
                               counts[SEVERITY_INFO], s->n_clusters - with_findings, s->stats.requests,
                               (double) s->stats.duration_usec / USEC_PER_SEC);
        if (r >= 0)
                r = sink_flush(k, true);
        return r;
}

int output_table(const struct sweep_result *s, usec_t now, struct buf *out) {
        struct sink k = { .b = out };

        return table_write(s, now, &k);
}

static int stream(int (*fn)(const struct sweep_result *, usec_t, struct sink *), const struct sweep_result *s,
                  usec_t now, size_t chunk_bytes, output_write_fn write, void *userdata) {
        struct buf b;
        struct sink k = {
                .b = &b,
                .write = write,
                .userdata = userdata,
                .chunk_bytes = chunk_bytes ?: OUTPUT_CHUNK_BYTES_DEFAULT,
        };
        int r;

        buf_init(&b, 0);
        r = fn(s, now, &k);
        buf_done(&b);
        return r;
}

int output_json_stream(const struct sweep_result *s, usec_t now, size_t chunk_bytes, output_write_fn write,
                       void *userdata) {
        return stream(json_write, s, now, chunk_bytes, write, userdata);
}

int output_table_stream(const struct sweep_result *s, usec_t now, size_t chunk_bytes, output_write_fn write,
                        void *userdata) {
        return stream(table_write, s, now, chunk_bytes, write, userdata);
}
