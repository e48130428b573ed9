# SPDX-License-Identifier: MIT
"""Issue 6, the daemon's periodic outputs, end to end against the twin:
  - the Prometheus textfile is rewritten after every sweep (node_exporter's textfile
    collector convention): every finding code x severity, clusters, sweeps, requests,
    429s, the time of the last good sweep;
  - STATUS= (what `systemctl status cmkd` shows): last sweep, clusters, findings, next sweep;
  - the scheduled report ([Report] Schedule=, driven by an ev_periodic) is written on time
    into [Report] Directory=, atomically, in JSON, CSV and HTML, and pruned to Keep=.
The schedule is "hourly :MM" for the next whole minute, so the test waits at most about
two minutes; every wait is bounded and ends early if cmkd exits.
"""

import datetime
import glob
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "twin"))

import twinlib  # noqa: E402
from notifylib import Daemon, NotifySocket  # noqa: E402

CMKD = os.environ.get("CMKD") or os.path.join(ROOT, "build", "cmkd")
SCENARIO = os.path.join(HERE, "scenarios", "journal-daemon.json")
CODES = 27  # finding codes (policy.h)


def read_metrics(path):
    samples = {}
    with open(path) as f:
        text = f.read()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return text, samples


class DaemonOutputsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="cmkd-test-outputs-")
        cls.twin = twinlib.Twin(SCENARIO)
        cls.twin.__enter__()
        cls.reports = os.path.join(cls.tmp, "reports")
        cls.metrics = os.path.join(cls.tmp, "metrics", "cmkd.prom")
        os.makedirs(os.path.dirname(cls.metrics))
        now = datetime.datetime.now(datetime.timezone.utc)
        # The next whole minute, with at least 15 s to start and sweep first.
        at = (now + datetime.timedelta(seconds=75)).replace(second=0, microsecond=0)
        cls.report_at = at.timestamp()
        conf = cls.twin.cmkd_config() + (
            "\n[Daemon]\nStateDirectory=%s\nPollIntervalSec=10s\n"
            "[Report]\nDirectory=%s\nSchedule=hourly :%02d\nKeep=2\n"
            "[Metrics]\nTextfilePath=%s\n" % (os.path.join(cls.tmp, "state"), cls.reports, at.minute, cls.metrics))
        cls.conf = os.path.join(cls.tmp, "cmkd.conf")
        with open(cls.conf, "w") as f:
            f.write(conf)
        os.chmod(cls.conf, 0o600)
        cls.notify = NotifySocket()
        cls.daemon = Daemon([CMKD, "-c", cls.conf], cls.notify)
        cls.started = time.time()

    @classmethod
    def tearDownClass(cls):
        if cls.daemon.poll() is None:
            cls.daemon.signal(signal.SIGTERM)
            cls.daemon.wait(10)
        cls.daemon.__exit__(None, None, None)
        cls.notify.close()
        cls.twin.__exit__(None, None, None)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def wait_until(self, what, predicate, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.daemon.poll() is not None:
                self.fail("cmkd exited while waiting for %s.\n%s" % (what, self.daemon.describe()))
            got = predicate()
            if got:
                return got
            time.sleep(0.2)
        self.fail("timed out after %ds waiting for %s.\n%s" % (timeout, what, self.daemon.describe()))

    def sweeps_done(self):
        return self.daemon.stderr().count("Sweep done")

    def test_1_metrics_after_each_sweep(self):
        self.wait_until("the first sweep", lambda: self.sweeps_done() >= 1, 30)
        self.wait_until("the metrics file", lambda: os.path.exists(self.metrics), 10)
        text, m = read_metrics(self.metrics)
        self.assertIn("# TYPE cmkd_findings gauge", text)
        findings = [k for k in m if k.startswith("cmkd_findings{")]
        self.assertEqual(len(findings), CODES * 3, "every code x severity, zeros included")
        self.assertEqual(m['cmkd_findings{code="key-expiring",severity="critical"}'], 1)
        self.assertEqual(m['cmkd_findings{code="access-revoked",severity="critical"}'], 1)
        self.assertEqual(m['cmkd_findings{code="key-disabled",severity="critical"}'], 0)
        self.assertEqual(m["cmkd_clusters"], 4)
        self.assertGreaterEqual(m["cmkd_last_successful_sweep_timestamp_seconds"], int(self.started))
        self.assertIn("cmkd_throttled_total", m)
        self.assertGreater(m["cmkd_requests_total"], 0)
        first_sweeps = m["cmkd_sweeps_total"]
        first_requests = m["cmkd_requests_total"]
        # Rewritten after the next sweep: the counters grow.
        self.wait_until("the second sweep", lambda: self.sweeps_done() >= 2, 30)
        time.sleep(0.5)
        _, m2 = read_metrics(self.metrics)
        self.assertEqual(m2["cmkd_sweeps_total"], first_sweeps + 1)
        self.assertGreater(m2["cmkd_requests_total"], first_requests)
        # Written atomically: no temp file left beside it.
        self.assertEqual(os.listdir(os.path.dirname(self.metrics)), ["cmkd.prom"])

    def test_2_status_line(self):
        msg = self.notify.wait_for("READY=1", 15, daemon=self.daemon)
        self.assertIsNotNone(msg)
        self.wait_until("a sweep", lambda: self.sweeps_done() >= 1, 30)
        status = self.wait_until(
            "STATUS= after a sweep",
            lambda: [m.get("STATUS") for m in self.notify.messages() if (m.get("STATUS") or "").startswith("Last sweep")],
            10)[-1]
        self.assertRegex(status, r"^Last sweep \d\d:\d\d UTC: 4 clusters, \d+ critical, \d+ warning; next in ")

    def test_3_scheduled_report(self):
        wait = max(0, self.report_at - time.time()) + 45
        files = self.wait_until("the scheduled report (due %s)" % time.strftime("%H:%M:%S", time.gmtime(self.report_at)),
                                lambda: sorted(glob.glob(os.path.join(self.reports, "cmkd-report-*"))), wait)
        # Let the three formats all land.
        time.sleep(1)
        files = sorted(os.path.basename(f) for f in glob.glob(os.path.join(self.reports, "cmkd-report-*")))
        exts = sorted(f.rsplit(".", 1)[1] for f in files)
        self.assertEqual(exts, ["csv", "html", "json"], files)
        stamp = re.match(r"cmkd-report-(\d{8}T\d{6}Z)\.json", [f for f in files if f.endswith(".json")][0]).group(1)
        written = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        self.assertGreaterEqual(written, self.report_at, "written before its schedule")
        for latest in ("latest.json", "latest.csv", "latest.html"):
            self.assertTrue(os.path.exists(os.path.join(self.reports, latest)), latest)
        with open(os.path.join(self.reports, "latest.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema_version"], 1)
        self.assertEqual(len(doc["clusters"]), 4)
        # No temp files: every file was renamed into place.
        self.assertEqual([f for f in os.listdir(self.reports) if f.startswith(".")], [])

    def test_4_sigterm(self):
        self.daemon.signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(10), 0, self.daemon.describe())


if __name__ == "__main__":
    unittest.main()
