/* SPDX-License-Identifier: MIT */
/* Token cache and token fetching: IMDS, client secret, workload identity. It must never
 * log, copy or return a token or secret except through the borrowed Authorization value,
 * must wipe every buffer that held one, and must never fetch a token for an audience the
 * cloud config does not name. */

#include <assert.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "auth_decode.h"
#include "log.h"
#include "mem.h"
#include "timeutil.h"

#define SLOTS_MAX 3

struct auth_slot {
        struct auth *auth;
        char *audience;      /* owned */
        char *authorization; /* owned, secret: "Bearer <token>"; NULL when none */
        uint64_t generation; /* of authorization */
        usec_t obtained;     /* realtime; 0 = no token */
        usec_t expires_at;
        bool used;              /* handed out since it was obtained: worth refreshing ahead */
        usec_t next_background; /* no background refresh before this (after a failed one) */

        struct http_request *req; /* the fetch in flight; borrowed handle */
        bool fetching;            /* a fetch (request, retry wait, or deferred failure) is under way */
        unsigned attempt;         /* 1-based attempt of the current fetch */
        usec_t first_attempt;
        usec_t prev_delay;
        struct auth_failure failure; /* of the current fetch's last attempt */

        ev_timer retry_timer;   /* backoff between attempts; data = this */
        ev_timer refresh_timer; /* fires at refresh_at; data = this */
        ev_timer defer_timer;   /* delivers a failure from the loop; data = this */
        struct auth_waiter *waiters_head, *waiters_tail;
};

struct auth {
        struct ev_loop *loop; /* borrowed */
        struct http *http;    /* borrowed */
        enum auth_method method;
        char *tenant_id;            /* owned */
        char *client_id;            /* owned */
        char *client_secret_file;   /* owned */
        char *federated_token_file; /* owned */
        char *authority_host;       /* owned, no trailing '/' */
        char *imds_endpoint;        /* owned, no trailing '/' */
        unsigned max_retries;
        struct backoff_conf backoff;
        usec_t timeout_usec;

        struct auth_slot slots[SLOTS_MAX];
        size_t n_slots;

        struct buf assertion; /* secret: the federated token, as last read */
        usec_t assertion_read_at;

        uint64_t generation;
        uint64_t random_state;
        struct auth_stats stats;
};

/* ---- timing (pure) ---------------------------------------------------------------- */

usec_t auth_refresh_at(usec_t obtained, usec_t expires_at) {
        usec_t lifetime = expires_at > obtained ? expires_at - obtained : 0;

        return expires_at - MIN(AUTH_REFRESH_AHEAD_USEC, lifetime / 2);
}

usec_t auth_stale_at(usec_t obtained, usec_t expires_at) {
        usec_t lifetime = expires_at > obtained ? expires_at - obtained : 0;

        return expires_at - MIN(AUTH_STALE_AHEAD_USEC, lifetime / 10);
}

enum auth_token_state auth_token_state(usec_t obtained, usec_t expires_at, usec_t now) {
        if (obtained == 0)
                return AUTH_TOKEN_MISSING;
        if (now >= auth_stale_at(obtained, expires_at))
                return AUTH_TOKEN_EXPIRED;
        if (now >= auth_refresh_at(obtained, expires_at))
                return AUTH_TOKEN_REFRESH_DUE;
        return AUTH_TOKEN_FRESH;
}

/* ---- helpers ---------------------------------------------------------------------- */

static usec_t auth_now(const struct auth *a) {
        /* The loop's idea of the time (realtime, as token expiry is): the manager owns
         * the clock through the loop. */
        return (usec_t)(ev_now(a->loop) * (double)USEC_PER_SEC);
}

static uint64_t auth_random(struct auth *a) {
        /* xorshift64*: jitter only, no secrecy needed. */
        uint64_t x = a->random_state;
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        a->random_state = x;
        return x * 2685821657736338717ULL;
}

static char *strdup_trimmed(const char *s) {
        char *d;
        size_t n;

        if (!s)
                return NULL;
        d = mem_strdup(s);
        if (!d)
                return NULL;
        n = strlen(d);
        while (n > 0 && d[n - 1] == '/')
                d[--n] = 0;
        return d;
}

static void failure_set(struct auth_failure *f, int error, long status, const char *code, const char *format,
                        ...) _printf_(5, 6);

