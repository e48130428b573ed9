/* SPDX-License-Identifier: MIT */
/* policy.c: one table row per rule, boundary, refusal and precedence. Each row mutates a healthy
 * baseline cluster and states the complete set of findings (code:severity), the action, and the
 * unknown facts; anything more or less fails the row. Every message is rendered too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "policy.h"
#include "roles.h"

#define NOW         ((usec_t)1790000000 * USEC_PER_SEC)
#define SKEW        (5 * USEC_PER_MINUTE)
#define WARN_WINDOW (30 * USEC_PER_DAY)
#define CRIT_WINDOW (7 * USEC_PER_DAY)

#define V1                "11111111111111111111111111111111"
#define V2                "22222222222222222222222222222222"
#define URL               "https://vault1.vault.azure.net/keys/key1"
#define URL_V1            URL "/" V1
#define URL_V2            URL "/" V2
#define HSM_URL           "https://hsm1.managedhsm.azure.net/keys/key1"
#define SUB               "/subscriptions/00000000-0000-0000-0000-000000000001"
#define RG                SUB "/resourceGroups/rg1"
#define VAULT_ID          RG "/providers/Microsoft.KeyVault/vaults/vault1"
#define HSM_ID            RG "/providers/Microsoft.KeyVault/managedHSMs/hsm1"
#define UAMI_ID           RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami1"
#define CLUSTER_ID        RG "/providers/Microsoft.DocumentDB/mongoClusters/c1"
#define P1                "aaaaaaaa-0000-0000-0000-000000000001"
#define P_OLD             "aaaaaaaa-0000-0000-0000-00000000000f"
#define P_OTHER           "bbbbbbbb-0000-0000-0000-000000000002"
#define T1                "cccccccc-0000-0000-0000-000000000001"
#define T2                "cccccccc-0000-0000-0000-000000000002"
#define ROLE_KV_CSEU      "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#define ROLE_KV_OFFICER   "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
#define ROLE_KV_ADMIN     "00482a5a-887f-4fb3-b363-3b7fe8e74483"
#define ROLE_KV_USER      "12338af0-0e69-4776-bea7-57ae8d297424"
#define ROLE_KV_READER    "21090545-7ca7-4776-b22c-e363652d74d2"
#define ROLE_OWNER        "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define ROLE_CONTRIBUTOR  "b24988ac-6180-42a0-ab88-20f7382dd24c"
#define ROLE_HSM_CSEU     "33413926-3206-4cdd-b39a-83574fe37a17"
#define ROLE_HSM_USER     "21dbd100-6940-42c2-9190-5d6cb909625b"
#define ROLE_HSM_ADMIN    "a290e904-7015-4bba-90c8-60543313cdb4"
#define ROLE_HSM_AUDITOR  "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3"
#define ROLE_CUSTOM_KEYS  "0c0ffee0-0000-0000-0000-000000000001" /* every key action */
#define ROLE_CUSTOM_WRAP  "0c0ffee0-0000-0000-0000-000000000002" /* wrap + unwrap only */
#define ROLE_CUSTOM_NOTUN "0c0ffee0-0000-0000-0000-000000000003" /* all vault actions but unwrap */
#define ROLE_UNKNOWN      "0dead000-0000-0000-0000-000000000009"
#define ROLE_CUSTOM_HSM   "0c0ffee0-0000-0000-0000-000000000004" /* HSM read + wrap + unwrap */

struct fx {
        struct cluster cluster;
        struct assigned_identity assigned[2];
        struct key_bundle key, pinned, deleted;
        struct key_version_item previous;
        struct rotation_policy rotation;
        struct identity identity;
        struct vault vault;
        struct access_policy policies[3];
        struct role_assignment role_items[4];
        struct role_assignment_list roles;
        struct role_definition custom[4];
        const struct role_definition *custom_ptrs[4];
        struct cluster_obs obs;
        struct policy_conf pc;
        usec_t now;
};

static char *custom_keys_actions[] = {"Microsoft.KeyVault/vaults/keys/*", NULL};
static char *custom_wrap_actions[] = {"Microsoft.KeyVault/vaults/keys/wrap/action",
                                      "microsoft.keyvault/VAULTS/keys/unwrap/action", NULL};
static char *custom_notun_actions[] = {"Microsoft.KeyVault/vaults/*", NULL};
static char *custom_notun_not[] = {"Microsoft.KeyVault/vaults/keys/unwrap/action", NULL};
static char *custom_hsm_actions[] = {"Microsoft.KeyVault/managedHsm/keys/read/action",
                                     "Microsoft.KeyVault/managedHsm/keys/wrap/action",
                                     "Microsoft.KeyVault/managedHsm/keys/unwrap/action", NULL};

static const struct obs_status present = {.state = OBS_PRESENT};
static const struct obs_status absent = {.state = OBS_ABSENT, .http_status = 404, .error_code = "NotFound"};
static const struct obs_status unknown_403 = {
        .state = OBS_UNKNOWN, .error = -EACCES, .http_status = 403, .error_code = "ForbiddenByRbac"};
static const struct obs_status not_read = {.state = OBS_UNKNOWN};

/* A healthy, versionless, RBAC-vault cluster: no finding above info, nothing to do. */
static void fx_init(struct fx *x) {
        *x = (struct fx){};
        x->now = NOW;
        x->pc = (struct policy_conf){
                .stale_version = STALE_VERSION_UPDATE,
                .update_target = UPDATE_TARGET_VERSIONLESS,
                .key_expiry_warning_usec = WARN_WINDOW,
                .key_expiry_critical_usec = CRIT_WINDOW,
                .max_key_age_usec = 0,
                .require_rotation_policy = false,
                .clock_skew_usec = 0,
        };

        x->assigned[0] =
                (struct assigned_identity){.id = UAMI_ID, .principal_id = P1, .client_id = "client1"};
        x->cluster = (struct cluster){
                .id = CLUSTER_ID,
                .name = "c1",
                .location = "West Europe",
                .provisioning_state = "Succeeded",
                .cluster_status = "Ready",
                .identity_type = "UserAssigned",
                .assigned = x->assigned,
                .n_assigned = 1,
                .customer_managed = true,
                .kek_identity_type = "UserAssignedIdentity",
                .kek_identity_id = UAMI_ID,
                .key_url = URL,
        };
        x->key = (struct key_bundle){
                .kid = URL_V2,
                .version = V2,
                .kty = "RSA",
                .rsa_bits = 4096,
                .key_ops = KEY_OP_ENCRYPT | KEY_OP_DECRYPT | KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY,
                .enabled = true,
                .nbf = 0,
                .exp = NOW + 365 * USEC_PER_DAY,
                .created = NOW - 30 * USEC_PER_DAY,
                .updated = NOW - 30 * USEC_PER_DAY,
                .recovery_level = "Recoverable",
        };
        x->pinned = (struct key_bundle){
                .kid = URL_V1,
                .version = V1,
                .kty = "RSA",
                .rsa_bits = 2048,
                .key_ops = KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY,
                .enabled = true,
                .nbf = 0,
                .exp = USEC_INFINITY,
                .created = NOW - 400 * USEC_PER_DAY,
        };
        x->deleted = (struct key_bundle){
                .kid = URL_V2,
                .version = V2,
                .kty = "RSA",
                .rsa_bits = 4096,
                .key_ops = KEY_OP_WRAP_KEY | KEY_OP_UNWRAP_KEY,
                .enabled = true,
                .exp = USEC_INFINITY,
                .created = NOW - 30 * USEC_PER_DAY,
                .deleted_date = NOW - USEC_PER_DAY,
                .scheduled_purge_date = NOW + 89 * USEC_PER_DAY,
        };
        x->rotation = (struct rotation_policy){.has_rotate_action = true,
                                               .rotate_after_create = 335 * USEC_PER_DAY,
                                               .expiry_time = 365 * USEC_PER_DAY};
        x->identity = (struct identity){.id = UAMI_ID,
                                        .name = "uami1",
                                        .location = "westeurope",
                                        .tenant_id = T1,
                                        .principal_id = P1,
                                        .client_id = "client1"};
        x->policies[0] = (struct access_policy){.tenant_id = T1,
                                                .object_id = P1,
                                                .key_permissions = KEY_PERM_GET | KEY_PERM_WRAP_KEY |
                                                                   KEY_PERM_UNWRAP_KEY};
        x->vault = (struct vault){
                .store = KEY_STORE_VAULT,
                .id = VAULT_ID,
                .name = "vault1",
                .location = "westeurope",
                .tenant_id = T1,
                .uri = "https://vault1.vault.azure.net/",
                .soft_delete = true,
                .purge_protection = true,
                .rbac_authorization = true,
                .public_network_disabled = false,
                .default_action_deny = false,
                .bypass_azure_services = true,
                .n_private_endpoints = 0,
                .access_policies = x->policies,
                .n_access_policies = 1,
        };
        x->role_items[0] = (struct role_assignment){
                .id = VAULT_ID "/providers/Microsoft.Authorization/roleAssignments/r0",
                .scope = VAULT_ID,
                .principal_id = P1,
                .role_definition = ROLE_KV_CSEU,
        };
        x->roles = (struct role_assignment_list){.items = x->role_items, .n_items = 1};
        x->custom[0] = (struct role_definition){
                .id = ROLE_CUSTOM_KEYS, .name = "Custom Keys", .data_actions = custom_keys_actions};
        x->custom[1] = (struct role_definition){
                .id = ROLE_CUSTOM_WRAP, .name = "Custom Wrap", .data_actions = custom_wrap_actions};
        x->custom[2] = (struct role_definition){.id = ROLE_CUSTOM_NOTUN,
                                                .name = "Custom NotUnwrap",
                                                .data_actions = custom_notun_actions,
                                                .not_data_actions = custom_notun_not};
        x->custom[3] = (struct role_definition){
                .id = ROLE_CUSTOM_HSM, .name = "Custom HSM Wrap", .data_actions = custom_hsm_actions};
        for (size_t i = 0; i < 4; i++)
                x->custom_ptrs[i] = &x->custom[i];

        x->obs = (struct cluster_obs){
                .cluster = &x->cluster,
                .key_status = present,
                .key = &x->key,
                .deleted_key_status = not_read,
                .pinned_status = not_read,
                .rotation_status = present,
                .rotation = &x->rotation,
                .identity_status = present,
                .identity = &x->identity,
                .vault_status = present,
                .vault = &x->vault,
                .roles_status = present,
                .roles = &x->roles,
                .custom_roles = x->custom_ptrs,
                .n_custom_roles = 4,
        };
}

/* ---- building blocks for the rows --------------------------------------------------- */

/* Pinned to V1 while V2 is current; V1 was read and is healthy. */
static void stale(struct fx *x) {
        x->cluster.key_url = URL_V1;
        x->obs.pinned_status = present;
        x->obs.pinned = &x->pinned;
}

/* U5: V2 became current 30 minutes ago; V1, current before it, is disabled. */
static void rotated_recently(struct fx *x) {
        x->pc.version_grace_usec = 2 * USEC_PER_HOUR;
        x->key.created = NOW - 30 * USEC_PER_MINUTE;
        x->previous = (struct key_version_item) {
                .kid = (char *) URL_V1,
                .version = (char *) V1,
                .enabled = false,
                .created = NOW - 40 * USEC_PER_DAY,
        };
        x->obs.previous_status = present;
        x->obs.previous = &x->previous;
}

static void pin_current(struct fx *x) {
        x->cluster.key_url = URL_V2;
}

static void access_policy_mode(struct fx *x) {
        x->vault.rbac_authorization = false;
        x->obs.roles_status = not_read;
        x->obs.roles = NULL;
}

static void role(struct fx *x, const char *scope, const char *principal, const char *def, bool cond) {
        x->role_items[0] = (struct role_assignment){.id = "ra0",
                                                    .scope = (char *)scope,
                                                    .principal_id = (char *)principal,
                                                    .role_definition = (char *)def,
                                                    .has_condition = cond};
        x->roles.n_items = 1;
}

static void role2(struct fx *x, const char *def0, const char *def1) {
        role(x, VAULT_ID, P1, def0, false);
        x->role_items[1] = (struct role_assignment){
                .id = "ra1", .scope = VAULT_ID, .principal_id = P1, .role_definition = (char *)def1};
        x->roles.n_items = 2;
}

static void hsm(struct fx *x) {
        x->cluster.key_url = HSM_URL;
        x->vault.store = KEY_STORE_MANAGED_HSM;
        x->vault.id = HSM_ID;
        x->vault.name = "hsm1";
        x->vault.uri = "https://hsm1.managedhsm.azure.net/";
        x->vault.rbac_authorization = false; /* local RBAC regardless */
        x->key.kty = "RSA-HSM";
        x->key.kid = HSM_URL "/" V2;
        role(x, "/keys", P1, ROLE_HSM_CSEU, false);
}

