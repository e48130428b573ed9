/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decision core: given what was observed about one cluster, the policy that
 * applies to it and the time, say what is wrong (findings) and what to do (action).
 * No I/O, no clock, no logging, no allocation: every rule is a row in a table test.
 *
 * Rules (sources: /work/shared/reference/cmk-rules.md, rule ids in brackets):
 *
 * Which version is "in use": the pinned version when the key URL carries one, else the key's
 * current version [C3, C4, K3]. Per-version rules (disabled, expired, not-yet-valid, expiring,
 * too-old, type, ops) judge the version in use. A pinned version other than the current one is
 * key-version-stale; it is critical when the pinned version is disabled, expired, not yet valid,
 * lacks wrapKey/unwrapKey, or is gone (GET of that version 404), else a warning.
 *
 * Time boundaries (now = the time argument, skew = clock_skew_usec):
 *   key-expired        exp + skew <= now            (exp == now counts as expired when skew is 0)
 *   key-expiring       not expired and exp <= now + window: critical within key_expiry_critical_usec,
 *                      else warning within key_expiry_warning_usec; both edges inclusive
 *   key-not-yet-valid  nbf > now + skew             (nbf == now is valid)
 *   key-too-old        now - created > max_key_age_usec (exactly max is not too old; 0 = off;
 *                      an unknown created time (0) is not judged)
 * Findings give the clock the benefit of the doubt (they claim only what is certain within the
 * skew); the update guard rails do the opposite and refuse a target that might be invalid:
 *   target expired when exp <= now + skew; not yet valid when nbf > now - skew.
 *
 * Facts that could not be read (OBS_UNKNOWN, or present but unusable, e.g. an identity without
 * principalId or a custom role whose definition is missing) are never judged: the rules that
 * depend on them are skipped, and one check-unknown finding names the most fundamental unknown
 * fact (order: key, vault, identity, deleted key, pinned version, role assignments, role
 * definitions, rotation policy) with every unknown fact in .facts. A fact is needed only when a
 * rule would use it: the deleted key only when GET key is 404, the pinned version only when it
 * differs from the current one, role assignments only in RBAC mode (vault with
 * enableRbacAuthorization, or any Managed HSM) for an identity that exists, the rotation policy
 * whenever the key exists (a missing policy is OBS_ABSENT, a finding, not unknown). A vault
 * that is neither found nor among the deleted vaults is unknown (cmkd cannot tell a purged
 * vault from one in a subscription it does not search). When the vault is deleted the key facts
 * are not needed; when the key URL is missing or invalid, no key, vault or role fact is.
 *
 * Managed HSM (key URL under a ManagedHsmSuffix=): the same rules, with the HSM's ARM resource
 * (Microsoft.KeyVault/managedHSMs) as the "vault" (soft delete, purge protection, network, region,
 * tenant) and its local RBAC as the only access path: a local role assignment of the identity at
 * "/", "/keys" or "/keys/{name}" whose role grants .../managedHsm/keys/read/action, wrap/action and
 * unwrap/action (Managed HSM Crypto Service Encryption User, Crypto User, or a custom local role);
 * Azure RBAC, access policies and a role at another key's scope never count. Keys: RSA-HSM (or, should
 * an HSM report it, RSA) of 2048/3072/4096 bits; EC-HSM and oct-HSM are key-type-unsupported.
 *
 * clusterStatus [C5, C7, U4]: "Ready" is healthy. The other REST enum values (Provisioning,
 * Updating, Starting, Stopping, Stopped, Dropping) are transitional: no finding, but no update
 * either. Anything else, including "Inaccessible", "Failed" (documented but not in the enum) and
 * an absent status, is cluster-inaccessible (critical). Key, identity and vault rules run
 * whatever the status says [C7]. Service-managed clusters get only service-managed-key. */

#include "keyurl.h"
#include "macro.h"
#include "model.h"
#include "roles.h"

