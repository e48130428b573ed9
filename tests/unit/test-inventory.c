/* SPDX-License-Identifier: MIT */
/* The inventory against a fake fetcher: which requests a sweep sends (each distinct fact
 * once, cached facts not again), and what it hands to the decision core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>

#include "inventory.h"
#include "mem.h"
#include "strv.h"

#define SUB "11111111-1111-1111-1111-111111111111"
#define RG "/subscriptions/" SUB "/resourceGroups/rg"
#define UAMI RG "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami1"
#define VAULT_ID RG "/providers/Microsoft.KeyVault/vaults/kv1"
#define PRINCIPAL "22222222-2222-2222-2222-222222222222"
#define TENANT "33333333-3333-3333-3333-333333333333"
#define V_OLD "00000000000000000000000000000001"
#define V_NEW "00000000000000000000000000000002"
#define N_2048 "\"n\":\"" /* 2048-bit modulus: 256 bytes of 0xff as base64url */

static char *modulus(void) {
        static char n[400];
        size_t i;

        for (i = 0; i < 341; i++)
                n[i] = '_';
        n[i++] = 'w';
        n[i] = 0;
        return n;
}

struct route {
        const char *contains; /* URL substring */
        long status;
        const char *body;
        unsigned hits;
};

struct pending {
        char *url;
        fetch_done_fn done;
        void *userdata;
};

struct fake {
        struct route *routes;
        size_t n_routes;
        struct pending queue[256];
        size_t n_queue;
        unsigned total;
        char **log; /* every URL, in order */
        enum fetch_audience audiences[512]; /* the audience of each URL in log */
};

static struct route *route_find(struct fake *f, const char *url) {
        struct route *best = NULL;

        /* Longest match wins, so "/keys/k1/V" beats "/keys/k1". */
        for (size_t i = 0; i < f->n_routes; i++)
                if (strstr(url, f->routes[i].contains) &&
                    (!best || strlen(f->routes[i].contains) > strlen(best->contains)))
                        best = &f->routes[i];
        return best;
}

static int fake_get(void *ctx, enum fetch_audience audience, enum fetch_kind kind, const char *url,
                    fetch_done_fn done, void *userdata) {
        struct fake *f = ctx;

        assert_true(f->n_queue < ELEMENTSOF(f->queue));
        f->queue[f->n_queue++] = (struct pending) { mem_strdup(url), done, userdata };
        assert_true(strv_length(f->log) < ELEMENTSOF(f->audiences));
        f->audiences[strv_length(f->log)] = audience;
        f->total++;
        assert_int_equal(strv_extend(&f->log, url), 0);
        return 0;
}

/* Answers the first queued request (its answer may queue more). */
static void fake_answer_first(struct fake *f) {
        struct pending p = f->queue[0];
        struct route *rt = route_find(f, p.url);
        struct fetch_result r = {};

        memmove(f->queue, f->queue + 1, sizeof(f->queue[0]) * --f->n_queue);
        if (!rt)
                fail_msg("unexpected request %s", p.url);
        rt->hits++;
        r.http_status = rt->status;
        r.body = rt->body;
        r.body_len = strlen(rt->body);
        r.error = rt->status / 100 == 2 ? 0 : rt->status == 404 ? -ENOENT : -EACCES;
        /* The engine hands over the innermost error code; imitate it cheaply. */
        char code[64] = "";
        const char *k = strrchr(rt->body, '}') && r.error < 0 ? strstr(rt->body, "\"code\":\"") : NULL;
        if (k) {
                const char *last;

                while ((last = strstr(k + 1, "\"code\":\"")))
                        k = last;
                sscanf(k + 8, "%63[^\"]", code);
                r.error_code = code;
        }
        p.done(&r, p.userdata);
        mem_free(p.url);
}

/* Answers queued requests until none is left. */
static void fake_pump(struct fake *f) {
        while (f->n_queue > 0)
                fake_answer_first(f);
}

/* Drops queued requests unanswered, as azure_free() ends calls without their callback. */
static void fake_drop(struct fake *f) {
        for (size_t i = 0; i < f->n_queue; i++)
                mem_free(f->queue[i].url);
        f->n_queue = 0;
}

static bool queued(const struct fake *f, const char *contains) {
        for (size_t i = 0; i < f->n_queue; i++)
                if (strstr(f->queue[i].url, contains))
                        return true;
        return false;
}

static unsigned hits(struct fake *f, const char *contains) {
        for (size_t i = 0; i < f->n_routes; i++)
                if (streq(f->routes[i].contains, contains))
                        return f->routes[i].hits;
        return 0;
}

static void reset_hits(struct fake *f) {
        for (size_t i = 0; i < f->n_routes; i++)
                f->routes[i].hits = 0;
        f->total = 0;
}

static bool done_called;

static void on_done(struct inventory *inv, void *userdata) {
        done_called = true;
}

static char cluster_list[8192], key_cur[2048], key_old[2048];

static const char *const cluster_fmt =
                "{\"id\":\"" RG "/providers/Microsoft.DocumentDB/mongoClusters/%s\",\"name\":\"%s\","
                "\"type\":\"Microsoft.DocumentDB/mongoClusters\",\"location\":\"westeurope\","
                "\"identity\":{\"type\":\"UserAssigned\",\"userAssignedIdentities\":{\"" UAMI
                "\":{\"principalId\":\"" PRINCIPAL "\",\"clientId\":\"44444444-4444-4444-4444-444444444444\"}}},"
                "\"properties\":{\"provisioningState\":\"Succeeded\",\"clusterStatus\":\"Ready\","
                "\"encryption\":{\"customerManagedKeyEncryption\":{\"keyEncryptionKeyIdentity\":{"
                "\"identityType\":\"UserAssignedIdentity\",\"userAssignedIdentityResourceId\":\"" UAMI "\"},"
                "\"keyEncryptionKeyUrl\":\"%s\"}}}}";

