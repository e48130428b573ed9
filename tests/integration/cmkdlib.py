# SPDX-License-Identifier: MIT
"""Runs cmkd against the twin, for the integration tests. Python 3 standard library only.

    from cmkdlib import Fixture, requests, settled_log
    with Fixture("findings", sections={"Policy": {"StaleVersion": "update"}}) as fx:
        fx.twin.control("disable_key", vault="kv-a", key="k1")
        run = fx.once("--dry-run")          # cmkd --once --json --dry-run -c CONFIG
        run.returncode, run.json, run.stderr, run.log   # log: the twin's requests of this run
        run.cluster("c-stale")["findings"]
        with fx.daemon(sections={"Daemon": {"PollIntervalSec": "10s"}}) as d:
            d.wait_for(r"Sweep done", timeout=30)
            log = settled_log(fx.twin)      # the twin logs a request just after answering it
        d.code                              # after the with block: SIGTERM, bounded wait

A Fixture owns a twin (tests/twin/twinlib.Twin), a temporary directory with the config
(mode 0600) and the state directory, and every cmkd daemon it started (killed on close).
Each once() and daemon() writes the config afresh: the twin's (Twin.cmkd_config: auth,
subscriptions, CA, connect-to) with [Daemon] StateDirectory=, then the fixture's sections,
then the call's, merged key by key; a value None drops a key the twin would set (e.g.
{"Azure": {"Subscriptions": None}} for "every visible subscription").

The binary: $CMKD (relative to the repository root), else build/cmkd. What systemd sets for
a service (NOTIFY_SOCKET, STATE_DIRECTORY, WATCHDOG_*, ...) is removed from cmkd's
environment. A missing binary or twin is a failure with a message, never a skip. Every
wait is bounded and ends early when cmkd exits; what went wrong raises CmkdError with what
cmkd printed. A sanitizer report (SAN=1 builds) on cmkd's stderr is always a failure.
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
SCENARIOS = os.path.join(HERE, "scenarios")
sys.path.insert(0, os.path.join(ROOT, "tests", "twin"))

import twinlib  # noqa: E402

ONCE_TIMEOUT = 120  # seconds for one `cmkd --once`, including the updates it follows
STOP_TIMEOUT = 10   # seconds from SIGTERM to exit

WRITE_METHODS = ("PUT", "PATCH", "POST", "DELETE")
# What systemd sets for a service; none of it may leak in from the test's environment.
SERVICE_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
               "JOURNAL_STREAM", "INVOCATION_ID", "CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "RUNTIME_DIRECTORY",
               "CACHE_DIRECTORY", "LOGS_DIRECTORY", "CONFIGURATION_DIRECTORY")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error: |SUMMARY: \w+Sanitizer")


class CmkdError(AssertionError):
    """cmkd could not be run, did not do in time what a helper waited for, printed what
    cannot be parsed, or a sanitizer reported an error. An AssertionError, so unittest
    reports a failure with this text."""


def cmkd_path():
    """The cmkd binary under test: $CMKD (a relative path from the repository root), else
    build/cmkd. Raises CmkdError when it is not an executable file."""
    p = os.environ.get("CMKD") or os.path.join(ROOT, "build", "cmkd")
    if not os.path.isabs(p):
        p = os.path.join(ROOT, p)
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise CmkdError("cmkd binary %s is missing or not executable: run 'make' first, or set CMKD=" % p)
    return p


def clean_env(extra=None):
    """The test's environment without what systemd sets for a service, LC_ALL=C.UTF-8
    unless set, and extra (a dict) over it."""
    # Proxies of the machine running the tests must not carry loopback requests (test_proxy
    # sets its own through extra).
    env = {k: v for k, v in os.environ.items()
           if k not in SERVICE_ENV and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.setdefault("LC_ALL", "C.UTF-8")
    env.update(extra or {})
    return env


def check_sanitizers(stderr, what):
    """Raises CmkdError if stderr holds a report of AddressSanitizer, LeakSanitizer or
    UndefinedBehaviorSanitizer, whatever the exit status was."""
    m = SANITIZER_RE.search(stderr or "")
    if m:
        start = max(0, m.start() - 2000)
        raise CmkdError("%s: sanitizer report:\n%s" % (what, stderr[start:start + 8000]))


def scenario_path(name):
    """A scenario under tests/integration/scenarios/ by bare name ("healthy"), or a path
    (relative ones from the repository root)."""
    if os.sep in name or name.endswith(".json"):
        return os.path.join(ROOT, name)
    return os.path.join(SCENARIOS, name + ".json")


def merge_sections(*dicts):
    """Merges {section: {key: value}} dicts (None counts as empty), later ones winning per key."""
    out = {}
    for d in dicts:
        for sec, keys in (d or {}).items():
            out.setdefault(sec, {}).update(keys or {})
    return out


# --- the twin's request log ------------------------------------------------------------------

def settled_log(twin, since=0, quiet=0.1, timeout=5.0):
    """The twin's request log (entries after seq since) once it has not grown for `quiet`
    seconds, or after `timeout`. The twin records a request just after it has sent the
    answer, so a client that is done may be a moment ahead of the log: read it this way
    whenever cmkd has just finished something."""
    deadline = time.monotonic() + timeout
    last = twin.health()["log_seq"]
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = twin.health()["log_seq"]
        if now == last:
            break
        last = now
    return twin.log(since)


def requests(log, method=None, path_re=None, host=None, path=None, service=None, status=None):
    """The entries of a twin request log that match every criterion given: method (a string
    or a tuple of them), path_re (regular expression, searched), host and path (exact), service
    ("arm", "kv", "imds", ...), status. Host and path compare case-insensitively, as Azure's do."""
    methods = (method,) if isinstance(method, str) else method
    rx = re.compile(path_re, re.I) if path_re else None
    out = []
    for e in log:
        if methods and e["method"] not in methods:
            continue
        if host and e["host"].lower() != host.lower():
            continue
        if path and e["path"].lower() != path.lower():
            continue
        if rx and not rx.search(e["path"]):
            continue
        if service and e.get("service") != service:
            continue
        if status is not None and e["status"] != status:
            continue
        out.append(e)
    return out


