/* SPDX-License-Identifier: MIT */
/* Reports: JSON, CSV and HTML from one sweep and the audit entries of a period, written
 * atomically and pruned. Every string that came from Azure or a person (cluster names,
 * URLs, error messages) is untrusted: escaped for its format, never markup. No clock:
 * the report's time is an argument. */

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "mem.h"
#include "report.h"
#include "strtable.h"
#include "strv.h"
#include "timeutil.h"

/* ---- a writer with a sticky error: generators read straight, fail once ------------ */

struct w {
        struct buf *b;
        int r;
};

static void w_puts(struct w *w, const char *s) {
        if (w->r >= 0)
                w->r = buf_puts(w->b, s);
}

_printf_(2, 3) static void w_printf(struct w *w, const char *format, ...) {
        va_list ap;

        if (w->r < 0)
                return;
        va_start(ap, format);
        w->r = buf_vprintf(w->b, format, ap);
        va_end(ap);
}

/* ---- what every format says about a cluster -------------------------------------- */

struct row {
        const struct cluster_result *cr;
        int status;                   /* -1: ok (no finding), else the worst severity */
        int attention;                /* status, raised to warning by a failed update: order and color */
        const struct key_bundle *key; /* the version in use: the pinned one, else the current one */
        const char *version;          /* the version in use, NULL if unknown */
        bool versionless;
        usec_t created, expires; /* 0: unknown; expires USEC_INFINITY: not set */
        int64_t age_days, days_left;
        bool has_age, has_expiry;
};

