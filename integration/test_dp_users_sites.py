"""Per-user resolve policy, user upstream traffic metrics and user sites
(g3proxy §1.3.2, §1.5.4, §1.5.6, §3.12).

Names are served by a DNS server of the test; loopback origins on several
addresses (127.0.0.1, 127.0.0.2, 127.0.0.3, ::1) share one port and each
answers with its own name, so the origin that answered proves which
address proxyd picked. Metrics go to a UDP StatsD socket of the test."""

import socket
import struct
import subprocess
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit  # noqa: F401
from dp_helpers import DnsServer, free_port, recv_all, recv_exact, socks5_addr, start_proxyd, \
    wait_record
from helpers import binary, wait_for

ADDRS = {"v4": ("127.0.0.1", socket.AF_INET), "two": ("127.0.0.2", socket.AF_INET),
         "three": ("127.0.0.3", socket.AF_INET), "v6": ("::1", socket.AF_INET6)}
UP_BYTES = 5000  # what an origin sends on each connection
DOWN_BYTES = 3000  # what the metered client sends


class Origins:
    """One listener per address of ADDRS on a common port: each sends its
    name and a newline, then UP_BYTES - len(that) more bytes, then reads
    until the client's EOF and closes."""

    def __init__(self):
        for _ in range(20):
            port = free_port()
            try:
                self.socks = [self._listen(a, fam, port) for a, fam in ADDRS.values()]
                break
            except OSError:
                continue
        else:
            raise RuntimeError("no common free port")
        self.port = port
        self.names = list(ADDRS)
        self.received = []
        self.running = True
        self.threads = [threading.Thread(target=self._run, args=(s, n), daemon=True)
                        for s, n in zip(self.socks, self.names)]
        for t in self.threads:
            t.start()

    @staticmethod
    def _listen(addr, fam, port):
        s = socket.socket(fam)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(16)
        s.settimeout(0.2)
        return s

    def _run(self, sock, name):
        while self.running:
            try:
                c, _ = sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(c, name), daemon=True).start()

    def _serve(self, c, name):
        with c:
            head = f"{name}\n".encode()
            try:
                c.sendall(head + b"x" * (UP_BYTES - len(head)))
                c.settimeout(5)
                n = 0
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    n += len(b)
                self.received.append(n)
            except OSError:
                pass

    def stop(self):
        self.running = False
        for t in self.threads:
            t.join(2)
        for s in self.socks:
            s.close()


class StatSink:
    """A UDP socket whose StatsD lines a thread keeps in self.lines."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                self.lines += self.sock.recv(65536).decode().split("\n")
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()

    def matching(self, name, *tags):
        out = []
        for ln in list(self.lines):
            if not ln.startswith(name + ":"):
                continue
            t = set(ln.split("|#", 1)[1].split(",")) if "|#" in ln else set()
            if all(x in t for x in tags):
                out.append(ln)
        return out

    def total(self, name, *tags):
        return sum(int(ln.split(":", 1)[1].split("|")[0]) for ln in self.matching(name, *tags))

    def names(self, prefix):
        return {ln.split(":", 1)[0] for ln in list(self.lines) if ln.startswith(prefix)}


@pytest.fixture
def origins():
    o = Origins()
    yield o
    o.stop()


@pytest.fixture
def names():
    """both.test / v6site.test → 127.0.0.1 + ::1; other.test, x.other.test →
    127.0.0.3; quiet names → 127.0.0.1."""
    s = DnsServer(a={"both.test": ["127.0.0.1"], "v6site.test": ["127.0.0.1"],
                     "x.other.test": ["127.0.0.3"], "other.test": ["127.0.0.3"],
                     "a.quiet.test": ["127.0.0.1"], "esc.test": ["127.0.0.1"]},
                  aaaa={"both.test": ["::1"], "v6site.test": ["::1"]}, ttl=300)
    yield s
    s.stop()


USERS = """
user_group:
  - name: g
    static_users:
      - name: plain
        token: null
      - name: v6first
        token: null
        resolve_strategy: Ipv6First
      - name: v4only
        token: null
        resolve_strategy: {query: Ipv4Only}
      - name: v6only
        token: null
        resolve_strategy: Ipv6Only
      - name: redir
        token: null
        resolve_redirection:
          - {exact: both.test, to: [127.0.0.2]}
          - {parent: sub.test, to: other.test}
      - name: meter
        token: null
        explicit_sites:
          - {id: s_both, exact_match: [both.test], emit_stats: true, duration_stats: 200ms}
          - {id: s_quiet, child_match: [quiet.test], emit_stats: false}
          - {id: s_net, subnet_match: [127.0.0.0/24], emit_stats: true}
          - id: s_v6
            exact_match: [v6site.test]
            emit_stats: true
            resolve_strategy: Ipv6First
