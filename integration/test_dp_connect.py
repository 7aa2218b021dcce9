"""http_proxy CONNECT end to end: curl --proxytunnel and raw clients through
proxyd, byte-exact bulk transfer, half-close, idle reaping, and g3's status
codes for every failure (403, 408, 431, 400, 501, 521, 522, 530)."""

import hashlib
import socket
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (Blackhole, HalfCloseServer, assert_g3_order, closed_by_peer, dp_conf,
                        free_port, recv_all, start_proxyd, task_records, upstream_is,
                        wait_record)


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "25", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def hp(daemon_factory, write_conf, dns):  # noqa: F811
    """proxyd with an http_proxy (req_header_recv_timeout 1s, 4 KiB heads)."""
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=port, dns_port=dns.port,
        http="req_header_recv_timeout: 1s\nreq_header_max_size: 4KiB"))
    d.port = port
    return d


def connect(port, target, extra=b"", version=b"1.1"):
    """Send CONNECT target; returns (socket, status line + headers)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"CONNECT " + target.encode() + b" HTTP/" + version + b"\r\nHost: " +
              target.encode() + b"\r\n\r\n" + extra)
    head = b""
    s.settimeout(5)
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            break
        head += d
    return s, head


def status_of(head):
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else 0


def error_reply(port, data):
    """Send raw bytes, return everything the proxy answers before closing."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return recv_all(s)


def still_serving(d, origin):  # noqa: F811
    r = curl("-p", "-x", f"http://127.0.0.1:{d.port}", f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"


def test_curl_proxytunnel(hp, origin):  # noqa: F811
    r = curl("-p", "-x", f"http://127.0.0.1:{hp.port}",
             f"http://origin.test:{origin.port}/index.html", "-w", "%{http_connect}")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n200"
    rec = wait_record(hp, upstream_is(f"origin.test:{origin.port}"))
    assert rec["server_type"] == "HttpProxy"
    assert rec["task_type"] == "TcpConnect"
    assert rec["stage"] == "Relaying"
    assert rec["next_peer_addr"] == f"127.0.0.1:{origin.port}"
    assert rec["reason"] in ("ClosedByClient", "ClosedByUpstream")
    assert rec["c_rd_bytes"] == rec["r_wr_bytes"] > 0
    assert_g3_order(rec)


def test_raw_connect_reply(hp, origin):  # noqa: F811
    s, head = connect(hp.port, f"127.0.0.1:{origin.port}", version=b"1.0")
    with s:
        assert head == b"HTTP/1.0 200 OK\r\n\r\n"
        s.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
        assert recv_all(s).endswith(b"hello from origin\n")


def test_bulk_download_exact(hp, origin):  # noqa: F811
    r = curl("-p", "-x", f"http://127.0.0.1:{hp.port}", f"http://127.0.0.1:{origin.port}/big.bin",
             timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) == 20 * 1024 * 1024
    assert hashlib.sha256(r.stdout).hexdigest() == origin.big_sha256


def test_data_behind_connect_head(hp, origin):  # noqa: F811
    """Tunnel bytes sent with the CONNECT head go to the origin first."""
    s, head = connect(hp.port, f"127.0.0.1:{origin.port}",
                      extra=b"GET /index.html HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n")
    with s:
        assert status_of(head) == 200
        assert recv_all(s).endswith(b"hello from origin\n")


def test_half_close(hp):
    """The client shuts its write side; the origin sees the end, answers,
    and the answer still reaches the client; both closes are logged."""
    srv = HalfCloseServer()
    try:
        s, head = connect(hp.port, f"127.0.0.1:{srv.port}")
        with s:
            assert status_of(head) == 200
            s.sendall(b"x" * 100000)
            s.shutdown(socket.SHUT_WR)
            assert recv_all(s) == b"got 100000"
        rec = wait_record(hp, upstream_is(f"127.0.0.1:{srv.port}"))
        assert rec["reason"] == "ClosedByClient"
        assert rec["c_rd_bytes"] == rec["r_wr_bytes"] == 100000
        assert rec["r_rd_bytes"] == rec["c_wr_bytes"] == len(b"got 100000")
    finally:
        srv.stop()


@pytest.mark.parametrize("target,status,reason", [
    ("127.0.0.1:{dead}", 521, "UpstreamNotConnected"),
    ("127.0.0.2:{port}", 403, "ForbiddenByRule"),
    ("nx.test:{port}", 530, "UpstreamNotResolved"),
])
def test_connect_failures(hp, origin, target, status, reason):  # noqa: F811
    t = target.format(dead=free_port(), port=origin.port)
    s, head = connect(hp.port, t)
    with s:
        assert status_of(head) == status
        assert b"Connection: close" in head
        assert closed_by_peer(s)
    rec = wait_record(hp, upstream_is(t))
    assert rec["reason"] == reason
    assert_g3_order(rec)
    still_serving(hp, origin)


def test_connect_timeout_522(daemon_factory, write_conf):
    hole = Blackhole()
    try:
        port = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=port, escaper="tcp_connect: {max_retry: 1, each_timeout: 300ms}"))
        t0 = time.monotonic()
        s, head = connect(port, f"127.0.0.1:{hole.port}")
        with s:
            assert status_of(head) == 522
        assert 0.25 < time.monotonic() - t0 < 3
        rec = wait_record(d, upstream_is(f"127.0.0.1:{hole.port}"))
        assert rec["reason"] == "UpstreamNotConnected"
        assert rec["tcp_connect_tries"] == 1  # one address: nothing else to try
    finally:
        hole.stop()


