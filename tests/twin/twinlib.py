# Python client library for tests that use the twin: starts twin.py as a subprocess,
# reads its ready line, drives the control API, and sends HTTPS/HTTP requests to the
# real Azure host names mapped to loopback with the test CA verified (like curl's
# --connect-to). Standard library only.
#
#   from twinlib import Twin
#   with Twin("tests/twin/scenarios/basic.json") as tw:
#       tok = tw.token("https://management.azure.com/")
#       r = tw.get("https://management.azure.com/subscriptions?api-version=2022-12-01", token=tok)
#       tw.control("disable_key", vault="kv-rbac", key="key1")

import base64
import http.client
import json
import os
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
TWIN = os.path.join(HERE, "twin.py")
IMDS_HOST = "169.254.169.254"
ARM = "https://management.azure.com"


class TwinError(Exception):
    pass


class HTTPResponse:
    """status, headers (list of (name, value)), body (bytes); header(name); json()."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return default

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<HTTPResponse %d %r>" % (self.status, self.body[:200])


class _TLSConn(http.client.HTTPSConnection):
    """HTTPS to a real host name, connected to a loopback port; SNI and certificate
    checks use the real name."""

    def __init__(self, host, target_port, ctx, timeout):
        super().__init__(host, 443, context=ctx, timeout=timeout)
        self._target = ("127.0.0.1", target_port)

    def connect(self):
        sock = socket.create_connection(self._target, self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PlainConn(http.client.HTTPConnection):
    def __init__(self, host, target_port, timeout):
        super().__init__(host, 80, timeout=timeout)
        self._target = ("127.0.0.1", target_port)

    def connect(self):
        self.sock = socket.create_connection(self._target, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def make_assertion(issuer, subject, audience="api://AzureADTokenExchange", lifetime_s=3600, now=None):
    """A federated-credential assertion (unsigned JWT look-alike) the twin accepts when the
    app's scenario entry names this issuer and subject."""
    now = int(now or time.time())

    def enc(o):
        return base64.urlsafe_b64encode(json.dumps(o, separators=(",", ":")).encode()).rstrip(b"=").decode()

    return "%s.%s.%s" % (enc({"alg": "RS256", "typ": "JWT"}),
                         enc({"iss": issuer, "sub": subject, "aud": audience, "iat": now, "nbf": now,
                              "exp": now + lifetime_s}),
                         base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode())


