# Azure Resource Manager in the twin: subscriptions, mongoClusters (list paging, GET, the
# documented CMK PUT, PATCH, LROs through Azure-AsyncOperation and Location), identities,
# vaults, role assignments and definitions, api-versions, denials, error shapes.

import unittest
import urllib.parse

import twin_testutil as tu

SUB, RG = tu.SUB, tu.RG
KV = "https://kv-rbac.vault.azure.net/keys/"


def arm(path, api):
    return "%s%s?api-version=%s" % (tu.ARM, path, api)


class Base(unittest.TestCase):
    settings = {}

    def setUp(self):
        self.tw = tu.start(tu.scenario("basic.json", **self.settings))
        self.tok = self.tw.token()

    def tearDown(self):
        self.tw.stop()

    def get(self, url, **kw):
        return self.tw.get(url, token=kw.pop("token", self.tok), **kw)

    def err(self, r, status, code):
        self.assertEqual(r.status, status, r.body)
        e = r.json()["error"]
        self.assertEqual(e["code"], code, e)
        self.assertIsInstance(e["message"], str)
        return e["message"]

    def cluster(self, name, api="2025-09-01"):
        r = self.get(tu.cluster_url(name, api="api-version=" + api))
        self.assertEqual(r.status, 200, r.body)
        return r.json()

    def key_url(self, c):
        return c["properties"]["encryption"]["customerManagedKeyEncryption"]["keyEncryptionKeyUrl"]


