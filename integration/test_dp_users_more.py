"""More per-user behaviour (g3proxy §1.5.4, §1.2.1, §3.2, §3.12):
log_rate_limit sampling of task records (user.forbidden.log_skipped), the
user's log_uri_max_chars with the URI password masked, a 407 that keeps the
connection open for the retry with credentials, running tasks of a user
blocked or deleted by a source refresh ended on the idle check
(CanceledAsUserBlocked), and UDP user speed limits through SOCKS5 UDP
ASSOCIATE."""

import base64
import socket
import subprocess
import time

from dp_fixtures import dp_clean_exit, origin, origin_root  # noqa: F401
from dp_helpers import dp_conf, free_port, start_proxyd, task_records, wait_record
from test_dp_metrics import Collector, get, parse, sums
from test_dp_user_limits import keepalive_codes

LOG_USERS = """
user_group:
  - name: g
    static_users:
      - name: sampled
        token: null
        log_rate_limit: 2/s
      - name: short
        token: null
        log_uri_max_chars: 40
      - name: all
        token: null
"""


def stat_conf(port):
    return f"stat:\n  target_udp: 127.0.0.1:{port}\n  prefix: g3proxy\n  emit_interval: 100ms\n"


def test_log_rate_limit(daemon_factory, write_conf, origin):  # noqa: F811
    """log_rate_limit 2/s: of 20 quick requests about 2 are logged, the rest
    skipped and counted; a user without the limit has every record."""
    stat = Collector()
    try:
        hp = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=hp, http="user_group: g", extra=LOG_USERS + stat_conf(stat.port)))
        d.hp = hp
        t0 = time.monotonic()
        assert keepalive_codes(d, "sampled", origin, 20) == ["200"] * 20
        elapsed = time.monotonic() - t0
        assert keepalive_codes(d, "all", origin, 5) == ["200"] * 5
        wait_record(d, lambda r: r.get("user") == "all" and r.get("rsp_status") == 200)
        time.sleep(0.3)
        recs = task_records(d)
        sampled = [r for r in recs if r.get("user") == "sampled"]
        # a burst of 2, then one per 500 ms while the requests ran
        assert 2 <= len(sampled) <= 2 + int(elapsed * 2) + 1, (len(sampled), elapsed)
        assert len(sampled) <= 4 or elapsed > 1.0
        assert len([r for r in recs if r.get("user") == "all"]) == 5
        stat.drain(1.0)
        acc = sums(parse([ln for ln in stat.take() if ln]))
        base = dict(user_group="g", user="sampled", user_type="Static", server="http")
        assert get(acc, "user.forbidden.log_skipped", **base) == 20 - len(sampled)
        assert get(acc, "user.request.total", request="http_forward", **base) == 20
        assert get(acc, "user.forbidden.log_skipped", user_group="g", user="all",
                   user_type="Static", server="http") == 0
    finally:
        stat.close()


def test_user_log_uri_max_chars(daemon_factory, write_conf, origin):  # noqa: F811
    """The user's log_uri_max_chars (40) wins over the server's (1024); the
    password of user:password@ in the URI never reaches the log."""
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, http="user_group: g", extra=LOG_USERS))
    for user in ("short", "all"):
        auth = base64.b64encode(f"{user}:x".encode()).decode()
        with socket.create_connection(("127.0.0.1", hp), timeout=5) as s:
            s.sendall((f"GET http://bob:s3cret@127.0.0.1:{origin.port}/index.html?"
                       f"{'q' * 60} HTTP/1.1\r\nHost: x\r\n"
                       f"Proxy-Authorization: Basic {auth}\r\nConnection: close\r\n\r\n")
                      .encode())
            assert s.recv(64).startswith(b"HTTP/1.1 200")
    short = wait_record(d, lambda r: r.get("user") == "short")
    full = wait_record(d, lambda r: r.get("user") == "all")
    assert len(short["uri"]) == 40, short["uri"]
    assert short["uri"].startswith("http://bob:***@127.0.0.1:")
    assert full["uri"] == f"http://bob:***@127.0.0.1:{origin.port}/index.html?{'q' * 60}"
    assert "s3cret" not in d.stdout_path.read_text()


# ---- 407 keeps the connection ------------------------------------------------------

