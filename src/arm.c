/* SPDX-License-Identifier: MIT */
/* ARM requests and long-running operations on top of azure.c. It must not decode
 * resources (arm_decode.c does), nor follow an operation past its deadline, nor follow a
 * URL to a host other than the ARM endpoint's (azure.c refuses those). */

#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>

#include "arm.h"
#include "log.h"
#include "mem.h"

/* ---- URLs ------------------------------------------------------------------------- */

int arm_url(const char *endpoint, const char *path, const char *api_version, char **ret) {
        struct buf b;
        size_t n;
        int r;

        if (isempty(endpoint) || isempty(path) || isempty(api_version) || path[0] != '/')
                return -EINVAL;
        n = strlen(endpoint);
        while (n > 0 && endpoint[n - 1] == '/')
                n--;
        buf_init(&b, 0);
        r = buf_printf(&b, "%.*s%s%sapi-version=", (int)n, endpoint, path, strchr(path, '?') ? "&" : "?");
        if (r >= 0)
                r = http_url_escape(&b, api_version);
        if (r < 0) {
                buf_done(&b);
                return r;
        }
        *ret = buf_steal(&b);
        return *ret ? 0 : -ENOMEM;
}

int arm_url_clusters(const char *endpoint, const char *subscription, const char *resource_group,
                     const char *api_version, char **ret) {
        struct buf p;
        int r;

        if (isempty(subscription))
                return -EINVAL;
        buf_init(&p, 0);
        r = buf_puts(&p, "/subscriptions/");
        if (r >= 0)
                r = http_url_escape(&p, subscription);
        if (r >= 0 && resource_group) {
                r = buf_puts(&p, "/resourceGroups/");
                if (r >= 0)
                        r = http_url_escape(&p, resource_group);
        }
        if (r >= 0)
                r = buf_puts(&p, "/providers/Microsoft.DocumentDB/mongoClusters");
        if (r >= 0)
                r = arm_url(endpoint, buf_str(&p), api_version, ret);
        buf_done(&p);
        return r;
}

int arm_url_role_assignments(const char *endpoint, const char *scope, const char *principal_id, char **ret) {
        struct buf p;
        int r;

        if (isempty(scope) || scope[0] != '/')
                return -EINVAL;
        buf_init(&p, 0);
        /* README §5: SDKs do not encode the filter; we do, ARM decodes it. */
        r = buf_printf(&p, "%s%sproviders/Microsoft.Authorization/roleAssignments?$filter=", scope,
                       endswith(scope, "/") ? "" : "/");
        if (r >= 0) {
                if (principal_id) {
                        _cleanup_free_ char *f = NULL;
                        size_t n = strlen(principal_id) + 16;
                        f = mem_malloc(n);
                        if (!f)
                                r = -ENOMEM;
                        else {
                                snprintf(f, n, "assignedTo('%s')", principal_id);
                                r = http_url_escape(&p, f);
                        }
                } else
                        r = http_url_escape(&p, "atScope()");
        }
        if (r >= 0)
                r = arm_url(endpoint, buf_str(&p), ARM_API_ROLE_ASSIGNMENTS, ret);
        buf_done(&p);
        return r;
}

/* ---- requests --------------------------------------------------------------------- */

int arm_get(struct azure *az, const char *url, azure_done_fn done, void *userdata, struct azure_call **ret) {
        struct azure_request rq = {
                .method = HTTP_GET,
                .audience = AZURE_AUDIENCE_ARM,
                .kind = AZURE_KIND_ARM_RESOURCE,
                .url = url,
        };
        return azure_call_start(az, &rq, done, userdata, ret);
}

static int arm_write(struct azure *az, enum http_method m, const char *url, const char *body,
                     size_t body_len, azure_done_fn done, void *userdata, struct azure_call **ret) {
        struct azure_request rq = {
                .method = m,
                .audience = AZURE_AUDIENCE_ARM,
                .kind = AZURE_KIND_ARM_RESOURCE,
                .url = url,
                .body = body,
                .body_len = body_len,
        };
        if (!body)
                return -EINVAL;
        return azure_call_start(az, &rq, done, userdata, ret);
}

