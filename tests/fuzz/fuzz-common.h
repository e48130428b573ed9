/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by the libFuzzer targets: runs one decoder on the input twice, once as is and
 * once with one allocation failing (its index derived from the input), and aborts on any
 * broken promise of arm_decode.h / kv_decode.h: a result other than 0, -EBADMSG or -E2BIG
 * (or -ENOMEM exactly when an allocation failed), *ret changed on failure, or no result on
 * success. ASan/UBSan catch the rest; LeakSanitizer catches leaks. */

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "mem.h"

#define FUZZ_SENTINEL ((void *) 0x1)

static inline unsigned long fuzz_fail_index(const uint8_t *data, size_t size) {
        uint32_t h = 2166136261u; /* FNV-1a */

        for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 16777619u;
        return 1 + h % 48;
}

#define FUZZ_ONE(decoder, type, freefn, data, size, fail_at)                                    \
        do {                                                                                    \
                type *_x = FUZZ_SENTINEL;                                                       \
                bool _injected;                                                                 \
                int _r;                                                                         \
                                                                                                \
                mem_fail_at((fail_at), false);                                                  \
                _r = decoder((const char *) (data), (size), &_x);                               \
                _injected = mem_failure_injected();                                             \
                mem_fail_at(0, false);                                                          \
                if (_r < 0) {                                                                   \
                        if (_x != FUZZ_SENTINEL)                                                \
                                abort();                                                        \
                        if (_injected ? _r != -ENOMEM : (_r != -EBADMSG && _r != -E2BIG))       \
                                abort();                                                        \
                } else {                                                                        \
                        if (_r != 0 || _injected || !_x || _x == FUZZ_SENTINEL)                 \
                                abort();                                                        \
                        freefn(_x);                                                             \
                }                                                                               \
        } while (0)

/* Both runs of one decoder. */
#define FUZZ_DECODER(decoder, type, freefn, data, size)                                         \
        do {                                                                                    \
                FUZZ_ONE(decoder, type, freefn, data, size, 0);                                 \
                FUZZ_ONE(decoder, type, freefn, data, size, fuzz_fail_index(data, size));       \
        } while (0)

/* For parsers whose result is not one pointer: r is what the call returned with allocation
 * fail_at failing (0: none). Aborts unless r is >= 0, or -EBADMSG, -E2BIG, -EPROTONOSUPPORT,
 * or -ENOMEM exactly when an allocation failed. */
static inline void fuzz_check(int r) {
        bool injected = mem_failure_injected();

        mem_fail_at(0, false);
        if (r >= 0 || r == -EBADMSG || r == -E2BIG || r == -EPROTONOSUPPORT || (injected && r == -ENOMEM))
                return;
        abort();
}

/* Runs the block (which must end in fuzz_check()) twice: without failures, then with one. */
#define FUZZ_TWICE(data, size, ...)                                                            \
        do {                                                                                    \
                mem_fail_at(0, false);                                                          \
                __VA_ARGS__;                                                                    \
                mem_fail_at(fuzz_fail_index(data, size), false);                                \
                __VA_ARGS__;                                                                    \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