class Twin:
    """A running twin. Scenario: a path or a dict. Options: port, http_port (0 = any),
    pki (directory for the test CA), latency_ms, extra_args, ready_timeout, python."""

    def __init__(self, scenario, port=0, http_port=0, pki=None, latency_ms=None, extra_args=(),
                 ready_timeout=30.0, python=None, request_timeout=30.0):
        self._tmp = tempfile.mkdtemp(prefix="twinlib-")
        if isinstance(scenario, dict):
            self.scenario_path = os.path.join(self._tmp, "scenario.json")
            with open(self.scenario_path, "w") as f:
                json.dump(scenario, f)
            self.scenario = scenario
        else:
            self.scenario_path = os.path.abspath(scenario)
            with open(self.scenario_path) as f:
                self.scenario = json.load(f)
        self.request_timeout = request_timeout
        cmd = [python or sys.executable or "/usr/bin/python3", TWIN, "--scenario", self.scenario_path,
               "--port", str(port), "--http-port", str(http_port)]
        if pki:
            cmd += ["--pki", pki]
        if latency_ms:
            cmd += ["--latency-ms", str(latency_ms)]
        cmd += list(extra_args)
        self._stderr = open(os.path.join(self._tmp, "twin.stderr"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL)
        self._conns = threading.local()
        self._all_conns = []
        self._answered = 0  # requests of ours the twin answered (see log())
        self._conns_lock = threading.Lock()
        try:
            line = self._read_ready(ready_timeout)
            try:
                ready = json.loads(line)
                self.port, self.http_port = int(ready["port"]), int(ready["http_port"])
                self.ca_file, self.pid = ready["ca_file"], int(ready["pid"])
            except (ValueError, KeyError, TypeError):
                raise TwinError("twin printed a bad ready line %r; stderr:\n%s" % (line, self._stderr_text()))
        except BaseException:
            self._kill()
            self.proc.stdout.close()
            self._stderr.close()
            import shutil
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        self._ctx = ssl.create_default_context(cafile=self.ca_file)
        self._principals = None

    # --- process -------------------------------------------------------------------------

    def _stderr_text(self):
        try:
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read()[-8000:]
        except (OSError, ValueError):
            return ""

    def _read_ready(self, timeout):
        deadline = time.time() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.time()
            if left <= 0:
                raise TwinError("twin not ready after %.0f s; stderr:\n%s" % (timeout, self._stderr_text()))
            r, _, _ = select.select([fd], [], [], min(left, 0.5))
            if r:
                chunk = os.read(fd, 4096)
                if not chunk:
                    code = self.proc.wait(5)
                    raise TwinError("twin exited with status %s before it was ready; stderr:\n%s"
                                    % (code, self._stderr_text()))
                buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit status (None if it had to be killed)."""
        with self._conns_lock:
            for c in self._all_conns:
                c.close()
            self._all_conns = []
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                code = None
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        import shutil
        shutil.rmtree(self._tmp, ignore_errors=True)
        return code

    def stderr(self):
        return self._stderr_text()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- requests ------------------------------------------------------------------------

    def _conn(self, scheme, host, fresh=False):
        pool = getattr(self._conns, "pool", None)
        if pool is None:
            pool = self._conns.pool = {}
        key = (scheme, host)
        c = pool.get(key)
        if c is None or fresh:
            if c is not None:
                c.close()
                with self._conns_lock:
                    if c in self._all_conns:
                        self._all_conns.remove(c)
            if scheme == "https":
                c = _TLSConn(host, self.port, self._ctx, self.request_timeout)
            else:
                c = _PlainConn(host, self.http_port if host == IMDS_HOST else self.http_port, self.request_timeout)
            pool[key] = c
            with self._conns_lock:
                self._all_conns.append(c)
        return c

    def request(self, method, url, headers=None, body=None, json_body=None, token=None, form=None, retry=True):
        """Sends one request to a real Azure URL (or http://169.254.169.254/...) through the
        twin. Returns HTTPResponse. Reuses one keep-alive connection per host and thread;
        with retry (default) a reused connection found closed is retried once on a new one
        (pass retry=False when testing connection faults)."""
        u = urllib.parse.urlsplit(url)
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = "Bearer " + token
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if isinstance(body, str):
            body = body.encode()
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        for attempt in (0, 1):
            c = self._conn(u.scheme, u.hostname, fresh=attempt > 0)
            reused = c.sock is not None
            try:
                c.request(method, path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
                resp = HTTPResponse(r.status, r.getheaders(), data)
                with self._conns_lock:
                    self._answered += 1
                if r.will_close:
                    c.close()
                return resp
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                c.close()
                if attempt or not retry or not reused:
                    raise
            except Exception:
                c.close()
                raise

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def put(self, url, **kw):
        return self.request("PUT", url, **kw)

    def patch(self, url, **kw):
        return self.request("PATCH", url, **kw)

    def post(self, url, **kw):
        return self.request("POST", url, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)

    # --- tokens ----------------------------------------------------------------------------

    def principals(self):
        if self._principals is None:
            self._principals = {p["name"]: p for p in self.state()["principals"]}
        return self._principals

    def _scenario_principal(self, name):
        for p in self.scenario.get("principals", []):
            if p.get("name") == name:
                return p
        return {}

    def token(self, resource="https://management.azure.com/", principal=None, raw=False):
        """A token for resource as the named principal (default: the scenario's cmkd
        principal): IMDS for VM identities, client secret or federated assertion for apps."""
        ps = self.principals()
        name = principal or next(n for n, p in ps.items() if p["cmkd"])
        p = ps[name]
        if p["type"] in ("system-assigned", "user-assigned"):
            q = {"api-version": "2018-02-01", "resource": resource}
            if p["type"] == "user-assigned":
                q["client_id"] = p["client_id"]
            r = self.get("http://%s/metadata/identity/oauth2/token?%s" % (IMDS_HOST, urllib.parse.urlencode(q)),
                         headers={"Metadata": "true"})
        else:
            sp = self._scenario_principal(name)
            scope = resource.rstrip("/") + "/.default"
            form = {"grant_type": "client_credentials", "client_id": p["client_id"], "scope": scope}
            if sp.get("client_secret"):
                form["client_secret"] = sp["client_secret"]
            else:
                fed = sp.get("federated") if isinstance(sp.get("federated"), dict) else {}
                form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                form["client_assertion"] = make_assertion(fed.get("issuer", "https://issuer.example"),
                                                          fed.get("subject", "subject"))
            r = self.post("https://login.microsoftonline.com/%s/oauth2/v2.0/token" % p["tenant"], form=form)
        if raw:
            return r
        if r.status != 200:
            raise TwinError("token for %s as %s: %d %s" % (resource, name, r.status, r.body[:300]))
        return r.json()["access_token"]

    def arm(self, method, path, principal=None, **kw):
        """ARM request on https://management.azure.com{path} with an ARM token."""
        tok = kw.pop("token", None) or self.token(ARM + "/", principal)
        return self.request(method, ARM + path, token=tok, **kw)

    # --- control API ---------------------------------------------------------------------

    def _control_call(self, method, path, body=None):
        c = _PlainConn("127.0.0.1", self.http_port, self.request_timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            r = c.getresponse()
            out = r.read()
        finally:
            c.close()
        try:
            obj = json.loads(out.decode())
        except ValueError:
            raise TwinError("control %s %s: %d %r" % (method, path, r.status, out[:300]))
        if r.status != 200:
            raise TwinError("control %s %s: %d %s" % (method, path, r.status, obj.get("error", obj)))
        return obj

    def control(self, op, **kw):
        body = dict(kw)
        body["op"] = op
        res = self._control_call("POST", "/_twin/control", body)
        if op in ("recreate_identity", "create_identity"):
            self._principals = None
        return res

    def log(self, since=0, timeout=5.0):
        """The request log (entries after seq since). The twin records a request just after
        it has sent the answer: first waits (up to timeout seconds) until the log holds at
        least as many entries as this client has had answers, so that what we sent is in it.
        Requests of other clients (cmkd) may still be a moment behind: see cmkdlib.settled_log."""
        deadline = time.monotonic() + timeout
        while self.health()["log_seq"] < self._answered and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._control_call("GET", "/_twin/log?since=%d" % since)["requests"]

    def clear_log(self):
        return self._control_call("POST", "/_twin/log/clear")

    def state(self):
        return self._control_call("GET", "/_twin/state")

    def health(self):
        return self._control_call("GET", "/_twin/health")

    def tokens(self, principal=None):
        """Every token the twin issued and still remembers (GET /_twin/tokens): a dict with
        "tokens" (list of {"token", "principal", "audience", "kind", "issued", "expires",
        "revoked"}), "issued_total" and "dropped" (issued but no longer remembered). For
        secret-hygiene tests: search a client's outputs for each token."""
        path = "/_twin/tokens"
        if principal:
            path += "?principal=" + urllib.parse.quote(principal)
        return self._control_call("GET", path)

    def faults(self, *rules):
        """Replaces the fault list with the given rules (dicts, see README)."""
        return self.control("set_faults", faults=list(rules))

    def add_fault(self, **rule):
        return self.control("add_fault", fault=rule)

    def clear_faults(self):
        return self.control("clear_faults")

    def cluster(self, name):
        for c in self.state()["clusters"]:
            if c["name"] == name:
                return c
        raise TwinError("no cluster %s" % name)

    # --- client configuration --------------------------------------------------------

    def curl_connect_to(self):
        """curl --connect-to values, IMDS first."""
        return ["%s:80:127.0.0.1:%d" % (IMDS_HOST, self.http_port), "::127.0.0.1:%d" % self.port]

    def curl_args(self):
        out = []
        for c in self.curl_connect_to():
            out += ["--connect-to", c]
        return out + ["--cacert", self.ca_file]

    def cmkd_config(self, **sections):
        """Text of a cmkd INI config pointing at this twin. Keyword arguments are sections,
        each a dict of keys merged over the defaults (a None value drops the key), e.g.
        cmkd_config(Daemon={"PollInterval": "10s"}, Azure={"Subscriptions": "..."})."""
        st = self.state()
        p = next(x for x in st["principals"] if x["cmkd"])
        azure = {}
        if p["type"] in ("system-assigned", "user-assigned"):
            azure["Authentication"] = "managed-identity"
            if p["type"] == "user-assigned":
                azure["ClientId"] = p["client_id"]
        else:
            sp = self._scenario_principal(p["name"])
            azure["TenantId"] = p["tenant"]
            azure["ClientId"] = p["client_id"]
            if sp.get("client_secret"):
                azure["Authentication"] = "client-secret"
                path = os.path.join(self._tmp, "client-secret")
                with open(path, "w") as f:
                    f.write(sp["client_secret"])
                os.chmod(path, 0o600)
                azure["ClientSecretFile"] = path
            else:
                azure["Authentication"] = "workload-identity"
                fed = sp.get("federated") if isinstance(sp.get("federated"), dict) else {}
                path = os.path.join(self._tmp, "federated-token")
                with open(path, "w") as f:
                    f.write(make_assertion(fed.get("issuer", "https://issuer.example"),
                                           fed.get("subject", "subject"), lifetime_s=7 * 86400))
                azure["FederatedTokenFile"] = path
        clouds = {s["cloud"] for s in st["subscriptions"]}
        if clouds != {"AzurePublicCloud"} and len(clouds) == 1:
            azure["Cloud"] = clouds.pop()
        azure["Subscriptions"] = " ".join(s["id"] for s in st["subscriptions"] if s["tenant"] == p["tenant"])
        network = {"CAFile": self.ca_file, "ConnectTo": self.curl_connect_to()}
        out = {"Azure": azure, "Network": network}
        for sec, keys in sections.items():
            d = out.setdefault(sec, {})
            for k, v in (keys or {}).items():
                if v is None:
                    d.pop(k, None)
                else:
                    d[k] = v
        lines = []
        for sec, keys in out.items():
            lines.append("[%s]" % sec)
            for k, v in keys.items():
                for item in (v if isinstance(v, list) else [v]):
                    lines.append("%s=%s" % (k, item))
            lines.append("")
        return "\n".join(lines)