AUTH_USERS = """
user_group:
  - name: g
    static_users:
      - name: ann
        token: {salt: 0011223344556677, md5: %s}
"""


def ann_conf(hp):
    import hashlib
    md5 = hashlib.md5(b"pw-ann" + bytes.fromhex("0011223344556677")).hexdigest()
    return dp_conf(http_port=hp, http="user_group: g\nauth_realm: r1",
                   extra=AUTH_USERS % md5)


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def read_reply(f):
    """Status and body of one reply read from a socket file."""
    status = f.readline().split(b" ")[1].decode()
    length, close = 0, False
    while True:
        ln = f.readline()
        assert ln, "closed in the reply head"
        if ln == b"\r\n":
            break
        k, _, v = ln.partition(b":")
        if k.lower() == b"content-length":
            length = int(v)
        if k.lower() == b"connection" and v.strip().lower() == b"close":
            close = True
    return status, f.read(length), close


def test_407_then_retry_on_same_connection(daemon_factory, write_conf, origin):  # noqa: F811
    """No credentials, then wrong ones, then right ones on one connection:
    407, 407, 200 — and a pipelined retry right behind a 407 is read too."""
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, ann_conf(hp))
    url = f"http://127.0.0.1:{origin.port}/index.html"
    with socket.create_connection(("127.0.0.1", hp), timeout=5) as s:
        f = s.makefile("rb")
        got = []
        for auth in ("", f"Proxy-Authorization: {basic('ann', 'wrong')}\r\n",
                     f"Proxy-Authorization: {basic('ann', 'pw-ann')}\r\n"):
            s.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
            status, body, close = read_reply(f)
            got.append((status, close))
        assert got == [("407", False), ("407", False), ("200", False)]
        assert body == b"hello from origin\n"
        # both at once: the 407's head is consumed, the retry follows
        s.sendall((f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n\r\n"
                   f"GET {url} HTTP/1.1\r\nHost: x\r\n"
                   f"Proxy-Authorization: {basic('ann', 'pw-ann')}\r\n\r\n").encode())
        assert read_reply(f)[0] == "407"
        status, body, _ = read_reply(f)
        assert status == "200" and body == b"hello from origin\n"
    from helpers import wait_for
    wait_for(lambda: len([r for r in task_records(d) if r.get("user") == "ann"]) == 2 or None,
             5, what="two task records of ann")


def test_407_with_body_closes(daemon_factory, write_conf, origin):  # noqa: F811
    """A refused request with a body: 407 with Connection: close and the
    connection ends (its body is never read as a request); so does a
    client that asked to close."""
    hp = free_port()
    start_proxyd(daemon_factory, write_conf, ann_conf(hp))
    url = f"http://127.0.0.1:{origin.port}/index.html"
    for req in (f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\n"
                f"GET {url} HTTP/1.1\r\nHost: y\r\n\r\n12",
                f"POST {url} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                f"GET {url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                f"GET {url} HTTP/1.0\r\nHost: x\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", hp), timeout=5) as s:
            s.sendall(req.encode())
            f = s.makefile("rb")
            status, _, close = read_reply(f)
            assert (status, close) == ("407", True), req
            assert f.read() == b""  # closed, nothing else answered


def test_curl_proxy_anyauth_reuses_connection(daemon_factory, write_conf, origin):  # noqa: F811
    """curl --proxy-anyauth asks without credentials first; after the 407 it
    retries on the same connection."""
    hp = free_port()
    start_proxyd(daemon_factory, write_conf, ann_conf(hp))
    r = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", "--proxy-anyauth", "-x",
                        f"http://127.0.0.1:{hp}", "-U", "ann:pw-ann",
                        f"http://127.0.0.1:{origin.port}/index.html"],
                       capture_output=True, timeout=20)
    err = r.stderr.decode()
    assert r.returncode == 0, err
    assert r.stdout == b"hello from origin\n"
    assert "407" in err
    assert "Re-using existing connection" in err or "Reusing existing connection" in err, err
    assert err.count("Connected to 127.0.0.1") == 1, err


# ---- running tasks of a blocked / deleted user end on the idle check ----------------

