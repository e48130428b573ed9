# SPDX-License-Identifier: MIT
"""Issue 6 end to end: the real daemon's alerts, in a real journald, read back with
journalctl -o json.

The twin serves tests/integration/scenarios/journal-daemon.json. Inside a private mount
namespace with its own systemd-journald (journalns.py), a small driver runs the daemon
for two sweeps, fixes the identity's access through the twin between them, and stops it;
a second run on the same state directory shows that the alert state survives restarts.
Checked: MESSAGE_IDs (matching the catalog), PRIORITY from severity, the CMKD_* fields a
responder filters on, one alert per finding (no repeat within RepeatIntervalSec=), the
resolved notice when a finding clears, update started and succeeded, daemon start/stop,
and that no token the twin issued appears in the journal.
"""

import json
import os
import re
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import journalns  # noqa: E402
from cmkdlib import ROOT, CmkdError, Fixture, cmkd_path  # noqa: E402

CATALOG = os.path.join(ROOT, "systemd", "cmkd.catalog")
SCENARIO = os.path.join(HERE, "scenarios", "journal-daemon.json")
SWEEP_TIMEOUT = 60

# Runs inside the namespace: start cmkd, wait for N "Sweep done" lines on its stderr,
# between sweeps run the twin control given, then SIGTERM and report. Bounded throughout.
DRIVER = r'''
import http.client, json, os, signal, subprocess, sys, time
cmkd, conf, stderr_path, sweeps, controls, port, timeout = json.loads(sys.argv[1])
def control(body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/_twin/control", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    if r.status != 200:
        sys.exit("twin control %%r: %%d %%s" %% (body, r.status, r.read()[:300]))
    c.close()
err = open(stderr_path, "w+")
p = subprocess.Popen([cmkd, "-c", conf], stdout=subprocess.DEVNULL, stderr=err)
def done_count():
    with open(stderr_path) as f:
        return f.read().count("Sweep done")
deadline = time.time() + timeout
for i in range(sweeps):
    while done_count() <= i:
        if p.poll() is not None or time.time() > deadline:
            p.kill()
            sys.exit("cmkd exited or sweep %%d did not finish in time" %% (i + 1))
        time.sleep(0.1)
    for c in controls.get(str(i + 1), []):
        control(c)
# Let the last sweep's alerts and any update finish before stopping.
time.sleep(1.5)
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(10)
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("cmkd did not stop within 10 s of SIGTERM")
sys.exit(rc)
'''


def setUpModule():
    problems = journalns.prerequisites()
    try:
        cmkd_path()
    except CmkdError as e:
        problems.append(str(e))
    if problems:
        raise RuntimeError("test_journal_daemon cannot run:\n  " + "\n  ".join(problems))


def message_ids():
    """name -> MESSAGE_ID, as the code has them (alert-driver --list-ids)."""
    driver = os.path.join(os.environ.get("CMKD_BUILD") or os.path.join(ROOT, "build"), "alert-driver")
    out = subprocess.run([driver, "--list-ids"], capture_output=True, text=True, check=True).stdout
    ids = {}
    for line in out.splitlines():
        mid, name = line.split()
        ids[name] = mid
    return ids


def catalog_ids():
    ids = {}
    with open(CATALOG) as f:
        for line in f:
            m = re.match(r"^-- ([0-9a-f]{32})\s*$", line)
            if m:
                ids[m.group(1)] = True
    return ids


class JournalDaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture(SCENARIO)
        cls.addClassCleanup(cls.fx.close)
        cls.tmp = cls.fx.dir
        cls.conf = cls.fx.write_config({"Daemon": {"PollIntervalSec": "10s", "CacheTTLSec": "0"},
                                        "Policy": {"StaleVersion": "update"},
                                        "Alerts": {"RepeatIntervalSec": "1h"}})
        cls.driver = os.path.join(cls.tmp, "driver.py")
        with open(cls.driver, "w") as f:
            f.write(DRIVER % {})
        cls.journal = journalns.PrivateJournal(catalog=CATALOG)
        cls.journal.__enter__()
        cls.addClassCleanup(cls.journal.__exit__, None, None, None)
        # Run 1: two sweeps; after the first, give uami-r its role: access-revoked clears.
        fix = [{"op": "add_role_assignment", "identity": "uami-r",
                "role": "Key Vault Crypto Service Encryption User", "vault": "kv-main"}]
        cls.run1 = cls.run_daemon(2, {"1": fix}, "run1.stderr")
        cls.entries1 = cls.journal.entries("SYSLOG_IDENTIFIER=cmkd")
        # Run 2, same state directory: nothing new may fire.
        cls.run2 = cls.run_daemon(1, {}, "run2.stderr")
        cls.entries2 = cls.journal.entries("SYSLOG_IDENTIFIER=cmkd")[len(cls.entries1):]

    @classmethod
    def run_daemon(cls, sweeps, controls, stderr_name):
        stderr_path = os.path.join(cls.tmp, stderr_name)
        arg = json.dumps([cls.fx.cmkd, cls.conf, stderr_path, sweeps, controls, cls.fx.twin.http_port,
                          SWEEP_TIMEOUT])
        res = cls.journal.run([sys.executable, cls.driver, arg], timeout=SWEEP_TIMEOUT + 30)
        with open(stderr_path) as f:
            res["cmkd_stderr"] = f.read()
        return res

    def describe(self):
        return "run1 rc=%s stderr:\n%s\ncmkd:\n%s" % (self.run1["rc"], self.run1.get("stderr"),
                                                     self.run1["cmkd_stderr"][-3000:])

    def find(self, entries, **fields):
        return [e for e in entries if all(e.get(k) == v for k, v in fields.items())]

    def test_runs_ended_cleanly(self):
        self.assertEqual(self.run1["rc"], 0, self.describe())
        self.assertEqual(self.run2["rc"], 0, self.run2)

    def test_finding_alert_fields(self):
        hits = self.find(self.entries1, CMKD_FINDING="key-expiring", CMKD_EVENT="fire")
        self.assertEqual(len(hits), 1, "one key-expiring alert in two sweeps (no repeat within 1h):\n%s"
                         % json.dumps(hits, indent=1))
        e = hits[0]
        self.assertEqual(e["PRIORITY"], "2")  # critical: inside the 7-day window
        self.assertEqual(e["CMKD_SEVERITY"], "critical")
        self.assertTrue(e["CMKD_CLUSTER"].endswith("/mongoClusters/j-expiring"), e["CMKD_CLUSTER"])
        self.assertEqual(e["CMKD_SUBSCRIPTION"], "11111111-1111-1111-1111-111111111111")
        self.assertEqual(e["CMKD_KEY_URL"], "https://kv-main.vault.azure.net/keys/soon")
        self.assertIn(e["MESSAGE_ID"], catalog_ids())
        self.assertIn("soon", e["MESSAGE"])

    def test_every_message_id_is_in_the_catalog(self):
        ids = catalog_ids()
        for e in self.entries1 + self.entries2:
            self.assertIn(e.get("MESSAGE_ID"), ids, e)

    def test_resolved_when_fixed(self):
        fired = self.find(self.entries1, CMKD_FINDING="access-revoked", CMKD_EVENT="fire")
        self.assertEqual(len(fired), 1, self.describe())
        self.assertEqual(fired[0]["PRIORITY"], "2")
        resolved = [e for e in self.entries1 if e.get("CMKD_EVENT") == "resolve"
                    and e.get("CMKD_FINDING") == "access-revoked"]
        self.assertEqual(len(resolved), 1, "one resolved notice after the fix:\n%s" % self.describe())
        self.assertEqual(resolved[0]["PRIORITY"], "5")
        self.assertGreater(int(resolved[0]["__REALTIME_TIMESTAMP"]), int(fired[0]["__REALTIME_TIMESTAMP"]))

    def test_update_started_and_succeeded(self):
        started = [e for e in self.entries1 if e.get("CMKD_ALERT") == "update-started"]
        done = [e for e in self.entries1 if e.get("CMKD_ALERT") == "update-succeeded"]
        self.assertEqual(len(started), 1, self.describe())
        self.assertEqual(len(done), 1, self.describe())
        for e in started + done:
            self.assertTrue(e["CMKD_CLUSTER"].endswith("/mongoClusters/j-stale"))

    def test_daemon_start_and_stop(self):
        ids = message_ids()
        got = [e.get("MESSAGE_ID") for e in self.entries1]
        self.assertEqual(got.count(ids["daemon-started"]), 1, ids)
        self.assertEqual(got.count(ids["daemon-stopped"]), 1, ids)

    def test_state_survives_restart(self):
        fired = [e for e in self.entries2 if e.get("CMKD_EVENT") in ("fire", "once")]
        self.assertEqual(fired, [], "a restart must not alert again:\n%s" % json.dumps(fired, indent=1))

    def test_no_token_in_journal(self):
        # The twin's tokens are JWTs: base64url of '{"' starts every one of them.
        text = json.dumps(self.entries1 + self.entries2)
        self.assertNotIn("eyJ", text)
        self.assertNotIn("Bearer ", text)


if __name__ == "__main__":
    unittest.main()
