/* SPDX-License-Identifier: MIT */
/* Audit log: JSON lines appended with fsync, and a streaming reader that skips (and counts)
 * lines a crash or a person damaged. It never rewrites or truncates the log, and never
 * holds more of it in memory than the entries asked for. */

#include <fcntl.h>
#include <json-c/json.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "fileio.h"
#include "mem.h"
#include "strtable.h"
#include "timeutil.h"

static const char *const result_table[_AUDIT_RESULT_MAX] = {
        [AUDIT_PROPOSED] = "proposed", [AUDIT_STARTED] = "started", [AUDIT_SUCCEEDED] = "succeeded",
        [AUDIT_FAILED] = "failed",     [AUDIT_REFUSED] = "refused", [AUDIT_RESUMED] = "resumed",
};

DEFINE_STRING_TABLE_LOOKUP(audit_result, enum audit_result, result_table)

int audit_format(const struct audit_entry *e, struct buf *out) {
        char t[RFC3339_MAX];
        size_t start = out->len;
        int r;

        if (isempty(e->cluster) || !audit_result_to_string(e->result))
                return -EINVAL;
        r = buf_printf(out, "{\"time\":\"%s\"", rfc3339_format(t, sizeof t, e->time));
        if (r >= 0)
                r = buf_put_json_member(out, "cluster", e->cluster);
        if (r >= 0)
                r = buf_put_json_member(out, "subscription", e->subscription);
        if (r >= 0)
                r = buf_put_json_member(out, "action", e->action);
        if (r >= 0)
                r = buf_put_json_member(out, "method", e->method);
        if (r >= 0)
                r = buf_put_json_member(out, "mode", e->mode);
        if (r >= 0)
                r = buf_put_json_member(out, "old_key_url", e->old_url);
        if (r >= 0)
                r = buf_put_json_member(out, "new_key_url", e->new_url);
        if (r >= 0)
                r = buf_put_json_member(out, "operation_id", e->operation_id);
        if (r >= 0)
                r = buf_put_json_member(out, "result", audit_result_to_string(e->result));
        if (r >= 0)
                r = buf_put_json_member(out, "refusal", e->refusal);
        if (r >= 0)
                r = buf_put_json_member(out, "error", e->error);
        if (r >= 0)
                r = buf_put_json_member(out, "error_code", e->error_code);
        if (r >= 0)
                r = buf_put_json_member(out, "request_id", e->request_id);
        if (r >= 0)
                r = buf_putc(out, '}');
        if (r >= 0 && out->len - start > AUDIT_LINE_MAX)
                r = -E2BIG;
        if (r < 0) {
                /* Leave out as it was: no half entry. */
                out->len = start;
                if (out->data)
                        out->data[start] = 0;
        }
        return r;
}

/* True if the file is empty or ends in a newline. */
static int ends_in_newline(const char *path) {
        struct stat st;
        char c;
        int fd, r;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errno == ENOENT ? 1 : -errno;
        if (fstat(fd, &st) < 0)
                r = -errno;
        else if (st.st_size == 0)
                r = 1;
        else if (pread(fd, &c, 1, st.st_size - 1) != 1)
                r = -EIO;
        else
                r = c == '\n';
        close(fd);
        return r;
}

int audit_append(const char *path, const struct audit_entry *e) {
        struct buf b;
        int r;

        buf_init(&b, AUDIT_LINE_MAX + 1);
        r = ends_in_newline(path);
        if (r == 0)
                r = buf_putc(&b, '\n');
        if (r >= 0)
                r = audit_format(e, &b);
        if (r >= 0)
                r = append_line_sync(path, buf_str(&b), 0640);
        buf_done(&b);
        return r;
}

void audit_entry_done(struct audit_entry *e) {
        mem_free(e->cluster);
        mem_free(e->subscription);
        mem_free(e->action);
        mem_free(e->method);
        mem_free(e->mode);
        mem_free(e->old_url);
        mem_free(e->new_url);
        mem_free(e->operation_id);
        mem_free(e->refusal);
        mem_free(e->error);
        mem_free(e->error_code);
        mem_free(e->request_id);
        *e = (struct audit_entry){};
}

