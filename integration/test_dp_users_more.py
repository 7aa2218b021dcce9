"""More per-user behaviour (g3proxy §1.5.4, §1.2.1, §3.2, §3.12):
log_rate_limit sampling of task records (user.forbidden.log_skipped), the
user's log_uri_max_chars with the URI password masked, a 407 that keeps the
connection open for the retry with credentials, running tasks of a user
blocked or deleted by a source refresh ended on the idle check
(CanceledAsUserBlocked), and UDP user speed limits through SOCKS5 UDP
ASSOCIATE."""

import base64
import socket
import subprocess
import time

from dp_fixtures import dp_clean_exit, origin, origin_root  # noqa: F401
from dp_helpers import dp_conf, free_port, start_proxyd, task_records, wait_record
from test_dp_metrics import Collector, get, parse, sums
from test_dp_user_limits import keepalive_codes

LOG_USERS = """
user_group:
  - name: g
    static_users:
      - name: sampled
        token: null
        log_rate_limit: 2/s
      - name: short
        token: null
        log_uri_max_chars: 40
      - name: all
        token: null
"""


def stat_conf(port):
    return f"stat:\n  target_udp: 127.0.0.1:{port}\n  prefix: g3proxy\n  emit_interval: 100ms\n"


def test_log_rate_limit(daemon_factory, write_conf, origin):  # noqa: F811
    """log_rate_limit 2/s: of 20 quick requests about 2 are logged, the rest
    skipped and counted; a user without the limit has every record."""
    stat = Collector()
    try:
        hp = free_port()
        d = start_proxyd(daemon_factory, write_conf, dp_conf(
            http_port=hp, http="user_group: g", extra=LOG_USERS + stat_conf(stat.port)))
        d.hp = hp
        t0 = time.monotonic()
        assert keepalive_codes(d, "sampled", origin, 20) == ["200"] * 20
        elapsed = time.monotonic() - t0
        assert keepalive_codes(d, "all", origin, 5) == ["200"] * 5
        wait_record(d, lambda r: r.get("user") == "all" and r.get("rsp_status") == 200)
        time.sleep(0.3)
        recs = task_records(d)
        sampled = [r for r in recs if r.get("user") == "sampled"]
        # a burst of 2, then one per 500 ms while the requests ran
        assert 2 <= len(sampled) <= 2 + int(elapsed * 2) + 1, (len(sampled), elapsed)
        assert len(sampled) <= 4 or elapsed > 1.0
        assert len([r for r in recs if r.get("user") == "all"]) == 5
        stat.drain(1.0)
        acc = sums(parse([ln for ln in stat.take() if ln]))
        base = dict(user_group="g", user="sampled", user_type="Static", server="http")
        assert get(acc, "user.forbidden.log_skipped", **base) == 20 - len(sampled)
        assert get(acc, "user.request.total", request="http_forward", **base) == 20
        assert get(acc, "user.forbidden.log_skipped", user_group="g", user="all",
                   user_type="Static", server="http") == 0
    finally:
        stat.close()


def test_user_log_uri_max_chars(daemon_factory, write_conf, origin):  # noqa: F811
    """The user's log_uri_max_chars (40) wins over the server's (1024); the
    password of user:password@ in the URI never reaches the log."""
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        http_port=hp, http="user_group: g", extra=LOG_USERS))
    for user in ("short", "all"):
        auth = base64.b64encode(f"{user}:x".encode()).decode()
        with socket.create_connection(("127.0.0.1", hp), timeout=5) as s:
            s.sendall((f"GET http://bob:s3cret@127.0.0.1:{origin.port}/index.html?"
                       f"{'q' * 60} HTTP/1.1\r\nHost: x\r\n"
                       f"Proxy-Authorization: Basic {auth}\r\nConnection: close\r\n\r\n")
                      .encode())
            assert s.recv(64).startswith(b"HTTP/1.1 200")
    short = wait_record(d, lambda r: r.get("user") == "short")
    full = wait_record(d, lambda r: r.get("user") == "all")
    assert len(short["uri"]) == 40, short["uri"]
    assert short["uri"].startswith("http://bob:***@127.0.0.1:")
    assert full["uri"] == f"http://bob:***@127.0.0.1:{origin.port}/index.html?{'q' * 60}"
    assert "s3cret" not in d.stdout_path.read_text()
