"""fcgend as an operator and a client see it: -t, `g3ctl forge` writing
files, every forged certificate accepted by openssl verify -x509_strict,
gnutls certtool and Python's ssl (hostname checked); mimicry of upstream
certificates made with mkcert and openssl compared field by field; the
Forge RPC's answers to bad input; status, metrics, reload, stop."""

import json
import os
import pathlib
import re
import signal
import socket
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from fcgend_helpers import (FCGEND_CONF, ext, load, load_popen, make_ca, openssl_verify,
                            read_chain, read_key, run, start_fcgend, verify_all,
                            write_fcgend_conf)
from helpers import binary
from mkcert_util import make_intermediate, make_leaf, make_root


@pytest.fixture
def ca(workdir):
    return make_ca(workdir)


@pytest.fixture
def fcgend(daemon_factory, workdir, ca):
    return start_fcgend(daemon_factory, workdir, ca)


@pytest.fixture
def outdir(workdir):
    d = workdir / "out"
    d.mkdir()
    return d


def forge(daemon, host, *args, out=None, check=True):
    """g3ctl -d fcgend forge; returns (CompletedProcess, JSON or None)."""
    argv = ["forge", host, *[str(a) for a in args]]
    if out:
        argv += ["--out", str(out)]
    r = daemon.ctl.run(*argv, json_out=True)
    if check:
        assert r.returncode == 0, f"g3ctl forge {host} exited {r.returncode}: {r.stderr}"
    return r, (json.loads(r.stdout) if r.returncode == 0 else None)


# ---- configuration check ------------------------------------------------------------

def test_check_config_good_and_bad(workdir, ca):
    good = write_fcgend_conf(workdir, ca.cert, ca.key)
    r = run([binary("fcgend"), "-t", "-c", good])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{good}: configuration OK\n"

    other = make_ca(workdir, name="other-ca")
    bad = write_fcgend_conf(workdir, ca.cert, other.key, name="bad.yaml")
    r = run([binary("fcgend"), "-t", "-c", bad])
    assert r.returncode == 1
    assert (f"{bad}:6:19: error: backend.ca_certificate: the private key does not match the "
            "first certificate (the signing CA)") in r.stderr.splitlines()

    typo = write_fcgend_conf(workdir, ca.cert, ca.key, extra="  keep_serials: true\n",
                             name="typo.yaml")
    r = run([binary("fcgend"), "-t", "-c", typo])
    assert r.returncode == 1
    assert f"{typo}:8:3: error: backend: unknown key 'keep_serials'" in r.stderr.splitlines()


# ---- plain certificates -----------------------------------------------------------------

@pytest.mark.parametrize("host,flags", [
    ("www.example.com", ()),
    ("192.0.2.44", ()),
    ("2001:db8::44", ()),
    ("api.shop.example", ("--wildcard",)),
    ("*.cdn.example", ()),
])
def test_forge_files_verify_everywhere(fcgend, ca, outdir, host, flags):
    r, info = forge(fcgend, host, *flags, out=outdir)
    stem = host.replace("*", "_")
    crt, key = outdir / f"{stem}.crt", outdir / f"{stem}.key"
    assert info["certificate_file"] == str(crt) and info["key_file"] == str(key)
    assert os.stat(key).st_mode & 0o777 == 0o600
    chain = read_chain(crt)
    assert len(chain) == 2  # the leaf, then the CA
    assert chain[1].subject == read_chain(ca.cert)[0].subject
    leaf = chain[0]
    assert leaf.version == x509.Version.v3
    assert leaf.serial_number.bit_length() == 128
    assert read_key(key).public_key().public_numbers() == leaf.public_key().public_numbers()
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    names = ext(leaf, x509.SubjectAlternativeName).value
    check_host = host
    if host.startswith("*."):
        check_host = "img" + host[1:]
    if "--wildcard" in flags:
        assert names.get_values_for_type(x509.DNSName) == [host, "*.shop.example"]
        verify_all(ca.cert, crt, key, "other.shop.example")
    assert ext(leaf, x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH])
    assert ext(leaf, x509.BasicConstraints).value.ca is False
    assert ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(chain[1], x509.SubjectKeyIdentifier).value.digest
    assert info["names"] and info["key_type"] == "ec256" and info["chain_length"] == 2
    verify_all(ca.cert, crt, key, check_host)


