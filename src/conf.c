/* SPDX-License-Identifier: MIT */
/* The configuration file: systemd-style INI → a validated struct conf. One table row per
 * key; every error is collected (file, line, key, value, what is accepted) and returned,
 * never logged. A conf is handed out only whole and valid. Reads only the file it is
 * given and two environment variables; never touches the running daemon's state. */

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "conf.h"
#include "keyurl.h"
#include "log.h"
#include "mem.h"
#include "strtable.h"
#include "strv.h"
#include "timeutil.h"

/* Values longer than this are shortened in error messages. */
#define VALUE_SHOWN_MAX 120
#define KEYS_MAX        96

/* Line numbers of the keys an override section sets, by enum policy_key bit index. */
#define POLICY_KEYS 7

struct override_lines {
        unsigned header;
        unsigned key[POLICY_KEYS];
};

enum section_kind {
        SECTION_NONE,     /* before the first header */
        SECTION_SKIP,     /* a bad or unknown header, already reported: its keys are ignored */
        SECTION_PLAIN,    /* [Azure], [Policy], ... */
        SECTION_OVERRIDE, /* [Policy:MATCH] */
};

struct conf_parse_state {
        const char *path;
        struct conf *conf; /* being built; owned by the caller of parse_text() */

        /* The line reader. libinih's handler gets no line number in Debian's build, long
         * lines come out cut into pieces (each parsed as a line of its own), section names
         * are cut at 49 bytes, and "name: value" and indented continuation lines are
         * accepted; so every physical line goes through line_reader() first: it counts
         * lines, enforces systemd syntax and CONF_LINE_MAX, tracks the section itself, and
         * hands libinih only well-formed KEY=VALUE lines. The handler runs before the next
         * line is read, so st->line is the handler's line. */
        const char *text;
        size_t len, pos;
        unsigned line;
        enum section_kind section_kind;
        const char *section; /* static name of a plain section */
        size_t override;     /* index for SECTION_OVERRIDE */

        struct cloud cloud_override; /* [Azure] Cloud= and endpoint keys as written; NULL = preset */
        unsigned key_line[KEYS_MAX]; /* line a key was last set on in a plain section; 0 = never */
        struct override_lines *override_lines;
        size_t n_overrides_allocated, n_override_lines_allocated;

        char **errors;
        size_t n_errors, n_dropped;
        bool oom;
};

/* ---- enums ----------------------------------------------------------------------- */

static const char *const auth_method_table[_AUTH_MAX] = {
        [AUTH_MANAGED_IDENTITY] = "managed-identity",
        [AUTH_CLIENT_SECRET] = "client-secret",
        [AUTH_WORKLOAD_IDENTITY] = "workload-identity",
};

static const char *const run_mode_table[_MODE_MAX] = {
        [MODE_ENFORCE] = "enforce",
        [MODE_ALERT_ONLY] = "alert-only",
        [MODE_DRY_RUN] = "dry-run",
};

static const char *const update_method_table[_UPDATE_METHOD_MAX] = {
        [UPDATE_METHOD_PUT] = "put",
        [UPDATE_METHOD_PATCH] = "patch",
};

/* Config values are accepted in any case. */
DEFINE_STRING_TABLE_LOOKUP_NO_CASE(auth_method, enum auth_method, auth_method_table)
DEFINE_STRING_TABLE_LOOKUP_NO_CASE(run_mode, enum run_mode, run_mode_table)
DEFINE_STRING_TABLE_LOOKUP_NO_CASE(update_method, enum update_method, update_method_table)

/* ---- small validators ------------------------------------------------------------- */

static bool has_control(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        return true;
        return false;
}

static bool guid_valid(const char *s) {
        static const size_t dashes[] = { 8, 13, 18, 23 };
        size_t d = 0;

        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (d < ELEMENTSOF(dashes) && i == dashes[d]) {
                        if (s[i] != '-')
                                return false;
                        d++;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

/* fnmatch() takes any string, but a '[' without its ']' or a trailing '\' is a typo
 * that would silently match nothing (or match literally): refuse it. */
static bool glob_valid(const char *s) {
        if (isempty(s) || has_control(s))
                return false;
        for (const char *p = s; *p; p++) {
                if (*p == '\\') {
                        if (!p[1])
                                return false;
                        p++;
                } else if (*p == '[') {
                        const char *q = p + 1;

                        if (*q == '!' || *q == '^')
                                q++;
                        if (*q == ']')
                                q++;
                        while (*q && *q != ']')
                                q++;
                        if (!*q || q == p + 1)
                                return false;
                        p = q;
                }
        }
        return true;
}

static bool hostname_valid(const char *s, size_t n) {
        size_t label = 0;

        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!isalnum((unsigned char) c) && c != '-')
                        return false;
                if (c == '-' && label == 0)
                        return false;
                if (++label > 63)
                        return false;
        }
        return label > 0 && s[n - 1] != '-';
}

/* A host as curl takes it: a DNS name, an IPv4 address or a bracketed IPv6 address. */
static bool host_valid(const char *s, size_t n) {
        char buf[INET6_ADDRSTRLEN + 1];
        unsigned char addr[16];

        if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
                if (n - 2 >= sizeof buf)
                        return false;
                memcpy(buf, s + 1, n - 2);
                buf[n - 2] = 0;
                return inet_pton(AF_INET6, buf, addr) == 1;
        }
        return hostname_valid(s, n);
}

static bool port_valid(const char *s, size_t n) {
        unsigned v = 0;

        if (n == 0 || n > 5)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (!isdigit((unsigned char) s[i]))
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        return v >= 1 && v <= 65535;
}

static bool absolute_path_valid(const char *s) {
        return s[0] == '/' && strlen(s) < 4096 && !has_control(s);
}

/* ---- word lists ------------------------------------------------------------------ */

