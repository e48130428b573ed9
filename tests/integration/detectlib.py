# SPDX-License-Identifier: MIT
"""Runs cmkd against the twin, for the integration tests. Python 3 standard library only.

    from cmkdlib import Session, run_once, settled_log

    # One call: a twin, a config, one `cmkd --once --json`, everything back.
    code, doc, stderr, log = run_once("tests/integration/scenarios/healthy.json")

    # Several runs against one twin (control ops in between), or the daemon:
    with Session(SCENARIO, sections={"Policy": {"StaleVersion": "update"}}) as s:
        s.twin.control("disable_key", vault="kv-a", key="k1")
        r = s.once("--dry-run")                 # r.code, r.json, r.stderr, r.log, r.stdout
        with s.daemon(sections={"Daemon": {"PollIntervalSec": "10s"},
                                "Network": {"RequestTimeoutSec": "5s"}}) as d:
            d.wait_for("Sweep done", count=1, timeout=60)
            first = settled_log(s.twin)         # the twin logs just after answering
        # d.code, d.stderr after the with block (SIGTERM, bounded wait)

Config: Twin.cmkd_config() (auth, subscriptions, CA, connect-to) with the given sections
merged over it, [Daemon] StateDirectory= set to a private directory, written 0600 into
the session's temporary directory. A section value None drops a key the twin would set
(e.g. {"Azure": {"Subscriptions": None}} for "every visible subscription").

The binary: $CMKD, else build/cmkd under the repository root. A missing binary or twin is
an error with a message, never a skip. Every wait has a time limit; a cmkd that does not
finish in time is killed and CmkdError says so, with its stderr.
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
sys.path.insert(0, os.path.join(ROOT, "tests", "twin"))

import twinlib  # noqa: E402

SCENARIOS = os.path.join(HERE, "scenarios")
ONCE_TIMEOUT = 60      # seconds for one `cmkd --once`
STOP_TIMEOUT = 10      # seconds from SIGTERM to exit


class CmkdError(Exception):
    """cmkd could not be run, did not finish in time, printed what cannot be parsed, or a
    sanitizer (ASan, UBSan, LSan build) reported an error."""


SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error: |SUMMARY: \w+Sanitizer")


def check_sanitizers(stderr, what="cmkd"):
    """Raises CmkdError if stderr holds a sanitizer report (a SAN=1 build prints one and
    exits non-zero; this names it instead of leaving a puzzling exit status)."""
    m = SANITIZER_RE.search(stderr or "")
    if m:
        raise CmkdError("%s: sanitizer report:\n%s" % (what, stderr[max(0, m.start() - 200):][:6000]))


def cmkd_path():
    """The cmkd binary under test: $CMKD (relative paths from the repository root), else
    build/cmkd. Raises CmkdError when it is not an executable file."""
    p = os.environ.get("CMKD") or os.path.join(ROOT, "build", "cmkd")
    if not os.path.isabs(p):
        p = os.path.join(ROOT, p)
    if not (os.path.isfile(p) and os.access(p, os.X_OK)):
        raise CmkdError("cmkd binary %s is missing or not executable: run 'make' first, or set CMKD=" % p)
    return p


def scenario_path(name):
    """A scenario under tests/integration/scenarios/ by bare name ("healthy"), or a path."""
    if os.sep in name or name.endswith(".json"):
        return name if os.path.isabs(name) else os.path.join(ROOT, name)
    return os.path.join(SCENARIOS, name + ".json")


def merge_sections(*dicts):
    """Merges {section: {key: value}} dicts, later ones winning per key."""
    out = {}
    for d in dicts:
        for sec, keys in (d or {}).items():
            out.setdefault(sec, {}).update(keys or {})
    return out


def settled_log(twin, since=0, quiet=0.1, timeout=5.0):
    """The twin's request log once it has stopped growing for `quiet` seconds (at most
    `timeout`). The twin records a request just after it has sent the answer, so a client
    that is done may be a moment ahead of the log."""
    deadline = time.monotonic() + timeout
    last = twin.health()["log_seq"]
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = twin.health()["log_seq"]
        if now == last:
            break
        last = now
    return twin.log(since)


class OnceResult(tuple):
    """(code, json, stderr, log) of one `cmkd --once`, with .stdout, .config (the config
    text) and .args besides. json is the parsed document when --json was given, else None.
    log is the twin's request log of this run only."""

    def __new__(cls, code, doc, stderr, log, stdout, config, args):
        self = tuple.__new__(cls, (code, doc, stderr, log))
        self.stdout, self.config, self.args = stdout, config, args
        return self

    code = property(lambda self: self[0])
    json = property(lambda self: self[1])
    stderr = property(lambda self: self[2])
    log = property(lambda self: self[3])


