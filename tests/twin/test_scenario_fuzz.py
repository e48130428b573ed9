# Bad scenarios never crash the loader: every value of basic.json replaced by values of the
# wrong type, and every documented optional field added with such values, must either load
# or raise ScenarioError (which the twin reports with exit 2). In-process, a few seconds.

import copy
import json
import os
import sys
import traceback
import unittest

import twin_testutil as tu

sys.path.insert(0, tu.HERE)
from tw_world import ScenarioError, World  # noqa: E402

BAD = [None, 5, "x", "", [], {}, True, [1], [{}], {"a": 1}, -1, 1.5, "now+1d", "/x"]
FIELDS = {
    ("subscriptions", 0): ["name", "id", "tenant", "state", "cloud", "tags", "managed_by_tenants",
                           "resource_groups"],
    ("identities", 0): ["name", "subscription", "resource_group", "location", "tenant", "principal_id", "client_id",
                        "tags", "deleted"],
    ("principals", 0): ["name", "type", "object_id", "client_id", "tenant", "identity", "client_secret",
                        "federated", "trusted_service", "disabled"],
    ("vaults", 0): ["name", "subscription", "resource_group", "location", "tenant", "sku", "cloud", "hsm",
                    "soft_delete", "retention_days", "purge_protection", "rbac", "public_network_access",
                    "network_acls", "trusted_loopback", "access_policies", "deleted", "deleted_at", "created",
                    "tags", "keys", "type", "role_assignments", "role_definitions"],
    ("vaults", 0, "keys", 0): ["name", "kty", "size", "crv", "key_ops", "tags", "managed", "exportable", "deleted",
                               "deleted_at", "rotation_policy", "versions"],
    ("vaults", 0, "keys", 0, "versions", 0): ["version", "enabled", "created", "updated", "nbf", "exp", "tags",
                                              "size"],
    ("role_assignments", 0): ["role", "principal", "identity", "principal_id", "principal_type", "scope", "vault",
                              "key", "resource_group", "subscription", "id", "created", "description"],
    ("clusters", 0): ["name", "subscription", "resource_group", "location", "tags", "created", "modified", "cmk",
                      "identities", "system_assigned", "status", "sticky_status", "provisioning_state",
                      "replica_of", "replica_role", "replication_state", "server_version", "tier", "storage_gb",
                      "shard_count", "high_availability", "public_network_access", "create_mode", "admin_user",
                      "properties"],
    ("clusters", 0, "cmk"): ["identity", "vault", "key", "version", "key_url"],
    ("settings",): ["arm_page_size", "kv_page_size", "token_lifetime_s", "retry_after_s", "lro_delay_s",
                    "lro_outcome", "lro_failed_provisioning_state", "lro_error", "lro_failure_status",
                    "inaccessible_delay_s", "recovery_delay_s", "latency_ms", "disabled_key_get",
                    "put_validation_status", "client_ip", "auto_rotate", "log_max", "seed", "throttle",
                    "api_versions"],
    (): ["tenants", "principals", "cmkd_principal", "subscriptions", "identities", "vaults", "hsms",
         "role_definitions", "role_assignments", "groups", "arm_deny", "clusters", "faults"],
}

# The same for the Managed HSM world (scenarios/hsm.json).
FIELDS_HSM = {
    ("hsms", 0): ["name", "subscription", "resource_group", "location", "tenant", "sku", "cloud", "hsm", "type",
                  "soft_delete", "retention_days", "purge_protection", "rbac", "public_network_access",
                  "network_acls", "access_policies", "deleted", "deleted_at", "keys", "role_assignments",
                  "role_definitions"],
    ("hsms", 0, "keys", 0): ["name", "kty", "size", "crv", "key_ops", "deleted", "versions"],
    ("hsms", 0, "role_assignments", 0): ["role", "principal", "identity", "principal_id", "principal_type", "scope",
                                         "id", "created"],
    ("hsms", 0, "role_definitions", 0): ["name", "id", "description", "actions", "not_actions", "data_actions",
                                         "not_data_actions"],
    ("clusters", 0, "cmk"): ["identity", "vault", "hsm", "key", "version"],
}


