"""g3bench end to end: h1 against a loopback nginx (plain and TLS), the
test origin's framings (chunked, close-delimited, 204, HEAD, POST), through
proxyd (HTTP forward, CONNECT, SOCKS5 and SOCKS5h), errors counted by kind
(refused port, garbage, stalled server, 404, TLS verification), the ssl
handshake benchmark with and without resumption, and usage errors. Every
server is on loopback and stopped at teardown; nginx by PID."""

import json
import pathlib
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from dp_fixtures import app, dns, dp_clean_exit, origin_root  # noqa: F401
from dp_helpers import dp_conf, free_port, start_proxyd
from helpers import binary, kill_pid, wait_for

SMALL = b"s" * 100

NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {d}/tmp;
    proxy_temp_path {d}/tmp;
    fastcgi_temp_path {d}/tmp;
    uwsgi_temp_path {d}/tmp;
    scgi_temp_path {d}/tmp;
    ssl_session_cache shared:bench:1m;
    server {{
        listen 127.0.0.1:{port};
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        root {d}/www;
    }}
    server {{
        listen 127.0.0.1:{noticket_port} ssl;
        ssl_certificate {d}/cert.pem;
        ssl_certificate_key {d}/key.pem;
        ssl_session_tickets off;
        ssl_session_cache off;
        root {d}/www;
    }}
}}
"""


class Nginx:
    """nginx in the foreground (one process) serving www/small.html (100 B)
    on a plain and a TLS port; the certificate is self-signed for localhost
    and 127.0.0.1 and doubles as the CA file (self.ca)."""

    def __init__(self):
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="g3c-bench-ngx-"))
        (self.dir / "www").mkdir()
        (self.dir / "tmp").mkdir()
        (self.dir / "www" / "small.html").write_bytes(SMALL)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(self.dir / "key.pem"), "-out", str(self.dir / "cert.pem")],
                       check=True, capture_output=True)
        self.ca = str(self.dir / "cert.pem")
        self.port = free_port()
        self.tls_port = free_port()
        self.noticket_port = free_port()  # TLS without tickets or session cache
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(d=self.dir, port=self.port, tls_port=self.tls_port,
                                          noticket_port=self.noticket_port))
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(conf),
                                      "-e", str(self.dir / "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(self.ready, 10, what="nginx listening")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"nginx exited {self.proc.returncode}: "
                                 f"{(self.dir / 'error.log').read_text(errors='replace')}")
        try:
            for p in (self.port, self.tls_port, self.noticket_port):
                socket.create_connection(("127.0.0.1", p), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            kill_pid(self.proc.pid)
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def nginx():
    n = Nginx()
    yield n
    n.stop()


def bench(*args, timeout=60):
    """Run g3bench; returns (exit status, stdout, stderr)."""
    r = subprocess.run([binary("g3bench"), *[str(a) for a in args]], capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def bench_json(*args, timeout=60):
    rc, out, err = bench("--json", *args, timeout=timeout)
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"want one JSON line, got:\n{out}\n{err}"
    return rc, json.loads(lines[0]), err


def assert_all_ok(j, n):
    assert j["requests"] == n, j
    assert j["ok"] == n, j
    assert j["failed"] == 0, j
    assert all(v == 0 for v in j["errors"].values()), j
    assert j["left"] == 0


# ---- h1 direct ----


def test_h1_count_exact_keepalive(nginx):
    rc, j, err = bench_json("-n", 300, "-c", 4, "h1", f"http://127.0.0.1:{nginx.port}/small.html")
    assert rc == 0, err
    assert_all_ok(j, 300)
    assert j["status"]["2xx"] == 300
    assert j["connections"] == {"attempt": 4, "success": 4}  # keep-alive: one per task
    assert j["traffic"]["recv"] >= 300 * len(SMALL)
    assert j["traffic"]["sent"] >= 300 * len(b"GET /small.html HTTP/1.1\r\n\r\n")
    lat = j["latency_us"]
    assert lat["count"] == 300
    assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p99.9"] <= lat["max"]
    assert j["rps"] > 0 and j["duration_s"] > 0
    assert j["kind"] == "h1" and j["concurrency"] == 4 and j["threads"] == 1
    # per-phase durations: request written <= response head <= last byte
    ph = j["phases_us"]
    assert ph["send_all"]["count"] == ph["recv_hdr"]["count"] == 300
    for k in ("min", "p50", "p90", "p99", "max"):
        assert ph["send_all"][k] <= ph["recv_hdr"][k] <= lat[k], k


def test_h1_threads_and_no_keepalive(nginx):
    rc, j, err = bench_json("-n", 60, "-c", 4, "-j", 2, "--no-keepalive", "h1",
                            f"http://127.0.0.1:{nginx.port}/small.html")
    assert rc == 0, err
    assert_all_ok(j, 60)
    assert j["threads"] == 2
    assert j["connections"] == {"attempt": 60, "success": 60}  # one per request


def test_h1_text_summary(nginx):
    rc, out, err = bench("-n", 7, "h1", f"http://127.0.0.1:{nginx.port}/small.html")
    assert rc == 0, err
    assert "Complete requests:      7\n" in out
    assert "Failed requests" not in out
    assert "Requests per second:" in out
    assert "2xx:                    7\n" in out
    assert "  99.9%" in out
    assert "\nSendAll: " in out and "\nRecvHdr: " in out and "\nTotal: " in out


def test_h1_time_limit_and_rate(nginx):
    t0 = time.monotonic()
    rc, j, err = bench_json("-t", "2s", "-c", 2, "--rate", 50, "h1",
                            f"http://127.0.0.1:{nginx.port}/small.html")
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    assert 1.9 <= j["duration_s"] <= 3.0 and elapsed < 6
    # 50/s for 2 s: the limiter allows no burst beyond its schedule.
    assert 80 <= j["requests"] <= 102, j["requests"]
    assert j["failed"] == 0


def test_sigint_stops_with_summary(nginx):
    p = subprocess.Popen([binary("g3bench"), "--json", "-t", "60s", "--rate", "100", "h1",
                          f"http://127.0.0.1:{nginx.port}/small.html"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=5)
    finally:
        if p.poll() is None:
            kill_pid(p.pid)
            p.wait(5)
    assert p.returncode == 0, err
    j = json.loads(out)
    # stopped long before the 60 s limit (start-up time varies, e.g. under
    # sanitizers), with the rate limiter's count for the time it ran
    assert 0 < j["duration_s"] < 3
    assert 1 <= j["requests"] <= j["duration_s"] * 100 + 2 and j["failed"] == 0


def test_latency_pause_between_serial_requests(nginx):
    """-l: each task pauses after every request; two tasks run in parallel."""
    rc, j, err = bench_json("-n", 6, "-c", 2, "-l", "200ms", "h1",
                            f"http://127.0.0.1:{nginx.port}/small.html")
    assert rc == 0, err
    assert_all_ok(j, 6)
    # three requests per task, two pauses each
    assert 0.38 <= j["duration_s"] < 2, j["duration_s"]
    assert j["latency_us"]["max"] < 200000  # the pause is not part of a latency


def test_ok_status(nginx):
    rc, j, err = bench_json("-n", 4, "--ok-status", "404", "h1",
                            f"http://127.0.0.1:{nginx.port}/missing")
    assert rc == 0, err
    assert_all_ok(j, 4)
    assert j["status"]["4xx"] == 4
    rc, j, err = bench_json("-n", 4, "--ok-status", "404", "h1",
                            f"http://127.0.0.1:{nginx.port}/small.html")
    assert rc == 2
    assert j["errors"]["status"] == 4 and j["status"]["2xx"] == 4


def test_h1_default_cap_is_ten_seconds(nginx):
    """Neither -n nor -t: the run still ends (10 s), rate-limited here."""
    rc, j, err = bench_json("--rate", 5, "h1", f"http://127.0.0.1:{nginx.port}/small.html",
                            timeout=30)
    assert rc == 0, err
    assert 9.5 <= j["duration_s"] <= 12
    assert 45 <= j["requests"] <= 51


@pytest.mark.parametrize("path,method,extra", [
    ("/chunked?n=7", "GET", []),
    ("/eof", "GET", []),
    ("/204", "GET", []),
    ("/index.html", "HEAD", []),
    ("/echo", "POST", ["--body", "hello body"]),
])
def test_h1_framings(app, path, method, extra):  # noqa: F811
    rc, j, err = bench_json("-n", 12, "-c", 3, "-m", method, *extra, "h1",
                            f"http://127.0.0.1:{app.port}{path}")
    assert rc == 0, err
    assert_all_ok(j, 12)
    if path == "/eof":
        assert j["connections"]["attempt"] == 12  # the close ends each body


def test_h1_post_body_reaches_origin(app):  # noqa: F811
    """The body and extra headers are sent as given (echo returns them)."""
    rc, j, err = bench_json("-n", 3, "-m", "PUT", "--body", "x" * 1000, "-H", "X-Test: 1",
                            "h1", f"http://127.0.0.1:{app.port}/echo")
    assert rc == 0, err
    assert_all_ok(j, 3)
    assert j["traffic"]["recv"] >= 3 * 1000


# ---- errors by kind ----


def test_refused_port_counts_connect_errors():
    port = free_port()
    rc, j, err = bench_json("-n", 5, "-c", 2, "h1", f"http://127.0.0.1:{port}/")
    assert rc == 2
    assert j["requests"] == 5 and j["ok"] == 0 and j["failed"] == 5
    assert j["errors"]["connect"] == 5
    assert j["connections"]["success"] == 0


def test_refused_port_time_bound():
    """Immediate failures in a time-bounded run neither spin forever nor
    starve the end timer."""
    port = free_port()
    t0 = time.monotonic()
    rc, j, err = bench_json("-t", "500ms", "h1", f"http://127.0.0.1:{port}/")
    assert time.monotonic() - t0 < 5
    assert rc == 2
    assert j["failed"] > 0 and j["errors"]["connect"] == j["failed"]


def test_garbage_counts_proto_errors(app):  # noqa: F811
    rc, j, err = bench_json("-n", 4, "--log-error", 1, "h1", f"http://127.0.0.1:{app.port}/garbage")
    assert rc == 2
    assert j["errors"]["proto"] == 4 and j["failed"] == 4
    assert err.count("request failed (proto)") == 1  # --log-error 1


def test_reset_mid_body_counts_proto(app):  # noqa: F811
    rc, j, err = bench_json("-n", 3, "h1", f"http://127.0.0.1:{app.port}/reset")
    assert rc == 2
    assert j["failed"] == 3
    assert j["errors"]["proto"] + j["errors"]["io"] == 3


class Staller:
    """Accepts connections and reads, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def stop(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_stalled_server_counts_timeouts():
    s = Staller()
    try:
        t0 = time.monotonic()
        rc, j, err = bench_json("-n", 4, "-c", 2, "--timeout", "300ms", "h1",
                                f"http://127.0.0.1:{s.port}/")
        elapsed = time.monotonic() - t0
    finally:
        s.stop()
    assert rc == 2
    assert j["errors"]["timeout"] == 4 and j["failed"] == 4
    assert 0.5 <= elapsed < 5  # two rounds of 300 ms


class Closer:
    """Answers one request per connection (200, Content-Length, keep-alive
    implied) and then closes it without saying so."""

    def __init__(self, delay=0.05):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.delay = delay
        self.conns = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            head = b""
            while b"\r\n\r\n" not in head:
                d = c.recv(4096)
                if not d:
                    return
                head += d
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            time.sleep(self.delay)

    def stop(self):
        self.sock.close()


def test_stale_keepalive_connection_is_retried():
    """A server that silently closes after each response: the next request
    finds the connection dead before any byte and goes out again on a new
    one; nothing counts as failed."""
    srv = Closer()
    try:
        rc, j, err = bench_json("-n", 6, "--rate", 10, "h1", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.stop()
    assert rc == 0, err
    assert_all_ok(j, 6)
    assert j["connections"]["attempt"] == 6 == srv.conns


class BigHead:
    """Answers every request with a head carrying an X-Big header of n bytes."""

    def __init__(self, n):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.reply = (b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * n +
                      b"\r\nContent-Length: 3\r\n\r\nbig")
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
            buf = b""
            try:
                while True:
                    d = c.recv(65536)
                    if not d:
                        return
                    buf += d
                    while b"\r\n\r\n" in buf:
                        _, _, buf = buf.partition(b"\r\n\r\n")
                        c.sendall(self.reply)
            except OSError:
                return

    def stop(self):
        self.sock.close()


@pytest.mark.parametrize("size,ok", [(30000, True), (70000, False)])
def test_response_head_limit(size, ok):
    """Heads up to 64 KiB are read (the buffer grows from 16 KiB); a larger
    one is a proto error, not a crash or a hang."""
    srv = BigHead(size)
    try:
        rc, j, err = bench_json("-n", 3, "--log-error", 1, "h1", f"http://127.0.0.1:{srv.port}/")
    finally:
        srv.stop()
    if ok:
        assert rc == 0, err
        assert_all_ok(j, 3)
        assert j["connections"]["attempt"] == 1
    else:
        assert rc == 2
        assert j["errors"]["proto"] == 3
        assert "response head too big" in err


def test_status_errors_counted_separately(nginx):
    rc, j, err = bench_json("-n", 5, "h1", f"http://127.0.0.1:{nginx.port}/missing")
    assert rc == 2
    assert j["errors"]["status"] == 5 and j["failed"] == 5
    assert j["status"]["4xx"] == 5
    assert j["latency_us"]["count"] == 5  # a complete response still has a latency
    assert j["connections"]["attempt"] == 1  # 404 keeps the connection


# ---- TLS targets and the ssl benchmark ----


def test_h1_https_verified_and_resumed(nginx):
    url = f"https://localhost:{nginx.tls_port}/small.html"
    rc, j, err = bench_json("-n", 20, "--cacert", nginx.ca, "--no-keepalive", "--resolve",
                            f"localhost:{nginx.tls_port}:127.0.0.1", "h1", url)
    assert rc == 0, err
    assert_all_ok(j, 20)
    assert j["tls"]["handshakes"] == 20
    assert j["tls"]["resumed"] >= 18  # every handshake after the first resumes


def test_h1_https_untrusted_is_tls_error(nginx):
    rc, j, err = bench_json("-n", 3, "--cacert", "/etc/ssl/certs/ca-certificates.crt", "h1",
                            f"https://127.0.0.1:{nginx.tls_port}/small.html")
    assert rc == 2
    assert j["errors"]["tls"] == 3
    rc, j, err = bench_json("-n", 3, "-k", "h1", f"https://127.0.0.1:{nginx.tls_port}/small.html")
    assert rc == 0, err
    assert_all_ok(j, 3)


def test_ssl_resumption(nginx):
    rc, j, err = bench_json("-n", 30, "-c", 2, "--cacert", nginx.ca, "ssl",
                            f"127.0.0.1:{nginx.tls_port}")
    assert rc == 0, err
    assert j["kind"] == "ssl"
    assert_all_ok(j, 30)
    assert j["tls"]["handshakes"] == 30
    assert j["connections"]["attempt"] == 30
    assert j["tls"]["resumed"] >= 26  # all but each task's first


def test_ssl_server_without_tickets(nginx):
    """A TLS 1.3 server that never sends a ticket: each task waits for one
    once (at most 1 s), then runs full handshakes at full speed."""
    t0 = time.monotonic()
    rc, j, err = bench_json("-n", 40, "-c", 2, "-k", "ssl", f"127.0.0.1:{nginx.noticket_port}")
    elapsed = time.monotonic() - t0
    assert rc == 0, err
    assert_all_ok(j, 40)
    assert j["tls"]["resumed"] == 0
    assert elapsed < 4, elapsed


def test_ssl_no_session_cache(nginx):
    rc, out, err = bench("-n", 10, "--no-session-cache", "--tls-name", "localhost", "--cacert",
                         nginx.ca, "ssl", f"127.0.0.1:{nginx.tls_port}")
    assert rc == 0, err
    assert "Reused Count:           0\n" in out
    assert "Handshakes:             10\n" in out


def test_ssl_wrong_name_is_tls_error(nginx):
    rc, j, err = bench_json("-n", 2, "--tls-name", "other.example", "--cacert", nginx.ca, "ssl",
                            f"127.0.0.1:{nginx.tls_port}")
    assert rc == 2
    assert j["errors"]["tls"] == 2


# ---- through proxyd ----


@pytest.fixture
def px(daemon_factory, write_conf, dns):  # noqa: F811
    """proxyd with an http_proxy and a socks_proxy; origin.test resolves to
    127.0.0.1 through the test DNS server."""
    http_port, socks_port = free_port(), free_port()
    d = start_proxyd(daemon_factory, write_conf,
                     dp_conf(http_port=http_port, socks_port=socks_port, dns_port=dns.port))
    d.http_port, d.socks_port = http_port, socks_port
    wait_for(lambda: _listening(http_port) and _listening(socks_port), 10, what="proxyd ports")
    return d


def _listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["forward", "connect", "socks5", "socks5h"])
def test_h1_through_proxyd(px, nginx, mode):
    host = "origin.test" if mode in ("forward", "socks5h") else "127.0.0.1"
    url = f"http://{host}:{nginx.port}/small.html"
    proxy = {"forward": f"http://127.0.0.1:{px.http_port}",
             "connect": f"http://127.0.0.1:{px.http_port}",
             "socks5": f"socks5://127.0.0.1:{px.socks_port}",
             "socks5h": f"socks5h://127.0.0.1:{px.socks_port}"}[mode]
    extra = ["-p"] if mode == "connect" else []
    rc, j, err = bench_json("-n", 100, "-c", 4, "-x", proxy, *extra, "h1", url)
    assert rc == 0, err
    assert_all_ok(j, 100)
    assert j["connections"]["attempt"] == 4


def test_https_through_connect(px, nginx):
    url = f"https://127.0.0.1:{nginx.tls_port}/small.html"
    rc, j, err = bench_json("-n", 10, "-c", 2, "--no-keepalive", "--cacert", nginx.ca,
                            "--tls-name", "localhost",
                            "-x", f"http://127.0.0.1:{px.http_port}", "h1", url)
    assert rc == 0, err
    assert_all_ok(j, 10)
    assert j["tls"]["handshakes"] == 10 and j["tls"]["resumed"] >= 8


def test_proxy_refusal_counts_proxy_errors(px):
    """A CONNECT to a closed port: proxyd answers an error status."""
    port = free_port()
    rc, j, err = bench_json("-n", 3, "-x", f"http://127.0.0.1:{px.http_port}", "-p", "h1",
                            f"http://127.0.0.1:{port}/")
    assert rc == 2
    assert j["errors"]["proxy"] == 3
    rc, j, err = bench_json("-n", 3, "-x", f"socks5://127.0.0.1:{px.socks_port}", "h1",
                            f"http://127.0.0.1:{port}/")
    assert rc == 2
    assert j["errors"]["proxy"] == 3


class TlsFront:
    """An HTTPS proxy made of a TLS terminator in front of proxyd's plain
    HTTP port: each TLS connection is relayed byte for byte to backend."""

    def __init__(self, backend_port, cert, key):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.backend = backend_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, raw):
        try:
            c = self.ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.accepted += 1
        b = socket.create_connection(("127.0.0.1", self.backend))

        def pump(src, dst):
            try:
                while True:
                    d = src.recv(65536)
                    if not d:
                        break
                    dst.sendall(d)
            except (OSError, ssl.SSLError):
                pass
            for s_ in (src, dst):
                try:
                    s_.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=pump, args=(b, c), daemon=True)
        t.start()
        pump(c, b)
        t.join(5)
        c.close()
        b.close()

    def stop(self):
        self.sock.close()