/* Splits on whitespace; "double" or 'single' quotes keep spaces inside one word. */
static int split_words(const char *s, char ***ret, const char **ret_why) {
        _cleanup_strv_free_ char **l = new0(char *, 1);
        _cleanup_free_ char *w = mem_malloc(strlen(s) + 1); /* scratch for one word at a time */
        int r;

        if (!l || !w)
                return -ENOMEM;
        for (const char *p = s;;) {
                size_t n = 0;

                while (*p == ' ' || *p == '\t')
                        p++;
                if (!*p)
                        break;
                while (*p && *p != ' ' && *p != '\t') {
                        if (*p == '"' || *p == '\'') {
                                const char *end = strchr(p + 1, *p);

                                if (!end) {
                                        *ret_why = "unbalanced quote";
                                        return -EINVAL;
                                }
                                memcpy(w + n, p + 1, (size_t) (end - p - 1));
                                n += (size_t) (end - p - 1);
                                p = end + 1;
                        } else
                                w[n++] = *p++;
                }
                w[n] = 0;
                if (n == 0) {
                        *ret_why = "empty word";
                        return -EINVAL;
                }
                r = strv_extend(&l, w);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* Appends each word of value after check_fn (which may rewrite it in place), skipping
 * words already present (case-insensitively when 'fold') unless 'keep_duplicates'. An
 * empty value empties the list. At most CONF_LIST_MAX entries: the cap also keeps a
 * huge file from taking quadratic time. On -ENOMEM the list may hold some of the new
 * words; the whole load fails then anyway. */
typedef bool (*word_check_fn)(char *w, const char **ret_why);

static int append_words(const char *value, char ***list, word_check_fn check, bool fold,
                        bool keep_duplicates, const char **ret_why) {
        _cleanup_strv_free_ char **words = NULL;
        size_t n = strv_length(*list);
        int r;

        if (isempty(value)) {
                *list = strv_free(*list);
                return 0;
        }
        r = split_words(value, &words, ret_why);
        if (r < 0)
                return r;
        STRV_FOREACH(w, words)
                if (check && !check(*w, ret_why))
                        return -EINVAL;
        /* Count first, so that a list is never left half extended by a refused value. */
        for (size_t i = 0, added = 0; words[i]; i++) {
                bool dup = !keep_duplicates &&
                           (fold ? strv_contains_case(*list, words[i]) : strv_contains(*list, words[i]));

                for (size_t j = 0; !dup && !keep_duplicates && j < i; j++)
                        dup = fold ? strcasecmp(words[i], words[j]) == 0 : streq(words[i], words[j]);
                if (!dup && n + ++added > CONF_LIST_MAX) {
                        *ret_why = "too many entries (at most 1024)";
                        return -ERANGE;
                }
        }
        for (size_t i = 0; words[i]; i++) {
                if (!keep_duplicates &&
                    (fold ? strv_contains_case(*list, words[i]) : strv_contains(*list, words[i])))
                        continue;
                r = strv_extend(list, words[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_word_list(const char *value, char ***list, word_check_fn check, bool fold,
                           const char **ret_why) {
        return append_words(value, list, check, fold, false, ret_why);
}

/* ---- parsers ----------------------------------------------------------------------- */

#define FIELD(type, f) ((type *) (f))

static int set_string(char **field, const char *value) {
        char *s = NULL;

        if (!isempty(value)) {
                s = mem_strdup(value);
                if (!s)
                        return -ENOMEM;
        }
        mem_free(*field);
        *field = s;
        return 0;
}

static int parse_bool(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                      const char **why) {
        static const char *const yes[] = { "yes", "true", "on", "1" }, *const no[] = { "no", "false", "off",
                                                                                       "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(v, yes[i]) == 0) {
                        *FIELD(bool, f) = true;
                        return 0;
                }
                if (strcasecmp(v, no[i]) == 0) {
                        *FIELD(bool, f) = false;
                        return 0;
                }
        }
        *why = "not a boolean";
        return -EINVAL;
}

static int parse_uint(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                      const char **why) {
        uint64_t n = 0;

        if (!isdigit((unsigned char) *v)) {
                *why = "not a whole number";
                return -EINVAL;
        }
        for (const char *p = v; *p; p++) {
                if (!isdigit((unsigned char) *p)) {
                        *why = "not a whole number";
                        return -EINVAL;
                }
                if (n > (UINT64_MAX - 9) / 10) {
                        *why = "out of range";
                        return -ERANGE;
                }
                n = n * 10 + (uint64_t) (*p - '0');
        }
        if (n < k->min || n > k->max) {
                *why = "out of range";
                return -ERANGE;
        }
        *FIELD(unsigned, f) = (unsigned) n;
        return 0;
}

static int parse_span(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                      const char **why) {
        usec_t t;
        int r;

        r = timespan_parse(v, USEC_PER_SEC, &t);
        if (r == -ERANGE || (r >= 0 && (t < k->min || t > k->max))) {
                *why = "out of range";
                return -ERANGE;
        }
        if (r < 0) {
                *why = "not a time span";
                return -EINVAL;
        }
        *FIELD(usec_t, f) = t;
        return 0;
}

/* Any case, as every enum value of the config: the names are those of to_string(), for i in
 * [0, max). */
#define DEFINE_ENUM_PARSER(name, type, max, to_string)                                                      \
        static int parse_##name(struct conf_parse_state *st, const struct conf_key *k, const char *v,       \
                                void *f, const char **why) {                                                \
                for (int i = 0; i < (max); i++)                                                             \
                        if (strcaseeq_ptr(to_string((type) i), v)) {                                        \
                                *FIELD(type, f) = (type) i;                                                 \
                                return 0;                                                                   \
                        }                                                                                   \
                *why = "unknown value";                                                                     \
                return -EINVAL;                                                                             \
        }

DEFINE_ENUM_PARSER(auth, enum auth_method, _AUTH_MAX, auth_method_to_string)
DEFINE_ENUM_PARSER(mode, enum run_mode, _MODE_MAX, run_mode_to_string)
DEFINE_ENUM_PARSER(update_method, enum update_method, _UPDATE_METHOD_MAX, update_method_to_string)
DEFINE_ENUM_PARSER(stale_version, enum stale_version_policy, _STALE_VERSION_MAX, stale_version_policy_to_string)
DEFINE_ENUM_PARSER(update_target, enum update_target, _UPDATE_TARGET_MAX, update_target_to_string)

static int parse_log_level(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                           const char **why) {
        int l;

        if (v[0] >= '0' && v[0] <= '7' && !v[1])
                l = v[0] - '0';
        else
                l = log_level_from_string(v);
        if (l < 0) {
                *why = "unknown log level";
                return -EINVAL;
        }
        *FIELD(int, f) = l;
        return 0;
}

static int parse_cloud(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                       const char **why) {
        const char *name = cloud_preset_canonical(v);

        if (!name) {
                *why = "unknown cloud";
                return -EINVAL;
        }
        return set_string(FIELD(char *, f), name);
}

static int parse_guid(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                      const char **why) {
        _cleanup_free_ char *s = NULL;

        if (isempty(v))
                return set_string(FIELD(char *, f), NULL);
        if (!guid_valid(v)) {
                *why = "not a GUID";
                return -EINVAL;
        }
        s = mem_strdup(v);
        if (!s)
                return -ENOMEM;
        for (char *p = s; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        mem_free(*FIELD(char *, f));
        *FIELD(char *, f) = TAKE_PTR(s);
        return 0;
}

static bool check_guid(char *w, const char **why) {
        if (!guid_valid(w)) {
                *why = "not a GUID";
                return false;
        }
        for (char *p = w; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        return true;
}

static int parse_guid_list(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                           const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_guid, true, why);
}

/* Resource group names: 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in
 * '.'; non-ASCII letters are allowed by Azure and passed through. */
static bool check_resource_group(char *w, const char **why) {
        size_t n = strlen(w);

        if (n > 90 || w[n - 1] == '.') {
                *why = "not a resource group name";
                return false;
        }
        for (char *p = w; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_-.()", *p) && (unsigned char) *p < 0x80) {
                        *why = "not a resource group name";
                        return false;
                }
        return true;
}

static int parse_rg_list(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                         const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_resource_group, true, why);
}

static bool check_glob(char *w, const char **why) {
        if (!glob_valid(w)) {
                *why = "not a valid glob ('[' without ']' or a trailing '\\')";
                return false;
        }
        return true;
}

static int parse_glob_list(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                           const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_glob, false, why);
}

/* "name=glob" or "name". Azure forbids < > % & \ ? / in tag names. */
static bool check_tag(char *w, const char **why) {
        const char *eq = strchr(w, '=');
        size_t n = eq ? (size_t) (eq - w) : strlen(w);

        if (n == 0 || n > 512) {
                *why = "empty or over-long tag name";
                return false;
        }
        for (size_t i = 0; i < n; i++)
                if (strchr("<>%&\\?/", w[i])) {
                        *why = "tag names cannot contain < > % & \\ ? /";
                        return false;
                }
        if (eq && !glob_valid(eq + 1)) {
                *why = "not a valid glob after '=' ('[' without ']' or a trailing '\\')";
                return false;
        }
        return true;
}

static int parse_tag_list(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                          const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_tag, false, why);
}

/* curl's CURLOPT_CONNECT_TO: HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT. Empty HOST or
 * PORT match any; an empty connect-to part keeps the original. IPv6 in brackets. */
static bool check_connect_to(char *w, const char **why) {
        const char *p = w, *part[4];
        size_t len[4];

        for (size_t i = 0; i < 4; i++) {
                part[i] = p;
                if (*p == '[') {
                        const char *e = strchr(p, ']');

                        if (!e) {
                                *why = "'[' without ']'";
                                return false;
                        }
                        p = e + 1;
                } else
                        p += strcspn(p, ":");
                len[i] = (size_t) (p - part[i]);
                if (i < 3) {
                        if (*p != ':') {
                                *why = "needs four ':'-separated fields";
                                return false;
                        }
                        p++;
                }
        }
        if (*p) {
                *why = "needs four ':'-separated fields";
                return false;
        }
        if ((len[0] && !host_valid(part[0], len[0])) || (len[2] && !host_valid(part[2], len[2]))) {
                *why = "bad host name";
                return false;
        }
        if ((len[1] && !port_valid(part[1], len[1])) || (len[3] && !port_valid(part[3], len[3]))) {
                *why = "bad port (1-65535)";
                return false;
        }
        if (len[2] == 0 && len[3] == 0) {
                *why = "connects to the same host and port: does nothing";
                return false;
        }
        return true;
}

static int parse_connect_to(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                            const char **why) {
        /* Order matters to curl (first match wins) and repeats are harmless: keep all. */
        return append_words(v, FIELD(char **, f), check_connect_to, false, true, why);
}

enum url_flags {
        URL_HTTP = 1u << 0,           /* http:// instead of https:// */
        URL_TRAILING_SLASH = 1u << 1, /* keep exactly one trailing '/' instead of none */
};

/* scheme://host[:port][/path], no user info, query or fragment. Returns a new normalized
 * string (scheme and host lowercase, trailing slashes per flags) or NULL with *why set. */
static int url_normalize(const char *v, unsigned flags, char **ret, const char **why) {
        const char *scheme = flags & URL_HTTP ? "http://" : "https://", *host, *p;
        size_t host_len, path_len;
        char *s;

        p = startswith_no_case(v, scheme);
        if (!p) {
                *why = flags & URL_HTTP ? "must start with http://" : "must start with https://";
                return -EINVAL;
        }
        host = p;
        if (*p == '[') {
                const char *e = strchr(p, ']');

                if (!e) {
                        *why = "bad host";
                        return -EINVAL;
                }
                p = e + 1;
        } else
                p += strcspn(p, ":/?#@");
        host_len = (size_t) (p - host);
        if (*p == '@' || strchr(p, '@')) {
                *why = "user information is not allowed";
                return -EINVAL;
        }
        if (!host_valid(host, host_len)) {
                *why = "bad host";
                return -EINVAL;
        }
        if (*p == ':') {
                size_t n = strcspn(p + 1, "/?#");

                if (!port_valid(p + 1, n)) {
                        *why = "bad port (1-65535)";
                        return -EINVAL;
                }
                p += 1 + n;
        }
        if (*p && *p != '/') {
                *why = "a query or fragment is not allowed";
                return -EINVAL;
        }
        path_len = strlen(p);
        for (size_t i = 0; i < path_len; i++)
                if (!isalnum((unsigned char) p[i]) && !strchr("-._~/%!$&'()*+,;=:", p[i])) {
                        *why = p[i] == '?' || p[i] == '#' ? "a query or fragment is not allowed"
                                                          : "bad character in path";
                        return -EINVAL;
                }
        while (path_len > 0 && p[path_len - 1] == '/')
                path_len--;
        s = mem_malloc((size_t) (p - v) + path_len + 2);
        if (!s)
                return -ENOMEM;
        memcpy(s, v, (size_t) (p - v));
        for (size_t i = 0; i < (size_t) (host + host_len - v); i++)
                s[i] = (char) tolower((unsigned char) s[i]);
        memcpy(s + (p - v), p, path_len);
        s[(size_t) (p - v) + path_len] = 0;
        if (flags & URL_TRAILING_SLASH)
                strcat(s, "/");
        *ret = s;
        return 0;
}

static int parse_url_flags(const char *v, void *f, unsigned flags, const char **why) {
        char *s;
        int r;

        if (isempty(v))
                return set_string(FIELD(char *, f), NULL);
        r = url_normalize(v, flags, &s, why);
        if (r < 0)
                return r;
        mem_free(*FIELD(char *, f));
        *FIELD(char *, f) = s;
        return 0;
}

static int parse_https_url(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                           const char **why) {
        return parse_url_flags(v, f, 0, why);
}

static int parse_arm_audience(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                              const char **why) {
        return parse_url_flags(v, f, URL_TRAILING_SLASH, why);
}

static int parse_http_url(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                          const char **why) {
        return parse_url_flags(v, f, URL_HTTP, why);
}

/* A suffix is only useful if keyurl.c recognizes key URLs under it, for the right store. */
static bool check_suffix(char *w, enum key_store store, const char **why) {
        char url[KEYURL_MAX];
        struct keyurl k;

        for (char *p = w; *p; p++)
                *p = (char) tolower((unsigned char) *p);
        if (strlen(w) > KEYURL_HOST_MAX - 16 ||
            snprintf(url, sizeof url, "https://abc.%s/keys/k", w) >= (int) sizeof url ||
            keyurl_parse(url, &k) < 0 || k.store != store || !streq(k.suffix, w)) {
                *why = store == KEY_STORE_VAULT ? "not a Key Vault DNS suffix cmkd knows"
                                                : "not a Managed HSM DNS suffix cmkd knows";
                return false;
        }
        return true;
}

static bool check_vault_suffix(char *w, const char **why) {
        return check_suffix(w, KEY_STORE_VAULT, why);
}

static bool check_hsm_suffix(char *w, const char **why) {
        return check_suffix(w, KEY_STORE_MANAGED_HSM, why);
}

static int parse_vault_suffixes(struct conf_parse_state *st, const struct conf_key *k, const char *v,
                                void *f, const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_vault_suffix, true, why);
}

static int parse_hsm_suffixes(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                              const char **why) {
        return parse_word_list(v, FIELD(char **, f), check_hsm_suffix, true, why);
}

static int parse_path(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                      const char **why) {
        _cleanup_free_ char *s = NULL;
        size_t n;

        if (isempty(v))
                return set_string(FIELD(char *, f), NULL);
        if (!absolute_path_valid(v)) {
                *why = "not an absolute path";
                return -EINVAL;
        }
        s = mem_strdup(v);
        if (!s)
                return -ENOMEM;
        n = strlen(s);
        while (n > 1 && s[n - 1] == '/')
                s[--n] = 0;
        mem_free(*FIELD(char *, f));
        *FIELD(char *, f) = TAKE_PTR(s);
        return 0;
}

/* An absolute path, or the name of a systemd credential (LoadCredential=) looked up in
 * $CREDENTIALS_DIRECTORY when the daemon starts. */
static bool credential_name_valid(const char *s) {
        if (streq(s, ".") || streq(s, "..") || strlen(s) > 255)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && !strchr("_.:@-", *s))
                        return false;
        return true;
}