"""


def conf(dns_port, sp4, sp6, stat_port=None):
    """Two SOCKS servers with the users of USERS: sp4 through escaper
    `direct` (Ipv4First, with an escaper-level redirection of esc.test),
    sp6 through `v4fixed` (Ipv4Only)."""
    allow = "[127.0.0.1, 127.0.0.2, 127.0.0.3, '::1']"
    out = f"""runtime:
  server_offline_delay: 0
  task_wait_delay: 0
worker:
  thread_number: 2
log: stdout
resolver:
  - name: dns
    type: c_ares
    server: 127.0.0.1:{dns_port}
    each_timeout: 500
    each_tries: 2
escaper:
  - name: direct
    type: direct_fixed
    resolver: dns
    resolve_strategy: Ipv4First
    resolve_redirection: {{esc.test: 127.0.0.2}}
    egress_network_filter: {{default: deny, allow: {allow}}}
  - name: v4fixed
    type: direct_fixed
    resolver: dns
    resolve_strategy: Ipv4Only
    egress_network_filter: {{default: deny, allow: {allow}}}
server:
  - name: socks
    type: socks_proxy
    listen: 127.0.0.1:{sp4}
    escaper: direct
    user_group: g
  - name: socks4only
    type: socks_proxy
    listen: 127.0.0.1:{sp6}
    escaper: v4fixed
    user_group: g
"""
    if stat_port:
        out += (f"stat:\n  target_udp: 127.0.0.1:{stat_port}\n  prefix: g3proxy\n"
                "  emit_interval: 100ms\n")
    return out + USERS


@pytest.fixture
def proxy(daemon_factory, write_conf, names):
    sp4, sp6 = free_port(), free_port()
    while sp6 == sp4:
        sp6 = free_port()
    stat = StatSink()
    d = start_proxyd(daemon_factory, write_conf, conf(names.port, sp4, sp6, stat.port))
    d.sp4, d.sp6, d.stat = sp4, sp6, stat
    yield d
    stat.close()


def socks_connect(port, user, host, dport):
    """A SOCKS5 CONNECT as user (RFC 1929, any password); (socket, reply
    code)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x05\x01\x02")
    assert recv_exact(s, 2) == b"\x05\x02"
    u = user.encode()
    s.sendall(b"\x01" + bytes([len(u)]) + u + b"\x01x")
    assert recv_exact(s, 2) == b"\x01\x00"
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", dport))
    head = recv_exact(s, 4)
    if len(head) == 4 and head[1] == 0:
        recv_exact(s, {1: 4, 4: 16}.get(head[3], 0) + 2)
    return s, head[1] if len(head) > 1 else None


def who(port, user, host, dport):
    """Which origin answered a CONNECT to host:dport (None: refused)."""
    s, rep = socks_connect(port, user, host, dport)
    with s:
        if rep != 0:
            return None
        s.shutdown(socket.SHUT_WR)
        data = recv_all(s)
    return data.split(b"\n", 1)[0].decode()


# ---- resolve_strategy ----------------------------------------------------------------


