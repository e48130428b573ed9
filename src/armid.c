/* SPDX-License-Identifier: MIT */
/* ARM resource id helpers. Pure; fuzzed. */

#include <ctype.h>
#include <stdio.h>

#include "armid.h"

static int copy_segment(const char **p, char *buf, size_t len) {
        size_t n = strcspn(*p, "/");

        if (n == 0 || n >= len)
                return -EINVAL;
        memcpy(buf, *p, n);
        buf[n] = 0;
        *p += n;
        return 0;
}

static int expect(const char **p, const char *word) {
        const char *q = startswith_no_case(*p, word);

        if (!q)
                return -EINVAL;
        *p = q;
        return 0;
}

int armid_parse(const char *id, struct armid *ret) {
        struct armid a = {};
        const char *p = id;

        if (expect(&p, "/subscriptions/") < 0 || copy_segment(&p, a.subscription, sizeof a.subscription) < 0 ||
            expect(&p, "/resourceGroups/") < 0 ||
            copy_segment(&p, a.resource_group, sizeof a.resource_group) < 0 ||
            expect(&p, "/providers/") < 0 || copy_segment(&p, a.provider, sizeof a.provider) < 0 ||
            expect(&p, "/") < 0 || copy_segment(&p, a.type, sizeof a.type) < 0 || expect(&p, "/") < 0 ||
            copy_segment(&p, a.name, sizeof a.name) < 0)
                return -EINVAL;
        if (*p == '/')
                p++;
        if (*p)
                return -EINVAL;
        *ret = a;
        return 0;
}

int armid_subscription(const char *id, char *buf, size_t len) {
        const char *p = id;

        if (expect(&p, "/subscriptions/") < 0)
                return -EINVAL;
        return copy_segment(&p, buf, len);
}

static size_t trimmed_len(const char *s) {
        size_t n = strlen(s);

        while (n > 0 && s[n - 1] == '/')
                n--;
        return n;
}

bool armid_equal(const char *a, const char *b) {
        size_t na, nb;

        if (!a || !b)
                return false;
        na = trimmed_len(a);
        nb = trimmed_len(b);
        return na == nb && strncasecmp(a, b, na) == 0;
}

bool armid_scope_covers(const char *scope, const char *id) {
        size_t ns, ni;

        if (!scope || !id)
                return false;
        ns = trimmed_len(scope);
        ni = trimmed_len(id);
        if (ns == 0)
                return true; /* "/" */
        if (ns > ni || strncasecmp(scope, id, ns) != 0)
                return false;
        return ns == ni || id[ns] == '/';
}

const char *armid_last_segment(const char *id) {
        size_t n = trimmed_len(id);
        const char *p = id + n;

        while (p > id && p[-1] != '/')
                p--;
        return p;
}

bool guid_valid(const char *s) {
        static const unsigned groups[] = { 8, 4, 4, 4, 12 };

        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                for (unsigned i = 0; i < groups[g]; i++, s++)
                        if (!isxdigit((unsigned char) *s))
                                return false;
                if (g + 1 < ELEMENTSOF(groups) && *s++ != '-')
                        return false;
        }
        return *s == 0;
}
