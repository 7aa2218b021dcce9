"""route_geoip end to end: iplocd serves a small test database (built with
the Perl writer: 127.0.0.0/24 DE/EU AS64500, 127.0.1.0/24 JP/AS AS64501,
127.0.2.0/24 US/NA AS64502, 127.0.4.0/24 US/NA AS64504); proxyd's
route_geoip sends each target through a different direct_fixed escaper
(each binds its own 127.0.0.x, so the origin sees which one was used) by
country, continent, AS number and network, else default_next; the task log
names the escaper used and the country / ASN it was decided on. With
iplocd stopped or absent, requests still succeed through default_next
within the query timeout."""

import pathlib
import signal
import socket
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns  # noqa: F401
from dp_helpers import (PeerEchoOrigin, check_clean_exit, recv_all, recv_exact, socks5_open,
                        start_proxyd, wait_record)
from iplocd_helpers import conf_text, need_writer

DB_BUILDER = pathlib.Path(__file__).resolve().parent / "route_geoip_db.pl"

# escaper name → bind address the origin will see
BINDS = {"de": "127.0.0.11", "asia": "127.0.0.12", "asn": "127.0.0.13", "net": "127.0.0.14",
         "dflt": "127.0.0.10"}
# target → escaper expected
TARGETS = {"127.0.0.5": "de", "127.0.1.5": "asia", "127.0.2.5": "asn", "127.0.3.5": "net",
           "127.0.4.5": "dflt"}


@pytest.fixture(scope="module")
def peers():
    o = PeerEchoOrigin(list(TARGETS) + ["127.0.0.1"])
    yield o
    o.stop()


@pytest.fixture
def geodb(workdir):
    path = workdir / "geo.mmdb"
    subprocess.run(["perl", str(DB_BUILDER), str(path)], check=True, timeout=60)
    return path


def start_iplocd(daemon_factory, write_conf, db):
    d = daemon_factory("iplocd")
    d.conf = write_conf(conf_text({"country": db, "asn": db}, "db_check_interval: 0\n"),
                        "iplocd.yaml")
    d.start(d.conf)
    return d


def geo_conf(workdir, socks_port, http_port, dns_port, timeout="300ms"):
    out = ("runtime:\n  server_offline_delay: 0\n  task_wait_delay: 0\n"
           "worker:\n  thread_number: 2\nlog: stdout\n"
           f"resolver:\n  - name: dns\n    type: c_ares\n    server: 127.0.0.1:{dns_port}\n"
           "escaper:\n")
    for name, ip in BINDS.items():
        out += (f"  - name: {name}\n    type: direct_fixed\n    resolver: dns\n"
                f"    bind_ip: {ip}\n"
                "    egress_network_filter: {default: allow, allow: [127.0.0.0/8]}\n")
    out += ("  - name: geo\n    type: route_geoip\n    resolver: dns\n"
            "    ip_locate_service:\n"
            f"      path: {workdir}/iplocd_test.rpc\n"
            f"      query_wait_timeout: {timeout}\n"
            "    geo_rules:\n"
            "      - {next: de, countries: [de]}\n"
            "      - {next: asia, continents: [AS]}\n"
            "      - {next: asn, as_numbers: [64502], countries: [FR]}\n"
            "      - {next: net, networks: [127.0.3.0/24]}\n"
            "    default_next: dflt\n"
            "server:\n"
            f"  - {{name: socks, type: socks_proxy, listen: 127.0.0.1:{socks_port}, "
            "escaper: geo}\n"
            f"  - {{name: http, type: http_proxy, listen: 127.0.0.1:{http_port}, "
            "escaper: geo}\n")
    return out


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


@pytest.fixture
def geo_proxyd(daemon_factory, write_conf, workdir, dns):  # noqa: F811
    sp, hp = free_ports(2)
    d = start_proxyd(daemon_factory, write_conf, geo_conf(workdir, sp, hp, dns.port))
    d.socks, d.http = sp, hp
    return d


def body(resp):
    head, _, b = resp.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), resp
    return b.decode()


def via_socks(d, host, port):
    s, method, rep = socks5_open(d.socks, host, port)
    with s:
        assert method == b"\x05\x00"
        assert rep[:2] == b"\x05\x00", rep
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        return body(recv_all(s))


