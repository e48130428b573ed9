/* SPDX-License-Identifier: MIT */
/* libcurl multi_socket on one libev loop (curl's evhiperfifo pattern, corrected): one
 * ev_timer for curl's timer, an ev_io per socket from a pool we own, the finished
 * transfers drained after every socket_action, and a deadline of our own per request in
 * flight. It must not retry, log headers or bodies, switch TLS verification off, or call
 * back into the user from inside a libcurl callback. */

#include <assert.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "hashmap.h"
#include "http.h"
#include "log.h"
#include "mem.h"
#include "strv.h"

/* A socket libcurl asked us to watch. Allocated from a pool at start-up (libev aborts on
 * allocation failure, so its watchers live in our memory), grown if ever needed. */
struct http_sock {
        ev_io io; /* io.data = this */
        struct http *http;
        curl_socket_t fd;
        struct http_sock *next_free;
};

struct sock_chunk {
        struct http_sock *socks; /* owned */
        size_t n;
};

/* One host: its queued requests (not urgent), oldest first, how many are in flight, and how
 * many of its connections we believe libcurl keeps idle (see struct http). */
struct http_host {
        struct http_request *head, *tail; /* owned */
        unsigned running;
        unsigned idle;
        ev_tstamp idle_since; /* when the newest of them became idle */
        /* A request for this host had to be ended by our deadline: libcurl lost track of it,
         * and its books on the host's connections may be wrong (see on_deadline). */
        bool lost_transfer;
};

struct http_request {
        struct http *http;
        struct http_spec *pending;  /* owned while queued: the spec, set up when it starts */
        CURL *easy;                 /* owned; NULL until it starts */
        struct curl_slist *headers; /* owned; holds the Authorization line: wiped before freeing */
        char *body;                 /* owned; wiped */
        size_t body_len;
        char *url_log; /* owned: the URL without its query, for the debug log */
        enum http_method method;
        bool secret_response;
        bool running;          /* added to the multi handle */
        bool dropped;          /* its multi handle was dropped: to be ended with -ENOMEM (see multi_drop) */
        usec_t timeout_usec;   /* libcurl's timeout for it; the deadline adds a margin */
        ev_timer deadline;     /* ours, active while running; deadline.data = this (see on_deadline) */
        int write_error;       /* -E2BIG/-ENOMEM from our write or header callback */
        struct buf header_buf; /* raw header block of the latest answer */
        struct http_response resp;
        http_done_fn done;
        void *userdata;
        ev_tstamp started;
        struct http_request *prev, *next; /* in http.urgent, its host's queue, or http.running */
        bool urgent;
        uint64_t seq;              /* order of arrival */
        char host[HTTP_HOST_MAX];  /* lowercase host of the URL ("" if it has none) */
        struct http_host *hostq;   /* borrowed from http.hosts */
        char errbuf[CURL_ERROR_SIZE];
};

struct http {
        struct ev_loop *loop;          /* borrowed */
        CURLM *multi;                  /* owned */
        ev_timer timer;                /* curl's timer; timer.data = this */
        char *ca_file;                 /* owned */
        struct curl_slist *connect_to; /* owned */
        char *user_agent;              /* owned */
        unsigned max_concurrent;
        usec_t timeout_usec;
        bool test_no_curl_timeout; /* see struct http_conf */

        struct sock_chunk *chunks; /* owned array of owned pools of socket watchers */
        size_t n_chunks;
        struct http_sock *free_socks;

        struct http_request *urgent_head, *urgent_tail; /* waiting urgent requests, FIFO; owned */
        struct hashmap *hosts; /* owned: host -> struct http_host, owned (the other waiting ones) */
        struct http_request *running; /* in flight; owned */
        unsigned n_running, n_queued;
        /* libcurl keeps at most max_connections open (CURLMOPT_MAX_TOTAL_CONNECTIONS and
         * MAXCONNECTS): those in flight, and idle ones for reuse. We mirror which hosts have
         * idle ones (an HTTP/1.1 answer leaves its connection idle; opening a connection when
         * all are taken closes the one idle the longest, as libcurl does), so that a freed
         * slot goes to a host it can reuse a connection of: every new connection is a TLS
         * handshake, about a millisecond and a half of CPU. A guess (libcurl does not tell),
         * used only to choose the order. */
        unsigned max_connections, n_idle;
        uint64_t seq;
        /* multi_drop() is under way: nothing is added to the multi handle it drops. */
        bool dropping;
        struct http_stats stats;
};

static const char *const method_table[_HTTP_METHOD_MAX] = {
        [HTTP_GET] = "GET",   [HTTP_PUT] = "PUT",       [HTTP_PATCH] = "PATCH",
        [HTTP_POST] = "POST", [HTTP_DELETE] = "DELETE",
};

const char *http_method_to_string(enum http_method m) {
        if (m < 0 || m >= _HTTP_METHOD_MAX)
                return NULL;
        return method_table[m];
}

/* ---- helpers --------------------------------------------------------------------- */

int http_url_escape(struct buf *b, const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t saved = b->len;
        int r = 0;

        for (const unsigned char *p = (const unsigned char *)s; *p && r >= 0; p++) {
                if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                    *p == '-' || *p == '.' || *p == '_' || *p == '~')
                        r = buf_putc(b, (char)*p);
                else {
                        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
                        r = buf_append(b, e, 3);
                }
        }
        if (r < 0) {
                b->len = saved;
                if (b->data)
                        b->data[saved] = 0;
        }
        return r;
}

