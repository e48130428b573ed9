/* SPDX-License-Identifier: MIT */
#pragma once

/* What cmkd knows about clusters and the Azure resources their keys depend on.
 * Decoders (arm_decode.c, kv_decode.c) build these from JSON; the inventory gathers them
 * per sweep; policy.c judges them. Plain data: every string in these structs is owned
 * by the struct that holds it and freed by its _free() function. */

#include "keyurl.h"
#include "macro.h"

/* ---- ARM: Microsoft.DocumentDB/mongoClusters ------------------------------------ */

struct assigned_identity {
        char *id;           /* UAMI ARM id, the key of identity.userAssignedIdentities */
        char *principal_id; /* as the cluster recorded it; NULL if absent */
        char *client_id;
};

struct cluster_tag {
        char *name;
        char *value;
};

struct cluster {
        char *id;
        char *name;
        char *location;
        char *subscription;   /* from id */
        char *resource_group; /* from id */
        char *provisioning_state; /* properties.provisioningState as sent; NULL if absent */
        char *cluster_status;     /* properties.clusterStatus as sent; NULL if absent */
        char *replica_role;       /* properties.replica.role; NULL if absent */
        char *replication_state;  /* properties.replica.replicationState; NULL if absent */
        char *create_mode;        /* properties.createMode; NULL if absent */

        char *identity_type; /* identity.type; NULL if no identity block */
        struct assigned_identity *assigned;
        size_t n_assigned;

        /* properties.encryption.customerManagedKeyEncryption; all NULL for a
         * service-managed cluster. */
        bool customer_managed;
        char *kek_identity_type; /* keyEncryptionKeyIdentity.identityType */
        char *kek_identity_id;   /* keyEncryptionKeyIdentity.userAssignedIdentityResourceId */
        char *key_url;           /* keyEncryptionKeyUrl, as sent */

        struct cluster_tag *tags;
        size_t n_tags;

        /* Everything above lives in the cluster's own allocation (cluster_pack()), or, for
         * a cluster packed into a string pool, the strings but the id and the name live in
         * the pool: the strings and arrays are not freed one by one. */
        bool packed;
};

struct strpool;

struct cluster *cluster_free(struct cluster *c);
/* Moves the strings and arrays of *c into one allocation with the struct (equal strings
 * stored once): one block instead of about twenty per cluster, for fleets of tens of
 * thousands. Replaces *c (the old one is freed); on failure (-ENOMEM) *c is unchanged. The
 * packed cluster's fields must not be freed or replaced, only read. */
int cluster_pack(struct cluster **c);
/* A packed copy of src (which is only read: its strings may be borrowed from anywhere, e.g.
 * a JSON tree, and its arrays stay src's). With a pool, every string but the id and the name
 * is interned there (ten thousand clusters share a few thousand key URLs, identities,
 * locations and states between them), the name is pointed into the id when the id ends in
 * it, and the new cluster must not outlive the pool. Without one, as cluster_pack(). Returns
 * 0, or -ENOMEM with *ret untouched (strings may have been added to the pool). */
int cluster_pack_from(const struct cluster *src, struct strpool *pool, struct cluster **ret);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cluster *, cluster_free);
/* The assigned identity with that ARM id (compared case-insensitively), or NULL. */
const struct assigned_identity *cluster_find_assigned(const struct cluster *c, const char *id);
const char *cluster_tag(const struct cluster *c, const char *name);

/* One page of a mongoCluster list. Items that could not be decoded are not dropped
 * silently: they are counted in n_invalid, and the ids of those whose id was readable are
 * in invalid_ids, so that the caller can report them as check-unknown. */
struct cluster_list {
        struct cluster **items; /* each owned; a caller may steal one and set it NULL */
        size_t n_items;
        char *next_link; /* NULL on the last page */
        size_t n_invalid;
        char **invalid_ids; /* strv, NULL if none; may be shorter than n_invalid */
};

struct cluster_list *cluster_list_free(struct cluster_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct cluster_list *, cluster_list_free);

/* ---- Key Vault / Managed HSM keys ----------------------------------------------- */

enum key_op {
        KEY_OP_ENCRYPT = 1u << 0,
        KEY_OP_DECRYPT = 1u << 1,
        KEY_OP_SIGN = 1u << 2,
        KEY_OP_VERIFY = 1u << 3,
        KEY_OP_WRAP_KEY = 1u << 4,
        KEY_OP_UNWRAP_KEY = 1u << 5,
        KEY_OP_IMPORT = 1u << 6,
        KEY_OP_EXPORT = 1u << 7,
};

/* One key version, from GET /keys/{name}[/{version}] (KeyBundle) or a deleted key. */
struct key_bundle {
        char *kid;     /* full versioned id as sent */
        char *version; /* last segment of kid */
        char *kty;     /* "RSA", "RSA-HSM", "EC", ...; NULL if absent */
        unsigned rsa_bits; /* bit length of n; 0 if not RSA or n absent */
        unsigned key_ops;  /* KEY_OP_* */
        bool has_key_ops;  /* key_ops was sent (absent in JWK means "no restriction") */
        bool enabled;
        usec_t nbf;     /* 0 = not set */
        usec_t exp;     /* USEC_INFINITY = not set */
        usec_t created; /* 0 = unknown */
        usec_t updated;
        char *recovery_level;
        bool managed;
        /* Only for GET /deletedkeys/{name} (DeletedKeyBundle). */
        char *recovery_id; /* NULL if absent */
        usec_t deleted_date;
        usec_t scheduled_purge_date;
};

