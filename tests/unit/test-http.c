/* SPDX-License-Identifier: MIT */
/* http: URL helpers, client set-up and request validation, the queue behind the cap,
 * allocation failures, cmkd's own per-request deadline, and the multi handle dropped when
 * libcurl runs out of memory. No network: requests are cancelled before the loop runs, or go
 * to a loopback socket that never answers or to a loopback server on the test's loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "http.h"
#include "mem.h"

static void test_escape(void **state) {
        struct buf b;

        buf_init(&b, 0);
        assert_int_equal(http_url_escape(&b, "https://vault.azure.net/.default"), 0);
        assert_string_equal(buf_str(&b), "https%3A%2F%2Fvault.azure.net%2F.default");
        buf_clear(&b);
        assert_int_equal(http_url_escape(&b, "a b&c=d+e~f_g-h.i\xc3\xa9"), 0);
        assert_string_equal(buf_str(&b), "a%20b%26c%3Dd%2Be~f_g-h.i%C3%A9");
        buf_done(&b);
        /* Past the cap the buffer is unchanged. */
        buf_init(&b, 5);
        assert_int_equal(buf_puts(&b, "ab"), 0);
        assert_int_equal(http_url_escape(&b, "c/d"), -E2BIG);
        assert_string_equal(buf_str(&b), "ab");
        buf_done(&b);
}

static void test_host(void **state) {
        static const struct {
                const char *url, *host;
        } rows[] = {
                {"https://management.azure.com/subscriptions?x=1", "management.azure.com"},
                {"https://MyVault.Vault.Azure.Net:443/keys/k", "myvault.vault.azure.net"},
                {"HTTP://169.254.169.254/metadata", "169.254.169.254"},
                {"https://user@host.example/x", "host.example"},
                {"https://[::1]:8443/x", "[::1]"},
                {"https://h?q", "h"},
                {"ftp://h/x", NULL},
                {"https:///x", NULL},
                {"host/x", NULL},
        };
        char h[64];

        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                int r = http_url_host(rows[i].url, h, sizeof h);
                if (rows[i].host) {
                        assert_int_equal(r, 0);
                        assert_string_equal(h, rows[i].host);
                } else
                        assert_int_equal(r, -EINVAL);
        }
        assert_int_equal(http_url_host("https://aaaaaaaaaaaaaaaa.example/", h, 8), -EINVAL);
}

static int done_calls;

static void on_done(struct http_request *req, struct http_response *resp, void *userdata) {
        done_calls++;
}

static void test_client(void **state) {
        struct ev_loop *loop = ev_loop_new(0);
        char *ct[] = {(char *)"management.azure.com:443:127.0.0.1:1", NULL};
        struct http_conf c = {.connect_to = ct, .max_concurrent = 2};
        struct http_conf bad = {.ca_file = "/nonexistent/ca.pem"};
        struct http_request *reqs[5];
        struct http_stats st;
        struct http *h = NULL;

        assert_int_equal(mem_curl_global_init(0), 0);
        assert_string_equal(http_method_to_string(HTTP_PATCH), "PATCH");
        assert_null(http_method_to_string(_HTTP_METHOD_MAX));
        assert_int_equal(http_new(loop, &bad, &h), -ENOENT);

        for (unsigned n = 1;; n++) {
                mem_fail_at(n, false);
                int r = http_new(loop, &c, &h);
                mem_fail_at(0, false);
                if (r == 0)
                        break;
                assert_true(r == -ENOMEM || r == -EIO);
        }

        /* Plain HTTP only when asked for (IMDS); nothing but http(s). */
        struct http_spec plain = {.method = HTTP_GET, .url = "http://169.254.169.254/x"};
        assert_int_equal(http_request_start(h, &plain, on_done, NULL, NULL), -EINVAL);
        struct http_spec ftp = {.method = HTTP_GET, .url = "ftp://x/", .plain_http = true};
        assert_int_equal(http_request_start(h, &ftp, on_done, NULL, NULL), -EINVAL);
        struct http_spec nomethod = {.method = _HTTP_METHOD_MAX, .url = "https://x/"};
        assert_int_equal(http_request_start(h, &nomethod, on_done, NULL, NULL), -EINVAL);
        struct http_spec nocb = {.method = HTTP_GET, .url = "https://x/"};
        assert_int_equal(http_request_start(h, &nocb, NULL, NULL, NULL), -EINVAL);

        /* Two in flight, three queued behind the cap. */
        for (int i = 0; i < 5; i++) {
                struct http_spec s = {
                        .method = i % 2 ? HTTP_PUT : HTTP_GET,
                        .url = "https://management.azure.com/x",
                        .authorization = "Bearer abc",
                        .body = i % 2 ? "{}" : NULL,
                        .body_len = 2,
                };
                assert_int_equal(http_request_start(h, &s, on_done, NULL, &reqs[i]), 0);
        }
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 2);
        assert_int_equal(st.queued, 3);
        http_request_cancel(reqs[3]);
        http_request_cancel(reqs[0]);
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 1);
        assert_int_equal(st.queued, 2);

        /* Allocation failures while starting a request are reported, not fatal. */
        for (unsigned n = 1;; n++) {
                struct http_spec s = {.method = HTTP_PATCH,
                                      .url = "https://management.azure.com/y",
                                      .authorization = "Bearer abc",
                                      .body = "{}",
                                      .body_len = 2};
                struct http_request *r = NULL;
                mem_fail_at(n, false);
                int k = http_request_start(h, &s, on_done, NULL, &r);
                mem_fail_at(0, false);
                if (k == 0) {
                        http_request_cancel(r);
                        break;
                }
                assert_int_equal(k, -ENOMEM);
        }

        /* Freeing ends the rest without calling back. */
        http_free(h);
        assert_int_equal(done_calls, 0);
        ev_loop_destroy(loop);
}

