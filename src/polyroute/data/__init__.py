"""Routing datasets: prompts x models quality matrices with costs and splits, and their loaders."""

from polyroute.data._dataset import RoutingDataset

__all__ = ["RoutingDataset"]
