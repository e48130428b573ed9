/* SPDX-License-Identifier: MIT */
#pragma once

/* ARM resource ids: /subscriptions/{sub}/resourceGroups/{rg}/providers/{ns}/{type}/{name}.
 * ARM compares ids case-insensitively (Azure's own examples mix "resourcegroups" and
 * "resourceGroups"), so use armid_equal(), never strcmp(). Pure. */

#include "macro.h"

struct armid {
        char subscription[64];
        char resource_group[96];
        char provider[96]; /* "Microsoft.DocumentDB" */
        char type[96];     /* "mongoClusters" */
        char name[160];
};

/* Parses a top-level resource id of the shape above. Returns 0 or -EINVAL. */
int armid_parse(const char *id, struct armid *ret);
/* Extracts the subscription id of any id starting with /subscriptions/{sub}. */
int armid_subscription(const char *id, char *buf, size_t len);
bool armid_equal(const char *a, const char *b);
/* True if scope is id or an ancestor of it ("/" counts as the root of everything). */
bool armid_scope_covers(const char *scope, const char *id);
/* Last path segment (e.g. the GUID of a roleDefinitionId). Borrowed from id. */
const char *armid_last_segment(const char *id);
/* True if s is a lowercase or uppercase canonical GUID. */
bool guid_valid(const char *s);
