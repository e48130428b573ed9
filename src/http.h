/* SPDX-License-Identifier: MIT */
#pragma once

/* HTTPS requests on the caller's libev loop, through libcurl's multi_socket interface:
 * HTTP/2 with multiplexing and connection reuse, a cap on requests in flight (a queue behind
 * it: urgent requests first, then spread over the hosts, a freed connection kept for its
 * host; HTTP_IDLE_CONNECTIONS more kept idle for reuse), a per-request timeout, a cap on each answer's size, TLS verification always on. One attempt per request: retries, pacing and tokens belong to azure.c and auth.c.
 *
 * Trust: with no CA file, the system's trust store (libcurl's default). With a CA file,
 * that file *replaces* the system store (CURLOPT_CAINFO, CURLOPT_CAPATH unset): cmkd then
 * trusts exactly the certificates in it. To trust a TLS-inspecting proxy and Azure, put
 * both (e.g. the proxy's CA appended to /etc/ssl/certs/ca-certificates.crt) in one file.
 * Proxies come from the environment (https_proxy, no_proxy: libcurl's default), except for
 * plain-HTTP requests (IMDS), which never use one. */

#include <ev.h>

#include "buf.h"
#include "macro.h"

enum http_method {
        HTTP_GET,
        HTTP_PUT,
        HTTP_PATCH,
        HTTP_POST,
        HTTP_DELETE,
        _HTTP_METHOD_MAX,
        _HTTP_METHOD_INVALID = -EINVAL,
};

const char *http_method_to_string(enum http_method m);

#define HTTP_MAX_CONCURRENT_DEFAULT 8u
/* Connections kept idle for reuse besides those in flight (each Key Vault is a host of its own). */
#define HTTP_IDLE_CONNECTIONS 8u
#define HTTP_TIMEOUT_USEC_DEFAULT   (60 * USEC_PER_SEC)
#define HTTP_CONNECT_TIMEOUT_USEC   (10 * USEC_PER_SEC)
#define HTTP_BODY_MAX_DEFAULT       (1024 * 1024)
/* Each request in flight also has a deadline of cmkd's own: its timeout plus a tenth of it,
 * within these bounds. libcurl ends a transfer at its timeout; the deadline ends one libcurl
 * lost track of (libcurl 7.88 can, after an allocation fails inside it) with -ETIMEDOUT. */
#define HTTP_DEADLINE_MARGIN_MIN_USEC (250 * USEC_PER_MSEC)
#define HTTP_DEADLINE_MARGIN_MAX_USEC (5 * USEC_PER_SEC)
/* All response headers of one answer together; Azure's LRO URLs can pass 4 KB each. */
#define HTTP_HEADERS_MAX (64 * 1024)
/* Host names are at most 253 characters. */
#define HTTP_HOST_MAX 256

struct http_conf {
        const char *ca_file;     /* NULL = system trust store; else replaces it (see above) */
        char *const *connect_to; /* strv of CURLOPT_CONNECT_TO entries "HOST:PORT:CONNECT-TO-HOST:PORT"; may
                                    be NULL */
        unsigned max_concurrent; /* requests in flight at most; 0 = HTTP_MAX_CONCURRENT_DEFAULT */
        usec_t timeout_usec;     /* per-request default; 0 = HTTP_TIMEOUT_USEC_DEFAULT */
        const char *user_agent;  /* NULL = "cmkd/VERSION" */
        bool test_no_curl_timeout; /* tests only: give libcurl no timeout, as if it had lost it, so
                                    * that only the deadline (above) ends a request */
};

struct http;
struct http_request;

struct http_header {
        const char *name;  /* borrowed from the response */
        const char *value; /* trimmed */
};

struct http_response {
        int error;                   /* 0 when an HTTP answer came; else the transport failure, see below */
        long status;                 /* HTTP status; 0 when there was no answer */
        bool sent;                   /* the request may have reached the server (false: it surely did not) */
        struct buf body;             /* owned; the callback may take it with http_response_take_body() */
        struct http_header *headers; /* owned array of the final answer's headers */
        size_t n_headers;
        const char *error_text; /* libcurl's words for a transport failure ("" if none); borrowed */
        usec_t duration_usec;
};

