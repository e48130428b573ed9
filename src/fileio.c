/* SPDX-License-Identifier: MIT */
/* Crash-safe file writes and bounded reads. No logging: callers decide what a failure
 * means (state file: set aside and rebuild; report: retry next time). */

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "mem.h"

char *path_join(const char *dir, const char *name) {
        size_t ld = strlen(dir);
        char *p;

        while (ld > 1 && dir[ld - 1] == '/')
                ld--;
        p = mem_malloc(ld + 1 + strlen(name) + 1);
        if (!p)
                return NULL;
        memcpy(p, dir, ld);
        p[ld] = '/';
        strcpy(p + ld + 1, name);
        return p;
}

static int write_all(int fd, const void *data, size_t len) {
        const char *p = data;

        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static int fsync_dir(const char *dir) {
        int fd, r = 0;

        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fsync(fd) < 0)
                r = -errno;
        close(fd);
        return r;
}

int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp_name = NULL, *tmp = NULL, *final = NULL;
        int fd, r;

        tmp_name = mem_malloc(strlen(name) + 9);
        if (!tmp_name)
                return -ENOMEM;
        sprintf(tmp_name, ".%s.XXXXXX", name);
        tmp = path_join(dir, tmp_name);
        final = path_join(dir, name);
        if (!tmp || !final)
                return -ENOMEM;

        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fchmod(fd, mode) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, final) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        return fsync_dir(dir);
}

int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *data = NULL;
        struct stat st;
        size_t len = 0;
        int fd, r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto finish;
        }
        if (!S_ISREG(st.st_mode)) {
                r = -EINVAL;
                goto finish;
        }
        if ((uint64_t) st.st_size > max) {
                r = -EFBIG;
                goto finish;
        }
        data = mem_malloc(max + 1);
        if (!data) {
                r = -ENOMEM;
                goto finish;
        }
        /* Read up to max + 1 bytes: the file may have grown since fstat(). */
        for (;;) {
                ssize_t n = read(fd, data + len, max + 1 - len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto finish;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (len > max) {
                        r = -EFBIG;
                        goto finish;
                }
        }
        data[len] = 0;
        *ret = TAKE_PTR(data);
        if (ret_len)
                *ret_len = len;
finish:
        close(fd);
        return r;
}

int append_line_sync(const char *path, const char *line, mode_t mode) {
        size_t len = strlen(line);
        _cleanup_free_ char *copy = NULL;
        int fd, r;

        copy = mem_malloc(len + 1);
        if (!copy)
                return -ENOMEM;
        memcpy(copy, line, len);
        copy[len] = '\n';

        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, mode);
        if (fd < 0)
                return -errno;
        /* One write() of the whole line: with O_APPEND, concurrent appends never interleave
         * within it. */
        r = write_all(fd, copy, len + 1);
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        return r;
}

int set_aside_corrupt(const char *path, usec_t now_realtime, char **ret_new_path) {
        _cleanup_free_ char *aside = NULL;

        aside = mem_malloc(strlen(path) + 40);
        if (!aside)
                return -ENOMEM;
        sprintf(aside, "%s.corrupt-%llu", path, (unsigned long long) (now_realtime / USEC_PER_SEC));
        if (rename(path, aside) < 0)
                return -errno;
        if (ret_new_path)
                *ret_new_path = TAKE_PTR(aside);
        return 0;
}

int mkdir_p(const char *dir, mode_t mode) {
        _cleanup_free_ char *p = mem_strdup(dir);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}
