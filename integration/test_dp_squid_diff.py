"""Differential test against squid: the same forward-proxy requests sent
through squid (started here on a free loopback port, `squid -N`, stopped by
PID) and through proxyd must reach an origin that records the raw bytes it
received with equivalent request lines, end-to-end headers and bodies.
Where the two legitimately differ the difference is listed explicitly:
squid adds Via / X-Forwarded-For / Cache-Control and its own Connection
header, g3 (and proxyd) add nothing by default."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit, dns  # noqa: F401
from dp_helpers import dp_conf, free_port, start_proxyd, wait_port

SQUID = shutil.which("squid") or "/usr/sbin/squid"

# headers only squid puts on the forwarded request (its documented
# defaults: `via on`, `forwarded_for on`, and a keep-alive Connection)
SQUID_ADDS = {"via", "x-forwarded-for", "cache-control", "connection", "surrogate-capability"}
# headers only proxyd puts on the forwarded request
PROXYD_ADDS = {"connection"}


class EchoOrigin:
    """Records each raw request (head and body as received) under its
    X-Test-Id and answers 200 with a short body, Connection: close."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = {}
        self.lock = threading.Lock()
        self.running = True
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while self.running:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _read_request(c):
        data = b""
        while b"\r\n\r\n" not in data:
            d = c.recv(65536)
            if not d:
                return data
            data += d
        head, _, rest = data.partition(b"\r\n\r\n")
        hdrs = {}
        for ln in head.split(b"\r\n")[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        if b"chunked" in hdrs.get(b"transfer-encoding", b"").lower():
            while not (rest.endswith(b"\r\n\r\n") and (b"\r\n0\r\n" in b"\r\n" + rest)):
                d = c.recv(65536)
                if not d:
                    break
                rest += d
        else:
            n = int(hdrs.get(b"content-length", b"0"))
            while len(rest) < n:
                d = c.recv(65536)
                if not d:
                    break
                rest += d
        return head + b"\r\n\r\n" + rest

    def _serve(self, c):
        with c:
            c.settimeout(5)
            try:
                raw = self._read_request(c)
            except OSError:
                return
            tid = None
            for ln in raw.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
                if ln.lower().startswith(b"x-test-id:"):
                    tid = ln.split(b":", 1)[1].strip().decode()
            with self.lock:
                self.seen[tid] = raw
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")

    def stop(self):
        self.running = False
        self.t.join()
        self.sock.close()


class Squid:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="g3c-squid-")
        os.chmod(self.dir, 0o777)  # squid drops to its own user
        self.port = free_port()
        conf = os.path.join(self.dir, "squid.conf")
        with open(conf, "w") as f:
            f.write(f"""http_port 127.0.0.1:{self.port}
http_access allow all
cache deny all
pid_filename {self.dir}/squid.pid
cache_log {self.dir}/cache.log
access_log none
cache_store_log none
coredump_dir {self.dir}
visible_hostname squid-test
shutdown_lifetime 0 seconds
pinger_enable off
dns_nameservers 127.0.0.1
""")
        self.proc = subprocess.Popen([SQUID, "-N", "-f", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir)
        wait_port(self.port, timeout=20)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def origin():
    o = EchoOrigin()
    yield o
    o.stop()


@pytest.fixture(scope="module")
def squid():
    if not os.path.exists(SQUID):
        pytest.skip("squid is not installed (deploy/deps.sh installs it)")
    s = Squid()
    yield s
    s.stop()


def send(port, raw):
    """Send raw bytes to a proxy; return the response head (status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw)
        data = b""
        s.settimeout(10)
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                break
            data += d
        return data.split(b"\r\n", 1)[0]


def parse(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = []
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs.append((k.strip().lower(), v.strip()))
    return lines[0], hdrs, body


def dechunk(body):
    """Chunked body → (data, trailer header lines)."""
    out, rest = b"", body
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            trailers = [t for t in rest.split(b"\r\n") if t]
            return out, sorted(t.lower().replace(b" ", b"") for t in trailers)
        out += rest[:size]
        rest = rest[size + 2:]


CASES = {
    "get-odd-casing": ("GET", "/a/b?c=d&e", [("x-CUSTOM-header", "Value 1"),
                                            ("USER-agent", "diff-test/1"),
                                            ("accept", "*/*")], b""),
    "head": ("HEAD", "/head", [("Accept", "text/plain")], b""),
    "post-length": ("POST", "/post", [("Content-Type", "application/x-test"),
                                      ("Content-Length", "11")], b"hello world"),
    "post-chunked": ("POST", "/chunked", [("Transfer-Encoding", "chunked"),
                                          ("Trailer", "X-Sum")],
                     b"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Sum: 11\r\n\r\n"),
    "connection-listed": ("GET", "/conn", [("Connection", "X-Hop, close"),
                                           ("X-Hop", "secret"), ("X-Kept", "yes")], b""),
    "proxy-connection": ("GET", "/pc", [("Proxy-Connection", "keep-alive"),
                                        ("Keep-Alive", "timeout=5")], b""),
    "te-trailer": ("GET", "/te", [("TE", "trailers"), ("Trailer", "X-Nothing")], b""),
    "proxy-authorization": ("GET", "/pa", [("Proxy-Authorization", "Basic dTpw")], b""),
    "via-xff-from-client": ("GET", "/vx", [("Via", "1.1 upstream-client"),
                                           ("X-Forwarded-For", "192.0.2.7")], b""),
}


def build(port, tid, case):
    method, path, hdrs, body = CASES[case]
    lines = [f"{method} http://127.0.0.1:{port}{path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             f"X-Test-Id: {tid}"]
    lines += [f"{k}: {v}" for k, v in hdrs]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture(scope="module")
def both(origin, squid):
    return origin, squid


@pytest.fixture
def proxyd(daemon_factory, write_conf, dns):  # noqa: F811
    port = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(http_port=port, dns_port=dns.port))
    d.port = port
    return d


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_request_reaches_origin(both, proxyd, case):
    origin, squid = both
    sq_id, pd_id = f"squid-{case}", f"proxyd-{case}"
    assert send(squid.port, build(origin.port, sq_id, case)).startswith(b"HTTP/1.1 200"), case
    assert send(proxyd.port, build(origin.port, pd_id, case)).startswith(b"HTTP/1.1 200"), case
    deadline = time.monotonic() + 5
    while (sq_id not in origin.seen or pd_id not in origin.seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    sq_line, sq_hdrs, sq_body = parse(origin.seen[sq_id])
    pd_line, pd_hdrs, pd_body = parse(origin.seen[pd_id])

    # the request line: origin form, same method, target and version
    assert sq_line == pd_line, (sq_line, pd_line)
    assert pd_line.split(" ")[1].startswith("/")

    # end-to-end headers: the same names and values, apart from the
    # headers one of them adds on its own (listed above) and the test id
    def e2e(hdrs, adds):
        return sorted((k, v) for k, v in hdrs if k not in adds and k != "x-test-id")

    sq_e2e, pd_e2e = e2e(sq_hdrs, SQUID_ADDS), e2e(pd_hdrs, PROXYD_ADDS)
    if case == "via-xff-from-client":
        # squid appends itself to the client's Via / X-Forwarded-For; proxyd
        # passes them through unchanged (g3's default)
        assert ("via", "1.1 upstream-client") in pd_hdrs
        assert ("x-forwarded-for", "192.0.2.7") in pd_hdrs
        sq_via = dict(sq_hdrs)["via"]
        assert sq_via.startswith("1.1 upstream-client, 1.1 squid-test")
        assert dict(sq_hdrs)["x-forwarded-for"] == "192.0.2.7, 127.0.0.1"
        pd_e2e = [h for h in pd_e2e if h[0] not in ("via", "x-forwarded-for")]
    if case == "post-chunked":
        # squid reads the whole chunked body and sends it with a
        # Content-Length (dropping the trailer); proxyd forwards the chunked
        # message as it came (g3 does the same)
        assert ("content-length", "11") in sq_e2e
        assert ("transfer-encoding", "chunked") in pd_e2e
        sq_e2e = [h for h in sq_e2e if h[0] != "content-length"]
        pd_e2e = [h for h in pd_e2e if h[0] != "transfer-encoding"]
    assert sq_e2e == pd_e2e, f"\nsquid:  {sq_e2e}\nproxyd: {pd_e2e}"

    # hop-by-hop headers never reach the origin through either proxy
    for hdrs in (sq_hdrs, pd_hdrs):
        names = {k for k, _ in hdrs}
        assert not names & {"proxy-connection", "keep-alive", "te", "trailer", "x-hop",
                            "proxy-authorization"}, names
    # what each adds on its own, explicitly
    framing = {"transfer-encoding"} if case == "post-chunked" else set()
    assert {k for k, _ in pd_hdrs} - {k for k, _ in sq_hdrs} - framing <= PROXYD_ADDS
    assert "via" in {k for k, _ in sq_hdrs}
    if case != "via-xff-from-client":
        assert "via" not in {k for k, _ in pd_hdrs}
        assert "x-forwarded-for" not in {k for k, _ in pd_hdrs}

    # bodies: the same bytes (chunked: the same data; the trailer only
    # through proxyd)
    if case == "post-chunked":
        assert sq_body == b"hello world"
        assert dechunk(pd_body) == (b"hello world", [b"x-sum:11"])
    else:
        assert sq_body == pd_body
