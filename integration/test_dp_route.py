"""Routing escapers end to end: route_upstream, route_client,
route_resolved, route_mapping and route_failover. Every next escaper is a
direct_fixed bound to its own 127.0.0.x, and the origins answer with the
address they saw, so the body tells which escaper carried the request; the
task log's `escaper` field must name the same one."""

import socket
import struct
import time

import pytest

from dp_fixtures import dp_clean_exit  # noqa: F401
from dp_helpers import (Blackhole, DnsServer, PeerEchoOrigin, check_clean_exit, recv_all,
                        recv_exact, socks5_addr, start_proxyd, wait_record)

# escaper name → bind address the origin sees
BINDS = {"a": "127.0.0.11", "b": "127.0.0.12", "c": "127.0.0.13", "dflt": "127.0.0.10"}


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def conf(route, dns_port, sp, hp, extra_escapers="", http_extra="", workers=2):
    """Next escapers a, b, c, dflt (each bound to its BINDS address) plus
    the route escaper text `route` (named "rt"), servers using "rt"."""
    out = ("runtime:\n  server_offline_delay: 0\n  task_wait_delay: 0\n"
           f"worker:\n  thread_number: {workers}\nlog: stdout\n"
           f"resolver:\n  - name: dns\n    type: c_ares\n    server: 127.0.0.1:{dns_port}\n"
           "    each_timeout: 500\n    each_tries: 2\n"
           "escaper:\n")
    for name, ip in BINDS.items():
        out += (f"  - name: {name}\n    type: direct_fixed\n    resolver: dns\n"
                f"    bind_ip: {ip}\n"
                "    egress_network_filter: {default: allow, allow: [127.0.0.0/8]}\n")
    out += route + extra_escapers
    out += ("server:\n"
            f"  - {{name: socks, type: socks_proxy, listen: 127.0.0.1:{sp}, escaper: rt}}\n"
            f"  - name: http\n    type: http_proxy\n    listen: 127.0.0.1:{hp}\n"
            "    escaper: rt\n" + http_extra)
    return out


def start(daemon_factory, write_conf, route, dns_port, **kw):
    sp, hp = free_ports(2)
    d = start_proxyd(daemon_factory, write_conf, conf(route, dns_port, sp, hp, **kw))
    d.socks, d.http = sp, hp
    return d


def body(resp):
    head, _, b = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), resp
    return b.decode()


def socks_open(port, host, dport, src=None):
    s = socket.socket()
    s.settimeout(5)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"\x05\x01\x00")
    assert recv_exact(s, 2) == b"\x05\x00"
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", dport))
    head = recv_exact(s, 4)
    if len(head) == 4 and head[1] == 0:
        recv_exact(s, {1: 4, 4: 16}.get(head[3], 0) + 2)
    return s, head


def via_socks(d, host, port, src=None):
    s, rep = socks_open(d.socks, host, port, src)
    with s:
        assert rep[:2] == b"\x05\x00", rep
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return body(recv_all(s))