int http_url_host(const char *url, char *buf, size_t len) {
        const char *p, *e, *at;
        size_t n;

        p = startswith_no_case(url, "https://");
        if (!p)
                p = startswith_no_case(url, "http://");
        if (!p)
                return -EINVAL;
        e = p + strcspn(p, "/?#");
        at = memchr(p, '@', (size_t)(e - p));
        if (at)
                p = at + 1;
        if (*p == '[') /* IPv6 literal */
                n = strcspn(p, "]") + 1;
        else
                n = strcspn(p, ":/?#");
        if (n == 0 || n >= len || p + n > e)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                buf[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
        buf[n] = 0;
        return 0;
}

const char *http_response_header(const struct http_response *r, const char *name) {
        for (size_t i = 0; i < r->n_headers; i++)
                if (strcasecmp(r->headers[i].name, name) == 0)
                        return r->headers[i].value;
        return NULL;
}

void http_response_take_body(struct http_response *r, struct buf *ret) {
        *ret = r->body;
        buf_init(&r->body, r->body.max);
}

/* Splits the raw header block in place into name/value pairs. Lines that are not
 * "Name: value" (the status line) are skipped. */
static int parse_headers(struct http_request *req) {
        char *p = req->header_buf.data;
        size_t n = 0, allocated = 0;
        struct http_header *hs = NULL;

        if (!p)
                return 0;
        while (*p) {
                char *eol = p + strcspn(p, "\r\n"), *colon, *v, *e;
                bool last = *eol == 0;

                *eol = 0;
                colon = strchr(p, ':');
                if (colon && colon > p && !strchr(" \t", *p)) {
                        *colon = 0;
                        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
                                ;
                        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
                                ;
                        *e = 0;
                        if (GREEDY_REALLOC(hs, allocated, n + 1) < 0) {
                                mem_free(hs);
                                return -ENOMEM;
                        }
                        hs[n++] = (struct http_header){.name = p, .value = v};
                }
                if (last)
                        break;
                p = eol + 1;
                while (*p == '\r' || *p == '\n')
                        p++;
        }
        req->resp.headers = hs;
        req->resp.n_headers = n;
        return 0;
}

static int curl_result_to_errno(CURLcode c) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EADDRNOTAVAIL;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SSL_CONNECT_ERROR:
                return -ECONNABORTED;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_SSL_INVALIDCERTSTATUS:
                return -EPERM;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
                return -ECONNRESET;
        case CURLE_GOT_NOTHING:
                return -ENODATA;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_BAD_CONTENT_ENCODING:
                return -EPROTO;
        case CURLE_FILESIZE_EXCEEDED:
                return -E2BIG;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* Failures that happen before a byte of the request can have left. */
static bool failed_before_sending(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_CONNECT:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        case CURLE_SSL_CRL_BADFILE:
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return true;
        default:
                return false;
        }
}

/* ---- requests -------------------------------------------------------------------- */

static void slist_free_wiped(struct curl_slist *l) {
        for (struct curl_slist *i = l; i; i = i->next)
                explicit_wipe(i->data, strlen(i->data));
        curl_slist_free_all(l);
}

/* A queued request keeps its spec until it starts, rather than a libcurl handle set up
 * (5 KiB each): thousands may wait behind the cap. Its own copies; body is borrowed from
 * the request; the authorization is wiped when freed. */
static void spec_free(struct http_spec *s) {
        if (!s)
                return;
        mem_free((char *) s->url);
        if (s->authorization) {
                explicit_wipe((char *) s->authorization, strlen(s->authorization));
                mem_free((char *) s->authorization);
        }
        strv_free((char **) s->headers);
        mem_free((char *) s->content_type);
        mem_free(s);
}

static struct http_spec *spec_copy(const struct http_spec *spec, const void *body) {
        struct http_spec *s = new0(struct http_spec, 1);

        if (!s)
                return NULL;
        *s = *spec;
        s->url = s->authorization = s->content_type = NULL;
        s->headers = NULL;
        s->body = body;
        if (!(s->url = mem_strdup(spec->url)) ||
            (spec->authorization && !(s->authorization = mem_strdup(spec->authorization))) ||
            (spec->content_type && !(s->content_type = mem_strdup(spec->content_type))) ||
            (spec->headers && !(s->headers = strv_copy(spec->headers)))) {
                spec_free(s);
                return NULL;
        }
        return s;
}

static void request_free(struct http_request *req) {
        if (!req)
                return;
        spec_free(req->pending);
        /* Also drops an expiry libev has queued but not delivered yet (libcurl finished the
         * transfer in the same loop iteration): the request completes once. */
        ev_timer_stop(req->http->loop, &req->deadline);
        if (req->easy)
                curl_easy_cleanup(req->easy);
        slist_free_wiped(req->headers);
        if (req->body) {
                explicit_wipe(req->body, req->body_len);
                mem_free(req->body);
        }
        mem_free(req->url_log);
        if (req->secret_response) {
                buf_done_secret(&req->resp.body);
                buf_done_secret(&req->header_buf);
        } else {
                buf_done(&req->resp.body);
                buf_done(&req->header_buf);
        }
        mem_free(req->resp.headers);
        mem_free(req);
}

static void list_remove(struct http_request **head, struct http_request **tail, struct http_request *req) {
        if (req->prev)
                req->prev->next = req->next;
        else
                *head = req->next;
        if (req->next)
                req->next->prev = req->prev;
        else if (tail)
                *tail = req->prev;
        req->prev = req->next = NULL;
}

static void list_append(struct http_request **head, struct http_request **tail, struct http_request *req) {
        req->next = NULL;
        req->prev = *tail;
        if (*tail)
                (*tail)->next = req;
        else
                *head = req;
        *tail = req;
}

