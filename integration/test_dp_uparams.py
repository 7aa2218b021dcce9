"""Username params (g3proxy §1.5.5, `username_params`) and pass_proxy_userid
end to end: a client user name "alice+country=us+state=ca" logs in as alice
and its params pick the next proxy (host "us-ca.exits.test", port
http_port / socks5_port); resolve_sticky_key keeps a session on one of the
host's addresses; bad params are refused (400 / SOCKS5 auth failure); the
base user's ACLs apply; SOCKS5 UDP follows the params too; pass_proxy_userid sends the user to the next hop
with the password "g3proxy" (seen in the next proxyd's task log)."""

import collections
import socket
import struct
import subprocess

import pytest

from dp_fixtures import dp_clean_exit, dns, origin, origin_root  # noqa: F401
from dp_helpers import (DnsServer, dp_conf, free_port, recv_exact, task_records, wait_port,
                        wait_record)
from helpers import wait_for
from test_dp_chain import start_named
from test_dp_chain_udp import QUERY, UdpEcho, dgram, exchange, greet, udp_client

EXIT_IPS = {"A": "127.0.0.2", "B": "127.0.0.3", "C": "127.0.0.4"}


def curl(*args, timeout=30):
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=timeout)


def md5crypt(pw):
    return subprocess.run(["openssl", "passwd", "-1", pw], capture_output=True, text=True,
                          check=True).stdout.strip()