int arm_put(struct azure *az, const char *url, const char *body, size_t body_len, azure_done_fn done,
            void *userdata, struct azure_call **ret) {
        return arm_write(az, HTTP_PUT, url, body, body_len, done, userdata, ret);
}

int arm_patch(struct azure *az, const char *url, const char *body, size_t body_len, azure_done_fn done,
              void *userdata, struct azure_call **ret) {
        return arm_write(az, HTTP_PATCH, url, body, body_len, done, userdata, ret);
}

int arm_list(struct azure *az, const char *url, azure_page_fn page, azure_list_done_fn done, void *userdata,
             struct azure_list **ret) {
        return azure_list_start(az, AZURE_AUDIENCE_ARM, AZURE_KIND_ARM_LIST, url, page, done, userdata, ret);
}

/* ---- decoders --------------------------------------------------------------------- */

static const char *const lro_status_table[_ARM_LRO_STATUS_MAX] = {
        [ARM_LRO_SUCCEEDED] = "Succeeded",
        [ARM_LRO_FAILED] = "Failed",
        [ARM_LRO_CANCELED] = "Canceled",
};

const char *arm_lro_status_to_string(enum arm_lro_status s) {
        return s >= 0 && s < _ARM_LRO_STATUS_MAX ? lro_status_table[s] : NULL;
}

enum arm_lro_status arm_lro_status_from_string(const char *s) {
        if (!s)
                return _ARM_LRO_STATUS_INVALID;
        for (int i = 0; i < _ARM_LRO_STATUS_MAX; i++)
                if (strcasecmp(s, lro_status_table[i]) == 0)
                        return (enum arm_lro_status)i;
        /* Some services write "Cancelled". */
        if (strcasecmp(s, "Cancelled") == 0)
                return ARM_LRO_CANCELED;
        return _ARM_LRO_STATUS_INVALID;
}

static struct json_object *parse_object(const char *body, size_t len) {
        struct json_tokener *t;
        struct json_object *o;

        if (len == 0 || len > INT32_MAX)
                return NULL;
        t = json_tokener_new();
        if (!t)
                return NULL;
        o = json_tokener_parse_ex(t, body, (int)len);
        if (o && (json_tokener_get_error(t) != json_tokener_success ||
                  !json_object_is_type(o, json_type_object))) {
                json_object_put(o);
                o = NULL;
        }
        json_tokener_free(t);
        return o;
}

static int dup_string_member(struct json_object *o, const char *key, char **ret) {
        struct json_object *v;

        *ret = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return 0;
        *ret = mem_strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

int arm_operation_status_decode(const char *body, size_t len, char **ret_status, char **ret_code,
                                char **ret_message) {
        struct json_object *root = parse_object(body, len), *e = NULL;
        char *status = NULL, *code = NULL, *message = NULL;
        int r;

        if (!root)
                return -EBADMSG;
        r = dup_string_member(root, "status", &status);
        if (r >= 0 && !status)
                r = -EBADMSG;
        if (r >= 0 && json_object_object_get_ex(root, "error", &e) &&
            json_object_is_type(e, json_type_object)) {
                r = dup_string_member(e, "code", &code);
                if (r >= 0)
                        r = dup_string_member(e, "message", &message);
        }
        json_object_put(root);
        if (r < 0) {
                mem_free(status);
                mem_free(code);
                mem_free(message);
                return r;
        }
        *ret_status = status;
        if (ret_code)
                *ret_code = code;
        else
                mem_free(code);
        if (ret_message)
                *ret_message = message;
        else
                mem_free(message);
        return 0;
}

int arm_provisioning_state_decode(const char *body, size_t len, char **ret) {
        struct json_object *root = parse_object(body, len), *p = NULL;
        char *s = NULL;
        int r = 0;

        if (!root)
                return -EBADMSG;
        if (json_object_object_get_ex(root, "properties", &p) && json_object_is_type(p, json_type_object))
                r = dup_string_member(p, "provisioningState", &s);
        json_object_put(root);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}

/* ---- long-running operations ------------------------------------------------------ */

void arm_lro_urls_done(struct arm_lro_urls *u) {
        mem_free(u->resource);
        mem_free(u->async_operation);
        mem_free(u->location);
        *u = (struct arm_lro_urls){};
}

void arm_lro_result_done(struct arm_lro_result *r) {
        mem_free(r->status_string);
        mem_free(r->error_code);
        mem_free(r->error_message);
        azure_result_done(&r->last);
        *r = (struct arm_lro_result){};
}

int arm_lro_begin(enum http_method method, const char *resource_url, const struct azure_result *initial,
                  struct arm_lro_urls *ret) {
        struct arm_lro_urls u = {.method = method};
        _cleanup_free_ char *state = NULL;
        int r;

        if (initial->error < 0)
                return initial->error;
        if (!initial->async_operation && !initial->location) {
                /* A 202 without anything to follow is an answer we cannot follow. */
                if (initial->status == 202)
                        return -EBADMSG;
                /* 200/201 with a body: done unless its provisioningState says otherwise
                 * (README §7.1: PUT 201 with body, poll the resource). 204: done. */
                if (initial->body.len == 0)
                        return 0;
                r = arm_provisioning_state_decode(initial->body.data, initial->body.len, &state);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 || !state || arm_lro_status_from_string(state) >= 0)
                        return 0;
        }
        u.resource = mem_strdup(resource_url);
        if (!u.resource)
                goto oom;
        if (initial->async_operation && !(u.async_operation = mem_strdup(initial->async_operation)))
                goto oom;
        if (initial->location && !(u.location = mem_strdup(initial->location)))
                goto oom;
        u.has_retry_after = initial->has_retry_after;
        u.retry_after_usec = initial->retry_after_usec;
        *ret = u;
        return 1;
oom:
        arm_lro_urls_done(&u);
        return -ENOMEM;
}