/* The order queued requests start in, seen through the order they end: every host is mapped
 * to a closed port, so each request fails at once (ECONNREFUSED) and one at a time. */
struct order {
        struct ev_loop *loop;
        char seen[16];
        size_t n, want;
};

struct order_req {
        struct order *o;
        char name;
};

static void on_order_done(struct http_request *req, struct http_response *resp, void *userdata) {
        struct order_req *q = userdata;

        assert_int_equal(resp->error, -ECONNREFUSED);
        q->o->seen[q->o->n++] = q->name;
        if (q->o->n == q->o->want)
                ev_break(q->o->loop, EVBREAK_ALL);
}

static void test_queue_order(void **state) {
        static const struct {
                char name;
                const char *url;
                bool urgent;
        } rows[] = {
                {'A', "https://a.vault.azure.net/keys/k1", false}, /* starts at once (the cap is 1) */
                {'B', "https://b.vault.azure.net/keys/k1", false},
                {'C', "https://c.vault.azure.net/keys/k1", false},
                {'D', "https://a.vault.azure.net/keys/k2", false},
                {'E', "https://management.azure.com/subscriptions/s/x?page=2", true},
                {'F', "https://B.vault.azure.net/keys/k2", false},
        };
        /* E (urgent) overtakes everything queued; after B its connection goes to F (same
         * host); then first come, first served. */
        static const char want[] = "AEBFCD";
        struct ev_loop *loop = ev_loop_new(0);
        char *ct[] = {(char *) "::127.0.0.1:1", NULL};
        struct http_conf c = {.connect_to = ct, .max_concurrent = 1};
        struct order o = {.loop = loop, .want = ELEMENTSOF(rows)};
        struct order_req ud[ELEMENTSOF(rows)];
        struct http_stats st;
        struct http *h = NULL;

        assert_int_equal(mem_curl_global_init(0), 0);
        assert_int_equal(http_new(loop, &c, &h), 0);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct http_spec s = {.method = HTTP_GET, .url = rows[i].url, .urgent = rows[i].urgent};

                ud[i] = (struct order_req) {.o = &o, .name = rows[i].name};
                assert_int_equal(http_request_start(h, &s, on_order_done, &ud[i], NULL), 0);
        }
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 1);
        assert_int_equal(st.queued, ELEMENTSOF(rows) - 1);
        ev_run(loop, 0);
        assert_int_equal(o.n, ELEMENTSOF(rows));
        assert_memory_equal(o.seen, want, ELEMENTSOF(rows));
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 0);
        assert_int_equal(st.queued, 0);
        http_free(h);
        ev_loop_destroy(loop);
}

