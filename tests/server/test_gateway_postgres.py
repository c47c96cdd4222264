"""Two gateways standing in for two hosts (own cache dirs, no shared file) on one PostgreSQL
database: a model added through one is served by the other within 1 s, and ``kill -9`` of either
loses no acknowledged write."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from gateway_helpers import MATH

from polyroute.pool import ModelPool
from polyroute.routers import BaseRouter
from polyroute.testing import (
    FakeUpstream,
    create_database,
    postgres_available,
    postgres_server,
)
from polyroute.testing._redis import free_port

ADMIN = {"authorization": "Bearer sk-admin-pg"}
AUTH = {"authorization": "Bearer sk-client-pg"}


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    if not postgres_available():
        pytest.skip("PostgreSQL not installed (apt-get install postgresql)")
    with postgres_server() as url:
        yield url


@contextmanager
def _serve(
    host_dir: Path, database_url: str, router: Path
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``polyroute serve`` in a subprocess with its own cache dir (one "host")."""
    host_dir.mkdir()
    port = free_port()
    (host_dir / "gateway.yaml").write_text(
        f"server: {{port: {port}, database_url: '{database_url}', access_log: false}}\n"
        "models:\n  - {name: seeded, cost_per_query_usd: 0.01}\n"
        f"profiles:\n  - {{name: auto, router: {router}, encoder: hashing}}\n"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(host_dir),
        "POLYROUTE_CACHE_DIR": str(host_dir / "cache"),
        "POLYROUTE_API_KEY": "sk-client-pg",
        "POLYROUTE_ADMIN_KEY": "sk-admin-pg",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polyroute.cli",
            "serve",
            "--config",
            str(host_dir / "gateway.yaml"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, "the gateway exited during start-up"
            assert time.monotonic() < deadline, "the gateway did not start"
            try:
                if httpx.get(url + "/healthz", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)  # waiting for a subprocess to start
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


def _served_models(url: str) -> set[str]:
    return {m["id"] for m in httpx.get(url + "/v1/models", headers=AUTH).json()["data"]}


def test_two_hosts_share_the_pool_and_kill_9_loses_no_acknowledged_write(
    tmp_path: Path, postgres_url: str, tiny_router: BaseRouter
) -> None:
    tiny_router.save(tmp_path / "router")
    db = create_database(postgres_url)
    with ExitStack() as stack:
        up = stack.enter_context(FakeUpstream(lambda r: "from the newcomer"))
        a, proc_a = stack.enter_context(_serve(tmp_path / "host-a", db, tmp_path / "router"))
        b, proc_b = stack.enter_context(_serve(tmp_path / "host-b", db, tmp_path / "router"))
        assert not list((tmp_path / "host-a").rglob("*.sqlite3"))  # no pool file on either host
        # a model added through A is served by B within 1 s
        model = {"name": "newcomer", "deployments": [{"name": "eu", "base_url": up.base_url}]}
        assert httpx.post(a + "/admin/models", headers=ADMIN, json=model).status_code == 201
        added = time.monotonic()
        while "newcomer" not in _served_models(b):
            assert time.monotonic() - added < 1.0, "host B did not see the change within 1 s"
            time.sleep(0.02)  # polling another host's view
        answer = httpx.post(
            b + "/v1/chat/completions", headers=AUTH, json={"model": "newcomer", "messages": MATH}
        )
        assert answer.status_code == 200
        assert answer.json()["choices"][0]["message"]["content"] == "from the newcomer"
        # kill -9 of either host right after its writes were acknowledged loses none of them
        acked = []
        for url, proc, tag in ((a, proc_a, "a"), (b, proc_b, "b")):
            for i in range(10):
                resp = httpx.post(url + "/admin/models", headers=ADMIN, json={"name": f"{tag}{i}"})
                assert resp.status_code == 201
                acked.append(f"{tag}{i}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        survived = ModelPool(db).snapshot().models
        assert [m for m in acked if m not in survived] == []