def via_connect(d, host, port):
    with socket.create_connection(("127.0.0.1", d.http), timeout=5) as s:
        t = f"{host}:{port}"
        s.sendall(f"CONNECT {t} HTTP/1.1\r\nHost: {t}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = s.recv(1)
            assert c, head
            head += c
        assert head.startswith(b"HTTP/1.1 200"), head
        s.sendall(f"GET / HTTP/1.1\r\nHost: {t}\r\n\r\n".encode())
        return body(recv_all(s))


def via_forward(d, host, port):
    r = subprocess.run(["curl", "-sS", "--max-time", "10", "-x", f"http://127.0.0.1:{d.http}",
                        f"http://{host}:{port}/"], capture_output=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def record_for(d, upstream, n=1):
    return wait_record(d, lambda r: r.get("upstream") == upstream and r.get("reason") != "",
                       what=f"task record for {upstream}")


@need_writer
@pytest.mark.parametrize("how", ["socks", "connect", "forward"])
def test_routes_by_geo(daemon_factory, write_conf, geodb, peers, geo_proxyd, how):
    start_iplocd(daemon_factory, write_conf, geodb)
    go = {"socks": via_socks, "connect": via_connect, "forward": via_forward}[how]
    for ip, esc in TARGETS.items():
        port = peers.ports[ip]
        assert go(geo_proxyd, ip, port) == BINDS[esc], f"{ip} should leave through {esc}"
    for ip, esc in TARGETS.items():
        rec = record_for(geo_proxyd, f"{ip}:{peers.ports[ip]}")
        assert rec["escaper"] == esc, rec
        assert rec["next_bound_addr"].startswith(BINDS[esc] + ":"), rec
    de = record_for(geo_proxyd, f"127.0.0.5:{peers.ports['127.0.0.5']}")
    assert de["geo_country"] == "DE" and de["geo_asn"] == 64500 and de["geo_continent"] == "EU"
    asn = record_for(geo_proxyd, f"127.0.2.5:{peers.ports['127.0.2.5']}")
    assert asn["geo_country"] == "US" and asn["geo_asn"] == 64502
    dflt = record_for(geo_proxyd, f"127.0.4.5:{peers.ports['127.0.4.5']}")
    assert dflt["geo_country"] == "US" and dflt["geo_asn"] == 64504
    # a networks rule decides without iplocd: no geo fields
    net = record_for(geo_proxyd, f"127.0.3.5:{peers.ports['127.0.3.5']}")
    assert "geo_country" not in net and "geo_asn" not in net


@need_writer
def test_domain_target_is_resolved(daemon_factory, write_conf, geodb, peers, geo_proxyd):
    """v4only.test resolves (test DNS) to 127.0.0.1, in the DE network."""
    start_iplocd(daemon_factory, write_conf, geodb)
    port = peers.ports["127.0.0.1"]
    assert via_socks(geo_proxyd, "v4only.test", port) == BINDS["de"]
    rec = record_for(geo_proxyd, f"v4only.test:{port}")
    assert rec["escaper"] == "de" and rec["geo_country"] == "DE"


@need_writer
def test_iplocd_stopped_uses_default_next(daemon_factory, write_conf, geodb, peers, geo_proxyd):
    iplocd = start_iplocd(daemon_factory, write_conf, geodb)
    assert via_socks(geo_proxyd, "127.0.0.5", peers.ports["127.0.0.5"]) == BINDS["de"]
    iplocd.signal(signal.SIGTERM)
    assert iplocd.wait_exit(15) == 0
    for how in (via_socks, via_connect, via_forward):
        for ip in ("127.0.1.5", "127.0.2.5"):  # never asked before: not cached
            t0 = time.monotonic()
            assert how(geo_proxyd, ip, peers.ports[ip]) == BINDS["dflt"]
            assert time.monotonic() - t0 < 2.5  # query_wait_timeout is 300ms
    rec = record_for(geo_proxyd, f"127.0.1.5:{peers.ports['127.0.1.5']}")
    assert rec["escaper"] == "dflt" and "geo_country" not in rec


def test_no_iplocd_at_all(daemon_factory, write_conf, peers, geo_proxyd):
    """iplocd never started: every request goes through default_next."""
    t0 = time.monotonic()
    assert via_socks(geo_proxyd, "127.0.1.5", peers.ports["127.0.1.5"]) == BINDS["dflt"]
    assert time.monotonic() - t0 < 2.5
    assert via_forward(geo_proxyd, "127.0.0.5", peers.ports["127.0.0.5"]) == BINDS["dflt"]


@need_writer
def test_stop_while_lookup_pending(daemon_factory, write_conf, workdir, peers, geodb,
                                   dns):  # noqa: F811
    """iplocd frozen (SIGSTOP) and a long query timeout: tasks wait in
    route_geoip without blocking the loop (other servers' work goes on), and
    stopping proxyd then cancels their pending lookups: a clean exit (under
    SAN: no leak, no callback after free)."""
    iplocd = start_iplocd(daemon_factory, write_conf, geodb)
    iplocd.signal(signal.SIGSTOP)
    try:
        sp, hp = free_ports(2)
        d = start_proxyd(daemon_factory, write_conf, geo_conf(workdir, sp, hp, dns.port, "5s"))
        d.socks, d.http = sp, hp
        clients = []
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", sp), timeout=5)
            s.sendall(b"\x05\x01\x00\x05\x01\x00\x01" + socket.inet_aton(f"127.0.{i % 3}.5") +
                      peers.ports["127.0.1.5"].to_bytes(2, "big"))
            clients.append(s)
        time.sleep(0.5)
        # the networks rule needs no iplocd: served while the others wait
        assert via_connect(d, "127.0.3.5", peers.ports["127.0.3.5"]) == BINDS["net"]
        for c in clients:
            assert recv_exact(c, 2) == b"\x05\x00"  # the method reply
            c.setblocking(False)
            with pytest.raises(BlockingIOError):
                c.recv(2)  # no reply yet: the lookup is pending
        check_clean_exit(d)
        for c in clients:
            c.close()
    finally:
        iplocd.signal(signal.SIGCONT)


@need_writer
def test_reload_keeps_routing(daemon_factory, write_conf, geodb, peers, geo_proxyd):
    """A reload builds new iplocd clients for the new generation; the old
    ones go with it (clean exit under SAN), and routing goes on."""
    start_iplocd(daemon_factory, write_conf, geodb)
    assert via_socks(geo_proxyd, "127.0.1.5", peers.ports["127.0.1.5"]) == BINDS["asia"]
    r = geo_proxyd.ctl.run("reload")
    assert r.returncode == 0, r.stderr
    for ip, esc in TARGETS.items():
        assert via_connect(geo_proxyd, ip, peers.ports[ip]) == BINDS[esc]