static void failure_set(struct auth_failure *f, int error, long status, const char *code, const char *format,
                        ...) {
        va_list ap;

        f->error = error;
        f->status = status;
        snprintf(f->code, sizeof f->code, "%s", strempty(code));
        va_start(ap, format);
        vsnprintf(f->message, sizeof f->message, format, ap);
        va_end(ap);
}

static struct auth_slot *slot_find(const struct auth *a, const char *audience) {
        for (size_t i = 0; i < a->n_slots; i++)
                if (auth_audience_equal(a->slots[i].audience, audience))
                        return (struct auth_slot *)&a->slots[i];
        return NULL;
}

bool auth_audience_known(const struct auth *a, const char *audience) {
        return audience && slot_find(a, audience);
}

static void slot_drop_token(struct auth_slot *s) {
        mem_free_secret(s->authorization);
        s->authorization = NULL;
        s->obtained = s->expires_at = 0;
        s->used = false;
        ev_timer_stop(s->auth->loop, &s->refresh_timer);
}

/* ---- files ------------------------------------------------------------------------ */

static int read_small_file(const char *path, size_t max, bool private, struct buf *ret,
                           struct auth_failure *f, const char *what) {
        struct stat st;
        char chunk[4096];
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                r = -errno;
                failure_set(f, r, 0, NULL, "Cannot open %s '%s': %s", what, path, strerror(-r));
                return r;
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                failure_set(f, r, 0, NULL, "Cannot stat %s '%s': %s", what, path, strerror(-r));
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
                failure_set(f, r, 0, NULL, "%s '%s' is not a regular file", what, path);
                goto finish;
        }
        if (private && (st.st_mode & S_IROTH)) {
                r = -EPERM;
                failure_set(f, r, 0, NULL,
                            "Refusing %s '%s': it is readable by others (mode %04o); make it 0600 or 0640, "
                            "or pass it as a systemd credential",
                            what, path, (unsigned)(st.st_mode & 07777));
                goto finish;
        }
        buf_init(ret, max);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof chunk);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        failure_set(f, r, 0, NULL, "Cannot read %s '%s': %s", what, path, strerror(-r));
                        break;
                }
                if (n == 0) {
                        r = 0;
                        break;
                }
                r = buf_append(ret, chunk, (size_t)n);
                if (r < 0) {
                        if (r == -E2BIG) {
                                r = -EFBIG;
                                failure_set(f, r, 0, NULL, "%s '%s' is larger than %zu bytes", what, path,
                                            max);
                        } else
                                failure_set(f, r, 0, NULL, "Out of memory reading %s", what);
                        break;
                }
        }
        explicit_wipe(chunk, sizeof chunk);
        if (r >= 0) {
                while (ret->len > 0 && strchr(" \t\r\n", ret->data[ret->len - 1]))
                        ret->data[--ret->len] = 0;
                if (ret->len == 0) {
                        r = -EINVAL;
                        failure_set(f, r, 0, NULL, "%s '%s' is empty", what, path);
                }
        }
        if (r < 0)
                buf_done_secret(ret);
finish:
        close(fd);
        return r;
}

int auth_read_client_secret(const char *file, struct buf *ret, struct auth_failure *f) {
        const char *dir = getenv("CREDENTIALS_DIRECTORY");
        _cleanup_free_ char *path = NULL;

        if (isempty(file)) {
                failure_set(f, -EINVAL, 0, NULL, "No client secret file configured");
                return -EINVAL;
        }
        /* A bare name is a systemd credential (LoadCredential=) when the service has any. */
        if (!strchr(file, '/') && !isempty(dir)) {
                size_t n = strlen(dir) + 1 + strlen(file) + 1;
                path = mem_malloc(n);
                if (!path) {
                        failure_set(f, -ENOMEM, 0, NULL, "Out of memory");
                        return -ENOMEM;
                }
                snprintf(path, n, "%s/%s", dir, file);
        }
        return read_small_file(path ?: file, AUTH_SECRET_FILE_MAX, true, ret, f, "client secret file");
}