static int parse_secret_path(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                             const char **why) {
        if (!isempty(v) && v[0] != '/' && !credential_name_valid(v)) {
                *why = "neither an absolute path nor a credential name";
                return -EINVAL;
        }
        if (!isempty(v) && v[0] != '/')
                return set_string(FIELD(char *, f), v);
        return parse_path(st, k, v, f, why);
}

/* node_exporter's textfile collector reads only *.prom files. */
static int parse_prom_path(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                           const char **why) {
        if (!isempty(v) && (!absolute_path_valid(v) || !endswith(v, ".prom") || endswith(v, "/.prom"))) {
                *why = "not an absolute path ending in .prom";
                return -EINVAL;
        }
        return parse_path(st, k, v, f, why);
}

static int parse_change_window(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                               const char **why) {
        struct conf *c = st->conf;
        struct change_window w;

        if (isempty(v)) {
                c->n_change_windows = 0;
                return 0;
        }
        if (change_window_parse(v, &w) < 0) {
                *why = "not a change window";
                return -EINVAL;
        }
        if (c->n_change_windows >= CHANGE_WINDOWS_MAX) {
                *why = "too many change windows (at most 16)";
                return -ERANGE;
        }
        c->change_windows[c->n_change_windows++] = w;
        return 0;
}

static int parse_schedule(struct conf_parse_state *st, const struct conf_key *k, const char *v, void *f,
                          const char **why) {
        if (report_schedule_parse(v, FIELD(struct report_schedule, f)) < 0) {
                *why = "not a schedule";
                return -EINVAL;
        }
        return 0;
}

/* ---- formatters (for conf_dump) --------------------------------------------------- */

/* Like timespan_format() but in days at most: "730d", not "1y 11month 4w 2d 12h" (years
 * and months are fractional days). Exact, so that it parses back to the same value. */
static char *span_format(char *buf, size_t len, usec_t t) {
        static const struct {
                const char *suffix;
                usec_t usec;
        } units[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR },  { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t used = 0;

        if (t == 0 || t == USEC_INFINITY) {
                snprintf(buf, len, t == 0 ? "0" : "infinity");
                return buf;
        }
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(units) && t > 0; i++) {
                usec_t n = t / units[i].usec;
                int k;

                if (n == 0)
                        continue;
                t -= n * units[i].usec;
                k = snprintf(buf + used, len - used, "%s%" PRIu64 "%s", used ? " " : "", n, units[i].suffix);
                if (k < 0 || (size_t) k >= len - used)
                        break;
                used += (size_t) k;
        }
        return buf;
}

static char **strv_new1(char *s) {
        char **l;

        if (!s)
                return NULL;
        l = new0(char *, 2);
        if (!l) {
                mem_free(s);
                return NULL;
        }
        l[0] = s;
        return l;
}

static char *str_vprintf(const char *fmt, va_list ap) {
        va_list aq;
        char *s;
        int n;

        va_copy(aq, ap);
        n = vsnprintf(NULL, 0, fmt, aq);
        va_end(aq);
        if (n < 0)
                return NULL;
        s = mem_malloc((size_t) n + 1);
        if (!s)
                return NULL;
        vsnprintf(s, (size_t) n + 1, fmt, ap);
        return s;
}

static char *str_printf(const char *fmt, ...) _printf_(1, 2);
static char *str_printf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        s = str_vprintf(fmt, ap);
        va_end(ap);
        return s;
}

static char **format_bool(const struct conf_key *k, const void *f) {
        return strv_new1(mem_strdup(*(const bool *) f ? "yes" : "no"));
}

static char **format_uint(const struct conf_key *k, const void *f) {
        return strv_new1(str_printf("%u", *(const unsigned *) f));
}

static char **format_span(const struct conf_key *k, const void *f) {
        char buf[TIMESPAN_MAX];

        return strv_new1(mem_strdup(span_format(buf, sizeof buf, *(const usec_t *) f)));
}

static char **format_string(const struct conf_key *k, const void *f) {
        return strv_new1(mem_strdup(strempty(*(char *const *) f)));
}

/* Quotes a word so that split_words() gives it back: runs without '"' go in double
 * quotes, each '"' in single quotes. Plain words stay as they are. */
static char *quote_word(const char *w) {
        char *s, *o;

        if (!strpbrk(w, " \t\"'"))
                return mem_strdup(w);
        s = o = mem_malloc(strlen(w) * 3 + 3);
        if (!s)
                return NULL;
        for (const char *p = w; *p;) {
                if (*p == '"') {
                        memcpy(o, "'\"'", 3);
                        o += 3;
                        p++;
                        continue;
                }
                *o++ = '"';
                while (*p && *p != '"')
                        *o++ = *p++;
                *o++ = '"';
        }
        *o = 0;
        return s;
}

/* One element per entry. */
static char **format_list(const struct conf_key *k, const void *f) {
        char *const *l = *(char **const *) f;
        _cleanup_strv_free_ char **out = new0(char *, 1);

        if (!out)
                return NULL;
        if (strv_length(l) == 0)
                return strv_extend(&out, "") < 0 ? NULL : TAKE_PTR(out);
        STRV_FOREACH(s, l)
                if (strv_consume(&out, quote_word(*s)) < 0)
                        return NULL;
        return TAKE_PTR(out);
}

#define DEFINE_ENUM_FORMATTER(name, type, to_string)                                                        \
        static char **format_##name(const struct conf_key *k, const void *f) {                              \
                return strv_new1(mem_strdup(strempty(to_string(*(const type *) f))));                       \
        }

DEFINE_ENUM_FORMATTER(auth, enum auth_method, auth_method_to_string)
DEFINE_ENUM_FORMATTER(mode, enum run_mode, run_mode_to_string)
DEFINE_ENUM_FORMATTER(update_method, enum update_method, update_method_to_string)
DEFINE_ENUM_FORMATTER(stale_version, enum stale_version_policy, stale_version_policy_to_string)
DEFINE_ENUM_FORMATTER(update_target, enum update_target, update_target_to_string)
DEFINE_ENUM_FORMATTER(log_level, int, log_level_to_string)

