# SPDX-License-Identifier: MIT
"""Issue 10 (Managed HSM): cmkd watches keys in a Managed HSM as it watches vault keys, end to
end against the twin (tests/twin), through tests/integration/cmkdlib.py.

  make check-hsm                     (CMKD=/path/to/cmkd for another binary)

What is proved:
  - healthy HSM-backed clusters (every way a local role grants access: the Crypto Service
    Encryption User at /, /keys and /keys/{name}, the Crypto User, a custom local role; RSA-HSM
    of 2048, 3072 and 4096 bits) have no finding at all, beside a vault cluster and a vault
    that has the HSM's name; the HSM listing, its local role assignments and its definitions
    are read once each; every request to the HSM carries an HSM token (audience
    https://managedhsm.azure.net) and no request is answered 401; a fleet without HSM keys
    sends no HSM request; the report (JSON, CSV) says which store type holds each key;
  - broken ones, each in one way, get their finding: access-revoked (local role at another
    key's scope, or removed), key-disabled, key-version-stale, key-type-unsupported (EC-HSM),
    vault-purge-protection-off, vault-firewall-blocks, vault-deleted (HSM deleted),
    vault-region-mismatch, check-unknown when cmkd may not read the role assignments (or the
    keys);
  - a stale pin to an HSM key is repointed end to end with StaleVersion=update (the PUT
    carries the HSM key URL; the twin accepts it because the identity holds its local role);
  - the daemon's second sweep takes the HSM facts from its cache (CacheTTLSec=).

Every wait is bounded; the twin's delays are short. A deleted HSM's name no longer resolves
(the twin drops the connection), and cmkd retries such a request MaxRetries= times with
backoff: the runs that meet one set [Network] MaxRetries=1 so that the file stays quick.
"""

import csv
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cmkdlib  # noqa: E402
import jsonschema_lite  # noqa: E402
from cmkdlib import Fixture, cluster_path_re, requests, writes  # noqa: E402

SCENARIOS = os.path.join(HERE, "scenarios")
HEALTHY = os.path.join(SCENARIOS, "hsm-healthy.json")
BROKEN = os.path.join(SCENARIOS, "hsm-broken.json")
SCHEMA = os.path.join(cmkdlib.ROOT, "man", "cmkd-report.schema.json")
HSM_AUDIENCE = "https://managedhsm.azure.net"
VAULT_AUDIENCE = "https://vault.azure.net"
CSEU = "Managed HSM Crypto Service Encryption User"
FAST = {"Network": {"MaxRetries": "1"}}
HSM_CLUSTERS = ["c-hsm-custom", "c-hsm-key", "c-hsm-keys", "c-hsm-root", "c-hsm-user"]

# hsm-broken.json: what each cluster must show (code:severity), at least.
BROKEN_FINDINGS = {
    "c-ok": set(),
    "c-revoked": {"access-revoked:critical"},
    "c-disabled": {"key-disabled:critical"},
    "c-stale": {"key-version-stale:warning", "key-version-pinned:info"},
    "c-ec": {"key-type-unsupported:critical"},
    "c-purge": {"vault-purge-protection-off:warning"},
    "c-fw": {"vault-firewall-blocks:critical"},
    "c-deleted": {"vault-deleted:critical"},
    "c-noread": {"check-unknown:warning"},
    "c-region": {"vault-region-mismatch:warning"},
}
# ... and exactly these, where nothing else may be wrong (no Inaccessible cluster either).
BROKEN_EXACT = ("c-ok", "c-stale", "c-purge", "c-noread", "c-region")


def setUpModule():
    cmkdlib.cmkd_path()
    for p in (HEALTHY, BROKEN, SCHEMA):
        if not os.path.isfile(p):
            raise RuntimeError("test_hsm cannot run: %s is missing" % p)


def scenario(path, edit=None):
    with open(path) as f:
        sc = json.load(f)
    if edit:
        edit(sc)
    return sc


