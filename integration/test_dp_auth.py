"""proxyd user authentication end to end (g3proxy §1.5): HTTP Basic
(407 + Proxy-Authenticate, 403 after block_and_delay, silent close with
no_early_error_reply), SOCKS5 RFC 1929 (status 1 on failure), SOCKS4 only
with an anonymous user, expired and blocked users, every password token
format checked against hashes made here by openssl passwd and mkpasswd,
and the task log's `user` field."""

import base64
import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (assert_g3_order, closed_by_peer, dp_conf, free_port, recv_all,
                        recv_exact, socks5_addr, start_proxyd, task_records, upstream_is,
                        wait_record)

PASSWORDS = {"md5crypt": "pw-md5", "sha256crypt": "pw-sha256", "sha512crypt": "pw-sha512",
             "mk512": "pw-mk512", "mkmd5": "pw-mkmd5", "fastmd5": "pw-fast1",
             "fastsha1": "pw-fast2", "fastboth": "pw-fast3", "anyone": "whatever",
             "xcrypt": "pw-xcrypt", "old": "pw-old", "blocked": "pw-blocked"}


def curl(*args, timeout=20):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


def openssl_passwd(flag, pw):
    return subprocess.run(["openssl", "passwd", flag, pw], capture_output=True, text=True,
                          check=True).stdout.strip()


def mkpasswd(method, pw):
    return subprocess.run(["mkpasswd", "-m", method, pw], capture_output=True, text=True,
                          check=True).stdout.strip()


def fast_hash(pw, salt, algos):
    out = {"salt": salt.hex()}
    for a in algos:
        out[a] = hashlib.new(a, pw.encode() + salt).hexdigest()
    return out


def users_yaml(anonymous=None):
    salt = os.urandom(8)
    tok = {
        "md5crypt": repr(openssl_passwd("-1", PASSWORDS["md5crypt"])),
        "sha256crypt": repr(openssl_passwd("-5", PASSWORDS["sha256crypt"])),
        "sha512crypt": repr(openssl_passwd("-6", PASSWORDS["sha512crypt"])),
        "mk512": repr(mkpasswd("sha-512", PASSWORDS["mk512"])),
        "mkmd5": repr(mkpasswd("md5crypt", PASSWORDS["mkmd5"])),
        "fastmd5": str(fast_hash(PASSWORDS["fastmd5"], salt, ["md5"])),
        "fastsha1": str(fast_hash(PASSWORDS["fastsha1"], salt, ["sha1"])),
        "fastboth": str(dict(fast_hash(PASSWORDS["fastboth"], salt, ["md5", "sha1"]),
                             type="fast_hash")),
        "xcrypt": str({"type": "xcrypt_hash",
                       "value": openssl_passwd("-6", PASSWORDS["xcrypt"])}),
        "anyone": "null",
        "old": repr(openssl_passwd("-5", PASSWORDS["old"])),
        "blocked": repr(openssl_passwd("-1", PASSWORDS["blocked"])),
    }
    out = "user_group:\n  - name: g\n    static_users:\n"
    for name, t in tok.items():
        out += f"      - name: {name}\n        token: {t}\n"
        if name == "old":
            out += "        expire: '2001-01-01T00:00:00Z'\n"
        if name == "blocked":
            out += "        block_and_delay: 600ms\n"
    out += "      - name: notoken\n"
    if anonymous is not None:
        out += "    anonymous_user:\n" + "".join(
            f"      {ln}\n" for ln in anonymous.strip().splitlines())
    return out


@pytest.fixture
def authd(daemon_factory, write_conf, dns):  # noqa: F811
    hp, sp = two_ports()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=sp, http_port=hp, dns_port=dns.port,
                             socks="user_group: g\nnegotiation_timeout: 2s",
                             http="user_group: g\nauth_realm: g3c-test",
                             extra=users_yaml()))
    d.hp, d.sp = hp, sp
    return d


@pytest.fixture
def anond(daemon_factory, write_conf, dns):  # noqa: F811
    hp, sp = two_ports()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(socks_port=sp, http_port=hp, dns_port=dns.port,
                             socks="user_group: g",
                             http="user_group: g\nno_early_error_reply: true",
                             extra=users_yaml(anonymous="name: anon\ntoken: null")))
    d.hp, d.sp = hp, sp
    return d


def two_ports():
    hp = free_port()
    sp = free_port()
    while sp == hp:
        sp = free_port()
    return hp, sp


def basic(user, pw):
    return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()


