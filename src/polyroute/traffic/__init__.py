"""Learning from the gateway's own traffic: decision log, feedback, calibration, replay, spend."""

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
