# SPDX-License-Identifier: MIT
"""Runs cmkd against the twin, for integration tests. Standard library only.

    from cmkdlib import Fixture
    with Fixture("tests/integration/scenarios/update-basic.json") as fx:
        fx.write_config(Policy={"StaleVersion": "update"})
        run = fx.once()                       # cmkd --once --json -c FILE
        run.returncode, run.json, run.stderr, run.log    # log: the twin's requests of this run
        d = fx.daemon()                       # cmkd -c FILE, stderr collected
        d.wait_for(r"now uses", timeout=30)
        d.kill()                              # SIGKILL; d.stop() is SIGTERM and wait

A Fixture owns a twin (tests/twin/twinlib.Twin), a temporary directory with the config
(mode 0600) and a state directory, and every cmkd it starts (killed on close). Every wait
is bounded and ends early when the process exits; a timeout raises CmkdError with what
the process printed.

Environment: CMKD = the binary (default build/cmkd of the repository); TWIN_DIR = the
twin's directory (default tests/twin). The environment systemd would set for a service
(NOTIFY_SOCKET, STATE_DIRECTORY, JOURNAL_STREAM...) is removed from cmkd's.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TWIN_DIR = os.environ.get("TWIN_DIR") or os.path.join(ROOT, "tests", "twin")
if TWIN_DIR not in sys.path:
    sys.path.insert(0, TWIN_DIR)

import twinlib  # noqa: E402

CMKD = os.environ.get("CMKD") or os.path.join(ROOT, "build", "cmkd")
ONCE_TIMEOUT = 120.0  # one --once, including the updates it waits for

# What systemd sets for a service; none of it may leak from the test's environment.
_SERVICE_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
                "JOURNAL_STREAM", "INVOCATION_ID", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY",
                "RUNTIME_DIRECTORY", "CACHE_DIRECTORY", "LOGS_DIRECTORY", "CONFIGURATION_DIRECTORY")

WRITE_METHODS = ("PUT", "PATCH", "POST", "DELETE")
# A report of AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer (SAN=1 builds):
# always a failure, whatever the exit status.
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error: |SUMMARY: \w+Sanitizer")


class CmkdError(AssertionError):
    """cmkd did not do what a helper waited for. An AssertionError, so unittest reports a
    failure with this text."""


def check_binary(path=None):
    """Raises CmkdError unless the cmkd binary exists and is executable."""
    path = path or CMKD
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise CmkdError("CMKD=%s is not an executable file: run 'make' or set CMKD" % path)
    return path


def check_sanitizers(stderr, what):
    """Raises CmkdError if stderr holds a sanitizer report."""
    m = SANITIZER_RE.search(stderr or "")
    if m:
        start = max(0, m.start() - 2000)
        raise CmkdError("%s: sanitizer report:\n%s" % (what, stderr[start:start + 8000]))


def cmkd_env():
    env = {k: v for k, v in os.environ.items() if k not in _SERVICE_ENV}
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


# --- the twin's request log ----------------------------------------------------------

def is_write(entry):
    return entry.get("method") in WRITE_METHODS


def is_cmkd(entry):
    return str(entry.get("user_agent") or "").startswith("cmkd/")


def requests(log, method=None, path_re=None, service=None, cmkd_only=True):
    """The entries of log with that method (a string or a tuple), whose path matches the
    regular expression path_re (re.search), of that service ("arm", "kv", "imds"...)."""
    out = []
    for e in log:
        if cmkd_only and not is_cmkd(e):
            continue
        if method is not None and e.get("method") not in ((method,) if isinstance(method, str) else method):
            continue
        if service is not None and e.get("service") != service:
            continue
        if path_re is not None and not re.search(path_re, e.get("path") or ""):
            continue
        out.append(e)
    return out


def writes(log, path_re=None, cmkd_only=True):
    """PUT, PATCH, POST and DELETE requests (optionally to paths matching path_re)."""
    return requests(log, WRITE_METHODS, path_re, cmkd_only=cmkd_only)


def cluster_path_re(name):
    """A regular expression for the ARM path of the mongoCluster named name (exactly)."""
    return r"/providers/Microsoft\.DocumentDB/mongoClusters/%s$" % re.escape(name)


def describe_log(log, limit=60):
    lines = []
    for e in log[-limit:]:
        lines.append("  #%s %s %s %s%s -> %s" % (e.get("seq"), e.get("method"), e.get("host"), e.get("path"),
                                              "?" + "&".join("%s=%s" % kv for kv in (e.get("query") or {}).items())
                                              if e.get("query") else "", e.get("status")))
    return "\n".join(lines)


# --- audit log -----------------------------------------------------------------------

def read_audit(state_dir):
    """The audit log's entries (dicts), in order; [] when there is none yet."""
    path = os.path.join(state_dir, "audit.log")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# --- a --once run ----------------------------------------------------------------------

