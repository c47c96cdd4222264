"""A throw-away PostgreSQL server (``initdb`` into a temp dir), for tests and benchmarks.

Uses Debian's ``postgresql`` package (binaries in ``/usr/lib/postgresql/<version>/bin``).
PostgreSQL refuses to run as root, so under root the server runs as the ``postgres`` system user
that the package creates. Authentication is ``trust`` on loopback only.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from polyroute.exceptions import ConfigError
from polyroute.testing._redis import free_port


def _bin_dir() -> str | None:
    found = shutil.which("initdb")
    if found:
        return os.path.dirname(os.path.realpath(found))
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(dirs[-1]) if dirs else None


def postgres_available() -> bool:
    """Whether PostgreSQL's server binaries are installed (Debian package ``postgresql``)."""
    return _bin_dir() is not None and (os.geteuid() != 0 or _system_user() is not None)


def _system_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


@contextmanager
def postgres_server(*, start_timeout_s: float = 30.0) -> Iterator[str]:
    """Run a fresh PostgreSQL cluster on a free loopback port; yield its admin URL.

    The URL names the ``postgres`` database as user ``polyroute``; make one database per test
    with :func:`create_database`. Raises ``ConfigError`` when PostgreSQL is not installed or does
    not start in time.
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise ConfigError("PostgreSQL not found (apt-get install postgresql)")
    user = None
    if os.geteuid() == 0:
        user = _system_user()
        if user is None:
            raise ConfigError("running as root needs the 'postgres' system user")
    uid = user.pw_uid if user is not None else None
    gid = user.pw_gid if user is not None else None
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="polyroute-pg-") as root:
        data = os.path.join(root, "data")
        if user is not None:
            os.chown(root, user.pw_uid, user.pw_gid)
        subprocess.run(
            [
                f"{bin_dir}/initdb",
                "-D",
                data,
                "-U",
                "polyroute",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=uid,
            group=gid,
        )
        proc = subprocess.Popen(
            [
                f"{bin_dir}/postgres",
                "-D",
                data,
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={root}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            user=uid,
            group=gid,
        )
        url = f"postgresql://polyroute@127.0.0.1:{port}/postgres"
        try:
            _wait_until_ready(url, proc, start_timeout_s)
            yield url
        finally:
            proc.send_signal(signal.SIGQUIT)  # immediate shutdown: the cluster is thrown away
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def create_database(admin_url: str, name: str | None = None) -> str:
    """Create an empty database on the server of ``admin_url``; return its URL."""
    import psycopg

    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def _wait_until_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"postgres exited with code {proc.returncode} before accepting")
        try:
            with psycopg.connect(url, connect_timeout=1):
                return
        except psycopg.OperationalError:
            time.sleep(0.05)  # polling a child process's start-up, not simulating time
    raise ConfigError(f"postgres did not accept connections in {timeout_s} s")
