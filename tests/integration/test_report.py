# SPDX-License-Identifier: MIT
"""Reports as a reader gets them: the JSON against man/cmkd-report.schema.json, the CSV
with its columns, the HTML in headless Chromium (Debian's chromium) with no console error,
its DOM, and a screenshot. The report comes from build/report-driver (what `cmkd --report`
does) on data/report-fleet.json and data/report-audit.log.

The screenshot is kept at $CMKD_BUILD/report-screenshot.png. Run: make check-tell.
"""

import csv
import html.parser
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import jsonschema_lite  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.environ.get("CMKD_BUILD", os.path.join(TOP, "build"))
DRIVER = os.path.join(BUILD, "report-driver")
SCHEMA = os.path.join(TOP, "man", "cmkd-report.schema.json")
FLEET = os.path.join(HERE, "data", "report-fleet.json")
AUDIT = os.path.join(HERE, "data", "report-audit.log")
SCREENSHOT = os.path.join(BUILD, "report-screenshot.png")
CHROMIUM = shutil.which("chromium")
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
NOW = "2026-11-23T06:00:00Z"
CSV_COLUMNS = ("cluster_id,cluster_name,subscription,resource_group,location,cluster_status,provisioning_state,"
               "status,findings,key_url,key_vault,key_store,key_name,key_version_in_use,versionless,key_current_version,"
               "key_enabled,key_created,key_expires,key_age_days,days_to_expiry,action,refusal,new_key_url,"
               "operation_id,error_code").split(",")


def write_report(directory, now=NOW, keep=None):
    # The period: since the newest report in directory, else a week before now.
    argv = [DRIVER, "--dir", directory, "--now", now, "--audit", AUDIT]
    if keep is not None:
        argv += ["--keep", str(keep)]
    r = subprocess.run(argv + [FLEET], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"report-driver failed: {r.stderr}")
    return r.stdout.split()


def chromium(url, *extra, timeout=90):
    """Runs headless Chromium on url with a fresh profile; returns (rc, stdout, console lines).
    Console messages of the page (errors, CSP violations, uncaught exceptions) reach stderr
    as "...:INFO:CONSOLE(...)" lines with --enable-logging=stderr."""
    with tempfile.TemporaryDirectory(prefix="cmkd-chromium-") as profile:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra, url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    console = [l for l in r.stderr.splitlines() if ":CONSOLE" in l]
    return r.returncode, r.stdout, console


