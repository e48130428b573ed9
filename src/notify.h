/* SPDX-License-Identifier: MIT */
#pragma once

/* The service manager protocol of Type=notify services (sd_notify(3)): readiness, reload,
 * stop, status lines and watchdog pings. Without $NOTIFY_SOCKET every call does nothing and
 * returns 0, so the same code runs in a terminal, under tests and under systemd. Nothing
 * here reads a clock: the caller passes the time, and the manager owns the ping timer. */

#include "macro.h"

/* Bytes of STATUS= text sent at most; longer text is cut at a UTF-8 character boundary. */
#define NOTIFY_STATUS_MAX 256

/* Every sender returns 1 when the datagram was sent, 0 when no service manager listens
 * ($NOTIFY_SOCKET unset), or a negative errno when sending failed (-EINVAL for a malformed
 * $NOTIFY_SOCKET, -ENOENT or -ECONNREFUSED when nobody listens at its address, -EAGAIN
 * when the socket is full, ...). A failure is logged at debug only: the caller decides
 * whether it matters (usually it does not: systemd notices a missing READY=1 itself). */

/* "READY=1": start-up or a reload has finished. Send it once the config is loaded and
 * before the first Azure request, so an Azure outage never fails the start. */
int notify_ready(void);

/* "RELOADING=1\nMONOTONIC_USEC=<monotonic_now>": a reload (SIGHUP) has begun; follow it
 * with notify_ready() whether the new config was taken or rejected. monotonic_now is
 * CLOCK_MONOTONIC in microseconds, read by the caller just before the call. */
int notify_reloading(usec_t monotonic_now);

/* "STOPPING=1": shutdown has begun (SIGTERM/SIGINT). */
int notify_stopping(void);

/* "WATCHDOG=1": the event loop is alive. Send it from a timer of the loop itself, every
 * notify_watchdog_interval() microseconds, never from a helper thread. */
int notify_watchdog(void);

/* "STATUS=<line>": one human-readable line for 'systemctl status'. Control characters
 * (a newline would start another assignment) become spaces, and the text is cut at
 * NOTIFY_STATUS_MAX bytes. NULL or "" sends an empty status, clearing the old one. */
int notify_status(const char *line);
/* The same with printf formatting. */
int notify_statusf(const char *format, ...) _printf_(1, 2);

/* The watchdog period systemd expects pings within (WatchdogSec=), from $WATCHDOG_USEC,
 * when $WATCHDOG_PID is unset or names this process (sd_watchdog_enabled(3)). Leaves the
 * environment alone. Returns 1 and sets *ret to the period when the watchdog is on for us;
 * 0 and sets *ret to 0 when it is off or meant for another process; -EINVAL or -ERANGE
 * (logged at debug, *ret untouched) when either variable is malformed or $WATCHDOG_USEC
 * is 0 or infinity. */
int notify_watchdog_usec(usec_t *ret);

/* The ping period for a watchdog period: half of it, as systemd recommends, so one late
 * loop iteration never costs a restart. 0 (watchdog off) and USEC_INFINITY give 0 (do not
 * ping); any other value gives at least 1, so a repeating timer never gets a zero repeat. */
usec_t notify_watchdog_interval(usec_t watchdog_usec);
