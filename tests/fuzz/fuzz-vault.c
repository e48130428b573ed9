/* SPDX-License-Identifier: MIT */
/* libFuzzer target: vault, managed HSM, deleted-vault and deleted-HSM decoders, single and list pages. */

#include "arm_decode.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(arm_decode_vault, struct vault, vault_free, data, size);
        FUZZ_DECODER(arm_decode_vault_list, struct vault_list, vault_list_free, data, size);
        FUZZ_DECODER(arm_decode_managed_hsm, struct vault, vault_free, data, size);
        FUZZ_DECODER(arm_decode_managed_hsm_list, struct vault_list, vault_list_free, data, size);
        FUZZ_DECODER(arm_decode_deleted_vault, struct deleted_vault, deleted_vault_free, data, size);
        FUZZ_DECODER(arm_decode_deleted_vault_list, struct deleted_vault_list, deleted_vault_list_free, data,
                     size);
        FUZZ_DECODER(arm_decode_deleted_managed_hsm_list, struct deleted_vault_list, deleted_vault_list_free,
                     data, size);
        return 0;
}