enum lro_mode {
        LRO_ASYNC,    /* polling Azure-AsyncOperation */
        LRO_LOCATION, /* polling Location */
        LRO_RESOURCE, /* polling the resource's provisioningState */
        LRO_FINAL,    /* the final GET of the resource */
};

struct arm_lro {
        struct azure *az;
        struct arm_lro_urls urls; /* owned copy */
        char *poll_url;           /* owned: what the next poll GETs */
        enum lro_mode mode;
        usec_t deadline_at, poll_min, poll_max, prev_delay;
        uint64_t random_state;
        ev_timer timer;          /* data = this */
        struct azure_call *call; /* borrowed handle of the poll in flight */
        struct arm_lro_result result;
        arm_lro_done_fn done;
        void *userdata;
};

static usec_t lro_now(const struct arm_lro *op) {
        return (usec_t)(ev_now(azure_get_loop(op->az)) * (double)USEC_PER_SEC);
}

static void lro_free(struct arm_lro *op) {
        if (op->call)
                azure_call_cancel(op->call);
        ev_timer_stop(azure_get_loop(op->az), &op->timer);
        arm_lro_urls_done(&op->urls);
        mem_free(op->poll_url);
        arm_lro_result_done(&op->result);
        mem_free(op);
}

void arm_lro_cancel(struct arm_lro *op) {
        if (op)
                lro_free(op);
}

static void lro_end(struct arm_lro *op, int error) {
        op->result.error = error;
        log_debug("Operation on %s ended after %u polls: %s", op->urls.resource, op->result.polls,
                  error < 0 ? strerror(-error) : strna(arm_lro_status_to_string(op->result.status)));
        op->done(op, &op->result, op->userdata);
        lro_free(op);
}

static void on_poll(struct azure_call *call, struct azure_result *res, void *userdata);

static void lro_schedule(struct arm_lro *op, bool has_retry_after, usec_t retry_after) {
        usec_t now = lro_now(op), delay;
        uint64_t x;

        if (now >= op->deadline_at) {
                lro_end(op, -ETIME);
                return;
        }
        /* Retry-After is honoured between poll_min and poll_max: "Retry-After: 0" on
         * every answer must not turn into a busy loop. */
        if (has_retry_after)
                delay = CLAMP(retry_after, op->poll_min, op->poll_max);
        else {
                struct backoff_conf c = {.base_usec = op->poll_min, .cap_usec = op->poll_max};
                x = op->random_state;
                x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
                op->random_state = x;
                delay = backoff_next(&c, op->prev_delay, x * 2685821657736338717ULL);
                op->prev_delay = delay;
        }
        /* Do not sleep past the deadline: one last look at it, then -ETIME. */
        delay = MIN(delay, op->deadline_at - now);
        ev_timer_set(&op->timer, (double)delay / USEC_PER_SEC, 0.);
        ev_timer_start(azure_get_loop(op->az), &op->timer);
}

