# The twin as a process and a server: ready line, signals, scenario errors (exit 2),
# the PKI, curl with --connect-to, host routing, the control API and the request log.

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import twin_testutil as tu
from twinlib import Twin, TwinError

TWIN = os.path.join(tu.HERE, "twin.py")
PY = sys.executable or "/usr/bin/python3"


def run_twin(args, timeout=20):
    return subprocess.run([PY, TWIN] + args, capture_output=True, text=True, timeout=timeout)


class Process(unittest.TestCase):
    def test_ready_line_and_sigterm(self):
        p = subprocess.Popen([PY, TWIN, "--scenario", os.path.join(tu.SCENARIOS, "basic.json"), "--pki", tu.pki_dir()],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            ready = json.loads(line)
            self.assertEqual(set(ready), {"port", "http_port", "ca_file", "pid"})
            self.assertEqual(ready["pid"], p.pid)
            self.assertTrue(os.path.isabs(ready["ca_file"]) and os.path.exists(ready["ca_file"]))
            self.assertGreater(ready["port"], 0)
            self.assertNotEqual(ready["port"], ready["http_port"])
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(15), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()

    def test_sigint_exits_zero_and_temp_pki_is_removed(self):
        tw = Twin(os.path.join(tu.SCENARIOS, "basic.json"))
        ca_dir = os.path.dirname(tw.ca_file)
        self.assertTrue(os.path.exists(tw.ca_file))
        tw.proc.send_signal(signal.SIGINT)
        self.assertEqual(tw.proc.wait(15), 0)
        tw.stop()
        self.assertFalse(os.path.exists(ca_dir), "the throwaway PKI directory is removed at exit")

    def test_pki_dir_is_made_then_reused(self):
        d = tempfile.mkdtemp(prefix="twin-pki-test-")
        try:
            pki = os.path.join(d, "pki")
            with tu.Twin(os.path.join(tu.SCENARIOS, "basic.json"), pki=pki) as tw:
                self.assertEqual(tw.ca_file, os.path.join(pki, "ca.pem"))
                with open(tw.ca_file) as f:
                    first = f.read()
            with tu.Twin(os.path.join(tu.SCENARIOS, "basic.json"), pki=pki) as tw:
                with open(tw.ca_file) as f:
                    self.assertEqual(f.read(), first)
                self.assertEqual(tw.health()["ok"], True)
            self.assertTrue(os.path.exists(os.path.join(pki, "ca.pem")), "a named PKI dir is kept")
        finally:
            shutil.rmtree(d)

    def test_scenario_errors_exit_2_naming_the_problem(self):
        d = tempfile.mkdtemp(prefix="twin-bad-")
        try:
            cases = [
                ('{"subscriptions": [{"name": "s"}], "bogus": 1}', "unknown key 'bogus'"),
                ('{"subscriptions": [{"name": "s"}], "clusters": [{"name": "c", "resource_group": "rg", '
                 '"cmk": {"identity": "nope", "vault": "v", "key": "k"}}]}', "clusters[0].cmk.identity: no identity "
                                                                           "named 'nope'"),
                ('{"subscriptions": [{"name": "s"}],\n "vaults": [{"name": "kv1", "resource_group": "rg", '
                 '"keys": [{"name": "k", "versions": [{"exp": "tomorrow"}]}]}]}', "vaults[0].keys[0].versions[0].exp"),
                ('{"subscriptions": [{"name": "s"}], "settings": {"lro_outcome": "Maybe"}}', "settings.lro_outcome"),
                ('{"subscriptions": [{"name": "s"}], "faults": [{"action": "explode"}]}', "faults[0].action"),
                ('{"subscriptions": []}', "at least one subscription"),
                ('{"subscriptions": [{"name": "s"}], "role_assignments": [{"principal": "cmkd", "role": "Wizard", '
                 '"subscription": "s"}]}', "unknown role 'Wizard'"),
                ('{"subscriptions": [{"name": "s"}, }', "invalid JSON at line 1"),
            ]
            for i, (text, want) in enumerate(cases):
                path = os.path.join(d, "bad%d.json" % i)
                with open(path, "w") as f:
                    f.write(text)
                r = run_twin(["--scenario", path])
                self.assertEqual(r.returncode, 2, "%s: %s" % (want, r.stderr))
                self.assertIn(want, r.stderr)
                self.assertIn(path, r.stderr)
                self.assertEqual(r.stdout, "", "no ready line on a bad scenario")
            r = run_twin(["--scenario", os.path.join(d, "missing.json")])
            self.assertEqual(r.returncode, 2)
            self.assertIn("cannot read", r.stderr)
        finally:
            shutil.rmtree(d)

    def test_twinlib_reports_startup_failure_with_stderr(self):
        with self.assertRaises(TwinError) as cm:
            Twin({"subscriptions": []}, pki=tu.pki_dir())
        self.assertIn("at least one subscription", str(cm.exception))

    def test_check_mode(self):
        r = run_twin(["--scenario", os.path.join(tu.SCENARIOS, "basic.json"), "--check"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["clusters"], 8)


class Server(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("basic.json")

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def test_curl_with_connect_to_reaches_every_service(self):
        curl = shutil.which("curl")
        self.assertIsNotNone(curl, "curl is required (apt-get install curl)")
        tw = self.tw
        base = [curl, "-sS", "--max-time", "10"] + tw.curl_args()
        r = subprocess.run(base + ["-H", "Metadata: true",
                                   "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01"
                                   "&resource=https%3A%2F%2Fmanagement.azure.com%2F"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        tok = json.loads(r.stdout)["access_token"]
        r = subprocess.run(base + ["-H", "Authorization: Bearer " + tok, "-w", "\n%{http_code}",
                                   "https://management.azure.com/subscriptions?api-version=2022-12-01"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        body, code = r.stdout.rsplit("\n", 1)
        self.assertEqual(code, "200")
        self.assertEqual(len(json.loads(body)["value"]), 2)
        r = subprocess.run(base + ["-w", "%{http_code}", "-o", "/dev/null",
                                   "https://kv-rbac.vault.azure.net/keys/key1/?api-version=7.6"],
                           capture_output=True, text=True, timeout=20)
        self.assertEqual(r.stdout, "401")
        # without the test CA the TLS check fails, as it must
        r = subprocess.run([curl, "-sS", "--max-time", "10", "--connect-to", tw.curl_connect_to()[1],
                            "https://management.azure.com/"], capture_output=True, text=True, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        # every name in the certificate resolves on the one listener
        for host in ("management.chinacloudapi.cn", "management.usgovcloudapi.net", "login.chinacloudapi.cn",
                     "login.microsoftonline.us", "login.windows.net", "x.vault.azure.cn",
                     "x.vault.usgovcloudapi.net", "x.managedhsm.azure.net", "x.managedhsm.azure.cn",
                     "x.managedhsm.usgovcloudapi.net", "localhost"):
            r = subprocess.run(base + ["-o", "/dev/null", "-w", "%{http_code}", "https://%s/_twin/health" % host],
                               capture_output=True, text=True, timeout=20)
            self.assertEqual((r.returncode, r.stdout), (0, "200"), "%s: %s" % (host, r.stderr))

    def test_percent_encoded_query_names(self):
        tok = self.tw.token()
        r = self.tw.get("%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?api%%2Dversion=2025-09-01"
                        % (tu.ARM, tu.SUB), token=tok)
        self.assertEqual(r.status, 200, r.body)
        kt = self.tw.token("https://vault.azure.net")
        r = self.tw.get("https://kv-rbac.vault.azure.net/keys/key1?api%2Dversion=7.6", token=kt)
        self.assertEqual(r.status, 200, r.body)

    def test_unknown_host(self):
        r = self.tw.get("https://localhost/anything")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "UnknownHost")

    def test_control_api_on_both_listeners(self):
        self.assertTrue(self.tw.health()["ok"])
        r = self.tw.get("https://localhost/_twin/health")
        self.assertEqual(r.status, 200)
        r = self.tw.get("https://management.azure.com/_twin/ops")
        self.assertIn("rotate_key", r.json()["ops"])
        with self.assertRaises(TwinError) as cm:
            self.tw.control("no_such_op")
        self.assertIn("unknown op", str(cm.exception))
        with self.assertRaises(TwinError):
            self.tw.control("disable_key", vault="kv-rbac", key="nope")

    def test_control_api_refuses_non_loopback_peers(self):
        sys.path.insert(0, tu.HERE)
        import twin as twin_mod
        from tw_http import Request
        w = twin_mod.load_scenario(os.path.join(tu.SCENARIOS, "basic.json"))
        app = twin_mod.App(w)

        def req(peer):
            r = Request()
            r.method, r.path, r.peer, r.query, r.body = "GET", "/_twin/health", peer, {}, b""
            return r

        self.assertEqual(app.handle(req("10.1.2.3")).status, 403)
        self.assertEqual(app.handle(req("192.168.0.1")).status, 403)
        self.assertEqual(app.handle(req("127.0.0.1")).status, 200)
        self.assertEqual(app.handle(req("127.5.6.7")).status, 200)

    def test_state_shape(self):
        st = self.tw.state()
        for k in ("now", "clock_offset", "settings", "tenants", "principals", "subscriptions", "identities", "vaults",
                  "role_assignments", "clusters", "operations", "faults"):
            self.assertIn(k, st)
        c = next(c for c in st["clusters"] if c["name"] == "c-stale")
        self.assertEqual(c["clusterStatus"], "Ready")
        self.assertTrue(c["cmk"]["key_url"].startswith("https://kv-rbac.vault.azure.net/keys/key1/"))
        self.assertEqual(st["cmkd_principal"], "cmkd")


class ClientConfig(unittest.TestCase):
    def test_connect_to_and_cmkd_config(self):
        with tu.start("basic.json") as tw:
            self.assertEqual(tw.curl_connect_to(), ["169.254.169.254:80:127.0.0.1:%d" % tw.http_port,
                                                    "::127.0.0.1:%d" % tw.port])
            text = tw.cmkd_config(Daemon={"PollInterval": "10s"}, Network={"MaxRetries": "0"})
            lines = text.splitlines()
            self.assertEqual(lines[0], "[Azure]")
            self.assertIn("Authentication=managed-identity", lines)
            self.assertFalse(any(x.startswith("ClientId=") for x in lines), "system-assigned: no ClientId")
            self.assertIn("Subscriptions=%s %s" % (tu.SUB, tu.SUB_DEV), lines)
            self.assertIn("CAFile=" + tw.ca_file, lines)
            ct = [x for x in lines if x.startswith("ConnectTo=")]
            self.assertEqual(ct, ["ConnectTo=" + c for c in tw.curl_connect_to()])
            self.assertIn("[Daemon]", lines)
            self.assertIn("PollInterval=10s", lines)
            self.assertIn("MaxRetries=0", lines)
        sc = tu.scenario("basic.json")
        sc["cmkd_principal"] = "cmkd-uami"
        with tu.start(sc) as tw:
            cid = next(p for p in tw.state()["principals"] if p["name"] == "cmkd-uami")["client_id"]
            self.assertIn("ClientId=" + cid, tw.cmkd_config().splitlines())
        sc["cmkd_principal"] = "app"
        with tu.start(sc) as tw:
            lines = tw.cmkd_config().splitlines()
            self.assertIn("Authentication=client-secret", lines)
            self.assertIn("TenantId=" + tu.TENANT, lines)
            path = next(x for x in lines if x.startswith("ClientSecretFile=")).split("=", 1)[1]
            with open(path) as f:
                self.assertEqual(f.read(), "s3cret-value")
            self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)


class Log(unittest.TestCase):
    def test_log_records_requests_without_tokens_or_secrets(self):
        with tu.start("basic.json") as tw:
            tokens = [tw.token(), tw.token("https://vault.azure.net"), tw.token(principal="app")]
            self.assertNotEqual(tokens[0], tw.token(), "tokens are random per issue")
            tw.get(tu.cluster_url("c-pinned"), token=tokens[0], headers={"User-Agent": "unit-test/1.0",
                                                                        "x-ms-client-request-id": "abc"})
            tw.put(tu.cluster_url("c-pinned"), token=tokens[0], json_body={"location": "westus2"})
            # The twin logs a request just after answering it: wait (bounded) for the PUT's entry.
            for _ in range(200):
                entries = tw.log()
                if any(e["method"] == "PUT" for e in entries):
                    break
                time.sleep(0.01)
            text = json.dumps(entries)
            for t in tokens:
                self.assertNotIn(t, text)
                self.assertNotIn(t.split(".")[2], text)
            self.assertNotIn("s3cret-value", text)
            get = next(e for e in entries if e["method"] == "GET" and e["service"] == "arm")
            for k in ("seq", "time", "method", "host", "path", "query", "status", "principal", "audience",
                      "user_agent", "headers", "body"):
                self.assertIn(k, get)
            self.assertEqual(get["user_agent"], "unit-test/1.0")
            self.assertEqual(get["headers"]["x-ms-client-request-id"], "abc")
            self.assertEqual(get["auth"], "bearer")
            self.assertNotIn("authorization", {k.lower() for k in get["headers"]})
            self.assertEqual(get["query"], {"api-version": "2025-09-01"})
            self.assertEqual(get["principal"], "cmkd")
            self.assertEqual(get["audience"], "https://management.azure.com/")
            put = next(e for e in entries if e["method"] == "PUT")
            self.assertEqual(put["body"], {"location": "westus2"})
            ent = next(e for e in entries if e["service"] == "entra")
            self.assertEqual(ent["body"]["client_secret"], "<redacted>")
            imds = next(e for e in entries if e["service"] == "imds")
            self.assertEqual(imds["headers"]["metadata"], "true")
            seqs = [e["seq"] for e in entries]
            self.assertEqual(seqs, sorted(seqs))
            last = seqs[-1]
            self.assertEqual(tw.log(since=last), [])
            self.assertEqual([e["seq"] for e in tw.log(since=last - 1)], [last])
            tw.clear_log()
            self.assertEqual(tw.log(), [])

    def test_log_is_a_bounded_ring(self):
        with tu.start(tu.scenario("basic.json", log_max=20)) as tw:
            tok = tw.token()
            for _ in range(50):
                tw.get(tu.cluster_url("c-smk"), token=tok)
            entries = tw.log()
            self.assertEqual(len(entries), 20)
            self.assertEqual(entries[-1]["seq"], 51)
            self.assertEqual(tw.health()["served"], 51)


class Tokens(unittest.TestCase):
    def test_tokens_look_like_jwts(self):
        import base64
        with tu.start("basic.json") as tw:
            tok = tw.token()
            parts = tok.split(".")
            self.assertEqual(len(parts), 3)

            def dec(s):
                return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

            self.assertEqual(dec(parts[0])["typ"], "JWT")
            claims = dec(parts[1])
            self.assertEqual(claims["aud"], "https://management.azure.com/")
            self.assertEqual(claims["oid"], "aaaaaaaa-0000-0000-0000-000000000001")
            self.assertEqual(claims["tid"], tu.TENANT)
            self.assertEqual(claims["exp"] - claims["iat"], 3600)
            t2 = tw.token(principal="cmkd-uami")
            self.assertIn("xms_mirid", dec(t2.split(".")[1]))


if __name__ == "__main__":
    unittest.main()
