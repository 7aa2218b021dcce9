"""Shared fixtures for the g3c integration tests.

Binaries come from $G3C_BUILD/bin (default <repo>/build/bin). Every test gets
a short private directory under /tmp (unix socket paths must stay under 108
bytes) used as the daemons' control dir and for configs and logs. Every
process a fixture starts is killed by PID at teardown."""

import shutil
import sys
import tempfile
import pathlib

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from helpers import MINIMAL_CONF, Ctl, Daemon  # noqa: E402


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="g3c-")
    yield pathlib.Path(d)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def write_conf(workdir):
    """write_conf(text, name="proxyd.yaml") → absolute path of the file."""
    def write(text, name="proxyd.yaml"):
        p = workdir / name
        p.write_text(text)
        return p
    return write


@pytest.fixture
def daemon_factory(workdir):
    """daemon_factory(name="proxyd", group="test") → an unstarted Daemon
    whose control dir is the work dir; all are killed at teardown."""
    made = []

    def make(name="proxyd", group="test"):
        d = Daemon(name, workdir, group=group)
        made.append(d)
        return d
    yield make
    for d in made:
        d.kill()


@pytest.fixture
def proxyd(daemon_factory, write_conf):
    """A running proxyd with MINIMAL_CONF (group "test")."""
    d = daemon_factory("proxyd")
    d.conf = write_conf(MINIMAL_CONF)
    d.start(d.conf)
    return d


@pytest.fixture
def ctl(workdir):
    """g3ctl for proxyd in group "test" under the work dir."""
    return Ctl("proxyd", "test", workdir)
