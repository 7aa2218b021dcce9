"""TLS on proxyd's data path: http_proxy with tls_server (an HTTPS proxy,
curl --proxy https://), client-certificate auth (mTLS), plain_tls_port /
native_tls_port in front of a socks_proxy (SOCKS over TLS) with and without
a PROXY header before the handshake, broken handshakes (garbage, plain
HTTP, a client that stalls mid-handshake) that are closed and logged while
proxyd keeps serving, https forward to a TLS nginx (verified name and SNI,
a foreign certificate → 502, insecure), and the buffered relay's idle check
and speed limit. Certificates are made at test time with mkcert."""

import hashlib
import os
import socket
import ssl
import struct
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (HalfCloseServer, closed_by_peer, dp_conf, free_port, recv_exact,
                        socks5_addr, start_proxyd, wait_port, wait_record)
from helpers import wait_for
from mkcert_util import make_leaf, make_root

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def curl(*args, timeout=40):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A root, a server certificate for 127.0.0.1 / localhost, a client
    certificate from the same root and one from an unrelated root."""
    d = tmp_path_factory.mktemp("pki")
    root = make_root(d, "root")
    other = make_root(d, "other")
    srv = make_leaf(d, root, ["localhost", "127.0.0.1"], name="srv")
    cli = make_leaf(d, root, ["client.test"], name="cli", kind="--tls-client")
    stranger = make_leaf(d, other, ["stranger.test"], name="stranger", kind="--tls-client")
    return type("Pki", (), {"root": root, "other": other, "srv": srv, "cli": cli,
                            "stranger": stranger, "dir": d})


def tls_server_yaml(pki, extra=""):
    return (f"tls_server:\n  certificate: {pki.srv.cert}\n  private_key: {pki.srv.key}\n"
            + "".join(f"  {ln}\n" for ln in extra.splitlines() if ln))


@pytest.fixture
def tp(daemon_factory, write_conf, pki):
    """http_proxy 'http' with tls_server (1s handshake timeout), http_proxy
    'mtls' requiring a client certificate from pki.root, socks_proxy
    'socks', plain_tls_port 'tlsport' → socks, 'tlspp' (PROXY v2 first)
    → socks, native_tls_port 'native' → http_proxy 'plainhttp'."""
    p = {k: free_port() for k in ("http", "mtls", "socks", "tlsport", "tlspp", "native",
                                  "plainhttp")}
    srv = tls_server_yaml(pki, "handshake_timeout: 1s")
    mtls = tls_server_yaml(pki, f"enable_client_auth: true\nca_certificate: {pki.root.cert}")
    extra = (
        f"  - name: mtls\n    type: http_proxy\n    listen: 127.0.0.1:{p['mtls']}\n"
        "    escaper: direct\n" + "".join(f"    {ln}\n" for ln in mtls.splitlines())
        + f"  - name: plainhttp\n    type: http_proxy\n    listen: 127.0.0.1:{p['plainhttp']}\n"
        "    escaper: direct\n"
        + f"  - name: tlsport\n    type: plain_tls_port\n    listen: 127.0.0.1:{p['tlsport']}\n"
        "    server: socks\n" + "".join(f"    {ln}\n" for ln in srv.splitlines())
        + f"  - name: tlspp\n    type: plain_tls_port\n    listen: 127.0.0.1:{p['tlspp']}\n"
        "    server: socks\n    proxy_protocol: 2\n"
        + "".join(f"    {ln}\n" for ln in srv.splitlines())
        + f"  - name: native\n    type: native_tls_port\n    listen: 127.0.0.1:{p['native']}\n"
        "    server: plainhttp\n" + "".join(f"    {ln}\n" for ln in srv.splitlines()))
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=p["socks"], http_port=p["http"], http=srv, extra=extra))
    for k in p:
        wait_port(p[k])
    d.p = p
    d.pki = pki
    return d


def https_proxy(d, port_key="http", *extra):
    return ["--proxy", f"https://127.0.0.1:{d.p[port_key]}", "--proxy-cacert",
            str(d.pki.root.cert), *extra]


def tls_client(pki, port, cert=None, server_hostname="localhost"):
    ctx = ssl.create_default_context(cafile=str(pki.root.cert))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname=server_hostname)


def read_to_end(s):
    out = b""
    while True:
        try:
            d = s.recv(65536)
        except (ssl.SSLError, ConnectionResetError):
            break
        if not d:
            break
        out += d
    return out


def socks5_connect(s, host, port):
    s.sendall(b"\x05\x01\x00")
    assert recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", port))
    rep = recv_exact(s, 10)
    assert rep[:2] == b"\x05\x00", rep


# ---- HTTPS proxy --------------------------------------------------------------------


def test_https_proxy_forward_and_connect(tp, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl(*https_proxy(tp), url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    r = curl(*https_proxy(tp), "--proxytunnel", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(tp, lambda x: x.get("task_type") == "HttpForward"
                      and x.get("server_name") == "http")
    assert rec["server_addr"] == f"127.0.0.1:{tp.p['http']}"
    assert rec["rsp_status"] == 200 and rec["reason"] == "Finished"
    rec = wait_record(tp, lambda x: x.get("task_type") == "TcpConnect"
                      and x.get("server_name") == "http")
    assert rec["upstream"] == f"127.0.0.1:{origin.port}"
    assert rec["r_rd_bytes"] == rec["c_wr_bytes"] > len(b"hello from origin\n")


def test_https_proxy_keepalive_and_bulk(tp, origin):  # noqa: F811
    """Two forwarded requests on one TLS connection; a 20 MiB body through
    a TLS CONNECT tunnel arrives byte-exact (the buffered relay)."""
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl(*https_proxy(tp), "-v", url, url)
    assert r.returncode == 0, r.stderr
    assert b"Re-using existing connection" in r.stderr or b"Reusing existing" in r.stderr
    r = curl(*https_proxy(tp), "--proxytunnel", f"http://127.0.0.1:{origin.port}/big.bin")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256
    r = curl(*https_proxy(tp), f"http://127.0.0.1:{origin.port}/big.bin")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256


def test_https_proxy_tunnel_close_notify(tp, origin):  # noqa: F811
    """When the origin ends the tunnel, the proxy ends the client's TLS
    stream with a close_notify (a clean TLS end, not a bare TCP FIN)."""
    ctx = ssl.create_default_context(cafile=str(tp.pki.root.cert))
    raw = socket.create_connection(("127.0.0.1", tp.p["http"]), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
    s.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200"), head
    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    body = b""
    while True:
        d = s.recv(65536)  # SSLEOFError here = no close_notify
        if not d:
            break
        body += d
    assert body.startswith(b"HTTP/1.0 200") or body.startswith(b"HTTP/1.1 200"), body[:80]
    assert body.endswith(b"hello from origin\n")
    s.close()
    rec = wait_record(tp, lambda x: x.get("task_type") == "TcpConnect"
                      and x.get("server_name") == "http")
    assert rec["reason"] == "ClosedByUpstream"


# ---- mTLS ------------------------------------------------------------------------------


def test_mtls_accepts_a_client_certificate(tp, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl(*https_proxy(tp, "mtls", "--proxy-cert", str(tp.pki.cli.cert), "--proxy-key",
                          str(tp.pki.cli.key)), url)
    assert r.returncode == 0, r.stderr
    wait_record(tp, lambda x: x.get("server_name") == "mtls" and x.get("rsp_status") == 200)


def test_mtls_refuses_without_or_with_a_foreign_certificate(tp, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl(*https_proxy(tp, "mtls"), url)
    assert r.returncode != 0
    r = curl(*https_proxy(tp, "mtls", "--proxy-cert", str(tp.pki.stranger.cert),
                          "--proxy-key", str(tp.pki.stranger.key)), url)
    assert r.returncode != 0
    wait_for(lambda: tp.stderr().count("server mtls: TLS handshake failed with client") >= 2,
             5, what="two refused handshakes logged")
    assert "certificate" in tp.stderr().split("server mtls: TLS handshake failed")[-1]
    # no task was created for them, and the server keeps serving
    r = curl(*https_proxy(tp, "mtls", "--proxy-cert", str(tp.pki.cli.cert), "--proxy-key",
                          str(tp.pki.cli.key)), url)
    assert r.returncode == 0, r.stderr


# ---- TLS ports ---------------------------------------------------------------------


def test_socks5_over_plain_tls_port(tp, origin):  # noqa: F811
    s = tls_client(tp.pki, tp.p["tlsport"])
    socks5_connect(s, "127.0.0.1", origin.port)
    s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
    data = read_to_end(s)
    s.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    assert hashlib.sha256(body).hexdigest() == origin.big_sha256
    rec = wait_record(tp, lambda x: x.get("server_addr") == f"127.0.0.1:{tp.p['tlsport']}")
    assert rec["server_name"] == "socks" and rec["task_type"] == "TcpConnect"
    assert rec["upstream"] == f"127.0.0.1:{origin.port}"


def test_plain_tls_port_proxy_protocol_before_tls(tp, origin):  # noqa: F811
    """PROXY v2 comes in clear before the handshake; its source is the
    task's client address."""
    raw = socket.create_connection(("127.0.0.1", tp.p["tlspp"]), timeout=5)
    raw.sendall(V2SIG + b"\x21\x11" + struct.pack("!H", 12) + socket.inet_aton("192.0.2.7")
                + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 4242, tp.p["tlspp"]))
    ctx = ssl.create_default_context(cafile=str(tp.pki.root.cert))
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    socks5_connect(s, "127.0.0.1", origin.port)
    s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
    assert b" 200 " in read_to_end(s)[:40]
    s.close()
    rec = wait_record(tp, lambda x: x.get("client_addr") == "192.0.2.7:4242")
    assert rec["server_name"] == "socks"


