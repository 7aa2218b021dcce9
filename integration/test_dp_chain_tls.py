"""TLS to the next proxy: proxyd → proxyd where the next hop is an HTTPS
proxy (http_proxy with tls_server) or SOCKS5 over TLS (native_tls_port in
front of a socks_proxy), reached through proxy_https / proxy_socks5s
escapers, for HTTP forward, CONNECT and SOCKS5 clients; mTLS (the next hop
requires a client certificate), a wrong CA and a wrong tls_name (502 /
SOCKS general failure, task and escape logs say why), a peer that accepts
TCP then never answers the handshake (an error within
peer_negotiation_timeout), the PROXY header going before the handshake, and
route_failover whose proxy_https standby serves when the primary is dead
or stalled. The certificates come from a test CA made here with openssl."""

import socket
import struct
import subprocess
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (dp_conf, free_port, recv_all, recv_exact, socks5_addr, task_records,
                        wait_port, wait_record)
from helpers import wait_for
from test_dp_chain import (chain_conf, check_three_clients, connect_via, curl, listen_block,
                           start_named)


def openssl(*args):
    r = subprocess.run(["openssl", *map(str, args)], capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr.decode(errors="replace")


def make_ca(d, name):
    crt, key = d / f"{name}.crt", d / f"{name}.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN=ptls {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return type("Pair", (), {"cert": crt, "key": key})


def make_leaf(d, ca, name, san, usage):
    crt, key, csr, ext = (d / f"{name}.crt", d / f"{name}.key", d / f"{name}.csr",
                          d / f"{name}.ext")
    ext.write_text(f"subjectAltName={san}\nextendedKeyUsage={usage}\n"
                   "basicConstraints=CA:FALSE\n")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
            "-out", crt, "-days", "2", "-extfile", ext)
    return type("Pair", (), {"cert": crt, "key": key})


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """root: the next hop's server certificate (localhost, 127.0.0.1) and
    a client certificate; other: an unrelated CA."""
    d = tmp_path_factory.mktemp("ptls_pki")
    root = make_ca(d, "root")
    other = make_ca(d, "other")
    srv = make_leaf(d, root, "srv", "DNS:localhost,IP:127.0.0.1", "serverAuth")
    cli = make_leaf(d, root, "cli", "DNS:client.test", "clientAuth")
    return type("Pki", (), {"root": root, "other": other, "srv": srv, "cli": cli})


def indent(text, n):
    return "".join(" " * n + ln + "\n" for ln in text.splitlines() if ln.strip())


@pytest.fixture
def back(daemon_factory, write_conf, dns, pki):  # noqa: F811
    """The next hop: http_proxy 'https' (tls_server), 'mtls' (tls_server
    requiring a client certificate of pki.root), socks_proxy 'socks' behind
    native_tls_port 's5tls', and plain_tls_port 'pptls' (PROXY v2 before
    TLS) in front of http_proxy 'pphttp'."""
    p = {k: free_port() for k in ("https", "mtls", "socks", "s5tls", "pptls", "pphttp")}
    tls = f"tls_server:\n  certificate: {pki.srv.cert}\n  private_key: {pki.srv.key}\n"
    mtls = tls + f"  enable_client_auth: true\n  ca_certificate: {pki.root.cert}\n"
    servers = (listen_block("https", "http_proxy", p["https"], "direct", tls)
               + listen_block("mtls", "http_proxy", p["mtls"], "direct", mtls)
               + listen_block("socks", "socks_proxy", p["socks"], "direct")
               + listen_block("pphttp", "http_proxy", p["pphttp"], "direct")
               + f"  - name: s5tls\n    type: native_tls_port\n"
               f"    listen: 127.0.0.1:{p['s5tls']}\n    server: socks\n" + indent(tls, 4)
               + f"  - name: pptls\n    type: plain_tls_port\n"
               f"    listen: 127.0.0.1:{p['pptls']}\n    server: pphttp\n"
               "    proxy_protocol: 2\n" + indent(tls, 4))
    conf = dp_conf(dns_port=dns.port, workers=1) + servers
    d = start_named(daemon_factory, write_conf, conf, "tlsback")
    for k in p:
        wait_port(p[k])
    d.p = p
    return d


