# SPDX-License-Identifier: MIT
"""Issue 8 ("Prove it holds"): crash safety. kill -9 at random points of sweeps and
updates, a bounded and seeded loop; then corrupt and truncated state files.

The loop (CRASH_ITERATIONS, default 25; CRASH_SEED, default 8): three clusters pinned to
key1 in kv-a (c-stale, c-s2, c-s3), StaleVersion=update. Each iteration rotates key1, so
all three are stale with a new target, starts the daemon, and kills it with SIGKILL at a
random moment of one phase, taking the phases in turn:
  listing        list pages held 300 ms at the twin, killed while one is
  key reads      Key Vault answers held 200 ms, killed while one is
  record, no PUT two requests at a time, PUTs held 600 ms: the three records are on disk
                 before the third PUT can leave; killed then
  operation      killed while the operation is polled (LROs take 2 s)
  verification   killed while the cluster is read after its operation (held 300 ms)
The moment within the phase is random (0-250 ms after the phase is seen at the twin).
Then the daemon is started again on the same state directory and runs until every
cluster is on the new version with no operation running and no record left, and is
stopped (SIGTERM). After each iteration: exactly one PUT per cluster for the target (the
twin's log), every cluster on it, no operation record, the audit log whole, and every
update that started has a terminal line (succeeded, or failed NotSent for a request that
never left, which a later sweep sent).

Between two iterations, once, a torn line is appended to the audit log (a crash in the
middle of a write): the next entry must come after a newline cmkd adds, so the torn line
stays one bad line and nothing else is lost (audit.c).

Corrupt state files (alerts.json, operations/op-*.json, update-holds.json), garbage or cut
short: each is set aside with an error naming it, cmkd keeps running, and the file comes
back (rewritten) when cmkd next has something to keep in it.

  make check-faults          (CMKD=/path/to/cmkd for another binary)
"""

import copy
import json
import os
import random
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture, cluster_path_re, describe_log, merge_sections, requests, settled_log  # noqa: E402
from faultlib import NETWORK, SCENARIO, STALL_RE, UPDATE, current_kid  # noqa: E402

ITERATIONS = int(os.environ.get("CRASH_ITERATIONS", "25"))
SEED = int(os.environ.get("CRASH_SEED", "8"))
STALE = ("c-stale", "c-s2", "c-s3")
PHASES = ("listing", "key reads", "record, no PUT", "operation", "verification")
DAEMON = {"Daemon": {"PollIntervalSec": "10s"}, "Network": {"MaxConcurrentRequests": "2"}}
OP_STATUS_RE = r"/mongoClusterAzureAsyncOperation/"
HOLD = [
    {"id": "hold-list", "action": "latency", "latency_ms": 300, "service": "arm", "method": "GET",
     "path": "*/mongoClusters"},
    {"id": "hold-kv", "action": "latency", "latency_ms": 200, "service": "kv"},
    {"id": "hold-put", "action": "latency", "latency_ms": 600, "service": "arm", "method": "PUT"},
    {"id": "hold-read", "action": "latency", "latency_ms": 300, "service": "arm", "method": "GET",
     "path": "*/mongoClusters/c-*"},
]
FIGURES = []


def tearDownModule():
    if FIGURES:
        sys.stderr.write("\ntest_crash figures: %s\n" % ", ".join("%s %s" % f for f in FIGURES))


def crash_scenario():
    """faults.json with two more clusters pinned to key1 (versions 0 and 1), LROs of 2 s."""
    with open(SCENARIO) as f:
        sc = json.load(f)
    sc["settings"]["lro_delay_s"] = 2
    base = next(c for c in sc["clusters"] if c["name"] == "c-stale")
    for name, version in (("c-s2", 1), ("c-s3", 0)):
        c = copy.deepcopy(base)
        c["name"] = name
        c["cmk"]["version"] = version
        sc["clusters"].append(c)
    return sc