static char **format_schedule(const struct conf_key *k, const void *f) {
        char buf[64];

        return strv_new1(mem_strdup(report_schedule_format(f, buf, sizeof buf)));
}

/* The field of ChangeWindow= is the array; the count follows it in struct conf. */
static char **format_change_windows(const struct conf_key *k, const void *f) {
        const struct conf *c =
                (const struct conf *) ((const char *) f - offsetof(struct conf, change_windows));
        _cleanup_strv_free_ char **out = new0(char *, 1);
        char buf[64];

        if (!out)
                return NULL;
        if (c->n_change_windows == 0)
                return strv_extend(&out, "") < 0 ? NULL : TAKE_PTR(out);
        for (size_t i = 0; i < c->n_change_windows; i++)
                if (strv_extend(&out, change_window_format(&c->change_windows[i], buf, sizeof buf)) < 0)
                        return NULL;
        return TAKE_PTR(out);
}

/* ---- the key table ----------------------------------------------------------------- */

#define C(f)     offsetof(struct conf, f)
#define P(f)     offsetof(struct policy_conf, f)
#define CL(f)    offsetof(struct cloud, f)
#define SEC(n)   ((usec_t) (n) *USEC_PER_SEC)
#define DAYS(n)  ((usec_t) (n) *USEC_PER_DAY)
#define YEARS(n) DAYS(365 * (n))

#define ACCEPT_BOOL  "yes, no, true, false, on, off, 1, 0"
#define ACCEPT_PATH  "an absolute path, or empty"
#define ACCEPT_GLOBS "globs separated by spaces (fnmatch, case-insensitive; '/...' matches the ARM id)"
#define ACCEPT_TAGS  "NAME=GLOB or NAME (has the tag), separated by spaces; quote values with spaces"

static const struct conf_key keys[] = {
        /* [Azure] */
        { "Azure", "Cloud", parse_cloud, format_string, CL(name), "AzurePublicCloud", 0, 0, "cloud name",
          CLOUD_PRESET_NAMES, CONF_KEY_CLOUD, 0 },
        { "Azure", "Authentication", parse_auth, format_auth, C(auth), "managed-identity", 0, 0, "enum",
          "managed-identity, client-secret, workload-identity", 0, 0 },
        { "Azure", "TenantId", parse_guid, format_string, C(tenant_id), "", 0, 0, "GUID",
          "a GUID (00000000-0000-0000-0000-000000000000), or empty", 0, 0 },
        { "Azure", "ClientId", parse_guid, format_string, C(client_id), "", 0, 0, "GUID",
          "a GUID, or empty (managed identity: the system-assigned one)", 0, 0 },
        { "Azure", "ClientSecretFile", parse_secret_path, format_string, C(client_secret_file), "", 0, 0,
          "path", "an absolute path or a systemd credential name ([A-Za-z0-9_.:@-]), or empty", 0, 0 },
        { "Azure", "FederatedTokenFile", parse_path, format_string, C(federated_token_file), "", 0, 0,
          "path", ACCEPT_PATH " ($AZURE_FEDERATED_TOKEN_FILE)", 0, 0 },
        { "Azure", "Subscriptions", parse_guid_list, format_list, C(subscriptions), "", 0, 0,
          "list of GUIDs", "subscription GUIDs separated by spaces; empty resets", CONF_KEY_LIST, 0 },
        { "Azure", "ResourceGroups", parse_rg_list, format_list, C(resource_groups), "", 0, 0,
          "list of names", "resource group names separated by spaces; empty resets", CONF_KEY_LIST, 0 },
        { "Azure", "VaultSubscriptions", parse_guid_list, format_list, C(vault_subscriptions), "", 0, 0,
          "list of GUIDs", "subscription GUIDs separated by spaces; empty resets", CONF_KEY_LIST, 0 },
        { "Azure", "ResourceManagerEndpoint", parse_https_url, format_string, CL(arm_endpoint), "", 0, 0,
          "URL", "an https:// URL, or empty for the cloud's", CONF_KEY_CLOUD, 0 },
        { "Azure", "ResourceManagerAudience", parse_arm_audience, format_string, CL(arm_audience), "", 0, 0,
          "URL", "an https:// URL, or empty for the cloud's", CONF_KEY_CLOUD, 0 },
        { "Azure", "AuthorityHost", parse_https_url, format_string, CL(authority_host), "", 0, 0, "URL",
          "an https:// URL, or empty for the cloud's", CONF_KEY_CLOUD, 0 },
        { "Azure", "KeyVaultSuffix", parse_vault_suffixes, format_list, CL(vault_suffixes), "", 0, 0,
          "list of DNS suffixes",
          "Key Vault DNS suffixes (vault.azure.net, ...) separated by spaces; empty resets",
          CONF_KEY_CLOUD | CONF_KEY_LIST, 0 },
        { "Azure", "KeyVaultAudience", parse_https_url, format_string, CL(vault_audience), "", 0, 0, "URL",
          "an https:// URL, or empty for the cloud's", CONF_KEY_CLOUD, 0 },
        { "Azure", "ManagedHsmSuffix", parse_hsm_suffixes, format_list, CL(hsm_suffixes), "", 0, 0,
          "list of DNS suffixes",
          "Managed HSM DNS suffixes (managedhsm.azure.net, ...) separated by spaces; empty resets",
          CONF_KEY_CLOUD | CONF_KEY_LIST, 0 },
        { "Azure", "ManagedHsmAudience", parse_https_url, format_string, CL(hsm_audience), "", 0, 0, "URL",
          "an https:// URL, or empty for the cloud's", CONF_KEY_CLOUD, 0 },
        { "Azure", "IMDSEndpoint", parse_http_url, format_string, CL(imds_endpoint), "", 0, 0, "URL",
          "an http:// URL, or empty for http://169.254.169.254", CONF_KEY_CLOUD, 0 },

        /* [Discovery] */
        { "Discovery", "Include", parse_glob_list, format_list, C(include), "", 0, 0, "list of globs",
          ACCEPT_GLOBS "; empty resets", CONF_KEY_LIST, 0 },
        { "Discovery", "Exclude", parse_glob_list, format_list, C(exclude), "", 0, 0, "list of globs",
          ACCEPT_GLOBS "; empty resets", CONF_KEY_LIST, 0 },
        { "Discovery", "IncludeTag", parse_tag_list, format_list, C(include_tags), "", 0, 0,
          "list of tag patterns", ACCEPT_TAGS "; empty resets", CONF_KEY_LIST, 0 },
        { "Discovery", "ExcludeTag", parse_tag_list, format_list, C(exclude_tags), "", 0, 0,
          "list of tag patterns", ACCEPT_TAGS "; empty resets", CONF_KEY_LIST, 0 },

        /* [Network] */
        { "Network", "CAFile", parse_path, format_string, C(ca_file), "", 0, 0, "path",
          ACCEPT_PATH " (the system's CA bundle)", 0, 0 },
        { "Network", "ConnectTo", parse_connect_to, format_list, C(connect_to), "", 0, 0, "list",
          "HOST:PORT:CONNECT-TO-HOST:CONNECT-TO-PORT entries (curl --connect-to) separated by spaces; "
          "empty resets",
          CONF_KEY_LIST, 0 },
        { "Network", "MaxConcurrentRequests", parse_uint, format_uint, C(max_concurrent_requests), "16", 1,
          256, "integer", NULL, 0, 0 },
        { "Network", "RequestTimeoutSec", parse_span, format_span, C(request_timeout_usec), "30s", SEC(1),
          SEC(600), "time span", NULL, 0, 0 },
        { "Network", "MaxRetries", parse_uint, format_uint, C(max_retries), "4", 0, 10, "integer", NULL, 0,
          0 },

        /* [Daemon] */
        { "Daemon", "PollIntervalSec", parse_span, format_span, C(poll_interval_usec), "5min", SEC(10),
          DAYS(1), "time span", NULL, 0, 0 },
        { "Daemon", "StateDirectory", parse_path, format_string, C(state_directory), "/var/lib/cmkd", 0, 0,
          "path", "an absolute path ($STATE_DIRECTORY when set by systemd)", 0, 0 },
        { "Daemon", "Mode", parse_mode, format_mode, C(mode), "enforce", 0, 0, "enum",
          "enforce, alert-only, dry-run", 0, 0 },
        { "Daemon", "CacheTTLSec", parse_span, format_span, C(cache_ttl_usec), "10min", 0, DAYS(1),
          "time span", NULL, 0, 0 },
        { "Daemon", "LogLevel", parse_log_level, format_log_level, C(log_level), "info", 0, 0, "enum",
          "emerg, alert, crit, err, warning, notice, info, debug (or 0-7)", 0, 0 },

        /* [Policy]; the per-cluster keys may also appear in [Policy:MATCH]. */
        { "Policy", "StaleVersion", parse_stale_version, format_stale_version, P(stale_version), "alert", 0,
          0, "enum", "update, alert, ignore", CONF_KEY_PER_CLUSTER, POLICY_KEY_STALE_VERSION },
        { "Policy", "UpdateTarget", parse_update_target, format_update_target, P(update_target), "latest", 0,
          0, "enum", "latest, versionless", CONF_KEY_PER_CLUSTER, POLICY_KEY_UPDATE_TARGET },
        { "Policy", "UpdateMethod", parse_update_method, format_update_method, C(update_method), "put", 0, 0,
          "enum", "put, patch", 0, 0 },
        { "Policy", "KeyExpiryWarningSec", parse_span, format_span, P(key_expiry_warning_usec), "30d", 0,
          YEARS(10), "time span", NULL, CONF_KEY_PER_CLUSTER, POLICY_KEY_EXPIRY_WARNING },
        { "Policy", "KeyExpiryCriticalSec", parse_span, format_span, P(key_expiry_critical_usec), "7d", 0,
          YEARS(10), "time span", NULL, CONF_KEY_PER_CLUSTER, POLICY_KEY_EXPIRY_CRITICAL },
        { "Policy", "MaxKeyAgeSec", parse_span, format_span, P(max_key_age_usec), "730d", 0, YEARS(100),
          "time span", NULL, CONF_KEY_PER_CLUSTER, POLICY_KEY_MAX_KEY_AGE },
        { "Policy", "RequireRotationPolicy", parse_bool, format_bool, P(require_rotation_policy), "no", 0, 0,
          "boolean", ACCEPT_BOOL, CONF_KEY_PER_CLUSTER, POLICY_KEY_REQUIRE_ROTATION },
        { "Policy", "ClockSkewSec", parse_span, format_span, P(clock_skew_usec), "5min", 0, SEC(3600),
          "time span", NULL, CONF_KEY_PER_CLUSTER, POLICY_KEY_CLOCK_SKEW },
        { "Policy", "MaxUpdatesPerSweep", parse_uint, format_uint, C(max_updates_per_sweep), "10", 0, 10000,
          "integer", NULL, 0, 0 },
        { "Policy", "UpdateTimeoutSec", parse_span, format_span, C(update_timeout_usec), "30min", SEC(5),
          DAYS(1), "time span", NULL, 0, 0 },
        { "Policy", "ChangeWindow", parse_change_window, format_change_windows, C(change_windows), "", 0, 0,
          "change window",
          "[DAYS] HH:MM-HH:MM in UTC, e.g. \"Mon..Fri 22:00-06:00\" or \"Sat,Sun 00:00-24:00\"; repeat for "
          "more (at most 16); empty resets",
          CONF_KEY_LIST, 0 },
        { "Policy", "VersionDisableGraceSec", parse_span, format_span, C(version_grace_usec), "2h", 0,
          DAYS(30), "time span", NULL, 0, 0 },

        /* [Alerts] */
        { "Alerts", "RepeatIntervalSec", parse_span, format_span, C(repeat_interval_usec), "4h", SEC(60),
          DAYS(30), "time span", NULL, 0, 0 },

        /* [Report] */
        { "Report", "Directory", parse_path, format_string, C(report_directory), "", 0, 0, "path",
          "an absolute path, or empty for the reports/ directory in StateDirectory=", 0, 0 },
        { "Report", "Schedule", parse_schedule, format_schedule, C(report_schedule), "daily 06:00", 0, 0,
          "schedule", "off, hourly [:MM], daily [HH:MM], weekly [DAY] [HH:MM] (UTC)", 0, 0 },
        { "Report", "Keep", parse_uint, format_uint, C(report_keep), "30", 0, 100000, "integer",
          "an integer from 0 (keep all) to 100000", 0, 0 },

        /* [Metrics] */
        { "Metrics", "TextfilePath", parse_prom_path, format_string, C(metrics_file), "", 0, 0, "path",
          "an absolute path ending in .prom, or empty (off)", 0, 0 },
};