static int assertion_get(struct auth *a, usec_t now, struct auth_failure *f) {
        struct buf b;
        int r;

        if (a->assertion.len > 0 && now < a->assertion_read_at + AUTH_ASSERTION_MAX_AGE_USEC)
                return 0;
        /* Kubernetes rotates the projected token file: read it again when ours is old. */
        r = read_small_file(a->federated_token_file, AUTH_ASSERTION_FILE_MAX, false, &b, f,
                            "federated token file");
        if (r < 0)
                return r;
        buf_done_secret(&a->assertion);
        a->assertion = b;
        a->assertion_read_at = now;
        return 0;
}

/* ---- fetching --------------------------------------------------------------------- */

static void on_fetch_done(struct http_request *req, struct http_response *resp, void *userdata);

static int scope_append(struct buf *b, const char *audience) {
        int r = http_url_escape(b, audience);
        if (r < 0)
                return r;
        return http_url_escape(b, endswith(audience, "/") ? ".default" : "/.default");
}

static int build_form(struct auth *a, struct auth_slot *s, usec_t now, struct buf *body,
                      struct auth_failure *f) {
        struct buf secret = {};
        int r;

        buf_init(body, 0);
        r = buf_puts(body, "grant_type=client_credentials&client_id=");
        if (r >= 0)
                r = http_url_escape(body, a->client_id);
        if (r >= 0)
                r = buf_puts(body, "&scope=");
        if (r >= 0)
                r = scope_append(body, s->audience);
        if (r < 0)
                goto oom;

        if (a->method == AUTH_CLIENT_SECRET) {
                /* Read at every fetch: never kept in memory longer than one request, and a
                 * rotated credential is picked up without a restart. */
                r = auth_read_client_secret(a->client_secret_file, &secret, f);
                if (r < 0)
                        goto fail;
                r = buf_puts(body, "&client_secret=");
                if (r >= 0)
                        r = http_url_escape(body, buf_str(&secret));
                buf_done_secret(&secret);
                if (r < 0)
                        goto oom;
        } else {
                r = assertion_get(a, now, f);
                if (r < 0)
                        goto fail;
                r = buf_puts(body, "&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-"
                                   "type%3Ajwt-bearer"
                                   "&client_assertion=");
                if (r >= 0)
                        r = http_url_escape(body, buf_str(&a->assertion));
                if (r < 0)
                        goto oom;
        }
        return 0;
oom:
        failure_set(f, r, 0, NULL, "Out of memory building the token request");
fail:
        buf_done_secret(body);
        return r;
}

static int fetch_send(struct auth_slot *s, usec_t now) {
        struct auth *a = s->auth;
        struct buf url, body = {};
        struct http_spec spec = {
                .timeout_usec = a->timeout_usec,
                .body_max = AUTH_TOKEN_BODY_MAX,
                .secret_response = true,
                .urgent = true, /* every call of its audience waits for it */
        };
        char *imds_headers[] = {(char *)"Metadata: true", NULL};
        int r;

        buf_init(&url, 0);
        if (a->method == AUTH_MANAGED_IDENTITY) {
                /* README §6.1: resource is the audience itself, not a scope. */
                r = buf_printf(&url, "%s/metadata/identity/oauth2/token?api-version=2018-02-01&resource=",
                               a->imds_endpoint);
                if (r >= 0)
                        r = http_url_escape(&url, s->audience);
                if (r >= 0 && a->client_id) {
                        r = buf_puts(&url, "&client_id=");
                        if (r >= 0)
                                r = http_url_escape(&url, a->client_id);
                }
                if (r < 0) {
                        failure_set(&s->failure, r, 0, NULL, "Out of memory building the token request");
                        goto finish;
                }
                spec.method = HTTP_GET;
                spec.headers = imds_headers;
                spec.plain_http = startswith_no_case(a->imds_endpoint, "http://");
        } else {
                r = buf_printf(&url, "%s/", a->authority_host);
                if (r >= 0)
                        r = http_url_escape(&url, a->tenant_id);
                if (r >= 0)
                        r = buf_puts(&url, "/oauth2/v2.0/token");
                if (r < 0) {
                        failure_set(&s->failure, r, 0, NULL, "Out of memory building the token request");
                        goto finish;
                }
                r = build_form(a, s, now, &body, &s->failure);
                if (r < 0)
                        goto finish;
                spec.method = HTTP_POST;
                spec.body = body.data;
                spec.body_len = body.len;
                spec.content_type = "application/x-www-form-urlencoded";
        }
        spec.url = buf_str(&url);

        r = http_request_start(a->http, &spec, on_fetch_done, s, &s->req);
        if (r < 0)
                failure_set(&s->failure, r, 0, NULL, "Cannot start the token request: %s", strerror(-r));
        else
                a->stats.fetches++;
finish:
        buf_done_secret(&body);
        buf_done(&url);
        return r;
}