def findings(run, name):
    return {"%s:%s" % (f["code"], f["severity"]) for f in run.cluster(name)["findings"]}


def hsm_entries(log):
    return [e for e in log if str(e.get("host") or "").endswith(".managedhsm.azure.net")]


class HsmRequests:
    """Assertions on the twin's log that every HSM run must pass."""

    def assert_hsm_audience(self, run):
        hsm = hsm_entries(run.log)
        self.assertTrue(hsm, "no request reached a Managed HSM:\n%s" % run.describe())
        for e in hsm:
            self.assertEqual(e.get("auth"), "bearer", "an HSM request without a token: %s" % e)
            self.assertEqual(e.get("audience"), HSM_AUDIENCE, "an HSM request with a %s token: %s %s"
                             % (e.get("audience"), e.get("host"), e.get("path")))
        for e in run.log:
            if str(e.get("host") or "").endswith(".vault.azure.net"):
                self.assertEqual(e.get("audience"), VAULT_AUDIENCE, e)
        # No 401 at all, so no challenge loop: cmkd asks for the HSM audience from the start.
        unauth = [e for e in run.log if e.get("status") == 401]
        self.assertEqual(unauth, [], "answered 401:\n%s" % cmkdlib.describe_log(unauth))


class HsmHealthy(unittest.TestCase, HsmRequests):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture(HEALTHY)
        cls.sweep = cls.fx.once()

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def test_nothing_above_info(self):
        r = self.sweep
        self.assertEqual(r.returncode, 0, r.describe())
        self.assertEqual(sorted(c["name"] for c in r.json["clusters"]), sorted(HSM_CLUSTERS + ["c-kv"]))
        for c in r.json["clusters"]:
            self.assertEqual((c["name"], c["severity"], c["findings"]), (c["name"], "ok", []), r.describe())
            self.assertEqual(c["key_store"], "vault" if c["name"] == "c-kv" else "managed-hsm")
        self.assertTrue(self.sweep.cluster("c-hsm-root")["key_url"].startswith("https://hsm-weu.managedhsm.azure.net/"))

    def test_hsm_facts_read_once_with_the_hsm_audience(self):
        log = self.sweep.log
        self.assert_hsm_audience(self.sweep)
        self.assertEqual(len(requests(log, "GET", r"/providers/Microsoft\.KeyVault/managedHSMs$", service="arm")), 1)
        self.assertEqual(len(requests(log, "GET", r"/providers/Microsoft\.KeyVault/deletedManagedHSMs$", service="arm")), 1)
        ra = requests(log, "GET", r"^/providers/Microsoft\.Authorization/roleAssignments$", service="hsm")
        self.assertEqual(len(ra), 1, cmkdlib.describe_log(log))
        self.assertEqual(ra[0]["host"], "hsm-weu.managedhsm.azure.net")
        # A custom local role is assigned: the HSM's definitions are read, once.
        self.assertEqual(len(requests(log, "GET", r"^/providers/Microsoft\.Authorization/roleDefinitions$", service="hsm")),
                         1)
        for key in ("cmk-a", "cmk-b", "cmk-c"):
            self.assertEqual(len(requests(log, "GET", r"^/keys/%s$" % key, service="hsm")), 1, key)
        # The vault of the same name is not the HSM: its keys are never read.
        self.assertEqual([e for e in log if e.get("host") == "hsm-weu.vault.azure.net"], [])
        # No Azure RBAC read for an HSM: its access is its local RBAC.
        arm_ra = requests(log, "GET", r"/roleAssignments$", service="arm")
        self.assertEqual(len(arm_ra), 1)
        self.assertIn("/vaults/kv-weu/", arm_ra[0]["path"])

    def test_report_names_the_store_type(self):
        reports = os.path.join(self.fx.dir, "reports")
        self.fx.write_config({"Report": {"Directory": reports}})
        p = cmkdlib.subprocess.run([self.fx.cmkd, "--report", "-c", self.fx.config_path], cwd=self.fx.dir,
                                   env=cmkdlib.clean_env(), capture_output=True, text=True, timeout=120)
        cmkdlib.check_sanitizers(p.stderr, "cmkd --report")
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(reports, "latest.json")) as f:
            doc = json.load(f)
        with open(SCHEMA) as f:
            schema = json.load(f)
        self.assertEqual(jsonschema_lite.validate(doc, schema), [])
        stores = {c["name"]: c["key"]["store"] for c in doc["clusters"]}
        self.assertEqual(stores, dict({n: "managed-hsm" for n in HSM_CLUSTERS}, **{"c-kv": "vault"}))
        hosts = {c["key"]["vault"] for c in doc["clusters"]}
        self.assertEqual(hosts, {"hsm-weu.managedhsm.azure.net", "kv-weu.vault.azure.net"})
        for v in doc["key_versions"]:
            self.assertEqual(v["store"], "managed-hsm" if ".managedhsm." in v["key"] else "vault")
        with open(os.path.join(reports, "latest.csv"), newline="") as f:
            rows = list(csv.reader(f))
        header = rows[0]
        self.assertIn("key_store", header)
        col = header.index("key_store")
        self.assertEqual(sorted({r[col] for r in rows[1:]}), ["managed-hsm", "vault"])