def test_forge_summary_and_cache(fcgend, ca):
    r = fcgend.ctl.run("forge", "summary.example.org")
    assert r.returncode == 0, r.stderr
    lines = dict(re.findall(r"^(\w+):\s+(.*)$", r.stdout, re.M))
    assert lines["host"] == "summary.example.org"
    assert lines["subject"] == "CN=summary.example.org"
    assert lines["issuer"] == "CN=g3c fcgen-ca"
    assert lines["cached"] == "no"
    assert lines["ttl_s"] == "86400"
    assert "  - DNS:summary.example.org" in r.stdout.splitlines()
    # The second answer comes from the cache: the same certificate.
    _, a = forge(fcgend, "cached.example.org")
    _, b = forge(fcgend, "CACHED.example.org")
    assert a["cached"] is False and b["cached"] is True
    assert a["serial"] == b["serial"]
    st = fcgend.ctl.status()["counters"]
    assert st["requests"] == 3 and st["cache_hits"] == 1 and st["generated"] == 2
    assert st["errors"] == 0


# ---- mimic ------------------------------------------------------------------------------

def openssl_cert(workdir, name, key_args, subj, addext, days=90):
    """A self-signed upstream certificate made with `openssl req -x509`."""
    crt = workdir / f"{name}.crt"
    argv = ["openssl", "req", "-x509", *key_args, "-nodes", "-keyout", workdir / f"{name}.key",
            "-out", crt, "-days", str(days), "-subj", subj]
    for e in addext:
        argv += ["-addext", e]
    r = run(argv)
    assert r.returncode == 0, r.stderr
    return crt


def upstreams(workdir):
    """(name, cert path, a host it names) for real-world-shaped upstreams."""
    d = workdir / "up"
    d.mkdir()
    root = make_root(d, name="uproot", key=("--rsa", "2048"), cn="Upstream Root")
    out = []
    p = make_leaf(d, root, ["www.example.net", "example.net", "*.static.example.net",
                            "198.51.100.20"], name="mk-rsa", key=("--rsa", "3072"),
                  extra=("--organization", "Example Net Ltd", "--country", "US"))
    out.append(("mkcert rsa multi-san", p.cert, "img.static.example.net"))
    p = make_leaf(d, root, ["*.shop.example", "shop.example"], name="mk-ec384",
                  key=("--ec384",))
    out.append(("mkcert ec384 wildcard", p.cert, "cart.shop.example"))
    p = make_leaf(d, root, ["203.0.113.80"], name="mk-ip", key=("--ec256",))
    out.append(("mkcert ip san", p.cert, "203.0.113.80"))
    p = make_leaf(d, root, ["ed.example"], name="mk-ed", key=("--ed25519",))
    out.append(("mkcert ed25519", p.cert, "ed.example"))
    crt = openssl_cert(d, "os-noeku", ["-newkey", "rsa:2048"], "/O=Legacy/CN=legacy.example",
                       ["subjectAltName=DNS:legacy.example,DNS:www.legacy.example",
                        "keyUsage=critical,digitalSignature,keyEncipherment",
                        "basicConstraints=critical,CA:FALSE"])
    out.append(("openssl rsa without eku", crt, "www.legacy.example"))
    crt = openssl_cert(d, "os-ec-client", ["-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:P-256"],
                       "/C=DE/O=Mixed/CN=mixed.example",
                       ["subjectAltName=DNS:mixed.example,IP:192.0.2.80,IP:2001:db8::80",
                        "extendedKeyUsage=clientAuth", "basicConstraints=CA:FALSE"])
    out.append(("openssl ec clientAuth only", crt, "mixed.example"))
    return out


