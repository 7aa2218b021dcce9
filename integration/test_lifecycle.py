"""Daemon lifecycle as an operator sees it, against the real proxyd and g3ctl:
command line, -t, control socket (status, version, reload, offline), signals,
-d with a pid file, systemd notification, and g3ctl's exit statuses."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from helpers import MINIMAL_CONF, Ctl, binary, pid_alive, wait_for

# A stop with no delays configured must finish well within this.
STOP_BOUND = 10.0

BAD_CONF = """\
runtime:
  server_offline_delay: 0
  bogus_key: 1
  task_wait_delay: soon
log: discard
"""
# Lines conf_print_errors must produce for BAD_CONF (path prefixed).
BAD_LINE_1 = ":3:3: error: runtime: unknown key 'bogus_key'"
BAD_LINE_2_PREFIX = ":4:20: error: runtime.task_wait_delay: "


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)


def assert_bad_conf_errors(text, path):
    lines = text.splitlines()
    assert f"{path}{BAD_LINE_1}" in lines, text
    assert any(line.startswith(f"{path}{BAD_LINE_2_PREFIX}") and "soon" in line
               for line in lines), text


# ---- command line -------------------------------------------------------------

def test_version_flag():
    r = run([binary("proxyd"), "-V"])
    assert r.returncode == 0
    assert re.fullmatch(r"proxyd \d+\.\d+\.\d+\S*\n", r.stdout), r.stdout
    r2 = run([binary("proxyd"), "--version"])
    assert r2.stdout == r.stdout


def test_help_lists_options():
    r = run([binary("proxyd"), "-h"])
    assert r.returncode == 0
    for opt in ("--config-file", "--test-config", "--group-name", "--daemon", "--pid-file",
                "--systemd", "--control-dir", "--version"):
        assert opt in r.stdout


@pytest.mark.parametrize("args", [["--bogus"], ["-c"], ["stray-argument"], ["-G", "a/b"]])
def test_usage_errors_exit_2(args):
    r = run([binary("proxyd")] + args)
    assert r.returncode == 2, r
    assert r.stderr.startswith("proxyd: "), r.stderr
    assert r.stdout == ""


def test_test_config_ok(write_conf):
    conf = write_conf(MINIMAL_CONF)
    r = run([binary("proxyd"), "-t", "-c", str(conf)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{conf}: configuration OK\n"


def test_test_config_bad_prints_every_error(write_conf):
    conf = write_conf(BAD_CONF)
    r = run([binary("proxyd"), "--test-config", "-c", str(conf)])
    assert r.returncode == 1
    assert_bad_conf_errors(r.stderr, conf)
    assert "configuration OK" not in r.stdout


def test_test_config_directory(write_conf, workdir):
    write_conf(MINIMAL_CONF, name="proxyd.yaml")
    r = run([binary("proxyd"), "-t", "-c", str(workdir)])
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"{workdir}: configuration OK\n"


def test_test_config_missing_file(workdir):
    missing = workdir / "nope.yaml"
    r = run([binary("proxyd"), "-t", "-c", str(missing)])
    assert r.returncode == 1
    assert str(missing) in r.stderr


def test_start_with_bad_config_exits_1(daemon_factory, write_conf):
    d = daemon_factory()
    conf = write_conf(BAD_CONF)
    d.start(conf, wait=False)
    assert d.wait_exit(STOP_BOUND) == 1
    assert_bad_conf_errors(d.stderr(), conf)
    assert not os.path.exists(d.ctl.socket_path())


# ---- control socket ---------------------------------------------------------------

def test_status(proxyd):
    st = proxyd.ctl.status()
    assert st["name"] == "proxyd"
    assert st["pid"] == proxyd.pid
    assert st["group"] == "test"
    assert st["config"] == str(proxyd.conf)
    assert st["online"] is True
    assert st["stopping"] is False
    assert st["reloads_ok"] == 0 and st["reloads_failed"] == 0
    assert st["alive_tasks"] == 0
    now_us = time.time() * 1e6
    assert abs(st["loaded_at_us"] - now_us) < 60e6
    assert st["started_at_us"] <= st["loaded_at_us"]
    assert isinstance(st["counters"], dict)


def test_status_human_output(proxyd):
    r = proxyd.ctl.run("status")
    assert r.returncode == 0, r.stderr
    fields, cols = {}, set()
    for line in r.stdout.splitlines():
        m = re.match(r"^(\w+):\s+(\S.*)$", line)
        if m:  # top-level "key: value" (nested counters are indented)
            fields[m.group(1)] = m.group(2)
            cols.add(m.start(2))
    assert fields["pid"] == str(proxyd.pid)
    assert fields["config"] == str(proxyd.conf)
    assert fields["online"] == "yes"
    assert fields["group"] == "test"
    assert len(cols) == 1, r.stdout  # values aligned in one column


def test_g3ctl_version_matches_binary(proxyd):
    v = proxyd.ctl.json("version")
    out = run([binary("proxyd"), "-V"]).stdout.split()
    assert [v["name"], v["version"]] == out


def test_reload_good_config(proxyd):
    before = proxyd.ctl.status()
    time.sleep(0.01)
    proxyd.conf.write_text(MINIMAL_CONF + "# changed\n")
    r = proxyd.ctl.run("reload", json_out=True)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["reloads_ok"] == 1
    after = proxyd.ctl.status()
    assert after["reloads_ok"] == 1 and after["reloads_failed"] == 0
    assert after["loaded_at_us"] > before["loaded_at_us"]
    assert after["loaded_at_us"] == rep["loaded_at_us"]
    assert after["pid"] == before["pid"]


def test_reload_bad_config_changes_nothing(proxyd):
    before = proxyd.ctl.status()
    proxyd.conf.write_text(BAD_CONF)
    r = proxyd.ctl.run("reload")
    assert r.returncode == 1
    assert_bad_conf_errors(r.stderr, proxyd.conf)
    assert r.stdout == ""
    after = proxyd.ctl.status()  # still serving
    assert after["online"] is True
    assert after["reloads_failed"] == 1 and after["reloads_ok"] == 0
    assert after["loaded_at_us"] == before["loaded_at_us"]
    # Fixing the file makes the next reload succeed.
    proxyd.conf.write_text(MINIMAL_CONF)
    assert proxyd.ctl.run("reload").returncode == 0
    assert proxyd.ctl.status()["reloads_ok"] == 1


def test_reload_bad_config_json_error(proxyd):
    proxyd.conf.write_text(BAD_CONF)
    r = proxyd.ctl.run("reload", json_out=True)
    assert r.returncode == 1
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "FAILED_PRECONDITION"
    assert f"{proxyd.conf}{BAD_LINE_1}" in err["message"].splitlines()


def test_sighup_reloads(proxyd):
    before = proxyd.ctl.status()
    time.sleep(0.01)
    proxyd.conf.write_text(MINIMAL_CONF + "# changed\n")
    proxyd.signal(signal.SIGHUP)
    after = wait_for(lambda: (lambda s: s if s["reloads_ok"] == 1 else None)(
        proxyd.ctl.status()), 5, what="reload count")
    assert after["loaded_at_us"] > before["loaded_at_us"]
    assert after["pid"] == proxyd.pid


def test_sighup_bad_config_logs_errors(proxyd):
    before = proxyd.ctl.status()
    proxyd.conf.write_text(BAD_CONF)
    proxyd.signal(signal.SIGHUP)
    after = wait_for(lambda: (lambda s: s if s["reloads_failed"] == 1 else None)(
        proxyd.ctl.status()), 5, what="failed reload count")
    assert after["loaded_at_us"] == before["loaded_at_us"]
    assert after["online"] is True
    log = wait_for(lambda: (lambda t: t if BAD_LINE_1 in t else None)(proxyd.stderr()), 5,
                   what="error in the process log")
    assert f"{proxyd.conf}{BAD_LINE_1}" in log
    assert f"{proxyd.conf}{BAD_LINE_2_PREFIX}" in log


# ---- stopping ---------------------------------------------------------------------------

def test_sigterm_graceful_exit(proxyd):
    sock = proxyd.ctl.socket_path()
    t0 = time.monotonic()
    proxyd.signal(signal.SIGTERM)
    assert proxyd.wait_exit(STOP_BOUND) == 0
    assert time.monotonic() - t0 < STOP_BOUND
    assert not os.path.exists(sock)


def test_sigterm_honours_offline_delay(daemon_factory, write_conf):
    d = daemon_factory()
    conf = write_conf("runtime:\n  server_offline_delay: 1500ms\n  task_wait_delay: 0\n"
                      "log: discard\n")
    d.start(conf)
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    # Inside the wait window: still answering, stopping, servers online.
    st = d.ctl.status()
    assert st["stopping"] is True and st["online"] is True
    assert d.wait_exit(STOP_BOUND) == 0
    assert time.monotonic() - t0 >= 1.4


def test_g3ctl_offline(proxyd):
    sock = proxyd.ctl.socket_path()
    r = proxyd.ctl.run("offline", json_out=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["offline"] == "stopping"
    assert proxyd.wait_exit(STOP_BOUND) == 0
    assert not os.path.exists(sock)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT])
def test_immediate_stop_skips_delays(daemon_factory, write_conf, sig):
    d = daemon_factory()
    conf = write_conf("runtime:\n  server_offline_delay: 60s\n  task_wait_delay: 60s\n"
                      "log: discard\n")
    d.start(conf)
    t0 = time.monotonic()
    d.signal(sig)
    assert d.wait_exit(STOP_BOUND) == 0
    assert time.monotonic() - t0 < 5


def test_sigint_during_graceful_wait(daemon_factory, write_conf):
    d = daemon_factory()
    conf = write_conf("runtime:\n  server_offline_delay: 60s\nlog: discard\n")
    d.start(conf)
    d.signal(signal.SIGTERM)
    wait_for(lambda: d.ctl.status()["stopping"], 5, what="stopping flag")
    r = d.ctl.run("offline", json_out=True)  # a second stop request is harmless
    assert r.returncode == 0 and json.loads(r.stdout)["offline"] == "already stopping"
    d.signal(signal.SIGINT)
    assert d.wait_exit(STOP_BOUND) == 0


# ---- -d, -p --------------------------------------------------------------------------------

def test_daemonize_with_pidfile(workdir, write_conf, daemon_factory):
    conf = write_conf(MINIMAL_CONF)
    pidfile = workdir / "proxyd.pid"
    d = daemon_factory()
    d.start(conf, "-d", "-p", str(pidfile), wait=False)
    # The starter returns once the daemon serves.
    assert d.wait_exit(STOP_BOUND) == 0
    text = pidfile.read_text()
    assert re.fullmatch(r"\d+\n", text), text
    pid = int(text)
    d.extra_pids.append(pid)
    assert pid != d.pid and pid_alive(pid)
    st = d.ctl.status()
    assert st["pid"] == pid
    # Detached: its stdio is no longer ours, its cwd is /.
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    assert d.ctl.run("offline").returncode == 0
    wait_for(lambda: not pid_alive(pid), STOP_BOUND, what="daemon exit")
    assert not pidfile.exists()
    assert not os.path.exists(d.ctl.socket_path())


def test_second_instance_same_pidfile_refused(workdir, write_conf, daemon_factory):
    conf = write_conf(MINIMAL_CONF)
    pidfile = workdir / "proxyd.pid"
    first = daemon_factory(group="one")
    first.start(conf, "-p", str(pidfile))
    assert pidfile.read_text() == f"{first.pid}\n"

    second = daemon_factory(group="two")
    second.start(conf, "-p", str(pidfile), wait=False)
    assert second.wait_exit(STOP_BOUND) == 1
    err = second.stderr()
    assert f"pid file {pidfile} is locked by process {first.pid}" in err, err
    assert not os.path.exists(second.ctl.socket_path())

    # Detached, the refusal still reaches the starter's stderr and status.
    third = daemon_factory(group="three")
    third.start(conf, "-d", "-p", str(pidfile), wait=False)
    assert third.wait_exit(STOP_BOUND) == 1
    assert f"is locked by process {first.pid}" in third.stderr()

    # The first one is unaffected and keeps its pid file until it stops.
    assert first.ctl.status()["pid"] == first.pid
    assert pidfile.read_text() == f"{first.pid}\n"
    first.signal(signal.SIGTERM)
    assert first.wait_exit(STOP_BOUND) == 0
    assert not pidfile.exists()


def test_control_dir_created(daemon_factory, write_conf, workdir):
    conf = write_conf(MINIMAL_CONF)
    d = daemon_factory()
    sub = workdir / "a" / "b"
    d.start(conf, "-C", str(sub), wait=False)  # the last -C wins
    ctl = Ctl("proxyd", "test", sub)
    wait_for(lambda: ctl.run("status", timeout_ms=1000).returncode == 0, 10,
             what="control socket in a new directory")
    assert (sub / "proxyd_test.ctl").exists()


# ---- systemd ----------------------------------------------------------------------------------

def test_systemd_notify(workdir, write_conf, daemon_factory):
    conf = write_conf(MINIMAL_CONF)
    path = str(workdir / "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        ns.bind(path)
        ns.settimeout(STOP_BOUND)
        d = daemon_factory()
        d.start(conf, "-s", env={"NOTIFY_SOCKET": path})
        assert ns.recv(4096).decode() == "READY=1"

        d.signal(signal.SIGHUP)
        msg = ns.recv(4096).decode().split("\n")
        assert msg[0] == "RELOADING=1"
        assert re.fullmatch(r"MONOTONIC_USEC=\d+", msg[1]), msg
        assert ns.recv(4096).decode() == "READY=1"

        d.signal(signal.SIGTERM)
        assert ns.recv(4096).decode() == "STOPPING=1"
        assert d.wait_exit(STOP_BOUND) == 0
    finally:
        ns.close()


# ---- g3ctl ---------------------------------------------------------------------------------

def test_g3ctl_missing_daemon_exits_3(workdir):
    ctl = Ctl("proxyd", "nobody", workdir)
    t0 = time.monotonic()
    r = ctl.run("status")
    assert r.returncode == 3
    assert time.monotonic() - t0 < 2
    assert "not running" in r.stderr and ctl.socket_path() in r.stderr


def test_g3ctl_stale_socket_exits_3(workdir):
    ctl = Ctl("proxyd", "stale", workdir)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(ctl.socket_path())
    s.close()  # the file stays, nobody listens
    t0 = time.monotonic()
    r = ctl.run("status")
    assert r.returncode == 3, r
    assert time.monotonic() - t0 < 2


def test_g3ctl_deadline_exits_3(proxyd):
    proxyd.signal(signal.SIGSTOP)  # socket there, nobody answering
    try:
        t0 = time.monotonic()
        r = proxyd.ctl.run("status", timeout_ms=300)
        assert r.returncode == 3, r
        assert time.monotonic() - t0 < 3
        assert "did not answer within 300 ms" in r.stderr
    finally:
        proxyd.signal(signal.SIGCONT)
    assert proxyd.ctl.status()["pid"] == proxyd.pid  # fine once resumed


@pytest.mark.parametrize("args", [
    [],                                    # no -d
    ["-d", "proxyd"],                      # no command
    ["-d", "proxyd", "frobnicate"],        # unknown command
    ["-d", "proxyd", "status", "extra"],   # stray argument
    ["-d", "proxyd", "--timeout", "x", "status"],
    ["-d", "proxyd", "--bogus", "status"],
])
def test_g3ctl_usage_errors_exit_2(workdir, args):
    r = run([binary("g3ctl"), "-C", str(workdir)] + args)
    assert r.returncode == 2, r
    assert r.stderr.startswith("g3ctl: "), r.stderr


def test_g3ctl_help_lists_commands():
    r = run([binary("g3ctl"), "--help"])
    assert r.returncode == 0
    for cmd in ("status", "version", "reload", "offline"):
        assert re.search(rf"^  {cmd}\b", r.stdout, re.M), r.stdout