static void build_bodies(void) {
        char a[2048], b[2048], c[2048];

        snprintf(a, sizeof a, cluster_fmt, "c-versionless", "c-versionless", "https://kv1.vault.azure.net/keys/k1");
        snprintf(b, sizeof b, cluster_fmt, "c-current", "c-current", "https://kv1.vault.azure.net/keys/k1/" V_NEW);
        snprintf(c, sizeof c, cluster_fmt, "c-stale", "c-stale", "https://KV1.vault.azure.net/keys/K1/" V_OLD);
        snprintf(cluster_list, sizeof cluster_list,
                 "{\"value\":[%s,%s,%s,{\"id\":\"" RG "/providers/Microsoft.DocumentDB/mongoClusters/c-smk\","
                 "\"name\":\"c-smk\",\"location\":\"westeurope\",\"properties\":{\"provisioningState\":"
                 "\"Succeeded\",\"clusterStatus\":\"Ready\"}}]}",
                 a, b, c);
        snprintf(key_cur, sizeof key_cur,
                 "{\"key\":{\"kid\":\"https://kv1.vault.azure.net/keys/k1/" V_NEW "\",\"kty\":\"RSA\","
                 "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]," N_2048 "%s\",\"e\":\"AQAB\"},"
                 "\"attributes\":{\"enabled\":true,\"created\":1760000000,\"updated\":1760000000}}",
                 modulus());
        snprintf(key_old, sizeof key_old,
                 "{\"key\":{\"kid\":\"https://kv1.vault.azure.net/keys/k1/" V_OLD "\",\"kty\":\"RSA\","
                 "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]," N_2048 "%s\",\"e\":\"AQAB\"},"
                 "\"attributes\":{\"enabled\":true,\"created\":1750000000,\"updated\":1750000000}}",
                 modulus());
}

static struct route healthy_routes[] = {
        { "/mongoClusters?", 200, cluster_list },
        { "/providers/Microsoft.KeyVault/vaults?", 200,
          "{\"value\":[{\"id\":\"" VAULT_ID "\",\"name\":\"kv1\",\"type\":\"Microsoft.KeyVault/vaults\","
          "\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"" TENANT "\",\"sku\":{\"family\":\"A\","
          "\"name\":\"standard\"},\"enableSoftDelete\":true,\"enablePurgeProtection\":true,"
          "\"enableRbacAuthorization\":true,\"vaultUri\":\"https://kv1.vault.azure.net/\"}}]}" },
        { "/deletedVaults?", 200, "{\"value\":[]}" },
        { "/keys/k1?", 200, key_cur },
        { "/keys/k1/" V_OLD, 200, key_old },
        { "/rotationpolicy?", 200,
          "{\"id\":\"https://kv1.vault.azure.net/keys/k1/rotationpolicy\",\"lifetimeActions\":[{\"trigger\":"
          "{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}}],\"attributes\":{\"expiryTime\":\"P1Y\"}}" },
        { "/userAssignedIdentities/uami1?", 200,
          "{\"id\":\"" UAMI "\",\"name\":\"uami1\",\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"" TENANT
          "\",\"principalId\":\"" PRINCIPAL "\",\"clientId\":\"44444444-4444-4444-4444-444444444444\"}}" },
        { "/roleAssignments?", 200,
          "{\"value\":[{\"id\":\"" VAULT_ID "/providers/Microsoft.Authorization/roleAssignments/r1\",\"name\":\"r1\","
          "\"properties\":{\"roleDefinitionId\":\"/subscriptions/" SUB "/providers/Microsoft.Authorization/"
          "roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6\",\"principalId\":\"" PRINCIPAL "\","
          "\"principalType\":\"ServicePrincipal\",\"scope\":\"" VAULT_ID "\"}}]}" },
};

static struct conf *test_conf(void) {
        struct conf *c = NULL;
        char **errors = NULL;

        assert_int_equal(conf_load_string("[Azure]\nSubscriptions=" SUB "\n", "test.conf", &c, &errors), 0);
        strv_free(errors);
        return c;
}

static const struct cluster_result *find(const struct sweep_result *s, const char *name) {
        for (size_t i = 0; i < s->n_clusters; i++)
                if (streq(s->clusters[i].obs.cluster->name, name))
                        return &s->clusters[i];
        fail_msg("cluster %s not in result", name);
        return NULL;
}

/* Prints the findings of a cluster, so a failing assertion shows why. */
static void dump(const struct cluster_result *cr, usec_t now) {
        for (size_t i = 0; i < cr->verdict.n_findings; i++) {
                char msg[FINDING_MESSAGE_MAX];

                finding_describe(&cr->verdict.findings[i], &cr->obs, now, msg, sizeof msg);
                print_message("%s: %s %s\n", cr->obs.cluster->name, finding_to_string(cr->verdict.findings[i].code), msg);
        }
}