@pytest.mark.parametrize("mode", ["forward", "connect-https"])
def test_https_proxy(px, nginx, mode):
    """TLS to the proxy (verified with --proxy-cacert and --proxy-tls-name);
    for an https target, TLS to nginx runs inside it."""
    front = TlsFront(px.http_port, nginx.ca, str(nginx.dir / "key.pem"))
    try:
        if mode == "forward":
            url, extra = f"http://127.0.0.1:{nginx.port}/small.html", []
        else:
            url = f"https://127.0.0.1:{nginx.tls_port}/small.html"
            extra = ["--cacert", nginx.ca, "--tls-name", "localhost"]
        rc, j, err = bench_json("-n", 40, "-c", 2, "-x", f"https://127.0.0.1:{front.port}",
                                "--proxy-cacert", nginx.ca, "--proxy-tls-name", "localhost",
                                *extra, "h1", url)
        assert rc == 0, err
        assert_all_ok(j, 40)
        assert j["connections"]["attempt"] == 2
        assert front.accepted == 2
        # handshakes counted are the target's only
        assert j["tls"]["handshakes"] == (0 if mode == "forward" else 2)
        # the proxy's certificate is checked
        rc, j, err = bench_json("-n", 2, "-x", f"https://127.0.0.1:{front.port}",
                                "--proxy-tls-name", "localhost", *extra, "h1", url)
        assert rc == 2 and j["errors"]["tls"] == 2
    finally:
        front.stop()


