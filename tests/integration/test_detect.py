# SPDX-License-Identifier: MIT
"""Issue 4 ("Detect") end to end: cmkd --once against the twin.

  make check-detect                 (CMKD=path tries another binary, e.g. an ASan build)

Scenarios (tests/integration/scenarios/, the twin's format):
  findings.json   one cluster per way of being broken, named for what it must show, plus
                  healthy clusters on the near side of each boundary;
  healthy.json    a fleet that must show nothing above info (exit 0);
  discovery.json  two visible subscriptions and one of another tenant, names, resource
                  groups and tags to select by, a geo replica;
  fleet.json      32 clusters sharing four keys, three identities, three vaults.

What is proved: every finding code of the issue, each with its exact set of codes and
severities per cluster (not "contains"), and that the twin (the service's own view) agrees
the broken clusters are broken; healthy clusters give nothing above info; exit codes
0/1/2/3; discovery by subscription, resource group, name glob and tag, with excluded
clusters causing no reads; each distinct fact read once per sweep and, in the daemon, a
second sweep within CacheTTLSec= reading only list pages and keys; the table layout; the
JSON fields and their types. Every run is bounded (cmkdlib timeouts).
"""

import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture, finding_set, requests, scenario_path, settled_log  # noqa: E402

# --- expectations, in one place -------------------------------------------------------------

# Every finding code of issue 4 (and the project's two additions).
ALL_CODES = [
    "key-version-stale", "key-version-pinned", "key-disabled", "key-expired", "key-not-yet-valid",
    "key-deleted", "key-not-found", "key-expiring", "key-too-old", "key-no-rotation-policy",
    "key-type-unsupported", "key-ops-missing", "identity-not-assigned", "identity-deleted",
    "identity-recreated", "access-revoked", "vault-deleted", "vault-soft-delete-off",
    "vault-purge-protection-off", "vault-firewall-blocks", "vault-region-mismatch", "tenant-mismatch",
    "cluster-inaccessible", "service-managed-key", "check-unknown", "identity-region-mismatch",
    "key-url-invalid",
]
SEVERITIES = ["info", "warning", "critical"]

# findings.json: cluster -> exactly the findings it must have ("code:severity").
# Config: [Policy] MaxKeyAgeSec=365d; [Policy:c-no-rotation-strict] RequireRotationPolicy=yes;
# everything else at its default (KeyExpiryWarningSec=30d, KeyExpiryCriticalSec=7d,
# StaleVersion=alert).
FINDINGS_CONFIG = {"Policy": {"MaxKeyAgeSec": "365d"},
                   "Policy:c-no-rotation-strict": {"RequireRotationPolicy": "yes"}}
EXPECTED = {
    "c-healthy": set(),
    "c-pinned": {"key-version-pinned:info"},
    # pinned to the older of two enabled versions
    "c-stale": {"key-version-stale:warning", "key-version-pinned:info"},
    # the pinned version itself is unusable: stale is critical, and the version in use is disabled
    "c-stale-disabled": {"key-version-stale:critical", "key-version-pinned:info", "key-disabled:critical"},
    # pinned to a version the key does not have (GET of it is 404)
    "c-stale-gone": {"key-version-stale:critical", "key-version-pinned:info"},
    "c-disabled": {"key-disabled:critical"},
    "c-expired": {"key-expired:critical"},
    "c-not-yet-valid": {"key-not-yet-valid:critical"},            # nbf now+2d
    "c-expiring-warning": {"key-expiring:warning"},               # exp now+20d: inside 30d, outside 7d
    "c-expiring-critical": {"key-expiring:critical"},             # exp now+3d: inside 7d
    "c-expiring-far": set(),                                      # exp now+40d: outside 30d
    "c-too-old": {"key-too-old:warning"},                         # created now-400d > 365d
    "c-aging": set(),                                             # created now-300d < 365d
    "c-no-rotation": {"key-no-rotation-policy:info"},
    "c-no-rotation-strict": {"key-no-rotation-policy:warning"},   # same key, RequireRotationPolicy=yes
    "c-ec": {"key-type-unsupported:critical"},                    # EC P-256
    "c-rsa1024": {"key-type-unsupported:critical"},               # RSA 1024
    "c-ops-missing": {"key-ops-missing:critical"},                # key_ops without wrapKey/unwrapKey
    "c-key-deleted": {"key-deleted:critical"},                    # soft-deleted key
    "c-key-not-found": {"key-not-found:critical"},                 # neither key nor deleted key
    "c-identity-not-assigned": {"identity-not-assigned:critical"},  # removed from the cluster (setup)
    "c-identity-deleted": {"identity-deleted:critical"},
    # re-created with a new principal (setup), which was granted the role: only the re-creation
    "c-identity-recreated": {"identity-recreated:critical"},
    "c-identity-region": {"identity-region-mismatch:warning"},    # identity in eastus
    "c-ap-healthy": set(),
    "c-ap-no-wrap": {"access-revoked:critical"},                  # access policy without wrapKey
    "c-rbac-no-role": {"access-revoked:critical"},                # RBAC vault, no assignment
    "c-custom-role-no-wrap": {"access-revoked:critical"},         # custom role with keys/read only
    "c-vault-deleted": {"vault-deleted:critical"},                # among the soft-deleted vaults
    # Azure cannot have purge protection without soft delete: both are off
    "c-soft-delete-off": {"vault-soft-delete-off:warning", "vault-purge-protection-off:warning"},
    "c-purge-protection-off": {"vault-purge-protection-off:warning"},
    # defaultAction Deny, bypass None (cmkd itself reads through an IP rule)
    "c-firewall": {"vault-firewall-blocks:critical"},
    "c-vault-region": {"vault-region-mismatch:warning"},          # vault in eastus
    # vault in another tenant: cmkd's token is not valid there either, so the key checks are
    # not made (check-unknown), but the mismatch itself is certain
    "c-tenant": {"tenant-mismatch:critical", "check-unknown:warning"},
    "c-inaccessible": {"cluster-inaccessible:critical"},
    "c-service-managed": {"service-managed-key:info"},
    # cmkd's own principal gets 403 ForbiddenByRbac on the key: neither pass nor fail
    "c-unreadable": {"check-unknown:warning"},
    "c-foreign-host": {"key-url-invalid:critical"},               # https://evil.example.com/keys/good
    "c-other-cloud": {"key-url-invalid:critical"},                # https://kv-main.vault.azure.cn/...
}

