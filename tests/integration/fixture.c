/* SPDX-License-Identifier: MIT */
/* JSON → struct sweep_result for the integration drivers. Test tooling: strict about the
 * fixture (an unknown code is an error, never a silent skip), loose about memory (the
 * drivers run once and exit). */

#include <json-c/json.h>
#include <stdio.h>

#include "armid.h"
#include "fileio.h"
#include "fixture.h"
#include "mem.h"
#include "strv.h"
#include "timeutil.h"

struct fixture_cluster {
        struct cluster *cluster; /* owned */
        struct key_bundle key, pinned;
        struct obs_status unknown;
        struct finding findings[_FINDING_MAX]; /* what the verdict's findings point to */
        char target_url[KEYURL_MAX];           /* what a wanted target_url points to */
        struct keyurl keyurl;                  /* what the verdict's keyurl points to */
};

struct fixture {
        struct sweep_result sweep;
        struct fixture_cluster *clusters; /* owned, one per sweep.clusters[] */
        struct json_object *root;         /* strings below borrow from it */
};

static const char *get_str(struct json_object *o, const char *key) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static char *dup_str(struct json_object *o, const char *key) {
        const char *s = get_str(o, key);

        return s ? mem_strdup(s) : NULL;
}

static int64_t get_int(struct json_object *o, const char *key, int64_t def) {
        struct json_object *v;

        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return def;
        return json_object_get_int64(v);
}

static int get_time(struct json_object *o, const char *key, usec_t def, usec_t *ret) {
        const char *s = get_str(o, key);

        if (!s) {
                *ret = def;
                return 0;
        }
        if (rfc3339_parse(s, ret) < 0) {
                fprintf(stderr, "fixture: bad time in %s: %s\n", key, s);
                return -EINVAL;
        }
        return 0;
}

static int lookup(const char *what, const char *s, const char *(*to_string)(int), int max) {
        for (int i = 0; i < max; i++)
                if (to_string(i) && streq(to_string(i), s))
                        return i;
        fprintf(stderr, "fixture: unknown %s '%s'\n", what, s);
        return -EINVAL;
}

static const char *refusal_name(int r) {
        return refusal_to_string(r);
}
static const char *fact_name(int f) {
        return fact_kind_to_string(f);
}
static const char *outcome_name(int o) {
        return action_outcome_to_string(o);
}
static const char *finding_name(int c) {
        return finding_to_string(c);
}
static const char *severity_name(int s) {
        return severity_to_string(s);
}

static int load_key(struct json_object *o, struct key_bundle *k) {
        struct json_object *v;
        int r;

        *k = (struct key_bundle) { .kty = mem_strdup("RSA"),
                                  .rsa_bits = 3072,
                                  .enabled = true,
                                  .key_ops = KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY };
        k->version = dup_str(o, "version");
        if (json_object_object_get_ex(o, "enabled", &v))
                k->enabled = json_object_get_boolean(v);
        if ((r = get_time(o, "created", 0, &k->created)) < 0 ||
            (r = get_time(o, "expires", USEC_INFINITY, &k->exp)) < 0 ||
            (r = get_time(o, "not_before", 0, &k->nbf)) < 0)
                return r;
        return 0;
}

