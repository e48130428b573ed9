/* SPDX-License-Identifier: MIT */
/* libFuzzer target: identity, subscription, role assignment/definition and async-operation
 * decoders (arm_decode.h). */

#include "arm_decode.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(arm_decode_identity, struct identity, identity_free, data, size);
        FUZZ_DECODER(arm_decode_subscription_list, struct subscription_list, subscription_list_free, data,
                     size);
        FUZZ_DECODER(arm_decode_role_assignment_list, struct role_assignment_list, role_assignment_list_free,
                     data, size);
        FUZZ_DECODER(arm_decode_role_definition, struct role_definition, role_definition_free, data, size);
        FUZZ_DECODER(arm_decode_role_definition_list, struct role_definition_list, role_definition_list_free,
                     data, size);
        FUZZ_DECODER(arm_decode_operation_status, struct arm_operation_status, arm_operation_status_free,
                     data, size);
        return 0;
}