static void on_lro_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        struct arm_lro *op = w->data;
        struct azure_request rq = {
                .method = HTTP_GET,
                .audience = AZURE_AUDIENCE_ARM,
                .kind = op->mode == LRO_ASYNC ? AZURE_KIND_ARM_OPERATION : AZURE_KIND_ARM_RESOURCE,
                .url = op->poll_url,
        };
        int r;

        r = azure_call_start(op->az, &rq, on_poll, op, &op->call);
        if (r < 0)
                lro_end(op, r);
}

static int set_poll_url(struct arm_lro *op, const char *url) {
        char *u = mem_strdup(url);

        if (!u)
                return -ENOMEM;
        mem_free(op->poll_url);
        op->poll_url = u;
        return 0;
}

static void lro_terminal(struct arm_lro *op, struct azure_result *res, enum arm_lro_status s) {
        op->result.status = s;
        azure_result_done(&op->result.last);
        azure_result_move(res, &op->result.last);
        lro_end(op, 0);
}

static void on_poll(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct arm_lro *op = userdata;
        _cleanup_free_ char *status = NULL, *code = NULL, *message = NULL;
        enum arm_lro_status s;
        int r;

        op->call = NULL;
        op->result.polls++;

        if (op->mode == LRO_FINAL) {
                /* The operation succeeded; this is the resource as it is now. */
                if (res->error < 0) {
                        azure_result_done(&op->result.last);
                        azure_result_move(res, &op->result.last);
                        lro_end(op, op->result.last.error);
                        return;
                }
                lro_terminal(op, res, ARM_LRO_SUCCEEDED);
                return;
        }

        if (res->error < 0) {
                /* Location polling: a 4xx is the operation's failure (README §7.1). Other
                 * failures (5xx after retries, transport) leave it undecided. */
                if (op->mode == LRO_LOCATION && res->status >= 400 && res->status < 500 &&
                    res->status != 429) {
                        mem_free(op->result.error_code);
                        mem_free(op->result.error_message);
                        op->result.error_code = TAKE_PTR(res->error_code);
                        op->result.error_message = TAKE_PTR(res->error_message);
                        lro_terminal(op, res, ARM_LRO_FAILED);
                        return;
                }
                azure_result_done(&op->result.last);
                azure_result_move(res, &op->result.last);
                lro_end(op, op->result.last.error);
                return;
        }

        switch (op->mode) {
        case LRO_ASYNC:
                r = arm_operation_status_decode(res->body.data, res->body.len, &status, &code, &message);
                if (r < 0) {
                        azure_result_move(res, &op->result.last);
                        lro_end(op, r == -ENOMEM ? r : -EBADMSG);
                        return;
                }
                break;
        case LRO_LOCATION:
                if (res->status == 202) {
                        /* Still running; the operation may move (README §7.1). */
                        if (res->location && set_poll_url(op, res->location) < 0) {
                                lro_end(op, -ENOMEM);
                                return;
                        }
                        status = mem_strdup("InProgress");
                } else
                        status = mem_strdup("Succeeded");
                if (!status) {
                        lro_end(op, -ENOMEM);
                        return;
                }
                break;
        case LRO_RESOURCE:
                r = arm_provisioning_state_decode(res->body.data, res->body.len, &status);
                if (r < 0) {
                        azure_result_move(res, &op->result.last);
                        lro_end(op, r == -ENOMEM ? r : -EBADMSG);
                        return;
                }
                /* A resource that says nothing about its state is taken as settled. */
                if (!status && !(status = mem_strdup("Succeeded"))) {
                        lro_end(op, -ENOMEM);
                        return;
                }
                break;
        default:
                assert(false);
                lro_end(op, -EINVAL);
                return;
        }

        mem_free(op->result.status_string);
        op->result.status_string = TAKE_PTR(status);
        s = arm_lro_status_from_string(op->result.status_string);
        if (s < 0) {
                lro_schedule(op, res->has_retry_after, res->retry_after_usec);
                return;
        }
        if (s != ARM_LRO_SUCCEEDED) {
                mem_free(op->result.error_code);
                mem_free(op->result.error_message);
                op->result.error_code = TAKE_PTR(code);
                op->result.error_message = TAKE_PTR(message);
        }
        /* After an Azure-AsyncOperation, PUT and PATCH end with a GET of the resource
         * (README §7.1, as azcore does), which is the result. */
        if (op->mode == LRO_ASYNC && s == ARM_LRO_SUCCEEDED &&
            (op->urls.method == HTTP_PUT || op->urls.method == HTTP_PATCH)) {
                if (set_poll_url(op, op->urls.resource) < 0) {
                        lro_end(op, -ENOMEM);
                        return;
                }
                op->mode = LRO_FINAL;
                ev_timer_set(&op->timer, 0., 0.);
                ev_timer_start(azure_get_loop(op->az), &op->timer);
                return;
        }
        lro_terminal(op, res, s);
}

