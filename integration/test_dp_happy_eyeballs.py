"""RFC 8305 happy eyeballs in direct_fixed: a name with an A and an AAAA
record, one of them blackholed (SYNs dropped), the other serving on the
same port. The preferred family starts; after
happy_eyeballs.connection_attempt_delay the other one starts too and the
first socket that connects wins, long before tcp_connect.each_timeout."""

import socket
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit  # noqa: F401
from dp_helpers import DnsServer, dp_conf, free_port, start_proxyd, wait_record


class Hole:
    """A listener on host:port that never accepts, queue filled: SYNs to it
    are dropped and connects hang."""

    def __init__(self, fam, host, port=0):
        self.sock = socket.socket(fam)
        if fam == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.bind((host, port))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            f = socket.socket(fam)
            f.setblocking(False)
            try:
                f.connect((host, self.port))
            except BlockingIOError:
                pass
            self.fillers.append(f)
        time.sleep(0.2)

    def stop(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


class Hello:
    """Accepts on host:port and answers each connection with one line."""

    def __init__(self, fam, host, port):
        self.sock = socket.socket(fam)
        if fam == socket.AF_INET6:
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            with c:
                c.sendall(b"hello\n")

    def stop(self):
        self.running = False
        self.t.join()
        self.sock.close()


def pair(hole_v6):
    """A blackhole and a server on the same port, one per family."""
    for _ in range(20):
        hf, hh = (socket.AF_INET6, "::1") if hole_v6 else (socket.AF_INET, "127.0.0.1")
        sf, sh = (socket.AF_INET, "127.0.0.1") if hole_v6 else (socket.AF_INET6, "::1")
        hole = Hole(hf, hh)
        try:
            return hole, Hello(sf, sh, hole.port)
        except OSError:
            hole.stop()
    raise AssertionError("no port free in both families")


@pytest.fixture
def names():
    s = DnsServer(a={"he.test": ["127.0.0.1"]}, aaaa={"he.test": ["::1"]}, ttl=300)
    yield s
    s.stop()


def through(daemon_factory, write_conf, dns_port, port, escaper):
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, dns_port=dns_port,
        escaper="tcp_connect:\n  each_timeout: 5s\n" + escaper))
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", hp), timeout=10) as s:
        s.sendall(f"CONNECT he.test:{port} HTTP/1.1\r\n\r\n".encode())
        data = b""
        while b"hello\n" not in data:
            c = s.recv(4096)
            if not c:
                break
            data += c
    took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 200"), data
    assert data.endswith(b"hello\n")
    rec = wait_record(d, lambda r: r.get("upstream") == f"he.test:{port}")
    return took, rec


@pytest.mark.parametrize("hole_v6", [True, False], ids=["v6-blackholed", "v4-blackholed"])
def test_preferred_family_blackholed(daemon_factory, write_conf, names, hole_v6):
    """The preferred family hangs: the other one, started after the attempt
    delay, wins; the hanging socket is dropped."""
    hole, srv = pair(hole_v6)
    try:
        strategy = "Ipv6First" if hole_v6 else "Ipv4First"
        took, rec = through(daemon_factory, write_conf, names.port, hole.port,
                            f"resolve_strategy: {strategy}\n"
                            "happy_eyeballs:\n  connection_attempt_delay: 200ms")
    finally:
        srv.stop()
        hole.stop()
    winner = f"127.0.0.1:{hole.port}" if hole_v6 else f"[::1]:{hole.port}"
    assert rec["next_peer_addr"] == winner
    assert rec["tcp_connect_tries"] == 2
    assert 0.15 <= took < 3.5, took  # not each_timeout (5 s)


def test_attempt_delay_honoured(daemon_factory, write_conf, names):
    """The second family waits connection_attempt_delay (here 1 s)."""
    hole, srv = pair(True)
    try:
        took, rec = through(daemon_factory, write_conf, names.port, hole.port,
                            "resolve_strategy: Ipv6First\n"
                            "happy_eyeballs:\n  connection_attempt_delay: 1s")
    finally:
        srv.stop()
        hole.stop()
    assert rec["next_peer_addr"] == f"127.0.0.1:{hole.port}"
    assert 0.9 <= took < 3.0, took


def test_preferred_family_wins_when_up(daemon_factory, write_conf, names):
    """Both families serve: the preferred one connects first, one try."""
    for _ in range(20):
        a = Hello(socket.AF_INET, "127.0.0.1", 0)
        port = a.sock.getsockname()[1]
        try:
            b = Hello(socket.AF_INET6, "::1", port)
            break
        except OSError:
            a.stop()
    try:
        took, rec = through(daemon_factory, write_conf, names.port, port,
                            "resolve_strategy: Ipv6First")
    finally:
        a.stop()
        b.stop()
    assert rec["next_peer_addr"] == f"[::1]:{port}"
    assert rec["tcp_connect_tries"] == 1
    assert took < 3.0


def test_lost_aaaa_does_not_hold_up(daemon_factory, write_conf):
    """Ipv6First, but the AAAA query is never answered: once A answered, the
    AAAA gets resolution_delay (50 ms), not the resolver's timeout (3 s x 2)."""
    dns = DnsServer(a={"he.test": ["127.0.0.1"]}, silent_aaaa=True)
    srv = Hello(socket.AF_INET, "127.0.0.1", 0)
    port = srv.sock.getsockname()[1]
    try:
        hp = free_port()
        conf = dp_conf(http_port=hp, dns_port=dns.port,
                       escaper="resolve_strategy: Ipv6First")
        d = start_proxyd(daemon_factory, write_conf, conf.replace("each_timeout: 500",
                                                                  "each_timeout: 3000"))
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", hp), timeout=10) as s:
            s.sendall(f"CONNECT he.test:{port} HTTP/1.1\r\n\r\n".encode())
            data = b""
            while b"hello\n" not in data:
                c = s.recv(4096)
                if not c:
                    break
                data += c
        took = time.monotonic() - t0
    finally:
        srv.stop()
        dns.stop()
    assert data.startswith(b"HTTP/1.1 200"), data
    assert took < 3.0, took  # the lost AAAA alone would take 6 s
    rec = wait_record(d, lambda r: r.get("upstream") == f"he.test:{port}")
    assert rec["next_peer_addr"] == f"127.0.0.1:{port}"
