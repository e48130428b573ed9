# SPDX-License-Identifier: MIT
"""Alerts through a real systemd-journald, read back with `journalctl -o json`.

journald runs in a private mount namespace (journalns.py). The alerts come from
build/alert-driver, which does what cmkd does after a sweep (load the alert state, decide,
send, save) for a fake sweep and a fake clock; the scenario with every expected journal
entry is data: data/journal-scenario.json.

The runner is a parameter: CMKD_JOURNAL_RUNNER=module:Class names a class with the
interface of DriverRunner (for example one that runs `cmkd --once` against the twin); the
default runs the driver. Needs root (mount namespace). Run: make check-tell.
"""

import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import journalns  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("CMKD_BUILD", os.path.join(TOP, "build"))
DRIVER = os.path.join(BUILD, "alert-driver")
CATALOG = os.path.join(TOP, "systemd", "cmkd.catalog")
SCENARIO = os.path.join(HERE, "data", "journal-scenario.json")


def message_ids():
    """name → MESSAGE_ID, from the code's own table."""
    out = subprocess.run([DRIVER, "--list-ids"], check=True, capture_output=True, text=True).stdout
    return {name: mid for mid, name in (line.split() for line in out.splitlines())}


class DriverRunner:
    """Makes the journal entries of one step: argv (and env) to run inside the namespace."""

    def __init__(self, workdir, repeat_sec):
        self.workdir = workdir
        self.repeat_sec = repeat_sec

    def step(self, state_dir, sweep_name, sweep, now):
        path = os.path.join(self.workdir, f"{sweep_name}.json")
        with open(path, "w") as f:
            json.dump(sweep, f)
        return [DRIVER, "--state-dir", state_dir, "--now", now, "--repeat-sec", str(self.repeat_sec), path], {}


def make_runner(workdir, repeat_sec):
    spec = os.environ.get("CMKD_JOURNAL_RUNNER")
    if not spec:
        return DriverRunner(workdir, repeat_sec)
    module, _, cls = spec.partition(":")
    return getattr(importlib.import_module(module), cls)(workdir, repeat_sec)


