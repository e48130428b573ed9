# SPDX-License-Identifier: MIT
"""What the fault, crash and secret-hygiene tests (issue 8) share. Python 3 stdlib only.

- The fleet (scenarios/faults.json) and what a fault-free sweep finds in it (BASELINE),
  checked by test_faults.BaselineTest so that every other test may compare against it.
- update_deps(): the reads the update of c-stale depends on, as twin-log matchers, and
  read_ok(): whether one logged answer reached cmkd whole. With them a test proves from the
  twin's log that a PUT was built from complete data.
- proc_sample(): VmRSS and open descriptors of a process (/proc).
- run_in_journal(): the daemon inside a private journald (journalns.py) for a number of
  sweeps, then SIGTERM; every wait bounded.
"""

import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import SCENARIOS  # noqa: E402

SCENARIO = os.path.join(SCENARIOS, "faults.json")
PROD = "/subscriptions/11111111-1111-1111-1111-111111111111"
DEV = "/subscriptions/22222222-2222-2222-2222-222222222222"

# What a fault-free sweep finds ("code:severity"), and the scope each cluster is listed in.
BASELINE = {
    "c-stale": {"key-version-pinned:info", "key-version-stale:warning"},
    "c-a": set(),
    "c-b": {"key-no-rotation-policy:info"},
    "c-dev": {"key-expiring:warning"},
    "c-smk": {"service-managed-key:info"},
}
SCOPE = {"c-stale": PROD, "c-a": PROD, "c-b": PROD, "c-dev": DEV, "c-smk": DEV}
UNKNOWN = "check-unknown:warning"

# Every config of these tests: updates on, and short network limits so that a fault that
# persists costs one retry (1-3 s of backoff) and a slow answer times out in 2 s.
UPDATE = {"Policy": {"StaleVersion": "update"}}
NETWORK = {"Network": {"MaxRetries": "1", "RequestTimeoutSec": "2s"}}
TIMEOUT_MS = 2000

# The daemon's warning when a callback blocked the loop (manager.c, on_stall).
STALL_RE = re.compile(r"The event loop was blocked for ([0-9.]+)s")

# Transport damage recorded in the twin's log: the answer did not arrive whole.
BROKEN_TRANSPORT = ("truncate", "reset", "close")


def as_app(secret=None):
    """The scenario as a dict, with cmkd signing in as the app cmkd-app by client secret
    (twinlib writes the secret to a 0600 file and names it in ClientSecretFile=)."""
    with open(SCENARIO) as f:
        sc = json.load(f)
    sc["cmkd_principal"] = "cmkd-app"
    if secret is not None:
        for p in sc["principals"]:
            if p["name"] == "cmkd-app":
                p["client_secret"] = secret
    return sc


def current_kid(tw, vault, key):
    for v in tw.state()["vaults"]:
        if v["name"] == vault:
            for k in v["keys"]:
                if k["name"] == key:
                    return k["versions"][-1]["kid"]
    raise AssertionError("the twin has no key %s/%s" % (vault, key))


def update_deps(tw, cluster="c-stale"):
    """The reads the update of cluster (on kv-a/key1, identity uami-a, subscription prod)
    depends on, as [(name, host, path regex)]: its list page, the vault listing, the
    deleted-vault listing, its identity, the key, the pinned version and the role
    assignments of kv-a. The rotation policy is not one (policy.c DECISION_FACTS)."""
    cl = tw.cluster(cluster)
    pinned = cl["cmk"]["key_url"].rstrip("/").rsplit("/", 1)[1]
    arm = "management.azure.com"
    return [
        ("cluster list", arm, r"^%s/providers/Microsoft\.DocumentDB/mongoClusters$" % PROD),
        ("vault list", arm, r"^%s/providers/Microsoft\.KeyVault/vaults$" % PROD),
        ("deleted vault list", arm, r"^%s/providers/Microsoft\.KeyVault/deletedVaults$" % PROD),
        ("identity", arm, r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/uami-a$"),
        ("key", "kv-a.vault.azure.net", r"^/keys/key1$"),
        ("pinned version", "kv-a.vault.azure.net", r"^/keys/key1/%s$" % re.escape(pinned)),
        ("role assignments", arm, r"/vaults/kv-a/providers/Microsoft\.Authorization/roleAssignments$"),
    ]


def read_ok(entry, benign=(), timeout_ms=TIMEOUT_MS):
    """True if the logged answer reached cmkd whole: 200, no damaging fault acted on it
    (a fault id in benign does not damage), no broken transport, and it took less than
    cmkd's request timeout."""
    if entry.get("status") != 200:
        return False
    if entry.get("fault") and entry["fault"] not in benign:
        return False
    if entry.get("transport") in BROKEN_TRANSPORT:
        return False
    return float(entry.get("duration_ms") or 0) < timeout_ms


def deps_read_before(log, deps, seq, benign=()):
    """The names of the dependencies without a whole answer in log before seq."""
    missing = []
    for name, host, rx in deps:
        r = re.compile(rx, re.I)
        if not any(e["seq"] < seq and e["method"] == "GET" and e["host"].lower() == host and r.search(e["path"])
                   and read_ok(e, benign) for e in log):
            missing.append(name)
    return missing


def proc_sample(pid):
    """(VmRSS in KiB, number of open descriptors) of a running process."""
    rss = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir("/proc/%d/fd" % pid))


# Runs inside the journal namespace: starts cmkd with the arguments given, waits for N
# lines matching the end of a sweep on its stderr (bounded), then SIGTERM. Prints nothing;
# the exit status is cmkd's, or a message.
JOURNAL_DRIVER = r'''
import json, re, signal, subprocess, sys, time
argv, env, stderr_path, sweeps, sweep_re, timeout = json.loads(sys.argv[1])
err = open(stderr_path, "w+")
p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
rx = re.compile(sweep_re)
def done():
    with open(stderr_path) as f:
        return len([l for l in f if rx.search(l)])
deadline = time.time() + timeout
while done() < sweeps:
    if p.poll() is not None or time.time() > deadline:
        p.kill()
        sys.exit("cmkd exited (%s) or %d sweep(s) did not end in time" % (p.poll(), sweeps))
    time.sleep(0.1)
time.sleep(0.5)
p.send_signal(signal.SIGTERM)
try:
    sys.exit(p.wait(10))
except subprocess.TimeoutExpired:
    p.kill()
    sys.exit("cmkd did not stop within 10 s of SIGTERM")
'''

SWEEP_END_RE = r"Sweep done|Sweep failed"


def run_in_journal(journal, workdir, argv, sweeps, name, env=None, timeout=60, sweep_re=SWEEP_END_RE):
    """Runs argv (the daemon) inside the private journal for `sweeps` sweeps, then SIGTERM.
    Returns the namespace's answer ({"rc", "stdout", "stderr"}) plus "cmkd_stderr"."""
    driver = os.path.join(workdir, "journal-driver.py")
    if not os.path.exists(driver):
        with open(driver, "w") as f:
            f.write(JOURNAL_DRIVER)
    stderr_path = os.path.join(workdir, name + ".stderr")
    full_env = {"LC_ALL": "C.UTF-8"}
    full_env.update(env or {})
    arg = json.dumps([list(argv), full_env, stderr_path, sweeps, sweep_re, timeout])
    res = journal.run([sys.executable, driver, arg], timeout=timeout + 30)
    with open(stderr_path, encoding="utf-8", errors="replace") as f:
        res["cmkd_stderr"] = f.read()
    return res
