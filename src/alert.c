/* SPDX-License-Identifier: MIT */
/* Journal alerts: turns alert events into journal entries with a MESSAGE_ID from the table
 * below, a PRIORITY and CMKD_* fields. The only caller of sd_journal_send. It decides
 * nothing (alertstate.c does) and never sends a token or credential. */

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
/* No CODE_FILE/CODE_LINE of journal_sink() in every entry: they would say nothing. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-journal.h>
#include <syslog.h>

#include "alert.h"
#include "alertstate.h"
#include "armid.h"
#include "keyurl.h"
#include "mem.h"
#include "strv.h"
#include "sweep.h"
#include "timeutil.h"

/* Generated once with `systemd-id128 new`; never change one: they are in people's
 * filters and in systemd/cmkd.catalog (tests/unit/test-alert.c checks both match). */
static const char *const finding_ids[_FINDING_MAX] = {
        [FINDING_KEY_VERSION_STALE] = "951d6fb422d54d1880bb992962a6c5ba",
        [FINDING_KEY_VERSION_PINNED] = "516f74c2cdd34c4ab33c9b276d4a3d07",
        [FINDING_KEY_DISABLED] = "fc3cd0baae144319bfa6e028fbca98db",
        [FINDING_KEY_EXPIRED] = "885e1d40548640759ff2ed0440e5fe0f",
        [FINDING_KEY_NOT_YET_VALID] = "d6ec48961e62441fbba5e36f7ff93b8e",
        [FINDING_KEY_DELETED] = "34d475409a8a4b918b85dffdb81f4261",
        [FINDING_KEY_NOT_FOUND] = "5e31676afe2f40718dcd980125eae161",
        [FINDING_KEY_EXPIRING] = "6655f435ad0940a1884ce2e732412f2e",
        [FINDING_KEY_TOO_OLD] = "4ca2cad67c5c41d6932cabc58bcb28dd",
        [FINDING_KEY_NO_ROTATION_POLICY] = "4a0e13b9028744c3b16650f4b00bd5a3",
        [FINDING_KEY_TYPE_UNSUPPORTED] = "4c247fdf848d41c69a34192ef8ff1dc1",
        [FINDING_KEY_OPS_MISSING] = "453b50bfd2974307809e0200b1d7fe74",
        [FINDING_IDENTITY_NOT_ASSIGNED] = "2087dbda521c432389494263fd50e120",
        [FINDING_IDENTITY_DELETED] = "8b436d95656b4f2ab758f5e96b9617fc",
        [FINDING_IDENTITY_RECREATED] = "b4e630c356a1411c81860cb177558bf8",
        [FINDING_ACCESS_REVOKED] = "ffd32568f57b4ceaba6966726121b8b2",
        [FINDING_VAULT_DELETED] = "c6b4ea666694425bae5048e07a80f0a3",
        [FINDING_VAULT_SOFT_DELETE_OFF] = "c78a51b204f74481818984264bba2359",
        [FINDING_VAULT_PURGE_PROTECTION_OFF] = "06268159444f4f95bf1b69a9f2917a5f",
        [FINDING_VAULT_FIREWALL_BLOCKS] = "49faea7138ac4fabbab16bea2d3b8624",
        [FINDING_VAULT_REGION_MISMATCH] = "97fda980d8e84090992db00f0c8f2489",
        [FINDING_TENANT_MISMATCH] = "603c05bb99cf4db498f21ddeceb66955",
        [FINDING_CLUSTER_INACCESSIBLE] = "b0e08ef0ee17448ebdcc73c466f3dba0",
        [FINDING_SERVICE_MANAGED_KEY] = "e429136fdf15415ba2dfca80b1151cfb",
        [FINDING_CHECK_UNKNOWN] = "8d96cdfdb01149c695fda238a3a7790a",
        [FINDING_IDENTITY_REGION_MISMATCH] = "62489b5046b14440ba2e89dabdd9217e",
        [FINDING_KEY_URL_INVALID] = "4f4d3a46e72146b18ed65f74d78e10d4",
};

