/* SPDX-License-Identifier: MIT */
/* Azure calls: pacing gate, token, one HTTP attempt after another until the answer is final,
 * the error envelope decoded; and the nextLink pager. It must not send a token to a host
 * or audience the cloud config does not name, must not repeat a write that may have
 * reached Azure (except on 429/503 with Retry-After), and logs only at debug level. */

#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>

#include "auth_decode.h"
#include "azure.h"
#include "hashmap.h"
#include "json_util.h"
#include "log.h"
#include "mem.h"
#include "strtable.h"
#include "strv.h"
#include "timeutil.h"

enum call_state {
        CALL_PACING,  /* in a pace queue */
        CALL_READY,   /* let go by the pacer, in the ready list */
        CALL_TOKEN,   /* waiting for auth */
        CALL_SENDING, /* HTTP request in flight */
        CALL_DELAY,   /* waiting before the next attempt */
};

struct pace_queue {
        char *key;                       /* owned */
        const struct pacer_limit *limit; /* borrowed from struct azure */
        struct azure_call *head, *tail;  /* calls in CALL_PACING, FIFO; borrowed */
};

struct azure_call {
        struct azure *az;
        enum http_method method;
        enum azure_audience audience;
        enum azure_kind kind;
        char *url; /* owned */
        char host[256];
        void *body; /* owned, copied from the request */
        size_t body_len, body_max;
        usec_t timeout_usec;

        struct pace_queue *pq;        /* borrowed (owned by az->queues) */
        const char *remaining_header; /* static; NULL for Key Vault */
        bool token_taken;             /* a pacer token is held */
        int pace_error;               /* the pacer could not take this call (-ENOMEM) */

        enum call_state state;
        struct azure_call *prev, *next;         /* in pq (PACING) or az->ready (READY) */
        struct azure_call *all_prev, *all_next; /* in az->calls */
        struct auth_waiter waiter;
        uint64_t generation;      /* of the token sent */
        struct http_request *req; /* borrowed handle */
        ev_timer timer;           /* retry delay; data = this */
        unsigned attempts;
        usec_t first_at, prev_delay;
        bool auth_retried;

        struct azure_result result;
        azure_done_fn done;
        void *userdata;
};

struct azure {
        struct ev_loop *loop; /* borrowed */
        struct http *http;    /* borrowed */
        struct auth *auth;    /* borrowed */
        struct cloud cloud;   /* owned copy */
        char arm_host[256];
        char *tenant_id; /* owned; NULL = no tenant check of challenges */
        unsigned max_retries;
        struct backoff_conf backoff;
        bool no_pacing;
        struct pacer_limit arm_reads, arm_writes, arm_deletes, key_vault;

        struct pacer *pacer;                        /* owned */
        struct hashmap *queues;                     /* owned: key -> struct pace_queue, owned */
        ev_timer pace_timer;                        /* data = this */
        struct azure_call *ready_head, *ready_tail; /* borrowed */
        struct azure_call *calls;                   /* every call; owned */
        bool pumping;

        uint64_t random_state;
        struct azure_stats stats;
};

static const char *const audience_table[_AZURE_AUDIENCE_MAX] = {
        [AZURE_AUDIENCE_ARM] = "arm",
        [AZURE_AUDIENCE_VAULT] = "vault",
        [AZURE_AUDIENCE_HSM] = "managed-hsm",
};

