"""socks_proxy end to end: curl's SOCKS4/4a/5 clients and a raw SOCKS5
client through proxyd to a local origin, the RFC 1928 reply codes for every
failure, malformed input, timeouts, and the task log g3 users expect."""

import hashlib
import socket
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin6, origin_root  # noqa: F401
from helpers import wait_for
from dp_helpers import (Blackhole, assert_g3_order, closed_by_peer, dp_conf, free_port,
                        http_get_over, recv_all, recv_exact, socks5_open, start_proxyd,
                        task_records, upstream_is, wait_record)


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def socks(daemon_factory, write_conf, dns):  # noqa: F811
    """proxyd with a socks_proxy on a free port resolving through the DNS
    fixture; .port is the SOCKS port."""
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=port, dns_port=dns.port, socks="negotiation_timeout: 1s"))
    d.port = port
    return d


def still_serving(d, origin):  # noqa: F811
    """A follow-up request through the proxy works."""
    r = curl("--socks5", f"127.0.0.1:{d.port}", f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"


# ---- success paths -------------------------------------------------------------------


@pytest.mark.parametrize("mode,host", [
    ("--socks5", "127.0.0.1"),
    ("--socks5-hostname", "origin.test"),
    ("--socks4", "127.0.0.1"),
    ("--socks4a", "origin.test"),
])
def test_curl_modes(socks, origin, mode, host):  # noqa: F811
    r = curl(mode, f"127.0.0.1:{socks.port}", f"http://{host}:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(socks, upstream_is(f"{host}:{origin.port}"))
    assert rec["server_type"] == "SocksProxy"
    assert rec["server_name"] == "socks"
    assert rec["task_type"] == "TcpConnect"
    assert rec["task_event"] == "Finished"
    assert rec["stage"] == "Relaying"
    assert rec["escaper"] == "direct"
    assert rec["reason"] in ("ClosedByClient", "ClosedByUpstream")
    assert rec["next_peer_addr"] == f"127.0.0.1:{origin.port}"
    assert rec["next_bound_addr"].startswith("127.0.0.1:")
    assert rec["client_addr"].startswith("127.0.0.1:")
    assert rec["server_addr"] == f"127.0.0.1:{socks.port}"
    assert rec["tcp_connect_tries"] == 1
    assert len(rec["task_id"]) == 32 and int(rec["task_id"], 16) >= 0
    # what went to the client is what came from the origin, and back
    assert rec["c_wr_bytes"] == rec["r_rd_bytes"] > len(b"hello from origin\n")
    assert rec["r_wr_bytes"] == rec["c_rd_bytes"] > 0
    for k in ("wait_time", "ready_time", "total_time", "tcp_connect_spend"):
        assert rec[k].endswith("s"), rec
    assert_g3_order(rec)


def test_raw_socks5_bytes(socks, origin):  # noqa: F811
    s, method, rep = socks5_open(socks.port, "127.0.0.1", origin.port)
    with s:
        assert method == b"\x05\x00"
        # success, BND.ADDR = the outgoing socket's local address
        assert rep[:4] == b"\x05\x00\x00\x01"
        assert rep[4:8] == socket.inet_aton("127.0.0.1")
        bound_port = int.from_bytes(rep[8:10], "big")
        assert bound_port != 0
        body = http_get_over(s)
    assert body.startswith(b"HTTP/1.1 200") or body.startswith(b"HTTP/1.0 200")
    assert body.endswith(b"hello from origin\n")
    rec = wait_record(socks, upstream_is(f"127.0.0.1:{origin.port}"))
    assert rec["next_bound_addr"] == f"127.0.0.1:{bound_port}"


def test_ipv6_target(daemon_factory, write_conf, origin6):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=port))
    s, method, rep = socks5_open(port, "::1", origin6.port)
    with s:
        assert rep[:4] == b"\x05\x00\x00\x04"  # bound address is IPv6
        assert rep[4:20] == socket.inet_pton(socket.AF_INET6, "::1")
        assert http_get_over(s).endswith(b"hello from origin\n")
    rec = wait_record(d, upstream_is(f"[::1]:{origin6.port}"))
    assert rec["next_peer_addr"] == f"[::1]:{origin6.port}"