static int host_get(struct http *h, const char *host, struct http_host **ret) {
        struct http_host *hq = hashmap_get(h->hosts, host);
        int r;

        if (!hq) {
                hq = new0(struct http_host, 1);
                if (!hq)
                        return -ENOMEM;
                r = hashmap_put(h->hosts, host, hq);
                if (r < 0) {
                        mem_free(hq);
                        return r;
                }
        }
        *ret = hq;
        return 0;
}

/* Queues a request that cannot start yet: urgent ones in their own FIFO, which goes first,
 * the others in their host's queue. */
static void queue_push(struct http *h, struct http_request *req) {
        if (req->urgent)
                list_append(&h->urgent_head, &h->urgent_tail, req);
        else
                list_append(&req->hostq->head, &req->hostq->tail, req);
        h->n_queued++;
}

static void queue_unlink(struct http *h, struct http_request *req) {
        if (req->urgent)
                list_remove(&h->urgent_head, &h->urgent_tail, req);
        else
                list_remove(&req->hostq->head, &req->hostq->tail, req);
        h->n_queued--;
}

/* The request to start next: the oldest urgent one; else one of a host with an idle
 * connection if any has queued requests (no new connection then); among those, or among all
 * when none has, one of a host with the fewest requests in flight, preferring freed_host
 * (whose connection has just become free: NULL if none), else the oldest. Spread over the
 * hosts, every host needs about one connection, and a freed connection serves the next
 * request for its host (or another host's whose connection waits idle) instead of a new one
 * being opened (each Key Vault is a host of its own); first come first served would open one
 * for every run of requests to the same host, and a host with a long queue would hold every
 * slot (a host whose requests do not end has no idle connection, so it gets no preference).
 * NULL when nothing waits. */
static struct http_request *queue_next(struct http *h, const char *freed_host) {
        struct http_host *hq, *best = NULL, *freed = NULL;
        const char *name;

        if (h->urgent_head)
                return h->urgent_head;
        if (h->n_queued == 0)
                return NULL;
        if (freed_host && (freed = hashmap_get(h->hosts, freed_host)) && !freed->head)
                freed = NULL;
        HASHMAP_FOREACH(name, hq, h->hosts) {
                if (!hq->head)
                        continue;
                if (!best || (hq->idle > 0) > (best->idle > 0))
                        best = hq;
                else if ((hq->idle > 0) < (best->idle > 0))
                        continue;
                else if (hq->running < best->running)
                        best = hq;
                else if (hq->running > best->running || best == freed)
                        continue;
                else if (hq == freed || hq->head->seq < best->head->seq)
                        best = hq;
        }
        return best ? best->head : NULL;
}

static size_t on_curl_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct http_request *req = userdata;
        size_t n = size * nmemb;
        int r;

        r = buf_append(&req->resp.body, ptr, n);
        if (r < 0) {
                req->write_error = r;
                return CURL_WRITEFUNC_ERROR;
        }
        return n;
}

static size_t on_curl_header(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct http_request *req = userdata;
        size_t n = size * nmemb;
        int r;

        /* A new status line starts a new answer (after 100 Continue, or a proxy's
         * CONNECT answer): only the last one's headers count. */
        if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
                buf_clear(&req->header_buf);
        r = buf_append(&req->header_buf, ptr, n);
        if (r < 0) {
                req->write_error = r;
                return CURL_WRITEFUNC_ERROR;
        }
        return n;
}

