"""Plain helpers for the integration tests: locating binaries, running g3ctl,
starting daemons and stopping them by PID. Fixtures live in conftest.py."""

import json
import os
import pathlib
import signal
import subprocess
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("G3C_BUILD", str(REPO / "build"))).resolve()

# Long enough for a loaded CI machine, short enough that a hang fails fast.
START_TIMEOUT = 10.0
CTL_TIMEOUT_MS = 5000

# Smallest proxyd config: no servers, nothing logged, no shutdown delays so
# stop tests finish quickly.
MINIMAL_CONF = """\
runtime:
  server_offline_delay: 0
  task_wait_delay: 0
log: discard
"""


def binary(name):
    """Absolute path of a built program in $G3C_BUILD/bin; fails the test
    with a clear message when it has not been built."""
    path = BUILD / "bin" / name
    if not path.exists():
        raise AssertionError(f"{path} is missing: build it first (G3C_BUILD={BUILD})")
    return str(path)


def wait_for(pred, timeout, interval=0.05, what="condition"):
    """Poll pred() until it returns a true value (returned) or timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def kill_pid(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class Ctl:
    """g3ctl bound to one daemon name, group and control directory."""

    def __init__(self, daemon, group, control_dir):
        self.daemon = daemon
        self.group = group
        self.control_dir = str(control_dir)

    def argv(self, *args, json_out=False, timeout_ms=CTL_TIMEOUT_MS):
        argv = [binary("g3ctl"), "-d", self.daemon, "-C", self.control_dir]
        if self.group:
            argv += ["-G", self.group]
        if json_out:
            argv.append("--json")
        argv += ["--timeout", str(timeout_ms)]
        return argv + list(args)

    def run(self, *args, json_out=False, timeout_ms=CTL_TIMEOUT_MS):
        """Run g3ctl; returns the CompletedProcess (text mode)."""
        return subprocess.run(self.argv(*args, json_out=json_out, timeout_ms=timeout_ms),
                              capture_output=True, text=True,
                              timeout=timeout_ms / 1000 + 10)

    def json(self, *args):
        """Run a command that must succeed; returns its JSON answer."""
        r = self.run(*args, json_out=True)
        assert r.returncode == 0, f"g3ctl {args} exited {r.returncode}: {r.stderr}"
        return json.loads(r.stdout)

    def status(self):
        return self.json("status")

    def run_pid(self, pid, *args, json_out=False, timeout_ms=CTL_TIMEOUT_MS):
        """Run g3ctl -p PID: that process's own socket, not the shared one."""
        argv = self.argv(json_out=json_out, timeout_ms=timeout_ms) + ["-p", str(pid)]
        return subprocess.run(argv + list(args), capture_output=True, text=True,
                              timeout=timeout_ms / 1000 + 10)

    def json_pid(self, pid, *args):
        """status (or another command) of one process, as JSON; must succeed."""
        r = self.run_pid(pid, *(args or ("status",)), json_out=True)
        assert r.returncode == 0, f"g3ctl -p {pid} {args} exited {r.returncode}: {r.stderr}"
        return json.loads(r.stdout)

    def socket_path(self):
        name = f"{self.daemon}_{self.group}.ctl" if self.group else f"{self.daemon}.ctl"
        return os.path.join(self.control_dir, name)


class Daemon:
    """One daemon process started in the foreground. stdout and stderr go to
    files in the work dir so a test can read the process log at any time."""

    def __init__(self, name, workdir, group="test"):
        self.name = name
        self.workdir = pathlib.Path(workdir)
        self.group = group
        self.ctl = Ctl(name, group, self.workdir)
        self.proc = None
        self.extra_pids = []  # processes that detached (-d), killed at teardown
        self._n = 0

    def start(self, conf, *extra, env=None, wait=True):
        """Start `<name> -c conf -C workdir -G group extra...`. With wait,
        return once the control socket answers `status`."""
        self._n += 1
        # unique per process: two Daemon objects of one name share the dir
        self.stdout_path = self.workdir / f"{self.name}.{id(self):x}.{self._n}.out"
        self.stderr_path = self.workdir / f"{self.name}.{id(self):x}.{self._n}.err"
        argv = [binary(self.name), "-c", str(conf), "-C", str(self.workdir)]
        if self.group:
            argv += ["-G", self.group]
        argv += list(extra)
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env=full_env)
        if wait:
            self.wait_ready()
        return self.proc

    @property
    def pid(self):
        return self.proc.pid

    def stderr(self):
        return self.stderr_path.read_text(errors="replace")

    def wait_ready(self, timeout=START_TIMEOUT):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited {self.proc.returncode} while "
                                     f"starting:\n{self.stderr()}")
            if not os.path.exists(self.ctl.socket_path()):
                return False
            return self.ctl.run("status", timeout_ms=1000).returncode == 0
        wait_for(ready, timeout, what=f"{self.name} control socket")

    def wait_exit(self, timeout):
        """Wait for the foreground process; returns its exit status."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} (pid {self.pid}) still running after "
                                 f"{timeout}s:\n{self.stderr()}") from None

    def signal(self, sig):
        os.kill(self.pid, sig)

    def kill(self):
        """Teardown: SIGKILL everything we started, by PID, and reap."""
        if self.proc is not None and self.proc.poll() is None:
            kill_pid(self.proc.pid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for pid in self.extra_pids:
            if pid_alive(pid):
                kill_pid(pid)