static const char *const kind_table[_AZURE_KIND_MAX] = {
        [AZURE_KIND_ARM_RESOURCE] = "arm-resource",
        [AZURE_KIND_ARM_LIST] = "arm-list",
        [AZURE_KIND_ARM_OPERATION] = "arm-operation",
        [AZURE_KIND_KEY_VAULT] = "key-vault",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(azure_audience, enum azure_audience, audience_table)
DEFINE_STRING_TABLE_LOOKUP_TO_STRING(azure_kind, enum azure_kind, kind_table)

static size_t kind_body_max(enum azure_kind k) {
        switch (k) {
        case AZURE_KIND_ARM_LIST:
                return AZURE_BODY_MAX_ARM_LIST;
        case AZURE_KIND_ARM_OPERATION:
                return AZURE_BODY_MAX_ARM_OPERATION;
        case AZURE_KIND_KEY_VAULT:
                return AZURE_BODY_MAX_KEY_VAULT;
        default:
                return AZURE_BODY_MAX_ARM_RESOURCE;
        }
}

/* ---- results and error envelopes ------------------------------------------------- */

void azure_result_done(struct azure_result *r) {
        buf_done(&r->body);
        mem_free(r->error_code);
        mem_free(r->error_message);
        mem_free(r->request_id);
        mem_free(r->correlation_id);
        mem_free(r->location);
        mem_free(r->async_operation);
        *r = (struct azure_result){};
}

void azure_result_move(struct azure_result *r, struct azure_result *ret) {
        *ret = *r;
        *r = (struct azure_result){};
}

int azure_status_to_errno(long status) {
        if (status >= 200 && status <= 299)
                return 0;
        switch (status) {
        case 400:
                return -EINVAL;
        case 401:
        case 403:
                return -EACCES;
        case 404:
        case 410:
                return -ENOENT;
        case 409:
                return -EBUSY;
        case 412:
                return -ESTALE;
        case 429:
                return -EAGAIN;
        default:
                return status >= 500 && status <= 599 ? -EIO : -EPROTO;
        }
}

int azure_error_decode(const char *body, size_t len, char **ret_code, char **ret_message) {
        _cleanup_json_ struct json_object *root = NULL;
        _cleanup_free_ char *c = NULL, *m = NULL;
        struct json_object *e;
        const char *code = NULL, *message = NULL, *s;
        int r;

        r = json_parse_object(body, len, &root);
        if (r < 0)
                return r == -ENOMEM ? r : -EBADMSG;
        if (json_get_string(root, "error", &s) == JSON_FIELD_PRESENT)
                /* A token endpoint's envelope. */
                return auth_decode_error(body, len, ret_code, ret_message);
        if (json_get_object(root, "error", &e) != JSON_FIELD_PRESENT)
                return -EBADMSG;

        /* Key Vault nests the reason: {"code":"Forbidden", "innererror":{"code":
         * "ForbiddenByRbac"}} (README §2.3). The innermost code says most. Bounded depth.
         * Members of another type are passed over. */
        for (unsigned depth = 0; depth < 16; depth++) {
                if (json_get_string(e, "code", &s) == JSON_FIELD_PRESENT)
                        code = s;
                if (!message && json_get_string(e, "message", &s) == JSON_FIELD_PRESENT)
                        message = s;
                if (json_get_object(e, "innererror", &e) != JSON_FIELD_PRESENT)
                        break;
        }
        if (!code && !message)
                return -EBADMSG;
        if (ret_code && code && !(c = mem_strdup(code)))
                return -ENOMEM;
        if (ret_message && message && !(m = mem_strdup(message)))
                return -ENOMEM;
        if (ret_code)
                *ret_code = TAKE_PTR(c);
        if (ret_message)
                *ret_message = TAKE_PTR(m);
        return 0;
}

/* ---- helpers ---------------------------------------------------------------------- */

static usec_t az_now(const struct azure *az) {
        return (usec_t)(ev_now(az->loop) * (double)USEC_PER_SEC);
}

static uint64_t az_random(struct azure *az) {
        uint64_t x = az->random_state;
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        az->random_state = x;
        return x * 2685821657736338717ULL;
}

static const char *audience_string(const struct azure *az, enum azure_audience a) {
        switch (a) {
        case AZURE_AUDIENCE_ARM:
                return az->cloud.arm_audience;
        case AZURE_AUDIENCE_VAULT:
                return az->cloud.vault_audience;
        case AZURE_AUDIENCE_HSM:
                return az->cloud.hsm_audience;
        default:
                return NULL;
        }
}

static bool host_under_suffixes(const char *host, char *const *suffixes) {
        size_t nh = strlen(host);

        STRV_FOREACH (s, suffixes) {
                size_t ns = strlen(*s);
                if (nh > ns + 1 && host[nh - ns - 1] == '.' && strcasecmp(host + nh - ns, *s) == 0)
                        return true;
        }
        return false;
}

/* The one place that decides where a token may go. */
static bool host_allowed(const struct azure *az, enum azure_audience a, const char *host) {
        switch (a) {
        case AZURE_AUDIENCE_ARM:
                return strcasecmp(host, az->arm_host) == 0;
        case AZURE_AUDIENCE_VAULT:
                return host_under_suffixes(host, az->cloud.vault_suffixes);
        case AZURE_AUDIENCE_HSM:
                return host_under_suffixes(host, az->cloud.hsm_suffixes);
        default:
                return false;
        }
}

/* ARM throttles per subscription and class (README §7.3); Key Vault per vault. */
static int pace_key(struct azure *az, struct azure_call *c, char *buf, size_t len,
                    const struct pacer_limit **ret_limit) {
        const char *path, *sub, *cls;
        bool tenant;
        size_t n;

        if (c->audience != AZURE_AUDIENCE_ARM) {
                *ret_limit = &az->key_vault;
                c->remaining_header = NULL;
                return snprintf(buf, len, "kv/%s", c->host) < (int)len ? 0 : -EINVAL;
        }

        path = strstr(c->url, "://");
        path = path ? strchr(path + 3, '/') : NULL;
        sub = path ? startswith_no_case(path, "/subscriptions/") : NULL;
        n = sub ? strcspn(sub, "/?#") : 0;
        tenant = n == 0 || n > 64;

        switch (c->method) {
        case HTTP_GET:
                cls = "reads";
                *ret_limit = &az->arm_reads;
                c->remaining_header = tenant ? "x-ms-ratelimit-remaining-tenant-reads"
                                             : "x-ms-ratelimit-remaining-subscription-reads";
                break;
        case HTTP_DELETE:
                cls = "deletes";
                *ret_limit = &az->arm_deletes;
                c->remaining_header = tenant ? "x-ms-ratelimit-remaining-tenant-deletes"
                                             : "x-ms-ratelimit-remaining-subscription-deletes";
                break;
        default:
                cls = "writes";
                *ret_limit = &az->arm_writes;
                c->remaining_header = tenant ? "x-ms-ratelimit-remaining-tenant-writes"
                                             : "x-ms-ratelimit-remaining-subscription-writes";
        }
        if (tenant)
                return snprintf(buf, len, "arm/tenant/%s", cls) < (int)len ? 0 : -EINVAL;
        if (snprintf(buf, len, "arm/%.*s/%s", (int)n, sub, cls) >= (int)len)
                return -EINVAL;
        for (char *p = buf; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p += 32;
        return 0;
}

static int64_t remaining_count(const struct http_response *resp, const char *header) {
        const char *v = header ? http_response_header(resp, header) : NULL;
        char *end;
        long long n;

        if (!v || !*v)
                return -1;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno != 0 || *end != 0 || n < 0)
                return -1;
        return n;
}

/* ---- the pacing gate -------------------------------------------------------------- */

static void pace_schedule(struct azure *az, usec_t wait) {
        double in = (double)wait / USEC_PER_SEC;

        if (ev_is_active(&az->pace_timer) && ev_timer_remaining(az->loop, &az->pace_timer) <= in)
                return;
        ev_timer_stop(az->loop, &az->pace_timer);
        ev_timer_set(&az->pace_timer, in, 0.);
        ev_timer_start(az->loop, &az->pace_timer);
}

static void queue_remove(struct azure_call **head, struct azure_call **tail, struct azure_call *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                *head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                *tail = c->prev;
        c->prev = c->next = NULL;
}

static void queue_append(struct azure_call **head, struct azure_call **tail, struct azure_call *c) {
        c->next = NULL;
        c->prev = *tail;
        if (*tail)
                (*tail)->next = c;
        else
                *head = c;
        *tail = c;
}

static void call_enqueue(struct azure_call *c) {
        struct azure *az = c->az;

        if (az->no_pacing) {
                c->state = CALL_READY;
                queue_append(&az->ready_head, &az->ready_tail, c);
        } else {
                c->state = CALL_PACING;
                queue_append(&c->pq->head, &c->pq->tail, c);
        }
        /* From the loop, so that nothing calls back from inside azure_call_start(). */
        pace_schedule(az, 0);
}

static void call_finish(struct azure_call *c);
static void call_fail(struct azure_call *c, int error, const char *format, ...) _printf_(3, 4);
static void call_get_token(struct azure_call *c);

static void on_pace(struct ev_loop *loop, ev_timer *w, int revents) {
        struct azure *az = w->data;
        struct pace_queue *pq;
        const char *key;
        usec_t now = az_now(az), next = USEC_INFINITY;

        /* First move everything the pacer lets go to the ready list, then start those:
         * starting may call back into users, who may add queues or cancel calls. */
        HASHMAP_FOREACH (key, pq, az->queues) {
                while (pq->head) {
                        struct azure_call *c = pq->head;
                        usec_t wait = 0;
                        int r;

                        r = pacer_acquire(az->pacer, key, pq->limit, now, &wait);
                        if (r > 0) {
                                az->stats.paced++;
                                next = MIN(next, wait);
                                break;
                        }
                        queue_remove(&pq->head, &pq->tail, c);
                        if (r < 0)
                                c->pace_error = r; /* -ENOMEM: the call fails below */
                        else
                                c->token_taken = true;
                        c->state = CALL_READY;
                        queue_append(&az->ready_head, &az->ready_tail, c);
                }
        }

        while (az->ready_head) {
                struct azure_call *c = az->ready_head;

                queue_remove(&az->ready_head, &az->ready_tail, c);
                if (c->pace_error < 0)
                        call_fail(c, c->pace_error, "Out of memory");
                else
                        call_get_token(c);
        }
        if (next != USEC_INFINITY)
                pace_schedule(az, next);
}

/* ---- one call --------------------------------------------------------------------- */

static void pacer_give_back(struct azure_call *c, int64_t remaining) {
        if (!c->token_taken)
                return;
        c->token_taken = false;
        pacer_release(c->az->pacer, c->pq->key, c->pq->limit, remaining, az_now(c->az));
}

static void call_free(struct azure_call *c) {
        struct azure *az = c->az;

        switch (c->state) {
        case CALL_PACING:
                if (c->prev || c->pq->head == c)
                        queue_remove(&c->pq->head, &c->pq->tail, c);
                break;
        case CALL_READY:
                if (c->prev || az->ready_head == c)
                        queue_remove(&az->ready_head, &az->ready_tail, c);
                break;
        case CALL_TOKEN:
                auth_waiter_cancel(&c->waiter);
                break;
        case CALL_SENDING:
                if (c->req)
                        http_request_cancel(c->req);
                break;
        case CALL_DELAY:
                break;
        }
        ev_timer_stop(az->loop, &c->timer);
        pacer_give_back(c, -1);
        if (c->all_prev)
                c->all_prev->all_next = c->all_next;
        else
                az->calls = c->all_next;
        if (c->all_next)
                c->all_next->all_prev = c->all_prev;
        azure_result_done(&c->result);
        mem_free(c->url);
        mem_free(c->body);
        mem_free(c);
}

void azure_call_cancel(struct azure_call *c) {
        if (c)
                call_free(c);
}

static void call_finish(struct azure_call *c) {
        struct azure *az = c->az;

        pacer_give_back(c, -1);
        az->stats.calls[c->kind]++;
        if (c->result.error < 0)
                az->stats.failures++;
        c->state = CALL_DELAY; /* nothing to undo in call_free() */
        c->done(c, &c->result, c->userdata);
        call_free(c);
}

static void call_fail(struct azure_call *c, int error, const char *format, ...) _printf_(3, 4);

static void call_fail(struct azure_call *c, int error, const char *format, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);
        c->result.error = error;
        mem_free(c->result.error_message);
        c->result.error_message = mem_strdup(msg); /* NULL on OOM: the errno still says it */
        call_finish(c);
}