static int load_cluster(struct json_object *o, struct fixture_cluster *fc, struct cluster_result *cr) {
        struct json_object *v, *findings, *action, *policy;
        struct cluster *c;
        struct armid id;
        int r;

        c = fc->cluster = new0(struct cluster, 1);
        if (!c)
                return -ENOMEM;
        c->id = dup_str(o, "id");
        if (!c->id || armid_parse(c->id, &id) < 0) {
                fprintf(stderr, "fixture: cluster without a valid \"id\"\n");
                return -EINVAL;
        }
        c->name = mem_strdup(id.name);
        if (get_str(o, "name")) {
                mem_free(c->name);
                c->name = dup_str(o, "name"); /* to test hostile names */
        }
        c->subscription = mem_strdup(id.subscription);
        c->resource_group = mem_strdup(id.resource_group);
        c->location = dup_str(o, "location");
        c->cluster_status = dup_str(o, "cluster_status") ?: mem_strdup("Ready");
        c->provisioning_state = dup_str(o, "provisioning_state") ?: mem_strdup("Succeeded");
        c->key_url = dup_str(o, "key_url");
        c->customer_managed = c->key_url != NULL;
        c->kek_identity_id = dup_str(o, "identity");
        c->kek_identity_type = c->kek_identity_id ? mem_strdup("UserAssignedIdentity") : NULL;

        cr->obs.cluster = c;
        policy = json_object_object_get_ex(o, "policy", &v) ? v : NULL;
        cr->policy.key_expiry_warning_usec =
                (usec_t) get_int(policy, "expiry_warning_days", 30) * USEC_PER_DAY;
        cr->policy.key_expiry_critical_usec =
                (usec_t) get_int(policy, "expiry_critical_days", 7) * USEC_PER_DAY;
        cr->verdict.keyurl = &keyurl_none;
        if (c->key_url && keyurl_parse(c->key_url, &fc->keyurl) >= 0) {
                cr->verdict.keyurl = &fc->keyurl;
                cr->verdict.has_keyurl = true;
        }
        if (json_object_object_get_ex(o, "key", &v)) {
                r = load_key(v, &fc->key);
                if (r < 0)
                        return r;
                cr->obs.key_status.state = OBS_PRESENT;
                cr->obs.key = &fc->key;
        }
        if (json_object_object_get_ex(o, "pinned", &v)) {
                r = load_key(v, &fc->pinned);
                if (r < 0)
                        return r;
                cr->obs.pinned_status.state = OBS_PRESENT;
                cr->obs.pinned = &fc->pinned;
        }

        cr->verdict.worst = SEVERITY_INFO;
        cr->verdict.findings = fc->findings;
        cr->verdict.action.target_url = "";
        if (json_object_object_get_ex(o, "findings", &findings)) {
                size_t n = json_object_array_length(findings);

                if (n > _FINDING_MAX)
                        return -E2BIG;
                for (size_t i = 0; i < n; i++) {
                        struct json_object *fo = json_object_array_get_idx(findings, i);
                        struct finding *f = &cr->verdict.findings[cr->verdict.n_findings];
                        const char *s;
                        int code, sev;

                        code = lookup("finding code", strempty(get_str(fo, "code")), finding_name,
                                      _FINDING_MAX);
                        sev = lookup("severity", strempty(get_str(fo, "severity")), severity_name,
                                     _SEVERITY_MAX);
                        if (code < 0 || sev < 0)
                                return -EINVAL;
                        *f = (struct finding) { .code = code,
                                               .severity = sev,
                                               .version = get_str(fo, "version") };
                        r = get_time(fo, "when", 0, &f->when);
                        if (r < 0)
                                return r;
                        if ((s = get_str(fo, "fact"))) {
                                int fact = lookup("fact", s, fact_name, _FACT_MAX);

                                if (fact < 0)
                                        return fact;
                                f->fact = fact;
                        }
                        if (code == FINDING_CHECK_UNKNOWN) {
                                int http = (int) get_int(fo, "http_status", 0);

                                /* as the request layer maps them */
                                fc->unknown = (struct obs_status) {
                                        .state = OBS_UNKNOWN,
                                        .error = (int) get_int(fo, "errno",
                                                               http == 401 || http == 403 ? -EACCES : -EIO),
                                        .http_status = http,
                                        .error_code = get_str(fo, "error_code"),
                                };
                                f->status = &fc->unknown;
                        }
                        if (cr->verdict.n_findings == 0 || sev > (int) cr->verdict.worst)
                                cr->verdict.worst = sev;
                        cr->verdict.n_findings++;
                }
        }

        if (json_object_object_get_ex(o, "action", &action)) {
                struct action_result *a = &cr->action;
                const char *s;
                int x;

                x = lookup("outcome", strempty(get_str(action, "outcome")), outcome_name, _OUTCOME_MAX);
                if (x < 0)
                        return x;
                a->outcome = x;
                if ((s = get_str(action, "refusal"))) {
                        x = lookup("refusal", s, refusal_name, _REFUSAL_MAX);
                        if (x < 0)
                                return x;
                        a->refusal = x;
                }
                a->old_url = dup_str(action, "old_url") ?: (c->key_url ? mem_strdup(c->key_url) : NULL);
                a->new_url = dup_str(action, "new_url");
                a->operation_id = dup_str(action, "operation_id");
                a->error_code = dup_str(action, "error_code");
                a->error_message = dup_str(action, "error_message");
                if (a->outcome == OUTCOME_FAILED)
                        a->error = -EIO;
                cr->verdict.action.wanted = true;
                cr->verdict.action.refusal = a->refusal;
                snprintf(fc->target_url, sizeof fc->target_url, "%s", strempty(a->new_url));
                cr->verdict.action.target_url = fc->target_url;
        }
        return 0;
}