def via_connect(d, host, port):
    with socket.create_connection(("127.0.0.1", d.http), timeout=5) as s:
        t = f"{host}:{port}"
        s.sendall(f"CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            ch = s.recv(1)
            assert ch, head
            head += ch
        assert head.startswith(b"HTTP/1.1 200"), head
        s.sendall(f"GET / HTTP/1.1\r\nHost: {t}\r\n\r\n".encode())
        return body(recv_all(s))


def via_forward(d, host, port, headers=()):
    with socket.create_connection(("127.0.0.1", d.http), timeout=5) as s:
        extra = "".join(f"{h}\r\n" for h in headers)
        s.sendall(f"GET http://{host}:{port}/ HTTP/1.1\r\nHost: {host}:{port}\r\n{extra}"
                  "Connection: close\r\n\r\n".encode())
        return body(recv_all(s))


def record_for(d, upstream):
    return wait_record(d, lambda r: r.get("upstream") == upstream and r.get("reason") != "",
                       what=f"task record for {upstream}")


# ---- route_upstream ------------------------------------------------------------------

UPSTREAM = """  - name: rt
    type: route_upstream
    default_next: dflt
    exact_match:
      - {next: a, hosts: [exact.test, 127.0.3.5]}
    subnet_match:
      a: [127.0.2.0/24]
      b: [127.0.2.128/25]
    child_match:
      - {next: b, domains: [child.test]}
    suffix_match:
      - {next: c, suffixes: [fix.test]}
    regex_match:
      - next: a
        rules:
          - {parent: rx.test, regex: '^img[0-9]+$'}
"""

# target → escaper expected (names resolve to 127.0.0.1 in the test DNS)
UP_TARGETS = {"exact.test": "a", "www.child.test": "b", "child.test": "b",
              "suffix.test": "c", "img42.rx.test": "a", "img.rx.test": "dflt",
              "other.test": "dflt", "127.0.2.5": "a", "127.0.2.200": "b", "127.0.3.5": "a",
              "127.0.4.5": "dflt"}


@pytest.fixture
def names_dns():
    names = [t for t in UP_TARGETS if not t[0].isdigit()]
    s = DnsServer(a={n: ["127.0.0.1"] for n in names} |
                  {"r-net.test": ["127.0.2.5"], "r-dflt.test": ["127.0.0.1"],
                   "r-slow6.test": ["127.0.2.5"]},
                  aaaa={"r-v6.test": ["::1"]}, silent=("r-silent.test",))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def origins():
    o = PeerEchoOrigin(["127.0.0.1", "127.0.2.5", "127.0.2.200", "127.0.3.5", "127.0.4.5"])
    yield o
    o.stop()


def port_for(origins, target):
    return origins.ports[target] if target[0].isdigit() else origins.ports["127.0.0.1"]


@pytest.mark.parametrize("how", ["socks", "connect", "forward"])
def test_route_upstream_rules(daemon_factory, write_conf, names_dns, origins, how):
    d = start(daemon_factory, write_conf, UPSTREAM, names_dns.port)
    go = {"socks": via_socks, "connect": via_connect, "forward": via_forward}[how]
    for target, esc in UP_TARGETS.items():
        assert go(d, target, port_for(origins, target)) == BINDS[esc], \
            f"{target} should leave through {esc}"
    for target, esc in UP_TARGETS.items():
        rec = record_for(d, f"{target}:{port_for(origins, target)}")
        assert rec["escaper"] == esc, rec
        assert rec["next_bound_addr"].startswith(BINDS[esc] + ":"), rec


# ---- route_client --------------------------------------------------------------------

CLIENT = """  - name: rt
    type: route_client
    default_next: dflt
    exact_match:
      - {next: a, ips: [127.0.0.2]}
    subnet_match:
      - {next: b, subnets: [127.0.0.0/24]}
      - {next: c, subnets: [127.0.0.0/8]}
"""


def test_route_client(daemon_factory, write_conf, names_dns, origins):
    d = start(daemon_factory, write_conf, CLIENT, names_dns.port)
    port = origins.ports["127.0.0.1"]
    for src, esc in (("127.0.0.2", "a"), ("127.0.0.3", "b"), ("127.0.0.1", "b"),
                     ("127.1.2.3", "c")):
        assert via_socks(d, "127.0.0.1", port, src=src) == BINDS[esc], f"client {src}"
    recs = [r for r in dp_task_records(d) if r.get("upstream") == f"127.0.0.1:{port}"]
    by_client = {r["client_addr"].rsplit(":", 1)[0]: r["escaper"] for r in recs}
    assert by_client == {"127.0.0.2": "a", "127.0.0.3": "b", "127.0.0.1": "b",
                         "127.1.2.3": "c"}


def dp_task_records(d):
    from dp_helpers import task_records
    deadline = time.monotonic() + 5
    while True:
        recs = task_records(d)
        if len(recs) >= 4 or time.monotonic() > deadline:
            return recs
        time.sleep(0.05)


# ---- route_resolved ------------------------------------------------------------------

RESOLVED = """  - name: rt
    type: route_resolved
    resolver: dns
    resolution_delay: 300ms
    default_next: dflt
    lpm_match:
      - {next: a, networks: [127.0.2.0/24]}
      - {next: b, networks: [127.0.2.0/28, '::1/128']}
"""


def test_route_resolved(daemon_factory, write_conf, names_dns, origins):
    d = start(daemon_factory, write_conf, RESOLVED, names_dns.port)
    p2 = origins.ports["127.0.2.5"]
    assert via_socks(d, "r-net.test", p2) == BINDS["b"]  # 127.0.2.5: /28 beats /24
    assert via_connect(d, "127.0.2.200", origins.ports["127.0.2.200"]) == BINDS["a"]
    assert via_forward(d, "r-dflt.test", origins.ports["127.0.0.1"]) == BINDS["dflt"]
    assert record_for(d, f"r-net.test:{p2}")["escaper"] == "b"
    assert record_for(d, f"r-dflt.test:{origins.ports['127.0.0.1']}")["escaper"] == "dflt"


def test_route_resolved_failures_use_default(daemon_factory, write_conf, names_dns, origins):
    """NXDOMAIN and a name the DNS never answers both end in default_next
    (whose own resolution then fails: the client gets a host error)."""
    d = start(daemon_factory, write_conf, RESOLVED, names_dns.port)
    for name in ("nx.test", "r-silent.test"):
        s, rep = socks_open(d.socks, name, 80)
        s.close()
        assert rep[:2] == b"\x05\x04", rep
        rec = record_for(d, f"{name}:80")
        assert rec["escaper"] == "dflt", rec


def test_route_resolved_waits_for_preferred_family(daemon_factory, write_conf, origins):
    """Ipv6First and an AAAA query that is never answered: the A answer
    decides after resolution_delay (300ms), not before."""
    dns = DnsServer(a={"r-slow6.test": ["127.0.2.5"]}, silent_aaaa=True)
    try:
        route = RESOLVED.replace("resolution_delay: 300ms",
                                 "resolution_delay: 300ms\n    resolve_strategy: "
                                 "{query: Ipv6First}")
        d = start(daemon_factory, write_conf, route, dns.port)
        t0 = time.monotonic()
        assert via_socks(d, "r-slow6.test", origins.ports["127.0.2.5"]) == BINDS["b"]
        spent = time.monotonic() - t0
        assert 0.28 <= spent < 2.0, spent
        assert dns.count("r-slow6.test", "AAAA") >= 1
    finally:
        dns.stop()


# ---- route_mapping -------------------------------------------------------------------

MAPPING = """  - name: rt
    type: route_mapping
    next: [a, b, c]
"""


def test_route_mapping_by_path_selection(daemon_factory, write_conf, names_dns, origins):
    d = start(daemon_factory, write_conf, MAPPING, names_dns.port,
              http_extra="    egress_path_selection_header: X-Egress-Path\n")
    port = origins.ports["127.0.0.1"]
    for idx, esc in ((1, "a"), (2, "b"), (3, "c"), (4, "a"), (6, "c")):  # 1-based, wraps
        assert via_forward(d, "127.0.0.1", port, [f"X-Egress-Path: {idx}"]) == BINDS[esc]
    # no (or an unusable) index: a random next among the three
    seen = set()
    for i in range(40):
        hdr = [] if i % 2 else ["X-Egress-Path: zero"]
        seen.add(via_forward(d, "127.0.0.1", port, hdr))
    assert seen <= {BINDS["a"], BINDS["b"], BINDS["c"]}
    assert len(seen) >= 2, seen
    # SOCKS has no path selection: random as well
    assert via_socks(d, "127.0.0.1", port) in {BINDS["a"], BINDS["b"], BINDS["c"]}


# ---- route_select --------------------------------------------------------------------

def select_route(policy, nodes="[{name: a, weight: 3}, b]"):
    return (f"  - name: rt\n    type: route_select\n    next_nodes: {nodes}\n"
            f"    next_pick_policy: {policy}\n")


def test_route_select_weights(daemon_factory, write_conf, names_dns, origins):
    """random with weights 3:1 over 400 tunnels: a takes 75% ± 10%."""
    d = start(daemon_factory, write_conf, select_route("random"), names_dns.port)
    port = origins.ports["127.0.0.1"]
    counts = {BINDS["a"]: 0, BINDS["b"]: 0}
    for _ in range(400):
        counts[via_socks(d, "127.0.0.1", port)] += 1
    share = counts[BINDS["a"]] / 400
    assert 0.65 <= share <= 0.85, counts


def test_route_select_round_robin(daemon_factory, write_conf, names_dns, origins):
    d = start(daemon_factory, write_conf, select_route("rr", "[a, b, c]"), names_dns.port)
    port = origins.ports["127.0.0.1"]
    seen = [via_socks(d, "127.0.0.1", port) for _ in range(9)]
    # one pick table shared by the workers: 9 picks in a row take each 3 times
    assert sorted(seen) == sorted([BINDS["a"], BINDS["b"], BINDS["c"]] * 3), seen


@pytest.mark.parametrize("policy", ["rendezvous", "jump_hash", "ketama"])
def test_route_select_hash_is_sticky(daemon_factory, write_conf, names_dns, origins, policy):
    """The hash policies key on client IP and target host: the same pair
    always takes the same escaper, also after a reload; many hosts spread."""
    d = start(daemon_factory, write_conf, select_route(policy, "[a, b, c]"), names_dns.port)
    port = origins.ports["127.0.0.1"]
    hosts = [t for t in UP_TARGETS if not t[0].isdigit()]
    first = {h: via_socks(d, h, port) for h in hosts}
    for h in hosts:
        assert via_socks(d, h, port) == first[h], h
    r = d.ctl.run("reload")
    assert r.returncode == 0, r.stderr
    for h in hosts:
        assert via_socks(d, h, port) == first[h], h
    assert len(set(first.values())) >= 2, first


# ---- route_query ----------------------------------------------------------------------

AGENT_ROUTES = """\
routes:
  a.test: [a]
  "*.b.test": [{name: b, weight: 1}]
  two.test: [a, {name: c, weight: 3}]
  bad.test: [zzz]
  "*": []
"""


class Agent:
    """tools/route-agent on an ipc socket in workdir, stopped by PID."""

    def __init__(self, workdir, ttl=60):
        import subprocess
        from helpers import binary
        self.sock = workdir / "agent.rpc"
        conf = workdir / "agent.yaml"
        conf.write_text(f"listen: ipc://{self.sock}\nttl: {ttl}\n" + AGENT_ROUTES)
        self.proc = subprocess.Popen([binary("route-agent"), str(conf)],
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while not self.sock.exists():
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.monotonic() < deadline, "route-agent did not start"
            time.sleep(0.02)

    def stop(self):
        import signal as _signal
        if self.proc.poll() is None:
            self.proc.send_signal(_signal.SIGTERM)
        rc = self.proc.wait(10)
        err = self.proc.stderr.read()
        assert rc == 0, err
        return err


def query_route(workdir, timeout):
    return ("  - name: rt\n    type: route_query\n    fallback_node: dflt\n"
            "    query_allowed_next: [a, b, c]\n"
            f"    query_peer_addr: {workdir}/agent.rpc\n"
            f"    cache_request_timeout: {timeout}\n")


QUERY_NAMES = ["a.test", "x.b.test", "two.test", "bad.test", "other.test", "late.test"]


@pytest.fixture
def query_dns():
    s = DnsServer(a={n: ["127.0.0.1"] for n in QUERY_NAMES})
    yield s
    s.stop()


def test_route_query_agent(daemon_factory, write_conf, workdir, query_dns, origins):
    agent = Agent(workdir)
    try:
        # generous: a loaded machine must not turn a slow answer into a fallback
        # one worker: the cache is per worker, and the test checks its hits
        d = start(daemon_factory, write_conf, query_route(workdir, "1500ms"), query_dns.port,
                  workers=1)
        port = origins.ports["127.0.0.1"]
        expect = {"a.test": "a", "x.b.test": "b", "bad.test": "dflt", "other.test": "dflt"}
        for how in (via_socks, via_connect, via_forward):
            for host, esc in expect.items():
                assert how(d, host, port) == BINDS[esc], (how.__name__, host)
        for host, esc in expect.items():
            assert record_for(d, f"{host}:{port}")["escaper"] == esc
        # two candidates: both allowed, picked by client IP (rendezvous): one of them
        assert via_socks(d, "two.test", port) in (BINDS["a"], BINDS["c"])
        # the answers are cached (ttl 60): with the agent gone, known hosts
        # keep their escaper; a new host falls back within the timeout
        agent.stop()
        for host, esc in expect.items():
            assert via_socks(d, host, port) == BINDS[esc], host
        t0 = time.monotonic()
        assert via_socks(d, "late.test", port) == BINDS["dflt"]
        assert time.monotonic() - t0 < 3.5
    finally:
        if agent.proc.poll() is None:
            agent.stop()


def test_route_query_without_agent(daemon_factory, write_conf, workdir, query_dns, origins):
    """No agent at all: every request goes through fallback_node after
    cache_request_timeout, and the loop never blocks meanwhile."""
    d = start(daemon_factory, write_conf, query_route(workdir, "400ms"), query_dns.port)
    port = origins.ports["127.0.0.1"]
    t0 = time.monotonic()
    socks = []
    for i in range(5):  # in flight together: they wait side by side
        s = socket.create_connection(("127.0.0.1", d.socks), timeout=5)
        s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr(QUERY_NAMES[i]) +
                  struct.pack("!H", port))
        socks.append(s)
    for s in socks:
        assert recv_exact(s, 2) == b"\x05\x00"
        rep = recv_exact(s, 10)
        assert rep[:2] == b"\x05\x00", rep
        s.close()
    spent = time.monotonic() - t0
    assert 0.38 <= spent < 2.0, spent
    assert record_for(d, f"a.test:{port}")["escaper"] == "dflt"


def test_route_query_stop_while_pending(daemon_factory, write_conf, workdir, query_dns, origins):
    """Queries pending (no agent, a long timeout) when proxyd stops: the calls
    are cancelled with their tasks (clean exit, no leak under SAN)."""
    d = start(daemon_factory, write_conf, query_route(workdir, "10s"), query_dns.port)
    clients = []
    for host in QUERY_NAMES:
        s = socket.create_connection(("127.0.0.1", d.socks), timeout=5)
        s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", 80))
        clients.append(s)
    for c in clients:
        assert recv_exact(c, 2) == b"\x05\x00"
    time.sleep(0.3)
    check_clean_exit(d)
    for c in clients:
        c.close()


def test_route_agent_config_check(workdir):
    import subprocess
    from helpers import binary
    good = workdir / "agent.yaml"
    good.write_text(f"listen: ipc://{workdir}/a.rpc\n" + AGENT_ROUTES)
    r = subprocess.run([binary("route-agent"), "-t", str(good)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stderr
    assert "configuration OK (5 routes)" in r.stdout
    bad = workdir / "bad.yaml"
    bad.write_text("routes: {a.test: [{weight: 2}]}\n")
    r = subprocess.run([binary("route-agent"), "-t", str(bad)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1
    assert "a node needs a name" in r.stderr
    assert "missing required key 'listen'" in r.stderr


# ---- route_failover ------------------------------------------------------------------

def failover_route(primary, standby, delay="300ms"):
    return (f"  - name: rt\n    type: route_failover\n    primary_next: {primary}\n"
            f"    standby_next: {standby}\n    fallback_delay: {delay}\n")


DENY = "  - {name: deny, type: dummy_deny}\n"
# escapers with their own resolvers: "svc.test" is a blackhole for one, the
# live origin for the other
SPLIT = """  - name: p
    type: direct_fixed
    resolver: dns_p
    bind_ip: 127.0.0.11
    egress_network_filter: {default: allow, allow: [127.0.0.0/8]}
    tcp_connect: {max_retry: 0, each_timeout: 5s}
  - name: s
    type: direct_fixed
    resolver: dns_s
    bind_ip: 127.0.0.12
    egress_network_filter: {default: allow, allow: [127.0.0.0/8]}
    tcp_connect: {max_retry: 0, each_timeout: 5s}
"""


def split_conf(dp, ds):
    return ("  - {name: dns_p, type: c_ares, server: 127.0.0.1:%d}\n"
            "  - {name: dns_s, type: c_ares, server: 127.0.0.1:%d}\n" % (dp, ds))


def start_split(daemon_factory, write_conf, route, dns_p, dns_s, dns_port):
    sp, hp = free_ports(2)
    text = conf(route, dns_port, sp, hp, extra_escapers=SPLIT)
    text = text.replace("escaper:\n", split_conf(dns_p.port, dns_s.port) + "escaper:\n", 1)
    d = start_proxyd(daemon_factory, write_conf, text)
    d.socks, d.http = sp, hp
    return d


def test_failover_primary_fails_at_once(daemon_factory, write_conf, names_dns, origins):
    """dummy_deny as primary: the standby starts at once, not after the
    delay (5s here)."""
    d = start(daemon_factory, write_conf, failover_route("deny", "b", "5s"), names_dns.port,
              extra_escapers=DENY)
    port = origins.ports["127.0.0.1"]
    for go in (via_socks, via_connect, via_forward):
        t0 = time.monotonic()
        assert go(d, "127.0.0.1", port) == BINDS["b"]
        assert time.monotonic() - t0 < 2.0
    assert record_for(d, f"127.0.0.1:{port}")["escaper"] == "b"


def test_failover_primary_wins_when_fast(daemon_factory, write_conf, names_dns, origins):
    d = start(daemon_factory, write_conf, failover_route("a", "b"), names_dns.port)
    port = origins.ports["127.0.0.1"]
    for go in (via_socks, via_connect, via_forward):
        assert go(d, "127.0.0.1", port) == BINDS["a"]
    rec = record_for(d, f"127.0.0.1:{port}")
    assert rec["escaper"] == "a" and rec["tcp_connect_tries"] == 1, rec


def test_failover_blackholed_primary(daemon_factory, write_conf, names_dns):
    """svc.test is a blackhole (connects time out) for the primary and the
    live origin for the standby: the standby wins after fallback_delay and
    well before the primary's 5s connect timeout; the primary's attempt is
    closed."""
    bh = Blackhole()  # 127.0.0.1:P, SYNs dropped
    live = PeerEchoOrigin(["127.0.0.2"], port=bh.port)
    dns_p = DnsServer(a={"svc.test": ["127.0.0.1"]})
    dns_s = DnsServer(a={"svc.test": ["127.0.0.2"]})
    try:
        d = start_split(daemon_factory, write_conf, failover_route("p", "s", "300ms"),
                        dns_p, dns_s, names_dns.port)
        for go in (via_socks, via_connect, via_forward):
            t0 = time.monotonic()
            assert go(d, "svc.test", bh.port) == "127.0.0.12"
            spent = time.monotonic() - t0
            assert 0.29 <= spent < 2.0, spent
        rec = record_for(d, f"svc.test:{bh.port}")
        assert rec["escaper"] == "s", rec
        assert rec["next_peer_addr"] == f"127.0.0.2:{bh.port}", rec
        assert rec["next_bound_addr"].startswith("127.0.0.12:"), rec
    finally:
        dns_p.stop()
        dns_s.stop()
        live.stop()
        bh.stop()


def test_failover_both_fail(daemon_factory, write_conf, names_dns, origins):
    """Both attempts fail: the client gets the error and the task log says
    why (the last failure: the standby's)."""
    d = start(daemon_factory, write_conf, failover_route("deny", "deny2", "100ms"),
              names_dns.port,
              extra_escapers=DENY + "  - {name: deny2, type: dummy_deny}\n")
    s, rep = socks_open(d.socks, "127.0.0.1", origins.ports["127.0.0.1"])
    s.close()
    assert rep[:2] == b"\x05\x02", rep  # forbidden
    rec = record_for(d, f"127.0.0.1:{origins.ports['127.0.0.1']}")
    assert rec["reason"] == "ForbiddenByRule", rec


def test_failover_stop_while_both_pending(daemon_factory, write_conf, names_dns):
    """Primary and standby both blackholed: tasks wait with two connects in
    flight each; stopping proxyd closes both (clean exit, no leak under
    SAN), also for a client that hung up meanwhile."""
    bh = Blackhole()
    bh2 = socket.socket()
    bh2.bind(("127.0.0.2", bh.port))
    bh2.listen(0)
    fillers = []
    for _ in range(4):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(("127.0.0.2", bh.port))
        except BlockingIOError:
            pass
        fillers.append(f)
    time.sleep(0.2)
    dns_p = DnsServer(a={"svc.test": ["127.0.0.1"]})
    dns_s = DnsServer(a={"svc.test": ["127.0.0.2"]})
    try:
        d = start_split(daemon_factory, write_conf, failover_route("p", "s", "50ms"),
                        dns_p, dns_s, names_dns.port)
        clients = []
        for i in range(6):
            s = socket.create_connection(("127.0.0.1", d.socks), timeout=5)
            s.sendall(b"\x05\x01\x00\x05\x01\x00" + socks5_addr("svc.test") +
                      struct.pack("!H", bh.port))
            clients.append(s)
        time.sleep(0.5)  # past fallback_delay: both attempts in flight
        for c in clients:
            assert recv_exact(c, 2) == b"\x05\x00"
            c.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.recv(4)  # no reply yet
        clients[0].close()  # hang-up while both connects are pending
        time.sleep(0.2)
        check_clean_exit(d)
        for c in clients[1:]:
            c.close()
    finally:
        for f in fillers:
            f.close()
        bh2.close()
        dns_p.stop()
        dns_s.stop()
        bh.stop()


# ---- config check (-t) with g3proxy configs ------------------------------------------

G3_ROUTES = """\
resolver:
  - name: default
    type: c-ares
escaper:
  - name: direct
    type: direct_fixed
    resolver: default
  - name: deny
    type: dummy_deny
  - name: upstream
    type: route_upstream
    default_next: direct
    exact_match:
      deny:
        - example.net
      direct:
        - 192.168.1.1
    subnet_match:
      - next: deny
        subnets:
          - 192.168.0.0/16
    child_match:
      - next: deny
        domains:
          - example.org
    radix_match:
      deny:
        - t.example.net
    regex_match:
      - next: deny
        rules:
          - parent: example.com
            regex: abc.*
          - .*[.]example[.]org
  - name: client
    type: route_client
    default_next: upstream
    exact_match:
      - next: deny
        ips:
          - 192.0.2.10
    subnet_match:
      - next: direct
        subnets:
          - 10.0.0.0/8
          - 2001:db8::/32
  - name: resolved
    type: route_resolved
    resolver: default
    default_next: client
    lpm_match:
      - next: direct
        net:
          - 203.0.113.0/24
  - name: mapping
    type: route_mapping
    next:
      - direct
      - deny
  - name: query
    type: route_query
    fallback_node: direct
    query_allowed_next:
      - direct
      - deny
    query_pass_client_ip: true
    cache_request_timeout: 100ms
    protective_cache_ttl: 10
    maximum_cache_ttl: 1800
    cache_vanish_wait: 30s
  - name: select
    type: route_select
    next_nodes:
      - query
      - {name: direct, weight: 2}
    next_pick_policy: ketama
  - name: failover
    type: route_failover
    primary_next: resolved
    standby_next: select
    fallback_delay: 100ms
server:
  - name: socks
    type: socks_proxy
    listen: 127.0.0.1:1080
    escaper: failover
"""


def test_g3proxy_route_config_checks(write_conf):
    import subprocess
    from helpers import binary
    conf_path = write_conf(G3_ROUTES)
    r = subprocess.run([binary("proxyd"), "-t", "-c", str(conf_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{conf_path}: configuration OK\n"
    bad = G3_ROUTES.replace("    primary_next: resolved\n", "")
    assert bad != G3_ROUTES
    conf_path = write_conf(bad, "bad.yaml")
    r = subprocess.run([binary("proxyd"), "-t", "-c", str(conf_path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout
    assert "missing required key 'primary_next'" in r.stderr