def test_mimic_field_by_field(fcgend, ca, workdir, outdir):
    ca_cert = read_chain(ca.cert)[0]
    for name, up_path, host in upstreams(workdir):
        up = read_chain(up_path)[0]
        sub = outdir / re.sub(r"\W+", "-", name)
        sub.mkdir()
        _, info = forge(fcgend, host, "--upstream", up_path, out=sub)
        stem = host.replace("*", "_")
        crt, key = sub / f"{stem}.crt", sub / f"{stem}.key"
        leaf = read_chain(crt)[0]
        # Subject and every SAN entry, as they were.
        assert leaf.subject == up.subject, name
        assert ext(leaf, x509.SubjectAlternativeName).value == \
            ext(up, x509.SubjectAlternativeName).value, name
        assert ext(leaf, x509.SubjectAlternativeName).critical is False, name
        # Validity: the upstream's, clamped to the CA's.
        assert leaf.not_valid_before == max(up.not_valid_before, ca_cert.not_valid_before)
        assert leaf.not_valid_after == min(up.not_valid_after, ca_cert.not_valid_after)
        # Key usage copied when present; EKU copied with serverAuth added.
        up_ku, leaf_ku = ext(up, x509.KeyUsage), ext(leaf, x509.KeyUsage)
        if up_ku:
            assert leaf_ku.value == up_ku.value and leaf_ku.critical == up_ku.critical, name
        else:
            assert leaf_ku.value.digital_signature, name
        up_eku = ext(up, x509.ExtendedKeyUsage)
        want = list(up_eku.value) if up_eku else []
        if ExtendedKeyUsageOID.SERVER_AUTH not in want:
            want.append(ExtendedKeyUsageOID.SERVER_AUTH)
        assert list(ext(leaf, x509.ExtendedKeyUsage).value) == want, name
        # Key type: RSA → 2048, EC → P-256, Ed25519 kept.
        upk, lk = up.public_key(), leaf.public_key()
        if isinstance(upk, rsa.RSAPublicKey):
            assert isinstance(lk, rsa.RSAPublicKey) and lk.key_size == 2048, name
        elif isinstance(upk, ec.EllipticCurvePublicKey):
            assert isinstance(lk, ec.EllipticCurvePublicKey), name
            assert lk.curve.name == "secp256r1", name
        else:
            assert isinstance(upk, ed25519.Ed25519PublicKey)
            assert isinstance(lk, ed25519.Ed25519PublicKey), name
        # Issued by the CA, a fresh serial, SKID/AKID, and no other upstream extension.
        assert leaf.issuer == ca_cert.subject
        assert leaf.serial_number != up.serial_number
        assert ext(leaf, x509.SubjectKeyIdentifier) is not None
        assert ext(leaf, x509.AuthorityKeyIdentifier).value.key_identifier == \
            ext(ca_cert, x509.SubjectKeyIdentifier).value.digest
        assert ext(leaf, x509.AuthorityInformationAccess) is None
        assert info["cached"] is False
        verify_all(ca.cert, crt, key, host)


def test_intermediate_chain_and_no_append(daemon_factory, workdir, outdir):
    d = workdir / "pki"
    d.mkdir()
    root = make_root(d, name="root", cn="Interception Root")
    inter = make_intermediate(d, root, name="inter")
    ca_list = f"[{inter.cert}, {root.cert}]"
    daemon = daemon_factory("fcgend", group="chain")
    daemon.conf = write_fcgend_conf(workdir, ca_list, inter.key, name="chain.yaml")
    daemon.start(daemon.conf)
    forge(daemon, "deep.example", out=outdir)
    chain = read_chain(outdir / "deep.example.crt")
    assert [c.subject.rfc4514_string() for c in chain[1:]] == \
        ["CN=g3c test inter", "CN=Interception Root"]
    # Trusting only the root: the intermediate comes from the chain we sent.
    verify_all(root.cert, outdir / "deep.example.crt", outdir / "deep.example.key",
               "deep.example")
    daemon.kill()

    daemon = daemon_factory("fcgend", group="alone")
    daemon.conf = write_fcgend_conf(workdir, root.cert, root.key,
                                    extra="  no_append_ca_cert: true\n", name="alone.yaml")
    daemon.start(daemon.conf)
    alone = workdir / "alone"
    alone.mkdir()
    _, info = forge(daemon, "alone.example", out=alone)
    assert info["chain_length"] == 1
    assert len(read_chain(alone / "alone.example.crt")) == 1
    openssl_verify(root.cert, alone / "alone.example.crt", host="alone.example")


# ---- bad input --------------------------------------------------------------------------

