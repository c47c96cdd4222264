"""Responders of :class:`~polyroute.testing.FakeUpstream`: request JSON -> assistant text."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from polyroute.exceptions import ConfigError

Responder = Callable[[dict[str, Any]], str]


def echo_responder(request: dict[str, Any]) -> str:
    """Default responder: echo the last user message."""
    messages = request.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return f"echo: {content if isinstance(content, str) else json.dumps(content)}"
    return "echo: (no user message)"


def replay_responder(
    dataset: str = "routerbench",
    *,
    data_dir: str | None = None,
    fallback: Responder | None = None,
) -> Responder:
    """A responder that answers with the recorded answer of the requested model to that prompt.

    The request's last user message is looked up among the dataset's prompts and its ``model``
    among the dataset's models; the dataset's recorded answer (``metadata["responses"]``, e.g.
    RouterBench's ``<model>|model_response`` columns) is returned. Unknown prompts or models get
    ``fallback(request)`` (default: a short note saying no answer was recorded).

    Parameters
    ----------
    dataset : str
        Name of a routing dataset with recorded responses (``"routerbench"``).
    data_dir : str, optional
        Routing data directory (default: resolved by :mod:`polyroute.config`).
    fallback : callable, optional
        Responder for prompts without a recorded answer.
    """
    from polyroute.data import load_dataset

    ds = load_dataset(dataset, data_dir=data_dir)
    loader = ds.metadata.get("responses")
    if not callable(loader):
        raise ConfigError(
            f"dataset {dataset!r} has no recorded responses; expected "
            "metadata['responses'] (e.g. 'routerbench')"
        )
    answers = {(str(pid), str(model)): text for (pid, model), text in loader().items()}
    by_text = {
        str(text).strip(): str(pid) for pid, text in zip(ds.prompt_ids, ds.prompts, strict=True)
    }

    def respond(request: dict[str, Any]) -> str:
        text = echo_responder(request).removeprefix("echo: ").strip()
        pid = by_text.get(text)
        found = answers.get((pid, str(request.get("model")))) if pid is not None else None
        if found is not None:
            return str(found)
        if fallback is not None:
            return fallback(request)
        return f"(no recorded answer of {request.get('model')} to this prompt)"

    return respond