static void on_http_done(struct http_request *req, struct http_response *resp, void *userdata);
static void on_token_ready(struct auth_waiter *w, int error, const struct auth_failure *f, void *userdata);

static void call_send(struct azure_call *c, const char *authorization) {
        struct azure *az = c->az;
        struct http_spec spec = {
                .method = c->method,
                .url = c->url,
                .authorization = authorization,
                .body = c->body,
                .body_len = c->body_len,
                .body_max = c->body_max,
                .timeout_usec = c->timeout_usec,
        };
        int r;

        c->attempts++;
        c->result.attempts = c->attempts;
        if (c->attempts == 1)
                c->first_at = az_now(az);
        r = http_request_start(az->http, &spec, on_http_done, c, &c->req);
        if (r < 0) {
                call_fail(c, r, "Cannot start the request: %s", strerror(-r));
                return;
        }
        az->stats.attempts++;
        c->state = CALL_SENDING;
}

static void call_get_token(struct azure_call *c) {
        const char *authorization = NULL;
        int r;

        r = auth_token_get(c->az->auth, audience_string(c->az, c->audience), &c->waiter, on_token_ready, c,
                           &authorization, &c->generation);
        if (r < 0) {
                call_fail(c, r, "No token for audience %s", azure_audience_to_string(c->audience));
                return;
        }
        if (r == 0) {
                c->state = CALL_TOKEN;
                return;
        }
        call_send(c, authorization);
}