/* Copies an optional string field. -EBADMSG if present and not a string or null. */
static int take_string(struct json_object *o, const char *name, char **ret) {
        struct json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(o, name, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = mem_strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

int audit_parse_line(const char *line, size_t len, struct audit_entry *ret) {
        struct audit_entry e = {};
        struct json_tokener *tok;
        struct json_object *root = NULL, *v;
        int r = -EBADMSG;

        if (len > AUDIT_LINE_MAX)
                return -EBADMSG;
        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, line, (int) len);
        if (!root || json_tokener_get_error(tok) != json_tokener_success ||
            json_tokener_get_parse_end(tok) != len || !json_object_is_type(root, json_type_object))
                goto finish;
        if (!json_object_object_get_ex(root, "time", &v) || !json_object_is_type(v, json_type_string) ||
            rfc3339_parse(json_object_get_string(v), &e.time) < 0)
                goto finish;
        if (!json_object_object_get_ex(root, "result", &v) || !json_object_is_type(v, json_type_string))
                goto finish;
        e.result = audit_result_from_string(json_object_get_string(v));
        if (e.result < 0)
                goto finish;
        if ((r = take_string(root, "cluster", &e.cluster)) < 0 ||
            (r = take_string(root, "subscription", &e.subscription)) < 0 ||
            (r = take_string(root, "action", &e.action)) < 0 ||
            (r = take_string(root, "method", &e.method)) < 0 ||
            (r = take_string(root, "mode", &e.mode)) < 0 ||
            (r = take_string(root, "old_key_url", &e.old_url)) < 0 ||
            (r = take_string(root, "new_key_url", &e.new_url)) < 0 ||
            (r = take_string(root, "operation_id", &e.operation_id)) < 0 ||
            (r = take_string(root, "refusal", &e.refusal)) < 0 ||
            (r = take_string(root, "error", &e.error)) < 0 ||
            (r = take_string(root, "error_code", &e.error_code)) < 0 ||
            (r = take_string(root, "request_id", &e.request_id)) < 0)
                goto finish;
        r = -EBADMSG;
        if (isempty(e.cluster))
                goto finish;
        *ret = e;
        e = (struct audit_entry){};
        r = 0;
finish:
        audit_entry_done(&e);
        json_object_put(root);
        json_tokener_free(tok);
        return r;
}

struct audit_log *audit_log_free(struct audit_log *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_entries; i++)
                audit_entry_done(&l->entries[i]);
        mem_free(l->entries);
        mem_free(l);
        return NULL;
}

struct reader {
        struct audit_log *log;
        size_t allocated, max_entries;
        usec_t since, until;
};

/* One complete line (without its newline), or the unterminated tail when last. */
static int reader_line(struct reader *rd, const char *line, size_t len, bool last) {
        struct audit_entry e;
        int r;

        if (len == 0 || (len == 1 && line[0] == '\r'))
                return 0;
        r = audit_parse_line(line, len, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (last)
                        rd->log->n_truncated++;
                else
                        rd->log->n_corrupt++;
                return 0;
        }
        if (e.time < rd->since || e.time >= rd->until) {
                audit_entry_done(&e);
                return 0;
        }
        if (rd->log->n_entries >= rd->max_entries) {
                audit_entry_done(&e);
                rd->log->n_omitted++;
                return 0;
        }
        if (GREEDY_REALLOC(rd->log->entries, rd->allocated, rd->log->n_entries + 1) < 0) {
                audit_entry_done(&e);
                return -ENOMEM;
        }
        rd->log->entries[rd->log->n_entries++] = e;
        return 0;
}

int audit_read(const char *path, usec_t since, usec_t until, size_t max_entries, struct audit_log **ret) {
        struct reader rd = { .max_entries = max_entries, .since = since, .until = until };
        _cleanup_free_ char *chunk = NULL;
        bool overlong = false;
        struct buf line;
        int fd, r = 0;

        rd.log = new0(struct audit_log, 1);
        if (!rd.log)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT) {
                        *ret = rd.log;
                        return 0;
                }
                r = -errno;
                audit_log_free(rd.log);
                return r;
        }
        chunk = mem_malloc(65536);
        if (!chunk) {
                close(fd);
                audit_log_free(rd.log);
                return -ENOMEM;
        }
        buf_init(&line, AUDIT_LINE_MAX);
        for (;;) {
                ssize_t n = read(fd, chunk, 65536);
                const char *p, *end;

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        r = -errno;
                        break;
                }
                if (n == 0)
                        break;
                for (p = chunk, end = chunk + n; p < end;) {
                        const char *nl = memchr(p, '\n', (size_t) (end - p));
                        size_t k = (size_t) ((nl ?: end) - p);

                        if (!overlong) {
                                r = buf_append(&line, p, k);
                                if (r == -E2BIG) {
                                        /* Longer than any entry: skip to its end, count it once. */
                                        overlong = true;
                                        rd.log->n_corrupt++;
                                        buf_clear(&line);
                                        r = 0;
                                }
                                if (r < 0)
                                        break;
                        }
                        if (!nl)
                                break;
                        if (!overlong)
                                r = reader_line(&rd, buf_str(&line), line.len, false);
                        overlong = false;
                        buf_clear(&line);
                        if (r < 0)
                                break;
                        p = nl + 1;
                }
                if (r < 0)
                        break;
        }
        if (r >= 0 && !overlong)
                r = reader_line(&rd, buf_str(&line), line.len, true);
        buf_done(&line);
        close(fd);
        if (r < 0) {
                audit_log_free(rd.log);
                return r;
        }
        *ret = rd.log;
        return 0;
}
