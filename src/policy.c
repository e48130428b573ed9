/* SPDX-License-Identifier: MIT */
/* The decision core: one cluster's observed facts + policy + time -> findings and the wanted
 * update with its guard rails. Pure: it reads only its arguments, never the clock, the network
 * or the disk, logs nothing and allocates nothing, so every rule is a row in a table test.
 * The rules, their boundaries and the refusal precedence are documented in policy.h. */

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "armid.h"
#include "policy.h"
#include "roles.h"
#include "strtable.h"
#include "timeutil.h"

/* ---- strings ----------------------------------------------------------------------- */

static const char *const severity_table[_SEVERITY_MAX] = {
        [SEVERITY_INFO] = "info",
        [SEVERITY_WARNING] = "warning",
        [SEVERITY_CRITICAL] = "critical",
};

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

/* Severity when nothing raises or lowers it. Raised: key-version-stale (pinned version unusable),
 * key-expiring (critical window). key-no-rotation-policy is a warning under RequireRotationPolicy. */
static const enum severity default_severity_table[_FINDING_MAX] = {
        [FINDING_KEY_VERSION_STALE] = SEVERITY_WARNING,
        [FINDING_KEY_VERSION_PINNED] = SEVERITY_INFO,
        [FINDING_KEY_DISABLED] = SEVERITY_CRITICAL,
        [FINDING_KEY_EXPIRED] = SEVERITY_CRITICAL,
        [FINDING_KEY_NOT_YET_VALID] = SEVERITY_CRITICAL,
        [FINDING_KEY_DELETED] = SEVERITY_CRITICAL,
        [FINDING_KEY_NOT_FOUND] = SEVERITY_CRITICAL,
        [FINDING_KEY_EXPIRING] = SEVERITY_WARNING,
        [FINDING_KEY_TOO_OLD] = SEVERITY_WARNING,
        [FINDING_KEY_NO_ROTATION_POLICY] = SEVERITY_INFO,
        [FINDING_KEY_TYPE_UNSUPPORTED] = SEVERITY_CRITICAL,
        [FINDING_KEY_OPS_MISSING] = SEVERITY_CRITICAL,
        [FINDING_IDENTITY_NOT_ASSIGNED] = SEVERITY_CRITICAL,
        [FINDING_IDENTITY_DELETED] = SEVERITY_CRITICAL,
        [FINDING_IDENTITY_RECREATED] = SEVERITY_CRITICAL,
        [FINDING_ACCESS_REVOKED] = SEVERITY_CRITICAL,
        [FINDING_VAULT_DELETED] = SEVERITY_CRITICAL,
        [FINDING_VAULT_SOFT_DELETE_OFF] = SEVERITY_WARNING,
        [FINDING_VAULT_PURGE_PROTECTION_OFF] = SEVERITY_WARNING,
        [FINDING_VAULT_FIREWALL_BLOCKS] = SEVERITY_CRITICAL,
        [FINDING_VAULT_REGION_MISMATCH] = SEVERITY_WARNING,
        [FINDING_TENANT_MISMATCH] = SEVERITY_CRITICAL,
        [FINDING_CLUSTER_INACCESSIBLE] = SEVERITY_CRITICAL,
        [FINDING_SERVICE_MANAGED_KEY] = SEVERITY_INFO,
        [FINDING_CHECK_UNKNOWN] = SEVERITY_WARNING,
        [FINDING_IDENTITY_REGION_MISMATCH] = SEVERITY_WARNING,
        [FINDING_KEY_URL_INVALID] = SEVERITY_CRITICAL,
};

static const char *const fact_table[_FACT_MAX] = {
        [FACT_NONE] = "none",
        [FACT_KEY] = "key",
        [FACT_DELETED_KEY] = "deleted-key",
        [FACT_PINNED_VERSION] = "pinned-version",
        [FACT_ROTATION_POLICY] = "rotation-policy",
        [FACT_IDENTITY] = "identity",
        [FACT_VAULT] = "vault",
        [FACT_ROLE_ASSIGNMENTS] = "role-assignments",
        [FACT_ROLE_DEFINITIONS] = "role-definitions",
        [FACT_PREVIOUS_VERSION] = "previous-version",
};

static const char *const refusal_table[_REFUSAL_MAX] = {
        [REFUSAL_NONE] = "none",
        [REFUSAL_INCOMPLETE] = "incomplete",
        [REFUSAL_CLUSTER_NOT_SUCCEEDED] = "cluster-not-succeeded",
        [REFUSAL_CLUSTER_UPDATING] = "cluster-updating",
        [REFUSAL_CLUSTER_INACCESSIBLE] = "cluster-inaccessible",
        [REFUSAL_CLUSTER_NOT_READY] = "cluster-not-ready",
        [REFUSAL_TARGET_DISABLED] = "target-disabled",
        [REFUSAL_TARGET_EXPIRED] = "target-expired",
        [REFUSAL_TARGET_NOT_YET_VALID] = "target-not-yet-valid",
        [REFUSAL_TARGET_OPS_MISSING] = "target-ops-missing",
        [REFUSAL_TARGET_TYPE_UNSUPPORTED] = "target-type-unsupported",
        [REFUSAL_NO_ACCESS] = "no-access",
        [REFUSAL_OLDER_VERSION] = "older-version",
        [REFUSAL_SERVICE_MANAGED] = "service-managed",
        [REFUSAL_MODE] = "mode",
        [REFUSAL_OUTSIDE_WINDOW] = "outside-window",
        [REFUSAL_BUDGET] = "budget",
        [REFUSAL_IN_FLIGHT] = "in-flight",
};

static const char *const refusal_sentence_table[_REFUSAL_MAX] = {
        [REFUSAL_NONE] = "the update is allowed",
        [REFUSAL_INCOMPLETE] = "a fact the update depends on could not be read: cmkd never acts on partial "
                               "data; it retries on the next sweep",
        [REFUSAL_CLUSTER_NOT_SUCCEEDED] = "the cluster's provisioningState is not Succeeded: wait until its "
                                          "last operation has succeeded, then the update is retried",
        [REFUSAL_CLUSTER_UPDATING] = "the cluster is already being updated: wait until it is Ready again",
        [REFUSAL_CLUSTER_INACCESSIBLE] = "the cluster is Inaccessible: restore access to the key it uses "
                                         "(enable it, extend its expiry, restore the identity or its "
                                         "permissions), wait until clusterStatus is Ready (up to 60 min), "
                                         "then repoint",
        [REFUSAL_CLUSTER_NOT_READY] =
                "the cluster's clusterStatus is not Ready: the key URL is only changed "
                "on a Ready cluster",
        [REFUSAL_TARGET_DISABLED] = "the key's current version is disabled: enable it first",
        [REFUSAL_TARGET_EXPIRED] = "the key's current version is expired (or expires within the clock-skew "
                                   "tolerance): extend its expiry first",
        [REFUSAL_TARGET_NOT_YET_VALID] = "the key's current version is not valid yet (nbf in the future, "
                                         "within the clock-skew tolerance): wait for its activation date",
        [REFUSAL_TARGET_OPS_MISSING] = "the key's current version does not permit wrapKey and unwrapKey",
        [REFUSAL_TARGET_TYPE_UNSUPPORTED] = "the key's current version is not RSA/RSA-HSM of 2048, 3072 or "
                                            "4096 bits",
        [REFUSAL_NO_ACCESS] = "the cluster's encryption identity cannot reach the key (identity not "
                              "assigned, deleted or re-created, access revoked, firewall, tenant, or vault "
                              "deleted): fix that first",
        [REFUSAL_OLDER_VERSION] = "the key's current version was created before the pinned one: cmkd never "
                                  "moves a cluster to an older version",
        [REFUSAL_SERVICE_MANAGED] = "the cluster uses a service-managed key: the encryption mode cannot be "
                                    "changed in place",
        [REFUSAL_MODE] = "cmkd runs in alert-only mode (Mode=alert-only): no update is made",
        [REFUSAL_OUTSIDE_WINDOW] =
                "outside the change window (ChangeWindow=): the update waits for the next "
                "window",
        [REFUSAL_BUDGET] = "the limit of updates per sweep (MaxUpdatesPerSweep=) is reached: the update "
                           "waits for the next sweep",
        [REFUSAL_IN_FLIGHT] = "an earlier update of this cluster by cmkd is still being followed",
};

