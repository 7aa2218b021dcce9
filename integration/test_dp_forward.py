"""http_proxy forwarding (absolute-form requests) end to end with curl and
raw clients: every body framing, HEAD/204/304, Expect: 100-continue,
keep-alive and pipelining to the client, pooled upstream connections,
hop-by-hop headers, websocket upgrade, smuggling vectors, failures with
g3's status codes, and the HttpForward task log."""

import hashlib
import socket
import subprocess
import time

import pytest

from dp_fixtures import app, dns, dp_clean_exit, origin_root  # noqa: F401
from dp_helpers import (WebSocketEcho, closed_by_peer, dp_conf, free_port, recv_all,
                        recv_exact, start_proxyd, task_records, wait_record)
from helpers import wait_for

HTTP_FORWARD_ORDER = [
    "daemon_name", "pid", "log_type", "server_type", "server_name", "task_type", "task_id",
    "task_event", "stage", "start_at", "user", "server_addr", "client_addr", "upstream",
    "escaper", "next_bind_ip", "next_bound_addr", "next_peer_addr", "next_expire",
    "tcp_connect_tries", "tcp_connect_spend", "reason", "pipeline_wait", "reuse_connection",
    "method", "uri", "user_agent", "rsp_status", "origin_status", "wait_time", "ready_time",
    "dur_req_send_hdr", "dur_req_send_all", "dur_rsp_recv_hdr", "dur_rsp_recv_all",
    "total_time", "c_rd_bytes", "c_wr_bytes", "r_rd_bytes", "r_wr_bytes", "message",
]


def assert_forward_order(rec):
    keys = list(rec.keys())
    for k in keys:
        assert k in HTTP_FORWARD_ORDER, f"unexpected key {k}"
    idx = [HTTP_FORWARD_ORDER.index(k) for k in keys]
    assert idx == sorted(idx), f"keys out of g3 order: {keys}"


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "25", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def hp(daemon_factory, write_conf, dns):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=port, dns_port=dns.port, http="rsp_header_recv_timeout: 1s"))
    d.port = port
    d.proxy = f"http://127.0.0.1:{port}"
    return d


def uri_is(u):
    return lambda r: r.get("uri") == u


