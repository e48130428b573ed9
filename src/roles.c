/* SPDX-License-Identifier: MIT */
/* Role evaluation for key access: built-in role table, data-action wildcards, scope coverage.
 * Pure: reads only its arguments and static tables; no I/O, no allocation, no logging. It judges
 * the cluster's identity from what the inventory read, never from cmkd's own token. */

#include <stdio.h>

#include "armid.h"
#include "roles.h"

#define KV "Microsoft.KeyVault/vaults/"
#define HSM "Microsoft.KeyVault/managedHsm/"

static const char *const none[] = { NULL };

static inline char tolower_ascii(char c) {
        return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

/* Azure RBAC built-in roles. Source: MicrosoftDocs/azure-docs,
 * articles/role-based-access-control/built-in-roles/security.md (role JSON: "dataActions") and
 * .../built-in-roles/general.md (Owner, Contributor, Reader: no dataActions at all). Only the
 * data actions are listed: control-plane actions never reach key material. */
static const char *const kv_admin[] = { KV "*", NULL };
static const char *const kv_crypto_officer[] = { KV "keys/*", KV "keyrotationpolicies/*", NULL };
static const char *const kv_crypto_service_encryption_user[] = {
        KV "keys/read",
        KV "keys/wrap/action",
        KV "keys/unwrap/action",
        NULL,
};
static const char *const kv_crypto_user[] = {
        KV "keys/read",         KV "keys/update/action", KV "keys/backup/action",
        KV "keys/encrypt/action", KV "keys/decrypt/action", KV "keys/wrap/action",
        KV "keys/unwrap/action", KV "keys/sign/action",   KV "keys/verify/action",
        NULL,
};
static const char *const kv_crypto_service_release_user[] = { KV "keys/release/action", NULL };
/* Key Vault Reader: metadata of every object, including keys/read, but no key operation. */
static const char *const kv_reader[] = { KV "*/read", KV "secrets/readMetadata/action", NULL };
static const char *const kv_certificate_user[] = {
        KV "certificates/read",
        KV "secrets/getSecret/action",
        KV "secrets/readMetadata/action",
        KV "keys/read",
        NULL,
};
static const char *const kv_certificates_officer[] = {
        KV "certificatecas/*",
        KV "certificates/*",
        KV "certificatecontacts/write",
        NULL,
};
static const char *const kv_secrets_officer[] = { KV "secrets/*", NULL };
static const char *const kv_secrets_user[] = { KV "secrets/getSecret/action", KV "secrets/readMetadata/action", NULL };

/* Managed HSM local RBAC built-in roles. Source: MicrosoftDocs/azure-security-docs,
 * articles/key-vault/managed-hsm/built-in-roles.md ("Permitted operations"). Only the key data
 * actions cmkd evaluates are listed; "Managed HSM Administrator" and "Crypto Officer" are
 * documented as not permitted to perform key operations. */
static const char *const hsm_crypto_user[] = {
        HSM "keys/read/action",       HSM "keys/write/action",    HSM "keys/rotate/action",
        HSM "keys/create",            HSM "keys/delete",          HSM "keys/backup/action",
        HSM "keys/restore/action",    HSM "keys/release/action",  HSM "keys/import/action",
        HSM "keys/encrypt/action",    HSM "keys/decrypt/action",  HSM "keys/wrap/action",
        HSM "keys/unwrap/action",     HSM "keys/sign/action",     HSM "keys/verify/action",
        NULL,
};
static const char *const hsm_crypto_service_encryption_user[] = {
        HSM "keys/read/action",
        HSM "keys/wrap/action",
        HSM "keys/unwrap/action",
        NULL,
};
static const char *const hsm_crypto_auditor[] = { HSM "keys/read/action", NULL };
static const char *const hsm_crypto_officer[] = {
        HSM "keys/deletedKeys/read/action",
        HSM "keys/deletedKeys/recover/action",
        HSM "keys/deletedKeys/delete",
        NULL,
};
static const char *const hsm_backup[] = { HSM "keys/backup/action", NULL };
static const char *const hsm_restore[] = { HSM "keys/restore/action", NULL };
static const char *const hsm_release_user[] = { HSM "keys/release/action", NULL };

static const struct role_builtin builtin_roles[] = {
        { "e147488a-f6f5-4113-8e2d-b22465e65bf6", "Key Vault Crypto Service Encryption User", KEY_STORE_VAULT,
          kv_crypto_service_encryption_user, none },
        { "14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "Key Vault Crypto Officer", KEY_STORE_VAULT, kv_crypto_officer, none },
        { "00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator", KEY_STORE_VAULT, kv_admin, none },
        { "12338af0-0e69-4776-bea7-57ae8d297424", "Key Vault Crypto User", KEY_STORE_VAULT, kv_crypto_user, none },
        { "08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Key Vault Crypto Service Release User", KEY_STORE_VAULT,
          kv_crypto_service_release_user, none },
        { "21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader", KEY_STORE_VAULT, kv_reader, none },
        { "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "Key Vault Certificate User", KEY_STORE_VAULT, kv_certificate_user,
          none },
        { "a4417e6f-fecd-4de8-b567-7b0420556985", "Key Vault Certificates Officer", KEY_STORE_VAULT,
          kv_certificates_officer, none },
        { "b86a8fe4-44ce-4948-aee5-eccb2c155cd7", "Key Vault Secrets Officer", KEY_STORE_VAULT, kv_secrets_officer,
          none },
        { "4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User", KEY_STORE_VAULT, kv_secrets_user, none },
        { "f25e0fa2-a7c8-4377-a976-54943a77a395", "Key Vault Contributor", KEY_STORE_VAULT, none, none },
        { "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", KEY_STORE_VAULT, none, none },
        { "b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", KEY_STORE_VAULT, none, none },
        { "acdd72a7-3385-48ef-bd42-f606fba81ae7", "Reader", KEY_STORE_VAULT, none, none },

        { "33413926-3206-4cdd-b39a-83574fe37a17", "Managed HSM Crypto Service Encryption User", KEY_STORE_MANAGED_HSM,
          hsm_crypto_service_encryption_user, none },
        { "21dbd100-6940-42c2-9190-5d6cb909625b", "Managed HSM Crypto User", KEY_STORE_MANAGED_HSM, hsm_crypto_user,
          none },
        { "a290e904-7015-4bba-90c8-60543313cdb4", "Managed HSM Administrator", KEY_STORE_MANAGED_HSM, none, none },
        { "515eb02d-2335-4d2d-92f2-b1cbdf9c3778", "Managed HSM Crypto Officer", KEY_STORE_MANAGED_HSM,
          hsm_crypto_officer, none },
        { "4bd23610-cdcf-4971-bdee-bdc562cc28e4", "Managed HSM Policy Administrator", KEY_STORE_MANAGED_HSM, none,
          none },
        { "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3", "Managed HSM Crypto Auditor", KEY_STORE_MANAGED_HSM,
          hsm_crypto_auditor, none },
        { "21dbd100-6940-42c2-9190-5d6cb909625c", "Managed HSM Crypto Service Release User", KEY_STORE_MANAGED_HSM,
          hsm_release_user, none },
        { "7b127d3c-77bd-4e3e-bbe0-dbb8971fa7f8", "Managed HSM Backup", KEY_STORE_MANAGED_HSM, hsm_backup, none },
        { "6efe6056-5259-49d2-8b3d-d3d73544b20b", "Managed HSM Restore", KEY_STORE_MANAGED_HSM, hsm_restore, none },
};

const char *role_key_action_name(enum key_store store, enum role_key_action a) {
        static const char *const vault[_ROLE_KEY_ACTION_MAX] = {
                [ROLE_KEY_READ] = KV "keys/read",
                [ROLE_KEY_WRAP] = KV "keys/wrap/action",
                [ROLE_KEY_UNWRAP] = KV "keys/unwrap/action",
        };
        /* Managed HSM spells read as an action: ".../keys/read/action". */
        static const char *const hsm[_ROLE_KEY_ACTION_MAX] = {
                [ROLE_KEY_READ] = HSM "keys/read/action",
                [ROLE_KEY_WRAP] = HSM "keys/wrap/action",
                [ROLE_KEY_UNWRAP] = HSM "keys/unwrap/action",
        };

        if ((unsigned) a >= _ROLE_KEY_ACTION_MAX)
                return NULL;
        switch (store) {
        case KEY_STORE_VAULT:
                return vault[a];
        case KEY_STORE_MANAGED_HSM:
                return hsm[a];
        default:
                return NULL;
        }
}

const struct role_builtin *role_builtin_find(const char *guid) {
        if (!guid)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(builtin_roles); i++)
                if (strcasecmp(builtin_roles[i].id, guid) == 0)
                        return &builtin_roles[i];
        return NULL;
}

const struct role_builtin *role_builtin_recommended(enum key_store store) {
        return role_builtin_find(store == KEY_STORE_MANAGED_HSM ? "33413926-3206-4cdd-b39a-83574fe37a17"
                                                                : "e147488a-f6f5-4113-8e2d-b22465e65bf6");
}

/* Glob with '*' only. Iterative with one backtrack point, so it is linear in practice and never
 * recurses on hostile input (custom role definitions come from the tenant). */
bool role_action_match(const char *pattern, const char *action) {
        const char *p, *a, *star = NULL, *resume = NULL;

        if (!pattern || !action)
                return false;
        p = pattern;
        a = action;
        while (*a) {
                if (*p == '*') {
                        star = p++;
                        resume = a;
                } else if (*p && tolower_ascii(*p) == tolower_ascii(*a)) {
                        p++;
                        a++;
                } else if (star) {
                        p = star + 1;
                        a = ++resume;
                } else
                        return false;
        }
        while (*p == '*')
                p++;
        return *p == 0;
}

bool role_actions_grant(const char *const *data_actions, const char *const *not_data_actions, const char *action) {
        bool allowed = false;

        for (const char *const *d = data_actions; d && *d; d++)
                if (role_action_match(*d, action)) {
                        allowed = true;
                        break;
                }
        if (!allowed)
                return false;
        for (const char *const *n = not_data_actions; n && *n; n++)
                if (role_action_match(*n, action))
                        return false;
        return true;
}

bool role_scope_covers(enum key_store store, const char *scope, const char *key_scope) {
        if (!scope || !key_scope)
                return false;
        if (store == KEY_STORE_VAULT && startswith_no_case(scope, "/providers/Microsoft.Management/managementGroups/"))
                return true;
        return armid_scope_covers(scope, key_scope);
}

char *role_key_scope(enum key_store store, const char *vault_id, const char *key_name, char *buf, size_t len) {
        const char *base = store == KEY_STORE_MANAGED_HSM ? "" : strempty(vault_id);
        size_t n = strlen(base);

        /* The vault id as ARM sent it, without a trailing slash. */
        while (n > 0 && base[n - 1] == '/')
                n--;
        snprintf(buf, len, "%.*s/keys/%s", (int) MIN(n, (size_t) 4096), base, strempty(key_name));
        return buf;
}

static unsigned actions_granted(enum key_store store, const char *const *data_actions,
                                const char *const *not_data_actions) {
        unsigned m = 0;

        for (unsigned a = 0; a < _ROLE_KEY_ACTION_MAX; a++)
                if (role_actions_grant(data_actions, not_data_actions, role_key_action_name(store, a)))
                        m |= 1u << a;
        return m;
}

struct grant_acc {
        unsigned mask;
        bool custom;                          /* a custom role contributed */
        const struct role_assignment *first;  /* first contributor */
        const char *first_name;
        const struct role_assignment *single; /* one assignment granting everything */
        const char *single_name;
        bool single_custom;
};

static void acc_add(struct grant_acc *acc, const struct role_assignment *ra, const char *name, bool custom,
                    unsigned m) {
        if (m == 0)
                return;
        if (m & ~acc->mask) {
                acc->mask |= m;
                acc->custom = acc->custom || custom;
        }
        if (!acc->first) {
                acc->first = ra;
                acc->first_name = name;
        }
        /* Prefer a built-in role when several grant everything alone. */
        if (m == ROLE_KEY_ALL && (!acc->single || (acc->single_custom && !custom))) {
                acc->single = ra;
                acc->single_name = name;
                acc->single_custom = custom;
        }
}

static bool acc_result(const struct grant_acc *acc, struct key_access *r) {
        if (acc->single) {
                r->granted = true;
                r->via = acc->single;
                r->role_name = acc->single_name;
                r->custom = acc->single_custom;
                return true;
        }
        if (acc->mask == ROLE_KEY_ALL) {
                r->granted = true;
                r->via = acc->first;
                r->role_name = acc->first_name;
                r->custom = acc->custom;
                return true;
        }
        return false;
}

void roles_key_access(const struct role_assignment_list *assignments, const struct role_definition *const *custom_roles,
                      size_t n_custom_roles, const char *principal_id, enum key_store store, const char *key_scope,
                      struct key_access *ret) {
        struct grant_acc unconditional = {}, any = {};
        struct key_access r = {};

        for (size_t i = 0; assignments && principal_id && i < assignments->n_items; i++) {
                const struct role_assignment *ra = &assignments->items[i];
                const struct role_builtin *b;
                const struct role_definition *custom = NULL;
                const char *name;
                unsigned m;

                if (!ra->principal_id || strcasecmp(ra->principal_id, principal_id) != 0)
                        continue;
                if (!role_scope_covers(store, ra->scope, key_scope))
                        continue;

                b = role_builtin_find(ra->role_definition);
                if (b) {
                        m = actions_granted(store, b->data_actions, b->not_data_actions);
                        name = b->name;
                } else {
                        for (size_t j = 0; ra->role_definition && j < n_custom_roles; j++)
                                if (custom_roles[j] && custom_roles[j]->id &&
                                    strcasecmp(custom_roles[j]->id, ra->role_definition) == 0) {
                                        custom = custom_roles[j];
                                        break;
                                }
                        if (!custom) {
                                if (!r.unresolved_role)
                                        r.unresolved_role = ra->role_definition ?: "";
                                continue;
                        }
                        /* strv is char **; the evaluator only reads. */
                        m = actions_granted(store, (const char *const *) custom->data_actions,
                                            (const char *const *) custom->not_data_actions);
                        name = custom->name ?: custom->id;
                }

                r.granted_actions |= m;
                if (!ra->has_condition)
                        acc_add(&unconditional, ra, name, !!custom, m);
                acc_add(&any, ra, name, !!custom, m);
        }

        if (!acc_result(&unconditional, &r) && acc_result(&any, &r))
                r.conditional = true;
        if (r.granted)
                r.unresolved_role = NULL;
        else
                r.unknown = r.unresolved_role != NULL;
        *ret = r;
}