int arm_lro_poll(struct azure *az, const struct arm_lro_urls *urls, const struct arm_lro_conf *conf,
                 arm_lro_done_fn done, void *userdata, struct arm_lro **ret) {
        struct arm_lro *op;
        const char *first;
        usec_t deadline;
        int r = -ENOMEM;

        if (!urls || !done || (!urls->async_operation && !urls->location && !urls->resource))
                return -EINVAL;
        op = new0(struct arm_lro, 1);
        if (!op)
                return -ENOMEM;
        op->az = az;
        op->done = done;
        op->userdata = userdata;
        op->poll_min = conf && conf->poll_min_usec ? conf->poll_min_usec : ARM_LRO_POLL_MIN_USEC_DEFAULT;
        op->poll_max = conf && conf->poll_max_usec ? conf->poll_max_usec : ARM_LRO_POLL_MAX_USEC_DEFAULT;
        op->poll_max = MAX(op->poll_max, op->poll_min);
        deadline = conf && conf->deadline_usec ? conf->deadline_usec : ARM_LRO_DEADLINE_USEC_DEFAULT;
        op->random_state = (uint64_t)(uintptr_t)op ^ 0x2545F4914F6CDD1DULL;
        ev_init(&op->timer, on_lro_timer);
        op->timer.data = op;

        op->urls.method = urls->method;
        if (urls->resource && !(op->urls.resource = mem_strdup(urls->resource)))
                goto fail;
        if (urls->async_operation && !(op->urls.async_operation = mem_strdup(urls->async_operation)))
                goto fail;
        if (urls->location && !(op->urls.location = mem_strdup(urls->location)))
                goto fail;
        /* Prefer Azure-AsyncOperation, then Location, then the resource (README §7.1). */
        if (urls->async_operation) {
                op->mode = LRO_ASYNC;
                first = urls->async_operation;
        } else if (urls->location) {
                op->mode = LRO_LOCATION;
                first = urls->location;
        } else {
                op->mode = LRO_RESOURCE;
                first = urls->resource;
        }
        if ((op->mode == LRO_ASYNC && (urls->method == HTTP_PUT || urls->method == HTTP_PATCH) &&
             !urls->resource)) {
                r = -EINVAL;
                goto fail;
        }
        r = set_poll_url(op, first);
        if (r < 0)
                goto fail;

        op->deadline_at = lro_now(op) + deadline;
        /* The first poll after the initial answer's Retry-After, or at once (a resumed
         * operation has waited long enough). */
        ev_timer_set(&op->timer,
                     urls->has_retry_after
                             ? (double)CLAMP(urls->retry_after_usec, op->poll_min, op->poll_max) /
                                       USEC_PER_SEC
                             : 0.,
                     0.);
        ev_timer_start(azure_get_loop(az), &op->timer);
        if (ret)
                *ret = op;
        return 0;
fail:
        lro_free(op);
        return r;
}