static int64_t days_between(usec_t from, usec_t to) {
        int64_t d = (int64_t) (to / USEC_PER_SEC) - (int64_t) (from / USEC_PER_SEC);

        /* floor division: -0.5 days is "expired 1 day ago", not 0 */
        return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

/* True if version is the key's current one (false when the key was not read). */
static bool version_is_current(const struct cluster_result *cr, const char *version) {
        return cr->obs.key && cr->obs.key->version && version && streq(cr->obs.key->version, version);
}

/* JSON true/false, or null when unknown. */
static const char *tristate(bool known, bool value) {
        return !known ? "null" : value ? "true" : "false";
}

static void row_init(struct row *row, const struct cluster_result *cr, usec_t now) {
        const struct verdict *v = &cr->verdict;

        *row = (struct row) { .cr = cr, .status = v->n_findings > 0 ? (int) v->worst : -1 };
        row->attention = cr->action.outcome == OUTCOME_FAILED ? MAX(row->status, (int) SEVERITY_WARNING)
                                                              : row->status;
        row->key = cluster_result_key_in_use(cr);
        if (v->has_keyurl) {
                row->versionless = !keyurl_is_versioned(&v->keyurl);
                row->version = !row->versionless ? v->keyurl.version : row->key ? row->key->version : NULL;
        }
        if (row->key) {
                row->created = row->key->created;
                row->expires = row->key->exp;
        }
        row->has_age = row->created > 0;
        if (row->has_age)
                row->age_days = days_between(row->created, now);
        row->has_expiry = row->expires > 0 && row->expires != USEC_INFINITY;
        if (row->has_expiry)
                row->days_left = days_between(now, row->expires);
}

static const char *status_name(int status) {
        return status < 0 ? "ok" : severity_to_string(status);
}

static int row_compare(const void *a, const void *b) {
        const struct row *x = a, *y = b;
        int c;

        if (x->attention != y->attention)
                return y->attention - x->attention; /* worst first */
        c = strcmp(strempty(x->cr->obs.cluster->name), strempty(y->cr->obs.cluster->name));
        return c ?: strcasecmp(strempty(x->cr->obs.cluster->id), strempty(y->cr->obs.cluster->id));
}

/* One key version and the clusters on it. */
struct version_use {
        char key[KEYURL_MAX];    /* https://{host}/keys/{name}, the name as the first cluster wrote it */
        char key_id[KEYURL_MAX]; /* keyurl_key_id(): host and lowercase name, for grouping */
        const char *version;
        const struct row *first; /* for the key attributes */
        const struct row **rows; /* owned array, borrowed rows */
        size_t n_rows;
};

struct model {
        const struct report_input *in;
        struct row *rows; /* owned, sorted */
        size_t n_rows;
        struct version_use *versions; /* owned, sorted by key, then version */
        size_t n_versions;
        unsigned by_status[_SEVERITY_MAX + 1]; /* [0] ok, [1 + severity] */
        unsigned by_result[_AUDIT_RESULT_MAX];
};

static void model_done(struct model *m) {
        for (size_t i = 0; i < m->n_versions; i++)
                mem_free(m->versions[i].rows);
        mem_free(m->versions);
        mem_free(m->rows);
}

static int version_compare(const void *a, const void *b) {
        const struct version_use *x = a, *y = b;
        int c = strcmp(x->key_id, y->key_id);

        return c ?: strcmp(x->version, y->version);
}

static int model_versions(struct model *m) {
        size_t allocated = 0;

        for (size_t i = 0; i < m->n_rows; i++) {
                const struct row *row = &m->rows[i];
                const struct keyurl *k = &row->cr->verdict.keyurl;
                struct version_use *u = NULL;
                char id[KEYURL_MAX];

                if (!row->cr->verdict.has_keyurl || !row->version)
                        continue;
                keyurl_key_id(k, id, sizeof id);
                for (size_t j = 0; j < m->n_versions && !u; j++)
                        if (streq(m->versions[j].key_id, id) && streq(m->versions[j].version, row->version))
                                u = &m->versions[j];
                if (!u) {
                        if (GREEDY_REALLOC(m->versions, allocated, m->n_versions + 1) < 0)
                                return -ENOMEM;
                        u = &m->versions[m->n_versions++];
                        *u = (struct version_use) { .version = row->version, .first = row };
                        snprintf(u->key_id, sizeof u->key_id, "%s", id);
                        keyurl_format_versionless(k, u->key, sizeof u->key);
                }
                /* rows grow one by one; a fleet has few clusters per version */
                {
                        const struct row **rows = mem_realloc(u->rows, (u->n_rows + 1) * sizeof *rows);

                        if (!rows)
                                return -ENOMEM;
                        u->rows = rows;
                        u->rows[u->n_rows++] = row;
                }
        }
        if (m->n_versions > 1)
                qsort(m->versions, m->n_versions, sizeof *m->versions, version_compare);
        return 0;
}

static int model_init(struct model *m, const struct report_input *in) {
        const struct sweep_result *s = in->sweep;

        *m = (struct model) { .in = in };
        if (s->n_clusters > 0) {
                m->rows = new0(struct row, s->n_clusters);
                if (!m->rows)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < s->n_clusters; i++) {
                if (!s->clusters[i].obs.cluster)
                        continue;
                row_init(&m->rows[m->n_rows], &s->clusters[i], in->generated);
                m->by_status[m->rows[m->n_rows].status + 1]++;
                m->n_rows++;
        }
        if (m->n_rows > 1)
                qsort(m->rows, m->n_rows, sizeof *m->rows, row_compare);
        for (size_t i = 0; in->audit && i < in->audit->n_entries; i++)
                if (audit_result_to_string(in->audit->entries[i].result))
                        m->by_result[in->audit->entries[i].result]++;
        return model_versions(m);
}

static char *describe(const struct row *row, const struct finding *f, usec_t now,
                      char buf[static FINDING_MESSAGE_MAX]) {
        return finding_describe(f, &row->cr->obs, now, buf, FINDING_MESSAGE_MAX);
}

static const char *time_or_null(usec_t t, char buf[static RFC3339_MAX]) {
        return t > 0 && t != USEC_INFINITY ? rfc3339_format(buf, RFC3339_MAX, t) : NULL;
}

/* ---- JSON ----------------------------------------------------------------------- */

static void j_str(struct w *w, const char *s) {
        if (w->r < 0)
                return;
        w->r = s ? buf_put_json_string(w->b, s) : buf_puts(w->b, "null");
}

/* ,"key":"value" (first: no comma) */
static void j_kv(struct w *w, bool first, const char *key, const char *value) {
        w_printf(w, "%s\"%s\":", first ? "" : ",", key);
        j_str(w, value);
}

static void j_time(struct w *w, bool first, const char *key, usec_t t) {
        char buf[RFC3339_MAX];

        j_kv(w, first, key, time_or_null(t, buf));
}

static void json_cluster(struct w *w, const struct model *m, const struct row *row) {
        const struct cluster_result *cr = row->cr;
        const struct cluster *cl = cr->obs.cluster;
        const struct action_result *a = &cr->action;
        char msg[FINDING_MESSAGE_MAX];

        w_puts(w, "{");
        j_kv(w, true, "id", cl->id);
        j_kv(w, false, "name", cl->name);
        j_kv(w, false, "subscription", cl->subscription);
        j_kv(w, false, "resource_group", cl->resource_group);
        j_kv(w, false, "location", cl->location);
        j_kv(w, false, "cluster_status", cl->cluster_status);
        j_kv(w, false, "provisioning_state", cl->provisioning_state);
        j_kv(w, false, "status", status_name(row->status));
        j_kv(w, false, "key_url", cl->key_url);
        j_kv(w, false, "identity", cl->kek_identity_id);
        w_puts(w, ",\"key\":");
        if (!cr->verdict.has_keyurl)
                w_puts(w, "null");
        else {
                w_puts(w, "{");
                j_kv(w, true, "vault", cr->verdict.keyurl.host);
                j_kv(w, false, "store", key_store_to_string(cr->verdict.keyurl.store));
                j_kv(w, false, "name", cr->verdict.keyurl.name);
                j_kv(w, false, "version_in_use", row->version);
                w_printf(w, ",\"versionless\":%s", row->versionless ? "true" : "false");
                j_kv(w, false, "current_version", cr->obs.key ? cr->obs.key->version : NULL);
                w_printf(w, ",\"enabled\":%s", tristate(row->key, row->key && row->key->enabled));
                j_time(w, false, "created_at", row->created);
                j_time(w, false, "expires_at", row->expires);
                if (row->has_age)
                        w_printf(w, ",\"age_days\":%" PRId64, row->age_days);
                else
                        w_puts(w, ",\"age_days\":null");
                if (row->has_expiry)
                        w_printf(w, ",\"days_to_expiry\":%" PRId64, row->days_left);
                else
                        w_puts(w, ",\"days_to_expiry\":null");
                w_puts(w, "}");
        }
        w_puts(w, ",\"findings\":[");
        for (size_t i = 0; i < cr->verdict.n_findings; i++) {
                const struct finding *f = &cr->verdict.findings[i];

                w_puts(w, i > 0 ? ",{" : "{");
                j_kv(w, true, "code", finding_to_string(f->code));
                j_kv(w, false, "severity", severity_to_string(f->severity));
                j_kv(w, false, "message", describe(row, f, m->in->generated, msg));
                j_kv(w, false, "version", f->version);
                w_puts(w, "}");
        }
        w_puts(w, "],\"action\":");
        if (a->outcome == OUTCOME_NONE)
                w_puts(w, "null");
        else {
                w_puts(w, "{");
                j_kv(w, true, "outcome", action_outcome_to_string(a->outcome));
                j_kv(w, false, "refusal",
                     a->outcome == OUTCOME_REFUSED ? refusal_to_string(a->refusal) : NULL);
                j_kv(w, false, "old_key_url", a->old_url);
                j_kv(w, false, "new_key_url", a->new_url);
                j_kv(w, false, "operation_id", a->operation_id);
                j_kv(w, false, "error", a->error ? strerror(ERRNO_VALUE(a->error)) : NULL);
                j_kv(w, false, "error_code", a->error_code);
                j_kv(w, false, "error_message", a->error_message);
                w_puts(w, "}");
        }
        w_puts(w, "}");
}

static void json_report(struct w *w, const struct model *m) {
        const struct report_input *in = m->in;
        const struct sweep_result *s = in->sweep;
        unsigned counts[_FINDING_MAX][_SEVERITY_MAX];
        bool first;

        w_printf(w, "{\"schema_version\":%d", REPORT_SCHEMA_VERSION);
        j_kv(w, false, "generator", "cmkd " CMKD_VERSION);
        j_time(w, false, "generated_at", in->generated);
        j_kv(w, false, "mode", in->mode);
        w_puts(w, ",\"period\":{\"start\":");
        {
                char a[RFC3339_MAX], b[RFC3339_MAX];

                j_str(w, time_or_null(in->period_start, a));
                w_puts(w, ",\"end\":");
                j_str(w, time_or_null(in->period_end, b));
        }
        w_puts(w, "},\n\"sweep\":{");
        j_time(w, true, "started_at", s->started_realtime);
        j_time(w, false, "finished_at", s->finished_realtime);
        w_printf(w, ",\"ran\":%s", s->ran ? "true" : "false");
        j_kv(w, false, "error",
             s->error_message
                     ?: !s->ran && s->error ? strerror(ERRNO_VALUE(s->error))
                                            : NULL);
        w_puts(w, ",\"failed_scopes\":[");
        STRV_FOREACH(scope, s->failed_scopes) {
                if (scope != s->failed_scopes)
                        w_puts(w, ",");
                j_str(w, *scope);
        }
        w_printf(w,
                 "],\"unreadable_items\":%u,\"duration_seconds\":%.3f,\"requests\":%u,\"throttled\":%u,"
                 "\"retries\":%u}",
                 s->n_unreadable, (double) s->stats.duration_usec / USEC_PER_SEC, s->stats.requests,
                 s->stats.throttled, s->stats.retries);

        w_printf(w, ",\n\"summary\":{\"clusters\":%zu,\"ok\":%u,\"info\":%u,\"warning\":%u,\"critical\":%u",
                 m->n_rows, m->by_status[0], m->by_status[1 + SEVERITY_INFO],
                 m->by_status[1 + SEVERITY_WARNING], m->by_status[1 + SEVERITY_CRITICAL]);
        w_puts(w, ",\"findings\":{");
        sweep_count_findings(s, counts);
        first = true;
        for (int c = 0; c < _FINDING_MAX; c++) {
                unsigned n = 0;

                for (int sev = 0; sev < _SEVERITY_MAX; sev++)
                        n += counts[c][sev];
                if (n == 0)
                        continue;
                w_printf(w, "%s\"%s\":%u", first ? "" : ",", finding_to_string(c), n);
                first = false;
        }
        w_puts(w, "},\"actions\":{");
        for (int r = 0; r < _AUDIT_RESULT_MAX; r++)
                w_printf(w, "%s\"%s\":%u", r ? "," : "", audit_result_to_string(r), m->by_result[r]);
        w_puts(w, "}},\n\"clusters\":[");
        for (size_t i = 0; i < m->n_rows; i++) {
                w_puts(w, i ? ",\n" : "\n");
                json_cluster(w, m, &m->rows[i]);
        }

        w_puts(w, "],\n\"key_versions\":[");
        for (size_t i = 0; i < m->n_versions; i++) {
                const struct version_use *u = &m->versions[i];
                const struct cluster_result *cr = u->first->cr;

                w_puts(w, i ? ",\n{" : "\n{");
                j_kv(w, true, "key", u->key);
                j_kv(w, false, "vault", cr->verdict.keyurl.host);
                j_kv(w, false, "store", key_store_to_string(cr->verdict.keyurl.store));
                j_kv(w, false, "name", cr->verdict.keyurl.name);
                j_kv(w, false, "version", u->version);
                w_printf(w, ",\"current\":%s", tristate(cr->obs.key, version_is_current(cr, u->version)));
                w_printf(w, ",\"enabled\":%s",
                         tristate(u->first->key, u->first->key && u->first->key->enabled));
                j_time(w, false, "expires_at", u->first->expires);
                w_puts(w, ",\"clusters\":[");
                for (size_t j = 0; j < u->n_rows; j++) {
                        if (j)
                                w_puts(w, ",");
                        j_str(w, u->rows[j]->cr->obs.cluster->id);
                }
                w_puts(w, "]}");
        }

        w_puts(w, "],\n\"actions\":[");
        for (size_t i = 0; in->audit && i < in->audit->n_entries; i++) {
                if (w->r >= 0 && i)
                        w_puts(w, ",");
                w_puts(w, "\n");
                if (w->r >= 0)
                        w->r = audit_format(&in->audit->entries[i], w->b);
        }
        w_printf(
                w,
                "],\n\"audit\":{\"entries\":%zu,\"corrupt_lines\":%u,\"truncated_lines\":%u,\"omitted\":%u}}\n",
                in->audit ? in->audit->n_entries : 0, in->audit ? in->audit->n_corrupt : 0,
                in->audit ? in->audit->n_truncated : 0, in->audit ? in->audit->n_omitted : 0);
}

/* ---- CSV (RFC 4180) --------------------------------------------------------------- */

static const char csv_columns[] =
        "cluster_id,cluster_name,subscription,resource_group,location,cluster_status,provisioning_state,status,"
        "findings,key_url,key_vault,key_store,key_name,key_version_in_use,versionless,key_current_version,key_enabled,"
        "key_created,key_expires,key_age_days,days_to_expiry,action,refusal,new_key_url,operation_id,error_code";

/* One text cell. Quoted when it holds a comma, quote or line break; a leading = + - @ or
 * tab gets a ' so that spreadsheets show it instead of evaluating it (cells come from
 * Azure). */
static void csv_text(struct w *w, const char *s, bool last) {
        bool quote;

        s = strempty(s);
        quote = strpbrk(s, ",\"\r\n") || (*s && strchr("=+-@\t", *s));
        if (quote)
                w_puts(w, "\"");
        if (*s && strchr("=+-@\t", *s))
                w_puts(w, "'");
        for (const char *p = s; w->r >= 0 && *p; p++)
                w->r = *p == '"' ? buf_puts(w->b, "\"\"") : buf_putc(w->b, *p);
        if (quote)
                w_puts(w, "\"");
        w_puts(w, last ? "\r\n" : ",");
}

static void csv_report(struct w *w, const struct model *m) {
        w_puts(w, csv_columns);
        w_puts(w, "\r\n");
        for (size_t i = 0; i < m->n_rows; i++) {
                const struct row *row = &m->rows[i];
                const struct cluster_result *cr = row->cr;
                const struct cluster *cl = cr->obs.cluster;
                const struct action_result *a = &cr->action;
                bool k = cr->verdict.has_keyurl;
                char created[RFC3339_MAX], expires[RFC3339_MAX], num[32];
                struct buf findings;

                buf_init(&findings, 0);
                for (size_t j = 0; j < cr->verdict.n_findings && w->r >= 0; j++)
                        w->r = buf_printf(&findings, "%s%s:%s", j ? ";" : "",
                                          finding_to_string(cr->verdict.findings[j].code),
                                          severity_to_string(cr->verdict.findings[j].severity));
                csv_text(w, cl->id, false);
                csv_text(w, cl->name, false);
                csv_text(w, cl->subscription, false);
                csv_text(w, cl->resource_group, false);
                csv_text(w, cl->location, false);
                csv_text(w, cl->cluster_status, false);
                csv_text(w, cl->provisioning_state, false);
                csv_text(w, status_name(row->status), false);
                csv_text(w, buf_str(&findings), false);
                buf_done(&findings);
                csv_text(w, cl->key_url, false);
                csv_text(w, k ? cr->verdict.keyurl.host : NULL, false);
                csv_text(w, k ? key_store_to_string(cr->verdict.keyurl.store) : NULL, false);
                csv_text(w, k ? cr->verdict.keyurl.name : NULL, false);
                csv_text(w, row->version, false);
                csv_text(w, !k ? NULL : row->versionless ? "true" : "false", false);
                csv_text(w, cr->obs.key ? cr->obs.key->version : NULL, false);
                csv_text(w, !row->key ? NULL : row->key->enabled ? "true" : "false", false);
                csv_text(w, time_or_null(row->created, created), false);
                csv_text(w, time_or_null(row->expires, expires), false);
                snprintf(num, sizeof num, "%" PRId64, row->age_days);
                w_puts(w, row->has_age ? num : "");
                w_puts(w, ",");
                snprintf(num, sizeof num, "%" PRId64, row->days_left);
                w_puts(w, row->has_expiry ? num : "");
                w_puts(w, ",");
                csv_text(w, a->outcome == OUTCOME_NONE ? NULL : action_outcome_to_string(a->outcome), false);
                csv_text(w, a->outcome == OUTCOME_REFUSED ? refusal_to_string(a->refusal) : NULL, false);
                csv_text(w, a->new_url, false);
                csv_text(w, a->operation_id, false);
                csv_text(w, a->error_code, true);
        }
}

/* ---- HTML ------------------------------------------------------------------------- */

/* Text and attribute values: & < > " ' escaped, so no Azure string becomes markup. */
static void h_text(struct w *w, const char *s) {
        for (const char *p = strempty(s); w->r >= 0 && *p; p++)
                switch (*p) {
                case '&':
                        w->r = buf_puts(w->b, "&amp;");
                        break;
                case '<':
                        w->r = buf_puts(w->b, "&lt;");
                        break;
                case '>':
                        w->r = buf_puts(w->b, "&gt;");
                        break;
                case '"':
                        w->r = buf_puts(w->b, "&quot;");
                        break;
                case '\'':
                        w->r = buf_puts(w->b, "&#39;");
                        break;
                default:
                        w->r = buf_putc(w->b, *p);
                }
}

static char *human_time(usec_t t, char *buf, size_t len) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&s, &tm);
        strftime(buf, len, "%Y-%m-%d %H:%M UTC", &tm);
        return buf;
}