def test_bulk_download_exact(socks, origin):  # noqa: F811
    r = curl("--socks5-hostname", f"127.0.0.1:{socks.port}",
             f"http://origin.test:{origin.port}/big.bin", timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 20 * 1024 * 1024
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256
    rec = wait_record(socks, upstream_is(f"origin.test:{origin.port}"))
    assert rec["r_rd_bytes"] == rec["c_wr_bytes"] > 20 * 1024 * 1024


def test_pipelined_request_bytes_reach_origin(socks, origin):  # noqa: F811
    """Bytes sent right behind the SOCKS request (before the reply) are
    relayed first."""
    s = socket.create_connection(("127.0.0.1", socks.port), timeout=5)
    with s:
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
        req = b"\x05\x01\x00\x01" + socket.inet_aton("127.0.0.1") + origin.port.to_bytes(2, "big")
        s.sendall(req + b"GET /index.html HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
        rep = recv_exact(s, 10)
        assert rep[:2] == b"\x05\x00"
        assert recv_all(s).endswith(b"hello from origin\n")


# ---- refusals with RFC 1928 codes, task log reason -----------------------------------


def test_refused_port(socks, origin):  # noqa: F811
    dead = free_port()
    s, _, rep = socks5_open(socks.port, "127.0.0.1", dead)
    with s:
        assert rep[:2] == b"\x05\x05"  # connection refused
        assert closed_by_peer(s)
    rec = wait_record(socks, upstream_is(f"127.0.0.1:{dead}"))
    assert rec["reason"] == "UpstreamNotConnected"
    assert rec["stage"] == "Connecting"
    assert rec["tcp_connect_tries"] == 1
    assert "refused" in rec["message"]
    assert_g3_order(rec)
    # the escape log says the same from the escaper's side (g3 §3.8)
    esc = wait_for(lambda: [r for r in task_records(socks, "Escape")
                            if r["task_id"] == rec["task_id"]], 5, what="escape record")[0]
    assert list(esc)[3:] == ["escaper_type", "escaper_name", "escape_type", "task_id",
                             "upstream", "next_peer_addr", "tcp_connect_tries",
                             "tcp_connect_spend", "reason", "message"]
    assert esc["escaper_type"] == "DirectFixed" and esc["escaper_name"] == "direct"
    assert esc["escape_type"] == "TcpConnect" and esc["reason"] == "ConnectFailed"
    assert esc["upstream"] == f"127.0.0.1:{dead}"
    still_serving(socks, origin)


def test_egress_filter_forbids(socks, origin):  # noqa: F811
    """127.0.0.2 stays under g3's built-in 127.0.0.0/8 forbid."""
    s, _, rep = socks5_open(socks.port, "127.0.0.2", origin.port)
    with s:
        assert rep[:2] == b"\x05\x02"
    rec = wait_record(socks, upstream_is(f"127.0.0.2:{origin.port}"))
    assert rec["reason"] == "ForbiddenByRule"
    assert rec["tcp_connect_tries"] == 0
    assert "next_peer_addr" not in rec
    # a name resolving into a forbidden network is refused the same way
    s, _, rep = socks5_open(socks.port, "denied.test", origin.port)
    with s:
        assert rep[:2] == b"\x05\x02"
    assert wait_record(socks, upstream_is(f"denied.test:{origin.port}"))["reason"] == \
        "ForbiddenByRule"


def test_server_dst_filters(daemon_factory, write_conf, origin):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=port, socks="""
dst_port_filter: {default: allow, deny: 9}
dst_host_filter_set:
  exact_match: {default: allow, deny: blocked.test}
"""))
    s, _, rep = socks5_open(port, "127.0.0.1", 9)
    with s:
        assert rep[:2] == b"\x05\x02"
    s, _, rep = socks5_open(port, "blocked.test", origin.port)
    with s:
        assert rep[:2] == b"\x05\x02"
    rec = wait_record(d, upstream_is(f"blocked.test:{origin.port}"))
    assert rec["reason"] == "ForbiddenByRule"
    assert rec["stage"] == "Created"
    # socks4 gets 91 (rejected)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    with s:
        s.sendall(b"\x04\x01\x00\x09\x7f\x00\x00\x01\x00")
        assert recv_exact(s, 8)[:2] == b"\x00\x5b"
    d.port = port
    still_serving(d, origin)


