# SPDX-License-Identifier: MIT
"""Issue 5 ("Act"): cmkd updates stale clusters where the policy says StaleVersion=update,
and never makes things worse. Against the twin (tests/twin), through tests/integration/
cmkdlib.py.

  make check-update                  (CMKD=/path/to/cmkd for another binary)

What is proved, each by its own test:
  - end to end: a pinned stale cluster gets the docs' PUT (the spec's MongoClusters_Update
    CMK example plus location, only the encryption identity, the key at its current
    version; UpdateTarget=versionless: no version), or with UpdateMethod=patch the spec's
    PATCH (202, Azure-AsyncOperation followed); the twin then holds the new URL, Succeeded,
    Ready; --json says "succeeded"; audit.log has started and succeeded lines;
  - every guard rail refuses with its own refusal string and sends no write;
  - a failed operation is "failed", audited with its error code, held back (also across a
    restart: the hold is a state file) and retried only for another target; a 4xx answer
    to the PUT is failed without following anything; an operation that never ends is
    followed until SIGTERM and resumed by the next start;
  - the time limit ([Policy] UpdateTimeoutSec=, a few seconds here): the daemon follows an
    operation that never ends, sends nothing more while it is in flight, gives up at the
    limit (log, audit, hold; polls stop), then refuses while the cluster reads Updating and
    holds the update back once it has settled on its old key, across a restart, until the
    hold's time has come: then exactly one new request. The metrics count the attempt once
    (timed-out) and the held-back update as a gauge, never in cmkd_updates_total. A record
    resumed after its limit has passed is polled once and given up;
  - crash safety: kill -9 during the operation, or after the record is written but before
    the request goes out, then a restart: exactly one update request per cluster; a
    corrupt operation record is set aside and cmkd runs on;
  - dry run (--dry-run and Mode=dry-run): no write, the exact request on stderr;
  - a disabled version that a cluster uses is key-disabled (critical).

Every wait is bounded. The twin's delays are short (scenario settings lro_delay_s,
retry_after_s), so the whole file runs in about two minutes (TimeLimitTest alone about 40 s:
it waits for four sweeps of the daemon, 10 s apart). Not here: the alerts themselves
(journald; test_journal.py; their text is in test-alert.c).
"""

import copy
import datetime
import json
import os
import re
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cmkdlib  # noqa: E402
from cmkdlib import Fixture, cluster_path_re, merge_sections, read_metrics, requests, settled_log, writes  # noqa: E402

ROOT = cmkdlib.ROOT
BASIC = os.path.join(cmkdlib.SCENARIOS, "update-basic.json")
FLEET = os.path.join(cmkdlib.SCENARIOS, "update-fleet.json")
SPEC_EXAMPLE = os.path.join(ROOT, "tests", "data", "reference", "mongocluster", "2025-09-01",
                            "MongoClusters_PatchCMK.json")
ARM = "https://management.azure.com"
VAULT = "kv-upd"
UPDATE = {"Policy": {"StaleVersion": "update"}}  # every config of these tests, unless a test says otherwise
# The daemon: RequestTimeoutSec must be shorter than PollIntervalSec (10 s is the minimum).
DAEMON = {"Daemon": {"PollIntervalSec": "10s"}, "Network": {"RequestTimeoutSec": "5s"}}

OP_STATUS_RE = r"/mongoClusterAzureAsyncOperation/"
OP_RESULT_RE = r"/mongoClusterOperationResults/"
TIMINGS = []  # (test, seconds): printed at the end, never asserted


def setUpModule():
    cmkdlib.cmkd_path()
    for p in (BASIC, FLEET, SPEC_EXAMPLE):
        if not os.path.isfile(p):
            raise RuntimeError("test_update cannot run: %s is missing" % p)


def tearDownModule():
    if TIMINGS:
        sys.stderr.write("\ntest_update timings (s): %s\n"
                         % ", ".join("%s %.1f" % (n, s) for n, s in TIMINGS))


def spec_update(method, identity_id, key_url, location):
    """The request body of the spec's CMK update example (MongoClusters_Update,
    2025-09-01) with its identity and key replaced; for PUT plus the location (the docs'
    "Update data encryption settings" body)."""
    with open(SPEC_EXAMPLE) as f:
        ex = json.load(f)
    body = copy.deepcopy(ex["parameters"]["properties"])
    uais = body["identity"]["userAssignedIdentities"]
    assert len(uais) == 1, "the spec example names one identity"
    body["identity"]["userAssignedIdentities"] = {identity_id: next(iter(uais.values()))}
    cmk = body["properties"]["encryption"]["customerManagedKeyEncryption"]
    cmk["keyEncryptionKeyIdentity"]["userAssignedIdentityResourceId"] = identity_id
    cmk["keyEncryptionKeyUrl"] = key_url
    if method == "PUT":
        body["location"] = location
    return body


def spec_api_version():
    with open(SPEC_EXAMPLE) as f:
        return json.load(f)["parameters"]["api-version"]


