"""Hot upgrade (g3proxy §6 without Cap'n Proto): a second proxyd of the same
group started with -m (or -d / -s) takes the shared control socket over, serves on the same ports
(SO_REUSEPORT) and retires the first, whose running tunnels finish
undisturbed; a successor that fails to start leaves the first serving, with
its control socket and pid file back. Also cancel-shutdown and g3ctl -p."""

import os
import socket
import threading
import time

from dp_helpers import dp_conf, free_port, recv_exact
from helpers import wait_for, pid_alive

BOUND = 20


class Echo:
    """TCP echo server on loopback: each connection echoes until closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                try:
                    b = c.recv(4096)
                except OSError:
                    return
                if not b:
                    return
                c.sendall(b)

    def stop(self):
        self.stopping = True
        self.sock.close()


def tunnel(proxy_port, target_port):
    """A CONNECT tunnel through proxyd to 127.0.0.1:target_port."""
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    s.sendall(f"CONNECT 127.0.0.1:{target_port} HTTP/1.1\r\n"
              f"Host: 127.0.0.1:{target_port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(1)
        assert b, f"closed during CONNECT: {head!r}"
        head += b
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def echo_ok(s, msg):
    s.sendall(msg)
    assert recv_exact(s, len(msg)) == msg


def offline_delay(conf, value):
    assert "server_offline_delay: 0\n" in conf
    return conf.replace("server_offline_delay: 0\n", f"server_offline_delay: {value}\n", 1)


def shared_pid(ctl):
    r = ctl.run("status", json_out=True, timeout_ms=1000)
    if r.returncode != 0:
        return None
    import json
    return json.loads(r.stdout)["pid"]


def pid_status(ctl, pid):
    """status of one process through its own socket, None when it did not
    answer (a busy machine may delay an answer past g3ctl's timeout)."""
    import json
    r = ctl.run_pid(pid, "status", json_out=True)
    return json.loads(r.stdout) if r.returncode == 0 else None


def own_socket(workdir, pid):
    return os.path.join(str(workdir), f"proxyd_test@{pid}.ctl")


def test_upgrade_hands_over_and_drains(workdir, daemon_factory, write_conf):
    echo = Echo()
    port = free_port()
    conf = write_conf(offline_delay(dp_conf(http_port=port), "1s"))
    old = daemon_factory("proxyd")
    old.start(conf, "-vv")
    assert os.path.exists(own_socket(workdir, old.pid))
    t = tunnel(port, echo.port)
    echo_ok(t, b"before")

    new = daemon_factory("proxyd")
    new.start(conf, "-vv", "-m", wait=False)
    wait_for(lambda: shared_pid(new.ctl) == new.pid, BOUND, what="successor on the shared socket")
    assert os.path.exists(own_socket(workdir, new.pid))
    # the old one answers on its own socket and goes offline after 1s
    wait_for(lambda: (pid_status(old.ctl, old.pid) or {"online": True})["online"] is False,
             BOUND, what="old offline")
    st = old.ctl.json_pid(old.pid)
    assert st["stopping"] and st["alive_tasks"] >= 1
    # its tunnel still works; new connections go to the successor
    echo_ok(t, b"during the drain")
    t2 = tunnel(port, echo.port)
    echo_ok(t2, b"new process")
    assert new.ctl.status()["alive_tasks"] >= 1
    assert pid_alive(old.pid)
    t.close()
    assert old.wait_exit(BOUND) == 0
    assert not os.path.exists(own_socket(workdir, old.pid))
    # the shared socket file is the successor's, and it still answers
    assert shared_pid(new.ctl) == new.pid
    echo_ok(t2, b"after")
    t2.close()
    log = old.stderr()
    assert f"process {new.pid} takes over" in log, log
    assert "retiring" in log, log
    assert f"took the control socket over from process {old.pid}" in new.stderr()
    echo.stop()


def test_failed_successor_leaves_the_old_serving(workdir, daemon_factory, write_conf):
    echo = Echo()
    port = free_port()
    pidfile = workdir / "proxyd.pid"
    old = daemon_factory("proxyd")
    old.start(write_conf(dp_conf(http_port=port)), "-vv", "-p", str(pidfile))
    assert pidfile.read_text() == f"{old.pid}\n"
    # a port held without SO_REUSEPORT: the successor cannot listen there
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    busy = blocker.getsockname()[1]
    bad = dp_conf(http_port=port, extra=(
        f"  - name: other\n    type: http_proxy\n    listen: 127.0.0.1:{busy}\n"
        "    escaper: direct\n"))
    new = daemon_factory("proxyd")
    new.start(write_conf(bad, name="bad.yaml"), "-m", "-p", str(pidfile), wait=False)
    assert new.wait_exit(BOUND) == 1
    assert "cannot start" in new.stderr()
    # the old process has its control socket and pid file back, and serves
    wait_for(lambda: shared_pid(old.ctl) == old.pid, BOUND, what="old back on the socket")
    wait_for(lambda: pidfile.exists() and pidfile.read_text() == f"{old.pid}\n", BOUND,
             what="pid file back")
    st = old.ctl.status()
    assert st["online"] and not st["stopping"]
    t = tunnel(port, echo.port)
    echo_ok(t, b"still here")
    t.close()
    assert "hot upgrade abandoned" in old.stderr()
    assert not os.path.exists(own_socket(workdir, new.pid))
    blocker.close()
    echo.stop()


def test_invalid_config_never_touches_the_old(workdir, daemon_factory, write_conf):
    old = daemon_factory("proxyd")
    old.start(write_conf(dp_conf(http_port=free_port())))
    new = daemon_factory("proxyd")
    new.start(write_conf("server: [{name: x, type: nope}]\n", name="bad.yaml"), "-m",
              wait=False)
    assert new.wait_exit(BOUND) == 1
    assert shared_pid(old.ctl) == old.pid
    assert "takes over" not in old.stderr()


def test_plain_foreground_refuses_to_replace(workdir, daemon_factory, write_conf):
    old = daemon_factory("proxyd")
    old.start(write_conf(dp_conf(http_port=free_port())))
    new = daemon_factory("proxyd")
    new.start(write_conf(dp_conf(http_port=free_port()), name="other.yaml"), wait=False)
    assert new.wait_exit(BOUND) == 1
    assert "start with -d, -s or -m to replace it" in new.stderr()
    assert shared_pid(old.ctl) == old.pid
    st = old.ctl.status()
    assert st["online"] and not st["stopping"]
    assert not os.path.exists(own_socket(workdir, new.pid))


def test_cancel_shutdown_and_pid_socket(workdir, daemon_factory, write_conf):
    d = daemon_factory("proxyd")
    d.start(write_conf(offline_delay(dp_conf(http_port=free_port()), "5s")))
    r = d.ctl.json("cancel-shutdown")
    assert r == {"cancelled": False, "controller_resumed": False}
    assert d.ctl.run("offline").returncode == 0
    assert d.ctl.status()["stopping"]
    r = d.ctl.json("cancel-shutdown")
    assert r["cancelled"] is True
    st = d.ctl.json_pid(d.pid)
    assert st["online"] and not st["stopping"]
    time.sleep(0.5)
    assert pid_alive(d.pid)
    # -p with a pid that has no socket: unreachable (exit 3)
    r = d.ctl.run_pid(999999999, "status")
    assert r.returncode == 3, r.stderr
