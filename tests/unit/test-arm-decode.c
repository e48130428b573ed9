/* SPDX-License-Identifier: MIT */
/* arm_decode: every ARM reference example and our own samples decode with the expected
 * fields; malformed and wrongly typed input of every kind gives -EBADMSG or -E2BIG with
 * *ret untouched; every allocation failure gives -ENOMEM without a leak.
 * Data: tests/data (override with CMKD_TEST_DATA); run from the repository root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "arm_decode.h"
#include "json_util.h"
#include "mem.h"
#include "strpool.h"
#include "strv.h"
#include "timeutil.h"

#include "decode-fixture.h"

/* ---- decoders under test ---------------------------------------------------------- */

DEFINE_TRY(cluster, arm_decode_cluster, struct cluster, cluster_free)
DEFINE_TRY(cluster_list, arm_decode_cluster_list, struct cluster_list, cluster_list_free)
DEFINE_TRY(vault, arm_decode_vault, struct vault, vault_free)
DEFINE_TRY(vault_list, arm_decode_vault_list, struct vault_list, vault_list_free)
DEFINE_TRY(hsm, arm_decode_managed_hsm, struct vault, vault_free)
DEFINE_TRY(hsm_list, arm_decode_managed_hsm_list, struct vault_list, vault_list_free)
DEFINE_TRY(deleted_vault, arm_decode_deleted_vault, struct deleted_vault, deleted_vault_free)
DEFINE_TRY(deleted_vault_list, arm_decode_deleted_vault_list, struct deleted_vault_list, deleted_vault_list_free)
DEFINE_TRY(deleted_hsm_list, arm_decode_deleted_managed_hsm_list, struct deleted_vault_list,
           deleted_vault_list_free)
DEFINE_TRY(identity, arm_decode_identity, struct identity, identity_free)
DEFINE_TRY(subscription_list, arm_decode_subscription_list, struct subscription_list, subscription_list_free)
DEFINE_TRY(role_assignment_list, arm_decode_role_assignment_list, struct role_assignment_list,
           role_assignment_list_free)
DEFINE_TRY(role_definition, arm_decode_role_definition, struct role_definition, role_definition_free)
DEFINE_TRY(role_definition_list, arm_decode_role_definition_list, struct role_definition_list,
           role_definition_list_free)
DEFINE_TRY(operation_status, arm_decode_operation_status, struct arm_operation_status, arm_operation_status_free)

static const struct decoder decoders[] = {
        { "cluster", try_cluster },
        { "cluster_list", try_cluster_list },
        { "vault", try_vault },
        { "vault_list", try_vault_list },
        { "managed_hsm", try_hsm },
        { "managed_hsm_list", try_hsm_list },
        { "deleted_vault", try_deleted_vault },
        { "deleted_vault_list", try_deleted_vault_list },
        { "deleted_managed_hsm_list", try_deleted_hsm_list },
        { "identity", try_identity },
        { "subscription_list", try_subscription_list },
        { "role_assignment_list", try_role_assignment_list },
        { "role_definition", try_role_definition },
        { "role_definition_list", try_role_definition_list },
        { "operation_status", try_operation_status },
};

static char *nested(size_t depth, size_t *ret_len) {
        /* {"a":{"a":...{}...}} */
        size_t n = depth * 6 + 2 + depth;
        char *s = malloc(n + 1), *p = s;

        assert_non_null(s);
        for (size_t i = 0; i < depth; i++)
                p += sprintf(p, "{\"a\":");
        p += sprintf(p, "{}");
        for (size_t i = 0; i < depth; i++)
                *p++ = '}';
        *p = 0;
        *ret_len = (size_t) (p - s);
        return s;
}

/* ---- every decoder against malformed documents ------------------------------------ */

static void test_generic_malformed(void **state) {
        static const struct {
                const char *body;
                size_t len;
                int r;
        } t[] = {
                { S(""), -EBADMSG },
                { S("   "), -EBADMSG },
                { S("{"), -EBADMSG },
                { S("{\"value\":[{\"id\":\"x\""), -EBADMSG }, /* truncated */
                { S("[]"), -EBADMSG },
                { S("null"), -EBADMSG },
                { S("\"x\""), -EBADMSG },
                { S("42"), -EBADMSG },
                { S("true"), -EBADMSG },
                { S("{} x"), -EBADMSG },
                { S("{}{}"), -EBADMSG },
                { S("{\"a\":1,}"), -EBADMSG },
                { S("/* c */ {}"), -EBADMSG },
                { S("{\"a\":\"\xff\"}"), -EBADMSG },         /* not UTF-8 */
                { S("{\"a\":\"\xc0\x80\"}"), -EBADMSG },     /* overlong NUL */
                { S("{\"a\":\"\xed\xa0\x80\"}"), -EBADMSG }, /* surrogate */
                { S("{\"a\":\"x\\u0000y\"}"), -EBADMSG },    /* escaped NUL */
                { S("{\"a\\u0000b\":1}"), -EBADMSG },
                { S("{\"id\":\"a\0b\"}"), -EBADMSG }, /* raw NUL inside a string */
                { S("{}\0"), -EBADMSG },              /* raw NUL after the object */
                { S("\xef\xbb\xbf[]"), -EBADMSG },
                { S("{\"a\":tru}"), -EBADMSG },
                { S("{\"a\":01}"), -EBADMSG },
        };

        for (size_t d = 0; d < ELEMENTSOF(decoders); d++)
                for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                        int r = decoders[d].try(t[i].body, t[i].len);

                        if (r != t[i].r)
                                fail_msg("%s: malformed case %zu gave %d, want %d", decoders[d].name, i, r, t[i].r);
                }
}

static void test_generic_limits(void **state) {
        size_t n;
        char *deep = nested(1000, &n), *edge;

        for (size_t d = 0; d < ELEMENTSOF(decoders); d++) {
                assert_int_equal(decoders[d].try(deep, n), -E2BIG);
                /* Length past the cap is refused before a byte is read. */
                assert_int_equal(decoders[d].try("{}", JSON_DOC_MAX + 1), -E2BIG);
                assert_int_equal(decoders[d].try(NULL, 0), -EBADMSG);
        }
        free(deep);

        /* The depth limit sits at JSON_DEPTH_MAX levels. */
        edge = nested(JSON_DEPTH_MAX - 2, &n);
        assert_int_equal(try_operation_status(edge, n), -EBADMSG); /* parses; no status */
        free(edge);
        edge = nested(JSON_DEPTH_MAX, &n);
        assert_int_equal(try_operation_status(edge, n), -E2BIG);
        free(edge);
}

/* ---- mongoClusters ---------------------------------------------------------------- */

#define SUB "ffffffff-ffff-ffff-ffff-ffffffffffff"
#define UAMI(name) "/subscriptions/" SUB "/resourceGroups/TestResourceGroup/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" name
#define CLUSTER_ID(name) "/subscriptions/" SUB "/resourceGroups/TestResourceGroup/providers/Microsoft.DocumentDB/mongoClusters/" name

