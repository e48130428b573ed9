/* SPDX-License-Identifier: MIT */
#pragma once

/* Operational log lines to stderr. Under systemd, stderr goes to the journal and each
 * line carries a "<N>" priority prefix that journald understands. Alerts for on-call
 * staff are not log lines: they go through alert.c. Never pass a token or secret. */

#include <syslog.h>

#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
/* Parses "debug", "info", "notice", "warning", "err"/"error", "crit", "alert", "emerg", in any
 * case. Returns level or -EINVAL. */
int log_level_from_string(const char *s);
/* "emerg" .. "debug" for LOG_EMERG .. LOG_DEBUG; NULL for any other number. */
const char *log_level_to_string(int level);
/* Prefix lines with "<N>" when stderr is connected to the journal (JOURNAL_STREAM). */
void log_setup(void);

/* Logs at level; error is an errno (sign ignored) used for %m. Returns -ERRNO_VALUE(error),
 * or -EINVAL when error is 0, so callers can 'return log_error_errno(r, ...)'. */
int log_internal(int level, int error, const char *func, const char *format, ...) _printf_(4, 5);

#define log_full_errno(level, error, ...)                                               \
        ({                                                                              \
                int _level = (level), _e = (error);                                     \
                (log_get_max_level() >= _level) ? log_internal(_level, _e, __func__, __VA_ARGS__) \
                                                : -ERRNO_VALUE(_e ?: EINVAL);           \
        })

#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, error, __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, error, __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, error, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, error, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
