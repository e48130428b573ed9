#!/usr/bin/python3
# The twin: one program that imitates Azure Resource Manager, Key Vault, Microsoft Entra
# ID and the managed-identity endpoint (IMDS) on loopback, from a JSON scenario, so that
# cmkd and the official SDKs can be tested without Azure. One TLS listener serves every
# HTTPS host (routed by Host), a plain-HTTP listener serves IMDS; both serve the control
# API under /_twin/ to loopback peers only. Python 3 standard library only.
#
#   python3 tests/twin/twin.py --scenario FILE [--port N] [--http-port N] [--pki DIR]
#
# When ready it prints one JSON line {"port","http_port","ca_file","pid"} and runs until
# SIGTERM/SIGINT (exit 0). A bad scenario exits 2 with a message naming the problem.

import argparse
import collections
import copy
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tw_arm import Arm  # noqa: E402
from tw_auth import handle_entra, handle_imds, lookup_token  # noqa: E402
from tw_common import classify_host, glob_match, jdump  # noqa: E402
from tw_http import Response, TwinServer, json_response  # noqa: E402
from tw_kv import Kv  # noqa: E402
from tw_world import CONTROL_OPS, ControlError, ScenarioError, World  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LOGGED_HEADERS = ("content-type", "accept", "x-ms-client-request-id", "x-ms-return-client-request-id", "metadata",
                  "if-match", "if-none-match", "x-ms-useragent", "x-ms-command-name", "client-request-id",
                  "x-client-sku", "x-client-ver", "accept-encoding", "content-length", "connection")
REDACT_FORM = ("client_secret", "client_assertion", "assertion", "password", "refresh_token")
LOG_BODY_MAX = 65536


