/* SPDX-License-Identifier: MIT */
#pragma once

/* The state files of update operations. An operation is written to the state directory
 * before its request goes out and updated when Azure accepts it, so that after a crash
 * cmkd follows the same operation instead of sending a second update. Pure: format and
 * parse; remediate.c does the I/O (through fileio.h). */

#include "buf.h"
#include "conf.h"

#define OPRECORD_VERSION 1
#define OPRECORD_DIR "operations"
#define OPRECORD_FILE_MAX (256 * 1024)

enum op_phase {
        OP_PHASE_SENDING,  /* written before the request: it may or may not have reached Azure */
        OP_PHASE_ACCEPTED, /* Azure answered 2xx: follow async_operation / location */
        _OP_PHASE_MAX,
        _OP_PHASE_INVALID = -EINVAL,
};

struct op_record {
        char *cluster_id;   /* required */
        char *subscription;
        enum update_method method;
        char *resource_url; /* required: the cluster's URL with api-version */
        char *identity_id;  /* required: the encryption identity sent */
        char *old_key_url;
        char *new_key_url;  /* required */
        enum op_phase phase;
        char *async_operation; /* Azure-AsyncOperation, when accepted */
        char *location;        /* Location, when accepted */
        char *request_id;      /* x-ms-request-id of the accepted request */
        usec_t started;        /* realtime */
        unsigned resumes;      /* times a restart picked it up */
};

struct op_record *op_record_free(struct op_record *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct op_record *, op_record_free);

/* {"version":1,"cluster":...} on one line. Returns 0, -ENOMEM, -E2BIG. */
int op_record_format(const struct op_record *r, struct buf *out);
/* Returns 0, -EBADMSG (malformed, truncated, a required member missing),
 * -EPROTONOSUPPORT (another version), -E2BIG, -ENOMEM. */
int op_record_parse(const char *text, size_t len, struct op_record **ret);

/* "op-<16 hex digits>.json": a hash of the lowercased cluster id (ids are too long and
 * contain slashes); the id inside the file is what counts. Returns buf. */
char *op_record_file_name(const char *cluster_id, char *buf, size_t len);
#define OPRECORD_NAME_MAX 32

/* The operation id Azure gave: last path segment of the Azure-AsyncOperation (else
 * Location) URL, without query. NULL if neither. Borrowed from r; writes into buf. */
const char *op_record_operation_id(const struct op_record *r, char *buf, size_t len);

const char *op_phase_to_string(enum op_phase p);
enum op_phase op_phase_from_string(const char *s);