class HsmFleetWithoutHsm(unittest.TestCase):
    def test_no_hsm_request_without_an_hsm_key(self):
        def only_vault(sc):
            sc["clusters"] = [c for c in sc["clusters"] if c["name"] == "c-kv"]
        with Fixture(scenario(HEALTHY, only_vault)) as fx:
            r = fx.once()
            self.assertEqual(r.returncode, 0, r.describe())
            self.assertEqual(hsm_entries(r.log), [])
            self.assertEqual(requests(r.log, path_re=r"managedHSMs", service="arm"), [], r.describe())


class HsmBroken(unittest.TestCase, HsmRequests):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture(BROKEN, sections=FAST)
        cls.sweep = cls.fx.once()

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def test_each_broken_cluster_has_its_finding(self):
        r = self.sweep
        self.assertEqual(r.returncode, 2, r.describe())
        for name, want in sorted(BROKEN_FINDINGS.items()):
            got = findings(r, name)
            if name in BROKEN_EXACT:
                self.assertEqual(got, want, "%s: %s" % (name, r.cluster(name)["findings"]))
            else:
                self.assertTrue(want <= got, "%s: want %s, got %s" % (name, want, got))
        self.assertEqual(r.cluster("c-ok")["severity"], "ok")

    def test_messages_give_the_hsm_commands(self):
        r = self.sweep

        def msg(name, code):
            return [f["message"] for f in r.cluster(name)["findings"] if f["code"] == code][0]
        self.assertIn('az keyvault role assignment create --hsm-name hsm-weu --role "%s"' % CSEU,
                      msg("c-revoked", "access-revoked"))
        self.assertIn("--scope /keys/cmk-ok", msg("c-revoked", "access-revoked"))
        self.assertIn("az keyvault key set-attributes --hsm-name hsm-weu --name cmk-dis",
                      msg("c-disabled", "key-disabled"))
        self.assertIn("https://hsm-weu.managedhsm.azure.net/keys/cmk-rot", msg("c-stale", "key-version-stale"))
        self.assertIn("az keyvault update-hsm --hsm-name hsm-nopurge --enable-purge-protection true",
                      msg("c-purge", "vault-purge-protection-off"))
        self.assertIn("az keyvault update-hsm --hsm-name hsm-closed --bypass AzureServices",
                      msg("c-fw", "vault-firewall-blocks"))
        self.assertIn("az keyvault recover --hsm-name hsm-gone", msg("c-deleted", "vault-deleted"))
        self.assertIn("could not read the identity's role assignments", msg("c-noread", "check-unknown"))
        self.assertIn("Managed HSM hsm-eus is in eastus", msg("c-region", "vault-region-mismatch"))

    def test_the_twin_agrees(self):
        """The DocumentDB service's own view (the twin) breaks the same clusters."""
        reasons = {"c-revoked": "rbac_role_missing", "c-disabled": "key_disabled",
                   "c-ec": "key_type_unsupported", "c-fw": "vault_network_blocked", "c-deleted": "vault_deleted"}
        for name, reason in reasons.items():
            self.assertIn(reason, self.fx.twin.cluster(name)["access_reasons"], name)
        for name in ("c-ok", "c-stale", "c-purge", "c-noread", "c-region"):
            self.assertEqual(self.fx.twin.cluster(name)["access_reasons"], [], name)

    def test_hsm_requests(self):
        # Closed and deleted HSMs answer no 200, but never 401 either.
        hsm = hsm_entries(self.sweep.log)
        for e in hsm:
            self.assertEqual(e.get("audience"), HSM_AUDIENCE, e)
        self.assertEqual([e for e in self.sweep.log if e.get("status") == 401], [])
        # cmkd could not read hsm-noread's role assignments: 403, and then nothing was judged.
        ra = [e for e in hsm if e["host"] == "hsm-noread.managedhsm.azure.net" and "roleAssignments" in e["path"]]
        self.assertEqual([e["status"] for e in ra], [403])


