/* SPDX-License-Identifier: MIT */
/* roles.c: data-action wildcards, the built-in role table, scope coverage, and key access
 * from role assignments (union, conditions, custom roles, unknown roles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "armid.h"
#include "roles.h"

#define VAULT_ID  "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.KeyVault/vaults/vault1"
#define KEY_SCOPE VAULT_ID "/keys/key1"
#define P1        "aaaaaaaa-0000-0000-0000-000000000001"

static void test_match(void **state) {
        static const struct {
                const char *pattern, *action;
                bool match;
        } t[] = {
                {"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/read", true},
                {"microsoft.keyvault/VAULTS/keys/READ", "Microsoft.KeyVault/vaults/keys/read", true},
                {"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/read/x", false},
                {"Microsoft.KeyVault/vaults/keys/read", "Microsoft.KeyVault/vaults/keys/rea", false},
                {"Microsoft.KeyVault/vaults/*", "Microsoft.KeyVault/vaults/keys/wrap/action", true},
                {"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/keys/unwrap/action", true},
                {"Microsoft.KeyVault/vaults/keys/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action",
                 false},
                {"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/read", true},
                {"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/wrap/action", false},
                {"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/keys/versions/read", true},
                {"*", "Microsoft.KeyVault/vaults/keys/read", true},
                {"*/read", "Microsoft.KeyVault/vaults/keys/read", true},
                {"**", "x", true},
                {"a*b*c", "aXXbYYc", true},
                {"a*b*c", "aXXbYY", false},
                {"a*b", "abab", true},
                {"", "", true},
                {"", "a", false},
                {"a", "", false},
                {"*", "", true},
                {"Microsoft.KeyVault/managedHsm/keys/*", "Microsoft.KeyVault/vaults/keys/read", false},
                {NULL, "a", false},
                {"a", NULL, false},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (role_action_match(t[i].pattern, t[i].action) != t[i].match)
                        fail_msg("match('%s', '%s') != %d", t[i].pattern ?: "NULL", t[i].action ?: "NULL",
                                 t[i].match);
}

static void test_grant(void **state) {
        const char *const all[] = {"Microsoft.KeyVault/vaults/*", NULL};
        const char *const not_unwrap[] = {"Microsoft.KeyVault/vaults/keys/unwrap/action", NULL};
        const char *const not_keys[] = {"Microsoft.KeyVault/vaults/keys/*", NULL};

        assert_true(role_actions_grant(all, NULL, "Microsoft.KeyVault/vaults/keys/unwrap/action"));
        assert_false(role_actions_grant(all, not_unwrap, "Microsoft.KeyVault/vaults/keys/unwrap/action"));
        assert_true(role_actions_grant(all, not_unwrap, "Microsoft.KeyVault/vaults/keys/wrap/action"));
        assert_false(role_actions_grant(all, not_keys, "Microsoft.KeyVault/vaults/keys/read"));
        assert_false(role_actions_grant(NULL, NULL, "Microsoft.KeyVault/vaults/keys/read"));
        assert_false(role_actions_grant(not_unwrap, all, "Microsoft.KeyVault/vaults/keys/unwrap/action"));
}

