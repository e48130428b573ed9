# Integration tests of cmkd's engine (http, auth, azure, arm, kv) against the twin, through
# build/engine-driver. They assert on the twin's request log: what reached "Azure", how
# often, in which order and how far apart (the twin's timestamps, never our clock).
#
#   ENGINE_DRIVER=build/engine-driver python3 -m unittest -v tests/integration/test_engine.py

import copy
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "twin"))

from twinlib import Twin, make_assertion  # noqa: E402

DRIVER = os.environ.get("ENGINE_DRIVER", os.path.join(ROOT, "build", "engine-driver"))
with open(os.path.join(ROOT, "tests", "twin", "scenarios", "basic.json")) as f:
    BASIC = json.load(f)

ARM = "https://management.azure.com"
SUB = "11111111-1111-1111-1111-111111111111"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLUSTERS = ARM + "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01" % SUB
CLUSTERS_PATH = "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % SUB
C_PINNED_PATH = "/subscriptions/%s/resourceGroups/rg-data/providers/Microsoft.DocumentDB/mongoClusters/c-pinned" % SUB
C_PINNED = ARM + C_PINNED_PATH + "?api-version=2025-09-01"
UAMI_A = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-a" % SUB
KEY1 = "https://kv-rbac.vault.azure.net/keys/key1"
PATCH_BODY = json.dumps({
    "identity": {"type": "UserAssigned", "userAssignedIdentities": {UAMI_A: {}}},
    "properties": {"encryption": {"customerManagedKeyEncryption": {
        "keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity", "userAssignedIdentityResourceId": UAMI_A},
        "keyEncryptionKeyUrl": KEY1}}}})


def scenario(**settings):
    s = copy.deepcopy(BASIC)
    s.setdefault("settings", {}).update(settings)
    return s


