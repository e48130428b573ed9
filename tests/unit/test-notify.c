/* SPDX-License-Identifier: MIT */
/* notify: the exact datagrams sent to a $NOTIFY_SOCKET the test binds itself, the
 * status text rules, send failures, and the watchdog environment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

#define TMPDIR_TEMPLATE "/tmp/cmkd-test-notify.XXXXXX"
#include "tmpdir.h"

static char sock_path[sizeof dir + 16];
static int sock_fd = -1;

/* Receives the one datagram the last call sent, and checks that it was the only one. */
static void expect_datagram(const char *expected) {
        char buf[2048];
        ssize_t n;

        n = recv(sock_fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        assert_true(n >= 0);
        buf[n] = '\0';
        assert_int_equal((size_t) n, strlen(expected));
        assert_string_equal(buf, expected);
        assert_int_equal(recv(sock_fd, buf, sizeof buf, MSG_DONTWAIT), -1);
        assert_int_equal(errno, EAGAIN);
}

static void use_socket(void) {
        assert_int_equal(setenv("NOTIFY_SOCKET", sock_path, 1), 0);
}

static void test_no_manager(void **state) {
        usec_t u = 42;

        assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
        assert_int_equal(notify_ready(), 0);
        assert_int_equal(notify_reloading(1), 0);
        assert_int_equal(notify_stopping(), 0);
        assert_int_equal(notify_watchdog(), 0);
        assert_int_equal(notify_status("x"), 0);
        assert_int_equal(notify_statusf("%d", 1), 0);
        assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
        assert_int_equal(unsetenv("WATCHDOG_PID"), 0);
        assert_int_equal(notify_watchdog_usec(&u), 0);
        assert_int_equal(u, 0);
}

static void test_fixed_messages(void **state) {
        use_socket();
        assert_int_equal(notify_ready(), 1);
        expect_datagram("READY=1");
        assert_int_equal(notify_stopping(), 1);
        expect_datagram("STOPPING=1");
        assert_int_equal(notify_watchdog(), 1);
        expect_datagram("WATCHDOG=1");
}

static void test_reloading(void **state) {
        static const struct {
                usec_t now;
                const char *expected;
        } table[] = {
                { 1, "RELOADING=1\nMONOTONIC_USEC=1" },
                { 1234567890123, "RELOADING=1\nMONOTONIC_USEC=1234567890123" },
                { UINT64_MAX - 1, "RELOADING=1\nMONOTONIC_USEC=18446744073709551614" },
        };

        use_socket();
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(notify_reloading(table[i].now), 1);
                expect_datagram(table[i].expected);
        }
}

static void test_status(void **state) {
        char a254[255], a255[256], a256[257], long_in[400], long_out[sizeof("STATUS=") + 256];
        char in[600], out[600];
        static const struct {
                const char *in, *expected;
        } table[] = {
                { "Watching 3 clusters", "STATUS=Watching 3 clusters" },
                { "", "STATUS=" },
                /* A newline would start a second assignment: it must not reach the socket. */
                { "oops\nREADY=1", "STATUS=oops READY=1" },
                { "a\tb\rc\x1b[1m\x7f", "STATUS=a b c [1m " },
                { "clé: “quoted”", "STATUS=clé: “quoted”" },
        };

        use_socket();
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(notify_status(table[i].in), 1);
                expect_datagram(table[i].expected);
        }
        assert_int_equal(notify_status(NULL), 1);
        expect_datagram("STATUS=");

        memset(a254, 'a', 254), a254[254] = '\0';
        memset(a255, 'a', 255), a255[255] = '\0';
        memset(a256, 'a', 256), a256[256] = '\0';
        memset(long_in, 'a', sizeof long_in - 1), long_in[sizeof long_in - 1] = '\0';
        snprintf(long_out, sizeof long_out, "STATUS=%s", a256);

        /* Exactly the limit: sent whole. One more byte: cut to the limit. */
        assert_int_equal(notify_status(a256), 1);
        expect_datagram(long_out);
        assert_int_equal(notify_status(long_in), 1);
        expect_datagram(long_out);

        /* A 2-byte character ending at the limit stays; one straddling it goes whole. */
        snprintf(in, sizeof in, "%sé", a254);
        snprintf(out, sizeof out, "STATUS=%sé", a254);
        assert_int_equal(notify_status(in), 1);
        expect_datagram(out);
        snprintf(in, sizeof in, "%sé", a255);
        snprintf(out, sizeof out, "STATUS=%s", a255);
        assert_int_equal(notify_status(in), 1);
        expect_datagram(out);
        /* A 3-byte character starting 2 bytes before the limit goes whole. */
        snprintf(in, sizeof in, "%s€tail", a254);
        snprintf(out, sizeof out, "STATUS=%s", a254);
        assert_int_equal(notify_status(in), 1);
        expect_datagram(out);
}

static void test_statusf(void **state) {
        char a300[301], out[sizeof("STATUS=") + 256];

        use_socket();
        assert_int_equal(notify_statusf("Sweep %u: %s, next in %s", 7u, "2 warnings", "5min"), 1);
        expect_datagram("STATUS=Sweep 7: 2 warnings, next in 5min");
        assert_int_equal(notify_statusf("Config rejected: %s", "bad\nline"), 1);
        expect_datagram("STATUS=Config rejected: bad line");

        /* Longer than the limit after formatting, and longer than the formatting buffer. */
        memset(a300, 'b', 300), a300[300] = '\0';
        snprintf(out, sizeof out, "STATUS=%.256s", a300);
        assert_int_equal(notify_statusf("%s", a300), 1);
        expect_datagram(out);
        assert_int_equal(notify_statusf("%s%s%s", a300, a300, a300), 1);
        expect_datagram(out);
        /* A character cut by the limit goes whole. */
        snprintf(out, sizeof out, "STATUS=%.255s", a300);
        assert_int_equal(notify_statusf("%.255sé%s", a300, a300), 1);
        expect_datagram(out);
}

