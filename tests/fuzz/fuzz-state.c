/* SPDX-License-Identifier: MIT */
/* libFuzzer target: every file cmkd reads back from its StateDirectory: the alert state
 * (alerts.json), an update's operation record (op-*.json), the held-back updates
 * (update-holds.json) and a line of the audit log. A corrupt file must be refused
 * (-EBADMSG, -EPROTONOSUPPORT, -E2BIG), never crash or leak. */

#include "alertstate.h"
#include "audit.h"
#include "fuzz-common.h"
#include "oprecord.h"
#include "remediate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *text = (const char *) data;

        FUZZ_TWICE(data, size, {
                struct alertstate *st = FUZZ_SENTINEL;
                int r = alertstate_parse(text, size, &st);

                if (r < 0 ? st != FUZZ_SENTINEL : !st)
                        abort();
                if (r >= 0)
                        alertstate_free(st);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                struct op_record *rec = FUZZ_SENTINEL;
                int r = op_record_parse(text, size, &rec);

                if (r < 0 ? rec != FUZZ_SENTINEL : !rec)
                        abort();
                if (r >= 0)
                        op_record_free(rec);
                fuzz_check(r);
        });
        FUZZ_TWICE(data, size, {
                size_t n = 0;

                fuzz_check(remediate_holds_parse(text, size, &n));
        });
        FUZZ_TWICE(data, size, {
                struct audit_entry e = {};
                int r = audit_parse_line(text, size, &e);

                if (r >= 0)
                        audit_entry_done(&e);
                fuzz_check(r);
        });
        return 0;
}
