/* SPDX-License-Identifier: MIT */
/* libFuzzer target: mongoCluster and mongoCluster list decoders (arm_decode.h). */

#include "arm_decode.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(arm_decode_cluster, struct cluster, cluster_free, data, size);
        FUZZ_DECODER(arm_decode_cluster_list, struct cluster_list, cluster_list_free, data, size);
        return 0;
}
