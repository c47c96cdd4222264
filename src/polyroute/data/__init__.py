"""Routing datasets: prompts x models quality matrices with costs and splits, and their loaders."""

from polyroute.data._dataset import RoutingDataset
from polyroute.data._registry import DatasetInfo, available_datasets, load_dataset, register_dataset

__all__ = ["DatasetInfo", "RoutingDataset", "available_datasets", "load_dataset", "register_dataset"]