static void id_unknown(struct fx *x) {
        x->obs.identity_status = unknown_403;
        x->obs.identity = NULL;
}

#define MUT(n, ...)                                                                                         \
        static void n(struct fx *x) {                                                                       \
                __VA_ARGS__;                                                                                \
        }

MUT(m_none, (void)x)
MUT(m_pin_current, pin_current(x))
MUT(m_pin_current_id_upper, pin_current(x),
    x->cluster.key_url = URL "/"
                             "2222222222222222222222222222222"
                             "2")

/* stale */
MUT(m_stale_not_read, x->cluster.key_url = URL_V1)
MUT(m_stale, stale(x))
MUT(m_stale_latest, stale(x), x->pc.update_target = UPDATE_TARGET_LATEST)
MUT(m_stale_alert, stale(x), x->pc.stale_version = STALE_VERSION_ALERT)
MUT(m_stale_ignore, stale(x), x->pc.stale_version = STALE_VERSION_IGNORE)
MUT(m_stale_ignore_gone, stale(x), x->pc.stale_version = STALE_VERSION_IGNORE, x->obs.pinned_status = absent,
    x->obs.pinned = NULL)
MUT(m_stale_disabled, stale(x), x->pinned.enabled = false)
MUT(m_stale_expired, stale(x), x->pinned.exp = NOW - USEC_PER_DAY)
MUT(m_stale_nyv, stale(x), x->pinned.nbf = NOW + USEC_PER_DAY)
MUT(m_stale_ops, stale(x), x->pinned.key_ops = KEY_OP_WRAP_KEY)
MUT(m_stale_gone, stale(x), x->obs.pinned_status = absent, x->obs.pinned = NULL)
MUT(m_stale_type, stale(x), x->pinned.kty = "EC", x->pinned.rsa_bits = 0)
MUT(m_stale_expiring, stale(x), x->pinned.exp = NOW + 3 * USEC_PER_DAY)
MUT(m_stale_unknown_data_ignored, stale(x), x->obs.pinned_status = unknown_403, x->pinned.enabled = false)
MUT(m_stale_rotation_unknown, stale(x), x->obs.rotation_status = unknown_403, x->obs.rotation = NULL)
MUT(m_stale_hsm, hsm(x), x->cluster.key_url = HSM_URL "/" V1, x->obs.pinned_status = present,
    x->obs.pinned = &x->pinned)
MUT(m_prev_disabled, rotated_recently(x))
MUT(m_prev_enabled, rotated_recently(x), x->previous.enabled = true)
MUT(m_prev_grace_edge, rotated_recently(x), x->key.created = NOW - 2 * USEC_PER_HOUR)
MUT(m_prev_grace_edge_minus1, rotated_recently(x), x->key.created = NOW - 2 * USEC_PER_HOUR + 1)
MUT(m_prev_grace_off, rotated_recently(x), x->pc.version_grace_usec = 0)
MUT(m_prev_none, rotated_recently(x), x->obs.previous_status = absent, x->obs.previous = NULL)
MUT(m_prev_unknown, rotated_recently(x), x->obs.previous_status = unknown_403, x->obs.previous = NULL)
MUT(m_prev_pinned_current, rotated_recently(x), pin_current(x))
MUT(m_prev_stale, rotated_recently(x), stale(x))
MUT(m_prev_and_current_disabled, rotated_recently(x), x->key.enabled = false)
MUT(m_stale_bad_policy_value, stale(x), x->pc.stale_version = (enum stale_version_policy)42)

/* per-version rules on the current version (versionless) */
MUT(m_disabled, x->key.enabled = false)
MUT(m_exp_now, x->key.exp = NOW)
MUT(m_exp_now_plus1, x->key.exp = NOW + 1)
MUT(m_exp_crit_edge, x->key.exp = NOW + CRIT_WINDOW)
MUT(m_exp_crit_edge_plus1, x->key.exp = NOW + CRIT_WINDOW + 1)
MUT(m_exp_warn_edge, x->key.exp = NOW + WARN_WINDOW)
MUT(m_exp_warn_edge_plus1, x->key.exp = NOW + WARN_WINDOW + 1)
MUT(m_exp_past, x->key.exp = NOW - 10 * USEC_PER_DAY)
MUT(m_exp_windows_off, x->key.exp = NOW + 1, x->pc.key_expiry_warning_usec = 0,
    x->pc.key_expiry_critical_usec = 0)
MUT(m_exp_crit_gt_warn, x->key.exp = NOW + 10 * USEC_PER_DAY,
    x->pc.key_expiry_warning_usec = 5 * USEC_PER_DAY, x->pc.key_expiry_critical_usec = 20 * USEC_PER_DAY)
MUT(m_exp_skew_edge, x->pc.clock_skew_usec = SKEW, x->key.exp = NOW - SKEW)
MUT(m_exp_skew_inside, x->pc.clock_skew_usec = SKEW, x->key.exp = NOW - SKEW + 1)
MUT(m_exp_epoch, x->key.exp = 0)
MUT(m_exp_huge_window, x->key.exp = USEC_INFINITY - 1, x->pc.key_expiry_warning_usec = USEC_INFINITY)
MUT(m_nbf_now, x->key.nbf = NOW)
MUT(m_nbf_now_plus1, x->key.nbf = NOW + 1)
MUT(m_nbf_skew_edge, x->pc.clock_skew_usec = SKEW, x->key.nbf = NOW + SKEW)
MUT(m_nbf_skew_plus1, x->pc.clock_skew_usec = SKEW, x->key.nbf = NOW + SKEW + 1)
MUT(m_age_edge, x->pc.max_key_age_usec = 365 * USEC_PER_DAY, x->key.created = NOW - 365 * USEC_PER_DAY)
MUT(m_age_plus1, x->pc.max_key_age_usec = 365 * USEC_PER_DAY, x->key.created = NOW - 365 * USEC_PER_DAY - 1)
MUT(m_age_off, x->pc.max_key_age_usec = 0, x->key.created = 1)
MUT(m_age_created_unknown, x->pc.max_key_age_usec = USEC_PER_DAY, x->key.created = 0)
MUT(m_age_created_future, x->pc.max_key_age_usec = USEC_PER_DAY, x->key.created = NOW + USEC_PER_DAY)
MUT(m_type_ec, x->key.kty = "EC", x->key.rsa_bits = 0)
MUT(m_type_oct_hsm, x->key.kty = "oct-HSM", x->key.rsa_bits = 0)
MUT(m_type_null, x->key.kty = NULL)
MUT(m_type_1024, x->key.rsa_bits = 1024)
MUT(m_type_8192, x->key.rsa_bits = 8192)
MUT(m_type_2048, x->key.rsa_bits = 2048)
MUT(m_type_3072_hsm, x->key.kty = "RSA-HSM", x->key.rsa_bits = 3072)
MUT(m_type_bits_unknown, x->key.rsa_bits = 0)
MUT(m_type_lowercase, x->key.kty = "rsa")
MUT(m_ops_wrap_only, x->key.key_ops = KEY_OP_WRAP_KEY | KEY_OP_ENCRYPT)
MUT(m_ops_unwrap_only, x->key.key_ops = KEY_OP_UNWRAP_KEY)
MUT(m_ops_none, x->key.key_ops = 0)
MUT(m_rot_absent, x->obs.rotation_status = absent, x->obs.rotation = NULL)
MUT(m_rot_absent_required, x->obs.rotation_status = absent, x->obs.rotation = NULL,
    x->pc.require_rotation_policy = true)
MUT(m_rot_notify_only, x->rotation.has_rotate_action = false)
MUT(m_rot_notify_required, x->rotation.has_rotate_action = false, x->pc.require_rotation_policy = true)
MUT(m_rot_unknown, x->obs.rotation_status = unknown_403)
MUT(m_rot_present_null, x->obs.rotation = NULL)
MUT(m_all_bad, x->key.enabled = false, x->key.exp = NOW - 1, x->key.nbf = NOW + USEC_PER_DAY,
    x->key.kty = "EC", x->key.key_ops = 0, x->pc.max_key_age_usec = USEC_PER_DAY)

/* key missing */
MUT(m_key_deleted, x->obs.key_status = absent, x->obs.key = NULL, x->obs.deleted_key_status = present,
    x->obs.deleted_key = &x->deleted, x->obs.rotation_status = absent, x->obs.rotation = NULL)
MUT(m_key_purged, x->obs.key_status = absent, x->obs.key = NULL, x->obs.deleted_key_status = absent,
    x->obs.rotation_status = unknown_403)
MUT(m_key_deleted_unknown, x->obs.key_status = absent, x->obs.key = NULL,
    x->obs.deleted_key_status = unknown_403)
MUT(m_key_unknown, x->obs.key_status = unknown_403, x->key.enabled = false, x->key.exp = NOW - 1,
    x->obs.rotation_status = unknown_403)
MUT(m_key_unknown_pinned, x->obs.key_status = unknown_403, x->obs.key = NULL, x->cluster.key_url = URL_V1)
MUT(m_key_deleted_pinned, x->obs.key_status = absent, x->obs.key = NULL, x->obs.deleted_key_status = present,
    x->obs.deleted_key = &x->deleted, x->cluster.key_url = URL_V1)
MUT(m_key_no_version, x->key.version = NULL)
MUT(m_key_present_null, x->obs.key = NULL)

