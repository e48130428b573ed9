/* SPDX-License-Identifier: MIT */
#pragma once

/* What `cmkd --once` prints: a table for people, or JSON for programs. Pure: formats a
 * sweep_result into a buffer, or hands it in pieces to the caller's function. */

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

/* Takes a piece of the text (borrowed for the call). Returns 0 or -errno, which stops the
 * output. */
typedef int (*output_write_fn)(const char *data, size_t len, void *userdata);

#define OUTPUT_CHUNK_BYTES_DEFAULT (64 * 1024)

/* The same text as output_json() and output_table(), handed to write in pieces of about
 * chunk_bytes (0 = OUTPUT_CHUNK_BYTES_DEFAULT, cut between clusters) instead of kept whole:
 * a fleet's JSON is megabytes (1 KiB per cluster). Returns 0, -ENOMEM or -E2BIG, or what
 * write returned; the pieces handed over before a failure stay handed over. */
int output_json_stream(const struct sweep_result *s, usec_t now_realtime, size_t chunk_bytes, output_write_fn write,
                       void *userdata);
int output_table_stream(const struct sweep_result *s, usec_t now_realtime, size_t chunk_bytes,
                        output_write_fn write, void *userdata);