class UpdateTest(unittest.TestCase):
    SCENARIO = BASIC

    def setUp(self):
        self.t0 = time.monotonic()
        self.fx = Fixture(self.SCENARIO, UPDATE)
        self.addCleanup(self.fx.close)
        self.tw = self.fx.twin

    def tearDown(self):
        TIMINGS.append((self._testMethodName, time.monotonic() - self.t0))

    # --- the world ----------------------------------------------------------------------

    def key_state(self, key, vault=VAULT):
        for v in self.tw.state()["vaults"]:
            if v["name"] == vault:
                for k in v["keys"]:
                    if k["name"] == key:
                        return k
        self.fail("the twin has no key %s/%s" % (vault, key))

    def current_kid(self, key, vault=VAULT):
        return self.key_state(key, vault)["versions"][-1]["kid"]

    def versionless(self, key, vault=VAULT):
        return "https://%s.vault.azure.net/keys/%s" % (vault, key)

    def cluster(self, name):
        return self.tw.cluster(name)

    # --- running cmkd --------------------------------------------------------------------

    def once(self, *extra, **sections):
        """cmkd --once --json EXTRA, with sections (Policy={...}, ...) over UPDATE."""
        return self.fx.once(*extra, sections=sections)

    def start_daemon(self, **sections):
        """The daemon, with sections over UPDATE and DAEMON."""
        return self.fx.daemon(sections=merge_sections(DAEMON, sections))

    # --- assertions ----------------------------------------------------------------------

    def assert_no_writes(self, run):
        w = run.writes()
        if w:
            self.fail("cmkd sent %d write(s): %s\n%s" % (len(w), ["%s %s" % (e["method"], e["path"]) for e in w],
                                                       run.describe()))

    def assert_refused(self, run, name, refusal):
        """The cluster's action is refused with that refusal, nothing was written, and the
        audit log has the refusal."""
        a = run.action(name)
        self.assertIsNotNone(a, "cluster %s has no action:\n%s" % (name, run.describe()))
        self.assertEqual((a["kind"], a["outcome"], a["refusal"]), ("update", "refused", refusal), run.describe())
        self.assertTrue(a["reason"], "a refusal carries a reason sentence")
        self.assert_no_writes(run)
        audited = [e for e in self.fx.audit() if e["cluster"] == self.cluster(name)["id"]]
        self.assertTrue(any(e["result"] == "refused" and e["refusal"] == refusal for e in audited),
                        "no audit line 'refused' (%s) for %s: %s" % (refusal, name, audited))
        self.assertGreaterEqual(run.returncode, 0)
        self.assertLessEqual(run.returncode, 2, run.describe())

    def assert_audit(self, name, results, since=0):
        """The audit lines of the cluster (from index since), in order, have these results."""
        cid = self.cluster(name)["id"]
        got = [e for e in self.fx.audit()[since:] if e["cluster"] == cid]
        self.assertEqual([e["result"] for e in got], list(results), "audit lines of %s:\n%s"
                         % (name, "\n".join(json.dumps(e) for e in got)))
        return got

    def put_requests(self, log, name):
        return requests(log, ("PUT", "PATCH"), cluster_path_re(name))


# ==== 1. end to end ===================================================================

class EndToEndTest(UpdateTest):

    def check_followed(self, run, write, name):
        """The operation the write started was followed to its end (Azure-AsyncOperation
        polled until terminal) and the cluster read again afterwards."""
        opid = write.get("operation")
        self.assertTrue(opid, "the twin started no operation: %r" % write)
        polls = requests(run.log, "GET", OP_STATUS_RE + re.escape(opid))
        self.assertTrue(polls, "cmkd never polled Azure-AsyncOperation:\n" + run.describe())
        last_poll = polls[-1]
        reads = [e for e in requests(run.log, "GET", cluster_path_re(name)) if e["seq"] > last_poll["seq"]]
        self.assertTrue(reads, "no read of the cluster after its operation ended:\n" + run.describe())
        self.assertEqual(reads[0]["status"], 200)
        return opid

    def check_twin_after(self, name, url):
        cl = self.cluster(name)
        self.assertEqual(cl["cmk"]["key_url"], url)
        self.assertEqual((cl["provisioningState"], cl["clusterStatus"]), ("Succeeded", "Ready"))
        self.assertIsNone(cl["operation"])

    def check_audit_success(self, name, old, new, opid, method="PUT"):
        started, succeeded = self.assert_audit(name, ["started", "succeeded"])
        cid = self.cluster(name)["id"]
        for e in (started, succeeded):
            self.assertEqual((e["cluster"], e["old_key_url"], e["new_key_url"], e["method"], e["mode"]),
                             (cid, old, new, method, "enforce"))
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
            self.assertIsNone(e["error"])
        # The operation id is Azure's answer to the request: unknown when "started" is
        # written (before the request goes out), known when it succeeded.
        self.assertIsNone(started["operation_id"])
        self.assertEqual(succeeded["operation_id"], opid)

    def test_put_pinned_stale_cluster(self):
        cl = self.cluster("c-stale")
        old = cl["cmk"]["key_url"]
        new = self.current_kid("key1")
        self.assertNotEqual(old, new)
        run = self.once()

        w = run.writes()
        self.assertEqual([(e["method"], e["path"]) for e in w], [("PUT", cl["id"])], run.describe())
        put = w[0]
        self.assertEqual(put["query"].get("api-version"), spec_api_version())
        self.assertEqual(put["status"], 200)
        self.assertEqual(put["body"], spec_update("PUT", cl["cmk"]["identity_id"], new, cl["location"]))
        self.assertEqual(put["headers"].get("content-type"), "application/json")
        # The docs' body in the same shape (docs' JSON = spec example + location).
        self.assertEqual(sorted(put["body"]), ["identity", "location", "properties"])

        opid = self.check_followed(run, put, "c-stale")
        a = run.action("c-stale")
        self.assertEqual((a["outcome"], a["old_key_url"], a["new_key_url"], a["operation_id"]),
                         ("succeeded", old, new, opid), run.describe())
        self.check_twin_after("c-stale", new)
        self.check_audit_success("c-stale", old, new, opid)
        self.assertIn("now uses " + new, run.stderr)
        # Nobody else was touched: not the current, versionless or service-managed ones.
        for other in ("c-current", "c-versionless", "c-smk"):
            self.assertIsNone(run.action(other), other)
        self.assertEqual(run.returncode, run.json["exit_code"])
        # Every request of the run is cmkd's, which names itself in User-Agent.
        self.assertEqual([e["seq"] for e in run.log if not str(e["user_agent"]).startswith("cmkd/")], [],
                         run.describe())

        # Done is done: the next run sends nothing.
        again = self.once()
        self.assert_no_writes(again)
        self.assertIsNone(again.action("c-stale"), again.describe())

    def test_put_versionless_target(self):
        cl = self.cluster("c-stale")
        old = cl["cmk"]["key_url"]
        new = self.versionless("key1")
        run = self.once(Policy={"UpdateTarget": "versionless"})
        w = run.writes()
        self.assertEqual([(e["method"], e["path"]) for e in w], [("PUT", cl["id"])], run.describe())
        self.assertEqual(w[0]["body"], spec_update("PUT", cl["cmk"]["identity_id"], new, cl["location"]))
        opid = self.check_followed(run, w[0], "c-stale")
        self.assertEqual(run.action("c-stale")["outcome"], "succeeded", run.describe())
        self.assertEqual(run.action("c-stale")["new_key_url"], new)
        self.check_twin_after("c-stale", new)
        self.check_audit_success("c-stale", old, new, opid)

    def test_patch_method(self):
        cl = self.cluster("c-stale")
        old = cl["cmk"]["key_url"]
        new = self.current_kid("key1")
        run = self.once(Policy={"UpdateMethod": "patch"})
        w = run.writes()
        self.assertEqual([(e["method"], e["path"]) for e in w], [("PATCH", cl["id"])], run.describe())
        patch = w[0]
        # MongoClusters_Update: 202 with Location and Azure-AsyncOperation, no body.
        self.assertEqual(patch["status"], 202)
        self.assertIn("azure-asyncoperation", patch["response_headers"])
        self.assertIn("location", patch["response_headers"])
        self.assertEqual(patch["body"], spec_update("PATCH", cl["cmk"]["identity_id"], new, None))
        opid = self.check_followed(run, patch, "c-stale")
        self.assertEqual(run.action("c-stale")["outcome"], "succeeded", run.describe())
        self.check_twin_after("c-stale", new)
        self.check_audit_success("c-stale", old, new, opid, method="PATCH")


# ==== 2. guard rails ===================================================================

class GuardRailTest(UpdateTest):
    """Each test changes one thing in a world where c-stale would be updated (see
    EndToEndTest), and expects that refusal and no write."""

    def refused(self, refusal, name="c-stale", **run_kw):
        run = self.once(**run_kw)
        self.assert_refused(run, name, refusal)
        return run

    # the cluster

    def test_provisioning_failed(self):
        self.tw.control("set_cluster", cluster="c-stale", provisioning_state="Failed")
        self.refused("cluster-not-succeeded")

    def test_provisioning_in_progress(self):
        # InProgress is an operation under way: policy.h files it under cluster-updating.
        self.tw.control("set_cluster", cluster="c-stale", provisioning_state="InProgress")
        self.refused("cluster-updating")

    def test_already_updating(self):
        # Someone else's update, still running: the cluster reads Updating.
        self.tw.add_fault(id="never", principal="operator", method="PATCH", action="lro_never")
        r = self.tw.arm("PATCH", self.cluster("c-stale")["id"] + "?api-version=" + spec_api_version(),
                        principal="operator", json_body={"tags": {"owner": "ops"}})
        self.assertEqual(r.status, 202, r)
        self.assertEqual((self.cluster("c-stale")["provisioningState"], self.cluster("c-stale")["clusterStatus"]),
                         ("Updating", "Updating"))
        self.refused("cluster-updating")

    def test_status_updating(self):
        self.tw.control("set_cluster", cluster="c-stale", status="Updating", sticky_status=True)
        self.refused("cluster-updating")

    def test_inaccessible(self):
        self.tw.control("set_cluster", cluster="c-stale", status="Inaccessible", sticky_status=True)
        run = self.refused("cluster-inaccessible")
        codes = [f["code"] for f in run.cluster("c-stale")["findings"]]
        self.assertIn("cluster-inaccessible", codes)

    def test_not_ready(self):
        self.tw.control("set_cluster", cluster="c-stale", status="Stopped", sticky_status=True)
        self.refused("cluster-not-ready")

    # the target version

    def test_target_disabled(self):
        self.tw.control("rotate_key", vault=VAULT, key="key1", enabled=False)
        self.refused("target-disabled")

    def test_target_expired(self):
        self.tw.control("rotate_key", vault=VAULT, key="key1", exp="now-1h")
        self.refused("target-expired")

    def test_target_not_yet_valid(self):
        self.tw.control("rotate_key", vault=VAULT, key="key1", nbf="now+1d")
        self.refused("target-not-yet-valid")

    def test_target_lacks_wrap_key(self):
        self.tw.control("set_key_attributes", vault=VAULT, key="key1", key_ops=["unwrapKey", "encrypt", "decrypt"])
        self.refused("target-ops-missing")

    def test_target_lacks_unwrap_key(self):
        self.tw.control("set_key_attributes", vault=VAULT, key="key1", key_ops=["wrapKey", "encrypt", "decrypt"])
        self.refused("target-ops-missing")

    def test_target_type_unsupported(self):
        self.tw.control("set_key_attributes", vault=VAULT, key="key1", kty="EC")
        self.refused("target-type-unsupported")

    def test_older_version(self):
        # key-older's current version was created 29 days before its first one.
        k = self.key_state("key-older")
        self.assertLess(k["versions"][-1]["created"], k["versions"][0]["created"])
        self.tw.control("set_cluster", cluster="c-stale",
                        cmk={"identity": "uami-a", "vault": VAULT, "key": "key-older", "version": 0})
        self.refused("older-version")

    # the identity cannot reach the key

    def test_access_revoked(self):
        self.tw.control("remove_role_assignment", identity="uami-a", vault=VAULT)
        run = self.refused("no-access")
        self.assertIn("access-revoked", [f["code"] for f in run.cluster("c-stale")["findings"]])

    def test_identity_deleted(self):
        self.tw.control("delete_identity", identity="uami-a")
        run = self.refused("no-access")
        self.assertIn("identity-deleted", [f["code"] for f in run.cluster("c-stale")["findings"]])

    def test_vault_firewall(self):
        # The vault lets cmkd (loopback) read, but not the cluster: no trusted-services bypass.
        self.tw.control("set_network_rules", vault=VAULT, default_action="Deny", bypass="None",
                        ip_rules=["127.0.0.0/8"])
        run = self.refused("no-access")
        self.assertIn("vault-firewall-blocks", [f["code"] for f in run.cluster("c-stale")["findings"]])

    # never act on partial facts

    def test_fact_unreadable(self):
        # The role assignments of the vault cannot be read: access cannot be judged.
        self.tw.add_fault(id="ra", service="arm", path="*/roleAssignments", action="status", status=403,
                          code="AuthorizationFailed", message="twin: no read of role assignments")
        run = self.refused("incomplete")
        self.assertIn("check-unknown", [f["code"] for f in run.cluster("c-stale")["findings"]])

    # never touch a service-managed cluster

    def test_service_managed(self):
        run = self.once()
        c = run.cluster("c-smk")
        self.assertEqual(c["encryption"], "service-managed")
        self.assertIsNone(c["action"], run.describe())
        self.assertEqual(writes(run.log, cluster_path_re("c-smk")), [], run.describe())
        smk = self.cluster("c-smk")["id"]
        self.assertEqual([e for e in self.fx.audit() if e["cluster"] == smk], [])
        # The run did act (c-stale), so this is not a run that touched nothing at all.
        self.assertEqual(len(run.writes()), 1, run.describe())

    # global gates

    def test_mode_alert_only(self):
        self.refused("mode", Daemon={"Mode": "alert-only"})

    def _utc(self):
        return datetime.datetime.now(datetime.timezone.utc)

    def test_change_window_closed_hours(self):
        # Today (UTC), one hour starting two hours from now: closed now (a window whose
        # end is before its start spans midnight; it opens on the day named).
        now = self._utc()
        start = (now.hour * 60 + now.minute + 120) % 1440
        end = (start + 60) % 1440 or 1440
        win = "%s %02d:%02d-%02d:%02d" % (now.strftime("%a"), start // 60, start % 60, end // 60, end % 60)
        self.refused("outside-window", Policy={"ChangeWindow": win})

    def test_change_window_closed_days(self):
        # All day, but only on a day that is neither today nor tomorrow (UTC).
        day = (self._utc() + datetime.timedelta(days=3)).strftime("%a")
        self.refused("outside-window", Policy={"ChangeWindow": "%s 00:00-24:00" % day})

    def test_change_window_open(self):
        now = self._utc()
        days = "%s,%s" % (now.strftime("%a"), (now + datetime.timedelta(days=1)).strftime("%a"))
        run = self.once(Policy={"ChangeWindow": "%s 00:00-24:00" % days})
        self.assertEqual(run.action("c-stale")["outcome"], "succeeded", run.describe())
        self.assertEqual(len(run.writes()), 1, run.describe())


class BudgetTest(UpdateTest):
    SCENARIO = FLEET

    def test_max_updates_per_sweep(self):
        run = self.once(Policy={"MaxUpdatesPerSweep": "1"})
        w = run.writes()
        self.assertEqual([e["method"] for e in w], ["PUT"], run.describe())
        outcomes = sorted((run.action(n)["outcome"], run.action(n)["refusal"]) for n in ("c-s1", "c-s2", "c-s3"))
        self.assertEqual(outcomes, [("refused", "budget"), ("refused", "budget"), ("succeeded", None)],
                         run.describe())
        # The next sweep takes the next one.
        run2 = self.once(Policy={"MaxUpdatesPerSweep": "1"})
        self.assertEqual(len(run2.writes()), 1, run2.describe())
        self.assertNotEqual(run2.writes()[0]["path"], w[0]["path"])


# ==== 5. dry run ===========================================================================

class DryRunTest(UpdateTest):
    SCENARIO = FLEET
    STALE = ("c-s1", "c-s2", "c-s3")
    LINE = re.compile(r"Dry run: would send (PUT|PATCH) (\S+) (\{.*\})\s*$")

    def check_dry_run(self, run, method="PUT"):
        self.assert_no_writes(run)
        logged = {}
        for line in run.stderr.splitlines():
            m = self.LINE.search(line)
            if m:
                logged[m.group(2)] = (m.group(1), json.loads(m.group(3)))
        for name in self.STALE:
            cl = self.cluster(name)
            key = cl["cmk"]["key_url"].split("/")[4]
            new = self.current_kid(key)
            a = run.action(name)
            self.assertEqual((a["outcome"], a["refusal"], a["new_key_url"]), ("proposed", None, new), run.describe())
            url = "%s%s?api-version=%s" % (ARM, cl["id"], spec_api_version())
            self.assertIn(url, logged, "no dry-run line for %s:\n%s" % (name, run.stderr))
            self.assertEqual(logged[url], (method, spec_update(method, cl["cmk"]["identity_id"], new,
                                                               cl["location"])))
            self.assert_audit(name, ["proposed"])
            # Nothing changed in the world.
            self.assertNotEqual(cl["cmk"]["key_url"], new)
        self.assertEqual(len(logged), len(self.STALE), run.stderr)
        self.assertEqual(self.fx.operation_records(), [])

    def test_dry_run_option(self):
        self.check_dry_run(self.once("--dry-run"))

    def test_mode_dry_run(self):
        self.check_dry_run(self.once(Daemon={"Mode": "dry-run"}))

    def test_dry_run_patch(self):
        self.check_dry_run(self.once("--dry-run", Policy={"UpdateMethod": "patch"}), method="PATCH")


# ==== 3. failed operations ===============================================================

class FailureTest(UpdateTest):

    def test_failed_operation_held_back(self):
        cl = self.cluster("c-stale")
        target = self.current_kid("key1")
        self.tw.add_fault(id="fail", service="arm", method="PUT", path="*/mongoClusters/c-stale", action="lro_fail",
                          code="InternalServerError", message="twin: this update fails on purpose")
        run = self.once()
        self.assertEqual(len(run.writes()), 1, run.describe())
        a = run.action("c-stale")
        self.assertEqual((a["outcome"], a["error_code"]), ("failed", "InternalServerError"), run.describe())
        self.assertIn("fails on purpose", a["error"] or "")
        self.assertGreaterEqual(run.returncode, 1)
        started, failed = self.assert_audit("c-stale", ["started", "failed"])
        self.assertEqual((failed["error_code"], failed["new_key_url"]), ("InternalServerError", target))
        self.assertIn("fails on purpose", failed["error"])
        self.assertTrue(failed["operation_id"])
        self.assertEqual(self.fx.operation_records(), [])
        self.assertEqual(self.cluster("c-stale")["cmk"]["key_url"], cl["cmk"]["key_url"])

        # The hold is a state file, keyed by cluster and target.
        with open(os.path.join(self.fx.state_dir, "update-holds.json")) as f:
            holds = json.load(f)["holds"]
        self.assertEqual([(h["cluster"], h["target"], h["failures"]) for h in holds], [(cl["id"], target, 1)])

        # A new process (a restart) right after: no second request, still failed.
        run2 = self.once()
        self.assert_no_writes(run2)
        a2 = run2.action("c-stale")
        self.assertEqual((a2["outcome"], a2["error_code"], a2["new_key_url"]), ("failed", "InternalServerError", target),
                         run2.describe())
        self.assertGreaterEqual(run2.returncode, 1)
        self.assert_audit("c-stale", ["started", "failed"])

        # Another target is another decision: the key rotates, the update goes out.
        self.tw.clear_faults()
        new = self.tw.control("rotate_key", vault=VAULT, key="key1")["kid"]
        run3 = self.once()
        # (c-current, pinned to the version before, is stale now too and gets its own PUT.)
        self.assertEqual(len(self.put_requests(run3.log, "c-stale")), 1, run3.describe())
        self.assertEqual((run3.action("c-stale")["outcome"], run3.action("c-stale")["new_key_url"]), ("succeeded", new),
                         run3.describe())

    def test_put_rejected_is_not_followed(self):
        self.tw.add_fault(id="bad", service="arm", method="PUT", action="status", status=400, code="InvalidParameter",
                          message="twin: the PUT is rejected")
        run = self.once()
        w = run.writes()
        self.assertEqual(len(w), 1, run.describe())
        self.assertEqual(w[0]["status"], 400)
        a = run.action("c-stale")
        self.assertEqual((a["outcome"], a["error_code"], a["operation_id"]), ("failed", "InvalidParameter", None),
                         run.describe())
        self.assertGreaterEqual(run.returncode, 1)
        # Nothing to follow: no operation polled, no read of the cluster after the answer.
        self.assertEqual(requests(run.log, "GET", OP_STATUS_RE + "|" + OP_RESULT_RE), [], run.describe())
        self.assertEqual([e for e in requests(run.log, "GET", cluster_path_re("c-stale")) if e["seq"] > w[0]["seq"]],
                         [], run.describe())
        _, failed = self.assert_audit("c-stale", ["started", "failed"])
        self.assertEqual(failed["error_code"], "InvalidParameter")
        # Held back like any failure.
        run2 = self.once()
        self.assert_no_writes(run2)
        self.assertEqual(run2.action("c-stale")["outcome"], "failed", run2.describe())

    def test_operation_that_never_ends(self):
        # Within UpdateTimeoutSec= (the default, 30 min; TimeLimitTest tries a short one):
        # the daemon follows the operation until SIGTERM, keeps its record, and the next
        # start resumes it.
        self.tw.add_fault(id="never", service="arm", method="PUT", action="lro_never")
        d = self.start_daemon()
        put = self.fx.wait_until(lambda: self.put_requests(self.tw.log(), "c-stale"), 30, "the PUT", d)[0]
        opid = put["operation"]
        self.fx.wait_until(lambda: len(requests(self.tw.log(), "GET", OP_STATUS_RE + re.escape(opid))) >= 2, 30,
                           "two polls of the operation", d)
        self.assertEqual(d.stop(5), 0, d.stderr)
        self.assertRegex(d.stderr, r"Stopping: 1 update\(s\) in progress are recorded")
        recs = self.fx.operation_records()
        self.assertEqual(len(recs), 1, recs)
        with open(os.path.join(self.fx.state_dir, "operations", recs[0])) as f:
            rec = json.load(f)
        self.assertEqual((rec["phase"], rec["cluster"]), ("accepted", self.cluster("c-stale")["id"]))
        self.assert_audit("c-stale", ["started"])

        # Azure finishes it while cmkd is down; the next run follows it, sends nothing.
        self.tw.control("finish_operations", force=True, outcome="Succeeded")
        run = self.once()
        self.assert_no_writes(run)
        self.assertEqual((run.action("c-stale")["outcome"], run.action("c-stale")["operation_id"]),
                         ("succeeded", opid), run.describe())
        self.assert_audit("c-stale", ["started", "resumed", "succeeded"])
        self.assertEqual(self.fx.operation_records(), [])


# ==== 3b. the time limit of an update (UpdateTimeoutSec=) =================================

class TimeLimitTest(UpdateTest):
    # Longer than one poll interval (PollIntervalSec=10s, ±10 % jitter, counted from the end of
    # the sweep that sent the request) plus a sweep, so that the second sweep falls into the
    # operation; what is asserted is the order of events, never a duration.
    LIMIT = "16s"
    GAVE_UP = r"Gave up on the update of cluster \S+/c-stale to "

    def metrics_of_sweep(self, path, n, d):
        """The metrics file as the daemon wrote it after its n-th sweep."""
        def written():
            m = read_metrics(path)
            return m if m and m["cmkd_sweeps_total"] == n else None
        return self.fx.wait_until(written, 40, "the metrics of sweep %d" % n, d)

    def updates(self, m):
        return {r: m['cmkd_updates_total{result="%s"}' % r] for r in ("succeeded", "failed", "timed-out")}

    def held(self, m):
        """The held-back updates of a metrics file: {reason: count} of the non-zero ones."""
        pre = 'cmkd_updates_held{reason="'
        return {k[len(pre):-2]: v for k, v in m.items() if k.startswith(pre) and v}

    def puts(self):
        return self.put_requests(settled_log(self.tw), "c-stale")

    def test_operation_given_up_at_the_limit(self):
        cl = self.cluster("c-stale")
        old, target = cl["cmk"]["key_url"], self.current_kid("key1")
        prom = os.path.join(self.fx.dir, "cmkd.prom")
        self.tw.add_fault(id="never", service="arm", method="PUT", path="*/mongoClusters/c-stale", action="lro_never")
        d = self.start_daemon(Policy={"UpdateTimeoutSec": self.LIMIT}, Metrics={"TextfilePath": prom})

        # Sweep 1 sends the request; Azure accepts it with an operation that never ends.
        put = self.fx.wait_until(lambda: self.put_requests(self.tw.log(), "c-stale"), 30, "the PUT", d)[0]
        opid = put["operation"]
        self.assertTrue(opid, put)
        m = self.metrics_of_sweep(prom, 1, d)
        self.assertEqual((m["cmkd_updates_in_progress"], self.updates(m)),
                         (1, {"succeeded": 0, "failed": 0, "timed-out": 0}))

        # Sweep 2, while the operation is followed: in progress, nothing sent again.
        m = self.metrics_of_sweep(prom, 2, d)
        self.assertEqual(d.lines(self.GAVE_UP), [], "sweep 2 must fall into the operation (LIMIT too short?):\n"
                         + d.stderr[-3000:])
        self.assertEqual((m["cmkd_updates_in_progress"], self.updates(m), self.held(m)),
                         (1, {"succeeded": 0, "failed": 0, "timed-out": 0}, {}))
        self.assertEqual(len(self.puts()), 1)
        self.assertEqual(len(self.fx.operation_records()), 1)

        # At the limit: given up, said clearly, the state settled before the log line.
        line = d.wait_for(self.GAVE_UP, 40)[0]
        self.assertRegex(line, re.escape(target) + r": OperationTimedOut: operation " + re.escape(opid)
                         + r" did not end within UpdateTimeoutSec=16s \(\d+ polls, last status InProgress\)\. It may"
                         r" still complete in Azure; cmkd sends no update while the cluster reads Updating.* holds this"
                         r" update back until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.$")
        self.assertEqual(self.fx.operation_records(), [])
        _, failed = self.assert_audit("c-stale", ["started", "failed"])
        self.assertEqual((failed["error_code"], failed["operation_id"], failed["old_key_url"], failed["new_key_url"]),
                         ("OperationTimedOut", opid, old, target))
        self.assertIn("UpdateTimeoutSec=16s", failed["error"])
        with open(os.path.join(self.fx.state_dir, "update-holds.json")) as f:
            holds = json.load(f)["holds"]
        self.assertEqual([(h["cluster"], h["target"], h["failures"], h["error_code"]) for h in holds],
                         [(cl["id"], target, 1, "OperationTimedOut")])
        self.assertGreater(holds[0]["retry_at"], time.time() + 1800, "held back for the first delay (1 h)")
        # cmkd stopped polling; Azure still runs the operation.
        polls = len(requests(settled_log(self.tw), "GET", OP_STATUS_RE + re.escape(opid)))
        self.assertGreater(polls, 1)
        self.assertEqual((self.cluster("c-stale")["provisioningState"], self.cluster("c-stale")["clusterStatus"]),
                         ("Updating", "Updating"))

        # Sweep 3: the cluster reads Updating: refused, nothing sent. The attempt is counted
        # once, as timed-out; the held-back update is a gauge.
        m = self.metrics_of_sweep(prom, 3, d)
        self.assertEqual((m["cmkd_updates_in_progress"], self.updates(m), self.held(m)),
                         (0, {"succeeded": 0, "failed": 0, "timed-out": 1}, {"cluster-updating": 1}))

        # Azure's operation fails at last; the cluster is back on its old key, Succeeded and
        # Ready. Sweep 4: still stale, but held back after the failure: nothing sent.
        self.assertEqual(self.tw.control("finish_operations", force=True, outcome="Failed")["finished"], 1)
        self.assertEqual((self.cluster("c-stale")["cmk"]["key_url"], self.cluster("c-stale")["clusterStatus"]),
                         (old, "Ready"))
        m = self.metrics_of_sweep(prom, 4, d)
        self.assertEqual((m["cmkd_updates_in_progress"], self.updates(m), self.held(m)),
                         (0, {"succeeded": 0, "failed": 0, "timed-out": 1}, {"backoff": 1}))
        self.assertEqual(d.stop(), 0, d.stderr)
        self.assertEqual(len(self.puts()), 1, cmkdlib.describe_log(settled_log(self.tw)))
        self.assertEqual(len(requests(settled_log(self.tw), "GET", OP_STATUS_RE + re.escape(opid))), polls,
                         "no poll after giving up")
        self.assertEqual(len(d.lines(self.GAVE_UP)), 1)
        # The refusal while it read Updating is audited (once); the backoff is not news.
        refused = self.assert_audit("c-stale", ["started", "failed", "refused"])[2]
        self.assertEqual(refused["refusal"], "cluster-updating")

        # A restart keeps the hold (a state file): the same answer, nothing sent.
        run = self.once()
        self.assert_no_writes(run)
        a = run.action("c-stale")
        self.assertEqual((a["outcome"], a["error_code"], a["operation_id"], a["old_key_url"], a["new_key_url"]),
                         ("failed", "OperationTimedOut", opid, old, target), run.describe())
        self.assertEqual(run.returncode, 1, run.describe())

        # The hold's time has come (set in its file, as if an hour had passed): exactly one
        # new request, which succeeds.
        self.tw.clear_faults()
        path = os.path.join(self.fx.state_dir, "update-holds.json")
        with open(path) as f:
            doc = json.load(f)
        doc["holds"][0]["retry_at"] = int(time.time()) - 1
        with open(path, "w") as f:
            json.dump(doc, f)
        run = self.once()
        self.assertEqual(len(self.put_requests(run.log, "c-stale")), 1, run.describe())
        self.assertEqual((run.action("c-stale")["outcome"], run.action("c-stale")["new_key_url"]), ("succeeded", target),
                         run.describe())
        self.assertEqual(self.cluster("c-stale")["cmk"]["key_url"], target)
        self.assert_audit("c-stale", ["started", "failed", "refused", "started", "succeeded"])

    def test_resumed_past_the_limit(self):
        # cmkd stops while an operation runs; it stays down longer than UpdateTimeoutSec=
        # (the record's start set back an hour): the next start polls the operation once
        # more (it might have ended) and gives up, without a new request.
        self.tw.add_fault(id="never", service="arm", method="PUT", action="lro_never")
        d = self.start_daemon()
        put = self.fx.wait_until(lambda: self.put_requests(self.tw.log(), "c-stale"), 30, "the PUT", d)[0]
        self.fx.wait_until(lambda: requests(self.tw.log(), "GET", OP_STATUS_RE + re.escape(put["operation"])), 30,
                           "a poll of the operation", d)
        self.assertEqual(d.stop(), 0, d.stderr)
        recs = self.fx.operation_records()
        self.assertEqual(len(recs), 1)
        path = os.path.join(self.fx.state_dir, "operations", recs[0])
        with open(path) as f:
            rec = json.load(f)
        self.assertEqual(rec["phase"], "accepted")
        rec["started"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
        with open(path, "w") as f:
            json.dump(rec, f)

        run = self.once(Policy={"UpdateTimeoutSec": "30min"})
        self.assert_no_writes(run)
        self.assertEqual(len(requests(run.log, "GET", OP_STATUS_RE + re.escape(put["operation"]))), 1, run.describe())
        a = run.action("c-stale")
        self.assertEqual((a["outcome"], a["error_code"], a["operation_id"]), ("failed", "OperationTimedOut",
                                                                              put["operation"]), run.describe())
        self.assertIn("UpdateTimeoutSec=30min", a["error"])
        self.assertRegex(run.stderr, self.GAVE_UP)
        self.assert_audit("c-stale", ["started", "resumed", "failed"])
        self.assertEqual(self.fx.operation_records(), [])


# ==== 4. crash safety ====================================================================

class CrashTest(UpdateTest):

    def test_kill9_during_operation(self):
        self.tw.control("set_settings", lro_delay_s=4)
        d = self.start_daemon()
        self.fx.wait_until(lambda: self.put_requests(self.tw.log(), "c-stale"), 30, "the PUT", d)
        self.assertIsNone(d.poll())
        self.assertEqual(d.kill(), -9)
        self.assertEqual(len(self.fx.operation_records()), 1, "the record of the operation in flight")
        self.assertEqual(self.cluster("c-stale")["clusterStatus"], "Updating")

        d2 = self.start_daemon()  # the restart: the same config
        d2.wait_for(r"now uses ", 40)
        new = self.current_kid("key1")
        self.assertEqual(self.cluster("c-stale")["cmk"]["key_url"], new)
        log = settled_log(self.tw)
        self.assertEqual(len(self.put_requests(log, "c-stale")), 1, cmkdlib.describe_log(log))
        self.assert_audit("c-stale", ["started", "resumed", "succeeded"])
        # Nothing left, not even the temporary file of a write the kill interrupted.
        self.assertEqual(self.fx.operation_records(temporary=True), [])
        self.assertEqual(d2.stop(5), 0)

    def test_corrupt_record_set_aside(self):
        ops = os.path.join(self.fx.state_dir, "operations")
        os.makedirs(ops, 0o700)
        bad = os.path.join(ops, "op-0123456789abcdef.json")
        with open(bad, "w") as f:
            f.write('{"version":1,"cluster":"/subscriptions/x", garbage\x00\n')
        # The temporary file of a record's write that a crash cut short: removed at start.
        tmp = os.path.join(ops, ".op-fedcba9876543210.json.Xy12Ab")
        with open(tmp, "w") as f:
            f.write('{"version":1,')
        d = self.start_daemon()
        d.wait_for(r"op-0123456789abcdef\.json is unreadable.*set aside", 20)
        self.assertFalse(os.path.exists(tmp), "the temporary file of an interrupted write is removed")
        d.wait_for(r"now uses ", 30)
        self.assertIsNone(d.poll(), "cmkd keeps running")
        self.assertFalse(os.path.exists(bad))
        aside = [n for n in os.listdir(ops) if n.startswith("op-0123456789abcdef.json.corrupt-")]
        self.assertEqual(len(aside), 1, os.listdir(ops))
        self.assertEqual(len(self.put_requests(settled_log(self.tw), "c-stale")), 1)
        self.assertEqual(d.stop(5), 0)


class CrashFleetTest(UpdateTest):
    SCENARIO = FLEET

    def test_kill9_before_request_sent(self):
        """Three stale clusters, one request at a time (MaxConcurrentRequests=1), the first
        PUT held at the twin: when it is there, all three records are on disk and two
        requests have not left cmkd. kill -9, restart: exactly one PUT per cluster."""
        names = ("c-s1", "c-s2", "c-s3")
        self.tw.add_fault(id="hold", service="arm", method="PUT", action="latency", latency_ms=3000)
        one_at_a_time = {"Network": {"MaxConcurrentRequests": "1"}}
        d = self.start_daemon(**one_at_a_time)
        self.fx.wait_until(lambda: self._fired("hold") >= 1, 30, "the first PUT at the twin", d)
        recs = self.fx.operation_records()
        self.assertEqual(d.kill(), -9)
        self.assertEqual(len(recs), 3, "three records before the first answer: %s" % recs)
        self.assertEqual(self._fired("hold"), 1, "exactly one PUT reached the twin before the kill")
        self.tw.clear_faults()

        d2 = self.start_daemon(**one_at_a_time)  # the restart: the same config
        self.fx.wait_until(lambda: all(self.cluster(n)["cmk"]["key_url"] == self.current_kid(
            self.cluster(n)["cmk"]["key_url"].split("/")[4]) and self.cluster(n)["operation"] is None
            for n in names), 60, "all three clusters on their new key", d2)
        log = settled_log(self.tw)
        for n in names:
            self.assertEqual(len(self.put_requests(log, n)), 1, "%s:\n%s" % (n, cmkdlib.describe_log(log)))
        self.fx.wait_until(lambda: len(d2.lines(r"now uses ")) >= 3, 20, "three updates done", d2)
        self.assertEqual(self.fx.operation_records(), [])
        self.assertEqual(d2.stop(5), 0)
        # The one that reached the twin was followed; the two that never left were taken
        # as not sent (no hold) and sent by a later sweep.
        trails = {}
        for n in names:
            cid = self.cluster(n)["id"]
            trails[n] = [(e["result"], e["error_code"]) for e in self.fx.audit() if e["cluster"] == cid]
        arrived = [("started", None), ("resumed", None), ("succeeded", None)]
        resent = [("started", None), ("resumed", None), ("failed", "NotSent"), ("started", None), ("succeeded", None)]
        self.assertEqual(sorted(trails.values()), sorted([arrived, resent, resent]), trails)

    def _fired(self, fid):
        for f in self.tw.state()["faults"]:
            if f["id"] == fid:
                return f["fired"]
        return 0


# ==== 6. old versions ======================================================================

class OldVersionTest(UpdateTest):

    def test_disabled_version_in_use(self):
        look = {"StaleVersion": None}  # StaleVersion=alert (the default): look only
        run = self.once(Policy=look)
        self.assertNotIn("key-disabled", [f["code"] for f in run.cluster("c-current")["findings"]])
        pinned = self.cluster("c-current")["cmk"]["key_url"].rsplit("/", 1)[1]
        self.tw.control("disable_key", vault=VAULT, key="key1", version=pinned)
        run = self.once(Policy=look)
        f = {x["code"]: x for x in run.cluster("c-current")["findings"]}
        self.assertIn("key-disabled", f, run.describe())
        self.assertEqual(f["key-disabled"]["severity"], "critical")
        self.assertEqual(run.cluster("c-current")["severity"], "critical")
        self.assertEqual(run.returncode, 2, run.describe())
        self.assert_no_writes(run)


if __name__ == "__main__":
    unittest.main()