struct key_bundle *key_bundle_free(struct key_bundle *k);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct key_bundle *, key_bundle_free);

/* KeyItem from GET /keys/{name}/versions: attributes only, no key material. */
struct key_version_item {
        char *kid;
        char *version;
        bool enabled;
        usec_t nbf, exp, created, updated;
};

/* Frees what it holds and zeroes it; the item itself is an array element. */
void key_version_item_done(struct key_version_item *it);

struct key_version_list {
        struct key_version_item *items;
        size_t n_items;
        char *next_link; /* NULL on the last page */
        size_t n_invalid;   /* items skipped as undecodable (see struct cluster_list) */
        char **invalid_ids; /* strv of their kids when readable, NULL if none */
};

struct key_version_list *key_version_list_free(struct key_version_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct key_version_list *, key_version_list_free);

struct rotation_policy {
        bool has_rotate_action;   /* a lifetimeAction of type Rotate */
        usec_t rotate_after_create;  /* trigger.timeAfterCreate of that action; 0 if none */
        usec_t rotate_before_expiry; /* trigger.timeBeforeExpiry; 0 if none */
        usec_t expiry_time;          /* attributes.expiryTime; 0 if none */
        bool has_notify_action;      /* a lifetimeAction of type Notify */
        usec_t notify_before_expiry; /* its trigger.timeBeforeExpiry; 0 if none */
};

struct rotation_policy *rotation_policy_free(struct rotation_policy *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rotation_policy *, rotation_policy_free);

/* ---- ARM: Microsoft.KeyVault/vaults and managedHSMs ----------------------------- */

enum key_permission {
        KEY_PERM_GET = 1u << 0,
        KEY_PERM_LIST = 1u << 1,
        KEY_PERM_WRAP_KEY = 1u << 2,
        KEY_PERM_UNWRAP_KEY = 1u << 3,
        KEY_PERM_ALL = 1u << 4, /* "all" */
        KEY_PERM_OTHER = 1u << 5,
};

struct access_policy {
        char *tenant_id;
        char *object_id;
        char *application_id; /* compound identity; NULL normally */
        unsigned key_permissions; /* KEY_PERM_* */
};

struct vault {
        enum key_store store; /* vault or Managed HSM */
        char *id;
        char *name;
        char *location;
        char *tenant_id;
        char *uri;            /* vaultUri / hsmUri */
        bool soft_delete;     /* absent counts as on: Azure no longer lets it be off */
        bool purge_protection;
        bool rbac_authorization;
        bool rbac_authorization_set;  /* enableRbacAuthorization was sent (absent: access policies) */
        char *public_network_access;  /* as sent; NULL if absent (Azure's default: enabled) */
        bool public_network_disabled; /* publicNetworkAccess "Disabled" (any case) */
        bool default_action_deny;     /* networkAcls.defaultAction "Deny" */
        bool bypass_azure_services;   /* networkAcls.bypass contains "AzureServices" (absent: true) */
        unsigned n_private_endpoints; /* approved private endpoint connections */
        struct access_policy *access_policies;
        size_t n_access_policies;
};

struct vault *vault_free(struct vault *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vault *, vault_free);

/* One page of Vaults_ListBySubscription or ManagedHsms_ListBySubscription. */
struct vault_list {
        struct vault **items; /* each owned; a caller may steal one and set it NULL */
        size_t n_items;
        char *next_link;
        size_t n_invalid;   /* see struct cluster_list */
        char **invalid_ids;
};

struct vault_list *vault_list_free(struct vault_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct vault_list *, vault_list_free);

/* A vault in the deletedVaults list, or a Managed HSM in deletedManagedHSMs (soft-deleted,
 * recoverable). */
struct deleted_vault {
        char *name;
        char *vault_id;        /* properties.vaultId, or mhsmId for an HSM */
        char *location;
        usec_t deletion_date;        /* 0 if absent */
        usec_t scheduled_purge_date; /* 0 if absent */
        char *id;              /* .../locations/{loc}/deletedVaults|deletedManagedHSMs/{name}; or NULL */
        bool purge_protection; /* properties.purgeProtectionEnabled */
};

struct deleted_vault *deleted_vault_free(struct deleted_vault *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct deleted_vault *, deleted_vault_free);

struct deleted_vault_list {
        struct deleted_vault **items;
        size_t n_items;
        char *next_link;
        size_t n_invalid; /* see struct cluster_list */
        char **invalid_ids;
};

struct deleted_vault_list *deleted_vault_list_free(struct deleted_vault_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct deleted_vault_list *, deleted_vault_list_free);

/* ---- Subscriptions -------------------------------------------------------------- */