def writes(log, path_re=None):
    """PUT, PATCH, POST and DELETE requests (optionally to paths matching path_re)."""
    return requests(log, WRITE_METHODS, path_re)


def cluster_path_re(name):
    """A regular expression for the ARM path of the mongoCluster named name (exactly)."""
    return r"/providers/Microsoft\.DocumentDB/mongoClusters/%s$" % re.escape(name)


def describe_log(log, limit=60):
    """The last `limit` entries of a twin log, one line each, for failure messages."""
    lines = []
    for e in log[-limit:]:
        query = "&".join("%s=%s" % kv for kv in (e.get("query") or {}).items())
        extra = "".join(" [%s %s]" % (k, e[k]) for k in ("fault", "transport") if e.get(k))
        lines.append("  #%s %s %s %s%s -> %s%s" % (e.get("seq"), e.get("method"), e.get("host"), e.get("path"),
                                                "?" + query if query else "", e.get("status"), extra))
    return "\n".join(lines)


# --- cmkd's output ---------------------------------------------------------------------------

def read_metrics(path):
    """The samples of a Prometheus textfile cmkd wrote ([Metrics] TextfilePath=), as
    {'name{labels}': float}; None when the file is not there yet. cmkd replaces it
    atomically, so a read sees one whole sweep's file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def finding_set(cluster):
    """{"code:severity", ...} of one cluster object of --once --json."""
    return {"%s:%s" % (f["code"], f["severity"]) for f in cluster["findings"]}


class Run:
    """One finished `cmkd --once`: returncode, stdout, stderr, json (the parsed document of
    --json, else None), log (the twin's requests during the run), args, seconds."""

    def __init__(self, args, returncode, stdout, stderr, log, seconds, json_output):
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr
        self.log, self.seconds = log, seconds
        self.json = None
        if json_output:
            try:
                self.json = json.loads(stdout)
            except ValueError as e:
                raise CmkdError("cmkd --once --json printed no JSON (%s)\n%s" % (e, self.describe()))

    def clusters(self):
        """{name: cluster object} of the JSON document (names must be unique)."""
        out = {}
        for c in self.json["clusters"]:
            if c["name"] in out:
                raise CmkdError("cluster name %s appears twice in the output" % c["name"])
            out[c["name"]] = c
        return out

    def cluster(self, name):
        """The JSON object of the cluster named name."""
        c = self.clusters().get(name)
        if c is None:
            raise CmkdError("cluster %s is not in cmkd's output:\n%s" % (name, self.describe()))
        return c

    def action(self, name):
        return self.cluster(name)["action"]

    def writes(self, path_re=None):
        return writes(self.log, path_re)

    def describe(self):
        return ("%s exited %s after %.1fs\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s\n--- twin log (tail)\n%s"
                % (" ".join(self.args), self.returncode, self.seconds, self.stdout[-3000:], self.stderr[-4000:],
                   describe_log(self.log)))


# --- the daemon ------------------------------------------------------------------------------

class Daemon:
    """A running `cmkd -c FILE`. Its stderr is collected by a thread (lines(), stderr);
    stdout is dropped. As a context manager, leaving stops it (or kills it, when leaving
    on an exception)."""

    def __init__(self, argv, cwd=None):
        self.argv = list(argv)
        self.code = None
        self._lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(self.argv, cwd=cwd, env=clean_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.stop()
        else:
            self.close()

    @property
    def stderr(self):
        with self._cond:
            return "\n".join(self._lines)

    def lines(self, pattern=None):
        """The stderr lines so far (those matching the regular expression pattern)."""
        rx = re.compile(pattern) if pattern else None
        with self._cond:
            return [x for x in self._lines if rx is None or rx.search(x)]

    def wait_for(self, pattern, timeout, count=1, since=0):
        """Waits until `count` stderr lines (from line index since) match the regular
        expression pattern; returns them. Raises CmkdError if cmkd exits first or the time
        runs out."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [x for x in self._lines[since:] if rx.search(x)]
                if len(found) >= count:
                    return found
                if self.proc.poll() is not None and not self._reader.is_alive():
                    why = "cmkd exited with status %s before" % self.proc.returncode
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    why = "waited %.0f s for" % timeout
                    break
                self._cond.wait(min(left, 0.2))
            raise CmkdError("%s %d line(s) matching /%s/ (saw %d); stderr (tail):\n%s"
                            % (why, count, pattern, len(found), "\n".join(self._lines[-60:])))

    def poll(self):
        return self.proc.poll()

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, and its exit status within timeout seconds. Raises CmkdError if it does
        not exit in time (then it is killed)."""
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise CmkdError("cmkd (pid %d) did not exit within %.0f s of SIGTERM; stderr (tail):\n%s"
                            % (self.pid, timeout, "\n".join(self.lines()[-40:])))
        return self._reap()

    def kill(self):
        """SIGKILL (kill -9); returns the exit status (-9 when it was running)."""
        self.signal(signal.SIGKILL)
        self.proc.wait(10)
        return self._reap()

    def _reap(self):
        self.code = self.proc.returncode
        self._reader.join(5)
        check_sanitizers(self.stderr, "cmkd (pid %d)" % self.pid)
        return self.code

    def close(self):
        """Kills it if it still runs; releases its pipe. No checks: for clean-up."""
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        self._reader.join(5)
        self.proc.stderr.close()


# --- the fixture -----------------------------------------------------------------------------

class Fixture:
    """A twin started from scenario (bare name under scenarios/, path, or dict), a private
    temporary directory (dir) with the config (config_path) and the state directory
    (state_dir), and the daemons started from it. sections: config sections merged over the
    twin's in every config written; twin_kw go to twinlib.Twin. Use as a context manager."""

    def __init__(self, scenario, sections=None, **twin_kw):
        self.cmkd = cmkd_path()
        if isinstance(scenario, str):
            scenario = scenario_path(scenario)
        self.sections = sections or {}
        self.dir = tempfile.mkdtemp(prefix="cmkd-it-")
        self.state_dir = os.path.join(self.dir, "state")
        self.config_path = os.path.join(self.dir, "cmkd.conf")
        self._daemons = []
        try:
            self.twin = twinlib.Twin(scenario, **twin_kw)
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
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
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- config

    def config_text(self, sections=None):
        """The config: the twin's, StateDirectory=state_dir, the fixture's sections, these."""
        return self.twin.cmkd_config(**merge_sections({"Daemon": {"StateDirectory": self.state_dir}},
                                                      self.sections, sections))

    def write_config(self, sections=None, text=None):
        """Writes config_path (text, else config_text(sections)) with mode 0600, atomically
        (a running daemon reads either the old or the new file). Returns its path."""
        tmp = self.config_path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text if text is not None else self.config_text(sections))
        os.replace(tmp, self.config_path)
        return self.config_path

    # --- running cmkd

    def once(self, *args, sections=None, json_output=True, timeout=ONCE_TIMEOUT, clear_log=True, env=None):
        """Writes the config (write_config(sections)) and runs `cmkd --once [--json] ARGS -c
        CONFIG` to its end; returns a Run. The twin's log is cleared first (clear_log), so
        Run.log holds this run's requests only. env: extra environment variables."""
        self.write_config(sections)
        argv = [self.cmkd, "--once"] + (["--json"] if json_output else []) + list(args) + ["-c", self.config_path]
        if clear_log:
            self.twin.clear_log()
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=self.dir, env=clean_env(env), stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise CmkdError("%s did not finish within %.0f s; stderr (tail):\n%s"
                            % (" ".join(argv), timeout, (e.stderr or b"").decode("utf-8", "replace")[-4000:]))
        seconds = time.monotonic() - t0
        stderr = p.stderr.decode("utf-8", "replace")
        check_sanitizers(stderr, " ".join(argv))
        return Run(argv, p.returncode, p.stdout.decode("utf-8", "replace"), stderr, settled_log(self.twin),
                   seconds, json_output)

    def daemon(self, *args, sections=None):
        """Writes the config (write_config(sections)) and starts `cmkd ARGS -c CONFIG`, the
        daemon. Returns a Daemon; close() kills it if it still runs."""
        self.write_config(sections)
        d = Daemon([self.cmkd] + list(args) + ["-c", self.config_path], cwd=self.dir)
        self._daemons.append(d)
        return d

    # --- what cmkd left

    def audit(self):
        """The entries (dicts) of StateDirectory/audit.log, in order; [] when there is none."""
        try:
            with open(os.path.join(self.state_dir, "audit.log"), encoding="utf-8") as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def operation_records(self, temporary=False):
        """Names of the records in StateDirectory/operations/ (sorted); with temporary=True,
        every file, the temporary file of a write in progress (".op-...") too."""
        try:
            names = os.listdir(os.path.join(self.state_dir, "operations"))
        except FileNotFoundError:
            return []
        return sorted(n for n in names if temporary or not n.startswith("."))

    def wait_until(self, predicate, timeout, what, daemon=None, interval=0.05):
        """Polls predicate() until it returns a true value, which is returned. Raises
        CmkdError after timeout seconds, or as soon as daemon (if given) has exited, with
        the twin's latest requests and the daemon's stderr."""
        deadline = time.monotonic() + timeout
        while True:
            v = predicate()
            if v:
                return v
            exited = daemon is not None and daemon.poll() is not None
            if exited or time.monotonic() > deadline:
                raise CmkdError("%s while waiting for %s\n--- twin log (tail)\n%s%s"
                                % ("cmkd exited with status %s" % daemon.poll() if exited
                                   else "waited %.0f s" % timeout, what, describe_log(self.twin.log()),
                                   "\n--- cmkd stderr (tail)\n" + daemon.stderr[-4000:] if daemon else ""))
            time.sleep(interval)
