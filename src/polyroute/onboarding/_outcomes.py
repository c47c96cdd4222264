"""Graded outcomes and validation sets, as JSON Lines files.

Outcomes file (one JSON object per line)::

    {"prompt_id": "q17", "model": "my-llm", "correct": true, "answer": "The answer is (C)"}
    {"prompt_id": "q18", "model": "my-llm", "score": 0.5}

``correct`` (bool or 0/1) or ``score`` (number in [0, 1]) is required; ``answer`` is optional.

Validation-set file (the prompts a new model is run on, with what a right answer is)::

    {"prompt_id": "q17", "prompt": "What is ...?\\nA. ...", "reference": "C", "grader": "choice"}

``grader`` defaults to the set's default grader (``"choice"``). A ``.gz`` suffix means gzip.
"""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from polyroute.exceptions import DataError, DataNotFoundError


@dataclass(frozen=True, slots=True)
class Outcome:
    """One graded answer of ``model`` to validation prompt ``prompt_id`` (score in [0, 1])."""

    prompt_id: str
    model: str
    score: float
    answer: str | None = None


@dataclass(frozen=True, slots=True)
class ValidationItem:
    """A validation prompt with its reference answer and the grader that checks it."""

    prompt_id: str
    prompt: str
    reference: str
    grader: str = "choice"


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


def _records(path: str | Path) -> Iterable[tuple[int, dict[str, Any]]]:
    p = Path(path)
    if not p.is_file():
        raise DataNotFoundError(f"no file at {p}: expected a JSON Lines file")
    with _open(p, "r") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{p}: line {lineno}: expected a JSON object; found invalid JSON ({exc.msg})"
                ) from exc
            if not isinstance(rec, dict):
                raise DataError(
                    f"{p}: line {lineno}: expected a JSON object; found {type(rec).__name__}"
                )
            yield lineno, rec


def _score_of(rec: dict[str, Any], where: str) -> float:
    if "score" in rec:
        value = rec["score"]
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (math.isfinite(value) and 0.0 <= value <= 1.0)
        ):
            raise DataError(f"{where}: expected 'score' to be a number in [0, 1]; found {value!r}")
        return float(value)
    if "correct" in rec:
        value = rec["correct"]
        if value not in (True, False, 0, 1):
            raise DataError(f"{where}: expected 'correct' to be true/false or 0/1; found {value!r}")
        return float(value)
    raise DataError(f"{where}: expected a 'correct' or 'score' field; found keys {sorted(rec)}")


def read_outcomes(path: str | Path) -> list[Outcome]:
    """Read an outcomes JSONL file (format in the module docstring); bad lines raise DataError."""
    out: list[Outcome] = []
    for lineno, rec in _records(path):
        where = f"{path}: line {lineno}"
        for key in ("prompt_id", "model"):
            if not isinstance(rec.get(key), (str, int)) or isinstance(rec.get(key), bool):
                raise DataError(f"{where}: expected a string {key!r}; found {rec.get(key)!r}")
        answer = rec.get("answer")
        out.append(
            Outcome(
                str(rec["prompt_id"]),
                str(rec["model"]),
                _score_of(rec, where),
                None if answer is None else str(answer),
            )
        )
    return out


def write_outcomes(path: str | Path, outcomes: Iterable[Outcome]) -> Path:
    """Write outcomes as JSONL (``score`` field; ``answer`` when known)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _open(p, "w") as fh:
        for o in outcomes:
            rec = {k: v for k, v in asdict(o).items() if v is not None}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return p


def outcome_vector(
    outcomes: Sequence[Outcome], prompt_ids: Sequence[str], *, model: str | None = None
) -> list[float]:
    """Scores aligned to ``prompt_ids`` (NaN where not graded).

    Raises ``DataError`` for outcomes of another model, repeated prompt ids, or prompt ids that
    are not in ``prompt_ids`` (the message gives their number and the first few).
    """
    index = {pid: i for i, pid in enumerate(prompt_ids)}
    models = sorted({o.model for o in outcomes})
    if model is not None and models and models != [model]:
        raise DataError(f"outcomes are for model(s) {models[:5]}; expected only {model!r}")
    if model is None and len(models) > 1:
        raise DataError(f"outcomes mix {len(models)} models {models[:5]}; expected one model")
    unknown = [o.prompt_id for o in outcomes if o.prompt_id not in index]
    if unknown:
        raise DataError(
            f"{len(unknown)} of {len(outcomes)} outcomes have prompt ids that are not "
            f"in the validation set ({len(index)} prompts), e.g. {unknown[:5]}; "
            "expected ids of the validation set"
        )
    y = [math.nan] * len(index)
    seen: set[str] = set()
    for o in outcomes:
        if o.prompt_id in seen:
            raise DataError(
                f"prompt id {o.prompt_id!r} is graded twice; expected one outcome per prompt"
            )
        seen.add(o.prompt_id)
        y[index[o.prompt_id]] = o.score
    return y


def read_validation_set(
    path: str | Path, *, default_grader: str = "choice"
) -> list[ValidationItem]:
    """Read a validation-set JSONL file (format in the module docstring)."""
    items: list[ValidationItem] = []
    ids: set[str] = set()
    for lineno, rec in _records(path):
        where = f"{path}: line {lineno}"
        missing = [k for k in ("prompt_id", "prompt", "reference") if k not in rec]
        if missing:
            raise DataError(
                f"{where}: expected fields prompt_id, prompt, reference; missing {missing}"
            )
        pid = str(rec["prompt_id"])
        if pid in ids:
            raise DataError(f"{where}: prompt id {pid!r} appears twice; expected unique ids")
        ids.add(pid)
        items.append(
            ValidationItem(
                pid,
                str(rec["prompt"]),
                str(rec["reference"]),
                str(rec.get("grader") or default_grader),
            )
        )
    if not items:
        raise DataError(f"{path}: expected at least one validation prompt; found none")
    return items


def write_validation_set(path: str | Path, items: Iterable[ValidationItem]) -> Path:
    """Write a validation set as JSONL (gzip when the name ends in ``.gz``)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _open(p, "w") as fh:
        for item in items:
            fh.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
    return p
