# Managed HSM in the twin: the ARM resource (ManagedHsms_Get, _ListBySubscription,
# _ListByResourceGroup, _ListDeleted, _GetDeleted), the HSM data plane (its own 401 challenge,
# HSM-only key types, local RBAC for key reads and for the role assignment and definition
# endpoints of rbac.json), the consequences for HSM-backed clusters, the CMK PUT with an HSM
# key URL, the scenario forms and the control ops.

import copy
import json
import os
import sys
import unittest

import twin_testutil as tu

sys.path.insert(0, tu.HERE)
from tw_world import ScenarioError, World  # noqa: E402

SUB = tu.SUB
HSM = "https://hsm-prod.managedhsm.azure.net"
MGMT = "https://management.azure.com/subscriptions/%s" % SUB
API = "api-version=2026-04-01"
H1 = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uami-h1" % SUB


def hsm_scenario():
    with open(os.path.join(tu.SCENARIOS, "hsm.json")) as f:
        return json.load(f)


class HsmArm(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("hsm.json")

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def arm(self, path, **kw):
        return self.tw.get(MGMT + path, token=self.tw.token(), **kw)

    def test_list_by_subscription_shape(self):
        r = self.arm("/providers/Microsoft.KeyVault/managedHSMs?" + API)
        self.assertEqual(r.status, 200, r.body)
        items = r.json()["value"]
        self.assertEqual(sorted(h["name"] for h in items), ["hsm-closed", "hsm-prod"])  # not the deleted one
        h = [x for x in items if x["name"] == "hsm-prod"][0]
        self.assertEqual(h["type"], "Microsoft.KeyVault/managedHSMs")
        self.assertEqual(h["id"], "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/"
                                  "managedHSMs/hsm-prod" % SUB)
        self.assertEqual(h["sku"], {"family": "B", "name": "Standard_B1"})
        p = h["properties"]
        self.assertEqual(p["hsmUri"], HSM + "/")
        self.assertIs(p["enablePurgeProtection"], True)
        self.assertIs(p["enableSoftDelete"], True)
        self.assertEqual(p["tenantId"], tu.TENANT)
        self.assertNotIn("accessPolicies", p)
        self.assertNotIn("enableRbacAuthorization", p)
        c = [x for x in items if x["name"] == "hsm-closed"][0]["properties"]
        self.assertEqual(c["publicNetworkAccess"], "Disabled")
        self.assertEqual(c["networkAcls"]["bypass"], "None")

    def test_vaults_and_hsms_are_listed_apart(self):
        r = self.arm("/providers/Microsoft.KeyVault/vaults?" + API)
        self.assertEqual([v["name"] for v in r.json()["value"]], ["kv-plain"])
        r = self.arm("/providers/Microsoft.KeyVault/deletedVaults?" + API)
        self.assertEqual(r.json()["value"], [])
        r = self.arm("/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/hsm-prod?" + API)
        self.assertEqual(r.status, 404)

    def test_list_by_resource_group_get_and_paging(self):
        r = self.arm("/resourceGroups/rg-keys/providers/Microsoft.KeyVault/managedHSMs?" + API + "&$top=1")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(len(r.json()["value"]), 1)
        nxt = r.json()["nextLink"]
        r2 = self.tw.get(nxt, token=self.tw.token())
        self.assertEqual(len(r2.json()["value"]), 1)
        self.assertNotIn("nextLink", r2.json())
        r = self.arm("/resourceGroups/rg-keys/providers/Microsoft.KeyVault/managedHSMs/hsm-prod?" + API)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["name"], "hsm-prod")
        r = self.arm("/resourceGroups/rg-keys/providers/Microsoft.KeyVault/managedHSMs/hsm-gone?" + API)
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["error"]["code"], "ResourceNotFound")
        r = self.arm("/resourceGroups/rg-keys/providers/Microsoft.KeyVault/managedHSMs?api-version=2019-09-01")
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"]["code"], "NoRegisteredProviderFound")

    def test_deleted_hsms(self):
        r = self.arm("/providers/Microsoft.KeyVault/deletedManagedHSMs?" + API)
        self.assertEqual(r.status, 200, r.body)
        (d,) = r.json()["value"]
        self.assertEqual(d["name"], "hsm-gone")
        self.assertEqual(d["type"], "Microsoft.KeyVault/deletedManagedHSMs")
        self.assertTrue(d["properties"]["mhsmId"].endswith("/managedHSMs/hsm-gone"))
        self.assertIs(d["properties"]["purgeProtectionEnabled"], True)
        r = self.arm("/providers/Microsoft.KeyVault/locations/westus2/deletedManagedHSMs/hsm-gone?" + API)
        self.assertEqual(r.status, 200)
        r = self.arm("/providers/Microsoft.KeyVault/locations/westus2/deletedManagedHSMs/hsm-prod?" + API)
        self.assertEqual(r.status, 404)

    def test_denied_read(self):
        with tu.start(hsm_scenario()) as tw:
            tw.control("deny_arm", principal="cmkd", subscription="prod", actions=["read"])
            r = tw.get(MGMT + "/providers/Microsoft.KeyVault/managedHSMs?" + API, token=tw.token())
            self.assertEqual(r.status, 403)
            self.assertEqual(r.json()["error"]["code"], "AuthorizationFailed")


