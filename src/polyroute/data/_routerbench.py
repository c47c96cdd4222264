"""RouterBench subset with real USD costs (RouterDC's zero-shot split): ``routerdc/routerbench_zs``.

11 LLMs (GPT-4-1106, GPT-3.5-1106, Claude instant/v1/v2, Llama-2-70B, Mixtral-8x7B, Mistral-7B,
Yi-34B, WizardLM-13B, Code-Llama-34B) on ARC-Challenge, MBPP and Winogrande, with each model's 0/1
correctness and the USD cost RouterBench recorded for that query (``<llm>|total_cost``).

Cleaning, documented in ``docs/data.md``:

* 14 ARC-Challenge ``sample_id`` s are split over two rows: one row holds only
  ``gpt-3.5-turbo-1106`` (its prompt is the same message twice), the other the 10 other models.
  The two rows are merged into one complete row (the prompt of the 10-model row is kept). 8 pairs sit
  inside one file; for 6 the halves sit one in train and one in test: those queries belong to
  ``test`` only (dropped from ``train``), so no query is in both splits.
* ``prompt`` is a stringified Python list of message strings; it is parsed with
  :func:`ast.literal_eval` (literals only, no code runs) and the messages joined with ``"\\n"``.
* ARC-C and Winogrande prompts start with the same few-shot demonstrations; ``prompts`` holds the
  query without them (what differs between prompts, so what a router should embed) and
  ``metadata["shared_prefix"][task]`` the demonstrations: prefix + prompt = what the models saw.

Recorded model answers (``<llm>|model_response``) are not loaded with the dataset (they would
triple its size); :func:`load_routerbench_responses` reads them on demand, and the dataset's
``metadata["responses"]`` is a zero-argument callable doing the same for its data directory.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import require_file
from polyroute.data._pandas import import_pandas
from polyroute.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

MODELS: tuple[str, ...] = (
    "WizardLM/WizardLM-13B-V1.2",
    "claude-instant-v1",
    "claude-v1",
    "claude-v2",
    "gpt-3.5-turbo-1106",
    "gpt-4-1106-preview",
    "meta/code-llama-instruct-34b-chat",
    "meta/llama-2-70b-chat",
    "mistralai/mistral-7b-chat",
    "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
)
# (task name, file stem) -- upstream spells Winogrande "winograde" in the file names
TASKS: tuple[tuple[str, str], ...] = (
    ("arc_challenge", "arc_challenge"),
    ("mbpp", "mbpp"),
    ("winogrande", "winograde"),
)
SPLITS = ("train", "test")
_COST = "|total_cost"
_RESPONSE = "|model_response"


def _files(data_dir: Path) -> list[tuple[str, str, Path]]:
    root = data_dir / "routerdc" / "routerbench_zs"
    return [
        (task, split, require_file(root / f"{stem}_{split}.csv"))
        for task, stem in TASKS
        for split in SPLITS
    ]


def _read_csv(path: Path, columns: Sequence[str]) -> pd.DataFrame:
    pd = import_pandas()
    try:
        frame = pd.read_csv(path, usecols=list(columns))
    except ValueError as exc:  # usecols names a column the file lacks
        raise DataError(
            f"{path}: expected RouterBench columns {list(columns)[:4]}...; {exc}"
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    return frame


def parse_messages(text: str, *, where: str) -> str:
    """Join a stringified Python list of message strings (RouterBench's format) with newlines."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise DataError(
            f"{where}: expected a Python list of strings; found {text[:60]!r}..."
        ) from exc
    if isinstance(value, str):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: expected a list of strings; found {type(value).__name__}")
    return "\n".join(value)


def _read_all(data_dir: Path) -> pd.DataFrame:
    columns = ["sample_id", "prompt", *MODELS, *(m + _COST for m in MODELS)]
    frames = []
    for task, split, path in _files(data_dir):
        frame = _read_csv(path, columns)
        frame["_task"], frame["_test"], frame["_path"] = task, split == "test", str(path)
        frames.append(frame)
    pd = import_pandas()
    table = pd.concat(frames, ignore_index=True)
    table["_order"] = np.arange(len(table))
    table["_n"] = table[list(MODELS)].notna().sum(axis=1)
    return table


def strip_shared_prefix(prompts: list[str], tasks: list[str]) -> tuple[list[str], dict[str, str]]:
    """Cut each task's few-shot demonstrations, the prefix its prompts share, at a blank line.

    ARC-C and Winogrande prompts open with the same 5 worked examples (about 1,650 and 1,200
    characters): an encoder that reads the first 256 tokens would see only those and embed every
    prompt of the task alike. Returns the queries and ``{task: prefix}`` (prefix + query = the
    prompt the models were sent).
    """
    out, prefixes = list(prompts), {}
    for task in dict.fromkeys(tasks):
        rows = [i for i, t in enumerate(tasks) if t == task]
        common = _common_prefix([prompts[i] for i in rows])
        cut = common.rfind("\n\n") + 2 if "\n\n" in common else 0
        if cut and all(len(prompts[i]) > cut for i in rows):
            prefixes[task] = common[:cut]
            for i in rows:
                out[i] = prompts[i][cut:]
    return out, prefixes