class Run:
    """One finished `cmkd --once`: returncode, stdout, stderr, json (parsed stdout, or None
    when stdout is not JSON), log (the twin's requests during the run), seconds."""

    def __init__(self, args, returncode, stdout, stderr, log, seconds):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.log = log
        self.seconds = seconds
        try:
            self.json = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            self.json = None

    def cluster(self, name):
        """The JSON entry of the cluster named name."""
        if self.json is None:
            raise CmkdError("cmkd printed no JSON:\n%s" % self.describe())
        for c in self.json.get("clusters", []):
            if c.get("name") == name:
                return c
        raise CmkdError("cluster %s is not in cmkd's output:\n%s" % (name, self.describe()))

    def action(self, name):
        return self.cluster(name).get("action")

    def writes(self, path_re=None):
        return writes(self.log, path_re)

    def describe(self):
        return ("cmkd %s exited %s after %.1fs\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s\n--- twin log (tail)\n%s"
                % (" ".join(self.args), self.returncode, self.seconds, self.stdout[-3000:], self.stderr[-4000:],
                   describe_log(self.log)))


# --- the daemon ------------------------------------------------------------------------

class Daemon:
    """A running `cmkd -c FILE`. Its stderr is collected by a thread (lines()); stdout goes
    to a file."""

    def __init__(self, args, cwd, log_path):
        self.args = list(args)
        self._lines = []
        self._cond = threading.Condition()
        self._stdout = open(log_path + ".stdout", "wb")
        self.proc = subprocess.Popen(self.args, cwd=cwd, env=cmkd_env(), stdin=subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def lines(self):
        with self._cond:
            return list(self._lines)

    def stderr(self):
        return "\n".join(self.lines())

    def poll(self):
        return self.proc.poll()

    def wait_for(self, pattern, timeout, since=0):
        """Waits until a stderr line (index >= since) matches the regular expression;
        returns (index, match). Raises CmkdError on timeout or if cmkd exits first."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(since, len(self._lines)):
                    m = rx.search(self._lines[i])
                    if m:
                        return i, m
                since = max(since, len(self._lines))
                left = deadline - time.monotonic()
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise CmkdError("cmkd exited with status %s before printing /%s/:\n%s"
                                    % (self.proc.returncode, pattern, "\n".join(self._lines[-60:])))
                if left <= 0:
                    raise CmkdError("cmkd printed no line matching /%s/ within %.0f s:\n%s"
                                    % (pattern, timeout, "\n".join(self._lines[-60:])))
                self._cond.wait(min(left, 0.2))

    def count(self, pattern):
        rx = re.compile(pattern)
        return sum(1 for line in self.lines() if rx.search(line))

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL (kill -9) and reap; returns the exit status (-9 when it was running)."""
        self.signal(signal.SIGKILL)
        return self.wait(10)

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit status. Raises CmkdError if it does not exit."""
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise CmkdError("cmkd (pid %d) did not exit within %.0f s:\n%s"
                            % (self.pid, timeout, "\n".join(self.lines()[-40:])))
        self._reader.join(5)
        check_sanitizers(self.stderr(), "cmkd (pid %d)" % self.pid)
        return code

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self._stdout.close()


# --- the fixture -----------------------------------------------------------------------

class Fixture:
    """A twin, a temporary directory (config, state directory) and the cmkd processes
    started from it. scenario: a path or a dict; twin_kw go to twinlib.Twin."""

    def __init__(self, scenario, cmkd=None, **twin_kw):
        self.cmkd = check_binary(cmkd)
        self.tmp = tempfile.mkdtemp(prefix="cmkd-it-")
        self.state_dir = os.path.join(self.tmp, "state")
        self.config_path = os.path.join(self.tmp, "cmkd.conf")
        self._daemons = []
        try:
            self.twin = twinlib.Twin(scenario, **twin_kw)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for d in self._daemons:
            d.close()
        self._daemons = []
        try:
            self.twin.stop()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # config

    def config_text(self, **sections):
        """The twin's cmkd config (twinlib.Twin.cmkd_config) with [Daemon] StateDirectory=
        set to the fixture's state directory, then sections merged over it (dicts of
        key -> value; a list value repeats the key; None drops it)."""
        merged = {"Daemon": {"StateDirectory": self.state_dir}}
        for sec, keys in sections.items():
            merged.setdefault(sec, {}).update(keys or {})
        return self.twin.cmkd_config(**merged)

    def write_config(self, text=None, **sections):
        """Writes the config (text, or config_text(**sections)) with mode 0600, atomically.
        Returns its path."""
        if text is None:
            text = self.config_text(**sections)
        tmp = self.config_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.config_path)
        return self.config_path

    # runs

    def once(self, *extra, json_output=True, timeout=ONCE_TIMEOUT, clear_log=True):
        """Runs `cmkd --once [--json] EXTRA... -c CONFIG` to its end. The twin's log is
        cleared first (clear_log), so Run.log holds this run's requests only."""
        if not os.path.exists(self.config_path):
            self.write_config()
        if clear_log:
            self.twin.clear_log()
        args = [self.cmkd, "--once"] + (["--json"] if json_output else []) + list(extra) + ["-c", self.config_path]
        t0 = time.monotonic()
        try:
            p = subprocess.run(args, cwd=self.tmp, env=cmkd_env(), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise CmkdError("cmkd --once did not finish within %.0f s\n--- stderr (tail)\n%s"
                            % (timeout, (e.stderr or b"").decode("utf-8", "replace")[-4000:]))
        seconds = time.monotonic() - t0
        run = Run(args, p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
                  self.twin.log(), seconds)
        check_sanitizers(run.stderr, "cmkd --once")
        return run

    def daemon(self, *extra):
        """Starts `cmkd EXTRA... -c CONFIG` (the daemon). Killed on close()."""
        if not os.path.exists(self.config_path):
            self.write_config()
        d = Daemon([self.cmkd] + list(extra) + ["-c", self.config_path], self.tmp,
                   os.path.join(self.tmp, "daemon-%d" % len(self._daemons)))
        self._daemons.append(d)
        return d

    # state

    def audit(self):
        return read_audit(self.state_dir)

    def operation_records(self):
        """Names of the files in StateDirectory/operations/ (sorted)."""
        try:
            return sorted(os.listdir(os.path.join(self.state_dir, "operations")))
        except FileNotFoundError:
            return []

    def wait_twin(self, predicate, timeout, what, daemon=None, interval=0.05):
        """Polls the twin's log until predicate(log) is true; returns the log. Stops early
        if daemon exits."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.twin.log()
            if predicate(log):
                return log
            if daemon is not None and daemon.poll() is not None:
                raise CmkdError("cmkd exited with status %s while waiting for %s:\n%s\n--- twin log\n%s"
                                % (daemon.poll(), what, daemon.stderr()[-4000:], describe_log(log)))
            if time.monotonic() > deadline:
                raise CmkdError("waited %.0f s for %s\n--- twin log\n%s%s"
                                % (timeout, what, describe_log(log),
                                   "\n--- cmkd stderr\n" + daemon.stderr()[-4000:] if daemon else ""))
            time.sleep(interval)

    def wait_until(self, predicate, timeout, what, daemon=None, interval=0.05):
        """Polls predicate() until it returns a true value, which is returned."""
        deadline = time.monotonic() + timeout
        while True:
            v = predicate()
            if v:
                return v
            if daemon is not None and daemon.poll() is not None:
                raise CmkdError("cmkd exited with status %s while waiting for %s:\n%s"
                                % (daemon.poll(), what, daemon.stderr()[-4000:]))
            if time.monotonic() > deadline:
                raise CmkdError("waited %.0f s for %s%s" % (timeout, what,
                                                          "\n--- cmkd stderr\n" + daemon.stderr()[-4000:]
                                                          if daemon else ""))
            time.sleep(interval)