def test_server_dst_filter_403(daemon_factory, write_conf, origin):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=port, http="dst_port_filter: [443]"))
    s, head = connect(port, f"127.0.0.1:{origin.port}")
    with s:
        assert status_of(head) == 403
    rec = wait_record(d, upstream_is(f"127.0.0.1:{origin.port}"))
    assert rec["reason"] == "ForbiddenByRule"


def test_header_timeout_408(hp, origin):  # noqa: F811
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", hp.port), timeout=5) as s:
        s.sendall(b"CONNECT 127.0.0.1:80 HTTP/1.1\r\n")  # never finished
        reply = recv_all(s)
    assert 0.8 < time.monotonic() - t0 < 3
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert "request head timeout" in hp.stderr()
    still_serving(hp, origin)


def test_head_too_large_431(hp, origin):  # noqa: F811
    reply = error_reply(hp.port, b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nX-Big: " + b"a" * 8000 +
                        b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431 ")
    # a head between the 16 KiB block and a larger limit still parses
    still_serving(hp, origin)


def test_head_grows_past_block(daemon_factory, write_conf, origin):  # noqa: F811
    port = free_port()
    start_proxyd(daemon_factory, write_conf, dp_conf(http_port=port))  # 64 KiB default
    s, head = connect(port, f"127.0.0.1:{origin.port}")
    s.close()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\nX-Big: ".encode() +
                  b"a" * 40000 + b"\r\n\r\nGET /index.html HTTP/1.0\r\n\r\n")
        data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n\r\n")
    assert data.endswith(b"hello from origin\n")
    reply = error_reply(port, b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nX-Big: " + b"a" * 70000 +
                        b"\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize("data", [
    b"CONNECT  HTTP/1.1\r\n\r\n",
    b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"CONNECT 127.0.0.1:80 HTTP/1.1\r\nBad Name: x\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
])
def test_malformed_400(hp, origin, data):  # noqa: F811
    reply = error_reply(hp.port, data)
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    assert task_records(hp) == []
    still_serving(hp, origin)


def test_https_forward_to_plain_origin_502(hp, origin):  # noqa: F811
    """https forward (test_dp_tls.py) to an origin that speaks no TLS."""
    reply = error_reply(hp.port, f"GET https://127.0.0.1:{origin.port}/ HTTP/1.1\r\n"
                                 f"Host: 127.0.0.1:{origin.port}\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 502 ")


def test_idle_tunnel_reaped(daemon_factory, write_conf):
    """task_idle_check_interval 2s (g3's minimum) and max count 1: a silent
    tunnel ends at the second check with reason Idle."""
    srv = HalfCloseServer()  # reads forever, says nothing
    try:
        port = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=port, http="task_idle_check_interval: 2s\ntask_idle_max_count: 1"))
        s, head = connect(port, f"127.0.0.1:{srv.port}")
        with s:
            assert status_of(head) == 200
            t0 = time.monotonic()
            assert closed_by_peer(s, timeout=8)
            assert 1.5 < time.monotonic() - t0 < 6
        rec = wait_record(d, upstream_is(f"127.0.0.1:{srv.port}"))
        assert rec["reason"] == "Idle"
    finally:
        srv.stop()