def read_reply(s, timeout=5):
    """One reply: until the peer closes or the head and its Content-Length
    body are in (a 407 keeps the connection open for the retry)."""
    s.settimeout(timeout)
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            length = 0
            for ln in buf[:end].split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            if len(buf) >= end + 4 + length:
                return buf
        d = s.recv(65536)
        if not d:
            return buf
        buf += d


def http_raw(port, head, timeout=5):
    """Send a request head; returns the proxy's reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode())
        return read_reply(s, timeout=timeout)


def socks5_auth(port, user, pw, methods=b"\x02"):
    """Greeting offering methods, then RFC 1929 when 0x02 is chosen.
    Returns (socket, method reply, auth status reply or b"")."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x05" + bytes([len(methods)]) + methods)
    m = recv_exact(s, 2)
    if m != b"\x05\x02":
        return s, m, b""
    u, p = user.encode(), pw.encode()
    s.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
    return s, m, recv_exact(s, 2)


def socks5_connect(s, host, port):
    s.sendall(b"\x05\x01\x00" + socks5_addr(host) + struct.pack("!H", port))
    head = recv_exact(s, 4)
    if len(head) == 4 and head[1] == 0:
        recv_exact(s, {1: 4, 4: 16}.get(head[3], 0) + 2)
    return head


# ---- HTTP Basic ----------------------------------------------------------------------


@pytest.mark.parametrize("user", ["md5crypt", "sha256crypt", "sha512crypt", "mk512", "mkmd5",
                                  "fastmd5", "fastsha1", "fastboth", "xcrypt", "anyone"])
