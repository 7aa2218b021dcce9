"""Proxy chaining escapers end to end: proxyd → proxyd (proxy_http,
proxy_socks5), proxyd → a real squid (with and without Basic auth), proxyd →
a real danted (SOCKS5, username method), for HTTP forward, CONNECT and SOCKS
clients; bad next hops (garbage, 407, close, stall) give 502 / SOCKS general
failure with the reason in the task log; weighted peers are picked in
proportion."""

import collections
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (dp_conf, free_port, http_get_over, recv_all, recv_exact, socks5_open,
                        task_records, wait_port, wait_record)
from helpers import wait_for


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "20", *args], capture_output=True,
                          timeout=timeout)


_SEQ = [0]


def start_named(daemon_factory, write_conf, conf, group, args=("-vv",)):
    """Start a proxyd in its own group with its own stdout / stderr files
    (Daemon names its files after the program and a per-object counter, so
    several proxyds in one test would share them)."""
    import dp_helpers
    _SEQ[0] += 1
    d = daemon_factory("proxyd", group=group)
    d._n = 1000 + _SEQ[0]
    d.conf = write_conf(conf, f"{group}.yaml")
    d.start(d.conf, *args)
    dp_helpers.STARTED.append(d)
    return d


def chain_conf(escapers, servers, workers=1):
    """A proxyd config (dp_conf's resolver, direct escaper and stdout task
    log) with extra escapers and servers given as YAML list items."""
    base = dp_conf(workers=workers)
    return base.replace("server:\n", escapers + "server:\n") + servers


def listen_block(name, typ, port, escaper, extra=""):
    out = f"  - name: {name}\n    type: {typ}\n    listen: 127.0.0.1:{port}\n"
    out += f"    escaper: {escaper}\n"
    return out + "".join("    " + ln + "\n" for ln in extra.splitlines() if ln.strip())


