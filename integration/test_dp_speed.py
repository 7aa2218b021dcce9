"""tcp_sock_speed_limit (g3: bytes per 2^shift_millis ms slice) on the
server (client socket) and on the direct_fixed escaper (upstream socket):
transfers through a limit take the time the limit implies, whichever copy
path they use (splice tunnel, HTTP forward), and a throttled connection
sleeps on a timer instead of spinning."""

import os
import socket
import subprocess
import time

import pytest

from dp_fixtures import app, dp_clean_exit, dns, origin_root  # noqa: F401
from dp_helpers import (dp_conf, free_port, recv_exact, socks5_open, start_proxyd,
                        wait_record)

TWO_MB = 2 * 1024 * 1024
ONE_MB = 1024 * 1024


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def files(origin_root):  # noqa: F811
    root = origin_root[0]
    data = os.urandom(TWO_MB)
    (root / "two.bin").write_bytes(data)
    (root / "one.bin").write_bytes(data[:ONE_MB])
    return data


def start(daemon_factory, write_conf, dns, http=None, socks=None, escaper=""):  # noqa: F811
    hp, sp = free_port(), free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, socks_port=sp, dns_port=dns.port, http=http or "", socks=socks or "",
        escaper=escaper))
    d.hp, d.sp = hp, sp
    return d


def read_response(s, n):
    """Read an HTTP response head then n body bytes; returns the body."""
    head = b""
    while b"\r\n\r\n" not in head:
        c = s.recv(1)
        assert c, head
        head += c
    assert head.startswith(b"HTTP/1.1 200"), head
    return recv_exact(s, n, timeout=20)


def test_connect_download_limited(daemon_factory, write_conf, dns, app, files):  # noqa: F811
    """2 MiB through 500 KiB per 1024 ms: ~4 s, and the proxy sleeps."""
    d = start(daemon_factory, write_conf, dns,
              http="tcp_sock_speed_limit:\n  shift_millis: 10\n  download: 500K\n"
                   "  upload: 500K")
    s = socket.create_connection(("127.0.0.1", d.hp), timeout=10)
    s.sendall(f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 200")
    cpu0 = cpu_seconds(d.pid)
    t0 = time.monotonic()
    s.sendall(b"GET /two.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    body = read_response(s, TWO_MB)
    took = time.monotonic() - t0
    cpu = cpu_seconds(d.pid) - cpu0
    s.close()
    assert body == files
    assert 3.0 <= took <= 6.0, took
    assert cpu < 1.0, f"{cpu}s of CPU while throttled for {took}s"
    rec = wait_record(d, lambda r: r.get("task_type") == "TcpConnect")
    assert rec["r_rd_bytes"] >= TWO_MB


def test_connect_unlimited_is_fast(daemon_factory, write_conf, dns, app, files):  # noqa: F811
    """The same transfer with no limit (upload-only limit) is not slowed."""
    d = start(daemon_factory, write_conf, dns,
              http="tcp_sock_speed_limit:\n  upload: 100K")
    s = socket.create_connection(("127.0.0.1", d.hp), timeout=10)
    s.sendall(f"CONNECT 127.0.0.1:{app.port} HTTP/1.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    t0 = time.monotonic()
    s.sendall(b"GET /two.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_response(s, TWO_MB) == files
    assert time.monotonic() - t0 < 2.0
    s.close()


def test_forward_download_limited(daemon_factory, write_conf, dns, app, files):  # noqa: F811
    """HttpForward copies through a buffer: the client-side limit holds too."""
    d = start(daemon_factory, write_conf, dns,
              http="tcp_sock_speed_limit:\n  shift_millis: 8\n  download: 128K")
    t0 = time.monotonic()
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{d.hp}",
                        f"http://127.0.0.1:{app.port}/one.bin"], capture_output=True,
                       timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout == files[:ONE_MB]
    # 1 MiB at 128 KiB per 256 ms = 2 s (the first slice is free)
    assert 1.4 <= took <= 4.0, took


def test_forward_upload_limited(daemon_factory, write_conf, dns, app, files):  # noqa: F811
    """A request body from the client is read no faster than upload allows."""
    d = start(daemon_factory, write_conf, dns,
              http="tcp_sock_speed_limit:\n  shift_millis: 9\n  upload: 256K")
    t0 = time.monotonic()
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-x", f"http://127.0.0.1:{d.hp}",
                        "--data-binary", "@-", "-H", "Content-Type: application/octet-stream",
                        f"http://127.0.0.1:{app.port}/echo"], input=files[:ONE_MB],
                       capture_output=True, timeout=30)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert r.stdout == files[:ONE_MB]
    # 1 MiB at 256 KiB per 512 ms = ~1.5-2 s
    assert 1.2 <= took <= 4.0, took


def test_escaper_limit_socks(daemon_factory, write_conf, dns, app, files):  # noqa: F811
    """direct_fixed's own limit throttles reading the upstream (download)."""
    d = start(daemon_factory, write_conf, dns,
              escaper="tcp_sock_speed_limit:\n  shift_millis: 9\n  download: 256K")
    s, _, rep = socks5_open(d.sp, "127.0.0.1", app.port)
    assert rep[:2] == b"\x05\x00", rep
    t0 = time.monotonic()
    s.sendall(b"GET /one.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert read_response(s, ONE_MB) == files[:ONE_MB]
    took = time.monotonic() - t0
    s.close()
    assert 1.2 <= took <= 4.0, took