static int request_setup(struct http *h, struct http_request *req, const struct http_spec *spec) {
        usec_t timeout = req->timeout_usec;
        char *line;
        int r = 0;

#define SET(opt, val)                                                                                       \
        do {                                                                                                \
                if (curl_easy_setopt(req->easy, opt, val) != CURLE_OK)                                      \
                        return -ENOMEM;                                                                     \
        } while (0)

        SET(CURLOPT_PRIVATE, req);
        SET(CURLOPT_URL, spec->url);
        SET(CURLOPT_NOSIGNAL, 1L);
        SET(CURLOPT_ERRORBUFFER, req->errbuf);
        SET(CURLOPT_PROTOCOLS_STR, spec->plain_http ? "http" : "https");
        SET(CURLOPT_FOLLOWLOCATION, 0L);
        /* Verification is never switched off: there is no setting for it. */
        SET(CURLOPT_SSL_VERIFYPEER, 1L);
        SET(CURLOPT_SSL_VERIFYHOST, 2L);
        SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
        /* No TLS session-ID cache. Debian 12's libcurl 7.88 with OpenSSL 3 double-frees a session
         * when storing it in that cache fails for want of memory: a TLS 1.3 ticket arrives
         * after the handshake, inside SSL_read(), OpenSSL's new-session callback hands it to
         * libcurl, libcurl frees it on its failure path and yet tells OpenSSL it kept it
         * (found by tests/torture: ASan double-free under SSL_read). With the cache off,
         * libcurl installs no such callback. What it costs: a new connection does a full
         * handshake instead of resuming; connections are kept and reused (HTTP/2, keep-alive),
         * so that is a handful of handshakes per sweep. */
        SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
        if (h->ca_file) {
                SET(CURLOPT_CAINFO, h->ca_file);
                SET(CURLOPT_CAPATH, NULL);
        }
        if (h->connect_to)
                SET(CURLOPT_CONNECT_TO, h->connect_to);
        /* IMDS is link-local plain HTTP and must never go through a proxy. */
        if (spec->plain_http)
                SET(CURLOPT_NOPROXY, "*");
        /* libcurl silently sends a request again when a reused connection turns out to
         * be dead before any answer came, whatever the method. A write must not be
         * repeated behind our back (backoff.c decides that), so writes get a connection
         * of their own: they are rare, a handshake each is cheap. */
        if (spec->method != HTTP_GET)
                SET(CURLOPT_FRESH_CONNECT, 1L);
        /* HTTP/2 over TLS only: IMDS speaks plain HTTP/1.1, and allowing HTTP/2 there would
         * only make libcurl treat it as a host that might multiplex (see below). */
        SET(CURLOPT_HTTP_VERSION, (long)(spec->plain_http ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2TLS));
        /* Wait for a connection that can multiplex rather than open another, unless libcurl
         * lost a transfer of this host before: libcurl 7.88 decides "wait" while the host's
         * first connection has not said whether it multiplexes, and when an allocation failed
         * on that connection it stays undecided in libcurl's cache; every later transfer to the
         * host would wait, with no timeout of libcurl's, until that connection ages out after
         * 118 s (found by tests/torture: a token request failed for want of memory, and the
         * next four each ran into our deadline). */
        if (!spec->plain_http && !req->hostq->lost_transfer)
                SET(CURLOPT_PIPEWAIT, 1L);
        if (!h->test_no_curl_timeout) {
                SET(CURLOPT_TIMEOUT_MS, (long)(timeout / USEC_PER_MSEC));
                SET(CURLOPT_CONNECTTIMEOUT_MS,
                    (long)(MIN(timeout, HTTP_CONNECT_TIMEOUT_USEC) / USEC_PER_MSEC));
        }
        SET(CURLOPT_USERAGENT, h->user_agent);
        /* All encodings libcurl decodes; the size cap applies to the decoded bytes. */
        SET(CURLOPT_ACCEPT_ENCODING, "");
        SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->resp.body.max);
        SET(CURLOPT_WRITEFUNCTION, on_curl_write);
        SET(CURLOPT_WRITEDATA, req);
        SET(CURLOPT_HEADERFUNCTION, on_curl_header);
        SET(CURLOPT_HEADERDATA, req);

        switch (spec->method) {
        case HTTP_GET:
                break;
        case HTTP_POST:
        case HTTP_PUT:
        case HTTP_PATCH:
        case HTTP_DELETE:
                if (spec->method != HTTP_POST)
                        SET(CURLOPT_CUSTOMREQUEST, http_method_to_string(spec->method));
                if (spec->body || spec->method != HTTP_DELETE) {
                        /* Ours, not libcurl's copy: ours is wiped when the request ends. */
                        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
                        SET(CURLOPT_POSTFIELDS, req->body ?: "");
                }
                break;
        default:
                return -EINVAL;
        }
#undef SET

        {
                struct curl_slist *l = NULL, *n;
                const char *fixed[] = {"Accept: application/json", "Expect:"};

#define APPEND(s)                                                                                           \
        do {                                                                                                \
                n = curl_slist_append(l, (s));                                                              \
                if (!n) {                                                                                   \
                        r = -ENOMEM;                                                                        \
                        goto fail;                                                                          \
                }                                                                                           \
                l = n;                                                                                      \
        } while (0)

                for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                        APPEND(fixed[i]);
                if (spec->body) {
                        struct buf b;
                        buf_init(&b, 1024);
                        r = buf_printf(&b, "Content-Type: %s", spec->content_type ?: "application/json");
                        if (r < 0) {
                                buf_done(&b);
                                goto fail;
                        }
                        n = curl_slist_append(l, buf_str(&b));
                        buf_done(&b);
                        if (!n) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        l = n;
                }
                STRV_FOREACH (hd, spec->headers)
                        APPEND(*hd);
                if (spec->authorization) {
                        size_t len = strlen("Authorization: ") + strlen(spec->authorization) + 1;
                        line = mem_malloc(len);
                        if (!line) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        snprintf(line, len, "Authorization: %s", spec->authorization);
                        n = curl_slist_append(l, line);
                        explicit_wipe(line, len);
                        mem_free(line);
                        if (!n) {
                                r = -ENOMEM;
                                goto fail;
                        }
                        l = n;
                }
#undef APPEND
                req->headers = l;
                if (curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, l) != CURLE_OK)
                        return -ENOMEM;
                return 0;
        fail:
                slist_free_wiped(l);
                return r;
        }
}

static void request_finish(struct http_request *req, CURLcode result);

/* libcurl's timeout plus this: libcurl, when it works, always reports first. */
static usec_t deadline_usec(usec_t timeout_usec) {
        return timeout_usec +
               CLAMP(timeout_usec / 10, HTTP_DEADLINE_MARGIN_MIN_USEC, HTTP_DEADLINE_MARGIN_MAX_USEC);
}

/* The request takes an idle connection of its host, or libcurl opens one (closing the
 * connection idle the longest when all are taken): see struct http. Writes always open one
 * (CURLOPT_FRESH_CONNECT). */
static void connection_take(struct http *h, struct http_request *req) {
        struct http_host *hq, *oldest = NULL;
        const char *name;

        if (req->method == HTTP_GET && req->hostq->idle > 0) {
                req->hostq->idle--;
                h->n_idle--;
                return;
        }
        if (h->n_running + h->n_idle < h->max_connections || h->n_idle == 0)
                return;
        HASHMAP_FOREACH(name, hq, h->hosts)
                if (hq->idle > 0 && (!oldest || hq->idle_since < oldest->idle_since))
                        oldest = hq;
        if (oldest) {
                oldest->idle--;
                h->n_idle--;
        }
}

