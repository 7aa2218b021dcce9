"""iplocd on MaxMind's published test databases (../shared/testdata/mmdb next
to the repository; present on the project's machines and in CI, skipped
with a reason elsewhere):
 - answers for addresses of source-data/*.json equal what the JSON says the
   database was built from, for the GeoIP2/GeoLite2 Country, City, ASN and
   ISP files, each configured alone;
 - every deliberately corrupt file is refused by -t and at start (exit 1,
   the file and the reason named), and at reload (SIGHUP) and by the
   watcher the loaded database keeps answering."""

import ipaddress
import json
import os
import random
import shutil
import signal
import subprocess
import time

import pytest

from helpers import binary, wait_for
from iplocd_helpers import TESTDATA, assert_no_sanitizer_report, conf_text, need_testdata

pytestmark = need_testdata

SAMPLE = 150  # networks per database


def all_networks(json_name):
    """(network, record) for every entry of a source-data file."""
    entries = []
    for e in json.loads((TESTDATA / "source-data" / json_name).read_text()):
        for k, v in e.items():
            net = ipaddress.ip_network(k, strict=False)
            # "::1.2.3.0/120" is how the IPv4 space of an IPv6 tree is written
            if net.version == 6 and net.prefixlen >= 96 and \
                    int(net.network_address) < (1 << 32):
                net = ipaddress.ip_network(
                    f"{ipaddress.IPv4Address(int(net.network_address))}/{net.prefixlen - 96}")
            entries.append((net, v))
    return entries


def leaf_networks(json_name):
    """The entries of all_networks that contain no other listed network
    (their answer is theirs alone)."""
    entries = all_networks(json_name)
    leaves = []
    for net, rec in entries:
        if not any(o != net and o.version == net.version and o.subnet_of(net)
                   for o, _ in entries):
            leaves.append((net, rec))
    return leaves


def expected(kind, rec):
    if kind in ("country", "city"):
        cc = rec.get("country", rec.get("registered_country", {})).get("iso_code", "")
        return {"country": cc, "continent": rec.get("continent", {}).get("code", "")}
    return {"asn": rec.get("autonomous_system_number", 0),
            "isp_name": rec.get("isp", rec.get("autonomous_system_organization", "")),
            "as_org": rec.get("autonomous_system_organization", "")}


CASES = [
    ("country", "GeoIP2-Country-Test.mmdb", "GeoIP2-Country-Test.json"),
    ("country", "GeoLite2-Country-Test.mmdb", "GeoLite2-Country-Test.json"),
    ("city", "GeoIP2-City-Test.mmdb", "GeoIP2-City-Test.json"),
    ("city", "GeoLite2-City-Test.mmdb", "GeoLite2-City-Test.json"),
    ("asn", "GeoLite2-ASN-Test.mmdb", "GeoLite2-ASN-Test.json"),
    ("isp", "GeoIP2-ISP-Test.mmdb", "GeoIP2-ISP-Test.json"),
]


@pytest.mark.parametrize("kind,db,src", CASES, ids=[c[1] for c in CASES])
def test_source_data_answers(daemon_factory, write_conf, kind, db, src):
    d = daemon_factory("iplocd")
    d.start(write_conf(conf_text({kind: TESTDATA / "test-data" / db}), "iplocd.yaml"))
    leaves = leaf_networks(src)
    rnd = random.Random(7)
    sample = rnd.sample(leaves, min(SAMPLE, len(leaves)))
    ips, want = [], []
    for net, rec in sample:
        for ip in (net.network_address, net.broadcast_address,
                   net.network_address + rnd.randrange(net.num_addresses)):
            ips.append(str(ip))
            want.append((net, expected(kind, rec)))
    got = []
    for i in range(0, len(ips), 400):
        got += d.ctl.json("lookup", *ips[i:i + 400])["answers"]
    # The answer holds for its whole network: it contains the address, and
    # every source network overlapping it says the same (a writer may merge
    # neighbours with equal data, so the network may be larger).
    allnets = all_networks(src)
    bad = []
    for ip, (net, exp), a in zip(ips, want, got):
        answered = ipaddress.ip_network(a["network"])
        if ipaddress.ip_address(ip) not in answered or not a["found"] or \
                any(a[k] != v for k, v in exp.items()):
            bad.append((ip, str(net), exp, {k: a[k] for k in exp}, a["network"]))
            continue
        for onet, orec in allnets:
            if onet.version == answered.version and onet.overlaps(answered) and \
                    not answered.subnet_of(onet) and expected(kind, orec) != exp:
                bad.append((ip, a["network"], "overlaps", str(onet), expected(kind, orec)))
                break
    assert not bad, f"{len(bad)} of {len(ips)} answers differ, e.g. {bad[:3]}"