class HsmChanges(unittest.TestCase, HsmRequests):
    """One fixture per test: the healthy HSM world, changed by a control op, then judged."""

    def setUp(self):
        self.fx = Fixture(HEALTHY)
        self.fx.twin.control("freeze_clock")

    def tearDown(self):
        self.fx.close()

    def once(self, code, **sections):
        r = self.fx.once(sections=sections or None)
        self.assertEqual(r.returncode, code, r.describe())
        return r

    def assert_only(self, r, name, want):
        for c in r.json["clusters"]:
            got = findings(r, c["name"])
            if c["name"] == name:
                self.assertEqual(got, want, "%s: %s" % (name, c["findings"]))
            else:
                self.assertEqual(got, set(), "%s: %s" % (c["name"], c["findings"]))

    def test_local_role_removed_then_restored(self):
        self.fx.twin.control("remove_hsm_role_assignment", hsm="hsm-weu", identity="uami-keys", role=CSEU)
        r = self.once(2)
        self.assert_only(r, "c-hsm-keys", {"access-revoked:critical"})
        self.assert_hsm_audience(r)
        # The service notices too: Inaccessible after the delay, and cmkd says so.
        self.fx.twin.control("advance_clock", seconds=3)
        self.assertEqual(self.fx.twin.cluster("c-hsm-keys")["clusterStatus"], "Inaccessible")
        r = self.once(2)
        self.assert_only(r, "c-hsm-keys", {"access-revoked:critical", "cluster-inaccessible:critical"})
        # Restored at /keys/cmk-b: access is back; Ready again after the delay.
        self.fx.twin.control("add_hsm_role_assignment", hsm="hsm-weu", identity="uami-keys", role=CSEU,
                             scope="/keys/cmk-b")
        self.fx.twin.control("advance_clock", seconds=3)
        r = self.once(0)
        self.assert_only(r, "c-hsm-keys", set())

    def test_a_role_at_another_keys_scope_does_not_count(self):
        self.fx.twin.control("remove_hsm_role_assignment", hsm="hsm-weu", identity="uami-key")
        self.fx.twin.control("add_hsm_role_assignment", hsm="hsm-weu", identity="uami-key", role=CSEU,
                             scope="/keys/cmk-a")
        self.fx.twin.control("add_hsm_role_assignment", hsm="hsm-weu", identity="uami-key",
                             role="Managed HSM Crypto Auditor", scope="/")
        r = self.once(2)
        self.assert_only(r, "c-hsm-key", {"access-revoked:critical"})
        self.assertIn("rbac_role_missing", self.fx.twin.cluster("c-hsm-key")["access_reasons"])

    def test_key_disabled(self):
        self.fx.twin.control("disable_key", hsm="hsm-weu", key="cmk-c")
        r = self.once(2)
        self.assert_only(r, "c-hsm-key", {"key-disabled:critical"})

    def test_purge_protection_off_and_firewall(self):
        self.fx.twin.control("set_vault", hsm="hsm-weu", purge_protection=False)
        r = self.once(1)
        for name in HSM_CLUSTERS:
            self.assertEqual(findings(r, name), {"vault-purge-protection-off:warning"}, name)
        self.assertEqual(findings(r, "c-kv"), set())
        self.fx.twin.control("set_vault", hsm="hsm-weu", purge_protection=True)
        self.fx.twin.control("set_network_rules", hsm="hsm-weu", default_action="Deny", bypass="None")
        r = self.once(2)
        for name in HSM_CLUSTERS:
            got = findings(r, name)
            # cmkd is shut out as well: what it could not read is unknown, not judged.
            self.assertIn("vault-firewall-blocks:critical", got, name)
            self.assertIn("check-unknown:warning", got, name)
        self.assertEqual(findings(r, "c-kv"), set())
        # With the trusted-services bypass the service gets in (cmkd, not a trusted service, still not).
        self.fx.twin.control("set_network_rules", hsm="hsm-weu", bypass="AzureServices")
        r = self.once(1)
        for name in HSM_CLUSTERS:
            self.assertNotIn("vault-firewall-blocks:critical", findings(r, name), name)

    def test_hsm_deleted(self):
        self.fx.twin.control("delete_vault", hsm="hsm-weu")
        r = self.once(2, **FAST)
        for name in HSM_CLUSTERS:
            self.assertEqual(findings(r, name), {"vault-deleted:critical"}, name)
        self.assertEqual(findings(r, "c-kv"), set())
        # The vault of the same name is still there and still not the HSM.
        self.assertEqual(len(requests(r.log, "GET", r"/deletedManagedHSMs$", service="arm")), 1)
        # Recovered: healthy again.
        self.fx.twin.control("recover_vault", hsm="hsm-weu")
        self.once(0)

    def test_cmkd_may_not_read_the_role_assignments(self):
        self.fx.twin.control("remove_hsm_role_assignment", hsm="hsm-weu", principal="cmkd")
        self.fx.twin.control("add_hsm_role_definition", hsm="hsm-weu", name="keys reader",
                             data_actions=["Microsoft.KeyVault/managedHsm/keys/read/action"])
        self.fx.twin.control("add_hsm_role_assignment", hsm="hsm-weu", principal="cmkd", role="keys reader")
        r = self.once(1)
        for name in HSM_CLUSTERS:
            self.assertEqual(findings(r, name), {"check-unknown:warning"}, name)
            (f,) = r.cluster(name)["findings"]
            self.assertIn("could not read the identity's role assignments", f["message"])
            self.assertIn("HTTP 403", f["message"])
            self.assertIn("Managed HSM Crypto Auditor", f["message"])
        self.assertEqual(findings(r, "c-kv"), set())
        self.assert_hsm_audience_no_401(r)

    def test_cmkd_without_a_local_role(self):
        self.fx.twin.control("remove_hsm_role_assignment", hsm="hsm-weu", principal="cmkd")
        r = self.once(1)
        for name in HSM_CLUSTERS:
            self.assertEqual(findings(r, name), {"check-unknown:warning"}, name)
            self.assertIn("could not read the key of cluster", r.cluster(name)["findings"][0]["message"])
        self.assert_hsm_audience_no_401(r)

    def assert_hsm_audience_no_401(self, r):
        for e in hsm_entries(r.log):
            self.assertEqual(e.get("audience"), HSM_AUDIENCE, e)
        self.assertEqual([e for e in r.log if e.get("status") == 401], [])


