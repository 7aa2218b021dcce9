"""Port servers in front of socks_proxy / http_proxy: plain_tcp_port with and
without a mandatory PROXY protocol header (v1 text, v2 binary). The PROXY
source becomes the task's client_addr and is what the target server's
ingress_network_filter judges; the port's own filter judges the real peer;
bad or missing headers close the connection and the port keeps serving."""

import socket
import struct
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, origin, origin_root  # noqa: F401
from dp_helpers import (closed_by_peer, dp_conf, free_port, http_get_over, recv_exact,
                        socks5_addr, start_proxyd, wait_port, wait_record)

V2SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


def v1(src, sport, dst="127.0.0.1", dport=1080, proto="TCP4"):
    return f"PROXY {proto} {src} {dst} {sport} {dport}\r\n".encode()


def v2_inet(src, sport, dst="127.0.0.1", dport=1080, cmd=0x21):
    return (V2SIG + bytes([cmd, 0x11]) + struct.pack("!H", 12) + socket.inet_aton(src)
            + socket.inet_aton(dst) + struct.pack("!HH", sport, dport))


def v2_inet6(src, sport, dst="::1", dport=1080):
    return (V2SIG + b"\x21\x21" + struct.pack("!H", 36 + 5)
            + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport) + b"\x04\x00\x02zz")  # a NOOP TLV, skipped


