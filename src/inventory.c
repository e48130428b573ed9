/* SPDX-License-Identifier: MIT */
/* Gathers the facts of one sweep: lists clusters, then reads each distinct key, pinned
 * version, deleted key, rotation policy, identity, vault listing, role scope and custom
 * role definition once, from the TTL cache where allowed; for keys in a Managed HSM, the HSM
 * listing and the HSM's local role assignments and definitions (section "Managed HSMs"). It
 * decides nothing (policy.c does) and sends no request itself (the fetcher does). */

#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "arm_decode.h"
#include "armid.h"
#include "hashmap.h"
#include "inventory.h"
#include "kv_decode.h"
#include "log.h"
#include "mem.h"
#include "roles.h"
#include "strpool.h"
#include "strv.h"

/* api-versions of every ARM and data-plane read (azure/README.md §1-§5). */
#define API_MONGO "2025-09-01"
#define API_SUBSCRIPTIONS "2022-12-01"
#define API_KEYVAULT_MGMT "2026-04-01"
#define API_MSI "2023-01-31"
#define API_AUTHORIZATION "2022-04-01"
#define API_KEYVAULT "7.6"
/* ManagedHsms_* share the Key Vault management api-versions; the HSM local RBAC endpoints
 * (rbac.json) those of the data plane. */
#define API_MANAGED_HSM_MGMT API_KEYVAULT_MGMT
#define API_HSM_RBAC API_KEYVAULT

/* A list longer than this many pages is treated as a loop in nextLink. */
#define LIST_PAGES_MAX 100000U

/* A fact as read, with an owned copy of the error code its status points to. Facts live
 * in heap entries that never move, so status.error_code may point into code[]. */
struct fact {
        struct obs_status status;
        char code[64];
        usec_t fetched_realtime;
        bool requested;
};

/* A version some cluster pins, cached across sweeps (inventory.versions): read only while it is
 * not the key's current version, and then again only after CacheTTLSec=. Its attributes
 * (enabled, exp, nbf) can change, but rarely; the key itself is read every sweep, and that is
 * what shows a rotation. */
struct version_entry {
        struct fact fact;
        struct key_bundle *bundle; /* owned */
        unsigned sweep;            /* the sweep that last found it pinned and not current */
};

/* One distinct key of this sweep ("{host}/keys/{name}", lowercase). */
struct key_entry {
        struct inventory *inv;
        char *id;              /* owned */
        struct keyurl url;     /* version cleared */
        struct fact current;
        struct key_bundle *current_bundle;  /* owned */
        struct fact deleted;
        struct key_bundle *deleted_bundle;  /* owned */
        /* pinned version (lowercase) → struct version_entry, borrowed from inventory.versions */
        struct hashmap *versions;
        /* The version current before the current one, read only after a recent rotation. */
        struct fact previous;
        struct key_version_item previous_item; /* strings owned; valid if previous_found */
        bool previous_found;
};

struct rotation_entry {
        struct fact fact;
        struct rotation_policy *policy; /* owned; NULL unless present */
};

struct identity_entry {
        struct fact fact;
        struct identity *identity; /* owned */
};

struct roles_entry {
        struct fact fact;
        struct role_assignment_list *list; /* owned */
};

/* A role that is not built in, named by an assignment on some RBAC vault. */
struct roledef_entry {
        struct fact fact;
        struct role_definition *def; /* owned; NULL unless present */
};

/* The role definitions of one Managed HSM (built-in and custom), read when one of its local
 * assignments names a role that is not built in. */
struct hsm_defs_entry {
        struct fact fact;
        struct role_definition_list *list; /* owned; NULL unless present */
};

/* What the vault (or Managed HSM) listings of the vault subscriptions showed. */
struct vault_dir {
        struct hashmap *vaults;  /* lowercase name → struct vault, owned */
        struct hashmap *deleted; /* lowercase name → struct deleted_vault, owned */
        usec_t fetched_realtime; /* 0 = never listed */
        unsigned listing;        /* listing chains (one per list URL) not finished yet */
        bool failed;             /* a listing failed: a vault not found is unknown, not absent */
        struct fact failure;     /* the first failure */
        bool refreshed_this_sweep;
};

enum req_type {
        REQ_SUBSCRIPTIONS,
        REQ_CLUSTERS,
        REQ_VAULTS,
        REQ_DELETED_VAULTS,
        REQ_KEY,
        REQ_KEY_VERSION,
        REQ_KEY_VERSIONS,
        REQ_DELETED_KEY,
        REQ_ROTATION,
        REQ_IDENTITY,
        REQ_ROLES,
        REQ_ROLE_DEFINITION,
        REQ_HSMS,           /* ManagedHsms_ListBySubscription page */
        REQ_DELETED_HSMS,   /* ManagedHsms_ListDeleted page */
        REQ_HSM_ROLES,      /* an HSM's local role assignments (data plane); scope = HSM host */
        REQ_HSM_ROLE_DEFS,  /* an HSM's role definitions (data plane); scope = HSM host */
};

struct req {
        struct inventory *inv;
        struct req *prev, *next; /* inv->reqs */
        enum req_type type;
        char *scope;   /* owned: subscription or list scope, key id, identity id, vault id */
        char *version; /* owned: REQ_KEY_VERSION */
        enum fetch_audience audience; /* of every page of a list */
        enum fetch_kind kind;
        unsigned page;
        struct role_assignment_list *roles_acc; /* owned: REQ_ROLES, REQ_HSM_ROLES pages so far */
        struct role_definition_list *defs_acc;  /* owned: REQ_HSM_ROLE_DEFS pages so far */
};

enum sweep_phase {
        PHASE_IDLE,
        PHASE_LIST,   /* subscriptions, clusters, vault listings, and per-cluster reads */
        PHASE_VAULTS, /* vault re-listing, when a key's vault is missing from a cached listing */
        PHASE_ROLES,  /* role assignments of RBAC vaults, which need the vault directory */
        PHASE_DONE,
};

struct inventory {
        const struct conf *conf;      /* borrowed */
        const struct fetcher *fetcher; /* borrowed */
        /* Every req from fetch() until its answer, owned by the fetcher's callback; those
         * still out when the inventory is freed (a stop in the middle of a sweep, the
         * fetcher ending them without a callback) are freed by inventory_free(). */
        struct req *reqs;

        /* This sweep. */
        enum sweep_phase phase;
        usec_t now;
        unsigned pending;
        inventory_done_fn done;
        void *userdata;
        char **subscriptions;          /* strv, owned: configured or discovered */
        bool subscriptions_failed;
        struct fact subscriptions_failure;
        struct cluster **clusters;     /* owned */
        /* owned: the strings the clusters share (key URLs, identities, locations, states...),
         * which they point into: freed after them */
        struct strpool *cluster_strings;
        size_t n_clusters, n_clusters_allocated;
        /* id → (void*) index+1, case-insensitive; keys borrowed from the clusters; freed by
         * inventory_evaluate() (only the listing needs it) */
        struct hashmap *cluster_ids;
        char **failed_scopes;          /* strv, owned */
        char *first_scope_error;       /* owned: message of the first failed listing */
        int first_scope_error_code;
        unsigned n_list_scopes, n_list_scopes_failed;
        unsigned n_unreadable;         /* list items that did not decode, work dropped for want of memory */
        struct hashmap *keys;          /* key id → struct key_entry, owned */
        const struct cluster **deferred; /* owned array of borrowed clusters waiting for the vault listing */
        size_t n_deferred, n_deferred_allocated;
        unsigned requests, list_pages, key_reads, cached_reads;
        unsigned sweep;                /* counts sweeps: which entries this one used */

        /* Cached across sweeps for conf->cache_ttl_usec. */
        struct vault_dir dir;
        struct hashmap *rotations;     /* key id → struct rotation_entry */
        /* "{key id}/{version}" (lowercase) → struct version_entry: the pinned versions; dropped
         * at the start of the first sweep after they expire */
        struct hashmap *versions;
        struct hashmap *identities;    /* identity id → struct identity_entry (case-insensitive) */
        struct hashmap *roles;         /* vault id → struct roles_entry (case-insensitive) */
        struct hashmap *role_defs;     /* role GUID → struct roledef_entry (case-insensitive) */
        /* Managed HSMs, cached alike: listed only when a key of the sweep is in one. */
        struct vault_dir hsm_dir;      /* lowercase HSM name → struct vault (store HSM) / deleted HSM */
        struct hashmap *hsm_roles;     /* HSM host → struct roles_entry (its local role assignments) */
        struct hashmap *hsm_defs;      /* HSM host → struct hsm_defs_entry */

        /* Every custom role definition present, for the obs of this sweep's evaluation:
         * owned array of pointers borrowed from role_defs. */
        const struct role_definition **custom_roles;
        size_t n_custom_roles;
};

static void version_entry_free(void *p) {
        struct version_entry *v = p;

        if (!v)
                return;
        key_bundle_free(v->bundle);
        mem_free(v);
}

static void key_entry_free(void *p) {
        struct key_entry *k = p;

        if (!k)
                return;
        mem_free(k->id);
        key_bundle_free(k->current_bundle);
        key_bundle_free(k->deleted_bundle);
        hashmap_free(k->versions);
        mem_free(k->previous_item.kid);
        mem_free(k->previous_item.version);
        mem_free(k);
}

static void rotation_entry_free(void *p) {
        struct rotation_entry *e = p;

        if (!e)
                return;
        rotation_policy_free(e->policy);
        mem_free(e);
}