def paths_of(o, p=()):
    yield p
    if isinstance(o, dict):
        for k, v in o.items():
            yield from paths_of(v, p + (k,))
    elif isinstance(o, list):
        for i, v in enumerate(o[:2]):
            yield from paths_of(v, p + (i,))


class ScenarioFuzz(unittest.TestCase):
    def setUp(self):
        self.crashes = {}

    def tearDown(self):
        self.assertEqual(list(self.crashes.values()), [])

    def load(self, sc, what):
        try:
            w = World(sc)
            json.dumps(w.state_json(w.now()))
        except ScenarioError:
            pass
        except Exception as e:
            tb = traceback.extract_tb(e.__traceback__)[-1]
            key = "%s:%d" % (os.path.basename(tb.filename), tb.lineno)
            self.crashes.setdefault(key, "%s: %r at %s" % (what, e, key))

    def test_wrong_types_everywhere(self):
        with open(os.path.join(tu.SCENARIOS, "basic.json")) as f:
            base = json.load(f)
        for p in list(paths_of(base))[1:]:
            for v in BAD:
                sc = copy.deepcopy(base)
                o = sc
                for k in p[:-1]:
                    o = o[k]
                o[p[-1]] = v
                self.load(sc, "%s = %r" % ("/".join(map(str, p)), v))

    def test_wrong_types_everywhere_hsm(self):
        with open(os.path.join(tu.SCENARIOS, "hsm.json")) as f:
            base = json.load(f)
        for p in list(paths_of(base))[1:]:
            for v in BAD:
                sc = copy.deepcopy(base)
                o = sc
                for k in p[:-1]:
                    o = o[k]
                o[p[-1]] = v
                self.load(sc, "%s = %r" % ("/".join(map(str, p)), v))

    def test_optional_fields_with_bad_values(self):
        self._optional_fields("basic.json", FIELDS)
        self._optional_fields("hsm.json", FIELDS_HSM)

    def _optional_fields(self, name, table):
        with open(os.path.join(tu.SCENARIOS, name)) as f:
            base = json.load(f)
        for where, fields in table.items():
            for fld in fields:
                for v in BAD:
                    sc = copy.deepcopy(base)
                    o = sc
                    for k in where:
                        o = o[k]
                    o[fld] = v
                    self.load(sc, "%s.%s = %r" % ("/".join(map(str, where)), fld, v))

    def test_control_ops_with_bad_arguments(self):
        """Every op with wrong or missing arguments answers ControlError (400), and the world
        still renders every resource afterwards (no 500 later)."""
        from tw_world import CONTROL_OPS, ControlError
        with open(os.path.join(tu.SCENARIOS, "basic.json")) as f:
            text = f.read()
        args = [{}, {"vault": 5}, {"vault": "kv-rbac"}, {"vault": "kv-rbac", "key": 5},
                {"vault": "kv-rbac", "key": "key1"}, {"vault": "kv-rbac", "key": "key1", "version": []},
                {"vault": "kv-rbac", "key": "key1", "version": "zz"}, {"vault": "kv-rbac", "key": "key1", "exp": "x"},
                {"vault": "kv-rbac", "key": "key1", "policy": {"lifetimeActions": 5}},
                {"vault": "kv-rbac", "key": "key1", "tags": 5, "key_ops": "x"},
                {"cluster": {}}, {"cluster": "c-pinned", "cmk": "x"}, {"cluster": "c-pinned", "tags": 5},
                {"cluster": "c-pinned", "properties": {"clusterStatus": 1}}, {"identity": 3},
                {"seconds": "x"}, {"faults": [5]}, {"fault": 5}, {"reads": [1]}, {"settings": 5},
                {"principal": 5}, {"vault": "kv-ap", "principal": "cmkd", "keys": [5]},
                {"vault": "kv-rbac", "ip_rules": 5}, {"vault": "kv-rbac", "tags": 5, "rbac": "x"},
                {"principal": "cmkd", "scope": 5}, {"name": 5},
                {"hsm": 5}, {"hsm": "kv-rbac", "principal": "cmkd", "role": "Managed HSM Crypto Auditor"},
                {"hsm": "hsm-t", "principal": "cmkd", "role": 5}, {"hsm": "hsm-t", "principal": "cmkd", "scope": 5},
                {"hsm": "hsm-t", "principal": "cmkd", "role": "Managed HSM Crypto Auditor", "scope": "/x"},
                {"hsm": "hsm-t", "id": 5}, {"hsm": "hsm-t", "name": "r", "data_actions": 5},
                {"hsm": "hsm-t", "key": "hk", "kty": "RSA"}, {"hsm": "hsm-t", "rbac": False}]
        sc = json.loads(text)
        sc["hsms"] = [{"name": "hsm-t", "subscription": "prod", "resource_group": "rg-keys", "keys": [{"name": "hk"}],
                       "role_assignments": [{"principal": "cmkd", "role": "Managed HSM Crypto Auditor"}]}]
        text = json.dumps(sc)
        for op in CONTROL_OPS:
            for a in args:
                w = World(json.loads(text))
                b = dict(a, op=op)
                try:
                    w.control(b, w.now())
                except ControlError:
                    pass
                except Exception as e:
                    self.crashes.setdefault(op, "%s %r: %r" % (op, a, e))
                    continue
                try:
                    t = w.now()
                    json.dumps(w.state_json(t))
                    for cl in w.clusters.values():
                        w.cluster_json(cl, "2026-06-01", t)
                    for v in w.vaults.values():
                        w.hsm_json(v, "2026-04-01") if v.hsm else w.vault_json(v, "2026-04-01")
                        for ra in v.local_ras.values():
                            w.hsm_ra_json(ra)
                        for k in v.keys.values():
                            for kv in k.versions:
                                w.key_bundle(v, k, kv, "7.6")
                            w.rotation_policy_json(v, k)
                except Exception as e:
                    self.crashes.setdefault(op + "/render", "after %s %r: %r" % (op, a, e))

    def test_requests_with_bad_input(self):
        """Odd bodies, paths and queries get 4xx answers with the service's error shape, never
        500, and leave a world that still renders."""
        import email.message
        import time
        import urllib.parse
        import twin as twin_mod
        from tw_http import Request, parse_query
        w = twin_mod.load_scenario(os.path.join(tu.SCENARIOS, "basic.json"))
        app = twin_mod.App(w)
        cmkd = w.principals_by_name["cmkd"]
        arm = w.issue_token(cmkd, "https://management.azure.com/", "arm", "AzurePublicCloud", w.now())[0]
        kv = w.issue_token(cmkd, "https://vault.azure.net", "kv", "AzurePublicCloud", w.now())[0]

        def send(method, url, body=b"", headers=None, listener="https"):
            u = urllib.parse.urlsplit(url)
            r = Request()
            r.t_start, r.method, r.raw_path, r.path = time.time(), method, u.path, urllib.parse.unquote(u.path)
            r.query_string, r.query = u.query, parse_query(u.query)
            r.qlower = {k.lower(): v for k, v in r.query.items()}
            m = email.message.Message()
            for k, v in (headers or {}).items():
                m[k] = v
            r.headers, r.peer, r.listener, r.host = m, "127.0.0.1", listener, u.hostname
            r.body = body if isinstance(body, bytes) else json.dumps(body).encode()
            resp = app.handle(r)
            app.after(r, resp)
            if resp.status >= 500:
                self.crashes.setdefault(url + method, "%s %s %r -> %d %r" % (method, url, body, resp.status,
                                                                           resp.body[:200]))
            return resp

        sub = tu.SUB
        base = "https://management.azure.com/subscriptions/%s/resourceGroups/rg-data/providers/" \
               "Microsoft.DocumentDB/mongoClusters/" % sub
        ua = tu.UAMI_A
        good_cmk = {"keyEncryptionKeyIdentity": {"identityType": "UserAssignedIdentity",
                                                 "userAssignedIdentityResourceId": ua},
                    "keyEncryptionKeyUrl": "https://kv-rbac.vault.azure.net/keys/key1"}
        bodies = [b"", b"null", b"[]", b"5", b"\xff\xfe", {"location": 5}, {"location": "westus2", "identity": 5},
                  {"location": "westus2", "properties": 5}, {"location": "westus2", "properties": {"encryption": 5}},
                  {"location": "westus2", "properties": {"encryption": {"customerManagedKeyEncryption": 5}}},
                  {"location": "westus2", "identity": {"type": 5}},
                  {"location": "westus2", "identity": {"type": "UserAssigned", "userAssignedIdentities": 5}},
                  {"location": "westus2", "identity": {"type": "UserAssigned", "userAssignedIdentities": {ua: {}}},
                   "properties": {"encryption": {"customerManagedKeyEncryption": {
                       "keyEncryptionKeyIdentity": 5, "keyEncryptionKeyUrl": 5}}}},
                  {"location": "westus2", "identity": {"type": "UserAssigned", "userAssignedIdentities": {"5": {}}},
                   "properties": {"encryption": {"customerManagedKeyEncryption": dict(
                       good_cmk, keyEncryptionKeyIdentity={"identityType": "UserAssignedIdentity",
                                                           "userAssignedIdentityResourceId": "5"})}}},
                  {"location": "westus2", "tags": 5}, {"location": "westus2", "properties": {"compute": 5}},
                  {"location": "westus2", "properties": {"storage": {"sizeGb": "x"}}},
                  {"location": "westus2", "properties": {"createMode": 5}},
                  {"location": "westus2", "properties": {"replicaParameters": 5, "createMode": "GeoReplica"}},
                  {"location": [], "properties": {}}]
        ah = {"Authorization": "Bearer " + arm, "Content-Type": "application/json"}
        for name in ("c-pinned", "c-new"):
            for m in ("PUT", "PATCH", "DELETE", "GET", "POST"):
                for b in bodies:
                    send(m, base + name + "?api-version=2025-09-01", b, ah)
                    w.control({"op": "finish_operations", "force": True}, w.now())
        kh = {"Authorization": "Bearer " + kv, "Content-Type": "application/json"}
        for p in ("/keys//versions", "/keys/key1/versions/x", "/keys/key1/a/b", "/deletedkeys/", "/", "/keys/%00",
                  "/keys/key1/wrapkey", "/keys/key1/x/wrapkey", "/keys/key1/rotationpolicy/x"):
            for m in ("GET", "POST", "PUT"):
                for b in (b"", b"{}", b'{"alg":5,"value":5}', b'{"alg":"RSA-OAEP","value":"!!"}'):
                    send(m, "https://kv-rbac.vault.azure.net" + p + "?api-version=7.6&maxresults=x", b, kh)
        for b in (b"", b"grant_type=client_credentials&client_id=%ff", b"a=b&a=c", b"\xff"):
            send("POST", "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % tu.TENANT, b,
                 {"Content-Type": "application/x-www-form-urlencoded", "Authorization": "Basic !!!"})
        for q in ("", "api-version=2018-02-01&resource=", "api-version=2018-02-01&resource=x&client_id=%ff",
                  "api-version=2018-02-01&resource=https://vault.azure.net&msi_res_id=/x"):
            send("GET", "http://169.254.169.254/metadata/identity/oauth2/token?" + q, b"", {"Metadata": "true"},
                 listener="http")
        for p in ("/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01"
                  "&$filter=principalId%%20eq" % sub,
                  "/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=assignedTo(",
                  "/subscriptions/%s/providers/Microsoft.DocumentDB/locations/westus2/mongoClusterAzureAsyncOperation"
                  "/xyz?api-version=2025-09-01" % sub,
                  "/subscriptions/%s/providers/Microsoft.KeyVault/vaults?api-version=2026-04-01&$top=abc" % sub,
                  "/subscriptions//resourceGroups/x?api-version=2022-12-01",
                  "/subscriptions/%s/resourceGroups/rg-data/providers/Microsoft.DocumentDB/mongoClusters/x/y"
                  "?api-version=2025-09-01" % sub):
            r = send("GET", "https://management.azure.com" + p, b"", ah)
            self.assertIsInstance(json.loads(r.body)["error"], dict, p)
        t = w.now()
        for cl in w.clusters.values():
            json.dumps(w.cluster_json(cl, "2025-09-01", t))

    def test_hsm_requests_with_bad_input(self):
        """Odd Managed HSM data-plane and ARM paths: 4xx, never 500."""
        import email.message
        import time
        import urllib.parse
        import twin as twin_mod
        from tw_http import Request, parse_query
        w = twin_mod.load_scenario(os.path.join(tu.SCENARIOS, "hsm.json"))
        app = twin_mod.App(w)
        cmkd = w.principals_by_name["cmkd"]
        arm = w.issue_token(cmkd, "https://management.azure.com/", "arm", "AzurePublicCloud", w.now())[0]
        hsm = w.issue_token(cmkd, "https://managedhsm.azure.net", "hsm", "AzurePublicCloud", w.now())[0]
        for url, tok in [("https://hsm-prod.managedhsm.azure.net" + p, hsm) for p in (
                "/providers", "/providers/Microsoft.Authorization", "/providers/x/roleAssignments",
                "/providers/Microsoft.Authorization/roleAssignments/", "/keys/a/b/providers/Microsoft.Authorization/"
                "roleAssignments", "/keys/%00/providers/Microsoft.Authorization/roleDefinitions",
                "/providers/Microsoft.Authorization/roleAssignments/x/y",
                "/providers/Microsoft.Authorization/roleAssignments?$filter=principalId%20eq",
                "/providers/Microsoft.Authorization/roleDefinitions?$filter=x",
                "/deletedkeys/oldkey", "/keys/cmk1/providers")] + [
                ("https://management.azure.com/subscriptions/%s%s" % (tu.SUB, p), arm) for p in (
                    "/providers/Microsoft.KeyVault/managedHSMs/x", "/providers/Microsoft.KeyVault/locations/x/"
                    "deletedManagedHSMs", "/resourceGroups/nope/providers/Microsoft.KeyVault/managedHSMs",
                    "/resourceGroups/rg-keys/providers/Microsoft.KeyVault/managedHSMs/hsm-prod/keys")]:
            for m in ("GET", "PUT", "DELETE"):
                u = urllib.parse.urlsplit(url + ("&" if "?" in url else "?") + "api-version=" +
                                          ("7.6" if "managedhsm" in url else "2026-04-01"))
                r = Request()
                r.t_start, r.method, r.raw_path = time.time(), m, u.path
                r.path = urllib.parse.unquote(u.path)
                r.query_string, r.query = u.query, parse_query(u.query)
                r.qlower = {k.lower(): v for k, v in r.query.items()}
                hd = email.message.Message()
                hd["Authorization"] = "Bearer " + tok
                r.headers, r.peer, r.listener, r.host, r.body = hd, "127.0.0.1", "https", u.hostname, b"{}"
                resp = app.handle(r)
                app.after(r, resp)
                self.assertLess(resp.status, 500, "%s %s -> %d %r" % (m, url, resp.status, resp.body[:200]))
                self.assertGreaterEqual(resp.status, 200)


if __name__ == "__main__":
    unittest.main()