/* identity */
MUT(m_id_not_in_list,
    x->cluster.kek_identity_id = RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/other")
MUT(m_id_system, x->cluster.kek_identity_type = "SystemAssignedIdentity")
MUT(m_id_type_null, x->cluster.kek_identity_type = NULL)
MUT(m_id_null, x->cluster.kek_identity_id = NULL, id_unknown(x), x->obs.roles_status = unknown_403)
MUT(m_id_case,
    x->cluster.kek_identity_id = SUB "/RESOURCEGROUPS/RG1/providers/microsoft.managedidentity/"
                                     "userAssignedIdentities/UAMI1",
    x->cluster.kek_identity_type = "userassignedidentity")
MUT(m_id_no_assigned, x->cluster.n_assigned = 0, x->cluster.assigned = NULL)
MUT(m_id_deleted, x->obs.identity_status = absent, x->obs.identity = NULL, x->obs.roles_status = unknown_403,
    x->vault.tenant_id = T2)
MUT(m_id_recreated, x->assigned[0].principal_id = P_OLD)
MUT(m_id_recreated_case, x->assigned[0].principal_id = "AAAAAAAA-0000-0000-0000-000000000001")
MUT(m_id_recorded_null, x->assigned[0].principal_id = NULL)
MUT(m_id_unknown, id_unknown(x), x->vault.tenant_id = T2, x->roles.n_items = 0)
MUT(m_id_no_principal, x->identity.principal_id = NULL, x->roles.n_items = 0)
MUT(m_id_region, x->identity.location = "eastus")
MUT(m_id_region_spaces, x->identity.location = "West  Europe ", x->cluster.location = "westeurope")
MUT(m_id_region_null, x->identity.location = NULL, x->vault.location = NULL)

/* vault */
MUT(m_vault_deleted, x->obs.vault_status = absent, x->obs.vault = NULL, x->obs.vault_deleted = true,
    x->obs.key_status = unknown_403, x->obs.key = NULL, x->obs.rotation_status = unknown_403)
MUT(m_vault_absent, x->obs.vault_status = absent, x->obs.vault = NULL, x->obs.vault_deleted = false)
MUT(m_vault_unknown, x->obs.vault_status = unknown_403, x->roles.n_items = 0, x->vault.soft_delete = false,
    x->vault.tenant_id = T2)
MUT(m_soft_delete_off, x->vault.soft_delete = false)
MUT(m_purge_off, x->vault.purge_protection = false)
MUT(m_fw_public_off, x->vault.public_network_disabled = true, x->vault.bypass_azure_services = false)
MUT(m_fw_deny, x->vault.default_action_deny = true, x->vault.bypass_azure_services = false)
MUT(m_fw_both_bypass, x->vault.public_network_disabled = true, x->vault.default_action_deny = true)
MUT(m_fw_pe, x->vault.public_network_disabled = true, x->vault.bypass_azure_services = false,
    x->vault.n_private_endpoints = 1)
MUT(m_fw_open_nobypass, x->vault.bypass_azure_services = false)
MUT(m_vault_region, x->vault.location = "eastus")
MUT(m_tenant, x->vault.tenant_id = T2)
MUT(m_tenant_case, x->vault.tenant_id = "CCCCCCCC-0000-0000-0000-000000000001")

/* RBAC */
MUT(m_rbac_none, x->roles.n_items = 0)
MUT(m_rbac_other_principal, role(x, VAULT_ID, P_OTHER, ROLE_KV_CSEU, false))
MUT(m_rbac_principal_case, role(x, VAULT_ID, "AAAAAAAA-0000-0000-0000-000000000001", ROLE_KV_CSEU, false))
MUT(m_rbac_key_scope, role(x, VAULT_ID "/keys/key1", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_key_scope_case,
    role(x, SUB "/RESOURCEGROUPS/RG1/providers/Microsoft.KeyVault/vaults/VAULT1/keys/KEY1", P1, ROLE_KV_CSEU,
         false))
MUT(m_rbac_other_key, role(x, VAULT_ID "/keys/key2", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_key_prefix, role(x, VAULT_ID "/keys/key", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_other_vault, role(x, RG "/providers/Microsoft.KeyVault/vaults/vault2", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_rg, role(x, RG, P1, ROLE_KV_CSEU, false))
MUT(m_rbac_sub, role(x, SUB, P1, ROLE_KV_CSEU, false))
MUT(m_rbac_root, role(x, "/", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_mg, role(x, "/providers/Microsoft.Management/managementGroups/mg1", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_other_rg, role(x, SUB "/resourceGroups/rg2", P1, ROLE_KV_CSEU, false))
MUT(m_rbac_officer, role(x, VAULT_ID, P1, ROLE_KV_OFFICER, false))
MUT(m_rbac_admin, role(x, VAULT_ID, P1, ROLE_KV_ADMIN, false))
MUT(m_rbac_user, role(x, VAULT_ID, P1, ROLE_KV_USER, false))
MUT(m_rbac_reader, role(x, VAULT_ID, P1, ROLE_KV_READER, false))
MUT(m_rbac_owner, role(x, SUB, P1, ROLE_OWNER, false))
MUT(m_rbac_contributor, role(x, VAULT_ID, P1, ROLE_CONTRIBUTOR, false))
MUT(m_rbac_hsm_role_on_vault, role(x, VAULT_ID, P1, ROLE_HSM_CSEU, false))
MUT(m_rbac_guid_upper, role(x, VAULT_ID, P1, "E147488A-F6F5-4113-8E2D-B22465E65BF6", false))
MUT(m_rbac_custom_keys, role(x, VAULT_ID, P1, ROLE_CUSTOM_KEYS, false))
MUT(m_rbac_custom_wrap_only, role(x, VAULT_ID, P1, ROLE_CUSTOM_WRAP, false))
MUT(m_rbac_custom_not_unwrap, role(x, VAULT_ID, P1, ROLE_CUSTOM_NOTUN, false))
MUT(m_rbac_reader_plus_wrap, role2(x, ROLE_KV_READER, ROLE_CUSTOM_WRAP))
MUT(m_rbac_conditional, role(x, VAULT_ID, P1, ROLE_KV_CSEU, true))
MUT(m_rbac_unknown_role, role(x, VAULT_ID, P1, ROLE_UNKNOWN, false))
MUT(m_rbac_unknown_role_other_principal, role(x, VAULT_ID, P_OTHER, ROLE_UNKNOWN, false))
MUT(m_rbac_unknown_plus_granted, role2(x, ROLE_UNKNOWN, ROLE_KV_CSEU))
MUT(m_rbac_unknown_role_def_null, role(x, VAULT_ID, P1, NULL, false))
MUT(m_rbac_roles_unknown, x->obs.roles_status = unknown_403, x->obs.roles = NULL)
MUT(m_rbac_roles_absent, x->obs.roles_status = absent, x->obs.roles = NULL)
MUT(m_rbac_scope_null, role(x, NULL, P1, ROLE_KV_CSEU, false))
MUT(m_rbac_vault_id_null, x->vault.id = NULL)

/* access policies */
MUT(m_ap_ok, access_policy_mode(x))
MUT(m_ap_all, access_policy_mode(x), x->policies[0].key_permissions = KEY_PERM_ALL)
MUT(m_ap_no_unwrap, access_policy_mode(x),
    x->policies[0].key_permissions = KEY_PERM_GET | KEY_PERM_WRAP_KEY | KEY_PERM_LIST)
MUT(m_ap_no_get, access_policy_mode(x),
    x->policies[0].key_permissions = KEY_PERM_WRAP_KEY | KEY_PERM_UNWRAP_KEY)
MUT(m_ap_other_object, access_policy_mode(x), x->policies[0].object_id = P_OTHER)
MUT(m_ap_other_tenant, access_policy_mode(x), x->policies[0].tenant_id = T2)
MUT(m_ap_compound, access_policy_mode(x),
    x->policies[0].application_id = "dddddddd-0000-0000-0000-000000000001")
MUT(m_ap_upper, access_policy_mode(x), x->policies[0].object_id = "AAAAAAAA-0000-0000-0000-000000000001")
MUT(m_ap_none, access_policy_mode(x), x->vault.n_access_policies = 0, x->vault.access_policies = NULL)
MUT(m_ap_second, access_policy_mode(x), x->policies[0].object_id = P_OTHER,
    x->policies[1] = (struct access_policy){.tenant_id = T1,
                                            .object_id = P1,
                                            .key_permissions = KEY_PERM_ALL},
    x->vault.n_access_policies = 2)
MUT(m_ap_roles_unknown_not_needed, access_policy_mode(x), x->obs.roles_status = unknown_403)

/* Managed HSM */
MUT(m_hsm, hsm(x))
MUT(m_hsm_root, hsm(x), role(x, "/", P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_key_scope, hsm(x), role(x, "/keys/key1", P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_other_key, hsm(x), role(x, "/keys/key2", P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_user, hsm(x), role(x, "/", P1, ROLE_HSM_USER, false))
MUT(m_hsm_admin, hsm(x), role(x, "/", P1, ROLE_HSM_ADMIN, false))
MUT(m_hsm_auditor, hsm(x), role(x, "/", P1, ROLE_HSM_AUDITOR, false))
MUT(m_hsm_kv_role, hsm(x), role(x, "/", P1, ROLE_KV_CSEU, false))
MUT(m_hsm_arm_scope, hsm(x), role(x, HSM_ID, P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_policies_ignored, hsm(x), x->roles.n_items = 0)
MUT(m_hsm_roles_unknown, hsm(x), x->obs.roles_status = unknown_403)
MUT(m_hsm_key_disabled, hsm(x), x->key.enabled = false)
MUT(m_hsm_purge_off, hsm(x), x->vault.purge_protection = false)
MUT(m_hsm_2048, hsm(x), x->key.rsa_bits = 2048)
MUT(m_hsm_3072, hsm(x), x->key.rsa_bits = 3072)
MUT(m_hsm_1024, hsm(x), x->key.rsa_bits = 1024)
MUT(m_hsm_soft_rsa, hsm(x), x->key.kty = "RSA")
MUT(m_hsm_ec, hsm(x), x->key.kty = "EC-HSM", x->key.rsa_bits = 0)
MUT(m_hsm_oct, hsm(x), x->key.kty = "oct-HSM", x->key.rsa_bits = 0)
MUT(m_hsm_key_scope_case, hsm(x), role(x, "/keys/KEY1", P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_key_prefix, hsm(x), role(x, "/keys/key", P1, ROLE_HSM_CSEU, false))
MUT(m_hsm_other_principal, hsm(x), role(x, "/", P_OTHER, ROLE_HSM_CSEU, false))
MUT(m_hsm_custom_wrap, hsm(x), role(x, "/keys/key1", P1, ROLE_CUSTOM_HSM, false))
MUT(m_hsm_custom_vault_actions, hsm(x), role(x, "/", P1, ROLE_CUSTOM_KEYS, false))
MUT(m_hsm_unknown_role, hsm(x), role(x, "/keys", P1, ROLE_UNKNOWN, false))
MUT(m_hsm_soft_delete_off, hsm(x), x->vault.soft_delete = false)
MUT(m_hsm_fw_closed, hsm(x), x->vault.public_network_disabled = true, x->vault.bypass_azure_services = false)
MUT(m_hsm_fw_deny_bypass, hsm(x), x->vault.default_action_deny = true)
MUT(m_hsm_region, hsm(x), x->vault.location = "eastus")
MUT(m_hsm_tenant, hsm(x), x->vault.tenant_id = T2)
MUT(m_hsm_deleted, hsm(x), x->obs.vault_status = absent, x->obs.vault = NULL, x->obs.vault_deleted = true,
    x->obs.key_status = unknown_403, x->obs.key = NULL, x->obs.rotation_status = unknown_403)
MUT(m_hsm_not_visible, hsm(x), x->obs.vault_status = absent, x->obs.vault = NULL, x->obs.vault_deleted = false)
MUT(m_hsm_unknown, hsm(x), x->obs.vault_status = unknown_403, x->obs.vault = NULL)
MUT(m_hsm_key_deleted, hsm(x), x->obs.key_status = absent, x->obs.key = NULL, x->obs.deleted_key_status = present,
    x->obs.deleted_key = &x->deleted, x->obs.rotation_status = absent, x->obs.rotation = NULL)
MUT(m_hsm_deleted_key_unknown, hsm(x), x->obs.key_status = absent, x->obs.key = NULL,
    x->obs.deleted_key_status = unknown_403, x->obs.rotation_status = absent, x->obs.rotation = NULL)
MUT(r_hsm_revoked, hsm(x), x->cluster.key_url = HSM_URL "/" V1, x->obs.pinned_status = present,
    x->obs.pinned = &x->pinned, x->roles.n_items = 0)
MUT(r_hsm_roles_unknown, hsm(x), x->cluster.key_url = HSM_URL "/" V1, x->obs.pinned_status = present,
    x->obs.pinned = &x->pinned, x->obs.roles_status = unknown_403)

/* cluster status and URL */
MUT(m_st_inaccessible, x->cluster.cluster_status = "Inaccessible")
MUT(m_st_failed, x->cluster.cluster_status = "Failed")
MUT(m_st_null, x->cluster.cluster_status = NULL)
MUT(m_st_new, x->cluster.cluster_status = "Degraded")
MUT(m_st_empty, x->cluster.cluster_status = "")
MUT(m_st_ready_lower, x->cluster.cluster_status = "ready")
MUT(m_st_provisioning, x->cluster.cluster_status = "Provisioning")
MUT(m_st_updating, x->cluster.cluster_status = "Updating")
MUT(m_st_starting, x->cluster.cluster_status = "Starting")
MUT(m_st_stopping, x->cluster.cluster_status = "Stopping")
MUT(m_st_stopped, x->cluster.cluster_status = "Stopped")
MUT(m_st_dropping, x->cluster.cluster_status = "DROPPING")
MUT(m_url_null, x->cluster.key_url = NULL, x->obs.key_status = not_read, x->obs.key = NULL,
    x->obs.vault_status = not_read, x->obs.vault = NULL, x->obs.rotation_status = not_read,
    x->obs.rotation = NULL, x->obs.roles_status = not_read, x->obs.roles = NULL)
MUT(m_url_foreign, x->cluster.key_url = "https://evil.example/keys/key1", x->obs.key_status = not_read,
    x->obs.vault_status = not_read)
MUT(m_url_secret, x->cluster.key_url = "https://vault1.vault.azure.net/secrets/key1")
/* Parses, but in another cloud than the configured one: the inventory read nothing there. */
MUT(m_url_other_cloud, x->cluster.key_url = "https://vault1.vault.azure.cn/keys/key1",
    x->obs.key_url_outside_cloud = true, x->obs.key_status = not_read, x->obs.key = NULL,
    x->obs.vault_status = not_read, x->obs.vault = NULL, x->obs.rotation_status = not_read,
    x->obs.rotation = NULL, x->obs.roles_status = not_read, x->obs.roles = NULL)
MUT(m_url_null_id_deleted, x->cluster.key_url = NULL, x->obs.identity_status = absent,
    x->obs.identity = NULL)
MUT(m_smk, x->cluster.customer_managed = false, x->cluster.key_url = NULL, x->cluster.kek_identity_id = NULL,
    x->cluster.kek_identity_type = NULL, x->cluster.cluster_status = "Inaccessible",
    x->obs.key_status = not_read, x->obs.vault_status = not_read, x->obs.identity_status = not_read)
MUT(m_smk_with_url, x->cluster.customer_managed = false, x->cluster.key_url = URL_V1,
    x->obs.pinned_status = present, x->obs.pinned = &x->pinned)

/* refusals: each on the stale baseline */
MUT(r_prov_failed, stale(x), x->cluster.provisioning_state = "Failed")
MUT(r_prov_canceled, stale(x), x->cluster.provisioning_state = "Canceled")
MUT(r_prov_null, stale(x), x->cluster.provisioning_state = NULL)
MUT(r_prov_lower, stale(x), x->cluster.provisioning_state = "succeeded")
MUT(r_status_updating, stale(x), x->cluster.cluster_status = "Updating")
MUT(r_prov_updating, stale(x), x->cluster.provisioning_state = "Updating")
MUT(r_prov_inprogress, stale(x), x->cluster.provisioning_state = "InProgress")
MUT(r_inaccessible, stale(x), x->cluster.cluster_status = "Inaccessible")
MUT(r_stopped, stale(x), x->cluster.cluster_status = "Stopped")
MUT(r_failed, stale(x), x->cluster.cluster_status = "Failed")
MUT(r_status_null, stale(x), x->cluster.cluster_status = NULL)
MUT(r_target_disabled, stale(x), x->key.enabled = false)
MUT(r_target_expired, stale(x), x->key.exp = NOW)
MUT(r_target_exp_skew_edge, stale(x), x->pc.clock_skew_usec = SKEW, x->key.exp = NOW + SKEW)
MUT(r_target_exp_skew_plus1, stale(x), x->pc.clock_skew_usec = SKEW, x->key.exp = NOW + SKEW + 1)
MUT(r_target_nbf_now, stale(x), x->key.nbf = NOW)
MUT(r_target_nbf_plus1, stale(x), x->key.nbf = NOW + 1)
MUT(r_target_nbf_skew_in, stale(x), x->pc.clock_skew_usec = SKEW, x->key.nbf = NOW - SKEW + 1)
MUT(r_target_nbf_skew_edge, stale(x), x->pc.clock_skew_usec = SKEW, x->key.nbf = NOW - SKEW)
MUT(r_target_ops, stale(x), x->key.key_ops = KEY_OP_WRAP_KEY)
MUT(r_target_type, stale(x), x->key.kty = "EC", x->key.rsa_bits = 0)
MUT(r_target_size, stale(x), x->key.rsa_bits = 1024)
MUT(r_noacc_not_assigned, stale(x), x->cluster.kek_identity_type = "SystemAssignedIdentity")
MUT(r_noacc_deleted, stale(x), x->obs.identity_status = absent, x->obs.identity = NULL)
MUT(r_noacc_recreated, stale(x), x->assigned[0].principal_id = P_OLD)
MUT(r_noacc_revoked, stale(x), x->roles.n_items = 0)
MUT(r_noacc_firewall, stale(x), x->vault.default_action_deny = true, x->vault.bypass_azure_services = false)
MUT(r_noacc_tenant, stale(x), x->vault.tenant_id = T2)
MUT(r_noacc_vault_deleted, stale(x), x->obs.vault_status = absent, x->obs.vault = NULL,
    x->obs.vault_deleted = true)
MUT(r_older, stale(x), x->key.created = x->pinned.created - 1)
MUT(r_older_equal, stale(x), x->key.created = x->pinned.created)
MUT(r_older_created_unknown, stale(x), x->pinned.created = 0)
MUT(r_incomplete_identity, stale(x), id_unknown(x))
MUT(r_incomplete_vault, stale(x), x->obs.vault_status = unknown_403, x->obs.vault = NULL)
MUT(r_incomplete_vault_absent, stale(x), x->obs.vault_status = absent, x->obs.vault = NULL)
MUT(r_incomplete_roles, stale(x), x->obs.roles_status = unknown_403, x->obs.roles = NULL)
MUT(r_incomplete_roledef, stale(x), role(x, VAULT_ID, P1, ROLE_UNKNOWN, false))
MUT(r_incomplete_principal, stale(x), x->identity.principal_id = NULL)
MUT(r_region_mismatch_allowed, stale(x), x->vault.location = "eastus", x->identity.location = "eastus",
    x->vault.purge_protection = false, x->vault.soft_delete = false)
MUT(r_conditional_allowed, stale(x), role(x, VAULT_ID, P1, ROLE_KV_CSEU, true))
MUT(r_expiring_target_allowed, stale(x), x->key.exp = NOW + 1 * USEC_PER_DAY)

/* precedence */
MUT(p_everything, stale(x), x->cluster.cluster_status = "Inaccessible",
    x->cluster.provisioning_state = "Updating", x->roles.n_items = 0, x->key.enabled = false,
    x->obs.rotation_status = unknown_403, x->key.created = 1)
MUT(p_updating_over_not_succeeded, stale(x), x->cluster.provisioning_state = "Updating",
    x->cluster.cluster_status = "Stopped")
MUT(p_not_succeeded_over_not_ready, stale(x), x->cluster.provisioning_state = "Failed",
    x->cluster.cluster_status = "Stopped")
MUT(p_not_ready_over_incomplete, stale(x), x->cluster.cluster_status = "Starting", id_unknown(x))
MUT(p_noaccess_over_target, stale(x), x->vault.tenant_id = T2, x->key.enabled = false, x->key.kty = "EC")
MUT(p_type_over_ops, stale(x), x->key.kty = "EC", x->key.key_ops = 0, x->key.enabled = false,
    x->key.exp = NOW)
MUT(p_ops_over_disabled, stale(x), x->key.key_ops = 0, x->key.enabled = false, x->key.exp = NOW)
MUT(p_disabled_over_expired, stale(x), x->key.enabled = false, x->key.exp = NOW, x->key.nbf = NOW + 1)
MUT(p_expired_over_nbf, stale(x), x->key.exp = NOW, x->key.nbf = NOW + 1)
MUT(p_nbf_over_older, stale(x), x->key.nbf = NOW + 1, x->key.created = 1)
MUT(p_target_over_incomplete, stale(x), x->key.enabled = false, id_unknown(x))
MUT(p_older_over_incomplete, stale(x), x->key.created = 1, x->obs.roles_status = unknown_403,
    x->obs.roles = NULL)
MUT(p_noaccess_over_incomplete, stale(x), x->cluster.kek_identity_type = "None",
    x->obs.roles_status = unknown_403)

/* several unknown facts: the most fundamental is named, all are listed */
MUT(u_all, x->cluster.key_url = URL_V1, x->obs.key_status = unknown_403, x->obs.key = NULL,
    x->obs.vault_status = unknown_403, x->obs.vault = NULL, id_unknown(x))
MUT(u_vault_identity, x->obs.vault_status = unknown_403, x->obs.vault = NULL, id_unknown(x))
MUT(u_identity_roles, id_unknown(x), x->obs.roles_status = unknown_403, x->obs.roles = NULL)
MUT(u_deleted_and_identity, x->obs.key_status = absent, x->obs.key = NULL,
    x->obs.deleted_key_status = unknown_403, id_unknown(x))
MUT(u_pinned_roles_rotation, stale(x), x->obs.pinned_status = unknown_403, x->obs.pinned = NULL,
    x->obs.roles_status = unknown_403, x->obs.roles = NULL, x->obs.rotation_status = unknown_403,
    x->obs.rotation = NULL)
MUT(u_state_garbage, x->obs.vault_status.state = (enum obs_state)77)

struct row {
        const char *name;
        void (*mut)(struct fx *x);
        const char *findings; /* "code:severity ..." exactly, in any order; "" = none */
        const char *action;   /* "-" nothing wanted, "update", or the refusal */
        const char *unknown;  /* check-unknown: "fact" or "fact/fact,fact,..." (named/all) */
        const char *target;   /* target_url when an update is wanted; NULL = not checked */
};

#define PINNED  "key-version-pinned:info "
#define STALE_W PINNED "key-version-stale:warning"
#define STALE_C PINNED "key-version-stale:critical"
#define CU      " check-unknown:warning"

static const struct row rows[] = {
        {"healthy versionless", m_none, "", "-"},
        {"healthy, pinned to the current version", m_pin_current, PINNED, "-"},
        {"pinned to the current version, version compared case-insensitively", m_pin_current_id_upper,
         PINNED, "-"},

        /* key-version-stale */
        {"stale, pinned version not read", m_stale_not_read, STALE_W CU, "incomplete", "pinned-version",
         URL},
        {"stale, healthy pinned version", m_stale, STALE_W, "update", NULL, URL},
        {"stale, update target latest", m_stale_latest, STALE_W, "update", NULL, URL_V2},
        {"stale, StaleVersion=alert", m_stale_alert, STALE_W, "-"},
        {"stale, StaleVersion=ignore", m_stale_ignore, PINNED, "-"},
        {"stale, ignore even when the pinned version is gone", m_stale_ignore_gone, PINNED, "-"},
        {"stale, pinned version disabled", m_stale_disabled, STALE_C " key-disabled:critical", "update",
         NULL, URL},
        {"stale, pinned version expired", m_stale_expired, STALE_C " key-expired:critical", "update"},
        {"stale, pinned version not yet valid", m_stale_nyv, STALE_C " key-not-yet-valid:critical",
         "update"},
        {"stale, pinned version lacks unwrapKey", m_stale_ops, STALE_C " key-ops-missing:critical",
         "update"},
        {"stale, pinned version gone", m_stale_gone, STALE_C, "update", NULL, URL},
        {"stale, pinned version of an unsupported type", m_stale_type,
         STALE_W " key-type-unsupported:critical", "update"},
        {"stale, pinned version expiring", m_stale_expiring, STALE_W " key-expiring:critical", "update"},
        {"stale, pinned status unknown: its data is not judged", m_stale_unknown_data_ignored, STALE_W CU,
         "incomplete", "pinned-version"},
        {"stale, rotation policy unknown does not block", m_stale_rotation_unknown, STALE_W CU, "update",
         "rotation-policy"},
        {"stale on a Managed HSM", m_stale_hsm, STALE_W, "update", NULL, HSM_URL},

        /* U5: the version current before a rotation younger than VersionDisableGraceSec= */
        {"rotated 30 min ago, previous version disabled", m_prev_disabled, "key-disabled:critical", "-"},
        {"rotated 30 min ago, previous version enabled", m_prev_enabled, "", "-"},
        {"rotated exactly VersionDisableGraceSec= ago: outside the grace", m_prev_grace_edge, "", "-"},
        {"rotated 1 us inside VersionDisableGraceSec=", m_prev_grace_edge_minus1, "key-disabled:critical", "-"},
        {"VersionDisableGraceSec=0 turns the check off", m_prev_grace_off, "", "-"},
        {"rotated recently, but no older version", m_prev_none, "", "-"},
        {"rotated recently, versions not readable", m_prev_unknown, CU, "-", "previous-version"},
        {"pinned to the new current version, previous disabled", m_prev_pinned_current,
         PINNED "key-disabled:critical", "-"},
        {"pinned to the old version: the pinned version is what counts", m_prev_stale, STALE_W, "update", NULL, URL},
        {"current version disabled wins over the previous one", m_prev_and_current_disabled,
         "key-disabled:critical", "-"},
        {"stale, unknown StaleVersion value acts as alert", m_stale_bad_policy_value, STALE_W, "-"},

        /* the version in use */
        {"key disabled", m_disabled, "key-disabled:critical", "-"},
        {"exp == now: expired", m_exp_now, "key-expired:critical", "-"},
        {"exp == now + 1: expiring, critical", m_exp_now_plus1, "key-expiring:critical", "-"},
        {"exp at the critical edge", m_exp_crit_edge, "key-expiring:critical", "-"},
        {"exp one past the critical edge", m_exp_crit_edge_plus1, "key-expiring:warning", "-"},
        {"exp at the warning edge", m_exp_warn_edge, "key-expiring:warning", "-"},
        {"exp one past the warning edge", m_exp_warn_edge_plus1, "", "-"},
        {"exp long past", m_exp_past, "key-expired:critical", "-"},
        {"expiry windows 0", m_exp_windows_off, "", "-"},
        {"critical window wider than warning window", m_exp_crit_gt_warn, "key-expiring:critical", "-"},
        {"skew: exp == now - skew: expired", m_exp_skew_edge, "key-expired:critical", "-"},
        {"skew: exp == now - skew + 1: expiring, not expired", m_exp_skew_inside, "key-expiring:critical",
         "-"},
        {"exp at the epoch", m_exp_epoch, "key-expired:critical", "-"},
        {"saturating window arithmetic", m_exp_huge_window, "key-expiring:warning", "-"},
        {"nbf == now: valid", m_nbf_now, "", "-"},
        {"nbf == now + 1: not yet valid", m_nbf_now_plus1, "key-not-yet-valid:critical", "-"},
        {"skew: nbf == now + skew: valid", m_nbf_skew_edge, "", "-"},
        {"skew: nbf == now + skew + 1: not yet valid", m_nbf_skew_plus1, "key-not-yet-valid:critical", "-"},
        {"key age exactly max", m_age_edge, "", "-"},
        {"key age max + 1", m_age_plus1, "key-too-old:warning", "-"},
        {"key age check off", m_age_off, "", "-"},
        {"key created unknown", m_age_created_unknown, "", "-"},
        {"key created in the future", m_age_created_future, "", "-"},
        {"EC key", m_type_ec, "key-type-unsupported:critical", "-"},
        {"oct-HSM key", m_type_oct_hsm, "key-type-unsupported:critical", "-"},
        {"kty missing", m_type_null, "key-type-unsupported:critical", "-"},
        {"RSA 1024", m_type_1024, "key-type-unsupported:critical", "-"},
        {"RSA 8192", m_type_8192, "key-type-unsupported:critical", "-"},
        {"RSA 2048", m_type_2048, "", "-"},
        {"RSA-HSM 3072", m_type_3072_hsm, "", "-"},
        {"RSA of unknown size", m_type_bits_unknown, "", "-"},
        {"kty in lower case", m_type_lowercase, "", "-"},
        {"wrapKey only", m_ops_wrap_only, "key-ops-missing:critical", "-"},
        {"unwrapKey only", m_ops_unwrap_only, "key-ops-missing:critical", "-"},
        {"no key_ops", m_ops_none, "key-ops-missing:critical", "-"},
        {"no rotation policy", m_rot_absent, "key-no-rotation-policy:info", "-"},
        {"no rotation policy, required", m_rot_absent_required, "key-no-rotation-policy:warning", "-"},
        {"rotation policy without Rotate", m_rot_notify_only, "key-no-rotation-policy:info", "-"},
        {"rotation policy without Rotate, required", m_rot_notify_required, "key-no-rotation-policy:warning",
         "-"},
        {"rotation policy unknown", m_rot_unknown, CU, "-", "rotation-policy"},
        {"rotation policy present without data", m_rot_present_null, CU, "-", "rotation-policy"},
        {"every per-version rule at once", m_all_bad,
         "key-disabled:critical key-expired:critical key-not-yet-valid:critical key-too-old:warning "
         "key-type-unsupported:critical key-ops-missing:critical",
         "-"},

        /* the key itself */
        {"key soft-deleted (rotation policy not needed)", m_key_deleted, "key-deleted:critical", "-"},
        {"key purged (rotation policy not needed)", m_key_purged, "key-not-found:critical", "-"},
        {"key 404, deleted key unknown", m_key_deleted_unknown, CU, "-", "deleted-key"},
        {"key unknown: its data is not judged", m_key_unknown, CU, "-", "key"},
        {"key unknown, pinned URL", m_key_unknown_pinned, PINNED CU, "-", "key"},
        {"key deleted, pinned URL: no stale", m_key_deleted_pinned, PINNED "key-deleted:critical", "-"},
        {"key without version", m_key_no_version, CU, "-", "key"},
        {"key present without data", m_key_present_null, CU, "-", "key"},

        /* identity */
        {"identity not among the cluster's identities", m_id_not_in_list, "identity-not-assigned:critical",
         "-"},
        {"identityType not UserAssignedIdentity", m_id_system, "identity-not-assigned:critical", "-"},
        {"identityType missing", m_id_type_null, "identity-not-assigned:critical", "-"},
        {"no encryption identity: identity facts not needed", m_id_null, "identity-not-assigned:critical",
         "-"},
        {"identity id and type in another case", m_id_case, "", "-"},
        {"cluster holds no identity", m_id_no_assigned, "identity-not-assigned:critical", "-"},
        {"identity deleted: roles and tenant not needed", m_id_deleted, "identity-deleted:critical", "-"},
        {"identity re-created", m_id_recreated, "identity-recreated:critical", "-"},
        {"principal ids compared case-insensitively", m_id_recreated_case, "", "-"},
        {"cluster recorded no principal", m_id_recorded_null, "", "-"},
        {"identity unknown: no tenant or access verdict", m_id_unknown, CU, "-", "identity"},
        {"identity without principalId", m_id_no_principal, CU, "-", "identity"},
        {"identity in another region", m_id_region, "identity-region-mismatch:warning", "-"},
        {"region names normalised", m_id_region_spaces, "", "-"},
        {"region unknown", m_id_region_null, "", "-"},

        /* vault */
        {"vault soft-deleted: key facts not needed", m_vault_deleted, "vault-deleted:critical", "-"},
        {"vault neither found nor deleted", m_vault_absent, CU, "-", "vault"},
        {"vault unknown: no vault or access verdict", m_vault_unknown, CU, "-", "vault"},
        {"soft delete off", m_soft_delete_off, "vault-soft-delete-off:warning", "-"},
        {"purge protection off", m_purge_off, "vault-purge-protection-off:warning", "-"},
        {"public access disabled, no bypass", m_fw_public_off, "vault-firewall-blocks:critical", "-"},
        {"default action Deny, no bypass", m_fw_deny, "vault-firewall-blocks:critical", "-"},
        {"closed but trusted services bypass", m_fw_both_bypass, "", "-"},
        {"closed but private endpoint", m_fw_pe, "", "-"},
        {"open without bypass", m_fw_open_nobypass, "", "-"},
        {"vault in another region", m_vault_region, "vault-region-mismatch:warning", "-"},
        {"vault in another tenant", m_tenant, "tenant-mismatch:critical", "-"},
        {"tenant ids compared case-insensitively", m_tenant_case, "", "-"},

        /* RBAC */
        {"no role assignment", m_rbac_none, "access-revoked:critical", "-"},
        {"assignment of another principal", m_rbac_other_principal, "access-revoked:critical", "-"},
        {"principal id in another case", m_rbac_principal_case, "", "-"},
        {"assignment at the key", m_rbac_key_scope, "", "-"},
        {"assignment at the key, other case", m_rbac_key_scope_case, "", "-"},
        {"assignment at another key", m_rbac_other_key, "access-revoked:critical", "-"},
        {"assignment at a key whose name is a prefix", m_rbac_key_prefix, "access-revoked:critical", "-"},
        {"assignment at another vault", m_rbac_other_vault, "access-revoked:critical", "-"},
        {"assignment at the resource group", m_rbac_rg, "", "-"},
        {"assignment at the subscription", m_rbac_sub, "", "-"},
        {"assignment at the root", m_rbac_root, "", "-"},
        {"assignment at a management group", m_rbac_mg, "", "-"},
        {"assignment at another resource group", m_rbac_other_rg, "access-revoked:critical", "-"},
        {"Key Vault Crypto Officer", m_rbac_officer, "", "-"},
        {"Key Vault Administrator", m_rbac_admin, "", "-"},
        {"Key Vault Crypto User", m_rbac_user, "", "-"},
        {"Key Vault Reader: no key operation", m_rbac_reader, "access-revoked:critical", "-"},
        {"Owner: no data action", m_rbac_owner, "access-revoked:critical", "-"},
        {"Contributor: no data action", m_rbac_contributor, "access-revoked:critical", "-"},
        {"an HSM role on a vault", m_rbac_hsm_role_on_vault, "access-revoked:critical", "-"},
        {"role GUID in upper case", m_rbac_guid_upper, "", "-"},
        {"custom role keys/*", m_rbac_custom_keys, "", "-"},
        {"custom role without read", m_rbac_custom_wrap_only, "access-revoked:critical", "-"},
        {"custom role minus unwrap", m_rbac_custom_not_unwrap, "access-revoked:critical", "-"},
        {"Reader plus a wrap/unwrap custom role add up", m_rbac_reader_plus_wrap, "", "-"},
        {"conditional assignment counts", m_rbac_conditional, "", "-"},
        {"unknown role definition", m_rbac_unknown_role, CU, "-", "role-definitions"},
        {"unknown role of another principal is irrelevant", m_rbac_unknown_role_other_principal,
         "access-revoked:critical", "-"},
        {"unknown role, but another grants", m_rbac_unknown_plus_granted, "", "-"},
        {"assignment without role definition", m_rbac_unknown_role_def_null, CU, "-", "role-definitions"},
        {"role assignments unknown", m_rbac_roles_unknown, CU, "-", "role-assignments"},
        {"role assignments 404: none", m_rbac_roles_absent, "access-revoked:critical", "-"},
        {"assignment without scope", m_rbac_scope_null, "access-revoked:critical", "-"},
        {"vault without id: only root scopes cover", m_rbac_vault_id_null, "access-revoked:critical", "-"},

        /* access policies */
        {"access policy get/wrapKey/unwrapKey", m_ap_ok, "", "-"},
        {"access policy all", m_ap_all, "", "-"},
        {"access policy without unwrapKey", m_ap_no_unwrap, "access-revoked:critical", "-"},
        {"access policy without get", m_ap_no_get, "access-revoked:critical", "-"},
        {"access policy of another object", m_ap_other_object, "access-revoked:critical", "-"},
        {"access policy of another tenant", m_ap_other_tenant, "access-revoked:critical", "-"},
        {"compound access policy", m_ap_compound, "access-revoked:critical", "-"},
        {"access policy object id in upper case", m_ap_upper, "", "-"},
        {"no access policy", m_ap_none, "access-revoked:critical", "-"},
        {"second access policy grants", m_ap_second, "", "-"},
        {"access-policy vault: role facts not needed", m_ap_roles_unknown_not_needed, "", "-"},

        /* Managed HSM */
        {"HSM healthy (scope /keys)", m_hsm, "", "-"},
        {"HSM scope /", m_hsm_root, "", "-"},
        {"HSM scope /keys/key1", m_hsm_key_scope, "", "-"},
        {"HSM scope of another key", m_hsm_other_key, "access-revoked:critical", "-"},
        {"HSM Crypto User", m_hsm_user, "", "-"},
        {"HSM Administrator: no key operations", m_hsm_admin, "access-revoked:critical", "-"},
        {"HSM Crypto Auditor: read only", m_hsm_auditor, "access-revoked:critical", "-"},
        {"Key Vault role on an HSM", m_hsm_kv_role, "access-revoked:critical", "-"},
        {"ARM scope on an HSM local assignment", m_hsm_arm_scope, "access-revoked:critical", "-"},
        {"HSM ignores access policies", m_hsm_policies_ignored, "access-revoked:critical", "-"},
        {"HSM roles unknown", m_hsm_roles_unknown, CU, "-", "role-assignments"},
        {"HSM key disabled", m_hsm_key_disabled, "key-disabled:critical", "-"},
        {"HSM purge protection off", m_hsm_purge_off, "vault-purge-protection-off:warning", "-"},
        {"HSM RSA-HSM 2048", m_hsm_2048, "", "-"},
        {"HSM RSA-HSM 3072", m_hsm_3072, "", "-"},
        {"HSM RSA-HSM 1024", m_hsm_1024, "key-type-unsupported:critical", "-"},
        {"HSM reporting plain RSA: still RSA, still in the HSM", m_hsm_soft_rsa, "", "-"},
        {"HSM EC-HSM", m_hsm_ec, "key-type-unsupported:critical", "-"},
        {"HSM oct-HSM", m_hsm_oct, "key-type-unsupported:critical", "-"},
        {"HSM scope /keys/KEY1 (key names compare case-insensitively)", m_hsm_key_scope_case, "", "-"},
        {"HSM scope /keys/key (a prefix of the key name)", m_hsm_key_prefix, "access-revoked:critical", "-"},
        {"HSM role of another principal", m_hsm_other_principal, "access-revoked:critical", "-"},
        {"HSM custom local role with read, wrap, unwrap", m_hsm_custom_wrap, "", "-"},
        {"HSM custom role of vault data actions", m_hsm_custom_vault_actions, "access-revoked:critical", "-"},
        {"HSM role without definition", m_hsm_unknown_role, CU, "-", "role-definitions"},
        {"HSM soft delete off", m_hsm_soft_delete_off, "vault-soft-delete-off:warning", "-"},
        {"HSM closed to the public, no bypass", m_hsm_fw_closed, "vault-firewall-blocks:critical", "-"},
        {"HSM default Deny with the bypass", m_hsm_fw_deny_bypass, "", "-"},
        {"HSM in another region", m_hsm_region, "vault-region-mismatch:warning", "-"},
        {"HSM in another tenant", m_hsm_tenant, "tenant-mismatch:critical", "-"},
        {"HSM deleted", m_hsm_deleted, "vault-deleted:critical", "-"},
        {"HSM not visible", m_hsm_not_visible, CU, "-", "vault"},
        {"HSM unknown", m_hsm_unknown, CU, "-", "vault"},
        {"HSM key deleted", m_hsm_key_deleted, "key-deleted:critical", "-"},
        {"HSM deleted key not readable (Crypto Auditor lacks it)", m_hsm_deleted_key_unknown, CU, "-",
         "deleted-key"},
        {"HSM stale, local role removed: no update", r_hsm_revoked, STALE_W " access-revoked:critical", "no-access"},
        {"HSM stale, local roles unknown: incomplete", r_hsm_roles_unknown, STALE_W CU, "incomplete",
         "role-assignments"},

        /* clusterStatus, key URL, mode */
        {"clusterStatus Inaccessible", m_st_inaccessible, "cluster-inaccessible:critical", "-"},
        {"clusterStatus Failed", m_st_failed, "cluster-inaccessible:critical", "-"},
        {"clusterStatus absent", m_st_null, "cluster-inaccessible:critical", "-"},
        {"clusterStatus unknown string", m_st_new, "cluster-inaccessible:critical", "-"},
        {"clusterStatus empty", m_st_empty, "cluster-inaccessible:critical", "-"},
        {"clusterStatus ready", m_st_ready_lower, "", "-"},
        {"clusterStatus Provisioning", m_st_provisioning, "", "-"},
        {"clusterStatus Updating", m_st_updating, "", "-"},
        {"clusterStatus Starting", m_st_starting, "", "-"},
        {"clusterStatus Stopping", m_st_stopping, "", "-"},
        {"clusterStatus Stopped", m_st_stopped, "", "-"},
        {"clusterStatus DROPPING", m_st_dropping, "", "-"},
        {"key URL missing: key and vault facts not needed", m_url_null, "key-url-invalid:critical", "-"},
        {"key URL of a foreign host", m_url_foreign, "key-url-invalid:critical", "-"},
        {"key URL of a secret", m_url_secret, "key-url-invalid:critical", "-"},
        {"key URL of another cloud: nothing read, nothing unknown", m_url_other_cloud,
         "key-url-invalid:critical", "-"},
        {"key URL missing, identity still judged", m_url_null_id_deleted,
         "key-url-invalid:critical identity-deleted:critical", "-"},
        {"service-managed key", m_smk, "service-managed-key:info", "-"},
        {"service-managed flag wins over a stray URL", m_smk_with_url, "service-managed-key:info", "-"},

        /* refusals */
        {"refuse: provisioningState Failed", r_prov_failed, STALE_W, "cluster-not-succeeded", NULL, URL},
        {"refuse: provisioningState Canceled", r_prov_canceled, STALE_W, "cluster-not-succeeded"},
        {"refuse: provisioningState absent", r_prov_null, STALE_W, "cluster-not-succeeded"},
        {"allow: provisioningState succeeded", r_prov_lower, STALE_W, "update"},
        {"refuse: clusterStatus Updating", r_status_updating, STALE_W, "cluster-updating"},
        {"refuse: provisioningState Updating", r_prov_updating, STALE_W, "cluster-updating"},
        {"refuse: provisioningState InProgress", r_prov_inprogress, STALE_W, "cluster-updating"},
        {"refuse: Inaccessible", r_inaccessible, STALE_W " cluster-inaccessible:critical",
         "cluster-inaccessible"},
        {"refuse: Stopped", r_stopped, STALE_W, "cluster-not-ready"},
        {"refuse: Failed", r_failed, STALE_W " cluster-inaccessible:critical", "cluster-not-ready"},
        {"refuse: clusterStatus absent", r_status_null, STALE_W " cluster-inaccessible:critical",
         "cluster-not-ready"},
        {"refuse: target disabled", r_target_disabled, STALE_W, "target-disabled"},
        {"refuse: target exp == now", r_target_expired, STALE_W, "target-expired"},
        {"refuse: target exp == now + skew", r_target_exp_skew_edge, STALE_W, "target-expired"},
        {"allow: target exp == now + skew + 1", r_target_exp_skew_plus1, STALE_W, "update"},
        {"allow: target nbf == now", r_target_nbf_now, STALE_W, "update"},
        {"refuse: target nbf == now + 1", r_target_nbf_plus1, STALE_W, "target-not-yet-valid"},
        {"refuse: target nbf == now - skew + 1", r_target_nbf_skew_in, STALE_W, "target-not-yet-valid"},
        {"allow: target nbf == now - skew", r_target_nbf_skew_edge, STALE_W, "update"},
        {"refuse: target lacks unwrapKey", r_target_ops, STALE_W, "target-ops-missing"},
        {"refuse: target EC", r_target_type, STALE_W, "target-type-unsupported"},
        {"refuse: target RSA 1024", r_target_size, STALE_W, "target-type-unsupported"},
        {"refuse: identity not assigned", r_noacc_not_assigned, STALE_W " identity-not-assigned:critical",
         "no-access"},
        {"refuse: identity deleted", r_noacc_deleted, STALE_W " identity-deleted:critical", "no-access"},
        {"refuse: identity re-created", r_noacc_recreated, STALE_W " identity-recreated:critical",
         "no-access"},
        {"refuse: access revoked", r_noacc_revoked, STALE_W " access-revoked:critical", "no-access"},
        {"refuse: firewall", r_noacc_firewall, STALE_W " vault-firewall-blocks:critical", "no-access"},
        {"refuse: tenant mismatch", r_noacc_tenant, STALE_W " tenant-mismatch:critical", "no-access"},
        {"refuse: vault deleted", r_noacc_vault_deleted, STALE_W " vault-deleted:critical", "no-access"},
        {"refuse: target older than the pinned version", r_older, STALE_W, "older-version"},
        {"allow: target as old as the pinned version", r_older_equal, STALE_W, "update"},
        {"refuse: versions cannot be ordered", r_older_created_unknown, STALE_W, "incomplete"},
        {"refuse: identity unknown", r_incomplete_identity, STALE_W CU, "incomplete", "identity"},
        {"refuse: vault unknown", r_incomplete_vault, STALE_W CU, "incomplete", "vault"},
        {"refuse: vault not found", r_incomplete_vault_absent, STALE_W CU, "incomplete", "vault"},
        {"refuse: role assignments unknown", r_incomplete_roles, STALE_W CU, "incomplete",
         "role-assignments"},
        {"refuse: role definition unknown", r_incomplete_roledef, STALE_W CU, "incomplete",
         "role-definitions"},
        {"refuse: identity without principal", r_incomplete_principal, STALE_W CU, "incomplete", "identity"},
        {"allow despite warnings", r_region_mismatch_allowed,
         STALE_W
         " vault-region-mismatch:warning identity-region-mismatch:warning vault-soft-delete-off:warning "
         "vault-purge-protection-off:warning",
         "update"},
        {"allow with a conditional assignment", r_conditional_allowed, STALE_W, "update"},
        {"allow a target that expires soon", r_expiring_target_allowed, STALE_W, "update"},

        /* precedence */
        {"precedence: Inaccessible first", p_everything,
         STALE_W " cluster-inaccessible:critical access-revoked:critical" CU, "cluster-inaccessible",
         "rotation-policy"},
        {"precedence: updating over not succeeded", p_updating_over_not_succeeded, STALE_W,
         "cluster-updating"},
        {"precedence: not succeeded over not ready", p_not_succeeded_over_not_ready, STALE_W,
         "cluster-not-succeeded"},
        {"precedence: not ready over incomplete", p_not_ready_over_incomplete, STALE_W CU,
         "cluster-not-ready", "identity"},
        {"precedence: no access over target", p_noaccess_over_target, STALE_W " tenant-mismatch:critical",
         "no-access"},
        {"precedence: type over ops", p_type_over_ops, STALE_W, "target-type-unsupported"},
        {"precedence: ops over disabled", p_ops_over_disabled, STALE_W, "target-ops-missing"},
        {"precedence: disabled over expired", p_disabled_over_expired, STALE_W, "target-disabled"},
        {"precedence: expired over not yet valid", p_expired_over_nbf, STALE_W, "target-expired"},
        {"precedence: not yet valid over older", p_nbf_over_older, STALE_W, "target-not-yet-valid"},
        {"precedence: target over incomplete", p_target_over_incomplete, STALE_W CU, "target-disabled",
         "identity"},
        {"precedence: older over incomplete", p_older_over_incomplete, STALE_W CU, "older-version",
         "role-assignments"},
        {"precedence: no access over incomplete", p_noaccess_over_incomplete,
         STALE_W " identity-not-assigned:critical" CU, "no-access", "role-assignments"},

        /* several unknown facts */
        {"unknown: key, vault, identity", u_all, PINNED CU, "-", "key/key,vault,identity"},
        {"unknown: vault and identity", u_vault_identity, CU, "-", "vault/vault,identity"},
        {"unknown: identity and roles", u_identity_roles, CU, "-", "identity/identity,role-assignments"},
        {"unknown: deleted key and identity", u_deleted_and_identity, CU, "-",
         "identity/identity,deleted-key"},
        {"unknown: pinned, roles, rotation", u_pinned_roles_rotation, STALE_W CU, "incomplete",
         "pinned-version/pinned-version,role-assignments,rotation-policy"},
        {"unknown: an out-of-range state", u_state_garbage, CU, "-", "vault"},
};

/* ---- checking a row -------------------------------------------------------------------- */

static void parse_findings(const char *name, const char *spec, int want[_FINDING_MAX]) {
        char buf[1024], *save = NULL;

        for (size_t i = 0; i < _FINDING_MAX; i++)
                want[i] = -1;
        snprintf(buf, sizeof buf, "%s", spec);
        for (char *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
                char *colon = strchr(tok, ':');
                int c, s;

                if (!colon)
                        fail_msg("%s: bad finding spec '%s'", name, tok);
                *colon = 0;
                c = finding_from_string(tok);
                s = severity_from_string(colon + 1);
                if (c < 0 || s < 0)
                        fail_msg("%s: unknown code or severity in '%s:%s'", name, tok, colon + 1);
                if (want[c] >= 0)
                        fail_msg("%s: '%s' listed twice", name, tok);
                want[c] = s;
        }
}

static unsigned parse_facts(const char *name, const char *spec, enum fact_kind *ret_named) {
        char buf[256], *save = NULL, *slash;
        unsigned facts = 0;
        int named;

        snprintf(buf, sizeof buf, "%s", spec);
        slash = strchr(buf, '/');
        if (slash)
                *slash = 0;
        named = fact_kind_from_string(buf);
        if (named < 0)
                fail_msg("%s: unknown fact '%s'", name, buf);
        *ret_named = named;
        if (!slash)
                return 1u << named;
        for (char *tok = strtok_r(slash + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int f = fact_kind_from_string(tok);

                if (f < 0)
                        fail_msg("%s: unknown fact '%s'", name, tok);
                facts |= 1u << f;
        }
        return facts;
}

static void format_findings(const struct verdict *v, char *buf, size_t len) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < v->n_findings && n + 1 < len; i++)
                n += (size_t)snprintf(buf + n, len - n, "%s%s:%s", i ? " " : "",
                                      finding_to_string(v->findings[i].code),
                                      severity_to_string(v->findings[i].severity));
}

static void check_messages(const char *name, const struct verdict *v, const struct cluster_obs *obs,
                           usec_t now) {
        for (size_t i = 0; i < v->n_findings; i++) {
                char msg[FINDING_MESSAGE_MAX];
                const char *code = finding_to_string(v->findings[i].code);
                size_t n;

                finding_describe(&v->findings[i], obs, now, msg, sizeof msg);
                n = strlen(msg);
                if (n < 40)
                        fail_msg("%s: %s: message too short: '%s'", name, code, msg);
                /* Realistic ids must fit: a truncated message loses the command. */
                if (n >= sizeof msg - 1)
                        fail_msg("%s: %s: message truncated: '%s'", name, code, msg);
                for (size_t j = 0; j < n; j++)
                        if ((unsigned char)msg[j] < 0x20)
                                fail_msg("%s: %s: control character in message", name, code);
                if (!strstr(msg, "c1") && !strstr(msg, "uami1"))
                        fail_msg("%s: %s: message names neither the cluster nor the identity: '%s'", name,
                                 code, msg);
                if (strstr(msg, "(null)"))
                        fail_msg("%s: %s: message prints a NULL: '%s'", name, code, msg);
        }
}

static void check_row(const struct row *r) {
        int want[_FINDING_MAX];
        char got[1024];
        struct verdict v;
        struct fx x;
        size_t n_want = 0;
        enum severity worst = SEVERITY_INFO;
        const struct finding *cu;

        fx_init(&x);
        r->mut(&x);
        memset(&v, 0xa5, sizeof v); /* every field must be written */
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);

        parse_findings(r->name, r->findings, want);
        format_findings(&v, got, sizeof got);
        for (size_t i = 0; i < _FINDING_MAX; i++)
                if (want[i] >= 0) {
                        n_want++;
                        worst = MAX(worst, (enum severity)want[i]);
                }
        if (v.n_findings != n_want)
                fail_msg("%s: want '%s', got '%s'", r->name, r->findings, got);
        for (size_t i = 0; i < v.n_findings; i++) {
                const struct finding *f = &v.findings[i];

                if (want[f->code] != (int)f->severity)
                        fail_msg("%s: want '%s', got '%s'", r->name, r->findings, got);
                /* Enum order, each code once. */
                if (i > 0 && v.findings[i - 1].code >= f->code)
                        fail_msg("%s: findings out of order: '%s'", r->name, got);
                if (f->code != FINDING_CHECK_UNKNOWN && (f->facts != 0 || f->fact != FACT_NONE))
                        fail_msg("%s: %s carries unknown facts", r->name, finding_to_string(f->code));
        }
        if (v.worst != worst)
                fail_msg("%s: worst %s, want %s", r->name, severity_to_string(v.worst),
                         severity_to_string(worst));

        cu = verdict_find(&v, FINDING_CHECK_UNKNOWN);
        if (cu) {
                enum fact_kind named;
                unsigned facts;

                if (!r->unknown)
                        fail_msg("%s: check-unknown without expectation", r->name);
                facts = parse_facts(r->name, r->unknown, &named);
                if (cu->fact != named || cu->facts != facts)
                        fail_msg("%s: unknown fact %s (0x%x), want %s (0x%x)", r->name,
                                 fact_kind_to_string(cu->fact), cu->facts, fact_kind_to_string(named),
                                 facts);
                if (named != FACT_ROLE_DEFINITIONS && !cu->status)
                        fail_msg("%s: check-unknown without status", r->name);
        } else if (r->unknown)
                fail_msg("%s: no check-unknown, want %s", r->name, r->unknown);

        if (streq(r->action, "-")) {
                if (v.action.wanted || v.action.kind != ACTION_NONE || v.action.refusal != REFUSAL_NONE)
                        fail_msg("%s: no action wanted, got wanted=%d kind=%s refusal=%s", r->name,
                                 v.action.wanted, action_kind_to_string(v.action.kind),
                                 refusal_to_string(v.action.refusal));
        } else if (streq(r->action, "update")) {
                if (!v.action.wanted || v.action.kind != ACTION_UPDATE || v.action.refusal != REFUSAL_NONE)
                        fail_msg("%s: update wanted and allowed, got wanted=%d kind=%s refusal=%s", r->name,
                                 v.action.wanted, action_kind_to_string(v.action.kind),
                                 refusal_to_string(v.action.refusal));
        } else {
                int want_refusal = refusal_from_string(r->action);

                if (want_refusal < 0)
                        fail_msg("%s: bad action '%s'", r->name, r->action);
                if (!v.action.wanted || v.action.kind != ACTION_NONE ||
                    (int)v.action.refusal != want_refusal)
                        fail_msg("%s: refusal %s wanted, got wanted=%d kind=%s refusal=%s", r->name,
                                 r->action, v.action.wanted, action_kind_to_string(v.action.kind),
                                 refusal_to_string(v.action.refusal));
        }
        if (v.action.wanted) {
                if (r->target && !streq(v.action.target_url, r->target))
                        fail_msg("%s: target '%s', want '%s'", r->name, v.action.target_url, r->target);
                if (!startswith(v.action.target_url, "https://"))
                        fail_msg("%s: bad target '%s'", r->name, v.action.target_url);
        }
        check_messages(r->name, &v, &x.obs, x.now);
}

static void test_rows(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(rows); i++)
                check_row(&rows[i]);
        print_message("%zu policy rows\n", ELEMENTSOF(rows));
}

/* The rows above must cover every finding code and every refusal policy_evaluate can give. */
static void test_rows_cover_everything(void **state) {
        bool code_seen[_FINDING_MAX] = {}, refusal_seen[_REFUSAL_MAX] = {};

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                int want[_FINDING_MAX];

                parse_findings(rows[i].name, rows[i].findings, want);
                for (size_t c = 0; c < _FINDING_MAX; c++)
                        if (want[c] >= 0)
                                code_seen[c] = true;
                if (refusal_from_string(rows[i].action) >= 0)
                        refusal_seen[refusal_from_string(rows[i].action)] = true;
        }
        for (int c = 0; c < _FINDING_MAX; c++)
                if (!code_seen[c])
                        fail_msg("no row produces %s", finding_to_string(c));
        for (int r = REFUSAL_INCOMPLETE; r < REFUSAL_MODE; r++)
                if (r != REFUSAL_SERVICE_MANAGED && !refusal_seen[r])
                        fail_msg("no row produces refusal %s", refusal_to_string(r));
}

/* ---- details ----------------------------------------------------------------------------- */

static void test_target_latest(void **state) {
        struct verdict v;
        struct fx x;

        fx_init(&x);
        m_stale_latest(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_string_equal(v.action.target_url, URL_V2);
        assert_ptr_equal(v.action.target_version, x.key.version);
        assert_true(v.has_keyurl);
        assert_string_equal(v.keyurl.version, V1);

        fx_init(&x);
        m_stale(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_null(v.action.target_version);
        /* The stale finding names the pinned version, borrowed from the obs. */
        assert_ptr_equal(verdict_find(&v, FINDING_KEY_VERSION_STALE)->version, x.pinned.version);
        assert_ptr_equal(verdict_find(&v, FINDING_KEY_VERSION_PINNED)->version, x.pinned.version);

        /* Gone: only the URL knows the version. */
        fx_init(&x);
        m_stale_gone(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_null(verdict_find(&v, FINDING_KEY_VERSION_STALE)->version);
}

static void test_finding_details(void **state) {
        const struct finding *f;
        struct verdict v;
        struct fx x;

        fx_init(&x);
        m_exp_crit_edge(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        f = verdict_find(&v, FINDING_KEY_EXPIRING);
        assert_non_null(f);
        assert_int_equal(f->when, NOW + CRIT_WINDOW);
        assert_ptr_equal(f->version, x.key.version);

        fx_init(&x);
        m_stale_nyv(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        f = verdict_find(&v, FINDING_KEY_NOT_YET_VALID);
        assert_int_equal(f->when, NOW + USEC_PER_DAY);
        assert_string_equal(f->version, V1);

        fx_init(&x);
        m_age_plus1(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_int_equal(verdict_find(&v, FINDING_KEY_TOO_OLD)->when, x.key.created);

        fx_init(&x);
        m_key_deleted(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_int_equal(verdict_find(&v, FINDING_KEY_DELETED)->when, NOW - USEC_PER_DAY);

        fx_init(&x);
        m_key_unknown(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        f = verdict_find(&v, FINDING_CHECK_UNKNOWN);
        assert_ptr_equal(f->status, &x.obs.key_status);
}

static void test_access_details(void **state) {
        struct verdict v;
        struct fx x;

        fx_init(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_true(v.access.evaluated && v.access.rbac && v.access.granted);
        assert_false(v.access.roles.conditional || v.access.roles.custom);
        assert_ptr_equal(v.access.roles.via, &x.role_items[0]);
        assert_string_equal(v.access.roles.role_name, "Key Vault Crypto Service Encryption User");

        fx_init(&x);
        m_rbac_conditional(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_true(v.access.granted && v.access.roles.conditional);

        fx_init(&x);
        m_rbac_custom_keys(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_true(v.access.granted && v.access.roles.custom);
        assert_string_equal(v.access.roles.role_name, "Custom Keys");

        fx_init(&x);
        m_ap_second(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_true(v.access.evaluated && !v.access.rbac && v.access.granted);
        assert_ptr_equal(v.access.policy, &x.policies[1]);

        fx_init(&x);
        m_id_unknown(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_false(v.access.evaluated);
        assert_false(v.access.granted);

        fx_init(&x);
        m_rbac_none(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        assert_true(v.access.evaluated && !v.access.granted);
}

static void test_einval(void **state) {
        struct verdict v, before;
        struct fx x;

        fx_init(&x);
        memset(&v, 0x5a, sizeof v);
        before = v;
        assert_int_equal(policy_evaluate(NULL, &x.pc, NOW, &v), -EINVAL);
        assert_int_equal(policy_evaluate(&x.obs, NULL, NOW, &v), -EINVAL);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, NOW, NULL), -EINVAL);
        x.obs.cluster = NULL;
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, NOW, &v), -EINVAL);
        assert_memory_equal(&v, &before, sizeof v);
        assert_null(verdict_find(NULL, FINDING_KEY_DISABLED));
}

/* ---- messages ---------------------------------------------------------------------------- */

static void describe_row(void (*mut)(struct fx *x), enum finding_code code,
                         char msg[static FINDING_MESSAGE_MAX]) {
        const struct finding *f;
        struct verdict v;
        struct fx x;

        fx_init(&x);
        mut(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        f = verdict_find(&v, code);
        if (!f)
                fail_msg("no %s", finding_to_string(code));
        finding_describe(f, &x.obs, x.now, msg, FINDING_MESSAGE_MAX);
}

static void test_describe(void **state) {
        static const struct {
                void (*mut)(struct fx *x);
                enum finding_code code;
                const char *needle;
        } t[] = {
                {m_disabled, FINDING_KEY_DISABLED,
                 "az keyvault key set-attributes --vault-name vault1 --name key1 --version " V2
                 " --enabled true"},
                {m_hsm_key_disabled, FINDING_KEY_DISABLED,
                 "az keyvault key set-attributes --hsm-name hsm1 --name key1 --version " V2
                 " --enabled true"},
                {m_exp_past, FINDING_KEY_EXPIRED, "expired at 2026-09-11T"},
                {m_exp_past, FINDING_KEY_EXPIRED, "wait until the cluster is Ready again"},
                {m_exp_crit_edge, FINDING_KEY_EXPIRING, "expires at 2026-09-28T14:13:20Z (in 1w)"},
                {m_nbf_now_plus1, FINDING_KEY_NOT_YET_VALID, "--not-before"},
                {m_key_deleted, FINDING_KEY_DELETED,
                 "az keyvault key recover --vault-name vault1 --name key1"},
                {m_key_purged, FINDING_KEY_NOT_FOUND, "az keyvault key restore --vault-name vault1"},
                {m_age_plus1, FINDING_KEY_TOO_OLD, "az keyvault key rotate --vault-name vault1 --name key1"},
                {m_rot_absent, FINDING_KEY_NO_ROTATION_POLICY, "az keyvault key rotation-policy update"},
                {m_type_1024, FINDING_KEY_TYPE_UNSUPPORTED, "RSA of 1024 bits"},
                {m_ops_none, FINDING_KEY_OPS_MISSING, "--ops wrapKey unwrapKey"},
                {m_stale, FINDING_KEY_VERSION_STALE, "pinned to version " V1},
                {m_stale, FINDING_KEY_VERSION_STALE, "current version is " V2},
                {m_stale, FINDING_KEY_VERSION_STALE, "versionless URL " URL " "},
                {m_stale_gone, FINDING_KEY_VERSION_STALE, "no longer exists"},
                {m_stale_disabled, FINDING_KEY_VERSION_STALE, "pinned version is disabled"},
                {m_stale_disabled, FINDING_KEY_DISABLED, "--version " V1 " --enabled true"},
                {m_pin_current, FINDING_KEY_VERSION_PINNED, "pins version " V2},
                {m_id_not_in_list, FINDING_IDENTITY_NOT_ASSIGNED, "userAssignedIdentities/other"},
                {m_id_deleted, FINDING_IDENTITY_DELETED, UAMI_ID},
                {m_id_recreated, FINDING_IDENTITY_RECREATED, "now " P1 " but the cluster holds " P_OLD},
                {m_rbac_none, FINDING_ACCESS_REVOKED,
                 "az role assignment create --role \"Key Vault Crypto Service Encryption User\" "
                 "--assignee-object-id " P1 " --assignee-principal-type ServicePrincipal --scope " VAULT_ID
                 "/keys/key1"},
                {m_ap_none, FINDING_ACCESS_REVOKED,
                 "az keyvault set-policy --name vault1 --object-id " P1
                 " --key-permissions get list wrapKey unwrapKey"},
                {m_hsm_policies_ignored, FINDING_ACCESS_REVOKED,
                 "az keyvault role assignment create --hsm-name hsm1 --role \"Managed HSM Crypto Service "
                 "Encryption "
                 "User\" --assignee-object-id " P1 " --scope /keys/key1"},
                {m_vault_deleted, FINDING_VAULT_DELETED, "az keyvault recover --name vault1"},
                {m_soft_delete_off, FINDING_VAULT_SOFT_DELETE_OFF, "--enable-soft-delete true"},
                {m_purge_off, FINDING_VAULT_PURGE_PROTECTION_OFF,
                 "az keyvault update --name vault1 --enable-purge"},
                {m_hsm_purge_off, FINDING_VAULT_PURGE_PROTECTION_OFF, "update-hsm --hsm-name hsm1"},
                {m_hsm_purge_off, FINDING_VAULT_PURGE_PROTECTION_OFF, "Managed HSM hsm1 of cluster c1"},
                {m_hsm_soft_delete_off, FINDING_VAULT_SOFT_DELETE_OFF, "Managed HSM hsm1 of cluster c1 reports"},
                {m_hsm_fw_closed, FINDING_VAULT_FIREWALL_BLOCKS,
                 "az keyvault update-hsm --hsm-name hsm1 --bypass AzureServices"},
                {m_hsm_deleted, FINDING_VAULT_DELETED, "az keyvault recover --hsm-name hsm1"},
                {m_hsm_region, FINDING_VAULT_REGION_MISMATCH, "Managed HSM hsm1 is in eastus"},
                {m_hsm_tenant, FINDING_TENANT_MISMATCH, "Managed HSM hsm1 is in tenant " T2},
                {m_hsm_ec, FINDING_KEY_TYPE_UNSUPPORTED, "--hsm-name hsm1 --name <new key> --kty RSA-HSM"},
                {m_hsm_other_key, FINDING_ACCESS_REVOKED, "may not use key key1 in Managed HSM hsm1"},
                {m_hsm_key_deleted, FINDING_KEY_DELETED, "az keyvault key recover --hsm-name hsm1 --name key1"},
                {m_hsm_not_visible, FINDING_CHECK_UNKNOWN,
                 "Managed HSM 'hsm1' of cluster c1 was found neither among the Managed HSMs"},
                {m_hsm_unknown, FINDING_CHECK_UNKNOWN, "could not read the Managed HSM of cluster c1"},
                {m_hsm_roles_unknown, FINDING_CHECK_UNKNOWN, "local role Managed HSM Crypto Auditor"},
                {m_fw_deny, FINDING_VAULT_FIREWALL_BLOCKS,
                 "az keyvault update --name vault1 --bypass AzureServices"},
                {m_fw_public_off, FINDING_VAULT_FIREWALL_BLOCKS, "publicNetworkAccess Disabled"},
                {m_vault_region, FINDING_VAULT_REGION_MISMATCH,
                 "is in eastus but cluster c1 is in West Europe"},
                {m_tenant, FINDING_TENANT_MISMATCH, "tenant " T2 " but identity uami1"},
                {m_id_region, FINDING_IDENTITY_REGION_MISMATCH, "uami1 is in eastus"},
                {m_url_null, FINDING_KEY_URL_INVALID, "is missing"},
                {m_url_foreign, FINDING_KEY_URL_INVALID, "'https://evil.example/keys/key1'"},
                {m_url_other_cloud, FINDING_KEY_URL_INVALID,
                 "'https://vault1.vault.azure.cn/keys/key1', whose host is outside the configured cloud"},
                {m_st_inaccessible, FINDING_CLUSTER_INACCESSIBLE, "clusterStatus 'Inaccessible'"},
                {m_st_null, FINDING_CLUSTER_INACCESSIBLE, "clusterStatus (absent)"},
                {m_smk, FINDING_SERVICE_MANAGED_KEY, "point-in-time restore"},
                {m_key_unknown, FINDING_CHECK_UNKNOWN,
                 "could not read the key of cluster c1 (HTTP 403 ForbiddenByRbac: "
                 "Permission denied)"},
                {u_all, FINDING_CHECK_UNKNOWN,
                 "; also unknown: the key vault (HTTP 403 ForbiddenByRbac: Permission "
                 "denied), the encryption identity (HTTP 403"},
                {m_vault_absent, FINDING_CHECK_UNKNOWN, "found neither among the vaults cmkd can see"},
                {m_rbac_unknown_role, FINDING_CHECK_UNKNOWN,
                 "no definition of role " ROLE_UNKNOWN " assigned to identity uami1 of cluster c1"},
                {m_id_no_principal, FINDING_CHECK_UNKNOWN, "(incomplete data)"},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char msg[FINDING_MESSAGE_MAX];

                describe_row(t[i].mut, t[i].code, msg);
                if (!strstr(msg, t[i].needle))
                        fail_msg("%s: '%s' not in '%s'", finding_to_string(t[i].code), t[i].needle, msg);
        }
}

static void test_describe_odd(void **state) {
        struct finding f = {.code = FINDING_KEY_DISABLED, .severity = SEVERITY_CRITICAL};
        char msg[FINDING_MESSAGE_MAX], tiny[8];
        struct cluster_obs empty = {};
        struct verdict v;
        struct fx x;

        /* NULL finding, NULL obs, empty obs, out-of-range code: never a crash, never "(null)". */
        assert_string_equal(finding_describe(NULL, NULL, NOW, msg, sizeof msg), "(no finding)");
        for (int c = 0; c <= _FINDING_MAX; c++) {
                f.code = c;
                finding_describe(&f, NULL, NOW, msg, sizeof msg);
                assert_true(strlen(msg) > 0);
                assert_null(strstr(msg, "(null)"));
                finding_describe(&f, &empty, NOW, msg, sizeof msg);
                assert_null(strstr(msg, "(null)"));
        }
        f.code = FINDING_CHECK_UNKNOWN;
        f.fact = (enum fact_kind)99;
        f.facts = ~0u;
        finding_describe(&f, NULL, NOW, msg, sizeof msg);
        assert_non_null(strstr(msg, "could not read a fact"));

        /* Bounded by the buffer: every length from 0 up, NUL-terminated, prefix of the full text. */
        fx_init(&x);
        m_rbac_none(&x);
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        finding_describe(verdict_find(&v, FINDING_ACCESS_REVOKED), &x.obs, NOW, msg, sizeof msg);
        for (size_t len = 1; len <= sizeof tiny; len++) {
                memset(tiny, 'x', sizeof tiny);
                finding_describe(verdict_find(&v, FINDING_ACCESS_REVOKED), &x.obs, NOW, tiny, len);
                assert_int_equal(strlen(tiny), len - 1);
                assert_memory_equal(tiny, msg, len - 1);
        }
        tiny[0] = 'x';
        assert_ptr_equal(finding_describe(&f, NULL, NOW, tiny, 0), tiny);
        assert_int_equal(tiny[0], 'x');
        assert_null(finding_describe(&f, NULL, NOW, NULL, 10));

        /* Control characters from Azure data never break the line. */
        fx_init(&x);
        x.cluster.name = "c1\nFAKE: injected\r";
        x.cluster.cluster_status = "Bad\tState\x1b[31m";
        assert_int_equal(policy_evaluate(&x.obs, &x.pc, x.now, &v), 0);
        finding_describe(verdict_find(&v, FINDING_CLUSTER_INACCESSIBLE), &x.obs, NOW, msg, sizeof msg);
        assert_null(strpbrk(msg, "\n\r\t\x1b"));
        assert_non_null(strstr(msg, "c1?FAKE: injected?"));
}

/* ---- strings ------------------------------------------------------------------------------ */

static void test_strings(void **state) {
        static const struct {
                enum finding_code code;
                const char *s;
                enum severity sev;
        } codes[] = {
                {FINDING_KEY_VERSION_STALE, "key-version-stale", SEVERITY_WARNING},
                {FINDING_KEY_VERSION_PINNED, "key-version-pinned", SEVERITY_INFO},
                {FINDING_KEY_DISABLED, "key-disabled", SEVERITY_CRITICAL},
                {FINDING_KEY_EXPIRED, "key-expired", SEVERITY_CRITICAL},
                {FINDING_KEY_NOT_YET_VALID, "key-not-yet-valid", SEVERITY_CRITICAL},
                {FINDING_KEY_DELETED, "key-deleted", SEVERITY_CRITICAL},
                {FINDING_KEY_NOT_FOUND, "key-not-found", SEVERITY_CRITICAL},
                {FINDING_KEY_EXPIRING, "key-expiring", SEVERITY_WARNING},
                {FINDING_KEY_TOO_OLD, "key-too-old", SEVERITY_WARNING},
                {FINDING_KEY_NO_ROTATION_POLICY, "key-no-rotation-policy", SEVERITY_INFO},
                {FINDING_KEY_TYPE_UNSUPPORTED, "key-type-unsupported", SEVERITY_CRITICAL},
                {FINDING_KEY_OPS_MISSING, "key-ops-missing", SEVERITY_CRITICAL},
                {FINDING_IDENTITY_NOT_ASSIGNED, "identity-not-assigned", SEVERITY_CRITICAL},
                {FINDING_IDENTITY_DELETED, "identity-deleted", SEVERITY_CRITICAL},
                {FINDING_IDENTITY_RECREATED, "identity-recreated", SEVERITY_CRITICAL},
                {FINDING_ACCESS_REVOKED, "access-revoked", SEVERITY_CRITICAL},
                {FINDING_VAULT_DELETED, "vault-deleted", SEVERITY_CRITICAL},
                {FINDING_VAULT_SOFT_DELETE_OFF, "vault-soft-delete-off", SEVERITY_WARNING},
                {FINDING_VAULT_PURGE_PROTECTION_OFF, "vault-purge-protection-off", SEVERITY_WARNING},
                {FINDING_VAULT_FIREWALL_BLOCKS, "vault-firewall-blocks", SEVERITY_CRITICAL},
                {FINDING_VAULT_REGION_MISMATCH, "vault-region-mismatch", SEVERITY_WARNING},
                {FINDING_TENANT_MISMATCH, "tenant-mismatch", SEVERITY_CRITICAL},
                {FINDING_CLUSTER_INACCESSIBLE, "cluster-inaccessible", SEVERITY_CRITICAL},
                {FINDING_SERVICE_MANAGED_KEY, "service-managed-key", SEVERITY_INFO},
                {FINDING_CHECK_UNKNOWN, "check-unknown", SEVERITY_WARNING},
                {FINDING_IDENTITY_REGION_MISMATCH, "identity-region-mismatch", SEVERITY_WARNING},
                {FINDING_KEY_URL_INVALID, "key-url-invalid", SEVERITY_CRITICAL},
        };

        assert_int_equal(ELEMENTSOF(codes), _FINDING_MAX);
        for (size_t i = 0; i < ELEMENTSOF(codes); i++) {
                assert_string_equal(finding_to_string(codes[i].code), codes[i].s);
                assert_int_equal(finding_from_string(codes[i].s), codes[i].code);
                assert_int_equal(finding_default_severity(codes[i].code), codes[i].sev);
        }
        assert_null(finding_to_string(_FINDING_MAX));
        assert_null(finding_to_string(-1));
        assert_int_equal(finding_from_string(NULL), -EINVAL);
        assert_int_equal(finding_from_string("key-Disabled"), -EINVAL);
        assert_int_equal(finding_from_string(""), -EINVAL);
        assert_int_equal(finding_default_severity(_FINDING_MAX), _SEVERITY_INVALID);
        assert_int_equal(finding_default_severity(-1), _SEVERITY_INVALID);

#define ROUND_TRIP(prefix, max, ...)                                                                        \
        do {                                                                                                \
                static const char *const want[] = {__VA_ARGS__};                                            \
                assert_int_equal(ELEMENTSOF(want), max);                                                    \
                for (int i = 0; i < (int)max; i++) {                                                        \
                        assert_string_equal(prefix##_to_string(i), want[i]);                                \
                        assert_int_equal(prefix##_from_string(want[i]), i);                                 \
                }                                                                                           \
                assert_null(prefix##_to_string(max));                                                       \
                assert_null(prefix##_to_string(-1));                                                        \
                assert_int_equal(prefix##_from_string(NULL), -EINVAL);                                      \
                assert_int_equal(prefix##_from_string("no-such-thing"), -EINVAL);                           \
        } while (0)

        ROUND_TRIP(severity, _SEVERITY_MAX, "info", "warning", "critical");
        ROUND_TRIP(fact_kind, _FACT_MAX, "none", "key", "deleted-key", "pinned-version", "rotation-policy",
                   "identity", "vault", "role-assignments", "role-definitions", "previous-version");
        ROUND_TRIP(refusal, _REFUSAL_MAX, "none", "incomplete", "cluster-not-succeeded", "cluster-updating",
                   "cluster-inaccessible", "cluster-not-ready", "target-disabled", "target-expired",
                   "target-not-yet-valid", "target-ops-missing", "target-type-unsupported", "no-access",
                   "older-version", "service-managed", "mode", "outside-window", "budget", "in-flight");
        ROUND_TRIP(stale_version_policy, _STALE_VERSION_MAX, "update", "alert", "ignore");
        ROUND_TRIP(update_target, _UPDATE_TARGET_MAX, "latest", "versionless");
        ROUND_TRIP(action_kind, _ACTION_MAX, "none", "update");

        /* Every refusal has its own sentence; an unknown one still gets a sentence. */
        for (int r = 0; r < _REFUSAL_MAX; r++) {
                assert_true(strlen(refusal_describe(r)) > 20);
                for (int q = 0; q < r; q++)
                        assert_string_not_equal(refusal_describe(r), refusal_describe(q));
        }
        assert_non_null(
                strstr(refusal_describe(REFUSAL_CLUSTER_INACCESSIBLE), "wait until clusterStatus is Ready"));
        assert_non_null(refusal_describe(_REFUSAL_MAX));
        assert_non_null(refusal_describe(-1));
}

static void test_cluster_status(void **state) {
        static const struct {
                const char *s;
                bool ready, transitional;
        } t[] = {
                {"Ready", true, false},         {"READY", true, false},    {"ready", true, false},
                {"Provisioning", false, true},  {"Updating", false, true}, {"Starting", false, true},
                {"Stopping", false, true},      {"Stopped", false, true},  {"Dropping", false, true},
                {"Inaccessible", false, false}, {"Failed", false, false},  {"", false, false},
                {NULL, false, false},           {"Ready ", false, false},  {"Readyish", false, false},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                assert_int_equal(cluster_status_is_ready(t[i].s), t[i].ready);
                assert_int_equal(cluster_status_is_transitional(t[i].s), t[i].transitional);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rows),           cmocka_unit_test(test_rows_cover_everything),
                cmocka_unit_test(test_target_latest),  cmocka_unit_test(test_finding_details),
                cmocka_unit_test(test_access_details), cmocka_unit_test(test_einval),
                cmocka_unit_test(test_describe),       cmocka_unit_test(test_describe_odd),
                cmocka_unit_test(test_strings),        cmocka_unit_test(test_cluster_status),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