class App:
    def __init__(self, world, global_latency_ms=0):
        self.w = world
        self.arm = Arm(world)
        self.kv = Kv(world)
        self.global_latency_ms = global_latency_ms
        self.log = collections.deque(maxlen=world.log_max)
        self.seq = 0
        self.seq_pending = set()  # numbered (answer on its way) but not yet in self.log
        self.log_lock = threading.Lock()
        self.started = time.time()
        self.served = 0

    # --- dispatch ----------------------------------------------------------------------

    def handle(self, req):
        if req.path.startswith("/_twin/") or req.path == "/_twin":
            req.service = "control"
            return self.control(req)
        w = self.w
        if req.listener == "http":
            req.service = "imds" if req.path.startswith("/metadata/") else None
            req.cloud = "AzurePublicCloud"
            req.vault_name = None
        else:
            req.service, req.cloud, req.vault_name = classify_host(req.host)
        if req.service is None:
            return json_response(404, {"error": {"code": "UnknownHost", "message": "The twin does not serve host "
                                                 "'%s' on this listener (%s)." % (req.host, req.listener)}})
        with w.lock:
            t = w.now()
            w.tick(t)
            lookup_token(w, req)
            latency, fault = self._pick_faults(req)
        latency += self.global_latency_ms + float(w.settings.get("latency_ms") or 0)
        if latency > 0:
            req.log_extra["added_latency_ms"] = latency
            time.sleep(latency / 1000.0)
        if fault is not None:
            req.log_extra["fault"] = fault.id or fault.action
            pre = self._pre_fault(req, fault)
            if pre is not None:
                return pre
        with w.lock:
            t = w.now()
            if req.service == "arm":
                resp = self.arm.handle(req, t)
            elif req.service in ("kv", "hsm"):
                resp = self.kv.handle(req, t)
            elif req.service == "entra":
                resp = handle_entra(w, req, t)
            else:
                resp = handle_imds(w, req, t)
        if fault is not None:
            resp = self._post_fault(req, fault, resp)
        return resp

    # --- faults ------------------------------------------------------------------------

    def _pick_faults(self, req):
        latency = 0.0
        chosen = None
        pname = req.principal.name if req.principal else None
        for f in self.w.faults:
            if f.service and f.service != req.service:
                continue
            if f.host and not glob_match(f.host, req.host):
                continue
            if f.path and not glob_match(f.path, req.path):
                continue
            if f.method and f.method.upper() != req.method:
                continue
            if f.principal and f.principal != pname:
                continue
            f.matched += 1
            m = f.matched - (f.after or 0)
            if m <= 0:
                continue
            if f.nth is not None and m != f.nth:
                continue
            if f.every and m % f.every:
                continue
            if f.first is not None and m > f.first:
                continue
            if f.count is not None and f.fired >= f.count:
                continue
            if f.rate is not None and self.w.rng.random() >= f.rate:
                continue
            if f.action == "latency":
                f.fired += 1
                latency += float(f.params.get("latency_ms", 100))
                req.log_extra.setdefault("latency_faults", []).append(f.id or "latency")
                continue
            if chosen is None:
                f.fired += 1
                latency += float(f.params.get("latency_ms", 0))
                chosen = f
        return latency, chosen

    def _service_error(self, req, status, code, message, retry_after=None):
        hdrs = [("Retry-After", str(retry_after))] if retry_after is not None else []
        if req.service in ("entra",):
            body = {"error": "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request",
                    "error_description": "AADSTS%d: %s" % ({429: 50196}.get(status, 90033), message),
                    "error_codes": [{429: 50196}.get(status, 90033)]}
        elif req.service == "imds":
            body = {"error": "unknown" if status >= 500 else "too_many_requests" if status == 429 else "bad_request",
                    "error_description": message}
        else:
            body = {"error": {"code": code, "message": message}}
        return json_response(status, body, hdrs)

    def _pre_fault(self, req, f):
        a = f.action
        p = f.params
        if a == "reset":
            r = Response(0)
            r.mode = "reset"
            return r
        if a == "close":
            r = Response(0)
            r.mode = "close"
            return r
        if a == "status":
            status = int(p.get("status", 500))
            if "body" in p:
                body = p["body"]
                r = Response(status, body.encode() if isinstance(body, str) else jdump(body),
                             content_type=p.get("content_type", "application/json; charset=utf-8"))
                if p.get("retry_after") is not None:
                    r.add("Retry-After", int(p["retry_after"]))
                return r
            if p.get("html"):
                r = Response(status, b"<html><head><title>%d</title></head><body>The service is unavailable.</body>"
                                     b"</html>" % status, content_type="text/html")
                return r
            code = {500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
                    504: "GatewayTimeout"}.get(status, "TwinInjectedFault")
            return self._service_error(req, status, p.get("code", code),
                                       p.get("message", "The twin injected this %d (fault '%s')." % (status, f.id)),
                                       p.get("retry_after"))
        if a == "throttle":
            ra = int(p.get("retry_after", 1))
            if req.service == "arm":
                r = self._service_error(req, 429, "SubscriptionRequestsThrottled", "Number of 'read' requests for "
                                        "subscription exceeded. Please try again after '%d' seconds after additional "
                                        "tokens are available. Refer to https://aka.ms/arm-throttling" % ra, ra)
                r.add("x-ms-ratelimit-remaining-subscription-reads", 0)
                return r
            if req.service in ("kv", "hsm"):
                return self._service_error(req, 429, "Throttled", "Request was not processed because too many "
                                           "requests were received. Reason: VaultRequestTypeLimitReached", ra)
            return self._service_error(req, 429, "TooManyRequests", "Too many requests.", ra)
        if a in ("lro_never", "lro_fail"):
            if a == "lro_never":
                req.lro_override = ("Never", None, None)
            else:
                req.lro_override = ("Failed", {"code": p.get("code", "InternalServerError"),
                                               "message": p.get("message", "The operation failed (fault '%s')."
                                                                % (f.id or "lro_fail"))},
                                    int(p.get("status", 500)))
            return None
        return None

    def _post_fault(self, req, f, resp):
        a = f.action
        p = f.params
        if a == "truncate":
            resp.mode = "truncate"
            resp.mode_args = {"bytes": p.get("bytes")}
        elif a == "slow_body":
            resp.mode = "slow"
            resp.mode_args = {k: p[k] for k in ("chunk_bytes", "delay_ms", "bytes_per_s", "max_s") if k in p}
        elif a == "malformed_json":
            body = resp.body or b""
            resp.body = body[: len(body) // 2] if len(body) > 2 else b'{"error":'
            resp.content_type = resp.content_type or "application/json; charset=utf-8"
        elif a == "wrong_types" and resp.obj is not None:
            obj = copy.deepcopy(resp.obj)
            fields = p.get("fields")
            if fields:
                for fld in fields:
                    obj = _mutate_path(obj, fld.split("."))
            else:
                obj = _mutate_leaves(obj)
            resp.obj = obj
            resp.body = jdump(obj)
        elif a == "huge_body":
            size = int(p.get("size_bytes", 32 * 1024 * 1024))
            obj = resp.obj if isinstance(resp.obj, dict) else {}
            base = jdump(obj)
            pad = max(0, size - len(base) - 20)
            resp.body = base[:-1] + (b"," if len(base) > 2 else b"") + b'"twinPadding":"' + b"x" * pad + b'"}' \
                if base.endswith(b"}") else b'{"twinPadding":"' + b"x" * pad + b'"}'
            resp.content_type = "application/json; charset=utf-8"
        elif a == "wrong_content_type":
            resp.content_type = p.get("content_type", "text/plain")
            resp.headers = [(k, v) for k, v in resp.headers if k.lower() != "content-type"]
        elif a == "empty_body":
            resp.body = b""
        return resp

    # --- log ---------------------------------------------------------------------------

    def number(self, req):
        """Gives req its place in the log just before its answer is written, so that the
        log's order is the order of the answers: a request a client makes because of an
        answer always comes after it (recorded only once written, it could come before)."""
        if req.service == "control":
            return
        with self.log_lock:
            self.seq += 1
            req.log_seq = self.seq
            self.seq_pending.add(self.seq)

    def unnumber(self, req):
        if req.log_seq is not None:
            with self.log_lock:
                self.seq_pending.discard(req.log_seq)

    def log_complete_seq(self):
        """The last seq up to which every numbered request is in the log (log_lock held)."""
        return min(self.seq_pending) - 1 if self.seq_pending else self.seq

    def after(self, req, resp):
        if req.service == "control":
            return
        self.served += 1
        hdrs = {}
        for k in LOGGED_HEADERS:
            v = req.headers.get(k)
            if v is not None:
                hdrs[k] = v
        auth = req.headers.get("Authorization")
        scheme = "none"
        if auth:
            scheme = auth.split(None, 1)[0].lower() if auth.strip() else "empty"
            if scheme not in ("bearer", "basic", "pop"):
                scheme = "other"
        body = None
        if req.body:
            raw = req.body[:LOG_BODY_MAX]
            ct = (req.headers.get("Content-Type") or "").lower()
            if "x-www-form-urlencoded" in ct:
                import urllib.parse
                try:
                    form = dict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                    body = {k: ("<redacted>" if k in REDACT_FORM else v) for k, v in form.items()}
                except UnicodeDecodeError:
                    body = "<undecodable form>"
            else:
                try:
                    body = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    body = raw.decode("utf-8", "replace")
        rec = req.token_rec
        query = dict(req.query)
        status = resp.status if resp.mode not in ("reset", "close") else 0
        entry = {"time": time.time(), "twin_time": self.w.now(), "listener": req.listener, "service": req.service,
                 "method": req.method, "host": req.host, "path": req.path, "query": query, "status": status,
                 "principal": req.principal.name if req.principal else None,
                 "principal_id": rec.oid if rec else None,
                 "audience": rec.aud if rec else None,
                 "user_agent": req.headers.get("User-Agent"), "headers": hdrs, "body": body,
                 "auth": scheme,
                 "error_code": resp.error_code,
                 "duration_ms": round((time.time() - req.t_start) * 1000.0, 2)}
        if resp.mode:
            entry["transport"] = resp.mode
        for k in ("Retry-After", "Location", "Azure-AsyncOperation"):
            v = resp.get(k)
            if v is not None:
                entry.setdefault("response_headers", {})[k.lower()] = v
        for k, v in resp.headers:
            if k.lower().startswith("x-ms-ratelimit-remaining"):
                entry.setdefault("response_headers", {})[k.lower()] = v
        entry.update(req.log_extra)
        with self.log_lock:
            seq = getattr(req, "log_seq", None)  # None: test_scenario_fuzz calls after() directly
            if seq is None:
                self.seq += 1
                seq = self.seq
            self.seq_pending.discard(seq)
            entry["seq"] = seq
            # kept as compact JSON: a third of the memory of the dict (200k entries ~ 150 MB)
            self.log.append((seq, jdump(entry)))

    # --- control API --------------------------------------------------------------------

    def control(self, req):
        try:
            peer_ok = ipaddress.ip_address(req.peer.split("%")[0]) in ipaddress.ip_network("127.0.0.0/8")
        except ValueError:
            peer_ok = False
        if not peer_ok:
            return json_response(403, {"error": "the control API answers loopback peers only"})
        p = req.path.rstrip("/")
        w = self.w
        if req.method == "GET" and p == "/_twin/health":
            with self.log_lock:
                log_seq = self.log_complete_seq()
            return json_response(200, {"ok": True, "pid": os.getpid(), "uptime_s": round(time.time() - self.started,
                                                                                       3),
                                       "served": self.served, "log_seq": log_seq, "twin_time": w.now(),
                                       "clusters": len(w.clusters), "vaults": len(w.vaults),
                                       "identities": len(w.identities)})
        if req.method == "GET" and p == "/_twin/log":
            try:
                since = int(req.query.get("since", "0"))
                limit = int(req.query.get("limit", "0"))
            except ValueError:
                return json_response(400, {"error": "since and limit must be integers"})
            # Only the complete prefix: an answer still being written is left for the next
            # read, so that readers going on from last_seq miss nothing.
            with self.log_lock:
                last = self.log_complete_seq()
                items = [e for seq, e in sorted(self.log, key=lambda x: x[0]) if since < seq <= last]
            if limit > 0:
                items = items[:limit]
            body = b'{"requests":[' + b",".join(items) + b'],"last_seq":%d}' % last
            return Response(200, body, content_type="application/json; charset=utf-8")
        if req.method == "POST" and p == "/_twin/log/clear":
            with self.log_lock:
                n = len(self.log)
                self.log.clear()
            return json_response(200, {"cleared": n, "last_seq": self.seq})
        if req.method == "GET" and p == "/_twin/state":
            with w.lock:
                t = w.now()
                w.tick(t)
                return json_response(200, w.state_json(t))
        if req.method == "GET" and p == "/_twin/tokens":
            # The only place tokens leave the twin: so that secret-hygiene tests can search
            # a client's outputs for every token it was given. Loopback peers only, like
            # the whole control API; never logged.
            with w.lock:
                return json_response(200, w.tokens_json(req.query.get("principal") or None))
        if req.method == "GET" and p == "/_twin/ops":
            return json_response(200, {"ops": CONTROL_OPS})
        if req.method == "POST" and p == "/_twin/control":
            try:
                body = req.json_body()
            except ValueError as e:
                return json_response(400, {"error": "the body must be JSON: %s" % e})
            with w.lock:
                t = w.now()
                w.tick(t)
                try:
                    res = w.control(body, t)
                except ControlError as e:
                    return json_response(400, {"error": str(e)})
            out = {"ok": True}
            out.update(res)
            return json_response(200, out)
        return json_response(404, {"error": "unknown control endpoint %s %s (GET /_twin/health, GET /_twin/log, "
                                            "POST /_twin/log/clear, GET /_twin/state, GET /_twin/tokens, "
                                            "GET /_twin/ops, "
                                            "POST /_twin/control)" % (req.method, req.path)})


def _mutate(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return 12345
    if v is None:
        return 0
    if isinstance(v, list):
        return {"items": v}
    if isinstance(v, dict):
        return [v]
    return v


def _mutate_leaves(o):
    if isinstance(o, dict):
        return {k: _mutate_leaves(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_mutate_leaves(v) for v in o]
    return _mutate(o)


def _mutate_path(o, path):
    if not path:
        return _mutate(o)
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(o, list):
        return [_mutate_path(x, rest) for x in o]
    if isinstance(o, dict) and head in o:
        o = dict(o)
        o[head] = _mutate_path(o[head], rest)
    return o


# --- start-up -------------------------------------------------------------------------

def load_scenario(path):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ScenarioError("%s: cannot read: %s" % (path, e.strerror))
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError("%s: not UTF-8 text" % path)
    except json.JSONDecodeError as e:
        raise ScenarioError("%s: invalid JSON at line %d column %d: %s" % (path, e.lineno, e.colno, e.msg))
    return World(data, source=path)


def make_pki(pki_dir):
    """Returns (ca.pem, server.pem, server.key, dir to remove at exit or None)."""
    cleanup = None
    if pki_dir is None:
        pki_dir = tempfile.mkdtemp(prefix="twin-pki-")
        cleanup = pki_dir
    files = [os.path.join(pki_dir, n) for n in ("ca.pem", "server.pem", "server.key")]
    if not all(os.path.exists(f) for f in files):
        r = subprocess.run(["/bin/sh", os.path.join(HERE, "mkca.sh"), pki_dir], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("mkca.sh failed (%d): %s" % (r.returncode, r.stderr.strip()))
    return os.path.abspath(files[0]), files[1], files[2], cleanup


def main(argv=None):
    ap = argparse.ArgumentParser(description="Azure twin for cmkd tests (ARM, Key Vault, Entra ID, IMDS).")
    ap.add_argument("--scenario", required=True, help="scenario JSON file")
    ap.add_argument("--port", type=int, default=0, help="HTTPS port (0 = any free port)")
    ap.add_argument("--http-port", type=int, default=0, help="plain HTTP (IMDS) port (0 = any free port)")
    ap.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    ap.add_argument("--pki", help="directory with ca.pem, server.pem, server.key (made by mkca.sh if missing)")
    ap.add_argument("--latency-ms", type=float, default=0, help="latency added to every answer")
    ap.add_argument("--check", action="store_true", help="validate the scenario and exit")
    args = ap.parse_args(argv)

    try:
        world = load_scenario(args.scenario)
    except ScenarioError as e:
        print("twin: scenario error: %s" % e, file=sys.stderr)
        return 2
    except Exception as e:  # a loader bug must still name the file and exit 2
        print("twin: scenario error: %s: cannot load: %r" % (args.scenario, e), file=sys.stderr)
        return 2
    if args.check:
        print(json.dumps({"ok": True, "clusters": len(world.clusters), "vaults": len(world.vaults),
                          "identities": len(world.identities), "principals": len(world.principals)}))
        return 0
    try:
        ca, cert, key, cleanup = make_pki(args.pki)
    except (RuntimeError, OSError) as e:
        print("twin: cannot make the test PKI: %s" % e, file=sys.stderr)
        return 1
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    app = App(world, args.latency_ms)
    try:
        https = TwinServer((args.bind, args.port), app, "https", ctx)
        http = TwinServer((args.bind, args.http_port), app, "http")
    except OSError as e:
        print("twin: cannot listen: %s" % e, file=sys.stderr)
        return 1
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
               for s in (https, http)]
    for th in threads:
        th.start()
    sys.stdout.write(json.dumps({"port": https.server_address[1], "http_port": http.server_address[1],
                                 "ca_file": ca, "pid": os.getpid()}) + "\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    for s in (https, http):
        s.shutdown()
        s.server_close()
    if cleanup:
        shutil.rmtree(cleanup, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