static void test_abstract_socket(void **state) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char name[64], env[80], buf[64];
        socklen_t len;
        ssize_t n;
        int fd;

        /* "@name" is an abstract-namespace address, as systemd may hand out. */
        snprintf(name, sizeof name, "cmkd-test-notify-%d", (int) getpid());
        memcpy(sa.sun_path + 1, name, strlen(name));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, len), 0);
        snprintf(env, sizeof env, "@%s", name);
        assert_int_equal(setenv("NOTIFY_SOCKET", env, 1), 0);

        assert_int_equal(notify_ready(), 1);
        n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        assert_int_equal(n, 7);
        buf[n] = '\0';
        assert_string_equal(buf, "READY=1");
        close(fd);
}

static void test_send_failures(void **state) {
        char gone[sizeof dir + 16], stale[sizeof dir + 16];
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        /* Nobody at the path. */
        snprintf(gone, sizeof gone, "%s/gone", dir);
        assert_int_equal(setenv("NOTIFY_SOCKET", gone, 1), 0);
        assert_int_equal(notify_ready(), -ENOENT);
        assert_int_equal(notify_status("x"), -ENOENT);

        /* A socket file whose owner has closed it. */
        snprintf(stale, sizeof stale, "%s/stale", dir);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        strcpy(sa.sun_path, stale);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof sa), 0);
        close(fd);
        assert_int_equal(setenv("NOTIFY_SOCKET", stale, 1), 0);
        assert_int_equal(notify_watchdog(), -ECONNREFUSED);

        /* Neither a path nor an abstract name. */
        assert_int_equal(setenv("NOTIFY_SOCKET", "relative/sock", 1), 0);
        assert_int_equal(notify_stopping(), -EINVAL);
        assert_int_equal(notify_reloading(5), -EINVAL);
}

static void test_watchdog_usec(void **state) {
        char self[32], other[32];
        static const struct {
                const char *usec, *pid; /* NULL: unset; "self"/"other": this pid or not */
                int ret;
                usec_t expected;
        } table[] = {
                { NULL, NULL, 0, 0 },
                { NULL, "self", 0, 0 },
                { "2000000", NULL, 1, 2000000 },    /* no WATCHDOG_PID: for whoever reads it */
                { "2000000", "self", 1, 2000000 },
                { "2000000", "other", 0, 0 },       /* meant for another process */
                { "30000000", "self", 1, 30000000 },
                { "0", NULL, -EINVAL, 0 },
                { "18446744073709551615", NULL, -EINVAL, 0 }, /* infinity */
                { "abc", NULL, -EINVAL, 0 },
                { "-1", NULL, -ERANGE, 0 },
                { "2000000", "abc", -EINVAL, 0 },
                { "2000000", "0", -ERANGE, 0 },     /* not a valid pid */
        };

        snprintf(self, sizeof self, "%d", (int) getpid());
        snprintf(other, sizeof other, "%d", (int) getpid() + 1);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                const char *pid = table[i].pid;
                usec_t u = 4242;

                if (pid && streq(pid, "self"))
                        pid = self;
                else if (pid && streq(pid, "other"))
                        pid = other;
                if (table[i].usec)
                        assert_int_equal(setenv("WATCHDOG_USEC", table[i].usec, 1), 0);
                else
                        assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
                if (pid)
                        assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
                else
                        assert_int_equal(unsetenv("WATCHDOG_PID"), 0);

                assert_int_equal(notify_watchdog_usec(&u), table[i].ret);
                /* Untouched on failure; 0 when off. */
                assert_int_equal(u, table[i].ret < 0 ? 4242 : table[i].expected);
                /* The environment stays for a later look. */
                if (table[i].usec)
                        assert_string_equal(getenv("WATCHDOG_USEC"), table[i].usec);
                if (pid)
                        assert_string_equal(getenv("WATCHDOG_PID"), pid);
        }
        assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
        assert_int_equal(unsetenv("WATCHDOG_PID"), 0);
}

static void test_watchdog_interval(void **state) {
        static const struct {
                usec_t watchdog, expected;
        } table[] = {
                { 0, 0 },
                { USEC_INFINITY, 0 },
                { 1, 1 },
                { 2, 1 },
                { 3, 1 },
                { 2 * USEC_PER_SEC, USEC_PER_SEC },
                { 30 * USEC_PER_SEC, 15 * USEC_PER_SEC },
                { 3 * USEC_PER_MINUTE, 90 * USEC_PER_SEC },
                { USEC_INFINITY - 1, (USEC_INFINITY - 1) / 2 },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                assert_int_equal(notify_watchdog_interval(table[i].watchdog), table[i].expected);
}

static int setup(void **state) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (tmpdir_setup(state) < 0)
                return -1;
        snprintf(sock_path, sizeof sock_path, "%s/notify", dir);
        strcpy(sa.sun_path, sock_path);
        sock_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock_fd < 0)
                return -1;
        return bind(sock_fd, (struct sockaddr *) &sa, sizeof sa) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        if (sock_fd >= 0)
                close(sock_fd);
        return tmpdir_teardown(state);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_manager),
                cmocka_unit_test(test_fixed_messages),
                cmocka_unit_test(test_reloading),
                cmocka_unit_test(test_status),
                cmocka_unit_test(test_statusf),
                cmocka_unit_test(test_abstract_socket),
                cmocka_unit_test(test_send_failures),
                cmocka_unit_test(test_watchdog_usec),
                cmocka_unit_test(test_watchdog_interval),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