static void waiters_notify(struct auth_slot *s, int error, const struct auth_failure *f) {
        struct auth_waiter *list = s->waiters_head;

        /* Detach first: a callback may ask again and queue itself anew. */
        s->waiters_head = s->waiters_tail = NULL;
        while (list) {
                struct auth_waiter *w = list;
                list = w->next;
                if (list)
                        list->prev = NULL;
                w->prev = w->next = NULL;
                w->slot = NULL;
                w->ready(w, error, f, w->userdata);
        }
}

static void fetch_failed(struct auth_slot *s) {
        struct auth *a = s->auth;
        usec_t now = auth_now(a), lifetime;
        struct auth_failure f = s->failure;

        s->fetching = false;
        a->stats.failures++;
        if (s->obtained != 0) {
                /* A background refresh failed; the old token serves on. */
                lifetime = s->expires_at > s->obtained ? s->expires_at - s->obtained : 0;
                s->next_background = now + MIN(AUTH_REFRESH_RETRY_USEC, lifetime / 10);
        }
        log_debug("Token for %s: %s", s->audience, f.message);
        waiters_notify(s, f.error ?: -EIO, &f);
}

static void on_defer(struct ev_loop *loop, ev_timer *w, int revents) {
        fetch_failed(w->data);
}

static void fetch_attempt(struct auth_slot *s) {
        struct auth *a = s->auth;
        int r;

        s->attempt++;
        r = fetch_send(s, auth_now(a));
        if (r < 0) {
                /* Failures to even start (a bad secret file, no memory) are final; they
                 * are reported from the loop, never from inside auth_token_get(). */
                ev_timer_set(&s->defer_timer, 0., 0.);
                ev_timer_start(a->loop, &s->defer_timer);
        }
}

static void fetch_start(struct auth_slot *s) {
        s->fetching = true;
        s->attempt = 0;
        s->prev_delay = 0;
        s->first_attempt = auth_now(s->auth);
        s->failure = (struct auth_failure){};
        fetch_attempt(s);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents) {
        fetch_attempt(w->data);
}

static void on_refresh(struct ev_loop *loop, ev_timer *w, int revents) {
        struct auth_slot *s = w->data;

        /* Refresh ahead only a token somebody uses; an idle one is fetched on demand. */
        if (s->used && !s->fetching)
                fetch_start(s);
}

static int token_install(struct auth_slot *s, struct auth_token *t, usec_t now) {
        struct auth *a = s->auth;
        size_t n = strlen("Bearer ") + strlen(t->access_token) + 1;
        char *v;
        double in;

        v = mem_malloc(n);
        if (!v)
                return -ENOMEM;
        snprintf(v, n, "Bearer %s", t->access_token);
        slot_drop_token(s);
        s->authorization = v;
        s->generation = ++a->generation;
        s->obtained = now;
        s->expires_at = t->expires_at;
        s->next_background = 0;
        in = (double)(auth_refresh_at(now, t->expires_at) - now) / (double)USEC_PER_SEC;
        ev_timer_set(&s->refresh_timer, MAX(in, 0.), 0.);
        ev_timer_start(a->loop, &s->refresh_timer);
        return 0;
}

