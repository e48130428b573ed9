/* SPDX-License-Identifier: MIT */
/* engine-driver: runs cmkd's engine (http, auth, azure, arm, kv) from the command line, for
 * the integration tests against the twin. Prints one JSON line per operation and a last
 * line with the statistics. Never prints a token: only its length and generation.
 *
 *   engine-driver [OPTIONS] OP [ARGS] [OP [ARGS]]...
 *
 * Operations: token AUDIENCE | get URL | list URL | put URL BODY | patch URL BODY |
 *   lro-resume METHOD RESOURCE ASYNC|- LOCATION|- | kv-key KEYURL [VERSION] |
 *   kv-versions KEYURL | kv-rotation KEYURL | kv-deleted KEYURL | sleep MS
 * BODY may be @FILE. Exit status 0 when every operation ended without error, 1 when one
 * failed, 2 for a usage error. */

#include <curl/curl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>

#include "arm.h"
#include "auth.h"
#include "azure.h"
#include "http.h"
#include "keyurl.h"
#include "kv.h"
#include "log.h"
#include "mem.h"
#include "strv.h"

enum op_kind {
        OP_TOKEN,
        OP_GET,
        OP_LIST,
        OP_PUT,
        OP_PATCH,
        OP_RESUME,
        OP_KV_KEY,
        OP_KV_VERSIONS,
        OP_KV_ROTATION,
        OP_KV_DELETED,
        OP_SLEEP
};

struct op {
        enum op_kind kind;
        const char *name;
        const char *a, *b, *c, *d; /* arguments */
        char *body;                /* owned (put/patch) */
        size_t body_len;
        unsigned index;
        /* progress */
        struct auth_waiter waiter;
        struct keyurl key;
        ev_timer timer;
        unsigned items, pages;
        bool done;
        int error;
        struct buf out; /* the JSON line */
};

static struct ev_loop *loop;
static struct http *http;
static struct auth *auth;
static struct azure *az;
static struct op *ops;
static size_t n_ops, next_op, n_done;
static bool parallel;
static int exit_status;
static struct arm_lro_conf lro_conf;
static const char *kv_api;
static struct cloud cloud;

static void run_next(void);

static void op_finish(struct op *o, int error) {
        o->done = true;
        o->error = error;
        if (error < 0)
                exit_status = 1;
        (void)buf_puts(&o->out, "}");
        printf("%s\n", buf_str(&o->out));
        fflush(stdout);
        buf_done(&o->out);
        n_done++;
        if (n_done == n_ops)
                ev_break(loop, EVBREAK_ALL);
        else if (!parallel)
                run_next();
}

static void out_str(struct op *o, const char *key, const char *value) {
        (void)buf_printf(&o->out, ",\"%s\":", key);
        if (value)
                (void)buf_put_json_string(&o->out, value);
        else
                (void)buf_puts(&o->out, "null");
}

static void out_result(struct op *o, const char *prefix, const struct azure_result *r) {
        (void)buf_printf(&o->out, ",\"%serror\":%d,\"%serrno\":", prefix, r->error, prefix);
        (void)buf_put_json_string(&o->out, r->error < 0 ? strerrorname_np(-r->error) ?: "?" : "");
        (void)buf_printf(&o->out, ",\"%sstatus\":%ld,\"%sattempts\":%u,\"%sbytes\":%zu", prefix, r->status,
                         prefix, r->attempts, prefix, r->body.len);
        char k[64];
        snprintf(k, sizeof k, "%scode", prefix);
        out_str(o, k, r->error_code);
        snprintf(k, sizeof k, "%smessage", prefix);
        out_str(o, k, r->error_message);
        snprintf(k, sizeof k, "%srequest_id", prefix);
        out_str(o, k, r->request_id);
}

/* ---- token ---------------------------------------------------------------------- */

static void token_try(struct op *o);

static void on_token_ready(struct auth_waiter *w, int error, const struct auth_failure *f, void *userdata) {
        struct op *o = userdata;

        if (error < 0) {
                (void)buf_printf(&o->out, ",\"error\":%d,\"errno\":", error);
                (void)buf_put_json_string(&o->out, strerrorname_np(-error) ?: "?");
                (void)buf_printf(&o->out, ",\"status\":%ld", f ? f->status : 0);
                out_str(o, "code", f ? f->code : NULL);
                out_str(o, "message", f ? f->message : NULL);
                op_finish(o, error);
                return;
        }
        token_try(o);
}

