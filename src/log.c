/* SPDX-License-Identifier: MIT */
/* stderr logging with journald priority prefixes. Formats on the stack: it must not
 * allocate, so it works when memory is short. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "strtable.h"

static int max_level = LOG_INFO;
static bool prefix_priority;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

static const char *const log_level_table[] = {
        [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit", [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(log_level, int, log_level_table)

int log_level_from_string(const char *s) {
        /* "error" is what people write for "err". */
        if (s && strcasecmp(s, "error") == 0)
                return LOG_ERR;
        return string_table_from_string(log_level_table, ELEMENTSOF(log_level_table), s, true);
}

void log_setup(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        /* JOURNAL_STREAM is "dev:inode" of the stream systemd connected; only trust it
         * if stderr is still that stream. */
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        prefix_priority = st.st_dev == (dev_t) dev && st.st_ino == (ino_t) ino;
}

int log_internal(int level, int error, const char *func, const char *format, ...) {
        char msg[2048];
        va_list ap;
        int saved = errno;

        errno = ERRNO_VALUE(error);
        va_start(ap, format);
        vsnprintf(msg, sizeof msg, format, ap);
        va_end(ap);

        if (prefix_priority)
                fprintf(stderr, "<%d>%s\n", level, msg);
        else if (max_level >= LOG_DEBUG)
                fprintf(stderr, "%s: %s\n", func, msg);
        else
                fprintf(stderr, "%s\n", msg);

        errno = saved;
        return -ERRNO_VALUE(error ?: EINVAL);
}