class EngineTest(unittest.TestCase):
    twin = None

    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise RuntimeError("engine driver %s is missing: build it with 'make build/engine-driver' "
                               "or set ENGINE_DRIVER" % DRIVER)

    def start(self, sc=None, **settings):
        tw = Twin(sc if sc is not None else scenario(**settings))
        self.addCleanup(tw.stop)
        return tw

    def args(self, tw, ca_file=None):
        out = ["--ca-file", ca_file or tw.ca_file]
        for c in tw.curl_connect_to():
            out += ["--connect-to", c]
        # Quick retries for tests; the defaults are 1 s .. 60 s.
        return out + ["--backoff-base-ms", "200", "--backoff-cap-ms", "1000"]

    def run_driver(self, tw, *ops, extra=(), ca_file=None, env=None, expect_ok=True, timeout=120, connect_first=()):
        # curl takes the first connect-to entry that matches: special ones go first.
        first = [x for c in connect_first for x in ("--connect-to", c)]
        cmd = [DRIVER] + first + self.args(tw, ca_file) + list(extra) + list(ops)
        e = dict(os.environ)
        for k in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
            e.pop(k, None)
        e.update(env or {})
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e)
        # Under the sanitizer build (make BUILD=build-asan SAN=1), any report fails the test.
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in p.stderr:
                self.fail("sanitizer report from the driver:\n%s" % p.stderr[-6000:])
        lines = [json.loads(x) for x in p.stdout.splitlines() if x.strip()]
        results = [x for x in lines if "op" in x]
        stats = next((x["stats"] for x in lines if "stats" in x), None)
        self.settle(tw)
        if expect_ok and p.returncode != 0:
            self.fail("driver failed (%d):\n%s\n%s\ntwin stderr:\n%s" % (p.returncode, p.stdout, p.stderr[-4000:],
                                                                       tw.stderr()[-3000:]))
        return results, stats, p

    @staticmethod
    def settle(tw):
        """The twin logs a request after writing its answer, so the driver may be gone
        before the last entry is in: wait (at most 5 s) until the log stops growing."""
        last, deadline = -1, time.time() + 5
        while time.time() < deadline:
            n = tw.health()["log_seq"]
            if n == last:
                return
            last = n
            time.sleep(0.1)

    @staticmethod
    def reqs(tw, service=None, method=None, path=None, path_prefix=None, at_least=0):
        """The twin's log entries that match, each with "start": when the twin began to
        read it (its log "time" is taken after the answer was written, so causally ordered
        requests on different connections may be logged out of order). With at_least, waits
        (up to 10 s) for the twin to log that many: it logs after writing the answer."""
        deadline = time.time() + 10
        while True:
            out = EngineTest._match(tw.log(), service, method, path, path_prefix)
            if len(out) >= at_least or time.time() > deadline:
                return out
            time.sleep(0.05)

    @staticmethod
    def _match(log, service, method, path, path_prefix):
        out = []
        for e in log:
            e["start"] = e["time"] - e["duration_ms"] / 1000.0
            if service and e["service"] != service:
                continue
            if method and e["method"] != method:
                continue
            if path and e["path"] != path:
                continue
            if path_prefix and not e["path"].startswith(path_prefix):
                continue
            out.append(e)
        return sorted(out, key=lambda e: e["start"])

    def assertSpacing(self, entries, at_least_s):
        # From the start of one to the start of the next: the client got the first answer
        # after the first start and waited at least at_least_s before sending the next.
        for a, b in zip(entries, entries[1:]):
            self.assertGreaterEqual(b["start"] - a["start"], at_least_s,
                                    "requests %d and %d only %.3f s apart" % (a["seq"], b["seq"], b["start"] - a["start"]))

    # --- paging -----------------------------------------------------------------------

    def test_paging_each_page_once(self):
        tw = self.start(arm_page_size=2)
        res, stats, _ = self.run_driver(tw, "list", CLUSTERS)
        n = len([c for c in BASIC["clusters"] if c["subscription"] == "prod"])
        self.assertEqual(res[0]["items"], n)
        pages = (n + 1) // 2
        self.assertEqual(res[0]["pages"], pages)
        log = self.reqs(tw, "arm", "GET", CLUSTERS_PATH)
        self.assertEqual(len(log), pages)
        queries = [json.dumps(e["query"], sort_keys=True) for e in log]
        self.assertEqual(len(set(queries)), pages, "a page was requested twice")
        self.assertTrue(all(e["status"] == 200 for e in log))
        self.assertEqual(stats["calls"]["arm-list"], pages)

    # --- long-running operations ------------------------------------------------------

    def test_lro_succeeded(self):
        tw = self.start(lro_delay_s=1.5, retry_after_s=1)
        res, _, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, extra=["--lro-poll-min-ms", "300"])
        r = res[0]
        self.assertEqual(r["status"], 202)
        self.assertIn("mongoClusterAzureAsyncOperation", r["async_operation"])
        self.assertEqual(r["lro"]["status"], "Succeeded")
        self.assertEqual(r["lro"]["last_status"], 200)
        patch = self.reqs(tw, "arm", "PATCH", C_PINNED_PATH)
        polls = self.reqs(tw, "arm", "GET", path_prefix="/subscriptions/%s/providers/Microsoft.DocumentDB/locations/" % SUB)
        final = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual(len(patch), 1)
        self.assertGreaterEqual(len(polls), 1)
        self.assertTrue(all("mongoClusterAzureAsyncOperation" in e["path"] for e in polls), "Location polled though "
                        "Azure-AsyncOperation was given")
        self.assertEqual(len(final), 1, "PATCH with Azure-AsyncOperation ends with one GET of the resource")
        self.assertLess(polls[-1]["start"], final[0]["start"])
        # Retry-After: 1 on every answer: polls at least a second apart.
        self.assertSpacing(patch + polls, 1.0)
        self.assertEqual(r["lro"]["polls"], len(polls) + 1)

    def test_lro_failed(self):
        tw = self.start(lro_outcome="Failed", lro_delay_s=0.5, retry_after_s=0)
        res, _, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, expect_ok=False,
                                    extra=["--lro-poll-min-ms", "200"])
        lro = res[0]["lro"]
        self.assertEqual(lro["error"], 0)
        self.assertEqual(lro["status"], "Failed")
        self.assertEqual(lro["code"], "InternalServerError")
        self.assertEqual(len(self.reqs(tw, "arm", "GET", C_PINNED_PATH)), 0, "no final GET after a failure")

    def test_lro_deadline_then_resume(self):
        tw = self.start(lro_outcome="Never", retry_after_s=0)
        res, _, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, expect_ok=False,
                                    extra=["--lro-deadline-ms", "1500", "--lro-poll-min-ms", "200",
                                           "--lro-poll-max-ms", "400"])
        r = res[0]
        self.assertEqual(r["lro"]["errno"], "ETIME")
        polls = self.reqs(tw, "arm", "GET", path_prefix="/subscriptions/%s/providers/Microsoft.DocumentDB/locations/" % SUB)
        self.assertGreaterEqual(len(polls), 2)
        # "Retry-After: 0" on every answer, yet no busy loop: polls at least poll_min apart
        # (but the last, cut short to look once more at the deadline).
        self.assertSpacing(polls[:-1], 0.2)
        # The deadline bounds polling: nothing after it, judged by the twin's clock.
        patch = self.reqs(tw, "arm", "PATCH", C_PINNED_PATH)[0]
        self.assertLess(polls[-1]["start"] - patch["start"], 1.5 + 1.0)
        # "After a crash": resume from the stored URLs once the operation has finished.
        self.assertEqual(tw.control("finish_operations", outcome="Succeeded", force=True)["finished"], 1)
        res2, _, _ = self.run_driver(tw, "lro-resume", "PATCH", C_PINNED, r["async_operation"], r["location"])
        self.assertEqual(res2[0]["lro"]["status"], "Succeeded")
        self.assertEqual(res2[0]["lro"]["last_status"], 200)

    # --- retries ------------------------------------------------------------------------

    def test_retry_connection_reset(self):
        tw = self.start()
        tw.add_fault(action="reset", service="arm", method="GET", path=C_PINNED_PATH, first=2)
        res, stats, _ = self.run_driver(tw, "get", C_PINNED)
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual([e["status"] for e in log], [0, 0, 200])
        self.assertEqual([e.get("transport") for e in log[:2]], ["reset", "reset"])
        self.assertSpacing(log, 0.2)

    def test_retry_500_read(self):
        tw = self.start()
        tw.add_fault(action="status", status=500, service="arm", method="GET", path=C_PINNED_PATH, first=2)
        res, stats, _ = self.run_driver(tw, "get", C_PINNED)
        self.assertEqual(res[0]["status"], 200)
        self.assertEqual(res[0]["attempts"], 3)
        log = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual([e["status"] for e in log], [500, 500, 200])
        self.assertSpacing(log, 0.2)  # backoff base
        self.assertEqual(stats["retries"], 2)

    def test_retry_gives_up(self):
        tw = self.start()
        tw.add_fault(action="status", status=502, service="arm", method="GET", path=C_PINNED_PATH)
        res, _, _ = self.run_driver(tw, "get", C_PINNED, extra=["--max-retries", "2"], expect_ok=False)
        self.assertEqual(res[0]["errno"], "EIO")
        self.assertEqual(res[0]["status"], 502)
        self.assertEqual(len(self.reqs(tw, "arm", "GET", C_PINNED_PATH)), 3)

    def test_retry_503_retry_after(self):
        tw = self.start()
        tw.add_fault(action="status", status=503, retry_after=1, service="arm", method="GET", path=C_PINNED_PATH,
                     first=1)
        res, _, _ = self.run_driver(tw, "get", C_PINNED)
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual([e["status"] for e in log], [503, 200])
        self.assertSpacing(log, 1.0)

    def test_retry_429_retry_after(self):
        tw = self.start()
        tw.add_fault(action="throttle", retry_after=2, service="arm", method="GET", path=C_PINNED_PATH, first=1)
        res, stats, _ = self.run_driver(tw, "get", C_PINNED)
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual([e["status"] for e in log], [429, 200])
        self.assertSpacing(log, 2.0)
        self.assertEqual(stats["throttled"], 1)

    def test_retry_429_key_vault(self):
        tw = self.start()
        tw.add_fault(action="throttle", retry_after=1, service="kv", path="/keys/key1", first=1)
        res, stats, _ = self.run_driver(tw, "kv-key", KEY1)
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "kv", "GET", "/keys/key1")
        self.assertEqual([e["status"] for e in log], [429, 200])
        self.assertSpacing(log, 1.0)

    def test_write_not_retried_after_500(self):
        tw = self.start()
        tw.add_fault(action="status", status=500, service="arm", method="PATCH", first=1)
        res, stats, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, expect_ok=False)
        self.assertEqual(res[0]["status"], 500)
        self.assertEqual(res[0]["errno"], "EIO")
        self.assertEqual(res[0]["attempts"], 1)
        self.assertEqual(len(self.reqs(tw, "arm", "PATCH")), 1)

    def test_write_not_retried_after_reset(self):
        tw = self.start()
        tw.add_fault(action="reset", service="arm", method="PATCH", first=1)
        res, _, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, expect_ok=False)
        self.assertLess(res[0]["error"], 0)
        self.assertEqual(len(self.reqs(tw, "arm", "PATCH")), 1, "a write that may have landed was sent again")

    def test_write_retried_after_503_with_retry_after(self):
        tw = self.start(lro_delay_s=0.2, retry_after_s=0)
        tw.add_fault(action="status", status=503, retry_after=1, service="arm", method="PATCH", first=1)
        res, _, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY)
        self.assertEqual(res[0]["status"], 202)
        log = self.reqs(tw, "arm", "PATCH")
        self.assertEqual([e["status"] for e in log], [503, 202])
        self.assertSpacing(log, 1.0)

    def test_write_retried_when_never_connected(self):
        tw = self.start()
        # ARM mapped to a port nobody listens on: the PATCH never left, so it is retried.
        with socket_closed_port() as port:
            res, stats, _ = self.run_driver(tw, "patch", C_PINNED, PATCH_BODY, expect_ok=False,
                                            connect_first=["management.azure.com:443:127.0.0.1:%d" % port],
                                            extra=["--max-retries", "2"])
        self.assertEqual(res[0]["errno"], "ECONNREFUSED")
        self.assertEqual(res[0]["attempts"], 3)
        self.assertEqual(len(self.reqs(tw, "arm", "PATCH")), 0)

    # --- tokens ---------------------------------------------------------------------------

    def test_token_refreshed_before_expiry(self):
        tw = self.start(token_lifetime_s=6)
        res, stats, _ = self.run_driver(tw, "get", C_PINNED, "sleep", "4000", "get", C_PINNED)
        imds = self.reqs(tw, "imds")
        arm = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual([e["status"] for e in arm], [200, 200], "no request met an expired token")
        self.assertEqual(len(imds), 2)
        first, second = imds
        # Refreshed ahead: about half-way (expires_on is whole seconds, so the lifetime we
        # see is 5-6 s), and before the first token expired.
        self.assertGreaterEqual(second["start"] - first["start"], 2.4)
        self.assertLess(second["start"] - first["start"], 6.0)
        self.assertLess(second["start"], arm[1]["start"])
        self.assertEqual(stats["token_fetches"], 2)

    def test_token_concurrent_waiters_coalesced(self):
        tw = self.start()
        res, stats, _ = self.run_driver(tw, "kv-key", KEY1, extra=["--parallel", "--repeat", "10"])
        self.assertEqual(len(res), 10)
        self.assertEqual(len(self.reqs(tw, "imds")), 1, "ten waiters, one token request")

    def test_arm_401_refresh_once(self):
        tw = self.start()
        tw.add_fault(action="status", status=401, service="arm", method="GET", path=C_PINNED_PATH, first=1,
                     code="InvalidAuthenticationToken")
        res, stats, _ = self.run_driver(tw, "get", C_PINNED)
        self.assertEqual(res[0]["status"], 200)
        self.assertEqual(stats["auth_retries"], 1)
        self.assertEqual(len(self.reqs(tw, "imds")), 2, "the rejected token was replaced")
        self.assertEqual([e["status"] for e in self.reqs(tw, "arm", "GET", C_PINNED_PATH)], [401, 200])

    def test_arm_401_twice_fails(self):
        tw = self.start()
        tw.add_fault(action="status", status=401, service="arm", method="GET", path=C_PINNED_PATH)
        res, stats, _ = self.run_driver(tw, "get", C_PINNED, expect_ok=False)
        self.assertEqual(res[0]["errno"], "EACCES")
        self.assertEqual(len(self.reqs(tw, "arm", "GET", C_PINNED_PATH)), 2, "one refresh, one repeat, no more")

    def revoke_between(self, tw, extra=()):
        """Runs kv-key, sleep, kv-key; revokes every token while the driver sleeps."""
        cmd = [DRIVER] + self.args(tw) + list(extra) + ["kv-key", KEY1, "sleep", "1500", "kv-key", KEY1]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            first = json.loads(p.stdout.readline())
            self.assertEqual(first["status"], 200)
            tw.control("revoke_tokens")
            rest = [json.loads(x) for x in p.stdout.read().splitlines() if x.strip()]
        finally:
            p.wait(60)
            p.stderr.close()
            p.stdout.close()
        self.settle(tw)
        return [x for x in rest if x.get("op") == "kv-key"][0]

    def test_key_vault_challenge_after_revocation(self):
        tw = self.start()
        second = self.revoke_between(tw)
        self.assertEqual(second["status"], 200)
        log = self.reqs(tw, "kv", "GET", "/keys/key1")
        self.assertEqual([e["status"] for e in log], [200, 401, 200])
        self.assertEqual(log[1]["error_code"], "Unauthorized")
        imds = self.reqs(tw, "imds")
        self.assertEqual(len(imds), 2)
        self.assertTrue(log[1]["start"] < imds[1]["start"] < log[2]["start"])
        self.assertEqual(imds[1]["query"].get("resource"), "https://vault.azure.net")

    def test_key_vault_challenge_other_tenant_refused(self):
        # cmkd is configured for another tenant: the vault's challenge (naming the twin's
        # tenant) is refused, and no new token is fetched or sent.
        tw = self.start()
        second = self.revoke_between(tw, ["--tenant", "99999999-9999-9999-9999-999999999999"])
        self.assertEqual(second["errno"], "EACCES")
        self.assertIn("belongs to tenant " + TENANT, second["message"])
        self.assertEqual([e["status"] for e in self.reqs(tw, "kv", "GET", "/keys/key1")], [200, 401])
        self.assertEqual(len(self.reqs(tw, "imds")), 1)

    def test_imds_retries(self):
        tw = self.start()
        tw.add_fault(action="status", status=500, service="imds", first=1)
        tw.add_fault(action="status", status=410, service="imds", after=1, first=1)
        res, _, _ = self.run_driver(tw, "token", "https://management.azure.com/")
        self.assertEqual(res[0]["error"], 0)
        self.assertEqual([e["status"] for e in self.reqs(tw, "imds")], [500, 410, 200])
        log = self.reqs(tw, "imds")
        self.assertTrue(all(e["headers"].get("metadata") == "true" for e in log))
        self.assertEqual(log[0]["query"]["api-version"], "2018-02-01")
        self.assertEqual(log[0]["query"]["resource"], "https://management.azure.com/")

    def test_imds_400_not_retried(self):
        tw = self.start()
        res, _, _ = self.run_driver(tw, "token", "https://management.azure.com/",
                                    extra=["--client-id", "00000000-0000-0000-0000-00000000dead"], expect_ok=False)
        self.assertEqual(res[0]["errno"], "EACCES")
        self.assertEqual(res[0]["status"], 400)
        log = self.reqs(tw, "imds")
        self.assertEqual(len(log), 1)
        self.assertEqual(log[0]["query"].get("client_id"), "00000000-0000-0000-0000-00000000dead")

    def test_imds_user_assigned(self):
        tw = self.start()
        client_id = next(p for p in tw.state()["principals"] if p["name"] == "cmkd-uami")["client_id"]
        res, _, _ = self.run_driver(tw, "get", C_PINNED, extra=["--client-id", client_id])
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "imds")
        self.assertEqual(log[0]["query"].get("client_id"), client_id)
        self.assertEqual(self.reqs(tw, "arm")[0]["principal"], "cmkd-uami")

    def app_scenario(self):
        sc = scenario()
        sc["cmkd_principal"] = "app"
        return sc

    def app_client_id(self, tw):
        return next(p for p in tw.state()["principals"] if p["name"] == "app")["client_id"]

    def test_client_secret(self):
        tw = self.start(self.app_scenario())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "secret")
            with open(path, "w") as f:
                f.write("s3cret-value\n")
            os.chmod(path, 0o600)
            res, _, p = self.run_driver(tw, "get", C_PINNED, "kv-key", KEY1,
                                        extra=["--auth", "client-secret", "--tenant", TENANT, "--client-id",
                                               self.app_client_id(tw), "--client-secret-file", path, "--debug"])
        self.assertEqual([r["status"] for r in res], [200, 200])
        log = self.reqs(tw, "entra", "POST")
        self.assertEqual([e["path"] for e in log], ["/%s/oauth2/v2.0/token" % TENANT] * 2)
        self.assertEqual(log[0]["body"]["grant_type"], "client_credentials")
        self.assertEqual(log[0]["body"]["scope"], "https://management.azure.com/.default")
        self.assertEqual(log[1]["body"]["scope"], "https://vault.azure.net/.default")
        self.assertEqual(log[0]["body"]["client_secret"], "<redacted>")
        # Nothing secret in what the driver or the engine's debug log wrote.
        self.assertNotIn("s3cret-value", p.stdout + p.stderr)
        self.assertNotIn("Bearer ", p.stderr)

    def test_client_secret_from_credentials_directory(self):
        tw = self.start(self.app_scenario())
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "cmkd-secret"), "w") as f:
                f.write("s3cret-value")
            os.chmod(os.path.join(d, "cmkd-secret"), 0o400)
            res, _, _ = self.run_driver(tw, "token", "https://management.azure.com/",
                                        extra=["--auth", "client-secret", "--tenant", TENANT, "--client-id",
                                               self.app_client_id(tw), "--client-secret-file", "cmkd-secret"],
                                        env={"CREDENTIALS_DIRECTORY": d})
        self.assertEqual(res[0]["error"], 0)

    def test_client_secret_world_readable_refused(self):
        tw = self.start(self.app_scenario())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "secret")
            with open(path, "w") as f:
                f.write("s3cret-value")
            os.chmod(path, 0o644)
            res, _, _ = self.run_driver(tw, "token", "https://management.azure.com/", expect_ok=False,
                                        extra=["--auth", "client-secret", "--tenant", TENANT, "--client-id",
                                               self.app_client_id(tw), "--client-secret-file", path])
        self.assertEqual(res[0]["errno"], "EPERM")
        self.assertIn("readable by others", res[0]["message"])
        self.assertEqual(self.reqs(tw, "entra"), [], "no token request with a leaked secret")

    def test_client_secret_wrong(self):
        tw = self.start(self.app_scenario())
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "secret")
            with open(path, "w") as f:
                f.write("wrong")
            os.chmod(path, 0o600)
            res, _, _ = self.run_driver(tw, "get", C_PINNED, expect_ok=False,
                                        extra=["--auth", "client-secret", "--tenant", TENANT, "--client-id",
                                               self.app_client_id(tw), "--client-secret-file", path])
        self.assertEqual(res[0]["errno"], "EACCES")
        self.assertEqual(res[0]["code"], "invalid_client")
        self.assertEqual(len(self.reqs(tw, "entra")), 1, "a refused secret is not tried again")
        self.assertEqual(self.reqs(tw, "arm"), [])

    def test_workload_identity(self):
        tw = self.start(self.app_scenario())
        fed = BASIC["principals"][2]["federated"]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "token")
            with open(path, "w") as f:
                f.write(make_assertion(fed["issuer"], fed["subject"]))
            res, _, _ = self.run_driver(tw, "get", C_PINNED,
                                        extra=["--auth", "workload-identity", "--tenant", TENANT, "--client-id",
                                               self.app_client_id(tw), "--federated-token-file", path])
        self.assertEqual(res[0]["status"], 200)
        log = self.reqs(tw, "entra", "POST")
        self.assertEqual(len(log), 1)
        self.assertEqual(log[0]["body"]["client_assertion_type"],
                         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        self.assertEqual(log[0]["body"]["client_assertion"], "<redacted>")

    # --- pacing -------------------------------------------------------------------------------

    def burst(self, tw, n, *extra):
        return self.run_driver(tw, "get", C_PINNED, extra=["--parallel", "--repeat", str(n), "--max-concurrent", "8"]
                               + list(extra), expect_ok=False)

    def test_pacing_small_bucket_no_429(self):
        tw = self.start()
        tw.control("set_throttle", reads={"capacity": 12, "refill": 6})
        res, stats, _ = self.burst(tw, 60)
        log = self.reqs(tw, "arm", "GET", C_PINNED_PATH)
        self.assertEqual(len(log), 60)
        self.assertEqual([e for e in log if e["status"] == 429], [])
        self.assertTrue(all(r["status"] == 200 for r in res))
        self.assertEqual(stats["throttled"], 0)
        self.assertGreater(stats["paced"], 0)

    def test_pacing_off_meets_429(self):
        # The same burst without pacing: the bucket runs dry. Shows the test above can fail.
        tw = self.start()
        tw.control("set_throttle", reads={"capacity": 12, "refill": 6})
        res, stats, _ = self.burst(tw, 60, "--no-pacing", "--max-retries", "10")
        self.assertGreater(len([e for e in self.reqs(tw, "arm") if e["status"] == 429]), 0)
        self.assertGreater(stats["throttled"], 0)

    # --- limits and TLS -------------------------------------------------------------------------

    def test_response_cap(self):
        tw = self.start()
        tw.add_fault(action="huge_body", size_bytes=2 * 1024 * 1024, service="arm", method="GET", path=C_PINNED_PATH)
        res, _, _ = self.run_driver(tw, "get", C_PINNED, expect_ok=False)
        self.assertEqual(res[0]["errno"], "E2BIG")
        self.assertEqual(res[0]["attempts"], 1, "an oversized answer is not asked for again")
        self.assertEqual(len(self.reqs(tw, "arm", "GET", C_PINNED_PATH, at_least=1)), 1)

    def test_list_page_cap_is_larger(self):
        tw = self.start()
        tw.add_fault(action="huge_body", size_bytes=2 * 1024 * 1024, service="arm", method="GET", path=CLUSTERS_PATH)
        res, _, _ = self.run_driver(tw, "get", CLUSTERS, expect_ok=False)
        self.assertEqual(res[0]["errno"], "E2BIG")  # as a resource: 1 MiB
        res, _, _ = self.run_driver(tw, "list", CLUSTERS)  # as a list page: 8 MiB
        self.assertEqual(res[0]["status"], 200)

    def test_bad_ca_fails(self):
        tw = self.start()
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                            os.path.join(d, "k.pem"), "-out", os.path.join(d, "ca.pem"), "-days", "1", "-subj",
                            "/CN=not the twin"], check=True, capture_output=True)
            res, stats, _ = self.run_driver(tw, "get", C_PINNED, ca_file=os.path.join(d, "ca.pem"), expect_ok=False)
        self.assertEqual(res[0]["errno"], "EPERM")
        self.assertEqual(res[0]["status"], 0)
        self.assertEqual(res[0]["attempts"], 1, "a TLS verification failure is not retried")
        self.assertEqual(self.reqs(tw, "arm"), [], "no request got through")

    def test_system_trust_store_does_not_know_the_twin(self):
        tw = self.start()
        res, _, _ = self.run_driver(tw, "get", C_PINNED, ca_file="/etc/ssl/certs/ca-certificates.crt", expect_ok=False)
        self.assertEqual(res[0]["errno"], "EPERM")
        self.assertEqual(self.reqs(tw, "arm"), [])

    def test_missing_ca_file(self):
        tw = self.start()
        _, _, p = self.run_driver(tw, "get", C_PINNED, ca_file="/nonexistent/ca.pem", expect_ok=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout.splitlines()[0])["errno"], "ENOENT")

    def test_host_not_named_by_cloud(self):
        tw = self.start()
        res, _, _ = self.run_driver(tw, "get", "https://management.azure.com.evil.example/x?api-version=1",
                                    "kv-key", "https://kv-rbac.vault.azure.net.evil.example/keys/key1",
                                    expect_ok=False)
        self.assertEqual([r["errno"] for r in res], ["EPERM", "EINVAL"])
        self.assertEqual(tw.log(), [], "no token, no request")


class socket_closed_port:
    """A loopback port with nothing listening (bound, then closed)."""

    def __enter__(self):
        import socket
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        return self.port

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    unittest.main()
