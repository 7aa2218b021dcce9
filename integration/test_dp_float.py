"""proxy_float: next-hop peers published at runtime with
`g3ctl -d proxyd escaper NAME publish JSON`, read back with `show`, used
for HTTP forward, CONNECT and SOCKS clients; replaced, expired and bad
publishes."""

import datetime
import json

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import free_port, socks5_open, task_records, wait_port, wait_record
from helpers import wait_for
from test_dp_chain import (back, check_three_clients, connect_via, front_for,  # noqa: F401
                           start_named)
from dp_helpers import dp_conf


FLOAT = "  - name: fl\n    type: proxy_float\n    peer_negotiation_timeout: 2s\n"


def publish(d, data):
    return d.ctl.run("escaper", "fl", "publish", data if isinstance(data, str)
                     else json.dumps(data), json_out=True)


def show(d):
    r = d.ctl.json("escaper", "fl", "show")
    return json.loads(r["peers"])


def test_float_publish_and_use(daemon_factory, write_conf, back, origin):  # noqa: F811
    front = front_for(daemon_factory, write_conf, FLOAT, name="fl")
    # nothing published: escaper not usable (503 / SOCKS general failure)
    s, head = connect_via(front.http_port, f"127.0.0.1:{origin.port}")
    assert head.startswith(b"HTTP/1.1 503"), head
    s.close()
    rec = wait_record(front, lambda r: r.get("server_name") == "fhttp")
    assert rec["reason"] == "EscaperNotUsable"
    assert show(front) == []

    r = publish(front, {"type": "http", "addr": f"127.0.0.1:{back.http_port}", "id": "h1",
                        "isp": "test-isp"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"peers": 1}
    assert show(front) == [{"type": "http", "addr": f"127.0.0.1:{back.http_port}",
                            "id": "h1", "isp": "test-isp"}]
    check_three_clients(front, origin, "origin.test")
    recs = [r for r in task_records(front) if r.get("server_name") == "fsocks"]
    assert recs and all(r["next_peer_addr"] == f"127.0.0.1:{back.http_port}" for r in recs)

    # replaced by a socks5 peer: the next tasks go there
    r = publish(front, [{"type": "socks5", "addr": f"127.0.0.1:{back.socks_port}"}])
    assert r.returncode == 0, r.stderr
    assert [p["type"] for p in show(front)] == ["socks5"]
    before = len(task_records(back))
    check_three_clients(front, origin, "origin.test")
    wait_for(lambda: any(r.get("server_name") == "socks"
                         for r in task_records(back)[before:]), 5,
             what="a task on the socks next hop")


def test_float_expire_and_errors(daemon_factory, write_conf, back, origin):  # noqa: F811
    front = front_for(daemon_factory, write_conf, FLOAT, name="fl")
    past = (datetime.datetime.now(datetime.timezone.utc)
            - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (datetime.datetime.now(datetime.timezone.utc)
            + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (datetime.datetime.now(datetime.timezone.utc)
             + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # expired, and within expire_guard_duration (5s): neither is used
    r = publish(front, [{"type": "http", "addr": f"127.0.0.1:{back.http_port}",
                         "expire": past},
                        {"type": "http", "addr": f"127.0.0.1:{back.http_port}",
                         "expire": soon}])
    assert r.returncode == 0, r.stderr
    peers = show(front)
    assert peers[0]["expired"] is True and peers[0]["expire"] == past
    s, head = connect_via(front.http_port, f"127.0.0.1:{origin.port}")
    assert head.startswith(b"HTTP/1.1 503"), head
    s.close()
    r = publish(front, {"type": "http", "addr": f"127.0.0.1:{back.http_port}",
                        "expire": later, "username": "u", "password": "p"})
    assert r.returncode == 0, r.stderr
    assert "password" not in show(front)[0]
    check_three_clients(front, origin, "origin.test")

    # bad publishes change nothing and say why
    for data, why in [
        ("{not json", ""),
        ('{"type": "ftp", "addr": "127.0.0.1:1"}', "ftp"),
        ('{"type": "http", "addr": "peer.example:3128"}', "must be an IP address"),
        ('{"type": "http"}', "peer without 'addr'"),
        ('[{"type": "http", "addr": "127.0.0.1:1", "colour": "red"}]', "unknown peer key"),
        ('{"type": "socks5", "addr": "127.0.0.1:1", "expire": "tomorrow"}', "RFC 3339"),
    ]:
        r = publish(front, data)
        assert r.returncode != 0, data
        assert why in r.stderr, (data, r.stderr)
    assert len(show(front)) == 1
    # not a float escaper / no such escaper
    r = front.ctl.run("escaper", "direct", "publish", "[]")
    assert r.returncode != 0 and "not a float escaper" in r.stderr
    r = front.ctl.run("escaper", "nope", "show")
    assert r.returncode != 0 and "no escaper" in r.stderr
    # [] clears the set
    assert publish(front, "[]").returncode == 0
    assert show(front) == []
    s, method, rep = socks5_open(front.socks_port, "127.0.0.1", origin.port)
    assert rep[:2] == b"\x05\x01"
    s.close()


def test_float_survives_reload(daemon_factory, write_conf, back, origin):  # noqa: F811
    front = front_for(daemon_factory, write_conf, FLOAT, name="fl")
    assert publish(front, {"type": "http", "addr": f"127.0.0.1:{back.http_port}"}
                   ).returncode == 0
    r = front.ctl.run("reload")
    assert r.returncode == 0, r.stderr
    assert len(show(front)) == 1
    s, head = connect_via(front.http_port, f"127.0.0.1:{origin.port}")
    assert head.startswith(b"HTTP/1.1 200"), head
    s.close()
