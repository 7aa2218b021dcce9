"""Helpers for proxyd data-plane tests: free ports, an origin HTTP server, a
tiny DNS server, TCP peers for half-close and timeouts, raw SOCKS clients,
task-log readers and a config builder. Every server runs in a thread of the
test process on loopback and is closed by its stop()."""

import hashlib
import http.server
import json
import os
import socket
import struct
import threading
import time

from helpers import wait_for


_GIVEN_PORTS = set()


def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago on host, never one this process
    handed out before (two calls before anything binds would otherwise
    often get the same ephemeral port back)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(1000):
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port
    raise AssertionError("no fresh free port found")


# ---- origin -------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class Origin:
    """A threaded HTTP/1.1 file server on host (random port) serving root."""

    def __init__(self, root, host="127.0.0.1"):
        cls = _Server6 if ":" in host else _Server

        def handler(*a, **kw):
            return _Handler(*a, directory=str(root), **kw)
        self.httpd = cls((host, 0), handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _AppHandler(_Handler):
    """The file server plus test endpoints:
    POST|PUT /echo          the request body back (Content-Length), chunked
                            request bodies decoded
    GET /chunked?n=K        K chunks of "chunk-<i>\n", chunked, with a trailer
    GET /eof                a body delimited by closing the connection
    GET /204, /304          no body
    GET /headers            the raw request head as received, as the body
    GET /slow?ms=N          the response head after N ms
    GET /garbage            not HTTP at all
    GET /reset              half a body, then a TCP reset"""

    def _query(self):
        path, _, q = self.path.partition("?")
        args = dict(kv.split("=", 1) for kv in q.split("&") if "=" in kv)
        return path, args

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def _send(self, code, body, ctype="application/octet-stream"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_POST(self):
        body = self._read_body()
        if self._query()[0] == "/echo":
            self._send(200, body)
        else:
            self._send(404, b"no such endpoint\n")

    do_PUT = do_POST

    def do_GET(self):
        path, args = self._query()
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Sum")
            self.end_headers()
            for i in range(int(args.get("n", "5"))):
                c = f"chunk-{i}\n".encode()
                self.wfile.write(b"%x\r\n" % len(c) + c + b"\r\n")
            self.wfile.write(b"0\r\nX-Sum: ok\r\n\r\n")
            return
        if path == "/eof":
            self.send_response_only(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"until the end\n" * 100)
            self.close_connection = True
            return
        if path in ("/204", "/304"):
            self.send_response(int(path[1:]))
            self.end_headers()
            return
        if path == "/headers":
            head = self.requestline + "\r\n" + "".join(
                f"{k}: {v}\r\n" for k, v in self.headers.items())
            return self._send(200, head.encode(), "text/plain")
        if path == "/slow":
            time.sleep(int(args.get("ms", "1000")) / 1000)
            return self._send(200, b"slow\n")
        if path == "/garbage":
            self.wfile.write(b"this is not http\r\n\r\n")
            self.close_connection = True
            return
        if path == "/reset":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        return super().do_GET()


class AppOrigin(Origin):
    """Origin with the test endpoints of _AppHandler (and the files)."""

    def __init__(self, root, host="127.0.0.1"):
        cls = _Server6 if ":" in host else _Server

        def handler(*a, **kw):
            return _AppHandler(*a, directory=str(root), **kw)
        self.httpd = cls((host, 0), handler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()


class PeerEchoOrigin:
    """HTTP servers on loopback addresses answering every request with the
    client's address as the body, so the body tells which bind address (which
    escaper) carried the request. ports: address → port (the given port on
    every address, else a free one each)."""

    def __init__(self, ips, port=0):
        self.ports, self._socks, self._stop = {}, [], False
        for ip in ips:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((ip, port))
            s.listen(64)
            s.settimeout(0.2)
            self.ports[ip] = s.getsockname()[1]
            self._socks.append(s)
            threading.Thread(target=self._run, args=(s,), daemon=True).start()

    def _run(self, ls):
        while not self._stop:
            try:
                c, peer = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c, peer), daemon=True).start()

    @staticmethod
    def _serve(c, peer):
        with c:
            c.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head:
                    d = c.recv(4096)
                    if not d:
                        return
                    head += d
                body = peer[0].encode()
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() +
                          b"\r\nConnection: close\r\n\r\n" + body)
            except OSError:
                pass

    def stop(self):
        self._stop = True
        for s in self._socks:
            s.close()


