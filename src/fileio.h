/* SPDX-License-Identifier: MIT */
#pragma once

/* File I/O that loses nothing across crashes: atomic replacement (temp file, fsync,
 * rename, fsync of the directory), bounded reads, synced appends, and setting a corrupt
 * file aside. Every state, report and metrics file of cmkd is written through here. */

#include <sys/types.h>

#include "macro.h"

/* Replaces dir/name with data: writes dir/.name.XXXXXX, fsyncs it, renames it over
 * dir/name and fsyncs dir. Readers see the old or the new file, never a mix. Returns 0
 * or -errno; on failure the temp file is removed and dir/name is untouched. */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode);

/* Reads a regular file of at most max bytes into a new NUL-terminated buffer (caller
 * frees with mem_free). -ENOENT if missing, -EFBIG if larger than max, -EINVAL if not a
 * regular file. */
int read_file_bounded(const char *path, size_t max, char **ret, size_t *ret_len);

/* Appends one line (a '\n' is added) with O_APPEND and fsyncs before returning, so an
 * acknowledged line survives a crash. Creates the file with mode if missing. */
int append_line_sync(const char *path, const char *line, mode_t mode);

/* Renames path to "path.corrupt-<unix seconds>" so a fresh one can be built; the old
 * content stays for a human to look at. Returns 0 or -errno. */
int set_aside_corrupt(const char *path, usec_t now_realtime, char **ret_new_path);

/* Creates dir (and parents) with mode if missing. */
int mkdir_p(const char *dir, mode_t mode);

/* Joins dir and name with one '/'. Returns a new string or NULL on allocation failure. */
char *path_join(const char *dir, const char *name);
