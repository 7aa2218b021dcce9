"""iplocd as an operator and a client see it: the real daemon on databases
built at test time with deploy/mmdb/build-demo-db.pl; g3ctl lookup (human
and --json), status and databases; -t; lookups over RPC with iplocd-load,
including 1000 in flight across a reload; file replacement picked up by the
watcher; broken files refused at start, at SIGHUP and by the watcher with
the old database kept; StatsD metrics; answers equal to an independent
reader's (MaxMind::DB::Reader, pure Perl) for every network of the db."""

import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from helpers import REPO, binary, wait_for
from iplocd_helpers import (assert_no_sanitizer_report, build_db, conf_text, first_last, load,
                            load_popen, need_reader, need_writer, networks, rpc_url)

pytestmark = need_writer


@pytest.fixture
def dbs(workdir):
    """country (v1), asn and isp demo databases in the work dir."""
    return {
        "country": build_db(workdir / "country.mmdb", "--kind", "country"),
        "asn": build_db(workdir / "asn.mmdb", "--kind", "asn"),
        "isp": build_db(workdir / "isp.mmdb", "--kind", "isp"),
    }


def start_iplocd(daemon_factory, write_conf, dbs, extra=""):
    d = daemon_factory("iplocd")
    d.conf = write_conf(conf_text(dbs, extra), "iplocd.yaml")
    d.start(d.conf)
    return d


@pytest.fixture
def iplocd(daemon_factory, write_conf, dbs):
    return start_iplocd(daemon_factory, write_conf, dbs, "db_check_interval: 0\n")


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


# ---- g3ctl --------------------------------------------------------------------

def test_lookup_human(iplocd):
    r = iplocd.ctl.run("lookup", "10.1.2.3")
    assert r.returncode == 0, r.stderr
    fields = dict(re.findall(r"^(\w+):\s+(.*)$", r.stdout, re.M))
    assert fields["network"] == "10.1.0.0/16"
    assert fields["country"] == "CA"
    assert fields["continent"] == "NA"
    assert fields["asn"] == "64512"
    assert fields["isp_name"] == "Demo Private One"
    assert fields["isp_domain"] == "one.example"
    assert fields["found"] == "yes"
    assert fields["ttl"] == "300"


def test_lookup_json_batch_and_unknown(iplocd):
    one = iplocd.ctl.json("lookup", "2001:db8:1::77")
    assert one["network"] == "2001:db8:1::/48"
    assert (one["country"], one["asn"]) == ("KR", 64500)
    many = iplocd.ctl.json("lookup", "8.8.8.8", "::ffff:192.0.2.9", "192.0.2.200")
    a = many["answers"]
    assert [x["ip"] for x in a] == ["8.8.8.8", "::ffff:192.0.2.9", "192.0.2.200"]
    # unknown: an answer with the empty network around it and the miss TTL
    assert a[0]["found"] is False and a[0]["country"] == "" and a[0]["asn"] == 0
    assert a[0]["network"] == "8.0.0.0/7" and a[0]["ttl"] == 60
    # IPv4-mapped: answered as IPv4
    assert a[1]["network"] == "192.0.2.0/25" and a[1]["country"] == "AU"
    assert a[1]["asn"] == 64497
    assert a[2]["network"] == "192.0.2.128/25" and a[2]["asn"] == 0


def test_lookup_invalid(iplocd):
    r = iplocd.ctl.run("lookup", "10.1.2.3", "10.0.0.300")
    assert r.returncode == 1
    assert "ips[1]: '10.0.0.300' is not an IP address" in r.stderr
    assert "INVALID_ARGUMENT" in r.stderr
    r = iplocd.ctl.run("lookup")
    assert r.returncode == 2


