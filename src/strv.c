/* SPDX-License-Identifier: MIT */
/* String vectors. */

#include "mem.h"
#include "strv.h"

char **strv_free(char **l) {
        STRV_FOREACH(s, l)
                mem_free(*s);
        mem_free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;

        STRV_FOREACH(s, l)
                n++;
        return n;
}

int strv_consume(char ***l, char *s) {
        size_t n = strv_length(*l);
        char **m;

        if (!s)
                return -ENOMEM;
        m = mem_realloc(*l, sizeof(char *) * (n + 2));
        if (!m) {
                mem_free(s);
                return -ENOMEM;
        }
        m[n] = s;
        m[n + 1] = NULL;
        *l = m;
        return 0;
}

int strv_extend(char ***l, const char *s) {
        return strv_consume(l, mem_strdup(s));
}

int strv_split(const char *s, const char *separators, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;
        int r;

        l = new0(char *, 1);
        if (!l)
                return -ENOMEM;
        for (const char *p = s; *p;) {
                size_t n;

                p += strspn(p, separators);
                n = strcspn(p, separators);
                if (n == 0)
                        break;
                r = strv_consume(&l, mem_strndup(p, n));
                if (r < 0)
                        return r;
                p += n;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

char **strv_copy(char *const *l) {
        _cleanup_strv_free_ char **c = new0(char *, 1);

        if (!c)
                return NULL;
        STRV_FOREACH(s, l)
                if (strv_extend(&c, *s) < 0)
                        return NULL;
        return TAKE_PTR(c);
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (streq(*i, s))
                        return true;
        return false;
}

bool strv_contains_case(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (strcasecmp(*i, s) == 0)
                        return true;
        return false;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);

        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}
