"""``polyroute serve`` as a user runs it: a subprocess, a config file, the start-up banner."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_helpers import MATH, MODELS

from polyroute.engine import builtin_router_path
from polyroute.routers import BaseRouter


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_prints_how_to_add_endpoints_and_answers_route_decisions(
    tmp_path: Path, tiny_router: BaseRouter
) -> None:
    tiny_router.save(tmp_path / "router")
    port = _free_port()
    models = "\n".join(f"  - {{name: {m}, cost_per_query_usd: 0.01}}" for m in MODELS)
    (tmp_path / "gateway.yaml").write_text(
        f"server: {{port: {port}, pool_path: {tmp_path / 'pool.sqlite3'}}}\n"
        f"models:\n{models}\n"
        "profiles:\n  - {name: auto, router: router, encoder: hashing}\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "POLYROUTE_CACHE_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polyroute.cli",
            "serve",
            "--config",
            str(tmp_path / "gateway.yaml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        banner = ""
        deadline = time.monotonic() + 60
        while "print(r.headers" not in banner and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            banner += line
        assert f"polyroute gateway on http://127.0.0.1:{port}" in banner, banner
        assert "No model has an endpoint yet" in banner
        assert "/admin/models/math-pro/deployments" in banner
        key = re.search(r"client key for this run: (\S+)", banner)
        assert key is not None
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        resp = httpx.post(
            url + "/v1/route",
            json={"model": "auto", "messages": MATH},
            headers={"authorization": f"Bearer {key.group(1)}"},
        )
        assert resp.status_code == 200 and resp.json()["model"] == "math-pro"
        chat = httpx.post(
            url + "/v1/chat/completions",
            json={"model": "auto", "messages": MATH},
            headers={"authorization": f"Bearer {key.group(1)}"},
        )
        assert chat.status_code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_serve_reports_a_bad_config_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("server:\n  port: -1\n")
    out = subprocess.run(
        [sys.executable, "-m", "polyroute.cli", "serve", "--config", str(tmp_path / "bad.yaml")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.startswith("polyroute: error: invalid gateway config")
    assert "bad.yaml:2: server.port" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_demo_routes_real_recorded_answers_end_to_end(data_dir: Path) -> None:
    pytest.importorskip("pandas", reason="the demo replays RouterBench: the eval extra")
    if not (builtin_router_path() / "router.json").is_file():
        pytest.skip("the default router artifact is not shipped in this checkout")
    out = subprocess.run(
        [sys.executable, "-m", "polyroute.cli", "demo", "--requests", "6"],
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    assert "routed:" in out.stdout and "correct" in out.stdout
