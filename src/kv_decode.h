/* SPDX-License-Identifier: MIT */
#pragma once

/* Key Vault and Managed HSM data-plane response bodies → model (model.h). Pure functions,
 * with the same contract as arm_decode.h: body and length in; 0 and *ret (owned by the
 * caller), or -EBADMSG / -E2BIG / -ENOMEM with *ret untouched. List pages skip and count
 * undecodable items (n_invalid, invalid_ids) instead of dropping them silently.
 *
 * Timestamps (nbf, exp, created, updated, deletedDate, scheduledPurgeDate) are Unix
 * seconds; any JSON number is accepted and truncated toward zero (some spec examples carry
 * fractions), strings are rejected. */

#include <stddef.h>

#include "model.h"

/* GET /keys/{name}[/{version}] (KeyBundle, reference §2.2). Required: key.kid, which must
 * parse with keyurl_parse() and name a version (version = its last segment). kty and
 * recoveryLevel are kept as sent. rsa_bits is the exact bit length of the base64url
 * modulus n (leading zero bytes skipped) when kty starts with "RSA"; an n that is not
 * base64url is -EBADMSG. key_ops map to KEY_OP_* (case-insensitively; unknown ones are
 * ignored) and has_key_ops says whether key_ops was sent. attributes: enabled defaults to
 * true when absent (Key Vault always sends it; a missing flag is no evidence of a disabled
 * key), nbf to 0, exp to USEC_INFINITY, created/updated to 0. */
int kv_decode_key_bundle(const char *body, size_t len, struct key_bundle **ret);

/* GET /deletedkeys/{name} (DeletedKeyBundle): a KeyBundle plus recoveryId, deletedDate and
 * scheduledPurgeDate (all optional). */
int kv_decode_deleted_key_bundle(const char *body, size_t len, struct key_bundle **ret);

/* GET /keys/{name}/versions page (KeyListResult of KeyItems). Per item: kid required and
 * versioned (as above), attributes as above. Items failing that are counted invalid. */
int kv_decode_key_version_list(const char *body, size_t len, struct key_version_list **ret);

/* GET /keys/{name}/rotationpolicy (KeyRotationPolicy). lifetimeActions[].action.type is
 * compared case-insensitively; the first Rotate action fills rotate_after_create /
 * rotate_before_expiry, the first Notify action notify_before_expiry; other types are
 * ignored (the enum is extensible). Durations are ISO 8601 (iso8601_duration_parse());
 * one that does not parse is -EBADMSG. attributes.expiryTime likewise. */
int kv_decode_rotation_policy(const char *body, size_t len, struct rotation_policy **ret);

/* GET https://{hsm}.managedhsm.azure.net/{scope}/providers/Microsoft.Authorization/
 * roleAssignments?api-version=7.4+ (Key Vault data-plane rbac.json, RoleAssignmentListResult).
 * Same item rules as arm_decode_role_assignment_list(); scope is "/", "/keys" or
 * "/keys/{name}", role_definition the lowercased last segment of roleDefinitionId. */
int kv_decode_hsm_role_assignment_list(const char *body, size_t len, struct role_assignment_list **ret);

/* GET https://{hsm}.managedhsm.azure.net/{scope}/providers/Microsoft.Authorization/
 * roleDefinitions (RoleDefinitionListResult), for custom roles; same rules as
 * arm_decode_role_definition(). */
int kv_decode_hsm_role_definition_list(const char *body, size_t len, struct role_definition_list **ret);