static void on_token_ready(struct auth_waiter *w, int error, const struct auth_failure *f, void *userdata) {
        struct azure_call *c = userdata;

        if (error < 0) {
                c->result.status = 0;
                c->result.error = error;
                mem_free(c->result.error_code);
                c->result.error_code = f && f->code[0] ? mem_strdup(f->code) : NULL;
                call_fail(c, error, "Cannot get a token: %s", f ? f->message : strerror(-error));
                return;
        }
        call_get_token(c);
}

static void on_retry_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        call_enqueue(w->data);
}

static char *header_dup(const struct http_response *resp, const char *name) {
        const char *v = http_response_header(resp, name);
        return v ? mem_strdup(v) : NULL;
}

/* Keeps what the answer says in c->result. Returns -ENOMEM if that failed. */
static int result_fill(struct azure_call *c, struct http_response *resp, usec_t now) {
        struct azure_result *res = &c->result;
        const char *ra;
        int r = 0;

        unsigned attempts = res->attempts;
        azure_result_done(res);
        res->attempts = attempts;
        res->status = resp->status;
        if (resp->error < 0) {
                res->error = resp->error;
                if (resp->error_text && *resp->error_text &&
                    !(res->error_message = mem_strdup(resp->error_text)))
                        r = -ENOMEM;
                return r;
        }
        res->error = azure_status_to_errno(resp->status);
        http_response_take_body(resp, &res->body);
        if ((http_response_header(resp, "x-ms-request-id") &&
             !(res->request_id = header_dup(resp, "x-ms-request-id"))) ||
            (http_response_header(resp, "x-ms-correlation-request-id") &&
             !(res->correlation_id = header_dup(resp, "x-ms-correlation-request-id"))) ||
            (http_response_header(resp, "Location") && !(res->location = header_dup(resp, "Location"))) ||
            (http_response_header(resp, "Azure-AsyncOperation") &&
             !(res->async_operation = header_dup(resp, "Azure-AsyncOperation"))))
                r = -ENOMEM;
        ra = http_response_header(resp, "Retry-After");
        if (ra && retry_after_parse(ra, now, &res->retry_after_usec) >= 0)
                res->has_retry_after = true;
        if (res->error < 0 && res->body.len > 0 &&
            azure_error_decode(res->body.data, res->body.len, &res->error_code, &res->error_message) ==
                    -ENOMEM)
                r = -ENOMEM;
        return r;
}

