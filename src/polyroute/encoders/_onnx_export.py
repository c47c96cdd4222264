"""Build the MiniLM ONNX graph from local sentence-transformers weights (the ``train`` extra).

The graph takes ``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, shape
(batch, seq)) and returns ``embedding`` (float32, (batch, dim)): the transformer, mean pooling
over the attention mask and L2 normalisation, exactly like the sentence-transformers pipeline.

The export goes to a temporary file beside the destination and is moved into place with an atomic
rename under an advisory file lock, so concurrent first uses never see a half-written graph.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyroute.exceptions import ConfigError, MissingDependencyError

logger = logging.getLogger(__name__)

EXPORT_RECIPE = "mean-l2/opset17/eager/v1"  # part of the graph's cache key: bump on any change
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "embedding"


def ensure_onnx_graph(model_dir: Path, dest: Path) -> Path:
    """Return ``dest``, exporting the graph there first when it does not exist yet.

    Raises
    ------
    MissingDependencyError
        torch/transformers/onnx are not installed and no exported graph exists.
    ConfigError
        The export itself failed (the message says why).
    """
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(dest.with_suffix(".lock")):
        if dest.is_file():  # another process finished the export while we waited
            return dest
        logger.info("exporting ONNX graph of %s to %s (first use)", model_dir, dest)
        fd, tmp = tempfile.mkstemp(prefix=dest.stem + ".", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        try:
            _export(model_dir, Path(tmp))
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; the graph is not secret
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return dest


def _export(model_dir: Path, out: Path) -> None:
    torch, transformers = _import_export_deps()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer / legacy-exporter notices are expected here
        try:
            config = transformers.AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
            config._attn_implementation = "eager"  # plain MatMul/Softmax graph: portable
            model = transformers.AutoModel.from_config(config)
            state = _load_safetensors(model_dir / "model.safetensors")
            missing, unexpected = model.load_state_dict(state, strict=False)
            _check_state(missing, unexpected, model_dir)
            model.eval()
            wrapper = _pooled_model(torch, model)
            dummy = tuple(torch.ones(2, 8, dtype=torch.long) for _ in INPUT_NAMES)
            axes: dict[str, dict[int, str]] = {n: {0: "batch", 1: "seq"} for n in INPUT_NAMES}
            axes[OUTPUT_NAME] = {0: "batch"}
            with torch.inference_mode():
                torch.onnx.export(
                    wrapper,
                    dummy,
                    str(out),
                    input_names=list(INPUT_NAMES),
                    output_names=[OUTPUT_NAME],
                    dynamic_axes=axes,
                    opset_version=17,
                    do_constant_folding=True,
                    dynamo=False,
                )
        except (OSError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"exporting the ONNX graph of {model_dir} failed: {type(exc).__name__}: {exc}"
            ) from exc


def _import_export_deps() -> tuple[Any, Any]:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            "torch (to build the ONNX graph on first use)", "train"
        ) from exc
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
    except ImportError as exc:
        raise MissingDependencyError(
            "onnx (to build the ONNX graph on first use)", "train"
        ) from exc
    try:
        import transformers
    except ImportError as exc:
        raise MissingDependencyError(
            "transformers (to build the ONNX graph on first use)", "train"
        ) from exc
    return torch, transformers


def _load_safetensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    state: dict[str, Any] = load_file(str(path))
    # sentence-transformers checkpoints may or may not carry a base-model prefix
    return {k.removeprefix("bert."): v for k, v in state.items()}


def _check_state(missing: list[str], unexpected: list[str], model_dir: Path) -> None:
    # position_ids is a non-persistent buffer in recent transformers; old checkpoints carry it
    real_missing = [k for k in missing if not k.endswith("position_ids")]
    real_unexpected = [k for k in unexpected if not k.endswith("position_ids")]
    if real_missing or real_unexpected:
        raise ConfigError(
            f"weights in {model_dir} do not fit the model config: expected no missing or "
            f"unexpected tensors; found missing={real_missing[:5]}, "
            f"unexpected={real_unexpected[:5]}"
        )


def _pooled_model(torch: Any, model: Any) -> Any:
    """Wrap ``model`` with mean pooling + L2 normalisation (a factory: torch is imported lazily)."""

    class PooledModel(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.model(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=1)

    return PooledModel()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock (POSIX ``flock``); a no-op where ``fcntl`` is unavailable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: the atomic rename still keeps us safe
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