class HsmDataPlane(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("hsm.json")
        cls.hsm_tok = cls.tw.token("https://managedhsm.azure.net")

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def get(self, path, token=None, api="7.6"):
        sep = "&" if "?" in path else "?"
        path = path.replace(" ", "%20").replace("'", "%27")
        return self.tw.get("%s%s%sapi-version=%s" % (HSM, path, sep, api), token=token or self.hsm_tok)

    def test_challenge_and_audience(self):
        r = self.tw.get(HSM + "/keys/cmk1?api-version=7.6")
        self.assertEqual(r.status, 401)
        www = r.header("WWW-Authenticate")
        self.assertIn('resource="https://managedhsm.azure.net"', www)
        self.assertIn(tu.TENANT, www)
        r = self.get("/keys/cmk1", token=self.tw.token("https://vault.azure.net"))
        self.assertEqual(r.status, 401)
        self.assertIn("AKV10022", r.json()["error"]["message"])
        self.assertIn('resource="https://managedhsm.azure.net"', r.header("WWW-Authenticate"))
        # and a vault refuses an HSM token
        r = self.tw.get("https://kv-plain.vault.azure.net/keys/kvkey?api-version=7.6", token=self.hsm_tok)
        self.assertEqual(r.status, 401)

    def test_key_reads_as_crypto_auditor(self):
        r = self.get("/keys/cmk1")
        self.assertEqual(r.status, 200, r.body)
        k = r.json()["key"]
        self.assertEqual(k["kty"], "RSA-HSM")
        self.assertTrue(k["kid"].startswith(HSM + "/keys/cmk1/"))
        self.assertEqual(self.get("/keys/cmk1/versions").status, 200)
        self.assertEqual(self.get("/keys").status, 200)
        self.assertEqual(self.get("/keys/cmk1/rotationpolicy").status, 200)
        self.assertEqual(self.get("/keys/eckey").json()["key"]["kty"], "EC-HSM")
        # The auditor may not read deleted keys: that is the Crypto Officer's.
        r = self.get("/deletedkeys/oldkey")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.json()["error"]["innererror"]["code"], "ForbiddenByRbac")
        self.assertIn("Microsoft.KeyVault/managedHsm/keys/deletedKeys/read/action", r.json()["error"]["message"])

    def test_key_reads_without_a_local_role(self):
        tok = self.tw.token("https://managedhsm.azure.net", principal="outsider")
        r = self.get("/keys/cmk1", token=tok)
        self.assertEqual(r.status, 403)
        e = r.json()["error"]
        self.assertEqual((e["code"], e["innererror"]["code"]), ("Forbidden", "ForbiddenByRbac"))
        self.assertIn("Microsoft.KeyVault/managedHsm/keys/read/action", e["message"])
        self.assertIn("Resource: '/keys/cmk1'", e["message"])
        self.assertEqual(self.get("/providers/Microsoft.Authorization/roleAssignments", token=tok).status, 403)

    def test_role_assignments_at_root_list_every_scope(self):
        for path in ("/providers/Microsoft.Authorization/roleAssignments",
                     "//providers/Microsoft.Authorization/roleAssignments"):
            r = self.get(path)
            self.assertEqual(r.status, 200, r.body)
            items = r.json()["value"]
            self.assertEqual(sorted(i["properties"]["scope"] for i in items), ["/", "/keys", "/keys/cmk1",
                                                                                "/keys/cmk2"])
        ra = [i for i in items if i["properties"]["scope"] == "/keys/cmk1"][0]
        self.assertEqual(ra["type"], "Microsoft.Authorization/roleAssignments")
        self.assertEqual(ra["properties"]["roleDefinitionId"], "Microsoft.KeyVault/providers/Microsoft.Authorization/"
                                                               "roleDefinitions/33413926-3206-4cdd-b39a-83574fe37a17")
        self.assertTrue(ra["id"].startswith("/keys/cmk1/providers/Microsoft.Authorization/roleAssignments/"))
        self.assertEqual(self.get("/keys/cmk1/providers/Microsoft.Authorization/roleAssignments/" +
                                  ra["name"]).json(), ra)

    def test_role_assignment_scopes_and_filters(self):
        def scopes(path):
            r = self.get(path)
            self.assertEqual(r.status, 200, r.body)
            return sorted(i["properties"]["scope"] for i in r.json()["value"])
        base = "/providers/Microsoft.Authorization/roleAssignments"
        self.assertEqual(scopes("/keys" + base), ["/", "/keys", "/keys/cmk1", "/keys/cmk2"])
        self.assertEqual(scopes("/keys/cmk1" + base), ["/", "/keys", "/keys/cmk1"])
        self.assertEqual(scopes("/keys/cmk1" + base + "?$filter=atScope()"), ["/", "/keys", "/keys/cmk1"])
        self.assertEqual(scopes("/keys" + base + "?$filter=atScope()"), ["/", "/keys"])
        h1 = self.tw.state()["identities"]
        pid = [i for i in h1 if i["name"] == "uami-h1"][0]["principal_id"]
        self.assertEqual(scopes(base + "?$filter=principalId eq '%s'" % pid), ["/keys/cmk1"])
        self.assertEqual(self.get(base + "?$filter=roleName eq 'x'").status, 400)
        self.assertEqual(self.get("/secrets" + base).status, 400)
        # paging
        r = self.get(base + "?maxresults=2")
        self.assertEqual(len(r.json()["value"]), 2)
        r2 = self.tw.get(r.json()["nextLink"], token=self.hsm_tok)
        self.assertEqual(r2.status, 200, r2.body)
        self.assertEqual(len(r2.json()["value"]), 2)
        self.assertIsNone(r2.json()["nextLink"])

    def test_role_definitions(self):
        r = self.get("/providers/Microsoft.Authorization/roleDefinitions")
        self.assertEqual(r.status, 200, r.body)
        defs = r.json()["value"]
        names = [d["properties"]["roleName"] for d in defs]
        self.assertEqual(names[0], "cmk wrap only")  # custom roles first
        self.assertIn("Managed HSM Crypto Service Encryption User", names)
        self.assertEqual(len(defs), 10)
        custom = defs[0]
        self.assertEqual(custom["properties"]["type"], "CustomRole")
        self.assertIn("Microsoft.KeyVault/managedHsm/keys/wrap/action",
                      custom["properties"]["permissions"][0]["dataActions"])
        r = self.get("/providers/Microsoft.Authorization/roleDefinitions/2c18b078-7c48-4d3a-af88-5a3a1b3f82b3")
        self.assertEqual(r.json()["properties"]["type"], "AKVBuiltInRole")
        self.assertEqual(r.json()["properties"]["roleName"], "Managed HSM Crypto Auditor")
        r = self.get("/providers/Microsoft.Authorization/roleDefinitions?$filter=roleName eq 'cmk wrap only'")
        self.assertEqual(len(r.json()["value"]), 1)
        self.assertEqual(self.get("/providers/Microsoft.Authorization/roleDefinitions/"
                                  "00000000-0000-0000-0000-000000000000").status, 404)

    def test_vault_has_no_local_rbac(self):
        r = self.tw.get("https://kv-plain.vault.azure.net/providers/Microsoft.Authorization/roleAssignments"
                        "?api-version=7.6", token=self.tw.token("https://vault.azure.net"))
        self.assertEqual(r.status, 400)