/* Key Vault's 401 challenge (README §2.4): accept it only for an audience this cloud names
 * for vaults or HSMs and whose host covers the vault's host, and only in our tenant.
 * Returns the audience to use, or -EACCES with the reason in the result. */
static int challenge_check(struct azure_call *c, const char *header) {
        struct azure *az = c->az;
        struct auth_challenge ch = {};
        int r;

        if (!header) {
                call_fail(c, -EACCES, "Key Vault answered 401 without a challenge");
                return -EACCES;
        }
        r = auth_decode_challenge(header, &ch);
        if (r < 0 || !ch.resource) {
                auth_challenge_done(&ch);
                if (r == -ENOMEM) {
                        call_fail(c, r, "Out of memory");
                        return r;
                }
                call_fail(c, -EACCES, "Key Vault answered 401 with a challenge that names no resource");
                return -EACCES;
        }
        r = -EACCES;
        for (enum azure_audience a = AZURE_AUDIENCE_VAULT; a <= AZURE_AUDIENCE_HSM; a++) {
                const char *aud = audience_string(az, a);
                if (aud && auth_audience_equal(ch.resource, aud) &&
                    auth_audience_covers_host(aud, c->host) && host_allowed(az, a, c->host)) {
                        r = (int)a;
                        break;
                }
        }
        if (r < 0)
                call_fail(c, -EACCES,
                          "Key Vault %s asks for a token for '%s', which the cloud config does not name for "
                          "it; "
                          "no token sent",
                          c->host, ch.resource);
        else if (az->tenant_id && ch.tenant && strcasecmp(ch.tenant, az->tenant_id) != 0 &&
                 !streq(ch.tenant, "common") && !streq(ch.tenant, "organizations")) {
                call_fail(c, -EACCES, "Key Vault %s belongs to tenant %s, cmkd authenticates in tenant %s",
                          c->host, ch.tenant, az->tenant_id);
                r = -EACCES;
        }
        auth_challenge_done(&ch);
        return r;
}

