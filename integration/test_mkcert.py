"""mkcert end to end: chains for every key type checked by openssl verify and
gnutls certtool, certificate fields read back with python-cryptography, file
names and modes, path lengths, validity options, error exits, and --mimic of
certificates made by `openssl req`. TLS handshakes (python ssl, nginx, curl)
are in test_mkcert_tls.py."""

import datetime
import ipaddress
import os
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mkcert_util import chain_file, make_intermediate, make_leaf, make_root, mkcert

KEY_TYPES = {
    "rsa2048": ("--rsa",),
    "rsa4096": ("--rsa", "4096"),
    "ec224": ("--ec224",),
    "ec256": ("--ec256",),
    "ec384": ("--ec384",),
    "ec521": ("--ec521",),
    "ed25519": ("--ed25519",),
    "ed448": ("--ed448",),
    "sm2": ("--sm2",),
}
SERVER_HOSTS = ["www.example.com", "*.example.net", "127.0.0.1", "::1"]
DAY = datetime.timedelta(days=1)


def load(path):
    return x509.load_pem_x509_certificate(open(path, "rb").read())


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


def has_ext(cert, cls):
    try:
        cert.extensions.get_extension_for_class(cls)
        return True
    except x509.ExtensionNotFound:
        return False


def ossl_verify(root, leaf, *opts, untrusted=None):
    argv = ["openssl", "verify", "-x509_strict", "-CAfile", str(root)]
    if untrusted:
        argv += ["-untrusted", str(untrusted)]
    argv += list(opts) + [str(leaf)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


def certtool_verify(root, chain, hostname=None):
    argv = ["certtool", "--verify", "--load-ca-certificate", str(root), "--infile", str(chain)]
    if hostname:
        argv += ["--verify-hostname", hostname]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return r.returncode == 0 and "Chain verification output: Verified" in r.stdout, r.stdout


def now():
    return datetime.datetime.utcnow()


def near(a, b, slack=datetime.timedelta(minutes=5)):
    return abs(a - b) <= slack


@pytest.mark.parametrize("kt", list(KEY_TYPES))
def test_chain_verifies_for_every_key_type(workdir, kt):
    key = KEY_TYPES[kt]
    root = make_root(workdir, key=key)
    inter = make_intermediate(workdir, root, key=key)
    server = make_leaf(workdir, inter, SERVER_HOSTS, name="server", key=key)
    client = make_leaf(workdir, inter, ["client.example"], name="client", kind="--tls-client",
                       key=key)

    for opts in (("-verify_hostname", "www.example.com"), ("-verify_hostname", "a.example.net"),
                 ("-verify_ip", "127.0.0.1"), ("-verify_ip", "::1")):
        r = ossl_verify(root.cert, server.cert, "-purpose", "sslserver", *opts,
                        untrusted=inter.cert)
        assert r.returncode == 0 and "OK" in r.stdout, (opts, r.stdout, r.stderr)
    r = ossl_verify(root.cert, client.cert, "-purpose", "sslclient", untrusted=inter.cert)
    assert r.returncode == 0, r.stderr
    # the checks bite: wrong name, wrong purpose, missing intermediate
    r = ossl_verify(root.cert, server.cert, "-verify_hostname", "www.example.org",
                    untrusted=inter.cert)
    assert r.returncode != 0 and "hostname mismatch" in r.stderr
    r = ossl_verify(root.cert, server.cert, "-purpose", "sslclient", untrusted=inter.cert)
    assert r.returncode != 0 and "unsuitable certificate purpose" in r.stderr
    r = ossl_verify(root.cert, client.cert, "-purpose", "sslserver", untrusted=inter.cert)
    assert r.returncode != 0
    r = ossl_verify(root.cert, server.cert)
    assert r.returncode != 0

    chain = chain_file(workdir / "chain.pem", server.cert, inter.cert)
    ok, out = certtool_verify(root.cert, chain, hostname="www.example.com")
    if kt == "sm2":
        # GnuTLS has no SM2 signatures: it must say so rather than trust it
        assert not ok, out
    else:
        assert ok, out
        ok, out = certtool_verify(root.cert, chain, hostname="www.example.org")
        assert not ok, out
        ok, out = certtool_verify(root.cert, chain_file(workdir / "c.pem", client.cert,
                                                        inter.cert))
        assert ok, out


@pytest.mark.parametrize("kt", ["x25519", "x448"])
def test_key_agreement_leaf(workdir, kt):
    root = make_root(workdir)
    leaf = make_leaf(workdir, root, ["kex.example"], key=(f"--{kt}",))
    r = ossl_verify(root.cert, leaf.cert, "-purpose", "sslserver", "-verify_hostname",
                    "kex.example")
    assert r.returncode == 0, r.stderr
    ku = ext(load(leaf.cert), x509.KeyUsage).value
    assert ku.key_agreement and not ku.digital_signature
    # ... but never for a CA
    r = mkcert("--root", "--common-name", "X", f"--{kt}", cwd=workdir, check=False)
    assert r.returncode == 2 and "certification authority" in r.stderr


def test_fields(workdir):
    root = make_root(workdir, extra=("--organization", "g3c tests", "--country", "DE"))
    inter = make_intermediate(workdir, root)
    server = make_leaf(workdir, inter, SERVER_HOSTS, name="server",
                       extra=("--org", "Example Org"))
    rsa_server = make_leaf(workdir, inter, ["rsa.example"], name="rsa", key=("--rsa",))
    client = make_leaf(workdir, inter, ["client.example"], name="client", kind="--tls-client")
    r_c, i_c, s_c, rs_c, c_c = (load(p.cert) for p in (root, inter, server, rsa_server, client))

    for c in (r_c, i_c, s_c, rs_c, c_c):
        assert c.version == x509.Version.v3
        assert c.serial_number.bit_length() == 128
        skid = ext(c, x509.SubjectKeyIdentifier)
        assert not skid.critical
        assert skid.value.digest == x509.SubjectKeyIdentifier.from_public_key(
            c.public_key()).digest
        bc = ext(c, x509.BasicConstraints)
        assert bc.critical
        assert ext(c, x509.KeyUsage).critical
    assert len({c.serial_number for c in (r_c, i_c, s_c, rs_c, c_c)}) == 5

    assert r_c.subject.rfc4514_string() == "CN=g3c test root,O=g3c tests,C=DE"
    assert r_c.issuer == r_c.subject
    assert not has_ext(r_c, x509.AuthorityKeyIdentifier)
    assert ext(r_c, x509.BasicConstraints).value.ca
    assert ext(r_c, x509.BasicConstraints).value.path_length is None
    assert ext(i_c, x509.BasicConstraints).value.path_length == 0
    assert not ext(s_c, x509.BasicConstraints).value.ca
    for child, parent in ((i_c, r_c), (s_c, i_c), (c_c, i_c)):
        assert child.issuer == parent.subject
        aki = ext(child, x509.AuthorityKeyIdentifier)
        assert not aki.critical
        assert aki.value.key_identifier == ext(parent, x509.SubjectKeyIdentifier).value.digest
        assert aki.value.authority_cert_issuer is None

    ku = ext(r_c, x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    ku = ext(s_c, x509.KeyUsage).value
    assert ku.digital_signature and not ku.key_encipherment and not ku.key_cert_sign
    ku = ext(rs_c, x509.KeyUsage).value
    assert ku.digital_signature and ku.key_encipherment
    assert not has_ext(r_c, x509.ExtendedKeyUsage)
    assert list(ext(s_c, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(ext(c_c, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]

    san = ext(s_c, x509.SubjectAlternativeName)
    assert not san.critical
    assert list(san.value) == [x509.DNSName("www.example.com"), x509.DNSName("*.example.net"),
                               x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                               x509.IPAddress(ipaddress.ip_address("::1"))]
    assert s_c.subject.rfc4514_string() == "CN=www.example.com,O=Example Org"
    assert list(ext(c_c, x509.SubjectAlternativeName).value) == [
        x509.DNSName("client.example")]

    t = now()
    assert near(r_c.not_valid_before, t - DAY) and near(r_c.not_valid_after, t + 3650 * DAY)
    assert near(i_c.not_valid_after, t + 3650 * DAY)
    assert near(s_c.not_valid_before, t - DAY) and near(s_c.not_valid_after, t + 365 * DAY)
    assert s_c.signature_hash_algorithm.name == "sha256"
    assert isinstance(s_c.public_key(), ec.EllipticCurvePublicKey)
    assert s_c.public_key().curve.name == "secp256r1"


def test_ed25519_ca_signs_without_digest(workdir):
    root = make_root(workdir, key=("--ed25519",))
    leaf = make_leaf(workdir, root, ["ed.example"])
    c = load(leaf.cert)
    assert c.signature_algorithm_oid.dotted_string == "1.3.101.112"
    assert c.signature_hash_algorithm is None


def test_validity_clamped_to_issuer(workdir):
    root = make_root(workdir, extra=("--days", "30"))
    leaf = make_leaf(workdir, root, ["short.example"])
    assert load(leaf.cert).not_valid_after == load(root.cert).not_valid_after
    week = make_leaf(workdir, root, ["week.example"], name="week", extra=("--days", "7"))
    assert near(load(week.cert).not_valid_after, now() + 7 * DAY)


def test_explicit_window_and_expired(workdir):
    root = make_root(workdir)
    r = mkcert("--tls-server", "--host", "old.example", "--ca-cert", root.cert, "--ca-key",
               root.key, "--not-before", "-10d", "--not-after", "-1d", "--output-cert",
               workdir / "old.crt", "--output-key", workdir / "old.key")
    assert "not valid now" in r.stderr
    c = load(workdir / "old.crt")
    assert near(c.not_valid_after, now() - DAY)
    r = ossl_verify(root.cert, workdir / "old.crt", "-purpose", "sslserver")
    assert r.returncode != 0 and "certificate has expired" in r.stderr

    mkcert("--tls-server", "--host", "fixed.example", "--ca-cert", root.cert, "--ca-key",
           root.key, "--not-before", "2030-01-02T03:04:05Z", "--not-after", "2031-01-01",
           "--output-cert", workdir / "f.crt", "--output-key", workdir / "f.key")
    c = load(workdir / "f.crt")
    assert c.not_valid_before == datetime.datetime(2030, 1, 2, 3, 4, 5)
    assert c.not_valid_after == datetime.datetime(2031, 1, 1)

    r = mkcert("--tls-server", "--host", "e.example", "--ca-cert", root.cert, "--ca-key",
               root.key, "--not-before", "+2d", "--not-after", "+1d", cwd=workdir, check=False)
    assert r.returncode == 1 and "empty validity window" in r.stderr


def test_path_length(workdir):
    root = make_root(workdir)
    inter = make_intermediate(workdir, root)  # pathlen 0 by default
    r = mkcert("--intermediate", "--common-name", "below zero", "--ca-cert", inter.cert,
               "--ca-key", inter.key, cwd=workdir, check=False)
    assert r.returncode == 1 and "pathlen 0" in r.stderr
    assert not (workdir / "below_zero.crt").exists()

    i1 = make_intermediate(workdir, root, name="i1", extra=("--path-length", "1"))
    i2 = make_intermediate(workdir, i1, name="i2")  # the issuer's pathlen - 1 = 0
    assert ext(load(i1.cert), x509.BasicConstraints).value.path_length == 1
    assert ext(load(i2.cert), x509.BasicConstraints).value.path_length == 0
    r = mkcert("--intermediate", "--common-name", "too deep", "--ca-cert", i1.cert, "--ca-key",
               i1.key, "--path-length", "1", cwd=workdir, check=False)
    assert r.returncode == 1 and "more than" in r.stderr
    leaf = make_leaf(workdir, i2, ["deep.example"])
    untrusted = chain_file(workdir / "untrusted.pem", i2.cert, i1.cert)
    r = ossl_verify(root.cert, leaf.cert, "-purpose", "sslserver", "-verify_hostname",
                    "deep.example", untrusted=untrusted)
    assert r.returncode == 0, r.stderr

    r5 = make_root(workdir, name="r5", extra=("--path-length", "5"))
    assert ext(load(r5.cert), x509.BasicConstraints).value.path_length == 5
    i4 = make_intermediate(workdir, r5, name="i4")
    assert ext(load(i4.cert), x509.BasicConstraints).value.path_length == 4


def test_key_file(workdir):
    root = make_root(workdir)
    key_path = workdir / "leaf.key"
    key_path.write_text("old contents")
    os.chmod(key_path, 0o644)
    leaf = make_leaf(workdir, root, ["k.example"])
    text = key_path.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert "ENCRYPTED" not in text
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(root.key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(leaf.cert).st_mode) & 0o044 == 0o044
    key = serialization.load_pem_private_key(text.encode(), password=None)
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, pub) == \
        load(leaf.cert).public_key().public_bytes(serialization.Encoding.DER, pub)


def test_default_file_names(workdir):
    r = mkcert("--root", "--common-name", "My  Root CA", cwd=workdir)
    assert r.stdout == ("certificate saved to My_Root_CA.crt\n"
                        "private key saved to My_Root_CA.key\n")
    assert (workdir / "My_Root_CA.crt").exists() and (workdir / "My_Root_CA.key").exists()
    mkcert("--tls-server", "--host", "srv.example", "--host", "10.0.0.1", "--ca-cert",
           "My_Root_CA.crt", "--ca-key", "My_Root_CA.key", cwd=workdir)
    assert (workdir / "srv.example.crt").exists() and (workdir / "srv.example.key").exists()
    mkcert("--tls-client", "--host", "10.0.0.2", "--ca-cert", "My_Root_CA.crt", "--ca-key",
           "My_Root_CA.key", cwd=workdir)
    assert (workdir / "10.0.0.2-client.crt").exists()
    c = load(workdir / "10.0.0.2-client.crt")
    assert c.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "10.0.0.2"
    mkcert("--tls-client", "--common-name", "alice", "--ca-cert", "My_Root_CA.crt",
           "--ca-key", "My_Root_CA.key", cwd=workdir)
    assert not has_ext(load(workdir / "alice-client.crt"), x509.SubjectAlternativeName)


def test_tlcp_kinds(workdir):
    root = make_root(workdir, key=("--sm2",))
    sign = make_leaf(workdir, root, ["tlcp.example"], name="sign", kind="--tlcp-server-sign",
                     key=())
    enc = make_leaf(workdir, root, ["tlcp.example"], name="enc", kind="--tlcp-server-enc",
                    key=("--rsa",))
    ku = ext(load(sign.cert), x509.KeyUsage).value
    assert ku.digital_signature and ku.content_commitment and not ku.key_encipherment
    ku = ext(load(enc.cert), x509.KeyUsage).value
    assert ku.key_agreement and ku.key_encipherment and ku.data_encipherment
    assert "SM2" in subprocess.run(["openssl", "pkey", "-in", sign.key, "-noout", "-text"],
                                   capture_output=True, text=True).stdout
    r = ossl_verify(root.cert, sign.cert, "-purpose", "sslserver")
    assert r.returncode == 0, r.stderr


def test_help_version_completion(workdir):
    r = mkcert("--help", cwd=workdir)
    assert "--tls-server" in r.stdout and "--mimic FILE" in r.stdout
    r = mkcert("--version", cwd=workdir)
    assert r.stdout.startswith("mkcert ") and "OpenSSL 3" in r.stdout
    r = mkcert("--completion", "bash", cwd=workdir)
    assert "complete -F _mkcert mkcert" in r.stdout and "--tls-client" in r.stdout
    r = subprocess.run(["bash", "-n"], input=r.stdout, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert mkcert("--completion", "tcsh", cwd=workdir, check=False).returncode == 2


def test_usage_errors_exit_2(workdir):
    cases = [
        ((), "is required"),
        (("--root",), "needs --common-name"),
        (("--root", "--cn", "x", "--bogus"), "unknown option '--bogus'"),
        (("--tls-server", "--tls-client"), "cannot be used with"),
        (("--root", "--cn", "x", "--ec256", "--rsa"), "cannot be used with"),
        (("--tls-server", "--host", "a.example", "--ca-cert", "c"), "needs --ca-key"),
        (("--tlcp-server-sign", "--ec256", "--host", "a", "--ca-cert", "c", "--ca-key", "k"),
         "--rsa or --sm2"),
        (("--root", "--cn", "x", "--rsa", "100"), "not a key size"),
        (("--root", "--cn", "x", "--country", "Germany"), "two-letter"),
        (("--root", "--cn", "x", "stray"), "unexpected argument"),
    ]
    for args, msg in cases:
        r = mkcert(*args, cwd=workdir, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert msg in r.stderr and "--help" in r.stderr, (args, r.stderr)
    assert list(workdir.iterdir()) == []


def test_input_errors_exit_1(workdir):
    root = make_root(workdir)
    other = make_root(workdir, name="other")
    leaf = make_leaf(workdir, root, ["leaf.example"])
    (workdir / "garbage.pem").write_text("not a certificate\n")
    base = ["--tls-server", "--host", "x.example"]
    cases = [
        (base + ["--ca-cert", workdir / "missing.crt", "--ca-key", root.key],
         "No such file"),
        (base + ["--ca-cert", root.cert, "--ca-key", other.key], "does not match"),
        (base + ["--ca-cert", leaf.cert, "--ca-key", leaf.key], "not a CA certificate"),
        (base + ["--ca-cert", workdir / "garbage.pem", "--ca-key", root.key],
         "no certificate"),
        (base + ["--ca-cert", root.cert, "--ca-key", root.cert], "no private key"),
        (["--tls-server", "--host", "bad..host", "--ca-cert", root.cert, "--ca-key", root.key],
         "invalid --host 'bad..host'"),
        (["--tls-server", "--host", "a.example", "--host", "*.com", "--ca-cert", root.cert,
          "--ca-key", root.key], "invalid --host '*.com'"),
        (["--mimic", workdir / "garbage.pem", "--ca-cert", root.cert, "--ca-key", root.key],
         "holds no certificate"),
        (base + ["--ca-cert", root.cert, "--ca-key", root.key, "--output-cert",
                 workdir / "nodir" / "x.crt"], "cannot write"),
    ]
    before = sorted(p.name for p in workdir.iterdir())
    for args, msg in cases:
        r = mkcert(*args, cwd=workdir, check=False)
        assert r.returncode == 1, (args, r.returncode, r.stderr)
        assert msg in r.stderr, (args, r.stderr)
    assert sorted(p.name for p in workdir.iterdir()) == before


# ---- --mimic ----

def openssl_req(d, name, newkey, subj, days, exts, der=False):
    """A self-signed certificate made by `openssl req`, as the upstream to mimic."""
    crt, key = d / f"{name}.pem", d / f"{name}-up.key"
    argv = ["openssl", "req", "-x509", "-nodes", "-newkey", newkey, "-keyout", str(key),
            "-out", str(crt), "-days", str(days), "-subj", subj]
    for e in exts:
        argv += ["-addext", e]
    subprocess.run(argv, check=True, capture_output=True, timeout=60)
    if der:
        out = d / f"{name}.der"
        subprocess.run(["openssl", "x509", "-in", str(crt), "-outform", "DER", "-out",
                        str(out)], check=True)
        return out
    return crt


def mimic(d, up, ca, name, *extra):
    p = (d / f"{name}.crt", d / f"{name}.key")
    mkcert("--mimic", up, "--ca-cert", ca.cert, "--ca-key", ca.key, *extra,
           "--output-cert", p[0], "--output-key", p[1])
    return load(p[0]), p


def load_any(path):
    data = open(path, "rb").read()
    if data.startswith(b"-----"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def test_mimic_rsa_multi_san_no_eku(workdir):
    ca = make_root(workdir)
    up_path = openssl_req(workdir, "up", "rsa:3072", "/C=US/O=Upstream Inc/CN=up.example.org",
                          30, ["subjectAltName=DNS:up.example.org,DNS:*.up.example.org,"
                               "IP:10.1.2.3,IP:2001:db8::7",
                               "keyUsage=critical,digitalSignature,keyEncipherment"])
    up = load_any(up_path)
    assert not has_ext(up, x509.ExtendedKeyUsage)
    m, (crt, key) = mimic(workdir, up_path, ca, "m")

    assert m.subject == up.subject
    assert m.issuer == load(ca.cert).subject
    assert list(ext(m, x509.SubjectAlternativeName).value) == \
        list(ext(up, x509.SubjectAlternativeName).value)
    assert ext(m, x509.KeyUsage) == ext(up, x509.KeyUsage)
    assert not has_ext(m, x509.ExtendedKeyUsage)
    assert isinstance(m.public_key(), rsa.RSAPublicKey) and m.public_key().key_size == 3072
    assert m.public_key() != up.public_key()
    assert m.not_valid_before == up.not_valid_before
    assert m.not_valid_after == up.not_valid_after
    assert m.serial_number != up.serial_number and m.serial_number.bit_length() == 128
    assert not ext(m, x509.BasicConstraints).value.ca
    assert ext(m, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(load(ca.cert), x509.SubjectKeyIdentifier).value.digest
    for opts in (("-verify_hostname", "www.up.example.org"), ("-verify_ip", "10.1.2.3"),
                 ("-verify_ip", "2001:db8::7")):
        r = ossl_verify(ca.cert, crt, "-purpose", "sslserver", *opts)
        assert r.returncode == 0, (opts, r.stderr)
    k = serialization.load_pem_private_key(open(key, "rb").read(), password=None)
    assert k.public_key().public_numbers() == m.public_key().public_numbers()


def test_mimic_ec_der_with_eku_clamped(workdir):
    ca = make_root(workdir, extra=("--days", "5"))
    up_path = openssl_req(workdir, "up", "ec:" + str(write_ec_params(workdir)),
                          "/O=Edge/CN=edge.example", 400,
                          ["subjectAltName=DNS:edge.example",
                           "keyUsage=digitalSignature",
                           "extendedKeyUsage=critical,serverAuth,clientAuth"], der=True)
    up = load_any(up_path)
    m, _ = mimic(workdir, up_path, ca, "m")
    assert m.subject == up.subject
    assert ext(m, x509.ExtendedKeyUsage) == ext(up, x509.ExtendedKeyUsage)
    assert ext(m, x509.ExtendedKeyUsage).critical
    assert ext(m, x509.KeyUsage) == ext(up, x509.KeyUsage)
    assert not ext(m, x509.KeyUsage).critical
    assert m.public_key().curve.name == "secp384r1"
    # validity: the upstream's start, the CA's end
    assert m.not_valid_before == max(up.not_valid_before, load(ca.cert).not_valid_before)
    assert m.not_valid_after == load(ca.cert).not_valid_after < up.not_valid_after


def write_ec_params(d):
    p = d / "p384.pem"
    subprocess.run(["openssl", "ecparam", "-name", "secp384r1", "-out", str(p)], check=True)
    return p


def test_mimic_serial_hosts_and_key_override(workdir):
    ca = make_root(workdir)
    up_path = openssl_req(workdir, "up", "ed25519", "/CN=orig.example", 10,
                          ["subjectAltName=DNS:orig.example"])
    up = load_any(up_path)
    m, _ = mimic(workdir, up_path, ca, "keep", "--keep-serial")
    assert m.serial_number == up.serial_number
    assert isinstance(m.public_key(), ed25519.Ed25519PublicKey)
    m, _ = mimic(workdir, up_path, ca, "hosts", "--host", "other.example", "--host", "10.9.9.9",
                 "--rsa")
    assert m.serial_number != up.serial_number
    assert list(ext(m, x509.SubjectAlternativeName).value) == [
        x509.DNSName("other.example"), x509.IPAddress(ipaddress.ip_address("10.9.9.9"))]
    assert m.subject == up.subject
    assert isinstance(m.public_key(), rsa.RSAPublicKey) and m.public_key().key_size == 2048
    m, _ = mimic(workdir, up_path, ca, "x", "--x25519")
    assert isinstance(m.public_key(), x25519.X25519PublicKey)


def test_mimic_cn_only_gets_a_san(workdir):
    ca = make_root(workdir)
    up_path = openssl_req(workdir, "up", "rsa:2048", "/CN=legacy.example", 10, [])
    up = load_any(up_path)
    assert not has_ext(up, x509.SubjectAlternativeName)
    m, (crt, _) = mimic(workdir, up_path, ca, "m")
    assert list(ext(m, x509.SubjectAlternativeName).value) == [x509.DNSName("legacy.example")]
    r = ossl_verify(ca.cert, crt, "-purpose", "sslserver", "-verify_hostname", "legacy.example")
    assert r.returncode == 0, r.stderr

    up_path = openssl_req(workdir, "noname", "rsa:2048", "/O=No Host Here", 10, [])
    r = mkcert("--mimic", up_path, "--ca-cert", ca.cert, "--ca-key", ca.key, cwd=workdir,
               check=False)
    assert r.returncode == 1 and "give --host" in r.stderr
    # default output names follow g3mkcert: tls_mimic.crt / tls_mimic.key
    mkcert("--mimic", up_path, "--ca-cert", ca.cert, "--ca-key", ca.key, "--host", "n.example",
           cwd=workdir)
    assert (workdir / "tls_mimic.crt").exists() and (workdir / "tls_mimic.key").exists()
