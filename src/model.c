/* SPDX-License-Identifier: MIT */
/* Destructors and lookups for the model. */

#include <assert.h>
#include <stdint.h>

#include "armid.h"
#include "mem.h"
#include "model.h"
#include "strpool.h"
#include "strv.h"

/* The destructor x_list_free() of a list page of model.h: item_free(&l->items[i]) frees what
 * an item holds (x_freep() for a list of pointers, x_done() for a list of structs), then the
 * page goes. */
#define DEFINE_LIST_FREE(list, item_free)                                                               \
        struct list *list##_free(struct list *l) {                                                      \
                if (!l)                                                                                 \
                        return NULL;                                                                    \
                for (size_t i = 0; i < l->n_items; i++)                                                 \
                        item_free(&l->items[i]);                                                        \
                mem_free(l->items);                                                                     \
                mem_free(l->next_link);                                                                 \
                strv_free(l->invalid_ids);                                                              \
                mem_free(l);                                                                            \
                return NULL;                                                                            \
        }

struct cluster *cluster_free(struct cluster *c) {
        if (!c)
                return NULL;
        if (c->packed) {
                mem_free(c);
                return NULL;
        }
        mem_free(c->id);
        mem_free(c->name);
        mem_free(c->location);
        mem_free(c->subscription);
        mem_free(c->resource_group);
        mem_free(c->provisioning_state);
        mem_free(c->cluster_status);
        mem_free(c->replica_role);
        mem_free(c->replication_state);
        mem_free(c->create_mode);
        mem_free(c->identity_type);
        for (size_t i = 0; i < c->n_assigned; i++) {
                mem_free(c->assigned[i].id);
                mem_free(c->assigned[i].principal_id);
                mem_free(c->assigned[i].client_id);
        }
        mem_free(c->assigned);
        mem_free(c->kek_identity_type);
        mem_free(c->kek_identity_id);
        mem_free(c->key_url);
        for (size_t i = 0; i < c->n_tags; i++) {
                mem_free(c->tags[i].name);
                mem_free(c->tags[i].value);
        }
        mem_free(c->tags);
        mem_free(c);
        return NULL;
}

/* The string fields of a cluster, in a fixed order: the i-th of n. */
#define CLUSTER_FIXED_STRINGS 14
static size_t cluster_n_strings(const struct cluster *c) {
        return CLUSTER_FIXED_STRINGS + 3 * c->n_assigned + 2 * c->n_tags;
}

static char **cluster_string(struct cluster *c, size_t i) {
        char **fixed[CLUSTER_FIXED_STRINGS] = {
                &c->id,
                &c->name,
                &c->location,
                &c->subscription,
                &c->resource_group,
                &c->provisioning_state,
                &c->cluster_status,
                &c->replica_role,
                &c->replication_state,
                &c->create_mode,
                &c->identity_type,
                &c->kek_identity_type,
                &c->kek_identity_id,
                &c->key_url,
        };

        if (i < CLUSTER_FIXED_STRINGS)
                return fixed[i];
        i -= CLUSTER_FIXED_STRINGS;
        if (i < 3 * c->n_assigned) {
                struct assigned_identity *a = &c->assigned[i / 3];
                return i % 3 == 0 ? &a->id : i % 3 == 1 ? &a->principal_id : &a->client_id;
        }
        i -= 3 * c->n_assigned;
        return i % 2 == 0 ? &c->tags[i / 2].name : &c->tags[i / 2].value;
}

/* Strings compared with the earlier ones to be stored once: past this many, stored as they
 * come (ARM allows 50 tags; the quadratic search stays small). */
#define PACK_DEDUP_MAX 64
#define PACK_ALIGN(x) (((x) + 7) & ~(size_t) 7)
/* The string slots kept in the cluster's own block when it packs into a pool: the id and the
 * name, which no other cluster shares. */
#define PACK_OWN_STRINGS 2

/* The earlier string slot (< i) with the same text, or SIZE_MAX. */
static size_t pack_same(struct cluster *c, size_t i) {
        const char *s = *cluster_string(c, i);

        for (size_t j = 0; j < MIN(i, (size_t) PACK_DEDUP_MAX); j++) {
                const char *t = *cluster_string(c, j);

                if (t && streq(s, t))
                        return j;
        }
        return SIZE_MAX;
}

/* The offset of the name in the id when the id ends in "/{name}" (as ARM ids do), so that
 * the name need not be stored again; else SIZE_MAX. */
static size_t name_in_id(const struct cluster *c) {
        size_t li, ln;

        if (!c->id || !c->name)
                return SIZE_MAX;
        li = strlen(c->id);
        ln = strlen(c->name);
        if (ln == 0 || ln >= li || c->id[li - ln - 1] != '/' || !streq(c->id + li - ln, c->name))
                return SIZE_MAX;
        return li - ln;
}