def test_dns_failures(socks, dns, origin):  # noqa: F811
    s, _, rep = socks5_open(socks.port, "nx.test", origin.port)
    with s:
        assert rep[:2] == b"\x05\x04"  # host unreachable
    rec = wait_record(socks, upstream_is(f"nx.test:{origin.port}"))
    assert rec["reason"] == "UpstreamNotResolved"
    assert dns.count("nx.test", "A") >= 1
    # resolve log (g3 §3.9): one record per failed query
    res = wait_for(lambda: [r for r in task_records(socks, "Resolve")
                            if r["domain"] == "nx.test"], 5, what="resolve record")
    assert {r["query_type"] for r in res} <= {"A", "AAAA"}
    r0 = res[0]
    assert list(r0)[3:] == ["resolver_type", "resolver_name", "server", "query_type",
                            "duration", "rr_source", "error_type", "error_subtype", "domain",
                            "message"]
    assert r0["resolver_type"] == "c-ares" and r0["resolver_name"] == "dns"
    assert r0["server"] == f"127.0.0.1:{dns.port}"
    assert r0["error_type"] == "ServerError" and r0["error_subtype"] == "NOTFOUND"
    assert r0["rr_source"] == "query"
    esc = [r for r in task_records(socks, "Escape") if r["task_id"] == rec["task_id"]]
    assert esc and esc[0]["reason"] == "ResolveFailed"


def test_dns_cache(socks, dns, origin):  # noqa: F811
    """Answers are cached per worker for their TTL (min 30s): with one
    worker serving both requests, the second asks no DNS question."""
    for _ in range(4):
        r = curl("--socks5-hostname", f"127.0.0.1:{socks.port}",
                 f"http://origin.test:{origin.port}/index.html")
        assert r.returncode == 0, r.stderr
    # two workers: at most one A question each
    assert 1 <= dns.count("origin.test", "A") <= 2
    # negative answers are cached too (negative_min_ttl)
    for _ in range(4):
        s, _, rep = socks5_open(socks.port, "nx2.test", origin.port)
        s.close()
        assert rep[:2] == b"\x05\x04"
    assert 1 <= dns.count("nx2.test", "A") <= 2


def test_dns_cache_survives_reload(daemon_factory, write_conf, origin):  # noqa: F811
    """A reload that leaves a resolver's config alone keeps its cache (g3
    keeps an unchanged resolver); one that changes the resolver starts it
    afresh."""
    from dp_helpers import DnsServer
    names = DnsServer(a={"kept.test": ["127.0.0.1"]}, aaaa={"kept.test": ["::1"]}, ttl=300)
    try:
        port = free_port()
        d = start_proxyd(daemon_factory, write_conf,
                         dp_conf(socks_port=port, dns_port=names.port, workers=1))

        def fetch():
            s, _, rep = socks5_open(port, "kept.test", origin.port)
            s.close()
            assert rep[:2] == b"\x05\x00", rep

        def reload(old, new):
            text = d.conf.read_text()
            assert old in text
            d.conf.write_text(text.replace(old, new, 1))
            r = d.ctl.run("reload")
            assert r.returncode == 0, r.stderr

        fetch()
        assert names.count("kept.test", "A") == 1
        # a server changes, the resolver does not: the answer is still cached
        reload("    escaper: direct\n", "    escaper: direct\n    task_idle_max_count: 7\n")
        fetch()
        assert names.count("kept.test", "A") == 1
        # the resolver changes: a fresh cache asks again
        reload("each_timeout: 500", "each_timeout: 600")
        fetch()
        assert names.count("kept.test", "A") == 2
    finally:
        names.stop()


def test_lost_aaaa_does_not_stall(daemon_factory, write_conf, origin):  # noqa: F811
    """Ipv4First: once A answered, AAAA gets happy_eyeballs.resolution_delay
    (50ms) and no more, even when its answer never comes."""
    from dp_helpers import DnsServer
    quiet = DnsServer(a={"slow6.test": ["127.0.0.1"]}, silent_aaaa=True)
    try:
        port = free_port()
        start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=port, dns_port=quiet.port))
        t0 = time.monotonic()
        r = curl("--socks5-hostname", f"127.0.0.1:{port}",
                 f"http://slow6.test:{origin.port}/index.html")
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 0.9  # the AAAA timeout is 500ms x 2 tries
    finally:
        quiet.stop()


def test_strategies(daemon_factory, write_conf, dns, origin, origin6):  # noqa: F811
    """Ipv6Only picks the AAAA answer; a name with no AAAA is unresolved."""
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=port, dns_port=dns.port, escaper="resolve_strategy: Ipv6Only"))
    s, _, rep = socks5_open(port, "origin.test", origin6.port)
    with s:
        assert rep[:2] == b"\x05\x00"
        assert http_get_over(s).endswith(b"hello from origin\n")
    assert wait_record(d, upstream_is(f"origin.test:{origin6.port}"))["next_peer_addr"] == \
        f"[::1]:{origin6.port}"
    s, _, rep = socks5_open(port, "v4only.test", origin.port)
    with s:
        assert rep[:2] == b"\x05\x04"
    assert dns.count("v4only.test", "A") == 0


