/* SPDX-License-Identifier: MIT */
#pragma once

/* Authenticated Azure requests: a token for the right audience, pacing per subscription or
 * vault, retries with backoff, the Key Vault 401 challenge, Azure's error envelope decoded
 * into a result. Also the pager that follows nextLink. Endpoints and audiences come from the
 * struct cloud given: a request only goes to a host the cloud names for its audience (ARM:
 * the ARM endpoint's host; Key Vault / Managed HSM: a host under one of the cloud's
 * suffixes), so no token ever reaches a host the config does not name. */

#include <ev.h>

#include "auth.h"
#include "backoff.h"
#include "buf.h"
#include "conf.h"
#include "http.h"
#include "pacer.h"

enum azure_audience {
        AZURE_AUDIENCE_ARM,
        AZURE_AUDIENCE_VAULT,
        AZURE_AUDIENCE_HSM,
        _AZURE_AUDIENCE_MAX,
        _AZURE_AUDIENCE_INVALID = -EINVAL,
};

/* What is asked for: sets the answer's size cap and the statistics bucket. */
enum azure_kind {
        AZURE_KIND_ARM_RESOURCE,  /* one ARM resource, GET/PUT/PATCH answer: 1 MiB */
        AZURE_KIND_ARM_LIST,      /* an ARM list page: 8 MiB */
        AZURE_KIND_ARM_OPERATION, /* an LRO status: 256 KiB */
        AZURE_KIND_KEY_VAULT,     /* a Key Vault / Managed HSM answer: 256 KiB */
        _AZURE_KIND_MAX,
        _AZURE_KIND_INVALID = -EINVAL,
};

#define AZURE_BODY_MAX_ARM_RESOURCE  (1024 * 1024)
#define AZURE_BODY_MAX_ARM_LIST      (8 * 1024 * 1024)
#define AZURE_BODY_MAX_ARM_OPERATION (256 * 1024)
#define AZURE_BODY_MAX_KEY_VAULT     (256 * 1024)

/* A list stops after this many pages (a nextLink loop, or a runaway server). */
#define AZURE_LIST_PAGES_MAX 10000u

const char *azure_audience_to_string(enum azure_audience a);
const char *azure_kind_to_string(enum azure_kind k);

struct azure_conf {
        const struct cloud *cloud; /* copied */
        const char *tenant_id; /* a Key Vault challenge naming another tenant is refused; NULL = no check */
        unsigned max_retries;  /* retries after the first attempt */
        struct backoff_conf backoff; /* zeros = BACKOFF_*_DEFAULT */
        bool no_pacing;              /* tests only: send without pacing */
        /* Pacing limits; a zero capacity = the PACER_LIMIT_* default. */
        struct pacer_limit arm_reads, arm_writes, arm_deletes, key_vault;
};

struct azure;
struct azure_call;

struct azure_result {
        int error;             /* 0 for a 2xx answer; else -errno, see azure_status_to_errno() and
                                * http.h for transport failures; -EPERM for a host or audience the
                                * cloud does not name; -EACCES for a refused or unusable challenge */
        long status;           /* HTTP status of the last answer; 0 if none */
        struct buf body;       /* the last answer's body, also for errors; owned */
        char *error_code;      /* innermost error code of Azure's error envelope; NULL if none */
        char *error_message;   /* its message (the outermost that has one); NULL if none */
        char *request_id;      /* x-ms-request-id; NULL if none */
        char *correlation_id;  /* x-ms-correlation-request-id; NULL if none */
        char *location;        /* Location header (LRO); NULL if none */
        char *async_operation; /* Azure-AsyncOperation header (LRO); NULL if none */
        bool has_retry_after;
        usec_t retry_after_usec;
        unsigned attempts; /* HTTP attempts made */
};

/* Frees the contents (wiping nothing: results carry no secrets). */
void azure_result_done(struct azure_result *r);
/* Moves r into *ret (r is left empty). */
void azure_result_move(struct azure_result *r, struct azure_result *ret);

/* Status -> errno summary: 2xx 0; 400 -EINVAL; 401, 403 -EACCES; 404, 410 -ENOENT;
 * 409 -EBUSY; 412 -ESTALE; 429 -EAGAIN; 5xx -EIO; anything else -EPROTO. */
int azure_status_to_errno(long status);

