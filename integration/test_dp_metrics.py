"""proxyd StatsD metrics (spec §3.12/§3.13): real SOCKS and HTTP traffic
through proxyd with `stat:` pointed at a UDP socket of the test; the lines
that arrive must carry g3proxy's names and tags and their deltas must add up
to what the clients did (task counts, connect outcomes, exact bytes)."""

import re
import socket
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from helpers import wait_for
from dp_helpers import (dp_conf, free_port, http_get_over, socks5_open, start_proxyd,
                        task_records)

LINE_RE = re.compile(r"^g3proxy\.([a-z_.]+):(-?\d+)\|(c|g)\|#(.*)$")


class Collector:
    """A UDP socket that keeps every StatsD line proxyd sends it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.lines = []

    def drain(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            assert len(data) <= 1400, "a datagram above max_segment_size"
            self.lines += data.decode().split("\n")

    def take(self):
        out, self.lines = self.lines, []
        return out

    def close(self):
        self.sock.close()


def parse(lines):
    """[(name, value, kind, tags dict, tag order)] of every line; asserts the
    wire format and the common tags."""
    out = []
    for ln in lines:
        m = LINE_RE.match(ln)
        assert m, f"bad StatsD line {ln!r}"
        pairs = [kv.split(":", 1) for kv in m.group(4).split(",")]
        keys = [k for k, _ in pairs]
        assert keys[:2] == ["daemon_group", "stat_id"], ln
        tags = dict(pairs)
        assert tags["daemon_group"] == "test"
        assert re.fullmatch(r"\d+", tags["stat_id"])
        out.append((m.group(1), int(m.group(2)), m.group(3), tags, keys[2:]))
    return out


def sums(parsed):
    """{(name, frozenset(tags without stat_id)): summed counter deltas}."""
    acc = {}
    for name, val, kind, tags, _ in parsed:
        if kind != "c":
            continue
        key = (name, frozenset((k, v) for k, v in tags.items() if k not in ("stat_id", "daemon_group")))
        acc[key] = acc.get(key, 0) + val
    return acc


def get(acc, name, **tags):
    return acc.get((name, frozenset(tags.items())), 0)


@pytest.fixture
def stat():
    c = Collector()
    yield c
    c.close()


def metrics_proxyd(daemon_factory, write_conf, dns, stat):  # noqa: F811
    sp, hp = free_port(), free_port()
    conf = dp_conf(socks_port=sp, http_port=hp, dns_port=dns.port,
                   socks="extra_metrics_tags:\n  team: qa",
                   extra=f"stat:\n  target_udp: 127.0.0.1:{stat.port}\n"
                         "  prefix: g3proxy\n  emit_interval: 100ms\n")
    d = start_proxyd(daemon_factory, write_conf, conf)
    d.sp, d.hp = sp, hp
    return d


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_metrics_names_tags_and_deltas(daemon_factory, write_conf, dns, origin, stat):  # noqa: F811
    d = metrics_proxyd(daemon_factory, write_conf, dns, stat)

    # idle: only the task.alive gauges of the two online servers, no counters
    stat.drain(0.5)
    idle = parse([ln for ln in stat.take() if ln])
    assert idle, "no StatsD datagram while idle"
    assert {(n, k) for n, _, k, _, _ in idle} == {("server.task.alive", "g")}
    assert {t["server"] for _, _, _, t, _ in idle} == {"socks", "http"}
    stat_ids = {t["stat_id"] for _, _, _, t, _ in idle}
    assert len(stat_ids) == 1

    # 3 SOCKS5 tunnels with one HTTP/1.1 request each (exact bytes known)
    req_len, rsp_len = [], []
    for _ in range(3):
        s, method, head = socks5_open(d.sp, "127.0.0.1", origin.port)
        assert head[:2] == b"\x05\x00"
        req = f"GET /index.html HTTP/1.1\r\nHost: origin\r\nConnection: close\r\n\r\n".encode()
        rsp = http_get_over(s)
        s.close()
        assert rsp.endswith(b"hello from origin\n")
        req_len.append(len(req))
        rsp_len.append(len(rsp))
    # 1 SOCKS5 connect to a closed port: a connect error
    s, _, head = socks5_open(d.sp, "127.0.0.1", closed_port())
    assert head[:2] == b"\x05\x05"
    s.close()
    # 2 HTTP forward requests, each on its own connection
    for _ in range(2):
        r = subprocess.run(["curl", "-sS", "--max-time", "10", "-x", f"127.0.0.1:{d.hp}",
                            f"http://127.0.0.1:{origin.port}/index.html"],
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
        assert r.stdout == b"hello from origin\n"

    wait_for(lambda: len(task_records(d)) >= 6, 5, what="6 task records")
    stat.drain(0.6)
    parsed = parse([ln for ln in stat.take() if ln])
    acc = sums(parsed)
    recs = task_records(d)
    socks_recs = [r for r in recs if r["server_name"] == "socks"]
    http_recs = [r for r in recs if r["server_name"] == "http"]
    assert len(socks_recs) == 4 and len(http_recs) == 2

    sk = {"server": "socks", "online": "y"}
    skx = dict(sk, team="qa")
    ht = {"server": "http", "online": "y"}
    esc = {"escaper": "direct"}
    # listen.* carry only server + online; server.* add the extra tags
    assert get(acc, "listen.accepted", **sk) == 4
    assert get(acc, "listen.accepted", **ht) == 2
    assert get(acc, "server.connection.total", **skx) == 4
    assert get(acc, "server.task.total", **skx) == 4
    assert get(acc, "server.connection.total", **ht) == 2
    assert get(acc, "server.task.total", **ht) == 2
    # escaper: 6 tasks; one connect per task except HTTP forward requests
    # served on a pooled upstream connection (tcp_connect_tries 0); the
    # closed port is the one refused connect
    tries = [r.get("tcp_connect_tries", 0) for r in recs]
    connected = sum(1 for t in tries if t > 0)
    assert sum(tries) == connected and connected >= 5
    assert get(acc, "escaper.task.total", **esc) == 6
    assert get(acc, "escaper.connection.attempt", **esc) == connected
    assert get(acc, "escaper.connection.establish", **esc) == connected - 1
    assert get(acc, "escaper.tcp.connect.attempt", **esc) == connected
    assert get(acc, "escaper.tcp.connect.establish", **esc) == connected - 1
    assert get(acc, "escaper.tcp.connect.success", **esc) == connected - 1
    assert get(acc, "escaper.tcp.connect.error", **esc) == 1
    assert get(acc, "escaper.tcp.connect.timeout", **esc) == 0

    # bytes: the SOCKS tunnels carried exactly the request out and the
    # response back; the HTTP forward bytes match the task records
    ok = [r for r in socks_recs if r["r_rd_bytes"] > 0]
    assert sorted(r["r_wr_bytes"] for r in ok) == sorted(req_len)
    assert sorted(r["r_rd_bytes"] for r in ok) == sorted(rsp_len)
    assert get(acc, "server.traffic.in.bytes", transport="tcp", **skx) == \
        sum(r["c_rd_bytes"] for r in socks_recs) == sum(req_len)
    assert get(acc, "server.traffic.out.bytes", transport="tcp", **skx) == \
        sum(r["c_wr_bytes"] for r in socks_recs) == sum(rsp_len)
    assert get(acc, "server.traffic.in.bytes", transport="tcp", **ht) == \
        sum(r["c_rd_bytes"] for r in http_recs) > 0
    assert get(acc, "server.traffic.out.bytes", transport="tcp", **ht) == \
        sum(r["c_wr_bytes"] for r in http_recs) > 2 * len(b"hello from origin\n")
    assert get(acc, "escaper.traffic.out.bytes", transport="tcp", **esc) == \
        sum(req_len) + sum(r["r_wr_bytes"] for r in http_recs)
    assert get(acc, "escaper.traffic.in.bytes", transport="tcp", **esc) == \
        sum(rsp_len) + sum(r["r_rd_bytes"] for r in http_recs)

    # tag order on the wire: server, online, extra, transport
    orders = {(n, tuple(o)) for n, _, k, _, o in parsed if n == "server.traffic.in.bytes"}
    assert ("server.traffic.in.bytes", ("server", "online", "team", "transport")) in orders
    # one process, one stat_id; every task ended: alive gauges back to 0
    assert {t["stat_id"] for _, _, _, t, _ in parsed} == stat_ids
    last = {}
    for n, v, k, t, _ in parsed:
        if n == "server.task.alive":
            last[t["server"]] = v
    assert last == {"socks": 0, "http": 0}
    # nothing else moved: no counter of a family we did not exercise
    names = {n for (n, _) in acc}
    assert "listen.dropped" not in names and "server.forbidden.dest_denied" not in names

    # deltas, not totals: a quiet period sends no counters at all
    stat.drain(0.4)
    quiet = parse([ln for ln in stat.take() if ln])
    assert quiet and all(k == "g" for _, _, k, _, _ in quiet)


def test_alive_gauge_and_dest_denied(daemon_factory, write_conf, dns, origin, stat):  # noqa: F811
    sp = free_port()
    conf = dp_conf(socks_port=sp, dns_port=dns.port,
                   socks=f"dst_port_filter: [{origin.port}]",
                   extra=f"stat:\n  target_udp: 127.0.0.1:{stat.port}\n"
                         "  prefix: g3proxy\n  emit_interval: 100ms\n")
    d = start_proxyd(daemon_factory, write_conf, conf)

    s, _, head = socks5_open(sp, "127.0.0.1", origin.port)
    assert head[:2] == b"\x05\x00"

    def alive_is(n):
        stat.drain(0.25)
        p = parse([ln for ln in stat.take() if ln])
        vals = [v for name, v, _, t, _ in p if name == "server.task.alive"]
        return vals and vals[-1] == n
    wait_for(lambda: alive_is(1), 5, what="server.task.alive 1")
    s.close()
    wait_for(lambda: alive_is(0), 5, what="server.task.alive 0")

    s, _, head = socks5_open(sp, "127.0.0.1", 9)
    assert head[:2] == b"\x05\x02"
    s.close()
    wait_for(lambda: len(task_records(d)) >= 2, 5, what="2 task records")
    stat.drain(0.4)
    acc = sums(parse([ln for ln in stat.take() if ln]))
    assert get(acc, "server.forbidden.dest_denied", server="socks", online="y") == 1
    # a denied task never reaches the escaper
    assert get(acc, "escaper.task.total", escaper="direct") == 1


# ---- g3ctl -d proxyd list / server status ------------------------------------------


@pytest.fixture
def ctl_proxyd(daemon_factory, write_conf, dns, origin, workdir):  # noqa: F811
    from helpers import Ctl
    sp, hp = free_port(), free_port()
    conf = dp_conf(socks_port=sp, http_port=hp, dns_port=dns.port)
    # a second escaper and resolver, so lists have more than one name
    conf = conf.replace("server:\n", "  - name: deny\n    type: dummy_deny\n"
                        "  - name: deny2\n    type: dummy_deny\nserver:\n", 1)
    d = start_proxyd(daemon_factory, write_conf, conf)
    d.sp = sp
    return d, Ctl("proxyd", "test", workdir)


def test_ctl_list(ctl_proxyd):
    d, ctl = ctl_proxyd
    r = ctl.run("list", "servers")
    assert r.returncode == 0, r.stderr
    lines = [ln.strip() for ln in r.stdout.splitlines()]
    assert lines == ["names:", "- socks", "- http"], r.stdout
    assert ctl.json("list", "servers") == {"names": ["socks", "http"]}
    assert ctl.json("list", "escapers") == {"names": ["direct", "deny", "deny2"]}
    assert ctl.json("list", "resolvers") == {"names": ["dns"]}
    assert ctl.json("list", "user-groups") == {"names": []}
    assert ctl.json("list", "auditors") == {"names": []}
    # singular spellings (g3proxy-ctl's) work too
    assert ctl.json("list", "escaper") == {"names": ["direct", "deny", "deny2"]}
    r = ctl.run("list", "widgets")
    assert r.returncode == 2 and "unknown kind 'widgets'" in r.stderr
    r = ctl.run("list")
    assert r.returncode == 2 and "usage" in r.stderr


def test_ctl_server_status(ctl_proxyd, origin):  # noqa: F811
    d, ctl = ctl_proxyd
    assert ctl.json("server", "socks", "status") == {
        "name": "socks", "online": True, "alive_tasks": 0, "total_connections": 0,
        "total_tasks": 0}
    s, _, head = socks5_open(d.sp, "127.0.0.1", origin.port)
    assert head[:2] == b"\x05\x00"
    st = ctl.json("server", "socks", "status")
    assert (st["alive_tasks"], st["total_connections"], st["total_tasks"]) == (1, 1, 1)
    s.close()
    wait_for(lambda: ctl.json("server", "socks", "status")["alive_tasks"] == 0, 5,
             what="alive_tasks 0")
    st = ctl.json("server", "socks", "status")
    assert (st["total_connections"], st["total_tasks"]) == (1, 1)
    r = ctl.run("server", "socks", "status")
    assert r.returncode == 0
    assert re.search(r"online:\s+(true|yes)", r.stdout), r.stdout
    assert re.search(r"total_tasks:\s+1", r.stdout), r.stdout
    r = ctl.run("server", "nosuch", "status")
    assert r.returncode == 1 and "no server of that name" in r.stderr
    for bad in (("server", "socks"), ("server", "socks", "frobnicate"), ("server",)):
        r = ctl.run(*bad)
        assert r.returncode == 2 and "usage: server NAME status" in r.stderr, bad


def test_ctl_resolver_query(ctl_proxyd, dns):  # noqa: F811
    d, ctl = ctl_proxyd
    # origin.test has A 127.0.0.1 and AAAA ::1 in the DNS fixture
    assert ctl.json("resolver", "dns", "query", "origin.test") == {"addrs": ["127.0.0.1", "::1"]}
    assert ctl.json("resolver", "dns", "query", "origin.test", "--strategy", "ipv6first") == \
        {"addrs": ["::1", "127.0.0.1"]}
    assert ctl.json("resolver", "dns", "query", "origin.test", "--strategy", "ipv6only") == \
        {"addrs": ["::1"]}
    assert ctl.json("resolver", "dns", "query", "v4only.test", "-s", "ipv4only") == \
        {"addrs": ["127.0.0.1"]}
    r = ctl.run("resolver", "dns", "query", "origin.test")
    assert r.returncode == 0
    assert [ln.strip() for ln in r.stdout.splitlines()] == ["addrs:", "- 127.0.0.1", "- ::1"]
    r = ctl.run("resolver", "dns", "query", "nosuch.test")
    assert r.returncode == 1 and "no such name" in r.stderr, r
    r = ctl.run("resolver", "nosuch", "query", "origin.test")
    assert r.returncode == 1 and "no resolver of that name" in r.stderr
    r = ctl.run("resolver", "dns", "query", "origin.test", "--strategy", "fastest")
    assert r.returncode == 2 and "unknown strategy 'fastest'" in r.stderr
    for bad in (("resolver", "dns"), ("resolver", "dns", "lookup", "x"),
                ("resolver", "dns", "query", "x", "--bogus", "y")):
        r = ctl.run(*bad)
        assert r.returncode == 2 and "usage: resolver NAME query HOST" in r.stderr, bad
    # the proxy still serves afterwards (no worker was blocked)
    assert ctl.json("server", "socks", "status")["online"] is True


def test_ctl_resolver_query_does_not_block(daemon_factory, write_conf, dns,  # noqa: F811
                                           workdir):
    """The reply to a resolver query is deferred, not waited for on the main
    loop: while a query waits on a name the DNS server never answers, other
    control requests are answered, and the slow query ends with a clear
    error once the resolver gives up."""
    from helpers import Ctl
    sp = free_port()
    # two tries 1 s apart: the status below must come back before the
    # second, which a main loop waiting for the query could not do
    conf = dp_conf(socks_port=sp, resolver=f"server: 127.0.0.1:{dns.port}\n"
                   "each_timeout: 1000\neach_tries: 2")
    start_proxyd(daemon_factory, write_conf, conf)
    ctl = Ctl("proxyd", "test", workdir)
    slow = subprocess.Popen(ctl.argv("resolver", "dns", "query", "silent.test"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: dns.count("silent.test", "A") >= 1, 5, what="the query reached DNS")
        assert ctl.json("server", "socks", "status")["online"] is True
        assert dns.count("silent.test", "A") == 1 and slow.poll() is None
        out, err = slow.communicate(timeout=30)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait()
    assert dns.count("silent.test", "A") == 2
    assert slow.returncode == 1 and "timed out" in err, (out, err)


def test_counters_survive_reload(ctl_proxyd, origin):  # noqa: F811
    """Counters are kept per name: a reload (even one that changes the
    server) keeps totals; a server renamed away reports the new name from 0."""
    d, ctl = ctl_proxyd
    s, _, head = socks5_open(d.sp, "127.0.0.1", origin.port)
    assert head[:2] == b"\x05\x00"
    s.close()
    wait_for(lambda: ctl.json("server", "socks", "status")["alive_tasks"] == 0, 5,
             what="alive_tasks 0")
    text = d.conf.read_text().replace("    escaper: direct\n",
                                      "    escaper: direct\n    task_idle_max_count: 7\n", 1)
    d.conf.write_text(text)
    r = ctl.run("reload")
    assert r.returncode == 0, r.stderr
    st = ctl.json("server", "socks", "status")
    assert (st["online"], st["total_connections"], st["total_tasks"]) == (True, 1, 1)
    d.conf.write_text(text.replace("name: socks", "name: socks2"))
    r = ctl.run("reload")
    assert r.returncode == 0, r.stderr
    assert ctl.json("server", "socks2", "status")["total_tasks"] == 0
    r = ctl.run("server", "socks", "status")
    assert r.returncode == 1 and "no server of that name" in r.stderr