/* A host with requests in flight waits while another has none: one slot is held by a host
 * whose server never answers (a listening socket nobody accepts from). It has a port of its
 * own: libcurl groups connections by port and connect-to address, and would have the others
 * wait for its handshake to learn whether it can multiplex (CURLOPT_PIPEWAIT). */
static void test_queue_spread(void **state) {
        static const struct {
                char name;
                const char *url;
        } rows[] = {
                {'H', "https://hold.vault.azure.net:8443/keys/k1"}, /* starts, never ends */
                {'A', "https://a.vault.azure.net/keys/k1"},         /* starts, refused */
                {'X', "https://hold.vault.azure.net:8443/keys/k2"},
                {'Y', "https://y.vault.azure.net/keys/k1"},
        };
        struct ev_loop *loop = ev_loop_new(0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t salen = sizeof sa;
        char hold[64];
        char *ct[] = {hold, (char *) "::127.0.0.1:1", NULL};
        struct http_conf c = {.connect_to = ct, .max_concurrent = 2, .timeout_usec = 60 * USEC_PER_SEC};
        struct order o = {.loop = loop, .want = 2};
        struct order_req ud[ELEMENTSOF(rows)];
        struct http_stats st;
        struct http *h = NULL;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 8), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *) &sa, &salen), 0);
        snprintf(hold, sizeof hold, "hold.vault.azure.net:8443:127.0.0.1:%u", ntohs(sa.sin_port));

        assert_int_equal(mem_curl_global_init(0), 0);
        assert_int_equal(http_new(loop, &c, &h), 0);
        for (size_t i = 0; i < ELEMENTSOF(rows); i++) {
                struct http_spec s = {.method = HTTP_GET, .url = rows[i].url};

                ud[i] = (struct order_req) {.o = &o, .name = rows[i].name};
                assert_int_equal(http_request_start(h, &s, on_order_done, &ud[i], NULL), 0);
        }
        /* A ends; Y (no request of its host in flight) goes before X (older, but its host
         * has H in flight). */
        ev_run(loop, 0);
        assert_memory_equal(o.seen, "AY", 2);
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 2); /* H and X */
        assert_int_equal(st.queued, 0);
        http_free(h);
        close(fd);
        ev_loop_destroy(loop);
}

/* A listening loopback socket that never accepts: the kernel completes the TCP handshake,
 * takes the request, and nothing ever answers. Returns the fd; its port in *ret_port. */
