# The twin's HTTP/1.1 layer: a threaded server (one thread per connection, TLS handshake
# in that thread, TCP_NODELAY, backlog 1024, keep-alive with Content-Length) that turns
# each request into a Request, asks the app for a Response and writes it in one write.
# It also carries out the transport faults (reset, close, truncate, slow body).
# It knows nothing of Azure: routing and answers live in the app.

import http.server
import socket
import socketserver
import ssl
import struct
import time
import urllib.parse

from tw_common import http_date, jdump

HANDSHAKE_TIMEOUT_S = 10
IDLE_TIMEOUT_S = 120
BODY_MAX = 8 * 1024 * 1024

REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
           411: "Length Required", 413: "Payload Too Large", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


class Request:
    __slots__ = ("method", "raw_path", "path", "query", "qlower", "query_string", "headers", "body", "peer",
                 "listener", "host", "service", "cloud", "vault_name", "token", "token_rec", "principal",
                 "lro_override", "t_start", "segs", "log_extra", "log_seq")

    def __init__(self):
        self.log_seq = None
        self.token = None
        self.token_rec = None
        self.principal = None
        self.lro_override = None
        self.log_extra = {}

    def header(self, name, default=None):
        v = self.headers.get(name)
        return default if v is None else v

    @property
    def api_version(self):
        return self.qlower.get("api-version")

    def json_body(self):
        """Parsed JSON body, or raises ValueError with a message."""
        import json
        if not self.body:
            raise ValueError("the request has no body")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(str(e))


class Response:
    __slots__ = ("status", "headers", "body", "obj", "mode", "mode_args", "error_code", "content_type")

    def __init__(self, status=200, body=b"", headers=None, obj=None, content_type=None):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.obj = obj
        self.mode = None          # None | reset | close | truncate | slow
        self.mode_args = {}
        self.error_code = None
        self.content_type = content_type

    def add(self, name, value):
        self.headers.append((name, str(value)))

    def get(self, name):
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return None

    def set(self, name, value):
        n = name.lower()
        self.headers = [(k, v) for k, v in self.headers if k.lower() != n]
        self.headers.append((name, str(value)))


def json_response(status, obj, headers=None, content_type="application/json; charset=utf-8"):
    r = Response(status, jdump(obj), headers, obj=obj, content_type=content_type)
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        r.error_code = obj["error"].get("code")
    elif isinstance(obj, dict) and isinstance(obj.get("error"), str):
        r.error_code = obj["error"]
    return r


def parse_query(qs):
    """Query string -> dict of percent-decoded names to decoded values (last one wins)."""
    out = {}
    for k, v in urllib.parse.parse_qsl(qs, keep_blank_values=True):
        out[k] = v
    return out


class TwinServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    block_on_close = False

    def __init__(self, addr, app, listener, tls_ctx=None):
        self.app = app
        self.listener = listener
        self.tls_ctx = tls_ctx
        self.errors = 0
        socketserver.TCPServer.__init__(self, addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.tls_ctx is not None:
            # The handshake happens in the connection's own thread (Handler.setup).
            sock = self.tls_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        # Client hang-ups, bad handshakes and resets are normal here; count, keep stderr quiet.
        self.errors += 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "twin"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    wbufsize = 0

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(HANDSHAKE_TIMEOUT_S)
            self.request.do_handshake()
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("truncated chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while True:
                        trailer = self.rfile.readline(1024)
                        if trailer in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > BODY_MAX:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        n = int(n)
        if n < 0 or n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _serve(self):
        t0 = time.time()
        try:
            body = self._read_body()
        except ValueError:
            self._write(Response(413, b'{"error":{"code":"RequestTooLarge","message":"The request body is too '
                                      b'large."}}', content_type="application/json; charset=utf-8"), close=True)
            return
        req = Request()
        req.t_start = t0
        req.method = self.command
        raw = self.path
        if raw.startswith("http://") or raw.startswith("https://"):
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        path, _, qs = raw.partition("?")
        req.raw_path = path
        req.path = urllib.parse.unquote(path)
        req.query_string = qs
        req.query = parse_query(qs)
        req.qlower = {k.lower(): v for k, v in req.query.items()}
        req.headers = self.headers
        req.body = body
        req.peer = self.client_address[0]
        req.listener = self.server.listener
        host = (self.headers.get("Host") or "").strip().lower()
        if host.startswith("["):
            host = host.split("]")[0] + "]"
        elif ":" in host:
            host = host.rsplit(":", 1)[0]
        req.host = host
        try:
            resp = self.server.app.handle(req)
        except Exception as e:  # a twin bug must not kill the connection silently
            import traceback
            traceback.print_exc()
            resp = Response(500, jdump({"error": {"code": "TwinInternalError", "message": repr(e)}}),
                            content_type="application/json; charset=utf-8")
        self.server.app.number(req)
        try:
            self._write(resp, head=self.command == "HEAD")
        finally:
            try:
                self.server.app.after(req, resp)
            except Exception:
                import traceback
                traceback.print_exc()
            self.server.app.unnumber(req)  # a failed after() must not stall the log

    def _write(self, resp, head=False, close=False):
        if resp.mode == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            return
        if resp.mode == "close":
            self.close_connection = True
            return
        body = resp.body or b""
        lines = ["HTTP/1.1 %d %s" % (resp.status, REASONS.get(resp.status, "Status"))]
        have = {k.lower() for k, _ in resp.headers}
        if "date" not in have:
            lines.append("Date: " + http_date(time.time()))
        if resp.content_type and body and "content-type" not in have:
            lines.append("Content-Type: " + resp.content_type)
        for k, v in resp.headers:
            lines.append("%s: %s" % (k, v))
        if close or self.close_connection or resp.mode == "truncate":
            self.close_connection = True
            lines.append("Connection: close")
        if resp.status not in (204, 304) or body:
            lines.append("Content-Length: %d" % len(body))
        head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if head:
            body = b""
        try:
            if resp.mode == "truncate":
                n = resp.mode_args.get("bytes")
                n = len(body) // 2 if n is None else min(int(n), max(0, len(body) - 1))
                self.wfile.write(head_bytes + body[:n])
                return
            if resp.mode == "slow":
                chunk = max(1, int(resp.mode_args.get("chunk_bytes", 64)))
                delay = float(resp.mode_args.get("delay_ms", 100)) / 1000.0
                bps = resp.mode_args.get("bytes_per_s")
                if bps:
                    delay = chunk / float(bps)
                budget = float(resp.mode_args.get("max_s", 30))
                self.wfile.write(head_bytes)
                t_end = time.time() + budget
                for i in range(0, len(body), chunk):
                    self.wfile.write(body[i:i + chunk])
                    if time.time() > t_end:
                        delay = 0
                    if i + chunk < len(body):
                        time.sleep(delay)
                return
            self.wfile.write(head_bytes + body)
        except OSError:
            self.close_connection = True
