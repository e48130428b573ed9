/* SPDX-License-Identifier: MIT */
/* libFuzzer target: mongoCluster and mongoCluster list decoders (arm_decode.h), the list also
 * into a string pool as the inventory decodes it. */

#include "arm_decode.h"
#include "fuzz-common.h"
#include "strpool.h"

/* The pool of one input: the lists decoded into it are freed before it. */
static struct strpool *pool;

static int decode_pooled(const char *body, size_t len, struct cluster_list **ret) {
        return arm_decode_cluster_list_pooled(body, len, pool, ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(arm_decode_cluster, struct cluster, cluster_free, data, size);
        FUZZ_DECODER(arm_decode_cluster_list, struct cluster_list, cluster_list_free, data, size);
        if (strpool_new(&pool) < 0)
                abort();
        FUZZ_DECODER(decode_pooled, struct cluster_list, cluster_list_free, data, size);
        pool = strpool_free(pool);
        return 0;
}
