"""proxy_float: next-hop peers published at runtime with
`g3ctl -d proxyd escaper NAME publish JSON`, read back with `show`, used
for HTTP forward, CONNECT and SOCKS clients; replaced, expired and bad
publishes."""

import base64
import collections
import datetime
import http.server
import json
import signal
import threading

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import free_port, socks5_open, task_records, wait_port, wait_record
from helpers import wait_for
from test_dp_chain import (back, chain_conf, check_three_clients, connect_via,  # noqa: F401
                           curl, front_for, listen_block, start_named)
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


# ---- direct_float / trick_float ------------------------------------------------------

class _WhoHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the client's source address (keep-alive, so
    that a pooled upstream connection would show up as a wrong source)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        body = self.client_address[0].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def who():
    """An origin on 127.0.0.1 telling each request its source address."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _WhoHandler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def dfloat_yaml(name="df", cache_dir=None, extra=""):
    out = (f"  - name: {name}\n    type: direct_float\n    resolver: dns\n"
           "    egress_network_filter:\n      default: allow\n"
           "      allow: [127.0.0.1, '::1']\n")
    if cache_dir is not None:
        out += f"    cache_ipv4: {cache_dir}/{name}-v4.json\n"
        out += f"    cache_ipv6: {cache_dir}/{name}-v6.json\n"
    return out + extra


def dpublish(d, name, data):
    return d.ctl.run("escaper", name, "publish", data if isinstance(data, str)
                     else json.dumps(data), json_out=True)


def dshow(d, name="df"):
    return json.loads(d.ctl.json("escaper", name, "show")["peers"])


def source_via_http(front, port, headers=()):
    """GET through the front's http_proxy (forward): the origin's view of
    the source address, or the status line when it failed."""
    args = []
    for h in headers:
        args += ["-H", h]
    r = curl("-x", f"http://127.0.0.1:{front.http_port}", *args,
             "-w", "\n%{http_code}", f"http://127.0.0.1:{port}/")
    body, _, code = r.stdout.decode().rpartition("\n")
    return body if code == "200" else code


def source_via_connect(front, port):
    r = curl("-p", "-x", f"http://127.0.0.1:{front.http_port}", f"http://127.0.0.1:{port}/")
    return r.stdout.decode() if r.returncode == 0 else None


def source_via_socks(front, port):
    r = curl("--socks5", f"127.0.0.1:{front.socks_port}", f"http://127.0.0.1:{port}/")
    return r.stdout.decode() if r.returncode == 0 else None


def test_direct_float_publish_shapes(daemon_factory, write_conf, who, dns):  # noqa: F811
    front = front_for(daemon_factory, write_conf, dfloat_yaml(), name="df")
    # nothing published: no IPv4 bind IP, escaper not usable (g3: EscaperNotUsable)
    assert source_via_http(front, who) == "503"
    rec = wait_record(front, lambda r: r.get("server_name") == "fhttp")
    assert rec["reason"] == "EscaperNotUsable"
    assert dshow(front) == {"ipv4": [], "ipv6": []}

    # a single IP string
    r = dpublish(front, "df", {"ipv4": "127.0.0.2"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"peers": 1}
    assert dshow(front) == {"ipv4": [{"ip": "127.0.0.2"}], "ipv6": []}
    assert source_via_http(front, who) == "127.0.0.2"
    assert source_via_connect(front, who) == "127.0.0.2"
    assert source_via_socks(front, who) == "127.0.0.2"

    # an object with the optional fields; ipv6 given too, ipv4 replaced
    later = (datetime.datetime.now(datetime.timezone.utc)
             + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = dpublish(front, "df", {"ipv4": {"ip": "127.0.0.3", "id": "b", "isp": "lo-isp",
                                        "eip": "192.0.2.3", "area": "lo", "expire": later},
                               "ipv6": "::1"})
    assert r.returncode == 0, r.stderr
    assert dshow(front) == {"ipv4": [{"ip": "127.0.0.3", "id": "b", "isp": "lo-isp",
                                      "eip": "192.0.2.3", "area": "lo", "expire": later,
                                      "expired": False}],
                            "ipv6": [{"ip": "::1"}]}
    assert source_via_http(front, who) == "127.0.0.3"

    # a list, mixing both forms: tasks spread over both IPs; ipv6 kept
    r = dpublish(front, "df", {"v4": ["127.0.0.2", {"ip": "127.0.0.3", "id": "c"}]})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"peers": 3}
    assert dshow(front)["ipv6"] == [{"ip": "::1"}]
    seen = {source_via_http(front, who) for _ in range(24)}
    assert seen == {"127.0.0.2", "127.0.0.3"}
    tasks = [r for r in task_records(front) if r.get("server_name") == "fhttp"]
    assert tasks[-1]["escaper"] == "df"

    # null clears a family: IPv4 targets are then not reachable
    r = dpublish(front, "df", {"ipv4": None})
    assert r.returncode == 0, r.stderr
    assert dshow(front) == {"ipv4": [], "ipv6": [{"ip": "::1"}]}
    assert source_via_http(front, who) == "503"


def test_direct_float_expire_and_errors(daemon_factory, write_conf, who, dns):  # noqa: F811
    front = front_for(daemon_factory, write_conf, dfloat_yaml(), name="df")
    now = datetime.datetime.now(datetime.timezone.utc)
    past = (now - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    soon = (now + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # an expired record is dropped at publish (g3); one expiring soon is used
    # until then, then skipped
    r = dpublish(front, "df", {"ipv4": [{"ip": "127.0.0.2", "expire": past},
                                        {"ip": "127.0.0.3", "expire": soon}]})
    assert r.returncode == 0, r.stderr
    assert [b["ip"] for b in dshow(front)["ipv4"]] == ["127.0.0.3"]
    assert source_via_http(front, who) == "127.0.0.3"
    wait_for(lambda: dshow(front)["ipv4"][0]["expired"], 10, what="bind IP expiry")
    assert source_via_http(front, who) == "503"

    assert dpublish(front, "df", {"ipv4": "127.0.0.2"}).returncode == 0
    # bad publishes change nothing and say why
    for data, why in [
        ("{not json", "publish"),
        ('["127.0.0.3"]', "JSON object"),
        ('{"ipv5": "127.0.0.3"}', "no action defined for key 'ipv5'"),
        ('{"ipv4": "not-an-ip"}', "not-an-ip"),
        ('{"ipv4": {"id": "x"}}', "without 'ip'"),
        ('{"ipv4": {"ip": "127.0.0.3", "colour": "red"}}', "invalid key 'colour'"),
        ('{"ipv4": {"ip": "127.0.0.3", "expire": "tomorrow"}}', "RFC 3339"),
        ('{"ipv4": [["127.0.0.3"]]}', "IP string or an object"),
    ]:
        r = dpublish(front, "df", data)
        assert r.returncode != 0, data
        assert why in r.stderr, (data, r.stderr)
    assert dshow(front) == {"ipv4": [{"ip": "127.0.0.2"}], "ipv6": []}
    assert source_via_http(front, who) == "127.0.0.2"
    # a record of the other family is dropped (g3), the rest is kept
    r = dpublish(front, "df", {"ipv4": ["::1", "127.0.0.3"]})
    assert r.returncode == 0, r.stderr
    assert dshow(front)["ipv4"] == [{"ip": "127.0.0.3"}]


def test_direct_float_cache_survives_restart(daemon_factory, write_conf, who, dns,  # noqa: F811
                                              workdir):
    front = front_for(daemon_factory, write_conf, dfloat_yaml(cache_dir=workdir), name="df")
    r = dpublish(front, "df", {"ipv4": [{"ip": "127.0.0.3", "id": "x", "isp": "i"}]})
    assert r.returncode == 0, r.stderr
    cached = json.loads((workdir / "df-v4.json").read_text())
    assert cached == [{"ip": "127.0.0.3", "id": "x", "isp": "i"}]
    assert not (workdir / "df-v6.json").exists()  # ipv6 was not published
    front.signal(signal.SIGTERM)
    assert front.wait_exit(15) == 0
    front.start(front.conf, "-vv")
    wait_port(front.http_port)
    assert dshow(front) == {"ipv4": [{"ip": "127.0.0.3", "id": "x", "isp": "i"}],
                            "ipv6": []}
    assert source_via_http(front, who) == "127.0.0.3"
    # a cache file that cannot be written fails the publish, nothing changes
    (workdir / "df-v6.json").mkdir()
    r = dpublish(front, "df", {"ipv4": "127.0.0.2", "ipv6": "::1"})
    assert r.returncode != 0 and "cache file" in r.stderr, r.stderr
    assert dshow(front)["ipv4"][0]["ip"] == "127.0.0.3"


def test_direct_float_path_selection(daemon_factory, write_conf, who, dns):  # noqa: F811
    hp, sp = free_port(), free_port()
    servers = listen_block("fhttp", "http_proxy", hp, "df",
                           "egress_path_selection_header: X-Egress") + \
        listen_block("fsocks", "socks_proxy", sp, "df")
    front = start_named(daemon_factory, write_conf,
                        chain_conf(dfloat_yaml(), servers), "pathsel")
    front.http_port, front.socks_port = hp, sp
    wait_port(hp)
    r = dpublish(front, "df", {"ipv4": [{"ip": "127.0.0.2", "id": "two"},
                                        {"ip": "127.0.0.3", "id": "three"}, "127.0.0.4"]})
    assert r.returncode == 0, r.stderr
    for _ in range(6):
        assert source_via_http(front, who, ["X-Egress: three"]) == "127.0.0.3"
        assert source_via_http(front, who, ["X-Egress: two"]) == "127.0.0.2"
    # unknown id: not usable (g3: no bind IP with that ID), not a random one
    assert source_via_http(front, who, ["X-Egress: nine"]) == "503"
    rec = wait_record(front, lambda r: r.get("server_name") == "fhttp"
                      and r.get("reason") == "EscaperNotUsable")
    assert rec["escaper"] == "df"
    # no header: any of the three
    seen = {source_via_http(front, who) for _ in range(30)}
    assert seen == {"127.0.0.2", "127.0.0.3", "127.0.0.4"}


def test_proxy_float_path_selection(daemon_factory, write_conf, back, origin):  # noqa: F811
    hp, sp = free_port(), free_port()
    servers = listen_block("fhttp", "http_proxy", hp, "fl",
                           "egress_path_selection_header: X-Egress") + \
        listen_block("fsocks", "socks_proxy", sp, "fl")
    front = start_named(daemon_factory, write_conf, chain_conf(FLOAT, servers), "pfsel")
    front.http_port = hp
    wait_port(hp)
    dead = free_port()
    r = publish(front, [{"type": "http", "addr": f"127.0.0.1:{back.http_port}", "id": "good"},
                        {"type": "http", "addr": f"127.0.0.1:{dead}", "id": "dead"}])
    assert r.returncode == 0, r.stderr
    url = f"http://127.0.0.1:{origin.port}/index.html"
    for _ in range(5):
        r = curl("-x", f"http://127.0.0.1:{hp}", "-H", "X-Egress: good", "-o", "/dev/null",
                 "-w", "%{http_code}", url)
        assert r.stdout == b"200"
    r = curl("-x", f"http://127.0.0.1:{hp}", "-H", "X-Egress: dead", "-o", "/dev/null",
             "-w", "%{http_code}", url)
    assert r.stdout != b"200"
    r = curl("-x", f"http://127.0.0.1:{hp}", "-H", "X-Egress: other", "-o", "/dev/null",
             "-w", "%{http_code}", url)
    assert r.stdout == b"503"


def test_trick_float_uses_both(daemon_factory, write_conf, who, dns):  # noqa: F811
    esc = dfloat_yaml("fa") + dfloat_yaml("fb") + \
        "  - name: tf\n    type: trick_float\n    next: [fa, {name: fb, weight: 1}]\n"
    front = front_for(daemon_factory, write_conf, esc, name="tf")
    assert dpublish(front, "fa", {"ipv4": "127.0.0.2"}).returncode == 0
    assert dpublish(front, "fb", {"ipv4": "127.0.0.3"}).returncode == 0
    seen = collections.Counter(source_via_http(front, who) for _ in range(40))
    assert set(seen) == {"127.0.0.2", "127.0.0.3"}, seen
    recs = [r for r in task_records(front) if r.get("server_name") == "fhttp"]
    assert {r["escaper"] for r in recs} == {"fa", "fb"}
    # publishing to the trick escaper itself is refused
    r = front.ctl.run("escaper", "tf", "publish", "{}")
    assert r.returncode != 0 and "not a float escaper" in r.stderr


def test_direct_float_user_id_map(daemon_factory, write_conf, who, dns):  # noqa: F811
    """A user's egress_path_id_map picks the bind IP of that id (g3), and
    wins over the header; another user gets a random one."""
    hp = free_port()
    users = ("user_group:\n  - name: g\n    static_users:\n"
             "      - name: pinned\n        token: null\n"
             "        egress_path_id_map: {df: three}\n"
             "      - name: free\n        token: null\n")
    servers = listen_block("fhttp", "http_proxy", hp, "df",
                           "user_group: g\negress_path_selection_header: X-Egress")
    front = start_named(daemon_factory, write_conf,
                        chain_conf(dfloat_yaml(), servers) + users, "userid")
    front.http_port = hp
    wait_port(hp)
    r = dpublish(front, "df", {"ipv4": [{"ip": "127.0.0.2", "id": "two"},
                                        {"ip": "127.0.0.3", "id": "three"}]})
    assert r.returncode == 0, r.stderr
    for _ in range(5):
        assert source_via_http(front, who, ["Proxy-Authorization: Basic "
                                            + base64.b64encode(b"pinned:x").decode(),
                                            "X-Egress: two"]) == "127.0.0.3"
    seen = {source_via_http(front, who, ["Proxy-Authorization: Basic "
                                         + base64.b64encode(b"free:x").decode()])
            for _ in range(24)}
    assert seen == {"127.0.0.2", "127.0.0.3"}
