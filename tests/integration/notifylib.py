# SPDX-License-Identifier: MIT
"""The service manager's side of sd_notify(3), for tests: no systemd is started.

NotifySocket binds an AF_UNIX datagram socket in a temporary directory and collects
every datagram in a background thread, with the sender's pid (SCM_CREDENTIALS), the
kernel's send timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME) and the CLOCK_MONOTONIC time of
receipt. Daemon starts a program with NOTIFY_SOCKET (and optionally WATCHDOG_USEC and
WATCHDOG_PID) set as systemd would, its stdout and stderr going to files.

Waiting is always bounded, and stops early when the daemon exits, so a program that does
not speak the protocol fails quickly with what it did send and what it printed.

WATCHDOG_PID: systemd sets it to the main pid, known only after fork. Daemon(...,
watchdog_pid="self") starts the program through '/bin/sh -c' that exports its own pid
($$) and then execs the program, which keeps the pid: exactly systemd's environment.
watchdog_pid=None leaves it unset, which sd_watchdog_enabled() (systemd 252) takes as
"for whichever process reads it"; an integer sets it to that pid (not ours: no pings).
"""

import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import tempfile
import threading
import time

from cmkdlib import clean_env

# Linux, asm-generic values (x86-64, arm64): the socket module does not export them.
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
_UCRED = struct.Struct("3i")
_TIMESPEC = struct.Struct("qq")


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def realtime_usec():
    return time.clock_gettime_ns(time.CLOCK_REALTIME) // 1000


class NotifyError(AssertionError):
    """A protocol expectation that did not hold. An AssertionError, so unittest reports
    a failure (with this text), not an error."""


class Message:
    """One datagram. fields: the assignments in order, as (key, value) pairs."""

    def __init__(self, seq, raw, pid, recv_usec, sent_usec):
        self.seq = seq              # 0, 1, 2, ... in order of receipt
        self.raw = raw              # bytes as received
        self.pid = pid              # sender pid from SCM_CREDENTIALS, or None
        self.recv_usec = recv_usec  # CLOCK_MONOTONIC when our thread read it
        # CLOCK_MONOTONIC when the sender sent it: the kernel's realtime stamp taken at
        # send, moved to the monotonic clock with both clocks read at receipt. Not
        # delayed by our thread's scheduling.
        self.sent_usec = sent_usec
        text = raw.decode("utf-8", "replace")
        self.fields = [tuple(line.split("=", 1)) if "=" in line else (line, None)
                       for line in text.split("\n") if line]

    def get(self, key):
        """The last value assigned to key, or None."""
        value = None
        for k, v in self.fields:
            if k == key:
                value = v
        return value

    def has(self, assignment):
        """True for "KEY=VALUE" if that exact assignment is in the message, and for
        "KEY" if the key is assigned at all."""
        if "=" in assignment:
            key, value = assignment.split("=", 1)
            return (key, value) in self.fields
        return any(k == assignment for k, _ in self.fields)

    def __repr__(self):
        return "#%d pid=%s +%.3fs %r" % (self.seq, self.pid, self.recv_usec / 1e6, self.raw.decode("utf-8", "replace"))


class NotifySocket:
    """The fake $NOTIFY_SOCKET. Use as a context manager; close() removes the directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cmkd-notify-")
        self.path = os.path.join(self.dir, "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._sock.bind(self.path)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.settimeout(0.1)
        self._cond = threading.Condition()
        self._messages = []
        self._stop = False
        self._thread = threading.Thread(target=self._collect, name="notify-collector", daemon=True)
        self._thread.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self._stop = True
        self._thread.join(5)
        self._sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _collect(self):
        ancbuf = socket.CMSG_SPACE(_UCRED.size) + socket.CMSG_SPACE(_TIMESPEC.size)
        while not self._stop:
            try:
                raw, anc, _flags, _addr = self._sock.recvmsg(65536, ancbuf)
            except socket.timeout:
                continue
            except OSError:
                return
            recv_mono, recv_real = monotonic_usec(), realtime_usec()
            pid, sent = None, recv_mono
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = _UCRED.unpack(data[:_UCRED.size])[0]
                elif level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS:
                    sec, nsec = _TIMESPEC.unpack(data[:_TIMESPEC.size])
                    sent = recv_mono - (recv_real - (sec * 1000000 + nsec // 1000))
            with self._cond:
                self._messages.append(Message(len(self._messages), raw, pid, recv_mono, sent))
                self._cond.notify_all()

    def env(self, watchdog_usec=None):
        """NOTIFY_SOCKET, and WATCHDOG_USEC when given, as a dict of strings."""
        env = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog_usec))
        return env

    def messages(self, since=0):
        """A copy of the messages received so far, from index since."""
        with self._cond:
            return list(self._messages[since:])

    def count(self):
        with self._cond:
            return len(self._messages)

    def wait_for(self, assignment, timeout, since=0, daemon=None, count=1):
        """Waits until `count` messages from index `since` on carry `assignment`
        ("READY=1", or a bare key) and returns the last of them. Raises NotifyError after
        `timeout` seconds, or as soon as `daemon` has exited, with everything received
        and the daemon's stderr."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [m for m in self._messages[since:] if m.has(assignment)]
                if len(found) >= count:
                    return found[count - 1]
                exited = daemon is not None and daemon.poll() is not None
                left = deadline - time.monotonic()
                if exited or left <= 0:
                    break
                self._cond.wait(min(left, 0.1))
        if exited:
            # A last message may have been sent just before the exit.
            time.sleep(0.2)
            found = [m for m in self.messages(since) if m.has(assignment)]
            if len(found) >= count:
                return found[count - 1]
            why = "the daemon exited with status %s before" % daemon.poll()
        else:
            why = "no message within %gs carried" % timeout
        raise NotifyError("%s %s%s.\n%s" % (
            why, assignment, "" if count == 1 else " %d times (got %d)" % (count, len(found)),
            self.describe(since, daemon)))

    def describe(self, since=0, daemon=None):
        """What was received (and what the daemon printed), for failure messages."""
        msgs = self.messages(since)
        text = "Notify messages received%s: %s" % (
            "" if since == 0 else " since #%d" % since,
            "none" if not msgs else "\n  " + "\n  ".join(map(repr, msgs)))
        if daemon is not None:
            text += "\n" + daemon.describe()
        return text

    def watchdog_intervals(self, since=0):
        """Seconds between consecutive WATCHDOG=1 messages (kernel send times)."""
        pings = [m.sent_usec for m in self.messages(since) if m.has("WATCHDOG=1")]
        return [(b - a) / 1e6 for a, b in zip(pings, pings[1:])]

    def median_watchdog_interval(self, since=0):
        intervals = self.watchdog_intervals(since)
        if not intervals:
            raise NotifyError("fewer than two WATCHDOG=1 messages.\n" + self.describe(since))
        return statistics.median(intervals)


