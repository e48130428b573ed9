# Consequences as in Azure: when a cluster's key, identity, role, access policy or vault
# network rules break, clusterStatus turns Inaccessible after the scenario's delay, and
# Ready again after the fix (after the recovery delay). The twin clock is frozen and
# advanced through the control API, so every step is exact.

import unittest

import twin_testutil as tu

DELAY, RECOVER = 600, 1200


class Consequences(unittest.TestCase):
    def setUp(self):
        self.tw = tu.start(tu.scenario("basic.json", inaccessible_delay_s=DELAY, recovery_delay_s=RECOVER,
                                       token_lifetime_s=86400 * 30))
        self.tw.control("freeze_clock")
        self.tok = self.tw.token()

    def tearDown(self):
        self.tw.stop()

    def status(self, name):
        r = self.tw.get(tu.cluster_url(name), token=self.tok)
        self.assertEqual(r.status, 200, r.body)
        return r.json()["properties"]["clusterStatus"]

    def advance(self, s):
        self.tw.control("advance_clock", seconds=s)

    def cycle(self, cluster, breaks, fixes, reason):
        """break -> Ready until the delay passes -> Inaccessible -> fix -> Inaccessible until
        the recovery delay passes -> Ready."""
        self.assertEqual(self.status(cluster), "Ready")
        breaks()
        st = self.tw.cluster(cluster)
        self.assertFalse(st["access_ok"])
        self.assertIn(reason, st["access_reasons"])
        self.assertEqual(self.status(cluster), "Ready")
        self.advance(DELAY - 1)
        self.assertEqual(self.status(cluster), "Ready")
        self.advance(1)
        self.assertEqual(self.status(cluster), "Inaccessible")
        self.assertEqual(self.tw.cluster(cluster)["clusterStatus"], "Inaccessible")
        if fixes is None:
            return
        fixes()
        self.assertTrue(self.tw.cluster(cluster)["access_ok"], self.tw.cluster(cluster))
        self.advance(RECOVER - 1)
        self.assertEqual(self.status(cluster), "Inaccessible")
        self.advance(1)
        self.assertEqual(self.status(cluster), "Ready")

    def c(self, op, **kw):
        return lambda: self.tw.control(op, **kw)

    def test_key_disabled(self):
        self.cycle("c-versionless", self.c("disable_key", vault="kv-rbac", key="key1"),
                   self.c("enable_key", vault="kv-rbac", key="key1"), "key_disabled")

    def test_pinned_version_disabled_only_hurts_the_pin(self):
        self.cycle("c-stale", self.c("disable_key", vault="kv-rbac", key="key1", version=0),
                   self.c("enable_key", vault="kv-rbac", key="key1", version=0), "key_disabled")
        self.assertEqual(self.status("c-versionless"), "Ready")
        self.assertEqual(self.status("c-pinned"), "Ready")

    def test_key_expired_set_by_control(self):
        self.cycle("c-versionless", self.c("set_key_expiry", vault="kv-rbac", key="key1", exp="now-1h"),
                   self.c("set_key_expiry", vault="kv-rbac", key="key1", exp="now+400d"), "key_expired")

    def test_key_expires_with_time(self):
        self.tw.control("set_key_expiry", vault="kv-rbac", key="key1", exp="now+100s")
        self.assertTrue(self.tw.cluster("c-versionless")["access_ok"])
        self.advance(99)
        self.assertTrue(self.tw.cluster("c-versionless")["access_ok"])
        self.advance(1 + DELAY - 1)
        self.assertEqual(self.status("c-versionless"), "Ready")
        self.advance(1)
        self.assertEqual(self.status("c-versionless"), "Inaccessible")
        self.assertIn("key_expired", self.tw.cluster("c-versionless")["access_reasons"])

    def test_key_not_yet_valid(self):
        self.cycle("c-versionless", self.c("set_key_nbf", vault="kv-rbac", key="key1", nbf="now+30d"),
                   self.c("set_key_nbf", vault="kv-rbac", key="key1", nbf=None), "key_not_yet_valid")

    def test_key_deleted_then_recovered(self):
        self.cycle("c-versionless", self.c("delete_key", vault="kv-rbac", key="key1"),
                   self.c("recover_key", vault="kv-rbac", key="key1"), "key_deleted")

    def test_identity_deleted(self):
        self.cycle("c-versionless", self.c("delete_identity", identity="uami-a"),
                   self.c("recreate_identity", identity="uami-a", same_principal=True), "identity_deleted")

    def test_identity_recreated_with_same_name_does_not_recover(self):
        self.tw.control("delete_identity", identity="uami-a")
        self.advance(DELAY)
        self.assertEqual(self.status("c-versionless"), "Inaccessible")
        self.tw.control("recreate_identity", identity="uami-a")
        self.advance(RECOVER * 10)
        self.tok = self.tw.token()
        self.assertEqual(self.status("c-versionless"), "Inaccessible")
        self.assertIn("identity_recreated", self.tw.cluster("c-versionless")["access_reasons"])
        # The documented recovery: give the new identity its role, then PUT it to the cluster.
        self.tw.control("add_role_assignment", identity="uami-a", vault="kv-rbac",
                        role="Key Vault Crypto Service Encryption User")
        self.assertFalse(self.tw.cluster("c-versionless")["access_ok"])
        self.tw.control("set_settings", lro_delay_s=1)
        r = self.tw.put(tu.cluster_url("c-versionless"), token=self.tok,
                        json_body=tu.cmk_body(tu.UAMI_A, "https://kv-rbac.vault.azure.net/keys/key1"))
        self.assertEqual(r.status, 200, r.body)
        self.advance(1)
        self.assertEqual(self.status("c-versionless"), "Ready")

    def test_role_removed(self):
        self.cycle("c-versionless", self.c("remove_role_assignment", identity="uami-a", vault="kv-rbac"),
                   self.c("add_role_assignment", identity="uami-a", vault="kv-rbac",
                          role="Key Vault Crypto Service Encryption User"), "rbac_role_missing")

    def test_role_at_a_higher_scope_still_counts(self):
        self.tw.control("add_role_assignment", identity="uami-a", resource_group="rg-keys", subscription="prod",
                        role="Key Vault Crypto Service Encryption User")
        self.tw.control("remove_role_assignment", identity="uami-a", vault="kv-rbac")
        self.assertTrue(self.tw.cluster("c-versionless")["access_ok"])
        # a read-only role is not enough for the service (it needs wrap and unwrap)
        self.tw.control("remove_role_assignment", identity="uami-a")
        self.tw.control("add_role_assignment", identity="uami-a", vault="kv-rbac", role="Key Vault Reader")
        self.assertIn("rbac_role_missing", self.tw.cluster("c-versionless")["access_reasons"])

    def test_access_policy_removed_or_narrowed(self):
        self.cycle("c-ap", self.c("remove_access_policy", vault="kv-ap", identity="uami-b"),
                   self.c("set_access_policy", vault="kv-ap", identity="uami-b",
                          keys=["get", "list", "wrapKey", "unwrapKey"]), "access_policy_missing")
        self.cycle("c-ap", self.c("remove_access_policy", vault="kv-ap", identity="uami-b", keys=["unwrapKey"]),
                   self.c("set_access_policy", vault="kv-ap", identity="uami-b",
                          keys=["get", "list", "wrapKey", "unwrapKey"]), "access_policy_missing")

    def test_firewall_shuts_out_trusted_services(self):
        self.assertEqual(self.status("c-fw"), "Ready", "Deny + bypass AzureServices lets the service in")
        self.cycle("c-fw", self.c("set_network_rules", vault="kv-fw", bypass="None"),
                   self.c("set_network_rules", vault="kv-fw", bypass="AzureServices"), "vault_network_blocked")
        self.cycle("c-versionless", self.c("set_network_rules", vault="kv-rbac", public_network_access="Disabled",
                                           bypass="None"),
                   self.c("set_network_rules", vault="kv-rbac", public_network_access="Enabled"),
                   "vault_network_blocked")

    def test_vault_deleted(self):
        self.cycle("c-versionless", self.c("delete_vault", vault="kv-rbac"),
                   self.c("recover_vault", vault="kv-rbac"), "vault_deleted")

    def test_flap_shorter_than_the_delay_is_not_seen(self):
        self.tw.control("disable_key", vault="kv-rbac", key="key1")
        self.advance(DELAY - 10)
        self.tw.control("enable_key", vault="kv-rbac", key="key1")
        self.advance(DELAY * 3)
        self.assertEqual(self.status("c-versionless"), "Ready")

    def test_rotation_does_not_break_a_pin_but_disabling_the_old_version_does(self):
        r = self.tw.control("rotate_key", vault="kv-rbac", key="key1")
        self.advance(DELAY * 2)
        self.assertEqual(self.status("c-pinned"), "Ready")
        self.assertEqual(self.status("c-versionless"), "Ready")
        old = self.tw.cluster("c-pinned")["cmk"]["key_url"].rsplit("/", 1)[1]
        self.assertNotEqual(old, r["version"])
        self.tw.control("disable_key", vault="kv-rbac", key="key1", version=old)
        self.advance(DELAY)
        self.assertEqual(self.status("c-pinned"), "Inaccessible")
        self.assertEqual(self.status("c-versionless"), "Ready")

    def test_repoint_put_recovers_at_once(self):
        self.tw.control("set_settings", lro_delay_s=1)
        self.tw.control("disable_key", vault="kv-rbac", key="key1", version=0)
        self.advance(DELAY)
        self.assertEqual(self.status("c-stale"), "Inaccessible")
        r = self.tw.put(tu.cluster_url("c-stale"), token=self.tok,
                        json_body=tu.cmk_body(tu.UAMI_A, "https://kv-rbac.vault.azure.net/keys/key1"))
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.status("c-stale"), "Updating")
        self.advance(1)
        self.assertEqual(self.status("c-stale"), "Ready")

    def test_sticky_status_and_scenario_status(self):
        self.tw.control("set_cluster", cluster="c-versionless", sticky_status=True)
        self.tw.control("disable_key", vault="kv-rbac", key="key1")
        self.advance(DELAY * 5)
        self.assertEqual(self.status("c-versionless"), "Ready", "the preview docs' stuck status")
        self.tw.control("set_cluster", cluster="c-smk", status="Stopped")
        self.assertEqual(self.status("c-smk"), "Stopped")

    def test_problems_present_at_load_are_old_news(self):
        sc = tu.scenario("basic.json")
        key1 = sc["vaults"][0]["keys"][0]
        key1["versions"][-1]["enabled"] = False
        with tu.start(sc) as tw:
            tok = tw.token()
            r = tw.get(tu.cluster_url("c-versionless"), token=tok)
            self.assertEqual(r.json()["properties"]["clusterStatus"], "Inaccessible")
            self.assertEqual(tw.get(tu.cluster_url("c-pinned"), token=tok).json()["properties"]["clusterStatus"],
                             "Inaccessible")
            self.assertEqual(tw.get(tu.cluster_url("c-stale"), token=tok).json()["properties"]["clusterStatus"],
                             "Ready")


if __name__ == "__main__":
    unittest.main()