def port_free_on_all(port):
    for ip in list(EXIT_IPS.values()) + ["127.0.0.1"]:
        s = socket.socket()
        try:
            s.bind((ip, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def shared_port():
    for _ in range(50):
        p = free_port()
        if port_free_on_all(p):
            return p
    raise RuntimeError("no port free on every exit address")


@pytest.fixture
def exit_dns():
    s = DnsServer(a={"us.exits.test": [EXIT_IPS["A"]], "us-ca.exits.test": [EXIT_IPS["B"]],
                     "de.exits.test": [EXIT_IPS["C"]],
                     "pool.exits.test": list(EXIT_IPS.values())}, ttl=300)
    yield s
    s.stop()


@pytest.fixture
def exits(daemon_factory, write_conf):
    """One proxyd with an http_proxy and a socks_proxy per exit address
    (same ports on 127.0.0.2/3/4) plus the default next hop on 127.0.0.1
    whose http_proxy wants alice / "g3proxy" (pass_proxy_userid)."""
    hp, sp, dhp, dsp = shared_port(), shared_port(), free_port(), free_port()
    servers = ""
    for name, ip in EXIT_IPS.items():
        servers += (f"  - name: ex{name}_http\n    type: http_proxy\n    listen: {ip}:{hp}\n"
                    "    escaper: direct\n")
        servers += (f"  - name: ex{name}_socks\n    type: socks_proxy\n    listen: {ip}:{sp}\n"
                    "    escaper: direct\n")
    servers += (f"  - name: exD_http\n    type: http_proxy\n    listen: 127.0.0.1:{dhp}\n"
                "    escaper: direct\n    user_group: exg\n")
    servers += (f"  - name: exD_socks\n    type: socks_proxy\n    listen: 127.0.0.1:{dsp}\n"
                "    escaper: direct\n")
    users = ("user_group:\n  - name: exg\n    static_users:\n"
             f"      - name: alice\n        token: '{md5crypt('g3proxy')}'\n")
    conf = dp_conf(workers=1).replace("server:\n", users + "server:\n") + servers
    d = start_named(daemon_factory, write_conf, conf, "exits")
    d.hp, d.sp, d.dhp, d.dsp = hp, sp, dhp, dsp
    for ip in EXIT_IPS.values():
        wait_port(hp, host=ip)
        wait_port(sp, host=ip)
    wait_port(dhp)
    wait_port(dsp)
    return d


FRONT_USERS = """user_group:
  - name: g
    static_users:
      - name: alice
        token: 'TOKEN'
      - name: bob
        token: null
        dst_host_filter_set:
          exact_match: {default: allow, deny: [127.0.0.1]}
"""


@pytest.fixture
def front(daemon_factory, write_conf, exits, exit_dns):
    hp, sp = free_port(), free_port()
    params = ("username_params:\n"
              "  keys_for_host: [country, state]\n"
              "  domain_suffix: exits.test\n"
              f"  http_port: {exits.hp}\n  socks5_port: {exits.sp}\n"
              "  resolve_sticky_key: session\n")
    esc = ("  - name: ph\n    type: proxy_http\n"
           f"    proxy_addr: 127.0.0.1:{exits.dhp}\n    pass_proxy_userid: true\n"
           "    resolver: dns\n"
           "  - name: ps\n    type: proxy_socks5\n"
           f"    proxy_addr: 127.0.0.1:{exits.dsp}\n"
           "    resolver: dns\n")
    users = FRONT_USERS.replace("TOKEN", md5crypt("pw"))
    conf = dp_conf(dns_port=exit_dns.port, workers=1)
    conf = conf.replace("server:\n", esc + users + "server:\n")
    ind = "".join("    " + ln + "\n" for ln in params.splitlines())
    conf += (f"  - name: fhttp\n    type: http_proxy\n    listen: 127.0.0.1:{hp}\n"
             "    escaper: ph\n    user_group: g\n" + ind)
    conf += (f"  - name: fsocks\n    type: socks_proxy\n    listen: 127.0.0.1:{sp}\n"
             "    escaper: ps\n    user_group: g\n" + ind)
    d = start_named(daemon_factory, write_conf, conf, "front")
    d.hp, d.sp = hp, sp
    wait_port(hp)
    wait_port(sp)
    return d


def exit_records(exits, server):
    return [r for r in task_records(exits) if r.get("server_name") == server]


def via_http(front, user, url, *extra):
    return curl("-x", f"http://127.0.0.1:{front.hp}", "-U", f"{user}:pw", *extra, url)


def via_socks(front, user, url):
    return curl("-x", f"socks5://127.0.0.1:{front.sp}", "-U", f"{user}:pw", url)


def test_http_params_choose_the_exit(front, exits, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    want = curl(url).stdout
    for user, ex in (("alice+country=us", "A"), ("alice+state=ca+country=us", "B"),
                     ("alice+country=de", "C")):
        before = len(exit_records(exits, f"ex{ex}_http"))
        r = via_http(front, user, url)
        assert r.returncode == 0, r.stderr
        assert r.stdout == want
        # forwarded in absolute form to that exit's http_proxy
        wait_for(lambda: len(exit_records(exits, f"ex{ex}_http")) > before, 5,
                 what=f"request at exit {ex}")
        # and a CONNECT tunnel through the same exit
        before = len(exit_records(exits, f"ex{ex}_http"))
        r = via_http(front, user, url, "-p")
        assert r.returncode == 0, r.stderr
        assert r.stdout == want
        rec = wait_for(lambda: next((x for x in exit_records(exits, f"ex{ex}_http")[before:]
                                     if x.get("task_type") == "TcpConnect"), None), 5,
                       what=f"CONNECT at exit {ex}")
        assert rec["upstream"] == f"127.0.0.1:{origin.port}"
    # the front's task log: the base user, the escaper, the exit's address
    rec = wait_record(front, lambda x: x.get("task_type") == "TcpConnect"
                      and x.get("next_peer_addr") == f"{EXIT_IPS['C']}:{exits.hp}")
    assert rec["user"] == "alice"
    assert rec["escaper"] == "ph"
    # no param: the escaper's proxy_addr; pass_proxy_userid logs in there as
    # alice / "g3proxy" (exD_http has a user group)
    r = via_http(front, "alice", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    rec = wait_record(exits, lambda x: x.get("server_name") == "exD_http")
    assert rec["user"] == "alice"


def test_socks_params_use_socks5_port(front, exits, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    want = curl(url).stdout
    r = via_socks(front, "alice+country=us+state=ca", url)
    assert r.returncode == 0, r.stderr
    assert r.stdout == want
    rec = wait_record(exits, lambda x: x.get("server_name") == "exB_socks")
    assert rec["upstream"] == f"127.0.0.1:{origin.port}"
    rec = wait_record(front, lambda x: x.get("server_name") == "fsocks")
    assert rec["user"] == "alice"
    assert rec["next_peer_addr"] == f"{EXIT_IPS['B']}:{exits.sp}"
    # without params: the default next hop's socks_proxy
    r = via_socks(front, "alice", url)
    assert r.returncode == 0, r.stderr
    wait_record(exits, lambda x: x.get("server_name") == "exD_socks")


def test_bad_params_refused(front, exits, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    for user in ("alice+colour=red", "alice+state=ca", "alice+country=us+country=de",
                 "alice+country", "alice+country=a!b"):
        r = via_http(front, user, url, "-o", "/dev/null", "-w", "%{http_code}")
        assert r.stdout == b"400", (user, r.stdout, r.stderr)
        r = via_socks(front, user, url)
        assert r.returncode != 0, user
    # a wrong password with valid params is still a login failure
    r = curl("-x", f"http://127.0.0.1:{front.hp}", "-U", "alice+country=us:nope",
             "-o", "/dev/null", "-w", "%{http_code}", url)
    assert r.stdout == b"407"
    # the name with its params is not a user: without strip it would be
    r = curl("-x", f"http://127.0.0.1:{front.hp}", "-U", "mallory+country=us:pw",
             "-o", "/dev/null", "-w", "%{http_code}", url)
    assert r.stdout == b"407"
    # nothing reached an exit
    assert not any(r.get("server_name", "").startswith("ex") for r in task_records(exits))


def test_sticky_session(front, exits, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"

    def exit_of(session, n):
        seen = collections.Counter()
        for _ in range(n):
            r = via_http(front, f"alice+country=pool+session={session}", url, "-p")
            assert r.returncode == 0, r.stderr
        recs = wait_for(lambda: [x for x in task_records(front)
                                 if x.get("task_type") == "TcpConnect"
                                 and x.get("next_peer_addr")] if len(
                                     [x for x in task_records(front)
                                      if x.get("task_type") == "TcpConnect"]) >= count[0] + n
                        else None, 10, what="front records")
        for x in recs[count[0]:count[0] + n]:
            seen[x["next_peer_addr"]] += 1
        count[0] += n
        return seen

    count = [0]
    s1 = exit_of("s1", 20)
    assert len(s1) == 1, s1  # 20 requests, one exit
    exits_used = set(s1)
    for i in range(2, 12):
        s = exit_of(f"s{i}", 2)
        assert len(s) == 1, s
        exits_used |= set(s)
    # sessions spread over the pool's addresses
    assert len(exits_used) >= 2, exits_used
    assert all(a.rsplit(":", 1)[0] in EXIT_IPS.values() for a in exits_used)


def test_base_user_acl_applies(front, exits, origin):  # noqa: F811
    url = f"http://127.0.0.1:{origin.port}/index.html"
    r = via_http(front, "bob+country=us", url, "-o", "/dev/null", "-w", "%{http_code}")
    assert r.stdout == b"403"
    rec = wait_record(front, lambda x: x.get("user") == "bob")
    assert rec["reason"] == "ForbiddenByRule"
    assert not exit_records(exits, "exA_http")


def test_socks_udp_follows_params(front, exits):
    """A UDP ASSOCIATE of alice+country=de goes through exit C's
    socks_proxy (the params' next hop at socks5_port)."""
    echo = UdpEcho()
    try:
        t = socket.create_connection(("127.0.0.1", front.sp), timeout=10)
        greet(t, ("alice+country=de", "pw"))
        t.sendall(b"\x05\x03\x00\x01\x00\x00\x00\x00\x00\x00")
        head = recv_exact(t, 4)
        assert head[1] == 0, head
        rest = recv_exact(t, 6)
        relay = (socket.inet_ntoa(rest[:4]), struct.unpack("!H", rest[4:])[0])
        with t, udp_client() as u:
            back = exchange(u, relay, dgram("127.0.0.1", echo.port, QUERY))
        assert back == dgram("127.0.0.1", echo.port, b"echo:" + QUERY)
    finally:
        echo.stop()
    rec = wait_record(exits, lambda x: x.get("server_name") == "exC_socks"
                      and x.get("task_type") == "UdpConnect")
    assert rec["upstream"] == f"127.0.0.1:{echo.port}"
    rec = wait_record(front, lambda x: x.get("task_type") == "UdpConnect")
    assert rec["user"] == "alice"
    assert rec["next_peer_addr"].startswith(EXIT_IPS["C"] + ":")
