"""Helpers for the fcgend integration tests: a CA made with mkcert, fcgend
started on a test's work dir, the fcgen-load client, and the three
independent verifiers (openssl verify, gnutls certtool, Python's ssl)."""

import json
import pathlib
import re
import socket
import ssl
import subprocess
import threading

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from helpers import binary
from mkcert_util import make_root

FCGEND_CONF = """\
runtime:
  server_offline_delay: 0
  task_wait_delay: 0
log: discard
backend:
  ca_certificate: {ca_cert}
  ca_private_key: {ca_key}
{extra}
"""

RUN_TIMEOUT = 60


def run(argv, timeout=RUN_TIMEOUT, **kw):
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                          timeout=timeout, **kw)


def make_ca(workdir, name="fcgen-ca", key=("--ec256",)):
    """An interception CA made with mkcert (Pair with .cert, .key)."""
    d = pathlib.Path(workdir) / name
    d.mkdir(exist_ok=True)
    return make_root(d, name="ca", key=key, cn=f"g3c {name}")


def write_fcgend_conf(workdir, ca_cert, ca_key, extra="", name="fcgend.yaml"):
    path = pathlib.Path(workdir) / name
    path.write_text(FCGEND_CONF.format(ca_cert=ca_cert, ca_key=ca_key, extra=extra))
    return path


def start_fcgend(daemon_factory, workdir, ca, extra="", group="test"):
    """Start fcgend with CA `ca`; returns the Daemon with .conf and .rpc_url."""
    d = daemon_factory("fcgend", group=group)
    d.conf = write_fcgend_conf(workdir, ca.cert, ca.key, extra)
    d.start(d.conf)
    suffix = f"_{group}" if group else ""
    d.rpc_url = f"ipc://{workdir}/fcgend{suffix}.rpc"
    return d


def load(url, *args, timeout=RUN_TIMEOUT):
    """Run fcgen-load against url; returns (exit status, parsed JSON)."""
    r = run([binary("fcgen-load"), "--url", url, *args], timeout=timeout)
    try:
        out = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"fcgen-load printed no JSON (exit {r.returncode}):\n"
                             f"{r.stdout}\n{r.stderr}") from None
    return r.returncode, out


def load_popen(url, *args):
    """Start fcgen-load in the background (caller waits and parses)."""
    return subprocess.Popen([binary("fcgen-load"), "--url", url, *[str(a) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_chain(path):
    """Every certificate of a PEM file, leaf first."""
    text = pathlib.Path(path).read_text()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text,
                        re.S)
    return [x509.load_pem_x509_certificate(b.encode()) for b in blocks]


def read_key(path):
    return serialization.load_pem_private_key(pathlib.Path(path).read_bytes(), password=None)


def ext(cert, cls):
    """The extension of type cls, or None."""
    try:
        return cert.extensions.get_extension_for_class(cls)
    except x509.ExtensionNotFound:
        return None


# ---- verifiers -----------------------------------------------------------------------

def openssl_verify(ca, chain, host=None, ip=None):
    """`openssl verify -x509_strict -purpose sslserver` of the leaf in chain
    against CA file ca, with the rest of the chain as untrusted."""
    chain = pathlib.Path(chain)
    certs = read_chain(chain)
    leaf = chain.with_suffix(".leaf.pem")
    leaf.write_bytes(certs[0].public_bytes(serialization.Encoding.PEM))
    argv = ["openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", ca]
    if len(certs) > 1:
        argv += ["-untrusted", chain]
    if host:
        argv += ["-verify_hostname", host]
    if ip:
        argv += ["-verify_ip", ip]
    r = run(argv + [leaf])
    assert r.returncode == 0 and r.stdout.strip().endswith(": OK"), \
        f"openssl verify failed for {chain} ({host or ip}):\n{r.stdout}{r.stderr}"


def certtool_verify(ca, chain, host=None):
    """gnutls: certtool --verify of the chain against ca (serverAuth purpose)."""
    argv = ["certtool", "--verify", "--load-ca-certificate", ca, "--infile", chain,
            "--verify-purpose", "1.3.6.1.5.5.7.3.1"]
    if host:
        argv += ["--verify-hostname", host]
    r = run(argv)
    assert r.returncode == 0 and "Chain verification output: Verified" in r.stdout, \
        f"certtool --verify failed for {chain} ({host}):\n{r.stdout}{r.stderr}"


def python_tls(ca, chain, key, hostname, strict=True):
    """Serve one TLS connection with (chain, key) using Python's ssl and
    connect to it with the CA and check_hostname=True. Returns the bytes the
    client read; raises ssl.SSLError when the client refuses the server."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(str(chain), str(key))
    cctx = ssl.create_default_context(cafile=str(ca))
    assert cctx.check_hostname and cctx.verify_mode == ssl.CERT_REQUIRED
    if strict:
        cctx.verify_flags |= ssl.VERIFY_X509_STRICT
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(10)
    errors = []

    def serve():
        try:
            conn, _ = srv.accept()
            conn.settimeout(10)
            with sctx.wrap_socket(conn, server_side=True) as s:
                s.sendall(b"hello from the forged certificate")
        except (ssl.SSLError, OSError) as e:
            errors.append(e)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        with socket.create_connection(srv.getsockname(), timeout=10) as raw:
            with cctx.wrap_socket(raw, server_hostname=hostname) as c:
                data = b""
                while len(data) < 33:
                    chunk = c.recv(64)
                    if not chunk:
                        break
                    data += chunk
                return data
    finally:
        t.join(10)
        srv.close()


def verify_all(ca, chain, key, host):
    """openssl (strict, sslserver, hostname), certtool and Python ssl."""
    is_ip = host.replace(".", "").isdigit() or ":" in host
    openssl_verify(ca, chain, host=None if is_ip else host, ip=host if is_ip else None)
    certtool_verify(ca, chain, host=host)
    assert python_tls(ca, chain, key, host) == b"hello from the forged certificate"