static char *human_date(usec_t t, char *buf, size_t len) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&s, &tm);
        strftime(buf, len, "%Y-%m-%d", &tm);
        return buf;
}

/* The severity class of a key expiry under the cluster's policy. */
static const char *expiry_class(const struct row *row) {
        const struct policy_conf *p = &row->cr->policy;
        usec_t now = 0, exp = row->expires;

        if (!row->has_expiry)
                return "ok";
        if (row->days_left < 0)
                return "critical";
        /* days_left is floored: compare in usec against the windows */
        now = exp - (usec_t) row->days_left * USEC_PER_DAY;
        if (p->key_expiry_critical_usec > 0 && exp - now <= p->key_expiry_critical_usec)
                return "critical";
        if (p->key_expiry_warning_usec > 0 && exp - now <= p->key_expiry_warning_usec)
                return "warning";
        return "ok";
}

static const char html_style[] =
        ":root{--crit:#b42318;--crit-bg:#fef3f2;--warn:#b54708;--warn-bg:#fffaeb;--info:#175cd3;--info-bg:#eff8ff;"
        "--ok:#067647;--ok-bg:#ecfdf3;--ink:#101828;--muted:#475467;--line:#eaecf0}\n"
        "*{box-sizing:border-box}\n"
        "body{margin:0;background:#f5f6f8;color:var(--ink);"
        "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}\n"
        "header{background:#1d2939;color:#fff;padding:20px 32px}\n"
        "header h1{margin:0;font-size:22px;font-weight:600}\n"
        "header p{margin:4px 0 0;color:#d0d5dd}\n"
        "main{padding:24px 32px;max-width:1500px}\n"
        "section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 20px;margin:0 0 20px}\n"
        "h2{font-size:17px;margin:0 0 4px}\n"
        "p.note{margin:0 0 12px;color:var(--muted)}\n"
        ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(118px,1fr));gap:12px;margin:0 0 20px}\n"
        ".card{background:#fff;border:1px solid var(--line);border-left:6px solid #98a2b3;"
        "border-radius:8px;padding:10px 14px}\n"
        ".card b{display:block;font-size:30px;line-height:1.2}\n"
        ".card span{color:var(--muted)}\n"
        ".card.critical{border-left-color:var(--crit)}.card.critical b{color:var(--crit)}\n"
        ".card.warning{border-left-color:var(--warn)}.card.warning b{color:var(--warn)}\n"
        ".card.info{border-left-color:var(--info)}.card.info b{color:var(--info)}\n"
        ".card.ok{border-left-color:var(--ok)}.card.ok b{color:var(--ok)}\n"
        ".banner{border-left:6px solid var(--warn);background:var(--warn-bg);padding:10px 16px;margin:0 0 20px;"
        "border-radius:6px}\n"
        ".banner.critical{border-left-color:var(--crit);background:var(--crit-bg)}\n"
        "table{border-collapse:collapse;width:100%}table.fixed{table-layout:fixed}\n"
        "td{overflow-wrap:anywhere}\n"
        ".msg{font-size:12.5px;line-height:1.4}\n"
        "th,td{text-align:left;padding:7px 8px;border-bottom:1px solid var(--line);vertical-align:top}\n"
        "th{font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);background:#f9fafb}\n"
        "td.num{text-align:right;white-space:nowrap}\n"
        "tr.critical td{background:var(--crit-bg)}tr.critical td:first-child{box-shadow:inset 4px 0 var(--crit)}\n"
        "tr.warning td{background:var(--warn-bg)}tr.warning td:first-child{box-shadow:inset 4px 0 var(--warn)}\n"
        "tr.info td:first-child{box-shadow:inset 4px 0 var(--info)}\n"
        "tr.ok td:first-child{box-shadow:inset 4px 0 var(--ok)}\n"
        ".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:11px;font-weight:600;"
        "color:#fff;background:#667085;white-space:nowrap}\n"
        ".badge.critical,.badge.failed{background:var(--crit)}\n"
        ".badge.warning,.badge.refused{background:var(--warn)}\n"
        ".badge.info,.badge.proposed,.badge.started,.badge.in-progress,.badge.resumed{background:var(--info)}\n"
        ".badge.ok,.badge.succeeded{background:var(--ok)}\n"
        ".small{color:var(--muted);font-size:12px}\n"
        ".mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;"
        "overflow-wrap:anywhere}\n"
        "ul.findings{margin:0;padding:0;list-style:none}ul.findings li{margin:0 0 6px}\n"
        ".exp-critical{color:var(--crit);font-weight:600}.exp-warning{color:var(--warn);font-weight:600}\n"
        "svg{max-width:100%;height:auto}svg text{font-family:system-ui,sans-serif;font-size:12px;fill:#344054}\n"
        "dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}dt{color:var(--muted)}dd{margin:0}\n"
        "footer{color:var(--muted);font-size:12px;padding:0 32px 24px}\n";