_Static_assert(ELEMENTSOF(keys) <= KEYS_MAX, "KEYS_MAX too small");

static const char *const sections[] = { "Azure",  "Discovery", "Network", "Daemon",
                                        "Policy", "Alerts",    "Report",  "Metrics" };

const struct conf_key *conf_keys(size_t *ret_n) {
        *ret_n = ELEMENTSOF(keys);
        return keys;
}

char *conf_key_accepted(const struct conf_key *k) {
        char a[TIMESPAN_MAX], b[TIMESPAN_MAX];

        if (k->accepted)
                return mem_strdup(k->accepted);
        if (k->parse == parse_span)
                return str_printf("a time span from %s to %s (e.g. 30s, 5min, 1h, 7d)",
                                  span_format(a, sizeof a, k->min), span_format(b, sizeof b, k->max));
        return str_printf("an integer from %" PRIu64 " to %" PRIu64, k->min, k->max);
}

static const struct conf_key *key_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].section, section) && streq(keys[i].key, key))
                        return &keys[i];
        return NULL;
}

static size_t key_index(const struct conf_key *k) {
        return (size_t) (k - keys);
}

static unsigned policy_bit_index(unsigned bit) {
        return (unsigned) __builtin_ctz(bit);
}

/* ---- errors --------------------------------------------------------------------- */

static void add_error(struct conf_parse_state *st, unsigned line, const char *fmt, ...) _printf_(3, 4);
static void add_error(struct conf_parse_state *st, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        char *s;

        if (st->n_errors >= CONF_ERRORS_MAX) {
                st->n_dropped++;
                return;
        }
        va_start(ap, fmt);
        msg = str_vprintf(fmt, ap);
        va_end(ap);
        if (!msg) {
                st->oom = true;
                return;
        }
        if (line > 0)
                s = str_printf("%s:%u: %s", st->path, line, msg);
        else
                s = str_printf("%s: %s", st->path, msg);
        if (strv_consume(&st->errors, s) < 0) {
                st->oom = true;
                return;
        }
        st->n_errors++;
}

/* "[Section]" or "[Policy:MATCH]" of the current line, for messages. */
static const char *section_shown(struct conf_parse_state *st, char *buf, size_t len) {
        if (st->section_kind == SECTION_OVERRIDE)
                snprintf(buf, len, "[Policy:%s]", st->conf->overrides[st->override].match);
        else
                snprintf(buf, len, "[%s]", strempty(st->section));
        return buf;
}

static void value_error(struct conf_parse_state *st, unsigned line, const char *section,
                        const struct conf_key *k, const char *value, const char *why) {
        _cleanup_free_ char *accepted = NULL;
        size_t n = strlen(value);

        if (st->n_errors >= CONF_ERRORS_MAX) {
                st->n_dropped++;
                return;
        }
        accepted = conf_key_accepted(k);
        if (!accepted) {
                st->oom = true;
                return;
        }
        add_error(st, line, "%s %s=%.*s%s: %s; accepted: %s", section, k->key, VALUE_SHOWN_MAX, value,
                  n > VALUE_SHOWN_MAX ? "..." : "", why ?: "invalid value", accepted);
}

/* ---- the line reader and the key handler ------------------------------------------ */

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

static void enter_section(struct conf_parse_state *st, const char *name) {
        struct conf *c = st->conf;
        const char *match;

        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (streq(name, sections[i])) {
                        st->section_kind = SECTION_PLAIN;
                        st->section = sections[i];
                        return;
                }
        st->section_kind = SECTION_SKIP;
        st->section = NULL;

        match = startswith(name, "Policy:");
        if (match) {
                struct policy_override *o;

                if (!glob_valid(match)) {
                        add_error(st, st->line,
                                  "[%s]: \"%s\" is not a valid pattern; accepted: [Policy:GLOB], a glob on "
                                  "the "
                                  "cluster name, or on the ARM id when it starts with '/'",
                                  name, match);
                        return;
                }
                for (size_t i = 0; i < c->n_overrides; i++)
                        if (strcasecmp(c->overrides[i].match, match) == 0) {
                                add_error(st, st->line,
                                          "[%s]: duplicate section (first on line %u); merge the two: their "
                                          "order "
                                          "would decide which one wins",
                                          name, st->override_lines[i].header);
                                return;
                        }
                if (c->n_overrides >= CONF_OVERRIDES_MAX) {
                        add_error(st, st->line, "[%s]: too many [Policy:MATCH] sections (at most %d)", name,
                                  CONF_OVERRIDES_MAX);
                        return;
                }
                if (GREEDY_REALLOC(c->overrides, st->n_overrides_allocated, c->n_overrides + 1) < 0 ||
                    GREEDY_REALLOC(st->override_lines, st->n_override_lines_allocated, c->n_overrides + 1) <
                            0) {
                        st->oom = true;
                        return;
                }
                o = &c->overrides[c->n_overrides];
                *o = (struct policy_override){ .match = mem_strdup(match), .policy = c->policy };
                if (!o->match) {
                        st->oom = true;
                        return;
                }
                st->override_lines[c->n_overrides] = (struct override_lines){ .header = st->line };
                st->override = c->n_overrides++;
                st->section_kind = SECTION_OVERRIDE;
                return;
        }

        for (size_t i = 0; i < ELEMENTSOF(sections); i++)
                if (strcasecmp(name, sections[i]) == 0) {
                        add_error(st, st->line,
                                  "[%s]: unknown section; did you mean [%s]? (names are case-sensitive)",
                                  name, sections[i]);
                        return;
                }
        add_error(st, st->line,
                  "[%s]: unknown section; accepted: [Azure], [Discovery], [Network], [Daemon], [Policy], "
                  "[Policy:MATCH], [Alerts], [Report], [Metrics]",
                  name);
}

/* Returns the next line for libinih, or NULL at the end. Lines that are not KEY=VALUE in
 * a usable section are handled (or reported) here and never reach libinih. */
