"""SOCKS5 UDP through chains and routes: a stdlib UDP ASSOCIATE client
sends a DNS-shaped query through a front proxyd whose escaper is
proxy_socks5 to a next hop (proxyd, with and without user/password, and a
real danted), or a route_upstream choosing per association between direct
and that peer. A peer that refuses UDP ASSOCIATE gives the client a SOCKS
failure reply; a peer that drops its control connection ends the
association, with no descriptor left behind."""

import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

from dp_fixtures import dns, dp_clean_exit  # noqa: F401
from dp_helpers import (closed_by_peer, dp_conf, free_port, recv_exact, socks5_addr,
                        task_records, wait_port, wait_record)
from helpers import wait_for
from test_dp_chain import Dante, chain_conf, listen_block, start_named

# A DNS query for example.test (id 0x1234, RD), as a resolver would send it.
QUERY = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + \
    b"\x07example\x04test\x00" + struct.pack("!HH", 1, 1)


class UdpEcho:
    """Answers every datagram to its sender, prefixed with a tag."""

    def __init__(self, host="127.0.0.1", tag=b"echo:"):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(fam, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.tag = tag
        self.got = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                d, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            self.got.append(d)
            self.sock.sendto(self.tag + d, peer)

    def stop(self):
        self.sock.close()


@pytest.fixture
def echo():
    e = UdpEcho()
    yield e
    e.stop()


def greet(t, user=None):
    if user is None:
        t.sendall(b"\x05\x01\x00")
        assert recv_exact(t, 2) == b"\x05\x00"
        return
    t.sendall(b"\x05\x01\x02")
    assert recv_exact(t, 2) == b"\x05\x02"
    t.sendall(b"\x01" + bytes([len(user[0])]) + user[0].encode() + bytes([len(user[1])]) +
              user[1].encode())
    assert recv_exact(t, 2) == b"\x01\x00"


def associate(port):
    """UDP ASSOCIATE on a new control connection: (tcp, reply code, relay)."""
    t = socket.create_connection(("127.0.0.1", port), timeout=10)
    greet(t)
    t.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
    head = recv_exact(t, 4)
    if head[3] == 1:
        rest = recv_exact(t, 6)
        relay = (socket.inet_ntoa(rest[:4]), struct.unpack("!H", rest[4:])[0])
    else:
        relay = None
    return t, head[1], relay


def dgram(host, port, payload):
    return b"\x00\x00\x00" + socks5_addr(host) + struct.pack("!H", port) + payload


def exchange(u, relay, data, timeout=3):
    u.sendto(data, relay)
    u.settimeout(timeout)
    try:
        return u.recvfrom(65536)[0]
    except socket.timeout:
        return None


def udp_client():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", 0))
    return u


def front_socks(daemon_factory, write_conf, escapers, name="up", socks="", dns_port=None):
    sp = free_port()
    conf = chain_conf(escapers, listen_block("fsocks", "socks_proxy", sp, name, socks))
    if dns_port:
        conf = conf.replace("    type: c_ares\n",
                            f"    type: c_ares\n    server: 127.0.0.1:{dns_port}\n", 1)
    d = start_named(daemon_factory, write_conf, conf, f"front{sp}")
    d.socks_port = sp
    wait_port(sp)
    return d


def back_socks(daemon_factory, write_conf, socks="", extra="", dns_port=None):
    sp = free_port()
    d = start_named(daemon_factory, write_conf,
                    dp_conf(socks_port=sp, socks=socks, extra=extra, workers=1,
                            dns_port=dns_port), f"back{sp}")
    d.socks_port = sp
    wait_port(sp)
    return d


def peer_yaml(port, name="up", extra=""):
    return (f"  - name: {name}\n    type: proxy_socks5\n    proxy_addr: 127.0.0.1:{port}\n" +
            "".join("    " + ln + "\n" for ln in extra.splitlines() if ln.strip()))


def query_through(front, target):
    """One DNS-shaped query to target through front; returns the answer
    datagram (with its SOCKS header) and the relay address."""
    t, rep, relay = associate(front.socks_port)
    assert rep == 0, f"UDP ASSOCIATE refused with {rep}"
    with t, udp_client() as u:
        back = exchange(u, relay, dgram(target[0], target[1], QUERY))
    return back, relay


# ---- proxyd → proxyd ----------------------------------------------------------------------


def openssl_sha512(pw):
    return subprocess.run(["openssl", "passwd", "-6", pw], capture_output=True, check=True,
                          text=True).stdout.strip()


@pytest.mark.parametrize("auth", [False, True], ids=["noauth", "userpass"])
def test_udp_through_proxyd_peer(daemon_factory, write_conf, echo, auth):
    socks, extra, peer_extra = "", "", ""
    if auth:
        socks = "user_group: g"
        extra = ("user_group:\n  - name: g\n    static_users:\n      - name: alice\n"
                 f"        token: {{type: xcrypt_hash, value: '{openssl_sha512('s3cret')}'}}\n")
        peer_extra = "proxy_username: alice\nproxy_password: s3cret"
    back = back_socks(daemon_factory, write_conf, socks, extra)
    front = front_socks(daemon_factory, write_conf, peer_yaml(back.socks_port, extra=peer_extra))
    answer, _ = query_through(front, ("127.0.0.1", echo.port))
    # the answer comes back unwrapped from the peer's relay and wrapped
    # again for the client, naming the echo as its sender
    assert answer == dgram("127.0.0.1", echo.port, b"echo:" + QUERY)
    assert echo.got == [QUERY]
    rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
    assert rec["escaper"] == "up"
    assert rec["upstream"] == f"127.0.0.1:{echo.port}"
    assert rec["c_rd_packets"] == 1 and rec["r_wr_packets"] == 1
    assert rec["r_rd_packets"] == 1 and rec["c_wr_packets"] == 1
    assert rec["r_wr_bytes"] == len(QUERY) and rec["c_wr_bytes"] == len(QUERY) + 5
    # the next hop carried it as its own UDP task (for the right user)
    brec = wait_record(back, lambda r: r.get("task_type") == "UdpConnect")
    assert brec["upstream"] == f"127.0.0.1:{echo.port}"
    assert brec["r_wr_packets"] == 1
    if auth:
        assert brec["user"] == "alice"
    # a wrong password: the peer refuses, the client gets a failure reply
    if auth:
        bad = front_socks(daemon_factory, write_conf,
                          peer_yaml(back.socks_port, "bad",
                                    "proxy_username: alice\nproxy_password: nope"), "bad")
        t, rep, _ = associate(bad.socks_port)
        t.close()
        assert rep == 1
        rec = wait_record(bad, lambda r: r.get("task_type") == "UdpConnect")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert rec["message"] == "socks5 peer: authentication rejected"


def test_udp_full_associate_through_peer(daemon_factory, write_conf, echo):
    """use_udp_associate on both hops: every datagram names its own target
    (two echoes) through the one peer association."""
    other = UdpEcho(tag=b"other:")
    try:
        back = back_socks(daemon_factory, write_conf, "use_udp_associate: true")
        front = front_socks(daemon_factory, write_conf, peer_yaml(back.socks_port),
                            socks="use_udp_associate: true")
        t, rep, relay = associate(front.socks_port)
        assert rep == 0
        with t, udp_client() as u:
            assert exchange(u, relay, dgram("127.0.0.1", echo.port, b"a")) == \
                dgram("127.0.0.1", echo.port, b"echo:a")
            assert exchange(u, relay, dgram("127.0.0.1", other.port, b"b")) == \
                dgram("127.0.0.1", other.port, b"other:b")
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpAssociate")
        assert rec["escaper"] == "up" and rec["r_wr_packets"] == 2
        assert rec["initial_peer"] == f"127.0.0.1:{echo.port}"
    finally:
        other.stop()


# ---- proxyd → danted ---------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("danted") is None, reason="danted not installed")
def test_udp_through_dante(daemon_factory, write_conf, echo):
    dn = Dante()
    try:
        front = front_socks(daemon_factory, write_conf, peer_yaml(dn.port))
        answer, _ = query_through(front, ("127.0.0.1", echo.port))
        assert answer == dgram("127.0.0.1", echo.port, b"echo:" + QUERY), dn.text_log()[-2000:]
        assert echo.got == [QUERY]
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
        assert rec["escaper"] == "up" and rec["r_rd_packets"] == 1
    finally:
        dn.stop()


# ---- route_upstream ---------------------------------------------------------------------


def test_udp_route_upstream_by_target(daemon_factory, write_conf):
    """route_upstream decides per association on the first datagram's
    target: ::1 goes through the socks5 peer, the rest direct."""
    e4, e6 = UdpEcho("127.0.0.1", b"v4:"), UdpEcho("::1", b"v6:")
    try:
        back = back_socks(daemon_factory, write_conf)
        rt = ("  - name: rt\n    type: route_upstream\n    default_next: direct\n"
              "    subnet_match:\n      viapeer: ['::1/128']\n")
        front = front_socks(daemon_factory, write_conf,
                            rt + peer_yaml(back.socks_port, "viapeer"), "rt")
        a4, _ = query_through(front, ("127.0.0.1", e4.port))
        a6, _ = query_through(front, ("::1", e6.port))
        assert a4 == dgram("127.0.0.1", e4.port, b"v4:" + QUERY)
        assert a6 == dgram("::1", e6.port, b"v6:" + QUERY)
        assert e4.got == [QUERY] and e6.got == [QUERY]
        def udp_recs(d, n):
            recs = [r for r in task_records(d) if r.get("task_type") == "UdpConnect"]
            return recs if len(recs) >= n else None
        recs = wait_for(lambda: udp_recs(front, 2), 5, what="two UDP task records")
        by_up = {r["upstream"]: r["escaper"] for r in recs}
        assert by_up == {f"127.0.0.1:{e4.port}": "direct", f"[::1]:{e6.port}": "viapeer"}
        # only the ::1 association went through the next hop
        wait_for(lambda: udp_recs(back, 1), 5, what="the next hop's UDP record")
        time.sleep(0.3)
        assert [r["upstream"] for r in udp_recs(back, 1)] == [f"[::1]:{e6.port}"]
    finally:
        e4.stop()
        e6.stop()


OTHER_ROUTES = {
    # route_resolved resolves the first datagram's name (origin.test → 127.0.0.1)
    "resolved": ("  - name: rt\n    type: route_resolved\n    resolver: dns\n"
                 "    default_next: direct\n"
                 "    lpm_match:\n      - {next: viapeer, networks: [127.0.0.1/32]}\n",
                 "origin.test"),
    "client": ("  - name: rt\n    type: route_client\n    default_next: direct\n"
               "    subnet_match:\n      - {next: viapeer, subnets: [127.0.0.0/8]}\n",
               "127.0.0.1"),
    "select": ("  - name: rt\n    type: route_select\n    next_nodes: [viapeer]\n"
               "    next_pick_policy: rendezvous\n", "127.0.0.1"),
    "mapping": ("  - name: rt\n    type: route_mapping\n    next: [viapeer]\n", "127.0.0.1"),
}


@pytest.mark.parametrize("kind", sorted(OTHER_ROUTES))
def test_udp_other_routes(daemon_factory, write_conf, echo, dns, kind):  # noqa: F811
    """route_resolved / route_client / route_select / route_mapping pick the
    socks5 peer for the association (direct is the default where there is
    one): the next hop carries it, the task log names the peer escaper."""
    route, host = OTHER_ROUTES[kind]
    back = back_socks(daemon_factory, write_conf, dns_port=dns.port)
    front = front_socks(daemon_factory, write_conf, route + peer_yaml(back.socks_port, "viapeer"),
                        "rt", dns_port=dns.port)
    answer, _ = query_through(front, (host, echo.port))
    assert answer == dgram("127.0.0.1", echo.port, b"echo:" + QUERY)
    rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
    assert rec["escaper"] == "viapeer" and rec["upstream"] == f"{host}:{echo.port}"
    brec = wait_record(back, lambda r: r.get("task_type") == "UdpConnect")
    assert brec["upstream"] == f"{host}:{echo.port}" and brec["r_rd_packets"] == 1


def test_udp_route_failover(daemon_factory, write_conf, echo):
    """route_failover for UDP: the primary (a socks5 peer that is down)
    fails, the standby (direct) carries the association."""
    rt = ("  - name: rt\n    type: route_failover\n    primary_next: dead\n"
          "    standby_next: direct\n    fallback_delay: 5s\n")
    front = front_socks(daemon_factory, write_conf, rt + peer_yaml(free_port(), "dead"), "rt")
    started = time.monotonic()
    answer, _ = query_through(front, ("127.0.0.1", echo.port))
    assert answer == dgram("127.0.0.1", echo.port, b"echo:" + QUERY)
    assert time.monotonic() - started < 3  # at once on failure, not after fallback_delay
    rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
    assert rec["escaper"] == "direct"


def test_udp_route_to_escaper_without_udp(daemon_factory, write_conf, echo):
    """A route choosing proxy_http (no UDP): the association ends on the
    first datagram, the task log says why; dummy_deny straight: refused."""
    rt = ("  - name: rt\n    type: route_upstream\n    default_next: web\n"
          "  - name: web\n    type: proxy_http\n    proxy_addr: 127.0.0.1:9\n")
    front = front_socks(daemon_factory, write_conf, rt, "rt")
    t, rep, relay = associate(front.socks_port)
    assert rep == 0
    with t, udp_client() as u:
        u.sendto(dgram("127.0.0.1", echo.port, QUERY), relay)
        assert closed_by_peer(t)
    rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
    assert rec["escaper"] == "web" and rec["reason"] == "EscaperNotUsable"
    assert rec["message"] == "escaper not usable: an http proxy cannot relay udp"
    assert echo.got == []
    # proxy_http as the server's escaper: a failure reply at once
    web = front_socks(daemon_factory, write_conf,
                      "  - name: web\n    type: proxy_http\n    proxy_addr: 127.0.0.1:9\n",
                      "web")
    t, rep, _ = associate(web.socks_port)
    t.close()
    assert rep == 1
    # (proxy_socks5s carries UDP: test_dp_chain_tls.py)


# ---- misbehaving peers ---------------------------------------------------------------------


class FakePeer:
    """A SOCKS5 next hop answering UDP ASSOCIATE with rep (0 = success,
    relay relay_ip:<its UDP port>; by default 0.0.0.0, so the client must
    use the peer's own address); its relay answers each datagram with
    "peer:" + payload under the same header. drop() closes the control
    connections."""

    def __init__(self, rep=0, relay_ip="0.0.0.0"):
        self.rep = rep
        self.relay_ip = socket.inet_aton(relay_ip)
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        self.usock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.usock.bind(("127.0.0.1", 0))
        self.uport = self.usock.getsockname()[1]
        self.ctl = []
        self.requests = []
        threading.Thread(target=self._accept, daemon=True).start()
        threading.Thread(target=self._relay, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                c.settimeout(5)
                recv_exact(c, 3)
                c.sendall(b"\x05\x00")
                req = recv_exact(c, 10)
                self.requests.append(req)
                c.sendall(bytes([5, self.rep, 0, 1]) + self.relay_ip +
                          struct.pack("!H", self.uport))
            except OSError:
                c.close()
                continue
            if self.rep != 0:
                c.close()
            else:
                self.ctl.append(c)

    def _relay(self):
        while True:
            try:
                d, peer = self.usock.recvfrom(65536)
            except OSError:
                return
            hlen = {1: 10, 4: 22, 3: 7 + d[4] if len(d) > 4 else 0}.get(d[3], 0)
            self.usock.sendto(d[:hlen] + b"peer:" + d[hlen:], peer)

    def drop(self):
        for c in self.ctl:
            c.close()
        self.ctl = []

    def stop(self):
        self.drop()
        self.lsock.close()
        self.usock.close()


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_udp_peer_refuses(daemon_factory, write_conf):
    p = FakePeer(rep=7)  # command not supported
    try:
        front = front_socks(daemon_factory, write_conf, peer_yaml(p.port))
        t, rep, _ = associate(front.socks_port)
        t.close()
        assert rep == 1  # general failure
        # proxyd asked for UDP ASSOCIATE (cmd 3) with 0.0.0.0:0
        assert p.requests == [b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00"]
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
        assert rec["reason"] == "UpstreamNotNegotiated"
        assert "socks5 peer" in rec["message"]
    finally:
        p.stop()


def test_udp_peer_control_dropped(daemon_factory, write_conf, echo):
    p = FakePeer()
    try:
        front = front_socks(daemon_factory, write_conf, peer_yaml(p.port))
        # a first association warms up what the process keeps (workers,
        # pools, loggers) so the count below sees only the association
        t, rep, relay = associate(front.socks_port)
        assert rep == 0
        t.close()
        wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
        time.sleep(0.3)
        before = fd_count(front.proc.pid)
        t, rep, relay = associate(front.socks_port)
        assert rep == 0
        with t, udp_client() as u:
            target = ("127.0.0.1", echo.port)
            assert exchange(u, relay, dgram(*target, b"x")) == dgram(*target, b"peer:x")
            assert fd_count(front.proc.pid) > before
            p.drop()
            assert closed_by_peer(t), "the association should end with the control connection"
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect"
                          and r.get("reason") == "ClosedByUpstream")
        assert rec["message"] == "peer closed the udp control connection"
        assert rec["next_peer_addr"] == f"127.0.0.1:{p.uport}"
        wait_for(lambda: fd_count(front.proc.pid) == before, 5,
                 what=f"fd count back to {before}")
    finally:
        p.stop()


@pytest.mark.parametrize("end_on_close", [False, True])
def test_udp_peer_control_closed_early(daemon_factory, write_conf, echo, end_on_close):
    """A clean close of the control connection before any datagram came
    back is ignored as in g3, unless end_on_control_closed."""
    p = FakePeer()
    try:
        front = front_socks(daemon_factory, write_conf,
                            peer_yaml(p.port, extra="end_on_control_closed: true"
                                      if end_on_close else ""))
        t, rep, relay = associate(front.socks_port)
        assert rep == 0
        with t, udp_client() as u:
            wait_for(lambda: p.ctl, 5, what="the control connection")
            p.drop()
            if end_on_close:
                assert closed_by_peer(t)
            else:
                assert not closed_by_peer(t, 0.5)
                target = ("127.0.0.1", echo.port)
                assert exchange(u, relay, dgram(*target, b"y")) == dgram(*target, b"peer:y")
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
        if end_on_close:
            assert rec["reason"] == "ClosedByUpstream"
        else:
            assert rec["reason"] == "ClosedByClient" and rec["r_rd_packets"] == 1
    finally:
        p.stop()


@pytest.mark.parametrize("transmute,works", [("", False), ("true", True),
                                             ("{127.0.0.9: 127.0.0.1}", True),
                                             ("{127.0.0.8: 127.0.0.1}", False)],
                         ids=["off", "true", "map-hit", "map-miss"])
def test_udp_transmute_peer_ip(daemon_factory, write_conf, echo, transmute, works):
    """The peer announces a relay IP it is not reachable at (127.0.0.9):
    transmute_udp_peer_ip (true, or a map with that IP) uses the peer's
    address (or the mapped one) instead."""
    p = FakePeer(relay_ip="127.0.0.9")
    try:
        extra = f"transmute_udp_peer_ip: {transmute}" if transmute else ""
        front = front_socks(daemon_factory, write_conf, peer_yaml(p.port, extra=extra))
        t, rep, relay = associate(front.socks_port)
        assert rep == 0
        with t, udp_client() as u:
            target = ("127.0.0.1", echo.port)
            back = exchange(u, relay, dgram(*target, b"z"), 1)
        assert back == (dgram(*target, b"peer:z") if works else None)
        rec = wait_record(front, lambda r: r.get("task_type") == "UdpConnect")
        want = "127.0.0.1" if works else "127.0.0.9"
        assert rec["next_peer_addr"] == f"{want}:{p.uport}"
    finally:
        p.stop()