enum severity {
        SEVERITY_INFO,
        SEVERITY_WARNING,
        SEVERITY_CRITICAL,
        _SEVERITY_MAX,
        _SEVERITY_INVALID = -EINVAL,
};

/* Stable codes: they appear in JSON output, reports, metrics and journal fields.
 * Never renumber the strings; add new codes at the end. */
enum finding_code {
        FINDING_KEY_VERSION_STALE,
        FINDING_KEY_VERSION_PINNED,
        FINDING_KEY_DISABLED,
        FINDING_KEY_EXPIRED,
        FINDING_KEY_NOT_YET_VALID,
        FINDING_KEY_DELETED,
        FINDING_KEY_NOT_FOUND,
        FINDING_KEY_EXPIRING,
        FINDING_KEY_TOO_OLD,
        FINDING_KEY_NO_ROTATION_POLICY,
        FINDING_KEY_TYPE_UNSUPPORTED,
        FINDING_KEY_OPS_MISSING,
        FINDING_IDENTITY_NOT_ASSIGNED,
        FINDING_IDENTITY_DELETED,
        FINDING_IDENTITY_RECREATED,
        FINDING_ACCESS_REVOKED,
        FINDING_VAULT_DELETED,
        FINDING_VAULT_SOFT_DELETE_OFF,
        FINDING_VAULT_PURGE_PROTECTION_OFF,
        FINDING_VAULT_FIREWALL_BLOCKS,
        FINDING_VAULT_REGION_MISMATCH,
        FINDING_TENANT_MISMATCH,
        FINDING_CLUSTER_INACCESSIBLE,
        FINDING_SERVICE_MANAGED_KEY,
        FINDING_CHECK_UNKNOWN,
        FINDING_IDENTITY_REGION_MISMATCH,
        FINDING_KEY_URL_INVALID,
        _FINDING_MAX,
        _FINDING_INVALID = -EINVAL,
};

/* Which fact a check-unknown finding is about, and why a finding refers to a version. */
enum fact_kind {
        FACT_NONE,
        FACT_KEY,
        FACT_DELETED_KEY,
        FACT_PINNED_VERSION,
        FACT_ROTATION_POLICY,
        FACT_IDENTITY,
        FACT_VAULT,
        FACT_ROLE_ASSIGNMENTS,
        FACT_ROLE_DEFINITIONS, /* an applicable assignment names a role cmkd has no definition of */
        FACT_PREVIOUS_VERSION, /* the version current before a recent rotation */
        _FACT_MAX,
        _FACT_INVALID = -EINVAL,
};

struct finding {
        enum finding_code code;
        enum severity severity;
        /* key-disabled of the version current before a recent rotation (U5): that version,
         * borrowed from obs->previous; .version is then the current one and .when its creation
         * (the rotation). NULL otherwise. */
        const char *previous;
        /* Details for the message; meaning depends on the code. */
        enum fact_kind fact; /* check-unknown: the most fundamental fact that could not be read */
        unsigned facts;      /* check-unknown: every unknown fact, bits 1u << FACT_* */
        const struct obs_status *status; /* check-unknown: why (borrowed from the obs); NULL for
                                          * FACT_ROLE_DEFINITIONS */
        usec_t when;                     /* key-expired/expiring: exp; not-yet-valid: nbf; too-old: created;
                                          * key-deleted: deletedDate (0 if unknown) */
        /* The key version concerned, borrowed from obs (obs->key or obs->pinned): the version in
         * use for per-version findings, the pinned version for key-version-stale and
         * key-version-pinned. NULL when the only source is the key URL (the pinned version is
         * gone or was not read): then it is the verdict's keyurl.version. */
        const char *version;
};

enum stale_version_policy {
        STALE_VERSION_UPDATE,
        STALE_VERSION_ALERT,
        STALE_VERSION_IGNORE,
        _STALE_VERSION_MAX,
        _STALE_VERSION_INVALID = -EINVAL,
};