class JournalAlerts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise RuntimeError(f"{DRIVER} is not built: run `make check-tell`")
        problems = journalns.prerequisites()
        if problems:
            raise RuntimeError("the journald test cannot run here: " + "; ".join(problems))
        with open(SCENARIO) as f:
            cls.scenario = json.load(f)
        cls.ids = message_ids()
        cls.tmp = tempfile.mkdtemp(prefix="cmkd-journal-")
        cls.started = time.monotonic()
        cls.journal = journalns.PrivateJournal(catalog=CATALOG)
        cls.journal.start()

    @classmethod
    def tearDownClass(cls):
        cls.journal.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        print(f"\n[journald harness: {time.monotonic() - cls.started:.1f}s including journald start and stop]",
              file=sys.stderr)

    def state_dir(self, name):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        return d

    def run_step(self, runner, state_dir, step):
        argv, env = runner.step(state_dir, step["sweep"], self.scenario["sweeps"][step["sweep"]], step["now"])
        res = self.journal.run(argv, env=env)
        self.assertEqual(res["rc"], 0, f"{step['name']}: {argv} failed: {res['stderr']}")
        # Only what this run sent: journald records the sender's PID with every entry.
        return res, self.journal.entries(f"_PID={res['pid']}")

    def assert_entries(self, step, entries):
        expect = step["expect"]
        names = [f"{e.get('CMKD_EVENT')} {e.get('CMKD_ALERT')} {e.get('CMKD_FINDING', '')}" for e in entries]
        self.assertEqual(len(entries), len(expect), f"{step['name']}: got {names}")
        unmatched = list(entries)
        for want in expect:
            fields = {k: v for k, v in want.items() if k != "message_id"}
            fields["MESSAGE_ID"] = self.ids[want["message_id"]]
            hits = [e for e in unmatched if all(e.get(k) == v for k, v in fields.items())]
            if len(hits) != 1:
                near = [e for e in unmatched if e.get("CMKD_ALERT") == want.get("CMKD_ALERT")]
                self.fail(f"{step['name']}: {len(hits)} entries match {fields}; candidates: "
                          + json.dumps([{k: v for k, v in e.items() if k.startswith(("CMKD_", "PRIORITY",
                                        "MESSAGE"))} for e in near], indent=1))
            unmatched.remove(hits[0])
        for e in entries:
            self.assertEqual(e.get("SYSLOG_IDENTIFIER"), "cmkd")
            self.assertTrue(e.get("MESSAGE"), "every alert has a MESSAGE")
            for k, v in e.items():
                if k.startswith("CMKD_") or k == "MESSAGE":
                    self.assertNotIn("Bearer ", str(v), "never a token")

    def test_alert_hygiene(self):
        """Fire once, quiet within the interval, repeat after it, resolve once; across
        separate processes, so the dedup state survives restarts."""
        runner = make_runner(self.tmp, self.scenario["repeat_sec"])
        state = self.state_dir("hygiene")
        for step in self.scenario["steps"]:
            with self.subTest(step=step["name"]):
                _, entries = self.run_step(runner, state, step)
                self.assert_entries(step, entries)

    def test_outage_is_one_alert(self):
        """Azure unreachable: one sweep-failed alert, no per-cluster noise, nothing resolved;
        when it is back, only that alert resolves."""
        runner = make_runner(self.tmp, self.scenario["repeat_sec"])
        state = self.state_dir("outage")
        for step in self.scenario["outage_steps"]:
            with self.subTest(step=step["name"]):
                _, entries = self.run_step(runner, state, step)
                if "expect_count" in step:
                    self.assertEqual(len(entries), step["expect_count"])
                else:
                    self.assert_entries(step, entries)

    def test_journalctl_x_explains(self):
        """The catalog is installed in the namespace: `journalctl -x` shows, under the alert,
        what it means and what to do, with the alert's own fields filled in."""
        runner = make_runner(self.tmp, self.scenario["repeat_sec"])
        step = self.scenario["steps"][0]
        res, entries = self.run_step(runner, self.state_dir("catalog"), step)
        self.assertTrue(entries)
        out = self.journal.journalctl("-x", "-o", "short", f"_PID={res['pid']}",
                                      f"MESSAGE_ID={self.ids['finding:key-expired']}")
        self.assertEqual(out["rc"], 0, out["stderr"])
        text = out["stdout"]
        self.assertIn("Subject: Key of cluster prod-eu-1 has expired", text)
        self.assertIn("Defined-By: cmkd", text)
        self.assertIn("What to do", text)
        self.assertIn("--name data --version 3f2a", text)

    def test_corrupt_state_is_rebuilt(self):
        """A damaged state file is set aside, the run goes on and alerts afresh."""
        runner = make_runner(self.tmp, self.scenario["repeat_sec"])
        state = self.state_dir("corrupt")
        with open(os.path.join(state, "alerts.json"), "w") as f:
            f.write('{"version":1,"alerts":[{"kind":"finding"')
        step = self.scenario["steps"][0]
        res, entries = self.run_step(runner, state, step)
        self.assertIn("set aside", res["stderr"])
        self.assertEqual(len(entries), len(step["expect"]))
        self.assertEqual(len([n for n in os.listdir(state) if n.startswith("alerts.json.corrupt-")]), 1)
        with open(os.path.join(state, "alerts.json")) as f:
            self.assertEqual(json.load(f)["version"], 1)


class Catalog(unittest.TestCase):
    def test_journalctl_accepts_catalog(self):
        """journalctl itself parses the catalog (in a scratch root, no effect on the host),
        and lists exactly the MESSAGE_IDs of the code."""
        if not shutil.which("journalctl") or not os.access(DRIVER, os.X_OK):
            raise RuntimeError("journalctl and build/alert-driver are needed: run `make check-tell`")
        with tempfile.TemporaryDirectory(prefix="cmkd-catalog-") as root:
            dest = os.path.join(root, "usr", "lib", "systemd", "catalog")
            os.makedirs(dest)
            shutil.copy(CATALOG, dest)
            upd = subprocess.run(["journalctl", f"--root={root}", "--update-catalog"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual((upd.returncode, upd.stderr), (0, ""))
            self.assertTrue(os.path.exists(os.path.join(root, "var", "lib", "systemd", "catalog", "database")))
            lst = subprocess.run(["journalctl", f"--root={root}", "--list-catalog"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(lst.returncode, 0, lst.stderr)
            listed = {}
            for line in lst.stdout.splitlines():
                mid, _, rest = line.partition(" ")
                listed[mid] = rest
            self.assertEqual(set(listed), set(message_ids().values()))
            for mid, rest in listed.items():
                self.assertTrue(rest.startswith("cmkd: "), f"{mid}: {rest}")

            # And a broken catalog is refused by the same check: the test can fail. (An id
            # cut short leaves its header lines without an entry.)
            with open(CATALOG) as f:
                text = f.read()
            first = text.index("\n-- ") + 4
            with open(os.path.join(dest, "cmkd.catalog"), "w") as f:
                f.write(text[:first + 8] + text[first + 32:])
            bad = subprocess.run(["journalctl", f"--root={root}", "--update-catalog"],
                                 capture_output=True, text=True, timeout=30)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("cmkd.catalog", bad.stderr)


if __name__ == "__main__":
    unittest.main()
