"""The ONNX fast path against the sentence-transformers reference, on real prompts."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from polyroute.data import load_dataset
from polyroute.encoders import MiniLMEncoder, SentenceTransformerEncoder, make_encoder
from polyroute.encoders._onnx_export import ensure_onnx_graph
from polyroute.exceptions import ConfigError, MissingDependencyError

EDGE_CASES = ["", "   ", "Hi", "🙂 emoji and ünïcödé", "x" * 3000, "word " * 600]


@pytest.fixture(scope="module")
def onnx_encoder() -> MiniLMEncoder:
    # default cache dir: the exported graph is built once per machine and reused
    return MiniLMEncoder(num_threads=2)


@pytest.fixture(scope="module")
def st_encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder()


@pytest.fixture(scope="module")
def real_prompts(data_dir: Path) -> list[str]:
    """3 prompts of each RouterDC task (English, Chinese, math, code) + its 4 longest prompts."""
    ds = load_dataset("routerdc", data_dir=data_dir)
    picked: list[str] = []
    for task in ds.task_names:
        picked.extend(ds.prompts[ds.tasks == task][:3].tolist())
    lengths = np.array([len(p) for p in ds.prompts])
    picked.extend(ds.prompts[np.argsort(-lengths)[:4]].tolist())
    return picked


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return 1.0 - (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_prompts_cover_chinese_code_and_truncation(
    onnx_encoder: MiniLMEncoder, real_prompts: list[str]
) -> None:
    assert len(real_prompts) >= 25
    assert any("\u4e00" <= ch <= "\u9fff" for p in real_prompts for ch in p)
    assert any("def " in p for p in real_prompts)
    n_tokens = onnx_encoder.token_counts(real_prompts)
    assert n_tokens.max() == 256  # truncated at max_seq_length
    assert onnx_encoder.token_counts(["", "hello world"]).tolist() == [2, 4]  # [CLS] .. [SEP]


def test_onnx_matches_sentence_transformers(
    onnx_encoder: MiniLMEncoder, st_encoder: SentenceTransformerEncoder, real_prompts: list[str]
) -> None:
    texts = real_prompts + EDGE_CASES
    ref = st_encoder.encode(texts, batch_size=16)
    batched = onnx_encoder.encode(texts, batch_size=16)  # padded batches, length-sorted
    single = np.vstack([onnx_encoder.encode([t]) for t in texts])  # unpadded fast path
    assert batched.shape == ref.shape == (len(texts), 384)
    assert batched.dtype == single.dtype == np.float32
    assert _cosine_distance(batched, ref).max() < 1e-4
    assert _cosine_distance(single, ref).max() < 1e-4
    np.testing.assert_allclose(np.linalg.norm(batched, axis=1), 1.0, rtol=1e-5)


def test_ids_dims_and_registry(
    onnx_encoder: MiniLMEncoder, st_encoder: SentenceTransformerEncoder
) -> None:
    assert onnx_encoder.encoder_id == "minilm-l6-v2/onnx/max256"
    assert st_encoder.encoder_id == "minilm-l6-v2/st/max256"
    assert onnx_encoder.dim == st_encoder.dim == 384
    assert onnx_encoder.encode([]).shape == (0, 384)
    shorter = make_encoder("minilm", max_seq_length=128, onnx_path=onnx_encoder.onnx_path)
    assert shorter.encoder_id != onnx_encoder.encoder_id
    assert shorter.encoder_id.endswith("/max128")


def test_exported_graph_is_reused(onnx_encoder: MiniLMEncoder) -> None:
    path = onnx_encoder.onnx_path
    before = path.stat().st_mtime_ns
    again = MiniLMEncoder(num_threads=1)
    assert again.onnx_path == path and path.stat().st_mtime_ns == before
    assert not list(path.parent.glob("*.tmp"))  # no leftovers of the temp-file + rename


def test_missing_torch_without_graph_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, onnx_encoder: MiniLMEncoder
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(MissingDependencyError, match=r"polyroute\[train\]"):
        ensure_onnx_graph(onnx_encoder.model_dir, tmp_path / "onnx" / "x.onnx")
    assert not list((tmp_path / "onnx").glob("*.tmp"))


def test_bad_settings_and_bad_graph(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="max_seq_length: expected an int in"):
        MiniLMEncoder(max_seq_length=1000)
    with pytest.raises(ConfigError, match="num_threads: expected a positive int; found 0"):
        MiniLMEncoder(num_threads=0)
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(ConfigError, match="could not load the ONNX graph"):
        MiniLMEncoder(onnx_path=bad)