static void token_try(struct op *o) {
        const char *authz = NULL;
        uint64_t gen = 0;
        int r;

        r = auth_token_get(auth, o->a, &o->waiter, on_token_ready, o, &authz, &gen);
        if (r == 0)
                return;
        if (r < 0) {
                (void)buf_printf(&o->out, ",\"error\":%d", r);
                op_finish(o, r);
                return;
        }
        /* The token's length proves we got one; the token itself is never printed. */
        (void)buf_printf(&o->out, ",\"error\":0,\"generation\":%llu,\"length\":%zu,\"bearer\":%s",
                         (unsigned long long)gen, strlen(authz),
                         startswith(authz, "Bearer ") ? "true" : "false");
        op_finish(o, 0);
}

/* ---- get, put, patch, LRO ------------------------------------------------------- */

static void on_lro_done(struct arm_lro *lro, struct arm_lro_result *res, void *userdata) {
        struct op *o = userdata;

        (void)buf_printf(&o->out, ",\"lro\":{\"error\":%d,\"errno\":", res->error);
        (void)buf_put_json_string(&o->out, res->error < 0 ? strerrorname_np(-res->error) ?: "?" : "");
        (void)buf_printf(&o->out, ",\"polls\":%u", res->polls);
        out_str(o, "status", res->status_string);
        out_str(o, "code", res->error_code);
        out_str(o, "message", res->error_message);
        out_result(o, "last_", &res->last);
        (void)buf_puts(&o->out, "}");
        op_finish(o, res->error < 0 ? res->error : res->status == ARM_LRO_SUCCEEDED ? 0 : -EREMOTEIO);
}

static void lro_follow(struct op *o, const struct arm_lro_urls *urls) {
        int r;

        out_str(o, "async_operation", urls->async_operation);
        out_str(o, "location", urls->location);
        r = arm_lro_poll(az, urls, &lro_conf, on_lro_done, o, NULL);
        if (r < 0) {
                (void)buf_printf(&o->out, ",\"lro\":{\"error\":%d}", r);
                op_finish(o, r);
        }
}

static void on_call_done(struct azure_call *call, struct azure_result *res, void *userdata) {
        struct op *o = userdata;
        struct arm_lro_urls urls = {};
        int r;

        out_result(o, "", res);
        if (o->kind == OP_PUT || o->kind == OP_PATCH) {
                r = arm_lro_begin(o->kind == OP_PUT ? HTTP_PUT : HTTP_PATCH, o->a, res, &urls);
                if (r > 0) {
                        lro_follow(o, &urls);
                        arm_lro_urls_done(&urls);
                        return;
                }
                op_finish(o, r);
                return;
        }
        op_finish(o, res->error);
}

/* ---- lists ---------------------------------------------------------------------- */

static int on_page(const char *body, size_t len, void *userdata, char **ret_next) {
        struct op *o = userdata;
        struct json_tokener *t = json_tokener_new();
        struct json_object *root, *v;
        int r = -EBADMSG;

        if (!t)
                return -ENOMEM;
        root = json_tokener_parse_ex(t, body, (int)len);
        if (!root || !json_object_is_type(root, json_type_object) ||
            !json_object_object_get_ex(root, "value", &v) || !json_object_is_type(v, json_type_array))
                goto finish;
        o->items += (unsigned)json_object_array_length(v);
        *ret_next = NULL;
        if (json_object_object_get_ex(root, "nextLink", &v) && json_object_is_type(v, json_type_string)) {
                *ret_next = mem_strdup(json_object_get_string(v));
                if (!*ret_next) {
                        r = -ENOMEM;
                        goto finish;
                }
        }
        r = 0;
finish:
        json_object_put(root);
        json_tokener_free(t);
        return r;
}

static void on_list_done(struct azure_list *l, int error, const struct azure_result *last, unsigned pages,
                         void *userdata) {
        struct op *o = userdata;

        (void)buf_printf(&o->out, ",\"pages\":%u,\"items\":%u", pages, o->items);
        out_result(o, "", last);
        (void)buf_printf(&o->out, ",\"list_error\":%d", error);
        op_finish(o, error);
}

/* ---- running ---------------------------------------------------------------------- */

