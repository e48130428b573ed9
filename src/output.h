/* SPDX-License-Identifier: MIT */
#pragma once

/* What `cmkd --once` prints: a table for people, or JSON for programs. Pure: formats a
 * sweep_result into a buffer. */

#include "buf.h"
#include "sweep.h"

#define OUTPUT_JSON_VERSION 1

/* JSON: {"version":1,"generated":..., "exit_code":N, "summary":{...}, "sweep":{...},
 * "clusters":[{"id","name","location","subscription","resource_group","encryption",
 * "key_url","key_store","pinned_version","current_version","cluster_status",
 * "provisioning_state","severity","findings":[{"code","severity","message"}],
 * "action":{...}|null}]}. Returns 0, -ENOMEM or -E2BIG. */
int output_json(const struct sweep_result *s, usec_t now_realtime, struct buf *out);

/* A table, one line per cluster, then the messages of warnings and criticals. */
int output_table(const struct sweep_result *s, usec_t now_realtime, struct buf *out);
