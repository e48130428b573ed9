# SPDX-License-Identifier: MIT
"""Issue 8 ("Prove it holds"): secret hygiene. cmkd signs in with a client secret that is
a canary string (the app principal cmkd-app of scenarios/faults.json, ClientSecretFile= a
0600 file), and runs every way it can:
  - the daemon, in a private journald (journalns.py), with StaleVersion=update (an update,
    alerts, the audit log), metrics and reports, at LogLevel=info and at LogLevel=debug,
    tokens short-lived (refreshed during the run) and revoked once (401, refetched);
  - cmkd --once (table and --json), --once --dry-run --log-level=debug, cmkd --report;
  - cmkd --once while Entra refuses the secret (401 invalid_client), at debug level: the
    path where a secret would most likely be echoed into an error.
Then every output is searched for the canary and for every token the twin issued
(GET /_twin/tokens: the whole token and its signature part): the journal's export format
(every field of every entry), cmkd's stdout and stderr of every run, every file under the
state directory and the report directory, and the metrics file. Positive controls: the
canary did reach the twin (its request log shows a client_secret, redacted), tokens were
issued, and the same search finds the canary in the secret file itself.

  make check-faults          (CMKD=/path/to/cmkd for another binary)
"""

import json
import os
import subprocess
import sys
import threading
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import journalns  # noqa: E402
from cmkdlib import ROOT, Fixture, check_sanitizers, clean_env, merge_sections, requests  # noqa: E402
from faultlib import NETWORK, STALL_RE, UPDATE, as_app, run_in_journal  # noqa: E402

CATALOG = os.path.join(ROOT, "systemd", "cmkd.catalog")
# Only unreserved characters: a form encoding of the secret is the secret itself.
CANARY = "cmkd-canary-" + uuid.uuid4().hex + "~Zq9"


def journal_bytes(json_lines):
    """The fields of `journalctl -o json --all` output as bytes, one "NAME=value" per line;
    binary values (arrays of byte values) as their bytes."""
    out = bytearray()
    for line in json_lines.splitlines():
        if not line.strip():
            continue
        for k, v in json.loads(line).items():
            values = v if isinstance(v, list) and v and isinstance(v[0], (list, str)) else [v]
            for x in values:
                if isinstance(x, list):
                    x = bytes(x)
                elif x is None:
                    x = b""
                else:
                    x = str(x).encode("utf-8", "surrogateescape")
                out += k.encode() + b"=" + x + b"\n"
    return bytes(out)


class SecretHygieneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        problems = journalns.prerequisites()
        if problems:
            raise AssertionError("test_secrets needs a private journald: %s" % problems)
        cls.fx = Fixture(as_app(CANARY), merge_sections(UPDATE, NETWORK))
        cls.addClassCleanup(cls.fx.close)
        cls.tw = cls.fx.twin
        cls.reports = os.path.join(cls.fx.dir, "reports")
        cls.metrics = os.path.join(cls.fx.dir, "metrics", "cmkd.prom")
        os.makedirs(os.path.dirname(cls.metrics))
        cls.sections = {"Report": {"Directory": cls.reports},
                        "Metrics": {"TextfilePath": cls.metrics},
                        "Daemon": {"PollIntervalSec": "10s", "CacheTTLSec": "0"}}
        cls.outputs = {}  # name -> bytes
        cls.tw.control("set_settings", token_lifetime_s=6)
        cls.run_daemons()
        cls.run_once_modes()
        cls.run_refused_secret()
        cls.tokens = cls.tw.tokens()

    # --- the runs ---------------------------------------------------------------------------

    @classmethod
    def keep(cls, name, data):
        cls.outputs[name] = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")

    @classmethod
    def run_daemons(cls):
        with journalns.PrivateJournal(catalog=CATALOG) as j:
            for level in ("info", "debug"):
                conf = cls.fx.write_config(merge_sections(cls.sections, {"Daemon": {"LogLevel": level}}))
                # Revoke every token once the first sweep is done: the next requests get 401.
                stderr = os.path.join(cls.fx.dir, "daemon-%s.stderr" % level)
                t = threading.Thread(target=cls.revoke_after_first_sweep, args=(stderr,))
                t.start()
                res = run_in_journal(j, cls.fx.dir, [cls.fx.cmkd, "-c", conf], 3, "daemon-%s" % level, timeout=90)
                t.join(10)
                check_sanitizers(res["cmkd_stderr"], "cmkd daemon")
                if res["rc"] != 0:
                    raise AssertionError("daemon (%s) ended with %s: %s\n%s" % (level, res["rc"], res["stderr"],
                                                                              res["cmkd_stderr"][-3000:]))
                cls.keep("daemon stderr (%s)" % level, res["cmkd_stderr"])
                cls.keep("journal driver output (%s)" % level, res["stdout"] + res["stderr"])
                if level == "info":
                    cls.daemon_stderr = res["cmkd_stderr"]
            # Every field of every entry, whoever wrote it; --all: long and unprintable
            # values in full (binary values come as arrays of bytes).
            dump = j.journalctl("-o", "json", "--all")
            if dump["rc"] != 0:
                raise AssertionError("journalctl -o json --all failed: %s" % dump)
            cls.keep("journal (every field)", journal_bytes(dump["stdout"]))
            cls.journal_entries = j.entries("SYSLOG_IDENTIFIER=cmkd")

    @classmethod
    def revoke_after_first_sweep(cls, stderr_path):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with open(stderr_path) as f:
                    if "Sweep done" in f.read():
                        cls.tw.control("revoke_tokens")
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.05)

    @classmethod
    def run_cmkd(cls, name, *args):
        p = subprocess.run([cls.fx.cmkd] + list(args) + ["-c", cls.fx.config_path], cwd=cls.fx.dir, env=clean_env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        check_sanitizers(p.stderr.decode("utf-8", "replace"), name)
        cls.keep(name + " stdout", p.stdout)
        cls.keep(name + " stderr", p.stderr)
        return p

    @classmethod
    def run_once_modes(cls):
        cls.fx.write_config(cls.sections)
        cls.tw.control("rotate_key", vault="kv-a", key="key1")  # another update for --once
        cls.once_table = cls.run_cmkd("--once table", "--once")
        cls.run_cmkd("--once --json", "--once", "--json")
        cls.run_cmkd("--once --dry-run debug", "--once", "--dry-run", "--log-level=debug")
        cls.report = cls.run_cmkd("--report", "--report")

    @classmethod
    def run_refused_secret(cls):
        # Entra now expects another secret: cmkd's canary is refused (401 invalid_client).
        cls.tw.control("set_principal", principal="cmkd-app", client_secret="not-the-canary")
        cls.refused = cls.run_cmkd("--once refused debug", "--once", "--json", "--log-level=debug")
        cls.tw.control("set_principal", principal="cmkd-app", client_secret=CANARY)

    # --- the search ---------------------------------------------------------------------------

    def files_under(self, *dirs):
        out = {}
        for d in dirs:
            for root, _, names in os.walk(d):
                for n in names:
                    p = os.path.join(root, n)
                    with open(p, "rb") as f:
                        out[p] = f.read()
        return out

    def secrets(self):
        """(what, bytes) pairs to look for."""
        out = [("the client secret", CANARY.encode())]
        for t in self.tokens["tokens"]:
            tok = t["token"]
            out.append(("a %s token" % t["audience"], tok.encode()))
            out.append(("a %s token's signature" % t["audience"], tok.rsplit(".", 1)[1].encode()))
        return out

    def haystacks(self):
        hay = dict(self.outputs)
        hay.update(self.files_under(self.fx.state_dir, self.reports, os.path.dirname(self.metrics)))
        return hay

    def test_positive_controls(self):
        # The canary was used: Entra got a client_secret (the twin's log redacts it)...
        posts = requests(self.tw.log(), "POST", service="entra")
        self.assertTrue(posts, "cmkd never asked Entra for a token")
        self.assertEqual({p["body"].get("client_secret") for p in posts}, {"<redacted>"})
        # ...tokens were issued to it, refreshed and revoked along the way...
        mine = [t for t in self.tokens["tokens"] if t["principal"] == "cmkd-app"]
        self.assertGreaterEqual(len(mine), 4, self.tokens)
        self.assertEqual(self.tokens["dropped"], 0)
        self.assertTrue(any(e["status"] == 401 for e in self.tw.log() if e["service"] in ("arm", "kv")),
                        "no request met a revoked token")
        # ...an update was made and alerts went to the journal...
        self.assertIn("now uses", self.daemon_stderr)
        self.assertTrue(self.journal_entries)
        self.assertTrue(os.path.exists(os.path.join(self.fx.state_dir, "audit.log")))
        self.assertTrue(any(n.startswith("cmkd-report-") for n in os.listdir(self.reports)), os.listdir(self.reports))
        self.assertTrue(os.path.exists(self.metrics))
        # ...the refused secret was refused...
        self.assertEqual(self.refused.returncode, 3, self.refused.stderr)
        self.assertIn(b"invalid_client", self.refused.stderr + self.refused.stdout)
        # ...and the search does find what is there: the canary in the secret file, a token
        # planted in an output.
        with open(self.fx.config_path) as f:
            secret_file = next(line.split("=", 1)[1] for line in f.read().splitlines()
                               if line.startswith("ClientSecretFile="))
        self.assertEqual(os.stat(secret_file).st_mode & 0o777, 0o600)
        with open(secret_file, "rb") as f:
            planted = {"secret file": f.read(),
                       "planted": b"Authorization: Bearer " + mine[-1]["token"].encode() + b"\n"}
        self.assertEqual(sorted(self.leaks(planted)),
                         sorted(["the client secret in secret file",
                                 "a %s token in planted" % mine[-1]["audience"],
                                 "a %s token's signature in planted" % mine[-1]["audience"]]))

    def leaks(self, hay):
        out = []
        for what, needle in self.secrets():
            for where, data in hay.items():
                if needle in data:
                    out.append("%s in %s" % (what, where))
        return out

    def test_no_secret_anywhere(self):
        hay = self.haystacks()
        self.assertGreaterEqual(len(hay), 12, sorted(hay))
        self.assertEqual(self.leaks(hay), [], "secrets found in cmkd's outputs")
        sys.stderr.write("\ntest_secrets: searched %d outputs (%d bytes) for the canary and %d tokens\n"
                         % (len(hay), sum(len(v) for v in hay.values()), len(self.tokens["tokens"])))

    def test_no_authorization_header_or_stall(self):
        for where, data in self.haystacks().items():
            self.assertNotIn(b"Bearer ey", data, where)
            self.assertNotIn(b"client_secret=", data, where)
        for where, data in self.outputs.items():
            self.assertEqual(STALL_RE.findall(data.decode("utf-8", "replace")), [], where)


if __name__ == "__main__":
    unittest.main()
