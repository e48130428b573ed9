# SPDX-License-Identifier: MIT
"""The cmkd binary itself (not conf-check) refuses a config file that others could change or
that is oversized, in every mode that reads one, with the file and the reason on stderr
(issue 8, bad input at the edges; run.py covers the same refusals through conf_load()).
CMKD=path picks the binary (default build/cmkd). Python 3 standard library only."""

import os
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF_MAX = 1024 * 1024  # conf.h: CONF_FILE_SIZE_MAX


def cmkd():
    p = os.environ.get("CMKD") or os.path.join(ROOT, "build", "cmkd")
    if not os.access(p, os.X_OK):
        raise AssertionError("cmkd binary %s is missing: run 'make' first, or set CMKD=" % p)
    return p


class RefusedConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="cmkd-conf-")
        os.chmod(self.dir, 0o700)
        self.path = os.path.join(self.dir, "cmkd.conf")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def write(self, text, mode):
        with open(self.path, "w") as f:
            f.write(text)
        os.chmod(self.path, mode)

    def run_cmkd(self, *args):
        p = subprocess.run([cmkd()] + list(args) + ["-c", self.path], stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=60, env=dict(os.environ, LC_ALL="C.UTF-8"))
        return p.returncode, p.stderr.decode("utf-8", "replace")

    def test_valid_file_accepted(self):
        # The control: the same text at mode 0600 passes.
        self.write("# nothing set: every default\n", 0o600)
        code, err = self.run_cmkd("--check-config")
        self.assertEqual(code, 0, err)

    def test_writable_by_others_refused(self):
        for mode in (0o620, 0o602, 0o666):
            self.write("# nothing set: every default\n", mode)
            for args, want in ((("--check-config",), 1), (("--once",), 3)):
                code, err = self.run_cmkd(*args)
                self.assertEqual(code, want, "mode %04o, %s: %s" % (mode, args, err))
                self.assertIn("%s: is writable by group or others (mode %04o)" % (self.path, mode), err)
                self.assertIn("chmod go-w", err)

    def test_oversized_refused(self):
        self.write("#" * (CONF_MAX + 1), 0o600)
        for args, want in ((("--check-config",), 1), (("--once",), 3)):
            code, err = self.run_cmkd(*args)
            self.assertEqual(code, want, "%s: %s" % (args, err))
            self.assertIn("%s: is %d bytes, more than the %d allowed" % (self.path, CONF_MAX + 1, CONF_MAX), err)


if __name__ == "__main__":
    unittest.main()
