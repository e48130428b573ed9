/* SPDX-License-Identifier: MIT */
/* ARM JSON → model: mongoClusters, vaults, managed HSMs, deleted vaults, identities,
 * subscriptions, role assignments and definitions, async-operation status. Pure: no
 * curl, no I/O, no logging, no clock. Every json-c tree is dropped before returning. */

#include <ctype.h>
#include <json-c/json_object_iterator.h>

#include "arm_decode.h"
#include "armid.h"
#include "json_scan.h"
#include "json_util.h"
#include "mem.h"
#include "strv.h"
#include "timeutil.h"

/* Copies s into *dst, which must be NULL. Returns 0 or -ENOMEM. */
static int dup_to(char **dst, const char *s) {
        char *c = mem_strdup(s);

        if (!c)
                return -ENOMEM;
        *dst = c;
        return 0;
}

static void ascii_lower(char *s) {
        for (; *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

/* ---- mongoClusters ---------------------------------------------------------------- */

/* Cluster documents are read in place (json_scan.h): list pages are most of what a sweep
 * reads. Every check below is the one json_util.h would make on a json-c tree, in the same
 * order, so that a document gives the same cluster or the same error either way. */

/* What the json_get_*() lookups say of a looked-up value v (NULL: absent) before reading it:
 * JSON_FIELD_ABSENT, JSON_FIELD_NULL, -EBADMSG when it is of another type than want, or
 * JSON_FIELD_PRESENT. */
static int scan_expect(const char *v, enum json_scan_type want) {
        enum json_scan_type t;

        if (!v)
                return JSON_FIELD_ABSENT;
        t = json_scan_type(v);
        if (t == JSON_SCAN_NULL)
                return JSON_FIELD_NULL;
        return t == want ? JSON_FIELD_PRESENT : -EBADMSG;
}

/* json_get_string() of a looked-up value (NULL: absent): a string is unescaped into a and
 * borrowed into *dst. */
static int scan_get_string(struct json_scan *a, const char *v, char **dst) {
        const char *s;
        size_t n;
        int r;

        r = scan_expect(v, JSON_SCAN_STRING);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_scan_string(a, v, &s, &n);
        if (r < 0)
                return r;
        /* Valid UTF-8 without NUL: the document check and the unescaping see to that. */
        if (n > JSON_STRING_MAX)
                return -E2BIG;
        *dst = (char *) s;
        return JSON_FIELD_PRESENT;
}

/* json_need_string(). */
static int scan_need_string(struct json_scan *a, const char *v, char **dst) {
        char *s = NULL;
        int r;

        r = scan_get_string(a, v, &s);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT || s[0] == 0)
                return -EBADMSG;
        *dst = s;
        return 0;
}

/* json_value_object() on v, looking up n keys of it at the same time. */
static int scan_object(struct json_scan *a, const char *v, const char *const *keys, size_t n,
                       const char **values) {
        int r;

        if (json_scan_type(v) != JSON_SCAN_OBJECT)
                return -EBADMSG;
        r = json_scan_lookup(a, v, keys, n, values);
        if (r < 0)
                return r;
        if ((size_t) r > JSON_MEMBERS_MAX)
                return -E2BIG;
        return 0;
}

/* json_get_object() of a looked-up value, with its keys looked up. */
static int scan_get_object(struct json_scan *a, const char *v, const char *const *keys, size_t n,
                           const char **values) {
        int r;

        r = scan_expect(v, JSON_SCAN_OBJECT);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = scan_object(a, v, keys, n, values);
        return r < 0 ? r : JSON_FIELD_PRESENT;
}

/* json_get_object() of a looked-up value whose members are walked: each distinct one, into a
 * new array *ret (mem.h). */
static int scan_get_members(struct json_scan *a, const char *v, struct json_scan_member **ret,
                            size_t *ret_n) {
        struct json_scan_member *m = NULL;
        size_t n;
        int r;

        r = scan_expect(v, JSON_SCAN_OBJECT);
        if (r != JSON_FIELD_PRESENT)
                return r;
        r = json_scan_members(a, v, &m, &n);
        if (r < 0)
                return r;
        if (n > JSON_MEMBERS_MAX) {
                mem_free(m);
                return -E2BIG;
        }
        *ret = m;
        *ret_n = n;
        return JSON_FIELD_PRESENT;
}

/* A member name from an object we walk (tags, userAssignedIdentities): check_key() of the
 * json-c decoders. Unescaped names are valid UTF-8 (lone surrogates became U+FFFD). */
static int scan_check_name(const struct json_scan_member *m) {
        return m->name_len > JSON_STRING_MAX ? -E2BIG : 0;
}

/* A cluster is decoded into a draft whose strings live in the arena (or in a struct armid),
 * then packed into its own allocation (and a sweep's string pool): each string is copied
 * once out of the document and once into its place. The draft's arrays are its own, freed by
 * draft_done(). */
static void draft_done(struct cluster *d) {
        mem_free(d->assigned);
        mem_free(d->tags);
}

static int cluster_identity_from_scan(struct json_scan *a, const char *identity, struct cluster *c) {
        static const char *const keys[] = { "type", "userAssignedIdentities" };
        _cleanup_free_ struct json_scan_member *m = NULL;
        const char *v[ELEMENTSOF(keys)];
        size_t n = 0;
        int r;

        r = scan_object(a, identity, keys, ELEMENTSOF(keys), v);
        if (r < 0)
                return r;
        r = scan_get_string(a, v[0], &c->identity_type);
        if (r < 0)
                return r;
        r = scan_get_members(a, v[1], &m, &n);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        if (n > 0) {
                c->assigned = new0(struct assigned_identity, n);
                if (!c->assigned)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                static const char *const ukeys[] = { "principalId", "clientId" };
                const char *u[ELEMENTSOF(ukeys)];
                struct assigned_identity *ai;

                r = scan_check_name(&m[i]);
                if (r < 0)
                        return r;
                if (m[i].name_len == 0)
                        return -EBADMSG;
                /* Values are { principalId, clientId }, or {} / null in requests and while
                 * Azure has not filled them in yet. */
                if (json_scan_type(m[i].value) == JSON_SCAN_NULL) {
                        c->assigned[c->n_assigned++] =
                                (struct assigned_identity) { .id = (char *) m[i].name };
                        continue;
                }
                if (scan_object(a, m[i].value, ukeys, ELEMENTSOF(ukeys), u) < 0)
                        return -EBADMSG;
                ai = &c->assigned[c->n_assigned++];
                *ai = (struct assigned_identity) { .id = (char *) m[i].name };
                r = scan_get_string(a, u[0], &ai->principal_id);
                if (r < 0)
                        return r;
                r = scan_get_string(a, u[1], &ai->client_id);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cluster_tags_from_scan(struct json_scan *a, struct json_scan_member *m, size_t n,
                                  struct cluster *c) {
        int r;

        if (n > 0) {
                c->tags = new0(struct cluster_tag, n);
                if (!c->tags)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                char *value = NULL;

                r = scan_check_name(&m[i]);
                if (r < 0)
                        return r;
                if (json_scan_type(m[i].value) == JSON_SCAN_NULL)
                        continue; /* a null tag value carries nothing */
                r = scan_get_string(a, m[i].value, &value);
                if (r < 0)
                        return r;
                c->tags[c->n_tags++] = (struct cluster_tag) { .name = (char *) m[i].name, .value = value };
        }
        return 0;
}

static int cluster_encryption_from_scan(struct json_scan *a, const char *encryption, struct cluster *c) {
        static const char *const ekeys[] = { "customerManagedKeyEncryption" };
        static const char *const ckeys[] = { "keyEncryptionKeyUrl", "keyEncryptionKeyIdentity" };
        static const char *const kkeys[] = { "identityType", "userAssignedIdentityResourceId" };
        const char *e[ELEMENTSOF(ekeys)], *cmk[ELEMENTSOF(ckeys)], *kek[ELEMENTSOF(kkeys)];
        int r;

        r = scan_get_object(a, encryption, ekeys, ELEMENTSOF(ekeys), e);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = scan_get_object(a, e[0], ckeys, ELEMENTSOF(ckeys), cmk);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);

        /* A CMK block without its key URL is not a service-managed key: refuse it rather
         * than report the cluster as service-managed. */
        c->customer_managed = true;
        r = scan_need_string(a, cmk[0], &c->key_url);
        if (r < 0)
                return r;
        r = scan_get_object(a, cmk[1], kkeys, ELEMENTSOF(kkeys), kek);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = scan_get_string(a, kek[0], &c->kek_identity_type);
        if (r < 0)
                return r;
        r = scan_get_string(a, kek[1], &c->kek_identity_id);
        if (r < 0)
                return r;
        return 0;
}

static int cluster_draft_from_scan(struct json_scan *a, const char *o, struct armid *id, struct cluster *c) {
        static const char *const keys[] = { "id", "name", "location", "properties", "identity", "tags" };
        static const char *const pkeys[] = { "provisioningState", "clusterStatus", "createMode", "replica",
                                             "encryption" };
        static const char *const rkeys[] = { "role", "replicationState" };
        _cleanup_free_ struct json_scan_member *tags = NULL;
        const char *v[ELEMENTSOF(keys)], *p[ELEMENTSOF(pkeys)], *rep[ELEMENTSOF(rkeys)];
        size_t n_tags = 0;
        int r;

        r = scan_object(a, o, keys, ELEMENTSOF(keys), v);
        if (r < 0)
                return r;
        r = scan_need_string(a, v[0], &c->id);
        if (r < 0)
                return r;
        if (armid_parse(c->id, id) < 0)
                return -EBADMSG;
        c->subscription = id->subscription;
        c->resource_group = id->resource_group;
        r = scan_get_string(a, v[1], &c->name);
        if (r < 0)
                return r;
        if (!c->name)
                c->name = id->name;
        r = scan_get_string(a, v[2], &c->location);
        if (r < 0)
                return r;

        /* Without properties we could not tell a CMK cluster from a service-managed one. */
        r = scan_get_object(a, v[3], pkeys, ELEMENTSOF(pkeys), p);
        if (r < 0)
                return r;
        if (r != JSON_FIELD_PRESENT)
                return -EBADMSG;
        r = scan_get_string(a, p[0], &c->provisioning_state);
        if (r < 0)
                return r;
        r = scan_get_string(a, p[1], &c->cluster_status);
        if (r < 0)
                return r;
        r = scan_get_string(a, p[2], &c->create_mode);
        if (r < 0)
                return r;
        r = scan_get_object(a, p[3], rkeys, ELEMENTSOF(rkeys), rep);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = scan_get_string(a, rep[0], &c->replica_role);
                if (r < 0)
                        return r;
                r = scan_get_string(a, rep[1], &c->replication_state);
                if (r < 0)
                        return r;
        }
        r = cluster_encryption_from_scan(a, p[4], c);
        if (r < 0)
                return r;

        if (v[4] && json_scan_type(v[4]) != JSON_SCAN_NULL) {
                r = cluster_identity_from_scan(a, v[4], c);
                if (r < 0)
                        return r;
        }
        r = scan_get_members(a, v[5], &tags, &n_tags);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = cluster_tags_from_scan(a, tags, n_tags, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int cluster_from_scan(struct json_scan *a, const char *o, struct strpool *pool,
                             struct cluster **ret) {
        _cleanup_(draft_done) struct cluster d = {};
        struct armid id;
        int r;

        r = cluster_draft_from_scan(a, o, &id, &d);
        if (r < 0)
                return r;
        return cluster_pack_from(&d, pool, ret);
}

int arm_decode_cluster(const char *body, size_t len, struct cluster **ret) {
        struct json_scan a;
        const char *o;
        int r;

        r = json_scan_document(&a, body, len, &o);
        if (r >= 0)
                r = cluster_from_scan(&a, o, NULL, ret);
        json_scan_done(&a);
        return r;
}

/* json_note_invalid() for an item that did not decode. */
static int scan_note_invalid(struct json_scan *a, const char *item, struct cluster_list *l) {
        static const char *const keys[] = { "id" };
        const char *v[1];
        char *id = NULL;
        int r;

        l->n_invalid++;
        if (json_scan_type(item) != JSON_SCAN_OBJECT)
                return 0;
        r = json_scan_lookup(a, item, keys, 1, v);
        if (r < 0)
                return r;
        r = scan_get_string(a, v[0], &id);
        if (r == -ENOMEM)
                return r;
        if (r != JSON_FIELD_PRESENT || id[0] == 0)
                return 0;
        return strv_extend(&l->invalid_ids, id);
}

int arm_decode_cluster_list_pooled(const char *body, size_t len, struct strpool *pool,
                                   struct cluster_list **ret) {
        static const char *const keys[] = { "value", "nextLink" };
        _cleanup_(cluster_list_freep) struct cluster_list *l = NULL;
        struct json_scan a;
        const char *o, *v[ELEMENTSOF(keys)];
        char *next_link = NULL;
        size_t n;
        int r;

        /* In the order of json_decode_page(). */
        r = json_scan_document(&a, body, len, &o);
        if (r < 0)
                goto finish;
        r = json_scan_lookup(&a, o, keys, ELEMENTSOF(keys), v);
        if (r < 0)
                goto finish;
        /* "value" is required in every list result of the specs. */
        if (!v[0] || json_scan_type(v[0]) != JSON_SCAN_ARRAY) {
                r = -EBADMSG;
                goto finish;
        }
        n = json_scan_array_length(&a, v[0]);
        if (n > JSON_ARRAY_MAX) {
                r = -E2BIG;
                goto finish;
        }
        l = new0(struct cluster_list, 1);
        if (!l) {
                r = -ENOMEM;
                goto finish;
        }
        /* nextLink: absent, null or "" ends the list (json_get_next_link()). */
        r = scan_get_string(&a, v[1], &next_link);
        if (r == JSON_FIELD_PRESENT && next_link[0] != 0 && !(l->next_link = mem_strdup(next_link)))
                r = -ENOMEM;
        if (r < 0)
                goto finish;
        l->items = new0(struct cluster *, MAX(n, (size_t) 1));
        if (!l->items) {
                r = -ENOMEM;
                goto finish;
        }
        for (const char *item = json_scan_first(v[0]); item; item = json_scan_next(&a, item)) {
                json_scan_forget_strings(&a);
                r = cluster_from_scan(&a, item, pool, &l->items[l->n_items]);
                if (r >= 0) {
                        l->n_items++;
                        continue;
                }
                if (!json_item_error(r))
                        goto finish;
                r = scan_note_invalid(&a, item, l);
                if (r < 0)
                        goto finish;
        }
        r = 0;
        *ret = TAKE_PTR(l);
finish:
        json_scan_done(&a);
        return r;
}

int arm_decode_cluster_list(const char *body, size_t len, struct cluster_list **ret) {
        return arm_decode_cluster_list_pooled(body, len, NULL, ret);
}

/* ---- vaults and managed HSMs ---------------------------------------------------- */

/* True if the comma-separated list s names word (any case). ARM sends one value for Key
 * Vault ("AzureServices" or "None"), but other resource types send flag lists. */
static bool word_list_contains(const char *s, const char *word) {
        size_t wl = strlen(word);

        for (const char *p = s; *p;) {
                size_t n;

                p += strspn(p, " ,");
                n = strcspn(p, ",");
                while (n > 0 && p[n - 1] == ' ')
                        n--;
                if (n == wl && strncasecmp(p, word, wl) == 0)
                        return true;
                p += strcspn(p, ",");
        }
        return false;
}

static int vault_network_from_json(const struct json_object *props, struct vault *v) {
        struct json_object *acls, *pecs;
        const char *s;
        size_t n;
        int r;

        r = json_dup_string(props, "publicNetworkAccess", &v->public_network_access);
        if (r < 0)
                return r;
        v->public_network_disabled =
                v->public_network_access && strcasecmp(v->public_network_access, "disabled") == 0;

        v->bypass_azure_services = true; /* the spec's default */
        r = json_get_object(props, "networkAcls", &acls);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = json_get_string(acls, "bypass", &s);
                if (r < 0)
                        return r;
                if (r == JSON_FIELD_PRESENT)
                        v->bypass_azure_services = word_list_contains(s, "AzureServices");
                r = json_get_string(acls, "defaultAction", &s);
                if (r < 0)
                        return r;
                v->default_action_deny = r == JSON_FIELD_PRESENT && strcasecmp(s, "Deny") == 0;
        }

        r = json_get_array(props, "privateEndpointConnections", &pecs, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; r == JSON_FIELD_PRESENT && i < n; i++) {
                struct json_object *pec = json_object_array_get_idx(pecs, i), *p, *state;
                const char *status;
                int k;

                k = json_value_object(pec);
                if (k < 0)
                        return k;
                k = json_get_object(pec, "properties", &p);
                if (k < 0)
                        return k;
                if (k != JSON_FIELD_PRESENT)
                        continue;
                k = json_get_object(p, "privateLinkServiceConnectionState", &state);
                if (k < 0)
                        return k;
                if (k != JSON_FIELD_PRESENT)
                        continue;
                k = json_get_string(state, "status", &status);
                if (k < 0)
                        return k;
                if (k == JSON_FIELD_PRESENT && strcasecmp(status, "Approved") == 0)
                        v->n_private_endpoints++;
        }
        return 0;
}

static unsigned key_permission_from_string(const char *s) {
        static const struct {
                const char *name;
                unsigned bit;
        } table[] = {
                { "get", KEY_PERM_GET },
                { "list", KEY_PERM_LIST },
                { "wrapKey", KEY_PERM_WRAP_KEY },
                { "unwrapKey", KEY_PERM_UNWRAP_KEY },
                { "all", KEY_PERM_ALL },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strcasecmp(s, table[i].name) == 0)
                        return table[i].bit;
        return KEY_PERM_OTHER;
}

static int access_policy_from_json(const struct json_object *o, struct access_policy *ap) {
        struct json_object *perms, *keys;
        size_t n;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        r = json_need_dup_string(o, "tenantId", &ap->tenant_id);
        if (r < 0)
                return r;
        r = json_need_dup_string(o, "objectId", &ap->object_id);
        if (r < 0)
                return r;
        r = json_dup_string(o, "applicationId", &ap->application_id);
        if (r < 0)
                return r;
        r = json_get_object(o, "permissions", &perms);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        r = json_get_array(perms, "keys", &keys, &n);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        for (size_t i = 0; i < n; i++) {
                const char *s;

                r = json_value_string(json_object_array_get_idx(keys, i), &s);
                if (r < 0)
                        return r;
                ap->key_permissions |= key_permission_from_string(s);
        }
        return 0;
}

static int vault_from_json(const struct json_object *o, enum key_store store, struct vault **ret) {
        _cleanup_(vault_freep) struct vault *v = NULL;
        struct json_object *props, *aps;
        struct armid a;
        size_t n;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        v = new0(struct vault, 1);
        if (!v)
                return -ENOMEM;
        v->store = store;

        r = json_need_dup_string(o, "id", &v->id);
        if (r < 0)
                return r;
        r = json_dup_string(o, "name", &v->name);
        if (r < 0)
                return r;
        if (!v->name && armid_parse(v->id, &a) >= 0 && dup_to(&v->name, a.name) < 0)
                return -ENOMEM;
        r = json_dup_string(o, "location", &v->location);
        if (r < 0)
                return r;

        r = json_need_object(o, "properties", &props);
        if (r < 0)
                return r;
        r = json_need_dup_string(props, "tenantId", &v->tenant_id);
        if (r < 0)
                return r;
        r = json_dup_string(props, store == KEY_STORE_MANAGED_HSM ? "hsmUri" : "vaultUri", &v->uri);
        if (r < 0)
                return r;

        v->soft_delete = true;
        r = json_get_bool(props, "enableSoftDelete", &v->soft_delete);
        if (r < 0)
                return r;
        r = json_get_bool(props, "enablePurgeProtection", &v->purge_protection);
        if (r < 0)
                return r;

        if (store == KEY_STORE_MANAGED_HSM) {
                v->rbac_authorization = true;
                v->rbac_authorization_set = true;
        } else {
                r = json_get_bool(props, "enableRbacAuthorization", &v->rbac_authorization);
                if (r < 0)
                        return r;
                v->rbac_authorization_set = r == JSON_FIELD_PRESENT;
        }

        r = vault_network_from_json(props, v);
        if (r < 0)
                return r;

        if (store == KEY_STORE_VAULT) {
                r = json_get_array(props, "accessPolicies", &aps, &n);
                if (r < 0)
                        return r;
                if (r == JSON_FIELD_PRESENT && n > 0) {
                        v->access_policies = new0(struct access_policy, n);
                        if (!v->access_policies)
                                return -ENOMEM;
                        for (size_t i = 0; i < n; i++) {
                                /* Counted first, so vault_free() frees a half-filled entry. */
                                v->n_access_policies++;
                                r = access_policy_from_json(json_object_array_get_idx(aps, i),
                                                            &v->access_policies[i]);
                                if (r < 0)
                                        return r;
                        }
                }
        }

        *ret = TAKE_PTR(v);
        return 0;
}

static int vault_decode(const char *body, size_t len, enum key_store store, struct vault **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        return vault_from_json(root, store, ret);
}

int arm_decode_vault(const char *body, size_t len, struct vault **ret) {
        return vault_decode(body, len, KEY_STORE_VAULT, ret);
}

int arm_decode_managed_hsm(const char *body, size_t len, struct vault **ret) {
        return vault_decode(body, len, KEY_STORE_MANAGED_HSM, ret);
}

static int vault_item(const struct json_object *o, void *slot, void *userdata) {
        const enum key_store *store = userdata;

        return vault_from_json(o, *store, slot);
}

static int vault_list_decode(const char *body, size_t len, enum key_store store, struct vault_list **ret) {
        _cleanup_(vault_list_freep) struct vault_list *l = NULL;
        int r;

        r = json_decode_page(body, len, JSON_PAGE_LAYOUT(struct vault_list), "id", vault_item, &store,
                             (void **) &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int arm_decode_vault_list(const char *body, size_t len, struct vault_list **ret) {
        return vault_list_decode(body, len, KEY_STORE_VAULT, ret);
}

int arm_decode_managed_hsm_list(const char *body, size_t len, struct vault_list **ret) {
        return vault_list_decode(body, len, KEY_STORE_MANAGED_HSM, ret);
}

/* ---- deleted vaults --------------------------------------------------------------- */

/* An optional RFC 3339 member; 0 when absent or null. */
static int get_date(const struct json_object *o, const char *key, usec_t *ret) {
        const char *s;
        usec_t t;
        int r;

        r = json_get_string(o, key, &s);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        if (rfc3339_parse(s, &t) < 0)
                return -EBADMSG;
        *ret = t;
        return 0;
}

/* DeletedVault, or DeletedManagedHsm (store KEY_STORE_MANAGED_HSM): the same shape with
 * properties.mhsmId for vaultId. */
static int deleted_vault_from_json(const struct json_object *o, enum key_store store,
                                   struct deleted_vault **ret) {
        _cleanup_(deleted_vault_freep) struct deleted_vault *v = NULL;
        struct json_object *props;
        struct armid a;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        v = new0(struct deleted_vault, 1);
        if (!v)
                return -ENOMEM;
        r = store == KEY_STORE_MANAGED_HSM ? json_dup_string(o, "name", &v->name)
                                           : json_need_dup_string(o, "name", &v->name);
        if (r < 0)
                return r;
        r = json_dup_string(o, "id", &v->id);
        if (r < 0)
                return r;
        r = json_need_object(o, "properties", &props);
        if (r < 0)
                return r;
        r = json_dup_string(props, store == KEY_STORE_MANAGED_HSM ? "mhsmId" : "vaultId", &v->vault_id);
        if (r < 0)
                return r;
        /* The spec's own deleted-HSM examples name every item "vault-agile-drawer-6404" while
         * mhsmId (and id) end in the HSM's name: the id of the HSM itself is the better witness. */
        if (store == KEY_STORE_MANAGED_HSM && v->vault_id && armid_parse(v->vault_id, &a) >= 0) {
                mem_free(v->name);
                v->name = NULL;
                if (dup_to(&v->name, a.name) < 0)
                        return -ENOMEM;
        }
        if (!v->name)
                return -EBADMSG;
        r = json_dup_string(props, "location", &v->location);
        if (r < 0)
                return r;
        r = get_date(props, "deletionDate", &v->deletion_date);
        if (r < 0)
                return r;
        r = get_date(props, "scheduledPurgeDate", &v->scheduled_purge_date);
        if (r < 0)
                return r;
        r = json_get_bool(props, "purgeProtectionEnabled", &v->purge_protection);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

int arm_decode_deleted_vault(const char *body, size_t len, struct deleted_vault **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        return deleted_vault_from_json(root, KEY_STORE_VAULT, ret);
}

static int deleted_vault_item(const struct json_object *o, void *slot, void *userdata) {
        const enum key_store *store = userdata;

        return deleted_vault_from_json(o, *store, slot);
}

static int deleted_list_decode(const char *body, size_t len, enum key_store store,
                               struct deleted_vault_list **ret) {
        _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *l = NULL;
        int r;

        r = json_decode_page(body, len, JSON_PAGE_LAYOUT(struct deleted_vault_list), "id", deleted_vault_item,
                             &store, (void **) &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

int arm_decode_deleted_vault_list(const char *body, size_t len, struct deleted_vault_list **ret) {
        return deleted_list_decode(body, len, KEY_STORE_VAULT, ret);
}

int arm_decode_deleted_managed_hsm_list(const char *body, size_t len, struct deleted_vault_list **ret) {
        return deleted_list_decode(body, len, KEY_STORE_MANAGED_HSM, ret);
}

/* ---- user-assigned identities -------------------------------------------------------- */

int arm_decode_identity(const char *body, size_t len, struct identity **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(identity_freep) struct identity *i = NULL;
        struct json_object *props;
        struct armid a;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        i = new0(struct identity, 1);
        if (!i)
                return -ENOMEM;
        r = json_need_dup_string(root, "id", &i->id);
        if (r < 0)
                return r;
        r = json_dup_string(root, "name", &i->name);
        if (r < 0)
                return r;
        if (!i->name && armid_parse(i->id, &a) >= 0 && dup_to(&i->name, a.name) < 0)
                return -ENOMEM;
        r = json_dup_string(root, "location", &i->location);
        if (r < 0)
                return r;
        r = json_need_object(root, "properties", &props);
        if (r < 0)
                return r;
        /* principalId is what access policies and role assignments name: without it the
         * identity tells us nothing. */
        r = json_need_dup_string(props, "principalId", &i->principal_id);
        if (r < 0)
                return r;
        r = json_dup_string(props, "tenantId", &i->tenant_id);
        if (r < 0)
                return r;
        r = json_dup_string(props, "clientId", &i->client_id);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(i);
        return 0;
}

/* ---- subscriptions ---------------------------------------------------------------- */

int arm_decode_subscription_list(const char *body, size_t len, struct subscription_list **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(subscription_list_freep) struct subscription_list *l = NULL;
        struct json_object *value;
        size_t n, n_ids = 0;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        r = json_get_page_value(root, &value, &n);
        if (r < 0)
                return r;
        l = new0(struct subscription_list, 1);
        if (!l)
                return -ENOMEM;
        r = json_get_next_link(root, &l->next_link);
        if (r < 0)
                return r;
        l->ids = new0(char *, n + 1);
        if (!l->ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                struct json_object *item = json_object_array_get_idx(value, i);
                const char *id = NULL, *state = NULL;

                r = json_value_object(item);
                if (r >= 0)
                        r = json_need_string(item, "subscriptionId", &id);
                if (r >= 0)
                        r = json_get_string(item, "state", &state);
                if (r < 0) {
                        r = json_note_invalid(item, "id", &l->n_invalid, &l->invalid_ids);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (state && (strcasecmp(state, "Disabled") == 0 || strcasecmp(state, "Deleted") == 0)) {
                        l->n_skipped++;
                        continue;
                }
                r = dup_to(&l->ids[n_ids], id);
                if (r < 0)
                        return r;
                n_ids++;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- role assignments ------------------------------------------------------------- */

/* The role definition's key: last segment of its id, lowercased. */
static int role_key_from_id(const char *id, char **ret) {
        const char *last = armid_last_segment(id);
        size_t n = strcspn(last, "/");
        char *c;

        if (n == 0)
                return -EBADMSG;
        c = mem_strndup(last, n);
        if (!c)
                return -ENOMEM;
        ascii_lower(c);
        *ret = c;
        return 0;
}

static int role_assignment_from_json(const struct json_object *o, struct role_assignment *ra) {
        static const char marker[] = "/providers/Microsoft.Authorization/roleAssignments/";
        struct json_object *props;
        const char *s;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        r = json_need_dup_string(o, "id", &ra->id);
        if (r < 0)
                return r;
        r = json_need_object(o, "properties", &props);
        if (r < 0)
                return r;
        r = json_need_string(props, "roleDefinitionId", &s);
        if (r < 0)
                return r;
        r = role_key_from_id(s, &ra->role_definition);
        if (r < 0)
                return r;
        r = json_need_dup_string(props, "principalId", &ra->principal_id);
        if (r < 0)
                return r;

        r = json_get_string(props, "scope", &s);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT && s[0] != 0)
                r = dup_to(&ra->scope, s);
        else {
                /* scope is read-only and always sent, but the id carries it too. */
                const char *m = NULL;

                for (const char *p = ra->id; *p; p++)
                        if (strncasecmp(p, marker, sizeof marker - 1) == 0) {
                                m = p;
                                break;
                        }
                if (!m)
                        return -EBADMSG;
                ra->scope = m == ra->id ? mem_strdup("/") : mem_strndup(ra->id, (size_t) (m - ra->id));
                r = ra->scope ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;

        r = json_get_string(props, "condition", &s);
        if (r < 0)
                return r;
        ra->has_condition = r == JSON_FIELD_PRESENT && s[0] != 0;
        return 0;
}

/* An invalid item leaves its slot zeroed, for the next one. */
static int role_assignment_item(const struct json_object *o, void *slot, void *userdata) {
        int r;

        r = role_assignment_from_json(o, slot);
        if (r < 0)
                role_assignment_done(slot);
        return r;
}

int arm_decode_role_assignment_list(const char *body, size_t len, struct role_assignment_list **ret) {
        _cleanup_(role_assignment_list_freep) struct role_assignment_list *l = NULL;
        int r;

        r = json_decode_page(body, len, JSON_PAGE_LAYOUT(struct role_assignment_list), "id",
                             role_assignment_item, NULL, (void **) &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- role definitions ------------------------------------------------------------- */

/* Appends the strings of the array member key of o to the strv *l of length *n. */
static int append_actions(const struct json_object *o, const char *key, char ***l, size_t *n,
                          size_t *allocated) {
        struct json_object *a;
        size_t m;
        int r;

        r = json_get_array(o, key, &a, &m);
        if (r != JSON_FIELD_PRESENT)
                return MIN(r, 0);
        for (size_t i = 0; i < m; i++) {
                const char *s;

                r = json_value_string(json_object_array_get_idx(a, i), &s);
                if (r < 0)
                        return r;
                if (*n >= JSON_ARRAY_MAX)
                        return -E2BIG;
                if (GREEDY_REALLOC(*l, *allocated, *n + 2) < 0)
                        return -ENOMEM;
                (*l)[*n] = mem_strdup(s);
                if (!(*l)[*n])
                        return -ENOMEM;
                (*l)[++*n] = NULL;
        }
        return 0;
}

static int role_definition_from_json(const struct json_object *o, struct role_definition **ret) {
        _cleanup_(role_definition_freep) struct role_definition *d = NULL;
        struct json_object *props, *perms;
        size_t n_perms, n_data = 0, n_not = 0, a_data = 0, a_not = 0;
        const char *s;
        int r;

        r = json_value_object(o);
        if (r < 0)
                return r;
        d = new0(struct role_definition, 1);
        if (!d)
                return -ENOMEM;
        r = json_get_string(o, "name", &s);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT && s[0] != 0) {
                r = dup_to(&d->id, s);
                if (r < 0)
                        return r;
                ascii_lower(d->id);
        } else {
                r = json_need_string(o, "id", &s);
                if (r < 0)
                        return r;
                r = role_key_from_id(s, &d->id);
                if (r < 0)
                        return r;
        }
        r = json_need_object(o, "properties", &props);
        if (r < 0)
                return r;
        r = json_dup_string(props, "roleName", &d->name);
        if (r < 0)
                return r;

        /* Never NULL, so that callers can tell "no data actions" from "not decoded". */
        if (GREEDY_REALLOC(d->data_actions, a_data, 1) < 0)
                return -ENOMEM;
        d->data_actions[0] = NULL;
        if (GREEDY_REALLOC(d->not_data_actions, a_not, 1) < 0)
                return -ENOMEM;
        d->not_data_actions[0] = NULL;

        r = json_get_array(props, "permissions", &perms, &n_perms);
        if (r < 0)
                return r;
        for (size_t i = 0; r == JSON_FIELD_PRESENT && i < n_perms; i++) {
                struct json_object *p = json_object_array_get_idx(perms, i);
                int k;

                k = json_value_object(p);
                if (k < 0)
                        return k;
                k = append_actions(p, "dataActions", &d->data_actions, &n_data, &a_data);
                if (k < 0)
                        return k;
                k = append_actions(p, "notDataActions", &d->not_data_actions, &n_not, &a_not);
                if (k < 0)
                        return k;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

int arm_decode_role_definition(const char *body, size_t len, struct role_definition **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        return role_definition_from_json(root, ret);
}

static int role_definition_item(const struct json_object *o, void *slot, void *userdata) {
        return role_definition_from_json(o, slot);
}

int arm_decode_role_definition_list(const char *body, size_t len, struct role_definition_list **ret) {
        _cleanup_(role_definition_list_freep) struct role_definition_list *l = NULL;
        int r;

        r = json_decode_page(body, len, JSON_PAGE_LAYOUT(struct role_definition_list), "id",
                             role_definition_item, NULL, (void **) &l);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* ---- async operation status ------------------------------------------------------- */

struct arm_operation_status *arm_operation_status_free(struct arm_operation_status *s) {
        if (!s)
                return NULL;
        mem_free(s->status);
        mem_free(s->error_code);
        mem_free(s->error_message);
        mem_free(s);
        return NULL;
}

int arm_decode_operation_status(const char *body, size_t len, struct arm_operation_status **ret) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_(arm_operation_status_freep) struct arm_operation_status *s = NULL;
        struct json_object *error;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r;
        s = new0(struct arm_operation_status, 1);
        if (!s)
                return -ENOMEM;
        r = json_need_dup_string(root, "status", &s->status);
        if (r < 0)
                return r;
        r = json_get_object(root, "error", &error);
        if (r < 0)
                return r;
        if (r == JSON_FIELD_PRESENT) {
                r = json_dup_string(error, "code", &s->error_code);
                if (r < 0)
                        return r;
                r = json_dup_string(error, "message", &s->error_message);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(s);
        return 0;
}
