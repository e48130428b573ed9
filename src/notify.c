/* SPDX-License-Identifier: MIT */
/* sd_notify for cmkd: formats the few messages the service manager understands and sends
 * them. It must not read clocks, allocate, keep state or log above debug: the manager
 * decides when to send and what a failure means. */

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "log.h"
#include "notify.h"

static int send_state(const char *what, const char *state) {
        int r;

        /* unset_environment=false: a reload or a later stop must still find the socket. */
        r = sd_notify(false, state);
        if (r < 0)
                return log_debug_errno(r, "Failed to send %s to the service manager: %m", what);
        return r > 0;
}

int notify_ready(void) {
        return send_state("READY=1", "READY=1");
}

int notify_reloading(usec_t monotonic_now) {
        char buf[sizeof("RELOADING=1\nMONOTONIC_USEC=") + 20];

        /* systemd 253+ uses MONOTONIC_USEC to tell this reload from an older one; 252
         * ignores it. Both take RELOADING=1 as "not ready until the next READY=1". */
        snprintf(buf, sizeof buf, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64, (uint64_t) monotonic_now);
        return send_state("RELOADING=1", buf);
}

int notify_stopping(void) {
        return send_state("STOPPING=1", "STOPPING=1");
}

int notify_watchdog(void) {
        return send_state("WATCHDOG=1", "WATCHDOG=1");
}

/* Copies at most NOTIFY_STATUS_MAX bytes of src into dst (which holds NOTIFY_STATUS_MAX + 1),
 * never ending inside a UTF-8 sequence, with control characters turned into spaces: the
 * protocol is newline-separated assignments, so a newline in the text (an Azure error
 * message, say) would otherwise smuggle in "READY=1" or "STOPPING=1". */
static void status_sanitize(char *dst, const char *src) {
        size_t n = strnlen(src, NOTIFY_STATUS_MAX + 1);

        if (n > NOTIFY_STATUS_MAX) {
                /* src[n] exists here: back up while it continues a character. */
                n = NOTIFY_STATUS_MAX;
                while (n > 0 && ((unsigned char) src[n] & 0xc0) == 0x80)
                        n--;
        }
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) src[i];

                dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char) c;
        }
        dst[n] = '\0';
}

int notify_status(const char *line) {
        char buf[sizeof("STATUS=") + NOTIFY_STATUS_MAX];

        memcpy(buf, "STATUS=", strlen("STATUS="));
        status_sanitize(buf + strlen("STATUS="), strempty(line));
        return send_state("STATUS=", buf);
}

int notify_statusf(const char *format, ...) {
        /* Twice the limit, so that status_sanitize() sees where a character cut by
         * vsnprintf() would have ended and drops it whole. */
        char text[2 * NOTIFY_STATUS_MAX + 1];
        va_list ap;
        int r;

        va_start(ap, format);
        r = vsnprintf(text, sizeof text, format, ap);
        va_end(ap);
        if (r < 0)
                return log_debug_errno(EINVAL, "Failed to format a status line: %m");
        return notify_status(text);
}

int notify_watchdog_usec(usec_t *ret) {
        uint64_t usec = 0;
        int r;

        /* sd_watchdog_enabled(): WATCHDOG_PID unset means "whichever process reads it",
         * a pid other than ours means the watchdog is not ours to feed. Keep the variables:
         * nothing of ours forks, and a re-read after a reload must give the same answer. */
        r = sd_watchdog_enabled(false, &usec);
        if (r < 0)
                return log_debug_errno(r, "Ignoring malformed $WATCHDOG_USEC or $WATCHDOG_PID: %m");
        *ret = r > 0 ? (usec_t) usec : 0;
        return r > 0;
}

usec_t notify_watchdog_interval(usec_t watchdog_usec) {
        if (watchdog_usec == 0 || watchdog_usec == USEC_INFINITY)
                return 0;
        return MAX(watchdog_usec / 2, (usec_t) 1);
}