/* What each built-in role grants of read/wrap/unwrap on its own store (from the cited pages). */
static void test_builtin_table(void **state) {
        static const struct {
                const char *id, *name;
                enum key_store store;
                unsigned grants;
        } t[] = {
                {"e147488a-f6f5-4113-8e2d-b22465e65bf6", "Key Vault Crypto Service Encryption User",
                 KEY_STORE_VAULT, 7},
                {"14b46e9e-c2b7-41b4-b07b-48a6ebf60603", "Key Vault Crypto Officer", KEY_STORE_VAULT, 7},
                {"00482a5a-887f-4fb3-b363-3b7fe8e74483", "Key Vault Administrator", KEY_STORE_VAULT, 7},
                {"12338af0-0e69-4776-bea7-57ae8d297424", "Key Vault Crypto User", KEY_STORE_VAULT, 7},
                {"21090545-7ca7-4776-b22c-e363652d74d2", "Key Vault Reader", KEY_STORE_VAULT, 1},
                {"db79e9a7-68ee-4b58-9aeb-b90e7c24fcba", "Key Vault Certificate User", KEY_STORE_VAULT, 1},
                {"08bbd89e-9f13-488c-ac41-acfcb10c90ab", "Key Vault Crypto Service Release User",
                 KEY_STORE_VAULT, 0},
                {"4633458b-17de-408a-b874-0445c86b69e6", "Key Vault Secrets User", KEY_STORE_VAULT, 0},
                {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "Owner", KEY_STORE_VAULT, 0},
                {"b24988ac-6180-42a0-ab88-20f7382dd24c", "Contributor", KEY_STORE_VAULT, 0},
                {"f25e0fa2-a7c8-4377-a976-54943a77a395", "Key Vault Contributor", KEY_STORE_VAULT, 0},
                {"33413926-3206-4cdd-b39a-83574fe37a17", "Managed HSM Crypto Service Encryption User",
                 KEY_STORE_MANAGED_HSM, 7},
                {"21dbd100-6940-42c2-9190-5d6cb909625b", "Managed HSM Crypto User", KEY_STORE_MANAGED_HSM,
                 7},
                {"a290e904-7015-4bba-90c8-60543313cdb4", "Managed HSM Administrator", KEY_STORE_MANAGED_HSM,
                 0},
                {"515eb02d-2335-4d2d-92f2-b1cbdf9c3778", "Managed HSM Crypto Officer", KEY_STORE_MANAGED_HSM,
                 0},
                {"2c18b078-7c48-4d3a-af88-5a3a1b3f82b3", "Managed HSM Crypto Auditor", KEY_STORE_MANAGED_HSM,
                 1},
                {"21dbd100-6940-42c2-9190-5d6cb909625c", "Managed HSM Crypto Service Release User",
                 KEY_STORE_MANAGED_HSM, 0},
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                const struct role_builtin *b = role_builtin_find(t[i].id);
                unsigned grants = 0;

                assert_non_null(b);
                assert_string_equal(b->name, t[i].name);
                assert_int_equal(b->store, t[i].store);
                assert_true(guid_valid(b->id));
                for (unsigned a = 0; a < _ROLE_KEY_ACTION_MAX; a++)
                        if (role_actions_grant(b->data_actions, b->not_data_actions,
                                               role_key_action_name(t[i].store, a)))
                                grants |= 1u << a;
                if (grants != t[i].grants)
                        fail_msg("%s grants 0x%x, want 0x%x", t[i].name, grants, t[i].grants);
                /* No role crosses stores: vault actions and HSM actions have different names. */
                for (unsigned a = 0; a < _ROLE_KEY_ACTION_MAX; a++)
                        assert_false(role_actions_grant(b->data_actions, b->not_data_actions,
                                                        role_key_action_name(!t[i].store, a)));
        }
        assert_ptr_equal(role_builtin_find("E147488A-F6F5-4113-8E2D-B22465E65BF6"),
                         role_builtin_find("e147488a-f6f5-4113-8e2d-b22465e65bf6"));
        assert_null(role_builtin_find("e147488a-f6f5-4113-8e2d-b22465e65bf7"));
        assert_null(role_builtin_find(NULL));
        assert_null(role_builtin_find(""));
        assert_string_equal(role_builtin_recommended(KEY_STORE_VAULT)->name,
                            "Key Vault Crypto Service Encryption User");
        assert_string_equal(role_builtin_recommended(KEY_STORE_MANAGED_HSM)->name,
                            "Managed HSM Crypto Service Encryption User");
        assert_string_equal(role_key_action_name(KEY_STORE_VAULT, ROLE_KEY_READ),
                            "Microsoft.KeyVault/vaults/keys/read");
        assert_string_equal(role_key_action_name(KEY_STORE_MANAGED_HSM, ROLE_KEY_READ),
                            "Microsoft.KeyVault/managedHsm/keys/read/action");
        assert_string_equal(role_key_action_name(KEY_STORE_MANAGED_HSM, ROLE_KEY_UNWRAP),
                            "Microsoft.KeyVault/managedHsm/keys/unwrap/action");
        assert_null(role_key_action_name(KEY_STORE_VAULT, _ROLE_KEY_ACTION_MAX));
        assert_null(role_key_action_name(_KEY_STORE_MAX, ROLE_KEY_READ));
}

static void test_scope(void **state) {
        static const struct {
                enum key_store store;
                const char *scope, *key_scope;
                bool covers;
        } t[] = {
                {KEY_STORE_VAULT, KEY_SCOPE, KEY_SCOPE, true},
                {KEY_STORE_VAULT, VAULT_ID, KEY_SCOPE, true},
                {KEY_STORE_VAULT, VAULT_ID "/", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/subscriptions/s1/resourceGroups/rg1", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/subscriptions/S1/RESOURCEGROUPS/RG1", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/subscriptions/s1", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/providers/Microsoft.Management/managementGroups/root", KEY_SCOPE, true},
                {KEY_STORE_VAULT, "/subscriptions/s1/resourceGroups/rg", KEY_SCOPE, false},
                {KEY_STORE_VAULT, VAULT_ID "/keys/key2", KEY_SCOPE, false},
                {KEY_STORE_VAULT, KEY_SCOPE "/more", KEY_SCOPE, false},
                {KEY_STORE_VAULT, "/subscriptions/s2", KEY_SCOPE, false},
                {KEY_STORE_VAULT, NULL, KEY_SCOPE, false},
                {KEY_STORE_MANAGED_HSM, "/", "/keys/key1", true},
                {KEY_STORE_MANAGED_HSM, "/keys", "/keys/key1", true},
                {KEY_STORE_MANAGED_HSM, "/keys/", "/keys/key1", true},
                {KEY_STORE_MANAGED_HSM, "/keys/key1", "/keys/key1", true},
                {KEY_STORE_MANAGED_HSM, "/keys/KEY1", "/keys/key1", true},
                {KEY_STORE_MANAGED_HSM, "/keys/key2", "/keys/key1", false},
                {KEY_STORE_MANAGED_HSM, "/providers/Microsoft.Management/managementGroups/root",
                 "/keys/key1", false},
        };
        char buf[512];

        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (role_scope_covers(t[i].store, t[i].scope, t[i].key_scope) != t[i].covers)
                        fail_msg("covers('%s', '%s') != %d", t[i].scope ?: "NULL", t[i].key_scope,
                                 t[i].covers);

        assert_string_equal(role_key_scope(KEY_STORE_VAULT, VAULT_ID, "key1", buf, sizeof buf), KEY_SCOPE);
        assert_string_equal(role_key_scope(KEY_STORE_VAULT, VAULT_ID "//", "key1", buf, sizeof buf),
                            KEY_SCOPE);
        assert_string_equal(role_key_scope(KEY_STORE_MANAGED_HSM, "/ignored", "key1", buf, sizeof buf),
                            "/keys/key1");
        assert_string_equal(role_key_scope(KEY_STORE_VAULT, NULL, NULL, buf, sizeof buf), "/keys/");
        assert_string_equal(role_key_scope(KEY_STORE_VAULT, VAULT_ID, "key1", buf, 5), "/sub");
}

static char *custom_wrap[] = {"Microsoft.KeyVault/vaults/keys/wrap/action",
                              "Microsoft.KeyVault/vaults/keys/unwrap/action", NULL};
static char *custom_all[] = {"Microsoft.KeyVault/vaults/keys/*", NULL};
static char *custom_read[] = {"Microsoft.KeyVault/vaults/keys/read", NULL};

#define RA(s, p, r, c)                                                                                      \
        { .id = "ra", .scope = s, .principal_id = p, .role_definition = r, .has_condition = c }