/* An answer came over HTTP/1.1 keep-alive: its connection waits in libcurl's cache. */
static void connection_release(struct http *h, struct http_request *req) {
        const char *c;

        if (req->resp.error < 0 || req->resp.status == 0)
                return;
        c = http_response_header(&req->resp, "Connection");
        if (c && strcasestr(c, "close"))
                return;
        if (h->n_idle >= h->max_connections)
                return;
        req->hostq->idle++;
        req->hostq->idle_since = ev_now(h->loop);
        h->n_idle++;
}

static int multi_new(struct http *h, CURLM **ret);

static int request_add(struct http *h, struct http_request *req) {
        CURLMcode m;

        req->started = ev_now(h->loop);
        /* After multi_drop() could not make a new multi handle, the next request makes it. */
        if (!h->multi && multi_new(h, &h->multi) < 0)
                return -ENOMEM;
        m = curl_multi_add_handle(h->multi, req->easy);
        if (m != CURLM_OK)
                return m == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EIO;
        connection_take(h, req);
        /* The watcher is ours (libev allocates nothing for it; its timer heap was grown at
         * start-up, see loop.c): starting it cannot fail. */
        ev_timer_set(&req->deadline, (double)deadline_usec(req->timeout_usec) / USEC_PER_SEC, 0.);
        ev_timer_start(h->loop, &req->deadline);
        req->running = true;
        req->hostq->running++;
        req->next = h->running;
        if (h->running)
                h->running->prev = req;
        h->running = req;
        h->n_running++;
        return 0;
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents);

/* Sets a request up for libcurl: a handle with every option. Returns 0 or -ENOMEM. */
static int request_prepare(struct http *h, struct http_request *req, const struct http_spec *spec) {
        req->easy = curl_easy_init();
        if (!req->easy)
                return -ENOMEM;
        return request_setup(h, req, spec);
}

/* Starts queued requests while there is room, the first for freed_host if it is not NULL.
 * Called from loop callbacks only. */
static void queue_pump(struct http *h, const char *freed_host) {
        struct http_request *req;

        if (h->dropping)
                return; /* multi_drop() pumps when its new handle is in place */
        while (h->n_running < h->max_concurrent && (req = queue_next(h, freed_host))) {
                int r;

                freed_host = NULL;
                queue_unlink(h, req);
                r = request_prepare(h, req, req->pending);
                spec_free(req->pending);
                req->pending = NULL;
                if (r >= 0)
                        r = request_add(h, req);
                if (r < 0) {
                        req->write_error = r;
                        request_finish(req, CURLE_OUT_OF_MEMORY);
                }
        }
}

int http_request_start(struct http *h, const struct http_spec *spec, http_done_fn done, void *userdata,
                       struct http_request **ret) {
        struct http_request *req;
        int r;

        if (!spec->url || spec->method < 0 || spec->method >= _HTTP_METHOD_MAX || !done)
                return -EINVAL;
        if (!startswith_no_case(spec->url, "https://") &&
            !(spec->plain_http && startswith_no_case(spec->url, "http://")))
                return -EINVAL;

        req = new0(struct http_request, 1);
        if (!req)
                return -ENOMEM;
        req->http = h;
        req->method = spec->method;
        req->secret_response = spec->secret_response;
        req->urgent = spec->urgent;
        req->seq = h->seq++;
        req->timeout_usec = spec->timeout_usec ?: h->timeout_usec;
        ev_init(&req->deadline, on_deadline);
        req->deadline.data = req;
        req->done = done;
        req->userdata = userdata;
        if (http_url_host(spec->url, req->host, sizeof req->host) < 0)
                req->host[0] = 0; /* libcurl will say what is wrong with it */
        r = host_get(h, req->host, &req->hostq);
        if (r < 0)
                goto fail;
        buf_init(&req->resp.body, spec->body_max ?: HTTP_BODY_MAX_DEFAULT);
        buf_init(&req->header_buf, HTTP_HEADERS_MAX);

        req->url_log = mem_strndup(spec->url, strcspn(spec->url, "?#"));
        if (!req->url_log) {
                r = -ENOMEM;
                goto fail;
        }
        if (spec->body) {
                req->body = mem_memdup(spec->body, spec->body_len ?: 1);
                if (!req->body) {
                        r = -ENOMEM;
                        goto fail;
                }
                req->body_len = spec->body_len;
        }
        /* Nothing overtakes a queued request of its own rank (or above). */
        if (h->n_running < h->max_concurrent && !h->urgent_head && (req->urgent || h->n_queued == 0) &&
            !h->dropping) {
                r = request_prepare(h, req, spec);
                if (r >= 0)
                        r = request_add(h, req);
                if (r < 0)
                        goto fail;
        } else {
                req->pending = spec_copy(spec, req->body);
                if (!req->pending) {
                        r = -ENOMEM;
                        goto fail;
                }
                queue_push(h, req);
        }
        if (ret)
                *ret = req;
        return 0;
fail:
        request_free(req);
        return r;
}

static void request_unlink(struct http_request *req) {
        struct http *h = req->http;

        if (req->running) {
                ev_timer_stop(h->loop, &req->deadline);
                curl_multi_remove_handle(h->multi, req->easy);
                list_remove(&h->running, NULL, req);
                req->running = false;
                req->hostq->running--;
                h->n_running--;
        } else
                queue_unlink(h, req);
}

void http_request_cancel(struct http_request *req) {
        if (!req)
                return;
        request_unlink(req);
        request_free(req);
}

static void request_finish(struct http_request *req, CURLcode result) {
        struct http *h = req->http;
        struct http_response *resp = &req->resp;
        curl_off_t pretransfer = 0, down = 0, up = 0;
        long status = 0, header_size = 0, request_size = 0;
        int r;

        if (req->easy) {
                (void)curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
                (void)curl_easy_getinfo(req->easy, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
                (void)curl_easy_getinfo(req->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
                (void)curl_easy_getinfo(req->easy, CURLINFO_SIZE_UPLOAD_T, &up);
                (void)curl_easy_getinfo(req->easy, CURLINFO_HEADER_SIZE, &header_size);
                (void)curl_easy_getinfo(req->easy, CURLINFO_REQUEST_SIZE, &request_size);
        }

        resp->error = req->write_error ?: curl_result_to_errno(result);
        resp->status = resp->error == 0 ? status : 0;
        resp->sent = resp->status > 0 || (!failed_before_sending(result) && pretransfer > 0);
        /* libcurl leaves its buffer empty for some errors (out of memory among them). */
        if (resp->error < 0 && !req->errbuf[0])
                snprintf(req->errbuf, sizeof req->errbuf, "%s", strerror(-resp->error));
        resp->error_text = req->errbuf;
        resp->duration_usec = (usec_t)((ev_now(h->loop) - req->started) * USEC_PER_SEC);
        if (resp->error == 0) {
                r = parse_headers(req);
                if (r < 0) {
                        resp->error = r;
                        resp->status = 0;
                }
        }

        connection_release(h, req);
        h->stats.requests++;
        if (resp->error < 0)
                h->stats.failures++;
        h->stats.bytes_sent += (uint64_t)MAX(up, 0) + (uint64_t)MAX(request_size, 0);
        h->stats.bytes_received += (uint64_t)MAX(down, 0) + (uint64_t)MAX(header_size, 0);

        /* Never headers, never bodies: the URL without its query, what came back. */
        if (resp->error < 0)
                log_debug("%s %s: %s (%s) after %.3fs", http_method_to_string(req->method), req->url_log,
                          strerror(-resp->error), req->errbuf, (double)resp->duration_usec / USEC_PER_SEC);
        else
                log_debug("%s %s: %ld, %zu bytes in %.3fs", http_method_to_string(req->method), req->url_log,
                          resp->status, resp->body.len, (double)resp->duration_usec / USEC_PER_SEC);

        req->done(req, resp, req->userdata);
        request_free(req);
}

/* ---- libcurl <-> libev ------------------------------------------------------------ */

static void check_multi_info(struct http *h) {
        CURLMsg *msg;
        int left;

        /* One message at a time: a callback may cancel another request, and removing a
         * handle drops its pending message, so no finished transfer is seen twice. */
        while ((msg = curl_multi_info_read(h->multi, &left))) {
                struct http_request *req = NULL;
                char host[HTTP_HOST_MAX];
                CURLcode result;

                if (msg->msg != CURLMSG_DONE)
                        continue;
                result = msg->data.result;
                (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&req);
                assert(req);
                memcpy(host, req->host, sizeof host);
                request_unlink(req);
                request_finish(req, result);
                /* Its connection is free now: the next request for the same host reuses it
                 * instead of opening another (each Key Vault is a host of its own, and with
                 * more vaults than connections a plain FIFO would hand over connections
                 * host after host, a TLS handshake each time). */
                queue_pump(h, host);
        }
        queue_pump(h, NULL);
}

/* The request's deadline passed and libcurl has not ended it. That happens when an allocation
 * fails inside libcurl 7.88 at the wrong moment (the torture test found a --once sweep that
 * hung forever in the first token request): libcurl keeps a transfer it has no timeout for
 * (curl_multi_timeout() says none) and would never report it. Take it away from libcurl and
 * end it as libcurl's own timeout would, so the callers' retry and backoff apply. libcurl is
 * not on the stack (this is a libev callback); if libcurl finished the transfer in this same
 * iteration, its message is dropped with the handle, and if we finished first, request_free()
 * stopped this watcher: either way the request completes once. */
static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents) {
        struct http_request *req = w->data;
        struct http *h = req->http;
        char host[sizeof req->host];

        assert(req->running);
        memcpy(host, req->host, sizeof host);
        req->hostq->lost_transfer = true;
        request_unlink(req);
        snprintf(req->errbuf, sizeof req->errbuf, "no end after %.3fs, ended by cmkd's deadline",
                 (double)deadline_usec(req->timeout_usec) / USEC_PER_SEC);
        request_finish(req, CURLE_OPERATION_TIMEDOUT);
        queue_pump(h, host);
}

/* curl_multi_socket_action() that fails may return before it tells us, through
 * on_curl_timer(), when to call it next: the transfers it holds would then wait forever, their
 * own timeouts never checked (the torture test found a --once sweep hanging so, when libcurl
 * ran out of memory: that case is multi_drop()'s now). Ask libcurl for its next timeout
 * instead; when it has none but transfers run, look again in a second. */
static void rearm_after_error(struct http *h, CURLMcode mc) {
        long timeout_ms = -1;

        if (mc == CURLM_OK)
                return;
        if (curl_multi_timeout(h->multi, &timeout_ms) != CURLM_OK || timeout_ms < 0)
                timeout_ms = h->n_running > 0 ? 1000 : -1;
        if (timeout_ms < 0 || ev_is_active(&h->timer))
                return;
        ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(h->loop, &h->timer);
}

/* libcurl 7.88 (Debian 12) breaks its multi handle when an allocation fails while it adds a
 * transfer to a socket's table of transfers (singlesocket() in lib/multi.c): it destroys that
 * table, which leaves it 0 slots, yet keeps the socket's entry, and returns
 * CURLM_OUT_OF_MEMORY. The next time it adds a transfer to that socket (the same transfer at
 * its next step, or another one multiplexed on the connection) it takes a hash modulo those 0
 * slots: SIGFPE (found by tests/torture: about 6 points in 1,000 of a sweep's allocations).
 * In curl_multi_socket_action(), CURLM_OUT_OF_MEMORY comes from singlesocket() only (this, or
 * failing to add the socket itself, which breaks nothing but cannot be told apart), so on it
 * we stop using the handle. The transfers that did finish in that call keep their results;
 * every other transfer it holds is taken off it and ended with -ENOMEM, from the loop like any
 * answer (this runs in a libev callback, libcurl is not on the stack); the handle is cleaned
 * up, a new one takes its place and the queued requests start there. Tearing down is safe
 * with the broken entry: curl_multi_remove_handle() and curl_multi_cleanup() only delete from
 * that table (a destroyed table has none to search: no hash is taken) or destroy it again;
 * they never add to it (a transfer being removed has no connection left when singlesocket()
 * looks at its sockets). Elsewhere libcurl drops the error: curl_multi_remove_handle() ignores
 * singlesocket()'s (it can only remove there, never add, so never fails so), curl_easy_pause()
 * (not used here) turns it into CURLE_ABORTED_BY_CALLBACK, and a transfer's resolve step returns
 * it from multi_runsingle(), where curl_multi_socket_action() loses it when another transfer
 * runs after it in the same call. Then the broken entry is the resolver's own socket, removed
 * when the resolution ends; should libcurl poll the resolution (every few ms) before it ends,
 * it divides by zero there: a case this cannot see. That step needs an asynchronous name
 * resolution, which the torture never reaches (the twin's names map to IP addresses). */
static void multi_drop(struct http *h) {
        struct http_request *req;
        CURLM *old = h->multi;
        struct http_host *hq;
        const char *name;

        log_debug("libcurl ran out of memory in its socket bookkeeping: dropping its multi handle, %u "
                  "requests in flight end with an error.", h->n_running);
        h->dropping = true;
        check_multi_info(h);
        for (req = h->running; req; req = req->next) {
                (void) curl_multi_remove_handle(old, req->easy);
                req->dropped = true;
        }
        curl_multi_cleanup(old); /* its socket callbacks still see h->multi == old */
        h->multi = NULL;
        h->stats.multi_drops++;
        /* libcurl closed its sockets without telling us of every one: every watcher is free. */
        ev_timer_stop(h->loop, &h->timer);
        h->free_socks = NULL;
        for (size_t i = 0; i < h->n_chunks; i++)
                for (size_t j = 0; j < h->chunks[i].n; j++) {
                        ev_io_stop(h->loop, &h->chunks[i].socks[j].io);
                        h->chunks[i].socks[j].next_free = h->free_socks;
                        h->free_socks = &h->chunks[i].socks[j];
                }
        /* Its connections are gone, idle ones too. */
        HASHMAP_FOREACH(name, hq, h->hosts)
                hq->idle = 0;
        h->n_idle = 0;
        /* On failure the next request tries again (request_add). */
        (void) multi_new(h, &h->multi);
        h->dropping = false;

        /* One at a time: a callback may cancel another request or start new ones. */
        for (;;) {
                for (req = h->running; req && !req->dropped; req = req->next)
                        ;
                if (!req)
                        break;
                request_unlink(req); /* no longer in libcurl: only our lists */
                snprintf(req->errbuf, sizeof req->errbuf, "%s",
                         "libcurl ran out of memory; its connections were dropped");
                req->write_error = -ENOMEM;
                request_finish(req, CURLE_OUT_OF_MEMORY);
        }
        queue_pump(h, NULL);
}

/* After every curl_multi_socket_action(): its finished transfers, or multi_drop(). */
static void socket_action_done(struct http *h, CURLMcode mc) {
        if (mc == CURLM_OUT_OF_MEMORY) {
                multi_drop(h);
                return;
        }
        rearm_after_error(h, mc);
        check_multi_info(h);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents) {
        struct http *h = w->data;
        int running;

        /* This is libev's callback for the timer libcurl asked for, not libcurl's timer
         * callback (on_curl_timer below): calling into libcurl here is what the timer is
         * for, and libcurl is not on the stack. */
        socket_action_done(h, curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running));
}

