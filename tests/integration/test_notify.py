# SPDX-License-Identifier: MIT
"""Issue 7: the daemon's sd_notify protocol, as systemd would see it, against the twin.

  make check-notify                 (CMKD=/path/to/cmkd for another binary)

No systemd is started: notifylib.NotifySocket plays the service manager. What is proved:
  - READY=1 comes once the config is loaded and before the first Azure request (its
    kernel send time is earlier than the twin's record of the first request), and also
    when Azure cannot be reached at all;
  - WATCHDOG=1 about every WatchdogSec/2 (median interval, wide tolerance), and none when
    WATCHDOG_PID names another process;
  - SIGHUP: RELOADING=1 with MONOTONIC_USEC= (CLOCK_MONOTONIC at the send) then READY=1,
    and the new config is in force afterwards;
  - a bad config on SIGHUP: RELOADING=1 then READY=1, the reason on stderr, and the old
    config still in force (see test_bad_reload_keeps_old_config for how that is seen);
  - SIGTERM: STOPPING=1 and exit status 0 within 5 s;
  - every message comes from the main process (NotifyAccess=main).

Every wait is bounded and ends early if cmkd exits; a binary that never sends READY=1
fails the first test after READY_TIMEOUT and every later one at once, each saying why.
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture, cmkd_path  # noqa: E402
from notifylib import Daemon, NotifyError, NotifySocket, check_monotonic_usec  # noqa: E402

# What these tests assume of the twin and of cmkd.conf, in one place.
SCENARIO = "notify-healthy"  # a small fleet, all fine
SCENARIO_SLOW_TOKEN = "notify-slow-token"  # the same, slow token endpoint
BAD_KEY = "BogusReloadTestKey"  # in [Daemon]; unknown keys are errors
POLL_FAST = "10s"  # the shortest PollIntervalSec= allowed

READY_TIMEOUT = 15       # start-up until READY=1; config loading only, so generous
STOP_TIMEOUT = 5         # issue 7: exit 0 within 5 s of SIGTERM
AZURE_TIMEOUT = 30       # until the twin sees a given kind of request
WATCHDOG_USEC = 2000000  # pings expected about every second
WATCHDOG_PINGS = 7       # six intervals for the median

_first_ready_failure = None


def setUpModule():
    cmkd_path()


# The twin's request log: a list of dicts with at least "seq", "method", "host", "path"
# (the path may carry the query) and "time" (time.time() at receipt) or "monotonic"
# (time.monotonic() at receipt).
def _field(entry, *names):
    for name in names:
        if name in entry:
            return entry[name]
    raise AssertionError("twin log entry without %s: %r (adjust test_notify.py to the twin's log format)"
                         % ("/".join(names), entry))


def entry_monotonic_usec(entry):
    """When the twin received the request, on CLOCK_MONOTONIC in microseconds."""
    if "monotonic" in entry:
        return int(entry["monotonic"] * 1e6)
    wall = _field(entry, "time")
    return int(wall * 1e6) - (time.clock_gettime_ns(time.CLOCK_REALTIME)
                              - time.clock_gettime_ns(time.CLOCK_MONOTONIC)) // 1000


def is_key_vault(entry):
    host = str(_field(entry, "host")).split(":")[0].lower()
    return host.endswith(".vault.azure.net") or host.endswith(".managedhsm.azure.net")


def is_cluster_list(entry):
    path = str(_field(entry, "path")).split("?")[0].rstrip("/").lower()
    return _field(entry, "method") == "GET" and path.endswith("/providers/microsoft.documentdb/mongoclusters")


class NotifyTest(unittest.TestCase):
    def setUp(self):
        if _first_ready_failure is not None:
            self.fail("not waiting again: an earlier test got no READY=1 from cmkd:\n%s" % _first_ready_failure)
        self.notify = NotifySocket()
        self.addCleanup(self.notify.close)
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.check_senders()

    # --- helpers -------------------------------------------------------------------

    def start_twin(self, scenario, **twin_kw):
        """The twin, in a cmkdlib.Fixture (self.fx) that also holds the config."""
        self.fx = Fixture(scenario, **twin_kw)
        self.addCleanup(self.fx.close)
        return self.fx.twin

    def write_config(self, exclude=None, bad=False):
        """Writes the config for the twin: PollIntervalSec=POLL_FAST, [Discovery] Exclude=
        (None: none) and, if bad, an unknown key. Returns its path."""
        daemon = {"PollIntervalSec": POLL_FAST}
        if bad:
            daemon[BAD_KEY] = "yes"
        return self.fx.write_config({"Daemon": daemon, "Discovery": {"Exclude": exclude}})

    def start(self, **kw):
        self.daemon = Daemon([self.fx.cmkd, "-c", self.fx.config_path], self.notify, **kw)
        self.addCleanup(self.daemon.kill)
        return self.daemon

    def wait_ready(self, since=0):
        global _first_ready_failure
        try:
            return self.notify.wait_for("READY=1", READY_TIMEOUT, since=since, daemon=self.daemon)
        except NotifyError as e:
            if since == 0:
                _first_ready_failure = str(e)
            raise

    def wait_twin(self, twin, what, predicate, since_seq=None, count=1, timeout=AZURE_TIMEOUT):
        """Waits until `count` log entries (after since_seq) satisfy predicate."""
        deadline = time.monotonic() + timeout
        while True:
            entries = [e for e in twin.log() if since_seq is None or _field(e, "seq") > since_seq]
            hits = [e for e in entries if predicate(e)]
            if len(hits) >= count:
                return hits
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.fail("waited for %d %s in the twin's log, saw %d (of %d requests).\n%s"
                          % (count, what, len(hits), len(entries), self.notify.describe(0, self.daemon)))
            time.sleep(0.1)

    def wait_stderr(self, offset, needle, timeout=5):
        """Waits until stderr after offset contains needle; returns that part of stderr."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.daemon.stderr_since(offset)
            if needle in text:
                return text
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                self.fail("%r not on stderr within %gs.\n%s" % (needle, timeout, self.daemon.describe()))
            time.sleep(0.1)

    @staticmethod
    def last_seq(twin):
        return max((_field(e, "seq") for e in twin.log()), default=-1)

    def reload(self, **config):
        """Writes the new config (write_config(**config)), sends SIGHUP, and returns
        (RELOADING msg, READY msg, stderr offset before the signal)."""
        self.write_config(**config)
        since, err_offset = self.notify.count(), self.daemon.stderr_size()
        self.daemon.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", READY_TIMEOUT, since=since, daemon=self.daemon)
        ready = self.notify.wait_for("READY=1", READY_TIMEOUT, since=reloading.seq + 1, daemon=self.daemon)
        check_monotonic_usec(reloading, tolerance_usec=5000000)
        # Nothing may claim readiness between the two.
        between = [m for m in self.notify.messages(reloading.seq + 1) if m.seq < ready.seq and m.has("READY")]
        self.assertEqual(between, [], "READY between RELOADING=1 and the final READY=1")
        return reloading, ready, err_offset

    # --- tests ---------------------------------------------------------------------

    def test_ready_before_first_azure_request(self):
        twin = self.start_twin(SCENARIO_SLOW_TOKEN)
        self.write_config()
        self.start()
        ready = self.wait_ready()
        first = min(self.wait_twin(twin, "request", lambda e: True), key=entry_monotonic_usec)
        first_usec = entry_monotonic_usec(first)
        self.assertLess(ready.sent_usec, first_usec,
                        "READY=1 was sent %.3fs after the twin received cmkd's first request %r: READY "
                        "must not wait for Azure.\n%s" % ((ready.sent_usec - first_usec) / 1e6, first,
                                                           self.notify.describe(0, self.daemon)))
        earlier = [m for m in self.notify.messages() if m.seq < ready.seq and (m.has("STOPPING") or m.has("RELOADING"))]
        self.assertEqual(earlier, [], "STOPPING/RELOADING before the first READY=1")

    def test_ready_when_azure_is_down(self):
        # The twin's addresses, with nobody listening any more: an Azure outage. Its test CA
        # is kept (a CA file that is gone is a config error, not an outage).
        pki = tempfile.mkdtemp(prefix="cmkd-test-notify-pki-")
        self.addCleanup(shutil.rmtree, pki, True)
        twin = self.start_twin(SCENARIO, pki=pki)
        self.write_config()
        twin.stop()
        self.start()
        self.wait_ready()
        # Still up a little later, with its first sweep failed.
        time.sleep(2)
        self.assertIsNone(self.daemon.poll(), "cmkd exited with Azure down.\n" + self.daemon.describe())
        self.daemon.signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING=1", STOP_TIMEOUT, daemon=self.daemon)
        self.assertEqual(self.daemon.wait(STOP_TIMEOUT), 0, self.daemon.describe())

    def test_watchdog_pings_at_half_period(self):
        self.start_twin(SCENARIO)
        self.write_config()
        self.start(watchdog_usec=WATCHDOG_USEC, watchdog_pid="self")
        ready = self.wait_ready()
        self.notify.wait_for("WATCHDOG=1", WATCHDOG_PINGS * WATCHDOG_USEC / 1e6 + 10, since=ready.seq,
                             daemon=self.daemon, count=WATCHDOG_PINGS)
        intervals = self.notify.watchdog_intervals(ready.seq)
        median = self.notify.median_watchdog_interval(ready.seq)
        half = WATCHDOG_USEC / 2e6
        self.assertTrue(0.5 * half <= median <= 1.5 * half,
                        "median interval between WATCHDOG=1 is %.3fs, expected about %.3fs (WATCHDOG_USEC=%d); "
                        "intervals: %s" % (median, half, WATCHDOG_USEC, ["%.3f" % i for i in intervals]))

    def test_watchdog_not_ours(self):
        # WATCHDOG_PID names another process (pid 1 is never cmkd): no pings.
        self.start_twin(SCENARIO)
        self.write_config()
        self.start(watchdog_usec=WATCHDOG_USEC, watchdog_pid=1)
        ready = self.wait_ready()
        time.sleep(1.5 * WATCHDOG_USEC / 1e6)
        pings = [m for m in self.notify.messages(ready.seq) if m.has("WATCHDOG")]
        self.assertEqual(pings, [], "WATCHDOG=1 sent although WATCHDOG_PID=1")

    def test_reload_sequence(self):
        twin = self.start_twin(SCENARIO)
        self.write_config(exclude="*")
        self.start()
        self.wait_ready()
        # Every cluster excluded: listings, but no key is read.
        self.wait_twin(twin, "cluster listings", is_cluster_list, count=2)
        self.assertFalse(any(is_key_vault(e) for e in twin.log()), "a key was read with every cluster excluded")

        seq = self.last_seq(twin)
        self.reload()
        # The new config is in force: keys are read now.
        self.wait_twin(twin, "Key Vault requests after the reload", is_key_vault, since_seq=seq)
        self.assertIsNone(self.daemon.poll())

    def test_reload_during_sweep(self):
        # A reload that arrives mid-sweep waits for the sweep's end, which comes inside a
        # callback of the engine the reload replaces: applying it there freed that engine
        # under its own feet (ASan: heap use-after-free in azure.c). Key Vault answers are
        # slowed so that the signal lands mid-sweep.
        twin = self.start_twin(SCENARIO)
        twin.add_fault(id="slow-kv", service="kv", action="latency", latency_ms=1500)
        self.write_config()
        self.start()
        self.wait_ready()
        self.wait_twin(twin, "a Key Vault request (the sweep is under way)", is_key_vault)
        _, _, err_offset = self.reload()
        self.wait_stderr(err_offset, "Reloaded configuration", timeout=30)
        seq = self.last_seq(twin)
        self.wait_twin(twin, "cluster listings of the next sweep", is_cluster_list, since_seq=seq)
        self.assertIsNone(self.daemon.poll(), "cmkd died after a reload mid-sweep.\n" + self.daemon.describe())

    def test_bad_reload_keeps_old_config(self):
        # How the old config is seen to stay: it excludes every cluster, so cmkd lists
        # clusters but reads no key. The bad config would have cmkd read keys (no
        # exclusion) but carries an unknown key. After the rejected reload, two more
        # listings with no key read show the old config at work; a good reload of the
        # same config without the unknown key then does make cmkd read keys, which shows
        # the observation would have caught it.
        twin = self.start_twin(SCENARIO)
        config = self.write_config(exclude="*")
        self.start()
        self.wait_ready()

        seq = self.last_seq(twin)
        _, _, err_offset = self.reload(bad=True)
        reason = self.wait_stderr(err_offset, BAD_KEY)
        self.assertIn(os.path.basename(config), reason, "the rejected reload's reason does not name the file")
        self.assertIsNone(self.daemon.poll(), "cmkd exited on a bad reload.\n" + self.daemon.describe())

        self.wait_twin(twin, "cluster listings after the bad reload", is_cluster_list, since_seq=seq, count=2)
        read = [e for e in twin.log() if _field(e, "seq") > seq and is_key_vault(e)]
        self.assertEqual(read, [], "keys were read after the bad reload: the rejected config is in force")

        seq = self.last_seq(twin)
        self.reload()
        self.wait_twin(twin, "Key Vault requests after the good reload", is_key_vault, since_seq=seq)

    def test_sigterm_stops_cleanly(self):
        # The slow token endpoint keeps the first request in flight at SIGTERM.
        self.start_twin(SCENARIO_SLOW_TOKEN)
        self.write_config()
        self.start()
        ready = self.wait_ready()
        start = time.monotonic()
        self.daemon.signal(signal.SIGTERM)
        stopping = self.notify.wait_for("STOPPING=1", STOP_TIMEOUT, since=ready.seq, daemon=self.daemon)
        status = self.daemon.wait(max(0.1, STOP_TIMEOUT - (time.monotonic() - start)))
        self.assertEqual(status, 0, "cmkd exited with status %s on SIGTERM.\n%s" % (status, self.daemon.describe()))
        self.assertGreater(stopping.seq, ready.seq)


if __name__ == "__main__":
    unittest.main()