static void h_badge(struct w *w, const char *cls, const char *label) {
        w_puts(w, "<span class=\"badge ");
        h_text(w, cls);
        w_puts(w, "\">");
        h_text(w, label);
        w_puts(w, "</span>");
}

/* A further line of a cell, in small print. */
static void h_small_line(struct w *w, const char *s) {
        w_puts(w, "<br><span class=\"small\">");
        h_text(w, s);
        w_puts(w, "</span>");
}

/* Azure's error code and message under an action, when there is either. */
static void h_error_line(struct w *w, const char *code, const char *message) {
        if (!code && !message)
                return;
        w_puts(w, "<br><span class=\"small\">");
        h_text(w, code);
        w_puts(w, " ");
        h_text(w, message);
        w_puts(w, "</span>");
}

static void h_card(struct w *w, const char *cls, unsigned n, const char *label) {
        w_printf(w, "<div class=\"card %s\"><b>%u</b><span>%s</span></div>\n", cls, n, label);
}

static void h_days(struct w *w, int64_t days) {
        if (days < 0)
                w_printf(w, "expired %" PRId64 " d ago", -days);
        else if (days == 0)
                w_puts(w, "today");
        else
                w_printf(w, "in %" PRId64 " d", days);
}

static int expiry_compare(const void *a, const void *b) {
        const struct row *x = *(const struct row *const *) a, *y = *(const struct row *const *) b;

        if (x->days_left != y->days_left)
                return x->days_left < y->days_left ? -1 : 1;
        return strcmp(strempty(x->cr->obs.cluster->name), strempty(y->cr->obs.cluster->name));
}