static void test_dedup_and_cache(void **state) {
        struct fake f = { .routes = healthy_routes, .n_routes = ELEMENTSOF(healthy_routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;

        build_bodies();
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);

        done_called = false;
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        assert_true(done_called);
        /* 4 clusters, one key, two versions in use besides the current one... read once each. */
        assert_int_equal(hits(&f, "/mongoClusters?"), 1);
        assert_int_equal(hits(&f, "/keys/k1?"), 1);
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 1);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 1);
        assert_int_equal(hits(&f, "/userAssignedIdentities/uami1?"), 1);
        assert_int_equal(hits(&f, "/roleAssignments?"), 1);
        assert_int_equal(hits(&f, "/providers/Microsoft.KeyVault/vaults?"), 1);
        assert_int_equal(hits(&f, "/deletedVaults?"), 1);
        assert_int_equal(f.total, 8);

        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        assert_true(s.ran);
        assert_int_equal(s.n_clusters, 4);
        assert_int_equal(s.stats.requests, 8);
        cr = find(&s, "c-versionless");
        dump(cr, now);
        assert_int_equal(cr->verdict.worst, SEVERITY_INFO);
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        cr = find(&s, "c-current");
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_PINNED));
        assert_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        cr = find(&s, "c-stale");
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        assert_non_null(cr->obs.pinned);
        cr = find(&s, "c-smk");
        assert_non_null(verdict_find(&cr->verdict, FINDING_SERVICE_MANAGED_KEY));
        sweep_result_done(&s);

        /* Within CacheTTLSec: only the listing and the key again (the pinned version, the
         * rotation policy, the identity, the vault listing and the roles are cached). */
        reset_hits(&f);
        done_called = false;
        assert_int_equal(inventory_sweep_start(inv, now + 60 * USEC_PER_SEC, on_done, NULL), 0);
        fake_pump(&f);
        assert_true(done_called);
        assert_int_equal(f.total, 2);
        assert_int_equal(hits(&f, "/mongoClusters?"), 1);
        assert_int_equal(hits(&f, "/keys/k1?"), 1);
        assert_int_equal(inventory_evaluate(inv, now + 60 * USEC_PER_SEC, &s), 0);
        assert_int_equal(find(&s, "c-versionless")->verdict.worst, SEVERITY_INFO);
        cr = find(&s, "c-stale");
        assert_non_null(cr->obs.pinned);
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        /* the vault listing, the rotation policy, the identity (once per cluster using it: 3),
         * the role assignments, the pinned version */
        assert_int_equal(s.stats.cached_reads, 7);
        sweep_result_done(&s);

        /* After the TTL everything is read again. */
        reset_hits(&f);
        assert_int_equal(inventory_sweep_start(inv, now + 16 * USEC_PER_MINUTE, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(f.total, 8);
        strv_free(f.log);
}

static struct route *route_named(struct route *routes, size_t n, const char *contains) {
        for (size_t i = 0; i < n; i++)
                if (streq(routes[i].contains, contains))
                        return &routes[i];
        fail_msg("no route %s", contains);
        return NULL;
}

static void sweep_at(struct inventory *inv, struct fake *f, usec_t now, struct sweep_result *ret) {
        reset_hits(f);
        done_called = false;
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(f);
        assert_true(done_called);
        assert_int_equal(inventory_evaluate(inv, now, ret), 0);
}

/* A pinned version that is not the current one is cached for CacheTTLSec= like the other slow
 * facts: within it the cached attributes judge the cluster (a change shows after the TTL), a
 * failed read is not cached, and a cached version that has become the current one is not the
 * "pinned" version of the cluster (the key's answer is). With CacheTTLSec=0, read every sweep. */
static void test_pinned_version_cache(void **state) {
        static char key_old_disabled[2048];
        struct route routes[ELEMENTSOF(healthy_routes) + 1];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;
        struct route *old, *key;

        build_bodies();
        snprintf(key_old_disabled, sizeof key_old_disabled,
                 "{\"key\":{\"kid\":\"https://kv1.vault.azure.net/keys/k1/" V_OLD "\",\"kty\":\"RSA\","
                 "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]," N_2048 "%s\",\"e\":\"AQAB\"},"
                 "\"attributes\":{\"enabled\":false,\"created\":1750000000,\"updated\":1763000000}}",
                 modulus());
        memcpy(routes, healthy_routes, sizeof healthy_routes);
        routes[ELEMENTSOF(healthy_routes)] = (struct route) { "/keys/k1/" V_NEW, 200, key_cur };
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                routes[i].hits = 0;
        old = route_named(routes, ELEMENTSOF(routes), "/keys/k1/" V_OLD);
        key = route_named(routes, ELEMENTSOF(routes), "/keys/k1?");
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);

        /* 1: read. */
        sweep_at(inv, &f, now, &s);
        assert_int_equal(old->hits, 1);
        cr = find(&s, "c-stale");
        assert_int_equal(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE)->severity, SEVERITY_WARNING);
        sweep_result_done(&s);

        /* 2: the version is disabled in the vault; within the TTL the cache still judges. */
        old->body = key_old_disabled;
        sweep_at(inv, &f, now + 5 * USEC_PER_MINUTE, &s);
        assert_int_equal(old->hits, 0);
        assert_int_equal(f.total, 2); /* the listing and the key */
        cr = find(&s, "c-stale");
        assert_non_null(cr->obs.pinned);
        assert_true(cr->obs.pinned->enabled);
        assert_null(verdict_find(&cr->verdict, FINDING_KEY_DISABLED));
        sweep_result_done(&s);

        /* 3: after the TTL it is read again, and the cluster is judged on what it now is. */
        sweep_at(inv, &f, now + 11 * USEC_PER_MINUTE, &s);
        assert_int_equal(old->hits, 1);
        cr = find(&s, "c-stale");
        dump(cr, now + 11 * USEC_PER_MINUTE);
        assert_int_equal(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE)->severity, SEVERITY_CRITICAL);
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_DISABLED));
        sweep_result_done(&s);

        /* 4: the key answers its pinned version as the current one (a newer one gone): the
         * pin is current, nothing is read for it, and the cached version is not the cluster's
         * pinned one: the key is. The cluster pinned to the other version reads that one. */
        key->body = key_old;
        sweep_at(inv, &f, now + 12 * USEC_PER_MINUTE, &s);
        assert_int_equal(old->hits, 0);
        assert_int_equal(hits(&f, "/keys/k1/" V_NEW), 1);
        cr = find(&s, "c-stale");
        assert_null(cr->obs.pinned);
        assert_ptr_equal(cluster_result_key_in_use(cr), cr->obs.key);
        assert_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        /* judged on the key's answer (enabled), not on the cached, disabled copy */
        assert_null(verdict_find(&cr->verdict, FINDING_KEY_DISABLED));
        cr = find(&s, "c-current");
        assert_non_null(cr->obs.pinned);
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        sweep_result_done(&s);

        /* 5, 6: a failed read is not cached: read again on the next sweep, well within the TTL. */
        key->body = key_cur;
        old->status = 500;
        old->body = "{\"error\":{\"code\":\"InternalServerError\",\"message\":\"x\"}}";
        sweep_at(inv, &f, now + 24 * USEC_PER_MINUTE, &s);
        assert_int_equal(old->hits, 1);
        cr = find(&s, "c-stale");
        assert_int_equal(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN)->fact, FACT_PINNED_VERSION);
        assert_null(cr->obs.pinned);
        sweep_result_done(&s);
        sweep_at(inv, &f, now + 25 * USEC_PER_MINUTE, &s);
        assert_int_equal(old->hits, 1);
        assert_int_equal(verdict_find(&find(&s, "c-stale")->verdict, FINDING_CHECK_UNKNOWN)->fact,
                         FACT_PINNED_VERSION);
        sweep_result_done(&s);
        strv_free(f.log);
}

static void test_pinned_version_no_cache(void **state) {
        struct fake f = { .routes = healthy_routes, .n_routes = ELEMENTSOF(healthy_routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        char **errors = NULL;

        build_bodies();
        assert_int_equal(conf_load_string("[Azure]\nSubscriptions=" SUB "\n[Daemon]\nCacheTTLSec=0\n",
                                          "t.conf", &c, &errors), 0);
        strv_free(errors);
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        for (unsigned i = 0; i < 3; i++) {
                sweep_at(inv, &f, now + i * USEC_PER_SEC, &s);
                assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 1);
                assert_int_equal(hits(&f, "/rotationpolicy?"), 1);
                assert_int_equal(f.total, 8);
                assert_non_null(find(&s, "c-stale")->obs.pinned);
                assert_int_equal(s.stats.cached_reads, 0);
                sweep_result_done(&s);
        }
        strv_free(f.log);
}

/* A cluster pinned to an old version, listed on a later page than another cluster of the same
 * key, after that key's answer came: its pinned version is read all the same (it was not, and
 * the cluster got check-unknown instead of what its pinned version deserves). */
static void test_pin_listed_after_key(void **state) {
        static char page1[4096], page2[4096];
        char a[2048], b[2048];
        struct route routes[ELEMENTSOF(healthy_routes) + 1];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;

        build_bodies();
        snprintf(a, sizeof a, cluster_fmt, "c-versionless", "c-versionless", "https://kv1.vault.azure.net/keys/k1");
        snprintf(b, sizeof b, cluster_fmt, "c-stale", "c-stale", "https://kv1.vault.azure.net/keys/k1/" V_OLD);
        snprintf(page1, sizeof page1,
                 "{\"value\":[%s],\"nextLink\":\"https://management.azure.com/subscriptions/" SUB
                 "/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01&%%24skipToken=p2\"}", a);
        snprintf(page2, sizeof page2, "{\"value\":[%s]}", b);
        memcpy(routes, healthy_routes, sizeof healthy_routes);
        routes[0].body = page1;
        /* Longest match wins: this beats "/mongoClusters?". */
        routes[ELEMENTSOF(healthy_routes)] =
                (struct route) { "/mongoClusters?api-version=2025-09-01&%24skipToken=p2", 200, page2 };
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                routes[i].hits = 0;

        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        /* The fake answers in order: the key (asked for by page 1) before page 2. */
        for (size_t i = 0; f.log[i]; i++)
                if (strstr(f.log[i], "skipToken=p2")) {
                        assert_non_null(strstr(f.log[i - 1], "/userAssignedIdentities/"));
                        break;
                }
        assert_int_equal(hits(&f, "/keys/k1?"), 1);
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 1);
        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        cr = find(&s, "c-stale");
        dump(cr, now);
        assert_non_null(cr->obs.pinned);
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        sweep_result_done(&s);
        strv_free(f.log);
}

