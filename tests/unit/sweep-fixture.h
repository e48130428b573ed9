/* SPDX-License-Identifier: MIT */
#pragma once

/* A hand-built sweep for the tests of alertstate, alert, report, metrics and status: a few
 * clusters with keys, findings and actions, no allocation (strings are literals or live in
 * the fixture), so each test states exactly what the sweep holds. */

#include <stdio.h>

#include "keyurl.h"
#include "sweep.h"

#define FX_MAX 16
#define FX_SUB "11111111-2222-3333-4444-555555555555"
#define FX_T0 ((usec_t) 1795413600 * USEC_PER_SEC) /* 2026-11-23T06:00:00Z */

struct fx {
        char ids[FX_MAX][256];
        char names[FX_MAX][64];
        char urls[FX_MAX][KEYURL_MAX];
        struct cluster clusters[FX_MAX];
        struct key_bundle keys[FX_MAX];
        struct key_bundle pinned[FX_MAX];
        struct obs_status unknown_status[FX_MAX];
        struct cluster_result results[FX_MAX];
        struct finding findings[FX_MAX][_FINDING_MAX]; /* what results[i].verdict.findings points to */
        char targets[FX_MAX][KEYURL_MAX];              /* what a wanted target_url points to */
        struct keyurl keyurls[FX_MAX];                 /* what results[i].verdict.keyurl points to */
        struct sweep_result sweep;
};

/* n healthy clusters "c0".. in resource group "rg", each on its own versionless key
 * https://vault{i}.vault.azure.net/keys/key{i}, current version "v{i}" created 100 days
 * before FX_T0 and expiring 200 days after it. */
static inline void fx_init(struct fx *fx, size_t n) {
        memset(fx, 0, sizeof *fx);
        fx->sweep = (struct sweep_result) {
                .started_realtime = FX_T0,
                .finished_realtime = FX_T0 + 12 * USEC_PER_SEC,
                .ran = true,
                .clusters = fx->results,
                .n_clusters = n,
                .stats = { .requests = 40,
                           .throttled = 2,
                           .retries = 3,
                           .duration_usec = 12 * USEC_PER_SEC },
        };
        for (size_t i = 0; i < n; i++) {
                struct cluster *c = &fx->clusters[i];
                struct key_bundle *k = &fx->keys[i];
                struct cluster_result *r = &fx->results[i];

                snprintf(fx->names[i], sizeof fx->names[i], "c%zu", i);
                snprintf(fx->ids[i], sizeof fx->ids[i],
                         "/subscriptions/" FX_SUB
                         "/resourceGroups/rg/providers/Microsoft.DocumentDB/mongoClusters/c%zu",
                         i);
                snprintf(fx->urls[i], sizeof fx->urls[i], "https://vault%zu.vault.azure.net/keys/key%zu", i,
                         i);
                *c = (struct cluster) {
                        .id = fx->ids[i],
                        .name = fx->names[i],
                        .location = (char *) "westeurope",
                        .subscription = (char *) FX_SUB,
                        .resource_group = (char *) "rg",
                        .provisioning_state = (char *) "Succeeded",
                        .cluster_status = (char *) "Ready",
                        .customer_managed = true,
                        .kek_identity_type = (char *) "UserAssignedIdentity",
                        .kek_identity_id = (char *) "/subscriptions/" FX_SUB
                                                    "/resourceGroups/rg/providers/Microsoft.ManagedIdentity/"
                                                    "userAssignedIdentities/cmk",
                        .key_url = fx->urls[i],
                };
                *k = (struct key_bundle) {
                        .version = (char *) "v0",
                        .kty = (char *) "RSA",
                        .rsa_bits = 3072,
                        .key_ops = KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY,
                        .enabled = true,
                        .created = FX_T0 - 100 * USEC_PER_DAY,
                        .exp = FX_T0 + 200 * USEC_PER_DAY,
                };
                r->obs = (struct cluster_obs) {
                        .cluster = c,
                        .key_status = { .state = OBS_PRESENT },
                        .key = k,
                };
                r->policy.key_expiry_warning_usec = 30 * USEC_PER_DAY;
                r->policy.key_expiry_critical_usec = 7 * USEC_PER_DAY;
                r->verdict.worst = SEVERITY_INFO;
                r->verdict.findings = fx->findings[i];
                r->verdict.action.target_url = "";
                r->verdict.keyurl = &fx->keyurls[i];
                if (keyurl_parse(c->key_url, &fx->keyurls[i]) == 0)
                        r->verdict.has_keyurl = true;
        }
}

/* Pins cluster i to version "old{i}" of its key, created 400 days before FX_T0. */
static inline void fx_pin(struct fx *fx, size_t i, bool enabled) {
        struct cluster_result *r = &fx->results[i];

        snprintf(fx->urls[i], sizeof fx->urls[i], "https://vault%zu.vault.azure.net/keys/key%zu/old%zu", i,
                 i, i);
        fx->pinned[i] = fx->keys[i];
        fx->pinned[i].version = (char *) "old";
        fx->pinned[i].enabled = enabled;
        fx->pinned[i].created = FX_T0 - 400 * USEC_PER_DAY;
        r->obs.pinned_status.state = OBS_PRESENT;
        r->obs.pinned = &fx->pinned[i];
        r->verdict.has_keyurl = keyurl_parse(fx->urls[i], &fx->keyurls[i]) == 0;
}

static inline struct finding *fx_finding(struct fx *fx, size_t i, enum finding_code code,
                                         enum severity sev) {
        struct verdict *v = &fx->results[i].verdict;
        struct finding *f = &v->findings[v->n_findings++];

        *f = (struct finding) { .code = code, .severity = sev };
        if (v->n_findings == 1 || sev > v->worst)
                v->worst = sev;
        return f;
}

/* A check-unknown finding on cluster i: its key could not be read, with this cause. */
static inline struct finding *fx_unknown(struct fx *fx, size_t i, int http_status, const char *error_code) {
        struct finding *f = fx_finding(fx, i, FINDING_CHECK_UNKNOWN, SEVERITY_WARNING);

        fx->unknown_status[i] = (struct obs_status) {
                .state = OBS_UNKNOWN,
                .error = -EIO,
                .http_status = http_status,
                .error_code = error_code,
        };
        fx->results[i].obs.key_status = fx->unknown_status[i];
        fx->results[i].obs.key = NULL;
        f->fact = FACT_KEY;
        f->status = &fx->unknown_status[i];
        return f;
}

static inline void fx_action(struct fx *fx, size_t i, enum action_outcome outcome, enum refusal refusal,
                             const char *new_url, const char *operation_id) {
        struct cluster_result *r = &fx->results[i];

        r->verdict.action.wanted = true;
        r->verdict.action.refusal = refusal;
        r->verdict.action.kind = refusal == REFUSAL_NONE ? ACTION_UPDATE : ACTION_NONE;
        snprintf(fx->targets[i], sizeof fx->targets[i], "%s", new_url);
        r->verdict.action.target_url = fx->targets[i];
        r->action = (struct action_result) {
                .outcome = outcome,
                .refusal = refusal,
                .old_url = r->obs.cluster->key_url,
                .new_url = (char *) new_url,
                .operation_id = (char *) operation_id,
        };
}

/* Drops cluster i from the sweep (as if it was not listed), keeping the order. */
static inline void fx_remove(struct fx *fx, size_t i) {
        memmove(&fx->results[i], &fx->results[i + 1],
                (fx->sweep.n_clusters - i - 1) * sizeof fx->results[0]);
        fx->sweep.n_clusters--;
}
