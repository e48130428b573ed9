# ARM throttling as Azure does it (token buckets per principal and subscription): drain
# the read bucket, see 429 with Retry-After, recover at the refill rate. The twin clock is
# frozen and advanced by the control API, so the counts are exact and no assertion
# depends on wall-clock timing.

import unittest

import twin_testutil as tu

LIST = "%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01" % (tu.ARM, tu.SUB)
GET = tu.cluster_url("c-smk")
HDR_R = "x-ms-ratelimit-remaining-subscription-reads"
HDR_W = "x-ms-ratelimit-remaining-subscription-writes"


class Throttle(unittest.TestCase):
    def setUp(self):
        self.tw = tu.start("basic.json")
        self.tok = self.tw.token()
        self.tw.control("freeze_clock")
        self.tw.control("reset_throttle")

    def tearDown(self):
        self.tw.stop()

    def drain(self, url, limit=1000):
        """GETs until the first 429; returns (successes, the 429 response, remaining headers seen)."""
        ok = 0
        seen = []
        for _ in range(limit):
            r = self.tw.get(url, token=self.tok)
            if r.status == 429:
                return ok, r, seen
            self.assertEqual(r.status, 200, r.body[:300])
            seen.append(int(r.header(HDR_R)))
            ok += 1
        self.fail("no 429 after %d requests" % limit)

    def test_drain_read_bucket_then_recover_at_refill_rate(self):
        ok, r429, seen = self.drain(GET)
        self.assertEqual(ok, 250, "the read bucket holds 250")
        self.assertEqual(seen[0], 249)
        self.assertEqual(seen[-1], 0)
        self.assertEqual(seen, list(range(249, -1, -1)), "remaining counts down by one per read")
        self.assertEqual(r429.header("Retry-After"), "1")
        self.assertEqual(r429.header(HDR_R), "0")
        err = r429.json()["error"]
        self.assertEqual(err["code"], "SubscriptionRequestsThrottled")
        self.assertIn("'read'", err["message"])
        self.assertIn(tu.SUB, err["message"])
        # While the clock stands still the bucket stays empty.
        self.assertEqual(self.tw.get(GET, token=self.tok).status, 429)
        # One second refills 25 tokens: exactly 25 reads pass, the 26th is throttled.
        self.tw.control("advance_clock", seconds=1)
        ok, r429, seen = self.drain(GET)
        self.assertEqual(ok, 25)
        self.assertEqual(seen, list(range(24, -1, -1)))
        # Four seconds refill 100.
        self.tw.control("advance_clock", seconds=4)
        ok, _, _ = self.drain(GET)
        self.assertEqual(ok, 100)
        # A long pause refills to the capacity, never beyond.
        self.tw.control("advance_clock", seconds=3600)
        self.tok = self.tw.token()  # the old one expired meanwhile
        ok, _, _ = self.drain(GET)
        self.assertEqual(ok, 250)
        log = [e for e in self.tw.log() if e["status"] == 429]
        self.assertTrue(all(e.get("throttled") for e in log))

    def test_retry_after_is_honest_in_real_time(self):
        """Unfrozen, waiting Retry-After seconds is enough to be served again."""
        ok, r429, _ = self.drain(GET)
        self.assertEqual(ok, 250)
        self.tw.control("freeze_clock", frozen=False)
        import time
        time.sleep(int(r429.header("Retry-After")))
        r = self.tw.get(GET, token=self.tok)
        self.assertEqual(r.status, 200)

    def test_buckets_are_per_principal_and_subscription(self):
        ok, _, _ = self.drain(GET)
        self.assertEqual(ok, 250)
        # Another subscription has its own bucket.
        r = self.tw.get(tu.cluster_url("c-dev", rg="rg-dev", sub=tu.SUB_DEV), token=self.tok)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header(HDR_R), "249")
        # Another principal has its own bucket in the same subscription.
        other = self.tw.token(principal="cmkd-uami")
        r = self.tw.get(GET, token=other)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header(HDR_R), "249")

    def test_writes_have_their_own_bucket_and_header(self):
        ok, _, _ = self.drain(GET)
        self.assertEqual(ok, 250)
        r = self.tw.patch(tu.cluster_url("c-smk"), token=self.tok, json_body={"tags": {"a": "b"}})
        self.assertEqual(r.status, 202, r.body)
        self.assertEqual(r.header(HDR_W), "199")
        self.assertIsNone(r.header(HDR_R))

    def test_limits_per_scenario_and_control(self):
        self.tw.control("set_throttle", reads={"capacity": 5, "refill": 2})
        ok, r429, seen = self.drain(LIST)
        self.assertEqual(ok, 5)
        self.assertEqual(seen, [4, 3, 2, 1, 0])
        self.assertEqual(r429.header("Retry-After"), "1")
        self.tw.control("advance_clock", seconds=2)
        ok, _, _ = self.drain(LIST)
        self.assertEqual(ok, 4)
        self.tw.control("set_throttle", enabled=False)
        for _ in range(20):
            self.assertEqual(self.tw.get(LIST, token=self.tok).status, 200)
        sc = tu.scenario("basic.json", throttle={"reads": {"capacity": 3, "refill": 1}})
        with tu.start(sc) as tw2:
            tok = tw2.token()
            tw2.control("freeze_clock")
            codes = [tw2.get(LIST, token=tok).status for _ in range(4)]
            self.assertEqual(codes, [200, 200, 200, 429])

    def test_subscription_wide_limit(self):
        """All principals together get global_factor x the per-principal bucket."""
        self.tw.control("set_throttle", reads={"capacity": 2, "refill": 0.5}, global_factor=2)
        a, b, c = self.tok, self.tw.token(principal="cmkd-uami"), self.tw.token(principal="app")
        codes = [self.tw.get(GET, token=t).status for t in (a, a, b, b, c)]
        self.assertEqual(codes, [200, 200, 200, 200, 429])


if __name__ == "__main__":
    unittest.main()
