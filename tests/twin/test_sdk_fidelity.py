# The official Azure SDK for JavaScript against the twin. Installs the pinned packages with
# `npm ci` into tests/twin/fidelity/node_modules (once per package-lock), starts the twin,
# runs fidelity/sdk_fidelity.cjs with NODE_EXTRA_CA_CERTS set to the twin's CA, and then
# checks from the twin's request log that the real SDK code paths were taken (user agents,
# IMDS and Entra token requests, the Key Vault challenge, nextLink paging, LRO polling).
# Node.js >= 20 and npm are required; their absence is a failure, not a skip.

import hashlib
import json
import os
import shutil
import subprocess
import unittest

import twin_testutil as tu

FID = os.path.join(tu.HERE, "fidelity")
MARKER = os.path.join(FID, "node_modules", ".twin-lock-sha256")
PINNED = {"@azure/arm-mongocluster": "1.1.0", "@azure/keyvault-keys": "4.10.2", "@azure/identity": "4.13.1"}


def ensure_sdk(test):
    node, npm = shutil.which("node"), shutil.which("npm")
    test.assertIsNotNone(node, "node (Node.js >= 20) is required for the SDK fidelity test and is not on PATH")
    test.assertIsNotNone(npm, "npm is required for the SDK fidelity test and is not on PATH")
    major = int(subprocess.run([node, "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True,
                               check=True).stdout.strip())
    test.assertGreaterEqual(major, 20, "Node.js >= 20 is required (found %d)" % major)
    with open(os.path.join(FID, "package-lock.json"), "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    have = None
    if os.path.exists(MARKER):
        with open(MARKER) as f:
            have = f.read().strip()
    if have != want:
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=FID, capture_output=True,
                           text=True, timeout=300)
        test.assertEqual(r.returncode, 0, "npm ci failed in %s:\n%s\n%s" % (FID, r.stdout[-3000:], r.stderr[-3000:]))
        with open(MARKER, "w") as f:
            f.write(want)
    for pkg, ver in PINNED.items():
        with open(os.path.join(FID, "node_modules", pkg, "package.json")) as f:
            test.assertEqual(json.load(f)["version"], ver, pkg)
    return node


class SdkFidelity(unittest.TestCase):
    def test_js_sdk_against_the_twin(self):
        node = ensure_sdk(self)
        sc = tu.scenario("basic.json", lro_delay_s=0.3, retry_after_s=0, arm_page_size=3, kv_page_size=2)
        with tu.start(sc) as tw:
            st = tw.state()
            key1 = next(k for v in st["vaults"] if v["name"] == "kv-rbac" for k in v["keys"] if k["name"] == "key1")
            cfg = {"subscription": tu.SUB, "resourceGroup": tu.RG, "cluster": "c-pinned", "uamiId": tu.UAMI_A,
                   "newKeyUrl": "https://kv-rbac.vault.azure.net/keys/key1",
                   "vaultUrl": "https://kv-rbac.vault.azure.net", "keyName": "key1", "keyBits": 3072,
                   "oldVersion": key1["versions"][0]["version"], "expectVersions": 3, "expectKeys": 2,
                   "expectClusters": 7, "expectClustersInRg": 7, "tenantId": tu.TENANT,
                   "appClientId": "bbbbbbbb-0000-0000-0000-000000000002", "appSecret": "s3cret-value",
                   "apVaultUrl": "https://kv-ap.vault.azure.net", "apKeyName": "apkey"}
            env = dict(os.environ, NODE_EXTRA_CA_CERTS=tw.ca_file, TWIN_CONNECT_TO=",".join(tw.curl_connect_to()),
                       TWIN_FIDELITY=json.dumps(cfg))
            for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "AZURE_POD_IDENTITY_AUTHORITY_HOST",
                      "IDENTITY_ENDPOINT", "MSI_ENDPOINT", "AZURE_CLIENT_ID", "AZURE_TENANT_ID"):
                env.pop(k, None)
            r = subprocess.run([node, os.path.join(FID, "sdk_fidelity.cjs")], env=env, capture_output=True, text=True,
                               timeout=120)
            out = r.stdout.strip().splitlines()
            self.assertTrue(out, "no output from the SDK script; stderr:\n%s" % r.stderr[-3000:])
            res = json.loads(out[-1])
            self.assertEqual(r.returncode, 0, "SDK run failed: %s\nstderr:\n%s" % (res.get("error"), r.stderr[-2000:]))
            self.assertTrue(res["ok"])
            self.assertEqual(len(res["steps"]), 13)
            print("\nSDK fidelity steps (ms): " + ", ".join("%s=%d" % (s["name"].split(" (")[0], s["ms"])
                                                             for s in res["steps"]))
            log = tw.log()
            uas = {e["user_agent"].split(" ")[0] for e in log if e["user_agent"]}
            self.assertTrue(any(u.startswith("azsdk-js-arm-mongocluster/1.1.0") or "arm-mongocluster/1.1.0" in u
                                for e in log for u in [e["user_agent"] or ""]), uas)
            self.assertTrue(any("azsdk-js-keyvault-keys/4.10.2" in (e["user_agent"] or "") for e in log))
            self.assertTrue(any(e["service"] == "imds" and e["status"] == 200 for e in log), "managed identity token")
            self.assertTrue(any(e["service"] == "entra" and e["status"] == 200 for e in log), "client secret token")
            kv = [e for e in log if e["service"] == "kv"]
            self.assertEqual((kv[0]["status"], kv[0]["auth"]), (401, "none"), "challenge first")
            self.assertTrue(any("$skipToken" in e["query"] for e in log if e["service"] == "arm"), "ARM nextLink")
            self.assertTrue(any("$skiptoken" in e["query"] for e in kv), "Key Vault nextLink")
            puts = [e for e in log if e["method"] == "PUT" and e["status"] == 200]
            self.assertEqual(len(puts), 1)
            self.assertIn("azure-asyncoperation", puts[0]["response_headers"])
            self.assertTrue(any("mongoClusterAzureAsyncOperation" in e["path"] for e in log), "LRO polled")
            self.assertEqual(tw.cluster("c-pinned")["cmk"]["key_url"], cfg["newKeyUrl"])
            self.assertTrue(all(c.endswith("127.0.0.1:%d" % tw.port) or c.endswith("127.0.0.1:%d" % tw.http_port)
                                for c in res["connections"]), res["connections"])


if __name__ == "__main__":
    unittest.main()
