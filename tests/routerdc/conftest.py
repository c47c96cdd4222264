"""Small real-data slices of the RouterDC benchmark, embedded with the hashing encoder."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from polyroute.data import load_dataset
from polyroute.encoders import HashingEncoder
from polyroute.exceptions import DataNotFoundError

pytest.importorskip("torch")


@dataclass(frozen=True)
class Slice:
    X: np.ndarray
    Y: np.ndarray
    soft: np.ndarray
    tasks: np.ndarray
    prompts: np.ndarray
    model_names: tuple[str, ...]


def _stratified(tasks: np.ndarray, per_task: int, rng: np.random.Generator) -> np.ndarray:
    rows = [rng.permutation(np.flatnonzero(tasks == t))[:per_task] for t in np.unique(tasks)]
    return np.sort(np.concatenate(rows))


@pytest.fixture(scope="session")
def routerdc_slices() -> tuple[Slice, Slice]:
    """(train, test): ~100 training and ~60 test prompts per task, hashing embeddings."""
    try:
        ds = load_dataset("routerdc")
    except DataNotFoundError as exc:
        pytest.skip(f"RouterDC data not available: {exc}")
    rng = np.random.default_rng(0)
    enc = HashingEncoder(dim=256)
    out = []
    for split, per_task in (("train", 100), ("test", 60)):
        part = ds.split(split)
        rows = _stratified(part.tasks, per_task, rng)
        prompts = part.prompts[rows]
        out.append(
            Slice(
                X=enc.encode([str(p) for p in prompts]),
                Y=part.scores[rows],
                soft=part.soft_scores[rows],
                tasks=part.tasks[rows],
                prompts=prompts,
                model_names=part.model_names,
            )
        )
    return out[0], out[1]


@pytest.fixture(scope="session")
def fitted_router(routerdc_slices: tuple[Slice, Slice]):  # type: ignore[no-untyped-def]
    from polyroute.routers import make_router

    train, _ = routerdc_slices
    router = make_router(
        "routerdc", n_steps=60, eval_every=10, batch_size=32, random_state=0, show_progress=False
    )
    return router.fit(train.X, train.soft, model_names=train.model_names)