def connect_via(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    return s, head


@pytest.fixture
def back(daemon_factory, write_conf, dns):  # noqa: F811
    """The next-hop proxyd: http_proxy and socks_proxy, direct to loopback,
    resolving through the test DNS server (origin.test → 127.0.0.1)."""
    hp, sp = free_port(), free_port()
    d = start_named(daemon_factory, write_conf,
                    dp_conf(http_port=hp, socks_port=sp, dns_port=dns.port, workers=1), "back")
    d.http_port, d.socks_port = hp, sp
    wait_port(hp)
    return d


def front_for(daemon_factory, write_conf, escaper_yaml, name="up"):
    """proxyd with an http_proxy and a socks_proxy both using escaper
    `name` (given as YAML list items)."""
    hp, sp = free_port(), free_port()
    servers = listen_block("fhttp", "http_proxy", hp, name) + \
        listen_block("fsocks", "socks_proxy", sp, name)
    d = start_named(daemon_factory, write_conf, chain_conf(escaper_yaml, servers),
                    f"front{_SEQ[0] + 1}")
    d.http_port, d.socks_port = hp, sp
    wait_port(hp)
    return d


def check_three_clients(front, origin, name="localhost"):  # noqa: F811
    """HTTP forward, CONNECT and SOCKS5 (IP and name) through the front
    proxy reach the origin and return its bytes; the next hop resolves name."""
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl("-x", f"http://127.0.0.1:{front.http_port}", url)
    assert r.returncode == 0, r.stderr
    assert b"hello" in r.stdout.lower() or len(r.stdout) > 0
    want = r.stdout
    r = curl("-p", "-x", f"http://127.0.0.1:{front.http_port}", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    r = curl("--socks5", f"127.0.0.1:{front.socks_port}", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    r = curl("--socks5-hostname", f"127.0.0.1:{front.socks_port}",
             f"http://{name}:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    return want


# ---- proxyd → proxyd --------------------------------------------------------------


def test_chain_proxyd_http(daemon_factory, write_conf, back, origin):  # noqa: F811
    front = front_for(daemon_factory, write_conf,
                      f"  - name: up\n    type: proxy_http\n"
                      f"    proxy_addr: 127.0.0.1:{back.http_port}\n")
    check_three_clients(front, origin, "origin.test")
    up = f"127.0.0.1:{origin.port}"
    # the front's task log names the escaper and the peer it used
    rec = wait_record(front, lambda r: r.get("server_name") == "fsocks")
    assert rec["escaper"] == "up"
    assert rec["next_peer_addr"] == f"127.0.0.1:{back.http_port}"
    assert rec["reason"] in ("ClosedByClient", "ClosedByUpstream", "Finished")
    # the next hop saw a forwarded request (absolute form) and CONNECTs
    fwd = wait_record(back, lambda r: r.get("task_type") == "HttpForward")
    assert fwd["upstream"] == up
    wait_for(lambda: sum(1 for r in task_records(back) if r.get("task_type") == "TcpConnect"
                         and r.get("upstream") in (up, f"origin.test:{origin.port}")) >= 3,
             5, what="three CONNECT tasks on the next hop")


def test_chain_proxyd_socks5(daemon_factory, write_conf, back, origin):  # noqa: F811
    front = front_for(daemon_factory, write_conf,
                      f"  - name: up\n    type: proxy_socks5\n"
                      f"    proxy_addr: 127.0.0.1:{back.socks_port}\n")
    check_three_clients(front, origin, "origin.test")
    # (the forwarded request's tunnel may stay in the keep-alive pool)
    recs = wait_for(lambda: [r for r in task_records(back) if r.get("server_name") == "socks"]
                    if len([r for r in task_records(back)
                            if r.get("server_name") == "socks"]) >= 3 else None,
                    5, what="three SOCKS tasks on the next hop")
    assert {r["upstream"] for r in recs} >= {f"127.0.0.1:{origin.port}",
                                             f"origin.test:{origin.port}"}


def test_chain_large_transfer(daemon_factory, write_conf, back, origin):  # noqa: F811
    """20 MiB through CONNECT over proxy_http, byte-exact."""
    import hashlib
    front = front_for(daemon_factory, write_conf,
                      f"  - name: up\n    type: proxy_http\n"
                      f"    proxy_addr: 127.0.0.1:{back.http_port}\n")
    r = curl("-p", "-x", f"http://127.0.0.1:{front.http_port}",
             f"http://127.0.0.1:{origin.port}/big.bin", timeout=60)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256


def test_chain_outbound_proxy_protocol(daemon_factory, write_conf, origin):  # noqa: F811
    """use_proxy_protocol: 2 → the next hop (a proxyd behind a PROXY port)
    sees the original client address."""
    pp, hp = free_port(), free_port()
    back_conf = dp_conf(http_port=hp, workers=1) + (
        f"  - name: pp\n    type: plain_tcp_port\n    listen: 127.0.0.1:{pp}\n"
        f"    server: http\n    proxy_protocol: 2\n")
    b = start_named(daemon_factory, write_conf, back_conf, "back")
    wait_port(pp)
    front = front_for(daemon_factory, write_conf,
                      f"  - name: up\n    type: proxy_http\n    proxy_addr: 127.0.0.1:{pp}\n"
                      f"    use_proxy_protocol: 2\n")
    c = socket.create_connection(("127.0.0.1", front.http_port), timeout=5)
    client_port = c.getsockname()[1]
    c.sendall(f"GET http://127.0.0.1:{origin.port}/index.html HTTP/1.1\r\n"
              f"Host: 127.0.0.1:{origin.port}\r\nConnection: close\r\n\r\n".encode())
    assert recv_all(c).startswith(b"HTTP/1.1 200")
    c.close()
    rec = wait_record(b, lambda r: r.get("task_type") == "HttpForward")
    assert rec["client_addr"] == f"127.0.0.1:{client_port}"


# ---- weighted peers -------------------------------------------------------------------


def test_chain_weights(daemon_factory, write_conf, origin):  # noqa: F811
    """Three next hops with weights 1:0:3 under rr: the CONNECTs land on
    them 25% / 0% / 75% (exactly, rr is a schedule)."""
    backs = []
    for i in range(3):
        hp = free_port()
        b = start_named(daemon_factory, write_conf, dp_conf(http_port=hp, workers=1), f"b{i}")
        b.http_port = hp
        backs.append(b)
    for b in backs:
        wait_port(b.http_port)
    front = front_for(daemon_factory, write_conf,
                      "  - name: up\n    type: proxy_http\n    proxy_addr_pick_policy: rr\n"
                      "    proxy_addr:\n"
                      f"      - {{addr: 127.0.0.1:{backs[0].http_port}, weight: 1}}\n"
                      f"      - {{addr: 127.0.0.1:{backs[1].http_port}, weight: 0}}\n"
                      f"      - {{addr: 127.0.0.1:{backs[2].http_port}, weight: 3}}\n")
    n = 40
    for _ in range(n):
        s, head = connect_via(front.http_port, f"127.0.0.1:{origin.port}")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert http_get_over(s).startswith(b"HTTP/1.")
        s.close()
    def front_peers():
        rs = [r["next_peer_addr"] for r in task_records(front)
              if r.get("server_name") == "fhttp"]
        return rs if len(rs) >= n else None
    peers = wait_for(front_peers, 10, what="all front tasks")
    cnt = collections.Counter(peers)
    assert cnt[f"127.0.0.1:{backs[0].http_port}"] == n // 4
    assert cnt[f"127.0.0.1:{backs[1].http_port}"] == 0
    assert cnt[f"127.0.0.1:{backs[2].http_port}"] == 3 * n // 4


# ---- bad next hops --------------------------------------------------------------------


class BadPeer:
    """A fake next-hop proxy that misbehaves in one way per connection:
    garbage, 407, close (after reading the request), stall, partial
    (half a status line then silence)."""

    def __init__(self, mode):
        self.mode = mode
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
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
            try:
                c.settimeout(5)
                c.recv(4096)
                if self.mode == "garbage":
                    c.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\r\n")
                elif self.mode == "407":
                    c.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                              b"Proxy-Authenticate: Basic realm=\"x\"\r\n"
                              b"Content-Length: 0\r\n\r\n")
                elif self.mode == "close":
                    c.close()
                elif self.mode == "partial":
                    c.sendall(b"HTTP/1.1 20")
                elif self.mode == "socks_garbage":
                    c.sendall(b"\x04\x5a")
                elif self.mode == "socks_refuse":
                    c.sendall(b"\x05\x00")
                    c.recv(4096)
                    c.sendall(b"\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00")
                # "stall": read and say nothing
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


@pytest.mark.parametrize("mode,why", [
    ("garbage", "peer sent an invalid CONNECT response"),
    ("407", "peer refused CONNECT: 407 Proxy Authentication Required"),
    ("close", "peer closed the connection during negotiation"),
    ("stall", "peer negotiation timed out"),
    ("partial", "peer negotiation timed out"),
])
def test_bad_http_peer(daemon_factory, write_conf, mode, why):
    bad = BadPeer(mode)
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_http\n"
                          f"    proxy_addr: 127.0.0.1:{bad.port}\n"
                          f"    peer_negotiation_timeout: 1s\n")
        t0 = time.monotonic()
        s, head = connect_via(front.http_port, "192.0.2.7:443")
        took = time.monotonic() - t0
        assert head.startswith(b"HTTP/1.1 502"), head
        s.close()
        assert took < 5
        if mode in ("stall", "partial"):
            assert took >= 0.9
        rec = wait_record(front, lambda r: r.get("server_name") == "fhttp")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert rec["message"] == why
        assert rec["escaper"] == "up"
        # a SOCKS client gets a general failure for the same peer
        s, method, rep = socks5_open(front.socks_port, "192.0.2.7", 443)
        assert method == b"\x05\x00"
        assert rep[:2] == b"\x05\x01", rep
        s.close()
    finally:
        bad.stop()


@pytest.mark.parametrize("mode,why", [
    ("socks_garbage", "socks5 peer: bad version in the method reply"),
    ("socks_refuse", "socks5 peer: connection refused"),
    ("close", "peer closed the connection during negotiation"),
    ("stall", "peer negotiation timed out"),
])
def test_bad_socks_peer(daemon_factory, write_conf, mode, why):
    bad = BadPeer(mode)
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_socks5\n"
                          f"    proxy_addr: 127.0.0.1:{bad.port}\n"
                          f"    peer_negotiation_timeout: 1s\n")
        s, method, rep = socks5_open(front.socks_port, "192.0.2.7", 443)
        assert rep[:2] == b"\x05\x01", rep
        s.close()
        rec = wait_record(front, lambda r: r.get("server_name") == "fsocks")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert rec["message"] == why
        s, head = connect_via(front.http_port, "192.0.2.7:443")
        assert head.startswith(b"HTTP/1.1 502"), head
        s.close()
    finally:
        bad.stop()


def test_peer_down(daemon_factory, write_conf):
    """A next hop that refuses the TCP connect: 521 as for a direct target."""
    port = free_port()
    front = front_for(daemon_factory, write_conf,
                      f"  - name: up\n    type: proxy_http\n    proxy_addr: 127.0.0.1:{port}\n"
                      f"    tcp_connect: {{max_retry: 0}}\n")
    s, head = connect_via(front.http_port, "192.0.2.7:443")
    assert head.startswith(b"HTTP/1.1 521"), head
    s.close()
    rec = wait_record(front, lambda r: r.get("server_name") == "fhttp")
    assert rec["reason"] == "UpstreamNotConnected"
    assert rec["next_peer_addr"] == f"127.0.0.1:{port}"


# ---- real next hops: squid and danted ----------------------------------------------------


class Squid:
    """squid on a free loopback port with a temp config; Basic auth through
    basic_ncsa_auth and an htpasswd file made with openssl when users is
    given ({name: password})."""

    def __init__(self, users=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="g3c-squid-"))
        os.chmod(self.dir, 0o777)  # squid drops root for its own user
        self.port = free_port()
        conf = [
            f"http_port 127.0.0.1:{self.port}",
            f"pid_filename {self.dir}/squid.pid",
            f"cache_log {self.dir}/cache.log",
            f"access_log stdio:{self.dir}/access.log squid",
            f"coredump_dir {self.dir}",
            "cache deny all",
            "cache_mem 8 MB",
            "shutdown_lifetime 1 seconds",
            "pinger_enable off",
            "visible_hostname g3c-test",
            "dns_nameservers 127.0.0.1",
        ]
        if users:
            lines = []
            for u, p in users.items():
                h = subprocess.run(["openssl", "passwd", "-apr1", p], capture_output=True,
                                   check=True).stdout.decode().strip()
                lines.append(f"{u}:{h}\n")
            (self.dir / "htpasswd").write_text("".join(lines))
            os.chmod(self.dir / "htpasswd", 0o644)
            conf += [f"auth_param basic program /usr/lib/squid/basic_ncsa_auth {self.dir}/htpasswd",
                     "auth_param basic realm g3c",
                     "acl users proxy_auth REQUIRED",
                     "http_access allow localhost users"]
        else:
            conf.append("http_access allow localhost")
        conf.append("http_access deny all")
        (self.dir / "squid.conf").write_text("\n".join(conf) + "\n")
        self.log = open(self.dir / "stderr", "wb")
        self.proc = subprocess.Popen(["squid", "-N", "-f", str(self.dir / "squid.conf")],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, timeout=20)
        except AssertionError:
            self.stop()
            raise

    def access_log(self):
        try:
            return (self.dir / "access.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


needs_squid = pytest.mark.skipif(shutil.which("squid") is None, reason="squid not installed")


@needs_squid
def test_chain_squid(daemon_factory, write_conf, origin):  # noqa: F811
    sq = Squid()
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_http\n"
                          f"    proxy_addr: 127.0.0.1:{sq.port}\n")
        check_three_clients(front, origin)
        log = wait_for(lambda: (lambda t: t if "CONNECT" in t and "GET" in t else None)(
            sq.access_log()), 10, what="squid access log")
        assert f"http://127.0.0.1:{origin.port}/index.html" in log  # the forwarded request
        assert f"CONNECT 127.0.0.1:{origin.port}" in log
    finally:
        sq.stop()


