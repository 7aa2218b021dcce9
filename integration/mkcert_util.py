"""Helpers for tests that need certificates: run $G3C_BUILD/bin/mkcert and
make the usual root → intermediate → leaf sets in a test's temp dir. Keys
made here never leave that dir."""

import pathlib
import socket
import subprocess

from helpers import binary

MKCERT_TIMEOUT = 60


def mkcert(*args, cwd=None, check=True):
    """Run mkcert with args (str or Path); returns the CompletedProcess.
    With check, a non-zero exit fails the test with mkcert's stderr."""
    argv = [binary("mkcert")] + [str(a) for a in args]
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=MKCERT_TIMEOUT)
    if check and r.returncode != 0:
        raise AssertionError(f"mkcert {' '.join(argv[1:])} exited {r.returncode}:\n{r.stderr}")
    return r


class Pair:
    """A certificate file and its key file."""

    def __init__(self, cert, key):
        self.cert = pathlib.Path(cert)
        self.key = pathlib.Path(key)

    def __repr__(self):
        return f"Pair({self.cert}, {self.key})"


def make_root(d, name="root", key=("--ec256",), cn=None, extra=()):
    d = pathlib.Path(d)
    p = Pair(d / f"{name}.crt", d / f"{name}.key")
    mkcert("--root", "--common-name", cn or f"g3c test {name}", *key, *extra,
           "--output-cert", p.cert, "--output-key", p.key)
    return p


def make_intermediate(d, issuer, name="inter", key=("--ec256",), extra=()):
    d = pathlib.Path(d)
    p = Pair(d / f"{name}.crt", d / f"{name}.key")
    mkcert("--intermediate", "--common-name", f"g3c test {name}", *key, *extra,
           "--ca-cert", issuer.cert, "--ca-key", issuer.key,
           "--output-cert", p.cert, "--output-key", p.key)
    return p


def make_leaf(d, issuer, hosts, name="leaf", kind="--tls-server", key=("--ec256",), extra=()):
    d = pathlib.Path(d)
    p = Pair(d / f"{name}.crt", d / f"{name}.key")
    args = [kind, *key, *extra, "--ca-cert", issuer.cert, "--ca-key", issuer.key,
            "--output-cert", p.cert, "--output-key", p.key]
    for h in hosts:
        args += ["--host", h]
    mkcert(*args)
    return p


def chain_file(path, *certs):
    """Concatenate PEM files (leaf first) into path; returns path."""
    path = pathlib.Path(path)
    path.write_text("".join(pathlib.Path(c).read_text() for c in certs))
    return path


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
