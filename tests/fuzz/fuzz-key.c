/* SPDX-License-Identifier: MIT */
/* libFuzzer target: KeyBundle, DeletedKeyBundle and key-versions page decoders (kv_decode.h). */

#include "fuzz-common.h"
#include "kv_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FUZZ_DECODER(kv_decode_key_bundle, struct key_bundle, key_bundle_free, data, size);
        FUZZ_DECODER(kv_decode_deleted_key_bundle, struct key_bundle, key_bundle_free, data, size);
        FUZZ_DECODER(kv_decode_key_version_list, struct key_version_list, key_version_list_free, data, size);
        return 0;
}