class Reads(Base):
    settings = {"arm_page_size": 3}

    def test_subscriptions(self):
        r = self.get(arm("/subscriptions", "2022-12-01"))
        self.assertEqual(r.status, 200)
        ids = sorted(s["subscriptionId"] for s in r.json()["value"])
        self.assertEqual(ids, [tu.SUB, tu.SUB_DEV])
        r = self.get(arm("/subscriptions/" + SUB, "2022-12-01"))
        self.assertEqual(r.json()["displayName"], "prod")
        self.err(self.get(arm("/subscriptions/33333333-3333-3333-3333-333333333333/providers/Microsoft.DocumentDB/"
                              "mongoClusters", "2025-09-01")), 404, "SubscriptionNotFound")

    def test_list_pages_with_next_link(self):
        url = arm("/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % SUB, "2025-09-01")
        names, pages = [], 0
        while url:
            r = self.get(url)
            self.assertEqual(r.status, 200, r.body)
            b = r.json()
            self.assertLessEqual(len(b["value"]), 3)
            names += [c["name"] for c in b["value"]]
            pages += 1
            url = b.get("nextLink")
            if url:
                self.assertTrue(url.startswith("https://management.azure.com/subscriptions/%s/providers/" % SUB))
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
                self.assertEqual(q["api-version"], ["2025-09-01"])
                self.assertIn("$skipToken", q)
        self.assertEqual(pages, 3)
        self.assertEqual(names, ["c-versionless", "c-pinned", "c-stale", "c-ap", "c-fw", "c-smk", "c-replica"])
        r = self.get(arm("/subscriptions/%s/resourceGroups/rg-dev/providers/Microsoft.DocumentDB/mongoClusters"
                         % tu.SUB_DEV, "2026-06-01"))
        self.assertEqual([c["name"] for c in r.json()["value"]], ["c-dev"])
        self.assertNotIn("nextLink", r.json())
        self.err(self.get(arm("/subscriptions/%s/resourceGroups/nope/providers/Microsoft.DocumentDB/mongoClusters"
                              % SUB, "2025-09-01")), 404, "ResourceGroupNotFound")
        self.err(self.get(url or arm("/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % SUB,
                                     "2025-09-01") + "&%24skipToken=garbage!"), 400, "InvalidSkipToken")

    def test_cluster_shapes(self):
        c = self.cluster("c-pinned")
        self.assertEqual(c["type"], "Microsoft.DocumentDB/mongoClusters")
        p = c["properties"]
        self.assertEqual((p["provisioningState"], p["clusterStatus"]), ("Succeeded", "Ready"))
        cmk = p["encryption"]["customerManagedKeyEncryption"]
        self.assertEqual(cmk["keyEncryptionKeyIdentity"], {"identityType": "UserAssignedIdentity",
                                                           "userAssignedIdentityResourceId": tu.UAMI_A})
        self.assertRegex(cmk["keyEncryptionKeyUrl"], r"^https://kv-rbac\.vault\.azure\.net/keys/key1/[0-9a-f]{32}$")
        ua = c["identity"]["userAssignedIdentities"][tu.UAMI_A]
        self.assertEqual(set(ua), {"principalId", "clientId"})
        self.assertNotIn("networkBypassMode", p)
        self.assertEqual(self.cluster("c-pinned", "2026-06-01")["properties"]["networkBypassMode"], "None")
        self.assertNotIn("encryption", self.cluster("c-smk")["properties"])
        self.assertNotIn("identity", self.cluster("c-smk"))
        rep = self.cluster("c-replica")["properties"]["replica"]
        self.assertEqual(rep["role"], "GeoAsyncReplica")
        self.assertTrue(rep["sourceResourceId"].endswith("/mongoClusters/c-versionless"))
        self.assertIn("GeoReplicas", self.cluster("c-replica")["properties"]["previewFeatures"])
        self.assertTrue(self.key_url(self.cluster("c-versionless")).endswith("/keys/key1"))
        self.err(self.get(tu.cluster_url("nope")), 404, "ResourceNotFound")

    def test_api_versions(self):
        base = "%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % (tu.ARM, SUB)
        self.assertIn("api-version", self.err(self.get(base), 400, "MissingApiVersionParameter"))
        msg = self.err(self.get(base + "?api-version=2023-03-01-preview"), 400, "NoRegisteredProviderFound")
        self.assertIn("2025-09-01", msg)
        self.assertIn("2026-06-01", msg)
        self.err(self.get(arm("/subscriptions", "1999-01-01")), 400, "InvalidApiVersionParameter")
        for path, good in (("/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-rbac",
                            "2026-04-01"),
                           ("/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/"
                            "userAssignedIdentities/uami-a", "2023-01-31")):
            self.assertEqual(self.get(arm(path % SUB, good)).status, 200)
            self.err(self.get(arm(path % SUB, "2025-09-01x")), 400, "NoRegisteredProviderFound")

    def test_identities(self):
        path = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" \
               "uami-a" % SUB
        r = self.get(arm(path, "2023-01-31"))
        self.assertEqual(r.status, 200)
        b = r.json()
        self.assertEqual(b["id"], tu.UAMI_A)
        self.assertEqual(set(b["properties"]), {"tenantId", "principalId", "clientId"})
        b = self.get(arm(path, "2026-05-31")).json()
        self.assertEqual(b["properties"]["isolationScope"], "None")
        self.tw.control("delete_identity", identity="uami-a")
        self.err(self.get(arm(path, "2023-01-31")), 404, "ResourceNotFound")

    def test_vaults(self):
        r = self.get(arm("/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-ap" % SUB,
                         "2026-04-01"))
        p = r.json()["properties"]
        self.assertFalse(p["enableRbacAuthorization"])
        self.assertFalse(p["enablePurgeProtection"])
        self.assertEqual(p["vaultUri"], "https://kv-ap.vault.azure.net/")
        self.assertEqual(len(p["accessPolicies"]), 4)
        self.assertEqual(p["networkAcls"]["defaultAction"], "Allow")
        names = []
        url = arm("/subscriptions/%s/providers/Microsoft.KeyVault/vaults" % SUB, "2026-04-01") + "&$top=2"
        while url:
            b = self.get(url).json()
            names += [v["name"] for v in b["value"]]
            url = b.get("nextLink")
        self.assertEqual(names, ["kv-rbac", "kv-ap", "kv-fw"])
        self.tw.control("delete_vault", vault="kv-fw")
        b = self.get(arm("/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults" % SUB, "2026-04-01")).json()
        self.assertEqual([v["name"] for v in b["value"]], ["kv-fw"])
        self.assertEqual(b["value"][0]["properties"]["purgeProtectionEnabled"], True)
        self.err(self.get(arm("/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-fw"
                              % SUB, "2026-04-01")), 404, "ResourceNotFound")
        r = self.get(arm("/subscriptions/%s/providers/Microsoft.KeyVault/locations/westus2/deletedVaults/kv-fw" % SUB,
                         "2026-04-01"))
        self.assertEqual(r.status, 200)

    def test_role_assignments(self):
        st = {p["name"]: p for p in self.tw.state()["principals"]}
        cmkd = st["cmkd"]["object_id"]
        uami_a = next(i for i in self.tw.state()["identities"] if i["name"] == "uami-a")["principal_id"]
        vault = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-rbac" % SUB

        def ras(scope, flt=None, api="2022-04-01"):
            url = arm(scope + "/providers/Microsoft.Authorization/roleAssignments", api)
            if flt:
                url += "&$filter=" + urllib.parse.quote(flt)
            out = []
            while url:
                r = self.get(url)
                self.assertEqual(r.status, 200, r.body)
                out += r.json()["value"]
                url = r.json().get("nextLink")
            return out

        # at and above the vault, for the UAMI: its vault-level role
        got = ras(vault, "principalId eq '%s'" % uami_a)
        self.assertEqual([(a["properties"]["scope"], a["properties"]["roleDefinitionId"].rsplit("/", 1)[1])
                          for a in got], [(vault, "e147488a-f6f5-4113-8e2d-b22465e65bf6")])
        self.assertEqual(got[0]["properties"]["principalType"], "ServicePrincipal")
        # principalId eq at the subscription also finds assignments below it
        got = ras("/subscriptions/" + SUB, "principalId eq '%s'" % uami_a)
        self.assertEqual(len(got), 2)
        # atScope() at the vault: at and above only (cmkd's subscription roles, UAMI roles at the vault)
        got = ras(vault, "atScope()")
        scopes = {a["properties"]["scope"] for a in got}
        self.assertEqual(scopes, {vault, "/subscriptions/" + SUB})
        got = ras("/subscriptions/" + SUB, "atScope() and assignedTo('%s')" % cmkd)
        self.assertEqual(sorted(a["properties"]["roleDefinitionId"].rsplit("/", 1)[1] for a in got),
                         sorted(["21090545-7ca7-4776-b22c-e363652d74d2", "acdd72a7-3385-48ef-bd42-f606fba81ae7"]))
        # no filter: at, above and below
        got = ras("/subscriptions/%s/resourceGroups/rg-keys" % SUB)
        self.assertEqual(len(got), 2 + 4)  # 2 vault-level below, 4 subscription-level above (prod)
        self.err(self.get(arm("/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments" % SUB,
                              "2022-04-01") + "&$filter=roleName+eq+'x'"), 400, "UnsupportedQuery")

    def test_role_assignments_through_groups(self):
        sc = tu.scenario("basic.json")
        sc["groups"] = [{"object_id": "cccccccc-0000-0000-0000-00000000000c", "members": ["cmkd"]}]
        sc["role_assignments"].append({"principal_id": "cccccccc-0000-0000-0000-00000000000c", "principal_type":
                                       "Group", "role": "Key Vault Crypto Officer", "vault": "kv-rbac"})
        with tu.start(sc) as tw:
            tok = tw.token()
            vault = "/subscriptions/%s/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/kv-rbac" % SUB
            url = arm(vault + "/providers/Microsoft.Authorization/roleAssignments", "2022-04-01") + \
                "&$filter=" + urllib.parse.quote("assignedTo('aaaaaaaa-0000-0000-0000-000000000001')")
            got = tw.get(url, token=tok).json()["value"]
            self.assertIn("Group", [a["properties"]["principalType"] for a in got])
            # the group's role works on the data plane
            kv = tw.token("https://vault.azure.net")
            tw.control("remove_role_assignment", principal="cmkd", role="Key Vault Reader", subscription="prod")
            r = tw.get("https://kv-rbac.vault.azure.net/keys/key1/rotationpolicy?api-version=7.6", token=kv)
            self.assertEqual(r.status, 200, r.body)

    def test_role_definitions(self):
        r = self.get(arm("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/"
                         "e147488a-f6f5-4113-8e2d-b22465e65bf6" % SUB, "2022-04-01"))
        self.assertEqual(r.status, 200)
        p = r.json()["properties"]
        self.assertEqual(p["roleName"], "Key Vault Crypto Service Encryption User")
        self.assertEqual(p["type"], "BuiltInRole")
        self.assertIn("Microsoft.KeyVault/vaults/keys/wrap/action", p["permissions"][0]["dataActions"])
        self.err(self.get(arm("/providers/Microsoft.Authorization/roleDefinitions/"
                              "00000000-1111-2222-3333-444444444444", "2022-04-01")), 404,
                 "RoleDefinitionDoesNotExist")
        r = self.get(arm("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions" % SUB, "2022-04-01") +
                     "&$filter=" + urllib.parse.quote("roleName eq 'Key Vault Reader'"))
        self.assertEqual([d["name"] for d in r.json()["value"]], ["21090545-7ca7-4776-b22c-e363652d74d2"])

    def test_custom_role_definition(self):
        sc = tu.scenario("basic.json")
        sc["role_definitions"] = [{"name": "CMK wrapper", "data_actions": ["Microsoft.KeyVault/vaults/keys/*"],
                                   "not_data_actions": ["Microsoft.KeyVault/vaults/keys/delete"]}]
        sc["role_assignments"] = [ra for ra in sc["role_assignments"] if ra.get("identity") != "uami-a"]
        sc["role_assignments"].append({"identity": "uami-a", "role": "CMK wrapper", "vault": "kv-rbac"})
        with tu.start(sc) as tw:
            tok = tw.token()
            c = tw.cluster("c-versionless")
            self.assertTrue(c["access_ok"], c)
            ra = next(a for a in tw.state()["role_assignments"] if a["role_name"] == "CMK wrapper")
            r = tw.get(arm("/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/%s" % (SUB, ra["role"]),
                           "2022-04-01"), token=tok)
            self.assertEqual(r.json()["properties"]["type"], "CustomRole")
            self.assertEqual(r.json()["properties"]["permissions"][0]["notDataActions"],
                             ["Microsoft.KeyVault/vaults/keys/delete"])

    def test_denials(self):
        self.tw.control("deny_arm", principal="cmkd", scope="/subscriptions/%s/resourceGroups/rg-data" % SUB,
                        actions=["read"])
        msg = self.err(self.get(tu.cluster_url("c-smk")), 403, "AuthorizationFailed")
        self.assertIn("Microsoft.DocumentDB/mongoClusters/read", msg)
        r = self.get(arm("/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % SUB, "2025-09-01"))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["value"], [], "a subscription list leaves out what the caller cannot read")
        self.err(self.get(arm("/subscriptions/%s/resourceGroups/rg-data/providers/Microsoft.DocumentDB/"
                              "mongoClusters" % SUB, "2025-09-01")), 403, "AuthorizationFailed")
        self.tw.control("allow_arm", principal="cmkd")
        self.assertEqual(self.get(tu.cluster_url("c-smk")).status, 200)


class Updates(Base):
    settings = {"lro_delay_s": 5, "retry_after_s": 1}

    def setUp(self):
        super().setUp()
        self.tw.control("freeze_clock")

    def put(self, name, body, **kw):
        return self.tw.put(tu.cluster_url(name, **kw), token=self.tok, json_body=body)

    def test_documented_cmk_put(self):
        before = self.cluster("c-pinned")
        new = KV + "key2"
        r = self.put("c-pinned", tu.cmk_body(tu.UAMI_A, new))
        self.assertEqual(r.status, 200, r.body)
        b = r.json()
        self.assertEqual(b["properties"]["provisioningState"], "Updating")
        self.assertEqual(self.key_url(b), new)
        for h in ("Azure-AsyncOperation", "Location"):
            self.assertRegex(r.header(h), r"^https://management\.azure\.com/subscriptions/%s/providers/"
                                          r"Microsoft\.DocumentDB/locations/westus2/mongoCluster" % SUB)
        self.assertEqual(r.header("Retry-After"), "1")
        self.assertEqual(r.header("x-ms-ratelimit-remaining-subscription-writes"), "199")
        # while running: Updating, old key
        mid = self.cluster("c-pinned")
        self.assertEqual((mid["properties"]["provisioningState"], mid["properties"]["clusterStatus"]),
                         ("Updating", "Updating"))
        self.assertEqual(self.key_url(mid), self.key_url(before))
        op = self.get(r.header("Azure-AsyncOperation"))
        self.assertEqual(op.status, 200)
        ob = op.json()
        self.assertEqual(ob["status"], "InProgress")
        self.assertEqual(set(ob) - {"percentComplete"}, {"id", "name", "resourceId", "status", "startTime"})
        self.assertEqual(ob["resourceId"], before["id"])
        loc = self.get(r.header("Location"))
        self.assertEqual(loc.status, 202)
        self.assertEqual(loc.header("Location"), r.header("Location"))
        # the PUT is still running: a second one is refused
        self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_A, new)), 409, "AnotherOperationInProgress")
        self.tw.control("advance_clock", seconds=5)
        ob = self.get(r.header("Azure-AsyncOperation")).json()
        self.assertEqual(ob["status"], "Succeeded")
        self.assertIn("endTime", ob)
        loc = self.get(r.header("Location"))
        self.assertEqual(loc.status, 200)
        self.assertEqual(self.key_url(loc.json()), new)
        after = self.cluster("c-pinned")
        self.assertEqual((after["properties"]["provisioningState"], after["properties"]["clusterStatus"]),
                         ("Succeeded", "Ready"))
        self.assertEqual(self.key_url(after), new)

    def test_patch_is_202_without_body(self):
        r = self.tw.patch(tu.cluster_url("c-pinned"), token=self.tok, json_body=tu.cmk_body(tu.UAMI_A, KV + "key1"))
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.body, b"")
        self.assertIsNotNone(r.header("Azure-AsyncOperation"))
        self.assertIsNotNone(r.header("Location"))
        self.tw.control("advance_clock", seconds=6)
        loc = self.get(r.header("Location"))
        self.assertEqual(loc.status, 200)
        self.assertEqual(self.key_url(loc.json()), KV + "key1")
        self.tw.control("set_settings", retry_after_s=0)
        r = self.tw.patch(tu.cluster_url("c-smk"), token=self.tok, json_body={"tags": {"x": "1"}})
        self.assertEqual(r.header("Retry-After"), "0")

    def test_identity_and_key_together(self):
        body = tu.cmk_body(tu.UAMI_A, KV + "key2")
        only_identity = {"location": "westus2", "identity": body["identity"], "properties": {}}
        only_key = {"location": "westus2", "properties": body["properties"]}
        no_kek_identity = tu.cmk_body(tu.UAMI_A, KV + "key2")
        del no_kek_identity["properties"]["encryption"]["customerManagedKeyEncryption"]["keyEncryptionKeyIdentity"]
        for b in (only_identity, only_key, no_kek_identity):
            msg = self.err(self.put("c-pinned", b), 400, "InvalidParameter")
            self.assertIn("User assigned identity and keyvault key need to be provided together", msg)
            msg = self.err(self.tw.patch(tu.cluster_url("c-pinned"), token=self.tok, json_body=b), 400,
                           "InvalidParameter")
        other = tu.cmk_body(tu.UAMI_A, KV + "key2")
        other["identity"]["userAssignedIdentities"] = {tu.UAMI_B: {}}
        self.err(self.put("c-pinned", other), 400, "InvalidParameter")
        self.assertEqual(self.cluster("c-pinned")["properties"]["provisioningState"], "Succeeded")

    def test_documented_key_errors_and_identity_added_anyway(self):
        for url in (KV + "nokey", KV + "key1/" + "0" * 32, "https://nosuchvault.vault.azure.net/keys/k"):
            msg = self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_A, url)), 400, "AzureKeyVaultKeyNameNotFound")
            self.assertIn("does not exist or User Assigned Identity does not have Get access to the Key", msg)
            self.assertIn(url, msg)
        # uami-b has no role on kv-rbac: no Get access
        self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_B, KV + "key1")), 400, "AzureKeyVaultKeyNameNotFound")
        c = self.cluster("c-pinned")
        self.assertIn(tu.UAMI_B, c["identity"]["userAssignedIdentities"], "valid identity added although the PUT "
                                                                           "failed")
        self.assertTrue(self.key_url(c).startswith(KV + "key1/"))
        self.assertEqual(c["properties"]["encryption"]["customerManagedKeyEncryption"]["keyEncryptionKeyIdentity"]
                         ["userAssignedIdentityResourceId"], tu.UAMI_A)
        # a key behind a firewall that shuts out trusted services fails the same way
        self.tw.control("set_network_rules", vault="kv-rbac", default_action="Deny", bypass="None")
        self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_A, KV + "key2")), 400, "AzureKeyVaultKeyNameNotFound")
        self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_A, "ftp://x/keys/y")), 400, "InvalidParameter")

    def test_missing_identity(self):
        ghost = tu.UAMI_A.replace("uami-a", "ghost")
        msg = self.err(self.put("c-pinned", tu.cmk_body(ghost, KV + "key1")), 400, "FailedIdentityOperation")
        self.assertIn(ghost, msg)
        self.assertNotIn(ghost, self.cluster("c-pinned")["identity"]["userAssignedIdentities"])

    def test_linked_authorization(self):
        self.tw.control("deny_arm", principal="cmkd", scope=tu.UAMI_A, actions=["assign"])
        msg = self.err(self.put("c-pinned", tu.cmk_body(tu.UAMI_A, KV + "key2")), 403, "LinkedAuthorizationFailed")
        self.assertIn("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", msg)

    def test_put_checks(self):
        self.err(self.put("c-smk", tu.cmk_body(tu.UAMI_A, KV + "key1")), 400, "InvalidParameter")
        b = tu.cmk_body(tu.UAMI_A, KV + "key1")
        del b["location"]
        self.err(self.put("c-pinned", b), 400, "LocationRequired")
        b["location"] = "eastus"
        self.err(self.put("c-pinned", b), 400, "InvalidResourceLocation")
        r = self.tw.put(tu.cluster_url("c-pinned"), token=self.tok, body=b"{not json",
                        headers={"Content-Type": "application/json"})
        self.err(r, 400, "InvalidRequestContent")
        b = tu.cmk_body(tu.UAMI_A, KV + "key1")
        b["properties"]["storage"] = {"sizeGb": "big"}
        self.err(self.put("c-pinned", b), 400, "InvalidRequestContent")

    def test_failed_lro_keeps_key(self):
        old = self.key_url(self.cluster("c-pinned"))
        self.tw.faults({"action": "lro_fail", "method": "PUT", "code": "KeyVaultAccessLost",
                        "message": "The key could not be reached.", "status": 400})
        r = self.put("c-pinned", tu.cmk_body(tu.UAMI_A, KV + "key2"))
        self.assertEqual(r.status, 200)
        self.tw.control("advance_clock", seconds=5)
        ob = self.get(r.header("Azure-AsyncOperation")).json()
        self.assertEqual(ob["status"], "Failed")
        self.assertEqual(ob["error"], {"code": "KeyVaultAccessLost", "message": "The key could not be reached."})
        self.err(self.get(r.header("Location")), 400, "KeyVaultAccessLost")
        c = self.cluster("c-pinned")
        self.assertEqual(self.key_url(c), old)
        self.assertEqual(c["properties"]["provisioningState"], "Failed")
        self.tw.control("set_settings", lro_failed_provisioning_state="Succeeded")
        r = self.put("c-pinned", tu.cmk_body(tu.UAMI_A, KV + "key2"))
        self.tw.control("advance_clock", seconds=5)
        self.assertEqual(self.cluster("c-pinned")["properties"]["provisioningState"], "Succeeded")
        self.assertEqual(self.key_url(self.cluster("c-pinned")), old)

    def test_lro_that_never_ends(self):
        self.tw.control("set_settings", lro_outcome="Never")
        r = self.put("c-pinned", tu.cmk_body(tu.UAMI_A, KV + "key2"))
        self.tw.control("advance_clock", seconds=86400)
        self.tok = self.tw.token()
        self.assertEqual(self.get(r.header("Azure-AsyncOperation")).json()["status"], "InProgress")
        self.assertEqual(self.get(r.header("Location")).status, 202)
        self.assertEqual(self.cluster("c-pinned")["properties"]["provisioningState"], "Updating")
        self.assertEqual(self.tw.control("finish_operations", force=True)["finished"], 1)
        self.assertEqual(self.get(r.header("Azure-AsyncOperation")).json()["status"], "Succeeded")
        self.assertEqual(self.key_url(self.cluster("c-pinned")), KV + "key2")

    def test_delete(self):
        r = self.tw.delete(tu.cluster_url("c-smk"), token=self.tok)
        self.assertEqual(r.status, 202)
        self.assertEqual(self.cluster("c-smk")["properties"]["provisioningState"], "Dropping")
        self.tw.control("advance_clock", seconds=5)
        self.assertEqual(self.get(r.header("Location")).status, 204)
        self.err(self.get(tu.cluster_url("c-smk")), 404, "ResourceNotFound")
        self.assertEqual(self.tw.delete(tu.cluster_url("c-smk"), token=self.tok).status, 204)


if __name__ == "__main__":
    unittest.main()