def socks5_login(port, user):
    import struct  # noqa: F401
    from dp_helpers import recv_exact
    t = socket.create_connection(("127.0.0.1", port), timeout=5)
    t.sendall(b"\x05\x01\x02")
    assert recv_exact(t, 2) == b"\x05\x02"
    u = user.encode()
    t.sendall(b"\x01" + bytes([len(u)]) + u + b"\x01x")
    assert recv_exact(t, 2) == b"\x01\x00"
    return t


def udp_associate(port, user):
    """A logged-in UDP ASSOCIATE: (tcp, relay address)."""
    import struct
    from dp_helpers import recv_exact, socks5_addr
    t = socks5_login(port, user)
    t.sendall(b"\x05\x03\x00" + socks5_addr("0.0.0.0") + struct.pack("!H", 0))
    rep = recv_exact(t, 10)
    assert rep[1] == 0, rep
    return t, (socket.inet_ntoa(rep[4:8]), struct.unpack("!H", rep[8:10])[0])


def udp_dgram(port, payload):
    import struct
    from dp_helpers import socks5_addr
    return b"\x00\x00\x00" + socks5_addr("127.0.0.1") + struct.pack("!H", port) + payload


def connect_tunnel(hp, user, origin):  # noqa: F811
    s = socket.create_connection(("127.0.0.1", hp), timeout=5)
    s.sendall((f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n"
               f"Proxy-Authorization: {basic(user, 'x')}\r\n\r\n").encode())
    assert s.recv(64).startswith(b"HTTP/1.1 200")
    return s


def tunnel_works(s):
    """A keep-alive GET through the tunnel gets the origin's page."""
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n")
    f = s.makefile("rb")
    status, body, _ = read_reply(f)
    f.close()
    return status == "200" and body == b"hello from origin\n"


def test_blocked_or_deleted_user_tasks_end(daemon_factory, write_conf, workdir,
                                           origin):  # noqa: F811
    """The file source blocks tom and deletes uma while their CONNECT tunnel
    and UDP association run: both end within task_idle_check_interval (2s)
    plus the source's poll, with reason CanceledAsUserBlocked; vic, left
    alone, keeps his tunnel."""
    import json
    from test_dp_udp import UdpEcho
    from dp_helpers import closed_by_peer
    echo = UdpEcho()
    f = workdir / "users.json"
    f.write_text(json.dumps([{"name": n, "token": None} for n in ("tom", "uma", "vic")]))
    hp, sp = free_port(), free_port()
    idle = "task_idle_check_interval: 2s\ntask_idle_max_count: 100"
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, socks_port=sp, http="user_group: g\n" + idle,
        socks="user_group: g\n" + idle,
        extra=("user_group:\n  - name: g\n"
               f"    source: {{type: file, path: {f}}}\n    refresh_interval: 60s\n")))
    try:
        tom = connect_tunnel(hp, "tom", origin)
        vic = connect_tunnel(hp, "vic", origin)
        assert tunnel_works(tom) and tunnel_works(vic)
        t, relay = udp_associate(sp, "uma")
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(2)
        u.sendto(udp_dgram(echo.port, b"ping"), relay)
        assert u.recvfrom(65536)[0].endswith(b"echo:ping")
        f.write_text(json.dumps([{"name": "tom", "token": None, "block_and_delay": "1s"},
                                 {"name": "vic", "token": None}]))
        t0 = time.monotonic()
        assert closed_by_peer(tom, timeout=6)
        assert closed_by_peer(t, timeout=6)
        took = time.monotonic() - t0
        assert took < 4.5, took
        rec = wait_record(d, lambda r: r.get("user") == "tom")
        assert rec["reason"] == "CanceledAsUserBlocked"
        assert rec["message"] == "canceled: user blocked"
        rec = wait_record(d, lambda r: r.get("user") == "uma")
        assert rec["task_type"] == "UdpConnect"
        assert rec["reason"] == "CanceledAsUserBlocked"
        assert rec["message"] == "canceled: user deleted"
        # vic's tunnel is untouched after several checks
        time.sleep(2.5)
        assert tunnel_works(vic)
        assert not [r for r in task_records(d) if r.get("user") == "vic"]
        vic.close()
        tom.close()
        t.close()
        u.close()
    finally:
        echo.stop()


# ---- UDP user limits ----------------------------------------------------------------