def test_user_resolve_strategy(proxy, origins):
    p = origins.port
    assert who(proxy.sp4, "plain", "both.test", p) == "v4"  # the escaper's Ipv4First
    assert who(proxy.sp4, "v6first", "both.test", p) == "v6"
    assert who(proxy.sp4, "v4only", "both.test", p) == "v4"
    assert who(proxy.sp4, "v6only", "both.test", p) == "v6"
    # an Ipv4Only escaper is not widened by the user (g3: the escaper's
    # fixed family wins)
    assert who(proxy.sp6, "v6first", "both.test", p) == "v4"
    assert who(proxy.sp6, "v6only", "both.test", p) == "v4"


# ---- resolve_redirection ---------------------------------------------------------------


def test_user_resolve_redirection(proxy, origins, names):
    p = origins.port
    assert who(proxy.sp4, "redir", "both.test", p) == "two"  # exact → IP, no query
    assert names.count("both.test", "A") == 0
    assert who(proxy.sp4, "redir", "x.sub.test", p) == "three"  # parent: x.other.test
    assert names.count("x.other.test", "A") >= 1 and names.count("x.sub.test", "A") == 0
    assert who(proxy.sp4, "redir", "sub.test", p) == "three"  # the parent itself
    # other users are not redirected; the escaper's own rule applies to all
    assert who(proxy.sp4, "plain", "both.test", p) == "v4"
    assert who(proxy.sp4, "plain", "esc.test", p) == "two"
    assert who(proxy.sp4, "redir", "esc.test", p) == "two"
    assert names.count("esc.test", "A") == 0
    rec = wait_record(proxy, lambda r: r.get("user") == "redir" and
                      r.get("upstream", "").startswith("x.sub.test"))
    assert rec["next_peer_addr"] == f"127.0.0.3:{p}"


# ---- user.upstream.traffic and user sites ----------------------------------------------


def metered(port, host, dport):
    """Through user meter: send DOWN_BYTES, read the origin's UP_BYTES."""
    s, rep = socks_connect(port, "meter", host, dport)
    with s:
        assert rep == 0
        s.sendall(b"y" * DOWN_BYTES)
        s.shutdown(socket.SHUT_WR)
        data = recv_all(s)
    assert len(data) == UP_BYTES
    return data.split(b"\n", 1)[0].decode()


