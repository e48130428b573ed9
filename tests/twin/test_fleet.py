# The fleet generator and the twin under load: genfleet.py is deterministic and makes the
# sizes asked for; the twin serves a 10,000-cluster fleet (1,000 keys in 50 vaults, 200
# identities) with added latency to 64 concurrent connections without an error. Timings
# are printed as bench output only; no assertion depends on them.

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import twin_testutil as tu

GEN = os.path.join(tu.HERE, "genfleet.py")
PY = sys.executable or "/usr/bin/python3"
CONC = 64
PER_THREAD = 12


def gen(*args):
    return subprocess.run([PY, GEN] + list(args), capture_output=True, check=True).stdout


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Generator(unittest.TestCase):
    def test_deterministic_and_sized(self):
        a = gen("--clusters", "300", "--seed", "5")
        self.assertEqual(a, gen("--clusters", "300", "--seed", "5"))
        self.assertNotEqual(a, gen("--clusters", "300", "--seed", "6"))
        sc = json.loads(a)
        self.assertEqual(len(sc["clusters"]), 300)
        self.assertEqual(len(sc["subscriptions"]), 10)
        self.assertEqual(len(sc["vaults"]), 50)
        self.assertEqual(sum(len(v["keys"]) for v in sc["vaults"]), 1000)
        self.assertEqual(len(sc["identities"]), 200)
        kinds = {"smk": 0, "versionless": 0, "pinned": 0}
        for c in sc["clusters"]:
            if "cmk" not in c:
                kinds["smk"] += 1
            elif "version" in c["cmk"]:
                kinds["pinned"] += 1
            else:
                kinds["versionless"] += 1
        self.assertTrue(all(kinds.values()), kinds)
        self.assertTrue(any("replica_of" in c for c in sc["clusters"]))
        r = subprocess.run([PY, GEN, "--vaults", "0"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)


class Load(unittest.TestCase):
    def test_full_fleet_under_64_connections_with_latency(self):
        d = tempfile.mkdtemp(prefix="twin-fleet-")
        path = os.path.join(d, "fleet.json")
        t0 = time.time()
        with open(path, "wb") as f:
            f.write(gen("--seed", "1"))
        t_gen = time.time() - t0
        t0 = time.time()
        with tu.start(path, latency_ms=5) as tw:
            t_start = time.time() - t0
            st = tw.state()
            self.assertEqual(len(st["clusters"]), 10000)
            self.assertEqual(sum(len(v["keys"]) for v in st["vaults"]), 1000)
            subs = [s["id"] for s in st["subscriptions"]]
            vaults = [(v["host"], [k["name"] for k in v["keys"] if not k["deleted"]]) for v in st["vaults"]]
            clusters = [(c["subscription"], c["resource_group"], c["name"]) for c in st["clusters"]]
            tok = tw.token()
            kvt = tw.token("https://vault.azure.net")
            # one full sweep of the fleet's cluster lists, sequential
            t0 = time.time()
            n = pages = 0
            for s in subs:
                url = "%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?api-version=2025-09-01" \
                      % (tu.ARM, s)
                while url:
                    r = tw.get(url, token=tok)
                    self.assertEqual(r.status, 200, r.body[:200])
                    b = r.json()
                    n += len(b["value"])
                    pages += 1
                    url = b.get("nextLink")
            t_list = time.time() - t0
            self.assertEqual(n, 10000)
            errors, statuses = [], []
            lock = threading.Lock()

            def worker(i):
                try:
                    for j in range(PER_THREAD):
                        k = i * PER_THREAD + j
                        sub, rg, name = clusters[(k * 37) % len(clusters)]
                        host, keys = vaults[k % len(vaults)]
                        if j % 3 == 0:
                            r = tw.get(tu.cluster_url(name, rg=rg, sub=sub), token=tok)
                        elif j % 3 == 1:
                            r = tw.get("https://%s/keys/%s?api-version=7.6" % (host, keys[k % len(keys)]),
                                       token=kvt)
                        else:
                            r = tw.get("%s/subscriptions/%s/providers/Microsoft.DocumentDB/mongoClusters?"
                                       "api-version=2025-09-01" % (tu.ARM, subs[k % len(subs)]), token=tok)
                        with lock:
                            statuses.append(r.status)
                except Exception as e:  # collected and asserted below
                    with lock:
                        errors.append(repr(e))

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(CONC)]
            t0 = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            t_conc = time.time() - t0
            self.assertFalse(any(t.is_alive() for t in threads), "workers still running after 120 s")
            self.assertEqual(errors, [])
            self.assertEqual(len(statuses), CONC * PER_THREAD)
            forbidden = statuses.count(403)
            # firewalled vaults (Deny, no loopback rule) answer 403 ForbiddenByFirewall; nothing else may fail
            self.assertEqual(set(statuses) - {200, 403}, set(), statuses)
            self.assertTrue(tw.health()["ok"])
            rss = rss_kib(tw.pid)
            print("\nbench: genfleet %.2fs (%d KiB); twin start+load %.2fs, RSS %d MiB; sequential list of 10,000 "
                  "clusters in %d pages %.2fs; %d concurrent connections x %d requests with 5 ms latency %.2fs "
                  "(%.0f req/s, %d x 403 firewall)"
                  % (t_gen, os.path.getsize(path) // 1024, t_start, rss // 1024, pages, t_list, CONC, PER_THREAD,
                     t_conc, CONC * PER_THREAD / t_conc, forbidden))
        os.unlink(path)
        os.rmdir(d)


if __name__ == "__main__":
    unittest.main()