/* A vault the listing shows only among the soft-deleted ones: its keys are not read (in
 * Azure its name no longer resolves; vault-deleted says it all), not even by clusters listed
 * before the vault listing answered. */
static void test_deleted_vault_not_read(void **state) {
        struct route routes[ELEMENTSOF(healthy_routes)];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;

        build_bodies();
        memcpy(routes, healthy_routes, sizeof routes);
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                routes[i].hits = 0;
                if (streq(routes[i].contains, "/providers/Microsoft.KeyVault/vaults?"))
                        routes[i].body = "{\"value\":[]}";
                if (streq(routes[i].contains, "/deletedVaults?"))
                        routes[i].body = "{\"value\":[{\"id\":\"/subscriptions/" SUB "/providers/Microsoft.KeyVault/"
                                         "locations/westeurope/deletedVaults/kv1\",\"name\":\"kv1\",\"type\":"
                                         "\"Microsoft.KeyVault/deletedVaults\",\"properties\":{\"vaultId\":\"" VAULT_ID
                                         "\",\"location\":\"westeurope\",\"deletionDate\":\"2025-11-20T00:00:00Z\"}}]}";
        }
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, "/keys/k1?"), 0);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 0);
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 0);
        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        cr = find(&s, "c-versionless");
        assert_true(cr->obs.vault_deleted);
        assert_non_null(verdict_find(&cr->verdict, FINDING_VAULT_DELETED));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        sweep_result_done(&s);
        strv_free(f.log);
}

/* cmkd stopped in the middle of a sweep, with key reads out (the daemon's SIGTERM): the
 * inventory frees what it kept for them, and the fetcher never calls back. Under
 * make BUILD=build-asan SAN=1 unit, LeakSanitizer sees a req left behind. */
static void test_free_mid_sweep(void **state) {
        struct fake f = { .routes = healthy_routes, .n_routes = ELEMENTSOF(healthy_routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        struct inventory *inv = NULL;

        build_bodies();
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        done_called = false;
        assert_int_equal(inventory_sweep_start(inv, 1764000000ULL * USEC_PER_SEC, on_done, NULL), 0);
        /* Answer one request at a time until a key read is out. */
        while (!queued(&f, "/keys/")) {
                assert_true(f.n_queue > 0);
                fake_answer_first(&f);
        }
        assert_true(inventory_busy(inv));
        inv = inventory_free(inv);
        fake_drop(&f);
        assert_false(done_called);
        strv_free(f.log);
}

static void test_listing_failure(void **state) {
        struct route routes[] = {
                { "/mongoClusters?", 403, "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"no\"}}" },
                { "/providers/Microsoft.KeyVault/vaults?", 200, "{\"value\":[]}" },
                { "/deletedVaults?", 200, "{\"value\":[]}" },
        };
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};

        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, 1764000000ULL * USEC_PER_SEC, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(inventory_evaluate(inv, 1764000000ULL * USEC_PER_SEC, &s), 0);
        /* Nothing could be listed: the sweep did not run (exit 3), no cluster is "absent". */
        assert_false(s.ran);
        assert_int_equal(sweep_exit_code(&s), 3);
        assert_int_equal(strv_length(s.failed_scopes), 1);
        assert_string_equal(s.failed_scopes[0], "/subscriptions/" SUB);
        assert_non_null(strstr(s.error_message, "AuthorizationFailed"));
        sweep_result_done(&s);
        strv_free(f.log);
}

/* ResourceGroups= applies in every subscription: a group one of them lacks is empty there,
 * not a failed listing (which would make the sweep incomplete and exit 1 forever). */
static void test_missing_resource_group(void **state) {
        struct route routes[] = {
                { "/resourceGroups/rg/providers/Microsoft.DocumentDB/mongoClusters?", 200, "{\"value\":[]}" },
                { "/resourceGroups/rg-gone/providers/Microsoft.DocumentDB/mongoClusters?", 404,
                  "{\"error\":{\"code\":\"ResourceGroupNotFound\",\"message\":\"Resource group 'rg-gone' could "
                  "not be found.\"}}" },
                { "/providers/Microsoft.KeyVault/vaults?", 200, "{\"value\":[]}" },
                { "/deletedVaults?", 200, "{\"value\":[]}" },
        };
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = NULL;
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        char **errors = NULL;

        assert_int_equal(conf_load_string("[Azure]\nSubscriptions=" SUB "\nResourceGroups=rg rg-gone\n", "t.conf",
                                          &c, &errors), 0);
        strv_free(errors);
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, 1764000000ULL * USEC_PER_SEC, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, "/resourceGroups/rg-gone/providers/Microsoft.DocumentDB/mongoClusters?"), 1);
        assert_int_equal(inventory_evaluate(inv, 1764000000ULL * USEC_PER_SEC, &s), 0);
        assert_true(s.ran);
        assert_int_equal(strv_length(s.failed_scopes), 0);
        assert_null(s.error_message);
        assert_int_equal(sweep_exit_code(&s), 0);
        sweep_result_done(&s);
        strv_free(f.log);
}

