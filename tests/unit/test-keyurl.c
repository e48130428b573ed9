/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "armid.h"
#include "keyurl.h"

static void test_parse(void **state) {
        static const struct {
                const char *url;
                int r;
                enum key_store store;
                const char *host, *name, *version;
        } t[] = {
                { "https://myVault.vault.azure.net/keys/myKey2", 0, KEY_STORE_VAULT, "myvault.vault.azure.net", "myKey2", "" },
                { "https://myvault.vault.azure.net/keys/k/0123456789abcdef0123456789abcdef", 0, KEY_STORE_VAULT,
                  "myvault.vault.azure.net", "k", "0123456789abcdef0123456789abcdef" },
                { "HTTPS://MyVault.Vault.Azure.Net:443/keys/k/", 0, KEY_STORE_VAULT, "myvault.vault.azure.net", "k", "" },
                { "https://v1x.vault.azure.cn/keys/k/abc", 0, KEY_STORE_VAULT, "v1x.vault.azure.cn", "k", "abc" },
                { "https://hsm1.managedhsm.azure.net/keys/k/abc", 0, KEY_STORE_MANAGED_HSM, "hsm1.managedhsm.azure.net", "k", "abc" },
                { "https://hsm1.managedhsm.usgovcloudapi.net/keys/k", 0, KEY_STORE_MANAGED_HSM, "hsm1.managedhsm.usgovcloudapi.net", "k", "" },
                /* Managed HSM in every cloud: pinned, versionless, trailing slash, :443, any case */
                { "https://hsm1.managedhsm.azure.cn/keys/cmk/0123456789abcdef0123456789abcdef", 0, KEY_STORE_MANAGED_HSM,
                  "hsm1.managedhsm.azure.cn", "cmk", "0123456789abcdef0123456789abcdef" },
                { "https://hsm1.managedhsm.azure.cn/keys/cmk", 0, KEY_STORE_MANAGED_HSM, "hsm1.managedhsm.azure.cn", "cmk", "" },
                { "https://hsm1.managedhsm.usgovcloudapi.net/keys/cmk/0123456789abcdef0123456789abcdef", 0,
                  KEY_STORE_MANAGED_HSM, "hsm1.managedhsm.usgovcloudapi.net", "cmk", "0123456789abcdef0123456789abcdef" },
                { "https://Contoso-HSM.ManagedHSM.Azure.Net:443/keys/CMK-1/", 0, KEY_STORE_MANAGED_HSM,
                  "contoso-hsm.managedhsm.azure.net", "CMK-1", "" },
                { "https://hsm-prod.managedhsm.azure.net/keys/cmk1/61d309592a46a5040b74d61b20f173c5", 0,
                  KEY_STORE_MANAGED_HSM, "hsm-prod.managedhsm.azure.net", "cmk1", "61d309592a46a5040b74d61b20f173c5" },
                /* a vault and an HSM of the same name are different stores */
                { "https://same-name.vault.azure.net/keys/k", 0, KEY_STORE_VAULT, "same-name.vault.azure.net", "k", "" },
                { "https://same-name.managedhsm.azure.net/keys/k", 0, KEY_STORE_MANAGED_HSM,
                  "same-name.managedhsm.azure.net", "k", "" },
                /* not HSM URLs: other suffixes, the HSM's other objects, a region label, wrong names */
                { "https://hsm1.managedhsm.microsoftazure.de/keys/k", -EINVAL },
                { "https://hsm1.managedhsm.azure.com/keys/k", -EINVAL },
                { "https://westus.hsm1.managedhsm.azure.net/keys/k", -EINVAL },
                { "https://hsm1.managedhsm.azure.net/secrets/k", -EINVAL },
                { "https://hsm1.managedhsm.azure.net/providers/Microsoft.Authorization/roleAssignments", -EINVAL },
                { "https://hsm1.managedhsm.azure.net/keys/k/v/x", -EINVAL },
                { "https://1hsm.managedhsm.azure.net/keys/k", -EINVAL },
                { "https://hsm-.managedhsm.azure.net/keys/k", -EINVAL },
                { "https://managedhsm.azure.net/keys/k", -EINVAL },
                { "https://hsm1.managedhsm.azure.net:444/keys/k", -EINVAL },
                { "http://myvault.vault.azure.net/keys/k", -EINVAL },
                { "https://myvault.vault.azure.net:8443/keys/k", -EINVAL },
                { "https://myvault.evil.example/keys/k", -EINVAL },
                { "https://evil.example/x.vault.azure.net/keys/k", -EINVAL },
                { "https://user@myvault.vault.azure.net/keys/k", -EINVAL },
                { "https://myvault.vault.azure.net/secrets/k", -EINVAL },
                { "https://myvault.vault.azure.net/keys/", -EINVAL },
                { "https://myvault.vault.azure.net/keys/k/v/extra", -EINVAL },
                { "https://myvault.vault.azure.net/keys/k?api-version=7.4", -EINVAL },
                { "https://myvault.vault.azure.net/keys/k_1", -EINVAL },
                { "https://my--vault.vault.azure.net/keys/k", -EINVAL },
                { "https://ab.vault.azure.net/keys/k", -EINVAL },
                { "", -EINVAL },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                struct keyurl k;
                int r = keyurl_parse(t[i].url, &k);

                if (r != t[i].r)
                        fail_msg("keyurl_parse(\"%s\") = %d, want %d", t[i].url, r, t[i].r);
                if (r < 0)
                        continue;
                assert_int_equal(k.store, t[i].store);
                assert_string_equal(k.host, t[i].host);
                assert_string_equal(k.name, t[i].name);
                assert_string_equal(k.version, t[i].version);
        }
}