def png_info(path):
    """(width, height, color type) of a PNG, after checking its chunks' CRCs and that the
    image data inflates to the size the header announces."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = ihdr[:4]
    channels = {2: 3, 6: 4, 0: 1, 4: 2}[color]
    raw = zlib.decompress(idat)
    assert len(raw) == height * (1 + width * channels * depth // 8), "image data does not match the header"
    return width, height, color, raw


class Report(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(DRIVER, os.X_OK):
            raise RuntimeError(f"{DRIVER} is not built: run `make check-tell`")
        cls.dir = tempfile.mkdtemp(prefix="cmkd-report-")
        cls.files = write_report(cls.dir)
        with open(SCHEMA) as f:
            cls.schema = json.load(f)
        with open(os.path.join(cls.dir, "latest.json")) as f:
            cls.report = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_files(self):
        self.assertEqual(self.files, [f"cmkd-report-20261123T060000Z.{e}" for e in ("json", "csv", "html")])
        for ext in ("json", "csv", "html"):
            with open(os.path.join(self.dir, f"latest.{ext}"), "rb") as a, \
                    open(os.path.join(self.dir, f"cmkd-report-20261123T060000Z.{ext}"), "rb") as b:
                self.assertEqual(a.read(), b.read())

    def test_json_matches_schema(self):
        self.assertEqual(jsonschema_lite.validate(self.report, self.schema), [])
        r = self.report
        self.assertEqual(r["schema_version"], 1)
        self.assertEqual(r["summary"]["clusters"], 13)
        self.assertEqual((r["summary"]["critical"], r["summary"]["warning"], r["summary"]["info"],
                          r["summary"]["ok"]), (3, 4, 2, 4))
        self.assertEqual(r["clusters"][0]["status"], "critical")
        self.assertIn(HOSTILE, [c["name"] for c in r["clusters"]])
        # The week's actions: 7 in the period, the damaged line counted.
        self.assertEqual(len(r["actions"]), 7)
        self.assertEqual(r["audit"], {"entries": 7, "corrupt_lines": 1, "truncated_lines": 0, "omitted": 0})
        # Which clusters use which version: orders-eu-1 and -2 share one, the pinned
        # payments version is disabled and still used.
        by_version = {(v["key"], v["version"]): v for v in r["key_versions"]}
        shared = by_version[("https://kv-orders-eu.vault.azure.net/keys/orders-cmk", "b81f20c4a3d94d7e9f0a6b1c2d3e4f50")]
        self.assertEqual(len(shared["clusters"]), 2)
        disabled = by_version[("https://kv-payments.vault.azure.net/keys/payments", "0f1e2d3c4b5a49687766554433221100")]
        self.assertEqual((disabled["enabled"], disabled["current"]), (False, False))

    def test_schema_rejects_broken_reports(self):
        """The validator is not a rubber stamp: each of these is refused."""
        def broken(change):
            r = json.loads(json.dumps(self.report))
            change(r)
            return jsonschema_lite.validate(r, self.schema)

        cases = {
            "no schema_version": lambda r: r.pop("schema_version"),
            "schema_version 2": lambda r: r.update(schema_version=2),
            "unknown top-level field": lambda r: r.update(extra=1),
            "bad status": lambda r: r["clusters"][0].update(status="bad"),
            "count as string": lambda r: r["summary"].update(clusters="13"),
            "bool for a count": lambda r: r["summary"].update(ok=True),
            "not a date-time": lambda r: r.update(generated_at="yesterday"),
            "negative count": lambda r: r["sweep"].update(requests=-1),
            "finding without message": lambda r: next(c for c in r["clusters"] if c["findings"])["findings"][0].pop("message"),
            "unknown audit result": lambda r: r["actions"][0].update(result="done"),
            "key_versions cluster not an id": lambda r: r["key_versions"][0]["clusters"].append("c1"),
        }
        for name, change in cases.items():
            with self.subTest(name):
                self.assertTrue(broken(change), f"{name} passed validation")
        with self.assertRaises(jsonschema_lite.SchemaError):
            jsonschema_lite.validate({}, {"type": "object", "maxProperties": 3})

    def test_csv(self):
        with open(os.path.join(self.dir, "latest.csv"), newline="") as f:
            text = f.read()
        self.assertTrue(text.endswith("\r\n"))
        rows = list(csv.reader(io.StringIO(text)))
        self.assertEqual(rows[0], CSV_COLUMNS)
        self.assertEqual(len(rows), 1 + 13)
        self.assertTrue(all(len(r) == len(CSV_COLUMNS) for r in rows))
        by_name = {r[1]: dict(zip(CSV_COLUMNS, r)) for r in rows[1:]}
        self.assertIn(HOSTILE, by_name)  # quoted and doubled quotes: back whole
        self.assertEqual(by_name[HOSTILE]["action"], "failed")
        p = by_name["payments-eu-1"]
        self.assertEqual((p["status"], p["key_enabled"], p["days_to_expiry"], p["versionless"]),
                         ("critical", "false", "-4", "false"))
        self.assertEqual(p["findings"], "key-disabled:critical;key-expired:critical;cluster-inaccessible:critical")
        for r in by_name.values():
            if r["key_age_days"]:
                int(r["key_age_days"])

    def test_html_in_chromium(self):
        if not CHROMIUM:
            raise RuntimeError("chromium is not installed (Debian package chromium)")
        url = "file://" + os.path.join(self.dir, "latest.html")
        if os.path.exists(SCREENSHOT):
            os.unlink(SCREENSHOT)
        rc, _, console = chromium(url, f"--screenshot={SCREENSHOT}", "--window-size=1280,2000")
        self.assertEqual(rc, 0)
        self.assertEqual(console, [], "the page logged to the console")
        width, height, _, _ = png_info(SCREENSHOT)
        self.assertEqual((width, height), (1280, 2000))
        # Not a blank or half-drawn page: ten times the size of a page that says "hello"
        # (which compresses to about 12 kB at this size; the report to about 350 kB).
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "blank.html"), "w") as f:
                f.write('<!DOCTYPE html><meta charset="utf-8"><title>blank</title><p>hello')
            chromium("file://" + os.path.join(d, "blank.html"), f"--screenshot={d}/blank.png",
                     "--window-size=1280,2000")
            self.assertGreater(os.path.getsize(SCREENSHOT), 10 * os.path.getsize(f"{d}/blank.png"))

    def test_console_detector_works(self):
        """The check above would see a script error, a console.error and a blocked fetch."""
        if not CHROMIUM:
            raise RuntimeError("chromium is not installed (Debian package chromium)")
        with tempfile.TemporaryDirectory() as d:
            bad = os.path.join(d, "bad.html")
            with open(bad, "w") as f:
                f.write('<!DOCTYPE html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" '
                        'content="default-src \'none\'; script-src \'unsafe-inline\'"><title>t</title>'
                        '<img src="http://127.0.0.1:9/x.png"><script>console.error("e"); nosuch();</script>')
            rc, _, console = chromium("file://" + bad, "--dump-dom")
        self.assertEqual(len(console), 3, console)

    def test_dom(self):
        """What the browser built: no script element, the hostile name as text, every
        cluster a row, the chart there."""
        if not CHROMIUM:
            raise RuntimeError("chromium is not installed (Debian package chromium)")
        rc, dom, console = chromium("file://" + os.path.join(self.dir, "latest.html"), "--dump-dom")
        self.assertEqual((rc, console), (0, []))

        class Walk(html.parser.HTMLParser):
            def __init__(self):
                super().__init__()
                self.tags, self.rows, self.text, self.classes, self.handlers = [], 0, [], [], []

            def handle_starttag(self, tag, attrs):
                self.tags.append(tag)
                a = dict(attrs)
                if tag == "tr" and a.get("class") in ("critical", "warning", "info", "ok"):
                    self.rows += 1
                    self.classes.append(a["class"])
                self.handlers += [f"{tag} {k}" for k in a if k.startswith("on")]

            def handle_data(self, data):
                self.text.append(data)

        w = Walk()
        w.feed(dom)
        self.assertEqual(w.handlers, [])
        self.assertNotIn("script", w.tags)
        self.assertNotIn("img", w.tags)
        self.assertIn("svg", w.tags)
        self.assertIn(HOSTILE, "".join(w.text))
        # 13 clusters, plus the key-version rows.
        self.assertEqual(w.classes[:13].count("critical"), 3)
        self.assertGreaterEqual(w.rows, 13 + len(self.report["key_versions"]))

    def test_prune_keeps_newest(self):
        with tempfile.TemporaryDirectory() as d:
            for day in range(20, 24):
                write_report(d, now=f"2026-11-{day}T06:00:00Z", keep=2)
            names = sorted(os.listdir(d))
            self.assertEqual(names, sorted(
                [f"cmkd-report-202611{day}T060000Z.{e}" for day in (22, 23) for e in ("csv", "html", "json")]
                + ["latest.csv", "latest.html", "latest.json"]))


if __name__ == "__main__":
    unittest.main()