enum update_target {
        UPDATE_TARGET_LATEST,
        UPDATE_TARGET_VERSIONLESS,
        _UPDATE_TARGET_MAX,
        _UPDATE_TARGET_INVALID = -EINVAL,
};

/* The per-cluster policy, after [Policy] defaults and any matching override. */
struct policy_conf {
        enum stale_version_policy stale_version;
        enum update_target update_target;
        usec_t key_expiry_warning_usec;  /* key-expiring (warning) when exp - now <= this (inclusive) */
        usec_t key_expiry_critical_usec; /* ... critical when exp - now <= this (inclusive) */
        usec_t max_key_age_usec;         /* key-too-old when now - created > this; 0 = off */
        bool require_rotation_policy;    /* key-no-rotation-policy is a warning, not info */
        usec_t clock_skew_usec;          /* tolerance for nbf/exp comparisons (see above) */
        /* U5: for this long after a rotation, the previous version may still be in use until
         * the service re-wraps: disabling it is key-disabled too. 0 = off. */
        usec_t version_grace_usec;
};

enum action_kind {
        ACTION_NONE,
        ACTION_UPDATE, /* repoint the cluster to .target_url */
        _ACTION_MAX,
        _ACTION_INVALID = -EINVAL,
};

/* Why an update that the policy wants is not made. Each is a guard rail with a test.
 *
 * Precedence when several apply (policy_evaluate reports one): a refusal that is certain beats
 * REFUSAL_INCOMPLETE, because it holds whatever the unknown facts turn out to be and tells
 * on-call what to fix; among certain ones the most fundamental wins:
 *   SERVICE_MANAGED > CLUSTER_INACCESSIBLE > CLUSTER_UPDATING > CLUSTER_NOT_SUCCEEDED >
 *   CLUSTER_NOT_READY > NO_ACCESS > TARGET_TYPE_UNSUPPORTED > TARGET_OPS_MISSING >
 *   TARGET_DISABLED > TARGET_EXPIRED > TARGET_NOT_YET_VALID > OLDER_VERSION > INCOMPLETE.
 * The cluster comes first (never touch a cluster that is not steady: U4), then whether the
 * identity can reach the key at all, then the target version, then the version order.
 * CLUSTER_INACCESSIBLE is clusterStatus "Inaccessible"; CLUSTER_UPDATING is clusterStatus
 * "Updating" or provisioningState "Updating"/"InProgress"; NOT_SUCCEEDED is any other
 * provisioningState but "Succeeded" (absent included); NOT_READY any other clusterStatus but
 * "Ready". policy_evaluate never wants an update for a service-managed cluster (C1: it has no
 * key URL to repoint), so SERVICE_MANAGED is kept for callers that build actions themselves. */
enum refusal {
        REFUSAL_NONE,
        REFUSAL_INCOMPLETE,            /* a fact the decision needs could not be read */
        REFUSAL_CLUSTER_NOT_SUCCEEDED, /* provisioningState is not Succeeded */
        REFUSAL_CLUSTER_UPDATING,      /* an update is already in progress */
        REFUSAL_CLUSTER_INACCESSIBLE,  /* restore access, wait for Ready, then repoint */
        REFUSAL_CLUSTER_NOT_READY,     /* clusterStatus is anything else but Ready */
        REFUSAL_TARGET_DISABLED,
        REFUSAL_TARGET_EXPIRED,
        REFUSAL_TARGET_NOT_YET_VALID,
        REFUSAL_TARGET_OPS_MISSING,
        REFUSAL_TARGET_TYPE_UNSUPPORTED,
        REFUSAL_NO_ACCESS,     /* the encryption identity cannot reach the key */
        REFUSAL_OLDER_VERSION, /* the target is older than the pinned version */
        REFUSAL_SERVICE_MANAGED,
        /* Set by policy_gate(), not by policy_evaluate(): */
        REFUSAL_MODE,           /* Mode=alert-only */
        REFUSAL_OUTSIDE_WINDOW, /* ChangeWindow= */
        REFUSAL_BUDGET,         /* MaxUpdatesPerSweep= reached */
        REFUSAL_IN_FLIGHT,      /* an update of ours is still being followed */
        _REFUSAL_MAX,
        _REFUSAL_INVALID = -EINVAL,
};