def bad_files():
    out = sorted((TESTDATA / "bad-data").rglob("*.mmdb"))
    out += sorted(p for p in (TESTDATA / "test-data").glob("*.mmdb")
                  if any(w in p.name for w in ("Broken", "Invalid", "broken")))
    return out


def test_corrupt_files_refused_by_check_and_start(workdir, daemon_factory, write_conf):
    files = bad_files()
    assert len(files) >= 20
    for i, f in enumerate(files):
        conf = write_conf(conf_text({"country": f}), f"bad{i}.yaml")
        r = subprocess.run([binary("iplocd"), "-t", "-c", str(conf)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1, f"{f.name}: {r.stdout}{r.stderr}"
        assert f":2:12: error: geoip_db.country: {f}: " in r.stderr, r.stderr
        assert_no_sanitizer_report(r.stderr)
    # and a real start of each, without -t (a sanitizer build catches any
    # memory error the loader would make on the way out)
    for i, f in enumerate(files):
        d = daemon_factory("iplocd", group=f"b{i}")
        d.start(write_conf(conf_text({"country": f}), f"start{i}.yaml"), wait=False)
        assert d.wait_exit(30) == 1, f.name
        assert f"{f}: " in d.stderr()
        assert_no_sanitizer_report(d.stderr())


def test_corrupt_files_at_reload_keep_old(workdir, daemon_factory, write_conf):
    live = workdir / "live.mmdb"
    good = TESTDATA / "test-data" / "GeoIP2-City-Test.mmdb"
    shutil.copyfile(good, live)
    d = daemon_factory("iplocd")
    d.start(write_conf(conf_text({"city": live}, "db_check_interval: 0\n"), "iplocd.yaml"))
    files = bad_files()
    for n, f in enumerate(files, 1):
        shutil.copyfile(f, workdir / "next.mmdb")
        os.rename(workdir / "next.mmdb", live)
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.ctl.status()["reloads_failed"] == n, 10,
                 what=f"the reload with {f.name} to fail")
        assert d.ctl.json("lookup", "81.2.69.160")["country"] == "GB"
    shutil.copyfile(good, workdir / "next.mmdb")
    os.rename(workdir / "next.mmdb", live)
    assert d.ctl.run("reload").returncode == 0
    assert d.ctl.status()["reloads_ok"] == 1


def test_corrupt_files_seen_by_watcher_keep_old(workdir, daemon_factory, write_conf):
    live = workdir / "live.mmdb"
    good = TESTDATA / "test-data" / "GeoLite2-ASN-Test.mmdb"
    shutil.copyfile(good, live)
    d = daemon_factory("iplocd")
    d.start(write_conf(conf_text({"asn": live}, "db_check_interval: 20ms\n"), "iplocd.yaml"))
    files = bad_files()
    for n, f in enumerate(files, 1):
        shutil.copyfile(f, workdir / "next.mmdb")
        os.rename(workdir / "next.mmdb", live)
        wait_for(lambda: d.ctl.json("databases")["databases"][0]["reload_failures"] == n, 10,
                 what=f"the watcher to refuse {f.name}")
        assert d.ctl.json("lookup", "1.128.0.1")["asn"] == 1221
    time.sleep(0.1)
    assert d.ctl.status()["counters"]["db_reloads"] == 0
