/* SPDX-License-Identifier: MIT */
/* libFuzzer target: rotation policy and Managed HSM local RBAC decoders (kv_decode.h). */

#include "fuzz-common.h"
#include "kv_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(kv_decode_rotation_policy, struct rotation_policy, rotation_policy_free, data, size);
        FUZZ_DECODER(kv_decode_hsm_role_assignment_list, struct role_assignment_list,
                     role_assignment_list_free, data, size);
        FUZZ_DECODER(kv_decode_hsm_role_definition_list, struct role_definition_list,
                     role_definition_list_free, data, size);
        return 0;
}
