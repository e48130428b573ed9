/* SPDX-License-Identifier: MIT */
#pragma once

/* Access tokens: one cached token per audience of the configured cloud (ARM, Key Vault,
 * Managed HSM), fetched from IMDS (managed identity), or from Entra ID with a client
 * secret or a workload identity's federated token; refreshed ahead of expiry, fetched
 * once for any number of concurrent waiters, retried with backoff. A token is only ever
 * fetched for an audience the cloud config names. Token strings live in this module's
 * buffers only (wiped when dropped); callers borrow the Authorization value and hand it
 * straight to http.c, which never logs it. */

#include <ev.h>

#include "backoff.h"
#include "conf.h"
#include "http.h"
#include "macro.h"

/* Refresh timing (pure, for tests): a token is refreshed from
 *   refresh_at = expires_at - min(AUTH_REFRESH_AHEAD_USEC, lifetime / 2)
 * (the SDKs refresh 300 s ahead, README §6.3; half the lifetime for the short tokens of
 * tests) and no longer handed out from
 *   stale_at = expires_at - min(AUTH_STALE_AHEAD_USEC, lifetime / 10)
 * so that a request does not arrive with a token that expired on the way. */
#define AUTH_REFRESH_AHEAD_USEC (5 * USEC_PER_MINUTE)
#define AUTH_STALE_AHEAD_USEC   (30 * USEC_PER_SEC)
/* After a failed refresh while the old token is still good, try again this much later
 * (the SDKs wait 30 s), or sooner for short tokens (a tenth of the lifetime). */
#define AUTH_REFRESH_RETRY_USEC (30 * USEC_PER_SEC)
/* The workload identity's federated token file is read again when our copy is older. */
#define AUTH_ASSERTION_MAX_AGE_USEC (5 * USEC_PER_MINUTE)
#define AUTH_SECRET_FILE_MAX        (16 * 1024)
#define AUTH_ASSERTION_FILE_MAX     (64 * 1024)
/* Token answers are small. */
#define AUTH_TOKEN_BODY_MAX (64 * 1024)

enum auth_token_state {
        AUTH_TOKEN_MISSING,     /* none, or rejected: fetch and wait */
        AUTH_TOKEN_FRESH,       /* use it */
        AUTH_TOKEN_REFRESH_DUE, /* use it, and fetch a new one in the background */
        AUTH_TOKEN_EXPIRED,     /* do not use it: fetch and wait */
};

usec_t auth_refresh_at(usec_t obtained, usec_t expires_at);
usec_t auth_stale_at(usec_t obtained, usec_t expires_at);
/* obtained == 0 means no token. */
enum auth_token_state auth_token_state(usec_t obtained, usec_t expires_at, usec_t now);

struct auth_conf {
        enum auth_method method;
        const struct cloud *cloud; /* endpoints and audiences; copied */
        const char *tenant_id;     /* client secret, workload identity */
        const char *client_id;     /* IMDS: a user-assigned identity's client id (NULL = system-assigned);
                                    * Entra: the application id */
        const char *client_secret_file;   /* a bare name is looked up in $CREDENTIALS_DIRECTORY when set */
        const char *federated_token_file; /* NULL = $AZURE_FEDERATED_TOKEN_FILE */
        unsigned max_retries;             /* per fetch */
        struct backoff_conf backoff;      /* zeros = BACKOFF_*_DEFAULT */
        usec_t timeout_usec;              /* per token request; 0 = http's default */
};

/* What went wrong with a token, for the caller's result (no secrets in it). */
struct auth_failure {
        int error;         /* -EACCES (the endpoint refused: 400/401), -EPERM (secret file readable by
                            * others), -ENOENT/-EACCES/-EFBIG/-EINVAL (secret or assertion file),
                            * -EBADMSG (answer not understood), transport -errno, -EIO (5xx) */
        long status;       /* HTTP status of the token endpoint; 0 if none */
        char code[64];     /* "invalid_client", "invalid_request"...; "" if none */
        char message[512]; /* what failed, for logs and reports */
};

struct auth;
struct auth_waiter;

/* A token is ready (error == 0: call auth_token_get() again now) or could not be had
 * (f says why). Called from the loop, never from inside auth_token_get(). */
typedef void (*auth_ready_fn)(struct auth_waiter *w, int error, const struct auth_failure *f,
                              void *userdata);

/* Embedded in the caller's struct; all fields private. */
struct auth_waiter {
        struct auth_waiter *prev, *next;
        void *slot;
        auth_ready_fn ready;
        void *userdata;
};

/* loop and http are borrowed and must outlive the auth. Returns 0, -ENOMEM, -EINVAL (a
 * method that needs a tenant, client id or file lacks it; or no cloud audiences). */
int auth_new(struct ev_loop *loop, struct http *http, const struct auth_conf *conf, struct auth **ret);
/* Wipes every token; waiters are dropped without a call. Accepts NULL; returns NULL. */
struct auth *auth_free(struct auth *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct auth *, auth_free);

/* True if audience is one the cloud names (ARM, Key Vault, Managed HSM). */
bool auth_audience_known(const struct auth *a, const char *audience);

/* Asks for a token for audience. Returns
 *   1: *ret_authorization is the Authorization value ("Bearer ..."), borrowed until control
 *      returns to the loop, and *ret_generation (optional) identifies the token (for
 *      auth_token_rejected());
 *   0: a token is being fetched: w is queued and ready will be called once;
 *   -EPERM: the audience is not one of the cloud's; -ENOMEM.
 * w must not be queued already. */
int auth_token_get(struct auth *a, const char *audience, struct auth_waiter *w, auth_ready_fn ready,
                   void *userdata, const char **ret_authorization, uint64_t *ret_generation);
/* Takes w out of its queue (nothing happens if it is not queued). */
void auth_waiter_cancel(struct auth_waiter *w);
/* A server answered 401 to the token of that generation: it is dropped (unless a newer
 * one has replaced it already), so the next auth_token_get() fetches a fresh one. */
void auth_token_rejected(struct auth *a, const char *audience, uint64_t generation);

struct auth_stats {
        uint64_t fetches;  /* token requests sent */
        uint64_t failures; /* token requests that failed */
        uint64_t rejected; /* tokens dropped after a 401 */
};

void auth_get_stats(const struct auth *a, struct auth_stats *ret);

/* Resolves the client secret file as described above and reads it: the file must be a
 * regular file, not readable by others, at most AUTH_SECRET_FILE_MAX bytes; trailing
 * whitespace is dropped. On success *ret holds the secret (wipe with buf_done_secret()).
 * Returns 0 or -errno with a message in f (no secret in it). Exposed for tests. */
int auth_read_client_secret(const char *file, struct buf *ret, struct auth_failure *f);