def test_status_and_databases(iplocd, dbs):
    assert load(rpc_url(iplocd.workdir), ["10.1.2.3", "8.8.8.8"], total=10)[0] == 0
    st = iplocd.ctl.status()
    c = st["counters"]
    assert st["name"] == "iplocd"
    assert c["requests"] == 10 and c["answers"] == 10
    assert c["found"] == 5 and c["misses"] == 5 and c["errors"] == 0
    assert c["databases"] == 3
    assert c["db_country_nodes"] > 0 and c["db_asn_nodes"] > 0 and c["db_isp_nodes"] > 0
    assert abs(c["db_country_build_epoch"] - time.time()) < 3600
    assert "latency_avg_us" in c and "latency_max_us" in c
    d = iplocd.ctl.json("databases")
    assert d["ttl"] == 300 and d["miss_ttl"] == 60
    assert d["rpc_listen"] == rpc_url(iplocd.workdir)
    kinds = {x["kind"]: x for x in d["databases"]}
    assert set(kinds) == {"country", "asn", "isp"}
    assert kinds["country"]["path"] == str(dbs["country"])
    assert kinds["country"]["type"] == "g3c-Demo-Country"
    assert kinds["asn"]["type"] == "g3c-Demo-ASN"
    assert kinds["isp"]["nodes"] > 0 and kinds["isp"]["records"] == 10
    assert abs(kinds["isp"]["built_at_us"] / 1e6 - time.time()) < 3600
    r = iplocd.ctl.run("databases")
    assert r.returncode == 0 and "built_at:" in r.stdout and "g3c-Demo-ISP" in r.stdout


# ---- -t and start ----------------------------------------------------------------

def test_check_config_good_and_bad(workdir, write_conf, dbs):
    good = write_conf(conf_text(dbs), "good.yaml")
    r = run([binary("iplocd"), "-t", "-c", str(good)])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout
    (workdir / "trunc.mmdb").write_bytes(dbs["asn"].read_bytes()[:700])
    bad = write_conf("geoip_db:\n  country: country.mmdb\n  asn: trunc.mmdb\n", "bad.yaml")
    r = run([binary("iplocd"), "-t", "-c", str(bad)])
    assert r.returncode == 1
    assert re.search(rf"^{re.escape(str(bad))}:3:8: error: geoip_db.asn: .*trunc.mmdb: "
                     r"not a valid MaxMind DB file", r.stderr, re.M), r.stderr
    assert_no_sanitizer_report(r.stderr)


def test_corrupt_db_at_start_exits_1(daemon_factory, write_conf, workdir, dbs):
    data = bytearray(dbs["country"].read_bytes())
    data[100:400] = bytes(300)  # zero a run of search-tree nodes
    (workdir / "zeroed.mmdb").write_bytes(bytes(data))
    d = daemon_factory("iplocd")
    conf = write_conf(conf_text({"country": workdir / "zeroed.mmdb"}), "iplocd.yaml")
    d.start(conf, wait=False)
    assert d.wait_exit(10) == 1
    err = d.stderr()
    assert "geoip_db.country" in err and "zeroed.mmdb" in err
    assert_no_sanitizer_report(err)
    assert not os.path.exists(d.ctl.socket_path())


# ---- RPC under reloads ------------------------------------------------------------

def test_reload_with_1000_in_flight(iplocd, dbs):
    """SIGHUP (twice) while one client keeps 1000 lookups in flight: every
    lookup is answered, each from the old or the new database."""
    TOTAL = 150000
    url = rpc_url(iplocd.workdir)
    v2 = build_db(iplocd.workdir / "v2.mmdb", "--kind", "country", "--variant", "2")
    p = load_popen(url, ["192.0.2.1"], total=TOTAL, inflight=1000)
    # reload once the client is well into its run
    wait_for(lambda: iplocd.ctl.status()["counters"]["requests"] > 5000, 30,
             what="the load to start")
    os.rename(v2, dbs["country"])
    iplocd.signal(signal.SIGHUP)
    time.sleep(0.05)
    iplocd.signal(signal.SIGHUP)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    s = json.loads(out)
    assert s["answered"] == TOTAL and s["timeouts"] == 0 and s["failed"] == {}
    seen = s["countries"]["192.0.2.1"]
    assert set(seen) <= {"AU", "FR"} and sum(seen.values()) == TOTAL
    assert seen.get("FR", 0) > 0, "the reload happened after the load finished"
    wait_for(lambda: iplocd.ctl.status()["reloads_ok"] == 2, 10, what="two reloads")
    assert iplocd.ctl.json("lookup", "192.0.2.1")["country"] == "FR"


def test_batched_lookups_over_rpc(iplocd):
    rc, s = load(rpc_url(iplocd.workdir), ["10.1.2.3", "2001:db8:1::1", "8.8.8.8", "::1"],
                 total=500, inflight=16, batch=64)
    assert rc == 0
    assert s["answered"] == 500
    c = s["countries"]
    assert c["10.1.2.3"] == {"CA": 8000} and c["2001:db8:1::1"] == {"KR": 8000}
    assert c["8.8.8.8"] == {"-": 8000} and c["::1"] == {"GB": 8000}


