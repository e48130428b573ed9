# Token issuers (IMDS, Entra ID v2) and token checks on ARM and Key Vault: audience,
# tenant, expiry (scenario-set lifetimes, twin clock), revocation, error shapes.

import time
import unittest
import urllib.parse

import twin_testutil as tu
from twinlib import make_assertion

IMDS = "http://169.254.169.254/metadata/identity/oauth2/token"
ENTRA = "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % tu.TENANT
APP = "bbbbbbbb-0000-0000-0000-000000000002"
SUBS = "%s/subscriptions?api-version=2022-12-01" % tu.ARM
KEY = "https://kv-rbac.vault.azure.net/keys/key1?api-version=7.6"


def imds_url(**q):
    q.setdefault("api-version", "2018-02-01")
    return IMDS + "?" + urllib.parse.urlencode(q)


class Imds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start(tu.scenario("basic.json", token_lifetime_s=120))

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def test_system_assigned_token_with_string_times(self):
        t0 = int(time.time())
        r = self.tw.get(imds_url(resource="https://management.azure.com/"), headers={"Metadata": "true"})
        self.assertEqual(r.status, 200, r.body)
        b = r.json()
        for k in ("access_token", "expires_in", "expires_on", "not_before", "resource", "token_type", "client_id"):
            self.assertIn(k, b)
        self.assertIsInstance(b["expires_in"], str)
        self.assertIsInstance(b["expires_on"], str)
        self.assertEqual(b["expires_in"], "120")
        self.assertLessEqual(abs(int(b["expires_on"]) - (t0 + 120)), 5)
        self.assertEqual(b["resource"], "https://management.azure.com/")
        self.assertEqual(b["token_type"], "Bearer")

    def test_metadata_header_required(self):
        r = self.tw.get(imds_url(resource="https://management.azure.com/"))
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json(), {"error": "bad_request_102", "error_description":
                                    "Required metadata header not specified"})
        # the SDKs' availability probe: no header, no query
        self.assertEqual(self.tw.get(IMDS).status, 400)
        r = self.tw.get(imds_url(resource="https://management.azure.com/"), headers={"Metadata": "True"})
        self.assertEqual(r.json()["error"], "bad_request_102", "the value is lowercase 'true'")

    def test_missing_parameters(self):
        r = self.tw.get(IMDS + "?resource=x", headers={"Metadata": "true"})
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_request"))
        self.assertIn("api-version", r.json()["error_description"])
        r = self.tw.get(imds_url(), headers={"Metadata": "true"})
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_request"))
        self.assertIn("resource", r.json()["error_description"])
        r = self.tw.get(imds_url(resource="https://unknown.example/"), headers={"Metadata": "true"})
        self.assertEqual((r.status, r.json()["error"]), (400, "invalid_resource"))

    def test_user_assigned_selection(self):
        st = {p["name"]: p for p in self.tw.state()["principals"]}
        ua = st["cmkd-uami"]
        for q in ({"client_id": ua["client_id"]}, {"object_id": ua["object_id"]}, {"msi_res_id": ua["identity"]}):
            r = self.tw.get(imds_url(resource="https://vault.azure.net", **q), headers={"Metadata": "true"})
            self.assertEqual(r.status, 200, (q, r.body))
            self.assertEqual(r.json()["client_id"], ua["client_id"])
        r = self.tw.get(imds_url(resource="https://vault.azure.net", client_id="00000000-1111-2222-3333-444444444444"),
                        headers={"Metadata": "true"})
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["error"], "invalid_request")
        self.assertIn("Identity not found", r.json()["error_description"])
        r = self.tw.get(imds_url(resource="https://vault.azure.net", client_id=ua["client_id"],
                                 object_id=ua["object_id"]), headers={"Metadata": "true"})
        self.assertEqual(r.status, 400)

    def test_deleted_identity_cannot_get_tokens(self):
        with tu.start("basic.json") as tw:
            self.assertTrue(tw.token(principal="cmkd-uami"))
            tw.control("delete_identity", identity="uami-cmkd")
            r = tw.token(principal="cmkd-uami", raw=True)
            self.assertEqual(r.status, 400)
            self.assertEqual(r.json()["error"], "invalid_request")
            new = tw.control("recreate_identity", identity="uami-cmkd")
            r = tw.get(imds_url(resource="https://vault.azure.net", client_id=new["client_id"]),
                       headers={"Metadata": "true"})
            self.assertEqual(r.status, 200, r.body)