class WebSocketEcho:
    """Answers an Upgrade: websocket request with 101 and then echoes every
    byte (no framing: enough to prove the tunnel)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.heads = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            head = b""
            while b"\r\n\r\n" not in head:
                d = c.recv(1)
                if not d:
                    return
                head += d
            self.heads.append(head)
            c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\n\r\n")
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def stop(self):
        self.sock.close()


def make_files(root):
    """index.html and big.bin (20 MiB of pseudo-random bytes); returns the
    sha256 of big.bin."""
    (root / "index.html").write_text("hello from origin\n")
    h = hashlib.sha256()
    with open(root / "big.bin", "wb") as f:
        block = hashlib.sha512(b"seed").digest() * 512  # 32 KiB
        for i in range(640):
            chunk = bytes([i & 0xff]) + block[1:]
            f.write(chunk)
            h.update(chunk)
    return h.hexdigest()


# ---- DNS ------------------------------------------------------------------------


class DnsServer:
    """A UDP DNS server on 127.0.0.1: answers A / AAAA from the given maps
    (name → list of address strings) with ttl, NXDOMAIN for other names.
    queries counts questions per (name, qtype)."""

    def __init__(self, a=None, aaaa=None, ttl=300, silent_aaaa=False, silent=()):
        self.a = {k.lower(): v for k, v in (a or {}).items()}
        self.aaaa = {k.lower(): v for k, v in (aaaa or {}).items()}
        self.ttl = ttl
        self.silent_aaaa = silent_aaaa  # never answer AAAA (a lost query)
        self.silent = {n.lower() for n in silent}  # names never answered
        self.queries = {}
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def count(self, name, qtype):
        with self.lock:
            return self.queries.get((name.lower(), qtype), 0)

    def _run(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                rep = self._answer(data)
            except Exception:  # malformed query: ignore it
                continue
            if rep:
                self.sock.sendto(rep, peer)

    def _answer(self, q):
        qid, flags, qd = struct.unpack("!HHH", q[:6])
        off, labels = 12, []
        while q[off]:
            n = q[off]
            labels.append(q[off + 1:off + 1 + n].decode())
            off += 1 + n
        qname = ".".join(labels).lower()
        qtype, qclass = struct.unpack("!HH", q[off + 1:off + 5])
        question = q[12:off + 5]
        kind = {1: "A", 28: "AAAA"}.get(qtype, str(qtype))
        with self.lock:
            self.queries[(qname, kind)] = self.queries.get((qname, kind), 0) + 1
        if (kind == "AAAA" and self.silent_aaaa) or qname in self.silent:
            return None
        known = qname in self.a or qname in self.aaaa
        table = self.a if kind == "A" else self.aaaa if kind == "AAAA" else {}
        answers = b""
        count = 0
        for addr in table.get(qname, []):
            fam = socket.AF_INET if kind == "A" else socket.AF_INET6
            rdata = socket.inet_pton(fam, addr)
            answers += struct.pack("!HHHIH", 0xC00C, qtype, 1, self.ttl, len(rdata)) + rdata
            count += 1
        rcode = 0 if known else 3
        hdr = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, count, 0, 0)
        return hdr + question + answers

    def stop(self):
        self.running = False
        self.sock.close()
        self.thread.join(timeout=2)


# ---- TCP peers ------------------------------------------------------------------


class HalfCloseServer:
    """Reads until the peer shuts its write side, then answers
    b"got <n>" and closes: proves that a client's half-close travels."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _serve(c):
        n = 0
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    break
                n += len(d)
            c.sendall(b"got %d" % n)

    def stop(self):
        self.sock.close()


class Blackhole:
    """A listener that never accepts, with its queue filled, so new SYNs
    are dropped and connects to it time out."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            f = socket.socket()
            f.setblocking(False)
            try:
                f.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(f)
        time.sleep(0.2)

    def stop(self):
        for f in self.fillers:
            f.close()
        self.sock.close()


# ---- SOCKS clients --------------------------------------------------------------


def recv_exact(s, n, timeout=5):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            break
        buf += d
    return buf


def recv_all(s, timeout=5):
    """Everything until the peer closes."""
    s.settimeout(timeout)
    buf = b""
    while True:
        d = s.recv(65536)
        if not d:
            return buf
        buf += d


def closed_by_peer(s, timeout=5):
    """True when the peer closes (EOF or reset) within timeout."""
    s.settimeout(timeout)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def socks5_addr(host):
    """ATYP + address bytes for an IPv4, IPv6 or domain target."""
    for fam, atyp in ((socket.AF_INET, 1), (socket.AF_INET6, 4)):
        try:
            return bytes([atyp]) + socket.inet_pton(fam, host)
        except OSError:
            pass
    h = host.encode()
    return bytes([3, len(h)]) + h


def socks5_open(port, host, dport, cmd=1):
    """Greeting (no auth) and request; returns (socket, method reply,
    request reply head of 4 bytes + address)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\x05\x01\x00")
    method = recv_exact(s, 2)
    if method != b"\x05\x00":
        return s, method, b""
    s.sendall(b"\x05" + bytes([cmd]) + b"\x00" + socks5_addr(host) + struct.pack("!H", dport))
    head = recv_exact(s, 4)
    if len(head) < 4:
        return s, method, head
    alen = {1: 4, 4: 16}.get(head[3], 0)
    return s, method, head + recv_exact(s, alen + 2)


def http_get_over(s, host="origin", path="/index.html"):
    """Send a GET over an established tunnel and read the whole response
    (Connection: close)."""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return recv_all(s)


# ---- task log -------------------------------------------------------------------


