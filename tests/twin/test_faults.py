# Fault injection: each action (latency, reset, close, truncate, slow body, 5xx, 429
# bursts, malformed or wrongly typed JSON, huge body, LROs that never end or fail) and each
# trigger (nth, every, first, after, count, rate with a seed; host/path/method/service/
# principal filters). No assertion depends on wall-clock timing.

import http.client
import json
import unittest

import twin_testutil as tu
from twinlib import TwinError

KEY = "https://kv-rbac.vault.azure.net/keys/key1?api-version=7.6"


class Faults(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tw = tu.start("basic.json")
        cls.tok = cls.tw.token()
        cls.kv = cls.tw.token("https://vault.azure.net")

    @classmethod
    def tearDownClass(cls):
        cls.tw.stop()

    def setUp(self):
        self.tw.clear_faults()

    def get(self, name="c-smk"):
        return self.tw.get(tu.cluster_url(name), token=self.tok)

    def statuses(self, n, url=None):
        out = []
        for _ in range(n):
            r = self.tw.get(url, token=self.kv) if url else self.get()
            out.append(r.status)
        return out

    def test_status_5xx_per_service_shape(self):
        self.tw.faults({"id": "boom", "action": "status", "status": 503, "service": "arm", "retry_after": 7})
        r = self.get()
        self.assertEqual(r.status, 503)
        self.assertEqual(r.json()["error"]["code"], "ServiceUnavailable")
        self.assertEqual(r.header("Retry-After"), "7")
        self.assertEqual(self.tw.get(KEY, token=self.kv).status, 200, "service filter")
        self.assertEqual(self.tw.log()[-2]["fault"], "boom")
        self.tw.faults({"action": "status", "status": 500, "service": "imds"})
        r = self.tw.token(raw=True)
        self.assertEqual(r.status, 500)
        self.assertEqual(r.json()["error"], "unknown")
        self.tw.faults({"action": "status", "status": 502, "html": True})
        r = self.get()
        self.assertEqual(r.status, 502)
        self.assertIn("text/html", r.header("Content-Type"))

    def test_nth_every_first_after_count(self):
        self.tw.faults({"action": "status", "status": 500, "nth": 3})
        self.assertEqual(self.statuses(5), [200, 200, 500, 200, 200])
        self.tw.faults({"action": "status", "status": 500, "every": 2})
        self.assertEqual(self.statuses(6), [200, 500, 200, 500, 200, 500])
        self.tw.faults({"action": "throttle", "first": 3, "retry_after": 2})
        self.assertEqual(self.statuses(5), [429, 429, 429, 200, 200])
        self.tw.faults({"action": "status", "status": 500, "after": 2, "count": 2})
        self.assertEqual(self.statuses(6), [200, 200, 500, 500, 200, 200])
        f = self.tw.state()["faults"][0]
        self.assertEqual((f["matched"], f["fired"]), (6, 2))

    def test_throttle_burst_shape(self):
        self.tw.faults({"action": "throttle", "first": 1, "retry_after": 3, "service": "arm"})
        r = self.get()
        self.assertEqual(r.status, 429)
        self.assertEqual(r.header("Retry-After"), "3")
        self.assertEqual(r.json()["error"]["code"], "SubscriptionRequestsThrottled")
        self.tw.faults({"action": "throttle", "first": 1, "service": "kv"})
        r = self.tw.get(KEY, token=self.kv)
        self.assertEqual((r.status, r.json()["error"]["code"]), (429, "Throttled"))

    def test_rate_is_seeded(self):
        def pattern():
            with tu.start(tu.scenario("basic.json", seed=7)) as tw:
                tok = tw.token()
                tw.faults({"action": "status", "status": 500, "rate": 0.5, "service": "arm"})
                return [tw.get(tu.cluster_url("c-smk"), token=tok).status for _ in range(30)]

        a, b = pattern(), pattern()
        self.assertEqual(a, b)
        self.assertTrue(5 <= a.count(500) <= 25, a)

    def test_filters(self):
        self.tw.faults({"action": "status", "status": 500, "path": "*/mongoClusters/c-pinned", "method": "GET"})
        self.assertEqual(self.get("c-pinned").status, 500)
        self.assertEqual(self.get("c-smk").status, 200)
        self.tw.faults({"action": "status", "status": 500, "host": "kv-*.vault.azure.net"})
        self.assertEqual(self.tw.get(KEY, token=self.kv).status, 500)
        self.assertEqual(self.get().status, 200)
        self.tw.faults({"action": "status", "status": 500, "principal": "app"})
        self.assertEqual(self.get().status, 200)
        self.assertEqual(self.tw.get(tu.cluster_url("c-smk"), token=self.tw.token(principal="app")).status, 500)

    def test_reset_and_close(self):
        self.tw.faults({"action": "reset", "first": 1})
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            self.tw.request("GET", tu.cluster_url("c-smk"), token=self.tok, retry=False)
        self.assertEqual(self.get().status, 200)
        self.tw.faults({"action": "close", "first": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.tw.request("GET", tu.cluster_url("c-smk"), token=self.tok, retry=False)
        self.assertEqual(self.get().status, 200)
        self.assertEqual(self.tw.log()[-2]["status"], 0)

    def test_truncate(self):
        self.tw.faults({"action": "truncate", "first": 1, "bytes": 10})
        with self.assertRaises(http.client.IncompleteRead):
            self.tw.request("GET", tu.cluster_url("c-smk"), token=self.tok, retry=False)
        self.assertEqual(self.get().status, 200)

    def test_slow_body_arrives_whole(self):
        self.tw.faults({"action": "slow_body", "first": 1, "chunk_bytes": 200, "delay_ms": 5})
        r = self.get()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["name"], "c-smk")
        self.assertEqual(self.tw.log()[-1]["transport"], "slow")

    def test_latency_is_recorded(self):
        self.tw.faults({"action": "latency", "latency_ms": 30, "first": 1})
        self.assertEqual(self.get().status, 200)
        e = self.tw.log()[-1]
        self.assertEqual(e["latency_faults"], ["latency"])
        self.assertEqual(e["added_latency_ms"], 30)

    def test_malformed_and_wrong_types_and_content_type(self):
        self.tw.faults({"action": "malformed_json", "first": 1})
        r = self.get()
        self.assertEqual(r.status, 200)
        with self.assertRaises(ValueError):
            json.loads(r.body)
        self.tw.faults({"action": "wrong_types", "first": 1, "fields": ["properties.clusterStatus", "tags"]})
        b = self.get().json()
        self.assertIsInstance(b["properties"]["clusterStatus"], int)
        self.assertIsInstance(b["tags"], list)
        self.assertIsInstance(b["name"], str)
        self.tw.faults({"action": "wrong_types", "first": 1})
        b = self.tw.get(KEY, token=self.kv).json()
        self.assertIsInstance(b["attributes"]["created"], str)
        self.assertIsInstance(b["key"]["kid"], int)
        self.tw.faults({"action": "wrong_content_type", "first": 1})
        self.assertIn("text/plain", self.get().header("Content-Type"))
        self.tw.faults({"action": "empty_body", "first": 1})
        r = self.get()
        self.assertEqual((r.status, r.body), (200, b""))

    def test_huge_body(self):
        self.tw.faults({"action": "huge_body", "first": 1, "size_bytes": 4 * 1024 * 1024})
        r = self.get()
        self.assertGreaterEqual(len(r.body), 4 * 1024 * 1024 - 100)
        self.assertEqual(r.json()["name"], "c-smk", "still valid JSON")

    def test_lro_faults(self):
        self.tw.control("set_settings", lro_delay_s=0)
        self.tw.faults({"action": "lro_never", "first": 1, "method": "PATCH"})
        r = self.tw.patch(tu.cluster_url("c-smk"), token=self.tok, json_body={"tags": {"a": "1"}})
        self.assertEqual(r.status, 202)
        self.assertEqual(self.tw.get(r.header("Azure-AsyncOperation"), token=self.tok).json()["status"], "InProgress")
        self.tw.control("finish_operations", force=True, outcome="Canceled")
        self.tw.faults({"action": "lro_fail", "first": 1, "method": "PATCH"})
        r = self.tw.patch(tu.cluster_url("c-smk"), token=self.tok, json_body={"tags": {"a": "2"}})
        b = self.tw.get(r.header("Azure-AsyncOperation"), token=self.tok).json()
        self.assertEqual(b["status"], "Failed")
        self.assertEqual(b["error"]["code"], "InternalServerError")
        self.assertEqual(self.tw.get(r.header("Location"), token=self.tok).status, 500)
        self.assertNotEqual(self.get().json()["tags"].get("a"), "2")

    def test_bad_fault_rules_are_refused(self):
        for rule in ({"action": "melt"}, {"action": "status", "rate": 2}, {"action": "status", "nth": -1},
                     {"action": "status", "service": "dns"}):
            with self.assertRaises(TwinError):
                self.tw.faults(rule)
        self.tw.add_fault(action="status", status=500, first=1)
        self.assertEqual(len(self.tw.state()["faults"]), 1)

    def test_scenario_faults(self):
        sc = tu.scenario("basic.json")
        sc["faults"] = [{"id": "imds-hiccup", "service": "imds", "action": "status", "status": 503, "first": 2}]
        with tu.start(sc) as tw:
            self.assertEqual([tw.token(raw=True).status for _ in range(3)], [503, 503, 200])


if __name__ == "__main__":
    unittest.main()
