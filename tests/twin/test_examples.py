# The example walk: every Azure REST spec example under tests/twin/examples/ is turned
# into the matching request to the twin, and the twin's answer must carry every field of
# the example with the same JSON type (recursively), plus the example's response headers.
# A new example file without a mapping here fails the walk, so none is skipped silently.

import json
import os
import re
import time
import unittest

import twin_testutil as tu

EXAMPLES = os.path.join(tu.HERE, "examples")
REFERENCE = os.environ.get("CMKD_AZURE_REFERENCE", "/work/shared/reference/azure")
SUB = "ffffffff-ffff-ffff-ffff-ffffffffffff"
RG = "TestResourceGroup"
VAULT = "https://myvault.vault.azure.net"
HSM = "https://hsm1.managedhsm.azure.net"
MAP_KEYS = {"tags", "userAssignedIdentities"}
LRO_URL = re.compile(r"^https://management\.azure\.com/subscriptions/[^/]+/providers/Microsoft\.DocumentDB/"
                     r"locations/[^/]+/mongoCluster(OperationResults|AzureAsyncOperation)/[^/?]+\?api-version=.+$")


def jtype(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return "null"


def shape_errors(ex, tw, path="$", errors=None):
    """Fields of the example missing from the twin's answer or of another JSON type."""
    if errors is None:
        errors = []
    te, tt = jtype(ex), jtype(tw)
    if te == "null":
        return errors
    if te != tt:
        errors.append("%s: example has %s, twin has %s (%r)" % (path, te, tt, tw))
        return errors
    if te == "object":
        key = path.rsplit(".", 1)[-1]
        if key in MAP_KEYS:
            if ex and not tw:
                errors.append("%s: example map has entries, twin map is empty" % path)
            vals = list(tw.values())
            for i, (k, v) in enumerate(ex.items()):
                if vals:
                    shape_errors(v, vals[min(i, len(vals) - 1)], "%s[%s]" % (path, k), errors)
            return errors
        for k, v in ex.items():
            if k not in tw:
                errors.append("%s.%s: missing in the twin's answer" % (path, k))
            else:
                shape_errors(v, tw[k], "%s.%s" % (path, k), errors)
    elif te == "array":
        if ex and not tw:
            errors.append("%s: example array has items, twin array is empty" % path)
        for i, v in enumerate(ex):
            if tw:
                shape_errors(v, tw[min(i, len(tw) - 1)], "%s[%d]" % (path, i), errors)
    return errors


class ExampleWalk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("examples.json")
        cls.arm_tok = cls.tw.token("https://management.azure.com/")
        cls.kv_tok = cls.tw.token("https://vault.azure.net")
        cls.hsm_tok = cls.tw.token("https://managedhsm.azure.net")
        cls.created = 0

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    # --- helpers ---------------------------------------------------------------------

    def arm(self, method, path, api, body=None, extra=""):
        url = "https://management.azure.com%s?api-version=%s%s" % (path, api, extra)
        return self.tw.request(method, url, token=self.arm_tok, json_body=body)

    def kv(self, path, api, extra=""):
        return self.tw.get("%s%s?api-version=%s%s" % (VAULT, path, api, extra), token=self.kv_tok)

    def compare(self, name, code, ex_body, resp):
        self.assertEqual(resp.status, int(code), "%s: status %d, body %s" % (name, resp.status, resp.body[:500]))
        self.assertIn("application/json", resp.header("Content-Type", ""), name)
        errs = shape_errors(ex_body, resp.json())
        self.assertEqual(errs, [], "%s (response %s):\n  %s" % (name, code, "\n  ".join(errs)))

    def wait_op(self, async_url):
        for _ in range(400):
            r = self.tw.get(async_url, token=self.arm_tok)
            self.assertEqual(r.status, 200, r.body)
            st = r.json()["status"]
            if st != "InProgress":
                return r.json()
            time.sleep(0.02)
        self.fail("LRO did not finish: %s" % async_url)

    def cluster_path(self, name):
        return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.DocumentDB/mongoClusters/%s" % (SUB, RG,
                                                                                                      name)

    # --- operations ------------------------------------------------------------------

    def op_create(self, name, ex, api):
        body = ex["parameters"]["resource"]
        type(self).created += 1
        cname = "walk-%d-%s" % (self.created, name.lower().replace("_", "-")[:24])
        r = self.arm("PUT", self.cluster_path(cname), api, body)
        self.compare(name, "201", ex["responses"]["201"]["body"], r)
        for h in ("Azure-AsyncOperation", "Location", "Retry-After"):
            self.assertIsNotNone(r.header(h), "%s: PUT 201 lacks %s" % (name, h))
        op = self.wait_op(r.header("Azure-AsyncOperation"))
        self.assertEqual(op["status"], "Succeeded", op)
        r = self.arm("GET", self.cluster_path(cname), api)
        self.compare(name, "200", ex["responses"]["200"]["body"], r)

    def op_patch(self, name, ex, api):
        body = ex["parameters"]["properties"]
        r = self.arm("PATCH", self.cluster_path("myMongoCluster"), api, body)
        self.assertEqual(r.status, 202, "%s: %d %s" % (name, r.status, r.body[:400]))
        self.assertEqual(r.body, b"", "%s: PATCH 202 has a body" % name)
        for h, v in ex["responses"]["202"]["headers"].items():
            got = r.header(h)
            self.assertIsNotNone(got, "%s: 202 lacks header %s" % (name, h))
            self.assertRegex(got, LRO_URL, "%s: %s" % (name, h))
            self.assertRegex(v.replace("2024-06-01-preview", api), LRO_URL)
            self.assertIn("api-version=%s" % api, got)
        op = self.wait_op(r.header("Azure-AsyncOperation"))
        self.assertEqual(op["status"], "Succeeded", op)
        loc = self.tw.get(r.header("Location"), token=self.arm_tok)
        self.compare(name, "200", ex["responses"]["200"]["body"], loc)

    def walk_file(self, rel):
        with open(os.path.join(EXAMPLES, rel)) as f:
            ex = json.load(f)
        name = os.path.splitext(os.path.basename(rel))[0]
        p = ex["parameters"]
        api = p["api-version"]
        ok = ex["responses"].get("200", {}).get("body")
        if name.startswith("MongoClusters_Create"):
            return self.op_create(name, ex, api)
        if name in ("MongoClusters_PatchCMK", "MongoClusters_Update"):
            return self.op_patch(name, ex, api)
        if name == "MongoClusters_Get":
            return self.compare(name, "200", ok, self.arm("GET", self.cluster_path("myMongoCluster"), api))
        if name == "MongoClusters_List":
            r = self.arm("GET", "/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters" % SUB, api)
            self.compare(name, "200", ok, r)
            self.assertIsInstance(r.json().get("nextLink"), str, "page size 1 must page")
            r2 = self.tw.get(r.json()["nextLink"], token=self.arm_tok)
            return self.compare(name + " (page 2)", "200", ok, r2)
        if name == "GetKey-example":
            return self.compare(name, "200", ok, self.kv("/keys/CreateSoftKeyTest/78deebed173b48e48f55abf87ed4cf71",
                                                         api))
        if name == "GetKeyVersions-example":
            return self.compare(name, "200", ok, self.kv("/keys/listkeyversionstest/versions", api, "&maxresults=1"))
        if name == "GetKeys-example":
            return self.compare(name, "200", ok, self.kv("/keys", api, "&maxresults=1"))
        if name == "GetKeyRotationPolicy-example":
            return self.compare(name, "200", ok, self.kv("/keys/key01/rotationpolicy", api))
        if name == "GetDeletedKey-example":
            return self.compare(name, "200", ok, self.kv("/deletedkeys/DeletedSoftKeyTest", api))
        if name == "getVault":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/resourceGroups/sample-group/providers/Microsoft.KeyVault/vaults/sample-vault"
                % SUB, api))
        if name == "listVaultByResourceGroup":
            self.compare(name, "200", ok, self.arm("GET", "/subscriptions/%s/resourceGroups/sample-group/providers/"
                                                          "Microsoft.KeyVault/vaults" % SUB, api, extra="&$top=1"))
            r = self.arm("GET", "/subscriptions/%s/providers/Microsoft.KeyVault/vaults" % SUB, api, extra="&$top=2")
            self.assertEqual(r.status, 200, r.body)
            body = r.json()
            self.assertIsInstance(body.get("nextLink"), str, "3 vaults, $top=2: must page")
            body["value"] = [v for v in body["value"] if v["name"] == "sample-vault"]
            errs = shape_errors(ok, body)
            return self.assertEqual(errs, [], "%s (by subscription): %s" % (name, errs))
        if name == "listDeletedVaults":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/providers/Microsoft.KeyVault/deletedVaults" % SUB, api, extra="&$top=1"))
        if name == "ManagedHsm_Get":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/resourceGroups/hsm-group/providers/Microsoft.KeyVault/managedHSMs/hsm1"
                % SUB, api))
        if name in ("ManagedHsm_ListBySubscription", "ManagedHsm_ListByResourceGroup"):
            path = "/subscriptions/%s%s/providers/Microsoft.KeyVault/managedHSMs" % (
                SUB, "/resourceGroups/hsm-group" if name.endswith("ResourceGroup") else "")
            return self.compare(name, "200", ok, self.arm("GET", path, api))
        if name == "DeletedManagedHsm_List":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/providers/Microsoft.KeyVault/deletedManagedHSMs" % SUB, api))
        if name == "DeletedManagedHsm_Get":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/providers/Microsoft.KeyVault/locations/westus/deletedManagedHSMs/"
                       "hsm-gone-1" % SUB, api))
        if name in ("ListRoleAssignments-example", "ListRoleDefinitions-example"):
            what = "roleAssignments" if "Assignments" in name else "roleDefinitions"
            r = self.tw.get("%s/%s/providers/Microsoft.Authorization/%s?api-version=%s" % (
                HSM, p["scope"], what, api), token=self.hsm_tok)
            return self.compare(name, "200", ok, r)
        if name == "IdentityGet":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ManagedIdentity/"
                       "userAssignedIdentities/myidentity" % (SUB, RG), api))
        if name == "RoleAssignments_ListForScope":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/providers/Microsoft.Authorization/roleAssignments" % SUB, api))
        if name == "RoleAssignments_ListForResourceGroup":
            return self.compare(name, "200", ok, self.arm(
                "GET", "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Authorization/roleAssignments"
                % (SUB, RG), api))
        if name == "GetRoleDefinitionById":
            self.compare(name + " (custom)", "200", ok, self.arm(
                "GET", "/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/"
                       "9d1e7c4a-4f3b-4a7e-8f51-6c2b1e0a9d33" % SUB, api))
            return self.compare(name + " (built-in)", "200", ok, self.arm(
                "GET", "/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6", api))
        if name == "GetSubscriptions":
            return self.compare(name, "200", ok, self.arm("GET", "/subscriptions", api))
        self.fail("no mapping for example %s: teach test_examples.py how to ask the twin for it" % rel)

    # --- the tests ---------------------------------------------------------------------

    def all_examples(self):
        out = []
        for root, _, files in os.walk(EXAMPLES):
            for fn in files:
                if fn.endswith(".json"):
                    out.append(os.path.relpath(os.path.join(root, fn), EXAMPLES))
        # creations and reads first; PATCHes last (they change myMongoCluster)
        return sorted(out, key=lambda r: ("Patch" in r or "Update" in r, r))

    def test_walk_every_example(self):
        files = self.all_examples()
        self.assertGreaterEqual(len(files), 26)
        for rel in files:
            with self.subTest(example=rel):
                self.walk_file(rel)

    def test_shape_check_catches_differences(self):
        self.assertEqual(shape_errors({"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}, "d": 0}), [])
        self.assertTrue(shape_errors({"a": 1}, {"a": "1"}))
        self.assertTrue(shape_errors({"a": {"c": 1}}, {"a": {}}))
        self.assertTrue(shape_errors({"a": [1]}, {"a": []}))
        self.assertTrue(shape_errors({"tags": {"x": "y"}}, {"tags": {}}))
        self.assertEqual(shape_errors({"n": 1493937.61}, {"n": 1493937}), [])

    def test_examples_match_reference(self):
        """The copies here are byte-identical to the project reference (where it exists)."""
        if not os.path.isdir(REFERENCE):
            print("\nnote: %s not present; copies not re-compared" % REFERENCE)
            return
        n = 0
        for root, _, files in os.walk(REFERENCE):
            for fn in files:
                if not fn.endswith(".json"):
                    continue
                rel = os.path.relpath(os.path.join(root, fn), REFERENCE)
                mine = os.path.join(EXAMPLES, rel)
                self.assertTrue(os.path.exists(mine), "reference example %s has no copy under examples/" % rel)
                with open(os.path.join(root, fn), "rb") as a, open(mine, "rb") as b:
                    self.assertEqual(a.read(), b.read(), rel)
                n += 1
        self.assertGreaterEqual(n, 21)


if __name__ == "__main__":
    unittest.main()
