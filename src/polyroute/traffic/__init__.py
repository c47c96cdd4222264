"""Learning from the gateway's own traffic: decision log, feedback, calibration, replay, spend."""

from polyroute.traffic._record import DecisionRecord, prompt_digest, usage_cost_usd
from polyroute.traffic._store import LogStore, SQLiteLogStore
from polyroute.traffic._writer import DecisionLog, LogStats

__all__ = [
    "DecisionLog",
    "DecisionRecord",
    "LogStats",
    "LogStore",
    "SQLiteLogStore",
    "prompt_digest",
    "usage_cost_usd",
]