# What the twin (the DocumentDB service's own view) says about the broken clusters.
TWIN_REASONS = {
    "c-stale-disabled": "key_disabled", "c-stale-gone": "key_version_not_found", "c-disabled": "key_disabled",
    "c-expired": "key_expired", "c-not-yet-valid": "key_not_yet_valid", "c-ec": "key_type_unsupported",
    "c-ops-missing": "key_ops_missing", "c-key-deleted": "key_deleted", "c-key-not-found": "key_not_found",
    "c-identity-not-assigned": "identity_not_assigned", "c-identity-deleted": "identity_deleted",
    "c-identity-recreated": "identity_recreated", "c-ap-no-wrap": "access_policy_missing",
    "c-rbac-no-role": "rbac_role_missing", "c-custom-role-no-wrap": "rbac_role_missing",
    "c-vault-deleted": "vault_deleted", "c-firewall": "vault_network_blocked", "c-tenant": "cross_tenant",
}
# Clusters whose access the twin must find intact (warnings, info, advance notice, boundaries).
TWIN_OK = ["c-healthy", "c-pinned", "c-stale", "c-expiring-warning", "c-expiring-critical", "c-expiring-far",
           "c-too-old", "c-aging", "c-no-rotation", "c-identity-region", "c-ap-healthy", "c-soft-delete-off",
           "c-purge-protection-off", "c-vault-region", "c-unreadable"]

KVCSEU = "Key Vault Crypto Service Encryption User"


def findings_setup(tw):
    """What the scenario format cannot say: an identity taken off its cluster, and an
    identity deleted and re-created with a new principal (which is then granted the role,
    so that the re-creation is the only thing wrong)."""
    tw.control("set_cluster", cluster="c-identity-not-assigned", remove_identities=["uami-unassigned"])
    tw.control("recreate_identity", identity="uami-rec")
    tw.control("add_role_assignment", identity="uami-rec", role=KVCSEU, vault="kv-main")


def worst(cluster):
    """The cluster's severity as cmkd reports it: its worst finding's, "ok" without any."""
    sev = [f["severity"] for f in cluster["findings"]]
    return max(sev, key=SEVERITIES.index) if sev else "ok"  # "ok": no finding at all


class _OneRun(unittest.TestCase):
    """A class whose tests share one twin and one `cmkd --once` run."""
    SCENARIO = None
    SECTIONS = None
    ARGS = ()
    JSON = True

    @classmethod
    def setUp_twin(cls, tw):
        pass

    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture(cls.SCENARIO, cls.SECTIONS)
        try:
            cls.setUp_twin(cls.fx.twin)
            r = cls.run_ = cls.fx.once(*cls.ARGS, json_output=cls.JSON)
            cls.code, cls.doc, cls.stderr, cls.log = r.returncode, r.json, r.stderr, r.log
            cls.state = cls.fx.twin.state()
        except BaseException:
            cls.fx.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def clusters(self):
        return self.run_.clusters()


# --- 1. every finding -----------------------------------------------------------------------