class HsmUpdate(unittest.TestCase, HsmRequests):
    """A stale pin to an HSM key, StaleVersion=update: repointed end to end."""

    def pinned_world(self, sc):
        sc["clusters"].append({"name": "c-hsm-stale", "resource_group": "rg-data", "location": "westus2",
                               "cmk": {"identity": "uami-keys", "hsm": "hsm-weu", "key": "cmk-a", "version": 0}})

    def run_update(self, target):
        with Fixture(scenario(HEALTHY, self.pinned_world)) as fx:
            old_url = fx.twin.cluster("c-hsm-stale")["cmk"]["key_url"]
            st = fx.twin.state()
            hsm = [v for v in st["vaults"] if v["name"] == "hsm-weu" and v["hsm"]][0]
            current = [k for k in hsm["keys"] if k["name"] == "cmk-a"][0]["current"]
            self.assertFalse(old_url.endswith(current))
            fx.sections = {"Policy": {"StaleVersion": "update", "UpdateTarget": target}}
            r = fx.once()
            self.assertEqual(r.returncode, 1, r.describe())  # the stale finding of this sweep: warning
            want = "https://hsm-weu.managedhsm.azure.net/keys/cmk-a" + ("" if target == "versionless"
                                                                          else "/" + current)
            a = r.action("c-hsm-stale")
            self.assertEqual((a["outcome"], a["new_key_url"], a["old_key_url"]), ("succeeded", want, old_url),
                             r.describe())
            puts = writes(r.log, cluster_path_re("c-hsm-stale"))
            self.assertEqual(len(puts), 1, r.describe())
            self.assertEqual(puts[0]["method"], "PUT")
            cmk = puts[0]["body"]["properties"]["encryption"]["customerManagedKeyEncryption"]
            self.assertEqual(cmk["keyEncryptionKeyUrl"], want)
            self.assertTrue(cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"].endswith(
                "/userAssignedIdentities/uami-keys"))
            self.assertEqual(len(writes(r.log)), 1, "only the stale cluster is written")
            c = fx.twin.cluster("c-hsm-stale")
            self.assertEqual((c["cmk"]["key_url"], c["provisioningState"], c["clusterStatus"]),
                             (want, "Succeeded", "Ready"))
            results = [e["result"] for e in fx.audit() if e.get("cluster", "").endswith("/c-hsm-stale")]
            self.assertEqual(results[-2:], ["started", "succeeded"])
            self.assert_hsm_audience(r)
            # The next sweep finds nothing to do.
            r2 = fx.once()
            self.assertEqual(r2.returncode, 0, r2.describe())
            self.assertEqual(writes(r2.log), [])
            self.assertIsNone(r2.action("c-hsm-stale"))

    def test_update_to_the_versionless_hsm_url(self):
        self.run_update("versionless")

    def test_update_to_the_current_hsm_version(self):
        self.run_update("latest")


