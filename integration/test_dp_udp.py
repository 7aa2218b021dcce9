"""SOCKS5 UDP ASSOCIATE through proxyd with a stdlib client: g3's default
"udp connect" mode (one peer per association) and full UDP ASSOCIATE
(use_udp_associate: per-datagram targets, names resolved by proxyd), a DNS
query through the proxy, dropped fragments and foreign senders, the end of
the association with its TCP connection, and the UdpConnect / UdpAssociate
task records."""

import socket
import struct
import threading

import pytest

from dp_fixtures import dns, dp_clean_exit  # noqa: F401
from dp_helpers import (closed_by_peer, dp_conf, free_port, recv_exact, socks5_addr,
                        start_proxyd, wait_record)


class UdpEcho:
    """Sends every datagram back to its sender, prefixed with b"echo:"."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                d, peer = self.sock.recvfrom(65536)
            except OSError:
                return
            self.seen.append(peer)
            self.sock.sendto(b"echo:" + d, peer)

    def stop(self):
        self.sock.close()


@pytest.fixture
def echo():
    e = UdpEcho()
    yield e
    e.stop()


def associate(port, client=("0.0.0.0", 0)):
    """TCP control connection + UDP ASSOCIATE; returns (tcp, reply,
    relay address)."""
    t = socket.create_connection(("127.0.0.1", port), timeout=5)
    t.sendall(b"\x05\x01\x00")
    assert recv_exact(t, 2) == b"\x05\x00"
    t.sendall(b"\x05\x03\x00" + socks5_addr(client[0]) + struct.pack("!H", client[1]))
    rep = recv_exact(t, 10)
    relay = (socket.inet_ntoa(rep[4:8]), struct.unpack("!H", rep[8:10])[0])
    return t, rep, relay


def dgram(host, port, payload, frag=0):
    return b"\x00\x00" + bytes([frag]) + socks5_addr(host) + struct.pack("!H", port) + payload


def exchange(u, relay, data, timeout=2):
    u.sendto(data, relay)
    u.settimeout(timeout)
    try:
        return u.recvfrom(65536)[0]
    except socket.timeout:
        return None


def proxy(daemon_factory, write_conf, dns_port=None, socks=""):
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=port, dns_port=dns_port, socks=socks))
    d.port = port
    return d


def test_udp_connect_mode(daemon_factory, write_conf, echo):
    d = proxy(daemon_factory, write_conf)
    other = UdpEcho()
    try:
        t, rep, relay = associate(d.port)
        assert rep[:4] == b"\x05\x00\x00\x01" and relay[0] == "127.0.0.1" and relay[1] != 0
        with t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            back = exchange(u, relay, dgram("127.0.0.1", echo.port, b"one"))
            # the answer names its sender in a SOCKS UDP header
            assert back == dgram("127.0.0.1", echo.port, b"echo:one")
            assert exchange(u, relay, dgram("127.0.0.1", echo.port, b"two")).endswith(
                b"echo:two")
            # udp connect: the first target is the only peer
            assert exchange(u, relay, dgram("127.0.0.1", other.port, b"x"), 0.5) is None
            # fragments are dropped
            assert exchange(u, relay, dgram("127.0.0.1", echo.port, b"f", frag=1), 0.5) is None
        rec = wait_record(d, lambda r: r.get("task_type") == "UdpConnect")
        assert rec["upstream"] == f"127.0.0.1:{echo.port}"
        assert rec["reason"] == "ClosedByClient"
        assert rec["udp_listen_addr"] == f"{relay[0]}:{relay[1]}"
        assert rec["udp_client_addr"].startswith("127.0.0.1:")
        assert rec["next_peer_addr"] == f"127.0.0.1:{echo.port}"
        # one, two and x were read (x not sent on); the fragment was dropped unread
        assert rec["c_rd_packets"] == 3 and rec["c_rd_bytes"] == 7
        assert rec["r_wr_packets"] == 2 and rec["r_wr_bytes"] == 6
        assert rec["r_rd_packets"] == 2 and rec["c_wr_packets"] == 2
    finally:
        other.stop()


def test_full_associate_and_names(daemon_factory, write_conf, echo, dns):  # noqa: F811
    d = proxy(daemon_factory, write_conf, dns_port=dns.port, socks="use_udp_associate: true")
    other = UdpEcho()
    try:
        t, _, relay = associate(d.port)
        with t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            assert exchange(u, relay, dgram("127.0.0.1", echo.port, b"a")) == \
                dgram("127.0.0.1", echo.port, b"echo:a")
            assert exchange(u, relay, dgram("127.0.0.1", other.port, b"b")) == \
                dgram("127.0.0.1", other.port, b"echo:b")
            # a name: proxyd resolves it (origin.test → 127.0.0.1)
            assert exchange(u, relay, dgram("origin.test", echo.port, b"c")) == \
                dgram("127.0.0.1", echo.port, b"echo:c")
            # a DNS query through the association, answered by the DNS fixture
            q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + \
                b"\x06origin\x04test\x00" + struct.pack("!HH", 1, 1)
            back = exchange(u, relay, dgram("127.0.0.1", dns.port, q))
            answer = back[10:]
            assert answer[:2] == b"\x12\x34" and answer[-4:] == socket.inet_aton("127.0.0.1")
            # the egress filter applies per datagram
            assert exchange(u, relay, dgram("127.0.0.2", echo.port, b"no"), 0.5) is None
        rec = wait_record(d, lambda r: r.get("task_type") == "UdpAssociate")
        assert rec["initial_peer"] == f"127.0.0.1:{echo.port}"
        assert rec["reason"] == "ClosedByClient"
        assert rec["r_wr_packets"] == 4  # a, b, c, the query
    finally:
        other.stop()


def test_foreign_sender_dropped(daemon_factory, write_conf, echo):
    d = proxy(daemon_factory, write_conf)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as intruder:
        u.bind(("127.0.0.1", 0))
        intruder.bind(("127.0.0.1", 0))
        t, _, relay = associate(d.port, client=u.getsockname())
        with t:
            # not the port the client announced
            assert exchange(intruder, relay, dgram("127.0.0.1", echo.port, b"x"), 0.5) is None
            assert exchange(u, relay, dgram("127.0.0.1", echo.port, b"y")).endswith(b"echo:y")
            # once the client is known, nobody else
            assert exchange(intruder, relay, dgram("127.0.0.1", echo.port, b"z"), 0.5) is None
    assert len(echo.seen) == 1


def test_initial_timeout(daemon_factory, write_conf):
    d = proxy(daemon_factory, write_conf, socks="udp_client_initial_timeout: 1s")
    t, _, relay = associate(d.port)
    with t:
        assert closed_by_peer(t, timeout=5)
    rec = wait_record(d, lambda r: r.get("task_type") == "UdpConnect")
    assert rec["reason"] == "ClientAppTimeout"
    assert "udp_client_addr" not in rec


def test_domain_client_address_refused(daemon_factory, write_conf):
    d = proxy(daemon_factory, write_conf)
    t = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    with t:
        t.sendall(b"\x05\x01\x00")
        assert recv_exact(t, 2) == b"\x05\x00"
        t.sendall(b"\x05\x03\x00" + socks5_addr("client.test") + b"\x00\x00")
        assert recv_exact(t, 10)[:2] == b"\x05\x08"
