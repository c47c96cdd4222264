"""Learning from the gateway's own traffic: decision log, feedback, calibration, replay, spend.

Names load on first use (PEP 562), so the gateway config (which holds the ``traffic:`` schema)
imports no numpy through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyroute.traffic._budget import Budget, SpendTracker
    from polyroute.traffic._calibrate import Calibration, OperatingPoint, calibrate, sweep
    from polyroute.traffic._frame import TrafficFrame, frame_from_records
    from polyroute.traffic._online import (
        FeedbackCounts,
        OnlineSettings,
        add_outcome,
        apply_feedback,
    )
    from polyroute.traffic._record import DecisionRecord, prompt_digest, usage_cost_usd
    from polyroute.traffic._recorder import FeedbackError, TrafficRecorder, parse_feedback
    from polyroute.traffic._replay import Figure, ReplayReport, ReplaySide, replay
    from polyroute.traffic._settings import BudgetSettings, OnlineProfileSettings, TrafficSettings
    from polyroute.traffic._store import LogStore, SQLiteLogStore
    from polyroute.traffic._writer import DecisionLog, LogStats

_LAZY = {
    "Budget": "polyroute.traffic._budget",
    "BudgetSettings": "polyroute.traffic._settings",
    "Calibration": "polyroute.traffic._calibrate",
    "DecisionLog": "polyroute.traffic._writer",
    "DecisionRecord": "polyroute.traffic._record",
    "FeedbackCounts": "polyroute.traffic._online",
    "FeedbackError": "polyroute.traffic._recorder",
    "Figure": "polyroute.traffic._replay",
    "LogStats": "polyroute.traffic._writer",
    "LogStore": "polyroute.traffic._store",
    "OnlineProfileSettings": "polyroute.traffic._settings",
    "OnlineSettings": "polyroute.traffic._online",
    "OperatingPoint": "polyroute.traffic._calibrate",
    "ReplayReport": "polyroute.traffic._replay",
    "ReplaySide": "polyroute.traffic._replay",
    "SQLiteLogStore": "polyroute.traffic._store",
    "SpendTracker": "polyroute.traffic._budget",
    "TrafficFrame": "polyroute.traffic._frame",
    "TrafficRecorder": "polyroute.traffic._recorder",
    "TrafficSettings": "polyroute.traffic._settings",
    "add_outcome": "polyroute.traffic._online",
    "apply_feedback": "polyroute.traffic._online",
    "calibrate": "polyroute.traffic._calibrate",
    "frame_from_records": "polyroute.traffic._frame",
    "parse_feedback": "polyroute.traffic._recorder",
    "prompt_digest": "polyroute.traffic._record",
    "replay": "polyroute.traffic._replay",
    "sweep": "polyroute.traffic._calibrate",
    "usage_cost_usd": "polyroute.traffic._record",
}

__all__ = [
    "Budget",
    "BudgetSettings",
    "Calibration",
    "DecisionLog",
    "DecisionRecord",
    "FeedbackCounts",
    "FeedbackError",
    "Figure",
    "LogStats",
    "LogStore",
    "OnlineProfileSettings",
    "OnlineSettings",
    "OperatingPoint",
    "ReplayReport",
    "ReplaySide",
    "SQLiteLogStore",
    "SpendTracker",
    "TrafficFrame",
    "TrafficRecorder",
    "TrafficSettings",
    "add_outcome",
    "apply_feedback",
    "calibrate",
    "frame_from_records",
    "parse_feedback",
    "prompt_digest",
    "replay",
    "sweep",
    "usage_cost_usd",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'polyroute.traffic' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