class FindingsTest(_OneRun):
    SCENARIO = "findings"
    SECTIONS = FINDINGS_CONFIG

    @classmethod
    def setUp_twin(cls, tw):
        findings_setup(tw)

    def test_exact_findings_per_cluster(self):
        got = self.clusters()
        self.assertEqual(sorted(got), sorted(EXPECTED), "the clusters listed")
        for name, want in sorted(EXPECTED.items()):
            with self.subTest(cluster=name):
                self.assertEqual(finding_set(got[name]), want, "%s: %s" % (
                    name, [f["message"] for f in got[name]["findings"]]))

    def test_every_code_and_both_severities_produced(self):
        seen = {f["code"] for c in self.doc["clusters"] for f in c["findings"]}
        self.assertEqual(seen, set(ALL_CODES))
        pairs = {"%s:%s" % (f["code"], f["severity"]) for c in self.doc["clusters"] for f in c["findings"]}
        for p in ("key-version-stale:warning", "key-version-stale:critical", "key-expiring:warning",
                  "key-expiring:critical", "key-no-rotation-policy:info", "key-no-rotation-policy:warning"):
            self.assertIn(p, pairs)

    def test_twin_agrees_the_broken_are_broken(self):
        st = {c["name"]: c for c in self.state["clusters"]}
        for name, reason in TWIN_REASONS.items():
            with self.subTest(cluster=name):
                self.assertIn(reason, st[name]["access_reasons"])
        for name in TWIN_OK:
            with self.subTest(cluster=name):
                self.assertTrue(st[name]["access_ok"], st[name]["access_reasons"])
                self.assertEqual(st[name]["clusterStatus"], "Ready")
        self.assertEqual(st["c-inaccessible"]["clusterStatus"], "Inaccessible")

    def test_exit_code_and_summary(self):
        self.assertEqual(self.code, 2, self.stderr)
        self.assertEqual(self.doc["exit_code"], 2)
        worsts = [worst(c) for c in self.doc["clusters"]]
        s = self.doc["summary"]
        self.assertEqual(s["clusters"], len(EXPECTED))
        self.assertEqual(s["critical"], worsts.count("critical"))
        self.assertEqual(s["warning"], worsts.count("warning"))
        self.assertEqual(s["ok"], sum(1 for c in self.doc["clusters"] if not c["findings"]))
        self.assertEqual(s["info"], sum(1 for c in self.doc["clusters"] if c["findings"] and worst(c) == "info"))
        self.assertTrue(self.doc["sweep"]["ran"])
        self.assertTrue(self.doc["sweep"]["complete"])

    def test_unreadable_key_is_never_judged(self):
        c = self.clusters()["c-unreadable"]
        self.assertFalse([f for f in c["findings"] if f["code"].startswith("key-")])
        self.assertIsNone(c["current_version"])
        msg = c["findings"][0]["message"]
        self.assertIn("could not read the key of cluster c-unreadable", msg)
        self.assertIn("HTTP 403", msg)
        self.assertIn("ForbiddenByRbac", msg)
        got = requests(self.log, method="GET", host="kv-secret.vault.azure.net", path="/keys/k")
        self.assertEqual([e["status"] for e in got], [403])
        self.assertEqual(got[0]["principal"], "cmkd")

    def test_no_request_to_a_host_outside_the_cloud(self):
        for e in self.log:
            self.assertNotIn("evil.example.com", e["host"].lower())
            self.assertFalse(e["host"].lower().endswith(".vault.azure.cn"), e["host"])
        got = self.clusters()
        self.assertIn("'https://evil.example.com/keys/good'", got["c-foreign-host"]["findings"][0]["message"])
        self.assertIn("outside the configured cloud", got["c-other-cloud"]["findings"][0]["message"])
        for n in ("c-foreign-host", "c-other-cloud"):
            self.assertIsNone(got[n]["key_store"])
            self.assertIsNone(got[n]["current_version"])

    def test_messages(self):
        for c in self.doc["clusters"]:
            for f in c["findings"]:
                with self.subTest(cluster=c["name"], code=f["code"]):
                    self.assertTrue(f["message"].strip())
                    self.assertNotIn("\n", f["message"])
                    self.assertIn(c["name"], f["message"])
        got = self.clusters()
        spots = [
            ("c-expiring-warning", "key-expiring", "expires at"),
            ("c-not-yet-valid", "key-not-yet-valid", "is not valid before"),
            ("c-ap-no-wrap", "access-revoked", "az keyvault set-policy --name kv-ap"),
            ("c-rbac-no-role", "access-revoked", "az role assignment create --role \"%s\"" % KVCSEU),
            ("c-vault-deleted", "vault-deleted", "az keyvault recover --name kv-gone"),
            ("c-key-deleted", "key-deleted", "az keyvault key recover --vault-name kv-main --name gone"),
            ("c-firewall", "vault-firewall-blocks", "networkAcls.defaultAction Deny"),
            ("c-vault-region", "vault-region-mismatch", "is in eastus but cluster c-vault-region is in westus2"),
            ("c-tenant", "tenant-mismatch", "0b3f2a1c-5d6e-4f70-8a91-b2c3d4e5f607"),
            ("c-rsa1024", "key-type-unsupported", "RSA of 1024 bits"),
            ("c-stale-gone", "key-version-stale", "the pinned version no longer exists"),
        ]
        for name, code, text in spots:
            with self.subTest(cluster=name):
                msgs = [f["message"] for f in got[name]["findings"] if f["code"] == code]
                self.assertEqual(len(msgs), 1)
                self.assertIn(text, msgs[0])

    def test_versions_and_urls_match_the_twin(self):
        vaults = {v["name"]: v for v in self.state["vaults"]}
        good = next(k for k in vaults["kv-main"]["keys"] if k["name"] == "good")
        got = self.clusters()
        self.assertIsNone(got["c-healthy"]["pinned_version"])
        self.assertEqual(got["c-healthy"]["current_version"], good["current"])
        self.assertEqual(got["c-pinned"]["pinned_version"], good["current"])
        self.assertEqual(got["c-stale"]["pinned_version"], good["versions"][0]["version"])
        self.assertEqual(got["c-stale"]["current_version"], good["current"])
        self.assertEqual(got["c-stale-gone"]["pinned_version"], "0123456789abcdef0123456789abcdef")
        st = {c["name"]: c for c in self.state["clusters"]}
        for name, c in got.items():
            with self.subTest(cluster=name):
                self.assertEqual(c["id"], st[name]["id"])
                want = st[name]["cmk"]["key_url"] if st[name]["cmk"] else None
                self.assertEqual(c["key_url"], want)
                self.assertIsNone(c["action"], "StaleVersion=alert (the default) wants no update")


# --- 2. healthy clusters ----------------------------------------------------------------------

HEALTHY = {
    "c-rbac": set(), "c-ap": set(), "c-subscope": set(), "c-custom-role": set(), "c-geo-replica": set(),
    "c-pinned-current": {"key-version-pinned:info"},
}


