"""fail_over resolver: primary first, standby after fallback_delay or at
once when the primary fails; the first answer with addresses wins. Two DNS
servers on loopback give different addresses for the same name, so the
answer says which one was used; `g3ctl resolver NAME query HOST` and a
proxied CONNECT both go through it."""

import struct
import time

import pytest

from dp_fixtures import dp_clean_exit  # noqa: F401
from dp_helpers import DnsServer, free_port, start_proxyd, wait_record


class RefusingDns(DnsServer):
    """A DnsServer that answers REFUSED for the names in refuse."""

    def __init__(self, refuse=(), **kw):
        self.refuse = {n.lower() for n in refuse}
        super().__init__(**kw)

    def _answer(self, q):
        off, labels = 12, []
        while q[off]:
            labels.append(q[off + 1:off + 1 + q[off]].decode())
            off += 1 + q[off]
        name = ".".join(labels).lower()
        if name in self.refuse:
            with self.lock:
                self.queries[(name, "A")] = self.queries.get((name, "A"), 0) + 1
            qid, flags = struct.unpack("!HH", q[:4])
            return struct.pack("!HHHHHH", qid, 0x8185 | (flags & 0x0100), 1, 0, 0, 0) + \
                q[12:off + 5]
        return super()._answer(q)


def conf(primary_port, standby_port, http_port, fo_extra="", delay="100ms"):
    return f"""runtime:
  server_offline_delay: 0
  task_wait_delay: 0
worker:
  thread_number: 1
log: stdout
resolver:
  - name: p
    type: c_ares
    server: 127.0.0.1:{primary_port}
    each_timeout: 8000
    each_tries: 1
  - name: s
    type: c_ares
    server: 127.0.0.1:{standby_port}
    each_timeout: 1000
    each_tries: 1
  - name: fo
    type: fail_over
    primary: p
    standby: s
    fallback_delay: {delay}
{fo_extra}escaper:
  - name: direct
    type: direct_fixed
    resolver: fo
    resolve_strategy: Ipv4Only
    egress_network_filter:
      default: allow
      allow: [127.0.0.0/8]
server:
  - name: http
    type: http_proxy
    listen: 127.0.0.1:{http_port}
    escaper: direct
"""


@pytest.fixture
def primary():
    s = RefusingDns(a={"both.test": ["127.0.0.1"], "ponly.test": ["127.0.0.1"]},
                    silent=("stall.test",), refuse=("refused.test",))
    yield s
    s.stop()


@pytest.fixture
def standby():
    s = DnsServer(a={"both.test": ["127.0.0.2"], "stall.test": ["127.0.0.3"],
                     "refused.test": ["127.0.0.4"], "ponly.test": ["127.0.0.5"],
                     "sonly.test": ["127.0.0.6"]})
    yield s
    s.stop()


@pytest.fixture
def fo(daemon_factory, write_conf, workdir, primary, standby):
    from helpers import Ctl
    hp = free_port()
    d = start_proxyd(daemon_factory, write_conf, conf(primary.port, standby.port, hp))
    d.hp = hp
    return d, Ctl("proxyd", "test", workdir)


def query(ctl, host):
    t0 = time.monotonic()
    r = ctl.run("resolver", "fo", "query", host, "-s", "ipv4only", json_out=True)
    return r, time.monotonic() - t0


def test_primary_answers(daemon_factory, write_conf, workdir, primary, standby):
    """A primary that answers within fallback_delay (8 s here) is the
    answer; the standby is never asked."""
    from helpers import Ctl
    start_proxyd(daemon_factory, write_conf,
                 conf(primary.port, standby.port, free_port(), delay="8s"))
    r, took = query(Ctl("proxyd", "test", workdir), "both.test")
    assert r.returncode == 0, r.stderr
    assert '"127.0.0.1"' in r.stdout
    assert took < 4.0, took
    assert primary.count("both.test", "A") == 1
    assert standby.count("both.test", "A") == 0


def test_primary_stalled(fo, primary, standby):
    """The primary never answers: the standby, asked after fallback_delay,
    wins long before the primary's own timeout (8 s)."""
    d, ctl = fo
    r, took = query(ctl, "stall.test")
    assert r.returncode == 0, r.stderr
    assert '"127.0.0.3"' in r.stdout
    assert took < 4.0, took
    assert primary.count("stall.test", "A") == 1
    assert standby.count("stall.test", "A") == 1


def test_primary_refuses(daemon_factory, write_conf, workdir, primary, standby):
    """REFUSED from the primary: the standby is asked at once, not after
    fallback_delay (8 s here)."""
    from helpers import Ctl
    start_proxyd(daemon_factory, write_conf,
                 conf(primary.port, standby.port, free_port(), delay="8s"))
    r, took = query(Ctl("proxyd", "test", workdir), "refused.test")
    assert r.returncode == 0, r.stderr
    assert '"127.0.0.4"' in r.stdout
    assert took < 4.0, took
    assert primary.count("refused.test", "A") >= 1
    assert standby.count("refused.test", "A") == 1


def test_empty_record_final_by_default(fo, primary, standby):
    """NXDOMAIN from the primary is an answer (retry_empty_record off)."""
    d, ctl = fo
    r, _ = query(ctl, "sonly.test")
    assert r.returncode == 1 and "no such name" in r.stderr, r
    assert standby.count("sonly.test", "A") == 0


def test_retry_empty_record(daemon_factory, write_conf, workdir, primary, standby):
    from helpers import Ctl
    d = start_proxyd(daemon_factory, write_conf,
                     conf(primary.port, standby.port, free_port(),
                          "    retry_empty_record: true\n"))
    r, _ = query(Ctl("proxyd", "test", workdir), "sonly.test")
    assert r.returncode == 0, r.stderr
    assert '"127.0.0.6"' in r.stdout


def test_connect_through_failover(fo, primary, standby):
    """A proxied request resolves through fail_over: next_peer_addr is the
    standby's address when the primary stalls."""
    import socket
    d, ctl = fo
    with socket.create_connection(("127.0.0.1", d.hp), timeout=5) as s:
        # nothing listens on 127.0.0.3:9: the connect fails, but after the
        # name resolved through the standby
        s.sendall(b"CONNECT stall.test:9 HTTP/1.1\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 521"), reply
    rec = wait_record(d, lambda r: r.get("upstream") == "stall.test:9")
    assert rec["next_peer_addr"] == "127.0.0.3:9"
    assert rec["reason"] == "UpstreamNotConnected"

