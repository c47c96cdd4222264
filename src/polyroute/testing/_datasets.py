"""``make_routing_dataset``: small seeded synthetic routing data for tests and examples."""

from __future__ import annotations

import numpy as np

from polyroute.data import RoutingDataset
from polyroute.exceptions import DataError

_TOPICS = ("algebra", "python", "history", "biology", "poetry", "law", "chess", "music")


def make_routing_dataset(
    n_prompts: int = 60,
    n_models: int = 3,
    seed: int = 0,
    *,
    n_tasks: int = 3,
    n_dims: int = 16,
) -> RoutingDataset:
    """A seeded synthetic pool where the right model depends on the prompt's topic.

    Each task has its own vocabulary and each model its own skill per task; the score of a model on
    a prompt is Bernoulli in that skill, so routers that recognise the task beat any single model.
    Costs grow with the model index (``1, 2, 4, ...``). Splits ``train`` (70 %) and ``test``.

    Parameters
    ----------
    n_prompts, n_models : int
    seed : int
    n_tasks : int, default 3 (at most 8)
    n_dims : int, default 16
        Width of the synthetic embeddings stored in ``metadata["embeddings"]`` (float32, one row
        per prompt: the task's centre plus noise), for tests that need ``X`` without an encoder.

    Returns
    -------
    RoutingDataset

    Example
    -------
    >>> ds = make_routing_dataset(20, 2, seed=1)
    >>> ds.scores.shape, ds.metadata["embeddings"].shape
    ((20, 2), (20, 16))
    """
    if n_prompts < 2 or n_models < 1 or not 1 <= n_tasks <= len(_TOPICS) or n_dims < 1:
        raise DataError(
            f"expected n_prompts >= 2, n_models >= 1, 1 <= n_tasks <= {len(_TOPICS)}, "
            f"n_dims >= 1; found {n_prompts}, {n_models}, {n_tasks}, {n_dims}"
        )
    rng = np.random.default_rng(seed)
    task_idx = np.arange(n_prompts) % n_tasks
    rng.shuffle(task_idx)
    skill = rng.uniform(0.1, 0.9, size=(n_tasks, n_models))
    centres = rng.normal(size=(n_tasks, n_dims))
    X = centres[task_idx] + 0.3 * rng.normal(size=(n_prompts, n_dims))
    scores = (rng.random((n_prompts, n_models)) < skill[task_idx]).astype(np.float64)
    words = [
        f"{_TOPICS[t]} question {i} about {_TOPICS[t]} topic {rng.integers(1000)}"
        for i, t in enumerate(task_idx)
    ]
    n_train = max(1, int(0.7 * n_prompts))
    perm = rng.permutation(n_prompts)
    return RoutingDataset(
        name=f"synthetic-{seed}",
        prompt_ids=np.array([f"q{i}" for i in range(n_prompts)], dtype=object),
        prompts=np.array(words, dtype=object),
        tasks=np.array([_TOPICS[t] for t in task_idx], dtype=object),
        model_names=tuple(f"model-{j}" for j in range(n_models)),
        scores=scores,
        costs=2.0 ** np.arange(n_models),
        splits={"train": np.sort(perm[:n_train]), "test": np.sort(perm[n_train:])},
        metadata={
            "embeddings": X.astype(np.float32),
            "skill": skill,
            "skill_tasks": _TOPICS[:n_tasks],
        },
    )