static const struct cluster_case {
        const char *file, *code;
        const char *id, *name, *location, *provisioning, *status, *role, *create_mode;
        bool cmk;
        const char *key_url, *kek_id, *identity_type;
        size_t n_assigned;
        const char *principal_id, *client_id; /* of the KEK identity in the identity map */
        size_t n_tags;
} cluster_cases[] = {
        /* The PatchCMK 200 body: the key URL and identity after a CMK change. */
        { "reference/mongocluster/2025-09-01/MongoClusters_PatchCMK.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", NULL, NULL, "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey2", UAMI("myidentity2"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2026-06-01/MongoClusters_PatchCMK.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", NULL, NULL, "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey2", UAMI("myidentity2"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        /* 2025-09-01 Create_CMK names the cluster itself as identity (an example bug); we
         * decode what is sent and leave judging it to the policy. */
        { "reference/mongocluster/2025-09-01/MongoClusters_Create_CMK.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "Succeeded", "Ready", "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey", CLUSTER_ID("myMongoCluster"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2025-09-01/MongoClusters_Create_CMK.json", "201", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "InProgress", "Provisioning", "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey", CLUSTER_ID("myMongoCluster"), "UserAssigned", 1, NULL,
          NULL, 0 },
        { "reference/mongocluster/2026-06-01/MongoClusters_Create_CMK.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "Succeeded", "Ready", "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey", UAMI("myidentity"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2026-06-01/MongoClusters_Create_CMK.json", "201", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "InProgress", "Provisioning", "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey", UAMI("myidentity"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2025-09-01/MongoClusters_CreatePITR_CMK.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "Succeeded", "Ready", "Primary", "Default", true,
          "https://myVault.vault.azure.net/keys/myKey", UAMI("myidentity"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2025-09-01/MongoClusters_CreatePITR_CMK.json", "201", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "InProgress", "Provisioning", "Primary", "PointInTimeRestore", true,
          "https://myVault.vault.azure.net/keys/myKey", UAMI("myidentity"), "UserAssigned", 1,
          "00000000-0000-0000-0000-000000000000", "11111111-1111-1111-1111-111111111111", 0 },
        /* Geo replica. */
        { "reference/mongocluster/2025-09-01/MongoClusters_CreateGeoReplica_CMK.json", "200",
          CLUSTER_ID("myReplicaMongoCluster"), "myReplicaMongoCluster", "centralus", "Succeeded", "Ready",
          "GeoAsyncReplica", "GeoReplica", true, "https://myVault.vault.azure.net/keys/myKey",
          CLUSTER_ID("myReplicaMongoCluster"), "UserAssigned", 1, "00000000-0000-0000-0000-000000000000",
          "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2025-09-01/MongoClusters_CreateGeoReplica_CMK.json", "201",
          CLUSTER_ID("myReplicaMongoCluster"), "myReplicaMongoCluster", "centralus", "InProgress", "Provisioning",
          "GeoAsyncReplica", "GeoReplica", true, "https://myVault.vault.azure.net/keys/myKey",
          CLUSTER_ID("myReplicaMongoCluster"), "UserAssigned", 1, NULL, NULL, 0 },
        { "reference/mongocluster/2026-06-01/MongoClusters_CreateGeoReplica_CMK.json", "200",
          CLUSTER_ID("myReplicaMongoCluster"), "myReplicaMongoCluster", "centralus", "Succeeded", "Ready",
          "GeoAsyncReplica", "GeoReplica", true, "https://myVault.vault.azure.net/keys/myKey",
          CLUSTER_ID("myReplicaMongoCluster"), "UserAssigned", 1, "00000000-0000-0000-0000-000000000000",
          "11111111-1111-1111-1111-111111111111", 0 },
        { "reference/mongocluster/2026-06-01/MongoClusters_CreateGeoReplica_CMK.json", "201",
          CLUSTER_ID("myReplicaMongoCluster"), "myReplicaMongoCluster", "centralus", "InProgress", "Provisioning",
          "GeoAsyncReplica", "GeoReplica", true, "https://myVault.vault.azure.net/keys/myKey",
          CLUSTER_ID("myReplicaMongoCluster"), "UserAssigned", 1, NULL, NULL, 0 },
        /* Service-managed clusters: no encryption block, no identity. */
        { "reference/mongocluster/2025-09-01/MongoClusters_Get.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "Succeeded", NULL, "Primary", NULL, false, NULL, NULL, NULL, 0, NULL, NULL,
          3 },
        { "reference/mongocluster/2026-06-01/MongoClusters_Update.json", "200", CLUSTER_ID("myMongoCluster"),
          "myMongoCluster", "westus2", "Succeeded", NULL, "Primary", NULL, false, NULL, NULL, NULL, 0, NULL, NULL,
          0 },
};

static void check_cluster(const struct cluster_case *t, const struct cluster *c) {
        const struct assigned_identity *a;

        assert_string_equal(c->id, t->id);
        assert_string_equal(c->name, t->name);
        assert_string_equal(c->subscription, SUB);
        assert_string_equal(c->resource_group, "TestResourceGroup");
        assert_string_equal(c->location, t->location);
        assert_true(streq_ptr(c->provisioning_state, t->provisioning));
        assert_true(streq_ptr(c->cluster_status, t->status));
        assert_true(streq_ptr(c->replica_role, t->role));
        assert_true(streq_ptr(c->create_mode, t->create_mode));
        assert_int_equal(c->customer_managed, t->cmk);
        assert_true(streq_ptr(c->key_url, t->key_url));
        assert_true(streq_ptr(c->kek_identity_id, t->kek_id));
        if (t->cmk)
                assert_string_equal(c->kek_identity_type, "UserAssignedIdentity");
        assert_true(streq_ptr(c->identity_type, t->identity_type));
        assert_int_equal(c->n_assigned, t->n_assigned);
        assert_int_equal(c->n_tags, t->n_tags);
        if (t->n_assigned == 0)
                return;
        a = cluster_find_assigned(c, t->kek_id);
        assert_non_null(a);
        assert_true(streq_ptr(a->principal_id, t->principal_id));
        assert_true(streq_ptr(a->client_id, t->client_id));
}

static void test_cluster_examples(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(cluster_cases); i++) {
                const struct cluster_case *t = &cluster_cases[i];
                _cleanup_(cluster_freep) struct cluster *c = NULL;
                size_t n;
                char *b = example_body(t->file, t->code, &n);
                int r = arm_decode_cluster(b, n, &c);

                if (r != 0)
                        fail_msg("%s %s: %d", t->file, t->code, r);
                check_cluster(t, c);
                check_oom(try_cluster, t->file, b, n);
                free(b);
        }
}

static void test_cluster_local(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = NULL, *s = NULL;
        const struct assigned_identity *a;
        size_t n;
        char *b = read_data("local/cluster-versioned.json", &n);

        /* Versioned key URL, extra identities (one null, one {}), an unknown clusterStatus
         * and unknown members, all kept or ignored as documented. */
        assert_int_equal(arm_decode_cluster(b, n, &c), 0);
        assert_string_equal(c->subscription, "11111111-2222-3333-4444-555555555555");
        assert_string_equal(c->resource_group, "Prod-RG");
        assert_string_equal(c->cluster_status, "Inaccessible");
        assert_string_equal(c->replication_state, "Broken");
        assert_string_equal(c->key_url, "https://prod-kv-01.vault.azure.net/keys/orders-kek/0123456789abcdef0123456789abcdef");
        assert_string_equal(c->identity_type, "SystemAssigned,UserAssigned");
        assert_int_equal(c->n_assigned, 3);
        a = cluster_find_assigned(c, "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/prod-rg/providers/"
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/CMK-ID");
        assert_non_null(a);
        assert_string_equal(a->principal_id, "aaaaaaaa-0000-0000-0000-000000000001");
        a = cluster_find_assigned(c, "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/Prod-RG/providers/"
                                     "Microsoft.ManagedIdentity/userAssignedIdentities/other-id");
        assert_non_null(a);
        assert_null(a->principal_id);
        assert_null(a->client_id);
        assert_int_equal(c->n_tags, 2); /* the null tag is dropped */
        assert_string_equal(cluster_tag(c, "CMKD-POLICY"), "strict");
        check_oom(try_cluster, "cluster-versioned", b, n);
        free(b);

        b = read_data("local/cluster-service-managed.json", &n);
        assert_int_equal(arm_decode_cluster(b, n, &s), 0);
        assert_false(s->customer_managed);
        assert_null(s->key_url);
        assert_null(s->identity_type);
        assert_string_equal(s->name, "smk-cluster"); /* from the id */
        assert_null(s->create_mode);
        free(b);
}

/* cluster_pack(): one block with every string and array, equal strings stored once, the
 * same values; without memory, the cluster stays as it was. Decoded clusters are packed. */
static bool within(const void *p, const struct cluster *c) {
        return (const char *) p > (const char *) c && (const char *) p < (const char *) c + 4096;
}

static void test_cluster_packed(void **state) {
        _cleanup_(cluster_freep) struct cluster *c = NULL, *d = NULL;
        struct cluster *before;
        size_t n;
        char *b;

        c = new0(struct cluster, 1);
        assert_non_null(c);
        c->id = mem_strdup("/subscriptions/s/resourceGroups/rg/providers/Microsoft.DocumentDB/mongoClusters/c1");
        c->name = mem_strdup("c1");
        c->subscription = mem_strdup("s");
        c->cluster_status = mem_strdup("Ready");
        c->customer_managed = true;
        c->kek_identity_id = mem_strdup("/subscriptions/s/resourceGroups/rg/providers/x/uami");
        c->key_url = mem_strdup("https://kv.vault.azure.net/keys/k");
        c->assigned = new0(struct assigned_identity, 2);
        c->n_assigned = 2;
        c->assigned[0].id = mem_strdup("/subscriptions/s/resourceGroups/rg/providers/x/uami");
        c->assigned[0].principal_id = mem_strdup("p0");
        c->assigned[1].id = mem_strdup("/other");
        c->tags = new0(struct cluster_tag, 1);
        c->n_tags = 1;
        c->tags[0].name = mem_strdup("owner");
        c->tags[0].value = mem_strdup("s"); /* equal to the subscription: stored once */

        before = c;
        mem_fail_at(1, false);
        assert_int_equal(cluster_pack(&c), -ENOMEM);
        mem_fail_at(0, false);
        assert_ptr_equal(c, before);
        assert_false(c->packed);

        assert_int_equal(cluster_pack(&c), 0);
        assert_true(c->packed);
        assert_string_equal(c->name, "c1");
        assert_string_equal(c->cluster_status, "Ready");
        assert_null(c->location);
        assert_null(c->assigned[1].principal_id);
        assert_string_equal(c->assigned[0].principal_id, "p0");
        assert_string_equal(c->assigned[1].id, "/other");
        assert_string_equal(cluster_tag(c, "owner"), "s");
        assert_string_equal(c->key_url, "https://kv.vault.azure.net/keys/k");
        assert_ptr_equal(c->kek_identity_id, c->assigned[0].id);
        assert_ptr_equal(c->tags[0].value, c->subscription);
        assert_true(within(c->id, c) && within(c->assigned, c) && within(c->tags, c) && within(c->tags[0].name, c));
        assert_int_equal(cluster_pack(&c), 0); /* already packed: nothing to do */

        b = read_data("local/cluster-versioned.json", &n);
        assert_int_equal(arm_decode_cluster(b, n, &d), 0);
        assert_true(d->packed);
        assert_true(within(d->key_url, d));
        free(b);
}

/* arm_decode_cluster_list_pooled(): the same clusters as without a pool, their shared strings
 * stored once in the pool (the same pointer in every cluster), the name pointed into the id;
 * the pool outlives them. */
static void assert_str_same(const char *a, const char *b) {
        if (!a || !b)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

static void assert_cluster_same(const struct cluster *a, const struct cluster *b) {
        assert_str_same(a->id, b->id);
        assert_str_same(a->name, b->name);
        assert_str_same(a->location, b->location);
        assert_str_same(a->subscription, b->subscription);
        assert_str_same(a->resource_group, b->resource_group);
        assert_str_same(a->provisioning_state, b->provisioning_state);
        assert_str_same(a->cluster_status, b->cluster_status);
        assert_str_same(a->replica_role, b->replica_role);
        assert_str_same(a->replication_state, b->replication_state);
        assert_str_same(a->create_mode, b->create_mode);
        assert_str_same(a->identity_type, b->identity_type);
        assert_int_equal(a->customer_managed, b->customer_managed);
        assert_str_same(a->kek_identity_type, b->kek_identity_type);
        assert_str_same(a->kek_identity_id, b->kek_identity_id);
        assert_str_same(a->key_url, b->key_url);
        assert_int_equal(a->n_assigned, b->n_assigned);
        for (size_t i = 0; i < a->n_assigned; i++) {
                assert_str_same(a->assigned[i].id, b->assigned[i].id);
                assert_str_same(a->assigned[i].principal_id, b->assigned[i].principal_id);
                assert_str_same(a->assigned[i].client_id, b->assigned[i].client_id);
        }
        assert_int_equal(a->n_tags, b->n_tags);
        for (size_t i = 0; i < a->n_tags; i++) {
                assert_str_same(a->tags[i].name, b->tags[i].name);
                assert_str_same(a->tags[i].value, b->tags[i].value);
        }
}

static int try_cluster_list_pooled(const char *b, size_t n) {
        _cleanup_(strpool_freep) struct strpool *pool = NULL;
        struct cluster_list *l = SENTINEL;
        int r;

        r = strpool_new(&pool);
        if (r < 0)
                return r;
        r = arm_decode_cluster_list_pooled(b, n, pool, &l);
        if (r < 0) {
                if (l != SENTINEL)
                        fail_msg("arm_decode_cluster_list_pooled changed *ret on failure %d", r);
                return r;
        }
        cluster_list_free(l);
        return r;
}

static void test_cluster_list_pooled(void **state) {
        static const char *const files[] = { "local/cluster-list-mixed.json",
                                             "local/cluster-versioned.json" };
        _cleanup_(strpool_freep) struct strpool *pool = NULL;
        _cleanup_(cluster_list_freep) struct cluster_list *plain = NULL, *pooled = NULL, *again = NULL;
        size_t n, count;
        char *b = example_body("reference/mongocluster/2026-06-01/MongoClusters_List.json", "200", &n);

        assert_int_equal(strpool_new(&pool), 0);
        assert_int_equal(arm_decode_cluster_list(b, n, &plain), 0);
        assert_int_equal(arm_decode_cluster_list_pooled(b, n, pool, &pooled), 0);
        assert_int_equal(pooled->n_items, plain->n_items);
        assert_int_equal(pooled->n_invalid, plain->n_invalid);
        for (size_t i = 0; i < plain->n_items; i++) {
                const struct cluster *c = pooled->items[i];

                assert_true(c->packed);
                assert_cluster_same(c, plain->items[i]);
                /* The name is the id's last segment: not stored twice. */
                assert_ptr_equal(c->name, c->id + strlen(c->id) - strlen(c->name));
        }
        /* Strings two clusters share are one copy in the pool. */
        assert_ptr_equal(pooled->items[0]->subscription, pooled->items[1]->subscription);
        assert_ptr_equal(pooled->items[0]->provisioning_state, pooled->items[1]->provisioning_state);
        /* A second page into the same pool: nothing new to store for what it repeats. */
        count = strpool_count(pool);
        assert_true(count > 0);
        assert_int_equal(arm_decode_cluster_list_pooled(b, n, pool, &again), 0);
        assert_int_equal(strpool_count(pool), count);
        assert_ptr_equal(again->items[1]->location, pooled->items[1]->location);
        check_oom(try_cluster_list_pooled, "MongoClusters_List pooled", b, n);
        free(b);

        /* Our own samples (skipped items, a versioned key URL with an identity): the same. */
        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                _cleanup_(cluster_list_freep) struct cluster_list *x = NULL, *y = NULL;
                char *page = read_data(files[f], &n);

                if (f == 1) {
                        /* A single cluster: make it a page of one. */
                        char *one = page;

                        page = malloc(n + 16);
                        assert_non_null(page);
                        snprintf(page, n + 16, "{\"value\":[%.*s]}", (int) n, one);
                        free(one);
                }
                assert_int_equal(arm_decode_cluster_list(page, strlen(page), &x), 0);
                assert_int_equal(arm_decode_cluster_list_pooled(page, strlen(page), pool, &y), 0);
                assert_int_equal(x->n_items, y->n_items);
                assert_int_equal(x->n_invalid, y->n_invalid);
                assert_int_equal(strv_length(x->invalid_ids), strv_length(y->invalid_ids));
                for (size_t i = 0; i < x->n_items; i++)
                        assert_cluster_same(x->items[i], y->items[i]);
                check_oom(try_cluster_list_pooled, files[f], page, strlen(page));
                free(page);
        }
}

static void test_cluster_list(void **state) {
        _cleanup_(cluster_list_freep) struct cluster_list *l = NULL, *m = NULL;
        size_t n;
        char *b = example_body("reference/mongocluster/2026-06-01/MongoClusters_List.json", "200", &n);

        assert_int_equal(arm_decode_cluster_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 2);
        assert_int_equal(l->n_invalid, 0);
        assert_null(l->invalid_ids);
        assert_null(l->next_link);
        assert_string_equal(l->items[0]->name, "myMongoCluster");
        assert_string_equal(l->items[1]->name, "myMongoCluster2");
        assert_string_equal(l->items[1]->location, "eastus");
        assert_int_equal(l->items[0]->n_tags, 3);
        assert_false(l->items[0]->customer_managed);
        check_oom(try_cluster_list, "MongoClusters_List", b, n);
        free(b);

        /* Skipped items are counted and named, never silently dropped. */
        b = read_data("local/cluster-list-mixed.json", &n);
        assert_int_equal(arm_decode_cluster_list(b, n, &m), 0);
        assert_int_equal(m->n_items, 2);
        assert_string_equal(m->items[0]->name, "good");
        assert_true(m->items[0]->customer_managed);
        assert_string_equal(m->items[1]->name, "smk");
        assert_false(m->items[1]->customer_managed);
        assert_int_equal(m->n_invalid, 5);
        assert_int_equal(strv_length(m->invalid_ids), 3);
        assert_true(strv_contains(m->invalid_ids, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.DocumentDB/mongoClusters/no-properties"));
        assert_true(strv_contains(m->invalid_ids, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.DocumentDB/mongoClusters/cmk-without-url"));
        assert_true(strv_contains(m->invalid_ids, "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.DocumentDB/mongoClusters/bad-tag"));
        assert_string_equal(m->next_link, "https://management.azure.com/subscriptions/s1/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01&$skipToken=abc");
        check_oom(try_cluster_list, "cluster-list-mixed", b, n);
        free(b);
}

#define CID "\"id\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.DocumentDB/mongoClusters/c\""

static void test_cluster_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{" CID ",\"properties\":{}}", 0 },
                { "{" CID ",\"properties\":{},\"identity\":null,\"tags\":null}", 0 },
                { "{" CID "}", -EBADMSG },
                { "{" CID ",\"properties\":null}", -EBADMSG },
                { "{" CID ",\"properties\":[]}", -EBADMSG },
                { "{" CID ",\"properties\":\"x\"}", -EBADMSG },
                { "{\"id\":5,\"properties\":{}}", -EBADMSG },
                { "{\"id\":\"\",\"properties\":{}}", -EBADMSG },
                { "{\"id\":null,\"properties\":{}}", -EBADMSG },
                { "{\"id\":\"/subscriptions/s\",\"properties\":{}}", -EBADMSG },
                { "{\"properties\":{}}", -EBADMSG },
                { "{" CID ",\"name\":5,\"properties\":{}}", -EBADMSG },
                { "{" CID ",\"location\":true,\"properties\":{}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"provisioningState\":1}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"clusterStatus\":[]}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"replica\":\"Primary\"}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"replica\":{\"role\":7}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":\"cmk\"}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":[]}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{\"keyEncryptionKeyUrl\":1}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{\"keyEncryptionKeyUrl\":null}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{\"keyEncryptionKeyUrl\":\"u\",\"keyEncryptionKeyIdentity\":\"x\"}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":{\"keyEncryptionKeyUrl\":\"u\",\"keyEncryptionKeyIdentity\":{\"userAssignedIdentityResourceId\":false}}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{\"encryption\":{\"customerManagedKeyEncryption\":null}}}", 0 },
                { "{" CID ",\"properties\":{},\"identity\":\"UserAssigned\"}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"type\":1}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"userAssignedIdentities\":[]}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"userAssignedIdentities\":{\"/x\":\"y\"}}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"userAssignedIdentities\":{\"\":{}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"userAssignedIdentities\":{\"/x\":{\"principalId\":1}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"identity\":{\"userAssignedIdentities\":{\"/x\":{\"clientId\":{}}}}}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"tags\":[]}", -EBADMSG },
                { "{" CID ",\"properties\":{},\"tags\":{\"a\":1}}", -EBADMSG },
                /* json-c turns lone surrogate escapes into U+FFFD: valid, kept. */
                { "{" CID ",\"properties\":{},\"tags\":{\"a\":\"\\ud800\"}}", 0 },
                { "{" CID ",\"properties\":{},\"tags\":{\"\\udc00\":\"v\"}}", 0 },
                { "{" CID ",\"properties\":{\"provisioningState\":NaN}}", -EBADMSG },
        };

        run_cases(try_cluster, "cluster", t, ELEMENTSOF(t));
}

/* A document with a string member of len bytes, or with n tags. */
static char *long_string_doc(const char *prefix, size_t len, const char *suffix) {
        size_t pl = strlen(prefix), sl = strlen(suffix);
        char *s = malloc(pl + len + sl + 1);

        assert_non_null(s);
        memcpy(s, prefix, pl);
        memset(s + pl, 'x', len);
        memcpy(s + pl + len, suffix, sl + 1);
        return s;
}

static void test_cluster_limits(void **state) {
        char *s;
        size_t n, cap;

        s = long_string_doc("{" CID ",\"properties\":{},\"location\":\"", JSON_STRING_MAX, "\"}");
        assert_int_equal(try_cluster(s, strlen(s)), 0);
        free(s);
        s = long_string_doc("{" CID ",\"properties\":{},\"location\":\"", JSON_STRING_MAX + 1, "\"}");
        assert_int_equal(try_cluster(s, strlen(s)), -E2BIG);
        free(s);

        /* More tags than JSON_MEMBERS_MAX. */
        cap = 64 + (JSON_MEMBERS_MAX + 1) * 16;
        s = malloc(cap);
        assert_non_null(s);
        n = (size_t) sprintf(s, "{" CID ",\"properties\":{},\"tags\":{");
        for (size_t i = 0; i <= JSON_MEMBERS_MAX; i++)
                n += (size_t) sprintf(s + n, "%s\"t%zu\":\"v\"", i ? "," : "", i);
        n += (size_t) sprintf(s + n, "}}");
        assert_true(n < cap);
        assert_int_equal(try_cluster(s, n), -E2BIG);
        free(s);

        /* A list page longer than JSON_ARRAY_MAX. */
        cap = 32 + (JSON_ARRAY_MAX + 1) * 3;
        s = malloc(cap);
        assert_non_null(s);
        n = (size_t) sprintf(s, "{\"value\":[");
        for (size_t i = 0; i <= JSON_ARRAY_MAX; i++)
                n += (size_t) sprintf(s + n, "%s1", i ? "," : "");
        n += (size_t) sprintf(s + n, "]}");
        assert_int_equal(try_cluster_list(s, n), -E2BIG);
        assert_int_equal(try_vault_list(s, n), -E2BIG);
        assert_int_equal(try_role_assignment_list(s, n), -E2BIG);
        free(s);
}

static void test_list_page_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{\"value\":[]}", 0 },
                { "{\"value\":[],\"nextLink\":null}", 0 },
                { "{\"value\":[],\"nextLink\":\"\"}", 0 },
                { "{\"value\":[],\"nextLink\":\"https://x/next\"}", 0 },
                { "{\"value\":[1,null,\"x\",[]]}", 0 }, /* all items invalid: counted */
                { "{}", -EBADMSG },
                { "{\"value\":null}", -EBADMSG },
                { "{\"value\":{}}", -EBADMSG },
                { "{\"value\":\"[]\"}", -EBADMSG },
                { "{\"value\":[],\"nextLink\":5}", -EBADMSG },
                { "{\"value\":[],\"nextLink\":{}}", -EBADMSG },
                { "{\"nextLink\":\"https://x/next\"}", -EBADMSG },
        };
        static int (*const lists[])(const char *, size_t) = {
                try_cluster_list, try_vault_list, try_hsm_list, try_deleted_vault_list, try_deleted_hsm_list,
                try_subscription_list, try_role_assignment_list, try_role_definition_list,
        };
        _cleanup_(cluster_list_freep) struct cluster_list *l = NULL;

        for (size_t i = 0; i < ELEMENTSOF(lists); i++)
                run_cases(lists[i], "list page", t, ELEMENTSOF(t));

        assert_int_equal(arm_decode_cluster_list(S("{\"value\":[1,null,{\"id\":\"/x\"}],\"nextLink\":\"\"}"), &l), 0);
        assert_int_equal(l->n_items, 0);
        assert_int_equal(l->n_invalid, 3);
        assert_int_equal(strv_length(l->invalid_ids), 1);
        assert_string_equal(l->invalid_ids[0], "/x");
        assert_null(l->next_link);
}

/* ---- vaults and managed HSMs -------------------------------------------------------- */

static void test_vault_examples(void **state) {
        _cleanup_(vault_freep) struct vault *v = NULL, *w = NULL;
        _cleanup_(vault_list_freep) struct vault_list *l = NULL, *g = NULL;
        size_t n;
        char *b;

        /* getVault: tenant, soft delete (absent → on), purge protection (absent → off),
         * RBAC (absent → access policies, marked as not set), network defaults. */
        b = example_body("reference/keyvault-mgmt/2026-04-01/getVault.json", "200", &n);
        assert_int_equal(arm_decode_vault(b, n, &v), 0);
        assert_int_equal(v->store, KEY_STORE_VAULT);
        assert_string_equal(v->id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sample-resource-group/providers/Microsoft.KeyVault/vaults/sample-vault");
        assert_string_equal(v->name, "sample-vault");
        assert_string_equal(v->location, "westus");
        assert_string_equal(v->tenant_id, "00000000-0000-0000-0000-000000000000");
        assert_string_equal(v->uri, "https://sample-vault.vault.azure.net");
        assert_true(v->soft_delete);
        assert_false(v->purge_protection);
        assert_false(v->rbac_authorization);
        assert_false(v->rbac_authorization_set);
        assert_string_equal(v->public_network_access, "Enabled");
        assert_false(v->public_network_disabled);
        assert_false(v->default_action_deny);
        assert_true(v->bypass_azure_services);
        assert_int_equal(v->n_private_endpoints, 0);
        assert_int_equal(v->n_access_policies, 1);
        assert_string_equal(v->access_policies[0].object_id, "00000000-0000-0000-0000-000000000000");
        assert_string_equal(v->access_policies[0].tenant_id, "00000000-0000-0000-0000-000000000000");
        assert_null(v->access_policies[0].application_id);
        assert_int_equal(v->access_policies[0].key_permissions,
                         KEY_PERM_GET | KEY_PERM_LIST | KEY_PERM_WRAP_KEY | KEY_PERM_UNWRAP_KEY | KEY_PERM_OTHER);
        check_oom(try_vault, "getVault", b, n);
        free(b);

        /* Network ACLs: firewall on, trusted services allowed. */
        for (int i = 0; i < 2; i++) {
                _cleanup_(vault_freep) struct vault *x = NULL;

                b = example_body("spec/keyvault-mgmt/2026-02-01/createVaultWithNetworkAcls.json", i ? "201" : "200", &n);
                assert_int_equal(arm_decode_vault(b, n, &x), 0);
                assert_true(x->default_action_deny);
                assert_true(x->bypass_azure_services);
                assert_null(x->public_network_access);
                assert_false(x->public_network_disabled);
                assert_int_equal(x->n_access_policies, 0);
                free(b);
        }

        b = read_data("local/vault-rbac-private.json", &n);
        assert_int_equal(arm_decode_vault(b, n, &w), 0);
        assert_true(w->rbac_authorization);
        assert_true(w->rbac_authorization_set);
        assert_true(w->purge_protection);
        assert_true(w->soft_delete);
        assert_true(w->public_network_disabled);
        assert_string_equal(w->public_network_access, "disabled");
        assert_true(w->default_action_deny);
        assert_false(w->bypass_azure_services);
        assert_int_equal(w->n_private_endpoints, 2); /* "Approved" and "approved" */
        assert_string_equal(w->uri, "https://prod-kv-01.vault.azure.net/");
        check_oom(try_vault, "vault-rbac-private", b, n);
        free(b);

        b = example_body("spec/keyvault-mgmt/2026-02-01/listVaultBySubscription.json", "200", &n);
        assert_int_equal(arm_decode_vault_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 1);
        assert_int_equal(l->n_invalid, 0);
        assert_string_equal(l->items[0]->name, "sample-vault");
        assert_string_equal(l->items[0]->uri, "https://sample-vault.vault.azure.net/");
        assert_true(l->items[0]->soft_delete);
        assert_string_equal(l->next_link, "https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resources?api-version=22026-02-01&$skiptoken=dmF1bHQtcGVza3ktanVyeS03MzA3Ng==");
        check_oom(try_vault_list, "listVaultBySubscription", b, n);
        free(b);

        /* Vaults_List (generic resources) carries no properties: every item is invalid,
         * reported by id, so nobody mistakes it for an empty subscription. */
        b = example_body("spec/keyvault-mgmt/2026-04-01/listVault.json", "200", &n);
        assert_int_equal(arm_decode_vault_list(b, n, &g), 0);
        assert_int_equal(g->n_items, 0);
        assert_int_equal(g->n_invalid, 1);
        assert_string_equal(g->invalid_ids[0], "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sample-group/providers/Microsoft.KeyVault/vaults/sample-vault");
        assert_non_null(g->next_link);
        free(b);
}

static void test_vault_policies(void **state) {
        _cleanup_(vault_freep) struct vault *v = NULL;
        size_t n;
        char *b = read_data("local/vault-policies.json", &n);

        assert_int_equal(arm_decode_vault(b, n, &v), 0);
        assert_false(v->soft_delete); /* sent as false: kept, the policy flags it */
        assert_false(v->rbac_authorization);
        assert_true(v->rbac_authorization_set);
        assert_string_equal(v->public_network_access, "SecuredByPerimeter"); /* unknown value kept */
        assert_false(v->public_network_disabled);
        assert_true(v->bypass_azure_services); /* "AzureServices, Logging" */
        assert_false(v->default_action_deny);
        assert_string_equal(v->name, "legacy-kv");
        assert_int_equal(v->n_access_policies, 5);
        assert_int_equal(v->access_policies[0].key_permissions, KEY_PERM_GET | KEY_PERM_WRAP_KEY | KEY_PERM_UNWRAP_KEY);
        assert_int_equal(v->access_policies[1].key_permissions, KEY_PERM_ALL);
        assert_string_equal(v->access_policies[1].application_id, "app2");
        assert_int_equal(v->access_policies[2].key_permissions, KEY_PERM_LIST | KEY_PERM_OTHER);
        assert_int_equal(v->access_policies[3].key_permissions, 0);
        assert_int_equal(v->access_policies[4].key_permissions, 0);
        assert_null(v->access_policies[4].application_id);
        check_oom(try_vault, "vault-policies", b, n);
        free(b);
}

#define VID "\"id\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/v\""

static void test_vault_malformed(void **state) {
        static const struct bad_case t[] = {
                { "{" VID ",\"properties\":{\"tenantId\":\"t\"}}", 0 },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"networkAcls\":null,\"accessPolicies\":null}}", 0 },
                { "{" VID ",\"properties\":{}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":null}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":7}}", -EBADMSG },
                { "{" VID "}", -EBADMSG },
                { "{\"properties\":{\"tenantId\":\"t\"}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"enableSoftDelete\":\"true\"}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"enablePurgeProtection\":1}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"enableRbacAuthorization\":\"false\"}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"vaultUri\":[]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"publicNetworkAccess\":false}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"networkAcls\":\"Deny\"}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"networkAcls\":{\"bypass\":1}}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"networkAcls\":{\"defaultAction\":true}}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"privateEndpointConnections\":{}}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"privateEndpointConnections\":[\"x\"]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"privateEndpointConnections\":[{\"properties\":{\"privateLinkServiceConnectionState\":{\"status\":1}}}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":{}}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[1]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"objectId\":\"o\"}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"tenantId\":\"t\"}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":[]}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":{\"keys\":\"get\"}}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"o\",\"permissions\":{\"keys\":[1]}}]}}", -EBADMSG },
                { "{" VID ",\"properties\":{\"tenantId\":\"t\",\"accessPolicies\":[{\"tenantId\":\"t\",\"objectId\":\"o\",\"applicationId\":5}]}}", -EBADMSG },
        };

        run_cases(try_vault, "vault", t, ELEMENTSOF(t));
}

static void test_managed_hsm(void **state) {
        _cleanup_(vault_freep) struct vault *h = NULL, *f = NULL;
        _cleanup_(vault_list_freep) struct vault_list *l = NULL;
        size_t n;
        char *b;

        b = example_body("spec/keyvault-mgmt/2022-07-01/ManagedHsm_Get.json", "200", &n);
        assert_int_equal(arm_decode_managed_hsm(b, n, &h), 0);
        assert_int_equal(h->store, KEY_STORE_MANAGED_HSM);
        assert_string_equal(h->name, "hsm1");
        assert_string_equal(h->uri, "https://westus.hsm1.managedhsm.azure.net");
        assert_string_equal(h->tenant_id, "00000000-0000-0000-0000-000000000000");
        assert_true(h->soft_delete);
        assert_false(h->purge_protection);
        assert_true(h->rbac_authorization);
        assert_true(h->bypass_azure_services);
        assert_int_equal(h->n_access_policies, 0);
        check_oom(try_hsm, "ManagedHsm_Get", b, n);
        free(b);

        b = read_data("local/managed-hsm-full.json", &n);
        assert_int_equal(arm_decode_managed_hsm(b, n, &f), 0);
        assert_true(f->purge_protection);
        assert_true(f->soft_delete);
        assert_true(f->public_network_disabled);
        assert_true(f->default_action_deny);
        assert_int_equal(f->n_private_endpoints, 1);
        assert_int_equal(f->n_access_policies, 0); /* an HSM's "accessPolicies" is not read */
        free(b);

        /* The HSM list page has the vault list's shape. */
        b = read_data("local/managed-hsm-full.json", &n);
        {
                size_t m = n + 32;
                char *page = malloc(m);

                assert_non_null(page);
                snprintf(page, m, "{\"value\":[%s]}", b);
                assert_int_equal(arm_decode_managed_hsm_list(page, strlen(page), &l), 0);
                assert_int_equal(l->n_items, 1);
                assert_int_equal(l->items[0]->store, KEY_STORE_MANAGED_HSM);
                assert_string_equal(l->items[0]->uri, "https://contoso-hsm.managedhsm.azure.net/");
                free(page);
        }
        free(b);
}

/* ManagedHsms_Get, _ListBySubscription, _ListByResourceGroup and _ListDeleted, from the spec
 * examples (2026-04-01; the by-subscription page from 2026-02-01, the same ManagedHsmListResult). */
static void test_managed_hsm_examples(void **state) {
        static const char *const lists[] = {
                "spec/keyvault-mgmt/2026-02-01/ManagedHsm_ListBySubscription.json",
                "spec/keyvault-mgmt/2026-04-01/ManagedHsm_ListByResourceGroup.json",
        };
        static const struct bad_case t[] = {
                /* the id names the HSM when "name" does not */
                { "{\"value\":[{\"properties\":{\"mhsmId\":\"/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/managedHSMs/h1\"}}]}", 0 },
                { "{\"value\":[{\"name\":\"h1\",\"properties\":{}}]}", 0 },
                { "{\"value\":[{\"properties\":{\"mhsmId\":5}}]}", 0 }, /* the item is invalid, the page is not */
                { "{\"value\":[{\"name\":\"h1\",\"properties\":{\"deletionDate\":\"soon\"}}]}", 0 },
        };
        _cleanup_(vault_freep) struct vault *h = NULL;
        _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *d = NULL, *d2 = NULL;
        usec_t t1;
        size_t n;
        char *b;

        b = example_body("spec/keyvault-mgmt/2026-04-01/ManagedHsm_Get.json", "200", &n);
        assert_int_equal(arm_decode_managed_hsm(b, n, &h), 0);
        assert_int_equal(h->store, KEY_STORE_MANAGED_HSM);
        assert_string_equal(h->name, "hsm1");
        assert_string_equal(h->id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/hsm-group/"
                                   "providers/Microsoft.KeyVault/managedHSMs/hsm1");
        assert_string_equal(h->location, "westus");
        assert_true(h->soft_delete);
        assert_false(h->purge_protection);
        assert_true(h->rbac_authorization);
        assert_false(h->public_network_disabled);
        assert_false(h->default_action_deny);
        check_oom(try_hsm, "ManagedHsm_Get 2026-04-01", b, n);
        free(b);

        for (size_t i = 0; i < ELEMENTSOF(lists); i++) {
                _cleanup_(vault_list_freep) struct vault_list *l = NULL;

                b = example_body(lists[i], "200", &n);
                assert_int_equal(arm_decode_managed_hsm_list(b, n, &l), 0);
                assert_int_equal(l->n_items, 2);
                assert_int_equal(l->n_invalid, 0);
                assert_string_equal(l->items[0]->name, "hsm1");
                assert_string_equal(l->items[1]->name, "hsm2");
                for (size_t j = 0; j < 2; j++) {
                        assert_int_equal(l->items[j]->store, KEY_STORE_MANAGED_HSM);
                        assert_string_equal(l->items[j]->tenant_id, "00000000-0000-0000-0000-000000000000");
                        assert_true(l->items[j]->rbac_authorization);
                        assert_false(l->items[j]->purge_protection);
                        assert_int_equal(l->items[j]->n_access_policies, 0);
                }
                assert_non_null(l->next_link);
                assert_non_null(strstr(l->next_link, "/providers/Microsoft.KeyVault/managedHSMs?"));
                check_oom(try_hsm_list, lists[i], b, n);
                free(b);
        }

        /* The deleted HSMs: named after mhsmId, not after the examples' "vault-agile-drawer-6404". */
        b = example_body("spec/keyvault-mgmt/2026-04-01/DeletedManagedHsm_List.json", "200", &n);
        assert_int_equal(arm_decode_deleted_managed_hsm_list(b, n, &d), 0);
        assert_int_equal(d->n_items, 2);
        assert_string_equal(d->items[0]->name, "hsm1");
        assert_string_equal(d->items[1]->name, "hsm2");
        assert_string_equal(d->items[0]->vault_id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/"
                                                   "hsm-group/providers/Microsoft.KeyVault/managedHSMs/hsm1");
        assert_string_equal(d->items[0]->id, "/subscriptions/00000000-0000-0000-0000-000000000000/providers/"
                                             "Microsoft.KeyVault/locations/westus/deletedManagedHSMs/hsm1");
        assert_string_equal(d->items[0]->location, "westus");
        assert_true(d->items[0]->purge_protection);
        assert_int_equal(rfc3339_parse("2021-04-01T00:00:59Z", &t1), 0);
        assert_int_equal(d->items[0]->deletion_date, t1);
        assert_int_equal(d->items[0]->scheduled_purge_date, t1);
        assert_non_null(d->next_link);
        check_oom(try_deleted_hsm_list, "DeletedManagedHsm_List", b, n);
        /* The vault decoder reads vaultId, which a deleted HSM does not have, and keeps "name". */
        assert_int_equal(arm_decode_deleted_vault_list(b, n, &d2), 0);
        assert_string_equal(d2->items[0]->name, "vault-agile-drawer-6404");
        assert_null(d2->items[0]->vault_id);
        free(b);

        run_cases(try_deleted_hsm_list, "deleted HSM list", t, ELEMENTSOF(t));
        {
                _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *x = NULL;

                assert_int_equal(arm_decode_deleted_managed_hsm_list(S("{\"value\":[{\"properties\":{}},{\"name\":\"ok\",\"properties\":{}}]}"), &x), 0);
                assert_int_equal(x->n_items, 1);
                assert_int_equal(x->n_invalid, 1);
                assert_string_equal(x->items[0]->name, "ok");
        }
}

static void test_deleted_vaults(void **state) {
        _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *l = NULL;
        _cleanup_(deleted_vault_freep) struct deleted_vault *d = NULL;
        static const struct bad_case t[] = {
                { "{\"name\":\"v\",\"properties\":{}}", 0 },
                { "{\"name\":\"v\"}", -EBADMSG },
                { "{\"properties\":{}}", -EBADMSG },
                { "{\"name\":\"v\",\"properties\":{\"deletionDate\":1483228859}}", -EBADMSG },
                { "{\"name\":\"v\",\"properties\":{\"deletionDate\":\"yesterday\"}}", -EBADMSG },
                { "{\"name\":\"v\",\"properties\":{\"scheduledPurgeDate\":\"2017-13-01T00:00:00Z\"}}", -EBADMSG },
                { "{\"name\":\"v\",\"properties\":{\"purgeProtectionEnabled\":\"true\"}}", -EBADMSG },
                { "{\"name\":\"v\",\"properties\":{\"vaultId\":{}}}", -EBADMSG },
        };
        usec_t t1, t2;
        size_t n;
        char *b = example_body("spec/keyvault-mgmt/2026-02-01/listDeletedVaults.json", "200", &n);

        assert_int_equal(arm_decode_deleted_vault_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 1);
        assert_string_equal(l->items[0]->name, "vault-agile-drawer-6404");
        assert_string_equal(l->items[0]->vault_id, "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sample-group/providers/Microsoft.KeyVault/vaults/sample-vault");
        assert_string_equal(l->items[0]->location, "westus");
        assert_true(l->items[0]->purge_protection);
        assert_int_equal(rfc3339_parse("2017-01-01T00:00:59Z", &t1), 0);
        assert_int_equal(rfc3339_parse("2017-04-01T00:00:59Z", &t2), 0);
        assert_int_equal(l->items[0]->deletion_date, t1);
        assert_int_equal(l->items[0]->scheduled_purge_date, t2);
        assert_non_null(l->next_link);
        check_oom(try_deleted_vault_list, "listDeletedVaults", b, n);
        free(b);

        assert_int_equal(arm_decode_deleted_vault(S("{\"name\":\"v\",\"properties\":{\"location\":\"x\"}}"), &d), 0);
        assert_int_equal(d->deletion_date, 0);
        assert_false(d->purge_protection);
        run_cases(try_deleted_vault, "deleted vault", t, ELEMENTSOF(t));
}

/* ---- identities, subscriptions ------------------------------------------------------ */

static void test_identity(void **state) {
        static const char *const files[] = { "reference/msi/2023-01-31/IdentityGet.json",
                                             "reference/msi/2026-05-31/IdentityGet.json" };
        static const struct bad_case t[] = {
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":\"p\"}}", 0 },
                { "{\"id\":\"/i\",\"properties\":{}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":\"\"}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":null}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":1234}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":\"p\",\"clientId\":[]}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":{\"principalId\":\"p\",\"tenantId\":false}}", -EBADMSG },
                { "{\"id\":\"/i\",\"properties\":null}", -EBADMSG },
                { "{\"properties\":{\"principalId\":\"p\"}}", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(identity_freep) struct identity *id = NULL;
                size_t n;
                char *b = example_body(files[i], "200", &n);

                assert_int_equal(arm_decode_identity(b, n, &id), 0);
                assert_string_equal(id->id, "/subscriptions/subid/resourcegroups/rgName/providers/Microsoft.ManagedIdentity/userAssignedIdentities/identityName");
                assert_string_equal(id->name, "identityName");
                assert_string_equal(id->location, "eastus");
                assert_string_equal(id->principal_id, "25cc773c-7f05-40fc-a104-32d2300754ad");
                assert_string_equal(id->client_id, "4024ab25-56a8-4370-aea6-6389221caf29");
                assert_string_equal(id->tenant_id, "b6c948ef-f6b5-4384-8354-da3a15eca969");
                check_oom(try_identity, files[i], b, n);
                free(b);
        }
        run_cases(try_identity, "identity", t, ELEMENTSOF(t));
}

static void test_subscriptions(void **state) {
        _cleanup_(subscription_list_freep) struct subscription_list *l = NULL, *m = NULL;
        size_t n;
        char *b = example_body("spec/resources/2022-12-01/GetSubscriptions.json", "200", &n);

        assert_int_equal(arm_decode_subscription_list(b, n, &l), 0);
        assert_int_equal(strv_length(l->ids), 2);
        assert_string_equal(l->ids[0], "291bba3f-e0a5-47bc-a099-3bdcb2a50a05");
        assert_string_equal(l->ids[1], "72ac930a-f34e-42d8-b06d-dc2a9e12ed71");
        assert_string_equal(l->next_link, "http://nextlink");
        assert_int_equal(l->n_skipped, 0);
        assert_int_equal(l->n_invalid, 0);
        check_oom(try_subscription_list, "GetSubscriptions", b, n);
        free(b);

        b = read_data("local/subscriptions-states.json", &n);
        assert_int_equal(arm_decode_subscription_list(b, n, &m), 0);
        assert_int_equal(strv_length(m->ids), 5);
        assert_true(strv_equal(m->ids, (char *[]) { "00000000-0000-0000-0000-000000000001",
                                                   "00000000-0000-0000-0000-000000000002",
                                                   "00000000-0000-0000-0000-000000000003",
                                                   "00000000-0000-0000-0000-000000000006",
                                                   "00000000-0000-0000-0000-000000000007", NULL }));
        assert_int_equal(m->n_skipped, 2);
        assert_int_equal(m->n_invalid, 3);
        assert_true(strv_equal(m->invalid_ids, (char *[]) { "/subscriptions/00000000-0000-0000-0000-000000000008",
                                                           "/subscriptions/00000000-0000-0000-0000-000000000009", NULL }));
        assert_null(m->next_link);
        check_oom(try_subscription_list, "subscriptions-states", b, n);
        free(b);
}

/* ---- role assignments and definitions ------------------------------------------------ */

static void test_role_assignments(void **state) {
        _cleanup_(role_assignment_list_freep) struct role_assignment_list *l = NULL, *g = NULL, *m = NULL;
        size_t n;
        char *b = example_body("reference/authorization/2022-04-01/RoleAssignments_ListForScope.json", "200", &n);

        assert_int_equal(arm_decode_role_assignment_list(b, n, &l), 0);
        assert_int_equal(l->n_items, 1);
        assert_string_equal(l->items[0].role_definition, "0b5fe924-9a61-425c-96af-cfe6e287ca2d");
        assert_string_equal(l->items[0].principal_id, "ce2ce14e-85d7-4629-bdbc-454d0519d987");
        assert_string_equal(l->items[0].scope, "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2");
        assert_false(l->items[0].has_condition);
        assert_null(l->next_link);
        check_oom(try_role_assignment_list, "RoleAssignments_ListForScope", b, n);
        free(b);

        b = example_body("spec/authorization/2022-04-01/RoleAssignments_ListForResourceGroup.json", "200", &n);
        assert_int_equal(arm_decode_role_assignment_list(b, n, &g), 0);
        assert_int_equal(g->n_items, 2);
        assert_string_equal(g->items[1].scope, "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg");
        assert_string_equal(g->items[1].id, "/subscriptions/a925f2f7-5c63-4b7b-8799-25a5f97bc3b2/resourceGroups/testrg/providers/Microsoft.Authorization/roleAssignments/96786e4b-dede-4c2e-8736-8ab911987f08");
        free(b);

        b = read_data("local/role-assignments-mixed.json", &n);
        assert_int_equal(arm_decode_role_assignment_list(b, n, &m), 0);
        assert_int_equal(m->n_items, 3);
        assert_string_equal(m->items[0].role_definition, "e147488a-f6f5-4113-8e2d-b22465e65bf6"); /* lowercased */
        assert_string_equal(m->items[0].scope, "/subscriptions/s1/resourceGroups/sec/providers/Microsoft.KeyVault/vaults/prod-kv-01");
        assert_false(m->items[0].has_condition);
        assert_string_equal(m->items[1].scope, "/subscriptions/s1"); /* from the id */
        assert_true(m->items[1].has_condition);
        assert_string_equal(m->items[2].scope, "/");
        assert_false(m->items[2].has_condition); /* "" */
        assert_int_equal(m->n_invalid, 5);
        assert_int_equal(strv_length(m->invalid_ids), 4);
        assert_true(strv_contains(m->invalid_ids, "not-a-role-assignment-id"));
        assert_non_null(m->next_link);
        check_oom(try_role_assignment_list, "role-assignments-mixed", b, n);
        free(b);
}

static void test_role_definition(void **state) {
        _cleanup_(role_definition_freep) struct role_definition *d = NULL, *c = NULL;
        static const struct bad_case t[] = {
                { "{\"id\":\"/providers/Microsoft.Authorization/roleDefinitions/R\",\"properties\":{}}", 0 },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":null}}", 0 },
                { "{\"name\":\"r\"}", -EBADMSG },
                { "{\"properties\":{}}", -EBADMSG },
                { "{\"id\":\"/\",\"properties\":{}}", -EBADMSG },
                { "{\"name\":5,\"properties\":{}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":{}}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":[1]}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":[{\"dataActions\":\"a\"}]}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":[{\"dataActions\":[null]}]}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"permissions\":[{\"notDataActions\":[1]}]}}", -EBADMSG },
                { "{\"name\":\"r\",\"properties\":{\"roleName\":[]}}", -EBADMSG },
        };
        size_t n;
        char *b = example_body("spec/authorization/2022-04-01/GetRoleDefinitionById.json", "200", &n);

        assert_int_equal(arm_decode_role_definition(b, n, &d), 0);
        assert_string_equal(d->id, "roledefinitionid");
        assert_string_equal(d->name, "Role name");
        assert_true(strv_equal(d->data_actions, (char *[]) { "dataAction", NULL }));
        assert_non_null(d->not_data_actions);
        assert_null(d->not_data_actions[0]);
        check_oom(try_role_definition, "GetRoleDefinitionById", b, n);
        free(b);

        b = read_data("local/role-definition-custom.json", &n);
        assert_int_equal(arm_decode_role_definition(b, n, &c), 0);
        assert_string_equal(c->id, "7a1c5b2e-0000-4000-8000-000000000001");
        assert_string_equal(c->name, "CMK wrapper");
        assert_true(strv_equal(c->data_actions, (char *[]) { "Microsoft.KeyVault/vaults/keys/read",
                                                            "Microsoft.KeyVault/vaults/keys/wrap/action",
                                                            "Microsoft.KeyVault/vaults/keys/*", NULL }));
        assert_true(strv_equal(c->not_data_actions, (char *[]) { "Microsoft.KeyVault/vaults/keys/delete", NULL }));
        check_oom(try_role_definition, "role-definition-custom", b, n);
        free(b);

        run_cases(try_role_definition, "role definition", t, ELEMENTSOF(t));
}

/* ---- async operation status ------------------------------------------------------- */

static void test_operation_status(void **state) {
        _cleanup_(arm_operation_status_freep) struct arm_operation_status *f = NULL, *r = NULL;
        static const struct bad_case t[] = {
                { "{\"status\":\"Succeeded\"}", 0 },
                { "{\"status\":\"SomethingNew\",\"error\":{}}", 0 },
                { "{}", -EBADMSG },
                { "{\"status\":\"\"}", -EBADMSG },
                { "{\"status\":null}", -EBADMSG },
                { "{\"status\":1}", -EBADMSG },
                { "{\"status\":\"Failed\",\"error\":\"boom\"}", -EBADMSG },
                { "{\"status\":\"Failed\",\"error\":{\"code\":404}}", -EBADMSG },
                { "{\"status\":\"Failed\",\"error\":{\"message\":[]}}", -EBADMSG },
        };
        size_t n;
        char *b = read_data("local/operation-status-failed.json", &n);

        assert_int_equal(arm_decode_operation_status(b, n, &f), 0);
        assert_string_equal(f->status, "Failed");
        assert_string_equal(f->error_code, "KeyVaultAccessDenied");
        assert_string_equal(f->error_message, "The identity cannot access the key.");
        check_oom(try_operation_status, "operation-status-failed", b, n);
        free(b);

        b = read_data("local/operation-status-running.json", &n);
        assert_int_equal(arm_decode_operation_status(b, n, &r), 0);
        assert_string_equal(r->status, "InProgress");
        assert_null(r->error_code);
        free(b);

        run_cases(try_operation_status, "operation status", t, ELEMENTSOF(t));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_generic_malformed), cmocka_unit_test(test_generic_limits),
                cmocka_unit_test(test_cluster_examples),  cmocka_unit_test(test_cluster_local),
                cmocka_unit_test(test_cluster_packed),
                cmocka_unit_test(test_cluster_list_pooled),
                cmocka_unit_test(test_cluster_list),      cmocka_unit_test(test_cluster_malformed),
                cmocka_unit_test(test_cluster_limits),    cmocka_unit_test(test_list_page_malformed),
                cmocka_unit_test(test_vault_examples),    cmocka_unit_test(test_vault_policies),
                cmocka_unit_test(test_vault_malformed),   cmocka_unit_test(test_managed_hsm),
                cmocka_unit_test(test_managed_hsm_examples),
                cmocka_unit_test(test_deleted_vaults),    cmocka_unit_test(test_identity),
                cmocka_unit_test(test_subscriptions),     cmocka_unit_test(test_role_assignments),
                cmocka_unit_test(test_role_definition),   cmocka_unit_test(test_operation_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