static void on_http_done(struct http_request *req, struct http_response *resp, void *userdata) {
        struct azure_call *c = userdata;
        struct azure *az = c->az;
        usec_t now = az_now(az), delay;
        int r;

        c->req = NULL;
        pacer_give_back(c, resp->error == 0 ? remaining_count(resp, c->remaining_header) : -1);

        r = result_fill(c, resp, now);
        if (r < 0) {
                call_fail(c, r, "Out of memory");
                return;
        }

        if (resp->status == 429) {
                az->stats.throttled++;
                if (!az->no_pacing)
                        pacer_throttled(az->pacer, c->pq->key,
                                        now + (c->result.has_retry_after ? c->result.retry_after_usec
                                                                         : az->backoff.base_usec));
        }

        if (resp->status == 401) {
                const char *www = http_response_header(resp, "WWW-Authenticate");

                if (c->auth_retried) {
                        call_finish(c); /* -EACCES, with Azure's error code */
                        return;
                }
                if (c->audience != AZURE_AUDIENCE_ARM) {
                        r = challenge_check(c, www);
                        if (r < 0)
                                return;
                        c->audience = (enum azure_audience)r;
                }
                /* The token may have been revoked or expired early: drop it, get a new one,
                 * try once more. */
                auth_token_rejected(az->auth, audience_string(az, c->audience), c->generation);
                c->auth_retried = true;
                az->stats.auth_retries++;
                call_enqueue(c);
                return;
        }

        struct backoff_attempt att = {
                .error = resp->error,
                .status = resp->status,
                .sent = resp->sent,
                .idempotent = c->method == HTTP_GET,
                .has_retry_after = c->result.has_retry_after,
                .retry_after_usec = c->result.retry_after_usec,
                .attempt = c->attempts,
                .max_retries = az->max_retries,
                .elapsed_usec = now - c->first_at,
                .prev_delay_usec = c->prev_delay,
        };
        if (backoff_retry(&az->backoff, &att, az_random(az), &delay)) {
                log_debug("%s %s: %s, attempt %u, retrying in %.1fs", http_method_to_string(c->method),
                          c->host, resp->error < 0 ? strerror(-resp->error) : "server busy or failing",
                          c->attempts, (double)delay / USEC_PER_SEC);
                az->stats.retries++;
                c->prev_delay = delay;
                c->state = CALL_DELAY;
                ev_timer_set(&c->timer, (double)delay / USEC_PER_SEC, 0.);
                ev_timer_start(az->loop, &c->timer);
                return;
        }
        call_finish(c);
}

static struct pace_queue *queue_get(struct azure *az, const char *key, const struct pacer_limit *limit) {
        struct pace_queue *pq = hashmap_get(az->queues, key);

        if (pq)
                return pq;
        pq = new0(struct pace_queue, 1);
        if (!pq)
                return NULL;
        pq->key = mem_strdup(key);
        pq->limit = limit;
        if (!pq->key || hashmap_put(az->queues, key, pq) < 0) {
                mem_free(pq->key);
                mem_free(pq);
                return NULL;
        }
        return pq;
}