/* CURLMOPT_TIMERFUNCTION: only (re)arms our timer. It must not call libcurl: it runs
 * inside curl_multi_add_handle() and curl_multi_socket_action(). A 0 ms timeout fires on
 * the next loop iteration. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
        struct http *h = userp;

        ev_timer_stop(h->loop, &h->timer);
        if (timeout_ms >= 0) {
                ev_timer_set(&h->timer, (double)timeout_ms / 1000.0, 0.);
                ev_timer_start(h->loop, &h->timer);
        }
        return 0;
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents) {
        struct http_sock *s = w->data;
        struct http *h = s->http;
        int action = 0, running;

        if (revents & EV_READ)
                action |= CURL_CSELECT_IN;
        if (revents & EV_WRITE)
                action |= CURL_CSELECT_OUT;
        socket_action_done(h, curl_multi_socket_action(h->multi, s->fd, action, &running));
}

static int sock_pool_grow(struct http *h, size_t n) {
        struct http_sock *chunk;
        struct sock_chunk *chunks;

        chunk = new0(struct http_sock, n);
        if (!chunk)
                return -ENOMEM;
        chunks = mem_realloc(h->chunks, (h->n_chunks + 1) * sizeof(*chunks));
        if (!chunks) {
                mem_free(chunk);
                return -ENOMEM;
        }
        h->chunks = chunks;
        h->chunks[h->n_chunks++] = (struct sock_chunk){.socks = chunk, .n = n};
        for (size_t i = 0; i < n; i++) {
                chunk[i].http = h;
                chunk[i].next_free = h->free_socks;
                h->free_socks = &chunk[i];
        }
        return 0;
}

/* CURLMOPT_SOCKETFUNCTION: (un)watches a socket. Calls nothing in libcurl but
 * curl_multi_assign(), which is allowed here. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
        struct http *h = userp;
        struct http_sock *s = socketp;
        int events = 0;

        if (what == CURL_POLL_REMOVE) {
                if (s) {
                        ev_io_stop(h->loop, &s->io);
                        s->next_free = h->free_socks;
                        h->free_socks = s;
                        curl_multi_assign(h->multi, fd, NULL);
                }
                return 0;
        }

        if (!s) {
                if (!h->free_socks)
                        (void)sock_pool_grow(h, 8);
                if (!h->free_socks) {
                        /* Out of memory: the socket goes unwatched and the transfer ends
                         * at its timeout (libcurl's timer still runs, and the request's
                         * deadline backs it up). Returning -1 would make libcurl fail
                         * every transfer of the multi handle. */
                        log_debug("Out of memory for a socket watcher, request will time out.");
                        return 0;
                }
                s = h->free_socks;
                h->free_socks = s->next_free;
                s->fd = fd;
                ev_init(&s->io, on_io);
                s->io.data = s;
                curl_multi_assign(h->multi, fd, s);
        }

        if (what & CURL_POLL_IN)
                events |= EV_READ;
        if (what & CURL_POLL_OUT)
                events |= EV_WRITE;
        ev_io_stop(h->loop, &s->io);
        ev_io_set(&s->io, fd, events);
        ev_io_start(h->loop, &s->io);
        return 0;
}