/* Horizontal bars: days until the key version each cluster uses expires, soonest first. */
static int h_chart(struct w *w, const struct model *m) {
        static const int ticks[] = { 0, 30, 90, 180, 365, 730 };
        /* label column, bars, and room on the right for "in 362 d (2027-11-20)" */
        const int left = 230, width = 560, row_h = 24, top = 34;
        _cleanup_free_ const struct row **shown = NULL;
        size_t n = 0, no_expiry = 0, unknown = 0, total_h;
        int64_t domain = 90;
        char date[16];

        shown = new0(const struct row *, m->n_rows + 1);
        if (!shown)
                return -ENOMEM;
        for (size_t i = 0; i < m->n_rows; i++) {
                if (m->rows[i].has_expiry)
                        shown[n++] = &m->rows[i];
                else if (m->rows[i].key)
                        no_expiry++;
                else
                        unknown++;
        }
        qsort(shown, n, sizeof *shown, expiry_compare);

        w_puts(w,
               "<section><h2>Key expiry</h2><p class=\"note\">Days until the key version each cluster uses "
               "expires, soonest first");
        if (n > REPORT_CHART_MAX)
                w_printf(w, " (the %d soonest of %zu)", REPORT_CHART_MAX, n);
        w_puts(w, ". ");
        if (no_expiry)
                w_printf(w, "%zu cluster%s use%s a key without an expiry date. ", no_expiry,
                         no_expiry == 1 ? "" : "s", no_expiry == 1 ? "s" : "");
        if (unknown)
                w_printf(w, "%zu cluster%s: key not readable. ", unknown, unknown == 1 ? "" : "s");
        w_puts(w, "</p>\n");
        n = MIN(n, (size_t) REPORT_CHART_MAX);
        if (n == 0) {
                w_puts(w, "<p>No key with an expiry date.</p></section>\n");
                return 0;
        }
        for (size_t i = 0; i < n; i++)
                domain = MAX(domain, shown[i]->days_left);
        domain = MIN(domain, 730);
        for (size_t i = 0; i < ELEMENTSOF(ticks); i++)
                if (ticks[i] >= domain) {
                        domain = ticks[i];
                        break;
                }

        total_h = (size_t) top + n * (size_t) row_h + 30;
        w_printf(
                w,
                "<svg role=\"img\" aria-label=\"Days until key expiry per cluster\" viewBox=\"0 0 960 %zu\" "
                "width=\"960\" height=\"%zu\" xmlns=\"http://www.w3.org/2000/svg\">\n",
                total_h, total_h);
        /* grid and ticks */
        for (size_t i = 0; i < ELEMENTSOF(ticks) && ticks[i] <= domain; i++) {
                int x = left + (int) ((int64_t) width * ticks[i] / domain);

                w_printf(w, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%zu\" stroke=\"#eaecf0\"/>", x,
                         top - 6, x, total_h - 24);
                w_printf(w, "<text x=\"%d\" y=\"%zu\" text-anchor=\"middle\">%d d</text>\n", x, total_h - 8,
                         ticks[i]);
        }
        /* the policy's windows, when every shown cluster has the same */
        {
                const struct policy_conf *p = &shown[0]->cr->policy;
                bool same = true;

                for (size_t i = 1; i < n; i++)
                        same = same &&
                               shown[i]->cr->policy.key_expiry_warning_usec == p->key_expiry_warning_usec &&
                               shown[i]->cr->policy.key_expiry_critical_usec == p->key_expiry_critical_usec;
                for (int k = 0; same && k < 2; k++) {
                        usec_t win = k ? p->key_expiry_critical_usec : p->key_expiry_warning_usec;
                        int64_t d = (int64_t) (win / USEC_PER_DAY);
                        int x = left + (int) ((int64_t) width * d / domain);

                        if (win == 0 || d > domain)
                                continue;
                        w_printf(
                                w,
                                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%zu\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>"
                                "<text x=\"%d\" y=\"%d\" text-anchor=\"%s\" style=\"fill:%s\">%s %" PRId64
                                " d</text>\n",
                                x, top - 10, x, total_h - 24, k ? "#b42318" : "#b54708", x + (k ? -4 : 4),
                                top - 14, k ? "end" : "start", k ? "#b42318" : "#b54708",
                                k ? "critical" : "warning", d);
                }
        }
        for (size_t i = 0; i < n; i++) {
                const struct row *row = shown[i];
                const char *cls = expiry_class(row);
                const char *color = streq(cls, "critical")  ? "#d92d20"
                                    : streq(cls, "warning") ? "#f79009"
                                                            : "#12b76a";
                int y = top + (int) i * row_h;
                int64_t d = CLAMP(row->days_left, 0, domain);
                int bw = (int) ((int64_t) width * d / domain);

                w_printf(w, "<g><title>");
                h_text(w, row->cr->obs.cluster->name);
                w_printf(w, ": expires %s</title>", human_date(row->expires, date, sizeof date));
                w_printf(w, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + 16);
                h_text(w, row->cr->obs.cluster->name);
                w_puts(w, "</text>");
                w_printf(w, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"3\" fill=\"%s\"/>",
                         left, y + 4, MAX(bw, 3), row_h - 8, color);
                w_printf(w, "<text x=\"%d\" y=\"%d\">", left + MAX(bw, 3) + 6, y + 16);
                h_days(w, row->days_left);
                w_printf(w, " (%s)%s</text></g>\n", date, row->days_left > domain ? " \xe2\x86\x92" : "");
        }
        w_puts(w, "</svg></section>\n");
        return 0;
}

static void h_key_cell(struct w *w, const struct row *row) {
        const struct cluster_result *cr = row->cr;

        if (!cr->verdict.has_keyurl) {
                w_puts(w, "<span class=\"mono\">");
                h_text(w, cr->obs.cluster->key_url ?: "service-managed");
                w_puts(w, "</span>");
                return;
        }
        w_puts(w, "<span class=\"mono\">");
        h_text(w, cr->verdict.keyurl.store_name);
        w_puts(w, "/");
        h_text(w, cr->verdict.keyurl.name);
        w_puts(w, "</span>");
        if (cr->verdict.keyurl.store == KEY_STORE_MANAGED_HSM)
                w_puts(w, " <span class=\"small\">(Managed HSM)</span>");
        w_puts(w, "<br><span class=\"small\">");
        if (row->versionless) {
                w_puts(w, "versionless");
                if (row->version) {
                        w_puts(w, " \xe2\x86\x92 <span class=\"mono\">");
                        h_text(w, row->version);
                        w_puts(w, "</span>");
                }
        } else {
                w_puts(w, "pinned to <span class=\"mono\">");
                h_text(w, row->version);
                w_puts(w, "</span>");
                if (cr->obs.key && cr->obs.key->version && !version_is_current(cr, row->version)) {
                        w_puts(w, "; current <span class=\"mono\">");
                        h_text(w, cr->obs.key->version);
                        w_puts(w, "</span>");
                }
        }
        if (row->key && !row->key->enabled)
                w_puts(w, " <span class=\"badge critical\">disabled</span>");
        w_puts(w, "</span>");
}

static void h_cluster_row(struct w *w, const struct model *m, const struct row *row) {
        const struct cluster_result *cr = row->cr;
        const struct cluster *cl = cr->obs.cluster;
        const struct action_result *a = &cr->action;
        char msg[FINDING_MESSAGE_MAX], date[16];

        w_printf(w, "<tr class=\"%s\"><td>", status_name(row->attention));
        h_badge(w, status_name(row->status), status_name(row->status));
        w_puts(w, "</td><td><b>");
        h_text(w, cl->name);
        w_puts(w, "</b><br><span class=\"small\">");
        h_text(w, cl->resource_group);
        w_puts(w, " \xc2\xb7 ");
        h_text(w, cl->location);
        w_puts(w, "<br><span class=\"mono\">");
        h_text(w, cl->subscription);
        w_puts(w, "</span></span></td><td>");
        h_text(w, cl->cluster_status ?: "?");
        h_small_line(w, cl->provisioning_state);
        w_puts(w, "</td><td>");
        h_key_cell(w, row);
        w_puts(w, "</td><td class=\"num\">");
        if (row->has_age)
                w_printf(w, "%" PRId64 " d", row->age_days);
        else
                w_puts(w, "\xe2\x80\x93");
        w_puts(w, "</td><td class=\"num\">");
        if (row->has_expiry) {
                w_printf(w, "%s<br><span class=\"exp-%s\">", human_date(row->expires, date, sizeof date),
                         expiry_class(row));
                h_days(w, row->days_left);
                w_puts(w, "</span>");
        } else
                w_puts(w, row->key ? "never" : "\xe2\x80\x93");
        w_puts(w, "</td><td><ul class=\"findings\">");
        for (size_t i = 0; i < cr->verdict.n_findings; i++) {
                const struct finding *f = &cr->verdict.findings[i];

                w_puts(w, "<li>");
                h_badge(w, severity_to_string(f->severity), finding_to_string(f->code));
                w_puts(w, "<div class=\"msg\">");
                h_text(w, describe(row, f, m->in->generated, msg));
                w_puts(w, "</div></li>");
        }
        w_puts(w, "</ul></td><td>");
        if (a->outcome != OUTCOME_NONE) {
                h_badge(w, action_outcome_to_string(a->outcome), action_outcome_to_string(a->outcome));
                if (a->outcome == OUTCOME_REFUSED)
                        h_small_line(w, refusal_describe(a->refusal));
                if (a->new_url) {
                        w_puts(w, "<br><span class=\"small\">to</span> <span class=\"mono\">");
                        h_text(w, a->new_url);
                        w_puts(w, "</span>");
                }
                h_error_line(w, a->error_code, a->error_message);
        }
        w_puts(w, "</td></tr>\n");
}

static void h_versions(struct w *w, const struct model *m) {
        char date[16];

        w_puts(w,
               "<section><h2>Key versions in use</h2><p class=\"note\">Which clusters use which key version. "
               "Do not disable or let expire a version listed here: the clusters on it lose access to their "
               "data. After moving clusters off a version, keep it enabled for at least two hours.</p>\n");
        if (m->n_versions == 0) {
                w_puts(w, "<p>No key version known.</p></section>\n");
                return;
        }
        w_puts(w,
               "<table><thead><tr><th>Key</th><th>Version</th><th>Current</th><th>Enabled</th><th>Expires</th>"
               "<th>Clusters</th></tr></thead><tbody>\n");
        for (size_t i = 0; i < m->n_versions; i++) {
                const struct version_use *u = &m->versions[i];
                const struct cluster_result *cr = u->first->cr;
                const struct key_bundle *k = u->first->key;
                bool current = version_is_current(cr, u->version);

                w_printf(w, "<tr class=\"%s\"><td class=\"mono\">",
                         k && !k->enabled ? "critical"
                         : current        ? "ok"
                                          : "warning");
                h_text(w, u->key);
                w_puts(w, "</td><td class=\"mono\">");
                h_text(w, u->version);
                w_printf(w, "</td><td>%s</td><td>%s</td><td>",
                         !cr->obs.key ? "?"
                         : current    ? "yes"
                                      : "no, older",
                         !k           ? "?"
                         : k->enabled ? "yes"
                                      : "<span class=\"badge critical\">disabled</span>");
                if (u->first->has_expiry) {
                        w_printf(w, "%s <span class=\"small\">",
                                 human_date(u->first->expires, date, sizeof date));
                        h_days(w, u->first->days_left);
                        w_puts(w, "</span>");
                } else
                        w_puts(w, k ? "never" : "?");
                w_printf(w, "</td><td><b>%zu</b>: ", u->n_rows);
                for (size_t j = 0; j < u->n_rows; j++) {
                        if (j)
                                w_puts(w, ", ");
                        h_text(w, u->rows[j]->cr->obs.cluster->name);
                }
                w_puts(w, "</td></tr>\n");
        }
        w_puts(w, "</tbody></table></section>\n");
}