def socks5_after(port, header, host, dport):
    """Connect, send header, then a SOCKS5 greeting + CONNECT in one go;
    returns (socket, reply bytes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(header + b"\x05\x01\x00")
    m = recv_exact(s, 2)
    if m != b"\x05\x00":
        return s, m
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", dport))
    return s, m + recv_exact(s, 10)


@pytest.fixture
def ports(daemon_factory, write_conf):
    """socks_proxy 'socks' (denies 198.51.100.0/24 as clients) and http_proxy
    'http'; plain_tcp_port: pp1 (PROXY v1 → socks), pp2 (v2 → socks),
    ppauto (v1 → http, 1s header timeout), plain (no header → socks),
    denyport (no header, denies 127.0.0.1 itself)."""
    p = {k: free_port() for k in ("socks", "http", "pp1", "pp2", "pph", "plain", "deny")}
    extra = "".join(
        f"  - name: {n}\n    type: plain_tcp_port\n    listen: 127.0.0.1:{p[k]}\n"
        f"    server: {srv}\n" + "".join(f"    {ln}\n" for ln in more)
        for n, k, srv, more in (
            ("pp1", "pp1", "socks", ["proxy_protocol: 1", "proxy_protocol_read_timeout: 1s"]),
            ("pp2", "pp2", "socks", ["proxy_protocol: 2"]),
            ("pph", "pph", "http", ["proxy_protocol: 1"]),
            ("plain", "plain", "socks", []),
            ("denyport", "deny", "socks", ["ingress_network_filter: {deny: 127.0.0.1}"]),
        ))
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=p["socks"], http_port=p["http"],
        socks="ingress_network_filter: {default: allow, deny: [198.51.100.0/24]}",
        extra=extra))
    for k in p:
        if k != "deny":
            wait_port(p[k])
    d.p = p
    return d


def client_is(addr):
    return lambda r: r.get("client_addr") == addr


def test_plain_port_hands_to_socks(ports, origin):  # noqa: F811
    r = curl("--socks5", f"127.0.0.1:{ports.p['plain']}",
             f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(ports, lambda r: r.get("upstream") == f"127.0.0.1:{origin.port}")
    assert rec["server_name"] == "socks"
    assert rec["client_addr"].startswith("127.0.0.1:")


@pytest.mark.parametrize("which,header,client", [
    ("pp1", v1("192.0.2.7", 40001), "192.0.2.7:40001"),
    ("pp2", v2_inet("192.0.2.8", 40002), "192.0.2.8:40002"),
    ("pp2", v2_inet6("2001:db8::9", 40003), "[2001:db8::9]:40003"),
])
def test_proxy_header_sets_client_addr(ports, origin, which, header, client):  # noqa: F811
    s, rep = socks5_after(ports.p[which], header, "127.0.0.1", origin.port)
    with s:
        assert rep[:4] == b"\x05\x00\x05\x00", rep
        body = http_get_over(s)
    assert body.endswith(b"hello from origin\n")
    rec = wait_record(ports, client_is(client))
    assert rec["server_name"] == "socks"
    assert rec["server_type"] == "SocksProxy"


def test_proxy_header_then_http(ports, origin):  # noqa: F811
    with socket.create_connection(("127.0.0.1", ports.p["pph"]), timeout=5) as s:
        s.sendall(v1("203.0.113.5", 5555) + f"GET http://127.0.0.1:{origin.port}/index.html "
                  "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        body = b""
        s.settimeout(5)
        while True:
            d = s.recv(65536)
            if not d:
                break
            body += d
    assert body.startswith(b"HTTP/1.1 200"), body[:200]
    rec = wait_record(ports, client_is("203.0.113.5:5555"))
    assert rec["server_type"] == "HttpProxy"


def test_local_and_unknown_keep_real_peer(ports, origin):  # noqa: F811
    for which, header in (("pp1", b"PROXY UNKNOWN\r\n"),
                          ("pp2", V2SIG + b"\x20\x00\x00\x00")):
        s, rep = socks5_after(ports.p[which], header, "127.0.0.1", origin.port)
        with s:
            assert rep[:4] == b"\x05\x00\x05\x00", rep
            local = s.getsockname()
            assert http_get_over(s).endswith(b"hello from origin\n")
        wait_record(ports, client_is(f"{local[0]}:{local[1]}"))


def test_target_ingress_filter_judges_proxy_source(ports, origin):  # noqa: F811
    # 198.51.100.0/24 is denied by the socks server: closed before any reply
    with socket.create_connection(("127.0.0.1", ports.p["pp1"]), timeout=5) as s:
        s.sendall(v1("198.51.100.4", 1234) + b"\x05\x01\x00")
        assert closed_by_peer(s)  # no method reply
    # the same real peer with a permitted PROXY source goes through
    s, rep = socks5_after(ports.p["pp1"], v1("192.0.2.44", 1234), "127.0.0.1", origin.port)
    with s:
        assert rep[:4] == b"\x05\x00\x05\x00", rep
    assert ports.ctl.status()["counters"]["ingress_dropped"] >= 1


def test_port_filter_judges_real_peer(ports):
    with socket.create_connection(("127.0.0.1", ports.p["deny"]), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        assert closed_by_peer(s)


@pytest.mark.parametrize("which,bad", [
    ("pp1", b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n"),  # port out of range
    ("pp1", b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"),  # no CR
    ("pp1", b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n"),  # address of the wrong family
    ("pp1", b"PROXY UNKNOWN " + b"x" * 120),  # longer than 107 bytes
    ("pp1", b"\x05\x01\x00"),  # no header at all
    ("pp1", V2SIG + b"\x21\x11\x00\x0c" + b"\x00" * 12),  # v2 on a v1 port
    ("pp2", v1("192.0.2.1", 1)),  # v1 on a v2 port
    ("pp2", V2SIG[:-1] + b"X\x21\x11\x00\x0c"),  # bad signature
    ("pp2", V2SIG + b"\x31\x11\x00\x0c"),  # version 3
    ("pp2", V2SIG + b"\x23\x11\x00\x0c"),  # command 3
    ("pp2", V2SIG + b"\x21\x11\xff\xff"),  # length over the maximum
    ("pp2", V2SIG + b"\x21\x11\x00\x04abcd"),  # too short for INET
])
def test_bad_header_closes(ports, origin, which, bad):  # noqa: F811
    before = ports.ctl.status()["counters"]["proxy_protocol_rejected"]
    with socket.create_connection(("127.0.0.1", ports.p[which]), timeout=5) as s:
        s.sendall(bad)
        assert closed_by_peer(s)
    assert ports.ctl.status()["counters"]["proxy_protocol_rejected"] == before + 1
    # the port goes on serving
    s, rep = socks5_after(ports.p[which], v1("192.0.2.77", 7777) if which == "pp1"
                          else v2_inet("192.0.2.77", 7777), "127.0.0.1", origin.port)
    with s:
        assert rep[:4] == b"\x05\x00\x05\x00", rep


def test_header_timeout_and_split_header(ports, origin):  # noqa: F811
    # nothing within proxy_protocol_read_timeout (1s): closed
    with socket.create_connection(("127.0.0.1", ports.p["pp1"]), timeout=5) as s:
        t0 = time.monotonic()
        s.sendall(b"PROXY TCP4 ")
        assert closed_by_peer(s, timeout=4)
        assert 0.8 < time.monotonic() - t0 < 3.5
    # a header arriving in pieces is fine
    hdr = v2_inet("192.0.2.99", 9999)
    with socket.create_connection(("127.0.0.1", ports.p["pp2"]), timeout=5) as s:
        cuts = [0, 3, 13, 17, len(hdr)]
        for a, b in zip(cuts, cuts[1:]):
            s.sendall(hdr[a:b])
            time.sleep(0.05)
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00" + socks5_addr("127.0.0.1") + struct.pack("!H", origin.port))
        assert recv_exact(s, 10)[:2] == b"\x05\x00"
        assert http_get_over(s).endswith(b"hello from origin\n")
    wait_record(ports, client_is("192.0.2.99:9999"))


# ---- intelli_proxy -------------------------------------------------------------------


@pytest.fixture
def intelli(daemon_factory, write_conf):
    """intelli_proxy 'ip' (no header, 1s detection timeout) and 'ippp'
    (PROXY v2 first) dispatching to 'http' and 'socks'."""
    p = {k: free_port() for k in ("socks", "http", "ip", "ippp")}
    extra = (f"  - name: ip\n    type: intelli_proxy\n    listen: 127.0.0.1:{p['ip']}\n"
             "    http_server: http\n    socks_server: socks\n"
             "    protocol_detection_timeout: 1s\n"
             f"  - name: ippp\n    type: ppdp_tcp_port\n    listen: 127.0.0.1:{p['ippp']}\n"
             "    http_server: http\n    socks_server: socks\n    proxy_protocol: 2\n")
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=p["socks"], http_port=p["http"], extra=extra))
    for k in p:
        wait_port(p[k])
    d.p = p
    return d


@pytest.mark.parametrize("mode,stype", [
    ("--proxy", "HttpProxy"),  # forward
    ("--proxytunnel", "HttpProxy"),  # CONNECT
    ("--socks5", "SocksProxy"),
    ("--socks4", "SocksProxy"),
])
def test_intelli_dispatch(intelli, origin, mode, stype):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    if mode == "--proxytunnel":
        args = ["--proxytunnel", "--proxy", f"http://127.0.0.1:{intelli.p['ip']}", url]
    elif mode == "--proxy":
        args = ["--proxy", f"http://127.0.0.1:{intelli.p['ip']}", url]
    else:
        args = [mode, f"127.0.0.1:{intelli.p['ip']}", url]
    r = curl(*args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(intelli, lambda r: r.get("server_type") == stype)
    assert rec["server_name"] == ("socks" if stype == "SocksProxy" else "http")


def test_intelli_detection_timeout_silent_close(intelli, origin):  # noqa: F811
    with socket.create_connection(("127.0.0.1", intelli.p["ip"]), timeout=5) as s:
        t0 = time.monotonic()
        s.settimeout(4)
        assert s.recv(100) == b""  # closed without a byte
        assert 0.8 < time.monotonic() - t0 < 3.5
    # an immediate close is fine too, and the port goes on
    socket.create_connection(("127.0.0.1", intelli.p["ip"]), timeout=5).close()
    r = curl("--socks5", f"127.0.0.1:{intelli.p['ip']}",
             f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr


def test_intelli_with_proxy_protocol(intelli, origin):  # noqa: F811
    s, rep = socks5_after(intelli.p["ippp"], v2_inet("192.0.2.50", 5050), "127.0.0.1",
                          origin.port)
    with s:
        assert rep[:4] == b"\x05\x00\x05\x00", rep
        assert http_get_over(s).endswith(b"hello from origin\n")
    assert wait_record(intelli, client_is("192.0.2.50:5050"))["server_type"] == "SocksProxy"
    with socket.create_connection(("127.0.0.1", intelli.p["ippp"]), timeout=5) as s:
        s.sendall(v2_inet("192.0.2.51", 5151) + f"GET http://127.0.0.1:{origin.port}/index.html "
                  "HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        s.settimeout(5)
        body = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            body += d
    assert body.startswith(b"HTTP/1.1 200"), body[:200]
    assert wait_record(intelli, client_is("192.0.2.51:5151"))["server_type"] == "HttpProxy"
    # a plain SOCKS greeting without the header is refused
    with socket.create_connection(("127.0.0.1", intelli.p["ippp"]), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        assert closed_by_peer(s)