static int silent_server(unsigned *ret_port) {
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof sa;
        int fd;

        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        assert_int_equal(listen(fd, 16), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *ret_port = ntohs(sa.sin_port);
        return fd;
}

struct deadline_seen {
        struct ev_loop *loop;
        unsigned calls[3]; /* per request */
        int error[3];
        long status[3];
        bool by_deadline[3];
        unsigned total;
};

static struct deadline_seen seen;

static void on_deadline_done(struct http_request *req, struct http_response *resp, void *userdata) {
        size_t i = (size_t)(uintptr_t)userdata;

        seen.calls[i]++;
        seen.error[i] = resp->error;
        seen.status[i] = resp->status;
        seen.by_deadline[i] = strstr(resp->error_text, "deadline") != NULL;
        if (++seen.total == 2)
                ev_break(seen.loop, EVBREAK_ALL);
}

static void on_guard(struct ev_loop *loop, ev_timer *w, int revents) {
        ev_break(loop, EVBREAK_ALL);
}

/* libcurl 7.88 can lose a transfer's timeout after an allocation fails inside it (the torture
 * test hung so in the first token request). With libcurl given no timeout at all, cmkd's own
 * deadline must end each request in flight with -ETIMEDOUT, exactly once, start the queued
 * one behind it, and leave nothing behind (ASan checks the leaks). A cancelled request's
 * deadline must never fire. */
static void test_deadline(void **state) {
        struct ev_loop *loop = ev_loop_new(0);
        struct http_conf c = {
                .max_concurrent = 2, .timeout_usec = 50 * USEC_PER_MSEC, .test_no_curl_timeout = true};
        struct http_request *reqs[3];
        char url[64];
        struct http_stats st;
        struct http *h = NULL;
        unsigned port;
        ev_timer guard;
        int fd;

        assert_non_null(loop);
        assert_int_equal(mem_curl_global_init(0), 0);
        fd = silent_server(&port);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/never", port);
        assert_int_equal(http_new(loop, &c, &h), 0);
        seen = (struct deadline_seen){.loop = loop};

        /* 0 and 1 in flight, 2 queued; 0 cancelled with its deadline running. */
        for (size_t i = 0; i < 3; i++) {
                struct http_spec s = {.method = HTTP_GET, .url = url, .plain_http = true};
                assert_int_equal(http_request_start(h, &s, on_deadline_done, (void *)(uintptr_t)i, &reqs[i]),
                                 0);
        }
        http_get_stats(h, &st);
        assert_int_equal(st.in_flight, 2);
        assert_int_equal(st.queued, 1);
        http_request_cancel(reqs[0]);

        /* Stops the loop if the deadline never comes (the failure this test is for). */
        ev_timer_init(&guard, on_guard, 30., 0.);
        ev_timer_start(loop, &guard);
        ev_run(loop, 0);
        ev_timer_stop(loop, &guard);

        assert_int_equal(seen.calls[0], 0);
        for (size_t i = 1; i < 3; i++) {
                assert_int_equal(seen.calls[i], 1);
                assert_int_equal(seen.error[i], -ETIMEDOUT);
                assert_int_equal(seen.status[i], 0);
                assert_true(seen.by_deadline[i]);
        }
        http_get_stats(h, &st);
        assert_int_equal(st.requests, 2);
        assert_int_equal(st.failures, 2);
        assert_int_equal(st.in_flight, 0);
        assert_int_equal(st.queued, 0);

        http_free(h);
        close(fd);
        ev_loop_destroy(loop);
}

/* A loopback HTTP/1.1 server on the test's own loop: reads a request head, answers 200 with
 * "{}" and closes. No allocation through mem.c (it must not shift the points failed below). */
#define ANSWER_CONNS 8
struct answer_conn {
        ev_io io;
        char head[4096];
        size_t len;
};
static struct answer_conn answer_conns[ANSWER_CONNS];
static ev_io answer_listener;

static void answer_conn_close(struct ev_loop *loop, struct answer_conn *c) {
        ev_io_stop(loop, &c->io);
        close(c->io.fd);
        c->io.fd = -1;
}

static void on_answer_read(struct ev_loop *loop, ev_io *w, int revents) {
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        struct answer_conn *c = w->data;
        ssize_t n = read(w->fd, c->head + c->len, sizeof c->head - 1 - c->len);

        if (n <= 0) {
                answer_conn_close(loop, c);
                return;
        }
        c->len += (size_t)n;
        c->head[c->len] = 0;
        if (!strstr(c->head, "\r\n\r\n"))
                return;
        assert_int_equal(write(w->fd, answer, sizeof answer - 1), (ssize_t)(sizeof answer - 1));
        answer_conn_close(loop, c);
}

static void on_answer_accept(struct ev_loop *loop, ev_io *w, int revents) {
        int fd = accept4(w->fd, NULL, NULL, SOCK_CLOEXEC);
        size_t i;

        if (fd < 0)
                return;
        for (i = 0; i < ANSWER_CONNS && answer_conns[i].io.fd >= 0; i++)
                ;
        assert_true(i < ANSWER_CONNS);
        answer_conns[i].len = 0;
        ev_io_init(&answer_conns[i].io, on_answer_read, fd, EV_READ);
        answer_conns[i].io.data = &answer_conns[i];
        ev_io_start(loop, &answer_conns[i].io);
}

struct drop_seen {
        struct ev_loop *loop;
        unsigned calls[3];
        int error[3];
        long status[3];
        bool by_drop[3];
        unsigned pending;
};

static struct drop_seen dseen;

static void on_drop_done(struct http_request *req, struct http_response *resp, void *userdata) {
        size_t i = (uintptr_t)userdata;

        dseen.calls[i]++;
        dseen.error[i] = resp->error;
        dseen.status[i] = resp->status;
        dseen.by_drop[i] = strstr(resp->error_text, "connections were dropped") != NULL;
        if (--dseen.pending == 0)
                ev_break(dseen.loop, EVBREAK_ALL);
}

/* libcurl 7.88 destroys a socket's table of transfers when an allocation fails while it adds a
 * transfer to it, keeps the socket, and divides by the table's 0 slots the next time it adds one
 * (SIGFPE). Fails each allocation in turn (ours and libcurl's) while two requests run against a
 * loopback server: nothing crashes, each request ends exactly once, with the answer or an
 * error; where libcurl reported running out of memory in curl_multi_socket_action() the requests
 * in flight end with -ENOMEM, and the client then answers a third request (a fresh multi
 * handle). Without http.c's multi_drop() some point dies by SIGFPE. */
static void test_multi_drop(void **state) {
        struct ev_loop *loop = ev_loop_new(0);
        struct http_conf c = {.max_concurrent = 2, .timeout_usec = 5 * USEC_PER_SEC};
        unsigned port, drops = 0, dropped_requests = 0;
        char url[64];
        ev_timer guard;
        int fd;

        assert_non_null(loop);
        assert_int_equal(mem_curl_global_init(0), 0);
        for (size_t i = 0; i < ANSWER_CONNS; i++)
                answer_conns[i].io.fd = -1;
        fd = silent_server(&port);
        ev_io_init(&answer_listener, on_answer_accept, fd, EV_READ);
        ev_io_start(loop, &answer_listener);
        snprintf(url, sizeof url, "http://127.0.0.1:%u/x", port);
        ev_timer_init(&guard, on_guard, 30., 0.);

        for (unsigned n = 1;; n++) {
                struct http_spec s = {.method = HTTP_GET, .url = url, .plain_http = true};
                struct http_stats st;
                struct http *h = NULL;
                bool injected;

                assert_int_equal(http_new(loop, &c, &h), 0);
                dseen = (struct drop_seen){.loop = loop};
                mem_fail_at(n, false);
                for (size_t i = 0; i < 2; i++) {
                        int r = http_request_start(h, &s, on_drop_done, (void *)(uintptr_t)i, NULL);
                        if (r == 0)
                                dseen.pending++;
                        else {
                                assert_int_equal(r, -ENOMEM);
                                dseen.calls[i] = 1; /* reported at once: its callback is never called */
                                dseen.error[i] = r;
                        }
                }
                if (dseen.pending > 0) {
                        ev_timer_start(loop, &guard);
                        ev_run(loop, 0);
                        ev_timer_stop(loop, &guard);
                }
                injected = mem_failure_injected();
                mem_fail_at(0, false);
                assert_int_equal(dseen.pending, 0);
                http_get_stats(h, &st);
                for (size_t i = 0; i < 2; i++) {
                        assert_int_equal(dseen.calls[i], 1);
                        assert_true(dseen.status[i] == 200 || dseen.error[i] < 0);
                        if (dseen.by_drop[i]) {
                                assert_int_equal(dseen.error[i], -ENOMEM);
                                dropped_requests++;
                        }
                }
                assert_true(st.multi_drops <= 1);
                drops += (unsigned)st.multi_drops;

                /* Whatever happened, the next request is answered. */
                dseen.pending = 1;
                assert_int_equal(http_request_start(h, &s, on_drop_done, (void *)(uintptr_t)2, NULL), 0);
                ev_timer_start(loop, &guard);
                ev_run(loop, 0);
                ev_timer_stop(loop, &guard);
                assert_int_equal(dseen.calls[2], 1);
                assert_int_equal(dseen.status[2], 200);
                http_free(h);
                if (!injected)
                        break;
        }
        /* The failure this test is about was reached (else it proves nothing). */
        assert_true(drops > 0);
        assert_true(dropped_requests > 0);
        print_message("multi handle dropped at %u allocation points, %u requests ended so\n", drops,
                      dropped_requests);

        for (size_t i = 0; i < ANSWER_CONNS; i++)
                if (answer_conns[i].io.fd >= 0)
                        answer_conn_close(loop, &answer_conns[i]);
        ev_io_stop(loop, &answer_listener);
        close(fd);
        ev_loop_destroy(loop);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_host),
                cmocka_unit_test(test_client),
                cmocka_unit_test(test_queue_order),
                cmocka_unit_test(test_queue_spread),
                cmocka_unit_test(test_deadline),
                cmocka_unit_test(test_multi_drop),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