class Daemon:
    """A running `cmkd -c FILE` (the daemon). stderr is collected by a thread; wait_for()
    waits for lines matching a pattern; stop() sends SIGTERM and waits (bounded)."""

    def __init__(self, argv, env=None):
        self.argv = argv
        self._lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.code = None

    def _read(self):
        for raw in iter(self.proc.stderr.readline, b""):
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def stderr(self):
        with self._cond:
            return "\n".join(self._lines)

    def lines(self, pattern=None):
        rx = re.compile(pattern) if pattern else None
        with self._cond:
            return [x for x in self._lines if rx is None or rx.search(x)]

    def wait_for(self, pattern, count=1, timeout=60):
        """Waits until count stderr lines match pattern (a regex). Returns them. Raises
        CmkdError if cmkd exits first or the time runs out."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [x for x in self._lines if rx.search(x)]
                if len(found) >= count:
                    return found
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise CmkdError("cmkd exited with status %s before %d line(s) matching %r; stderr:\n%s"
                                    % (self.proc.returncode, count, pattern, "\n".join(self._lines)[-4000:]))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CmkdError("no %d line(s) matching %r from cmkd within %ds; stderr:\n%s"
                                    % (count, pattern, timeout, "\n".join(self._lines)[-4000:]))
                self._cond.wait(min(left, 0.5))

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then wait up to timeout; kills it after that. Returns the exit status
        (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.code = None
        else:
            self.code = self.proc.returncode
        self._reader.join(5)
        self.proc.stderr.close()
        check_sanitizers(self.stderr, " ".join(self.argv))
        return self.code

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Session:
    """A twin started from a scenario (path, bare name under scenarios/, or dict), a private
    temporary directory, and cmkd configs pointing at the twin. sections: config sections
    merged over the twin's (every config this session writes). Use as a context manager."""

    def __init__(self, scenario, sections=None, twin_args=None):
        self.cmkd = cmkd_path()
        if isinstance(scenario, str):
            scenario = scenario_path(scenario)
        self.dir = tempfile.mkdtemp(prefix="cmkd-it-")
        self.state_dir = os.path.join(self.dir, "state")
        os.mkdir(self.state_dir, 0o700)
        self.sections = sections or {}
        self._n = 0
        try:
            self.twin = twinlib.Twin(scenario, **(twin_args or {}))
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def close(self):
        try:
            self.twin.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def config_text(self, sections=None):
        secs = merge_sections({"Daemon": {"StateDirectory": self.state_dir}}, self.sections, sections)
        return self.twin.cmkd_config(**secs)

    def write_config(self, sections=None, text=None):
        """Writes a config (mode 0600) and returns its path. text replaces the generated one."""
        self._n += 1
        path = os.path.join(self.dir, "cmkd-%d.conf" % self._n)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text if text is not None else self.config_text(sections))
        return path

    def once(self, *args, sections=None, json_output=True, timeout=ONCE_TIMEOUT, clear_log=True, env=None):
        """Runs `cmkd --once [--json] ARGS -c CONFIG` and returns an OnceResult. The twin's log
        is cleared first (clear_log), so .log holds this run's requests only."""
        path = self.write_config(sections)
        with open(path) as f:
            text = f.read()
        argv = [self.cmkd, "--once"] + (["--json"] if json_output else []) + list(args) + ["-c", path]
        if clear_log:
            self.twin.clear_log()
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired as e:
            raise CmkdError("%s did not finish within %ds; stderr:\n%s"
                            % (" ".join(argv), timeout, (e.stderr or b"").decode("utf-8", "replace")[-4000:]))
        stdout = p.stdout.decode("utf-8", "replace")
        stderr = p.stderr.decode("utf-8", "replace")
        check_sanitizers(stderr, " ".join(argv))
        doc = None
        if json_output:
            try:
                doc = json.loads(stdout)
            except ValueError as e:
                raise CmkdError("cmkd --once --json (exit %d) printed no JSON (%s); stdout:\n%s\nstderr:\n%s"
                                % (p.returncode, e, stdout[-4000:], stderr[-4000:]))
        return OnceResult(p.returncode, doc, stderr, settled_log(self.twin), stdout, text, argv)

    def daemon(self, *args, sections=None, env=None):
        """Starts `cmkd ARGS -c CONFIG` (the daemon). Returns a Daemon; stop it (or use it
        as a context manager)."""
        path = self.write_config(sections)
        return Daemon([self.cmkd] + list(args) + ["-c", path], env=env)


def run_once(scenario, sections=None, args=(), setup=None, json_output=True, timeout=ONCE_TIMEOUT):
    """Starts a twin from scenario, calls setup(twin) if given (control ops before cmkd
    runs), runs `cmkd --once --json ARGS` once and returns (code, json, stderr, log) as an
    OnceResult."""
    with Session(scenario, sections) as s:
        if setup:
            setup(s.twin)
        return s.once(*args, json_output=json_output, timeout=timeout)


# --- reading results --------------------------------------------------------------------

def clusters_by_name(doc):
    """{name: cluster object} of a --once --json document (names must be unique)."""
    out = {}
    for c in doc["clusters"]:
        if c["name"] in out:
            raise CmkdError("cluster name %s appears twice in the output" % c["name"])
        out[c["name"]] = c
    return out


def finding_set(cluster):
    """{"code:severity", ...} of one cluster object."""
    return {"%s:%s" % (f["code"], f["severity"]) for f in cluster["findings"]}


def requests(log, method=None, host=None, path=None, path_re=None, status=None):
    """Entries of a twin request log that match every criterion given: method, host
    (exact, case-insensitive), path (exact, case-insensitive), path_re (regex search,
    case-insensitive), status."""
    rx = re.compile(path_re, re.I) if path_re else None
    out = []
    for e in log:
        if method and e["method"] != method:
            continue
        if host and e["host"].lower() != host.lower():
            continue
        if path and e["path"].lower() != path.lower():
            continue
        if rx and not rx.search(e["path"]):
            continue
        if status is not None and e["status"] != status:
            continue
        out.append(e)
    return out


def request_counts(log, service=None):
    """{(method, host, path): count} over the log (optionally one service: arm, kv, imds, ...)."""
    out = {}
    for e in log:
        if service and e.get("service") != service:
            continue
        k = (e["method"], e["host"].lower(), e["path"].lower())
        out[k] = out.get(k, 0) + 1
    return out
