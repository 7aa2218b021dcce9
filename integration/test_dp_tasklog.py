"""Task-log events other than Finished (g3proxy §3.2): Created
(flush_task_log_on_created), Connected (flush_task_log_on_connected) and
Periodic (task_log_flush_interval) records with g3's keys, and the bytes of
an HTTP error reply counted in the task's c_wr_bytes."""

import socket
import time

from dp_fixtures import app, dp_clean_exit, dns, origin_root  # noqa: F401
from dp_helpers import (assert_g3_order, dp_conf, free_port, recv_all, start_proxyd,
                        task_records, wait_for, wait_record)


def start(daemon_factory, write_conf, dns, http):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(http_port=port, dns_port=dns.port,
                                                         http=http))
    d.port = port
    return d


def read_head(s):
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        assert c, head
        head += c
    return head


def events_of(d, task_id):
    return [r["task_event"] for r in task_records(d) if r.get("task_id") == task_id]


def test_created_connected_finished(daemon_factory, write_conf, dns, app):  # noqa: F811
    d = start(daemon_factory, write_conf, dns,
              "flush_task_log_on_created: true\nflush_task_log_on_connected: true")
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s.sendall(f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n".encode())
    assert read_head(s).startswith(b"HTTP/1.1 200")
    s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"hello from origin" in recv_all(s)
    s.close()
    fin = wait_record(d, lambda r: r.get("task_event") == "Finished")
    tid = fin["task_id"]
    recs = [r for r in task_records(d) if r.get("task_id") == tid]
    assert [r["task_event"] for r in recs] == ["Created", "Connected", "Finished"]
    created, connected = recs[0], recs[1]
    assert created["task_type"] == connected["task_type"] == "TcpConnect"
    assert created["stage"] == "Created"
    assert connected["stage"] == "Connected"
    assert connected["next_peer_addr"] == f"127.0.0.1:{app.port}"
    assert created["upstream"] == f"127.0.0.1:{app.port}"
    for r in (created, connected):
        assert "reason" not in r  # only the Finished record says why it ended
        assert r["c_rd_bytes"] == r["c_wr_bytes"] == 0
        assert_g3_order(r)
    assert fin["reason"] in ("ClosedByClient", "ClosedByUpstream")
    assert fin["r_rd_bytes"] > 0


def test_off_by_default(daemon_factory, write_conf, dns, app):  # noqa: F811
    d = start(daemon_factory, write_conf, dns, "")
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s.sendall(f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n".encode())
    assert read_head(s).startswith(b"HTTP/1.1 200")
    s.close()
    fin = wait_record(d, lambda r: r.get("task_event") == "Finished")
    assert events_of(d, fin["task_id"]) == ["Finished"]


def test_periodic(daemon_factory, write_conf, dns, app):  # noqa: F811
    d = start(daemon_factory, write_conf, dns, "task_log_flush_interval: 300ms")
    s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
    s.sendall(f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n".encode())
    assert read_head(s).startswith(b"HTTP/1.1 200")
    req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"  # keep-alive: the tunnel stays
    s.sendall(req)
    time.sleep(1.1)
    periodic = wait_for(lambda: [r for r in task_records(d)
                                 if r.get("task_event") == "Periodic"][:2] or None,
                        5, what="Periodic records")
    s.close()
    fin = wait_record(d, lambda r: r.get("task_event") == "Finished")
    recs = [r for r in task_records(d) if r.get("task_id") == fin["task_id"]]
    per = [r for r in recs if r["task_event"] == "Periodic"]
    assert 2 <= len(per) <= 6, [r["task_event"] for r in recs]
    assert recs[-1]["task_event"] == "Finished"
    for r in per:
        assert r["stage"] == "Relaying"
        assert "reason" not in r
        assert r["c_rd_bytes"] == r["r_wr_bytes"] == len(req)  # counts so far
        assert r["r_rd_bytes"] > 0
    assert periodic[0]["task_id"] == fin["task_id"]
    # the periodic records never move the counts: the Finished one has them all
    assert fin["c_rd_bytes"] == len(req)


def test_forward_created_is_http(daemon_factory, write_conf, dns, app):  # noqa: F811
    d = start(daemon_factory, write_conf, dns, "flush_task_log_on_created: true")
    with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
        s.sendall(f"GET http://127.0.0.1:{app.port}/index.html HTTP/1.1\r\n"
                  f"Host: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        assert b"hello from origin" in recv_all(s)
    fin = wait_record(d, lambda r: r.get("task_event") == "Finished")
    recs = [r for r in task_records(d) if r.get("task_id") == fin["task_id"]]
    assert [r["task_event"] for r in recs] == ["Created", "Finished"]
    assert recs[0]["task_type"] == "HttpForward"
    assert recs[0]["method"] == "GET"


def test_error_reply_counted(daemon_factory, write_conf, dns, app):  # noqa: F811
    """A task refused with an HTTP error: its reply bytes are c_wr_bytes."""
    d = start(daemon_factory, write_conf, dns, "dst_port_filter: [1]")
    for req in (f"GET http://127.0.0.1:{app.port}/ HTTP/1.1\r\nHost: a\r\n\r\n",
                f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", d.port), timeout=5) as s:
            s.sendall(req.encode())
            reply = recv_all(s)
        assert reply.startswith(b"HTTP/1.1 403"), reply
        kind = "HttpForward" if req.startswith("GET") else "TcpConnect"
        rec = wait_record(d, lambda r, k=kind: r.get("task_type") == k)
        assert rec["reason"] == "ForbiddenByRule"
        assert rec["c_wr_bytes"] == len(reply)


def test_udp_created_record(daemon_factory, write_conf, dns):  # noqa: F811
    """The Created record of a SOCKS5 UDP association is a UdpConnect one."""
    from dp_helpers import socks5_open
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=port, dns_port=dns.port, socks="flush_task_log_on_created: true"))
    s, method, rep = socks5_open(port, "127.0.0.1", 0, cmd=3)
    assert rep[:2] == b"\x05\x00", rep
    s.close()
    fin = wait_record(d, lambda r: r.get("task_event") == "Finished")
    recs = [r for r in task_records(d) if r.get("task_id") == fin["task_id"]]
    assert [r["task_event"] for r in recs] == ["Created", "Finished"]
    assert recs[0]["task_type"] == fin["task_type"] == "UdpConnect"
    assert "reason" not in recs[0]