static void identity_entry_free(void *p) {
        struct identity_entry *e = p;

        if (!e)
                return;
        identity_free(e->identity);
        mem_free(e);
}

static void roles_entry_free(void *p) {
        struct roles_entry *e = p;

        if (!e)
                return;
        role_assignment_list_free(e->list);
        mem_free(e);
}

static void roledef_entry_free(void *p) {
        struct roledef_entry *e = p;

        if (!e)
                return;
        role_definition_free(e->def);
        mem_free(e);
}

static void vault_free_void(void *p) {
        vault_free(p);
}

static void deleted_vault_free_void(void *p) {
        deleted_vault_free(p);
}

static void hsm_defs_entry_free(void *p) {
        struct hsm_defs_entry *e = p;

        if (!e)
                return;
        role_definition_list_free(e->list);
        mem_free(e);
}

static void req_free(struct req *q) {
        if (!q)
                return;
        if (q->prev)
                q->prev->next = q->next;
        else
                q->inv->reqs = q->next;
        if (q->next)
                q->next->prev = q->prev;
        mem_free(q->scope);
        mem_free(q->version);
        role_assignment_list_free(q->roles_acc);
        role_definition_list_free(q->defs_acc);
        mem_free(q);
}

static void fact_set(struct fact *f, const struct fetch_result *r, usec_t now) {
        *f = (struct fact) { .fetched_realtime = now, .requested = true };
        f->status.state = r->error == 0 ? OBS_PRESENT : r->error == -ENOENT ? OBS_ABSENT : OBS_UNKNOWN;
        f->status.error = r->error;
        f->status.http_status = (int) r->http_status;
        if (r->error_code) {
                snprintf(f->code, sizeof f->code, "%s", r->error_code);
                f->status.error_code = f->code;
        }
}

/* A 2xx answer whose body did not decode: unknown, never a pass or a fail. */
static void fact_set_undecodable(struct fact *f, int error, long http_status, usec_t now) {
        *f = (struct fact) { .fetched_realtime = now, .requested = true };
        f->status.state = OBS_UNKNOWN;
        f->status.error = error;
        f->status.http_status = (int) http_status;
        snprintf(f->code, sizeof f->code, "%s", error == -ENOMEM ? "OutOfMemory" : "MalformedResponse");
        f->status.error_code = f->code;
}

static bool cache_fresh(const struct inventory *inv, const struct fact *f) {
        return f->requested && f->status.state != OBS_UNKNOWN &&
               f->fetched_realtime + inv->conf->cache_ttl_usec > inv->now;
}

