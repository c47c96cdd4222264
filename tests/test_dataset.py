from __future__ import annotations

import numpy as np
import pytest

from polyroute.data import RoutingDataset, available_datasets, load_dataset
from polyroute.exceptions import DataError, DataNotFoundError, UnknownComponentError


def _make(**overrides: object) -> RoutingDataset:
    kwargs: dict[str, object] = {
        "name": "t",
        "prompt_ids": ["a", "b"],
        "prompts": ["x", "y"],
        "tasks": ["t1", "t2"],
        "model_names": ("m1", "m2"),
        "scores": [[0.0, 1.0], [0.5, np.nan]],
    }
    kwargs.update(overrides)
    return RoutingDataset(**kwargs)  # type: ignore[arg-type]


def test_score_outside_unit_interval_is_rejected_with_position() -> None:
    with pytest.raises(DataError, match=r"must lie in \[0, 1\]; found 1.5 at row 1, column 0"):
        _make(scores=[[0.0, 1.0], [1.5, 0.0]])


def test_cost_vector_of_wrong_length_names_both_sizes() -> None:
    with pytest.raises(DataError, match="costs has 3 entries; dataset has 2 models"):
        _make(costs=[1.0, 2.0, 3.0])


def test_score_matrix_of_wrong_shape_says_expected_shape() -> None:
    with pytest.raises(DataError, match=r"expected \(2, 2\)"):
        _make(scores=[[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]])


def test_duplicate_prompt_ids_and_models_are_rejected() -> None:
    with pytest.raises(DataError, match="prompt ids must be unique"):
        _make(prompt_ids=["a", "a"])
    with pytest.raises(DataError, match="duplicated"):
        _make(model_names=("m", "m"))


def test_negative_cost_is_rejected() -> None:
    with pytest.raises(DataError, match="costs must be >= 0"):
        _make(costs=[1.0, -2.0])


def test_nan_scores_are_kept_as_missing(tiny_dataset: RoutingDataset) -> None:
    ds = _make()
    assert np.isnan(ds.scores[1, 1])


def test_split_subset_and_select_models(tiny_dataset: RoutingDataset) -> None:
    test = tiny_dataset.split("test")
    assert test.n_prompts == 2 and test.prompt_ids.tolist() == ["p2", "p5"]
    two = tiny_dataset.select_models(["large", "small"])
    assert two.model_names == ("large", "small")
    np.testing.assert_array_equal(two.scores[:, 0], tiny_dataset.scores[:, 2])
    np.testing.assert_array_equal(two.model_costs(), [10.0, 1.0])
    with pytest.raises(DataError, match="no split 'val'"):
        tiny_dataset.split("val")
    with pytest.raises(DataError, match=r"no model\(s\) \['huge'\]"):
        tiny_dataset.select_models(["huge"])


def test_random_split_is_deterministic_stratified_and_disjoint(
    tiny_dataset: RoutingDataset,
) -> None:
    a = tiny_dataset.random_split({"train": 2 / 3, "test": 1 / 3}, seed=7)
    b = tiny_dataset.random_split({"train": 2 / 3, "test": 1 / 3}, seed=7)
    for name in ("train", "test"):
        np.testing.assert_array_equal(a.splits[name], b.splits[name])
    assert set(a.splits["train"]).isdisjoint(a.splits["test"])
    assert len(a.splits["train"]) + len(a.splits["test"]) == 6
    assert sorted(a.split("test").tasks.tolist()) == ["code", "math"]  # one of each task
    with pytest.raises(DataError, match="sum to 1"):
        tiny_dataset.random_split({"train": 0.5, "test": 0.2})


def test_cost_matrix_broadcasts_per_model_costs(tiny_dataset: RoutingDataset) -> None:
    assert tiny_dataset.cost_matrix().shape == (6, 3)
    assert tiny_dataset.cost_matrix()[4, 2] == 10.0


def test_unknown_dataset_name_lists_valid_names() -> None:
    with pytest.raises(UnknownComponentError, match="unknown dataset 'nope'; expected one of"):
        load_dataset("nope")
    assert "routerdc" in available_datasets()


def test_missing_data_dir_names_the_path_tried(tmp_path: object) -> None:
    missing = f"{tmp_path}/nowhere"
    with pytest.raises(DataNotFoundError, match=f"tried {missing}"):
        load_dataset("routerdc", data_dir=missing)


def test_missing_file_inside_data_dir_names_the_file(tmp_path: object) -> None:
    with pytest.raises(DataNotFoundError, match="split2_model7_cluster/mmlu_train.json"):
        load_dataset("routerdc", data_dir=str(tmp_path))


def test_routerdc_reproduces_the_papers_single_model_and_oracle_numbers(data_dir: object) -> None:
    ds = load_dataset("routerdc", data_dir=str(data_dir))
    expected = {"test": (54.56, 58.70, 77.52), "ood": (43.95, 46.36, 70.34)}
    for split, (best_single, task_oracle, oracle) in expected.items():
        part = ds.split(split)
        per_task = {t: part.scores[part.tasks == t] for t in part.task_names}
        model_avg = np.mean([s.mean(axis=0) for s in per_task.values()], axis=0) * 100
        assert model_avg.max() == pytest.approx(best_single, abs=0.01)
        assert np.mean([s.mean(axis=0).max() for s in per_task.values()]) * 100 == pytest.approx(
            task_oracle, abs=0.01
        )
        assert np.mean([s.max(axis=1).mean() for s in per_task.values()]) * 100 == pytest.approx(
            oracle, abs=0.01
        )
