# SPDX-License-Identifier: MIT
"""The demo (tests/demo/run-demo), run non-interactively: it must succeed, show each step
(the finding table, the JSON, the update, the alerts from a journal, the report) and leave
what it says it leaves; a second run starts afresh; Ctrl-C stops it and everything it
started. No timed assertions: the run time is printed only.

The alert step needs a journal: a running systemd-journald that this user may read, or root
for a private one (tests/integration/journalns.py). Without either this test fails and says
so. Run: make check-demo (CMKD=path to the binary, CMKD_BUILD=the build directory).
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("CMKD_BUILD", os.path.join(TOP, "build"))
CMKD = os.environ.get("CMKD", os.path.join(BUILD, "cmkd"))
RUN_DEMO = os.path.join(HERE, "run-demo")
DIR = os.path.join(BUILD, "check-demo")
RUN_TIMEOUT = 200  # the demo bounds itself at 150 s


def run_demo(*extra):
    started = time.monotonic()
    r = subprocess.run([sys.executable, RUN_DEMO, "--cmkd", CMKD, "--dir", DIR, *extra], capture_output=True,
                       text=True, timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)
    return r, time.monotonic() - started


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def section(text, start, end=None):
    """The output from the line containing start to the one containing end (exclusive)."""
    i = text.index(start)
    j = text.index(end, i) if end else len(text)
    return text[i:j]


class Demo(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(CMKD, os.X_OK):
            raise RuntimeError("%s is not built: run `make check-demo`" % CMKD)
        cls.r, cls.seconds = run_demo()
        sys.stderr.write("\n[demo: %.1fs, exit %d]\n" % (cls.seconds, cls.r.returncode))
        cls.out = cls.r.stdout

    def setUp(self):
        if self.r.returncode != 0:
            self.fail("run-demo failed (exit %d):\n%s\n%s" % (self.r.returncode, self.out[-6000:],
                                                              self.r.stderr[-3000:]))

    def test_every_step_shows(self):
        for n, title in ((0, "start the twin"), (1, "cmkd --once"), (2, "cmkd --once --json"),
                         (3, "the daemon, one sweep"), (4, "cmkd --report")):
            self.assertRegex(self.out, r"(?m)^==> Step %d: %s" % (n, re.escape(title)))
        self.assertRegex(self.out, r"(?m)^Demo done in [0-9.]+s\.")
        self.assertNotIn("FAILED", self.out)

    def test_finding_table(self):
        s = section(self.out, "==> Step 1", "==> Step 2")
        self.assertRegex(s, r"(?m)^  CLUSTER +LOCATION +KEY +STATE +ACTION$")
        rows = re.findall(r"(?m)^  ([a-z0-9-]+) +(westeurope|northeurope) +(\S+(?: \S+)?) +(ok|info|warning|critical)"
                          r" +(.*)$", s)
        self.assertEqual(len(rows), 12, s)
        state = {name: st for name, _, _, st, _ in rows}
        self.assertEqual(state["billing-weu"], "warning")
        self.assertEqual(state["payments-weu"], "critical")
        self.assertEqual(state["reporting-neu"], "critical")
        self.assertEqual(state["orders-neu-replica"], "ok")
        self.assertEqual(state["legacy-weu"], "info")
        self.assertIn("WARNING  billing-weu [key-version-stale]", s)
        self.assertIn("CRITICAL payments-weu [key-disabled]", s)
        self.assertIn("CRITICAL reporting-neu [access-revoked]", s)
        self.assertIn("12 clusters: 2 critical, 3 warning, 1 info, 6 ok", s)
        self.assertIn("exit code 2: CRITICAL", s)

    def test_json_glimpse(self):
        s = section(self.out, "==> Step 2", "==> Step 3")
        self.assertIn('"exit_code": 2,', s)
        self.assertIn('"summary": {', s)
        self.assertIn("payments-weu (key-version-stale, key-disabled, cluster-inaccessible)", s)
        self.assertIn("reporting-neu (access-revoked)", s)

    def test_update_succeeded(self):
        s = section(self.out, "==> Step 3", "==> Step 4")
        self.assertIn("Update of billing-weu: succeeded.", s)
        self.assertRegex(s, r"It ran [0-9.]+s and exited with status 0\.")
        with open(os.path.join(DIR, "state", "audit.log")) as f:
            audit = [json.loads(line) for line in f]
        got = [(e["cluster"].rsplit("/", 1)[-1], e["result"], e["refusal"]) for e in audit]
        self.assertEqual(sorted(got), [("billing-weu", "started", None), ("billing-weu", "succeeded", None),
                                       ("payments-weu", "refused", "cluster-inaccessible")])
        done = next(e for e in audit if e["result"] == "succeeded")
        self.assertEqual(done["new_key_url"], "https://kv-orders-weu.vault.azure.net/keys/billing-key")

    def test_alerts_from_the_journal(self):
        s = section(self.out, "==> Step 3", "==> Step 4")
        m = re.search(r"alerts go to: (.*)", s)
        self.assertIsNotNone(m)
        if m.group(1).startswith("no journal"):
            self.fail("the demo could not show the alerts, which need a journal: %s. Run as root (a private "
                      "journald) or on a machine whose journald this user may read." % m.group(1))
        pid = re.search(r"\$ journalctl _PID=(\d+) -o short-iso", s)
        self.assertIsNotNone(pid, s)
        pid = pid.group(1)
        every = section(s, "$ journalctl _PID=%s -o short-iso" % pid, "Only warning and worse")
        lines = re.findall(r"(?m)^    \S+ \S+ cmkd\[%s\]: (.*)$" % pid, every)
        self.assertGreaterEqual(len(lines), 10, s)
        self.assertIn("cmkd 0.1.0 started in mode enforce.", lines[0])
        # One update-started alert: the operation id that comes later must not announce it again.
        self.assertEqual(len([x for x in lines if x.startswith("billing-weu: updating the key URL")]), 1, lines)
        self.assertTrue(any(x.startswith("billing-weu: the key URL is now https://kv-orders-weu.vault.azure.net/"
                                         "keys/billing-key, verified") for x in lines), lines)
        self.assertTrue(any(x.startswith("payments-weu: the key update to") and "held back" in x for x in lines))
        self.assertIn("cmkd stopped: SIGTERM.", lines[-1])
        # The verbose entry of the update, and the JSON of one cluster's alerts.
        self.assertIn("        CMKD_ALERT=update-succeeded", s)
        self.assertIn("        CMKD_OUTCOME=succeeded", s)
        self.assertIn('"CMKD_REFUSAL": "cluster-inaccessible"', s)
        if "private systemd-journald" in m.group(1):
            self.assertIn("Subject: Key version used by cluster payments-weu is disabled", s)

    def test_report_files(self):
        s = section(self.out, "==> Step 4")
        reports = os.path.join(DIR, "reports")
        self.assertIn("Written into %s:" % reports, s)
        names = os.listdir(reports)
        for ext in ("json", "csv", "html"):
            self.assertIn("latest." + ext, names)
            self.assertEqual(len([n for n in names if n.startswith("cmkd-report-") and n.endswith("." + ext)]), 1)
            self.assertRegex(s, r"latest\.%s +\d+ bytes" % ext)
        with open(os.path.join(reports, "latest.json")) as f:
            rep = json.load(f)
        self.assertEqual(rep["summary"]["clusters"], 12)
        self.assertEqual(rep["summary"]["actions"]["succeeded"], 1)
        billing = next(c for c in rep["clusters"] if c["name"] == "billing-weu")
        self.assertEqual(billing["status"], "ok")
        self.assertEqual(billing["key_url"], "https://kv-orders-weu.vault.azure.net/keys/billing-key")
        html = re.search(r"Open it in a browser: (\S+)", s).group(1)
        self.assertTrue(os.path.isfile(html), html)
        self.assertIn("Summary: 12 clusters: 7 ok, 1 info, 2 warning, 2 critical; updates: 1 succeeded, 1 refused.",
                      s)

    def test_processes_stopped(self):
        twin = int(re.search(r"twin running \(pid (\d+)", self.out).group(1))
        self.assertFalse(alive(twin), "the twin (pid %d) still runs after the demo" % twin)
        pid = re.search(r"_PID=(\d+)", self.out)
        if pid:
            self.assertFalse(alive(int(pid.group(1))), "cmkd still runs after the demo")

    def test_z_second_run_starts_afresh(self):
        r, seconds = run_demo()
        sys.stderr.write("[second run: %.1fs]\n" % seconds)
        self.assertEqual(r.returncode, 0, r.stdout[-4000:])
        with open(os.path.join(DIR, "state", "audit.log")) as f:
            self.assertEqual(len(f.readlines()), 3)
        self.assertEqual(len([n for n in os.listdir(os.path.join(DIR, "reports")) if n.endswith(".html")]), 2)


class Interrupt(unittest.TestCase):
    def test_ctrl_c_stops_everything(self):
        p = subprocess.Popen([sys.executable, RUN_DEMO, "--cmkd", CMKD, "--dir", DIR], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        seen, twin = [], None
        try:
            for line in p.stdout:
                seen.append(line)
                m = re.search(r"twin running \(pid (\d+)", line)
                if m:
                    twin = int(m.group(1))
                if line.startswith("==> Step 1"):
                    p.send_signal(signal.SIGINT)
                    break
            rest, _ = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        out = "".join(seen) + rest
        self.assertIsNotNone(twin, out)
        self.assertEqual(p.returncode, 130, out)
        self.assertIn("interrupted; stopping what it started", out)
        self.assertFalse(alive(twin), "the twin (pid %d) still runs after Ctrl-C" % twin)


if __name__ == "__main__":
    unittest.main()