static const struct {
        const char *name;
        const char *id;
        int priority; /* for kinds whose priority does not follow a severity */
} kinds[_ALERT_KIND_MAX] = {
        [ALERT_FINDING] = { "finding", NULL, -1 },
        [ALERT_UPDATE_PROPOSED] = { "update-proposed", "fd145723af174b00a393aa50478d59b4", LOG_NOTICE },
        [ALERT_UPDATE_REFUSED] = { "update-refused", "32e499c8551c453e98619573fcb36297", LOG_WARNING },
        [ALERT_UPDATE_STARTED] = { "update-started", "100e98970caa497b9a4597a2f8084904", LOG_NOTICE },
        [ALERT_UPDATE_SUCCEEDED] = { "update-succeeded", "44215cb4e2f0412cb524993421786d59", LOG_NOTICE },
        [ALERT_UPDATE_FAILED] = { "update-failed", "05c9f9d0a90e4f2782881b3173b24fd6", LOG_ERR },
        [ALERT_SWEEP_FAILED] = { "sweep-failed", "bfabeb3760324e5898aa98d01a797198", LOG_ERR },
        [ALERT_SWEEP_INCOMPLETE] = { "sweep-incomplete", "b15f2e7352ae48fa89772f64ce3cfc68", LOG_WARNING },
        [ALERT_OUTAGE] = { "outage", "962007989d774e69914e266ead7a4537", LOG_WARNING },
        [ALERT_RESOLVED] = { "resolved", "c237a4183394413b927431594e0cb696", LOG_NOTICE },
        [ALERT_REPORT_WRITTEN] = { "report-written", "9b7b7b956d3d486cb64ae975de693d71", LOG_INFO },
        [ALERT_DAEMON_STARTED] = { "daemon-started", "22f4ae214482485196dcd247d8b3ede5", LOG_INFO },
        [ALERT_DAEMON_STOPPED] = { "daemon-stopped", "497a4737d8834061b53b1209527560ba", LOG_INFO },
};

/* Longest value of one field: a runaway Azure error message must not flood the journal. */
#define ALERT_FIELD_MAX 2048
#define ALERT_FIELDS_MAX 64
/* The api-version of the update command that alerts suggest (the product docs' one). */
#define ALERT_ARM_API_VERSION "2025-09-01"

static int journal_sink(const struct iovec *iov, size_t n, void *userdata) {
        return sd_journal_sendv(iov, (int) n);
}

static alert_sink_fn sink = journal_sink;
static void *sink_userdata;
static const char *arm_endpoint = "https://management.azure.com";

void alert_set_sink(alert_sink_fn s, void *userdata) {
        sink = s ?: journal_sink;
        sink_userdata = s ? userdata : NULL;
}

void alert_set_arm_endpoint(const char *endpoint) {
        arm_endpoint = endpoint ?: "https://management.azure.com";
}

const char *alert_kind_to_string(enum alert_kind k) {
        return k >= 0 && k < _ALERT_KIND_MAX ? kinds[k].name : NULL;
}

enum alert_kind alert_kind_from_string(const char *s) {
        for (int k = 0; s && k < _ALERT_KIND_MAX; k++)
                if (streq(s, kinds[k].name))
                        return k;
        return _ALERT_KIND_INVALID;
}

const char *alert_message_id(enum alert_kind kind, enum finding_code code) {
        if (kind == ALERT_FINDING)
                return code >= 0 && code < _FINDING_MAX ? finding_ids[code] : NULL;
        return kind >= 0 && kind < _ALERT_KIND_MAX ? kinds[kind].id : NULL;
}

size_t alert_message_id_count(void) {
        return _FINDING_MAX + _ALERT_KIND_MAX - 1;
}