@needs_squid
def test_chain_squid_basic_auth(daemon_factory, write_conf, origin):  # noqa: F811
    sq = Squid(users={"alice": "s3cret pass"})
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_http\n"
                          f"    proxy_addr: 127.0.0.1:{sq.port}\n"
                          f"    proxy_username: alice\n    proxy_password: s3cret pass\n")
        check_three_clients(front, origin)
        log = wait_for(lambda: (lambda t: t if " alice " in t else None)(sq.access_log()), 10,
                       what="squid access log with the user")
        assert "TCP_TUNNEL/200" in log
    finally:
        sq.stop()


@needs_squid
@pytest.mark.parametrize("creds", ["", "    proxy_username: alice\n    proxy_password: wrong\n"])
def test_chain_squid_auth_refused(daemon_factory, write_conf, creds):
    """squid answers 407: the CONNECT client gets 502 and the task log says
    why; a SOCKS client gets a general failure."""
    sq = Squid(users={"alice": "s3cret"})
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_http\n"
                          f"    proxy_addr: 127.0.0.1:{sq.port}\n" + creds)
        s, head = connect_via(front.http_port, "127.0.0.1:9")
        assert head.startswith(b"HTTP/1.1 502"), head
        s.close()
        rec = wait_record(front, lambda r: r.get("server_name") == "fhttp")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert rec["message"] == "peer refused CONNECT: 407 Proxy Authentication Required"
        s, method, rep = socks5_open(front.socks_port, "127.0.0.1", 9)
        assert rep[:2] == b"\x05\x01"
        s.close()
    finally:
        sq.stop()


