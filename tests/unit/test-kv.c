/* SPDX-License-Identifier: MIT */
/* kv: request URLs built from parsed key URLs, and the audience by key store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "kv.h"
#include "mem.h"

static void test_urls(void **state) {
        static const struct {
                const char *key, *what, *version, *api, *url;
        } rows[] = {
                {"https://myvault.vault.azure.net/keys/key1", "", NULL, NULL,
                 "https://myvault.vault.azure.net/keys/key1?api-version=7.6"},
                {"https://MyVault.vault.azure.net:443/keys/key1/", "", "", "2025-07-01",
                 "https://myvault.vault.azure.net/keys/key1?api-version=2025-07-01"},
                {"https://myvault.vault.azure.net/keys/key1/0123456789abcdef0123456789abcdef", "",
                 "0123456789abcdef0123456789abcdef", "7.5",
                 "https://myvault.vault.azure.net/keys/key1/"
                 "0123456789abcdef0123456789abcdef?api-version=7.5"},
                {"https://myvault.vault.azure.net/keys/key1", "versions", NULL, NULL,
                 "https://myvault.vault.azure.net/keys/key1/versions?maxresults=25&api-version=7.6"},
                {"https://myvault.vault.azure.net/keys/key1", "rotationpolicy", NULL, NULL,
                 "https://myvault.vault.azure.net/keys/key1/rotationpolicy?api-version=7.6"},
                {"https://myvault.vault.azure.net/keys/key1", "deleted", NULL, NULL,
                 "https://myvault.vault.azure.net/deletedkeys/key1?api-version=7.6"},
                {"https://myhsm.managedhsm.azure.net/keys/k-2", "", NULL, NULL,
                 "https://myhsm.managedhsm.azure.net/keys/k-2?api-version=7.6"},
        };

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct keyurl k;
                char *u = NULL;

                assert_int_equal(keyurl_parse(rows[i].key, &k), 0);
                assert_int_equal(kv_url(&k, rows[i].what, rows[i].version, rows[i].api, &u), 0);
                if (!streq(u, rows[i].url))
                        fail_msg("row %zu: %s", i, u);
                mem_free(u);
        }
}

static void test_misc(void **state) {
        struct keyurl k;
        char *u = NULL;

        assert_int_equal(keyurl_parse("https://myvault.vault.azure.net/keys/key1", &k), 0);
        assert_int_equal(kv_audience(&k), AZURE_AUDIENCE_VAULT);
        assert_int_equal(kv_url(&k, "bogus", NULL, NULL, &u), -EINVAL);
        assert_int_equal(kv_url(NULL, "", NULL, NULL, &u), -EINVAL);
        /* A version with characters that need escaping never reaches the path raw. */
        assert_int_equal(kv_url(&k, "", "../../secrets/x", NULL, &u), 0);
        assert_string_equal(
                u, "https://myvault.vault.azure.net/keys/key1/..%2F..%2Fsecrets%2Fx?api-version=7.6");
        mem_free(u);
        assert_int_equal(keyurl_parse("https://myhsm.managedhsm.azure.net/keys/k", &k), 0);
        assert_int_equal(kv_audience(&k), AZURE_AUDIENCE_HSM);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_misc),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
