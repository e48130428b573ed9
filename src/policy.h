/* SPDX-License-Identifier: MIT */
#pragma once

/* The pure decision core: given what was observed about one cluster, the policy that
 * applies to it and the time, say what is wrong (findings) and what to do (action).
 * No I/O, no clock, no logging, no allocation: every rule is a row in a table test. */

#include "keyurl.h"
#include "macro.h"
#include "model.h"

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
        _FACT_MAX,
        _FACT_INVALID = -EINVAL,
};

struct finding {
        enum finding_code code;
        enum severity severity;
        /* Details for the message; meaning depends on the code. */
        enum fact_kind fact;     /* check-unknown: the fact that could not be read */
        const struct obs_status *status; /* check-unknown: why (borrowed from the obs) */
        usec_t when;             /* key-expired/expiring: exp; not-yet-valid: nbf; too-old: created */
        const char *version;     /* the key version concerned (borrowed), or NULL */
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
        usec_t key_expiry_warning_usec;  /* key-expiring (warning) when exp - now <= this */
        usec_t key_expiry_critical_usec; /* ... critical when exp - now <= this */
        usec_t max_key_age_usec;         /* key-too-old when now - created > this; 0 = off */
        bool require_rotation_policy;    /* key-no-rotation-policy is a warning, not info */
        usec_t clock_skew_usec;          /* tolerance for nbf/exp comparisons */
};

enum action_kind {
        ACTION_NONE,
        ACTION_UPDATE, /* repoint the cluster to .target_url */
        _ACTION_MAX,
        _ACTION_INVALID = -EINVAL,
};

/* Why an update that the policy wants is not made. Each is a guard rail with a test. */
enum refusal {
        REFUSAL_NONE,
        REFUSAL_INCOMPLETE,          /* a fact the decision needs could not be read */
        REFUSAL_CLUSTER_NOT_SUCCEEDED, /* provisioningState is not Succeeded */
        REFUSAL_CLUSTER_UPDATING,    /* an update is already in progress */
        REFUSAL_CLUSTER_INACCESSIBLE, /* restore access, wait for Ready, then repoint */
        REFUSAL_CLUSTER_NOT_READY,   /* clusterStatus is anything else but Ready */
        REFUSAL_TARGET_DISABLED,
        REFUSAL_TARGET_EXPIRED,
        REFUSAL_TARGET_NOT_YET_VALID,
        REFUSAL_TARGET_OPS_MISSING,
        REFUSAL_TARGET_TYPE_UNSUPPORTED,
        REFUSAL_NO_ACCESS,           /* the encryption identity cannot reach the key */
        REFUSAL_OLDER_VERSION,       /* the target is older than the pinned version */
        REFUSAL_SERVICE_MANAGED,
        /* Set by policy_gate(), not by policy_evaluate(): */
        REFUSAL_MODE,                /* Mode=alert-only */
        REFUSAL_OUTSIDE_WINDOW,      /* ChangeWindow= */
        REFUSAL_BUDGET,              /* MaxUpdatesPerSweep= reached */
        REFUSAL_IN_FLIGHT,           /* an update of ours is still being followed */
        _REFUSAL_MAX,
        _REFUSAL_INVALID = -EINVAL,
};

struct action {
        enum action_kind kind;       /* ACTION_UPDATE only when refusal is REFUSAL_NONE */
        bool wanted;                 /* the policy asks for an update (it may be refused) */
        enum refusal refusal;
        char target_url[KEYURL_MAX]; /* when wanted */
        const char *target_version;  /* borrowed; NULL for versionless */
};

struct verdict {
        struct finding findings[_FINDING_MAX]; /* each code at most once, in enum order */
        size_t n_findings;
        enum severity worst; /* SEVERITY_INFO when there are no findings */
        struct action action;
        /* Parsed key URL of the cluster, when it has one and it parses. */
        bool has_keyurl;
        struct keyurl keyurl;
};

/* Fills *ret. Returns 0, or -EINVAL if obs has no cluster. Never fails otherwise: a
 * fact it cannot judge becomes a check-unknown finding. */
int policy_evaluate(const struct cluster_obs *obs, const struct policy_conf *pc, usec_t now,
                    struct verdict *ret);

const struct finding *verdict_find(const struct verdict *v, enum finding_code code);

/* Writes a one-line human message for a finding: what is wrong and the step that fixes
 * it. Pure; returns buf. */
char *finding_describe(const struct finding *f, const struct cluster_obs *obs, usec_t now, char *buf,
                       size_t len);
#define FINDING_MESSAGE_MAX 512

/* Severity of a finding code when nothing modifies it (for docs and catalog tests). */
enum severity finding_default_severity(enum finding_code c);

const char *severity_to_string(enum severity s);
enum severity severity_from_string(const char *s);
const char *finding_to_string(enum finding_code c);
enum finding_code finding_from_string(const char *s);
const char *fact_kind_to_string(enum fact_kind f);
const char *refusal_to_string(enum refusal r);
/* A sentence for the log and alerts: "the cluster is Inaccessible: restore ..." */
const char *refusal_describe(enum refusal r);
const char *stale_version_policy_to_string(enum stale_version_policy p);
enum stale_version_policy stale_version_policy_from_string(const char *s);
const char *update_target_to_string(enum update_target t);
enum update_target update_target_from_string(const char *s);
const char *action_kind_to_string(enum action_kind a);

/* True if clusterStatus is known to be healthy ("Ready"; case-insensitive). */
bool cluster_status_is_ready(const char *status);