static const char *const stale_version_table[_STALE_VERSION_MAX] = {
        [STALE_VERSION_UPDATE] = "update",
        [STALE_VERSION_ALERT] = "alert",
        [STALE_VERSION_IGNORE] = "ignore",
};

static const char *const update_target_table[_UPDATE_TARGET_MAX] = {
        [UPDATE_TARGET_LATEST] = "latest",
        [UPDATE_TARGET_VERSIONLESS] = "versionless",
};

static const char *const action_table[_ACTION_MAX] = {
        [ACTION_NONE] = "none",
        [ACTION_UPDATE] = "update",
};

DEFINE_STRING_TABLE_LOOKUP(severity, enum severity, severity_table)
DEFINE_STRING_TABLE_LOOKUP(finding, enum finding_code, finding_table)
DEFINE_STRING_TABLE_LOOKUP(fact_kind, enum fact_kind, fact_table)
DEFINE_STRING_TABLE_LOOKUP(refusal, enum refusal, refusal_table)
DEFINE_STRING_TABLE_LOOKUP(stale_version_policy, enum stale_version_policy, stale_version_table)
DEFINE_STRING_TABLE_LOOKUP(update_target, enum update_target, update_target_table)
DEFINE_STRING_TABLE_LOOKUP(action_kind, enum action_kind, action_table)

const char *refusal_describe(enum refusal r) {
        return string_table_to_string(refusal_sentence_table, ELEMENTSOF(refusal_sentence_table), (int)r)
                       ?: "the update was refused for a reason this version of cmkd does not know";
}

enum severity finding_default_severity(enum finding_code c) {
        if ((int)c < 0 || c >= _FINDING_MAX)
                return _SEVERITY_INVALID;
        return default_severity_table[c];
}

bool cluster_status_is_ready(const char *status) {
        return status && strcasecmp(status, "Ready") == 0;
}

bool cluster_status_is_transitional(const char *status) {
        /* The REST enum of mongoClusters (2025-09-01, 2026-06-01) minus Ready. */
        static const char *const transitional[] = {
                "Provisioning", "Updating", "Starting", "Stopping", "Stopped", "Dropping",
        };

        for (size_t i = 0; status && i < ELEMENTSOF(transitional); i++)
                if (strcasecmp(status, transitional[i]) == 0)
                        return true;
        return false;
}

const struct finding *verdict_find(const struct verdict *v, enum finding_code code) {
        for (size_t i = 0; v && i < MIN(v->n_findings, (size_t)_FINDING_MAX); i++)
                if (v->findings[i].code == code)
                        return &v->findings[i];
        return NULL;
}

/* ---- evaluation helpers -------------------------------------------------------------- */

static usec_t usec_add(usec_t a, usec_t b) {
        return a > USEC_INFINITY - b ? USEC_INFINITY : a + b;
}

static usec_t usec_sub(usec_t a, usec_t b) {
        return a > b ? a - b : 0;
}

/* The state of a fact as the rules may use it: PRESENT only with its data. */
static enum obs_state fact_state(const struct obs_status *s, const void *data) {
        switch (s->state) {
        case OBS_PRESENT:
                return data ? OBS_PRESENT : OBS_UNKNOWN;
        case OBS_ABSENT:
                return OBS_ABSENT;
        default:
                return OBS_UNKNOWN;
        }
}

/* Azure location names: "West Europe" and "westeurope" are the same region. */
static bool location_equal(const char *a, const char *b) {
        for (;;) {
                while (*a == ' ')
                        a++;
                while (*b == ' ')
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
                        return false;
                a++;
                b++;
        }
}

/* K1, K2: RSA or RSA-HSM of 2048, 3072 or 4096 bits, in a vault or a Managed HSM alike. A Managed
 * HSM holds only HSM-protected keys (RSA-HSM, EC-HSM, oct-HSM); should one report plain "RSA", the
 * key is still RSA and still inside the HSM, and the product accepts RSA: no finding. */
static bool key_type_supported(const struct key_bundle *k) {
        if (!k->kty || (strcasecmp(k->kty, "RSA") != 0 && strcasecmp(k->kty, "RSA-HSM") != 0))
                return false;
        /* 0 = the decoder saw no modulus: the size is unknown, not wrong. */
        return k->rsa_bits == 0 || k->rsa_bits == 2048 || k->rsa_bits == 3072 || k->rsa_bits == 4096;
}

static bool key_ops_ok(const struct key_bundle *k) {
        return (k->key_ops & (KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY)) == (KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY);
}

/* The finding-side tests (certain within the skew). */
static bool key_expired(const struct key_bundle *k, usec_t now, usec_t skew) {
        return k->exp != USEC_INFINITY && usec_add(k->exp, skew) <= now;
}

static bool key_not_yet_valid(const struct key_bundle *k, usec_t now, usec_t skew) {
        return k->nbf != 0 && k->nbf > usec_add(now, skew);
}

static bool version_unusable(const struct key_bundle *k, usec_t now, usec_t skew) {
        return !k->enabled || key_expired(k, now, skew) || key_not_yet_valid(k, now, skew) || !key_ops_ok(k);
}

struct eval {
        const struct cluster_obs *obs;
        const struct policy_conf *pc;
        usec_t now;
        struct verdict *v;

        bool has[_FINDING_MAX];
        struct finding f[_FINDING_MAX];
        unsigned unknown; /* 1u << FACT_* */

        const struct identity *identity; /* present, with a principalId */
        const struct vault *vault;       /* present */
        bool vault_deleted;
        bool no_access; /* a certain finding says the identity cannot reach the key */
        bool stale;     /* the URL pins a version other than the current one */
};

static struct finding *add(struct eval *e, enum finding_code c, enum severity s) {
        struct finding *f = &e->f[c];

        e->has[c] = true;
        *f = (struct finding){.code = c, .severity = s};
        return f;
}

static void check_cluster_status(struct eval *e) {
        const char *st = e->obs->cluster->cluster_status;

        if (!cluster_status_is_ready(st) && !cluster_status_is_transitional(st))
                add(e, FINDING_CLUSTER_INACCESSIBLE, SEVERITY_CRITICAL);
}

static void check_identity(struct eval *e) {
        const struct cluster *c = e->obs->cluster;
        const struct assigned_identity *a = NULL;
        const struct identity *id;

        if (c->kek_identity_id)
                a = cluster_find_assigned(c, c->kek_identity_id);
        /* C2: only a user-assigned identity that the cluster holds can unwrap its key. */
        if (!a || !c->kek_identity_type || strcasecmp(c->kek_identity_type, "UserAssignedIdentity") != 0) {
                add(e, FINDING_IDENTITY_NOT_ASSIGNED, SEVERITY_CRITICAL);
                e->no_access = true;
        }
        if (!c->kek_identity_id)
                return; /* nothing to read */

        switch (fact_state(&e->obs->identity_status, e->obs->identity)) {
        case OBS_ABSENT:
                add(e, FINDING_IDENTITY_DELETED, SEVERITY_CRITICAL);
                e->no_access = true;
                return;
        case OBS_PRESENT:
                break;
        default:
                e->unknown |= 1u << FACT_IDENTITY;
                return;
        }

        id = e->obs->identity;
        /* P2: a same-name re-creation gets a new principal; the cluster still holds the old one. */
        if (a && a->principal_id && id->principal_id && strcasecmp(a->principal_id, id->principal_id) != 0) {
                add(e, FINDING_IDENTITY_RECREATED, SEVERITY_CRITICAL);
                e->no_access = true;
        }
        if (id->location && c->location && !location_equal(id->location, c->location))
                add(e, FINDING_IDENTITY_REGION_MISMATCH, SEVERITY_WARNING);
        if (id->principal_id)
                e->identity = id;
        else
                e->unknown |= 1u << FACT_IDENTITY; /* present, but access cannot be judged */
}

static void check_vault(struct eval *e) {
        const struct cluster *c = e->obs->cluster;
        const struct vault *vault;
        enum obs_state st;

        if (!e->v->has_keyurl)
                return;
        st = fact_state(&e->obs->vault_status, e->obs->vault);
        if (st == OBS_ABSENT && e->obs->vault_deleted) {
                add(e, FINDING_VAULT_DELETED, SEVERITY_CRITICAL);
                e->vault_deleted = true;
                e->no_access = true;
                return;
        }
        if (st != OBS_PRESENT) {
                /* Absent but not among the deleted vaults: maybe purged, maybe in a subscription
                 * cmkd does not search. It cannot tell, so it does not judge. */
                e->unknown |= 1u << FACT_VAULT;
                return;
        }

        vault = e->vault = e->obs->vault;
        if (!vault->soft_delete)
                add(e, FINDING_VAULT_SOFT_DELETE_OFF, SEVERITY_WARNING);
        if (!vault->purge_protection)
                add(e, FINDING_VAULT_PURGE_PROTECTION_OFF, SEVERITY_WARNING);
        /* V6: closed to the public without the trusted-services bypass and no private link. */
        if ((vault->public_network_disabled || vault->default_action_deny) &&
            !vault->bypass_azure_services && vault->n_private_endpoints == 0) {
                add(e, FINDING_VAULT_FIREWALL_BLOCKS, SEVERITY_CRITICAL);
                e->no_access = true;
        }
        if (vault->location && c->location && !location_equal(vault->location, c->location))
                add(e, FINDING_VAULT_REGION_MISMATCH, SEVERITY_WARNING);
        /* V1: the identity's tenant is the one that must match. */
        if (fact_state(&e->obs->identity_status, e->obs->identity) == OBS_PRESENT && vault->tenant_id &&
            e->obs->identity->tenant_id && strcasecmp(vault->tenant_id, e->obs->identity->tenant_id) != 0) {
                add(e, FINDING_TENANT_MISMATCH, SEVERITY_CRITICAL);
                e->no_access = true;
        }
}

static void check_version(struct eval *e, const struct key_bundle *k) {
        const struct policy_conf *pc = e->pc;
        usec_t now = e->now, skew = pc->clock_skew_usec;
        struct finding *f;

        if (!k->enabled)
                add(e, FINDING_KEY_DISABLED, SEVERITY_CRITICAL)->version = k->version;
        if (key_expired(k, now, skew)) {
                f = add(e, FINDING_KEY_EXPIRED, SEVERITY_CRITICAL);
                f->version = k->version;
                f->when = k->exp;
        } else if (k->exp != USEC_INFINITY && (k->exp <= usec_add(now, pc->key_expiry_critical_usec) ||
                                               k->exp <= usec_add(now, pc->key_expiry_warning_usec))) {
                f = add(e, FINDING_KEY_EXPIRING,
                        k->exp <= usec_add(now, pc->key_expiry_critical_usec) ? SEVERITY_CRITICAL
                                                                              : SEVERITY_WARNING);
                f->version = k->version;
                f->when = k->exp;
        }
        if (key_not_yet_valid(k, now, skew)) {
                f = add(e, FINDING_KEY_NOT_YET_VALID, SEVERITY_CRITICAL);
                f->version = k->version;
                f->when = k->nbf;
        }
        if (pc->max_key_age_usec > 0 && k->created != 0 &&
            usec_sub(now, k->created) > pc->max_key_age_usec) {
                f = add(e, FINDING_KEY_TOO_OLD, SEVERITY_WARNING);
                f->version = k->version;
                f->when = k->created;
        }
        if (!key_type_supported(k))
                add(e, FINDING_KEY_TYPE_UNSUPPORTED, SEVERITY_CRITICAL)->version = k->version;
        if (!key_ops_ok(k))
                add(e, FINDING_KEY_OPS_MISSING, SEVERITY_CRITICAL)->version = k->version;
}

/* U5 (cmk-rules.md, after the PostgreSQL doc): a cluster that follows the current version
 * re-wraps with it some time after a rotation; until then it still needs the previous one.
 * Disabling that previous version within VersionDisableGraceSec= of the rotation can cut
 * the cluster off, so it counts as disabling the version in use. */
static void check_previous(struct eval *e, const struct key_bundle *key) {
        const struct cluster_obs *obs = e->obs;
        struct finding *f;

        if (e->pc->version_grace_usec == 0 || key->created == 0 || e->has[FINDING_KEY_DISABLED] ||
            usec_sub(e->now, key->created) >= e->pc->version_grace_usec)
                return;
        switch (obs->previous_status.state) {
        case OBS_PRESENT:
                if (!obs->previous || obs->previous->enabled)
                        return;
                f = add(e, FINDING_KEY_DISABLED, SEVERITY_CRITICAL);
                f->previous = obs->previous->version;
                f->version = key->version;
                f->when = key->created;
                return;
        case OBS_ABSENT:
                return; /* no older version */
        default:
                e->unknown |= 1u << FACT_PREVIOUS_VERSION;
        }
}

static void check_key(struct eval *e) {
        const struct cluster_obs *obs = e->obs;
        const struct keyurl *url = &e->v->keyurl;
        const struct key_bundle *key, *in_use;
        enum obs_state st;
        struct finding *f;

        if (!e->v->has_keyurl)
                return;
        st = fact_state(&obs->key_status, obs->key);
        if (st == OBS_PRESENT && !obs->key->version)
                st = OBS_UNKNOWN; /* a bundle without a version cannot be compared */
        if (st == OBS_UNKNOWN) {
                /* With the vault deleted, the key cannot be read and need not be. */
                if (!e->vault_deleted)
                        e->unknown |= 1u << FACT_KEY;
                return;
        }
        if (st == OBS_ABSENT) {
                /* K6: soft-deleted (recoverable) or purged. */
                switch (fact_state(&obs->deleted_key_status, obs->deleted_key)) {
                case OBS_PRESENT:
                        f = add(e, FINDING_KEY_DELETED, SEVERITY_CRITICAL);
                        f->when = obs->deleted_key->deleted_date;
                        f->version = obs->deleted_key->version;
                        break;
                case OBS_ABSENT:
                        add(e, FINDING_KEY_NOT_FOUND, SEVERITY_CRITICAL);
                        break;
                default:
                        e->unknown |= 1u << FACT_DELETED_KEY;
                }
                return;
        }

        key = in_use = obs->key;

        /* K9: a missing policy is a fact (404), not an unknown. */
        st = fact_state(&obs->rotation_status, obs->rotation);
        if (st == OBS_UNKNOWN)
                e->unknown |= 1u << FACT_ROTATION_POLICY;
        else if (st == OBS_ABSENT || !obs->rotation->has_rotate_action)
                add(e, FINDING_KEY_NO_ROTATION_POLICY,
                    e->pc->require_rotation_policy ? SEVERITY_WARNING : SEVERITY_INFO);

        if (keyurl_is_versioned(url) && strcasecmp(url->version, key->version) != 0) {
                const char *pinned_version = NULL;
                bool unusable = false;

                e->stale = true;
                switch (fact_state(&obs->pinned_status, obs->pinned)) {
                case OBS_PRESENT:
                        in_use = obs->pinned;
                        pinned_version = in_use->version;
                        unusable = version_unusable(in_use, e->now, e->pc->clock_skew_usec);
                        break;
                case OBS_ABSENT:
                        in_use = NULL; /* the pinned version is gone */
                        unusable = true;
                        break;
                default:
                        /* Stale is certain (the versions differ); how bad is not known. */
                        in_use = NULL;
                        e->unknown |= 1u << FACT_PINNED_VERSION;
                }
                if (e->pc->stale_version != STALE_VERSION_IGNORE)
                        add(e, FINDING_KEY_VERSION_STALE, unusable ? SEVERITY_CRITICAL : SEVERITY_WARNING)
                                ->version = pinned_version;
                if (e->has[FINDING_KEY_VERSION_PINNED])
                        e->f[FINDING_KEY_VERSION_PINNED].version = pinned_version;
        } else if (keyurl_is_versioned(url) && e->has[FINDING_KEY_VERSION_PINNED])
                e->f[FINDING_KEY_VERSION_PINNED].version = key->version;

        if (in_use)
                check_version(e, in_use);
        if (in_use == key)
                check_previous(e, key);
}

static bool access_policy_grants(const struct access_policy *p, const struct identity *id) {
        const unsigned need = KEY_PERM_GET | KEY_PERM_WRAP_KEY | KEY_PERM_UNWRAP_KEY;

        if (!p->object_id || strcasecmp(p->object_id, id->principal_id) != 0)
                return false;
        if (p->tenant_id && id->tenant_id && strcasecmp(p->tenant_id, id->tenant_id) != 0)
                return false;
        /* A compound entry (applicationId set) grants the application acting for the principal,
         * not the principal alone. */
        if (p->application_id)
                return false;
        return (p->key_permissions & KEY_PERM_ALL) || (p->key_permissions & need) == need;
}

static void check_access(struct eval *e) {
        const struct cluster_obs *obs = e->obs;
        struct access_check *ac = &e->v->access;
        const struct vault *vault = e->vault;

        if (!e->v->has_keyurl || !vault || !obs->cluster->kek_identity_id)
                return;
        if (fact_state(&obs->identity_status, obs->identity) == OBS_ABSENT)
                return; /* identity-deleted says it all */

        ac->rbac = vault->rbac_authorization || vault->store == KEY_STORE_MANAGED_HSM ||
                   e->v->keyurl.store == KEY_STORE_MANAGED_HSM;
        if (ac->rbac) {
                enum key_store store = e->v->keyurl.store;
                enum obs_state rs = fact_state(&obs->roles_status, obs->roles);
                char scope[1024];

                if (rs == OBS_UNKNOWN) {
                        e->unknown |= 1u << FACT_ROLE_ASSIGNMENTS;
                        return;
                }
                if (!e->identity)
                        return;
                role_key_scope(store, vault->id, e->v->keyurl.name, scope, sizeof scope);
                /* ABSENT (the list endpoint answered 404) counts as no assignment. */
                roles_key_access(rs == OBS_PRESENT ? obs->roles : NULL, obs->custom_roles,
                                 obs->n_custom_roles, e->identity->principal_id, store, scope, &ac->roles);
                if (ac->roles.unknown) {
                        e->unknown |= 1u << FACT_ROLE_DEFINITIONS;
                        return;
                }
                ac->granted = ac->roles.granted;
        } else {
                if (!e->identity)
                        return;
                for (size_t i = 0; vault->access_policies && i < vault->n_access_policies; i++)
                        if (access_policy_grants(&vault->access_policies[i], e->identity)) {
                                ac->policy = &vault->access_policies[i];
                                ac->granted = true;
                                break;
                        }
        }
        ac->evaluated = true;
        if (!ac->granted) {
                add(e, FINDING_ACCESS_REVOKED, SEVERITY_CRITICAL);
                e->no_access = true;
        }
}

/* Most fundamental first: see policy.h. */
static const enum fact_kind unknown_order[] = {
        FACT_KEY,
        FACT_VAULT,
        FACT_IDENTITY,
        FACT_DELETED_KEY,
        FACT_PINNED_VERSION,
        FACT_ROLE_ASSIGNMENTS,
        FACT_ROLE_DEFINITIONS,
        FACT_PREVIOUS_VERSION,
        FACT_ROTATION_POLICY,
};

static const struct obs_status *fact_status(const struct cluster_obs *obs, enum fact_kind k) {
        switch (k) {
        case FACT_KEY:
                return &obs->key_status;
        case FACT_DELETED_KEY:
                return &obs->deleted_key_status;
        case FACT_PINNED_VERSION:
                return &obs->pinned_status;
        case FACT_ROTATION_POLICY:
                return &obs->rotation_status;
        case FACT_IDENTITY:
                return &obs->identity_status;
        case FACT_VAULT:
                return &obs->vault_status;
        case FACT_ROLE_ASSIGNMENTS:
                return &obs->roles_status;
        case FACT_PREVIOUS_VERSION:
                return &obs->previous_status;
        default:
                return NULL;
        }
}

static void report_unknown(struct eval *e) {
        struct finding *f;

        if (!e->unknown)
                return;
        f = add(e, FINDING_CHECK_UNKNOWN, SEVERITY_WARNING);
        f->facts = e->unknown;
        for (size_t i = 0; i < ELEMENTSOF(unknown_order); i++)
                if (e->unknown & (1u << unknown_order[i])) {
                        f->fact = unknown_order[i];
                        f->status = fact_status(e->obs, f->fact);
                        break;
                }
}

/* Facts the update decision reads; the rotation policy is not one of them. */
#define DECISION_FACTS                                                                                      \
        ((1u << FACT_KEY) | (1u << FACT_VAULT) | (1u << FACT_IDENTITY) | (1u << FACT_PINNED_VERSION) |      \
         (1u << FACT_ROLE_ASSIGNMENTS) | (1u << FACT_ROLE_DEFINITIONS))

static enum refusal refusal_for(const struct eval *e) {
        const struct cluster *c = e->obs->cluster;
        const struct key_bundle *target = e->obs->key, *pinned;
        usec_t now = e->now, skew = e->pc->clock_skew_usec;
        bool incomplete = (e->unknown & DECISION_FACTS) != 0;

        if (!c->customer_managed)
                return REFUSAL_SERVICE_MANAGED;
        /* U4: never repoint a cluster that is not steady. */
        if (strcaseeq_ptr(c->cluster_status, "Inaccessible"))
                return REFUSAL_CLUSTER_INACCESSIBLE;
        if (strcaseeq_ptr(c->cluster_status, "Updating") ||
            strcaseeq_ptr(c->provisioning_state, "Updating") ||
            strcaseeq_ptr(c->provisioning_state, "InProgress"))
                return REFUSAL_CLUSTER_UPDATING;
        if (!strcaseeq_ptr(c->provisioning_state, "Succeeded"))
                return REFUSAL_CLUSTER_NOT_SUCCEEDED;
        if (!cluster_status_is_ready(c->cluster_status))
                return REFUSAL_CLUSTER_NOT_READY;
        if (e->no_access)
                return REFUSAL_NO_ACCESS;
        if (!key_type_supported(target))
                return REFUSAL_TARGET_TYPE_UNSUPPORTED;
        if (!key_ops_ok(target))
                return REFUSAL_TARGET_OPS_MISSING;
        if (!target->enabled)
                return REFUSAL_TARGET_DISABLED;
        /* Conservative side of the skew: refuse what might already be expired, or not yet valid,
         * by Azure's clock. */
        if (target->exp != USEC_INFINITY && target->exp <= usec_add(now, skew))
                return REFUSAL_TARGET_EXPIRED;
        if (target->nbf != 0 && target->nbf > usec_sub(now, skew))
                return REFUSAL_TARGET_NOT_YET_VALID;
        if (fact_state(&e->obs->pinned_status, e->obs->pinned) == OBS_PRESENT) {
                pinned = e->obs->pinned;
                if (target->created == 0 || pinned->created == 0)
                        incomplete = true; /* cannot order them */
                else if (target->created < pinned->created)
                        return REFUSAL_OLDER_VERSION;
        }
        return incomplete ? REFUSAL_INCOMPLETE : REFUSAL_NONE;
}

static void decide_action(struct eval *e) {
        struct action *a = &e->v->action;

        *a = (struct action){.kind = ACTION_NONE, .refusal = REFUSAL_NONE};
        if (!e->stale || e->pc->stale_version != STALE_VERSION_UPDATE)
                return;

        a->wanted = true;
        if (e->pc->update_target == UPDATE_TARGET_VERSIONLESS)
                keyurl_format_versionless(&e->v->keyurl, a->target_url, sizeof a->target_url);
        else {
                keyurl_format_version(&e->v->keyurl, e->obs->key->version, a->target_url,
                                      sizeof a->target_url);
                a->target_version = e->obs->key->version;
        }
        a->refusal = refusal_for(e);
        if (a->refusal == REFUSAL_NONE)
                a->kind = ACTION_UPDATE;
}

int policy_evaluate(const struct cluster_obs *obs, const struct policy_conf *pc, usec_t now,
                    struct verdict *ret) {
        struct verdict v = {};
        struct eval e = {.obs = obs, .pc = pc, .now = now, .v = &v};
        const struct cluster *c;

        if (!obs || !obs->cluster || !pc || !ret)
                return -EINVAL;
        c = obs->cluster;

        if (!c->customer_managed) {
                /* C1: nothing to check, nothing to do: the mode is fixed at creation. */
                add(&e, FINDING_SERVICE_MANAGED_KEY, SEVERITY_INFO);
                goto finish;
        }

        check_cluster_status(&e);
        /* A URL of another cloud parses, but nothing was read from it: as invalid as a URL
         * that does not parse (the inventory never sends a token outside the cloud). */
        if (c->key_url && !obs->key_url_outside_cloud && keyurl_parse(c->key_url, &v.keyurl) >= 0)
                v.has_keyurl = true;
        else
                add(&e, FINDING_KEY_URL_INVALID, SEVERITY_CRITICAL);
        if (v.has_keyurl && keyurl_is_versioned(&v.keyurl))
                add(&e, FINDING_KEY_VERSION_PINNED, SEVERITY_INFO);

        check_identity(&e);
        check_vault(&e);
        check_key(&e);
        check_access(&e);
        report_unknown(&e);
        decide_action(&e);

finish:
        v.worst = SEVERITY_INFO;
        for (int i = 0; i < _FINDING_MAX; i++)
                if (e.has[i]) {
                        v.findings[v.n_findings++] = e.f[i];
                        v.worst = MAX(v.worst, e.f[i].severity);
                }
        *ret = v;
        return 0;
}

/* ---- messages ------------------------------------------------------------------------ */

struct out {
        char *buf;
        size_t len;
        size_t n;
};

_printf_(2, 3) static void outf(struct out *o, const char *fmt, ...) {
        va_list ap;
        int r;

        if (o->n + 1 >= o->len)
                return;
        va_start(ap, fmt);
        r = vsnprintf(o->buf + o->n, o->len - o->n, fmt, ap);
        va_end(ap);
        if (r > 0)
                o->n = MIN(o->n + (size_t)r, o->len - 1);
}

/* What the messages say about the key and its store, from the URL and whatever is present. */
struct names {
        const char *cluster;
        bool has_url;
        struct keyurl url;
        bool hsm;
        const char *store_flag; /* "--vault-name" / "--hsm-name" */
        const char *store;      /* vault or HSM name */
        const char *key;
        const char *identity; /* the encryption identity's name or id */
        const char *principal;
        const struct vault *vault;
        const struct identity *id;
};

static void names_init(struct names *n, const struct cluster_obs *obs) {
        const struct cluster *c = obs ? obs->cluster : NULL;

        *n = (struct names){.cluster = "n/a",
                            .store_flag = "--vault-name",
                            .store = "n/a",
                            .key = "n/a",
                            .identity = "n/a",
                            .principal = "n/a"};
        if (!c)
                return;
        n->cluster = c->name ?: c->id ?: "n/a";
        if (c->key_url && keyurl_parse(c->key_url, &n->url) >= 0) {
                n->has_url = true;
                n->hsm = n->url.store == KEY_STORE_MANAGED_HSM;
                n->store = n->url.store_name;
                n->key = n->url.name;
        }
        if (obs->vault && obs->vault_status.state == OBS_PRESENT) {
                n->vault = obs->vault;
                if (obs->vault->store == KEY_STORE_MANAGED_HSM)
                        n->hsm = true;
                if (!n->has_url && obs->vault->name)
                        n->store = obs->vault->name;
        }
        if (n->hsm)
                n->store_flag = "--hsm-name";
        if (c->kek_identity_id)
                n->identity = c->kek_identity_id;
        if (obs->identity && obs->identity_status.state == OBS_PRESENT) {
                n->id = obs->identity;
                if (obs->identity->name)
                        n->identity = obs->identity->name;
                if (obs->identity->principal_id)
                        n->principal = obs->identity->principal_id;
        }
}

static const char *fmt_time(usec_t t, char buf[static RFC3339_MAX]) {
        if (t == 0 || t == USEC_INFINITY)
                return "n/a";
        return rfc3339_format(buf, RFC3339_MAX, t);
}

static const char *fmt_span(usec_t t, char buf[static TIMESPAN_MAX]) {
        return timespan_format(buf, TIMESPAN_MAX, t, USEC_PER_MINUTE);
}

static const char *fact_human(enum fact_kind k, bool hsm) {
        switch (k) {
        case FACT_KEY:
                return "the key";
        case FACT_DELETED_KEY:
                return "the deleted-key entry";
        case FACT_PINNED_VERSION:
                return "the pinned key version";
        case FACT_ROTATION_POLICY:
                return "the key's rotation policy";
        case FACT_IDENTITY:
                return "the encryption identity";
        case FACT_VAULT:
                return hsm ? "the Managed HSM" : "the key vault";
        case FACT_ROLE_ASSIGNMENTS:
                return "the identity's role assignments";
        case FACT_ROLE_DEFINITIONS:
                return "a custom role definition";
        case FACT_PREVIOUS_VERSION:
                return "the key's versions (for the version current before the last rotation)";
        default:
                return "a fact";
        }
}

static void out_status(struct out *o, const struct obs_status *s) {
        if (!s)
                return;
        if (s->state == OBS_ABSENT) {
                outf(o, " (not found)");
                return;
        }
        if (s->state == OBS_PRESENT) {
                outf(o, " (incomplete data)");
                return;
        }
        if (s->http_status > 0 || s->error != 0 || s->error_code) {
                outf(o, " (");
                if (s->http_status > 0)
                        outf(o, "HTTP %d", s->http_status);
                if (s->error_code)
                        outf(o, "%s%s", s->http_status > 0 ? " " : "", s->error_code);
                if (s->error != 0)
                        outf(o, "%s%s", s->http_status > 0 || s->error_code ? ": " : "",
                             strerror(ERRNO_VALUE(s->error)));
                outf(o, ")");
        } else
                outf(o, " (not read)");
}

/* The first role the identity holds on the key whose definition cmkd lacks. */
static const char *unresolved_role(const struct cluster_obs *obs, const struct names *n) {
        if (!obs->roles || !n->id || !n->id->principal_id)
                return NULL;
        for (size_t i = 0; i < obs->roles->n_items; i++) {
                const struct role_assignment *ra = &obs->roles->items[i];
                bool known = role_builtin_find(ra->role_definition) != NULL;

                if (!ra->principal_id || strcasecmp(ra->principal_id, n->id->principal_id) != 0)
                        continue;
                for (size_t j = 0; !known && ra->role_definition && j < obs->n_custom_roles; j++)
                        known = obs->custom_roles[j] && obs->custom_roles[j]->id &&
                                strcasecmp(obs->custom_roles[j]->id, ra->role_definition) == 0;
                if (!known)
                        return ra->role_definition;
        }
        return NULL;
}

static void describe_unknown(struct out *o, const struct finding *f, const struct cluster_obs *obs,
                             const struct names *n) {
        bool first = true;

        if (f->fact == FACT_VAULT && f->status && f->status->state == OBS_ABSENT)
                outf(o,
                     "%s '%s' of cluster %s was found neither among the %s cmkd can see nor among deleted %s",
                     n->hsm ? "Managed HSM" : "key vault", n->store, n->cluster,
                     n->hsm ? "Managed HSMs" : "vaults", n->hsm ? "HSMs" : "vaults");
        else if (f->fact == FACT_ROLE_DEFINITIONS) {
                const char *guid = obs ? unresolved_role(obs, n) : NULL;

                outf(o, "cmkd has no definition of role %s assigned to identity %s of cluster %s",
                     guid ?: "n/a", n->identity, n->cluster);
        } else {
                outf(o, "could not read %s of cluster %s", fact_human(f->fact, n->hsm), n->cluster);
                out_status(o, f->status);
        }
        for (size_t i = 0; i < ELEMENTSOF(unknown_order); i++) {
                enum fact_kind k = unknown_order[i];

                if (k == f->fact || !(f->facts & (1u << k)))
                        continue;
                outf(o, "%s %s", first ? "; also unknown:" : ",", fact_human(k, n->hsm));
                if (obs)
                        out_status(o, fact_status(obs, k));
                first = false;
        }
        if (n->hsm)
                outf(o, "; the checks that depend on it were not made (neither passed nor failed): check "
                        "cmkd's own read access (Reader on the Managed HSM and the identity, the HSM's local "
                        "role Managed HSM Crypto Auditor at / for the key and the local role assignments) and "
                        "[Azure] VaultSubscriptions=, then wait for the next sweep");
        else
                outf(o, "; the checks that depend on it were not made (neither passed nor failed): check "
                        "cmkd's own read access (Reader on the vault and the identity, Key Vault Reader or "
                        "Crypto Service Encryption User on the key) and [Azure] VaultSubscriptions=, then wait "
                        "for the next sweep");
}

static void describe_access(struct out *o, const struct cluster_obs *obs, const struct names *n) {
        bool rbac = n->hsm || (n->vault && n->vault->rbac_authorization);
        char scope[1024];

        outf(o, "identity %s (principal %s) of cluster %s may not use key %s in %s %s", n->identity,
             n->principal, n->cluster, n->key, n->hsm ? "Managed HSM" : "vault", n->store);
        if (n->hsm)
                outf(o,
                     ": it needs read, wrap and unwrap on the key: az keyvault role assignment create "
                     "--hsm-name %s --role \"Managed HSM Crypto Service Encryption User\" "
                     "--assignee-object-id %s "
                     "--scope /keys/%s",
                     n->store, n->principal, n->key);
        else if (rbac)
                outf(o,
                     ": it needs a role with keys/read, wrap and unwrap: az role assignment create --role "
                     "\"Key Vault Crypto Service Encryption User\" --assignee-object-id %s "
                     "--assignee-principal-type ServicePrincipal --scope %s",
                     n->principal,
                     role_key_scope(KEY_STORE_VAULT, n->vault ? n->vault->id : NULL, n->key, scope,
                                    sizeof scope));
        else
                outf(o,
                     ": the vault's access policies grant it no get, wrapKey and unwrapKey: az keyvault "
                     "set-policy "
                     "--name %s --object-id %s --key-permissions get list wrapKey unwrapKey",
                     n->store, n->principal);
        outf(o, "; access returns within about 60 min");
}