def _merge_split_rows(table: pd.DataFrame) -> pd.DataFrame:
    """One row per ``sample_id``: halves of a query are merged; test wins over train."""
    ordered = table.sort_values(["_n", "_order"], ascending=[False, True], kind="stable")
    score_cost = list(MODELS) + [m + _COST for m in MODELS]
    for col in MODELS:  # two halves must not disagree about one model
        counts = ordered.groupby("sample_id", sort=False)[col].count()
        if (counts > 1).any():
            bad = counts[counts > 1].index[0]
            raise DataError(
                f"routerbench: sample_id {bad!r} has two scores for model {col!r}; "
                "expected at most one row per (query, model)"
            )
    agg = {c: "first" for c in [*score_cost, "prompt", "_task", "_path"]}
    agg.update({"_test": "max", "_order": "min"})
    merged = ordered.groupby("sample_id", sort=False).agg(agg)
    return merged.sort_values("_order").reset_index()


def load_routerbench(data_dir: Path) -> RoutingDataset:
    """Load the RouterBench subset (ARC-C, MBPP, Winogrande; 11 LLMs; USD per query)."""
    table = _read_all(data_dir)
    raw_rows = len(table)
    both = set(table.loc[table["_test"], "sample_id"]) & set(
        table.loc[~table["_test"], "sample_id"]
    )
    merged = _merge_split_rows(table)
    full = [
        parse_messages(p, where=f"{path}: sample_id {sid!r}")
        for p, path, sid in zip(merged["prompt"], merged["_path"], merged["sample_id"], strict=True)
    ]
    prompts, prefixes = strip_shared_prefix(full, merged["_task"].tolist())
    is_test = merged["_test"].to_numpy(bool)
    costs = merged[[m + _COST for m in MODELS]].to_numpy(np.float64)
    return RoutingDataset(
        name="routerbench",
        prompt_ids=merged["sample_id"].to_numpy(str),
        prompts=np.asarray(prompts, dtype=object),
        tasks=merged["_task"].to_numpy(object),
        model_names=MODELS,
        scores=merged[list(MODELS)].to_numpy(np.float64),
        costs=costs,
        cost_unit="usd",
        splits={"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)},
        metadata={
            "source": str(data_dir / "routerdc" / "routerbench_zs"),
            "raw_rows": raw_rows,
            "merged_half_rows": raw_rows - len(merged),
            "dropped_from_train": sorted(both),
            "shared_prefix": prefixes,
            "cost_model": "USD per query as recorded by RouterBench (<llm>|total_cost)",
            "responses": functools.partial(load_routerbench_responses, data_dir),
        },
    )


def load_routerbench_responses(
    data_dir: str | Path,
    *,
    models: Sequence[str] | None = None,
) -> dict[tuple[str, str], str]:
    """Recorded RouterBench answers, keyed by ``(prompt_id, model)``.

    Parameters
    ----------
    data_dir : path
        The routing-data directory (the folder holding ``routerdc/``).
    models : sequence of str, optional
        Only these models (default: all 11).

    Returns
    -------
    dict
        ``(prompt_id, model) -> response text`` (messages joined with newlines). ``prompt_id``
        matches ``load_dataset("routerbench").prompt_ids``. Where a query was split over two rows,
        the answer comes from the row that holds that model's score.

    Raises
    ------
    DataNotFoundError
        A RouterBench file is missing (the message names it).
    DataError
        A model name is unknown, or a response is not a stringified list of strings.

    Examples
    --------
    >>> answers = load_routerbench_responses(data_dir, models=["gpt-4-1106-preview"])
    >>> answers[("mbpp.dev.1", "gpt-4-1106-preview")][:20]  # doctest: +SKIP
    """
    wanted = list(MODELS) if models is None else list(models)
    unknown = [m for m in wanted if m not in MODELS]
    if unknown:
        raise DataError(
            f"routerbench has no model(s) {unknown}; expected some of: {', '.join(MODELS)}"
        )
    out: dict[tuple[str, str], str] = {}
    for _task, _split, path in _files(Path(data_dir)):
        frame = _read_csv(path, ["sample_id", *wanted, *(m + _RESPONSE for m in wanted)])
        ids = frame["sample_id"].to_numpy(str)
        for model in wanted:
            has_score = frame[model].notna().to_numpy()
            texts = frame[model + _RESPONSE].to_numpy(object)
            for sid, text, scored in zip(ids, texts, has_score, strict=True):
                # a half row without this model's score yields only where nothing better exists
                if isinstance(text, str) and (scored or (sid, model) not in out):
                    out[(sid, model)] = parse_messages(text, where=f"{path}: {sid!r} {model!r}")
    return out


def _common_prefix(texts: Sequence[str]) -> str:
    """The longest string every text starts with (character-wise, unlike ``os.path.commonpath``)."""
    first, last = min(texts), max(texts)
    n = next((i for i, (a, b) in enumerate(zip(first, last, strict=False)) if a != b), len(first))
    return first[:n]