static void on_sleep(struct ev_loop *l, ev_timer *w, int revents) {
        op_finish(w->data, 0);
}

static void op_start(struct op *o) {
        int r = 0;

        buf_init(&o->out, 64 * 1024);
        (void)buf_printf(&o->out, "{\"op\":\"%s\",\"index\":%u", o->name, o->index);
        if (o->a)
                out_str(o, "arg", o->a);
        (void)buf_printf(&o->out, ",\"started\":%.6f", ev_now(loop));

        switch (o->kind) {
        case OP_TOKEN:
                token_try(o);
                return;
        case OP_GET:
                r = arm_get(az, o->a, on_call_done, o, NULL);
                break;
        case OP_PUT:
                r = arm_put(az, o->a, o->body, o->body_len, on_call_done, o, NULL);
                break;
        case OP_PATCH:
                r = arm_patch(az, o->a, o->body, o->body_len, on_call_done, o, NULL);
                break;
        case OP_LIST:
                r = azure_list_start(az, AZURE_AUDIENCE_ARM, AZURE_KIND_ARM_LIST, o->a, on_page,
                                     on_list_done, o, NULL);
                break;
        case OP_RESUME: {
                struct arm_lro_urls urls = {
                        .method = strcasecmp(o->a, "PATCH") == 0    ? HTTP_PATCH
                                  : strcasecmp(o->a, "DELETE") == 0 ? HTTP_DELETE
                                                                    : HTTP_PUT,
                        .resource = (char *)o->b,
                        .async_operation = streq(o->c, "-") ? NULL : (char *)o->c,
                        .location = streq(o->d, "-") ? NULL : (char *)o->d,
                };
                lro_follow(o, &urls);
                return;
        }
        case OP_KV_KEY:
        case OP_KV_VERSIONS:
        case OP_KV_ROTATION:
        case OP_KV_DELETED:
                r = keyurl_parse(o->a, &o->key);
                if (r < 0)
                        break;
                if (o->kind == OP_KV_KEY)
                        r = kv_get_key(az, &o->key, o->b, kv_api, on_call_done, o, NULL);
                else if (o->kind == OP_KV_ROTATION)
                        r = kv_get_rotation_policy(az, &o->key, kv_api, on_call_done, o, NULL);
                else if (o->kind == OP_KV_DELETED)
                        r = kv_get_deleted_key(az, &o->key, kv_api, on_call_done, o, NULL);
                else
                        r = kv_list_key_versions(az, &o->key, kv_api, on_page, on_list_done, o, NULL);
                break;
        case OP_SLEEP:
                ev_timer_init(&o->timer, on_sleep, atof(o->a) / 1000.0, 0.);
                o->timer.data = o;
                ev_timer_start(loop, &o->timer);
                return;
        }
        if (r < 0) {
                (void)buf_printf(&o->out, ",\"error\":%d,\"errno\":", r);
                (void)buf_put_json_string(&o->out, strerrorname_np(-r) ?: "?");
                (void)buf_puts(&o->out, ",\"start_failed\":true");
                op_finish(o, r);
        }
}

static void run_next(void) {
        if (next_op < n_ops)
                op_start(&ops[next_op++]);
}

/* ---- command line ---------------------------------------------------------------- */