#define CSEU    "e147488a-f6f5-4113-8e2d-b22465e65bf6"
#define READER  "21090545-7ca7-4776-b22c-e363652d74d2"
#define OWNER   "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
#define C_WRAP  "0c0ffee0-0000-0000-0000-000000000002"
#define C_ALL   "0c0ffee0-0000-0000-0000-000000000001"
#define C_READ  "0c0ffee0-0000-0000-0000-000000000004"
#define UNKNOWN "0dead000-0000-0000-0000-000000000009"

struct access_row {
        const char *name;
        struct role_assignment items[3];
        size_t n;
        bool granted, conditional, custom, unknown;
        unsigned actions;
        int via;               /* index of the expected via, -1 none */
        const char *role_name; /* expected, NULL none */
};

static void test_access(void **state) {
        static const struct access_row t[] = {
                {"none", {}, 0, false, false, false, false, 0, -1, NULL},
                {"CSEU at vault",
                 {RA(VAULT_ID, P1, CSEU, false)},
                 1,
                 true,
                 false,
                 false,
                 false,
                 7,
                 0,
                 "Key Vault Crypto Service Encryption User"},
                {"CSEU for another principal",
                 {RA(VAULT_ID, "other", CSEU, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 0,
                 -1,
                 NULL},
                {"CSEU conditional",
                 {RA(VAULT_ID, P1, CSEU, true)},
                 1,
                 true,
                 true,
                 false,
                 false,
                 7,
                 0,
                 "Key Vault Crypto Service Encryption User"},
                {"unconditional preferred over conditional",
                 {RA(VAULT_ID, P1, CSEU, true), RA(VAULT_ID, P1, CSEU, false)},
                 2,
                 true,
                 false,
                 false,
                 false,
                 7,
                 1,
                 "Key Vault Crypto Service Encryption User"},
                {"built-in preferred over custom",
                 {RA(VAULT_ID, P1, C_ALL, false), RA(VAULT_ID, P1, CSEU, false)},
                 2,
                 true,
                 false,
                 false,
                 false,
                 7,
                 1,
                 "Key Vault Crypto Service Encryption User"},
                {"custom alone",
                 {RA(VAULT_ID, P1, C_ALL, false)},
                 1,
                 true,
                 false,
                 true,
                 false,
                 7,
                 0,
                 "Custom All"},
                {"Reader + custom wrap add up",
                 {RA(VAULT_ID, P1, READER, false), RA(VAULT_ID, P1, C_WRAP, false)},
                 2,
                 true,
                 false,
                 true,
                 false,
                 7,
                 0,
                 "Key Vault Reader"},
                {"custom read + custom wrap add up",
                 {RA(VAULT_ID, P1, C_READ, false), RA(VAULT_ID, P1, C_WRAP, false)},
                 2,
                 true,
                 false,
                 true,
                 false,
                 7,
                 0,
                 "Custom Read"},
                {"union needs the conditional part",
                 {RA(VAULT_ID, P1, READER, false), RA(VAULT_ID, P1, C_WRAP, true)},
                 2,
                 true,
                 true,
                 true,
                 false,
                 7,
                 0,
                 "Key Vault Reader"},
                {"a role granting nothing is never via",
                 {RA(VAULT_ID, P1, OWNER, false), RA(VAULT_ID, P1, READER, false),
                  RA(VAULT_ID, P1, C_WRAP, false)},
                 3,
                 true,
                 false,
                 true,
                 false,
                 7,
                 1,
                 "Key Vault Reader"},
                {"Reader alone",
                 {RA(VAULT_ID, P1, READER, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 1,
                 -1,
                 NULL},
                {"wrap alone",
                 {RA(VAULT_ID, P1, C_WRAP, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 6,
                 -1,
                 NULL},
                {"Owner",
                 {RA("/subscriptions/s1", P1, OWNER, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 0,
                 -1,
                 NULL},
                {"unknown role alone",
                 {RA(VAULT_ID, P1, UNKNOWN, false)},
                 1,
                 false,
                 false,
                 false,
                 true,
                 0,
                 -1,
                 NULL},
                {"unknown role beside Reader",
                 {RA(VAULT_ID, P1, READER, false), RA(VAULT_ID, P1, UNKNOWN, false)},
                 2,
                 false,
                 false,
                 false,
                 true,
                 1,
                 -1,
                 NULL},
                {"unknown role but granted",
                 {RA(VAULT_ID, P1, UNKNOWN, false), RA(VAULT_ID, P1, CSEU, false)},
                 2,
                 true,
                 false,
                 false,
                 false,
                 7,
                 1,
                 "Key Vault Crypto Service Encryption User"},
                {"unknown role out of scope",
                 {RA(VAULT_ID "/keys/key2", P1, UNKNOWN, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 0,
                 -1,
                 NULL},
                {"CSEU on another key",
                 {RA(VAULT_ID "/keys/key2", P1, CSEU, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 0,
                 -1,
                 NULL},
                {"NULL principal in assignment",
                 {RA(VAULT_ID, NULL, CSEU, false)},
                 1,
                 false,
                 false,
                 false,
                 false,
                 0,
                 -1,
                 NULL},
        };
        const struct role_definition defs[] = {
                {.id = C_WRAP, .name = "Custom Wrap", .data_actions = custom_wrap},
                {.id = C_ALL, .name = "Custom All", .data_actions = custom_all},
                {.id = C_READ, .name = "Custom Read", .data_actions = custom_read},
        };
        const struct role_definition *custom[] = {&defs[0], &defs[1], NULL, &defs[2]};

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct role_assignment_list l = {.items = (struct role_assignment *)t[i].items,
                                                 .n_items = t[i].n};
                struct key_access a;

                memset(&a, 0x5a, sizeof a);
                roles_key_access(&l, custom, ELEMENTSOF(custom), P1, KEY_STORE_VAULT, KEY_SCOPE, &a);
                if (a.granted != t[i].granted || a.conditional != t[i].conditional ||
                    a.custom != t[i].custom || a.unknown != t[i].unknown ||
                    a.granted_actions != t[i].actions)
                        fail_msg("%s: granted=%d conditional=%d custom=%d unknown=%d actions=0x%x",
                                 t[i].name, a.granted, a.conditional, a.custom, a.unknown,
                                 a.granted_actions);
                if (t[i].via >= 0)
                        assert_ptr_equal(a.via, &l.items[t[i].via]);
                else
                        assert_null(a.via);
                if (t[i].role_name)
                        assert_string_equal(a.role_name, t[i].role_name);
                else
                        assert_null(a.role_name);
                if (t[i].unknown)
                        assert_string_equal(a.unresolved_role, UNKNOWN);
                else
                        assert_null(a.unresolved_role);
        }
        print_message("%zu access rows\n", ELEMENTSOF(t));
}

static void test_access_null(void **state) {
        struct role_assignment items[] = {RA(VAULT_ID, P1, CSEU, false)};
        struct role_assignment_list l = {.items = items, .n_items = 1};
        struct key_access a;

        roles_key_access(NULL, NULL, 0, P1, KEY_STORE_VAULT, KEY_SCOPE, &a);
        assert_false(a.granted || a.unknown);
        roles_key_access(&l, NULL, 0, NULL, KEY_STORE_VAULT, KEY_SCOPE, &a);
        assert_false(a.granted);
        roles_key_access(&l, NULL, 0, P1, KEY_STORE_VAULT, NULL, &a);
        assert_false(a.granted);
        /* A vault role evaluated for an HSM key grants nothing. */
        roles_key_access(&l, NULL, 0, P1, KEY_STORE_MANAGED_HSM, "/keys/key1", &a);
        assert_false(a.granted);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_match),         cmocka_unit_test(test_grant),
                cmocka_unit_test(test_builtin_table), cmocka_unit_test(test_scope),
                cmocka_unit_test(test_access),        cmocka_unit_test(test_access_null),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