int azure_call_start(struct azure *az, const struct azure_request *rq, azure_done_fn done, void *userdata,
                     struct azure_call **ret) {
        const struct pacer_limit *limit;
        struct azure_call *c;
        char key[512];
        int r;

        if (!rq->url || !done || rq->audience < 0 || rq->audience >= _AZURE_AUDIENCE_MAX || rq->kind < 0 ||
            rq->kind >= _AZURE_KIND_MAX || rq->method < 0 || rq->method >= _HTTP_METHOD_MAX)
                return -EINVAL;
        if (!startswith_no_case(rq->url, "https://"))
                return -EPERM;

        c = new0(struct azure_call, 1);
        if (!c)
                return -ENOMEM;
        c->az = az;
        c->method = rq->method;
        c->audience = rq->audience;
        c->kind = rq->kind;
        c->body_max = rq->body_max ?: kind_body_max(rq->kind);
        c->timeout_usec = rq->timeout_usec;
        c->done = done;
        c->userdata = userdata;
        c->state = CALL_DELAY;
        ev_init(&c->timer, on_retry_timer);
        c->timer.data = c;

        r = http_url_host(rq->url, c->host, sizeof c->host);
        if (r < 0)
                goto fail;
        if (!host_allowed(az, rq->audience, c->host) || !audience_string(az, rq->audience)) {
                r = -EPERM;
                goto fail;
        }
        r = -ENOMEM;
        c->url = mem_strdup(rq->url);
        if (!c->url)
                goto fail;
        if (rq->body) {
                c->body = mem_memdup(rq->body, rq->body_len ?: 1);
                if (!c->body)
                        goto fail;
                c->body_len = rq->body_len;
        }
        r = pace_key(az, c, key, sizeof key, &limit);
        if (r < 0)
                goto fail;
        c->pq = queue_get(az, key, limit);
        if (!c->pq) {
                r = -ENOMEM;
                goto fail;
        }

        c->all_next = az->calls;
        if (az->calls)
                az->calls->all_prev = c;
        az->calls = c;
        call_enqueue(c);
        if (ret)
                *ret = c;
        return 0;
fail:
        mem_free(c->url);
        mem_free(c->body);
        mem_free(c);
        return r;
}

/* ---- paging ---------------------------------------------------------------------- */

struct azure_list {
        struct azure *az;
        enum azure_audience audience;
        enum azure_kind kind;
        char host[256];
        azure_page_fn page;
        azure_list_done_fn done;
        void *userdata;
        struct azure_call *call; /* borrowed handle of the page in flight */
        struct hashmap *seen;    /* owned: every URL requested */
        unsigned pages;
};

static void list_free(struct azure_list *l) {
        if (l->call)
                azure_call_cancel(l->call);
        hashmap_free(l->seen);
        mem_free(l);
}

void azure_list_cancel(struct azure_list *l) {
        if (l)
                list_free(l);
}

static void list_end(struct azure_list *l, int error, const struct azure_result *last) {
        static const struct azure_result none = {};

        l->call = NULL;
        l->done(l, error, last ?: &none, l->pages, l->userdata);
        list_free(l);
}

static void on_page(struct azure_call *call, struct azure_result *res, void *userdata);

static int list_request(struct azure_list *l, const char *url) {
        struct azure_request rq = {.method = HTTP_GET, .audience = l->audience, .kind = l->kind, .url = url};
        char host[256];
        int r;

        if (http_url_host(url, host, sizeof host) < 0 || !startswith_no_case(url, "https://") ||
            strcasecmp(host, l->host) != 0)
                return -EPERM;
        if (hashmap_get(l->seen, url))
                return -ELOOP;
        if (l->pages >= AZURE_LIST_PAGES_MAX)
                return -E2BIG;
        r = hashmap_put(l->seen, url, (void *)1);
        if (r < 0)
                return r;
        return azure_call_start(l->az, &rq, on_page, l, &l->call);
}

static void on_page(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct azure_list *l = userdata;
        _cleanup_free_ char *next = NULL;
        int r;

        l->call = NULL;
        if (res->error < 0) {
                list_end(l, res->error, res);
                return;
        }
        l->pages++;
        r = l->page(buf_str(&res->body), res->body.len, l->userdata, &next);
        if (r < 0) {
                list_end(l, r, res);
                return;
        }
        if (!next) {
                list_end(l, 0, res);
                return;
        }
        r = list_request(l, next);
        if (r < 0) {
                log_debug("Stopping a list after %u pages: nextLink refused: %s", l->pages, strerror(-r));
                list_end(l, r, res);
        }
}