class Dante:
    """danted on a free loopback port; with user, SOCKS5 username method
    against a system account made for the test (removed at stop)."""

    def __init__(self, user=None):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="g3c-dante-"))
        self.port = free_port()
        self.user = None
        method = "none"
        if user is not None:
            name, pw = user
            h = subprocess.run(["mkpasswd", "-m", "sha-512", pw], capture_output=True,
                               check=True).stdout.decode().strip()
            subprocess.run(["useradd", "-M", "-N", "-s", "/usr/sbin/nologin", "-p", h, name],
                           check=True, capture_output=True)
            self.user = name
            method = "username"
        conf = f"""logoutput: {self.dir}/danted.log
debug: 1
internal: 127.0.0.1 port = {self.port}
external: 127.0.0.1
clientmethod: none
socksmethod: {method}
user.privileged: root
user.unprivileged: nobody
client pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
}}
socks pass {{
    from: 127.0.0.0/8 to: 0.0.0.0/0
    log: connect disconnect error
}}
"""
        (self.dir / "danted.conf").write_text(conf)
        self.log = open(self.dir / "stderr", "wb")
        self.proc = subprocess.Popen(["danted", "-f", str(self.dir / "danted.conf"),
                                      "-p", str(self.dir / "danted.pid"), "-N", "1"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port, timeout=20)
        except AssertionError:
            self.stop()
            raise

    def text_log(self):
        try:
            return (self.dir / "danted.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        if self.user is not None:
            subprocess.run(["userdel", self.user], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


needs_dante = pytest.mark.skipif(shutil.which("danted") is None, reason="danted not installed")


@needs_dante
def test_chain_dante(daemon_factory, write_conf, origin):  # noqa: F811
    dn = Dante()
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_socks5\n"
                          f"    proxy_addr: 127.0.0.1:{dn.port}\n")
        check_three_clients(front, origin)
    finally:
        dn.stop()


@needs_dante
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("mkpasswd") is None
                    or shutil.which("useradd") is None,
                    reason="needs root, mkpasswd and useradd for a dante account")
def test_chain_dante_username(daemon_factory, write_conf, origin):  # noqa: F811
    name = f"g3cd{os.getpid() % 100000}"
    dn = Dante(user=(name, "pw-for-dante"))
    try:
        front = front_for(daemon_factory, write_conf,
                          f"  - name: up\n    type: proxy_socks5\n"
                          f"    proxy_addr: 127.0.0.1:{dn.port}\n"
                          f"    proxy_username: {name}\n    proxy_password: pw-for-dante\n")
        check_three_clients(front, origin)
        assert name in dn.text_log()
        # the wrong password: dante refuses (RFC 1929 status != 0)
        yaml = (f"  - name: bad\n    type: proxy_socks5\n"
                f"    proxy_addr: 127.0.0.1:{dn.port}\n"
                f"    proxy_username: {name}\n    proxy_password: wrong\n")
        bad = front_for(daemon_factory, write_conf, yaml, name="bad")
        s, head = connect_via(bad.http_port, f"127.0.0.1:{origin.port}")
        assert head.startswith(b"HTTP/1.1 502"), head
        s.close()
        rec = wait_record(bad, lambda r: r.get("server_name") == "fhttp")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert rec["message"] == "socks5 peer: authentication rejected"
    finally:
        dn.stop()