def test_native_tls_port_in_front_of_http_proxy(tp, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl(*https_proxy(tp, "native"), url)
    assert r.returncode == 0, r.stderr
    rec = wait_record(tp, lambda x: x.get("server_addr") == f"127.0.0.1:{tp.p['native']}")
    assert rec["server_name"] == "plainhttp" and rec["rsp_status"] == 200


# ---- broken handshakes -------------------------------------------------------------


def still_serving(tp, origin):  # noqa: F811
    r = curl(*https_proxy(tp), f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr


def test_garbage_and_plain_http_to_tls_ports_are_closed(tp, origin):  # noqa: F811
    for port in (tp.p["http"], tp.p["tlsport"]):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x00\x05garbage-garbage-garbage")
            assert closed_by_peer(s)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET http://127.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            s.settimeout(5)
            try:
                while True:
                    d = s.recv(4096)
                    if not d:
                        break
                    got += d
            except ConnectionResetError:
                pass
            assert b"HTTP/1.1" not in got  # a TLS alert at most, never an HTTP answer
    wait_for(lambda: tp.stderr().count("TLS handshake failed with client") >= 4, 5,
             what="four failed handshakes logged")
    still_serving(tp, origin)


def test_stalled_handshake_times_out(tp, origin):  # noqa: F811
    """Half a ClientHello, then nothing: closed after handshake_timeout (1s)."""
    with socket.create_connection(("127.0.0.1", tp.p["http"]), timeout=10) as s:
        t0 = time.monotonic()
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        assert closed_by_peer(s, timeout=8)
        took = time.monotonic() - t0
    assert 0.8 <= took < 4, took
    wait_for(lambda: "handshake timed out" in tp.stderr(), 5, what="timeout logged")
    still_serving(tp, origin)


def test_client_vanishes_mid_tunnel(tp, origin):  # noqa: F811
    """A TLS client that drops its TCP connection during a tunnel: the task
    ends, proxyd keeps serving."""
    s = tls_client(tp.pki, tp.p["http"])
    s.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
    s.recv(1000)
    s.close()
    wait_record(tp, lambda x: x.get("task_type") == "TcpConnect"
                and x.get("server_name") == "http", timeout=10)
    still_serving(tp, origin)


# ---- https forward ---------------------------------------------------------------------


class TlsNginx:
    """nginx on loopback with TLS: `good` serves www with a certificate for
    origin.test / 127.0.0.1 from pki.root, `bad` the same files with one
    from an unrelated root. Stopped by PID."""

    def __init__(self, d, pki, good_cert, bad_cert):
        d.mkdir(parents=True, exist_ok=True)
        (d / "www").mkdir(exist_ok=True)
        (d / "www" / "index.html").write_text("hello over tls\n")
        (d / "www" / "big.bin").write_bytes(bytes(range(256)) * 8192)  # 2 MiB
        self.big = (d / "www" / "big.bin").read_bytes()
        self.good, self.bad = free_port(), free_port()
        conf = d / "nginx.conf"
        servers = "".join(
            f"server {{ listen 127.0.0.1:{port} ssl; server_name _;\n"
            f"  ssl_certificate {pair.cert}; ssl_certificate_key {pair.key};\n"
            f"  root {d / 'www'}; keepalive_timeout 30s; }}\n"
            for port, pair in ((self.good, good_cert), (self.bad, bad_cert)))
        conf.write_text(
            # as root nginx's worker would be "nobody", who cannot enter
            # the test's private temp dir
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\ndaemon off;\npid {d / 'nginx.pid'};\n"
            f"error_log {d / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
            f"http {{ access_log {d / 'access.log'};\n"
            + "".join(f"  {k}_temp_path {d / k};\n"
                      for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + servers + "}\n")
        self.proc = subprocess.Popen(["/usr/sbin/nginx", "-p", str(d), "-c", str(conf),
                                      "-e", str(d / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.good)
        wait_port(self.bad)
        self.access_log = d / "access.log"

    def stop(self):
        # SIGTERM: the master stops its worker too (SIGKILL would orphan it)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(10)


@pytest.fixture(scope="module")
def nginx_tls(tmp_path_factory, pki):
    d = tmp_path_factory.mktemp("nginx")
    good = make_leaf(pki.dir, pki.root, ["origin.test", "127.0.0.1"], name="origin")
    bad = make_leaf(pki.dir, pki.other, ["origin.test", "127.0.0.1"], name="impostor")
    n = TlsNginx(d, pki, good, bad)
    yield n
    n.stop()


@pytest.fixture
def fp(daemon_factory, write_conf, pki, dns):  # noqa: F811
    """http_proxy 'http' trusting pki.root for https forward; 'loose' with
    tls_client insecure; names resolve with the test DNS (origin.test)."""
    p = {"http": free_port(), "loose": free_port()}
    extra = (f"  - name: loose\n    type: http_proxy\n    listen: 127.0.0.1:{p['loose']}\n"
             "    escaper: direct\n    tls_client:\n      insecure: true\n")
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=p["http"], dns_port=dns.port,
        http=f"tls_client:\n  ca_certificate: {pki.root.cert}", extra=extra))
    for k in p:
        wait_port(p[k])
    d.p = p
    return d


def forward(port, url, host, extra=b""):
    """Send GET url (absolute-form) to the proxy; returns (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
                  + extra)
        s.settimeout(10)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_https_forward_verifies_name_and_sni(fp, nginx_tls):
    host = f"origin.test:{nginx_tls.good}"
    status, body = forward(fp.p["http"], f"https://{host}/index.html", host)
    assert status == 200 and body == b"hello over tls\n"
    rec = wait_record(fp, lambda x: x.get("task_type") == "HttpForward"
                      and x.get("uri", "").startswith("https://origin.test"))
    assert rec["rsp_status"] == 200 and rec["reason"] == "Finished"
    assert rec["upstream"] == host
    # an IP literal is verified against the IP SAN (and no SNI is sent)
    host = f"127.0.0.1:{nginx_tls.good}"
    status, body = forward(fp.p["http"], f"https://{host}/big.bin", host)
    assert status == 200 and body == nginx_tls.big


def test_https_forward_keepalive_client_side(fp, nginx_tls):
    """Two https requests on one client connection: both answered (each
    opens its own TLS upstream, TLS upstreams are not pooled)."""
    host = f"origin.test:{nginx_tls.good}"
    req = (f"GET https://{host}/index.html HTTP/1.1\r\nHost: {host}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", fp.p["http"]), timeout=10) as s:
        s.sendall(req + req[:-2] + b"Connection: close\r\n\r\n")
        data = b""
        s.settimeout(10)
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    assert data.count(b"HTTP/1.1 200") == 2 and data.count(b"hello over tls\n") == 2


def test_https_forward_bad_certificate_is_502(fp, nginx_tls):
    host = f"origin.test:{nginx_tls.bad}"
    status, body = forward(fp.p["http"], f"https://{host}/index.html", host)
    assert status == 502
    rec = wait_record(fp, lambda x: x.get("upstream") == host)
    assert rec["reason"] == "UpstreamTlsHandshakeFailed"
    assert rec["message"] == "upstream certificate verify failed"
    assert rec["rsp_status"] == 502
    wait_for(lambda: "certificate verify failed" in fp.stderr(), 5, what="reason logged")
    # nothing reached nginx's application layer on the impostor port
    assert f"origin.test:{nginx_tls.bad}" not in nginx_tls.access_log.read_text()
    # the same server still forwards to the good origin
    host = f"origin.test:{nginx_tls.good}"
    status, _ = forward(fp.p["http"], f"https://{host}/index.html", host)
    assert status == 200


def test_https_forward_insecure_skips_verification(fp, nginx_tls):
    host = f"origin.test:{nginx_tls.bad}"
    status, body = forward(fp.p["loose"], f"https://{host}/index.html", host)
    assert status == 200 and body == b"hello over tls\n"


def test_https_forward_to_a_plain_port_is_502(fp, origin):  # noqa: F811
    """An origin that does not speak TLS: the handshake fails, 502."""
    host = f"127.0.0.1:{origin.port}"
    status, _ = forward(fp.p["http"], f"https://{host}/index.html", host)
    assert status == 502
    rec = wait_record(fp, lambda x: x.get("upstream") == host)
    assert rec["reason"] == "UpstreamTlsHandshakeFailed"


# ---- relay semantics on a TLS side -------------------------------------------------------


def tls_connect(pki, port, target):
    s = tls_client(pki, port)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        assert c, head
        head += c
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def test_idle_tls_tunnel_reaped(daemon_factory, write_conf, pki):
    """The idle check counts the buffered relay's bytes like splice's: a
    silent TLS tunnel ends at the second check with reason Idle."""
    srv = HalfCloseServer()  # reads forever, says nothing
    try:
        port = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=port, http=tls_server_yaml(pki) +
            "task_idle_check_interval: 2s\ntask_idle_max_count: 1"))
        wait_port(port)
        s = tls_connect(pki, port, f"127.0.0.1:{srv.port}")
        with s:
            t0 = time.monotonic()
            s.settimeout(8)
            try:
                assert s.recv(10) == b""
            except (ConnectionResetError, ssl.SSLError):
                pass
            assert 1.5 < time.monotonic() - t0 < 6
        rec = wait_record(d, lambda x: x.get("upstream") == f"127.0.0.1:{srv.port}")
        assert rec["reason"] == "Idle"
    finally:
        srv.stop()


def test_tls_tunnel_speed_limited(daemon_factory, write_conf, pki, origin, origin_root):  # noqa: F811
    """tcp_sock_speed_limit holds on the buffered path too: 2 MiB through
    500 KiB per 1024 ms takes about 4 s and arrives intact."""
    two = bytes(range(256)) * 8192
    (origin_root[0] / "two.bin").write_bytes(two)
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=port, http=tls_server_yaml(pki) +
        "tcp_sock_speed_limit:\n  shift_millis: 10\n  download: 500K\n  upload: 500K"))
    wait_port(port)
    s = tls_connect(pki, port, f"127.0.0.1:{origin.port}")
    t0 = time.monotonic()
    s.sendall(b"GET /two.bin HTTP/1.0\r\n\r\n")
    data = read_to_end(s)
    took = time.monotonic() - t0
    s.close()
    assert data.split(b"\r\n\r\n", 1)[1] == two
    assert 3.0 <= took <= 7.0, took
    rec = wait_record(d, lambda x: x.get("task_type") == "TcpConnect")
    assert rec["c_wr_bytes"] >= len(two)
