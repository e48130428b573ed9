# SPDX-License-Identifier: MIT
"""Proxies from the environment (issue 3): with https_proxy set, every HTTPS request of cmkd
goes through the proxy as a CONNECT tunnel (TLS still verified end to end against the
twin's CA), and the managed-identity token request to the plain-HTTP IMDS endpoint never
does. The proxy here is a minimal CONNECT relay on loopback that records what it carried."""

import os
import select
import socket
import socketserver
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cmkdlib import Fixture  # noqa: E402


class ConnectProxy(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.lock = threading.Lock()
        self.tunnels = []  # CONNECT targets
        self.plain = []    # request lines of non-CONNECT requests (e.g. http:// through the proxy)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server_address[1]


class ProxyHandler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(8192).decode("latin-1").strip()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        method, target = (line.split(" ") + ["", ""])[:2]
        if method != "CONNECT":
            with self.server.lock:
                self.server.plain.append(line)
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with self.server.lock:
            self.server.tunnels.append(target)
        if host != "127.0.0.1":  # loopback only: the test maps every Azure host there
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection((host, int(port)), timeout=10)
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        socks = [self.connection, upstream]
        try:
            while True:
                ready, _, _ = select.select(socks, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(data)
        finally:
            upstream.close()


class ProxyTest(unittest.TestCase):
    def test_https_through_proxy_imds_direct(self):
        proxy = ConnectProxy()
        self.addCleanup(proxy.server_close)
        self.addCleanup(proxy.shutdown)
        env = {"https_proxy": proxy.url, "HTTPS_PROXY": proxy.url, "http_proxy": proxy.url,
               "HTTP_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
        with Fixture("healthy") as fx:
            run = fx.once(env=env)
            self.assertEqual(run.returncode, 0, run.describe())
            self.assertGreater(len(run.json["clusters"]), 0)
            https = [e for e in run.log if e.get("host") != "169.254.169.254"]
            imds = [e for e in run.log if e.get("host") == "169.254.169.254"]
            self.assertTrue(https and imds, run.describe())
            # One tunnel per TLS connection; every one to the twin's HTTPS port.
            self.assertTrue(proxy.tunnels, "no CONNECT reached the proxy: https_proxy was ignored")
            self.assertEqual(set(proxy.tunnels), {"127.0.0.1:%d" % fx.twin.port}, proxy.tunnels)
            # The metadata endpoint is never proxied.
            self.assertEqual(proxy.plain, [], "IMDS went through the proxy")


if __name__ == "__main__":
    unittest.main()
