/* SPDX-License-Identifier: MIT */
#pragma once

/* A fake sweep read from a JSON file, for the integration drivers (alert-driver,
 * report-driver): what the inventory, the policy and remediation would have produced,
 * written down by hand. Format (times are RFC 3339; everything but "clusters[].id" is
 * optional):
 *
 * {"started": T, "finished": T, "ran": true, "error_message": "...", "failed_scopes": [...],
 *  "unreadable": 0, "stats": {"requests": 40, "throttled": 2, "retries": 1, "duration_ms": 12000},
 *  "clusters": [{
 *     "id": "/subscriptions/S/resourceGroups/RG/providers/Microsoft.DocumentDB/mongoClusters/NAME",
 *     "location": "westeurope", "cluster_status": "Ready", "provisioning_state": "Succeeded",
 *     "key_url": "https://v.vault.azure.net/keys/k[/version]", "identity": "/subscriptions/.../cmk",
 *     "policy": {"expiry_warning_days": 30, "expiry_critical_days": 7},
 *     "key":    {"version": "v2", "enabled": true, "created": T, "expires": T, "not_before": T},
 *     "pinned": {...same, the version the URL pins when it is not the current one...},
 *     "findings": [{"code": "key-expired", "severity": "critical", "when": T, "version": "v1",
 *                   "fact": "key", "http_status": 503, "error_code": "ServiceUnavailable"}],
 *     "action": {"outcome": "refused", "refusal": "cluster-not-ready", "old_url": "...",
 *                "new_url": "...", "operation_id": "...", "error_code": "...", "error_message": "..."}}]} */

#include "sweep.h"

struct fixture;

/* Reads path. On failure prints why to stderr and returns a negative errno. */
int fixture_load(const char *path, struct fixture **ret, const struct sweep_result **ret_sweep);
struct fixture *fixture_free(struct fixture *f);