int fixture_load(const char *path, struct fixture **ret, const struct sweep_result **ret_sweep) {
        _cleanup_free_ char *text = NULL;
        struct json_object *clusters, *v, *stats;
        struct fixture *f;
        size_t n;
        int r;

        r = read_file_bounded(path, 64 * 1024 * 1024, &text, NULL);
        if (r < 0) {
                fprintf(stderr, "fixture: cannot read %s: %s\n", path, strerror(-r));
                return r;
        }
        f = new0(struct fixture, 1);
        if (!f)
                return -ENOMEM;
        f->root = json_tokener_parse(text);
        if (!f->root || !json_object_is_type(f->root, json_type_object)) {
                fprintf(stderr, "fixture: %s is not a JSON object\n", path);
                fixture_free(f);
                return -EINVAL;
        }
        f->sweep.ran = !json_object_object_get_ex(f->root, "ran", &v) || json_object_get_boolean(v);
        f->sweep.error_message = dup_str(f->root, "error_message");
        if (!f->sweep.ran)
                f->sweep.error = -EIO;
        f->sweep.n_unreadable = (unsigned) get_int(f->root, "unreadable", 0);
        if (json_object_object_get_ex(f->root, "failed_scopes", &v))
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (strv_extend(&f->sweep.failed_scopes,
                                        json_object_get_string(json_object_array_get_idx(v, i))) < 0)
                                return -ENOMEM;
        stats = json_object_object_get_ex(f->root, "stats", &v) ? v : NULL;
        f->sweep.stats = (struct sweep_stats) {
                .requests = (unsigned) get_int(stats, "requests", 0),
                .throttled = (unsigned) get_int(stats, "throttled", 0),
                .retries = (unsigned) get_int(stats, "retries", 0),
                .duration_usec = (usec_t) get_int(stats, "duration_ms", 0) * USEC_PER_MSEC,
        };
        if ((r = get_time(f->root, "started", 0, &f->sweep.started_realtime)) < 0 ||
            (r = get_time(f->root, "finished", f->sweep.started_realtime, &f->sweep.finished_realtime)) <
                    0) {
                fixture_free(f);
                return r;
        }

        n = json_object_object_get_ex(f->root, "clusters", &clusters) ? json_object_array_length(clusters)
                                                                      : 0;
        f->sweep.clusters = new0(struct cluster_result, n + 1);
        f->clusters = new0(struct fixture_cluster, n + 1);
        if (!f->sweep.clusters || !f->clusters) {
                fixture_free(f);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = load_cluster(json_object_array_get_idx(clusters, i), &f->clusters[i],
                                 &f->sweep.clusters[i]);
                if (r < 0) {
                        f->sweep.n_clusters = i + 1;
                        fixture_free(f);
                        return r;
                }
        }
        f->sweep.n_clusters = n;
        *ret = f;
        *ret_sweep = &f->sweep;
        return 0;
}

struct fixture *fixture_free(struct fixture *f) {
        if (!f)
                return NULL;
        for (size_t i = 0; f->clusters && i < f->sweep.n_clusters; i++) {
                cluster_free(f->clusters[i].cluster);
                mem_free(f->clusters[i].key.version);
                mem_free(f->clusters[i].key.kty);
                mem_free(f->clusters[i].pinned.version);
                mem_free(f->clusters[i].pinned.kty);
        }
        mem_free(f->clusters);
        sweep_result_done(&f->sweep);
        json_object_put(f->root);
        mem_free(f);
        return NULL;
}