def task_records(daemon, log_type="Task"):
    """Structured records of log_type ("Task", "Escape", "Resolve") proxyd
    wrote to stdout so far."""
    out = []
    try:
        text = daemon.stdout_path.read_text(errors="replace")
    except FileNotFoundError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("log_type") == log_type:
            out.append(rec)
    return out


def wait_record(daemon, pred, timeout=5, what="task record"):
    """The first task record for which pred(rec) holds, waiting for it."""
    def find():
        for r in task_records(daemon):
            if pred(r):
                return r
        return None
    return wait_for(find, timeout, what=what)


def upstream_is(value):
    return lambda r: r.get("upstream") == value


# g3proxy's key order of a Finished TcpConnect record (spec §3.3), after the
# common keys; optional keys may be absent.
TCP_CONNECT_ORDER = [
    "daemon_name", "pid", "log_type", "server_type", "server_name", "task_type", "task_id",
    "task_event", "stage", "start_at", "user", "server_addr", "client_addr", "upstream",
    "escaper", "next_bind_ip", "next_bound_addr", "next_peer_addr", "next_expire",
    "tcp_connect_tries", "tcp_connect_spend", "reason", "wait_time", "ready_time",
    "total_time", "c_rd_bytes", "c_wr_bytes", "r_rd_bytes", "r_wr_bytes", "message",
]


def assert_g3_order(rec):
    keys = list(rec.keys())
    for k in keys:
        assert k in TCP_CONNECT_ORDER, f"unexpected key {k} in {rec}"
    idx = [TCP_CONNECT_ORDER.index(k) for k in keys]
    assert idx == sorted(idx), f"keys out of g3 order: {keys}"


# ---- config -----------------------------------------------------------------------


def dp_conf(socks_port=None, http_port=None, dns_port=None, workers=2, escaper="",
            socks="", http="", resolver="", runtime="", extra=""):
    """A proxyd config with loopback listeners, a direct_fixed escaper that
    may reach 127.0.0.1 and ::1 (g3's default forbids loopback), a c-ares
    resolver (the given DNS port, else /etc/resolv.conf) and task logs on
    stdout. The string arguments add indented YAML lines to each object."""
    def block(text, indent):
        return "".join(" " * indent + ln + "\n" for ln in text.strip("\n").splitlines()) \
            if text.strip() else ""
    out = "runtime:\n  server_offline_delay: 0\n  task_wait_delay: 0\n" + block(runtime, 2)
    out += f"worker:\n  thread_number: {workers}\n"
    out += "log: stdout\n"
    out += "resolver:\n  - name: dns\n    type: c_ares\n"
    if dns_port:
        out += f"    server: 127.0.0.1:{dns_port}\n    each_timeout: 500\n    each_tries: 2\n"
    out += block(resolver, 4)
    out += ("escaper:\n  - name: direct\n    type: direct_fixed\n    resolver: dns\n"
            "    egress_network_filter:\n      default: allow\n"
            "      allow: [127.0.0.1, '::1']\n")
    out += block(escaper, 4)
    out += "server:\n"
    if socks_port:
        out += (f"  - name: socks\n    type: socks_proxy\n    listen: 127.0.0.1:{socks_port}\n"
                "    escaper: direct\n") + block(socks, 4)
    if http_port:
        out += (f"  - name: http\n    type: http_proxy\n    listen: 127.0.0.1:{http_port}\n"
                "    escaper: direct\n") + block(http, 4)
    return out + extra


# proxyd processes started by start_proxyd in the current test (see the
# dp_clean_exit fixture).
STARTED = []


def start_proxyd(daemon_factory, write_conf, conf, args=("-vv",)):
    """Start proxyd with conf (a YAML string); -vv puts INFO lines (why a
    connection was refused before a task existed) on stderr."""
    d = daemon_factory("proxyd")
    d.conf = write_conf(conf)
    d.start(d.conf, *args)
    STARTED.append(d)
    return d


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "assertion failed")


def check_clean_exit(d):
    """Stop d now (SIGINT: immediate stop, tasks cancelled) unless it has
    exited, then require exit status 0 and no sanitizer or assertion report
    on stderr: every connection, buffer and pipe was released."""
    import signal as _signal
    if d.proc.poll() is None:
        d.signal(_signal.SIGINT)
    rc = d.wait_exit(15)
    err = d.stderr()
    for m in SANITIZER_MARKS:
        assert m not in err, f"proxyd stderr has '{m}':\n{err[-4000:]}"
    assert rc == 0, f"proxyd exited {rc}:\n{err[-4000:]}"


def wait_port(port, host="127.0.0.1", timeout=5):
    def ok():
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False
    wait_for(ok, timeout, what=f"port {port}")


def port_listening(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def listen_inodes(port):
    """Inodes of the listening TCP sockets on port (from /proc/net/tcp{,6})."""
    inodes = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(path):
            continue
        with open(path) as f:
            next(f)
            for line in f:
                parts = line.split()
                local, state, inode = parts[1], parts[3], parts[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                    inodes.add(inode)
    return inodes
