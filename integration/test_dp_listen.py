"""proxyd listeners: one SO_REUSEPORT socket per worker and server, kept
across reloads when the address is unchanged, closed when removed or when
going offline; ingress_network_filter at accept; graceful stop waits for
live tunnels; bind errors fail the start or the reload and change nothing."""

import signal
import socket
import time

import pytest

from dp_fixtures import dp_clean_exit, origin, origin_root  # noqa: F401
from dp_helpers import (closed_by_peer, dp_conf, free_port, http_get_over, listen_inodes,
                        port_listening, socks5_open, start_proxyd, task_records,
                        upstream_is, wait_port, wait_record)
from helpers import wait_for


def reload(d):
    r = d.ctl.run("reload")
    return r


def test_listeners_per_worker(daemon_factory, write_conf):
    sp, hp = free_port(), free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=sp, http_port=hp, workers=3))
    # three workers: three listening sockets on each port
    assert len(listen_inodes(sp)) == 3
    assert len(listen_inodes(hp)) == 3
    assert d.ctl.status()["counters"]["workers"] == 3


def test_reload_keeps_changes_and_closes(daemon_factory, write_conf, origin):  # noqa: F811
    sp, hp, hp2 = free_port(), free_port(), free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=sp, http_port=hp))
    socks_before = listen_inodes(sp)
    assert len(socks_before) == 2
    # a tunnel that lives across the reload
    s, _, rep = socks5_open(sp, "127.0.0.1", origin.port)
    assert rep[:2] == b"\x05\x00"

    write_conf(dp_conf(socks_port=sp, http_port=hp2))  # http moves, socks stays
    r = reload(d)
    assert r.returncode == 0, r.stderr
    wait_port(hp2)
    wait_for(lambda: not port_listening(hp), 5, what="old http port closed")
    assert listen_inodes(sp) == socks_before  # the very same sockets
    with s:
        assert http_get_over(s).endswith(b"hello from origin\n")

    # the server is removed: its sockets close
    write_conf(dp_conf(http_port=hp2))
    assert reload(d).returncode == 0
    wait_for(lambda: not listen_inodes(sp), 5, what="socks sockets closed")
    assert port_listening(hp2)


def test_reload_bind_error_changes_nothing(daemon_factory, write_conf):
    sp = free_port()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=sp))
        write_conf(dp_conf(socks_port=sp, http_port=busy.getsockname()[1]))
        r = reload(d)
        assert r.returncode != 0
        assert "cannot listen on" in (r.stdout + r.stderr)
        assert port_listening(sp)
        assert len(listen_inodes(sp)) == 2
    finally:
        busy.close()


def test_start_bind_error(daemon_factory, write_conf):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        d = daemon_factory("proxyd")
        conf = write_conf(dp_conf(http_port=busy.getsockname()[1]))
        d.start(conf, wait=False)
        assert d.wait_exit(10) == 1
        assert "cannot listen on" in d.stderr()
    finally:
        busy.close()


def test_ingress_filter(daemon_factory, write_conf, origin):  # noqa: F811
    sp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=sp, socks="ingress_network_filter: {deny: 127.0.0.1}"))
    with socket.create_connection(("127.0.0.1", sp), timeout=5) as s:
        s.sendall(b"\x05\x01\x00")
        assert closed_by_peer(s)  # accepted and closed, no reply
    assert d.ctl.status()["counters"]["ingress_dropped"] >= 1
    # the rule is reloadable: permit again (127.0.0.1 is the built-in allow)
    write_conf(dp_conf(socks_port=sp))
    assert reload(d).returncode == 0
    time.sleep(0.3)
    s, _, rep = socks5_open(sp, "127.0.0.1", origin.port)
    with s:
        assert rep[:2] == b"\x05\x00"


def test_graceful_stop_waits_for_tunnel(daemon_factory, write_conf, origin):  # noqa: F811
    sp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=sp, runtime="task_wait_timeout: 30s"))
    s, _, rep = socks5_open(sp, "127.0.0.1", origin.port)
    assert rep[:2] == b"\x05\x00"
    d.signal(signal.SIGTERM)
    # offline: the listeners go, the process and the tunnel stay
    wait_for(lambda: not port_listening(sp), 5, what="listeners closed")
    time.sleep(1.0)
    assert d.proc.poll() is None
    with s:
        assert http_get_over(s).endswith(b"hello from origin\n")
    # the tunnel closed: the drain ends and the process exits cleanly
    assert d.wait_exit(10) == 0
    rec = wait_record(d, upstream_is(f"127.0.0.1:{origin.port}"))
    assert rec["reason"] == "ClosedByUpstream"


def test_stop_timeout_cancels_tunnel(daemon_factory, write_conf, origin):  # noqa: F811
    """Past task_wait_timeout the remaining tasks end as CanceledAsServerQuit."""
    sp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(
        socks_port=sp, runtime="task_wait_timeout: 1s"))
    s, _, rep = socks5_open(sp, "127.0.0.1", origin.port)
    assert rep[:2] == b"\x05\x00"
    d.signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    with s:
        assert closed_by_peer(s)
    rec = wait_record(d, upstream_is(f"127.0.0.1:{origin.port}"))
    assert rec["reason"] == "CanceledAsServerQuit"


@pytest.mark.parametrize("workers", [1, 2])
def test_many_connections_spread(daemon_factory, write_conf, origin, workers):  # noqa: F811
    """Every accepted connection is served whichever worker took it."""
    sp = free_port()
    d = start_proxyd(daemon_factory, write_conf, dp_conf(socks_port=sp, workers=workers))
    socks = []
    for _ in range(20):
        s, _, rep = socks5_open(sp, "127.0.0.1", origin.port)
        assert rep[:2] == b"\x05\x00"
        socks.append(s)
    for s in socks:
        with s:
            assert http_get_over(s).endswith(b"hello from origin\n")
    wait_for(lambda: len(task_records(d)) >= 20, 5, what="20 task records")
    assert d.ctl.status()["counters"]["tasks"] == 20
