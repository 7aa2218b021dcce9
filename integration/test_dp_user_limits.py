"""Per-user limits shared by every worker thread (g3proxy §1.5.4):
request_rate_limit and connection_rate_limit (429 / SOCKS general
failure), request_max_alive (429 while the user's tunnels are open), and
tcp_all_download_speed_limit: 1 MB/s for the whole user across two
parallel downloads, within ±15% over 5 s."""

import base64
import socket
import struct
import subprocess
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit, origin, origin_root  # noqa: F401
from dp_helpers import dp_conf, free_port, recv_exact, socks5_addr, start_proxyd, \
    task_records, wait_record

USERS = """
user_group:
  - name: g
    static_users:
      - name: rate
        token: null
        request_rate_limit: {rate: 2/s, max_burst: 3}
      - name: conns
        token: null
        connection_rate_limit: {rate: 1/s, max_burst: 2}
      - name: alive
        token: null
        request_max_alive: 1
      - name: slow
        token: null
        tcp_all_download_speed_limit:
          replenish_interval: 100ms
          replenish_bytes: 100000
      - name: sock
        token: null
        tcp_sock_speed_limit: 200K
      - name: fast
        token: null
"""


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def limd(daemon_factory, write_conf):
    hp = free_port()
    sp = free_port()
    while sp == hp:
        sp = free_port()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=sp, http_port=hp, workers=2,
                             socks="user_group: g", http="user_group: g", extra=USERS))
    d.hp, d.sp = hp, sp
    return d


def keepalive_codes(d, user, origin, n):  # noqa: F811
    """n forwarded GETs on one connection; the status of each."""
    auth = base64.b64encode(f"{user}:x".encode()).decode()
    codes = []
    with socket.create_connection(("127.0.0.1", d.hp), timeout=5) as s:
        f = s.makefile("rb")
        for _ in range(n):
            s.sendall((f"GET http://127.0.0.1:{origin.port}/index.html HTTP/1.1\r\n"
                       f"Host: x\r\nProxy-Authorization: Basic {auth}\r\n\r\n").encode())
            status = f.readline().split(b" ")[1].decode()
            codes.append(status)
            length = 0
            while True:
                ln = f.readline()
                if ln in (b"\r\n", b""):
                    break
                if ln.lower().startswith(b"content-length:"):
                    length = int(ln.split(b":")[1])
            f.read(length)
            if status != "200":
                break
    return codes


def socks_connect_rep(d, user, port):
    with socket.create_connection(("127.0.0.1", d.sp), timeout=5) as s:
        s.sendall(b"\x05\x01\x02")
        assert recv_exact(s, 2) == b"\x05\x02"
        u = user.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + b"\x01x")
        assert recv_exact(s, 2) == b"\x01\x00"
        s.sendall(b"\x05\x01\x00" + socks5_addr("127.0.0.1") + struct.pack("!H", port))
        return recv_exact(s, 2)[1]


def test_request_rate_limit(limd, origin):  # noqa: F811
    # a burst of 3, then 2 per second: the 4th request at once is refused
    assert keepalive_codes(limd, "rate", origin, 5) == ["200", "200", "200", "429"]
    rec = wait_record(limd, lambda r: r.get("user") == "rate" and r.get("rsp_status") == 429)
    assert rec["reason"] == "ForbiddenByRule"
    # SOCKS tasks of the same user share the limiter: general failure
    assert socks_connect_rep(limd, "rate", origin.port) == 1
    time.sleep(1.1)  # two cells back
    assert keepalive_codes(limd, "rate", origin, 3) == ["200", "200", "429"]


def test_connection_rate_limit(limd, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    codes = []
    for _ in range(3):  # three connections at once: burst 2
        r = curl("-x", f"http://127.0.0.1:{limd.hp}", "-U", "conns:x", "-o", "/dev/null",
                 "-w", "%{http_code}", url)
        codes.append(r.stdout.decode())
    assert codes == ["200", "200", "429"]
    # several requests on one connection count once
    time.sleep(2.1)
    assert keepalive_codes(limd, "conns", origin, 4) == ["200"] * 4


def test_request_max_alive(limd, origin):  # noqa: F811
    auth = base64.b64encode(b"alive:x").decode()
    req = (f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n"
           f"Proxy-Authorization: Basic {auth}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", limd.hp), timeout=5) as s1:
        s1.sendall(req)
        assert s1.recv(64).startswith(b"HTTP/1.1 200")
        with socket.create_connection(("127.0.0.1", limd.hp), timeout=5) as s2:
            s2.sendall(req)
            assert s2.recv(64).startswith(b"HTTP/1.1 429")
        assert socks_connect_rep(limd, "alive", origin.port) == 1
    # the first tunnel closed: its slot is free again
    def ok():
        with socket.create_connection(("127.0.0.1", limd.hp), timeout=5) as s3:
            s3.sendall(req)
            return s3.recv(64).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 5
    while not ok():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_user_download_limit_shared(limd, origin):  # noqa: F811
    """Two parallel downloads by one user (workers: 2) share 1 MB/s."""
    sizes = []

    def fetch():
        r = curl("-x", f"http://127.0.0.1:{limd.hp}", "-U", "slow:x", "--max-time", "5",
                 "-o", "/dev/null", "-w", "%{size_download}",
                 f"http://127.0.0.1:{origin.port}/big.bin")
        sizes.append(int(r.stdout.decode() or 0))

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = sum(sizes)
    rate = total / 5.0
    assert 850_000 <= rate <= 1_150_000, (sizes, rate)
    assert min(sizes) > 0  # both moved
    # another user is not limited by it: the whole 20 MiB within the 5 s
    r = curl("-x", f"http://127.0.0.1:{limd.hp}", "-U", "fast:x", "--max-time", "5", "-o",
             "/dev/null", "-w", "%{size_download}", f"http://127.0.0.1:{origin.port}/big.bin")
    assert int(r.stdout) == 20 * 1024 * 1024


def test_user_sock_speed_limit(limd, origin):  # noqa: F811
    """tcp_sock_speed_limit 200K: 200 kB per 1024 ms slice on the client socket
    (about 195 kB/s, plus at most one slice at the start)."""
    r = curl("-x", f"http://127.0.0.1:{limd.hp}", "-U", "sock:x", "--max-time", "3",
             "-o", "/dev/null", "-w", "%{size_download}",
             f"http://127.0.0.1:{origin.port}/big.bin")
    rate = int(r.stdout) / 3.0
    assert 150_000 <= rate <= 300_000, rate


def test_user_metrics(daemon_factory, write_conf, origin):  # noqa: F811
    """user.* StatsD lines with g3's names and tags, deltas adding up to what
    the client did."""
    from test_dp_metrics import Collector, get, parse, sums
    stat = Collector()
    try:
        hp = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=hp, http="user_group: g",
            extra=USERS + f"stat:\n  target_udp: 127.0.0.1:{stat.port}\n"
                          "  prefix: g3proxy\n  emit_interval: 100ms\n"))
        d.hp = hp
        assert keepalive_codes(d, "rate", origin, 5) == ["200", "200", "200", "429"]
        # a CONNECT right after: over the rate too (429, curl fails)
        r = curl("-x", f"http://127.0.0.1:{hp}", "-U", "rate:x", "-p", "-o", "/dev/null",
                 "-w", "%{http_connect}", f"http://127.0.0.1:{origin.port}/index.html")
        assert r.stdout == b"429"
        stat.drain(1.0)
        acc = sums(parse([ln for ln in stat.take() if ln]))
        base = dict(user_group="g", user="rate", user_type="Static", server="http")
        # the keep-alive connection and the CONNECT one
        assert get(acc, "user.connection.total", connection="http", **base) == 2
        assert get(acc, "user.request.total", request="http_forward", **base) == 4
        assert get(acc, "user.request.total", request="http_connect", **base) == 1
        assert get(acc, "user.forbidden.rate_limited", **base) == 2
        assert get(acc, "user.traffic.out.bytes", request="http_forward", **base) > 0
    finally:
        stat.close()