def audit_lines(path):
    """The audit log's lines: (text, entry or None when it does not parse)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        data = f.read()
    for line in data.split("\n")[:-1] if data.endswith("\n") else data.split("\n"):
        try:
            out.append((line, json.loads(line)))
        except ValueError:
            out.append((line, None))
    return data, out


class CrashLoopTest(unittest.TestCase):
    def setUp(self):
        self.fx = Fixture(crash_scenario(), merge_sections(UPDATE, NETWORK))
        self.addCleanup(self.fx.close)
        self.tw = self.fx.twin
        self.ids = {n: self.tw.cluster(n)["id"] for n in STALE}
        self.rng = random.Random(SEED)

    # --- the kill ------------------------------------------------------------------------

    def phase_seen(self, phase, since):
        """True once the phase is under way (from the twin's log and the state directory)."""
        if phase == "record, no PUT":
            return len(self.fx.operation_records()) == len(STALE)
        log = self.tw.log(since)
        if phase == "listing":
            return any(e["path"].endswith("/mongoClusters") for e in log) or self.fired_since("hold-list")
        if phase == "key reads":
            return self.fired_since("hold-kv")
        if phase == "operation":
            return any(re.search(OP_STATUS_RE, e["path"]) for e in log)
        if phase == "verification":
            return self.fired_since("hold-read")
        raise AssertionError(phase)

    def fired_since(self, fid):
        for f in self.tw.state()["faults"]:
            if f["id"] == fid:
                return f["fired"] > self.fired_at_start.get(fid, 0)
        return False

    def kill_in_phase(self, d, phase, since):
        deadline = time.monotonic() + 40
        while not self.phase_seen(phase, since):
            self.assertIsNone(d.poll(), "cmkd exited before %s:\n%s" % (phase, d.stderr))
            self.assertLess(time.monotonic(), deadline, "phase %s never came:\n%s\n%s"
                            % (phase, describe_log(self.tw.log(since)), d.stderr))
            time.sleep(0.01)
        time.sleep(self.rng.uniform(0, 0.25))
        self.assertEqual(d.kill(), -9, "cmkd was still running when killed")
        self.assertEqual(STALL_RE.findall(d.stderr), [])

    # --- convergence and the checks ------------------------------------------------------------

    def converged(self, target):
        for n in STALE:
            c = self.tw.cluster(n)
            if c["cmk"]["key_url"] != target or c["operation"] is not None or c["provisioningState"] != "Succeeded":
                return False
        if self.fx.operation_records():
            return False
        return self.audit_terminal(target, quiet=True)

    def audit_terminal(self, target, quiet=False):
        """Every started update of the target has a terminal line after it; exactly one
        succeeded per cluster."""
        _, lines = audit_lines(os.path.join(self.fx.state_dir, "audit.log"))
        for n in STALE:
            trail = [e for _, e in lines if e and e["cluster"] == self.ids[n] and e["new_key_url"] == target]
            results = [e["result"] for e in trail]
            ok = results.count("succeeded") == 1 and results[-1] == "succeeded"
            opened = 0
            for r in results:
                if r == "started":
                    opened += 1
                elif r in ("succeeded", "failed"):
                    opened = max(0, opened - 1)
            ok = ok and opened == 0
            fails = [(e["result"], e["error_code"]) for e in trail if e["result"] == "failed"]
            ok = ok and all(code == "NotSent" for _, code in fails)
            if not ok:
                if quiet:
                    return False
                self.fail("audit trail of %s for %s: %s" % (n, target, [(e["result"], e["error_code"]) for e in trail]))
        return True

    def check_iteration(self, target, since):
        log = settled_log(self.tw, since)
        for n in STALE:
            puts = [e for e in requests(log, ("PUT", "PATCH"), cluster_path_re(n)) if e["status"] != 0]
            to_target = [e for e in puts if json.dumps(e["body"]).find(target) >= 0]
            self.assertEqual(len(to_target), 1, "%s: PUTs for %s:\n%s" % (n, target, describe_log(log, 200)))
            self.assertEqual(len(puts), 1, describe_log(log, 200))
            self.assertEqual(self.tw.cluster(n)["cmk"]["key_url"], target)
        self.assertEqual(self.fx.operation_records(), [])
        self.audit_terminal(target)
        data, lines = audit_lines(os.path.join(self.fx.state_dir, "audit.log"))
        self.assertTrue(data.endswith("\n"), "the audit log ends in a newline")
        bad = [t for t, e in lines if e is None]
        self.assertLessEqual(len(bad), 1 if self.torn else 0, bad)
        if self.torn:
            self.assertEqual(bad, [self.torn], "only the torn line is bad, and whole on its own line")

    def test_kill9_loop(self):
        self.torn = None
        phases_hit = {p: 0 for p in PHASES}
        restarts_seconds = []
        for i in range(ITERATIONS):
            phase = PHASES[i % len(PHASES)]
            self.tw.faults(*HOLD)
            self.fired_at_start = {f["id"]: f["fired"] for f in self.tw.state()["faults"]}
            since = self.tw.health()["log_seq"]
            target = self.tw.control("rotate_key", vault="kv-a", key="key1")["kid"]
            d = self.fx.daemon(sections=DAEMON)
            self.kill_in_phase(d, phase, since)
            phases_hit[phase] += 1
            # The restart: the same config and state directory, no faults but the holds.
            t0 = time.monotonic()
            d2 = self.fx.daemon(sections=DAEMON)
            self.fx.wait_until(lambda: self.converged(target), 60, "iteration %d (%s): all on %s" % (i, phase, target),
                               d2)
            restarts_seconds.append(time.monotonic() - t0)
            self.assertEqual(d2.stop(), 0, d2.stderr)
            self.assertEqual(STALL_RE.findall(d2.stderr), [], d2.stderr)
            self.check_iteration(target, since)
            if i == 1:
                # A crash in the middle of an audit append: a line without its end.
                self.torn = '{"time":"2026-11-23T06:00:00Z","cluster":"/subscriptions/x/torn'
                with open(os.path.join(self.fx.state_dir, "audit.log"), "a") as f:
                    f.write(self.torn)
        self.assertEqual(self.fx.operation_records(), [])
        FIGURES.append(("iterations", ITERATIONS))
        FIGURES.append(("seed", SEED))
        FIGURES.append(("kills per phase", phases_hit))
        FIGURES.append(("restart to converged s median/max", "%.1f/%.1f" % (sorted(restarts_seconds)[len(restarts_seconds) // 2],
                                                                             max(restarts_seconds))))
        _, lines = audit_lines(os.path.join(self.fx.state_dir, "audit.log"))
        FIGURES.append(("audit lines", len(lines)))
        FIGURES.append(("resumed", len([e for _, e in lines if e and e["result"] == "resumed"])))
        FIGURES.append(("never sent, sent later", len([e for _, e in lines if e and e["error_code"] == "NotSent"])))


class CorruptStateTest(unittest.TestCase):
    GARBAGE = b'{"version":1,"entries":[{"kind":"finding" \x00\xff garbage'

    def setUp(self):
        self.fx = Fixture(SCENARIO, merge_sections(UPDATE, NETWORK))
        self.addCleanup(self.fx.close)
        self.tw = self.fx.twin

    def records(self):
        """Operation records (op-*.json), not the files set aside beside them."""
        return [n for n in self.fx.operation_records() if n.endswith(".json")]

    def path(self, *parts):
        return os.path.join(self.fx.state_dir, *parts)

    def set_aside(self, name, directory=None):
        d = directory or self.fx.state_dir
        return sorted(n for n in os.listdir(d) if n.startswith(name + ".corrupt-"))

    def first_state(self, extra=None):
        """One daemon run to a finished sweep: alerts.json exists; c-stale updated."""
        d = self.fx.daemon(sections=merge_sections({"Daemon": {"PollIntervalSec": "10s"}}, extra))
        d.wait_for(r"Sweep done", 30)
        return d

    def check_alerts_file(self, content):
        d = self.first_state()
        d.wait_for(r"now uses ", 30)
        self.assertEqual(d.stop(), 0)
        good = self.path("alerts.json")
        with open(good) as f:
            json.load(f)
        with open(good, "wb") as f:
            f.write(content)
        d = self.fx.daemon(sections={"Daemon": {"PollIntervalSec": "10s"}})
        line = d.wait_for(r"alert state was unreadable and is set aside", 20)[0]
        aside = self.set_aside("alerts.json")
        self.assertEqual(len(aside), 1, os.listdir(self.fx.state_dir))
        self.assertIn(self.path(aside[0]), line)
        d.wait_for(r"Sweep done", 30)
        time.sleep(0.3)
        self.assertIsNone(d.poll(), "cmkd keeps running")
        with open(good) as f:
            doc = json.load(f)  # rebuilt after the sweep
        self.assertTrue(doc)
        self.assertEqual(d.stop(), 0)
        with open(self.path(aside[0]), "rb") as f:
            self.assertEqual(f.read(), content, "set aside as it was, for a human to look at")

    def test_alerts_garbage(self):
        self.check_alerts_file(self.GARBAGE)

    def test_alerts_truncated(self):
        d = self.first_state()
        self.assertEqual(d.stop(), 0)
        with open(self.path("alerts.json"), "rb") as f:
            whole = f.read()
        self.assertGreater(len(whole), 20)
        self.check_alerts_file(whole[:len(whole) // 2])

    def test_operation_record_truncated(self):
        # A record of an operation in flight, cut in half (a disk that lost its tail).
        self.tw.faults({"id": "never", "action": "lro_never", "method": "PUT"})
        d = self.first_state()
        self.fx.wait_until(lambda: self.fx.operation_records(), 20, "the record", d)
        self.fx.wait_until(lambda: requests(self.tw.log(), "GET", OP_STATUS_RE), 20, "a poll", d)
        self.assertEqual(d.stop(), 0)
        recs = self.fx.operation_records()
        self.assertEqual(len(recs), 1)
        rec = self.path("operations", recs[0])
        with open(rec, "rb") as f:
            whole = f.read()
        json.loads(whole)
        with open(rec, "wb") as f:
            f.write(whole[:len(whole) // 2])
        # Azure finishes the operation while cmkd is down.
        self.tw.clear_faults()
        self.tw.control("finish_operations", force=True, outcome="Succeeded")
        d = self.fx.daemon(sections={"Daemon": {"PollIntervalSec": "10s"}})
        line = d.wait_for(r"Operation record .* is unreadable", 20)[0]
        self.assertIn(rec, line)
        d.wait_for(r"Sweep done", 30)
        self.assertIsNone(d.poll(), "cmkd keeps running")
        self.assertFalse(os.path.exists(rec))
        self.assertEqual(len(self.set_aside(recs[0], self.path("operations"))), 1)
        # The cluster is on its new key: nothing is sent again.
        self.assertEqual([e for e in settled_log(self.tw) if e["method"] == "PUT"][1:], [])
        # A new rotation: a new update, with its own record written and removed.
        since = self.tw.health()["log_seq"]
        target = self.tw.control("rotate_key", vault="kv-a", key="key1")["kid"]
        self.assertEqual(d.stop(), 0)
        d = self.fx.daemon(sections={"Daemon": {"PollIntervalSec": "10s"}})
        d.wait_for(r"now uses " + re.escape(target), 30)
        self.fx.wait_until(lambda: not self.records(), 10, "the record removed", d)
        self.assertEqual(len([e for e in settled_log(self.tw, since) if e["method"] == "PUT"]), 1)
        self.assertEqual(d.stop(), 0)

    def test_operation_record_garbage(self):
        os.makedirs(self.path("operations"), 0o700)
        rec = self.path("operations", "op-00000000deadbeef.json")
        with open(rec, "wb") as f:
            f.write(self.GARBAGE)
        d = self.first_state()
        self.assertIn(rec, d.wait_for(r"Operation record .* is unreadable", 20)[0])
        d.wait_for(r"now uses ", 30)
        self.assertIsNone(d.poll())
        self.fx.wait_until(lambda: not self.records(), 10, "the record removed", d)
        self.assertEqual(len(self.set_aside("op-00000000deadbeef.json", self.path("operations"))), 1)
        self.assertEqual(d.stop(), 0)

    def check_holds_file(self, content):
        os.makedirs(self.fx.state_dir, 0o700)
        holds = self.path("update-holds.json")
        with open(holds, "wb") as f:
            f.write(content)
        # The update fails at Azure: a hold must be written again, to a good file.
        self.tw.faults({"id": "fail", "action": "lro_fail", "method": "PUT"})
        d = self.first_state()
        line = d.wait_for(r"update-holds\.json.*set aside as", 20)[0]
        self.assertIn(holds, line)
        d.wait_for(r"Updating cluster .* failed", 30)
        time.sleep(0.3)
        self.assertIsNone(d.poll(), "cmkd keeps running")
        with open(holds) as f:
            doc = json.load(f)
        self.assertEqual([h["cluster"] for h in doc["holds"]], [self.tw.cluster("c-stale")["id"]])
        self.assertEqual(len(self.set_aside("update-holds.json")), 1)
        self.assertEqual(d.stop(), 0)

    def test_holds_garbage(self):
        self.check_holds_file(self.GARBAGE)

    def test_holds_truncated(self):
        whole = json.dumps({"version": 1, "holds": [{"cluster": "/subscriptions/x/resourceGroups/y/providers/"
                                                                "Microsoft.DocumentDB/mongoClusters/z",
                                                     "target": "https://kv-a.vault.azure.net/keys/key1/abc",
                                                     "failures": 1, "retry_at": 1, "error": "", "error_code": ""}]})
        self.check_holds_file(whole[:len(whole) // 2].encode())


if __name__ == "__main__":
    unittest.main()
