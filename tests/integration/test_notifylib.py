# SPDX-License-Identifier: MIT
"""notifylib, the fake service manager of test_notify.py, checked against a stub daemon
that speaks sd_notify through the real libsystemd (stubs/notify-stub): messages and
their senders, WATCHDOG_PID as systemd sets it, reload clock checks, and above all that
a program without the protocol fails fast and says why instead of hanging."""

import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from notifylib import Daemon, Message, NotifyError, NotifySocket, check_monotonic_usec  # noqa: E402

STUB = os.path.join(HERE, "stubs", "notify-stub")


class NotifyLibTest(unittest.TestCase):
    def setUp(self):
        self.notify = NotifySocket()
        self.addCleanup(self.notify.close)

    def start(self, mode, **kw):
        d = Daemon([STUB, mode, "-c", "/nonexistent"], self.notify, **kw)
        self.addCleanup(d.kill)
        return d

    def test_full_cycle(self):
        d = self.start("good")
        ready = self.notify.wait_for("READY=1", 10, daemon=d)
        self.assertEqual(ready.pid, d.pid)
        self.assertEqual(ready.fields, [("READY", "1")])
        self.assertLessEqual(ready.sent_usec, ready.recv_usec + 1000)

        since = self.notify.count()
        d.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", 10, since=since, daemon=d)
        self.assertTrue(reloading.has("MONOTONIC_USEC"))
        check_monotonic_usec(reloading, tolerance_usec=5000000)
        self.notify.wait_for("READY=1", 10, since=reloading.seq + 1, daemon=d)

        d.signal(signal.SIGTERM)
        self.notify.wait_for("STOPPING=1", 5, daemon=d)
        self.assertEqual(d.wait(5), 0)
        d.check_senders()
        self.assertIn("notify-stub: reloaded", d.stderr())

    def test_watchdog_pid_self(self):
        # WATCHDOG_PID=$$ through the exec wrapper: libsystemd takes it as ours.
        d = self.start("good", watchdog_usec=200000, watchdog_pid="self")
        ready = self.notify.wait_for("READY=1", 10, daemon=d)
        self.notify.wait_for("WATCHDOG=1", 10, since=ready.seq, daemon=d, count=6)
        median = self.notify.median_watchdog_interval(ready.seq)
        self.assertTrue(0.05 <= median <= 0.15, median)
        self.assertEqual(len(self.notify.watchdog_intervals(ready.seq)), len(
            [m for m in self.notify.messages(ready.seq) if m.has("WATCHDOG=1")]) - 1)
        d.check_senders()

    def test_watchdog_pid_unset_and_other(self):
        d = self.start("good", watchdog_usec=200000, watchdog_pid=None)
        self.notify.wait_for("WATCHDOG=1", 10, daemon=d, count=2)
        self.assertIn("interval 0.1", d.stderr())

        other = NotifySocket()
        self.addCleanup(other.close)
        d2 = Daemon([STUB, "good"], other, watchdog_usec=200000, watchdog_pid=1)
        self.addCleanup(d2.kill)
        other.wait_for("READY=1", 10, daemon=d2)
        self.assertIn("interval None", d2.stderr())

    def test_silent_daemon_times_out_with_details(self):
        d = self.start("silent")
        start = time.monotonic()
        with self.assertRaises(NotifyError) as cm:
            self.notify.wait_for("READY=1", 1, daemon=d)
        self.assertLess(time.monotonic() - start, 3)
        text = str(cm.exception)
        self.assertIn("no message within 1s carried READY=1", text)
        self.assertIn("Notify messages received: none", text)
        self.assertIn("still running", text)
        with self.assertRaises(NotifyError) as cm:
            d.wait(0.5)
        self.assertIn("did not exit within 0.5s", str(cm.exception))

    def test_exiting_daemon_fails_fast(self):
        d = self.start("exit")
        start = time.monotonic()
        with self.assertRaises(NotifyError) as cm:
            self.notify.wait_for("READY=1", 60, daemon=d)
        self.assertLess(time.monotonic() - start, 10)
        text = str(cm.exception)
        self.assertIn("exited with status 3 before READY=1", text)
        self.assertIn("cmkd: not yet usable", text)

    def test_wrong_clock_is_caught(self):
        d = self.start("wrong-clock")
        self.notify.wait_for("READY=1", 10, daemon=d)
        d.signal(signal.SIGHUP)
        reloading = self.notify.wait_for("RELOADING=1", 10, daemon=d)
        with self.assertRaises(NotifyError) as cm:
            check_monotonic_usec(reloading, tolerance_usec=5000000)
        self.assertIn("after the message was sent", str(cm.exception))

    def test_child_sender_is_caught(self):
        d = self.start("child")
        ready = self.notify.wait_for("READY=1", 10, daemon=d)
        self.assertNotEqual(ready.pid, d.pid)
        with self.assertRaises(NotifyError) as cm:
            d.check_senders()
        self.assertIn("not sent by the main process", str(cm.exception))

    def test_message_parsing(self):
        m = Message(0, b"RELOADING=1\nMONOTONIC_USEC=123\nSTATUS=a=b\nBARE", 42, 1000, 900)
        self.assertTrue(m.has("RELOADING=1"))
        self.assertFalse(m.has("RELOADING=0"))
        self.assertTrue(m.has("MONOTONIC_USEC"))
        self.assertEqual(m.get("STATUS"), "a=b")
        self.assertTrue(m.has("BARE"))
        self.assertIsNone(m.get("BARE"))
        self.assertEqual(check_monotonic_usec(Message(0, b"MONOTONIC_USEC=900", 1, 1000, 900), 100), 900)
        for raw, sent in ((b"MONOTONIC_USEC=abc", 900), (b"X=1", 900), (b"MONOTONIC_USEC=1", 10000000)):
            with self.assertRaises(NotifyError):
                check_monotonic_usec(Message(0, raw, 1, sent, sent), 5000000)


if __name__ == "__main__":
    unittest.main()