def test_bad_input_over_rpc(fcgend, workdir):
    junk = workdir / "junk.der"
    junk.write_bytes(b"\x30\x82\x04\x00 this is not a certificate")
    cases = [
        (["--host", ""], "INVALID_ARGUMENT", "empty host"),
        (["--host", "a" * 300], "INVALID_ARGUMENT", "host too long (300 bytes, at most 253)"),
        (["--host", "bad host.example"], "INVALID_ARGUMENT",
         "invalid character 0x20 at offset 3 (DNS names use letters, digits, '-', '_' and "
         "A-labels for IDNs)"),
        (["--host", "x.example", "--upstream", str(junk)], "INVALID_ARGUMENT",
         "invalid upstream certificate: not DER X.509 (too long)"),
        (["--host", "x.example", "--usage", "7"], "INVALID_ARGUMENT", "unknown usage 7"),
        (["--host", "x.example", "--service", "9"], "INVALID_ARGUMENT", "unknown service 9"),
        (["--host", "example.com", "--wildcard"], "INVALID_ARGUMENT",
         "a wildcard for 'example.com' would cover a top-level domain: it needs three labels"),
    ]
    for args, code, msg in cases:
        status, out = load(fcgend.rpc_url, "--once", *args)
        assert status == 1, (args, out)
        assert out == {"code": code, "message": msg}, args
    # The daemon is still there and counted every refusal.
    status, out = load(fcgend.rpc_url, "--once", "--host", "fine.example")
    assert status == 0 and out["code"] == "OK" and out["chain"] == 2
    st = fcgend.ctl.status()["counters"]
    assert st["invalid"] == len(cases) and st["errors"] == len(cases) and st["ok"] == 1


