# SPDX-License-Identifier: MIT
"""A real systemd-journald in a private mount namespace, for tests.

PrivateJournal() runs `unshare --mount --propagation private python3 journalns.py --serve`.
Inside, the server mounts fresh tmpfs over /run, /var/log/journal, /var/lib/systemd/catalog
and /usr/lib/systemd/catalog (so nothing of the host's journal, sockets or catalog is seen
or touched), installs the given message catalog, starts /lib/systemd/systemd-journald (never
an init) and waits for its socket. It then runs commands for the test, one JSON line per
request on stdin, one JSON line per answer on stdout:

    {"run": [argv...], "env": {...}, "timeout": 30}   -> {"rc": 0, "pid": 123, "stdout": "...", "stderr": "..."}
    {"journal": [journalctl args...]}                 -> {"rc": 0, "entries": [{...}, ...], "stderr": "..."}
    {"journalctl": [args...]}                         -> {"rc": 0, "stdout": "...", "stderr": "..."}
    {"quit": true}                                    -> (no answer) journald is stopped, the namespace ends

Every wait is bounded. Anything that goes wrong is an exception with the reason, never a
skip. The commands run as separate processes, so the same harness runs `cmkd --once`
as easily as the test driver.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time

JOURNALD = "/lib/systemd/systemd-journald"
SOCKET = "/run/systemd/journal/socket"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


def prerequisites():
    """The reasons this machine cannot run the harness; empty if it can."""
    missing = []
    for tool in ("unshare", "journalctl", "mount"):
        if not shutil.which(tool):
            missing.append(f"{tool} not found (util-linux / systemd packages)")
    if not os.access(JOURNALD, os.X_OK):
        missing.append(f"{JOURNALD} not found (systemd package)")
    if os.geteuid() != 0:
        missing.append("must run as root: mount namespaces and tmpfs mounts need CAP_SYS_ADMIN")
    return missing


class PrivateJournal:
    def __init__(self, catalog=None):
        self.catalog = catalog
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        problems = prerequisites()
        if problems:
            raise RuntimeError("cannot run a private journald: " + "; ".join(problems))
        argv = ["unshare", "--mount", "--propagation", "private", "--",
                sys.executable, os.path.abspath(__file__), "--serve"]
        if self.catalog:
            argv.append(os.path.abspath(self.catalog))
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        ready = self._answer(START_TIMEOUT + 5)
        if not ready.get("ready"):
            raise RuntimeError(f"private journald did not start: {ready}")
        self.journald_pid = ready["journald_pid"]

    def _answer(self, timeout):
        # The server answers every request within its own bounded time; a dead server
        # shows up as EOF.
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=timeout)
            raise RuntimeError("journal namespace server exited: rc=%s stderr=%s"
                               % (self.proc.returncode, self.proc.stderr.read()))
        return json.loads(line)

    def _request(self, req, timeout=60):
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return self._answer(timeout)

    def run(self, argv, env=None, timeout=60):
        """Runs argv inside the namespace (so it logs to this journald)."""
        return self._request({"run": list(argv), "env": env or {}, "timeout": timeout}, timeout + 10)

    def entries(self, *matches):
        """Journal entries (dicts, `journalctl -o json`) matching every FIELD=value given."""
        ans = self._request({"journal": list(matches)})
        if ans["rc"] != 0:
            raise RuntimeError(f"journalctl failed: {ans}")
        return ans["entries"]

    def journalctl(self, *args):
        return self._request({"journalctl": list(args)})

    def stop(self):
        if not self.proc:
            return
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"quit": True}) + "\n")
                self.proc.stdin.flush()
            # The server stops journald (bounded) and exits.
            self.proc.wait(timeout=STOP_TIMEOUT + 5)
            if self.proc.returncode != 0:
                raise RuntimeError(f"journal namespace server failed: rc={self.proc.returncode} "
                                   f"{self.proc.stderr.read()}")
        except Exception:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise
        finally:
            for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                f.close()
            self.proc = None


# ---- inside the namespace ------------------------------------------------------------

def _mount_tmpfs(path):
    """A fresh tmpfs over path, or over its nearest existing parent (then path is made in
    it): the host's tree is never written, not even a new empty directory."""
    top = path
    while not os.path.isdir(top):
        top = os.path.dirname(top)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=64m", "tmpfs", top], check=True)
    os.makedirs(path, exist_ok=True)


def _wait_socket(path, journald, deadline):
    while time.monotonic() < deadline:
        if journald.poll() is not None:
            raise RuntimeError(f"systemd-journald exited with {journald.returncode}: "
                               f"{journald.stderr.read() if journald.stderr else ''}")
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                s.connect(path)
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear within {START_TIMEOUT}s")


def _sync():
    # Entries sent just before are in journald's socket queue; --sync returns when they are
    # written. Bounded.
    return subprocess.run(["journalctl", "--sync"], capture_output=True, text=True, timeout=15)


def serve(catalog):
    def reply(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    # Only in this namespace: the host's /run, journal and catalog stay as they are. /run
    # is replaced whole because journald creates /run/log and /run/systemd/journal.
    for path in ("/run", "/var/log/journal", "/var/lib/systemd/catalog", "/usr/lib/systemd/catalog"):
        _mount_tmpfs(path)
    os.makedirs("/run/systemd/journal", exist_ok=True)
    if catalog:
        shutil.copy(catalog, "/usr/lib/systemd/catalog/")
        r = subprocess.run(["journalctl", "--update-catalog"], capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or r.stderr.strip():
            reply({"ready": False, "error": f"journalctl --update-catalog: rc={r.returncode} {r.stderr}"})
            return 1

    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    journald = subprocess.Popen([JOURNALD], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_socket(SOCKET, journald, time.monotonic() + START_TIMEOUT)
        reply({"ready": True, "journald_pid": journald.pid})
        for line in sys.stdin:
            req = json.loads(line)
            if req.get("quit"):
                break
            if "run" in req:
                p = subprocess.Popen(req["run"], env={**env, **req.get("env", {})}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
                try:
                    out, err = p.communicate(timeout=req.get("timeout", 60))
                except subprocess.TimeoutExpired:
                    p.kill()
                    out, err = p.communicate()
                    err += "\n(killed: timeout)"
                reply({"rc": p.returncode, "pid": p.pid, "stdout": out, "stderr": err})
            elif "journal" in req:
                s = _sync()
                r = subprocess.run(["journalctl", "--no-pager", "-o", "json", *req["journal"]],
                                   capture_output=True, text=True, timeout=30)
                entries = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
                reply({"rc": r.returncode, "entries": entries, "stderr": r.stderr,
                       "sync_rc": s.returncode})
            elif "journalctl" in req:
                _sync()
                r = subprocess.run(["journalctl", "--no-pager", *req["journalctl"]],
                                   capture_output=True, text=True, timeout=30)
                reply({"rc": r.returncode, "stdout": r.stdout, "stderr": r.stderr})
            else:
                reply({"error": f"unknown request {req}"})
    finally:
        journald.terminate()
        try:
            journald.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            journald.kill()
            journald.wait(timeout=5)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
        sys.exit(serve(sys.argv[2] if len(sys.argv) > 2 else None))
    print(__doc__)
    sys.exit(2)