class Entra(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("basic.json")

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def post(self, **form):
        return self.tw.post(ENTRA, form=form)

    def assert_aad_error(self, r, status, error, code):
        self.assertEqual(r.status, status, r.body)
        b = r.json()
        self.assertEqual(b["error"], error)
        self.assertEqual(b["error_codes"], [code])
        self.assertTrue(b["error_description"].startswith("AADSTS%d:" % code), b["error_description"])
        for k in ("timestamp", "trace_id", "correlation_id"):
            self.assertIn(k, b)

    def test_client_secret(self):
        r = self.post(grant_type="client_credentials", client_id=APP, client_secret="s3cret-value",
                      scope="https://management.azure.com/.default")
        self.assertEqual(r.status, 200, r.body)
        b = r.json()
        self.assertIsInstance(b["expires_in"], int)
        self.assertEqual(b["token_type"], "Bearer")
        r = self.tw.get(SUBS, token=b["access_token"])
        self.assertEqual(r.status, 200)

    def test_client_secret_by_basic_auth(self):
        import base64
        cred = base64.b64encode(("%s:%s" % (APP, "s3cret-value")).encode()).decode()
        r = self.tw.post(ENTRA, form={"grant_type": "client_credentials", "scope": "https://vault.azure.net/.default"},
                         headers={"Authorization": "Basic " + cred})
        self.assertEqual(r.status, 200, r.body)

    def test_errors(self):
        self.assert_aad_error(self.post(grant_type="client_credentials", client_id=APP, client_secret="wrong",
                                        scope="https://management.azure.com/.default"), 401, "invalid_client", 7000215)
        self.assert_aad_error(self.post(grant_type="client_credentials", client_id="0" * 8 + "-0000-0000-0000-" +
                                        "0" * 12, client_secret="x", scope="https://management.azure.com/.default"),
                              400, "unauthorized_client", 700016)
        self.assert_aad_error(self.post(grant_type="client_credentials", client_id=APP, client_secret="s3cret-value",
                                        scope="https://management.azure.com/user_impersonation"), 400,
                              "invalid_scope", 1002012)
        self.assert_aad_error(self.post(grant_type="client_credentials", client_id=APP, client_secret="s3cret-value",
                                        scope="https://storage.example/.default"), 400, "invalid_resource", 500011)
        self.assert_aad_error(self.post(client_id=APP, client_secret="s3cret-value",
                                        scope="https://management.azure.com/.default"), 400, "invalid_request", 900144)
        self.assert_aad_error(self.post(grant_type="password", client_id=APP, scope="x/.default"), 400,
                              "unsupported_grant_type", 70003)
        self.assert_aad_error(self.post(grant_type="client_credentials", client_id=APP,
                                        scope="https://management.azure.com/.default"), 401, "invalid_client", 7000218)
        r = self.tw.post("https://login.microsoftonline.com/not-a-tenant/oauth2/v2.0/token",
                         form={"grant_type": "client_credentials", "client_id": APP, "client_secret": "s3cret-value",
                               "scope": "https://management.azure.com/.default"})
        self.assert_aad_error(r, 400, "invalid_request", 90002)

    def test_federated_assertion(self):
        good = make_assertion("https://token.actions.example", "repo:contoso/cmkd")
        base = {"grant_type": "client_credentials", "client_id": APP, "scope": "https://vault.azure.net/.default",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
        r = self.tw.post(ENTRA, form=dict(base, client_assertion=good))
        self.assertEqual(r.status, 200, r.body)
        bad = make_assertion("https://token.actions.example", "repo:evil/x")
        self.assert_aad_error(self.tw.post(ENTRA, form=dict(base, client_assertion=bad)), 400, "invalid_client", 70021)
        old = make_assertion("https://token.actions.example", "repo:contoso/cmkd", now=time.time() - 7200)
        self.assert_aad_error(self.tw.post(ENTRA, form=dict(base, client_assertion=old)), 400, "invalid_client",
                              700024)
        self.assert_aad_error(self.tw.post(ENTRA, form=dict(base, client_assertion="not-a-jwt")), 400,
                              "invalid_client", 50027)

    def test_discovery_documents(self):
        r = self.tw.get("https://login.microsoftonline.com/%s/v2.0/.well-known/openid-configuration" % tu.TENANT)
        self.assertEqual(r.status, 200)
        b = r.json()
        self.assertEqual(b["token_endpoint"], ENTRA)
        self.assertIn("issuer", b)
        r = self.tw.get("https://login.microsoftonline.com/common/discovery/instance?api-version=1.1"
                        "&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/v2.0/authorize")
        self.assertEqual(r.status, 200)
        self.assertIn("tenant_discovery_endpoint", r.json())
        r = self.tw.get("https://login.chinacloudapi.cn/%s/v2.0/.well-known/openid-configuration" % tu.TENANT)
        self.assertTrue(r.json()["token_endpoint"].startswith("https://login.chinacloudapi.cn/"))


class TokenChecks(unittest.TestCase):
    def setUp(self):
        self.tw = tu.start(tu.scenario("basic.json", token_lifetime_s=60))

    def tearDown(self):
        self.tw.stop()

    def test_audiences(self):
        arm, kv = self.tw.token(), self.tw.token("https://vault.azure.net")
        self.assertEqual(self.tw.get(SUBS, token=arm).status, 200)
        self.assertEqual(self.tw.get(KEY, token=kv).status, 200)
        r = self.tw.get(SUBS, token=kv)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "InvalidAuthenticationTokenAudience")
        self.assertIn("WWW-Authenticate", dict(r.headers))
        r = self.tw.get(KEY, token=arm)
        self.assertEqual(r.status, 401)
        self.assertIn("AKV10022", r.json()["error"]["message"])
        self.assertIn('resource="https://vault.azure.net"', r.header("WWW-Authenticate"))
        # management.core.windows.net is an ARM audience too
        alt = self.tw.token("https://management.core.windows.net/")
        self.assertEqual(self.tw.get(SUBS, token=alt).status, 200)
        # a public-cloud ARM token is no good in the China cloud
        r = self.tw.get("https://management.chinacloudapi.cn/subscriptions?api-version=2022-12-01", token=arm)
        self.assertEqual(r.status, 401)

    def test_missing_and_unknown_tokens(self):
        r = self.tw.get(SUBS)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "AuthenticationFailed")
        self.assertIn("authorization_uri", r.header("WWW-Authenticate"))
        r = self.tw.get(SUBS, token="eyJhbGciOi.eyJhdWQiOi.forged")
        self.assertEqual((r.status, r.json()["error"]["code"]), (401, "InvalidAuthenticationToken"))
        r = self.tw.get(KEY, token="eyJhbGciOi.eyJhdWQiOi.forged")
        self.assertEqual(r.status, 401)
        self.assertIsNotNone(r.header("WWW-Authenticate"))

    def test_expiry_follows_scenario_lifetime_and_twin_clock(self):
        arm, kv = self.tw.token(), self.tw.token("https://vault.azure.net")
        self.tw.control("advance_clock", seconds=30)
        self.assertEqual(self.tw.get(SUBS, token=arm).status, 200)
        self.tw.control("advance_clock", seconds=31)
        r = self.tw.get(SUBS, token=arm)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["error"]["code"], "ExpiredAuthenticationToken")
        self.assertIn("expired", r.header("WWW-Authenticate"))
        r = self.tw.get(KEY, token=kv)
        self.assertEqual(r.status, 401)
        self.assertIsNotNone(r.header("WWW-Authenticate"))
        # a fresh token carries the shifted clock
        fresh = self.tw.token()
        self.assertEqual(self.tw.get(SUBS, token=fresh).status, 200)

    def test_clock_offset_shows_in_expires_on(self):
        self.tw.control("set_clock_offset", seconds=-3600)
        r = self.tw.token(raw=True)
        exp = int(r.json()["expires_on"])
        self.assertLess(abs(exp - (time.time() - 3600 + 60)), 10)

    def test_revoke(self):
        arm = self.tw.token()
        self.tw.control("revoke_tokens", principal="cmkd")
        r = self.tw.get(SUBS, token=arm)
        self.assertEqual((r.status, r.json()["error"]["code"]), (401, "InvalidAuthenticationToken"))

    def test_wrong_tenant(self):
        sc = tu.scenario("basic.json")
        sc["tenants"].append({"name": "fabrikam", "id": "9a9a9a9a-0000-0000-0000-000000000009"})
        sc["principals"].append({"name": "stranger", "type": "app", "tenant": "fabrikam", "client_secret": "x"})
        with tu.start(sc) as tw:
            tok = tw.token(principal="stranger")
            r = tw.get(tu.cluster_url("c-smk"), token=tok)
            self.assertEqual(r.status, 401)
            self.assertEqual(r.json()["error"]["code"], "InvalidAuthenticationTokenTenant")
            kv = tw.token("https://vault.azure.net", principal="stranger")
            r = tw.get(KEY, token=kv)
            self.assertEqual(r.status, 401)
            self.assertIn(tu.TENANT, r.header("WWW-Authenticate"))
            self.assertIn("AKV10032", r.json()["error"]["message"])
            r = tw.get(SUBS, token=tok)
            self.assertEqual((r.status, r.json()["value"]), (200, []))


if __name__ == "__main__":
    unittest.main()