/* The transport failures in http_response.error:
 *   -EADDRNOTAVAIL  name did not resolve           -ECONNREFUSED  connection refused
 *   -ECONNABORTED   TLS handshake failed           -EPERM         TLS verification failed (or the CA file is
 * unusable) -ETIMEDOUT      timed out                      -ECONNRESET    connection broken while sending or
 * receiving -ENODATA        empty reply                    -EPROTO        garbled answer -EIO other transfer
 * failure          -E2BIG         answer (or its headers) over the cap -ENOMEM         out of memory -EINVAL
 * bad URL or protocol not allowed */

/* Returns the first header of that name (case-insensitive), or NULL. */
const char *http_response_header(const struct http_response *r, const char *name);
/* Moves the body out (the response keeps an empty buffer). */
void http_response_take_body(struct http_response *r, struct buf *ret);

/* Called once per request, from the loop (never from inside http_request_start()), with
 * the response borrowed for the duration of the call. The request is gone after it
 * returns. It may start or cancel other requests, but must not call http_free(). */
typedef void (*http_done_fn)(struct http_request *req, struct http_response *resp, void *userdata);

struct http_spec {
        enum http_method method;
        const char *url;           /* https://...; http:// only with plain_http */
        const char *authorization; /* borrowed value of the Authorization header ("Bearer ..."); copied
                                    * into the request, wiped when it ends, never logged; NULL = none */
        char *const *headers;      /* extra "Name: value" lines (strv), copied; NULL = none */
        const void *body;          /* copied; wiped when the request ends */
        size_t body_len;
        const char *content_type; /* of the body; NULL = application/json */
        size_t body_max;          /* cap on the answer's body; 0 = HTTP_BODY_MAX_DEFAULT */
        usec_t timeout_usec;      /* 0 = the conf's */
        bool plain_http;          /* allow http:// (IMDS only) and use no proxy */
        bool secret_response;     /* the answer holds a secret (a token): wipe its buffers */
        /* Others wait for its answer (a token, the next page of a list): it goes before
         * every queued request without this flag, first come first served. The others start
         * spread over the hosts: from a host with an idle connection if one has queued
         * requests, then from a host with the fewest requests in flight, the one whose
         * connection has just become free if it has queued requests, else the oldest. */
        bool urgent;
};

/* Creates the client on loop (borrowed, must outlive it). The conf is copied. Checks that
 * the CA file can be read. Returns 0, -ENOMEM, -EIO (libcurl refused a setting), or the
 * -errno of opening the CA file. mem_curl_global_init() must have run. */
int http_new(struct ev_loop *loop, const struct http_conf *conf, struct http **ret);
/* Ends every request without calling its callback. Accepts NULL; returns NULL. */
struct http *http_free(struct http *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct http *, http_free);

/* Starts (or queues, past the cap) a request. On success done will be called exactly
 * once, unless http_request_cancel() comes first; *ret (optional) is a borrowed handle valid
 * until then. Returns 0, -ENOMEM, -EINVAL (bad spec). On failure done is never called. */
int http_request_start(struct http *h, const struct http_spec *spec, http_done_fn done, void *userdata,
                       struct http_request **ret);
/* Ends a request; its callback will not be called. */
void http_request_cancel(struct http_request *req);

struct http_stats {
        uint64_t requests;       /* answered or failed */
        uint64_t failures;       /* transport failures */
        uint64_t bytes_sent;     /* request bodies and headers */
        uint64_t bytes_received; /* answer bodies and headers */
        unsigned in_flight;
        unsigned queued;
        uint64_t multi_drops;    /* libcurl's multi handle dropped after it ran out of memory (see http.c) */
};

void http_get_stats(const struct http *h, struct http_stats *ret);

/* Appends s percent-encoded for a query value or form field (RFC 3986 unreserved kept).
 * Returns 0, -ENOMEM, -E2BIG. */
int http_url_escape(struct buf *b, const char *s);
/* The host of an https:// or http:// URL, lowercase, without port or user info, into buf.
 * Returns 0 or -EINVAL. */
int http_url_host(const char *url, char *buf, size_t len);