static void on_fetch_done(struct http_request *req, struct http_response *resp, void *userdata) {
        struct auth_slot *s = userdata;
        struct auth *a = s->auth;
        usec_t now = auth_now(a), delay;
        struct auth_token t = {};
        const char *ra;
        bool has_ra = false;
        usec_t ra_usec = 0;
        int r;

        s->req = NULL;

        if (resp->error < 0) {
                failure_set(&s->failure, resp->error, 0, NULL, "Token request failed: %s", resp->error_text);
        } else if (resp->status == 200) {
                r = auth_decode_token(buf_str(&resp->body), resp->body.len, now, &t);
                if (r >= 0) {
                        r = token_install(s, &t, now);
                        auth_token_done(&t);
                        if (r >= 0) {
                                s->fetching = false;
                                waiters_notify(s, 0, NULL);
                                return;
                        }
                        failure_set(&s->failure, r, 200, NULL, "Out of memory storing the token");
                } else
                        failure_set(&s->failure, r, 200, NULL,
                                    "The token endpoint's answer was not understood");
        } else {
                _cleanup_free_ char *code = NULL, *description = NULL;

                (void)auth_decode_error(buf_str(&resp->body), resp->body.len, &code, &description);
                failure_set(&s->failure,
                            resp->status >= 500   ? -EIO
                            : resp->status == 429 ? -EAGAIN
                                                  : -EACCES,
                            resp->status, code, "Token endpoint answered %ld%s%s%s%s", resp->status,
                            code ? " " : "", strempty(code), description ? ": " : "", strempty(description));
        }

        ra = http_response_header(resp, "Retry-After");
        if (ra && retry_after_parse(ra, now, &ra_usec) >= 0)
                has_ra = true;
        struct backoff_attempt att = {
                .error = resp->error,
                .status = resp->status,
                .sent = resp->sent,
                .idempotent = true, /* getting a token changes nothing */
                .imds = a->method == AUTH_MANAGED_IDENTITY,
                .has_retry_after = has_ra,
                .retry_after_usec = ra_usec,
                .attempt = s->attempt,
                .max_retries = a->max_retries,
                .elapsed_usec = now - s->first_attempt,
                .prev_delay_usec = s->prev_delay,
        };
        /* A token answer we could not decode will not get better by asking again. */
        if (resp->error == 0 && resp->status == 200)
                att.status = 400;
        if (backoff_retry(&a->backoff, &att, auth_random(a), &delay)) {
                log_debug("Token for %s: %s, retrying in %.1fs", s->audience, s->failure.message,
                          (double)delay / USEC_PER_SEC);
                s->prev_delay = delay;
                ev_timer_set(&s->retry_timer, (double)delay / USEC_PER_SEC, 0.);
                ev_timer_start(a->loop, &s->retry_timer);
                return;
        }
        fetch_failed(s);
}

/* ---- public ----------------------------------------------------------------------- */

int auth_token_get(struct auth *a, const char *audience, struct auth_waiter *w, auth_ready_fn ready,
                   void *userdata, const char **ret_authorization, uint64_t *ret_generation) {
        struct auth_slot *s = audience ? slot_find(a, audience) : NULL;
        usec_t now = auth_now(a);
        enum auth_token_state state;

        if (!s)
                return -EPERM;

        state = auth_token_state(s->obtained, s->expires_at, now);
        if (state == AUTH_TOKEN_REFRESH_DUE && !s->fetching && now >= s->next_background)
                fetch_start(s); /* in the background: this one is still good */
        if (state == AUTH_TOKEN_FRESH || state == AUTH_TOKEN_REFRESH_DUE) {
                s->used = true;
                *ret_authorization = s->authorization;
                if (ret_generation)
                        *ret_generation = s->generation;
                return 1;
        }

        assert(!w->slot);
        w->ready = ready;
        w->userdata = userdata;
        w->slot = s;
        w->next = NULL;
        w->prev = s->waiters_tail;
        if (s->waiters_tail)
                s->waiters_tail->next = w;
        else
                s->waiters_head = w;
        s->waiters_tail = w;
        if (!s->fetching)
                fetch_start(s);
        return 0;
}

void auth_waiter_cancel(struct auth_waiter *w) {
        struct auth_slot *s = w->slot;

        if (!s)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                s->waiters_head = w->next;
        if (w->next)
                w->next->prev = w->prev;
        else
                s->waiters_tail = w->prev;
        w->prev = w->next = NULL;
        w->slot = NULL;
}

void auth_token_rejected(struct auth *a, const char *audience, uint64_t generation) {
        struct auth_slot *s = slot_find(a, audience);

        if (!s || !s->authorization || s->generation != generation)
                return;
        a->stats.rejected++;
        slot_drop_token(s);
}

void auth_get_stats(const struct auth *a, struct auth_stats *ret) {
        *ret = a->stats;
}