static void test_format(void **state) {
        char buf[KEYURL_MAX];
        struct keyurl k;

        assert_int_equal(keyurl_parse("https://MyVault.vault.azure.net/keys/MyKey/abc", &k), 0);
        assert_string_equal(keyurl_format_versionless(&k, buf, sizeof buf), "https://myvault.vault.azure.net/keys/MyKey");
        assert_string_equal(keyurl_format_version(&k, "def", buf, sizeof buf),
                            "https://myvault.vault.azure.net/keys/MyKey/def");
        assert_string_equal(keyurl_key_id(&k, buf, sizeof buf), "myvault.vault.azure.net/keys/mykey");
        assert_true(keyurl_suffix_allowed(&k, (char *[]) { "vault.azure.net", NULL }));
        assert_false(keyurl_suffix_allowed(&k, (char *[]) { "vault.azure.cn", NULL }));

        /* HSM URLs format, identify and check against the HSM suffixes the same way. */
        assert_int_equal(keyurl_parse("https://HSM1.managedhsm.azure.cn/keys/Cmk/abc", &k), 0);
        assert_string_equal(k.store_name, "hsm1");
        assert_string_equal(k.suffix, "managedhsm.azure.cn");
        assert_string_equal(key_store_to_string(k.store), "managed-hsm");
        assert_string_equal(keyurl_format_versionless(&k, buf, sizeof buf), "https://hsm1.managedhsm.azure.cn/keys/Cmk");
        assert_string_equal(keyurl_format_version(&k, "def", buf, sizeof buf),
                            "https://hsm1.managedhsm.azure.cn/keys/Cmk/def");
        assert_string_equal(keyurl_key_id(&k, buf, sizeof buf), "hsm1.managedhsm.azure.cn/keys/cmk");
        assert_true(keyurl_suffix_allowed(&k, (char *[]) { "managedhsm.azure.cn", NULL }));
        assert_false(keyurl_suffix_allowed(&k, (char *[]) { "managedhsm.azure.net", "vault.azure.cn", NULL }));
        assert_string_equal(key_store_to_string(KEY_STORE_VAULT), "vault");
        assert_null(key_store_to_string(_KEY_STORE_MAX));
}

static void test_armid(void **state) {
        struct armid a;

        assert_int_equal(armid_parse("/subscriptions/s1/resourcegroups/RG/providers/Microsoft.DocumentDB/mongoClusters/c1", &a), 0);
        assert_string_equal(a.subscription, "s1");
        assert_string_equal(a.resource_group, "RG");
        assert_string_equal(a.provider, "Microsoft.DocumentDB");
        assert_string_equal(a.type, "mongoClusters");
        assert_string_equal(a.name, "c1");
        assert_int_equal(armid_parse("/subscriptions/s1/resourceGroups/RG", &a), -EINVAL);
        assert_int_equal(armid_parse("/subscriptions/s1/resourceGroups/RG/providers/X/y/z/extra", &a), -EINVAL);
        assert_true(armid_equal("/subscriptions/S/resourceGroups/a", "/subscriptions/s/resourcegroups/A/"));
        assert_true(armid_scope_covers("/subscriptions/s", "/subscriptions/S/resourceGroups/x"));
        assert_true(armid_scope_covers("/", "/subscriptions/s"));
        assert_false(armid_scope_covers("/subscriptions/s", "/subscriptions/s2"));
        assert_false(armid_scope_covers("/subscriptions/s/resourceGroups/x", "/subscriptions/s"));
        assert_string_equal(armid_last_segment("/providers/Microsoft.Authorization/roleDefinitions/abc"), "abc");
        assert_true(guid_valid("e147488a-f6f5-4113-8e2d-b22465e65bf6"));
        assert_false(guid_valid("e147488a-f6f5-4113-8e2d-b22465e65bf"));
        assert_false(guid_valid("e147488af6f5-4113-8e2d-b22465e65bf6x"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_format),
                cmocka_unit_test(test_armid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