def test_connect_timeout_0x09(daemon_factory, write_conf):
    hole = Blackhole()
    try:
        port = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            socks_port=port, escaper="tcp_connect: {max_retry: 0, each_timeout: 400ms}"))
        t0 = time.monotonic()
        s, _, rep = socks5_open(port, "127.0.0.1", hole.port)
        with s:
            assert rep[:2] == b"\x05\x09"  # g3's "connection timed out"
        assert 0.3 < time.monotonic() - t0 < 3
        rec = wait_record(d, upstream_is(f"127.0.0.1:{hole.port}"))
        assert rec["reason"] == "UpstreamNotConnected"
        assert "timed out" in rec["message"]
    finally:
        hole.stop()


def test_deny_all_and_dummy_deny(daemon_factory, write_conf, origin):  # noqa: F811
    port = free_port()
    conf = dp_conf(socks_port=port, extra="""\
  - name: socks_deny
    type: socks_proxy
    listen: 127.0.0.1:%d
    escaper: nowhere
""" % (port2 := free_port()), resolver="", escaper="")
    conf = conf.replace("    resolver: dns\n", "    resolver: none\n")  # missing → deny_all
    d = start_proxyd(daemon_factory, write_conf, conf)
    # the name cannot resolve through deny_all
    s, _, rep = socks5_open(port, "origin.test", origin.port)
    with s:
        assert rep[:2] == b"\x05\x04"
    assert wait_record(d, upstream_is(f"origin.test:{origin.port}"))["reason"] == \
        "UpstreamNotResolved"
    # IPs need no resolver
    s, _, rep = socks5_open(port, "127.0.0.1", origin.port)
    with s:
        assert rep[:2] == b"\x05\x00"
    # a missing escaper is an internal dummy_deny: forbidden
    s, _, rep = socks5_open(port2, "127.0.0.1", origin.port)
    with s:
        assert rep[:2] == b"\x05\x02"
    rec = wait_record(d, lambda r: r.get("server_name") == "socks_deny")
    assert rec["reason"] == "ForbiddenByRule"
    assert rec["escaper"] == "nowhere"


# ---- malformed input and timeouts -------------------------------------------------------


def raw(port, data, shut=False):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if data:
        s.sendall(data)
    if shut:
        s.shutdown(socket.SHUT_WR)
    return s