const char *alert_message_id_nth(size_t i, const char **ret_name) {
        static char names[_FINDING_MAX][64];

        if (i < _FINDING_MAX) {
                snprintf(names[i], sizeof names[i], "finding:%s", strna(finding_to_string(i)));
                *ret_name = names[i];
                return finding_ids[i];
        }
        i -= _FINDING_MAX - 1; /* skip ALERT_FINDING */
        if (i >= _ALERT_KIND_MAX)
                return NULL;
        *ret_name = kinds[i].name;
        return kinds[i].id;
}

int alert_priority(enum alert_kind kind, enum severity severity) {
        if (kind != ALERT_FINDING)
                return kind >= 0 && kind < _ALERT_KIND_MAX ? kinds[kind].priority : LOG_WARNING;
        switch (severity) {
        case SEVERITY_CRITICAL:
                return LOG_CRIT;
        case SEVERITY_WARNING:
                return LOG_WARNING;
        default:
                return LOG_INFO;
        }
}

/* ---- building one entry ------------------------------------------------------------ */

struct fields {
        struct iovec iov[ALERT_FIELDS_MAX];
        size_t n;
        bool failed; /* an allocation failed: send nothing */
};

static void fields_done(struct fields *f) {
        for (size_t i = 0; i < f->n; i++)
                mem_free(f->iov[i].iov_base);
        f->n = 0;
}

/* Adds NAME=value, cutting the value at ALERT_FIELD_MAX bytes on a UTF-8 boundary. A NULL
 * or empty value adds nothing: absent is clearer than empty in `journalctl -o json`. */
static void field_add(struct fields *f, const char *name, const char *value) {
        size_t ln, lv;
        char *p;

        if (isempty(value) || f->failed)
                return;
        assert(f->n < ALERT_FIELDS_MAX);
        ln = strlen(name);
        lv = strlen(value);
        if (lv > ALERT_FIELD_MAX) {
                lv = ALERT_FIELD_MAX;
                while (lv > 0 && ((unsigned char) value[lv] & 0xc0) == 0x80)
                        lv--;
        }
        p = mem_malloc(ln + 1 + lv);
        if (!p) {
                f->failed = true;
                return;
        }
        memcpy(p, name, ln);
        p[ln] = '=';
        memcpy(p + ln + 1, value, lv);
        f->iov[f->n++] = (struct iovec) { .iov_base = p, .iov_len = ln + 1 + lv };
}

_printf_(3, 4) static void field_addf(struct fields *f, const char *name, const char *format, ...) {
        char v[ALERT_FIELD_MAX + 1];
        va_list ap;

        va_start(ap, format);
        vsnprintf(v, sizeof v, format, ap);
        va_end(ap);
        field_add(f, name, v);
}

static void field_time(struct fields *f, const char *name, usec_t t) {
        char s[RFC3339_MAX];

        if (t > 0 && t != USEC_INFINITY)
                field_add(f, name, rfc3339_format(s, sizeof s, t));
}

static int fields_send(struct fields *f) {
        int r;

        if (f->failed)
                r = -ENOMEM;
        else
                r = sink(f->iov, f->n, sink_userdata);
        fields_done(f);
        return r;
}

static void fields_head(struct fields *f, enum alert_kind kind, enum finding_code code, int priority) {
        field_add(f, "MESSAGE_ID", alert_message_id(kind, code));
        field_addf(f, "PRIORITY", "%d", priority);
        field_add(f, "SYSLOG_IDENTIFIER", "cmkd");
}

/* The key version a finding is about, else the one the cluster uses: the one its URL
 * pins, or the current one for a versionless URL. */
static const char *key_version(const struct cluster_result *cr, const struct finding *fd) {
        if (fd && fd->version)
                return fd->version;
        if (cr->verdict.has_keyurl && keyurl_is_versioned(cr->verdict.keyurl))
                return cr->verdict.keyurl->version;
        return cr->obs.key ? cr->obs.key->version : NULL;
}

