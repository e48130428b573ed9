/* SPDX-License-Identifier: MIT */
/* Destructors and lookups for the model. */

#include "armid.h"
#include "mem.h"
#include "model.h"
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
