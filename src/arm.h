/* SPDX-License-Identifier: MIT */
#pragma once

/* Azure Resource Manager requests: URLs with their api-version, GET, PUT, PATCH, paged
 * lists, and long-running operations followed to a terminal state (README §1, §3-5, §7).
 * Bodies go to the caller undecoded: arm_decode.c turns them into model structs. The only
 * JSON read here is an operation's status and a resource's provisioningState. */

#include "azure.h"

/* api-versions (README §1, §3, §4, §5). */
#define ARM_API_MONGO_CLUSTERS      "2025-09-01" /* default; 2026-06-01 is the newer stable */
#define ARM_API_MONGO_CLUSTERS_2026 "2026-06-01"
#define ARM_API_KEY_VAULTS          "2026-04-01"
#define ARM_API_IDENTITIES          "2023-01-31"
#define ARM_API_ROLE_ASSIGNMENTS    "2022-04-01"

/* "{endpoint}{path}?api-version={api_version}" (endpoint without its trailing '/'; path
 * starts with '/', as ARM ids do; if path already has a query, "&api-version="). *ret is a
 * new string. Returns 0, -EINVAL (empty argument, path without '/'), -ENOMEM. */
int arm_url(const char *endpoint, const char *path, const char *api_version, char **ret);
/* mongoClusters of a subscription, or of one resource group when resource_group is set
 * (MongoClusters_List / _ListByResourceGroup). */
int arm_url_clusters(const char *endpoint, const char *subscription, const char *resource_group,
                     const char *api_version, char **ret);
/* Role assignments at scope (an ARM id): with principal_id, $filter=assignedTo('{id}')
 * (transitive through groups); without, $filter=atScope() (README §5). */
int arm_url_role_assignments(const char *endpoint, const char *scope, const char *principal_id, char **ret);

/* One request each, on struct azure (see azure_call_start() for ownership and errors). */
int arm_get(struct azure *az, const char *url, azure_done_fn done, void *userdata, struct azure_call **ret);
int arm_put(struct azure *az, const char *url, const char *body, size_t body_len, azure_done_fn done,
            void *userdata, struct azure_call **ret);
int arm_patch(struct azure *az, const char *url, const char *body, size_t body_len, azure_done_fn done,
              void *userdata, struct azure_call **ret);
/* A paged list (see azure_list_start()). */
int arm_list(struct azure *az, const char *url, azure_page_fn page, azure_list_done_fn done, void *userdata,
             struct azure_list **ret);

/* ---- long-running operations ------------------------------------------------------ */

enum arm_lro_status {
        ARM_LRO_SUCCEEDED,
        ARM_LRO_FAILED,
        ARM_LRO_CANCELED,
        _ARM_LRO_STATUS_MAX,
        _ARM_LRO_STATUS_INVALID = -EINVAL, /* any other status: still running */
};

const char *arm_lro_status_to_string(enum arm_lro_status s);
/* Case-insensitive; unknown statuses ("InProgress", "Updating", "Accepted"...) give
 * _ARM_LRO_STATUS_INVALID, which means running. */
enum arm_lro_status arm_lro_status_from_string(const char *s);

/* What identifies an operation: enough to follow it, and to resume following it after a
 * restart (store these strings, then call arm_lro_poll() with them). */
struct arm_lro_urls {
        enum http_method method; /* of the request that started it (PUT and PATCH end with a GET) */
        char *resource;          /* the resource's URL (with api-version); owned */
        char *async_operation;   /* Azure-AsyncOperation; owned; NULL if none */
        char *location;          /* Location; owned; NULL if none */
        bool has_retry_after;    /* the initial answer's Retry-After, for the first poll */
        usec_t retry_after_usec;
};

void arm_lro_urls_done(struct arm_lro_urls *u);

/* Looks at the first answer of a PUT/PATCH/DELETE (README §7.1). Returns 1 with *ret
 * filled when the operation must be followed (an Azure-AsyncOperation or Location header,
 * or a 200/201 body whose provisioningState is not terminal); 0 when it is already over
 * (nothing filled: the answer's body is the result); the answer's error when it failed;
 * -ENOMEM. */
int arm_lro_begin(enum http_method method, const char *resource_url, const struct azure_result *initial,
                  struct arm_lro_urls *ret);

struct arm_lro_conf {
        usec_t deadline_usec; /* total time to follow it; 0 = ARM_LRO_DEADLINE_USEC_DEFAULT */
        usec_t poll_min_usec; /* shortest delay between polls, whatever Retry-After says, and the
                               * start of our own backoff without one; 0 = ARM_LRO_POLL_MIN_USEC_DEFAULT */
        usec_t poll_max_usec; /* 0 = ARM_LRO_POLL_MAX_USEC_DEFAULT; also caps Retry-After */
};

#define ARM_LRO_DEADLINE_USEC_DEFAULT (30 * USEC_PER_MINUTE)
#define ARM_LRO_POLL_MIN_USEC_DEFAULT                                                                       \
        (1 * USEC_PER_SEC) /* ARM's usual Retry-After; the JS SDK waits 2 s without one */
#define ARM_LRO_POLL_MAX_USEC_DEFAULT (60 * USEC_PER_SEC)

struct arm_lro_result {
        int error;                  /* 0: a terminal status came (see status); -ETIME: the deadline
                                     * passed while it still ran (resume later from the same URLs);
                                     * other -errno: a poll failed (last says how) */
        enum arm_lro_status status; /* when error == 0 */
        char *status_string;        /* the status as Azure wrote it; owned; NULL if none */
        char *error_code;           /* the operation's own error (Failed, Canceled); owned; NULL if none */
        char *error_message;        /* owned; NULL if none */
        struct azure_result last;   /* the last answer: on success the resource (the final GET after an
                                     * Azure-AsyncOperation for PUT/PATCH, the terminal Location answer,
                                     * or the resource polled); owned */
        unsigned polls;
};

void arm_lro_result_done(struct arm_lro_result *r);

struct arm_lro;
/* Called once, from the loop; res borrowed for the call (take what you need). */
typedef void (*arm_lro_done_fn)(struct arm_lro *op, struct arm_lro_result *res, void *userdata);

/* Follows the operation: Azure-AsyncOperation when given (200 with {"status"}, then a GET
 * of the resource for PUT and PATCH), else Location (202 = running, may move; other 2xx =
 * done; 4xx = Failed), else the resource until its provisioningState is terminal. Polls
 * after Retry-After when the answer has one (capped by poll_max and the deadline), else
 * after a growing jittered delay (poll_min .. poll_max). urls is copied. Returns 0,
 * -ENOMEM, -EINVAL (no URL to follow). */
int arm_lro_poll(struct azure *az, const struct arm_lro_urls *urls, const struct arm_lro_conf *conf,
                 arm_lro_done_fn done, void *userdata, struct arm_lro **ret);
void arm_lro_cancel(struct arm_lro *op);

/* Pure decoders. An OperationStatusResult: {"status": "...", "error": {"code", "message"}}.
 * Returns 0 (*ret_status set; code and message when present, else NULL), -EBADMSG, -ENOMEM. */
int arm_operation_status_decode(const char *body, size_t len, char **ret_status, char **ret_code,
                                char **ret_message);
/* properties.provisioningState of a resource: 0 with *ret (NULL when absent), -EBADMSG, -ENOMEM. */
int arm_provisioning_state_decode(const char *body, size_t len, char **ret);