static void fields_cluster(struct fields *f, const struct cluster_result *cr, const struct finding *fd) {
        const struct cluster *cl = cr->obs.cluster;
        const struct key_bundle *k = cluster_result_key_in_use(cr);
        usec_t exp = k ? k->exp : 0, created = k ? k->created : 0, nbf = k ? k->nbf : 0;

        field_add(f, "CMKD_CLUSTER", cl->id);
        field_add(f, "CMKD_CLUSTER_NAME", cl->name);
        field_add(f, "CMKD_SUBSCRIPTION", cl->subscription);
        field_add(f, "CMKD_RESOURCE_GROUP", cl->resource_group);
        field_add(f, "CMKD_LOCATION", cl->location);
        field_add(f, "CMKD_CLUSTER_STATUS", cl->cluster_status);
        field_add(f, "CMKD_PROVISIONING_STATE", cl->provisioning_state);
        field_add(f, "CMKD_KEY_URL", cl->key_url);
        field_add(f, "CMKD_IDENTITY", cl->kek_identity_id);
        if (cr->verdict.has_keyurl) {
                field_add(f, "CMKD_VAULT", cr->verdict.keyurl->host);
                field_add(f, "CMKD_KEY_STORE", key_store_to_string(cr->verdict.keyurl->store));
                field_add(f, "CMKD_KEY_NAME", cr->verdict.keyurl->name);
        }
        field_add(f, "CMKD_KEY_VERSION", key_version(cr, fd));
        if (cr->obs.key)
                field_add(f, "CMKD_KEY_CURRENT_VERSION", cr->obs.key->version);
        /* The finding's own date wins: it is about the version the finding names. */
        if (fd && (fd->code == FINDING_KEY_EXPIRED || fd->code == FINDING_KEY_EXPIRING))
                exp = fd->when;
        else if (fd && fd->code == FINDING_KEY_TOO_OLD)
                created = fd->when;
        else if (fd && fd->code == FINDING_KEY_NOT_YET_VALID)
                nbf = fd->when;
        field_time(f, "CMKD_KEY_EXPIRES", exp);
        field_time(f, "CMKD_KEY_CREATED", created);
        field_time(f, "CMKD_KEY_NOT_BEFORE", nbf);
}

/* A cluster that is gone, or a resolve without a sweep result: what the state remembers. */
static void fields_cluster_entry(struct fields *f, const struct alert_entry *e) {
        char sub[64];

        field_add(f, "CMKD_CLUSTER", e->cluster_id);
        field_add(f, "CMKD_CLUSTER_NAME", e->cluster_name);
        if (e->cluster_id && armid_subscription(e->cluster_id, sub, sizeof sub) >= 0)
                field_add(f, "CMKD_SUBSCRIPTION", sub);
}

static void fields_action(struct fields *f, const struct cluster_result *cr) {
        const struct action_result *a = &cr->action;

        if (a->outcome == OUTCOME_NONE)
                return;
        field_add(f, "CMKD_ACTION", "update");
        field_add(f, "CMKD_OUTCOME", action_outcome_to_string(a->outcome));
        field_add(f, "CMKD_OLD_KEY_URL", a->old_url ?: cr->obs.cluster->key_url);
        field_add(f, "CMKD_NEW_KEY_URL", a->new_url ?: cr->verdict.action.target_url);
        field_add(f, "CMKD_OPERATION_ID", a->operation_id);
        if (a->outcome == OUTCOME_REFUSED)
                field_add(f, "CMKD_REFUSAL", refusal_to_string(a->refusal));
        if (a->error != 0)
                field_add(f, "CMKD_ERROR", strerror(ERRNO_VALUE(a->error)));
        field_add(f, "CMKD_ERROR_CODE", a->error_code);
        field_add(f, "CMKD_ERROR_MESSAGE", a->error_message);
}