UDP_USERS = """
user_group:
  - name: g
    static_users:
      - name: uslow
        token: null
        udp_sock_speed_limit: {shift_millis: 10, upload_packets: 20}
      - name: udown
        token: null
        udp_all_download_speed_limit: {replenish_interval: 1s, replenish_packets: 15}
      - name: ufree
        token: null
"""


def udp_flood(sp, user, echo, count, spacing):
    """count datagrams, one every spacing seconds, through user's UDP
    association to the echo server; returns (tcp, sent, echoes received)."""
    t, relay = udp_associate(sp, user)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.setblocking(False)
    got = 0
    start = time.monotonic()
    for i in range(count):
        u.sendto(udp_dgram(echo.port, b"x%d" % i), relay)
        while True:
            try:
                u.recvfrom(65536)
                got += 1
            except BlockingIOError:
                break
        delay = start + (i + 1) * spacing - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    end = time.monotonic() + 0.5
    while time.monotonic() < end:
        try:
            u.recvfrom(65536)
            got += 1
        except BlockingIOError:
            time.sleep(0.01)
    u.close()
    return t, got, time.monotonic() - start


def test_udp_user_limits(daemon_factory, write_conf):
    """Through SOCKS5 UDP ASSOCIATE: udp_sock_speed_limit 20 packets per
    1024 ms upload and udp_all_download_speed_limit 15 packets/s cap a
    400-datagram flood over 2 s near the rate; what is over is dropped and
    counted in the task log; a user without limits gets (nearly) all."""
    from test_dp_udp import UdpEcho
    echo = UdpEcho()
    sp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=sp, socks="user_group: g", extra=UDP_USERS))
    try:
        seen0 = len(echo.seen)
        t, got, took = udp_flood(sp, "uslow", echo, 400, 0.005)
        passed = len(echo.seen) - seen0
        # 20 per 1024 ms slice over ~2.5 s: two to four slices
        assert 20 <= passed <= 20 * (int(took / 1.024) + 2), (passed, took)
        assert got == passed
        t.close()
        rec = wait_record(d, lambda r: r.get("user") == "uslow")
        assert rec["c_rd_packets"] == 400
        assert rec["r_wr_packets"] == passed
        assert rec["c_rd_dropped_packets"] == 400 - passed
        assert "r_rd_dropped_packets" not in rec

        seen0 = len(echo.seen)
        t, got, took = udp_flood(sp, "udown", echo, 400, 0.005)
        assert len(echo.seen) - seen0 >= 390  # upload is free
        # a burst of 15, then 15/s
        assert 15 <= got <= 15 + 15 * took + 2, (got, took)
        t.close()
        rec = wait_record(d, lambda r: r.get("user") == "udown")
        assert rec["c_wr_packets"] == got
        assert rec["r_rd_dropped_packets"] == rec["r_rd_packets"] - got

        t, got, _ = udp_flood(sp, "ufree", echo, 200, 0.005)
        assert got >= 190
        t.close()
        rec = wait_record(d, lambda r: r.get("user") == "ufree")
        assert "c_rd_dropped_packets" not in rec and "r_rd_dropped_packets" not in rec
    finally:
        echo.stop()


def test_expired_user_tunnel_ends(daemon_factory, write_conf, origin):  # noqa: F811
    """A static user whose expire passes while a tunnel runs: the next idle
    check after it ends the tunnel (CanceledAsUserBlocked, user expired)."""
    import datetime
    exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3))
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp,
        http="user_group: g\ntask_idle_check_interval: 2s\ntask_idle_max_count: 100",
        extra=("user_group:\n  - name: g\n    static_users:\n"
               f"      - {{name: wes, token: null, expire: '{exp.strftime('%Y-%m-%dT%H:%M:%SZ')}'}}\n")))
    from dp_helpers import closed_by_peer
    s = connect_tunnel(hp, "wes", origin)
    assert tunnel_works(s)
    t0 = time.monotonic()
    assert closed_by_peer(s, timeout=9)
    assert time.monotonic() - t0 >= 1.0  # not before the expiry
    rec = wait_record(d, lambda r: r.get("user") == "wes")
    assert rec["reason"] == "CanceledAsUserBlocked"
    assert rec["message"] == "canceled: user expired"
    s.close()
