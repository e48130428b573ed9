/* SPDX-License-Identifier: MIT */
/* The update request body against the spec's CMK example, the global gates, and the
 * check of a cluster after its update. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json.h>

#include "fileio.h"
#include "mem.h"
#include "strv.h"
#include "update.h"

#define UAMI "/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/TestResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/myidentity2"
#define NEW_URL "https://myVault.vault.azure.net/keys/myKey2"

static const char *data_dir(void) {
        return getenv("CMKD_TEST_DATA") ?: "tests/data";
}

/* True if a and b have the same members, recursively, with the same JSON types. */
static bool same_shape(struct json_object *a, struct json_object *b, const char *path) {
        if (json_object_get_type(a) != json_object_get_type(b)) {
                print_error("%s: type %s != %s\n", path, json_type_to_name(json_object_get_type(a)),
                            json_type_to_name(json_object_get_type(b)));
                return false;
        }
        if (json_object_is_type(a, json_type_object)) {
                if (json_object_object_length(a) != json_object_object_length(b)) {
                        print_error("%s: %d members != %d\n", path, json_object_object_length(a),
                                    json_object_object_length(b));
                        return false;
                }
                json_object_object_foreach(a, key, va) {
                        struct json_object *vb;
                        char sub[512];

                        snprintf(sub, sizeof sub, "%s.%s", path, key);
                        if (!json_object_object_get_ex(b, key, &vb)) {
                                print_error("%s missing\n", sub);
                                return false;
                        }
                        if (!same_shape(va, vb, sub))
                                return false;
                }
        }
        return true;
}

static struct json_object *example_request(void) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        struct json_object *root, *params, *body;

        assert_true(asprintf(&path, "%s/reference/mongocluster/2025-09-01/MongoClusters_PatchCMK.json", data_dir()) > 0);
        assert_int_equal(read_file_bounded(path, 1 << 20, &text, NULL), 0);
        free(TAKE_PTR(path));
        root = json_tokener_parse(text);
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "parameters", &params));
        assert_true(json_object_object_get_ex(params, "properties", &body));
        json_object_get(body);
        json_object_put(root);
        return body;
}

static struct cluster *example_cluster(void) {
        struct cluster *c = new0(struct cluster, 1);

        c->id = mem_strdup("/subscriptions/ffffffff-ffff-ffff-ffff-ffffffffffff/resourceGroups/TestResourceGroup/providers/Microsoft.DocumentDB/mongoClusters/myMongoCluster");
        c->location = mem_strdup("westus2");
        c->customer_managed = true;
        c->kek_identity_id = mem_strdup(UAMI);
        c->key_url = mem_strdup("https://myVault.vault.azure.net/keys/myKey2/0123");
        c->provisioning_state = mem_strdup("Succeeded");
        c->cluster_status = mem_strdup("Ready");
        c->identity_type = mem_strdup("UserAssigned");
        c->assigned = new0(struct assigned_identity, 1);
        c->assigned[0].id = mem_strdup(UAMI);
        c->n_assigned = 1;
        return c;
}