static void fields_check_unknown(struct fields *f, const struct finding *fd) {
        char cause[ALERTSTATE_CAUSE_MAX];

        field_add(f, "CMKD_FACT", fact_kind_to_string(fd->fact));
        field_add(f, "CMKD_CAUSE", alertstate_cause(fd, cause, sizeof cause));
        if (fd->status && fd->status->http_status > 0)
                field_addf(f, "CMKD_HTTP_STATUS", "%d", fd->status->http_status);
        if (fd->status)
                field_add(f, "CMKD_ERROR_CODE", fd->status->error_code);
}

/* Message text, built on the stack: an alert never fails for want of memory for its
 * words, and a long text is cut, not dropped. */
struct text {
        char s[ALERT_FIELD_MAX + 1];
        size_t len;
};

_printf_(2, 3) static void text_printf(struct text *t, const char *format, ...) {
        va_list ap;
        int n;

        if (t->len >= sizeof t->s - 1)
                return;
        va_start(ap, format);
        n = vsnprintf(t->s + t->len, sizeof t->s - t->len, format, ap);
        va_end(ap);
        if (n > 0)
                t->len = MIN(t->len + (size_t) n, sizeof t->s - 1);
}

/* "a, b, c" into t. */
static void join(struct text *t, char *const *l) {
        STRV_FOREACH(s, l)
                text_printf(t, "%s%s", s != l ? ", " : "", *s);
}

/* "name" of what an entry is about, for messages: "key-expired", "update-refused". */
static const char *entry_what(const struct alert_entry *e) {
        return e->kind == ALERT_FINDING ? strna(finding_to_string(e->code)) : alert_kind_to_string(e->kind);
}

static const char *name_of(const struct alert_event *e) {
        if (e->cluster && e->cluster->obs.cluster->name)
                return e->cluster->obs.cluster->name;
        return e->entry.cluster_name ?: e->entry.cluster_id ?: "cluster";
}

static const char *target_url(const struct cluster_result *cr) {
        return cr->action.new_url ?: (cr->verdict.action.wanted ? cr->verdict.action.target_url : NULL);
}

/* The by-hand fix for an update: the product docs' PUT, with identity and key together. */
static void fix_command(struct text *m, const struct cluster_result *cr) {
        text_printf(m,
                    " To update by hand: az rest --method PUT --url '%s%s?api-version=" ALERT_ARM_API_VERSION
                    "' --body @cluster.json, the body carrying location, identity and"
                    " customerManagedKeyEncryption with keyEncryptionKeyUrl=%s.",
                    arm_endpoint, cr->obs.cluster->id, strna(target_url(cr)));
}

static void message_condition(struct text *m, const struct alert_event *e, usec_t now) {
        const struct cluster_result *cr = e->cluster;
        const struct sweep_result *s = e->sweep;
        char when[RFC3339_MAX], text[FINDING_MESSAGE_MAX];

        rfc3339_format(when, sizeof when, e->entry.first_seen);
        if (e->type == ALERT_EVENT_REPEAT)
                text_printf(m, "Still unresolved since %s: ", when);
        else if (e->previous_severity >= 0)
                text_printf(m, "Now %s (was %s): ", severity_to_string(e->entry.severity),
                            severity_to_string(e->previous_severity));

        switch (e->entry.kind) {
        case ALERT_FINDING:
                if (cr && e->finding)
                        finding_describe(e->finding, &cr->obs, now, text, sizeof text);
                else
                        snprintf(text, sizeof text, "%s", entry_what(&e->entry));
                text_printf(m, "%s: %s", name_of(e), text);
                break;
        case ALERT_UPDATE_PROPOSED:
                text_printf(m,
                            "%s: dry-run: cmkd would repoint the key from %s to %s. Set Mode=enforce to let"
                            " cmkd do it.",
                            name_of(e), strna(cr->obs.cluster->key_url), strna(target_url(cr)));
                fix_command(m, cr);
                break;
        case ALERT_UPDATE_REFUSED:
                text_printf(m, "%s: the key update to %s is held back: %s.", name_of(e),
                            strna(target_url(cr)), strna(refusal_describe(cr->action.refusal)));
                fix_command(m, cr);
                break;
        case ALERT_UPDATE_FAILED:
                if (cr->action.error == -ETIME) {
                        /* Given up waiting: the result in Azure is unknown, so the usual "still
                         * uses the old key" would be a guess. */
                        text_printf(m,
                                    "%s: cmkd gave up waiting for the key update to %s: %s%s%s%s. The"
                                    " operation may still complete in Azure. cmkd sends no update while the"
                                    " cluster reads Updating, reads it again every sweep, and retries only"
                                    " after a delay if it then still uses %s. Check the operation in the"
                                    " cluster's activity log.",
                                    name_of(e), strna(target_url(cr)), strna(cr->action.error_code),
                                    cr->action.error_message ? " (" : "", strempty(cr->action.error_message),
                                    cr->action.error_message ? ")" : "",
                                    strna(cr->action.old_url ?: cr->obs.cluster->key_url));
                        break;
                }
                text_printf(m,
                            "%s: the key update to %s failed: %s%s%s%s. The cluster still uses %s."
                            " Fix the cause; cmkd tries the same key version again after an hour, then after"
                            " two, four and so on up to a day (a newer version at once). A failed PUT may"
                            " still have added the identity to the cluster: check"
                            " identity.userAssignedIdentities.",
                            name_of(e), strna(target_url(cr)),
                            cr->action.error_code
                                    ?: (cr->action.error ? strerror(ERRNO_VALUE(cr->action.error))
                                                         : "unknown error"),
                            cr->action.error_message ? " (" : "", strempty(cr->action.error_message),
                            cr->action.error_message ? ")" : "",
                            strna(cr->action.old_url ?: cr->obs.cluster->key_url));
                break;
        case ALERT_SWEEP_FAILED:
                text_printf(m,
                            "cmkd could not check any cluster: %s. Check the network path to Azure,"
                            " cmkd's credentials (cmkd --check-config) and the Azure status page; earlier"
                            " alerts stay active until clusters can be read again.",
                            s->error_message
                                    ?: s->error ? strerror(ERRNO_VALUE(s->error))
                                                : "unknown error");
                break;
        case ALERT_SWEEP_INCOMPLETE: {
                struct text scopes = {};

                join(&scopes, s->failed_scopes);

                text_printf(m,
                            "cmkd could not list %u scope(s)%s%s%s and could not read %u listed item(s);"
                            " clusters there keep their earlier alerts. Check cmkd's Reader role on those"
                            " scopes and the Azure status page.",
                            e->n_affected, scopes.len ? " (" : "", scopes.s, scopes.len ? ")" : "",
                            s->n_unreadable);
                break;
        }
        case ALERT_OUTAGE: {
                struct text names = {};

                join(&names, e->affected);

                text_printf(m,
                            "%u clusters could not be checked, all for the same cause: %s (%s%s)."
                            " Likely an Azure outage or a missing permission of cmkd itself; their"
                            " per-cluster alerts are held back while it lasts.",
                            e->n_affected, strna(e->entry.subject), names.s,
                            e->n_affected > strv_length(e->affected) ? ", ..." : "");
                break;
        }
        default:
                text_printf(m, "%s", entry_what(&e->entry));
        }
}

static void message_once(struct text *m, const struct alert_event *e) {
        const struct action_result *a = &e->cluster->action;

        if (e->entry.kind == ALERT_UPDATE_STARTED)
                text_printf(m, "%s: updating the key URL from %s to %s%s%s.", name_of(e),
                            strna(a->old_url ?: e->cluster->obs.cluster->key_url),
                            strna(target_url(e->cluster)), a->operation_id ? ", operation " : "",
                            strempty(a->operation_id));
        else
                text_printf(m, "%s: the key URL is now %s, verified (cluster Succeeded and Ready).",
                            name_of(e), strna(target_url(e->cluster)));
}

