"""pytest fixtures for the proxyd data-plane tests (import them by name into
a test module). Every server they start is stopped at teardown."""

import pathlib
import shutil
import tempfile

import pytest

import dp_helpers
from dp_helpers import DnsServer, Origin, check_clean_exit, make_files


@pytest.fixture(autouse=True)
def dp_clean_exit(daemon_factory):
    """After each test, every proxyd the test started must stop cleanly
    (exit 0, no sanitizer report): run under SAN this is the leak check.
    Depends on daemon_factory so that it runs before its SIGKILL teardown."""
    dp_helpers.STARTED.clear()
    yield
    started = list(dp_helpers.STARTED)
    dp_helpers.STARTED.clear()
    for d in started:
        if d.proc is not None and d.proc.returncode not in (None, 0) and d.proc.returncode != 1:
            raise AssertionError(f"proxyd exited {d.proc.returncode}:\n{d.stderr()[-4000:]}")
        if d.proc is not None and d.proc.returncode == 1:
            continue  # a start that was meant to fail
        check_clean_exit(d)


@pytest.fixture(scope="module")
def origin_root():
    d = pathlib.Path(tempfile.mkdtemp(prefix="g3c-origin-"))
    sha = make_files(d)
    yield d, sha
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def origin(origin_root):
    """HTTP/1.1 file server on 127.0.0.1: /index.html, /big.bin (20 MiB);
    .big_sha256 is the digest of big.bin."""
    o = Origin(origin_root[0])
    o.big_sha256 = origin_root[1]
    yield o
    o.stop()


@pytest.fixture(scope="module")
def origin6(origin_root):
    """The same files on [::1]."""
    o = Origin(origin_root[0], host="::1")
    yield o
    o.stop()


@pytest.fixture
def dns():
    """DNS on 127.0.0.1: origin.test → 127.0.0.1 (A) and ::1 (AAAA),
    v4only.test → 127.0.0.1, denied.test → 127.0.0.2; silent.test never
    answered; others NXDOMAIN."""
    s = DnsServer(a={"origin.test": ["127.0.0.1"], "v4only.test": ["127.0.0.1"],
                     "denied.test": ["127.0.0.2"]},
                  aaaa={"origin.test": ["::1"]}, ttl=300, silent=("silent.test",))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def app(origin_root):
    """Origin with test endpoints (dp_helpers._AppHandler) on 127.0.0.1."""
    from dp_helpers import AppOrigin
    o = AppOrigin(origin_root[0])
    o.big_sha256 = origin_root[1]
    yield o
    o.stop()
