/* SPDX-License-Identifier: MIT */
#pragma once

/* Role-based access to a key: do the role assignments of a principal grant the three key data
 * actions DocumentDB needs (read, wrap, unwrap)? Built-in roles of Azure RBAC and of Managed HSM
 * local RBAC are known by GUID; custom roles come with their definitions. Pure: no I/O, no
 * allocation. Deny assignments are not modelled (cmkd does not read them). */

#include "keyurl.h"
#include "macro.h"
#include "model.h"

enum role_key_action {
        ROLE_KEY_READ,
        ROLE_KEY_WRAP,
        ROLE_KEY_UNWRAP,
        _ROLE_KEY_ACTION_MAX,
};

#define ROLE_KEY_ALL ((1u << _ROLE_KEY_ACTION_MAX) - 1)

/* The data action string for a key action in a key store:
 * "Microsoft.KeyVault/vaults/keys/read", ".../wrap/action", ".../unwrap/action" for a vault,
 * "Microsoft.KeyVault/managedHsm/keys/read/action", ... for a Managed HSM. NULL if out of range. */
const char *role_key_action_name(enum key_store store, enum role_key_action a);

struct role_builtin {
        const char *id;   /* GUID, lowercase */
        const char *name; /* "Key Vault Crypto Service Encryption User" */
        enum key_store store;
        const char *const *data_actions;     /* NULL-terminated; may be empty */
        const char *const *not_data_actions; /* NULL-terminated; may be empty */
};

/* The built-in role with that GUID (case-insensitive), or NULL. Static data. */
const struct role_builtin *role_builtin_find(const char *guid);
/* The built-in role recommended for a CMK identity: Key Vault Crypto Service Encryption User,
 * or Managed HSM Crypto Service Encryption User. Static data, never NULL for a valid store. */
const struct role_builtin *role_builtin_recommended(enum key_store store);

/* True if the action matches the pattern: compared case-insensitively, a '*' stands for any run
 * of characters including '/' (Key Vault Administrator grants every action under vaults with one
 * trailing '*'; Key Vault Reader has a '*' in the middle, between "vaults/" and "/read"). */
bool role_action_match(const char *pattern, const char *action);
/* True if some data action matches and no not-data action does. NULL lists are empty. */
bool role_actions_grant(const char *const *data_actions, const char *const *not_data_actions,
                        const char *action);

/* True if an assignment scope covers the key. For a vault the key's scope is
 * "{vaultId}/keys/{name}" and any ARM ancestor covers it; a management-group scope covers it too
 * (Azure returns such assignments for a vault-scope query only when they apply above it). For a
 * Managed HSM the scopes are local: "/", "/keys", "/keys/{name}". */
bool role_scope_covers(enum key_store store, const char *scope, const char *key_scope);

/* Writes the key's scope, "{vaultId}/keys/{name}" or "/keys/{name}" (HSM), into buf. Returns buf. */
char *role_key_scope(enum key_store store, const char *vault_id, const char *key_name, char *buf, size_t len);

struct key_access {
        bool granted;     /* read, wrap and unwrap are all granted (by one or several assignments) */
        bool conditional; /* granted only with the help of an assignment that carries a condition */
        bool custom;      /* granted with the help of a custom role */
        bool unknown;     /* not granted, and an applicable assignment names a role whose definition
                           * cmkd does not have: the answer is not known */
        unsigned granted_actions; /* bits 1u << ROLE_KEY_* granted, over every applicable assignment */
        const struct role_assignment *via; /* borrowed: the assignment that grants (all, if one does) */
        const char *role_name;             /* borrowed or static: via's role name; NULL if none */
        const char *unresolved_role;       /* borrowed: GUID of the first unknown role, or NULL */
};

/* Evaluates the assignments of principal_id that cover key_scope. Assignments without a condition
 * are preferred; among those, one that grants everything alone, a built-in role before a custom
 * one. Role effects add up (Azure RBAC is additive), so several assignments may grant together.
 * Never fails; NULL inputs mean "none". */
void roles_key_access(const struct role_assignment_list *assignments, const struct role_definition *const *custom_roles,
                      size_t n_custom_roles, const char *principal_id, enum key_store store, const char *key_scope,
                      struct key_access *ret);