static void message_resolve(struct text *m, const struct alert_event *e, usec_t now) {
        char when[RFC3339_MAX], span[TIMESPAN_MAX];
        const struct alert_entry *x = &e->entry;

        rfc3339_format(when, sizeof when, x->first_seen);
        timespan_format(span, sizeof span, now > x->first_seen ? now - x->first_seen : 0, USEC_PER_MINUTE);
        if (!x->cluster_id)
                text_printf(m, "Resolved: %s%s%s (since %s, %s).", entry_what(x), x->subject ? ": " : "",
                            strempty(x->subject), when, span);
        else if (e->cluster_gone)
                text_printf(m,
                            "%s: resolved: %s (since %s): the cluster is no longer listed (deleted, moved"
                            " or no longer selected).",
                            name_of(e), entry_what(x), when);
        else
                text_printf(m, "%s: resolved: %s (%s since %s, %s).", name_of(e), entry_what(x),
                            severity_to_string(x->severity), when, span);
}

int alert_emit_event(const struct alert_event *e, usec_t now) {
        const struct alert_entry *x = &e->entry;
        struct fields f = {};
        struct text m = {};
        int priority;

        if (x->kind < 0 || x->kind >= _ALERT_KIND_MAX || e->type < 0 || e->type >= _ALERT_EVENT_MAX)
                return -EINVAL;
        /* Conditions of a cluster need the sweep's view of it, except when they resolve. */
        if (e->type != ALERT_EVENT_RESOLVE && x->cluster_id && !e->cluster)
                return -EINVAL;
        if (e->type != ALERT_EVENT_RESOLVE && !x->cluster_id && !e->sweep)
                return -EINVAL;

        if (e->type == ALERT_EVENT_RESOLVE) {
                message_resolve(&m, e, now);
                priority = alert_priority(ALERT_RESOLVED, x->severity);
                fields_head(&f, ALERT_RESOLVED, _FINDING_INVALID, priority);
                field_add(&f, "CMKD_RESOLVE_REASON", e->cluster_gone ? "cluster-gone" : "cleared");
                field_addf(&f, "CMKD_DURATION_SEC", "%" PRIu64,
                           (now > x->first_seen ? now - x->first_seen : 0) / USEC_PER_SEC);
        } else {
                if (e->type == ALERT_EVENT_ONCE)
                        message_once(&m, e);
                else
                        message_condition(&m, e, now);
                priority = alert_priority(x->kind, x->severity);
                fields_head(&f, x->kind, x->code, priority);
        }
        field_add(&f, "MESSAGE", m.s);

        field_add(&f, "CMKD_EVENT", alert_event_type_to_string(e->type));
        field_add(&f, "CMKD_ALERT", alert_kind_to_string(x->kind));
        if (x->kind == ALERT_FINDING)
                field_add(&f, "CMKD_FINDING", finding_to_string(x->code));
        field_add(&f, "CMKD_SEVERITY", severity_to_string(x->severity));
        if (e->previous_severity >= 0)
                field_add(&f, "CMKD_PREVIOUS_SEVERITY", severity_to_string(e->previous_severity));
        field_time(&f, "CMKD_FIRST_SEEN", x->first_seen);
        if (e->type == ALERT_EVENT_FIRE || e->type == ALERT_EVENT_REPEAT)
                field_addf(&f, "CMKD_REPEAT", "%u", x->n_sent > 0 ? x->n_sent - 1 : 0);

        if (e->cluster) {
                fields_cluster(&f, e->cluster, e->finding);
                if (x->kind != ALERT_FINDING || e->type == ALERT_EVENT_RESOLVE)
                        fields_action(&f, e->cluster);
        } else if (x->cluster_id)
                fields_cluster_entry(&f, x);

        if (e->finding && e->finding->code == FINDING_CHECK_UNKNOWN)
                fields_check_unknown(&f, e->finding);
        if (x->kind == ALERT_OUTAGE)
                field_add(&f, "CMKD_CAUSE", x->subject);
        if ((x->kind == ALERT_OUTAGE || x->kind == ALERT_SWEEP_INCOMPLETE) &&
            e->type != ALERT_EVENT_RESOLVE) {
                struct text l = {};

                join(&l, e->affected);
                field_addf(&f, "CMKD_AFFECTED", "%u", e->n_affected);
                field_add(&f, x->kind == ALERT_OUTAGE ? "CMKD_AFFECTED_CLUSTERS" : "CMKD_FAILED_SCOPES",
                          l.s);
                if (x->kind == ALERT_SWEEP_INCOMPLETE)
                        field_addf(&f, "CMKD_UNREADABLE", "%u", e->sweep->n_unreadable);
        }
        if (x->kind == ALERT_SWEEP_FAILED && e->type != ALERT_EVENT_RESOLVE && e->sweep) {
                field_add(&f, "CMKD_ERROR", e->sweep->error ? strerror(ERRNO_VALUE(e->sweep->error)) : NULL);
                field_add(&f, "CMKD_ERROR_MESSAGE", e->sweep->error_message);
        }
        return fields_send(&f);
}

