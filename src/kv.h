/* SPDX-License-Identifier: MIT */
#pragma once

/* Key Vault and Managed HSM key reads (README §2.1): the latest version of a key, one
 * version, the list of versions, the rotation policy, the deleted key. Requests go to
 * https://{host} of a parsed key URL, with the vault or Managed HSM audience by the key
 * store type; azure.c refuses hosts outside the cloud's suffixes. Bodies go to the caller
 * undecoded (kv_decode.c decodes). */

#include "azure.h"
#include "keyurl.h"

/* 7.5, 7.6 and 2025-07-01 carry the same key operations and models (README §2). */
#define KV_API_VERSION_DEFAULT "7.6"
/* The largest page GetKeyVersions allows (README §2.1). */
#define KV_VERSIONS_PAGE_SIZE 25

/* "https://{host}{path}?api-version={v}" for a key's path below the vault, built from the
 * parsed key (name and version escaped). what: "" (the key: /keys/{name}[/{version}]),
 * "versions", "rotationpolicy", "deleted" (/deletedkeys/{name}). version NULL or "" =
 * latest. api_version NULL = KV_API_VERSION_DEFAULT. Returns 0, -EINVAL, -ENOMEM. */
int kv_url(const struct keyurl *k, const char *what, const char *version, const char *api_version,
           char **ret);

/* The audience for a key store type. */
enum azure_audience kv_audience(const struct keyurl *k);

/* GET /keys/{name} (version NULL or "": the latest) or /keys/{name}/{version}. */
int kv_get_key(struct azure *az, const struct keyurl *k, const char *version, const char *api_version,
               azure_done_fn done, void *userdata, struct azure_call **ret);
/* GET /keys/{name}/versions?maxresults=25, every page (nextLink followed as given). */
int kv_list_key_versions(struct azure *az, const struct keyurl *k, const char *api_version,
                         azure_page_fn page, azure_list_done_fn done, void *userdata,
                         struct azure_list **ret);
/* GET /keys/{name}/rotationpolicy */
int kv_get_rotation_policy(struct azure *az, const struct keyurl *k, const char *api_version,
                           azure_done_fn done, void *userdata, struct azure_call **ret);
/* GET /deletedkeys/{name} */
int kv_get_deleted_key(struct azure *az, const struct keyurl *k, const char *api_version, azure_done_fn done,
                       void *userdata, struct azure_call **ret);