class Recorder:
    """A fake proxy and origin in one: records every request head (and
    body) it receives and answers 200 with an empty body, keeping the
    connection; a CONNECT is answered 200 and the tunnel's requests are
    served the same way. With socks=True it first speaks SOCKS5 with
    username/password authentication (RFC 1929) and records the
    credentials and the requested address."""

    def __init__(self, socks=False, password=b"p@ss"):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.socks = socks
        self.password = password
        self.heads = []
        self.socks_log = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _exact(c, n):
        b = b""
        while len(b) < n:
            d = c.recv(n - len(b))
            if not d:
                raise EOFError
            b += d
        return b

    def _socks(self, c):
        ver, n = self._exact(c, 2)
        methods = self._exact(c, n)
        if 2 not in methods:
            c.sendall(b"\x05\xff")
            raise EOFError
        c.sendall(b"\x05\x02")
        self._exact(c, 1)
        user = self._exact(c, self._exact(c, 1)[0])
        pw = self._exact(c, self._exact(c, 1)[0])
        if pw != self.password:
            c.sendall(b"\x01\x01")
            raise EOFError
        c.sendall(b"\x01\x00")
        _, cmd, _, atyp = self._exact(c, 4)
        if atyp == 3:
            addr = self._exact(c, self._exact(c, 1)[0]).decode()
        elif atyp == 1:
            addr = socket.inet_ntoa(self._exact(c, 4))
        else:
            addr = socket.inet_ntop(socket.AF_INET6, self._exact(c, 16))
        port = int.from_bytes(self._exact(c, 2), "big")
        self.socks_log.append((user.decode(), addr, port))
        c.sendall(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50")

    def _serve(self, c):
        with c:
            try:
                if self.socks:
                    self._socks(c)
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        d = c.recv(65536)
                        if not d:
                            return
                        buf += d
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    n = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            n = int(v)
                    while len(buf) < n:
                        buf += c.recv(65536)
                    self.heads.append((head.decode(), buf[:n]))
                    buf = buf[n:]
                    if head.startswith(b"CONNECT "):
                        c.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    else:
                        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            except (EOFError, OSError):
                return

    def stop(self):
        self.sock.close()


def test_request_shape_through_http_proxy():
    """Absolute-form request with Basic proxy credentials, Host, the extra
    headers and the body, as a proxy receives it."""
    rec = Recorder()
    try:
        rc, j, err = bench_json("-n", 2, "-m", "POST", "--body", "payload!", "-H", "X-One: 1",
                                "-H", "user-agent: custom", "-x",
                                f"http://us%3Aer:p%40ss@127.0.0.1:{rec.port}", "h1",
                                "http://origin.test:8080/p?q=1")
    finally:
        rec.stop()
    assert rc == 0, err
    assert_all_ok(j, 2)
    assert len(rec.heads) == 2
    head, body = rec.heads[0]
    lines = head.split("\r\n")
    assert lines[0] == "POST http://origin.test:8080/p?q=1 HTTP/1.1"
    assert "Host: origin.test:8080" in lines
    # base64("us:er:p@ss")
    assert "Proxy-Authorization: Basic dXM6ZXI6cEBzcw==" in lines
    assert "X-One: 1" in lines and "user-agent: custom" in lines
    assert not any(ln.startswith("User-Agent: g3bench") for ln in lines)
    assert "Content-Length: 8" in lines and body == b"payload!"


def test_request_shape_through_connect():
    rec = Recorder()
    try:
        rc, j, err = bench_json("-n", 3, "-p", "-x", f"http://u:p@127.0.0.1:{rec.port}", "h1",
                                "http://[::1]/x")
    finally:
        rec.stop()
    assert rc == 0, err
    assert_all_ok(j, 3)
    assert [h.split("\r\n")[0] for h, _ in rec.heads] == \
        ["CONNECT [::1]:80 HTTP/1.1"] + ["GET /x HTTP/1.1"] * 3
    connect_lines = rec.heads[0][0].split("\r\n")
    assert "Host: [::1]:80" in connect_lines
    assert "Proxy-Authorization: Basic dTpw" in connect_lines
    # the tunnelled request carries no proxy credentials
    assert all("Proxy-Authorization" not in h for h, _ in rec.heads[1:])
    assert "Host: [::1]" in rec.heads[1][0].split("\r\n")


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks5_password_auth(scheme):
    rec = Recorder(socks=True)
    try:
        rc, j, err = bench_json("-n", 4, "-c", 2, "-x", f"{scheme}://alice:p%40ss@127.0.0.1:"
                                f"{rec.port}", "h1", "http://localhost:8080/s")
        assert rc == 0, err
        assert_all_ok(j, 4)
        # socks5 resolves locally and sends an address; socks5h sends the name
        want = "localhost" if scheme == "socks5h" else ("127.0.0.1", "::1")
        assert len(rec.socks_log) == 2
        for user, addr, port in rec.socks_log:
            assert user == "alice" and port == 8080
            assert addr == want if scheme == "socks5h" else addr in want
        rc, j, err = bench_json("-n", 2, "-x", f"{scheme}://alice:wrong@127.0.0.1:{rec.port}",
                                "h1", "http://localhost:8080/s")
        assert rc == 2 and j["errors"]["proxy"] == 2
    finally:
        rec.stop()


# ---- usage ----


@pytest.mark.parametrize("args", [
    [],
    ["h1"],
    ["h2", "http://127.0.0.1/"],
    ["h1", "ftp://127.0.0.1/"],
    ["h1", "http://127.0.0.1:99999/"],
    ["-c", "0", "h1", "http://127.0.0.1/"],
    ["-t", "soon", "h1", "http://127.0.0.1/"],
    ["--ok-status", "99", "h1", "http://127.0.0.1/"],
    ["-l", "-1s", "h1", "http://127.0.0.1/"],
    ["--bogus", "h1", "http://127.0.0.1/"],
    ["-x", "gopher://p:1", "h1", "http://127.0.0.1/"],
    ["-H", "no colon", "h1", "http://127.0.0.1/"],
    ["ssl", "127.0.0.1"],
    ["ssl", "http://127.0.0.1:443/"],
])
def test_usage_errors(args):
    rc, out, err = bench(*args)
    assert rc == 1
    assert out == ""
    assert "usage: g3bench" in err


def test_help():
    rc, out, err = bench("--help")
    assert rc == 0
    assert "usage: g3bench" in out and "--proxy-tunnel" in out
