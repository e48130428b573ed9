# SPDX-License-Identifier: MIT
"""Valgrind memcheck over one full `cmkd --once --json` sweep against the twin (issue 8):
0 errors, 0 bytes definitely lost, and no descriptor left open at exit beyond stdin, stdout
and stderr. The plain build (valgrind and ASan do not mix): CMKD=path tries another one.

Scenario: findings (every finding code) without its cluster on a deleted vault, whose host
does not answer and is retried with backoff for about 45 s (see tests/torture/run-torture);
the deleted vault itself stays (it is read in the listing of deleted vaults)."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture, clean_env, scenario_path  # noqa: E402

VALGRIND_TIMEOUT = 600
SLOW_CLUSTERS = ("c-vault-deleted",)


class ValgrindTest(unittest.TestCase):
    def test_full_sweep_clean(self):
        valgrind = shutil.which("valgrind")
        self.assertIsNotNone(valgrind, "valgrind is missing: .ci/install-deps installs it")
        with open(scenario_path("findings")) as f:
            sc = json.load(f)
        sc["clusters"] = [c for c in sc["clusters"] if c["name"] not in SLOW_CLUSTERS]
        with Fixture(sc) as fx:
            config = fx.write_config()
            log_path = os.path.join(fx.dir, "valgrind.log")
            argv = [valgrind, "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
                    "--show-leak-kinds=definite", "--errors-for-leak-kinds=definite", "--track-fds=yes",
                    "--log-file=" + log_path, fx.cmkd, "--once", "--json", "-c", config]
            p = subprocess.run(argv, cwd=fx.dir, env=clean_env(), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=VALGRIND_TIMEOUT)
            with open(log_path) as f:
                log = f.read()
            what = "%s\n--- valgrind log (tail):\n%s\n--- stderr (tail):\n%s" % (
                " ".join(argv), log[-8000:], p.stderr.decode("utf-8", "replace")[-3000:])

            # The sweep ran to its end: the findings scenario is critical.
            self.assertEqual(p.returncode, 2, what)
            doc = json.loads(p.stdout)
            self.assertTrue(doc["sweep"]["ran"], what)
            self.assertEqual(len(doc["clusters"]), len(sc["clusters"]), what)

            m = re.search(r"ERROR SUMMARY: (\d+) errors", log)
            self.assertIsNotNone(m, what)
            self.assertEqual(int(m.group(1)), 0, what)
            m = re.search(r"definitely lost: ([\d,]+) bytes", log)
            self.assertTrue(m is None and "All heap blocks were freed" in log or
                            m is not None and m.group(1) == "0", what)
            m = re.search(r"FILE DESCRIPTORS: (\d+) open(?: \((\d+) std\))? at exit", log)
            self.assertIsNotNone(m, what)
            # Besides stdio, only valgrind's own log (it shows as inherited).
            left = [fd for fd, path in re.findall(r"Open file descriptor (\d+):\s*(\S*)", log)
                    if int(fd) > 2 and path != log_path]
            self.assertEqual(left, [], "descriptors left open at exit:\n" + what)
            print("valgrind: %s; %s" % (re.search(r"ERROR SUMMARY: .*", log).group(0),
                                        m.group(0)), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