class HealthyTest(_OneRun):
    SCENARIO = "healthy"

    def test_nothing_above_info_and_exit_0(self):
        self.assertEqual(self.code, 0, self.stderr)
        self.assertEqual(self.doc["exit_code"], 0)
        got = self.clusters()
        self.assertEqual(sorted(got), sorted(HEALTHY))
        for name, want in HEALTHY.items():
            with self.subTest(cluster=name):
                self.assertEqual(finding_set(got[name]), want)
                self.assertEqual(got[name]["severity"], "info" if want else "ok")
        for c in self.state["clusters"]:
            self.assertTrue(c["access_ok"], (c["name"], c["access_reasons"]))

    def test_geo_replica_is_its_own_cluster(self):
        got = self.clusters()
        rep, prim = got["c-geo-replica"], got["c-rbac"]
        self.assertNotEqual(rep["id"], prim["id"])
        self.assertEqual(rep["location"], "eastus")
        self.assertEqual(prim["location"], "westus2")
        self.assertEqual(rep["key_url"], "https://kv-east.vault.azure.net/keys/eastkey")
        self.assertEqual(prim["key_url"], "https://kv-rbac.vault.azure.net/keys/key1")
        st = {c["name"]: c for c in self.state["clusters"]}
        self.assertEqual(st["c-geo-replica"]["replica"]["role"], "GeoAsyncReplica")

    def test_custom_role_definition_read_once(self):
        got = requests(self.log, method="GET", path_re=r"/providers/Microsoft\.Authorization/roleDefinitions/")
        self.assertEqual(len(got), 1, got)
        self.assertTrue(got[0]["path"].lower().endswith("/5c1e6f7a-8b9c-4d0e-a1f2-3b4c5d6e7f80"))
        self.assertEqual(got[0]["status"], 200)


# --- 3. exit codes --------------------------------------------------------------------------

class ExitCodeTest(unittest.TestCase):
    def assert_not_run(self, r, why):
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.json["exit_code"], 3)
        self.assertFalse(r.json["sweep"]["ran"])
        self.assertFalse(r.json["sweep"]["complete"])
        self.assertIn(why, r.json["sweep"]["error"])
        self.assertEqual(r.json["clusters"], [])
        self.assertFalse([e for e in r.log if e["service"] in ("kv", "hsm")], "no key read without a listing")

    def test_0_1_2_by_worst_finding(self):
        with Fixture("findings", FINDINGS_CONFIG) as s:
            for include, code in (("c-healthy c-no-rotation", 0), ("c-healthy c-purge-protection-off", 1),
                                  ("c-purge-protection-off c-disabled", 2)):
                with self.subTest(include=include):
                    r = s.once(sections={"Discovery": {"Include": include}})
                    self.assertEqual(r.returncode, code, r.stderr)
                    self.assertEqual(r.json["exit_code"], code)
                    self.assertEqual(len(r.json["clusters"]), 2)

    def test_3_when_the_token_endpoint_refuses(self):
        with Fixture("healthy") as s:
            s.twin.add_fault(service="imds", action="status", status=400)
            r = s.once()
            self.assert_not_run(r, "Cannot get a token")
            self.assertFalse([e for e in r.log if e["service"] == "arm" and e["status"] == 200])
            t = s.once(json_output=False)
            self.assertEqual(t.returncode, 3)
            self.assertTrue(t.stdout.startswith("UNKNOWN: the sweep could not run: "), t.stdout)

    def test_3_when_every_listing_is_forbidden(self):
        with Fixture("healthy") as s:
            s.twin.control("deny_arm", principal="cmkd", subscription="prod", actions=["read"])
            r = s.once()
            self.assert_not_run(r, "AuthorizationFailed")
            self.assertEqual(r.json["sweep"]["failed_scopes"], ["/subscriptions/11111111-1111-1111-1111-111111111111"])
            lists = requests(r.log, path_re=r"/providers/Microsoft\.DocumentDB/mongoClusters$")
            self.assertEqual([e["status"] for e in lists], [403])

    def test_3_for_a_subscription_that_does_not_exist(self):
        with Fixture("healthy", {"Azure": {"Subscriptions": "99999999-9999-9999-9999-999999999999"}}) as s:
            r = s.once()
            self.assert_not_run(r, "SubscriptionNotFound")

    def test_1_when_one_subscription_cannot_be_listed(self):
        with Fixture("discovery") as s:
            s.twin.control("deny_arm", principal="cmkd", subscription="dev", actions=["read"])
            r = s.once()
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertTrue(r.json["sweep"]["ran"])
            self.assertFalse(r.json["sweep"]["complete"])
            self.assertEqual(r.json["sweep"]["failed_scopes"], ["/subscriptions/22222222-2222-2222-2222-222222222222"])
            names = {c["name"] for c in r.json["clusters"]}
            self.assertEqual(names, {"app-web", "app-api", "app-geo", "batch-1", "tmp-scratch"})
            for c in r.json["clusters"]:
                self.assertEqual(c["findings"], [], c["name"])


# --- 4. discovery ---------------------------------------------------------------------------

PROD = "11111111-1111-1111-1111-111111111111"
DEV = "22222222-2222-2222-2222-222222222222"
OTHER = "33333333-3333-3333-3333-333333333333"
VISIBLE = {"app-web", "app-api", "app-geo", "batch-1", "tmp-scratch", "dev-1"}


class DiscoveryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.fx = Fixture("discovery")

    @classmethod
    def tearDownClass(cls):
        cls.fx.close()

    def select(self, **discovery):
        azure = discovery.pop("azure", None)
        r = self.fx.once(sections={"Discovery": discovery, "Azure": azure or {}})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.json["sweep"]["complete"], r.json["sweep"])
        return r, {c["name"] for c in r.json["clusters"]}

    def keys_read(self, log):
        return {e["path"].split("/")[2] for e in requests(log, method="GET", path_re=r"^/keys/[^/]+$")}

    def test_every_visible_subscription(self):
        r, names = self.select(azure={"Subscriptions": None})
        self.assertEqual(names, VISIBLE)
        self.assertEqual(len(requests(r.log, method="GET", path="/subscriptions")), 1)
        lists = requests(r.log, method="GET", path_re=r"/providers/Microsoft\.DocumentDB/mongoClusters$")
        self.assertEqual(sorted(e["path"] for e in lists),
                         ["/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % s for s in (PROD, DEV)])
        self.assertFalse([e for e in r.log if OTHER in e["path"] or e["host"].startswith("kv-x.")])
        self.assertEqual(self.keys_read(r.log), VISIBLE)

    def test_resource_groups(self):
        # rg-a is only in prod and rg-dev only in dev: the other two pairs answer 404
        # ResourceGroupNotFound, which is an empty group, not a failure.
        r, names = self.select(azure={"ResourceGroups": "rg-a rg-dev"})
        self.assertEqual(names, {"app-web", "app-api", "app-geo", "dev-1"})
        lists = requests(r.log, method="GET", path_re=r"/providers/Microsoft\.DocumentDB/mongoClusters$")
        self.assertEqual(sorted((e["path"], e["status"]) for e in lists), sorted(
            ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DocumentDB/mongoClusters" % (s, g),
             200 if (s, g) in ((PROD, "rg-a"), (DEV, "rg-dev")) else 404)
            for s in (PROD, DEV) for g in ("rg-a", "rg-dev")))
        self.assertEqual(self.keys_read(r.log), names)

    def test_include_exclude_name_globs(self):
        r, names = self.select(Include="app-* dev-?", Exclude="*-API")
        self.assertEqual(names, {"app-web", "app-geo", "dev-1"})
        self.assertEqual(self.keys_read(r.log), names)
        self.assertFalse(requests(r.log, path_re=r"/userAssignedIdentities/uami-api$"))

    def test_include_arm_id_glob(self):
        r, names = self.select(Include="/subscriptions/*/resourceGroups/rg-b/*")
        self.assertEqual(names, {"batch-1", "tmp-scratch"})
        self.assertEqual(self.keys_read(r.log), names)

    def test_include_tag(self):
        r, names = self.select(IncludeTag="env=prod")
        self.assertEqual(names, {"app-web", "app-api", "app-geo"})
        self.assertEqual(self.keys_read(r.log), names)
        r, names = self.select(IncludeTag="team")
        self.assertEqual(names, {"app-web"})

    def test_exclude_tag_causes_no_reads(self):
        r, names = self.select(ExcludeTag="cmkd=off")
        self.assertEqual(names, VISIBLE - {"app-api"})
        self.assertEqual(self.keys_read(r.log), names)
        self.assertFalse(requests(r.log, path_re=r"^/keys/app-api"))
        self.assertFalse(requests(r.log, path_re=r"/userAssignedIdentities/uami-api$"))

    def test_geo_replica_listed_as_its_own_cluster(self):
        r, names = self.select()
        got = r.clusters()
        self.assertEqual(got["app-geo"]["location"], "eastus")
        self.assertEqual(got["app-geo"]["key_url"], "https://kv-prod-east.vault.azure.net/keys/app-geo")
        self.assertEqual(got["app-web"]["location"], "westus2")
        self.assertEqual(len(requests(r.log, method="GET", host="kv-prod-east.vault.azure.net", path="/keys/app-geo")), 1)


# --- 5. fewest requests ---------------------------------------------------------------------

FLEET_KEYS = [("kv-fleet-a", "k1"), ("kv-fleet-a", "k2"), ("kv-fleet-ap", "k3"), ("kv-fleet-b", "k4")]


class RequestsTest(unittest.TestCase):
    def fleet_expectation(self, state):
        """Every (method, host, path) one sweep must send once, none twice; and of them the
        key reads (the current version of each key), which every sweep sends."""
        vaults = {v["name"]: v for v in state["vaults"]}
        k1 = next(k for k in vaults["kv-fleet-a"]["keys"] if k["name"] == "k1")
        old = k1["versions"][0]["version"]
        arm = "management.azure.com"
        want = set()
        for sub in (PROD, DEV):
            want.add(("GET", arm, "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % sub))
            want.add(("GET", arm, "/subscriptions/%s/providers/Microsoft.KeyVault/vaults" % sub))
            want.add(("GET", arm, "/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults" % sub))
        for i in ("id-1", "id-2", "id-3"):
            want.add(("GET", arm, "/subscriptions/%s/resourceGroups/rg-keys/providers/"
                                  "Microsoft.ManagedIdentity/userAssignedIdentities/%s" % (PROD, i)))
        for v in ("kv-fleet-a", "kv-fleet-b"):  # the RBAC vaults
            want.add(("GET", arm, vaults[v]["id"] + "/providers/Microsoft.Authorization/roleAssignments"))
        keys = set()
        for v, k in FLEET_KEYS:
            keys.add(("GET", "%s.vault.azure.net" % v, "/keys/%s" % k))
            want.add(("GET", "%s.vault.azure.net" % v, "/keys/%s/rotationpolicy" % k))
        want.add(("GET", "kv-fleet-a.vault.azure.net", "/keys/k1/%s" % old))  # the pinned old version
        return want | keys, keys

    def counts(self, log):
        out = {}
        for e in log:
            if e["service"] in ("imds", "entra"):
                continue
            k = (e["method"], e["host"], e["path"])
            out[k] = out.get(k, 0) + 1
        return out

    def test_each_fact_once_per_sweep(self):
        with Fixture("fleet") as s:
            r = s.once()
            self.assertEqual(r.returncode, 1, r.stderr)  # the stale pins are warnings
            self.assertEqual(len(r.json["clusters"]), 32)
            want, _ = self.fleet_expectation(s.twin.state())
            got = self.counts(r.log)
            self.assertEqual(set(got), want)
            self.assertEqual(set(got.values()), {1}, {k: n for k, n in got.items() if n != 1})
            self.assertFalse([e for e in r.log if e["status"] == 429])
            self.assertEqual(r.json["sweep"]["requests"], len(want))
            self.assertEqual(r.json["sweep"]["throttled"], 0)

    def test_daemon_second_sweep_reads_only_lists_and_keys(self):
        # RequestTimeoutSec= must be shorter than PollIntervalSec= (10s is the shortest poll).
        with Fixture("fleet", {"Daemon": {"PollIntervalSec": "10s", "CacheTTLSec": "15min"},
                               "Network": {"RequestTimeoutSec": "5s"}}) as s:
            s.twin.clear_log()
            with s.daemon() as d:
                d.wait_for(r"Sweep done", count=1, timeout=30)
                first = settled_log(s.twin)
                seq = max(e["seq"] for e in first)
                d.wait_for(r"Sweep done", count=2, timeout=40)
                second = settled_log(s.twin, since=seq)
            self.assertEqual(d.code, 0, d.stderr)
            want, keys = self.fleet_expectation(s.twin.state())
            got1, got2 = self.counts(first), self.counts(second)
            self.assertEqual(set(got1), want)
            self.assertEqual(set(got1.values()), {1})
            lists = {("GET", "management.azure.com",
                      "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % sub) for sub in (PROD, DEV)}
            self.assertEqual(set(got2), lists | keys)
            self.assertEqual(set(got2.values()), {1})
            self.assertFalse([e for e in first + second if e["status"] == 429])
            self.assertEqual(len(d.lines(r"Sweep done")), 2)


    def test_daemon_cache_ttl_pinned_versions_and_a_forbidden_key(self):
        """Issue 9's target: a daemon sweep inside CacheTTLSec= makes exactly list pages +
        distinct keys requests, here with two pinned old versions (cached) and a key cmkd may
        not read (403, the vault's firewall): its rotation policy and pinned version are never
        asked for, in no sweep. After the TTL (17 s here), the cached facts are read again;
        the findings are the same in all three sweeps."""
        metrics = None
        # PollIntervalSec=10s: sweep 2 starts 9-11 s after sweep 1 ends (within the 17 s),
        # sweep 3 at least 18 s after sweep 1 starts (after it).
        # fleet.json, but k3 and k4 with an older version too (rotated long ago, so no
        # VersionDisableGraceSec= read of the previous one), one cluster of each pinned to it,
        # and k4's vault closed to cmkd (defaultAction Deny, cmkd's address not in its rules).
        with open(scenario_path("fleet")) as f:
            scenario = json.load(f)
        for v in scenario["vaults"]:
            for k in v["keys"]:
                if k["name"] in ("k3", "k4"):
                    k["versions"].insert(0, {"created": "now-60d"})
            if v["name"] == "kv-fleet-b":
                v["network_acls"] = {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": ["10.0.0.0/8"]}
        for c in scenario["clusters"]:
            if c["name"] in ("fleet-02", "fleet-03"):
                c["cmk"]["version"] = 0
        with Fixture(scenario, {"Daemon": {"PollIntervalSec": "10s", "CacheTTLSec": "17s"},
                                "Network": {"RequestTimeoutSec": "5s"}}) as s:
            metrics = os.path.join(s.dir, "cmkd.prom")
            tw = s.twin
            state = tw.state()
            vaults = {v["name"]: v for v in state["vaults"]}

            def version(vault, key, i):
                return next(k for k in vaults[vault]["keys"] if k["name"] == key)["versions"][i]["version"]

            tw.clear_log()
            logs, findings = [], []
            with s.daemon(sections={"Metrics": {"TextfilePath": metrics}}) as d:
                seq = 0
                for n in (1, 2, 3):
                    d.wait_for(r"Sweep done", count=n, timeout=40)
                    logs.append(settled_log(tw, since=seq))
                    seq = max([seq] + [e["seq"] for e in logs[-1]])
                    findings.append(s.wait_until(lambda: self.sweep_findings(metrics, n), 10,
                                                 "the metrics of sweep %d" % n, daemon=d))
            self.assertEqual(d.code, 0, d.stderr)

        kv = "%s.vault.azure.net"
        lists = {("GET", "management.azure.com",
                  "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % sub) for sub in (PROD, DEV)}
        keys = {("GET", kv % v, "/keys/%s" % k) for v, k in FLEET_KEYS}
        pinned = {("GET", kv % "kv-fleet-a", "/keys/k1/%s" % version("kv-fleet-a", "k1", 0)),
                  ("GET", kv % "kv-fleet-ap", "/keys/k3/%s" % version("kv-fleet-ap", "k3", 0))}
        rotation = {("GET", kv % v, "/keys/%s/rotationpolicy" % k) for v, k in FLEET_KEYS if k != "k4"}
        others = {("GET", "management.azure.com", p) for p in (
            ["/subscriptions/%s/providers/Microsoft.KeyVault/%s" % (sub, what)
             for sub in (PROD, DEV) for what in ("vaults", "deletedVaults")] +
            ["/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/"
             "userAssignedIdentities/%s" % (PROD, i) for i in ("id-1", "id-2", "id-3")] +
            [vaults[v]["id"] + "/providers/Microsoft.Authorization/roleAssignments"
             for v in ("kv-fleet-a", "kv-fleet-b")])}
        got = [self.counts(log) for log in logs]
        for i, want in enumerate((lists | keys | pinned | rotation | others, lists | keys,
                                  lists | keys | pinned | rotation | others)):
            with self.subTest(sweep=i + 1):
                self.assertEqual(set(got[i]), want)
                self.assertEqual(set(got[i].values()), {1}, {k: n for k, n in got[i].items() if n != 1})
        # The 403s: k4's read, every sweep; nothing else failed.
        for i, log in enumerate(logs):
            failed = sorted((e["host"], e["path"], e["status"]) for e in log if e["status"] != 200)
            self.assertEqual(failed, [(kv % "kv-fleet-b", "/keys/k4", 403)], "sweep %d" % (i + 1))
        self.assertEqual(findings[1], findings[0])
        self.assertEqual(findings[2], findings[0])
        # The clusters of k4 are check-unknown (warning) about the key, nothing more critical.
        self.assertEqual(findings[0].get('cmkd_findings{code="check-unknown",severity="warning"}'), 8)

    @staticmethod
    def sweep_findings(path, n):
        """The finding and severity counts of the metrics file once it shows sweep n, else None."""
        try:
            with open(path) as f:
                text = f.read()
        except FileNotFoundError:
            return None
        samples = dict(line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#"))
        if float(samples.get("cmkd_sweeps_total", 0)) != n:
            return None
        return {k: float(v) for k, v in samples.items()
                if k.startswith("cmkd_findings{") or k.startswith("cmkd_clusters_by_severity{")}

# --- 6. the table ---------------------------------------------------------------------------

class TableTest(_OneRun):
    SCENARIO = "findings"
    SECTIONS = {"Discovery": {"Include": "c-healthy c-stale c-expiring-warning c-disabled c-service-managed "
                                         "c-no-rotation"}}
    JSON = False
    ROWS = [  # sorted by ARM id: one resource group, so by name
        ("c-disabled", "westus2", "kv-main/disabled", "critical", "-"),
        ("c-expiring-warning", "westus2", "kv-main/exp-warn", "warning", "-"),
        ("c-healthy", "westus2", "kv-main/good", "ok", "-"),
        ("c-no-rotation", "westus2", "kv-main/norot", "info", "-"),
        ("c-service-managed", "westus2", "(service-managed)", "info", "-"),
        ("c-stale", "westus2", "kv-main/good@{v8}", "warning", "-"),
    ]

    def test_columns(self):
        self.assertEqual(self.code, 2, self.stderr)
        lines = self.run_.stdout.split("\n")
        header = lines[0]
        self.assertEqual(header.split(), ["CLUSTER", "LOCATION", "KEY", "STATE", "ACTION"])
        starts = [header.index(h) for h in ("CLUSTER", "LOCATION", "KEY", "STATE", "ACTION")]
        self.assertEqual(starts, [0, 33, 48, 89, 98])  # widths 32, 14, 40, 8, one space apart
        good = next(k for v in self.state["vaults"] if v["name"] == "kv-main" for k in v["keys"]
                    if k["name"] == "good")
        v8 = good["versions"][0]["version"][:8]
        rows = lines[1:1 + len(self.ROWS)]
        for line, want in zip(rows, self.ROWS):
            with self.subTest(row=want[0]):
                cols = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
                self.assertEqual(cols, [w.format(v8=v8) for w in want])
                for a in starts[1:]:
                    self.assertEqual(line[a - 1], " ")
        self.assertEqual(lines[1 + len(self.ROWS)], "")

    def test_message_lines(self):
        out = self.run_.stdout
        self.assertRegex(out, r"(?m)^CRITICAL c-disabled \[key-disabled\]: version [0-9a-f]{32} of key disabled in "
                              r"kv-main, which cluster c-disabled uses, is disabled: az keyvault key set-attributes ")
        self.assertRegex(out, r"(?m)^WARNING  c-expiring-warning \[key-expiring\]: version [0-9a-f]{32} of key "
                              r"exp-warn in kv-main, which cluster c-expiring-warning uses, expires at ")
        self.assertRegex(out, r"(?m)^WARNING  c-stale \[key-version-stale\]: cluster c-stale is pinned to version ")
        # info findings are in the rows' STATE only, never as message lines
        for code in ("key-no-rotation-policy", "service-managed-key", "key-version-pinned"):
            self.assertNotIn("[%s]" % code, out)
        msgs = [x for x in out.split("\n") if re.match(r"^(CRITICAL|WARNING |NOTICE  ) ", x)]
        self.assertEqual(len(msgs), 3, msgs)

    def test_summary_line(self):
        last = [x for x in self.run_.stdout.split("\n") if x][-1]
        self.assertRegex(last, r"^6 clusters: 1 critical, 2 warning, 2 info, 1 ok \(\d+ requests, \d+\.\ds\)$")


# --- 7. the JSON document -------------------------------------------------------------------

STR, INT, BOOL, LIST, DICT, NUM = str, int, bool, list, dict, (int, float)
NULLABLE_STR = (str, type(None))
TOP = {"version": INT, "generated": STR, "exit_code": INT, "summary": DICT, "sweep": DICT, "clusters": LIST}
SUMMARY = {"clusters": INT, "critical": INT, "warning": INT, "info": INT, "ok": INT}
SWEEP = {"ran": BOOL, "error": NULLABLE_STR, "failed_scopes": LIST, "unreadable_items": INT, "requests": INT,
         "retries": INT, "throttled": INT, "duration_seconds": NUM, "complete": BOOL}
# The issue's fields first (id, name, location, encryption mode, key URL, pinned version or
# null, current version, findings, action or null), then cmkd's additions.
CLUSTER = {"id": STR, "name": STR, "location": STR, "encryption": STR, "key_url": NULLABLE_STR,
           "pinned_version": NULLABLE_STR, "current_version": NULLABLE_STR, "findings": LIST,
           "action": (dict, type(None)),
           "subscription": STR, "resource_group": STR, "key_store": NULLABLE_STR,
           "cluster_status": NULLABLE_STR, "provisioning_state": NULLABLE_STR, "severity": STR}
FINDING = {"code": STR, "severity": STR, "message": STR}
ACTION = {"kind": STR, "outcome": STR, "refusal": NULLABLE_STR, "reason": NULLABLE_STR,
          "old_key_url": NULLABLE_STR, "new_key_url": NULLABLE_STR, "operation_id": NULLABLE_STR,
          "error_code": NULLABLE_STR, "error": NULLABLE_STR}
OUTCOMES = {"proposed", "refused", "in-progress", "succeeded", "failed"}
RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"
MONGO_ID = r"^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\.DocumentDB/mongoClusters/[^/]+$"


class JsonSchemaTest(_OneRun):
    """The findings scenario with StaleVersion=update and --dry-run, so that some clusters
    carry an action (proposed) and the others null."""
    SCENARIO = "findings"
    SECTIONS = dict(FINDINGS_CONFIG, Policy={"MaxKeyAgeSec": "365d", "StaleVersion": "update"})
    ARGS = ("--dry-run",)

    @classmethod
    def setUp_twin(cls, tw):
        findings_setup(tw)

    def check(self, obj, fields, where):
        self.assertIsInstance(obj, dict, where)
        for k, t in fields.items():
            self.assertIn(k, obj, "%s lacks %s" % (where, k))
            self.assertIsInstance(obj[k], t, "%s.%s is %r" % (where, k, obj[k]))
            if t is INT or t is NUM:
                self.assertNotIsInstance(obj[k], bool, "%s.%s" % (where, k))

    def test_document(self):
        d = self.doc
        self.check(d, TOP, "document")
        self.assertEqual(d["version"], 1)
        self.assertRegex(d["generated"], RFC3339)
        self.assertEqual(d["exit_code"], self.code)
        self.check(d["summary"], SUMMARY, "summary")
        self.check(d["sweep"], SWEEP, "sweep")
        for s in d["sweep"]["failed_scopes"]:
            self.assertIsInstance(s, str)

    def test_clusters(self):
        for c in self.doc["clusters"]:
            where = "cluster %s" % c.get("name")
            with self.subTest(cluster=c.get("name")):
                self.check(c, CLUSTER, where)
                self.assertRegex(c["id"], MONGO_ID)
                self.assertTrue(c["id"].endswith("/" + c["name"]))
                self.assertIn(c["encryption"], ("customer-managed", "service-managed"))
                self.assertEqual(c["key_url"] is None, c["encryption"] == "service-managed")
                if c["key_store"] is not None:
                    self.assertIn(c["key_store"], ("vault", "managed-hsm"))
                for v in ("pinned_version", "current_version"):
                    if c[v] is not None:
                        self.assertRegex(c[v], r"^[0-9a-f]{32}$")
                if c["pinned_version"] is not None:
                    self.assertTrue(c["key_url"].endswith("/" + c["pinned_version"]))
                self.assertEqual(c["severity"], worst(c))
                codes = [f["code"] for f in c["findings"]]
                self.assertEqual(len(codes), len(set(codes)), "each code at most once")
                for f in c["findings"]:
                    self.check(f, FINDING, where + " finding")
                    self.assertIn(f["code"], ALL_CODES)
                    self.assertIn(f["severity"], SEVERITIES)
                    self.assertTrue(f["message"])
                if c["action"] is not None:
                    self.check(c["action"], ACTION, where + " action")
                    self.assertEqual(c["action"]["kind"], "update")
                    self.assertIn(c["action"]["outcome"], OUTCOMES)

    def test_actions_proposed_not_sent(self):
        got = self.clusters()
        with_action = sorted(n for n, c in got.items() if c["action"] is not None)
        self.assertEqual(with_action, ["c-stale", "c-stale-disabled", "c-stale-gone"])
        good = next(k for v in self.state["vaults"] if v["name"] == "kv-main" for k in v["keys"]
                    if k["name"] == "good")
        a = got["c-stale"]["action"]
        self.assertEqual(a["outcome"], "proposed")
        self.assertIsNone(a["refusal"])
        self.assertEqual(a["old_key_url"], got["c-stale"]["key_url"])
        self.assertEqual(a["new_key_url"], "https://kv-main.vault.azure.net/keys/good/" + good["current"])
        self.assertIsNone(a["operation_id"])
        self.assertFalse([e for e in self.log if e["method"] != "GET"], "--dry-run sends nothing but GETs")
        # the findings do not depend on StaleVersion=
        for name, want in EXPECTED.items():
            with self.subTest(cluster=name):
                self.assertEqual(finding_set(got[name]), want)


if __name__ == "__main__":
    unittest.main()