def check_monotonic_usec(msg, tolerance_usec, slack_usec=50000):
    """MONOTONIC_USEC= of msg must be CLOCK_MONOTONIC as the sender read it just before
    sending: not after the send (beyond slack_usec for the clock conversion) and not more
    than tolerance_usec before it. Returns the value; raises NotifyError otherwise."""
    value = msg.get("MONOTONIC_USEC")
    if value is None or not value.isdigit():
        raise NotifyError("MONOTONIC_USEC= missing or not a number in %r" % msg)
    value = int(value)
    if value > msg.sent_usec + slack_usec:
        raise NotifyError("MONOTONIC_USEC=%d is %.3fs after the message was sent (CLOCK_MONOTONIC %d): "
                          "not CLOCK_MONOTONIC in microseconds? %r"
                          % (value, (value - msg.sent_usec) / 1e6, msg.sent_usec, msg))
    if msg.sent_usec - value > tolerance_usec:
        raise NotifyError("MONOTONIC_USEC=%d is %.3fs before the message was sent (limit %.3fs): "
                          "a stale or wrong clock? %r"
                          % (value, (msg.sent_usec - value) / 1e6, tolerance_usec / 1e6, msg))
    return value


class Daemon:
    """A program started the way systemd starts a Type=notify service: NOTIFY_SOCKET set,
    optionally WATCHDOG_USEC/WATCHDOG_PID, stdin from /dev/null, stdout and stderr to
    files in the notify socket's directory. Use as a context manager: leaving it kills
    the program if it still runs (SIGKILL, bounded wait)."""

    def __init__(self, argv, notify, env=None, watchdog_usec=None, watchdog_pid="self"):
        self.argv = list(argv)
        self.notify = notify
        full_env = clean_env(env)  # none of systemd's variables from our environment
        full_env.update(notify.env(watchdog_usec))
        if watchdog_usec is not None and watchdog_pid is not None and watchdog_pid != "self":
            full_env["WATCHDOG_PID"] = str(int(watchdog_pid))
        argv = self.argv
        if watchdog_usec is not None and watchdog_pid == "self":
            # $$ is the shell's pid, which exec hands to the program.
            argv = ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$0" "$@"'] + argv
        n = len([f for f in os.listdir(notify.dir) if f.startswith("stderr")])
        self.stdout_path = os.path.join(notify.dir, "stdout.%d" % n)
        self.stderr_path = os.path.join(notify.dir, "stderr.%d" % n)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=full_env, close_fds=True)
        self.pid = self.proc.pid

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()

    def poll(self):
        return self.proc.poll()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        """Exit status within timeout seconds, or NotifyError (the program keeps running)."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise NotifyError("the daemon did not exit within %gs.\n%s"
                              % (timeout, self.notify.describe(0, self))) from None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_size(self):
        return os.path.getsize(self.stderr_path)

    def stderr_since(self, offset):
        with open(self.stderr_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def describe(self, tail_bytes=4000):
        status = self.proc.poll()
        err = self.stderr()
        if len(err) > tail_bytes:
            err = "...\n" + err[-tail_bytes:]
        return "Daemon %s (pid %d): %s.\nIts stderr:\n%s" % (
            " ".join(self.argv), self.pid,
            "still running" if status is None else "exited with status %s" % status,
            err.rstrip() or "(empty)")

    def check_senders(self):
        """Every message came from the main process (NotifyAccess=main)."""
        strangers = [m for m in self.notify.messages() if m.pid != self.pid]
        if strangers:
            raise NotifyError("messages not sent by the main process %d (NotifyAccess=main would drop them): %s"
                              % (self.pid, strangers))