/* ---- the client ------------------------------------------------------------------- */

/* A multi handle set up for h. Returns 0, -ENOMEM, or -EIO (libcurl refused a setting). */
static int multi_new(struct http *h, CURLM **ret) {
        CURLM *m = curl_multi_init();

        if (!m)
                return -ENOMEM;
        if (curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_SOCKETDATA, h) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_TIMERDATA, h) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)h->max_connections) != CURLM_OK ||
            curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)h->max_connections) != CURLM_OK) {
                curl_multi_cleanup(m);
                return -EIO;
        }
        *ret = m;
        return 0;
}

int http_new(struct ev_loop *loop, const struct http_conf *conf, struct http **ret) {
        struct http *h;
        int r, fd;

        h = new0(struct http, 1);
        if (!h)
                return -ENOMEM;
        h->loop = loop;
        h->max_concurrent = conf->max_concurrent ?: HTTP_MAX_CONCURRENT_DEFAULT;
        h->max_connections = h->max_concurrent + HTTP_IDLE_CONNECTIONS;
        h->timeout_usec = conf->timeout_usec ?: HTTP_TIMEOUT_USEC_DEFAULT;
        h->test_no_curl_timeout = conf->test_no_curl_timeout;
        ev_init(&h->timer, on_timer);
        h->timer.data = h;

        if (conf->ca_file) {
                /* Fail at start-up with a clear error, not at the first request. */
                fd = open(conf->ca_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        r = -errno;
                        goto fail;
                }
                close(fd);
                h->ca_file = mem_strdup(conf->ca_file);
                if (!h->ca_file) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        STRV_FOREACH (c, conf->connect_to) {
                struct curl_slist *n = curl_slist_append(h->connect_to, *c);
                if (!n) {
                        r = -ENOMEM;
                        goto fail;
                }
                h->connect_to = n;
        }
        h->user_agent = mem_strdup(conf->user_agent ?: "cmkd/" CMKD_VERSION);
        if (!h->user_agent) {
                r = -ENOMEM;
                goto fail;
        }

        /* Sockets: a connection per request in flight at most, two while happy eyeballs
         * races IPv4 and IPv6, plus a few. */
        r = sock_pool_grow(h, 2 * h->max_concurrent + 4);
        if (r < 0)
                goto fail;

        h->hosts = hashmap_new(false, mem_free);
        if (!h->hosts) {
                r = -ENOMEM;
                goto fail;
        }
        r = multi_new(h, &h->multi);
        if (r < 0)
                goto fail;

        *ret = h;
        return 0;
fail:
        http_free(h);
        return r;
}

struct http *http_free(struct http *h) {
        if (!h)
                return NULL;
        while (h->urgent_head)
                http_request_cancel(h->urgent_head);
        if (h->hosts) {
                struct http_host *hq;
                const char *name;

                HASHMAP_FOREACH(name, hq, h->hosts)
                        while (hq->head)
                                http_request_cancel(hq->head);
        }
        while (h->running)
                http_request_cancel(h->running);
        if (h->multi)
                curl_multi_cleanup(h->multi);
        ev_timer_stop(h->loop, &h->timer);
        for (size_t i = 0; i < h->n_chunks; i++) {
                /* Stop whatever libcurl did not remove before its cleanup. */
                for (size_t j = 0; j < h->chunks[i].n; j++)
                        ev_io_stop(h->loop, &h->chunks[i].socks[j].io);
                mem_free(h->chunks[i].socks);
        }
        mem_free(h->chunks);
        hashmap_free(h->hosts);
        curl_slist_free_all(h->connect_to);
        mem_free(h->ca_file);
        mem_free(h->user_agent);
        mem_free(h);
        return NULL;
}

void http_get_stats(const struct http *h, struct http_stats *ret) {
        *ret = h->stats;
        ret->in_flight = h->n_running;
        ret->queued = h->n_queued;
}