static void test_patch_body_matches_example(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = example_cluster();
        struct json_object *want = example_request(), *got;
        struct buf b;

        buf_init(&b, 0);
        assert_int_equal(update_build_body(c, NEW_URL, UPDATE_METHOD_PATCH, &b), 0);
        got = json_tokener_parse(buf_str(&b));
        assert_non_null(got);
        assert_true(same_shape(got, want, "$"));
        /* Same values, too: the example updates to myKey2 with myidentity2. */
        assert_string_equal(json_object_to_json_string_ext(got, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
                            json_object_to_json_string_ext(want, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(got);
        json_object_put(want);
        buf_done(&b);
}

static void test_put_body(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = example_cluster();
        struct json_object *want = example_request(), *got, *loc;
        struct buf b;

        /* The product docs' PUT for an existing cluster: the PATCH body plus location. */
        json_object_object_add(want, "location", json_object_new_string("westus2"));
        buf_init(&b, 0);
        assert_int_equal(update_build_body(c, NEW_URL, UPDATE_METHOD_PUT, &b), 0);
        got = json_tokener_parse(buf_str(&b));
        assert_true(same_shape(got, want, "$"));
        assert_true(json_object_object_get_ex(got, "location", &loc));
        assert_string_equal(json_object_get_string(loc), "westus2");
        json_object_put(got);
        json_object_put(want);

        /* Identity and key always together: no body without the identity. */
        buf_clear(&b);
        mem_free(c->kek_identity_id);
        c->kek_identity_id = NULL;
        assert_int_equal(update_build_body(c, NEW_URL, UPDATE_METHOD_PUT, &b), -EINVAL);
        assert_int_equal(b.len, 0);
        buf_done(&b);
}

static void test_body_escapes(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = example_cluster();
        struct json_object *got;
        struct buf b;

        mem_free(c->location);
        c->location = mem_strdup("west\"us\\2");
        buf_init(&b, 0);
        assert_int_equal(update_build_body(c, NEW_URL, UPDATE_METHOD_PUT, &b), 0);
        got = json_tokener_parse(buf_str(&b));
        assert_non_null(got);
        json_object_put(got);
        buf_done(&b);
}

static void test_gate(void **state) {
        _cleanup_(conf_freep) struct conf *c = NULL;
        char **errors = NULL;
        usec_t monday_noon = 1763985600ULL * USEC_PER_SEC, sunday_noon = monday_noon - USEC_PER_DAY;
        static const struct {
                enum run_mode mode;
                bool in_flight;
                unsigned started;
                bool sunday;
                enum refusal want;
        } t[] = {
                { MODE_ENFORCE, false, 0, false, REFUSAL_NONE },
                { MODE_ENFORCE, true, 0, false, REFUSAL_IN_FLIGHT },
                { MODE_ALERT_ONLY, false, 0, false, REFUSAL_MODE },
                { MODE_ALERT_ONLY, true, 0, false, REFUSAL_IN_FLIGHT },
                { MODE_ENFORCE, false, 0, true, REFUSAL_OUTSIDE_WINDOW },
                { MODE_DRY_RUN, false, 0, true, REFUSAL_OUTSIDE_WINDOW },
                { MODE_ENFORCE, false, 1, false, REFUSAL_NONE },
                { MODE_ENFORCE, false, 2, false, REFUSAL_BUDGET },
                { MODE_DRY_RUN, false, 2, false, REFUSAL_NONE },
        };

        /* 2025-11-24 is a Monday. */
        assert_int_equal(conf_load_string("[Policy]\nMaxUpdatesPerSweep=2\nChangeWindow=Mon..Fri 08:00-17:00\n", "t",
                                          &c, &errors),
                         0);
        strv_free(errors);
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                enum refusal r = update_gate(c, t[i].mode, t[i].in_flight, t[i].started,
                                             t[i].sunday ? sunday_noon : monday_noon);
                if (r != t[i].want)
                        fail_msg("row %zu: %s, want %s", i, refusal_to_string(r), refusal_to_string(t[i].want));
        }
}

static void test_verify(void **state) {
        static const struct {
                const char *ps, *status, *url, *kek;
                bool assigned;
                enum update_check want;
        } t[] = {
                { "Succeeded", "Ready", NEW_URL, UAMI, true, UPDATE_CHECK_OK },
                { "Succeeded", "Ready", "https://MYVAULT.vault.azure.net/keys/MYKEY2/", UAMI, true, UPDATE_CHECK_OK },
                { "Updating", "Updating", NEW_URL, UAMI, true, UPDATE_CHECK_PENDING },
                { "Succeeded", "Updating", NEW_URL, UAMI, true, UPDATE_CHECK_PENDING },
                { "InProgress", "Ready", NEW_URL, UAMI, true, UPDATE_CHECK_PENDING },
                { "Succeeded", "Ready", "https://myVault.vault.azure.net/keys/myKey2/0123", UAMI, true, UPDATE_CHECK_WRONG_KEY },
                { "Failed", "Ready", "https://myVault.vault.azure.net/keys/myKey2/0123", UAMI, true, UPDATE_CHECK_WRONG_KEY },
                { "Failed", "Ready", NEW_URL, UAMI, true, UPDATE_CHECK_NOT_READY },
                { "Succeeded", "Inaccessible", NEW_URL, UAMI, true, UPDATE_CHECK_NOT_READY },
                { "Succeeded", "Ready", NEW_URL, UAMI, false, UPDATE_CHECK_IDENTITY_LOST },
                { "Succeeded", "Ready", NEW_URL, UAMI "x", true, UPDATE_CHECK_IDENTITY_LOST },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(cluster_freep) struct cluster *c = example_cluster();
                enum update_check r;

                mem_free(c->provisioning_state);
                mem_free(c->cluster_status);
                mem_free(c->key_url);
                mem_free(c->kek_identity_id);
                c->provisioning_state = mem_strdup(t[i].ps);
                c->cluster_status = mem_strdup(t[i].status);
                c->key_url = mem_strdup(t[i].url);
                c->kek_identity_id = mem_strdup(t[i].kek);
                if (!t[i].assigned) {
                        /* Another identity assigned instead (n_assigned = 0 would leak it). */
                        mem_free(c->assigned[0].id);
                        c->assigned[0].id = mem_strdup(UAMI "-other");
                }
                r = update_verify(c, NEW_URL, UAMI);
                if (r != t[i].want)
                        fail_msg("row %zu: %s, want %s", i, update_check_to_string(r),
                                 update_check_to_string(t[i].want));
        }
}

static void test_not_applied(void **state) {
        static const char *const old_url = "https://myVault.vault.azure.net/keys/myKey2/0123";
        static const struct {
                const char *ps, *status, *url, *old;
                bool want;
        } t[] = {
                /* No trace of the request: still on the old key, nothing under way. */
                { "Succeeded", "Ready", "https://myvault.vault.azure.net/keys/MYKEY2/0123", old_url, true },
                { "Failed", "Ready", "https://myVault.vault.azure.net/keys/myKey2/0123", old_url, true },
                { "Succeeded", "Inaccessible", "https://myVault.vault.azure.net/keys/myKey2/0123", old_url, true },
                /* The request arrived: under way, or done. */
                { "Updating", "Updating", "https://myVault.vault.azure.net/keys/myKey2/0123", old_url, false },
                { "InProgress", "Ready", "https://myVault.vault.azure.net/keys/myKey2/0123", old_url, false },
                { "Succeeded", "Updating", "https://myVault.vault.azure.net/keys/myKey2/0123", old_url, false },
                { "Succeeded", "Ready", NEW_URL, old_url, false },
                /* Someone else changed the key: not "ours never arrived". */
                { "Succeeded", "Ready", "https://myVault.vault.azure.net/keys/other/0123", old_url, false },
                { "Succeeded", "Ready", "https://myVault.vault.azure.net/keys/myKey2/0123", NULL, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                _cleanup_(cluster_freep) struct cluster *c = example_cluster();

                mem_free(c->provisioning_state);
                mem_free(c->cluster_status);
                mem_free(c->key_url);
                c->provisioning_state = mem_strdup(t[i].ps);
                c->cluster_status = mem_strdup(t[i].status);
                c->key_url = mem_strdup(t[i].url);
                if (update_not_applied(c, t[i].old) != t[i].want)
                        fail_msg("row %zu: want %s", i, t[i].want ? "true" : "false");
        }
}

static void test_alloc_failure(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = example_cluster();

        for (unsigned long n = 1;; n++) {
                struct buf b;
                int r;

                buf_init(&b, 0);
                mem_fail_at(n, false);
                r = update_build_body(c, NEW_URL, UPDATE_METHOD_PUT, &b);
                mem_fail_at(0, false);
                buf_done(&b);
                if (r == 0)
                        break;
                assert_int_equal(r, -ENOMEM);
                assert_true(n < 100);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_patch_body_matches_example),
                cmocka_unit_test(test_put_body),
                cmocka_unit_test(test_body_escapes),
                cmocka_unit_test(test_gate),
                cmocka_unit_test(test_verify),
                cmocka_unit_test(test_not_applied),
                cmocka_unit_test(test_alloc_failure),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