def test_watcher_picks_up_new_file(daemon_factory, write_conf, dbs):
    d = start_iplocd(daemon_factory, write_conf, dbs, "db_check_interval: 100ms\n")
    assert d.ctl.json("lookup", "192.0.2.1")["country"] == "AU"
    build_db(dbs["country"], "--kind", "country", "--variant", "2")  # renames into place
    wait_for(lambda: d.ctl.json("lookup", "192.0.2.1")["country"] == "FR", 10,
             what="the replaced file to be loaded")
    kinds = {x["kind"]: x for x in d.ctl.json("databases")["databases"]}
    assert kinds["country"]["reloads"] == 1
    assert kinds["asn"]["reloads"] == 0


def test_corrupt_file_at_reload_keeps_old(iplocd, dbs):
    good = dbs["country"].read_bytes()
    tmp = dbs["country"].with_suffix(".tmp")
    tmp.write_bytes(good[: len(good) // 2])
    os.rename(tmp, dbs["country"])
    r = iplocd.ctl.run("reload")
    assert r.returncode == 1
    assert "geoip_db.country" in r.stderr and "not a valid MaxMind DB file" in r.stderr
    st = iplocd.ctl.status()
    assert st["reloads_failed"] == 1 and st["reloads_ok"] == 0
    assert iplocd.ctl.json("lookup", "10.1.2.3")["country"] == "CA"
    # SIGHUP too: the failure is counted, the old db answers
    iplocd.signal(signal.SIGHUP)
    wait_for(lambda: iplocd.ctl.status()["reloads_failed"] == 2, 10, what="failed reload")
    assert load(rpc_url(iplocd.workdir), ["10.200.0.1"], total=200)[1]["countries"] == \
        {"10.200.0.1": {"US": 200}}


def test_watcher_refuses_corrupt_file(daemon_factory, write_conf, dbs):
    d = start_iplocd(daemon_factory, write_conf, dbs, "db_check_interval: 50ms\n")
    data = bytearray(dbs["asn"].read_bytes())
    data[-20:] = b"\xff" * 20  # metadata garbled
    tmp = dbs["asn"].with_suffix(".tmp")
    tmp.write_bytes(bytes(data))
    os.rename(tmp, dbs["asn"])

    def refused():
        kinds = {x["kind"]: x for x in d.ctl.json("databases")["databases"]}
        return kinds["asn"]["reload_failures"] == 1 and kinds["asn"]
    asn = wait_for(refused, 10, what="the watcher to refuse the file")
    assert asn["last_error"] and asn["reloads"] == 0
    assert d.ctl.json("lookup", "10.200.0.1")["asn"] == 64513
    time.sleep(0.3)  # refused once, not again on every tick
    kinds = {x["kind"]: x for x in d.ctl.json("databases")["databases"]}
    assert kinds["asn"]["reload_failures"] == 1
    assert d.ctl.status()["counters"]["db_reload_failures"] == 1


# ---- metrics ----------------------------------------------------------------------

def test_statsd_metrics(daemon_factory, write_conf, dbs):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port = sock.getsockname()[1]
    d = start_iplocd(daemon_factory, write_conf, dbs,
                     f"stat:\n  target_udp: 127.0.0.1:{port}\n  emit_interval: 100ms\n")
    assert load(rpc_url(d.workdir), ["10.1.2.3", "8.8.8.8"], total=20)[0] == 0
    assert d.ctl.run("lookup", "nope").returncode == 1  # control lookups are not counted
    lines = []
    end = time.monotonic() + 10

    def counted():
        t = {}
        for ln in lines:
            m = re.match(r"g3iploc\.([\w.]+):(-?\d+)\|c", ln)
            if m:
                t[m.group(1)] = t.get(m.group(1), 0) + int(m.group(2))
        return t
    while time.monotonic() < end:
        try:
            lines += sock.recv(65536).decode().splitlines()
        except socket.timeout:
            pass
        totals = counted()
        if totals.get("lookup.total", 0) >= 20 and \
                any(ln.startswith("g3iploc.db.node_count:") and "db:isp" in ln for ln in lines):
            break
    sock.close()
    assert totals.get("frontend.request_total") == 20
    assert totals.get("frontend.response_total") == 20
    assert totals.get("lookup.found") == 10 and totals.get("lookup.miss") == 10
    assert totals.get("frontend.request_invalid", 0) == 0
    gauges = [ln for ln in lines if ln.startswith("g3iploc.db.node_count:")]
    assert any("db:country" in ln for ln in gauges) and any("db:isp" in ln for ln in gauges)
    assert any(ln.startswith("g3iploc.frontend.request_duration:") and "quantile:0.99" in ln
               for ln in lines)


# ---- independent oracle -------------------------------------------------------------

@need_reader
def test_every_network_matches_perl_reader(daemon_factory, write_conf, workdir):
    """For every network with data in a one-file database, its first and
    last address answer what MaxMind's pure-Perl reader says, with the same
    network."""
    db = build_db(workdir / "all.mmdb", "--kind", "all")
    d = start_iplocd(daemon_factory, write_conf, {"country": db}, "db_check_interval: 0\n")
    nets = networks(db)
    assert len(nets) > 20
    ips, want = [], []
    for net, rec in nets:
        for ip in first_last(net):
            ips.append(ip)
            want.append((net, rec))
    got = []
    for i in range(0, len(ips), 500):
        got += d.ctl.json("lookup", *ips[i:i + 500])["answers"]
    assert len(got) == len(ips)
    for ip, (net, rec), a in zip(ips, want, got):
        assert a["ip"] == ip
        assert ipaddress.ip_network(a["network"]) == net, (ip, a["network"], str(net))
        assert a["country"] == rec.get("country", {}).get("iso_code", "")
        assert a["continent"] == rec.get("continent", {}).get("code", "")
        assert a["asn"] == rec.get("autonomous_system_number", 0)
        assert a["isp_name"] == rec.get("isp", rec.get("autonomous_system_organization", ""))
        assert a["isp_domain"] == rec.get("domain", "")


def test_graceful_stop_after_work(daemon_factory, write_conf, dbs):
    """Serve, reload, watch, then SIGTERM: exit 0, the RPC socket gone, and
    (in a sanitizer build) no leak or memory error reported on the way out."""
    d = start_iplocd(daemon_factory, write_conf, dbs, "db_check_interval: 50ms\n")
    assert load(rpc_url(d.workdir), ["10.1.2.3", "::1", "8.8.8.8"], total=300)[0] == 0
    build_db(dbs["country"], "--kind", "country", "--variant", "2")
    wait_for(lambda: d.ctl.json("lookup", "192.0.2.1")["country"] == "FR", 10,
             what="the watcher reload")
    assert d.ctl.run("reload").returncode == 0
    d.signal(signal.SIGTERM)
    assert d.wait_exit(15) == 0
    assert_no_sanitizer_report(d.stderr())
    assert not os.path.exists(rpc_url(d.workdir)[len("ipc://"):])


def test_make_run_files(workdir, daemon_factory):
    """deploy/iplocd/init.sh makes the demo databases deploy/iplocd/default.yaml
    names (idempotently), and iplocd serves them as `make run` starts it."""
    (workdir / "deploy" / "iplocd").mkdir(parents=True)
    shutil.copy(REPO / "deploy" / "iplocd" / "default.yaml", workdir / "deploy" / "iplocd" / "default.yaml")
    init = [str(REPO / "deploy" / "iplocd" / "init.sh"), "build", str(workdir / "run")]
    r = subprocess.run(["sh", *init], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in (workdir / "run" / "iplocd").iterdir())
    assert made == ["demo-country.mmdb", "demo-isp.mmdb"]
    before = (workdir / "run" / "iplocd" / "demo-isp.mmdb").stat().st_mtime_ns
    r = subprocess.run(["sh", *init], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert (workdir / "run" / "iplocd" / "demo-isp.mmdb").stat().st_mtime_ns == before
    conf = workdir / "deploy" / "iplocd" / "default.yaml"
    r = run([binary("iplocd"), "-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    d = daemon_factory("iplocd", group="")
    d.start(conf)
    a = d.ctl.json("lookup", "203.0.113.7", "fd00::1")["answers"]
    assert (a[0]["country"], a[0]["continent"], a[0]["asn"]) == ("ZA", "AF", 64499)
    assert a[0]["isp_name"] == "Demo Doc Three" and a[0]["isp_domain"] == "doc3.example"
    assert (a[1]["country"], a[1]["asn"]) == ("FR", 64516)
    assert os.path.exists(workdir / "iplocd.rpc")