int azure_list_start(struct azure *az, enum azure_audience audience, enum azure_kind kind, const char *url,
                     azure_page_fn page, azure_list_done_fn done, void *userdata, struct azure_list **ret) {
        struct azure_list *l;
        int r;

        if (!url || !page || !done)
                return -EINVAL;
        l = new0(struct azure_list, 1);
        if (!l)
                return -ENOMEM;
        *l = (struct azure_list){
                .az = az,
                .audience = audience,
                .kind = kind,
                .page = page,
                .done = done,
                .userdata = userdata,
        };
        r = http_url_host(url, l->host, sizeof l->host);
        if (r < 0)
                goto fail;
        l->seen = hashmap_new(false, NULL);
        if (!l->seen) {
                r = -ENOMEM;
                goto fail;
        }
        r = list_request(l, url);
        if (r < 0)
                goto fail;
        if (ret)
                *ret = l;
        return 0;
fail:
        list_free(l);
        return r;
}

/* ---- the client ------------------------------------------------------------------- */

static void queue_free(void *p) {
        struct pace_queue *pq = p;

        mem_free(pq->key);
        mem_free(pq);
}

int azure_new(struct ev_loop *loop, struct http *http, struct auth *auth, const struct azure_conf *conf,
              struct azure **ret) {
        struct azure *az;
        int r;

        if (!conf->cloud || isempty(conf->cloud->arm_endpoint))
                return -EINVAL;
        az = new0(struct azure, 1);
        if (!az)
                return -ENOMEM;
        az->loop = loop;
        az->http = http;
        az->auth = auth;
        az->max_retries = conf->max_retries;
        az->backoff = conf->backoff;
        if (az->backoff.base_usec == 0)
                az->backoff.base_usec = BACKOFF_BASE_USEC_DEFAULT;
        if (az->backoff.cap_usec == 0)
                az->backoff.cap_usec = BACKOFF_CAP_USEC_DEFAULT;
        if (az->backoff.retry_after_max_usec == 0)
                az->backoff.retry_after_max_usec = BACKOFF_RETRY_AFTER_MAX_USEC_DEFAULT;
        az->no_pacing = conf->no_pacing;
        az->arm_reads = conf->arm_reads.capacity > 0 ? conf->arm_reads : PACER_LIMIT_ARM_READS;
        az->arm_writes = conf->arm_writes.capacity > 0 ? conf->arm_writes : PACER_LIMIT_ARM_WRITES;
        az->arm_deletes = conf->arm_deletes.capacity > 0 ? conf->arm_deletes : PACER_LIMIT_ARM_DELETES;
        az->key_vault = conf->key_vault.capacity > 0 ? conf->key_vault : PACER_LIMIT_KEY_VAULT;
        az->random_state = (uint64_t)(uintptr_t)az ^ (uint64_t)(ev_time() * 1e6) ^ 0xD1B54A32D192ED03ULL;
        if (az->random_state == 0)
                az->random_state = 1;
        ev_init(&az->pace_timer, on_pace);
        az->pace_timer.data = az;

        r = cloud_copy(conf->cloud, &az->cloud);
        if (r < 0)
                goto fail;
        r = http_url_host(az->cloud.arm_endpoint, az->arm_host, sizeof az->arm_host);
        if (r < 0)
                goto fail;
        if (conf->tenant_id && !(az->tenant_id = mem_strdup(conf->tenant_id))) {
                r = -ENOMEM;
                goto fail;
        }
        r = pacer_new(&az->pacer);
        if (r < 0)
                goto fail;
        az->queues = hashmap_new(false, queue_free);
        if (!az->queues) {
                r = -ENOMEM;
                goto fail;
        }
        *ret = az;
        return 0;
fail:
        azure_free(az);
        return r;
}

struct azure *azure_free(struct azure *az) {
        if (!az)
                return NULL;
        while (az->calls)
                call_free(az->calls);
        ev_timer_stop(az->loop, &az->pace_timer);
        hashmap_free(az->queues);
        pacer_free(az->pacer);
        cloud_done(&az->cloud);
        mem_free(az->tenant_id);
        mem_free(az);
        return NULL;
}

struct ev_loop *azure_get_loop(const struct azure *az) {
        return az->loop;
}

const struct cloud *azure_get_cloud(const struct azure *az) {
        return &az->cloud;
}

void azure_get_stats(const struct azure *az, struct azure_stats *ret) {
        struct http_stats hs;
        struct auth_stats as;

        *ret = az->stats;
        http_get_stats(az->http, &hs);
        auth_get_stats(az->auth, &as);
        ret->bytes_sent = hs.bytes_sent;
        ret->bytes_received = hs.bytes_received;
        ret->token_fetches = as.fetches;
        ret->token_failures = as.failures;
}
