# Key Vault data plane in the twin: the challenge, key reads (latest, trailing slash,
# version), paged versions and keys, rotation policy, deleted keys, api-versions, and the
# 403 family (AccessDenied, ForbiddenByRbac, ForbiddenByFirewall, ForbiddenByConnection).

import base64
import unittest
import urllib.parse

import twin_testutil as tu

RBAC = "https://kv-rbac.vault.azure.net"
AP = "https://kv-ap.vault.azure.net"
FW = "https://kv-fw.vault.azure.net"


class Kv(unittest.TestCase):
    def setUp(self):
        self.tw = tu.start("basic.json")
        self.tok = self.tw.token("https://vault.azure.net")
        self.key1 = next(k for v in self.tw.state()["vaults"] if v["name"] == "kv-rbac" for k in v["keys"]
                         if k["name"] == "key1")

    def tearDown(self):
        self.tw.stop()

    def get(self, url, api="7.6", **kw):
        sep = "&" if "?" in url else "?"
        return self.tw.get(url + sep + "api-version=" + api, token=kw.pop("token", self.tok), **kw)

    def err(self, r, status, code, inner=None):
        self.assertEqual(r.status, status, r.body)
        e = r.json()["error"]
        self.assertEqual(e["code"], code)
        if inner:
            self.assertEqual(e["innererror"]["code"], inner)
        return e["message"]

    def test_challenge(self):
        r = self.tw.get(RBAC + "/keys/key1/?api-version=2025-07-01")
        msg = self.err(r, 401, "Unauthorized")
        self.assertEqual(msg, "AKV10000: Request is missing a Bearer or PoP token.")
        self.assertEqual(r.header("WWW-Authenticate"),
                         'Bearer authorization="https://login.windows.net/%s", resource="https://vault.azure.net"'
                         % tu.TENANT)

    def test_get_key_forms(self):
        vers = [v["version"] for v in self.key1["versions"]]
        for path in ("/keys/key1", "/keys/key1/", "/keys/KEY1"):
            r = self.get(RBAC + path)
            self.assertEqual(r.status, 200, (path, r.body))
            b = r.json()
            self.assertEqual(b["key"]["kid"], "%s/keys/key1/%s" % (RBAC, vers[-1]))
        b = self.get(RBAC + "/keys/key1/" + vers[0]).json()
        self.assertEqual(b["key"]["kid"], "%s/keys/key1/%s" % (RBAC, vers[0]))
        k = b["key"]
        self.assertEqual(k["kty"], "RSA")
        self.assertIn("wrapKey", k["key_ops"])
        n = base64.urlsafe_b64decode(k["n"] + "=" * (-len(k["n"]) % 4))
        self.assertEqual(int.from_bytes(n, "big").bit_length(), 3072)
        self.assertEqual(k["e"], "AQAB")
        for f in ("d", "p", "q", "dp", "dq", "qi"):
            self.assertNotIn(f, k)
        a = b["attributes"]
        for f in ("created", "updated", "recoverableDays"):
            self.assertIsInstance(a[f], int)
        self.assertEqual(a["recoveryLevel"], "Recoverable")
        self.assertIs(a["enabled"], True)
        latest = self.get(RBAC + "/keys/key1").json()["attributes"]
        self.assertIsInstance(latest["exp"], int)
        msg = self.err(self.get(RBAC + "/keys/nokey"), 404, "KeyNotFound")
        self.assertIn("A key with (name/id) nokey was not found in this key vault", msg)
        self.err(self.get(RBAC + "/keys/key1/" + "f" * 32), 404, "KeyNotFound")
        r = self.get(AP + "/keys/apkey")
        self.assertEqual(r.json()["attributes"]["recoveryLevel"], "Recoverable+Purgeable")

    def test_versions_paged(self):
        url = RBAC + "/keys/key1/versions?maxresults=1"
        kids = []
        pages = 0
        while url:
            r = self.tw.get(url if "api-version" in url else url + "&api-version=7.6", token=self.tok)
            self.assertEqual(r.status, 200, r.body)
            b = r.json()
            self.assertIn("nextLink", b)
            kids += [i["kid"] for i in b["value"]]
            pages += 1
            url = b["nextLink"]
            if url:
                u = urllib.parse.urlsplit(url)
                self.assertEqual(u.netloc, "kv-rbac.vault.azure.net:443")
                q = urllib.parse.parse_qs(u.query)
                self.assertIn("$skiptoken", q)
                self.assertEqual(q["maxresults"], ["1"])
        self.assertEqual(pages, 3)
        self.assertEqual(kids, sorted("%s/keys/key1/%s" % (RBAC, v["version"]) for v in self.key1["versions"]),
                         "all versions, in version-id order")
        for bad in ("0", "26", "many"):
            self.err(self.get(RBAC + "/keys/key1/versions?maxresults=" + bad), 400, "BadParameter")
        b = self.get(RBAC + "/keys").json()
        self.assertEqual(sorted(i["kid"] for i in b["value"]), [RBAC + "/keys/key1", RBAC + "/keys/key2"])
        self.assertIsNone(b["nextLink"])
        self.err(self.get(RBAC + "/keys/nokey/versions"), 404, "KeyNotFound")

    def test_rotation_policy(self):
        b = self.get(RBAC + "/keys/key1/rotationpolicy").json()
        self.assertEqual(b["id"], RBAC + "/keys/key1/rotationpolicy")
        self.assertEqual(b["lifetimeActions"][0], {"trigger": {"timeAfterCreate": "P90D"}, "action": {"type": "Rotate"}})
        self.assertEqual(b["attributes"]["expiryTime"], "P2Y")
        self.assertIsInstance(b["attributes"]["created"], int)
        b = self.get(RBAC + "/keys/key2/rotationpolicy").json()
        self.assertEqual([a["action"]["type"] for a in b["lifetimeActions"]], ["Notify"], "the default policy")

    def test_auto_rotation_follows_policy_in_twin_time(self):
        self.tw.control("freeze_clock")
        n = len(self.key1["versions"])
        self.tw.control("advance_clock", seconds=88 * 86400)  # latest is 1 day old; rotates at 90 days
        self.assertEqual(len(next(k for v in self.tw.state()["vaults"] if v["name"] == "kv-rbac"
                                  for k in v["keys"] if k["name"] == "key1")["versions"]), n)
        self.tw.control("advance_clock", seconds=2 * 86400)
        self.tok = self.tw.token("https://vault.azure.net")
        kv = next(k for v in self.tw.state()["vaults"] if v["name"] == "kv-rbac" for k in v["keys"]
                  if k["name"] == "key1")
        self.assertEqual(len(kv["versions"]), n + 1)
        newest = kv["versions"][-1]
        self.assertEqual(newest["exp"] - newest["created"], 2 * 365 * 86400, "policy expiryTime applies")
        b = self.get(RBAC + "/keys/key1").json()
        self.assertTrue(b["key"]["kid"].endswith(newest["version"]))

    def test_deleted_keys(self):
        b = self.get(RBAC + "/deletedkeys/oldkey").json()
        self.assertEqual(b["recoveryId"], RBAC + "/deletedkeys/oldkey")
        for f in ("deletedDate", "scheduledPurgeDate"):
            self.assertIsInstance(b[f], int)
        self.assertEqual(b["scheduledPurgeDate"] - b["deletedDate"], 90 * 86400)
        self.err(self.get(RBAC + "/keys/oldkey"), 404, "KeyNotFound")
        lst = self.get(RBAC + "/deletedkeys").json()["value"]
        self.assertEqual([i["kid"] for i in lst], [RBAC + "/keys/oldkey"])
        self.tw.control("purge_key", vault="kv-rbac", key="oldkey")
        self.assertEqual(self.err(self.get(RBAC + "/deletedkeys/oldkey"), 404, "KeyNotFound"),
                         "Deleted Key not found: oldkey")
        self.tw.control("delete_key", vault="kv-rbac", key="key2")
        self.err(self.get(RBAC + "/keys/key2"), 404, "KeyNotFound")
        self.assertEqual(self.get(RBAC + "/deletedkeys/key2").status, 200)
        self.tw.control("recover_key", vault="kv-rbac", key="key2")
        self.assertEqual(self.get(RBAC + "/keys/key2").status, 200)

    def test_api_versions(self):
        for v in ("7.5", "7.6", "2025-07-01"):
            self.assertEqual(self.get(RBAC + "/keys/key1", api=v).status, 200, v)
        msg = self.err(self.get(RBAC + "/keys/key1", api="7.0"), 400, "BadParameter")
        self.assertIn("The specified version (7.0) is not recognized", msg)
        self.err(self.tw.get(RBAC + "/keys/key1", token=self.tok), 400, "BadParameter")

    def test_access_policy_vault(self):
        self.assertEqual(self.get(AP + "/keys/apkey").status, 200)
        self.tw.control("remove_access_policy", vault="kv-ap", principal="cmkd")
        msg = self.err(self.get(AP + "/keys/apkey"), 403, "Forbidden", "AccessDenied")
        self.assertIn("does not have keys get permission on key vault 'kv-ap;location=westus2'", msg)
        self.tw.control("set_access_policy", vault="kv-ap", principal="cmkd", keys=["list"])
        self.err(self.get(AP + "/keys/apkey"), 403, "Forbidden", "AccessDenied")
        self.assertEqual(self.get(AP + "/keys/apkey/versions").status, 200, "list alone lists versions")
        self.tw.control("set_access_policy", vault="kv-ap", principal="cmkd", keys=["All"])
        self.assertEqual(self.get(AP + "/keys/apkey").status, 200)

    def test_rbac_vault(self):
        self.tw.control("remove_role_assignment", principal="cmkd", role="Key Vault Reader", subscription="prod")
        msg = self.err(self.get(RBAC + "/keys/key1"), 403, "Forbidden", "ForbiddenByRbac")
        self.assertIn("Action: 'Microsoft.KeyVault/vaults/keys/read'", msg)
        self.assertIn("Caller: appid=", msg)
        # a role at key scope is enough for that key only
        self.tw.control("add_role_assignment", principal="cmkd", role="Key Vault Reader", vault="kv-rbac", key="key1")
        self.assertEqual(self.get(RBAC + "/keys/key1").status, 200)
        self.err(self.get(RBAC + "/keys/key2"), 403, "Forbidden", "ForbiddenByRbac")
        # Reader (control plane only) grants nothing on the data plane
        self.tw.control("add_role_assignment", principal="cmkd", role="Reader", vault="kv-rbac")
        self.err(self.get(RBAC + "/keys/key2"), 403, "Forbidden", "ForbiddenByRbac")

    def test_firewall(self):
        msg = self.err(self.get(FW + "/keys/fwkey"), 403, "Forbidden", "ForbiddenByFirewall")
        self.assertIn("Client address: 127.0.0.1", msg)
        self.tw.control("set_network_rules", vault="kv-fw", ip_rules=["127.0.0.0/8"])
        self.assertEqual(self.get(FW + "/keys/fwkey").status, 200)
        self.tw.control("set_network_rules", vault="kv-fw", ip_rules=[])
        self.tw.control("set_principal", principal="cmkd", trusted_service=True)
        self.assertEqual(self.get(FW + "/keys/fwkey").status, 200, "trusted service with bypass AzureServices")
        self.tw.control("set_network_rules", vault="kv-fw", bypass="None")
        self.err(self.get(FW + "/keys/fwkey"), 403, "Forbidden", "ForbiddenByFirewall")
        self.tw.control("set_network_rules", vault="kv-fw", default_action="Allow", public_network_access="Disabled")
        self.err(self.get(FW + "/keys/fwkey"), 403, "Forbidden", "ForbiddenByConnection")
        self.tw.control("set_settings", client_ip="203.0.113.7")
        self.tw.control("set_network_rules", vault="kv-fw", public_network_access="Enabled", default_action="Deny",
                        ip_rules=["203.0.113.0/24"])
        self.assertEqual(self.get(FW + "/keys/fwkey").status, 200)

    def test_disabled_key(self):
        self.tw.control("disable_key", vault="kv-rbac", key="key1")
        b = self.get(RBAC + "/keys/key1").json()
        self.assertIs(b["attributes"]["enabled"], False)
        self.tw.control("set_settings", disabled_key_get="forbidden")
        self.err(self.get(RBAC + "/keys/key1"), 403, "Forbidden", "KeyDisabled")

    def test_wrap_unwrap(self):
        self.tw.control("add_role_assignment", principal="cmkd", role="Key Vault Crypto User", vault="kv-rbac")
        data = base64.urlsafe_b64encode(b"0123456789abcdef0123456789abcdef").rstrip(b"=").decode()
        r = self.tw.post(RBAC + "/keys/key1/wrapkey?api-version=7.6", token=self.tok,
                         json_body={"alg": "RSA-OAEP-256", "value": data})
        self.assertEqual(r.status, 200, r.body)
        w = r.json()
        r = self.tw.post(w["kid"] + "/unwrapkey?api-version=7.6", token=self.tok,
                         json_body={"alg": "RSA-OAEP-256", "value": w["value"]})
        self.assertEqual(r.json()["value"], data)
        self.tw.control("remove_role_assignment", principal="cmkd", role="Key Vault Crypto User")
        r = self.tw.post(RBAC + "/keys/key1/wrapkey?api-version=7.6", token=self.tok,
                         json_body={"alg": "RSA-OAEP-256", "value": data})
        self.err(r, 403, "Forbidden", "ForbiddenByRbac")

    def test_missing_vault_drops_the_connection(self):
        import http.client
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.get("https://no-such-vault.vault.azure.net/keys/k")
        self.tw.control("delete_vault", vault="kv-ap")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.get(AP + "/keys/apkey")

    def test_other_clouds_and_hsm(self):
        sc = tu.scenario("basic.json")
        sc["subscriptions"].append({"name": "cn", "id": "44444444-4444-4444-4444-444444444444",
                                    "cloud": "AzureChinaCloud"})
        sc["vaults"] += [{"name": "kv-cn", "subscription": "cn", "resource_group": "rg", "keys": [{"name": "k"}]},
                         {"name": "hsm1", "subscription": "prod", "resource_group": "rg-keys", "hsm": True,
                          "keys": [{"name": "hk"}],
                          "role_assignments": [{"principal": "cmkd", "role": "Managed HSM Crypto Auditor"}]}]
        sc["role_assignments"] += [{"principal": "cmkd", "role": "Key Vault Reader", "subscription": "cn"}]
        with tu.start(sc) as tw:
            cn = tw.token("https://vault.azure.cn")
            r = tw.get("https://kv-cn.vault.azure.cn/keys/k?api-version=7.6", token=cn)
            self.assertEqual(r.status, 200, r.body)
            self.assertTrue(r.json()["key"]["kid"].startswith("https://kv-cn.vault.azure.cn/keys/k/"))
            r = tw.get("https://kv-cn.vault.azure.cn/keys/k?api-version=7.6", token=tw.token("https://vault.azure.net"))
            self.assertEqual(r.status, 401)
            self.assertIn('resource="https://vault.azure.cn"', r.header("WWW-Authenticate"))
            r = tw.get("https://hsm1.managedhsm.azure.net/keys/hk?api-version=7.6")
            self.assertIn('resource="https://managedhsm.azure.net"', r.header("WWW-Authenticate"))
            r = tw.get("https://hsm1.managedhsm.azure.net/keys/hk?api-version=7.6",
                       token=tw.token("https://managedhsm.azure.net"))
            self.assertEqual(r.status, 200, r.body)
            self.assertEqual(r.json()["key"]["kty"], "RSA-HSM")
            arm = tw.token("https://management.chinacloudapi.cn/")
            r = tw.get("https://management.chinacloudapi.cn/subscriptions?api-version=2022-12-01", token=arm)
            self.assertEqual([s["displayName"] for s in r.json()["value"]], ["cn"])


if __name__ == "__main__":
    unittest.main()