class HsmWorld(unittest.TestCase):
    def load_err(self, sc, text):
        with self.assertRaises(ScenarioError) as cm:
            World(sc)
        self.assertIn(text, str(cm.exception))

    def test_scenario_forms(self):
        sc = hsm_scenario()
        sc["vaults"].append({"name": "hsm-typed", "resource_group": "rg-keys", "type": "managed-hsm",
                             "keys": [{"name": "k"}]})
        sc["vaults"].append({"name": "hsm-flag", "resource_group": "rg-keys", "hsm": True})
        w = World(sc)
        v = [x for x in w.vaults.values() if x.name == "hsm-typed"][0]
        self.assertTrue(v.hsm)
        self.assertEqual(v.host, "hsm-typed.managedhsm.azure.net")
        self.assertEqual(v.keys["k"].kty, "RSA-HSM")
        self.assertIn("/managedHSMs/", v.id)

    def test_vault_and_hsm_of_the_same_name(self):
        sc = hsm_scenario()
        sc["vaults"].append({"name": "hsm-prod", "resource_group": "rg-keys", "keys": [{"name": "cmk1"}]})
        sc["clusters"].append({"name": "c-same-vault", "resource_group": "rg-data",
                               "cmk": {"identity": "uami-kv", "vault": "hsm-prod", "key": "cmk1"}})
        w = World(sc)
        urls = {c.name: c.cmk["key_url"] for c in w.clusters.values()}
        self.assertEqual(urls["c-hsm"], "https://hsm-prod.managedhsm.azure.net/keys/cmk1")
        self.assertEqual(urls["c-same-vault"], "https://hsm-prod.vault.azure.net/keys/cmk1")
        self.assertEqual(len([v for v in w.vaults.values() if v.name == "hsm-prod"]), 2)

    def test_scenario_errors(self):
        def with_hsm(**kw):
            sc = hsm_scenario()
            sc["hsms"][0].update(kw)
            return sc
        self.load_err(with_hsm(keys=[{"name": "soft", "kty": "RSA"}]), "only HSM-protected keys")
        self.load_err(with_hsm(rbac=False), "local RBAC only")
        self.load_err(with_hsm(access_policies=[{"principal": "cmkd", "keys": ["get"]}]), "no access policies")
        self.load_err(with_hsm(role_assignments=[{"principal": "cmkd", "role": "Managed HSM Crypto Auditor",
                                                  "scope": "/secrets"}]), "not a Managed HSM scope")
        self.load_err(with_hsm(role_assignments=[{"principal": "cmkd", "role": "Key Vault Reader"}]),
                      "unknown Managed HSM role")
        self.load_err(with_hsm(hsm=False), "an entry of 'hsms' is a Managed HSM")
        sc = hsm_scenario()
        sc["vaults"][0]["role_assignments"] = [{"principal": "cmkd", "role": "Managed HSM Crypto Auditor"}]
        self.load_err(sc, "only a Managed HSM has local role assignments")
        sc = hsm_scenario()
        sc["vaults"][0]["type"] = "hsm"
        self.load_err(sc, "must be 'vault' or 'managed-hsm'")


