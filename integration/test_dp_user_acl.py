"""Per-user policy (g3proxy §1.5.4): proxy_request_filter,
dst_host_filter_set (exact, child, regex, subnet), dst_port_filter and
http_user_agent_filter, each allowed and denied from the client's side
(HTTP 403 / SOCKS5 reply 2) and in the task log (ForbiddenByRule with the
user), plus task_idle_max_count."""

import base64
import socket
import struct
import subprocess

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import dp_conf, free_port, recv_all, recv_exact, socks5_addr, start_proxyd, \
    task_records, wait_record

USERS = """
user_group:
  - name: g
    static_users:
      - name: fwdonly
        token: null
        proxy_request_filter: {default: deny, allow: [http_forward, socks_tcp_connect]}
      - name: exact
        token: null
        dst_host_filter_set:
          exact_match: {default: deny, allow: [origin.test]}
      - name: child
        token: null
        dst_host_filter_set:
          child_match: {default: allow, deny: [test]}
      - name: regex
        token: null
        dst_host_filter_set:
          regex_match: {default: allow, deny: ['^v4.*']}
      - name: subnet
        token: null
        dst_host_filter_set:
          subnet_match: {default: allow, deny: [127.0.0.0/8]}
      - name: port
        token: null
        dst_port_filter: {default: allow, deny: [PORT]}
      - name: ua
        token: null
        http_user_agent_filter: [curl, evilbot]
      - name: free
        token: null
"""


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


@pytest.fixture
def acld(daemon_factory, write_conf, dns, origin):  # noqa: F811
    hp = free_port()
    sp = free_port()
    while sp == hp:
        sp = free_port()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=sp, http_port=hp, dns_port=dns.port,
                             socks="user_group: g", http="user_group: g",
                             extra=USERS.replace("PORT", str(origin.port))))
    d.hp, d.sp = hp, sp
    return d


def http_code(d, user, url, *extra):
    r = curl("-x", f"http://127.0.0.1:{d.hp}", "-U", f"{user}:x", "-o", "/dev/null", "-w",
             "%{http_code}", *extra, url)
    return r.stdout.decode()


def connect_code(d, user, target):
    auth = base64.b64encode(f"{user}:x".encode()).decode()
    with socket.create_connection(("127.0.0.1", d.hp), timeout=5) as s:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                  f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        head = s.recv(64)
    return head.split(b" ")[1].decode()


def socks_rep(d, user, host, port):
    with socket.create_connection(("127.0.0.1", d.sp), timeout=5) as s:
        s.sendall(b"\x05\x01\x02")
        assert recv_exact(s, 2) == b"\x05\x02"
        u = user.encode()
        s.sendall(b"\x01" + bytes([len(u)]) + u + b"\x01x")
        assert recv_exact(s, 2) == b"\x01\x00"
        s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", port))
        return recv_exact(s, 2)[1]


def denied_record(d, user):
    return wait_record(d, lambda r: r.get("user") == user and r["reason"] == "ForbiddenByRule")


def test_proxy_request_filter(acld, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    assert http_code(acld, "fwdonly", url) == "200"
    assert socks_rep(acld, "fwdonly", "127.0.0.1", origin.port) == 0
    assert connect_code(acld, "fwdonly", f"127.0.0.1:{origin.port}") == "403"
    rec = denied_record(acld, "fwdonly")
    assert rec["task_type"] == "TcpConnect" and rec["server_name"] == "http"
    assert connect_code(acld, "free", f"127.0.0.1:{origin.port}") == "200"


@pytest.mark.parametrize("user,allowed,denied", [
    ("exact", "origin.test", "v4only.test"),
    ("child", "127.0.0.1", "origin.test"),
    ("regex", "origin.test", "v4only.test"),
    ("subnet", "origin.test", "127.0.0.1"),  # subnets match IP targets only
])
def test_dst_host_filter_set(acld, origin, user, allowed, denied):  # noqa: F811
    assert http_code(acld, user, f"http://{allowed}:{origin.port}/index.html") == "200"
    assert socks_rep(acld, user, allowed, origin.port) == 0
    assert http_code(acld, user, f"http://{denied}:{origin.port}/index.html") == "403"
    assert socks_rep(acld, user, denied, origin.port) == 2
    recs = [r for r in task_records(acld)
            if r.get("user") == user and r["reason"] == "ForbiddenByRule"]
    assert {r["upstream"] for r in recs} == {f"{denied}:{origin.port}"}
    # the same targets are fine for a user without rules
    assert http_code(acld, "free", f"http://{denied}:{origin.port}/index.html") == "200"


def test_dst_port_filter(acld, origin):  # noqa: F811
    assert http_code(acld, "port", f"http://127.0.0.1:{origin.port}/index.html") == "403"
    assert socks_rep(acld, "port", "127.0.0.1", origin.port) == 2
    denied_record(acld, "port")
    # another port is allowed by the rule (nothing listens there: 5xx, not 403)
    assert http_code(acld, "port", f"http://127.0.0.1:{free_port()}/") != "403"


def test_user_agent_filter(acld, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    assert http_code(acld, "ua", url) == "403"  # curl/x.y
    assert http_code(acld, "ua", url, "-A", "EvilBot/2.0 (x)") == "403"
    assert http_code(acld, "ua", url, "-A", "Mozilla/5.0 (curl-like)") == "200"
    assert http_code(acld, "ua", url, "-A", "") == "200"  # no User-Agent at all
    rec = denied_record(acld, "ua")
    assert rec["task_type"] == "HttpForward" and rec["rsp_status"] == 403


def test_task_idle_max_count(daemon_factory, write_conf, origin):  # noqa: F811
    """The user's task_idle_max_count (1) ends an idle tunnel after one idle
    check (2s) where the server's (5) would wait 10s."""
    import time
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, http="user_group: g\ntask_idle_check_interval: 2s",
        extra="user_group:\n  - name: g\n    static_users:\n"
              "      - {name: lazy, token: null, task_idle_max_count: 1}\n"))
    auth = base64.b64encode(b"lazy:x").decode()
    with socket.create_connection(("127.0.0.1", hp), timeout=15) as s:
        s.sendall(f"CONNECT 127.0.0.1:{origin.port} HTTP/1.1\r\n"
                  f"Proxy-Authorization: Basic {auth}\r\n\r\n".encode())
        assert s.recv(64).startswith(b"HTTP/1.1 200")
        t0 = time.monotonic()
        assert recv_all(s, timeout=12) == b""
        took = time.monotonic() - t0
    assert took < 6, took
    rec = wait_record(d, lambda r: r.get("user") == "lazy")
    assert rec["reason"] == "Idle"