static void test_unknown_key(void **state) {
        struct route routes[ELEMENTSOF(healthy_routes)];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;

        build_bodies();
        memcpy(routes, healthy_routes, sizeof routes);
        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                routes[i].hits = 0;
                if (streq(routes[i].contains, "/keys/k1?")) {
                        routes[i].status = 403;
                        routes[i].body = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\",\"innererror\":"
                                         "{\"code\":\"ForbiddenByFirewall\"}}}";
                }
        }
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        /* The pinned version is only read once the current one is known. */
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 0);
        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        /* Every finding's borrowed status lies inside its own cluster's obs: sorting
         * the results after judging them once broke that (regression). */
        for (size_t i = 0; i < s.n_clusters; i++) {
                const struct cluster_result *x = &s.clusters[i];

                for (size_t j = 0; j < x->verdict.n_findings; j++) {
                        const char *p = (const char *) x->verdict.findings[j].status;

                        if (p)
                                assert_true(p >= (const char *) &x->obs && p < (const char *) (&x->obs + 1));
                }
        }
        cr = find(&s, "c-versionless");
        assert_non_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        assert_int_equal(cr->obs.key_status.state, OBS_UNKNOWN);
        assert_int_equal(cr->obs.key_status.http_status, 403);
        assert_string_equal(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN)->status->error_code, "ForbiddenByFirewall");
        sweep_result_done(&s);
        strv_free(f.log);
}

/* The findings of every cluster as "name code code ...", in one string, to compare sweeps. */
static void findings_text(const struct sweep_result *s, char *buf, size_t len) {
        size_t n = 0;

        buf[0] = 0;
        for (size_t i = 0; i < s->n_clusters; i++) {
                const struct cluster_result *cr = &s->clusters[i];

                n += snprintf(buf + n, len - MIN(n, len), "%s:", cr->obs.cluster->name);
                for (size_t j = 0; j < cr->verdict.n_findings; j++)
                        n += snprintf(buf + n, len - MIN(n, len), " %s/%s",
                                      finding_to_string(cr->verdict.findings[j].code),
                                      severity_to_string(cr->verdict.findings[j].severity));
                n += snprintf(buf + n, len - MIN(n, len), "\n");
        }
        assert_true(n < len);
}

/* The rotation policy is read only for a key that answered: it counts for nothing else
 * (policy.c judges nothing more of a key it could not read, or that is gone), and the read
 * would fail as the key's did. A key that answers 403 (cmkd's identity may not read it, or
 * the vault's firewall keeps cmkd out) is check-unknown about the key; whether its policy is
 * in the cache or not, the findings are the same. A deleted key: its deleted state only. */
static void test_rotation_policy_after_key(void **state) {
        struct route routes[ELEMENTSOF(healthy_routes) + 1];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;
        const struct finding *fd;
        struct route *key;
        char first[2048], again[2048];
        const char *forbidden = "{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\",\"innererror\":"
                                "{\"code\":\"ForbiddenByFirewall\"}}}";

        build_bodies();
        memcpy(routes, healthy_routes, sizeof healthy_routes);
        routes[ELEMENTSOF(healthy_routes)] = (struct route) {
                "/deletedkeys/k1?", 404, "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"x\"}}"
        };
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                routes[i].hits = 0;
        key = route_named(routes, ELEMENTSOF(routes), "/keys/k1?");
        key->status = 403;
        key->body = forbidden;
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);

        /* 1: the key answers 403: neither its policy nor its pinned version is read. */
        sweep_at(inv, &f, now, &s);
        assert_int_equal(hits(&f, "/keys/k1?"), 1);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 0);
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 0);
        for (size_t i = 0; i < s.n_clusters; i++) {
                cr = &s.clusters[i];
                if (!cr->obs.cluster->customer_managed)
                        continue;
                dump(cr, now);
                fd = verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN);
                assert_non_null(fd);
                assert_int_equal(fd->severity, SEVERITY_WARNING);
                assert_int_equal(fd->fact, FACT_KEY);
                assert_int_equal(fd->facts, 1u << FACT_KEY);
                assert_int_equal(fd->status->http_status, 403);
                assert_string_equal(fd->status->error_code, "ForbiddenByFirewall");
                assert_null(verdict_find(&cr->verdict, FINDING_KEY_NO_ROTATION_POLICY));
                assert_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        }
        findings_text(&s, first, sizeof first);
        sweep_result_done(&s);

        /* 2: readable again: the policy is read now (nothing was cached), then judged. */
        key->status = 200;
        key->body = key_cur;
        sweep_at(inv, &f, now + USEC_PER_MINUTE, &s);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 1);
        assert_int_equal(find(&s, "c-versionless")->verdict.worst, SEVERITY_INFO);
        assert_null(verdict_find(&find(&s, "c-versionless")->verdict, FINDING_CHECK_UNKNOWN));
        sweep_result_done(&s);

        /* 3: 403 again, with the policy in the cache: the same findings as in 1. */
        key->status = 403;
        key->body = forbidden;
        sweep_at(inv, &f, now + 2 * USEC_PER_MINUTE, &s);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 0);
        findings_text(&s, again, sizeof again);
        assert_string_equal(again, first);
        sweep_result_done(&s);

        /* 4: the key is gone (404, and not among the deleted ones): key-not-found, and neither
         * policy nor pinned version is read. */
        key->status = 404;
        key->body = "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"x\"}}";
        sweep_at(inv, &f, now + 20 * USEC_PER_MINUTE, &s);
        assert_int_equal(hits(&f, "/deletedkeys/k1?"), 1);
        assert_int_equal(hits(&f, "/rotationpolicy?"), 0);
        assert_int_equal(hits(&f, "/keys/k1/" V_OLD), 0);
        cr = find(&s, "c-versionless");
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_NOT_FOUND));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        sweep_result_done(&s);
        strv_free(f.log);
}

#define CUSTOM_ROLE "5c1e6f7a-8b9c-4d0e-a1f2-3b4c5d6e7f80"

/* A custom role is read once (and then cached) and grants like a built-in one; a key URL
 * of another cloud is never requested and is key-url-invalid, not unknown. */
static void test_custom_role_and_other_cloud(void **state) {
        static char list[8192];
        struct route routes[ELEMENTSOF(healthy_routes) + 1];
        struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;
        char a[2048], b[2048];

        build_bodies();
        snprintf(a, sizeof a, cluster_fmt, "c-custom", "c-custom", "https://kv1.vault.azure.net/keys/k1");
        snprintf(b, sizeof b, cluster_fmt, "c-cn", "c-cn", "https://kv1.vault.azure.cn/keys/k1");
        snprintf(list, sizeof list, "{\"value\":[%s,%s]}", a, b);
        memcpy(routes, healthy_routes, sizeof healthy_routes);
        for (size_t i = 0; i < ELEMENTSOF(healthy_routes); i++) {
                routes[i].hits = 0;
                if (streq(routes[i].contains, "/mongoClusters?"))
                        routes[i].body = list;
                if (streq(routes[i].contains, "/roleAssignments?"))
                        routes[i].body =
                                "{\"value\":[{\"id\":\"" VAULT_ID "/providers/Microsoft.Authorization/roleAssignments/r1\","
                                "\"name\":\"r1\",\"properties\":{\"roleDefinitionId\":\"/subscriptions/" SUB
                                "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM_ROLE "\",\"principalId\":\""
                                PRINCIPAL "\",\"principalType\":\"ServicePrincipal\",\"scope\":\"" VAULT_ID "\"}}]}";
        }
        routes[ELEMENTSOF(healthy_routes)] = (struct route) {
                "/subscriptions/" SUB "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM_ROLE "?", 200,
                "{\"id\":\"/subscriptions/" SUB "/providers/Microsoft.Authorization/roleDefinitions/" CUSTOM_ROLE "\","
                "\"name\":\"" CUSTOM_ROLE "\",\"type\":\"Microsoft.Authorization/roleDefinitions\",\"properties\":{"
                "\"roleName\":\"CMK Key User\",\"type\":\"CustomRole\",\"permissions\":[{\"actions\":[],"
                "\"notActions\":[],\"dataActions\":[\"Microsoft.KeyVault/vaults/keys/read\","
                "\"Microsoft.KeyVault/vaults/keys/wrap/action\",\"Microsoft.KeyVault/vaults/keys/unwrap/action\"],"
                "\"notDataActions\":[]}]}}" };

        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, routes[ELEMENTSOF(healthy_routes)].contains), 1);
        STRV_FOREACH(u, f.log)
                assert_null(strstr(*u, "vault.azure.cn"));
        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        cr = find(&s, "c-custom");
        dump(cr, now);
        assert_int_equal(cr->verdict.worst, SEVERITY_INFO);
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        assert_null(verdict_find(&cr->verdict, FINDING_ACCESS_REVOKED));
        assert_true(cr->verdict.access.evaluated && cr->verdict.access.granted && cr->verdict.access.roles.custom);
        cr = find(&s, "c-cn");
        dump(cr, now);
        assert_true(cr->obs.key_url_outside_cloud);
        assert_int_equal(cr->verdict.n_findings, 1);
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_URL_INVALID));
        sweep_result_done(&s);

        /* Within CacheTTLSec the definition is not read again, and still used. */
        reset_hits(&f);
        assert_int_equal(inventory_sweep_start(inv, now + 60 * USEC_PER_SEC, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, routes[ELEMENTSOF(healthy_routes)].contains), 0);
        assert_int_equal(inventory_evaluate(inv, now + 60 * USEC_PER_SEC, &s), 0);
        assert_int_equal(find(&s, "c-custom")->verdict.worst, SEVERITY_INFO);
        sweep_result_done(&s);
        strv_free(f.log);
}

/* ---- Managed HSM ------------------------------------------------------------------- */

#define HSM_ID RG "/providers/Microsoft.KeyVault/managedHSMs/hsm1"
#define HSM_HOST "https://hsm1.managedhsm.azure.net"
#define HSM_CUSTOM "c0ffee00-0000-4000-8000-000000000001"

static char hsm_clusters[8192], hsm_key_cur[2048], hsm_key_old[2048];

static void build_hsm_bodies(void) {
        char a[2048], b[2048], c[2048];

        build_bodies();
        snprintf(a, sizeof a, cluster_fmt, "c-hsm", "c-hsm", HSM_HOST "/keys/hk");
        snprintf(b, sizeof b, cluster_fmt, "c-hsm-stale", "c-hsm-stale", HSM_HOST "/keys/hk/" V_OLD);
        snprintf(c, sizeof c, cluster_fmt, "c-kv", "c-kv", "https://kv1.vault.azure.net/keys/k1");
        snprintf(hsm_clusters, sizeof hsm_clusters, "{\"value\":[%s,%s,%s]}", a, b, c);
        snprintf(hsm_key_cur, sizeof hsm_key_cur,
                 "{\"key\":{\"kid\":\"" HSM_HOST "/keys/hk/" V_NEW "\",\"kty\":\"RSA-HSM\","
                 "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]," N_2048 "%s\",\"e\":\"AQAB\"},"
                 "\"attributes\":{\"enabled\":true,\"created\":1760000000,\"updated\":1760000000}}",
                 modulus());
        snprintf(hsm_key_old, sizeof hsm_key_old,
                 "{\"key\":{\"kid\":\"" HSM_HOST "/keys/hk/" V_OLD "\",\"kty\":\"RSA-HSM\","
                 "\"key_ops\":[\"wrapKey\",\"unwrapKey\"]," N_2048 "%s\",\"e\":\"AQAB\"},"
                 "\"attributes\":{\"enabled\":true,\"created\":1750000000,\"updated\":1750000000}}",
                 modulus());
}

#define HSM_JSON(name)                                                                                      \
        "{\"id\":\"" RG "/providers/Microsoft.KeyVault/managedHSMs/" name "\",\"name\":\"" name "\","          \
        "\"type\":\"Microsoft.KeyVault/managedHSMs\",\"location\":\"westeurope\",\"sku\":{\"family\":\"B\","  \
        "\"name\":\"Standard_B1\"},\"properties\":{\"tenantId\":\"" TENANT "\",\"hsmUri\":\"https://" name    \
        ".managedhsm.azure.net/\",\"enableSoftDelete\":true,\"enablePurgeProtection\":true}}"

/* The HSM's local role assignments: the cluster identity holds a custom local role at /keys, cmkd
 * the Crypto Auditor at /. */
#define HSM_ROLES                                                                                           \
        "{\"value\":[{\"id\":\"/keys/providers/Microsoft.Authorization/roleAssignments/a1\",\"name\":\"a1\","  \
        "\"properties\":{\"scope\":\"/keys\",\"principalId\":\"" PRINCIPAL "\",\"roleDefinitionId\":"        \
        "\"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/" HSM_CUSTOM "\"}},"         \
        "{\"id\":\"/providers/Microsoft.Authorization/roleAssignments/a2\",\"name\":\"a2\",\"properties\":{"   \
        "\"scope\":\"/\",\"principalId\":\"99999999-0000-0000-0000-000000000001\",\"roleDefinitionId\":"      \
        "\"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"                            \
        "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3\"}}]}"

#define HSM_DEFS                                                                                            \
        "{\"value\":[{\"id\":\"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"         \
        HSM_CUSTOM "\",\"name\":\"" HSM_CUSTOM "\",\"type\":\"Microsoft.Authorization/roleDefinitions\","     \
        "\"properties\":{\"roleName\":\"cmk wrap\",\"type\":\"CustomRole\",\"assignableScopes\":[\"/\"],"     \
        "\"permissions\":[{\"actions\":[],\"notActions\":[],\"dataActions\":["                               \
        "\"Microsoft.KeyVault/managedHsm/keys/read/action\",\"Microsoft.KeyVault/managedHsm/keys/wrap/action\"," \
        "\"Microsoft.KeyVault/managedHsm/keys/unwrap/action\"],\"notDataActions\":[]}]}},"                   \
        "{\"id\":\"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"                     \
        "2c18b078-7c48-4d3a-af88-5a3a1b3f82b3\",\"name\":\"2c18b078-7c48-4d3a-af88-5a3a1b3f82b3\","           \
        "\"properties\":{\"roleName\":\"Managed HSM Crypto Auditor\",\"type\":\"AKVBuiltInRole\","            \
        "\"permissions\":[{\"dataActions\":[\"Microsoft.KeyVault/managedHsm/keys/read/action\"]}]}}]}"

static struct route hsm_routes[] = {
        { "/mongoClusters?", 200, hsm_clusters },
        /* A vault named like the HSM: different DNS namespaces, different stores. */
        { "/providers/Microsoft.KeyVault/vaults?", 200,
          "{\"value\":[{\"id\":\"" VAULT_ID "\",\"name\":\"kv1\",\"type\":\"Microsoft.KeyVault/vaults\","
          "\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"" TENANT "\",\"enableSoftDelete\":true,"
          "\"enablePurgeProtection\":true,\"enableRbacAuthorization\":true}},"
          "{\"id\":\"" RG "/providers/Microsoft.KeyVault/vaults/hsm1\",\"name\":\"hsm1\",\"location\":\"eastus\","
          "\"properties\":{\"tenantId\":\"" TENANT "\",\"enableRbacAuthorization\":true}}]}" },
        { "/deletedVaults?", 200, "{\"value\":[]}" },
        { "/providers/Microsoft.KeyVault/managedHSMs?", 200, "{\"value\":[" HSM_JSON("hsm1") "]}" },
        { "/deletedManagedHSMs?", 200, "{\"value\":[]}" },
        { "kv1.vault.azure.net/keys/k1?", 200, key_cur },
        { HSM_HOST "/keys/hk?", 200, hsm_key_cur },
        { HSM_HOST "/keys/hk/" V_OLD, 200, hsm_key_old },
        { "/rotationpolicy?", 200,
          "{\"lifetimeActions\":[{\"trigger\":{\"timeAfterCreate\":\"P90D\"},\"action\":{\"type\":\"Rotate\"}}]}" },
        { "/userAssignedIdentities/uami1?", 200,
          "{\"id\":\"" UAMI "\",\"name\":\"uami1\",\"location\":\"westeurope\",\"properties\":{\"tenantId\":\"" TENANT
          "\",\"principalId\":\"" PRINCIPAL "\",\"clientId\":\"44444444-4444-4444-4444-444444444444\"}}" },
        { "management.azure.com/subscriptions/" SUB "/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv1/providers/"
          "Microsoft.Authorization/roleAssignments?", 200,
          "{\"value\":[{\"id\":\"" VAULT_ID "/providers/Microsoft.Authorization/roleAssignments/r1\",\"name\":\"r1\","
          "\"properties\":{\"roleDefinitionId\":\"/subscriptions/" SUB "/providers/Microsoft.Authorization/"
          "roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6\",\"principalId\":\"" PRINCIPAL "\","
          "\"scope\":\"" VAULT_ID "\"}}]}" },
        { HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?", 200, HSM_ROLES },
        { HSM_HOST "/providers/Microsoft.Authorization/roleDefinitions?", 200, HSM_DEFS },
};

static enum fetch_audience audience_of(struct fake *f, const char *contains) {
        size_t i = 0;

