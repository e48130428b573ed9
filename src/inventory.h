/* SPDX-License-Identifier: MIT */
#pragma once

/* The inventory gathers, for one sweep, every fact the decision core needs, with the
 * fewest requests: each distinct key, pinned version, identity, vault and role scope is
 * read once per sweep however many clusters share it, and slowly changing facts
 * (vault listings, identities, role assignments, rotation policies, pinned versions that
 * are not the current one) are cached for [Daemon] CacheTTLSec=. Keys are read every sweep
 * (that is what shows a rotation). It talks to the network only through a struct fetcher,
 * so tests can drive it with a fake one. */

#include "conf.h"
#include "sweep.h"

enum fetch_audience {
        FETCH_ARM,
        FETCH_VAULT,
        FETCH_HSM,
        _FETCH_AUDIENCE_MAX,
};

enum fetch_kind {
        FETCH_LIST_PAGE, /* an ARM list page: large cap */
        FETCH_RESOURCE,  /* one ARM resource */
        FETCH_KEY,       /* a Key Vault / Managed HSM answer */
        _FETCH_KIND_MAX,
};

struct fetch_result {
        int error;               /* 0 for a 2xx answer; -ENOENT for 404; other -errno otherwise */
        long http_status;        /* 0 when there was no HTTP answer */
        const char *body;        /* borrowed for the duration of the callback; NUL-terminated */
        size_t body_len;
        const char *error_code;  /* innermost Azure error code, or NULL */
        const char *error_message;
};

typedef void (*fetch_done_fn)(const struct fetch_result *r, void *userdata);

struct fetcher {
        /* Starts an authenticated GET of url. done is called exactly once, never from
         * within get() itself. Returns 0, or -errno and then done is never called. */
        int (*get)(void *ctx, enum fetch_audience audience, enum fetch_kind kind, const char *url,
                   fetch_done_fn done, void *userdata);
        void *ctx;
};

struct inventory;

/* conf and fetcher are borrowed and must outlive the inventory (see inventory_set_conf). */
int inventory_new(const struct conf *conf, const struct fetcher *fetcher, struct inventory **ret);
/* Also frees the state of requests still out (a stop in the middle of a sweep): their
 * done callbacks must never run afterwards (azure_free() ends calls without one). */
struct inventory *inventory_free(struct inventory *inv);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct inventory *, inventory_free);

/* After a reload: uses the new conf and drops every cached fact. Not during a sweep. */
void inventory_set_conf(struct inventory *inv, const struct conf *conf);

typedef void (*inventory_done_fn)(struct inventory *inv, void *userdata);

/* Starts a sweep at now_realtime (TTL and decisions use it). done is called once when
 * every read has finished or failed. -EBUSY if a sweep is running. The previous sweep's
 * facts are dropped: results of a previous inventory_evaluate() must be done with. */
int inventory_sweep_start(struct inventory *inv, usec_t now_realtime, inventory_done_fn done, void *userdata);
bool inventory_busy(const struct inventory *inv);

/* After done: judges every selected cluster into *ret (ran, failed_scopes, n_unreadable,
 * clusters with obs, policy and verdict; actions left OUTCOME_NONE; stats.requests,
 * list_pages, key_reads, cached_reads). The obs borrow from the inventory until the next
 * sweep starts. Returns 0 or -ENOMEM. */
int inventory_evaluate(struct inventory *inv, usec_t now_realtime, struct sweep_result *ret);

/* URL builders shared with remediation. Return a new string or NULL (ENOMEM). */
char *inventory_cluster_url(const struct conf *conf, const char *cluster_id);