def test_upstream_traffic_and_sites(proxy, origins):
    st = proxy.stat
    p = origins.port
    assert metered(proxy.sp4, "both.test", p) == "v4"
    assert metered(proxy.sp4, "a.quiet.test", p) == "v4"
    wait_for(lambda: len(origins.received) >= 2, 5, what="the origins saw the client's EOF")
    assert origins.received == [DOWN_BYTES, DOWN_BYTES]
    tags = ("user_group:g", "user:meter", "user_type:Static", "escaper:direct",
            "transport:tcp")
    wait_for(lambda: st.total("g3proxy.user.upstream.traffic.in.bytes", *tags) >= 2 * UP_BYTES,
             5, what="user.upstream.traffic.in.bytes")
    time.sleep(0.3)  # a few more emits: nothing is counted twice
    assert st.total("g3proxy.user.upstream.traffic.in.bytes", *tags) == 2 * UP_BYTES
    assert st.total("g3proxy.user.upstream.traffic.out.bytes", *tags) == 2 * DOWN_BYTES
    # the client side (user.traffic) saw the same payload
    assert st.total("g3proxy.user.traffic.in.bytes", "user:meter") == 2 * DOWN_BYTES
    assert st.total("g3proxy.user.traffic.out.bytes", "user:meter") == 2 * UP_BYTES

    # s_both (exact_match) has the user's families under its prefix
    pre = "g3proxy.user.site.s_both."
    stags = ("user_group:g", "user:meter", "server:socks")
    assert st.total(pre + "request.total", *stags, "request:socks_tcp_connect") == 1
    assert st.total(pre + "traffic.in.bytes", *stags) == DOWN_BYTES
    assert st.total(pre + "traffic.out.bytes", *stags) == UP_BYTES
    assert st.total(pre + "upstream.traffic.in.bytes", "user:meter", "escaper:direct",
                    "transport:tcp") == UP_BYTES
    assert st.total(pre + "upstream.traffic.out.bytes", "user:meter") == DOWN_BYTES
    # duration_stats rotates every 200ms: the closed interval's quantiles
    wait_for(lambda: st.matching(pre + "task.ready.duration", *stags), 5,
             what="task.ready.duration after a rotation")
    q = {}
    for ln in st.matching(pre + "task.ready.duration", *stags):
        tagset = dict(t.split(":", 1) for t in ln.split("|#", 1)[1].split(","))
        assert ln.split("|")[1] == "g"
        q[tagset["quantile"]] = int(ln.split(":", 1)[1].split("|")[0])
    assert set(q) == {"min", "max", "mean", "0.50", "0.80", "0.90", "0.95", "0.99"}
    # one sample: every quantile is that duration (ns), below 5 s
    assert 0 < q["min"] == q["max"] == q["mean"] == q["0.50"] == q["0.99"] < 5_000_000_000
    # a site without emit_stats and a site that never matched send nothing
    assert not st.names("g3proxy.user.site.s_quiet.")
    assert not st.names("g3proxy.user.site.s_net.")
    assert not st.names("g3proxy.user.site.s_v6.")

    # an IP target matches subnet_match
    assert metered(proxy.sp4, "127.0.0.1", p) == "v4"
    wait_for(lambda: st.total("g3proxy.user.site.s_net.request.total", "user:meter") == 1, 5,
             what="s_net request counted")
    wait_for(lambda: st.total("g3proxy.user.site.s_net.upstream.traffic.in.bytes",
                              "user:meter") == UP_BYTES, 5, what="s_net upstream traffic")
    # a user without sites has no site lines; plain has no upstream lines
    # before it moves bytes
    assert not [ln for ln in st.lines if ln.startswith("g3proxy.user.site.") and
                "user:meter" not in ln]


def test_site_resolve_strategy(proxy, origins):
    p = origins.port
    # the site's Ipv6First beats the escaper's Ipv4First; other names keep it
    assert metered(proxy.sp4, "v6site.test", p) == "v6"
    assert metered(proxy.sp4, "both.test", p) == "v4"
    wait_for(lambda: proxy.stat.total("g3proxy.user.site.s_v6.upstream.traffic.in.bytes",
                                      "user:meter") == UP_BYTES, 5,
             what="s_v6 upstream traffic")


# ---- bad site config ---------------------------------------------------------------------


@pytest.mark.parametrize("site,msg", [
    ("{id: s1, emit_stats: true}", "a site needs exact_match, child_match or subnet_match"),
    ("{exact_match: [a.test]}", "missing required key 'id'"),
    ("{id: s1, exact_match: [a.test], subnet_match: [10.0.0.1/8]}", "10.0.0.1/8"),
    ("{id: s1, exact_match: [a.test], emit_stat: true}", "unknown key 'emit_stat'"),
    ("{id: s1, exact_match: [a.test], duration_stats: {rotate: 0s}}",
     "the rotate interval must not be 0"),
    ("{id: s1, exact_match: [a.test], duration_stats: {quantile: '0.5,2'}}", "quantile"),
])
def test_bad_site_config(write_conf, site, msg):
    text = conf(53, free_port(), free_port()) + \
        f"      - name: bad\n        token: null\n        explicit_sites:\n          - {site}\n"
    path = write_conf(text)
    line = text.count("\n", 0, text.rindex("explicit_sites:\n          - {")) + 2
    r = subprocess.run([binary("proxyd"), "-t", "-c", str(path)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 1, r.stdout
    assert f"{path}:{line}:" in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr
