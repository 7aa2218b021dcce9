"""Helpers for the iplocd integration tests: building .mmdb files with the
project's Perl writer (deploy/mmdb/build-demo-db.pl), listing a database's
networks with MaxMind's pure-Perl reader (an implementation independent of
libmaxminddb), starting iplocd on a work dir, and running iplocd-load."""

import ipaddress
import json
import os
import pathlib
import shutil
import subprocess

import pytest

from helpers import REPO, binary

BUILDER = REPO / "deploy" / "mmdb" / "build-demo-db.pl"
NETWORKS = pathlib.Path(__file__).resolve().parent / "mmdb_networks.pl"
# MaxMind's published test databases, next to the repository on the
# project's machines and in CI; absent from a user's clone.
TESTDATA = (REPO / ".." / "shared" / "testdata" / "mmdb").resolve()


def _perl_has(module):
    if not shutil.which("perl"):
        return False
    return subprocess.run(["perl", f"-M{module}", "-e", "1"],
                          capture_output=True).returncode == 0


HAVE_WRITER = _perl_has("MaxMind::DB::Writer::Tree")
HAVE_READER = _perl_has("MaxMind::DB::Reader")

need_writer = pytest.mark.skipif(
    not HAVE_WRITER, reason="perl with MaxMind::DB::Writer missing (libmaxmind-db-writer-perl)")
need_reader = pytest.mark.skipif(
    not HAVE_READER, reason="perl with MaxMind::DB::Reader missing (libmaxmind-db-reader-perl)")
need_testdata = pytest.mark.skipif(
    not TESTDATA.is_dir(), reason=f"{TESTDATA} not found (MaxMind test data is not part of "
    "the repository)")


def build_db(path, *args):
    """Write a demo database to path (atomically: the builder renames)."""
    subprocess.run(["perl", str(BUILDER), *args, str(path)], check=True, timeout=60)
    return path


def networks(path):
    """[(ipaddress network, record dict)] for every data record of the
    database at path, as MaxMind::DB::Reader (pure Perl) sees them."""
    r = subprocess.run(["perl", str(NETWORKS), str(path)], capture_output=True, text=True,
                       timeout=300, check=True)
    out = []
    for line in r.stdout.splitlines():
        d = json.loads(line)
        out.append((ipaddress.ip_network(d["network"]), d["record"]))
    return out


def conf_text(dbs, extra=""):
    """An iplocd config with dbs = {kind: path} and no shutdown delays."""
    lines = ["geoip_db:"] + [f"  {k}: {v}" for k, v in dbs.items()]
    lines += ["runtime:", "  server_offline_delay: 0", "  task_wait_delay: 0", "log: discard"]
    return "\n".join(lines) + "\n" + extra


def rpc_url(workdir, group="test"):
    name = f"iplocd_{group}.rpc" if group else "iplocd.rpc"
    return f"ipc://{os.path.join(str(workdir), name)}"


def load(url, ips, total=1000, inflight=64, batch=1, timeout_ms=20000):
    """Run iplocd-load over RPC; returns (exit status, parsed JSON summary)."""
    argv = [binary("iplocd-load"), "rpc", url, "-n", str(total), "-c", str(inflight),
            "-b", str(batch), "-t", str(timeout_ms), *ips]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return r.returncode, json.loads(r.stdout)


def load_popen(url, ips, total, inflight):
    argv = [binary("iplocd-load"), "rpc", url, "-n", str(total), "-c", str(inflight),
            "-t", "30000", *ips]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def first_last(net):
    return str(net.network_address), str(net.broadcast_address)


def assert_no_sanitizer_report(text):
    """A sanitizer build exits 1 on a memory error too: an expected exit 1
    must not hide one."""
    assert "Sanitizer" not in text and "runtime error:" not in text, text
