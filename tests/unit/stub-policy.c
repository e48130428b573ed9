/* SPDX-License-Identifier: MIT */
/* TEMPORARY stand-in for the parts of src/policy.c that alert, report, metrics and status
 * use, linked only while src/policy.c does not exist (see POLICY_STUB in the Makefile).
 * Delete this file when branch `policy` is merged. Tests never compare against these
 * strings literally: they call the same functions to build their expectations. */

#include <stdio.h>

#include "policy.h"

static const char *const finding_table[_FINDING_MAX] = {
        [FINDING_KEY_VERSION_STALE] = "key-version-stale",
        [FINDING_KEY_VERSION_PINNED] = "key-version-pinned",
        [FINDING_KEY_DISABLED] = "key-disabled",
        [FINDING_KEY_EXPIRED] = "key-expired",
        [FINDING_KEY_NOT_YET_VALID] = "key-not-yet-valid",
        [FINDING_KEY_DELETED] = "key-deleted",
        [FINDING_KEY_NOT_FOUND] = "key-not-found",
        [FINDING_KEY_EXPIRING] = "key-expiring",
        [FINDING_KEY_TOO_OLD] = "key-too-old",
        [FINDING_KEY_NO_ROTATION_POLICY] = "key-no-rotation-policy",
        [FINDING_KEY_TYPE_UNSUPPORTED] = "key-type-unsupported",
        [FINDING_KEY_OPS_MISSING] = "key-ops-missing",
        [FINDING_IDENTITY_NOT_ASSIGNED] = "identity-not-assigned",
        [FINDING_IDENTITY_DELETED] = "identity-deleted",
        [FINDING_IDENTITY_RECREATED] = "identity-recreated",
        [FINDING_ACCESS_REVOKED] = "access-revoked",
        [FINDING_VAULT_DELETED] = "vault-deleted",
        [FINDING_VAULT_SOFT_DELETE_OFF] = "vault-soft-delete-off",
        [FINDING_VAULT_PURGE_PROTECTION_OFF] = "vault-purge-protection-off",
        [FINDING_VAULT_FIREWALL_BLOCKS] = "vault-firewall-blocks",
        [FINDING_VAULT_REGION_MISMATCH] = "vault-region-mismatch",
        [FINDING_TENANT_MISMATCH] = "tenant-mismatch",
        [FINDING_CLUSTER_INACCESSIBLE] = "cluster-inaccessible",
        [FINDING_SERVICE_MANAGED_KEY] = "service-managed-key",
        [FINDING_CHECK_UNKNOWN] = "check-unknown",
        [FINDING_IDENTITY_REGION_MISMATCH] = "identity-region-mismatch",
        [FINDING_KEY_URL_INVALID] = "key-url-invalid",
};

const char *finding_to_string(enum finding_code c) {
        return c >= 0 && c < _FINDING_MAX ? finding_table[c] : NULL;
}

enum finding_code finding_from_string(const char *s) {
        for (int i = 0; s && i < _FINDING_MAX; i++)
                if (streq(s, finding_table[i]))
                        return i;
        return _FINDING_INVALID;
}

static const char *const severity_table[_SEVERITY_MAX] = { "info", "warning", "critical" };

const char *severity_to_string(enum severity s) {
        return s >= 0 && s < _SEVERITY_MAX ? severity_table[s] : NULL;
}

enum severity severity_from_string(const char *s) {
        for (int i = 0; s && i < _SEVERITY_MAX; i++)
                if (streq(s, severity_table[i]))
                        return i;
        return _SEVERITY_INVALID;
}

const char *fact_kind_to_string(enum fact_kind f) {
        static const char *const table[_FACT_MAX] = {
                "none",     "key",   "deleted-key",     "pinned-version", "rotation-policy",
                "identity", "vault", "role-assignments"
        };
        return f >= 0 && f < _FACT_MAX ? table[f] : NULL;
}

static const char *const refusal_table[_REFUSAL_MAX] = {
        "none",
        "incomplete",
        "cluster-not-succeeded",
        "cluster-updating",
        "cluster-inaccessible",
        "cluster-not-ready",
        "target-disabled",
        "target-expired",
        "target-not-yet-valid",
        "target-ops-missing",
        "target-type-unsupported",
        "no-access",
        "older-version",
        "service-managed",
        "mode",
        "outside-window",
        "budget",
        "in-flight",
};

const char *refusal_to_string(enum refusal r) {
        return r >= 0 && r < _REFUSAL_MAX ? refusal_table[r] : NULL;
}

const char *refusal_describe(enum refusal r) {
        return r >= 0 && r < _REFUSAL_MAX ? "stub refusal description" : NULL;
}

enum severity finding_default_severity(enum finding_code c) {
        return c == FINDING_KEY_EXPIRED ? SEVERITY_CRITICAL : SEVERITY_WARNING;
}

char *finding_describe(const struct finding *f, const struct cluster_obs *obs, usec_t now, char *buf,
                       size_t len) {
        snprintf(buf, len, "stub description of %s", finding_to_string(f->code));
        return buf;
}

const struct finding *verdict_find(const struct verdict *v, enum finding_code code) {
        for (size_t i = 0; i < v->n_findings; i++)
                if (v->findings[i].code == code)
                        return &v->findings[i];
        return NULL;
}