static void h_actions(struct w *w, const struct model *m) {
        const struct audit_log *log = m->in->audit;
        char t[40];

        w_puts(w,
               "<section><h2>Actions in the period</h2><p class=\"note\">From the audit log: every update cmkd "
               "made, proposed or held back.");
        if (log && (log->n_corrupt || log->n_truncated))
                w_printf(w, " <b>%u damaged line%s of the audit log skipped.</b>",
                         log->n_corrupt + log->n_truncated,
                         log->n_corrupt + log->n_truncated == 1 ? "" : "s");
        if (log && log->n_omitted)
                w_printf(w, " <b>%u later entries not shown.</b>", log->n_omitted);
        w_puts(w, "</p>\n");
        if (!log || log->n_entries == 0) {
                w_puts(w, "<p>No action in this period.</p></section>\n");
                return;
        }
        w_puts(w,
               "<table><thead><tr><th>Time</th><th>Cluster</th><th>Result</th><th>Request</th><th>Old key URL</th>"
               "<th>New key URL</th><th>Operation / error</th></tr></thead><tbody>\n");
        for (size_t i = 0; i < log->n_entries; i++) {
                const struct audit_entry *e = &log->entries[i];
                const char *slash = e->cluster ? strrchr(e->cluster, '/') : NULL;

                w_printf(w, "<tr><td class=\"num\">%s</td><td title=\"", human_time(e->time, t, sizeof t));
                h_text(w, e->cluster);
                w_puts(w, "\">");
                h_text(w, slash ? slash + 1 : e->cluster);
                w_puts(w, "</td><td>");
                h_badge(w, audit_result_to_string(e->result), audit_result_to_string(e->result));
                if (e->refusal)
                        h_small_line(w, e->refusal);
                w_puts(w, "</td><td>");
                h_text(w, e->method);
                w_puts(w, " <span class=\"small\">");
                h_text(w, e->mode);
                w_puts(w, "</span></td><td class=\"mono\">");
                h_text(w, e->old_url);
                w_puts(w, "</td><td class=\"mono\">");
                h_text(w, e->new_url);
                w_puts(w, "</td><td><span class=\"mono\">");
                h_text(w, e->operation_id);
                w_puts(w, "</span>");
                h_error_line(w, e->error_code, e->error);
                w_puts(w, "</td></tr>\n");
        }
        w_puts(w, "</tbody></table></section>\n");
}

static void h_banners(struct w *w, const struct sweep_result *s) {
        if (!s->ran) {
                w_puts(w, "<div class=\"banner critical\"><b>The sweep could not run:</b> ");
                h_text(w, s->error_message ?: s->error ? strerror(ERRNO_VALUE(s->error)) : "unknown error");
                w_puts(w, ". Nothing below is current.</div>\n");
        }
        if (s->failed_scopes && s->failed_scopes[0]) {
                w_puts(w,
                       "<div class=\"banner\"><b>Some scopes could not be listed:</b> <span class=\"mono\">");
                STRV_FOREACH(scope, s->failed_scopes) {
                        if (scope != s->failed_scopes)
                                w_puts(w, ", ");
                        h_text(w, *scope);
                }
                w_puts(w, "</span>. Clusters there are missing from this report.</div>\n");
        }
        if (s->n_unreadable)
                w_printf(
                        w,
                        "<div class=\"banner\"><b>%u listed item%s could not be read</b> and %s missing from this "
                        "report.</div>\n",
                        s->n_unreadable, s->n_unreadable == 1 ? "" : "s",
                        s->n_unreadable == 1 ? "is" : "are");
}

static int html_report(struct w *w, const struct model *m) {
        const struct report_input *in = m->in;
        const struct sweep_result *s = in->sweep;
        char t[40], a[40], b[40];
        int r;

        w_puts(w, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                  /* Nothing to load, nothing to run: even an escaping slip could not fetch or execute. */
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                  "style-src 'unsafe-inline'; img-src data:\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"generator\" content=\"cmkd " CMKD_VERSION "\">\n<title>cmkd key report ");
        w_puts(w, human_time(in->generated, t, sizeof t));
        w_puts(w, "</title>\n<style>\n");
        w_puts(w, html_style);
        w_puts(w, "</style></head><body>\n<header><h1>Customer-managed keys: compliance report</h1><p>");
        w_printf(w, "Generated %s", t);
        if (in->mode) {
                w_puts(w, " \xc2\xb7 mode ");
                h_text(w, in->mode);
        }
        w_printf(w, " \xc2\xb7 sweep of %s", human_time(s->finished_realtime, a, sizeof a));
        if (in->period_start && in->period_end)
                w_printf(w, " \xc2\xb7 actions from %s to %s", human_time(in->period_start, a, sizeof a),
                         human_time(in->period_end, b, sizeof b));
        w_puts(w, "</p></header>\n<main>\n");
        h_banners(w, s);

        w_puts(w, "<div class=\"cards\">\n");
        h_card(w, "", (unsigned) m->n_rows, "clusters");
        h_card(w, "critical", m->by_status[1 + SEVERITY_CRITICAL], "critical");
        h_card(w, "warning", m->by_status[1 + SEVERITY_WARNING], "warning");
        h_card(w, "info", m->by_status[1 + SEVERITY_INFO], "info only");
        h_card(w, "ok", m->by_status[0], "no finding");
        h_card(w, "ok", m->by_result[AUDIT_SUCCEEDED], "updates succeeded");
        h_card(w, m->by_result[AUDIT_FAILED] ? "critical" : "", m->by_result[AUDIT_FAILED],
               "updates failed");
        h_card(w, m->by_result[AUDIT_REFUSED] ? "warning" : "", m->by_result[AUDIT_REFUSED], "held back");
        w_puts(w, "</div>\n");

        r = h_chart(w, m);
        if (r < 0)
                return r;

        w_puts(w,
               "<section><h2>Clusters</h2><p class=\"note\">Worst first. Age and expiry are those of the key "
               "version the cluster uses.</p>\n");
        if (m->n_rows == 0)
                w_puts(w, "<p>No cluster.</p>\n");
        else {
                w_puts(w,
                       /* Fixed widths: the findings' messages (ids, commands) wrap instead of
                        * pushing the action column off the page. */
                       "<table class=\"fixed\"><colgroup><col style=\"width:84px\"><col style=\"width:160px\">"
                       "<col style=\"width:112px\"><col style=\"width:176px\"><col style=\"width:52px\">"
                       "<col style=\"width:124px\"><col><col style=\"width:172px\"></colgroup>"
                       "<thead><tr><th>Status</th><th>Cluster</th><th>State</th><th>Key</th>"
                       "<th>Age</th><th>Expires</th><th>Findings</th><th>Action</th></tr></thead><tbody>\n");
                for (size_t i = 0; i < m->n_rows; i++)
                        h_cluster_row(w, m, &m->rows[i]);
                w_puts(w, "</tbody></table>\n");
        }
        w_puts(w, "</section>\n");
        h_versions(w, m);
        h_actions(w, m);

        w_puts(w, "<section><h2>About this report</h2><dl>");
        w_printf(w,
                 "<dt>Sweep</dt><dd>%s to %s, %.1f s, %u requests, %u throttled (HTTP 429), %u retries</dd>",
                 human_time(s->started_realtime, a, sizeof a), human_time(s->finished_realtime, b, sizeof b),
                 (double) s->stats.duration_usec / USEC_PER_SEC, s->stats.requests, s->stats.throttled,
                 s->stats.retries);
        w_printf(w,
                 "<dt>Files</dt><dd>the same data as JSON (schema version %d) and CSV beside this page</dd>",
                 REPORT_SCHEMA_VERSION);
        w_puts(w, "</dl></section>\n</main>\n<footer>cmkd " CMKD_VERSION "</footer>\n</body></html>\n");
        return 0;
}