static char *line_reader(char *buf, int num, void *stream) {
        struct conf_parse_state *st = stream;

        while (st->pos < st->len && !st->oom) {
                const char *line = st->text + st->pos, *nl, *p, *eq;
                size_t n, raw;
                bool control = false;

                nl = memchr(line, '\n', st->len - st->pos);
                raw = nl ? (size_t) (nl - line) : st->len - st->pos;
                st->pos += raw + (nl ? 1 : 0);
                st->line++;
                n = raw;
                if (st->line == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
                        line += 3; /* UTF-8 byte order mark */
                        n -= 3;
                }
                if (n > CONF_LINE_MAX) {
                        add_error(st, st->line, "line is longer than %d bytes (%zu); not read",
                                  CONF_LINE_MAX, n);
                        continue;
                }
                while (n > 0 && is_blank(line[n - 1]))
                        n--;
                while (n > 0 && is_blank(*line))
                        line++, n--;
                if (n + 2 > (size_t) num) {
                        /* libinih did not take our ini_max_line: refuse rather than truncate. */
                        add_error(st, st->line, "line is longer than libinih's buffer (%d bytes); not read",
                                  num);
                        continue;
                }
                for (size_t i = 0; i < n; i++)
                        if (((unsigned char) line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
                                control = true;
                if (control) {
                        add_error(st, st->line, "line contains a control character or NUL byte; not read");
                        continue;
                }
                if (n == 0 || line[0] == '#' || line[0] == ';')
                        continue;

                if (line[0] == '[') {
                        _cleanup_free_ char *name = NULL;

                        if (line[n - 1] != ']' || n < 3) {
                                add_error(st, st->line,
                                          "%.*s: bad section header; accepted: [NAME] alone on its line",
                                          (int) MIN(n, (size_t) VALUE_SHOWN_MAX), line);
                                st->section_kind = SECTION_SKIP;
                                continue;
                        }
                        name = mem_strndup(line + 1, n - 2);
                        if (!name) {
                                st->oom = true;
                                return NULL;
                        }
                        enter_section(st, name);
                        continue;
                }

                eq = memchr(line, '=', n);
                if (!eq) {
                        add_error(st, st->line, "\"%.*s%s\": not a KEY=VALUE line",
                                  (int) MIN(n, (size_t) VALUE_SHOWN_MAX), line,
                                  n > VALUE_SHOWN_MAX ? "..." : "");
                        continue;
                }
                /* Key names are CamelCase words; this also keeps libinih from splitting at a
                 * ':' (its name:value form) or finding comments in the name. */
                for (p = line; p < eq && !is_blank(*p); p++)
                        if (!isalnum((unsigned char) *p))
                                break;
                while (p < eq && is_blank(*p))
                        p++;
                if (p != eq || eq == line) {
                        add_error(st, st->line,
                                  "\"%.*s\": not a key name; accepted: KEY=VALUE with a CamelCase KEY",
                                  (int) MIN((size_t) (eq - line), (size_t) VALUE_SHOWN_MAX), line);
                        continue;
                }
                if (st->section_kind == SECTION_NONE) {
                        add_error(st, st->line,
                                  "%.*s: key outside of any section; put it under its [Section]",
                                  (int) (eq - line), line);
                        continue;
                }
                if (st->section_kind == SECTION_SKIP)
                        continue; /* the section header was reported */
                memcpy(buf, line, n);
                buf[n] = '\n';
                buf[n + 1] = 0;
                return buf;
        }
        return NULL;
}

static void unknown_key(struct conf_parse_state *st, const char *section, const char *sec_name,
                        const char *name) {
        /* The value is not shown: an unknown key might be a secret put in the wrong place. */
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (streq(keys[i].section, sec_name) && strcasecmp(keys[i].key, name) == 0) {
                        add_error(st, st->line,
                                  "%s %s=: unknown key; did you mean %s=? (names are case-sensitive)",
                                  section, name, keys[i].key);
                        return;
                }
        for (size_t i = 0; i < ELEMENTSOF(keys); i++)
                if (strcasecmp(keys[i].key, name) == 0) {
                        add_error(st, st->line, "%s %s=: unknown key in this section; it belongs in [%s]",
                                  section, name, keys[i].section);
                        return;
                }
        if (strcasestr(name, "secret") || strcasestr(name, "password"))
                add_error(st, st->line,
                          "%s %s=: unknown key; secrets never go in this file: use ClientSecretFile= (a "
                          "file or a "
                          "systemd credential)",
                          section, name);
        else
                add_error(st, st->line, "%s %s=: unknown key", section, name);
}

static void *key_field(struct conf_parse_state *st, const struct conf_key *k) {
        if (k->flags & CONF_KEY_PER_CLUSTER)
                return (char *) &st->conf->policy + k->offset;
        if (k->flags & CONF_KEY_CLOUD)
                return (char *) &st->cloud_override + k->offset;
        return (char *) st->conf + k->offset;
}

static int key_handler(void *user, const char *ini_section, const char *name, const char *value) {
        struct conf_parse_state *st = user;
        const struct conf_key *k;
        const char *why = NULL, *v;
        char shown[CONF_LINE_MAX + 16];
        void *field;
        int r;

        section_shown(st, shown, sizeof shown);
        if (st->section_kind == SECTION_OVERRIDE) {
                struct policy_override *o = &st->conf->overrides[st->override];

                k = key_find("Policy", name);
                if (!k) {
                        unknown_key(st, shown, "Policy", name);
                        return 1;
                }
                if (!(k->flags & CONF_KEY_PER_CLUSTER)) {
                        add_error(
                                st, st->line,
                                "%s %s=%.*s: applies to every cluster, so it belongs in [Policy]; accepted "
                                "here: "
                                "StaleVersion=, UpdateTarget=, KeyExpiryWarningSec=, KeyExpiryCriticalSec=, "
                                "MaxKeyAgeSec=, RequireRotationPolicy=, ClockSkewSec=",
                                shown, name, VALUE_SHOWN_MAX, value);
                        return 1;
                }
                if (isempty(value)) {
                        /* Empty: this section no longer overrides the key. */
                        o->set &= ~k->policy_bit;
                        st->override_lines[st->override].key[policy_bit_index(k->policy_bit)] = 0;
                        return 1;
                }
                r = k->parse(st, k, value, (char *) &o->policy + k->offset, &why);
                if (r == -ENOMEM)
                        st->oom = true;
                else if (r < 0)
                        value_error(st, st->line, shown, k, value, why);
                else {
                        o->set |= k->policy_bit;
                        st->override_lines[st->override].key[policy_bit_index(k->policy_bit)] = st->line;
                }
                return 1;
        }

        k = key_find(st->section, name);
        if (!k) {
                unknown_key(st, shown, st->section, name);
                return 1;
        }
        field = key_field(st, k);
        /* Empty assignment: a list is emptied, any other key goes back to its default. */
        v = isempty(value) ? k->default_value : value;
        r = k->parse(st, k, v, field, &why);
        if (r == -ENOMEM)
                st->oom = true;
        else if (r < 0)
                value_error(st, st->line, shown, k, value, why);
        else
                st->key_line[key_index(k)] = isempty(value) ? 0 : st->line;
        return 1;
}

/* ---- finishing: cloud, environment, derived defaults, cross-key checks -------------- */

static unsigned line_of(struct conf_parse_state *st, const char *section, const char *key) {
        const struct conf_key *k = key_find(section, key);

        return k ? st->key_line[key_index(k)] : 0;
}

static void build_cloud(struct conf_parse_state *st) {
        struct cloud *o = &st->cloud_override, c = {};
        int r;

        r = cloud_preset(o->name ?: "AzurePublicCloud", &c);
        if (r < 0) {
                st->oom = true; /* the name was checked when parsed */
                return;
        }
#define OVERRIDE(f)                                                                                         \
        do {                                                                                                \
                if (o->f) {                                                                                 \
                        mem_free(c.f);                                                                      \
                        c.f = TAKE_PTR(o->f);                                                               \
                }                                                                                           \
        } while (0)
#define OVERRIDE_LIST(f)                                                                                    \
        do {                                                                                                \
                if (o->f) {                                                                                 \
                        strv_free(c.f);                                                                     \
                        c.f = TAKE_PTR(o->f);                                                               \
                }                                                                                           \
        } while (0)
        OVERRIDE(arm_endpoint);
        OVERRIDE(arm_audience);
        OVERRIDE(authority_host);
        OVERRIDE_LIST(vault_suffixes);
        OVERRIDE(vault_audience);
        OVERRIDE_LIST(hsm_suffixes);
        OVERRIDE(hsm_audience);
        OVERRIDE(imds_endpoint);
#undef OVERRIDE
#undef OVERRIDE_LIST
        cloud_done(&st->conf->cloud);
        st->conf->cloud = c;
}

static void apply_environment(struct conf_parse_state *st) {
        struct conf *c = st->conf;
        const char *e;
        int r;

        /* systemd's StateDirectory= sets $STATE_DIRECTORY (a ':'-separated list when the
         * unit names several); it replaces the default, not a value from the file. */
        e = getenv("STATE_DIRECTORY");
        if (!isempty(e) && line_of(st, "Daemon", "StateDirectory") == 0) {
                _cleanup_free_ char *first = mem_strndup(e, strcspn(e, ":"));
                const char *why = NULL;

                if (!first) {
                        st->oom = true;
                        return;
                }
                r = parse_path(st, NULL, first, &c->state_directory, &why);
                if (r == -ENOMEM)
                        st->oom = true;
                else if (r < 0 || isempty(first))
                        add_error(st, 0, "environment variable STATE_DIRECTORY=%s: not an absolute path", e);
        }
        e = getenv("AZURE_FEDERATED_TOKEN_FILE");
        if (!isempty(e) && line_of(st, "Azure", "FederatedTokenFile") == 0) {
                const char *why = NULL;

                r = parse_path(st, NULL, e, &c->federated_token_file, &why);
                if (r == -ENOMEM)
                        st->oom = true;
                else if (r < 0)
                        add_error(st, 0,
                                  "environment variable AZURE_FEDERATED_TOKEN_FILE=%s: not an absolute path",
                                  e);
        }
        if (!c->report_directory) {
                c->report_directory = str_printf("%s%sreports", c->state_directory,
                                                 endswith(c->state_directory, "/") ? "" : "/");
                if (!c->report_directory)
                        st->oom = true;
        }
}

static void check_auth(struct conf_parse_state *st) {
        struct conf *c = st->conf;
        const char *auth = auth_method_to_string(c->auth);
        char missing[128] = "";
        unsigned line = line_of(st, "Azure", "Authentication");

#define NEED(field, key)                                                                                    \
        do {                                                                                                \
                if (!c->field)                                                                              \
                        snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",       \
                                 missing[0] ? ", " : "", key);                                              \
        } while (0)
        switch (c->auth) {
        case AUTH_CLIENT_SECRET:
                NEED(tenant_id, "TenantId=");
                NEED(client_id, "ClientId=");
                NEED(client_secret_file, "ClientSecretFile=");
                if (missing[0])
                        add_error(st, line,
                                  "[Azure] Authentication=%s: needs TenantId=, ClientId= and "
                                  "ClientSecretFile=; "
                                  "missing: %s",
                                  auth, missing);
                break;
        case AUTH_WORKLOAD_IDENTITY:
                NEED(tenant_id, "TenantId=");
                NEED(client_id, "ClientId=");
                NEED(federated_token_file, "FederatedTokenFile=");
                if (missing[0])
                        add_error(st, line,
                                  "[Azure] Authentication=%s: needs TenantId=, ClientId= and "
                                  "FederatedTokenFile= "
                                  "(or $AZURE_FEDERATED_TOKEN_FILE); missing: %s",
                                  auth, missing);
                break;
        default:
                break;
        }
#undef NEED
        /* A key for another method is most likely a half-finished switch: say so. */
        if (c->auth != AUTH_CLIENT_SECRET && c->client_secret_file)
                add_error(st, line_of(st, "Azure", "ClientSecretFile"),
                          "[Azure] ClientSecretFile=%s: only used with Authentication=client-secret, not %s",
                          c->client_secret_file, auth);
        if (c->auth != AUTH_WORKLOAD_IDENTITY && line_of(st, "Azure", "FederatedTokenFile") > 0)
                add_error(st, line_of(st, "Azure", "FederatedTokenFile"),
                          "[Azure] FederatedTokenFile=%s: only used with Authentication=workload-identity, "
                          "not %s",
                          c->federated_token_file, auth);
}

static void check_expiry(struct conf_parse_state *st, const char *section, const struct policy_conf *p,
                         unsigned warning_line, unsigned critical_line, unsigned fallback_line) {
        char w[TIMESPAN_MAX], cr[TIMESPAN_MAX];

        if (p->key_expiry_critical_usec <= p->key_expiry_warning_usec)
                return;
        span_format(w, sizeof w, p->key_expiry_warning_usec);
        span_format(cr, sizeof cr, p->key_expiry_critical_usec);
        add_error(st, critical_line ?: warning_line ?: fallback_line,
                  "%s KeyExpiryCriticalSec=%s: longer than KeyExpiryWarningSec=%s; the critical threshold "
                  "must not be longer than the warning one",
                  section, cr, w);
}

static void check_conf(struct conf_parse_state *st) {
        struct conf *c = st->conf;

        check_auth(st);
        check_expiry(st, "[Policy]", &c->policy, line_of(st, "Policy", "KeyExpiryWarningSec"),
                     line_of(st, "Policy", "KeyExpiryCriticalSec"), 0);
        for (size_t i = 0; i < c->n_overrides; i++) {
                const struct override_lines *ol = &st->override_lines[i];
                struct policy_conf merged = c->policy;
                char section[CONF_LINE_MAX + 16];
                const struct policy_override *o = &c->overrides[i];

                if (o->set & POLICY_KEY_EXPIRY_WARNING)
                        merged.key_expiry_warning_usec = o->policy.key_expiry_warning_usec;
                if (o->set & POLICY_KEY_EXPIRY_CRITICAL)
                        merged.key_expiry_critical_usec = o->policy.key_expiry_critical_usec;
                if (!(o->set & (POLICY_KEY_EXPIRY_WARNING | POLICY_KEY_EXPIRY_CRITICAL)))
                        continue;
                snprintf(section, sizeof section, "[Policy:%s]", o->match);
                check_expiry(st, section, &merged, ol->key[policy_bit_index(POLICY_KEY_EXPIRY_WARNING)],
                             ol->key[policy_bit_index(POLICY_KEY_EXPIRY_CRITICAL)], ol->header);
        }
}

/* ---- loading ------------------------------------------------------------------------ */

struct conf *conf_free(struct conf *c) {
        if (!c)
                return NULL;
        mem_free(c->path);
        cloud_done(&c->cloud);
        mem_free(c->tenant_id);
        mem_free(c->client_id);
        mem_free(c->client_secret_file);
        mem_free(c->federated_token_file);
        strv_free(c->subscriptions);
        strv_free(c->resource_groups);
        strv_free(c->vault_subscriptions);
        strv_free(c->include);
        strv_free(c->exclude);
        strv_free(c->include_tags);
        strv_free(c->exclude_tags);
        mem_free(c->ca_file);
        strv_free(c->connect_to);
        mem_free(c->state_directory);
        for (size_t i = 0; i < c->n_overrides; i++)
                mem_free(c->overrides[i].match);
        mem_free(c->overrides);
        mem_free(c->report_directory);
        mem_free(c->metrics_file);
        mem_free(c);
        return NULL;
}

static int apply_defaults(struct conf_parse_state *st) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const char *why = NULL;
                int r;

                r = keys[i].parse(st, &keys[i], keys[i].default_value, key_field(st, &keys[i]), &why);
                if (r < 0) {
                        /* A default that does not parse is a bug in the table, caught by test-conf. */
                        assert(r == -ENOMEM);
                        return r;
                }
        }
        return 0;
}

/* Saves and restores libinih's run-time options (Debian builds it with
 * INI_RUNTIME_OPTIONS): systemd semantics need no inline comments and no
 * indentation-continued values, and ini_max_line sizes its line buffer (a VLA on the
 * stack in Debian's build, checked in test-conf with a CONF_LINE_MAX line). */
static int ini_parse_systemd(struct conf_parse_state *st) {
        bool multiline = ini_allow_multiline, inline_comments = ini_allow_inline_comments,
             stop = ini_stop_on_first_error, no_value = ini_allow_no_value, use_stack = ini_use_stack;
        int max_line = ini_max_line, r;

        ini_allow_multiline = false;
        ini_allow_inline_comments = false;
        ini_stop_on_first_error = false;
        ini_allow_no_value = false;
        ini_use_stack = true;
        ini_max_line = CONF_LINE_MAX + 3;
        r = ini_parse_stream(line_reader, st, key_handler, st);
        ini_allow_multiline = multiline;
        ini_allow_inline_comments = inline_comments;
        ini_stop_on_first_error = stop;
        ini_allow_no_value = no_value;
        ini_use_stack = use_stack;
        ini_max_line = max_line;
        return r;
}

static int parse_text(const char *text, size_t len, const char *name, struct conf **ret,
                      char ***ret_errors) {
        _cleanup_(conf_freep) struct conf *c = NULL;
        struct conf_parse_state st = { .path = name, .text = text, .len = len };
        int r;

        c = new0(struct conf, 1);
        if (!c)
                return -ENOMEM;
        st.conf = c;
        c->path = mem_strdup(name);
        if (!c->path)
                return -ENOMEM;

        r = apply_defaults(&st);
        if (r >= 0) {
                r = ini_parse_systemd(&st);
                if (r == -2)
                        st.oom = true;
                else if (r != 0 && st.n_errors == 0)
                        /* Every line libinih sees was checked by line_reader(); anything else is
                         * our bug, but still an error, never a silently ignored line. */
                        add_error(&st, (unsigned) MAX(r, 0), "line not understood");
                if (!st.oom)
                        build_cloud(&st);
                if (!st.oom)
                        apply_environment(&st);
                /* Cross-key checks run even after other errors, so one pass shows everything. */
                if (!st.oom)
                        check_conf(&st);
                if (st.n_dropped > 0 && strv_consume(&st.errors, str_printf("%s: %zu more errors not shown",
                                                                            name, st.n_dropped)) < 0)
                        st.oom = true;
                r = st.oom ? -ENOMEM : st.n_errors > 0 ? -EINVAL : 0;
        }

        cloud_done(&st.cloud_override);
        mem_free(st.override_lines);
        if (r < 0) {
                if (r == -ENOMEM)
                        st.errors = strv_free(st.errors);
                if (ret_errors)
                        *ret_errors = TAKE_PTR(st.errors);
                strv_free(st.errors);
                return r;
        }
        strv_free(st.errors);
        if (ret_errors)
                *ret_errors = NULL;
        *ret = TAKE_PTR(c);
        return 0;
}

int conf_load_string(const char *text, const char *name, struct conf **ret, char ***ret_errors) {
        if (ret_errors)
                *ret_errors = NULL;
        return parse_text(text, strlen(text), name, ret, ret_errors);
}

int conf_new_default(struct conf **ret) {
        return parse_text("", 0, "(defaults)", ret, NULL);
}

int conf_check_stat(const struct stat *st, uid_t euid, char **ret_reason) {
        char *reason;
        int r;

        if (S_ISDIR(st->st_mode)) {
                r = -EINVAL;
                reason = str_printf("is a directory, not a file");
        } else if (!S_ISREG(st->st_mode)) {
                r = -EINVAL;
                reason = str_printf("is not a regular file (a device, FIFO or socket)");
        } else if (st->st_uid != 0 && st->st_uid != euid) {
                r = -EPERM;
                reason = str_printf(
                        "is owned by uid %u, neither root nor the running user (uid %u); fix with: "
                        "chown root",
                        (unsigned) st->st_uid, (unsigned) euid);
        } else if (st->st_mode & (S_IWGRP | S_IWOTH)) {
                r = -EPERM;
                reason =
                        str_printf("is writable by group or others (mode %04o), so others could change what "
                                   "cmkd does; fix with: chmod go-w",
                                   (unsigned) (st->st_mode & 07777));
        } else if (st->st_size > CONF_FILE_SIZE_MAX) {
                r = -EFBIG;
                reason = str_printf("is %jd bytes, more than the %d allowed", (intmax_t) st->st_size,
                                    CONF_FILE_SIZE_MAX);
        } else
                return 0;
        if (!reason)
                return -ENOMEM;
        if (ret_reason)
                *ret_reason = reason;
        else
                mem_free(reason);
        return r;
}

static int file_error(int r, const char *path, const char *what, char ***ret_errors) {
        char *s;

        if (!ret_errors)
                return r;
        s = str_printf("%s: %s", path, what);
        if (!s)
                return -ENOMEM;
        *ret_errors = strv_new1(s);
        return *ret_errors ? r : -ENOMEM;
}

int conf_load(const char *path, struct conf **ret, char ***ret_errors) {
        _cleanup_free_ char *text = NULL, *reason = NULL;
        size_t len = 0, allocated;
        struct stat st;
        int fd, r;

        if (ret_errors)
                *ret_errors = NULL;
        /* O_NONBLOCK: opening a FIFO must not hang; fstat() then refuses it. Symlinks are
         * followed on purpose: some deployments (NixOS, config management) link /etc files
         * elsewhere, and what matters is who can change the file that is read. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0) {
                char what[256];

                r = -errno;
                snprintf(what, sizeof what, "cannot open: %s", strerror(-r));
                return file_error(r, path, what, ret_errors);
        }
        if (fstat(fd, &st) < 0) {
                r = -errno;
                close(fd);
                return file_error(r, path, "cannot stat", ret_errors);
        }
        r = conf_check_stat(&st, geteuid(), &reason);
        if (r < 0) {
                close(fd);
                if (r == -ENOMEM)
                        return r;
                return file_error(r, path, reason, ret_errors);
        }

        /* The size may change between fstat() and read(): read at most one byte past the
         * limit and judge by what was read. */
        allocated = (size_t) st.st_size + 1;
        text = mem_malloc(allocated + 1);
        if (!text) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t k;

                if (len == allocated) {
                        size_t n = MIN(allocated * 2, (size_t) CONF_FILE_SIZE_MAX + 1);
                        char *t;

                        if (n <= allocated)
                                break;
                        t = mem_realloc(text, n + 1);
                        if (!t) {
                                close(fd);
                                return -ENOMEM;
                        }
                        text = t;
                        allocated = n;
                }
                k = read(fd, text + len, allocated - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        close(fd);
                        return file_error(r, path, "cannot read", ret_errors);
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        close(fd);
        if (len > CONF_FILE_SIZE_MAX) {
                char what[128];

                snprintf(what, sizeof what, "is more than the %d bytes allowed", CONF_FILE_SIZE_MAX);
                return file_error(-EFBIG, path, what, ret_errors);
        }
        text[len] = 0;
        return parse_text(text, len, path, ret, ret_errors);
}

/* ---- using a conf --------------------------------------------------------------------- */

bool conf_cluster_matches(const struct cluster *cl, const char *glob) {
        const char *subject = glob[0] == '/' ? cl->id : cl->name;

        return subject && fnmatch(glob, subject, FNM_CASEFOLD) == 0;
}

static bool any_glob_matches(char *const *globs, const struct cluster *cl) {
        STRV_FOREACH(g, globs)
                if (conf_cluster_matches(cl, *g))
                        return true;
        return false;
}

/* Tag names are case-insensitive in Azure (cluster_tag() compares so); values are not. */
static bool any_tag_matches(char *const *patterns, const struct cluster *cl) {
        STRV_FOREACH(p, patterns) {
                const char *eq = strchr(*p, '=');
                _cleanup_free_ char *name = NULL;
                const char *value;

                if (!eq) {
                        if (cluster_tag(cl, *p))
                                return true;
                        continue;
                }
                name = mem_strndup(*p, (size_t) (eq - *p));
                if (!name)
                        continue; /* cannot decide: treat as no match */
                value = cluster_tag(cl, name);
                if (value && fnmatch(eq + 1, value, 0) == 0)
                        return true;
        }
        return false;
}

bool conf_cluster_selected(const struct conf *c, const struct cluster *cl) {
        if (strv_length(c->subscriptions) > 0 &&
            (!cl->subscription || !strv_contains_case(c->subscriptions, cl->subscription)))
                return false;
        if (strv_length(c->resource_groups) > 0 &&
            (!cl->resource_group || !strv_contains_case(c->resource_groups, cl->resource_group)))
                return false;
        if (strv_length(c->include) > 0 && !any_glob_matches(c->include, cl))
                return false;
        if (any_glob_matches(c->exclude, cl))
                return false;
        if (strv_length(c->include_tags) > 0 && !any_tag_matches(c->include_tags, cl))
                return false;
        if (any_tag_matches(c->exclude_tags, cl))
                return false;
        return true;
}

void conf_policy_for(const struct conf *c, const struct cluster *cl, struct policy_conf *ret) {
        struct policy_conf p = c->policy;

        for (size_t i = 0; i < c->n_overrides; i++) {
                const struct policy_override *o = &c->overrides[i];

                if (!conf_cluster_matches(cl, o->match))
                        continue;
                if (o->set & POLICY_KEY_STALE_VERSION)
                        p.stale_version = o->policy.stale_version;
                if (o->set & POLICY_KEY_UPDATE_TARGET)
                        p.update_target = o->policy.update_target;
                if (o->set & POLICY_KEY_EXPIRY_WARNING)
                        p.key_expiry_warning_usec = o->policy.key_expiry_warning_usec;
                if (o->set & POLICY_KEY_EXPIRY_CRITICAL)
                        p.key_expiry_critical_usec = o->policy.key_expiry_critical_usec;
                if (o->set & POLICY_KEY_MAX_KEY_AGE)
                        p.max_key_age_usec = o->policy.max_key_age_usec;
                if (o->set & POLICY_KEY_REQUIRE_ROTATION)
                        p.require_rotation_policy = o->policy.require_rotation_policy;
                if (o->set & POLICY_KEY_CLOCK_SKEW)
                        p.clock_skew_usec = o->policy.clock_skew_usec;
        }
        if (p.key_expiry_critical_usec > p.key_expiry_warning_usec)
                p.key_expiry_critical_usec = p.key_expiry_warning_usec;
        p.version_grace_usec = c->version_grace_usec;
        *ret = p;
}

/* ---- dumping -------------------------------------------------------------------------- */

static const void *dump_field(const struct conf *c, const struct conf_key *k, const struct policy_conf *p) {
        if (k->flags & CONF_KEY_PER_CLUSTER)
                return (const char *) p + k->offset;
        if (k->flags & CONF_KEY_CLOUD)
                return (const char *) &c->cloud + k->offset;
        return (const char *) c + k->offset;
}

static int dump_key(FILE *f, const struct conf *c, const struct conf_key *k, const struct policy_conf *p) {
        _cleanup_strv_free_ char **values = k->format(k, dump_field(c, k, p));

        if (!values)
                return -ENOMEM;
        STRV_FOREACH(v, values)
                if (fprintf(f, "%s=%s\n", k->key, *v) < 0)
                        return -EIO;
        return 0;
}

int conf_dump(const struct conf *c, FILE *f) {
        const char *section = NULL;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (!section || !streq(section, keys[i].section)) {
                        section = keys[i].section;
                        if (fprintf(f, "%s[%s]\n", i > 0 ? "\n" : "", section) < 0)
                                return -EIO;
                }
                r = dump_key(f, c, &keys[i], &c->policy);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < c->n_overrides; i++) {
                const struct policy_override *o = &c->overrides[i];

                if (fprintf(f, "\n[Policy:%s]\n", o->match) < 0)
                        return -EIO;
                for (size_t j = 0; j < ELEMENTSOF(keys); j++)
                        if ((keys[j].flags & CONF_KEY_PER_CLUSTER) && (o->set & keys[j].policy_bit)) {
                                r = dump_key(f, c, &keys[j], &o->policy);
                                if (r < 0)
                                        return r;
                        }
        }
        return fflush(f) == 0 ? 0 : -EIO;
}