static int slot_add(struct auth *a, const char *audience) {
        struct auth_slot *s;

        if (isempty(audience) || slot_find(a, audience))
                return 0;
        assert(a->n_slots < SLOTS_MAX);
        s = &a->slots[a->n_slots];
        *s = (struct auth_slot){.auth = a};
        s->audience = mem_strdup(audience);
        if (!s->audience)
                return -ENOMEM;
        ev_init(&s->retry_timer, on_retry);
        s->retry_timer.data = s;
        ev_init(&s->refresh_timer, on_refresh);
        s->refresh_timer.data = s;
        ev_init(&s->defer_timer, on_defer);
        s->defer_timer.data = s;
        a->n_slots++;
        return 0;
}

int auth_new(struct ev_loop *loop, struct http *http, const struct auth_conf *conf, struct auth **ret) {
        const struct cloud *c = conf->cloud;
        const char *federated = conf->federated_token_file ?: getenv("AZURE_FEDERATED_TOKEN_FILE");
        struct auth *a;
        int r;

        if (!c)
                return -EINVAL;
        switch (conf->method) {
        case AUTH_MANAGED_IDENTITY:
                if (isempty(c->imds_endpoint))
                        return -EINVAL;
                break;
        case AUTH_CLIENT_SECRET:
                if (isempty(conf->tenant_id) || isempty(conf->client_id) ||
                    isempty(conf->client_secret_file) || isempty(c->authority_host))
                        return -EINVAL;
                break;
        case AUTH_WORKLOAD_IDENTITY:
                if (isempty(conf->tenant_id) || isempty(conf->client_id) || isempty(federated) ||
                    isempty(c->authority_host))
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }

        a = new0(struct auth, 1);
        if (!a)
                return -ENOMEM;
        a->loop = loop;
        a->http = http;
        a->method = conf->method;
        a->max_retries = conf->max_retries;
        a->backoff = conf->backoff;
        if (a->backoff.base_usec == 0)
                a->backoff.base_usec = BACKOFF_BASE_USEC_DEFAULT;
        if (a->backoff.cap_usec == 0)
                a->backoff.cap_usec = BACKOFF_CAP_USEC_DEFAULT;
        if (a->backoff.retry_after_max_usec == 0)
                a->backoff.retry_after_max_usec = BACKOFF_RETRY_AFTER_MAX_USEC_DEFAULT;
        a->timeout_usec = conf->timeout_usec;
        a->random_state = (uint64_t)(uintptr_t)a ^ (uint64_t)(ev_time() * 1e6) ^ 0x9E3779B97F4A7C15ULL;
        if (a->random_state == 0)
                a->random_state = 1;
        buf_init(&a->assertion, AUTH_ASSERTION_FILE_MAX);

        r = -ENOMEM;
        if (conf->tenant_id && !(a->tenant_id = mem_strdup(conf->tenant_id)))
                goto fail;
        if (conf->client_id && !(a->client_id = mem_strdup(conf->client_id)))
                goto fail;
        if (conf->client_secret_file && !(a->client_secret_file = mem_strdup(conf->client_secret_file)))
                goto fail;
        if (federated && !(a->federated_token_file = mem_strdup(federated)))
                goto fail;
        if (c->authority_host && !(a->authority_host = strdup_trimmed(c->authority_host)))
                goto fail;
        if (c->imds_endpoint && !(a->imds_endpoint = strdup_trimmed(c->imds_endpoint)))
                goto fail;

        r = slot_add(a, c->arm_audience);
        if (r >= 0)
                r = slot_add(a, c->vault_audience);
        if (r >= 0)
                r = slot_add(a, c->hsm_audience);
        if (r < 0)
                goto fail;
        if (a->n_slots == 0) {
                r = -EINVAL;
                goto fail;
        }
        *ret = a;
        return 0;
fail:
        auth_free(a);
        return r;
}

struct auth *auth_free(struct auth *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_slots; i++) {
                struct auth_slot *s = &a->slots[i];

                if (s->req)
                        http_request_cancel(s->req);
                while (s->waiters_head)
                        auth_waiter_cancel(s->waiters_head);
                ev_timer_stop(a->loop, &s->retry_timer);
                ev_timer_stop(a->loop, &s->defer_timer);
                slot_drop_token(s);
                mem_free(s->audience);
        }
        buf_done_secret(&a->assertion);
        mem_free(a->tenant_id);
        mem_free(a->client_id);
        mem_free(a->client_secret_file);
        mem_free(a->federated_token_file);
        mem_free(a->authority_host);
        mem_free(a->imds_endpoint);
        mem_free(a);
        return NULL;
}