/* ---- entry points ---------------------------------------------------------------- */

static const char *const report_format_table[_REPORT_FORMAT_MAX] = {
        [REPORT_JSON] = "json",
        [REPORT_CSV] = "csv",
        [REPORT_HTML] = "html",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(report_format, enum report_format, report_format_table)

int report_format(enum report_format f, const struct report_input *in, struct buf *out) {
        struct w w = { .b = out };
        struct model m;
        int r;

        if (!in->sweep || !report_format_to_string(f))
                return -EINVAL;
        r = model_init(&m, in);
        if (r >= 0) {
                if (f == REPORT_JSON)
                        json_report(&w, &m);
                else if (f == REPORT_CSV)
                        csv_report(&w, &m);
                else {
                        r = html_report(&w, &m);
                        if (r < 0 && w.r >= 0)
                                w.r = r;
                }
                r = w.r;
        }
        model_done(&m);
        return r;
}

char *report_file_name(enum report_format f, usec_t t, char *buf, size_t len) {
        time_t s = (time_t) (t / USEC_PER_SEC);
        char stamp[20];
        struct tm tm;

        gmtime_r(&s, &tm);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
        snprintf(buf, len, REPORT_PREFIX "%s.%s", stamp, strna(report_format_to_string(f)));
        return buf;
}

/* The time in a report file name of format f (any format if f < 0); -EINVAL if the name
 * is not one of ours. */
static int parse_name(const char *name, int f, usec_t *ret) {
        const char *p = startswith(name, REPORT_PREFIX), *ext;
        struct tm tm = {};
        time_t t;

        if (!p || strlen(p) < 17 || p[16] != '.')
                return -EINVAL;
        ext = p + 17;
        if (f >= 0 ? !streq(ext, report_format_to_string(f))
                   : !(streq(ext, "json") || streq(ext, "csv") || streq(ext, "html")))
                return -EINVAL;
        for (int i = 0; i < 16; i++)
                if (i == 8 ? p[i] != 'T' : i == 15 ? p[i] != 'Z' : (p[i] < '0' || p[i] > '9'))
                        return -EINVAL;
        if (sscanf(p, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                   &tm.tm_sec) != 6)
                return -EINVAL;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        t = timegm(&tm);
        if (t < 0)
                return -EINVAL;
        if (ret)
                *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Names of our reports of format f (any if < 0) in dir, sorted oldest first. */
static int list_reports(const char *dir, int f, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        DIR *d;
        int r = 0;

        d = opendir(dir);
        if (!d)
                return -errno;
        while ((errno = 0, de = readdir(d)))
                if (parse_name(de->d_name, f, NULL) >= 0 && (r = strv_extend(&names, de->d_name)) < 0)
                        break;
        if (r >= 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0)
                return r;
        /* The fixed-width UTC stamp sorts by time. */
        if (names)
                qsort(names, strv_length(names), sizeof *names, name_compare);
        *ret = TAKE_PTR(names);
        return 0;
}

int report_prune(const char *dir, enum report_format f, unsigned keep) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n;
        int r, removed = 0;

        if (!report_format_to_string(f))
                return -EINVAL;
        if (keep == 0)
                return 0;
        r = list_reports(dir, f, &names);
        if (r < 0)
                return r;
        n = strv_length(names);
        for (size_t i = 0; n > keep && i < n - keep; i++) {
                _cleanup_free_ char *path = path_join(dir, names[i]);

                if (!path)
                        return -ENOMEM;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
                removed++;
        }
        return removed;
}

int report_last_time(const char *dir, usec_t *ret) {
        _cleanup_strv_free_ char **names = NULL;
        size_t n;
        int r;

        r = list_reports(dir, -1, &names);
        if (r < 0)
                return r;
        n = strv_length(names);
        if (n == 0)
                return -ENOENT;
        return parse_name(names[n - 1], -1, ret);
}

int report_write(const char *dir, const struct report_input *in, unsigned keep, char ***ret_files) {
        _cleanup_strv_free_ char **files = NULL;
        struct buf b;
        int r;

        r = mkdir_p(dir, 0755);
        if (r < 0)
                return r;
        buf_init(&b, REPORT_FILE_MAX);
        for (int f = 0; f < _REPORT_FORMAT_MAX; f++) {
                char name[REPORT_NAME_MAX], latest[16];

                buf_clear(&b);
                r = report_format(f, in, &b);
                if (r < 0)
                        break;
                report_file_name(f, in->generated, name, sizeof name);
                snprintf(latest, sizeof latest, "latest.%s", report_format_to_string(f));
                /* The dated file first: latest.* always has a dated twin. */
                r = write_file_atomic(dir, name, buf_str(&b), b.len, 0644);
                if (r >= 0)
                        r = write_file_atomic(dir, latest, buf_str(&b), b.len, 0644);
                if (r >= 0)
                        r = strv_extend(&files, name);
                if (r < 0)
                        break;
        }
        buf_done(&b);
        if (r < 0)
                return r;
        for (int f = 0; f < _REPORT_FORMAT_MAX; f++) {
                r = report_prune(dir, f, keep);
                if (r < 0)
                        return r;
        }
        if (ret_files)
                *ret_files = TAKE_PTR(files);
        return 0;
}

int report_run(const char *dir, const char *audit_path, const struct sweep_result *s, const char *mode,
               unsigned keep, usec_t now, char ***ret_files) {
        _cleanup_(audit_log_freep) struct audit_log *log = NULL;
        struct report_input in = { .sweep = s, .generated = now, .period_end = now, .mode = mode };
        usec_t last;
        int r;

        r = report_last_time(dir, &last);
        if (r >= 0 && last < now)
                in.period_start = last;
        else if (r < 0 && r != -ENOENT)
                return r;
        else
                in.period_start = now > REPORT_PERIOD_DEFAULT_USEC ? now - REPORT_PERIOD_DEFAULT_USEC : 0;
        if (audit_path) {
                r = audit_read(audit_path, in.period_start, in.period_end, REPORT_AUDIT_MAX, &log);
                if (r < 0)
                        return r;
                in.audit = log;
        }
        return report_write(dir, &in, keep, ret_files);
}
