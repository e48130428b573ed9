/* SPDX-License-Identifier: MIT */
/* libFuzzer target: mongoCluster and mongoCluster list decoders (arm_decode.h), the list also
 * into a string pool as the inventory decodes it; and against a reference built on json-c
 * (json_util.h), the way they were written before they read documents in place
 * (json_scan.h): a document both take must give the same clusters, the same skipped items and
 * the same next link, or the same error; json_scan.h may refuse a document json-c takes only
 * for its invalid UTF-8. */

#include <json-c/json_object_iterator.h>

#include "arm_decode.h"
#include "armid.h"
#include "fuzz-common.h"
#include "json_scan.h"
#include "json_util.h"
#include "strpool.h"
#include "strv.h"

/* The pool of one input: the lists decoded into it are freed before it. */
static struct strpool *pool;

static int decode_pooled(const char *body, size_t len, struct cluster_list **ret) {
        return arm_decode_cluster_list_pooled(body, len, pool, ret);
}

/* ---- the reference: a draft cluster whose strings are borrowed from the json-c tree ---- */

static int ref_check_key(const char *k) {
        size_t n = strlen(k);

        if (n > JSON_STRING_MAX)
                return -E2BIG;
        if (!json_utf8_valid(k, n))
                return -EBADMSG;
        return 0;
}

static void ref_draft_done(struct cluster *d) {
        mem_free(d->assigned);
        mem_free(d->tags);
}

/* A string member, borrowed into a draft's field (json-c's strings are const; the draft only
 * ever reads them). */
static int ref_get_str(const struct json_object *o, const char *key, char **dst) {
        const char *s;
        int r;

        r = json_get_string(o, key, &s);
        if (r == JSON_FIELD_PRESENT)
                *dst = (char *) s;
        return r;
}

static int ref_identity(const struct json_object *identity, struct cluster *c) {
        struct json_object_iterator it, end;
        struct json_object *uai;
        size_t allocated = 0;
        int r;

        r = ref_get_str(identity, "type", &c->identity_type);
        if (r < 0)
                return r;
        r = json_get_object(identity, "userAssignedIdentities", &uai);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return 0;

        it = json_object_iter_begin((struct json_object *) uai);
        end = json_object_iter_end((struct json_object *) uai);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *id = json_object_iter_peek_name(&it);
                struct json_object *v = json_object_iter_peek_value(&it);
                struct assigned_identity *a;

                r = ref_check_key(id);
                if (r < 0)
                        return r;
                if (id[0] == 0)
                        return -EBADMSG;
                /* Values are { principalId, clientId }, or {} / null in requests and while
                 * Azure has not filled them in yet. */
                if (v && json_value_object(v) < 0)
                        return -EBADMSG;
                if (GREEDY_REALLOC(c->assigned, allocated, c->n_assigned + 1) < 0)
                        return -ENOMEM;
                a = &c->assigned[c->n_assigned++];
                *a = (struct assigned_identity) { .id = (char *) id };
                if (!v)
                        continue;
                r = ref_get_str(v, "principalId", &a->principal_id);
                if (r < 0)
                        return r;
                r = ref_get_str(v, "clientId", &a->client_id);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int ref_tags(const struct json_object *tags, struct cluster *c) {
        struct json_object_iterator it, end;
        size_t allocated = 0;
        int r;

        it = json_object_iter_begin((struct json_object *) tags);
        end = json_object_iter_end((struct json_object *) tags);
        for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
                const char *name = json_object_iter_peek_name(&it), *value;
                struct json_object *v = json_object_iter_peek_value(&it);

                r = ref_check_key(name);
                if (r < 0)
                        return r;
                if (!v)
                        continue; /* a null tag value carries nothing */
                r = json_value_string(v, &value);
                if (r < 0)
                        return r;
                if (GREEDY_REALLOC(c->tags, allocated, c->n_tags + 1) < 0)
                        return -ENOMEM;
                c->tags[c->n_tags++] =
                        (struct cluster_tag) { .name = (char *) name, .value = (char *) value };
        }
        return 0;
}

