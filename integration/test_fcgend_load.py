"""fcgend under load, through the real Forge RPC with the fcgen-load client:
1000 concurrent calls all answered (from one client and from several
processes at once), and a kill and restart in the middle of a load run:
callers see timeouts, then answers again, and nobody hangs."""

import json
import signal
import time

from fcgend_helpers import load, load_popen, make_ca, start_fcgend
from helpers import wait_for


def test_1000_concurrent_calls_one_client(daemon_factory, workdir):
    ca = make_ca(workdir)
    d = start_fcgend(daemon_factory, workdir, ca)
    status, out = load(d.rpc_url, "--count", "1000", "--concurrency", "1000", "--unique",
                       "--deadline", "30000")
    assert status == 0, out
    assert out["calls"] == 1000 and out["ok"] == 1000
    assert out["timeouts"] == 0 and out["errors"] == 0
    st = d.ctl.status()["counters"]
    assert st["requests"] == 1000 and st["generated"] == 1000 and st["errors"] == 0


def test_1000_concurrent_calls_four_processes(daemon_factory, workdir):
    ca = make_ca(workdir)
    d = start_fcgend(daemon_factory, workdir, ca)
    procs = [load_popen(d.rpc_url, "--count", "250", "--concurrency", "250", "--unique",
                        "--deadline", "30000", "--host", f"p{i}.load.example")
             for i in range(4)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    assert sum(r["ok"] for r in results) == 1000
    assert all(r["timeouts"] == 0 and r["errors"] == 0 for r in results)
    # The same hosts again: all from the cache.
    status, out = load(d.rpc_url, "--count", "300", "--concurrency", "300",
                       "--host", "p0.load.example")
    assert status == 0 and out["cached"] >= 299


def test_kill_and_restart_under_load(daemon_factory, workdir):
    ca = make_ca(workdir)
    d = start_fcgend(daemon_factory, workdir, ca)
    duration = 8
    p = load_popen(d.rpc_url, "--duration", duration, "--concurrency", "16", "--deadline",
                   "300", "--unique", "--host", "restart.example")
    t0 = time.monotonic()
    time.sleep(2)
    d.kill()  # SIGKILL: no goodbye, the socket file stays behind
    time.sleep(2)
    d.start(d.conf)  # a stale socket file is replaced
    out, err = p.communicate(timeout=duration + 20)
    elapsed = time.monotonic() - t0
    res = json.loads(out)
    # The client finished on time: every call ended by its deadline.
    assert elapsed < duration + 5, elapsed
    secs = res["seconds"]
    assert secs[0]["ok"] > 0 and secs[1]["ok"] > 0, secs
    assert res["timeouts"] > 0, res
    # fcgend is back well before the end: the last seconds are answered.
    assert sum(s["ok"] for s in secs[-3:]) > 0, secs
    assert res["errors"] == 0, res
    assert res["ok"] + res["timeouts"] == res["calls"]
    # After the restart everything is answered again, promptly.
    wait_for(lambda: load(d.rpc_url, "--once", "--host", "after.example",
                          "--deadline", "1000")[0] == 0, 10, what="fcgend answering")


def test_stop_while_loaded(daemon_factory, workdir):
    """SIGTERM with calls in flight: the daemon exits 0 promptly and the
    client's calls end by their deadline."""
    ca = make_ca(workdir)
    d = start_fcgend(daemon_factory, workdir, ca)
    p = load_popen(d.rpc_url, "--duration", "3", "--concurrency", "32", "--deadline", "300",
                   "--unique")
    time.sleep(1)
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    out, _ = p.communicate(timeout=20)
    res = json.loads(out)
    assert res["ok"] > 0 and res["timeouts"] > 0 and res["errors"] == 0