_N = [0]


def front(daemon_factory, write_conf, escaper_yaml, name="up", extra_escapers=""):
    """proxyd with http_proxy 'fhttp' and socks_proxy 'fsocks' using
    escaper `name`; escaper_yaml is the escaper's YAML list item."""
    hp, sp = free_port(), free_port()
    servers = listen_block("fhttp", "http_proxy", hp, name) + \
        listen_block("fsocks", "socks_proxy", sp, name)
    _N[0] += 1
    d = start_named(daemon_factory, write_conf,
                    chain_conf(escaper_yaml + extra_escapers, servers), f"tlsfront{_N[0]}")
    d.http_port, d.socks_port = hp, sp
    wait_port(hp)
    wait_port(sp)
    return d


def esc(typ, port, tls_client="", extra="", name="up"):
    out = f"  - name: {name}\n    type: {typ}\n    proxy_addr: 127.0.0.1:{port}\n"
    if tls_client:
        out += "    tls_client:\n" + indent(tls_client, 6)
    return out + indent(extra, 4)


def ca_of(pki, ca=None):
    return f"ca_certificate: {(ca or pki.root).cert}"


def socks5_reply(port, host, target_port):
    """A SOCKS5 CONNECT through port: the reply code."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"\x05\x01\x00")
    assert recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", target_port))
    rep = recv_exact(s, 2)
    s.close()
    return rep[1]


def front_task(d, server="fhttp", pred=lambda r: True):
    return wait_record(d, lambda r: r.get("server_name") == server and pred(r), timeout=10)


# ---- the chains work ------------------------------------------------------------------


def test_proxy_https_three_clients(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    f = front(daemon_factory, write_conf, esc("proxy_https", back.p["https"], ca_of(pki)))
    check_three_clients(f, origin, "origin.test")
    up = f"127.0.0.1:{origin.port}"
    rec = front_task(f, "fsocks")
    assert rec["escaper"] == "up"
    assert rec["next_peer_addr"] == f"127.0.0.1:{back.p['https']}"
    # the next hop served them on its TLS http_proxy: forward and CONNECTs
    fwd = wait_record(back, lambda r: r.get("server_name") == "https"
                      and r.get("task_type") == "HttpForward")
    assert fwd["upstream"] == up
    wait_record(back, lambda r: r.get("server_name") == "https"
                and r.get("task_type") == "TcpConnect"
                and r.get("upstream") == f"origin.test:{origin.port}")


def test_proxy_https_large_tunnel(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    """20 MiB through CONNECT over TLS to the next proxy, byte-exact."""
    import hashlib
    f = front(daemon_factory, write_conf, esc("proxy_https", back.p["https"], ca_of(pki)))
    r = curl("-p", "-x", f"http://127.0.0.1:{f.http_port}",
             f"http://127.0.0.1:{origin.port}/big.bin", timeout=60)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256


def test_proxy_socks5s_three_clients(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    f = front(daemon_factory, write_conf, esc("proxy_socks5s", back.p["s5tls"], ca_of(pki)))
    check_three_clients(f, origin, "origin.test")
    recs = wait_for(lambda: [r for r in task_records(back) if r.get("server_name") == "socks"]
                    if len([r for r in task_records(back)
                            if r.get("server_name") == "socks"]) >= 4 else None,
                    5, what="four SOCKS tasks on the next hop")
    assert {r.get("server_addr") for r in recs} == {f"127.0.0.1:{back.p['s5tls']}"}
    assert f"origin.test:{origin.port}" in {r.get("upstream") for r in recs}


def test_proxy_https_tls_name_and_proxy_protocol(daemon_factory, write_conf, back, origin,  # noqa: F811
                                                 pki):
    """tls_name: localhost is verified instead of the peer's IP; the PROXY
    v2 header goes before the handshake, so the next hop sees the client."""
    f = front(daemon_factory, write_conf,
              esc("proxy_https", back.p["pptls"], ca_of(pki),
                  "tls_name: localhost\nuse_proxy_protocol: 2"))
    c = socket.create_connection(("127.0.0.1", f.http_port), timeout=10)
    cport = c.getsockname()[1]
    c.sendall(f"GET http://127.0.0.1:{origin.port}/index.html HTTP/1.1\r\n"
              f"Host: 127.0.0.1:{origin.port}\r\nConnection: close\r\n\r\n".encode())
    assert recv_all(c).startswith(b"HTTP/1.1 200")
    c.close()
    rec = wait_record(back, lambda r: r.get("server_name") == "pphttp")
    assert rec["client_addr"] == f"127.0.0.1:{cport}"


# ---- the next hop's certificate / ours ------------------------------------------------


def check_refused(f, origin, reason, msg=None):  # noqa: F811
    """HTTP forward and CONNECT → 502, SOCKS5 → general failure; the task
    log names reason (and msg)."""
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl("-o", "/dev/null", "-w", "%{http_code}", "-x", f"http://127.0.0.1:{f.http_port}",
             url)
    assert r.stdout == b"502", (r.stdout, r.stderr)
    s, head = connect_via(f.http_port, f"127.0.0.1:{origin.port}")
    s.close()
    assert head.startswith(b"HTTP/1.1 502"), head
    assert socks5_reply(f.socks_port, "127.0.0.1", origin.port) == 0x01
    for srv in ("fhttp", "fsocks"):
        rec = front_task(f, srv, lambda r: r.get("reason") == reason)
        if msg is not None:
            assert rec["message"] == msg, rec
    return rec


def escape_record(f):
    return wait_record_kind(f, "Escape", lambda r: r.get("escape_type") == "TlsHandshake")


def wait_record_kind(d, kind, pred, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for r in task_records(d, kind):
            if pred(r):
                return r
        time.sleep(0.05)
    raise AssertionError(f"no {kind} record")


def test_wrong_ca_is_502_and_logged(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    f = front(daemon_factory, write_conf,
              esc("proxy_https", back.p["https"], ca_of(pki, pki.other)))
    check_refused(f, origin, "UpstreamTlsHandshakeFailed", "upstream certificate verify failed")
    e = escape_record(f)
    assert e["escaper_type"] == "ProxyHttps" and e["escaper_name"] == "up"
    assert e["tls_name"] == "127.0.0.1"
    assert e["tls_peer"] == f"127.0.0.1:{back.p['https']}"
    assert e["tls_application"] == "HttpProxy"
    assert e["next_peer_addr"] == f"127.0.0.1:{back.p['https']}"
    assert e["message"] == "upstream certificate verify failed"
    # nothing reached the next hop's http_proxy
    assert not [r for r in task_records(back) if r.get("server_name") == "https"]


def test_wrong_tls_name_is_502(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    f = front(daemon_factory, write_conf,
              esc("proxy_socks5s", back.p["s5tls"], ca_of(pki), "tls_name: wrong.test"))
    check_refused(f, origin, "UpstreamTlsHandshakeFailed", "upstream certificate verify failed")
    e = escape_record(f)
    assert e["escaper_type"] == "ProxySocks5s" and e["tls_name"] == "wrong.test"
    assert e["tls_application"] == "TcpStream"


def test_mtls_needs_our_certificate(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    """The next hop requires a client certificate: without one → 502 (with
    TLS 1.3 the refusal comes after our side of the handshake, so it shows
    as a broken negotiation or a failed handshake), with it → 200."""
    bare = front(daemon_factory, write_conf, esc("proxy_https", back.p["mtls"], ca_of(pki)))
    url = f"http://127.0.0.1:{origin.port}/index.html"
    for args in (("-w", "%{http_code}"), ("-p", "-w", "%{http_connect}")):
        r = curl("-o", "/dev/null", *args, "-x", f"http://127.0.0.1:{bare.http_port}", url)
        assert r.stdout == b"502", (args, r.stdout, r.stderr)
    assert socks5_reply(bare.socks_port, "127.0.0.1", origin.port) == 0x01
    rec = front_task(bare, "fsocks")
    assert rec["reason"] in ("UpstreamTlsHandshakeFailed", "UpstreamNotNegotiated"), rec
    good = front(daemon_factory, write_conf,
                 esc("proxy_https", back.p["mtls"],
                     ca_of(pki) + f"\ncertificate: {pki.cli.cert}\n"
                     f"private_key: {pki.cli.key}"))
    check_three_clients(good, origin, "origin.test")
    wait_record(back, lambda r: r.get("server_name") == "mtls"
                and r.get("task_type") == "TcpConnect")


# ---- a peer that never answers the handshake ------------------------------------------


class Staller:
    """Accepts TCP connections, reads what comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopped = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def stop(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.fixture
def staller():
    s = Staller()
    yield s
    s.stop()


def test_stalled_handshake_bounded_by_peer_negotiation_timeout(daemon_factory, write_conf,  # noqa: F811
                                                               origin, staller, pki):
    f = front(daemon_factory, write_conf,
              esc("proxy_https", staller.port, ca_of(pki), "peer_negotiation_timeout: 1s"))
    t0 = time.monotonic()
    s, head = connect_via(f.http_port, f"127.0.0.1:{origin.port}")
    took = time.monotonic() - t0
    s.close()
    assert head.startswith(b"HTTP/1.1 502"), head
    assert 0.8 <= took < 3.0, took
    rec = front_task(f, "fhttp")
    assert rec["reason"] == "UpstreamTlsHandshakeTimeout", rec
    t0 = time.monotonic()
    assert socks5_reply(f.socks_port, "127.0.0.1", origin.port) == 0x01
    assert time.monotonic() - t0 < 3.0


# ---- route_failover with a TLS standby --------------------------------------------------


def failover_front(daemon_factory, write_conf, primary_yaml, back, pki):
    standby = esc("proxy_https", back.p["https"], ca_of(pki), name="tls_standby")
    fo = ("  - name: up\n    type: route_failover\n    primary: primary\n"
          "    standby: tls_standby\n    fallback_delay: 200ms\n")
    return front(daemon_factory, write_conf, fo, extra_escapers=primary_yaml + standby)


@pytest.mark.parametrize("kind", ["dead", "stalled_http", "stalled_tls"])
def test_failover_tls_standby_serves(daemon_factory, write_conf, back, origin, staller, pki,  # noqa: F811
                                     kind):
    """Primary dead (refused), stalled in its CONNECT negotiation, or
    stalled in its own TLS handshake: the proxy_https standby completes TLS
    and CONNECT and wins; the client gets the origin's bytes."""
    dead = free_port()
    primary = {
        "dead": esc("proxy_http", dead, name="primary"),
        "stalled_http": esc("proxy_http", staller.port, name="primary"),
        "stalled_tls": esc("proxy_https", staller.port, ca_of(pki), name="primary"),
    }[kind]
    f = failover_front(daemon_factory, write_conf, primary, back, pki)
    if kind != "stalled_http":
        check_three_clients(f, origin, "origin.test")
    else:
        # a plain proxy_http has no handshake for HTTP forward: its TCP
        # connect is its success, so only tunnels wait for the stalled peer
        url = f"http://127.0.0.1:{origin.port}/index.html"
        for args in (("-p", "-x", f"http://127.0.0.1:{f.http_port}"),
                     ("--socks5-hostname", f"127.0.0.1:{f.socks_port}")):
            r = curl(*args, url)
            assert r.returncode == 0 and r.stdout, r.stderr
    for srv in ("fhttp", "fsocks"):
        rec = front_task(f, srv)
        assert rec["escaper"] == "tls_standby", rec
        assert rec["next_peer_addr"] == f"127.0.0.1:{back.p['https']}"
    wait_record(back, lambda r: r.get("server_name") == "https"
                and r.get("task_type") == "TcpConnect")


# ---- proxy_float peers over TLS ------------------------------------------------------------


def test_float_https_and_socks5s_peers(daemon_factory, write_conf, back, origin, pki):  # noqa: F811
    """Published https / socks5s peers are reached over TLS with the float
    escaper's tls_client; a peer whose tls_name does not match → 502."""
    import json
    fl = ("  - name: fl\n    type: proxy_float\n    peer_negotiation_timeout: 2s\n"
          "    tls_client:\n" + indent(ca_of(pki), 6))
    f = front(daemon_factory, write_conf, fl, name="fl")

    def publish(peers):
        r = f.ctl.run("escaper", "fl", "publish", json.dumps(peers), json_out=True)
        assert r.returncode == 0, r.stderr

    publish([{"type": "https", "addr": f"127.0.0.1:{back.p['https']}"}])
    check_three_clients(f, origin, "origin.test")
    wait_record(back, lambda r: r.get("server_name") == "https"
                and r.get("task_type") == "TcpConnect")
    publish([{"type": "socks5s", "addr": f"127.0.0.1:{back.p['s5tls']}",
              "tls_name": "localhost"}])
    check_three_clients(f, origin, "origin.test")
    wait_record(back, lambda r: r.get("server_name") == "socks")
    publish([{"type": "https", "addr": f"127.0.0.1:{back.p['https']}",
              "tls_name": "elsewhere.test"}])
    s, head = connect_via(f.http_port, f"127.0.0.1:{origin.port}")
    s.close()
    assert head.startswith(b"HTTP/1.1 502"), head
    e = escape_record(f)
    assert e["escaper_type"] == "ProxyFloat" and e["tls_name"] == "elsewhere.test"


# ---- example configuration ----------------------------------------------------------------


def test_example_configs_check():
    """Every deploy/examples/*.yaml (tls-chain.yaml among them) passes
    proxyd -t."""
    from helpers import REPO, binary
    confs = sorted((REPO / "deploy" / "examples").glob("*.yaml"))
    assert REPO / "deploy" / "examples" / "tls-chain.yaml" in confs
    for conf in confs:
        r = subprocess.run([binary("proxyd"), "-t", "-c", str(conf)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, (conf, r.stderr)
        assert r.stdout == f"{conf}: configuration OK\n"


# ---- SOCKS5 UDP through proxy_socks5s ------------------------------------------------------


def test_udp_through_proxy_socks5s(daemon_factory, write_conf, back, pki):
    """UDP ASSOCIATE through a SOCKS5-over-TLS next hop: the control
    connection (greeting, UDP ASSOCIATE) runs over TLS, the datagrams go
    plain to the relay the peer names (as g3); the answer comes back."""
    from test_dp_chain_udp import QUERY, UdpEcho, associate, dgram, exchange, udp_client
    echo = UdpEcho()
    try:
        f = front(daemon_factory, write_conf, esc("proxy_socks5s", back.p["s5tls"], ca_of(pki)))
        t, rep, relay = associate(f.socks_port)
        assert rep == 0, rep
        with t, udp_client() as u:
            answer = exchange(u, relay, dgram("127.0.0.1", echo.port, QUERY))
        assert answer == dgram("127.0.0.1", echo.port, b"echo:" + QUERY)
        assert echo.got == [QUERY]
        rec = wait_record(f, lambda r: r.get("task_type") == "UdpConnect", timeout=10)
        assert rec["escaper"] == "up" and rec["r_wr_packets"] == 1
        brec = wait_record(back, lambda r: r.get("task_type") == "UdpConnect", timeout=10)
        assert brec["server_name"] == "socks"
        assert brec["upstream"] == f"127.0.0.1:{echo.port}"
    finally:
        echo.stop()


# ---- https:// forward through proxy_https ------------------------------------------------


def get_abs(port, url, host):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {url} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        head = recv_all(s)
    return int(head.split(b" ", 2)[1])


@pytest.mark.parametrize("forward_https", [True, False])
def test_https_forward_through_proxy_https(daemon_factory, write_conf, back, pki,
                                           forward_https):
    """With forward_https the https:// request goes over the TLS session in
    absolute form and the next hop answers it (its 530 for a name it cannot
    resolve); without it the tunnel would need TLS inside TLS: 503."""
    f = front(daemon_factory, write_conf,
              esc("proxy_https", back.p["https"], ca_of(pki),
                  f"http_forward_capability: {{forward_https: {str(forward_https).lower()}}}"))
    status = get_abs(f.http_port, "https://nosuch.test/x", "nosuch.test")
    if forward_https:
        assert status == 530
        rec = wait_record(back, lambda r: r.get("server_name") == "https"
                          and r.get("task_type") == "HttpForward")
        assert rec["uri"] == "https://nosuch.test/x"
    else:
        assert status == 503
        rec = front_task(f)
        assert rec["reason"] == "EscaperNotUsable"
        assert rec["message"] == "escaper not usable: https forward over TLS to the next proxy"