/* Decodes Azure's error envelopes (pure): ARM / Key Vault {"error":{"code","message",
 * "innererror":{"code",...}}} (innermost code wins; ARM's "details" are not followed), and
 * token endpoints {"error":"...","error_description":"..."}. Either ret may be NULL.
 * Returns 0, -EBADMSG (no envelope), -ENOMEM. */
int azure_error_decode(const char *body, size_t len, char **ret_code, char **ret_message);

/* Called once, from the loop, with the result borrowed for the duration of the call (take
 * what you need with azure_result_move() or buf moves). The call is gone afterwards. */
typedef void (*azure_done_fn)(struct azure_call *call, struct azure_result *res, void *userdata);

struct azure_request {
        enum http_method method;
        enum azure_audience audience;
        enum azure_kind kind;
        const char *url;  /* absolute https:// URL on a host the cloud names */
        const void *body; /* copied; NULL = none */
        size_t body_len;
        size_t body_max;     /* 0 = by kind */
        usec_t timeout_usec; /* per attempt; 0 = http's default */
};

/* loop, http and auth are borrowed and must outlive the azure. Returns 0, -ENOMEM,
 * -EINVAL (no cloud or no ARM endpoint). */
int azure_new(struct ev_loop *loop, struct http *http, struct auth *auth, const struct azure_conf *conf,
              struct azure **ret);
/* Ends every call without calling back. Accepts NULL; returns NULL. */
struct azure *azure_free(struct azure *az);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct azure *, azure_free);

struct ev_loop *azure_get_loop(const struct azure *az);
const struct cloud *azure_get_cloud(const struct azure *az);

/* Starts a request: paced, authenticated, retried per backoff.h (GETs are idempotent;
 * PUT/PATCH/POST/DELETE are retried only when they surely did not reach Azure or on
 * 429/503 with Retry-After), one token refresh after a 401 (for Key Vault only when the
 * challenge names this cloud's vault or HSM audience and covers the host). done is called
 * exactly once unless azure_call_cancel() comes first, never from inside this function.
 * *ret (optional) is borrowed until then. Returns 0, -ENOMEM, -EINVAL (bad request),
 * -EPERM (host not named by the cloud for that audience); on failure done is never called. */
int azure_call_start(struct azure *az, const struct azure_request *rq, azure_done_fn done, void *userdata,
                     struct azure_call **ret);
void azure_call_cancel(struct azure_call *c);

/* ---- paging ---------------------------------------------------------------------- */

struct azure_list;

/* One page's body (borrowed). Decode it and return the page's nextLink in *ret_next_link
 * (a new string, or NULL on the last page). A negative return stops the list with that
 * error (e.g. -EBADMSG). */
typedef int (*azure_page_fn)(const char *body, size_t len, void *userdata, char **ret_next_link);
/* The list ended: error 0 after the last page, else why it stopped (a page's failure,
 * with last describing that answer; -ELOOP for a nextLink seen before; -E2BIG past
 * AZURE_LIST_PAGES_MAX; -EPERM for a nextLink on another host; a page_fn error). */
typedef void (*azure_list_done_fn)(struct azure_list *l, int error, const struct azure_result *last,
                                   unsigned pages, void *userdata);

/* GETs url, then every nextLink as given (absolute; it must be on url's host), each page
 * once, handing each body to page. Empty pages are fine. Returns 0, -ENOMEM, -EINVAL, -EPERM. */
int azure_list_start(struct azure *az, enum azure_audience audience, enum azure_kind kind, const char *url,
                     azure_page_fn page, azure_list_done_fn done, void *userdata, struct azure_list **ret);
void azure_list_cancel(struct azure_list *l);

/* ---- statistics -------------------------------------------------------------------- */

struct azure_stats {
        uint64_t calls[_AZURE_KIND_MAX]; /* finished calls, by kind */
        uint64_t attempts;               /* HTTP requests sent (calls + retries + challenge repeats) */
        uint64_t retries;
        uint64_t throttled;                     /* 429 answers received */
        uint64_t auth_retries;                  /* repeats after a 401 */
        uint64_t failures;                      /* calls that ended with an error */
        uint64_t paced;                         /* times a request waited for the pacer */
        uint64_t bytes_sent, bytes_received;    /* from http */
        uint64_t token_fetches, token_failures; /* from auth */
};

void azure_get_stats(const struct azure *az, struct azure_stats *ret);