class HsmConsequences(unittest.TestCase):
    def setUp(self):
        self.tw = tu.start("hsm.json")
        self.tw.control("freeze_clock")

    def tearDown(self):
        self.tw.stop()

    def status(self, name):
        c = self.tw.cluster(name)
        return c["clusterStatus"], c["access_reasons"]

    def test_initial_state(self):
        self.assertEqual(self.status("c-hsm"), ("Ready", []))
        self.assertEqual(self.status("c-hsm-stale"), ("Ready", []))
        self.assertEqual(self.status("c-hsm-custom"), ("Ready", []))  # a custom local role with the 3 actions
        self.assertEqual(self.status("c-hsm-closed"), ("Inaccessible", ["vault_network_blocked"]))

    def test_local_role_removed_then_restored(self):
        res = self.tw.control("remove_hsm_role_assignment", hsm="hsm-prod", identity="uami-h1",
                              role="Managed HSM Crypto Service Encryption User")
        self.assertEqual(len(res["removed"]), 1)
        self.assertEqual(self.status("c-hsm"), ("Ready", ["rbac_role_missing"]))
        self.tw.control("advance_clock", seconds=3)
        self.assertEqual(self.status("c-hsm"), ("Inaccessible", ["rbac_role_missing"]))
        # A role at another key's scope does not count.
        self.tw.control("add_hsm_role_assignment", hsm="hsm-prod", identity="uami-h1",
                        role="Managed HSM Crypto Service Encryption User", scope="/keys/cmk2")
        self.assertEqual(self.status("c-hsm")[1], ["rbac_role_missing"])
        # Nor does a role without wrap/unwrap.
        self.tw.control("add_hsm_role_assignment", hsm="hsm-prod", identity="uami-h1",
                        role="Managed HSM Crypto Auditor", scope="/")
        self.assertEqual(self.status("c-hsm")[1], ["rbac_role_missing"])
        self.tw.control("add_hsm_role_assignment", hsm="hsm-prod", identity="uami-h1",
                        role="Managed HSM Crypto User", scope="/")
        self.assertEqual(self.status("c-hsm")[1], [])
        self.tw.control("advance_clock", seconds=3)
        self.assertEqual(self.status("c-hsm"), ("Ready", []))

    def test_network_rules_disabled_key_and_deletion(self):
        self.tw.control("set_network_rules", hsm="hsm-prod", default_action="Deny", bypass="None")
        self.assertIn("vault_network_blocked", self.status("c-hsm")[1])
        self.tw.control("set_network_rules", hsm="hsm-prod", bypass="AzureServices")
        self.assertEqual(self.status("c-hsm")[1], [])
        self.tw.control("disable_key", hsm="hsm-prod", key="cmk1")
        self.assertEqual(self.status("c-hsm")[1], ["key_disabled"])
        self.tw.control("enable_key", hsm="hsm-prod", key="cmk1")
        self.tw.control("delete_vault", hsm="hsm-prod")
        self.assertEqual(self.status("c-hsm")[1], ["vault_deleted"])
        r = self.tw.get(MGMT + "/providers/Microsoft.KeyVault/deletedManagedHSMs?" + API, token=self.tw.token())
        self.assertEqual(sorted(d["name"] for d in r.json()["value"]), ["hsm-gone", "hsm-prod"])
        import http.client
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.tw.get(HSM + "/keys/cmk1?api-version=7.6", token=self.tw.token("https://managedhsm.azure.net"))

    def test_control_op_errors(self):
        from twinlib import TwinError
        with self.assertRaises(TwinError) as cm:
            self.tw.control("add_hsm_role_assignment", hsm="kv-plain", principal="cmkd",
                            role="Managed HSM Crypto Auditor")
        self.assertIn("no Managed HSM 'kv-plain'", str(cm.exception))
        with self.assertRaises(TwinError) as cm:
            self.tw.control("add_hsm_role_assignment", vault="kv-plain", principal="cmkd",
                            role="Managed HSM Crypto Auditor")
        self.assertIn("is a key vault, not a Managed HSM", str(cm.exception))
        with self.assertRaises(TwinError):
            self.tw.control("add_hsm_role_assignment", hsm="hsm-prod", principal="cmkd",
                            role="Managed HSM Crypto Auditor", scope="/certificates")
        with self.assertRaises(TwinError):
            self.tw.control("remove_hsm_role_assignment", hsm="hsm-prod", principal="outsider")
        with self.assertRaises(TwinError):
            self.tw.control("set_key_attributes", hsm="hsm-prod", key="cmk1", kty="RSA")
        with self.assertRaises(TwinError):
            self.tw.control("set_vault", hsm="hsm-prod", rbac=False)
        res = self.tw.control("add_hsm_role_definition", hsm="hsm-prod", name="reader2",
                              data_actions=["Microsoft.KeyVault/managedHsm/keys/read/action"])
        self.assertTrue(res["id"])
        st = [v for v in self.tw.state()["vaults"] if v["name"] == "hsm-prod"][0]
        self.assertTrue(st["hsm"])
        self.assertEqual(len(st["local_role_assignments"]), 4)
        self.assertEqual([d["name"] for d in st["local_role_definitions"]], ["cmk wrap only", "reader2"])


class HsmPut(unittest.TestCase):
    def test_cmk_put_with_hsm_key_url(self):
        with tu.start("hsm.json") as tw:
            url = tu.cluster_url("c-kv")
            # uami-h1 holds the CSE role only at /keys/cmk1: cmk2 is refused as unreadable
            body = tu.cmk_body(H1, HSM + "/keys/cmk2")
            r = tw.request("PUT", url, token=tw.token(), json_body=body)
            self.assertEqual(r.status, 400, r.body)
            self.assertEqual(r.json()["error"]["code"], "AzureKeyVaultKeyNameNotFound")
            body = tu.cmk_body(H1, HSM + "/keys/cmk1")
            r = tw.request("PUT", url, token=tw.token(), json_body=body)
            self.assertEqual(r.status, 200, r.body)
            tw.control("finish_operations")
            c = tw.cluster("c-kv")
            self.assertEqual(c["cmk"]["key_url"], HSM + "/keys/cmk1")
            self.assertEqual((c["clusterStatus"], c["access_reasons"]), ("Ready", []))


if __name__ == "__main__":
    unittest.main()