def test_http_token_formats(authd, origin, user):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    ok = curl("-x", f"http://127.0.0.1:{authd.hp}", "-U", f"{user}:{PASSWORDS[user]}", url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == b"hello from origin\n"
    rec = wait_record(authd, lambda r: r.get("user") == user)
    assert rec["task_type"] == "HttpForward"
    assert rec["rsp_status"] == 200
    if user != "anyone":  # token: null takes any password
        bad = curl("-x", f"http://127.0.0.1:{authd.hp}", "-U", f"{user}:wrong", "-o",
                   "/dev/null", "-w", "%{http_code}", url)
        assert bad.stdout == b"407"


def test_http_connect_task_log_user(authd, origin):  # noqa: F811
    r = curl("-p", "-x", f"http://127.0.0.1:{authd.hp}", "-U", "sha512crypt:pw-sha512",
             f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    rec = wait_record(authd, lambda r: r.get("user") == "sha512crypt")
    assert rec["task_type"] == "TcpConnect"
    assert rec["server_name"] == "http"
    assert_g3_order(rec)


def test_http_missing_and_wrong_get_407(authd, origin):  # noqa: F811
    target = f"127.0.0.1:{origin.port}"
    for auth in ("", f"Proxy-Authorization: {basic('md5crypt', 'nope')}\r\n",
                 f"Proxy-Authorization: {basic('nosuchuser', 'x')}\r\n",
                 f"Proxy-Authorization: {basic('notoken', '')}\r\n",
                 "Proxy-Authorization: Bearer abc\r\n",
                 "Proxy-Authorization: Basic !!!notbase64\r\n"):
        out = http_raw(authd.hp, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n")
        assert out.startswith(b"HTTP/1.1 407 "), (auth, out)
        assert b'Proxy-Authenticate: Basic realm="g3c-test"\r\n' in out
    # no task was created for a refused login
    assert not [r for r in task_records(authd) if r.get("upstream") == target]


def test_http_expired_user_refused(authd, origin):  # noqa: F811
    r = curl("-x", f"http://127.0.0.1:{authd.hp}", "-U", "old:pw-old", "-o", "/dev/null",
             "-w", "%{http_code}", f"http://127.0.0.1:{origin.port}/index.html")
    assert r.stdout == b"407"


def test_http_blocked_user_403_after_delay(authd, origin):  # noqa: F811
    target = f"127.0.0.1:{origin.port}"
    t0 = time.monotonic()
    out = http_raw(authd.hp, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                   f"Proxy-Authorization: {basic('blocked', 'pw-blocked')}\r\n\r\n")
    took = time.monotonic() - t0
    assert out.startswith(b"HTTP/1.1 403 "), out
    assert took >= 0.55, took
    # a wrong password for a blocked user is an ordinary auth failure
    out = http_raw(authd.hp, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                   f"Proxy-Authorization: {basic('blocked', 'bad')}\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 407 "), out


def test_http_keepalive_each_request_authenticated(authd, origin):  # noqa: F811
    with socket.create_connection(("127.0.0.1", authd.hp), timeout=5) as s:
        for _ in range(3):
            s.sendall((f"GET http://127.0.0.1:{origin.port}/index.html HTTP/1.1\r\n"
                       f"Host: 127.0.0.1\r\nProxy-Authorization: "
                       f"{basic('sha512crypt', 'pw-sha512')}\r\n\r\n").encode())
            data = b""
            while b"hello from origin\n" not in data:
                chunk = s.recv(4096)
                assert chunk, data
                data += chunk
            assert data.startswith(b"HTTP/1.1 200 ")
        s.sendall((f"GET http://127.0.0.1:{origin.port}/index.html HTTP/1.1\r\n"
                   f"Host: 127.0.0.1\r\n\r\n").encode())
        assert read_reply(s).startswith(b"HTTP/1.1 407 ")
    recs = [r for r in task_records(authd) if r.get("user") == "sha512crypt"]
    assert len(recs) >= 3


def test_http_anonymous_and_no_early_error_reply(anond, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = curl("-x", f"http://127.0.0.1:{anond.hp}", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    rec = wait_record(anond, upstream_is(f"127.0.0.1:{origin.port}"))
    assert "user" not in rec  # the client sent no name
    # an unknown name falls back to the anonymous user (token null)
    r = curl("-x", f"http://127.0.0.1:{anond.hp}", "-U", "stranger:x", url)
    assert r.stdout == b"hello from origin\n"
    wait_record(anond, lambda r: r.get("user") == "stranger")
    # a known user with a wrong password: closed without any reply
    target = f"127.0.0.1:{origin.port}"
    out = http_raw(anond.hp, f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n"
                   f"Proxy-Authorization: {basic('md5crypt', 'bad')}\r\n\r\n")
    assert out == b""


# ---- SOCKS ---------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["sha512crypt", "mkmd5", "fastboth", "anyone"])
def test_socks5_rfc1929(authd, origin, user):  # noqa: F811
    s, m, st = socks5_auth(authd.sp, user, PASSWORDS[user], methods=b"\x00\x02")
    with s:
        assert m == b"\x05\x02"
        assert st == b"\x01\x00"
        assert socks5_connect(s, "127.0.0.1", origin.port)[:2] == b"\x05\x00"
        s.sendall(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert recv_all(s).endswith(b"hello from origin\n")
    rec = wait_record(authd, lambda r: r.get("user") == user)
    assert rec["server_type"] == "SocksProxy"
    assert_g3_order(rec)


def test_socks5_curl(authd, origin):  # noqa: F811
    r = curl("--socks5", f"127.0.0.1:{authd.sp}", "--proxy-user", "sha256crypt:pw-sha256",
             f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"


@pytest.mark.parametrize("user,pw", [("sha512crypt", "wrong"), ("nosuch", "x"),
                                     ("old", "pw-old"), ("notoken", "")])
def test_socks5_refused_status_1(authd, user, pw):
    s, m, st = socks5_auth(authd.sp, user, pw)
    with s:
        assert m == b"\x05\x02"
        assert st == b"\x01\x01"
        assert closed_by_peer(s)


def test_socks5_blocked_after_delay(authd):
    t0 = time.monotonic()
    s, m, st = socks5_auth(authd.sp, "blocked", "pw-blocked")
    with s:
        # g3: no sub-negotiation status; after the delay a "not allowed" reply
        assert m == b"\x05\x02"
        assert st == b"\x05\x02"
        assert time.monotonic() - t0 >= 0.55
        assert closed_by_peer(s)


def test_socks_without_anonymous(authd):
    s = socket.create_connection(("127.0.0.1", authd.sp), timeout=5)
    with s:
        s.sendall(b"\x05\x01\x00")
        assert recv_exact(s, 2) == b"\x05\xff"
    s = socket.create_connection(("127.0.0.1", authd.sp), timeout=5)
    with s:
        s.sendall(b"\x04\x01" + struct.pack("!H", 80) + bytes([127, 0, 0, 1]) + b"\x00")
        assert closed_by_peer(s)


def test_socks_anonymous(anond, origin):  # noqa: F811
    r = curl("--socks4", f"127.0.0.1:{anond.sp}", f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"hello from origin\n"
    r = curl("--socks5", f"127.0.0.1:{anond.sp}", f"http://127.0.0.1:{origin.port}/index.html")
    assert r.returncode == 0, r.stderr
    # offering user/password still authenticates
    s, m, st = socks5_auth(anond.sp, "md5crypt", "bad", methods=b"\x00\x02")
    with s:
        assert (m, st) == (b"\x05\x02", b"\x01\x01")