def test_wrong_version_closed(socks, origin):  # noqa: F811
    with raw(socks.port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") as s:
        assert recv_all(s) == b""  # no reply in a protocol we do not know
    still_serving(socks, origin)
    assert "invalid socks version" in socks.stderr()


def test_zero_methods(socks, origin):  # noqa: F811
    with raw(socks.port, b"\x05\x00") as s:
        assert recv_all(s) == b"\x05\xff"
    assert "no authentication method offered" in socks.stderr()
    still_serving(socks, origin)


def test_no_acceptable_method(socks):
    with raw(socks.port, b"\x05\x01\x02") as s:  # user/pass only
        assert recv_all(s) == b"\x05\xff"


def test_bad_atyp_and_command(socks, origin):  # noqa: F811
    with raw(socks.port, b"\x05\x01\x00") as s:
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x07\x7f\x00\x00\x01\x00\x50")
        assert recv_all(s) == b"\x05\x08\x00\x01\x00\x00\x00\x00\x00\x00"
    with raw(socks.port, b"\x05\x01\x00") as s:
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x09\x00\x01\x7f\x00\x00\x01\x00\x50")
        assert recv_all(s)[:2] == b"\x05\x07"
    # BIND: command not supported (as g3)
    s, _, rep = socks5_open(socks.port, "127.0.0.1", 0, cmd=2)
    with s:
        assert rep[:2] == b"\x05\x07"
    assert "bind is not supported" in socks.stderr()
    still_serving(socks, origin)


def test_truncated_and_oversize(socks, origin):  # noqa: F811
    # greeting cut short, then the client goes away
    with raw(socks.port, b"\x05\x02\x00", shut=True) as s:
        assert recv_all(s) == b""
    # request cut short
    with raw(socks.port, b"\x05\x01\x00") as s:
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x03\x20abc")
        s.shutdown(socket.SHUT_WR)
        assert recv_all(s) == b""
    # 255-byte name: longer than a DNS name may be
    with raw(socks.port, b"\x05\x01\x00") as s:
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x03\xff" + b"a" * 255 + b"\x00\x50")
        assert recv_all(s)[:2] == b"\x05\x01"
    # a name with bytes no host name has
    with raw(socks.port, b"\x05\x01\x00") as s:
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x03\x05a/b c\x00\x50")
        assert recv_all(s)[:2] == b"\x05\x01"
    # SOCKS4 user id beyond 255 bytes
    with raw(socks.port, b"\x04\x01\x00\x50\x7f\x00\x00\x01" + b"u" * 400) as s:
        assert recv_all(s) == b"\x00\x5b\x00\x00\x00\x00\x00\x00"
    err = socks.stderr()
    assert "socks5 greeting truncated" in err
    assert "socks5 request truncated" in err
    assert "invalid domain name" in err
    assert "socks4 user id too long" in err
    assert task_records(socks) == []  # no task was created by any of these
    still_serving(socks, origin)


def test_slow_client_negotiation_timeout(socks, origin):  # noqa: F811
    t0 = time.monotonic()
    with raw(socks.port, b"\x05") as s:
        assert closed_by_peer(s, timeout=5)
    assert 0.8 < time.monotonic() - t0 < 3  # negotiation_timeout: 1s
    assert "negotiation timeout" in socks.stderr()
    still_serving(socks, origin)


def test_user_group_needs_auth(daemon_factory, write_conf, origin):  # noqa: F811
    """With a user group (and no anonymous user), only RFC 1929
    user/password may be chosen: a client offering only "none" gets no
    acceptable method, and SOCKS4 is closed (test_dp_auth.py has the rest)."""
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=port, socks="user_group: users",
        extra="user_group:\n  - name: users\n    static_users: [{name: u, token: null}]\n"))
    with raw(port, b"\x05\x01\x00") as s:
        assert recv_all(s) == b"\x05\xff"
    with raw(port, b"\x05\x02\x00\x02") as s:
        s.sendall(b"\x01\x01u\x00")
        assert recv_all(s)[:4] == b"\x05\x02\x01\x00"
    with raw(port, b"\x04\x01\x00\x50\x7f\x00\x00\x01\x00") as s:
        assert recv_all(s) == b""
    err = d.stderr()
    assert "client does not offer user/password authentication" in err
    assert "socks4 does not support authentication" in err


# ---- asynchronous teardown -------------------------------------------------------------


def test_reload_and_stop_with_pending_queries(daemon_factory, write_conf, origin):  # noqa: F811
    """Queries nobody answers: a client that reset its connection while
    waiting is freed from inside the resolver's callback after a reload
    made its config generation old (the generation and its c-ares channel
    must outlive that callback); another query is still pending when proxyd
    stops. Under SAN the clean exit proves no use after free or leak."""
    from dp_helpers import DnsServer
    quiet = DnsServer(silent=["void.test", "void2.test"])
    try:
        port = free_port()
        conf = dp_conf(socks_port=port, dns_port=quiet.port, workers=1)
        d = start_proxyd(daemon_factory, write_conf, conf, args=("-vvv",))
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\x00"
        s.sendall(b"\x05\x01\x00\x03\x09void.test\x00\x50")
        time.sleep(0.2)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # RST: the reply write will fail
        write_conf(conf + "# reloaded\n")
        assert d.ctl.run("reload").returncode == 0
        # c-ares gives up after 2 x 500ms; the task ends with the client gone
        rec = wait_record(d, upstream_is("void.test:80"), timeout=10)
        assert rec["reason"] == "UpstreamNotResolved"
        # the write to the reset client failed inside the resolver callback
        wait_for(lambda: "released in a resolver callback" in d.stderr(), 5,
                 what="deferred generation free")
        assert quiet.count("void.test", "A") >= 1
        # still serving with the new generation
        still_serving(type("P", (), {"port": port})(), origin)
        # and a query in flight when proxyd stops
        s2, _ = socket.create_connection(("127.0.0.1", port), timeout=5), None
        s2.sendall(b"\x05\x01\x00")
        assert recv_exact(s2, 2) == b"\x05\x00"
        s2.sendall(b"\x05\x01\x00\x03\x0avoid2.test\x00\x50")
        wait_for(lambda: quiet.count("void2.test", "A") >= 1, 5, what="query sent")
        s2.close()
    finally:
        quiet.stop()