static void describe(struct out *o, const struct finding *f, const struct cluster_obs *obs, usec_t now) {
        const struct cluster *c = obs ? obs->cluster : NULL;
        char t1[RFC3339_MAX], t2[RFC3339_MAX], span[TIMESPAN_MAX], url[KEYURL_MAX];
        const char *version = f->version;
        struct names n;

        names_init(&n, obs);
        if (!version && n.has_url && keyurl_is_versioned(&n.url))
                version = n.url.version;
        if (!version)
                version = "n/a";
        if (n.has_url)
                keyurl_format_versionless(&n.url, url, sizeof url);
        else
                snprintf(url, sizeof url, "https://{vault}.vault.azure.net/keys/{name}");

        switch (f->code) {
        case FINDING_KEY_VERSION_STALE: {
                const struct key_bundle *p =
                        obs && obs->pinned_status.state == OBS_PRESENT ? obs->pinned : NULL;
                const struct key_bundle *k = obs && obs->key_status.state == OBS_PRESENT ? obs->key : NULL;

                outf(o, "cluster %s is pinned to version %s of key %s in %s, but the current version is %s",
                     n.cluster, version, n.key, n.store, k && k->version ? k->version : "n/a");
                if (obs && obs->pinned_status.state == OBS_ABSENT)
                        outf(o, ", and the pinned version no longer exists");
                else if (p) {
                        if (!p->enabled)
                                outf(o, ", and the pinned version is disabled");
                        if (p->exp != USEC_INFINITY && p->exp <= now)
                                outf(o, ", and the pinned version expired at %s", fmt_time(p->exp, t1));
                        if (p->nbf != 0 && p->nbf > now)
                                outf(o, ", and the pinned version is not valid before %s",
                                     fmt_time(p->nbf, t1));
                        if (!key_ops_ok(p))
                                outf(o, ", and the pinned version does not permit wrapKey/unwrapKey");
                }
                outf(o,
                     ": repoint the cluster to the versionless URL %s (one PUT carrying identity and "
                     "keyEncryptionKeyUrl together, only while clusterStatus is Ready; if the cluster is "
                     "Inaccessible, first make the pinned version usable and wait for Ready)",
                     url);
                break;
        }
        case FINDING_KEY_VERSION_PINNED:
                outf(o,
                     "cluster %s pins version %s of key %s: it will not follow key rotation; use the "
                     "versionless "
                     "URL %s",
                     n.cluster, version, n.key, url);
                break;
        case FINDING_KEY_DISABLED:
                if (f->previous) {
                        outf(o,
                             "version %s of key %s in %s was current until the rotation to %s %s ago, and "
                             "cluster %s may still use it until the service re-wraps with the new version, "
                             "but it is disabled: re-enable it (az keyvault key set-attributes %s %s --name "
                             "%s --version %s --enabled true) and disable it only after VersionDisableGraceSec=",
                             f->previous, n.key, n.store, version, fmt_span(usec_sub(now, f->when), span),
                             n.cluster, n.store_flag, n.store, n.key, f->previous);
                        break;
                }
                outf(o,
                     "version %s of key %s in %s, which cluster %s uses, is disabled: az keyvault key "
                     "set-attributes %s %s --name %s --version %s --enabled true",
                     version, n.key, n.store, n.cluster, n.store_flag, n.store, n.key, version);
                break;
        case FINDING_KEY_EXPIRED:
                outf(o,
                     "version %s of key %s in %s, which cluster %s uses, expired at %s: extend it (az "
                     "keyvault "
                     "key set-attributes %s %s --name %s --version %s --expires <new date>), wait until the "
                     "cluster is Ready again (up to 60 min), only then rotate or repoint",
                     version, n.key, n.store, n.cluster, fmt_time(f->when, t1), n.store_flag, n.store, n.key,
                     version);
                break;
        case FINDING_KEY_NOT_YET_VALID:
                outf(o,
                     "version %s of key %s in %s, which cluster %s uses, is not valid before %s: az "
                     "keyvault key "
                     "set-attributes %s %s --name %s --version %s --not-before %s",
                     version, n.key, n.store, n.cluster, fmt_time(f->when, t1), n.store_flag, n.store, n.key,
                     version, fmt_time(now, t2));
                break;
        case FINDING_KEY_DELETED: {
                const struct key_bundle *d =
                        obs && obs->deleted_key_status.state == OBS_PRESENT ? obs->deleted_key : NULL;

                outf(o,
                     "key %s of cluster %s was deleted from %s (on %s; purge scheduled %s): recover it: az "
                     "keyvault key recover %s %s --name %s; access returns within about 60 min",
                     n.key, n.cluster, n.store, fmt_time(f->when, t1),
                     fmt_time(d ? d->scheduled_purge_date : 0, t2), n.store_flag, n.store, n.key);
                break;
        }
        case FINDING_KEY_NOT_FOUND:
                outf(o,
                     "key %s of cluster %s exists neither in %s nor among its deleted keys (purged or never "
                     "created): restore it from a backup (az keyvault key restore %s %s --file <backup>) or "
                     "the cluster cannot decrypt its data",
                     n.key, n.cluster, n.store, n.store_flag, n.store);
                break;
        case FINDING_KEY_EXPIRING:
                outf(o,
                     "version %s of key %s in %s, which cluster %s uses, expires at %s (in %s): extend it "
                     "(az "
                     "keyvault key set-attributes %s %s --name %s --version %s --expires <new date>) or "
                     "rotate "
                     "the key and make sure the cluster follows",
                     version, n.key, n.store, n.cluster, fmt_time(f->when, t1),
                     fmt_span(usec_sub(f->when, now), span), n.store_flag, n.store, n.key, version);
                break;
        case FINDING_KEY_TOO_OLD:
                outf(o,
                     "version %s of key %s, which cluster %s uses, was created at %s (%s ago): rotate it "
                     "(az "
                     "keyvault key rotate %s %s --name %s)%s",
                     version, n.key, n.cluster, fmt_time(f->when, t1),
                     fmt_span(usec_sub(now, f->when), span), n.store_flag, n.store, n.key,
                     n.has_url && keyurl_is_versioned(&n.url) ? " and repoint the pinned cluster" : "");
                break;
        case FINDING_KEY_NO_ROTATION_POLICY:
                outf(o,
                     "key %s in %s of cluster %s has no rotation policy with a Rotate action: az keyvault "
                     "key "
                     "rotation-policy update %s %s --name %s --value <policy.json>",
                     n.key, n.store, n.cluster, n.store_flag, n.store, n.key);
                break;
        case FINDING_KEY_TYPE_UNSUPPORTED: {
                const struct key_bundle *k = NULL;

                if (obs && obs->pinned_status.state == OBS_PRESENT && obs->pinned &&
                    streq_ptr(obs->pinned->version, f->version))
                        k = obs->pinned;
                else if (obs && obs->key_status.state == OBS_PRESENT)
                        k = obs->key;
                outf(o, "version %s of key %s, which cluster %s uses, is %s", version, n.key, n.cluster,
                     k && k->kty ? k->kty : "of unknown type");
                if (k && k->rsa_bits)
                        outf(o, " of %u bits", k->rsa_bits);
                outf(o,
                     "; CMK needs RSA or RSA-HSM of 2048, 3072 or 4096 bits: create one (az keyvault key "
                     "create "
                     "%s %s --name <new key> --kty %s --size 4096) and point the cluster at it",
                     n.store_flag, n.store, n.hsm ? "RSA-HSM" : "RSA");
                break;
        }
        case FINDING_KEY_OPS_MISSING:
                outf(o,
                     "version %s of key %s, which cluster %s uses, does not permit wrapKey and unwrapKey: "
                     "az "
                     "keyvault key set-attributes %s %s --name %s --version %s --ops wrapKey unwrapKey",
                     version, n.key, n.cluster, n.store_flag, n.store, n.key, version);
                break;
        case FINDING_IDENTITY_NOT_ASSIGNED:
                outf(o,
                     "the encryption identity %s of cluster %s (identityType %s) is not a user-assigned "
                     "identity "
                     "of the cluster: PUT the cluster with identity.userAssignedIdentities containing it "
                     "and "
                     "keyEncryptionKeyIdentity {UserAssignedIdentity, its id}",
                     c && c->kek_identity_id ? c->kek_identity_id : "(none)", n.cluster,
                     c && c->kek_identity_type ? c->kek_identity_type : "(none)");
                break;
        case FINDING_IDENTITY_DELETED:
                outf(o,
                     "the encryption identity %s of cluster %s no longer exists: restore it, or create a "
                     "new "
                     "identity, grant it access to key %s and PUT both identity and key URL to the cluster; "
                     "revalidation takes about an hour",
                     n.identity, n.cluster, n.key);
                break;
        case FINDING_IDENTITY_RECREATED: {
                const struct assigned_identity *a =
                        c && c->kek_identity_id ? cluster_find_assigned(c, c->kek_identity_id) : NULL;

                outf(o,
                     "identity %s of cluster %s was re-created: its principal is now %s but the cluster "
                     "holds %s, "
                     "and a same-name re-creation does not restore access: grant the new principal access "
                     "to key "
                     "%s, then PUT the identity and key URL to the cluster again",
                     n.identity, n.cluster, n.principal, a && a->principal_id ? a->principal_id : "n/a",
                     n.key);
                break;
        }
        case FINDING_ACCESS_REVOKED:
                describe_access(o, obs, &n);
                break;
        case FINDING_VAULT_DELETED:
                outf(o,
                     "%s %s holding key %s of cluster %s was deleted (it is among the soft-deleted ones): "
                     "az "
                     "keyvault recover %s %s, then wait for revalidation (up to 60 min)",
                     n.hsm ? "Managed HSM" : "vault", n.store, n.key, n.cluster,
                     n.hsm ? "--hsm-name" : "--name", n.store);
                break;
        case FINDING_VAULT_SOFT_DELETE_OFF:
                if (n.hsm)
                        /* Soft delete of a Managed HSM is on from its creation and immutable (spec). */
                        outf(o,
                             "Managed HSM %s of cluster %s reports soft delete off, so a deleted key cannot be "
                             "recovered; it cannot be switched on afterwards (az keyvault show --hsm-name %s): "
                             "move the key to an HSM with soft delete and repoint the cluster",
                             n.store, n.cluster, n.store);
                else
                        outf(o,
                             "vault %s of cluster %s has soft delete off, so a deleted key cannot be recovered: "
                             "az keyvault update --name %s --enable-soft-delete true",
                             n.store, n.cluster, n.store);
                break;
        case FINDING_VAULT_PURGE_PROTECTION_OFF:
                if (n.hsm)
                        outf(o,
                             "Managed HSM %s of cluster %s has purge protection off: az keyvault update-hsm "
                             "--hsm-name %s --enable-purge-protection true",
                             n.store, n.cluster, n.store);
                else
                        outf(o,
                             "vault %s of cluster %s has purge protection off: az keyvault update --name %s "
                             "--enable-purge-protection true",
                             n.store, n.cluster, n.store);
                break;
        case FINDING_VAULT_FIREWALL_BLOCKS:
                outf(o,
                     "%s %s of cluster %s is closed (%s%s%s) without the trusted-services bypass or an "
                     "approved "
                     "private endpoint: allow trusted Microsoft services",
                     n.hsm ? "Managed HSM" : "vault", n.store, n.cluster,
                     n.vault && n.vault->public_network_disabled ? "publicNetworkAccess Disabled" : "",
                     n.vault && n.vault->public_network_disabled && n.vault->default_action_deny ? ", " : "",
                     n.vault && n.vault->default_action_deny ? "networkAcls.defaultAction Deny" : "");
                if (n.hsm)
                        outf(o, ": az keyvault update-hsm --hsm-name %s --bypass AzureServices", n.store);
                else
                        outf(o, ": az keyvault update --name %s --bypass AzureServices", n.store);
                break;
        case FINDING_VAULT_REGION_MISMATCH:
                outf(o,
                     "%s %s is in %s but cluster %s is in %s: CMK needs the key store in the cluster's "
                     "region; "
                     "move the key to a store in %s and repoint the cluster",
                     n.hsm ? "Managed HSM" : "vault", n.store,
                     n.vault && n.vault->location ? n.vault->location : "n/a", n.cluster,
                     c && c->location ? c->location : "n/a", c && c->location ? c->location : "n/a");
                break;
        case FINDING_TENANT_MISMATCH:
                outf(o,
                     "%s %s is in tenant %s but identity %s of cluster %s is in tenant %s: cross-tenant CMK "
                     "is not "
                     "supported; use a key store in the identity's tenant",
                     n.hsm ? "Managed HSM" : "vault", n.store,
                     n.vault && n.vault->tenant_id ? n.vault->tenant_id : "n/a", n.identity, n.cluster,
                     n.id && n.id->tenant_id ? n.id->tenant_id : "n/a");
                break;
        case FINDING_IDENTITY_REGION_MISMATCH:
                outf(o,
                     "identity %s is in %s but cluster %s is in %s: CMK needs the identity in the cluster's "
                     "region; create one there, grant it access to key %s and PUT it with the key URL",
                     n.identity, n.id && n.id->location ? n.id->location : "n/a", n.cluster,
                     c && c->location ? c->location : "n/a", n.key);
                break;
        case FINDING_KEY_URL_INVALID:
                if (obs && obs->key_url_outside_cloud && c && c->key_url) {
                        outf(o,
                             "keyEncryptionKeyUrl of cluster %s is '%s', whose host is outside the configured "
                             "cloud (KeyVaultSuffix=, ManagedHsmSuffix=): cmkd reads nothing there; PUT the "
                             "cluster with a key of this cloud's Key Vault or Managed HSM and its identity",
                             n.cluster, c->key_url);
                        break;
                }
                outf(o,
                     "keyEncryptionKeyUrl of cluster %s is %s%s%s, not a Key Vault or Managed HSM key URL: "
                     "PUT the "
                     "cluster with a URL like https://{vault}.vault.azure.net/keys/{name} and its identity",
                     n.cluster, c && c->key_url ? "'" : "", c && c->key_url ? c->key_url : "missing",
                     c && c->key_url ? "'" : "");
                break;
        case FINDING_CLUSTER_INACCESSIBLE:
                outf(o,
                     "cluster %s reports clusterStatus %s%s%s: when the key or identity is unusable the "
                     "cluster "
                     "refuses connections; fix the key and identity findings and wait up to 60 min for "
                     "Ready (a "
                     "Failed CMK creation must be deleted and re-created)",
                     n.cluster, c && c->cluster_status ? "'" : "",
                     c && c->cluster_status ? c->cluster_status : "(absent)",
                     c && c->cluster_status ? "'" : "");
                break;
        case FINDING_SERVICE_MANAGED_KEY:
                outf(o,
                     "cluster %s encrypts with a service-managed key, which cannot be switched to a "
                     "customer-managed "
                     "one in place: create a replica or a point-in-time restore with a customer-managed key",
                     n.cluster);
                break;
        case FINDING_CHECK_UNKNOWN:
                describe_unknown(o, f, obs, &n);
                break;
        default:
                outf(o, "finding %d of cluster %s", (int)f->code, n.cluster);
        }
}

char *finding_describe(const struct finding *f, const struct cluster_obs *obs, usec_t now, char *buf,
                       size_t len) {
        struct out o = {.buf = buf, .len = len};

        if (!buf || len == 0)
                return buf;
        buf[0] = 0;
        if (!f) {
                outf(&o, "(no finding)");
                return buf;
        }
        describe(&o, f, obs, now);
        /* One line, whatever Azure or a cluster owner put in a name or a URL. */
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        return buf;
}