def raw(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(data)
    return s


def read_head(s):
    s.settimeout(5)
    h = b""
    while not h.endswith(b"\r\n\r\n"):
        d = s.recv(1)
        if not d:
            break
        h += d
    return h


def read_response(s):
    """One response with a Content-Length body (or none) from s."""
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        if not d:
            return head, b""
        head += d
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    return head, recv_exact(s, n)


# ---- bodies and methods ----------------------------------------------------------------


def test_get_and_record(hp, app):  # noqa: F811
    url = f"http://127.0.0.1:{app.port}/index.html"
    r = curl("-x", hp.proxy, url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(hp, uri_is(url))
    assert rec["task_type"] == "HttpForward"
    assert rec["server_type"] == "HttpProxy"
    assert rec["method"] == "GET"
    assert rec["rsp_status"] == 200 and rec["origin_status"] == 200
    assert rec["reason"] == "Finished"
    assert rec["upstream"] == f"127.0.0.1:{app.port}"
    assert rec["user_agent"].startswith("curl/")
    assert rec["reuse_connection"] is False
    assert rec["tcp_connect_tries"] == 1
    assert rec["c_wr_bytes"] > len(b"hello from origin\n")
    for k in ("dur_req_send_hdr", "dur_rsp_recv_hdr", "dur_rsp_recv_all", "total_time"):
        assert k in rec
    assert_forward_order(rec)


def test_names_resolve(hp, app):  # noqa: F811
    r = curl("-x", hp.proxy, f"http://origin.test:{app.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"


def test_head_204_304(hp, app):  # noqa: F811
    base = f"http://127.0.0.1:{app.port}"
    r = curl("-I", "-x", hp.proxy, f"{base}/index.html")
    assert r.returncode == 0 and b"200 OK" in r.stdout and b"Content-Length: 18" in r.stdout
    # a keep-alive connection carries them all: none of them has a body
    s = raw(hp.port, f"HEAD {base}/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"GET {base}/204 HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"GET {base}/304 HTTP/1.1\r\nHost: x\r\n\r\n"
                     f"GET {base}/index.html HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    with s:
        # HEAD: a Content-Length but no body; 204 and 304: no body either
        h = read_head(s)
        assert h.startswith(b"HTTP/1.1 200") and b"Content-Length: 20971520" in h
        assert read_head(s).startswith(b"HTTP/1.1 204")
        assert read_head(s).startswith(b"HTTP/1.1 304")
        h, body = read_response(s)
        assert h.startswith(b"HTTP/1.1 200") and body == b"hello from origin\n"


def test_post_content_length_and_chunked(hp, app, tmp_path):  # noqa: F811
    data = bytes(range(256)) * 4096  # 1 MiB
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    url = f"http://127.0.0.1:{app.port}/echo"
    r = curl("-x", hp.proxy, "--data-binary", f"@{f}", "-H", "Expect:", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    r = curl("-x", hp.proxy, "--data-binary", f"@{f}", "-H", "Transfer-Encoding: chunked",
             "-H", "Expect:", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == data
    recs = [x for x in task_records(hp) if x.get("uri") == url]
    assert len(recs) == 2 and all(x["method"] == "POST" for x in recs)
    assert all(x["r_wr_bytes"] > len(data) for x in recs)


def test_expect_100_continue(hp, app, tmp_path):  # noqa: F811
    f = tmp_path / "small.bin"
    f.write_bytes(b"z" * 5000)
    t0 = time.monotonic()
    r = curl("-v", "-x", hp.proxy, "-H", "Expect: 100-continue", "--data-binary", f"@{f}",
             f"http://127.0.0.1:{app.port}/echo")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"z" * 5000
    assert b"HTTP/1.1 100 Continue" in r.stderr
    assert time.monotonic() - t0 < 0.9  # curl did not have to wait its 1s for the 100


def test_chunked_and_eof_responses(hp, app):  # noqa: F811
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/chunked?n=50")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"".join(f"chunk-{i}\n".encode() for i in range(50))
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/eof")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"until the end\n" * 100
    # raw: the chunked framing and trailer are passed on unchanged
    s = raw(hp.port, f"GET http://127.0.0.1:{app.port}/chunked?n=2 HTTP/1.1\r\nHost: x\r\n"
                     f"Connection: close\r\n\r\n".encode())
    with s:
        data = recv_all(s)
    assert b"Transfer-Encoding: chunked" in data
    assert data.endswith(b"0\r\nX-Sum: ok\r\n\r\n")


def test_big_download(hp, app):  # noqa: F811
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/big.bin", timeout=60)
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256(r.stdout).hexdigest() == app.big_sha256


# ---- connections -------------------------------------------------------------------------


def test_keepalive_reuse_and_pool(hp, app):  # noqa: F811
    url = f"http://127.0.0.1:{app.port}/index.html"
    r = curl("-v", "-x", hp.proxy, url, url, url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n" * 3
    assert r.stderr.count(b"Re-using existing connection") == 2
    wait_for(lambda: len([x for x in task_records(hp) if x.get("uri") == url]) == 3, 5,
             what="three records")
    recs = [x for x in task_records(hp) if x.get("uri") == url]
    assert [x["reuse_connection"] for x in recs] == [False, True, True]
    assert len({x["client_addr"] for x in recs}) == 1
    assert len({x["next_bound_addr"] for x in recs}) == 1  # one upstream connection


def test_pipelining(hp, app):  # noqa: F811
    base = f"http://127.0.0.1:{app.port}"
    reqs = b"".join(f"GET {base}/{p} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    for p in ("index.html", "headers", "index.html"))
    with raw(hp.port, reqs) as s:
        h1, b1 = read_response(s)
        h2, b2 = read_response(s)
        h3, b3 = read_response(s)
    assert b1 == b3 == b"hello from origin\n"
    assert b2.startswith(b"GET /headers HTTP/1.1\r\n")


def test_hop_by_hop_removed(hp, app):  # noqa: F811
    req = (f"GET http://127.0.0.1:{app.port}/headers HTTP/1.1\r\n"
           f"Host: 127.0.0.1:{app.port}\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
           "Proxy-Connection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\n"
           "Proxy-Authorization: Basic dTpw\r\nX-End: 2\r\nUser-Agent: t/1\r\n\r\n").encode()
    with raw(hp.port, req) as s:
        _, body = read_response(s)
    text = body.decode().lower()
    assert text.startswith("get /headers http/1.1\r\n")  # origin-form upstream
    for gone in ("x-hop:", "proxy-connection:", "keep-alive: 300", "te:",
                 "proxy-authorization:"):
        assert gone not in text, text
    assert "x-end: 2" in text and "user-agent: t/1" in text
    assert f"host: 127.0.0.1:{app.port}" in text


def test_websocket_upgrade(hp):
    ws = WebSocketEcho()
    try:
        req = (f"GET http://127.0.0.1:{ws.port}/chat HTTP/1.1\r\nHost: 127.0.0.1:{ws.port}\r\n"
               "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode()
        with raw(hp.port, req) as s:
            h = b""
            while not h.endswith(b"\r\n\r\n"):
                h += s.recv(1)
            assert h.startswith(b"HTTP/1.1 101")
            assert b"upgrade: websocket" in h.lower()
            for msg in (b"ping", b"x" * 70000):
                s.sendall(msg)
                assert recv_exact(s, len(msg)) == msg
        assert b"upgrade: websocket" in ws.heads[0].lower()
        rec = wait_record(hp, lambda r: r.get("uri", "").endswith("/chat"))
        assert rec["rsp_status"] == 101
        assert rec["c_rd_bytes"] > 70000
    finally:
        ws.stop()


# ---- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("path,status,reason", [
    ("slow?ms=3000", 504, "UpstreamAppTimeout"),
    ("garbage", 502, "InvalidUpstreamProtocol"),
])
def test_upstream_failures(hp, app, path, status, reason):  # noqa: F811
    url = f"http://127.0.0.1:{app.port}/{path}"
    r = curl("-x", hp.proxy, "-o", "/dev/null", "-w", "%{http_code}", url)
    assert r.stdout == str(status).encode()
    assert wait_record(hp, uri_is(url))["reason"] == reason


@pytest.mark.parametrize("host,status,reason", [
    ("127.0.0.1:{dead}", 521, "UpstreamNotConnected"),
    ("127.0.0.2:{port}", 403, "ForbiddenByRule"),
    ("nx.test:{port}", 530, "UpstreamNotResolved"),
])
def test_connect_failures(hp, app, host, status, reason):  # noqa: F811
    url = f"http://{host.format(dead=free_port(), port=app.port)}/index.html"
    r = curl("-x", hp.proxy, "-o", "/dev/null", "-w", "%{http_code}", url)
    assert r.stdout == str(status).encode()
    assert wait_record(hp, uri_is(url))["reason"] == reason


def test_upstream_reset_mid_body(hp, app):  # noqa: F811
    url = f"http://127.0.0.1:{app.port}/reset"
    r = curl("-x", hp.proxy, url)
    assert r.returncode != 0  # truncated: curl notices
    rec = wait_record(hp, uri_is(url))
    assert rec["reason"] in ("UpstreamReadFailed", "ClosedByUpstream")
    assert rec["rsp_status"] == 200
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/index.html")
    assert r.stdout == b"hello from origin\n"


def test_client_vanishes_mid_body(hp, app):  # noqa: F811
    url = f"http://127.0.0.1:{app.port}/echo"
    with raw(hp.port, f"POST {url} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                      "only ten b".encode()) as s:
        time.sleep(0.3)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    rec = wait_record(hp, uri_is(url))
    assert rec["reason"] in ("ClosedEarlyByClient", "ClientTcpReadFailed")
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/index.html")
    assert r.stdout == b"hello from origin\n"


@pytest.mark.parametrize("req", [
    b"POST http://127.0.0.1:{p}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST http://127.0.0.1:{p}/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b"Content-Length: 4\r\n\r\nabcd",
    b"GET http://127.0.0.1:{p}/ HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n",
    b"GET http://127.0.0.1:{p}/ HTTP/1.1\r\nHost: x\rX-Bare: cr\r\n\r\n",
    b"POST http://127.0.0.1:{p}/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"zz\r\nabc\r\n0\r\n\r\n",
])
def test_smuggling_rejected(hp, app, req):  # noqa: F811
    with raw(hp.port, req.replace(b"{p}", str(app.port).encode())) as s:
        reply = recv_all(s)
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    r = curl("-x", hp.proxy, f"http://127.0.0.1:{app.port}/index.html")
    assert r.stdout == b"hello from origin\n"


def test_not_forwarded_yet(hp, app):  # noqa: F811
    with raw(hp.port, b"GET ftp://127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") as s:
        assert recv_all(s).startswith(b"HTTP/1.1 501 ")
    with raw(hp.port, b"GET /local HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n") as s:
        assert recv_all(s).startswith(b"HTTP/1.1 400 ")


def test_idle_keepalive_closed_on_offline(daemon_factory, write_conf, app):  # noqa: F811
    """An idle kept-alive client does not hold a graceful stop."""
    import signal
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(http_port=port))
    s = raw(port, f"GET http://127.0.0.1:{app.port}/index.html HTTP/1.1\r\nHost: x\r\n\r\n"
            .encode())
    with s:
        _, body = read_response(s)
        assert body == b"hello from origin\n"
        d.signal(signal.SIGTERM)
        assert closed_by_peer(s, timeout=5)
    assert d.wait_exit(10) == 0