int cluster_pack_from(const struct cluster *src, struct strpool *pool, struct cluster **ret) {
        /* cluster_string() hands out slots to write; src's are only read. */
        struct cluster *c = (struct cluster *) src, *n;
        size_t n_strings = cluster_n_strings(c), off_assigned, off_tags, off_strings, size, name_off;
        char *p;

        name_off = name_in_id(c);
        off_assigned = PACK_ALIGN(sizeof(struct cluster));
        off_tags = PACK_ALIGN(off_assigned + c->n_assigned * sizeof(struct assigned_identity));
        off_strings = off_tags + c->n_tags * sizeof(struct cluster_tag);
        size = off_strings;
        for (size_t i = 0; i < n_strings; i++) {
                const char *s = *cluster_string(c, i);

                if (!s || (pool && i >= PACK_OWN_STRINGS) || (i == 1 && name_off != SIZE_MAX) ||
                    (!pool && pack_same(c, i) != SIZE_MAX))
                        continue;
                size += strlen(s) + 1;
        }

        n = mem_malloc(size);
        if (!n)
                return -ENOMEM;
        *n = *c;
        n->assigned = c->n_assigned > 0 ? memcpy((char *) n + off_assigned, c->assigned,
                                                 c->n_assigned * sizeof(struct assigned_identity))
                                        : NULL;
        n->tags = c->n_tags > 0 ? memcpy((char *) n + off_tags, c->tags, c->n_tags * sizeof(struct cluster_tag))
                                : NULL;
        /* n's string fields still point where c's do: copy each (or point it at its earlier
         * equal, at the name within the id, or at the pool's copy), reading the text from c. */
        p = (char *) n + off_strings;
        for (size_t i = 0; i < n_strings; i++) {
                char **slot = cluster_string(n, i);
                const char *s = *cluster_string(c, i);
                size_t same, len;

                if (!s)
                        continue;
                if (pool && i >= PACK_OWN_STRINGS) {
                        *slot = (char *) strpool_intern(pool, s, strlen(s));
                        if (!*slot) {
                                mem_free(n);
                                return -ENOMEM;
                        }
                        continue;
                }
                if (i == 1 && name_off != SIZE_MAX) {
                        *slot = n->id + name_off;
                        continue;
                }
                same = pool ? SIZE_MAX : pack_same(c, i);
                if (same != SIZE_MAX) {
                        *slot = *cluster_string(n, same);
                        continue;
                }
                len = strlen(s) + 1;
                *slot = memcpy(p, s, len);
                p += len;
        }
        assert(p == (char *) n + size);
        n->packed = true;
        *ret = n;
        return 0;
}

int cluster_pack(struct cluster **cp) {
        struct cluster *n;
        int r;

        if ((*cp)->packed)
                return 0;
        r = cluster_pack_from(*cp, NULL, &n);
        if (r < 0)
                return r;
        cluster_free(*cp);
        *cp = n;
        return 0;
}

DEFINE_LIST_FREE(cluster_list, cluster_freep)

const struct assigned_identity *cluster_find_assigned(const struct cluster *c, const char *id) {
        for (size_t i = 0; i < c->n_assigned; i++)
                if (armid_equal(c->assigned[i].id, id))
                        return &c->assigned[i];
        return NULL;
}

const char *cluster_tag(const struct cluster *c, const char *name) {
        for (size_t i = 0; i < c->n_tags; i++)
                if (strcasecmp(c->tags[i].name, name) == 0)
                        return c->tags[i].value;
        return NULL;
}

struct key_bundle *key_bundle_free(struct key_bundle *k) {
        if (!k)
                return NULL;
        mem_free(k->kid);
        mem_free(k->version);
        mem_free(k->kty);
        mem_free(k->recovery_level);
        mem_free(k->recovery_id);
        mem_free(k);
        return NULL;
}

void key_version_item_done(struct key_version_item *it) {
        mem_free(it->kid);
        mem_free(it->version);
        *it = (struct key_version_item) {};
}

DEFINE_LIST_FREE(key_version_list, key_version_item_done)

struct rotation_policy *rotation_policy_free(struct rotation_policy *p) {
        mem_free(p);
        return NULL;
}

struct vault *vault_free(struct vault *v) {
        if (!v)
                return NULL;
        mem_free(v->id);
        mem_free(v->name);
        mem_free(v->location);
        mem_free(v->tenant_id);
        mem_free(v->uri);
        mem_free(v->public_network_access);
        for (size_t i = 0; i < v->n_access_policies; i++) {
                mem_free(v->access_policies[i].tenant_id);
                mem_free(v->access_policies[i].object_id);
                mem_free(v->access_policies[i].application_id);
        }
        mem_free(v->access_policies);
        mem_free(v);
        return NULL;
}

DEFINE_LIST_FREE(vault_list, vault_freep)

struct deleted_vault *deleted_vault_free(struct deleted_vault *v) {
        if (!v)
                return NULL;
        mem_free(v->name);
        mem_free(v->vault_id);
        mem_free(v->location);
        mem_free(v->id);
        mem_free(v);
        return NULL;
}

DEFINE_LIST_FREE(deleted_vault_list, deleted_vault_freep)

struct subscription_list *subscription_list_free(struct subscription_list *l) {
        if (!l)
                return NULL;
        strv_free(l->ids);
        mem_free(l->next_link);
        strv_free(l->invalid_ids);
        mem_free(l);
        return NULL;
}

struct identity *identity_free(struct identity *i) {
        if (!i)
                return NULL;
        mem_free(i->id);
        mem_free(i->name);
        mem_free(i->location);
        mem_free(i->tenant_id);
        mem_free(i->principal_id);
        mem_free(i->client_id);
        mem_free(i);
        return NULL;
}

void role_assignment_done(struct role_assignment *ra) {
        mem_free(ra->id);
        mem_free(ra->scope);
        mem_free(ra->principal_id);
        mem_free(ra->role_definition);
        *ra = (struct role_assignment) {};
}

DEFINE_LIST_FREE(role_assignment_list, role_assignment_done)

struct role_definition *role_definition_free(struct role_definition *d) {
        if (!d)
                return NULL;
        mem_free(d->id);
        mem_free(d->name);
        strv_free(d->data_actions);
        strv_free(d->not_data_actions);
        mem_free(d);
        return NULL;
}

DEFINE_LIST_FREE(role_definition_list, role_definition_freep)