static int read_body(const char *arg, char **ret, size_t *ret_len) {
        FILE *f;
        struct buf b;
        char chunk[4096];
        size_t n;

        buf_init(&b, 64 * 1024 * 1024);
        if (arg[0] != '@') {
                if (buf_puts(&b, arg) < 0)
                        return -ENOMEM;
        } else {
                f = fopen(arg + 1, "re");
                if (!f)
                        return -errno;
                while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
                        if (buf_append(&b, chunk, n) < 0) {
                                fclose(f);
                                buf_done(&b);
                                return -ENOMEM;
                        }
                fclose(f);
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
        return 0;
}

static int parse_limit(const char *s, struct pacer_limit *ret) {
        double cap, rate;

        if (sscanf(s, "%lf/%lf", &cap, &rate) != 2 || cap < 1 || rate <= 0)
                return -EINVAL;
        *ret = (struct pacer_limit){.capacity = cap, .refill_per_sec = rate, .reserve_fraction = 0.1};
        return 0;
}

static void usage(void) {
        fprintf(stderr, "usage: engine-driver [--ca-file F] [--connect-to E]... [--auth METHOD] [--tenant "
                        "T] [--client-id C]\n"
                        "  [--client-secret-file F] [--federated-token-file F] [--arm-endpoint URL] "
                        "[--arm-audience A]\n"
                        "  [--authority URL] [--imds URL] [--max-retries N] [--backoff-base-ms N] "
                        "[--backoff-cap-ms N]\n"
                        "  [--retry-after-max-ms N] [--timeout-ms N] [--max-concurrent N] [--no-pacing] "
                        "[--arm-reads CAP/RATE]\n"
                        "  [--kv-api V] [--lro-deadline-ms N] [--lro-poll-min-ms N] [--lro-poll-max-ms N] "
                        "[--parallel]\n"
                        "  [--repeat N] [--debug] OP ARGS...\n");
}

int main(int argc, char *argv[]) {
        enum {
                ARG_CA = 0x100,
                ARG_CONNECT,
                ARG_AUTH,
                ARG_TENANT,
                ARG_CLIENT,
                ARG_SECRET,
                ARG_FED,
                ARG_ARM,
                ARG_ARM_AUD,
                ARG_AUTHORITY,
                ARG_IMDS,
                ARG_RETRIES,
                ARG_BASE,
                ARG_CAP,
                ARG_RA_MAX,
                ARG_TIMEOUT,
                ARG_CONC,
                ARG_NOPACE,
                ARG_READS,
                ARG_KV_API,
                ARG_DEADLINE,
                ARG_POLL_MIN,
                ARG_POLL_MAX,
                ARG_PARALLEL,
                ARG_REPEAT,
                ARG_DEBUG
        };
        static const struct option options[] = {
                {"ca-file", required_argument, NULL, ARG_CA},
                {"connect-to", required_argument, NULL, ARG_CONNECT},
                {"auth", required_argument, NULL, ARG_AUTH},
                {"tenant", required_argument, NULL, ARG_TENANT},
                {"client-id", required_argument, NULL, ARG_CLIENT},
                {"client-secret-file", required_argument, NULL, ARG_SECRET},
                {"federated-token-file", required_argument, NULL, ARG_FED},
                {"arm-endpoint", required_argument, NULL, ARG_ARM},
                {"arm-audience", required_argument, NULL, ARG_ARM_AUD},
                {"authority", required_argument, NULL, ARG_AUTHORITY},
                {"imds", required_argument, NULL, ARG_IMDS},
                {"max-retries", required_argument, NULL, ARG_RETRIES},
                {"backoff-base-ms", required_argument, NULL, ARG_BASE},
                {"backoff-cap-ms", required_argument, NULL, ARG_CAP},
                {"retry-after-max-ms", required_argument, NULL, ARG_RA_MAX},
                {"timeout-ms", required_argument, NULL, ARG_TIMEOUT},
                {"max-concurrent", required_argument, NULL, ARG_CONC},
                {"no-pacing", no_argument, NULL, ARG_NOPACE},
                {"arm-reads", required_argument, NULL, ARG_READS},
                {"kv-api", required_argument, NULL, ARG_KV_API},
                {"lro-deadline-ms", required_argument, NULL, ARG_DEADLINE},
                {"lro-poll-min-ms", required_argument, NULL, ARG_POLL_MIN},
                {"lro-poll-max-ms", required_argument, NULL, ARG_POLL_MAX},
                {"parallel", no_argument, NULL, ARG_PARALLEL},
                {"repeat", required_argument, NULL, ARG_REPEAT},
                {"debug", no_argument, NULL, ARG_DEBUG},
                {},
        };
        static char *vault_suffixes[] = {(char *)"vault.azure.net", NULL};
        static char *hsm_suffixes[] = {(char *)"managedhsm.azure.net", NULL};
        _cleanup_strv_free_ char **connect_to = NULL;
        struct http_conf hc = {};
        struct auth_conf ac = {.method = AUTH_MANAGED_IDENTITY, .max_retries = 3};
        struct azure_conf zc = {.max_retries = 3};
        unsigned repeat = 1;
        int c, r;

        cloud = (struct cloud){
                .name = (char *)"AzurePublicCloud",
                .arm_endpoint = (char *)"https://management.azure.com",
                .arm_audience = (char *)"https://management.azure.com/",
                .authority_host = (char *)"https://login.microsoftonline.com",
                .vault_suffixes = vault_suffixes,
                .vault_audience = (char *)"https://vault.azure.net",
                .hsm_suffixes = hsm_suffixes,
                .hsm_audience = (char *)"https://managedhsm.azure.net",
                .imds_endpoint = (char *)"http://169.254.169.254",
        };

        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0) {
                switch (c) {
                case ARG_CA:
                        hc.ca_file = optarg;
                        break;
                case ARG_CONNECT:
                        if (strv_extend(&connect_to, optarg) < 0)
                                return 2;
                        break;
                case ARG_AUTH:
                        if (streq(optarg, "managed-identity"))
                                ac.method = AUTH_MANAGED_IDENTITY;
                        else if (streq(optarg, "client-secret"))
                                ac.method = AUTH_CLIENT_SECRET;
                        else if (streq(optarg, "workload-identity"))
                                ac.method = AUTH_WORKLOAD_IDENTITY;
                        else {
                                usage();
                                return 2;
                        }
                        break;
                case ARG_TENANT:
                        ac.tenant_id = zc.tenant_id = optarg;
                        break;
                case ARG_CLIENT:
                        ac.client_id = optarg;
                        break;
                case ARG_SECRET:
                        ac.client_secret_file = optarg;
                        break;
                case ARG_FED:
                        ac.federated_token_file = optarg;
                        break;
                case ARG_ARM:
                        cloud.arm_endpoint = optarg;
                        break;
                case ARG_ARM_AUD:
                        cloud.arm_audience = optarg;
                        break;
                case ARG_AUTHORITY:
                        cloud.authority_host = optarg;
                        break;
                case ARG_IMDS:
                        cloud.imds_endpoint = optarg;
                        break;
                case ARG_RETRIES:
                        ac.max_retries = zc.max_retries = (unsigned)atoi(optarg);
                        break;
                case ARG_BASE:
                        ac.backoff.base_usec = zc.backoff.base_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_CAP:
                        ac.backoff.cap_usec = zc.backoff.cap_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_RA_MAX:
                        ac.backoff.retry_after_max_usec = zc.backoff.retry_after_max_usec =
                                (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_TIMEOUT:
                        hc.timeout_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_CONC:
                        hc.max_concurrent = (unsigned)atoi(optarg);
                        break;
                case ARG_NOPACE:
                        zc.no_pacing = true;
                        break;
                case ARG_READS:
                        if (parse_limit(optarg, &zc.arm_reads) < 0) {
                                usage();
                                return 2;
                        }
                        break;
                case ARG_KV_API:
                        kv_api = optarg;
                        break;
                case ARG_DEADLINE:
                        lro_conf.deadline_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_POLL_MIN:
                        lro_conf.poll_min_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_POLL_MAX:
                        lro_conf.poll_max_usec = (usec_t)atoll(optarg) * USEC_PER_MSEC;
                        break;
                case ARG_PARALLEL:
                        parallel = true;
                        break;
                case ARG_REPEAT:
                        repeat = (unsigned)atoi(optarg);
                        break;
                case ARG_DEBUG:
                        log_set_max_level(LOG_DEBUG);
                        break;
                default:
                        usage();
                        return 2;
                }
        }

        /* Operations. */
        size_t allocated = 0;
        for (unsigned rep = 0; rep < MAX(repeat, 1u); rep++)
                for (int i = optind; i < argc;) {
                        static const struct {
                                const char *name;
                                enum op_kind kind;
                                int min_args, max_args;
                        } table[] = {
                                {"token", OP_TOKEN, 1, 1},
                                {"get", OP_GET, 1, 1},
                                {"list", OP_LIST, 1, 1},
                                {"put", OP_PUT, 2, 2},
                                {"patch", OP_PATCH, 2, 2},
                                {"lro-resume", OP_RESUME, 4, 4},
                                {"kv-key", OP_KV_KEY, 1, 2},
                                {"kv-versions", OP_KV_VERSIONS, 1, 1},
                                {"kv-rotation", OP_KV_ROTATION, 1, 1},
                                {"kv-deleted", OP_KV_DELETED, 1, 1},
                                {"sleep", OP_SLEEP, 1, 1},
                        };
                        size_t t;
                        int nargs = 0;

                        for (t = 0; t < ELEMENTSOF(table); t++)
                                if (streq(argv[i], table[t].name))
                                        break;
                        if (t == ELEMENTSOF(table)) {
                                fprintf(stderr, "engine-driver: unknown operation '%s'\n", argv[i]);
                                return 2;
                        }
                        /* Optional arguments are those that are not an operation name. */
                        while (i + 1 + nargs < argc && nargs < table[t].max_args) {
                                bool is_op = false;
                                if (nargs >= table[t].min_args)
                                        for (size_t u = 0; u < ELEMENTSOF(table); u++)
                                                is_op = is_op || streq(argv[i + 1 + nargs], table[u].name);
                                if (is_op)
                                        break;
                                nargs++;
                        }
                        if (nargs < table[t].min_args) {
                                fprintf(stderr, "engine-driver: '%s' needs %d argument(s)\n", argv[i],
                                        table[t].min_args);
                                return 2;
                        }
                        if (GREEDY_REALLOC(ops, allocated, n_ops + 1) < 0)
                                return 2;
                        struct op *o = &ops[n_ops];
                        *o = (struct op){
                                .kind = table[t].kind, .name = table[t].name, .index = (unsigned)n_ops};
                        o->a = nargs > 0 ? argv[i + 1] : NULL;
                        o->b = nargs > 1 ? argv[i + 2] : NULL;
                        o->c = nargs > 2 ? argv[i + 3] : NULL;
                        o->d = nargs > 3 ? argv[i + 4] : NULL;
                        if ((o->kind == OP_PUT || o->kind == OP_PATCH) &&
                            read_body(o->b, &o->body, &o->body_len) < 0) {
                                fprintf(stderr, "engine-driver: cannot read body %s\n", o->b);
                                return 2;
                        }
                        n_ops++;
                        i += 1 + nargs;
                }
        if (n_ops == 0) {
                usage();
                return 2;
        }

        if (mem_curl_global_init(CURL_GLOBAL_DEFAULT) < 0)
                return 2;
        loop = ev_default_loop(0);
        hc.connect_to = connect_to;
        ac.cloud = &cloud;
        zc.cloud = &cloud;
        r = http_new(loop, &hc, &http);
        if (r < 0) {
                printf("{\"setup_error\":%d,\"what\":\"http\",\"errno\":\"%s\"}\n", r, strerrorname_np(-r));
                return 1;
        }
        r = auth_new(loop, http, &ac, &auth);
        if (r < 0) {
                printf("{\"setup_error\":%d,\"what\":\"auth\",\"errno\":\"%s\"}\n", r, strerrorname_np(-r));
                return 1;
        }
        r = azure_new(loop, http, auth, &zc, &az);
        if (r < 0) {
                printf("{\"setup_error\":%d,\"what\":\"azure\",\"errno\":\"%s\"}\n", r, strerrorname_np(-r));
                return 1;
        }

        if (parallel)
                for (size_t i = 0; i < n_ops; i++)
                        op_start(&ops[i]);
        else
                run_next();
        if (n_done < n_ops)
                ev_run(loop, 0);

        struct azure_stats st;
        azure_get_stats(az, &st);
        printf("{\"stats\":{\"attempts\":%llu,\"retries\":%llu,\"throttled\":%llu,\"auth_retries\":%llu,"
               "\"failures\":%llu,\"paced\":%llu,\"bytes_sent\":%llu,\"bytes_received\":%llu,\"token_"
               "fetches\":%llu,"
               "\"token_failures\":%llu,\"calls\":{",
               (unsigned long long)st.attempts, (unsigned long long)st.retries,
               (unsigned long long)st.throttled, (unsigned long long)st.auth_retries,
               (unsigned long long)st.failures, (unsigned long long)st.paced,
               (unsigned long long)st.bytes_sent, (unsigned long long)st.bytes_received,
               (unsigned long long)st.token_fetches, (unsigned long long)st.token_failures);
        for (int k = 0; k < _AZURE_KIND_MAX; k++)
                printf("%s\"%s\":%llu", k ? "," : "", azure_kind_to_string(k),
                       (unsigned long long)st.calls[k]);
        printf("}}}\n");

        azure_free(az);
        auth_free(auth);
        http_free(http);
        for (size_t i = 0; i < n_ops; i++)
                mem_free(ops[i].body);
        mem_free(ops);
        ev_loop_destroy(loop);
        curl_global_cleanup();
        return exit_status;
}