static void lowercase(char *s) {
        for (; *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

static void phase_advance(struct inventory *inv);

/* Every request goes out here; a request that cannot start is answered at once as a
 * failure, so the bookkeeping stays the same. */
static void on_fetch_done(const struct fetch_result *r, void *userdata);

static int fetch(struct inventory *inv, enum req_type type, enum fetch_audience audience, enum fetch_kind kind,
                 const char *url, const char *scope, const char *version, struct req **ret_req) {
        struct req *q;
        int r;

        q = new0(struct req, 1);
        if (!q)
                return -ENOMEM;
        q->inv = inv;
        q->next = inv->reqs;
        if (q->next)
                q->next->prev = q;
        inv->reqs = q;
        q->type = type;
        q->audience = audience;
        q->kind = kind;
        q->scope = mem_strdup(scope);
        if (version)
                q->version = mem_strdup(version);
        if (!q->scope || (version && !q->version)) {
                req_free(q);
                return -ENOMEM;
        }
        if (!url) {
                req_free(q);
                return -ENOMEM;
        }
        inv->pending++;
        inv->requests++;
        if (kind == FETCH_LIST_PAGE)
                inv->list_pages++;
        if (kind == FETCH_KEY)
                inv->key_reads++;
        r = inv->fetcher->get(inv->fetcher->ctx, audience, kind, url, on_fetch_done, q);
        if (r < 0) {
                struct fetch_result fail = { .error = r };

                log_debug_errno(r, "Failed to start request for %s: %m", scope);
                on_fetch_done(&fail, q);
                return 0;
        }
        if (ret_req)
                *ret_req = q;
        return 0;
}

static char *url_printf(const char *format, ...) _printf_(1, 2);
static char *url_printf(const char *format, ...) {
        va_list ap;
        char *s;
        int n;

        va_start(ap, format);
        n = vsnprintf(NULL, 0, format, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        s = mem_malloc((size_t) n + 1);
        if (!s)
                return NULL;
        va_start(ap, format);
        vsnprintf(s, (size_t) n + 1, format, ap);
        va_end(ap);
        return s;
}

char *inventory_cluster_url(const struct conf *conf, const char *cluster_id) {
        return url_printf("%s%s?api-version=" API_MONGO, conf->cloud.arm_endpoint, cluster_id);
}

/* Out of memory mid-sweep: what was being done is dropped, and the sweep must not then say it
 * is complete (the torture test found clusters missing from "complete" sweeps). Counted with
 * the unreadable items: the result shows a warning and complete=false. */
static void inventory_oom(struct inventory *inv) {
        log_oom();
        inv->n_unreadable++;
}

/* A list page re-uses fetch() with the next link as URL; the req keeps its type and scope. */
static void fetch_next_page(struct inventory *inv, struct req *q, const char *next_link) {
        _cleanup_free_ char *url = mem_strdup(next_link);
        struct req *n = NULL;
        int r;

        if (q->page + 1 >= LIST_PAGES_MAX) {
                log_warning("Listing %s returned more than %u pages, stopping.", q->scope, LIST_PAGES_MAX);
                return;
        }
        r = fetch(inv, q->type, q->audience, q->kind, url, q->scope, NULL, &n);
        if (r < 0) {
                inventory_oom(inv);
                return;
        }
        if (n) {
                n->page = q->page + 1;
                n->roles_acc = TAKE_PTR(q->roles_acc);
                n->defs_acc = TAKE_PTR(q->defs_acc);
        }
}

/* ---- clusters ------------------------------------------------------------------- */

static void list_scope_failed(struct inventory *inv, const char *scope, const struct fetch_result *r) {
        inv->n_list_scopes_failed++;
        if (strv_extend(&inv->failed_scopes, scope) < 0)
                inventory_oom(inv);
        if (!inv->first_scope_error) {
                char line[512];

                snprintf(line, sizeof line, "could not list clusters in %s: %s%s%s", scope,
                         r->error_code ?: strerror(ERRNO_VALUE(r->error ?: EIO)), r->error_message ? ": " : "",
                         strempty(r->error_message));
                inv->first_scope_error = mem_strdup(line);
                inv->first_scope_error_code = r->error;
        }
}

static struct key_entry *key_entry_get(struct inventory *inv, const struct keyurl *url, bool *ret_new) {
        char id[KEYURL_MAX];
        struct key_entry *k;

        keyurl_key_id(url, id, sizeof id);
        k = hashmap_get(inv->keys, id);
        *ret_new = false;
        if (k)
                return k;
        k = new0(struct key_entry, 1);
        if (!k)
                return NULL;
        k->inv = inv;
        k->url = *url;
        k->url.version[0] = 0;
        k->id = mem_strdup(id);
        k->versions = hashmap_new(true, NULL);
        if (!k->id || !k->versions || hashmap_put(inv->keys, id, k) < 0) {
                key_entry_free(k);
                return NULL;
        }
        *ret_new = true;
        return k;
}

/* The cached entry of a pinned version (v lowercase), made if there is none. NULL: no memory. */
static struct version_entry *version_entry_get(struct inventory *inv, const struct key_entry *k,
                                               const char *v) {
        char id[KEYURL_MAX];
        struct version_entry *e;

        snprintf(id, sizeof id, "%s/%s", k->id, v);
        e = hashmap_get(inv->versions, id);
        if (e)
                return e;
        e = new0(struct version_entry, 1);
        if (!e || hashmap_put(inv->versions, id, e) < 0) {
                version_entry_free(e);
                return NULL;
        }
        return e;
}

/* At the start of a sweep (no key entry borrows them then): drops the pinned versions that
 * are no longer fresh, so that pins no cluster uses any more do not pile up. Without memory
 * for the list, they stay until a later sweep. */
static void versions_prune(struct inventory *inv) {
        _cleanup_strv_free_ char **stale = NULL;
        const char *id;
        struct version_entry *e;

        HASHMAP_FOREACH(id, e, inv->versions)
                if (!cache_fresh(inv, &e->fact) && strv_extend(&stale, id) < 0)
                        return;
        STRV_FOREACH(s, stale)
                version_entry_free(hashmap_remove(inv->versions, *s));
}

static enum fetch_audience key_audience(const struct keyurl *url) {
        return url->store == KEY_STORE_MANAGED_HSM ? FETCH_HSM : FETCH_VAULT;
}

/* A pinned version other than the current one (the current one is known): read it unless
 * the cache has it. */
static void fetch_key_version(struct inventory *inv, const struct key_entry *k, const char *version,
                              struct version_entry *ve) {
        _cleanup_free_ char *u = NULL;

        if (strcasecmp(version, k->current_bundle->version) == 0)
                return;
        ve->sweep = inv->sweep;
        if (cache_fresh(inv, &ve->fact)) {
                inv->cached_reads++;
                return;
        }
        u = url_printf("https://%s/keys/%s/%s?api-version=" API_KEYVAULT, k->url.host, k->url.name, version);
        (void) fetch(inv, REQ_KEY_VERSION, key_audience(&k->url), FETCH_KEY, u, k->id, version, NULL);
}

static bool keyurl_allowed(const struct inventory *inv, const struct keyurl *url) {
        return keyurl_suffix_allowed(url, url->store == KEY_STORE_MANAGED_HSM ? inv->conf->cloud.hsm_suffixes
                                                                              : inv->conf->cloud.vault_suffixes);
}

/* True if the vault listing, complete and readable, shows the vault only among the
 * soft-deleted ones: its keys cannot be read (in Azure its name no longer resolves) and
 * need not be, vault-deleted says it all. */
static bool vault_known_deleted(const struct inventory *inv, const struct keyurl *url) {
        const struct vault_dir *d = &inv->dir;

        return url->store == KEY_STORE_VAULT && d->listing == 0 && !d->failed && d->deleted &&
               !hashmap_get(d->vaults, url->store_name) && hashmap_get(d->deleted, url->store_name);
}

static void request_key_facts(struct inventory *inv, const struct cluster *c) {
        struct key_entry *k;
        struct keyurl url;
        bool is_new;

        if (!c->customer_managed || !c->key_url || keyurl_parse(c->key_url, &url) < 0)
                return;
        /* Never send a token to a host outside the configured cloud: the URL comes from a
         * resource others can write. The policy reports key-url-invalid. */
        if (!keyurl_allowed(inv, &url))
                return;

        /* Vault keys wait for the vault listing of this sweep, so that the keys of a deleted
         * vault are not read (and retried) for nothing. */
        if (url.store == KEY_STORE_VAULT && inv->dir.listing > 0) {
                if (GREEDY_REALLOC(inv->deferred, inv->n_deferred_allocated, inv->n_deferred + 1) < 0) {
                        inventory_oom(inv);
                        return;
                }
                inv->deferred[inv->n_deferred++] = c;
                return;
        }

        k = key_entry_get(inv, &url, &is_new);
        if (!k) {
                inventory_oom(inv);
                return;
        }
        if (is_new && vault_known_deleted(inv, &url))
                return; /* the entry stays unread: the vault facts are what count */
        if (is_new) {
                _cleanup_free_ char *u = url_printf("https://%s/keys/%s?api-version=" API_KEYVAULT, url.host,
                                                    url.name);

                (void) fetch(inv, REQ_KEY, key_audience(&url), FETCH_KEY, u, k->id, NULL, NULL);
        }
        if (keyurl_is_versioned(&url)) {
                char v[KEYURL_VERSION_MAX];

                snprintf(v, sizeof v, "%s", url.version);
                lowercase(v);
                if (!hashmap_get(k->versions, v)) {
                        struct version_entry *e = version_entry_get(inv, k, v);

                        /* Registered now, read once the current version is known: a pin on
                         * the current version needs no second read. */
                        if (!e || hashmap_put(k->versions, v, e) < 0)
                                inventory_oom(inv);
                        else if (k->current.requested && k->current.status.state == OBS_PRESENT)
                                /* The key was answered before this cluster was listed: on_key()
                                 * has read the pins known then, this one is read now. */
                                fetch_key_version(inv, k, v, e);
                }
        }
}

static void request_identity(struct inventory *inv, const struct cluster *c) {
        struct identity_entry *e;
        _cleanup_free_ char *url = NULL;
        struct armid id;

        if (!c->customer_managed || !c->kek_identity_id || armid_parse(c->kek_identity_id, &id) < 0)
                return;
        e = hashmap_get(inv->identities, c->kek_identity_id);
        if (e && (cache_fresh(inv, &e->fact) || e->fact.fetched_realtime == inv->now)) {
                if (e->fact.fetched_realtime != inv->now)
                        inv->cached_reads++;
                return;
        }
        if (e && !e->fact.requested)
                return; /* in flight */
        if (!e) {
                e = new0(struct identity_entry, 1);
                if (!e || hashmap_put(inv->identities, c->kek_identity_id, e) < 0) {
                        identity_entry_free(e);
                        inventory_oom(inv);
                        return;
                }
        }
        e->fact.requested = false; /* in flight; set again by fact_set() */
        e->fact.fetched_realtime = inv->now;
        url = url_printf("%s%s?api-version=" API_MSI, inv->conf->cloud.arm_endpoint, c->kek_identity_id);
        (void) fetch(inv, REQ_IDENTITY, FETCH_ARM, FETCH_RESOURCE, url, c->kek_identity_id, NULL, NULL);
}

static void cluster_add(struct inventory *inv, struct cluster *c) {
        int r;

        if (!conf_cluster_selected(inv->conf, c)) {
                cluster_free(c);
                return;
        }
        if (hashmap_get(inv->cluster_ids, c->id)) {
                /* Listed twice (overlapping scopes): keep the first. */
                cluster_free(c);
                return;
        }
        r = GREEDY_REALLOC(inv->clusters, inv->n_clusters_allocated, inv->n_clusters + 1);
        if (r < 0 || hashmap_put(inv->cluster_ids, c->id, (void *) (uintptr_t) (inv->n_clusters + 1)) < 0) {
                inventory_oom(inv);
                cluster_free(c);
                return;
        }
        inv->clusters[inv->n_clusters++] = c;
        request_key_facts(inv, c);
        request_identity(inv, c);
}

static void start_cluster_listing(struct inventory *inv, const char *subscription) {
        if (strv_length(inv->conf->resource_groups) == 0) {
                _cleanup_free_ char *scope = url_printf("/subscriptions/%s", subscription);
                _cleanup_free_ char *url = url_printf(
                        "%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?api-version=" API_MONGO,
                        inv->conf->cloud.arm_endpoint, subscription);

                inv->n_list_scopes++;
                if (!scope || fetch(inv, REQ_CLUSTERS, FETCH_ARM, FETCH_LIST_PAGE, url, scope, NULL, NULL) < 0)
                        inventory_oom(inv);
                return;
        }
        STRV_FOREACH(rg, inv->conf->resource_groups) {
                _cleanup_free_ char *scope = url_printf("/subscriptions/%s/resourceGroups/%s", subscription, *rg);
                _cleanup_free_ char *url = url_printf("%s%s/providers/Microsoft.DocumentDB/mongoClusters?api-version=" API_MONGO,
                                                      inv->conf->cloud.arm_endpoint, strempty(scope));

                inv->n_list_scopes++;
                if (!scope || fetch(inv, REQ_CLUSTERS, FETCH_ARM, FETCH_LIST_PAGE, url, scope, NULL, NULL) < 0)
                        inventory_oom(inv);
        }
}

static void on_clusters(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(cluster_list_freep) struct cluster_list *page = NULL;
        int k;

        /* ResourceGroups= names groups "in every watched subscription": one that a
         * subscription does not have holds no cluster there. That is an answer, not a
         * failed listing (a missing subscription still is one). */
        if (r->error == -ENOENT && strcaseeq_ptr(r->error_code, "ResourceGroupNotFound")) {
                log_debug("%s does not exist: no clusters there.", q->scope);
                return;
        }
        if (r->error < 0) {
                list_scope_failed(inv, q->scope, r);
                return;
        }
        k = arm_decode_cluster_list_pooled(r->body, r->body_len, inv->cluster_strings, &page);
        if (k < 0) {
                struct fetch_result bad = { .error = k, .http_status = r->http_status,
                                            .error_code = "MalformedResponse",
                                            .error_message = "the cluster list page did not decode" };
                list_scope_failed(inv, q->scope, &bad);
                return;
        }
        inv->n_unreadable += page->n_invalid;
        STRV_FOREACH(id, page->invalid_ids)
                log_warning("Cluster %s, listed in %s, could not be decoded; its keys are not checked this sweep.",
                            *id, q->scope);
        for (size_t i = 0; i < page->n_items; i++)
                cluster_add(inv, TAKE_PTR(page->items[i]));
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
}

/* ---- subscriptions -------------------------------------------------------------- */

static void start_vault_listing(struct inventory *inv);

static void start_listings(struct inventory *inv) {
        STRV_FOREACH(s, inv->subscriptions)
                start_cluster_listing(inv, *s);
        start_vault_listing(inv);
}

static void on_subscriptions(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(subscription_list_freep) struct subscription_list *page = NULL;
        int k;

        if (r->error < 0) {
                inv->subscriptions_failed = true;
                fact_set(&inv->subscriptions_failure, r, inv->now);
                return;
        }
        k = arm_decode_subscription_list(r->body, r->body_len, &page);
        if (k < 0) {
                inv->subscriptions_failed = true;
                fact_set_undecodable(&inv->subscriptions_failure, k, r->http_status, inv->now);
                return;
        }
        STRV_FOREACH(id, page->ids)
                if (!strv_contains_case(inv->subscriptions, *id) && strv_extend(&inv->subscriptions, *id) < 0)
                        inventory_oom(inv);
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
}

/* ---- vaults --------------------------------------------------------------------- */

static char **vault_subscriptions(const struct inventory *inv) {
        return strv_length(inv->conf->vault_subscriptions) > 0 ? inv->conf->vault_subscriptions : inv->subscriptions;
}

static void vault_dir_reset(struct vault_dir *d) {
        hashmap_free(d->vaults);
        hashmap_free(d->deleted);
        d->vaults = hashmap_new(true, vault_free_void);
        d->deleted = hashmap_new(true, deleted_vault_free_void);
        d->failed = false;
        d->failure = (struct fact) {};
}

static void start_vault_listing(struct inventory *inv) {
        struct vault_dir *d = &inv->dir;

        if (d->fetched_realtime > 0 && d->fetched_realtime + inv->conf->cache_ttl_usec > inv->now && !d->failed) {
                inv->cached_reads++;
                return;
        }
        vault_dir_reset(d);
        if (!d->vaults || !d->deleted) {
                /* Not listed: every vault is unknown this sweep, none absent. */
                inventory_oom(inv);
                d->failed = true;
                fact_set_undecodable(&d->failure, -ENOMEM, 0, inv->now);
                return;
        }
        d->fetched_realtime = inv->now;
        d->refreshed_this_sweep = true;
        STRV_FOREACH(s, vault_subscriptions(inv)) {
                _cleanup_free_ char *scope = url_printf("/subscriptions/%s", *s);
                _cleanup_free_ char *url = url_printf(
                        "%s/subscriptions/%s/providers/Microsoft.KeyVault/vaults?api-version=" API_KEYVAULT_MGMT,
                        inv->conf->cloud.arm_endpoint, *s);
                _cleanup_free_ char *durl = url_printf(
                        "%s/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults?api-version=" API_KEYVAULT_MGMT,
                        inv->conf->cloud.arm_endpoint, *s);

                if (!scope) {
                        inventory_oom(inv);
                        continue;
                }
                d->listing += 2;
                (void) fetch(inv, REQ_VAULTS, FETCH_ARM, FETCH_LIST_PAGE, url, scope, NULL, NULL);
                (void) fetch(inv, REQ_DELETED_VAULTS, FETCH_ARM, FETCH_LIST_PAGE, durl, scope, NULL, NULL);
        }
}

/* One vault listing chain ended (last page, or a failure): when none is left, the clusters
 * that waited for the directory read their keys. */
static void vault_listing_done(struct inventory *inv) {
        assert(inv->dir.listing > 0);
        if (--inv->dir.listing > 0)
                return;
        for (size_t i = 0; i < inv->n_deferred; i++)
                request_key_facts(inv, inv->deferred[i]);
        inv->n_deferred = 0;
}

static void vault_listing_failed(struct inventory *inv, const struct fetch_result *r, int decode_error) {
        struct vault_dir *d = &inv->dir;

        if (d->failed)
                return;
        d->failed = true;
        if (decode_error < 0)
                fact_set_undecodable(&d->failure, decode_error, r->http_status, inv->now);
        else
                fact_set(&d->failure, r, inv->now);
}

static void on_vaults(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(vault_list_freep) struct vault_list *page = NULL;
        int k;

        if (r->error < 0) {
                vault_listing_failed(inv, r, 0);
                vault_listing_done(inv);
                return;
        }
        k = arm_decode_vault_list(r->body, r->body_len, &page);
        if (k < 0) {
                vault_listing_failed(inv, r, k);
                vault_listing_done(inv);
                return;
        }
        /* A vault that did not decode could be the one a cluster uses: its vault facts
         * become unknown rather than "not visible". */
        if (page->n_invalid > 0)
                vault_listing_failed(inv, r, -EBADMSG);
        for (size_t i = 0; i < page->n_items; i++)
                if (page->items[i]->name && hashmap_put(inv->dir.vaults, page->items[i]->name, page->items[i]) >= 0)
                        page->items[i] = NULL;
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
        else
                vault_listing_done(inv);
}

static void on_deleted_vaults(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *page = NULL;
        int k;

        if (r->error < 0) {
                vault_listing_failed(inv, r, 0);
                vault_listing_done(inv);
                return;
        }
        k = arm_decode_deleted_vault_list(r->body, r->body_len, &page);
        if (k < 0) {
                vault_listing_failed(inv, r, k);
                vault_listing_done(inv);
                return;
        }
        for (size_t i = 0; i < page->n_items; i++)
                if (page->items[i]->name && hashmap_put(inv->dir.deleted, page->items[i]->name, page->items[i]) >= 0)
                        page->items[i] = NULL;
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
        else
                vault_listing_done(inv);
}

/* A vault and a Managed HSM may share a name (different DNS namespaces): each store type has
 * its own directory. */
static const struct vault_dir *store_dir(const struct inventory *inv, enum key_store store) {
        return store == KEY_STORE_MANAGED_HSM ? &inv->hsm_dir : &inv->dir;
}

static const struct vault *vault_lookup(const struct inventory *inv, const struct keyurl *url) {
        const struct vault *v = hashmap_get(store_dir(inv, url->store)->vaults, url->store_name);

        return v && v->store == url->store ? v : NULL;
}

static bool store_deleted(const struct inventory *inv, const struct keyurl *url) {
        return hashmap_get(store_dir(inv, url->store)->deleted, url->store_name) != NULL;
}

/* ---- Managed HSMs: the ARM listing --------------------------------------------- */

/* Listed like the vaults (per vault subscription, cached for CacheTTLSec=), but only in a sweep
 * with a key in some HSM, so that a fleet without HSMs pays no request for them. */
static bool hsm_keys_present(struct inventory *inv, bool only_missing) {
        const char *id;
        struct key_entry *k;

        HASHMAP_FOREACH(id, k, inv->keys)
                if (k->url.store == KEY_STORE_MANAGED_HSM &&
                    (!only_missing || (!vault_lookup(inv, &k->url) && !store_deleted(inv, &k->url))))
                        return true;
        return false;
}

static void start_hsm_listing(struct inventory *inv) {
        struct vault_dir *d = &inv->hsm_dir;

        if (d->refreshed_this_sweep || !hsm_keys_present(inv, false))
                return;
        /* Fresh, and every HSM named is known: nothing to list. An HSM the cached listing
         * lacks may be new: list again (once per sweep). */
        if (d->fetched_realtime > 0 && d->fetched_realtime + inv->conf->cache_ttl_usec > inv->now &&
            !d->failed && !hsm_keys_present(inv, true)) {
                inv->cached_reads++;
                return;
        }
        vault_dir_reset(d);
        if (!d->vaults || !d->deleted) {
                /* Not listed: every vault is unknown this sweep, none absent. */
                inventory_oom(inv);
                d->failed = true;
                fact_set_undecodable(&d->failure, -ENOMEM, 0, inv->now);
                return;
        }
        d->fetched_realtime = inv->now;
        d->refreshed_this_sweep = true;
        STRV_FOREACH(sub, vault_subscriptions(inv)) {
                _cleanup_free_ char *scope = url_printf("/subscriptions/%s", *sub);
                _cleanup_free_ char *url = url_printf(
                        "%s/subscriptions/%s/providers/Microsoft.KeyVault/managedHSMs?api-version="
                        API_MANAGED_HSM_MGMT, inv->conf->cloud.arm_endpoint, *sub);
                _cleanup_free_ char *durl = url_printf(
                        "%s/subscriptions/%s/providers/Microsoft.KeyVault/deletedManagedHSMs?api-version="
                        API_MANAGED_HSM_MGMT, inv->conf->cloud.arm_endpoint, *sub);

                if (!scope) {
                        inventory_oom(inv);
                        continue;
                }
                (void) fetch(inv, REQ_HSMS, FETCH_ARM, FETCH_LIST_PAGE, url, scope, NULL, NULL);
                (void) fetch(inv, REQ_DELETED_HSMS, FETCH_ARM, FETCH_LIST_PAGE, durl, scope, NULL, NULL);
        }
}

static void hsm_listing_failed(struct inventory *inv, const struct fetch_result *r, int decode_error) {
        struct vault_dir *d = &inv->hsm_dir;

        if (d->failed)
                return;
        d->failed = true;
        if (decode_error < 0)
                fact_set_undecodable(&d->failure, decode_error, r->http_status, inv->now);
        else
                fact_set(&d->failure, r, inv->now);
}

static void on_hsms(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(vault_list_freep) struct vault_list *page = NULL;
        int k;

        if (r->error < 0) {
                hsm_listing_failed(inv, r, 0);
                return;
        }
        k = arm_decode_managed_hsm_list(r->body, r->body_len, &page);
        if (k < 0) {
                hsm_listing_failed(inv, r, k);
                return;
        }
        /* An HSM that did not decode could be the one a cluster uses (see on_vaults). */
        if (page->n_invalid > 0)
                hsm_listing_failed(inv, r, -EBADMSG);
        for (size_t i = 0; i < page->n_items; i++)
                if (page->items[i]->name &&
                    hashmap_put(inv->hsm_dir.vaults, page->items[i]->name, page->items[i]) >= 0)
                        page->items[i] = NULL;
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
}

static void on_deleted_hsms(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(deleted_vault_list_freep) struct deleted_vault_list *page = NULL;
        int k;

        if (r->error < 0) {
                hsm_listing_failed(inv, r, 0);
                return;
        }
        k = arm_decode_deleted_managed_hsm_list(r->body, r->body_len, &page);
        if (k < 0) {
                hsm_listing_failed(inv, r, k);
                return;
        }
        for (size_t i = 0; i < page->n_items; i++)
                if (page->items[i]->name &&
                    hashmap_put(inv->hsm_dir.deleted, page->items[i]->name, page->items[i]) >= 0)
                        page->items[i] = NULL;
        if (page->next_link)
                fetch_next_page(inv, q, page->next_link);
}

/* ---- keys ----------------------------------------------------------------------- */

static void on_key(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct key_entry *k = hashmap_get(inv->keys, q->scope);
        struct rotation_entry *rot;
        const char *vname;
        struct version_entry *ve;
        int e;

        if (!k)
                return;
        if (r->error < 0)
                fact_set(&k->current, r, inv->now);
        else {
                e = kv_decode_key_bundle(r->body, r->body_len, &k->current_bundle);
                if (e < 0)
                        fact_set_undecodable(&k->current, e, r->http_status, inv->now);
                else
                        fact_set(&k->current, r, inv->now);
        }

        if (k->current.status.state == OBS_ABSENT) {
                _cleanup_free_ char *u = url_printf("https://%s/deletedkeys/%s?api-version=" API_KEYVAULT,
                                                    k->url.host, k->url.name);
                (void) fetch(inv, REQ_DELETED_KEY, key_audience(&k->url), FETCH_KEY, u, k->id, NULL, NULL);
                return;
        }
        if (k->current.status.state != OBS_PRESENT)
                return;

        /* The rotation policy counts only for a key that is there (policy.c judges nothing else
         * of a key that is gone or could not be read), so it is read after the key, and not at
         * all when the key's read failed: a 403 would only come again. */
        rot = hashmap_get(inv->rotations, k->id);
        if (rot && cache_fresh(inv, &rot->fact))
                inv->cached_reads++;
        else {
                _cleanup_free_ char *u = url_printf("https://%s/keys/%s/rotationpolicy?api-version="
                                                    API_KEYVAULT, k->url.host, k->url.name);
                (void) fetch(inv, REQ_ROTATION, key_audience(&k->url), FETCH_KEY, u, k->id, NULL, NULL);
        }

        /* U5: just after a rotation the previous version may still be in use. */
        if (inv->conf->version_grace_usec > 0 && k->current_bundle->created > 0 &&
            inv->now - MIN(inv->now, k->current_bundle->created) < inv->conf->version_grace_usec) {
                _cleanup_free_ char *u = url_printf("https://%s/keys/%s/versions?api-version=" API_KEYVAULT
                                                    "&maxresults=25",
                                                    k->url.host, k->url.name);
                (void) fetch(inv, REQ_KEY_VERSIONS, key_audience(&k->url), FETCH_KEY, u, k->id, NULL, NULL);
        }

        /* Read each pinned version that is not the current one. */
        HASHMAP_FOREACH(vname, ve, k->versions)
                fetch_key_version(inv, k, vname, ve);
}

static void on_key_version(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct key_entry *k = hashmap_get(inv->keys, q->scope);
        struct version_entry *v = k ? hashmap_get(k->versions, q->version) : NULL;
        int e;

        if (!v)
                return;
        v->bundle = key_bundle_free(v->bundle);
        if (r->error < 0) {
                fact_set(&v->fact, r, inv->now);
                return;
        }
        e = kv_decode_key_bundle(r->body, r->body_len, &v->bundle);
        if (e < 0)
                fact_set_undecodable(&v->fact, e, r->http_status, inv->now);
        else
                fact_set(&v->fact, r, inv->now);
}

/* Keeps, over every page, the newest version created before the current one. */
static void on_key_versions(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        _cleanup_(key_version_list_freep) struct key_version_list *page = NULL;
        struct key_entry *k = hashmap_get(inv->keys, q->scope);
        usec_t current_created;
        int e;

        if (!k || !k->current_bundle)
                return;
        if (r->error < 0) {
                fact_set(&k->previous, r, inv->now);
                return;
        }
        e = kv_decode_key_version_list(r->body, r->body_len, &page);
        if (e < 0) {
                fact_set_undecodable(&k->previous, e, r->http_status, inv->now);
                return;
        }
        current_created = k->current_bundle->created;
        for (size_t i = 0; i < page->n_items; i++) {
                const struct key_version_item *it = &page->items[i];
                char *kid, *version;

                if (!it->version || strcasecmp(it->version, k->current_bundle->version) == 0 ||
                    it->created == 0 || it->created > current_created ||
                    (k->previous_found && it->created <= k->previous_item.created))
                        continue;
                kid = mem_strdup(it->kid);
                version = mem_strdup(it->version);
                if (!kid || !version) {
                        mem_free(kid);
                        mem_free(version);
                        fact_set_undecodable(&k->previous, -ENOMEM, r->http_status, inv->now);
                        return;
                }
                mem_free(k->previous_item.kid);
                mem_free(k->previous_item.version);
                k->previous_item = *it;
                k->previous_item.kid = kid;
                k->previous_item.version = version;
                k->previous_found = true;
        }
        /* An undecodable version could be the previous one: not known then. */
        if (page->n_invalid > 0) {
                fact_set_undecodable(&k->previous, -EBADMSG, r->http_status, inv->now);
                return;
        }
        if (page->next_link) {
                fetch_next_page(inv, q, page->next_link);
                return;
        }
        fact_set(&k->previous, r, inv->now);
        if (!k->previous_found)
                k->previous.status.state = OBS_ABSENT;
}

static void on_deleted_key(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct key_entry *k = hashmap_get(inv->keys, q->scope);
        int e;

        if (!k)
                return;
        if (r->error < 0) {
                fact_set(&k->deleted, r, inv->now);
                return;
        }
        e = kv_decode_deleted_key_bundle(r->body, r->body_len, &k->deleted_bundle);
        if (e < 0)
                fact_set_undecodable(&k->deleted, e, r->http_status, inv->now);
        else
                fact_set(&k->deleted, r, inv->now);
}

static void on_rotation(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct rotation_entry *e = hashmap_get(inv->rotations, q->scope);
        int k;

        if (!e) {
                e = new0(struct rotation_entry, 1);
                if (!e || hashmap_put(inv->rotations, q->scope, e) < 0) {
                        rotation_entry_free(e);
                        inventory_oom(inv);
                        return;
                }
        }
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        rotation_policy_free(e->policy);
        e->policy = NULL;
        k = kv_decode_rotation_policy(r->body, r->body_len, &e->policy);
        if (k < 0)
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
        else
                fact_set(&e->fact, r, inv->now);
}

/* ---- identities and roles ------------------------------------------------------- */

static void on_identity(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct identity_entry *e = hashmap_get(inv->identities, q->scope);
        int k;

        if (!e)
                return;
        identity_free(e->identity);
        e->identity = NULL;
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        k = arm_decode_identity(r->body, r->body_len, &e->identity);
        if (k < 0)
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
        else
                fact_set(&e->fact, r, inv->now);
}

/* Custom roles: an assignment names its role by GUID only, and whether a role that is not
 * built in grants the key data actions is in its definition. Each is read once (GET at the
 * vault's subscription, where an assignable custom role is visible) and cached like the
 * assignments themselves. */
static void request_role_definitions(struct inventory *inv, const struct role_assignment_list *list,
                                     const char *vault_id) {
        char sub[64];

        if (!list || armid_subscription(vault_id, sub, sizeof sub) < 0)
                return;
        for (size_t i = 0; i < list->n_items; i++) {
                const char *guid = list->items[i].role_definition;
                struct roledef_entry *e;
                _cleanup_free_ char *url = NULL;

                if (!guid || role_builtin_find(guid))
                        continue;
                e = hashmap_get(inv->role_defs, guid);
                if (e && (e->fact.fetched_realtime == inv->now || cache_fresh(inv, &e->fact))) {
                        if (e->fact.fetched_realtime != inv->now)
                                inv->cached_reads++;
                        continue;
                }
                if (!e) {
                        e = new0(struct roledef_entry, 1);
                        if (!e || hashmap_put(inv->role_defs, guid, e) < 0) {
                                roledef_entry_free(e);
                                inventory_oom(inv);
                                continue;
                        }
                }
                e->fact.requested = false; /* in flight; set again by fact_set() */
                e->fact.fetched_realtime = inv->now;
                url = url_printf("%s/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s"
                                 "?api-version=" API_AUTHORIZATION,
                                 inv->conf->cloud.arm_endpoint, sub, guid);
                (void) fetch(inv, REQ_ROLE_DEFINITION, FETCH_ARM, FETCH_RESOURCE, url, guid, NULL, NULL);
        }
}

static int roles_append(struct role_assignment_list **acc, struct role_assignment_list *page) {
        struct role_assignment_list *a = *acc;
        struct role_assignment *items;

        if (!a) {
                *acc = page;
                return 0;
        }
        items = mem_realloc(a->items, sizeof(*items) * (a->n_items + page->n_items));
        if (!items && a->n_items + page->n_items > 0) {
                role_assignment_list_free(page);
                return -ENOMEM;
        }
        memcpy(items + a->n_items, page->items, sizeof(*items) * page->n_items);
        a->items = items;
        a->n_items += page->n_items;
        mem_free(page->items);
        page->items = NULL;
        page->n_items = 0;
        role_assignment_list_free(page);
        return 0;
}

static void on_roles(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct roles_entry *e = hashmap_get(inv->roles, q->scope);
        struct role_assignment_list *page = NULL;
        _cleanup_free_ char *next = NULL;
        int k;

        if (!e)
                return;
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        k = arm_decode_role_assignment_list(r->body, r->body_len, &page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        next = TAKE_PTR(page->next_link);
        k = roles_append(&q->roles_acc, page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        if (next) {
                fetch_next_page(inv, q, next);
                return;
        }
        role_assignment_list_free(e->list);
        e->list = TAKE_PTR(q->roles_acc);
        fact_set(&e->fact, r, inv->now);
        request_role_definitions(inv, e->list, q->scope);
}

static void on_role_definition(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct roledef_entry *e = hashmap_get(inv->role_defs, q->scope);
        int k;

        if (!e)
                return;
        role_definition_free(e->def);
        e->def = NULL;
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        k = arm_decode_role_definition(r->body, r->body_len, &e->def);
        if (k < 0)
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
        else
                fact_set(&e->fact, r, inv->now);
}

/* Phase 2: role assignments of every RBAC vault some cluster uses. */
static void request_roles(struct inventory *inv) {
        const char *id;
        struct key_entry *k;

        HASHMAP_FOREACH(id, k, inv->keys) {
                const struct vault *v = vault_lookup(inv, &k->url);
                struct roles_entry *e;
                _cleanup_free_ char *url = NULL;

                if (!v || !v->rbac_authorization || v->store != KEY_STORE_VAULT || !v->id)
                        continue;
                e = hashmap_get(inv->roles, v->id);
                if (e && (e->fact.fetched_realtime == inv->now || cache_fresh(inv, &e->fact))) {
                        if (e->fact.fetched_realtime != inv->now) {
                                inv->cached_reads++;
                                /* The definitions may have expired before the list. */
                                request_role_definitions(inv, e->list, v->id);
                        }
                        continue;
                }
                if (!e) {
                        e = new0(struct roles_entry, 1);
                        if (!e || hashmap_put(inv->roles, v->id, e) < 0) {
                                roles_entry_free(e);
                                inventory_oom(inv);
                                continue;
                        }
                }
                e->fact.requested = false;
                e->fact.fetched_realtime = inv->now;
                url = url_printf("%s%s/providers/Microsoft.Authorization/roleAssignments?api-version=" API_AUTHORIZATION,
                                 inv->conf->cloud.arm_endpoint, v->id);
                (void) fetch(inv, REQ_ROLES, FETCH_ARM, FETCH_LIST_PAGE, url, v->id, NULL, NULL);
        }
}

/* ---- Managed HSMs: local RBAC ------------------------------------------------------ */

/* A Managed HSM authorizes its keys with its own local RBAC, read from its data plane with an
 * HSM token: GET https://{hsm}/providers/Microsoft.Authorization/roleAssignments (scope "/",
 * which lists the assignments at every scope of the HSM), once per HSM per CacheTTLSec=. When
 * an assignment names a role that is not built in, the HSM's role definitions too. */

static bool hsm_list_names_custom_role(const struct role_assignment_list *list) {
        for (size_t i = 0; list && i < list->n_items; i++)
                if (list->items[i].role_definition && !role_builtin_find(list->items[i].role_definition))
                        return true;
        return false;
}

static void request_hsm_role_defs(struct inventory *inv, const char *host,
                                  const struct role_assignment_list *list) {
        struct hsm_defs_entry *e;
        _cleanup_free_ char *url = NULL;

        if (!hsm_list_names_custom_role(list))
                return;
        e = hashmap_get(inv->hsm_defs, host);
        if (e && (e->fact.fetched_realtime == inv->now || cache_fresh(inv, &e->fact))) {
                if (e->fact.fetched_realtime != inv->now)
                        inv->cached_reads++;
                return;
        }
        if (!e) {
                e = new0(struct hsm_defs_entry, 1);
                if (!e || hashmap_put(inv->hsm_defs, host, e) < 0) {
                        hsm_defs_entry_free(e);
                        inventory_oom(inv);
                        return;
                }
        }
        e->fact.requested = false; /* in flight; set again by fact_set() */
        e->fact.fetched_realtime = inv->now;
        url = url_printf("https://%s/providers/Microsoft.Authorization/roleDefinitions?api-version="
                         API_HSM_RBAC, host);
        (void) fetch(inv, REQ_HSM_ROLE_DEFS, FETCH_HSM, FETCH_KEY, url, host, NULL, NULL);
}

/* Phase 2: the local role assignments of every HSM some cluster's key is in, when the HSM
 * itself was found (without it the access check is not made). */
static void request_hsm_roles(struct inventory *inv) {
        const char *id;
        struct key_entry *k;

        HASHMAP_FOREACH(id, k, inv->keys) {
                const char *host = k->url.host;
                struct roles_entry *e;
                _cleanup_free_ char *url = NULL;

                if (k->url.store != KEY_STORE_MANAGED_HSM || !vault_lookup(inv, &k->url))
                        continue;
                e = hashmap_get(inv->hsm_roles, host);
                if (e && (e->fact.fetched_realtime == inv->now || cache_fresh(inv, &e->fact))) {
                        if (e->fact.fetched_realtime != inv->now) {
                                inv->cached_reads++;
                                request_hsm_role_defs(inv, host, e->list);
                        }
                        continue;
                }
                if (!e) {
                        e = new0(struct roles_entry, 1);
                        if (!e || hashmap_put(inv->hsm_roles, host, e) < 0) {
                                roles_entry_free(e);
                                inventory_oom(inv);
                                continue;
                        }
                }
                e->fact.requested = false;
                e->fact.fetched_realtime = inv->now;
                url = url_printf("https://%s/providers/Microsoft.Authorization/roleAssignments?api-version="
                                 API_HSM_RBAC, host);
                (void) fetch(inv, REQ_HSM_ROLES, FETCH_HSM, FETCH_KEY, url, host, NULL, NULL);
        }
}

static void on_hsm_roles(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct roles_entry *e = hashmap_get(inv->hsm_roles, q->scope);
        struct role_assignment_list *page = NULL;
        _cleanup_free_ char *next = NULL;
        int k;

        if (!e)
                return;
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        k = kv_decode_hsm_role_assignment_list(r->body, r->body_len, &page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        /* An assignment that did not decode might be the grant: unknown, not revoked. */
        if (page->n_invalid > 0) {
                role_assignment_list_free(page);
                fact_set_undecodable(&e->fact, -EBADMSG, r->http_status, inv->now);
                return;
        }
        next = TAKE_PTR(page->next_link);
        k = roles_append(&q->roles_acc, page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        if (next) {
                fetch_next_page(inv, q, next);
                return;
        }
        role_assignment_list_free(e->list);
        e->list = TAKE_PTR(q->roles_acc);
        fact_set(&e->fact, r, inv->now);
        request_hsm_role_defs(inv, q->scope, e->list);
}

static int defs_append(struct role_definition_list **acc, struct role_definition_list *page) {
        struct role_definition_list *a = *acc;
        struct role_definition **items;

        if (!a) {
                *acc = page;
                return 0;
        }
        items = mem_realloc(a->items, sizeof(*items) * MAX(a->n_items + page->n_items, (size_t) 1));
        if (!items) {
                role_definition_list_free(page);
                return -ENOMEM;
        }
        memcpy(items + a->n_items, page->items, sizeof(*items) * page->n_items);
        a->items = items;
        a->n_items += page->n_items;
        page->n_items = 0; /* the definitions moved */
        role_definition_list_free(page);
        return 0;
}

static void on_hsm_role_defs(struct inventory *inv, struct req *q, const struct fetch_result *r) {
        struct hsm_defs_entry *e = hashmap_get(inv->hsm_defs, q->scope);
        struct role_definition_list *page = NULL;
        _cleanup_free_ char *next = NULL;
        int k;

        if (!e)
                return;
        if (r->error < 0) {
                fact_set(&e->fact, r, inv->now);
                return;
        }
        k = kv_decode_hsm_role_definition_list(r->body, r->body_len, &page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        next = TAKE_PTR(page->next_link);
        k = defs_append(&q->defs_acc, page);
        if (k < 0) {
                fact_set_undecodable(&e->fact, k, r->http_status, inv->now);
                return;
        }
        if (next) {
                fetch_next_page(inv, q, next);
                return;
        }
        role_definition_list_free(e->list);
        e->list = TAKE_PTR(q->defs_acc);
        fact_set(&e->fact, r, inv->now);
}

/* A vault the listing from an earlier sweep did not have may be new: list again once. */
static bool vault_dir_misses(struct inventory *inv) {
        const char *id;
        struct key_entry *k;

        if (inv->dir.refreshed_this_sweep)
                return false;
        HASHMAP_FOREACH(id, k, inv->keys)
                if (k->url.store == KEY_STORE_VAULT && !vault_lookup(inv, &k->url) &&
                    !store_deleted(inv, &k->url))
                        return true;
        return false;
}

/* ---- the sweep ------------------------------------------------------------------ */

static void on_fetch_done(const struct fetch_result *r, void *userdata) {
        struct req *q = userdata;
        struct inventory *inv = q->inv;

        switch (q->type) {
        case REQ_SUBSCRIPTIONS:
                on_subscriptions(inv, q, r);
                break;
        case REQ_CLUSTERS:
                on_clusters(inv, q, r);
                break;
        case REQ_VAULTS:
                on_vaults(inv, q, r);
                break;
        case REQ_DELETED_VAULTS:
                on_deleted_vaults(inv, q, r);
                break;
        case REQ_KEY:
                on_key(inv, q, r);
                break;
        case REQ_KEY_VERSION:
                on_key_version(inv, q, r);
                break;
        case REQ_KEY_VERSIONS:
                on_key_versions(inv, q, r);
                break;
        case REQ_DELETED_KEY:
                on_deleted_key(inv, q, r);
                break;
        case REQ_ROTATION:
                on_rotation(inv, q, r);
                break;
        case REQ_IDENTITY:
                on_identity(inv, q, r);
                break;
        case REQ_ROLES:
                on_roles(inv, q, r);
                break;
        case REQ_ROLE_DEFINITION:
                on_role_definition(inv, q, r);
                break;
        case REQ_HSMS:
                on_hsms(inv, q, r);
                break;
        case REQ_DELETED_HSMS:
                on_deleted_hsms(inv, q, r);
                break;
        case REQ_HSM_ROLES:
                on_hsm_roles(inv, q, r);
                break;
        case REQ_HSM_ROLE_DEFS:
                on_hsm_role_defs(inv, q, r);
                break;
        }
        req_free(q);

        assert(inv->pending > 0);
        inv->pending--;
        if (inv->pending == 0)
                phase_advance(inv);
}

static void sweep_reset(struct inventory *inv) {
        mem_free(inv->deferred);
        inv->deferred = NULL;
        inv->n_deferred = inv->n_deferred_allocated = 0;
        inv->dir.listing = 0;
        for (size_t i = 0; i < inv->n_clusters; i++)
                cluster_free(inv->clusters[i]);
        mem_free(inv->clusters);
        inv->clusters = NULL;
        inv->n_clusters = inv->n_clusters_allocated = 0;
        inv->cluster_strings = strpool_free(inv->cluster_strings);
        hashmap_free(inv->cluster_ids);
        inv->cluster_ids = NULL;
        hashmap_free(inv->keys);
        inv->keys = NULL;
        inv->subscriptions = strv_free(inv->subscriptions);
        inv->failed_scopes = strv_free(inv->failed_scopes);
        mem_free(inv->first_scope_error);
        inv->first_scope_error = NULL;
        inv->subscriptions_failed = false;
        inv->subscriptions_failure = (struct fact) {};
        inv->n_list_scopes = inv->n_list_scopes_failed = inv->n_unreadable = 0;
        inv->requests = inv->list_pages = inv->key_reads = inv->cached_reads = 0;
        inv->dir.refreshed_this_sweep = false;
        inv->hsm_dir.refreshed_this_sweep = false;
        mem_free(inv->custom_roles);
        inv->custom_roles = NULL;
        inv->n_custom_roles = 0;
}

static void phase_advance(struct inventory *inv) {
        switch (inv->phase) {
        case PHASE_LIST:
                /* A vault listing chain that broke off (page cap, no memory) must not keep
                 * clusters waiting: read their keys now. */
                if (inv->n_deferred > 0) {
                        inv->dir.listing = 1;
                        vault_listing_done(inv);
                        if (inv->pending > 0)
                                return;
                }
                /* Subscriptions were discovered: now list their clusters and vaults. */
                if (strv_length(inv->conf->subscriptions) == 0 && inv->n_list_scopes == 0 &&
                    !inv->subscriptions_failed && strv_length(inv->subscriptions) > 0) {
                        start_listings(inv);
                        if (inv->pending > 0)
                                return;
                }
                inv->phase = PHASE_VAULTS;
                if (vault_dir_misses(inv)) {
                        inv->dir.fetched_realtime = 0;
                        start_vault_listing(inv);
                }
                start_hsm_listing(inv);
                if (inv->pending > 0)
                        return;
                _fallthrough_;
        case PHASE_VAULTS:
                inv->phase = PHASE_ROLES;
                request_roles(inv);
                request_hsm_roles(inv);
                if (inv->pending > 0)
                        return;
                _fallthrough_;
        case PHASE_ROLES:
                inv->phase = PHASE_DONE;
                if (inv->done)
                        inv->done(inv, inv->userdata);
                break;
        default:
                break;
        }
}

int inventory_new(const struct conf *conf, const struct fetcher *fetcher, struct inventory **ret) {
        _cleanup_(inventory_freep) struct inventory *inv = NULL;

        inv = new0(struct inventory, 1);
        if (!inv)
                return -ENOMEM;
        inv->conf = conf;
        inv->fetcher = fetcher;
        inv->rotations = hashmap_new(false, rotation_entry_free);
        inv->versions = hashmap_new(false, version_entry_free);
        inv->identities = hashmap_new(true, identity_entry_free);
        inv->roles = hashmap_new(true, roles_entry_free);
        inv->role_defs = hashmap_new(true, roledef_entry_free);
        inv->hsm_roles = hashmap_new(true, roles_entry_free);
        inv->hsm_defs = hashmap_new(true, hsm_defs_entry_free);
        if (!inv->rotations || !inv->versions || !inv->identities || !inv->roles || !inv->role_defs ||
            !inv->hsm_roles || !inv->hsm_defs)
                return -ENOMEM;
        *ret = TAKE_PTR(inv);
        return 0;
}

struct inventory *inventory_free(struct inventory *inv) {
        if (!inv)
                return NULL;
        while (inv->reqs)
                req_free(inv->reqs);
        sweep_reset(inv);
        hashmap_free(inv->rotations);
        hashmap_free(inv->versions);
        hashmap_free(inv->identities);
        hashmap_free(inv->roles);
        hashmap_free(inv->role_defs);
        hashmap_free(inv->dir.vaults);
        hashmap_free(inv->dir.deleted);
        hashmap_free(inv->hsm_dir.vaults);
        hashmap_free(inv->hsm_dir.deleted);
        hashmap_free(inv->hsm_roles);
        hashmap_free(inv->hsm_defs);
        mem_free(inv);
        return NULL;
}

void inventory_set_conf(struct inventory *inv, const struct conf *conf) {
        assert(inv->pending == 0);
        inv->conf = conf;
        hashmap_free(inv->rotations);
        hashmap_free(inv->versions);
        hashmap_free(inv->identities);
        hashmap_free(inv->roles);
        hashmap_free(inv->role_defs);
        inv->rotations = hashmap_new(false, rotation_entry_free);
        inv->versions = hashmap_new(false, version_entry_free);
        inv->identities = hashmap_new(true, identity_entry_free);
        inv->roles = hashmap_new(true, roles_entry_free);
        inv->role_defs = hashmap_new(true, roledef_entry_free);
        inv->dir.fetched_realtime = 0;
        hashmap_free(inv->hsm_roles);
        hashmap_free(inv->hsm_defs);
        inv->hsm_roles = hashmap_new(true, roles_entry_free);
        inv->hsm_defs = hashmap_new(true, hsm_defs_entry_free);
        inv->hsm_dir.fetched_realtime = 0;
}

bool inventory_busy(const struct inventory *inv) {
        return inv->pending > 0;
}

int inventory_sweep_start(struct inventory *inv, usec_t now_realtime, inventory_done_fn done, void *userdata) {
        if (inv->pending > 0)
                return -EBUSY;
        if (!inv->rotations || !inv->versions || !inv->identities || !inv->roles || !inv->role_defs ||
            !inv->hsm_roles || !inv->hsm_defs)
                return -ENOMEM;
        sweep_reset(inv);
        inv->now = now_realtime;
        inv->sweep++;
        versions_prune(inv);
        inv->done = done;
        inv->userdata = userdata;
        inv->phase = PHASE_LIST;
        inv->cluster_ids = hashmap_new_borrowed(true, NULL);
        inv->keys = hashmap_new(false, key_entry_free);
        inv->subscriptions = strv_copy(inv->conf->subscriptions);
        if (!inv->cluster_ids || !inv->keys || !inv->subscriptions || strpool_new(&inv->cluster_strings) < 0)
                return -ENOMEM;

        /* Keep one request "pending" while starting, so that answers given at once
         * cannot finish the sweep before every request is out. */
        inv->pending++;
        if (strv_length(inv->subscriptions) == 0) {
                _cleanup_free_ char *url = url_printf("%s/subscriptions?api-version=" API_SUBSCRIPTIONS,
                                                      inv->conf->cloud.arm_endpoint);
                (void) fetch(inv, REQ_SUBSCRIPTIONS, FETCH_ARM, FETCH_LIST_PAGE, url, "/subscriptions", NULL, NULL);
        } else
                start_listings(inv);
        inv->pending--;
        if (inv->pending == 0)
                phase_advance(inv);
        return 0;
}

/* ---- evaluation ----------------------------------------------------------------- */

static int cluster_cmp(const void *a, const void *b) {
        const struct cluster_result *x = a, *y = b;

        return strcasecmp(x->obs.cluster->id, y->obs.cluster->id);
}

static void obs_from_fact(struct obs_status *dst, const struct fact *f) {
        *dst = f->status;
}

static void fill_obs(struct inventory *inv, const struct cluster *c, struct cluster_obs *o) {
        struct identity_entry *ie;
        struct key_entry *k;
        struct keyurl url;
        char id[KEYURL_MAX];

        *o = (struct cluster_obs) { .cluster = c };
        if (!c->customer_managed)
                return;

        if (c->kek_identity_id && (ie = hashmap_get(inv->identities, c->kek_identity_id)) && ie->fact.requested) {
                obs_from_fact(&o->identity_status, &ie->fact);
                o->identity = ie->identity;
        }

        if (!c->key_url || keyurl_parse(c->key_url, &url) < 0)
                return;
        if (!keyurl_allowed(inv, &url)) {
                o->key_url_outside_cloud = true;
                return;
        }
        k = hashmap_get(inv->keys, keyurl_key_id(&url, id, sizeof id));
        if (!k)
                return;
        obs_from_fact(&o->key_status, &k->current);
        o->key = k->current_bundle;
        if (k->deleted.requested) {
                obs_from_fact(&o->deleted_key_status, &k->deleted);
                o->deleted_key = k->deleted_bundle;
        }
        if (k->previous.requested) {
                obs_from_fact(&o->previous_status, &k->previous);
                o->previous = k->previous_found && k->previous.status.state == OBS_PRESENT ? &k->previous_item : NULL;
        }
        if (keyurl_is_versioned(&url)) {
                char v[KEYURL_VERSION_MAX];
                struct version_entry *ve;

                snprintf(v, sizeof v, "%s", url.version);
                lowercase(v);
                ve = hashmap_get(k->versions, v);
                /* Only a pin that is not the current version (read or cached this sweep). */
                if (ve && ve->sweep == inv->sweep && ve->fact.requested) {
                        obs_from_fact(&o->pinned_status, &ve->fact);
                        o->pinned = ve->bundle;
                }
        }
        {
                struct rotation_entry *re = hashmap_get(inv->rotations, k->id);

                if (re && re->fact.requested) {
                        obs_from_fact(&o->rotation_status, &re->fact);
                        o->rotation = re->fact.status.state == OBS_PRESENT ? re->policy : NULL;
                }
        }

        o->vault = vault_lookup(inv, &url);
        if (o->vault)
                o->vault_status.state = OBS_PRESENT;
        else if (store_deleted(inv, &url)) {
                o->vault_status.state = OBS_ABSENT;
                o->vault_deleted = true;
        } else if (store_dir(inv, url.store)->failed)
                obs_from_fact(&o->vault_status, &store_dir(inv, url.store)->failure);
        else
                o->vault_status = (struct obs_status) {
                        .state = OBS_UNKNOWN,
                        .error = -ENXIO,
                        .error_code = url.store == KEY_STORE_MANAGED_HSM ? "HsmNotVisible"
                                                                         : "VaultNotVisible",
                };

        if (o->vault && o->vault->store == KEY_STORE_MANAGED_HSM) {
                struct roles_entry *re = hashmap_get(inv->hsm_roles, url.host);

                if (re && re->fact.requested) {
                        obs_from_fact(&o->roles_status, &re->fact);
                        o->roles = re->list;
                }
                o->custom_roles = inv->custom_roles;
                o->n_custom_roles = inv->n_custom_roles;
        } else if (o->vault && o->vault->rbac_authorization && o->vault->id) {
                struct roles_entry *re = hashmap_get(inv->roles, o->vault->id);

                if (re && re->fact.requested) {
                        obs_from_fact(&o->roles_status, &re->fact);
                        o->roles = re->list;
                }
                o->custom_roles = inv->custom_roles;
                o->n_custom_roles = inv->n_custom_roles;
        }
}

/* The custom role definitions of this sweep, for every cluster's obs. */
static int collect_custom_roles(struct inventory *inv) {
        const char *guid;
        struct roledef_entry *e;
        size_t n = 0;

        mem_free(inv->custom_roles);
        inv->custom_roles = NULL;
        inv->n_custom_roles = 0;
        const char *host;
        struct hsm_defs_entry *h;

        HASHMAP_FOREACH(guid, e, inv->role_defs)
                if (e->fact.status.state == OBS_PRESENT && e->def)
                        n++;
        /* An HSM's list holds its built-in roles too: only the others are custom. */
        HASHMAP_FOREACH(host, h, inv->hsm_defs)
                for (size_t i = 0; h->fact.status.state == OBS_PRESENT && h->list && i < h->list->n_items;
                     i++)
                        if (h->list->items[i] && !role_builtin_find(h->list->items[i]->id))
                                n++;
        if (n == 0)
                return 0;
        inv->custom_roles = new0(const struct role_definition *, n);
        if (!inv->custom_roles)
                return -ENOMEM;
        HASHMAP_FOREACH(guid, e, inv->role_defs)
                if (e->fact.status.state == OBS_PRESENT && e->def && inv->n_custom_roles < n)
                        inv->custom_roles[inv->n_custom_roles++] = e->def;
        HASHMAP_FOREACH(host, h, inv->hsm_defs)
                for (size_t i = 0; h->fact.status.state == OBS_PRESENT && h->list && i < h->list->n_items;
                     i++)
                        if (h->list->items[i] && !role_builtin_find(h->list->items[i]->id) &&
                            inv->n_custom_roles < n)
                                inv->custom_roles[inv->n_custom_roles++] = h->list->items[i];
        return 0;
}

int inventory_evaluate(struct inventory *inv, usec_t now, struct sweep_result *ret) {
        struct sweep_result s = {};
        const struct fact *why = NULL;

        s.started_realtime = inv->now;
        s.finished_realtime = now;
        s.n_unreadable = inv->n_unreadable;
        s.stats.requests = inv->requests;
        s.stats.list_pages = inv->list_pages;
        s.stats.key_reads = inv->key_reads;
        s.stats.cached_reads = inv->cached_reads;

        /* The sweep "ran" if at least one scope was listed. */
        if (inv->subscriptions_failed)
                why = &inv->subscriptions_failure;
        s.ran = !why && inv->n_list_scopes > inv->n_list_scopes_failed;
        if (!s.ran) {
                char msg[512];

                if (why)
                        snprintf(msg, sizeof msg, "could not list subscriptions: %s",
                                 why->status.error_code ?: strerror(ERRNO_VALUE(why->status.error ?: EIO)));
                else if (inv->n_list_scopes == 0)
                        snprintf(msg, sizeof msg, "no subscription is visible to cmkd");
                else
                        snprintf(msg, sizeof msg, "%s", strna(inv->first_scope_error));
                s.error = why ? why->status.error : inv->first_scope_error_code ?: -ENODATA;
                s.error_message = mem_strdup(msg);
                if (!s.error_message)
                        return -ENOMEM;
        }
        if (s.ran && inv->first_scope_error) {
                s.error = inv->first_scope_error_code;
                s.error_message = mem_strdup(inv->first_scope_error);
                if (!s.error_message)
                        return -ENOMEM;
        }
        if (inv->failed_scopes) {
                s.failed_scopes = strv_copy(inv->failed_scopes);
                if (!s.failed_scopes) {
                        sweep_result_done(&s);
                        return -ENOMEM;
                }
        }

        /* Only the listing needs the ids (to drop a cluster listed twice): their map goes
         * before the results take their room. */
        inv->cluster_ids = hashmap_free(inv->cluster_ids);
        if (inv->n_clusters > 0) {
                s.clusters = new0(struct cluster_result, inv->n_clusters);
                if (!s.clusters) {
                        sweep_result_done(&s);
                        return -ENOMEM;
                }
        }
        if (collect_custom_roles(inv) < 0) {
                sweep_result_done(&s);
                return -ENOMEM;
        }
        for (size_t i = 0; i < inv->n_clusters; i++)
                fill_obs(inv, inv->clusters[i], &s.clusters[s.n_clusters++].obs);
        /* Sort before judging: a verdict points into its own cluster_result's obs, which
         * must not move afterwards. */
        if (s.n_clusters > 1)
                qsort(s.clusters, s.n_clusters, sizeof(struct cluster_result), cluster_cmp);
        {
                /* Every cluster's findings in one array and the wanted target URLs in one
                 * block, sized as they come; the verdicts point into them once they stop
                 * moving. */
                struct verdict_space space;
                size_t n = 0, allocated = 0, t = 0, t_allocated = 0;
                /* key URL as sent (borrowed from the cluster) → index in s.keyurls + 1 */
                _cleanup_(hashmap_freep) struct hashmap *urls = hashmap_new_borrowed(false, NULL);

                if (!urls) {
                        sweep_result_done(&s);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < s.n_clusters; i++) {
                        const char *u = s.clusters[i].obs.cluster->key_url;

                        if (u && !hashmap_get(urls, u) &&
                            hashmap_put(urls, u, (void *) (uintptr_t) ++s.n_keyurls) < 0) {
                                sweep_result_done(&s);
                                return -ENOMEM;
                        }
                }
                if (s.n_keyurls > 0) {
                        s.keyurls = new0(struct keyurl, s.n_keyurls);
                        if (!s.keyurls) {
                                sweep_result_done(&s);
                                return -ENOMEM;
                        }
                }
                for (size_t i = 0; i < s.n_clusters; i++) {
                        struct cluster_result *cr = &s.clusters[i];
                        size_t len;

                        conf_policy_for(inv->conf, cr->obs.cluster, &cr->policy);
                        (void) policy_evaluate(&cr->obs, &cr->policy, now, &space, &cr->verdict);
                        if (cr->verdict.has_keyurl) {
                                /* The same string parses the same: one copy per URL. */
                                uintptr_t at = (uintptr_t) hashmap_get(urls, cr->obs.cluster->key_url);
                                struct keyurl *k = &s.keyurls[at - 1];

                                *k = space.keyurl;
                                cr->verdict.keyurl = k;
                        }
                        if (cr->verdict.action.wanted) {
                                len = strlen(space.target_url) + 1;
                                if (GREEDY_REALLOC(s.target_urls, t_allocated, t + len) < 0) {
                                        sweep_result_done(&s);
                                        return -ENOMEM;
                                }
                                memcpy(s.target_urls + t, space.target_url, len);
                                t += len;
                        }
                        if (cr->verdict.n_findings == 0)
                                continue;
                        if (GREEDY_REALLOC(s.findings, allocated, n + cr->verdict.n_findings) < 0) {
                                sweep_result_done(&s);
                                return -ENOMEM;
                        }
                        memcpy(s.findings + n, space.findings,
                               sizeof space.findings[0] * cr->verdict.n_findings);
                        n += cr->verdict.n_findings;
                }
                n = t = 0;
                for (size_t i = 0; i < s.n_clusters; i++) {
                        struct verdict *v = &s.clusters[i].verdict;

                        v->findings = v->n_findings ? s.findings + n : NULL;
                        n += v->n_findings;
                        if (v->action.wanted) {
                                v->action.target_url = s.target_urls + t;
                                t += strlen(s.target_urls + t) + 1;
                        }
                }
        }

        *ret = s;
        return 0;
}