/* One page of GET /subscriptions. */
struct subscription_list {
        char **ids;       /* strv of subscriptionIds to sweep (never NULL after decoding) */
        char *next_link;
        size_t n_skipped; /* subscriptions left out for their state (Disabled, Deleted) */
        size_t n_invalid; /* see struct cluster_list */
        char **invalid_ids;
};

struct subscription_list *subscription_list_free(struct subscription_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct subscription_list *, subscription_list_free);

/* ---- Managed identities --------------------------------------------------------- */

struct identity {
        char *id;
        char *name;
        char *location;
        char *tenant_id;
        char *principal_id;
        char *client_id;
};

struct identity *identity_free(struct identity *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct identity *, identity_free);

/* ---- Role assignments (Azure RBAC, and Managed HSM local RBAC) ------------------ */

struct role_assignment {
        char *id;
        char *scope;           /* ARM scope, or "/", "/keys", "/keys/{name}" for an HSM */
        char *principal_id;
        char *role_definition; /* the GUID at the end of roleDefinitionId, lowercase */
        bool has_condition;
};

/* Frees what it holds and zeroes it; the item itself is an array element. */
void role_assignment_done(struct role_assignment *ra);

struct role_assignment_list {
        struct role_assignment *items;
        size_t n_items;
        char *next_link;
        size_t n_invalid;   /* see struct cluster_list: an unreadable item might be the grant */
        char **invalid_ids;
};

struct role_assignment_list *role_assignment_list_free(struct role_assignment_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct role_assignment_list *, role_assignment_list_free);

/* A role definition, for roles that are not built in (custom roles). */
struct role_definition {
        char *id; /* GUID, lowercase */
        char *name;
        char **data_actions;     /* strv */
        char **not_data_actions; /* strv */
};

struct role_definition *role_definition_free(struct role_definition *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct role_definition *, role_definition_free);

/* One page of role definitions (Managed HSM custom roles, or ARM). */
struct role_definition_list {
        struct role_definition **items;
        size_t n_items;
        char *next_link;
        size_t n_invalid; /* see struct cluster_list */
        char **invalid_ids;
};

struct role_definition_list *role_definition_list_free(struct role_definition_list *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct role_definition_list *, role_definition_list_free);

/* ---- Observation: a fact as gathered, with why it could not be read --------------- */

enum obs_state {
        OBS_UNKNOWN = 0, /* not read, or the read failed: see the error fields */
        OBS_PRESENT,     /* read; the resource exists */
        OBS_ABSENT,      /* read; Azure answered that it does not exist (404) */
};

struct obs_status {
        enum obs_state state;
        int error;              /* negative errno of the failure, 0 if none */
        int http_status;        /* HTTP status of the failed read, 0 if none */
        const char *error_code; /* Azure error code (innermost), borrowed; NULL if none */
};

static inline bool obs_present(const struct obs_status *s) {
        return s->state == OBS_PRESENT;
}

/* Everything known about one cluster at evaluation time. All pointers are borrowed
 * (from the inventory, or from a test table) and may be NULL exactly when the matching
 * status is not OBS_PRESENT. */
struct cluster_obs {
        const struct cluster *cluster;
        /* The key URL parses, but its host is under none of the configured cloud's suffixes
         * (KeyVaultSuffix=, ManagedHsmSuffix=): nothing was read from it, since a token never
         * goes to a host outside the cloud, and the URL is judged key-url-invalid. */
        bool key_url_outside_cloud;

        /* GET /keys/{name}: the key's current (latest) version. */
        struct obs_status key_status;
        const struct key_bundle *key;
        /* GET /deletedkeys/{name}, read only when key_status is ABSENT. */
        struct obs_status deleted_key_status;
        const struct key_bundle *deleted_key;
        /* GET /keys/{name}/{pinned}, read only when the URL pins a version other than the
         * current one. */
        struct obs_status pinned_status;
        const struct key_bundle *pinned;
        /* The version that was current before the current one (newest older version in GET
         * /keys/{name}/versions), read only when the current version is younger than
         * [Policy] VersionDisableGraceSec=: the service may still wrap with it until it has
         * re-wrapped with the new one. ABSENT: the key has no older version. */
        struct obs_status previous_status;
        const struct key_version_item *previous;
        /* GET /keys/{name}/rotationpolicy. ABSENT = no policy set. */
        struct obs_status rotation_status;
        const struct rotation_policy *rotation;

        /* GET of the encryption identity (userAssignedIdentities). */
        struct obs_status identity_status;
        const struct identity *identity;

        /* The vault or Managed HSM holding the key (ARM resource). ABSENT with
         * vault_deleted set: found among the soft-deleted vaults. */
        struct obs_status vault_status;
        const struct vault *vault;
        bool vault_deleted;

        /* Role assignments that apply to the key: Azure RBAC at, above and below the vault
         * scope; for an HSM, its local role assignments. Needed only in RBAC mode. */
        struct obs_status roles_status;
        const struct role_assignment_list *roles;
        /* Definitions of custom roles referenced by those assignments. */
        const struct role_definition *const *custom_roles;
        size_t n_custom_roles;
};