        STRV_FOREACH(u, f->log) {
                if (strstr(*u, contains))
                        return f->audiences[i];
                i++;
        }
        fail_msg("no request for %s", contains);
        return _FETCH_AUDIENCE_MAX;
}

static void test_managed_hsm(void **state) {
        struct fake f = { .routes = hsm_routes, .n_routes = ELEMENTSOF(hsm_routes) };
        struct fetcher fetcher = { fake_get, &f };
        _cleanup_(conf_freep) struct conf *c = test_conf();
        _cleanup_(inventory_freep) struct inventory *inv = NULL;
        struct sweep_result s = {};
        usec_t now = 1764000000ULL * USEC_PER_SEC;
        const struct cluster_result *cr;
        size_t i = 0;

        build_hsm_bodies();
        for (size_t j = 0; j < ELEMENTSOF(hsm_routes); j++)
                hsm_routes[j].hits = 0;
        assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
        done_called = false;
        assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
        fake_pump(&f);
        assert_true(done_called);
        /* The HSM listing, its local roles and its definitions: each once. */
        assert_int_equal(hits(&f, "/providers/Microsoft.KeyVault/managedHSMs?"), 1);
        assert_int_equal(hits(&f, "/deletedManagedHSMs?"), 1);
        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?"), 1);
        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleDefinitions?"), 1);
        assert_int_equal(hits(&f, HSM_HOST "/keys/hk?"), 1);
        assert_int_equal(hits(&f, HSM_HOST "/keys/hk/" V_OLD), 1);
        /* No HSM request goes out with a vault or ARM token, and no HSM URL goes to ARM. */
        STRV_FOREACH(u, f.log) {
                if (strstr(*u, ".managedhsm.azure.net"))
                        assert_int_equal(f.audiences[i], FETCH_HSM);
                else if (strstr(*u, ".vault.azure.net"))
                        assert_int_equal(f.audiences[i], FETCH_VAULT);
                else
                        assert_int_equal(f.audiences[i], FETCH_ARM);
                i++;
        }
        assert_int_equal(audience_of(&f, "/managedHSMs?"), FETCH_ARM);

        assert_int_equal(inventory_evaluate(inv, now, &s), 0);
        cr = find(&s, "c-hsm");
        dump(cr, now);
        assert_int_equal(cr->verdict.worst, SEVERITY_INFO);
        assert_non_null(cr->obs.vault);
        assert_int_equal(cr->obs.vault->store, KEY_STORE_MANAGED_HSM);
        assert_string_equal(cr->obs.vault->id, HSM_ID);
        assert_true(cr->verdict.access.evaluated && cr->verdict.access.rbac && cr->verdict.access.granted);
        assert_true(cr->verdict.access.roles.custom);
        cr = find(&s, "c-hsm-stale");
        assert_non_null(verdict_find(&cr->verdict, FINDING_KEY_VERSION_STALE));
        assert_null(verdict_find(&cr->verdict, FINDING_CHECK_UNKNOWN));
        cr = find(&s, "c-kv");
        dump(cr, now);
        assert_int_equal(cr->verdict.worst, SEVERITY_INFO);
        assert_int_equal(cr->obs.vault->store, KEY_STORE_VAULT);
        sweep_result_done(&s);

        /* Within CacheTTLSec: clusters and keys only; the HSM facts come from the cache. */
        reset_hits(&f);
        assert_int_equal(inventory_sweep_start(inv, now + 60 * USEC_PER_SEC, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, "/providers/Microsoft.KeyVault/managedHSMs?"), 0);
        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?"), 0);
        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleDefinitions?"), 0);
        assert_int_equal(f.total, 3); /* clusters, kv1/k1, hsm1/hk (its pinned version is cached) */
        assert_int_equal(hits(&f, HSM_HOST "/keys/hk/" V_OLD), 0);
        assert_int_equal(inventory_evaluate(inv, now + 60 * USEC_PER_SEC, &s), 0);
        assert_int_equal(find(&s, "c-hsm")->verdict.worst, SEVERITY_INFO);
        sweep_result_done(&s);

        /* After the TTL, all again. */
        reset_hits(&f);
        assert_int_equal(inventory_sweep_start(inv, now + 16 * USEC_PER_MINUTE, on_done, NULL), 0);
        fake_pump(&f);
        assert_int_equal(hits(&f, "/providers/Microsoft.KeyVault/managedHSMs?"), 1);
        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?"), 1);
        strv_free(f.log);
}

/* What cmkd cannot read about an HSM is unknown, for the HSM's clusters only; a deleted HSM is
 * vault-deleted; a local role assignment list cmkd may not read is check-unknown. */
static void test_managed_hsm_unknowns(void **state) {
        static const struct {
                const char *route;
                long status;
                const char *body;
                enum finding_code code;
                enum fact_kind fact;
        } t[] = {
                { HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?", 403,
                  "{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\",\"innererror\":{\"code\":\"ForbiddenByRbac\"}}}",
                  FINDING_CHECK_UNKNOWN, FACT_ROLE_ASSIGNMENTS },
                { HSM_HOST "/providers/Microsoft.Authorization/roleDefinitions?", 403,
                  "{\"error\":{\"code\":\"Forbidden\",\"message\":\"x\"}}", FINDING_CHECK_UNKNOWN,
                  FACT_ROLE_DEFINITIONS },
                { "/providers/Microsoft.KeyVault/managedHSMs?", 403,
                  "{\"error\":{\"code\":\"AuthorizationFailed\",\"message\":\"x\"}}", FINDING_CHECK_UNKNOWN,
                  FACT_VAULT },
                { "/providers/Microsoft.KeyVault/managedHSMs?", 200, "{\"value\":[]}", FINDING_CHECK_UNKNOWN,
                  FACT_VAULT },
                { HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?", 200,
                  "{\"value\":[{\"id\":\"/keys/hk/providers/Microsoft.Authorization/roleAssignments/a3\","
                  "\"properties\":{\"scope\":\"/keys/other\",\"principalId\":\"" PRINCIPAL "\",\"roleDefinitionId\":"
                  "\"Microsoft.KeyVault/providers/Microsoft.Authorization/roleDefinitions/"
                  "33413926-3206-4cdd-b39a-83574fe37a17\"}}]}", FINDING_ACCESS_REVOKED, FACT_NONE },
                { HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?", 200,
                  "{\"value\":[{\"id\":\"x\",\"properties\":{\"principalId\":5}}]}", FINDING_CHECK_UNKNOWN,
                  FACT_ROLE_ASSIGNMENTS },
        };

        for (size_t k = 0; k < ELEMENTSOF(t) + 1; k++) {
                struct route routes[ELEMENTSOF(hsm_routes)];
                struct fake f = { .routes = routes, .n_routes = ELEMENTSOF(routes) };
                struct fetcher fetcher = { fake_get, &f };
                _cleanup_(conf_freep) struct conf *c = test_conf();
                _cleanup_(inventory_freep) struct inventory *inv = NULL;
                struct sweep_result s = {};
                usec_t now = 1764000000ULL * USEC_PER_SEC;
                const struct cluster_result *cr;
                const struct finding *fd;

                build_hsm_bodies();
                memcpy(routes, hsm_routes, sizeof routes);
                for (size_t j = 0; j < ELEMENTSOF(routes); j++) {
                        routes[j].hits = 0;
                        if (k < ELEMENTSOF(t) && streq(routes[j].contains, t[k].route)) {
                                routes[j].status = t[k].status;
                                routes[j].body = t[k].body;
                        }
                        /* last case: the HSM is among the deleted ones */
                        if (k == ELEMENTSOF(t) && streq(routes[j].contains, "/providers/Microsoft.KeyVault/managedHSMs?"))
                                routes[j].body = "{\"value\":[]}";
                        if (k == ELEMENTSOF(t) && streq(routes[j].contains, "/deletedManagedHSMs?"))
                                routes[j].body =
                                        "{\"value\":[{\"id\":\"/subscriptions/" SUB "/providers/Microsoft.KeyVault/"
                                        "locations/westeurope/deletedManagedHSMs/hsm1\",\"name\":\"hsm1\","
                                        "\"properties\":{\"mhsmId\":\"" HSM_ID "\",\"location\":\"westeurope\"}}]}";
                }
                assert_int_equal(inventory_new(c, &fetcher, &inv), 0);
                assert_int_equal(inventory_sweep_start(inv, now, on_done, NULL), 0);
                fake_pump(&f);
                assert_int_equal(inventory_evaluate(inv, now, &s), 0);
                cr = find(&s, "c-hsm");
                dump(cr, now);
                if (k == ELEMENTSOF(t)) {
                        assert_non_null(verdict_find(&cr->verdict, FINDING_VAULT_DELETED));
                        /* the roles of a deleted HSM are not read */
                        assert_int_equal(hits(&f, HSM_HOST "/providers/Microsoft.Authorization/roleAssignments?"), 0);
                } else {
                        fd = verdict_find(&cr->verdict, t[k].code);
                        if (!fd)
                                fail_msg("case %zu: no %s", k, finding_to_string(t[k].code));
                        if (t[k].code == FINDING_CHECK_UNKNOWN)
                                assert_int_equal(fd->fact, t[k].fact);
                        assert_null(verdict_find(&cr->verdict, FINDING_VAULT_DELETED));
                }
                /* The vault cluster is not touched by anything HSM. */
                cr = find(&s, "c-kv");
                assert_int_equal(cr->verdict.worst, SEVERITY_INFO);
                sweep_result_done(&s);
                strv_free(f.log);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_managed_hsm),
                cmocka_unit_test(test_managed_hsm_unknowns),
                cmocka_unit_test(test_dedup_and_cache),
                cmocka_unit_test(test_pin_listed_after_key),
                cmocka_unit_test(test_pinned_version_cache),
                cmocka_unit_test(test_pinned_version_no_cache),
                cmocka_unit_test(test_listing_failure),
                cmocka_unit_test(test_free_mid_sweep),
                cmocka_unit_test(test_deleted_vault_not_read),
                cmocka_unit_test(test_missing_resource_group),
                cmocka_unit_test(test_unknown_key),
                cmocka_unit_test(test_rotation_policy_after_key),
                cmocka_unit_test(test_custom_role_and_other_cloud),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
