"""Dynamic user sources of a basic user group: a real redis-server on
loopback (started here, stopped by PID) whose hash maps usernames to user
JSON, and a JSON file source; `g3ctl user-group NAME list-users` follows
adds, changes, blocks and deletes within the refresh interval, keeps the
last good users when the source is down or bad, and publish-user adds
dynamic users until the next refresh."""

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from dp_fixtures import dp_clean_exit  # noqa: F401
from dp_helpers import dp_conf, free_port, start_proxyd
from helpers import kill_pid, wait_for

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")


# ---- a redis-server of our own ------------------------------------------------------


def _resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        if t == b"-":
            raise RuntimeError(rest.decode())
        return rest.decode()
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode()
    if t == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    raise RuntimeError(f"bad reply {line!r}")


class Redis:
    """redis-server on 127.0.0.1:<free port>, no persistence, in a temp dir."""

    def __init__(self, workdir, password=None, port=None):
        self.workdir = workdir
        self.password = password
        self.port = port or free_port()
        self.proc = None
        self.start()

    def start(self):
        argv = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.log = open(self.workdir / f"redis.{self.port}.log", "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        wait_for(self._up, 10, what="redis-server listening")

    def _up(self):
        try:
            self.cmd("PING")
            return True
        except OSError:
            return False

    def cmd(self, *args, db=0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
            f = s.makefile("rb")
            pre = []
            if self.password:
                pre.append(("AUTH", self.password))
            if db:
                pre.append(("SELECT", str(db)))
            for p in pre:
                s.sendall(_resp(*p))
                _read_reply(f)
            s.sendall(_resp(*args))
            return _read_reply(f)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            kill_pid(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
        self.log.close()


@pytest.fixture
def redis(workdir):
    r = Redis(workdir)
    yield r
    r.stop()


# ---- helpers ---------------------------------------------------------------------


def group_conf(source, refresh="300ms", extra=""):
    return ("user_group:\n  - name: g\n"
            "    static_users:\n      - {name: static1, token: null}\n"
            f"    source: {source}\n    refresh_interval: {refresh}\n{extra}")


def users(d, group="g"):
    out = d.ctl.json("user-group", group, "list-users")
    return {u["name"]: u for u in out.get("users", [])}


def status(d, group="g"):
    return d.ctl.json("user-group", group, "status")


def wait_users(d, pred, what, timeout=5):
    def ok():
        u = users(d)
        return u if pred(u) else None
    return wait_for(ok, timeout, what=what)


def start(daemon_factory, write_conf, source, stat_port=None, **kw):
    extra = group_conf(source, **kw)
    if stat_port:
        extra += (f"stat:\n  target_udp: 127.0.0.1:{stat_port}\n  prefix: g3proxy\n"
                  "  emit_interval: 100ms\n")
    return start_proxyd(daemon_factory, write_conf, dp_conf(http_port=free_port(), extra=extra))


class StatSink:
    """A UDP socket whose StatsD lines a thread keeps in self.lines."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.lines = []
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                self.lines += self.sock.recv(65536).decode().split("\n")
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()

    def total(self, name, tag):
        return sum(int(ln.split(":", 1)[1].split("|")[0]) for ln in list(self.lines)
                   if ln.startswith(name + ":") and tag in ln)


# ---- redis ----------------------------------------------------------------------


def test_redis_add_change_block_delete(daemon_factory, write_conf, redis, dp_clean_exit):  # noqa: F811
    redis.cmd("HSET", "proxy_users", "alice", json.dumps({"token": None}))
    d = start(daemon_factory, write_conf,
              f"redis://127.0.0.1:{redis.port}/0?key=proxy_users")
    u = wait_users(d, lambda u: "alice" in u, "alice loaded from redis")
    assert u["alice"]["dynamic"] is True and u["alice"]["blocked"] is False
    assert u["static1"]["dynamic"] is False

    redis.cmd("HSET", "proxy_users", "bob", json.dumps({"name": "bob", "token": None}))
    wait_users(d, lambda u: "bob" in u and "alice" in u, "bob added")

    redis.cmd("HSET", "proxy_users", "alice",
              json.dumps({"token": None, "block_and_delay": "1s"}))
    wait_users(d, lambda u: u.get("alice", {}).get("blocked"), "alice blocked")

    redis.cmd("HDEL", "proxy_users", "alice")
    u = wait_users(d, lambda u: "alice" not in u, "alice deleted")
    assert set(u) == {"bob", "static1"}
    st = status(d)
    assert st["source"] == "redis" and st["source_errors"] == 0
    assert st["source_loads"] >= 4


def test_redis_down_keeps_users_and_reconnects(daemon_factory, write_conf, redis,
                                               dp_clean_exit):  # noqa: F811
    redis.cmd("HSET", "u", "carol", json.dumps({"token": None}))
    stat = StatSink()
    d = start(daemon_factory, write_conf,
              f"{{type: redis, addr: '127.0.0.1:{redis.port}', key: u, "
              "connect_timeout: 500ms, response_timeout: 500ms}",
              stat_port=stat.port)
    wait_users(d, lambda u: "carol" in u, "carol loaded")
    port = redis.port
    redis.stop()
    wait_for(lambda: status(d)["source_errors"] > 0, 5, what="the redis error counted")
    time.sleep(0.7)  # a few refreshes while down
    assert "carol" in users(d)
    assert "connection lost" in d.stderr() or "cannot connect" in d.stderr()
    assert d.ctl.status()["counters"]["user_source_errors"] > 0
    # the StatsD counter and the users gauge, tagged with the group
    wait_for(lambda: stat.total("g3proxy.user_group.source.errors", "user_group:g") > 0, 5,
             what="user_group.source.errors sent")
    assert stat.total("g3proxy.user_group.source.loads", "user_group:g") >= 1
    assert any(ln.startswith("g3proxy.user_group.users:2|g|") and "user_group:g" in ln
               for ln in list(stat.lines))
    stat.close()

    # redis comes back (empty: no persistence) with a new user set
    back = Redis(redis.workdir, port=port)
    try:
        back.cmd("HSET", "u", "dave", json.dumps({"token": None}))
        wait_users(d, lambda u: "dave" in u and "carol" not in u, "reconnected", timeout=15)
    finally:
        back.stop()


def test_redis_bad_json_skips_that_user(daemon_factory, write_conf, redis, dp_clean_exit):  # noqa: F811
    redis.cmd("HSET", "k", "good", json.dumps({"token": None}))
    redis.cmd("HSET", "k", "broken", '{"token": null, "block_and_delay": ')
    redis.cmd("HSET", "k", "wrongkey", json.dumps({"tokn": None}))
    d = start(daemon_factory, write_conf, f"redis://127.0.0.1:{redis.port}?key=k")
    u = wait_users(d, lambda u: "good" in u, "good loaded")
    assert "broken" not in u and "wrongkey" not in u
    err = d.stderr()
    assert "redis user 'broken' skipped" in err
    assert "redis user 'wrongkey' skipped" in err and "unknown key" in err
    assert status(d)["skipped_users"] >= 2
    # the same bad value is not logged again at every refresh; a new bad value is
    wait_for(lambda: status(d)["source_loads"] >= 4, 5, what="a few refreshes")
    assert d.stderr().count("redis user 'broken' skipped") == 1
    redis.cmd("HSET", "k", "broken", '{"token": nul}')
    wait_for(lambda: d.stderr().count("redis user 'broken' skipped") == 2, 5,
             what="the changed bad value logged")


def test_redis_map_form_auth_and_db(daemon_factory, write_conf, workdir, dp_clean_exit):  # noqa: F811
    r = Redis(workdir, password="s3cret")
    try:
        r.cmd("HSET", "users", "erin", json.dumps({"token": None}), db=3)
        d = start(daemon_factory, write_conf,
                  f"{{type: redis, addr: '127.0.0.1:{r.port}', db: 3, password: s3cret, "
                  "key: users}")
        wait_users(d, lambda u: "erin" in u, "erin loaded with AUTH and SELECT")
        d.signal(signal.SIGINT)
        d.wait_exit(10)
        # a wrong password: an error logged and counted, no users
        d2 = start(daemon_factory, write_conf,
                   f"redis://:wrong@127.0.0.1:{r.port}/3?key=users")
        wait_for(lambda: status(d2)["source_errors"] > 0, 5, what="AUTH failure counted")
        assert "erin" not in users(d2)
    finally:
        r.stop()


def test_redis_cache_used_when_down_at_start(daemon_factory, write_conf, redis, workdir,
                                             dp_clean_exit):  # noqa: F811
    cache = workdir / "users.cache.json"
    redis.cmd("HSET", "k", "frank", json.dumps({"token": None}))
    src = f"redis://127.0.0.1:{redis.port}?key=k"
    d = start(daemon_factory, write_conf, src, extra=f"    cache: {cache}\n")
    wait_users(d, lambda u: "frank" in u, "frank loaded")
    wait_for(lambda: cache.exists() and "frank" in cache.read_text(), 5, what="cache written")
    cached = json.loads(cache.read_text())
    assert cached == [{"name": "frank", "token": None}]
    d.signal(signal.SIGINT)
    d.wait_exit(10)
    redis.stop()
    d2 = start(daemon_factory, write_conf, src, extra=f"    cache: {cache}\n")
    assert "frank" in users(d2)  # from the cache, redis being down


# ---- file -----------------------------------------------------------------------


def test_file_source_follows_changes(daemon_factory, write_conf, workdir,
                                     dp_clean_exit):  # noqa: F811
    f = workdir / "users.json"
    f.write_text(json.dumps([{"name": "gina", "token": None}]))
    d = start(daemon_factory, write_conf, f"{{type: file, path: {f}}}", refresh="60s")
    assert "gina" in users(d)  # loaded at start
    f.write_text(json.dumps([{"name": "hank", "token": None}]))
    wait_users(d, lambda u: "hank" in u and "gina" not in u, "file change seen", timeout=5)
    # a bad file keeps the last good users and logs file:line
    f.write_text('[\n{"name": "ivan",\n "token": "$7$bad"}]')
    wait_for(lambda: status(d)["source_errors"] > 0, 5, what="bad file counted")
    assert "hank" in users(d) and "ivan" not in users(d)
    assert f"{f}:3:" in d.stderr()


def test_publish_user_until_next_refresh(daemon_factory, write_conf, workdir,
                                         dp_clean_exit):  # noqa: F811
    f = workdir / "users.json"
    f.write_text(json.dumps([{"name": "jo", "token": None}]))
    d = start(daemon_factory, write_conf, f"{{type: file, path: {f}}}", refresh="2s")
    pub = workdir / "pub.json"
    pub.write_text(json.dumps([{"name": "kim", "token": None},
                               {"name": "static1", "block_and_delay": "1s"}]))
    r = d.ctl.json("user-group", "g", "publish-user", str(pub))
    assert r["published"] == 2
    u = users(d)
    assert u["kim"]["dynamic"] and u["static1"]["blocked"] and "jo" in u
    # bad JSON is refused with the reason
    pub.write_text('[{"name": "x", "nope": 1}]')
    r = d.ctl.run("user-group", "g", "publish-user", str(pub))
    assert r.returncode != 0 and "unknown key" in r.stderr
    # an unknown group
    r = d.ctl.run("user-group", "nope", "list-users")
    assert r.returncode != 0 and "no user group" in r.stderr
    # the next refresh drops published users
    wait_users(d, lambda u: "kim" not in u, "published users dropped", timeout=5)
    assert users(d)["static1"]["blocked"] is False


def test_auth_through_a_redis_user(daemon_factory, write_conf, redis, dp_clean_exit):  # noqa: F811
    """curl -U through a user that lives only in Redis: allowed, wrong password and
    missing credentials 407, blocked and unblocked by editing Redis, deleted → 407.
    G3C_SRC names the source tree to look for auth.c in (default: this one)."""
    auth_src = os.path.join(os.environ.get("G3C_SRC", os.path.join(os.path.dirname(__file__), "..")), "proxyd", "dp", "auth.c")
    if not os.path.exists(auth_src):
        pytest.skip("proxy authentication (the users helper's auth.c) has not landed")
    from dp_helpers import Origin
    root = redis.workdir / "www"
    root.mkdir()
    (root / "index.html").write_text("hello\n")
    origin = Origin(str(root))
    try:
        tok = subprocess.run(["openssl", "passwd", "-1", "-salt", "abcdefgh", "pw1"],
                             capture_output=True, text=True, check=True).stdout.strip()
        redis.cmd("HSET", "k", "lee", json.dumps({"token": tok}))
        hp = free_port()
        d = start_proxyd(daemon_factory, write_conf,
                         dp_conf(http_port=hp, http="user_group: g",
                                 extra=group_conf(f"redis://127.0.0.1:{redis.port}?key=k")))
        wait_users(d, lambda u: "lee" in u, "lee loaded")
        url = f"http://127.0.0.1:{origin.port}/index.html"

        def curl(*a):
            return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                   "-x", f"http://127.0.0.1:{hp}", *a, url],
                                  capture_output=True, text=True, timeout=10).stdout
        assert curl("-U", "lee:pw1") == "200"
        assert curl("-U", "lee:bad") == "407"
        assert curl() == "407"
        # blocked in Redis: refused once the refresh brings the change
        redis.cmd("HSET", "k", "lee", json.dumps({"token": tok, "block_and_delay": "100ms"}))
        wait_users(d, lambda u: u.get("lee", {}).get("blocked"), "lee blocked")
        assert curl("-U", "lee:pw1") not in ("200", "")
        redis.cmd("HSET", "k", "lee", json.dumps({"token": tok}))
        wait_users(d, lambda u: "lee" in u and not u["lee"]["blocked"], "lee unblocked")
        assert curl("-U", "lee:pw1") == "200"
        redis.cmd("HDEL", "k", "lee")
        wait_users(d, lambda u: "lee" not in u, "lee deleted")
        assert curl("-U", "lee:pw1") == "407"
    finally:
        origin.stop()