class HsmDaemonCache(unittest.TestCase):
    def test_second_sweep_takes_hsm_facts_from_the_cache(self):
        with Fixture(HEALTHY) as fx:
            fx.twin.clear_log()
            d = fx.daemon(sections={"Daemon": {"PollIntervalSec": "10s"}, "Network": {"RequestTimeoutSec": "5s"}})
            d.wait_for(r"Sweep done", timeout=60, count=2)

            def two_sweeps():
                lg = cmkdlib.settled_log(fx.twin)
                return lg if len(requests(lg, "GET", r"/mongoClusters$", service="arm")) >= 2 else None
            log = fx.wait_until(two_sweeps, 30, "two sweeps", daemon=d)
            code = d.stop()
            self.assertEqual(code, 0, d.stderr[-3000:])
            second = [e for e in log
                      if e["seq"] >= requests(log, "GET", r"/mongoClusters$", service="arm")[1]["seq"]]
            self.assertEqual(requests(second, path_re=r"managedHSMs", service="arm"), [])
            self.assertEqual(requests(second, path_re=r"/providers/Microsoft\.Authorization/", service="hsm"), [])
            # the keys themselves are read every sweep
            self.assertEqual(len(requests(second, "GET", r"^/keys/cmk-a$", service="hsm")), 1)
            for e in hsm_entries(log):
                self.assertEqual(e.get("audience"), HSM_AUDIENCE, e)


if __name__ == "__main__":
    unittest.main()
