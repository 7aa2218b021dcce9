"""mkcert certificates in real TLS handshakes: Python's ssl module (which
refuses CN-only certificates) as server and client, nginx serving a page to
curl, and mutual TLS with nginx verifying mkcert client certificates. All on
loopback; nginx runs in the foreground as one process and is stopped by PID."""

import os
import pathlib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from helpers import kill_pid, wait_for
from mkcert_util import chain_file, free_port, make_intermediate, make_leaf, make_root

HOST = "www.example.com"


class PyTLSServer:
    """Accepts TLS connections on loopback in a thread and answers "pong:" +
    what it read. Handshake errors are kept in .errors."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.errors = []
        self.peer_subjects = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(10)
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as s:
                    peer = s.getpeercert()
                    if peer:
                        self.peer_subjects.append(dict(x[0] for x in peer["subject"]))
                    s.sendall(b"pong:" + s.recv(100))
            except (ssl.SSLError, OSError) as e:
                self.errors.append(e)

    def close(self):
        self.stop = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def py_client(port, cafile, server_hostname, cert=None):
    ctx = ssl.create_default_context(cafile=str(cafile))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            s.sendall(b"ping")
            return s.recv(100)


@pytest.fixture
def pki(workdir):
    """root → intermediate → server (DNS, wildcard, IP SANs) and client."""
    root = make_root(workdir)
    inter = make_intermediate(workdir, root)
    server = make_leaf(workdir, inter, [HOST, "*.example.net", "127.0.0.1"], name="server")
    client = make_leaf(workdir, inter, ["client.example"], name="client", kind="--tls-client")
    return {
        "dir": workdir, "root": root, "inter": inter, "server": server, "client": client,
        "server_chain": chain_file(workdir / "server-chain.pem", server.cert, inter.cert),
        "client_chain": chain_file(workdir / "client-chain.pem", client.cert, inter.cert),
    }


@pytest.mark.parametrize("key", [("--rsa",), ("--ec256",), ("--ec384",), ("--ed25519",)],
                         ids=["rsa", "ec256", "ec384", "ed25519"])
def test_python_ssl_serves_and_verifies(workdir, key):
    root = make_root(workdir, key=key)
    inter = make_intermediate(workdir, root, key=key)
    server = make_leaf(workdir, inter, [HOST, "*.example.net", "127.0.0.1"], key=key)
    chain = chain_file(workdir / "chain.pem", server.cert, inter.cert)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(chain), str(server.key))
    srv = PyTLSServer(ctx)
    try:
        assert py_client(srv.port, root.cert, HOST) == b"pong:ping"
        assert py_client(srv.port, root.cert, "x.example.net") == b"pong:ping"
        assert py_client(srv.port, root.cert, "127.0.0.1") == b"pong:ping"
        with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
            py_client(srv.port, root.cert, "www.example.org")
        with pytest.raises(ssl.SSLCertVerificationError):
            py_client(srv.port, inter.cert, HOST)  # the intermediate is no trust anchor
    finally:
        srv.close()


def test_python_ssl_mutual_tls(pki):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki["server_chain"]), str(pki["server"].key))
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(pki["root"].cert))
    srv = PyTLSServer(ctx)
    try:
        client = (pki["client_chain"], pki["client"].key)
        assert py_client(srv.port, pki["root"].cert, HOST, cert=client) == b"pong:ping"
        assert srv.peer_subjects[-1]["commonName"] == "client.example"
        # a server certificate is not a client certificate (EKU serverAuth only)
        n = len(srv.errors)
        with pytest.raises((ssl.SSLError, OSError)):
            py_client(srv.port, pki["root"].cert, HOST,
                      cert=(pki["server_chain"], pki["server"].key))
        wait_for(lambda: len(srv.errors) > n, 5, what="server-side rejection")
        assert "unsuitable certificate purpose" in str(srv.errors[-1])
    finally:
        srv.close()


# ---- nginx + curl ----

NGINX_CONF = """\
daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name {host};
        ssl_certificate {chain};
        ssl_certificate_key {key};
{extra}
        location / {{ return 200 "hello from nginx [$ssl_client_s_dn]\\n"; }}
    }}
}}
"""


class Nginx:
    def __init__(self, d, chain, key, extra=""):
        self.dir = pathlib.Path(d) / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(d=self.dir, port=self.port, host=HOST, chain=chain,
                                          key=key, extra=extra))
        self.proc = subprocess.Popen(["nginx", "-p", str(self.dir), "-c", str(conf),
                                      "-e", str(self.dir / "error.log")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        wait_for(self.ready, 10, what="nginx listening")

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"nginx exited {self.proc.returncode}: "
                                 f"{self.proc.stderr.read().decode(errors='replace')}\n"
                                 f"{(self.dir / 'error.log').read_text(errors='replace')}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            kill_pid(self.proc.pid)
            self.proc.wait(5)
        self.proc.stderr.close()


@pytest.fixture
def nginx_factory():
    started = []

    def start(*args, **kw):
        n = Nginx(*args, **kw)
        started.append(n)
        return n
    yield start
    for n in started:
        n.stop()


def curl(port, *opts, host=HOST):
    env = {k: v for k, v in os.environ.items()
           if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")}
    argv = ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", "--resolve",
            f"{host}:{port}:127.0.0.1", *[str(o) for o in opts], f"https://{host}:{port}/"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
    body, _, code = r.stdout.rpartition("\n")
    return r.returncode, code, body.strip(), r.stderr


def test_nginx_serves_mkcert_chain(pki, nginx_factory):
    n = nginx_factory(pki["dir"], pki["server_chain"], pki["server"].key)
    rc, code, body, err = curl(n.port, "--cacert", pki["root"].cert)
    assert (rc, code) == (0, "200"), err
    assert body == "hello from nginx []"
    rc, code, body, err = curl(n.port, "--cacert", pki["root"].cert, host="api.example.net")
    assert (rc, code) == (0, "200"), err
    # the system trust store does not know our root
    rc, _, _, err = curl(n.port)
    assert rc == 60, err
    assert "certificate" in err
    # nor does curl accept a name the certificate does not carry
    rc, _, _, err = curl(n.port, "--cacert", pki["root"].cert, host="www.example.org")
    assert rc == 60, err
    assert "no alternative certificate subject name matches" in err


def test_nginx_mutual_tls(pki, nginx_factory):
    other_root = make_root(pki["dir"], name="other-root")
    stranger = make_leaf(pki["dir"], other_root, ["stranger.example"], name="stranger",
                         kind="--tls-client")
    bundle = chain_file(pki["dir"] / "client-ca.pem", pki["root"].cert, pki["inter"].cert)
    extra = (f"        ssl_client_certificate {bundle};\n"
             "        ssl_verify_client on;\n"
             "        ssl_verify_depth 2;\n")
    n = nginx_factory(pki["dir"], pki["server_chain"], pki["server"].key, extra=extra)
    rc, code, body, err = curl(n.port, "--cacert", pki["root"].cert, "--cert",
                               pki["client"].cert, "--key", pki["client"].key)
    assert (rc, code) == (0, "200"), err
    assert body == "hello from nginx [CN=client.example]"
    rc, code, body, err = curl(n.port, "--cacert", pki["root"].cert)
    assert (rc, code) == (0, "400"), err
    assert "No required SSL certificate was sent" in body
    rc, code, body, err = curl(n.port, "--cacert", pki["root"].cert, "--cert", stranger.cert,
                               "--key", stranger.key)
    assert code == "400" and "The SSL certificate error" in body, (rc, err)
    time.sleep(0.1)
    log = (n.dir / "error.log").read_text(errors="replace")
    assert "client SSL certificate verify error" in log