struct action {
        enum action_kind kind; /* ACTION_UPDATE only when refusal is REFUSAL_NONE */
        bool wanted;           /* the policy asks for an update (it may be refused) */
        enum refusal refusal;
        char target_url[KEYURL_MAX]; /* when wanted */
        const char *target_version;  /* borrowed; NULL for versionless */
};

/* Whether the encryption identity may use the key (access-revoked), when it could be judged. */
struct access_check {
        bool evaluated; /* identity, vault and (in RBAC mode) role facts were all known */
        bool rbac;      /* RBAC mode: vault with enableRbacAuthorization, or a Managed HSM */
        bool granted;
        struct key_access roles;            /* RBAC mode: how (conditional, custom role, via) */
        const struct access_policy *policy; /* access-policy mode: the granting entry (borrowed) */
};

struct verdict {
        struct finding findings[_FINDING_MAX]; /* each code at most once, in enum order */
        size_t n_findings;
        enum severity worst; /* SEVERITY_INFO when there are no findings */
        struct action action;
        /* Parsed key URL of the cluster, when it has one and it parses. */
        bool has_keyurl;
        struct keyurl keyurl;
        struct access_check access;
};

/* Fills *ret. Returns 0, or -EINVAL if obs, pc or ret is NULL or obs has no cluster (ret is
 * untouched then). Never fails otherwise: a fact it cannot judge becomes a check-unknown
 * finding. Pointers in the verdict borrow from obs. */
int policy_evaluate(const struct cluster_obs *obs, const struct policy_conf *pc, usec_t now,
                    struct verdict *ret);

/* The finding with that code, or NULL. */
const struct finding *verdict_find(const struct verdict *v, enum finding_code code);

/* Writes a one-line human message for a finding: what is wrong, on which object, and the step
 * (often an az command) that fixes it. Pure; obs may be NULL (names then read "n/a"); control
 * characters from Azure data are replaced by '?'; truncated to len. Returns buf. */
char *finding_describe(const struct finding *f, const struct cluster_obs *obs, usec_t now, char *buf,
                       size_t len);
#define FINDING_MESSAGE_MAX 1024

/* Severity of a finding code when nothing modifies it (for docs and catalog tests). */
enum severity finding_default_severity(enum finding_code c);

const char *severity_to_string(enum severity s);
enum severity severity_from_string(const char *s);
const char *finding_to_string(enum finding_code c);
enum finding_code finding_from_string(const char *s);
const char *fact_kind_to_string(enum fact_kind f);
enum fact_kind fact_kind_from_string(const char *s);
const char *refusal_to_string(enum refusal r);
enum refusal refusal_from_string(const char *s);
/* A sentence for the log and alerts: "the cluster is Inaccessible: restore ..." */
const char *refusal_describe(enum refusal r);
const char *stale_version_policy_to_string(enum stale_version_policy p);
enum stale_version_policy stale_version_policy_from_string(const char *s);
const char *update_target_to_string(enum update_target t);
enum update_target update_target_from_string(const char *s);
const char *action_kind_to_string(enum action_kind a);
enum action_kind action_kind_from_string(const char *s);
/* The *_from_string functions compare exactly (the strings are ours) and return the _INVALID
 * value (-EINVAL) for NULL or an unknown string. The *_to_string functions return NULL out of
 * range; refusal_describe returns a generic sentence then. */

/* True if clusterStatus is known to be healthy ("Ready"; case-insensitive). */
bool cluster_status_is_ready(const char *status);
/* True for the REST enum's transitional states: Provisioning, Updating, Starting, Stopping,
 * Stopped, Dropping (case-insensitive). Neither healthy nor inaccessible: no update. */
bool cluster_status_is_transitional(const char *status);
