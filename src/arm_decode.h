/* SPDX-License-Identifier: MIT */
#pragma once

/* Azure Resource Manager response bodies → model (model.h). Pure functions: bytes in,
 * structs out; they never see curl, do no I/O and never log. The ARM error envelope is
 * decoded by the HTTP engine, not here.
 *
 * Every decoder takes the body and its length (it need not be NUL-terminated) and returns
 *   0         *ret set, owned by the caller (free with the type's _free());
 *   -EBADMSG  not one JSON object, a member of the wrong type, or a required member
 *             missing (null counts as missing);
 *   -E2BIG    nesting deeper than JSON_DEPTH_MAX, a string or array beyond the caps of
 *             json_util.h, or a body larger than JSON_DOC_MAX;
 *   -ENOMEM.
 * *ret is untouched on failure. Enumerations from Azure are extensible strings: unknown
 * values are kept as sent, never rejected. Members a decoder does not need are ignored.
 *
 * List pages: the page itself must be well formed ("value" an array, "nextLink" a string,
 * null or absent), else the whole page fails. An item that fails to decode (-EBADMSG or
 * -E2BIG) is skipped and counted in n_invalid, with its id in invalid_ids when readable;
 * callers must turn those into check-unknown rather than treat the item as absent. */

#include <stddef.h>

#include "model.h"

/* GET/PUT/PATCH mongoClusters/{name} (MongoCluster), see reference §1.2. Required: id (an
 * ARM resource id: subscription and resource group come from it) and properties. A
 * customerManagedKeyEncryption block needs keyEncryptionKeyUrl; encryption absent, null or
 * without that block means a service-managed key (customer_managed = false). */
int arm_decode_cluster(const char *body, size_t len, struct cluster **ret);
/* MongoClusters_List / _ListByResourceGroup page. */
int arm_decode_cluster_list(const char *body, size_t len, struct cluster_list **ret);
/* The same, with the clusters' shared strings interned in pool (see cluster_pack_from()):
 * the clusters must not outlive it. pool NULL: as arm_decode_cluster_list(). */
int arm_decode_cluster_list_pooled(const char *body, size_t len, struct strpool *pool,
                                   struct cluster_list **ret);

/* GET Microsoft.KeyVault/vaults/{name} (Vault, reference §3). Required: id, properties,
 * properties.tenantId. Defaults when a member is absent or null:
 *   enableSoftDelete         true  (Azure no longer lets it be off);
 *   enablePurgeProtection    false (absent means it was never turned on);
 *   enableRbacAuthorization  false, with rbac_authorization_set = false: the schema says
 *                            default true, but its own text says a vault created without
 *                            it gets false, and older vaults that never set it use access
 *                            policies; policy code may treat "not set" as uncertain;
 *   publicNetworkAccess      enabled; compared case-insensitively ("Disabled"/"disabled");
 *   networkAcls.bypass       AzureServices; a comma list is accepted;
 *   networkAcls.defaultAction Allow.
 * Only private endpoint connections whose privateLinkServiceConnectionState.status is
 * "Approved" (any case) are counted. Key permissions are matched case-insensitively;
 * unknown ones set KEY_PERM_OTHER. */
int arm_decode_vault(const char *body, size_t len, struct vault **ret);
/* Vaults_ListBySubscription / _ListByResourceGroup page. Not Vaults_List (the generic
 * resources list), whose items carry no properties and would all count as invalid. */
int arm_decode_vault_list(const char *body, size_t len, struct vault_list **ret);

/* GET Microsoft.KeyVault/managedHSMs/{name} (ManagedHsm) into a vault with store =
 * KEY_STORE_MANAGED_HSM, uri = properties.hsmUri, rbac_authorization = true (a Managed HSM
 * authorizes data actions with its local RBAC only) and no access policies. Same required
 * members and defaults as arm_decode_vault(). */
int arm_decode_managed_hsm(const char *body, size_t len, struct vault **ret);
/* ManagedHsms_ListBySubscription / _ListByResourceGroup page. */
int arm_decode_managed_hsm_list(const char *body, size_t len, struct vault_list **ret);

/* Vaults_GetDeleted (DeletedVault). Required: name and properties; dates are RFC 3339
 * strings (deletionDate, scheduledPurgeDate), 0 when absent. */
int arm_decode_deleted_vault(const char *body, size_t len, struct deleted_vault **ret);
/* Vaults_ListDeleted page. */
int arm_decode_deleted_vault_list(const char *body, size_t len, struct deleted_vault_list **ret);
/* ManagedHsms_ListDeleted page (DeletedManagedHsm): like a deleted vault, vault_id from
 * properties.mhsmId. name is the last segment of mhsmId when that is an ARM id (the spec's
 * examples carry a "name" unrelated to the HSM), else "name"; an item with neither is invalid. */
int arm_decode_deleted_managed_hsm_list(const char *body, size_t len, struct deleted_vault_list **ret);

/* GET Microsoft.ManagedIdentity/userAssignedIdentities/{name} (reference §4). Required: id,
 * properties, properties.principalId. */
int arm_decode_identity(const char *body, size_t len, struct identity **ret);

/* GET /subscriptions?api-version=2022-12-01 page. Required per item: subscriptionId.
 * Subscriptions whose state is Disabled or Deleted (any case) are left out and counted in
 * n_skipped; every other state, unknown ones and a missing state included, is kept:
 * Warned and PastDue subscriptions still run their clusters. */
int arm_decode_subscription_list(const char *body, size_t len, struct subscription_list **ret);

/* Azure RBAC role assignments list page (reference §5). Required per item: id,
 * properties.roleDefinitionId (its last segment, lowercased, is role_definition; not
 * checked to be a GUID because the spec's own examples use placeholders), and
 * properties.principalId. scope is properties.scope, or else the part of id before
 * "/providers/Microsoft.Authorization/roleAssignments/" ("/" when that is empty).
 * has_condition: properties.condition is a non-empty string. */
int arm_decode_role_assignment_list(const char *body, size_t len, struct role_assignment_list **ret);

/* GET .../roleDefinitions/{id} (RoleDefinition). id = "name" or else the last segment of
 * "id", lowercased; name = properties.roleName. dataActions and notDataActions of every
 * permissions[] entry are merged into one list each (never NULL). Merging is exact for the
 * usual single-entry roles; for several entries it can only over-subtract, which errs
 * towards reporting missing access. */
int arm_decode_role_definition(const char *body, size_t len, struct role_definition **ret);
/* RoleDefinitions_List page (ARM, and the Managed HSM data plane). */
int arm_decode_role_definition_list(const char *body, size_t len, struct role_definition_list **ret);

/* Azure-AsyncOperation status (OperationStatusResult, reference §7.1). */
struct arm_operation_status {
        char *status;        /* required; "Succeeded", "Failed", "Canceled", "InProgress", ... */
        char *error_code;    /* error.code when present, else NULL */
        char *error_message; /* error.message when present, else NULL */
};

struct arm_operation_status *arm_operation_status_free(struct arm_operation_status *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct arm_operation_status *, arm_operation_status_free);

/* Required: a non-empty status string. error, when present, must be an object. */
int arm_decode_operation_status(const char *body, size_t len, struct arm_operation_status **ret);