int alert_emit_events(const struct alert_events *ev, usec_t now) {
        int r = 0;

        for (size_t i = 0; i < ev->n_events; i++) {
                int k = alert_emit_event(&ev->events[i], now);

                if (k < 0 && r >= 0)
                        r = k;
                else if (r >= 0)
                        r++;
        }
        return r;
}

int alert_emit_report_written(const char *dir, char *const *files, const struct sweep_result *s,
                              usec_t now) {
        unsigned by_worst[_SEVERITY_MAX] = {};
        struct fields f = {};
        struct text list = {};

        join(&list, files);
        for (size_t i = 0; s && i < s->n_clusters; i++)
                if (s->clusters[i].verdict.n_findings > 0)
                        by_worst[s->clusters[i].verdict.worst]++;
        fields_head(&f, ALERT_REPORT_WRITTEN, _FINDING_INVALID,
                    alert_priority(ALERT_REPORT_WRITTEN, SEVERITY_INFO));
        field_addf(&f, "MESSAGE",
                   "Compliance report written to %s: %s (%zu clusters, %u critical, %u warning).", dir,
                   list.s, s ? s->n_clusters : 0, by_worst[SEVERITY_CRITICAL], by_worst[SEVERITY_WARNING]);
        field_add(&f, "CMKD_REPORT_DIRECTORY", dir);
        field_add(&f, "CMKD_REPORT_FILES", list.s);
        field_time(&f, "CMKD_REPORT_TIME", now);
        if (s) {
                field_addf(&f, "CMKD_CLUSTERS", "%zu", s->n_clusters);
                field_addf(&f, "CMKD_CRITICAL", "%u", by_worst[SEVERITY_CRITICAL]);
                field_addf(&f, "CMKD_WARNING", "%u", by_worst[SEVERITY_WARNING]);
        }
        return fields_send(&f);
}

int alert_emit_daemon(enum alert_kind kind, const char *mode, const char *detail) {
        struct fields f = {};

        if (kind != ALERT_DAEMON_STARTED && kind != ALERT_DAEMON_STOPPED)
                return -EINVAL;
        fields_head(&f, kind, _FINDING_INVALID, alert_priority(kind, SEVERITY_INFO));
        if (kind == ALERT_DAEMON_STARTED)
                field_addf(&f, "MESSAGE", "cmkd %s started%s%s%s%s.", CMKD_VERSION, mode ? " in mode " : "",
                           strempty(mode), detail ? ": " : "", strempty(detail));
        else
                field_addf(&f, "MESSAGE", "cmkd stopped%s%s.", detail ? ": " : "", strempty(detail));
        field_add(&f, "CMKD_VERSION", CMKD_VERSION);
        field_add(&f, "CMKD_MODE", mode);
        field_add(&f, "CMKD_DETAIL", detail);
        return fields_send(&f);
}