static int ref_encryption(const struct json_object *props, struct cluster *c) {
        struct json_object *enc, *cmk, *kek;
        const char *url;
        int r;

        r = json_get_object(props, "encryption", &enc);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = json_get_object(enc, "customerManagedKeyEncryption", &cmk);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);

        /* A CMK block without its key URL is not a service-managed key: refuse it rather
         * than report the cluster as service-managed. */
        c->customer_managed = true;
        r = json_need_string(cmk, "keyEncryptionKeyUrl", &url);
        if (r < 0)
                return r;
        c->key_url = (char *) url;
        r = json_get_object(cmk, "keyEncryptionKeyIdentity", &kek);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = ref_get_str(kek, "identityType", &c->kek_identity_type);
        if (r < 0)
                return r;
        r = ref_get_str(kek, "userAssignedIdentityResourceId", &c->kek_identity_id);
        if (r < 0)
                return r;
        return 0;
}

static int ref_draft(const struct json_object *o, struct armid *a, struct cluster *c) {
        struct json_object *props, *replica, *identity, *tags;
        const char *id;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        r = json_need_string(o, "id", &id);
        if (r < 0)
                return r;
        c->id = (char *) id;
        if (armid_parse(c->id, a) < 0)
                return -EBADMSG;
        c->subscription = a->subscription;
        c->resource_group = a->resource_group;
        r = ref_get_str(o, "name", &c->name);
        if (r < 0)
                return r;
        if (!c->name)
                c->name = a->name;
        r = ref_get_str(o, "location", &c->location);
        if (r < 0)
                return r;

        /* Without properties we could not tell a CMK cluster from a service-managed one. */
        r = json_need_object(o, "properties", &props);
        if (r < 0)
                return r;
        r = ref_get_str(props, "provisioningState", &c->provisioning_state);
        if (r < 0)
                return r;
        r = ref_get_str(props, "clusterStatus", &c->cluster_status);
        if (r < 0)
                return r;
        r = ref_get_str(props, "createMode", &c->create_mode);
        if (r < 0)
                return r;
        r = json_get_object(props, "replica", &replica);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = ref_get_str(replica, "role", &c->replica_role);
                if (r < 0)
                        return r;
                r = ref_get_str(replica, "replicationState", &c->replication_state);
                if (r < 0)
                        return r;
        }
        r = ref_encryption(props, c);
        if (r < 0)
                return r;

        r = json_get_object(o, "identity", &identity);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = ref_identity(identity, c);
                if (r < 0)
                        return r;
        }
        r = json_get_object(o, "tags", &tags);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = ref_tags(tags, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* One page: 0 with the drafts (ref_draft_done() each, then free the array), or the error
 * json_decode_page() gives. */
struct ref_page {
        struct cluster *items; /* drafts */
        struct armid *ids;
        size_t n_items, n_invalid;
        char **invalid_ids;
        const char *next_link; /* borrowed; NULL for none */
};

static void ref_page_done(struct ref_page *p) {
        for (size_t i = 0; i < p->n_items; i++)
                ref_draft_done(&p->items[i]);
        free(p->items);
        free(p->ids);
        strv_free(p->invalid_ids);
}

static int ref_page(const struct json_object *root, struct ref_page *p) {
        struct json_object *value;
        const char *next;
        size_t n;
        int r;

        r = json_get_page_value(root, &value, &n);
        if (r < 0)
                return r;
        r = json_get_string(root, "nextLink", &next);
        if (r < 0)
                return r;
        p->next_link = r == JSON_FIELD_PRESENT && next[0] ? next : NULL;
        p->items = calloc(n + 1, sizeof(struct cluster));
        p->ids = calloc(n + 1, sizeof(struct armid));
        if (!p->items || !p->ids)
                abort();
        for (size_t i = 0; i < n; i++) {
                struct json_object *item = json_object_array_get_idx(value, i);
                struct cluster *d = &p->items[p->n_items];

                *d = (struct cluster) {};
                r = json_value_object(item);
                if (r >= 0)
                        r = ref_draft(item, &p->ids[p->n_items], d);
                if (r >= 0) {
                        p->n_items++;
                        continue;
                }
                ref_draft_done(d);
                if (!json_item_error(r))
                        abort();
                if (json_note_invalid(item, "id", &p->n_invalid, &p->invalid_ids) < 0)
                        abort();
        }
        return 0;
}

static bool str_same(const char *a, const char *b) {
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_same(const struct cluster *a, const struct cluster *b) {
        if (!str_same(a->id, b->id) || !str_same(a->name, b->name) || !str_same(a->location, b->location) ||
            !str_same(a->subscription, b->subscription) || !str_same(a->resource_group, b->resource_group) ||
            !str_same(a->provisioning_state, b->provisioning_state) ||
            !str_same(a->cluster_status, b->cluster_status) || !str_same(a->replica_role, b->replica_role) ||
            !str_same(a->replication_state, b->replication_state) ||
            !str_same(a->create_mode, b->create_mode) ||
            !str_same(a->identity_type, b->identity_type) || a->customer_managed != b->customer_managed ||
            !str_same(a->kek_identity_type, b->kek_identity_type) ||
            !str_same(a->kek_identity_id, b->kek_identity_id) || !str_same(a->key_url, b->key_url) ||
            a->n_assigned != b->n_assigned || a->n_tags != b->n_tags)
                abort();
        for (size_t i = 0; i < a->n_assigned; i++)
                if (!str_same(a->assigned[i].id, b->assigned[i].id) ||
                    !str_same(a->assigned[i].principal_id, b->assigned[i].principal_id) ||
                    !str_same(a->assigned[i].client_id, b->assigned[i].client_id))
                        abort();
        for (size_t i = 0; i < a->n_tags; i++)
                if (!str_same(a->tags[i].name, b->tags[i].name) ||
                    !str_same(a->tags[i].value, b->tags[i].value))
                        abort();
}

/* The decoders against the reference, on one document. */
static void differential(const char *body, size_t len) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(cluster_list_freep) struct cluster_list *l = NULL;
        _cleanup_(cluster_freep) struct cluster *c = NULL;
        struct ref_page page = {};
        struct json_scan scan;
        const char *top;
        int rj, rs, r;

        rj = json_parse_object(body, len, &root);
        rs = json_scan_document(&scan, body, len, &top);
        json_scan_done(&scan);
        if (rj < 0) {
                /* Never more lenient than json-c, and the same error. */
                if (rs != rj)
                        abort();
                return;
        }
        if (rs < 0) {
                /* Refused though json-c takes it: only for UTF-8 json-c lets through. */
                if (rs != -EBADMSG || json_utf8_valid(body, len))
                        abort();
                return;
        }

        /* One cluster. */
        {
                struct cluster d = {};
                struct armid id;

                rj = json_value_object(root);
                if (rj >= 0)
                        rj = ref_draft(root, &id, &d);
                r = arm_decode_cluster(body, len, &c);
                if (r != (rj < 0 ? rj : 0))
                        abort();
                if (r >= 0)
                        check_same(&d, c);
                ref_draft_done(&d);
        }

        /* A page. */
        rj = ref_page(root, &page);
        r = arm_decode_cluster_list_pooled(body, len, pool, &l);
        if (r != rj)
                abort();
        if (r >= 0) {
                if (l->n_items != page.n_items || l->n_invalid != page.n_invalid ||
                    strv_length(l->invalid_ids) != strv_length(page.invalid_ids) ||
                    !str_same(l->next_link, page.next_link))
                        abort();
                for (size_t i = 0; i < l->n_items; i++)
                        check_same(&page.items[i], l->items[i]);
                for (size_t i = 0; i < strv_length(l->invalid_ids); i++)
                        if (!streq(l->invalid_ids[i], page.invalid_ids[i]))
                                abort();
        }
        ref_page_done(&page);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(arm_decode_cluster, struct cluster, cluster_free, data, size);
        FUZZ_DECODER(arm_decode_cluster_list, struct cluster_list, cluster_list_free, data, size);
        if (strpool_new(&pool) < 0)
                abort();
        FUZZ_DECODER(decode_pooled, struct cluster_list, cluster_list_free, data, size);
        mem_fail_at(0, false);
        differential((const char *) data, size);
        pool = strpool_free(pool);
        return 0;
}