def test_bad_input_over_ctl(fcgend, workdir):
    r = fcgend.ctl.run("forge", "")
    assert r.returncode == 1
    assert r.stderr == "g3ctl: fcgend forge: empty host (INVALID_ARGUMENT)\n"
    d = workdir / "old"
    d.mkdir()
    root = make_root(d, name="oldroot")
    expired = make_leaf(d, root, ["old.example"], name="expired",
                        extra=("--not-before", "-10d", "--not-after", "-1d"))
    r = fcgend.ctl.run("forge", "old.example", "--upstream", str(expired.cert))
    assert r.returncode == 1
    assert re.fullmatch(r"g3ctl: fcgend forge: the upstream certificate expired at "
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(FAILED_PRECONDITION\)\n", r.stderr)
    r = fcgend.ctl.run("forge", "x.example", "--bogus")
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr


# ---- status, metrics, reload, stop --------------------------------------------------------

def test_status_counters_and_statsd(daemon_factory, workdir, ca):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    port = sock.getsockname()[1]
    extra = ("  key_pool: {ec256: 4, rsa2048: 0, ed25519: 0, ed448: 0}\n"
             f"stat:\n  target: {{udp: 127.0.0.1:{port}}}\n  emit_interval: 100ms\n")
    d = start_fcgend(daemon_factory, workdir, ca, extra=extra)
    for i in range(6):
        status, _ = load(d.rpc_url, "--once", "--host", f"m{i}.example")
        assert status == 0
    load(d.rpc_url, "--once", "--host", "m0.example")
    load(d.rpc_url, "--once", "--host", "")
    lines = []
    deadline = time.monotonic() + 5
    want = {"g3fcgen.frontend.request_total", "g3fcgen.backend.request_ok",
            "g3fcgen.backend.request_duration", "g3fcgen.cache.hit", "g3fcgen.key_pool.level"}
    while time.monotonic() < deadline:
        try:
            lines += sock.recv(65536).decode().splitlines()
        except socket.timeout:
            pass
        if want <= {ln.split(":")[0] for ln in lines} and \
                any("quantile:0.99" in ln for ln in lines):
            break
    sock.close()
    names = {ln.split(":")[0] for ln in lines}
    assert want <= names, names

    def total(name):
        return sum(int(ln.split(":")[1].split("|")[0]) for ln in lines
                   if ln.split(":")[0] == name)
    assert total("g3fcgen.frontend.request_total") == 8
    assert total("g3fcgen.frontend.response_fail") == 1
    assert total("g3fcgen.backend.request_ok") == 6
    assert total("g3fcgen.cache.hit") == 1
    assert any(ln.startswith("g3fcgen.key_pool.level:") and "key_type:ec256" in ln
               for ln in lines)
    assert any(ln.startswith("g3fcgen.backend.request_duration:") and "quantile:0.99" in ln
               for ln in lines)
    st = d.ctl.status()["counters"]
    for k in ("requests", "cache_hits", "generated", "errors", "key_pool_ec256",
              "key_pool_rsa2048", "keys_inline", "latency_last_us", "latency_avg_us"):
        assert k in st, k
    assert st["requests"] == 8 and st["generated"] == 6 and st["errors"] == 1
    assert 0 < st["key_pool_ec256"] <= 4


def test_reload_keeps_serving(daemon_factory, workdir, ca):
    """Reloads while forging at full speed: no call fails or times out;
    the new settings apply; the unchanged CA keeps the cache."""
    big = "  cache_size: 1000000\n"
    d = start_fcgend(daemon_factory, workdir, ca, extra=big)
    status, first = load(d.rpc_url, "--once", "--host", "kept.example")
    assert status == 0 and first["cached"] is False
    p = load_popen(d.rpc_url, "--duration", "4", "--concurrency", "8", "--deadline", "2000",
                   "--unique", "--host", "reload.example")
    time.sleep(0.5)
    d.conf.write_text(FCGEND_CONF.format(ca_cert=ca.cert, ca_key=ca.key,
                                         extra=big + "  max_ttl: 1h\n"))
    for _ in range(3):
        r = d.ctl.run("reload")
        assert r.returncode == 0, r.stderr
        time.sleep(0.3)
    # A broken file changes nothing.
    d.conf.write_text("backend: [\n")
    r = d.ctl.run("reload")
    assert r.returncode == 1
    out, err = p.communicate(timeout=30)
    res = json.loads(out)
    assert p.returncode == 0, res
    assert res["timeouts"] == 0 and res["errors"] == 0 and res["ok"] > 0
    status, one = load(d.rpc_url, "--once", "--host", "after-reload.example")
    assert status == 0 and one["ttl"] == 3600
    # The CA did not change: certificates cached before the reloads are kept.
    status, again = load(d.rpc_url, "--once", "--host", "kept.example")
    assert status == 0 and again["cached"] is True
    assert d.ctl.status()["reloads_ok"] == 3


def test_graceful_stop_removes_socket(fcgend, workdir):
    sock = workdir / "fcgend_test.rpc"
    assert sock.exists()
    fcgend.signal(signal.SIGTERM)
    assert fcgend.wait_exit(10) == 0
    assert not sock.exists()


def test_rpc_socket_from_config(daemon_factory, workdir, ca):
    extra = "rpc:\n  listen: custom.rpc\n"
    d = start_fcgend(daemon_factory, workdir, ca, extra=extra)
    status, out = load(f"ipc://{workdir}/custom.rpc", "--once", "--host", "c.example")
    assert status == 0 and out["code"] == "OK"
    assert not (workdir / "fcgend_test.rpc").exists()
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0


# ---- make run --------------------------------------------------------------------------

def test_make_run_init_and_config(workdir):
    """deploy/fcgend/init.sh makes the demo CA once; deploy/fcgend/default.yaml,
    placed as run.sh uses it (deploy/ next to run/), loads with it."""
    repo = pathlib.Path(__file__).resolve().parent.parent
    (workdir / "deploy" / "fcgend").mkdir(parents=True)
    conf = workdir / "deploy" / "fcgend" / "default.yaml"
    conf.write_text((repo / "deploy" / "fcgend" / "default.yaml").read_text())
    build = pathlib.Path(binary("mkcert")).parent.parent
    init = ["sh", repo / "deploy" / "fcgend" / "init.sh", build, workdir / "run"]
    r = run(init)
    assert r.returncode == 0, r.stderr
    crt, key = workdir / "run" / "fcgend" / "ca.crt", workdir / "run" / "fcgend" / "ca.key"
    assert os.stat(key).st_mode & 0o777 == 0o600
    ca = read_chain(crt)[0]
    assert ext(ca, x509.BasicConstraints).value.ca is True
    before = (crt.read_bytes(), key.read_bytes())
    r = run(init)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    assert (crt.read_bytes(), key.read_bytes()) == before
    r = run([binary("fcgend"), "-t", "-c", conf])
    assert r.returncode == 0, r.stderr
